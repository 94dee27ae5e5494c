/* src/image: decoding, EXIF, orientation, resizing and cheap visual analysis
 * (dominant colours, perceptual hash, a colour-layout vector). This header is
 * the folder's public interface. All functions are thread-safe: they touch
 * only their arguments. */
#ifndef CS_IMAGE_IMAGE_H
#define CS_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* 8-bit RGB, interleaved, rows packed (stride = 3 * width). */
typedef struct cs_image {
    int width;
    int height;
    uint8_t *pixels;
} cs_image;

typedef enum cs_image_format {
    CS_FORMAT_UNKNOWN = 0,
    CS_FORMAT_JPEG,
    CS_FORMAT_PNG,
    CS_FORMAT_GIF,
    CS_FORMAT_BMP,
    CS_FORMAT_TGA,
    CS_FORMAT_PNM,
    CS_FORMAT_WEBP,
    CS_FORMAT_HEIF,   /* HEIC and AVIF, through libheif when built with it */
} cs_image_format;

/* Lower-case short name: "jpeg", "png", ... "unknown". */
const char *image_format_name(cs_image_format format);
/* Identifies the format from the first bytes (never from the file name).
 * TGA has no magic number: it is recognised only when `name_hint` ends in
 * .tga and the header is plausible. */
cs_image_format image_sniff(const uint8_t *data, size_t len, const char *name_hint);
/* True when the file name has an extension capsearch tries to index. */
bool image_has_known_extension(const char *name);

typedef struct cs_exif {
    int orientation;          /* 1..8 as in EXIF; 0 = absent */
    bool has_taken_at;
    int64_t taken_at;         /* DateTimeOriginal (else DateTime) as wall-clock
                                 time encoded like UTC: timegm() of the fields */
    char make[64];            /* camera make, trimmed, "" if absent */
    char model[64];
    bool has_gps;
    double latitude;          /* degrees, south negative */
    double longitude;         /* degrees, west negative */
} cs_exif;

typedef struct cs_decode_options {
    int target_min_side;      /* decode at least this large on the short side
                                 (after orientation) when the source allows; the
                                 result may be larger. 0 = full size */
    uint64_t max_pixels;      /* refuse images whose full size exceeds this;
                                 0 = CS_IMAGE_DEFAULT_MAX_PIXELS */
    bool jpeg_draft;          /* target_min_side only picks a JPEG's DCT scale,
                                 the way Pillow's Image.draft does (1/2, 1/4 or
                                 1/8, the smallest with both sides at least
                                 target_min_side); nothing is resized after,
                                 and other formats decode at full size */
} cs_decode_options;

/* The pixel limit when the caller gives none (~ the 16384 x 10923 JPEG limit). */
#define CS_IMAGE_DEFAULT_MAX_PIXELS 178956970ull

/* The short side pictures are decoded to for analysis (colours, perceptual
 * hash, colour-layout vector). The indexer and search by picture must use the
 * same value, or one picture would give two different vectors. */
#define CS_ANALYSIS_MIN_SIDE 128

typedef struct cs_decoded {
    cs_image image;           /* orientation applied (EXIF for JPEG, PNG, WebP;
                                 HEIF's own irot/imir, via libheif); possibly
                                 reduced */
    int full_width;           /* full-size dimensions after orientation */
    int full_height;
    cs_image_format format;
    cs_exif exif;
    bool partial;             /* a damaged or truncated JPEG was decoded as far
                                 as possible; the rest is filled with gray */
} cs_decoded;

/* Decodes an in-memory file. Checks dimensions against max_pixels before any
 * pixel is decoded. JPEG uses TurboJPEG DCT-domain scaling to the smallest
 * scale that still covers target_min_side. Errors: CS_ERR_UNSUPPORTED (unknown
 * format or a decoder not built in), CS_ERR_CORRUPT, CS_ERR_TOO_LARGE,
 * CS_ERR_NOMEM; the message says what was wrong. */
cs_status image_decode(const uint8_t *data, size_t len, const char *name_hint,
                       const cs_decode_options *options, cs_decoded *out,
                       cs_error *err);
void image_decoded_free(cs_decoded *decoded);
void image_free(cs_image *image);

/* Parses EXIF from a JPEG file or a raw TIFF/"Exif\0\0" block. Missing or
 * malformed EXIF yields a zeroed struct, never an error. */
void image_parse_exif(const uint8_t *data, size_t len, cs_exif *out);

/* Applies an EXIF orientation (1..8) in place of `image` (may swap w/h). */
cs_status image_apply_orientation(cs_image *image, int orientation, cs_error *err);

/* Area-averaging resize (good for downscaling; bilinear when enlarging). */
cs_status image_resize(const cs_image *src, int width, int height, cs_image *dst,
                       cs_error *err);
/* Resize so the longer side is at most max_side, keeping the aspect ratio
 * (a copy when already small enough). */
cs_status image_thumbnail(const cs_image *src, int max_side, cs_image *dst,
                          cs_error *err);

/* ---- colours ---- */

/* CIE L*a*b* (D65) of an sRGB colour. */
void color_srgb_to_lab(uint8_t r, uint8_t g, uint8_t b, float lab[3]);
/* The palette name nearest to a Lab colour ("red", "navy", "beige", ...):
 * black white gray red maroon orange brown beige yellow olive green teal
 * blue navy purple pink. Nearest by CIEDE2000 to a few shades per name. */
const char *color_name_for_lab(const float lab[3]);
/* CIEDE2000 colour difference (Sharma, Wu and Dalal 2005; kL = kC = kH = 1). */
float color_delta_e(const float lab1[3], const float lab2[3]);

typedef struct cs_color_share {
    const char *name;         /* palette name, static storage */
    float share;              /* fraction of the pixels, 0..1 */
    float lab[3];             /* centre of the cluster */
} cs_color_share;

/* Dominant colours of an image: k-means in Lab over a small thumbnail, named
 * from the palette, clusters with the same name merged, sorted by share
 * (largest first). Returns how many were written (<= max_out). Deterministic. */
int image_dominant_colors(const cs_image *image, cs_color_share *out, int max_out);

/* ---- perceptual hash ---- */

/* 64-bit DCT hash: luma, 32x32 area resize, 2-D DCT-II, the 8x8 lowest
 * frequencies compared with their median. Row-major bit order: bit 63 is
 * coefficient (0,0).
 * Exactly: luma = 0.299 R + 0.587 G + 0.114 B; C(u,v) = sum over y, x of
 * L[y][x] cos(pi (2y+1) u / 64) cos(pi (2x+1) v / 64) (unnormalised), for
 * u, v < 8, DC included; median = mean of the 32nd and 33rd smallest of the
 * 64; bit (63 - 8u - v) is set when C(u,v) > median + 1e-9 * max |C| (the
 * margin keeps floating-point noise on coefficients that equal the median,
 * as in flat images, from deciding bits). Returns 0 for an empty image. */
uint64_t image_phash(const cs_image *image);
/* The same from a prepared 32x32 luma block (row-major, any scale). */
uint64_t phash_from_luma32(const float luma[32 * 32]);
int phash_distance(uint64_t a, uint64_t b);

/* ---- colour-layout vector ---- */

/* Dimension and model id of the built-in image vector used for "more like
 * this" until a learned model is installed. */
#define CS_LAYOUT_DIM 192
#define CS_LAYOUT_MODEL_ID "capsearch/color-layout-v1"
/* Fills out[CS_LAYOUT_DIM], L2-normalised, so that inner product is a
 * similarity: near-identical images score close to 1. */
void image_layout_vector(const cs_image *image, float out[CS_LAYOUT_DIM]);

#endif
