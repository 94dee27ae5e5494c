/* Request-side helpers: limits, percent-decoding, header and query lookup. */
#include "server/http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/utf8.h"

http_limits http_limits_normalize(const http_limits *in)
{
    http_limits out = in ? *in : (http_limits){0};
    if (out.max_header_bytes == 0)
        out.max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
    if (out.max_header_bytes > HTTP_HEADER_BYTES_CEILING)
        out.max_header_bytes = HTTP_HEADER_BYTES_CEILING;
    if (out.max_url_bytes == 0)
        out.max_url_bytes = HTTP_DEFAULT_MAX_URL_BYTES;
    if (out.max_url_bytes > HTTP_URL_BYTES_CEILING)
        out.max_url_bytes = HTTP_URL_BYTES_CEILING;
    if (out.max_body_bytes == 0)
        out.max_body_bytes = HTTP_DEFAULT_MAX_BODY_BYTES;
    if (out.max_connections <= 0)
        out.max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
    if (out.idle_timeout_ms <= 0)
        out.idle_timeout_ms = HTTP_DEFAULT_IDLE_TIMEOUT_MS;
    if (out.request_timeout_ms <= 0)
        out.request_timeout_ms = HTTP_DEFAULT_REQUEST_TIMEOUT_MS;
    if (out.max_pipelined <= 0)
        out.max_pipelined = HTTP_DEFAULT_MAX_PIPELINED;
    return out;
}

/* RFC 9110 token characters, the only ones allowed in a field name. */
static bool is_token_char(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return true;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')
        return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool http_is_field_name(const char *name)
{
    if (!*name)
        return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (!is_token_char(*p))
            return false;
    return true;
}

/* Visible characters, spaces and tabs: no CR or LF (header injection), no other
 * control characters. Bytes >= 0x80 pass (UTF-8 in, say, a file name). */
bool http_is_field_value(const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return false;
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

cs_status http_percent_decode(const char *s, size_t n, bool plus_is_space, char **out,
                              cs_error *err)
{
    *out = NULL;
    /* Decoding never grows the text. */
    char *decoded = malloc(n + 1);
    if (!decoded)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding %zu bytes", n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) {
                free(decoded);
                return cs_error_set(err, CS_ERR_INVALID,
                                    "truncated percent-escape at byte %zu: '%%' must be "
                                    "followed by two hex digits", i);
            }
            int high = hex_value((unsigned char)s[i + 1]);
            int low = hex_value((unsigned char)s[i + 2]);
            if (high < 0 || low < 0) {
                free(decoded);
                return cs_error_set(err, CS_ERR_INVALID,
                                    "invalid percent-escape at byte %zu: '%%' must be "
                                    "followed by two hex digits", i);
            }
            c = (unsigned char)(high * 16 + low);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0') {
            free(decoded);
            return cs_error_set(err, CS_ERR_INVALID, "NUL byte (%%00) is not allowed");
        }
        decoded[o++] = (char)c;
    }
    decoded[o] = '\0';
    if (!utf8_is_valid(decoded, o)) {
        free(decoded);
        return cs_error_set(err, CS_ERR_INVALID,
                            "not valid UTF-8 once percent-decoded (encode text as UTF-8)");
    }
    *out = decoded;
    return CS_OK;
}

const char *http_request_header(const http_request *request, const char *name)
{
    if (!request || !name)
        return NULL;
    for (size_t i = 0; i < request->nheaders; i++)
        if (strcasecmp(request->headers[i].name, name) == 0)
            return request->headers[i].value;
    return NULL;
}

int http_query_param(const char *raw_query, const char *name, char **value)
{
    *value = NULL;
    if (!raw_query || !name)
        return 0;
    const char *p = raw_query;
    while (*p) {
        const char *end = strchr(p, '&');
        if (!end)
            end = p + strlen(p);
        const char *equals = memchr(p, '=', (size_t)(end - p));
        const char *name_end = equals ? equals : end;
        char *decoded_name = NULL;
        cs_error err;
        cs_status rc = http_percent_decode(p, (size_t)(name_end - p), true, &decoded_name, &err);
        if (rc == CS_ERR_NOMEM)
            return -2;
        /* A name that does not decode cannot be the one asked for: skip it. */
        bool match = rc == CS_OK && strcmp(decoded_name, name) == 0;
        free(decoded_name);
        if (match) {
            const char *v = equals ? equals + 1 : end;
            rc = http_percent_decode(v, (size_t)(end - v), true, value, &err);
            if (rc == CS_ERR_NOMEM)
                return -2;
            return rc == CS_OK ? 1 : -1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}
