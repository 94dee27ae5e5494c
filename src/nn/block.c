/* Fused MobileNet blocks (expand 1x1 -> depthwise -> project 1x1, + residual)
 * in bands of output rows. The expanded rows live in a ring just large
 * enough for one band's taps, each computed once as the band slides down;
 * the band's depthwise output feeds the projection GEMM straight away. Only
 * the block's input and output travel through main memory, which on a
 * bandwidth-starved machine is most of the cost of these layers. */
#include "nn/nn_internal.h"

/* Working set of one band (ring + depthwise band), in floats: about a
 * quarter of a typical L2 leaves room for the weights and the output rows. */
#define BAND_BUDGET_FLOATS (48 * 1024)

typedef struct band_plan {
    int64_t bh;          /* output rows per band */
    int64_t ring_rows;   /* expanded rows kept */
} band_plan;

static band_plan plan_band(const nn_block_params *p)
{
    const nn_conv_params *d = &p->dw;
    int64_t k_eff = (int64_t)(d->k_h - 1) * d->dil_h + 1;
    int64_t row_e = p->expand ? d->in_w * p->mid_c : 0;
    int64_t row_d = p->project ? d->out_w * p->mid_c : 0;
    band_plan b = {1, 0};
    while (b.bh < d->out_h) {
        int64_t next = b.bh + 1;
        int64_t ring = k_eff + (next - 1) * d->stride_h;
        if (ring * row_e + next * row_d > BAND_BUDGET_FLOATS)
            break;
        b.bh = next;
    }
    b.ring_rows = k_eff + (b.bh - 1) * d->stride_h;
    if (b.ring_rows > d->in_h)
        b.ring_rows = d->in_h;
    return b;
}

/* Scratch after the ring and the band: scaled depthwise weights, then the
 * mean's double accumulators (each part padded to an even float count, so
 * the doubles stay 8-byte aligned). */
static size_t extra_floats(const nn_block_params *p, size_t *weights)
{
    *weights = p->dw_scale ? (size_t)(p->dw.k_h * p->dw.k_w * p->mid_c) : 0;
    *weights += *weights & 1;
    return *weights + (p->mean ? (size_t)(2 * p->mid_c) : 0);
}

size_t nn_block_scratch_floats(const nn_block_params *p)
{
    band_plan b = plan_band(p);
    size_t ring = p->expand ? (size_t)(b.ring_rows * p->dw.in_w * p->mid_c) : 0;
    size_t band = p->project ? (size_t)(b.bh * p->dw.out_w * p->mid_c) : 0;
    size_t weights;
    ring += ring & 1;
    band += band & 1;
    return ring + band + extra_floats(p, &weights);
}

void nn_block(const nn_block_params *p, const float *x, const float *w1, const float *b1,
              const float *w2, const float *b2, const float *w3, const float *b3,
              const float *r, const float *scale, float *y, float *mean, float *scratch)
{
    const nn_conv_params *d = &p->dw;
    band_plan bp = plan_band(p);
    const int64_t in_row = d->in_w * p->in_c, mid_row = d->in_w * p->mid_c;
    const int64_t out_row = d->out_w * p->out_c, dw_row = d->out_w * p->mid_c;
    const int64_t k_eff = (int64_t)(d->k_h - 1) * d->dil_h + 1, C = p->mid_c;
    size_t ring_n = p->expand ? (size_t)(bp.ring_rows * mid_row) : 0;
    size_t band_n = p->project ? (size_t)(bp.bh * dw_row) : 0;
    ring_n += ring_n & 1;
    band_n += band_n & 1;
    size_t weights_n;
    extra_floats(p, &weights_n);
    float *ring = scratch, *band = scratch + ring_n, *scaled = band + band_n;
    double *sums = (double *)(void *)(scaled + weights_n);
    nn_act expand_act = p->expand_act, project_act = p->project_act;
    const float *rows[NN_DW_MAX_TAPS];
    for (int64_t b = 0; b < p->batch; b++) {
        const float *img = x + b * d->in_h * in_row;
        float *out = y + b * d->out_h * out_row;
        const float *res = p->residual ? r + b * d->out_h * out_row : NULL;
        const float *wd = w2;
        if (p->dw_scale) {   /* dw(x * s) = dw with weights w * s, per channel */
            const float *sc = scale + b * C;
            for (int64_t t = 0; t < (int64_t)d->k_h * d->k_w; t++)
                for (int64_t c = 0; c < C; c++)
                    scaled[t * C + c] = w2[t * C + c] * sc[c];
            wd = scaled;
        }
        if (p->mean)
            for (int64_t c = 0; c < C; c++)
                sums[c] = 0.0;
        int64_t next = 0;   /* next expanded row to compute */
        for (int64_t oy0 = 0; oy0 < d->out_h; oy0 += bp.bh) {
            int64_t oy1 = oy0 + bp.bh < d->out_h ? oy0 + bp.bh : d->out_h;
            if (p->expand) {
                int64_t lo = oy0 * d->stride_h - d->pad_top;
                int64_t hi = (oy1 - 1) * d->stride_h - d->pad_top + k_eff - 1;
                if (lo < 0)
                    lo = 0;
                if (hi > d->in_h - 1)
                    hi = d->in_h - 1;
                if (next < lo)
                    next = lo;
                /* the new rows, in runs that are contiguous in the ring */
                while (next <= hi) {
                    int64_t slot = next % bp.ring_rows;
                    int64_t n = hi - next + 1;
                    if (n > bp.ring_rows - slot)
                        n = bp.ring_rows - slot;
                    float *dst = ring + slot * mid_row;
                    nn_gemm_bias_act(n * d->in_w, p->mid_c, p->in_c, img + next * in_row, w1, b1,
                                     expand_act, dst);
                    next += n;
                }
            }
            for (int64_t oy = oy0; oy < oy1; oy++) {
                for (int ky = 0; ky < d->k_h; ky++) {
                    int64_t iy = oy * d->stride_h - d->pad_top + (int64_t)ky * d->dil_h;
                    rows[ky] = iy < 0 || iy >= d->in_h ? NULL
                               : p->expand ? ring + (iy % bp.ring_rows) * mid_row
                                           : img + iy * mid_row;
                }
                float *dst = p->project ? band + (oy - oy0) * dw_row : out + oy * out_row;
                nn_depthwise_row(d, rows, wd, b2, dst);
                if (p->mean)   /* pixel by pixel, as nn_mean sums */
                    for (int64_t ox = 0; ox < d->out_w; ox++)
                        for (int64_t c = 0; c < C; c++)
                            sums[c] += dst[ox * C + c];
            }
            float *o = out + oy0 * out_row;
            int64_t pixels = (oy1 - oy0) * d->out_w;
            if (p->project) {
                nn_gemm_bias_act(pixels, p->out_c, p->mid_c, band, w3, b3, project_act, o);
            }
            if (res)
                nn_add_inplace(o, res + oy0 * out_row, (size_t)(pixels * p->out_c));
        }
        if (p->mean)
            for (int64_t c = 0; c < C; c++)
                mean[b * C + c] = (float)(sums[c] / (double)(d->out_h * d->out_w));
    }
}
