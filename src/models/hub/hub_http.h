/* HTTP GETs with libcurl for the Hub client: redirects followed, bodies into
 * memory or into a file (resuming with a Range request), timeouts so a stalled
 * server fails, and a bearer token sent to the endpoint's host only. */
#ifndef CS_MODELS_HUB_HUB_HTTP_H
#define CS_MODELS_HUB_HUB_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"
#include "common/strbuf.h"

typedef struct hub_http hub_http;

typedef struct hub_http_config {
    const char *token;       /* NULL or "": no Authorization */
    int timeout_s;           /* connect timeout, and how long a transfer may stall */
    bool allow_http;         /* plain http:// (a local mirror, tests); else https only,
                                redirects included */
    volatile int *cancel;    /* non-zero aborts a transfer (CS_ERR_CANCELLED) */
} hub_http_config;

cs_status hub_http_open(const hub_http_config *config, hub_http **out, cs_error *err);
void hub_http_close(hub_http *http);
/* Whether requests carry a token (for error messages). */
bool hub_http_has_token(const hub_http *http);

typedef struct hub_get {
    /* in */
    const char *url;
    int fd;                  /* >= 0: the body goes into this file; -1: into `body` */
    const char *path;        /* fd's file, for messages */
    uint64_t offset;         /* fd: bytes already in the file; > 0 asks for the rest */
    uint64_t limit;          /* the most bytes the whole resource may have */
    void (*on_bytes)(uint64_t in_file, void *user);   /* fd: after each write */
    void *user;
    /* out */
    long status;             /* of the last response, after redirects */
    bool restarted;          /* a Range request got the whole file: fd was emptied */
    uint64_t received;       /* body bytes written by this request */
    strbuf body;             /* memory bodies, and the start of error bodies */
    char error_code[64];     /* the Hub's X-Error-Code header, "" when none */
    char error_message[256]; /* its X-Error-Message header */
} hub_get;

/* Performs one GET. CS_OK whenever a response arrived, whatever its status
 * (get->status says; a body of an error status is not written to fd).
 * Network failures, timeouts, a full disk, a body over `limit` or a range
 * other than the one asked for are errors naming the URL. The caller frees
 * get->body with strbuf_free. */
cs_status hub_http_get(hub_http *http, hub_get *get, cs_error *err);

#endif
