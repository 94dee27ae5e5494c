/* The HTTP layer of `capsearch serve`: one libuv loop does all network I/O;
 * requests are parsed by http_parser (Debian's libhttp-parser), handed to a
 * handler on the libuv thread pool, and answered in order (keep-alive and
 * pipelining). It knows nothing about images: routes.c supplies the handler. */
#ifndef CS_SERVER_HTTP_H
#define CS_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/error.h"

typedef struct http_header {
    char *name;     /* as received; compare case-insensitively */
    char *value;
} http_header;

typedef struct http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* percent-decoded path, valid UTF-8, no NUL;
                                  the server refuses (400) anything else */
    const char *raw_query;     /* the query string after '?', undecoded; "" if none */
    const http_header *headers;
    size_t nheaders;
    const uint8_t *body;       /* NULL when empty */
    size_t body_len;
    char remote[64];           /* peer address, for logs */
} http_request;

typedef struct http_response_header {
    char name[64];
    char value[256];
} http_response_header;

#define HTTP_MAX_RESPONSE_HEADERS 8

typedef struct http_response {
    int status;                         /* 200 by default */
    char content_type[96];              /* "application/json" by default */
    uint8_t *body;                      /* malloc'd; the server frees it */
    size_t body_len;
    http_response_header headers[HTTP_MAX_RESPONSE_HEADERS];
    int nheaders;
} http_response;

/* Runs on a libuv thread-pool thread; may block (search, thumbnails). Must
 * fill `response`; must not keep pointers into `request`. `response` arrives
 * initialised: status 200, "application/json", no body, no headers. A response
 * that cannot be sent as it is (status outside 200..999, CR/LF in a header)
 * is replaced by a 500. For HEAD the handler sees method "HEAD" and answers
 * as for GET; the server sends the headers without the body. Requests of one
 * connection reach the handler one at a time, in order. */
typedef void (*http_handler_fn)(const http_request *request, http_response *response,
                                void *context);

typedef struct http_limits {
    size_t max_header_bytes;     /* request line + headers; 431 past it (default 16 KiB,
                                    at most 80 KiB) */
    size_t max_url_bytes;        /* 414 past it (default 8 KiB, at most 65535) */
    size_t max_body_bytes;       /* 413 past it (default 32 MiB) */
    int max_connections;         /* further connections get 503 and are closed (default 256) */
    int idle_timeout_ms;         /* keep-alive idle: closed silently; a request stalled
                                    this long: 408; a response making no progress this
                                    long (client not reading): closed (default 30000) */
    int request_timeout_ms;      /* a request must arrive whole within this (default 30000); 408 */
    int max_pipelined;           /* requests queued per connection before reading pauses (default 16) */
} http_limits;

typedef struct http_server http_server;

typedef struct http_server_config {
    const char *host;            /* "127.0.0.1" */
    int port;                    /* 0 = any free port */
    http_limits limits;          /* zeros = defaults */
    http_handler_fn handler;
    void *handler_context;
    /* Called on the loop thread once a response was written (or discarded
     * because the client left), for metrics and logs; may be NULL. `context`
     * is handler_context. For answers the server gives by itself (limits,
     * malformed requests, 503 when full) method and path are "". */
    void (*on_request_done)(const http_request *request, int status, double seconds,
                            void *context);
} http_server_config;

/* Binds and starts listening on `loop` (host: an IPv4 or IPv6 address;
 * NULL or "" = 127.0.0.1). The actual port is available from
 * http_server_port() (useful with port 0). Sets SIGPIPE to ignored unless
 * the program handles it already (a client closing must not kill the
 * process). On failure nothing is left to
 * free, but the loop must run once more to release the closed socket handle
 * before uv_loop_close(). */
cs_status http_server_start(uv_loop_t *loop, const http_server_config *config,
                            http_server **out, cs_error *err);
int http_server_port(const http_server *server);
/* Stops accepting, lets in-flight requests finish and their responses be
 * written, closes idle connections, then calls on_closed (on the loop). */
void http_server_shutdown(http_server *server, void (*on_closed)(void *arg), void *arg);
void http_server_free(http_server *server);   /* after on_closed; not before */

/* Counters for /metrics (read on the loop thread). */
typedef struct http_server_counters {
    uint64_t connections_total;   /* accepted since start */
    uint64_t connections_open;    /* accepted and not yet closed */
    uint64_t requests_total;      /* complete requests received */
    uint64_t requests_in_flight;  /* received, response not yet written */
    uint64_t rejected_total;      /* answered by the server itself with a 4xx/5xx limit error */
} http_server_counters;
void http_server_get_counters(const http_server *server, http_server_counters *out);

/* ---- helpers for handlers ---- */

/* The value of header `name` (case-insensitive), or NULL. */
const char *http_request_header(const http_request *request, const char *name);

/* Looks up `name` in a query string and percent-decodes its value ('+' as
 * space). Returns 1 and a malloc'd NUL-terminated value when found, 0 when
 * absent, -1 when the encoding is invalid (bad %xx, invalid UTF-8, NUL),
 * -2 when out of memory. The first occurrence wins; "name" alone gives "". */
int http_query_param(const char *raw_query, const char *name, char **value);

/* Sets a JSON body (takes ownership of `json`, a malloc'd string). A NULL
 * `json` (the caller's allocation failed) becomes a 500 error. */
void http_response_json(http_response *response, int status, char *json);
/* {"error":{"code":code,"message":message}} with the status. */
void http_response_error(http_response *response, int status, const char *code,
                         const char *message);
/* CS_ERR_INVALID for a name that is not a token, a value with CR, LF or
 * another control character (header injection), or a header the server sets
 * itself (Content-Length, Transfer-Encoding, Connection, Keep-Alive, Upgrade,
 * Date); CS_ERR_TOO_LARGE when it does not fit (8 headers, 63/255 bytes).
 * "Content-Type" sets response->content_type. */
cs_status http_response_add_header(http_response *response, const char *name,
                                   const char *value);

#endif
