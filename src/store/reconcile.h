/* Bringing the vector file in line with the catalog (the source of truth). */
#ifndef CS_STORE_RECONCILE_H
#define CS_STORE_RECONCILE_H

#include <stdbool.h>

#include "store/catalog.h"
#include "store/vectors.h"

typedef struct reconcile_report {
    bool rebuilt;          /* the file was missing, damaged or for another model */
    bool retrained;        /* the index was rebuilt for its size (vectors_needs_retrain) */
    size_t added;
    size_t removed;
    bool saved;
    int64_t generation;    /* the catalog generation the result reflects */
} reconcile_report;

/* Loads `file` and repairs it against the catalog's embeddings of `model`:
 * when its generation stamp differs from the catalog's, ids missing from the
 * file are added and ids no longer in the catalog removed; a missing, damaged
 * or foreign file is rebuilt from scratch. The result is saved back when
 * `may_save` and anything changed. *out is NULL when the catalog holds no
 * embeddings of `model` (a stale file is then deleted when may_save).
 * A missing or damaged file is rebuilt with vectors_build (the kind suited
 * to the catalog's size); with `may_save`, an index whose kind or training
 * no longer suits its size is rebuilt from the catalog too. */
cs_status vectors_reconcile(catalog *c, const char *file, const char *model,
                            bool may_save, vectors **out, reconcile_report *report,
                            cs_error *err);

/* Rebuilds v in place (vectors_replace) from the catalog's embeddings of its
 * model when vectors_needs_retrain says its size calls for it; *retrained
 * (may be NULL) says whether it did. Re-training an IVF index costs about a
 * minute per million vectors on two cores. The caller owns v (no concurrent
 * searches on it). */
cs_status vectors_retrain(catalog *c, vectors *v, bool *retrained, cs_error *err);

/* vectors_retrain, then vectors_save. When re-training fails the index is
 * still saved as it is, and the re-training error is returned. */
cs_status vectors_retrain_save(catalog *c, vectors *v, const char *file, int64_t generation,
                               cs_error *err);

#endif
