/* The filter lists of a library handle: the images a broad filter keeps
 * (has faces, a large folder: too many to list for each search), listed
 * once per catalog generation and kept for the next searches with the same
 * filter. With the list, the vector ranking searches the index among those
 * images alone (an ID selector) instead of checking the index's first
 * candidates, which misses many of the best. A few lists; the least
 * recently used one makes room. Thread-safe. */
#ifndef CS_LIBRARY_FILTER_LISTS_H
#define CS_LIBRARY_FILTER_LISTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsearch/capsearch.h"

#define FILTER_LISTS_MAX 4

typedef struct filter_lists filter_lists;

cs_status filter_lists_new(filter_lists **out, cs_error *err);
void filter_lists_free(filter_lists *lists);

/* The filter's key: every field in a fixed order (malloc'd; NULL when out
 * of memory). */
char *filter_lists_key(const cs_filter *filter);

/* A malloc'd copy of the ids stored for key at this catalog generation, and
 * true; false on a miss (none, another generation, or out of memory). */
bool filter_lists_get(filter_lists *lists, const char *key, int64_t generation, int64_t **ids,
                      size_t *n);

/* Stores a copy; out of memory stores nothing (the list only saves work). */
void filter_lists_put(filter_lists *lists, const char *key, int64_t generation,
                      const int64_t *ids, size_t n);

/* Lookups answered from a list, and lookups that were not. */
void filter_lists_stats(filter_lists *lists, uint64_t *hits, uint64_t *misses);

#endif
