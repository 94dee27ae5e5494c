/* The towers' forward pass in batches (towers.h). */
#include "models/clip/towers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/clip/clip_kernels.h"
#include "models/clip/narrow_gemm.h"
#include "nn/nn.h"

/* One worker's scratch, for `inputs` inputs of up to `tokens` tokens each. */
typedef struct worker {
    float *h, *x, *qkv, *attn, *mlp, *scores, *patches, *pooled, *pooled_ln;
    uint8_t *qa;              /* int8 path: quantised activations */
    float *qscale;
    int32_t *qzero, *qacc;
    float *panel;             /* f16 path: PANEL output channels widened */
    struct worker *all;       /* the session's workers (their panels serve
                                 the threads of a shared GEMM) */
    int split;                /* threads sharing each GEMM (a batch of one) */
    clip_dump *dump;          /* worker 0 only, while a call dumps */
} worker;

/* Up to this many rows a linear layer over f16 weights runs in the
 * streaming kernel (narrow_gemm.h): a text query's tokens, or one image's
 * patches; more rows go through sgemm on widened panels of PANEL output
 * channels, where sgemm's register blocking pays. (The int8 weights through
 * the same kernel measured no faster than oneDNN's int8 GEMM at a query's
 * 4 tokens: widening int8 costs two instructions per 8 weights.) */
#define NARROW_ROWS 80
#define PANEL 64

struct clip_session {
    const clip_weights *w;
    const clip_qweights *q;
    const clip_hweights *hw;
    int max_batch, threads, per_worker;
    worker *workers;
};

/* One sequence of a worker's batch: rows [start, start + len) of h. */
typedef struct span {
    int start, len;
} span;

static void *alloc_floats(size_t n, size_t size, bool *ok)
{
    void *p = malloc((n ? n : 1) * size);
    *ok = *ok && p;
    return p;
}

static void worker_free(worker *k)
{
    free(k->h);
    free(k->x);
    free(k->qkv);
    free(k->attn);
    free(k->mlp);
    free(k->scores);
    free(k->patches);
    free(k->pooled);
    free(k->pooled_ln);
    free(k->qa);
    free(k->qscale);
    free(k->qzero);
    free(k->qacc);
    free(k->panel);
}

static int max_int(int a, int b) { return a > b ? a : b; }

cs_status clip_session_new(const clip_weights *w, const clip_qweights *q,
                           const clip_hweights *hw, int max_batch, int threads,
                           clip_session **out, cs_error *err)
{
    *out = NULL;
    if (max_batch < 1 || max_batch > 4096 || threads < 1 || threads > 1024)
        return cs_error_set(err, CS_ERR_INVALID, "batch %d or threads %d out of range",
                            max_batch, threads);
    const clip_tower_config *v = &w->config.vision, *t = &w->config.text;
    int grid = v->image_size / v->patch_size;
    int vision_tokens = grid * grid + 1;
    size_t patch_k = 3 * (size_t)v->patch_size * v->patch_size;
    int tokens = max_int(vision_tokens, t->max_positions);
    size_t d = (size_t)max_int(v->hidden, t->hidden);
    size_t f = (size_t)max_int(v->intermediate, t->intermediate);
    clip_session *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    *s = (clip_session){.w = w, .q = q, .hw = hw, .max_batch = max_batch, .threads = threads};
    s->per_worker = (max_batch + threads - 1) / threads;
    s->workers = calloc((size_t)threads, sizeof *s->workers);
    bool ok = s->workers != NULL;
    for (int i = 0; ok && i < threads; i++) {
        worker *k = &s->workers[i];
        k->all = s->workers;
        size_t inputs = (size_t)s->per_worker, rows = inputs * (size_t)tokens;
        k->h = alloc_floats(rows * d, sizeof *k->h, &ok);
        k->x = alloc_floats(rows * d, sizeof *k->x, &ok);
        k->qkv = alloc_floats(rows * 3 * d, sizeof *k->qkv, &ok);
        k->attn = alloc_floats(rows * d, sizeof *k->attn, &ok);
        k->mlp = alloc_floats(rows * f, sizeof *k->mlp, &ok);
        k->scores = alloc_floats((size_t)tokens * tokens, sizeof *k->scores, &ok);
        k->patches = alloc_floats(inputs * (size_t)(vision_tokens - 1) * patch_k,
                                  sizeof *k->patches, &ok);
        k->pooled = alloc_floats(inputs * d, sizeof *k->pooled, &ok);
        k->pooled_ln = alloc_floats(inputs * d, sizeof *k->pooled_ln, &ok);
        if (q) {
            k->qa = alloc_floats(rows * f, 1, &ok);
            k->qscale = alloc_floats(rows, sizeof *k->qscale, &ok);
            k->qzero = alloc_floats(rows, sizeof *k->qzero, &ok);
            k->qacc = alloc_floats(rows * (f > 3 * d ? f : 3 * d), sizeof *k->qacc, &ok);
        }
        if (hw)
            k->panel = alloc_floats((size_t)PANEL * (f > d ? f : d), sizeof *k->panel, &ok);
    }
    if (!ok) {
        clip_session_free(s);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for a batch of %d", max_batch);
    }
    nn_set_blas_threads(1);
    *out = s;
    return CS_OK;
}

void clip_session_free(clip_session *s)
{
    if (!s)
        return;
    for (int i = 0; s->workers && i < s->threads; i++)
        worker_free(&s->workers[i]);
    free(s->workers);
    free(s);
}

int clip_session_max_batch(const clip_session *s) { return s->max_batch; }

/* y[rows, out] = x[rows, in] W[out, in]^T (+ b), the output columns shared
 * by k->split threads. */
static void sgemm_rows(const worker *k, const float *x, int rows, int in, const float *W,
                       int out, float beta, float *y)
{
    if (k->split <= 1 || out < 64 * k->split) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, W, in,
                    beta, y, out);
        return;
    }
#pragma omp parallel for num_threads(k->split) schedule(static, 1)
    for (int part = 0; part < k->split; part++) {
        int c0 = (int)((long)out * part / k->split) & ~15;
        int c1 = part + 1 == k->split ? out : (int)((long)out * (part + 1) / k->split) & ~15;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c1 - c0, in, 1.0f, x, in,
                    W + (size_t)c0 * in, in, beta, y + c0, out);
    }
}

/* The streaming kernel over few rows, the output columns shared by
 * k->split threads as in sgemm_rows. */
static void narrow_rows(const worker *k, const clip_wmatrix *m, const float *x, int rows,
                        float *y)
{
    if (k->split <= 1 || m->out < 64 * k->split) {
        clip_narrow_gemm(m, x, rows, 0, m->out, y);
        return;
    }
#pragma omp parallel for num_threads(k->split) schedule(static, 1)
    for (int part = 0; part < k->split; part++) {
        int c0 = (int)((long)m->out * part / k->split) & ~15;
        int c1 = part + 1 == k->split ? m->out : (int)((long)m->out * (part + 1) / k->split) & ~15;
        clip_narrow_gemm(m, x, rows, c0, c1, y);
    }
}

/* Many rows over f16 weights: PANEL output channels at a time widened to
 * float32 and multiplied by sgemm (y holds the bias already). */
static void widened_rows(worker *k, const clip_wmatrix *m, const float *x, int rows, float *y)
{
    int panels = (m->out + PANEL - 1) / PANEL, split = k->split > 1 ? k->split : 1;
#pragma omp parallel for num_threads(split) schedule(static)
    for (int p = 0; p < panels; p++) {
        float *panel = split > 1 ? k->all[omp_get_thread_num()].panel : k->panel;
        int c0 = p * PANEL, c1 = c0 + PANEL < m->out ? c0 + PANEL : m->out;
        clip_widen_rows(m, c0, c1, panel);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, c1 - c0, m->in, 1.0f, x,
                    m->in, panel, m->in, 1.0f, y + c0, m->out);
    }
}

/* y = x W^T + b in float32, through the int8 weights when q is set, or the
 * f16 ones when h is. */
static cs_status linear(worker *k, const float *x, int rows, int in, const float *W,
                        const float *b, const clip_qlinear *q, int qmax, const uint16_t *h,
                        int out, float *y, cs_error *err)
{
    if (h) {
        clip_wmatrix m = {.type = CLIP_W_F16, .w = h, .bias = b, .in = in, .out = out};
        if (rows <= NARROW_ROWS) {
            narrow_rows(k, &m, x, rows, y);
            return CS_OK;
        }
        for (int i = 0; i < rows; i++)
            memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
        widened_rows(k, &m, x, rows, y);
        return CS_OK;
    }
    if (q) {
        clip_quantize_rows(x, (size_t)rows, in, qmax, k->qa, k->qscale, k->qzero);
        cs_status rc = clip_qgemm(q, k->qa, rows, k->qacc, err);
        if (rc == CS_OK)
            clip_dequantize_rows(k->qacc, (size_t)rows, out, k->qscale, k->qzero, q->scale,
                                 q->sum, b, y);
        return rc;
    }
    if (k->split > 1 && rows <= NARROW_ROWS) {
        /* One input on several cores (a search query): streaming beats
         * sgemm's packing at a few rows (tools/bench/scale). */
        clip_wmatrix m = {.type = CLIP_W_F32, .w = W, .bias = b, .in = in, .out = out};
        narrow_rows(k, &m, x, rows, y);
        return CS_OK;
    }
    for (int i = 0; i < rows; i++)
        memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    sgemm_rows(k, x, rows, in, W, out, 1.0f, y);
    return CS_OK;
}

/* h[rows, D] += attention and MLP of one pre-norm block over the sequences. */
static cs_status block(worker *k, const clip_layer_weights *L, const clip_qlayer *Q, int qmax,
                       const clip_hlayer *H, const clip_tower_config *c, float *h, int rows, const span *seqs,
                       int nseq, bool causal, cs_error *err)
{
    int d = c->hidden, heads = c->heads, dh = d / heads, f = c->intermediate;
    float scale = 1.0f / sqrtf((float)dh);
    clip_layer_norm(h, (size_t)rows, d, L->ln1_w, L->ln1_b, c->layer_norm_eps, k->x);
    cs_status rc = linear(k, k->x, rows, d, L->qkv_w, L->qkv_b, Q ? &Q->qkv : NULL, qmax,
                          H ? H->qkv : NULL, 3 * d, k->qkv, err);
    if (rc != CS_OK)
        return rc;
    for (int s = 0; s < nseq; s++)
        for (int hd = 0; hd < heads; hd++) {
            const float *base = k->qkv + (size_t)seqs[s].start * 3 * d + hd * dh;
            clip_attention_head(base, base + d, base + 2 * d, 3 * d, seqs[s].len, dh, scale,
                                causal, k->scores,
                                k->attn + (size_t)seqs[s].start * d + hd * dh, d);
        }
    rc = linear(k, k->attn, rows, d, L->out_w, L->out_b, Q ? &Q->out : NULL, qmax,
                H ? H->out : NULL, d, k->x, err);
    if (rc != CS_OK)
        return rc;
    clip_add(h, k->x, (size_t)rows * d);
    clip_layer_norm(h, (size_t)rows, d, L->ln2_w, L->ln2_b, c->layer_norm_eps, k->x);
    rc = linear(k, k->x, rows, d, L->fc1_w, L->fc1_b, Q ? &Q->fc1 : NULL, qmax,
                H ? H->fc1 : NULL, f, k->mlp, err);
    if (rc != CS_OK)
        return rc;
    clip_activate(k->mlp, (size_t)rows * f, c->activation);
    rc = linear(k, k->mlp, rows, f, L->fc2_w, L->fc2_b, Q ? &Q->fc2 : NULL, qmax,
                H ? H->fc2 : NULL, d, k->x, err);
    if (rc != CS_OK)
        return rc;
    clip_add(h, k->x, (size_t)rows * d);
    return CS_OK;
}

static cs_status blocks(worker *k, const clip_layer_weights *layers, const clip_qlayer *qlayers,
                        int qmax, const clip_hlayer *hlayers, const clip_tower_config *c, float *h, int rows,
                        const span *seqs, int nseq, bool causal, const char *tower,
                        cs_error *err)
{
    for (int l = 0; l < c->layers; l++) {
        cs_status rc = block(k, &layers[l], qlayers ? &qlayers[l] : NULL, qmax,
                             hlayers ? &hlayers[l] : NULL, c, h, rows, seqs, nseq, causal, err);
        if (rc != CS_OK)
            return rc;
        if (k->dump) {
            char name[64];
            snprintf(name, sizeof name, "%s.layer.%d", tower, l);
            clip_dump_write(k->dump, name, h + (size_t)seqs[0].start * c->hidden,
                            (size_t)seqs[0].len, (size_t)c->hidden);
        }
    }
    return CS_OK;
}

/* out[m, E] = normalise(pooled[m, D] P[E, D]^T) */
static void project(const worker *k, const float *P, int e, int d, const float *pooled, int m,
                    float *out)
{
    sgemm_rows(k, pooled, m, d, P, e, 0.0f, out);
    for (int i = 0; i < m; i++) {
        float *row = out + (size_t)i * e;
        double sum = 0;
        for (int j = 0; j < e; j++)
            sum += (double)row[j] * row[j];
        float inv = sum > 0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
        for (int j = 0; j < e; j++)
            row[j] *= inv;
    }
}

static cs_status images_worker(const clip_session *s, worker *k, const float *pixels, int m,
                               float *out, cs_error *err)
{
    const clip_weights *w = s->w;
    const clip_tower_config *c = &w->config.vision;
    int d = c->hidden, p = c->patch_size, size = c->image_size, g = size / p, n = g * g + 1;
    int kk = 3 * p * p, rows = m * n;
    span seqs[m];
    for (int i = 0; i < m; i++)
        seqs[i] = (span){i * n, n};
    /* im2row: row = gy*G + gx, column = ch*P*P + ky*P + kx (the conv weight's order) */
    for (int i = 0; i < m; i++) {
        const float *img = pixels + (size_t)i * 3 * size * size;
        for (int gy = 0; gy < g; gy++)
            for (int gx = 0; gx < g; gx++) {
                float *row = k->patches + ((size_t)i * (n - 1) + gy * g + gx) * kk;
                for (int ch = 0; ch < 3; ch++)
                    for (int ky = 0; ky < p; ky++)
                        memcpy(row + ch * p * p + ky * p,
                               img + ((size_t)ch * size + gy * p + ky) * size + gx * p,
                               (size_t)p * sizeof *row);
            }
    }
    sgemm_rows(k, k->patches, m * (n - 1), kk, w->patch_w, d, 0.0f, k->x);
    for (int i = 0; i < m; i++) {
        float *h = k->h + (size_t)i * n * d;
        memcpy(h, w->class_embedding, (size_t)d * sizeof *h);
        memcpy(h + d, k->x + (size_t)i * (n - 1) * d, (size_t)(n - 1) * d * sizeof *h);
        clip_add(h, w->vision_positions, (size_t)n * d);
    }
    clip_dump_write(k->dump, "vision.embeddings", k->h, (size_t)n, (size_t)d);
    clip_layer_norm(k->h, (size_t)rows, d, w->pre_ln_w, w->pre_ln_b, c->layer_norm_eps, k->h);
    clip_dump_write(k->dump, "vision.pre_layrnorm", k->h, (size_t)n, (size_t)d);
    const clip_qweights *q = s->q;
    const clip_hweights *hw = s->hw;
    cs_status rc = blocks(k, w->vision_layers, q ? q->vision : NULL, q ? q->activation_max : 0,
                          hw ? hw->vision : NULL, c, k->h, rows, seqs, m, false, "vision", err);
    if (rc != CS_OK)
        return rc;
    for (int i = 0; i < m; i++)
        memcpy(k->pooled + (size_t)i * d, k->h + (size_t)i * n * d, (size_t)d * sizeof *k->h);
    clip_layer_norm(k->pooled, (size_t)m, d, w->post_ln_w, w->post_ln_b, c->layer_norm_eps,
                    k->pooled_ln);
    clip_dump_write(k->dump, "vision.post_layernorm", k->pooled_ln, 0, (size_t)d);
    project(k, w->visual_projection, w->config.projection_dim, d, k->pooled_ln, m, out);
    clip_dump_write(k->dump, "vision.embeds", out, 0, (size_t)w->config.projection_dim);
    return CS_OK;
}

static cs_status texts_worker(const clip_session *s, worker *k, const int32_t *const *ids,
                              const size_t *used, int m, float *out, cs_error *err)
{
    const clip_weights *w = s->w;
    const clip_tower_config *c = &w->config.text;
    int d = c->hidden;
    span seqs[m];
    int rows = 0;
    for (int i = 0; i < m; i++) {
        seqs[i] = (span){rows, (int)used[i]};
        for (int t = 0; t < seqs[i].len; t++) {
            const float *tok = w->token_embedding + (size_t)ids[i][t] * d;
            const float *pos = w->text_positions + (size_t)t * d;
            float *h = k->h + (size_t)(rows + t) * d;
            for (int j = 0; j < d; j++)
                h[j] = tok[j] + pos[j];
        }
        rows += seqs[i].len;
    }
    clip_dump_write(k->dump, "text.embeddings", k->h, (size_t)seqs[0].len, (size_t)d);
    const clip_qweights *q = s->q;
    const clip_hweights *hw = s->hw;
    cs_status rc = blocks(k, w->text_layers, q ? q->text : NULL, q ? q->activation_max : 0,
                          hw ? hw->text : NULL, c, k->h, rows, seqs, m, true, "text", err);
    if (rc != CS_OK)
        return rc;
    for (int i = 0; i < m; i++)
        memcpy(k->pooled + (size_t)i * d, k->h + (size_t)(seqs[i].start + seqs[i].len - 1) * d,
               (size_t)d * sizeof *k->h);
    clip_layer_norm(k->pooled, (size_t)m, d, w->final_ln_w, w->final_ln_b, c->layer_norm_eps,
                    k->pooled_ln);
    clip_dump_write(k->dump, "text.final_layer_norm", k->pooled_ln, 0, (size_t)d);
    project(k, w->text_projection, w->config.projection_dim, d, k->pooled_ln, m, out);
    clip_dump_write(k->dump, "text.embeds", out, 0, (size_t)w->config.projection_dim);
    return CS_OK;
}

typedef struct job {
    const float *pixels;               /* images */
    const int32_t *const *ids;         /* or texts */
    const size_t *used;
} job;

/* Worker i's slice of the batch: inputs [i * chunk, i * chunk + chunk). */
static cs_status run_slice(const clip_session *s, const job *j, int i, int chunk, int n,
                           float *out, cs_error *err)
{
    int first = i * chunk, m = n - first < chunk ? n - first : chunk;
    int e = s->w->config.projection_dim;
    size_t image_floats = 3 * (size_t)s->w->config.vision.image_size *
                          s->w->config.vision.image_size;
    worker *k = &s->workers[i];
    if (j->pixels)
        return images_worker(s, k, j->pixels + (size_t)first * image_floats, m,
                             out + (size_t)first * e, err);
    return texts_worker(s, k, j->ids + first, j->used + first, m, out + (size_t)first * e,
                        err);
}

/* Splits n inputs over the workers (each a contiguous slice) and runs them. */
static cs_status run(clip_session *s, const job *j, int n, float *out, clip_dump *dump,
                     cs_error *err)
{
    if (n < 1 || n > s->max_batch)
        return cs_error_set(err, CS_ERR_INVALID, "%d inputs: this session takes 1 to %d", n,
                            s->max_batch);
    int workers = n < s->threads ? n : s->threads;
    int chunk = (n + workers - 1) / workers;
    workers = (n + chunk - 1) / chunk;
    cs_status rcs[workers];
    cs_error errs[workers];
    for (int i = 0; i < workers; i++) {
        s->workers[i].split = workers == 1 ? s->threads : 1;
        s->workers[i].dump = i == 0 ? dump : NULL;
    }
    /* One worker runs on the calling thread, outside any parallel region,
     * so that its GEMMs may open their own. */
    if (workers == 1) {
        omp_set_num_threads(s->threads);   /* the int8 GEMMs' own threads */
        rcs[0] = run_slice(s, j, 0, chunk, n, out, errs);
    } else {
#pragma omp parallel for num_threads(workers) schedule(static, 1)
        for (int i = 0; i < workers; i++)
            rcs[i] = run_slice(s, j, i, chunk, n, out, &errs[i]);
    }
    for (int i = 0; i < workers; i++) {
        s->workers[i].dump = NULL;
        if (rcs[i] != CS_OK) {
            *err = errs[i];
            return rcs[i];
        }
    }
    return CS_OK;
}

cs_status clip_session_images(clip_session *s, const float *pixels, int n, float *out,
                              clip_dump *dump, cs_error *err)
{
    return run(s, &(job){.pixels = pixels}, n, out, dump, err);
}

cs_status clip_session_texts(clip_session *s, const int32_t *const *ids, const size_t *lens,
                             int n, int32_t end_id, float *out, clip_dump *dump, cs_error *err)
{
    const clip_tower_config *c = &s->w->config.text;
    if (n < 1 || n > s->max_batch)
        return cs_error_set(err, CS_ERR_INVALID, "%d inputs: this session takes 1 to %d", n,
                            s->max_batch);
    size_t used[n];
    for (int i = 0; i < n; i++) {
        if (lens[i] == 0 || lens[i] > (size_t)c->max_positions)
            return cs_error_set(err, CS_ERR_INVALID, "%zu tokens: the text model takes 1 to %d",
                                lens[i], c->max_positions);
        used[i] = lens[i];   /* up to and with the first end token */
        for (size_t t = 0; t < lens[i]; t++)
            if (ids[i][t] == end_id) {
                used[i] = t + 1;
                break;
            }
        for (size_t t = 0; t < used[i]; t++)
            if (ids[i][t] < 0 || ids[i][t] >= c->vocab_size)
                return cs_error_set(err, CS_ERR_INVALID, "token id %d is outside the "
                                    "vocabulary (0 to %d)", ids[i][t], c->vocab_size - 1);
    }
    return run(s, &(job){.ids = ids, .used = used}, n, out, dump, err);
}

cs_status clip_encode_image(const clip_weights *w, const float *pixels, float *out,
                            cs_error *err)
{
    clip_session *s = NULL;
    cs_status rc = clip_session_new(w, NULL, NULL, 1, 1, &s, err);
    if (rc == CS_OK)
        rc = clip_session_images(s, pixels, 1, out, NULL, err);
    clip_session_free(s);
    return rc;
}

cs_status clip_encode_text(const clip_weights *w, const int32_t *ids, size_t n, int32_t end_id,
                           float *out, cs_error *err)
{
    clip_session *s = NULL;
    cs_status rc = clip_session_new(w, NULL, NULL, 1, 1, &s, err);
    if (rc == CS_OK)
        rc = clip_session_texts(s, &ids, &n, 1, end_id, out, NULL, err);
    clip_session_free(s);
    return rc;
}
