/* The C side of tools/bench/tagger: images/s of capsearch's tagger over a
 * set of pictures. The pictures are decoded once up front, as the indexer
 * decodes them for the tagger (short side >= TAGGER_DECODE_MIN_SIDE); that
 * decoding is timed on its own and not counted in images/s. Each thread has
 * its own session and one OpenBLAS thread; the threads share the pictures
 * through a counter, so faster threads take more of them.
 *
 *   tagger_bench_driver [--models DIR] [--passes N] [--dump DIR]
 *                       --configs MODE:THREADS[,MODE:THREADS...] FILE...
 *
 * MODE is one of
 *   tagger          tagger_run with centernet, blazeface and emotion: objects,
 *                   faces and the expression of every face big enough, with
 *                   the pictures put onto the models' inputs (resize and
 *                   letterbox) and the outputs decoded;
 *   detector        tagger_run with only centernet installed (objects);
 *   tagger-graphs   the three graphs alone on ready input tensors, the ones
 *                   TF.js gets (see --dump): centernet and blazeface on each
 *                   picture, emotion on each face crop the tagger classified;
 *   detector-graph  centernet's graph alone on its ready input tensor.
 * Each config runs PASSES passes over all pictures after one warm-up run per
 * thread, and prints one JSON line. The first line describes the pictures
 * (count, decode time, faces, crops).
 *
 * --dump DIR writes the ready input tensors for
 * tests/tfjs/bench_tagger_wasm.mjs: manifest.json, detector.f32 [N,512,512,3]
 * (RGB 0..255, letterboxed as the tagger does by default), faces.f32
 * [N,256,256,3] (RGB in [-1,1], letterboxed), crops.f32 [M,64,64,1] (grey in
 * [-1,1]: the face crops the tagger ran emotion on, in picture order) and
 * crops_per_image in the manifest. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "image/image.h"
#include "models/tagger/tagger.h"
#include "models/tagger/tfjs.h"
#include "nn/nn.h"

#ifndef TAGGER_DECODE_MIN_SIDE
#define TAGGER_DECODE_MIN_SIDE 384
#endif

#define DET_SIZE 512
#define FACE_SIZE 256
#define CROP_SIZE 64
#define DET_FLOATS ((size_t)DET_SIZE * DET_SIZE * 3)
#define FACE_FLOATS ((size_t)FACE_SIZE * FACE_SIZE * 3)
#define CROP_FLOATS ((size_t)CROP_SIZE * CROP_SIZE)
/* As in src/models/tagger/faces.c: the expression model's crop margin. */
#define FACE_MARGIN 1.2f
#define MAX_CONFIGS 16

typedef enum mode { MODE_TAGGER, MODE_DETECTOR, MODE_TAGGER_GRAPHS, MODE_DETECTOR_GRAPH } mode;
static const char *const mode_names[] = {"tagger", "detector", "tagger-graphs", "detector-graph"};

typedef struct config {
    mode mode;
    int threads;
} config;

/* The pictures and, for the graph modes, their ready input tensors. */
typedef struct picture_set {
    int n;
    cs_image *images;
    char **names;
    float *det;          /* n x DET_FLOATS */
    float *faces;        /* n x FACE_FLOATS */
    float *crops;        /* ncrops x CROP_FLOATS */
    int *crop_start;     /* n + 1: crops of picture i are crop_start[i] .. crop_start[i+1]-1 */
    int ncrops;
    int nfaces;
    int nobjects;
} picture_set;

typedef struct shared {
    const picture_set *set;
    mode mode;
    tagger *tagger;                 /* tagger modes */
    const tfjs_model *det, *face, *emotion;   /* graph modes */
    long total;
    atomic_long next;
    pthread_barrier_t start;
} shared;

typedef struct worker {
    shared *sh;
    cs_status rc;
    cs_error err;
} worker;

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "tagger_bench_driver: out of memory (%zu x %zu bytes)\n", n, size);
        exit(1);
    }
    return p;
}

/* ---- putting pictures on the models' inputs (as src/models/tagger does) ---- */

/* Letterbox: the longer side fills size x size, centred, the rest black;
 * values are pixel * mul + add. */
static cs_status place(const cs_image *image, int size, float mul, float add, float *input,
                       cs_error *err)
{
    int w = size, h = size;
    if (image->width >= image->height) {
        h = (int)((double)image->height * size / image->width + 0.5);
        h = h < 1 ? 1 : h;
    } else {
        w = (int)((double)image->width * size / image->height + 0.5);
        w = w < 1 ? 1 : w;
    }
    cs_image small = {0};
    cs_status rc = image_resize(image, w, h, &small, err);
    if (rc != CS_OK)
        return rc;
    int ox = (size - w) / 2, oy = (size - h) / 2;
    for (size_t i = 0; i < (size_t)size * size * 3; i++)
        input[i] = add;
    for (int y = 0; y < h; y++) {
        const uint8_t *src = small.pixels + (size_t)y * w * 3;
        float *dst = input + ((size_t)(y + oy) * size + ox) * 3;
        for (int x = 0; x < w * 3; x++)
            dst[x] = src[x] * mul + add;
    }
    image_free(&small);
    return CS_OK;
}

/* The emotion model's input for a face: the square around it with a margin,
 * 64 x 64 grey in [-1, 1] (as faces.c's expression_input). */
static cs_status face_crop(const cs_image *image, const float box[4], float *input, cs_error *err)
{
    float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
    float side = (box[2] - box[0] > box[3] - box[1] ? box[2] - box[0] : box[3] - box[1]) *
                 FACE_MARGIN;
    int x0 = (int)(cx - side / 2 > 0 ? cx - side / 2 : 0);
    int y0 = (int)(cy - side / 2 > 0 ? cy - side / 2 : 0);
    int x1 = (int)(cx + side / 2 < image->width ? cx + side / 2 : (float)image->width);
    int y1 = (int)(cy + side / 2 < image->height ? cy + side / 2 : (float)image->height);
    if (x1 - x0 < 2 || y1 - y0 < 2)
        return cs_error_set(err, CS_ERR_INVALID, "face too small");
    cs_image crop = {x1 - x0, y1 - y0, malloc((size_t)(x1 - x0) * (y1 - y0) * 3)};
    if (!crop.pixels)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (int y = y0; y < y1; y++)
        memcpy(crop.pixels + (size_t)(y - y0) * crop.width * 3,
               image->pixels + ((size_t)y * image->width + x0) * 3, (size_t)crop.width * 3);
    cs_image small = {0};
    cs_status rc = image_resize(&crop, CROP_SIZE, CROP_SIZE, &small, err);
    free(crop.pixels);
    if (rc != CS_OK)
        return rc;
    for (size_t i = 0; i < CROP_FLOATS; i++) {
        const uint8_t *p = small.pixels + 3 * i;
        float g = (0.2989f * p[0] + 0.5870f * p[1] + 0.1140f * p[2]) / 255.0f;
        input[i] = (g - 0.5f) * 2.0f;
    }
    image_free(&small);
    return CS_OK;
}

/* ---- models ---- */

static bool file_exists(const char *dir, const char *name, const char *ext)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A temporary folder with links to the models folder's centernet files only,
 * so that tagger_open loads the detector alone. */
static cs_status detector_only_dir(const char *models, char *out, size_t size, cs_error *err)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(out, size, "%s/capsearch-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "TMPDIR is too long");
    if (!mkdtemp(out))
        return cs_error_errno(err, errno, "creating a temporary folder", out);
    DIR *d = opendir(models);
    if (!d) {
        rmdir(out);
        return cs_error_errno(err, errno, "reading the models folder", models);
    }
    char abs[4096];
    if (!realpath(models, abs)) {
        closedir(d);
        rmdir(out);
        return cs_error_errno(err, errno, "resolving the models folder", models);
    }
    struct dirent *e;
    cs_status rc = CS_OK;
    while (rc == CS_OK && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "centernet", 9) != 0)
            continue;
        char from[8192], to[8192];
        snprintf(from, sizeof from, "%s/%s", abs, e->d_name);
        snprintf(to, sizeof to, "%s/%s", out, e->d_name);
        if (symlink(from, to) != 0)
            rc = cs_error_errno(err, errno, "linking a model file into", out);
    }
    closedir(d);
    if (rc != CS_OK)
        remove_dir(out);
    return rc;
}

/* ---- the pictures ---- */

static cs_status decode_all(char **files, int nfiles, picture_set *set, double *seconds,
                            cs_error *err)
{
    set->images = xcalloc((size_t)nfiles, sizeof *set->images);
    set->names = xcalloc((size_t)nfiles, sizeof *set->names);
    cs_decode_options opt = {.target_min_side = TAGGER_DECODE_MIN_SIDE, .max_pixels = 0};
    double t0 = fs_now_seconds();
    for (int i = 0; i < nfiles; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        cs_error e = {0};
        cs_decoded dec;
        if (fs_read_file(files[i], (uint64_t)1 << 30, &data, &len, &e) != CS_OK ||
            image_decode(data, len, files[i], &opt, &dec, &e) != CS_OK) {
            fprintf(stderr, "skipping %s: %s\n", files[i], e.message);
            free(data);
            continue;
        }
        free(data);
        set->images[set->n] = dec.image;   /* the pixels move to the set */
        dec.image.pixels = NULL;
        image_decoded_free(&dec);
        set->names[set->n] = files[i];
        set->n++;
    }
    *seconds = fs_now_seconds() - t0;
    if (set->n == 0)
        return cs_error_set(err, CS_ERR_INVALID, "no picture could be decoded");
    return CS_OK;
}

/* The graph modes' input tensors; also counts the tagger's objects and faces
 * and finds which faces it runs emotion on. */
static cs_status prepare_tensors(tagger *t, picture_set *set, cs_error *err)
{
    set->det = malloc((size_t)set->n * DET_FLOATS * sizeof(float));
    set->faces = malloc((size_t)set->n * FACE_FLOATS * sizeof(float));
    set->crop_start = xcalloc((size_t)set->n + 1, sizeof *set->crop_start);
    if (!set->det || !set->faces)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %d input tensors", set->n);
    tagger_session *s = NULL;
    tagger_result *r = xcalloc(1, sizeof *r);
    cs_status rc = tagger_session_new(t, &s, err);
    int cap = 0;
    for (int i = 0; i < set->n && rc == CS_OK; i++) {
        const cs_image *im = &set->images[i];
        rc = place(im, DET_SIZE, 1.0f, 0.0f, set->det + (size_t)i * DET_FLOATS, err);
        if (rc == CS_OK)
            rc = place(im, FACE_SIZE, 1.0f / 127.5f, -1.0f, set->faces + (size_t)i * FACE_FLOATS,
                       err);
        if (rc == CS_OK)
            rc = tagger_run(s, im, r, err);
        if (rc != CS_OK) {
            cs_error_prefix(err, "%s: ", set->names[i]);
            break;
        }
        set->nobjects += r->nobjects;
        set->nfaces += r->nfaces;
        set->crop_start[i] = set->ncrops;
        for (int f = 0; f < r->nfaces && rc == CS_OK; f++) {
            if (!r->faces[f].expression)
                continue;
            if (set->ncrops == cap) {
                cap = cap ? 2 * cap : 16;
                float *p = realloc(set->crops, (size_t)cap * CROP_FLOATS * sizeof(float));
                if (!p) {
                    rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory for face crops");
                    break;
                }
                set->crops = p;
            }
            rc = face_crop(im, r->faces[f].box, set->crops + (size_t)set->ncrops * CROP_FLOATS,
                           err);
            if (rc == CS_OK)
                set->ncrops++;
            else if (rc == CS_ERR_INVALID)   /* too small: the tagger skips it too */
                rc = CS_OK;
        }
    }
    set->crop_start[set->n] = set->ncrops;
    tagger_session_free(s);
    free(r);
    return rc;
}

static cs_status write_floats(const char *dir, const char *name, const float *data, size_t n,
                              cs_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return cs_error_errno(err, errno, "creating", path);
    size_t wrote = n ? fwrite(data, sizeof(float), n, f) : 0;
    int werr = ferror(f);
    if (fclose(f) != 0 || wrote != n || werr)
        return cs_error_errno(err, errno ? errno : EIO, "writing", path);
    return CS_OK;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static cs_status dump(const char *dir, const picture_set *set, cs_error *err)
{
    if (fs_mkdir_p(dir, err) != CS_OK)
        return err->code;
    cs_status rc = write_floats(dir, "detector.f32", set->det, (size_t)set->n * DET_FLOATS, err);
    if (rc == CS_OK)
        rc = write_floats(dir, "faces.f32", set->faces, (size_t)set->n * FACE_FLOATS, err);
    if (rc == CS_OK)
        rc = write_floats(dir, "crops.f32", set->crops, (size_t)set->ncrops * CROP_FLOATS, err);
    if (rc != CS_OK)
        return rc;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return cs_error_errno(err, errno, "creating", path);
    fprintf(f, "{\"images\": %d, \"crops\": %d, \"detector_shape\": [%d, %d, 3], "
               "\"faces_shape\": [%d, %d, 3], \"crop_shape\": [%d, %d, 1],\n \"files\": [",
            set->n, set->ncrops, DET_SIZE, DET_SIZE, FACE_SIZE, FACE_SIZE, CROP_SIZE, CROP_SIZE);
    for (int i = 0; i < set->n; i++) {
        if (i)
            fputs(", ", f);
        json_string(f, set->names[i]);
    }
    fputs("],\n \"crops_per_image\": [", f);
    for (int i = 0; i < set->n; i++)
        fprintf(f, "%s%d", i ? ", " : "", set->crop_start[i + 1] - set->crop_start[i]);
    fputs("]}\n", f);
    if (ferror(f) | (fclose(f) != 0))
        return cs_error_set(err, CS_ERR_IO, "writing %s failed", path);
    return CS_OK;
}

/* ---- running ---- */

typedef struct sessions {
    tagger_session *tagger;
    tfjs_session *det, *face, *emotion;
    tagger_result *result;
} sessions;

static cs_status open_sessions(shared *sh, sessions *ss, cs_error *err)
{
    memset(ss, 0, sizeof *ss);
    if (sh->mode == MODE_TAGGER || sh->mode == MODE_DETECTOR) {
        ss->result = malloc(sizeof *ss->result);
        if (!ss->result)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        return tagger_session_new(sh->tagger, &ss->tagger, err);
    }
    tfjs_shape ds = {4, {1, DET_SIZE, DET_SIZE, 3}};
    cs_status rc = tfjs_session_new(sh->det, &ds, &ss->det, err);
    if (rc == CS_OK && sh->mode == MODE_TAGGER_GRAPHS) {
        tfjs_shape fs = {4, {1, FACE_SIZE, FACE_SIZE, 3}}, es = {4, {1, CROP_SIZE, CROP_SIZE, 1}};
        rc = tfjs_session_new(sh->face, &fs, &ss->face, err);
        if (rc == CS_OK)
            rc = tfjs_session_new(sh->emotion, &es, &ss->emotion, err);
    }
    return rc;
}

static void close_sessions(sessions *ss)
{
    tagger_session_free(ss->tagger);
    tfjs_session_free(ss->det);
    tfjs_session_free(ss->face);
    tfjs_session_free(ss->emotion);
    free(ss->result);
}

static cs_status process(shared *sh, sessions *ss, int i, cs_error *err)
{
    const picture_set *set = sh->set;
    if (ss->tagger)
        return tagger_run(ss->tagger, &set->images[i], ss->result, err);
    tfjs_tensor out;
    cs_status rc = tfjs_session_run(ss->det, set->det + (size_t)i * DET_FLOATS, err);
    if (rc == CS_OK)
        rc = tfjs_session_output(ss->det, 0, &out, err);
    if (rc != CS_OK || sh->mode == MODE_DETECTOR_GRAPH)
        return rc;
    rc = tfjs_session_run(ss->face, set->faces + (size_t)i * FACE_FLOATS, err);
    for (int c = set->crop_start[i]; c < set->crop_start[i + 1] && rc == CS_OK; c++)
        rc = tfjs_session_run(ss->emotion, set->crops + (size_t)c * CROP_FLOATS, err);
    return rc;
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    sessions ss;
    w->rc = open_sessions(sh, &ss, &w->err);
    /* warm-up: the first picture with a face crop if there is one */
    int warm = 0;
    for (int i = 0; i < sh->set->n; i++)
        if (sh->set->crop_start[i + 1] > sh->set->crop_start[i]) {
            warm = i;
            break;
        }
    if (w->rc == CS_OK)
        w->rc = process(sh, &ss, warm, &w->err);
    pthread_barrier_wait(&sh->start);
    while (w->rc == CS_OK) {
        long k = atomic_fetch_add(&sh->next, 1);
        if (k >= sh->total)
            break;
        w->rc = process(sh, &ss, (int)(k % sh->set->n), &w->err);
    }
    close_sessions(&ss);
    return NULL;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
}

static int run_config(const config *c, shared *sh, int passes)
{
    sh->mode = c->mode;
    sh->total = (long)passes * sh->set->n;
    atomic_store(&sh->next, 0);
    pthread_barrier_init(&sh->start, NULL, (unsigned)c->threads + 1);
    worker *ws = xcalloc((size_t)c->threads, sizeof *ws);
    pthread_t *tids = xcalloc((size_t)c->threads, sizeof *tids);
    int started = 0;
    for (int t = 0; t < c->threads; t++) {
        ws[t].sh = sh;
        if (pthread_create(&tids[t], NULL, work, &ws[t]) != 0) {
            fprintf(stderr, "cannot start thread %d\n", t);
            exit(1);   /* the barrier would never open */
        }
        started++;
    }
    pthread_barrier_wait(&sh->start);
    double t0 = fs_now_seconds(), cpu0 = cpu_seconds();
    for (int t = 0; t < started; t++)
        pthread_join(tids[t], NULL);
    double secs = fs_now_seconds() - t0, cpu = cpu_seconds() - cpu0;
    pthread_barrier_destroy(&sh->start);
    int rc = 0;
    for (int t = 0; t < c->threads; t++)
        if (ws[t].rc != CS_OK) {
            fprintf(stderr, "%s, thread %d: %s\n", mode_names[c->mode], t, ws[t].err.message);
            rc = 1;
        }
    if (rc == 0)
        printf("{\"side\": \"capsearch\", \"mode\": \"%s\", \"threads\": %d, \"images\": %ld, "
               "\"seconds\": %.4f, \"images_per_s\": %.3f, \"cpu_ms_per_image\": %.2f}\n",
               mode_names[c->mode], c->threads, sh->total, secs, sh->total / secs,
               cpu * 1e3 / sh->total);
    fflush(stdout);
    free(ws);
    free(tids);
    return rc;
}

static int parse_configs(const char *arg, config *out, int max)
{
    int n = 0;
    const char *p = arg;
    while (*p) {
        if (n == max)
            return -1;
        const char *colon = strchr(p, ':');
        if (!colon)
            return -1;
        size_t len = (size_t)(colon - p);
        int m = -1;
        for (int k = 0; k < 4; k++)
            if (strlen(mode_names[k]) == len && strncmp(p, mode_names[k], len) == 0)
                m = k;
        char *end;
        long threads = strtol(colon + 1, &end, 10);
        if (m < 0 || threads < 1 || threads > 256 || (*end && *end != ','))
            return -1;
        out[n++] = (config){(mode)m, (int)threads};
        p = *end ? end + 1 : end;
    }
    return n;
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--models DIR] [--passes N] [--dump DIR]\n"
            "          --configs MODE:THREADS[,...] FILE...\n"
            "MODE: tagger, detector, tagger-graphs, detector-graph\n",
            argv0);
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    char models[4096] = "";
    const char *dump_dir = NULL, *configs_arg = NULL;
    int passes = 1, first_file = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--models") == 0 && i + 1 < argc)
            snprintf(models, sizeof models, "%s", argv[++i]);
        else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc)
            passes = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
            dump_dir = argv[++i];
        else if (strcmp(argv[i], "--configs") == 0 && i + 1 < argc)
            configs_arg = argv[++i];
        else if (argv[i][0] == '-') {
            usage(argv[0]);
            return 2;
        } else {
            first_file = i;
            break;
        }
    }
    config configs[MAX_CONFIGS];
    int nconfigs = configs_arg ? parse_configs(configs_arg, configs, MAX_CONFIGS) : 0;
    if (nconfigs < 0 || (nconfigs == 0 && !dump_dir) || passes < 1 || first_file >= argc) {
        usage(argv[0]);
        return 2;
    }
    cs_error err = {0};
    if (!*models && tagger_default_dir(models, sizeof models, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    static const char *const needed[] = {"centernet", "blazeface", "emotion"};
    int missing = 0;
    for (int k = 0; k < 3; k++)
        if (!file_exists(models, needed[k], ".json")) {
            fprintf(stderr, "missing model: %s/%s.json\n", models, needed[k]);
            missing++;
        }
    if (missing) {
        fprintf(stderr, "install the models with tools/fetch-models.sh (or pass --models DIR)\n");
        return 1;
    }
    nn_set_blas_threads(1);

    picture_set set = {0};
    double decode_s = 0;
    tagger *full = NULL, *det_only = NULL;
    tfjs_model *det = NULL, *face = NULL, *emotion = NULL;
    char det_dir[4096] = "";
    int rc = 1;
    if (decode_all(argv + first_file, argc - first_file, &set, &decode_s, &err) != CS_OK ||
        tagger_open(models, NULL, &full, &err) != CS_OK)
        goto done;
    if (!tagger_has(full, TAGGER_OBJECTS) || !tagger_has(full, TAGGER_EXPRESSIONS)) {
        fprintf(stderr, "the tagger in %s did not load all of centernet, blazeface, emotion (%s)\n",
                models, tagger_describe(full));
        goto done;
    }
    if (prepare_tensors(full, &set, &err) != CS_OK)
        goto done;
    printf("{\"pictures\": %d, \"decode_ms_per_image\": %.2f, \"decode_min_side\": %d, "
           "\"objects\": %d, \"faces\": %d, \"crops\": %d}\n",
           set.n, decode_s * 1e3 / set.n, TAGGER_DECODE_MIN_SIDE, set.nobjects, set.nfaces,
           set.ncrops);
    fflush(stdout);
    if (dump_dir && dump(dump_dir, &set, &err) != CS_OK)
        goto done;

    char path[4096 + 32];
    const char *names[3] = {"centernet", "blazeface", "emotion"};
    tfjs_model **slots[3] = {&det, &face, &emotion};
    bool graphs = false, detector = false;
    for (int c = 0; c < nconfigs; c++) {
        graphs |= configs[c].mode == MODE_TAGGER_GRAPHS || configs[c].mode == MODE_DETECTOR_GRAPH;
        detector |= configs[c].mode == MODE_DETECTOR;
    }
    for (int k = 0; k < 3 && graphs; k++) {
        snprintf(path, sizeof path, "%s/%s.json", models, names[k]);
        if (tfjs_model_load(path, slots[k], &err) != CS_OK)
            goto done;
    }
    if (detector && (detector_only_dir(models, det_dir, sizeof det_dir, &err) != CS_OK ||
                     tagger_open(det_dir, NULL, &det_only, &err) != CS_OK))
        goto done;

    shared sh = {.set = &set, .det = det, .face = face, .emotion = emotion};
    rc = 0;
    for (int c = 0; c < nconfigs && rc == 0; c++) {
        sh.tagger = configs[c].mode == MODE_DETECTOR ? det_only : full;
        rc = run_config(&configs[c], &sh, passes);
    }
done:
    if (err.message[0] && rc != 0)
        fprintf(stderr, "tagger_bench_driver: %s\n", err.message);
    tagger_free(full);
    tagger_free(det_only);
    if (det_dir[0])
        remove_dir(det_dir);
    tfjs_model_free(det);
    tfjs_model_free(face);
    tfjs_model_free(emotion);
    for (int i = 0; i < set.n; i++)
        image_free(&set.images[i]);
    free(set.images);
    free(set.names);
    free(set.det);
    free(set.faces);
    free(set.crops);
    free(set.crop_start);
    return rc;
}
