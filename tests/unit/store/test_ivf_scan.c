/* The own scan of IVF-SQ8 lists (faiss_extra.cpp) against FAISS's own
 * scanner: the same nprobe lists give the same results, best first, scores
 * within float rounding, with and without an id selector, and the same -1
 * padding when the probed lists hold fewer than k. Dimensions that are not
 * a multiple of 16 exercise the scan's tail. */
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
        CHECK_INT_EQ(faiss_Index_search(idx, 1, x, N, all_d, all_l), 0);
        int n = 0;
        for (int i = 0; i < N && n < K; i++)
            if (all_l[i] >= 0 && allowed_id[all_l[i]]) {
                want_d[n] = all_d[i];
                want_l[n++] = all_l[i];
            }
        for (; n < K; n++)
            want_l[n] = -1;
        CHECK_INT_EQ(cs_faiss_search_among(idx, nprobe, x, K, allowed, nallowed, got_d, got_l,
                                           msg, sizeof msg), 0);
        same_results(want_d, want_l, got_d, got_l, K);
    }
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
    CHECK_DONE();
}
