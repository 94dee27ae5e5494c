/* Quantised weights and the int8 GEMM (quant.h). */
#include "models/clip/quant.h"

#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static void qlinear_free(clip_qlinear *L)
{
    free(L->w);
    free(L->scale);
    free(L->sum);
}

static cs_status quantize_matrix(clip_weights *w, float **matrix, const float *bias, int out,
                                 int in, clip_qlinear *L, cs_error *err)
{
    *L = (clip_qlinear){.bias = bias, .in = in, .out = out};
    L->w = malloc((size_t)out * in);
    L->scale = malloc((size_t)out * sizeof *L->scale);
    L->sum = malloc((size_t)out * sizeof *L->sum);
    if (!L->w || !L->scale || !L->sum)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory quantising the model");
    const float *m = *matrix;
    for (int r = 0; r < out; r++) {
        const float *row = m + (size_t)r * in;
        float max = 0.0f;
        for (int c = 0; c < in; c++)
            max = fabsf(row[c]) > max ? fabsf(row[c]) : max;
        float scale = max > 0.0f ? max / 127.0f : 1.0f;
        int32_t sum = 0;
        for (int c = 0; c < in; c++) {
            long v = lrintf(row[c] / scale);
            v = v < -127 ? -127 : v > 127 ? 127 : v;
            L->w[(size_t)r * in + c] = (int8_t)v;
            sum += (int32_t)v;
        }
        L->scale[r] = scale;
        L->sum[r] = sum;
    }
    clip_weights_drop(w, *matrix);
    *matrix = NULL;
    return CS_OK;
}

static cs_status quantize_tower(clip_weights *w, clip_layer_weights *layers,
                                const clip_tower_config *c, clip_qlayer **out, cs_error *err)
{
    *out = calloc((size_t)c->layers, sizeof **out);
    if (!*out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory quantising the model");
    int d = c->hidden, f = c->intermediate;
    cs_status rc = CS_OK;
    for (int l = 0; l < c->layers && rc == CS_OK; l++) {
        clip_layer_weights *L = &layers[l];
        clip_qlayer *Q = &(*out)[l];
        rc = quantize_matrix(w, &L->qkv_w, L->qkv_b, 3 * d, d, &Q->qkv, err);
        if (rc == CS_OK)
            rc = quantize_matrix(w, &L->out_w, L->out_b, d, d, &Q->out, err);
        if (rc == CS_OK)
            rc = quantize_matrix(w, &L->fc1_w, L->fc1_b, f, d, &Q->fc1, err);
        if (rc == CS_OK)
            rc = quantize_matrix(w, &L->fc2_w, L->fc2_b, d, f, &Q->fc2, err);
    }
    return rc;
}

static void free_tower(clip_qlayer *layers, int n)
{
    for (int l = 0; layers && l < n; l++) {
        qlinear_free(&layers[l].qkv);
        qlinear_free(&layers[l].out);
        qlinear_free(&layers[l].fc1);
        qlinear_free(&layers[l].fc2);
    }
    free(layers);
}

cs_status clip_quantize_weights(clip_weights *w, clip_qweights **out, cs_error *err)
{
    *out = NULL;
    clip_qweights *q = calloc(1, sizeof *q);
    if (!q)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory quantising the model");
    q->activation_max = clip_int8_activation_max();
    q->vision_layers = w->text_only ? 0 : w->config.vision.layers;
    q->text_layers = w->config.text.layers;
    cs_status rc = w->text_only ? CS_OK
                                : quantize_tower(w, w->vision_layers, &w->config.vision,
                                                 &q->vision, err);
    if (rc == CS_OK)
        rc = quantize_tower(w, w->text_layers, &w->config.text, &q->text, err);
    if (rc != CS_OK) {
        clip_qweights_free(q);
        return rc;
    }
    *out = q;
    return CS_OK;
}

void clip_qweights_free(clip_qweights *q)
{
    if (!q)
        return;
    free_tower(q->vision, q->vision_layers);
    free_tower(q->text, q->text_layers);
    free(q);
}

static int activation_max = 0;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void probe(void)
{
    enum { M = 16, N = 16, K = 256 };
    static uint8_t a[M * K];
    static int8_t b[N * K];
    static int32_t c[M * N];
    memset(a, 255, sizeof a);
    memset(b, 127, sizeof b);
    const int32_t zero = 0;
    activation_max = 127;
    if (dnnl_gemm_u8s8s32('N', 'T', 'F', M, N, K, 1.0f, a, K, 0, b, K, 0, 0.0f, c, N, &zero) !=
        dnnl_success)
        return;
    for (int i = 0; i < M * N; i++)
        if (c[i] != 255 * 127 * K)
            return;
    activation_max = 255;
}

int clip_int8_activation_max(void)
{
    pthread_once(&probe_once, probe);
    return activation_max;
}

cs_status clip_qgemm(const clip_qlinear *L, const uint8_t *a, int rows, int32_t *acc,
                     cs_error *err)
{
    const int32_t zero = 0;
    dnnl_status_t st = dnnl_gemm_u8s8s32('N', 'T', 'F', rows, L->out, L->in, 1.0f, a, L->in, 0,
                                         L->w, L->in, 0, 0.0f, acc, L->out, &zero);
    if (st != dnnl_success)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "oneDNN's int8 GEMM failed (status %d, %d x "
                            "%d x %d)", (int)st, rows, L->out, L->in);
    return CS_OK;
}
