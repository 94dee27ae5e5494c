/* The int8 path: the blocks' four weight matrices quantised per output
 * channel at load (symmetric, -127..127), activations per row at run time
 * (asymmetric, 0..qmax), products through oneDNN's dnnl_gemm_u8s8s32 with
 * 32-bit accumulators and the zero points corrected after the GEMM. */
#ifndef CS_MODELS_CLIP_QUANT_H
#define CS_MODELS_CLIP_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "models/clip/weights.h"

typedef struct clip_qlinear {
    int8_t *w;          /* [out, in] */
    float *scale;       /* [out]: w_float ~= scale * w */
    int32_t *sum;       /* [out]: sum of each row of w, for the zero points */
    const float *bias;  /* [out], the float weights' */
    int in, out;
} clip_qlinear;

typedef struct clip_qlayer {
    clip_qlinear qkv, out, fc1, fc2;
} clip_qlayer;

typedef struct clip_qweights {
    clip_qlayer *vision, *text;
    int vision_layers, text_layers;
    int activation_max;   /* 255, or 127 where u8 x s8 pairs saturate (no VNNI) */
} clip_qweights;

/* Quantises w's block matrices and frees their float32 copies (the model
 * then runs in int8 only). */
cs_status clip_quantize_weights(clip_weights *w, clip_qweights **out, cs_error *err);
void clip_qweights_free(clip_qweights *q);

/* 255 when oneDNN's u8 x s8 products sum exactly at full range on this CPU
 * (VNNI); 127 when its kernel adds pairs in saturating 16 bits (AVX2
 * without VNNI), where 7-bit activations keep every pair below 2^15. Found
 * by running the GEMM once on the extreme values. */
int clip_int8_activation_max(void);

/* acc[rows, out] = a[rows, in] w^T (oneDNN, row-major). */
cs_status clip_qgemm(const clip_qlinear *L, const uint8_t *a, int rows, int32_t *acc,
                     cs_error *err);

#endif
