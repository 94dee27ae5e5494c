/* Walking a folder tree the way the indexer sees it: hidden entries (names
 * starting with '.') skipped, symlinks to files followed, symlinks to folders
 * not (cycles, and the same photos twice), entries in name order. Used by the
 * indexer and by the server's folder watcher. */
#ifndef CS_INDEXER_WALK_H
#define CS_INDEXER_WALK_H

#include <stdint.h>

#include "common/error.h"

typedef struct walk_callbacks {
    /* each image file (by extension); may be NULL */
    cs_status (*on_file)(const char *path, int64_t size, int64_t mtime_ns, void *user,
                         cs_error *err);
    /* each folder, the root included, before its contents; may be NULL */
    cs_status (*on_folder)(const char *path, void *user, cs_error *err);
    /* a folder or entry that could not be read; the walk goes on */
    void (*on_unreadable)(const char *path, int errnum, void *user);
    void *user;
} walk_callbacks;

/* Stops early (CS_OK) when *cancel becomes non-zero; a callback's error ends
 * the walk with that error. */
cs_status walk_tree(const char *root, const walk_callbacks *callbacks, volatile int *cancel,
                    cs_error *err);

#endif
