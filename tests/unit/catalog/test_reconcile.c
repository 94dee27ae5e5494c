/* The vector file follows the catalog: rebuilt when missing, damaged or for
 * another model; patched (ids added and removed) when its generation stamp is
 * behind; left alone when current.
 * usage: test_reconcile TMPDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "common/fsutil.h"
#include "store/store.h"

#define DIM 8
#define MODEL "test-model"

static void vector_for(int64_t seed, float *v)
{
    float norm = 0;
    for (int i = 0; i < DIM; i++) {
        v[i] = (float)((seed * 31 + i * 17) % 13) - 6.0f + (float)i * 0.1f;
        norm += v[i] * v[i];
    }
    for (int i = 0; i < DIM; i++)
        v[i] /= sqrtf(norm);
}

static int64_t add_image(catalog *c, int n)
{
    char path[64], hash[33];
    snprintf(path, sizeof path, "/p/%d.jpg", n);
    snprintf(hash, sizeof hash, "%032d", n);
    float v[DIM];
    catalog_image im = {.path = path, .folder = "/p", .size = n, .mtime_ns = n,
                        .content_hash = hash, .width = 1, .height = 1, .format = "png"};
    catalog_text text = {"", "", "", "", "", ""};
    int64_t id = 0;
    cs_error err;
    CHECK_OK(catalog_begin(c, &err), &err);
    /* the id is known only after the insert; the vector depends on n */
    vector_for(n, v);
    catalog_embedding emb = {MODEL, DIM, v};
    CHECK_OK(catalog_put_image(c, &im, &text, NULL, 0, &emb, &id, &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    return id;
}

/* The vector stored for image n must come back as its own best match. */
static void check_finds(vectors *v, int n, int64_t id)
{
    float q[DIM];
    vector_for(n, q);
    int64_t ids[1];
    float scores[1];
    int found = 0;
    cs_error err;
    CHECK_OK(vectors_search(v, q, 1, ids, scores, &found, &err), &err);
    CHECK_INT_EQ(found, 1);
    CHECK_INT_EQ(ids[0], id);
    CHECK_NEAR(scores[0], 1.0, 1e-5);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    cs_error err;
    fs_mkdir_p(argv[1], &err);
    char *db = fs_path_join(argv[1], "reconcile.db");
    char *file = fs_path_join(argv[1], "reconcile.faiss");
    unlink(db);
    unlink(file);
    catalog *c = NULL;
    CHECK_OK(catalog_open(db, false, &c, &err), &err);
    if (!c)
        CHECK_DONE();

    vectors *v = NULL;
    reconcile_report rep;
    /* No embeddings: no index. */
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v == NULL);

    int64_t ids[10];
    for (int i = 0; i < 10; i++)
        ids[i] = add_image(c, i);

    /* No file: rebuilt from the catalog and saved. */
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && rep.rebuilt && rep.saved);
    CHECK_INT_EQ(rep.added, 10);
    CHECK_INT_EQ(vectors_count(v), 10);
    check_finds(v, 3, ids[3]);
    vectors_free(v);

    /* Current file: loaded as is. */
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && !rep.rebuilt && rep.added == 0 && rep.removed == 0 && !rep.saved);
    vectors_free(v);

    /* The catalog moves on without the file (as after a kill -9): two new
     * images, one deleted. The file is patched, not rebuilt. */
    int64_t extra1 = add_image(c, 10);
    int64_t extra2 = add_image(c, 11);
    CHECK_OK(catalog_begin(c, &err), &err);
    CHECK_OK(catalog_delete_image(c, ids[5], &err), &err);
    CHECK_OK(catalog_commit(c, &err), &err);
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && !rep.rebuilt && rep.saved);
    CHECK_INT_EQ(rep.added, 2);
    CHECK_INT_EQ(rep.removed, 1);
    CHECK_INT_EQ(vectors_count(v), 11);
    check_finds(v, 10, extra1);
    check_finds(v, 11, extra2);
    int64_t gen = 0;
    CHECK_OK(catalog_generation(c, &gen, &err), &err);
    CHECK_INT_EQ(vectors_generation(v), gen);
    int64_t *have = NULL;
    size_t nhave = 0;
    CHECK_OK(vectors_ids(v, &have, &nhave, &err), &err);
    for (size_t i = 0; i < nhave; i++)
        CHECK(have[i] != ids[5]);
    free(have);
    vectors_free(v);

    /* A damaged file is rebuilt. */
    FILE *f = fopen(file, "r+b");
    fseek(f, 40, SEEK_SET);
    fputs("garbage garbage garbage", f);
    fclose(f);
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && rep.rebuilt);
    CHECK_INT_EQ(vectors_count(v), 11);
    vectors_free(v);

    /* A file for another model is not trusted. */
    CHECK_OK(vectors_reconcile(c, file, "another-model", true, &v, &rep, &err), &err);
    CHECK(v == NULL);   /* no embeddings of that model: none, and the file goes */
    CHECK(fs_file_size(file) < 0);
    CHECK_OK(vectors_reconcile(c, file, MODEL, false, &v, &rep, &err), &err);
    CHECK(v && rep.rebuilt && !rep.saved);
    CHECK(fs_file_size(file) < 0);   /* read-only callers never write */
    vectors_free(v);

    /* The kind follows the size (CAPSEARCH_EXACT_MAX stands in for the
     * 50,000 default): exact while small; once past the threshold an owner
     * that saves re-trains it as IVF, a read-only caller keeps what it has. */
    for (int i = 12; i < 200; i++)
        add_image(c, i);
    setenv("CAPSEARCH_EXACT_MAX", "1000", 1);
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && rep.rebuilt && rep.saved && !rep.retrained);
    CHECK(v && vectors_get_kind(v) == VECTORS_EXACT);
    vectors_free(v);
    setenv("CAPSEARCH_EXACT_MAX", "50", 1);
    CHECK_OK(vectors_reconcile(c, file, MODEL, false, &v, &rep, &err), &err);
    CHECK(v && !rep.rebuilt && !rep.retrained && !rep.saved);
    CHECK(v && vectors_get_kind(v) == VECTORS_EXACT);
    vectors_free(v);
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && !rep.rebuilt && rep.retrained && rep.saved);
    CHECK(v && vectors_get_kind(v) == VECTORS_IVF_SQ8);
    CHECK_INT_EQ(v ? vectors_count(v) : 0, 199);
    CHECK_INT_EQ(v ? vectors_trained_for(v) : 0, 199);
    vectors_free(v);
    CHECK_OK(vectors_reconcile(c, file, MODEL, true, &v, &rep, &err), &err);
    CHECK(v && !rep.retrained && !rep.saved && vectors_get_kind(v) == VECTORS_IVF_SQ8);
    /* Saved by the indexer: re-trained first when the size calls for it
     * (199 is under half of 1000: back to exact), in place. */
    setenv("CAPSEARCH_EXACT_MAX", "1000", 1);
    CHECK_OK(catalog_generation(c, &gen, &err), &err);
    CHECK_OK(vectors_retrain_save(c, v, file, gen, &err), &err);
    CHECK(v && vectors_get_kind(v) == VECTORS_EXACT && vectors_count(v) == 199);
    vectors_free(v);
    CHECK_OK(vectors_load(file, &v, &err), &err);
    CHECK(v && vectors_get_kind(v) == VECTORS_EXACT && vectors_generation(v) == gen);
    /* A threshold that is not a number is an error that names it. */
    setenv("CAPSEARCH_EXACT_MAX", "lots", 1);
    bool retrained = true;
    CHECK_INT_EQ(vectors_retrain(c, v, &retrained, &err), CS_ERR_INVALID);
    CHECK(strstr(err.message, "CAPSEARCH_EXACT_MAX") != NULL && !retrained);
    unsetenv("CAPSEARCH_EXACT_MAX");
    vectors_free(v);

    catalog_close(c);
    free(db);
    free(file);
    CHECK_DONE();
}
