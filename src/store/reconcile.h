/* Bringing the vector file in line with the catalog (the source of truth). */
#ifndef CS_STORE_RECONCILE_H
#define CS_STORE_RECONCILE_H

#include <stdbool.h>

#include "store/catalog.h"
#include "store/vectors.h"

typedef struct reconcile_report {
    bool rebuilt;          /* the file was missing, damaged or for another model */
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
 * embeddings of `model` (a stale file is then deleted when may_save). */
cs_status vectors_reconcile(catalog *c, const char *file, const char *model,
                            bool may_save, vectors **out, reconcile_report *report,
                            cs_error *err);

#endif
