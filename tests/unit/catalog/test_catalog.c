/* The catalog: creation, migration from versions 1 and 2, writes, copies,
 * deletes, related words, the generation counter, and refusing catalogs it
 * must not touch.
 * usage: test_catalog TMPDIR MIGRATION_0001_SQL MIGRATION_0002_SQL */
#include <ctype.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/fsutil.h"
#include "store/catalog.h"
#include "store/text_champions.h"

static char tmpdir[4096];

static char *temp_path(const char *name)
{
    char *p = fs_path_join(tmpdir, name);
    unlink(p);
    return p;
}

static void exec_sql(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fprintf(stderr, "sql failed: %s\n  %s\n", msg, sql);
        check_failures++;
    }
    sqlite3_free(msg);
}

/* Every table's columns, every index and trigger, as one comparable text. */
static char *schema_fingerprint(const char *path)
{
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
        "SELECT m.type, m.name, m.tbl_name, coalesce(p.name, ''), coalesce(p.type, ''),"
        " coalesce(p.\"notnull\", 0), coalesce(p.dflt_value, ''), coalesce(p.pk, 0)"
        " FROM sqlite_master m LEFT JOIN pragma_table_info(m.name) p ON m.type = 'table'"
        " WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name, p.cid", -1, &st, NULL);
    size_t cap = 1 << 16, len = 0;
    char *out = calloc(cap, 1);
    while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 8; c++) {
            const char *t = (const char *)sqlite3_column_text(st, c);
            len += (size_t)snprintf(out + len, cap - len, "%s|", t ? t : "");
        }
        len += (size_t)snprintf(out + len, cap - len, "\n");
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_migration_from_v1(const char *v1_sql_path)
{
    char *old_path = temp_path("v1.db");
    char *fresh_path = temp_path("fresh.db");
    uint8_t *sql = NULL;
    size_t len = 0;
    cs_error err;
    CHECK_OK(fs_read_file(v1_sql_path, 1 << 20, &sql, &len, &err), &err);

    /* A version-1 catalog with one image in it, as the first release wrote it. */
    sqlite3 *db;
    sqlite3_open(old_path, &db);
    exec_sql(db, (const char *)sql);
    exec_sql(db, "INSERT INTO meta VALUES ('generation', '7');"
                 "PRAGMA user_version = 1;"
                 "INSERT INTO images(path, folder, size, mtime_ns, content_hash, width, height,"
                 " format, indexed_at) VALUES ('/p/beach.jpg', '/p', 10, 20, 'abc', 640, 480,"
                 " 'jpeg', 0);"
                 "INSERT INTO captions(image_id, caption, path_words) VALUES (1,"
                 " 'A sandy beach at sunset', 'beach');");
    sqlite3_close(db);
    free(sql);

    catalog *c = NULL;
    CHECK_OK(catalog_open(old_path, false, &c, &err), &err);
    if (!c)
        return;
    CHECK_INT_EQ(catalog_schema_version(c), CATALOG_SCHEMA_VERSION);
    int64_t gen = -1;
    CHECK_OK(catalog_generation(c, &gen, &err), &err);
    CHECK_INT_EQ(gen, 7);   /* migration must not lose meta */
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t n = 0;
    CHECK_OK(catalog_fts_search(c, "\"sunset\"", NULL, 10, &ids, &scores, &n, &err), &err);
    CHECK_INT_EQ(n, 1);
    if (n)
        CHECK_INT_EQ(ids[0], 1);
    free(ids);
    free(scores);
    catalog_close(c);

    catalog *fresh = NULL;
    CHECK_OK(catalog_open(fresh_path, false, &fresh, &err), &err);
    catalog_close(fresh);
    char *a = schema_fingerprint(old_path);
    char *b = schema_fingerprint(fresh_path);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "migrated schema differs from index/schema.sql:\n--- migrated\n%s"
                        "--- fresh\n%s", a, b);
        check_failures++;
    }
    CHECK_INT_EQ(count_rows(old_path, "PRAGMA user_version"), CATALOG_SCHEMA_VERSION);
    free(a);
    free(b);
    free(old_path);
    free(fresh_path);
}

/* A version-2 catalog (the last one without related words) with images,
 * tags and an error record: all kept, searchable, and the schema exactly a
 * fresh one's. */
static void test_migration_from_v2(const char *v1_sql_path, const char *v2_sql_path)
{
    char *old_path = temp_path("v2.db");
    char *fresh_path = temp_path("fresh3.db");
    uint8_t *v1 = NULL, *v2 = NULL;
    size_t len = 0;
    cs_error err;
    CHECK_OK(fs_read_file(v1_sql_path, 1 << 20, &v1, &len, &err), &err);
    CHECK_OK(fs_read_file(v2_sql_path, 1 << 20, &v2, &len, &err), &err);
    if (!v1 || !v2) {
        free(v1);
        free(v2);
        return;
    }
    sqlite3 *db;
    sqlite3_open(old_path, &db);
    exec_sql(db, (const char *)v1);
    exec_sql(db, (const char *)v2);
    exec_sql(db, "INSERT INTO meta VALUES ('generation', '12'), ('schema_version', '2');"
                 "PRAGMA user_version = 2;"
                 "INSERT INTO images(path, folder, size, mtime_ns, content_hash, width, height,"
                 " format, indexed_at, phash) VALUES"
                 " ('/p/dog.jpg', '/p', 10, 20, 'abc', 640, 480, 'jpeg', 0, 77),"
                 " ('/p/receipt.png', '/p', 11, 21, 'def', 800, 200, 'png', 0, 78);"
                 "INSERT INTO captions(image_id, caption, tags, ocr, path_words, exif_text)"
                 " VALUES (1, 'A sandy beach at sunset', 'blue', '', 'p dog', '2019'),"
                 " (2, 'A panoramic image', 'white', 'Hardware store receipt', 'p receipt', '');"
                 "INSERT INTO tags VALUES (1, 'blue', 'color', 0.5), (1, 'dog', 'object', 0.9);"
                 "INSERT INTO errors VALUES ('/p/bad.jpg', 1, 2, 'corrupt data', 0);");
    sqlite3_close(db);
    free(v1);
    free(v2);

    catalog *c = NULL;
    CHECK_OK(catalog_open(old_path, false, &c, &err), &err);
    if (!c)
        return;
    CHECK_INT_EQ(catalog_schema_version(c), CATALOG_SCHEMA_VERSION);
    int64_t gen = -1;
    CHECK_OK(catalog_generation(c, &gen, &err), &err);
    CHECK_INT_EQ(gen, 12);
    /* every column of the rebuilt index is searchable */
    const char *queries[][2] = {{"\"sunset\"", "1"}, {"\"blue\"", "1"}, {"\"hardware\"", "2"},
                                {"\"receipt\"", "2"}, {"\"2019\"", "1"}, {"\"dog\"", "1"}};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        int64_t *ids = NULL;
        double *scores = NULL;
        size_t n = 0;
        CHECK_OK(catalog_fts_search(c, queries[i][0], NULL, 10, &ids, &scores, &n, &err), &err);
        CHECK_INT_EQ(n, 1);
        if (n)
            CHECK_INT_EQ(ids[0], atoi(queries[i][1]));
        free(ids);
        free(scores);
    }
    /* the new column is there, empty, and can be filled and searched */
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t n = 0;
    CHECK_OK(catalog_fts_search(c, "related : (\"canine\")", NULL, 10, &ids, &scores, &n, &err),
             &err);
    CHECK_INT_EQ(n, 0);
    free(ids);
    free(scores);
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_set_related(c, 1, "dog, domestic dog, canine, animal", &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_fts_search(c, "related : (\"canine\")", NULL, 10, &ids, &scores, &n, &err),
             &err);
    CHECK_INT_EQ(n, 1);
    free(ids);
    free(scores);
    cs_error_list *list = NULL;
    CHECK_OK(catalog_errors(c, &list, &err), &err);
    CHECK(list && list->count == 1);
    cs_error_list_free(list);
    catalog_close(c);
    CHECK_INT_EQ(count_rows(old_path, "SELECT count(*) FROM captions_fts"), 2);
    CHECK_INT_EQ(count_rows(old_path, "SELECT phash FROM images WHERE id = 2"), 78);

    catalog *fresh = NULL;
    CHECK_OK(catalog_open(fresh_path, false, &fresh, &err), &err);
    catalog_close(fresh);
    char *a = schema_fingerprint(old_path);
    char *b = schema_fingerprint(fresh_path);
    if (strcmp(a, b) != 0) {
        fprintf(stderr, "schema migrated from v2 differs from index/schema.sql:\n--- migrated\n%s"
                        "--- fresh\n%s", a, b);
        check_failures++;
    }
    free(a);
    free(b);
    free(old_path);
    free(fresh_path);
}

static void test_refuses(void)
{
    cs_error err;
    catalog *c = NULL;
    char *newer = temp_path("newer.db");
    sqlite3 *db;
    sqlite3_open(newer, &db);
    exec_sql(db, "PRAGMA user_version = 99");
    sqlite3_close(db);
    CHECK_INT_EQ(catalog_open(newer, false, &c, &err), CS_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "newer") != NULL);
    CHECK(c == NULL);

    char *foreign = temp_path("foreign.db");
    sqlite3_open(foreign, &db);
    exec_sql(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    sqlite3_close(db);
    CHECK_INT_EQ(catalog_open(foreign, false, &c, &err), CS_ERR_CORRUPT);
    CHECK(strstr(err.message, "not a capsearch catalog") != NULL);
    /* and it was left alone */
    CHECK_INT_EQ(count_rows(foreign, "SELECT count(*) FROM t"), 1);

    char *garbage = temp_path("garbage.db");
    FILE *f = fopen(garbage, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 7919) & 0xff, f);
    fclose(f);
    CHECK(catalog_open(garbage, false, &c, &err) != CS_OK);
    CHECK(c == NULL);

    char *missing = temp_path("missing.db");
    CHECK_INT_EQ(catalog_open(missing, true, &c, &err), CS_ERR_NOT_FOUND);
    free(newer);
    free(foreign);
    free(garbage);
    free(missing);
}

static catalog_image sample_image(const char *path, const char *hash)
{
    return (catalog_image){
        .path = path, .folder = "/photos", .size = 1234, .mtime_ns = 99,
        .content_hash = hash, .width = 800, .height = 600, .format = "jpeg",
        .has_taken_at = true, .taken_at = 1625418000, .camera_make = "Canon",
        .camera_model = "Canon EOS 5D", .has_phash = true, .phash = 0xF0F0F0F0F0F0F0F0ull,
    };
}

static void test_write_copy_delete(void)
{
    char *path = temp_path("rw.db");
    cs_error err;
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        return;
    int64_t g0 = 0, g1 = 0, g2 = 0;
    CHECK_OK(catalog_generation(c, &g0, &err), &err);

    float vec[4] = {0.5f, -0.25f, 0.125f, 1.0f};
    catalog_image im = sample_image("/photos/dog_on_beach.jpg", "00112233445566778899aabbccddeeff");
    catalog_text text = {"A dog running on a beach", "dog beach sand", "", "photos dog on beach",
                         "2021 july summer", "dog, domestic dog, canine, animal"};
    catalog_tag tags[2] = {{"dog", "object", 0.9f}, {"blue", "color", 0.4f}};
    catalog_embedding emb = {"test-model", 4, vec};
    int64_t id = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_put_image(c, &im, &text, tags, 2, &emb, &id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK(id > 0);
    CHECK_OK(catalog_generation(c, &g1, &err), &err);
    CHECK_INT_EQ(g1, g0 + 1);

    /* An empty transaction does not move the generation. */
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_generation(c, &g2, &err), &err);
    CHECK_INT_EQ(g2, g1);

    /* Stemming and weights: "running dogs" finds it through the caption. */
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t n = 0;
    CHECK_OK(catalog_fts_search(c, "\"running\" OR \"dogs\"", NULL, 10, &ids, &scores, &n, &err), &err);
    CHECK_INT_EQ(n, 1);
    CHECK(n && scores[0] < 0);   /* bm25: lower is better, matches are negative */
    free(ids);
    free(scores);

    float back[4] = {0};
    CHECK_OK(catalog_get_embedding(c, id, "test-model", 4, back, &err), &err);
    CHECK(memcmp(back, vec, sizeof vec) == 0);
    CHECK_INT_EQ(catalog_get_embedding(c, id, "other-model", 4, back, &err), CS_ERR_NOT_FOUND);
    CHECK_INT_EQ(catalog_get_embedding(c, id, "test-model", 5, back, &err), CS_ERR_CORRUPT);

    /* A copy (rename) keeps what came from the pixels, takes the new path words. */
    int64_t copy_id = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_copy_image(c, id, "/photos/renamed/holiday.jpg", "/photos/renamed", 1234,
                                123, "photos renamed holiday", NULL, &copy_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK(copy_id > id);
    cs_result r = {0};
    CHECK_OK(catalog_fill_result(c, copy_id, &r, &err), &err);
    CHECK_STR_EQ(r.path, "/photos/renamed/holiday.jpg");
    CHECK_STR_EQ(r.caption, "A dog running on a beach");
    CHECK_INT_EQ(r.width, 800);
    CHECK_INT_EQ(r.taken_at, 1625418000);
    free(r.path);
    free(r.caption);
    free(r.tags);
    CHECK_OK(catalog_get_embedding(c, copy_id, "test-model", 4, back, &err), &err);
    CHECK(memcmp(back, vec, sizeof vec) == 0);
    /* a copy keeps the source's related words unless given new ones */
    CHECK_OK(catalog_fts_search(c, "related : (\"canine\")", NULL, 10, &ids, &scores, &n, &err),
             &err);
    CHECK_INT_EQ(n, 2);
    free(ids);
    free(scores);
    CHECK_OK(catalog_fts_search(c, "\"holiday\"", NULL, 10, &ids, &scores, &n, &err), &err);
    CHECK_INT_EQ(n, 1);
    CHECK(n == 1 && ids[0] == copy_id);
    free(ids);
    free(scores);

    /* Tag names by kind, for the related words of copies and backfills. */
    strbuf names;
    strbuf_init(&names);
    const char *object_kinds[] = {"object", "scene"};
    CHECK_OK(catalog_tag_names(c, copy_id, object_kinds, 2, &names, &err), &err);
    CHECK_STR_EQ(strbuf_str(&names), "dog");
    strbuf_reset(&names);
    const char *both_kinds[] = {"object", "color"};
    CHECK_OK(catalog_tag_names(c, copy_id, both_kinds, 2, &names, &err), &err);
    CHECK_STR_EQ(strbuf_str(&names), "blue\ndog");
    strbuf_free(&names);
    int64_t cat_id = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_copy_image(c, id, "/photos/cat.jpg", "/photos", 1234, 7, "photos cat",
                                "cat, feline, animal", &cat_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_fts_search(c, "related : (\"feline\")", NULL, 10, &ids, &scores, &n, &err),
             &err);
    CHECK(n == 1 && ids[0] == cat_id);
    free(ids);
    free(scores);
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_delete_image(c, cat_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);

    /* Same path, same content, new mtime: updated in place, same id. */
    int64_t same_id = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_copy_image(c, copy_id, "/photos/renamed/holiday.jpg", "/photos/renamed",
                                1234, 456, "photos renamed holiday", NULL, &same_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_INT_EQ(same_id, copy_id);

    /* Replacing a path retires its id; ids are never reused. */
    int64_t new_id = 0;
    im.content_hash = "ffeeddccbbaa99887766554433221100";
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &new_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK(new_id > copy_id);
    CHECK_INT_EQ(catalog_fill_result(c, id, &r, &err), CS_ERR_NOT_FOUND);

    /* Deleting cascades to the FTS index, tags and embeddings. */
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_delete_image(c, copy_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_fts_search(c, "\"holiday\"", NULL, 10, &ids, &scores, &n, &err), &err);
    CHECK_INT_EQ(n, 0);
    free(ids);
    free(scores);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM tags"), 0);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM embeddings"), 0);
    /* The FTS index agrees with its content table. */
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM captions_fts"),
                 count_rows(path, "SELECT count(*) FROM captions"));

    /* Copying from an image that is gone is reported, not invented. */
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_INT_EQ(catalog_copy_image(c, copy_id, "/x.jpg", "/", 1, 1, "x", NULL, &same_id, &err),
                 CS_ERR_NOT_FOUND);
    catalog_rollback(c);

    /* Error records: one per path, cleared when the path is indexed. */
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_record_error(c, "/photos/bad.jpg", 5, 6, "corrupt data: x", &err), &err);
    CHECK_OK(catalog_record_error(c, "/photos/bad.jpg", 7, 8, "corrupt data: y", &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    cs_error_list *list = NULL;
    CHECK_OK(catalog_errors(c, &list, &err), &err);
    CHECK(list && list->count == 1);
    if (list && list->count == 1)
        CHECK_STR_EQ(list->items[0].reason, "corrupt data: y");
    cs_error_list_free(list);
    im.path = "/photos/bad.jpg";
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &new_id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM errors"), 0);

    catalog_close(c);
    free(path);
}

/* Walking captions in pages for the related-words backfill, and writing
 * only what changed. */
typedef struct walked {
    int64_t ids[8];
    char words[8][64];
    char tags[8][64];
    int n;
} walked;

static cs_status collect_words(int64_t id, const char *path_words, const char *tags, void *user,
                               cs_error *err)
{
    (void)err;
    walked *w = user;
    if (w->n < 8) {
        w->ids[w->n] = id;
        snprintf(w->words[w->n], sizeof w->words[0], "%s", path_words);
        snprintf(w->tags[w->n], sizeof w->tags[0], "%s", tags);
        w->n++;
    }
    return CS_OK;
}

static void test_related_walk(void)
{
    char *path = temp_path("walk.db");
    cs_error err;
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        return;
    int64_t ids[3] = {0};
    const char *names[3] = {"/w/a.jpg", "/w/b.jpg", "/w/c.jpg"};
    const char *hashes[3] = {"00000000000000000000000000000001", "00000000000000000000000000000002",
                             "00000000000000000000000000000003"};
    CHECK_OK(catalog_begin(c, &err), &err);
    for (int i = 0; i < 3; i++) {
        catalog_image im = sample_image(names[i], hashes[i]);
        catalog_text text = {"", "", "", i == 0 ? "w a" : i == 1 ? "w b" : "w c", "", ""};
        catalog_tag tags[2] = {{"teddy bear", "object", 0.8f}, {"red", "color", 0.3f}};
        CHECK_OK(catalog_put_image(c, &im, &text, tags, i == 1 ? 2 : 0, NULL, &ids[i], &err),
                 &err);
    }
    CHECK_OK(catalog_commit(c, &err), &err);
    const char *kinds[] = {"object", "scene"};
    walked w = {0};
    CHECK_OK(catalog_each_words(c, 0, 2, kinds, 2, collect_words, &w, &err), &err);
    CHECK_INT_EQ(w.n, 2);
    CHECK_INT_EQ(w.ids[0], ids[0]);
    CHECK_STR_EQ(w.words[1], "w b");
    CHECK_STR_EQ(w.tags[1], "teddy bear");
    CHECK_STR_EQ(w.tags[0], "");
    walked rest = {0};
    CHECK_OK(catalog_each_words(c, w.ids[1], 2, kinds, 2, collect_words, &rest, &err), &err);
    CHECK_INT_EQ(rest.n, 1);
    CHECK_INT_EQ(rest.ids[0], ids[2]);
    /* writing the same related words again changes nothing (no generation) */
    int64_t g0 = 0, g1 = 0, g2 = 0;
    CHECK_OK(catalog_generation(c, &g0, &err), &err);
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_set_related(c, ids[1], "teddy, teddy bear, toy", &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_generation(c, &g1, &err), &err);
    CHECK_INT_EQ(g1, g0 + 1);
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_set_related(c, ids[1], "teddy, teddy bear, toy", &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_generation(c, &g2, &err), &err);
    CHECK_INT_EQ(g2, g1);
    int64_t *found = NULL;
    double *scores = NULL;
    size_t n = 0;
    CHECK_OK(catalog_fts_search(c, "\"toy\"", NULL, 10, &found, &scores, &n, &err), &err);
    CHECK(n == 1 && found[0] == ids[1]);
    free(found);
    free(scores);
    catalog_close(c);
    free(path);
}

/* Whether `needle` is in "make model" ignoring ASCII case: the camera
 * filter's rule, written here apart from the catalog's SQL. */
static bool camera_has(const char *make, const char *model, const char *needle)
{
    char text[128];
    snprintf(text, sizeof text, "%.63s %.63s", make ? make : "", model ? model : "");
    size_t n = strlen(needle);
    for (const char *at = text; *at; at++) {
        size_t i = 0;
        while (i < n && at[i] && tolower((unsigned char)at[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* A camera alone is listed from the images_camera index: the same pictures,
 * ascending, as the rule above and as the per-picture check; by the
 * distinct camera names while they are few, by scanning the index past 256
 * of them. */
enum { CAMERA_PICTURES = 60, CAMERA_MANY = 300 };

static void check_camera_listing(catalog *c, const int64_t *ids, char (*makes)[32],
                                 char (*models)[32], int pictures, bool by_names)
{
    cs_error err;
    const char *needles[] = {"canon", "EOS 5", "nikon d", "e-m1", "apple", " ", "corp. e-m10",
                             "no such camera", "%", "_", "model 12", "ACME"};
    for (size_t k = 0; k < sizeof needles / sizeof needles[0]; k++) {
        cs_filter f = {.camera = needles[k]};
        int64_t *got = NULL;
        size_t n = 0;
        bool more = true;
        int64_t before = catalog_text_rank_counts(c).camera_by_names;
        CHECK_OK(catalog_filter_ids(c, &f, INT64_MAX, &got, &n, &more, &err), &err);
        CHECK(!more);
        CHECK(catalog_text_rank_counts(c).camera_by_names - before == (by_names ? 1 : 0));
        size_t want = 0;
        for (int i = 0; i < pictures; i++) {
            const char *make = makes[i][0] ? makes[i] : NULL;
            const char *model = models[i][0] ? models[i] : NULL;
            bool keep = camera_has(make, model, needles[k]), matches;
            CHECK_OK(catalog_filter_matches(c, ids[i], &f, &matches, &err), &err);
            CHECK(matches == keep);
            if (keep) {
                CHECK(want < n && got && got[want] == ids[i]);   /* ascending, all of them */
                want++;
            }
        }
        CHECK(n == want);
        free(got);
        /* at most a few: one past them says there are more */
        if (want > 2) {
            CHECK_OK(catalog_filter_ids(c, &f, 2, &got, &n, &more, &err), &err);
            CHECK(more);
            free(got);
        }
    }
}

static void test_camera_listing(void)
{
    char *path = temp_path("camera.db");
    cs_error err;
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        return;
    const char *few_makes[] = {"Canon", "NIKON CORPORATION", "", "Apple", "OLYMPUS IMAGING CORP."};
    const char *few_models[] = {"Canon EOS 5D", "NIKON D750", "E-M1", "", "E-M10 Mark II"};
    static char makes[CAMERA_PICTURES + CAMERA_MANY][32], models[CAMERA_PICTURES + CAMERA_MANY][32];
    int64_t ids[CAMERA_PICTURES + CAMERA_MANY];
    for (int i = 0; i < CAMERA_PICTURES + CAMERA_MANY; i++) {
        if (i < CAMERA_PICTURES) {
            snprintf(makes[i], sizeof makes[i], "%s", few_makes[(i * 7) % 5]);   /* not in id order */
            snprintf(models[i], sizeof models[i], "%s", few_models[(i * 3) % 5]);
        } else {
            snprintf(makes[i], sizeof makes[i], "Acme");
            snprintf(models[i], sizeof models[i], "Model %d", (i * 37) % CAMERA_MANY);
        }
    }
    for (int phase = 0; phase < 2; phase++) {
        int from = phase ? CAMERA_PICTURES : 0;
        int to = phase ? CAMERA_PICTURES + CAMERA_MANY : CAMERA_PICTURES;
        CHECK_OK(catalog_begin(c, &err), &err);
        for (int i = from; i < to; i++) {
            char file[64], hash[33];
            snprintf(file, sizeof file, "/photos/p%03d.jpg", i);
            snprintf(hash, sizeof hash, "%032d", i);
            catalog_image im = sample_image(file, hash);
            im.camera_make = makes[i][0] ? makes[i] : NULL;   /* NULL and "" alike */
            im.camera_model = models[i][0] ? models[i] : NULL;
            catalog_text text = {"a picture", "", "", "", "", ""};
            CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &ids[i], &err), &err);
        }
        CHECK_OK(catalog_commit(c, &err), &err);
        /* five names, then more than 256 */
        check_camera_listing(c, ids, makes, models, to, phase == 0);
    }
    catalog_close(c);
    free(path);
}

static size_t count_kept(catalog *c, const cs_filter *f)
{
    cs_error err;
    int64_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(catalog_filter_ids(c, f, INT64_MAX, &ids, &n, NULL, &err), &err);
    free(ids);
    return n;
}

/* catalog_filter_drop_whole clears a folder or a type exactly when the
 * catalog's own listing of that part alone keeps every picture; checked
 * after each picture added, with folders that sort between a folder and
 * its subfolders ("/photos-2", "/photos.old") and around its range. */
static void test_filter_parts_whole(void)
{
    char *path = temp_path("whole.db");
    cs_error err;
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        return;
    const char *added[][2] = {
        {"/photos/a", "jpeg"}, {"/photos/b/c", "jpeg"}, {"/photos", "jpeg"},
        {"/photos/a", "png"}, {"/photos.old", "png"}, {"/photos-2", "jpeg"},
        {"/photosX", "jpeg"}, {"/photo", "jpeg"},
    };
    const char *folders[] = {NULL, "/photos", "/photos/", "/photos/a", "/photos/b", "/photo", "/", "/zz"};
    const char *types[] = {NULL, "jpeg", "png", "gif"};
    int dropped_folders = 0, kept_folders = 0, dropped_types = 0, kept_types = 0;
    for (size_t step = 0; step < sizeof added / sizeof added[0]; step++) {
        char file[64], hash[33];
        snprintf(file, sizeof file, "%s/p%zu.jpg", added[step][0], step);
        snprintf(hash, sizeof hash, "%032zu", step);
        catalog_image im = sample_image(file, hash);
        im.folder = added[step][0];
        im.format = added[step][1];
        catalog_text text = {"a picture", "", "", "", "", ""};
        int64_t id;
        CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &id, &err), &err);
        size_t total = count_kept(c, &(cs_filter){0});
        CHECK(total == step + 1);
        for (size_t fi = 0; fi < sizeof folders / sizeof *folders; fi++)
            for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
                cs_filter f = {.folder = folders[fi], .type = types[ti], .camera = "canon"};
                bool folder_whole = count_kept(c, &(cs_filter){.folder = folders[fi]}) == total;
                bool type_whole = count_kept(c, &(cs_filter){.type = types[ti]}) == total;
                CHECK_OK(catalog_filter_drop_whole(c, &f, &err), &err);
                CHECK(!strcmp(f.camera, "canon"));   /* other parts stay */
                if (folders[fi] && strcmp(folders[fi], "/") != 0) {
                    CHECK(f.folder == (folder_whole ? NULL : folders[fi]));
                    *(folder_whole ? &dropped_folders : &kept_folders) += 1;
                } else {
                    CHECK(f.folder == folders[fi]);   /* the root is no filter already */
                }
                if (types[ti]) {
                    CHECK(f.type == (type_whole ? NULL : types[ti]));
                    *(type_whole ? &dropped_types : &kept_types) += 1;
                }
            }
    }
    CHECK(dropped_folders > 0 && kept_folders > 0 && dropped_types > 0 && kept_types > 0);
    catalog_close(c);
    free(path);
}

/* The newest `limit` pictures (in folder, or all when NULL) whose words do
 * not match `excluded`, computed here: FTS5's own MATCH for the excluded
 * rows, every row sorted by date taken then id, newest first. */
static size_t expected_listing(const char *path, const char *excluded, const char *folder,
                               int limit, int64_t *out)
{
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db,
        "SELECT i.id FROM images i WHERE (?2 IS NULL OR i.folder = ?2) AND i.id NOT IN"
        " (SELECT rowid FROM captions_fts WHERE captions_fts MATCH ?1)"
        " ORDER BY coalesce(i.taken_at, 0) DESC, i.id DESC LIMIT ?3", -1, &st, NULL);
    sqlite3_bind_text(st, 1, excluded, -1, SQLITE_STATIC);
    if (folder)
        sqlite3_bind_text(st, 2, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, limit);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        out[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* A listing without excluded words: checked picture by picture while
 * that reads few rows, else from FTS5's list of the excluded words'
 * matches; either way what FTS5 itself excludes, newest first. */
static void test_listing_exclusions(void)
{
    char *path = temp_path("listing.db");
    cs_error err;
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        return;
    enum { PICTURES = 2000, OLD = 80 };   /* the OLD oldest hold no dog */
    const char *old_words[] = {"a cat asleep", "two cats", "a bird", "a hot dog stand",
                               "a catalog page"};
    CHECK_OK(catalog_begin(c, &err), &err);
    for (int i = 0; i < PICTURES; i++) {
        char file[64], hash[33];
        snprintf(file, sizeof file, "/photos/%s/p%04d.jpg", i % 3 ? "a" : "b", i);
        snprintf(hash, sizeof hash, "%032d", i);
        catalog_image im = sample_image(file, hash);
        im.folder = i % 3 ? "/photos/a" : "/photos/b";
        im.has_taken_at = i % 50 != 7;   /* some undated: listed last */
        im.taken_at = 1600000000 + (int64_t)(i ^ 3) * 60;   /* not quite in id order */
        const char *words = i < OLD ? old_words[i % 5] : i % 2 ? "a dog running" : "dogs";
        catalog_text text = {words, "", "", "", "", ""};
        int64_t id;
        CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &id, &err), &err);
    }
    CHECK_OK(catalog_commit(c, &err), &err);
    struct {
        const char *excluded, *folder;
        int limit;
        bool walks;
    } cases[] = {
        {"\"cat\"", NULL, 20, true},                 /* few excluded: checked one by one */
        {"\"cat\" OR \"bird\"", "/photos/b", 30, true},
        {"\"cat\" *", NULL, 1000, true},             /* catalog too */
        {"\"hot dog\"", NULL, 20, true},
        {"\"dog\"", NULL, 20, false},                /* most excluded: FTS5's list */
        {"\"dog\"", "/photos/a", 5, false},
        {"\"dog\" OR \"cat\"", NULL, 20, false},   /* only the birds and stands left */
        {"\"cat\"", NULL, 2500, false},              /* a deep page */
    };
    int64_t *want = malloc(PICTURES * sizeof *want);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        cs_filter f = {.folder = cases[k].folder};
        text_rank_counts before = catalog_text_rank_counts(c);
        int64_t *ids = NULL;
        double *taken = NULL;
        size_t n = 0;
        CHECK_OK(catalog_browse(c, cases[k].excluded, &f, cases[k].limit, &ids, &taken, &n,
                                &err), &err);
        size_t nwant = expected_listing(path, cases[k].excluded, cases[k].folder,
                                        cases[k].limit, want);
        CHECK(nwant > 0);
        CHECK(n == nwant);
        for (size_t i = 0; i < n && i < nwant; i++)
            CHECK(ids[i] == want[i]);
        text_rank_counts after = catalog_text_rank_counts(c);
        CHECK(after.listing_walked - before.listing_walked == (cases[k].walks ? 1 : 0));
        CHECK(after.listing_not_in - before.listing_not_in == (cases[k].walks ? 0 : 1));
        if (n != nwant || after.listing_walked - before.listing_walked != cases[k].walks)
            fprintf(stderr, "  listing case %zu: %zu of %zu, walked %d\n", k, n, nwant,
                    (int)(after.listing_walked - before.listing_walked));
        free(ids);
        free(taken);
    }
    free(want);

    /* catalog_drop_matching: what FTS5 matches goes, the rest keeps its
     * order and its scores; NEAR is FTS5's own to check */
    const char *drops[] = {"\"cat\"", "\"dog\" OR \"bird\"", "\"hot dog\"", "\"cat\" *",
                           "NEAR(\"hot\" \"stand\")"};
    int64_t *ids = malloc(PICTURES * sizeof *ids);
    double *scores = malloc(PICTURES * sizeof *scores);
    sqlite3 *db;
    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    for (size_t k = 0; k < sizeof drops / sizeof *drops; k++) {
        size_t n = 0;
        for (int64_t id = PICTURES + 5; id > 0; id -= 3) {   /* some ids are no picture */
            ids[n] = id;
            scores[n++] = 0.5 * (double)id;
        }
        size_t before = n;
        CHECK_OK(catalog_drop_matching(c, drops[k], ids, scores, &n, &err), &err);
        sqlite3_stmt *st;
        sqlite3_prepare_v2(db, "SELECT 1 FROM captions_fts WHERE captions_fts MATCH ?1"
                               " AND rowid = ?2", -1, &st, NULL);
        sqlite3_bind_text(st, 1, drops[k], -1, SQLITE_STATIC);
        size_t kept = 0;
        for (int64_t id = PICTURES + 5; id > 0; id -= 3) {
            sqlite3_bind_int64(st, 2, id);
            bool matches = sqlite3_step(st) == SQLITE_ROW;
            sqlite3_reset(st);
            if (matches)
                continue;
            CHECK(kept < n && ids[kept] == id && scores[kept] == 0.5 * (double)id);
            kept++;
        }
        sqlite3_finalize(st);
        CHECK(kept == n && n < before && n > 0);
    }
    sqlite3_close(db);
    free(ids);
    free(scores);
    catalog_close(c);
    free(path);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s TMPDIR MIGRATION_0001_SQL MIGRATION_0002_SQL\n", argv[0]);
        return 2;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", argv[1]);
    cs_error err;
    if (fs_mkdir_p(tmpdir, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    test_migration_from_v1(argv[2]);
    test_migration_from_v2(argv[2], argv[3]);
    test_refuses();
    test_write_copy_delete();
    test_related_walk();
    test_camera_listing();
    test_filter_parts_whole();
    test_listing_exclusions();
    CHECK_DONE();
}
