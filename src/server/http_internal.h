/* Internals of the HTTP layer shared by its files and its tests:
 *   http_parse.c    turns bytes into complete requests (http_assembler), no I/O;
 *   http_util.c     percent-decoding and the request-side helpers of http.h;
 *   http_response.c the response helpers of http.h and serialising a response;
 *   http_server.c   libuv: listener, connections, the per-connection queue,
 *                   timeouts and shutdown.
 * The assembler never touches a socket, so the fuzzer and the unit tests drive
 * exactly the code the server runs. */
#ifndef CS_SERVER_HTTP_INTERNAL_H
#define CS_SERVER_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <http_parser.h>

#include "common/strbuf.h"
#include "server/http.h"

/* ---- limits ---- */

#define HTTP_DEFAULT_MAX_HEADER_BYTES (16u * 1024u)
#define HTTP_DEFAULT_MAX_URL_BYTES (8u * 1024u)
#define HTTP_DEFAULT_MAX_BODY_BYTES (32u * 1024u * 1024u)
#define HTTP_DEFAULT_MAX_CONNECTIONS 256
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 30000
#define HTTP_DEFAULT_REQUEST_TIMEOUT_MS 30000
#define HTTP_DEFAULT_MAX_PIPELINED 16
/* http_parser refuses more header bytes than this by itself (its default
 * HTTP_MAX_HEADER_SIZE), so a larger limit could never be reached. */
#define HTTP_HEADER_BYTES_CEILING (80u * 1024u)
/* http_parser_parse_url() keeps offsets in 16 bits. */
#define HTTP_URL_BYTES_CEILING 65535u
/* A request with more header lines than this gets 431 whatever their size. */
#define HTTP_MAX_HEADER_COUNT 128

/* `in` with zeros (and negative numbers) replaced by the defaults and the
 * header and URL limits capped at what http_parser can enforce. */
http_limits http_limits_normalize(const http_limits *in);

/* ---- field syntax (RFC 9110) ---- */

/* A non-empty token: the only characters a header name may have. */
bool http_is_field_name(const char *name);
/* No control characters but tab: no CR/LF, so no header injection. */
bool http_is_field_value(const char *value);

/* ---- percent-decoding ---- */

/* Decodes %XX escapes in s[0..n) (and '+' as a space when plus_is_space) into
 * a malloc'd NUL-terminated string. Refuses a malformed escape, an encoded or
 * raw NUL and a result that is not valid UTF-8 (CS_ERR_INVALID, message says
 * which); CS_ERR_NOMEM when allocation fails. */
cs_status http_percent_decode(const char *s, size_t n, bool plus_is_space, char **out,
                              cs_error *err);

/* ---- a request as assembled from the wire ---- */

typedef struct http_request_data {
    http_request view;       /* what the handler sees; points into the fields below */
    char *path;
    char *raw_query;
    http_header *headers;
    size_t nheaders;
    uint8_t *body;
    bool keep_alive;         /* http_should_keep_alive() and no protocol upgrade */
    bool is_head;
} http_request_data;

void http_request_data_free(http_request_data *request);

/* ---- the assembler: bytes in, requests out ---- */

/* Where the assembler delivers what it finds. All callbacks run inside
 * http_assembler_feed(); they must not call back into the assembler. */
typedef struct http_assembler_sink {
    /* The first byte of a new request arrived (starts the request timeout). */
    void (*message_begin)(void *context);
    /* A complete request; the sink takes ownership. Return false to pause the
     * assembler after it (back-pressure); http_assembler_resume() continues. */
    bool (*request)(void *context, http_request_data *request);
    /* The stream cannot be read further: answer with this status and
     * {"error":{"code","message"}}, then close. The assembler is stopped. */
    void (*reject)(void *context, int status, const char *code, const char *message);
    /* The request asked for "Expect: 100-continue" and its body is acceptable. */
    void (*expect_continue)(void *context);
} http_assembler_sink;

typedef enum http_assembler_state {
    HTTP_ASSEMBLER_READING,
    HTTP_ASSEMBLER_PAUSED,    /* the sink asked for a pause; unconsumed bytes are the caller's */
    HTTP_ASSEMBLER_STOPPED,   /* after a last request (no keep-alive), a reject, or stop() */
} http_assembler_state;

typedef struct http_assembler_header {
    strbuf name;
    strbuf value;
} http_assembler_header;

typedef struct http_assembler {
    http_parser parser;
    http_limits limits;
    const http_assembler_sink *sink;
    void *sink_context;
    http_assembler_state state;
    bool in_message;
    /* the request being received */
    strbuf url;
    http_assembler_header *headers;
    size_t nheaders;
    size_t headers_capacity;
    bool next_field_starts_header;   /* the next header-field piece begins a new header */
    size_t header_bytes;         /* request line + header lines, as counted for the limit */
    strbuf body;
} http_assembler;

void http_assembler_init(http_assembler *assembler, const http_limits *limits,
                         const http_assembler_sink *sink, void *sink_context);
void http_assembler_free(http_assembler *assembler);

/* Parses data[0..len) (len > 0). Returns how many bytes were consumed: all of
 * them unless the assembler got paused, in which case the caller keeps the
 * rest and feeds it again after http_assembler_resume(). Bytes arriving once
 * the assembler is stopped are discarded (and counted as consumed). */
size_t http_assembler_feed(http_assembler *assembler, const char *data, size_t len);
void http_assembler_resume(http_assembler *assembler);
/* Ignore everything from now on (timeouts, shutdown, peer gone). */
void http_assembler_stop(http_assembler *assembler);

/* ---- responses ---- */

/* Status 200, "application/json", no body, no headers. */
void http_response_init(http_response *response);
void http_response_free(http_response *response);

/* The status line and headers (ending with the blank line) for `response` into
 * `out`. A response a handler left malformed (status outside 200..999, a
 * Content-Type or header with CR/LF or unterminated, a server-managed header)
 * is first replaced by a 500 error, so what reaches the wire is always
 * well-formed. The body of a 204 or 304 is dropped. Returns false only when
 * allocation failed. */
bool http_response_serialize_head(http_response *response, bool keep_alive, strbuf *out);

/* True when a response with this status carries a body (not 1xx, 204, 304). */
bool http_status_has_body(int status);

#endif
