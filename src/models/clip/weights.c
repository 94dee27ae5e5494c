/* Loading and checking CLIP weights (weights.h). */
#include "models/clip/weights.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/clip/safetensors.h"

typedef struct loader {
    st_file *file;
    clip_weights *w;
    size_t cap;               /* of w->arrays */
} loader;

/* Records an array the weights own; frees it when there is no room. */
static cs_status keep(loader *l, float *data, cs_error *err)
{
    clip_weights *w = l->w;
    if (w->narrays == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        float **grown = realloc(w->arrays, cap * sizeof *grown);
        if (!grown) {
            free(data);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        }
        w->arrays = grown;
        l->cap = cap;
    }
    w->arrays[w->narrays++] = data;
    return CS_OK;
}

void clip_weights_drop(clip_weights *w, float *data)
{
    for (size_t i = w->narrays; i-- > 0;)
        if (w->arrays[i] == data) {
            w->arrays[i] = w->arrays[--w->narrays];
            free(data);
            return;
        }
}

/* Frees an array kept earlier (q, k and v once stacked). */
static void drop(loader *l, float *data)
{
    clip_weights_drop(l->w, data);
}

/* Reads tensor `name` of exactly `ndim` dims `shape` as float32. */
static cs_status take(loader *l, float **out, cs_error *err, int ndim, const int64_t *shape,
                      const char *fmt, ...) CS_PRINTF(6, 7);

static cs_status take(loader *l, float **out, cs_error *err, int ndim, const int64_t *shape,
                      const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    const st_tensor *t = st_find(l->file, name);
    if (!t)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: tensor '%s' is missing", st_path(l->file),
                            name);
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char want[128] = "", have[128] = "";
        for (int i = 0; i < ndim; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                     (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%lld", i ? "," : "",
                     (long long)t->shape[i]);
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: tensor '%s' has shape [%s] but the "
                            "config implies [%s]", st_path(l->file), name, have, want);
    }
    float *data = malloc(((size_t)t->count ? (size_t)t->count : 1) * sizeof *data);
    if (!data)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory loading '%s'", name);
    cs_status rc = st_to_f32(l->file, t, data, err);
    st_release(l->file, t);
    if (rc != CS_OK) {
        free(data);
        return rc;
    }
    rc = keep(l, data, err);
    if (rc != CS_OK)
        return rc;
    *out = data;
    return CS_OK;
}

#define SHAPE(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}

static cs_status load_layers(loader *l, const char *tower, const clip_tower_config *c,
                             clip_layer_weights **out, cs_error *err)
{
    clip_layer_weights *layers = calloc((size_t)c->layers + 1, sizeof *layers);
    if (!layers)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    *out = layers;
    int64_t d = c->hidden, f = c->intermediate;
    cs_status rc = CS_OK;
    for (int i = 0; i < c->layers && rc == CS_OK; i++) {
        clip_layer_weights *L = &layers[i];
        const char *p = tower;
        float *q_w = NULL, *k_w = NULL, *v_w = NULL, *q_b = NULL, *k_b = NULL, *v_b = NULL;
        rc = take(l, &L->ln1_w, err, SHAPE(d), "%s.encoder.layers.%d.layer_norm1.weight", p, i);
        if (rc == CS_OK) rc = take(l, &L->ln1_b, err, SHAPE(d), "%s.encoder.layers.%d.layer_norm1.bias", p, i);
        if (rc == CS_OK) rc = take(l, &L->ln2_w, err, SHAPE(d), "%s.encoder.layers.%d.layer_norm2.weight", p, i);
        if (rc == CS_OK) rc = take(l, &L->ln2_b, err, SHAPE(d), "%s.encoder.layers.%d.layer_norm2.bias", p, i);
        if (rc == CS_OK) rc = take(l, &q_w, err, SHAPE(d, d), "%s.encoder.layers.%d.self_attn.q_proj.weight", p, i);
        if (rc == CS_OK) rc = take(l, &k_w, err, SHAPE(d, d), "%s.encoder.layers.%d.self_attn.k_proj.weight", p, i);
        if (rc == CS_OK) rc = take(l, &v_w, err, SHAPE(d, d), "%s.encoder.layers.%d.self_attn.v_proj.weight", p, i);
        if (rc == CS_OK) rc = take(l, &q_b, err, SHAPE(d), "%s.encoder.layers.%d.self_attn.q_proj.bias", p, i);
        if (rc == CS_OK) rc = take(l, &k_b, err, SHAPE(d), "%s.encoder.layers.%d.self_attn.k_proj.bias", p, i);
        if (rc == CS_OK) rc = take(l, &v_b, err, SHAPE(d), "%s.encoder.layers.%d.self_attn.v_proj.bias", p, i);
        if (rc == CS_OK) rc = take(l, &L->out_w, err, SHAPE(d, d), "%s.encoder.layers.%d.self_attn.out_proj.weight", p, i);
        if (rc == CS_OK) rc = take(l, &L->out_b, err, SHAPE(d), "%s.encoder.layers.%d.self_attn.out_proj.bias", p, i);
        if (rc == CS_OK) rc = take(l, &L->fc1_w, err, SHAPE(f, d), "%s.encoder.layers.%d.mlp.fc1.weight", p, i);
        if (rc == CS_OK) rc = take(l, &L->fc1_b, err, SHAPE(f), "%s.encoder.layers.%d.mlp.fc1.bias", p, i);
        if (rc == CS_OK) rc = take(l, &L->fc2_w, err, SHAPE(d, f), "%s.encoder.layers.%d.mlp.fc2.weight", p, i);
        if (rc == CS_OK) rc = take(l, &L->fc2_b, err, SHAPE(d), "%s.encoder.layers.%d.mlp.fc2.bias", p, i);
        if (rc != CS_OK)
            break;
        /* q, k, v stacked: one [3D, D] GEMM per block */
        size_t dd = (size_t)(d * d);
        float *qkv_w = malloc(3 * dd * sizeof *qkv_w), *qkv_b = malloc(3 * (size_t)d * sizeof *qkv_b);
        if (!qkv_w || !qkv_b) {
            free(qkv_w);
            free(qkv_b);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        }
        memcpy(qkv_w, q_w, dd * sizeof *qkv_w);
        memcpy(qkv_w + dd, k_w, dd * sizeof *qkv_w);
        memcpy(qkv_w + 2 * dd, v_w, dd * sizeof *qkv_w);
        memcpy(qkv_b, q_b, (size_t)d * sizeof *qkv_b);
        memcpy(qkv_b + d, k_b, (size_t)d * sizeof *qkv_b);
        memcpy(qkv_b + 2 * d, v_b, (size_t)d * sizeof *qkv_b);
        float *parts[] = {q_w, k_w, v_w, q_b, k_b, v_b};
        for (size_t k = 0; k < 6; k++)
            drop(l, parts[k]);
        L->qkv_w = qkv_w;
        L->qkv_b = qkv_b;
        rc = keep(l, qkv_w, err);   /* on failure keep() has freed it */
        if (rc == CS_OK)
            rc = keep(l, qkv_b, err);
        else
            free(qkv_b);
    }
    return rc;
}

static cs_status load_vision(loader *l, cs_error *err)
{
    clip_weights *w = l->w;
    const clip_tower_config *v = &w->config.vision;
    int64_t D = v->hidden, E = w->config.projection_dim, P = v->patch_size;
    int64_t G = v->image_size / v->patch_size;
    float *patch4 = NULL;
    cs_status rc = take(l, &w->class_embedding, err, SHAPE(D), "vision_model.embeddings.class_embedding");
    if (rc == CS_OK) rc = take(l, &patch4, err, SHAPE(D, 3, P, P), "vision_model.embeddings.patch_embedding.weight");
    w->patch_w = patch4;   /* [D,3,P,P] row-major is already [D, 3*P*P] */
    if (rc == CS_OK) rc = take(l, &w->vision_positions, err, SHAPE(G * G + 1, D), "vision_model.embeddings.position_embedding.weight");
    if (rc == CS_OK) rc = take(l, &w->pre_ln_w, err, SHAPE(D), "vision_model.pre_layrnorm.weight");
    if (rc == CS_OK) rc = take(l, &w->pre_ln_b, err, SHAPE(D), "vision_model.pre_layrnorm.bias");
    if (rc == CS_OK) rc = take(l, &w->post_ln_w, err, SHAPE(D), "vision_model.post_layernorm.weight");
    if (rc == CS_OK) rc = take(l, &w->post_ln_b, err, SHAPE(D), "vision_model.post_layernorm.bias");
    if (rc == CS_OK) rc = load_layers(l, "vision_model", v, &w->vision_layers, err);
    if (rc == CS_OK) rc = take(l, &w->visual_projection, err, SHAPE(E, D), "visual_projection.weight");
    return rc;
}

static cs_status load_text(loader *l, cs_error *err)
{
    clip_weights *w = l->w;
    const clip_tower_config *t = &w->config.text;
    int64_t T = t->hidden, E = w->config.projection_dim;
    float *scale = NULL;
    cs_status rc = take(l, &w->token_embedding, err, SHAPE(t->vocab_size, T), "text_model.embeddings.token_embedding.weight");
    if (rc == CS_OK) rc = take(l, &w->text_positions, err, SHAPE(t->max_positions, T), "text_model.embeddings.position_embedding.weight");
    if (rc == CS_OK) rc = take(l, &w->final_ln_w, err, SHAPE(T), "text_model.final_layer_norm.weight");
    if (rc == CS_OK) rc = take(l, &w->final_ln_b, err, SHAPE(T), "text_model.final_layer_norm.bias");
    if (rc == CS_OK) rc = load_layers(l, "text_model", t, &w->text_layers, err);
    if (rc == CS_OK) rc = take(l, &w->text_projection, err, SHAPE(E, T), "text_projection.weight");
    if (rc == CS_OK) rc = take(l, &scale, err, 0, NULL, "logit_scale");
    if (rc == CS_OK)
        w->logit_scale = scale[0];
    return rc;
}

/* Both towers, or the text tower alone (text_only). */
static cs_status load_all(loader *l, cs_error *err)
{
    cs_status rc = l->w->text_only ? CS_OK : load_vision(l, err);
    return rc == CS_OK ? load_text(l, err) : rc;
}

/* When dir has no model.safetensors: the error names the weights it has
 * instead, if any, since a model folder from elsewhere often holds those. */
const char *const clip_other_weight_files[] = {
    "pytorch_model.bin", "open_clip_pytorch_model.bin", "open_clip_model.safetensors",
    "tf_model.h5", "flax_model.msgpack", "model.onnx", "model.safetensors.index.json", NULL};

static cs_status no_safetensors(const char *dir, const char *path, cs_error *err)
{
    char other[4096];
    for (const char *const *name = clip_other_weight_files; *name; name++) {
        struct stat st;
        if (snprintf(other, sizeof other, "%s/%s", dir, *name) < (int)sizeof other &&
            stat(other, &st) == 0)
            return cs_error_set(err, CS_ERR_UNSUPPORTED, "'%s' has %s but no model.safetensors: "
                                "capsearch reads a Hugging Face CLIPModel's weights from one "
                                "model.safetensors file (the model's page usually offers it)",
                                dir, *name);
    }
    return cs_error_set(err, CS_ERR_NOT_FOUND, "cannot read '%s': no such file (a model folder "
                        "holds config.json, model.safetensors, vocab.json and merges.txt)", path);
}

cs_status clip_weights_load(const char *dir, bool text_only, clip_weights **out, cs_error *err)
{
    *out = NULL;
    clip_weights *w = calloc(1, sizeof *w);
    if (!w)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    w->text_only = text_only;
    loader l = {.w = w};
    cs_status rc = clip_config_load(dir, &w->config, err);
    char path[4096];
    if (rc == CS_OK && snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path)
        rc = cs_error_set(err, CS_ERR_INVALID, "model folder name is too long");
    struct stat st;
    if (rc == CS_OK && stat(path, &st) != 0 && errno == ENOENT)
        rc = no_safetensors(dir, path, err);
    if (rc == CS_OK)
        rc = st_open(path, &l.file, err);
    if (rc == CS_OK)
        rc = load_all(&l, err);
    st_close(l.file);
    if (rc != CS_OK) {
        clip_weights_free(w);
        return rc;
    }
    *out = w;
    return CS_OK;
}

void clip_weights_free(clip_weights *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->narrays; i++)
        free(w->arrays[i]);
    free(w->arrays);
    free(w->vision_layers);
    free(w->text_layers);
    free(w);
}
