/* The library's CLIP model: the id its embeddings are stored under, where
 * the catalog records it, and the copy that searches open lazily (one per
 * library handle, used under a lock: a model runs one call at a time). */
#ifndef CS_LIBRARY_CLIP_MODEL_H
#define CS_LIBRARY_CLIP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsearch/capsearch.h"
#include "store/catalog.h"

#define CLIP_ID_PREFIX "clip:"
#define CLIP_ID_MAX 512
/* meta keys: the folder later `index` runs use, its precision, and for
 * every CLIP model id ever used the folder it came from (searches need the
 * folder of the vectors in use, which may be an older model while a new
 * one is being embedded). */
#define CLIP_META_DIR "clip_model_dir"
#define CLIP_META_PRECISION "clip_precision"
#define CLIP_META_DIR_OF "clip_dir:"

bool clip_is_model_id(const char *model);

/* "clip:" + the folder's name + ":" + 12 hex digits of XXH3-64 over
 * config.json, model.safetensors' header and 1 MiB of its weights sampled
 * evenly (different weights give a different id without reading gigabytes).
 * `dir` is used as given (pass an absolute path). */
cs_status clip_model_id(const char *dir, char *out, size_t size, cs_error *err);

const char *clip_precision_label(cs_clip_precision precision);   /* "f32", "int8" */

/* Records `dir` (absolute) as the library's CLIP model: the folder later
 * runs use, its precision, and the folder of `id`. In its own transaction. */
cs_status clip_record_model(catalog *c, const char *dir, const char *id,
                            cs_clip_precision precision, cs_error *err);

/* The recorded folder (*dir malloc'd, NULL when none) and precision. */
cs_status clip_recorded_model(catalog *c, char **dir, cs_clip_precision *precision,
                              cs_error *err);

/* The query embedding of `text` / of the picture in `data` in the space of
 * CLIP model `model_id` (the library's vector model), dim floats. The model
 * is opened on first use from the folder recorded for that id, checked to
 * still have that id, and kept; a failure is remembered until the vector
 * model changes. Thread-safe. Text embeddings go through the library's
 * query cache (query_cache.h); *cached (may be NULL) says whether this one
 * came from it. */
cs_status library_clip_text(cs_library *lib, const char *model_id, const char *text,
                            float *out, int dim, bool *cached, cs_error *err);
cs_status library_clip_image(cs_library *lib, const char *model_id, const uint8_t *data,
                             size_t len, float *out, int dim, cs_error *err);

/* Frees the search copy (at library close). */
void library_clip_close(cs_library *lib);

#endif
