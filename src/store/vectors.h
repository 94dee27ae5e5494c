/* The vector index: a FAISS index held in memory and saved to one file. It is
 * derived data: the catalog's embeddings are the source of truth, and the
 * file is stamped with the catalog generation and embedding model it
 * reflects so that a stale or damaged file is repaired on open.
 *
 * Two kinds, chosen by size (vectors_build):
 *  - exact: an IndexIDMap2 over a flat inner-product index (every vector
 *    compared with the query), up to VECTORS_EXACT_MAX vectors;
 *  - IVF-SQ8: an inverted-file index ("IVF{nlist},SQ8", inner product,
 *    residuals quantised to 8 bits per dimension) holding the ids itself.
 *    It is not wrapped in an IDMap2: IDMap2 numbers the vectors of the index
 *    it wraps by position and compacts those numbers on removal, which IVF
 *    lists do not follow, so ids would go wrong after the first removal.
 *    nlist is about 4*sqrt(n); nprobe (lists searched per query) is chosen
 *    at build time by measuring recall@10 against exact search on a sample
 *    of the vectors, and saved in the file.
 * vectors_create makes an empty exact index; the caller (the library) asks
 * vectors_needs_retrain whether the kind still suits the size and rebuilds
 * from the catalog with vectors_build when it does not.
 *
 * File layout (little-endian), format version 3:
 *   magic "CSVEC\0\0\3" (8 bytes; the last byte is the format version),
 *   u64 generation, u32 dim, u32 model id length, u32 kind (0 exact,
 *   1 IVF-SQ8), u32 nprobe, u64 nlist, u64 trained_for (the number of
 *   vectors the IVF was trained for; the three are 0 for exact), model id
 *   bytes, then the FAISS index as faiss_write_index writes it, then a
 *   16-byte trailer: u64 generation again (a torn write is detected) and u64
 *   XXH3-64 (seed 0) of every byte before the trailer.
 * Loading verifies the checksum before FAISS parses anything, so damage
 * anywhere in the file (a stored vector or id included) is refused, short of
 * a 1-in-2^64 checksum collision.
 * It accepts only what vectors_save writes (the FAISS structure of the kind
 * the header names, every size and parameter matching the header and the
 * file length exactly) and reports anything else as CS_ERR_CORRUPT,
 * including a file of another format version (an older file is then rebuilt
 * from the catalog like a damaged one).
 *
 * All calls on one `vectors` object must come from one thread at a time;
 * vectors_search may run concurrently with other searches. */
#ifndef CS_STORE_VECTORS_H
#define CS_STORE_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct vectors vectors;

typedef enum vectors_kind {
    VECTORS_EXACT = 0,     /* IDMap2 over a flat inner-product index */
    VECTORS_IVF_SQ8 = 1,   /* IVF with 8-bit scalar-quantised residuals */
} vectors_kind;

/* Up to this many vectors vectors_build makes an exact index; the
 * environment variable CAPSEARCH_EXACT_MAX overrides it (tests, benchmarks). */
#define VECTORS_EXACT_MAX 50000
/* An IVF index is re-trained once it holds this many times the vectors it
 * was trained for (or a quarter of them: its lists would be mostly empty). */
#define VECTORS_RETRAIN_FACTOR 4

/* VECTORS_EXACT_MAX, or CAPSEARCH_EXACT_MAX when set (CS_ERR_INVALID when it
 * is not a whole number). */
cs_status vectors_exact_max(int64_t *out, cs_error *err);

/* An index of n vectors (n * dim floats, ids >= 0 and distinct, values
 * finite) of the kind that suits n: exact up to vectors_exact_max, IVF-SQ8
 * above it, trained on the vectors themselves and with nprobe calibrated
 * on them. */
cs_status vectors_build(const char *model, int dim, size_t n, const int64_t *ids,
                        const float *data, vectors **out, cs_error *err);

/* An empty index for `dim`-dimensional vectors of `model`. */
cs_status vectors_create(const char *model, int dim, vectors **out, cs_error *err);

/* Loads a vector file. CS_ERR_NOT_FOUND when it does not exist,
 * CS_ERR_CORRUPT when it is damaged, truncated or not a vector file. */
cs_status vectors_load(const char *path, vectors **out, cs_error *err);

/* Writes the index atomically (temp file, fsync, rename), stamped with
 * `generation`. */
cs_status vectors_save(vectors *v, const char *path, int64_t generation, cs_error *err);

void vectors_free(vectors *v);

/* Shared read-only use by several threads: a new index has one reference;
 * vectors_retain adds one, vectors_release drops one and frees the index
 * with the last. (vectors_free frees at once: for sole owners.) */
vectors *vectors_retain(vectors *v);
void vectors_release(vectors *v);

int64_t vectors_generation(const vectors *v);   /* stamp read or last saved */
const char *vectors_model(const vectors *v);
int vectors_dim(const vectors *v);
int64_t vectors_count(const vectors *v);
vectors_kind vectors_get_kind(const vectors *v);
int64_t vectors_nlist(const vectors *v);        /* 0 for exact */
int vectors_nprobe(const vectors *v);           /* 0 for exact */
int64_t vectors_trained_for(const vectors *v);  /* 0 for exact */

/* Sets the lists an IVF index searches per query (1..nlist; saved with the
 * index). CS_ERR_INVALID for an exact index or a value out of range. */
cs_status vectors_set_nprobe(vectors *v, int nprobe, cs_error *err);

/* Whether the index should be rebuilt (vectors_build) for its present size:
 * an exact index above exact_max, an IVF index grown VECTORS_RETRAIN_FACTOR
 * times past (or shrunk as far below) what it was trained for, or down to
 * half of exact_max. */
bool vectors_needs_retrain(const vectors *v, int64_t exact_max);

/* Moves fresh's index into v (keeping v's identity, references and
 * generation stamp) and frees fresh. Both must hold the same model and
 * dimension (CS_ERR_INVALID otherwise, and nothing changes). */
cs_status vectors_replace(vectors *v, vectors *fresh, cs_error *err);

/* Adds n vectors (n * dim floats) with their ids. An id already present is
 * replaced. Ids must be >= 0 and distinct within one call, and values finite
 * (CS_ERR_INVALID otherwise, and nothing changes). */
cs_status vectors_add(vectors *v, size_t n, const int64_t *ids, const float *data,
                      cs_error *err);
/* Removes ids; absent ids are ignored. *removed may be NULL. */
cs_status vectors_remove(vectors *v, size_t n, const int64_t *ids, size_t *removed,
                         cs_error *err);
/* The ids in the index, sorted ascending; *ids is malloc'd. */
cs_status vectors_ids(const vectors *v, int64_t **ids, size_t *n, cs_error *err);

/* The k best matches of one query (inner product, highest first). Writes up
 * to k results and sets *found (fewer than k when the index holds fewer;
 * 0 for an empty index). k <= 0 is CS_ERR_INVALID. An IVF index searches
 * its nprobe lists, and more when they hold fewer than k vectors; its
 * scores are approximate (8-bit vectors). */
cs_status vectors_search(const vectors *v, const float *query, int k, int64_t *ids,
                         float *scores, int *found, cs_error *err);

/* vectors_search among the `nallowed` ids of `allowed` only: the index
 * skips every other vector (a FAISS IDSelector), so a selective filter
 * still gets k results when that many allowed ids are in the index. An IVF
 * index probes more lists (up to all) until it finds min(k, nallowed). */
cs_status vectors_search_among(const vectors *v, const float *query, int k,
                               const int64_t *allowed, size_t nallowed, int64_t *ids,
                               float *scores, int *found, cs_error *err);

#endif
