/* Everything the catalog holds about one image (cs_image_get): its images
 * row, its captions row and its tags. */
#include "store/catalog_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"

/* A text column as a malloc'd string ("" for NULL); sets *oom on failure. */
static char *column_text(sqlite3_stmt *stmt, int col, bool *oom)
{
    const char *text = (const char *)sqlite3_column_text(stmt, col);
    char *copy = strdup(text ? text : "");
    if (!copy)
        *oom = true;
    return copy;
}

void cs_image_info_free(cs_image_info *info)
{
    if (!info)
        return;
    free(info->path);
    free(info->folder);
    free(info->content_hash);
    free(info->format);
    free(info->camera_make);
    free(info->camera_model);
    free(info->caption);
    free(info->path_words);
    free(info->exif_text);
    free(info->ocr);
    for (size_t i = 0; i < info->ntags; i++) {
        free(info->tags[i].tag);
        free(info->tags[i].kind);
    }
    free(info->tags);
    free(info);
}

/* The images row and (LEFT JOIN: an image may lack one) its captions row. */
static cs_status read_image_row(catalog *c, int64_t id, cs_image_info *info, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "SELECT i.path, i.folder, i.size, i.mtime_ns, i.content_hash, i.width, i.height,"
        " i.format, i.taken_at, i.camera_make, i.camera_model, i.gps_lat, i.gps_lon, i.phash,"
        " c.caption, c.path_words, c.exif_text, c.ocr"
        " FROM images i LEFT JOIN captions c ON c.image_id = i.id WHERE i.id = ?1",
        &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        bool oom = false;
        info->id = id;
        info->path = column_text(stmt, 0, &oom);
        info->folder = column_text(stmt, 1, &oom);
        info->size = sqlite3_column_int64(stmt, 2);
        info->mtime_ns = sqlite3_column_int64(stmt, 3);
        info->content_hash = column_text(stmt, 4, &oom);
        info->width = sqlite3_column_int(stmt, 5);
        info->height = sqlite3_column_int(stmt, 6);
        info->format = column_text(stmt, 7, &oom);
        info->has_taken_at = sqlite3_column_type(stmt, 8) != SQLITE_NULL;
        info->taken_at = info->has_taken_at ? sqlite3_column_int64(stmt, 8) : 0;
        info->camera_make = column_text(stmt, 9, &oom);
        info->camera_model = column_text(stmt, 10, &oom);
        /* A position needs both coordinates. */
        info->has_gps = sqlite3_column_type(stmt, 11) != SQLITE_NULL &&
                        sqlite3_column_type(stmt, 12) != SQLITE_NULL;
        info->gps_lat = info->has_gps ? sqlite3_column_double(stmt, 11) : 0.0;
        info->gps_lon = info->has_gps ? sqlite3_column_double(stmt, 12) : 0.0;
        info->has_phash = sqlite3_column_type(stmt, 13) != SQLITE_NULL;
        /* Stored as a signed 64-bit integer with the same bits (FORMAT.md). */
        info->phash = info->has_phash ? (uint64_t)sqlite3_column_int64(stmt, 13) : 0;
        info->caption = column_text(stmt, 14, &oom);
        info->path_words = column_text(stmt, 15, &oom);
        info->exif_text = column_text(stmt, 16, &oom);
        info->ocr = column_text(stmt, 17, &oom);
        if (oom)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading image %lld",
                              (long long)id);
    } else if (step == SQLITE_DONE) {
        rc = cs_error_set(err, CS_ERR_NOT_FOUND, "no image with id %lld in the library",
                          (long long)id);
    } else {
        rc = catalog_sql_error(c, err, "reading an image");
    }
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status read_tags(catalog *c, int64_t id, cs_image_info *info, cs_error *err)
{
    sqlite3_stmt *stmt;
    /* The tag name breaks score ties so the order is always the same. */
    cs_status rc = catalog_prepare(c,
        "SELECT tag, kind, score FROM tags WHERE image_id = ?1"
        " ORDER BY kind, score DESC, tag", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, id);
    size_t cap = 0;
    int step = SQLITE_DONE;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!ARRAY_RESERVE(info->tags, cap, info->ntags)) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the tags of image %lld",
                              (long long)id);
            break;
        }
        bool oom = false;
        cs_tag *t = &info->tags[info->ntags++];
        t->tag = column_text(stmt, 0, &oom);
        t->kind = column_text(stmt, 1, &oom);
        t->score = sqlite3_column_double(stmt, 2);
        if (oom)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the tags of image %lld",
                              (long long)id);
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "reading tags");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_image_info(catalog *c, int64_t id, cs_image_info **out, cs_error *err)
{
    *out = NULL;
    cs_image_info *info = calloc(1, sizeof *info);
    if (!info)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    /* One read transaction, so an indexer committing between the two queries
     * cannot pair one version's row with another version's tags. Inside a
     * caller's transaction that one already gives the snapshot. */
    bool own_read = sqlite3_get_autocommit(c->db) != 0;
    cs_status rc = own_read ? catalog_begin_read(c, err) : CS_OK;
    if (rc == CS_OK)
        rc = read_image_row(c, id, info, err);
    if (rc == CS_OK)
        rc = read_tags(c, id, info, err);
    if (own_read)
        catalog_end_read(c);
    if (rc != CS_OK) {
        cs_image_info_free(info);
        return rc;
    }
    *out = info;
    return CS_OK;
}
