/* Convolution as GEMM: out[pixels, Cout] = patches[pixels, kh*kw*Cin] x
 * filter[kh*kw*Cin, Cout], the HWIO filter read as it is stored. A 1x1
 * stride-1 unpadded convolution is the GEMM on the input itself. Otherwise
 * the patches are built (im2col) one block of output pixels at a time, sized
 * to stay in L2, and each block's bias + activation run right after its
 * sgemm while the block is still in cache. */

#include <string.h>

#include "nn/nn_internal.h"
#include "nn/nn_vec.h"

/* Patch block: at most this many floats (128 KiB) unless one row is bigger. */
#define PATCH_BLOCK_FLOATS (32 * 1024)
/* Output block of the 1x1 path: keeps bias/activation cache-hot without
 * making the sgemm calls so small that packing the filter dominates. */
#define OUT_BLOCK_FLOATS (64 * 1024)
#define MIN_BLOCK_ROWS 64

static bool is_pointwise(const nn_conv_params *c)
{
    return c->k_h == 1 && c->k_w == 1 && c->stride_h == 1 && c->stride_w == 1 &&
           c->pad_top == 0 && c->pad_left == 0 && c->out_h == c->in_h && c->out_w == c->in_w;
}

static int64_t block_rows(int64_t row_floats, int64_t budget, int64_t total)
{
    int64_t rows = budget / (row_floats > 0 ? row_floats : 1);
    if (rows < MIN_BLOCK_ROWS)
        rows = MIN_BLOCK_ROWS;
    return rows < total ? rows : total;
}

size_t nn_conv2d_scratch_floats(const nn_conv_params *c)
{
    return nn_conv2d_ex_scratch_floats(c, false);
}

size_t nn_conv2d_ex_scratch_floats(const nn_conv_params *c, bool in_scale)
{
    size_t scaled = in_scale ? (size_t)(c->in_c * c->out_c) : 0;
    if (is_pointwise(c))
        return scaled;
    int64_t k = (int64_t)c->k_h * c->k_w * c->in_c;
    return scaled + (size_t)(block_rows(k, PATCH_BLOCK_FLOATS, c->out_h * c->out_w) * k);
}

/* Patches for output pixels [m0, m0 + rows) of one image. Where a tap row
 * lies wholly inside the image (and dilation is 1) its k_w * in_c values are
 * one contiguous run of the input. */
NN_HOT static void im2col(const nn_conv_params *c, const float *img, int64_t m0, int64_t rows,
                          float *patch)
{
    const int64_t cin = c->in_c, run = (int64_t)c->k_w * cin;
    int64_t oy = m0 / c->out_w, ox = m0 % c->out_w;
    float *dst = patch;
    for (int64_t r = 0; r < rows; r++) {
        const int64_t ix0 = ox * c->stride_w - c->pad_left;
        const bool whole = c->dil_w == 1 && ix0 >= 0 && ix0 + c->k_w <= c->in_w;
        for (int ky = 0; ky < c->k_h; ky++) {
            int64_t iy = oy * c->stride_h - c->pad_top + (int64_t)ky * c->dil_h;
            if (iy < 0 || iy >= c->in_h) {
                for (int64_t i = 0; i < run; i++)
                    dst[i] = 0.0f;
                dst += run;
                continue;
            }
            const float *row = img + iy * c->in_w * cin;
            if (whole) {
                const float *src = row + ix0 * cin;
                for (int64_t i = 0; i < run; i++)
                    dst[i] = src[i];
                dst += run;
                continue;
            }
            for (int kx = 0; kx < c->k_w; kx++, dst += cin) {
                int64_t ix = ix0 + (int64_t)kx * c->dil_w;
                if (ix < 0 || ix >= c->in_w) {
                    for (int64_t i = 0; i < cin; i++)
                        dst[i] = 0.0f;
                    continue;
                }
                const float *src = row + ix * cin;
                for (int64_t i = 0; i < cin; i++)
                    dst[i] = src[i];
            }
        }
        if (++ox == c->out_w) {
            ox = 0;
            oy++;
        }
    }
}

/* The first layer of an image model (3 input channels): computed directly,
 * without patches. The k_w * in_c inputs of one tap row of a pixel are
 * contiguous in the image, so 4-pixel x 16-channel tiles read them in place
 * (weights [tap row][k_w * in_c][out_c] as HWIO stores them). */
static bool direct_ok(const nn_conv_params *c)
{
    return c->dil_h == 1 && c->dil_w == 1 && c->in_c <= 4 && (int64_t)c->k_w * c->in_c <= 64 &&
           c->out_c % 8 == 0 && c->out_c <= 64;
}

/* One pixel, any position: the taps inside the image. */
NN_INLINE void direct_pixel(const nn_conv_params *c, const float *const *rows, const float *w,
                            const float *bias, int64_t ox, float *o)
{
    const int64_t N = c->out_c, cin = c->in_c;
    for (int64_t n = 0; n < N; n++)
        o[n] = bias ? bias[n] : 0.0f;
    int64_t ix0 = ox * c->stride_w - c->pad_left;
    for (int ky = 0; ky < c->k_h; ky++) {
        if (!rows[ky])
            continue;
        for (int kx = 0; kx < c->k_w; kx++) {
            int64_t ix = ix0 + kx;
            if (ix < 0 || ix >= c->in_w)
                continue;
            const float *wt = w + ((int64_t)ky * c->k_w + kx) * cin * N;
            for (int64_t ci = 0; ci < cin; ci++) {
                float a = rows[ky][ix * cin + ci];
                for (int64_t n = 0; n < N; n++)
                    o[n] += a * wt[ci * N + n];
            }
        }
    }
}

NN_HOT static void conv_direct(const nn_conv_params *c, const float *in, const float *w,
                               const float *bias, float *out)
{
    const int64_t N = c->out_c, cin = c->in_c, run = (int64_t)c->k_w * cin;
    const int64_t s = c->stride_w;
    int64_t x0 = (c->pad_left + s - 1) / s;
    int64_t x1 = c->in_w - c->k_w + c->pad_left >= 0 ? (c->in_w - c->k_w + c->pad_left) / s + 1 : 0;
    if (x1 > c->out_w)
        x1 = c->out_w;
    if (x0 > x1)
        x0 = x1;
    const float *rows[64];
    for (int64_t b = 0; b < c->batch; b++) {
        const float *img = in + b * c->in_h * c->in_w * cin;
        for (int64_t oy = 0; oy < c->out_h; oy++) {
            for (int ky = 0; ky < c->k_h; ky++) {
                int64_t iy = oy * c->stride_h - c->pad_top + ky;
                rows[ky] = iy >= 0 && iy < c->in_h ? img + iy * c->in_w * cin : NULL;
            }
            float *orow = out + ((b * c->out_h + oy) * c->out_w) * N;
            for (int64_t ox = 0; ox < x0; ox++)
                direct_pixel(c, rows, w, bias, ox, orow + ox * N);
            int64_t ox = x0;
            for (; ox + 4 <= x1; ox += 4) {
                const int64_t ix = ox * s - c->pad_left;
                for (int64_t n0 = 0; n0 < N; n0 += 8) {
                    v8 z = bias ? load8(bias + n0) : (v8){0};
                    v8 a0 = z, a1 = z, a2 = z, a3 = z;
                    for (int ky = 0; ky < c->k_h; ky++) {
                        if (!rows[ky])
                            continue;
                        const float *p = rows[ky] + ix * cin;
                        const float *wt = w + (int64_t)ky * run * N + n0;
                        for (int64_t j = 0; j < run; j++) {
                            v8 wv = load8(wt + j * N);
                            a0 += p[j] * wv;
                            a1 += p[s * cin + j] * wv;
                            a2 += p[2 * s * cin + j] * wv;
                            a3 += p[3 * s * cin + j] * wv;
                        }
                    }
                    float *o = orow + ox * N + n0;
                    store8(o, a0);
                    store8(o + N, a1);
                    store8(o + 2 * N, a2);
                    store8(o + 3 * N, a3);
                }
            }
            for (; ox < c->out_w; ox++)
                direct_pixel(c, rows, w, bias, ox, orow + ox * N);
            if (c->act.kind != NN_ACT_NONE)
                nn_act_span(orow, orow, (size_t)(c->out_w * N), c->act);
        }
    }
}

/* Rows of the output after their GEMM (which added the bias and applied the
 * activation): the residual, while they are in cache. */
static void epilogue(const nn_conv_params *c, float *out, const float *residual, int64_t rows)
{
    if (residual)
        nn_add_inplace(out, residual, (size_t)(rows * c->out_c));
}

void nn_conv2d(const nn_conv_params *c, const float *in, const float *filter, const float *bias,
               float *out, float *scratch)
{
    nn_conv2d_ex(c, in, filter, bias, NULL, NULL, out, scratch);
}

void nn_conv2d_ex(const nn_conv_params *c, const float *in, const float *filter,
                  const float *bias, const float *in_scale, const float *residual, float *out,
                  float *scratch)
{
    const int64_t pixels = c->out_h * c->out_w, n = c->out_c;
    float *scaled = in_scale ? scratch : NULL;
    if (scaled)
        scratch += c->in_c * c->out_c;
    if (is_pointwise(c)) {
        /* Pixels of all images are one matrix, unless each image scales its
         * channels (then each gets its scaled filter). */
        int64_t images = scaled ? c->batch : 1, total = scaled ? pixels : c->batch * pixels;
        int64_t step = block_rows(n, OUT_BLOCK_FLOATS, total);
        for (int64_t b = 0; b < images; b++) {
            const float *w = filter;
            if (scaled) {
                const float *s = in_scale + b * c->in_c;
                for (int64_t k = 0; k < c->in_c; k++)
                    for (int64_t j = 0; j < n; j++)
                        scaled[k * n + j] = filter[k * n + j] * s[k];
                w = scaled;
            }
            const float *src = in + b * total * c->in_c;
            float *dst = out + b * total * n;
            const float *res = residual ? residual + b * total * n : NULL;
            for (int64_t m0 = 0; m0 < total; m0 += step) {
                int64_t rows = total - m0 < step ? total - m0 : step;
                nn_gemm_bias_act(rows, n, c->in_c, src + m0 * c->in_c, w, bias, c->act,
                                 dst + m0 * n);
                epilogue(c, dst + m0 * n, res ? res + m0 * n : NULL, rows);
            }
        }
        return;
    }
    if (direct_ok(c) && !residual && !in_scale && c->k_h <= 64) {
        conv_direct(c, in, filter, bias, out);
        return;
    }
    const int64_t k = (int64_t)c->k_h * c->k_w * c->in_c;
    const int64_t step = block_rows(k, PATCH_BLOCK_FLOATS, pixels);
    for (int64_t b = 0; b < c->batch; b++) {
        const float *img = in + b * c->in_h * c->in_w * c->in_c;
        float *dst = out + b * pixels * n;
        const float *res = residual ? residual + b * pixels * n : NULL;
        for (int64_t m0 = 0; m0 < pixels; m0 += step) {
            int64_t rows = pixels - m0 < step ? pixels - m0 : step;
            im2col(c, img, m0, rows, scratch);
            nn_gemm_bias_act(rows, n, k, scratch, filter, bias, c->act, dst + m0 * n);
            epilogue(c, dst + m0 * n, res ? res + m0 * n : NULL, rows);
        }
    }
}
