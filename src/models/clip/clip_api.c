/* The public entry points of the CLIP code (capsearch.h). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "capsearch/capsearch.h"
#include "models/clip/config.h"
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
