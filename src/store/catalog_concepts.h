/* The catalog's zero-shot tables (schema version 4, see index/FORMAT.md):
 * concept text embeddings per CLIP model, and per image the zero-shot
 * sentence and words merged into its caption row. */
#ifndef CS_STORE_CATALOG_CONCEPTS_H
#define CS_STORE_CATALOG_CONCEPTS_H

#include "store/catalog.h"

typedef cs_status (*catalog_concept_fn)(const char *concept, const char *prompts, int dim,
                                        const float *data, void *user, cs_error *err);
/* Calls fn for every stored concept embedding of `model`. */
cs_status catalog_each_concept_embedding(catalog *c, const char *model, catalog_concept_fn fn,
                                         void *user, cs_error *err);
/* Stores (replacing) one concept's embedding; inside a write transaction. */
cs_status catalog_put_concept_embedding(catalog *c, const char *model, const char *concept,
                                        const char *prompts, int dim, const float *data,
                                        cs_error *err);
/* How many concept embeddings `model` has. */
cs_status catalog_count_concept_embeddings(catalog *c, const char *model, int64_t *count,
                                           cs_error *err);

typedef struct catalog_zeroshot {
    const char *model;
    const char *sentence;     /* "A dog on a beach at sunset." ("" = none) */
    const char *words;        /* the concept words for captions.tags */
    const catalog_tag *tags;  /* kind "concept" */
    size_t ntags;
    const char *related;      /* the caption row's related words with the
                                 concepts' (NULL: left as they are) */
} catalog_zeroshot;

/* Puts image `id`'s zero-shot caption in its caption row: the sentence in
 * front of the caption, the words after the tags text, replacing what an
 * earlier zero-shot caption put there, and the related words when given;
 * its `concept` tags are replaced. Inside a write transaction. */
cs_status catalog_set_zeroshot(catalog *c, int64_t id, const catalog_zeroshot *z,
                               cs_error *err);

/* Ids of images with a zero-shot caption of `model`, ascending; *ids malloc'd. */
cs_status catalog_zeroshot_ids(catalog *c, const char *model, int64_t **ids, size_t *n,
                               cs_error *err);

#endif
