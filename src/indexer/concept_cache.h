/* The user's cache of concept embeddings, shared by every library and by
 * `capsearch caption`: a catalog file (concepts.db) of which only the
 * concept-embedding table is used, in $CAPSEARCH_CACHE, else
 * $XDG_CACHE_HOME/capsearch, else ~/.cache/capsearch. A second library
 * indexed with a model the user has used before then finds the
 * vocabulary's embeddings there instead of spending minutes computing them
 * again. It is only a cache: whatever goes wrong with it, the embeddings
 * are computed as without it. */
#ifndef CS_INDEXER_CONCEPT_CACHE_H
#define CS_INDEXER_CONCEPT_CACHE_H

#include "store/catalog.h"

#define CONCEPT_CACHE_FILE "concepts.db"

/* The cache, made when missing; NULL with *err set when there is no cache
 * folder or it cannot be opened (the caller goes on without it). */
catalog *concept_cache_open(cs_error *err);

#endif
