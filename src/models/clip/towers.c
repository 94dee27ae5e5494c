/* The towers' forward pass (towers.h). Every linear layer is one
 * cblas_sgemm over all tokens; attention runs per head on strided views of
 * the stacked q/k/v matrix. Scratch is allocated once per call. */
#include "models/clip/towers.h"

#include <cblas.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y[n, out] = x[n, in] W[out, in]^T + b */
static void linear(const float *x, int n, int in, const float *W, const float *b, int out,
                   float *y)
{
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, W, in, 1.0f,
                y, out);
}

static void layer_norm(const float *x, int n, int d, const float *g, const float *b, float eps,
                       float *y)
{
    for (int i = 0; i < n; i++) {
        const float *r = x + (size_t)i * d;
        float *o = y + (size_t)i * d;
        double mean = 0, var = 0;
        for (int j = 0; j < d; j++)
            mean += r[j];
        mean /= d;
        for (int j = 0; j < d; j++)
            var += (r[j] - mean) * (r[j] - mean);
        float inv = (float)(1.0 / sqrt(var / d + eps));
        for (int j = 0; j < d; j++)
            o[j] = (float)(r[j] - mean) * inv * g[j] + b[j];
    }
}

static void activate(float *x, size_t n, clip_activation act)
{
    if (act == CLIP_QUICK_GELU)
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
    else
        for (size_t i = 0; i < n; i++)
            x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

typedef struct scratch {
    float *x, *qkv, *scores, *attn, *mlp;
} scratch;

static void scratch_free(scratch *s)
{
    free(s->x);
    free(s->qkv);
    free(s->scores);
    free(s->attn);
    free(s->mlp);
    *s = (scratch){0};
}

static cs_status scratch_new(scratch *s, int n, const clip_tower_config *c, cs_error *err)
{
    size_t d = (size_t)c->hidden, nn = (size_t)n;
    s->x = malloc(nn * d * sizeof *s->x);
    s->qkv = malloc(nn * 3 * d * sizeof *s->qkv);
    s->scores = malloc(nn * nn * sizeof *s->scores);
    s->attn = malloc(nn * d * sizeof *s->attn);
    s->mlp = malloc(nn * (size_t)c->intermediate * sizeof *s->mlp);
    if (!s->x || !s->qkv || !s->scores || !s->attn || !s->mlp) {
        scratch_free(s);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory running the model");
    }
    return CS_OK;
}

/* h[n, D] += attention and MLP of one pre-norm block. */
static void block(const clip_layer_weights *L, const clip_tower_config *c, float *h, int n,
                  bool causal, scratch *s)
{
    int d = c->hidden, heads = c->heads, dh = d / heads, f = c->intermediate;
    float scale = 1.0f / sqrtf((float)dh);
    layer_norm(h, n, d, L->ln1_w, L->ln1_b, c->layer_norm_eps, s->x);
    linear(s->x, n, d, L->qkv_w, L->qkv_b, 3 * d, s->qkv);
    for (int hd = 0; hd < heads; hd++) {
        const float *q = s->qkv + hd * dh, *k = s->qkv + d + hd * dh, *v = s->qkv + 2 * d + hd * dh;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dh, scale, q, 3 * d, k, 3 * d,
                    0.0f, s->scores, n);
        for (int i = 0; i < n; i++) {
            float *row = s->scores + (size_t)i * n;
            int visible = causal ? i + 1 : n;
            float max = row[0];
            for (int j = 1; j < visible; j++)
                max = row[j] > max ? row[j] : max;
            double sum = 0;
            for (int j = 0; j < visible; j++)
                sum += row[j] = expf(row[j] - max);
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < visible; j++)
                row[j] *= inv;
            for (int j = visible; j < n; j++)
                row[j] = 0.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dh, n, 1.0f, s->scores, n, v,
                    3 * d, 0.0f, s->attn + hd * dh, d);
    }
    linear(s->attn, n, d, L->out_w, L->out_b, d, s->x);
    for (size_t i = 0; i < (size_t)n * d; i++)
        h[i] += s->x[i];
    layer_norm(h, n, d, L->ln2_w, L->ln2_b, c->layer_norm_eps, s->x);
    linear(s->x, n, d, L->fc1_w, L->fc1_b, f, s->mlp);
    activate(s->mlp, (size_t)n * f, c->activation);
    linear(s->mlp, n, f, L->fc2_w, L->fc2_b, d, s->x);
    for (size_t i = 0; i < (size_t)n * d; i++)
        h[i] += s->x[i];
}

/* out[E] = normalise(P[E, D] x[D]) */
static void project(const float *P, int e, int d, const float *x, float *out)
{
    cblas_sgemv(CblasRowMajor, CblasNoTrans, e, d, 1.0f, P, d, x, 1, 0.0f, out, 1);
    double sum = 0;
    for (int i = 0; i < e; i++)
        sum += (double)out[i] * out[i];
    float inv = sum > 0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
    for (int i = 0; i < e; i++)
        out[i] *= inv;
}

cs_status clip_encode_image(const clip_weights *w, const float *pixels, float *out,
                            cs_error *err)
{
    const clip_tower_config *c = &w->config.vision;
    int d = c->hidden, p = c->patch_size, size = c->image_size, g = size / p, n = g * g + 1;
    int k = 3 * p * p;
    scratch s = {0};
    cs_status rc = scratch_new(&s, n, c, err);
    float *h = malloc((size_t)n * d * sizeof *h);
    float *patches = malloc((size_t)(n - 1) * k * sizeof *patches);
    if (rc == CS_OK && (!h || !patches))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory running the model");
    if (rc == CS_OK) {
        /* im2row: row = gy*G + gx, column = ch*P*P + ky*P + kx (the conv weight's order) */
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                float *row = patches + (size_t)(gy * g + gx) * k;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < p; ky++)
                        memcpy(row + ch * p * p + ky * p,
                               pixels + ((size_t)ch * size + gy * p + ky) * size + gx * p,
                               (size_t)p * sizeof *row);
            }
        memcpy(h, w->class_embedding, (size_t)d * sizeof *h);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n - 1, d, k, 1.0f, patches, k,
                    w->patch_w, k, 0.0f, h + d, d);
        for (size_t i = 0; i < (size_t)n * d; i++)
            h[i] += w->vision_positions[i];
        layer_norm(h, n, d, w->pre_ln_w, w->pre_ln_b, c->layer_norm_eps, h);
        for (int l = 0; l < c->layers; l++)
            block(&w->vision_layers[l], c, h, n, false, &s);
        layer_norm(h, 1, d, w->post_ln_w, w->post_ln_b, c->layer_norm_eps, s.x);
        project(w->visual_projection, w->config.projection_dim, d, s.x, out);
    }
    free(h);
    free(patches);
    scratch_free(&s);
    return rc;
}

cs_status clip_encode_text(const clip_weights *w, const int32_t *ids, size_t n, int32_t end_id,
                           float *out, cs_error *err)
{
    const clip_tower_config *c = &w->config.text;
    if (n == 0 || n > (size_t)c->max_positions)
        return cs_error_set(err, CS_ERR_INVALID, "%zu tokens: the text model takes 1 to %d", n,
                            c->max_positions);
    size_t used = n;   /* up to and with the first end token */
    for (size_t i = 0; i < n; i++)
        if (ids[i] == end_id) {
            used = i + 1;
            break;
        }
    for (size_t i = 0; i < used; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return cs_error_set(err, CS_ERR_INVALID, "token id %d is outside the vocabulary "
                                "(0 to %d)", ids[i], c->vocab_size - 1);
    int d = c->hidden;
    scratch s = {0};
    cs_status rc = scratch_new(&s, (int)used, c, err);
    float *h = malloc(used * (size_t)d * sizeof *h);
    if (rc == CS_OK && !h)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory running the model");
    if (rc == CS_OK) {
        for (size_t i = 0; i < used; i++)
            for (int j = 0; j < d; j++)
                h[i * d + j] = w->token_embedding[(size_t)ids[i] * d + j] +
                               w->text_positions[i * d + j];
        for (int l = 0; l < c->layers; l++)
            block(&w->text_layers[l], c, h, (int)used, true, &s);
        layer_norm(h + (used - 1) * d, 1, d, w->final_ln_w, w->final_ln_b, c->layer_norm_eps,
                   s.x);
        project(w->text_projection, w->config.projection_dim, d, s.x, out);
    }
    free(h);
    scratch_free(&s);
    return rc;
}
