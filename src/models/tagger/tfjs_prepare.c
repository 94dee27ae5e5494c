/* Shape inference: from a node's input dtypes and shapes (and the values of
 * inputs that must be constant: axes, shapes, sizes, paddings, k, ...) to
 * its outputs' dtypes and shapes, with TensorFlow's rules and checks, and the
 * parameters its kernel needs. Every refusal names the node. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "models/tagger/tfjs_internal.h"

#define FAIL(code, ...)                                                          \
    do {                                                                         \
        char detail_[600];                                                       \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);                          \
        return cs_error_set(err, code, "node '%s' (%s): %s", node->name,         \
                            node->op_name, detail_);                             \
    } while (0)

/* SHAPE(k, s): shape s printed into scratch buffer k (0-3) of SHAPE_BUFS. */
#define SHAPE(k, s) tfjs_shape_str((s), shape_buf_[k], sizeof shape_buf_[0])
#define SHAPE_BUFS                                                               \
    char shape_buf_[4][96];                                                      \
    (void)shape_buf_

/* Reads input `i` as integers; it must be a constant of rank <= max_rank. */
static cs_status const_ints_r(const tfjs_node *node, const tfjs_value *const *in, int i,
                              int64_t *out, int max, int *count, int max_rank, cs_error *err)
{
    const tfjs_value *v = in[i];
    if (!v->data)
        FAIL(CS_ERR_UNSUPPORTED, "input %d must be a constant (shapes are planned ahead)", i);
    if (v->dtype != TFJS_INT32)
        FAIL(CS_ERR_CORRUPT, "input %d must be int32, not %s", i, tfjs_dtype_name(v->dtype));
    if (v->shape.rank > max_rank)
        FAIL(CS_ERR_CORRUPT, "input %d must be %s", i,
             max_rank == 1 ? "a scalar or a list" : "a matrix");
    int64_t n = tfjs_shape_elements(&v->shape);
    if (n > max)
        FAIL(CS_ERR_CORRUPT, "input %d has %lld values, at most %d expected", i, (long long)n,
             max);
    for (int64_t k = 0; k < n; k++)
        out[k] = ((const int32_t *)v->data)[k];
    *count = (int)n;
    return CS_OK;
}

static cs_status const_ints(const tfjs_node *node, const tfjs_value *const *in, int i,
                            int64_t *out, int max, int *count, cs_error *err)
{
    return const_ints_r(node, in, i, out, max, count, 1, err);
}

static cs_status const_scalar(const tfjs_node *node, const tfjs_value *const *in, int i,
                              int64_t *out, cs_error *err)
{
    int n;
    cs_status rc = const_ints(node, in, i, out, 1, &n, err);
    if (rc == CS_OK && n != 1)
        FAIL(CS_ERR_CORRUPT, "input %d must hold one value", i);
    return rc;
}

static cs_status want_float(const tfjs_node *node, const tfjs_value *const *in, int i,
                            cs_error *err)
{
    if (in[i]->dtype != TFJS_FLOAT32)
        FAIL(CS_ERR_UNSUPPORTED, "input %d is %s; this op runs on float32", i,
             tfjs_dtype_name(in[i]->dtype));
    return CS_OK;
}

static cs_status want_rank(const tfjs_node *node, const tfjs_value *const *in, int i, int rank,
                           cs_error *err)
{
    SHAPE_BUFS;
    if (in[i]->shape.rank != rank)
        FAIL(CS_ERR_CORRUPT, "input %d has shape %s; rank %d expected", i, SHAPE(0, &in[i]->shape),
             rank);
    return CS_OK;
}

/* A possibly negative axis of a rank-r tensor, into 0..r-1. */
static cs_status axis_of(const tfjs_node *node, int64_t axis, int rank, int *out, cs_error *err)
{
    if (axis < -rank || axis >= rank)
        FAIL(CS_ERR_CORRUPT, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return CS_OK;
}

static cs_status prepare_conv(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                              tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    const tfjs_attrs *a = &node->at;
    bool depthwise = node->op == TFJS_OP_DEPTHWISE;
    cs_status rc = CS_OK;
    for (int i = 0; i < node->n_in && rc == CS_OK; i++)
        rc = want_float(node, in, i, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 0, 4, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 1, 4, err);
    if (rc != CS_OK)
        return rc;
    const int64_t *x = in[0]->shape.dims, *w = in[1]->shape.dims;
    if (w[2] != x[3])
        FAIL(CS_ERR_CORRUPT, "filter %s does not match input %s (input channels %lld vs %lld)",
             SHAPE(0, &in[1]->shape), SHAPE(1, &in[0]->shape), (long long)w[2], (long long)x[3]);
    if (w[0] < 1 || w[1] < 1 || w[0] > 1 << 16 || w[1] > 1 << 16 || w[3] < 1 || w[2] < 1)
        FAIL(CS_ERR_CORRUPT, "filter shape %s is not usable", SHAPE(0, &in[1]->shape));
    int64_t oc = depthwise ? x[3] * w[3] : w[3];
    if (a->has_bias && (in[2]->shape.rank != 1 || in[2]->shape.dims[0] != oc))
        FAIL(CS_ERR_CORRUPT, "bias %s does not match %lld output channels",
             SHAPE(0, &in[2]->shape), (long long)oc);
    int64_t oh, ow, pt, pl;
    if (!nn_window(x[1], w[0], a->strides[1], a->dilations[1], a->padding, a->explicit_pads[2],
                   a->explicit_pads[3], &oh, &pt) ||
        !nn_window(x[2], w[1], a->strides[2], a->dilations[2], a->padding, a->explicit_pads[4],
                   a->explicit_pads[5], &ow, &pl))
        FAIL(CS_ERR_CORRUPT, "a %lldx%lld window does not fit input %s", (long long)w[0],
             (long long)w[1], SHAPE(0, &in[0]->shape));
    nn_conv_params *c = &step->p.conv.c;
    *c = (nn_conv_params){
        .batch = x[0], .in_h = x[1], .in_w = x[2], .in_c = x[3],
        .out_h = oh, .out_w = ow, .out_c = oc,
        .k_h = (int)w[0], .k_w = (int)w[1],
        .stride_h = a->strides[1], .stride_w = a->strides[2],
        .dil_h = a->dilations[1], .dil_w = a->dilations[2],
        .pad_top = (int)pt, .pad_left = (int)pl, .act = a->act,
    };
    step->p.conv.multiplier = (int)w[3];
    if (!depthwise) {
        if (w[0] * w[1] * w[2] > INT_MAX || oh * ow > INT_MAX)
            FAIL(CS_ERR_TOO_LARGE, "the convolution is too large for one GEMM");
        step->scratch_bytes = nn_conv2d_scratch_floats(c) * sizeof(float);
    }
    out->dtype = TFJS_FLOAT32;
    out->shape = (tfjs_shape){4, {x[0], oh, ow, oc}};
    return CS_OK;
}

static cs_status prepare_matmul(const tfjs_node *node, const tfjs_value *const *in,
                                tfjs_value *out, tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    const tfjs_attrs *a = &node->at;
    cs_status rc = CS_OK;
    for (int i = 0; i < node->n_in && rc == CS_OK; i++)
        rc = want_float(node, in, i, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 0, 2, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 1, 2, err);
    if (rc != CS_OK)
        return rc;
    const int64_t *x = in[0]->shape.dims, *y = in[1]->shape.dims;
    int64_t m = a->transpose_a ? x[1] : x[0], k = a->transpose_a ? x[0] : x[1];
    int64_t k2 = a->transpose_b ? y[1] : y[0], n = a->transpose_b ? y[0] : y[1];
    if (k != k2)
        FAIL(CS_ERR_CORRUPT, "cannot multiply %s by %s", SHAPE(0, &in[0]->shape),
             SHAPE(1, &in[1]->shape));
    if (a->has_bias && (in[2]->shape.rank != 1 || in[2]->shape.dims[0] != n))
        FAIL(CS_ERR_CORRUPT, "bias %s does not match %lld columns", SHAPE(0, &in[2]->shape),
             (long long)n);
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        FAIL(CS_ERR_TOO_LARGE, "the matrices are too large");
    step->p.mm.m = m;
    step->p.mm.n = n;
    step->p.mm.k = k;
    out->dtype = TFJS_FLOAT32;
    out->shape = (tfjs_shape){2, {m, n}};
    return CS_OK;
}

/* Left-pads both shapes to one rank and broadcasts them. */
static cs_status prepare_broadcast(const tfjs_node *node, const tfjs_shape *sa,
                                   const tfjs_shape *sb, tfjs_step *step, tfjs_shape *out,
                                   cs_error *err)
{
    SHAPE_BUFS;
    int r = sa->rank > sb->rank ? sa->rank : sb->rank;
    step->p.bin.rank = r;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - sa->rank), ib = i - (r - sb->rank);
        step->p.bin.a[i] = ia >= 0 ? sa->dims[ia] : 1;
        step->p.bin.b[i] = ib >= 0 ? sb->dims[ib] : 1;
    }
    out->rank = r;
    if (!nn_broadcast_dims(step->p.bin.a, step->p.bin.b, r, out->dims))
        FAIL(CS_ERR_CORRUPT, "shapes %s and %s do not broadcast", SHAPE(0, sa), SHAPE(1, sb));
    return CS_OK;
}

static cs_status prepare_binary(const tfjs_node *node, const tfjs_value *const *in,
                                tfjs_value *out, tfjs_step *step, cs_error *err)
{
    if (in[0]->dtype != in[1]->dtype)
        FAIL(CS_ERR_CORRUPT, "inputs are %s and %s", tfjs_dtype_name(in[0]->dtype),
             tfjs_dtype_name(in[1]->dtype));
    if (in[0]->dtype == TFJS_BOOL)
        FAIL(CS_ERR_UNSUPPORTED, "bool inputs");
    if (node->op == TFJS_OP_BIAS_ADD) {
        if (in[0]->dtype != TFJS_FLOAT32 || in[1]->shape.rank != 1 || in[0]->shape.rank < 1 ||
            in[0]->shape.dims[in[0]->shape.rank - 1] != in[1]->shape.dims[0])
            FAIL(CS_ERR_CORRUPT, "the bias must be float32 and as long as the last axis");
    }
    out->dtype = node->at.binop == NN_BIN_EQUAL && node->op == TFJS_OP_BINARY ? TFJS_BOOL
                                                                               : in[0]->dtype;
    return prepare_broadcast(node, &in[0]->shape, &in[1]->shape, step, &out->shape, err);
}

static cs_status prepare_mean(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                              tfjs_step *step, cs_error *err)
{
    cs_status rc = want_float(node, in, 0, err);
    int64_t axes[TFJS_MAX_RANK * 2];
    int n = 0;
    if (rc == CS_OK)
        rc = const_ints(node, in, 1, axes, TFJS_MAX_RANK * 2, &n, err);
    if (rc != CS_OK)
        return rc;
    int rank = in[0]->shape.rank;
    step->p.mean.rank = rank;
    memcpy(step->p.mean.dims, in[0]->shape.dims, sizeof step->p.mean.dims);
    memset(step->p.mean.reduce, 0, sizeof step->p.mean.reduce);
    for (int i = 0; i < n; i++) {
        int ax = 0;
        if ((rc = axis_of(node, axes[i], rank, &ax, err)) != CS_OK)
            return rc;
        step->p.mean.reduce[ax] = true;
    }
    out->dtype = TFJS_FLOAT32;
    out->shape.rank = 0;
    for (int i = 0; i < rank; i++) {
        if (step->p.mean.reduce[i] && in[0]->shape.dims[i] == 0)
            FAIL(CS_ERR_CORRUPT, "the mean of an empty axis");
        if (!step->p.mean.reduce[i])
            out->shape.dims[out->shape.rank++] = in[0]->shape.dims[i];
        else if (node->at.keep_dims)
            out->shape.dims[out->shape.rank++] = 1;
    }
    return CS_OK;
}

static cs_status prepare_pool(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                              tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    const tfjs_attrs *a = &node->at;
    cs_status rc = want_float(node, in, 0, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 0, 4, err);
    if (rc != CS_OK)
        return rc;
    const int64_t *x = in[0]->shape.dims;
    int64_t oh, ow, pt, pl;
    if (!nn_window(x[1], a->ksize[1], a->strides[1], 1, a->padding, a->explicit_pads[2],
                   a->explicit_pads[3], &oh, &pt) ||
        !nn_window(x[2], a->ksize[2], a->strides[2], 1, a->padding, a->explicit_pads[4],
                   a->explicit_pads[5], &ow, &pl))
        FAIL(CS_ERR_CORRUPT, "a %dx%d window does not fit input %s", a->ksize[1], a->ksize[2],
             SHAPE(0, &in[0]->shape));
    step->p.pool = (nn_pool_params){
        .batch = x[0], .in_h = x[1], .in_w = x[2], .c = x[3], .out_h = oh, .out_w = ow,
        .k_h = a->ksize[1], .k_w = a->ksize[2], .stride_h = a->strides[1],
        .stride_w = a->strides[2], .pad_top = (int)pt, .pad_left = (int)pl,
    };
    out->dtype = TFJS_FLOAT32;
    out->shape = (tfjs_shape){4, {x[0], oh, ow, x[3]}};
    return CS_OK;
}

static cs_status prepare_resize(const tfjs_node *node, const tfjs_value *const *in,
                                tfjs_value *out, cs_error *err)
{
    cs_status rc = want_float(node, in, 0, err);
    if (rc == CS_OK)
        rc = want_rank(node, in, 0, 4, err);
    int64_t size[2];
    int n = 0;
    if (rc == CS_OK)
        rc = const_ints(node, in, 1, size, 2, &n, err);
    if (rc != CS_OK)
        return rc;
    if (n != 2 || size[0] < 1 || size[1] < 1 || size[0] > TFJS_MAX_ELEMENTS ||
        size[1] > TFJS_MAX_ELEMENTS)
        FAIL(CS_ERR_CORRUPT, "size must be two positive numbers");
    const int64_t *x = in[0]->shape.dims;
    if (x[1] < 1 || x[2] < 1)
        FAIL(CS_ERR_CORRUPT, "the input image is empty");
    out->dtype = TFJS_FLOAT32;
    out->shape = (tfjs_shape){4, {x[0], size[0], size[1], x[3]}};
    return CS_OK;
}

static cs_status prepare_concat(const tfjs_node *node, const tfjs_value *const *in,
                                tfjs_value *out, tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    int count = node->n_in - 1;
    int64_t axis64;
    cs_status rc = const_scalar(node, in, count, &axis64, err);
    if (rc != CS_OK)
        return rc;
    const tfjs_shape *s0 = &in[0]->shape;
    int axis = 0;
    if (s0->rank == 0)
        FAIL(CS_ERR_CORRUPT, "cannot concatenate scalars");
    if ((rc = axis_of(node, axis64, s0->rank, &axis, err)) != CS_OK)
        return rc;
    out->dtype = in[0]->dtype;
    out->shape = *s0;
    out->shape.dims[axis] = 0;
    for (int i = 0; i < count; i++) {
        const tfjs_shape *s = &in[i]->shape;
        bool ok = s->rank == s0->rank && in[i]->dtype == in[0]->dtype;
        for (int d = 0; ok && d < s->rank; d++)
            ok = d == axis || s->dims[d] == s0->dims[d];
        if (!ok)
            FAIL(CS_ERR_CORRUPT, "input %d (%s %s) does not match input 0 (%s %s) on axis %d",
                 i, tfjs_dtype_name(in[i]->dtype), SHAPE(0, s), tfjs_dtype_name(in[0]->dtype),
                 SHAPE(1, s0), axis);
        out->shape.dims[axis] += s->dims[axis];
    }
    step->p.axis.outer = 1;
    for (int d = 0; d < axis; d++)
        step->p.axis.outer *= s0->dims[d];
    step->p.axis.inner = 1;
    for (int d = axis + 1; d < s0->rank; d++)
        step->p.axis.inner *= s0->dims[d];
    return CS_OK;
}

static cs_status prepare_pad(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                             tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    int rank = in[0]->shape.rank;
    int64_t pads[TFJS_MAX_RANK * 2];
    int n = 0;
    cs_status rc = const_ints_r(node, in, 1, pads, TFJS_MAX_RANK * 2, &n, 2, err);
    if (rc != CS_OK)
        return rc;
    if (in[1]->shape.rank != 2 || in[1]->shape.dims[0] != rank || in[1]->shape.dims[1] != 2)
        FAIL(CS_ERR_CORRUPT, "paddings %s must be [%d,2] for input %s", SHAPE(0, &in[1]->shape),
             rank, SHAPE(1, &in[0]->shape));
    step->p.pad.rank = rank;
    out->dtype = in[0]->dtype;
    out->shape.rank = rank;
    for (int d = 0; d < rank; d++) {
        int64_t b = pads[2 * d], e = pads[2 * d + 1];
        if (b < 0 || e < 0 || b > TFJS_MAX_ELEMENTS || e > TFJS_MAX_ELEMENTS)
            FAIL(CS_ERR_CORRUPT, "paddings must be between 0 and %lld",
                 (long long)TFJS_MAX_ELEMENTS);
        step->p.pad.dims[d] = in[0]->shape.dims[d];
        step->p.pad.before[d] = b;
        step->p.pad.after[d] = e;
        out->shape.dims[d] = in[0]->shape.dims[d] + b + e;
    }
    step->p.pad.fill = 0;
    if (node->n_in == 3) {
        const tfjs_value *f = in[2];
        if (!f->data || f->dtype != in[0]->dtype || tfjs_shape_elements(&f->shape) != 1)
            FAIL(CS_ERR_CORRUPT, "constant_values must be a constant scalar of the input's type");
        memcpy(&step->p.pad.fill, f->data, tfjs_dtype_size(f->dtype));
    }
    return CS_OK;
}

static cs_status prepare_transpose(const tfjs_node *node, const tfjs_value *const *in,
                                   tfjs_value *out, tfjs_step *step, cs_error *err)
{
    int rank = in[0]->shape.rank;
    int64_t perm[TFJS_MAX_RANK];
    int n = 0;
    cs_status rc = const_ints(node, in, 1, perm, TFJS_MAX_RANK, &n, err);
    if (rc != CS_OK)
        return rc;
    if (n != rank)
        FAIL(CS_ERR_CORRUPT, "perm has %d entries for rank %d", n, rank);
    bool seen[TFJS_MAX_RANK] = {false};
    step->p.tr.rank = rank;
    out->dtype = in[0]->dtype;
    out->shape.rank = rank;
    for (int i = 0; i < rank; i++) {
        int ax = 0;
        if ((rc = axis_of(node, perm[i], rank, &ax, err)) != CS_OK)
            return rc;
        if (seen[ax])
            FAIL(CS_ERR_CORRUPT, "perm is not a permutation");
        seen[ax] = true;
        step->p.tr.perm[i] = ax;
        step->p.tr.dims[i] = in[0]->shape.dims[i];
        out->shape.dims[i] = in[0]->shape.dims[ax];
    }
    return CS_OK;
}

static cs_status prepare_reshape(const tfjs_node *node, const tfjs_value *const *in,
                                 tfjs_value *out, cs_error *err)
{
    SHAPE_BUFS;
    int64_t dims[TFJS_MAX_RANK];
    int n = 0;
    cs_status rc = const_ints(node, in, 1, dims, TFJS_MAX_RANK, &n, err);
    if (rc != CS_OK)
        return rc;
    int64_t total = tfjs_shape_elements(&in[0]->shape), known = 1;
    int free_at = -1;
    for (int i = 0; i < n; i++) {
        if (dims[i] == -1) {
            if (free_at >= 0)
                FAIL(CS_ERR_CORRUPT, "the shape has more than one -1");
            free_at = i;
        } else if (dims[i] < 0 || dims[i] > TFJS_MAX_ELEMENTS) {
            FAIL(CS_ERR_CORRUPT, "the shape holds %lld", (long long)dims[i]);
        } else {
            known *= dims[i];
            if (known > TFJS_MAX_ELEMENTS)
                FAIL(CS_ERR_TOO_LARGE, "the shape is too large");
        }
    }
    if (free_at >= 0) {
        if (known == 0 || total % known != 0)
            FAIL(CS_ERR_CORRUPT, "cannot reshape %s (%lld elements) with a -1",
                 SHAPE(0, &in[0]->shape), (long long)total);
        dims[free_at] = total / known;
        known = total;
    }
    out->dtype = in[0]->dtype;
    out->shape.rank = n;
    memcpy(out->shape.dims, dims, (size_t)n * sizeof dims[0]);
    if (known != total)
        FAIL(CS_ERR_CORRUPT, "cannot reshape %s (%lld elements) to %s", SHAPE(0, &in[0]->shape),
             (long long)total, SHAPE(1, &out->shape));
    return CS_OK;
}

static cs_status prepare_expand_dims(const tfjs_node *node, const tfjs_value *const *in,
                                     tfjs_value *out, cs_error *err)
{
    int64_t axis64;
    cs_status rc = const_scalar(node, in, 1, &axis64, err);
    if (rc != CS_OK)
        return rc;
    int rank = in[0]->shape.rank, axis = 0;
    if (rank >= TFJS_MAX_RANK)
        FAIL(CS_ERR_UNSUPPORTED, "more than %d dimensions", TFJS_MAX_RANK);
    if ((rc = axis_of(node, axis64, rank + 1, &axis, err)) != CS_OK)
        return rc;
    out->dtype = in[0]->dtype;
    out->shape.rank = rank + 1;
    for (int i = 0, j = 0; i <= rank; i++)
        out->shape.dims[i] = i == axis ? 1 : in[0]->shape.dims[j++];
    return CS_OK;
}

static cs_status prepare_squeeze(const tfjs_node *node, const tfjs_value *const *in,
                                 tfjs_value *out, cs_error *err)
{
    const tfjs_shape *s = &in[0]->shape;
    bool drop[TFJS_MAX_RANK] = {false};
    for (int i = 0; i < node->at.n_squeeze_dims; i++) {
        int ax = 0;
        cs_status rc = axis_of(node, node->at.squeeze_dims[i], s->rank, &ax, err);
        if (rc != CS_OK)
            return rc;
        if (s->dims[ax] != 1)
            FAIL(CS_ERR_CORRUPT, "cannot squeeze axis %d of size %lld", ax,
                 (long long)s->dims[ax]);
        drop[ax] = true;
    }
    out->dtype = in[0]->dtype;
    out->shape.rank = 0;
    for (int i = 0; i < s->rank; i++) {
        bool d = node->at.n_squeeze_dims ? drop[i] : s->dims[i] == 1;
        if (!d)
            out->shape.dims[out->shape.rank++] = s->dims[i];
    }
    return CS_OK;
}

static cs_status prepare_split(const tfjs_node *node, const tfjs_value *const *in,
                               tfjs_value *out, tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    const tfjs_shape *s = &in[0]->shape;
    int count = node->at.num_split;
    int64_t sizes[TFJS_MAX_INPUTS];
    int n = 0;
    int64_t axis64;
    cs_status rc = const_ints(node, in, 1, sizes, TFJS_MAX_INPUTS, &n, err);
    if (rc == CS_OK)
        rc = const_scalar(node, in, 2, &axis64, err);
    int axis = 0;
    if (rc == CS_OK)
        rc = axis_of(node, axis64, s->rank, &axis, err);
    if (rc != CS_OK)
        return rc;
    if (n != count)
        FAIL(CS_ERR_CORRUPT, "%d size_splits for num_split %d", n, count);
    int64_t known = 0;
    int free_at = -1;
    for (int i = 0; i < n; i++) {
        if (sizes[i] == -1 && free_at < 0)
            free_at = i;
        else if (sizes[i] < 0)
            FAIL(CS_ERR_CORRUPT, "bad size_splits");
        else
            known += sizes[i];
    }
    if (free_at >= 0) {
        if (known > s->dims[axis])
            FAIL(CS_ERR_CORRUPT, "size_splits add up to more than %lld", (long long)s->dims[axis]);
        sizes[free_at] = s->dims[axis] - known;
        known = s->dims[axis];
    }
    if (known != s->dims[axis])
        FAIL(CS_ERR_CORRUPT, "size_splits add up to %lld, not %lld (input %s, axis %d)",
             (long long)known, (long long)s->dims[axis], SHAPE(0, s), axis);
    for (int i = 0; i < count; i++) {
        out[i].dtype = in[0]->dtype;
        out[i].shape = *s;
        out[i].shape.dims[axis] = sizes[i];
    }
    step->p.axis.outer = 1;
    for (int d = 0; d < axis; d++)
        step->p.axis.outer *= s->dims[d];
    step->p.axis.inner = 1;
    for (int d = axis + 1; d < s->rank; d++)
        step->p.axis.inner *= s->dims[d];
    return CS_OK;
}

static cs_status prepare_sparse_to_dense(const tfjs_node *node, const tfjs_value *const *in,
                                         tfjs_value *out, cs_error *err)
{
    SHAPE_BUFS;
    int64_t dims[TFJS_MAX_RANK];
    int rank = 0;
    cs_status rc = const_ints(node, in, 1, dims, TFJS_MAX_RANK, &rank, err);
    if (rc != CS_OK)
        return rc;
    const tfjs_shape *idx = &in[0]->shape, *val = &in[2]->shape;
    if (in[0]->dtype != TFJS_INT32 || idx->rank > 2)
        FAIL(CS_ERR_CORRUPT, "sparse_indices must be int32 of rank 0 to 2");
    int64_t n = idx->rank == 0 ? 1 : idx->dims[0];
    int64_t width = idx->rank == 2 ? idx->dims[1] : 1;
    if (width != rank && !(rank == 0 && n == 0))
        FAIL(CS_ERR_CORRUPT, "sparse_indices %s do not index an output of rank %d", SHAPE(0, idx),
             rank);
    if (!(val->rank == 0 || (val->rank == 1 && val->dims[0] == n)))
        FAIL(CS_ERR_CORRUPT, "sparse_values %s do not match %lld indices", SHAPE(0, val),
             (long long)n);
    if (in[3]->dtype != in[2]->dtype || tfjs_shape_elements(&in[3]->shape) != 1)
        FAIL(CS_ERR_CORRUPT, "default_value must be a scalar of the values' type");
    out->dtype = in[2]->dtype;
    out->shape.rank = rank;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0)
            FAIL(CS_ERR_CORRUPT, "output_shape holds %lld", (long long)dims[i]);
        out->shape.dims[i] = dims[i];
    }
    return CS_OK;
}

static cs_status prepare_strided_slice(const tfjs_node *node, const tfjs_value *const *in,
                                       tfjs_value *out, tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    int64_t b[32], e[32], s[32];
    int nb = 0, ne = 0, ns = 0;
    cs_status rc = const_ints(node, in, 1, b, 32, &nb, err);
    if (rc == CS_OK)
        rc = const_ints(node, in, 2, e, 32, &ne, err);
    if (rc == CS_OK)
        rc = const_ints(node, in, 3, s, 32, &ns, err);
    if (rc != CS_OK)
        return rc;
    if (nb != ne || nb != ns)
        FAIL(CS_ERR_CORRUPT, "begin, end and strides differ in length");
    const tfjs_attrs *a = &node->at;
    const char *why = nn_strided_slice_plan(in[0]->shape.dims, in[0]->shape.rank, b, e, s, nb,
                                            a->begin_mask, a->end_mask, a->ellipsis_mask,
                                            a->new_axis_mask, a->shrink_axis_mask,
                                            &step->p.slice);
    if (why)
        FAIL(CS_ERR_CORRUPT, "%s (input %s)", why, SHAPE(0, &in[0]->shape));
    out->dtype = in[0]->dtype;
    out->shape.rank = step->p.slice.out_rank;
    memcpy(out->shape.dims, step->p.slice.out_dims, sizeof out->shape.dims);
    return CS_OK;
}

static cs_status prepare_topk(const tfjs_node *node, const tfjs_value *const *in,
                              tfjs_value *out, tfjs_step *step, cs_error *err)
{
    int64_t k;
    cs_status rc = want_float(node, in, 0, err);
    if (rc == CS_OK)
        rc = const_scalar(node, in, 1, &k, err);
    if (rc != CS_OK)
        return rc;
    const tfjs_shape *s = &in[0]->shape;
    if (s->rank < 1)
        FAIL(CS_ERR_CORRUPT, "the input must have at least one dimension");
    int64_t cols = s->dims[s->rank - 1];
    if (k < 0 || k > cols)
        FAIL(CS_ERR_CORRUPT, "k = %lld but the last axis has %lld values", (long long)k,
             (long long)cols);
    if (cols > INT32_MAX)
        FAIL(CS_ERR_TOO_LARGE, "the last axis is too long");
    step->p.topk.cols = cols;
    step->p.topk.rows = cols ? tfjs_shape_elements(s) / cols : 0;
    step->p.topk.k = k;
    step->scratch_bytes = nn_topk_scratch_bytes(k);
    out[0].dtype = TFJS_FLOAT32;
    out[0].shape = *s;
    out[0].shape.dims[s->rank - 1] = k;
    out[1].dtype = TFJS_INT32;
    out[1].shape = out[0].shape;
    return CS_OK;
}

static cs_status prepare_gather(const tfjs_node *node, const tfjs_value *const *in,
                                tfjs_value *out, tfjs_step *step, cs_error *err)
{
    int64_t axis64;
    cs_status rc = const_scalar(node, in, 2, &axis64, err);
    const tfjs_shape *p = &in[0]->shape, *ix = &in[1]->shape;
    int axis = 0;
    if (rc == CS_OK)
        rc = axis_of(node, axis64, p->rank, &axis, err);
    if (rc != CS_OK)
        return rc;
    if (in[1]->dtype != TFJS_INT32)
        FAIL(CS_ERR_CORRUPT, "indices must be int32");
    if (p->rank - 1 + ix->rank > TFJS_MAX_RANK)
        FAIL(CS_ERR_UNSUPPORTED, "the result would have more than %d dimensions",
             TFJS_MAX_RANK);
    out->dtype = in[0]->dtype;
    out->shape.rank = 0;
    for (int d = 0; d < axis; d++)
        out->shape.dims[out->shape.rank++] = p->dims[d];
    for (int d = 0; d < ix->rank; d++)
        out->shape.dims[out->shape.rank++] = ix->dims[d];
    for (int d = axis + 1; d < p->rank; d++)
        out->shape.dims[out->shape.rank++] = p->dims[d];
    step->p.gather.outer = 1;
    for (int d = 0; d < axis; d++)
        step->p.gather.outer *= p->dims[d];
    step->p.gather.axis_dim = p->dims[axis];
    step->p.gather.inner = 1;
    for (int d = axis + 1; d < p->rank; d++)
        step->p.gather.inner *= p->dims[d];
    step->p.gather.n = tfjs_shape_elements(ix);
    return CS_OK;
}

cs_status tfjs_op_prepare(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                          tfjs_step *step, cs_error *err)
{
    SHAPE_BUFS;
    memset(&step->p, 0, sizeof step->p);
    step->scratch_bytes = 0;
    for (int i = 0; i < node->n_in; i++)
        if (in[i]->shape.rank < 0)
            FAIL(CS_ERR_CORRUPT, "input %d has no known shape", i);
    cs_status rc = CS_OK;
    switch (node->op) {
    case TFJS_OP_CONST:
    case TFJS_OP_PLACEHOLDER:
    case TFJS_OP_NOOP:
        FAIL(CS_ERR_INVALID, "is not computed");
    case TFJS_OP_IDENTITY:
        out[0] = *in[0];
        out[0].data = NULL;
        break;
    case TFJS_OP_CONV2D:
    case TFJS_OP_DEPTHWISE:
        rc = prepare_conv(node, in, out, step, err);
        break;
    case TFJS_OP_MATMUL:
        rc = prepare_matmul(node, in, out, step, err);
        break;
    case TFJS_OP_BIAS_ADD:
    case TFJS_OP_BINARY:
        rc = prepare_binary(node, in, out, step, err);
        break;
    case TFJS_OP_UNARY:
        rc = want_float(node, in, 0, err);
        out[0].dtype = TFJS_FLOAT32;
        out[0].shape = in[0]->shape;
        break;
    case TFJS_OP_SOFTMAX:
        rc = want_float(node, in, 0, err);
        if (rc == CS_OK && in[0]->shape.rank < 1)
            FAIL(CS_ERR_CORRUPT, "softmax of a scalar");
        out[0].dtype = TFJS_FLOAT32;
        out[0].shape = in[0]->shape;
        if (rc == CS_OK) {
            step->p.rows.cols = in[0]->shape.dims[in[0]->shape.rank - 1];
            step->p.rows.rows =
                step->p.rows.cols ? tfjs_shape_elements(&in[0]->shape) / step->p.rows.cols : 0;
        }
        break;
    case TFJS_OP_MEAN:
        rc = prepare_mean(node, in, out, step, err);
        break;
    case TFJS_OP_MAX_POOL:
    case TFJS_OP_AVG_POOL:
        rc = prepare_pool(node, in, out, step, err);
        break;
    case TFJS_OP_RESIZE_BILINEAR:
        rc = prepare_resize(node, in, out, err);
        break;
    case TFJS_OP_CONCAT:
        rc = prepare_concat(node, in, out, step, err);
        break;
    case TFJS_OP_PAD:
        rc = prepare_pad(node, in, out, step, err);
        break;
    case TFJS_OP_TRANSPOSE:
        rc = prepare_transpose(node, in, out, step, err);
        break;
    case TFJS_OP_RESHAPE:
        rc = prepare_reshape(node, in, out, err);
        break;
    case TFJS_OP_EXPAND_DIMS:
        rc = prepare_expand_dims(node, in, out, err);
        break;
    case TFJS_OP_SQUEEZE:
        rc = prepare_squeeze(node, in, out, err);
        break;
    case TFJS_OP_SPLIT_V:
        rc = prepare_split(node, in, out, step, err);
        break;
    case TFJS_OP_SPARSE_TO_DENSE:
        rc = prepare_sparse_to_dense(node, in, out, err);
        break;
    case TFJS_OP_CAST:
        out[0].dtype = node->at.dtype;
        out[0].shape = in[0]->shape;
        break;
    case TFJS_OP_STRIDED_SLICE:
        rc = prepare_strided_slice(node, in, out, step, err);
        break;
    case TFJS_OP_TOPK:
        rc = prepare_topk(node, in, out, step, err);
        break;
    case TFJS_OP_GATHER:
        rc = prepare_gather(node, in, out, step, err);
        break;
    }
    if (rc != CS_OK)
        return rc;
    for (int i = 0; i < node->n_out; i++) {
        out[i].data = NULL;
        int64_t n = 1;
        for (int d = 0; d < out[i].shape.rank; d++) {
            if (out[i].shape.dims[d] < 0 || out[i].shape.dims[d] > TFJS_MAX_ELEMENTS)
                FAIL(CS_ERR_CORRUPT, "output %d would have shape %s", i, SHAPE(0, &out[i].shape));
            n *= out[i].shape.dims[d];
            if (n > TFJS_MAX_ELEMENTS)
                FAIL(CS_ERR_TOO_LARGE, "output %d would have more than %lld elements (%s)", i,
                     (long long)TFJS_MAX_ELEMENTS, SHAPE(0, &out[i].shape));
        }
    }
    return CS_OK;
}
