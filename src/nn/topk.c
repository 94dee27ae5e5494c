/* Top-k per row with a min-heap of the k best seen so far: one pass over the
 * row (CenterNet asks for 100 of 1.6 million), then the heap is sorted.
 * Order: larger value first; equal values keep the lower index first, as
 * TensorFlow's TopKV2 documents. NaN never enters the heap. */
#include <math.h>

#include "nn/nn_internal.h"

typedef struct entry {
    float v;
    int32_t i;
} entry;

/* a ranks below b (a is the worse of the two). */
static inline bool worse(entry a, entry b)
{
    return a.v < b.v || (a.v == b.v && a.i > b.i);
}

static void sift_down(entry *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(h[l], h[m]))
            m = l;
        if (r < n && worse(h[r], h[m]))
            m = r;
        if (m == i)
            return;
        entry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

size_t nn_topk_scratch_bytes(int64_t k)
{
    return (size_t)(k > 0 ? k : 1) * sizeof(entry);
}

void nn_topk(const float *in, int64_t rows, int64_t cols, int64_t k, float *values,
             int32_t *indices, void *scratch)
{
    entry *h = scratch;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = in + r * cols;
        int64_t n = 0;
        int64_t i = 0;
        /* fill the heap; NaN is skipped */
        for (; i < cols && n < k; i++) {
            if (x[i] != x[i])
                continue;
            h[n].v = x[i];
            h[n].i = (int32_t)i;
            n++;
        }
        for (int64_t j = n / 2 - 1; j >= 0; j--)
            sift_down(h, n, j);
        /* Later indices only enter with a strictly larger value. */
        for (; i < cols; i++) {
            if (x[i] > h[0].v) {
                h[0].v = x[i];
                h[0].i = (int32_t)i;
                sift_down(h, n, 0);
            }
        }
        /* Heap sort: pop the worst to the end, leaving best first. */
        for (int64_t end = n - 1; end > 0; end--) {
            entry t = h[0];
            h[0] = h[end];
            h[end] = t;
            sift_down(h, end, 0);
        }
        for (int64_t j = 0; j < n; j++) {
            values[r * k + j] = h[j].v;
            indices[r * k + j] = h[j].i;
        }
        /* NaNs can leave fewer than k candidates: pad with NaN, index 0. */
        for (int64_t j = n; j < k; j++) {
            values[r * k + j] = NAN;
            indices[r * k + j] = 0;
        }
    }
}
