/* cs_image_get, cs_thumbnail and cs_search_image on a library indexed from
 * the pictures fixtures.py makes (see libtest.h for what they are).
 *
 *     test_library PHOTOS_DIR LIBRARY_DIR PHOTO_256_RGB
 *
 * PHOTO_256_RGB is PIL's box-averaged 256x160 reduction of photo.jpg, the
 * reference the thumbnail is compared with. */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "libtest.h"

/* 2021-07-04 18:30:00, the DateTimeOriginal written into rotated.jpg, as
 * timegm() of the fields (FORMAT.md: wall-clock time encoded like UTC). */
#define ROTATED_TAKEN_AT 1625423400

static const char *photos_dir, *library_dir;
static int64_t ids[F_COUNT];

static char *photo_path(int which)
{
    return path_join(photos_dir, FIXTURES[which].name);
}

static char *thumb_file(int64_t id, int size)
{
    char name[64];
    snprintf(name, sizeof name, "thumbs/%lld-%d.jpg", (long long)id, size);
    return path_join(library_dir, name);
}

static bool has_tag(const cs_image_info *info, const char *kind, const char *tag)
{
    for (size_t i = 0; i < info->ntags; i++)
        if (strcmp(info->tags[i].kind, kind) == 0 && strcmp(info->tags[i].tag, tag) == 0)
            return true;
    return false;
}

static void index_fixtures(cs_library *lib, uint64_t expect_indexed, uint64_t expect_removed)
{
    cs_error err;
    cs_index_progress report;
    cs_index_options options = {.threads = 2};
    const char *dirs[] = {photos_dir};
    CHECK_OK(cs_index(lib, dirs, 1, &options, &report, &err), &err);
    CHECK_INT_EQ(report.indexed, expect_indexed);
    CHECK_INT_EQ(report.removed, expect_removed);
    CHECK_INT_EQ(report.failed, 0);
}

/* ---- cs_image_get ---- */

static void check_tag_order(const cs_image_info *info)
{
    for (size_t i = 1; i < info->ntags; i++) {
        int by_kind = strcmp(info->tags[i - 1].kind, info->tags[i].kind);
        CHECK(by_kind <= 0);
        if (by_kind == 0)
            CHECK(info->tags[i - 1].score >= info->tags[i].score);
    }
}

static void test_image_get_rotated(cs_library *lib)
{
    cs_error err;
    cs_image_info *info = NULL;
    CHECK_OK(cs_image_get(lib, ids[F_ROTATED], &info, &err), &err);
    if (!info)
        return;
    char *path = photo_path(F_ROTATED);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    CHECK_INT_EQ(info->id, ids[F_ROTATED]);
    CHECK_STR_EQ(info->path, path);
    CHECK_STR_EQ(info->folder, photos_dir);
    CHECK_INT_EQ(info->size, st.st_size);
    CHECK_INT_EQ(info->mtime_ns, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
    CHECK_INT_EQ(strlen(info->content_hash), 32);
    CHECK(strspn(info->content_hash, "0123456789abcdef") == 32);
    /* Stored 160x240; orientation 6 shows it 240x160. */
    CHECK_INT_EQ(info->width, 240);
    CHECK_INT_EQ(info->height, 160);
    CHECK_STR_EQ(info->format, "jpeg");
    CHECK(info->has_taken_at);
    CHECK_INT_EQ(info->taken_at, ROTATED_TAKEN_AT);
    CHECK_STR_EQ(info->camera_make, "Canon");
    CHECK_STR_EQ(info->camera_model, "Canon EOS 5D");
    CHECK(!info->has_gps);
    CHECK(info->has_phash);
    CHECK(strlen(info->caption) > 0);
    CHECK(strstr(info->path_words, "rotated") != NULL);
    CHECK(strstr(info->exif_text, "2021") != NULL);
    CHECK_STR_EQ(info->ocr, "");
    /* Tags from the facts the fixture was made with (caption.h's rules). */
    CHECK(has_tag(info, "shape", "landscape"));
    CHECK(has_tag(info, "format", "jpeg"));
    CHECK(has_tag(info, "date", "2021"));
    CHECK(has_tag(info, "date", "july"));
    CHECK(has_tag(info, "date", "summer"));
    CHECK(has_tag(info, "date", "evening"));
    CHECK(has_tag(info, "camera", "canon"));
    CHECK(has_tag(info, "camera", "eos 5d"));
    size_t colors = 0;
    for (size_t i = 0; i < info->ntags; i++)
        if (strcmp(info->tags[i].kind, "color") == 0) {
            colors++;
            CHECK(info->tags[i].score > 0.0 && info->tags[i].score <= 1.0);
        }
    CHECK(colors >= 1);
    check_tag_order(info);
    cs_image_info_free(info);
    free(path);
}

static void test_image_get_png(cs_library *lib, int which, const char *shape)
{
    cs_error err;
    cs_image_info *info = NULL;
    CHECK_OK(cs_image_get(lib, ids[which], &info, &err), &err);
    if (!info)
        return;
    char *path = photo_path(which);
    CHECK_STR_EQ(info->path, path);
    CHECK_INT_EQ(info->width, FIXTURES[which].width);
    CHECK_INT_EQ(info->height, FIXTURES[which].height);
    CHECK_STR_EQ(info->format, "png");
    CHECK(!info->has_taken_at);
    CHECK_STR_EQ(info->camera_make, "");
    CHECK_STR_EQ(info->camera_model, "");
    CHECK(has_tag(info, "format", "png"));
    CHECK(has_tag(info, "shape", shape));
    CHECK(strlen(info->caption) > 0);
    check_tag_order(info);
    cs_image_info_free(info);
    free(path);
}

static void test_image_get_unknown(cs_library *lib)
{
    cs_error err = {0};
    cs_image_info *info = (cs_image_info *)&err;   /* must be reset to NULL */
    int64_t unknown = ids[F_GONE] + ids[F_PHOTO] + 1000;
    CHECK_INT_EQ(cs_image_get(lib, unknown, &info, &err), CS_ERR_NOT_FOUND);
    CHECK(info == NULL);
    CHECK(strstr(err.message, "no image") != NULL);
    CHECK_INT_EQ(cs_image_get(lib, -1, &info, &err), CS_ERR_NOT_FOUND);
}

/* ---- cs_thumbnail ---- */

/* Makes the thumbnail, checks it is a JPEG of the expected size, decodes it. */
static bool thumbnail(cs_library *lib, int which, int size, rgb_image *out, uint8_t **bytes,
                      size_t *len)
{
    cs_error err;
    uint8_t *jpeg = NULL;
    size_t n = 0;
    memset(out, 0, sizeof *out);
    cs_status rc = cs_thumbnail(lib, ids[which], size, &jpeg, &n, &err);
    CHECK_OK(rc, &err);
    if (rc != CS_OK)
        return false;
    CHECK(n > 3 && jpeg[0] == 0xFF && jpeg[1] == 0xD8 && jpeg[2] == 0xFF);
    CHECK_INT_EQ(decode_jpeg(jpeg, n, out), 0);
    int w, h;
    expected_thumb(&FIXTURES[which], size, &w, &h);
    bool wide = FIXTURES[which].width >= FIXTURES[which].height;
    /* The longer side is exact; the other may round either way. */
    CHECK_INT_EQ(wide ? out->width : out->height, wide ? w : h);
    CHECK(abs((wide ? out->height : out->width) - (wide ? h : w)) <= 1);
    if (bytes) {
        *bytes = jpeg;
        *len = n;
    } else {
        free(jpeg);
    }
    return out->pixels != NULL;
}

static void test_thumbnail_orientation(cs_library *lib)
{
    rgb_image img;
    /* EXIF-rotated JPEG: red must land top-left, where a viewer shows it. */
    if (thumbnail(lib, F_ROTATED, 120, &img, NULL, NULL)) {
        CHECK_INT_EQ(img.width, 120);
        CHECK_INT_EQ(img.height, 80);
        CHECK(quadrants_upright(&img, QUAD_RGBW));
        free(img.pixels);
    }
    /* Upright portrait PNG: longer side is the height. */
    if (thumbnail(lib, F_TALL, 100, &img, NULL, NULL)) {
        CHECK_INT_EQ(img.height, 100);
        CHECK(quadrants_upright(&img, QUAD_YMCK));
        free(img.pixels);
    }
}

static void test_thumbnail_sizes(cs_library *lib, const char *reference_path)
{
    rgb_image img;
    /* DCT-scaled decode of a big JPEG; compared with PIL's reduction. */
    if (thumbnail(lib, F_PHOTO, 256, &img, NULL, NULL)) {
        size_t len = 0;
        uint8_t *ref = read_whole(reference_path, &len);
        CHECK(ref && len == 256 * 160 * 3);
        if (ref && len == (size_t)img.width * (size_t)img.height * 3) {
            double sum = 0;
            for (size_t i = 0; i < len; i++)
                sum += abs((int)ref[i] - (int)img.pixels[i]);
            double mean = sum / (double)len;
            if (mean >= 6.0)
                fprintf(stderr, "photo thumbnail differs from PIL's by %.2f on average\n", mean);
            CHECK(mean < 6.0);
        }
        free(ref);
        free(img.pixels);
    }
    if (thumbnail(lib, F_PHOTO, 1024, &img, NULL, NULL))
        free(img.pixels);
    /* Smaller than asked for: never enlarged. */
    if (thumbnail(lib, F_SMALL, 64, &img, NULL, NULL)) {
        CHECK_INT_EQ(img.width, 40);
        CHECK_INT_EQ(img.height, 30);
        free(img.pixels);
    }
    if (thumbnail(lib, F_SMALL, 16, &img, NULL, NULL)) {
        CHECK_INT_EQ(img.width, 16);
        CHECK_INT_EQ(img.height, 12);
        free(img.pixels);
    }
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_size == b->st_size;
}

static void test_thumbnail_cache(cs_library *lib)
{
    cs_error err;
    rgb_image img;
    uint8_t *first = NULL, *second = NULL;
    size_t first_len = 0, second_len = 0;
    char *file = thumb_file(ids[F_PHOTO], 200);
    struct stat before, after;
    CHECK(stat(file, &before) != 0);   /* not made yet */
    if (!thumbnail(lib, F_PHOTO, 200, &img, &first, &first_len))
        goto done;
    free(img.pixels);
    CHECK(stat(file, &before) == 0);
    CHECK_INT_EQ(before.st_size, first_len);
    /* The second call reads the file: same bytes, file not rewritten (a
     * rewrite is a rename, so a new inode and mtime). */
    CHECK_OK(cs_thumbnail(lib, ids[F_PHOTO], 200, &second, &second_len, &err), &err);
    CHECK(second_len == first_len && second && memcmp(first, second, first_len) == 0);
    CHECK(stat(file, &after) == 0 && same_file_state(&before, &after));
    free(second);
    second = NULL;
    /* And what it serves is that file: change it, get the change back. */
    static const uint8_t marker[] = {0xFF, 0xD8, 0xFF, 'c', 'a', 'c', 'h', 'e', 'd'};
    FILE *f = fopen(file, "wb");
    CHECK(f != NULL);
    if (f) {
        fwrite(marker, 1, sizeof marker, f);
        fclose(f);
    }
    CHECK_OK(cs_thumbnail(lib, ids[F_PHOTO], 200, &second, &second_len, &err), &err);
    CHECK(second_len == sizeof marker && second && memcmp(second, marker, sizeof marker) == 0);
done:
    free(first);
    free(second);
    free(file);
}

static void test_thumbnail_invalid(cs_library *lib)
{
    static const int bad[] = {0, -5, 15, 1025, 4096};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cs_error err = {0};
        uint8_t *jpeg = (uint8_t *)&err;   /* must be reset to NULL */
        size_t len = 99;
        CHECK_INT_EQ(cs_thumbnail(lib, ids[F_PHOTO], bad[i], &jpeg, &len, &err), CS_ERR_INVALID);
        CHECK(jpeg == NULL && len == 0);
        CHECK(strstr(err.message, "16..1024") != NULL);
    }
    cs_error err;
    uint8_t *jpeg = NULL;
    size_t len = 0;
    CHECK_INT_EQ(cs_thumbnail(lib, ids[F_GONE] + ids[F_PHOTO] + 1000, 64, &jpeg, &len, &err),
                 CS_ERR_NOT_FOUND);
    CHECK(jpeg == NULL);
}

/* The original is deleted: an uncached size fails cleanly; once the library
 * forgets the image, even a cached thumbnail is no longer served. */
static void test_thumbnail_gone(cs_library *lib)
{
    cs_error err;
    rgb_image img;
    int64_t gone = ids[F_GONE];
    if (thumbnail(lib, F_GONE, 128, &img, NULL, NULL))
        free(img.pixels);
    char *path = photo_path(F_GONE);
    CHECK(unlink(path) == 0);
    uint8_t *jpeg = NULL;
    size_t len = 0;
    CHECK_INT_EQ(cs_thumbnail(lib, gone, 64, &jpeg, &len, &err), CS_ERR_NOT_FOUND);
    CHECK(jpeg == NULL);
    CHECK(strstr(err.message, path) != NULL);
    /* Still catalogued: the cached one is served until the folder is indexed. */
    CHECK_OK(cs_thumbnail(lib, gone, 128, &jpeg, &len, &err), &err);
    free(jpeg);
    jpeg = NULL;

    index_fixtures(lib, 0, 1);
    char *cached = thumb_file(gone, 128);
    struct stat st;
    CHECK(stat(cached, &st) == 0);   /* the file is there ... */
    CHECK_INT_EQ(cs_thumbnail(lib, gone, 128, &jpeg, &len, &err), CS_ERR_NOT_FOUND);
    CHECK(jpeg == NULL);             /* ... but not served */
    cs_image_info *info = NULL;
    CHECK_INT_EQ(cs_image_get(lib, gone, &info, &err), CS_ERR_NOT_FOUND);
    free(cached);
    free(path);
}

static void overwrite(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_INT_EQ(fwrite(data, 1, len, f), len);
        fclose(f);
    }
}

/* Originals that no longer decode give the decoder's error, not a crash. */
static void test_thumbnail_broken_original(cs_library *lib)
{
    cs_error err;
    uint8_t *jpeg = NULL;
    size_t len = 0;
    char *small = photo_path(F_SMALL);
    static const char garbage[] = "this is not a picture at all, just some text";
    overwrite(small, (const uint8_t *)garbage, sizeof garbage);
    CHECK_INT_EQ(cs_thumbnail(lib, ids[F_SMALL], 32, &jpeg, &len, &err), CS_ERR_UNSUPPORTED);
    CHECK(jpeg == NULL);
    CHECK(strstr(err.message, small) != NULL);

    char *tall = photo_path(F_TALL);
    size_t n = 0;
    uint8_t *data = read_whole(tall, &n);
    CHECK(data && n > 200);
    if (data) {
        overwrite(tall, data, n / 3);   /* truncated */
        cs_status rc = cs_thumbnail(lib, ids[F_TALL], 48, &jpeg, &len, &err);
        CHECK(rc == CS_ERR_CORRUPT || rc == CS_OK);   /* a partial picture may be served */
        if (rc == CS_OK) {
            /* ... but not cached: it may be a file still being written. */
            char *cached = thumb_file(ids[F_TALL], 48);
            struct stat st;
            CHECK(stat(cached, &st) != 0);
            free(cached);
        }
        free(jpeg);
    }
    free(data);
    free(small);
    free(tall);
}

/* ---- cs_search_image ---- */

static void test_search_image_finds_itself(cs_library *lib, int which, size_t candidates)
{
    cs_error err;
    char *path = photo_path(which);
    size_t len = 0;
    uint8_t *data = read_whole(path, &len);
    CHECK(data != NULL);
    cs_results *results = NULL;
    cs_search_options options = {.explain = 1};
    CHECK_OK(cs_search_image(lib, data, len, &options, &results, &err), &err);
    if (results) {
        CHECK(results->count >= 1);
        /* Nothing is left out: every picture with a vector is a candidate. */
        CHECK_INT_EQ(results->total_candidates, candidates);
        if (results->count >= 1) {
            const cs_result *top = &results->items[0];
            CHECK_INT_EQ(top->id, ids[which]);
            CHECK_STR_EQ(top->path, path);
            /* Rank 1 of the only list: 1 / (60 + 1) with weight 1. */
            CHECK_NEAR(top->score, 1.0 / 61.0, 1e-12);
            CHECK_INT_EQ(top->nsources, 1);
            CHECK_STR_EQ(top->sources[0].source, "vector");
            CHECK_INT_EQ(top->sources[0].rank, 1);
            /* Same pixels, same vector: inner product of a unit vector with itself. */
            CHECK_NEAR(top->sources[0].score, 1.0, 1e-4);
        }
        for (size_t i = 1; i < results->count; i++)
            CHECK(results->items[i].sources[0].score <= results->items[0].sources[0].score);
    }
    cs_results_free(results);
    free(data);
    free(path);
}

static void expect_search_image_error(cs_library *lib, const uint8_t *data, size_t len,
                                      cs_status expected)
{
    cs_error err = {0};
    cs_results *results = (cs_results *)&err;   /* must be reset to NULL */
    CHECK_INT_EQ(cs_search_image(lib, data, len, NULL, &results, &err), expected);
    CHECK(results == NULL);
    CHECK(strlen(err.message) > 0);
}

static void test_search_image_errors(cs_library *lib)
{
    static const char garbage[] = "GIF? no. PNG? no. Just text pretending to be a picture.";
    expect_search_image_error(lib, (const uint8_t *)garbage, sizeof garbage, CS_ERR_UNSUPPORTED);
    expect_search_image_error(lib, (const uint8_t *)garbage, 0, CS_ERR_INVALID);
    expect_search_image_error(lib, NULL, 0, CS_ERR_INVALID);
    /* The first third of a JPEG: damaged, refused like the indexer refuses it. */
    char *path = photo_path(F_PHOTO);
    size_t len = 0;
    uint8_t *data = read_whole(path, &len);
    CHECK(data != NULL);
    if (data)
        expect_search_image_error(lib, data, len / 3, CS_ERR_CORRUPT);
    /* Bad options are refused before any decoding. */
    cs_error err;
    cs_results *results = NULL;
    cs_search_options bad = {.k = -1};
    CHECK_INT_EQ(cs_search_image(lib, data, len, &bad, &results, &err), CS_ERR_INVALID);
    CHECK(results == NULL);
    free(data);
    free(path);
}

/* Options apply as in any search: a type filter keeps only those pictures. */
static void test_search_image_filter(cs_library *lib)
{
    cs_error err;
    char *path = photo_path(F_PHOTO);
    size_t len = 0;
    uint8_t *data = read_whole(path, &len);
    cs_results *results = NULL;
    cs_search_options options = {.filter = {.type = "png"}};
    CHECK_OK(cs_search_image(lib, data, len, &options, &results, &err), &err);
    if (results) {
        CHECK_INT_EQ(results->count, 2);   /* small.png and tall.png */
        for (size_t i = 0; i < results->count; i++)
            CHECK(results->items[i].id == ids[F_SMALL] || results->items[i].id == ids[F_TALL]);
    }
    cs_results_free(results);
    free(data);
    free(path);
}

/* A library with nothing indexed has no vectors to search. */
static void test_search_image_empty_library(void)
{
    cs_error err;
    char *dir = path_join(library_dir, "empty");
    cs_library *empty = NULL;
    CHECK_OK(cs_library_open(dir, NULL, &empty, &err), &err);
    char *path = photo_path(F_PHOTO);
    size_t len = 0;
    uint8_t *data = read_whole(path, &len);
    if (empty && data)
        expect_search_image_error(empty, data, len, CS_ERR_NOT_FOUND);
    cs_library_close(empty);
    free(data);
    free(path);
    free(dir);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s PHOTOS_DIR LIBRARY_DIR PHOTO_256_RGB\n", argv[0]);
        return 2;
    }
    photos_dir = argv[1];
    library_dir = argv[2];
    cs_error err;
    cs_library *lib = NULL;
    CHECK_OK(cs_library_open(library_dir, NULL, &lib, &err), &err);
    if (!lib)
        CHECK_DONE();
    index_fixtures(lib, F_COUNT, 0);
    for (int i = 0; i < F_COUNT; i++) {
        char *path = photo_path(i);
        ids[i] = find_id(lib, FIXTURES[i].word, path);
        CHECK(ids[i] > 0);
        free(path);
    }
    if (check_failures) {
        cs_library_close(lib);
        CHECK_DONE();
    }

    test_image_get_rotated(lib);
    test_image_get_png(lib, F_SMALL, "landscape");
    test_image_get_png(lib, F_TALL, "panorama");
    test_image_get_unknown(lib);

    test_thumbnail_orientation(lib);
    test_thumbnail_sizes(lib, argv[3]);
    test_thumbnail_cache(lib);
    test_thumbnail_invalid(lib);

    for (int i = 0; i < F_COUNT; i++)
        test_search_image_finds_itself(lib, i, F_COUNT);
    test_search_image_errors(lib);
    test_search_image_filter(lib);
    test_search_image_empty_library();

    test_thumbnail_gone(lib);
    test_thumbnail_broken_original(lib);

    cs_library_close(lib);
    CHECK_DONE();
}
