/* The library's CLIP model (see clip_model.h). */
#include "library/clip_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "library/library.h"
#include "library/query_cache.h"

/* The weights are sampled in this many slices of this many bytes. */
#define SAMPLE_SLICES 256
#define SAMPLE_BYTES 4096
/* A safetensors header is JSON listing the tensors: a few hundred KiB for
 * the largest CLIP models. More is not a header. */
#define MAX_HEADER_BYTES (64u << 20)
#define MAX_CONFIG_BYTES (4u << 20)

bool clip_is_model_id(const char *model)
{
    return model && strncmp(model, CLIP_ID_PREFIX, strlen(CLIP_ID_PREFIX)) == 0;
}

const char *clip_precision_label(cs_clip_precision precision)
{
    return precision == CS_CLIP_INT8 ? "int8" : "f32";
}

static cs_status hash_config(XXH3_state_t *st, const char *dir, cs_error *err)
{
    char *path = fs_path_join(dir, "config.json");
    uint8_t *data = NULL;
    size_t len = 0;
    cs_status rc = path ? fs_read_file(path, MAX_CONFIG_BYTES, &data, &len, err)
                        : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        XXH3_64bits_update(st, data, len);
    free(data);
    free(path);
    return rc;
}

static cs_status read_at(int fd, void *buf, size_t len, off_t at, const char *path,
                         cs_error *err)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)buf + got, len - got, at + (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return cs_error_errno(err, errno, "cannot read", path);
        if (n == 0)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: the file ends early", path);
        got += (size_t)n;
    }
    return CS_OK;
}

/* The header (length and JSON) and SAMPLE_SLICES slices of the data after it. */
static cs_status hash_weights(XXH3_state_t *st, int fd, const char *path, cs_error *err)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return cs_error_errno(err, errno, "cannot read", path);
    uint8_t prefix[8];
    cs_status rc = read_at(fd, prefix, sizeof prefix, 0, path, err);
    if (rc != CS_OK)
        return rc;
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | prefix[i];
    if (header > MAX_HEADER_BYTES || 8 + header > (uint64_t)sb.st_size)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: not a safetensors file (header of %llu "
                            "bytes)", path, (unsigned long long)header);
    size_t buf_len = header > SAMPLE_BYTES ? (size_t)header : SAMPLE_BYTES;
    uint8_t *buf = malloc(buf_len ? buf_len : 1);
    if (!buf)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    rc = read_at(fd, buf, (size_t)header, 8, path, err);
    uint64_t size = (uint64_t)sb.st_size;
    XXH3_64bits_update(st, prefix, sizeof prefix);
    XXH3_64bits_update(st, &size, sizeof size);
    if (rc == CS_OK)
        XXH3_64bits_update(st, buf, (size_t)header);
    uint64_t start = 8 + header, data = size - start;
    for (int i = 0; rc == CS_OK && i < SAMPLE_SLICES && data > 0; i++) {
        uint64_t len = data < SAMPLE_BYTES ? data : SAMPLE_BYTES;
        uint64_t at = start + (data - len) * (uint64_t)i / (SAMPLE_SLICES - 1);
        rc = read_at(fd, buf, (size_t)len, (off_t)at, path, err);
        if (rc == CS_OK)
            XXH3_64bits_update(st, buf, (size_t)len);
    }
    free(buf);
    return rc;
}

cs_status clip_model_id(const char *dir, char *out, size_t size, cs_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return cs_error_errno(err, errno, "no CLIP model folder", dir);
    if (!S_ISDIR(sb.st_mode))
        return cs_error_set(err, CS_ERR_INVALID, "'%s' is not a CLIP model folder", dir);
    XXH3_state_t *st = XXH3_createState();
    char *weights = fs_path_join(dir, "model.safetensors");
    cs_status rc = st && weights && XXH3_64bits_reset(st) == XXH_OK
                       ? CS_OK
                       : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = hash_config(st, dir, err);
    int fd = -1;
    if (rc == CS_OK && (fd = open(weights, O_RDONLY | O_CLOEXEC)) < 0)
        rc = cs_error_errno(err, errno, "cannot open", weights);
    if (rc == CS_OK)
        rc = hash_weights(st, fd, weights, err);
    if (fd >= 0)
        close(fd);
    if (rc == CS_OK) {
        const char *name = strrchr(dir, '/');
        name = name && name[1] ? name + 1 : dir;
        int n = snprintf(out, size, CLIP_ID_PREFIX "%s:%012llx", name,
                         (unsigned long long)(XXH3_64bits_digest(st) & 0xffffffffffffull));
        if (n < 0 || (size_t)n >= size)
            rc = cs_error_set(err, CS_ERR_INVALID, "the CLIP model folder's name is too long: %s",
                              dir);
    }
    XXH3_freeState(st);
    free(weights);
    return rc;
}

static cs_status set_meta(catalog *c, const char *key, const char *value, cs_error *err)
{
    char *old = NULL;
    cs_status rc = catalog_meta_get(c, key, &old, err);
    if (rc == CS_OK && (!old || strcmp(old, value) != 0))
        rc = catalog_meta_set(c, key, value, err);
    free(old);
    return rc;
}

cs_status clip_record_model(catalog *c, const char *dir, const char *id,
                            cs_clip_precision precision, cs_error *err)
{
    char key[sizeof CLIP_META_DIR_OF + CLIP_ID_MAX];
    if (snprintf(key, sizeof key, CLIP_META_DIR_OF "%s", id) >= (int)sizeof key)
        return cs_error_set(err, CS_ERR_INVALID, "CLIP model id too long: %s", id);
    cs_status rc = catalog_begin(c, err);
    if (rc == CS_OK)
        rc = set_meta(c, CLIP_META_DIR, dir, err);
    if (rc == CS_OK)
        rc = set_meta(c, CLIP_META_PRECISION, clip_precision_label(precision), err);
    if (rc == CS_OK)
        rc = set_meta(c, key, dir, err);
    if (rc == CS_OK)
        rc = catalog_commit(c, err);
    else
        catalog_rollback(c);
    return rc;
}

cs_status clip_recorded_model(catalog *c, char **dir, cs_clip_precision *precision,
                              cs_error *err)
{
    char *label = NULL;
    *dir = NULL;
    cs_status rc = catalog_meta_get(c, CLIP_META_DIR, dir, err);
    if (rc == CS_OK)
        rc = catalog_meta_get(c, CLIP_META_PRECISION, &label, err);
    *precision = label && strcmp(label, "int8") == 0 ? CS_CLIP_INT8 : CS_CLIP_F32;
    free(label);
    return rc;
}

/* ---- the copy searches use ---- */

void library_clip_close(cs_library *lib)
{
    cs_clip_close(lib->clip);
    lib->clip = NULL;
    free(lib->clip_for);
    lib->clip_for = NULL;
}

/* The folder recorded for `model_id`, checked to still hold that model. */
static cs_status folder_of(cs_library *lib, const char *model_id, char **dir,
                           cs_clip_precision *precision, cs_error *err)
{
    char key[sizeof CLIP_META_DIR_OF + CLIP_ID_MAX];
    snprintf(key, sizeof key, CLIP_META_DIR_OF "%s", model_id);
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    char *ignored = NULL;
    cs_status rc = catalog_meta_get(reader, key, dir, err);
    if (rc == CS_OK)
        rc = clip_recorded_model(reader, &ignored, precision, err);
    free(ignored);
    library_release_reader(lib, reader);
    if (rc == CS_OK && !*dir)
        rc = cs_error_set(err, CS_ERR_NOT_FOUND, "the library does not say where its CLIP "
                          "model %s is: index again with --model DIR", model_id);
    char id[CLIP_ID_MAX];
    cs_error why;
    if (rc == CS_OK && clip_model_id(*dir, id, sizeof id, &why) != CS_OK)
        rc = cs_error_set(err, why.code == CS_ERR_NOMEM ? CS_ERR_NOMEM : CS_ERR_NOT_FOUND,
                          "the library's CLIP model cannot be used (%s): put the folder back, "
                          "or index with --model DIR to embed with another", why.message);
    else if (rc == CS_OK && strcmp(id, model_id) != 0)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "the CLIP model in '%s' has changed since the "
                          "library was indexed with it (%s, now %s): index again with "
                          "--model %s", *dir, model_id, id, *dir);
    return rc;
}

/* The precision searches run the model in: $CAPSEARCH_QUERY_PRECISION
 * (f32, f16 or int8) when set, else the one the library records. f16 halves
 * the weight bytes a query reads at float32 activations (README, Benchmarks). */
static cs_status query_precision(cs_clip_precision recorded, cs_clip_precision *out,
                                 cs_error *err)
{
    const char *env = getenv("CAPSEARCH_QUERY_PRECISION");
    *out = recorded;
    if (!env || !*env)
        return CS_OK;
    if (strcmp(env, "f32") == 0)
        *out = CS_CLIP_F32;
    else if (strcmp(env, "f16") == 0)
        *out = CS_CLIP_F16;
    else if (strcmp(env, "int8") == 0)
        *out = CS_CLIP_INT8;
    else
        return cs_error_set(err, CS_ERR_INVALID, "CAPSEARCH_QUERY_PRECISION is '%s': it must "
                            "be f32, f16 or int8 (or unset: the library's precision)", env);
    return CS_OK;
}

/* Opens the model for `model_id` unless it is open (or failed) already:
 * its text tower alone until a picture is searched with (`pictures`),
 * which most searches never do. Called with clip_mu held. */
static cs_status ensure_open(cs_library *lib, const char *model_id, int dim, bool pictures,
                             cs_error *err)
{
    if (lib->clip_for && strcmp(lib->clip_for, model_id) == 0 &&
        !(lib->clip && lib->clip_text_only && pictures)) {
        if (lib->clip)
            return CS_OK;
        *err = lib->clip_error;
        return err->code;
    }
    library_clip_close(lib);
    if (!(lib->clip_for = strdup(model_id)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    char *dir = NULL;
    cs_clip_precision precision = CS_CLIP_F32;
    cs_status rc = folder_of(lib, model_id, &dir, &precision, err);
    if (rc == CS_OK)
        rc = query_precision(precision, &precision, err);
    /* A query is one input: no room for a batch. */
    cs_clip_options options = {.precision = precision, .max_batch = 1, .text_only = !pictures};
    lib->clip_text_only = !pictures;
    if (rc == CS_OK && cs_clip_open_with(dir, &options, &lib->clip, err) != CS_OK)
        rc = cs_error_prefix(err, "the library's CLIP model in '%s' cannot be loaded: ", dir);
    if (rc == CS_OK && cs_clip_dim(lib->clip) != dim)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "the CLIP model in '%s' gives %d numbers, the "
                          "library's vectors have %d", dir, cs_clip_dim(lib->clip), dim);
    free(dir);
    if (rc != CS_OK) {
        cs_clip_close(lib->clip);
        lib->clip = NULL;
        lib->clip_error = *err;
        if (rc == CS_ERR_NOMEM)   /* not a lasting state of the model: try again next time */
            library_clip_close(lib);
    }
    return rc;
}

cs_status library_clip_text(cs_library *lib, const char *model_id, const char *text,
                            float *out, int dim, bool *cached, cs_error *err)
{
    if (cached)
        *cached = false;
    /* Looked up before the model's lock: a hit does not wait for another
     * query's text tower run. The id names the weights (clip_model_id), so
     * an entry of this id is this model's embedding. */
    if (query_cache_get(lib->query_cache, model_id, text, out, dim)) {
        if (cached)
            *cached = true;
        return CS_OK;
    }
    pthread_mutex_lock(&lib->clip_mu);
    cs_status rc = ensure_open(lib, model_id, dim, false, err);
    if (rc == CS_OK)
        rc = cs_clip_embed_text(lib->clip, text, out, err);
    pthread_mutex_unlock(&lib->clip_mu);
    if (rc == CS_OK)
        query_cache_put(lib->query_cache, model_id, text, out, dim);
    return rc;
}

void cs_library_query_cache_stats(cs_library *lib, cs_query_cache_stats *out)
{
    query_cache_stats(lib ? lib->query_cache : NULL, out);
}

/* The model reads pictures from files: the bytes go through a private
 * temporary one, so a picture searched with matches the same file indexed. */
static cs_status write_temp(const uint8_t *data, size_t len, char *path, size_t size,
                            cs_error *err)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/capsearch-query-XXXXXX", tmp && *tmp == '/' ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0)
        return cs_error_errno(err, errno, "cannot make a temporary file for the picture", path);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            unlink(path);
            return cs_error_errno(err, e, "cannot write the picture to", path);
        }
        done += (size_t)n;
    }
    close(fd);
    return CS_OK;
}

cs_status library_clip_image(cs_library *lib, const char *model_id, const uint8_t *data,
                             size_t len, float *out, int dim, cs_error *err)
{
    pthread_mutex_lock(&lib->clip_mu);
    cs_status rc = ensure_open(lib, model_id, dim, true, err);
    float *pixels = NULL;
    char path[4096];
    bool written = false;
    if (rc == CS_OK) {
        size_t side = (size_t)cs_clip_image_size(lib->clip);
        if (!(pixels = malloc(3 * side * side * sizeof *pixels)))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    if (rc == CS_OK)
        written = (rc = write_temp(data, len, path, sizeof path, err)) == CS_OK;
    cs_error why;
    if (rc == CS_OK &&
        (rc = cs_clip_preprocess_image_draft(lib->clip, path, pixels, &why)) != CS_OK) {
        /* The temporary file's name means nothing to the user. */
        size_t n = strlen(path);
        const char *reason = why.message;
        if (strncmp(reason, path, n) == 0 && strncmp(reason + n, ": ", 2) == 0)
            reason += n + 2;
        cs_error_set(err, rc, "cannot search with this picture: %s", reason);
    }
    if (rc == CS_OK)
        rc = cs_clip_embed_pixels(lib->clip, pixels, 1, out, err);
    pthread_mutex_unlock(&lib->clip_mu);
    if (written)
        unlink(path);
    free(pixels);
    return rc;
}
