/* Helpers shared by the vector-store tests: a seeded generator, unit
 * vectors, a brute-force reference search and scratch folders. */
#ifndef CS_TEST_VEC_TESTUTIL_H
#define CS_TEST_VEC_TESTUTIL_H

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"

typedef struct test_rng {
    uint64_t s;
} test_rng;

static inline uint64_t rng_next(test_rng *r)   /* splitmix64 */
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static inline double rng_uniform(test_rng *r)   /* (0, 1) */
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static inline double rng_normal(test_rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* A random direction (dim <= 4096), normalised in double precision. */
static inline void rng_unit_vector(test_rng *r, float *x, int dim)
{
    double tmp[4096], norm = 0;
    for (int i = 0; i < dim; i++) {
        tmp[i] = rng_normal(r);
        norm += tmp[i] * tmp[i];
    }
    norm = sqrt(norm);
    for (int i = 0; i < dim; i++)
        x[i] = (float)(tmp[i] / norm);
}

static inline double dot_ref(const float *a, const float *b, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Brute-force top-k by inner product over n rows: plain loops, a separate
 * implementation from FAISS. Writes row numbers and scores, best first. */
static inline void topk_ref(const float *data, size_t n, int dim, const float *q, int k,
                            size_t *rows, double *scores)
{
    for (int j = 0; j < k; j++)
        scores[j] = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        double s = dot_ref(data + i * (size_t)dim, q, dim);
        if (s <= scores[k - 1])
            continue;
        int j = k - 1;
        while (j > 0 && scores[j - 1] < s) {
            scores[j] = scores[j - 1];
            rows[j] = rows[j - 1];
            j--;
        }
        scores[j] = s;
        rows[j] = i;
    }
}

/* A fresh folder under `base` (created if missing); malloc'd path. */
static inline char *make_scratch(const char *base, const char *name)
{
    cs_error err;
    if (fs_mkdir_p(base, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return NULL;
    }
    size_t n = strlen(base) + strlen(name) + 16;
    char *dir = malloc(n);
    if (!dir)
        return NULL;
    snprintf(dir, n, "%s/%s-XXXXXX", base, name);
    if (!mkdtemp(dir)) {
        perror(dir);
        free(dir);
        return NULL;
    }
    return dir;
}

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void remove_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static inline int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

#endif
