/* Request counters and latency histograms for GET /metrics (Prometheus text
 * exposition format, version 0.0.4). Thread-safe. */
#ifndef CS_SERVER_METRICS_H
#define CS_SERVER_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "common/strbuf.h"

/* Routes as metrics labels; a request is counted under the first that fits. */
typedef enum metrics_route {
    ROUTE_SEARCH,
    ROUTE_SEARCH_IMAGE,
    ROUTE_IMAGE,
    ROUTE_THUMB,
    ROUTE_FILE,
    ROUTE_SIMILAR,
    ROUTE_INDEX,
    ROUTE_JOBS,
    ROUTE_STATS,
    ROUTE_HEALTH,
    ROUTE_METRICS,
    ROUTE_STATIC,
    ROUTE_OTHER,
    ROUTE_COUNT
} metrics_route;

#define METRICS_BUCKETS 12

typedef struct metrics {
    pthread_mutex_t mu;
    uint64_t requests[ROUTE_COUNT][5];          /* by status class 1xx..5xx */
    uint64_t latency_buckets[ROUTE_COUNT][METRICS_BUCKETS];
    double latency_sum[ROUTE_COUNT];
    uint64_t latency_count[ROUTE_COUNT];
} metrics;

void metrics_init(metrics *m);
void metrics_destroy(metrics *m);
metrics_route metrics_route_of(const char *method, const char *path);
void metrics_observe(metrics *m, metrics_route route, int status, double seconds);
/* Appends the request families to `out`. */
void metrics_render(metrics *m, strbuf *out);

#endif
