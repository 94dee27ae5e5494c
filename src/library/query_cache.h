/* The query embedding cache of a library handle: the CLIP text embedding
 * of a query, keyed by the model id and the exact query text, so a
 * repeated query or another page of it skips the text tower. A fixed number
 * of entries; the least recently used one makes room. Every entry belongs
 * to one model: a lookup or store for another model (the library's vectors
 * moved to it) empties the cache first. Thread-safe. */
#ifndef CS_LIBRARY_QUERY_CACHE_H
#define CS_LIBRARY_QUERY_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "capsearch/capsearch.h"

typedef struct query_cache query_cache;

/* capacity >= 1. */
cs_status query_cache_new(size_t capacity, query_cache **out, cs_error *err);
void query_cache_free(query_cache *cache);

/* Copies the dim floats stored for (model, text) into out and returns
 * true; false (a miss, counted) when there are none of that size. */
bool query_cache_get(query_cache *cache, const char *model, const char *text, float *out,
                     int dim);

/* Stores a copy. Out of memory stores nothing: the cache only saves work,
 * so the search goes on without it. */
void query_cache_put(query_cache *cache, const char *model, const char *text,
                     const float *embedding, int dim);

void query_cache_stats(query_cache *cache, cs_query_cache_stats *out);

#endif
