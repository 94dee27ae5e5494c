/* Colour conversion against published sRGB/CIELAB values, CIEDE2000 against
 * Sharma, Wu and Dalal's test data, palette names a person would use, and
 * dominant colours of synthetic images with known proportions. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image/image.h"

static void check_lab(uint8_t r, uint8_t g, uint8_t b, double L, double A, double B, double tol)
{
    float lab[3];
    color_srgb_to_lab(r, g, b, lab);
    if (fabs(lab[0] - L) > tol || fabs(lab[1] - A) > tol || fabs(lab[2] - B) > tol) {
        fprintf(stderr, "Lab of (%d,%d,%d) = (%.3f, %.3f, %.3f), expected (%.3f, %.3f, %.3f)\n",
                r, g, b, lab[0], lab[1], lab[2], L, A, B);
        check_failures++;
    }
}

static void test_lab_reference_values(void)
{
    /* sRGB (IEC 61966-2-1) to CIELAB, D65 white: the standard published values. */
    check_lab(255, 0, 0, 53.24, 80.09, 67.20, 0.02);
    check_lab(0, 255, 0, 87.73, -86.18, 83.18, 0.02);
    check_lab(0, 0, 255, 32.30, 79.19, -107.86, 0.02);
    check_lab(255, 255, 255, 100.0, 0.0, 0.0, 0.02);
    check_lab(0, 0, 0, 0.0, 0.0, 0.0, 0.001);
    check_lab(128, 128, 128, 53.59, 0.0, 0.0, 0.02);
    check_lab(255, 255, 0, 97.14, -21.55, 94.48, 0.02);
    check_lab(0, 255, 255, 91.11, -48.09, -14.13, 0.02);
    check_lab(255, 0, 255, 60.32, 98.23, -60.82, 0.02);
    float lab[3];
    color_srgb_to_lab(119, 119, 119, lab);   /* the sRGB gray closest to L* 50 */
    CHECK_NEAR(lab[0], 50.0, 0.1);
}

static void test_ciede2000_sharma_pairs(void)
{
    /* Pairs from Sharma, Wu, Dalal, "The CIEDE2000 color-difference formula:
     * implementation notes, supplementary test data" (2005), table 1. */
    static const struct { float a[3], b[3]; double de; } pairs[] = {
        {{50.0000f, 2.6772f, -79.7751f}, {50.0000f, 0.0000f, -82.7485f}, 2.0425},
        {{50.0000f, 3.1571f, -77.2803f}, {50.0000f, 0.0000f, -82.7485f}, 2.8615},
        {{50.0000f, 0.0000f, 0.0000f}, {50.0000f, -1.0000f, 2.0000f}, 2.3669},
        {{50.0000f, 2.5000f, 0.0000f}, {73.0000f, 25.0000f, -18.0000f}, 27.1492},
        {{50.0000f, 2.5000f, 0.0000f}, {61.0000f, -5.0000f, 29.0000f}, 22.8977},
        {{50.0000f, 2.5000f, 0.0000f}, {56.0000f, -27.0000f, -3.0000f}, 31.9030},
        {{50.0000f, 2.5000f, 0.0000f}, {58.0000f, 24.0000f, 15.0000f}, 19.4535},
        {{60.2574f, -34.0099f, 36.2677f}, {60.4626f, -34.1751f, 39.4387f}, 1.2644},
        {{63.0109f, -31.0961f, -5.8663f}, {62.8187f, -29.7946f, -4.0864f}, 1.2630},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK_NEAR(color_delta_e(pairs[i].a, pairs[i].b), pairs[i].de, 1e-3);
        CHECK_NEAR(color_delta_e(pairs[i].b, pairs[i].a), pairs[i].de, 1e-3);   /* symmetric */
    }
    float same[3] = {40, 10, -20};
    CHECK_NEAR(color_delta_e(same, same), 0.0, 1e-6);
}

static void check_name(uint8_t r, uint8_t g, uint8_t b, const char *want, const char *alt)
{
    float lab[3];
    color_srgb_to_lab(r, g, b, lab);
    const char *got = color_name_for_lab(lab);
    if (strcmp(got, want) != 0 && !(alt && strcmp(got, alt) == 0)) {
        fprintf(stderr, "(%d,%d,%d) named %s, expected %s%s%s\n", r, g, b, got, want,
                alt ? " or " : "", alt ? alt : "");
        check_failures++;
    }
}

static void test_names(void)
{
    check_name(255, 0, 0, "red", NULL);
    check_name(200, 16, 30, "red", NULL);
    check_name(0, 0, 128, "navy", "blue");
    check_name(0, 0, 255, "blue", NULL);
    check_name(30, 144, 255, "blue", NULL);
    check_name(135, 206, 235, "blue", NULL);      /* sky blue */
    check_name(255, 255, 255, "white", NULL);
    check_name(245, 245, 245, "white", NULL);
    check_name(20, 20, 20, "black", NULL);
    check_name(0, 0, 0, "black", NULL);
    check_name(128, 128, 128, "gray", NULL);
    check_name(169, 169, 169, "gray", NULL);
    check_name(255, 165, 0, "orange", NULL);
    check_name(34, 139, 34, "green", NULL);
    check_name(0, 255, 0, "green", NULL);
    check_name(144, 238, 144, "green", NULL);     /* light green */
    check_name(128, 0, 128, "purple", NULL);
    check_name(255, 192, 203, "pink", NULL);
    check_name(255, 105, 180, "pink", NULL);
    check_name(139, 69, 19, "brown", NULL);
    check_name(255, 255, 0, "yellow", NULL);
    check_name(245, 245, 220, "beige", NULL);
    check_name(210, 180, 140, "beige", "brown");  /* tan */
    check_name(0, 128, 128, "teal", NULL);
    check_name(64, 224, 208, "teal", NULL);       /* turquoise */
    check_name(128, 128, 0, "olive", NULL);
    check_name(128, 0, 0, "maroon", NULL);
}

static cs_image solid_split(int w, int h, int split_x, const uint8_t left[3],
                            const uint8_t right[3])
{
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    if (!img.pixels) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(img.pixels + ((size_t)y * w + x) * 3, x < split_x ? left : right, 3);
    return img;
}

static void test_dominant_two_colours(void)
{
    static const uint8_t blue[3] = {0, 0, 255}, white[3] = {255, 255, 255};
    cs_image img = solid_split(200, 100, 140, blue, white);   /* 70% blue, 30% white */
    cs_color_share c[8];
    int n = image_dominant_colors(&img, c, 8);
    CHECK(n >= 2);
    if (n >= 2) {
        CHECK_STR_EQ(c[0].name, "blue");
        CHECK_NEAR(c[0].share, 0.7, 0.02);
        CHECK_STR_EQ(c[1].name, "white");
        CHECK_NEAR(c[1].share, 0.3, 0.02);
        float want[3];
        color_srgb_to_lab(0, 0, 255, want);
        CHECK(color_delta_e(c[0].lab, want) < 3);
    }
    float total = 0;
    for (int i = 0; i < n; i++) {
        total += c[i].share;
        if (i > 0)
            CHECK(c[i - 1].share >= c[i].share);
    }
    CHECK_NEAR(total, 1.0, 1e-4);
    /* Deterministic, and max_out respected. */
    cs_color_share again[8];
    CHECK_INT_EQ(image_dominant_colors(&img, again, 8), n);
    CHECK(memcmp(c, again, (size_t)n * sizeof c[0]) == 0);
    CHECK_INT_EQ(image_dominant_colors(&img, again, 1), 1);
    CHECK_STR_EQ(again[0].name, "blue");
    free(img.pixels);
}

static void test_dominant_stripes_and_solid(void)
{
    /* Horizontal stripes: 50% red, 30% green, 20% yellow. */
    int w = 120, h = 100;
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    if (!img.pixels) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img.pixels + ((size_t)y * w + x) * 3;
            const uint8_t *c = y < 50 ? (const uint8_t[]){220, 20, 30}
                             : y < 80 ? (const uint8_t[]){34, 139, 34}
                                      : (const uint8_t[]){255, 230, 0};
            memcpy(p, c, 3);
        }
    cs_color_share c[8];
    int n = image_dominant_colors(&img, c, 8);
    CHECK(n >= 3);
    if (n >= 3) {
        CHECK_STR_EQ(c[0].name, "red");
        CHECK_NEAR(c[0].share, 0.5, 0.03);
        CHECK_STR_EQ(c[1].name, "green");
        CHECK_NEAR(c[1].share, 0.3, 0.03);
        CHECK_STR_EQ(c[2].name, "yellow");
        CHECK_NEAR(c[2].share, 0.2, 0.03);
    }
    free(img.pixels);

    static const uint8_t gray[3] = {128, 128, 128};
    img = solid_split(50, 40, 50, gray, gray);
    n = image_dominant_colors(&img, c, 8);
    CHECK_INT_EQ(n, 1);
    CHECK_STR_EQ(c[0].name, "gray");
    CHECK_NEAR(c[0].share, 1.0, 1e-6);
    free(img.pixels);

    CHECK_INT_EQ(image_dominant_colors(NULL, c, 8), 0);
    cs_image empty = {0, 0, NULL};
    CHECK_INT_EQ(image_dominant_colors(&empty, c, 8), 0);
}

int main(void)
{
    test_lab_reference_values();
    test_ciede2000_sharma_pairs();
    test_names();
    test_dominant_two_colours();
    test_dominant_stripes_and_solid();
    CHECK_DONE();
}
