#include "common/array.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool array_reserve(void *items_ptr, size_t *cap, size_t count, size_t size)
{
    void *items;
    memcpy(&items, items_ptr, sizeof items);   /* T * and void * share a representation */
    if (count < *cap)
        return true;
    size_t grown = *cap ? *cap * 2 : 64;
    if (grown <= count)
        grown = count + 1;
    if (size && grown > SIZE_MAX / size)
        return false;
    void *p = realloc(items, grown * size);
    if (!p)
        return false;
    memcpy(items_ptr, &p, sizeof p);
    *cap = grown;
    return true;
}
