/* Netpbm: PBM, PGM and PPM, plain (ASCII, P1-P3) and raw (P4-P6), any
 * maxval up to 65535 scaled to 8 bits. stb_image is not used here: it
 * reads only P5/P6 and does not rescale a maxval below 255. */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "image/image_internal.h"

/* Skips whitespace and '#' comments. */
static void skip_space(const uint8_t *d, size_t len, size_t *at)
{
    while (*at < len) {
        if (d[*at] == '#') {
            while (*at < len && d[*at] != '\n' && d[*at] != '\r')
                (*at)++;
        } else if (isspace(d[*at])) {
            (*at)++;
        } else {
            break;
        }
    }
}

/* Next decimal number (at most `max`), after whitespace and comments. */
static bool read_number(const uint8_t *d, size_t len, size_t *at, long max, long *value)
{
    skip_space(d, len, at);
    if (*at >= len || !isdigit(d[*at]))
        return false;
    long v = 0;
    while (*at < len && isdigit(d[*at])) {
        v = v * 10 + (d[*at] - '0');
        if (v > max)
            return false;
        (*at)++;
    }
    *value = v;
    return true;
}

cs_status image_pnm_header(const uint8_t *d, size_t len, pnm_header *h, cs_error *err)
{
    memset(h, 0, sizeof *h);
    if (len < 3 || d[0] != 'P' || d[1] < '1' || d[1] > '6')
        return cs_error_set(err, CS_ERR_CORRUPT, "not a PNM file");
    h->kind = d[1] - '0';
    size_t at = 2;
    long w, ht, maxval = 1;
    if (!read_number(d, len, &at, INT_MAX, &w) || !read_number(d, len, &at, INT_MAX, &ht))
        return cs_error_set(err, CS_ERR_CORRUPT, "PNM header has no valid width and height");
    bool bitmap = h->kind == 1 || h->kind == 4;
    if (!bitmap && (!read_number(d, len, &at, 65535, &maxval) || maxval < 1))
        return cs_error_set(err, CS_ERR_CORRUPT, "PNM header has no valid maximum value");
    /* Exactly one whitespace byte separates the header from raw samples. */
    if (at >= len || !isspace(d[at]))
        return cs_error_set(err, CS_ERR_CORRUPT, "PNM header is truncated");
    h->width = (int)w;
    h->height = (int)ht;
    h->maxval = (int)maxval;
    h->data_offset = at + 1;
    return CS_OK;
}

static uint8_t scale(long v, int maxval)
{
    if (v > maxval)
        v = maxval;   /* out-of-range samples clamp rather than wrap */
    return (uint8_t)((v * 255 + maxval / 2) / maxval);
}

static cs_status truncated(cs_error *err)
{
    return cs_error_set(err, CS_ERR_CORRUPT, "PNM pixel data is truncated or malformed");
}

static cs_status read_raw(const uint8_t *d, size_t len, const pnm_header *h, cs_image *img,
                          cs_error *err)
{
    size_t pixels = (size_t)h->width * (size_t)h->height;
    size_t at = h->data_offset;
    if (h->kind == 4) {   /* 1 bit per pixel, rows padded to bytes, 1 = black */
        size_t row_bytes = ((size_t)h->width + 7) / 8;
        if (len - at < row_bytes * (size_t)h->height)
            return truncated(err);
        for (int y = 0; y < h->height; y++)
            for (int x = 0; x < h->width; x++) {
                int bit = d[at + (size_t)y * row_bytes + (size_t)x / 8] >> (7 - x % 8) & 1;
                memset(img->pixels + ((size_t)y * h->width + x) * 3, bit ? 0 : 255, 3);
            }
        return CS_OK;
    }
    int channels = h->kind == 6 ? 3 : 1;
    size_t bytes = h->maxval > 255 ? 2 : 1;   /* 16-bit samples are big-endian */
    if ((len - at) / bytes / (size_t)channels < pixels)
        return truncated(err);
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++) {
            size_t s = at + (i * (size_t)channels + (size_t)(channels == 3 ? c : 0)) * bytes;
            long v = bytes == 2 ? (long)d[s] << 8 | d[s + 1] : d[s];
            img->pixels[i * 3 + (size_t)c] = scale(v, h->maxval);
        }
    return CS_OK;
}

static cs_status read_plain(const uint8_t *d, size_t len, const pnm_header *h, cs_image *img,
                            cs_error *err)
{
    size_t pixels = (size_t)h->width * (size_t)h->height;
    size_t at = h->data_offset;
    for (size_t i = 0; i < pixels; i++) {
        if (h->kind == 1) {   /* digits may run together: "0110" */
            skip_space(d, len, &at);
            if (at >= len || (d[at] != '0' && d[at] != '1'))
                return truncated(err);
            memset(img->pixels + i * 3, d[at++] == '1' ? 0 : 255, 3);
            continue;
        }
        for (int c = 0; c < 3; c++) {
            long v;
            if (h->kind == 2 && c > 0) {
                img->pixels[i * 3 + (size_t)c] = img->pixels[i * 3];
                continue;
            }
            if (!read_number(d, len, &at, LONG_MAX / 256, &v))
                return truncated(err);
            img->pixels[i * 3 + (size_t)c] = scale(v, h->maxval);
        }
    }
    return CS_OK;
}

cs_status image_decode_pnm(const decode_request *req, cs_decoded *out, cs_error *err)
{
    pnm_header h;
    cs_status rc = image_pnm_header(req->data, req->len, &h, err);
    if (rc == CS_OK)
        rc = image_check_pixel_limit(h.width, h.height, req->max_pixels, "PNM", err);
    /* Even plain files need at least one byte per pixel: refuse before
     * allocating for a header that promises more than the file holds. */
    if (rc == CS_OK &&
        (uint64_t)(req->len - h.data_offset) * 8 < (uint64_t)h.width * (uint64_t)h.height)
        rc = truncated(err);
    if (rc == CS_OK)
        rc = image_alloc(&out->image, h.width, h.height, err);
    if (rc != CS_OK)
        return rc;
    rc = h.kind <= 3 ? read_plain(req->data, req->len, &h, &out->image, err)
                     : read_raw(req->data, req->len, &h, &out->image, err);
    if (rc != CS_OK) {
        image_free(&out->image);
        return rc;
    }
    out->full_width = h.width;
    out->full_height = h.height;
    return CS_OK;
}
