/* Loads a CLIP model folder and prints its config and, per weight array,
 * the sum and sum of squares (in double) as JSON, or the error and exit 1:
 * the test compares them with numpy's reading of the same file. */
#include <stdio.h>

#include "models/clip/weights.h"

static void stats(const char *name, const float *a, size_t n, int *first)
{
    double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) {
        s += a[i];
        q += (double)a[i] * a[i];
    }
    printf("%s\"%s\": [%.17g, %.17g, %.9g]", *first ? "" : ", ", name, s, q, (double)a[0]);
    *first = 0;
}

static void tower(const char *prefix, const clip_tower_config *c, const clip_layer_weights *L,
                  int *first)
{
    size_t d = (size_t)c->hidden, f = (size_t)c->intermediate;
    char name[128];
    for (int i = 0; i < c->layers; i++) {
#define S(field, n) snprintf(name, sizeof name, "%s.%d." #field, prefix, i), stats(name, L[i].field, n, first)
        S(ln1_w, d); S(ln1_b, d); S(ln2_w, d); S(ln2_b, d);
        S(qkv_w, 3 * d * d); S(qkv_b, 3 * d); S(out_w, d * d); S(out_b, d);
        S(fc1_w, f * d); S(fc1_b, f); S(fc2_w, d * f); S(fc2_b, d);
#undef S
        /* the first element of k and v inside the stacked matrix */
        printf(", \"%s.%d.k00\": %.9g, \"%s.%d.v00\": %.9g", prefix, i,
               (double)L[i].qkv_w[d * d], prefix, i, (double)L[i].qkv_w[2 * d * d]);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    cs_error err;
    clip_weights *w = NULL;
    if (clip_weights_load(argv[1], false, &w, &err) != CS_OK) {
        printf("error: %s\n", err.message);
        return 1;
    }
    const clip_config *c = &w->config;
    size_t D = (size_t)c->vision.hidden, T = (size_t)c->text.hidden, E = (size_t)c->projection_dim;
    size_t P = (size_t)c->vision.patch_size, G = (size_t)(c->vision.image_size / c->vision.patch_size);
    printf("{\"config\": {\"vision\": [%d, %d, %d, %d, %d, %d, %d], \"text\": [%d, %d, %d, %d, "
           "%d, %d], \"projection_dim\": %d, \"eps\": [%g, %g]}, \"logit_scale\": %.9g, "
           "\"arrays\": {",
           c->vision.hidden, c->vision.intermediate, c->vision.heads, c->vision.layers,
           c->vision.image_size, c->vision.patch_size, (int)c->vision.activation, c->text.hidden,
           c->text.intermediate, c->text.heads, c->text.layers, c->text.vocab_size,
           (int)c->text.activation, c->projection_dim, (double)c->vision.layer_norm_eps,
           (double)c->text.layer_norm_eps, (double)w->logit_scale);
    int first = 1;
    stats("class_embedding", w->class_embedding, D, &first);
    stats("patch_w", w->patch_w, D * 3 * P * P, &first);
    stats("vision_positions", w->vision_positions, (G * G + 1) * D, &first);
    stats("pre_ln_w", w->pre_ln_w, D, &first);
    stats("post_ln_b", w->post_ln_b, D, &first);
    stats("visual_projection", w->visual_projection, E * D, &first);
    stats("token_embedding", w->token_embedding, (size_t)c->text.vocab_size * T, &first);
    stats("text_positions", w->text_positions, (size_t)c->text.max_positions * T, &first);
    stats("final_ln_w", w->final_ln_w, T, &first);
    stats("text_projection", w->text_projection, E * T, &first);
    tower("vision", &c->vision, w->vision_layers, &first);
    tower("text", &c->text, w->text_layers, &first);
    printf("}}\n");
    clip_weights_free(w);
    return 0;
}
