/* Resizing: exact area averaging (every source pixel weighted by how much of
 * it the output pixel covers) when shrinking an axis, bilinear when growing
 * it. Separable: rows first, then columns, through a float buffer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* Which source pixels feed each output pixel along one axis, and how much. */
typedef struct axis_filter {
    int taps;          /* slots per output pixel */
    int *first;        /* [out] first source index */
    int *count;        /* [out] used slots */
    float *weight;     /* [out * taps] */
} axis_filter;

static void axis_filter_free(axis_filter *f)
{
    free(f->first);
    free(f->count);
    free(f->weight);
}

static cs_status axis_filter_build(axis_filter *f, int src, int dst, cs_error *err)
{
    memset(f, 0, sizeof *f);
    bool shrinking = dst <= src;
    double scale = (double)src / dst;
    f->taps = shrinking ? (int)ceil(scale) + 1 : 2;
    f->first = malloc((size_t)dst * sizeof *f->first);
    f->count = malloc((size_t)dst * sizeof *f->count);
    f->weight = calloc((size_t)dst * (size_t)f->taps, sizeof *f->weight);
    if (!f->first || !f->count || !f->weight) {
        axis_filter_free(f);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory resizing %d to %d pixels",
                            src, dst);
    }
    for (int i = 0; i < dst; i++) {
        float *w = f->weight + (size_t)i * (size_t)f->taps;
        if (shrinking) {
            double lo = i * scale, hi = (i + 1) * scale;
            int first = (int)floor(lo);
            int last = (int)ceil(hi) - 1;
            if (last > src - 1)
                last = src - 1;
            f->first[i] = first;
            f->count[i] = last - first + 1;
            for (int j = first; j <= last; j++) {
                double overlap = fmin(hi, j + 1.0) - fmax(lo, (double)j);
                w[j - first] = (float)(overlap / scale);
            }
        } else {
            /* Pixel centres aligned: output centre i + 0.5 maps to source
             * position (i + 0.5) * scale, i.e. index minus 0.5. */
            double pos = (i + 0.5) * scale - 0.5;
            if (pos < 0)
                pos = 0;
            if (pos > src - 1)
                pos = src - 1;
            int j0 = (int)floor(pos);
            double frac = pos - j0;
            f->first[i] = j0;
            if (j0 + 1 < src && frac > 0) {
                f->count[i] = 2;
                w[0] = (float)(1.0 - frac);
                w[1] = (float)frac;
            } else {
                f->count[i] = 1;
                w[0] = 1.0f;
            }
        }
    }
    return CS_OK;
}

static uint8_t to_byte(float v)
{
    if (!(v > 0.0f))
        return 0;
    if (v >= 255.0f)
        return 255;
    return (uint8_t)(v + 0.5f);
}

cs_status image_resize(const cs_image *src, int width, int height, cs_image *dst,
                       cs_error *err)
{
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "no image to resize");
    if (width <= 0 || height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "cannot resize to %dx%d", width, height);
    size_t sw = (size_t)src->width, sh = (size_t)src->height;
    if (sh > SIZE_MAX / sizeof(float) / 3 / (size_t)width)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "resizing %dx%d to %dx%d needs too much memory",
                            src->width, src->height, width, height);

    axis_filter fx, fy;
    cs_status rc = axis_filter_build(&fx, src->width, width, err);
    if (rc != CS_OK)
        return rc;
    rc = axis_filter_build(&fy, src->height, height, err);
    if (rc != CS_OK) {
        axis_filter_free(&fx);
        return rc;
    }
    float *rows = malloc(sh * (size_t)width * 3 * sizeof *rows);
    if (!rows) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory resizing %dx%d to %dx%d",
                          src->width, src->height, width, height);
        goto done;
    }
    rc = image_alloc(dst, width, height, err);
    if (rc != CS_OK)
        goto done;

    for (size_t y = 0; y < sh; y++) {
        const uint8_t *in = src->pixels + y * sw * 3;
        float *out = rows + y * (size_t)width * 3;
        for (int x = 0; x < width; x++) {
            const float *w = fx.weight + (size_t)x * (size_t)fx.taps;
            const uint8_t *p = in + (size_t)fx.first[x] * 3;
            float r = 0, g = 0, b = 0;
            for (int k = 0; k < fx.count[x]; k++, p += 3) {
                r += w[k] * p[0];
                g += w[k] * p[1];
                b += w[k] * p[2];
            }
            out[3 * x] = r;
            out[3 * x + 1] = g;
            out[3 * x + 2] = b;
        }
    }
    size_t row_floats = (size_t)width * 3;
    for (int y = 0; y < height; y++) {
        const float *w = fy.weight + (size_t)y * (size_t)fy.taps;
        uint8_t *out = dst->pixels + (size_t)y * row_floats;
        for (size_t i = 0; i < row_floats; i++) {
            const float *p = rows + (size_t)fy.first[y] * row_floats + i;
            float v = 0;
            for (int k = 0; k < fy.count[y]; k++, p += row_floats)
                v += w[k] * *p;
            out[i] = to_byte(v);
        }
    }
done:
    free(rows);
    axis_filter_free(&fx);
    axis_filter_free(&fy);
    return rc;
}

cs_status image_thumbnail(const cs_image *src, int max_side, cs_image *dst, cs_error *err)
{
    if (!src || !src->pixels || src->width <= 0 || src->height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "no image to make a thumbnail of");
    if (max_side <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "thumbnail size %d is not positive", max_side);
    int longer = src->width > src->height ? src->width : src->height;
    if (longer <= max_side) {
        cs_status rc = image_alloc(dst, src->width, src->height, err);
        if (rc == CS_OK)
            memcpy(dst->pixels, src->pixels, (size_t)src->width * (size_t)src->height * 3);
        return rc;
    }
    double scale = (double)max_side / longer;
    int w = (int)lround(src->width * scale), h = (int)lround(src->height * scale);
    return image_resize(src, w < 1 ? 1 : w, h < 1 ? 1 : h, dst, err);
}
