/* Concept embeddings per CLIP model and zero-shot captions of image
 * embeddings (zeroshot_model.h). */
#include "indexer/zeroshot_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "common/array.h"
#include "indexer/concept_cache.h"
#include "store/catalog_concepts.h"

/* Concepts embedded per text-tower call and per transaction: an
 * interrupted first run keeps what it stored. */
#define CONCEPT_CHUNK 256

/* A hash of a concept's prompt texts: a stored embedding is reused only
 * for the same prompts (changed templates recompute it). */
static void prompts_hash(char prompts[][CONCEPT_PROMPT_MAX], size_t n, char out[17])
{
    char joined[CONCEPT_MAX_TEMPLATES * CONCEPT_PROMPT_MAX];
    size_t len = 0;
    for (size_t i = 0; i < n && i < CONCEPT_MAX_TEMPLATES; i++) {
        size_t k = strlen(prompts[i]) + 1;   /* the NUL separates them */
        memcpy(joined + len, prompts[i], k);
        len += k;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits(joined, len));
}

static void normalise(float *v, int dim)
{
    double sum = 0;
    for (int k = 0; k < dim; k++)
        sum += (double)v[k] * v[k];
    float inv = sum > 0 ? (float)(1.0 / sqrt(sum)) : 0.0f;
    for (int k = 0; k < dim; k++)
        v[k] *= inv;
}

typedef struct cached {
    zs_model *m;
    strmap *index;            /* concept key -> vocabulary index */
    bool *have;
} cached;

static cs_status take_cached(const char *key, const char *prompts, int dim,
                             const float *data, void *user, cs_error *err)
{
    (void)err;
    cached *c = user;
    int64_t *at = NULL;
    if (dim != c->m->dim || !strmap_get(c->index, key, &at) || c->have[*at])
        return CS_OK;
    const concept *k = &c->m->vocab.items[*at];
    char texts[CONCEPT_MAX_TEMPLATES][CONCEPT_PROMPT_MAX], hash[17];
    prompts_hash(texts, concept_prompts(k, texts, CONCEPT_MAX_TEMPLATES), hash);
    if (strcmp(hash, prompts) != 0)
        return CS_OK;
    memcpy(c->m->concepts + (size_t)*at * (size_t)dim, data, (size_t)dim * sizeof *data);
    c->have[*at] = true;
    return CS_OK;
}

static cs_status read_cache(zs_model *m, catalog *cat, const char *model_id, bool *have,
                            cs_error *err)
{
    strmap index;
    strmap_init(&index);
    cs_status rc = CS_OK;
    for (size_t i = 0; rc == CS_OK && i < m->vocab.n; i++) {
        char key[CONCEPT_WORD_MAX + 16];
        concept_key(&m->vocab.items[i], key, sizeof key);
        if (!strmap_put(&index, key, (int64_t)i))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    cached c = {m, &index, have};
    if (rc == CS_OK)
        rc = catalog_each_concept_embedding(cat, model_id, take_cached, &c, err);
    strmap_free(&index);
    return rc;
}

/* Embeds the concepts todo[0..n) (their prompts, averaged, normalised). */
static cs_status embed_chunk(zs_model *m, cs_clip_model *clip, const size_t *todo, size_t n,
                             char (*texts)[CONCEPT_PROMPT_MAX], const char **ptrs,
                             size_t *counts, float *out, cs_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        counts[i] = concept_prompts(&m->vocab.items[todo[i]], texts + total,
                                    CONCEPT_MAX_TEMPLATES);
        total += counts[i];
    }
    for (size_t i = 0; i < total; i++)
        ptrs[i] = texts[i];
    cs_status rc = cs_clip_embed_texts(clip, ptrs, total, out, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "embedding the concept vocabulary: ");
    size_t row = 0;
    for (size_t i = 0; i < n; i++) {
        float *dest = m->concepts + todo[i] * (size_t)m->dim;
        memset(dest, 0, (size_t)m->dim * sizeof *dest);
        for (size_t t = 0; t < counts[i]; t++, row++)
            for (int k = 0; k < m->dim; k++)
                dest[k] += out[row * (size_t)m->dim + (size_t)k];
        normalise(dest, m->dim);
    }
    return CS_OK;
}

static cs_status store_chunk(zs_model *m, catalog *cat, const char *model_id,
                             const size_t *todo, size_t n, cs_error *err)
{
    cs_status rc = catalog_begin(cat, err);
    for (size_t i = 0; rc == CS_OK && i < n; i++) {
        const concept *k = &m->vocab.items[todo[i]];
        char key[CONCEPT_WORD_MAX + 16], texts[CONCEPT_MAX_TEMPLATES][CONCEPT_PROMPT_MAX];
        char hash[17];
        concept_key(k, key, sizeof key);
        prompts_hash(texts, concept_prompts(k, texts, CONCEPT_MAX_TEMPLATES), hash);
        rc = catalog_put_concept_embedding(cat, model_id, key, hash, m->dim,
                                           m->concepts + todo[i] * (size_t)m->dim, err);
    }
    if (rc == CS_OK)
        return catalog_commit(cat, err);
    catalog_rollback(cat);
    return cs_error_prefix(err, "storing concept embeddings: ");
}

/* Stores the concepts with pick[k] in `cat`, CONCEPT_CHUNK per transaction. */
static cs_status store_picked(zs_model *m, catalog *cat, const char *model_id,
                              const bool *pick, cs_error *err)
{
    size_t todo[CONCEPT_CHUNK], n = 0;
    cs_status rc = CS_OK;
    for (size_t k = 0; rc == CS_OK && k < m->vocab.n; k++) {
        if (pick[k])
            todo[n++] = k;
        if (n == CONCEPT_CHUNK || (n > 0 && k + 1 == m->vocab.n)) {
            rc = store_chunk(m, cat, model_id, todo, n, err);
            n = 0;
        }
    }
    return rc;
}

/* Fills the concepts `have` lacks from the user's shared cache (*shared,
 * closed and set NULL when it fails: it is only a cache) and stores those
 * it had in the library's catalog. */
static cs_status read_shared(zs_model *m, catalog *cat, catalog **shared, const char *model_id,
                             bool *have, cs_error *err)
{
    bool *before = malloc(m->vocab.n * sizeof *before);
    if (!before)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    memcpy(before, have, m->vocab.n * sizeof *have);
    cs_error ignored;
    if (read_cache(m, *shared, model_id, have, &ignored) != CS_OK) {
        memcpy(have, before, m->vocab.n * sizeof *have);
        catalog_close(*shared);
        *shared = NULL;
    }
    size_t found = 0;
    for (size_t k = 0; k < m->vocab.n; k++) {
        before[k] = have[k] && !before[k];   /* now: came from the shared cache */
        found += before[k];
    }
    cs_status rc = cat && found ? store_picked(m, cat, model_id, before, err) : CS_OK;
    free(before);
    return rc;
}

static cs_status compute_missing(zs_model *m, catalog *cat, catalog **shared,
                                 cs_clip_model *clip, const char *model_id, const bool *have,
                                 volatile int *cancel,
                                 zs_load_progress_fn progress, void *progress_user,
                                 cs_error *err)
{
    size_t missing = 0;
    for (size_t k = 0; k < m->vocab.n; k++)
        missing += !have[k];
    size_t per = CONCEPT_CHUNK * CONCEPT_MAX_TEMPLATES;
    size_t *todo = malloc(CONCEPT_CHUNK * sizeof *todo);
    size_t *counts = malloc(CONCEPT_CHUNK * sizeof *counts);
    char (*texts)[CONCEPT_PROMPT_MAX] = malloc(per * sizeof *texts);
    const char **ptrs = malloc(per * sizeof *ptrs);
    float *out = malloc(per * (size_t)m->dim * sizeof *out);
    cs_status rc = todo && counts && texts && ptrs && out
                       ? CS_OK
                       : cs_error_set(err, CS_ERR_NOMEM, "out of memory embedding concepts");
    size_t i = 0;
    while (rc == CS_OK && i < m->vocab.n) {
        if (cancel && *cancel) {
            rc = cs_error_set(err, CS_ERR_CANCELLED, "indexing interrupted; run it again to "
                                                     "resume");
            break;
        }
        size_t n = 0;
        for (; i < m->vocab.n && n < CONCEPT_CHUNK; i++)
            if (!have[i])
                todo[n++] = i;
        if (n == 0)
            break;
        rc = embed_chunk(m, clip, todo, n, texts, ptrs, counts, out, err);
        if (rc == CS_OK && cat)
            rc = store_chunk(m, cat, model_id, todo, n, err);
        cs_error ignored;
        if (rc == CS_OK && *shared &&
            store_chunk(m, *shared, model_id, todo, n, &ignored) != CS_OK) {
            catalog_close(*shared);   /* read-only or full: go on without it */
            *shared = NULL;
        }
        m->computed += rc == CS_OK ? n : 0;
        if (rc == CS_OK && progress)
            progress(m->computed, missing, progress_user);
    }
    free(todo);
    free(counts);
    free(texts);
    free(ptrs);
    free(out);
    return rc;
}

cs_status zs_model_load(zs_model *m, catalog *cat, cs_clip_model *clip, const char *model_id,
                        volatile int *cancel, zs_load_progress_fn progress, void *progress_user,
                        cs_error *err)
{
    memset(m, 0, sizeof *m);
    strmap_init(&m->prompt_index);
    cs_status rc = concepts_build(&m->vocab, err);
    if (rc != CS_OK)
        return rc;
    m->dim = cs_clip_dim(clip);
    m->rule = zs_rule_default();
    m->prompt_cache_max = ZS_PROMPT_CACHE_MAX;
    m->concepts = malloc(m->vocab.n * (size_t)m->dim * sizeof *m->concepts);
    bool *have = calloc(m->vocab.n, sizeof *have);
    if (!m->concepts || !have)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory loading the concept vocabulary");
    if (rc == CS_OK && cat)
        rc = read_cache(m, cat, model_id, have, err);
    size_t missing = 0;
    for (size_t k = 0; rc == CS_OK && k < m->vocab.n; k++)
        missing += !have[k];
    cs_error ignored;
    catalog *shared = rc == CS_OK && missing ? concept_cache_open(&ignored) : NULL;
    if (rc == CS_OK && shared)
        rc = read_shared(m, cat, &shared, model_id, have, err);
    if (rc == CS_OK)
        rc = compute_missing(m, cat, &shared, clip, model_id, have, cancel, progress,
                             progress_user, err);
    catalog_close(shared);
    free(have);
    if (rc != CS_OK)
        zs_model_free(m);
    return rc;
}

void zs_model_free(zs_model *m)
{
    concepts_free(&m->vocab);
    free(m->concepts);
    free(m->prompt_vectors);
    strmap_free(&m->prompt_index);
    memset(m, 0, sizeof *m);
}

static void forget_prompts(zs_model *m)
{
    strmap_free(&m->prompt_index);
    strmap_init(&m->prompt_index);
    m->nprompts = 0;
}

/* Embeds the candidates' prompts not seen before (one text-tower call for
 * the whole batch): the same sentences recur from picture to picture. The
 * cache starts afresh when this call might not fit under its bound. */
static cs_status embed_prompts(zs_model *m, cs_clip_model *clip, const zs_caption *caps,
                               size_t n, cs_error *err)
{
    const char *fresh[ZS_MAX_CANDIDATES * 64];
    size_t nfresh = 0;
    size_t limit = sizeof fresh / sizeof *fresh;
    size_t incoming = 0;
    for (size_t i = 0; i < n; i++)
        incoming += (size_t)caps[i].ncandidates;
    if (m->nprompts + incoming > m->prompt_cache_max)
        forget_prompts(m);
    cs_status rc = CS_OK;
    for (size_t i = 0; i < n && rc == CS_OK; i++) {
        for (int j = 0; j < caps[i].ncandidates && rc == CS_OK; j++) {
            const char *p = caps[i].candidates[j].prompt;
            int64_t *at = NULL;
            if (strmap_get(&m->prompt_index, p, &at))
                continue;
            if (nfresh == limit) {
                rc = cs_error_set(err, CS_ERR_INVALID, "too many captions in one call");
                break;
            }
            if (!strmap_put(&m->prompt_index, p, (int64_t)(m->nprompts + nfresh))) {
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
                break;
            }
            fresh[nfresh++] = p;
        }
    }
    if (rc != CS_OK)
        forget_prompts(m);   /* entries were put for rows never filled */
    if (rc != CS_OK || nfresh == 0)
        return rc;
    size_t want = m->nprompts + nfresh;
    if (want > m->capprompts) {
        size_t cap = m->capprompts ? m->capprompts : 256;
        while (cap < want)
            cap *= 2;
        float *grown = realloc(m->prompt_vectors, cap * (size_t)m->dim * sizeof *grown);
        if (!grown)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        m->prompt_vectors = grown;
        m->capprompts = cap;
    }
    rc = cs_clip_embed_texts(clip, fresh, nfresh,
                             m->prompt_vectors + m->nprompts * (size_t)m->dim, err);
    if (rc != CS_OK) {
        forget_prompts(m);   /* the index names rows that were never filled */
        return cs_error_prefix(err, "embedding caption candidates: ");
    }
    m->nprompts = want;
    return CS_OK;
}

cs_status zs_model_caption(zs_model *m, cs_clip_model *clip, const float *images, size_t n,
                           zs_caption *out, float *probs, cs_error *err)
{
    size_t nc = m->vocab.n;
    float *scores = malloc(n * nc * sizeof *scores);
    float *cands = malloc(ZS_MAX_CANDIDATES * (size_t)m->dim * sizeof *cands);
    if (!scores || !cands) {
        free(scores);
        free(cands);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory scoring concepts");
    }
    zs_logits(images, n, m->concepts, nc, m->dim, ZS_LOGIT_SCALE, scores);
    for (size_t i = 0; i < n; i++) {
        zs_softmax(scores + i * nc, nc);
        zs_compose(&m->vocab, scores + i * nc, &m->rule, &out[i]);
    }
    if (probs)
        memcpy(probs, scores, n * nc * sizeof *scores);
    cs_status rc = embed_prompts(m, clip, out, n, err);
    for (size_t i = 0; rc == CS_OK && i < n; i++) {
        for (int j = 0; j < out[i].ncandidates; j++) {
            int64_t *at = NULL;
            strmap_get(&m->prompt_index, out[i].candidates[j].prompt, &at);
            memcpy(cands + (size_t)j * (size_t)m->dim, m->prompt_vectors + *at * m->dim,
                   (size_t)m->dim * sizeof *cands);
        }
        zs_rank(&out[i], images + i * (size_t)m->dim, cands, m->dim);
    }
    free(scores);
    free(cands);
    return rc;
}

void zs_model_words(const zs_model *m, const zs_caption *c, char *words, size_t size)
{
    size_t len = 0;
    words[0] = '\0';
    for (int i = 0; i < c->npicks; i++) {
        const char *w = m->vocab.items[c->picks[i].concept].word;
        size_t n = strlen(w);
        if (len + n + 2 > size)
            break;
        if (len)
            words[len++] = ' ';
        memcpy(words + len, w, n + 1);
        len += n;
    }
}

size_t zs_model_tags(const zs_model *m, const zs_caption *c, catalog_tag *tags)
{
    for (int i = 0; i < c->npicks; i++)
        tags[i] = (catalog_tag){m->vocab.items[c->picks[i].concept].word, "concept",
                                c->picks[i].prob};
    return (size_t)c->npicks;
}
