/* Driver for test_clip_preprocess.py.
 *
 *   clip_preprocess_run run IN.rgb W H OW OH OUT.rgb SIZE OUT.f32 [M0 M1 M2 S0 S1 S2]
 *       reads W x H raw RGB, writes clip_resize_bicubic_aa to OW x OH (raw
 *       RGB) and clip_preprocess at SIZE (raw float32, 3 x SIZE x SIZE; the
 *       CLIP defaults unless a mean and std are given). OW = 0 skips the
 *       resize, SIZE = 0 the preprocessing.
 *   clip_preprocess_run decode FILE OUT.rgb
 *       decodes FILE at full size with image_decode, writes raw RGB and
 *       prints "W H".
 *   clip_preprocess_run errors
 *       checks argument errors and a few exact results in C.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "models/clip/preprocess.h"

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        perror(path);
        if (f) {
            fclose(f);
        }
        return 1;
    }
    return fclose(f) != 0;
}

static int cmd_run(int argc, char **argv)
{
    if (argc != 10 && argc != 16) {
        fprintf(stderr, "usage: run IN.rgb W H OW OH OUT.rgb SIZE OUT.f32 [mean std]\n");
        return 2;
    }
    cs_image src = {atoi(argv[3]), atoi(argv[4]), NULL};
    int ow = atoi(argv[5]), oh = atoi(argv[6]), size = atoi(argv[8]);
    size_t len = 0;
    src.pixels = read_file(argv[2], &len);
    if (!src.pixels || len != (size_t)src.width * (size_t)src.height * 3) {
        fprintf(stderr, "%s: expected %d x %d RGB bytes, got %zu\n", argv[2], src.width,
                src.height, len);
        free(src.pixels);
        return 2;
    }
    int rc = 0;
    cs_error err = {0};
    if (ow > 0) {
        cs_image dst;
        if (clip_resize_bicubic_aa(&src, ow, oh, &dst, &err) != CS_OK) {
            fprintf(stderr, "resize: %s\n", err.message);
            rc = 1;
        } else {
            rc |= write_file(argv[7], dst.pixels, (size_t)ow * (size_t)oh * 3);
            image_free(&dst);
        }
    }
    if (size > 0 && rc == 0) {
        float mean[3], std[3];
        for (int c = 0; c < 3; c++) {
            mean[c] = argc == 16 ? strtof(argv[10 + c], NULL) : CLIP_DEFAULT_MEAN[c];
            std[c] = argc == 16 ? strtof(argv[13 + c], NULL) : CLIP_DEFAULT_STD[c];
        }
        size_t n = (size_t)3 * (size_t)size * (size_t)size;
        float *out = malloc(n * sizeof *out);
        if (!out) {
            rc = 1;
        } else if (clip_preprocess(&src, size, mean, std, out, &err) != CS_OK) {
            fprintf(stderr, "preprocess: %s\n", err.message);
            rc = 1;
        } else {
            rc |= write_file(argv[9], out, n * sizeof *out);
        }
        free(out);
    }
    free(src.pixels);
    return rc;
}

static int cmd_decode(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: decode FILE OUT.rgb\n");
        return 2;
    }
    size_t len = 0;
    uint8_t *data = read_file(argv[2], &len);
    if (!data) {
        return 2;
    }
    cs_decode_options opts = {0};
    cs_decoded dec;
    cs_error err = {0};
    cs_status st = image_decode(data, len, argv[2], &opts, &dec, &err);
    free(data);
    if (st != CS_OK) {
        fprintf(stderr, "decode: %s\n", err.message);
        return 1;
    }
    int rc = write_file(argv[3], dec.image.pixels,
                        (size_t)dec.image.width * (size_t)dec.image.height * 3);
    printf("%d %d\n", dec.image.width, dec.image.height);
    image_decoded_free(&dec);
    return rc;
}

static int cmd_errors(void)
{
    cs_error err;
    uint8_t px[2 * 3 * 3];
    for (int i = 0; i < (int)sizeof px; i++) {
        px[i] = (uint8_t)(i * 37);
    }
    cs_image img = {2, 3, px};
    cs_image empty = {0, 5, px};
    cs_image nopix = {4, 4, NULL};
    cs_image dst;
    float out[3 * 4 * 4];

    memset(&err, 0, sizeof err);
    CHECK_INT_EQ(clip_resize_bicubic_aa(&img, 0, 4, &dst, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "not positive") != NULL);
    CHECK(dst.pixels == NULL);
    CHECK_INT_EQ(clip_resize_bicubic_aa(&img, 4, -1, &dst, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(clip_resize_bicubic_aa(&empty, 4, 4, &dst, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "empty") != NULL);
    CHECK_INT_EQ(clip_resize_bicubic_aa(&nopix, 4, 4, &dst, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(clip_resize_bicubic_aa(NULL, 4, 4, &dst, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(clip_resize_bicubic_aa(&img, 4, 4, NULL, &err), CS_ERR_INVALID);

    CHECK_INT_EQ(clip_preprocess(&img, 0, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_ERR_INVALID);
    CHECK(strstr(err.message, "image size 0") != NULL);
    CHECK_INT_EQ(clip_preprocess(&img, -3, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_ERR_INVALID);
    CHECK_INT_EQ(clip_preprocess(&empty, 4, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_ERR_INVALID);
    CHECK_INT_EQ(clip_preprocess(&nopix, 4, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_ERR_INVALID);
    CHECK_INT_EQ(clip_preprocess(NULL, 4, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_ERR_INVALID);
    CHECK_INT_EQ(clip_preprocess(&img, 4, NULL, CLIP_DEFAULT_STD, out, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(clip_preprocess(&img, 4, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, NULL, &err),
                 CS_ERR_INVALID);
    const float zero_std[3] = {0.2f, 0.0f, 0.2f};
    CHECK_INT_EQ(clip_preprocess(&img, 4, CLIP_DEFAULT_MEAN, zero_std, out, &err),
                 CS_ERR_INVALID);
    CHECK(strstr(err.message, "channel 1") != NULL);
    /* errors with err == NULL must not crash */
    CHECK_INT_EQ(clip_preprocess(&img, 0, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, NULL),
                 CS_ERR_INVALID);

    /* a 1 x 100000000-ish strip would need a long side beyond INT_MAX */
    int w = 0, h = 0;
    CHECK_INT_EQ(clip_resize_dims(1, 100000000, 224, &w, &h, &err), CS_ERR_TOO_LARGE);
    CHECK_INT_EQ(clip_resize_dims(640, 427, 224, &w, &h, &err), CS_OK);
    CHECK_INT_EQ(w, 335); /* int(224 * 640 / 427) = int(335.737...) */
    CHECK_INT_EQ(h, 224);
    CHECK_INT_EQ(clip_resize_dims(300, 451, 224, &w, &h, &err), CS_OK);
    CHECK_INT_EQ(w, 224);
    CHECK_INT_EQ(h, 336);
    CHECK_INT_EQ(clip_resize_dims(0, 5, 224, &w, &h, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(clip_center_crop_offset(335, 224), 55);
    CHECK_INT_EQ(clip_center_crop_offset(224, 224), 0);

    /* a flat image stays flat and normalises to (v / 255 - mean) / std */
    uint8_t flat[5 * 7 * 3];
    for (int i = 0; i < 5 * 7; i++) {
        flat[3 * i] = 10;
        flat[3 * i + 1] = 128;
        flat[3 * i + 2] = 250;
    }
    cs_image fimg = {5, 7, flat};
    CHECK_INT_EQ(clip_preprocess(&fimg, 4, CLIP_DEFAULT_MEAN, CLIP_DEFAULT_STD, out, &err),
                 CS_OK);
    const int vals[3] = {10, 128, 250};
    for (int c = 0; c < 3; c++) {
        double want = (vals[c] / 255.0 - CLIP_DEFAULT_MEAN[c]) / CLIP_DEFAULT_STD[c];
        for (int i = 0; i < 16; i++) {
            CHECK_NEAR(out[c * 16 + i], want, 1e-6);
        }
    }
    CHECK_DONE();
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0) {
        return cmd_run(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "decode") == 0) {
        return cmd_decode(argc, argv);
    }
    if (argc == 2 && strcmp(argv[1], "errors") == 0) {
        return cmd_errors();
    }
    fprintf(stderr, "usage: %s run|decode|errors ...\n", argv[0]);
    return 2;
}
