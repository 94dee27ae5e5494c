/* CLIP's two towers (the forward pass of Hugging Face's CLIPModel): image
 * tensors or token ids in, L2-normalised embeddings of projection_dim
 * numbers out.
 *
 * A session runs batches: every linear layer is one GEMM over all tokens of
 * a worker's share of the batch, in float32 (OpenBLAS), int8 (oneDNN,
 * quant.h) or over float16 weights (half.h: the few-row kernel of
 * narrow_gemm.h up to 80 rows, sgemm on widened panels above). Its workers are threads that each take a slice of the batch with
 * their own scratch, allocated once when the session is made; the weights
 * are shared read-only, so sessions on one clip_weights may run at once. A
 * batch of one spreads each GEMM's output columns over the threads instead,
 * through the few-row kernel (narrow_gemm.h) up to 80 rows: a search
 * query's few tokens stream the weights once instead of sgemm packing them. */
#ifndef CS_MODELS_CLIP_TOWERS_H
#define CS_MODELS_CLIP_TOWERS_H

#include <stddef.h>
#include <stdint.h>

#include "models/clip/dump.h"
#include "models/clip/half.h"
#include "models/clip/quant.h"
#include "models/clip/weights.h"

typedef struct clip_session clip_session;

/* q: the int8 weights, hw: the float16 ones (half.h), or both NULL for
 * float32. threads >= 1. Sets OpenBLAS to one thread per call (the session
 * runs its own threads). */
cs_status clip_session_new(const clip_weights *w, const clip_qweights *q,
                           const clip_hweights *hw, int max_batch, int threads,
                           clip_session **out, cs_error *err);
void clip_session_free(clip_session *s);
int clip_session_max_batch(const clip_session *s);

/* pixels: n (<= max_batch) images of 3 x image_size x image_size,
 * preprocessed; out: n x projection_dim. dump (NULL: none) receives the
 * first image's activations. */
cs_status clip_session_images(clip_session *s, const float *pixels, int n, float *out,
                              clip_dump *dump, cs_error *err);

/* ids[i]: lens[i] token ids (start token, tokens, end token `end_id`), at
 * most max_position_embeddings; only the positions up to the first end
 * token are computed (the mask is causal) and its state is pooled. */
cs_status clip_session_texts(clip_session *s, const int32_t *const *ids, const size_t *lens,
                             int n, int32_t end_id, float *out, clip_dump *dump,
                             cs_error *err);

/* One input, float32, one thread (a session made and freed per call). */
cs_status clip_encode_image(const clip_weights *w, const float *pixels, float *out,
                            cs_error *err);
cs_status clip_encode_text(const clip_weights *w, const int32_t *ids, size_t n, int32_t end_id,
                           float *out, cs_error *err);

#endif
