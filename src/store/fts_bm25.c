/* bm25 as FTS5 computes it (formula in fts_bm25.h). */
#include "store/fts_bm25.h"

#include <math.h>
#include <stdio.h>

/* FTS5 phrases a query may hold here (fts_expr.h allows 64). */
#define BM25_MAX_PHRASES 64

#define BM25_K1 1.2
#define BM25_B 0.75

/* SQLite's varint: big-endian 7-bit groups, the ninth byte whole. */
static int read_varint(const unsigned char *p, int n, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 9 && i < n; i++) {
        if (i == 8) {
            *v = (x << 8) | p[i];
            return 9;
        }
        x = (x << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return 0;
}

cs_status fts_table_stats_read(sqlite3 *db, const char *fts_table, int ncolumns,
                               fts_table_stats *out, cs_error *err)
{
    *out = (fts_table_stats){0};
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT block FROM \"%s_data\" WHERE id = 1", fts_table);
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
        return cs_error_set(err, CS_ERR_IO, "reading the size of the text index: %s",
                            sqlite3_errmsg(db));
    cs_status rc = CS_OK;
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_blob(stmt, 0);
        int n = sqlite3_column_bytes(stmt, 0), at = 0;
        uint64_t v;
        int used = p && n > 0 ? read_varint(p, n, &v) : 0;
        if (n == 0) {
            /* an emptied table's record: no rows */
        } else if (!used) {
            rc = cs_error_set(err, CS_ERR_CORRUPT, "the text index's size record is damaged; "
                              "rebuild it with INSERT INTO %s(%s) VALUES ('rebuild')",
                              fts_table, fts_table);
        } else {
            out->rows = (int64_t)v;
            at = used;
            for (int c = 0; c < ncolumns && at < n; c++) {
                used = read_varint(p + at, n - at, &v);
                if (!used)
                    break;
                out->tokens += (int64_t)v;
                at += used;
            }
        }
    } else if (step != SQLITE_DONE) {
        rc = cs_error_set(err, CS_ERR_IO, "reading the size of the text index: %s",
                          sqlite3_errmsg(db));
    }
    sqlite3_finalize(stmt);
    /* an empty table has no record: N = 0, as FTS5 sees it */
    out->avgdl = out->rows > 0 ? (double)out->tokens / (double)out->rows : 0.0;
    return rc;
}

double fts_bm25_idf(int64_t rows, int64_t hits)
{
    double idf = log(((double)rows - (double)hits + 0.5) / ((double)hits + 0.5));
    return idf > 0.0 ? idf : 1e-6;   /* FTS5 clamps small and negative idf */
}

double fts_bm25_term(double idf, double freq, double doc_len, double avgdl)
{
    return idf * ((freq * (BM25_K1 + 1.0)) /
                  (freq + BM25_K1 * (1 - BM25_B + BM25_B * doc_len / avgdl)));
}

double fts_bm25_score(const double *idf, const double *freq, int nphrases, double doc_len,
                     double avgdl)
{
    double score = 0.0;
    for (int i = 0; i < nphrases; i++)
        score += fts_bm25_term(idf[i], freq[i], doc_len, avgdl);
    return -1.0 * score;
}

int64_t fts_doc_tokens(const unsigned char *sz, int n)
{
    int64_t total = 0;
    for (int at = 0; at < n;) {
        uint64_t v;
        int used = read_varint(sz + at, n - at, &v);
        if (!used || v > INT32_MAX)
            return -1;
        total += (int64_t)v;
        at += used;
    }
    return total;
}

/* Adds a score to the k best (a max-heap: the worst of them on top). */
static void top_add(fts_bm25_top *t, double score)
{
    if (t->n < t->k) {
        int i = t->n++;
        while (i > 0 && t->heap[(i - 1) / 2] < score) {
            t->heap[i] = t->heap[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        t->heap[i] = score;
        return;
    }
    if (!(score < t->heap[0]))
        return;
    int i = 0;
    for (;;) {   /* sift the new score down from the root */
        int child = 2 * i + 1;
        if (child >= t->n)
            break;
        if (child + 1 < t->n && t->heap[child + 1] > t->heap[child])
            child++;
        if (!(t->heap[child] > score))
            break;
        t->heap[i] = t->heap[child];
        i = child;
    }
    t->heap[i] = score;
}

static void bm25_given_idf(const Fts5ExtensionApi *api, Fts5Context *fts, sqlite3_context *ctx,
                           int nargs, sqlite3_value **args)
{
    const fts_bm25_params *p =
        nargs == 1 ? sqlite3_value_pointer(args[0], FTS_BM25_POINTER) : NULL;
    int nphrases = api->xPhraseCount(fts);
    if (!p || nphrases > p->nphrases || nphrases > BM25_MAX_PHRASES) {
        sqlite3_result_error(ctx, "cs_bm25: missing parameters or too many phrases", -1);
        return;
    }
    double freq[BM25_MAX_PHRASES] = {0};
    int hits[BM25_MAX_PHRASES] = {0}, most_hits = 1;
    int ninst = 0;
    int rc = api->xInstCount(fts, &ninst);
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int phrase, column, offset;
        rc = api->xInst(fts, i, &phrase, &column, &offset);
        if (rc == SQLITE_OK) {
            freq[phrase] += column < p->ncolumns ? p->weights[column] : 1.0;
            most_hits = ++hits[phrase] > most_hits ? hits[phrase] : most_hits;
        }
    }
    /* a phrase's hits start at distinct tokens, so |D| >= most_hits, and
     * the score only grows (worsens) with |D| */
    fts_bm25_top *top = p->top;
    if (rc == SQLITE_OK && top && top->n == top->k && top->k > 0 &&
        fts_bm25_score(p->idf, freq, nphrases, (double)most_hits, p->avgdl) > top->heap[0]) {
        top->skipped++;
        sqlite3_result_double(ctx, HUGE_VAL);
        return;
    }
    int tokens = 0;
    sqlite3_int64 at = api->xRowid(fts) - p->doc_first;
    if (p->doc_tokens && at >= 0 && at < p->doc_count && p->doc_tokens[at])
        tokens = (int)p->doc_tokens[at];
    else if (rc == SQLITE_OK)
        rc = api->xColumnSize(fts, -1, &tokens);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double score = fts_bm25_score(p->idf, freq, nphrases, (double)tokens, p->avgdl);
    if (top)
        top_add(top, score);
    sqlite3_result_double(ctx, score);
}

cs_status fts_bm25_register(sqlite3 *db, cs_error *err)
{
    fts5_api *api = NULL;
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL) != SQLITE_OK)
        return cs_error_set(err, CS_ERR_DB, "this SQLite has no FTS5: %s", sqlite3_errmsg(db));
    sqlite3_bind_pointer(stmt, 1, &api, "fts5_api_ptr", NULL);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (!api || api->iVersion < 2 ||
        api->xCreateFunction(api, "cs_bm25", NULL, bm25_given_idf, NULL) != SQLITE_OK)
        return cs_error_set(err, CS_ERR_DB, "cannot register cs_bm25 with FTS5: %s",
                            sqlite3_errmsg(db));
    return CS_OK;
}
