/* config.json: Hugging Face's CLIPConfig defaults, overlays and checks. */
#include "models/clip/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static void defaults(clip_config *c)
{
    c->text = (clip_tower_config){
        .hidden = 512, .intermediate = 2048, .heads = 8, .layers = 12,
        .activation = CLIP_QUICK_GELU, .layer_norm_eps = 1e-5f,
        .vocab_size = 49408, .max_positions = 77,
    };
    c->vision = (clip_tower_config){
        .hidden = 768, .intermediate = 3072, .heads = 12, .layers = 12,
        .activation = CLIP_QUICK_GELU, .layer_norm_eps = 1e-5f,
        .image_size = 224, .patch_size = 32,
    };
    c->projection_dim = 512;
}

static cs_status get_int(const char *file, const char *section, const json_t *obj,
                         const char *key, int min, int max, int *out, cs_error *err)
{
    const json_t *v = json_object_get(obj, key);
    if (!v)
        return CS_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: %s%s%s must be a whole number from %d to %d",
                            file, section, *section ? "." : "", key, min, max);
    *out = (int)json_integer_value(v);
    return CS_OK;
}

static cs_status read_tower(const char *file, const char *section, const json_t *obj,
                            clip_tower_config *t, cs_error *err)
{
    if (!obj)
        return CS_OK;
    if (!json_is_object(obj))
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: %s is not an object", file, section);
    cs_status rc = get_int(file, section, obj, "hidden_size", 1, 16384, &t->hidden, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "intermediate_size", 1, 65536, &t->intermediate, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "num_attention_heads", 1, 1024, &t->heads, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "num_hidden_layers", 0, 1024, &t->layers, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "vocab_size", 2, 1 << 24, &t->vocab_size, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "max_position_embeddings", 2, 4096, &t->max_positions,
                     err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "image_size", 1, 8192, &t->image_size, err);
    if (rc == CS_OK)
        rc = get_int(file, section, obj, "patch_size", 1, 8192, &t->patch_size, err);
    if (rc != CS_OK)
        return rc;
    const json_t *act = json_object_get(obj, "hidden_act");
    if (act) {
        const char *name = json_is_string(act) ? json_string_value(act) : "";
        if (strcmp(name, "quick_gelu") == 0)
            t->activation = CLIP_QUICK_GELU;
        else if (strcmp(name, "gelu") == 0)
            t->activation = CLIP_GELU;
        else
            return cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: %s.hidden_act '%s' is not "
                                "supported (quick_gelu or gelu)", file, section, name);
    }
    const json_t *eps = json_object_get(obj, "layer_norm_eps");
    if (eps) {
        if (!json_is_number(eps) || json_number_value(eps) <= 0 || json_number_value(eps) > 1)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: %s.layer_norm_eps must be a small "
                                "positive number", file, section);
        t->layer_norm_eps = (float)json_number_value(eps);
    }
    return CS_OK;
}

static cs_status check(const char *file, const clip_config *c, cs_error *err)
{
    const clip_tower_config *towers[2] = {&c->text, &c->vision};
    const char *names[2] = {"text_config", "vision_config"};
    for (int i = 0; i < 2; i++)
        if (towers[i]->hidden % towers[i]->heads != 0)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: %s.hidden_size %d is not a multiple "
                                "of num_attention_heads %d", file, names[i], towers[i]->hidden,
                                towers[i]->heads);
    if (c->vision.image_size % c->vision.patch_size != 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: vision_config.image_size %d is not a "
                            "multiple of patch_size %d", file, c->vision.image_size,
                            c->vision.patch_size);
    return CS_OK;
}

cs_status clip_config_parse(const char *name, const char *text, size_t len, clip_config *out,
                            cs_error *err)
{
    defaults(out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: line %d: %s", name, jerr.line, jerr.text);
    cs_status rc = json_is_object(root)
                       ? CS_OK
                       : cs_error_set(err, CS_ERR_CORRUPT, "%s: not a JSON object", name);
    if (rc == CS_OK)
        rc = get_int(name, "", root, "projection_dim", 1, 16384, &out->projection_dim, err);
    /* the *_dict overlays come after the sections they overlay */
    if (rc == CS_OK)
        rc = read_tower(name, "text_config", json_object_get(root, "text_config"), &out->text, err);
    if (rc == CS_OK)
        rc = read_tower(name, "text_config_dict", json_object_get(root, "text_config_dict"),
                        &out->text, err);
    if (rc == CS_OK)
        rc = read_tower(name, "vision_config", json_object_get(root, "vision_config"),
                        &out->vision, err);
    if (rc == CS_OK)
        rc = read_tower(name, "vision_config_dict", json_object_get(root, "vision_config_dict"),
                        &out->vision, err);
    if (rc == CS_OK)
        rc = check(name, out, err);
    json_decref(root);
    return rc;
}

cs_status clip_config_load(const char *dir, clip_config *out, cs_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return cs_error_set(err, CS_ERR_INVALID, "model folder name is too long");
    FILE *f = fopen(path, "rb");
    if (!f)
        return cs_error_set(err, CS_ERR_NOT_FOUND, "%s: cannot read it: is %s a CLIP model "
                            "folder in Hugging Face layout?", path, dir);
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    bool too_big = n == sizeof buf && fgetc(f) != EOF;
    fclose(f);
    if (too_big)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: larger than 64 KiB, not a config", path);
    return clip_config_parse(path, buf, n, out, err);
}
