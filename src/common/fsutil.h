/* Small file-system helpers shared by the store, the indexer and the CLI. */
#ifndef CS_COMMON_FSUTIL_H
#define CS_COMMON_FSUTIL_H

#include <dirent.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "common/error.h"

/* Reads a whole file. Refuses files larger than max_bytes (CS_ERR_TOO_LARGE).
 * *out is malloc'd (plus a NUL byte past the end, not counted in *len). */
cs_status fs_read_file(const char *path, uint64_t max_bytes, uint8_t **out,
                       size_t *len, cs_error *err);

/* Creates a folder and its parents (mode 0755); existing folders are fine. */
cs_status fs_mkdir_p(const char *path, cs_error *err);

/* Writes `path` atomically: the caller fills a temporary file through
 * `write_fn`, which is then flushed, fsync'd and renamed over `path`, and the
 * folder is fsync'd. A failure leaves the old file untouched. */
typedef cs_status (*fs_write_fn)(FILE *f, void *user, cs_error *err);
cs_status fs_write_atomic(const char *path, fs_write_fn write_fn, void *user,
                          cs_error *err);

/* fsyncs the folder holding `path`, so that a rename or a new file in it
 * survives a crash. Best effort: errors are ignored. */
void fs_sync_parent(const char *path);

/* Removes a file, or a folder and everything in it (symlinks are removed,
 * never followed). A path that does not exist is fine. */
cs_status fs_remove_tree(const char *path, cs_error *err);

/* The sizes of the regular files in a folder and its subfolders, summed
 * (symlinks not followed; unreadable entries count 0). */
uint64_t fs_tree_bytes(const char *path);

/* The names in a folder, hidden ones (starting with '.') left out, sorted;
 * free them with fs_free_names. fs_list_folder opens `path` (a missing
 * folder is an error); fs_list_dir reads an open one. */
cs_status fs_list_dir(DIR *dir, char ***names, size_t *count, cs_error *err);
cs_status fs_list_folder(const char *path, char ***names, size_t *count, cs_error *err);
void fs_free_names(char **names, size_t count);

/* "a" + "/" + "b" into a malloc'd string (NULL on allocation failure). */
char *fs_path_join(const char *a, const char *b);

/* Size of a file in bytes, or -1 when it does not exist. */
int64_t fs_file_size(const char *path);

/* Monotonic clock in seconds. */
double fs_now_seconds(void);

#endif
