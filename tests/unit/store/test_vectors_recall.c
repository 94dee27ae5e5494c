/* Exact search: on 5000 random unit vectors of 64 dimensions, the top 10 of
 * vectors_search must be the brute-force inner-product top 10 computed here
 * with plain double-precision loops (recall 1.0), with the same scores
 * within 1e-5, before and after a save/load round trip. */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

enum { N = 5000, D = 64, Q = 50, K = 10 };

static float data[N * D];
static int64_t ids[N];

static void check_queries(const vectors *v, test_rng *rng, int *hits, int *total)
{
    cs_error err;
    for (int q = 0; q < Q; q++) {
        float query[D];
        rng_unit_vector(rng, query, D);
        size_t ref_rows[K];
        double ref_scores[K];
        topk_ref(data, N, D, query, K, ref_rows, ref_scores);

        int64_t got[K];
        float got_scores[K];
        int found = 0;
        CHECK_OK(vectors_search(v, query, K, got, got_scores, &found, &err), &err);
        CHECK_INT_EQ(found, K);
        for (int r = 0; r < found; r++) {
            /* Rank by rank the scores agree; the id at each rank is the
             * reference's, or (only on a tie within tolerance) one whose
             * true score equals the reference score at that rank. */
            CHECK_NEAR(got_scores[r], ref_scores[r], 1e-5);
            bool in_ref = false;
            for (int j = 0; j < K; j++)
                in_ref |= got[r] == ids[ref_rows[j]];
            *hits += in_ref;
            (*total)++;
            if (got[r] != ids[ref_rows[r]]) {
                int64_t row = (got[r] - 11) / 3;
                CHECK(row >= 0 && row < N);
                if (row >= 0 && row < N)
                    CHECK_NEAR(dot_ref(data + row * D, query, D), ref_scores[r], 1e-5);
            }
        }
    }
}

/* vectors_search may run concurrently: four threads repeat the queries and
 * must get exactly what one thread got. */
enum { THREADS = 4 };
static float queries[Q * D];
static int64_t serial_ids[Q * K];
static float serial_scores[Q * K];

typedef struct worker {
    const vectors *v;
    int mismatches;
} worker;

static void *search_worker(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < 5; round++) {
        for (int q = 0; q < Q; q++) {
            int64_t got[K];
            float sc[K];
            int found = 0;
            cs_error err;
            if (vectors_search(w->v, queries + q * D, K, got, sc, &found, &err) != CS_OK ||
                found != K || memcmp(got, serial_ids + q * K, sizeof got) != 0 ||
                memcmp(sc, serial_scores + q * K, sizeof sc) != 0)
                w->mismatches++;
        }
    }
    return NULL;
}

static void check_concurrent(const vectors *v)
{
    cs_error err;
    test_rng rng = {4242};
    for (int q = 0; q < Q; q++) {
        rng_unit_vector(&rng, queries + q * D, D);
        int found = 0;
        CHECK_OK(vectors_search(v, queries + q * D, K, serial_ids + q * K, serial_scores + q * K,
                                &found, &err), &err);
    }
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){v, 0};
        CHECK(pthread_create(&t[i], NULL, search_worker, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT_EQ(w[i].mismatches, 0);
    }
}

int main(int argc, char **argv)
{
    char *dir = make_scratch(argc > 1 ? argv[1] : "/tmp", "recall");
    if (!dir)
        return 1;
    test_rng rng = {20240601};
    for (int i = 0; i < N; i++) {
        rng_unit_vector(&rng, data + (size_t)i * D, D);
        ids[i] = (int64_t)i * 3 + 11;   /* ids differ from row numbers */
    }
    cs_error err;
    vectors *v = NULL;
    CHECK_OK(vectors_create("recall", D, &v, &err), &err);
    if (!v)
        return 1;
    /* Added in uneven batches, in a shuffled order, as the indexer would. */
    static int64_t order[N];
    static float shuffled[N * D];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(rng_next(&rng) % (uint64_t)(i + 1));
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    static int64_t shuffled_ids[N];
    for (int i = 0; i < N; i++) {
        shuffled_ids[i] = ids[order[i]];
        memcpy(shuffled + (size_t)i * D, data + (size_t)order[i] * D, D * sizeof(float));
    }
    for (int start = 0; start < N;) {
        int n = 1 + (int)(rng_next(&rng) % 700);
        if (n > N - start)
            n = N - start;
        CHECK_OK(vectors_add(v, (size_t)n, shuffled_ids + start, shuffled + (size_t)start * D,
                             &err), &err);
        start += n;
    }
    CHECK_INT_EQ(vectors_count(v), N);

    int hits = 0, total = 0;
    test_rng qrng = {99};
    check_queries(v, &qrng, &hits, &total);
    printf("recall@%d before reload: %d/%d\n", K, hits, total);
    CHECK_INT_EQ(hits, total);

    char *file = fs_path_join(dir, "recall.vec");
    CHECK_OK(vectors_save(v, file, 5, &err), &err);
    vectors_free(v);
    v = NULL;
    CHECK_OK(vectors_load(file, &v, &err), &err);
    if (v) {
        hits = total = 0;
        qrng.s = 99;
        check_queries(v, &qrng, &hits, &total);
        printf("recall@%d after reload: %d/%d\n", K, hits, total);
        CHECK_INT_EQ(hits, total);
        CHECK_INT_EQ(total, Q * K);
        check_concurrent(v);
        vectors_free(v);
    }
    free(file);
    if (!check_failures)
        remove_tree(dir);
    free(dir);
    CHECK_DONE();
}
