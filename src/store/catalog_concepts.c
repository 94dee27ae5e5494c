/* The zero-shot tables of the catalog (catalog_concepts.h). */
#include "store/catalog_concepts.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "store/catalog_internal.h"

cs_status catalog_each_concept_embedding(catalog *c, const char *model, catalog_concept_fn fn,
                                         void *user, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT concept, prompts, dim, data FROM concept_embeddings WHERE model = ?1",
        &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    int step;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *concept = (const char *)sqlite3_column_text(stmt, 0);
        const char *prompts = (const char *)sqlite3_column_text(stmt, 1);
        int dim = sqlite3_column_int(stmt, 2);
        const void *data = sqlite3_column_blob(stmt, 3);
        int bytes = sqlite3_column_bytes(stmt, 3);
        if (!concept || !prompts || dim <= 0 || !data || bytes != dim * (int)sizeof(float)) {
            rc = cs_error_set(err, CS_ERR_CORRUPT,
                              "catalog '%s': a concept embedding of '%s' is malformed", c->path,
                              model);
            break;
        }
        /* SQLite's blob may be unaligned for floats: the callback gets a copy */
        float *copy = malloc((size_t)bytes);
        if (!copy) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading concept embeddings");
            break;
        }
        memcpy(copy, data, (size_t)bytes);
        rc = fn(concept, prompts, dim, copy, user, err);
        free(copy);
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading concept embeddings");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_put_concept_embedding(catalog *c, const char *model, const char *concept,
                                        const char *prompts, int dim, const float *data,
                                        cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "INSERT OR REPLACE INTO concept_embeddings(model, concept, prompts, dim, data)"
        " VALUES (?1, ?2, ?3, ?4, ?5)", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, concept, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, prompts, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 4, dim);
    sqlite3_bind_blob(stmt, 5, data, dim * (int)sizeof(float), SQLITE_STATIC);
    rc = catalog_step_done(c, stmt, err, "storing a concept embedding");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_count_concept_embeddings(catalog *c, const char *model, int64_t *count,
                                           cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT count(*) FROM concept_embeddings WHERE model = ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int64(stmt, 0);
    else
        rc = catalog_sql_error(c, err, "counting concept embeddings");
    sqlite3_finalize(stmt);
    return rc;
}

/* Runs `sql` with an id and up to four texts bound (?1, ?2..?5). */
static cs_status exec_id_texts(catalog *c, const char *sql, int64_t id, const char *const *texts,
                               int ntexts, cs_error *err, const char *what)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, sql, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    for (int i = 0; i < ntexts; i++)
        sqlite3_bind_text(stmt, 2 + i, texts[i], -1, SQLITE_STATIC);
    rc = catalog_step_done(c, stmt, err, what);
    sqlite3_finalize(stmt);
    return rc;
}

/* Copies column `col` of the statement's row (NULL -> ""). */
static char *column_copy(sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    return strdup(text ? text : "");
}

/* The caption row's caption and tags, and the zero-shot sentence and words
 * an earlier run put there ("" when none). *found: the caption row exists. */
static cs_status read_current(catalog *c, int64_t id, char *out[4], bool *found, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT c.caption, c.tags, coalesce(z.sentence, ''), coalesce(z.words, '')"
        " FROM captions c LEFT JOIN zeroshot z ON z.image_id = c.image_id"
        " WHERE c.image_id = ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    *found = step == SQLITE_ROW;
    if (*found) {
        for (int i = 0; i < 4; i++)
            if (!(out[i] = column_copy(stmt, i)))
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    } else if (step != SQLITE_DONE) {
        rc = catalog_sql_error(c, err, "reading a caption");
    }
    sqlite3_finalize(stmt);
    return rc;
}

/* text without `prefix` + ' ' at its start (or without all of it). */
static const char *strip_front(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    if (n && strncmp(text, prefix, n) == 0 && (text[n] == ' ' || text[n] == '\0'))
        return text + n + (text[n] == ' ');
    return text;
}

/* Bytes of text to keep without ' ' + suffix (or all of it) at its end. */
static size_t strip_back(const char *text, const char *suffix)
{
    size_t t = strlen(text), n = strlen(suffix);
    if (n && t >= n && strcmp(text + t - n, suffix) == 0 &&
        (t == n || text[t - n - 1] == ' '))
        return t == n ? 0 : t - n - 1;
    return t;
}

static cs_status update_caption(catalog *c, int64_t id, const catalog_zeroshot *z, char *cur[4],
                                cs_error *err)
{
    const char *base = strip_front(cur[0], cur[2]);
    size_t keep = strip_back(cur[1], cur[3]);
    strbuf caption, tags;
    strbuf_init(&caption);
    strbuf_init(&tags);
    strbuf_append(&caption, z->sentence);
    if (z->sentence[0] && base[0])
        strbuf_append_char(&caption, ' ');
    strbuf_append(&caption, base);
    strbuf_append_n(&tags, cur[1], keep);
    if (keep && z->words[0])
        strbuf_append_char(&tags, ' ');
    strbuf_append(&tags, z->words);
    cs_status rc = CS_OK;
    if (strbuf_failed(&caption) || strbuf_failed(&tags))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    const char *texts[] = {strbuf_str(&caption), strbuf_str(&tags), z->related};
    /* one statement (the trigger rewrites the FTS row), skipped when
     * nothing changes; a NULL ?4 keeps the related words */
    if (rc == CS_OK)
        rc = exec_id_texts(c, "UPDATE captions SET caption = ?2, tags = ?3,"
                              " related = coalesce(?4, related) WHERE image_id = ?1"
                              " AND (caption IS NOT ?2 OR tags IS NOT ?3"
                              " OR related IS NOT coalesce(?4, related))",
                           id, texts, 3, err, "writing a zero-shot caption");
    strbuf_free(&caption);
    strbuf_free(&tags);
    return rc;
}

cs_status catalog_set_zeroshot(catalog *c, int64_t id, const catalog_zeroshot *z,
                               cs_error *err)
{
    char *cur[4] = {0};
    bool found = false;
    cs_status rc = read_current(c, id, cur, &found, err);
    if (rc == CS_OK && found)
        rc = update_caption(c, id, z, cur, err);
    for (int i = 0; i < 4; i++)
        free(cur[i]);
    if (rc == CS_OK)
        rc = exec_id_texts(c, "DELETE FROM tags WHERE image_id = ?1 AND kind = 'concept'", id,
                           NULL, 0, err, "replacing concept tags");
    sqlite3_stmt *stmt = NULL;
    for (size_t i = 0; rc == CS_OK && i < z->ntags; i++) {
        rc = catalog_stmt(c, STMT_INSERT_TAG, &stmt, err);
        if (rc != CS_OK)
            break;
        sqlite3_bind_int64(stmt, 1, id);
        sqlite3_bind_text(stmt, 2, z->tags[i].tag, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, z->tags[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 4, z->tags[i].score);
        rc = catalog_step_done(c, stmt, err, "storing a concept tag");
    }
    const char *texts[] = {z->model, z->sentence, z->words};
    if (rc == CS_OK && found)
        rc = exec_id_texts(c, "INSERT OR REPLACE INTO zeroshot(image_id, model, sentence, words)"
                              " VALUES (?1, ?2, ?3, ?4)", id, texts, 3, err,
                           "recording a zero-shot caption");
    return rc;
}

cs_status catalog_zeroshot_ids(catalog *c, const char *model, int64_t **ids, size_t *n,
                               cs_error *err)
{
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT image_id FROM zeroshot WHERE model = ?1 ORDER BY image_id", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, model, -1, SQLITE_STATIC);
    size_t cap = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ARRAY_RESERVE(*ids, cap, *n)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            break;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(stmt, 0);
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing zero-shot captions");
    sqlite3_finalize(stmt);
    if (rc != CS_OK) {
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}
