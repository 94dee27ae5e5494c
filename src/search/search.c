/* Answering a query: each source produces a ranked list (today the FTS5
 * text ranking; the vector ranking joins when a text encoder is installed),
 * reciprocal rank fusion merges them, and the page asked for is filled from
 * the catalog. */
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fsutil.h"
#include "library/library.h"
#include "search/fusion.h"
#include "search/ftsquery.h"

#define DEFAULT_K 20
#define MAX_K 1000
#define MAX_OFFSET 100000
#define DEFAULT_RRF_K 60
/* Each source contributes at least this many candidates to the fusion, so a
 * document ranked well by one source and moderately by another is seen. */
#define MIN_CANDIDATES 100

typedef struct search_params {
    int k, offset, rrf_k;
    double text_weight;
    int explain;
} search_params;

static cs_status check_options(const cs_search_options *o, search_params *p, cs_error *err)
{
    p->k = o && o->k ? o->k : DEFAULT_K;
    p->offset = o ? o->offset : 0;
    p->rrf_k = o && o->rrf_k ? o->rrf_k : DEFAULT_RRF_K;
    p->text_weight = o && o->text_weight > 0 ? o->text_weight : 1.0;
    p->explain = o ? o->explain : 0;
    if (p->k < 1 || p->k > MAX_K)
        return cs_error_set(err, CS_ERR_INVALID, "k must be between 1 and %d, got %d", MAX_K, p->k);
    if (p->offset < 0 || p->offset > MAX_OFFSET)
        return cs_error_set(err, CS_ERR_INVALID, "offset must be between 0 and %d, got %d",
                            MAX_OFFSET, p->offset);
    if (p->rrf_k < 1)
        return cs_error_set(err, CS_ERR_INVALID, "the fusion constant must be at least 1");
    return CS_OK;
}

void cs_results_free(cs_results *results)
{
    if (!results)
        return;
    for (size_t i = 0; i < results->count; i++) {
        free(results->items[i].path);
        free(results->items[i].caption);
        free(results->items[i].tags);
    }
    free(results->items);
    free(results->fts_query);
    free(results);
}

/* Fills results->items from the fused list, skipping `offset` and taking k. */
static cs_status fill_page(cs_library *lib, const fusion_item *fused, size_t nfused,
                           const fusion_list *lists, size_t nlists,
                           const search_params *p, cs_results *results, cs_error *err)
{
    results->total_candidates = nfused;
    size_t start = (size_t)p->offset < nfused ? (size_t)p->offset : nfused;
    size_t count = nfused - start < (size_t)p->k ? nfused - start : (size_t)p->k;
    if (count == 0)
        return CS_OK;
    results->items = calloc(count, sizeof *results->items);
    if (!results->items)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        const fusion_item *f = &fused[start + i];
        cs_result *r = &results->items[results->count];
        cs_status rc = catalog_fill_result(lib->cat, f->id, r, err);
        if (rc == CS_ERR_NOT_FOUND)
            continue;   /* removed since the lists were made: skip, do not fail */
        if (rc != CS_OK)
            return rc;
        results->count++;
        r->score = f->score;
        if (p->explain) {
            r->nsources = (int)nlists;
            for (size_t s = 0; s < nlists; s++)
                r->sources[s] = (cs_source_rank){lists[s].source, f->ranks[s], f->raw[s]};
        }
    }
    return CS_OK;
}

static cs_status new_results(cs_results **out, cs_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
}

/* Fuses the ranked lists and fills the requested page of results. */
static cs_status fuse_into(cs_library *lib, const fusion_list *lists, size_t nlists,
                           const search_params *p, cs_results *results, cs_error *err)
{
    fusion_item *fused = NULL;
    size_t nfused = 0;
    cs_status rc = fusion_rrf(lists, nlists, p->rrf_k, &fused, &nfused, err);
    if (rc == CS_OK)
        rc = fill_page(lib, fused, nfused, lists, nlists, p, results, err);
    free(fused);
    return rc;
}

/* Hands the results over (or frees them on failure), with the time taken. */
static cs_status finish(cs_status rc, cs_results *results, double started, cs_results **out)
{
    if (rc != CS_OK) {
        cs_results_free(results);
        return rc;
    }
    results->took_ms = (fs_now_seconds() - started) * 1000.0;
    *out = results;
    return CS_OK;
}

cs_status cs_search(cs_library *lib, const char *query, const cs_search_options *options,
                    cs_results **out, cs_error *err)
{
    *out = NULL;
    double started = fs_now_seconds();
    search_params p;
    cs_results *results = NULL;
    cs_status rc = check_options(options, &p, err);
    if (rc == CS_OK)
        rc = new_results(&results, err);
    if (rc == CS_OK)
        rc = fts_query_build(query ? query : "", &results->fts_query, err);
    if (rc == CS_OK && results->fts_query) {
        int64_t *ids = NULL;
        double *scores = NULL;
        size_t n = 0;
        int want = p.offset + p.k;
        rc = catalog_fts_search(lib->cat, results->fts_query,
                                want > MIN_CANDIDATES ? want : MIN_CANDIDATES, &ids, &scores,
                                &n, err);
        fusion_list text = {"text", p.text_weight, n, ids, scores};
        if (rc == CS_OK)
            rc = fuse_into(lib, &text, 1, &p, results, err);
        free(ids);
        free(scores);
    }
    return finish(rc, results, started, out);
}

cs_status cs_search_similar(cs_library *lib, int64_t id, const cs_search_options *options,
                            cs_results **out, cs_error *err)
{
    *out = NULL;
    double started = fs_now_seconds();
    search_params p;
    cs_status rc = check_options(options, &p, err);
    if (rc != CS_OK)
        return rc;
    if (!lib->vec)
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "the library has no image vectors yet: index some images first");
    int dim = vectors_dim(lib->vec);
    int want = p.offset + p.k + 1;   /* +1: the image itself comes back first */
    float *query = malloc((size_t)dim * sizeof *query);
    int64_t *ids = malloc((size_t)want * sizeof *ids);
    float *scores = malloc((size_t)want * sizeof *scores);
    double *raw = malloc((size_t)want * sizeof *raw);
    cs_results *results = NULL;
    if (!query || !ids || !scores || !raw)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = catalog_get_embedding(lib->cat, id, lib->model, dim, query, err);
    int found = 0;
    if (rc == CS_OK)
        rc = vectors_search(lib->vec, query, want, ids, scores, &found, err);
    if (rc == CS_OK)
        rc = new_results(&results, err);
    if (rc == CS_OK) {
        int kept = 0;
        for (int i = 0; i < found; i++)
            if (ids[i] != id) {
                ids[kept] = ids[i];
                raw[kept++] = scores[i];
            }
        fusion_list vector = {"vector", 1.0, (size_t)kept, ids, raw};
        rc = fuse_into(lib, &vector, 1, &p, results, err);
    }
    free(query);
    free(ids);
    free(scores);
    free(raw);
    return finish(rc, results, started, out);
}
