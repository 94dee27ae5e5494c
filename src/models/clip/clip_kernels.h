/* The towers' non-GEMM loops (layer norm, activations, attention, int8 row
 * quantisation), vectorised: each has an AVX2/FMA clone chosen at load time
 * (nn/nn_internal.h). No allocation; callers size the buffers. */
#ifndef CS_MODELS_CLIP_KERNELS_H
#define CS_MODELS_CLIP_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "models/clip/config.h"

/* y[r] = (x[r] - mean) / sqrt(var + eps) * g + b for `rows` rows of d; y == x is fine. */
void clip_layer_norm(const float *x, size_t rows, int d, const float *g, const float *b,
                     float eps, float *y);
/* x = act(x) for quick_gelu (x * sigmoid(1.702 x)) or gelu (erf form). */
void clip_activate(float *x, size_t n, clip_activation act);
/* y[i] += r[i] */
void clip_add(float *y, const float *r, size_t n);

/* Attention of one head over one sequence of n tokens: q, k, v are strided
 * views (row stride `ld`) into the stacked qkv matrix; out has row stride
 * `ld_out`. scores is n x n scratch. Causal: token i sees tokens 0..i. */
void clip_attention_head(const float *q, const float *k, const float *v, int ld, int n, int dh,
                         float scale, int causal, float *scores, float *out, int ld_out);

/* Per-row asymmetric quantisation for the int8 GEMMs: a[r][c] =
 * round(x[r][c] / scale[r]) + zero[r], in 0..qmax. */
void clip_quantize_rows(const float *x, size_t rows, int d, int qmax, uint8_t *a, float *scale,
                        int32_t *zero);
/* y[r][c] = scale[r] * wscale[c] * (acc[r][c] - zero[r] * wsum[c]) + bias[c] */
void clip_dequantize_rows(const int32_t *acc, size_t rows, int n, const float *scale,
                          const int32_t *zero, const float *wscale, const int32_t *wsum,
                          const float *bias, float *y);

#endif
