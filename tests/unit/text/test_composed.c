/* Composed queries (search/composed.h): which texts are composed and which
 * stay plain text, the terms and signed weights read, clear errors for
 * malformed ones, hostile input (unbalanced quotes, absurd weights, empty
 * terms, 10,000 terms, invalid UTF-8, fuzzed strings) never crashing, and
 * the text side's FTS5 expression (fts_query_build_phrases) run against a
 * real FTS5 table. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "search/composed.h"
#include "search/ftsquery.h"

/* Parses and checks the terms: `want` is "text=weight;..." or NULL for
 * plain text. */
static void expect_terms(const char *input, const char *want, int line)
{
    composed_query *q = NULL;
    cs_error err = {0};
    cs_status rc = composed_parse(input, &q, &err);
    char got[1024] = "";
    if (rc == CS_OK && q)
        for (size_t i = 0; i < q->n; i++) {
            size_t len = strlen(got);
            snprintf(got + len, sizeof got - len, "%s%s=%g", i ? ";" : "", q->terms[i].text,
                     q->terms[i].weight);
        }
    bool same = rc == CS_OK && (want ? q && strcmp(got, want) == 0 : q == NULL);
    if (!same) {
        fprintf(stderr, "%s:%d: [%s] rc %d (%s)\n  got      [%s]\n  expected [%s]\n", __FILE__,
                line, input, (int)rc, err.message, q ? got : "(plain)",
                want ? want : "(plain)");
        check_failures++;
    }
    composed_free(q);
}

/* A text of the composed shape that is wrong: CS_ERR_INVALID whose
 * message contains `says`. */
static void expect_error(const char *input, const char *says, int line)
{
    composed_query *q = (composed_query *)1;
    cs_error err = {0};
    cs_status rc = composed_parse(input, &q, &err);
    if (rc != CS_ERR_INVALID || q != NULL || !strstr(err.message, says)) {
        fprintf(stderr, "%s:%d: [%.80s] expected an error saying '%s', got rc %d (%s)\n",
                __FILE__, line, input, says, (int)rc, err.message);
        check_failures++;
    }
    if (rc == CS_OK)
        composed_free(q);
}

#define TERMS(input, want) expect_terms(input, want, __LINE__)
#define PLAIN(input) expect_terms(input, NULL, __LINE__)
#define ERROR(input, says) expect_error(input, says, __LINE__)

static void test_shapes(void)
{
    TERMS("\"beach\" + \"sunset\" - \"people\"", "beach=1;sunset=1;people=-1");
    TERMS("\"beach\"+\"sunset\"-\"people\"", "beach=1;sunset=1;people=-1");
    TERMS("  \"a b\"\t+\n\"c\"  ", "a b=1;c=1");
    TERMS("2:\"dog\" + 0.5:\"snow\"", "dog=2;snow=0.5");
    TERMS("\"dog\" - 1.25:\"cat\"", "dog=1;cat=-1.25");
    TERMS("\"dog\" +3:\"cat\"", "dog=1;cat=3");
    TERMS(".5:\"dog\" + 100:\"cat\"", "dog=0.5;cat=100");
    TERMS("\"x\" - \"x\"", "x=1;x=-1");   /* parses; the search says they cancel */
    /* quotes keep everything but '"' */
    TERMS("\"+ - :\" + \"é 東京\"", "+ - :=1;é 東京=1");
}

static void test_plain_text_stays_plain(void)
{
    PLAIN("");
    PLAIN("beach sunset");
    PLAIN("\"quoted words\"");             /* one term: a phrase, as before */
    PLAIN("2:\"dog\"");                    /* one term */
    PLAIN("-word");
    PLAIN("\"beach\" -people");            /* an operator before a bare word */
    PLAIN("\"beach\" \"sunset\"");         /* no operator */
    PLAIN("\"beach\" + sunset");
    PLAIN("\"beach\" + \"sunset");         /* unbalanced: plain, runs to the end */
    PLAIN("\"beach + \"sunset\"");
    PLAIN("\"beach\" +");                  /* trailing operator */
    PLAIN("\"beach\" + + \"sunset\"");
    PLAIN("+ \"beach\" + \"sunset\"");     /* leading operator */
    PLAIN("-\"people\" + \"beach\"");      /* a leading exclusion is today's syntax */
    PLAIN("\"beach\" & \"sunset\"");
    PLAIN("\"a\" + 2 :\"b\"");             /* a weight touches its quote */
    PLAIN("\"a\" + 2: \"b\"");
    PLAIN("dog: \"a\" + \"b\"");
    PLAIN("“beach” + “sunset”");           /* typographic quotes: plain */
}

static void test_malformed(void)
{
    ERROR("\"a\" + 1e999:\"b\"", "'1e999'");
    ERROR("1e999:\"a\" + \"b\"", "term 1");
    ERROR("\"a\" + -:\"b\"", "weight '-'");
    ERROR("\"a\" -:\"b\"", "weight ''");
    ERROR("-:\"a\" + \"b\"", "weight '-'");
    ERROR("\"a\" + 0:\"b\"", "above 0");
    ERROR("\"a\" + 100.5:\"b\"", "at most 100");
    ERROR("\"a\" + inf:\"b\"", "'inf'");
    ERROR("\"a\" + nan:\"b\"", "'nan'");
    ERROR("\"a\" + 0x10:\"b\"", "'0x10'");
    ERROR("\"a\" + 1.2.3:\"b\"", "'1.2.3'");
    ERROR("\"a\" + .:\"b\"", "'.'");
    ERROR("\"a\" + 00000000000000000000000000000000001:\"b\"", "term 2");
    ERROR("\"\" + \"dog\"", "term 1 of the composed query is empty");
    ERROR("\"dog\" + \"   \"", "term 2 of the composed query is empty");
    ERROR("\"a\" + \"b\" + \"c\" + \"d\" + \"e\" + \"f\" + \"g\" + \"h\" + \"i\" + \"j\" + "
          "\"k\" + \"l\" + \"m\" + \"n\" + \"o\" + \"p\" + \"q\"", "at most 16");
    /* 16 is the limit, not an error */
    TERMS("\"a\" + \"b\" + \"c\" + \"d\" + \"e\" + \"f\" + \"g\" + \"h\" + \"i\" + \"j\" + "
          "\"k\" + \"l\" + \"m\" + \"n\" + \"o\" + \"p\"",
          "a=1;b=1;c=1;d=1;e=1;f=1;g=1;h=1;i=1;j=1;k=1;l=1;m=1;n=1;o=1;p=1");
}

static void test_many_terms(void)
{
    /* 10,000 terms: refused by count, without building anything */
    size_t n = 10000;
    char *s = malloc(n * 8 + 1);
    CHECK(s != NULL);
    if (!s)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(s + len, "%s\"w%zu\"", i ? " + " : "", i % 10);
    ERROR(s, "this one has 10000");
    /* the same with the last quote missing: plain text */
    s[len - 1] = '\0';
    PLAIN(s);
    free(s);
}

static void test_invalid_utf8(void)
{
    /* bytes are kept as given inside quotes (the tokenizers cope) */
    TERMS("\"\xff\xfe\" + \"\xc3\"", "\xff\xfe=1;\xc3=1");
    ERROR("\"a\" + \xff:\"b\"", "term 2");
    PLAIN("\"a\" \xff \"b\"");
}

static void test_fuzz(void)
{
    /* random strings over the grammar's characters: any outcome but a
     * crash, a leak or an error without a message */
    static const char alphabet[] = "\"\"\"++--::  .019ab\xff\xc3\t";
    uint32_t seed = 12345;
    char s[64];
    for (int round = 0; round < 20000; round++) {
        size_t len = 0;
        seed = seed * 1103515245u + 12345u;
        size_t want = (seed >> 16) % (sizeof s - 1);
        while (len < want) {
            seed = seed * 1103515245u + 12345u;
            s[len++] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
        }
        s[len] = '\0';
        composed_query *q = NULL;
        cs_error err = {0};
        cs_status rc = composed_parse(s, &q, &err);
        if (rc == CS_OK && q) {
            CHECK(q->n >= 2 && q->n <= CS_MAX_QUERY_TERMS);
            for (size_t i = 0; i < q->n; i++)
                CHECK(q->terms[i].weight != 0.0 && fabs(q->terms[i].weight) <= 100.0);
        } else if (rc != CS_OK) {
            CHECK(rc == CS_ERR_INVALID && err.message[0]);
        }
        composed_free(q);
    }
}

/* ---------- the text side against FTS5 ---------- */

static const char *const docs[] = {
    /* 1 */ "a dog on the beach at sunset",
    /* 2 */ "people on the beach",
    /* 3 */ "a red sunset over the sea",
    /* 4 */ "a cat in the snow",
    /* 5 */ "beach volleyball, people playing",
};

static sqlite3 *open_table(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return NULL;
    int rc = sqlite3_exec(db, "CREATE VIRTUAL TABLE t USING fts5(a, tokenize='porter "
                              "unicode61 remove_diacritics 2')", NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof docs / sizeof docs[0]; i++) {
        char *sql = sqlite3_mprintf("INSERT INTO t(rowid, a) VALUES (%d, %Q)", (int)i + 1,
                                    docs[i]);
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
    }
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* The rowids the composed text's expression matches, as a bit set; -1 when
 * FTS5 refuses it; 0 when there is nothing to search. */
static long text_side(sqlite3 *db, const char *input, char **expr_out)
{
    composed_query *q = NULL;
    cs_error err = {0};
    *expr_out = NULL;
    if (composed_parse(input, &q, &err) != CS_OK || !q)
        return -2;
    const char *texts[CS_MAX_QUERY_TERMS];
    bool exclude[CS_MAX_QUERY_TERMS];
    for (size_t i = 0; i < q->n; i++) {
        texts[i] = q->terms[i].text;
        exclude[i] = q->terms[i].weight < 0;
    }
    char *expr = NULL;
    cs_status rc = fts_query_build_phrases(texts, exclude, q->n, &expr, &err);
    composed_free(q);
    if (rc != CS_OK)
        return -3;
    if (!expr)
        return 0;
    *expr_out = expr;
    sqlite3_stmt *st = NULL;
    long found = 0;
    int step = sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ?", -1, &st, NULL);
    if (step == SQLITE_OK) {
        sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
        while ((step = sqlite3_step(st)) == SQLITE_ROW)
            found |= 1L << sqlite3_column_int(st, 0);
    }
    if (step != SQLITE_DONE) {
        fprintf(stderr, "[%s] gave [%s]: %s\n", input, expr, sqlite3_errmsg(db));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

static void expect_text(sqlite3 *db, const char *input, const char *want_expr, long want,
                        int line)
{
    char *expr = NULL;
    long got = text_side(db, input, &expr);
    if (got != want || (want_expr && (!expr || strcmp(expr, want_expr) != 0))) {
        fprintf(stderr, "%s:%d: [%s] -> [%s] matched %#lx, expected [%s] %#lx\n", __FILE__,
                line, input, expr ? expr : "(none)", got, want_expr ? want_expr : "",
                want);
        check_failures++;
    }
    free(expr);
}

#define TEXT(input, expr, want) expect_text(db, input, expr, want, __LINE__)
#define DOCS(a, b, c) ((1L << (a)) | (1L << (b)) | (1L << (c)))

static void test_text_side(sqlite3 *db)
{
    TEXT("\"beach\" + \"sunset\"", "\"beach\" OR \"sunset\"", DOCS(1, 2, 3) | 1L << 5);
    TEXT("\"beach\" + \"sunset\" - \"people\"", "(\"beach\" OR \"sunset\") NOT \"people\"",
         DOCS(1, 3, 1));
    TEXT("\"on the beach\" + \"snow\"", "\"on the beach\" OR \"snow\"", DOCS(1, 2, 4));
    TEXT("2:\"beach\" - \"people\" - 3:\"dog\"", "(\"beach\") NOT (\"people\" OR \"dog\")", 0);
    /* quotes and operators inside a term are separators, never syntax */
    TEXT("\"beach OR\" + \"NOT cat*\"", "\"beach OR\" OR \"NOT cat\"", 0);
    TEXT("\"sea “red”\" + \"x\"", "\"sea red\" OR \"x\"", 0);
    /* a term without words adds nothing; only negative words: nothing */
    TEXT("\"!!!\" + \"cat\"", "\"cat\"", 1L << 4);
    TEXT("\"!!!\" - \"cat\"", NULL, 0);
    TEXT("\"\xff\" + \"\xc3\"", NULL, 0);
    /* repeats are one term */
    TEXT("\"Beach\" + \"beach\" - \"x\" - \"X\"", "(\"Beach\") NOT \"x\"", DOCS(1, 2, 5));
}

int main(void)
{
    test_shapes();
    test_plain_text_stays_plain();
    test_malformed();
    test_many_terms();
    test_invalid_utf8();
    test_fuzz();
    sqlite3 *db = open_table();
    CHECK(db != NULL);
    if (db) {
        test_text_side(db);
        sqlite3_close(db);
    }
    CHECK_DONE();
}
