#include "server/watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/strmap.h"
#include "indexer/walk.h"

typedef struct watch_root watch_root;

typedef struct folder_watch {
    uv_fs_event_t handle;
    watch_root *root;
    char *path;
} folder_watch;

struct watch_root {
    watcher *owner;
    char *path;
    uv_timer_t quiet;          /* restarted by every change */
};

struct watcher {
    uv_loop_t *loop;
    job_runner *jobs;
    watch_root *roots;
    size_t nroots;
    uint64_t quiet_ms;
    uv_timer_t rescan;
    bool rescan_active;
    strmap watched;            /* folder path -> 1, for folders with a handle */
    folder_watch **folders;
    size_t nfolders, capfolders;
    int limit_reached;
    size_t pending_closes;
    void (*done)(void *arg);
    void *done_arg;
};

static void queue_root(watch_root *root)
{
    cs_error err;
    if (jobs_submit_unless_queued(root->owner->jobs, root->path, &err) != CS_OK)
        fprintf(stderr, "capsearch serve: cannot queue '%s': %s\n", root->path, err.message);
}

static void on_quiet(uv_timer_t *timer)
{
    queue_root(timer->data);
}

static void on_change(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    (void)filename;
    (void)events;
    folder_watch *fw = handle->data;
    if (status < 0)
        return;   /* the folder is gone or unreadable: the next index run sees it */
    uv_timer_start(&fw->root->quiet, on_quiet, fw->root->owner->quiet_ms, 0);
}

static void on_rescan(uv_timer_t *timer)
{
    watcher *w = timer->data;
    for (size_t i = 0; i < w->nroots; i++)
        queue_root(&w->roots[i]);
}

typedef struct add_context {
    watcher *w;
    watch_root *root;
} add_context;

static cs_status add_folder(const char *path, void *user, cs_error *err)
{
    add_context *ctx = user;
    watcher *w = ctx->w;
    if (strmap_get(&w->watched, path, NULL) || w->limit_reached)
        return CS_OK;
    folder_watch *fw = calloc(1, sizeof *fw);
    if (!fw || !(fw->path = strdup(path)) || !ARRAY_RESERVE(w->folders, w->capfolders, w->nfolders)) {
        if (fw)
            free(fw->path);
        free(fw);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory watching folders");
    }
    fw->root = ctx->root;
    uv_fs_event_init(w->loop, &fw->handle);
    fw->handle.data = fw;
    int rc = uv_fs_event_start(&fw->handle, on_change, path, 0);
    if (rc != 0) {
        if (rc == UV_ENOSPC) {
            w->limit_reached = 1;
            fprintf(stderr, "capsearch serve: the inotify watch limit is reached at %zu folders "
                            "(raise fs.inotify.max_user_watches); the rest is picked up by the "
                            "periodic rescan\n", w->nfolders);
        }
        /* The handle was initialised: it must be closed, then freed. */
        w->folders[w->nfolders++] = fw;
        uv_fs_event_stop(&fw->handle);
        return CS_OK;
    }
    w->folders[w->nfolders++] = fw;
    if (!strmap_put(&w->watched, path, 1))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory watching folders");
    return CS_OK;
}

static void watch_tree(watcher *w, watch_root *root)
{
    add_context ctx = {w, root};
    walk_callbacks callbacks = {.on_folder = add_folder, .user = &ctx};
    cs_error err;
    if (walk_tree(root->path, &callbacks, NULL, &err) != CS_OK)
        fprintf(stderr, "capsearch serve: watching '%s': %s\n", root->path, err.message);
}

void watch_update(watcher *w)
{
    for (size_t i = 0; i < w->nroots; i++)
        watch_tree(w, &w->roots[i]);
}

cs_status watch_start(uv_loop_t *loop, const watch_config *config, job_runner *jobs,
                      watcher **out, cs_error *err)
{
    *out = NULL;
    watcher *w = calloc(1, sizeof *w);
    if (!w || !(w->roots = calloc(config->nroots ? config->nroots : 1, sizeof *w->roots))) {
        free(w);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    w->loop = loop;
    w->jobs = jobs;
    w->quiet_ms = (uint64_t)((config->quiet_seconds > 0 ? config->quiet_seconds : 2.0) * 1000);
    strmap_init(&w->watched);
    for (size_t i = 0; i < config->nroots; i++) {
        watch_root *root = &w->roots[w->nroots];
        char *real = realpath(config->roots[i], NULL);
        if (!real) {
            cs_status rc = cs_error_errno(err, errno, "cannot watch folder", config->roots[i]);
            watch_close(w, NULL, NULL);
            return rc;
        }
        root->owner = w;
        root->path = real;
        uv_timer_init(loop, &root->quiet);
        root->quiet.data = root;
        w->nroots++;
    }
    uv_timer_init(loop, &w->rescan);
    w->rescan.data = w;
    w->rescan_active = true;
    double rescan = config->rescan_seconds >= 0 ? config->rescan_seconds : 300;
    if (rescan > 0)
        uv_timer_start(&w->rescan, on_rescan, (uint64_t)(rescan * 1000), (uint64_t)(rescan * 1000));
    watch_update(w);
    for (size_t i = 0; i < w->nroots; i++)
        queue_root(&w->roots[i]);
    *out = w;
    return CS_OK;
}

size_t watch_count(const watcher *w, int *limit_reached)
{
    if (limit_reached)
        *limit_reached = w->limit_reached;
    return w->watched.count;
}

static void finish_close(watcher *w)
{
    if (--w->pending_closes > 0)
        return;
    for (size_t i = 0; i < w->nfolders; i++) {
        free(w->folders[i]->path);
        free(w->folders[i]);
    }
    free(w->folders);
    for (size_t i = 0; i < w->nroots; i++)
        free(w->roots[i].path);
    free(w->roots);
    strmap_free(&w->watched);
    void (*done)(void *) = w->done;
    void *arg = w->done_arg;
    free(w);
    if (done)
        done(arg);
}

static void on_folder_closed(uv_handle_t *handle)
{
    folder_watch *fw = handle->data;
    finish_close(fw->root->owner);
}

static void on_timer_closed(uv_handle_t *handle)
{
    finish_close(((watch_root *)handle->data)->owner);
}

static void on_rescan_closed(uv_handle_t *handle)
{
    finish_close(handle->data);
}

void watch_close(watcher *w, void (*done)(void *arg), void *arg)
{
    if (!w) {
        if (done)
            done(arg);
        return;
    }
    w->done = done;
    w->done_arg = arg;
    /* +1 so nothing is freed before every close below is requested. */
    w->pending_closes = 1 + w->nfolders + w->nroots + (w->rescan_active ? 1 : 0);
    for (size_t i = 0; i < w->nfolders; i++)
        uv_close((uv_handle_t *)&w->folders[i]->handle, on_folder_closed);
    for (size_t i = 0; i < w->nroots; i++)
        uv_close((uv_handle_t *)&w->roots[i].quiet, on_timer_closed);
    if (w->rescan_active)
        uv_close((uv_handle_t *)&w->rescan, on_rescan_closed);
    finish_close(w);
}
