/* Making the champion lists: the frequent terms from FTS5's vocabulary,
 * then one pass over the caption rows, tokenized in C, keeping for each
 * frequent term a heap of its list_len best rows, and one of its best rows
 * within each segment (text_champions.h) large enough to have lists. */
#include "store/catalog_internal.h"
#include "store/text_kept.h"
#include "store/fts_bm25.h"

#include "common/array.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct champion {
    double s;        /* the term's bm25 term without its idf (same order) */
    int64_t id;
} champion;

/* A term's best rows so far, worst at [0]; grown as rows come. */
typedef struct champion_heap {
    champion *h;
    int n;
    size_t cap;
    int64_t df;                /* rows offered */
} champion_heap;

typedef struct term_entry {
    char *term;
    uint32_t len;
    uint32_t columns;          /* FTS_ALL_MASK or FTS_RELATED_MASK */
    int64_t df;
    champion_heap all;
    champion_heap in_segment[TEXT_SEGMENTS_MAX];
    int64_t seen_row;          /* the row freq belongs to */
    double freq;
} term_entry;

typedef struct term_table {
    term_entry *entries;
    size_t n, cap;
    int32_t *slots;            /* open addressing: entry index + 1, 0 = empty */
    size_t nslots;
} term_table;

static uint64_t hash_bytes(const char *s, size_t n, uint32_t columns)
{
    uint64_t h = 1469598103934665603ull ^ columns;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static term_entry *find(term_table *t, const char *s, size_t n, uint32_t columns)
{
    size_t mask = t->nslots - 1;
    for (size_t i = hash_bytes(s, n, columns) & mask;; i = (i + 1) & mask) {
        int32_t slot = t->slots[i];
        if (!slot)
            return NULL;
        term_entry *e = &t->entries[slot - 1];
        if (e->len == n && e->columns == columns && memcmp(e->term, s, n) == 0)
            return e;
    }
}

static void free_table(term_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->entries[i].term);
        free(t->entries[i].all.h);
        for (int s = 0; s < TEXT_SEGMENTS_MAX; s++)
            free(t->entries[i].in_segment[s].h);
    }
    free(t->entries);
    free(t->slots);
}

static cs_status read_frequent(catalog *c, const char *sql, uint32_t columns, int min_df,
                               term_table *t, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, sql, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int(stmt, 1, min_df);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 256;
            term_entry *e = realloc(t->entries, cap * sizeof *e);
            if (!e) {
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing frequent words");
                break;
            }
            t->entries = e;
            t->cap = cap;
        }
        const char *term = (const char *)sqlite3_column_blob(stmt, 0);
        int len = sqlite3_column_bytes(stmt, 0);
        term_entry *e = &t->entries[t->n];
        *e = (term_entry){.len = (uint32_t)len, .columns = columns,
                          .df = sqlite3_column_int64(stmt, 1), .seen_row = -1};
        e->term = malloc((size_t)len + 1);
        if (!e->term) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing frequent words");
            break;
        }
        memcpy(e->term, term ? term : "", (size_t)len);
        e->term[len] = '\0';
        t->n++;
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing frequent words");
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status index_table(term_table *t, cs_error *err)
{
    t->nslots = 16;
    while (t->nslots < t->n * 2)
        t->nslots *= 2;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory indexing frequent words");
    for (size_t k = 0; k < t->n; k++) {
        term_entry *e = &t->entries[k];
        size_t mask = t->nslots - 1;
        size_t i = hash_bytes(e->term, e->len, e->columns) & mask;
        while (t->slots[i])
            i = (i + 1) & mask;
        t->slots[i] = (int32_t)k + 1;
    }
    return CS_OK;
}

/* a worse than b: lower score, or the same and a larger id (the SQL
 * orders by score, then rowid) */
static bool worse(const champion *a, const champion *b)
{
    return a->s < b->s || (a->s == b->s && a->id > b->id);
}

static void sift_down(champion *h, int n, int i)
{
    for (;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&h[l], &h[m]))
            m = l;
        if (r < n && worse(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        champion tmp = h[i];
        h[i] = h[m];
        h[m] = tmp;
        i = m;
    }
}

/* Keeps the list_len best rows offered: appended in any order until
 * full (most heaps of small segments never are), a heap with the worst on
 * top from then on. */
static bool heap_offer(champion_heap *e, int list_len, champion x)
{
    e->df++;
    if (e->n < list_len) {
        if (!ARRAY_RESERVE(e->h, e->cap, (size_t)e->n))
            return false;
        e->h[e->n++] = x;
        if (e->n == list_len)
            for (int i = e->n / 2 - 1; i >= 0; i--)
                sift_down(e->h, e->n, i);
    } else if (worse(&e->h[0], &x)) {
        e->h[0] = x;
        sift_down(e->h, e->n, 0);
    }
    return true;
}

static int best_first(const void *a, const void *b)
{
    const champion *x = a, *y = b;
    return worse(y, x) ? -1 : worse(x, y) ? 1 : 0;
}

typedef struct row_pass {
    term_table *table;
    text_segment segments[TEXT_SEGMENTS_MAX];   /* those with lists */
    catalog_listed members[TEXT_SEGMENTS_MAX];  /* their rows */
    size_t at[TEXT_SEGMENTS_MAX];               /* the first not below the last row */
    int nsegments;
    term_entry **touched;
    size_t ntouched, touched_cap;
    fts_token_list cols[FTS_NCOLUMNS];
} row_pass;

static bool touch(row_pass *rp, term_entry *e, int64_t id, double w)
{
    if (e->seen_row != id) {
        if (rp->ntouched == rp->touched_cap) {
            size_t cap = rp->touched_cap ? rp->touched_cap * 2 : 64;
            term_entry **t = realloc(rp->touched, cap * sizeof *t);
            if (!t)
                return false;
            rp->touched = t;
            rp->touched_cap = cap;
        }
        rp->touched[rp->ntouched++] = e;
        e->seen_row = id;
        e->freq = 0;
    }
    e->freq += w;
    return true;
}

/* Whether segment s holds row id. The rows come in ascending order, so each
 * segment's cursor only moves on; a row out of order starts it again. */
static bool segment_has(row_pass *rp, int s, int64_t id)
{
    const catalog_listed *l = &rp->members[s];
    size_t *at = &rp->at[s];
    if (*at > 0 && l->ids[*at - 1] >= id)
        *at = 0;
    while (*at < l->n && l->ids[*at] < id)
        (*at)++;
    return *at < l->n && l->ids[*at] == id;
}

static cs_status scan_rows(catalog *c, row_pass *rp, double avgdl, int list_len, cs_error *err)
{
    fts_tokenizer *tok;
    cs_status rc = catalog_tokenizer(c, &tok, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_stmt *stmt;
    rc = catalog_prepare(c, "SELECT image_id, caption, tags, ocr, path_words, exif_text, related"
                            " FROM captions", &stmt, err);
    if (rc != CS_OK)
        return rc;
    int step;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(stmt, 0);
        rp->ntouched = 0;
        double doc_len = 0;
        for (int col = 0; rc == CS_OK && col < FTS_NCOLUMNS; col++) {
            fts_token_list *l = &rp->cols[col];
            fts_token_list_clear(l);
            const char *text = (const char *)sqlite3_column_text(stmt, col + 1);
            rc = fts_tokenize(tok, FTS_TOKENIZE_DOCUMENT, text,
                              (size_t)sqlite3_column_bytes(stmt, col + 1), l, err);
            doc_len += l->next_pos;
            for (size_t i = 0; rc == CS_OK && i < l->n; i++) {
                const char *s = l->bytes + l->off[i];
                term_entry *e = find(rp->table, s, l->len[i], FTS_ALL_MASK);
                bool ok = !e || touch(rp, e, id, fts_column_weights[col]);
                if (ok && (FTS_RELATED_MASK & (1u << col)) &&
                    (e = find(rp->table, s, l->len[i], FTS_RELATED_MASK)))
                    ok = touch(rp, e, id, fts_column_weights[col]);
                if (!ok)
                    rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory making champion lists");
            }
        }
        int holding[TEXT_SEGMENTS_MAX], nholding = 0;   /* the segments holding the row */
        for (int s = 0; s < rp->nsegments; s++)
            if (segment_has(rp, s, id))
                holding[nholding++] = s;
        for (size_t k = 0; rc == CS_OK && k < rp->ntouched; k++) {
            term_entry *e = rp->touched[k];
            champion x = {fts_bm25_term(1.0, e->freq, doc_len, avgdl), id};
            bool ok = heap_offer(&e->all, list_len, x);
            for (int h = 0; ok && h < nholding; h++)
                ok = heap_offer(&e->in_segment[holding[h]], list_len, x);
            if (!ok)
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory making champion lists");
        }
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading captions for the champion lists");
    sqlite3_finalize(stmt);
    return rc;
}

/* The heap best first, as a list's blob (index/FORMAT.md: little-endian
 * int64 ids); NULL when out of memory. */
static unsigned char *list_blob(champion_heap *h)
{
    qsort(h->h, (size_t)h->n, sizeof *h->h, best_first);
    unsigned char *blob = malloc((size_t)h->n * 8 + 1);
    for (int i = 0; blob && i < h->n; i++)
        for (int b = 0; b < 8; b++)
            blob[(size_t)i * 8 + (size_t)b] = (unsigned char)((uint64_t)h->h[i].id >> (8 * b));
    return blob;
}

/* Inserts the list of one term; segment NULL: the whole table's. */
static cs_status write_list(catalog *c, sqlite3_stmt *stmt, const char *segment,
                            const term_entry *e, champion_heap *h, cs_error *err)
{
    unsigned char *blob = list_blob(h);
    if (!blob)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory writing champion lists");
    int at = segment ? 2 : 1;
    sqlite3_reset(stmt);
    if (segment)
        sqlite3_bind_text(stmt, 1, segment, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, at, e->term, (int)e->len, SQLITE_STATIC);
    sqlite3_bind_int(stmt, at + 1, (int)e->columns);
    sqlite3_bind_int64(stmt, at + 2, segment ? h->df : e->df);
    sqlite3_bind_blob(stmt, at + 3, blob, h->n * 8, free);
    return catalog_step_done(c, stmt, err, "writing a champion list");
}

static cs_status write_lists(catalog *c, term_table *t, const row_pass *rp, int64_t rows,
                             cs_error *err)
{
    cs_status rc = catalog_exec(c, "DELETE FROM text_champions; DELETE FROM segment_champions;"
                                   " DELETE FROM text_pending", err);
    sqlite3_stmt *stmt = NULL, *seg_stmt = NULL;
    if (rc == CS_OK)
        rc = catalog_prepare(c, "INSERT INTO text_champions(term, columns, df, ids)"
                                " VALUES (?1, ?2, ?3, ?4)", &stmt, err);
    if (rc == CS_OK)
        rc = catalog_prepare(c, "INSERT INTO segment_champions(segment, term, columns, df, ids)"
                                " VALUES (?1, ?2, ?3, ?4, ?5)", &seg_stmt, err);
    for (size_t k = 0; rc == CS_OK && k < t->n; k++) {
        term_entry *e = &t->entries[k];
        rc = write_list(c, stmt, NULL, e, &e->all, err);
        for (int s = 0; rc == CS_OK && s < rp->nsegments; s++)
            if (e->in_segment[s].n > 0)
                rc = write_list(c, seg_stmt, rp->segments[s].name, e, &e->in_segment[s], err);
    }
    sqlite3_finalize(stmt);
    sqlite3_finalize(seg_stmt);
    if (rc != CS_OK)
        return rc;
    char value[96];
    snprintf(value, sizeof value, "%lld %d %d", (long long)rows, c->text_rank.list_len,
             c->text_rank.min_df);
    rc = catalog_meta_set(c, "text_champions", value, err);
    if (rc == CS_OK)
        rc = text_segments_write(c, rp->segments, rp->nsegments, err);
    return rc;
}

/* Whether a scattered candidate's rows cost enough to rank without lists:
 * the cheaper of scoring each of them and FTS5 reading a common word's
 * matches among them (one row in ten). */
static bool scattered_enough(const text_rank_settings *set, int64_t rows,
                             const catalog_listed *l)
{
    if (set->scattered_us <= 0)
        return true;
    double kept = text_kept_cost_ns(rows / 10, rows, l->ids, l->n);
    double scored = (double)l->n * TEXT_SCORE_ROW_NS;
    return (kept < scored ? kept : scored) > (double)set->scattered_us * 1e3;
}

/* Lists the rows of each segment with at least min_df of them (smaller
 * ones hold no term often enough for a list of their own) and at most half
 * the table's (the table's lists serve a filter keeping more); a candidate
 * kept only when scattered is kept when scattered_enough. */
static cs_status list_segments(catalog *c, int64_t rows, row_pass *rp, cs_error *err)
{
    const text_rank_settings *set = &c->text_rank;
    int64_t least = set->min_df > 1 ? set->min_df : 1;
    text_segment *candidates = malloc(TEXT_SEGMENT_CANDIDATES_MAX * sizeof *candidates);
    if (!candidates)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory choosing the segments");
    int n = 0;
    cs_status rc = text_segments_candidates(c, least, rows / 2, candidates, &n, err);
    for (int s = 0; rc == CS_OK && s < n && rp->nsegments < TEXT_SEGMENTS_MAX; s++) {
        catalog_listed *l = &rp->members[rp->nsegments];
        cs_filter f;
        text_segment_filter(candidates[s].name, &f);
        rc = catalog_filter_ids(c, &f, -1, &l->ids, &l->n, NULL, err);
        if (rc == CS_OK && (int64_t)l->n >= least && (int64_t)l->n <= rows / 2 &&
            (!candidates[s].if_scattered || scattered_enough(set, rows, l))) {
            rp->segments[rp->nsegments] = candidates[s];
            rp->segments[rp->nsegments++].rows = (int64_t)l->n;
        } else {
            free(l->ids);
            *l = (catalog_listed){0};
        }
    }
    free(candidates);
    return rc;
}

static cs_status rebuild(catalog *c, cs_error *err)
{
    const text_rank_settings *set = &c->text_rank;
    fts_table_stats stats;
    cs_status rc = fts_table_stats_read(c->db, "captions_fts", FTS_NCOLUMNS, &stats, err);
    if (rc != CS_OK)
        return rc;
    rc = catalog_exec(c,
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.cs_vocab_row USING fts5vocab(main, captions_fts, row);"
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.cs_vocab_col USING fts5vocab(main, captions_fts, col)",
        err);
    term_table table = {0};
    if (rc == CS_OK)
        rc = read_frequent(c, "SELECT term, doc FROM temp.cs_vocab_row WHERE doc >= ?1",
                           FTS_ALL_MASK, set->min_df, &table, err);
    if (rc == CS_OK)
        rc = read_frequent(c, "SELECT term, doc FROM temp.cs_vocab_col"
                              " WHERE col = 'related' AND doc >= ?1",
                           FTS_RELATED_MASK, set->min_df, &table, err);
    if (rc == CS_OK)
        rc = index_table(&table, err);
    row_pass rp = {.table = &table};
    if (rc == CS_OK && table.n > 0)
        rc = list_segments(c, stats.rows, &rp, err);
    if (rc == CS_OK && table.n > 0)
        rc = scan_rows(c, &rp, stats.avgdl, set->list_len, err);
    if (rc == CS_OK)
        rc = write_lists(c, &table, &rp, stats.rows, err);
    for (int col = 0; col < FTS_NCOLUMNS; col++)
        fts_token_list_free(&rp.cols[col]);
    for (int s = 0; s < rp.nsegments; s++)
        free(rp.members[s].ids);
    free(rp.touched);
    free_table(&table);
    return rc;
}

cs_status catalog_rebuild_champions(catalog *c, cs_error *err)
{
    if (c->read_only)
        return cs_error_set(err, CS_ERR_INVALID, "the catalog is open read-only");
    /* Not catalog_begin: the lists are derived, the generation stays. */
    cs_status rc = catalog_exec(c, "BEGIN IMMEDIATE", err);
    if (rc != CS_OK)
        return rc;
    rc = rebuild(c, err);
    if (rc == CS_OK)
        rc = catalog_exec(c, "COMMIT", err);
    if (rc != CS_OK) {
        catalog_exec(c, "ROLLBACK", &(cs_error){0});
        return cs_error_prefix(err, "making the champion lists: ");
    }
    return CS_OK;
}

void catalog_set_text_rank_settings(catalog *c, const text_rank_settings *s)
{
    c->text_rank = *s;
}

cs_status catalog_champions_built(catalog *c, bool *built, long long *rows, cs_error *err)
{
    *built = false;
    *rows = 0;
    char *meta = NULL;
    cs_status rc = catalog_meta_get(c, "text_champions", &meta, err);
    if (rc != CS_OK)
        return rc;
    int list_len = 0, min_df = 0;
    *built = meta && sscanf(meta, "%lld %d %d", rows, &list_len, &min_df) == 3 &&
             list_len == c->text_rank.list_len && min_df == c->text_rank.min_df;
    free(meta);
    return CS_OK;
}

cs_status catalog_champions_stale(catalog *c, bool *stale, cs_error *err)
{
    *stale = false;
    bool ok = false;
    long long rows = 0;
    cs_status rc = catalog_champions_built(c, &ok, &rows, err);
    if (rc != CS_OK)
        return rc;
    if (!ok) {
        *stale = true;
        return CS_OK;
    }
    /* lists made before the segments' (schema 7) are made again once */
    char *segments = NULL;
    rc = catalog_meta_get(c, "text_segments", &segments, err);
    if (rc != CS_OK || !segments) {
        *stale = rc == CS_OK;
        return rc;
    }
    free(segments);
    sqlite3_stmt *stmt;
    rc = catalog_prepare(c, "SELECT count(*) FROM text_pending", &stmt, err);
    if (rc != CS_OK)
        return rc;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
        long long pending = sqlite3_column_int64(stmt, 0);
        *stale = pending > c->text_rank.pending_max || pending * 100 > rows;
    } else {
        rc = catalog_sql_error(c, err, "counting changed captions");
    }
    sqlite3_finalize(stmt);
    return rc;
}
