#include "server/serve.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/app.h"
#include "server/watch.h"

typedef struct server_state {
    server_app app;
    uv_loop_t loop;
    http_server *http;
    watcher *watch;
    uv_async_t job_event;         /* a job committed a batch or ended (any thread) */
    uv_timer_t refresh_timer;
    uv_signal_t sigint, sigterm;
    uv_work_t refresh_work;
    bool refresh_running;
    bool refresh_again;           /* asked for while one was running */
    bool stopping;
    uint64_t jobs_finished;       /* done + failed + cancelled at the last look */
} server_state;

/* ---- keeping searches on the newest catalog generation ---- */

static void refresh_in_pool(uv_work_t *work)
{
    server_state *s = work->data;
    cs_error err;
    int changed = 0;
    if (cs_library_refresh(s->app.lib, &changed, &err) != CS_OK)
        fprintf(stderr, "capsearch serve: cannot reload the vector index: %s\n", err.message);
}

static void refresh_done(uv_work_t *work, int status)
{
    (void)status;
    server_state *s = work->data;
    s->refresh_running = false;
    if (s->refresh_again && !s->stopping) {
        s->refresh_again = false;
        s->refresh_running = uv_queue_work(&s->loop, &s->refresh_work, refresh_in_pool,
                                           refresh_done) == 0;
    }
}

static void request_refresh(server_state *s)
{
    if (s->stopping)
        return;
    if (s->refresh_running) {
        s->refresh_again = true;
        return;
    }
    s->refresh_work.data = s;
    s->refresh_running = uv_queue_work(&s->loop, &s->refresh_work, refresh_in_pool,
                                       refresh_done) == 0;
}

static void on_refresh_timer(uv_timer_t *timer)
{
    request_refresh(timer->data);
}

static void update_watch_count(server_state *s)
{
    int limit = 0;
    size_t n = s->watch ? watch_count(s->watch, &limit) : 0;
    pthread_mutex_lock(&s->app.mu);
    s->app.watched_folders = n;
    s->app.watch_limit_reached = limit;
    pthread_mutex_unlock(&s->app.mu);
}

static void on_job_event(uv_async_t *async)
{
    server_state *s = async->data;
    request_refresh(s);
    job_counts c;
    jobs_count(s->app.jobs, &c);
    uint64_t finished = c.done + c.failed + c.cancelled;
    if (finished != s->jobs_finished && s->watch) {
        /* A run may have met new folders: watch them too. */
        s->jobs_finished = finished;
        watch_update(s->watch);
        update_watch_count(s);
    }
}

/* Runs on the job thread: uv_async_send is the one libuv call safe there. */
static void job_event_from_thread(void *user)
{
    server_state *s = user;
    uv_async_send(&s->job_event);
}

/* ---- metrics ---- */

static void on_request_done(const http_request *request, int status, double seconds,
                            void *context)
{
    server_state *s = context;
    metrics_observe(&s->app.metrics, metrics_route_of(request ? request->method : NULL,
                                                      request ? request->path : NULL),
                    status, seconds);
    http_server_counters counters;
    http_server_get_counters(s->http, &counters);
    pthread_mutex_lock(&s->app.mu);
    s->app.http = counters;
    pthread_mutex_unlock(&s->app.mu);
}

static void handle_request(const http_request *request, http_response *response, void *context)
{
    server_state *s = context;
    routes_handle(request, response, &s->app);
}

/* ---- shutdown ---- */

static void close_handle(uv_handle_t *handle)
{
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

static void on_watch_closed(void *arg)
{
    server_state *s = arg;
    close_handle((uv_handle_t *)&s->job_event);
}

static void on_http_closed(void *arg)
{
    server_state *s = arg;
    /* No request is in flight any more. A running job commits its batch. */
    jobs_stop(s->app.jobs);
    s->app.jobs = NULL;
    if (s->watch) {
        watcher *w = s->watch;
        s->watch = NULL;
        watch_close(w, on_watch_closed, s);
    } else {
        on_watch_closed(s);
    }
}

static void on_signal(uv_signal_t *signal_handle, int signum)
{
    server_state *s = signal_handle->data;
    if (s->stopping)
        return;
    s->stopping = true;
    fprintf(stderr, "capsearch serve: %s received, finishing requests in flight\n",
            signum == SIGINT ? "SIGINT" : "SIGTERM");
    uv_timer_stop(&s->refresh_timer);
    close_handle((uv_handle_t *)&s->refresh_timer);
    close_handle((uv_handle_t *)&s->sigint);
    close_handle((uv_handle_t *)&s->sigterm);
    http_server_shutdown(s->http, on_http_closed, s);
}

/* ---- start ---- */

static cs_status start_watch(server_state *s, const serve_config *config, cs_error *err)
{
    if (config->nwatch == 0)
        return CS_OK;
    watch_config wc = {
        .roots = config->watch,
        .nroots = config->nwatch,
        .rescan_seconds = config->rescan_seconds,
    };
    cs_status rc = watch_start(&s->loop, &wc, s->app.jobs, &s->watch, err);
    if (rc == CS_OK)
        update_watch_count(s);
    return rc;
}

static cs_status start(server_state *s, const serve_config *config, cs_error *err)
{
    cs_status rc = cs_library_open(config->library_dir, NULL, &s->app.lib, err);
    if (rc != CS_OK)
        return rc;
    rc = jobs_start(config->library_dir, job_event_from_thread, s, &s->app.jobs, err);
    if (rc != CS_OK)
        return rc;
    uv_async_init(&s->loop, &s->job_event, on_job_event);
    s->job_event.data = s;
    http_server_config hc = {
        .host = config->host ? config->host : "127.0.0.1",
        .port = config->port,
        .limits = config->limits,
        .handler = handle_request,
        .handler_context = s,
        .on_request_done = on_request_done,
    };
    rc = http_server_start(&s->loop, &hc, &s->http, err);
    if (rc != CS_OK)
        return rc;
    uv_timer_init(&s->loop, &s->refresh_timer);
    s->refresh_timer.data = s;
    uint64_t every = (uint64_t)((config->refresh_seconds > 0 ? config->refresh_seconds : 1.0) * 1000);
    uv_timer_start(&s->refresh_timer, on_refresh_timer, every, every);
    uv_signal_init(&s->loop, &s->sigint);
    uv_signal_init(&s->loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    rc = start_watch(s, config, err);
    if (rc != CS_OK)
        return rc;
    if (config->on_listening) {
        char url[300];
        const char *host = hc.host;
        bool v6 = strchr(host, ':') != NULL;
        snprintf(url, sizeof url, "http://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "",
                 http_server_port(s->http));
        config->on_listening(url, config->user);
    }
    return CS_OK;
}

static void close_any(uv_handle_t *handle, void *arg)
{
    (void)arg;
    close_handle(handle);
}

/* Closes whatever start() opened when it failed halfway. */
static void abandon(server_state *s)
{
    s->stopping = true;
    if (s->http) {
        http_server_shutdown(s->http, NULL, NULL);
    }
    if (s->app.jobs) {
        jobs_stop(s->app.jobs);
        s->app.jobs = NULL;
    }
    if (s->watch) {
        watch_close(s->watch, NULL, NULL);
        s->watch = NULL;
    }
    uv_walk(&s->loop, close_any, NULL);
}

cs_status serve_run(const serve_config *config, cs_error *err)
{
    /* A client that goes away mid-response must not kill the server. */
    signal(SIGPIPE, SIG_IGN);
    server_state *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->app.library_dir = config->library_dir;
    s->app.token = config->token && *config->token ? config->token : NULL;
    pthread_mutex_init(&s->app.mu, NULL);
    metrics_init(&s->app.metrics);
    if (uv_loop_init(&s->loop) != 0) {
        free(s);
        return cs_error_set(err, CS_ERR_NOMEM, "cannot start the event loop");
    }
    cs_status rc = start(s, config, err);
    if (rc != CS_OK)
        abandon(s);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    if (s->http)
        http_server_free(s->http);
    if (uv_loop_close(&s->loop) != 0)
        fprintf(stderr, "capsearch serve: some handles were still open at exit\n");
    jobs_stop(s->app.jobs);
    cs_library_close(s->app.lib);
    metrics_destroy(&s->app.metrics);
    pthread_mutex_destroy(&s->app.mu);
    free(s);
    return rc;
}
