/* decode workers (one per core) -> bounded queue -> one writer.
 *
 * Workers take jobs by an atomic counter, analyse files and queue results.
 * The writer (the calling thread, which owns the catalog) commits one
 * transaction per batch and then applies the batch to the in-memory vector
 * index. A kill -9 loses at most the batch in flight: everything committed is
 * in the catalog, and the vector file is repaired from it on the next open. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fsutil.h"
#include "indexer/indexer_internal.h"

/* Save the vector file this often during long runs, so the repair after a
 * crash stays small. */
#define VECTOR_SAVE_INTERVAL_S 120.0
/* The writer commits a partial batch after waiting this long for results. */
#define BATCH_WAIT_S 1.0

typedef struct shared {
    const pipeline_config *config;
    atomic_size_t next_job;
    atomic_int stop;              /* writer failed: workers quit */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    index_result **queue;
    size_t cap, head, count;
    int workers_running;
    cs_status worker_status;      /* first fatal worker error */
    cs_error worker_err;
    bool ocr_failed;              /* a thread could not start Tesseract */
    cs_error ocr_err;
} shared;

static bool cancelled(const shared *s)
{
    return (s->config->cancel && *s->config->cancel) || atomic_load(&s->stop);
}

static void push_result(shared *s, index_result *r)
{
    pthread_mutex_lock(&s->mu);
    while (s->count == s->cap)
        pthread_cond_wait(&s->not_full, &s->mu);
    s->queue[(s->head + s->count) % s->cap] = r;
    s->count++;
    pthread_cond_signal(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
}

static void worker_failed(shared *s, cs_status rc, const cs_error *err)
{
    pthread_mutex_lock(&s->mu);
    if (s->worker_status == CS_OK) {
        s->worker_status = rc;
        s->worker_err = *err;
    }
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->stop, 1);
}

/* Keeps the first reason a thread could not start Tesseract, for one
 * warning at the end of the run. */
static void note_ocr_failure(shared *s, const analyze_worker *w)
{
    if (!w->ocr_failed)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->ocr_failed) {
        s->ocr_failed = true;
        s->ocr_err = w->ocr_error;
    }
    pthread_mutex_unlock(&s->mu);
}

static void *worker_main(void *arg)
{
    shared *s = arg;
    const pipeline_config *c = s->config;
    analyze_worker worker = {.ctx = c->analyze};
    while (!cancelled(s)) {
        size_t i = atomic_fetch_add(&s->next_job, 1);
        if (i >= c->njobs)
            break;
        index_result *r = malloc(sizeof *r);
        cs_error err;
        cs_status rc = r ? analyze_file(&c->jobs[i], &worker, true, r, &err)
                         : cs_error_set(&err, CS_ERR_NOMEM, "out of memory");
        if (rc != CS_OK) {
            if (r)
                index_result_free(r);
            free(r);
            worker_failed(s, rc, &err);
            break;
        }
        push_result(s, r);
    }
    note_ocr_failure(s, &worker);
    analyze_worker_free(&worker);
    pthread_mutex_lock(&s->mu);
    s->workers_running--;
    pthread_cond_broadcast(&s->not_empty);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

typedef enum pop_status { POP_RESULT, POP_TIMEOUT, POP_END } pop_status;

static pop_status pop_result(shared *s, double wait_s, index_result **out)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)wait_s;
    deadline.tv_nsec += (long)((wait_s - (double)(time_t)wait_s) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pop_status st = POP_RESULT;
    pthread_mutex_lock(&s->mu);
    while (s->count == 0 && s->workers_running > 0) {
        if (pthread_cond_timedwait(&s->not_empty, &s->mu, &deadline) != 0 && s->count == 0) {
            st = POP_TIMEOUT;
            break;
        }
    }
    if (s->count > 0) {
        *out = s->queue[s->head];
        s->head = (s->head + 1) % s->cap;
        s->count--;
        pthread_cond_signal(&s->not_full);
        st = POP_RESULT;
    } else if (st != POP_TIMEOUT) {
        st = POP_END;
    }
    pthread_mutex_unlock(&s->mu);
    return st;
}

/* ---- the writer ---- */

typedef struct writer {
    const pipeline_config *config;
    analyze_worker worker;        /* for files analysed again by the writer */
    index_result **batch;
    size_t nbatch;
    /* vector changes of the batch, applied after its commit */
    int64_t *add_ids;
    float *add_data;
    size_t nadd;
    int64_t *remove_ids;
    size_t nremove;
    bool vectors_broken;          /* stop touching (and saving) the vector index */
    double last_vector_save;
} writer;

/* The dimension of the library's vector model. A model whose vectors are
 * computed after this stage (CLIP) takes its index's: replaced and copied
 * images are still kept current here. 0 when there is neither. */
static int vector_dim(const cs_library *lib)
{
    if (strcmp(lib->model, CS_LAYOUT_MODEL_ID) == 0)
        return CS_LAYOUT_DIM;
    if (strcmp(lib->model, TAGGER_FEATURE_MODEL_ID) == 0)
        return TAGGER_FEATURE_DIM;
    return lib->vec ? vectors_dim(lib->vec) : 0;
}

static bool writes_vectors(const writer *w)
{
    return !w->vectors_broken && vector_dim(w->config->lib) > 0;
}

static void queue_vector_add(writer *w, int64_t id, const float *data)
{
    size_t dim = (size_t)vector_dim(w->config->lib);
    w->add_ids[w->nadd] = id;
    memcpy(w->add_data + w->nadd * dim, data, dim * sizeof(float));
    w->nadd++;
}

/* The vector of a freshly analysed picture in the library's model; NULL
 * when it has none (no tagger features without the tagger). */
static const float *library_vector(const writer *w, const index_result *r)
{
    const char *model = w->config->lib->model;
    if (strcmp(model, CS_LAYOUT_MODEL_ID) == 0)
        return r->layout;
    if (strcmp(model, TAGGER_FEATURE_MODEL_ID) == 0 && r->found && r->found->has_features)
        return r->found->features;
    return NULL;
}

static void queue_vector_remove(writer *w, int64_t old_id, int64_t new_id)
{
    if (old_id && old_id != new_id)
        w->remove_ids[w->nremove++] = old_id;
}

static cs_status write_indexed(writer *w, index_result *r, int64_t *id, cs_error *err)
{
    const index_job *job = r->job;
    catalog_image image = {
        .path = job->path,
        .folder = r->folder,
        .size = job->size,
        .mtime_ns = job->mtime_ns,
        .content_hash = r->content_hash,
        .width = r->width,
        .height = r->height,
        .format = image_format_name(r->format),
        .has_taken_at = r->exif.has_taken_at,
        .taken_at = r->exif.taken_at,
        .camera_make = r->exif.make,
        .camera_model = r->exif.model,
        .has_gps = r->exif.has_gps,
        .gps_lat = r->exif.latitude,
        .gps_lon = r->exif.longitude,
        .has_phash = true,
        .phash = r->phash,
    };
    catalog_text text = {
        .caption = r->caption.caption,
        .tags = r->caption.tags_text,
        .ocr = r->ocr_text ? r->ocr_text : "",
        .path_words = r->path_words,
        .exif_text = r->caption.exif_text,
        .related = r->related ? r->related : "",
    };
    catalog_tag tags[CAPTION_MAX_TAGS];
    catalog *cat = w->config->lib->cat;
    for (int i = 0; i < r->caption.ntags; i++)
        tags[i] = (catalog_tag){r->caption.tags[i].name, r->caption.tags[i].kind,
                                r->caption.tags[i].score};
    catalog_embedding embedding = {CS_LAYOUT_MODEL_ID, CS_LAYOUT_DIM, r->layout};
    cs_status rc = catalog_put_image(cat, &image, &text, tags, (size_t)r->caption.ntags,
                                     &embedding, id, err);
    if (rc == CS_OK && r->found && r->found->has_features) {
        catalog_embedding features = {TAGGER_FEATURE_MODEL_ID, TAGGER_FEATURE_DIM,
                                      r->found->features};
        rc = catalog_put_embedding(cat, *id, &features, err);
    }
    const float *vector = library_vector(w, r);
    if (rc == CS_OK && writes_vectors(w) && vector)
        queue_vector_add(w, *id, vector);
    return rc;
}

/* A copy's related words: the source's object and concept tags with the
 * new path's words (a renamed dog.jpg is no longer a dog by name). NULL =
 * keep the source's (WordNet is not there to say better). */
static cs_status related_for_copy(writer *w, const index_result *r, char **related,
                                  cs_error *err)
{
    *related = NULL;
    if (!w->config->analyze->related)
        return CS_OK;
    strbuf tags;
    strbuf_init(&tags);
    cs_status rc = catalog_tag_names(w->config->lib->cat, r->reuse_id, analyze_related_kinds,
                                     analyze_related_nkinds, &tags, err);
    if (rc == CS_OK)
        rc = analyze_related(r->path_words, strbuf_str(&tags), related, err);
    strbuf_free(&tags);
    return rc;
}

static cs_status write_reused(writer *w, index_result *r, int64_t *id, cs_error *err)
{
    const index_job *job = r->job;
    catalog *cat = w->config->lib->cat;
    char *related = NULL;
    cs_status rc = related_for_copy(w, r, &related, err);
    if (rc == CS_OK)
        rc = catalog_copy_image(cat, r->reuse_id, job->path, r->folder, job->size,
                                job->mtime_ns, r->path_words, related, id, err);
    free(related);
    if (rc == CS_ERR_NOT_FOUND) {
        /* The source was replaced earlier in this run: analyse this one fully. */
        index_result_free(r);
        rc = analyze_file(job, &w->worker, false, r, err);
        if (rc != CS_OK)
            return rc;
        if (r->kind == RESULT_FAILED)
            return catalog_record_error(cat, job->path, job->size, job->mtime_ns, r->error, err);
        return write_indexed(w, r, id, err);
    }
    if (rc == CS_OK && writes_vectors(w) && *id != job->old_id) {
        /* read straight into the batch's next slot */
        size_t dim = (size_t)vector_dim(w->config->lib);
        cs_status got = catalog_get_embedding(cat, *id, w->config->lib->model, (int)dim,
                                              w->add_data + w->nadd * dim, err);
        if (got == CS_OK)
            w->add_ids[w->nadd++] = *id;
        else if (got != CS_ERR_NOT_FOUND)
            rc = got;
    }
    return rc;
}

static cs_status write_one(writer *w, index_result *r, cs_error *err)
{
    const index_job *job = r->job;
    int64_t id = 0;
    switch (r->kind) {
    case RESULT_FAILED:
        /* The old entry (if any) stays: a file that turned unreadable keeps
         * its last good description until it is fixed or deleted. */
        return catalog_record_error(w->config->lib->cat, job->path, job->size, job->mtime_ns,
                                    r->error, err);
    case RESULT_REUSED: {
        cs_status rc = write_reused(w, r, &id, err);
        if (rc == CS_OK)
            queue_vector_remove(w, job->old_id, id);
        return rc;
    }
    case RESULT_INDEXED: {
        cs_status rc = write_indexed(w, r, &id, err);
        if (rc == CS_OK)
            queue_vector_remove(w, job->old_id, id);
        return rc;
    }
    }
    return cs_error_set(err, CS_ERR_INVALID, "unknown result kind");
}

static void apply_vector_changes(writer *w)
{
    cs_library *lib = w->config->lib;
    if (!writes_vectors(w) || (w->nadd == 0 && w->nremove == 0))
        return;
    cs_error err;
    cs_status rc = CS_OK;
    if (!lib->vec)
        rc = vectors_create(lib->model, vector_dim(lib), &lib->vec, &err);
    if (rc == CS_OK && w->nremove)
        rc = vectors_remove(lib->vec, w->nremove, w->remove_ids, NULL, &err);
    if (rc == CS_OK && w->nadd)
        rc = vectors_add(lib->vec, w->nadd, w->add_ids, w->add_data, &err);
    if (rc != CS_OK)
        /* The catalog has the batch; the vector file is only an accelerator.
         * Stop updating it and let the next open rebuild what is missing. */
        w->vectors_broken = true;
}

static cs_status commit_batch(writer *w, cs_error *err)
{
    const pipeline_config *c = w->config;
    if (w->nbatch == 0)
        return CS_OK;
    w->nadd = w->nremove = 0;
    cs_status rc = catalog_begin(c->lib->cat, err);
    for (size_t i = 0; rc == CS_OK && i < w->nbatch; i++)
        rc = write_one(w, w->batch[i], err);
    if (rc == CS_OK)
        rc = catalog_commit(c->lib->cat, err);
    else
        catalog_rollback(c->lib->cat);
    for (size_t i = 0; i < w->nbatch; i++) {
        index_result_free(w->batch[i]);
        free(w->batch[i]);
    }
    w->nbatch = 0;
    if (rc != CS_OK)
        return cs_error_prefix(err, "writing a batch: ");
    apply_vector_changes(w);
    if (c->progress) {
        c->counters->event = CS_EVENT_BATCH;
        c->counters->path = NULL;
        c->counters->error = NULL;
        c->progress(c->counters, c->progress_user);
    }
    double now = fs_now_seconds();
    if (!w->vectors_broken && now - w->last_vector_save > VECTOR_SAVE_INTERVAL_S) {
        cs_error save_err;
        if (library_save_vectors(c->lib, &save_err) != CS_OK)
            w->vectors_broken = true;
        w->last_vector_save = now;
    }
    return CS_OK;
}

static void count_result(const pipeline_config *c, const index_result *r)
{
    cs_index_progress *p = c->counters;
    p->done++;
    p->bytes += (uint64_t)r->job->size;
    if (r->kind == RESULT_INDEXED)
        p->indexed++;
    else if (r->kind == RESULT_REUSED)
        p->reused++;
    else
        p->failed++;
    p->elapsed_s = fs_now_seconds() - c->started;
    if (c->progress) {
        p->event = CS_EVENT_FILE_DONE;
        p->path = r->job->path;
        p->error = r->kind == RESULT_FAILED ? r->error : NULL;
        c->progress(p, c->progress_user);
    }
}

static cs_status run_writer(shared *s, writer *w, cs_error *err)
{
    cs_status rc = CS_OK;
    for (;;) {
        index_result *r = NULL;
        pop_status st = pop_result(s, BATCH_WAIT_S, &r);
        if (st == POP_RESULT) {
            if (rc != CS_OK) {          /* failed already: just drain */
                index_result_free(r);
                free(r);
                continue;
            }
            count_result(w->config, r);
            w->batch[w->nbatch++] = r;
        }
        bool flush = w->nbatch == (size_t)w->config->batch_size ||
                     (st != POP_RESULT && w->nbatch > 0);
        if (rc == CS_OK && flush) {
            rc = commit_batch(w, err);
            if (rc != CS_OK)
                atomic_store(&s->stop, 1);
        }
        if (st == POP_END)
            break;
    }
    return rc;
}

static void free_writer(writer *w)
{
    analyze_worker_free(&w->worker);
    for (size_t i = 0; i < w->nbatch; i++) {
        index_result_free(w->batch[i]);
        free(w->batch[i]);
    }
    free(w->batch);
    free(w->add_ids);
    free(w->add_data);
    free(w->remove_ids);
}

cs_status pipeline_run(const pipeline_config *config, cs_error *err)
{
    if (config->njobs == 0)
        return CS_OK;
    size_t batch = (size_t)config->batch_size;
    writer w = {.config = config, .last_vector_save = fs_now_seconds(),
                .worker = {.ctx = config->analyze}};
    w.batch = calloc(batch, sizeof *w.batch);
    w.add_ids = malloc(batch * sizeof *w.add_ids);
    size_t dim = (size_t)vector_dim(config->lib);
    w.add_data = malloc(batch * (dim ? dim : 1) * sizeof *w.add_data);
    w.remove_ids = malloc(batch * sizeof *w.remove_ids);
    shared s = {.config = config, .cap = batch * 2};
    s.queue = calloc(s.cap, sizeof *s.queue);
    if (!w.batch || !w.add_ids || !w.add_data || !w.remove_ids || !s.queue) {
        free_writer(&w);
        free(s.queue);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the indexer");
    }
    atomic_init(&s.next_job, 0);
    atomic_init(&s.stop, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.not_empty, NULL);
    pthread_cond_init(&s.not_full, NULL);

    int nthreads = config->threads;
    pthread_t *threads = calloc((size_t)nthreads, sizeof *threads);
    cs_status rc = threads ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    int started = 0;
    for (; rc == CS_OK && started < nthreads; started++) {
        pthread_mutex_lock(&s.mu);
        s.workers_running++;
        pthread_mutex_unlock(&s.mu);
        if (pthread_create(&threads[started], NULL, worker_main, &s) != 0) {
            pthread_mutex_lock(&s.mu);
            s.workers_running--;
            pthread_mutex_unlock(&s.mu);
            if (started == 0)
                rc = cs_error_set(err, CS_ERR_NOMEM, "cannot start an indexing thread");
            break;
        }
    }
    if (rc == CS_OK)
        rc = run_writer(&s, &w, err);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (rc == CS_OK && s.worker_status != CS_OK) {
        rc = s.worker_status;
        *err = s.worker_err;
    }
    if (rc == CS_OK && config->cancel && *config->cancel)
        rc = cs_error_set(err, CS_ERR_CANCELLED, "indexing interrupted; run it again to resume");
    if (!s.ocr_failed && w.worker.ocr_failed) {
        s.ocr_failed = true;
        s.ocr_err = w.worker.ocr_error;
    }
    if (s.ocr_failed)
        index_warn(config->progress, config->progress_user, config->counters, s.ocr_err.message);
    if (w.vectors_broken && config->lib->vec) {
        /* Never save an index that missed changes: drop it, the next open
         * repairs the file from the catalog. */
        vectors_free(config->lib->vec);
        config->lib->vec = NULL;
    }
    free_writer(&w);
    free(s.queue);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.not_empty);
    pthread_cond_destroy(&s.not_full);
    return rc;
}

void index_warn(cs_progress_fn progress, void *user, const cs_index_progress *counters,
                const char *message)
{
    if (!progress)
        return;
    cs_index_progress p = *counters;
    p.event = CS_EVENT_WARNING;
    p.path = NULL;
    p.error = message;
    progress(&p, user);
}
