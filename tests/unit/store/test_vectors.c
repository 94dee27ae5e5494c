/* The vector store's behaviour: round trips through the file, replacement,
 * removal, the id list, search edge cases and argument checks. Expected
 * results are worked out by hand or kept by the test in its own model of the
 * index, never taken from the code under test. */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

static const char *scratch;

static char *path_in(const char *name)
{
    char *p = fs_path_join(scratch, name);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

static void ids_equal(const vectors *v, const int64_t *want, size_t nwant)
{
    cs_error err;
    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(vectors_ids(v, &ids, &n, &err), &err);
    CHECK_INT_EQ(n, nwant);
    for (size_t i = 0; i < n && i < nwant; i++)
        CHECK_INT_EQ(ids[i], want[i]);
    free(ids);
}

static vectors *reload(vectors *v, const char *file, int64_t generation)
{
    cs_error err;
    CHECK_OK(vectors_save(v, file, generation, &err), &err);
    vectors_free(v);
    vectors *w = NULL;
    CHECK_OK(vectors_load(file, &w, &err), &err);
    if (!w) {
        fprintf(stderr, "cannot continue without the reloaded index\n");
        exit(1);
    }
    return w;
}

/* Three hand-made vectors with ids far apart; their inner products with the
 * axis queries are known exactly. */
static void test_small_round_trip(void)
{
    static const float e0[4] = {1, 0, 0, 0}, e1[4] = {0, 1, 0, 0}, e2[4] = {0, 0, 1, 0};
    cs_error err;
    vectors *v = NULL;
    CHECK_OK(vectors_create("clip-vit-b32", 4, &v, &err), &err);
    if (!v)
        return;
    CHECK_STR_EQ(vectors_model(v), "clip-vit-b32");
    CHECK_INT_EQ(vectors_dim(v), 4);
    CHECK_INT_EQ(vectors_count(v), 0);
    CHECK_INT_EQ(vectors_generation(v), 0);

    /* An empty index answers with nothing, not an error. */
    int64_t ids[8];
    float scores[8];
    int found = -1;
    CHECK_OK(vectors_search(v, e0, 5, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 0);

    const int64_t add_ids[3] = {5, 17, 1000000007};
    const float data[12] = {1, 0, 0, 0,           /* 5 */
                            0, 1, 0, 0,           /* 17 */
                            0.6f, 0.8f, 0, 0};    /* 1000000007 */
    CHECK_OK(vectors_add(v, 3, add_ids, data, &err), &err);
    CHECK_INT_EQ(vectors_count(v), 3);
    const int64_t all[3] = {5, 17, 1000000007};
    ids_equal(v, all, 3);

    /* k larger than the index: only the three real matches, best first. */
    CHECK_OK(vectors_search(v, e0, 8, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 3);
    CHECK_INT_EQ(ids[0], 5);
    CHECK_NEAR(scores[0], 1.0, 1e-6);
    CHECK_INT_EQ(ids[1], 1000000007);
    CHECK_NEAR(scores[1], 0.6, 1e-6);
    CHECK_INT_EQ(ids[2], 17);
    CHECK_NEAR(scores[2], 0.0, 1e-6);
    /* k smaller than the index. */
    CHECK_OK(vectors_search(v, e1, 1, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 1);
    CHECK_INT_EQ(ids[0], 17);
    CHECK_NEAR(scores[0], 1.0, 1e-6);

    char *file = path_in("small.vec");
    v = reload(v, file, 42);
    CHECK_INT_EQ(vectors_generation(v), 42);
    CHECK_STR_EQ(vectors_model(v), "clip-vit-b32");
    CHECK_INT_EQ(vectors_dim(v), 4);
    CHECK_INT_EQ(vectors_count(v), 3);
    ids_equal(v, all, 3);
    CHECK_OK(vectors_search(v, e0, 8, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 3);
    CHECK_INT_EQ(ids[0], 5);
    CHECK_NEAR(scores[0], 1.0, 1e-6);
    CHECK_INT_EQ(ids[1], 1000000007);
    CHECK_NEAR(scores[1], 0.6, 1e-6);
    CHECK_INT_EQ(ids[2], 17);

    /* Replacing 17 (after a reload, so the id came from the file): the old
     * vector must be gone and the count unchanged. */
    const int64_t r_id = 17;
    CHECK_OK(vectors_add(v, 1, &r_id, e2, &err), &err);
    CHECK_INT_EQ(vectors_count(v), 3);
    ids_equal(v, all, 3);
    CHECK_OK(vectors_search(v, e2, 1, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 1);
    CHECK_INT_EQ(ids[0], 17);
    CHECK_NEAR(scores[0], 1.0, 1e-6);
    CHECK_OK(vectors_search(v, e1, 3, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 3);
    CHECK_INT_EQ(ids[0], 1000000007);   /* 0.8; 17 now scores 0 on this axis */
    CHECK_NEAR(scores[0], 0.8, 1e-6);
    CHECK_NEAR(scores[1], 0.0, 1e-6);
    CHECK_NEAR(scores[2], 0.0, 1e-6);

    /* Remove one present and one absent id, then save over the old file. */
    const int64_t rm[2] = {5, 999};
    size_t removed = 99;
    CHECK_OK(vectors_remove(v, 2, rm, &removed, &err), &err);
    CHECK_INT_EQ(removed, 1);
    CHECK_INT_EQ(vectors_count(v), 2);
    CHECK_OK(vectors_remove(v, 1, &rm[0], &removed, &err), &err);
    CHECK_INT_EQ(removed, 0);
    CHECK_OK(vectors_remove(v, 1, &rm[0], NULL, &err), &err);
    v = reload(v, file, 43);
    CHECK_INT_EQ(vectors_generation(v), 43);
    const int64_t left[2] = {17, 1000000007};
    ids_equal(v, left, 2);
    CHECK_OK(vectors_search(v, e2, 8, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 2);
    CHECK_INT_EQ(ids[0], 17);   /* the replacement survived the reload */
    CHECK_NEAR(scores[0], 1.0, 1e-6);

    /* Removing everything leaves an empty index that still saves and loads. */
    CHECK_OK(vectors_remove(v, 2, left, &removed, &err), &err);
    CHECK_INT_EQ(removed, 2);
    v = reload(v, file, 44);
    CHECK_INT_EQ(vectors_count(v), 0);
    CHECK_INT_EQ(vectors_generation(v), 44);
    ids_equal(v, NULL, 0);
    CHECK_OK(vectors_search(v, e0, 3, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 0);
    /* ...and accepts new vectors after the reload. */
    CHECK_OK(vectors_add(v, 1, &r_id, e0, &err), &err);
    CHECK_INT_EQ(vectors_count(v), 1);

    free(file);
    vectors_free(v);
}

/* Bad arguments are refused and leave the index as it was. */
static void test_invalid_arguments(void)
{
    cs_error err;
    vectors *v = NULL;
    CHECK_INT_EQ(vectors_create("m", 0, &v, &err), CS_ERR_INVALID);
    CHECK(v == NULL);
    CHECK_INT_EQ(vectors_create("m", 65537, &v, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_create("m", -3, &v, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_create(NULL, 4, &v, &err), CS_ERR_INVALID);
    char long_model[258];
    memset(long_model, 'm', 257);
    long_model[257] = '\0';
    CHECK_INT_EQ(vectors_create(long_model, 4, &v, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "256") != NULL);

    /* The longest allowed model id and the largest dimension round-trip. */
    long_model[256] = '\0';
    CHECK_OK(vectors_create(long_model, 65536, &v, &err), &err);
    if (v) {
        char *file = path_in("limits.vec");
        v = reload(v, file, 1);
        CHECK_STR_EQ(vectors_model(v), long_model);
        CHECK_INT_EQ(vectors_dim(v), 65536);
        vectors_free(v);
        free(file);
    }

    CHECK_OK(vectors_create("m", 2, &v, &err), &err);
    if (!v)
        return;
    const int64_t ids[2] = {1, 2};
    const float data[4] = {1, 0, 0, 1};
    CHECK_OK(vectors_add(v, 2, ids, data, &err), &err);

    const int64_t dup[2] = {7, 7};
    CHECK_INT_EQ(vectors_add(v, 2, dup, data, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "7") != NULL);
    const int64_t neg = -1;
    CHECK_INT_EQ(vectors_add(v, 1, &neg, data, &err), CS_ERR_INVALID);
    const int64_t id3 = 3;
    const float nan_vec[2] = {NAN, 0}, inf_vec[2] = {0, INFINITY};
    CHECK_INT_EQ(vectors_add(v, 1, &id3, nan_vec, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_add(v, 1, &id3, inf_vec, &err), CS_ERR_INVALID);
    /* A batch whose second row is bad adds nothing, and replaces nothing. */
    const int64_t mixed_ids[2] = {1, 3};
    const float mixed[4] = {0, 1, NAN, 0};
    CHECK_INT_EQ(vectors_add(v, 2, mixed_ids, mixed, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_count(v), 2);
    CHECK_OK(vectors_add(v, 0, NULL, NULL, &err), &err);
    CHECK_INT_EQ(vectors_add(v, 1, NULL, data, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_count(v), 2);
    ids_equal(v, ids, 2);

    int64_t out_ids[4];
    float scores[4];
    int found = 0;
    const float q[2] = {1, 0};
    CHECK_INT_EQ(vectors_search(v, q, 0, out_ids, scores, &found, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_search(v, q, -5, out_ids, scores, &found, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_search(v, nan_vec, 1, out_ids, scores, &found, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_search(v, q, 1, NULL, scores, &found, &err), CS_ERR_INVALID);
    /* Id 1 still has its original vector (the failed batch replaced nothing). */
    CHECK_OK(vectors_search(v, q, 4, out_ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 2);
    CHECK_INT_EQ(out_ids[0], 1);
    CHECK_NEAR(scores[0], 1.0, 1e-6);

    CHECK_INT_EQ(vectors_remove(v, 1, NULL, NULL, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(vectors_save(v, "", 1, &err), CS_ERR_INVALID);
    vectors_free(v);
    vectors_free(NULL);

    vectors *w = (vectors *)&err;   /* must be reset to NULL on failure */
    char *missing = path_in("no-such.vec");
    CHECK_INT_EQ(vectors_load(missing, &w, &err), CS_ERR_NOT_FOUND);
    CHECK(w == NULL);
    CHECK(strstr(err.message, missing) != NULL);
    free(missing);
}

/* Random adds, replacements and removals checked against the test's own
 * record of which vector each id should hold. */
#define MODEL_DIM 16
#define MODEL_IDS 400

static void test_against_model(void)
{
    cs_error err;
    test_rng rng = {12345};
    vectors *v = NULL;
    CHECK_OK(vectors_create("model", MODEL_DIM, &v, &err), &err);
    if (!v)
        return;
    /* Id i*1009+3 (never contiguous) holds latest[i] when present[i]. */
    static float latest[MODEL_IDS][MODEL_DIM];
    static bool present[MODEL_IDS];
    char *file = path_in("model.vec");

    for (int round = 0; round < 30; round++) {
        int64_t batch_ids[40];
        float batch[40 * MODEL_DIM];
        bool used[MODEL_IDS] = {false};
        size_t n = 0;
        size_t want = 1 + rng_next(&rng) % 40;
        while (n < want) {
            size_t i = rng_next(&rng) % MODEL_IDS;
            if (used[i])
                continue;   /* one id once per batch */
            used[i] = true;
            batch_ids[n] = (int64_t)i * 1009 + 3;
            rng_unit_vector(&rng, batch + n * MODEL_DIM, MODEL_DIM);
            memcpy(latest[i], batch + n * MODEL_DIM, sizeof latest[i]);
            present[i] = true;
            n++;
        }
        CHECK_OK(vectors_add(v, n, batch_ids, batch, &err), &err);

        /* Remove a few ids, some of which may be absent. */
        int64_t rm[10];
        size_t nrm = 1 + rng_next(&rng) % 10, expect_removed = 0;
        bool counted[MODEL_IDS] = {false};
        for (size_t j = 0; j < nrm; j++) {
            size_t i = rng_next(&rng) % MODEL_IDS;
            rm[j] = (int64_t)i * 1009 + 3;
            if (present[i] && !counted[i]) {
                counted[i] = true;
                expect_removed++;
            }
        }
        for (size_t j = 0; j < nrm; j++)
            present[(rm[j] - 3) / 1009] = false;
        size_t removed = 0;
        CHECK_OK(vectors_remove(v, nrm, rm, &removed, &err), &err);
        CHECK_INT_EQ(removed, expect_removed);

        if (round % 10 == 9)
            v = reload(v, file, round);
    }

    int64_t expect[MODEL_IDS];
    size_t nexpect = 0;
    for (size_t i = 0; i < MODEL_IDS; i++)
        if (present[i])
            expect[nexpect++] = (int64_t)i * 1009 + 3;
    CHECK_INT_EQ(vectors_count(v), nexpect);
    ids_equal(v, expect, nexpect);

    /* Each present id holds its latest vector: searching with that unit
     * vector finds it first with score 1 (Cauchy-Schwarz: nothing else can
     * reach 1 unless it is the same vector). */
    for (size_t i = 0; i < MODEL_IDS; i++) {
        if (!present[i])
            continue;
        int64_t ids[2];
        float scores[2];
        int found = 0;
        CHECK_OK(vectors_search(v, latest[i], 2, ids, scores, &found, &err), &err);
        CHECK_INT_EQ(found, nexpect < 2 ? (int)nexpect : 2);
        CHECK_INT_EQ(ids[0], (int64_t)i * 1009 + 3);
        CHECK_NEAR(scores[0], dot_ref(latest[i], latest[i], MODEL_DIM), 1e-5);
        if (found == 2)
            CHECK(scores[1] < scores[0]);
    }
    vectors_free(v);
    free(file);
}

/* Saving and loading preserves search results bit for bit. */
static void test_identical_after_reload(void)
{
    enum { N = 300, D = 24, Q = 20, K = 12 };
    cs_error err;
    test_rng rng = {777};
    static float data[N * D];
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        rng_unit_vector(&rng, data + i * D, D);
        ids[i] = (int64_t)(rng_next(&rng) >> 20) * N + i;   /* large, sparse, unique */
    }
    vectors *v = NULL;
    CHECK_OK(vectors_create("reload", D, &v, &err), &err);
    if (!v)
        return;
    CHECK_OK(vectors_add(v, N, ids, data, &err), &err);
    char *file = path_in("reload.vec");
    CHECK_OK(vectors_save(v, file, 9, &err), &err);
    vectors *w = NULL;
    CHECK_OK(vectors_load(file, &w, &err), &err);
    if (w) {
        for (int q = 0; q < Q; q++) {
            float query[D];
            rng_unit_vector(&rng, query, D);
            int64_t a_ids[K], b_ids[K];
            float a_sc[K], b_sc[K];
            int fa = 0, fb = 0;
            CHECK_OK(vectors_search(v, query, K, a_ids, a_sc, &fa, &err), &err);
            CHECK_OK(vectors_search(w, query, K, b_ids, b_sc, &fb, &err), &err);
            CHECK_INT_EQ(fa, K);
            CHECK_INT_EQ(fb, K);
            CHECK(memcmp(a_ids, b_ids, sizeof a_ids) == 0);
            CHECK(memcmp(a_sc, b_sc, sizeof a_sc) == 0);
        }
        vectors_free(w);
    }
    vectors_free(v);
    free(file);
}

int main(int argc, char **argv)
{
    char *dir = make_scratch(argc > 1 ? argv[1] : "/tmp", "vectors");
    if (!dir)
        return 1;
    scratch = dir;
    test_small_round_trip();
    test_invalid_arguments();
    test_against_model();
    test_identical_after_reload();
    if (!check_failures)
        remove_tree(dir);
    else
        fprintf(stderr, "files kept in %s\n", dir);
    free(dir);
    CHECK_DONE();
}
