/* cs_index: change detection, the pipeline, and purging deleted files.
 *
 * 1. Load what the catalog knows under each folder (path -> size, mtime) and
 *    every content hash (for renamed and copied files).
 * 2. Walk the folders; a file whose size and mtime match is unchanged, one
 *    that failed before with the same size and mtime is not retried, the
 *    rest becomes a job.
 * 3. Run the pipeline over the jobs.
 * 4. If the walk was complete and not interrupted, remove catalog entries of
 *    files that are gone, except under folders that could not be read (an
 *    unreadable or unmounted folder must not erase what was indexed). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "caption/lexicon.h"
#include "common/array.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "indexer/indexer_internal.h"
#include "library/clip_model.h"
#include "nn/nn.h"
#include "store/text_champions.h"

typedef struct known_file {
    int64_t id;
    int64_t size;
    int64_t mtime_ns;
    bool seen;
    bool is_error;          /* an error record, not an image */
} known_file;

typedef struct run_state {
    cs_library *lib;
    const cs_index_options *options;
    char **roots;
    size_t nroots;
    strmap known_paths;         /* path -> index into known */
    known_file *known;
    size_t nknown, capknown;
    strmap known_hashes;        /* content hash -> image id */
    size_t ncatalogued;         /* images in the whole catalog */
    index_job *jobs;
    size_t njobs, capjobs;
    char **unreadable;          /* folders the walk could not read */
    size_t nunreadable;
    const char *current_root;
    tagger *tagger;             /* NULL: no models installed */
    char *tagger_problem;       /* why there is none, said once if there is work */
    int64_t *tagged;            /* ids with the tagger's features, ascending */
    size_t ntagged;
    char *clip_dir;             /* the CLIP model in use, NULL: none */
    char clip_id[CLIP_ID_MAX];
    cs_clip_precision clip_precision;
    cs_clip_model *clip;        /* opened when there is something to embed */
    cs_index_progress counters;
    bool oom;
} run_state;

static void free_state(run_state *s)
{
    for (size_t i = 0; i < s->nroots; i++)
        free(s->roots[i]);
    free(s->roots);
    strmap_free(&s->known_paths);
    strmap_free(&s->known_hashes);
    free(s->known);
    for (size_t i = 0; i < s->njobs; i++)
        free(s->jobs[i].path);
    free(s->jobs);
    for (size_t i = 0; i < s->nunreadable; i++)
        free(s->unreadable[i]);
    free(s->unreadable);
    tagger_free(s->tagger);
    free(s->tagger_problem);
    free(s->tagged);
    free(s->clip_dir);
    cs_clip_close(s->clip);
}

static int compare_ids(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Pictures indexed before the tagger was installed are analysed again. */
static bool needs_tagger(const run_state *s, int64_t id)
{
    return s->tagger && (s->ntagged == 0 ||   /* bsearch must not see a NULL array */
                         !bsearch(&id, s->tagged, s->ntagged, sizeof *s->tagged, compare_ids));
}

/* ---- step 1: what the catalog knows ---- */

static cs_status remember(const catalog_file *f, void *user, cs_error *err)
{
    run_state *s = user;
    int64_t *existing = NULL;
    if (strmap_get(&s->known_paths, f->path, &existing)) {
        /* An error record for a path that also has an image: keep the image. */
        if (f->content_hash)
            s->known[*existing] = (known_file){f->id, f->size, f->mtime_ns, false, false};
        return CS_OK;
    }
    if (!ARRAY_RESERVE(s->known, s->capknown, s->nknown))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading the catalog");
    s->known[s->nknown] = (known_file){f->id, f->size, f->mtime_ns, false, !f->content_hash};
    if (!strmap_put(&s->known_paths, f->path, (int64_t)s->nknown))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading the catalog");
    s->nknown++;
    return CS_OK;
}

static cs_status remember_hash(const catalog_file *f, void *user, cs_error *err)
{
    run_state *s = user;
    s->ncatalogued++;
    if (needs_tagger(s, f->id))
        return CS_OK;   /* a copy of it must be analysed, not reused */
    if (f->content_hash && !strmap_put(&s->known_hashes, f->content_hash, f->id))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading the catalog");
    return CS_OK;
}

/* "/a/b" -> "/a/b/" so that /a/bc is not under /a/b. */
static char *folder_prefix(const char *root)
{
    size_t n = strlen(root);
    char *p = malloc(n + 2);
    if (!p)
        return NULL;
    memcpy(p, root, n);
    if (n == 0 || root[n - 1] != '/')
        p[n++] = '/';
    p[n] = '\0';
    return p;
}

static cs_status load_known(run_state *s, cs_error *err)
{
    catalog *cat = s->lib->cat;
    cs_status rc = catalog_begin_read(cat, err);
    if (rc == CS_OK && s->tagger)
        rc = catalog_embedding_ids(cat, TAGGER_FEATURE_MODEL_ID, &s->tagged, &s->ntagged, err);
    for (size_t i = 0; rc == CS_OK && i < s->nroots; i++) {
        char *prefix = folder_prefix(s->roots[i]);
        if (!prefix) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            break;
        }
        rc = catalog_each_image(cat, prefix, remember, s, err);
        if (rc == CS_OK)
            rc = catalog_each_error(cat, prefix, remember, s, err);
        free(prefix);
    }
    if (rc == CS_OK)
        rc = catalog_each_image(cat, "", remember_hash, s, err);
    catalog_end_read(cat);
    return rc;
}

/* ---- step 2: the walk ---- */

static cs_status add_job(run_state *s, const char *path, int64_t size, int64_t mtime_ns,
                         int64_t old_id, cs_error *err)
{
    if (!ARRAY_RESERVE(s->jobs, s->capjobs, s->njobs))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing files");
    char *copy = strdup(path);
    if (!copy)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing files");
    s->jobs[s->njobs++] = (index_job){copy, s->current_root, size, mtime_ns, old_id};
    return CS_OK;
}

static cs_status on_file(const char *path, int64_t size, int64_t mtime_ns, void *user,
                         cs_error *err)
{
    run_state *s = user;
    int64_t *slot = NULL;
    int64_t old_id = 0;
    if (strmap_get(&s->known_paths, path, &slot)) {
        known_file *k = &s->known[*slot];
        k->seen = true;
        if (k->size == size && k->mtime_ns == mtime_ns && (k->is_error || !needs_tagger(s, k->id))) {
            s->counters.unchanged++;
            return CS_OK;
        }
        old_id = k->is_error ? 0 : k->id;
    }
    return add_job(s, path, size, mtime_ns, old_id, err);
}

static void on_unreadable(const char *path, int errnum, void *user)
{
    run_state *s = user;
    char **grown = realloc(s->unreadable, (s->nunreadable + 1) * sizeof *grown);
    char *copy = folder_prefix(path);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            s->unreadable = grown;
        s->oom = true;   /* cannot remember it: the purge is skipped */
        return;
    }
    s->unreadable = grown;
    s->unreadable[s->nunreadable++] = copy;
    if (s->options->progress) {
        char reason[256];
        snprintf(reason, sizeof reason, "cannot read folder: %s", strerror(errnum));
        cs_index_progress p = s->counters;
        p.event = CS_EVENT_FILE_DONE;
        p.path = path;
        p.error = reason;
        /* Reported, not counted: it is a folder, not an image. */
        s->options->progress(&p, s->options->progress_user);
    }
}

/* ---- step 4: purge ---- */

static bool under_unreadable(const run_state *s, const char *path)
{
    for (size_t i = 0; i < s->nunreadable; i++)
        if (strncmp(path, s->unreadable[i], strlen(s->unreadable[i])) == 0)
            return true;
    return false;
}

static cs_status purge_missing(run_state *s, cs_error *err)
{
    cs_library *lib = s->lib;
    size_t pending = 0;
    cs_status rc = CS_OK;
    int64_t *removed = NULL;
    size_t nremoved = 0;
    for (size_t i = 0; i < s->known_paths.cap && rc == CS_OK; i++) {
        const strmap_slot *slot = &s->known_paths.slots[i];
        if (!slot->key)
            continue;
        known_file *k = &s->known[slot->value];
        if (k->seen || under_unreadable(s, slot->key))
            continue;
        if (pending == 0)
            rc = catalog_begin(lib->cat, err);
        if (rc != CS_OK)
            break;
        if (k->is_error) {
            rc = catalog_delete_error(lib->cat, slot->key, err);
        } else {
            rc = catalog_delete_image(lib->cat, k->id, err);
            int64_t *grown = realloc(removed, (nremoved + 1) * sizeof *grown);
            if (!grown)
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            else
                (removed = grown)[nremoved++] = k->id;
            s->counters.removed++;
        }
        if (++pending == 512 && rc == CS_OK) {
            rc = catalog_commit(lib->cat, err);
            pending = 0;
        }
    }
    if (rc == CS_OK && pending)
        rc = catalog_commit(lib->cat, err);
    else if (rc != CS_OK)
        catalog_rollback(lib->cat);
    if (rc == CS_OK && lib->vec && nremoved) {
        cs_error vec_err;
        if (vectors_remove(lib->vec, nremoved, removed, NULL, &vec_err) != CS_OK) {
            vectors_free(lib->vec);   /* repaired from the catalog on next open */
            lib->vec = NULL;
        }
    }
    free(removed);
    return rc;
}

/* ---- cs_index ---- */

static cs_status resolve_roots(run_state *s, const char *const *dirs, size_t ndirs,
                               cs_error *err)
{
    s->roots = calloc(ndirs ? ndirs : 1, sizeof *s->roots);
    if (!s->roots)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ndirs; i++) {
        char *real = realpath(dirs[i], NULL);
        if (!real)
            return cs_error_errno(err, errno, "cannot index folder", dirs[i]);
        s->roots[s->nroots++] = real;
        struct stat st;
        if (stat(real, &st) != 0 || !S_ISDIR(st.st_mode))
            return cs_error_set(err, CS_ERR_INVALID, "'%s' is not a folder", dirs[i]);
    }
    return CS_OK;
}

static int default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static cs_status set_model_if_new(cs_library *lib, cs_error *err)
{
    char *model = NULL;
    cs_status rc = catalog_meta_get(lib->cat, "embedding_model", &model, err);
    if (rc != CS_OK || model) {
        free(model);
        return rc;
    }
    rc = catalog_begin(lib->cat, err);
    if (rc == CS_OK)
        rc = catalog_meta_set(lib->cat, "embedding_model", lib->model, err);
    if (rc == CS_OK)
        rc = catalog_commit(lib->cat, err);
    else
        catalog_rollback(lib->cat);
    return rc;
}

static void warn(run_state *s, const char *message)
{
    index_warn(s->options->progress, s->options->progress_user, &s->counters, message);
}

/* WordNet words and OCR are extras: without their data the run goes on
 * (one warning each), except that OCR languages the user named must be
 * there. Warnings only when there is something to index. */
static cs_status choose_enrichments(run_state *s, analyze_context *actx, cs_error *err)
{
    const char *asked = s->options->ocr_languages;
    cs_error why;
    actx->related = lexicon_open(&why) == CS_OK;
    if (!actx->related && s->njobs > 0) {
        warn(s, why.message);
        /* Pictures indexed now lack related words: the next run with
         * WordNet fills them in (related.c). */
        cs_status rc = catalog_begin(s->lib->cat, err);
        if (rc == CS_OK)
            rc = catalog_meta_set(s->lib->cat, INDEX_RELATED_META, "", err);
        if (rc == CS_OK)
            rc = catalog_commit(s->lib->cat, err);
        else
            catalog_rollback(s->lib->cat);
        if (rc != CS_OK)
            return rc;
    }
    if (asked && strcmp(asked, "none") == 0)
        return CS_OK;
    cs_status rc = ocr_check_languages(actx->ocr_languages, &why);
    actx->ocr = rc == CS_OK;
    if (rc == CS_ERR_INVALID || (rc == CS_ERR_NOT_FOUND && asked && *asked))
        return cs_error_set(err, rc, "%s", why.message);
    if (!actx->ocr && s->njobs > 0)
        warn(s, why.message);
    return CS_OK;
}

/* Moves the library's vectors to `model` (meta embedding_model, the index
 * rebuilt from the catalog) once every image has an embedding of it; until
 * then the earlier model serves, complete. */
static cs_status switch_when_complete(cs_library *lib, const char *model, cs_error *err)
{
    if (strcmp(lib->model, model) == 0)
        return CS_OK;
    int64_t *ids = NULL;
    size_t n = 0;
    cs_stats stats;
    cs_status rc = catalog_embedding_ids(lib->cat, model, &ids, &n, err);
    free(ids);
    if (rc == CS_OK)
        rc = catalog_stats(lib->cat, &stats, err);
    if (rc != CS_OK || (int64_t)n < stats.images)
        return rc;
    rc = catalog_begin(lib->cat, err);
    if (rc == CS_OK)
        rc = catalog_meta_set(lib->cat, "embedding_model", model, err);
    if (rc == CS_OK)
        rc = catalog_commit(lib->cat, err);
    else
        catalog_rollback(lib->cat);
    if (rc == CS_OK)
        rc = library_set_model(lib, model, err);
    return rc;
}

/* "More like this" moves from the colour layout to the tagger's features;
 * a CLIP model's vectors are kept. */
static cs_status switch_to_tagger_vectors(run_state *s, cs_error *err)
{
    if (!s->tagger || strcmp(s->lib->model, CS_LAYOUT_MODEL_ID) != 0)
        return CS_OK;
    return switch_when_complete(s->lib, TAGGER_FEATURE_MODEL_ID, err);
}

/* The CLIP model given on the command line: it must load, before anything
 * is indexed; then it is recorded for later runs. */
static cs_status clip_given(run_state *s, cs_error *err)
{
    const char *given = s->options->clip_model;
    if (s->options->clip_precision != CS_CLIP_F32 && s->options->clip_precision != CS_CLIP_INT8)
        return cs_error_set(err, CS_ERR_INVALID, "unknown CLIP precision %d",
                            s->options->clip_precision);
    s->clip_precision = (cs_clip_precision)s->options->clip_precision;
    if (!(s->clip_dir = realpath(given, NULL)))
        return cs_error_errno(err, errno, "cannot use the CLIP model folder", given);
    cs_status rc = clip_model_id(s->clip_dir, s->clip_id, sizeof s->clip_id, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "cannot use the CLIP model in '%s': ", s->clip_dir);
    cs_clip_options options = {.precision = s->clip_precision, .max_batch = 16};
    rc = cs_clip_open_with(s->clip_dir, &options, &s->clip, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "the CLIP model in '%s' cannot be loaded: ", s->clip_dir);
    return clip_record_model(s->lib->cat, s->clip_dir, s->clip_id, s->clip_precision, err);
}

/* The model recorded by an earlier run; one that has gone is a warning
 * (the run goes on without CLIP), said when there is something to do. */
static cs_status clip_recorded(run_state *s, cs_error *err)
{
    cs_status rc = clip_recorded_model(s->lib->cat, &s->clip_dir, &s->clip_precision, err);
    if (rc != CS_OK || !s->clip_dir)
        return rc;
    cs_error why;
    rc = clip_model_id(s->clip_dir, s->clip_id, sizeof s->clip_id, &why);
    if (rc == CS_ERR_NOMEM) {
        *err = why;
        return rc;
    }
    if (rc != CS_OK) {
        char message[CS_ERROR_MESSAGE_MAX + 160];
        snprintf(message, sizeof message, "the library's CLIP model cannot be used (%s): "
                 "indexing goes on without CLIP embeddings; give --model DIR to use another",
                 why.message);
        warn(s, message);
        free(s->clip_dir);
        s->clip_dir = NULL;
        s->clip_id[0] = '\0';
        return CS_OK;
    }
    /* The folder's weights may have changed: the new id is recorded too. */
    return clip_record_model(s->lib->cat, s->clip_dir, s->clip_id, s->clip_precision, err);
}

static cs_status choose_clip(run_state *s, cs_error *err)
{
    return s->options->clip_model ? clip_given(s, err) : clip_recorded(s, err);
}

/* Embeds what lacks the CLIP model's embedding, then moves the vectors to
 * it once every image has one. */
static cs_status run_clip(run_state *s, int threads, double started, cs_error *err)
{
    clip_stage_config config = {
        .lib = s->lib,
        .model_dir = s->clip_dir,
        .model_id = s->clip_id,
        .precision = s->clip_precision,
        .model = &s->clip,
        .threads = threads,
        .cancel = s->options->cancel,
        .progress = s->options->progress,
        .progress_user = s->options->progress_user,
        .counters = &s->counters,
        .started = started,
    };
    clip_stage_result result;
    cs_status rc = clip_stage_run(&config, &result, err);
    if (rc != CS_OK && result.open_failed) {
        warn(s, err->message);   /* the recorded model broke: the rest of the run stands */
        return CS_OK;
    }
    if (rc == CS_OK && result.failed) {
        char message[CS_ERROR_MESSAGE_MAX];
        snprintf(message, sizeof message, "%zu picture(s) could not be read for the CLIP model "
                 "(first: %s); the library's vectors move to it once every picture has an "
                 "embedding", result.failed, result.first_failure);
        warn(s, message);
    }
    if (rc == CS_OK)
        rc = switch_when_complete(s->lib, s->clip_id, err);
    return rc;
}

static void report(run_state *s, cs_index_event event)
{
    if (!s->options->progress)
        return;
    s->counters.event = event;
    s->counters.path = NULL;
    s->counters.error = NULL;
    s->options->progress(&s->counters, s->options->progress_user);
}

/* The text ranking's champion lists, made again when missing or when many
 * captions changed since (text_champions.h); under the indexing lock. */
static cs_status refresh_champions(cs_library *lib, cs_error *err)
{
    bool stale = false;
    cs_status rc = catalog_champions_stale(lib->cat, &stale, err);
    if (rc == CS_OK && stale)
        rc = catalog_rebuild_champions(lib->cat, err);
    return rc;
}

static cs_status run(run_state *s, const char *const *dirs, size_t ndirs, double started,
                     cs_error *err)
{
    const cs_index_options *o = s->options;
    cs_status rc = resolve_roots(s, dirs, ndirs, err);
    if (rc == CS_OK)
        rc = set_model_if_new(s->lib, err);
    if (rc == CS_OK)
        rc = choose_clip(s, err);
    if (rc == CS_OK)
        rc = tagging_open(&s->tagger, &s->tagger_problem, &(bool){false}, err);
    if (rc == CS_OK)
        rc = load_known(s, err);
    for (size_t i = 0; rc == CS_OK && i < s->nroots; i++) {
        s->current_root = s->roots[i];
        walk_callbacks callbacks = {.on_file = on_file, .on_unreadable = on_unreadable, .user = s};
        rc = walk_tree(s->roots[i], &callbacks, o->cancel, err);
    }
    if (rc != CS_OK)
        return rc;
    s->counters.total = s->njobs;
    s->counters.elapsed_s = fs_now_seconds() - started;
    report(s, CS_EVENT_WALK_DONE);
    analyze_context actx = {
        .known_hashes = &s->known_hashes,
        .max_file_bytes = o->max_file_bytes ? o->max_file_bytes : INDEX_DEFAULT_MAX_FILE_BYTES,
        .max_pixels = o->max_pixels ? o->max_pixels : INDEX_DEFAULT_MAX_PIXELS,
        .ocr_languages = o->ocr_languages && *o->ocr_languages ? o->ocr_languages : "eng",
    };
    actx.tagger = s->tagger;
    if (s->tagger_problem && s->njobs > 0)
        warn(s, s->tagger_problem);
    rc = choose_enrichments(s, &actx, err);
    /* An empty catalog has nothing to fill in: every image this run writes
     * gets its related words now. */
    if (rc == CS_OK && actx.related && s->ncatalogued == 0)
        rc = index_related_current(s->lib, err);
    if (rc != CS_OK)
        return rc;
    pipeline_config pc = {
        .lib = s->lib,
        .jobs = s->jobs,
        .njobs = s->njobs,
        .analyze = &actx,
        .threads = o->threads > 0 ? o->threads : default_threads(),
        .batch_size = o->batch_size > 0 ? o->batch_size : INDEX_DEFAULT_BATCH,
        .cancel = o->cancel,
        .progress = o->progress,
        .progress_user = o->progress_user,
        .counters = &s->counters,
        .started = started,
    };
    /* One picture per core: BLAS threads inside each would only contend. */
    if (s->tagger && pc.threads > 1)
        nn_set_blas_threads(1);
    rc = pipeline_run(&pc, err);
    bool interrupted = o->cancel && *o->cancel;
    if (rc == CS_OK && !interrupted && !s->oom && !o->no_purge)
        rc = purge_missing(s, err);
    if (rc == CS_OK && !(o->cancel && *o->cancel) && actx.related)
        rc = index_backfill_related(s->lib, o, err);
    if (rc == CS_OK && !interrupted)
        rc = switch_to_tagger_vectors(s, err);
    if (rc == CS_OK && !interrupted && s->clip_dir)
        rc = run_clip(s, pc.threads, started, err);
    if (rc == CS_OK && !interrupted)
        rc = refresh_champions(s->lib, err);
    return rc;
}

cs_status cs_index(cs_library *lib, const char *const *dirs, size_t ndirs,
                   const cs_index_options *options, cs_index_progress *out,
                   cs_error *err)
{
    cs_index_options defaults = {0};
    if (!options)
        options = &defaults;
    if (lib->read_only)
        return cs_error_set(err, CS_ERR_INVALID, "the library is open read-only");
    if (ndirs == 0)
        return cs_error_set(err, CS_ERR_INVALID, "no folder to index");
    int lock_fd = -1;
    cs_status rc = library_lock(lib, &lock_fd, err);
    if (rc != CS_OK)
        return rc;
    double started = fs_now_seconds();
    run_state s = {.lib = lib, .options = options};
    strmap_init(&s.known_paths);
    strmap_init(&s.known_hashes);
    rc = run(&s, dirs, ndirs, started, err);
    /* Save what was committed, even after an interruption or a failed batch. */
    cs_error save_err;
    cs_status saved = library_save_vectors(lib, &save_err);
    if (rc == CS_OK && saved != CS_OK) {
        rc = saved;
        *err = save_err;
    }
    s.counters.elapsed_s = fs_now_seconds() - started;
    report(&s, CS_EVENT_FINISHED);
    if (out)
        *out = s.counters;
    free_state(&s);
    library_unlock(lock_fd);
    return rc;
}
