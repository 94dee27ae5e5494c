/* Indexing jobs inside the server: a queue and one worker thread that runs
 * them one after another, each with its own library handle (the server's
 * searches never share a handle with an indexer). Thread-safe. */
#ifndef CS_SERVER_JOBS_H
#define CS_SERVER_JOBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsearch/capsearch.h"

typedef enum job_state {
    JOB_QUEUED,
    JOB_RUNNING,
    JOB_DONE,
    JOB_FAILED,
    JOB_CANCELLED,
} job_state;

const char *job_state_name(job_state state);

typedef struct job_view {
    int64_t id;
    char path[4096];
    job_state state;
    cs_index_progress progress;
    char error[CS_ERROR_MESSAGE_MAX];   /* "" unless failed */
} job_view;

typedef struct job_runner job_runner;

/* Called on the worker thread after every committed batch and when a job
 * ends (so the server can refresh its searches). May be NULL. */
typedef void (*job_event_fn)(void *user);

cs_status jobs_start(const char *library_dir, job_event_fn on_event, void *user,
                     job_runner **out, cs_error *err);
/* Queues a folder. The folder must exist: it is resolved to its real path
 * now, so a relative or symlinked name indexes what it names today. */
cs_status jobs_submit(job_runner *runner, const char *folder, job_view *out, cs_error *err);
/* Queues `folder` unless a job for it is already queued (for the watcher). */
cs_status jobs_submit_unless_queued(job_runner *runner, const char *folder, cs_error *err);
bool jobs_get(job_runner *runner, int64_t id, job_view *out);
/* The most recent jobs first; returns how many were written. */
size_t jobs_list(job_runner *runner, job_view *out, size_t max);
/* Asks a job to stop: a queued job is cancelled at once, a running one after
 * its batch in flight. CS_ERR_NOT_FOUND for an unknown id. */
cs_status jobs_cancel(job_runner *runner, int64_t id, job_view *out, cs_error *err);

typedef struct job_counts {
    int queued, running;
    uint64_t done, failed, cancelled;
} job_counts;
void jobs_count(job_runner *runner, job_counts *out);

/* Cancels everything, waits for the worker to commit and stop, frees. */
void jobs_stop(job_runner *runner);

#endif
