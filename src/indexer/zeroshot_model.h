/* Zero-shot captions with a loaded CLIP model: the concept vocabulary's
 * text embeddings (from the catalog's cache, or computed with the model's
 * text tower and stored there), and captions for batches of image
 * embeddings (scores, softmax, the rule and composer of caption/zeroshot.h,
 * candidates ranked by CLIP). Used by the CLIP stage and by `capsearch
 * caption`. One thread at a time. */
#ifndef CS_INDEXER_ZEROSHOT_MODEL_H
#define CS_INDEXER_ZEROSHOT_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "caption/zeroshot.h"
#include "capsearch/capsearch.h"
#include "common/strmap.h"
#include "store/catalog.h"

typedef struct zs_model {
    concept_vocab vocab;
    float *concepts;          /* vocab.n x dim, L2-normalised */
    int dim;
    zs_rule rule;
    size_t computed;          /* concept embeddings computed by zs_model_load
                                 (0: all came from the catalog) */
    strmap prompt_index;      /* candidate prompt -> row of prompt_vectors */
    float *prompt_vectors;
    size_t nprompts, capprompts;
    size_t prompt_cache_max;  /* prompts kept before the cache starts afresh
                                 (ZS_PROMPT_CACHE_MAX; at least one call's) */
} zs_model;

/* Candidate prompts whose embeddings a loaded model keeps (about 2 KB
 * each at 512 dimensions): a long run's distinct sentences stay bounded. */
#define ZS_PROMPT_CACHE_MAX 16384

/* Builds the vocabulary and its embeddings for CLIP model `model_id`.
 * With `cat` (a writable catalog, no transaction open), embeddings stored
 * for the model are reused; missing ones come from the user's shared cache
 * (concept_cache.h) or are computed, and are stored, 256 concepts per
 * transaction. Computed ones go to the shared cache too. CS_ERR_NOT_FOUND /
 * CS_ERR_UNSUPPORTED when WordNet is missing; CS_ERR_CANCELLED when
 * *cancel is set (what was stored stays). */
/* Told after each chunk of concepts embedded: `done` of `todo` this load
 * has to compute (computing them takes minutes for a large model). */
typedef void (*zs_load_progress_fn)(size_t done, size_t todo, void *user);

cs_status zs_model_load(zs_model *m, catalog *cat, cs_clip_model *clip, const char *model_id,
                        volatile int *cancel, zs_load_progress_fn progress, void *progress_user,
                        cs_error *err);
void zs_model_free(zs_model *m);

/* Zero-shot captions of n images (n x dim embeddings): out[n]. `probs`
 * (NULL or n x vocab.n) receives the probabilities. */
cs_status zs_model_caption(zs_model *m, cs_clip_model *clip, const float *images, size_t n,
                           zs_caption *out, float *probs, cs_error *err);

/* The concept words of a caption's picks, space-separated ("dog beach"),
 * and its picks as tags of kind "concept" (tags[ZS_MAX_PICKS]). */
void zs_model_words(const zs_model *m, const zs_caption *c, char *words, size_t size);
size_t zs_model_tags(const zs_model *m, const zs_caption *c, catalog_tag *tags);

#endif
