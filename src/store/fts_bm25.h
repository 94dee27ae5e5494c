/* FTS5's bm25() computed outside FTS5, to the last bit where the inputs are
 * the same (SQLite's ext/fts5/fts5_aux.c): k1 = 1.2, b = 0.75;
 *   idf(p)  = ln((N - n(p) + 0.5) / (n(p) + 0.5)), 1e-6 when that is <= 0
 *             (n(p): rows the phrase occurs in, with its column filter);
 *   f(p, D) = Σ over the phrase's hits in D of the weight of the hit's column;
 *   |D|     = tokens of the row over all columns, avgdl = the table's
 *             tokens / N;
 *   bm25    = -Σ_p idf(p) · f(p,D)·(k1 + 1) / (f(p,D) + k1·(1 - b + b·|D|/avgdl))
 * (negative: lower is better, as ORDER BY score wants). */
#ifndef CS_STORE_FTS_BM25_H
#define CS_STORE_FTS_BM25_H

#include <sqlite3.h>
#include <stdint.h>

#include "common/error.h"

typedef struct fts_table_stats {
    int64_t rows;     /* N */
    int64_t tokens;   /* over every row and column */
    double avgdl;
} fts_table_stats;

/* Reads N and the token total FTS5 keeps for `fts_table` (its averages
 * record, row 1 of <fts_table>_data: varints N, then each column's tokens). */
cs_status fts_table_stats_read(sqlite3 *db, const char *fts_table, int ncolumns,
                               fts_table_stats *out, cs_error *err);

double fts_bm25_idf(int64_t rows, int64_t hits);

/* One phrase's term of the sum (before the minus sign). */
double fts_bm25_term(double idf, double freq, double doc_len, double avgdl);

/* The whole bm25 of a row, FTS5's sign and summation order. */
double fts_bm25_score(const double *idf, const double *freq, int nphrases, double doc_len,
                     double avgdl);

/* cs_bm25(<fts table>, ?): FTS5's bm25() with each phrase's idf given
 * instead of counted. bm25() counts every phrase's rows on its first call
 * in a statement, a pass over the phrase's whole doclist (about 20 ms for
 * two common words at a million rows) that a statement reading a few rowid
 * ranges would pay each time. The argument is a pointer to these
 * parameters (sqlite3_bind_pointer, FTS_BM25_POINTER). */
typedef struct fts_bm25_params {
    const double *idf;       /* per phrase of the MATCH expression */
    int nphrases;
    const double *weights;   /* per column, as bm25()'s arguments */
    int ncolumns;
    double avgdl;
    /* Optional: |D| of rows doc_first .. doc_first + doc_count - 1 (0 =
     * not known), read beforehand in one pass (fts_doc_tokens), instead of
     * FTS5 looking up each scored row's sizes (about 1.5 us a row). */
    const uint32_t *doc_tokens;
    int64_t doc_first, doc_count;
    /* Optional: the statement keeps the best `k` (ORDER BY score LIMIT k).
     * A row whose score cannot reach the k best scored so far (its bound
     * with the smallest |D| its hits allow) gets +HUGE_VAL without its size
     * being looked up: the statement's first k are unchanged. */
    struct fts_bm25_top *top;
} fts_bm25_params;

/* The k best scores computed so far (a max-heap of scores, lower = better)
 * and how many rows were skipped by their bound. */
typedef struct fts_bm25_top {
    double *heap;   /* room for k */
    int k, n;
    int64_t skipped;
} fts_bm25_top;
#define FTS_BM25_POINTER "capsearch-bm25-params"

/* |D| from a row of <fts table>_docsize (its columns' token counts as
 * varints); -1 when the record is damaged. */
int64_t fts_doc_tokens(const unsigned char *sz, int n);

/* Registers cs_bm25 with the connection's FTS5. */
cs_status fts_bm25_register(sqlite3 *db, cs_error *err);

#endif
