/* Reading the catalog: embeddings, full-text search, result details, stats,
 * error records and perceptual hashes. */
#include "image/image.h"   /* CS_LAYOUT_MODEL_ID, the model of a new library */
#include "store/catalog_internal.h"
#include "store/fts_bm25.h"
#include "store/fts_expr.h"

#include "common/array.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


/* Growable array of int64 (+ optional double) used by the list readers. */
typedef struct id_list {
    int64_t *ids;
    double *scores;
    size_t n, cap;
} id_list;

static bool id_list_push(id_list *l, int64_t id, const double *score)
{
    size_t cap = l->cap;
    if (!ARRAY_RESERVE(l->ids, cap, l->n))
        return false;
    if (score && !ARRAY_RESERVE(l->scores, l->cap, l->n))
        return false;
    l->cap = cap;
    l->ids[l->n] = id;
    if (score)
        l->scores[l->n] = *score;
    l->n++;
    return true;
}

static void id_list_free(id_list *l)
{
    free(l->ids);
    free(l->scores);
    memset(l, 0, sizeof *l);
}

cs_status catalog_embedding_ids(catalog *c, const char *model, int64_t **ids,
                                size_t *n, cs_error *err)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT image_id FROM embeddings WHERE model = ?1 ORDER BY image_id", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    id_list list = {0};
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!id_list_push(&list, sqlite3_column_int64(stmt, 0), NULL)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing embeddings");
            break;
        }
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing embeddings");
    sqlite3_finalize(stmt);
    if (rc != CS_OK) {
        id_list_free(&list);
        return rc;
    }
    *ids = list.ids;
    *n = list.n;
    return CS_OK;
}

cs_status catalog_embedding_dim(catalog *c, const char *model, int *dim, cs_error *err)
{
    *dim = 0;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT dim FROM embeddings WHERE model = ?1 LIMIT 1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *dim = sqlite3_column_int(stmt, 0);
    else if (step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading the embedding size");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_get_embedding(catalog *c, int64_t id, const char *model, int dim,
                                float *out, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_GET_EMBEDDING, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, model, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        int stored_dim = sqlite3_column_int(stmt, 0);
        const void *blob = sqlite3_column_blob(stmt, 1);
        size_t bytes = (size_t)sqlite3_column_bytes(stmt, 1);
        if (stored_dim != dim || bytes != (size_t)dim * sizeof(float) || !blob)
            rc = cs_error_set(err, CS_ERR_CORRUPT,
                              "embedding of image %lld (model %s) has %zu bytes, expected %d floats",
                              (long long)id, model, bytes, dim);
        else
            memcpy(out, blob, bytes);
    } else if (step == SQLITE_DONE) {
        rc = cs_error_set(err, CS_ERR_NOT_FOUND, "image %lld has no embedding for model %s",
                          (long long)id, model);
    } else {
        rc = catalog_sql_error(c, err, "reading an embedding");
    }
    sqlite3_reset(stmt);   /* cached: reset ends its read */
    return rc;
}

cs_status catalog_each_embedding(catalog *c, const char *model, catalog_embedding_fn fn,
                                 void *user, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT image_id, dim, data FROM embeddings WHERE model = ?1 ORDER BY image_id",
        &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    int step = SQLITE_DONE;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(stmt, 0);
        int dim = sqlite3_column_int(stmt, 1);
        const void *blob = sqlite3_column_blob(stmt, 2);
        size_t bytes = (size_t)sqlite3_column_bytes(stmt, 2);
        if (dim <= 0 || !blob || bytes != (size_t)dim * sizeof(float)) {
            rc = cs_error_set(err, CS_ERR_CORRUPT,
                              "embedding of image %lld (model %s) has %zu bytes for %d floats",
                              (long long)id, model, bytes, dim);
            break;
        }
        /* SQLite blobs are not guaranteed float-aligned: copy. */
        float *data = malloc(bytes);
        if (!data) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading embeddings");
            break;
        }
        memcpy(data, blob, bytes);
        rc = fn(id, data, dim, user, err);
        free(data);
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading embeddings");
    sqlite3_finalize(stmt);
    return rc;
}

size_t catalog_filter_folder_len(const cs_filter *f)
{
    if (!f || !f->folder || !*f->folder)
        return 0;
    size_t n = strlen(f->folder);
    while (n > 1 && f->folder[n - 1] == '/')
        n--;
    return n == 1 && f->folder[0] == '/' ? 0 : n;
}

void catalog_bind_filter(sqlite3_stmt *stmt, const cs_filter *f)
{
    if (!f)
        return;
    size_t folder_len = catalog_filter_folder_len(f);
    if (folder_len)
        sqlite3_bind_text(stmt, 10, f->folder, (int)folder_len, SQLITE_TRANSIENT);
    if (f->has_from)
        sqlite3_bind_int64(stmt, 11, f->from);
    if (f->has_to)
        sqlite3_bind_int64(stmt, 12, f->to);
    if (f->type && *f->type)
        sqlite3_bind_text(stmt, 13, f->type, -1, SQLITE_TRANSIENT);
    if (f->camera && *f->camera)
        sqlite3_bind_text(stmt, 14, f->camera, -1, SQLITE_TRANSIENT);
    if (f->has_text)
        sqlite3_bind_int(stmt, 15, 1);
    if (f->has_faces)
        sqlite3_bind_int(stmt, 16, 1);
}

bool catalog_filter_active(const cs_filter *f)
{
    return f && ((f->folder && *f->folder) || f->has_from || f->has_to ||
                 (f->type && *f->type) || (f->camera && *f->camera) || f->has_text ||
                 f->has_faces);
}

cs_status catalog_filter_drop_whole(catalog *c, cs_filter *filter, cs_error *err)
{
    if (!filter || (!catalog_filter_folder_len(filter) && !(filter->type && *filter->type)))
        return CS_OK;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_FILTER_PARTS_WHOLE, &stmt, err);
    if (rc != CS_OK)
        return rc;
    catalog_bind_filter(stmt, filter);
    if (sqlite3_step(stmt) != SQLITE_ROW) {
        rc = catalog_sql_error(c, err, "checking the filter's folder and type");
    } else {
        if (sqlite3_column_int(stmt, 0))
            filter->folder = NULL;
        if (sqlite3_column_int(stmt, 1))
            filter->type = NULL;
    }
    sqlite3_reset(stmt);
    return rc;
}

static void kept_function(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const id_bitmap *set = sqlite3_value_pointer(argv[0], ID_BITMAP_POINTER);
    sqlite3_int64 id = sqlite3_value_int64(argv[1]);
    sqlite3_result_int(ctx, set && id >= 0 && id < set->nbits &&
                                (set->words[id >> 6] >> (id & 63) & 1u));
}

cs_status catalog_register_functions(catalog *c, cs_error *err)
{
    if (sqlite3_create_function_v2(c->db, "cs_kept", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, NULL,
                                   kept_function, NULL, NULL, NULL) != SQLITE_OK)
        return catalog_sql_error(c, err, "registering the catalog's SQL functions");
    return fts_bm25_register(c->db, err);
}

cs_status catalog_fts_search(catalog *c, const char *match, const cs_filter *filter,
                             int limit, int64_t **ids, double **scores, size_t *n,
                             cs_error *err)
{
    return catalog_fts_search_listed(c, match, filter, NULL, limit, ids, scores, n, err);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

bool catalog_listed_has(const catalog_listed *listed, int64_t id)
{
    return listed->n > 0 &&
           bsearch(&id, listed->ids, listed->n, sizeof *listed->ids, cmp_id) != NULL;
}

/* The (id, score) rows of a cached statement, in its order; *ids and
 * *scores malloc'd. Reset after reading, so its read ends. */
static cs_status read_ranked(catalog *c, sqlite3_stmt *stmt, const char *what, int64_t **ids,
                             double **scores, size_t *n, cs_error *err)
{
    id_list list = {0};
    cs_status rc = CS_OK;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        double score = sqlite3_column_double(stmt, 1);
        if (!id_list_push(&list, sqlite3_column_int64(stmt, 0), &score)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory %s", what);
            break;
        }
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, what);
    sqlite3_reset(stmt);
    if (rc != CS_OK) {
        id_list_free(&list);
        return rc;
    }
    *ids = list.ids;
    *scores = list.scores;
    *n = list.n;
    return CS_OK;
}

cs_status catalog_fts_search_listed(catalog *c, const char *match, const cs_filter *filter,
                                    const catalog_listed *listed, int limit, int64_t **ids,
                                    double **scores, size_t *n, cs_error *err)
{
    *ids = NULL;
    *scores = NULL;
    *n = 0;
    /* Common words at scale: their champion lists (text_champions.h). */
    bool handled = false;
    cs_status ranked = text_rank_search(c, match, filter, listed, limit, &handled, ids, scores,
                                        n, err);
    if (ranked != CS_OK || handled)
        return ranked;
    /* Without a filter the join to images is skipped: it costs a lookup per
     * matching document. */
    bool filtered = catalog_filter_active(filter);
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, filtered ? STMT_FTS_SEARCH_FILTERED : STMT_FTS_SEARCH, &stmt,
                                err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 2, limit);
    if (filtered)
        catalog_bind_filter(stmt, filter);
    rc = read_ranked(c, stmt, "running the text search", ids, scores, n, err);
    if (rc == CS_OK && filtered)
        c->text_paths.joined++;
    return rc;
}

/* A listing checks its excluded words on each picture's own text, newest
 * first (catalog_eval_row: about TEXT_SCORE_ROW_NS a picture), while that
 * reads at most WALK_ROWS_PER_WANTED rows a wanted picture plus
 * WALK_ROWS_EXTRA. Past
 * that, and for pages deeper than WALK_LIMIT_MAX, SQLite lists every match
 * of the excluded words once (NOT IN): about 0.2 us a match, 60-100 ms for
 * a word in a third of a million captions. */
#define WALK_ROWS_EXTRA 1000
#define WALK_ROWS_PER_WANTED 2
#define WALK_LIMIT_MAX 2000

static cs_status browse_statement(catalog *c, const cs_filter *filter, int limit,
                                  sqlite3_stmt **stmt, cs_error *err)
{
    catalog_stmt_id which = STMT_BROWSE;
    if (catalog_filter_folder_len(filter))
        which = STMT_BROWSE_IN_FOLDER;
    else if (filter && (filter->has_from || filter->has_to))
        which = STMT_BROWSE_IN_DATES;
    cs_status rc = catalog_stmt(c, which, stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int(*stmt, 1, limit);
    catalog_bind_filter(*stmt, filter);
    return CS_OK;
}

/* The listing without the pictures matching `e`, checked one by one; *done
 * false (nothing returned) when the budget of rows ran out first. */
static cs_status browse_walk(catalog *c, const fts_expr *e, const cs_filter *filter, int limit,
                             id_list *out, bool *done, cs_error *err)
{
    *done = false;
    int budget = WALK_ROWS_EXTRA + WALK_ROWS_PER_WANTED * limit;
    sqlite3_stmt *stmt;
    cs_status rc = browse_statement(c, filter, budget, &stmt, err);
    if (rc != CS_OK)
        return rc;
    fts_token_list cols[FTS_NCOLUMNS] = {0};
    double freq[FTS_EXPR_MAX_PHRASES], doc_len;
    int rows = 0, step = SQLITE_DONE;
    while (rc == CS_OK && (int)out->n < limit && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        rows++;
        int64_t id = sqlite3_column_int64(stmt, 0);
        double taken = sqlite3_column_double(stmt, 1);
        bool excluded = false;
        rc = catalog_eval_row(c, e, id, cols, &excluded, freq, &doc_len, err);
        if (rc == CS_OK && !excluded && !id_list_push(out, id, &taken))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing the pictures");
    }
    if (rc == CS_OK && step != SQLITE_ROW && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing the pictures newest first");
    sqlite3_reset(stmt);
    for (int col = 0; col < FTS_NCOLUMNS; col++)
        fts_token_list_free(&cols[col]);
    /* every picture read, the page filled, or the budget spent first */
    *done = rc == CS_OK && ((int)out->n == limit || rows < budget);
    return rc;
}

/* `match` parsed for catalog_eval_row; *e NULL (and CS_OK) for syntax
 * fts_expr does not evaluate. */
static cs_status parse_match(catalog *c, const char *match, fts_expr **e, cs_error *err)
{
    *e = NULL;
    fts_tokenizer *tok;
    cs_status rc = catalog_tokenizer(c, &tok, err);
    cs_error parse_err;
    if (rc == CS_OK &&
        fts_expr_parse(tok, match, fts_column_names, FTS_NCOLUMNS, e, &parse_err) != CS_OK)
        *e = NULL;
    return rc;
}

cs_status catalog_browse(catalog *c, const char *excluded, const cs_filter *filter, int limit,
                         int64_t **ids, double **taken, size_t *n, cs_error *err)
{
    *ids = NULL;
    *taken = NULL;
    *n = 0;
    fts_expr *e = NULL;
    cs_status rc = excluded && limit <= WALK_LIMIT_MAX ? parse_match(c, excluded, &e, err) : CS_OK;
    if (rc != CS_OK)
        return rc;
    if (e) {
        id_list list = {0};
        bool done = false;
        rc = browse_walk(c, e, filter, limit, &list, &done, err);
        fts_expr_free(e);
        if (rc == CS_OK && done) {
            c->text_paths.listing_walked++;
            *ids = list.ids;
            *taken = list.scores;
            *n = list.n;
            return CS_OK;
        }
        id_list_free(&list);
        if (rc != CS_OK)
            return rc;
    }
    sqlite3_stmt *stmt;
    rc = browse_statement(c, filter, limit, &stmt, err);
    if (rc != CS_OK)
        return rc;
    if (excluded) {
        sqlite3_bind_text(stmt, 3, excluded, -1, SQLITE_STATIC);
        c->text_paths.listing_not_in++;
    }
    return read_ranked(c, stmt, "listing the pictures newest first", ids, taken, n, err);
}

cs_status catalog_drop_matching(catalog *c, const char *match, int64_t *ids, double *scores,
                                size_t *n, cs_error *err)
{
    fts_expr *e;
    cs_status rc = parse_match(c, match, &e, err);
    sqlite3_stmt *stmt = NULL;
    if (rc == CS_OK && !e)   /* not evaluated here: FTS5 checks each row */
        rc = catalog_prepare(c, "SELECT 1 FROM captions_fts WHERE captions_fts MATCH ?1"
                                " AND rowid = ?2", &stmt, err);
    if (stmt)
        sqlite3_bind_text(stmt, 1, match, -1, SQLITE_STATIC);
    fts_token_list cols[FTS_NCOLUMNS] = {0};
    double freq[FTS_EXPR_MAX_PHRASES], doc_len;
    size_t kept = 0;
    for (size_t i = 0; rc == CS_OK && i < *n; i++) {
        bool matched = false;
        if (e) {
            rc = catalog_eval_row(c, e, ids[i], cols, &matched, freq, &doc_len, err);
        } else {
            sqlite3_bind_int64(stmt, 2, ids[i]);
            int step = sqlite3_step(stmt);
            matched = step == SQLITE_ROW;
            if (step != SQLITE_ROW && step != SQLITE_DONE)
                rc = catalog_sql_error(c, err, "checking a picture's words");
            sqlite3_reset(stmt);
        }
        if (rc == CS_OK && !matched) {
            ids[kept] = ids[i];
            scores[kept++] = scores[i];
        }
    }
    for (int col = 0; col < FTS_NCOLUMNS; col++)
        fts_token_list_free(&cols[col]);
    fts_expr_free(e);
    sqlite3_finalize(stmt);
    if (rc == CS_OK)
        *n = kept;
    return rc;
}

/* Whether the filter asks only for faces and text read in the picture. */
static bool faces_and_text_only(const cs_filter *f)
{
    return (f->has_faces || f->has_text) && !catalog_filter_folder_len(f) && !f->has_from &&
           !f->has_to && !(f->type && *f->type) && !(f->camera && *f->camera);
}

/* One row of a cached statement taking the image id (and the filter's
 * parameters, may be NULL), or none. */
static cs_status probe(catalog *c, catalog_stmt_id which, int64_t id, const cs_filter *filter,
                       bool *found, cs_error *err)
{
    *found = false;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, which, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    catalog_bind_filter(stmt, filter);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *found = true;
    else if (step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "checking a filter");
    sqlite3_reset(stmt);   /* cached: reset ends its read */
    return rc;
}

cs_status catalog_filter_matches(catalog *c, int64_t id, const cs_filter *filter,
                                 bool *matches, cs_error *err)
{
    *matches = false;
    if (filter && faces_and_text_only(filter)) {
        /* a face tag or read text implies the image exists */
        bool face = true, text = true;
        cs_status rc = filter->has_faces ? probe(c, STMT_HAS_FACE, id, NULL, &face, err) : CS_OK;
        if (rc == CS_OK && face && filter->has_text)
            rc = probe(c, STMT_HAS_TEXT, id, NULL, &text, err);
        *matches = rc == CS_OK && face && text;
        return rc;
    }
    return probe(c, STMT_FILTER_MATCHES, id, filter, matches, err);
}

/* The statements listing a filter's images from the index of one of its
 * parts (folder, dates, faces, text, type: a camera has none); returns how
 * many, at most NARROW_PARTS. */
#define NARROW_PARTS 5
static int narrow_statements(const cs_filter *f, int out[NARROW_PARTS])
{
    int n = 0;
    if (catalog_filter_folder_len(f))
        out[n++] = STMT_FILTER_IDS_IN_FOLDER;
    if (f && (f->has_from || f->has_to))
        out[n++] = STMT_FILTER_IDS_IN_DATES;
    if (f && f->has_faces)
        out[n++] = STMT_FILTER_IDS_WITH_FACES;
    if (f && f->has_text)
        out[n++] = STMT_FILTER_IDS_WITH_TEXT;
    if (f && f->type && *f->type)
        out[n++] = STMT_FILTER_IDS_OF_TYPE;
    return n;
}

bool catalog_filter_narrow(const cs_filter *filter)
{
    int parts[NARROW_PARTS];
    return narrow_statements(filter, parts) > 0;
}

/* The statement listing the images of one narrow part alone, from its
 * index only (no image row read). */
static int part_alone(int which)
{
    return which - STMT_FILTER_IDS_IN_FOLDER + STMT_FILTER_ONLY_IN_FOLDER;
}

/* Whether the part alone surely keeps more than max images: the faces,
 * text, type and folder parts, and dates that are one calendar year or
 * month, are segments whose rows may be known (text_segment_above). */
static cs_status part_above(catalog *c, const cs_filter *filter, int which, int64_t max,
                            bool *above, cs_error *err)
{
    *above = false;
    char name[TEXT_SEGMENT_NAME_MAX];
    int len = which == STMT_FILTER_IDS_WITH_FACES ? snprintf(name, sizeof name, "faces")
              : which == STMT_FILTER_IDS_WITH_TEXT ? snprintf(name, sizeof name, "text")
              : which == STMT_FILTER_IDS_OF_TYPE
                  ? snprintf(name, sizeof name, "type:%s", filter->type)
              : which == STMT_FILTER_IDS_IN_FOLDER
                  ? snprintf(name, sizeof name, "folder:%.*s",
                             (int)catalog_filter_folder_len(filter), filter->folder)
                  : -1;
    if (which == STMT_FILTER_IDS_IN_DATES && text_segment_dates_name(filter, name, sizeof name))
        len = (int)strlen(name);
    if (len < 0 || (size_t)len >= sizeof name)
        return CS_OK;   /* no segment, or a name no segment has */
    return text_segment_above(c, name, max, above, err);
}

/* An upper bound on how many images a narrow filter keeps: the rows of one
 * of its parts alone, counted up to max + 1. */
static cs_status narrow_bound(catalog *c, const cs_filter *filter, int which, int64_t max,
                              int64_t *bound, cs_error *err)
{
    bool above = false;
    cs_status rc = part_above(c, filter, which, max, &above, err);
    if (rc != CS_OK || above) {
        *bound = max + 1;
        return rc;
    }
    sqlite3_stmt *stmt;
    rc = catalog_stmt(c, part_alone(which), &stmt, err);
    if (rc != CS_OK)
        return rc;
    catalog_bind_filter(stmt, filter);   /* parameters it lacks are ignored */
    sqlite3_bind_int64(stmt, 1, max + 1);
    int step;
    *bound = 0;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW)
        (*bound)++;
    if (step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "counting the images a filter keeps");
    sqlite3_reset(stmt);   /* cached: reset ends its read */
    return rc;
}

/* A camera alone. A library holds few distinct camera texts: they are
 * read one seek each from images_camera, at most CAMERA_TEXTS_MAX of them,
 * and the pictures of those holding the needle are read by their ranges
 * of the index (*handled). With more texts than that, the caller scans the
 * index, testing every entry (0.15 s at a million pictures). */
#define CAMERA_TEXTS_MAX 256

static cs_status camera_texts(catalog *c, char **texts, int *ntexts, bool *all, cs_error *err)
{
    *ntexts = 0;
    *all = false;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_CAMERA_NEXT, &stmt, err);
    if (rc != CS_OK)
        return rc;
    const char *after = "";
    while (rc == CS_OK) {
        sqlite3_bind_text(stmt, 1, after, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(stmt) != SQLITE_ROW) {
            rc = catalog_sql_error(c, err, "reading the camera names");
            break;
        }
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        if (!text) {
            *all = true;   /* past the last one */
            break;
        }
        if (*ntexts == CAMERA_TEXTS_MAX)
            break;
        if (!(texts[*ntexts] = strdup(text))) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the camera names");
            break;
        }
        after = texts[(*ntexts)++];
        sqlite3_reset(stmt);
    }
    sqlite3_reset(stmt);
    return rc;
}

static cs_status camera_ids(catalog *c, const char *needle, id_list *list, bool *handled,
                            cs_error *err)
{
    *handled = false;
    char *texts[CAMERA_TEXTS_MAX];
    int ntexts = 0;
    bool all = false;
    char *lower = strdup(needle);
    cs_status rc = lower ? camera_texts(c, texts, &ntexts, &all, err)
                         : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (char *p = lower; p && *p; p++)   /* as SQLite's lower(): ASCII only */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    sqlite3_stmt *stmt = NULL;
    if (rc == CS_OK && all)
        rc = catalog_stmt(c, STMT_CAMERA_IDS, &stmt, err);
    for (int t = 0; rc == CS_OK && all && t < ntexts; t++) {
        if (!strstr(texts[t], lower))
            continue;
        sqlite3_bind_text(stmt, 1, texts[t], -1, SQLITE_STATIC);
        int step;
        while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW)
            if (!id_list_push(list, sqlite3_column_int64(stmt, 0), NULL))
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing a camera's pictures");
        if (rc == CS_OK && step != SQLITE_DONE)
            rc = catalog_sql_error(c, err, "listing a camera's pictures");
        sqlite3_reset(stmt);
    }
    for (int t = 0; t < ntexts; t++)
        free(texts[t]);
    free(lower);
    *handled = rc == CS_OK && all;
    if (*handled)
        c->text_paths.camera_by_names++;
    return rc;
}

cs_status catalog_filter_ids(catalog *c, const cs_filter *filter, int64_t max, int64_t **ids,
                             size_t *n, bool *more, cs_error *err)
{
    *ids = NULL;
    *n = 0;
    if (more)
        *more = false;
    int parts[NARROW_PARTS];
    int nparts = narrow_statements(filter, parts);
    int which = nparts ? parts[0] : STMT_FILTER_IDS;
    bool camera = filter && filter->camera && *filter->camera;
    bool alone = nparts == 1 && !camera;   /* the listing is its own bound */
    cs_status rc = CS_OK;
    if (nparts && !alone && max >= 0 && max < INT64_MAX) {
        /* The part whose index holds the fewest rows; a filter broader than
         * max is found out by the indexes alone, before any row is read. */
        int64_t least = INT64_MAX;
        for (int k = 0; rc == CS_OK && k < nparts; k++) {
            int64_t bound = 0;
            rc = narrow_bound(c, filter, parts[k], max, &bound, err);
            if (rc == CS_OK && bound < least) {
                least = bound;
                which = parts[k];
            }
        }
        if (rc != CS_OK || least > max) {
            if (more)
                *more = rc == CS_OK;
            return rc;
        }
    }
    if (alone && max >= 0 && max < INT64_MAX) {
        bool above = false;
        rc = part_above(c, filter, which, max, &above, err);
        if (rc != CS_OK || above) {
            if (more)
                *more = rc == CS_OK;
            return rc;
        }
    }
    id_list list = {0};
    bool by_names = false;
    if (alone)
        which = part_alone(which);
    else if (nparts == 0 && camera)
        rc = camera_ids(c, filter->camera, &list, &by_names, err);
    if (rc == CS_OK && nparts == 0 && camera && !by_names)
        which = STMT_FILTER_ONLY_CAMERA;   /* the camera is the whole filter */
    sqlite3_stmt *stmt = NULL;
    if (rc == CS_OK && !by_names)
        rc = catalog_stmt(c, which, &stmt, err);
    if (rc != CS_OK) {
        id_list_free(&list);
        return rc;
    }
    if (by_names && max >= 0 && list.n > (size_t)max) {
        list.n = (size_t)max;
        if (more)
            *more = true;
    }
    if (!by_names) {
        catalog_bind_filter(stmt, filter);
        /* one row past max tells whether there are more */
        sqlite3_bind_int64(stmt, 1, max >= 0 && max < INT64_MAX ? max + 1 : -1);
    }
    int step = SQLITE_DONE;
    while (stmt && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (max >= 0 && list.n == (size_t)max) {
            if (more)
                *more = true;
            step = SQLITE_DONE;
            break;
        }
        if (!id_list_push(&list, sqlite3_column_int64(stmt, 0), NULL)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing the images a filter "
                              "keeps");
            break;
        }
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing the images a filter keeps");
    if (stmt)
        sqlite3_reset(stmt);   /* cached: reset ends its read */
    if (rc != CS_OK) {
        id_list_free(&list);
        return rc;
    }
    /* rows come in the order of the index that found them: already
     * ascending when the folders were indexed in the order of their names */
    size_t sorted = 1;
    while (sorted < list.n && list.ids[sorted - 1] < list.ids[sorted])
        sorted++;
    if (sorted < list.n)
        qsort(list.ids, list.n, sizeof *list.ids, cmp_id);
    *ids = list.ids;
    *n = list.n;
    return CS_OK;
}

static char *dup_column(sqlite3_stmt *stmt, int col, bool *oom)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    char *copy = strdup(text ? text : "");
    if (!copy)
        *oom = true;
    return copy;
}

cs_status catalog_fill_result(catalog *c, int64_t id, cs_result *out, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_FILL_RESULT, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        bool oom = false;
        out->id = id;
        out->path = dup_column(stmt, 0, &oom);
        out->width = sqlite3_column_int(stmt, 1);
        out->height = sqlite3_column_int(stmt, 2);
        out->taken_at = sqlite3_column_int64(stmt, 3);
        out->caption = dup_column(stmt, 4, &oom);
        out->tags = dup_column(stmt, 5, &oom);
        if (oom)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading a result");
    } else if (step == SQLITE_DONE) {
        rc = cs_error_set(err, CS_ERR_NOT_FOUND, "no image with id %lld", (long long)id);
    } else {
        rc = catalog_sql_error(c, err, "reading a result");
    }
    sqlite3_reset(stmt);   /* cached: reset ends its read */
    return rc;
}

static cs_status query_int64(catalog *c, const char *sql, int64_t *out, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, sql, &stmt, err);
    if (rc != CS_OK)
        return rc;
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW)
        *out = sqlite3_column_int64(stmt, 0);
    else
        rc = catalog_sql_error(c, err, "reading statistics");
    sqlite3_finalize(stmt);
    return rc;
}

static int64_t file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

cs_status catalog_stats(catalog *c, cs_stats *out, cs_error *err)
{
    cs_status rc = query_int64(c, "SELECT count(*) FROM images", &out->images, err);
    if (rc == CS_OK)
        rc = query_int64(c, "SELECT count(*) FROM embeddings WHERE model = coalesce("
                            "(SELECT value FROM meta WHERE key = 'embedding_model'), '"
                            CS_LAYOUT_MODEL_ID "')", &out->embeddings, err);
    if (rc == CS_OK)
        rc = query_int64(c, "SELECT count(*) FROM errors", &out->errors, err);
    if (rc == CS_OK)
        rc = query_int64(c, "SELECT coalesce(sum(size), 0) FROM images", &out->total_image_bytes, err);
    if (rc == CS_OK)
        rc = catalog_generation(c, &out->generation, err);
    if (rc != CS_OK)
        return rc;
    out->schema_version = c->schema_version;
    size_t n = strlen(c->path);
    char *wal = malloc(n + 5);
    if (!wal)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    memcpy(wal, c->path, n);
    memcpy(wal + n, "-wal", 5);
    out->catalog_bytes = file_bytes(c->path) + file_bytes(wal);
    free(wal);
    return CS_OK;
}

cs_status catalog_errors(catalog *c, cs_error_list **out, cs_error *err)
{
    *out = NULL;
    cs_error_list *list = calloc(1, sizeof *list);
    if (!list)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT path, reason, at FROM errors ORDER BY path", &stmt, err);
    size_t cap = 0;
    int step = SQLITE_DONE;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ARRAY_RESERVE(list->items, cap, list->count)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing errors");
            break;
        }
        bool oom = false;
        cs_error_entry *e = &list->items[list->count++];
        e->path = dup_column(stmt, 0, &oom);
        e->reason = dup_column(stmt, 1, &oom);
        e->at = sqlite3_column_int64(stmt, 2);
        if (oom)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory listing errors");
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing errors");
    sqlite3_finalize(stmt);
    if (rc != CS_OK) {
        cs_error_list_free(list);
        return rc;
    }
    *out = list;
    return CS_OK;
}

void cs_error_list_free(cs_error_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++) {
        free(list->items[i].path);
        free(list->items[i].reason);
    }
    free(list->items);
    free(list);
}

cs_status catalog_phashes(catalog *c, catalog_phash **out, size_t *n, cs_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT id, phash FROM images WHERE phash IS NOT NULL ORDER BY id", &stmt, err);
    if (rc != CS_OK)
        return rc;
    catalog_phash *items = NULL;
    size_t count = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ARRAY_RESERVE(items, cap, count)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading hashes");
            break;
        }
        items[count].id = sqlite3_column_int64(stmt, 0);
        items[count].phash = (uint64_t)sqlite3_column_int64(stmt, 1);
        count++;
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading hashes");
    sqlite3_finalize(stmt);
    if (rc != CS_OK) {
        free(items);
        return rc;
    }
    *out = items;
    *n = count;
    return CS_OK;
}

cs_status catalog_image_path(catalog *c, int64_t id, char **path, cs_error *err)
{
    *path = NULL;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT path FROM images WHERE id = ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        bool oom = false;
        *path = dup_column(stmt, 0, &oom);
        if (oom)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    } else if (step == SQLITE_DONE) {
        rc = cs_error_set(err, CS_ERR_NOT_FOUND, "no image with id %lld", (long long)id);
    } else {
        rc = catalog_sql_error(c, err, "reading a path");
    }
    sqlite3_finalize(stmt);
    return rc;
}
