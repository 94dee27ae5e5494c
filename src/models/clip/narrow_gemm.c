/* Few-row linear layers over float32, float16 or int8 weights (narrow_gemm.h). */
#include "models/clip/narrow_gemm.h"

#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

uint16_t clip_float_to_half(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
    if (a >= 0x7f800000u)                      /* infinity, NaN (kept quiet) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u)                      /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {                     /* below 2^-14: a half subnormal */
        if (a < 0x33000000u)                   /* <= 2^-25: rounds to zero */
            return (uint16_t)sign;
        uint32_t e = a >> 23, mant = (a & 0x7fffffu) | 0x800000u;
        uint32_t s = 126 - e;                  /* 14..24: units of 2^-24 */
        uint32_t q = mant >> s, rem = mant & ((1u << s) - 1), half = 1u << (s - 1);
        if (rem > half || (rem == half && (q & 1)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t h = (a >> 13) - (112u << 10), rem = a & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;                                   /* a carry into the exponent is right */
    return (uint16_t)(sign | h);
}

float clip_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0) {
        float f = (float)m * (1.0f / 16777216.0f);   /* m * 2^-24, exact */
        return sign ? -f : f;
    }
    uint32_t bits = e == 31 ? sign | 0x7f800000u | (m << 13) : sign | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline float weight_at(const clip_wmatrix *m, size_t at)
{
    switch (m->type) {
    case CLIP_W_F16:
        return clip_half_to_float(((const uint16_t *)m->w)[at]);
    case CLIP_W_I8:
        return (float)((const int8_t *)m->w)[at];
    default:
        return ((const float *)m->w)[at];
    }
}

void clip_widen_rows(const clip_wmatrix *m, int c0, int c1, float *panel)
{
    for (int c = c0; c < c1; c++) {
        float s = m->scale ? m->scale[c] : 1.0f;
        float *row = panel + (size_t)(c - c0) * m->in;
        for (int k = 0; k < m->in; k++)
            row[k] = s * weight_at(m, (size_t)c * m->in + k);
    }
}

static inline void store(const clip_wmatrix *m, float sum, int r, int c, float *y)
{
    if (m->scale)
        sum *= m->scale[c];
    y[(size_t)r * m->out + c] = sum + (m->bias ? m->bias[c] : 0.0f);
}

/* The portable loop: one output channel, one row at a time. */
static void gemm_plain(const clip_wmatrix *m, const float *x, int rows, int c0, int c1,
                       float *y)
{
    for (int c = c0; c < c1; c++)
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * m->in;
            float sum = 0.0f;
            for (int k = 0; k < m->in; k++)
                sum += weight_at(m, (size_t)c * m->in + k) * xr[k];
            store(m, sum, r, c, y);
        }
}

#ifdef HAVE_X86
#define AVX __attribute__((target("avx2,fma,f16c")))
#define AVX_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

/* Eight weights from `at`, as floats. */
AVX_INLINE __m256 load8(clip_wtype type, const void *w, size_t at)
{
    if (type == CLIP_W_F16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)w + at)));
    if (type == CLIP_W_I8)
        return _mm256_cvtepi32_ps(
            _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)((const int8_t *)w + at))));
    return _mm256_loadu_ps((const float *)w + at);
}

AVX_INLINE float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* NC output channels from c times NR rows from r0: NC * NR accumulators,
 * each weight vector widened once and used NR times. NC and NR are
 * constants at every call, so the arrays live in registers. */
AVX_INLINE void tile(const clip_wmatrix *m, clip_wtype type, int NC, int NR, const float *x,
                     int r0, int c, float *y)
{
    const int in = m->in;
    const float *xr[3];
    size_t wrow[4];
    for (int r = 0; r < NR; r++)
        xr[r] = x + (size_t)(r0 + r) * in;
    for (int i = 0; i < NC; i++)
        wrow[i] = (size_t)(c + i) * in;
    __m256 acc[4][3];
    for (int i = 0; i < NC; i++)
        for (int r = 0; r < NR; r++)
            acc[i][r] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= in; k += 8) {
        __m256 xv[3];
        for (int r = 0; r < NR; r++)
            xv[r] = _mm256_loadu_ps(xr[r] + k);
        for (int i = 0; i < NC; i++) {
            __m256 wv = load8(type, m->w, wrow[i] + (size_t)k);
            for (int r = 0; r < NR; r++)
                acc[i][r] = _mm256_fmadd_ps(wv, xv[r], acc[i][r]);
        }
    }
    for (int i = 0; i < NC; i++)
        for (int r = 0; r < NR; r++) {
            float sum = hsum(acc[i][r]);
            for (int t = k; t < in; t++)
                sum += weight_at(m, wrow[i] + (size_t)t) * xr[r][t];
            store(m, sum, r0 + r, c + i, y);
        }
}

/* Channels [c0, c1) in blocks of four (then one by one), every row for each
 * block before the next: the block's weights come from memory once and from
 * L1 for the other rows. */
AVX_INLINE void gemm_typed(const clip_wmatrix *m, clip_wtype type, const float *x, int rows,
                           int c0, int c1, float *y)
{
    int c = c0;
    for (; c + 4 <= c1; c += 4) {
        int r = 0;
        for (; r + 3 <= rows; r += 3)
            tile(m, type, 4, 3, x, r, c, y);
        if (rows - r == 2)
            tile(m, type, 4, 2, x, r, c, y);
        else if (rows - r == 1)
            tile(m, type, 4, 1, x, r, c, y);
    }
    for (; c < c1; c++) {
        int r = 0;
        for (; r + 3 <= rows; r += 3)
            tile(m, type, 1, 3, x, r, c, y);
        for (; r < rows; r++)
            tile(m, type, 1, 1, x, r, c, y);
    }
}

AVX static void gemm_avx2(const clip_wmatrix *m, const float *x, int rows, int c0, int c1,
                          float *y)
{
    switch (m->type) {
    case CLIP_W_F16:
        gemm_typed(m, CLIP_W_F16, x, rows, c0, c1, y);
        break;
    case CLIP_W_I8:
        gemm_typed(m, CLIP_W_I8, x, rows, c0, c1, y);
        break;
    default:
        gemm_typed(m, CLIP_W_F32, x, rows, c0, c1, y);
        break;
    }
}

static int has_avx2(void)
{
    /* Threads may race to fill it in; they all find the same answer. */
    static int cached = -1;
    int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (v < 0) {
        __builtin_cpu_init();
        v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c");
        __atomic_store_n(&cached, v, __ATOMIC_RELAXED);
    }
    return v;
}
#endif

void clip_narrow_gemm(const clip_wmatrix *m, const float *x, int rows, int c0, int c1,
                      float *y)
{
#ifdef HAVE_X86
    if (has_avx2()) {
        gemm_avx2(m, x, rows, c0, c1, y);
        return;
    }
#endif
    gemm_plain(m, x, rows, c0, c1, y);
}
