/* Shared by the library tests: the fixture facts (fixtures.py makes the
 * pictures to match), indexing them, finding their ids, decoding a thumbnail
 * with TurboJPEG (independently of capsearch's own decoder). */
#ifndef CS_TEST_LIBTEST_H
#define CS_TEST_LIBTEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "capsearch/capsearch.h"

/* The pictures as a viewer shows them (after EXIF orientation). */
typedef struct fixture {
    const char *name;
    const char *word;        /* a word of its file name, to find it by search */
    int width, height;
    const char *format;
} fixture;

enum { F_ROTATED, F_PHOTO, F_SMALL, F_TALL, F_GONE, F_COUNT };

static const fixture FIXTURES[F_COUNT] = {
    /* stored 160x240, EXIF Orientation 6; quadrants QUAD_RGBW */
    [F_ROTATED] = {"rotated.jpg", "rotated", 240, 160, "jpeg"},
    [F_PHOTO] = {"photo.jpg", "photo", 1600, 1000, "jpeg"},
    [F_SMALL] = {"small.png", "small", 40, 30, "png"},
    /* quadrants QUAD_YMCK, upright */
    [F_TALL] = {"tall.png", "tall", 90, 300, "png"},
    [F_GONE] = {"gone.jpg", "gone", 300, 200, "jpeg"},
};

/* Thumbnail size for a picture: longer side `size`, never enlarged, the
 * shorter side in proportion (rounded). */
static inline void expected_thumb(const fixture *f, int size, int *w, int *h)
{
    int longer = f->width > f->height ? f->width : f->height;
    if (longer <= size) {
        *w = f->width;
        *h = f->height;
        return;
    }
    *w = (int)lround((double)f->width * size / longer);
    *h = (int)lround((double)f->height * size / longer);
}

static inline char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static inline uint8_t *read_whole(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *bigger = realloc(buf, cap);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
        }
        size_t got = fread(buf + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    return buf;
}

/* The id of the indexed picture at `path` (0 when not found). Found through
 * the public search API by a word of its file name. */
static inline int64_t find_id(cs_library *lib, const char *word, const char *path)
{
    cs_error err;
    cs_results *results = NULL;
    cs_search_options options = {.k = 50};
    if (cs_search(lib, word, &options, &results, &err) != CS_OK) {
        fprintf(stderr, "search '%s' failed: %s\n", word, err.message);
        return 0;
    }
    int64_t id = 0;
    for (size_t i = 0; i < results->count; i++)
        if (strcmp(results->items[i].path, path) == 0)
            id = results->items[i].id;
    cs_results_free(results);
    return id;
}

/* A decoded JPEG: RGB, rows packed. */
typedef struct rgb_image {
    int width, height;
    uint8_t *pixels;
} rgb_image;

/* Decodes with TurboJPEG; 0 on success. */
static inline int decode_jpeg(const uint8_t *data, size_t len, rgb_image *out)
{
    memset(out, 0, sizeof *out);
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return -1;
    int w, h, subsamp, colorspace;
    int rc = tjDecompressHeader3(tj, data, (unsigned long)len, &w, &h, &subsamp, &colorspace);
    if (rc == 0) {
        out->pixels = malloc((size_t)w * (size_t)h * 3);
        rc = out->pixels ? tjDecompress2(tj, data, (unsigned long)len, out->pixels, w, 0, h,
                                         TJPF_RGB, 0)
                         : -1;
    }
    tjDestroy(tj);
    if (rc != 0) {
        free(out->pixels);
        out->pixels = NULL;
        return -1;
    }
    out->width = w;
    out->height = h;
    return 0;
}

/* Whether the pixel at fractions (fx, fy) of the picture is within `tol` of
 * the colour on every channel. */
static inline int pixel_is(const rgb_image *img, double fx, double fy, const uint8_t rgb[3],
                           int tol)
{
    int x = (int)(fx * img->width), y = (int)(fy * img->height);
    const uint8_t *p = img->pixels + ((size_t)y * (size_t)img->width + (size_t)x) * 3;
    for (int c = 0; c < 3; c++)
        if (abs((int)p[c] - (int)rgb[c]) > tol)
            return 0;
    return 1;
}

/* The quadrant pictures' colours: top-left, top-right, bottom-left,
 * bottom-right (fixtures.py RGBW and YMCK). */
static const uint8_t QUAD_RGBW[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
static const uint8_t QUAD_YMCK[4][3] = {{255, 255, 0}, {255, 0, 255}, {0, 255, 255}, {0, 0, 0}};

/* Whether a quadrant picture is shown upright (sampled at the quadrants'
 * centres). */
static inline int quadrants_upright(const rgb_image *img, const uint8_t colours[4][3])
{
    return pixel_is(img, 0.25, 0.25, colours[0], 40) && pixel_is(img, 0.75, 0.25, colours[1], 40) &&
           pixel_is(img, 0.25, 0.75, colours[2], 40) && pixel_is(img, 0.75, 0.75, colours[3], 40);
}

#endif
