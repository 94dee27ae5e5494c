/* Output size and padding of a convolution or pooling window, TensorFlow's
 * rules (tf.nn "Notes on padding"): SAME gives ceil(in / stride) outputs and
 * puts the odd padding cell after; VALID uses only whole windows. */
#include "nn/nn_internal.h"

#define WINDOW_LIMIT ((int64_t)1 << 40)

bool nn_window(int64_t in, int64_t k, int64_t stride, int64_t dilation, nn_padding mode,
               int64_t pad_before, int64_t pad_after, int64_t *out, int64_t *pad)
{
    if (in < 0 || k < 1 || stride < 1 || dilation < 1 || in > WINDOW_LIMIT ||
        k > WINDOW_LIMIT || stride > WINDOW_LIMIT || dilation > WINDOW_LIMIT ||
        pad_before < 0 || pad_after < 0 || pad_before > WINDOW_LIMIT || pad_after > WINDOW_LIMIT)
        return false;
    if ((k - 1) > WINDOW_LIMIT / dilation)
        return false;
    int64_t k_eff = (k - 1) * dilation + 1;
    int64_t o, p;
    switch (mode) {
    case NN_PADDING_SAME: {
        o = (in + stride - 1) / stride;
        int64_t total = (o - 1) * stride + k_eff - in;
        if (total < 0)
            total = 0;
        p = total / 2;
        break;
    }
    case NN_PADDING_VALID:
        o = in >= k_eff ? (in - k_eff) / stride + 1 : 0;
        p = 0;
        break;
    default:
        o = in + pad_before + pad_after >= k_eff
                ? (in + pad_before + pad_after - k_eff) / stride + 1 : 0;
        p = pad_before;
        break;
    }
    if (o < 1)
        return false;
    *out = o;
    *pad = p;
    return true;
}
