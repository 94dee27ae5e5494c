/* The vector file is derived from the catalog. A crash between a catalog
 * commit and the next vector save leaves the file behind; this repairs it.
 * Ids are never reused for different content (AUTOINCREMENT, and a changed
 * file gets a new id), so comparing id sets finds every difference. */
#include "store/reconcile.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every embedding of a model, gathered for vectors_build (an IVF index is
 * trained on all of them before any is added). */
typedef struct gathered {
    int64_t *ids;
    float *data;
    size_t n, cap;
    int dim;
} gathered;

static cs_status gather_one(int64_t id, const float *data, int dim, void *user, cs_error *err)
{
    gathered *g = user;
    if (dim != g->dim)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "embedding of image %lld has %d dimensions, expected %d",
                            (long long)id, dim, g->dim);
    if (g->n == g->cap)   /* the id list was read in the same snapshot */
        return cs_error_set(err, CS_ERR_DB, "the catalog lists more embeddings than it counted "
                                            "(%zu)", g->cap);
    g->ids[g->n] = id;
    memcpy(g->data + g->n * (size_t)dim, data, (size_t)dim * sizeof *data);
    g->n++;
    return CS_OK;
}

/* Builds the index of `model` from the catalog, of the kind its size calls
 * for. The caller holds a read snapshot. */
static cs_status build_from_catalog(catalog *c, const char *model, int dim, vectors **out,
                                    cs_error *err)
{
    *out = NULL;
    gathered g = {.dim = dim};
    cs_status rc = catalog_embedding_ids(c, model, &g.ids, &g.cap, err);
    if (rc != CS_OK)
        return rc;
    if (g.cap > SIZE_MAX / sizeof(float) / (size_t)dim ||
        !(g.data = malloc((g.cap ? g.cap : 1) * (size_t)dim * sizeof(float)))) {
        free(g.ids);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %zu embeddings of %d "
                                               "dimensions to build the vector index",
                            g.cap, dim);
    }
    rc = catalog_each_embedding(c, model, gather_one, &g, err);
    if (rc == CS_OK)
        rc = vectors_build(model, dim, g.n, g.ids, g.data, out, err);
    free(g.ids);
    free(g.data);
    return rc;
}

static cs_status rebuild(catalog *c, const char *model, int dim, vectors **out,
                         reconcile_report *report, cs_error *err)
{
    cs_status rc = build_from_catalog(c, model, dim, out, err);
    if (rc != CS_OK)
        return rc;
    report->rebuilt = true;
    report->added = (size_t)vectors_count(*out);
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

static cs_status needs_retrain(const vectors *v, bool *retrain, cs_error *err)
{
    int64_t exact_max = 0;
    cs_status rc = vectors_exact_max(&exact_max, err);
    *retrain = rc == CS_OK && vectors_needs_retrain(v, exact_max);
    return rc;
}

/* Rebuilds v in place from the catalog when its kind or training no longer
 * suits its size. The caller holds a read snapshot. */
static cs_status retrain_if_needed(catalog *c, vectors *v, bool *retrained, cs_error *err)
{
    bool retrain = false;
    cs_status rc = needs_retrain(v, &retrain, err);
    if (rc != CS_OK || !retrain)
        return rc;
    vectors *fresh = NULL;
    rc = build_from_catalog(c, vectors_model(v), vectors_dim(v), &fresh, err);
    if (rc == CS_OK)
        rc = vectors_replace(v, fresh, err);
    else
        return cs_error_prefix(err, "re-training the vector index for %lld vectors: ",
                               (long long)vectors_count(v));
    if (rc == CS_OK)
        *retrained = true;
    return rc;
}

cs_status vectors_retrain(catalog *c, vectors *v, bool *retrained, cs_error *err)
{
    if (retrained)
        *retrained = false;
    if (!c || !v)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_retrain: no catalog or index");
    bool done = false;
    cs_status rc = catalog_begin_read(c, err);
    if (rc != CS_OK)
        return rc;
    rc = retrain_if_needed(c, v, &done, err);
    catalog_end_read(c);
    if (retrained)
        *retrained = done;
    return rc;
}

cs_status vectors_retrain_save(catalog *c, vectors *v, const char *file, int64_t generation,
                               cs_error *err)
{
    cs_status rc = vectors_retrain(c, v, NULL, err);
    if (rc != CS_OK) {
        /* The index in hand is still correct: keep the file current, then
         * report why it was not re-trained. */
        cs_error save_err;
        (void)vectors_save(v, file, generation, &save_err);
        return rc;
    }
    return vectors_save(v, file, generation, err);
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
    bool retrain = false;
    if (usable && vectors_generation(v) == generation && may_save) {
        rc = needs_retrain(v, &retrain, err);
        if (rc != CS_OK) {
            catalog_end_read(c);
            vectors_free(v);
            return rc;
        }
    }
    if (usable && vectors_generation(v) == generation && !retrain) {
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
        /* Only an owner that saves re-trains: a reader would pay for it on
         * every open, and the index it has is correct, only slower. */
        if (rc == CS_OK && may_save)
            rc = retrain_if_needed(c, v, &report->retrained, err);
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
