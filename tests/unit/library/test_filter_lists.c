/* The filter lists of a library handle: a stored list comes back as an
 * independent copy for its filter and catalog generation only; every
 * field of a filter tells keys apart; the least recently used list makes
 * room; four threads share the lists. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "library/filter_lists.h"

static void test_keys(void)
{
    cs_filter base = {.folder = "/photos/a", .has_from = 1, .from = 100, .has_to = 1, .to = 200,
                      .type = "jpeg", .camera = "canon", .has_text = 1, .has_faces = 1};
    cs_filter variants[] = {base, base, base, base, base, base, base, base, base, base};
    variants[0].folder = "/photos/b";
    variants[1].from = 101;
    variants[2].has_from = 0;
    variants[3].to = 201;
    variants[4].has_to = 0;
    variants[5].type = "png";
    variants[6].camera = "nikon";
    variants[7].has_text = 0;
    variants[8].has_faces = 0;
    /* the folder's bytes moved into the type: lengths keep them apart */
    variants[9].folder = "/photos/a\x1f" "0";
    variants[9].type = "";
    size_t count = sizeof variants / sizeof variants[0];
    char *keys[sizeof variants / sizeof variants[0] + 1];
    keys[count] = filter_lists_key(&base);
    for (size_t i = 0; i < count; i++)
        keys[i] = filter_lists_key(&variants[i]);
    for (size_t i = 0; i <= count; i++) {
        CHECK(keys[i] != NULL);
        for (size_t j = 0; j < i; j++)
            CHECK(keys[i] && keys[j] && strcmp(keys[i], keys[j]) != 0);
    }
    char *again = filter_lists_key(&base);
    CHECK(again && keys[count] && strcmp(again, keys[count]) == 0);
    /* NULL and "" mean the same: no such filter */
    cs_filter null_fields = {0}, empty_fields = {.folder = "", .type = "", .camera = ""};
    char *a = filter_lists_key(&null_fields), *b = filter_lists_key(&empty_fields);
    CHECK(a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
    free(again);
    for (size_t i = 0; i <= count; i++)
        free(keys[i]);
}

static void test_get_put(void)
{
    filter_lists *lists = NULL;
    cs_error err = {0};
    CHECK_OK(filter_lists_new(&lists, &err), &err);
    if (!lists)
        return;
    int64_t one[] = {3, 5, 8}, *got = NULL;
    size_t n = 99;
    CHECK(!filter_lists_get(lists, "faces", 7, &got, &n));
    CHECK(got == NULL && n == 0);
    filter_lists_put(lists, "faces", 7, one, 3);
    one[0] = 1000;   /* the list kept is a copy */
    CHECK(filter_lists_get(lists, "faces", 7, &got, &n));
    CHECK(n == 3 && got && got[0] == 3 && got[1] == 5 && got[2] == 8);
    if (got)
        got[1] = -1;   /* and so is what comes back */
    free(got);
    CHECK(filter_lists_get(lists, "faces", 7, &got, &n));
    CHECK(n == 3 && got && got[1] == 5);
    free(got);
    /* another generation: the catalog changed since */
    CHECK(!filter_lists_get(lists, "faces", 8, &got, &n));
    filter_lists_put(lists, "faces", 8, one, 1);
    CHECK(!filter_lists_get(lists, "faces", 7, &got, &n));
    CHECK(filter_lists_get(lists, "faces", 8, &got, &n));
    CHECK(n == 1 && got && got[0] == 1000);
    free(got);
    /* an empty list is a list */
    filter_lists_put(lists, "nothing", 8, NULL, 0);
    CHECK(filter_lists_get(lists, "nothing", 8, &got, &n));
    CHECK(n == 0);
    free(got);
    uint64_t hits, misses;
    filter_lists_stats(lists, &hits, &misses);
    CHECK_INT_EQ((int)hits, 4);
    CHECK_INT_EQ((int)misses, 3);
    filter_lists_free(lists);
}

static void test_least_recently_used(void)
{
    filter_lists *lists = NULL;
    cs_error err = {0};
    CHECK_OK(filter_lists_new(&lists, &err), &err);
    if (!lists)
        return;
    char key[16];
    int64_t id, *got;
    size_t n;
    for (int i = 0; i < FILTER_LISTS_MAX; i++) {
        snprintf(key, sizeof key, "f%d", i);
        id = i;
        filter_lists_put(lists, key, 1, &id, 1);
    }
    CHECK(filter_lists_get(lists, "f0", 1, &got, &n));   /* f0 used: f1 is the oldest */
    free(got);
    id = 99;
    filter_lists_put(lists, "new", 1, &id, 1);
    CHECK(!filter_lists_get(lists, "f1", 1, &got, &n));
    for (int i = 0; i < FILTER_LISTS_MAX; i++) {
        if (i == 1)
            continue;
        snprintf(key, sizeof key, "f%d", i);
        CHECK(filter_lists_get(lists, key, 1, &got, &n));
        CHECK(n == 1 && got && got[0] == i);
        free(got);
    }
    CHECK(filter_lists_get(lists, "new", 1, &got, &n));
    CHECK(n == 1 && got && got[0] == 99);
    free(got);
    filter_lists_free(lists);
}

#define THREADS 4
#define ROUNDS 2000

static void *hammer(void *arg)
{
    filter_lists *lists = arg;
    int64_t ids[64];
    for (int i = 0; i < 64; i++)
        ids[i] = i;
    for (int r = 0; r < ROUNDS; r++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", r % 7);
        int64_t *got;
        size_t n;
        if (filter_lists_get(lists, key, r % 3, &got, &n)) {
            for (size_t i = 0; i < n; i++)
                if (got[i] != (int64_t)i)
                    return (void *)1;
            free(got);
        } else {
            filter_lists_put(lists, key, r % 3, ids, (size_t)(r % 64));
        }
    }
    return NULL;
}

static void test_threads(void)
{
    filter_lists *lists = NULL;
    cs_error err = {0};
    CHECK_OK(filter_lists_new(&lists, &err), &err);
    if (!lists)
        return;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, hammer, lists) == 0);
    for (int i = 0; i < THREADS; i++) {
        void *bad = NULL;
        pthread_join(threads[i], &bad);
        CHECK(bad == NULL);
    }
    filter_lists_free(lists);
}

int main(void)
{
    test_keys();
    test_get_put();
    test_least_recently_used();
    test_threads();
    CHECK_DONE();
}
