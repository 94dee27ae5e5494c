/* Matrix product with bias and activation, on OpenBLAS. */
#include <cblas.h>

#include "nn/nn_internal.h"

void nn_set_blas_threads(int threads)
{
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}

void nn_matmul(int64_t m, int64_t n, int64_t k, const float *a, bool trans_a, const float *b,
               bool trans_b, const float *bias, nn_act act, float *out)
{
    if (k == 0) {
        for (int64_t i = 0; i < m * n; i++)
            out[i] = 0.0f;
    } else {
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    trans_a ? (int)m : (int)k, b, trans_b ? (int)k : (int)n, 0.0f, out, (int)n);
    }
    nn_bias_act(out, (size_t)m, (size_t)n, bias, act);
}
