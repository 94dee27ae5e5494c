/* The library object behind the public cs_library handle: a folder with the
 * catalog, the vector file and caches. Shared by the indexer, search and the
 * reports; the CLI and server see only capsearch.h. */
#ifndef CS_LIBRARY_LIBRARY_H
#define CS_LIBRARY_LIBRARY_H

#include <stdbool.h>

#include "capsearch/capsearch.h"
#include "store/store.h"

#define LIBRARY_CATALOG_FILE "catalog.db"
#define LIBRARY_VECTORS_FILE "vectors.faiss"
#define LIBRARY_LOCK_FILE "index.lock"

struct cs_library {
    char *dir;
    char *catalog_path;
    char *vectors_path;
    char *lock_path;
    char *model;              /* embedding model the vector index holds */
    bool read_only;
    catalog *cat;
    vectors *vec;             /* NULL until there is an embedding */
    reconcile_report reconcile;
};

/* Takes the library's writer lock (one indexer at a time). CS_ERR_BUSY when
 * another process holds it. *fd is released by library_unlock. */
cs_status library_lock(cs_library *lib, int *fd, cs_error *err);
void library_unlock(int fd);

/* Saves the in-memory vector index stamped with the catalog's generation. */
cs_status library_save_vectors(cs_library *lib, cs_error *err);

#endif
