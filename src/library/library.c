/* Opening and closing a library folder; its writer lock; stats and errors. */
#include "library/library.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "capsearch_config.h"
#include "common/array.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "image/image.h"
#include "library/clip_model.h"
#include "library/filter_lists.h"
#include "library/query_cache.h"

const char *cs_version(void)
{
    return CAPSEARCH_VERSION;
}

cs_status cs_default_library_dir(char *out, size_t size, cs_error *err)
{
    const char *db = getenv("CAPSEARCH_DB");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (db && *db)
        n = snprintf(out, size, "%s", db);
    else if (xdg && *xdg == '/')
        n = snprintf(out, size, "%s/capsearch", xdg);
    else if (home && *home)
        n = snprintf(out, size, "%s/.local/share/capsearch", home);
    else
        return cs_error_set(err, CS_ERR_INVALID,
                            "no library folder: set HOME or CAPSEARCH_DB, or pass --db DIR");
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "library folder name is too long");
    return CS_OK;
}

static cs_status library_paths(cs_library *lib, const char *dir, cs_error *err)
{
    lib->dir = strdup(dir);
    lib->catalog_path = fs_path_join(dir, LIBRARY_CATALOG_FILE);
    lib->vectors_path = fs_path_join(dir, LIBRARY_VECTORS_FILE);
    lib->lock_path = fs_path_join(dir, LIBRARY_LOCK_FILE);
    if (!lib->dir || !lib->catalog_path || !lib->vectors_path || !lib->lock_path)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return CS_OK;
}

static cs_status load_model_name(cs_library *lib, cs_error *err)
{
    char *model = NULL;
    cs_status rc = catalog_meta_get(lib->cat, "embedding_model", &model, err);
    if (rc != CS_OK)
        return rc;
    lib->model = model ? model : strdup(CS_LAYOUT_MODEL_ID);
    if (!lib->model)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return CS_OK;
}

cs_status cs_library_open(const char *dir, const cs_open_options *options,
                          cs_library **out, cs_error *err)
{
    *out = NULL;
    cs_open_options defaults = {0};
    if (!options)
        options = &defaults;
    if (!dir || !*dir)
        return cs_error_set(err, CS_ERR_INVALID, "no library folder given");
    cs_library *lib = calloc(1, sizeof *lib);
    if (!lib)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&lib->mu, NULL);
    pthread_mutex_init(&lib->refresh_mu, NULL);
    pthread_mutex_init(&lib->tagger_mu, NULL);
    pthread_mutex_init(&lib->clip_mu, NULL);
    lib->read_only = options->read_only;
    cs_status rc = library_paths(lib, dir, err);
    if (rc == CS_OK)
        rc = query_cache_new(CS_QUERY_CACHE_SIZE, &lib->query_cache, err);
    if (rc == CS_OK)
        rc = filter_lists_new(&lib->filter_lists, err);
    if (rc == CS_OK && options->must_exist && fs_file_size(lib->catalog_path) < 0)
        rc = cs_error_set(err, CS_ERR_NOT_FOUND,
                          "no library in '%s' yet: index a folder first (capsearch index DIR)",
                          dir);
    if (rc == CS_OK && !lib->read_only)
        rc = fs_mkdir_p(dir, err);
    if (rc == CS_OK)
        rc = catalog_open(lib->catalog_path, lib->read_only, &lib->cat, err);
    if (rc == CS_OK)
        rc = load_model_name(lib, err);
    if (rc == CS_OK && !options->skip_vectors)
        rc = vectors_reconcile(lib->cat, lib->vectors_path, lib->model, !lib->read_only,
                               &lib->vec, &lib->reconcile, err);
    lib->generation = lib->reconcile.generation;
    if (rc != CS_OK) {
        cs_library_close(lib);
        return rc;
    }
    *out = lib;
    return CS_OK;
}

void cs_library_close(cs_library *lib)
{
    if (!lib)
        return;
    vectors_release(lib->vec);
    catalog_close(lib->cat);
    for (size_t i = 0; i < lib->nreaders; i++)
        catalog_close(lib->readers[i]);
    free(lib->readers);
    pthread_mutex_destroy(&lib->mu);
    pthread_mutex_destroy(&lib->refresh_mu);
    pthread_mutex_destroy(&lib->tagger_mu);
    library_clip_close(lib);
    pthread_mutex_destroy(&lib->clip_mu);
    query_cache_free(lib->query_cache);
    filter_lists_free(lib->filter_lists);
    tagger_session_free(lib->tagger_session);
    tagger_free(lib->tagger);
    free(lib->dir);
    free(lib->catalog_path);
    free(lib->vectors_path);
    free(lib->lock_path);
    free(lib->model);
    for (size_t i = 0; i < lib->nretired; i++)
        free(lib->retired_models[i]);
    free(lib->retired_models);
    free(lib);
}

const char *cs_library_dir(const cs_library *lib)
{
    return lib->dir;
}

cs_status library_lock(cs_library *lib, int *fd, cs_error *err)
{
    *fd = open(lib->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return cs_error_errno(err, errno, "cannot open lock file", lib->lock_path);
    /* flock is released by the kernel when the process dies, so a kill -9
     * never leaves the library locked. */
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        if (e == EWOULDBLOCK)
            return cs_error_set(err, CS_ERR_BUSY,
                                "another capsearch process is indexing into '%s'; "
                                "wait for it to finish", lib->dir);
        return cs_error_errno(err, e, "cannot lock", lib->lock_path);
    }
    return CS_OK;
}

void library_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}

/* Renames the model under `mu`; the old name is kept until close. */
static cs_status rename_model(cs_library *lib, const char *model, cs_error *err)
{
    char *copy = strdup(model);
    char **grown = realloc(lib->retired_models, (lib->nretired + 1) * sizeof *grown);
    if (grown)
        lib->retired_models = grown;
    if (!copy || !grown) {
        free(copy);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&lib->mu);
    lib->retired_models[lib->nretired++] = lib->model;
    lib->model = copy;
    pthread_mutex_unlock(&lib->mu);
    return CS_OK;
}

cs_status library_set_model(cs_library *lib, const char *model, cs_error *err)
{
    cs_status rc = rename_model(lib, model, err);
    vectors *fresh = NULL;
    reconcile_report report;
    if (rc == CS_OK)
        rc = vectors_reconcile(lib->cat, lib->vectors_path, lib->model, !lib->read_only, &fresh,
                               &report, err);
    if (rc != CS_OK)
        return rc;
    pthread_mutex_lock(&lib->mu);
    vectors *old = lib->vec;
    lib->vec = fresh;
    lib->generation = report.generation;
    pthread_mutex_unlock(&lib->mu);
    vectors_release(old);
    return CS_OK;
}

static cs_status load_tagger(cs_library *lib, cs_error *err)
{
    char dir[4096];
    cs_status rc = tagger_default_dir(dir, sizeof dir, err);
    if (rc == CS_OK)
        rc = tagger_open(dir, NULL, &lib->tagger, err);
    if (rc == CS_OK && !tagger_has(lib->tagger, TAGGER_OBJECTS))
        rc = cs_error_set(err, CS_ERR_NOT_FOUND,
                          "this library's vectors come from the tagger's object detector, "
                          "which is not installed in %s (tools/fetch-models.sh installs it)", dir);
    if (rc == CS_OK)
        rc = tagger_session_new(lib->tagger, &lib->tagger_session, err);
    if (rc != CS_OK) {
        tagger_free(lib->tagger);
        lib->tagger = NULL;
    }
    return rc;
}

cs_status library_tagger_features(cs_library *lib, const cs_image *image,
                                  float out[TAGGER_FEATURE_DIM], cs_error *err)
{
    pthread_mutex_lock(&lib->tagger_mu);
    cs_status rc = lib->tagger ? CS_OK : load_tagger(lib, err);
    tagger_result *found = NULL;
    if (rc == CS_OK && !(found = malloc(sizeof *found)))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = tagger_run(lib->tagger_session, image, found, err);
    if (rc == CS_OK && !found->has_features)
        rc = cs_error_set(err, CS_ERR_UNSUPPORTED, "the object detector gave no features");
    if (rc == CS_OK)
        memcpy(out, found->features, sizeof found->features);
    pthread_mutex_unlock(&lib->tagger_mu);
    free(found);
    return rc;
}

cs_status library_save_vectors(cs_library *lib, cs_error *err)
{
    if (!lib->vec)
        return CS_OK;
    int64_t generation = 0;
    cs_status rc = catalog_generation(lib->cat, &generation, err);
    if (rc == CS_OK)
        rc = vectors_retrain_save(lib->cat, lib->vec, lib->vectors_path, generation, err);
    return rc;
}

catalog *library_acquire_reader(cs_library *lib, cs_error *err)
{
    catalog *reader = NULL;
    pthread_mutex_lock(&lib->mu);
    if (lib->nreaders > 0)
        reader = lib->readers[--lib->nreaders];
    pthread_mutex_unlock(&lib->mu);
    if (!reader && catalog_open(lib->catalog_path, lib->read_only, &reader, err) != CS_OK)
        return NULL;
    return reader;
}

void library_release_reader(cs_library *lib, catalog *reader)
{
    if (!reader)
        return;
    pthread_mutex_lock(&lib->mu);
    bool kept = ARRAY_RESERVE(lib->readers, lib->capreaders, lib->nreaders);
    if (kept)
        lib->readers[lib->nreaders++] = reader;
    pthread_mutex_unlock(&lib->mu);
    if (!kept)
        catalog_close(reader);   /* no room to keep it: close, reopen next time */
}

vectors *library_acquire_vectors(cs_library *lib)
{
    pthread_mutex_lock(&lib->mu);
    vectors *v = vectors_retain(lib->vec);
    pthread_mutex_unlock(&lib->mu);
    return v;
}

cs_status cs_library_refresh(cs_library *lib, int *changed, cs_error *err)
{
    if (changed)
        *changed = 0;
    pthread_mutex_lock(&lib->refresh_mu);
    catalog *reader = library_acquire_reader(lib, err);
    cs_status rc = reader ? CS_OK : err->code;
    int64_t generation = 0;
    if (rc == CS_OK)
        rc = catalog_generation(reader, &generation, err);
    pthread_mutex_lock(&lib->mu);
    bool same = generation == lib->generation;
    pthread_mutex_unlock(&lib->mu);
    char *model = NULL;
    if (rc == CS_OK && !same)
        rc = catalog_meta_get(reader, "embedding_model", &model, err);
    if (rc == CS_OK && model && strcmp(model, lib->model) != 0)
        rc = rename_model(lib, model, err);   /* another process moved the library */
    free(model);
    if (rc == CS_OK && !same) {
        /* Build the new index aside (never writing the file: the indexing
         * process owns it), then swap; searches holding the old one finish
         * with it. */
        vectors *fresh = NULL;
        reconcile_report report;
        rc = vectors_reconcile(reader, lib->vectors_path, lib->model, false, &fresh, &report,
                               err);
        if (rc == CS_OK) {
            pthread_mutex_lock(&lib->mu);
            vectors *old = lib->vec;
            lib->vec = fresh;
            lib->generation = report.generation;
            pthread_mutex_unlock(&lib->mu);
            vectors_release(old);
            if (changed)
                *changed = 1;
        }
    }
    library_release_reader(lib, reader);
    pthread_mutex_unlock(&lib->refresh_mu);
    return rc;
}

cs_status cs_library_stats(cs_library *lib, cs_stats *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    cs_status rc = catalog_stats(reader, out, err);
    library_release_reader(lib, reader);
    if (rc != CS_OK)
        return rc;
    vectors *v = library_acquire_vectors(lib);
    out->vectors = v ? vectors_count(v) : 0;
    vectors_release(v);
    int64_t bytes = fs_file_size(lib->vectors_path);
    out->vector_bytes = bytes > 0 ? bytes : 0;
    snprintf(out->embedding_model, sizeof out->embedding_model, "%s", lib->model);
    out->vectors_rebuilt = lib->reconcile.rebuilt;
    out->vectors_added_on_open = (int64_t)lib->reconcile.added;
    out->vectors_removed_on_open = (int64_t)lib->reconcile.removed;
    return CS_OK;
}

cs_status cs_library_errors(cs_library *lib, cs_error_list **out, cs_error *err)
{
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    cs_status rc = catalog_errors(reader, out, err);
    library_release_reader(lib, reader);
    return rc;
}
