/* FTS5's ranking of a query's matches among listed rows (a filter's
 * images): the rows as a bitmap checked by cs_kept, read in rowid ranges,
 * scored by cs_bm25 with the idf the caller knows. Runs of kept rows closer
 * than what a separate range costs are read as one range. */
#ifndef CS_STORE_TEXT_KEPT_H
#define CS_STORE_TEXT_KEPT_H

#include "store/catalog_internal.h"
#include "store/fts_bm25.h"

/* The best `limit` of the rows of `match` among `kept` (ascending ids), by
 * (bm25, rowid) as FTS5 orders them. `matches`: the query's matches (an
 * estimate), `rows`: the table's rows, for the cost of reading a gap.
 * *ids and *scores malloc'd (NULL when *n is 0). */
cs_status text_rank_kept(catalog *c, const char *match, const fts_bm25_params *bm25,
                         int64_t matches, int64_t rows, const int64_t *kept, size_t nkept,
                         int limit, int64_t **ids, double **scores, size_t *n, cs_error *err);

/* What text_rank_kept is expected to spend (ns) on those rows: a seek per
 * range and the matches read in the ranges. */
double text_kept_cost_ns(int64_t matches, int64_t rows, const int64_t *kept, size_t nkept);

#endif
