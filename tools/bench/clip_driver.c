/* The C side of tools/bench/clip: CLIP images/s and texts/s through the
 * public API (cs_clip_open_with, cs_clip_embed_pixels, cs_clip_embed_texts),
 * and OpenBLAS's sgemm GFLOP/s on ViT-B/32's biggest GEMM shapes, the
 * ceiling the towers are measured against.
 *
 *   clip_bench_driver embed --model DIR --pixels FILE --texts FILE
 *                     [--precision f32|int8] [--threads N] [--batch N] [--rounds N]
 *                     [--out-images FILE] [--out-texts FILE]
 *   clip_bench_driver sgemm [--threads N] [--rows M] [--seconds S]
 *
 * --pixels holds preprocessed images, float32 N x 3 x S x S (S from the
 * model); --texts one text per line. After one warm-up batch of each, every
 * round embeds all images, then all texts, in batches of --batch; the JSON
 * line gives the median and best round, the peak RSS (getrusage) and the
 * load time. --out-* write the embeddings (float32, N x dim).
 *
 * sgemm times cblas_sgemm(RowMajor, NoTrans, Trans) as a linear layer calls
 * it (activations M x K times weights N x K transposed) on the MLP and qkv
 * shapes with M = 16 x 50 rows (a batch of 16 B/32 images), OpenBLAS on
 * --threads threads, and prints each shape's best GFLOP/s and the highest. */
#include <cblas.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "capsearch/capsearch.h"

#define BENCH_NAME "clip_bench_driver"
#include "bench_util.h"
#include "common/fsutil.h"

#define MAX_INPUT_BYTES (8ull << 30)

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;   /* KiB on Linux */
}

static long parse_long(const char *opt, const char *value, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || *end || end == value || v < lo || v > hi) {
        fprintf(stderr, "clip_bench_driver: %s wants a number from %ld to %ld, not '%s'\n", opt,
                lo, hi, value);
        exit(2);
    }
    return v;
}

static void write_floats(const char *path, const float *v, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f) != 0)
        bench_die(path, strerror(errno));
}

typedef struct rates {
    double median, best;
} rates;

static rates summarise(double *per_round, int rounds)
{
    qsort(per_round, (size_t)rounds, sizeof *per_round, bench_cmp_double);
    return (rates){per_round[rounds / 2], per_round[rounds - 1]};
}

static int cmd_embed(int argc, char **argv)
{
    const char *model_dir = NULL, *pixels_path = NULL, *texts_path = NULL;
    const char *out_images = NULL, *out_texts = NULL;
    cs_clip_options opts = {.precision = CS_CLIP_F32, .threads = 2, .max_batch = 16};
    int rounds = 3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "clip_bench_driver: %s wants a value\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--model"))
            model_dir = v;
        else if (!strcmp(a, "--pixels"))
            pixels_path = v;
        else if (!strcmp(a, "--texts"))
            texts_path = v;
        else if (!strcmp(a, "--out-images"))
            out_images = v;
        else if (!strcmp(a, "--out-texts"))
            out_texts = v;
        else if (!strcmp(a, "--precision") && (!strcmp(v, "f32") || !strcmp(v, "int8")))
            opts.precision = !strcmp(v, "int8") ? CS_CLIP_INT8 : CS_CLIP_F32;
        else if (!strcmp(a, "--threads"))
            opts.threads = (int)parse_long(a, v, 1, 256);
        else if (!strcmp(a, "--batch"))
            opts.max_batch = (int)parse_long(a, v, 1, 1024);
        else if (!strcmp(a, "--rounds"))
            rounds = (int)parse_long(a, v, 1, 1000);
        else {
            fprintf(stderr, "clip_bench_driver: unknown option %s %s\n", a, v);
            return 2;
        }
    }
    if (!model_dir || !pixels_path || !texts_path) {
        fprintf(stderr, "clip_bench_driver embed: --model, --pixels and --texts are needed\n");
        return 2;
    }

    cs_error err = {0};
    cs_clip_model *model;
    double t0 = fs_now_seconds();
    if (cs_clip_open_with(model_dir, &opts, &model, &err) != CS_OK)
        bench_die(model_dir, err.message);
    double load_s = fs_now_seconds() - t0;
    size_t dim = (size_t)cs_clip_dim(model), side = (size_t)cs_clip_image_size(model);
    size_t per_image = 3 * side * side, batch = (size_t)opts.max_batch;

    uint8_t *pixel_blob;
    char *text_blob;
    size_t pixel_bytes, n_texts;
    if (fs_read_file(pixels_path, MAX_INPUT_BYTES, &pixel_blob, &pixel_bytes, &err) != CS_OK)
        bench_die(pixels_path, err.message);
    if (pixel_bytes == 0 || pixel_bytes % (per_image * sizeof(float)))
        bench_die(pixels_path, "not a whole number of 3 x size x size float32 images");
    size_t n_images = pixel_bytes / (per_image * sizeof(float));
    const float *pixels = (const float *)pixel_blob;   /* malloc'd: aligned for floats */
    char **texts = bench_read_lines(texts_path, &n_texts, &text_blob);
    if (n_texts == 0)
        bench_die(texts_path, "no texts");
    float *image_out = bench_xmalloc(n_images * dim * sizeof *image_out);
    float *text_out = bench_xmalloc(n_texts * dim * sizeof *text_out);

    /* warm-up: scratch memory touched, threads started, caches filled */
    if (cs_clip_embed_pixels(model, pixels, n_images < batch ? n_images : batch, image_out,
                             &err) != CS_OK ||
        cs_clip_embed_texts(model, (const char *const *)texts, n_texts < batch ? n_texts : batch,
                            text_out, &err) != CS_OK)
        bench_die("warm-up", err.message);

    double *image_rates = bench_xmalloc((size_t)rounds * sizeof *image_rates);
    double *text_rates = bench_xmalloc((size_t)rounds * sizeof *text_rates);
    for (int r = 0; r < rounds; r++) {
        double start = fs_now_seconds();
        for (size_t i = 0; i < n_images; i += batch) {
            size_t n = n_images - i < batch ? n_images - i : batch;
            if (cs_clip_embed_pixels(model, pixels + i * per_image, n, image_out + i * dim,
                                     &err) != CS_OK)
                bench_die("cs_clip_embed_pixels", err.message);
        }
        image_rates[r] = (double)n_images / (fs_now_seconds() - start);
        start = fs_now_seconds();
        for (size_t i = 0; i < n_texts; i += batch) {
            size_t n = n_texts - i < batch ? n_texts - i : batch;
            if (cs_clip_embed_texts(model, (const char *const *)texts + i, n, text_out + i * dim,
                                    &err) != CS_OK)
                bench_die("cs_clip_embed_texts", err.message);
        }
        text_rates[r] = (double)n_texts / (fs_now_seconds() - start);
    }
    rates ir = summarise(image_rates, rounds), tr = summarise(text_rates, rounds);
    if (out_images)
        write_floats(out_images, image_out, n_images * dim);
    if (out_texts)
        write_floats(out_texts, text_out, n_texts * dim);
    printf("{\"peer\": \"capsearch\", \"precision\": \"%s\", \"threads\": %d, \"batch\": %d, "
           "\"images\": %zu, \"texts\": %zu, \"images_per_s\": %.4f, \"images_per_s_best\": %.4f, "
           "\"texts_per_s\": %.4f, \"texts_per_s_best\": %.4f, \"load_s\": %.3f, "
           "\"peak_rss_mb\": %.1f}\n",
           cs_clip_precision_name(model), opts.threads, opts.max_batch, n_images, n_texts,
           ir.median, ir.best, tr.median, tr.best, load_s, peak_rss_mb());
    cs_clip_close(model);
    free(image_rates);
    free(text_rates);
    free(image_out);
    free(text_out);
    free(texts);
    free(text_blob);
    free(pixel_blob);
    return 0;
}

static int cmd_sgemm(int argc, char **argv)
{
    int threads = 2;
    long rows = 16 * 50;
    double seconds = 1.0;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = (int)parse_long(argv[i], argv[i + 1], 1, 256);
        else if (!strcmp(argv[i], "--rows"))
            rows = parse_long(argv[i], argv[i + 1], 1, 1 << 20);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = (double)parse_long(argv[i], argv[i + 1], 1, 600);
        else {
            fprintf(stderr, "clip_bench_driver: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (argc % 2) {
        fprintf(stderr, "clip_bench_driver: %s wants a value\n", argv[argc - 1]);
        return 2;
    }
    openblas_set_num_threads(threads);
    /* B/32's linear layers: fc1, fc2 and the stacked q/k/v (K -> N) */
    static const struct { const char *name; int k, n; } shapes[] = {
        {"fc1", 768, 3072}, {"fc2", 3072, 768}, {"qkv", 768, 2304}};
    printf("{\"threads\": %d, \"rows\": %ld, \"shapes\": [", threads, rows);
    double peak = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t m = (size_t)rows, k = (size_t)shapes[s].k, n = (size_t)shapes[s].n;
        float *a = bench_xmalloc(m * k * sizeof *a), *b = bench_xmalloc(n * k * sizeof *b);
        float *c = bench_xmalloc(m * n * sizeof *c);
        for (size_t i = 0; i < m * k; i++)
            a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < n * k; i++)
            b[i] = (float)((i * 40503u) % 1000) * 2e-5f - 0.01f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)k, 0.0f, c, (int)n);
        double best = 0, flops = 2.0 * m * n * k, end = fs_now_seconds() + seconds;
        while (fs_now_seconds() < end) {
            double t0 = fs_now_seconds();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                        (int)k, b, (int)k, 0.0f, c, (int)n);
            double g = flops / (fs_now_seconds() - t0) / 1e9;
            best = g > best ? g : best;
        }
        peak = best > peak ? best : peak;
        printf("%s{\"name\": \"%s\", \"m\": %zu, \"k\": %zu, \"n\": %zu, \"gflops\": %.2f}",
               s ? ", " : "", shapes[s].name, m, k, n, best);
        free(a);
        free(b);
        free(c);
    }
    printf("], \"peak_gflops\": %.2f, \"openblas\": \"%s\"}\n", peak, openblas_get_config());
    return 0;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    if (argc >= 2 && !strcmp(argv[1], "embed"))
        return cmd_embed(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "sgemm"))
        return cmd_sgemm(argc - 2, argv + 2);
    fprintf(stderr, "usage: clip_bench_driver embed --model DIR --pixels FILE --texts FILE "
                    "[--precision f32|int8] [--threads N] [--batch N] [--rounds N] "
                    "[--out-images FILE] [--out-texts FILE]\n"
                    "       clip_bench_driver sgemm [--threads N] [--rows M] [--seconds S]\n");
    return 2;
}
