/* Reciprocal rank fusion (see fusion.h). Sorting all (id, list, position)
 * entries by id groups each document's appearances without a hash table and
 * makes the work O(n log n) in the total number of entries. */
#include "search/fusion.h"

#include <limits.h>
#include <math.h>   /* isfinite (a macro: no libm needed) */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int64_t id;
    size_t list;
    size_t pos;      /* 0-based position in its list */
    size_t global;   /* index into the per-entry arrays */
} entry;

static int compare_entries(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    if (a->list != b->list)
        return a->list < b->list ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int best_rank(const fusion_item *it)
{
    int best = INT_MAX;
    for (int i = 0; i < FUSION_MAX_LISTS; i++)
        if (it->ranks[i] > 0 && it->ranks[i] < best)
            best = it->ranks[i];
    return best;
}

static int compare_items(const void *pa, const void *pb)
{
    const fusion_item *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    int ra = best_rank(a), rb = best_rank(b);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

static cs_status check_args(const fusion_list *lists, size_t nlists, int k, size_t *total,
                            cs_error *err)
{
    if (nlists > FUSION_MAX_LISTS)
        return cs_error_set(err, CS_ERR_INVALID, "fusion: %zu ranked lists given, at most %d",
                            nlists, FUSION_MAX_LISTS);
    if (nlists > 0 && !lists)
        return cs_error_set(err, CS_ERR_INVALID, "fusion: no lists given");
    if (k < 1)
        return cs_error_set(err, CS_ERR_INVALID, "fusion: the constant k must be at least 1, got %d", k);
    *total = 0;
    for (size_t i = 0; i < nlists; i++) {
        const fusion_list *l = &lists[i];
        const char *name = l->source ? l->source : "?";
        if (!isfinite(l->weight) || l->weight <= 0.0)
            return cs_error_set(err, CS_ERR_INVALID,
                                "fusion: the weight of list '%s' must be positive, got %g",
                                name, l->weight);
        if (l->count > 0 && !l->ids)
            return cs_error_set(err, CS_ERR_INVALID, "fusion: list '%s' has no ids", name);
        /* ranks are ints in fusion_item */
        if (l->count > (size_t)INT_MAX || l->count > SIZE_MAX / sizeof(entry) - *total)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "fusion: list '%s' is too long (%zu ids)",
                                name, l->count);
        *total += l->count;
    }
    return CS_OK;
}

/* Rank of every entry among the distinct ids of its list (duplicates get 0):
 * a repeated id neither counts twice nor pushes later ids down. */
static void assign_ranks(const fusion_list *lists, size_t nlists, const entry *sorted,
                         size_t total, int *rank_of)
{
    /* in sorted order the first entry of each (id, list) run is the first
     * occurrence; mark it, then number first occurrences in list order */
    for (size_t e = 0; e < total; e++) {
        bool first = e == 0 || sorted[e].id != sorted[e - 1].id ||
                     sorted[e].list != sorted[e - 1].list;
        rank_of[sorted[e].global] = first ? 1 : 0;
    }
    size_t g = 0;
    for (size_t i = 0; i < nlists; i++) {
        int rank = 0;
        for (size_t pos = 0; pos < lists[i].count; pos++, g++)
            rank_of[g] = rank_of[g] ? ++rank : 0;
    }
}

/* One item per distinct id, scored with the lists in index order so the sum
 * is the same floating-point value on every run. */
static size_t build_items(const fusion_list *lists, size_t nlists, int k, const entry *sorted,
                          size_t total, const int *rank_of, fusion_item *items)
{
    size_t n = 0;
    for (size_t e = 0; e < total; e++) {
        if (e == 0 || sorted[e].id != sorted[e - 1].id) {
            memset(&items[n], 0, sizeof items[n]);
            items[n++].id = sorted[e].id;
        }
        int rank = rank_of[sorted[e].global];
        if (rank == 0)
            continue;
        fusion_item *it = &items[n - 1];
        const fusion_list *l = &lists[sorted[e].list];
        it->ranks[sorted[e].list] = rank;
        it->raw[sorted[e].list] = l->scores ? l->scores[sorted[e].pos] : 0.0;
    }
    for (size_t j = 0; j < n; j++) {
        double score = 0.0;
        for (size_t i = 0; i < nlists; i++)
            if (items[j].ranks[i])
                score += lists[i].weight / ((double)k + (double)items[j].ranks[i]);
        items[j].score = score;
    }
    return n;
}

cs_status fusion_rrf(const fusion_list *lists, size_t nlists, int k, fusion_item **out,
                     size_t *count, cs_error *err)
{
    if (!out || !count)
        return cs_error_set(err, CS_ERR_INVALID, "fusion: no output given");
    *out = NULL;
    *count = 0;
    size_t total = 0;
    cs_status rc = check_args(lists, nlists, k, &total, err);
    if (rc != CS_OK || total == 0)
        return rc;
    entry *sorted = malloc(total * sizeof *sorted);
    int *rank_of = malloc(total * sizeof *rank_of);
    fusion_item *items = total <= SIZE_MAX / sizeof *items ? malloc(total * sizeof *items) : NULL;
    if (!sorted || !rank_of || !items) {
        free(sorted);
        free(rank_of);
        free(items);
        return cs_error_set(err, CS_ERR_NOMEM, "fusion: out of memory for %zu ids", total);
    }
    size_t g = 0;
    for (size_t i = 0; i < nlists; i++)
        for (size_t pos = 0; pos < lists[i].count; pos++, g++)
            sorted[g] = (entry){lists[i].ids[pos], i, pos, g};
    qsort(sorted, total, sizeof *sorted, compare_entries);
    assign_ranks(lists, nlists, sorted, total, rank_of);
    size_t n = build_items(lists, nlists, k, sorted, total, rank_of, items);
    free(sorted);
    free(rank_of);
    qsort(items, n, sizeof *items, compare_items);
    /* give back the room duplicates left unused; keep the block if that fails */
    fusion_item *shrunk = n < total ? realloc(items, n * sizeof *items) : NULL;
    *out = shrunk ? shrunk : items;
    *count = n;
    return CS_OK;
}
