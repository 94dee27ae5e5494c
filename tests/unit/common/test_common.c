/* src/common: UTF-8 validation, calendar days, array growth, folder
 * helpers. Expected values come from the Unicode standard (Table 3-7,
 * well-formed byte sequences) and the Gregorian calendar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common/array.h"
#include "common/dates.h"
#include "common/fsutil.h"
#include "common/utf8.h"

static void test_utf8(void)
{
    const struct { const char *bytes; size_t len; size_t expect; } cases[] = {
        {"a", 1, 1},
        {"\xC3\xA9", 2, 2},               /* é */
        {"\xE2\x82\xAC", 3, 3},           /* € */
        {"\xF0\x9F\x98\x80", 4, 4},       /* 😀 */
        {"\xF4\x8F\xBF\xBF", 4, 4},       /* U+10FFFF, the last code point */
        {"\xC0\xAF", 2, 0},               /* overlong '/' */
        {"\xC1\xBF", 2, 0},               /* overlong */
        {"\xE0\x80\xAF", 3, 0},           /* overlong */
        {"\xED\xA0\x80", 3, 0},           /* UTF-16 surrogate D800 */
        {"\xF4\x90\x80\x80", 4, 0},       /* past U+10FFFF */
        {"\xF5\x80\x80\x80", 4, 0},
        {"\x80", 1, 0},                   /* lone continuation byte */
        {"\xE2\x82", 2, 0},               /* cut short */
        {"\xFF", 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_INT_EQ(utf8_sequence_length((const unsigned char *)cases[i].bytes, cases[i].len),
                     cases[i].expect);
    CHECK(utf8_is_valid("caf\xC3\xA9", 5));
    CHECK(!utf8_is_valid("caf\xC3", 4));
    char *clean = utf8_sanitize("a\xFF" "b\xC3\xA9");
    CHECK_STR_EQ(clean, "a\xEF\xBF\xBD" "b\xC3\xA9");
    free(clean);
}

static void test_dates(void)
{
    int64_t t = 0;
    CHECK(dates_parse_day("1970-01-01", false, &t));
    CHECK_INT_EQ(t, 0);
    CHECK(dates_parse_day("1970-01-01", true, &t));
    CHECK_INT_EQ(t, 86399);
    CHECK(dates_parse_day("2000-02-29", false, &t));   /* 2000 is a leap year */
    CHECK_INT_EQ(t, 951782400);
    CHECK(!dates_parse_day("1900-02-29", false, &t));  /* 1900 is not */
    CHECK(dates_parse_day("2015-07-21", false, &t));
    CHECK_INT_EQ(t, 1437436800);
    const char *bad[] = {"", "2015-7-21", "2015-13-01", "2015-00-10", "2015-04-31",
                         "0000-01-01", "2015/07/21", "2015-07-21x", "abcd-ef-gh", NULL};
    for (int i = 0; bad[i]; i++)
        CHECK(!dates_parse_day(bad[i], false, &t));
    CHECK(!dates_parse_day(NULL, false, &t));
}

static void test_array(void)
{
    int *items = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < 1000; i++) {
        CHECK(ARRAY_RESERVE(items, cap, i));
        items[i] = (int)i;
    }
    CHECK(cap >= 1000);
    long sum = 0;
    for (size_t i = 0; i < 1000; i++)
        sum += items[i];
    CHECK_INT_EQ(sum, 999 * 1000 / 2);
    /* a size that cannot be allocated is refused, and the array survives */
    size_t huge_cap = cap;
    CHECK(!array_reserve(&items, &huge_cap, (size_t)-1 / 2, 16));
    CHECK_INT_EQ(huge_cap, cap);
    CHECK_INT_EQ(items[999], 999);
    free(items);
}

static void write_bytes(const char *dir, const char *name, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    for (size_t i = 0; f && i < n; i++)
        fputc('x', f);
    if (f)
        fclose(f);
}

/* Listing, measuring and removing folders; links are never followed. */
static void test_folders(void)
{
    char root[] = "/tmp/cs-test-common-XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char tree[4200], outside[4200], path[4300];
    snprintf(tree, sizeof tree, "%s/tree", root);
    snprintf(outside, sizeof outside, "%s/outside", root);
    cs_error err;
    snprintf(path, sizeof path, "%s/sub/deeper", tree);
    CHECK(fs_mkdir_p(path, &err) == CS_OK);
    CHECK(fs_mkdir_p(outside, &err) == CS_OK);
    write_bytes(tree, "b", 10);
    write_bytes(tree, "a", 5);
    write_bytes(tree, ".hidden", 7);
    write_bytes(path, "c", 100);
    write_bytes(outside, "kept", 1000);
    snprintf(path, sizeof path, "%s/link", tree);
    CHECK(symlink(outside, path) == 0);

    char **names = NULL;
    size_t count = 0;
    CHECK(fs_list_folder(tree, &names, &count, &err) == CS_OK);
    CHECK_INT_EQ(count, 4);
    if (count == 4) {
        CHECK(strcmp(names[0], "a") == 0 && strcmp(names[1], "b") == 0);
        CHECK(strcmp(names[2], "link") == 0 && strcmp(names[3], "sub") == 0);
    }
    fs_free_names(names, count);
    CHECK(fs_list_folder("/nonexistent-cs", &names, &count, &err) == CS_ERR_NOT_FOUND);

    CHECK_INT_EQ(fs_tree_bytes(tree), 5 + 10 + 7 + 100);
    CHECK(fs_remove_tree(tree, &err) == CS_OK);
    struct stat st;
    CHECK(lstat(tree, &st) != 0);
    snprintf(path, sizeof path, "%s/kept", outside);
    CHECK(stat(path, &st) == 0 && st.st_size == 1000);
    CHECK(fs_remove_tree(tree, &err) == CS_OK);   /* already gone */
    CHECK(fs_remove_tree(root, &err) == CS_OK);
    CHECK(lstat(root, &st) != 0);
}

int main(void)
{
    test_utf8();
    test_dates();
    test_array();
    test_folders();
    CHECK_DONE();
}
