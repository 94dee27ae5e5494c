/* The text ranking's champion path (text_champions.h) against FTS5's own
 * bm25 ranking on a generated Zipf corpus: with lists long enough to hold
 * every match, the same ids and scores (relative 1e-9) for words, OR'ed
 * words, phrases, prefixes, the related column and NOT; with short lists,
 * single words exactly, OR'ed words at recall@10 >= 0.95, and three common
 * words whose rows holding all three are on no list exactly; changed and
 * deleted rows, a rebuild, a catalog from version 4, odd input; filtered
 * searches on every path against FTS5's filtered ranking, the lists of
 * the pictures with faces and with text; OR'ed words led by rows holding
 * two of them, proven final by reading those two words' AND.
 * usage: test_text_rank TMPDIR */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/fsutil.h"
#include "store/catalog.h"
#include "store/catalog_internal.h"   /* the handle's connection, for cs_bm25 */
#include "store/fts_bm25.h"
#include "store/text_champions.h"

#define NROWS 3000
#define NWORDS 120

static char words[NWORDS][16];
static unsigned rng = 12345;

static unsigned next(void)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) & 0xffffff;
}

/* Zipf-like: word r with weight 1/(r+1) */
static const char *zipf_word(void)
{
    static double cum[NWORDS];
    if (cum[NWORDS - 1] == 0) {
        double s = 0;
        for (int r = 0; r < NWORDS; r++)
            cum[r] = (s += 1.0 / (r + 1));
    }
    double x = (next() / (double)0xffffff) * cum[NWORDS - 1];
    for (int r = 0; r < NWORDS; r++)
        if (x <= cum[r])
            return words[r];
    return words[NWORDS - 1];
}

static void words_into(char *buf, size_t cap, int n)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        strncat(buf, zipf_word(), cap - strlen(buf) - 2);
        strncat(buf, " ", cap - strlen(buf) - 1);
    }
}

/* Rows in many folders and on many days, for filtered searches: row i in
 * /lib/fNN (NN = i % 40), every 100th row one level deeper, taken on day
 * i, every 23rd a PNG, every 29th with a face, every 50th with text read
 * in it (and no other); otherwise every row is in /lib, undated. With
 * `blocks` (as a folder tree is indexed, a folder's rows together) row i
 * is in /lib/blocks when i % 750 < 40 (its subfolder sub when 5), in
 * /lib/blocks-old or /lib/blocks.x (names sorting between the folder's
 * and its subfolders') when below 45 or 50, else in /lib/rest; taken on
 * day i. With `wide`, every 4th row is in /lib/a (every 20th in
 * /lib/a/sub), every odd one in /lib/ab (a name /lib/a begins), the others
 * in /lib, taken on day i % NROWS, every 8th with a face, every 12th with
 * text read in it, every 10th a PNG. */
static bool spread, blocks, wide, monthly;
#define DAY 86400

/* With `monthly`, row i is in /lib/pN (N = i % 10) and taken in month N+1
 * of 1971, both scattered over the rows, except rows 1000-1299: in
 * /lib/block and taken in December 1971, together. */
static const int month_first_day[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
static int64_t monthly_day(int i)
{
    int month = i >= 1000 && i < 1300 ? 11 : i % 10;
    return 365 + month_first_day[month] + (i / 10) % 28;
}

static void put_rows(catalog *c, int from, int to)
{
    cs_error err = {0};
    CHECK_OK(catalog_begin(c, &err), &err);
    for (int i = from; i < to; i++) {
        char path[64], cap[256], tags[128], ocr[64], pw[64], ex[64], rel[128], folder[32];
        if (wide)
            snprintf(folder, sizeof folder, "%s",
                     i % 20 == 0 ? "/lib/a/sub" : i % 4 == 0 ? "/lib/a"
                     : i % 2 == 1 ? "/lib/ab" : "/lib");
        else if (blocks)
            snprintf(folder, sizeof folder, "%s",
                     i % 750 == 5 ? "/lib/blocks/sub" : i % 750 < 40 ? "/lib/blocks"
                     : i % 750 < 45 ? "/lib/blocks-old" : i % 750 < 50 ? "/lib/blocks.x"
                     : "/lib/rest");
        else if (monthly)
            snprintf(folder, sizeof folder, i >= 1000 && i < 1300 ? "/lib/block" : "/lib/p%d",
                     i % 10);
        else if (!spread)
            snprintf(folder, sizeof folder, "/lib");
        else if (i % 100 == 0)
            snprintf(folder, sizeof folder, "/lib/f%02d/deep", i % 40);
        else
            snprintf(folder, sizeof folder, "/lib/f%02d", i % 40);
        snprintf(path, sizeof path, "%s/%d.jpg", folder, i);
        words_into(cap, sizeof cap, 3 + (int)(next() % 10));
        words_into(tags, sizeof tags, (int)(next() % 4));
        words_into(ocr, sizeof ocr, next() % 5 == 0 ? 2 : 0);
        if (spread)
            snprintf(ocr, sizeof ocr, "%s", i % 50 == 0 ? "open daily" : "");
        if (wide && i % 12 != 0)
            ocr[0] = '\0';
        else if (wide)
            strncat(ocr, "open daily", sizeof ocr - strlen(ocr) - 1);
        words_into(pw, sizeof pw, 1 + (int)(next() % 3));
        words_into(ex, sizeof ex, (int)(next() % 3));
        words_into(rel, sizeof rel, (int)(next() % 6));
        catalog_image im = {.path = path, .folder = folder, .size = 1, .mtime_ns = 1,
                            .content_hash = "00112233445566778899aabbccddeeff", .width = 4,
                            .height = 4, .format = (spread && i % 23 == 0) || (wide && i % 10 == 0) ? "png" : "jpeg",
                            .has_taken_at = spread || blocks || wide || monthly,
                            .taken_at = monthly ? monthly_day(i) * DAY
                                                : (int64_t)(wide ? i % NROWS : i) * DAY};
        catalog_text text = {cap, tags, ocr, pw, ex, rel};
        catalog_tag face = {"face", "face", 0.9f};
        int64_t id;
        bool with_face = (spread && i % 29 == 0) || (wide && i % 8 == 0);
        CHECK_OK(catalog_put_image(c, &im, &text, &face, with_face, NULL, &id, &err), &err);
    }
    CHECK_OK(catalog_commit(c, &err), &err);
}

/* Long rows holding three common words once each: every word's bm25 term
 * is low there (long rows), so the rows are on none of the three lists,
 * yet they hold all three words and lead the OR of them. */
static void put_padded_rows(catalog *c, int from, int to, const char *three)
{
    cs_error err = {0};
    CHECK_OK(catalog_begin(c, &err), &err);
    for (int i = from; i < to; i++) {
        char path[64], cap[512];
        snprintf(path, sizeof path, "/lib/%d.jpg", i);
        snprintf(cap, sizeof cap, "%s", three);
        for (int k = 0; k < 12; k++)
            strncat(cap, " zzpad", sizeof cap - strlen(cap) - 1);
        catalog_image im = {.path = path, .folder = "/lib", .size = 1, .mtime_ns = 1,
                            .content_hash = "00112233445566778899aabbccddeeff", .width = 4,
                            .height = 4, .format = "jpeg"};
        catalog_text text = {cap, "", "", "", "", ""};
        int64_t id;
        CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, NULL, &id, &err), &err);
    }
    CHECK_OK(catalog_commit(c, &err), &err);
}

/* Entry i of a list blob (index/FORMAT.md: ids little-endian, 8 bytes
 * each), read without the catalog's code. */
static int64_t list_entry(const unsigned char *blob, int i)
{
    uint64_t v = 0;
    for (int k = 7; k >= 0; k--)
        v = (v << 8) | blob[i * 8 + k];
    return (int64_t)v;
}

/* Whether a word's champion list holds the row. */
static bool on_list(const char *db_path, const char *term, int64_t id)
{
    sqlite3 *db;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT ids FROM text_champions WHERE term = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, term, -1, SQLITE_STATIC);
    bool found = false;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *b = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0) / 8;
        for (int i = 0; i < n; i++)
            found = found || list_entry(b, i) == id;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return found;
}

/* FTS5's own ranking, read without the catalog's code. */
static size_t fts5_rank(const char *db_path, const char *match, int k, int64_t *ids,
                        double *scores)
{
    sqlite3 *db;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT rowid, bm25(captions_fts, 3.0, 2.5, 1.5, 2.0, 1.0, 0.5) AS s"
                           " FROM captions_fts WHERE captions_fts MATCH ?1 ORDER BY s, rowid"
                           " LIMIT ?2", -1, &st, NULL);
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        scores[n++] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* Both rankings of `match`; exact: same ids and scores; returns recall@k. */
static double compare(catalog *c, const char *db_path, const char *match, int k, bool exact)
{
    int64_t want[4000];
    double want_s[4000];
    size_t nw = fts5_rank(db_path, match, k, want, want_s);
    int64_t *got = NULL;
    double *got_s = NULL;
    size_t ng = 0;
    cs_error err = {0};
    CHECK_OK(catalog_fts_search(c, match, NULL, k, &got, &got_s, &ng, &err), &err);
    size_t hit = 0;
    for (size_t i = 0; i < nw; i++)
        for (size_t j = 0; j < ng; j++)
            if (got[j] == want[i])
                hit++;
    if (exact) {
        CHECK_INT_EQ(ng, nw);
        for (size_t i = 0; i < nw && i < ng; i++) {
            if (got[i] != want[i] ||
                fabs(got_s[i] - want_s[i]) > 1e-9 * fabs(want_s[i])) {
                fprintf(stderr, "%s: rank %zu: got %lld %.17g, FTS5 %lld %.17g\n", match, i,
                        (long long)got[i], got_s[i], (long long)want[i], want_s[i]);
                check_failures++;
                break;
            }
        }
    }
    free(got);
    free(got_s);
    return nw ? (double)hit / (double)nw : 1.0;
}

/* What else a filtered search asks for (test_filtered): nothing, a face,
 * text read in the picture, or a PNG; and the same as SQL for FTS5. */
enum { ALSO_NOTHING, ALSO_FACES, ALSO_TEXT, ALSO_PNG };
static int also;
static const char *const also_sql[] = {
    "", " AND EXISTS (SELECT 1 FROM tags t WHERE t.image_id = f.rowid AND t.kind = 'face')",
    " AND EXISTS (SELECT 1 FROM captions t WHERE t.image_id = f.rowid AND t.ocr <> '')",
    " AND i.format = 'png'"};

/* FTS5's ranking of the rows in `folder` (and below) taken within
 * [from, to] (and `also`), read without the catalog's code. */
static size_t fts5_filtered(const char *db_path, const char *match, const char *folder,
                            int64_t from, int64_t to, int k, int64_t *ids, double *scores)
{
    sqlite3 *db;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT f.rowid, bm25(captions_fts, 3.0, 2.5, 1.5, 2.0, 1.0, 0.5) AS s"
             " FROM captions_fts f JOIN images i ON i.id = f.rowid"
             " WHERE captions_fts MATCH ?1"
             " AND (?3 = '' OR i.folder = ?3 OR i.folder LIKE ?3 || '/%%')"
             " AND i.taken_at BETWEEN ?4 AND ?5%s ORDER BY s, f.rowid LIMIT ?2",
             also_sql[also]);
    sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    sqlite3_bind_text(st, 3, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, from);
    sqlite3_bind_int64(st, 5, to);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        ids[n] = sqlite3_column_int64(st, 0);
        scores[n++] = sqlite3_column_double(st, 1);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static double filtered_recall_sum;
static int filtered_by_lists;
/* When not 0: the filter's images are listed first, at most this many
 * (catalog_fts_search_listed). */
static int64_t listed_first;
/* The champion lists' answers are compared rank by rank too. */
static bool lists_exact;
/* The filter's last day is kept whole (as date filters give it). */
static bool to_end_of_day;

/* A filtered search against FTS5's filtered ranking: the same ids and
 * scores, except from the champion lists, whose OR'ed words are counted by
 * recall (filtered_recall_sum), as without a filter. Returns the number of
 * FTS5's results. */
static size_t compare_filtered(catalog *c, const char *db_path, const char *match,
                               const char *folder, int64_t from_day, int64_t to_day, int k)
{
    static int64_t want[4000];
    static double want_s[4000];
    char plain[64];   /* "/lib/f13/" is the folder "/lib/f13"; "/" is none */
    snprintf(plain, sizeof plain, "%s", folder);
    for (size_t len = strlen(plain); len > 0 && plain[len - 1] == '/';)
        plain[--len] = '\0';
    int64_t to = to_day * DAY + (to_end_of_day ? DAY - 1 : 0);
    size_t nw = fts5_filtered(db_path, match, plain, from_day * DAY, to, k, want,
                              want_s);
    cs_filter f = {.folder = folder, .has_from = from_day > 0, .from = from_day * DAY,
                   .has_to = to_day < NROWS, .to = to,
                   .has_faces = also == ALSO_FACES, .has_text = also == ALSO_TEXT,
                   .type = also == ALSO_PNG ? "png" : NULL};
    int64_t *got = NULL;
    double *got_s = NULL;
    size_t ng = 0;
    cs_error err = {0};
    int64_t lists_before = catalog_text_rank_counts(c).champion;
    if (listed_first) {   /* as a hybrid search lists them for both rankings */
        catalog_listed listed = {.max = listed_first};
        CHECK_OK(catalog_filter_ids(c, &f, listed.max, &listed.ids, &listed.n, &listed.more, &err),
                 &err);
        CHECK_OK(catalog_fts_search_listed(c, match, &f, &listed, k, &got, &got_s, &ng, &err),
                 &err);
        free(listed.ids);
    } else {
        CHECK_OK(catalog_fts_search(c, match, &f, k, &got, &got_s, &ng, &err), &err);
    }
    CHECK_INT_EQ(ng, nw);
    if (catalog_text_rank_counts(c).champion > lists_before && !lists_exact) {
        size_t hit = 0;
        for (size_t i = 0; i < nw; i++)
            for (size_t j = 0; j < ng; j++)
                hit += got[j] == want[i];
        filtered_recall_sum += nw ? (double)hit / (double)nw : 1.0;
        filtered_by_lists++;
        nw = 0;   /* nothing to compare rank by rank */
    }
    for (size_t i = 0; i < nw && i < ng; i++) {
        if (got[i] != want[i] || fabs(got_s[i] - want_s[i]) > 1e-9 * fabs(want_s[i])) {
            fprintf(stderr, "%s in %s, days %lld-%lld: rank %zu: got %lld %.17g, FTS5 %lld "
                    "%.17g\n", match, folder, (long long)from_day, (long long)to_day, i,
                    (long long)got[i], got_s[i], (long long)want[i], want_s[i]);
            check_failures++;
            break;
        }
    }
    free(got);
    free(got_s);
    return ng;
}

/* 6. filtered searches on a fresh catalog: every path (the lists, a narrow
 * filter's rows scored, FTS5 checking the filter's bitmap, FTS5 joining
 * the images) gives FTS5's own filtered ranking. */
static void test_filtered(const char *dir)
{
    char *path = fs_path_join(dir, "filtered.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    spread = true;
    put_rows(c, 1, NROWS + 1);
    spread = false;
    text_rank_settings shortl = {100, 200, 300, 50, 0};
    catalog_set_text_rank_settings(c, &shortl);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    text_rank_counts before = catalog_text_rank_counts(c);
    const char *queries[] = {"\"waa\"", "\"wab\" OR \"wac\"", "\"waa\" OR \"wad\" OR \"wae\"",
                             "\"wac\" OR related : (\"wab\")"};
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        const char *m = queries[q];
        /* a deep folder (15 rows), one folder (75), a prefix of folder
         * names that is no folder, a trailing slash, nowhere, everything
         * (k 40: the lists, 200 rows long, serve pages up to 50) */
        CHECK(compare_filtered(c, path, m, "/lib/f00/deep", 0, NROWS, 40) > 0);
        CHECK(compare_filtered(c, path, m, "/lib/f07", 0, NROWS, 40) > 0);
        CHECK(compare_filtered(c, path, m, "/lib/f0", 0, NROWS, 40) == 0);
        CHECK(compare_filtered(c, path, m, "/lib/f13/", 0, NROWS, 40) > 0);
        CHECK(compare_filtered(c, path, m, "/nowhere", 0, NROWS, 40) == 0);
        compare_filtered(c, path, m, "/lib", 0, NROWS, q == 0 ? 40 : 10);
        /* days: a month, five months, a year, a year in one folder, from
         * a day on */
        CHECK(compare_filtered(c, path, m, "/lib", 1000, 1030, 40) > 0);
        CHECK(compare_filtered(c, path, m, "/lib", 1000, 1150, 40) > 0);
        /* a year (365 rows) is more than the lists' share (1 in 16 rows)
         * and fewer than the matches: the lists, else the bitmap */
        int64_t joined = catalog_text_rank_counts(c).joined;
        CHECK(compare_filtered(c, path, m, "/lib", 1000, 1365, 40) > 0);
        CHECK(catalog_text_rank_counts(c).joined == joined);
        compare_filtered(c, path, m, "/lib/f10", 1000, 1365, 40);
        compare_filtered(c, path, m, "/lib", NROWS - 50, NROWS, 40);
        /* faces (103 rows), text (60), PNGs (130), alone and with a folder
         * or dates that keep fewer */
        compare_filtered(c, path, m, "/", 1000, 1100, 40);   /* dates alone */
        for (also = ALSO_FACES; also <= ALSO_PNG; also++) {
            CHECK(compare_filtered(c, path, m, "/", 0, NROWS, 40) > 0);   /* alone */
            CHECK(compare_filtered(c, path, m, "/lib", 0, NROWS, 40) > 0);
            compare_filtered(c, path, m, "/lib/f07", 0, NROWS, 40);
            compare_filtered(c, path, m, "/lib", 1000, 1365, 40);
        }
        also = ALSO_NOTHING;
    }
    text_rank_counts after = catalog_text_rank_counts(c);
    printf("filtered searches: %lld by the lists, %lld by scoring the filter's rows, %lld by "
           "FTS5 with its bitmap\n", (long long)(after.champion - before.champion),
           (long long)(after.filtered_rows - before.filtered_rows),
           (long long)(after.kept_bitmap - before.kept_bitmap));
    if (filtered_by_lists)
        printf("recall@40 of the lists' filtered answers: %.3f over %d\n",
               filtered_recall_sum / filtered_by_lists, filtered_by_lists);
    CHECK(filtered_by_lists == 0 || filtered_recall_sum / filtered_by_lists >= 0.8);
    CHECK(after.filtered_rows - before.filtered_rows >= 8);
    CHECK(after.kept_bitmap - before.kept_bitmap >= 4);
    /* rows whose bound could not enter the page were not scored, and the
     * rankings above still equal FTS5's */
    printf("rows skipped by their bound: %lld\n",
           (long long)(after.bound_skipped - before.bound_skipped));
    CHECK(after.bound_skipped - before.bound_skipped > 0);
    catalog_close(c);
    free(path);
}

/* 7. a folder indexed in blocks of rows: FTS5 reads each block as a rowid
 * range of its own (text_kept.h), and still gives FTS5's own ranking. */
static void test_kept_ranges(const char *dir)
{
    char *path = fs_path_join(dir, "blocks.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    blocks = true;
    put_rows(c, 1, NROWS + 1);
    blocks = false;
    text_rank_settings shortl = {100, 200, 300, 50, 0};
    catalog_set_text_rank_settings(c, &shortl);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    /* the folder and its subfolder, not its siblings -old and .x */
    int64_t *kept = NULL;
    size_t nkept = 0;
    cs_filter in_blocks = {.folder = "/lib/blocks"};
    CHECK_OK(catalog_filter_ids(c, &in_blocks, -1, &kept, &nkept, NULL, &err), &err);
    CHECK_INT_EQ(nkept, 160);
    for (size_t i = 0; i < nkept; i++)
        CHECK(kept[i] % 750 < 40 && (i == 0 || kept[i - 1] < kept[i]));
    free(kept);
    const char *queries[] = {"\"waa\"", "\"wab\" OR \"wac\"", "\"waa\" OR \"wad\" OR \"wae\""};
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        text_rank_counts before = catalog_text_rank_counts(c);
        /* pages shorter than a block's matches, and longer */
        const int pages[] = {1, 10, 40};
        for (size_t k = 0; k < sizeof pages / sizeof *pages; k++)
            CHECK(compare_filtered(c, path, queries[q], "/lib/blocks", 0, NROWS, pages[k]) > 0);
        text_rank_counts after = catalog_text_rank_counts(c);
        /* rows 1-39, 750-789, 1500-1539, 2250-2289 and 3000: five ranges,
         * each kept whole, so their row sizes are read beforehand */
        CHECK_INT_EQ(after.kept_bitmap - before.kept_bitmap, 3);
        CHECK_INT_EQ(after.kept_ranges - before.kept_ranges, 15);
        CHECK_INT_EQ(after.sizes_read - before.sizes_read, 15);
        /* the same with the images listed beforehand: all of them, or more
         * than the list holds (then listed again) */
        for (int64_t max = 1000; max > 0; max -= 900) {
            listed_first = max;
            for (size_t k = 0; k < sizeof pages / sizeof *pages; k++)
                CHECK(compare_filtered(c, path, queries[q], "/lib/blocks", 0, NROWS, pages[k]) >
                      0);
            listed_first = 0;
        }
        CHECK_INT_EQ(catalog_text_rank_counts(c).kept_bitmap - after.kept_bitmap, 6);
    }
    catalog_close(c);
    free(path);
}

static char *meta_value(const char *db_path, const char *key)
{
    sqlite3 *db;
    sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    char *value = sqlite3_step(st) == SQLITE_ROW
                      ? strdup((const char *)sqlite3_column_text(st, 0)) : NULL;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
}

/* Single words (ranks 0-11, and ranks 16-22, in fewer of the text
 * segment's rows than a page) filtered to faces, text, PNGs and folders
 * (the lists' rows pass unchecked unless changed since), rank by rank;
 * returns how many the segments' lists answered, *short_pages how many of
 * those with fewer rows than a page. */
/* How many of the last segment_words_exact's queries in each case the
 * segments' lists answered. */
enum { CASE_SIBLING = 6, CASE_YEAR = 7, NCASES = 9 };
static int64_t by_lists_in_case[NCASES];

static int64_t segment_words_exact(catalog *c, const char *db_path, int *short_pages)
{
    /* faces, text and PNGs alone; a folder, the same with a slash, its
     * subfolder (a segment too small for its lists to go first), a larger
     * folder whose name the first begins; a calendar year and a month */
    static const struct {
        int also;
        const char *folder;
        int64_t from_day, to_day;
    } cases[] = {
        {ALSO_FACES, "", 0, NROWS}, {ALSO_TEXT, "", 0, NROWS}, {ALSO_PNG, "", 0, NROWS},
        {ALSO_NOTHING, "/lib/a", 0, NROWS}, {ALSO_NOTHING, "/lib/a/", 0, NROWS},
        {ALSO_NOTHING, "/lib/a/sub", 0, NROWS}, {ALSO_NOTHING, "/lib/ab", 0, NROWS},
        {ALSO_NOTHING, "", 365, 729},    /* 1971, a year segment */
        {ALSO_NOTHING, "", 400, 430}};   /* a month of it */
    int64_t before = catalog_text_rank_counts(c).segment;
    *short_pages = 0;
    memset(by_lists_in_case, 0, sizeof by_lists_in_case);
    lists_exact = true;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++)
        for (int r = 0; r <= 22; r = r == 11 ? 16 : r + 1) {
            also = cases[k].also;
            char q[64];
            snprintf(q, sizeof q, "\"%.16s\"", words[r]);
            int64_t answered = catalog_text_rank_counts(c).segment;
            to_end_of_day = true;
            size_t n = compare_filtered(c, db_path, q, cases[k].folder, cases[k].from_day,
                                        cases[k].to_day, 40);
            to_end_of_day = false;
            CHECK(n > 0);
            bool by_lists = catalog_text_rank_counts(c).segment > answered;
            *short_pages += n < 40 && by_lists;
            by_lists_in_case[k] += by_lists;
        }
    also = ALSO_NOTHING;
    lists_exact = false;
    return catalog_text_rank_counts(c).segment - before;
}

/* 8. pictures with faces (1 in 8) and with text (1 in 12): too many to be
 * listed at search time (1 in 16 are), too few for the whole table's lists
 * to fill a page; each segment has lists of its own, exact for single
 * words, by recall for OR'ed words, as without a filter. */
static void test_segments(const char *dir)
{
    char *path = fs_path_join(dir, "segments.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    wide = true;
    put_rows(c, 1, NROWS + 1);
    text_rank_settings shortl = {100, 200, 300, 50, 0};
    catalog_set_text_rank_settings(c, &shortl);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    char *segments = meta_value(path, "text_segments");
    /* types, the years and the folders, the most populous first */
    CHECK(segments && strcmp(segments, "375 faces\n250 text\n300 type:png\n366 year:1972\n"
                                       "366 year:1976\n365 year:1970\n365 year:1971\n"
                                       "365 year:1973\n365 year:1974\n365 year:1975\n"
                                       "365 year:1977\n1500 folder:/lib/ab\n750 folder:/lib/a\n"
                                       "150 folder:/lib/a/sub") == 0);
    free(segments);
    /* lists made without the segments' (before schema 7) are stale */
    bool stale = true;
    CHECK_OK(catalog_champions_stale(c, &stale, &err), &err);
    CHECK(!stale);
    CHECK(sqlite3_exec(c->db, "DELETE FROM meta WHERE key = 'text_segments'", NULL, NULL,
                       NULL) == SQLITE_OK);
    CHECK_OK(catalog_champions_stale(c, &stale, &err), &err);
    CHECK(stale);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    int short_pages;
    int64_t answered = segment_words_exact(c, path, &short_pages);
    printf("single words filtered to a segment: %lld of 171 by its lists (of 19: %lld in "
           "/lib/ab, %lld in 1971), %d short pages\n", (long long)answered,
           (long long)by_lists_in_case[CASE_SIBLING], (long long)by_lists_in_case[CASE_YEAR],
           short_pages);
    CHECK(answered >= 105 && short_pages > 0);
    CHECK(by_lists_in_case[CASE_SIBLING] >= 15 && by_lists_in_case[CASE_YEAR] >= 15);
    /* dates that are a calendar year name its segment; others none */
    char name[TEXT_SEGMENT_NAME_MAX];
    cs_filter year = {.has_from = true, .from = 365 * DAY, .has_to = true, .to = 730 * DAY - 1};
    CHECK(text_segment_dates_name(&year, name, sizeof name) && strcmp(name, "year:1971") == 0);
    year.to -= DAY;
    CHECK(!text_segment_dates_name(&year, name, sizeof name));
    year.has_to = false;
    CHECK(!text_segment_dates_name(&year, name, sizeof name));
    filtered_recall_sum = 0;
    filtered_by_lists = 0;
    int64_t before = catalog_text_rank_counts(c).segment;
    for (also = ALSO_FACES; also <= ALSO_PNG; also++)
        for (int a = 0; a < 10; a++)
            for (int b = a + 1; b < 12; b += 3) {
                char q[64];
                snprintf(q, sizeof q, "\"%s\" OR \"%s\"", words[a], words[b]);
                compare_filtered(c, path, q, "/lib", 0, NROWS, 10);   /* a folder: checked */
            }
    also = ALSO_NOTHING;
    printf("recall@10 of OR'ed words filtered to a segment: %.3f over %d\n",
           filtered_recall_sum / filtered_by_lists, filtered_by_lists);
    CHECK(catalog_text_rank_counts(c).segment - before >= 60);
    CHECK(filtered_by_lists > 0 && filtered_recall_sum / filtered_by_lists >= 0.95);
    /* rows written since the lists were made, some with faces and text */
    put_rows(c, NROWS + 1, NROWS + 41);
    wide = false;
    CHECK(segment_words_exact(c, path, &short_pages) >= 105 && short_pages > 0);
    /* a row on the text segment's lists whose read text is gone (pending
     * since) and that still holds the word elsewhere: checked, not found */
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(c->db, "SELECT ids FROM segment_champions WHERE segment = 'text'"
                             " AND term = 'waa' AND columns = 63", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    int64_t first[8];   /* the list's first rows */
    for (int i = 0; i < 8; i++)
        first[i] = list_entry(sqlite3_column_blob(st, 0), i);
    sqlite3_finalize(st);
    char sql[160];
    int changed = 0;
    for (int i = 0; i < 8 && !changed; i++) {
        snprintf(sql, sizeof sql, "UPDATE captions SET ocr = '' WHERE image_id = %lld"
                 " AND ocr NOT LIKE '%%waa%%'", (long long)first[i]);
        CHECK(sqlite3_exec(c->db, sql, NULL, NULL, NULL) == SQLITE_OK);
        changed = sqlite3_changes(c->db);
    }
    also = ALSO_TEXT;
    CHECK(changed == 1);
    int64_t answered_before = catalog_text_rank_counts(c).segment;
    lists_exact = true;
    CHECK(compare_filtered(c, path, "\"waa\"", "", 0, NROWS, 40) == 40);
    lists_exact = false;
    also = ALSO_NOTHING;
    CHECK(catalog_text_rank_counts(c).segment == answered_before + 1);
    /* a segment with fewer rows than min_df has no lists */
    text_rank_settings high = {300, 200, 300, 50, 0};
    catalog_set_text_rank_settings(c, &high);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    segments = meta_value(path, "text_segments");
    CHECK(segments &&
          strcmp(segments, "380 faces\n304 type:png\n405 year:1970\n366 year:1972\n"
                           "366 year:1976\n365 year:1971\n365 year:1973\n365 year:1974\n"
                           "365 year:1975\n365 year:1977\n1520 folder:/lib/ab\n"
                           "760 folder:/lib/a") == 0);
    free(segments);
    catalog_close(c);
    free(path);
}

/* 10. folders and calendar months scattered over the rows (as when a
 * library was indexed in another order) get lists of their own; a month
 * whose rows are together does not (FTS5 reads them as one rowid range).
 * Single words filtered to a month equal FTS5's filtered ranking rank by
 * rank, from the month's lists. */
static void test_scattered_segments(const char *dir)
{
    char *path = fs_path_join(dir, "scattered.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    monthly = true;
    put_rows(c, 0, NROWS);
    monthly = false;
    /* 3000 rows: FTS5 reads a scattered month's 270 rows as one range over
     * every row (about 86 us), December's 300 as one of 300 (27 us) */
    text_rank_settings scattered = {100, 200, 300, 50, 50};
    catalog_set_text_rank_settings(c, &scattered);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    char *segments = meta_value(path, "text_segments");
    CHECK(segments != NULL);
    for (int m = 1; segments && m <= 10; m++) {
        char line[64];
        snprintf(line, sizeof line, " month:1971-%02d", m);
        CHECK(strstr(segments, line) != NULL);
    }
    CHECK(segments && !strstr(segments, "month:1971-12"));
    CHECK(segments && strstr(segments, " folder:/lib/p3\n"));
    free(segments);
    /* a month's bounds name its segment; a day less names none */
    char name[TEXT_SEGMENT_NAME_MAX];
    cs_filter march = {.has_from = true, .from = (365 + 59) * DAY, .has_to = true,
                       .to = (365 + 90) * DAY - 1};
    CHECK(text_segment_dates_name(&march, name, sizeof name) &&
          strcmp(name, "month:1971-03") == 0);
    march.to -= DAY;
    CHECK(!text_segment_dates_name(&march, name, sizeof name));
    int64_t before = catalog_text_rank_counts(c).segment;
    lists_exact = true;
    to_end_of_day = true;
    for (int r = 0; r < 12; r++) {
        char q[64];
        snprintf(q, sizeof q, "\"%.16s\"", words[r]);
        CHECK(compare_filtered(c, path, q, "", 365 + 59, 365 + 89, 20) > 0);    /* March */
        CHECK(compare_filtered(c, path, q, "", 365 + 334, 365 + 364, 20) > 0);  /* December */
        CHECK(compare_filtered(c, path, q, "/lib/p3", 0, NROWS, 20) > 0);
    }
    to_end_of_day = false;
    lists_exact = false;
    int64_t by_lists = catalog_text_rank_counts(c).segment - before;
    printf("single words in a scattered month and folder: %lld of 24 by their lists\n",
           (long long)by_lists);
    CHECK(by_lists >= 20);
    /* with no cost to weigh, December gets lists too */
    scattered.scattered_us = 0;
    catalog_set_text_rank_settings(c, &scattered);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    segments = meta_value(path, "text_segments");
    CHECK(segments && strstr(segments, " month:1971-12"));
    free(segments);
    /* the handle read the record before: it serves December now */
    before = catalog_text_rank_counts(c).segment;
    lists_exact = true;
    to_end_of_day = true;
    CHECK(compare_filtered(c, path, "\"waa\"", "", 365 + 334, 365 + 364, 20) > 0);
    to_end_of_day = false;
    lists_exact = false;
    CHECK(catalog_text_rank_counts(c).segment == before + 1);
    catalog_close(c);
    free(path);
}

/* 9. OR'ed words where rows holding two of them lead but no row holds all
 * three: long rows with two less common words each (on neither list), the
 * OR of those two and a common word. Reading the AND of the two (a set
 * page_final leaves uncovered) finds them and proves the page; the AND of
 * the common word and one of the two holds more rows than a search reads,
 * so that set stays open until the lists are read deeper. Every page
 * equals FTS5's, and most are proven. */
static void test_pair_conjunctions(const char *dir)
{
    char *path = fs_path_join(dir, "pairs.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    put_rows(c, 0, NROWS);
    char two[64];
    for (int a = 24; a < 34; a += 2) {
        snprintf(two, sizeof two, "%s %s", words[a], words[a + 1]);
        put_padded_rows(c, NROWS + a * 3, NROWS + a * 3 + 3, two);
    }
    text_rank_settings brief = {100, 60, 300, 50, 0};
    catalog_set_text_rank_settings(c, &brief);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    text_rank_counts before = catalog_text_rank_counts(c);
    int queries = 0, led = 0;
    char q[128];
    for (int a = 24; a < 34; a += 2) {
        snprintf(q, sizeof q, "\"%s\" OR \"%s\" OR \"%s\"", words[10], words[a], words[a + 1]);
        int64_t top[10];
        double top_s[10];
        size_t n = fts5_rank(path, q, 10, top, top_s);
        for (size_t i = 0; i < n; i++)
            led += top[i] > NROWS;   /* a padded row */
        compare(c, path, q, 10, true);
        queries++;
    }
    text_rank_counts after = catalog_text_rank_counts(c);
    printf("pairs: %d queries, %d padded rows in FTS5's pages, %lld proven, %lld ANDs read\n",
           queries, led, (long long)(after.proven - before.proven),
           (long long)(after.conjunctions - before.conjunctions));
    CHECK(led >= queries);   /* the padded rows do lead */
    CHECK_INT_EQ(after.champion - before.champion, queries);
    CHECK(after.proven - before.proven >= queries - 1);
    CHECK(after.conjunctions - before.conjunctions > queries);   /* more than the AND of all */
    catalog_close(c);
    free(path);
}

/* A row's size record: its columns' varints summed; a damaged one is -1
 * (the size is then looked up by FTS5), never a wrong size. Checked
 * against the catalog's own records, summed with SQLite's varint rule. */
static void test_doc_tokens(catalog *c)
{
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(c->db, "SELECT sz FROM captions_fts_docsize LIMIT 50", -1, &st,
                             NULL) == SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *sz = sqlite3_column_blob(st, 0);
        int n = sqlite3_column_bytes(st, 0);
        int64_t want = 0;
        for (int at = 0; at < n;) {   /* one to eight 7-bit groups, high bit: more */
            int64_t v = 0;
            while (at < n && (sz[at] & 0x80))
                v = (v << 7) | (sz[at++] & 0x7f);
            v = (v << 7) | (sz[at++] & 0x7f);
            want += v;
        }
        CHECK_INT_EQ(fts_doc_tokens(sz, n), want);
        rows++;
    }
    sqlite3_finalize(st);
    CHECK(rows == 50);
    const unsigned char big[] = {0x81, 0x00, 0x05};   /* 128 + 5 */
    CHECK_INT_EQ(fts_doc_tokens(big, 3), 133);
    const unsigned char cut[] = {0x05, 0x81};   /* the second varint cut short */
    CHECK_INT_EQ(fts_doc_tokens(cut, 2), -1);
    const unsigned char huge[] = {0x8f, 0xff, 0xff, 0xff, 0x7f};   /* more than a row holds */
    CHECK_INT_EQ(fts_doc_tokens(huge, 5), -1);
    CHECK_INT_EQ(fts_doc_tokens(NULL, 0), 0);
}

/* cs_bm25 called without its parameters, or with fewer idf than the
 * query has phrases: an SQL error, not a crash or a wrong score. */
static void test_bm25_function_refuses(catalog *c)
{
    double idf[1] = {1.0};
    fts_bm25_params one = {.idf = idf, .nphrases = 1, .weights = fts_column_weights,
                           .ncolumns = FTS_NCOLUMNS, .avgdl = 10.0};
    const char *matches[] = {"\"waa\"", "\"waa\" OR \"wab\""};
    for (int with = 0; with < 2; with++) {
        sqlite3_stmt *st;
        CHECK(sqlite3_prepare_v2(c->db, "SELECT cs_bm25(captions_fts, ?2) FROM captions_fts"
                                        " WHERE captions_fts MATCH ?1", -1, &st, NULL) ==
              SQLITE_OK);
        sqlite3_bind_text(st, 1, matches[with], -1, SQLITE_STATIC);
        if (with)
            sqlite3_bind_pointer(st, 2, &one, FTS_BM25_POINTER, NULL);
        CHECK(sqlite3_step(st) == SQLITE_ERROR);
        CHECK(strstr(sqlite3_errmsg(c->db), "cs_bm25") != NULL);
        sqlite3_finalize(st);
    }
}

static int64_t champion_answers(catalog *c)
{
    return catalog_text_rank_counts(c).champion;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (int r = 0; r < NWORDS; r++)
        snprintf(words[r], sizeof words[r], "w%c%c", 'a' + r / 26, 'a' + r % 26);
    strcpy(words[3], "running");     /* porter: run */
    strcpy(words[7], "caf\xc3\xa9"); /* remove_diacritics: cafe */
    strcpy(words[9], "it's");
    fs_mkdir_p(argv[1], NULL);
    char *path = fs_path_join(argv[1], "textrank.db");
    unlink(path);
    cs_error err = {0};
    catalog *c;
    CHECK_OK(catalog_open(path, false, &c, &err), &err);

    /* empty catalog: a rebuild and a search */
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    compare(c, path, "\"waa\"", 10, true);

    put_rows(c, 0, NROWS);
    /* words of rank 10-12: about 600 rows each, each two of them in more
     * rows than a list holds, all three in fewer */
    char three[64];
    snprintf(three, sizeof three, "%s %s %s", words[10], words[11], words[12]);
    put_padded_rows(c, NROWS, NROWS + 5, three);

    /* 1. lists that hold every match: own bm25 == FTS5's bm25 */
    text_rank_settings all = {50, 4000, 0, 1000, 0};
    catalog_set_text_rank_settings(c, &all);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    const char *shapes[] = {
        "\"waa\"", "\"wab\" OR \"wac\"", "\"running\"", "\"run\" OR \"wad\"",
        "\"cafe\" OR \"wae\"", "\"it's\" OR \"waf\"", "\"waa wab\" OR \"wac\"",
        "\"wag\" OR \"wdz\" *", "\"wah\" OR related : (\"wai\")", "related : (\"waa\")",
        "(\"waa\" OR \"wab\") NOT \"wac\"", "(\"waj\") NOT (\"wak\" OR \"wal\" *)",
        "\"wbm\" OR \"wcx\" OR \"wdq\" OR \"waa\"", "\"wam\" OR \"wan\" OR \"it\"\"s\"",
    };
    int64_t before = champion_answers(c);
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        compare(c, path, shapes[i], 1000, true);
    printf("bm25 shapes on the champion path: %lld of %zu\n",
           (long long)(champion_answers(c) - before), sizeof shapes / sizeof *shapes);
    CHECK(champion_answers(c) - before >= 8);

    /* 2. short lists: single words exact, OR'ed words by recall */
    text_rank_settings shortl = {100, 200, 300, 50, 0};
    catalog_set_text_rank_settings(c, &shortl);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    before = champion_answers(c);
    char q[4096];
    for (int r = 0; r < 12; r++) {
        snprintf(q, sizeof q, "\"%s\"", words[r]);
        compare(c, path, q, 10, true);
    }
    CHECK(champion_answers(c) - before >= 6);
    double sum = 0;
    int nq = 0;
    for (int a = 0; a < 10; a++)
        for (int b = a + 1; b < 12; b += 3) {
            snprintf(q, sizeof q, "\"%s\" OR \"%s\"", words[a], words[b]);
            sum += compare(c, path, q, 10, false);
            nq++;
        }
    printf("recall@10 of OR'ed words: %.3f over %d queries\n", sum / nq, nq);
    CHECK(sum / nq >= 0.95);
    /* three common words: the padded rows (ids NROWS+1..NROWS+5) are on no
     * (60-row) list, FTS5 ranks them first, and so must the champion path */
    text_rank_settings brief = {100, 60, 300, 50, 0};
    catalog_set_text_rank_settings(c, &brief);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    int64_t padded = NROWS + 1;
    for (int w = 10; w <= 12; w++)
        CHECK(!on_list(path, words[w], padded));
    snprintf(q, sizeof q, "\"%s\" OR \"%s\" OR \"%s\"", words[10], words[11], words[12]);
    int64_t top[1];
    double top_s[1];
    CHECK(fts5_rank(path, q, 1, top, top_s) == 1 && top[0] >= padded);
    before = champion_answers(c);
    compare(c, path, q, 10, true);
    CHECK(champion_answers(c) == before + 1);
    catalog_set_text_rank_settings(c, &shortl);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);

    /* 3. changed and deleted rows: pending, then a rebuild */
    CHECK_OK(catalog_begin(c, &err), &err);
    for (int64_t id = 1; id <= 20; id++)
        CHECK_OK(catalog_set_related(c, id * 7, "waa waa waa waa waa waa", &err), &err);
    for (int64_t id = 1; id <= 10; id++)
        CHECK_OK(catalog_delete_image(c, id * 13, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    before = champion_answers(c);
    compare(c, path, "\"waa\"", 10, true);
    compare(c, path, "\"wab\"", 10, true);
    compare(c, path, "related : (\"waa\")", 10, true);
    CHECK(champion_answers(c) - before == 3);
    bool stale = false;
    CHECK_OK(catalog_champions_stale(c, &stale, &err), &err);
    CHECK(!stale);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    compare(c, path, "\"waa\"", 10, true);

    /* 4. odd input: every alternative rare, quotes, non-ASCII, pending overflow */
    before = champion_answers(c);
    compare(c, path, "\"wdz\" OR \"wdy\"", 10, true);
    compare(c, path, "\"\"\"\" OR \"waa\"", 10, true);
    compare(c, path, "\"\xe6\x97\xa5\xe6\x9c\xac\" OR \"waa\"", 10, true);
    compare(c, path, "NEAR(\"waa\" \"wab\")", 10, true);
    compare(c, path, "\"waa\" * OR \"wab\"", 10, true);
    CHECK(champion_answers(c) - before <= 2);
    put_rows(c, NROWS + 5, NROWS + 65);   /* 60 > pending_max 50 */
    before = champion_answers(c);
    compare(c, path, "\"waa\"", 10, true);
    CHECK(champion_answers(c) == before);
    CHECK_OK(catalog_champions_stale(c, &stale, &err), &err);
    CHECK(stale);
    catalog_close(c);

    /* 5. a catalog of version 4 is migrated; FTS5 answers until a rebuild */
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_exec(db, "DROP TRIGGER captions_pending_insert; DROP TRIGGER captions_pending_update;"
                     "DROP TRIGGER captions_pending_delete; DROP TABLE text_champions;"
                     "DROP TABLE text_pending; DROP TABLE segment_champions;"
                     "DELETE FROM meta WHERE key IN ('text_champions', 'text_segments');"
                     "DROP INDEX images_format; DROP INDEX tags_kind;"
                     "DROP INDEX captions_with_text; DROP INDEX images_camera;"
                     "DROP INDEX images_folder_taken; CREATE INDEX images_folder ON images(folder);"
                     "PRAGMA user_version = 4", NULL, NULL, NULL);
    sqlite3_close(db);
    CHECK_OK(catalog_open(path, false, &c, &err), &err);
    CHECK_INT_EQ(catalog_schema_version(c), CATALOG_SCHEMA_VERSION);
    catalog_set_text_rank_settings(c, &shortl);
    before = champion_answers(c);
    compare(c, path, "\"waa\"", 10, true);
    CHECK(champion_answers(c) == before);
    CHECK_OK(catalog_rebuild_champions(c, &err), &err);
    compare(c, path, "\"waa\"", 10, true);
    CHECK(champion_answers(c) == before + 1);
    test_bm25_function_refuses(c);
    test_doc_tokens(c);
    catalog_close(c);
    free(path);

    test_filtered(argv[1]);
    test_kept_ranges(argv[1]);
    test_segments(argv[1]);
    test_pair_conjunctions(argv[1]);
    test_scattered_segments(argv[1]);
    CHECK_DONE();
}
