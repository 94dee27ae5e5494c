/* The public entry points of the CLIP code (capsearch.h). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    clip_qweights *qweights;  /* int8 only */
    clip_hweights *hweights;  /* f16 only */
    clip_session *session;
    clip_tokenizer *tokenizer;
    char *dump_dir;           /* debug mode: dump the next calls' layers */
    int32_t *ids;             /* max_batch x context: tokens of a text batch */
    size_t *lens;
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

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

cs_status cs_clip_open_with(const char *dir, const cs_clip_options *options,
                            cs_clip_model **out, cs_error *err)
{
    *out = NULL;
    cs_clip_options o = options ? *options : (cs_clip_options){0};
    if (o.precision != CS_CLIP_F32 && o.precision != CS_CLIP_INT8 && o.precision != CS_CLIP_F16)
        return cs_error_set(err, CS_ERR_INVALID, "unknown precision %d", (int)o.precision);
    if (o.threads < 0 || o.max_batch < 0 || o.max_batch > 1024)
        return cs_error_set(err, CS_ERR_INVALID, "threads must be 0 or more, the batch 0 to 1024");
    int threads = o.threads ? o.threads : online_cores();
    int batch = o.max_batch ? o.max_batch : 16;
    cs_clip_model *m = calloc(1, sizeof *m);
    if (!m)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = clip_weights_load(dir, o.text_only != 0, &m->weights, err);
    if (rc == CS_OK)
        rc = clip_tokenizer_load(dir, &m->tokenizer, err);
    if (rc == CS_OK)
        rc = load_preprocessor(dir, m, err);
    if (rc == CS_OK && (int)clip_tokenizer_vocab_size(m->tokenizer) > m->weights->config.text.vocab_size)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: the tokenizer has %zu tokens but the text "
                          "model only %d", dir, clip_tokenizer_vocab_size(m->tokenizer),
                          m->weights->config.text.vocab_size);
    if (rc == CS_OK && o.precision == CS_CLIP_INT8)
        rc = clip_quantize_weights(m->weights, &m->qweights, err);
    if (rc == CS_OK && o.precision == CS_CLIP_F16)
        rc = clip_halve_weights(m->weights, &m->hweights, err);
    if (rc == CS_OK)
        rc = clip_session_new(m->weights, m->qweights, m->hweights, batch, threads, &m->session,
                              err);
    size_t context = rc == CS_OK ? (size_t)m->weights->config.text.max_positions : 0;
    if (rc == CS_OK && (!(m->ids = malloc((size_t)batch * context * sizeof *m->ids)) ||
                        !(m->lens = malloc((size_t)batch * sizeof *m->lens))))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc != CS_OK) {
        cs_clip_close(m);
        return rc;
    }
    *out = m;
    return CS_OK;
}

cs_status cs_clip_open(const char *dir, cs_clip_model **out, cs_error *err)
{
    return cs_clip_open_with(dir, NULL, out, err);
}

void cs_clip_close(cs_clip_model *m)
{
    if (!m)
        return;
    clip_session_free(m->session);
    clip_qweights_free(m->qweights);
    clip_hweights_free(m->hweights);
    clip_weights_free(m->weights);
    clip_tokenizer_free(m->tokenizer);
    free(m->dump_dir);
    free(m->ids);
    free(m->lens);
    free(m);
}

const char *cs_clip_precision_name(const cs_clip_model *m)
{
    if (m->hweights)
        return "f16";
    if (!m->qweights)
        return "f32";
    return m->qweights->activation_max == 255
               ? "int8 (VNNI)"
               : "int8 (7-bit activations: this CPU has no VNNI)";
}

cs_status cs_clip_set_dump_dir(cs_clip_model *m, const char *dir, cs_error *err)
{
    char *copy = NULL;
    if (dir && !(copy = strdup(dir)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    free(m->dump_dir);
    m->dump_dir = copy;
    return CS_OK;
}

/* Runs one batch of images or texts, with a layer dump in debug mode. */
static cs_status run_batch(cs_clip_model *m, const float *pixels, size_t n, float *out,
                           cs_error *err)
{
    clip_dump *dump = NULL;
    cs_status rc = m->dump_dir ? clip_dump_open(m->dump_dir, &dump, err) : CS_OK;
    if (rc != CS_OK)
        return rc;
    const int32_t *ids[n ? n : 1];
    size_t context = (size_t)m->weights->config.text.max_positions;
    for (size_t i = 0; !pixels && i < n; i++)
        ids[i] = m->ids + i * context;
    if (pixels)
        rc = clip_session_images(m->session, pixels, (int)n, out, dump, err);
    else
        rc = clip_session_texts(m->session, ids, m->lens, (int)n,
                                clip_tokenizer_end_id(m->tokenizer), out, dump, err);
    cs_error dump_err;
    cs_status dump_rc = clip_dump_close(dump, &dump_err);
    if (rc == CS_OK && dump_rc != CS_OK) {
        *err = dump_err;
        rc = dump_rc;
    }
    return rc;
}

cs_status cs_clip_embed_pixels(cs_clip_model *m, const float *pixels, size_t n, float *out,
                               cs_error *err)
{
    if (m->weights->text_only)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "this CLIP model was opened for texts "
                            "alone: it cannot embed pictures");
    size_t batch = (size_t)clip_session_max_batch(m->session), e = (size_t)cs_clip_dim(m);
    size_t floats = 3 * (size_t)m->crop * (size_t)m->crop;
    for (size_t at = 0; at < n; at += batch) {
        size_t k = n - at < batch ? n - at : batch;
        cs_status rc = run_batch(m, pixels + at * floats, k, out + at * e, err);
        if (rc != CS_OK)
            return rc;
    }
    return CS_OK;
}

cs_status cs_clip_embed_texts(cs_clip_model *m, const char *const *texts, size_t n, float *out,
                              cs_error *err)
{
    size_t batch = (size_t)clip_session_max_batch(m->session), e = (size_t)cs_clip_dim(m);
    size_t context = (size_t)m->weights->config.text.max_positions;
    for (size_t at = 0; at < n; at += batch) {
        size_t k = n - at < batch ? n - at : batch;
        for (size_t i = 0; i < k; i++) {
            cs_status rc = clip_tokenizer_encode(m->tokenizer, texts[at + i],
                                                 strlen(texts[at + i]), m->ids + i * context,
                                                 context, &m->lens[i], NULL, err);
            if (rc != CS_OK)
                return rc;
        }
        cs_status rc = run_batch(m, NULL, k, out + at * e, err);
        if (rc != CS_OK)
            return rc;
    }
    return CS_OK;
}

int cs_clip_dim(const cs_clip_model *m) { return m->weights->config.projection_dim; }
int cs_clip_image_size(const cs_clip_model *m) { return m->crop; }

cs_status cs_clip_embed_text(cs_clip_model *m, const char *text, float *out, cs_error *err)
{
    return cs_clip_embed_texts(m, &text, 1, out, err);
}

/* draft_side > 0: a JPEG decodes at the DCT scale Pillow's Image.draft
 * would pick for that size (cs_decode_options.jpeg_draft). */
static cs_status preprocess_file(const cs_clip_model *m, const char *path, int draft_side,
                                 float *input, cs_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    cs_status rc = fs_read_file(path, 256u << 20, &data, &len, err);
    if (rc != CS_OK)
        return rc;
    cs_decode_options options = {.target_min_side = draft_side, .jpeg_draft = draft_side > 0};
    cs_decoded decoded;
    rc = image_decode(data, len, path, &options, &decoded, err);
    free(data);
    if (rc != CS_OK)
        return cs_error_prefix(err, "%s: ", path);
    rc = clip_preprocess(&decoded.image, m->crop, m->mean, m->std, input, err);
    image_decoded_free(&decoded);
    return rc;
}

cs_status cs_clip_preprocess_image_file(const cs_clip_model *m, const char *path, float *input,
                                        cs_error *err)
{
    return preprocess_file(m, path, 0, input, err);
}

cs_status cs_clip_preprocess_image_draft(const cs_clip_model *m, const char *path, float *input,
                                         cs_error *err)
{
    return preprocess_file(m, path, CS_CLIP_DRAFT_FACTOR * m->crop, input, err);
}

cs_status cs_clip_embed_image_file(cs_clip_model *m, const char *path, float *out, float *input,
                                   cs_error *err)
{
    size_t floats = 3 * (size_t)m->crop * (size_t)m->crop;
    float *pixels = malloc(floats * sizeof *pixels);
    if (!pixels)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = cs_clip_preprocess_image_file(m, path, pixels, err);
    if (rc == CS_OK)
        rc = cs_clip_embed_pixels(m, pixels, 1, out, err);
    if (rc == CS_OK && input)
        memcpy(input, pixels, floats * sizeof *pixels);
    free(pixels);
    return rc;
}
