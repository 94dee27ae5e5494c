/* The FAISS calls vectors.c needs that the upstream C API does not offer
 * (per-search IVF parameters, brute-force k-NN over a plain array). Compiled
 * against the C++ library in every build, with or without a faiss_c library.
 * Each returns 0 on success, or -1 with the exception's text in msg. */
#ifndef CS_STORE_FAISS_EXTRA_H
#define CS_STORE_FAISS_EXTRA_H

#include <stddef.h>
#include <stdint.h>

#include <faiss/c_api/Index_c.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Searches an IVF index (not wrapped) with `nprobe` lists for this call only,
 * so concurrent searches can use different values. */
int cs_faiss_ivf_search(const FaissIndex *ivf, idx_t n, const float *x, idx_t k, size_t nprobe,
                        float *distances, idx_t *labels, char *msg, size_t msg_size);

/* The same, probing past the first nprobe lists (up to max_probe) while
 * the next list's centroid score plus `margin` reaches the k-th best score
 * found: lists that may still hold a better vector. margin 0: nprobe lists
 * exactly. Indexes the own scan does not handle get nprobe lists. */
int cs_faiss_ivf_search_deeper(const FaissIndex *ivf, idx_t n, const float *x, idx_t k,
                               size_t nprobe, size_t max_probe, float margin, float *distances,
                               idx_t *labels, char *msg, size_t msg_size);

/* The root mean square of one component of the residuals (vector minus its
 * list's centroid) over about `sample` codes spread over the lists: the
 * standard deviation of a unit query's dot product with a residual pointing
 * anywhere. 0 for an index kind the own scan does not handle or an empty
 * one. */
int cs_faiss_ivf_residual_spread(const FaissIndex *ivf, size_t sample, float *spread, char *msg,
                                 size_t msg_size);

/* One query against an exact index (an IndexIDMap2 over an inner-product
 * flat index): the scores by one cblas_sgemv over the stored vectors, the
 * best k (ties by insertion order) with their ids, -1 padding. FAISS's own
 * single-query flat search runs its scalar loop when FAISS is built without
 * SIMD (Debian's is), several times slower. Other indexes: FAISS's search. */
int cs_faiss_exact_search(const FaissIndex *index, const float *x, idx_t k, float *distances,
                          idx_t *labels, char *msg, size_t msg_size);

/* The k largest inner products of each of nx queries with ny rows of y (row
 * numbers in labels, -1 padding when ny < k); BLAS for batches of queries. */
int cs_faiss_knn_ip(const float *x, size_t nx, const float *y, size_t ny, size_t d, size_t k,
                    float *distances, idx_t *labels, char *msg, size_t msg_size);

/* k-NN search of one query among the `nallowed` ids in `allowed` only (an
 * ID selector passed through SearchParameters, so the index itself skips
 * every other vector). `index` is an IndexIDMap2 over a flat index (the
 * selector then sees the flat index's positions, translated to ids through
 * the map) or an IVF index holding the ids itself, searched with `nprobe`
 * lists and past them as cs_faiss_ivf_search_deeper goes (up to max_probe,
 * margin 0: nprobe exactly), the k-th best being the k-th allowed. Labels
 * are ids, -1 padding when fewer than k are found. */
int cs_faiss_search_among(const FaissIndex *index, size_t nprobe, size_t max_probe,
                          float margin, const float *x, idx_t k, const idx_t *allowed,
                          size_t nallowed, float *distances, idx_t *labels, char *msg,
                          size_t msg_size);

/* Trains an index. An IVF index on inner products over a flat quantizer
 * assigns vectors to its k-means centroids with cs_faiss_nearest_rows
 * (no OpenMP region between its GEMMs: FAISS's own flat search has one
 * after each, whose waiting threads spin against OpenBLAS's on few cores);
 * other indexes train as FAISS trains them. */
int cs_faiss_train(FaissIndex *index, idx_t n, const float *x, char *msg, size_t msg_size);

/* Adds vectors with their ids. A trained IVF index of that kind gets each
 * vector's list from cs_faiss_nearest_rows (the same list FAISS would give
 * but on a tie of scores); others add as FAISS adds. */
int cs_faiss_add_with_ids(FaissIndex *index, idx_t n, const float *x, const idx_t *ids,
                          char *msg, size_t msg_size);

/* For each of n vectors x (d floats each), the row of y (ny rows) with the
 * largest inner product, the first of equal ones, and that product
 * (scores may be NULL). One cblas_sgemm per block of vectors. */
int cs_faiss_nearest_rows(const float *x, size_t n, const float *y, size_t ny, size_t d,
                          float *scores, idx_t *labels, char *msg, size_t msg_size);

#ifdef __cplusplus
}
#endif

#endif
