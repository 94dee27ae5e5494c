/* Resizing, orientation, sniffing, pHash properties and the layout vector,
 * checked against values worked out by hand from the definitions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image/image.h"

static cs_image make_image(int w, int h)
{
    cs_image img = {w, h, calloc((size_t)w * h * 3, 1)};
    if (!img.pixels) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return img;
}

static void set_gray(cs_image *img, int x, int y, uint8_t v)
{
    memset(img->pixels + ((size_t)y * img->width + x) * 3, v, 3);
}

static uint8_t gray_at(const cs_image *img, int x, int y)
{
    return img->pixels[((size_t)y * img->width + x) * 3];
}

static void test_resize_box(void)
{
    cs_error err = {0};
    /* 4x4 -> 2x2: each output is the mean of a 2x2 block. */
    cs_image src = make_image(4, 4), dst;
    static const uint8_t v[4][4] = {
        {0, 10, 100, 200}, {20, 30, 0, 0}, {7, 7, 255, 255}, {9, 9, 255, 251}};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            set_gray(&src, x, y, v[y][x]);
    CHECK_OK(image_resize(&src, 2, 2, &dst, &err), &err);
    CHECK_INT_EQ(gray_at(&dst, 0, 0), 15);    /* (0+10+20+30)/4 */
    CHECK_INT_EQ(gray_at(&dst, 1, 0), 75);    /* (100+200+0+0)/4 */
    CHECK_INT_EQ(gray_at(&dst, 0, 1), 8);     /* (7+7+9+9)/4 */
    CHECK_INT_EQ(gray_at(&dst, 1, 1), 254);   /* (255*3+251)/4 */
    image_free(&dst);
    image_free(&src);

    /* 3 -> 2 covers pixels fractionally: out0 = (p0 + p1/2) / 1.5,
     * out1 = (p1/2 + p2) / 1.5. */
    src = make_image(3, 1);
    set_gray(&src, 0, 0, 0);
    set_gray(&src, 1, 0, 90);
    set_gray(&src, 2, 0, 180);
    CHECK_OK(image_resize(&src, 2, 1, &dst, &err), &err);
    CHECK_INT_EQ(gray_at(&dst, 0, 0), 30);
    CHECK_INT_EQ(gray_at(&dst, 1, 0), 150);
    image_free(&dst);
    /* ... and 3 -> 1 is the plain mean. */
    CHECK_OK(image_resize(&src, 1, 1, &dst, &err), &err);
    CHECK_INT_EQ(gray_at(&dst, 0, 0), 90);
    image_free(&dst);
    image_free(&src);
}

static void test_resize_bilinear_and_mean(void)
{
    cs_error err = {0};
    /* 2 -> 4 with pixel centres aligned: sample points -0.25 (clamped),
     * 0.25, 0.75, 1.25 (clamped). */
    cs_image src = make_image(2, 1), dst;
    set_gray(&src, 0, 0, 0);
    set_gray(&src, 1, 0, 100);
    CHECK_OK(image_resize(&src, 4, 1, &dst, &err), &err);
    CHECK_INT_EQ(gray_at(&dst, 0, 0), 0);
    CHECK_INT_EQ(gray_at(&dst, 1, 0), 25);
    CHECK_INT_EQ(gray_at(&dst, 2, 0), 75);
    CHECK_INT_EQ(gray_at(&dst, 3, 0), 100);
    image_free(&dst);
    image_free(&src);

    /* Area averaging keeps the mean for any ratio (up to rounding). */
    src = make_image(97, 61);
    uint64_t seed = 12345;
    double sum = 0;
    for (size_t i = 0; i < (size_t)97 * 61 * 3; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        src.pixels[i] = (uint8_t)(seed >> 56);
        sum += src.pixels[i];
    }
    CHECK_OK(image_resize(&src, 13, 7, &dst, &err), &err);
    double out_sum = 0;
    for (size_t i = 0; i < (size_t)13 * 7 * 3; i++)
        out_sum += dst.pixels[i];
    CHECK_NEAR(out_sum / (13 * 7 * 3), sum / (97 * 61 * 3), 0.5);
    image_free(&dst);

    /* Same size is an exact copy. */
    CHECK_OK(image_resize(&src, 97, 61, &dst, &err), &err);
    CHECK(memcmp(dst.pixels, src.pixels, (size_t)97 * 61 * 3) == 0);
    image_free(&dst);

    /* Thumbnails keep the aspect ratio; small images are copied. */
    cs_image wide = make_image(400, 100);
    CHECK_OK(image_thumbnail(&wide, 64, &dst, &err), &err);
    CHECK_INT_EQ(dst.width, 64);
    CHECK_INT_EQ(dst.height, 16);
    image_free(&dst);
    CHECK_OK(image_thumbnail(&src, 128, &dst, &err), &err);
    CHECK_INT_EQ(dst.width, 97);
    CHECK(memcmp(dst.pixels, src.pixels, (size_t)97 * 61 * 3) == 0);
    image_free(&dst);
    image_free(&wide);
    image_free(&src);

    CHECK_INT_EQ(image_resize(NULL, 4, 4, &dst, &err), CS_ERR_INVALID);
    cs_image one = make_image(1, 1);
    CHECK_INT_EQ(image_resize(&one, 0, 4, &dst, &err), CS_ERR_INVALID);
    CHECK(err.message[0] != '\0');
    image_free(&one);
}

static void test_orientation(void)
{
    /* Stored 3x2 picture   a b c
     *                      d e f
     * and what a viewer shows for each EXIF orientation (worked out from
     * the EXIF 2.3 definitions: 6 = rotate 90 clockwise to view, ...). */
    static const struct { int o, w, h; const char *rows; } want[] = {
        {1, 3, 2, "abcdef"}, {2, 3, 2, "cbafed"}, {3, 3, 2, "fedcba"}, {4, 3, 2, "defabc"},
        {5, 2, 3, "adbecf"}, {6, 2, 3, "daebfc"}, {7, 2, 3, "fcebda"}, {8, 2, 3, "cfbead"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cs_image img = make_image(3, 2);
        for (int k = 0; k < 6; k++)
            set_gray(&img, k % 3, k / 3, (uint8_t)('a' + k));
        cs_error err = {0};
        CHECK_OK(image_apply_orientation(&img, want[i].o, &err), &err);
        CHECK_INT_EQ(img.width, want[i].w);
        CHECK_INT_EQ(img.height, want[i].h);
        char got[7] = {0};
        for (int k = 0; k < 6 && img.width == want[i].w; k++)
            got[k] = (char)gray_at(&img, k % img.width, k / img.width);
        if (strcmp(got, want[i].rows) != 0) {
            fprintf(stderr, "orientation %d: %s, expected %s\n", want[i].o, got, want[i].rows);
            check_failures++;
        }
        image_free(&img);
    }
    cs_image img = make_image(2, 2);
    cs_error err = {0};
    CHECK_INT_EQ(image_apply_orientation(&img, 0, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(image_apply_orientation(&img, 9, &err), CS_ERR_INVALID);
    image_free(&img);
}

static void test_sniff(void)
{
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10};
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0};
    static const uint8_t gif[] = "GIF89a\x01\x00\x01\x00";
    static const uint8_t webp[] = "RIFF\x10\x00\x00\x00WEBPVP8 ";
    static const uint8_t heic[] = "\x00\x00\x00\x18" "ftypheic\x00\x00\x00\x00mif1heic";
    static const uint8_t avif[] = "\x00\x00\x00\x1c" "ftypavif\x00\x00\x00\x00" "avifmif1miaf";
    static const uint8_t mp4[] = "\x00\x00\x00\x18" "ftypisom\x00\x00\x00\x00isomiso2";
    static const uint8_t ppm[] = "P6\n2 2\n255\n";
    static const uint8_t text[] = "P6is not an image";
    uint8_t bmp[30] = {'B', 'M'};
    bmp[14] = 40;
    uint8_t tga[18] = {0, 0, 2};
    tga[12] = 4;
    tga[14] = 4;
    tga[16] = 24;

    CHECK_INT_EQ(image_sniff(jpeg, sizeof jpeg, NULL), CS_FORMAT_JPEG);
    CHECK_INT_EQ(image_sniff(png, sizeof png, "x.jpg"), CS_FORMAT_PNG);   /* bytes, not name */
    CHECK_INT_EQ(image_sniff(gif, sizeof gif - 1, NULL), CS_FORMAT_GIF);
    CHECK_INT_EQ(image_sniff(webp, sizeof webp - 1, NULL), CS_FORMAT_WEBP);
    CHECK_INT_EQ(image_sniff(heic, sizeof heic - 1, NULL), CS_FORMAT_HEIF);
    CHECK_INT_EQ(image_sniff(avif, sizeof avif - 1, NULL), CS_FORMAT_HEIF);
    CHECK_INT_EQ(image_sniff(mp4, sizeof mp4 - 1, NULL), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(ppm, sizeof ppm - 1, NULL), CS_FORMAT_PNM);
    CHECK_INT_EQ(image_sniff(text, sizeof text - 1, NULL), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(bmp, sizeof bmp, NULL), CS_FORMAT_BMP);
    bmp[14] = 99;   /* "BM" with no known header size: plain text */
    CHECK_INT_EQ(image_sniff(bmp, sizeof bmp, NULL), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(tga, sizeof tga, "photo.TGA"), CS_FORMAT_TGA);
    CHECK_INT_EQ(image_sniff(tga, sizeof tga, "photo.bin"), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(tga, sizeof tga, NULL), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(jpeg, 2, NULL), CS_FORMAT_UNKNOWN);
    CHECK_INT_EQ(image_sniff(NULL, 0, NULL), CS_FORMAT_UNKNOWN);
    CHECK_STR_EQ(image_format_name(CS_FORMAT_WEBP), "webp");
    CHECK_STR_EQ(image_format_name(CS_FORMAT_UNKNOWN), "unknown");

    static const char *yes[] = {"a.jpg", "B.JPEG", "c.jpe", "d.Png", "e.gif", "f.bmp", "g.tga",
                                "h.pnm", "i.ppm", "j.pgm", "k.pbm", "l.webp", "m.HEIC",
                                "n.heif", "o.avif", "/x.y/z.jpg"};
    static const char *no[] = {"a.txt", "jpg", "a.jpg.bak", "/photos.jpg/readme", ".png", "a.",
                               "a.tiff", ""};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        if (!image_has_known_extension(yes[i])) {
            fprintf(stderr, "%s should be a known extension\n", yes[i]);
            check_failures++;
        }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (image_has_known_extension(no[i])) {
            fprintf(stderr, "%s should not be a known extension\n", no[i]);
            check_failures++;
        }
    CHECK(!image_has_known_extension(NULL));
}

static void test_decode_arguments(void)
{
    cs_decoded d;
    cs_error err = {0};
    static const uint8_t junk[] = "hello, world";
    CHECK_INT_EQ(image_decode(junk, 0, NULL, NULL, &d, &err), CS_ERR_CORRUPT);
    CHECK_INT_EQ(image_decode(NULL, 10, NULL, NULL, &d, &err), CS_ERR_CORRUPT);
    CHECK_INT_EQ(image_decode(junk, sizeof junk, "x.jpg", NULL, &d, &err), CS_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "not an image") != NULL);
    CHECK(d.image.pixels == NULL);
    CHECK_INT_EQ(image_decode(junk, sizeof junk, NULL, NULL, NULL, &err), CS_ERR_INVALID);
    image_decoded_free(&d);
    image_decoded_free(NULL);
}

/* A binary PPM built here: the pixel limit from the options, and the
 * reduction to the target short side for decoders without DCT scaling. */
static void test_decode_limits_and_target(void)
{
    int w = 600, h = 400;
    static const char header[] = "P6\n600 400\n255\n";
    size_t hl = sizeof header - 1, len = hl + (size_t)w * h * 3;
    uint8_t *ppm = malloc(len);
    if (!ppm) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    memcpy(ppm, header, hl);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = ppm + hl + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = 77;
        }
    cs_decoded d;
    cs_error err = {0};
    cs_decode_options small_limit = {.target_min_side = 0, .max_pixels = 239999};
    CHECK_INT_EQ(image_decode(ppm, len, "a.ppm", &small_limit, &d, &err), CS_ERR_TOO_LARGE);
    CHECK(strstr(err.message, "600x400") != NULL);
    cs_decode_options exact_limit = {.target_min_side = 0, .max_pixels = 240000};
    CHECK_OK(image_decode(ppm, len, "a.ppm", &exact_limit, &d, &err), &err);
    CHECK_INT_EQ(d.image.width, 600);
    CHECK(memcmp(d.image.pixels, ppm + hl, (size_t)w * h * 3) == 0);
    image_decoded_free(&d);
    /* Short side 400 > 2 x 150: reduced to 225x150, full size still 600x400,
     * and the gradient is still a gradient (area average of a linear ramp). */
    cs_decode_options target = {.target_min_side = 150, .max_pixels = 0};
    CHECK_OK(image_decode(ppm, len, "a.ppm", &target, &d, &err), &err);
    CHECK_INT_EQ(d.image.width, 225);
    CHECK_INT_EQ(d.image.height, 150);
    CHECK_INT_EQ(d.full_width, 600);
    CHECK_INT_EQ(d.full_height, 400);
    CHECK_NEAR(d.image.pixels[((size_t)75 * 225 + 112) * 3], 127.5, 1.5);
    CHECK_INT_EQ(d.image.pixels[2], 77);
    image_decoded_free(&d);
    /* Short side 400 <= 2 x 200: kept as is. */
    target.target_min_side = 200;
    CHECK_OK(image_decode(ppm, len, "a.ppm", &target, &d, &err), &err);
    CHECK_INT_EQ(d.image.width, 600);
    image_decoded_free(&d);
    free(ppm);
}

static void test_phash_properties(void)
{
    CHECK_INT_EQ(phash_distance(0, 0), 0);
    CHECK_INT_EQ(phash_distance(0, ~0ull), 64);
    CHECK_INT_EQ(phash_distance(0xF0F0ull, 0x0FF0ull), 8);

    /* A flat picture: only the DC coefficient is above the median of the
     * 64 (all others are zero), so exactly bit 63 is set. */
    cs_image flat = make_image(50, 40);
    memset(flat.pixels, 90, (size_t)50 * 40 * 3);
    CHECK(image_phash(&flat) == 1ull << 63);
    image_free(&flat);

    /* Left half dark, right half bright: coefficient (0,1) is negative
     * (the first horizontal cosine is positive on the dark half), DC is
     * positive, every coefficient with u > 0 is zero and so are the even
     * v > 0 ones; the odd v in row 0 are the only non-zero others. */
    cs_image split = make_image(64, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 64; x++)
            set_gray(&split, x, y, x < 32 ? 20 : 220);
    uint64_t h = image_phash(&split);
    CHECK(h & (1ull << 63));            /* DC */
    CHECK(!(h & (1ull << 62)));         /* (0,1) negative */
    CHECK(!(h & 0x00FFFFFFFFFFFFFFull));  /* rows u > 0: zero, not above the median */
    /* The hash survives a brightness change that keeps the pattern. */
    for (size_t i = 0; i < (size_t)64 * 64 * 3; i++)
        split.pixels[i] = (uint8_t)(split.pixels[i] / 2 + 10);
    CHECK_INT_EQ(phash_distance(image_phash(&split), h), 0);
    image_free(&split);
    CHECK(image_phash(NULL) == 0);
}

static double dot(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < CS_LAYOUT_DIM; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void test_layout_vector(void)
{
    float a[CS_LAYOUT_DIM], b[CS_LAYOUT_DIM];
    /* Flat mid-gray would be all zeros before normalising: still unit
     * length, no NaN, and identical to another flat gray. */
    cs_image gray = make_image(30, 20);
    memset(gray.pixels, 119, (size_t)30 * 20 * 3);
    image_layout_vector(&gray, a);
    for (int i = 0; i < CS_LAYOUT_DIM; i++)
        CHECK(isfinite(a[i]));
    CHECK_NEAR(dot(a, a), 1.0, 1e-5);
    cs_image gray2 = make_image(64, 64);
    memset(gray2.pixels, 119, (size_t)64 * 64 * 3);
    image_layout_vector(&gray2, b);
    CHECK_NEAR(dot(a, b), 1.0, 1e-5);
    image_free(&gray2);

    /* A red scene and a blue scene point in different directions. */
    cs_image red = make_image(32, 32), blue = make_image(32, 32);
    for (int i = 0; i < 32 * 32; i++) {
        red.pixels[3 * i] = 230;
        blue.pixels[3 * i + 2] = 230;
    }
    image_layout_vector(&red, a);
    image_layout_vector(&blue, b);
    CHECK(dot(a, b) < 0.2);
    CHECK_NEAR(dot(a, a), 1.0, 1e-5);
    image_free(&red);
    image_free(&blue);

    /* Sky over ground: the same scene brighter is near 1; upside down is not. */
    cs_image scene = make_image(80, 60), bright = make_image(80, 60), flipped = make_image(80, 60);
    for (int y = 0; y < 60; y++)
        for (int x = 0; x < 80; x++) {
            uint8_t sky[3] = {90, 140, 220}, ground[3] = {60, 110, 40};
            const uint8_t *c = y < 30 ? sky : ground;
            memcpy(scene.pixels + ((size_t)y * 80 + x) * 3, c, 3);
            for (int k = 0; k < 3; k++)
                bright.pixels[((size_t)y * 80 + x) * 3 + k] = (uint8_t)(c[k] + 25);
            memcpy(flipped.pixels + ((size_t)(59 - y) * 80 + x) * 3, c, 3);
        }
    image_layout_vector(&scene, a);
    image_layout_vector(&bright, b);
    double same_scene = dot(a, b);
    image_layout_vector(&flipped, b);
    double upside_down = dot(a, b);
    CHECK(same_scene > 0.95);
    CHECK(upside_down < 0.5);
    image_layout_vector(&scene, b);   /* deterministic */
    CHECK(memcmp(a, b, sizeof a) == 0);
    image_free(&scene);
    image_free(&bright);
    image_free(&flipped);
    image_free(&gray);
}

int main(void)
{
    test_resize_box();
    test_resize_bilinear_and_mean();
    test_orientation();
    test_sniff();
    test_decode_arguments();
    test_decode_limits_and_target();
    test_phash_properties();
    test_layout_vector();
    CHECK_DONE();
}
