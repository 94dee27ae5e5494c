/* Linear layers over few rows (a search query: one text of a handful of
 * tokens) with weights in float32, float16 or int8.
 *
 * At a few rows a linear layer reads each weight once and does a handful of
 * multiply-adds with it, so its time is the time to stream the weights from
 * memory. BLAS's sgemm packs the weight matrix first (a second pass over it)
 * and its kernels are tuned for many rows; this kernel streams four output
 * channels at a time, widening float16 or int8 weights to float32 in
 * registers, and multiplies them with up to three activation rows per pass
 * while those four channels stay in L1. Activations and sums are float32
 * throughout. An AVX2/FMA/F16C version is picked at run time; other CPUs
 * get a portable loop. */
#ifndef CS_MODELS_CLIP_NARROW_GEMM_H
#define CS_MODELS_CLIP_NARROW_GEMM_H

#include <stddef.h>
#include <stdint.h>

typedef enum clip_wtype {
    CLIP_W_F32 = 0,
    CLIP_W_F16 = 1,     /* IEEE half bits */
    CLIP_W_I8 = 2,      /* symmetric, with a scale per output channel */
} clip_wtype;

/* A weight matrix [out, in], row-major, as y = x W^T * scale + bias. */
typedef struct clip_wmatrix {
    clip_wtype type;
    const void *w;
    const float *scale;   /* CLIP_W_I8: [out]; NULL otherwise */
    const float *bias;    /* [out] or NULL */
    int in, out;
} clip_wmatrix;

/* y[r][c] for r < rows and c0 <= c < c1 (row stride m->out): the product
 * of x[rows, in] with output channels [c0, c1) of m, plus the bias. Any
 * rows, but meant for a few dozen at most (each pass re-reads x). */
void clip_narrow_gemm(const clip_wmatrix *m, const float *x, int rows, int c0, int c1,
                      float *y);

/* Output channels [c0, c1) of m widened to float32 (scale applied, bias
 * not): panel[(c - c0) * in + k]. For running many rows through sgemm. */
void clip_widen_rows(const clip_wmatrix *m, int c0, int c1, float *panel);

/* IEEE half <-> float, round to nearest even; NaN stays NaN, overflow
 * becomes infinity. */
uint16_t clip_float_to_half(float f);
float clip_half_to_float(uint16_t h);

#endif
