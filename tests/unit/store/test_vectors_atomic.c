/* A save that fails part-way must leave the previous file byte-for-byte
 * intact and loadable, and leave no temporary file behind.
 *
 * Failures provoked: a file-size limit (RLIMIT_FSIZE) that stops the write
 * in the middle of the FAISS payload, which applies to root as well; a
 * read-only folder (skipped as root, who ignores permissions); a folder that
 * does not exist. */
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

enum { DIM = 32 };

static vectors *make(int n, uint64_t seed)
{
    cs_error err;
    vectors *v = NULL;
    CHECK_OK(vectors_create("atomic", DIM, &v, &err), &err);
    if (!v)
        exit(1);
    test_rng rng = {seed};
    for (int i = 0; i < n; i++) {
        float x[DIM];
        rng_unit_vector(&rng, x, DIM);
        int64_t id = 1000 + i * 2;
        CHECK_OK(vectors_add(v, 1, &id, x, &err), &err);
    }
    return v;
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* The file still holds exactly `before` and loads as the old index. */
static void old_file_intact(const char *file, const uint8_t *before, size_t before_len)
{
    cs_error err;
    uint8_t *now = NULL;
    size_t len = 0;
    CHECK_OK(fs_read_file(file, 1 << 24, &now, &len, &err), &err);
    CHECK_INT_EQ(len, before_len);
    CHECK(now && len == before_len && memcmp(now, before, len) == 0);
    free(now);
    vectors *v = NULL;
    CHECK_OK(vectors_load(file, &v, &err), &err);
    if (v) {
        CHECK_INT_EQ(vectors_generation(v), 1);
        CHECK_INT_EQ(vectors_count(v), 10);
        vectors_free(v);
    }
}

int main(int argc, char **argv)
{
    char *dir = make_scratch(argc > 1 ? argv[1] : "/tmp", "atomic");
    if (!dir)
        return 1;
    char *file = fs_path_join(dir, "lib.vec");
    cs_error err;

    vectors *old = make(10, 1);
    CHECK_OK(vectors_save(old, file, 1, &err), &err);
    vectors_free(old);
    uint8_t *before = NULL;
    size_t before_len = 0;
    CHECK_OK(fs_read_file(file, 1 << 24, &before, &before_len, &err), &err);

    vectors *big = make(300, 2);   /* about 40 KB on disk */

    /* 1. The write stops at 8 KB: past our header, inside FAISS's data. */
    signal(SIGXFSZ, SIG_IGN);   /* get EFBIG from write() instead of a signal */
    struct rlimit saved;
    CHECK(getrlimit(RLIMIT_FSIZE, &saved) == 0);
    struct rlimit small = {8192, saved.rlim_max};
    CHECK(setrlimit(RLIMIT_FSIZE, &small) == 0);
    cs_status rc = vectors_save(big, file, 2, &err);
    CHECK(setrlimit(RLIMIT_FSIZE, &saved) == 0);
    CHECK(rc != CS_OK);
    printf("size-limited save: %s\n", err.message);
    CHECK(strstr(err.message, file) != NULL);
    CHECK_INT_EQ(vectors_generation(big), 0);   /* the stamp moves only on success */
    old_file_intact(file, before, before_len);
    CHECK_INT_EQ(entries(dir), 1);

    /* 2. A read-only folder: the temporary file cannot be created. */
    if (geteuid() != 0) {
        CHECK(chmod(dir, 0555) == 0);
        rc = vectors_save(big, file, 2, &err);
        CHECK(chmod(dir, 0755) == 0);
        CHECK_INT_EQ(rc, CS_ERR_IO);
        printf("read-only folder: %s\n", err.message);
        old_file_intact(file, before, before_len);
        CHECK_INT_EQ(entries(dir), 1);
    } else {
        printf("running as root: read-only folder case skipped\n");
    }

    /* 3. A folder that does not exist: nothing is created. */
    char *nowhere = fs_path_join(dir, "no-such-folder/lib.vec");
    rc = vectors_save(big, nowhere, 2, &err);
    CHECK_INT_EQ(rc, CS_ERR_NOT_FOUND);
    CHECK(fs_file_size(nowhere) < 0);
    CHECK_INT_EQ(entries(dir), 1);
    free(nowhere);

    /* And a save that succeeds replaces the file completely. */
    CHECK_OK(vectors_save(big, file, 2, &err), &err);
    CHECK_INT_EQ(entries(dir), 1);
    vectors *now = NULL;
    CHECK_OK(vectors_load(file, &now, &err), &err);
    if (now) {
        CHECK_INT_EQ(vectors_generation(now), 2);
        CHECK_INT_EQ(vectors_count(now), 300);
        vectors_free(now);
    }

    vectors_free(big);
    free(before);
    free(file);
    if (!check_failures)
        remove_tree(dir);
    free(dir);
    CHECK_DONE();
}
