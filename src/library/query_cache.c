/* Query embedding cache (see query_cache.h). Entries are found by a scan of
 * at most a few hundred hashes: about a microsecond, against milliseconds
 * for a text tower run, and no hash table or list to keep consistent. */
#include "library/query_cache.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/error.h"

typedef struct entry {
    uint64_t hash;        /* of the text */
    char *text;           /* NULL: free slot */
    float *embedding;
    int dim;
    uint64_t used;        /* tick of the last lookup or store */
} entry;

struct query_cache {
    pthread_mutex_t mu;
    char *model;          /* the model every entry belongs to */
    entry *entries;
    size_t capacity;
    uint64_t tick;
    uint64_t hits, misses;
};

cs_status query_cache_new(size_t capacity, query_cache **out, cs_error *err)
{
    *out = NULL;
    if (capacity == 0)
        return cs_error_set(err, CS_ERR_INVALID, "the query cache needs room for an entry");
    query_cache *c = calloc(1, sizeof *c);
    entry *entries = c ? calloc(capacity, sizeof *entries) : NULL;
    if (!entries) {
        free(c);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for the query cache");
    }
    c->entries = entries;
    c->capacity = capacity;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return CS_OK;
}

static void drop(entry *e)
{
    free(e->text);
    free(e->embedding);
    memset(e, 0, sizeof *e);
}

static void clear(query_cache *c)
{
    for (size_t i = 0; i < c->capacity; i++)
        drop(&c->entries[i]);
    free(c->model);
    c->model = NULL;
}

void query_cache_free(query_cache *c)
{
    if (!c)
        return;
    clear(c);
    free(c->entries);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Empties the cache when it holds another model's entries. False when the
 * model's name cannot be kept (out of memory): then nothing is cached. */
static bool use_model(query_cache *c, const char *model)
{
    if (c->model && strcmp(c->model, model) == 0)
        return true;
    clear(c);
    c->model = strdup(model);
    return c->model != NULL;
}

static entry *find(query_cache *c, uint64_t hash, const char *text)
{
    for (size_t i = 0; i < c->capacity; i++) {
        entry *e = &c->entries[i];
        if (e->text && e->hash == hash && strcmp(e->text, text) == 0)
            return e;
    }
    return NULL;
}

/* A free slot, else the least recently used entry. */
static entry *victim(query_cache *c)
{
    entry *oldest = &c->entries[0];
    for (size_t i = 0; i < c->capacity; i++) {
        entry *e = &c->entries[i];
        if (!e->text)
            return e;
        if (e->used < oldest->used)
            oldest = e;
    }
    return oldest;
}

bool query_cache_get(query_cache *c, const char *model, const char *text, float *out, int dim)
{
    if (!c || !model || !text || !out || dim <= 0)
        return false;
    uint64_t hash = XXH3_64bits(text, strlen(text));
    pthread_mutex_lock(&c->mu);
    entry *e = use_model(c, model) ? find(c, hash, text) : NULL;
    bool hit = e && e->dim == dim;
    if (hit) {
        memcpy(out, e->embedding, (size_t)dim * sizeof *out);
        e->used = ++c->tick;
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->mu);
    return hit;
}

void query_cache_put(query_cache *c, const char *model, const char *text,
                     const float *embedding, int dim)
{
    if (!c || !model || !text || !embedding || dim <= 0)
        return;
    uint64_t hash = XXH3_64bits(text, strlen(text));
    char *copy = strdup(text);
    float *values = malloc((size_t)dim * sizeof *values);
    if (!copy || !values) {
        free(copy);
        free(values);
        return;
    }
    memcpy(values, embedding, (size_t)dim * sizeof *values);
    pthread_mutex_lock(&c->mu);
    entry *e = NULL;
    if (use_model(c, model)) {
        /* another thread may have stored it meanwhile: replace that one */
        e = find(c, hash, text);
        if (!e)
            e = victim(c);
    }
    if (e) {
        drop(e);
        *e = (entry){hash, copy, values, dim, ++c->tick};
        copy = NULL;
        values = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    free(copy);
    free(values);
}

void query_cache_stats(query_cache *c, cs_query_cache_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    out->hits = c->hits;
    out->misses = c->misses;
    out->capacity = c->capacity;
    for (size_t i = 0; i < c->capacity; i++)
        out->entries += c->entries[i].text != NULL;
    pthread_mutex_unlock(&c->mu);
}
