/* float16 weight matrices (half.h). */
#include "models/clip/half.h"

#include <stdlib.h>

#include "models/clip/narrow_gemm.h"

static cs_status halve(clip_weights *w, float **matrix, size_t n, uint16_t **out, cs_error *err)
{
    uint16_t *h = malloc(n * sizeof *h);
    if (!h)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory converting the model to float16");
    const float *m = *matrix;
    for (size_t i = 0; i < n; i++)
        h[i] = clip_float_to_half(m[i]);
    clip_weights_drop(w, *matrix);
    *matrix = NULL;
    *out = h;
    return CS_OK;
}

static cs_status halve_tower(clip_weights *w, clip_layer_weights *layers,
                             const clip_tower_config *c, clip_hlayer **out, cs_error *err)
{
    *out = calloc((size_t)c->layers, sizeof **out);
    if (!*out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory converting the model to float16");
    size_t d = (size_t)c->hidden, f = (size_t)c->intermediate;
    cs_status rc = CS_OK;
    for (int l = 0; l < c->layers && rc == CS_OK; l++) {
        clip_layer_weights *L = &layers[l];
        clip_hlayer *H = &(*out)[l];
        rc = halve(w, &L->qkv_w, 3 * d * d, &H->qkv, err);
        if (rc == CS_OK)
            rc = halve(w, &L->out_w, d * d, &H->out, err);
        if (rc == CS_OK)
            rc = halve(w, &L->fc1_w, f * d, &H->fc1, err);
        if (rc == CS_OK)
            rc = halve(w, &L->fc2_w, d * f, &H->fc2, err);
    }
    return rc;
}

static void free_tower(clip_hlayer *layers, int n)
{
    for (int l = 0; layers && l < n; l++) {
        free(layers[l].qkv);
        free(layers[l].out);
        free(layers[l].fc1);
        free(layers[l].fc2);
    }
    free(layers);
}

cs_status clip_halve_weights(clip_weights *w, clip_hweights **out, cs_error *err)
{
    *out = NULL;
    clip_hweights *h = calloc(1, sizeof *h);
    if (!h)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory converting the model to float16");
    h->vision_layers = w->text_only ? 0 : w->config.vision.layers;
    h->text_layers = w->config.text.layers;
    cs_status rc = w->text_only ? CS_OK
                                : halve_tower(w, w->vision_layers, &w->config.vision, &h->vision,
                                              err);
    if (rc == CS_OK)
        rc = halve_tower(w, w->text_layers, &w->config.text, &h->text, err);
    if (rc != CS_OK) {
        clip_hweights_free(h);
        return rc;
    }
    *out = h;
    return CS_OK;
}

void clip_hweights_free(clip_hweights *h)
{
    if (!h)
        return;
    free_tower(h->vision, h->vision_layers);
    free_tower(h->text, h->text_layers);
    free(h);
}
