/* Small tensor kernels in float32, NHWC, on OpenBLAS: convolutions (im2col +
 * sgemm, a 1x1 fast path, depthwise), matmul, pooling, reductions, resize,
 * broadcasting elementwise ops and the data-movement ops a graph needs.
 *
 * Kernels do no allocation and no validation: callers (the graph
 * interpreter) check shapes and sizes once when they plan, then call these
 * with buffers of the right size. Shapes are row-major; element counts fit in
 * int64_t, and GEMM dimensions in int (the interpreter refuses bigger). */
#ifndef CS_NN_NN_H
#define CS_NN_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_RANK 6

typedef enum nn_dtype { NN_F32, NN_I32, NN_BOOL /* one byte, 0 or 1 */ } nn_dtype;

size_t nn_dtype_size(nn_dtype t);

/* OpenBLAS threads for every later sgemm in the process (it is a global
 * setting). Run one session per core with 1, or one session with all cores. */
void nn_set_blas_threads(int threads);

/* ---- activations ---------------------------------------------------------- */

typedef enum nn_act_kind {
    NN_ACT_NONE,
    NN_ACT_RELU,
    NN_ACT_RELU6,
    NN_ACT_LEAKY_RELU,   /* x > 0 ? x : alpha * x */
    NN_ACT_SIGMOID,
    NN_ACT_HARD_SWISH,   /* (alpha * x) * relu6(x + beta), MobileNetV3's x*relu6(x+3)/6
                          * evaluated in the graph's own order and constants */
} nn_act_kind;

typedef struct nn_act {
    nn_act_kind kind;
    float alpha, beta;
} nn_act;

/* x[r][c] = act(x[r][c] + bias[c]) over a rows x cols block; bias may be NULL. */
void nn_bias_act(float *x, size_t rows, size_t cols, const float *bias, nn_act act);
/* out[i] = act(in[i]); in == out is fine. */
void nn_activate(const float *in, float *out, size_t n, nn_act act);
void nn_exp(const float *in, float *out, size_t n);

/* ---- windows (convolution and pooling geometry) ---------------------------- */

typedef enum nn_padding { NN_PADDING_VALID, NN_PADDING_SAME, NN_PADDING_EXPLICIT } nn_padding;

/* One spatial dimension of a window op, as TensorFlow computes it: the output
 * size and the padding before the first element. `pad_before/pad_after` are
 * used for NN_PADDING_EXPLICIT only. False when the output would be empty or
 * the numbers are out of range. */
bool nn_window(int64_t in, int64_t k, int64_t stride, int64_t dilation, nn_padding mode,
               int64_t pad_before, int64_t pad_after, int64_t *out, int64_t *pad);

typedef struct nn_conv_params {
    int64_t batch, in_h, in_w, in_c;
    int64_t out_h, out_w, out_c;      /* depthwise: out_c = in_c * multiplier */
    int k_h, k_w, stride_h, stride_w, dil_h, dil_w;
    int pad_top, pad_left;            /* bottom/right follow from out_h/out_w */
    nn_act act;
} nn_conv_params;

/* Floats of scratch nn_conv2d needs (0 for a 1x1 stride-1 unpadded conv). */
size_t nn_conv2d_scratch_floats(const nn_conv_params *c);
/* filter: HWIO [k_h, k_w, in_c, out_c]; bias [out_c] or NULL. */
void nn_conv2d(const nn_conv_params *c, const float *in, const float *filter, const float *bias,
               float *out, float *scratch);
/* nn_conv2d plus two fused neighbours: in_scale ([batch, in_c], 1x1
 * convolutions only) multiplies the input channels, folded into the filter
 * (a squeeze-excite scale), and residual (the output's shape) is added after
 * the activation. Either may be NULL. */
size_t nn_conv2d_ex_scratch_floats(const nn_conv_params *c, bool in_scale);
void nn_conv2d_ex(const nn_conv_params *c, const float *in, const float *filter,
                  const float *bias, const float *in_scale, const float *residual, float *out,
                  float *scratch);
/* filter: [k_h, k_w, in_c, multiplier]; bias [out_c] or NULL. */
void nn_depthwise_conv2d(const nn_conv_params *c, int multiplier, const float *in,
                         const float *filter, const float *bias, float *out);

/* A MobileNet block run in bands of output rows so its intermediate tensors
 * stay in cache: optional 1x1 expansion (in_c -> mid_c, with activation), a
 * multiplier-1 depthwise convolution, an optional 1x1 projection (mid_c ->
 * out_c) and an optional residual added at the end. Same arithmetic as the
 * separate ops. */
typedef struct nn_block_params {
    int64_t batch, in_h, in_w, in_c, mid_c, out_c;
    bool expand, project, residual;
    bool dw_scale;   /* the depthwise input is scaled per image and channel
                      * (squeeze-excite), folded into its weights */
    bool mean;       /* also write the per-channel mean of the depthwise output */
    nn_act expand_act, project_act;
    nn_conv_params dw;               /* in_h/in_w as above, in_c = out_c = mid_c */
} nn_block_params;

size_t nn_block_scratch_floats(const nn_block_params *p);
/* w1 [in_c, mid_c], b1; w2 [k_h, k_w, mid_c], b2; w3 [mid_c, out_c], b3; r
 * and y [batch, dw.out_h, dw.out_w, out_c] (out_c = mid_c without projection);
 * scale [batch, mid_c] with dw_scale; mean [batch, mid_c] with mean. */
void nn_block(const nn_block_params *p, const float *x, const float *w1, const float *b1,
              const float *w2, const float *b2, const float *w3, const float *b3,
              const float *r, const float *scale, float *y, float *mean, float *scratch);

typedef struct nn_pool_params {
    int64_t batch, in_h, in_w, c, out_h, out_w;
    int k_h, k_w, stride_h, stride_w, pad_top, pad_left;
} nn_pool_params;

/* Padded cells are ignored (TensorFlow's SAME: max as if -inf, average over
 * the cells inside the input only). */
void nn_max_pool2d(const nn_pool_params *p, const float *in, float *out);
void nn_avg_pool2d(const nn_pool_params *p, const float *in, float *out);

/* ---- linear algebra --------------------------------------------------------- */

/* out[m x n] = act(op(A) op(B) + bias); A is [m,k] ([k,m] when trans_a), B is
 * [k,n] ([n,k] when trans_b); bias [n] or NULL. */
void nn_matmul(int64_t m, int64_t n, int64_t k, const float *a, bool trans_a, const float *b,
               bool trans_b, const float *bias, nn_act act, float *out);

/* ---- reductions and normalisation ------------------------------------------ */

/* Mean over the axes flagged in `reduce`; the output has the input's shape
 * with those axes set to 1 (the caller drops them for keep_dims=false). */
void nn_mean(const float *in, const int64_t *dims, int rank, const bool *reduce, float *out);
/* Softmax over the last axis of a [rows, cols] tensor; in == out is fine. */
void nn_softmax(const float *in, float *out, int64_t rows, int64_t cols);

/* Largest k of every row of [rows, cols], sorted descending; equal values
 * keep the lower index first. scratch: nn_topk_scratch_bytes(k) bytes. */
size_t nn_topk_scratch_bytes(int64_t k);
void nn_topk(const float *in, int64_t rows, int64_t cols, int64_t k, float *values,
             int32_t *indices, void *scratch);

/* ---- image ------------------------------------------------------------------ */

/* TensorFlow's ResizeBilinear on NHWC (legacy, align_corners, half_pixel). */
void nn_resize_bilinear(const float *in, int64_t batch, int64_t in_h, int64_t in_w, int64_t c,
                        int64_t out_h, int64_t out_w, bool align_corners,
                        bool half_pixel_centers, float *out);

/* ---- elementwise with broadcasting ----------------------------------------- */

typedef enum nn_binary_op {
    NN_BIN_ADD, NN_BIN_SUB, NN_BIN_MUL, NN_BIN_DIV, NN_BIN_MIN, NN_BIN_MAX,
    NN_BIN_FLOOR_DIV, NN_BIN_FLOOR_MOD, NN_BIN_EQUAL, NN_BIN_SQUARED_DIFF,
} nn_binary_op;

/* The NumPy broadcast of two shapes of equal rank (left-pad with 1s first);
 * false when they do not broadcast. */
bool nn_broadcast_dims(const int64_t *a, const int64_t *b, int rank, int64_t *out);
/* out = a op b over broadcast shapes of rank `rank`; a, b and out have type
 * `dtype` (NN_F32 or NN_I32), except EQUAL, which writes NN_BOOL. out may be
 * a or b when that operand has the output's shape. Integer arithmetic wraps;
 * integer division by zero returns false (the output is then unspecified). */
bool nn_binary(nn_binary_op op, nn_dtype dtype, const void *a, const int64_t *a_dims,
               const void *b, const int64_t *b_dims, int rank, void *out);

/* out = a * (a == b ? 1 : 0), elementwise over n (Mul(a, Cast(Equal(a, b)))). */
void nn_mul_equal_mask(const float *a, const float *b, float *out, size_t n);

/* Type conversion; float to int truncates toward zero, NaN gives 0 and
 * values beyond int32 saturate; anything nonzero is true. */
void nn_cast(const void *in, nn_dtype from, void *out, nn_dtype to, size_t n);

/* ---- data movement (any element size) ---------------------------------------- */

/* Concatenation along an axis: input i is [outer, sizes[i] * inner]. */
void nn_concat(int count, const void *const *inputs, const int64_t *sizes, int64_t outer,
               int64_t inner, size_t elem_size, void *out);
/* The reverse: out i is [outer, sizes[i] * inner]. */
void nn_split(const void *in, int count, const int64_t *sizes, int64_t outer, int64_t inner,
              size_t elem_size, void *const *outs);
/* Constant padding; fill points at one element. */
void nn_pad(const void *in, const int64_t *in_dims, int rank, const int64_t *before,
            const int64_t *after, size_t elem_size, const void *fill, void *out);
/* out.dims[i] = in.dims[perm[i]]. */
void nn_transpose(const void *in, const int64_t *in_dims, int rank, const int *perm,
                  size_t elem_size, void *out);

typedef struct nn_slice {
    int in_rank;
    int64_t in_dims[NN_MAX_RANK];
    int64_t start[NN_MAX_RANK], step[NN_MAX_RANK], count[NN_MAX_RANK];   /* per input dim */
    int out_rank;
    int64_t out_dims[NN_MAX_RANK];   /* after new and shrunk axes */
} nn_slice;

/* Resolves StridedSlice's begin/end/strides (n entries each) and its masks
 * against an input shape, TensorFlow's way. NULL on success, else a short
 * description of what is wrong. */
const char *nn_strided_slice_plan(const int64_t *in_dims, int rank, const int64_t *begin,
                                  const int64_t *end, const int64_t *strides, int n,
                                  int64_t begin_mask, int64_t end_mask, int64_t ellipsis_mask,
                                  int64_t new_axis_mask, int64_t shrink_axis_mask,
                                  nn_slice *plan);
void nn_strided_slice(const nn_slice *plan, const void *in, size_t elem_size, void *out);

/* out[o][i][j] = params[o][indices[i]][j] for params [outer, axis_dim, inner].
 * Returns the position of the first index out of range (nothing written
 * then), or -1. */
int64_t nn_gather(const void *params, int64_t outer, int64_t axis_dim, int64_t inner,
                  size_t elem_size, const int32_t *indices, int64_t n_indices, void *out);

#endif
