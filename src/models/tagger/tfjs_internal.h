/* Shared by the interpreter's files: the loaded graph (nodes with parsed
 * attributes, constants already folded), the per-op shape inference and
 * kernels, and the session's plan. */
#ifndef CS_MODELS_TAGGER_TFJS_INTERNAL_H
#define CS_MODELS_TAGGER_TFJS_INTERNAL_H

#include <stdbool.h>

#include <jansson.h>

#include "common/strmap.h"
#include "models/tagger/tfjs.h"
#include "nn/nn.h"

/* Limits that keep hostile files from asking for absurd memory: one tensor,
 * all weights of a model, one session's buffers, and the graph's size. */
#define TFJS_MAX_ELEMENTS ((int64_t)1 << 28)
#define TFJS_MAX_WEIGHT_BYTES ((int64_t)1 << 30)
#define TFJS_MAX_ARENA_BYTES ((int64_t)1 << 32)
#define TFJS_MAX_NODES 100000
#define TFJS_MAX_INPUTS 1024
#define TFJS_MAX_JSON_BYTES ((uint64_t)64 << 20)

typedef enum tfjs_op {
    TFJS_OP_CONST,
    TFJS_OP_PLACEHOLDER,
    TFJS_OP_IDENTITY,      /* Identity, Snapshot, StopGradient */
    TFJS_OP_NOOP,          /* NoOp: no outputs, never executed */
    TFJS_OP_CONV2D,        /* Conv2D, _FusedConv2D */
    TFJS_OP_DEPTHWISE,     /* DepthwiseConv2dNative, FusedDepthwiseConv2dNative */
    TFJS_OP_MATMUL,        /* MatMul, _FusedMatMul */
    TFJS_OP_BIAS_ADD,
    TFJS_OP_BINARY,
    TFJS_OP_UNARY,         /* Relu, Relu6, LeakyRelu, Sigmoid, Exp */
    TFJS_OP_SOFTMAX,
    TFJS_OP_MEAN,
    TFJS_OP_MAX_POOL,
    TFJS_OP_AVG_POOL,
    TFJS_OP_RESIZE_BILINEAR,
    TFJS_OP_CONCAT,        /* ConcatV2 */
    TFJS_OP_PAD,           /* Pad, PadV2 */
    TFJS_OP_TRANSPOSE,
    TFJS_OP_RESHAPE,
    TFJS_OP_EXPAND_DIMS,
    TFJS_OP_SQUEEZE,
    TFJS_OP_SPLIT_V,
    TFJS_OP_SPARSE_TO_DENSE,
    TFJS_OP_CAST,
    TFJS_OP_STRIDED_SLICE,
    TFJS_OP_TOPK,          /* TopKV2 */
    TFJS_OP_GATHER,        /* GatherV2 */
} tfjs_op;

typedef enum tfjs_unary { TFJS_UNARY_ACT, TFJS_UNARY_EXP } tfjs_unary;

/* Attributes, parsed once at load; each op reads the ones it has. */
typedef struct tfjs_attrs {
    int strides[4], dilations[4], ksize[4];
    nn_padding padding;
    int64_t explicit_pads[8];
    nn_act act;                 /* fused or unary activation */
    tfjs_unary unary;
    nn_binary_op binop;
    bool has_bias;              /* fused BiasAdd */
    bool keep_dims, align_corners, half_pixel_centers, transpose_a, transpose_b;
    int64_t begin_mask, end_mask, ellipsis_mask, new_axis_mask, shrink_axis_mask;
    tfjs_dtype dtype;           /* Placeholder/Const dtype, Cast DstT */
    int num_split;
    int64_t batch_dims;
    int64_t squeeze_dims[TFJS_MAX_RANK];
    int n_squeeze_dims;
    tfjs_shape shape;           /* Placeholder's declared shape (rank -1: unknown) */
} tfjs_attrs;

typedef struct tfjs_ref {
    int node;
    int port;
} tfjs_ref;

/* A tensor: a constant owned by the model, or a session buffer. */
typedef struct tfjs_value {
    tfjs_dtype dtype;
    tfjs_shape shape;
    void *data;
} tfjs_value;

typedef struct tfjs_node {
    char *name;
    char *op_name;
    tfjs_op op;
    int n_in;
    tfjs_ref *in;               /* data inputs only (control inputs dropped) */
    int n_out;                  /* output ports */
    bool consumed;              /* some node names it (data or control) */
    tfjs_attrs at;
    tfjs_value *konst;          /* n_out values when constant (Const or folded) */
} tfjs_node;

struct tfjs_model {
    char *path;
    tfjs_node *nodes;
    int n_nodes;
    strmap names;               /* node name -> index */
    int *order;                 /* all nodes, topologically sorted */
    int input_node;             /* the Placeholder fed by tfjs_session_run, or -1 */
    int n_inputs;
    int *inputs;
    int n_outputs;
    tfjs_ref *outputs;
    char **output_names;
};

/* Per-op parameters worked out by shape inference, used by the kernels. */
typedef struct tfjs_step {
    int node;
    size_t scratch_bytes;
    union {
        struct { nn_conv_params c; int multiplier; } conv;
        struct { int64_t m, n, k; } mm;
        nn_pool_params pool;
        struct { int rank; int64_t dims[TFJS_MAX_RANK]; bool reduce[TFJS_MAX_RANK]; } mean;
        struct { int64_t rows, cols; } rows;
        struct { int rank; int64_t a[TFJS_MAX_RANK], b[TFJS_MAX_RANK]; } bin;
        struct { int64_t outer, inner; } axis;
        struct {
            int rank;
            int64_t dims[TFJS_MAX_RANK], before[TFJS_MAX_RANK], after[TFJS_MAX_RANK];
            uint32_t fill;       /* one element's bits */
        } pad;
        struct { int rank; int64_t dims[TFJS_MAX_RANK]; int perm[TFJS_MAX_RANK]; } tr;
        nn_slice slice;
        struct { int64_t outer, axis_dim, inner, n; } gather;
        struct { int64_t rows, cols, k; } topk;
    } p;
} tfjs_step;

/* ---- sessions (tfjs_session.c, tfjs_fuse.c) -------------------------------- */

typedef enum tfjs_step_kind {
    TFJS_STEP_OP,       /* one node, its kernel */
    TFJS_STEP_CONV,     /* a convolution with a fused residual add or input scale */
    TFJS_STEP_BLOCK,    /* expand 1x1 -> depthwise -> project 1x1 in bands (nn_block) */
    TFJS_STEP_MASK,     /* Mul(a, Cast(Equal(a, b))) in one pass (x_value a, residual b) */
    TFJS_STEP_SKIP,     /* a node folded into another step */
} tfjs_step_kind;

/* How a step deviates from "run this node": fused neighbours. Value
 * indices are -1 when absent. */
typedef struct tfjs_fusion {
    tfjs_step_kind kind;
    int out_value;      /* the value the step writes (a chain's last node's) */
    int x_value;        /* the data input (conv: replaces input 0) */
    int residual;       /* added after the activation */
    int in_scale;       /* per-input-channel scale: of a 1x1 conv, or of a block's
                         * depthwise input */
    int mean_value;     /* block: also writes this Mean of its output */
    int nodes[3];       /* block: expand conv, depthwise, project conv (-1: none) */
    nn_block_params blk;
} tfjs_fusion;

typedef struct tfjs_buffer {
    size_t bytes;
    int first, last;    /* steps; last = FOREVER when kept */
    size_t offset;
    bool merged;        /* became part of another buffer (in place) */
} tfjs_buffer;

struct tfjs_session {
    const tfjs_model *m;
    tfjs_shape input_shape;
    char **extra;           /* node names kept readable (tfjs_session_new_with_outputs) */
    int n_extra;
    bool keep_all, want_keep_all;
    bool ran;

    int *port_base;         /* per node: index of its first value */
    int n_values;
    tfjs_value *vals;
    int *buf_of;            /* per value: buffer, -1 none/constant, -2 the caller's input */
    bool *kept;             /* per value: readable after a run */
    int *value_alias;       /* per value: the value whose memory it shares, or -1 */
    bool *needed;           /* per node */

    tfjs_step *steps;
    tfjs_fusion *fuse;      /* per step */
    int n_steps;
    bool *step_view;        /* per step: shares its input's memory, nothing to compute */
    int *step_of;           /* per node: its step, or -1 */

    tfjs_buffer *bufs;
    int n_bufs;
    void *arena;
    size_t arena_bytes;
    void *scratch;
    size_t scratch_bytes;

    bool profile;
    double *step_seconds;   /* per step, summed over runs */
    int profiled_runs;
};

static inline int tfjs_value_of(const tfjs_session *s, tfjs_ref r)
{
    return s->port_base[r.node] + r.port;
}

/* The values step i reads (fusions included) into out (at most max). */
int tfjs_step_reads(const tfjs_session *s, int i, int *out, int max);

/* Rewrites the planned steps: activation chains, residual adds and
 * squeeze-excite scales into convolutions, and expand/depthwise/project
 * chains into banded blocks. Values that are kept are never fused away. */
void tfjs_fuse(tfjs_session *s);

/* ---- tfjs_attr.c: AttrValue JSON -------------------------------------------- */
json_t *tfjs_attr(json_t *node, const char *key);
bool tfjs_attr_int(json_t *node, const char *key, int64_t *out);
bool tfjs_attr_bool(json_t *node, const char *key, bool dflt);
bool tfjs_attr_float(json_t *node, const char *key, double *out);
/* Decoded string attribute (base64 "s") into buf; false when absent/bad. */
bool tfjs_attr_string(json_t *node, const char *key, char *buf, size_t size);
/* Integer list ("list":{"i":[...]}); -1 when absent, -2 when malformed or
 * longer than max. */
int tfjs_attr_ints(json_t *node, const char *key, int64_t *out, int max);
/* String list (base64 each, at most 31 bytes) into out; count or -1/-2. */
int tfjs_attr_strings(json_t *node, const char *key, char (*out)[32], int max);
/* A DT_* type as the interpreter's dtype (int64 -> int32, double -> float). */
bool tfjs_parse_dtype(const char *name, tfjs_dtype *out);
bool tfjs_attr_dtype(json_t *node, const char *key, tfjs_dtype *out);
/* {"dim":[{"size":"1"},...]} (a missing size is 0, -1 stays -1). */
bool tfjs_parse_shape(json_t *shape, tfjs_shape *out);
bool tfjs_json_int(json_t *v, int64_t *out);

/* ---- tfjs_weights.c ------------------------------------------------------------ */
/* Reads the manifest's shards (folder `dir`), checks every tensor's byte range
 * against them, and dequantises each weight into `map` (name -> index into
 * *values). */
cs_status tfjs_weights_load(const char *model_path, const char *dir, json_t *manifest,
                            strmap *map, tfjs_value **values, int *count, cs_error *err);
float tfjs_half_to_float(uint16_t h);

/* ---- tfjs_ops.c ---------------------------------------------------------------- */
/* Maps a TF op name to the interpreter's op and fills the attributes; an
 * error names the node. */
cs_status tfjs_op_parse(const char *model_path, tfjs_node *node, json_t *json, cs_error *err);
/* Shape inference for one node: inputs' dtypes and shapes (data set for
 * constants) -> outputs' dtypes and shapes, and the kernel's parameters. */
cs_status tfjs_op_prepare(const tfjs_node *node, const tfjs_value *const *in, tfjs_value *out,
                          tfjs_step *step, cs_error *err);
/* Runs one prepared node. Outputs that alias inputs (Reshape, Identity, ...)
 * are copied only when the planner gave them separate buffers. */
cs_status tfjs_op_run(const tfjs_node *node, const tfjs_step *step, const tfjs_value *const *in,
                      tfjs_value *out, void *scratch, cs_error *err);
/* Output views its input 0 unchanged (reshape-like): may share the buffer. */
bool tfjs_op_is_view(tfjs_op op);
/* Elementwise: output i may overwrite input `*which` (same shape and size). */
bool tfjs_op_in_place(const tfjs_node *node, const tfjs_value *const *in, const tfjs_value *out,
                      int *which);

int64_t tfjs_shape_elements(const tfjs_shape *s);
size_t tfjs_dtype_size(tfjs_dtype t);
nn_dtype tfjs_nn_dtype(tfjs_dtype t);
const char *tfjs_dtype_name(tfjs_dtype t);
/* "[1,2,3]" into buf. */
const char *tfjs_shape_str(const tfjs_shape *s, char *buf, size_t size);

#endif
