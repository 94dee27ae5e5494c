/* Depthwise convolution as direct loops over NHWC. For each output pixel the
 * valid taps (inside the input) are listed once; then channels go in blocks
 * of 32 and 8 held in vector registers across all taps (GCC/Clang vector
 * types, so every target gets full-width loads), so the output is written
 * once per pixel, and the activation runs on the pixel while it is in L1. */
#include "nn/nn_internal.h"
#include "nn/nn_vec.h"

/* Valid tap range [lo, hi) of one output coordinate. */
NN_INLINE void tap_range(int64_t o, int stride, int pad, int dil, int k, int64_t in,
                             int *lo, int *hi)
{
    int64_t base = o * stride - pad;
    int l = 0, h = k;
    while (l < k && base + (int64_t)l * dil < 0)
        l++;
    while (h > l && base + (int64_t)(h - 1) * dil >= in)
        h--;
    *lo = l;
    *hi = h;
}

/* One pixel: out[c] = bias[c] + sum_t in[t][c] * w[t][c] over the listed taps. */
NN_INLINE void pixel(const float *const *ip, const float *const *wp, int nt, int64_t C,
                         const float *bias, float *o)
{
    int64_t c = 0;
    for (; c + 32 <= C; c += 32) {
        v8 a0, a1, a2, a3;
        if (bias) {
            a0 = load8(bias + c);
            a1 = load8(bias + c + 8);
            a2 = load8(bias + c + 16);
            a3 = load8(bias + c + 24);
        } else {
            a0 = a1 = a2 = a3 = (v8){0};
        }
        for (int t = 0; t < nt; t++) {
            const float *x = ip[t] + c, *w = wp[t] + c;
            a0 += load8(x) * load8(w);
            a1 += load8(x + 8) * load8(w + 8);
            a2 += load8(x + 16) * load8(w + 16);
            a3 += load8(x + 24) * load8(w + 24);
        }
        store8(o + c, a0);
        store8(o + c + 8, a1);
        store8(o + c + 16, a2);
        store8(o + c + 24, a3);
    }
    for (; c + 8 <= C; c += 8) {
        v8 a = bias ? load8(bias + c) : (v8){0};
        for (int t = 0; t < nt; t++)
            a += load8(ip[t] + c) * load8(wp[t] + c);
        store8(o + c, a);
    }
    for (; c < C; c++) {
        float a = bias ? bias[c] : 0.0f;
        for (int t = 0; t < nt; t++)
            a += ip[t][c] * wp[t][c];
        o[c] = a;
    }
}

/* Output pixels [x0, x1) of one row, channels of the per-pixel tap lists:
 * handles image borders, any window, and channel counts off the vector
 * width. */
NN_INLINE void row_generic(const nn_conv_params *c, const float *const *rows, const float *w,
                           const float *bias, float *out, int64_t x0, int64_t x1)
{
    const int64_t C = c->in_c;
    const float *ip[NN_DW_MAX_TAPS], *wp[NN_DW_MAX_TAPS];
    for (int64_t ox = x0; ox < x1; ox++) {
        int kx0, kx1;
        tap_range(ox, c->stride_w, c->pad_left, c->dil_w, c->k_w, c->in_w, &kx0, &kx1);
        const int64_t ix0 = ox * c->stride_w - c->pad_left;
        int nt = 0;
        for (int ky = 0; ky < c->k_h; ky++) {
            if (!rows[ky])
                continue;
            for (int kx = kx0; kx < kx1; kx++) {
                ip[nt] = rows[ky] + (ix0 + (int64_t)kx * c->dil_w) * C;
                wp[nt] = w + ((int64_t)ky * c->k_w + kx) * C;
                nt++;
            }
        }
        float *o = out + ox * C;
        pixel(ip, wp, nt, C, bias, o);
        if (c->act.kind != NN_ACT_NONE)
            nn_act_span(o, o, (size_t)C, c->act);
    }
}

/* 3x3 windows, pixels [x0, x1) whose taps are all inside the row: per block
 * of 8 channels the nine weights stay in registers while four output pixels
 * at a time accumulate independently. A missing (padding) row reads another
 * row with zero weights, which adds exact zeros. Channels past the last
 * multiple of 8 and the activation are done afterwards. */
NN_INLINE void row_3x3(const nn_conv_params *c, const float *const *rows, const float *w,
                       const float *bias, float *out, int64_t x0, int64_t x1)
{
    const int64_t C = c->in_c, C8 = C / 8 * 8;
    const int64_t s = c->stride_w, step = s * C, dx = (int64_t)c->dil_w * C;
    const float *any = rows[1] ? rows[1] : rows[0] ? rows[0] : rows[2];
    const float *r0 = rows[0] ? rows[0] : any, *r1 = rows[1] ? rows[1] : any,
                *r2 = rows[2] ? rows[2] : any;
    const int64_t start = (x0 * s - c->pad_left) * C;
    for (int64_t c0 = 0; c0 < C8; c0 += 8) {
        v8 zero = {0};
        v8 w00 = rows[0] ? load8(w + c0) : zero, w01 = rows[0] ? load8(w + C + c0) : zero,
           w02 = rows[0] ? load8(w + 2 * C + c0) : zero;
        v8 w10 = rows[1] ? load8(w + 3 * C + c0) : zero, w11 = rows[1] ? load8(w + 4 * C + c0) : zero,
           w12 = rows[1] ? load8(w + 5 * C + c0) : zero;
        v8 w20 = rows[2] ? load8(w + 6 * C + c0) : zero, w21 = rows[2] ? load8(w + 7 * C + c0) : zero,
           w22 = rows[2] ? load8(w + 8 * C + c0) : zero;
        v8 b = bias ? load8(bias + c0) : zero;
        const float *p0 = r0 + start + c0, *p1 = r1 + start + c0, *p2 = r2 + start + c0;
        float *o = out + x0 * C + c0;
        int64_t x = x0;
#define TAPS(acc, off)                                                                    \
    acc = b;                                                                              \
    acc += load8(p0 + (off)) * w00;                                                       \
    acc += load8(p0 + (off) + dx) * w01;                                                  \
    acc += load8(p0 + (off) + 2 * dx) * w02;                                              \
    acc += load8(p1 + (off)) * w10;                                                       \
    acc += load8(p1 + (off) + dx) * w11;                                                  \
    acc += load8(p1 + (off) + 2 * dx) * w12;                                              \
    acc += load8(p2 + (off)) * w20;                                                       \
    acc += load8(p2 + (off) + dx) * w21;                                                  \
    acc += load8(p2 + (off) + 2 * dx) * w22
        for (; x + 4 <= x1; x += 4) {
            v8 a0, a1, a2, a3;
            TAPS(a0, 0);
            TAPS(a1, step);
            TAPS(a2, 2 * step);
            TAPS(a3, 3 * step);
            store8(o, a0);
            store8(o + C, a1);
            store8(o + 2 * C, a2);
            store8(o + 3 * C, a3);
            p0 += 4 * step;
            p1 += 4 * step;
            p2 += 4 * step;
            o += 4 * C;
        }
        for (; x < x1; x++) {
            v8 a0;
            TAPS(a0, 0);
            store8(o, a0);
            p0 += step;
            p1 += step;
            p2 += step;
            o += C;
        }
#undef TAPS
    }
    for (int64_t ch = C8; ch < C; ch++) {
        for (int64_t x = x0; x < x1; x++) {
            int64_t ix = x * s - c->pad_left;
            float acc = bias ? bias[ch] : 0.0f;
            for (int ky = 0; ky < 3; ky++) {
                if (!rows[ky])
                    continue;
                for (int kx = 0; kx < 3; kx++)
                    acc += rows[ky][(ix + (int64_t)kx * c->dil_w) * C + ch] *
                           w[(ky * 3 + kx) * C + ch];
            }
            out[x * C + ch] = acc;
        }
    }
    if (c->act.kind != NN_ACT_NONE && x1 > x0)
        nn_act_span(out + x0 * C, out + x0 * C, (size_t)((x1 - x0) * C), c->act);
}

/* Any window, pixels [x0, x1) whose taps are all inside the row (rows may
 * be NULL: padding): per block of 8 channels, four output pixels at a time,
 * each weight vector loaded once for the four. */
NN_INLINE void row_kxk(const nn_conv_params *c, const float *const *rows, const float *w,
                       const float *bias, float *out, int64_t x0, int64_t x1)
{
    const int64_t C = c->in_c, C8 = C / 8 * 8;
    const int64_t s = c->stride_w, step = s * C, dx = (int64_t)c->dil_w * C;
    const int64_t start = (x0 * s - c->pad_left) * C;
    for (int64_t c0 = 0; c0 < C8; c0 += 8) {
        v8 b = bias ? load8(bias + c0) : (v8){0};
        int64_t x = x0;
        for (; x + 4 <= x1; x += 4) {
            v8 a0 = b, a1 = b, a2 = b, a3 = b;
            for (int ky = 0; ky < c->k_h; ky++) {
                if (!rows[ky])
                    continue;
                const float *p = rows[ky] + start + (x - x0) * step + c0;
                const float *wk = w + (int64_t)ky * c->k_w * C + c0;
                for (int kx = 0; kx < c->k_w; kx++) {
                    v8 wv = load8(wk + kx * C);
                    const float *q = p + kx * dx;
                    a0 += load8(q) * wv;
                    a1 += load8(q + step) * wv;
                    a2 += load8(q + 2 * step) * wv;
                    a3 += load8(q + 3 * step) * wv;
                }
            }
            float *o = out + x * C + c0;
            store8(o, a0);
            store8(o + C, a1);
            store8(o + 2 * C, a2);
            store8(o + 3 * C, a3);
        }
        for (; x < x1; x++) {
            v8 a0 = b;
            for (int ky = 0; ky < c->k_h; ky++) {
                if (!rows[ky])
                    continue;
                const float *p = rows[ky] + start + (x - x0) * step + c0;
                const float *wk = w + (int64_t)ky * c->k_w * C + c0;
                for (int kx = 0; kx < c->k_w; kx++)
                    a0 += load8(p + kx * dx) * load8(wk + kx * C);
            }
            store8(out + x * C + c0, a0);
        }
    }
    for (int64_t ch = C8; ch < C; ch++) {
        for (int64_t x = x0; x < x1; x++) {
            int64_t ix = x * s - c->pad_left;
            float acc = bias ? bias[ch] : 0.0f;
            for (int ky = 0; ky < c->k_h; ky++) {
                if (!rows[ky])
                    continue;
                for (int kx = 0; kx < c->k_w; kx++)
                    acc += rows[ky][(ix + (int64_t)kx * c->dil_w) * C + ch] *
                           w[((int64_t)ky * c->k_w + kx) * C + ch];
            }
            out[x * C + ch] = acc;
        }
    }
    if (c->act.kind != NN_ACT_NONE && x1 > x0)
        nn_act_span(out + x0 * C, out + x0 * C, (size_t)((x1 - x0) * C), c->act);
}

/* 3x3, stride 1, dilation 1, pixels [x0, x1) inside the row: four output
 * pixels read six neighbouring input vectors per tap row (not twelve), the
 * row's three weights loaded once for the four. Padding rows are skipped. */
NN_INLINE void row_3x3_s1(const nn_conv_params *c, const float *const *rows, const float *w,
                          const float *bias, float *out, int64_t x0, int64_t x1)
{
    const int64_t C = c->in_c, C8 = C / 8 * 8;
    const float *rp[3], *wp[3];
    int nr = 0;
    for (int ky = 0; ky < 3; ky++)
        if (rows[ky]) {
            rp[nr] = rows[ky] + (x0 - c->pad_left) * C;
            wp[nr] = w + (int64_t)ky * 3 * C;
            nr++;
        }
    for (int64_t c0 = 0; c0 < C8; c0 += 8) {
        v8 b = bias ? load8(bias + c0) : (v8){0};
        int64_t x = x0;
        for (; x + 4 <= x1; x += 4) {
            v8 a0 = b, a1 = b, a2 = b, a3 = b;
            for (int r = 0; r < nr; r++) {
                const float *p = rp[r] + (x - x0) * C + c0;
                v8 w0 = load8(wp[r] + c0), w1 = load8(wp[r] + C + c0), w2 = load8(wp[r] + 2 * C + c0);
                v8 v0 = load8(p), v1 = load8(p + C), v2 = load8(p + 2 * C);
                a0 += v0 * w0;
                a0 += v1 * w1;
                a1 += v1 * w0;
                a0 += v2 * w2;
                a1 += v2 * w1;
                a2 += v2 * w0;
                v8 v3 = load8(p + 3 * C), v4 = load8(p + 4 * C), v5 = load8(p + 5 * C);
                a1 += v3 * w2;
                a2 += v3 * w1;
                a3 += v3 * w0;
                a2 += v4 * w2;
                a3 += v4 * w1;
                a3 += v5 * w2;
            }
            float *o = out + x * C + c0;
            store8(o, a0);
            store8(o + C, a1);
            store8(o + 2 * C, a2);
            store8(o + 3 * C, a3);
        }
        for (; x < x1; x++) {
            v8 a0 = b;
            for (int r = 0; r < nr; r++) {
                const float *p = rp[r] + (x - x0) * C + c0;
                a0 += load8(p) * load8(wp[r] + c0);
                a0 += load8(p + C) * load8(wp[r] + C + c0);
                a0 += load8(p + 2 * C) * load8(wp[r] + 2 * C + c0);
            }
            store8(out + x * C + c0, a0);
        }
    }
    for (int64_t ch = C8; ch < C; ch++) {
        for (int64_t x = x0; x < x1; x++) {
            float acc = bias ? bias[ch] : 0.0f;
            for (int r = 0; r < nr; r++)
                for (int kx = 0; kx < 3; kx++)
                    acc += rp[r][(x - x0 + kx) * C + ch] * wp[r][kx * C + ch];
            out[x * C + ch] = acc;
        }
    }
    if (c->act.kind != NN_ACT_NONE && x1 > x0)
        nn_act_span(out + x0 * C, out + x0 * C, (size_t)((x1 - x0) * C), c->act);
}

/* One output row of a multiplier-1 depthwise convolution: rows[ky] points at
 * the input row that tap row ky reads (NULL outside the image). */
NN_HOT void nn_depthwise_row(const nn_conv_params *c, const float *const *rows, const float *w,
                             const float *bias, float *out)
{
    bool any_row = false;
    for (int ky = 0; ky < c->k_h; ky++)
        any_row |= rows[ky] != NULL;
    if (!any_row || c->in_c < 8) {
        row_generic(c, rows, w, bias, out, 0, c->out_w);
        return;
    }
    /* interior: ox * s - pad >= 0 and ox * s - pad + span <= in_w - 1 */
    int64_t s = c->stride_w, span = (int64_t)(c->k_w - 1) * c->dil_w;
    int64_t x0 = (c->pad_left + s - 1) / s;
    int64_t x1 = c->in_w - 1 - span + c->pad_left >= 0
                     ? (c->in_w - 1 - span + c->pad_left) / s + 1 : 0;
    if (x1 > c->out_w)
        x1 = c->out_w;
    if (x0 > x1)
        x0 = x1;
    row_generic(c, rows, w, bias, out, 0, x0);
    if (c->k_h == 3 && c->k_w == 3 && c->stride_w == 1 && c->dil_w == 1)
        row_3x3_s1(c, rows, w, bias, out, x0, x1);
    else if (c->k_h == 3 && c->k_w == 3)
        row_3x3(c, rows, w, bias, out, x0, x1);
    else
        row_kxk(c, rows, w, bias, out, x0, x1);
    row_generic(c, rows, w, bias, out, x1, c->out_w);
}

/* Input row pointers of output row oy (NULL where a tap row is padding). */
void nn_depthwise_rows(const nn_conv_params *c, const float *img, int64_t oy,
                       const float **rows)
{
    int64_t row = c->in_w * c->in_c;
    for (int ky = 0; ky < c->k_h; ky++) {
        int64_t iy = oy * c->stride_h - c->pad_top + (int64_t)ky * c->dil_h;
        rows[ky] = iy >= 0 && iy < c->in_h ? img + iy * row : NULL;
    }
}

static void depthwise_m1(const nn_conv_params *c, const float *in, const float *w,
                         const float *bias, float *out)
{
    const float *rows[NN_DW_MAX_TAPS];
    for (int64_t b = 0; b < c->batch; b++) {
        const float *img = in + b * c->in_h * c->in_w * c->in_c;
        for (int64_t oy = 0; oy < c->out_h; oy++) {
            nn_depthwise_rows(c, img, oy, rows);
            nn_depthwise_row(c, rows, w, bias,
                             out + ((b * c->out_h + oy) * c->out_w) * c->out_c);
        }
    }
}

/* Any multiplier or window: out channel c*M + q uses input channel c and
 * filter [.., c, q]. */
static void depthwise_generic(const nn_conv_params *c, int mult, const float *in, const float *w,
                              const float *bias, float *out)
{
    const int64_t C = c->in_c, OC = c->out_c;
    for (int64_t b = 0; b < c->batch; b++) {
        const float *img = in + b * c->in_h * c->in_w * C;
        for (int64_t oy = 0; oy < c->out_h; oy++) {
            int ky0, ky1;
            tap_range(oy, c->stride_h, c->pad_top, c->dil_h, c->k_h, c->in_h, &ky0, &ky1);
            for (int64_t ox = 0; ox < c->out_w; ox++) {
                int kx0, kx1;
                tap_range(ox, c->stride_w, c->pad_left, c->dil_w, c->k_w, c->in_w, &kx0, &kx1);
                float *o = out + ((b * c->out_h + oy) * c->out_w + ox) * OC;
                for (int64_t oc = 0; oc < OC; oc++)
                    o[oc] = bias ? bias[oc] : 0.0f;
                for (int ky = ky0; ky < ky1; ky++) {
                    int64_t iy = oy * c->stride_h - c->pad_top + (int64_t)ky * c->dil_h;
                    for (int kx = kx0; kx < kx1; kx++) {
                        int64_t ix = ox * c->stride_w - c->pad_left + (int64_t)kx * c->dil_w;
                        const float *ip = img + (iy * c->in_w + ix) * C;
                        const float *wp = w + ((int64_t)ky * c->k_w + kx) * OC;
                        for (int64_t ch = 0; ch < C; ch++)
                            for (int q = 0; q < mult; q++)
                                o[ch * mult + q] += ip[ch] * wp[ch * mult + q];
                    }
                }
                if (c->act.kind != NN_ACT_NONE)
                    nn_activate(o, o, (size_t)OC, c->act);
            }
        }
    }
}

void nn_depthwise_conv2d(const nn_conv_params *c, int multiplier, const float *in,
                         const float *filter, const float *bias, float *out)
{
    if (multiplier == 1 && nn_depthwise_row_ok(c))
        depthwise_m1(c, in, filter, bias, out);
    else
        depthwise_generic(c, multiplier, in, filter, bias, out);
}
