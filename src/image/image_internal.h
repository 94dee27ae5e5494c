/* Private to src/image: what the format decoders share with the dispatcher
 * and the small helpers they all use. */
#ifndef CS_IMAGE_INTERNAL_H
#define CS_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "image/image.h"

/* One decode call as a format decoder sees it. */
typedef struct decode_request {
    const uint8_t *data;
    size_t len;
    int target_min_side;   /* 0 = full size */
    uint64_t max_pixels;   /* already resolved: never 0 */
    bool jpeg_draft;       /* cs_decode_options.jpeg_draft */
} decode_request;

/* Each decoder fills out->image in the file's stored orientation (possibly
 * reduced), out->full_width/full_height (stored orientation, full size) and
 * out->exif; the dispatcher in decode.c reduces and orients afterwards. On
 * error nothing is left allocated in out. */
cs_status image_decode_jpeg(const decode_request *req, cs_decoded *out, cs_error *err);
cs_status image_decode_stb(const decode_request *req, cs_image_format format,
                           cs_decoded *out, cs_error *err);
cs_status image_decode_pnm(const decode_request *req, cs_decoded *out, cs_error *err);
cs_status image_decode_webp(const decode_request *req, cs_decoded *out, cs_error *err);
cs_status image_decode_heif(const decode_request *req, cs_decoded *out, cs_error *err);

/* A Netpbm header: kind 1..6 (the digit after 'P'), samples start at
 * data_offset. */
typedef struct pnm_header {
    int kind;
    int width;
    int height;
    int maxval;   /* 1 for bitmaps */
    size_t data_offset;
} pnm_header;
cs_status image_pnm_header(const uint8_t *data, size_t len, pnm_header *header, cs_error *err);

/* Width and height from the header of a PNG, GIF, BMP or TGA file,
 * read without decoding anything (stb_image's own probe refuses large images
 * with a generic error, so the pixel limit is checked on these). BMP heights
 * are returned as magnitudes (negative means top-down). */
cs_status image_stb_header_dimensions(const uint8_t *data, size_t len, cs_image_format format,
                                      int *width, int *height, cs_error *err);

/* The size an image of width x height is reduced to for a caller who needs
 * `target` pixels on the short side: when the short side exceeds twice the
 * target, the short side becomes the target (aspect kept) and true is
 * returned; otherwise false and the size is unchanged. */
bool image_reduced_size(int width, int height, int target, int *out_width, int *out_height);

/* CS_ERR_CORRUPT for empty dimensions, CS_ERR_TOO_LARGE above max_pixels. */
cs_status image_check_pixel_limit(int width, int height, uint64_t max_pixels,
                                  const char *format_name, cs_error *err);

/* Allocates an uninitialised width x height RGB image (sizes checked). */
cs_status image_alloc(cs_image *image, int width, int height, cs_error *err);

/* Converts RGBA rows to packed RGB composited over white: transparent areas
 * of logos and icons are meant to be seen on a light page, and their hidden
 * colour is often black. `rgb` may be `rgba` itself when the rows are packed
 * (stride 4 * width): every write lands at or before bytes already read. */
void image_rgba_over_white(const uint8_t *rgba, size_t rgba_stride, int width, int height,
                           uint8_t *rgb);

/* One step through a JPEG's marker segments. At *at (just past SOI at the
 * start, or at the marker after a scan's data), finds the next marker with a
 * length field: returns its code, the payload and moves *at past it. Returns
 * 0 at the end, on damage, or at EOI (then *at is just past the marker). */
int image_jpeg_next_segment(const uint8_t *data, size_t len, size_t *at,
                            const uint8_t **payload, size_t *payload_len);
/* Decodes a progressive JPEG at 1/8 scale from its DC scans alone
 * (jpeg_dc_scans.c) into width x height pixels, RGB or (cmyk) CMYK, exactly
 * as a whole decode at that scale. False when the file is not one it can do
 * so with certainty (baseline, truncated, damaged): decode it whole then. */
bool image_jpeg_decode_dc(const uint8_t *data, size_t len, bool cmyk, int width, int height,
                          uint8_t *pixels);

/* Metadata blocks inside containers; each returns true and points into
 * `data` when found. */
bool image_jpeg_find_segment(const uint8_t *data, size_t len, int app_marker,
                             const char *prefix, size_t prefix_len,
                             const uint8_t **payload, size_t *payload_len);
/* Bytes of entropy-coded data after the first JPEG scan header (a final EOI
 * not counted); 0 when there is no scan. */
size_t image_jpeg_scan_bytes(const uint8_t *data, size_t len);
bool image_png_find_chunk(const uint8_t *data, size_t len, const char type[4],
                          const uint8_t **payload, size_t *payload_len);

#endif
