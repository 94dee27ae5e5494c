/* The query embedding cache (library/query_cache.h): hits return the stored
 * numbers, the least recently used entry makes room, a lookup refreshes an
 * entry, another model empties the cache, a different size is a miss, and
 * four threads storing and reading at once always read back the right
 * vector for a text (run under ThreadSanitizer-free ASan too). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "library/query_cache.h"

#define DIM 8

/* A vector that depends on the text, to check what comes back. */
static void vector_of(const char *text, float *out)
{
    unsigned h = 2166136261u;
    for (const char *p = text; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (int i = 0; i < DIM; i++)
        out[i] = (float)((h >> (i * 3)) & 0xff) + (float)i / 8.0f;
}

static bool holds(query_cache *c, const char *model, const char *text)
{
    float got[DIM], want[DIM];
    if (!query_cache_get(c, model, text, got, DIM))
        return false;
    vector_of(text, want);
    return memcmp(got, want, sizeof got) == 0;
}

static void put(query_cache *c, const char *model, const char *text)
{
    float v[DIM];
    vector_of(text, v);
    query_cache_put(c, model, text, v, DIM);
}

static void test_lru(void)
{
    query_cache *c = NULL;
    cs_error err = {0};
    CHECK_OK(query_cache_new(3, &c, &err), &err);
    if (!c)
        return;
    CHECK(!holds(c, "m", "a"));
    put(c, "m", "a");
    put(c, "m", "b");
    put(c, "m", "c");
    CHECK(holds(c, "m", "a"));   /* a is now the most recent */
    put(c, "m", "d");            /* evicts b, the least recently used */
    CHECK(!holds(c, "m", "b"));
    CHECK(holds(c, "m", "a") && holds(c, "m", "c") && holds(c, "m", "d"));
    put(c, "m", "d");            /* storing again replaces, adds nothing */
    cs_query_cache_stats st;
    query_cache_stats(c, &st);
    CHECK_INT_EQ(st.entries, 3);
    CHECK_INT_EQ(st.capacity, 3);
    /* exact text: case and spaces matter */
    CHECK(!holds(c, "m", "A"));
    CHECK(!holds(c, "m", "a "));
    /* another size is a miss */
    float big[DIM * 2];
    CHECK(!query_cache_get(c, "m", "a", big, DIM * 2));
    /* another model: everything of the old one goes */
    CHECK(!holds(c, "m2", "a"));
    query_cache_stats(c, &st);
    CHECK_INT_EQ(st.entries, 0);
    put(c, "m2", "a");
    CHECK(holds(c, "m2", "a"));
    CHECK(!holds(c, "m", "a"));   /* and back: m2's entries go */
    query_cache_stats(c, &st);
    CHECK_INT_EQ(st.entries, 0);
    CHECK_INT_EQ(st.hits, 5);
    CHECK_INT_EQ(st.misses, 7);
    query_cache_free(c);
    CHECK_INT_EQ(query_cache_new(0, &c, &err), CS_ERR_INVALID);
    query_cache_free(NULL);
}

typedef struct worker {
    query_cache *c;
    int seed;
    int wrong;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    unsigned s = (unsigned)w->seed;
    char text[32];
    for (int i = 0; i < 20000; i++) {
        s = s * 1103515245u + 12345u;
        snprintf(text, sizeof text, "query %u", (s >> 16) % 64);
        float got[DIM], want[DIM];
        if (query_cache_get(w->c, "model", text, got, DIM)) {
            vector_of(text, want);
            w->wrong += memcmp(got, want, sizeof got) != 0;
        } else {
            put(w->c, "model", text);
        }
    }
    return NULL;
}

static void test_threads(void)
{
    query_cache *c = NULL;
    cs_error err = {0};
    CHECK_OK(query_cache_new(16, &c, &err), &err);
    if (!c)
        return;
    pthread_t threads[4];
    worker workers[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (worker){c, i + 1, 0};
        CHECK(pthread_create(&threads[i], NULL, run, &workers[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        CHECK_INT_EQ(workers[i].wrong, 0);
    }
    cs_query_cache_stats st;
    query_cache_stats(c, &st);
    CHECK_INT_EQ(st.hits + st.misses, 4 * 20000);
    CHECK(st.hits > 0 && st.entries == 16);
    query_cache_free(c);
}

int main(void)
{
    test_lru();
    test_threads();
    CHECK_DONE();
}
