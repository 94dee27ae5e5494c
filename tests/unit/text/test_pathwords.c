/* caption_path_words: the words a person would expect from a photo's path.
 * Every expected string is written from the rules in caption.h. */
#include <stdlib.h>

#include "caption/caption.h"
#include "check.h"

static void expect_words(const char *root, const char *path, const char *expected, int line)
{
    char *got = caption_path_words(root, path);
    if (!got || strcmp(got, expected) != 0) {
        fprintf(stderr, "%s:%d: path words of [%s] under [%s]\n  got      [%s]\n  expected [%s]\n",
                __FILE__, line, path ? path : "(null)", root ? root : "(null)",
                got ? got : "(null)", expected);
        check_failures++;
    }
    free(got);
}

#define EXPECT(root, path, expected) expect_words(root, path, expected, __LINE__)

static void test_folders_and_camera_noise(void)
{
    /* root's own folder name counts; IMG, the 8-digit date and the 6-digit
     * time are camera noise */
    EXPECT("/home/u/Pictures", "/home/u/Pictures/2019 Summer/beach_trip/IMG_20190704_183210.jpg",
           "pictures 2019 summer beach trip");
    /* a trailing slash on root changes nothing */
    EXPECT("/home/u/Pictures/", "/home/u/Pictures/2019 Summer/beach_trip/IMG_20190704_183210.jpg",
           "pictures 2019 summer beach trip");
    EXPECT(NULL, "DSC01234.JPG", "");
    EXPECT(NULL, "/x/IMG_1234.HEIC", "");        /* the counter after a prefix goes too */
    EXPECT(NULL, "/x/DSCN0001.JPG", "");
    EXPECT(NULL, "/x/PXL_20210704_123456789.jpg", "");
    EXPECT(NULL, "/x/MVIMG_20190101_120000.jpg", "");
    EXPECT("/r", "/r/DCIM/100CANON/IMG_0001.JPG", "r 100 canon");
    EXPECT(NULL, "Trip 2019 day 3.jpg", "trip 2019 day 3");   /* <= 4 digits stay */
    EXPECT(NULL, "scan 12345.png", "scan");                    /* 5 digits go */
}

static void test_splitting(void)
{
    EXPECT(NULL, "myCatFluffy.png", "my cat fluffy");
    EXPECT(NULL, "HTTPServerLogs.png", "http server logs");
    EXPECT(NULL, "Holiday2021.png", "holiday 2021");
    EXPECT(NULL, "2021Holiday.png", "2021 holiday");
    EXPECT(NULL, "iPhone12Pro.jpg", "i phone 12 pro");
    EXPECT(NULL, "a-b_c.d e+f(g)[h]{i}'j,k;l!m.png", "a b c d e f g h i j k l m");
    EXPECT(NULL, "tab\there\nnewline.png", "tab here newline");
}

static void test_extension_and_components(void)
{
    /* only the final component loses its extension */
    EXPECT("/p", "/p/my.folder/file.name.jpg", "p my folder file name");
    EXPECT(NULL, "/p/.hidden.jpg", "hidden");
    EXPECT(NULL, "/p/noextension", "noextension");
    EXPECT("/", "/photos/cat.jpg", "photos cat");
    EXPECT("/p", "/p//double//slash.jpg", "p double slash");
    /* not below root: only the file name */
    EXPECT("/home/u/Pictures", "/mnt/x/Holiday Snaps/cat.jpg", "cat");
    EXPECT("/home/u/Pic", "/home/u/Pictures/cat.jpg", "cat");
    /* root NULL or empty: only the file name */
    EXPECT(NULL, "/home/u/Pictures/beach/cat.jpg", "cat");
    EXPECT("", "/home/u/Pictures/beach/cat.jpg", "cat");
    EXPECT(NULL, NULL, "");
    EXPECT(NULL, "", "");
}

static void test_duplicates(void)
{
    EXPECT("/p", "/p/beach/Beach-BEACH.jpg", "p beach");
    EXPECT("/Cats", "/Cats/cats/my cats.jpg", "cats my");
}

static void test_non_ascii(void)
{
    /* Latin-1 capitals are lower-cased; the FTS tokenizer folds the rest */
    EXPECT(NULL, "Ünïcode Föto.jpg", "ünïcode föto");
    EXPECT(NULL, "fooÜber.jpg", "foo über");
    EXPECT(NULL, "CAFÉ.jpg", "café");
    EXPECT("/r", "/r/写真/東京タワー.jpg", "r 写真 東京タワー");
    EXPECT(NULL, "Фото Москва.jpg", "Фото Москва");   /* Cyrillic kept as is */
    EXPECT(NULL, "写真2019.jpg", "写真 2019");
    /* invalid UTF-8 separates words and never reaches the index */
    EXPECT(NULL, "bad\xffname.jpg", "bad name");
    EXPECT(NULL, "over\xc0\xaflong.jpg", "over long");       /* overlong '/' */
    EXPECT(NULL, "surrogate\xed\xa0\x80x.jpg", "surrogate x");
    EXPECT(NULL, "cut\xe6\x9d.jpg", "cut");                   /* truncated sequence */
    EXPECT(NULL, "emoji😀cat.jpg", "emoji😀cat");             /* non-ASCII kept whole */
}

static void test_long_path(void)
{
    /* 2000 distinct components: every word survives, in order */
    size_t n = 2000;
    char *path = malloc(n * 8 + 16), *expected = malloc(n * 8 + 16);
    CHECK(path && expected);
    if (!path || !expected) {
        free(path);
        free(expected);
        return;
    }
    size_t p = 0, e = 0;
    for (size_t i = 0; i < n; i++) {
        char w[8];
        /* letters only, so digit rules do not interfere: aaa, aab, ... up to
         * "cxx", below every camera prefix (dsc is number 2028) */
        w[0] = (char)('a' + i / 676 % 26);
        w[1] = (char)('a' + i / 26 % 26);
        w[2] = (char)('a' + i % 26);
        w[3] = '\0';
        p += (size_t)sprintf(path + p, "/%s", w);
        e += (size_t)sprintf(expected + e, "%s%s", i ? " " : "", w);
    }
    strcpy(path + p, ".jpg");
    char *got = caption_path_words("/", path);
    CHECK_STR_EQ(got, expected);
    free(got);
    free(path);
    free(expected);
}

int main(void)
{
    test_folders_and_camera_noise();
    test_splitting();
    test_extension_and_components();
    test_duplicates();
    test_non_ascii();
    test_long_path();
    CHECK_DONE();
}
