/* Near-duplicate groups by perceptual-hash distance.
 *
 * Pairs within distance d are found without comparing all pairs: split the
 * 64 bits into d + 1 chunks; two hashes that differ in at most d bits differ
 * in at most d chunks, so they agree exactly on at least one (pigeonhole).
 * Sorting by each chunk puts every candidate pair next to each other. Groups
 * are the connected components (single link) of the pairs found. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "image/image.h"
#include "library/library.h"

typedef struct keyed {
    uint64_t key;
    uint32_t index;
} keyed;

static int compare_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static uint32_t find_root(uint32_t *parent, uint32_t i)
{
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

static void unite(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a != b)
        parent[a > b ? a : b] = a < b ? a : b;   /* smallest index is the root */
}

static uint64_t chunk_of(uint64_t hash, int chunk, int nchunks)
{
    int lo = chunk * 64 / nchunks, hi = (chunk + 1) * 64 / nchunks;
    uint64_t mask = (hi - lo == 64) ? ~0ULL : ((1ULL << (hi - lo)) - 1);
    return (hash >> lo) & mask;
}

static void link_pairs(const catalog_phash *items, size_t n, int max_distance,
                       keyed *scratch, uint32_t *parent)
{
    int nchunks = max_distance + 1;
    for (int chunk = 0; chunk < nchunks; chunk++) {
        for (size_t i = 0; i < n; i++)
            scratch[i] = (keyed){chunk_of(items[i].phash, chunk, nchunks), (uint32_t)i};
        qsort(scratch, n, sizeof *scratch, compare_keyed);
        for (size_t start = 0; start < n;) {
            size_t end = start + 1;
            while (end < n && scratch[end].key == scratch[start].key)
                end++;
            for (size_t a = start; a < end; a++)
                for (size_t b = a + 1; b < end; b++) {
                    uint32_t ia = scratch[a].index, ib = scratch[b].index;
                    if (phash_distance(items[ia].phash, items[ib].phash) <= max_distance)
                        unite(parent, ia, ib);
                }
            start = end;
        }
    }
}

void cs_duplicate_groups_free(cs_duplicate_groups *groups)
{
    if (!groups)
        return;
    for (size_t g = 0; g < groups->count; g++) {
        cs_duplicate_group *group = &groups->groups[g];
        for (size_t i = 0; i < group->count && group->paths; i++)
            free(group->paths[i]);
        free(group->paths);
        free(group->ids);
        free(group->distances);
    }
    free(groups->groups);
    free(groups);
}

/* Members of the component rooted at `root`, in id order (items are by id). */
static cs_status fill_group(catalog *reader, const catalog_phash *items, size_t n,
                            uint32_t *parent, uint32_t root, size_t size,
                            cs_duplicate_group *group, cs_error *err)
{
    group->ids = calloc(size, sizeof *group->ids);
    group->paths = calloc(size, sizeof *group->paths);
    group->distances = calloc(size, sizeof *group->distances);
    if (!group->ids || !group->paths || !group->distances)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory grouping duplicates");
    uint64_t first = 0;
    for (size_t i = 0; i < n && group->count < size; i++) {
        if (find_root(parent, (uint32_t)i) != root)
            continue;
        size_t k = group->count++;
        if (k == 0)
            first = items[i].phash;
        group->ids[k] = items[i].id;
        group->distances[k] = phash_distance(first, items[i].phash);
        cs_status rc = catalog_image_path(reader, items[i].id, &group->paths[k], err);
        if (rc != CS_OK)
            return rc;
    }
    return CS_OK;
}

static int compare_groups(const void *a, const void *b)
{
    const cs_duplicate_group *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->ids[0] < y->ids[0] ? -1 : (x->ids[0] > y->ids[0]);
}

cs_status cs_library_duplicates(cs_library *lib, int max_distance,
                                cs_duplicate_groups **out, cs_error *err)
{
    *out = NULL;
    if (max_distance < 0 || max_distance > 16)
        return cs_error_set(err, CS_ERR_INVALID,
                            "duplicate distance must be 0..16 bits, got %d", max_distance);
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    catalog_phash *items = NULL;
    size_t n = 0;
    cs_status rc = catalog_phashes(reader, &items, &n, err);
    if (rc != CS_OK) {
        library_release_reader(lib, reader);
        return rc;
    }
    if (n > UINT32_MAX) {
        free(items);
        library_release_reader(lib, reader);
        return cs_error_set(err, CS_ERR_TOO_LARGE, "too many images to compare");
    }
    cs_duplicate_groups *groups = calloc(1, sizeof *groups);
    keyed *scratch = malloc((n ? n : 1) * sizeof *scratch);
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    size_t *sizes = calloc(n ? n : 1, sizeof *sizes);
    if (!groups || !scratch || !parent || !sizes) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory grouping duplicates");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        parent[i] = (uint32_t)i;
    link_pairs(items, n, max_distance, scratch, parent);
    size_t ngroups = 0;
    for (size_t i = 0; i < n; i++)
        if (sizes[find_root(parent, (uint32_t)i)]++ == 1)
            ngroups++;
    groups->groups = calloc(ngroups ? ngroups : 1, sizeof *groups->groups);
    if (!groups->groups) {
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory grouping duplicates");
        goto done;
    }
    for (size_t i = 0; i < n && rc == CS_OK; i++) {
        if (parent[i] != i || sizes[i] < 2)
            continue;
        rc = fill_group(reader, items, n, parent, (uint32_t)i, sizes[i],
                        &groups->groups[groups->count++], err);
    }
    if (rc == CS_OK)
        qsort(groups->groups, groups->count, sizeof *groups->groups, compare_groups);
done:
    library_release_reader(lib, reader);
    free(items);
    free(scratch);
    free(parent);
    free(sizes);
    if (rc != CS_OK) {
        cs_duplicate_groups_free(groups);
        return rc;
    }
    *out = groups;
    return CS_OK;
}
