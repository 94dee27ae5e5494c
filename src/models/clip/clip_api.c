/* The public entry points of the CLIP code (capsearch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <jansson.h>
#include <sys/stat.h>

#include "capsearch/capsearch.h"
#include "models/clip/tokenizer.h"

/* text_config.max_position_embeddings of config.json (an absent file or key
 * means Hugging Face's default, 77). Old configs keep it in
 * text_config_dict, which Hugging Face overlays. */
static cs_status context_length(const char *dir, size_t *out, cs_error *err)
{
    *out = CLIP_CONTEXT_LENGTH;
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return cs_error_set(err, CS_ERR_INVALID, "model folder name is too long");
    struct stat st;
    if (stat(path, &st) != 0)
        return CS_OK;
    json_error_t jerr;
    json_t *config = json_load_file(path, 0, &jerr);
    if (!config)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: line %d: %s", path, jerr.line, jerr.text);
    cs_status rc = CS_OK;
    const char *sections[] = {"text_config", "text_config_dict"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(json_object_get(config, sections[i]),
                                    "max_position_embeddings");
        if (!v)
            continue;
        if (!json_is_integer(v) || json_integer_value(v) < 2 || json_integer_value(v) > 4096) {
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: %s.max_position_embeddings must be a "
                              "whole number from 2 to 4096", path, sections[i]);
            break;
        }
        *out = (size_t)json_integer_value(v);
    }
    json_decref(config);
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
