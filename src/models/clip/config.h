/* A CLIP model's config.json (Hugging Face layout), with Hugging Face's
 * defaults for missing keys (recent configs are sparse) and the old
 * text_config_dict / vision_config_dict overlays. Dimensions are checked
 * against each other here and against the weights when they load. */
#ifndef CS_MODELS_CLIP_CONFIG_H
#define CS_MODELS_CLIP_CONFIG_H

#include "common/error.h"

typedef enum clip_activation { CLIP_QUICK_GELU, CLIP_GELU } clip_activation;

typedef struct clip_tower_config {
    int hidden;              /* width D or T */
    int intermediate;        /* MLP width F */
    int heads;
    int layers;
    clip_activation activation;
    float layer_norm_eps;
    /* text */
    int vocab_size;
    int max_positions;       /* context length L */
    /* vision */
    int image_size;
    int patch_size;
} clip_tower_config;

typedef struct clip_config {
    clip_tower_config text, vision;
    int projection_dim;
} clip_config;

/* Reads dir/config.json. Errors name the file and the key. */
cs_status clip_config_load(const char *dir, clip_config *out, cs_error *err);
/* The same from JSON text (`name` stands for the file in messages). */
cs_status clip_config_parse(const char *name, const char *json, size_t len, clip_config *out,
                            cs_error *err);

#endif
