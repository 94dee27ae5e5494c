/* The text test on pictures made here (blank, noise, checks, bars), the
 * sizes it asks the picture to be decoded at, language checks and, when
 * Tesseract's English data is installed, an engine reading nothing from a
 * blank page. Rendered text and the sample photos are test_ocr.py's. */
#include <stdlib.h>
#include <string.h>

#include "caption/ocr.h"
#include "check.h"

static cs_image make_image(int w, int h, uint8_t value)
{
    cs_image img = {w, h, malloc((size_t)w * h * 3)};
    if (img.pixels)
        memset(img.pixels, value, (size_t)w * h * 3);
    return img;
}

static void set_grey(cs_image *img, int x, int y, uint8_t v)
{
    uint8_t *p = img->pixels + ((size_t)y * img->width + x) * 3;
    p[0] = p[1] = p[2] = v;
}

static ocr_text_guess guess(const cs_image *img)
{
    ocr_text_guess g;
    cs_error err = {0};
    CHECK_OK(ocr_guess_text(img, &g, &err), &err);
    return g;
}

static void test_not_text(void)
{
    cs_image blank = make_image(640, 480, 255);
    ocr_text_guess g = guess(&blank);
    CHECK(!g.likely && !g.look_closer);
    CHECK_INT_EQ(g.candidates, 0);
    image_free(&blank);

    /* noise: blobs everywhere, in no rows */
    cs_image noise = make_image(320, 240, 0);
    uint32_t state = 12345;
    for (int y = 0; y < noise.height; y++)
        for (int x = 0; x < noise.width; x++) {
            state = state * 1664525u + 1013904223u;
            set_grey(&noise, x, y, (uint8_t)(state >> 24));
        }
    g = guess(&noise);
    CHECK(!g.likely);
    image_free(&noise);

    /* a checkerboard: solid squares in perfect rows, but not letters */
    cs_image checks = make_image(256, 256, 255);
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++)
            if (((x / 12) + (y / 12)) % 2)
                set_grey(&checks, x, y, 0);
    g = guess(&checks);
    CHECK(!g.likely);
    image_free(&checks);

    /* rings in a row (coins, washers): letter-sized and aligned, but a ring
     * is one thick stroke with a hole, and identical: no "o" row alone
     * makes text... a row of rings with a speckled inside is texture */
    cs_image rings = make_image(400, 120, 255);
    for (int k = 0; k < 8; k++) {
        int cx = 30 + k * 45, cy = 60;
        for (int y = cy - 20; y <= cy + 20; y++)
            for (int x = cx - 20; x <= cx + 20; x++) {
                int d2 = (x - cx) * (x - cx) + (y - cy) * (y - cy);
                if (d2 <= 400 && (d2 >= 250 || ((x * 7 + y * 13) % 5 == 0)))
                    set_grey(&rings, x, y, 20);
            }
    }
    g = guess(&rings);
    CHECK(!g.likely);
    image_free(&rings);

    /* tiny and empty images are no text, not errors */
    cs_image tiny = make_image(8, 8, 0);
    g = guess(&tiny);
    CHECK(!g.likely);
    image_free(&tiny);
    cs_image none = {0};
    g = guess(&none);
    CHECK(!g.likely);
}

/* Stacked thin bars not touching the border: lines of small print seen
 * from afar. Worth a closer look, not yet text. */
static void test_small_print_lines(void)
{
    cs_image page = make_image(200, 150, 240);
    for (int line = 0; line < 8; line++) {
        int y = 20 + line * 7;
        for (int x = 20; x < 150 + (line % 3) * 10; x++) {
            if (x % 9 == 8)
                continue;   /* gaps between words */
            set_grey(&page, x, y, 40);
            set_grey(&page, x, y + 1, 60);
        }
    }
    ocr_text_guess g = guess(&page);
    CHECK(!g.likely);
    CHECK(g.look_closer);
    CHECK(g.lines >= 4);
    image_free(&page);
}

static void test_sizes(void)
{
    cs_image tested = {192, 128, NULL};
    ocr_text_guess g = {.likely = true, .letter_height = 8};
    /* letters of 8 px on 128 want 32 px: 4x */
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 3000, 2000), 512);
    /* tiny letters: capped so the long side stays within OCR_MAX_SIDE */
    g.letter_height = 2;
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 3000, 2000), OCR_MAX_SIDE * 2000 / 3000);
    /* more than the picture has: full size */
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 600, 400), 0);
    /* large letters already: read the tested image */
    g.letter_height = 40;
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 3000, 2000), -1);
    /* the tested image is the picture: nothing sharper */
    g.letter_height = 8;
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 192, 128), -1);
    g.letter_height = 0;
    CHECK_INT_EQ(ocr_read_min_side(&g, &tested, 3000, 2000), -1);

    CHECK_INT_EQ(ocr_closer_min_side(&tested, 3000, 2000), 512);
    CHECK_INT_EQ(ocr_closer_min_side(&tested, 600, 400), 0);
    CHECK_INT_EQ(ocr_closer_min_side(&tested, 192, 128), -1);
    cs_image sharp = {900, 600, NULL};
    CHECK_INT_EQ(ocr_closer_min_side(&sharp, 3000, 2000), -1);
}

static void test_languages(void)
{
    cs_error err = {0};
    const char *bad[] = {"eng;rm -rf", "+eng", "eng+", "eng++deu", "../eng", "eng deu"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cs_status rc = ocr_check_languages(bad[i], &err);
        CHECK(rc == CS_ERR_INVALID || rc == CS_ERR_UNSUPPORTED);
    }
    cs_status rc = ocr_check_languages("zz_no_such_language", &err);
    CHECK(rc == CS_ERR_NOT_FOUND || rc == CS_ERR_UNSUPPORTED);
    if (rc == CS_ERR_NOT_FOUND)   /* says which package */
        CHECK(strstr(err.message, "tesseract-ocr-zz_no_such_language") != NULL);
    ocr_engine *e = (ocr_engine *)1;
    CHECK(ocr_engine_new("zz_no_such_language", &e, &err) != CS_OK);
    CHECK(e == NULL);
}

static void test_engine(void)
{
    cs_error err = {0};
    if (ocr_check_languages(NULL, &err) != CS_OK) {
        const char *require = getenv("CAPSEARCH_REQUIRE_MODELS");
        fprintf(stderr, "skipping the engine check: %s\n", err.message);
        if (require && strcmp(require, "1") == 0)
            check_failures++;
        return;
    }
    ocr_engine *e = NULL;
    CHECK_OK(ocr_engine_new(NULL, &e, &err), &err);
    if (!e)
        return;
    cs_image blank = make_image(300, 100, 255);
    char *text = NULL;
    CHECK_OK(ocr_read(e, &blank, 0, OCR_SPARSE, &text, &err), &err);
    CHECK_STR_EQ(text, "");
    free(text);
    /* the same engine again: it is reused per thread */
    CHECK_OK(ocr_read(e, &blank, 10, OCR_BLOCK, &text, &err), &err);
    free(text);
    CHECK_INT_EQ(ocr_read(e, NULL, 0, OCR_SPARSE, &text, &err), CS_ERR_INVALID);
    image_free(&blank);
    ocr_engine_free(e);
    ocr_engine_free(NULL);
    CHECK(ocr_version() != NULL);
    strbuf langs;
    strbuf_init(&langs);
    ocr_installed_languages(&langs);
    CHECK(strstr(strbuf_str(&langs), "eng") != NULL);
    strbuf_free(&langs);
}

int main(void)
{
    test_not_text();
    test_small_print_lines();
    test_sizes();
    test_languages();
    test_engine();
    CHECK_DONE();
}
