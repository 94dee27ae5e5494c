/* image_decode: sniff, hand over to the format's decoder, then reduce to
 * what the caller needs and turn upright. */
#include <math.h>
#include <string.h>

#include "capsearch_config.h"
#include "image/image_internal.h"

bool image_reduced_size(int width, int height, int target, int *out_width, int *out_height)
{
    *out_width = width;
    *out_height = height;
    int short_side = width < height ? width : height;
    if (target <= 0 || short_side <= 2 * target)
        return false;
    double scale = (double)target / short_side;
    int w = width < height ? target : (int)lround(width * scale);
    int h = width < height ? (int)lround(height * scale) : target;
    *out_width = w < 1 ? 1 : w;
    *out_height = h < 1 ? 1 : h;
    return true;
}

/* Keeps memory low for callers that only need a small image. */
static cs_status reduce_for_target(cs_image *image, int target, cs_error *err)
{
    int w, h;
    if (!image_reduced_size(image->width, image->height, target, &w, &h))
        return CS_OK;
    cs_image smaller;
    cs_status rc = image_resize(image, w, h, &smaller, err);
    if (rc != CS_OK)
        return rc;
    image_free(image);
    *image = smaller;
    return CS_OK;
}

static cs_status dispatch(const decode_request *req, cs_image_format format, cs_decoded *out,
                          cs_error *err)
{
    switch (format) {
    case CS_FORMAT_JPEG:
        return image_decode_jpeg(req, out, err);
    case CS_FORMAT_PNG:
    case CS_FORMAT_GIF:
    case CS_FORMAT_BMP:
    case CS_FORMAT_TGA:
        return image_decode_stb(req, format, out, err);
    case CS_FORMAT_PNM:
        return image_decode_pnm(req, out, err);
    case CS_FORMAT_WEBP:
        return image_decode_webp(req, out, err);
    case CS_FORMAT_HEIF:
#if CAPSEARCH_HAVE_HEIF
        return image_decode_heif(req, out, err);
#else
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "HEIC/AVIF support is not built in (rebuild with libheif-dev)");
#endif
    case CS_FORMAT_UNKNOWN:
        break;
    }
    return cs_error_set(err, CS_ERR_UNSUPPORTED, "not an image format capsearch can read");
}

cs_status image_decode(const uint8_t *data, size_t len, const char *name_hint,
                       const cs_decode_options *options, cs_decoded *out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "image_decode needs somewhere to put the result");
    memset(out, 0, sizeof *out);
    if (!data || len == 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "empty file");
    int target = options && options->target_min_side > 0 ? options->target_min_side : 0;
    bool draft = options && options->jpeg_draft;
    out->format = image_sniff(data, len, name_hint);
    decode_request req = {
        .data = data,
        .len = len,
        .target_min_side = draft && out->format != CS_FORMAT_JPEG ? 0 : target,
        .max_pixels = options && options->max_pixels ? options->max_pixels
                                                     : CS_IMAGE_DEFAULT_MAX_PIXELS,
        .jpeg_draft = draft,
    };
    cs_status rc = dispatch(&req, out->format, out, err);
    if (rc == CS_OK && !draft)
        rc = reduce_for_target(&out->image, req.target_min_side, err);
    /* libheif has already turned HEIF images upright. */
    int orientation = out->format == CS_FORMAT_HEIF ? 1 : out->exif.orientation;
    if (rc == CS_OK && orientation > 1) {
        rc = image_apply_orientation(&out->image, orientation, err);
        if (rc == CS_OK && orientation >= 5) {
            int w = out->full_width;
            out->full_width = out->full_height;
            out->full_height = w;
        }
    }
    if (rc != CS_OK) {
        cs_image_format format = out->format;
        image_decoded_free(out);
        out->format = format;   /* still useful in the caller's error report */
    }
    return rc;
}

void image_decoded_free(cs_decoded *decoded)
{
    if (!decoded)
        return;
    image_free(&decoded->image);
    memset(decoded, 0, sizeof *decoded);
}
