/* CLIP's two towers in float32 on OpenBLAS (the forward pass of Hugging
 * Face's CLIPModel): an image tensor or token ids in, an L2-normalised
 * embedding of projection_dim numbers out. */
#ifndef CS_MODELS_CLIP_TOWERS_H
#define CS_MODELS_CLIP_TOWERS_H

#include <stddef.h>
#include <stdint.h>

#include "models/clip/weights.h"

/* pixels: 3 x image_size x image_size, preprocessed (normalised). */
cs_status clip_encode_image(const clip_weights *w, const float *pixels, float *out,
                            cs_error *err);

/* ids: start token, tokens, end token (`end_id`); only the positions up to
 * the first end token are computed (the mask is causal) and its state is
 * pooled. n <= max_position_embeddings. */
cs_status clip_encode_text(const clip_weights *w, const int32_t *ids, size_t n, int32_t end_id,
                           float *out, cs_error *err);

#endif
