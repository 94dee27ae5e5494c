/* The repository's file list from the Hub's tree API, and which of its files
 * a model folder needs. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip/weights.h"
#include "models/hub/hub.h"

const hub_known_file hub_known_files[] = {
    {"config.json", true},
    {"preprocessor_config.json", false},
    {"tokenizer_config.json", false},
    {"special_tokens_map.json", false},
    {"vocab.json", true},
    {"merges.txt", true},
    {"model.safetensors", true},
};
const size_t hub_known_count = sizeof hub_known_files / sizeof *hub_known_files;

/* Larger listings or files are not a CLIP model. */
#define TREE_MAX_BYTES (16u << 20)
#define FILE_MAX_BYTES (1ull << 40)

bool hub_is_known_file(const char *path)
{
    for (size_t i = 0; i < hub_known_count; i++)
        if (strcmp(path, hub_known_files[i].path) == 0)
            return true;
    return false;
}

static bool is_hex(const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
              (s[i] >= 'A' && s[i] <= 'F')))
            return false;
    return true;
}

/* Fills one plan entry from a tree entry. */
static cs_status read_entry(json_t *entry, const char *path, const char *name, hub_file *file,
                            cs_error *err)
{
    json_t *lfs = json_object_get(entry, "lfs");
    json_t *source = json_is_object(lfs) ? lfs : entry;
    json_t *size = json_object_get(source, "size");
    const char *oid = json_string_value(json_object_get(source, "oid"));
    file->lfs = source == lfs;
    size_t hex_len = file->lfs ? 64 : 40;
    if (!json_is_integer(size) || json_integer_value(size) < 0 ||
        (uint64_t)json_integer_value(size) > FILE_MAX_BYTES || !oid || !is_hex(oid, hex_len))
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "the Hub's file list for %s has no valid size or %s for %s", name,
                            file->lfs ? "lfs.oid (SHA-256)" : "oid (SHA-1)", path);
    file->size = (uint64_t)json_integer_value(size);
    for (size_t i = 0; i <= hex_len; i++)
        file->oid[i] = (char)(oid[i] >= 'A' && oid[i] <= 'F' ? oid[i] - 'A' + 'a' : oid[i]);
    return CS_OK;
}

/* Whether the listing has a file of this name. */
static bool listed(json_t *root, const char *path)
{
    size_t i;
    json_t *entry;
    json_array_foreach(root, i, entry) {
        const char *p = json_string_value(json_object_get(entry, "path"));
        if (p && strcmp(p, path) == 0)
            return true;
    }
    return false;
}

static cs_status missing_file(json_t *root, const char *path, const char *name,
                              const char *revision, cs_error *err)
{
    if (strcmp(path, "model.safetensors") != 0)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "%s (revision %s) has no %s: not a CLIP model in Hugging Face layout",
                            name, revision, path);
    if (listed(root, "model.safetensors.index.json"))
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "%s (revision %s) splits its weights over several safetensors files; "
                            "capsearch reads a single model.safetensors", name, revision);
    for (const char *const *other = clip_other_weight_files; *other; other++)
        if (listed(root, *other))
            return cs_error_set(err, CS_ERR_UNSUPPORTED,
                                "%s (revision %s) has no model.safetensors, only %s: capsearch "
                                "reads safetensors weights only", name, revision, *other);
    return cs_error_set(err, CS_ERR_UNSUPPORTED,
                        "%s (revision %s) has no model.safetensors: capsearch reads safetensors "
                        "weights only", name, revision);
}

cs_status hub_tree_parse(const char *json, size_t len, const char *name, const char *revision,
                         hub_plan *plan, cs_error *err)
{
    memset(plan, 0, sizeof *plan);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (!json_is_array(root)) {
        json_decref(root);
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "the Hub's file list for %s is not a JSON array (%s)", name,
                            jerr.text[0] ? jerr.text : "another JSON value");
    }
    cs_status rc = CS_OK;
    for (size_t k = 0; rc == CS_OK && k < hub_known_count; k++) {
        const char *path = hub_known_files[k].path;
        json_t *found = NULL, *entry;
        size_t i;
        json_array_foreach(root, i, entry) {
            const char *type = json_string_value(json_object_get(entry, "type"));
            const char *p = json_string_value(json_object_get(entry, "path"));
            if (type && p && strcmp(type, "file") == 0 && strcmp(p, path) == 0)
                found = entry;
        }
        if (!found) {
            if (hub_known_files[k].required)
                rc = missing_file(root, path, name, revision, err);
            continue;
        }
        hub_file *file = &plan->files[plan->count];
        file->path = path;
        rc = read_entry(found, path, name, file, err);
        if (rc == CS_OK) {
            plan->total += file->size;
            plan->count++;
        }
    }
    json_decref(root);
    return rc;
}

cs_status hub_tree_fetch(hub_http *http, const char *endpoint, const char *name,
                         const char *revision, hub_plan *plan, cs_error *err)
{
    char url[8192];
    int n = snprintf(url, sizeof url, "%s/api/models/%s/tree/%s", endpoint, name, revision);
    if (n < 0 || (size_t)n >= sizeof url)
        return cs_error_set(err, CS_ERR_INVALID, "endpoint URL too long: %s", endpoint);
    hub_get get = {.url = url, .fd = -1, .limit = TREE_MAX_BYTES};
    strbuf_init(&get.body);
    cs_status rc = hub_http_get(http, &get, err);
    if (rc == CS_OK && get.status != 200)
        rc = hub_status_error(&get, hub_http_has_token(http), name, revision, NULL, err);
    if (rc == CS_OK)
        rc = hub_tree_parse(strbuf_str(&get.body), get.body.len, name, revision, plan, err);
    strbuf_free(&get.body);
    return rc;
}
