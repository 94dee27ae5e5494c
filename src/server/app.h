/* The state of `capsearch serve` shared by the route handlers (thread pool)
 * and the loop thread. */
#ifndef CS_SERVER_APP_H
#define CS_SERVER_APP_H

#include <pthread.h>
#include <stdbool.h>

#include "capsearch/capsearch.h"
#include "server/http.h"
#include "server/jobs.h"
#include "server/metrics.h"

typedef struct server_app {
    cs_library *lib;            /* readers only: searches, images, stats */
    const char *library_dir;
    const char *token;          /* bearer token required for /api and /metrics, or NULL */
    job_runner *jobs;
    metrics metrics;
    pthread_mutex_t mu;         /* guards the copies below (written on the loop) */
    http_server_counters http;
    size_t watched_folders;
    int watch_limit_reached;
} server_app;

/* The request handler (routes.c): runs on the thread pool. */
void routes_handle(const http_request *request, http_response *response, void *app);

#endif
