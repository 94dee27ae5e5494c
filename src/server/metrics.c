#include "server/metrics.h"

#include <string.h>

/* Upper bounds of the latency buckets in seconds (the last is +Inf). */
static const double bucket_bounds[METRICS_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
};

static const char *const route_names[ROUTE_COUNT] = {
    [ROUTE_SEARCH] = "search", [ROUTE_SEARCH_IMAGE] = "search_image", [ROUTE_IMAGE] = "image",
    [ROUTE_THUMB] = "thumb", [ROUTE_FILE] = "file", [ROUTE_SIMILAR] = "similar",
    [ROUTE_INDEX] = "index", [ROUTE_JOBS] = "jobs", [ROUTE_STATS] = "stats",
    [ROUTE_HEALTH] = "healthz", [ROUTE_METRICS] = "metrics", [ROUTE_STATIC] = "static",
    [ROUTE_OTHER] = "other",
};

void metrics_init(metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->mu, NULL);
}

void metrics_destroy(metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int ends(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

metrics_route metrics_route_of(const char *method, const char *path)
{
    (void)method;
    if (!path)
        return ROUTE_OTHER;
    if (strcmp(path, "/api/search") == 0)
        return ROUTE_SEARCH;
    if (strcmp(path, "/api/search/image") == 0)
        return ROUTE_SEARCH_IMAGE;
    if (starts(path, "/api/images/")) {
        if (ends(path, "/thumb"))
            return ROUTE_THUMB;
        if (ends(path, "/file"))
            return ROUTE_FILE;
        if (ends(path, "/similar"))
            return ROUTE_SIMILAR;
        return ROUTE_IMAGE;
    }
    if (strcmp(path, "/api/index") == 0)
        return ROUTE_INDEX;
    if (starts(path, "/api/jobs"))
        return ROUTE_JOBS;
    if (strcmp(path, "/api/stats") == 0)
        return ROUTE_STATS;
    if (strcmp(path, "/healthz") == 0)
        return ROUTE_HEALTH;
    if (strcmp(path, "/metrics") == 0)
        return ROUTE_METRICS;
    if (!starts(path, "/api/"))
        return ROUTE_STATIC;
    return ROUTE_OTHER;
}

void metrics_observe(metrics *m, metrics_route route, int status, double seconds)
{
    int cls = status / 100 - 1;
    if (cls < 0 || cls > 4)
        cls = 4;
    int bucket = 0;
    while (bucket < METRICS_BUCKETS - 1 && seconds > bucket_bounds[bucket])
        bucket++;
    pthread_mutex_lock(&m->mu);
    m->requests[route][cls]++;
    m->latency_buckets[route][bucket]++;
    m->latency_sum[route] += seconds;
    m->latency_count[route]++;
    pthread_mutex_unlock(&m->mu);
}

void metrics_render(metrics *m, strbuf *out)
{
    metrics copy;
    pthread_mutex_lock(&m->mu);
    memcpy(&copy, m, sizeof copy);
    pthread_mutex_unlock(&m->mu);
    strbuf_append(out, "# HELP capsearch_http_requests_total HTTP requests answered, by route and status class.\n"
                       "# TYPE capsearch_http_requests_total counter\n");
    for (int r = 0; r < ROUTE_COUNT; r++)
        for (int c = 0; c < 5; c++)
            if (copy.requests[r][c])
                strbuf_appendf(out, "capsearch_http_requests_total{route=\"%s\",code=\"%dxx\"} %llu\n",
                               route_names[r], c + 1, (unsigned long long)copy.requests[r][c]);
    strbuf_append(out, "# HELP capsearch_http_request_duration_seconds Time from a complete request to its response.\n"
                       "# TYPE capsearch_http_request_duration_seconds histogram\n");
    for (int r = 0; r < ROUTE_COUNT; r++) {
        if (!copy.latency_count[r])
            continue;
        uint64_t cumulative = 0;
        for (int b = 0; b < METRICS_BUCKETS; b++) {
            cumulative += copy.latency_buckets[r][b];
            if (b < METRICS_BUCKETS - 1)
                strbuf_appendf(out, "capsearch_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                               route_names[r], bucket_bounds[b], (unsigned long long)cumulative);
            else
                strbuf_appendf(out, "capsearch_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                               route_names[r], (unsigned long long)cumulative);
        }
        strbuf_appendf(out, "capsearch_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                            "capsearch_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                       route_names[r], copy.latency_sum[r], route_names[r],
                       (unsigned long long)copy.latency_count[r]);
    }
}
