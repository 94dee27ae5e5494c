/* The text test and OCR on files, the way the indexer runs them
 * (ocr_picture_text): decode at the analysis size, run the cheap test, and
 * (with --read) decode again at the size it asks for and read with
 * Tesseract. One JSON object per file on
 * stdout, for test_ocr.py and for measuring.
 *
 * usage: ocr_probe [--read] [--always] [--lang LANGS] FILE...
 *   --read     read the text of files the test says hold text
 *   --always   read every file, whatever the test says
 * Exit status: 0; 77 when --read is asked and Tesseract's data is missing;
 * 1 on a file that cannot be read or decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "caption/ocr.h"
#include "common/fsutil.h"
#include "image/image.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void print_json_string(const char *s)
{
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if (*c < 0x20)
            printf("\\u%04x", *c);
        else
            putchar(*c);
    }
    putchar('"');
}

typedef struct probe_ctx {
    const uint8_t *data;
    size_t len;
    const char *path;
    bool read, always;
    const char *langs;
    ocr_engine *engine;
    bool engine_failed;
    cs_error engine_err;
} probe_ctx;

static cs_status decode_at(int min_side, cs_decoded *out, void *user, cs_error *err)
{
    probe_ctx *c = user;
    cs_decode_options opt = {.target_min_side = min_side};
    return image_decode(c->data, c->len, c->path, &opt, out, err);
}

static ocr_engine *get_engine(void *user)
{
    probe_ctx *c = user;
    if (!c->read || c->engine_failed)
        return NULL;
    if (!c->engine && ocr_engine_new(c->langs, &c->engine, &c->engine_err) != CS_OK)
        c->engine_failed = true;
    return c->engine;
}

static void print_guess(const char *name, const ocr_text_guess *g)
{
    printf(", \"%s\": {\"likely\": %s, \"look_closer\": %s, \"candidates\": %d, "
           "\"in_rows\": %d, \"rows\": %d, \"lines\": %d, \"letter_height\": %.1f}", name,
           g->likely ? "true" : "false", g->look_closer ? "true" : "false", g->candidates,
           g->in_rows, g->rows, g->lines, (double)g->letter_height);
}

static int probe(probe_ctx *c)
{
    uint8_t *data = NULL;
    size_t len = 0;
    cs_error err = {0};
    if (fs_read_file(c->path, 1u << 30, &data, &len, &err) != CS_OK) {
        fprintf(stderr, "%s: %s\n", c->path, err.message);
        return 1;
    }
    c->data = data;
    c->len = len;
    double t0 = now_ms();
    cs_decoded decoded;
    if (decode_at(CS_ANALYSIS_MIN_SIDE, &decoded, c, &err) != CS_OK) {
        fprintf(stderr, "%s: %s\n", c->path, err.message);
        free(data);
        return 1;
    }
    double t1 = now_ms();
    ocr_outcome o;
    ocr_picture pic = {.analysis = &decoded, .decode = decode_at, .engine = get_engine, .user = c};
    int rc = 0;
    if (c->always) {
        /* read whatever the test says: for measuring Tesseract alone */
        memset(&o, 0, sizeof o);
        ocr_engine *e = get_engine(c);
        double t = now_ms();
        if (e && ocr_read(e, &decoded.image, 0, OCR_SPARSE, &o.text, &err) != CS_OK)
            rc = 1;
        o.read_ms = now_ms() - t;
        o.read = e != NULL;
        o.read_width = decoded.image.width;
        o.read_height = decoded.image.height;
    } else if (ocr_picture_text(&pic, &o, &err) != CS_OK) {
        fprintf(stderr, "%s: %s\n", c->path, err.message);
        image_decoded_free(&decoded);
        free(data);
        return 1;
    }
    printf("{\"path\": ");
    print_json_string(c->path);
    printf(", \"tested\": [%d, %d], \"decode_ms\": %.3f, \"test_ms\": %.3f, "
           "\"redecode_ms\": %.3f, \"looked_closer\": %s, \"read\": %s, \"read_size\": [%d, %d], "
           "\"ocr_ms\": %.3f", decoded.image.width, decoded.image.height, t1 - t0, o.test_ms,
           o.decode_ms, o.looked_closer ? "true" : "false", o.read ? "true" : "false",
           o.read_width, o.read_height, o.read_ms);
    print_guess("first", &o.first);
    if (o.looked_closer)
        print_guess("closer", &o.closer);
    printf(", \"likely\": %s, \"text\": ",
           (o.looked_closer ? o.closer.likely : o.first.likely) ? "true" : "false");
    print_json_string(o.text ? o.text : "");
    printf("}\n");
    fflush(stdout);
    ocr_outcome_free(&o);
    image_decoded_free(&decoded);
    free(data);
    if (c->engine_failed) {
        fprintf(stderr, "%s\n", c->engine_err.message);
        return c->engine_err.code == CS_ERR_NOMEM ? 1 : 77;
    }
    return rc;
}

int main(int argc, char **argv)
{
    bool read = false, always = false;
    const char *langs = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--read") == 0) {
            read = true;
        } else if (strcmp(argv[i], "--always") == 0) {
            read = always = true;
        } else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc) {
            langs = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--read] [--always] [--lang LANGS] FILE...\n", argv[0]);
            return 2;
        }
    }
    probe_ctx c = {.read = read, .always = always, .langs = langs};
    int status = 0;
    for (; i < argc; i++) {
        c.path = argv[i];
        int rc = probe(&c);
        if (rc == 77) {
            status = 77;
            break;
        }
        if (rc)
            status = 1;
    }
    ocr_engine_free(c.engine);
    return status;
}
