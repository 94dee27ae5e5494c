/* Constant padding for any rank and element size: recursive over axes, the
 * innermost axis copied as one block between its two fills. */
#include <string.h>

#include "nn/nn_internal.h"

static void fill(char *dst, int64_t n, const void *value, size_t esz)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * esz, value, esz);
}

/* Writes the padded block of axis `d` and returns its end. */
static char *pad_axis(const char *in, const int64_t *dims, const int64_t *out_strides,
                      const int64_t *in_strides, int rank, int d, const int64_t *before,
                      const int64_t *after, size_t esz, const void *value, char *dst)
{
    int64_t stride = out_strides[d];   /* elements of one row of axis d in the output */
    fill(dst, before[d] * stride, value, esz);
    dst += (size_t)(before[d] * stride) * esz;
    if (d == rank - 1) {
        memcpy(dst, in, (size_t)dims[d] * esz);
        dst += (size_t)dims[d] * esz;
    } else {
        for (int64_t i = 0; i < dims[d]; i++)
            dst = pad_axis(in + (size_t)(i * in_strides[d]) * esz, dims, out_strides,
                           in_strides, rank, d + 1, before, after, esz, value, dst);
    }
    fill(dst, after[d] * stride, value, esz);
    return dst + (size_t)(after[d] * stride) * esz;
}

void nn_pad(const void *in, const int64_t *in_dims, int rank, const int64_t *before,
            const int64_t *after, size_t elem_size, const void *fill_value, void *out)
{
    if (rank == 0) {
        memcpy(out, in, elem_size);
        return;
    }
    int64_t out_strides[NN_MAX_RANK], in_strides[NN_MAX_RANK];
    int64_t so = 1, si = 1;
    for (int d = rank - 1; d >= 0; d--) {
        out_strides[d] = so;
        in_strides[d] = si;
        so *= in_dims[d] + before[d] + after[d];
        si *= in_dims[d];
    }
    pad_axis(in, in_dims, out_strides, in_strides, rank, 0, before, after, elem_size,
             fill_value, out);
}
