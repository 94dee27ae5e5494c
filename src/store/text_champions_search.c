/* The champion path of the text ranking (text_champions.h): candidates
 * from the lists of the query's common terms, every row of its rare terms,
 * the rows holding all its common terms and the rows written since the
 * lists were made, each scored with FTS5's bm25 computed here (fts_bm25.h)
 * on its own tokenized text; the lists are read deeper only while a row
 * not read could still enter the page (page_final). */
#include "store/catalog_internal.h"
#include "store/fts_bm25.h"
#include "store/fts_expr.h"
#include "store/text_kept.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* The deepest a search reads each list: four pages, at least this. */
#define MIN_LIST_TAKE 400

/* A narrow filter keeping fewer rows than the query's matches, and too few
 * of all rows for the lists' candidates to fill a page (1 in
 * FILTER_LIST_SHARE), is listed. Its rows are then scored here when that
 * costs less than FTS5 reading the matches among them (text_kept.h):
 * scoring a row here costs about TEXT_SCORE_ROW_NS (measured at a million
 * rows), FTS5 about 0.2 us a match read plus a seek per run of rows. */
#define FILTER_LIST_SHARE 16

/* page_final weighs every set of the lists read in part (at most
 * PARTIAL_LISTS_MAX of them: 2^n sets); a search reads at most
 * CONJ_READS_MAX ANDs of them. */
#define PARTIAL_LISTS_MAX 12
#define CONJ_READS_MAX 16

/* The ANDs read to prove a page final are worth a few lists' rows: past
 * CONJ_BUDGET_NS of expected cost the page stands on recall. */
#define CONJ_MATCH_NS 120.0
#define CONJ_BUDGET_NS 8e6

typedef struct id_set {
    int64_t *ids;
    size_t n, cap;
} id_set;

static bool id_set_add(id_set *s, int64_t id)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        int64_t *ids = realloc(s->ids, cap * sizeof *ids);
        if (!ids)
            return false;
        s->ids = ids;
        s->cap = cap;
    }
    s->ids[s->n++] = id;
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

typedef struct scored {
    double score;
    int64_t id;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The phrase as a MATCH expression of its own (column filter kept). */
static bool render_phrase(const fts_phrase *ph, strbuf *sb)
{
    strbuf_reset(sb);
    if (ph->columns != FTS_ALL_MASK) {
        int col = -1;
        for (int c = 0; c < FTS_NCOLUMNS; c++)
            if (ph->columns == (1u << c))
                col = c;
        if (col < 0)
            return false;
        strbuf_append(sb, fts_column_names[col]);
        strbuf_append(sb, " : ");
    }
    strbuf_append_char(sb, '"');
    for (const char *s = ph->text; *s; s++) {
        if (*s == '"')
            strbuf_append_char(sb, '"');
        strbuf_append_char(sb, *s);
    }
    strbuf_append(sb, ph->prefix ? "\" *" : "\"");
    return true;
}

static cs_status count_matches(catalog *c, const char *match, int64_t cap, int64_t *count,
                               cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT count(*) FROM (SELECT 1 FROM captions_fts"
                                      " WHERE captions_fts MATCH ?1 LIMIT ?2)", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, cap);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int64(stmt, 0);
    else
        rc = catalog_sql_error(c, err, "counting the rows of a phrase");
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status vocab_df(catalog *c, const fts_phrase *ph, int64_t *df, cs_error *err)
{
    cs_status rc = catalog_exec(c,
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.cs_vocab_row USING fts5vocab(main, captions_fts, row);"
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.cs_vocab_col USING fts5vocab(main, captions_fts, col)",
        err);
    if (rc != CS_OK)
        return rc;
    sqlite3_stmt *stmt;
    rc = catalog_prepare(c, ph->columns == FTS_ALL_MASK
                                ? "SELECT doc FROM temp.cs_vocab_row WHERE term = ?1"
                                : "SELECT doc FROM temp.cs_vocab_col WHERE term = ?1"
                                  " AND col = 'related'", &stmt, err);
    if (rc != CS_OK)
        return rc;
    const fts_token_list *t = &ph->tokens;
    sqlite3_bind_text(stmt, 1, t->bytes, (int)t->len[0], SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    *df = step == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading a word's row count");
    sqlite3_finalize(stmt);
    return rc;
}

/* What one alternative brings: a list (blob of ids best first) or, when
 * rare, nothing (its rows come from FTS5). df its exact row count. */
typedef struct alternative {
    int64_t df;
    unsigned char *list;     /* malloc'd, NULL for a rare alternative */
    size_t list_n;
    int64_t list_df;         /* the rows a list holding all would hold: df,
                                or the segment's rows holding the phrase */
} alternative;

/* Classifies one alternative, its list read from `segment`'s lists (NULL:
 * the whole table's); *exact true when only FTS5's ranking will do (a
 * common phrase or prefix, a common word without a list). */
static cs_status classify(catalog *c, const fts_phrase *ph, bool pending, const char *segment,
                          alternative *alt, bool *exact, strbuf *sb, cs_error *err)
{
    *alt = (alternative){0};
    const text_rank_settings *set = &c->text_rank;
    bool single = ph->tokens.n == 1 && !ph->prefix &&
                  (ph->columns == FTS_ALL_MASK || ph->columns == FTS_RELATED_MASK);
    if (!single) {
        if (!render_phrase(ph, sb)) {
            *exact = true;
            return CS_OK;
        }
        cs_status rc = count_matches(c, strbuf_str(sb), set->min_df, &alt->df, err);
        if (rc == CS_OK && alt->df >= set->min_df)
            *exact = true;
        return rc;
    }
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, segment ? STMT_SEGMENT_CHAMPIONS : STMT_CHAMPIONS, &stmt,
                                err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, ph->tokens.bytes, (int)ph->tokens.len[0], SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, (int)ph->columns);
    if (segment)
        sqlite3_bind_text(stmt, 3, segment, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        alt->df = sqlite3_column_int64(stmt, 0);
        alt->list_df = sqlite3_column_int64(stmt, 1);
        size_t bytes = (size_t)sqlite3_column_bytes(stmt, 2);
        alt->list = malloc(bytes + 1);
        if (!alt->list)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a champion list");
        else if (bytes)
            memcpy(alt->list, sqlite3_column_blob(stmt, 2), bytes);
        alt->list_n = bytes / 8;
    } else if (step != SQLITE_DONE) {
        rc = catalog_sql_error(c, err, "reading a champion list");
    }
    sqlite3_reset(stmt);
    if (rc != CS_OK)
        return rc;
    /* the stored df is exact while nothing changed since the lists were
     * made; otherwise (and for words without a list) ask FTS5's vocabulary */
    if (!alt->list || pending) {
        rc = vocab_df(c, ph, &alt->df, err);
        if (rc == CS_OK && !alt->list && alt->df >= set->min_df)
            *exact = true;
        if (!segment)
            alt->list_df = alt->df;
    }
    return rc;
}

static cs_status add_matches(catalog *c, const char *match, int64_t cap, id_set *cand,
                             cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?1"
                                      " LIMIT ?2", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, cap);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
        if (!id_set_add(cand, sqlite3_column_int64(stmt, 0))) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting candidates");
            break;
        }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "finding the rows of rare words");
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status add_pending(catalog *c, id_set *cand, int64_t *count, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT image_id FROM text_pending LIMIT ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, (int64_t)c->text_rank.pending_max + 1);
    *count = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        (*count)++;
        if (!id_set_add(cand, sqlite3_column_int64(stmt, 0))) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting candidates");
            break;
        }
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading changed captions");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_eval_row(catalog *c, const fts_expr *e, int64_t id, fts_token_list *cols,
                           bool *matched, double *freq, double *doc_len, cs_error *err)
{
    *matched = false;
    fts_tokenizer *tok;
    cs_status rc = catalog_tokenizer(c, &tok, err);
    sqlite3_stmt *stmt;
    if (rc == CS_OK)
        rc = catalog_stmt(c, STMT_CAPTION_TEXT, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        *doc_len = 0;
        for (int col = 0; rc == CS_OK && col < FTS_NCOLUMNS; col++) {
            fts_token_list_clear(&cols[col]);
            rc = fts_tokenize(tok, FTS_TOKENIZE_DOCUMENT,
                              (const char *)sqlite3_column_text(stmt, col),
                              (size_t)sqlite3_column_bytes(stmt, col), &cols[col], err);
            *doc_len += cols[col].next_pos;
        }
        if (rc == CS_OK && fts_expr_eval(e, cols, fts_column_weights, freq))
            *matched = true;
    } else if (step != SQLITE_DONE) {
        rc = catalog_sql_error(c, err, "reading a caption row");
    }
    sqlite3_reset(stmt);
    return rc;
}

typedef struct plan {
    const char *segment; /* whose lists are read (text_segment), NULL: the table's */
    fts_expr *expr;
    alternative alts[FTS_EXPR_MAX_PHRASES];
    int alt_ids[FTS_EXPR_MAX_PHRASES];
    int nalts;
    double idf[FTS_EXPR_MAX_PHRASES];
    double avgdl;
    id_set cand;        /* read, not yet scored */
    id_set seen;        /* scored, ascending */
    /* With a filter that is the segment alone, a row read from its lists
     * and unchanged since they were made passes it unchecked. */
    bool lists_pass;
    id_set from_lists;  /* read from the lists (lists_pass only) */
    id_set pending;     /* changed since the lists were made, ascending */
    scored *found;      /* scored and matching (and passing the filter) */
    size_t nfound, found_cap;
    int64_t estimate;   /* the alternatives' row counts summed */
    size_t take;        /* rows read from the start of each list */
    size_t max_take;
    bool final;         /* no row not scored can enter the page (page_final) */
    int64_t rows;       /* the table's */
    /* ANDs of listed alternatives (masks of alts) read, and those read
     * whole; page_final's uncovered sets, the next to read */
    uint64_t tried[CONJ_READS_MAX], whole[CONJ_READS_MAX], uncovered[CONJ_READS_MAX];
    int ntried, nwhole, nuncovered;
    double conj_spent_ns;   /* their expected cost (conjunction_cost_ns) */
    fts_token_list cols[FTS_NCOLUMNS];
    strbuf sb, rare;
} plan;

static void plan_free(plan *p)
{
    for (int k = 0; k < p->nalts; k++)
        free(p->alts[k].list);
    fts_expr_free(p->expr);
    free(p->cand.ids);
    free(p->seen.ids);
    free(p->from_lists.ids);
    free(p->pending.ids);
    free(p->found);
    for (int col = 0; col < FTS_NCOLUMNS; col++)
        fts_token_list_free(&p->cols[col]);
    strbuf_free(&p->sb);
    strbuf_free(&p->rare);
}

static int64_t list_id(const alternative *a, size_t i)
{
    uint64_t v = 0;
    for (int b = 7; b >= 0; b--)
        v = (v << 8) | a->list[i * 8 + (size_t)b];
    return (int64_t)v;
}

/* Adds list entries [from, to) of every listed alternative. */
static cs_status add_list_rows(plan *p, size_t from, size_t to, cs_error *err)
{
    for (int k = 0; k < p->nalts; k++) {
        const alternative *a = &p->alts[k];
        for (size_t i = from; a->list && i < a->list_n && i < to; i++)
            if (!id_set_add(&p->cand, list_id(a, i)) ||
                (p->lists_pass && !id_set_add(&p->from_lists, list_id(a, i))))
                return cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting candidates");
    }
    return CS_OK;
}

/* The rows holding every alternative of `mask` (FTS5's AND, rowids
 * only): at most `cap`, in rowid order, so a sample when there are more. */
static cs_status add_conjunction(catalog *c, plan *p, uint64_t mask, size_t cap, bool *whole,
                                 cs_error *err)
{
    strbuf_reset(&p->rare);
    for (int k = 0; k < p->nalts; k++) {
        if (!(mask >> k & 1))
            continue;
        render_phrase(&p->expr->phrases[p->alt_ids[k]], &p->sb);
        if (p->rare.len)
            strbuf_append(&p->rare, " AND ");
        strbuf_append(&p->rare, strbuf_str(&p->sb));
    }
    if (strbuf_failed(&p->sb) || strbuf_failed(&p->rare))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building a query");
    size_t before = p->cand.n;
    cs_status rc = add_matches(c, strbuf_str(&p->rare), (int64_t)cap, &p->cand, err);
    *whole = rc == CS_OK && p->cand.n - before < cap;
    return rc;
}

/* What reading an AND is expected to cost: FTS5 reads the doclist of its
 * rarest word (about CONJ_MATCH_NS a row, "old" AND "car" AND "house" at a
 * million rows), and each row it returns is scored here. */
static double conjunction_cost_ns(const plan *p, uint64_t mask)
{
    double rarest = (double)p->rows, expected = (double)p->rows;
    for (int k = 0; k < p->nalts; k++)
        if (mask >> k & 1) {
            double df = (double)p->alts[k].df;
            rarest = df < rarest ? df : rarest;
            expected *= df / (double)p->rows;
        }
    if (expected > (double)p->max_take)
        expected = (double)p->max_take;
    return rarest * CONJ_MATCH_NS + expected * TEXT_SCORE_ROW_NS;
}

/* Reads, each once, the AND of every listed word (rows holding them all
 * outrank, for an OR, rows holding one, and may be on no list) and the
 * ANDs page_final left uncovered; *read false when there was none to read. */
static cs_status read_conjunctions(catalog *c, plan *p, bool *read, cs_error *err)
{
    *read = false;
    cs_status rc = CS_OK;
    uint64_t listed = 0;
    for (int k = 0; k < p->nalts; k++)
        if (p->alts[k].list)
            listed |= (uint64_t)1 << k;
    for (int u = -1; rc == CS_OK && u < p->nuncovered && p->ntried < CONJ_READS_MAX; u++) {
        uint64_t mask = u < 0 ? listed : p->uncovered[u];
        if (__builtin_popcountll(mask) < 2)
            continue;
        bool tried = false;
        for (int t = 0; t < p->ntried; t++)
            tried = tried || p->tried[t] == mask;
        double cost = conjunction_cost_ns(p, mask);
        if (tried || (u >= 0 && p->conj_spent_ns + cost > CONJ_BUDGET_NS))
            continue;
        p->conj_spent_ns += cost;
        bool whole = false;
        rc = add_conjunction(c, p, mask, p->max_take, &whole, err);
        p->tried[p->ntried++] = mask;
        c->text_paths.conjunctions++;
        if (rc == CS_OK && whole)
            p->whole[p->nwhole++] = mask;
        *read = true;
    }
    return rc;
}

/* Builds the first candidates; *handled false when FTS5's ranking must
 * answer (or would be cheaper). */
static cs_status plan_candidates(catalog *c, plan *p, const char *match, int limit,
                                 int64_t rows, bool *handled, cs_error *err)
{
    const text_rank_settings *set = &c->text_rank;
    fts_tokenizer *tok;
    cs_status rc = catalog_tokenizer(c, &tok, err);
    if (rc != CS_OK)
        return rc;
    cs_error parse_err;
    if (fts_expr_parse(tok, match, fts_column_names, FTS_NCOLUMNS, &p->expr, &parse_err) != CS_OK)
        return CS_OK;   /* syntax we do not evaluate: FTS5 answers */
    if (!fts_expr_alternatives(p->expr, p->alt_ids, &p->nalts))
        return CS_OK;
    int64_t pending = 0;
    rc = add_pending(c, &p->cand, &pending, err);
    if (rc != CS_OK || pending > set->pending_max)
        return rc;
    for (size_t i = 0; p->lists_pass && i < p->cand.n; i++)
        if (!id_set_add(&p->pending, p->cand.ids[i]))
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting candidates");
    if (p->pending.n)
        qsort(p->pending.ids, p->pending.n, sizeof *p->pending.ids, cmp_id);
    bool exact = false;
    int64_t estimate = 0, rare_rows = 0;
    for (int k = 0; rc == CS_OK && !exact && k < p->nalts; k++) {
        rc = classify(c, &p->expr->phrases[p->alt_ids[k]], pending > 0, p->segment, &p->alts[k],
                      &exact, &p->sb, err);
        estimate += p->alts[k].df;
        if (!p->alts[k].list)
            rare_rows += p->alts[k].df;
    }
    /* Scoring a row here costs a few times what FTS5's ranking spends on
     * one of its matches (about 7.5 us against 1.6 us for "dog" AND "beach"
     * at a million rows, measured): rare words with most of the matches
     * are cheaper in FTS5. */
    if (rc != CS_OK || exact || estimate <= set->exact_below || 3 * rare_rows > estimate)
        return rc;
    p->estimate = estimate;
    for (int k = 0; k < p->nalts; k++)
        p->idf[p->alt_ids[k]] = fts_bm25_idf(rows, p->alts[k].df);
    /* the lists' first `limit` rows, then deeper while the bound of
     * next_round says a row not read could still enter the page */
    p->max_take = (size_t)(4 * (int64_t)limit > MIN_LIST_TAKE ? 4 * (int64_t)limit : MIN_LIST_TAKE);
    if (p->max_take > (size_t)set->list_len)
        p->max_take = (size_t)set->list_len;
    p->take = (size_t)limit < p->max_take ? (size_t)limit : p->max_take;
    rc = add_list_rows(p, 0, p->take, err);
    strbuf_reset(&p->rare);
    for (int k = 0; rc == CS_OK && k < p->nalts; k++) {
        if (p->alts[k].list || p->alts[k].df == 0)
            continue;
        if (!render_phrase(&p->expr->phrases[p->alt_ids[k]], &p->sb))
            return CS_OK;
        if (p->rare.len)
            strbuf_append(&p->rare, " OR ");
        strbuf_append(&p->rare, strbuf_str(&p->sb));
    }
    if (rc == CS_OK && (strbuf_failed(&p->sb) || strbuf_failed(&p->rare)))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory building a query");
    if (rc == CS_OK && p->rare.len)
        rc = add_matches(c, strbuf_str(&p->rare), -1, &p->cand, err);
    if (rc == CS_OK)
        *handled = true;
    return rc;
}

static bool sorted_has(const int64_t *ids, size_t n, int64_t id)
{
    return n > 0 && bsearch(&id, ids, n, sizeof *ids, cmp_id) != NULL;
}

/* Scores the candidates read since the last call (in rowid order, which
 * reads the table in order), skipping rows already scored. */
static cs_status score_new(catalog *c, plan *p, const cs_filter *filter, cs_error *err)
{
    id_set *cand = &p->cand;
    if (cand->n == 0)
        return CS_OK;
    qsort(cand->ids, cand->n, sizeof *cand->ids, cmp_id);
    if (p->nfound + cand->n > p->found_cap) {
        size_t cap = p->nfound + cand->n + 64;
        scored *f = realloc(p->found, cap * sizeof *f);
        if (!f)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory scoring candidates");
        p->found = f;
        p->found_cap = cap;
    }
    bool filtered = catalog_filter_active(filter);
    if (p->lists_pass && p->from_lists.n)
        qsort(p->from_lists.ids, p->from_lists.n, sizeof *p->from_lists.ids, cmp_id);
    size_t old_seen = p->seen.n;
    cs_status rc = CS_OK;
    for (size_t i = 0; rc == CS_OK && i < cand->n; i++) {
        int64_t id = cand->ids[i];
        /* rows scored in earlier rounds are the sorted first old_seen */
        if ((i > 0 && id == cand->ids[i - 1]) || sorted_has(p->seen.ids, old_seen, id))
            continue;
        if (!id_set_add(&p->seen, id))
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory scoring candidates");
        bool matched = false;
        double freq[FTS_EXPR_MAX_PHRASES], doc_len = 0;
        rc = catalog_eval_row(c, p->expr, id, p->cols, &matched, freq, &doc_len, err);
        bool passes = p->lists_pass && sorted_has(p->from_lists.ids, p->from_lists.n, id) &&
                      !sorted_has(p->pending.ids, p->pending.n, id);
        if (rc == CS_OK && matched && filtered && !passes)
            rc = catalog_filter_matches(c, id, filter, &matched, err);
        if (rc == CS_OK && matched)
            p->found[p->nfound++] =
                (scored){fts_bm25_score(p->idf, freq, p->expr->nphrases, doc_len, p->avgdl), id};
    }
    qsort(p->seen.ids, p->seen.n, sizeof *p->seen.ids, cmp_id);
    cand->n = 0;
    qsort(p->found, p->nfound, sizeof *p->found, cmp_scored);
    return rc;
}

/* A list read in part: its alternative, and its word's bm25 term at the
 * last row read, which no row left unread exceeds (ties: larger rowids). */
typedef struct partial_list {
    int alt;
    double bound;
    int64_t last;
} partial_list;

/* Whether unread rows holding exactly the words of a set whose bounds sum
 * to `sum` (the largest last row among them `last`) could enter the page,
 * whose kth row scores -threshold: above it, or equal with a smaller rowid
 * than the kth (an unread row scoring exactly `sum` comes after `last` in
 * each list). The tolerance absorbs the order of the sums. */
static bool could_enter(double sum, int64_t last, double threshold, int64_t kth_id)
{
    double tol = 1e-9 * fabs(threshold);
    return sum > threshold + tol || (sum >= threshold - tol && kth_id > last);
}

/* The lists' partial bounds; *n 0 when every list was read whole, -1
 * when a row changed since the lists were made (no bound). */
static cs_status partial_bounds(catalog *c, plan *p, partial_list *part, int *n, cs_error *err)
{
    *n = 0;
    for (int k = 0; k < p->nalts; k++) {
        const alternative *a = &p->alts[k];
        if (!a->list || (p->take >= a->list_n && (int64_t)a->list_n >= a->list_df))
            continue;   /* every row of the word was read */
        size_t last = (p->take < a->list_n ? p->take : a->list_n) - 1;
        int64_t id = list_id(a, last);
        bool matched;
        double freq[FTS_EXPR_MAX_PHRASES], doc_len = 0;
        cs_status rc = catalog_eval_row(c, p->expr, id, p->cols, &matched, freq, &doc_len, err);
        int ph = p->alt_ids[k];
        if (rc != CS_OK || !matched || freq[ph] <= 0) {
            *n = -1;
            return rc;
        }
        part[(*n)++] = (partial_list){k, fts_bm25_term(p->idf[ph], freq[ph], doc_len, p->avgdl),
                                      id};
    }
    return CS_OK;
}

/* Whether the page is final: no row left unread can enter it. A row not
 * read holds none of the rare words (all their rows were read) nor a word
 * whose list was read whole; of a word whose list was read in part, it
 * scores at most the word's bm25 term at the last row read (the lists are
 * in that order, ties by rowid). So a row holding the set W of those words
 * scores at most the sum of W's bounds. Each set W whose sum could enter
 * the page must contain a set whose AND was read whole (the row was then
 * read). Sets that could enter, are left uncovered, and whose every
 * smaller set could not, go in p->uncovered: the ANDs to read next. With
 * a segment's lists, the same holds within the segment, and the filter
 * keeps no row outside it. When every list was read whole, every match was
 * scored: the page is final however short. Exact while nothing changed
 * since the lists were made; with changed rows (all read) the lists' order
 * is the old one, as everywhere on this path. */
static cs_status page_final(catalog *c, plan *p, int limit, bool *final, cs_error *err)
{
    *final = false;
    p->nuncovered = 0;
    partial_list part[FTS_EXPR_MAX_PHRASES];
    int np;
    cs_status rc = partial_bounds(c, p, part, &np, err);
    if (rc != CS_OK || np < 0)
        return rc;
    if (np == 0) {
        *final = true;
        return CS_OK;
    }
    if (p->nfound < (size_t)limit || np > PARTIAL_LISTS_MAX)
        return CS_OK;   /* deeper, or recall rather than proof */
    /* the ANDs read whole, as sets of part[] (one holding a word read whole
     * holds no unread row) */
    uint64_t covering[CONJ_READS_MAX];
    int ncovering = 0;
    for (int w = 0; w < p->nwhole; w++) {
        uint64_t m = 0, left = p->whole[w];
        for (int i = 0; i < np; i++)
            if (left >> part[i].alt & 1) {
                m |= (uint64_t)1 << i;
                left &= ~((uint64_t)1 << part[i].alt);
            }
        if (!left)
            covering[ncovering++] = m;
    }
    size_t nsets = (size_t)1 << np;
    double *sum = malloc(nsets * sizeof *sum), *expected = malloc(nsets * sizeof *expected);
    int64_t *last = malloc(nsets * sizeof *last);
    if (!sum || !expected || !last) {
        free(sum);
        free(expected);
        free(last);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory bounding the page");
    }
    sum[0] = 0;
    last[0] = INT64_MIN;
    expected[0] = (double)p->rows;
    for (size_t set = 1; set < nsets; set++) {
        int low = __builtin_ctzll(set);
        size_t rest = set & (set - 1);
        sum[set] = sum[rest] + part[low].bound;
        last[set] = last[rest] > part[low].last ? last[rest] : part[low].last;
        /* the rows of the AND, the words taken as independent */
        expected[set] = expected[rest] * (double)p->alts[part[low].alt].df / (double)p->rows;
    }
    const scored *kth = &p->found[limit - 1];
    double threshold = -kth->score;
    bool open = false;
    for (size_t set = 1; set < nsets; set++) {
        if (!could_enter(sum[set], last[set], threshold, kth->id))
            continue;
        bool covered = false;
        for (int w = 0; w < ncovering && !covered; w++)
            covered = (covering[w] & ~(uint64_t)set) == 0;
        if (covered)
            continue;
        open = true;
        /* to read next: an AND of two or more words expected to be read
         * whole, none of whose smaller sets is one */
        bool next = __builtin_popcountll(set) >= 2 && expected[set] <= (double)p->max_take;
        for (int i = 0; i < np && next; i++) {
            size_t less = set & ~((size_t)1 << i);
            next = !(set >> i & 1) || __builtin_popcountll(less) < 2 ||
                   expected[less] > (double)p->max_take ||
                   !could_enter(sum[less], last[less], threshold, kth->id);
        }
        if (next && p->nuncovered < CONJ_READS_MAX) {
            uint64_t mask = 0;
            for (int i = 0; i < np; i++)
                if (set >> i & 1)
                    mask |= (uint64_t)1 << part[i].alt;
            p->uncovered[p->nuncovered++] = mask;
        }
    }
    free(sum);
    free(expected);
    free(last);
    *final = !open;
    return CS_OK;
}

/* Scores rounds of candidates until the page is final or the lists were
 * read max_take deep: first the lists' first rows, then the ANDs the
 * page's bound leaves open (page_final), then each list twice as deep. */
static cs_status rank_candidates(catalog *c, plan *p, const cs_filter *filter, int limit,
                                 cs_error *err)
{
    for (;;) {
        cs_status rc = score_new(c, p, filter, err);
        if (rc == CS_OK)
            rc = page_final(c, p, limit, &p->final, err);
        if (rc != CS_OK || p->final)
            return rc;
        bool read = false;
        rc = read_conjunctions(c, p, &read, err);
        if (rc != CS_OK)
            return rc;
        if (read)
            continue;   /* score their rows, weigh the page again */
        if (p->take >= p->max_take)
            return CS_OK;   /* the page as it stands: recall, not proof */
        size_t deeper = 2 * p->take < p->max_take ? 2 * p->take : p->max_take;
        rc = add_list_rows(p, p->take, deeper, err);
        p->take = deeper;
        if (rc != CS_OK)
            return rc;
    }
}

/* The filter's images, at most max (catalog_filter_ids), taken from
 * `listed` when the search listed them already. */
static cs_status list_filter(catalog *c, const cs_filter *filter, const catalog_listed *listed,
                             int64_t max, int64_t **ids, size_t *n, bool *more, cs_error *err)
{
    if (!listed || listed->max == 0 || (listed->more && max > listed->max))
        return catalog_filter_ids(c, filter, max, ids, n, more, err);
    *ids = NULL;
    *n = 0;
    *more = listed->more || (int64_t)listed->n > max;
    if (*more || listed->n == 0)
        return CS_OK;
    *ids = malloc(listed->n * sizeof **ids);
    if (!*ids)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing the images a filter keeps");
    memcpy(*ids, listed->ids, listed->n * sizeof **ids);
    *n = listed->n;
    return CS_OK;
}

/* A narrow filter (catalog_filter_narrow) keeping fewer rows than the
 * query's matches: its images are listed. When scoring each of them costs
 * less than FTS5 reading their matches, every one is scored (*done), which
 * is the exact ranking of the filtered rows whatever the lists hold;
 * otherwise they go back in *kept for FTS5's ranking. */
static cs_status rank_filtered_rows(catalog *c, plan *p, int64_t rows, const cs_filter *filter,
                                    const catalog_listed *listed, bool *done, int64_t **kept,
                                    size_t *nkept, cs_error *err)
{
    *done = false;
    if (!catalog_filter_narrow(filter))
        return CS_OK;
    int64_t max = rows / FILTER_LIST_SHARE < p->estimate ? rows / FILTER_LIST_SHARE : p->estimate;
    int64_t *ids = NULL;
    size_t n = 0;
    bool more = false;
    cs_status rc = list_filter(c, filter, listed, max, &ids, &n, &more, err);
    if (rc != CS_OK || more) {
        free(ids);
        return rc;
    }
    if ((double)n * TEXT_SCORE_ROW_NS > text_kept_cost_ns(p->estimate, rows, ids, n)) {
        *kept = ids;
        *nkept = n;
        return CS_OK;
    }
    p->cand.n = 0;   /* the lists' rows give way to the filter's */
    for (size_t i = 0; rc == CS_OK && i < n; i++)
        if (!id_set_add(&p->cand, ids[i]))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting candidates");
    free(ids);
    if (rc == CS_OK)
        rc = score_new(c, p, NULL, err);   /* each one passed the filter */
    *done = rc == CS_OK;
    return rc;
}

static cs_status lists_ready(catalog *c, int limit, bool *ready, cs_error *err)
{
    *ready = false;
    if (c->schema_version < 5 || limit <= 0 || limit > c->text_rank.list_len / 4)
        return CS_OK;
    long long rows;
    return catalog_champions_built(c, ready, &rows, err);
}

static cs_status search_in_read(catalog *c, const char *match, const cs_filter *filter,
                                const catalog_listed *listed, int limit, bool *handled,
                                int64_t **ids, double **scores, size_t *n, cs_error *err);

cs_status text_rank_search(catalog *c, const char *match, const cs_filter *filter,
                           const catalog_listed *listed, int limit, bool *handled,
                           int64_t **ids, double **scores, size_t *n, cs_error *err)
{
    *handled = false;
    /* One read transaction for the lists, the sizes and every candidate:
     * one snapshot, and one lock instead of one per row read. */
    bool own_read = sqlite3_get_autocommit(c->db);
    cs_status rc = own_read ? catalog_begin_read(c, err) : CS_OK;
    if (rc != CS_OK)
        return rc;
    rc = search_in_read(c, match, filter, listed, limit, handled, ids, scores, n, err);
    if (own_read)
        catalog_end_read(c);
    return rc;
}

/* FTS5 ranks the matches among the filter's listed images (text_kept.h). */
static cs_status rank_kept(catalog *c, const plan *p, const char *match, int64_t rows,
                           const int64_t *kept, size_t nkept, int limit, int64_t **ids,
                           double **scores, size_t *n, cs_error *err)
{
    fts_bm25_params bm25 = {.idf = p->idf, .nphrases = p->expr->nphrases,
                            .weights = fts_column_weights, .ncolumns = FTS_NCOLUMNS,
                            .avgdl = p->avgdl};
    return text_rank_kept(c, match, &bm25, p->estimate, rows, kept, nkept, limit, ids, scores, n,
                          err);
}

static cs_status search_in_read(catalog *c, const char *match, const cs_filter *filter,
                                const catalog_listed *listed, int limit, bool *handled,
                                int64_t **ids, double **scores, size_t *n, cs_error *err)
{
    int64_t *kept = NULL;   /* the filter's images, listed */
    size_t nkept = 0;
    bool all_kept = false;   /* kept holds every image the filter keeps */
    bool ready;
    cs_status rc = lists_ready(c, limit, &ready, err);
    if (rc != CS_OK || !ready)
        return rc;
    fts_table_stats stats;
    rc = fts_table_stats_read(c->db, "captions_fts", FTS_NCOLUMNS, &stats, err);
    if (rc != CS_OK || stats.rows == 0)
        return rc;
    plan p = {0};
    strbuf_init(&p.sb);
    strbuf_init(&p.rare);
    p.avgdl = stats.avgdl;
    p.rows = stats.rows;
    text_segment segment;
    rc = text_segment_serving(c, filter, &segment, err);
    p.segment = segment.rows > 0 ? segment.name : NULL;
    p.lists_pass = p.segment && text_segment_is(filter, p.segment);
    bool planned = false, filter_first = false;
    if (rc == CS_OK)
        rc = plan_candidates(c, &p, match, limit, stats.rows, &planned, err);
    /* A segment alone with more rows than its lists give candidates: its
     * lists rank it, as the whole table's rank an unfiltered search
     * (recall, not proof, when the page is not final). */
    bool lists_first = p.lists_pass && segment.rows > (int64_t)p.nalts * (int64_t)p.max_take;
    if (rc == CS_OK && planned && catalog_filter_active(filter) && !lists_first)
        rc = rank_filtered_rows(c, &p, stats.rows, filter, listed, &filter_first, &kept, &nkept,
                                err);
    if (rc == CS_OK && planned && !filter_first && !kept)
        rc = rank_candidates(c, &p, filter, limit, err);
    size_t found = p.nfound;
    /* the lists fell short of a page: FTS5 answers, with the filter's images
     * as a bitmap when they can be listed and are fewer than the matches */
    if (rc == CS_OK && planned && !filter_first && !kept && !p.final && found < (size_t)limit &&
        catalog_filter_narrow(filter)) {
        bool more = false;
        rc = list_filter(c, filter, listed, p.estimate, &kept, &nkept, &more, err);
        all_kept = rc == CS_OK && !more;
        if (!all_kept) {
            free(kept);
            kept = NULL;
        }
    }
    if (rc == CS_OK && planned && (all_kept || kept)) {
        rc = rank_kept(c, &p, match, stats.rows, kept, nkept, limit, ids, scores, n, err);
        *handled = rc == CS_OK;
    }
    /* a filter that keeps too few candidates may be selective: FTS5 answers */
    if (rc == CS_OK && planned && !all_kept && !kept &&
        (filter_first || p.final || !catalog_filter_active(filter) || found >= (size_t)limit)) {
        size_t keep = found < (size_t)limit ? found : (size_t)limit;
        int64_t *out_ids = keep ? malloc(keep * sizeof *out_ids) : NULL;
        double *out_scores = keep ? malloc(keep * sizeof *out_scores) : NULL;
        if (keep && (!out_ids || !out_scores)) {
            free(out_ids);
            free(out_scores);
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory collecting search results");
        } else {
            for (size_t i = 0; i < keep; i++) {
                out_ids[i] = p.found[i].id;
                out_scores[i] = p.found[i].score;
            }
            *ids = out_ids;
            *scores = out_scores;
            *n = keep;
            *handled = true;
            (*(filter_first ? &c->text_paths.filtered_rows : &c->text_paths.champion))++;
            if (!filter_first && p.segment)
                c->text_paths.segment++;
            if (!filter_first && p.final)
                c->text_paths.proven++;
        }
    }
    plan_free(&p);
    free(kept);
    return rc;
}

text_rank_counts catalog_text_rank_counts(const catalog *c)
{
    return c->text_paths;
}
