/* Perceptual hash: the sign pattern of the lowest DCT frequencies of a
 * 32x32 luma thumbnail relative to their median. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define PHASH_SIDE 32
#define PHASH_LOW 8
/* Coefficients that equal the median in exact arithmetic (flat images,
 * symmetric gradients) come out of floating point with noise around 1e-13 of
 * the largest one; within this relative margin they count as "not above",
 * so the hash does not depend on rounding. */
#define PHASH_MARGIN 1e-9

static int compare_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

uint64_t phash_from_luma32(const float luma[PHASH_SIDE * PHASH_SIDE])
{
    /* Unnormalised 2-D DCT-II, only the 8x8 lowest frequencies:
     * C(u,v) = sum_y sum_x L[y][x] cos(pi (2y+1) u / 64) cos(pi (2x+1) v / 64). */
    double basis[PHASH_LOW][PHASH_SIDE];
    for (int u = 0; u < PHASH_LOW; u++)
        for (int x = 0; x < PHASH_SIDE; x++)
            basis[u][x] = cos(M_PI * (2 * x + 1) * u / (2.0 * PHASH_SIDE));
    double columns[PHASH_LOW][PHASH_SIDE];   /* vertical transform of each column */
    for (int u = 0; u < PHASH_LOW; u++)
        for (int x = 0; x < PHASH_SIDE; x++) {
            double s = 0;
            for (int y = 0; y < PHASH_SIDE; y++)
                s += basis[u][y] * luma[y * PHASH_SIDE + x];
            columns[u][x] = s;
        }
    double coef[PHASH_LOW * PHASH_LOW], largest = 0;
    for (int u = 0; u < PHASH_LOW; u++)
        for (int v = 0; v < PHASH_LOW; v++) {
            double s = 0;
            for (int x = 0; x < PHASH_SIDE; x++)
                s += columns[u][x] * basis[v][x];
            coef[u * PHASH_LOW + v] = s;
            if (fabs(s) > largest)
                largest = fabs(s);
        }
    double sorted[PHASH_LOW * PHASH_LOW];
    memcpy(sorted, coef, sizeof sorted);
    qsort(sorted, PHASH_LOW * PHASH_LOW, sizeof sorted[0], compare_double);
    double median = (sorted[31] + sorted[32]) / 2;
    double threshold = median + PHASH_MARGIN * largest;
    uint64_t hash = 0;
    for (int i = 0; i < PHASH_LOW * PHASH_LOW; i++)
        if (coef[i] > threshold)
            hash |= 1ull << (63 - i);
    return hash;
}

uint64_t image_phash(const cs_image *image)
{
    if (!image || !image->pixels || image->width <= 0 || image->height <= 0)
        return 0;
    cs_image small;
    if (image_resize(image, PHASH_SIDE, PHASH_SIDE, &small, NULL) != CS_OK)
        return 0;   /* out of memory for 32x32: no hash rather than a wrong one */
    float luma[PHASH_SIDE * PHASH_SIDE];
    for (int i = 0; i < PHASH_SIDE * PHASH_SIDE; i++) {
        const uint8_t *p = small.pixels + 3 * i;
        luma[i] = 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];   /* ITU-R BT.601 */
    }
    image_free(&small);
    return phash_from_luma32(luma);
}

int phash_distance(uint64_t a, uint64_t b)
{
    return __builtin_popcountll(a ^ b);
}
