/* A string-keyed hash table (open addressing, xxh3 hashes) mapping a string
 * to an int64 value. Keys are copied. Used for the path and content-hash
 * lookups of change detection, which may hold millions of entries. */
#ifndef CS_COMMON_STRMAP_H
#define CS_COMMON_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strmap_slot {
    char *key;          /* NULL = empty */
    uint64_t hash;
    int64_t value;
} strmap_slot;

typedef struct strmap {
    strmap_slot *slots;
    size_t cap;         /* power of two */
    size_t count;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* Inserts or overwrites. Returns false on allocation failure. */
bool strmap_put(strmap *m, const char *key, int64_t value);
/* Points *value at the stored value (writable) when found. */
bool strmap_get(const strmap *m, const char *key, int64_t **value);

#endif
