/* GEMM for the shapes of 1x1 convolutions with few input channels: C[M x N]
 * = A[M x K] B[K x N], row-major and unpacked. OpenBLAS packs both operands
 * on every call, which dominates when K is small; here B (K x N, a few KiB)
 * stays in L1 and each 4-row x 16-column tile of C is accumulated in
 * registers over K and stored once. Larger shapes go to OpenBLAS. */
#include <cblas.h>

#include "nn/nn_internal.h"
#include "nn/nn_vec.h"

/* Rows [m0, m0 + 4) x columns [n0, n0 + 16); the accumulators start at the
 * bias (16 values from bias, or zeros). */
NN_INLINE void tile_4x16(int64_t K, int64_t N, const float *a, const float *b, const float *bias,
                         float *c)
{
    v8 z0 = bias ? load8(bias) : (v8){0}, z1 = bias ? load8(bias + 8) : (v8){0};
    v8 c00 = z0, c01 = z1, c10 = z0, c11 = z1, c20 = z0, c21 = z1, c30 = z0, c31 = z1;
    for (int64_t k = 0; k < K; k++) {
        v8 b0 = load8(b + k * N), b1 = load8(b + k * N + 8);
        /* scalar * vector broadcasts the scalar (vbroadcastss) */
        float a0 = a[k], a1 = a[K + k], a2 = a[2 * K + k], a3 = a[3 * K + k];
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
    }
    store8(c, c00);
    store8(c + 8, c01);
    store8(c + N, c10);
    store8(c + N + 8, c11);
    store8(c + 2 * N, c20);
    store8(c + 2 * N + 8, c21);
    store8(c + 3 * N, c30);
    store8(c + 3 * N + 8, c31);
}

/* Rows [m0, m0 + 4) x columns [n0, n0 + 8). */
NN_INLINE void tile_4x8(int64_t K, int64_t N, const float *a, const float *b, const float *bias,
                        float *c)
{
    v8 z = bias ? load8(bias) : (v8){0};
    v8 c0 = z, c1 = z, c2 = z, c3 = z;
    for (int64_t k = 0; k < K; k++) {
        v8 b0 = load8(b + k * N);
        c0 += a[k] * b0;
        c1 += a[K + k] * b0;
        c2 += a[2 * K + k] * b0;
        c3 += a[3 * K + k] * b0;
    }
    store8(c, c0);
    store8(c + N, c1);
    store8(c + 2 * N, c2);
    store8(c + 3 * N, c3);
}

/* One row, columns [n0, N): 8 at a time, then one by one. */
NN_INLINE void row_rest(int64_t K, int64_t N, int64_t n0, const float *a, const float *b,
                        const float *bias, float *c)
{
    int64_t n = n0;
    for (; n + 8 <= N; n += 8) {
        v8 acc = bias ? load8(bias + n) : (v8){0};
        for (int64_t k = 0; k < K; k++)
            acc += a[k] * load8(b + k * N + n);
        store8(c + n, acc);
    }
    for (; n < N; n++) {
        float acc = bias ? bias[n] : 0.0f;
        for (int64_t k = 0; k < K; k++)
            acc += a[k] * b[k * N + n];
        c[n] = acc;
    }
}

/* The bias goes into the accumulators and the activation runs on each
 * group of four rows while they are in L1: the output is written once. */
NN_HOT static void gemm_small(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                              const float *bias, nn_act act, float *C)
{
    int64_t n16 = N / 16 * 16, n8 = N / 8 * 8;
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) {
        const float *a = A + m * K;
        float *c = C + m * N;
        for (int64_t n = 0; n < n16; n += 16)
            tile_4x16(K, N, a, B + n, bias ? bias + n : NULL, c + n);
        if (n16 < n8)
            tile_4x8(K, N, a, B + n16, bias ? bias + n16 : NULL, c + n16);
        if (n8 < N)
            for (int r = 0; r < 4; r++)
                row_rest(K, N, n8, a + r * K, B, bias, c + r * N);
        if (act.kind != NN_ACT_NONE)
            nn_act_span(c, c, (size_t)(4 * N), act);
    }
    for (; m < M; m++) {
        row_rest(K, N, 0, A + m * K, B, bias, C + m * N);
        if (act.kind != NN_ACT_NONE)
            nn_act_span(C + m * N, C + m * N, (size_t)N, act);
    }
}

#ifndef SMALL_K_MAX
#define SMALL_K_MAX 128
#endif
#ifndef SMALL_KN_MAX
#define SMALL_KN_MAX 8192
#endif

/* N < 8 columns (a regression head): dot products along K, 8 at a time,
 * against B's columns copied contiguous. */
NN_HOT static void gemm_narrow(int64_t M, int64_t N, int64_t K, const float *A, const float *B,
                               float *C, float *bt)
{
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            bt[n * K + k] = B[k * N + n];
    const int64_t K8 = K / 8 * 8;
    for (int64_t m = 0; m < M; m++) {
        const float *a = A + m * K;
        for (int64_t n = 0; n < N; n++) {
            const float *b = bt + n * K;
            v8 acc = {0};
            for (int64_t k = 0; k < K8; k += 8)
                acc += load8(a + k) * load8(b + k);
            float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
            for (int64_t k = K8; k < K; k++)
                sum += a[k] * b[k];
            C[m * N + n] = sum;
        }
    }
}

#define NARROW_MAX_FLOATS 4096

/* Where the unpacked kernel wins over OpenBLAS (measured on Zen 3 with
 * AVX2: 1.2-2.5x for K <= 64, even around K*N = 8K, behind it beyond): a
 * filter that stays in L1, and at least 8 columns (one vector). */
static bool small_enough(int64_t N, int64_t K)
{
    return N >= 8 && K <= SMALL_K_MAX && K * N <= SMALL_KN_MAX;
}

void nn_gemm_bias_act(int64_t rows, int64_t n, int64_t k, const float *a, const float *b,
                      const float *bias, nn_act act, float *out)
{
    if (small_enough(n, k)) {
        gemm_small(rows, n, k, a, b, bias, act, out);
        return;
    }
    if (n < 8 && k >= 32 && n * k <= NARROW_MAX_FLOATS) {
        float bt[NARROW_MAX_FLOATS];
        gemm_narrow(rows, n, k, a, b, out, bt);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)n, (int)k, 1.0f,
                    a, (int)k, b, (int)n, 0.0f, out, (int)n);
    }
    if (bias || act.kind != NN_ACT_NONE)
        nn_bias_act(out, (size_t)rows, (size_t)n, bias, act);
}

