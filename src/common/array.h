/* Growing malloc'd arrays by doubling. */
#ifndef CS_COMMON_ARRAY_H
#define CS_COMMON_ARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* Makes room for element `count` (i.e. count + 1 elements) in the array
 * whose pointer is at `items_ptr` (a T **), with capacity *cap elements of
 * `size` bytes. Returns false (leaving the array as it was) on allocation
 * failure or overflow. */
bool array_reserve(void *items_ptr, size_t *cap, size_t count, size_t size);

/* ARRAY_RESERVE(list, cap, n) for `T *list`. */
#define ARRAY_RESERVE(items, cap, count) \
    array_reserve(&(items), &(cap), (count), sizeof *(items))

#endif
