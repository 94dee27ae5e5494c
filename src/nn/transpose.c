/* Axis permutation for any element size: walks the output in order and reads
 * the input through permuted strides, the innermost output axis as a strided
 * loop (specialised for 4-byte elements). */
#include <string.h>

#include "nn/nn_internal.h"

void nn_transpose(const void *in, const int64_t *in_dims, int rank, const int *perm,
                  size_t elem_size, void *out)
{
    if (rank == 0) {
        memcpy(out, in, elem_size);
        return;
    }
    int64_t in_strides[NN_MAX_RANK], dims[NN_MAX_RANK], strides[NN_MAX_RANK];
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        in_strides[d] = s;
        s *= in_dims[d];
    }
    if (s == 0)
        return;
    for (int d = 0; d < rank; d++) {
        dims[d] = in_dims[perm[d]];
        strides[d] = in_strides[perm[d]];
    }
    int64_t inner = dims[rank - 1], istride = strides[rank - 1];
    int64_t outer = s / inner;
    int64_t idx[NN_MAX_RANK] = {0};
    int64_t off = 0;
    char *dst = out;
    const char *src = in;
    for (int64_t o = 0; o < outer; o++) {
        if (elem_size == 4) {
            uint32_t *d32 = (uint32_t *)(void *)dst;
            const uint32_t *s32 = (const uint32_t *)(const void *)src + off;
            for (int64_t i = 0; i < inner; i++)
                d32[i] = s32[i * istride];
        } else {
            for (int64_t i = 0; i < inner; i++)
                memcpy(dst + (size_t)i * elem_size, src + (size_t)(off + i * istride) * elem_size,
                       elem_size);
        }
        dst += (size_t)inner * elem_size;
        for (int d = rank - 2; d >= 0; d--) {
            off += strides[d];
            if (++idx[d] < dims[d])
                break;
            off -= strides[d] * dims[d];
            idx[d] = 0;
        }
    }
}
