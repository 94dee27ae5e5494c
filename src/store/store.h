/* src/store: the folder's public interface — the catalog (SQLite, the source
 * of truth) and the vector index derived from it. */
#ifndef CS_STORE_STORE_H
#define CS_STORE_STORE_H

#include "store/catalog.h"
#include "store/reconcile.h"
#include "store/vectors.h"

#endif
