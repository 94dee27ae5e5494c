/* The op table: which TensorFlow ops the interpreter runs, how many inputs
 * each takes, and their attributes parsed once at load. Anything else is
 * refused at load with the node's name and op. */
#include <stdio.h>
#include <string.h>

#include "models/tagger/tfjs_internal.h"

typedef struct op_info {
    const char *name;
    tfjs_op op;
    int min_in, max_in;        /* data inputs; max -1: any number */
    int arg;                   /* nn_binary_op, nn_act_kind (-1: Exp), 1: fused conv/matmul */
} op_info;

static const op_info OPS[] = {
    {"Const", TFJS_OP_CONST, 0, 0, 0},
    {"Placeholder", TFJS_OP_PLACEHOLDER, 0, 0, 0},
    {"Identity", TFJS_OP_IDENTITY, 1, 1, 0},
    {"Snapshot", TFJS_OP_IDENTITY, 1, 1, 0},
    {"StopGradient", TFJS_OP_IDENTITY, 1, 1, 0},
    {"NoOp", TFJS_OP_NOOP, 0, 0, 0},
    {"Conv2D", TFJS_OP_CONV2D, 2, 2, 0},
    {"_FusedConv2D", TFJS_OP_CONV2D, 3, 4, 1},
    {"DepthwiseConv2dNative", TFJS_OP_DEPTHWISE, 2, 2, 0},
    {"FusedDepthwiseConv2dNative", TFJS_OP_DEPTHWISE, 3, 4, 1},
    {"MatMul", TFJS_OP_MATMUL, 2, 2, 0},
    {"_FusedMatMul", TFJS_OP_MATMUL, 3, 4, 1},
    {"BiasAdd", TFJS_OP_BIAS_ADD, 2, 2, 0},
    {"Add", TFJS_OP_BINARY, 2, 2, NN_BIN_ADD},
    {"AddV2", TFJS_OP_BINARY, 2, 2, NN_BIN_ADD},
    {"Sub", TFJS_OP_BINARY, 2, 2, NN_BIN_SUB},
    {"Mul", TFJS_OP_BINARY, 2, 2, NN_BIN_MUL},
    {"RealDiv", TFJS_OP_BINARY, 2, 2, NN_BIN_DIV},
    {"Div", TFJS_OP_BINARY, 2, 2, NN_BIN_DIV},
    {"Minimum", TFJS_OP_BINARY, 2, 2, NN_BIN_MIN},
    {"Maximum", TFJS_OP_BINARY, 2, 2, NN_BIN_MAX},
    {"Equal", TFJS_OP_BINARY, 2, 2, NN_BIN_EQUAL},
    {"FloorDiv", TFJS_OP_BINARY, 2, 2, NN_BIN_FLOOR_DIV},
    {"FloorMod", TFJS_OP_BINARY, 2, 2, NN_BIN_FLOOR_MOD},
    {"SquaredDifference", TFJS_OP_BINARY, 2, 2, NN_BIN_SQUARED_DIFF},
    {"Relu", TFJS_OP_UNARY, 1, 1, NN_ACT_RELU},
    {"Relu6", TFJS_OP_UNARY, 1, 1, NN_ACT_RELU6},
    {"LeakyRelu", TFJS_OP_UNARY, 1, 1, NN_ACT_LEAKY_RELU},
    {"Sigmoid", TFJS_OP_UNARY, 1, 1, NN_ACT_SIGMOID},
    {"Exp", TFJS_OP_UNARY, 1, 1, -1},
    {"Softmax", TFJS_OP_SOFTMAX, 1, 1, 0},
    {"Mean", TFJS_OP_MEAN, 2, 2, 0},
    {"MaxPool", TFJS_OP_MAX_POOL, 1, 1, 0},
    {"AvgPool", TFJS_OP_AVG_POOL, 1, 1, 0},
    {"ResizeBilinear", TFJS_OP_RESIZE_BILINEAR, 2, 2, 0},
    {"ConcatV2", TFJS_OP_CONCAT, 2, TFJS_MAX_INPUTS, 0},
    {"Pad", TFJS_OP_PAD, 2, 2, 0},
    {"PadV2", TFJS_OP_PAD, 3, 3, 0},
    {"Transpose", TFJS_OP_TRANSPOSE, 2, 2, 0},
    {"Reshape", TFJS_OP_RESHAPE, 2, 2, 0},
    {"ExpandDims", TFJS_OP_EXPAND_DIMS, 2, 2, 0},
    {"Squeeze", TFJS_OP_SQUEEZE, 1, 1, 0},
    {"SplitV", TFJS_OP_SPLIT_V, 3, 3, 0},
    {"SparseToDense", TFJS_OP_SPARSE_TO_DENSE, 4, 4, 0},
    {"Cast", TFJS_OP_CAST, 1, 1, 0},
    {"StridedSlice", TFJS_OP_STRIDED_SLICE, 4, 4, 0},
    {"TopKV2", TFJS_OP_TOPK, 2, 2, 0},
    {"GatherV2", TFJS_OP_GATHER, 3, 3, 0},
};

#define FAIL(code, ...)                                                          \
    do {                                                                         \
        char detail_[512];                                                       \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);                          \
        return cs_error_set(err, code, "%s: node '%s' (%s): %s", model_path,     \
                            node->name, node->op_name, detail_);                 \
    } while (0)

static bool act_by_name(const char *s, nn_act_kind *out)
{
    if (strcmp(s, "Relu") == 0)
        *out = NN_ACT_RELU;
    else if (strcmp(s, "Relu6") == 0)
        *out = NN_ACT_RELU6;
    else if (strcmp(s, "LeakyRelu") == 0)
        *out = NN_ACT_LEAKY_RELU;
    else if (strcmp(s, "Sigmoid") == 0)
        *out = NN_ACT_SIGMOID;
    else
        return false;
    return true;
}

static cs_status parse_data_format(const char *model_path, tfjs_node *node, json_t *json,
                                   cs_error *err)
{
    char fmt[16];
    if (tfjs_attr(json, "data_format") && tfjs_attr_string(json, "data_format", fmt, sizeof fmt) &&
        strcmp(fmt, "NHWC") != 0)
        FAIL(CS_ERR_UNSUPPORTED, "data_format %s (only NHWC is supported)", fmt);
    return CS_OK;
}

static cs_status parse_window(const char *model_path, tfjs_node *node, json_t *json,
                              bool is_pool, cs_error *err)
{
    tfjs_attrs *a = &node->at;
    int64_t v[8];
    int n = tfjs_attr_ints(json, "strides", v, 4);
    if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1 || v[1] > 1 << 20 ||
        v[2] > 1 << 20)
        FAIL(CS_ERR_CORRUPT, "strides must be [1, h, w, 1] with h, w >= 1");
    for (int i = 0; i < 4; i++)
        a->strides[i] = (int)v[i];
    if (is_pool) {
        n = tfjs_attr_ints(json, "ksize", v, 4);
        if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1 || v[1] > 1 << 20 ||
            v[2] > 1 << 20)
            FAIL(CS_ERR_CORRUPT, "ksize must be [1, h, w, 1] with h, w >= 1");
        for (int i = 0; i < 4; i++)
            a->ksize[i] = (int)v[i];
        a->dilations[1] = a->dilations[2] = 1;
    } else {
        n = tfjs_attr_ints(json, "dilations", v, 4);
        if (n == -1 || n == 0) {
            v[0] = v[1] = v[2] = v[3] = 1;
        } else if (n != 4 || v[0] != 1 || v[3] != 1 || v[1] < 1 || v[2] < 1 ||
                   v[1] > 1 << 20 || v[2] > 1 << 20) {
            FAIL(CS_ERR_CORRUPT, "dilations must be [1, h, w, 1] with h, w >= 1");
        }
        for (int i = 0; i < 4; i++)
            a->dilations[i] = (int)v[i];
    }
    char pad[16];
    if (!tfjs_attr_string(json, "padding", pad, sizeof pad))
        FAIL(CS_ERR_CORRUPT, "no padding attribute");
    if (strcmp(pad, "SAME") == 0) {
        a->padding = NN_PADDING_SAME;
    } else if (strcmp(pad, "VALID") == 0) {
        a->padding = NN_PADDING_VALID;
    } else if (strcmp(pad, "EXPLICIT") == 0) {
        a->padding = NN_PADDING_EXPLICIT;
        n = tfjs_attr_ints(json, "explicit_paddings", a->explicit_pads, 8);
        if (n != 8)
            FAIL(CS_ERR_CORRUPT, "EXPLICIT padding needs 8 explicit_paddings");
        for (int i = 0; i < 8; i++)
            if (a->explicit_pads[i] < 0 || a->explicit_pads[i] > 1 << 20 ||
                ((i < 2 || i >= 6) && a->explicit_pads[i] != 0))
                FAIL(CS_ERR_CORRUPT, "explicit_paddings must pad only height and width, "
                     "by 0 or more");
    } else {
        FAIL(CS_ERR_UNSUPPORTED, "padding '%s' (SAME, VALID and EXPLICIT are supported)", pad);
    }
    return parse_data_format(model_path, node, json, err);
}

/* fused_ops of _FusedConv2D, FusedDepthwiseConv2dNative and _FusedMatMul. */
static cs_status parse_fused(const char *model_path, tfjs_node *node, json_t *json, cs_error *err)
{
    tfjs_attrs *a = &node->at;
    char ops[4][32];
    int n = tfjs_attr_strings(json, "fused_ops", ops, 4);
    if (n < 0)
        FAIL(CS_ERR_CORRUPT, "no valid fused_ops attribute");
    int64_t num_args = 0;
    if (!tfjs_attr_int(json, "num_args", &num_args))
        num_args = node->n_in - 2;
    if (n < 1 || strcmp(ops[0], "BiasAdd") != 0 || n > 2)
        FAIL(CS_ERR_UNSUPPORTED, "fused_ops %s%s%s (BiasAdd, optionally followed by Relu, "
             "Relu6, LeakyRelu or Sigmoid, is supported)", n > 0 ? ops[0] : "[]",
             n > 1 ? "," : "", n > 1 ? ops[1] : "");
    if (num_args != 1 || node->n_in != 3)
        FAIL(CS_ERR_UNSUPPORTED, "fused ops with %lld extra arguments (1, the bias, is "
             "supported)", (long long)num_args);
    a->has_bias = true;
    a->act.kind = NN_ACT_NONE;
    if (n == 2) {
        if (!act_by_name(ops[1], &a->act.kind))
            FAIL(CS_ERR_UNSUPPORTED, "fused activation %s (Relu, Relu6, LeakyRelu and "
                 "Sigmoid are supported)", ops[1]);
        if (a->act.kind == NN_ACT_LEAKY_RELU) {
            double alpha = 0.2;
            if (tfjs_attr(json, "leakyrelu_alpha") &&
                !tfjs_attr_float(json, "leakyrelu_alpha", &alpha))
                FAIL(CS_ERR_CORRUPT, "leakyrelu_alpha is not a number");
            a->act.alpha = (float)alpha;
        }
    }
    return CS_OK;
}

cs_status tfjs_op_parse(const char *model_path, tfjs_node *node, json_t *json, cs_error *err)
{
    const op_info *info = NULL;
    for (size_t i = 0; i < sizeof OPS / sizeof OPS[0]; i++)
        if (strcmp(OPS[i].name, node->op_name) == 0) {
            info = &OPS[i];
            break;
        }
    if (!info)
        FAIL(CS_ERR_UNSUPPORTED, "unsupported op '%s'", node->op_name);
    node->op = info->op;
    node->n_out = 1;
    if (node->n_in < info->min_in || (info->max_in >= 0 && node->n_in > info->max_in)) {
        if (info->min_in == info->max_in)
            FAIL(CS_ERR_CORRUPT, "has %d inputs, expected %d", node->n_in, info->min_in);
        FAIL(CS_ERR_CORRUPT, "has %d inputs, expected %d to %d", node->n_in, info->min_in,
             info->max_in);
    }
    tfjs_attrs *a = &node->at;
    a->shape.rank = -1;
    int64_t v;
    double f;
    switch (info->op) {
    case TFJS_OP_CONST:
        break;
    case TFJS_OP_PLACEHOLDER: {
        if (!tfjs_attr_dtype(json, "dtype", &a->dtype))
            FAIL(CS_ERR_UNSUPPORTED, "no supported dtype attribute");
        json_t *s = tfjs_attr(json, "shape");
        if (s && !tfjs_parse_shape(json_object_get(s, "shape"), &a->shape))
            FAIL(CS_ERR_CORRUPT, "bad shape attribute (at most %d dimensions)", TFJS_MAX_RANK);
        if (!s)
            a->shape.rank = -1;
        break;
    }
    case TFJS_OP_NOOP:
        node->n_out = 0;
        break;
    case TFJS_OP_CONV2D:
    case TFJS_OP_DEPTHWISE:
    case TFJS_OP_MATMUL: {
        cs_status rc = CS_OK;
        if (info->op == TFJS_OP_MATMUL) {
            a->transpose_a = tfjs_attr_bool(json, "transpose_a", false);
            a->transpose_b = tfjs_attr_bool(json, "transpose_b", false);
        } else {
            rc = parse_window(model_path, node, json, false, err);
        }
        if (rc == CS_OK && info->arg == 1)   /* the fused variant */
            rc = parse_fused(model_path, node, json, err);
        if (rc != CS_OK)
            return rc;
        break;
    }
    case TFJS_OP_BIAS_ADD:
        return parse_data_format(model_path, node, json, err);
    case TFJS_OP_BINARY:
        a->binop = (nn_binary_op)info->arg;
        break;
    case TFJS_OP_UNARY:
        if (info->arg < 0) {
            a->unary = TFJS_UNARY_EXP;
            break;
        }
        a->unary = TFJS_UNARY_ACT;
        a->act.kind = (nn_act_kind)info->arg;
        if (a->act.kind == NN_ACT_LEAKY_RELU) {
            f = 0.2;
            if (tfjs_attr(json, "alpha") && !tfjs_attr_float(json, "alpha", &f))
                FAIL(CS_ERR_CORRUPT, "alpha is not a number");
            a->act.alpha = (float)f;
        }
        break;
    case TFJS_OP_MEAN:
        a->keep_dims = tfjs_attr_bool(json, "keep_dims", false);
        break;
    case TFJS_OP_MAX_POOL:
    case TFJS_OP_AVG_POOL:
        return parse_window(model_path, node, json, true, err);
    case TFJS_OP_RESIZE_BILINEAR:
        a->align_corners = tfjs_attr_bool(json, "align_corners", false);
        a->half_pixel_centers = tfjs_attr_bool(json, "half_pixel_centers", false);
        if (a->align_corners && a->half_pixel_centers)
            FAIL(CS_ERR_CORRUPT, "align_corners and half_pixel_centers are both set");
        break;
    case TFJS_OP_CAST:
        if (!tfjs_attr_dtype(json, "DstT", &a->dtype))
            FAIL(CS_ERR_UNSUPPORTED, "no supported DstT attribute");
        break;
    case TFJS_OP_STRIDED_SLICE: {
        int64_t *masks[5] = {&a->begin_mask, &a->end_mask, &a->ellipsis_mask,
                             &a->new_axis_mask, &a->shrink_axis_mask};
        const char *names[5] = {"begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                "shrink_axis_mask"};
        for (int i = 0; i < 5; i++) {
            if (!tfjs_attr(json, names[i]))
                *masks[i] = 0;
            else if (!tfjs_attr_int(json, names[i], masks[i]) || *masks[i] < 0 ||
                     *masks[i] >= ((int64_t)1 << 32))
                FAIL(CS_ERR_CORRUPT, "bad %s", names[i]);
        }
        break;
    }
    case TFJS_OP_SPLIT_V:
        if (!tfjs_attr_int(json, "num_split", &v) || v < 1 || v > TFJS_MAX_INPUTS)
            FAIL(CS_ERR_CORRUPT, "num_split must be 1 to %d", TFJS_MAX_INPUTS);
        a->num_split = (int)v;
        node->n_out = (int)v;
        break;
    case TFJS_OP_SQUEEZE: {
        int n = tfjs_attr_ints(json, "squeeze_dims", a->squeeze_dims, TFJS_MAX_RANK);
        if (n == -1)
            n = tfjs_attr_ints(json, "axis", a->squeeze_dims, TFJS_MAX_RANK);
        if (n == -2)
            FAIL(CS_ERR_CORRUPT, "bad squeeze_dims");
        a->n_squeeze_dims = n < 0 ? 0 : n;
        break;
    }
    case TFJS_OP_TOPK:
        node->n_out = 2;
        break;
    case TFJS_OP_GATHER:
        if (tfjs_attr(json, "batch_dims") && (!tfjs_attr_int(json, "batch_dims", &v) || v != 0))
            FAIL(CS_ERR_UNSUPPORTED, "batch_dims other than 0");
        break;
    default:
        break;
    }
    return CS_OK;
}

bool tfjs_op_is_view(tfjs_op op)
{
    return op == TFJS_OP_IDENTITY || op == TFJS_OP_RESHAPE || op == TFJS_OP_EXPAND_DIMS ||
           op == TFJS_OP_SQUEEZE;
}

static bool same_shape(const tfjs_shape *a, const tfjs_shape *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

bool tfjs_op_in_place(const tfjs_node *node, const tfjs_value *const *in, const tfjs_value *out,
                      int *which)
{
    switch (node->op) {
    case TFJS_OP_UNARY:
    case TFJS_OP_SOFTMAX:
    case TFJS_OP_BIAS_ADD:
        *which = 0;
        return true;
    case TFJS_OP_CAST:
        *which = 0;
        return tfjs_dtype_size(in[0]->dtype) == tfjs_dtype_size(out->dtype);
    case TFJS_OP_BINARY:
        if (out->dtype != in[0]->dtype)   /* Equal */
            return false;
        for (int i = 0; i < 2; i++)
            if (same_shape(&in[i]->shape, &out->shape)) {
                *which = i;
                return true;
            }
        return false;
    default:
        return false;
    }
}

int64_t tfjs_shape_elements(const tfjs_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dims[i];
    return n;
}

size_t tfjs_dtype_size(tfjs_dtype t)
{
    return t == TFJS_BOOL ? 1 : 4;
}

nn_dtype tfjs_nn_dtype(tfjs_dtype t)
{
    return t == TFJS_FLOAT32 ? NN_F32 : t == TFJS_INT32 ? NN_I32 : NN_BOOL;
}

const char *tfjs_dtype_name(tfjs_dtype t)
{
    return t == TFJS_FLOAT32 ? "float32" : t == TFJS_INT32 ? "int32" : "bool";
}

const char *tfjs_shape_str(const tfjs_shape *s, char *buf, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < s->rank && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)s->dims[i]);
    if (n < size)
        snprintf(buf + n, size - n, "]");
    return buf;
}
