/* One file, start to finish: read, hash, decode, analyse, describe; the
 * text in the picture (OCR) and the WordNet words for its object words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "caption/lexicon.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "indexer/indexer_internal.h"

const char *const analyze_object_kinds[] = {"object", "scene"};
const size_t analyze_object_nkinds = sizeof analyze_object_kinds / sizeof *analyze_object_kinds;
const char *const analyze_related_kinds[] = {"object", "scene", "concept"};
const size_t analyze_related_nkinds = sizeof analyze_related_kinds / sizeof *analyze_related_kinds;

void index_result_free(index_result *r)
{
    if (!r)
        return;
    free(r->error);
    free(r->folder);
    free(r->path_words);
    free(r->ocr_text);
    free(r->related);
    free(r->found);
    caption_result_free(&r->caption);
    memset(r, 0, sizeof *r);
}

void analyze_worker_free(analyze_worker *w)
{
    if (!w)
        return;
    ocr_engine_free(w->ocr);
    w->ocr = NULL;
    tagger_session_free(w->tagger);
    w->tagger = NULL;
}

/* ---- related words ---- */

/* Folder and file names that say where pictures are kept, not what they
 * show: expanding them would give every picture in ~/Pictures/Photos the
 * words "photograph, representation". */
static const char *const boilerplate[] = {
    "album", "albums", "archive", "backgrounds", "background", "backup", "camera",
    "copy", "desktop", "documents", "download", "downloads", "edit", "edited", "export",
    "exports", "final", "gallery", "home", "image", "images", "library", "media", "misc",
    "new", "old", "photo", "photos", "pic", "pics", "picture", "pictures", "raw", "scan",
    "scans", "screenshot", "screenshots", "temp", "tmp", "upload", "uploads", "user",
    "users", "wallpaper", "wallpapers",
};

static bool is_boilerplate(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof boilerplate / sizeof *boilerplate; i++)
        if (strlen(boilerplate[i]) == n && strncmp(boilerplate[i], w, n) == 0)
            return true;
    return false;
}

/* Splits `text` in place at `sep` into words[] (at most max). */
static size_t split(char *text, char sep, const char **words, size_t n, size_t max)
{
    for (char *p = text; *p && n < max;) {
        char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (end)
            *end = '\0';
        if (len)
            words[n++] = p;
        p += len + (end ? 1 : 0);
    }
    return n;
}

#define RELATED_MAX_WORDS 64

cs_status analyze_related(const char *path_words, const char *object_tags, char **out,
                          cs_error *err)
{
    *out = NULL;
    char *paths = strdup(path_words ? path_words : "");
    char *tags = strdup(object_tags ? object_tags : "");
    const char *words[RELATED_MAX_WORDS];
    size_t n = 0;
    cs_status rc = CS_OK;
    if (!paths || !tags) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    } else {
        /* what a detector saw first, then what the file is called */
        n = split(tags, '\n', words, 0, RELATED_MAX_WORDS);
        size_t first_path = n;
        n = split(paths, ' ', words, n, RELATED_MAX_WORDS);
        size_t kept = first_path;
        for (size_t i = first_path; i < n; i++)
            if (!is_boilerplate(words[i], strlen(words[i])))
                words[kept++] = words[i];
        n = kept;
        strbuf sb;
        strbuf_init(&sb);
        rc = lexicon_related_words(words, n, &sb, err);
        if (rc == CS_OK && !(*out = strbuf_take(&sb)))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        strbuf_free(&sb);
    }
    free(paths);
    free(tags);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

cs_status analyze_related_concepts(const char *path_words, const char *object_tags,
                                   const char *const *concepts, size_t nconcepts, char **out,
                                   cs_error *err)
{
    *out = NULL;
    const char **sorted = nconcepts ? malloc(nconcepts * sizeof *sorted) : NULL;
    if (nconcepts && !sorted)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nconcepts; i++)
        sorted[i] = concepts[i];
    if (nconcepts)
        qsort(sorted, nconcepts, sizeof *sorted, by_name);
    strbuf tags;
    strbuf_init(&tags);
    strbuf_append(&tags, object_tags ? object_tags : "");
    for (size_t i = 0; i < nconcepts; i++) {
        if (tags.len)
            strbuf_append_char(&tags, '\n');
        strbuf_append(&tags, sorted[i]);
    }
    cs_status rc = strbuf_failed(&tags) ? cs_error_set(err, CS_ERR_NOMEM, "out of memory")
                                        : analyze_related(path_words, strbuf_str(&tags), out, err);
    strbuf_free(&tags);
    free(sorted);
    return rc;
}

static bool is_object_kind(const char *kind)
{
    for (size_t i = 0; kind && i < analyze_object_nkinds; i++)
        if (strcmp(kind, analyze_object_kinds[i]) == 0)
            return true;
    return false;
}

/* The object tags the captioner gave (none from metadata alone; a
 * detector's labels once there is one) and the path words. */
static cs_status related_of_result(index_result *out, cs_error *err)
{
    strbuf tags;
    strbuf_init(&tags);
    for (int i = 0; i < out->caption.ntags; i++) {
        if (!is_object_kind(out->caption.tags[i].kind))
            continue;
        if (tags.len)
            strbuf_append_char(&tags, '\n');
        strbuf_append(&tags, out->caption.tags[i].name);
    }
    cs_status rc = strbuf_failed(&tags)
                       ? cs_error_set(err, CS_ERR_NOMEM, "out of memory")
                       : analyze_related(out->path_words, strbuf_str(&tags), &out->related, err);
    strbuf_free(&tags);
    return rc;
}

/* ---- text in the picture ---- */

typedef struct ocr_source {
    analyze_worker *worker;
    const index_job *job;
    const uint8_t *data;
    size_t len;
} ocr_source;

static cs_status decode_for_ocr(int min_side, cs_decoded *out, void *user, cs_error *err)
{
    ocr_source *src = user;
    cs_decode_options options = {
        .target_min_side = min_side,
        .max_pixels = src->worker->ctx->max_pixels,
    };
    return image_decode(src->data, src->len, src->job->path, &options, out, err);
}

static ocr_engine *worker_engine(void *user)
{
    analyze_worker *w = ((ocr_source *)user)->worker;
    if (!w->ocr && !w->ocr_failed &&
        ocr_engine_new(w->ctx->ocr_languages, &w->ocr, &w->ocr_error) != CS_OK)
        w->ocr_failed = true;   /* reported once by the pipeline */
    return w->ocr;
}

static cs_status read_text(analyze_worker *w, const index_job *job, const uint8_t *data,
                           size_t len, const cs_decoded *decoded, index_result *out,
                           cs_error *err)
{
    ocr_source src = {w, job, data, len};
    ocr_picture picture = {
        .analysis = decoded,
        .decode = decode_for_ocr,
        .engine = worker_engine,
        .user = &src,
    };
    ocr_outcome outcome;
    cs_status rc = ocr_picture_text(&picture, &outcome, err);
    if (rc == CS_OK)
        out->ocr_text = outcome.text;   /* taken over */
    return rc;
}

static void hash_hex(const uint8_t *data, size_t len, char out[33])
{
    XXH128_hash_t h = XXH3_128bits(data, len);
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h.high64,
             (unsigned long long)h.low64);
}

static char *parent_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash == path)
        n = 1;   /* a file directly under / */
    char *folder = malloc(n + 1);
    if (folder) {
        memcpy(folder, path, n);
        folder[n] = '\0';
    }
    return folder;
}

static cs_status fail(index_result *out, const cs_error *why, cs_error *err)
{
    out->kind = RESULT_FAILED;
    out->error = strdup(why->message);
    if (!out->error)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return CS_OK;
}

static cs_status describe(const cs_decoded *decoded, index_result *out, cs_error *err)
{
    const cs_image *img = &decoded->image;
    cs_color_share colors[INDEX_MAX_COLORS];
    int ncolors = image_dominant_colors(img, colors, INDEX_MAX_COLORS);
    out->phash = image_phash(img);
    image_layout_vector(img, out->layout);
    out->width = decoded->full_width;
    out->height = decoded->full_height;
    out->format = decoded->format;
    out->exif = decoded->exif;
    caption_facts facts = {
        .width = decoded->full_width,
        .height = decoded->full_height,
        .format = decoded->format,
        .exif = &decoded->exif,
        .colors = colors,
        .ncolors = ncolors,
    };
    return caption_from_metadata(&facts, &out->caption, err);
}

/* The analysis-size picture (colours, hash, layout, the OCR test) from a
 * larger decode for the tagger: reduced by the whole factor that keeps the
 * short side at least CS_ANALYSIS_MIN_SIDE, close to what the decoder's own
 * scaling gives. */
static cs_status analysis_copy(const cs_decoded *big, cs_decoded *small, cs_error *err)
{
    int w = big->image.width, h = big->image.height;
    int factor = (w < h ? w : h) / CS_ANALYSIS_MIN_SIDE;
    if (factor <= 1)
        return CS_OK;   /* small already: share the pixels */
    return image_resize(&big->image, w / factor, h / factor, &small->image, err);
}

/* Objects and faces, with boxes moved to the full-size picture's pixels. */
static cs_status tag(analyze_worker *w, const cs_decoded *decoded, index_result *out,
                     cs_error *err)
{
    if (!w->tagger) {
        cs_status rc = tagger_session_new(w->ctx->tagger, &w->tagger, err);
        if (rc != CS_OK)
            return rc;
    }
    out->found = malloc(sizeof *out->found);
    if (!out->found)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = tagger_run(w->tagger, &decoded->image, out->found, err);
    if (rc != CS_OK)
        return rc;
    float sx = (float)decoded->full_width / (float)decoded->image.width;
    float sy = (float)decoded->full_height / (float)decoded->image.height;
    for (int i = 0; i < out->found->nobjects; i++) {
        float *b = out->found->objects[i].box;
        b[0] *= sx, b[1] *= sy, b[2] *= sx, b[3] *= sy;
    }
    for (int i = 0; i < out->found->nfaces; i++) {
        float *b = out->found->faces[i].box;
        b[0] *= sx, b[1] *= sy, b[2] *= sx, b[3] *= sy;
    }
    return tagging_apply(out->found, decoded->full_width, decoded->full_height, &out->caption,
                         err);
}

cs_status analyze_file(const index_job *job, analyze_worker *worker, bool allow_reuse,
                       index_result *out, cs_error *err)
{
    const analyze_context *ctx = worker->ctx;
    memset(out, 0, sizeof *out);
    out->job = job;
    out->folder = parent_folder(job->path);
    out->path_words = caption_path_words(job->root, job->path);
    if (!out->folder || !out->path_words)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");

    uint8_t *data = NULL;
    size_t len = 0;
    cs_error why;
    /* A file too big for memory is that file's problem, not the run's: every
     * error reading or decoding it is recorded against it. */
    cs_status rc = fs_read_file(job->path, ctx->max_file_bytes, &data, &len, &why);
    if (rc != CS_OK)
        return fail(out, &why, err);
    if (len == 0) {
        free(data);
        cs_error_set(&why, CS_ERR_CORRUPT, "empty file");
        return fail(out, &why, err);
    }
    hash_hex(data, len, out->content_hash);
    int64_t *known = NULL;
    if (allow_reuse && strmap_get(ctx->known_hashes, out->content_hash, &known)) {
        free(data);
        out->kind = RESULT_REUSED;
        out->reuse_id = *known;
        return CS_OK;
    }
    cs_decode_options options = {
        .target_min_side = ctx->tagger ? TAGGER_DECODE_MIN_SIDE : CS_ANALYSIS_MIN_SIDE,
        .max_pixels = ctx->max_pixels,
    };
    cs_decoded decoded;
    rc = image_decode(data, len, job->path, &options, &decoded, &why);
    if (rc != CS_OK) {
        free(data);
        return fail(out, &why, err);
    }
    if (decoded.partial) {
        /* Half a picture would be described (and found) wrongly. */
        image_decoded_free(&decoded);
        free(data);
        cs_error_set(&why, CS_ERR_CORRUPT, "corrupt data: the file is truncated or damaged "
                     "(only part of the picture decodes)");
        return fail(out, &why, err);
    }
    out->kind = RESULT_INDEXED;
    cs_decoded small = decoded;
    if (ctx->tagger)
        rc = analysis_copy(&decoded, &small, err);
    if (rc == CS_OK)
        rc = describe(&small, out, err);
    if (rc == CS_OK && ctx->tagger)
        rc = tag(worker, &decoded, out, err);
    /* The file's bytes stay until OCR is done: it may decode them again,
     * larger, when the small picture shows text. */
    if (rc == CS_OK && ctx->ocr)
        rc = read_text(worker, job, data, len, &small, out, err);
    if (small.image.pixels != decoded.image.pixels)
        image_free(&small.image);
    image_decoded_free(&decoded);
    free(data);
    if (rc == CS_OK && !out->ocr_text && !(out->ocr_text = strdup("")))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK && ctx->related)
        rc = related_of_result(out, err);
    return rc;
}
