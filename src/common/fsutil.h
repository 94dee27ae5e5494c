/* Small file-system helpers shared by the store, the indexer and the CLI. */
#ifndef CS_COMMON_FSUTIL_H
#define CS_COMMON_FSUTIL_H

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

/* "a" + "/" + "b" into a malloc'd string (NULL on allocation failure). */
char *fs_path_join(const char *a, const char *b);

/* Size of a file in bytes, or -1 when it does not exist. */
int64_t fs_file_size(const char *path);

/* Monotonic clock in seconds. */
double fs_now_seconds(void);

#endif
