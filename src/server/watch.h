/* --watch: keeps folders indexed while the server runs. Linux inotify
 * (through libuv fs events) watches folders, not trees, so every folder under
 * a root gets a watcher; any change restarts a short quiet-period timer, and
 * when it fires the root is queued for indexing (which finds exactly what
 * changed). A periodic rescan covers what events miss: an inotify limit
 * reached, network file systems, changes while a folder was being added. */
#ifndef CS_SERVER_WATCH_H
#define CS_SERVER_WATCH_H

#include <uv.h>

#include "server/jobs.h"

typedef struct watcher watcher;

typedef struct watch_config {
    const char *const *roots;
    size_t nroots;
    double quiet_seconds;     /* wait this long after the last change (default 2) */
    double rescan_seconds;    /* periodic rescan (default 300; 0 = never) */
} watch_config;

/* Starts watching on the loop thread, and queues a first index of every root
 * (it catches up with changes made while the server was down). */
cs_status watch_start(uv_loop_t *loop, const watch_config *config, job_runner *jobs,
                      watcher **out, cs_error *err);
/* After an indexing job: watch folders created since (on the loop thread). */
void watch_update(watcher *w);
/* Number of folders watched, and whether the inotify limit was hit. */
size_t watch_count(const watcher *w, int *limit_reached);
/* Closes every handle; calls done(arg) on the loop when all are closed. */
void watch_close(watcher *w, void (*done)(void *arg), void *arg);

#endif
