/* The FAISS C API as vectors.c relies on it (our shim, or a real faiss_c
 * library): return codes, error messages kept per thread, search padding,
 * id maps, removal by selector and serialisation. Expected values are worked
 * out by hand. */
#include <pthread.h>
#include <stdlib.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "check.h"

static void id_map_is(FaissIndex *idx, const idx_t *want, size_t n)
{
    FaissIndexIDMap2 *m = faiss_IndexIDMap2_cast(idx);
    CHECK(m != NULL);
    if (!m)
        return;
    idx_t *map = NULL;
    size_t size = 99;
    faiss_IndexIDMap2_id_map(m, &map, &size);
    CHECK_INT_EQ(size, n);
    for (size_t i = 0; i < n && i < size; i++)
        CHECK_INT_EQ(map[i], want[i]);
}

static void test_index_basics(void)
{
    FaissIndex *idx = NULL;
    CHECK_INT_EQ(faiss_index_factory(&idx, 3, "IDMap2,Flat", METRIC_INNER_PRODUCT), 0);
    if (!idx)
        return;
    CHECK_INT_EQ(faiss_Index_d(idx), 3);
    CHECK_INT_EQ(faiss_Index_ntotal(idx), 0);
    CHECK_INT_EQ(faiss_Index_metric_type(idx), METRIC_INNER_PRODUCT);

    const float x[6] = {1, 0, 0, 0, 2, 0};
    const idx_t ids[2] = {100, 200};
    CHECK_INT_EQ(faiss_Index_add_with_ids(idx, 2, x, ids), 0);
    CHECK_INT_EQ(faiss_Index_ntotal(idx), 2);
    id_map_is(idx, ids, 2);

    /* Two queries, k = 4 > ntotal: missing results are labelled -1. */
    const float q[6] = {0, 1, 0, 3, 0, 0};
    float dist[8];
    idx_t lab[8];
    CHECK_INT_EQ(faiss_Index_search(idx, 2, q, 4, dist, lab), 0);
    CHECK_INT_EQ(lab[0], 200);
    CHECK_NEAR(dist[0], 2.0, 1e-6);
    CHECK_INT_EQ(lab[1], 100);
    CHECK_NEAR(dist[1], 0.0, 1e-6);
    CHECK_INT_EQ(lab[2], -1);
    CHECK_INT_EQ(lab[3], -1);
    CHECK_INT_EQ(lab[4], 100);
    CHECK_NEAR(dist[4], 3.0, 1e-6);
    CHECK_INT_EQ(lab[5], 200);
    CHECK_INT_EQ(lab[6], -1);

    /* Removal by a batch selector; absent ids are not counted. */
    const idx_t rm[3] = {100, 555, 100};
    FaissIDSelectorBatch *sel = NULL;
    CHECK_INT_EQ(faiss_IDSelectorBatch_new(&sel, 3, rm), 0);
    size_t removed = 99;
    CHECK_INT_EQ(faiss_Index_remove_ids(idx, (const FaissIDSelector *)sel, &removed), 0);
    faiss_IDSelector_free((FaissIDSelector *)sel);
    CHECK_INT_EQ(removed, 1);
    CHECK_INT_EQ(faiss_Index_ntotal(idx), 1);
    id_map_is(idx, &ids[1], 1);

    /* Serialise, read back, and compare. */
    char *buf = NULL;
    size_t len = 0;
    FILE *w = open_memstream(&buf, &len);
    CHECK_INT_EQ(faiss_write_index(idx, w), 0);
    fclose(w);
    FILE *r = fmemopen(buf, len, "rb");
    FaissIndex *back = NULL;
    CHECK_INT_EQ(faiss_read_index(r, 0, &back), 0);
    fclose(r);
    free(buf);
    if (back) {
        CHECK_INT_EQ(faiss_Index_d(back), 3);
        CHECK_INT_EQ(faiss_Index_ntotal(back), 1);
        CHECK_INT_EQ(faiss_Index_metric_type(back), METRIC_INNER_PRODUCT);
        id_map_is(back, &ids[1], 1);
        CHECK_INT_EQ(faiss_Index_search(back, 1, q, 1, dist, lab), 0);
        CHECK_INT_EQ(lab[0], 200);
        CHECK_NEAR(dist[0], 2.0, 1e-6);
        faiss_Index_free(back);
    }
    faiss_Index_free(idx);
}

static void test_errors(void)
{
    FaissIndex *idx = NULL;
    int rc = faiss_index_factory(&idx, 4, "NoSuchIndexType", METRIC_L2);
    CHECK(rc < 0);
    CHECK(idx == NULL);
    const char *msg = faiss_get_last_error();
    CHECK(msg != NULL && *msg);

    /* A bare flat index: not an IDMap2, and it cannot take ids. */
    CHECK_INT_EQ(faiss_index_factory(&idx, 2, "Flat", METRIC_INNER_PRODUCT), 0);
    if (idx) {
        CHECK(faiss_IndexIDMap2_cast(idx) == NULL);
        const float x[2] = {1, 2};
        const idx_t id = 9;
        CHECK(faiss_Index_add_with_ids(idx, 1, x, &id) < 0);
        msg = faiss_get_last_error();
        CHECK(msg != NULL && *msg);
        CHECK_INT_EQ(faiss_Index_ntotal(idx), 0);
        faiss_Index_free(idx);
    }

    /* Reading what is not an index fails cleanly, leaving *p_out alone. */
    static char garbage[] = "this is not a FAISS index at all";
    FILE *f = fmemopen(garbage, sizeof garbage - 1, "rb");
    FaissIndex *out = NULL;
    CHECK(faiss_read_index(f, 0, &out) < 0);
    CHECK(out == NULL);
    fclose(f);
    msg = faiss_get_last_error();
    CHECK(msg != NULL && *msg);
    FILE *empty = tmpfile();
    CHECK(faiss_read_index(empty, 0, &out) < 0);
    CHECK(out == NULL);
    fclose(empty);
}

/* Each thread sees only its own last error. */
static char thread_saw_before[8];
static char thread_message[256];

static void *other_thread(void *arg)
{
    (void)arg;
    const char *m = faiss_get_last_error();
    snprintf(thread_saw_before, sizeof thread_saw_before, "%s", m ? "error" : "none");
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, 4, "AnotherBadName", METRIC_L2) < 0) {
        m = faiss_get_last_error();
        snprintf(thread_message, sizeof thread_message, "%s", m ? m : "");
    }
    return NULL;
}

static void test_thread_local_errors(void)
{
    FaissIndex *idx = NULL;
    CHECK(faiss_index_factory(&idx, 4, "FirstBadName", METRIC_L2) < 0);
    char mine[256];
    snprintf(mine, sizeof mine, "%s", faiss_get_last_error());
    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    pthread_join(t, NULL);
    CHECK_STR_EQ(thread_saw_before, "none");
    CHECK(thread_message[0] != '\0');
    CHECK(strcmp(thread_message, mine) != 0);
    CHECK_STR_EQ(faiss_get_last_error(), mine);
}

int main(void)
{
    test_index_basics();
    test_errors();
    test_thread_local_errors();
    CHECK_DONE();
}
