/* vectors_search_among (the FAISS IDSelector behind filtered vector
 * searches): on the exact index and on an IVF-SQ8 index, the results are
 * the brute-force top k among the allowed ids only, for subsets from one
 * id to most of the index; the exact index stays right after removals
 * (its selector sees positions, which removals compact); allowed ids that
 * are not in the index, duplicates and an empty list are harmless, with
 * the allowed ids held in a bitmap or, when one would be too large beside
 * them, hashed. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

#define DIM 24
#define N 3000

static float data[N * DIM];
static int64_t ids[N];
static bool gone[N];

/* Brute force among the rows whose id is allowed (and not removed). */
static int reference(const float *q, const bool *allowed_row, int k, int64_t *out,
                     double *scores)
{
    int found = 0;
    for (int j = 0; j < k; j++)
        scores[j] = -INFINITY;
    for (size_t i = 0; i < N; i++) {
        if (!allowed_row[i] || gone[i])
            continue;
        double s = dot_ref(data + i * DIM, q, DIM);
        if (found < k)
            found++;
        else if (s <= scores[k - 1])
            continue;
        int j = found - 1;
        while (j > 0 && scores[j - 1] < s) {
            scores[j] = scores[j - 1];
            out[j] = out[j - 1];
            j--;
        }
        scores[j] = s;
        out[j] = ids[i];
    }
    return found;
}

/* One random subset of `nallowed` rows, k results: exact order for the
 * exact index (ties aside), recall for IVF-SQ8 (8-bit scores). */
/* `far`: the id not in the index is far above the others (the selector
 * hashes the allowed ids), else just above them (a bitmap of them). */
static void check_subset(const vectors *v, test_rng *rng, size_t nallowed, int k, bool exact,
                         bool far)
{
    bool *allowed_row = calloc(N, sizeof *allowed_row);
    int64_t *allowed = malloc((nallowed + 2) * sizeof *allowed);
    int64_t got[200], want[200];
    float got_scores[200];
    double want_scores[200];
    CHECK(allowed_row && allowed);
    if (!allowed_row || !allowed) {
        free(allowed_row);
        free(allowed);
        return;
    }
    size_t n = 0;
    while (n < nallowed) {
        size_t row = (size_t)(rng_next(rng) % N);
        if (allowed_row[row])
            continue;
        allowed_row[row] = true;
        allowed[n++] = ids[row];
    }
    allowed[n++] = far ? 999999999 : ids[N - 1] + 7;   /* not in the index */
    allowed[n++] = allowed[0];  /* a repeat */
    float q[DIM];
    rng_unit_vector(rng, q, DIM);
    int found = -1;
    cs_error err = {0};
    CHECK_OK(vectors_search_among(v, q, k, allowed, n, got, got_scores, &found, &err), &err);
    int nwant = reference(q, allowed_row, k, want, want_scores);
    CHECK_INT_EQ(found, nwant);   /* the page fills whenever that many are allowed */
    for (int i = 0; i < found; i++) {
        bool ok = false;
        for (size_t r = 0; r < N && !ok; r++)
            ok = ids[r] == got[i] && allowed_row[r] && !gone[r];
        CHECK(ok);   /* every result is allowed, and found once */
        for (int j = 0; j < i; j++)
            CHECK(got[j] != got[i]);
    }
    if (exact) {
        /* the same scores rank by rank: the same order, ties aside */
        for (int i = 0; i < found && i < nwant; i++)
            CHECK_NEAR(got_scores[i], want_scores[i], 1e-5);
    } else {
        int hit = 0;
        for (int i = 0; i < found; i++)
            for (int j = 0; j < nwant; j++)
                hit += got[i] == want[j];
        CHECK(nwant == 0 || hit >= (int)(0.8 * nwant));
    }
    free(allowed_row);
    free(allowed);
}

static void check_index(const vectors *v, bool exact)
{
    test_rng rng = {exact ? 11u : 12u};
    const size_t sizes[] = {1, 3, 10, 60, 400, 2500};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int round = 0; round < 4; round++)
            check_subset(v, &rng, sizes[s], round % 2 ? 10 : 100, exact, round < 2);
}

/* A broad filter (1 in 10) on the IVF index: its nearest allowed ids lie
 * as deep as the first 10 * k of the whole index, deeper than the
 * calibrated nprobe reaches; the probes are widened for it. Mean
 * recall@20 against brute force over 40 queries. */
static void check_broad_recall(const vectors *v)
{
    test_rng rng = {21};
    bool *allowed_row = calloc(N, sizeof *allowed_row);
    int64_t *allowed = malloc(N * sizeof *allowed);
    CHECK(allowed_row && allowed);
    size_t n = 0;
    for (size_t row = 0; allowed_row && allowed && row < N; row++)
        if (rng_next(&rng) % 10 == 0) {
            allowed_row[row] = true;
            allowed[n++] = ids[row];
        }
    double recall = 0;
    const int queries = 40, k = 20;
    for (int i = 0; n > 0 && i < queries; i++) {
        float q[DIM];
        rng_unit_vector(&rng, q, DIM);
        int64_t got[20], want[20];
        float got_scores[20];
        double want_scores[20];
        int found = 0;
        cs_error err = {0};
        CHECK_OK(vectors_search_among(v, q, k, allowed, n, got, got_scores, &found, &err), &err);
        int nwant = reference(q, allowed_row, k, want, want_scores);
        int hit = 0;
        for (int a = 0; a < found; a++)
            for (int b = 0; b < nwant; b++)
                hit += got[a] == want[b];
        recall += (double)hit / (double)nwant / queries;
    }
    printf("broad filter (%zu of %d): recall@%d %.3f\n", n, N, k, recall);
    CHECK(recall >= 0.95);
    free(allowed_row);
    free(allowed);
}

static void test_edges(const vectors *v)
{
    float q[DIM];
    test_rng rng = {5};
    rng_unit_vector(&rng, q, DIM);
    int64_t got[4];
    float scores[4];
    int found = -1;
    cs_error err = {0};
    CHECK_OK(vectors_search_among(v, q, 4, NULL, 0, got, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 0);
    int64_t absent[] = {-5, 123456789};
    CHECK_OK(vectors_search_among(v, q, 4, absent, 2, got, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 0);
    CHECK_INT_EQ(vectors_search_among(v, q, 0, absent, 2, got, scores, &found, &err),
                 CS_ERR_INVALID);
    q[3] = NAN;
    CHECK_INT_EQ(vectors_search_among(v, q, 4, absent, 2, got, scores, &found, &err),
                 CS_ERR_INVALID);
}

int main(void)
{
    test_rng rng = {1};
    for (size_t i = 0; i < N; i++) {
        rng_unit_vector(&rng, data + i * DIM, DIM);
        ids[i] = 10 + (int64_t)i * 7;   /* ids are not positions */
    }
    cs_error err = {0};
    vectors *v = NULL;
    setenv("CAPSEARCH_EXACT_MAX", "100000", 1);
    CHECK_OK(vectors_build("test", DIM, N, ids, data, &v, &err), &err);
    if (v) {
        CHECK_INT_EQ(vectors_get_kind(v), VECTORS_EXACT);
        check_index(v, true);
        test_edges(v);
        /* removals compact the flat index's positions: still right */
        int64_t removed[N / 3];
        size_t nremoved = 0;
        for (size_t i = 0; i < N; i += 3) {
            removed[nremoved++] = ids[i];
            gone[i] = true;
        }
        CHECK_OK(vectors_remove(v, nremoved, removed, NULL, &err), &err);
        check_index(v, true);
        vectors_free(v);
        memset(gone, 0, sizeof gone);
    }
    setenv("CAPSEARCH_EXACT_MAX", "100", 1);
    v = NULL;
    CHECK_OK(vectors_build("test", DIM, N, ids, data, &v, &err), &err);
    if (v) {
        CHECK_INT_EQ(vectors_get_kind(v), VECTORS_IVF_SQ8);
        check_index(v, false);
        check_broad_recall(v);
        test_edges(v);
        vectors_free(v);
    }
    CHECK_DONE();
}
