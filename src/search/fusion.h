/* Reciprocal rank fusion of any number of ranked lists:
 *     score(d) = sum over lists i containing d of  weight_i / (k + rank_i(d))
 * with 1-based ranks counted over a list's distinct ids (a repeated id is
 * ignored and does not push later ids down). Ties are broken by the best
 * single rank, then by the smaller id, so the output order is deterministic. */
#ifndef CS_SEARCH_FUSION_H
#define CS_SEARCH_FUSION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define FUSION_MAX_LISTS 4

typedef struct fusion_list {
    const char *source;      /* "text", "vector", ... */
    double weight;           /* > 0 and finite */
    size_t count;
    const int64_t *ids;      /* best first; duplicate ids: the first counts */
    const double *scores;    /* the source's raw scores, kept for explain;
                                may be NULL (raw is then 0) */
} fusion_list;

typedef struct fusion_item {
    int64_t id;
    double score;
    int ranks[FUSION_MAX_LISTS];      /* 1-based; 0 = not in that list */
    double raw[FUSION_MAX_LISTS];     /* raw score where ranks[i] != 0 */
} fusion_item;

/* Fuses `nlists` (<= FUSION_MAX_LISTS) lists; *out is malloc'd and sorted by
 * score, best first (NULL when there are no ids); *count is the number of
 * distinct ids. k must be >= 1. Bad arguments give CS_ERR_INVALID, a list
 * longer than INT_MAX CS_ERR_TOO_LARGE, allocation failure CS_ERR_NOMEM. */
cs_status fusion_rrf(const fusion_list *lists, size_t nlists, int k,
                     fusion_item **out, size_t *count, cs_error *err);

#endif
