/* fts_query_build: exact expressions for the rules in ftsquery.h, then every
 * expression built from hostile input is run against a real FTS5 table with
 * the catalog's tokenizer (no input may be a syntax error), then what a
 * person expects to match does match. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "search/ftsquery.h"

/* ---------- exact expressions ---------- */

typedef cs_status (*builder)(const char *user_text, char **out, cs_error *err);

static void expect_built(builder build, const char *input, const char *expected, int line)
{
    char *got = (char *)1;
    cs_error err = {0};
    cs_status rc = build(input, &got, &err);
    bool same = rc == CS_OK && (expected ? got && strcmp(got, expected) == 0 : got == NULL);
    if (!same) {
        fprintf(stderr, "%s:%d: query [%s] (rc %d %s)\n  got      [%s]\n  expected [%s]\n",
                __FILE__, line, input, (int)rc, err.message,
                rc == CS_OK && got ? got : "(null)", expected ? expected : "(null)");
        check_failures++;
    }
    if (rc == CS_OK)
        free(got);
}

#define EXPECT(input, expected) expect_built(fts_query_build, input, expected, __LINE__)
#define EXPECT_EXCLUDED(input, expected) \
    expect_built(fts_query_build_excluded, input, expected, __LINE__)

static void test_words_and_stop_words(void)
{
    EXPECT("dog", "\"dog\"");
    EXPECT("red car", "\"red\" OR \"car\"");
    EXPECT("a dog on the beach", "\"dog\" OR \"beach\"");
    EXPECT("photos of my dog", "\"dog\"");
    /* only stop words: they are all there is, so they stay */
    EXPECT("the", "\"the\"");
    EXPECT("The Who", "\"The\" OR \"Who\"");
    /* repeats are one term (FTS5 folds case) */
    EXPECT("Dog dog DOG dog", "\"Dog\"");
    EXPECT("dog's toy", "\"dog's\" OR \"toy\"");
    EXPECT("t-shirt 3.5mm", "\"t-shirt\" OR \"3.5mm\"");
    EXPECT("beach--sunset", "\"beach\" OR \"sunset\"");
    EXPECT("café", "\"café\"");
    EXPECT("東京 タワー", "\"東京\" OR \"タワー\"");
    EXPECT("😀", "\"😀\"");
}

static void test_operators_are_words(void)
{
    /* and, or, not are stop words; with nothing else left they stay */
    EXPECT("AND OR NOT", "\"AND\" OR \"OR\" OR \"NOT\"");
    EXPECT("cats AND dogs", "\"cats\" OR \"dogs\"");
    EXPECT("NEAR(a b, 3)", "\"NEAR\" OR \"b\" OR \"3\"");
    EXPECT("caption:dog", "\"caption\" OR \"dog\"");
    EXPECT("^start +plus", "\"start\" OR \"plus\"");
    EXPECT("(dog)", "\"dog\"");
    EXPECT("{col1 col2}: x", "\"col1\" OR \"col2\" OR \"x\"");
}

static void test_phrases_prefixes_exclusions(void)
{
    EXPECT("\"red car\"", "\"red car\"");
    EXPECT("\"red car", "\"red car\"");                 /* unclosed: to the end */
    EXPECT("“red car”", "\"red car\"");                 /* typographic quotes */
    EXPECT("«voiture rouge»", "\"voiture rouge\"");
    EXPECT("\"the who\" live", "\"the who\" OR \"live\"");   /* phrases keep stop words */
    EXPECT("\"\"\"\"", NULL);
    EXPECT("\"  !! \"", NULL);
    EXPECT("beac*", "\"beac\" *");
    EXPECT("beac** sun", "\"beac\" * OR \"sun\"");
    EXPECT("the*", "\"the\" *");                        /* a prefix is never a stop word */
    EXPECT("\"red ca\"*", "\"red ca\" *");
    EXPECT("cat -dog", "(\"cat\") NOT \"dog\"");
    EXPECT("cat -dog -bird", "(\"cat\") NOT (\"dog\" OR \"bird\")");
    EXPECT("cat --dog", "(\"cat\") NOT \"dog\"");
    EXPECT("-\"red car\" boat", "(\"boat\") NOT \"red car\"");
    EXPECT("cat -beac*", "(\"cat\") NOT \"beac\" *");
    EXPECT("cat -dog -dog -DOG", "(\"cat\") NOT \"dog\"");
    EXPECT("dog -", "\"dog\"");
    EXPECT("dog - cat", "\"dog\" OR \"cat\"");
}

static void test_nothing_to_search(void)
{
    EXPECT("", NULL);
    EXPECT("   ", NULL);
    EXPECT("!!! *** ---", NULL);
    EXPECT("-dog", NULL);
    EXPECT("-dog -cat", NULL);
    EXPECT("\x01\x02\x7f", NULL);
    EXPECT("\xff\xfe\xc0\xaf", NULL);
}

/* fts_query_build_excluded: the exclusions of a text without words, as
 * an expression that matches them; nothing when there are words. */
static void test_exclusions_alone(void)
{
    EXPECT_EXCLUDED("-dog", "\"dog\"");
    EXPECT_EXCLUDED("  -dog   -cat ", "\"dog\" OR \"cat\"");
    EXPECT_EXCLUDED("-dog -DOG -Dog", "\"dog\"");
    EXPECT_EXCLUDED("-\"red car\" -beac*", "\"red car\" OR \"beac\" *");
    EXPECT_EXCLUDED("dog -cat", NULL);   /* words: fts_query_build's case */
    EXPECT_EXCLUDED("the -cat", NULL);   /* a stop word alone is a word */
    EXPECT_EXCLUDED("", NULL);
    EXPECT_EXCLUDED("   ", NULL);
    EXPECT_EXCLUDED("!!! *** ---", NULL);
    EXPECT_EXCLUDED("t-shirt", NULL);   /* a hyphen inside a word is no exclusion */
    char *out = (char *)1;
    cs_error err = {0};
    CHECK_INT_EQ(fts_query_build_excluded(NULL, &out, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(fts_query_build_excluded("-dog", NULL, &err), CS_ERR_INVALID);
}

#define EXPECT_TOWER(input, expected) \
    expect_built(fts_query_tower_text, input, expected, __LINE__)
#define EXPECT_EXCLUSIONS(input, expected) \
    expect_built(fts_query_exclusions, input, expected, __LINE__)

/* What the text tower reads of a query: the words, not the syntax; and
 * what the vector list leaves out. */
static void test_tower_text(void)
{
    EXPECT_TOWER("beach -people", "beach");
    EXPECT_TOWER("-people beach", "beach");
    EXPECT_TOWER("kids on a beach -\"red car\" at sunset", "kids on a beach at sunset");
    EXPECT_TOWER("beach -peop* sunset", "beach sunset");
    EXPECT_TOWER("beach --people", "beach");
    EXPECT_TOWER("t-shirt -blue", "t-shirt");
    EXPECT_TOWER("  café   -crème   brûlée ", "café brûlée");
    EXPECT_TOWER("dog -\"unclosed cat", "dog");
    EXPECT_TOWER("dog -cat!", "dog !");   /* punctuation is not the word's */
    EXPECT_TOWER("2:dog -cat", "2:dog");
    EXPECT_TOWER("-dog", "");
    EXPECT_TOWER("\"red car\" in the rain", "red car in the rain");
    EXPECT_TOWER("\xe2\x80\x9cred car\xe2\x80\x9d", "red car");   /* typographic quotes */
    EXPECT_TOWER("beac* at sunset", "beac at sunset");
    EXPECT_TOWER("\"red car\"* -tree", "red car");
    EXPECT_TOWER("beach  sunset", "beach sunset");
    EXPECT_TOWER("beach - people", NULL);   /* a dash alone excludes nothing */
    EXPECT_TOWER("5 * 3", NULL);            /* a star alone is no prefix */
    EXPECT_TOWER("dog's t-shirt", NULL);
    EXPECT_TOWER("beach", NULL);
    EXPECT_TOWER("", NULL);
    EXPECT_EXCLUSIONS("beach -people -\"red car\"", "\"people\" OR \"red car\"");
    EXPECT_EXCLUSIONS("beach -Dog -dog -beac*", "\"Dog\" OR \"beac\" *");
    EXPECT_EXCLUSIONS("-dog", "\"dog\"");
    EXPECT_EXCLUSIONS("beach", NULL);
    EXPECT_EXCLUSIONS("t-shirt", NULL);
    char *out = (char *)1;
    cs_error err = {0};
    CHECK_INT_EQ(fts_query_tower_text(NULL, &out, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(fts_query_tower_text("-dog", NULL, &err), CS_ERR_INVALID);
}

static void test_invalid_utf8_dropped(void)
{
    EXPECT("caf\xff\xfe", "\"caf\"");
    EXPECT("a\xff" "dog", "\"dog\"");
    EXPECT("dog\xe6\x9d", "\"dog\"");                    /* truncated sequence */
    EXPECT("x\xed\xa0\x80y", "\"x\" OR \"y\"");           /* surrogate */
    EXPECT("tab\there\r\nnew", "\"tab\" OR \"new\"");   /* "here" is a stop word */
}

static void test_bad_arguments(void)
{
    cs_error err = {0};
    char *out = (char *)1;
    CHECK_INT_EQ(fts_query_build(NULL, &out, &err), CS_ERR_INVALID);
    CHECK(out == NULL);
    CHECK(err.message[0] != '\0');
    CHECK_INT_EQ(fts_query_build("dog", NULL, &err), CS_ERR_INVALID);
}

/* ---------- against SQLite ---------- */

static const char *const docs[] = {
    /* 1 */ "a boat on the lake",
    /* 2 */ "a red car parked by the road",
    /* 3 */ "a car that is red",
    /* 4 */ "a dog on the beach",
    /* 5 */ "a dog and a cat",
    /* 6 */ "a cat sleeping",
    /* 7 */ "morning at the cafe",
    /* 8 */ "a house near the river",
    /* 9 */ "t-shirt with print",
    /* 10 */ "a cat and a bird",
};

static sqlite3 *open_table(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return NULL;
    int rc = sqlite3_exec(db,
                          "CREATE VIRTUAL TABLE t USING fts5(a, tokenize='porter unicode61 "
                          "remove_diacritics 2')",
                          NULL, NULL, NULL);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(db, "INSERT INTO t(rowid, a) VALUES (?, ?)", -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof docs / sizeof docs[0]; i++) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)(i + 1));
        sqlite3_bind_text(st, 2, docs[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "setting up the FTS5 table: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Runs expr with MATCH; returns a bit set of matching rowids (1..10), or -1
 * with the SQLite message printed when the expression is rejected. */
static long run_match(sqlite3 *db, const char *expr, const char *input_label)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT rowid FROM t WHERE t MATCH ? ORDER BY rank", -1, &st,
                                NULL);
    long found = 0;
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            found |= 1L << sqlite3_column_int64(st, 0);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "input %s gave expression [%.200s]: %s\n", input_label, expr,
                sqlite3_errmsg(db));
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

static bool valid_utf8(const unsigned char *s)
{
    /* independent check: decode, reject overlong, surrogates, > U+10FFFF */
    while (*s) {
        uint32_t cp;
        int n;
        if (*s < 0x80) { cp = *s; n = 1; }
        else if ((*s & 0xE0) == 0xC0) { cp = *s & 0x1F; n = 2; }
        else if ((*s & 0xF0) == 0xE0) { cp = *s & 0x0F; n = 3; }
        else if ((*s & 0xF8) == 0xF0) { cp = *s & 0x07; n = 4; }
        else return false;
        for (int k = 1; k < n; k++) {
            if ((s[k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (s[k] & 0x3F);
        }
        static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min_for_len[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += n;
    }
    return true;
}

/* Builds and runs one input; the label names it in failures. */
static void check_hostile(sqlite3 *db, const char *input, const char *label)
{
    char *expr = NULL;
    cs_error err = {0};
    cs_status rc = fts_query_build(input, &expr, &err);
    if (rc != CS_OK) {
        fprintf(stderr, "input %s: status %d: %s\n", label, (int)rc, err.message);
        check_failures++;
        return;
    }
    if (expr && !valid_utf8((const unsigned char *)expr)) {
        fprintf(stderr, "input %s: expression is not valid UTF-8\n", label);
        check_failures++;
    }
    if (expr && run_match(db, expr, label) < 0)
        check_failures++;
    free(expr);
    /* what a text of exclusions alone excludes runs as safely */
    expr = NULL;
    if (fts_query_build_excluded(input, &expr, &err) != CS_OK) {
        fprintf(stderr, "input %s: excluded: %s\n", label, err.message);
        check_failures++;
    } else if (expr && run_match(db, expr, label) < 0) {
        check_failures++;
    }
    free(expr);
}

static void test_hostile_inputs(sqlite3 *db)
{
    static const char *const inputs[] = {
        "\"", "\"\"", "\"\"\"", "\"\"\"\"", "'", "''", "'''", "`", "``", "“", "”", "„", "«", "»",
        "＂", "‘’", "\"dog", "dog\"", "do\"g", "\"red \"car\"", "'red car'", "“red car\"",
        "AND", "OR", "NOT", "NEAR", "AND OR NOT NEAR(a b, 3)", "NEAR(a b, 3)", "NEAR/3",
        "a NEAR b", "dog AND", "OR dog", "NOT dog", "dog NOT", "*", "**", "a*", "*a", "a*b*c",
        "\"a\"*", "^", "^dog", ":", "col:word", "a:b:c", "{a b}:c", "(", ")", "()", "(dog",
        "dog)", "((dog))", "+", "+dog", "dog+", "-", "--", "---dog", "-\"", "-\"\"", "-*",
        "-(dog)", "- -", "\"-dog\"", "dog -\"", "😀", "😀 -dog", "👩‍👩‍👧", "🇫🇷", "東京タワー",
        "写真 の 猫", "한국어 사진", "안녕하세요", "café crème", "naïve façade", "Ωμέγα",
        "Привет мир", "עברית", "مرحبا", "\xe2\x80\x8b", "a\xcc\x81", "\xff", "\xfe\xff",
        "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe6\x9d", "dog\x01" "cat", "\x1b[31mred",
        "\t\r\n\v\f", "\x7f", "", " ", "the", "the of and a", "a an the of on at with",
        "0", "000", "1e10", "3.14", "..", ".", "'s", "dog's", "rock'n'roll", "x--y", "\\",
        "\\\"", "%", "_", "$", "@", "#", "!", "?", ";", ",", "<>", "&", "|", "~", "=", "[", "]",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        char label[32];
        snprintf(label, sizeof label, "#%zu", i);
        check_hostile(db, inputs[i], label);
    }
}

static void test_very_long_input(sqlite3 *db)
{
    size_t n = 100 * 1024;
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    if (!s)
        return;
    /* distinct words: aaaa0 bbbb1 ... plus operators and quotes mixed in */
    static const char *const noise[] = {" AND ", " \"", " -", "* ", " NEAR(", ") ", " OR ", ":"};
    size_t p = 0;
    for (unsigned i = 0; p + 32 < n; i++) {
        p += (size_t)snprintf(s + p, n - p, "w%c%c%u%s", 'a' + i % 26, 'a' + i / 26 % 26, i,
                              noise[i % 8]);
    }
    memset(s + p, 'z', n - p);   /* and one very long word at the end */
    s[n] = '\0';
    check_hostile(db, s, "100 KB of words");
    memset(s, 'x', n);           /* one 100 KB word */
    check_hostile(db, s, "a 100 KB word");
    memset(s, '"', n);           /* 100 KB of quotes */
    check_hostile(db, s, "100 KB of quotes");
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(i % 2 ? '-' : 'a');
    check_hostile(db, s, "a-a-a-...");
    for (size_t i = 0; i < n; i++)
        s[i] = (char)(i % 3 == 2 ? ' ' : i % 3 ? 'x' : '-');
    check_hostile(db, s, "-x -x -x ... (only exclusions)");
    free(s);
}

/* Deterministic random strings from a hostile alphabet. */
static void test_fuzz(sqlite3 *db)
{
    static const char *const pieces[] = {
        "\"", "'", "(", ")", "*", "^", ":", "-", "+", " ", " ", "AND", "OR", "NOT", "NEAR",
        "dog", "cat", "a", "the", "é", "😀", "東", "“", "”", "«", "\xff", "\xc3", "\x80",
        "\x01", ",", ".", "{", "}", "\\", "/", "0", "42",
    };
    uint64_t state = 0x9E3779B97F4A7C15u;
    char buf[256];
    for (int round = 0; round < 5000; round++) {
        size_t len = 0;
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        int count = (int)(state % 24);
        for (int i = 0; i < count; i++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            const char *piece = pieces[state % (sizeof pieces / sizeof pieces[0])];
            size_t pl = strlen(piece);
            if (len + pl >= sizeof buf)
                break;
            memcpy(buf + len, piece, pl);
            len += pl;
        }
        buf[len] = '\0';
        char label[32];
        snprintf(label, sizeof label, "fuzz round %d", round);
        check_hostile(db, buf, label);
    }
}

/* ---------- what matches ---------- */

static long rows(int a, int b, int c, int d)
{
    long set = 0;
    int r[4] = {a, b, c, d};
    for (int i = 0; i < 4; i++)
        if (r[i])
            set |= 1L << r[i];
    return set;
}

static void expect_matches(sqlite3 *db, const char *input, long expected, int line)
{
    char *expr = NULL;
    cs_error err = {0};
    long got = -2;
    if (fts_query_build(input, &expr, &err) == CS_OK)
        got = expr ? run_match(db, expr, input) : 0;
    if (got != expected) {
        fprintf(stderr, "%s:%d: [%s] -> [%s] matched set %#lx, expected %#lx\n", __FILE__, line,
                input, expr ? expr : "(null)", got, expected);
        check_failures++;
    }
    free(expr);
}

#define MATCHES(input, a, b, c, d) expect_matches(db, input, rows(a, b, c, d), __LINE__)

static void test_semantics(sqlite3 *db)
{
    MATCHES("boats", 1, 0, 0, 0);            /* porter: boats -> boat */
    MATCHES("café", 7, 0, 0, 0);             /* diacritics folded */
    MATCHES("CAFÉ", 7, 0, 0, 0);
    MATCHES("-dog cat", 6, 10, 0, 0);        /* doc 5 has a dog */
    MATCHES("cat -dog -bird", 6, 0, 0, 0);
    MATCHES("cat -\"a bird\"", 5, 6, 0, 0);  /* excluding a phrase */
    MATCHES("\"red car\"", 2, 0, 0, 0);      /* doc 3 has both words, not the phrase */
    MATCHES("red car", 2, 3, 0, 0);
    MATCHES("beac*", 4, 0, 0, 0);
    MATCHES("NEAR", 8, 0, 0, 0);             /* the word, not the operator */
    MATCHES("AND", 5, 10, 0, 0);             /* a stop word alone is searched */
    MATCHES("t-shirt", 9, 0, 0, 0);
    MATCHES("DOG", 4, 5, 0, 0);
    MATCHES("a dog on the beach", 4, 5, 0, 0);   /* stop words do not match everything */
    MATCHES("😀", 0, 0, 0, 0);
    /* a side that tokenizes to nothing must never turn NOT around */
    MATCHES("😀 -dog", 0, 0, 0, 0);
    MATCHES("-dog", 0, 0, 0, 0);
}

/* ---------- expansion (fts_query_build_expanded) ---------- */

/* A stand-in for WordNet: fixed alternatives, and hostile ones. */
static cs_status fake_expand(const char *word, size_t len, fts_alternatives *alts, void *user,
                             cs_error *err)
{
    (void)user;
    char w[64];
    snprintf(w, sizeof w, "%.*s", (int)(len < 63 ? len : 63), word);
    for (char *c = w; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c + 32);
    if (strcmp(w, "puppy") == 0 || (strncmp(w, "pup", 3) == 0 && w[3] >= '0' && w[3] <= '9')) {
        fts_alternatives_add(alts, "dog", false);
    } else if (strcmp(w, "mice") == 0) {
        fts_alternatives_add(alts, "mouse", true);
    } else if (strcmp(w, "kitty") == 0) {
        fts_alternatives_add(alts, "cat", false);
        fts_alternatives_add(alts, "CAT", false);        /* a repeat */
        fts_alternatives_add(alts, "Kitty", true);       /* the word itself */
        fts_alternatives_add(alts, "domestic cat", false);
        fts_alternatives_add(alts, "", false);           /* no words */
        fts_alternatives_add(alts, " -- ", true);
    } else if (strcmp(w, "many") == 0) {
        for (int i = 0; i < 20; i++) {
            char alt[16];
            snprintf(alt, sizeof alt, "alt%d", i);
            fts_alternatives_add(alts, alt, i % 2);
        }
    } else if (strcmp(w, "evil") == 0) {
        static const char *const hostile[] = {
            "\"dog\" OR x", "NEAR(a b, 3)", "related:", ")", "(", "\"", "*", "-", "^x",
            "{caption}: y", "a\"b", "caf\xc3\xa9", "\xff\xfe", "AND OR NOT", "x*",
        };
        for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
            fts_alternatives_add(alts, hostile[i], i % 2);
    } else if (strcmp(w, "fail") == 0) {
        return cs_error_set(err, CS_ERR_NOMEM, "the expander ran out of memory");
    }
    return CS_OK;
}

static void expect_expanded(const char *input, const char *expected, int line)
{
    char *got = (char *)1;
    cs_error err = {0};
    cs_status rc = fts_query_build_expanded(input, fake_expand, NULL, &got, &err);
    bool same = rc == CS_OK && (expected ? got && strcmp(got, expected) == 0 : got == NULL);
    if (!same) {
        fprintf(stderr, "%s:%d: expanded [%s] (rc %d %s)\n  got      [%s]\n  expected [%s]\n",
                __FILE__, line, input, (int)rc, err.message,
                rc == CS_OK && got ? got : "(null)", expected ? expected : "(null)");
        check_failures++;
    }
    if (rc == CS_OK)
        free(got);
}

#define EXPANDED(input, expected) expect_expanded(input, expected, __LINE__)

static void test_expansion_shapes(void)
{
    EXPANDED("puppy", "\"puppy\" OR related : (\"dog\")");
    EXPANDED("mice", "\"mice\" OR \"mouse\"");
    EXPANDED("puppy beach", "\"puppy\" OR related : (\"dog\") OR \"beach\"");
    EXPANDED("the puppy", "\"puppy\" OR related : (\"dog\")");
    EXPANDED("Puppy puppy", "\"Puppy\" OR related : (\"dog\")");
    EXPANDED("kitty", "\"kitty\" OR related : (\"cat\" OR \"domestic cat\")");
    /* only plain words: not phrases, prefixes or exclusions */
    EXPANDED("\"puppy\"", "\"puppy\"");
    EXPANDED("pupp*", "\"pupp\" *");
    EXPANDED("puppy*", "\"puppy\" *");
    EXPANDED("cat -puppy", "(\"cat\") NOT \"puppy\"");
    EXPANDED("puppy -mice -kitty",
             "(\"puppy\" OR related : (\"dog\")) NOT (\"mice\" OR \"kitty\")");
    EXPANDED("-puppy", NULL);
    EXPANDED("", NULL);
    /* at most FTS_MAX_ALTERNATIVES per word */
    EXPANDED("many", "\"many\" OR \"alt1\" OR \"alt3\" OR \"alt5\" OR \"alt7\" OR related : "
             "(\"alt0\" OR \"alt2\" OR \"alt4\" OR \"alt6\")");
    /* hostile alternatives are quoted words, nothing else */
    EXPANDED("evil", "\"evil\" OR \"NEAR a b 3\" OR \"caption y\" OR \"caf\xc3\xa9\" OR \"AND OR NOT\""
             " OR related : (\"dog OR x\" OR \"related\" OR \"x\" OR \"a b\")");

    /* no expander: exactly fts_query_build */
    static const char *const inputs[] = {"puppy", "red car", "\"red car\" -dog", "beac*", "the",
                                         "AND OR", "", "-x"};
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        char *a = NULL, *b = NULL;
        cs_error err = {0};
        CHECK_OK(fts_query_build(inputs[i], &a, &err), &err);
        CHECK_OK(fts_query_build_expanded(inputs[i], NULL, NULL, &b, &err), &err);
        CHECK((a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0));
        free(a);
        free(b);
    }

    /* the expander's failure is the build's */
    char *out = (char *)1;
    cs_error err = {0};
    CHECK_INT_EQ(fts_query_build_expanded("puppy fail", fake_expand, NULL, &out, &err),
                 CS_ERR_NOMEM);
    CHECK(out == NULL);
    CHECK(strstr(err.message, "expander") != NULL);
    fts_alternatives_add(NULL, "x", true);   /* harmless */
}

/* Only the first FTS_MAX_EXPANDED_WORDS words are expanded. */
static void test_expansion_limit(void)
{
    char input[1024] = "";
    for (int i = 0; i < FTS_MAX_EXPANDED_WORDS + 4; i++) {
        char w[16];
        snprintf(w, sizeof w, "pup%d ", i);
        strcat(input, w);
    }
    char *out = NULL;
    cs_error err = {0};
    CHECK_OK(fts_query_build_expanded(input, fake_expand, NULL, &out, &err), &err);
    size_t n = 0;
    for (const char *p = out; p && (p = strstr(p, "related :")); p++)
        n++;
    CHECK_INT_EQ(n, FTS_MAX_EXPANDED_WORDS);
    CHECK(out && strstr(out, "\"pup19\"") != NULL);   /* the rest are still searched */
    free(out);
}

static sqlite3 *open_related_table(void)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK)
        return NULL;
    int rc = sqlite3_exec(db,
        "CREATE VIRTUAL TABLE e USING fts5(caption, related, "
        " tokenize='porter unicode61 remove_diacritics 2');"
        "INSERT INTO e(rowid, caption, related) VALUES"
        " (1, 'a puppy on the grass', ''),"
        " (2, 'a picture', 'dog, domestic dog, canine, animal'),"
        " (3, 'a dog on a sofa', ''),"
        " (4, 'mice in a field', ''),"
        " (5, 'a garden', 'mouse, rodent, animal'),"
        " (6, 'an animal at the zoo', '');",
        NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        fprintf(stderr, "setting up the expansion table: %s\n", sqlite3_errmsg(db));
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

/* Ids matching `input` expanded, best first (bm25 weights as the catalog's:
 * own words 3.0, related 0.5); "" when none, "error" when rejected. */
static void ranked(sqlite3 *db, const char *input, char *out, size_t size)
{
    char *expr = NULL;
    cs_error err = {0};
    out[0] = '\0';
    if (fts_query_build_expanded(input, fake_expand, NULL, &expr, &err) != CS_OK || !expr) {
        snprintf(out, size, "%s", expr ? "error" : "");
        free(expr);
        return;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT rowid FROM e WHERE e MATCH ?1"
                                " ORDER BY bm25(e, 3.0, 0.5), rowid", -1, &st, NULL);
    if (rc == SQLITE_OK)
        sqlite3_bind_text(st, 1, expr, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            snprintf(out + strlen(out), size - strlen(out), "%s%lld", out[0] ? " " : "",
                     (long long)sqlite3_column_int64(st, 0));
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "[%s] -> [%s]: %s\n", input, expr, sqlite3_errmsg(db));
        snprintf(out, size, "error");
    }
    sqlite3_finalize(st);
    free(expr);
}

static void test_expansion_ranking(void)
{
    sqlite3 *db = open_related_table();
    CHECK(db != NULL);
    if (!db)
        return;
    char got[128];
    /* the picture that says puppy first, then the dog found through its
     * related words; a caption that says dog is not a related match */
    ranked(db, "puppy", got, sizeof got);
    CHECK_STR_EQ(got, "1 2");
    ranked(db, "mice", got, sizeof got);    /* the lemma is searched like the word */
    CHECK_STR_EQ(got, "4 5");
    /* related words match plain words too, below a caption that says it */
    ranked(db, "animal", got, sizeof got);
    CHECK_STR_EQ(got, "6 5 2");
    ranked(db, "puppy -grass", got, sizeof got);
    CHECK_STR_EQ(got, "2");
    /* hostile alternatives still make valid FTS5 */
    ranked(db, "evil puppy", got, sizeof got);
    CHECK_STR_EQ(got, "1 2");

    /* fuzz: random text, every word expanded with hostile alternatives */
    static const char *const pieces[] = {"\"", "'", "(", ")", "*", "-", " ", " ", "evil",
                                         "puppy", "kitty", "mice", "many", "NOT", "é", "\xff",
                                         ":", "related"};
    uint64_t state = 0x2545F4914F6CDD1Du;
    for (int round = 0; round < 2000; round++) {
        char buf[200];
        size_t len = 0;
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        int count = (int)(state % 12);
        for (int i = 0; i < count; i++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            const char *piece = pieces[state % (sizeof pieces / sizeof *pieces)];
            size_t pl = strlen(piece);
            if (len + pl >= sizeof buf)
                break;
            memcpy(buf + len, piece, pl);
            len += pl;
        }
        buf[len] = '\0';
        ranked(db, buf, got, sizeof got);
        if (strcmp(got, "error") == 0) {
            fprintf(stderr, "expansion fuzz round %d: [%s] is not valid FTS5\n", round, buf);
            check_failures++;
        }
    }
    sqlite3_close(db);
}

int main(void)
{
    test_words_and_stop_words();
    test_operators_are_words();
    test_phrases_prefixes_exclusions();
    test_nothing_to_search();
    test_exclusions_alone();
    test_tower_text();
    test_invalid_utf8_dropped();
    test_bad_arguments();
    sqlite3 *db = open_table();
    CHECK(db != NULL);
    if (db) {
        test_hostile_inputs(db);
        test_very_long_input(db);
        test_fuzz(db);
        test_semantics(db);
        sqlite3_close(db);
    }
    test_expansion_shapes();
    test_expansion_limit();
    test_expansion_ranking();
    CHECK_DONE();
}
