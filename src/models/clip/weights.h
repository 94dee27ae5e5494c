/* A CLIP model's weights from model.safetensors, checked against its
 * config (every tensor present, floating point, with the shape the config
 * implies) and converted to float32 for the towers. Names follow Hugging
 * Face's CLIPModel; position_ids and other extra tensors are ignored. */
#ifndef CS_MODELS_CLIP_WEIGHTS_H
#define CS_MODELS_CLIP_WEIGHTS_H

#include <stdbool.h>

#include "models/clip/config.h"

typedef struct clip_layer_weights {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    float *qkv_w;            /* [3D, D]: q, k and v stacked for one GEMM */
    float *qkv_b;            /* [3D] */
    float *out_w, *out_b;    /* [D, D], [D] */
    float *fc1_w, *fc1_b;    /* [F, D], [F] */
    float *fc2_w, *fc2_b;    /* [D, F], [D] */
} clip_layer_weights;

typedef struct clip_weights {
    clip_config config;
    /* vision */
    float *class_embedding;       /* [D] */
    float *patch_w;               /* [D, 3*P*P] (the conv weight, flattened) */
    float *vision_positions;      /* [G*G+1, D] */
    float *pre_ln_w, *pre_ln_b, *post_ln_w, *post_ln_b;
    clip_layer_weights *vision_layers;
    float *visual_projection;     /* [E, D] */
    /* text */
    float *token_embedding;       /* [V, T] */
    float *text_positions;        /* [L, T] */
    float *final_ln_w, *final_ln_b;
    clip_layer_weights *text_layers;
    float *text_projection;       /* [E, T] */
    float logit_scale;
    bool text_only;               /* the vision tower's weights were not read */
    float **arrays;               /* every array above, for clip_weights_free */
    size_t narrays;
} clip_weights;

/* Weight files of other formats that a model folder or repository may
 * hold instead of model.safetensors, named in errors; NULL-terminated. */
extern const char *const clip_other_weight_files[];

/* Loads dir/config.json and dir/model.safetensors (`text_only`: not the
 * vision tower's tensors, which stay NULL). Errors name the file and the
 * tensor (missing, wrong shape, not floating point). */
cs_status clip_weights_load(const char *dir, bool text_only, clip_weights **out, cs_error *err);
void clip_weights_free(clip_weights *w);
/* Frees one of w's arrays early (the int8 path replaces the float32
 * matrices it quantised). */
void clip_weights_drop(clip_weights *w, float *array);

#endif
