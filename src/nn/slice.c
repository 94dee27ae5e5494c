/* StridedSlice: the begin/end/strides "sparse spec" and its five masks are
 * resolved into a start, step and count per input axis, following
 * tensorflow/core/util/strided_slice_op.cc (ellipsis expansion, new axes,
 * shrunk axes, negative indices and clamping). The copy is then a plain
 * strided walk: new and shrunk axes do not change the element order. */
#include <string.h>

#include "nn/nn_internal.h"

#define NEW_AXIS (-1)
#define SHRINK_AXIS (-2)

const char *nn_strided_slice_plan(const int64_t *in_dims, int rank, const int64_t *begin,
                                  const int64_t *end, const int64_t *strides, int n,
                                  int64_t begin_mask, int64_t end_mask, int64_t ellipsis_mask,
                                  int64_t new_axis_mask, int64_t shrink_axis_mask,
                                  nn_slice *plan)
{
    if (rank < 0 || rank > NN_MAX_RANK || n < 0 || n > 32)
        return "too many dimensions";
    memset(plan, 0, sizeof *plan);
    plan->in_rank = rank;
    memcpy(plan->in_dims, in_dims, (size_t)rank * sizeof *in_dims);

    /* Sparse spec -> dense spec (one entry per input axis). */
    bool has_ellipsis = false;
    int new_after_ellipsis = 0;
    for (int i = 0; i < n; i++) {
        if ((ellipsis_mask >> i) & 1) {
            if (has_ellipsis)
                return "more than one ellipsis";
            has_ellipsis = true;
        } else if (((new_axis_mask >> i) & 1) && has_ellipsis) {
            new_after_ellipsis++;
        }
    }
    int sparse_n = n;
    int64_t sparse_ellipsis = ellipsis_mask;
    if (!has_ellipsis) {   /* an implicit ellipsis at the end */
        sparse_ellipsis |= (int64_t)1 << n;
        sparse_n = n + 1;
    }
    int64_t d_begin[NN_MAX_RANK], d_end[NN_MAX_RANK], d_stride[NN_MAX_RANK];
    bool d_bmask[NN_MAX_RANK], d_emask[NN_MAX_RANK], d_shrink[NN_MAX_RANK];
    int gather[NN_MAX_RANK + 32];
    int n_gather = 0;
    int full = 0;
    for (int i = 0; i < sparse_n; i++) {
        if ((sparse_ellipsis >> i) & 1) {
            int next = rank - (sparse_n - i) + 1 + new_after_ellipsis;
            if (next > rank)
                next = rank;
            for (; full < next; full++) {
                d_begin[full] = d_end[full] = 0;
                d_stride[full] = 1;
                d_bmask[full] = d_emask[full] = true;
                d_shrink[full] = false;
                gather[n_gather++] = full;
            }
        } else if ((new_axis_mask >> i) & 1) {
            if (n_gather >= NN_MAX_RANK + 32)
                return "too many dimensions";
            gather[n_gather++] = NEW_AXIS;
        } else {
            if (full >= rank)
                return "more slice indices than input dimensions";
            d_begin[full] = begin[i];
            d_end[full] = end[i];
            d_stride[full] = strides[i];
            d_bmask[full] = (begin_mask >> i) & 1;
            d_emask[full] = (end_mask >> i) & 1;
            d_shrink[full] = (shrink_axis_mask >> i) & 1;
            gather[n_gather++] = d_shrink[full] ? SHRINK_AXIS : full;
            full++;
        }
    }
    /* Each dense axis: canonical begin/end, then the count. */
    for (int i = 0; i < rank; i++) {
        int64_t dim = in_dims[i], stride = d_stride[i];
        if (stride == 0)
            return "a stride is 0";
        int64_t b, count;
        if (d_shrink[i]) {
            if (stride <= 0)
                return "a shrunk axis needs a positive stride";
            b = d_begin[i] < 0 ? dim + d_begin[i] : d_begin[i];
            if (b < 0 || b >= dim)
                return "a slice index is out of bounds";
            count = 1;
        } else {
            int64_t lo = stride > 0 ? 0 : -1, hi = stride > 0 ? dim : dim - 1;
            int64_t e;
            if (d_bmask[i]) {
                b = stride > 0 ? lo : hi;
            } else {
                b = d_begin[i] < 0 ? dim + d_begin[i] : d_begin[i];
                b = b < lo ? lo : b > hi ? hi : b;
            }
            if (d_emask[i]) {
                e = stride > 0 ? hi : lo;
            } else {
                e = d_end[i] < 0 ? dim + d_end[i] : d_end[i];
                e = e < lo ? lo : e > hi ? hi : e;
            }
            int64_t len = e - b;
            if (len == 0 || ((len < 0) != (stride < 0)))
                count = 0;
            else
                count = len / stride + (len % stride != 0);
        }
        plan->start[i] = count > 0 ? b : 0;
        plan->step[i] = stride;
        plan->count[i] = count;
    }
    plan->out_rank = 0;
    for (int g = 0; g < n_gather; g++) {
        if (gather[g] == SHRINK_AXIS)
            continue;
        if (plan->out_rank >= NN_MAX_RANK)
            return "too many dimensions";
        plan->out_dims[plan->out_rank++] = gather[g] == NEW_AXIS ? 1 : plan->count[gather[g]];
    }
    return NULL;
}

void nn_strided_slice(const nn_slice *p, const void *in, size_t elem_size, void *out)
{
    int rank = p->in_rank;
    int64_t total = nn_prod(p->count, 0, rank);
    if (total == 0)
        return;
    if (rank == 0) {
        memcpy(out, in, elem_size);
        return;
    }
    int64_t strides[NN_MAX_RANK];
    int64_t s = 1;
    for (int d = rank - 1; d >= 0; d--) {
        strides[d] = s;
        s *= p->in_dims[d];
    }
    int64_t off = 0;
    for (int d = 0; d < rank; d++)
        off += p->start[d] * strides[d];
    int64_t idx[NN_MAX_RANK] = {0};
    int64_t inner = p->count[rank - 1], istep = p->step[rank - 1] * strides[rank - 1];
    int64_t outer = total / inner;
    char *dst = out;
    const char *src = in;
    for (int64_t o = 0; o < outer; o++) {
        if (istep == 1) {
            memcpy(dst, src + (size_t)off * elem_size, (size_t)inner * elem_size);
        } else {
            for (int64_t i = 0; i < inner; i++)
                memcpy(dst + (size_t)i * elem_size, src + (size_t)(off + i * istep) * elem_size,
                       elem_size);
        }
        dst += (size_t)inner * elem_size;
        for (int d = rank - 2; d >= 0; d--) {
            off += p->step[d] * strides[d];
            if (++idx[d] < p->count[d])
                break;
            off -= p->step[d] * strides[d] * p->count[d];
            idx[d] = 0;
        }
    }
}
