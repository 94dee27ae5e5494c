/* The f16 precision: the blocks' four weight matrices (q/k/v, out, fc1,
 * fc2) of both towers kept as IEEE half floats, half the bytes of float32,
 * and their float32 copies freed. Activations, sums and every other weight
 * stay float32; the matrices are widened to float32 inside the GEMM
 * (narrow_gemm.h), so the only rounding is that of the weights (11
 * significant bits). Meant for search queries, whose one short text reads
 * every weight once: the query is bound by the bytes of weights read. */
#ifndef CS_MODELS_CLIP_HALF_H
#define CS_MODELS_CLIP_HALF_H

#include <stdint.h>

#include "models/clip/weights.h"

typedef struct clip_hlayer {
    uint16_t *qkv, *out, *fc1, *fc2;   /* [3D, D], [D, D], [F, D], [D, F] */
} clip_hlayer;

typedef struct clip_hweights {
    clip_hlayer *vision, *text;
    int vision_layers, text_layers;
} clip_hweights;

/* Converts w's block matrices (round to nearest even) and frees their
 * float32 copies. On failure w may have lost some float32 matrices: close
 * the model. */
cs_status clip_halve_weights(clip_weights *w, clip_hweights **out, cs_error *err);
void clip_hweights_free(clip_hweights *h);

#endif
