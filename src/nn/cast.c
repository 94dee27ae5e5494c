/* Conversions between float32, int32 and bool. */
#include "nn/nn_internal.h"

static int32_t f32_to_i32(float v)
{
    if (v != v)
        return 0;
    if (v >= 2147483647.0f)
        return INT32_MAX;
    if (v <= -2147483648.0f)
        return INT32_MIN;
    return (int32_t)v;   /* truncates toward zero */
}

NN_HOT void nn_cast(const void *in, nn_dtype from, void *out, nn_dtype to, size_t n)
{
    /* the common conversions as plain loops (they vectorise) */
    if (from == NN_BOOL && to == NN_F32) {
        const uint8_t *s = in;
        float *d = out;
        for (size_t i = 0; i < n; i++)
            d[i] = s[i] ? 1.0f : 0.0f;
        return;
    }
    if (from == NN_I32 && to == NN_F32) {
        const int32_t *s = in;
        float *d = out;
        for (size_t i = 0; i < n; i++)
            d[i] = (float)s[i];
        return;
    }
    /* Same-size conversions may run in place, so read each element before
     * writing it. */
    for (size_t i = 0; i < n; i++) {
        float f = 0.0f;
        int32_t k = 0;
        uint8_t b = 0;
        switch (from) {
        case NN_F32: f = ((const float *)in)[i]; k = f32_to_i32(f); b = f != 0.0f; break;
        case NN_I32: k = ((const int32_t *)in)[i]; f = (float)k; b = k != 0; break;
        case NN_BOOL: b = ((const uint8_t *)in)[i] != 0; f = b; k = b; break;
        }
        switch (to) {
        case NN_F32: ((float *)out)[i] = f; break;
        case NN_I32: ((int32_t *)out)[i] = k; break;
        case NN_BOOL: ((uint8_t *)out)[i] = b; break;
        }
    }
}
