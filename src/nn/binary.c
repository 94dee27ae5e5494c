/* Elementwise binary ops with NumPy broadcasting. Both operands' strides are
 * expressed in output space (0 where an operand is broadcast), adjacent axes
 * with compatible strides are merged, and the innermost axis runs as a tight
 * loop in one of three shapes: both operands contiguous, or one of them a
 * scalar. So a per-channel scale or a residual add is one vector loop. */
#include <math.h>

#include "nn/nn_internal.h"

bool nn_broadcast_dims(const int64_t *a, const int64_t *b, int rank, int64_t *out)
{
    for (int i = 0; i < rank; i++) {
        if (a[i] == b[i] || b[i] == 1)
            out[i] = a[i];
        else if (a[i] == 1)
            out[i] = b[i];
        else
            return false;
    }
    return true;
}

/* TensorFlow's floor division and modulo (round toward -inf; the modulo has
 * the divisor's sign). The int versions are called with b != 0. */
static inline int32_t floordiv_i32(int32_t a, int32_t b)
{
    int64_t q = (int64_t)a / b, r = (int64_t)a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        q--;
    return (int32_t)(uint32_t)q;   /* INT_MIN / -1 wraps */
}

static inline int32_t floormod_i32(int32_t a, int32_t b)
{
    int64_t r = (int64_t)a % b;
    if (r != 0 && ((r < 0) != (b < 0)))
        r += b;
    return (int32_t)r;
}

static inline float floormod_f32(float a, float b)
{
    float r = fmodf(a, b);
    return r != 0.0f && ((b < 0.0f) != (r < 0.0f)) ? r + b : r;
}

#define F32_OP(op, x, y)                                                            \
    ((op) == NN_BIN_ADD ? (x) + (y)                                                 \
     : (op) == NN_BIN_SUB ? (x) - (y)                                               \
     : (op) == NN_BIN_MUL ? (x) * (y)                                               \
     : (op) == NN_BIN_DIV ? (x) / (y)                                               \
     : (op) == NN_BIN_MIN ? ((x) < (y) || (x) != (x) ? (x) : (y))                   \
     : (op) == NN_BIN_MAX ? ((x) > (y) || (x) != (x) ? (x) : (y))                   \
     : (op) == NN_BIN_SQUARED_DIFF ? ((x) - (y)) * ((x) - (y))                      \
     : (op) == NN_BIN_FLOOR_DIV ? floorf((x) / (y))                                 \
     : floormod_f32((x), (y)))

/* One innermost run: n elements, a and b advancing by sa and sb (0 or 1). */
NN_HOT static void run_f32(nn_binary_op op, const float *a, int64_t sa, const float *b,
                           int64_t sb, float *out, int64_t n)
{
    /* Separate loops per op and stride pattern so each one vectorises. */
#define LOOPS(OPC)                                                                  \
    case OPC:                                                                       \
        if (sa && sb)                                                               \
            for (int64_t i = 0; i < n; i++) out[i] = F32_OP(OPC, a[i], b[i]);       \
        else if (sa)                                                                \
            for (int64_t i = 0; i < n; i++) out[i] = F32_OP(OPC, a[i], b[0]);       \
        else if (sb)                                                                \
            for (int64_t i = 0; i < n; i++) out[i] = F32_OP(OPC, a[0], b[i]);       \
        else                                                                        \
            for (int64_t i = 0; i < n; i++) out[i] = F32_OP(OPC, a[0], b[0]);       \
        break;
    switch (op) {
        LOOPS(NN_BIN_ADD)
        LOOPS(NN_BIN_SUB)
        LOOPS(NN_BIN_MUL)
        LOOPS(NN_BIN_DIV)
        LOOPS(NN_BIN_MIN)
        LOOPS(NN_BIN_MAX)
        LOOPS(NN_BIN_SQUARED_DIFF)
        LOOPS(NN_BIN_FLOOR_DIV)
        LOOPS(NN_BIN_FLOOR_MOD)
    case NN_BIN_EQUAL:
        break;
    }
#undef LOOPS
}

static void run_equal_f32(const float *a, int64_t sa, const float *b, int64_t sb, uint8_t *out,
                          int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i * sa] == b[i * sb];
}

static void run_equal_i32(const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                          uint8_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i * sa] == b[i * sb];
}

/* Integer ops wrap like TensorFlow's (two's complement), computed unsigned
 * so C's signed overflow never happens. */
static bool run_i32(nn_binary_op op, const int32_t *a, int64_t sa, const int32_t *b, int64_t sb,
                    int32_t *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t x = a[i * sa], y = b[i * sb];
        uint32_t ux = (uint32_t)x, uy = (uint32_t)y;
        int32_t r;
        switch (op) {
        case NN_BIN_ADD: r = (int32_t)(ux + uy); break;
        case NN_BIN_SUB: r = (int32_t)(ux - uy); break;
        case NN_BIN_MUL: r = (int32_t)(ux * uy); break;
        case NN_BIN_MIN: r = x < y ? x : y; break;
        case NN_BIN_MAX: r = x > y ? x : y; break;
        case NN_BIN_SQUARED_DIFF: r = (int32_t)((ux - uy) * (ux - uy)); break;
        case NN_BIN_DIV:   /* TF's integer Div truncates */
            if (y == 0)
                return false;
            r = (int32_t)(uint32_t)((int64_t)x / y);
            break;
        case NN_BIN_FLOOR_DIV:
            if (y == 0)
                return false;
            r = floordiv_i32(x, y);
            break;
        case NN_BIN_FLOOR_MOD:
            if (y == 0)
                return false;
            r = floormod_i32(x, y);
            break;
        default:
            r = 0;
            break;
        }
        out[i] = r;
    }
    return true;
}

bool nn_binary(nn_binary_op op, nn_dtype dtype, const void *a, const int64_t *a_dims,
               const void *b, const int64_t *b_dims, int rank, void *out)
{
    /* Output dims and per-operand strides in output space, merged. */
    int64_t dims[NN_MAX_RANK], sa[NN_MAX_RANK], sb[NN_MAX_RANK];
    int n = 0;
    {
        int64_t od[NN_MAX_RANK], as[NN_MAX_RANK], bs[NN_MAX_RANK];
        nn_broadcast_dims(a_dims, b_dims, rank, od);
        int64_t ta = 1, tb = 1;
        for (int i = rank - 1; i >= 0; i--) {
            as[i] = a_dims[i] == 1 ? 0 : ta;
            bs[i] = b_dims[i] == 1 ? 0 : tb;
            ta *= a_dims[i];
            tb *= b_dims[i];
        }
        for (int i = 0; i < rank; i++) {
            if (od[i] == 1)
                continue;
            /* Merge with the previous axis when both operands stay linear. */
            if (n > 0 && sa[n - 1] == as[i] * od[i] && sb[n - 1] == bs[i] * od[i]) {
                dims[n - 1] *= od[i];
                sa[n - 1] = as[i];
                sb[n - 1] = bs[i];
                continue;
            }
            dims[n] = od[i];
            sa[n] = as[i];
            sb[n] = bs[i];
            n++;
        }
        if (n == 0) {
            dims[0] = 1;
            sa[0] = sb[0] = 0;
            n = 1;
        }
    }
    int64_t inner = dims[n - 1], ia = sa[n - 1], ib = sb[n - 1];
    int64_t outer = nn_prod(dims, 0, n - 1);
    int64_t idx[NN_MAX_RANK] = {0};
    int64_t offa = 0, offb = 0;
    size_t esz = dtype == NN_F32 ? sizeof(float) : sizeof(int32_t);
    for (int64_t o = 0; o < outer; o++) {
        int64_t off = o * inner;
        const char *pa = (const char *)a + (size_t)offa * esz;
        const char *pb = (const char *)b + (size_t)offb * esz;
        if (op == NN_BIN_EQUAL) {
            uint8_t *po = (uint8_t *)out + off;
            if (dtype == NN_F32)
                run_equal_f32((const float *)pa, ia, (const float *)pb, ib, po, inner);
            else
                run_equal_i32((const int32_t *)pa, ia, (const int32_t *)pb, ib, po, inner);
        } else if (dtype == NN_F32) {
            run_f32(op, (const float *)pa, ia, (const float *)pb, ib, (float *)out + off, inner);
        } else if (!run_i32(op, (const int32_t *)pa, ia, (const int32_t *)pb, ib,
                            (int32_t *)out + off, inner)) {
            return false;
        }
        /* advance the outer odometer */
        for (int d = n - 2; d >= 0; d--) {
            offa += sa[d];
            offb += sb[d];
            if (++idx[d] < dims[d])
                break;
            offa -= sa[d] * dims[d];
            offb -= sb[d] * dims[d];
            idx[d] = 0;
        }
    }
    return true;
}

/* a * (a == b ? 1 : 0): CenterNet's peak mask, Mul(a, Cast(Equal(a, b))), in
 * one pass with the same arithmetic. */
NN_HOT void nn_mul_equal_mask(const float *a, const float *b, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float m = a[i] == b[i] ? 1.0f : 0.0f;
        out[i] = a[i] * m;
    }
}
