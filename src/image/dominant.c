/* Dominant colours: k-means in L*a*b* over a small thumbnail, clusters
 * named from the palette, equal names merged. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

#define DOMINANT_THUMB_SIDE 64   /* 4096 pixels: plenty for colour shares */
#define DOMINANT_K 6
#define DOMINANT_ITERATIONS 10
#define DOMINANT_SEED 0x5EEDC0104ull

/* splitmix64: a fixed-seed generator so results never vary between runs. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static float distance2(const float a[3], const float b[3])
{
    float d0 = a[0] - b[0], d1 = a[1] - b[1], d2 = a[2] - b[2];
    return d0 * d0 + d1 * d1 + d2 * d2;
}

static int nearest_centre(const float p[3], float centres[][3], int k)
{
    int best = 0;
    float best_d = distance2(p, centres[0]);
    for (int c = 1; c < k; c++) {
        float d = distance2(p, centres[c]);
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    return best;
}

/* k-means++ seeding: each next centre drawn with probability proportional
 * to its squared distance from the centres so far. Stops early when every
 * pixel already sits on a centre (images with fewer colours than k). */
static int seed_centres(float (*lab)[3], size_t n, float centres[][3], float *d2)
{
    uint64_t rng = DOMINANT_SEED;
    memcpy(centres[0], lab[next_random(&rng) % n], sizeof centres[0]);
    int k = 1;
    for (size_t i = 0; i < n; i++)
        d2[i] = distance2(lab[i], centres[0]);
    while (k < DOMINANT_K) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            total += d2[i];
        if (total <= 1e-6)
            break;
        double target = (double)(next_random(&rng) >> 11) / 9007199254740992.0 * total;
        size_t pick = n - 1;
        for (size_t i = 0; i < n; i++) {
            target -= d2[i];
            if (target < 0) {
                pick = i;
                break;
            }
        }
        memcpy(centres[k], lab[pick], sizeof centres[k]);
        for (size_t i = 0; i < n; i++) {
            float d = distance2(lab[i], centres[k]);
            if (d < d2[i])
                d2[i] = d;
        }
        k++;
    }
    return k;
}

static void run_kmeans(float (*lab)[3], size_t n, float centres[][3], int k, size_t *counts)
{
    for (int iter = 0; iter <= DOMINANT_ITERATIONS; iter++) {
        double sums[DOMINANT_K][3] = {{0}};
        memset(counts, 0, (size_t)k * sizeof *counts);
        for (size_t i = 0; i < n; i++) {
            int c = nearest_centre(lab[i], centres, k);
            counts[c]++;
            for (int j = 0; j < 3; j++)
                sums[c][j] += lab[i][j];
        }
        if (iter == DOMINANT_ITERATIONS)
            break;   /* the last pass only counts the final assignment */
        for (int c = 0; c < k; c++)
            if (counts[c])
                for (int j = 0; j < 3; j++)
                    centres[c][j] = (float)(sums[c][j] / (double)counts[c]);
    }
}

static int by_share_desc(const void *pa, const void *pb)
{
    const cs_color_share *a = pa, *b = pb;
    if (a->share != b->share)
        return a->share > b->share ? -1 : 1;
    return strcmp(a->name, b->name);
}

int image_dominant_colors(const cs_image *image, cs_color_share *out, int max_out)
{
    if (!image || !image->pixels || image->width <= 0 || image->height <= 0 || !out ||
        max_out <= 0)
        return 0;
    cs_image thumb;
    /* No error channel here: without memory the image simply gets no
     * colours, which callers already handle. */
    if (image_thumbnail(image, DOMINANT_THUMB_SIDE, &thumb, NULL) != CS_OK)
        return 0;
    size_t n = (size_t)thumb.width * (size_t)thumb.height;
    float (*lab)[3] = malloc(n * sizeof *lab);
    float *d2 = malloc(n * sizeof *d2);
    if (!lab || !d2) {
        free(lab);
        free(d2);
        image_free(&thumb);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = thumb.pixels + 3 * i;
        color_srgb_to_lab(p[0], p[1], p[2], lab[i]);
    }
    image_free(&thumb);

    float centres[DOMINANT_K][3];
    size_t counts[DOMINANT_K];
    int k = seed_centres(lab, n, centres, d2);
    run_kmeans(lab, n, centres, k, counts);
    free(lab);
    free(d2);

    cs_color_share merged[DOMINANT_K];
    int m = 0;
    for (int c = 0; c < k; c++) {
        if (!counts[c])
            continue;
        const char *name = color_name_for_lab(centres[c]);
        float share = (float)((double)counts[c] / (double)n);
        int at = 0;
        while (at < m && strcmp(merged[at].name, name) != 0)
            at++;
        if (at == m) {
            merged[m].name = name;
            merged[m].share = share;
            memcpy(merged[m].lab, centres[c], sizeof merged[m].lab);
            m++;
            continue;
        }
        float total = merged[at].share + share;   /* share-weighted centre */
        for (int j = 0; j < 3; j++)
            merged[at].lab[j] =
                (merged[at].lab[j] * merged[at].share + centres[c][j] * share) / total;
        merged[at].share = total;
    }
    qsort(merged, (size_t)m, sizeof merged[0], by_share_desc);
    int written = m < max_out ? m : max_out;
    memcpy(out, merged, (size_t)written * sizeof *out);
    return written;
}
