/* The C side of tools/bench/scale_vectors: builds a vector index of n
 * synthetic clustered vectors with vectors_build (the kind the library would
 * pick for n), and an exact index of the same vectors, and measures both in
 * one run. Prints one JSON object.
 *
 * usage: scale_vectors_driver N [--dim D] [--clusters C] [--spread S]
 *                               [--queries Q] [--seed X] [--dir DIR]
 *                               [--random-queries] [--among SHARE]
 *
 * Vectors: C centres drawn uniformly on the unit sphere; a vector is a
 * centre plus Gaussian noise of total norm about S (per coordinate
 * S / sqrt(D)), L2-normalised. Queries are Q more vectors drawn the same
 * way (not in the index), or with --random-queries directions drawn
 * uniformly, which the clusters do not help to find. Ids are 3 * row + 1, so they differ from rows.
 * --among SHARE (0 < SHARE < 1) also measures filtered searches
 * (vectors_search_among) among a scattered SHARE of the ids, as a filter
 * on a library's pictures makes them, against the exact index's. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "store/vectors.h"

#define BENCH_NAME "scale_vectors_driver"
#include "bench_util.h"

enum { K = 10 };

static uint64_t rng_state;

static uint64_t rng_next(void)   /* splitmix64 */
{
    uint64_t z = (rng_state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static double rng_normal(void)
{
    double u = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    double v = ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void normalise(float *x, int dim)
{
    double norm = 0;
    for (int i = 0; i < dim; i++)
        norm += (double)x[i] * x[i];
    norm = sqrt(norm);
    for (int i = 0; i < dim; i++)
        x[i] = (float)(x[i] / norm);
}

/* One vector near a random centre. */
static void draw(const float *centres, int nclusters, int dim, double spread, float *out)
{
    const float *c = centres + (size_t)(rng_next() % (uint64_t)nclusters) * (size_t)dim;
    double sigma = spread / sqrt((double)dim);
    for (int i = 0; i < dim; i++)
        out[i] = (float)(c[i] + sigma * rng_normal());
    normalise(out, dim);
}

/* Bytes the process has allocated (heap and mmapped blocks). */
static double allocated_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)mi.uordblks + (double)mi.hblkhd;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(double *v, int n, double p)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i];
}

struct among_result {
    size_t nallowed;
    double recall, p50_ms, p99_ms, exact_p50_ms;
};

/* Filtered searches among a scattered `share` of the ids (chosen by a hash
 * of the row, apart from the vectors' random stream): recall@K of `v`
 * against the exact index among the same ids, and both latencies. */
static cs_status measure_among(const vectors *v, const vectors *exact, size_t n,
                               const int64_t *ids, double share, const float *queries, int nq,
                               int dim, struct among_result *out, cs_error *err)
{
    int64_t *allowed = malloc(n * sizeof *allowed);
    double *lat = malloc((size_t)nq * sizeof *lat), *exact_lat = malloc((size_t)nq * sizeof *lat);
    if (!allowed || !lat || !exact_lat) {
        free(allowed);
        free(lat);
        free(exact_lat);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for the filtered searches");
    }
    size_t nallowed = 0;
    for (size_t r = 0; r < n; r++) {
        uint64_t h = (uint64_t)r * UINT64_C(0x9e3779b97f4a7c15);
        h ^= h >> 29;
        if ((double)(h % 1000000) < share * 1e6)
            allowed[nallowed++] = ids[r];
    }
    cs_status rc = CS_OK;
    long hits = 0, total = 0;
    for (int q = 0; q < nq && rc == CS_OK; q++) {
        const float *x = queries + (size_t)q * dim;
        int64_t truth[K], got[K];
        float scores[K];
        int nt = 0, ng = 0;
        double t0 = bench_now_s();
        rc = vectors_search_among(exact, x, K, allowed, nallowed, truth, scores, &nt, err);
        exact_lat[q] = bench_now_s() - t0;
        t0 = bench_now_s();
        if (rc == CS_OK)
            rc = vectors_search_among(v, x, K, allowed, nallowed, got, scores, &ng, err);
        lat[q] = bench_now_s() - t0;
        for (int i = 0; i < nt; i++) {
            total++;
            for (int j = 0; j < ng; j++)
                if (got[j] == truth[i]) {
                    hits++;
                    break;
                }
        }
    }
    if (rc == CS_OK) {
        out->nallowed = nallowed;
        out->recall = total ? (double)hits / (double)total : 0.0;
        out->p50_ms = 1e3 * percentile(lat, nq, 0.5);
        out->p99_ms = 1e3 * percentile(lat, nq, 0.99);
        out->exact_p50_ms = 1e3 * percentile(exact_lat, nq, 0.5);
    }
    free(allowed);
    free(lat);
    free(exact_lat);
    return rc;
}

static int fail(const char *what, const cs_error *err)
{
    fprintf(stderr, "scale_vectors_driver: %s: %s\n", what, err->message);
    return 1;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    if (argc < 2) {
        fprintf(stderr, "usage: scale_vectors_driver N [--dim D] [--clusters C] [--spread S] "
                        "[--queries Q] [--seed X] [--dir DIR] [--random-queries] "
                        "[--among SHARE]\n");
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    int dim = 512, nclusters = 200, nq = 200;
    double spread = 0.75;
    const char *dir = "/tmp";
    rng_state = 42;
    bool random_queries = false;
    double among = 0.0;
    for (int i = 2; i < argc; i += 2) {
        if (!strcmp(argv[i], "--random-queries")) {
            random_queries = true;
            i--;
        } else if (i + 1 >= argc) {
            fprintf(stderr, "scale_vectors_driver: %s needs a value\n", argv[i]);
            return 2;
        } else if (!strcmp(argv[i], "--dim"))
            dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--clusters"))
            nclusters = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--spread"))
            spread = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--queries"))
            nq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed"))
            rng_state = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--among"))
            among = atof(argv[i + 1]);
        else {
            fprintf(stderr, "scale_vectors_driver: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (n < 1 || dim < 1 || nclusters < 1 || nq < 1) {
        fprintf(stderr, "scale_vectors_driver: N, --dim, --clusters and --queries must be "
                        "positive\n");
        return 2;
    }
    if (among < 0.0 || among >= 1.0) {
        fprintf(stderr, "scale_vectors_driver: --among takes a share between 0 and 1\n");
        return 2;
    }

    float *centres = malloc((size_t)nclusters * (size_t)dim * sizeof *centres);
    float *data = malloc(n * (size_t)dim * sizeof *data);
    float *queries = malloc((size_t)nq * (size_t)dim * sizeof *queries);
    int64_t *ids = malloc(n * sizeof *ids);
    if (!centres || !data || !queries || !ids) {
        fprintf(stderr, "scale_vectors_driver: out of memory for %zu vectors\n", n);
        return 1;
    }
    for (int c = 0; c < nclusters; c++) {
        for (int i = 0; i < dim; i++)
            centres[(size_t)c * dim + i] = (float)rng_normal();
        normalise(centres + (size_t)c * dim, dim);
    }
    for (size_t r = 0; r < n; r++) {
        draw(centres, nclusters, dim, spread, data + r * (size_t)dim);
        ids[r] = (int64_t)r * 3 + 1;
    }
    for (int q = 0; q < nq; q++) {
        float *o = queries + (size_t)q * dim;
        draw(centres, nclusters, dim, spread, o);
        if (random_queries) {
            for (int i = 0; i < dim; i++)
                o[i] = (float)rng_normal();
            normalise(o, dim);
        }
    }

    cs_error err;
    double mem0 = allocated_bytes();
    double t0 = bench_now_s();
    vectors *v = NULL;
    if (vectors_build("bench", dim, n, ids, data, &v, &err) != CS_OK)
        return fail("vectors_build", &err);
    double build_s = bench_now_s() - t0;
    double mem = allocated_bytes() - mem0;

    char *file = fs_path_join(dir, "scale_vectors_bench.vec");
    if (!file)
        return 1;
    t0 = bench_now_s();
    if (vectors_save(v, file, 1, &err) != CS_OK)
        return fail("vectors_save", &err);
    double save_s = bench_now_s() - t0;
    int64_t disk = fs_file_size(file);
    vectors *loaded = NULL;
    t0 = bench_now_s();
    if (vectors_load(file, &loaded, &err) != CS_OK)
        return fail("vectors_load", &err);
    double load_s = bench_now_s() - t0;
    vectors_free(loaded);
    remove(file);
    free(file);

    /* The exact reference, built the way an exact library index is. */
    double emem0 = allocated_bytes();
    t0 = bench_now_s();
    vectors *exact = NULL;
    if (vectors_create("bench", dim, &exact, &err) != CS_OK ||
        vectors_add(exact, n, ids, data, &err) != CS_OK)
        return fail("exact index", &err);
    double exact_build_s = bench_now_s() - t0;
    double exact_mem = allocated_bytes() - emem0;

    double *lat = malloc((size_t)nq * sizeof *lat);
    double *exact_lat = malloc((size_t)nq * sizeof *exact_lat);
    int64_t *truth = malloc((size_t)nq * K * sizeof *truth);
    if (!lat || !exact_lat || !truth)
        return 1;
    int64_t got[K];
    float scores[K];
    int found = 0;
    for (int q = 0; q < nq; q++) {
        t0 = bench_now_s();
        if (vectors_search(exact, queries + (size_t)q * dim, K, truth + (size_t)q * K, scores,
                           &found, &err) != CS_OK)
            return fail("exact search", &err);
        exact_lat[q] = bench_now_s() - t0;
    }
    long hits = 0, total = 0;
    for (int q = 0; q < nq; q++) {
        t0 = bench_now_s();
        if (vectors_search(v, queries + (size_t)q * dim, K, got, scores, &found, &err) != CS_OK)
            return fail("search", &err);
        lat[q] = bench_now_s() - t0;
        for (int i = 0; i < K; i++) {
            total++;
            for (int j = 0; j < found; j++)
                if (got[j] == truth[(size_t)q * K + i]) {
                    hits++;
                    break;
                }
        }
    }
    struct among_result filtered = {0};
    if (among > 0.0 && measure_among(v, exact, n, ids, among, queries, nq, dim, &filtered,
                                     &err) != CS_OK)
        return fail("filtered search", &err);
    printf("{");
    if (among > 0.0)
        printf("\"among_share\": %g, \"among_ids\": %zu, \"among_recall_at_10\": %.4f, "
               "\"among_ms_p50\": %.3f, \"among_ms_p99\": %.3f, "
               "\"among_exact_ms_p50\": %.3f, ",
               among, filtered.nallowed, filtered.recall, filtered.p50_ms, filtered.p99_ms,
               filtered.exact_p50_ms);
    printf("\"n\": %zu, \"dim\": %d, \"clusters\": %d, \"spread\": %g, \"queries\": %d, "
           "\"kind\": \"%s\", \"nlist\": %lld, \"nprobe\": %d, "
           "\"build_s\": %.3f, \"memory_bytes\": %.0f, \"disk_bytes\": %lld, "
           "\"save_s\": %.3f, \"load_s\": %.3f, \"recall_at_10\": %.4f, "
           "\"search_ms_p50\": %.3f, \"search_ms_p99\": %.3f, "
           "\"exact_build_s\": %.3f, \"exact_memory_bytes\": %.0f, "
           "\"exact_search_ms_p50\": %.3f, \"exact_search_ms_p99\": %.3f}\n",
           n, dim, nclusters, spread, nq,
           vectors_get_kind(v) == VECTORS_EXACT ? "exact" : "ivf-sq8",
           (long long)vectors_nlist(v), vectors_nprobe(v), build_s, mem, (long long)disk, save_s,
           load_s, (double)hits / (double)total, 1e3 * percentile(lat, nq, 0.5),
           1e3 * percentile(lat, nq, 0.99), exact_build_s, exact_mem,
           1e3 * percentile(exact_lat, nq, 0.5), 1e3 * percentile(exact_lat, nq, 0.99));
    vectors_free(v);
    vectors_free(exact);
    free(lat);
    free(exact_lat);
    free(truth);
    free(centres);
    free(data);
    free(queries);
    free(ids);
    return 0;
}
