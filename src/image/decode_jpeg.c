/* JPEG through TurboJPEG, decoded straight at a reduced DCT scale when the
 * caller needs fewer pixels (a 12 MP photo at 1/8 costs a fraction of a
 * full decode; a progressive one, without its AC scans, less still).
 *
 * Damaged data: libjpeg recovers from truncated or corrupt entropy data with
 * a warning, and every block it could not read comes out mid-gray. Such a
 * file is accepted as long as at least a quarter of its rows came through
 * (a half-copied photo is still that photo; out->partial says so). With no
 * scan data at all, or less than that, it is refused as CS_ERR_CORRUPT. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

#include "image/image_internal.h"

#define JPEG_MIN_DECODED_FRACTION 4   /* at least 1/4 of the rows */

/* The smallest DCT scale whose short side still covers `target`; never
 * enlarges. */
static tjscalingfactor choose_scale(int width, int height, int target)
{
    tjscalingfactor best = {1, 1};
    int count = 0;
    tjscalingfactor *factors = target > 0 ? tjGetScalingFactors(&count) : NULL;
    int short_side = width < height ? width : height;
    for (int i = 0; factors && i < count; i++) {
        tjscalingfactor f = factors[i];
        if (f.num > f.denom || TJSCALED(short_side, f) < target)
            continue;
        if ((long)f.num * best.denom < (long)best.num * f.denom)
            best = f;
    }
    return best;
}

/* Pillow's Image.draft rule: the largest of 1/8, 1/4, 1/2 whose reduction
 * leaves both sides at least `target` (sizes rounded up). */
static tjscalingfactor draft_scale(int width, int height, int target)
{
    int short_side = width < height ? width : height;
    for (int denom = 8; denom > 1; denom /= 2)
        if (target > 0 && short_side / denom >= target)
            return (tjscalingfactor){1, denom};
    return (tjscalingfactor){1, 1};
}

/* Naive CMYK to RGB (there is no colour management here): R = (1-C)(1-K).
 * CMYK JPEGs are stored inverted (255 = no ink), the convention of Adobe
 * applications and of libjpeg's own writer; it is assumed even when the
 * APP14 "Adobe" segment is missing, since metadata strippers often drop it
 * (PIL does the same). */
static void cmyk_to_rgb(const uint8_t *inverted_cmyk, size_t pixels, uint8_t *rgb)
{
    for (size_t i = 0; i < pixels; i++, inverted_cmyk += 4, rgb += 3) {
        unsigned no_black = inverted_cmyk[3];   /* 255 - K */
        for (int c = 0; c < 3; c++)   /* inverted_cmyk[c] = 255 - C */
            rgb[c] = (uint8_t)((inverted_cmyk[c] * no_black + 127u) / 255u);
    }
}

/* Rows at the bottom that libjpeg filled in for missing data: all-zero DCT
 * blocks decode to 128 in every channel (127 after YCCK to CMYK). */
static int filled_rows(const uint8_t *pixels, int width, int height, int bytes_per_pixel)
{
    size_t row_bytes = (size_t)width * (size_t)bytes_per_pixel;
    int rows = 0;
    for (int y = height - 1; y >= 0; y--, rows++) {
        const uint8_t *row = pixels + (size_t)y * row_bytes;
        for (size_t i = 0; i < row_bytes; i++)
            if (row[i] != 128 && row[i] != 127)
                return rows;
    }
    return rows;
}

cs_status image_decode_jpeg(const decode_request *req, cs_decoded *out, cs_error *err)
{
    if (req->len > ULONG_MAX)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "JPEG file is too large to decode");
    const unsigned char *data = req->data;
    unsigned long len = (unsigned long)req->len;
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return cs_error_set(err, CS_ERR_NOMEM, "cannot start the JPEG decoder: %s",
                            tjGetErrorStr2(NULL));
    uint8_t *cmyk = NULL;
    cs_status rc = CS_OK;
    int width, height, subsampling, colorspace;
    if (tjDecompressHeader3(tj, data, len, &width, &height, &subsampling, &colorspace) != 0) {
        rc = cs_error_set(err, CS_ERR_CORRUPT, "damaged JPEG header: %s", tjGetErrorStr2(tj));
        goto done;
    }
    rc = image_check_pixel_limit(width, height, req->max_pixels, "JPEG", err);
    if (rc != CS_OK)
        goto done;

    tjscalingfactor scale = req->jpeg_draft ? draft_scale(width, height, req->target_min_side)
                                            : choose_scale(width, height, req->target_min_side);
    int w = TJSCALED(width, scale), h = TJSCALED(height, scale);
    rc = image_alloc(&out->image, w, h, err);
    if (rc != CS_OK)
        goto done;
    bool is_cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
    if (is_cmyk) {
        cmyk = malloc((size_t)w * (size_t)h * 4);   /* w*h*3 fitted, and w, h < 65536 */
        if (!cmyk) {
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding a %dx%d CMYK JPEG",
                              w, h);
            goto done;
        }
    }
    /* LIMITSCANS refuses progressive files with absurd scan counts, a known
     * way to make decoding take minutes. */
    int flags = TJFLAG_LIMITSCANS | TJFLAG_ACCURATEDCT;
    uint8_t *target = is_cmyk ? cmyk : out->image.pixels;
    int result = 0;
    bool dc_only = scale.num == 1 && scale.denom == 8 &&
                   image_jpeg_decode_dc(data, len, is_cmyk, w, h, target);
    if (!dc_only)
        result = tjDecompress2(tj, data, len, target, w, 0, h, is_cmyk ? TJPF_CMYK : TJPF_RGB,
                               flags);
    if (result != 0) {
        if (tjGetErrorCode(tj) != TJERR_WARNING) {
            rc = cs_error_set(err, CS_ERR_CORRUPT, "damaged JPEG data: %s", tjGetErrorStr2(tj));
            goto done;
        }
        int decoded = h - filled_rows(target, w, h, is_cmyk ? 4 : 3);
        if (image_jpeg_scan_bytes(data, len) == 0) {
            rc = cs_error_set(err, CS_ERR_CORRUPT, "JPEG has no image data (%s)",
                              tjGetErrorStr2(tj));
            goto done;
        }
        if (decoded * JPEG_MIN_DECODED_FRACTION < h) {
            rc = cs_error_set(err, CS_ERR_CORRUPT,
                              "JPEG is truncated or damaged: only %d of %d rows could be "
                              "decoded (%s)", decoded, h, tjGetErrorStr2(tj));
            goto done;
        }
        out->partial = true;
    }
    if (is_cmyk)
        cmyk_to_rgb(cmyk, (size_t)w * (size_t)h, out->image.pixels);
    out->full_width = width;
    out->full_height = height;
    image_parse_exif(data, len, &out->exif);
done:
    free(cmyk);
    tjDestroy(tj);
    if (rc != CS_OK)
        image_free(&out->image);
    return rc;
}
