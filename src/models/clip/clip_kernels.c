/* The towers' non-GEMM loops (clip_kernels.h). */
#include "models/clip/clip_kernels.h"

#include <cblas.h>
#include <math.h>

#include "nn/nn_vec.h"

NN_HOT void clip_layer_norm(const float *x, size_t rows, int d, const float *g, const float *b,
                            float eps, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * (size_t)d;
        float *out = y + r * (size_t)d;
        /* Eight partial sums per pass, combined in double: the two-pass
         * variance stays accurate for rows of thousands. */
        float part[8] = {0};
        int j = 0;
        for (; j + 8 <= d; j += 8)
            for (int l = 0; l < 8; l++)
                part[l] += in[j + l];
        double sum = 0;
        for (int l = 0; l < 8; l++)
            sum += part[l];
        for (; j < d; j++)
            sum += in[j];
        float mean = (float)(sum / d);
        float sq[8] = {0};
        for (j = 0; j + 8 <= d; j += 8)
            for (int l = 0; l < 8; l++) {
                float c = in[j + l] - mean;
                sq[l] += c * c;
            }
        double var = 0;
        for (int l = 0; l < 8; l++)
            var += sq[l];
        for (; j < d; j++)
            var += (double)(in[j] - mean) * (in[j] - mean);
        float inv = (float)(1.0 / sqrt(var / d + eps));
        for (j = 0; j < d; j++)
            out[j] = (in[j] - mean) * inv * g[j] + b[j];
    }
}

/* erf(x) by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7,
 * about one float ulp near 1), in a form the compiler vectorises. */
NN_INLINE float fast_erff(float x)
{
    float a = fabsf(x);
    float t = 1.0f / (1.0f + 0.3275911f * a);
    float p = 1.061405429f;
    p = p * t - 1.453152027f;
    p = p * t + 1.421413741f;
    p = p * t - 0.284496736f;
    p = p * t + 0.254829592f;
    float y = 1.0f - p * t * nn_fast_expf(-a * a);
    return x < 0.0f ? -y : y;
}

NN_HOT void clip_activate(float *x, size_t n, clip_activation act)
{
    if (act == CLIP_QUICK_GELU)
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + nn_fast_expf(-1.702f * x[i]));
    else
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + fast_erff(x[i] * 0.70710678118654752f));
}

NN_HOT void clip_add(float *y, const float *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += r[i];
}

NN_HOT static void softmax_row(float *row, int visible, int n)
{
    float max = row[0];
    for (int j = 1; j < visible; j++)
        max = row[j] > max ? row[j] : max;
    float sum = 0.0f;
    for (int j = 0; j < visible; j++) {
        row[j] = nn_fast_expf(row[j] - max);
        sum += row[j];
    }
    float inv = 1.0f / sum;
    for (int j = 0; j < visible; j++)
        row[j] *= inv;
    for (int j = visible; j < n; j++)
        row[j] = 0.0f;
}

void clip_attention_head(const float *q, const float *k, const float *v, int ld, int n, int dh,
                         float scale, int causal, float *scores, float *out, int ld_out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, q, ld, k, ld, 0.0f,
                scores, n);
    for (int i = 0; i < n; i++)
        softmax_row(scores + (size_t)i * n, causal ? i + 1 : n, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0f, scores, n, v, ld,
                0.0f, out, ld_out);
}

NN_HOT void clip_quantize_rows(const float *x, size_t rows, int d, int qmax, uint8_t *a,
                               float *scale, int32_t *zero)
{
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * (size_t)d;
        uint8_t *q = a + r * (size_t)d;
        float lo = 0.0f, hi = 0.0f;   /* the range holds 0, so 0 is exact */
        for (int j = 0; j < d; j++) {
            lo = in[j] < lo ? in[j] : lo;
            hi = in[j] > hi ? in[j] : hi;
        }
        float s = (hi - lo) / (float)qmax;
        if (!(s > 0.0f))
            s = 1.0f;
        float inv = 1.0f / s;
        int32_t z = (int32_t)lrintf(-lo * inv);
        z = z < 0 ? 0 : z > qmax ? qmax : z;
        float fz = (float)z, fmax = (float)qmax;
        for (int j = 0; j < d; j++) {
            float v = nearbyintf(in[j] * inv) + fz;
            v = v < 0.0f ? 0.0f : v;
            v = v > fmax ? fmax : v;
            q[j] = (uint8_t)(int)v;
        }
        scale[r] = s;
        zero[r] = z;
    }
}

NN_HOT void clip_dequantize_rows(const int32_t *acc, size_t rows, int n, const float *scale,
                                 const int32_t *zero, const float *wscale, const int32_t *wsum,
                                 const float *bias, float *y)
{
    for (size_t r = 0; r < rows; r++) {
        const int32_t *in = acc + r * (size_t)n;
        float *out = y + r * (size_t)n;
        float s = scale[r];
        int32_t z = zero[r];
        for (int c = 0; c < n; c++)
            out[c] = s * wscale[c] * (float)(in[c] - z * wsum[c]) + bias[c];
    }
}
