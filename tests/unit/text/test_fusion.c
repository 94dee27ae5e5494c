/* fusion_rrf: hand-computed scores, ordering rules, argument checks, and a
 * randomized comparison with a brute-force reference written independently
 * (quadratic scans, no sorting tricks). */
#include <stdbool.h>
#include <stdlib.h>

#include "check.h"
#include "search/fusion.h"

static const fusion_item *find(const fusion_item *items, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (items[i].id == id)
            return &items[i];
    return NULL;
}

static void expect_order(const fusion_item *items, size_t n, const int64_t *ids, size_t nids,
                         int line)
{
    bool same = n == nids;
    for (size_t i = 0; same && i < n; i++)
        same = items[i].id == ids[i];
    if (same)
        return;
    fprintf(stderr, "%s:%d: order differs\n  got     ", __FILE__, line);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %lld", (long long)items[i].id);
    fprintf(stderr, "\n  expected");
    for (size_t i = 0; i < nids; i++)
        fprintf(stderr, " %lld", (long long)ids[i]);
    fprintf(stderr, "\n");
    check_failures++;
}

#define EXPECT_ORDER(items, n, ...)                                                  \
    do {                                                                             \
        static const int64_t want_[] = {__VA_ARGS__};                                \
        expect_order(items, n, want_, sizeof want_ / sizeof want_[0], __LINE__);     \
    } while (0)

static void test_arithmetic(void)
{
    /* doc 7 is rank 1 in text (weight 1) and rank 3 in vector (weight 0.5) */
    const int64_t text_ids[] = {7, 8, 9};
    const double text_raw[] = {-9.5, -7.25, -3.0};
    const int64_t vec_ids[] = {5, 6, 7};
    const double vec_raw[] = {0.91, 0.85, 0.80};
    fusion_list lists[] = {
        {"text", 1.0, 3, text_ids, text_raw},
        {"vector", 0.5, 3, vec_ids, vec_raw},
    };
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    CHECK_INT_EQ(n, 5);
    const fusion_item *d7 = find(items, n, 7);
    CHECK(d7 != NULL);
    if (d7) {
        CHECK_NEAR(d7->score, 1.0 / 61 + 0.5 / 63, 1e-15);
        CHECK_INT_EQ(d7->ranks[0], 1);
        CHECK_INT_EQ(d7->ranks[1], 3);
        CHECK(d7->raw[0] == -9.5);   /* explain: raw scores exactly as given */
        CHECK(d7->raw[1] == 0.80);
        CHECK_INT_EQ(d7->ranks[2], 0);
        CHECK_INT_EQ(d7->ranks[3], 0);
    }
    const fusion_item *d8 = find(items, n, 8);
    CHECK(d8 != NULL);
    if (d8) {
        CHECK_NEAR(d8->score, 1.0 / 62, 1e-15);
        CHECK_INT_EQ(d8->ranks[0], 2);
        CHECK(d8->raw[0] == -7.25);
        CHECK_INT_EQ(d8->ranks[1], 0);
        CHECK(d8->raw[1] == 0.0);
    }
    const fusion_item *d5 = find(items, n, 5);
    CHECK(d5 != NULL);
    if (d5)
        CHECK_NEAR(d5->score, 0.5 / 61, 1e-15);
    /* 7: .024331  8: .016129  9: .015873  5: .008197  6: .008065 */
    EXPECT_ORDER(items, n, 7, 8, 9, 5, 6);
    free(items);
}

static void test_both_lists_beat_one(void)
{
    /* 2 is rank 2 in text and rank 1 in vector: 1/62 + 1/61 beats 1's 1/61 */
    const int64_t a[] = {1, 2}, b[] = {2, 3};
    fusion_list lists[] = {{"text", 1.0, 2, a, NULL}, {"vector", 1.0, 2, b, NULL}};
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    EXPECT_ORDER(items, n, 2, 1, 3);
    /* scores NULL: raw is 0 */
    if (n == 3) {
        CHECK(items[0].raw[0] == 0.0 && items[0].raw[1] == 0.0);
        CHECK_NEAR(items[0].score, 1.0 / 62 + 1.0 / 61, 1e-15);
    }
    free(items);
}

/* Fuses `text` and `vector` (n ids each) with weights 1 - alpha and alpha;
 * the fused score of `id`, or -1 when it is missing. */
static double fused_score(const int64_t *text, const int64_t *vector, size_t n, double alpha,
                          int64_t id, int *rank_text, int *rank_vector)
{
    fusion_list lists[] = {{"text", 1.0 - alpha, n, text, NULL},
                           {"vector", alpha, n, vector, NULL}};
    fusion_item *items = NULL;
    size_t count = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &count, &err), &err);
    const fusion_item *it = find(items, count, id);
    double score = it ? it->score : -1.0;
    *rank_text = it ? it->ranks[0] : -1;
    *rank_vector = it ? it->ranks[1] : -1;
    free(items);
    return score;
}

static void test_both_lists_beat_one_at_equal_ranks(void)
{
    /* At rank r in both lists a document scores above one at rank r in
     * only one list, whatever the text/vector split (alpha): its score is
     * the sum of the two shares, 1/(60 + r), against at most
     * max(alpha, 1 - alpha)/(60 + r). */
    const double alphas[] = {0.5, 0.1, 0.9, 0.999};
    for (size_t a = 0; a < sizeof alphas / sizeof alphas[0]; a++)
        for (int r = 1; r <= 50; r += 7) {
            int64_t text[64], vector[64];
            for (int i = 0; i < r - 1; i++) {   /* other documents above */
                text[i] = 1000 + i;
                vector[i] = 2000 + i;
            }
            int rt, rv;
            text[r - 1] = vector[r - 1] = 7;   /* found by both at rank r */
            double both = fused_score(text, vector, (size_t)r, alphas[a], 7, &rt, &rv);
            CHECK(rt == r && rv == r);
            CHECK_NEAR(both, (1.0 - alphas[a]) / (60 + r) + alphas[a] / (60 + r), 1e-15);
            text[r - 1] = 8;                   /* 8 by text only, 9 by vectors only */
            vector[r - 1] = 9;
            double text_only = fused_score(text, vector, (size_t)r, alphas[a], 8, &rt, &rv);
            CHECK(rt == r && rv == 0);
            double vector_only = fused_score(text, vector, (size_t)r, alphas[a], 9, &rt, &rv);
            CHECK(rt == 0 && rv == r);
            CHECK(both > text_only);
            CHECK(both > vector_only);
        }
}

static void test_duplicates_within_a_list(void)
{
    /* the first 5 counts; the repeat neither scores nor pushes 6 down */
    const int64_t ids[] = {5, 5, 6, 5};
    const double raw[] = {3.0, 2.0, 1.0, 0.5};
    fusion_list list = {"text", 1.0, 4, ids, raw};
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(&list, 1, 60, &items, &n, &err), &err);
    CHECK_INT_EQ(n, 2);
    if (n == 2) {
        CHECK_INT_EQ(items[0].id, 5);
        CHECK_NEAR(items[0].score, 1.0 / 61, 1e-15);
        CHECK(items[0].raw[0] == 3.0);
        CHECK_INT_EQ(items[1].id, 6);
        CHECK_INT_EQ(items[1].ranks[0], 2);
        CHECK_NEAR(items[1].score, 1.0 / 62, 1e-15);
        CHECK(items[1].raw[0] == 1.0);
    }
    free(items);
}

static void test_empty(void)
{
    fusion_item *items = (fusion_item *)1;
    size_t n = 99;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(NULL, 0, 60, &items, &n, &err), &err);
    CHECK(items == NULL);
    CHECK_INT_EQ(n, 0);
    fusion_list lists[] = {{"text", 1.0, 0, NULL, NULL}, {"vector", 2.0, 0, NULL, NULL}};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    CHECK(items == NULL);
    CHECK_INT_EQ(n, 0);
    /* one empty list beside a full one */
    const int64_t ids[] = {4};
    lists[1].count = 1;
    lists[1].ids = ids;
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    CHECK_INT_EQ(n, 1);
    if (n == 1) {
        CHECK_INT_EQ(items[0].ranks[0], 0);
        CHECK_INT_EQ(items[0].ranks[1], 1);
        CHECK_NEAR(items[0].score, 2.0 / 61, 1e-15);
    }
    free(items);
}

static void test_tie_breaks(void)
{
    /* equal score and equal best rank: smaller id first */
    const int64_t a[] = {100}, b[] = {50};
    fusion_list lists[] = {{"text", 1.0, 1, a, NULL}, {"vector", 1.0, 1, b, NULL}};
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    EXPECT_ORDER(items, n, 50, 100);
    free(items);

    /* k = 1 makes exact ties: 900 scores 1/2 (rank 1), 20 scores 1/4 + 1/4
     * (rank 3 twice), 2 scores 1/2 (rank 1), 1 and 3 score 1/3 (rank 2).
     * Equal scores: the better single rank first, then the smaller id. */
    const int64_t c[] = {900, 1, 20}, d[] = {2, 3, 20};
    fusion_list tied[] = {{"text", 1.0, 3, c, NULL}, {"vector", 1.0, 3, d, NULL}};
    CHECK_OK(fusion_rrf(tied, 2, 1, &items, &n, &err), &err);
    EXPECT_ORDER(items, n, 2, 900, 20, 1, 3);
    free(items);
    /* the same lists in the other order give the same result */
    fusion_list swapped[] = {tied[1], tied[0]};
    CHECK_OK(fusion_rrf(swapped, 2, 1, &items, &n, &err), &err);
    EXPECT_ORDER(items, n, 2, 900, 20, 1, 3);
    free(items);
}

static void test_weights(void)
{
    /* weight 3 on vector: its rank 2 (3/62) beats text's rank 1 (1/61) */
    const int64_t a[] = {1, 2}, b[] = {9, 2};
    fusion_list lists[] = {{"text", 1.0, 2, a, NULL}, {"vector", 3.0, 2, b, NULL}};
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_OK(fusion_rrf(lists, 2, 60, &items, &n, &err), &err);
    /* 9: 3/61 = .04918   2: 1/62 + 3/62 = .06452   1: 1/61 = .01639 */
    EXPECT_ORDER(items, n, 2, 9, 1);
    const fusion_item *d2 = find(items, n, 2);
    if (d2)
        CHECK_NEAR(d2->score, 4.0 / 62, 1e-15);
    free(items);
}

static void test_bad_arguments(void)
{
    const int64_t ids[] = {1};
    fusion_list l = {"text", 1.0, 1, ids, NULL};
    fusion_list five[5] = {l, l, l, l, l};
    fusion_item *items = NULL;
    size_t n = 0;
    cs_error err = {0};
    CHECK_INT_EQ(fusion_rrf(&l, 1, 0, &items, &n, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "k") != NULL);
    CHECK_INT_EQ(fusion_rrf(&l, 1, -5, &items, &n, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(fusion_rrf(five, 5, 60, &items, &n, &err), CS_ERR_INVALID);
    CHECK_OK(fusion_rrf(five, 4, 60, &items, &n, &err), &err);   /* 4 is allowed */
    CHECK_INT_EQ(n, 1);
    free(items);
    items = NULL;
    CHECK_INT_EQ(fusion_rrf(NULL, 1, 60, &items, &n, &err), CS_ERR_INVALID);
    const double bad_weights[] = {0.0, -1.0, NAN, INFINITY};
    for (size_t i = 0; i < 4; i++) {
        fusion_list w = {"text", bad_weights[i], 1, ids, NULL};
        CHECK_INT_EQ(fusion_rrf(&w, 1, 60, &items, &n, &err), CS_ERR_INVALID);
        CHECK(items == NULL && n == 0);
    }
    fusion_list no_ids = {"text", 1.0, 3, NULL, NULL};
    CHECK_INT_EQ(fusion_rrf(&no_ids, 1, 60, &items, &n, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(fusion_rrf(&l, 1, 60, NULL, &n, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(fusion_rrf(&l, 1, 60, &items, NULL, NULL), CS_ERR_INVALID);
}

/* ---------- brute-force reference ---------- */

typedef struct ref_item {
    int64_t id;
    double score;
    int best;
    int ranks[FUSION_MAX_LISTS];
} ref_item;

/* Rank of id in list i counted over distinct ids, 0 if absent. */
static int ref_rank(const fusion_list *l, int64_t id)
{
    int rank = 0;
    for (size_t p = 0; p < l->count; p++) {
        bool seen = false;
        for (size_t q = 0; q < p; q++)
            seen = seen || l->ids[q] == l->ids[p];
        if (seen)
            continue;
        rank++;
        if (l->ids[p] == id)
            return rank;
    }
    return 0;
}

static bool ref_before(const ref_item *a, const ref_item *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->best != b->best)
        return a->best < b->best;
    return a->id < b->id;
}

static void test_against_reference(void)
{
    enum { NL = 3, LEN = 300, IDS = 400 };
    static int64_t ids[NL][LEN];
    static ref_item ref[IDS];
    uint64_t state = 12345;
    for (int round = 0; round < 20; round++) {
        fusion_list lists[NL];
        for (int i = 0; i < NL; i++) {
            for (int p = 0; p < LEN; p++) {
                state ^= state << 13, state ^= state >> 7, state ^= state << 17;
                ids[i][p] = (int64_t)(state % IDS) - IDS / 2;   /* negatives too */
            }
            size_t len = (size_t)(round * 7 + i * 31) % LEN;
            lists[i] = (fusion_list){"l", 0.25 + i + round % 3, len, ids[i], NULL};
        }
        int k = 1 + round * 5;
        /* reference: every candidate id, scored by scanning */
        size_t nref = 0;
        for (int64_t id = -IDS / 2; id < IDS / 2; id++) {
            ref_item r = {id, 0.0, 0, {0}};
            for (int i = 0; i < NL; i++) {
                r.ranks[i] = ref_rank(&lists[i], id);
                if (r.ranks[i]) {
                    r.score += lists[i].weight / (k + r.ranks[i]);
                    if (!r.best || r.ranks[i] < r.best)
                        r.best = r.ranks[i];
                }
            }
            if (r.best)
                ref[nref++] = r;
        }
        for (size_t a = 1; a < nref; a++)   /* insertion sort */
            for (size_t b = a; b > 0 && ref_before(&ref[b], &ref[b - 1]); b--) {
                ref_item t = ref[b];
                ref[b] = ref[b - 1];
                ref[b - 1] = t;
            }
        fusion_item *items = NULL;
        size_t n = 0;
        cs_error err = {0};
        CHECK_OK(fusion_rrf(lists, NL, k, &items, &n, &err), &err);
        CHECK_INT_EQ(n, nref);
        int mismatches = 0;
        for (size_t j = 0; j < n && j < nref; j++) {
            bool ok = items[j].id == ref[j].id && items[j].score == ref[j].score;
            for (int i = 0; i < NL; i++)
                ok = ok && items[j].ranks[i] == ref[j].ranks[i];
            mismatches += !ok;
        }
        CHECK_INT_EQ(mismatches, 0);
        free(items);
    }
}

int main(void)
{
    test_arithmetic();
    test_both_lists_beat_one();
    test_both_lists_beat_one_at_equal_ranks();
    test_duplicates_within_a_list();
    test_empty();
    test_tie_breaks();
    test_weights();
    test_bad_arguments();
    test_against_reference();
    CHECK_DONE();
}
