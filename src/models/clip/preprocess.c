/* CLIP image preprocessing: Pillow's fixed-point antialiased bicubic resize
 * (Pillow src/libImaging/Resample.c, precompute_coeffs,
 * normalize_coeffs_8bpc, ImagingResampleHorizontal/Vertical_8bpc and
 * ImagingResampleInner), a centre crop and normalisation.
 *
 * Every output pixel depends only on its own coefficients, so computing a
 * window of the resized image (the crop) gives the same bytes as resizing the
 * whole image and cropping afterwards. The floating-point expressions below
 * follow Pillow's operation for operation: a different association or a
 * division in place of Pillow's multiplication by 1 / filterscale can move a
 * quantised coefficient by one and a pixel by one level. The project builds
 * with -std=c11, which keeps GCC from contracting them into FMAs. */
#include "models/clip/preprocess.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const float CLIP_DEFAULT_MEAN[3] = {0.48145466f, 0.4578275f, 0.40821073f};
const float CLIP_DEFAULT_STD[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* Pillow: PRECISION_BITS = 32 - 8 - 2. */
#define PRECISION_BITS 22

/* Refuse scratch larger than this (bytes); real inputs are far below it. */
#define SCRATCH_LIMIT ((uint64_t)1 << 40)

static double bicubic_filter(double x)
{
    const double a = -0.5;
    if (x < 0.0) {
        x = -x;
    }
    if (x < 1.0) {
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    }
    if (x < 2.0) {
        return (((x - 5) * x + 8) * x - 4) * a;
    }
    return 0.0;
}

/* One axis: Pillow's scale, filterscale and support for in -> out. */
typedef struct axis_plan {
    int in_size;
    int out_size;
    double scale;
    double filterscale;
    double support;
    int ksize;
} axis_plan;

static void axis_plan_init(axis_plan *p, int in_size, int out_size)
{
    p->in_size = in_size;
    p->out_size = out_size;
    /* Pillow: (double)(in1 - in0) / outSize with a float box (0, in). */
    p->scale = (double)(float)in_size / out_size;
    p->filterscale = p->scale < 1.0 ? 1.0 : p->scale;
    p->support = 2.0 * p->filterscale;
    p->ksize = (int)ceil(p->support) * 2 + 1;
}

/* Source range [xmin, xmin + count) of output index xx, Pillow's rounding. */
static void axis_bounds(const axis_plan *p, int xx, int *xmin_out, int *count_out)
{
    double center = 0.0 + (xx + 0.5) * p->scale;
    int xmin = (int)(center - p->support + 0.5);
    if (xmin < 0) {
        xmin = 0;
    }
    int xmax = (int)(center + p->support + 0.5);
    if (xmax > p->in_size) {
        xmax = p->in_size;
    }
    xmax -= xmin;
    if (xmax > p->ksize) {
        xmax = p->ksize; /* cannot happen (xmax <= 2 * support + 1); memory safety */
    }
    if (xmax < 0) {
        xmax = 0;
    }
    *xmin_out = xmin;
    *count_out = xmax;
}

/* Coefficients of output indices [o0, o0 + n): bounds[2i] = first source
 * index, bounds[2i + 1] = tap count, kk[i * ksize + x] = weight in 22-bit
 * fixed point (zero beyond the count). tmp holds ksize doubles. */
static void axis_coeffs(const axis_plan *p, int o0, int n, double *tmp, int *bounds,
                        int32_t *kk)
{
    double ss = 1.0 / p->filterscale;
    for (int i = 0; i < n; i++) {
        int xx = o0 + i;
        double center = 0.0 + (xx + 0.5) * p->scale;
        int xmin, count;
        axis_bounds(p, xx, &xmin, &count);
        double ww = 0.0;
        for (int x = 0; x < count; x++) {
            double w = bicubic_filter((x + xmin - center + 0.5) * ss);
            tmp[x] = w;
            ww += w;
        }
        for (int x = 0; x < count; x++) {
            if (ww != 0.0) {
                tmp[x] /= ww;
            }
        }
        int32_t *k = kk + (size_t)i * (size_t)p->ksize;
        for (int x = 0; x < count; x++) {
            if (tmp[x] < 0) {
                k[x] = (int32_t)(-0.5 + tmp[x] * (1 << PRECISION_BITS));
            } else {
                k[x] = (int32_t)(0.5 + tmp[x] * (1 << PRECISION_BITS));
            }
        }
        for (int x = count; x < p->ksize; x++) {
            k[x] = 0;
        }
        bounds[2 * i] = xmin;
        bounds[2 * i + 1] = count;
    }
}

/* Pillow's clip8: the accumulator shifted down, clamped to 0..255. */
static inline uint8_t clip8(int32_t v)
{
    if (v <= 0) {
        return 0;
    }
    v >>= PRECISION_BITS;
    return v > 255 ? 255 : (uint8_t)v;
}

/* A window [x0, x0 + cw) x [y0, y0 + ch) of the full out_w x out_h resize. */
typedef struct resize_job {
    const cs_image *src;
    int out_w, out_h;
    int x0, y0, cw, ch;
    axis_plan h, v;
    int need_h, need_v;
    int row_first, row_last;  /* source rows the window needs */
    /* scratch pointers */
    double *tmp;
    int *hbounds, *vbounds;
    int32_t *hk, *vk;
    uint8_t *mid;             /* horizontal-pass output, cw x (row_last - row_first) */
} resize_job;

/* Plans the window and returns the scratch size in bytes (0 on overflow). */
static uint64_t resize_plan(resize_job *job, const cs_image *src, int out_w, int out_h,
                            int x0, int y0, int cw, int ch)
{
    memset(job, 0, sizeof *job);
    job->src = src;
    job->out_w = out_w;
    job->out_h = out_h;
    job->x0 = x0;
    job->y0 = y0;
    job->cw = cw;
    job->ch = ch;
    /* Pillow: need_horizontal = xsize != imIn->xsize || box[0] || box[2] != xsize. */
    job->need_h = out_w != src->width;
    job->need_v = out_h != src->height;
    axis_plan_init(&job->h, src->width, out_w);
    axis_plan_init(&job->v, src->height, out_h);
    if (job->need_v) {
        int first, count_first, last_min, last_count;
        axis_bounds(&job->v, y0, &first, &count_first);
        axis_bounds(&job->v, y0 + ch - 1, &last_min, &last_count);
        job->row_first = first;
        job->row_last = last_min + last_count;
        if (job->row_last < job->row_first) {
            job->row_last = job->row_first;
        }
    } else {
        job->row_first = y0;
        job->row_last = y0 + ch;
    }
    uint64_t kmax = (uint64_t)(job->h.ksize > job->v.ksize ? job->h.ksize : job->v.ksize);
    uint64_t bytes = kmax * sizeof(double);
    if (job->need_h) {
        bytes += (uint64_t)cw * (uint64_t)job->h.ksize * sizeof(int32_t);
        bytes += (uint64_t)cw * 2 * sizeof(int);
    }
    if (job->need_v) {
        bytes += (uint64_t)ch * (uint64_t)job->v.ksize * sizeof(int32_t);
        bytes += (uint64_t)ch * 2 * sizeof(int);
    }
    if (job->need_h) {
        bytes += (uint64_t)cw * 3 * (uint64_t)(job->row_last - job->row_first);
    }
    if (bytes > SCRATCH_LIMIT || bytes > SIZE_MAX) {
        return 0;
    }
    return bytes;
}

/* Carves the scratch block (doubles first, then the int arrays, then bytes). */
static void resize_bind(resize_job *job, void *scratch)
{
    char *p = scratch;
    int kmax = job->h.ksize > job->v.ksize ? job->h.ksize : job->v.ksize;
    job->tmp = (double *)(void *)p;
    p += (size_t)kmax * sizeof(double);
    if (job->need_h) {
        job->hk = (int32_t *)(void *)p;
        p += (size_t)job->cw * (size_t)job->h.ksize * sizeof(int32_t);
        job->hbounds = (int *)(void *)p;
        p += (size_t)job->cw * 2 * sizeof(int);
    }
    if (job->need_v) {
        job->vk = (int32_t *)(void *)p;
        p += (size_t)job->ch * (size_t)job->v.ksize * sizeof(int32_t);
        job->vbounds = (int *)(void *)p;
        p += (size_t)job->ch * 2 * sizeof(int);
    }
    if (job->need_h) {
        job->mid = (uint8_t *)p;
    }
}

/* Runs the planned window into out (cw x ch RGB, rows packed). */
static void resize_run(resize_job *job, uint8_t *out)
{
    const cs_image *src = job->src;
    const size_t src_stride = (size_t)src->width * 3;
    const uint8_t *mid;
    size_t mid_stride;
    int mid_col0;

    if (job->need_h) {
        axis_coeffs(&job->h, job->x0, job->cw, job->tmp, job->hbounds, job->hk);
        const int ksize = job->h.ksize;
        for (int r = job->row_first; r < job->row_last; r++) {
            const uint8_t *row = src->pixels + (size_t)r * src_stride;
            uint8_t *o = job->mid + (size_t)(r - job->row_first) * (size_t)job->cw * 3;
            for (int i = 0; i < job->cw; i++) {
                int xmin = job->hbounds[2 * i];
                int count = job->hbounds[2 * i + 1];
                const int32_t *k = job->hk + (size_t)i * (size_t)ksize;
                const uint8_t *p = row + (size_t)xmin * 3;
                int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
                for (int x = 0; x < count; x++) {
                    s0 += (int32_t)p[3 * x + 0] * k[x];
                    s1 += (int32_t)p[3 * x + 1] * k[x];
                    s2 += (int32_t)p[3 * x + 2] * k[x];
                }
                o[3 * i + 0] = clip8(s0);
                o[3 * i + 1] = clip8(s1);
                o[3 * i + 2] = clip8(s2);
            }
        }
        mid = job->mid;
        mid_stride = (size_t)job->cw * 3;
        mid_col0 = 0;
    } else {
        /* The source rows themselves, starting at row 0. */
        mid = src->pixels + (size_t)job->row_first * src_stride;
        mid_stride = src_stride;
        mid_col0 = job->x0;
    }

    const size_t out_stride = (size_t)job->cw * 3;
    if (!job->need_v) {
        for (int j = 0; j < job->ch; j++) {
            const uint8_t *row = mid + (size_t)(job->y0 + j - job->row_first) * mid_stride;
            memcpy(out + (size_t)j * out_stride, row + (size_t)mid_col0 * 3, out_stride);
        }
        return;
    }
    axis_coeffs(&job->v, job->y0, job->ch, job->tmp, job->vbounds, job->vk);
    const int ksize = job->v.ksize;
    for (int j = 0; j < job->ch; j++) {
        int ymin = job->vbounds[2 * j] - job->row_first;
        int count = job->vbounds[2 * j + 1];
        const int32_t *k = job->vk + (size_t)j * (size_t)ksize;
        const uint8_t *base = mid + (size_t)ymin * mid_stride + (size_t)mid_col0 * 3;
        uint8_t *o = out + (size_t)j * out_stride;
        for (int i = 0; i < job->cw; i++) {
            const uint8_t *p = base + (size_t)i * 3;
            int32_t s0 = 1 << (PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int y = 0; y < count; y++) {
                const uint8_t *q = p + (size_t)y * mid_stride;
                s0 += (int32_t)q[0] * k[y];
                s1 += (int32_t)q[1] * k[y];
                s2 += (int32_t)q[2] * k[y];
            }
            o[3 * i + 0] = clip8(s0);
            o[3 * i + 1] = clip8(s1);
            o[3 * i + 2] = clip8(s2);
        }
    }
}

static cs_status check_source(const cs_image *src, const char *what, cs_error *err)
{
    if (!src) {
        return cs_error_set(err, CS_ERR_INVALID, "%s: no image given", what);
    }
    if (src->width <= 0 || src->height <= 0 || !src->pixels) {
        return cs_error_set(err, CS_ERR_INVALID, "%s: the image is empty (%d x %d%s)",
                            what, src->width, src->height,
                            src->pixels ? "" : ", no pixels");
    }
    return CS_OK;
}

cs_status clip_resize_bicubic_aa(const cs_image *src, int width, int height,
                                 cs_image *dst, cs_error *err)
{
    if (!dst) {
        return cs_error_set(err, CS_ERR_INVALID, "bicubic resize: no output image given");
    }
    memset(dst, 0, sizeof *dst);
    cs_status st = check_source(src, "bicubic resize", err);
    if (st != CS_OK) {
        return st;
    }
    if (width <= 0 || height <= 0) {
        return cs_error_set(err, CS_ERR_INVALID,
                            "bicubic resize: the output size %d x %d is not positive",
                            width, height);
    }
    uint64_t out_bytes = (uint64_t)width * (uint64_t)height * 3;
    resize_job job;
    uint64_t scratch_bytes = resize_plan(&job, src, width, height, 0, 0, width, height);
    if (scratch_bytes == 0 || out_bytes > SCRATCH_LIMIT || out_bytes > SIZE_MAX) {
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "bicubic resize: %d x %d to %d x %d needs too much memory",
                            src->width, src->height, width, height);
    }
    uint8_t *pixels = malloc((size_t)out_bytes);
    void *scratch = malloc((size_t)scratch_bytes);
    if (!pixels || !scratch) {
        free(pixels);
        free(scratch);
        return cs_error_set(err, CS_ERR_NOMEM,
                            "bicubic resize: out of memory resizing %d x %d to %d x %d",
                            src->width, src->height, width, height);
    }
    resize_bind(&job, scratch);
    resize_run(&job, pixels);
    free(scratch);
    dst->width = width;
    dst->height = height;
    dst->pixels = pixels;
    return CS_OK;
}

cs_status clip_resize_dims(int width, int height, int size, int *out_width,
                           int *out_height, cs_error *err)
{
    if (width <= 0 || height <= 0 || size <= 0) {
        return cs_error_set(err, CS_ERR_INVALID,
                            "CLIP resize: sizes must be positive (image %d x %d, size %d)",
                            width, height, size);
    }
    int short_side = width <= height ? width : height;
    int long_side = width <= height ? height : width;
    /* Python: int(size * long / short), the product exact, the quotient in double. */
    double new_long = (double)size * (double)long_side / (double)short_side;
    if (!(new_long < (double)INT_MAX)) {
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "CLIP resize: a %d x %d image is too elongated to resize to %d",
                            width, height, size);
    }
    int nl = (int)new_long;
    if (width <= height) {
        *out_width = size;
        *out_height = nl;
    } else {
        *out_width = nl;
        *out_height = size;
    }
    return CS_OK;
}

int clip_center_crop_offset(int len, int crop)
{
    return (len - crop) / 2; /* len >= crop, so this is Python's floor division */
}

cs_status clip_preprocess(const cs_image *rgb, int size, const float mean[3],
                          const float std[3], float *out, cs_error *err)
{
    cs_status st = check_source(rgb, "CLIP preprocessing", err);
    if (st != CS_OK) {
        return st;
    }
    if (size <= 0) {
        return cs_error_set(err, CS_ERR_INVALID,
                            "CLIP preprocessing: the model's image size %d is not positive",
                            size);
    }
    if (!mean || !std || !out) {
        return cs_error_set(err, CS_ERR_INVALID,
                            "CLIP preprocessing: mean, std or the output buffer is missing");
    }
    for (int c = 0; c < 3; c++) {
        if (!isfinite(mean[c]) || !isfinite(std[c]) || std[c] == 0.0f) {
            return cs_error_set(err, CS_ERR_INVALID,
                                "CLIP preprocessing: channel %d has mean %g and std %g; "
                                "both must be finite and std non-zero",
                                c, (double)mean[c], (double)std[c]);
        }
    }
    int rw, rh;
    st = clip_resize_dims(rgb->width, rgb->height, size, &rw, &rh, err);
    if (st != CS_OK) {
        return st;
    }
    int x0 = clip_center_crop_offset(rw, size);
    int y0 = clip_center_crop_offset(rh, size);

    resize_job job;
    uint64_t scratch_bytes = resize_plan(&job, rgb, rw, rh, x0, y0, size, size);
    uint64_t crop_bytes = (uint64_t)size * (uint64_t)size * 3;
    if (scratch_bytes == 0 || crop_bytes > SCRATCH_LIMIT ||
        scratch_bytes + crop_bytes > SIZE_MAX) {
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "CLIP preprocessing: %d x %d at size %d needs too much memory",
                            rgb->width, rgb->height, size);
    }
    void *scratch = malloc((size_t)(scratch_bytes + crop_bytes));
    if (!scratch) {
        return cs_error_set(err, CS_ERR_NOMEM,
                            "CLIP preprocessing: out of memory for a %d x %d image at size %d",
                            rgb->width, rgb->height, size);
    }
    resize_bind(&job, scratch);
    uint8_t *crop = (uint8_t *)scratch + scratch_bytes;
    resize_run(&job, crop);

    float lut[3][256];
    for (int c = 0; c < 3; c++) {
        for (int v = 0; v < 256; v++) {
            lut[c][v] = (float)(((double)v / 255.0 - (double)mean[c]) / (double)std[c]);
        }
    }
    const size_t plane = (size_t)size * (size_t)size;
    for (size_t i = 0; i < plane; i++) {
        out[i] = lut[0][crop[3 * i + 0]];
        out[plane + i] = lut[1][crop[3 * i + 1]];
        out[2 * plane + i] = lut[2][crop[3 * i + 2]];
    }
    free(scratch);
    return CS_OK;
}
