#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void mark_truncated(char *buf, size_t size, int written)
{
    if (written >= 0 && (size_t)written >= size && size > 4)
        memcpy(buf + size - 4, "...", 4);
}

cs_status cs_error_set(cs_error *err, cs_status code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    mark_truncated(err->message, sizeof err->message, n);
    return code;
}

cs_status cs_error_prefix(cs_error *err, const char *fmt, ...)
{
    if (!err)
        return CS_ERR_INVALID;
    char prefix[CS_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[CS_ERROR_MESSAGE_MAX];
    memcpy(old, err->message, sizeof old);
    int n = snprintf(err->message, sizeof err->message, "%s%s", prefix, old);
    mark_truncated(err->message, sizeof err->message, n);
    return err->code;
}

void cs_error_clear(cs_error *err)
{
    if (err) {
        err->code = CS_OK;
        err->message[0] = '\0';
    }
}

cs_status cs_error_errno(cs_error *err, int errnum, const char *what, const char *path)
{
    cs_status code = CS_ERR_IO;
    if (errnum == ENOENT || errnum == ENOTDIR)
        code = CS_ERR_NOT_FOUND;
    else if (errnum == ENOMEM)
        code = CS_ERR_NOMEM;
    return cs_error_set(err, code, "%s '%s': %s", what, path, strerror(errnum));
}

const char *cs_status_name(cs_status status)
{
    switch (status) {
    case CS_OK: return "ok";
    case CS_ERR_INVALID: return "invalid input";
    case CS_ERR_IO: return "I/O error";
    case CS_ERR_NOMEM: return "out of memory";
    case CS_ERR_CORRUPT: return "corrupt data";
    case CS_ERR_UNSUPPORTED: return "unsupported";
    case CS_ERR_TOO_LARGE: return "too large";
    case CS_ERR_DB: return "catalog error";
    case CS_ERR_VECTOR: return "vector index error";
    case CS_ERR_CANCELLED: return "cancelled";
    case CS_ERR_NOT_FOUND: return "not found";
    case CS_ERR_BUSY: return "busy";
    }
    return "unknown error";
}
