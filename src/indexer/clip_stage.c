/* CLIP embeddings for every catalogued image that lacks one of the model
 * in use. Worker threads decode and preprocess files (thread-safe) into a
 * ring of input slots, in order; the calling thread embeds them CLIP_BATCH
 * at a time (the model spreads one call over every core and runs one call
 * at a time), commits each batch, and adds the vectors to the library's
 * index when the library already searches with this model.
 *
 * It runs after the main pipeline rather than inside it because it also
 * serves images that did not change (a library given a model for the first
 * time, or a new one), and because CLIP decodes at full size where the
 * analysis decodes small. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption/lexicon.h"
#include "common/array.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "indexer/indexer_internal.h"
#include "indexer/zeroshot_model.h"
#include "store/catalog_concepts.h"

#define CLIP_BATCH 16
#define CLIP_RING (2 * CLIP_BATCH)

typedef struct todo {
    int64_t id;
    char *path;
} todo;

typedef struct stage {
    const clip_stage_config *config;
    todo *items;
    size_t n, cap;
    int64_t *have;            /* ids with the embedding already, ascending */
    size_t nhave;
    size_t floats;            /* per input */
    float *ring;              /* CLIP_RING inputs */
    cs_status *status;        /* per item: preprocessing's result */
    char **reason;            /* per failed item, malloc'd */
    atomic_size_t next;       /* next item a worker takes */
    pthread_mutex_t mu;
    pthread_cond_t changed;
    size_t consumed;          /* items the writer is finished with */
    bool *ready;              /* per item */
    bool stop;
    zs_model zs;              /* zero-shot captions, when zs_ready */
    bool zs_ready;
    int64_t *uncaptioned;     /* ids embedded earlier without a zero-shot
                                 caption of the model, ascending */
    size_t nuncaptioned;
    bool rules_current;       /* the stored captions follow ZS_RULES_VERSION */
} stage;

static int compare_ids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static cs_status collect(const catalog_file *f, void *user, cs_error *err)
{
    stage *s = user;
    if (s->nhave && bsearch(&f->id, s->have, s->nhave, sizeof *s->have, compare_ids))
        return CS_OK;
    if (!ARRAY_RESERVE(s->items, s->cap, s->n))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing images to embed");
    if (!(s->items[s->n].path = strdup(f->path)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing images to embed");
    s->items[s->n++].id = f->id;
    return CS_OK;
}

/* The meta key saying under which rules (ZS_RULES_VERSION) the catalog's
 * zero-shot captions were made: captions of other rules are made again,
 * from the stored embeddings. */
#define ZS_RULES_KEY "zeroshot_rules"

static cs_status rules_current(catalog *cat, bool *current, cs_error *err)
{
    char *value = NULL;
    cs_status rc = catalog_meta_get(cat, ZS_RULES_KEY, &value, err);
    *current = rc == CS_OK && value && strcmp(value, ZS_RULES_VERSION) == 0;
    free(value);
    return rc;
}

/* After a run that captioned everything it had to: the captions follow the
 * current rules. */
static cs_status mark_rules_current(stage *s, cs_error *err)
{
    if (s->rules_current)
        return CS_OK;
    return catalog_meta_set(s->config->lib->cat, ZS_RULES_KEY, ZS_RULES_VERSION, err);
}

/* s->uncaptioned = s->have minus the ids with a zero-shot caption of the
 * current rules (all of s->have when they were made under others). */
static cs_status list_uncaptioned(stage *s, cs_error *err)
{
    int64_t *done = NULL;
    size_t ndone = 0;
    cs_status rc = rules_current(s->config->lib->cat, &s->rules_current, err);
    if (rc == CS_OK && s->rules_current)
        rc = catalog_zeroshot_ids(s->config->lib->cat, s->config->model_id, &done, &ndone, err);
    if (rc != CS_OK)
        return rc;
    if (s->nhave && !(s->uncaptioned = malloc(s->nhave * sizeof *s->uncaptioned)))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0, j = 0; rc == CS_OK && i < s->nhave; i++) {
        while (j < ndone && done[j] < s->have[i])
            j++;
        if (j >= ndone || done[j] != s->have[i])
            s->uncaptioned[s->nuncaptioned++] = s->have[i];
    }
    free(done);
    return rc;
}

static cs_status list_missing(stage *s, cs_error *err)
{
    catalog *cat = s->config->lib->cat;
    cs_status rc = catalog_begin_read(cat, err);
    if (rc != CS_OK)
        return rc;
    rc = catalog_embedding_ids(cat, s->config->model_id, &s->have, &s->nhave, err);
    if (rc == CS_OK)
        rc = catalog_each_image(cat, "", collect, s, err);
    if (rc == CS_OK)
        rc = list_uncaptioned(s, err);
    catalog_end_read(cat);
    return rc;
}

static bool cancelled(const stage *s)
{
    return s->config->cancel && *s->config->cancel;
}

static void *worker_main(void *arg)
{
    stage *s = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&s->next, 1);
        if (i >= s->n)
            break;
        pthread_mutex_lock(&s->mu);
        while (!s->stop && i >= s->consumed + CLIP_RING)
            pthread_cond_wait(&s->changed, &s->mu);
        bool stop = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        cs_error err;
        float *slot = s->ring + (i % CLIP_RING) * s->floats;
        cs_status rc = cs_clip_preprocess_image_draft(*s->config->model, s->items[i].path, slot,
                                                     &err);
        pthread_mutex_lock(&s->mu);
        s->status[i] = rc;
        if (rc != CS_OK)
            s->reason[i] = strdup(err.message);   /* NULL: said without a reason */
        s->ready[i] = true;
        pthread_cond_broadcast(&s->changed);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* Waits until items [from, to) are preprocessed. */
static void wait_ready(stage *s, size_t from, size_t to)
{
    pthread_mutex_lock(&s->mu);
    for (size_t i = from; i < to; i++)
        while (!s->ready[i])
            pthread_cond_wait(&s->changed, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void release_slots(stage *s, size_t upto, bool stop)
{
    pthread_mutex_lock(&s->mu);
    s->consumed = upto;
    s->stop = s->stop || stop;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->mu);
}

typedef struct batch_out {
    int64_t ids[CLIP_BATCH];
    float *vectors;           /* CLIP_BATCH x dim */
    size_t n;
} batch_out;

static void report_failure(stage *s, size_t i, clip_stage_result *result)
{
    const clip_stage_config *c = s->config;
    const char *reason = s->reason[i] ? s->reason[i] : "cannot read the picture";
    if (result->failed++ == 0)
        snprintf(result->first_failure, sizeof result->first_failure, "%s", reason);
    if (c->progress) {
        /* Reported, not counted: the file itself is indexed. */
        cs_index_progress p = *c->counters;
        p.event = CS_EVENT_FILE_DONE;
        p.path = s->items[i].path;
        p.error = reason;
        c->progress(&p, c->progress_user);
    }
}

/* Gathers the batch [from, to)'s good inputs at the front of its slots and
 * embeds them. */
static cs_status embed_batch(stage *s, size_t from, size_t to, batch_out *out,
                             clip_stage_result *result, cs_error *err)
{
    float *base = s->ring + (from % CLIP_RING) * s->floats;
    out->n = 0;
    for (size_t i = from; i < to; i++) {
        if (s->status[i] != CS_OK) {
            report_failure(s, i, result);
            continue;
        }
        float *slot = s->ring + (i % CLIP_RING) * s->floats;
        float *dest = base + out->n * s->floats;
        if (slot != dest)
            memmove(dest, slot, s->floats * sizeof *dest);
        out->ids[out->n++] = s->items[i].id;
    }
    if (out->n == 0)
        return CS_OK;
    cs_status rc = cs_clip_embed_pixels(*s->config->model, base, out->n, out->vectors, err);
    return rc == CS_OK ? CS_OK : cs_error_prefix(err, "embedding with the CLIP model: ");
}

/* One image's path words and object tags, as the catalog has them. */
typedef struct stored_words {
    int64_t id;
    bool found;
    strbuf path_words, tags;
} stored_words;

static cs_status keep_words(int64_t id, const char *path_words, const char *tags, void *user,
                            cs_error *err)
{
    stored_words *w = user;
    if (id != w->id)
        return CS_OK;   /* the image has no caption row: none to update */
    w->found = true;
    strbuf_append(&w->path_words, path_words);
    strbuf_append(&w->tags, tags);
    return strbuf_failed(&w->path_words) || strbuf_failed(&w->tags)
               ? cs_error_set(err, CS_ERR_NOMEM, "out of memory")
               : CS_OK;
}

/* The image's related words with the concepts of its new zero-shot
 * caption (analyze_related_concepts), its path words and detector's tags
 * read from the catalog. *related NULL without WordNet (the stored ones
 * stay) or without a caption row. */
static cs_status related_with_concepts(stage *s, int64_t id, const zs_caption *cap,
                                       char **related, cs_error *err)
{
    *related = NULL;
    if (!lexicon_available())
        return CS_OK;
    stored_words w = {.id = id};
    strbuf_init(&w.path_words);
    strbuf_init(&w.tags);
    /* the first caption row after id - 1: this image's, when it has one */
    cs_status rc = catalog_each_words(s->config->lib->cat, id - 1, 1, analyze_object_kinds,
                                      analyze_object_nkinds, keep_words, &w, err);
    catalog_tag concepts[ZS_MAX_PICKS];
    const char *names[ZS_MAX_PICKS];
    size_t n = zs_model_tags(&s->zs, cap, concepts);
    for (size_t i = 0; i < n; i++)
        names[i] = concepts[i].tag;
    if (rc == CS_OK && w.found)
        rc = analyze_related_concepts(strbuf_str(&w.path_words), strbuf_str(&w.tags), names, n,
                                      related, err);
    strbuf_free(&w.path_words);
    strbuf_free(&w.tags);
    return rc;
}

/* Writes the zero-shot captions of a batch (inside its transaction). */
static cs_status put_captions(stage *s, const int64_t *ids, size_t n, const zs_caption *caps,
                              cs_error *err)
{
    cs_status rc = CS_OK;
    for (size_t i = 0; rc == CS_OK && i < n; i++) {
        char words[1024];
        catalog_tag tags[ZS_MAX_PICKS];
        zs_model_words(&s->zs, &caps[i], words, sizeof words);
        size_t ntags = zs_model_tags(&s->zs, &caps[i], tags);
        char *related = NULL;
        rc = related_with_concepts(s, ids[i], &caps[i], &related, err);
        catalog_zeroshot z = {s->config->model_id, zs_sentence(&caps[i]), words, tags, ntags,
                              related};
        if (rc == CS_OK)
            rc = catalog_set_zeroshot(s->config->lib->cat, ids[i], &z, err);
        free(related);
    }
    if (rc == CS_OK)
        s->config->counters->captioned += n;
    return rc == CS_OK ? CS_OK : cs_error_prefix(err, "storing zero-shot captions: ");
}

static cs_status commit(stage *s, const batch_out *b, cs_error *err)
{
    const clip_stage_config *c = s->config;
    catalog *cat = c->lib->cat;
    int dim = cs_clip_dim(*c->model);
    zs_caption caps[CLIP_BATCH];
    /* the text tower runs before the transaction, which stays short */
    cs_status rc = s->zs_ready && b->n
                       ? zs_model_caption(&s->zs, *c->model, b->vectors, b->n, caps, NULL, err)
                       : CS_OK;
    if (rc == CS_OK)
        rc = catalog_begin(cat, err);
    else
        return rc;
    for (size_t i = 0; rc == CS_OK && i < b->n; i++) {
        catalog_embedding e = {c->model_id, dim, b->vectors + i * (size_t)dim};
        rc = catalog_put_embedding(cat, b->ids[i], &e, err);
    }
    if (rc == CS_OK && s->zs_ready)
        rc = put_captions(s, b->ids, b->n, caps, err);
    if (rc == CS_OK)
        rc = catalog_commit(cat, err);
    else
        catalog_rollback(cat);
    if (rc != CS_OK)
        return cs_error_prefix(err, "storing CLIP embeddings: ");
    cs_library *lib = c->lib;
    if (b->n && strcmp(lib->model, c->model_id) == 0) {
        cs_error vec_err;
        cs_status vrc = lib->vec ? CS_OK : vectors_create(c->model_id, dim, &lib->vec, &vec_err);
        if (vrc == CS_OK)
            vrc = vectors_add(lib->vec, b->n, b->ids, b->vectors, &vec_err);
        if (vrc != CS_OK) {
            /* The catalog has them; the next open rebuilds the file from it. */
            vectors_free(lib->vec);
            lib->vec = NULL;
        }
    }
    return CS_OK;
}

/* Reports the counters as they stand with `event`. */
static void emit(const clip_stage_config *c, cs_index_event event)
{
    c->counters->elapsed_s = fs_now_seconds() - c->started;
    if (!c->progress)
        return;
    c->counters->event = event;
    c->counters->path = NULL;
    c->counters->error = NULL;
    c->progress(c->counters, c->progress_user);
}

static void progress(stage *s, size_t embedded)
{
    s->config->counters->embedded += embedded;
    emit(s->config, CS_EVENT_EMBEDDED);
}

static cs_status run_writer(stage *s, clip_stage_result *result, cs_error *err)
{
    batch_out b = {.vectors = malloc(CLIP_BATCH * (size_t)cs_clip_dim(*s->config->model) *
                                     sizeof(float))};
    cs_status rc = b.vectors ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    size_t from = 0;
    for (; rc == CS_OK && from < s->n; from += CLIP_BATCH) {
        if (cancelled(s)) {
            rc = cs_error_set(err, CS_ERR_CANCELLED, "indexing interrupted; run it again to "
                                                     "resume");
            break;
        }
        size_t to = s->n - from < CLIP_BATCH ? s->n : from + CLIP_BATCH;
        wait_ready(s, from, to);
        rc = embed_batch(s, from, to, &b, result, err);
        if (rc == CS_OK)
            rc = commit(s, &b, err);
        if (rc == CS_OK) {
            result->embedded += b.n;
            progress(s, b.n);
        }
        release_slots(s, to, rc != CS_OK);
    }
    release_slots(s, from, true);
    free(b.vectors);
    return rc;
}

static void free_stage(stage *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].path);
        if (s->reason)
            free(s->reason[i]);
    }
    free(s->items);
    free(s->have);
    free(s->ring);
    free(s->status);
    free(s->reason);
    free(s->ready);
    free(s->uncaptioned);
    if (s->zs_ready)
        zs_model_free(&s->zs);
}

static cs_status start(stage *s, cs_error *err)
{
    size_t side = (size_t)cs_clip_image_size(*s->config->model);
    s->floats = 3 * side * side;
    s->ring = malloc(CLIP_RING * s->floats * sizeof *s->ring);
    s->status = calloc(s->n, sizeof *s->status);
    s->reason = calloc(s->n, sizeof *s->reason);
    s->ready = calloc(s->n, sizeof *s->ready);
    if (!s->ring || !s->status || !s->reason || !s->ready)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the CLIP stage");
    return CS_OK;
}

static cs_status open_model(const clip_stage_config *c, clip_stage_result *result,
                            cs_error *err)
{
    if (*c->model)
        return CS_OK;
    cs_clip_options options = {.precision = c->precision, .max_batch = CLIP_BATCH};
    cs_status rc = cs_clip_open_with(c->model_dir, &options, c->model, err);
    if (rc != CS_OK) {
        result->open_failed = rc != CS_ERR_NOMEM;
        cs_error_prefix(err, "the CLIP model in '%s' cannot be loaded: ", c->model_dir);
    }
    return rc;
}

/* The vocabulary's first embedding takes minutes: say how far it is. */
static void concepts_progress(size_t done, size_t todo, void *user)
{
    const clip_stage_config *c = user;
    c->counters->concepts_total = todo;
    c->counters->concepts_embedded = done;
    emit(c, CS_EVENT_CONCEPTS);
}

/* Loads the concept vocabulary's embeddings for zero-shot captions. Without
 * WordNet there are none: a warning, and the embeddings go on. */
static cs_status open_zeroshot(stage *s, cs_error *err)
{
    const clip_stage_config *c = s->config;
    cs_error why;
    uint64_t before = c->counters->concepts_embedded;
    cs_status rc = zs_model_load(&s->zs, c->lib->cat, *c->model, c->model_id, c->cancel,
                                 concepts_progress, (void *)c, &why);
    c->counters->concepts_embedded = before + s->zs.computed;
    if (rc == CS_OK) {
        s->zs_ready = true;
        return CS_OK;
    }
    if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_UNSUPPORTED) {
        char message[CS_ERROR_MESSAGE_MAX + 64];
        snprintf(message, sizeof message, "no zero-shot captions: %s", why.message);
        index_warn(c->progress, c->progress_user, c->counters, message);
        return CS_OK;
    }
    *err = why;
    return rc;
}

/* Zero-shot captions for images embedded by an earlier run (before zero-shot
 * captions existed, or while WordNet was missing), from their stored
 * embeddings: no picture is read again. */
static cs_status caption_stored(stage *s, clip_stage_result *result, cs_error *err)
{
    const clip_stage_config *c = s->config;
    catalog *cat = c->lib->cat;
    int dim = cs_clip_dim(*c->model);
    float *vectors = malloc(CLIP_BATCH * (size_t)dim * sizeof *vectors);
    if (!vectors)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = CS_OK;
    for (size_t from = 0; rc == CS_OK && from < s->nuncaptioned; from += CLIP_BATCH) {
        if (cancelled(s))
            break;   /* the rest is captioned by the next run */
        size_t n = s->nuncaptioned - from < CLIP_BATCH ? s->nuncaptioned - from : CLIP_BATCH;
        const int64_t *ids = s->uncaptioned + from;
        for (size_t i = 0; rc == CS_OK && i < n; i++)
            rc = catalog_get_embedding(cat, ids[i], c->model_id, dim, vectors + i * (size_t)dim,
                                       err);
        zs_caption caps[CLIP_BATCH];
        if (rc == CS_OK)
            rc = zs_model_caption(&s->zs, *c->model, vectors, n, caps, NULL, err);
        if (rc == CS_OK)
            rc = catalog_begin(cat, err);
        if (rc == CS_OK) {
            rc = put_captions(s, ids, n, caps, err);
            if (rc == CS_OK)
                rc = catalog_commit(cat, err);
            else
                catalog_rollback(cat);
        }
        if (rc == CS_OK)
            result->captioned += n;
    }
    free(vectors);
    return rc;
}

cs_status clip_stage_run(const clip_stage_config *config, clip_stage_result *result,
                         cs_error *err)
{
    memset(result, 0, sizeof *result);
    stage s = {.config = config};
    cs_status rc = list_missing(&s, err);
    config->counters->embed_total = s.n;
    if (rc != CS_OK || (s.n == 0 && s.nuncaptioned == 0)) {
        free_stage(&s);
        return rc;
    }
    rc = open_model(config, result, err);
    if (rc == CS_OK)
        rc = open_zeroshot(&s, err);
    if (rc == CS_OK && s.zs_ready)
        rc = caption_stored(&s, result, err);
    if (rc == CS_OK && s.n == 0) {
        if (s.zs_ready && !cancelled(&s))
            rc = mark_rules_current(&s, err);
        free_stage(&s);
        return rc;
    }
    if (rc == CS_OK)
        rc = start(&s, err);
    if (rc != CS_OK) {
        free_stage(&s);
        return rc;
    }
    atomic_init(&s.next, 0);
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.changed, NULL);
    int nthreads = config->threads > 0 ? config->threads : 1;
    pthread_t threads[64];
    if (nthreads > 64)
        nthreads = 64;
    int started = 0;
    while (started < nthreads && pthread_create(&threads[started], NULL, worker_main, &s) == 0)
        started++;
    if (started == 0)
        rc = cs_error_set(err, CS_ERR_NOMEM, "cannot start a thread to read pictures for CLIP");
    if (rc == CS_OK)
        rc = run_writer(&s, result, err);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&s.mu);
    pthread_cond_destroy(&s.changed);
    if (rc == CS_OK && s.zs_ready && !cancelled(&s))
        rc = mark_rules_current(&s, err);
    free_stage(&s);
    return rc;
}
