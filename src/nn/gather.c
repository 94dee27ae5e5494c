/* GatherV2 (batch_dims 0) for any element size. */
#include <string.h>

#include "nn/nn_internal.h"

int64_t nn_gather(const void *params, int64_t outer, int64_t axis_dim, int64_t inner,
                  size_t elem_size, const int32_t *indices, int64_t n_indices, void *out)
{
    for (int64_t i = 0; i < n_indices; i++)
        if (indices[i] < 0 || indices[i] >= axis_dim)
            return i;
    size_t row = (size_t)inner * elem_size;
    char *dst = out;
    for (int64_t o = 0; o < outer; o++) {
        const char *base = (const char *)params + (size_t)(o * axis_dim) * row;
        for (int64_t i = 0; i < n_indices; i++) {
            memcpy(dst, base + (size_t)indices[i] * row, row);
            dst += row;
        }
    }
    return -1;
}
