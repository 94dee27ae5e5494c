/* The own scan of IVF-SQ8 lists (faiss_extra.cpp) against FAISS's own
 * scanner: the same nprobe lists give the same results, best first, scores
 * within float rounding, with and without an id selector, and the same -1
 * padding when the probed lists hold fewer than k; the deeper search's
 * stopping rule list by list, with and without allowed ids; the residual
 * spread against the residuals.
 * Dimensions that are not a multiple of 16 exercise the scan's tail. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_factory_c.h>

#include "check.h"
#include "store/faiss_extra.h"
#include "vec_testutil.h"

#define N 6000
#define K 20
#define TOL 1e-4

/* Same scores rank by rank; the same ids but where neighbouring scores tie. */
static void same_results(const float *want_d, const idx_t *want_l, const float *got_d,
                         const idx_t *got_l, int k)
{
    for (int i = 0; i < k; i++) {
        CHECK((want_l[i] < 0) == (got_l[i] < 0));
        if (want_l[i] < 0 || got_l[i] < 0)
            continue;
        CHECK(fabsf(want_d[i] - got_d[i]) <= TOL);
        if (want_l[i] == got_l[i])
            continue;
        bool tied = (i > 0 && fabsf(want_d[i] - want_d[i - 1]) <= TOL) ||
                    (i + 1 < k && fabsf(want_d[i] - want_d[i + 1]) <= TOL);
        CHECK(tied);
    }
}

/* check_deeper's searches that went past nprobe and that stopped before
 * max_probe, unfiltered [0] and filtered [1] */
static int deeper_counts[2][2];

/* FAISS's k best of `probes` lists, among the allowed ids only when
 * allowed_id is given (from its whole ranking of those lists). */
static void faiss_top(FaissIndex *idx, size_t probes, const float *x, const bool *allowed_id,
                      float *all_d, idx_t *all_l, float *want_d, idx_t *want_l)
{
    faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(idx), probes);
    if (!allowed_id) {
        CHECK_INT_EQ(faiss_Index_search(idx, 1, x, K, want_d, want_l), 0);
        return;
    }
    CHECK_INT_EQ(faiss_Index_search(idx, 1, x, N, all_d, all_l), 0);
    int n = 0;
    for (int i = 0; i < N && n < K; i++)
        if (all_l[i] >= 0 && allowed_id[all_l[i]]) {
            want_d[n] = all_d[i];
            want_l[n++] = all_l[i];
        }
    for (; n < K; n++)
        want_l[n] = -1;
}

/* cs_faiss_ivf_search_deeper (or, with allowed ids, its filtered twin)
 * against FAISS's scanner: the lists it probes are the first P in centroid
 * order, P the first count from nprobe on at which the next centroid's
 * score plus the margin falls below the k-th best (allowed) of FAISS's
 * search of P lists (or max_probe). Centroid scores come from FAISS's
 * quantizer, the k-th best from FAISS's own search. */
static void check_deeper(FaissIndex *idx, int dim, int nlist, test_rng *rng,
                         const idx_t *allowed, size_t nallowed, const bool *allowed_id,
                         float *all_d, idx_t *all_l)
{
    FaissIndex *quantizer = faiss_IndexIVF_quantizer(faiss_IndexIVF_cast(idx));
    float *cent_d = malloc((size_t)nlist * sizeof *cent_d);
    idx_t *cent_l = malloc((size_t)nlist * sizeof *cent_l);
    CHECK(quantizer && cent_d && cent_l);
    if (!quantizer || !cent_d || !cent_l)
        goto done;
    const float margins[] = {0.0f, 0.02f, 0.05f, 0.1f, 1e30f};
    int went_deeper = 0, stopped_early = 0;
    for (int q = 0; q < 40; q++) {
        float x[128], want_d[K], got_d[K];
        idx_t want_l[K], got_l[K];
        char msg[256];
        rng_unit_vector(rng, x, dim);
        size_t nprobe = 1 + (size_t)(q % 4), max_probe = nprobe * (2 + (size_t)(q % 5));
        if (max_probe > (size_t)nlist)
            max_probe = (size_t)nlist;
        float margin = margins[q % 5];
        CHECK_INT_EQ(faiss_Index_search(quantizer, 1, x, nlist, cent_d, cent_l), 0);
        size_t probes = nprobe;
        for (;;) {
            faiss_top(idx, probes, x, allowed_id, all_d, all_l, want_d, want_l);
            float kth = want_l[K - 1] >= 0 ? want_d[K - 1] : -INFINITY;
            if (margin == 0.0f || probes >= max_probe || cent_d[probes] + margin < kth)
                break;
            probes++;
        }
        went_deeper += probes > nprobe;
        stopped_early += margin > 0.0f && probes < max_probe;
        if (allowed_id)
            CHECK_INT_EQ(cs_faiss_search_among(idx, nprobe, max_probe, margin, x, K, allowed,
                                               nallowed, got_d, got_l, msg, sizeof msg), 0);
        else
            CHECK_INT_EQ(cs_faiss_ivf_search_deeper(idx, 1, x, K, nprobe, max_probe, margin,
                                                    got_d, got_l, msg, sizeof msg), 0);
        same_results(want_d, want_l, got_d, got_l, K);
    }
    /* both ways of the rule are taken, summed over the dimensions (a
     * filter's k-th best is low: few stop early in some) */
    deeper_counts[allowed_id != NULL][0] += went_deeper;
    deeper_counts[allowed_id != NULL][1] += stopped_early;
done:
    free(cent_d);
    free(cent_l);
}

/* cs_faiss_ivf_residual_spread against the residuals themselves: every
 * vector minus its list's centroid (FAISS's assignment), RMS per component.
 * The codes are 8-bit, so the two agree to about 1%. */
static void check_spread(FaissIndex *idx, int dim)
{
    FaissIndex *quantizer = faiss_IndexIVF_quantizer(faiss_IndexIVF_cast(idx));
    float spread = -1.0f;
    char msg[256];
    CHECK_INT_EQ(cs_faiss_ivf_residual_spread(idx, N, &spread, msg, sizeof msg), 0);
    /* the vectors again, as check_dim drew them */
    test_rng rng = {(uint32_t)dim};
    float *v = malloc((size_t)dim * sizeof *v), *c = malloc((size_t)dim * sizeof *c);
    CHECK(v && c);
    double sum = 0.0;
    for (int i = 0; v && c && i < N; i++) {
        rng_unit_vector(&rng, v, dim);
        float d;
        idx_t list;
        CHECK_INT_EQ(faiss_Index_search(quantizer, 1, v, 1, &d, &list), 0);
        CHECK_INT_EQ(faiss_Index_reconstruct(quantizer, list, c), 0);
        for (int j = 0; j < dim; j++)
            sum += ((double)v[j] - c[j]) * ((double)v[j] - c[j]);
    }
    double want = sqrt(sum / N / dim);
    CHECK(spread > 0.0f);
    CHECK(fabs(spread - want) <= 0.02 * want);
    /* a sample of a tenth says about the same */
    float sampled = -1.0f;
    CHECK_INT_EQ(cs_faiss_ivf_residual_spread(idx, N / 10, &sampled, msg, sizeof msg), 0);
    CHECK(fabs(sampled - want) <= 0.05 * want);
    free(v);
    free(c);
}

static void check_dim(int dim, int nlist)
{
    test_rng rng = {(uint32_t)dim};
    float *data = malloc((size_t)N * dim * sizeof *data);
    idx_t *ids = malloc(N * sizeof *ids);
    bool *allowed_id = calloc(N * 3 + 10, sizeof *allowed_id);
    idx_t *allowed = malloc(N * sizeof *allowed);
    float *all_d = malloc(N * sizeof *all_d);
    idx_t *all_l = malloc(N * sizeof *all_l);
    FaissIndex *idx = NULL;
    char desc[32];
    snprintf(desc, sizeof desc, "IVF%d,SQ8", nlist);
    CHECK(data && ids && allowed_id && allowed && all_d && all_l);
    CHECK_INT_EQ(faiss_index_factory(&idx, dim, desc, METRIC_INNER_PRODUCT), 0);
    if (!data || !ids || !allowed_id || !allowed || !all_d || !all_l || !idx)
        goto done;
    for (int i = 0; i < N; i++) {
        rng_unit_vector(&rng, data + (size_t)i * dim, dim);
        ids[i] = 7 + 3 * (idx_t)i;   /* ids are not positions */
    }
    CHECK_INT_EQ(faiss_Index_train(idx, N, data), 0);
    CHECK_INT_EQ(faiss_Index_add_with_ids(idx, N, data, ids), 0);
    size_t nallowed = 0;
    for (int i = 0; i < N; i++)
        if (rng_next(&rng) % 10 == 0) {
            allowed[nallowed++] = ids[i];
            allowed_id[ids[i]] = true;
        }
    for (int q = 0; q < 30; q++) {
        float x[128];
        rng_unit_vector(&rng, x, dim);
        size_t nprobe = q % 3 == 0 ? 1 : (size_t)(2 + q % 7);
        float want_d[K], got_d[K];
        idx_t want_l[K], got_l[K];
        char msg[256];
        /* FAISS's own scanner through its C API */
        faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(idx), nprobe);
        CHECK_INT_EQ(faiss_Index_search(idx, 1, x, K, want_d, want_l), 0);
        CHECK_INT_EQ(cs_faiss_ivf_search(idx, 1, x, K, nprobe, got_d, got_l, msg, sizeof msg), 0);
        same_results(want_d, want_l, got_d, got_l, K);
        /* among the allowed ids: FAISS's whole probed lists, filtered */
        faiss_top(idx, nprobe, x, allowed_id, all_d, all_l, want_d, want_l);
        CHECK_INT_EQ(cs_faiss_search_among(idx, nprobe, nprobe, 0.0f, x, K, allowed, nallowed,
                                           got_d, got_l, msg, sizeof msg), 0);
        same_results(want_d, want_l, got_d, got_l, K);
    }
    check_deeper(idx, dim, nlist, &rng, NULL, 0, NULL, all_d, all_l);
    check_deeper(idx, dim, nlist, &rng, allowed, nallowed, allowed_id, all_d, all_l);
    check_spread(idx, dim);
done:
    faiss_Index_free(idx);
    free(data);
    free(ids);
    free(allowed_id);
    free(allowed);
    free(all_d);
    free(all_l);
}

int main(void)
{
    check_dim(24, 40);    /* lists of about 150: one probe fills a page */
    check_dim(37, 300);   /* about 20 a list: one probe of 10% allowed does not */
    check_dim(128, 64);
    for (int filtered = 0; filtered < 2; filtered++) {
        CHECK(deeper_counts[filtered][0] > 0);
        CHECK(deeper_counts[filtered][1] > 0);
    }
    CHECK_DONE();
}
