/* The public entry points of the CLIP code (capsearch.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "capsearch/capsearch.h"
#include "common/fsutil.h"
#include "image/image.h"
#include "models/clip/config.h"
#include "models/clip/preprocess.h"
#include "models/clip/towers.h"
#include "models/clip/tokenizer.h"

/* The context length of config.json (Hugging Face's default, 77, when the
 * folder has no config: a tokenizer alone is enough to tokenize). */
static cs_status context_length(const char *dir, size_t *out, cs_error *err)
{
    *out = CLIP_CONTEXT_LENGTH;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return cs_error_set(err, CS_ERR_INVALID, "model folder name is too long");
    struct stat st;
    if (stat(path, &st) != 0)
        return CS_OK;
    clip_config config;
    cs_status rc = clip_config_load(dir, &config, err);
    if (rc == CS_OK)
        *out = (size_t)config.text.max_positions;
    return rc;
}

cs_status cs_clip_tokenize(const char *model_dir, const char *text, size_t len,
                           int32_t **ids, size_t *n, int *truncated, cs_error *err)
{
    *ids = NULL;
    *n = 0;
    size_t context = 0;
    cs_status rc = context_length(model_dir, &context, err);
    clip_tokenizer *tok = NULL;
    if (rc == CS_OK)
        rc = clip_tokenizer_load(model_dir, &tok, err);
    int32_t *out = NULL;
    if (rc == CS_OK && !(out = malloc(context * sizeof *out)))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    bool cut = false;
    if (rc == CS_OK)
        rc = clip_tokenizer_encode(tok, text, len, out, context, n, &cut, err);
    clip_tokenizer_free(tok);
    if (rc != CS_OK) {
        free(out);
        *n = 0;
        return rc;
    }
    *ids = out;
    if (truncated)
        *truncated = cut;
    return CS_OK;
}

/* ---- cs_clip_model ---- */

struct cs_clip_model {
    clip_weights *weights;
    clip_tokenizer *tokenizer;
    float mean[3], std[3];
    int resize_to;            /* shortest side after resizing (= crop) */
    int crop;                 /* centre crop side = the tower's image size */
};

/* mean, std and sizes from preprocessor_config.json (CLIP's defaults when
 * it is absent); the crop must equal the tower's image size. */
static cs_status load_preprocessor(const char *dir, cs_clip_model *m, cs_error *err)
{
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float std[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    memcpy(m->mean, mean, sizeof mean);
    memcpy(m->std, std, sizeof std);
    m->crop = m->resize_to = m->weights->config.vision.image_size;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/preprocessor_config.json", dir) >= (int)sizeof path)
        return cs_error_set(err, CS_ERR_INVALID, "model folder name is too long");
    struct stat st;
    if (stat(path, &st) != 0)
        return CS_OK;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: line %d: %s", path, jerr.line, jerr.text);
    cs_status rc = CS_OK;
    const char *keys[2] = {"image_mean", "image_std"};
    float *dest[2] = {m->mean, m->std};
    for (int k = 0; k < 2 && rc == CS_OK; k++) {
        json_t *a = json_object_get(root, keys[k]);
        if (!a)
            continue;
        if (!json_is_array(a) || json_array_size(a) != 3)
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: %s must hold 3 numbers", path, keys[k]);
        for (size_t i = 0; rc == CS_OK && i < 3; i++) {
            json_t *v = json_array_get(a, i);
            if (!json_is_number(v) || (k == 1 && json_number_value(v) <= 0))
                rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: %s must hold 3 numbers%s", path,
                                  keys[k], k == 1 ? " above 0" : "");
            else
                dest[k][i] = (float)json_number_value(v);
        }
    }
    /* "size": 224 or {"shortest_edge": 224}; "crop_size": 224 or {"height", "width"} */
    json_t *size = json_object_get(root, "size");
    if (json_is_object(size))
        size = json_object_get(size, "shortest_edge");
    if (rc == CS_OK && size) {
        if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 8192)
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: size must be a whole number", path);
        else
            m->resize_to = (int)json_integer_value(size);
    }
    json_t *crop = json_object_get(root, "crop_size");
    if (json_is_object(crop))
        crop = json_object_get(crop, "height");
    if (rc == CS_OK && crop && (!json_is_integer(crop) || json_integer_value(crop) != m->crop))
        rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: crop_size must equal the model's image_size "
                          "(%d)", path, m->crop);
    if (rc == CS_OK && m->resize_to != m->crop)
        rc = cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: resizing to %d and cropping to %d is "
                          "not supported (CLIP models resize to their crop size)", path,
                          m->resize_to, m->crop);
    json_decref(root);
    return rc;
}

cs_status cs_clip_open(const char *dir, cs_clip_model **out, cs_error *err)
{
    *out = NULL;
    cs_clip_model *m = calloc(1, sizeof *m);
    if (!m)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = clip_weights_load(dir, &m->weights, err);
    if (rc == CS_OK)
        rc = clip_tokenizer_load(dir, &m->tokenizer, err);
    if (rc == CS_OK)
        rc = load_preprocessor(dir, m, err);
    if (rc == CS_OK && (int)clip_tokenizer_vocab_size(m->tokenizer) > m->weights->config.text.vocab_size)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: the tokenizer has %zu tokens but the text "
                          "model only %d", dir, clip_tokenizer_vocab_size(m->tokenizer),
                          m->weights->config.text.vocab_size);
    if (rc != CS_OK) {
        cs_clip_close(m);
        return rc;
    }
    *out = m;
    return CS_OK;
}

void cs_clip_close(cs_clip_model *m)
{
    if (!m)
        return;
    clip_weights_free(m->weights);
    clip_tokenizer_free(m->tokenizer);
    free(m);
}

int cs_clip_dim(const cs_clip_model *m) { return m->weights->config.projection_dim; }
int cs_clip_image_size(const cs_clip_model *m) { return m->crop; }

cs_status cs_clip_embed_text(cs_clip_model *m, const char *text, float *out, cs_error *err)
{
    size_t context = (size_t)m->weights->config.text.max_positions, n = 0;
    int32_t *ids = malloc(context * sizeof *ids);
    if (!ids)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = clip_tokenizer_encode(m->tokenizer, text, strlen(text), ids, context, &n,
                                         NULL, err);
    if (rc == CS_OK)
        rc = clip_encode_text(m->weights, ids, n, clip_tokenizer_end_id(m->tokenizer), out, err);
    free(ids);
    return rc;
}

cs_status cs_clip_embed_image_file(cs_clip_model *m, const char *path, float *out, float *input,
                                   cs_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    cs_status rc = fs_read_file(path, 256u << 20, &data, &len, err);
    if (rc != CS_OK)
        return rc;
    cs_decode_options options = {.target_min_side = 0};
    cs_decoded decoded;
    rc = image_decode(data, len, path, &options, &decoded, err);
    free(data);
    if (rc != CS_OK)
        return cs_error_prefix(err, "%s: ", path);
    size_t floats = 3 * (size_t)m->crop * (size_t)m->crop;
    float *pixels = malloc(floats * sizeof *pixels);
    if (!pixels)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = clip_preprocess(&decoded.image, m->crop, m->mean, m->std, pixels, err);
    image_decoded_free(&decoded);
    if (rc == CS_OK)
        rc = clip_encode_image(m->weights, pixels, out, err);
    if (rc == CS_OK && input)
        memcpy(input, pixels, floats * sizeof *pixels);
    free(pixels);
    return rc;
}
