/* Answering a query: each source produces a ranked list (the FTS5 text
 * ranking; the vector ranking of the query's CLIP text embedding when the
 * library's vectors are a CLIP model's), reciprocal rank fusion merges
 * them, and the page asked for is filled from the catalog. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "caption/lexicon.h"
#include "common/error.h"
#include "common/fsutil.h"
#include "image/image.h"
#include "library/clip_model.h"
#include "library/filter_lists.h"
#include "library/library.h"
#include "search/composed.h"
#include "search/fusion.h"
#include "search/ftsquery.h"

#define DEFAULT_K 20
#define MAX_K 1000
#define MAX_OFFSET 100000
#define DEFAULT_RRF_K 60
/* Each source contributes at least this many candidates to the fusion, so a
 * document ranked well by one source and moderately by another is seen. */
#define MIN_CANDIDATES 100
#define DEFAULT_ALPHA 0.5
/* A second round of filtered vector candidates is tried only when the
 * first round's pass rate says it needs at most this share of the index;
 * beyond that the catalog's list of matching ids is the cheaper way. */
#define POST_FILTER_MAX_SHARE 0.25
/* With an IVF index and the filter's images listed (more than
 * STORED_RANKING_MAX), the index searches only those (IDSelector) for
 * SELECTOR_DEPTH times the candidates wanted, keeping the nearest: the
 * page's neighbours among the listed images lie deeper in the index's
 * order than an unfiltered page's, so a search that stops at the first
 * ones found misses some. At a million vectors, recall@20 against the
 * exact ranking of the listed images: 0.995, 0.965 and 0.955 for a month,
 * a place and a type (7-11 ms), against 0.615, 0.653 and 0.522 when
 * over-fetching 2 * need / share candidates and checking them (6-25 ms). */
#define SELECTOR_DEPTH 4
/* With an IVF index, a narrow filter keeping at most this many images has
 * their stored embeddings scored one by one: exact, and cheaper than index
 * searches that must widen their probes to find a few ids among many lists
 * (about 10 us an image, against about 25 ms for 250 of a million). The
 * exact index needs no such help. */
#define STORED_RANKING_MAX 1024
/* A search with a narrow filter and a vector ranking lists the filter's
 * images once, for both rankings, when they are at most 1 in LISTED_SHARE
 * of the library (as many as the text ranking would list itself) or
 * STORED_RANKING_MAX: with the list, the vector ranking searches the index
 * among them alone (SELECTOR_DEPTH), needs no catalog lookups and runs
 * beside the text ranking. */
#define LISTED_SHARE 16

typedef struct search_params {
    int k, offset, rrf_k;
    double text_weight;
    double alpha;
    int explain;
    cs_filter filter;
} search_params;

static cs_status check_options(const cs_search_options *o, search_params *p, cs_error *err)
{
    p->k = o && o->k ? o->k : DEFAULT_K;
    p->offset = o ? o->offset : 0;
    p->rrf_k = o && o->rrf_k ? o->rrf_k : DEFAULT_RRF_K;
    p->text_weight = o && o->text_weight > 0 ? o->text_weight : 1.0;
    p->explain = o ? o->explain : 0;
    p->alpha = o && o->has_alpha ? o->alpha : DEFAULT_ALPHA;
    if (!(p->alpha >= 0.0 && p->alpha <= 1.0))   /* NaN too */
        return cs_error_set(err, CS_ERR_INVALID, "alpha must be a number from 0 to 1, got %g",
                            p->alpha);
    p->filter = o ? o->filter : (cs_filter){0};
    if (p->filter.has_from && p->filter.has_to && p->filter.from > p->filter.to)
        return cs_error_set(err, CS_ERR_INVALID, "the date range ends before it starts");
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
    for (size_t i = 0; i < results->nterms; i++)
        free(results->terms[i].text);
    free(results->terms);
    free(results->fts_query);
    free(results->warning);
    free(results);
}

/* Fills results->items from the fused list, skipping `offset` and taking k. */
static cs_status fill_page(catalog *reader, const fusion_item *fused, size_t nfused,
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
        cs_status rc = catalog_fill_result(reader, f->id, r, err);
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
static cs_status fuse_into(catalog *reader, const fusion_list *lists, size_t nlists,
                           const search_params *p, cs_results *results, cs_error *err)
{
    fusion_item *fused = NULL;
    size_t nfused = 0;
    cs_status rc = fusion_rrf(lists, nlists, p->rrf_k, &fused, &nfused, err);
    if (rc == CS_OK)
        rc = fill_page(reader, fused, nfused, lists, nlists, p, results, err);
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

/* WordNet's alternatives for a query word (lexicon.h): its lemma, searched
 * like the word, and the label concepts it is a kind of, searched in the
 * related column. Without WordNet the word is searched alone. */
static void add_alternative(const char *text, bool same_weight, void *user)
{
    fts_alternatives_add(user, text, same_weight);
}

static cs_status expand_word(const char *word, size_t len, fts_alternatives *alts, void *user,
                             cs_error *err)
{
    (void)user;
    return lexicon_expand_word(word, len, add_alternative, alts, err);
}

/* The text ranking of the FTS5 expression (`listed`: the filter's images
 * when listed, or NULL); *ids and *scores malloc'd. */
static cs_status text_ranking(catalog *reader, const char *match, const search_params *p,
                              const catalog_listed *listed, int64_t **ids, double **scores,
                              size_t *n, cs_error *err)
{
    int want = p->offset + p->k;
    return catalog_fts_search_listed(reader, match, &p->filter, listed,
                                     want > MIN_CANDIDATES ? want : MIN_CANDIDATES, ids, scores,
                                     n, err);
}

static cs_status vector_ranking(catalog *reader, const vectors *v, const float *query,
                                int64_t exclude, const search_params *p,
                                const catalog_listed *listed, int64_t **ids_out,
                                double **scores_out, size_t *n_out, cs_results *results,
                                cs_error *err);

/* One text's embedding, counted in results as computed or cached. */
static cs_status embed_text(cs_library *lib, const vectors *v, const char *text, float *out,
                            cs_results *results, cs_error *err)
{
    bool cached = false;
    cs_status rc = library_clip_text(lib, vectors_model(v), text, out, vectors_dim(v), &cached,
                                     err);
    if (rc == CS_OK)
        (*(cached ? &results->embeddings_cached : &results->embeddings_computed))++;
    return rc;
}

/* A composed query's vector: the terms' embeddings times their signed
 * weights, summed (in double) and scaled back to length 1. Terms that
 * cancel out leave no direction to search in: an error, not a guess. */
static cs_status composed_vector(cs_library *lib, const vectors *v, const composed_query *cq,
                                 float *out, bool *cancel_out, cs_results *results,
                                 cs_error *err)
{
    size_t dim = (size_t)vectors_dim(v);
    float *term = malloc(dim * sizeof *term);
    double *sum = calloc(dim, sizeof *sum);
    cs_status rc = term && sum ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t t = 0; rc == CS_OK && t < cq->n; t++) {
        rc = embed_text(lib, v, cq->terms[t].text, term, results, err);
        for (size_t d = 0; rc == CS_OK && d < dim; d++)
            sum[d] += cq->terms[t].weight * (double)term[d];
    }
    double norm = 0.0;
    for (size_t d = 0; rc == CS_OK && d < dim; d++)
        norm += sum[d] * sum[d];
    norm = sqrt(norm);
    *cancel_out = rc == CS_OK && !(norm > 1e-6);
    for (size_t d = 0; *cancel_out && d < dim; d++)
        out[d] = 0.0f;
    for (size_t d = 0; rc == CS_OK && !*cancel_out && d < dim; d++)
        out[d] = (float)(sum[d] / norm);
    free(term);
    free(sum);
    return rc;
}

/* Whether the vector ranking will run: alpha above 0 and CLIP vectors. */
static bool vector_ranking_runs(const vectors *v, const search_params *p)
{
    return v && p->alpha > 0.0 && clip_is_model_id(vectors_model(v));
}

/* The query's CLIP text embedding (a composed query's combined vector)
 * when the vectors are a CLIP model's and alpha wants them; *query NULL
 * otherwise. A model that cannot be loaded leaves the text ranking alone,
 * with results->warning saying why. */
static cs_status text_vector(cs_library *lib, const vectors *v, const char *query,
                             const composed_query *cq, const search_params *p, float **out,
                             cs_results *results, cs_error *err)
{
    *out = NULL;
    if (!vector_ranking_runs(v, p))
        return CS_OK;
    float *q = malloc((size_t)vectors_dim(v) * sizeof *q);
    if (!q)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_error why;
    bool cancel_out = false;
    double started = fs_now_seconds();
    cs_status rc = cq ? composed_vector(lib, v, cq, q, &cancel_out, results, &why)
                      : embed_text(lib, v, query, q, results, &why);
    results->timings.embed_ms = (fs_now_seconds() - started) * 1000.0;
    if (rc == CS_OK && !cancel_out) {
        *out = q;
        return CS_OK;
    }
    free(q);
    if (cancel_out)
        return cs_error_set(err, CS_ERR_INVALID,
                            "the terms of the composed query cancel out (their weighted sum "
                            "has no direction to search in): change a weight or a sign");
    if (rc == CS_ERR_NOMEM) {
        *err = why;
        return rc;
    }
    char *warning = malloc(CS_ERROR_MESSAGE_MAX + 64);
    if (!warning)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    snprintf(warning, CS_ERROR_MESSAGE_MAX + 64, "text ranking only: %s", why.message);
    results->warning = warning;
    return CS_OK;
}

/* The text ranking on a thread of its own while the query's embedding and
 * then its vector ranking are computed, on what the text tower leaves of
 * the cores: a hybrid search waits for little more than the longer of the
 * two paths instead of their sum. */
typedef struct text_job {
    catalog *reader;
    const char *match;
    const search_params *p;
    const catalog_listed *listed;
    int64_t *ids;
    double *scores;
    size_t n;
    cs_status rc;
    cs_error err;
    double took_ms;
    pthread_t thread;
    bool running;
} text_job;

static void *text_job_run(void *arg)
{
    text_job *j = arg;
#ifdef __linux__
    /* Yield the cores to the text tower, whose threads advance in step (one
     * slowed thread slows them all), and take what they leave: the query's
     * embedding, then its vector ranking, then this. On Linux the nice value
     * is the thread's own. 1M pictures, f32 queries: p50 27.0 -> 20.9 ms. */
    setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
#endif
    double started = fs_now_seconds();
    j->rc = text_ranking(j->reader, j->match, j->p, j->listed, &j->ids, &j->scores, &j->n,
                         &j->err);
    j->took_ms = (fs_now_seconds() - started) * 1000.0;
    return NULL;
}

/* Whether both rankings will run: 0 < alpha < 1 and CLIP vectors. */
static bool both_rankings(const vectors *v, const search_params *p)
{
    return vector_ranking_runs(v, p) && p->alpha < 1.0;
}

/* Starts the job when both rankings will run; otherwise, or when no thread
 * can be made, hybrid() ranks the text itself. */
static void text_job_start(text_job *j, catalog *reader, const vectors *v, const char *match,
                           const search_params *p, const catalog_listed *listed)
{
    *j = (text_job){.reader = reader, .match = match, .p = p, .listed = listed};
    if (both_rankings(v, p))
        j->running = pthread_create(&j->thread, NULL, text_job_run, j) == 0;
}

/* A filter keeping more than LISTED_SHARE, or served by no catalog index
 * (a camera), listed whole for the vector ranking of an IVF index, which
 * then searches among its images alone (SELECTOR_DEPTH) instead of
 * checking the index's first candidates: once per catalog generation, kept
 * in the library's filter lists. At a million images, recall@20 of faces
 * (1 in 10) went from 0.563 to 0.970, listed in about 18 ms, and of a
 * camera (1 in 4) from 0.670 to 0.952, listed in about 0.2 s from the
 * images_camera index. */
static cs_status list_broad(cs_library *lib, catalog *reader, const search_params *p,
                            catalog_listed *listed, cs_results *results, cs_error *err)
{
    char *key = filter_lists_key(&p->filter);   /* NULL: no memory, nothing kept */
    int64_t generation = 0, *ids = NULL;
    size_t n = 0;
    cs_status rc = catalog_generation(reader, &generation, err);
    bool kept = rc == CS_OK && filter_lists_get(lib->filter_lists, key, generation, &ids, &n);
    if (rc == CS_OK && !kept) {
        rc = catalog_filter_ids(reader, &p->filter, INT64_MAX, &ids, &n, NULL, err);
        if (rc == CS_OK)
            filter_lists_put(lib->filter_lists, key, generation, ids, n);
    }
    free(key);
    if (rc != CS_OK) {
        free(ids);
        return rc;
    }
    free(listed->ids);
    *listed = (catalog_listed){.ids = ids, .n = n, .max = (int64_t)n, .more = false};
    results->filter_list = kept ? "kept" : "listed";
    return CS_OK;
}

/* Lists a narrow filter's images for the rankings (LISTED_SHARE), or a
 * broader one, or one no catalog index serves (a camera), for the vector
 * ranking of an IVF index alone (list_broad); *listed untouched (no list)
 * otherwise. */
static cs_status list_filter(cs_library *lib, catalog *reader, const vectors *v,
                             const search_params *p, catalog_listed *listed,
                             cs_results *results, cs_error *err)
{
    if (!catalog_filter_active(&p->filter))
        return CS_OK;
    if (!catalog_filter_narrow(&p->filter))
        return vectors_get_kind(v) == VECTORS_EXACT
                   ? CS_OK : list_broad(lib, reader, p, listed, results, err);
    int64_t max = vectors_count(v) / LISTED_SHARE;
    if (max < STORED_RANKING_MAX)
        max = STORED_RANKING_MAX;
    bool more = false;
    cs_status rc = catalog_filter_ids(reader, &p->filter, max, &listed->ids, &listed->n, &more,
                                      err);
    listed->max = max;
    listed->more = more;
    if (rc != CS_OK || !more || vectors_get_kind(v) == VECTORS_EXACT)
        return rc;
    return list_broad(lib, reader, p, listed, results, err);
}

/* list_filter for a text search whose vector ranking runs. */
static cs_status list_for_rankings(cs_library *lib, catalog *reader, const vectors *v,
                                   const search_params *p, catalog_listed *listed,
                                   cs_results *results, cs_error *err)
{
    return vector_ranking_runs(v, p) ? list_filter(lib, reader, v, p, listed, results, err)
                                     : CS_OK;
}

/* Whether the vector ranking can run beside the text job: it touches the
 * reader, whose connection the job uses, only to check a filter that was
 * not listed, or to read the stored embeddings of a few listed images. */
static bool vector_beside_text(const vectors *v, const search_params *p,
                               const catalog_listed *listed)
{
    if (!catalog_filter_active(&p->filter))
        return true;
    if (listed->max == 0 || listed->more)   /* not listed */
        return false;
    return vectors_get_kind(v) == VECTORS_EXACT || listed->n > STORED_RANKING_MAX;
}

/* Waits for the job; true when it ran (its results are then in *j). */
static bool text_job_finish(text_job *j)
{
    if (!j->running)
        return false;
    pthread_join(j->thread, NULL);
    j->running = false;
    return true;
}

/* A ranked list made ahead of the fusion (the vector ranking while the
 * text job runs). */
typedef struct early_list {
    int64_t *ids;
    double *scores;
    size_t n;
    bool done;
} early_list;

/* The vector ranking of a plain query with exclusions ("beach -people")
 * leaves out the pictures whose words match them, as the text ranking's
 * NOT does: it asks for EXCLUDING_FETCH_FACTOR times the page, and while
 * the pictures left fall short of the page, for that many times more, at
 * most EXCLUDING_ROUNDS_MAX times; a deep page asks for at most
 * EXCLUDING_EXTRA_MAX more, times the factor each round. */
#define EXCLUDING_FETCH_FACTOR 4
#define EXCLUDING_ROUNDS_MAX 3
#define EXCLUDING_EXTRA_MAX 4096

/* The params a vector ranking without `excluded` (NULL: none) asks with in
 * round `round` (0: the first). */
static search_params excluding_params(const search_params *p, const char *excluded, int round)
{
    search_params wider = *p;
    if (!excluded)
        return wider;
    int64_t need = (int64_t)p->offset + p->k, wider_need = need, extra = EXCLUDING_EXTRA_MAX;
    for (int r = 0; r < round; r++)
        extra *= EXCLUDING_FETCH_FACTOR;
    for (int r = 0; r <= round; r++)
        wider_need *= EXCLUDING_FETCH_FACTOR;
    wider.offset = 0;
    wider.k = (int)(wider_need < need + extra ? wider_need : need + extra);
    return wider;
}

/* The vector list into *list (taken over when already made with
 * excluding_params(p, excluded, 0)), without the pictures matching
 * `excluded` (NULL: none). */
static cs_status vector_list(catalog *reader, const vectors *v, const float *qvec,
                             const char *excluded, const search_params *p,
                             const catalog_listed *listed, early_list *list, cs_results *results,
                             cs_error *err)
{
    size_t need = (size_t)p->offset + (size_t)p->k;
    for (int round = 0;; round++) {
        search_params wider = excluding_params(p, excluded, round);
        cs_status rc = CS_OK;
        if (!list->done) {
            rc = vector_ranking(reader, v, qvec, 0, &wider, listed, &list->ids, &list->scores,
                                &list->n, results, err);
            list->done = rc == CS_OK;
        }
        size_t found = list->n;
        if (rc != CS_OK || !excluded)
            return rc;
        rc = catalog_drop_matching(reader, excluded, list->ids, list->scores, &list->n, err);
        if (rc != CS_OK || list->n >= need || found < (size_t)wider.k ||
            round + 1 == EXCLUDING_ROUNDS_MAX)
            return rc;
        free(list->ids);   /* too many left out: ask for more */
        free(list->scores);
        *list = (early_list){0};
    }
}

/* The text list (unless alpha is 1 and the vectors serve) and the vector
 * list (when there is a query vector), weighted by alpha, fused. `job`:
 * the text ranking when it ran already (text_job_finish true), else NULL;
 * `vector`: the vector list when it was made already (taken over);
 * `excluded`: what the vector list leaves out (vector_list). */
static cs_status hybrid(catalog *reader, const vectors *v, const char *match,
                        const char *excluded, const float *qvec, const search_params *p,
                        const catalog_listed *listed, text_job *job, early_list *vector,
                        cs_results *results, cs_error *err)
{
    int64_t *tids = NULL, *vids = NULL;
    double *tscores = NULL, *vscores = NULL;
    size_t tn = 0, vn = 0;
    fusion_list lists[2];
    size_t nlists = 0;
    cs_status rc = CS_OK;
    bool text = !qvec || p->alpha < 1.0;
    if (job) {   /* take its lists, used or not */
        tids = job->ids;
        tscores = job->scores;
        tn = job->n;
        job->ids = NULL;
        job->scores = NULL;
        results->timings.text_ms = job->took_ms;
        if (text && (rc = job->rc) != CS_OK)
            *err = job->err;
    }
    double started = fs_now_seconds();
    if (text) {
        if (!job) {
            rc = text_ranking(reader, match, p, listed, &tids, &tscores, &tn, err);
            results->timings.text_ms = (fs_now_seconds() - started) * 1000.0;
            started = fs_now_seconds();
        }
        double weight = qvec ? (1.0 - p->alpha) * p->text_weight : p->text_weight;
        lists[nlists++] = (fusion_list){"text", weight, tn, tids, tscores};
    }
    if (rc == CS_OK && qvec) {
        bool made = vector->done;
        rc = vector_list(reader, v, qvec, excluded, p, listed, vector, results, err);
        vids = vector->ids;   /* taken over */
        vscores = vector->scores;
        vn = vector->n;
        *vector = (early_list){0};
        lists[nlists++] = (fusion_list){"vector", p->alpha, vn, vids, vscores};
        if (!made || excluded)
            results->timings.vector_ms += (fs_now_seconds() - started) * 1000.0;
        started = fs_now_seconds();
    }
    if (rc == CS_OK)
        rc = fuse_into(reader, lists, nlists, p, results, err);
    results->timings.page_ms = (fs_now_seconds() - started) * 1000.0;
    free(tids);
    free(tscores);
    free(vids);
    free(vscores);
    return rc;
}

/* A composed query's text side: its terms as phrases, the negative ones
 * excluded. The terms (with their signed weights) go into results for
 * explain. */
static cs_status composed_text(const composed_query *cq, cs_results *results, cs_error *err)
{
    const char *texts[CS_MAX_QUERY_TERMS];
    bool exclude[CS_MAX_QUERY_TERMS];
    for (size_t t = 0; t < cq->n; t++) {
        texts[t] = cq->terms[t].text;
        exclude[t] = cq->terms[t].weight < 0.0;
    }
    results->terms = calloc(cq->n, sizeof *results->terms);
    if (!results->terms)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t t = 0; t < cq->n; t++) {
        if (!(results->terms[t].text = strdup(cq->terms[t].text)))
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        results->terms[t].weight = cq->terms[t].weight;
        results->nterms++;
    }
    return fts_query_build_phrases(texts, exclude, cq->n, &results->fts_query, err);
}

/* A plain query's text for the text tower without its search syntax
 * (NULL: the query itself), and the expression of its exclusions (NULL:
 * none); the text read goes into results as the one term, for explain. */
static cs_status vector_text_of(const char *query, char **text, char **excluded,
                                cs_results *results, cs_error *err)
{
    cs_status rc = fts_query_tower_text(query, text, err);
    if (rc == CS_OK)
        rc = fts_query_exclusions(query, excluded, err);
    if (rc == CS_OK && *text && (results->terms = calloc(1, sizeof *results->terms))) {
        results->terms[0].weight = 1.0;
        if ((results->terms[0].text = strdup(*text)))
            results->nterms = 1;
    }
    if (rc == CS_OK && *text && !results->nterms)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return rc;
}

/* Whether the text holds nothing but white space. */
static bool blank_text(const char *text)
{
    for (; *text; text++)
        if (!strchr(" \t\r\n\f\v", *text))
            return false;
    return true;
}

/* A query without words to rank by (blank, or exclusions alone: "-dog"):
 * the pictures the filter keeps, without those matching `excluded` (NULL:
 * none), newest first, as the one ranked list "date". */
static cs_status browse(cs_library *lib, const char *excluded, const search_params *p,
                        cs_results *results, cs_error *err)
{
    if (excluded) {   /* shown by explain */
        size_t size = strlen(excluded) + sizeof "NOT ()";
        if (!(results->fts_query = malloc(size)))
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        snprintf(results->fts_query, size, "NOT (%s)", excluded);
    }
    catalog *reader = library_acquire_reader(lib, err);
    if (!reader)
        return err->code;
    double started = fs_now_seconds();
    int64_t *ids = NULL;
    double *taken = NULL;
    size_t n = 0;
    cs_filter filter = p->filter;
    cs_status rc = catalog_filter_drop_whole(reader, &filter, err);
    if (rc == CS_OK)
        rc = catalog_browse(reader, excluded, &filter, p->offset + p->k, &ids, &taken, &n, err);
    results->timings.text_ms = (fs_now_seconds() - started) * 1000.0;
    started = fs_now_seconds();
    fusion_list list = {"date", 1.0, n, ids, taken};
    if (rc == CS_OK)
        rc = fuse_into(reader, &list, 1, p, results, err);
    results->timings.page_ms = (fs_now_seconds() - started) * 1000.0;
    free(ids);
    free(taken);
    library_release_reader(lib, reader);
    return rc;
}

cs_status cs_search(cs_library *lib, const char *query, const cs_search_options *options,
                    cs_results **out, cs_error *err)
{
    *out = NULL;
    double started = fs_now_seconds();
    search_params p;
    cs_results *results = NULL;
    catalog *reader = NULL;
    vectors *v = NULL;
    float *qvec = NULL;
    composed_query *cq = NULL;
    cs_status rc = check_options(options, &p, err);
    if (rc == CS_OK)
        rc = new_results(&results, err);
    if (rc == CS_OK)
        rc = composed_parse(query ? query : "", &cq, err);
    if (rc == CS_OK && cq)
        rc = composed_text(cq, results, err);
    else if (rc == CS_OK)
        rc = fts_query_build_expanded(query ? query : "", expand_word, NULL,
                                      &results->fts_query, err);
    /* No searchable word: nothing to rank, by text or by meaning; a blank
     * text or exclusions alone list the pictures instead. Other text
     * without words (punctuation) finds nothing. */
    if (rc == CS_OK && !cq && !results->fts_query) {
        char *excluded = NULL;
        rc = fts_query_build_excluded(query ? query : "", &excluded, err);
        if (rc == CS_OK && (excluded || blank_text(query ? query : "")))
            rc = browse(lib, excluded, &p, results, err);
        free(excluded);
        return finish(rc, results, started, out);
    }
    bool words = rc == CS_OK && results->fts_query;
    /* "beach -people": the text tower reads "beach", and the vector list
     * leaves out what the text ranking's NOT does; "red car": red car */
    char *vector_text = NULL, *excluded = NULL;
    if (words && !cq)
        rc = vector_text_of(query, &vector_text, &excluded, results, err);
    if (words && rc == CS_OK && !(reader = library_acquire_reader(lib, err)))
        rc = err->code;
    if (rc == CS_OK && words)
        rc = catalog_filter_drop_whole(reader, &p.filter, err);
    text_job job = {0};
    early_list vector = {0};
    catalog_listed listed = {0};
    if (rc == CS_OK && words) {
        v = library_acquire_vectors(lib);
        rc = list_for_rankings(lib, reader, v, &p, &listed, results, err);
    }
    if (rc == CS_OK && words) {
        text_job_start(&job, reader, v, results->fts_query, &p, &listed);
        rc = text_vector(lib, v, vector_text ? vector_text : query, cq, &p, &qvec, results, err);
        /* The vector ranking while the text job finishes, when it needs
         * not the reader (vector_beside_text). */
        search_params wider = excluding_params(&p, excluded, 0);
        if (rc == CS_OK && qvec && job.running && vector_beside_text(v, &wider, &listed)) {
            double started = fs_now_seconds();
            rc = vector_ranking(reader, v, qvec, 0, &wider, &listed, &vector.ids, &vector.scores,
                                &vector.n, results, err);
            vector.done = rc == CS_OK;
            results->timings.vector_ms = (fs_now_seconds() - started) * 1000.0;
        }
    }
    bool ranked = text_job_finish(&job);
    if (rc == CS_OK && words)
        rc = hybrid(reader, v, results->fts_query, excluded, qvec, &p, &listed,
                    ranked ? &job : NULL, &vector, results, err);
    free(vector_text);
    free(excluded);
    free(job.ids);
    free(job.scores);
    free(vector.ids);
    free(vector.scores);
    free(listed.ids);
    composed_free(cq);
    free(qvec);
    vectors_release(v);
    library_release_reader(lib, reader);
    return finish(rc, results, started, out);
}

/* Whether `listed` holds every image the filter keeps. */
static bool listed_whole(const catalog_listed *listed)
{
    return listed && listed->max > 0 && !listed->more;
}

typedef struct scored_image {
    float score;
    int64_t id;
} scored_image;

static int by_score(const void *a, const void *b)
{
    const scored_image *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* The `want` best of `allowed` (but `exclude`) by the inner product of
 * their stored embeddings with `query` (images without one are left out,
 * as the index leaves them out). */
static cs_status stored_ranking(catalog *reader, const vectors *v, const float *query,
                                const int64_t *allowed, size_t nallowed, int64_t exclude,
                                int want, int64_t *ids, double *scores, size_t *found,
                                cs_error *err)
{
    int dim = vectors_dim(v);
    float *vec = malloc((size_t)dim * sizeof *vec);
    scored_image *all = malloc((nallowed ? nallowed : 1) * sizeof *all);
    cs_status rc = vec && all ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; rc == CS_OK && i < nallowed; i++) {
        if (allowed[i] == exclude)
            continue;
        cs_error missing = {0};
        cs_status got = catalog_get_embedding(reader, allowed[i], vectors_model(v), dim, vec,
                                              &missing);
        if (got == CS_ERR_NOT_FOUND)
            continue;
        if (got != CS_OK) {
            rc = cs_error_set(err, got, "%s", missing.message);
            break;
        }
        float dot = 0;
        for (int d = 0; d < dim; d++)
            dot += query[d] * vec[d];
        all[n++] = (scored_image){dot, allowed[i]};
    }
    if (rc == CS_OK) {
        qsort(all, n, sizeof *all, by_score);
        *found = n < (size_t)want ? n : (size_t)want;
        for (size_t i = 0; i < *found; i++) {
            ids[i] = all[i].id;
            scores[i] = all[i].score;
        }
    }
    free(vec);
    free(all);
    return rc;
}

/* The vector ranking among the images the filter keeps (without
 * `exclude`): the index searches those ids only (vectors_search_among), so
 * a selective filter still fills the page from the ANN index. */
static cs_status selected_ranking(catalog *reader, const vectors *v, const float *query,
                                  int64_t exclude, const search_params *p,
                                  const catalog_listed *listed, int want, int64_t *ids,
                                  float *scores, int *found, cs_error *err)
{
    int64_t *allowed = NULL;
    size_t nallowed = 0;
    cs_status rc = CS_OK;
    if (listed_whole(listed)) {
        allowed = malloc((listed->n ? listed->n : 1) * sizeof *allowed);
        if (!allowed)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        if (listed->n)   /* none listed: ids may be NULL */
            memcpy(allowed, listed->ids, listed->n * sizeof *allowed);
        nallowed = listed->n;
    } else {
        rc = catalog_filter_ids(reader, &p->filter, -1, &allowed, &nallowed, NULL, err);
    }
    size_t kept = 0;
    for (size_t i = 0; rc == CS_OK && i < nallowed; i++)
        if (allowed[i] != exclude)
            allowed[kept++] = allowed[i];
    if (rc == CS_OK)
        rc = vectors_search_among(v, query, want, allowed, kept, ids, scores, found, err);
    free(allowed);
    return rc;
}

/* The `want` nearest of the images the filter keeps, searched `depth`
 * times as deep (*ids_out and *scores_out malloc'd). */
static cs_status selected_list(catalog *reader, const vectors *v, const float *query,
                               int64_t exclude, const search_params *p,
                               const catalog_listed *listed, int want, int depth,
                               int64_t **ids_out, double **scores_out, size_t *n_out,
                               cs_error *err)
{
    int deep = want <= INT_MAX / depth ? want * depth : INT_MAX;
    int64_t *ids = malloc((size_t)deep * sizeof *ids);
    float *found_scores = malloc((size_t)deep * sizeof *found_scores);
    double *scores = malloc((size_t)want * sizeof *scores);
    int found = 0;
    cs_status rc = ids && found_scores && scores
                       ? selected_ranking(reader, v, query, exclude, p, listed, deep, ids,
                                          found_scores, &found, err)
                       : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    size_t kept = rc == CS_OK ? (size_t)(found < want ? found : want) : 0;
    for (size_t i = 0; i < kept; i++)   /* nearest first */
        scores[i] = found_scores[i];
    free(found_scores);
    if (rc != CS_OK) {
        free(ids);
        free(scores);
        return rc;
    }
    *ids_out = ids;
    *scores_out = scores;
    *n_out = kept;
    return CS_OK;
}

/* The index's `want` nearest to `query`, keeping those that are not
 * `exclude` and pass the filter: *ids and *scores malloc'd with room for
 * `want`, *kept of them kept out of *found. */
static cs_status candidates(catalog *reader, const vectors *v, const float *query,
                            int64_t exclude, const search_params *p,
                            const catalog_listed *listed, int want, int64_t **ids_out,
                            double **scores_out, size_t *kept_out, int *found_out,
                            cs_error *err)
{
    size_t room = (size_t)(want ? want : 1);
    int64_t *ids = malloc(room * sizeof *ids);
    float *found_scores = malloc(room * sizeof *found_scores);
    double *scores = malloc(room * sizeof *scores);
    int found = 0;
    cs_status rc = (ids && found_scores && scores)
                       ? (want ? vectors_search(v, query, want, ids, found_scores, &found, err)
                               : CS_OK)
                       : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    bool filtered = catalog_filter_active(&p->filter);
    size_t kept = 0;
    for (int i = 0; rc == CS_OK && i < found; i++) {
        bool keep = ids[i] != exclude;
        if (keep && filtered && listed_whole(listed))
            keep = catalog_listed_has(listed, ids[i]);
        else if (keep && filtered)
            rc = catalog_filter_matches(reader, ids[i], &p->filter, &keep, err);
        if (keep) {
            ids[kept] = ids[i];
            scores[kept++] = found_scores[i];
        }
    }
    free(found_scores);
    if (rc != CS_OK) {
        free(ids);
        free(scores);
        return rc;
    }
    *ids_out = ids;
    *scores_out = scores;
    *kept_out = kept;
    *found_out = found;
    return CS_OK;
}

/* A narrow filter (catalog_filter_narrow) lists its images from the
 * catalog's index for a fraction of a millisecond: when it keeps few, they
 * are ranked by their stored embeddings with no index search (*done).
 * *ids and *scores malloc'd with room for `want`. */
static cs_status narrow_ranking(catalog *reader, const vectors *v, const float *query,
                                int64_t exclude, const search_params *p,
                                const catalog_listed *listed, int want, int64_t **ids_out,
                                double **scores_out, size_t *kept_out, bool *done,
                                cs_error *err)
{
    *done = false;
    int64_t *allowed = NULL;
    size_t nallowed = 0;
    bool more = false;
    cs_status rc = CS_OK;
    if (listed_whole(listed)) {   /* listed for both rankings: no second listing */
        more = listed->n > STORED_RANKING_MAX;
        if (!more && listed->n) {
            allowed = malloc(listed->n * sizeof *allowed);
            if (!allowed)
                return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            memcpy(allowed, listed->ids, listed->n * sizeof *allowed);
            nallowed = listed->n;
        }
    } else if (listed && listed->max >= STORED_RANKING_MAX && listed->more) {
        more = true;
    } else {
        rc = catalog_filter_ids(reader, &p->filter, STORED_RANKING_MAX, &allowed, &nallowed,
                                &more, err);
    }
    if (rc == CS_OK && !more) {
        size_t room = want > 0 ? (size_t)want : 1;
        *ids_out = malloc(room * sizeof **ids_out);
        *scores_out = malloc(room * sizeof **scores_out);
        rc = *ids_out && *scores_out
                 ? stored_ranking(reader, v, query, allowed, nallowed, exclude, want, *ids_out,
                                  *scores_out, kept_out, err)
                 : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        *done = rc == CS_OK;
        if (rc != CS_OK) {
            free(*ids_out);
            free(*scores_out);
            *ids_out = NULL;
            *scores_out = NULL;
        }
    }
    free(allowed);
    return rc;
}

/* How many candidates a filtered search's first round asks for (*want, at
 * least as many as unfiltered): when the filter's images are listed, or it
 * keeps at most a segment's known rows (catalog_filter_rows_at_most; the
 * reader is free then, since the vector ranking waits for the text job),
 * twice what is expected to hold `need` passing ones, within the share a
 * second round may take. */
static cs_status first_round(catalog *reader, const search_params *p,
                             const catalog_listed *listed, size_t need, int64_t total,
                             int *want, cs_error *err)
{
    int64_t at_most = 0;
    cs_status rc = CS_OK;
    if (listed_whole(listed))
        at_most = (int64_t)listed->n;
    else
        rc = catalog_filter_rows_at_most(reader, &p->filter, &at_most, err);
    if (rc != CS_OK || at_most <= 0 || *want >= total)
        return rc;
    double estimate = 2.0 * (double)need * (double)total / (double)at_most;
    if (estimate > *want && estimate <= (double)total * POST_FILTER_MAX_SHARE)
        *want = (int)estimate;
    return CS_OK;
}

/* The vector ranking for `query`: the nearest images, without `exclude`
 * (the query image itself, 0 = none) and without images the filter rejects.
 * With an IVF index, a narrow filter keeping few images has them ranked by
 * their stored embeddings. Otherwise a filtered search first asks the index for the
 * usual candidates and checks each. When they do not fill the page, the
 * share that passed estimates how many candidates would: if that is a
 * small part of the index, one more, larger round; otherwise (a selective
 * filter) only the images the filter keeps are searched. *ids and *scores
 * are malloc'd. */
static cs_status vector_ranking(catalog *reader, const vectors *v, const float *query,
                                int64_t exclude, const search_params *p,
                                const catalog_listed *listed, int64_t **ids_out,
                                double **scores_out, size_t *n_out, cs_results *results,
                                cs_error *err)
{
    *ids_out = NULL;
    *scores_out = NULL;
    *n_out = 0;
    size_t need = (size_t)p->offset + (size_t)p->k;
    int64_t total = vectors_count(v);
    bool filtered = catalog_filter_active(&p->filter);
    int want = (int)(need + 1 < (size_t)MIN_CANDIDATES ? MIN_CANDIDATES : need + 1);
    if (want > total)
        want = (int)total;
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t kept = 0;
    int found = 0;
    if (filtered && vectors_get_kind(v) != VECTORS_EXACT && catalog_filter_narrow(&p->filter)) {
        bool done = false;
        cs_status rc = narrow_ranking(reader, v, query, exclude, p, listed, want, ids_out,
                                      scores_out, n_out, &done, err);
        if (rc == CS_OK && done)
            results->vector_filter = "stored";
        if (rc != CS_OK || done)
            return rc;
    }
    if (filtered && vectors_get_kind(v) != VECTORS_EXACT && listed_whole(listed)) {
        results->vector_filter = "id-selector";
        return selected_list(reader, v, query, exclude, p, listed, want, SELECTOR_DEPTH,
                             ids_out, scores_out, n_out, err);
    }
    cs_status rc = filtered ? first_round(reader, p, listed, need, total, &want, err) : CS_OK;
    if (rc != CS_OK)
        return rc;
    rc = candidates(reader, v, query, exclude, p, listed, want, &ids, &scores, &kept, &found,
                    err);
    if (filtered)
        results->vector_filter = "post-filter";
    if (rc == CS_OK && filtered && kept < need && want < total && kept > 0) {
        /* twice the estimate, so one more round nearly always suffices */
        double estimate = 2.0 * (double)need * (double)found / (double)kept;
        if (estimate <= (double)total * POST_FILTER_MAX_SHARE) {
            free(ids);
            free(scores);
            want = (int)estimate;
            rc = candidates(reader, v, query, exclude, p, listed, want, &ids, &scores, &kept,
                            &found, err);
        }
    }
    if (rc == CS_OK && filtered && kept < need && want < total) {
        results->vector_filter = "id-selector";
        free(ids);
        free(scores);
        return selected_list(reader, v, query, exclude, p, listed, want, 1, ids_out,
                             scores_out, n_out, err);
    }
    if (rc != CS_OK) {
        free(ids);
        free(scores);
        return rc;
    }
    *ids_out = ids;
    *scores_out = scores;
    *n_out = kept;
    return CS_OK;
}

/* A search whose only list is the vector ranking of `query`. */
static cs_status search_by_vector(cs_library *lib, catalog *reader, const vectors *v,
                                  const float *query, int64_t exclude, const search_params *p,
                                  cs_results *results, cs_error *err)
{
    int64_t *ids = NULL;
    double *scores = NULL;
    size_t n = 0;
    catalog_listed listed = {0};
    double started = fs_now_seconds();
    cs_status rc = list_filter(lib, reader, v, p, &listed, results, err);
    if (rc == CS_OK)
        rc = vector_ranking(reader, v, query, exclude, p, &listed, &ids, &scores, &n, results,
                            err);
    free(listed.ids);
    results->timings.vector_ms = (fs_now_seconds() - started) * 1000.0;
    started = fs_now_seconds();
    fusion_list vector = {"vector", 1.0, n, ids, scores};
    if (rc == CS_OK)
        rc = fuse_into(reader, &vector, 1, p, results, err);
    results->timings.page_ms = (fs_now_seconds() - started) * 1000.0;
    free(ids);
    free(scores);
    return rc;
}

static cs_status no_vectors(cs_error *err)
{
    return cs_error_set(err, CS_ERR_NOT_FOUND,
                        "the library has no image vectors yet: index some images first");
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
    vectors *v = library_acquire_vectors(lib);
    if (!v)
        return no_vectors(err);
    catalog *reader = library_acquire_reader(lib, err);
    cs_results *results = NULL;
    float *query = malloc((size_t)vectors_dim(v) * sizeof *query);
    if (!reader)
        rc = err->code;
    else if (!query)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK)
        rc = catalog_get_embedding(reader, id, vectors_model(v), vectors_dim(v), query, err);
    if (rc == CS_OK)
        rc = new_results(&results, err);
    if (rc == CS_OK)
        rc = catalog_filter_drop_whole(reader, &p.filter, err);
    if (rc == CS_OK)
        rc = search_by_vector(lib, reader, v, query, id, &p, results, err);
    free(query);
    library_release_reader(lib, reader);
    vectors_release(v);
    return finish(rc, results, started, out);
}

/* The vector of a picture given as file bytes in the space of `v`,
 * computed the way the indexer computes it (same decode size), so that a
 * picture that is in the library matches its own stored vector. */
static cs_status picture_vector(cs_library *lib, const vectors *v, const uint8_t *data,
                                size_t len, float *out, cs_error *err)
{
    if (!data || len == 0)
        return cs_error_set(err, CS_ERR_INVALID,
                            "no picture to search with: the image data is empty");
    if (clip_is_model_id(vectors_model(v)))
        return library_clip_image(lib, vectors_model(v), data, len, out, vectors_dim(v), err);
    bool layout = vectors_dim(v) == CS_LAYOUT_DIM && strcmp(vectors_model(v), CS_LAYOUT_MODEL_ID) == 0;
    bool features = vectors_dim(v) == TAGGER_FEATURE_DIM &&
                    strcmp(vectors_model(v), TAGGER_FEATURE_MODEL_ID) == 0;
    if (!layout && !features)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "searching by picture needs the %s, %s or CLIP image vectors, but "
                            "this library holds %s vectors", CS_LAYOUT_MODEL_ID,
                            TAGGER_FEATURE_MODEL_ID, vectors_model(v));
    cs_decode_options options = {
        .target_min_side = layout ? CS_ANALYSIS_MIN_SIDE : TAGGER_DECODE_MIN_SIDE,
    };
    cs_decoded decoded;
    cs_status rc = image_decode(data, len, NULL, &options, &decoded, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "cannot search with this picture: ");
    /* Like the indexer: half a picture (the rest gray) would match wrongly. */
    if (decoded.partial)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "cannot search with this picture: it is "
                          "truncated or damaged (only part of it decodes)");
    else if (layout)
        image_layout_vector(&decoded.image, out);
    else
        rc = library_tagger_features(lib, &decoded.image, out, err);
    image_decoded_free(&decoded);
    return rc;
}

cs_status cs_search_image(cs_library *lib, const uint8_t *data, size_t len,
                          const cs_search_options *options, cs_results **out, cs_error *err)
{
    *out = NULL;
    double started = fs_now_seconds();
    search_params p;
    cs_status rc = check_options(options, &p, err);
    if (rc != CS_OK)
        return rc;
    vectors *v = library_acquire_vectors(lib);
    if (!v)
        return no_vectors(err);
    catalog *reader = NULL;
    cs_results *results = NULL;
    float *query = malloc((size_t)vectors_dim(v) * sizeof *query);
    rc = query ? picture_vector(lib, v, data, len, query, err)
               : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (rc == CS_OK && !(reader = library_acquire_reader(lib, err)))
        rc = err->code;
    if (rc == CS_OK)
        rc = new_results(&results, err);
    if (rc == CS_OK)
        rc = catalog_filter_drop_whole(reader, &p.filter, err);
    if (rc == CS_OK)
        rc = search_by_vector(lib, reader, v, query, 0, &p, results, err);
    free(query);
    library_release_reader(lib, reader);
    vectors_release(v);
    return finish(rc, results, started, out);
}
