/* Building an IVF index without FAISS's flat search (faiss_extra.cpp):
 *  - cs_faiss_nearest_rows against double-precision dot products: the same
 *    row but where the best two are closer than rounding, the same score,
 *    over block and lane edges (n, ny, d not multiples of 1024 or 16);
 *  - cs_faiss_add_with_ids against FAISS's add_with_ids on two copies of
 *    one trained index: every list holds the same ids;
 *  - cs_faiss_train against FAISS's own training: the same k-means seeds
 *    give the same centroids, but where an assignment tie went the other
 *    way. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "check.h"
#include "store/faiss_extra.h"
#include "vec_testutil.h"

#define TIE 1e-5

static void check_nearest_rows(size_t n, size_t ny, int d, test_rng *rng)
{
    float *x = malloc(n * (size_t)d * sizeof *x), *y = malloc(ny * (size_t)d * sizeof *y);
    float *scores = malloc(n * sizeof *scores);
    idx_t *labels = malloc(n * sizeof *labels);
    CHECK(x && y && scores && labels);
    if (!x || !y || !scores || !labels)
        goto done;
    for (size_t i = 0; i < n; i++)
        rng_unit_vector(rng, x + i * (size_t)d, d);
    for (size_t j = 0; j < ny; j++)
        rng_unit_vector(rng, y + j * (size_t)d, d);
    char msg[256];
    CHECK_INT_EQ(cs_faiss_nearest_rows(x, n, y, ny, (size_t)d, scores, labels, msg, sizeof msg),
                 0);
    int ties = 0;
    for (size_t i = 0; i < n; i++) {
        double best = -INFINITY, second = -INFINITY;
        size_t arg = 0;
        for (size_t j = 0; j < ny; j++) {
            double s = dot_ref(x + i * (size_t)d, y + j * (size_t)d, d);
            if (s > best) {
                second = best;
                best = s;
                arg = j;
            } else if (s > second) {
                second = s;
            }
        }
        CHECK(fabs(scores[i] - best) <= TIE);
        if (best - second <= TIE) {
            ties++;
            continue;
        }
        if (labels[i] != (idx_t)arg) {
            CHECK_INT_EQ(labels[i], (idx_t)arg);
            break;
        }
    }
    CHECK(ties <= (int)(n / 100));
    /* no rows to compare with is an error, not a crash */
    CHECK_INT_EQ(cs_faiss_nearest_rows(x, n, y, 0, (size_t)d, scores, labels, msg, sizeof msg),
                 -1);
done:
    free(x);
    free(y);
    free(scores);
    free(labels);
}

/* A copy of an index through FAISS's own file format. */
static FaissIndex *copy_of(const FaissIndex *idx)
{
    FILE *f = tmpfile();
    FaissIndex *out = NULL;
    if (f && faiss_write_index(idx, f) == 0 && fseek(f, 0, SEEK_SET) == 0)
        faiss_read_index(f, 0, &out);
    if (f)
        fclose(f);
    CHECK(out != NULL);
    return out;
}

static int cmp_idx(const void *a, const void *b)
{
    idx_t x = *(const idx_t *)a, y = *(const idx_t *)b;
    return (x > y) - (x < y);
}

/* How many of the lists hold other ids in `a` than in `b`. */
static int lists_differing(FaissIndex *a, FaissIndex *b, size_t nlist, size_t n)
{
    idx_t *ia = malloc(n * sizeof *ia), *ib = malloc(n * sizeof *ib);
    int differ = 0;
    for (size_t l = 0; ia && ib && l < nlist; l++) {
        size_t na = faiss_IndexIVF_get_list_size(faiss_IndexIVF_cast(a), l);
        size_t nb = faiss_IndexIVF_get_list_size(faiss_IndexIVF_cast(b), l);
        if (na != nb) {
            differ++;
            continue;
        }
        faiss_IndexIVF_invlists_get_ids(faiss_IndexIVF_cast(a), l, ia);
        faiss_IndexIVF_invlists_get_ids(faiss_IndexIVF_cast(b), l, ib);
        qsort(ia, na, sizeof *ia, cmp_idx);
        qsort(ib, nb, sizeof *ib, cmp_idx);
        differ += memcmp(ia, ib, na * sizeof *ia) != 0;
    }
    CHECK(ia && ib);
    free(ia);
    free(ib);
    return differ;
}

static void check_build(int d, size_t nlist, size_t n, test_rng *rng)
{
    float *x = malloc(n * (size_t)d * sizeof *x);
    idx_t *ids = malloc(n * sizeof *ids);
    float *ca = malloc((size_t)d * sizeof *ca), *cb = malloc((size_t)d * sizeof *cb);
    FaissIndex *faiss_trained = NULL, *own_trained = NULL, *a = NULL, *b = NULL;
    char desc[32], msg[256];
    snprintf(desc, sizeof desc, "IVF%zu,SQ8", nlist);
    CHECK(x && ids && ca && cb);
    CHECK_INT_EQ(faiss_index_factory(&faiss_trained, d, desc, METRIC_INNER_PRODUCT), 0);
    CHECK_INT_EQ(faiss_index_factory(&own_trained, d, desc, METRIC_INNER_PRODUCT), 0);
    if (!x || !ids || !ca || !cb || !faiss_trained || !own_trained)
        goto done;
    for (size_t i = 0; i < n; i++) {
        rng_unit_vector(rng, x + i * (size_t)d, d);
        ids[i] = 11 + 5 * (idx_t)i;
    }
    CHECK_INT_EQ(faiss_Index_train(faiss_trained, (idx_t)n, x), 0);
    CHECK_INT_EQ(cs_faiss_train(own_trained, (idx_t)n, x, msg, sizeof msg), 0);
    /* the same centroids, list by list */
    FaissIndex *qa = faiss_IndexIVF_quantizer(faiss_IndexIVF_cast(faiss_trained));
    FaissIndex *qb = faiss_IndexIVF_quantizer(faiss_IndexIVF_cast(own_trained));
    size_t moved = 0;
    for (size_t l = 0; l < nlist; l++) {
        CHECK_INT_EQ(faiss_Index_reconstruct(qa, (idx_t)l, ca), 0);
        CHECK_INT_EQ(faiss_Index_reconstruct(qb, (idx_t)l, cb), 0);
        float worst = 0.0f;
        for (int i = 0; i < d; i++)
            worst = fmaxf(worst, fabsf(ca[i] - cb[i]));
        moved += worst > 1e-4f;
    }
    CHECK(moved <= nlist / 50);
    /* the same lists for every vector added, from one trained index */
    a = copy_of(faiss_trained);
    b = copy_of(faiss_trained);
    if (!a || !b)
        goto done;
    CHECK_INT_EQ(faiss_Index_add_with_ids(a, (idx_t)n, x, ids), 0);
    CHECK_INT_EQ(cs_faiss_add_with_ids(b, (idx_t)n, x, ids, msg, sizeof msg), 0);
    CHECK_INT_EQ(faiss_Index_ntotal(b), (idx_t)n);
    CHECK(lists_differing(a, b, nlist, n) <= 2);
    /* and the same search results, every list probed */
    float da[10], db[10];
    idx_t la[10], lb[10];
    faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(a), nlist);
    faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(b), nlist);
    for (int q = 0; q < 5; q++) {
        CHECK_INT_EQ(faiss_Index_search(a, 1, x + (size_t)q * 97 * (size_t)d, 10, da, la), 0);
        CHECK_INT_EQ(faiss_Index_search(b, 1, x + (size_t)q * 97 * (size_t)d, 10, db, lb), 0);
        CHECK(memcmp(la, lb, sizeof la) == 0);
    }
done:
    faiss_Index_free(faiss_trained);
    faiss_Index_free(own_trained);
    faiss_Index_free(a);
    faiss_Index_free(b);
    free(x);
    free(ids);
    free(ca);
    free(cb);
}

int main(void)
{
    test_rng rng = {99};
    check_nearest_rows(2500, 37, 24, &rng);    /* three blocks, a lane tail */
    check_nearest_rows(300, 1100, 130, &rng);  /* rows past one sgemm panel */
    check_nearest_rows(1, 1, 5, &rng);
    check_build(48, 64, 64 * 40, &rng);
    check_build(37, 100, 100 * 45, &rng);
    CHECK_DONE();
}
