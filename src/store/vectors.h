/* The vector index: a FAISS index (IndexIDMap2 over an inner-product index)
 * held in memory and saved to one file. It is derived data: the catalog's
 * embeddings are the source of truth, and the file is stamped with the catalog
 * generation and embedding model it reflects so that a stale or damaged file
 * is repaired on open.
 *
 * File layout (little-endian), format version 2:
 *   magic "CSVEC\0\0\2" (8 bytes; the last byte is the format version),
 *   u64 generation, u32 dim, u32 model id length, model id bytes, then the
 *   FAISS index as faiss_write_index writes it, then a 16-byte trailer:
 *   u64 generation again (a torn write is detected) and u64 XXH3-64 (seed 0)
 *   of every byte before the trailer.
 * Loading verifies the checksum before FAISS parses anything, so damage
 * anywhere in the file (a stored vector or id included) is refused, short of
 * a 1-in-2^64 checksum collision.
 * It accepts only what vectors_save writes (an IDMap2 over a flat
 * inner-product index, sizes matching the file exactly) and reports anything
 * else as CS_ERR_CORRUPT, including a file of another format version (an
 * older file is then rebuilt from the catalog like a damaged one).
 *
 * All calls on one `vectors` object must come from one thread at a time;
 * vectors_search may run concurrently with other searches. */
#ifndef CS_STORE_VECTORS_H
#define CS_STORE_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct vectors vectors;

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
 * 0 for an empty index). k <= 0 is CS_ERR_INVALID. */
cs_status vectors_search(const vectors *v, const float *query, int k, int64_t *ids,
                         float *scores, int *found, cs_error *err);

#endif
