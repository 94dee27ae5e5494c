#include "server/jobs.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/error.h"

/* Finished jobs kept for GET /api/jobs; older ones are forgotten. */
#define KEEP_FINISHED 100

typedef struct job {
    job_view view;
    volatile int cancel;     /* read by cs_index between batches */
} job;

struct job_runner {
    char *library_dir;
    job_event_fn on_event;
    void *user;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    job **jobs;              /* oldest first */
    size_t njobs, cap;
    int64_t next_id;
    job_counts counts;
};

const char *job_state_name(job_state state)
{
    switch (state) {
    case JOB_QUEUED: return "queued";
    case JOB_RUNNING: return "running";
    case JOB_DONE: return "done";
    case JOB_FAILED: return "failed";
    case JOB_CANCELLED: return "cancelled";
    }
    return "unknown";
}

static bool finished(job_state s)
{
    return s == JOB_DONE || s == JOB_FAILED || s == JOB_CANCELLED;
}

static job *next_queued(job_runner *r)
{
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i]->view.state == JOB_QUEUED)
            return r->jobs[i];
    return NULL;
}

/* Drops the oldest finished jobs beyond KEEP_FINISHED. Caller holds mu. */
static void forget_old(job_runner *r)
{
    size_t nfinished = 0;
    for (size_t i = 0; i < r->njobs; i++)
        nfinished += finished(r->jobs[i]->view.state);
    size_t out = 0;
    for (size_t i = 0; i < r->njobs; i++) {
        if (nfinished > KEEP_FINISHED && finished(r->jobs[i]->view.state)) {
            free(r->jobs[i]);
            nfinished--;
            continue;
        }
        r->jobs[out++] = r->jobs[i];
    }
    r->njobs = out;
}

typedef struct progress_sink {
    job_runner *runner;
    job *job;
} progress_sink;

static void on_progress(const cs_index_progress *p, void *user)
{
    progress_sink *sink = user;
    pthread_mutex_lock(&sink->runner->mu);
    sink->job->view.progress = *p;
    pthread_mutex_unlock(&sink->runner->mu);
    if (p->event == CS_EVENT_BATCH && sink->runner->on_event)
        sink->runner->on_event(sink->runner->user);
}

static void run_job(job_runner *r, job *j)
{
    cs_error err = {0};
    cs_library *lib = NULL;
    cs_status rc = cs_library_open(r->library_dir, NULL, &lib, &err);
    cs_index_progress final = {0};
    if (rc == CS_OK) {
        progress_sink sink = {r, j};
        cs_index_options options = {
            .progress = on_progress,
            .progress_user = &sink,
            .cancel = &j->cancel,
        };
        const char *dirs[1] = {j->view.path};
        rc = cs_index(lib, dirs, 1, &options, &final, &err);
    }
    cs_library_close(lib);
    pthread_mutex_lock(&r->mu);
    if (rc == CS_OK || rc == CS_ERR_CANCELLED)
        j->view.progress = final;
    if (rc == CS_OK) {
        j->view.state = JOB_DONE;
        r->counts.done++;
    } else if (rc == CS_ERR_CANCELLED) {
        j->view.state = JOB_CANCELLED;
        r->counts.cancelled++;
    } else {
        j->view.state = JOB_FAILED;
        snprintf(j->view.error, sizeof j->view.error, "%s", err.message);
        r->counts.failed++;
    }
    r->counts.running--;
    forget_old(r);
    pthread_mutex_unlock(&r->mu);
    if (r->on_event)
        r->on_event(r->user);
}

static void *worker_main(void *arg)
{
    job_runner *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        job *j;
        while (!r->stopping && !(j = next_queued(r)))
            pthread_cond_wait(&r->wake, &r->mu);
        if (r->stopping)
            break;
        j->view.state = JOB_RUNNING;
        r->counts.queued--;
        r->counts.running++;
        pthread_mutex_unlock(&r->mu);
        run_job(r, j);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

cs_status jobs_start(const char *library_dir, job_event_fn on_event, void *user,
                     job_runner **out, cs_error *err)
{
    *out = NULL;
    job_runner *r = calloc(1, sizeof *r);
    if (!r || !(r->library_dir = strdup(library_dir))) {
        free(r);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    r->on_event = on_event;
    r->user = user;
    r->next_id = 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, worker_main, r) != 0) {
        pthread_mutex_destroy(&r->mu);
        pthread_cond_destroy(&r->wake);
        free(r->library_dir);
        free(r);
        return cs_error_set(err, CS_ERR_NOMEM, "cannot start the indexing thread");
    }
    *out = r;
    return CS_OK;
}

static cs_status resolve_folder(const char *folder, char *real, cs_error *err)
{
    if (!folder || !*folder)
        return cs_error_set(err, CS_ERR_INVALID, "no folder given");
    if (!realpath(folder, real))
        return cs_error_errno(err, errno, "cannot index folder", folder);
    return CS_OK;
}

/* Caller holds mu. */
static cs_status enqueue(job_runner *r, const char *real, job_view *out, cs_error *err)
{
    job *j = calloc(1, sizeof *j);
    if (!j || !ARRAY_RESERVE(r->jobs, r->cap, r->njobs)) {
        free(j);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    j->view.id = r->next_id++;
    snprintf(j->view.path, sizeof j->view.path, "%s", real);
    j->view.state = JOB_QUEUED;
    r->jobs[r->njobs++] = j;
    r->counts.queued++;
    if (out)
        *out = j->view;
    pthread_cond_signal(&r->wake);
    return CS_OK;
}

cs_status jobs_submit(job_runner *r, const char *folder, job_view *out, cs_error *err)
{
    char real[PATH_MAX];
    cs_status rc = resolve_folder(folder, real, err);
    if (rc != CS_OK)
        return rc;
    if (strlen(real) >= sizeof out->path)
        return cs_error_set(err, CS_ERR_INVALID, "folder name is too long");
    pthread_mutex_lock(&r->mu);
    rc = enqueue(r, real, out, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

cs_status jobs_submit_unless_queued(job_runner *r, const char *folder, cs_error *err)
{
    char real[PATH_MAX];
    cs_status rc = resolve_folder(folder, real, err);
    if (rc != CS_OK)
        return rc;
    pthread_mutex_lock(&r->mu);
    bool queued = false;
    for (size_t i = 0; i < r->njobs && !queued; i++)
        queued = r->jobs[i]->view.state == JOB_QUEUED && strcmp(r->jobs[i]->view.path, real) == 0;
    if (!queued)
        rc = enqueue(r, real, NULL, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* Caller holds mu. */
static job *find(job_runner *r, int64_t id)
{
    for (size_t i = 0; i < r->njobs; i++)
        if (r->jobs[i]->view.id == id)
            return r->jobs[i];
    return NULL;
}

bool jobs_get(job_runner *r, int64_t id, job_view *out)
{
    pthread_mutex_lock(&r->mu);
    job *j = find(r, id);
    if (j)
        *out = j->view;
    pthread_mutex_unlock(&r->mu);
    return j != NULL;
}

size_t jobs_list(job_runner *r, job_view *out, size_t max)
{
    pthread_mutex_lock(&r->mu);
    size_t n = 0;
    for (size_t i = r->njobs; i > 0 && n < max; i--)
        out[n++] = r->jobs[i - 1]->view;
    pthread_mutex_unlock(&r->mu);
    return n;
}

cs_status jobs_cancel(job_runner *r, int64_t id, job_view *out, cs_error *err)
{
    pthread_mutex_lock(&r->mu);
    job *j = find(r, id);
    if (j) {
        j->cancel = 1;
        if (j->view.state == JOB_QUEUED) {
            j->view.state = JOB_CANCELLED;
            r->counts.queued--;
            r->counts.cancelled++;
        }
        *out = j->view;
    }
    pthread_mutex_unlock(&r->mu);
    return j ? CS_OK : cs_error_set(err, CS_ERR_NOT_FOUND, "no job with id %lld", (long long)id);
}

void jobs_count(job_runner *r, job_counts *out)
{
    pthread_mutex_lock(&r->mu);
    *out = r->counts;
    pthread_mutex_unlock(&r->mu);
}

void jobs_stop(job_runner *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    for (size_t i = 0; i < r->njobs; i++)
        r->jobs[i]->cancel = 1;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->njobs; i++)
        free(r->jobs[i]);
    free(r->jobs);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->wake);
    free(r->library_dir);
    free(r);
}
