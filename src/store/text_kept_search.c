/* FTS5's ranking of a query's matches among listed rows (text_kept.h).
 * FTS5 seeks to a range's first rowid in each phrase's doclist and stops
 * after its last one, so a range costs a seek plus its own matches. The
 * pictures of a folder were indexed together: their ids are a few runs,
 * and FTS5 reads the query's matches there instead of all of them. */
#include "store/text_kept.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* At a million rows, "dog" OR "beach": FTS5 reads a match and checks its
 * bit in about 0.22 us (measured). A range costs a reset, a seek in each
 * phrase's doclist and the sorter: RANGE_COST_NS is a working figure (14
 * ranges over a year of scattered dates beat one range for three words;
 * a one-row range on cold pages measured 54 us for two words). A gap
 * between two kept rows is read through when its expected matches cost
 * less than a range of its own. */
#define MATCH_COST_NS 220.0
#define RANGE_COST_NS 20000.0

/* Scoring a kept match needs its row's size: FTS5 looks it up (about 1.5
 * us a row), or the range's sizes are read first in one pass over
 * captions_fts_docsize (about 0.12 us a row, kept or not). */
#define SIZE_LOOKUP_NS 1500.0
#define SIZE_SCAN_NS 120.0

/* Expected matches per row, and the longest gap read through. */
typedef struct range_plan {
    double per_row, gap_max;
} range_plan;

static range_plan plan_ranges(int64_t matches, int64_t rows)
{
    range_plan p = {rows > 0 ? (double)matches / (double)rows : 1.0, 0};
    p.gap_max = p.per_row > 0 ? RANGE_COST_NS / (MATCH_COST_NS * p.per_row) : (double)INT64_MAX;
    return p;
}

/* One past the last kept row of the range that starts at kept[first]. */
static size_t range_end(const range_plan *p, const int64_t *kept, size_t nkept, size_t first)
{
    size_t i = first + 1;
    while (i < nkept && (double)(kept[i] - kept[i - 1] - 1) <= p->gap_max)
        i++;
    return i;
}

double text_kept_cost_ns(int64_t matches, int64_t rows, const int64_t *kept, size_t nkept)
{
    range_plan p = plan_ranges(matches, rows);
    double cost = 0;
    for (size_t first = 0, end; first < nkept; first = end) {
        end = range_end(&p, kept, nkept, first);
        double span = (double)(kept[end - 1] - kept[first] + 1);
        cost += RANGE_COST_NS + span * p.per_row * MATCH_COST_NS;
    }
    return cost;
}

typedef struct ranked {
    double score;
    int64_t id;
} ranked;

static bool before(const ranked *a, const ranked *b)
{
    return a->score < b->score || (a->score == b->score && a->id < b->id);
}

/* Merges `add` (n, best first) into `best` (*nbest, best first), keeping
 * the first `limit`; `scratch` has room for `limit`. */
static void merge_best(ranked *best, size_t *nbest, const ranked *add, size_t n, size_t limit,
                       ranked *scratch)
{
    size_t i = 0, j = 0, k = 0;
    while (k < limit && (i < *nbest || j < n))
        scratch[k++] = j >= n || (i < *nbest && before(&best[i], &add[j])) ? best[i++] : add[j++];
    memcpy(best, scratch, k * sizeof *best);
    *nbest = k;
}

static bool bitmap_of(const int64_t *ids, size_t n, id_bitmap *out)
{
    out->nbits = n ? ids[n - 1] + 1 : 0;
    out->words = calloc((size_t)(out->nbits + 63) / 64 + 1, sizeof *out->words);
    if (!out->words)
        return false;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= 0)
            out->words[ids[i] >> 6] |= (uint64_t)1 << (ids[i] & 63);
    return true;
}

/* The sizes of rows [lo, hi] into bm25->doc_tokens (grown as needed in
 * *buf, *cap entries). */
static cs_status read_sizes(catalog *c, int64_t lo, int64_t hi, fts_bm25_params *bm25,
                            uint32_t **buf, size_t *cap, cs_error *err)
{
    size_t n = (size_t)(hi - lo + 1);
    if (n > *cap) {
        uint32_t *grown = realloc(*buf, n * sizeof *grown);
        if (!grown)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading text sizes");
        *buf = grown;
        *cap = n;
    }
    memset(*buf, 0, n * sizeof **buf);
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_FTS_DOC_SIZES, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, lo);
    sqlite3_bind_int64(stmt, 2, hi);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(stmt, 0);
        int64_t tokens = fts_doc_tokens(sqlite3_column_blob(stmt, 1),
                                        sqlite3_column_bytes(stmt, 1));
        if (id >= lo && id <= hi && tokens > 0)   /* else FTS5 looks it up */
            (*buf)[id - lo] = (uint32_t)tokens;
    }
    if (step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading the text index's row sizes");
    sqlite3_reset(stmt);
    bm25->doc_tokens = *buf;
    bm25->doc_first = lo;
    bm25->doc_count = (int64_t)n;
    return rc;
}

/* Ranks the matches in [lo, hi] that the bitmap keeps into best. */
static cs_status rank_range(catalog *c, sqlite3_stmt *stmt, int64_t lo, int64_t hi, int limit,
                            ranked *best, size_t *nbest, ranked *got, ranked *scratch,
                            cs_error *err)
{
    sqlite3_bind_int64(stmt, 5, lo);
    sqlite3_bind_int64(stmt, 6, hi);
    size_t n = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW && n < (size_t)limit) {
        double score = sqlite3_column_double(stmt, 1);
        if (score != HUGE_VAL)   /* a row cs_bm25 skipped: outside the best `limit` */
            got[n++] = (ranked){score, sqlite3_column_int64(stmt, 0)};
    }
    cs_status rc = step == SQLITE_ROW || step == SQLITE_DONE
                       ? CS_OK
                       : catalog_sql_error(c, err, "running the text search");
    sqlite3_reset(stmt);
    if (rc == CS_OK)
        merge_best(best, nbest, got, n, (size_t)limit, scratch);
    return rc;
}

cs_status text_rank_kept(catalog *c, const char *match, const fts_bm25_params *given,
                         int64_t matches, int64_t rows, const int64_t *kept, size_t nkept,
                         int limit, int64_t **ids, double **scores, size_t *n, cs_error *err)
{
    *ids = NULL;
    *scores = NULL;
    *n = 0;
    if (nkept == 0 || limit <= 0)
        return CS_OK;
    size_t room = (size_t)limit;
    ranked *best = malloc(room * sizeof *best), *got = malloc(room * sizeof *got),
           *scratch = malloc(room * sizeof *scratch);
    id_bitmap bits = {0};
    /* the best scores so far, so that cs_bm25 skips the rows that cannot
     * enter them without looking up their sizes */
    fts_bm25_top top = {.heap = malloc(room * sizeof *top.heap), .k = limit};
    fts_bm25_params bm25 = *given;   /* with each range's sizes */
    bm25.top = &top;
    uint32_t *sizes = NULL;
    size_t sizes_cap = 0;
    cs_status rc = best && got && scratch && top.heap && bitmap_of(kept, nkept, &bits)
                       ? CS_OK
                       : cs_error_set(err, CS_ERR_NOMEM,
                                      "out of memory ranking the images a filter keeps");
    sqlite3_stmt *stmt = NULL;
    if (rc == CS_OK)
        rc = catalog_stmt(c, STMT_FTS_SEARCH_KEPT, &stmt, err);
    size_t nbest = 0;
    if (rc == CS_OK) {
        sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, limit);
        sqlite3_bind_pointer(stmt, 3, &bits, ID_BITMAP_POINTER, NULL);
        sqlite3_bind_pointer(stmt, 4, &bm25, FTS_BM25_POINTER, NULL);
        range_plan plan = plan_ranges(matches, rows);
        for (size_t first = 0, end; rc == CS_OK && first < nkept; first = end) {
            end = range_end(&plan, kept, nkept, first);
            int64_t lo = kept[first], hi = kept[end - 1];
            bm25.doc_tokens = NULL;
            if ((double)(end - first) * plan.per_row * SIZE_LOOKUP_NS >
                (double)(hi - lo + 1) * SIZE_SCAN_NS) {
                rc = read_sizes(c, lo, hi, &bm25, &sizes, &sizes_cap, err);
                c->text_paths.sizes_read++;
            }
            if (rc == CS_OK)
                rc = rank_range(c, stmt, lo, hi, limit, best, &nbest, got, scratch, err);
            c->text_paths.kept_ranges++;
        }
        sqlite3_clear_bindings(stmt);   /* the pointers */
    }
    if (rc == CS_OK && nbest) {
        *ids = malloc(nbest * sizeof **ids);
        *scores = malloc(nbest * sizeof **scores);
        if (!*ids || !*scores) {
            free(*ids);
            free(*scores);
            *ids = NULL;
            *scores = NULL;
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting search results");
        }
        for (size_t i = 0; rc == CS_OK && i < nbest; i++) {
            (*ids)[i] = best[i].id;
            (*scores)[i] = best[i].score;
        }
        *n = rc == CS_OK ? nbest : 0;
    }
    if (rc == CS_OK)
        c->text_paths.kept_bitmap++;
    c->text_paths.bound_skipped += top.skipped;
    free(top.heap);
    free(bits.words);
    free(sizes);
    free(best);
    free(got);
    free(scratch);
    return rc;
}
