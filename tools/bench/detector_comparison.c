/* The C side of tools/bench/detector_comparison: runs each object detector
 * (CenterNet through the tagger API, NanoDet-g decoded here) with each
 * preprocessing (letterbox, stretch) and each score threshold over the given
 * pictures, and prints one JSON line per picture and combination:
 *
 *   {"detector": "nanodet", "preprocess": "letterbox", "threshold": 0.3,
 *    "file": "...", "ms": 123.4, "objects": [{"label": "cat", "score": 0.91,
 *    "box": [x1, y1, x2, y2]}, ...]}
 *
 *   detector_comparison_driver [--models DIR] [--thresholds 0.2,0.3,...]
 *                              [--detectors centernet,nanodet] FILE...
 *
 * Pictures are decoded once, as the indexer decodes them for the tagger
 * (short side >= TAGGER_DECODE_MIN_SIDE); "ms" is the detector alone on one
 * thread (one OpenBLAS thread): preprocessing, the graph and decoding.
 *
 * CenterNet: tagger_open on a folder holding only centernet's files, with
 * options.preprocess and options.object_threshold set (the tagger keeps
 * scores >= threshold and merges boxes of one class at IoU 0.5).
 *
 * NanoDet-g (416 x 416, NCHW; see /work/shared/specs/tfjs-models.md 3.2):
 *   input   BGR, (x - [103.53, 116.28, 123.675]) / [57.375, 57.12, 58.395],
 *           as trained (Human feeds RGB / 255, which does not match);
 *           letterbox pads with black (the normalised value of 0);
 *   outputs matched by shape: class scores [1, g*g, 80] (already sigmoid)
 *           and box distributions [1, g*g, 44] for strides 8, 16, 32
 *           (g = 52, 26, 13), cells in row-major order;
 *   decode  GFL: each side (left, top, right, bottom) has 11 bins; its
 *           distance is stride * sum_k k * softmax(bins)_k; the cell's
 *           centre is ((x + 0.5) * stride, (y + 0.5) * stride); boxes are
 *           clipped to the input; every class scoring >= threshold is a
 *           candidate (Human's decode takes the argmax bin instead and drops
 *           class 61, "toilet"; this follows upstream nanodet's gfl_head);
 *   NMS     per class at IoU 0.6, at most 100 boxes (upstream), then the
 *           tagger's cap of TAGGER_MAX_OBJECTS. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

#define ND_SIZE 416
#define ND_CLASSES 80
#define ND_BINS 11               /* reg_max 10 */
#define ND_REG (4 * ND_BINS)
#define ND_LEVELS 3
#define ND_NMS_IOU 0.6f
#define ND_MAX_BOXES 100
#define MAX_THRESHOLDS 8

static const int nd_strides[ND_LEVELS] = {8, 16, 32};
static const float nd_mean[3] = {103.53f, 116.28f, 123.675f};   /* B, G, R */
static const float nd_std[3] = {57.375f, 57.12f, 58.395f};

/* COCO's 80 classes in the detectors' order (src/models/tagger/labels.c has
 * them too, but not in a public header). */
static const char *const coco[ND_CLASSES] = {
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush"};

typedef struct picture {
    const char *file;
    cs_image image;
} picture;

/* ---- NanoDet ---- */

typedef struct nanodet {
    tfjs_model *model;
    tfjs_session *session;
    float *input;                      /* 3 x 416 x 416, NCHW */
    tagger_object *candidates;
    size_t cap;
} nanodet;

typedef struct nd_level {
    const float *scores;               /* [cells, 80] */
    const float *reg;                  /* [cells, 44] */
} nd_level;

static cs_status nanodet_open(const char *models, nanodet *nd, cs_error *err)
{
    memset(nd, 0, sizeof *nd);
    char path[4096 + 16];
    snprintf(path, sizeof path, "%s/nanodet.json", models);
    cs_status rc = tfjs_model_load(path, &nd->model, err);
    tfjs_shape shape = {4, {1, 3, ND_SIZE, ND_SIZE}};
    if (rc == CS_OK)
        rc = tfjs_session_new(nd->model, &shape, &nd->session, err);
    if (rc == CS_OK) {
        nd->input = malloc((size_t)3 * ND_SIZE * ND_SIZE * sizeof(float));
        nd->cap = 1024;
        nd->candidates = malloc(nd->cap * sizeof *nd->candidates);
        if (!nd->input || !nd->candidates)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory for nanodet");
    }
    return rc;
}

static void nanodet_close(nanodet *nd)
{
    tfjs_session_free(nd->session);
    tfjs_model_free(nd->model);
    free(nd->input);
    free(nd->candidates);
}

/* The picture onto the NCHW BGR normalised input; returns the placement
 * (input = picture * scale + offset). */
static cs_status nanodet_input(nanodet *nd, const cs_image *image, bool letterbox, float scale[2],
                               float offset[2], cs_error *err)
{
    int w = ND_SIZE, h = ND_SIZE;
    if (letterbox) {
        if (image->width >= image->height) {
            h = (int)((double)image->height * ND_SIZE / image->width + 0.5);
            h = h < 1 ? 1 : h;
        } else {
            w = (int)((double)image->width * ND_SIZE / image->height + 0.5);
            w = w < 1 ? 1 : w;
        }
    }
    cs_image small = {0};
    cs_status rc = image_resize(image, w, h, &small, err);
    if (rc != CS_OK)
        return rc;
    int ox = (ND_SIZE - w) / 2, oy = (ND_SIZE - h) / 2;
    const size_t plane = (size_t)ND_SIZE * ND_SIZE;
    for (int c = 0; c < 3; c++) {
        float black = (0.0f - nd_mean[c]) / nd_std[c];
        float *p = nd->input + c * plane;
        for (size_t i = 0; i < plane; i++)
            p[i] = black;
    }
    for (int y = 0; y < h; y++) {
        const uint8_t *src = small.pixels + (size_t)y * w * 3;
        size_t row = (size_t)(y + oy) * ND_SIZE + ox;
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {   /* channel c is B, G, R: source 2 - c */
                float v = src[3 * x + (2 - c)];
                nd->input[c * plane + row + x] = (v - nd_mean[c]) / nd_std[c];
            }
    }
    image_free(&small);
    scale[0] = (float)w / image->width;
    scale[1] = (float)h / image->height;
    offset[0] = (float)ox;
    offset[1] = (float)oy;
    return CS_OK;
}

/* The six outputs by their shapes. */
static cs_status nanodet_outputs(const nanodet *nd, nd_level levels[ND_LEVELS], cs_error *err)
{
    memset(levels, 0, ND_LEVELS * sizeof *levels);
    int n = tfjs_model_output_count(nd->model);
    for (int i = 0; i < n; i++) {
        tfjs_tensor t;
        cs_status rc = tfjs_session_output(nd->session, i, &t, err);
        if (rc != CS_OK)
            return rc;
        if (t.dtype != TFJS_FLOAT32 || t.shape.rank != 3 || t.shape.dims[0] != 1)
            continue;
        for (int l = 0; l < ND_LEVELS; l++) {
            int64_t g = ND_SIZE / nd_strides[l];
            if (t.shape.dims[1] != g * g)
                continue;
            if (t.shape.dims[2] == ND_CLASSES)
                levels[l].scores = t.data;
            else if (t.shape.dims[2] == ND_REG)
                levels[l].reg = t.data;
        }
    }
    for (int l = 0; l < ND_LEVELS; l++)
        if (!levels[l].scores || !levels[l].reg)
            return cs_error_set(err, CS_ERR_CORRUPT,
                                "nanodet has no [1,%d,80] and [1,%d,44] outputs for stride %d",
                                (ND_SIZE / nd_strides[l]) * (ND_SIZE / nd_strides[l]),
                                (ND_SIZE / nd_strides[l]) * (ND_SIZE / nd_strides[l]),
                                nd_strides[l]);
    return CS_OK;
}

/* Expected bin of a side's distribution: sum_k k * softmax(logits)_k. */
static float expected_bin(const float *logits)
{
    float max = logits[0];
    for (int k = 1; k < ND_BINS; k++)
        max = logits[k] > max ? logits[k] : max;
    float sum = 0, acc = 0;
    for (int k = 0; k < ND_BINS; k++) {
        float e = expf(logits[k] - max);
        sum += e;
        acc += e * (float)k;
    }
    return acc / sum;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static cs_status nanodet_run(nanodet *nd, const cs_image *image, bool letterbox, float threshold,
                             tagger_result *out, cs_error *err)
{
    memset(out, 0, sizeof *out);
    float scale[2], offset[2];
    cs_status rc = nanodet_input(nd, image, letterbox, scale, offset, err);
    if (rc == CS_OK)
        rc = tfjs_session_run(nd->session, nd->input, err);
    nd_level levels[ND_LEVELS];
    if (rc == CS_OK)
        rc = nanodet_outputs(nd, levels, err);
    if (rc != CS_OK)
        return rc;
    size_t n = 0;
    for (int l = 0; l < ND_LEVELS; l++) {
        int stride = nd_strides[l], g = ND_SIZE / stride;
        for (int cell = 0; cell < g * g; cell++) {
            const float *sc = levels[l].scores + (size_t)cell * ND_CLASSES;
            bool any = false;
            for (int c = 0; c < ND_CLASSES && !any; c++)
                any = sc[c] >= threshold;
            if (!any)
                continue;
            const float *reg = levels[l].reg + (size_t)cell * ND_REG;
            float cx = ((float)(cell % g) + 0.5f) * (float)stride;
            float cy = ((float)(cell / g) + 0.5f) * (float)stride;
            float box[4] = {
                clampf(cx - expected_bin(reg + 0 * ND_BINS) * (float)stride, 0, ND_SIZE),
                clampf(cy - expected_bin(reg + 1 * ND_BINS) * (float)stride, 0, ND_SIZE),
                clampf(cx + expected_bin(reg + 2 * ND_BINS) * (float)stride, 0, ND_SIZE),
                clampf(cy + expected_bin(reg + 3 * ND_BINS) * (float)stride, 0, ND_SIZE),
            };
            for (int c = 0; c < ND_CLASSES; c++) {
                if (!(sc[c] >= threshold))
                    continue;
                if (n == nd->cap) {
                    tagger_object *p = realloc(nd->candidates, 2 * nd->cap * sizeof *p);
                    if (!p)
                        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for detections");
                    nd->candidates = p;
                    nd->cap *= 2;
                }
                tagger_object *o = &nd->candidates[n++];
                o->class_id = c;
                o->label = coco[c];
                o->score = sc[c];
                memcpy(o->box, box, sizeof box);
            }
        }
    }
    if (n > 1 << 30)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "too many candidate boxes");
    int kept = tagger_nms(nd->candidates, (int)n, ND_NMS_IOU, true);
    if (kept > ND_MAX_BOXES)
        kept = ND_MAX_BOXES;
    /* back to picture pixels, best first, at most TAGGER_MAX_OBJECTS */
    for (int i = 0; i < kept && out->nobjects < TAGGER_MAX_OBJECTS; i++) {
        tagger_object o = nd->candidates[i];
        o.box[0] = clampf((o.box[0] - offset[0]) / scale[0], 0, (float)image->width);
        o.box[1] = clampf((o.box[1] - offset[1]) / scale[1], 0, (float)image->height);
        o.box[2] = clampf((o.box[2] - offset[0]) / scale[0], 0, (float)image->width);
        o.box[3] = clampf((o.box[3] - offset[1]) / scale[1], 0, (float)image->height);
        if (o.box[2] > o.box[0] && o.box[3] > o.box[1])
            out->objects[out->nobjects++] = o;
    }
    return CS_OK;
}

/* ---- CenterNet through the tagger ---- */

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096 + 256];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* A temporary folder with links to the models folder's centernet files only,
 * so that tagger_open loads the detector alone (no faces). */
static cs_status detector_only_dir(const char *models, char *out, size_t size, cs_error *err)
{
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(out, size, "%s/capsearch-detcmp-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "TMPDIR is too long");
    if (!mkdtemp(out))
        return cs_error_errno(err, errno, "creating a temporary folder", out);
    char abs[4096];
    DIR *d = realpath(models, abs) ? opendir(abs) : NULL;
    if (!d) {
        int e = errno;
        rmdir(out);
        return cs_error_errno(err, e, "reading the models folder", models);
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

/* ---- output ---- */

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    }
    putchar('"');
}

static void print_result(const char *detector, const char *preprocess, float threshold,
                         const char *file, double ms, const tagger_result *r)
{
    printf("{\"detector\": \"%s\", \"preprocess\": \"%s\", \"threshold\": %.2f, \"file\": ",
           detector, preprocess, threshold);
    json_string(file);
    printf(", \"ms\": %.2f, \"objects\": [", ms);
    for (int i = 0; i < r->nobjects; i++) {
        const tagger_object *o = &r->objects[i];
        printf("%s{\"label\": \"%s\", \"score\": %.3f, \"box\": [%.0f, %.0f, %.0f, %.0f]}",
               i ? ", " : "", o->label, o->score, o->box[0], o->box[1], o->box[2], o->box[3]);
    }
    printf("]}\n");
    fflush(stdout);
}

static int parse_thresholds(const char *arg, float *out, int max)
{
    int n = 0;
    const char *p = arg;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || n == max || !(v > 0 && v < 1) || (*end && *end != ','))
            return -1;
        out[n++] = (float)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

static bool model_present(const char *dir, const char *name)
{
    char path[4096 + 32];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        return true;
    fprintf(stderr, "missing model: %s\n", path);
    return false;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    char models[4096] = "";
    float thresholds[MAX_THRESHOLDS] = {0.2f, 0.3f, 0.4f, 0.5f};
    int nthresholds = 4;
    bool use_centernet = true, use_nanodet = true;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--models") == 0 && i + 1 < argc) {
            snprintf(models, sizeof models, "%s", argv[++i]);
        } else if (strcmp(argv[i], "--thresholds") == 0 && i + 1 < argc) {
            nthresholds = parse_thresholds(argv[++i], thresholds, MAX_THRESHOLDS);
            if (nthresholds <= 0) {
                fprintf(stderr, "--thresholds wants numbers in (0, 1) separated by commas\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--detectors") == 0 && i + 1 < argc) {
            const char *d = argv[++i];
            use_centernet = strstr(d, "centernet") != NULL;
            use_nanodet = strstr(d, "nanodet") != NULL;
        } else if (argv[i][0] == '-') {
            first = argc;
            break;
        } else {
            first = i;
            break;
        }
    }
    if (first >= argc || (!use_centernet && !use_nanodet)) {
        fprintf(stderr,
                "usage: %s [--models DIR] [--thresholds 0.2,0.3,...] "
                "[--detectors centernet,nanodet] FILE...\n",
                argv[0]);
        return 2;
    }
    cs_error err = {0};
    if (!*models && tagger_default_dir(models, sizeof models, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    bool ok = true;
    if (use_centernet)
        ok &= model_present(models, "centernet");
    if (use_nanodet)
        ok &= model_present(models, "nanodet");
    if (!ok) {
        fprintf(stderr, "install the models with tools/fetch-models.sh (or pass --models DIR)\n");
        return 1;
    }
    nn_set_blas_threads(1);

    int npics = 0, rc = 1;
    picture *pics = calloc((size_t)(argc - first), sizeof *pics);
    tagger_result *result = malloc(sizeof *result);
    char det_dir[4096] = "";
    nanodet nd = {0};
    if (!pics || !result) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    cs_decode_options opt = {.target_min_side = TAGGER_DECODE_MIN_SIDE, .max_pixels = 0};
    for (int i = first; i < argc; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        cs_decoded dec;
        if (fs_read_file(argv[i], (uint64_t)1 << 30, &data, &len, &err) != CS_OK ||
            image_decode(data, len, argv[i], &opt, &dec, &err) != CS_OK) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            free(data);
            goto done;
        }
        free(data);
        pics[npics].file = argv[i];
        pics[npics].image = dec.image;
        dec.image.pixels = NULL;
        image_decoded_free(&dec);
        npics++;
    }

    static const char *const prep_names[2] = {"letterbox", "stretch"};
    if (use_centernet) {
        if (detector_only_dir(models, det_dir, sizeof det_dir, &err) != CS_OK)
            goto done;
        for (int p = 0; p < 2; p++)
            for (int t = 0; t < nthresholds; t++) {
                tagger_options o = {.object_threshold = thresholds[t],
                                    .preprocess = p == 0 ? TAGGER_LETTERBOX : TAGGER_STRETCH};
                tagger *tg = NULL;
                tagger_session *s = NULL;
                cs_status st = tagger_open(det_dir, &o, &tg, &err);
                if (st == CS_OK && !tagger_has(tg, TAGGER_OBJECTS))
                    st = cs_error_set(&err, CS_ERR_NOT_FOUND, "the tagger did not load centernet");
                if (st == CS_OK)
                    st = tagger_session_new(tg, &s, &err);
                if (st == CS_OK)   /* warm-up */
                    st = tagger_run(s, &pics[0].image, result, &err);
                for (int i = 0; i < npics && st == CS_OK; i++) {
                    double t0 = fs_now_seconds();
                    st = tagger_run(s, &pics[i].image, result, &err);
                    double ms = (fs_now_seconds() - t0) * 1e3;
                    if (st == CS_OK)
                        print_result("centernet", prep_names[p], thresholds[t], pics[i].file, ms,
                                     result);
                    else
                        cs_error_prefix(&err, "%s: ", pics[i].file);
                }
                tagger_session_free(s);
                tagger_free(tg);
                if (st != CS_OK)
                    goto done;
            }
    }
    if (use_nanodet) {
        if (nanodet_open(models, &nd, &err) != CS_OK)
            goto done;
        for (int p = 0; p < 2; p++)
            for (int t = 0; t < nthresholds; t++) {
                cs_status st = nanodet_run(&nd, &pics[0].image, p == 0, thresholds[t], result,
                                           &err);   /* warm-up */
                for (int i = 0; i < npics && st == CS_OK; i++) {
                    double t0 = fs_now_seconds();
                    st = nanodet_run(&nd, &pics[i].image, p == 0, thresholds[t], result, &err);
                    double ms = (fs_now_seconds() - t0) * 1e3;
                    if (st == CS_OK)
                        print_result("nanodet", prep_names[p], thresholds[t], pics[i].file, ms,
                                     result);
                    else
                        cs_error_prefix(&err, "%s: ", pics[i].file);
                }
                if (st != CS_OK)
                    goto done;
            }
    }
    rc = 0;
done:
    if (rc != 0 && err.message[0])
        fprintf(stderr, "detector_comparison_driver: %s\n", err.message);
    nanodet_close(&nd);
    if (det_dir[0])
        remove_dir(det_dir);
    for (int i = 0; i < npics; i++)
        image_free(&pics[i].image);
    free(pics);
    free(result);
    return rc;
}
