/* The few-row GEMM over float32, float16 and int8 weights (narrow_gemm.h)
 * against a double-precision product of the same weights, and the half
 * conversions against their definition: every half through
 * clip_half_to_float equals sign * mantissa * 2^exponent computed with
 * ldexp, and clip_float_to_half picks the nearest half (ties to the even
 * one) for random floats, halfway points and the overflow edge. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "models/clip/narrow_gemm.h"

static uint64_t state = 42;

static double uniform(void)
{
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(state >> 11) / 9007199254740992.0;
}

static float half_reference(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return (float)((h & 0x8000) ? -v : v);
}

static void test_half_to_float(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float got = clip_half_to_float((uint16_t)h), want = half_reference((uint16_t)h);
        if (isnan(want) ? !isnan(got) : got != want || signbit(got) != signbit(want))
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
}

/* Whether h is the half nearest to f, ties to the even mantissa. */
static int is_nearest(float f, uint16_t h)
{
    if (fabsf(f) >= 65520.0f)
        return (h & 0x7fff) == 0x7c00 && !!(h & 0x8000) == !!signbit(f);
    double got = clip_half_to_float(h), d = fabs((double)f - got);
    for (int step = -1; step <= 1; step += 2) {
        uint16_t n = (uint16_t)(h + step);
        if ((n & 0x7c00) == 0x7c00 || ((h & 0x7fff) == 0 && step < 0))
            continue;   /* no neighbour beyond the largest finite or below zero */
        double other = fabs((double)f - clip_half_to_float(n));
        if (other < d || (other == d && (h & 1)))
            return 0;
    }
    return 1;
}

static void test_float_to_half(void)
{
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        float f = (float)((uniform() - 0.5) * ldexp(1.0, (int)(uniform() * 44) - 28));
        if (!is_nearest(f, clip_float_to_half(f)))
            bad++;
    }
    for (uint32_t h = 0; h < 0x7bff; h++) {   /* the midpoint of h and h + 1 */
        float mid = (float)(((double)clip_half_to_float((uint16_t)h) +
                             clip_half_to_float((uint16_t)(h + 1))) / 2);
        uint16_t got = clip_float_to_half(mid);
        if (got != ((h & 1) ? h + 1 : h) || clip_float_to_half(-mid) != (got | 0x8000))
            bad++;
    }
    CHECK_INT_EQ(bad, 0);
    CHECK_INT_EQ(clip_float_to_half(65504.0f), 0x7bff);
    CHECK_INT_EQ(clip_float_to_half(65519.0f), 0x7bff);
    CHECK_INT_EQ(clip_float_to_half(65520.0f), 0x7c00);
    CHECK_INT_EQ(clip_float_to_half(-INFINITY), 0xfc00);
    CHECK(clip_float_to_half(NAN) > 0x7c00 && clip_float_to_half(NAN) <= 0x7fff);
    CHECK_INT_EQ(clip_float_to_half(ldexpf(1.0f, -25)), 0);   /* a tie: to even, zero */
    CHECK_INT_EQ(clip_float_to_half(ldexpf(1.5f, -25)), 1);
}

/* One shape in one weight type: every output against the double product,
 * relative to the sum of |w x| (the scale the float32 rounding works at),
 * over a split of the output channels as the towers make one. */
static void check_shape(clip_wtype type, int rows, int in, int out)
{
    size_t nw = (size_t)out * in;
    float *wf = malloc(nw * sizeof *wf), *x = malloc((size_t)rows * in * sizeof *x);
    uint16_t *wh = malloc(nw * sizeof *wh);
    int8_t *wq = malloc(nw);
    float *scale = malloc((size_t)out * sizeof *scale), *bias = malloc((size_t)out * sizeof *bias);
    float *y = malloc((size_t)rows * out * sizeof *y), *wide = malloc(nw * sizeof *wide);
    CHECK(wf && x && wh && wq && scale && bias && y && wide);
    if (!wf || !x || !wh || !wq || !scale || !bias || !y || !wide)
        return;
    for (size_t i = 0; i < nw; i++) {
        wf[i] = (float)(uniform() - 0.5) * 0.1f;
        wh[i] = clip_float_to_half(wf[i]);
        wq[i] = (int8_t)(lrint(uniform() * 254.0) - 127);
    }
    for (int c = 0; c < out; c++) {
        scale[c] = (float)(0.001 + 0.01 * uniform());
        bias[c] = (float)(uniform() - 0.5);
    }
    for (size_t i = 0; i < (size_t)rows * in; i++)
        x[i] = (float)(uniform() * 4.0 - 2.0);
    clip_wmatrix m = {.type = type, .bias = bias, .in = in, .out = out};
    m.w = type == CLIP_W_F16 ? (const void *)wh : type == CLIP_W_I8 ? (const void *)wq
                                                                    : (const void *)wf;
    m.scale = type == CLIP_W_I8 ? scale : NULL;
    int split = out / 3 & ~15;   /* two parts, the first a multiple of 16 as in towers.c */
    clip_narrow_gemm(&m, x, rows, 0, split, y);
    clip_narrow_gemm(&m, x, rows, split, out, y);
    clip_widen_rows(&m, 0, out, wide);
    double worst = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < out; c++) {
            double want = bias[c], mag = fabs(bias[c]);
            for (int k = 0; k < in; k++) {
                double w = type == CLIP_W_F16 ? clip_half_to_float(wh[(size_t)c * in + k])
                           : type == CLIP_W_I8 ? (double)scale[c] * wq[(size_t)c * in + k]
                                               : wf[(size_t)c * in + k];
                want += w * x[(size_t)r * in + k];
                mag += fabs(w * x[(size_t)r * in + k]);
                if (r == 0 && fabs(wide[(size_t)c * in + k] - w) > 1e-7 * fabs(w))
                    worst = INFINITY;   /* the widened panel must hold the same weights */
            }
            double e = fabs(y[(size_t)r * out + c] - want) / (mag > 0 ? mag : 1);
            worst = e > worst ? e : worst;
        }
    if (!(worst < 1e-6)) {
        fprintf(stderr, "type %d, %d rows x %d in x %d out: relative error %g\n", (int)type,
                rows, in, out, worst);
        check_failures++;
    }
    free(wf);
    free(x);
    free(wh);
    free(wq);
    free(scale);
    free(bias);
    free(y);
    free(wide);
}

int main(void)
{
    test_half_to_float();
    test_float_to_half();
    /* rows: every tile height and remainder; in: with and without a tail
     * under 8; out: blocks of four and single channels. */
    static const int shapes[][3] = {{1, 8, 4},    {2, 16, 5},   {3, 13, 7},  {4, 64, 33},
                                    {5, 96, 48},  {7, 3, 9},    {16, 512, 64}, {37, 40, 21},
                                    {80, 128, 70}, {6, 1, 1}};
    for (int t = 0; t < 3; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_shape((clip_wtype)t, shapes[s][0], shapes[s][1], shapes[s][2]);
    CHECK_DONE();
}
