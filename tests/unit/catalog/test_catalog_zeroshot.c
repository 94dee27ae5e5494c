/* The zero-shot tables: concept embeddings stored and read back per model,
 * and a zero-shot caption merged into the caption row so that writing it
 * again, or another model's, replaces it instead of adding to it; a copy
 * (rename) carries it along. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/fsutil.h"
#include "store/catalog_concepts.h"

static char *text_of(const char *db_path, const char *sql)
{
    sqlite3 *db;
    sqlite3_open(db_path, &db);
    sqlite3_stmt *stmt;
    char *out = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step(stmt) == SQLITE_ROW)
            out = strdup(sqlite3_column_text(stmt, 0) ? (const char *)sqlite3_column_text(stmt, 0)
                                                      : "");
        sqlite3_finalize(stmt);
    }
    sqlite3_close(db);
    return out ? out : strdup("(no row)");
}

/* The first column of the first row of sql equals want. A macro, so a
 * failure names its line. */
#define EXPECT_TEXT(db_path, sql, want)          \
    do {                                         \
        char *text_ = text_of(db_path, sql);     \
        CHECK_STR_EQ(text_, want);               \
        free(text_);                             \
    } while (0)

typedef struct seen {
    int count;
    float first;
} seen;

static cs_status count_concept(const char *concept, const char *prompts, int dim,
                               const float *data, void *user, cs_error *err)
{
    (void)err;
    seen *s = user;
    if (strcmp(concept, "object:dog") == 0 && strcmp(prompts, "abc") == 0 && dim == 3)
        s->first = data[0];
    s->count++;
    return CS_OK;
}

static void set_related(catalog *c, int64_t id, const char *model, const char *sentence,
                        const char *words, const catalog_tag *tags, size_t ntags,
                        const char *related)
{
    cs_error err;
    catalog_zeroshot z = {model, sentence, words, tags, ntags, related};
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_set_zeroshot(c, id, &z, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
}

static void set(catalog *c, int64_t id, const char *model, const char *sentence,
                const char *words, const catalog_tag *tags, size_t ntags)
{
    set_related(c, id, model, sentence, words, tags, ntags, NULL);
}

/* How many images the FTS expression finds. */
static size_t found(catalog *c, const char *match)
{
    cs_error err;
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t n = 0;
    CHECK_OK(catalog_fts_search(c, match, NULL, 10, &ids, &scores, &n, &err), &err);
    free(ids);
    free(scores);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s TMPDIR\n", argv[0]);
        return 2;
    }
    cs_error err;
    if (fs_mkdir_p(argv[1], &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 2;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/zeroshot.db", argv[1]);
    unlink(path);
    catalog *c = NULL;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    if (!c)
        CHECK_DONE();

    /* concept embeddings, per model */
    float v[3] = {0.25f, 0.5f, 0.75f};
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_put_concept_embedding(c, "clip:a", "object:dog", "abc", 3, v, &err), &err);
    CHECK_OK(catalog_put_concept_embedding(c, "clip:a", "scene:beach", "def", 3, v, &err), &err);
    CHECK_OK(catalog_put_concept_embedding(c, "clip:b", "object:dog", "abc", 3, v, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    seen s = {0};
    CHECK_OK(catalog_each_concept_embedding(c, "clip:a", count_concept, &s, &err), &err);
    CHECK_INT_EQ(s.count, 2);
    CHECK_NEAR(s.first, 0.25, 0);
    int64_t count = 0;
    CHECK_OK(catalog_count_concept_embeddings(c, "clip:b", &count, &err), &err);
    CHECK_INT_EQ(count, 1);

    /* an image with a metadata caption */
    catalog_image im = {.path = "/p/dog.jpg", .folder = "/p", .size = 1, .mtime_ns = 2,
                        .content_hash = "00112233445566778899aabbccddeeff", .width = 8,
                        .height = 6, .format = "jpeg"};
    catalog_text text = {"A landscape photo, mostly blue.", "blue landscape", "", "p dog", "", ""};
    catalog_tag color = {"blue", "color", 0.5f};
    int64_t id = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_put_image(c, &im, &text, &color, 1, NULL, &id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);

    catalog_tag first[] = {{"dog", "concept", 0.6f}, {"beach", "concept", 0.2f}};
    set(c, id, "clip:a", "A dog on a beach.", "dog beach", first, 2);
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT caption || '|' || tags FROM captions WHERE image_id = %lld",
             (long long)id);
    EXPECT_TEXT(path, sql, "A dog on a beach. A landscape photo, mostly blue.|blue landscape dog beach");
    /* again, and then another model's: replaced, not added */
    set(c, id, "clip:a", "A dog on a beach.", "dog beach", first, 2);
    catalog_tag second[] = {{"cat", "concept", 0.7f}};
    set(c, id, "clip:b", "A cat.", "cat", second, 1);
    EXPECT_TEXT(path, sql, "A cat. A landscape photo, mostly blue.|blue landscape cat");
    snprintf(sql, sizeof sql, "SELECT group_concat(tag || ':' || kind, ' ') FROM (SELECT * FROM"
             " tags WHERE image_id = %lld ORDER BY kind, tag)", (long long)id);
    EXPECT_TEXT(path, sql, "blue:color cat:concept");
    /* searchable through the FTS index */
    CHECK_INT_EQ(found(c, "\"cat\""), 1);
    CHECK_INT_EQ(found(c, "\"beach\""), 0);
    /* related words given with the caption replace the row's, in the FTS
     * index too; none given keeps them */
    set_related(c, id, "clip:b", "A cat.", "cat", second, 1, "cat, feline, animal");
    CHECK_INT_EQ(found(c, "related : \"feline\""), 1);
    snprintf(sql, sizeof sql, "SELECT related FROM captions WHERE image_id = %lld",
             (long long)id);
    EXPECT_TEXT(path, sql, "cat, feline, animal");
    set(c, id, "clip:b", "A cat.", "cat", second, 1);
    EXPECT_TEXT(path, sql, "cat, feline, animal");
    set_related(c, id, "clip:b", "A cat.", "cat", second, 1, "");
    CHECK_INT_EQ(found(c, "related : \"feline\""), 0);
    /* nothing sure: the sentence and words go, the rest stays */
    set(c, id, "clip:b", "", "", NULL, 0);
    snprintf(sql, sizeof sql, "SELECT caption || '|' || tags FROM captions WHERE image_id = %lld",
             (long long)id);
    EXPECT_TEXT(path, sql, "A landscape photo, mostly blue.|blue landscape");
    set(c, id, "clip:b", "A cat.", "cat", second, 1);

    /* a rename carries the zero-shot caption: a later one still replaces it */
    int64_t copy = 0;
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_copy_image(c, id, "/p/cat.jpg", "/p", 1, 3, "p cat", NULL, &copy, &err),
             &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    int64_t *zids = NULL;
    size_t nz = 0;
    CHECK_OK(catalog_zeroshot_ids(c, "clip:b", &zids, &nz, &err), &err);
    CHECK_INT_EQ(nz, 2);
    free(zids);
    set(c, copy, "clip:b", "Two cats.", "cat", second, 1);
    snprintf(sql, sizeof sql, "SELECT caption FROM captions WHERE image_id = %lld",
             (long long)copy);
    EXPECT_TEXT(path, sql, "Two cats. A landscape photo, mostly blue.");
    /* deleting the image deletes its zero-shot row */
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_delete_image(c, copy, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(catalog_zeroshot_ids(c, "clip:b", &zids, &nz, &err), &err);
    CHECK_INT_EQ(nz, 1);
    free(zids);
    catalog_close(c);
    CHECK_DONE();
}
