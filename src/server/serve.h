/* `capsearch serve`: the HTTP server, index jobs, folder watching and the
 * swap to a newer catalog generation, on one libuv loop. */
#ifndef CS_SERVER_SERVE_H
#define CS_SERVER_SERVE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "server/http.h"

typedef struct serve_config {
    const char *library_dir;
    const char *host;             /* default "127.0.0.1" */
    int port;                     /* 0 = any free port */
    const char *token;            /* bearer token, or NULL */
    const char *const *watch;     /* folders to keep indexed */
    size_t nwatch;
    double rescan_seconds;        /* periodic rescan of watched folders (default 300) */
    double refresh_seconds;       /* how often to look for catalog changes (default 1) */
    http_limits limits;
    /* Called once the server accepts connections (with its URL). */
    void (*on_listening)(const char *url, void *user);
    void *user;
} serve_config;

/* Runs until SIGINT or SIGTERM, then drains in-flight requests, lets a running
 * index job commit its batch, and returns CS_OK. */
cs_status serve_run(const serve_config *config, cs_error *err);

#endif
