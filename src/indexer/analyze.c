/* One file, start to finish: read, hash, decode, analyse, describe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/fsutil.h"
#include "indexer/indexer_internal.h"

void index_result_free(index_result *r)
{
    if (!r)
        return;
    free(r->error);
    free(r->folder);
    free(r->path_words);
    caption_result_free(&r->caption);
    memset(r, 0, sizeof *r);
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

cs_status analyze_file(const index_job *job, const analyze_context *ctx, bool allow_reuse,
                       index_result *out, cs_error *err)
{
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
        .target_min_side = CS_ANALYSIS_MIN_SIDE,
        .max_pixels = ctx->max_pixels,
    };
    cs_decoded decoded;
    rc = image_decode(data, len, job->path, &options, &decoded, &why);
    free(data);
    if (rc != CS_OK)
        return fail(out, &why, err);
    if (decoded.partial) {
        /* Half a picture would be described (and found) wrongly. */
        image_decoded_free(&decoded);
        cs_error_set(&why, CS_ERR_CORRUPT, "corrupt data: the file is truncated or damaged "
                     "(only part of the picture decodes)");
        return fail(out, &why, err);
    }
    out->kind = RESULT_INDEXED;
    rc = describe(&decoded, out, err);
    image_decoded_free(&decoded);
    return rc;
}
