/* One cs_library used by four threads at once: thumbnails (the same ones at
 * the same moment first, so several threads make and write one file),
 * cs_image_get, cs_search and cs_search_image. Every answer is checked, so a
 * connection shared by two threads or a torn thumbnail shows up as a wrong
 * result; the ASan/UBSan build catches memory errors.
 *
 *     test_library_threads PHOTOS_DIR LIBRARY_DIR [ignored]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "check.h"
#include "libtest.h"

#define THREADS 4
#define ROUNDS 24

static const char *photos_dir;
static int64_t ids[F_COUNT];
static char *paths[F_COUNT];
static uint8_t *photo_bytes;
static size_t photo_len;
static cs_library *lib;
static pthread_barrier_t start;
static atomic_int failures;

#define T_CHECK(cond, ...)                                                     \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: thread check failed: %s: ", __FILE__,      \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            atomic_fetch_add(&failures, 1);                                    \
        }                                                                      \
    } while (0)

static void check_thumbnail(int which, int size)
{
    cs_error err;
    uint8_t *jpeg = NULL;
    size_t len = 0;
    cs_status rc = cs_thumbnail(lib, ids[which], size, &jpeg, &len, &err);
    T_CHECK(rc == CS_OK, "thumbnail %s/%d: %s", FIXTURES[which].name, size, err.message);
    if (rc != CS_OK)
        return;
    rgb_image img;
    int decoded = decode_jpeg(jpeg, len, &img);
    T_CHECK(decoded == 0, "thumbnail %s/%d does not decode", FIXTURES[which].name, size);
    if (decoded == 0) {
        int w, h;
        expected_thumb(&FIXTURES[which], size, &w, &h);
        /* The longer side exact, the other within rounding. */
        bool wide = FIXTURES[which].width >= FIXTURES[which].height;
        T_CHECK(wide ? img.width == w && abs(img.height - h) <= 1
                     : img.height == h && abs(img.width - w) <= 1,
                "thumbnail %s/%d is %dx%d, expected %dx%d", FIXTURES[which].name, size,
                img.width, img.height, w, h);
        if (which == F_ROTATED || which == F_TALL)
            T_CHECK(quadrants_upright(&img, which == F_ROTATED ? QUAD_RGBW : QUAD_YMCK),
                    "thumbnail %s/%d not upright", FIXTURES[which].name, size);
        free(img.pixels);
    }
    free(jpeg);
}

static void check_image_get(int which)
{
    cs_error err;
    cs_image_info *info = NULL;
    cs_status rc = cs_image_get(lib, ids[which], &info, &err);
    T_CHECK(rc == CS_OK, "image_get %s: %s", FIXTURES[which].name, err.message);
    if (rc != CS_OK)
        return;
    T_CHECK(strcmp(info->path, paths[which]) == 0, "image_get path %s", info->path);
    T_CHECK(info->width == FIXTURES[which].width && info->height == FIXTURES[which].height,
            "image_get %s is %dx%d", FIXTURES[which].name, info->width, info->height);
    T_CHECK(strcmp(info->format, FIXTURES[which].format) == 0, "format %s", info->format);
    cs_image_info_free(info);
}

static void check_search(void)
{
    cs_error err;
    cs_results *results = NULL;
    /* The format tag: the three JPEG fixtures and nothing else. */
    cs_status rc = cs_search(lib, "jpeg", NULL, &results, &err);
    T_CHECK(rc == CS_OK, "search: %s", err.message);
    if (rc != CS_OK)
        return;
    T_CHECK(results->count == 3, "search jpeg found %zu", results->count);
    for (size_t i = 0; i < results->count; i++)
        T_CHECK(results->items[i].id == ids[F_ROTATED] || results->items[i].id == ids[F_PHOTO] ||
                    results->items[i].id == ids[F_GONE],
                "search jpeg found id %lld", (long long)results->items[i].id);
    cs_results_free(results);
}

static void check_search_image(void)
{
    cs_error err;
    cs_results *results = NULL;
    cs_status rc = cs_search_image(lib, photo_bytes, photo_len, NULL, &results, &err);
    T_CHECK(rc == CS_OK, "search_image: %s", err.message);
    if (rc != CS_OK)
        return;
    T_CHECK(results->count == F_COUNT && results->items[0].id == ids[F_PHOTO],
            "search_image found %zu, first %lld", results->count,
            results->count ? (long long)results->items[0].id : -1LL);
    cs_results_free(results);
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    static const int sizes[] = {64, 128, 200};
    pthread_barrier_wait(&start);
    /* All threads ask for the same uncached thumbnails at once. */
    check_thumbnail(F_PHOTO, 300);
    check_thumbnail(F_ROTATED, 100);
    for (int round = 0; round < ROUNDS; round++) {
        int which = (t + round) % F_COUNT;
        switch ((t + round) % 4) {
        case 0: check_thumbnail(which, sizes[round % 3]); break;
        case 1: check_image_get(which); break;
        case 2: check_search(); break;
        default: check_search_image(); break;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PHOTOS_DIR LIBRARY_DIR\n", argv[0]);
        return 2;
    }
    photos_dir = argv[1];
    cs_error err;
    CHECK_OK(cs_library_open(argv[2], NULL, &lib, &err), &err);
    if (!lib)
        CHECK_DONE();
    cs_index_progress report;
    const char *dirs[] = {photos_dir};
    CHECK_OK(cs_index(lib, dirs, 1, NULL, &report, &err), &err);
    CHECK_INT_EQ(report.indexed, F_COUNT);
    for (int i = 0; i < F_COUNT; i++) {
        paths[i] = path_join(photos_dir, FIXTURES[i].name);
        ids[i] = find_id(lib, FIXTURES[i].word, paths[i]);
        CHECK(ids[i] > 0);
    }
    photo_bytes = read_whole(paths[F_PHOTO], &photo_len);
    CHECK(photo_bytes != NULL);
    if (!check_failures) {
        pthread_t threads[THREADS];
        pthread_barrier_init(&start, NULL, THREADS);
        for (int t = 0; t < THREADS; t++)
            if (pthread_create(&threads[t], NULL, worker, (void *)(intptr_t)t) != 0) {
                /* The barrier would never open: give up (exiting ends the
                 * threads already waiting at it). */
                fprintf(stderr, "cannot start thread %d\n", t);
                return 1;
            }
        for (int t = 0; t < THREADS; t++)
            pthread_join(threads[t], NULL);
        pthread_barrier_destroy(&start);
        CHECK_INT_EQ(atomic_load(&failures), 0);
        /* What the racing writers left is one complete thumbnail. */
        check_thumbnail(F_PHOTO, 300);
        CHECK_INT_EQ(atomic_load(&failures), 0);
    }
    free(photo_bytes);
    for (int i = 0; i < F_COUNT; i++)
        free(paths[i]);
    cs_library_close(lib);
    CHECK_DONE();
}
