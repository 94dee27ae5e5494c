/* The C side of tools/bench/query_encoder: how long one search query takes
 * in CLIP's text tower, opened as a library opens it for searches
 * (cs_clip_open_with, max_batch 1).
 *
 *   query_encoder_driver --model DIR --texts FILE [--precision P]
 *                        [--threads N] [--rounds R] [--out FILE]
 *
 * --texts holds one query per line. After two warm-up queries, each round
 * embeds every query once, one call each (cs_clip_embed_text), timed one
 * by one. Prints one JSON object: the precision's name, the mean token
 * count, and p50/p90/p99/mean latency in ms over every call of every round.
 * --out writes the embeddings (float32, one query after another) for the
 * script to compare precisions. Exit 1 with a message on any error. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsearch/capsearch.h"

#define BENCH_NAME "query_encoder_driver"
#include "bench_util.h"

static double percentile(const double *sorted, size_t n, double p)
{
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    const char *model_dir = NULL, *texts_path = NULL, *out_path = NULL, *precision = "f32";
    int threads = 2, rounds = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            bench_die(a, "needs a value");
        if (!strcmp(a, "--model"))
            model_dir = v;
        else if (!strcmp(a, "--texts"))
            texts_path = v;
        else if (!strcmp(a, "--out"))
            out_path = v;
        else if (!strcmp(a, "--precision"))
            precision = v;
        else if (!strcmp(a, "--threads"))
            threads = atoi(v);
        else if (!strcmp(a, "--rounds"))
            rounds = atoi(v);
        else
            bench_die(a, "unknown option");
        i++;
    }
    if (!model_dir || !texts_path || threads < 1 || rounds < 1)
        bench_die("usage", "--model DIR --texts FILE [--precision f32|f16|int8] [--threads N] "
                     "[--rounds R] [--out FILE]");
    cs_clip_options options = {.threads = threads, .max_batch = 1};
    if (!strcmp(precision, "f32"))
        options.precision = CS_CLIP_F32;
    else if (!strcmp(precision, "int8"))
        options.precision = CS_CLIP_INT8;
    else if (!strcmp(precision, "f16"))
        options.precision = CS_CLIP_F16;
    else
        bench_die(precision, "unknown precision (f32, f16 or int8)");

    char *blob;
    size_t n;
    char **texts = bench_read_lines(texts_path, &n, &blob);
    if (n == 0)
        bench_die(texts_path, "no queries");
    cs_error err;
    double tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t *ids;
        size_t count;
        if (cs_clip_tokenize(model_dir, texts[i], strlen(texts[i]), &ids, &count, NULL, &err) !=
            CS_OK)
            bench_die(texts[i], err.message);
        tokens += (double)count;
        free(ids);
    }
    double t0 = (bench_now_s() * 1e3);
    cs_clip_model *model;
    if (cs_clip_open_with(model_dir, &options, &model, &err) != CS_OK)
        bench_die(model_dir, err.message);
    double load_ms = (bench_now_s() * 1e3) - t0;
    size_t dim = (size_t)cs_clip_dim(model);
    float *out = bench_xmalloc(n * dim * sizeof *out);
    for (size_t i = 0; i < 2; i++)
        if (cs_clip_embed_text(model, texts[i % n], out, &err) != CS_OK)
            bench_die("warm-up", err.message);
    size_t calls = n * (size_t)rounds;
    double *ms = bench_xmalloc(calls * sizeof *ms), sum = 0;
    for (int r = 0; r < rounds; r++)
        for (size_t i = 0; i < n; i++) {
            double start = (bench_now_s() * 1e3);
            if (cs_clip_embed_text(model, texts[i], out + i * dim, &err) != CS_OK)
                bench_die(texts[i], err.message);
            ms[(size_t)r * n + i] = (bench_now_s() * 1e3) - start;
            sum += ms[(size_t)r * n + i];
        }
    qsort(ms, calls, sizeof *ms, bench_cmp_double);
    if (out_path) {
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(out, sizeof *out, n * dim, f) != n * dim || fclose(f) != 0)
            bench_die(out_path, "cannot write");
    }
    printf("{\"precision\": \"%s\", \"name\": \"%s\", \"threads\": %d, \"queries\": %zu, "
           "\"rounds\": %d, \"mean_tokens\": %.2f, \"load_ms\": %.1f, \"p50_ms\": %.3f, "
           "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"mean_ms\": %.3f, \"dim\": %zu}\n",
           precision, cs_clip_precision_name(model), threads, n, rounds, tokens / (double)n,
           load_ms, percentile(ms, calls, 0.5), percentile(ms, calls, 0.9),
           percentile(ms, calls, 0.99), sum / (double)calls, dim);
    cs_clip_close(model);
    free(ms);
    free(out);
    free(texts);
    free(blob);
    return 0;
}
