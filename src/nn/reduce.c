/* Mean over axes and softmax over the last axis. Sums over one run of axes
 * (every mean in the tagger's models) and softmax's denominator run in
 * double, as TF.js's CPU kernels (JavaScript numbers) do. */
#include <math.h>
#include <string.h>

#include "nn/nn_internal.h"

/* Reduced axes that form one run [first, last] collapse to
 * [outer, reduced, inner], summed with contiguous inner loops; any other
 * pattern goes element by element. */
void nn_mean(const float *in, const int64_t *dims, int rank, const bool *reduce, float *out)
{
    int first = -1, last = -1;
    bool contiguous = true;
    int64_t count = 1;
    for (int i = 0; i < rank; i++) {
        if (!reduce[i] || dims[i] == 1)
            continue;
        if (first < 0)
            first = i;
        else if (last != i - 1)
            contiguous = false;
        last = i;
        count *= dims[i];
    }
    int64_t total = nn_prod(dims, 0, rank);
    if (first < 0) {   /* nothing to reduce */
        memmove(out, in, (size_t)total * sizeof *out);
        return;
    }
    if (contiguous) {
        /* unreduced size-1 axes inside [first, last] do not change the layout */
        int64_t outer = nn_prod(dims, 0, first), inner = nn_prod(dims, last + 1, rank);
        int64_t red = count;
        for (int64_t o = 0; o < outer; o++) {
            const float *src = in + o * red * inner;
            float *dst = out + o * inner;
            for (int64_t j0 = 0; j0 < inner; j0 += 256) {
                int64_t nj = inner - j0 < 256 ? inner - j0 : 256;
                double acc[256];
                for (int64_t j = 0; j < nj; j++)
                    acc[j] = 0.0;
                for (int64_t r = 0; r < red; r++) {
                    const float *row = src + r * inner + j0;
                    for (int64_t j = 0; j < nj; j++)
                        acc[j] += row[j];
                }
                for (int64_t j = 0; j < nj; j++)
                    dst[j0 + j] = (float)(acc[j] / (double)red);
            }
        }
        return;
    }
    /* General case: accumulate each input element into its output cell (in
     * float: there is no scratch for doubles here). */
    int64_t out_total = total / count;
    int64_t ostride[NN_MAX_RANK];
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        ostride[i] = reduce[i] ? 0 : s;
        s *= reduce[i] ? 1 : dims[i];
    }
    for (int64_t i = 0; i < out_total; i++)
        out[i] = 0.0f;
    int64_t idx[NN_MAX_RANK] = {0};
    int64_t o = 0;
    for (int64_t i = 0; i < total; i++) {
        out[o] += in[i];
        for (int d = rank - 1; d >= 0; d--) {
            o += ostride[d];
            if (++idx[d] < dims[d])
                break;
            o -= ostride[d] * dims[d];
            idx[d] = 0;
        }
    }
    for (int64_t i = 0; i < out_total; i++)
        out[i] = (float)((double)out[i] / (double)count);
}

void nn_softmax(const float *in, float *out, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        float *y = out + r * cols;
        float max = -INFINITY;
        for (int64_t c = 0; c < cols; c++)
            max = x[c] > max ? x[c] : max;
        for (int64_t c = 0; c < cols; c++)
            y[c] = x[c] - max;
        nn_exp(y, y, (size_t)cols);
        double sum = 0.0;
        for (int64_t c = 0; c < cols; c++)
            sum += y[c];
        float inv = (float)sum;
        for (int64_t c = 0; c < cols; c++)
            y[c] /= inv;
    }
}
