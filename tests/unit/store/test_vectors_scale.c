/* The approximate (IVF-SQ8) index, above VECTORS_EXACT_MAX: 60,000
 * synthetic clustered vectors (200 Gaussian clusters on the unit sphere,
 * 512 dimensions, L2-normalised) and 200 queries drawn the same way but not
 * indexed.
 *
 *  - vectors_build picks IVF above the threshold and exact below it (and
 *    follows CAPSEARCH_EXACT_MAX, refusing a value that is not a number);
 *  - recall@10 against brute force (cblas_sgemm over all rows, then a plain
 *    top-10 selection) is at least 0.95, and so is recall@10 among 1% and
 *    4% of the ids (vectors_search_among asked for 40) against brute force
 *    among them;
 *  - queries in random directions: recall@10 at least 0.85 unfiltered, and
 *    0.95 among 4% (asked for 40) and 30% (asked for 10) of the ids;
 *  - a save/load round trip gives bit-identical results, kind and nprobe;
 *  - removing 1,000 ids (among them true neighbours of the queries) hides
 *    them, adding them back restores recall, adding an id already present
 *    replaces its vector;
 *  - truncated, bit-flipped and structurally altered IVF files (checksum
 *    recomputed, so the structure checks are what refuse them) are refused;
 *  - vectors_needs_retrain and vectors_replace. */
#include <stdbool.h>
#include <stdlib.h>

#include <cblas.h>
#include <xxhash.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

enum { N = 60000, D = 512, CLUSTERS = 200, Q = 200, K = 10, NREMOVE = 1000 };
#define SPREAD 0.75   /* noise norm relative to the unit centre */
#define MODEL "scale-test"

static float *data;      /* N x D */
static int64_t *ids;     /* ids[row] = 5 * row + 2 */
static float queries[Q * D];
static int64_t truth[Q * K];

static void draw(test_rng *rng, const float *centres, float *out)
{
    const float *c = centres + (size_t)(rng_next(rng) % CLUSTERS) * D;
    double v[D], norm = 0;
    for (int i = 0; i < D; i++) {
        v[i] = c[i] + SPREAD / sqrt((double)D) * rng_normal(rng);
        norm += v[i] * v[i];
    }
    for (int i = 0; i < D; i++)
        out[i] = (float)(v[i] / sqrt(norm));
}

/* Exact top-K ids of every query over the rows not in `skip` (NULL: all). */
static void brute_force(const bool *skip)
{
    enum { BLOCK = 4096 };
    float *s = malloc((size_t)Q * BLOCK * sizeof *s);
    float best[Q][K];
    for (int q = 0; q < Q; q++)
        for (int j = 0; j < K; j++) {
            best[q][j] = -INFINITY;
            truth[q * K + j] = -1;
        }
    for (size_t r0 = 0; s && r0 < N; r0 += BLOCK) {
        int nb = N - r0 < BLOCK ? (int)(N - r0) : BLOCK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Q, nb, D, 1.0f, queries, D,
                    data + r0 * D, D, 0.0f, s, nb);
        for (int q = 0; q < Q; q++)
            for (int i = 0; i < nb; i++) {
                float x = s[(size_t)q * nb + i];
                if ((skip && skip[r0 + i]) || x <= best[q][K - 1])
                    continue;
                int j = K - 1;
                while (j > 0 && best[q][j - 1] < x) {
                    best[q][j] = best[q][j - 1];
                    truth[q * K + j] = truth[q * K + j - 1];
                    j--;
                }
                best[q][j] = x;
                truth[q * K + j] = ids[r0 + i];
            }
    }
    CHECK(s != NULL);
    free(s);
}

/* recall@K of vectors_search_among asking `depth` times K, against the
 * exact top K among a random subset of `share` of the rows (`truth` then
 * holds the subset's). */
static double subset_recall(const vectors *v, double share, int depth)
{
    bool *skip = malloc(N * sizeof *skip);
    int64_t *allowed = malloc(N * sizeof *allowed);
    int64_t *got = malloc((size_t)depth * K * sizeof *got);
    float *got_s = malloc((size_t)depth * K * sizeof *got_s);
    CHECK(skip && allowed && got && got_s);
    long hits = 0;
    if (skip && allowed && got && got_s) {
        test_rng rng = {77};
        size_t n = 0;
        for (size_t r = 0; r < N; r++) {
            skip[r] = (double)(rng_next(&rng) % 1000000) >= share * 1e6;
            if (!skip[r])
                allowed[n++] = ids[r];
        }
        brute_force(skip);
        cs_error err;
        for (int q = 0; q < Q; q++) {
            int found = 0;
            CHECK_OK(vectors_search_among(v, queries + q * D, depth * K, allowed, n, got, got_s,
                                          &found, &err), &err);
            CHECK_INT_EQ(found, depth * K);
            for (int i = 0; i < K; i++)
                for (int j = 0; j < K && j < found; j++)
                    hits += got[j] == truth[q * K + i];
        }
    }
    free(skip);
    free(allowed);
    free(got);
    free(got_s);
    return (double)hits / (Q * K);
}

/* recall@K of v against `truth`; also keeps each query's results. */
static double recall(const vectors *v, int64_t *got_ids, float *got_scores)
{
    long hits = 0;
    cs_error err;
    for (int q = 0; q < Q; q++) {
        int found = 0;
        CHECK_OK(vectors_search(v, queries + q * D, K, got_ids + q * K, got_scores + q * K,
                                &found, &err), &err);
        CHECK_INT_EQ(found, K);
        for (int i = 0; i < K; i++)
            for (int j = 0; j < found; j++)
                hits += got_ids[q * K + j] == truth[q * K + i];
    }
    return (double)hits / (Q * K);
}

static void reseal(unsigned char *b, size_t n)
{
    uint64_t h = XXH3_64bits(b, n - 16);
    for (int i = 0; i < 8; i++)
        b[n - 8 + i] = (unsigned char)(h >> (8 * i));
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int refused(const char *path, const unsigned char *b, size_t n, const char *what)
{
    if (write_bytes(path, b, n) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    vectors *v = NULL;
    cs_error err = {0};
    cs_status rc = vectors_load(path, &v, &err);
    vectors_free(v);
    if (rc != CS_ERR_CORRUPT || !strstr(err.message, path)) {
        fprintf(stderr, "%s: status %d, message '%s'\n", what, (int)rc, err.message);
        check_failures++;
        return 0;
    }
    return 1;
}

static uint64_t get_le8(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* The file of an IVF index of `count` vectors, damaged `nflips` times at
 * random and in each field that matters. */
static void check_damaged_files(const char *dir, const char *good_path, int nprobe,
                                uint64_t nlist, uint64_t count, int nflips)
{
    uint8_t *good = NULL;
    size_t size = 0;
    cs_error err;
    CHECK_OK(fs_read_file(good_path, (size_t)1 << 30, &good, &size, &err), &err);
    if (!good)
        return;
    /* Where things are, from the layout in vectors.h and FAISS's format. */
    const size_t payload = 48 + strlen(MODEL);
    CHECK(memcmp(good, "CSVEC\0\0\3", 8) == 0);
    CHECK_INT_EQ(good[24], VECTORS_IVF_SQ8);
    CHECK_INT_EQ(good[28] | good[29] << 8, nprobe);
    CHECK(memcmp(good + payload, "IwSq", 4) == 0);
    char *path = fs_path_join(dir, "damaged.vec");
    unsigned char *b = malloc(size);
    if (!b || !path)
        return;

    int n_refused = 0, n_tried = 0;
    /* Truncated: inside the header, the quantizer, the lists, near the end. */
    const size_t cuts[] = {0, 7, 47, payload + 3, payload + 40, payload + 5000, size / 2,
                           size - 17, size - 16, size - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++, n_tried++)
        n_refused += refused(path, good, cuts[i], "truncated");
    /* Random single-bit flips anywhere. */
    test_rng rng = {77};
    for (int i = 0; i < nflips; i++, n_tried++) {
        memcpy(b, good, size);
        size_t at = rng_next(&rng) % size;
        b[at] ^= (unsigned char)(1u << (rng_next(&rng) % 8));
        char what[64];
        snprintf(what, sizeof what, "bit flipped in byte %zu", at);
        n_refused += refused(path, b, size, what);
    }
    /* Fields changed with the checksum recomputed. */
    struct {
        size_t at;
        uint64_t value;
        int width;
        const char *what;
    } fields[] = {
        {24, VECTORS_EXACT, 4, "kind exact over an IVF payload"},
        {24, 7, 4, "unknown kind"},
        {28, (uint64_t)nprobe + 1, 4, "header nprobe differs from FAISS's"},
        {28, 0, 4, "nprobe 0"},
        {32, 0, 8, "nlist 0"},
        {32, 1u << 30, 8, "nlist huge"},
        {40, 0, 8, "trained for 0 vectors"},
        {payload, 0x71536749, 4, "another FAISS type tag"},
        {payload + 4 + 4, count + 1, 8, "FAISS ntotal one more"},
        {payload + 4 + 4, (uint64_t)1 << 40, 8, "FAISS ntotal huge"},
        {payload + 37, nlist + 1, 8, "FAISS nlist differs"},
        {payload + 45, (uint64_t)nprobe + 1, 8, "FAISS nprobe differs"},
        {payload + 53, 0x4c467849, 4, "quantizer is not IxFI"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++, n_tried++) {
        memcpy(b, good, size);
        put_le(b + fields[i].at, fields[i].value, fields[i].width);
        reseal(b, size);
        n_refused += refused(path, b, size, fields[i].what);
    }
    /* The inverted lists' header: find "ilar" and change what follows. */
    size_t ilar = 0;
    for (size_t i = payload; i + 4 < size && !ilar; i++)
        if (memcmp(good + i, "ilar", 4) == 0)
            ilar = i;
    CHECK(ilar > 0);
    if (ilar) {
        CHECK(memcmp(good + ilar + 20, "full", 4) == 0);   /* most lists are in use */
        const struct {
            size_t at;
            uint64_t value;
            int width;
            const char *what;
        } lists[] = {
            {ilar + 4, nlist + 1, 8, "list count"},
            {ilar + 12, D + 1, 8, "list code size"},
            {ilar + 20, 0x73727073, 4, "sparse layout label on full sizes"},
            {ilar + 32, get_le8(good + ilar + 32) + 1, 8, "first list one longer"},
            {ilar + 32, count + 5, 8, "first list size too large"},
        };
        for (size_t i = 0; i < sizeof lists / sizeof *lists; i++, n_tried++) {
            memcpy(b, good, size);
            put_le(b + lists[i].at, lists[i].value, lists[i].width);
            reseal(b, size);
            n_refused += refused(path, b, size, lists[i].what);
        }
    }
    CHECK_INT_EQ(n_refused, n_tried);
    printf("%d damaged IVF files refused\n", n_refused);
    remove(path);
    free(path);
    free(b);
    free(good);
}

int main(int argc, char **argv)
{
    char *dir = make_scratch(argc > 1 ? argv[1] : "/tmp", "scale");
    data = malloc((size_t)N * D * sizeof *data);
    ids = malloc((size_t)N * sizeof *ids);
    float *centres = malloc((size_t)CLUSTERS * D * sizeof *centres);
    if (!dir || !data || !ids || !centres)
        return 1;
    unsetenv("CAPSEARCH_EXACT_MAX");
    test_rng rng = {2024};
    for (int c = 0; c < CLUSTERS; c++)
        rng_unit_vector(&rng, centres + (size_t)c * D, D);
    for (size_t r = 0; r < N; r++) {
        draw(&rng, centres, data + r * D);
        ids[r] = (int64_t)r * 5 + 2;
    }
    for (int q = 0; q < Q; q++)
        draw(&rng, centres, queries + q * D);
    brute_force(NULL);
    cs_error err;

    /* Below the threshold: exact, and exactly right. */
    vectors *small = NULL;
    CHECK_OK(vectors_build(MODEL, D, 2000, ids, data, &small, &err), &err);
    if (small) {
        CHECK_INT_EQ(vectors_get_kind(small), VECTORS_EXACT);
        CHECK_INT_EQ(vectors_nprobe(small), 0);
        CHECK(!vectors_needs_retrain(small, VECTORS_EXACT_MAX));
        CHECK(vectors_needs_retrain(small, 1999));
        CHECK_INT_EQ(vectors_set_nprobe(small, 4, &err), CS_ERR_INVALID);
    }

    /* Above it: IVF. */
    vectors *v = NULL;
    CHECK_OK(vectors_build(MODEL, D, N, ids, data, &v, &err), &err);
    if (!v)
        return 1;
    CHECK_INT_EQ(vectors_get_kind(v), VECTORS_IVF_SQ8);
    CHECK_INT_EQ(vectors_count(v), N);
    CHECK_INT_EQ(vectors_trained_for(v), N);
    CHECK(vectors_nlist(v) >= 500 && vectors_nlist(v) <= 1500);
    CHECK(vectors_nprobe(v) >= 1 && vectors_nprobe(v) <= vectors_nlist(v));
    CHECK(!vectors_needs_retrain(v, VECTORS_EXACT_MAX));
    static int64_t got[Q * K], again[Q * K];
    static float got_s[Q * K], again_s[Q * K];
    double r = recall(v, got, got_s);
    printf("IVF: nlist %lld, nprobe %d, recall@%d %.4f\n", (long long)vectors_nlist(v),
           vectors_nprobe(v), K, r);
    CHECK(r >= 0.95);
    /* Filtered: the index searches only a subset's ids (1% and 4% of the
     * rows, scattered over the lists), four times as deep as the page;
     * the page's recall against the subset's exact top K holds too. */
    double r1 = subset_recall(v, 0.01, 4), r4 = subset_recall(v, 0.04, 4);
    printf("IVF among 1%% / 4%% of the ids: recall@%d %.4f / %.4f\n", K, r1, r4);
    CHECK(r1 >= 0.95 && r4 >= 0.95);
    /* Queries in directions the clusters do not follow (random ones, the
     * far end of a text query to pictures): the search goes past nprobe
     * while a list may still beat the k-th best, filtered or not. */
    static float clustered[Q * D];
    memcpy(clustered, queries, sizeof queries);
    for (int q = 0; q < Q; q++)
        rng_unit_vector(&rng, queries + q * D, D);
    brute_force(NULL);
    double rr = recall(v, got, got_s);
    printf("IVF, random directions: recall@%d %.4f\n", K, rr);
    CHECK(rr >= 0.85);
    double rr4 = subset_recall(v, 0.04, 4), rr30 = subset_recall(v, 0.3, 1);
    printf("IVF, random directions among 4%% / 30%% of the ids: recall@%d %.4f / %.4f\n", K,
           rr4, rr30);
    CHECK(rr4 >= 0.95 && rr30 >= 0.95);
    memcpy(queries, clustered, sizeof queries);
    brute_force(NULL);
    CHECK(recall(v, got, got_s) == r);   /* got: the clustered queries' again */

    /* Save and load: the same kind, parameters and results, bit for bit. */
    char *file = fs_path_join(dir, "ivf.vec");
    CHECK_OK(vectors_save(v, file, 9, &err), &err);
    vectors *back = NULL;
    CHECK_OK(vectors_load(file, &back, &err), &err);
    if (back) {
        CHECK_INT_EQ(vectors_get_kind(back), VECTORS_IVF_SQ8);
        CHECK_INT_EQ(vectors_nlist(back), vectors_nlist(v));
        CHECK_INT_EQ(vectors_nprobe(back), vectors_nprobe(v));
        CHECK_INT_EQ(vectors_trained_for(back), N);
        CHECK_INT_EQ(vectors_generation(back), 9);
        CHECK_INT_EQ(vectors_count(back), N);
        recall(back, again, again_s);
        CHECK(memcmp(got, again, sizeof got) == 0);
        CHECK(memcmp(got_s, again_s, sizeof got_s) == 0);
        int64_t *list = NULL;
        size_t nlisted = 0;
        CHECK_OK(vectors_ids(back, &list, &nlisted, &err), &err);
        CHECK_INT_EQ(nlisted, N);
        for (size_t i = 0; list && i < nlisted; i++)
            if (list[i] != ids[i]) {
                CHECK_INT_EQ(list[i], ids[i]);
                break;
            }
        free(list);
        vectors_free(back);
    }
    /* A few damaged copies of this 33 MB file; many of a small one below. */
    check_damaged_files(dir, file, vectors_nprobe(v), (uint64_t)vectors_nlist(v), N, 20);

    /* Remove 1,000 ids, among them every query's best match. */
    static int64_t gone[NREMOVE];
    static bool skip[N];
    int ngone = 0;
    for (int q = 0; q < Q && ngone < NREMOVE; q++) {
        size_t row = (size_t)(truth[q * K] - 2) / 5;
        if (!skip[row]) {
            skip[row] = true;
            gone[ngone++] = truth[q * K];
        }
    }
    for (size_t row = 7; ngone < NREMOVE; row += 53)
        if (!skip[row]) {
            skip[row] = true;
            gone[ngone++] = ids[row];
        }
    size_t removed = 0;
    CHECK_OK(vectors_remove(v, NREMOVE, gone, &removed, &err), &err);
    CHECK_INT_EQ(removed, NREMOVE);
    CHECK_INT_EQ(vectors_count(v), N - NREMOVE);
    brute_force(skip);
    r = recall(v, got, got_s);
    printf("after removing %d: recall@%d %.4f\n", NREMOVE, K, r);
    CHECK(r >= 0.95);
    for (int i = 0; i < Q * K; i++) {
        size_t row = (size_t)(got[i] - 2) / 5;
        CHECK(got[i] >= 0 && row < N && !skip[row]);
        if (got[i] < 0 || row >= N || skip[row])
            break;
    }

    /* Add them back (in the order removed, so rows differ from ids). */
    static float gone_data[NREMOVE * D];
    for (int i = 0; i < NREMOVE; i++)
        memcpy(gone_data + (size_t)i * D, data + (size_t)(gone[i] - 2) / 5 * D, D * sizeof(float));
    CHECK_OK(vectors_add(v, NREMOVE, gone, gone_data, &err), &err);
    CHECK_INT_EQ(vectors_count(v), N);
    brute_force(NULL);
    r = recall(v, got, got_s);
    printf("after adding them back: recall@%d %.4f\n", K, r);
    CHECK(r >= 0.95);

    /* An id already present gets the new vector: query 0 now finds it first. */
    int64_t moved = ids[12345];
    CHECK_OK(vectors_add(v, 1, &moved, queries, &err), &err);
    CHECK_INT_EQ(vectors_count(v), N);
    int64_t top[K];
    float top_s[K];
    int found = 0;
    CHECK_OK(vectors_search(v, queries, K, top, top_s, &found, &err), &err);
    CHECK_INT_EQ(top[0], moved);
    CHECK_NEAR(top_s[0], 1.0, 0.02);

    /* A search for more than nprobe lists hold still gets them all. */
    int64_t *many = malloc((size_t)N * sizeof *many);
    float *many_s = malloc((size_t)N * sizeof *many_s);
    if (many && many_s) {
        CHECK_OK(vectors_search(v, queries, N, many, many_s, &found, &err), &err);
        CHECK_INT_EQ(found, N);
    }
    free(many);
    free(many_s);

    /* CAPSEARCH_EXACT_MAX: an IVF index for 2,000 vectors when it is 500. */
    setenv("CAPSEARCH_EXACT_MAX", "500", 1);
    int64_t exact_max = 0;
    CHECK_OK(vectors_exact_max(&exact_max, &err), &err);
    CHECK_INT_EQ(exact_max, 500);
    vectors *ivf_small = NULL;
    CHECK_OK(vectors_build(MODEL, D, 2000, ids, data, &ivf_small, &err), &err);
    if (ivf_small && small) {
        CHECK_INT_EQ(vectors_get_kind(ivf_small), VECTORS_IVF_SQ8);
        CHECK(vectors_nlist(ivf_small) >= 1 && vectors_nlist(ivf_small) <= 2000 / 39);
        CHECK(!vectors_needs_retrain(ivf_small, exact_max));
        CHECK_OK(vectors_save(ivf_small, file, 4, &err), &err);
        check_damaged_files(dir, file, vectors_nprobe(ivf_small),
                            (uint64_t)vectors_nlist(ivf_small), 2000, 2000);
        /* Grown past 4x what it was trained for: re-train. */
        CHECK_OK(vectors_add(ivf_small, 6001, ids + 2000, data + (size_t)2000 * D, &err), &err);
        CHECK(vectors_needs_retrain(ivf_small, exact_max));
        /* Down to half the threshold: back to exact. */
        CHECK_OK(vectors_remove(ivf_small, 7800, ids + 200, NULL, &err), &err);
        CHECK_INT_EQ(vectors_count(ivf_small), 201);
        CHECK(vectors_needs_retrain(ivf_small, exact_max));
        /* vectors_replace keeps the object, takes the other's index. */
        CHECK_OK(vectors_save(small, file, 3, &err), &err);
        CHECK_OK(vectors_replace(small, ivf_small, &err), &err);
        ivf_small = NULL;
        CHECK_INT_EQ(vectors_get_kind(small), VECTORS_IVF_SQ8);
        CHECK_INT_EQ(vectors_count(small), 201);
        CHECK_INT_EQ(vectors_generation(small), 3);
        vectors *other = NULL;
        CHECK_OK(vectors_create("another-model", D, &other, &err), &err);
        CHECK_INT_EQ(vectors_replace(small, other, &err), CS_ERR_INVALID);
        vectors_free(other);
    }
    vectors_free(ivf_small);
    setenv("CAPSEARCH_EXACT_MAX", "50k", 1);
    CHECK_INT_EQ(vectors_exact_max(&exact_max, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "CAPSEARCH_EXACT_MAX") != NULL);
    vectors *none = NULL;
    CHECK_INT_EQ(vectors_build(MODEL, D, 10, ids, data, &none, &err), CS_ERR_INVALID);
    CHECK(none == NULL);
    unsetenv("CAPSEARCH_EXACT_MAX");

    vectors_free(small);
    vectors_free(v);
    free(file);
    free(centres);
    free(data);
    free(ids);
    if (!check_failures)
        remove_tree(dir);
    free(dir);
    CHECK_DONE();
}
