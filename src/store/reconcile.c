/* The vector file is derived from the catalog. A crash between a catalog
 * commit and the next vector save leaves the file behind; this repairs it.
 * Ids are never reused for different content (AUTOINCREMENT, and a changed
 * file gets a new id), so comparing id sets finds every difference. */
#include "store/reconcile.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cs_status add_one(int64_t id, const float *data, int dim, void *user, cs_error *err)
{
    vectors *v = user;
    if (dim != vectors_dim(v))
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "embedding of image %lld has %d dimensions, expected %d",
                            (long long)id, dim, vectors_dim(v));
    return vectors_add(v, 1, &id, data, err);
}

static cs_status rebuild(catalog *c, const char *model, int dim, vectors **out,
                         reconcile_report *report, cs_error *err)
{
    vectors *v = NULL;
    cs_status rc = vectors_create(model, dim, &v, err);
    if (rc == CS_OK)
        rc = catalog_each_embedding(c, model, add_one, v, err);
    if (rc != CS_OK) {
        vectors_free(v);
        return rc;
    }
    report->rebuilt = true;
    report->added = (size_t)vectors_count(v);
    *out = v;
    return CS_OK;
}

/* Adds what the catalog has and the index lacks; removes the reverse. Both
 * id lists are sorted ascending. Removals go to FAISS in one call: each call
 * scans the whole index. */
static cs_status apply_difference(catalog *c, vectors *v, const char *model,
                                  const int64_t *want, size_t nwant,
                                  const int64_t *have, size_t nhave,
                                  reconcile_report *report, cs_error *err)
{
    int dim = vectors_dim(v);
    float *buf = malloc((size_t)dim * sizeof *buf);
    int64_t *stale = malloc((nhave ? nhave : 1) * sizeof *stale);
    if (!buf || !stale) {
        free(buf);
        free(stale);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    cs_status rc = CS_OK;
    size_t i = 0, j = 0, nstale = 0;
    while (rc == CS_OK && (i < nwant || j < nhave)) {
        if (j >= nhave || (i < nwant && want[i] < have[j])) {
            rc = catalog_get_embedding(c, want[i], model, dim, buf, err);
            if (rc == CS_OK)
                rc = vectors_add(v, 1, &want[i], buf, err);
            report->added++;
            i++;
        } else if (i >= nwant || have[j] < want[i]) {
            stale[nstale++] = have[j++];
        } else {
            i++;
            j++;
        }
    }
    if (rc == CS_OK && nstale) {
        rc = vectors_remove(v, nstale, stale, NULL, err);
        report->removed = nstale;
    }
    free(buf);
    free(stale);
    return rc;
}

/* Best effort: were it to stay, the next open finds no embeddings for it
 * and ignores it again. */
static void remove_stale_file(const char *file)
{
    (void)unlink(file);
}

cs_status vectors_reconcile(catalog *c, const char *file, const char *model,
                            bool may_save, vectors **out, reconcile_report *report,
                            cs_error *err)
{
    *out = NULL;
    memset(report, 0, sizeof *report);
    /* One read snapshot: generation, ids and embeddings agree with each other. */
    cs_status rc = catalog_begin_read(c, err);
    if (rc != CS_OK)
        return rc;
    int64_t generation = 0;
    int dim = 0;
    rc = catalog_generation(c, &generation, err);
    report->generation = generation;
    if (rc == CS_OK)
        rc = catalog_embedding_dim(c, model, &dim, err);
    if (rc != CS_OK || dim == 0) {
        catalog_end_read(c);
        if (rc == CS_OK && may_save)
            remove_stale_file(file);
        return rc;
    }

    vectors *v = NULL;
    cs_error load_err;
    cs_status loaded = vectors_load(file, &v, &load_err);
    bool usable = loaded == CS_OK && vectors_dim(v) == dim &&
                  strcmp(vectors_model(v), model) == 0;
    if (usable && vectors_generation(v) == generation) {
        catalog_end_read(c);
        *out = v;
        return CS_OK;
    }
    if (usable) {
        int64_t *want = NULL, *have = NULL;
        size_t nwant = 0, nhave = 0;
        rc = catalog_embedding_ids(c, model, &want, &nwant, err);
        if (rc == CS_OK)
            rc = vectors_ids(v, &have, &nhave, err);
        if (rc == CS_OK)
            rc = apply_difference(c, v, model, want, nwant, have, nhave, report, err);
        free(want);
        free(have);
    } else {
        vectors_free(v);
        v = NULL;
        rc = rebuild(c, model, dim, &v, report, err);
    }
    catalog_end_read(c);
    if (rc == CS_OK && may_save) {
        rc = vectors_save(v, file, generation, err);
        report->saved = rc == CS_OK;
    }
    if (rc != CS_OK) {
        vectors_free(v);
        return rc;
    }
    *out = v;
    return CS_OK;
}
