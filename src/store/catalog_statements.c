/* The statement cache of a catalog connection. */
#include "store/catalog_internal.h"

/* What the STMT_BROWSE statements share after their own conditions. */
#define BROWSE_SQL \
    FILTER_SQL \
    " AND (?3 IS NULL OR i.id NOT IN" \
    " (SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?3))" \
    " ORDER BY i.taken_at DESC, i.id DESC LIMIT ?1"

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_FIND_PATH] = "SELECT id FROM images WHERE path = ?1",
    [STMT_DELETE_IMAGE] = "DELETE FROM images WHERE id = ?1",
    [STMT_INSERT_IMAGE] =
        "INSERT INTO images(path, folder, size, mtime_ns, content_hash, width, height, format,"
        " taken_at, camera_make, camera_model, gps_lat, gps_lon, status, indexed_at, phash)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14, ?15)",
    [STMT_INSERT_CAPTION] =
        "INSERT INTO captions(image_id, caption, tags, ocr, path_words, exif_text, related)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STMT_INSERT_TAG] =
        "INSERT OR REPLACE INTO tags(image_id, tag, kind, score) VALUES (?1, ?2, ?3, ?4)",
    [STMT_INSERT_EMBEDDING] =
        "INSERT OR REPLACE INTO embeddings(image_id, model, dim, data) VALUES (?1, ?2, ?3, ?4)",
    [STMT_DELETE_ERROR] = "DELETE FROM errors WHERE path = ?1",
    [STMT_FTS_SEARCH] =
        "SELECT rowid, " FTS_RANK_EXPR " AS score FROM captions_fts"
        " WHERE captions_fts MATCH ?1 ORDER BY score, rowid LIMIT ?2",
    /* CROSS JOIN keeps FTS5 outside: FTS5 driven one rowid at a time from
     * the folder or date index costs milliseconds per row. */
    [STMT_FTS_SEARCH_FILTERED] =
        "SELECT captions_fts.rowid, " FTS_RANK_EXPR " AS score FROM captions_fts"
        " CROSS JOIN images i ON i.id = captions_fts.rowid"
        " WHERE captions_fts MATCH ?1" FILTER_SQL
        " ORDER BY score, captions_fts.rowid LIMIT ?2",
    [STMT_FTS_SEARCH_KEPT] =
        "SELECT rowid, cs_bm25(captions_fts, ?4) AS score FROM captions_fts"
        " WHERE captions_fts MATCH ?1 AND rowid BETWEEN ?5 AND ?6 AND cs_kept(?3, rowid)"
        " ORDER BY score, rowid LIMIT ?2",
    [STMT_FTS_DOC_SIZES] = "SELECT id, sz FROM captions_fts_docsize WHERE id BETWEEN ?1 AND ?2",
    [STMT_FILTER_MATCHES] = "SELECT 1 FROM images i WHERE i.id = ?1" FILTER_SQL,
    /* the faces and text parts checked on their own indexes, which are a
     * fraction of the images table (catalog_filter_matches) */
    [STMT_HAS_FACE] = "SELECT 1 FROM tags WHERE kind = 'face' AND image_id = ?1 LIMIT 1",
    [STMT_HAS_TEXT] =
        "SELECT 1 FROM captions INDEXED BY captions_with_text WHERE image_id = ?1 AND ocr <> ''",
    [STMT_FILTER_IDS] = "SELECT i.id FROM images i WHERE 1" FILTER_SQL " LIMIT ?1",
    /* The same rows read from the part of one catalog index a filter names
     * (catalog_filter_narrow), in the index's order so that LIMIT stops the
     * reading; catalog_filter_ids sorts them. A folder's range of
     * images_folder_taken runs from F to F0 ('0' follows '/'; FILTER_SQL drops
     * the "F-x" and "F.x" it also holds). */
    [STMT_FILTER_IDS_IN_FOLDER] =
        "SELECT i.id FROM images i WHERE i.folder >= ?10 AND i.folder < ?10 || '0'" FILTER_SQL
        " LIMIT ?1",
    [STMT_FILTER_IDS_IN_DATES] =
        "SELECT i.id FROM images i WHERE i.taken_at >= coalesce(?11, -9223372036854775807 - 1)"
        " AND i.taken_at <= coalesce(?12, 9223372036854775807)" FILTER_SQL " LIMIT ?1",
    [STMT_FILTER_IDS_WITH_FACES] =
        "SELECT DISTINCT i.id FROM tags t CROSS JOIN images i ON i.id = t.image_id"
        " WHERE t.kind = 'face'" FILTER_SQL " LIMIT ?1",
    [STMT_FILTER_IDS_WITH_TEXT] =
        "SELECT i.id FROM captions t CROSS JOIN images i ON i.id = t.image_id"
        " WHERE t.ocr <> ''" FILTER_SQL " LIMIT ?1",
    [STMT_FILTER_IDS_OF_TYPE] = "SELECT i.id FROM images i WHERE i.format = ?13" FILTER_SQL
                                " LIMIT ?1",
    /* A filter of that one part alone: its rows from the index only, with
     * FILTER_SQL's own test of that part (no image row is read); also how
     * catalog_filter_ids bounds what a filter of several parts keeps. */
    /* the folder, then its subfolders: the range from F/ up to F0, with no
     * test per row */
    [STMT_FILTER_ONLY_IN_FOLDER] =
        "SELECT id FROM images WHERE folder = ?10 UNION ALL"
        " SELECT id FROM images WHERE folder >= ?10 || '/' AND folder < ?10 || '0' LIMIT ?1",
    [STMT_FILTER_ONLY_IN_DATES] =
        "SELECT id FROM images WHERE taken_at >= coalesce(?11, -9223372036854775807 - 1)"
        " AND taken_at <= coalesce(?12, 9223372036854775807) LIMIT ?1",
    [STMT_FILTER_ONLY_WITH_FACES] = "SELECT DISTINCT image_id FROM tags WHERE kind = 'face' LIMIT ?1",
    [STMT_FILTER_ONLY_WITH_TEXT] = "SELECT image_id FROM captions WHERE ocr <> '' LIMIT ?1",
    [STMT_FILTER_ONLY_OF_TYPE] = "SELECT id FROM images WHERE format = ?13 LIMIT ?1",
    /* a camera alone: FILTER_SQL's test on the images_camera index's
     * entries (the same expression), not on every row */
    [STMT_FILTER_ONLY_CAMERA] =
        "SELECT id FROM images INDEXED BY images_camera"
        " WHERE instr(" CAMERA_TEXT_SQL ", lower(?14)) > 0 LIMIT ?1",
    /* the distinct camera texts one seek each, then one's pictures
     * (catalog_filter_ids) */
    [STMT_CAMERA_NEXT] =
        "SELECT min(" CAMERA_TEXT_SQL ") FROM images INDEXED BY images_camera"
        " WHERE " CAMERA_TEXT_SQL " > ?1",
    [STMT_CAMERA_IDS] =
        "SELECT id FROM images INDEXED BY images_camera WHERE " CAMERA_TEXT_SQL " = ?1",
    /* Newest first, by the images_taken_at index read backwards (its
     * entries end with the rowid), so LIMIT stops the reading; the
     * excluded words' matches are listed once (a subquery of its own). A
     * folder's rows come from its range of images_folder_taken instead (sorted:
     * the newest of a folder can be far down the dates), a date range's
     * from its range of images_taken_at. */
    [STMT_BROWSE] = "SELECT i.id, coalesce(i.taken_at, 0) FROM images i WHERE 1" BROWSE_SQL,
    [STMT_BROWSE_IN_FOLDER] =
        "SELECT i.id, coalesce(i.taken_at, 0) FROM images i"
        " WHERE i.folder >= ?10 AND i.folder < ?10 || '0'" BROWSE_SQL,
    [STMT_BROWSE_IN_DATES] =
        "SELECT i.id, coalesce(i.taken_at, 0) FROM images i"
        " WHERE i.taken_at >= coalesce(?11, -9223372036854775807 - 1)"
        " AND i.taken_at <= coalesce(?12, 9223372036854775807)" BROWSE_SQL,
    /* Whether the folder (?10) and the type (?13) keep every picture:
     * no folder before F, between F and its subfolders ("F-x", "F.x") or
     * from F0 on, and no other format; each a seek in its index. */
    [STMT_FILTER_PARTS_WHOLE] =
        "SELECT ?10 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM images WHERE folder < ?10)"
        " AND NOT EXISTS (SELECT 1 FROM images WHERE folder > ?10 AND folder < ?10 || '/')"
        " AND NOT EXISTS (SELECT 1 FROM images WHERE folder >= ?10 || '0'),"
        " ?13 IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM images WHERE format < ?13)"
        " AND NOT EXISTS (SELECT 1 FROM images WHERE format > ?13)",
    [STMT_FILL_RESULT] =
        "SELECT i.path, i.width, i.height, i.taken_at, c.caption, c.tags"
        " FROM images i LEFT JOIN captions c ON c.image_id = i.id WHERE i.id = ?1",
    [STMT_GET_EMBEDDING] = "SELECT dim, data FROM embeddings WHERE image_id = ?1 AND model = ?2",
    /* zero-shot concepts last: with the lexicon's cap on related words,
     * the picture's own labels come first */
    [STMT_TAG_NAMES] =
        "SELECT tag, kind FROM tags WHERE image_id = ?1 ORDER BY kind = 'concept', kind, tag",
    /* the trigger rewrites the FTS row: skip when nothing changes */
    [STMT_SET_RELATED] =
        "UPDATE captions SET related = ?2 WHERE image_id = ?1 AND related IS NOT ?2",
    [STMT_CAPTION_TEXT] =
        "SELECT caption, tags, ocr, path_words, exif_text, related FROM captions"
        " WHERE image_id = ?1",
    [STMT_CHAMPIONS] = "SELECT df, df, ids FROM text_champions WHERE term = ?1 AND columns = ?2",
    /* the term's df in the whole table, then its list within segment ?3
     * (none: no row of the segment holds it) */
    [STMT_SEGMENT_CHAMPIONS] =
        "SELECT c.df, coalesce(s.df, 0), coalesce(s.ids, x'') FROM text_champions c"
        " LEFT JOIN segment_champions s ON s.segment = ?3 AND s.term = c.term"
        " AND s.columns = c.columns WHERE c.term = ?1 AND c.columns = ?2",
};

const char *const fts_column_names[FTS_NCOLUMNS] = {
    "caption", "tags", "ocr", "path_words", "exif_text", "related",
};
const double fts_column_weights[FTS_NCOLUMNS] = {3.0, 2.5, 1.5, 2.0, 1.0, 0.5};

cs_status catalog_tokenizer(catalog *c, fts_tokenizer **out, cs_error *err)
{
    if (!c->tokenizer) {
        cs_status rc = fts_tokenizer_open(c->db, &c->tokenizer, err);
        if (rc != CS_OK)
            return rc;
    }
    *out = c->tokenizer;
    return CS_OK;
}

cs_status catalog_stmt(catalog *c, catalog_stmt_id id, sqlite3_stmt **stmt, cs_error *err)
{
    if (!c->stmts[id]) {
        cs_status rc = catalog_prepare(c, stmt_sql[id], &c->stmts[id], err);
        if (rc != CS_OK)
            return rc;
    }
    sqlite3_reset(c->stmts[id]);
    sqlite3_clear_bindings(c->stmts[id]);
    *stmt = c->stmts[id];
    return CS_OK;
}

void catalog_finalize_statements(catalog *c)
{
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(c->stmts[i]);
        c->stmts[i] = NULL;
    }
    fts_tokenizer_close(c->tokenizer);
    c->tokenizer = NULL;
}

