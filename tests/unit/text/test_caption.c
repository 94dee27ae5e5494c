/* Date words, shape words and the metadata caption. Expected sentences, tags
 * and words are written by hand from the rules in caption.h; weekdays were
 * looked up in a calendar. The test runs with TZ set far from UTC (see
 * meson.build) to prove no local-time conversion sneaks in. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* timegm */
#endif
#include <stdlib.h>
#include <time.h>

#include "caption/caption.h"
#include "check.h"

/* Wall-clock fields encoded the way cs_exif does (timegm). */
static int64_t at(int year, int month, int day, int hour, int minute, int second)
{
    struct tm tm = {0};
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    return (int64_t)timegm(&tm);
}

/* ---------- date words ---------- */

static void test_date_words(void)
{
    caption_date_words d;
    /* 1625423530 is 2021-07-04 18:32:10 in the timegm encoding */
    CHECK_INT_EQ(at(2021, 7, 4, 18, 32, 10), 1625423530);
    caption_date_words_for(1625423530, false, &d);
    CHECK_STR_EQ(d.year, "2021");
    CHECK_STR_EQ(d.month, "july");
    CHECK_STR_EQ(d.weekday, "sunday");
    CHECK_STR_EQ(d.season, "summer");
    CHECK_STR_EQ(d.time_of_day, "evening");
    CHECK_INT_EQ(d.day, 4);
    caption_date_words_for(1625423530, true, &d);
    CHECK_STR_EQ(d.season, "winter");

    caption_date_words_for(at(2000, 1, 1, 0, 0, 0), false, &d);
    CHECK_STR_EQ(d.weekday, "saturday");
    caption_date_words_for(0, false, &d);
    CHECK_STR_EQ(d.year, "1970");
    CHECK_STR_EQ(d.weekday, "thursday");
    CHECK_STR_EQ(d.month, "january");
    caption_date_words_for(at(2024, 2, 29, 12, 0, 0), false, &d);
    CHECK_STR_EQ(d.weekday, "thursday");
    CHECK_STR_EQ(d.month, "february");
    CHECK_INT_EQ(d.day, 29);
    /* before 1970: 1969-12-31 23:59:59 */
    caption_date_words_for(-1, false, &d);
    CHECK_STR_EQ(d.year, "1969");
    CHECK_STR_EQ(d.month, "december");
    CHECK_STR_EQ(d.weekday, "wednesday");
    CHECK_STR_EQ(d.season, "winter");
    CHECK_STR_EQ(d.time_of_day, "night");
    CHECK_INT_EQ(d.day, 31);
}

static void test_date_out_of_range(void)
{
    caption_date_words d;
    const int64_t bad[] = {INT64_MAX, INT64_MIN, at(10000, 1, 1, 0, 0, 0)};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        caption_date_words_for(bad[i], false, &d);
        CHECK_STR_EQ(d.year, "");
        CHECK_STR_EQ(d.month, "");
        CHECK_STR_EQ(d.weekday, "");
        CHECK_STR_EQ(d.season, "");
        CHECK_STR_EQ(d.time_of_day, "");
        CHECK_INT_EQ(d.day, 0);
    }
    caption_date_words_for(at(9999, 12, 31, 23, 0, 0), false, &d);
    CHECK_STR_EQ(d.year, "9999");
}

static void test_time_of_day(void)
{
    /* morning 5-11, afternoon 12-16, evening 17-20, night otherwise */
    static const char *const expected[24] = {
        "night", "night", "night", "night", "night",
        "morning", "morning", "morning", "morning", "morning", "morning", "morning",
        "afternoon", "afternoon", "afternoon", "afternoon", "afternoon",
        "evening", "evening", "evening", "evening",
        "night", "night", "night",
    };
    for (int h = 0; h < 24; h++) {
        caption_date_words d;
        caption_date_words_for(at(2022, 5, 10, h, 59, 59), false, &d);
        CHECK_STR_EQ(d.time_of_day, expected[h]);
    }
}

static void test_seasons(void)
{
    static const char *const north[12] = {
        "winter", "winter", "spring", "spring", "spring", "summer",
        "summer", "summer", "autumn", "autumn", "autumn", "winter",
    };
    static const char *const south[12] = {
        "summer", "summer", "autumn", "autumn", "autumn", "winter",
        "winter", "winter", "spring", "spring", "spring", "summer",
    };
    static const char *const months[12] = {
        "january", "february", "march", "april", "may", "june",
        "july", "august", "september", "october", "november", "december",
    };
    for (int m = 1; m <= 12; m++) {
        caption_date_words d;
        caption_date_words_for(at(2023, m, 15, 10, 0, 0), false, &d);
        CHECK_STR_EQ(d.season, north[m - 1]);
        CHECK_STR_EQ(d.month, months[m - 1]);
        caption_date_words_for(at(2023, m, 15, 10, 0, 0), true, &d);
        CHECK_STR_EQ(d.season, south[m - 1]);
    }
}

static void test_shape_words(void)
{
    CHECK_STR_EQ(caption_shape_word(4000, 3000), "landscape");
    CHECK_STR_EQ(caption_shape_word(3000, 4000), "portrait");
    CHECK_STR_EQ(caption_shape_word(1000, 1000), "square");
    CHECK_STR_EQ(caption_shape_word(1000, 1050), "square");     /* within 5% */
    CHECK_STR_EQ(caption_shape_word(1050, 1000), "square");
    CHECK_STR_EQ(caption_shape_word(1000, 1051), "portrait");   /* just past 5% */
    CHECK_STR_EQ(caption_shape_word(6000, 3000), "panorama");   /* exactly 2:1 */
    CHECK_STR_EQ(caption_shape_word(5999, 3000), "landscape");
    CHECK_STR_EQ(caption_shape_word(3000, 6000), "panorama");
    CHECK_STR_EQ(caption_shape_word(1, 1), "square");
    CHECK_STR_EQ(caption_shape_word(INT32_MAX, INT32_MAX - 1), "square");   /* no overflow */
    CHECK_STR_EQ(caption_shape_word(INT32_MAX, 1), "panorama");
    CHECK(caption_shape_word(0, 100) == NULL);
    CHECK(caption_shape_word(100, -1) == NULL);
}

/* ---------- the caption ---------- */

static cs_exif exif_with(const char *make, const char *model)
{
    cs_exif e;
    memset(&e, 0, sizeof e);
    snprintf(e.make, sizeof e.make, "%s", make);
    snprintf(e.model, sizeof e.model, "%s", model);
    return e;
}

/* Compares names and kinds of all tags, in order: "name|kind" each. */
static void expect_tags(const caption_result *r, const char *const *expected, int n, int line)
{
    bool same = r->ntags == n;
    for (int i = 0; same && i < n; i++) {
        char want[128];
        snprintf(want, sizeof want, "%s|%s", r->tags[i].name, r->tags[i].kind);
        same = strcmp(want, expected[i]) == 0;
    }
    if (same)
        return;
    fprintf(stderr, "%s:%d: tags differ\n  got     ", __FILE__, line);
    for (int i = 0; i < r->ntags; i++)
        fprintf(stderr, " [%s|%s]", r->tags[i].name, r->tags[i].kind);
    fprintf(stderr, "\n  expected");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " [%s]", expected[i]);
    fprintf(stderr, "\n");
    check_failures++;
}

#define EXPECT_TAGS(r, ...)                                                         \
    do {                                                                            \
        static const char *const want_[] = {__VA_ARGS__};                           \
        expect_tags(r, want_, (int)(sizeof want_ / sizeof want_[0]), __LINE__);     \
    } while (0)

static const caption_tag *find_tag(const caption_result *r, const char *name)
{
    for (int i = 0; i < r->ntags; i++)
        if (strcmp(r->tags[i].name, name) == 0)
            return &r->tags[i];
    return NULL;
}

static void test_full_caption(void)
{
    cs_exif e = exif_with("Canon", "Canon EOS 5D");
    e.has_taken_at = true;
    e.taken_at = at(2021, 7, 4, 18, 32, 10);
    cs_color_share colors[] = {
        {"blue", 0.52f, {0}}, {"white", 0.31f, {0}}, {"green", 0.07f, {0}}, {"red", 0.03f, {0}},
    };
    caption_facts f = {4000, 3000, CS_FORMAT_JPEG, &e, colors, 4};
    caption_result r;
    cs_error err = {0};
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A landscape photo, mostly blue and white, taken on a summer "
                            "evening, Sunday 4 July 2021, with a Canon EOS 5D.");
    EXPECT_TAGS(&r, "blue|color", "white|color", "green|color", "landscape|shape", "2021|date",
                "july|date", "summer|date", "evening|date", "canon|camera", "eos 5d|camera",
                "jpeg|format");
    CHECK_STR_EQ(r.tags_text, "blue white green landscape 2021 july summer evening canon eos 5d jpeg");
    CHECK_STR_EQ(r.exif_text, "2021 july sunday 4 summer evening canon eos 5d");
    const caption_tag *t = find_tag(&r, "blue");
    CHECK(t && t->score == 0.52f);
    t = find_tag(&r, "green");
    CHECK(t && t->score == 0.07f);
    t = find_tag(&r, "landscape");
    CHECK(t && t->score == 1.0f);
    caption_result_free(&r);
    CHECK(r.caption == NULL && r.ntags == 0);
    caption_result_free(&r);   /* freeing twice is harmless */
}

static void test_parts_left_out(void)
{
    caption_result r;
    cs_error err = {0};

    /* nothing known at all */
    caption_facts none = {0, 0, CS_FORMAT_UNKNOWN, NULL, NULL, 0};
    CHECK_OK(caption_from_metadata(&none, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "An image.");
    CHECK_INT_EQ(r.ntags, 0);
    CHECK_STR_EQ(r.tags_text, "");
    CHECK_STR_EQ(r.exif_text, "");
    caption_result_free(&r);

    /* a PNG with no EXIF is an image, not a photo */
    caption_facts png = {1000, 1000, CS_FORMAT_PNG, NULL, NULL, 0};
    CHECK_OK(caption_from_metadata(&png, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A square image.");
    EXPECT_TAGS(&r, "square|shape", "png|format");
    CHECK_STR_EQ(r.tags_text, "square png");
    caption_result_free(&r);

    /* HEIF is a camera format */
    caption_facts heif = {3000, 4000, CS_FORMAT_HEIF, NULL, NULL, 0};
    CHECK_OK(caption_from_metadata(&heif, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A portrait photo.");
    caption_result_free(&r);

    /* camera but no date: "taken with" */
    cs_exif e = exif_with("NIKON CORPORATION", "NIKON D750");
    caption_facts nikon = {3000, 4000, CS_FORMAT_JPEG, &e, NULL, 0};
    CHECK_OK(caption_from_metadata(&nikon, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A portrait photo, taken with a Nikon D750.");
    EXPECT_TAGS(&r, "portrait|shape", "nikon|camera", "d750|camera", "jpeg|format");
    CHECK_STR_EQ(r.exif_text, "nikon d750");
    caption_result_free(&r);

    /* date but no camera; "an autumn" */
    e = exif_with("", "");
    e.has_taken_at = true;
    e.taken_at = at(2020, 10, 10, 14, 0, 0);
    caption_facts dated = {640, 480, CS_FORMAT_JPEG, &e, NULL, 0};
    CHECK_OK(caption_from_metadata(&dated, &r, &err), &err);
    CHECK_STR_EQ(r.caption,
                 "A landscape photo, taken on an autumn afternoon, Saturday 10 October 2020.");
    CHECK_STR_EQ(r.exif_text, "2020 october saturday 10 autumn afternoon");
    EXPECT_TAGS(&r, "landscape|shape", "2020|date", "october|date", "autumn|date",
                "afternoon|date", "jpeg|format");
    caption_result_free(&r);

    /* a timestamp gmtime cannot place is left out, not printed as garbage */
    e.taken_at = INT64_MAX;
    CHECK_OK(caption_from_metadata(&dated, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A landscape photo.");
    CHECK_STR_EQ(r.exif_text, "");
    caption_result_free(&r);
}

static void test_southern_hemisphere(void)
{
    cs_exif e = exif_with("OLYMPUS IMAGING CORP.", "E-M5");
    e.has_taken_at = true;
    e.taken_at = at(2019, 1, 15, 7, 5, 0);
    e.has_gps = true;
    e.latitude = -33.87;   /* Sydney: January is summer */
    e.longitude = 151.21;
    caption_facts f = {0, 0, CS_FORMAT_JPEG, &e, NULL, 0};
    caption_result r;
    cs_error err = {0};
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    CHECK_STR_EQ(r.caption,
                 "A photo, taken on a summer morning, Tuesday 15 January 2019, with an Olympus E-M5.");
    CHECK_STR_EQ(r.exif_text, "2019 january tuesday 15 summer morning olympus e-m5");
    caption_result_free(&r);

    /* a latitude without has_gps is not evidence: northern winter */
    e.has_gps = false;
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    CHECK(strstr(r.caption, "winter morning") != NULL);
    caption_result_free(&r);
}

static void expect_camera(const char *make, const char *model, const char *phrase,
                          const char *exif_text, int line)
{
    cs_exif e = exif_with(make, model);
    caption_facts f = {0, 0, CS_FORMAT_JPEG, &e, NULL, 0};
    caption_result r;
    cs_error err = {0};
    char want[256];
    snprintf(want, sizeof want, "A photo, taken with %s.", phrase);
    if (caption_from_metadata(&f, &r, &err) != CS_OK || strcmp(r.caption, want) != 0 ||
        strcmp(r.exif_text, exif_text) != 0) {
        fprintf(stderr, "%s:%d: camera [%s] [%s]\n  got      [%s] [%s]\n  expected [%s] [%s]\n",
                __FILE__, line, make, model, r.caption ? r.caption : "(null)",
                r.exif_text ? r.exif_text : "(null)", want, exif_text);
        check_failures++;
    }
    caption_result_free(&r);
}

#define EXPECT_CAMERA(make, model, phrase, words) expect_camera(make, model, phrase, words, __LINE__)

static void test_camera_names(void)
{
    EXPECT_CAMERA("Canon", "Canon EOS 5D", "a Canon EOS 5D", "canon eos 5d");
    EXPECT_CAMERA("Canon", "canon eos 5d", "a Canon eos 5d", "canon eos 5d");
    EXPECT_CAMERA("Canon", "Canonet QL17", "a Canon Canonet QL17", "canon canonet ql17");
    EXPECT_CAMERA("NIKON CORPORATION", "NIKON D750", "a Nikon D750", "nikon d750");
    EXPECT_CAMERA("OLYMPUS IMAGING CORP.", "E-M5", "an Olympus E-M5", "olympus e-m5");
    EXPECT_CAMERA("OLYMPUS OPTICAL CO.,LTD", "C2500L", "an Olympus C2500L", "olympus c2500l");
    EXPECT_CAMERA("EASTMAN KODAK COMPANY", "KODAK EASYSHARE C340 ZOOM DIGITAL CAMERA",
                  "a Kodak EASYSHARE C340 ZOOM DIGITAL CAMERA",
                  "kodak easyshare c340 zoom digital camera");
    EXPECT_CAMERA("PENTAX RICOH IMAGING", "PENTAX K-3", "a Pentax K-3", "pentax k-3");
    EXPECT_CAMERA("RICOH IMAGING COMPANY, LTD.", "GR III", "a Ricoh GR III", "ricoh gr iii");
    EXPECT_CAMERA("CASIO COMPUTER CO.,LTD.", "EX-Z750", "a Casio EX-Z750", "casio ex-z750");
    EXPECT_CAMERA("LEICA CAMERA AG", "M10", "a Leica M10", "leica m10");
    EXPECT_CAMERA("SONY", "ILCE-7M3", "a Sony ILCE-7M3", "sony ilce-7m3");
    EXPECT_CAMERA("HUAWEI", "HUAWEI P30", "a Huawei P30", "huawei p30");
    EXPECT_CAMERA("motorola", "moto g(7)", "a Motorola moto g(7)", "motorola moto g(7)");
    EXPECT_CAMERA("Apple", "iPhone 12 Pro", "an Apple iPhone 12 Pro", "apple iphone 12 pro");
    EXPECT_CAMERA("GoPro", "HERO9 Black", "a GoPro HERO9 Black", "gopro hero9 black");
    EXPECT_CAMERA("SONY", "", "a Sony camera", "sony");
    EXPECT_CAMERA("Canon", "Canon", "a Canon camera", "canon");
    EXPECT_CAMERA("", "iPhone 12", "an iPhone 12", "iphone 12");
    /* control characters and invalid UTF-8 from a device become spaces */
    EXPECT_CAMERA("Canon\t", "Canon\x01" "EOS\n\n5D\xff", "a Canon EOS 5D", "canon eos 5d");
}

static void test_camera_tags_unique(void)
{
    cs_exif e = exif_with("Canon", "Canon");
    caption_facts f = {0, 0, CS_FORMAT_JPEG, &e, NULL, 0};
    caption_result r;
    cs_error err = {0};
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    EXPECT_TAGS(&r, "canon|camera", "jpeg|format");
    caption_result_free(&r);
}

static void test_color_rules(void)
{
    caption_result r;
    cs_error err = {0};

    /* thresholds: tag from 5%, sentence from 10% */
    cs_color_share edge[] = {
        {"red", 0.5f, {0}}, {"orange", 0.10f, {0}}, {"yellow", 0.0999f, {0}},
        {"green", 0.05f, {0}}, {"blue", 0.0499f, {0}},
    };
    caption_facts f = {0, 0, CS_FORMAT_PNG, NULL, edge, 5};
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "An image, mostly red and orange.");
    EXPECT_TAGS(&r, "red|color", "orange|color", "yellow|color", "green|color", "png|format");
    caption_result_free(&r);

    /* unsorted input is sorted; equal shares keep input order; three at most
     * in the sentence; panorama reads "panoramic" */
    cs_color_share unsorted[] = {
        {"white", 0.15f, {0}}, {"blue", 0.40f, {0}}, {"green", 0.30f, {0}}, {"grey", 0.15f, {0}},
    };
    caption_facts pano = {8000, 2000, CS_FORMAT_WEBP, NULL, unsorted, 4};
    CHECK_OK(caption_from_metadata(&pano, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A panoramic image, mostly blue, green and white.");
    EXPECT_TAGS(&r, "blue|color", "green|color", "white|color", "grey|color", "panorama|shape",
                "webp|format");
    caption_result_free(&r);

    /* same name twice is merged (shares add up); unusable entries ignored */
    cs_color_share messy[] = {
        {"blue", 0.3f, {0}}, {"white", 0.35f, {0}}, {"Blue", 0.1f, {0}}, {NULL, 0.5f, {0}},
        {"", 0.5f, {0}}, {"red", NAN, {0}}, {"pink", -0.2f, {0}}, {"black", 0.2f, {0}},
    };
    caption_facts m = {0, 0, CS_FORMAT_PNG, NULL, messy, 8};
    CHECK_OK(caption_from_metadata(&m, &r, &err), &err);
    EXPECT_TAGS(&r, "blue|color", "white|color", "black|color", "png|format");
    const caption_tag *t = find_tag(&r, "blue");
    CHECK(t != NULL);
    if (t)
        CHECK_NEAR(t->score, 0.4, 1e-6);
    CHECK_STR_EQ(r.caption, "An image, mostly blue, white and black.");
    caption_result_free(&r);
}

static void test_long_names(void)
{
    caption_result r;
    cs_error err = {0};
    /* 67 bytes: cut before the word that crosses the 63-byte limit */
    const char *long_words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo";
    /* 40 two-byte characters (80 bytes): cut at 31 characters, never mid-character */
    char accents[81] = "";
    for (int i = 0; i < 40; i++)
        strcat(accents, "é");
    cs_color_share colors[] = {{long_words, 0.6f, {0}}, {accents, 0.4f, {0}}};
    caption_facts f = {0, 0, CS_FORMAT_UNKNOWN, NULL, colors, 2};
    CHECK_OK(caption_from_metadata(&f, &r, &err), &err);
    CHECK_INT_EQ(r.ntags, 2);
    CHECK_STR_EQ(r.tags[0].name, "alpha bravo charlie delta echo foxtrot golf hotel india juliet");
    char want[63] = "";
    for (int i = 0; i < 31; i++)
        strcat(want, "é");
    CHECK_STR_EQ(r.tags[1].name, want);
    caption_result_free(&r);

    /* a model filling all 64 bytes with no terminator is read to its end; the
     * sentence keeps it whole, the tag is cut on a word boundary */
    cs_exif e;
    memset(&e, 0, sizeof e);
    memcpy(e.model, "Alpha Bravo Charlie Delta Echo Foxtrot Golf Hotel India Juliet K", 64);
    caption_facts g = {0, 0, CS_FORMAT_JPEG, &e, NULL, 0};
    CHECK_OK(caption_from_metadata(&g, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A photo, taken with an Alpha Bravo Charlie Delta Echo Foxtrot Golf "
                            "Hotel India Juliet K.");
    EXPECT_TAGS(&r, "alpha bravo charlie delta echo foxtrot golf hotel india juliet|camera",
                "jpeg|format");
    caption_result_free(&r);
}

static void test_errors(void)
{
    caption_result r;
    cs_error err = {0};
    CHECK_INT_EQ(caption_from_metadata(NULL, &r, &err), CS_ERR_INVALID);
    CHECK(r.caption == NULL && r.ntags == 0);
    CHECK(err.message[0] != '\0');
    caption_facts f = {0, 0, CS_FORMAT_PNG, NULL, NULL, 2};
    CHECK_INT_EQ(caption_from_metadata(&f, &r, &err), CS_ERR_INVALID);
    f.ncolors = -1;
    CHECK_INT_EQ(caption_from_metadata(&f, &r, &err), CS_ERR_INVALID);
    CHECK(r.caption == NULL);
    CHECK_INT_EQ(caption_from_metadata(&f, NULL, NULL), CS_ERR_INVALID);
}

int main(void)
{
    test_date_words();
    test_date_out_of_range();
    test_time_of_day();
    test_seasons();
    test_shape_words();
    test_full_caption();
    test_parts_left_out();
    test_southern_hemisphere();
    test_camera_names();
    test_camera_tags_unique();
    test_color_rules();
    test_long_names();
    test_errors();
    CHECK_DONE();
}
