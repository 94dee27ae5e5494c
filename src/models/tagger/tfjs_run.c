/* Running one prepared node: the kernel call with the parameters shape
 * inference worked out. Runtime failures (an index out of range, an integer
 * division by zero) name the node. */
#include <stdio.h>
#include <string.h>

#include "models/tagger/tfjs_internal.h"

#define FAIL(code, ...)                                                          \
    do {                                                                         \
        char detail_[512];                                                       \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);                          \
        return cs_error_set(err, code, "node '%s' (%s): %s", node->name,         \
                            node->op_name, detail_);                             \
    } while (0)

static size_t value_bytes(const tfjs_value *v)
{
    return (size_t)tfjs_shape_elements(&v->shape) * tfjs_dtype_size(v->dtype);
}

static cs_status run_sparse_to_dense(const tfjs_node *node, const tfjs_value *const *in,
                                     tfjs_value *out, cs_error *err)
{
    size_t esz = tfjs_dtype_size(out->dtype);
    int64_t total = tfjs_shape_elements(&out->shape);
    char *dst = out->data;
    for (int64_t i = 0; i < total; i++)
        memcpy(dst + (size_t)i * esz, in[3]->data, esz);
    const tfjs_shape *is = &in[0]->shape;
    int64_t n = is->rank == 0 ? 1 : is->dims[0];
    int rank = out->shape.rank;
    const int32_t *idx = in[0]->data;
    bool scalar_values = in[2]->shape.rank == 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int d = 0; d < rank; d++) {
            int64_t k = idx[i * rank + d];
            if (k < 0 || k >= out->shape.dims[d])
                FAIL(CS_ERR_CORRUPT, "sparse index %lld is out of range for axis %d",
                     (long long)k, d);
            off = off * out->shape.dims[d] + k;
        }
        memcpy(dst + (size_t)off * esz,
               (const char *)in[2]->data + (scalar_values ? 0 : (size_t)i * esz), esz);
    }
    return CS_OK;
}

cs_status tfjs_op_run(const tfjs_node *node, const tfjs_step *step, const tfjs_value *const *in,
                      tfjs_value *out, void *scratch, cs_error *err)
{
    const tfjs_attrs *a = &node->at;
    switch (node->op) {
    case TFJS_OP_CONST:
    case TFJS_OP_PLACEHOLDER:
    case TFJS_OP_NOOP:
        break;
    case TFJS_OP_IDENTITY:
    case TFJS_OP_RESHAPE:
    case TFJS_OP_EXPAND_DIMS:
    case TFJS_OP_SQUEEZE:
        if (out->data != in[0]->data)
            memcpy(out->data, in[0]->data, value_bytes(out));
        break;
    case TFJS_OP_CONV2D:
        nn_conv2d(&step->p.conv.c, in[0]->data, in[1]->data, a->has_bias ? in[2]->data : NULL,
                  out->data, scratch);
        break;
    case TFJS_OP_DEPTHWISE:
        nn_depthwise_conv2d(&step->p.conv.c, step->p.conv.multiplier, in[0]->data, in[1]->data,
                            a->has_bias ? in[2]->data : NULL, out->data);
        break;
    case TFJS_OP_MATMUL:
        nn_matmul(step->p.mm.m, step->p.mm.n, step->p.mm.k, in[0]->data, a->transpose_a,
                  in[1]->data, a->transpose_b, a->has_bias ? in[2]->data : NULL, a->act,
                  out->data);
        break;
    case TFJS_OP_BIAS_ADD:
    case TFJS_OP_BINARY: {
        nn_binary_op op = node->op == TFJS_OP_BIAS_ADD ? NN_BIN_ADD : a->binop;
        if (!nn_binary(op, tfjs_nn_dtype(in[0]->dtype), in[0]->data, step->p.bin.a,
                       in[1]->data, step->p.bin.b, step->p.bin.rank, out->data))
            FAIL(CS_ERR_INVALID, "integer division by zero");
        break;
    }
    case TFJS_OP_UNARY:
        if (a->unary == TFJS_UNARY_EXP)
            nn_exp(in[0]->data, out->data, (size_t)tfjs_shape_elements(&out->shape));
        else
            nn_activate(in[0]->data, out->data, (size_t)tfjs_shape_elements(&out->shape), a->act);
        break;
    case TFJS_OP_SOFTMAX:
        nn_softmax(in[0]->data, out->data, step->p.rows.rows, step->p.rows.cols);
        break;
    case TFJS_OP_MEAN:
        nn_mean(in[0]->data, step->p.mean.dims, step->p.mean.rank, step->p.mean.reduce,
                out->data);
        break;
    case TFJS_OP_MAX_POOL:
        nn_max_pool2d(&step->p.pool, in[0]->data, out->data);
        break;
    case TFJS_OP_AVG_POOL:
        nn_avg_pool2d(&step->p.pool, in[0]->data, out->data);
        break;
    case TFJS_OP_RESIZE_BILINEAR: {
        const int64_t *x = in[0]->shape.dims;
        nn_resize_bilinear(in[0]->data, x[0], x[1], x[2], x[3], out->shape.dims[1],
                           out->shape.dims[2], a->align_corners, a->half_pixel_centers,
                           out->data);
        break;
    }
    case TFJS_OP_CONCAT: {
        const void *ptrs[TFJS_MAX_INPUTS];
        int64_t sizes[TFJS_MAX_INPUTS];
        int count = node->n_in - 1;
        int64_t outer = step->p.axis.outer, inner = step->p.axis.inner;
        for (int i = 0; i < count; i++) {
            ptrs[i] = in[i]->data;
            int64_t n = tfjs_shape_elements(&in[i]->shape);
            sizes[i] = outer * inner != 0 ? n / (outer * inner) : 0;
        }
        nn_concat(count, ptrs, sizes, outer, inner, tfjs_dtype_size(out->dtype), out->data);
        break;
    }
    case TFJS_OP_PAD:
        nn_pad(in[0]->data, step->p.pad.dims, step->p.pad.rank, step->p.pad.before,
               step->p.pad.after, tfjs_dtype_size(out->dtype), &step->p.pad.fill, out->data);
        break;
    case TFJS_OP_TRANSPOSE:
        nn_transpose(in[0]->data, step->p.tr.dims, step->p.tr.rank, step->p.tr.perm,
                     tfjs_dtype_size(out->dtype), out->data);
        break;
    case TFJS_OP_SPLIT_V: {
        void *outs[TFJS_MAX_INPUTS];
        int64_t sizes[TFJS_MAX_INPUTS];
        int64_t outer = step->p.axis.outer, inner = step->p.axis.inner;
        for (int i = 0; i < node->n_out; i++) {
            outs[i] = out[i].data;
            int64_t n = tfjs_shape_elements(&out[i].shape);
            sizes[i] = outer * inner != 0 ? n / (outer * inner) : 0;
        }
        nn_split(in[0]->data, node->n_out, sizes, outer, inner, tfjs_dtype_size(out->dtype),
                 outs);
        break;
    }
    case TFJS_OP_SPARSE_TO_DENSE:
        return run_sparse_to_dense(node, in, out, err);
    case TFJS_OP_CAST:
        nn_cast(in[0]->data, tfjs_nn_dtype(in[0]->dtype), out->data, tfjs_nn_dtype(out->dtype),
                (size_t)tfjs_shape_elements(&out->shape));
        break;
    case TFJS_OP_STRIDED_SLICE:
        nn_strided_slice(&step->p.slice, in[0]->data, tfjs_dtype_size(out->dtype), out->data);
        break;
    case TFJS_OP_TOPK:
        nn_topk(in[0]->data, step->p.topk.rows, step->p.topk.cols, step->p.topk.k, out[0].data,
                out[1].data, scratch);
        break;
    case TFJS_OP_GATHER: {
        int64_t bad = nn_gather(in[0]->data, step->p.gather.outer, step->p.gather.axis_dim,
                                step->p.gather.inner, tfjs_dtype_size(out->dtype), in[1]->data,
                                step->p.gather.n, out->data);
        if (bad >= 0)
            FAIL(CS_ERR_CORRUPT, "index %d at position %lld is outside 0..%lld",
                 ((const int32_t *)in[1]->data)[bad], (long long)bad,
                 (long long)step->p.gather.axis_dim - 1);
        break;
    }
    }
    return CS_OK;
}
