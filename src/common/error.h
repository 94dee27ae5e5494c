/* Filling a cs_error: every failing call records a code and a message the
 * user can act on, then returns the code. */
#ifndef CS_COMMON_ERROR_H
#define CS_COMMON_ERROR_H

#include "capsearch/capsearch.h"

#if defined(__GNUC__)
#define CS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define CS_PRINTF(fmt, args)
#endif

/* Sets err (when non-NULL) and returns code. A message longer than the buffer
 * ends in "..." so a cut is visible. */
cs_status cs_error_set(cs_error *err, cs_status code, const char *fmt, ...) CS_PRINTF(3, 4);

/* Prefixes the message already in err with more context ("reading X: ").
 * Returns err->code. */
cs_status cs_error_prefix(cs_error *err, const char *fmt, ...) CS_PRINTF(2, 3);

void cs_error_clear(cs_error *err);

/* errno-based helpers: "<what> '<path>': <strerror>" with a status chosen
 * from errno (ENOENT -> NOT_FOUND, ENOMEM -> NOMEM, else IO). */
cs_status cs_error_errno(cs_error *err, int errnum, const char *what, const char *path);

#endif
