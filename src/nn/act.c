/* Activations, alone or as the bias + activation epilogue of a convolution
 * or matmul block (applied while the block is still in cache). */
#include <string.h>

#include "nn/nn_internal.h"

size_t nn_dtype_size(nn_dtype t)
{
    return t == NN_BOOL ? 1 : 4;
}

NN_HOT void nn_exp(const float *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = nn_fast_expf(in[i]);
}

NN_HOT void nn_activate(const float *in, float *out, size_t n, nn_act act)
{
    nn_act_span(in, out, n, act);
}

NN_HOT void nn_bias_act(float *x, size_t rows, size_t cols, const float *bias, nn_act act)
{
    for (size_t r = 0; r < rows; r++) {
        float *row = x + r * cols;
        if (bias)
            for (size_t c = 0; c < cols; c++)
                row[c] += bias[c];
        if (act.kind != NN_ACT_NONE)
            nn_act_span(row, row, cols, act);
    }
}

NN_HOT void nn_add_inplace(float *y, const float *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] += r[i];
}
