/* Filter lists (see filter_lists.h). */
#include "library/filter_lists.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/strbuf.h"

typedef struct filter_list {
    char *key;            /* NULL: free slot */
    int64_t generation;
    int64_t *ids;
    size_t n;
    uint64_t used;        /* tick of the last lookup or store */
} filter_list;

struct filter_lists {
    pthread_mutex_t mu;
    filter_list lists[FILTER_LISTS_MAX];
    uint64_t tick, hits, misses;
};

cs_status filter_lists_new(filter_lists **out, cs_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for the filter lists");
    pthread_mutex_init(&(*out)->mu, NULL);
    return CS_OK;
}

static void drop(filter_list *l)
{
    free(l->key);
    free(l->ids);
    memset(l, 0, sizeof *l);
}

void filter_lists_free(filter_lists *lists)
{
    if (!lists)
        return;
    for (size_t i = 0; i < FILTER_LISTS_MAX; i++)
        drop(&lists->lists[i]);
    pthread_mutex_destroy(&lists->mu);
    free(lists);
}

char *filter_lists_key(const cs_filter *f)
{
    const char *folder = f->folder ? f->folder : "";
    const char *type = f->type ? f->type : "";
    const char *camera = f->camera ? f->camera : "";
    /* lengths before the strings keep any bytes in them from running into
     * the next field */
    strbuf key;
    strbuf_init(&key);
    strbuf_appendf(&key,
                   "%zu:%s\x1f%d:%" PRId64 "\x1f%d:%" PRId64 "\x1f%zu:%s\x1f%zu:%s\x1f%d\x1f%d",
                   strlen(folder), folder, f->has_from ? 1 : 0, f->has_from ? f->from : 0,
                   f->has_to ? 1 : 0, f->has_to ? f->to : 0, strlen(type), type,
                   strlen(camera), camera, f->has_text ? 1 : 0, f->has_faces ? 1 : 0);
    return strbuf_take(&key);   /* NULL when out of memory */
}

static filter_list *find(filter_lists *lists, const char *key)
{
    for (size_t i = 0; i < FILTER_LISTS_MAX; i++)
        if (lists->lists[i].key && strcmp(lists->lists[i].key, key) == 0)
            return &lists->lists[i];
    return NULL;
}

bool filter_lists_get(filter_lists *lists, const char *key, int64_t generation, int64_t **ids,
                      size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (!lists || !key)
        return false;
    pthread_mutex_lock(&lists->mu);
    filter_list *l = find(lists, key);
    bool hit = l && l->generation == generation;
    if (hit) {
        *ids = malloc((l->n ? l->n : 1) * sizeof **ids);
        hit = *ids != NULL;
        if (hit) {
            memcpy(*ids, l->ids, l->n * sizeof **ids);
            *n = l->n;
            l->used = ++lists->tick;
        }
    }
    if (hit)
        lists->hits++;
    else
        lists->misses++;
    pthread_mutex_unlock(&lists->mu);
    return hit;
}

void filter_lists_put(filter_lists *lists, const char *key, int64_t generation,
                      const int64_t *ids, size_t n)
{
    if (!lists || !key)
        return;
    char *key_copy = strdup(key);
    int64_t *ids_copy = malloc((n ? n : 1) * sizeof *ids_copy);
    if (!key_copy || !ids_copy) {
        free(key_copy);
        free(ids_copy);
        return;
    }
    if (n)
        memcpy(ids_copy, ids, n * sizeof *ids_copy);
    pthread_mutex_lock(&lists->mu);
    filter_list *l = find(lists, key);
    for (size_t i = 0; !l && i < FILTER_LISTS_MAX; i++)
        if (!lists->lists[i].key)
            l = &lists->lists[i];
    if (!l) {   /* the least recently used makes room */
        l = &lists->lists[0];
        for (size_t i = 1; i < FILTER_LISTS_MAX; i++)
            if (lists->lists[i].used < l->used)
                l = &lists->lists[i];
    }
    drop(l);
    *l = (filter_list){.key = key_copy, .generation = generation, .ids = ids_copy, .n = n,
                       .used = ++lists->tick};
    pthread_mutex_unlock(&lists->mu);
}

void filter_lists_stats(filter_lists *lists, uint64_t *hits, uint64_t *misses)
{
    *hits = 0;
    *misses = 0;
    if (!lists)
        return;
    pthread_mutex_lock(&lists->mu);
    *hits = lists->hits;
    *misses = lists->misses;
    pthread_mutex_unlock(&lists->mu);
}
