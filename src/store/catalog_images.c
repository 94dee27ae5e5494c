/* Writing images, their text, tags and embeddings; error records; the walks
 * change detection uses. */
#include "store/catalog_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/array.h"

/* The id of the image stored at path, 0 when none. */
static cs_status find_path(catalog *c, const char *path, int64_t *id, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_FIND_PATH, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    *id = step == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "looking up a path");
    sqlite3_reset(stmt);
    return rc;
}

cs_status catalog_delete_image(catalog *c, int64_t id, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_DELETE_IMAGE, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    /* captions (and through their trigger the FTS rows), tags and embeddings
     * go with it by ON DELETE CASCADE. */
    return catalog_step_done(c, stmt, err, "deleting an image");
}

cs_status catalog_delete_error(catalog *c, const char *path, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_DELETE_ERROR, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
    return catalog_step_done(c, stmt, err, "clearing an error record");
}

static cs_status replace_path(catalog *c, const char *path, cs_error *err)
{
    int64_t old = 0;
    cs_status rc = find_path(c, path, &old, err);
    if (rc == CS_OK && old)
        rc = catalog_delete_image(c, old, err);
    if (rc == CS_OK)
        rc = catalog_delete_error(c, path, err);
    return rc;
}

static cs_status insert_image_row(catalog *c, const catalog_image *im, int64_t *id, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_INSERT_IMAGE, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, im->path, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, im->folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, im->size);
    sqlite3_bind_int64(stmt, 4, im->mtime_ns);
    sqlite3_bind_text(stmt, 5, im->content_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 6, im->width);
    sqlite3_bind_int(stmt, 7, im->height);
    sqlite3_bind_text(stmt, 8, im->format, -1, SQLITE_STATIC);
    if (im->has_taken_at)
        sqlite3_bind_int64(stmt, 9, im->taken_at);
    catalog_bind_text_or_null(stmt, 10, im->camera_make);
    catalog_bind_text_or_null(stmt, 11, im->camera_model);
    if (im->has_gps) {
        sqlite3_bind_double(stmt, 12, im->gps_lat);
        sqlite3_bind_double(stmt, 13, im->gps_lon);
    }
    sqlite3_bind_int64(stmt, 14, (sqlite3_int64)time(NULL));
    if (im->has_phash)
        sqlite3_bind_int64(stmt, 15, (sqlite3_int64)im->phash); /* bits kept as signed */
    rc = catalog_step_done(c, stmt, err, "inserting an image");
    if (rc == CS_OK)
        *id = sqlite3_last_insert_rowid(c->db);
    return rc;
}

static cs_status insert_caption(catalog *c, int64_t id, const catalog_text *t, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_INSERT_CAPTION, &stmt, err);
    if (rc != CS_OK)
        return rc;
    const char *cols[6] = {t->caption, t->tags, t->ocr, t->path_words, t->exif_text, t->related};
    sqlite3_bind_int64(stmt, 1, id);
    for (int i = 0; i < 6; i++)
        sqlite3_bind_text(stmt, 2 + i, cols[i] ? cols[i] : "", -1, SQLITE_STATIC);
    return catalog_step_done(c, stmt, err, "inserting a caption");
}

static cs_status insert_tags(catalog *c, int64_t id, const catalog_tag *tags, size_t n,
                             cs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *stmt;
        cs_status rc = catalog_stmt(c, STMT_INSERT_TAG, &stmt, err);
        if (rc != CS_OK)
            return rc;
        sqlite3_bind_int64(stmt, 1, id);
        sqlite3_bind_text(stmt, 2, tags[i].tag, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 3, tags[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_double(stmt, 4, tags[i].score);
        rc = catalog_step_done(c, stmt, err, "inserting a tag");
        if (rc != CS_OK)
            return rc;
    }
    return CS_OK;
}

static cs_status insert_embedding(catalog *c, int64_t id, const catalog_embedding *e,
                                  cs_error *err)
{
    if (e->dim <= 0 || !e->data || !e->model)
        return cs_error_set(err, CS_ERR_INVALID, "embedding without data");
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_INSERT_EMBEDDING, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, e->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, e->dim);
    /* Stored as the machine's float32 bytes; FORMAT.md says little-endian,
     * which every platform capsearch builds on is. */
    sqlite3_bind_blob(stmt, 4, e->data, (int)((size_t)e->dim * sizeof(float)), SQLITE_STATIC);
    return catalog_step_done(c, stmt, err, "inserting an embedding");
}

cs_status catalog_put_embedding(catalog *c, int64_t id, const catalog_embedding *embedding,
                                cs_error *err)
{
    return insert_embedding(c, id, embedding, err);
}

cs_status catalog_put_image(catalog *c, const catalog_image *image,
                            const catalog_text *text, const catalog_tag *tags,
                            size_t ntags, const catalog_embedding *embedding,
                            int64_t *id, cs_error *err)
{
    int64_t new_id = 0;
    cs_status rc = replace_path(c, image->path, err);
    if (rc == CS_OK)
        rc = insert_image_row(c, image, &new_id, err);
    if (rc == CS_OK)
        rc = insert_caption(c, new_id, text, err);
    if (rc == CS_OK)
        rc = insert_tags(c, new_id, tags, ntags, err);
    if (rc == CS_OK && embedding)
        rc = insert_embedding(c, new_id, embedding, err);
    if (rc == CS_OK && id)
        *id = new_id;
    return rc;
}

static cs_status exec_bound(catalog *c, const char *sql, int64_t a, int64_t b,
                            const char *text, const char *text2, cs_error *err,
                            const char *what)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, sql, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, a);
    sqlite3_bind_int64(stmt, 2, b);
    if (text)
        sqlite3_bind_text(stmt, 3, text, -1, SQLITE_STATIC);
    if (text2)
        sqlite3_bind_text(stmt, 4, text2, -1, SQLITE_STATIC);
    rc = catalog_step_done(c, stmt, err, what);
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_copy_image(catalog *c, int64_t source_id, const char *path,
                             const char *folder, int64_t size, int64_t mtime_ns,
                             const char *path_words, const char *related, int64_t *id,
                             cs_error *err)
{
    int64_t existing = 0;
    cs_status rc = find_path(c, path, &existing, err);
    if (rc != CS_OK)
        return rc;
    if (existing == source_id) {
        /* Same file, same content, new timestamp (touched or restored). */
        sqlite3_stmt *stmt;
        rc = catalog_prepare(c, "UPDATE images SET size = ?2, mtime_ns = ?3 WHERE id = ?1",
                             &stmt, err);
        if (rc != CS_OK)
            return rc;
        sqlite3_bind_int64(stmt, 1, source_id);
        sqlite3_bind_int64(stmt, 2, size);
        sqlite3_bind_int64(stmt, 3, mtime_ns);
        rc = catalog_step_done(c, stmt, err, "updating a file's timestamp");
        sqlite3_finalize(stmt);
        if (rc == CS_OK)
            rc = catalog_delete_error(c, path, err);
        if (rc == CS_OK && id)
            *id = source_id;
        return rc;
    }
    rc = replace_path(c, path, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_stmt *stmt;
    rc = catalog_prepare(c,
        "INSERT INTO images(path, folder, size, mtime_ns, content_hash, width, height, format,"
        " taken_at, camera_make, camera_model, gps_lat, gps_lon, status, indexed_at, phash)"
        " SELECT ?2, ?3, ?4, ?5, content_hash, width, height, format, taken_at, camera_make,"
        " camera_model, gps_lat, gps_lon, status, ?6, phash FROM images WHERE id = ?1",
        &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, source_id);
    sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 4, size);
    sqlite3_bind_int64(stmt, 5, mtime_ns);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)time(NULL));
    rc = catalog_step_done(c, stmt, err, "copying an image");
    sqlite3_finalize(stmt);
    if (rc != CS_OK)
        return rc;
    if (sqlite3_changes(c->db) == 0)
        return cs_error_set(err, CS_ERR_NOT_FOUND, "image %lld is no longer in the catalog",
                            (long long)source_id);
    int64_t new_id = sqlite3_last_insert_rowid(c->db);
    /* ?4 unbound is NULL: the source's related words are kept */
    rc = exec_bound(c,
        "INSERT INTO captions(image_id, caption, tags, ocr, path_words, exif_text, related)"
        " SELECT ?2, caption, tags, ocr, ?3, exif_text, coalesce(?4, related)"
        " FROM captions WHERE image_id = ?1",
        source_id, new_id, path_words ? path_words : "", related, err, "copying a caption");
    if (rc == CS_OK)
        rc = exec_bound(c,
            "INSERT INTO tags(image_id, tag, kind, score)"
            " SELECT ?2, tag, kind, score FROM tags WHERE image_id = ?1",
            source_id, new_id, NULL, NULL, err, "copying tags");
    if (rc == CS_OK)
        rc = exec_bound(c,
            "INSERT INTO embeddings(image_id, model, dim, data)"
            " SELECT ?2, model, dim, data FROM embeddings WHERE image_id = ?1",
            source_id, new_id, NULL, NULL, err, "copying embeddings");
    if (rc == CS_OK)
        rc = exec_bound(c,
            "INSERT INTO zeroshot(image_id, model, sentence, words)"
            " SELECT ?2, model, sentence, words FROM zeroshot WHERE image_id = ?1",
            source_id, new_id, NULL, NULL, err, "copying a zero-shot caption");
    if (rc == CS_OK && id)
        *id = new_id;
    return rc;
}

cs_status catalog_record_error(catalog *c, const char *path, int64_t size,
                               int64_t mtime_ns, const char *reason, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "INSERT OR REPLACE INTO errors(path, size, mtime_ns, reason, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, size);
    sqlite3_bind_int64(stmt, 3, mtime_ns);
    sqlite3_bind_text(stmt, 4, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, (sqlite3_int64)time(NULL));
    rc = catalog_step_done(c, stmt, err, "recording an error");
    sqlite3_finalize(stmt);
    return rc;
}

/* Binds [prefix, prefix-with-last-byte+1) so the path index serves the scan. */
static cs_status each_under(catalog *c, const char *sql_all, const char *sql_range,
                            const char *prefix, bool with_hash, catalog_file_fn fn,
                            void *user, cs_error *err)
{
    size_t n = prefix ? strlen(prefix) : 0;
    char *upper = NULL;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, n ? sql_range : sql_all, &stmt, err);
    if (rc != CS_OK)
        return rc;
    if (n) {
        upper = malloc(n + 1);
        if (!upper) {
            sqlite3_finalize(stmt);
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        }
        memcpy(upper, prefix, n + 1);
        upper[n - 1] = (char)((unsigned char)upper[n - 1] + 1);
        sqlite3_bind_text(stmt, 1, prefix, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 2, upper, -1, SQLITE_STATIC);
    }
    int step = SQLITE_DONE;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        catalog_file f = {
            .id = with_hash ? sqlite3_column_int64(stmt, 0) : 0,
            .path = (const char *)sqlite3_column_text(stmt, 1),
            .size = sqlite3_column_int64(stmt, 2),
            .mtime_ns = sqlite3_column_int64(stmt, 3),
            .content_hash = with_hash ? (const char *)sqlite3_column_text(stmt, 4) : NULL,
        };
        if (f.path)
            rc = fn(&f, user, err);
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "listing files");
    sqlite3_finalize(stmt);
    free(upper);
    return rc;
}

cs_status catalog_each_image(catalog *c, const char *prefix, catalog_file_fn fn,
                             void *user, cs_error *err)
{
    return each_under(c,
        "SELECT id, path, size, mtime_ns, content_hash FROM images",
        "SELECT id, path, size, mtime_ns, content_hash FROM images WHERE path >= ?1 AND path < ?2",
        prefix, true, fn, user, err);
}

cs_status catalog_each_error(catalog *c, const char *prefix, catalog_file_fn fn,
                             void *user, cs_error *err)
{
    return each_under(c,
        "SELECT 0, path, size, mtime_ns FROM errors",
        "SELECT 0, path, size, mtime_ns FROM errors WHERE path >= ?1 AND path < ?2",
        prefix, false, fn, user, err);
}

/* ---- related words (schema version 3) ---- */

static bool kind_wanted(const char *kind, const char *const *kinds, size_t nkinds)
{
    for (size_t i = 0; kind && i < nkinds; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    return false;
}

cs_status catalog_tag_names(catalog *c, int64_t id, const char *const *kinds, size_t nkinds,
                            strbuf *out, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_TAG_NAMES, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    size_t start = out->len;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *tag = (const char *)sqlite3_column_text(stmt, 0);
        const char *kind = (const char *)sqlite3_column_text(stmt, 1);
        if (!tag || !kind_wanted(kind, kinds, nkinds))
            continue;
        if (out->len > start)
            strbuf_append_char(out, '\n');
        strbuf_append(out, tag);
    }
    if (step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading tags");
    sqlite3_reset(stmt);
    if (rc == CS_OK && strbuf_failed(out))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading tags");
    return rc;
}

typedef struct words_row {
    int64_t id;
    char *path_words;
} words_row;

cs_status catalog_each_words(catalog *c, int64_t after_id, int limit,
                             const char *const *kinds, size_t nkinds, catalog_words_fn fn,
                             void *user, cs_error *err)
{
    /* Read the page first, then call back: the callback may write. */
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT image_id, path_words FROM captions WHERE image_id > ?1"
        " ORDER BY image_id LIMIT ?2", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, after_id);
    sqlite3_bind_int(stmt, 2, limit);
    words_row *rows = NULL;
    size_t n = 0, cap = 0;
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *words = (const char *)sqlite3_column_text(stmt, 1);
        char *copy = strdup(words ? words : "");
        if (!copy || !ARRAY_RESERVE(rows, cap, n)) {
            free(copy);
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading captions");
            break;
        }
        rows[n++] = (words_row){sqlite3_column_int64(stmt, 0), copy};
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading captions");
    sqlite3_finalize(stmt);
    strbuf tags;
    strbuf_init(&tags);
    for (size_t i = 0; rc == CS_OK && i < n; i++) {
        strbuf_reset(&tags);
        rc = catalog_tag_names(c, rows[i].id, kinds, nkinds, &tags, err);
        if (rc == CS_OK)
            rc = fn(rows[i].id, rows[i].path_words, strbuf_str(&tags), user, err);
    }
    strbuf_free(&tags);
    for (size_t i = 0; i < n; i++)
        free(rows[i].path_words);
    free(rows);
    return rc;
}

cs_status catalog_set_related(catalog *c, int64_t id, const char *related, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_stmt(c, STMT_SET_RELATED, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    sqlite3_bind_text(stmt, 2, related ? related : "", -1, SQLITE_STATIC);
    return catalog_step_done(c, stmt, err, "updating related words");
}
