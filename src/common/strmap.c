#include "common/strmap.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void strmap_init(strmap *m)
{
    memset(m, 0, sizeof *m);
}

void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    strmap_init(m);
}

static strmap_slot *find_slot(strmap_slot *slots, size_t cap, const char *key, uint64_t hash)
{
    size_t i = (size_t)hash & (cap - 1);
    for (;;) {
        strmap_slot *s = &slots[i];
        if (!s->key || (s->hash == hash && strcmp(s->key, key) == 0))
            return s;
        i = (i + 1) & (cap - 1);
    }
}

static bool grow(strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    strmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t i = 0; i < m->cap; i++) {
        strmap_slot *old = &m->slots[i];
        if (old->key)
            *find_slot(slots, cap, old->key, old->hash) = *old;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

bool strmap_put(strmap *m, const char *key, int64_t value)
{
    /* Keep the load under 1/2 so probes stay short. */
    if ((m->count + 1) * 2 > m->cap && !grow(m))
        return false;
    uint64_t hash = XXH3_64bits(key, strlen(key));
    strmap_slot *s = find_slot(m->slots, m->cap, key, hash);
    if (!s->key) {
        char *copy = strdup(key);
        if (!copy)
            return false;
        s->key = copy;
        s->hash = hash;
        m->count++;
    }
    s->value = value;
    return true;
}

bool strmap_get(const strmap *m, const char *key, int64_t **value)
{
    if (!m->cap)
        return false;
    uint64_t hash = XXH3_64bits(key, strlen(key));
    strmap_slot *s = find_slot(m->slots, m->cap, key, hash);
    if (!s->key)
        return false;
    if (value)
        *value = &s->value;
    return true;
}
