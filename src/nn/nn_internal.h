/* Shared by the kernels only. */
#ifndef CS_NN_INTERNAL_H
#define CS_NN_INTERNAL_H

#include <string.h>

#include "nn/nn.h"

/* Hot loops get an x86-64-v3 (AVX2, FMA) clone picked at load time by the CPU (glibc
 * ifunc), so the default build stays portable x86-64 yet uses the wide units
 * where they exist. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__has_attribute)
#if __has_attribute(target_clones) && defined(__linux__)
#define NN_HOT __attribute__((target_clones("default", "arch=x86-64-v3")))
#endif
#endif
#ifndef NN_HOT
#define NN_HOT
#endif

/* Helpers of hot loops must be inlined into each clone: a separate copy
 * would be compiled for the baseline target only. */
#if defined(__GNUC__)
#define NN_INLINE static inline __attribute__((always_inline))
#else
#define NN_INLINE static inline
#endif

static inline int64_t nn_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

NN_INLINE float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

NN_INLINE uint32_t float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* exp(x) that the compiler can vectorise (libm's expf is a call per
 * element): x = n ln2 + r with |r| <= ln2/2, Cephes' degree-6 polynomial for
 * e^r (about 1 ulp), and 2^n applied in two halves so subnormal results and
 * overflow to infinity come out right. NaN stays NaN. */
NN_INLINE float nn_fast_expf(float x)
{
    float v = x < -104.0f ? -104.0f : x;
    v = v > 88.8f ? 88.8f : v;
    const float magic = 12582912.0f;   /* 1.5 * 2^23: adding it rounds to an integer */
    float t = v * 1.44269504088896341f + magic;
    float n = t - magic;
    int32_t ni = (int32_t)(float_to_bits(t) - float_to_bits(magic));
    float r = v - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float z = r * r;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * z + r + 1.0f;
    int32_t n1 = ni / 2, n2 = ni - n1;
    float p1 = bits_to_float((uint32_t)(n1 + 127) << 23);
    float p2 = bits_to_float((uint32_t)(n2 + 127) << 23);
    float e = y * p1 * p2;
    return x != x ? x : e;
}

NN_INLINE float nn_sigmoid(float x)
{
    return 1.0f / (1.0f + nn_fast_expf(-x));
}

/* out[i] = act(in[i]); in == out is fine. Inlined into each kernel so the
 * loops vectorise in that kernel's clone. */
NN_INLINE void nn_act_span(const float *in, float *out, size_t n, nn_act act)
{
    switch (act.kind) {
    case NN_ACT_NONE:
        if (in != out)
            memmove(out, in, n * sizeof *out);
        break;
    case NN_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case NN_ACT_RELU6:
        for (size_t i = 0; i < n; i++) {
            float v = in[i] > 0.0f ? in[i] : 0.0f;
            out[i] = v < 6.0f ? v : 6.0f;
        }
        break;
    case NN_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) {
            float x = in[i], y = act.alpha * x;
            out[i] = x > 0.0f ? x : y;
        }
        break;
    case NN_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = nn_sigmoid(in[i]);
        break;
    case NN_ACT_HARD_SWISH:
        for (size_t i = 0; i < n; i++) {
            float v = in[i] + act.beta;
            v = v > 0.0f ? v : 0.0f;
            v = v < 6.0f ? v : 6.0f;
            out[i] = (act.alpha * in[i]) * v;
        }
        break;
    }
}

/* ---- pieces shared by the fused kernels ---- */

/* Depthwise rows: multiplier 1 and at most NN_DW_MAX_TAPS taps per pixel. */
#define NN_DW_MAX_TAPS 64
static inline bool nn_depthwise_row_ok(const nn_conv_params *c)
{
    return c->out_c == c->in_c && (int64_t)c->k_h * c->k_w <= NN_DW_MAX_TAPS;
}
void nn_depthwise_rows(const nn_conv_params *c, const float *img, int64_t oy,
                       const float **rows);
void nn_depthwise_row(const nn_conv_params *c, const float *const *rows, const float *w,
                      const float *bias, float *out);
/* y[i] += r[i] */
void nn_add_inplace(float *y, const float *r, size_t n);
/* C[rows x n] = A[rows x k] B[k x n] (row-major, contiguous), then + bias
 * (NULL: none) and the activation, while the rows are in cache. */
void nn_gemm_bias_act(int64_t rows, int64_t n, int64_t k, const float *a, const float *b,
                      const float *bias, nn_act act, float *c);

#endif
