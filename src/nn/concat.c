/* Concatenation and its inverse along one axis, for any element size: each
 * tensor is viewed as [outer, size * inner] and rows are copied in turn. */
#include <string.h>

#include "nn/nn_internal.h"

void nn_concat(int count, const void *const *inputs, const int64_t *sizes, int64_t outer,
               int64_t inner, size_t elem_size, void *out)
{
    char *dst = out;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < count; i++) {
            size_t bytes = (size_t)(sizes[i] * inner) * elem_size;
            memcpy(dst, (const char *)inputs[i] + (size_t)o * bytes, bytes);
            dst += bytes;
        }
}

void nn_split(const void *in, int count, const int64_t *sizes, int64_t outer, int64_t inner,
              size_t elem_size, void *const *outs)
{
    const char *src = in;
    for (int64_t o = 0; o < outer; o++)
        for (int i = 0; i < count; i++) {
            size_t bytes = (size_t)(sizes[i] * inner) * elem_size;
            memcpy((char *)outs[i] + (size_t)o * bytes, src, bytes);
            src += bytes;
        }
}
