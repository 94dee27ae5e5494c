/* CLIP image preprocessing, bit-exact with the Python reference (PIL path of
 * OpenAI clip.py and Hugging Face CLIPImageProcessor; spec clip.md §3):
 *
 *   resize so the short side is `size` (long side int(size * long / short)),
 *   Pillow BICUBIC with antialiasing, in Pillow's 8-bit fixed point;
 *   centre crop size x size with Hugging Face's offsets ((len - size) // 2);
 *   v / 255, (v - mean_c) / std_c; float32, channels x height x width.
 *
 * All functions are thread-safe: they touch only their arguments. */
#ifndef CS_MODELS_CLIP_PREPROCESS_H
#define CS_MODELS_CLIP_PREPROCESS_H

#include "common/error.h"
#include "image/image.h"

/* OpenAI CLIP's normalisation (also OpenCLIP's and HF's OPENAI_CLIP_MEAN/STD). */
extern const float CLIP_DEFAULT_MEAN[3];
extern const float CLIP_DEFAULT_STD[3];

/* Pillow's Image.resize((width, height), Image.BICUBIC) of an RGB image, with
 * reducing_gap=None (the default), reproduced exactly: kernel a = -0.5,
 * support 2 scaled by the downscale factor, coefficients normalised in double
 * then quantised to 22 fractional bits (round half away from zero), horizontal
 * pass first into a uint8 temporary (rounded and clamped to 0..255), then the
 * vertical pass; an axis whose size does not change is not filtered.
 * dst->pixels is allocated here (free with image_free); on failure dst is
 * zeroed. Errors: CS_ERR_INVALID (empty source, width/height <= 0),
 * CS_ERR_TOO_LARGE (sizes whose buffers would overflow), CS_ERR_NOMEM. */
cs_status clip_resize_bicubic_aa(const cs_image *src, int width, int height,
                                 cs_image *dst, cs_error *err);

/* The size the reference resizes to before cropping: the short side becomes
 * `size`, the long side int(size * long / short), computed in double like
 * Python (torchvision Resize and HF get_resize_output_image_size agree).
 * Errors: CS_ERR_INVALID (a side or size <= 0), CS_ERR_TOO_LARGE (the long
 * side would not fit an int). */
cs_status clip_resize_dims(int width, int height, int size, int *out_width,
                           int *out_height, cs_error *err);

/* Offset of a centre crop of `crop` pixels out of `len` (len >= crop):
 * Hugging Face's (len - crop) // 2. torchvision's int(round((len - crop) / 2))
 * (half to even) differs by one pixel when (len - crop) / 2 is k + 0.5 with
 * k odd; the spec picks HF's rule. */
int clip_center_crop_offset(int len, int crop);

/* The whole pipeline for an 8-bit RGB image (already EXIF-oriented): writes
 * out[3 * size * size], channel-major (R plane, then G, then B), each value
 * (v / 255 - mean[c]) / std[c] computed in double and rounded to float.
 * Only the pixels inside the crop are resampled; scratch is allocated once
 * per call. Errors: CS_ERR_INVALID (NULL arguments, empty image, size <= 0,
 * std[c] == 0 or not finite), CS_ERR_TOO_LARGE, CS_ERR_NOMEM. */
cs_status clip_preprocess(const cs_image *rgb, int size, const float mean[3],
                          const float std[3], float *out, cs_error *err);

#endif
