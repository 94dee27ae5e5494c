/* Max and average pooling over NHWC windows; cells outside the input are
 * skipped (TensorFlow's SAME: max as if -inf, average over real cells). */
#include <math.h>

#include "nn/nn_internal.h"
#include "nn/nn_vec.h"

NN_INLINE void range(int64_t o, int stride, int pad, int k, int64_t in, int64_t *lo,
                         int64_t *hi)
{
    int64_t s = o * stride - pad, e = s + k;
    *lo = s < 0 ? 0 : s;
    *hi = e > in ? in : e;
}

#define MAX_WINDOW 64

typedef int32_t v8i __attribute__((vector_size(32)));

/* x > m ? x : m per lane (a compare and a blend) */
NN_INLINE v8 vmax(v8 x, v8 m)
{
    v8i k = x > m;
    return (v8)((k & (v8i)x) | (~k & (v8i)m));
}

/* Per output pixel the window's input pixels are listed once, then channels
 * go 8 at a time in vector registers. Starting at
 * -inf and keeping the old value when a cell is not greater ignores NaN, as
 * TF.js does. */
NN_HOT static void max_pool_listed(const nn_pool_params *p, const float *in, float *out)
{
    const int64_t C = p->c, C8 = C / 8 * 8;
    const float *ip[MAX_WINDOW];
    for (int64_t b = 0; b < p->batch; b++) {
        const float *img = in + b * p->in_h * p->in_w * C;
        for (int64_t oy = 0; oy < p->out_h; oy++) {
            int64_t y0, y1;
            range(oy, p->stride_h, p->pad_top, p->k_h, p->in_h, &y0, &y1);
            for (int64_t ox = 0; ox < p->out_w; ox++) {
                int64_t x0, x1;
                range(ox, p->stride_w, p->pad_left, p->k_w, p->in_w, &x0, &x1);
                int nt = 0;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t x = x0; x < x1; x++)
                        ip[nt++] = img + (y * p->in_w + x) * C;
                float *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int64_t c0 = 0; c0 < C8; c0 += 8) {
                    v8 m = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                            -INFINITY, -INFINITY, -INFINITY, -INFINITY};
                    for (int t = 0; t < nt; t++)
                        m = vmax(load8(ip[t] + c0), m);
                    store8(o + c0, m);
                }
                for (int64_t c = C8; c < C; c++) {
                    float m = -INFINITY;
                    for (int t = 0; t < nt; t++)
                        m = ip[t][c] > m ? ip[t][c] : m;
                    o[c] = m;
                }
            }
        }
    }
}

NN_HOT void nn_max_pool2d(const nn_pool_params *p, const float *in, float *out)
{
    if ((int64_t)p->k_h * p->k_w <= MAX_WINDOW) {
        max_pool_listed(p, in, out);
        return;
    }
    const int64_t C = p->c;
    for (int64_t b = 0; b < p->batch; b++) {
        const float *img = in + b * p->in_h * p->in_w * C;
        for (int64_t oy = 0; oy < p->out_h; oy++) {
            int64_t y0, y1;
            range(oy, p->stride_h, p->pad_top, p->k_h, p->in_h, &y0, &y1);
            for (int64_t ox = 0; ox < p->out_w; ox++) {
                int64_t x0, x1;
                range(ox, p->stride_w, p->pad_left, p->k_w, p->in_w, &x0, &x1);
                float *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int64_t c = 0; c < C; c++)
                    o[c] = -INFINITY;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t x = x0; x < x1; x++) {
                        const float *ip = img + (y * p->in_w + x) * C;
                        for (int64_t c = 0; c < C; c++)
                            o[c] = ip[c] > o[c] ? ip[c] : o[c];
                    }
            }
        }
    }
}

NN_HOT void nn_avg_pool2d(const nn_pool_params *p, const float *in, float *out)
{
    const int64_t C = p->c;
    for (int64_t b = 0; b < p->batch; b++) {
        const float *img = in + b * p->in_h * p->in_w * C;
        for (int64_t oy = 0; oy < p->out_h; oy++) {
            int64_t y0, y1;
            range(oy, p->stride_h, p->pad_top, p->k_h, p->in_h, &y0, &y1);
            for (int64_t ox = 0; ox < p->out_w; ox++) {
                int64_t x0, x1;
                range(ox, p->stride_w, p->pad_left, p->k_w, p->in_w, &x0, &x1);
                float *o = out + ((b * p->out_h + oy) * p->out_w + ox) * C;
                for (int64_t c = 0; c < C; c++)
                    o[c] = 0.0f;
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t x = x0; x < x1; x++) {
                        const float *ip = img + (y * p->in_w + x) * C;
                        for (int64_t c = 0; c < C; c++)
                            o[c] += ip[c];
                    }
                float count = (float)((y1 - y0) * (x1 - x0));
                if (count > 0)
                    for (int64_t c = 0; c < C; c++)
                        o[c] /= count;
            }
        }
    }
}
