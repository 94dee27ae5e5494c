/* ResizeBilinear with TensorFlow's coordinate rules (see
 * tensorflow/core/kernels/image/resize_bilinear_op.cc): the scale is in/out,
 * or (in-1)/(out-1) with align_corners; the source coordinate is dst*scale,
 * or (dst+0.5)*scale-0.5 with half_pixel_centers; it interpolates between
 * max(floor(src),0) and min(ceil(src),in-1) with weight src-floor(src). */
#include <math.h>

#include "nn/nn_internal.h"

static float scale_of(int64_t in, int64_t out, bool align_corners)
{
    if (align_corners && out > 1)
        return (float)(in - 1) / (float)(out - 1);
    return (float)in / (float)out;
}

static void coord(int64_t dst, float scale, bool half_pixel, int64_t in, int64_t *lo,
                  int64_t *hi, float *frac)
{
    float src = half_pixel ? ((float)dst + 0.5f) * scale - 0.5f : (float)dst * scale;
    float f = floorf(src);
    int64_t l = (int64_t)f, h = (int64_t)ceilf(src);
    *lo = l < 0 ? 0 : l;
    *hi = h > in - 1 ? in - 1 : h;
    *frac = src - f;
}

NN_HOT void nn_resize_bilinear(const float *in, int64_t batch, int64_t in_h, int64_t in_w,
                               int64_t c, int64_t out_h, int64_t out_w, bool align_corners,
                               bool half_pixel_centers, float *out)
{
    float sy = scale_of(in_h, out_h, align_corners), sx = scale_of(in_w, out_w, align_corners);
    for (int64_t b = 0; b < batch; b++) {
        const float *img = in + b * in_h * in_w * c;
        for (int64_t y = 0; y < out_h; y++) {
            int64_t y0, y1;
            float fy;
            coord(y, sy, half_pixel_centers, in_h, &y0, &y1, &fy);
            const float *r0 = img + y0 * in_w * c, *r1 = img + y1 * in_w * c;
            for (int64_t x = 0; x < out_w; x++) {
                int64_t x0, x1;
                float fx;
                coord(x, sx, half_pixel_centers, in_w, &x0, &x1, &fx);
                const float *tl = r0 + x0 * c, *tr = r0 + x1 * c;
                const float *bl = r1 + x0 * c, *br = r1 + x1 * c;
                float *o = out + ((b * out_h + y) * out_w + x) * c;
                for (int64_t ch = 0; ch < c; ch++) {
                    float top = tl[ch] + (tr[ch] - tl[ch]) * fx;
                    float bottom = bl[ch] + (br[ch] - bl[ch]) * fx;
                    o[ch] = top + (bottom - top) * fy;
                }
            }
        }
    }
}
