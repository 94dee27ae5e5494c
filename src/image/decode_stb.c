/* PNG, GIF (first frame), BMP and TGA through stb_image (the
 * Debian libstb build: declarations only here, the implementation is in
 * libstb.so). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image.h>

#include "image/image_internal.h"

/* stb_image's own ceiling: it refuses any image whose 4-channel buffer
 * would exceed 2^30 bytes. */
#define STB_MAX_PIXELS ((1ull << 30) / 4)

static const char *label(cs_image_format format)
{
    switch (format) {
    case CS_FORMAT_PNG: return "PNG";
    case CS_FORMAT_GIF: return "GIF";
    case CS_FORMAT_BMP: return "BMP";
    case CS_FORMAT_TGA: return "TGA";
    default: return image_format_name(format);
    }
}

static const char *stb_reason(void)
{
    /* Thread-local in this libstb build (it exports the *_thread setters,
     * which exist only with STBI_THREAD_LOCAL). */
    const char *why = stbi_failure_reason();
    return why ? why : "unknown reason";
}

cs_status image_decode_stb(const decode_request *req, cs_image_format format, cs_decoded *out,
                           cs_error *err)
{
    const char *what = label(format);
    int w, h, channels;
    cs_status rc = image_stb_header_dimensions(req->data, req->len, format, &w, &h, err);
    if (rc == CS_OK)
        rc = image_check_pixel_limit(w, h, req->max_pixels, what, err);
    if (rc != CS_OK)
        return rc;
    if ((uint64_t)w * (uint64_t)h > STB_MAX_PIXELS)
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "%s image is %dx%d; this decoder handles at most %llu pixels",
                            what, w, h, (unsigned long long)STB_MAX_PIXELS);
    if (req->len > INT_MAX)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "%s file is larger than 2 GiB", what);
    int len = (int)req->len;

    int sw, sh;
    if (!stbi_info_from_memory(req->data, len, &sw, &sh, &channels))
        return cs_error_set(err, CS_ERR_CORRUPT, "damaged %s header: %s", what, stb_reason());
    sh = sh < 0 && sh != INT_MIN ? -sh : sh;   /* stb reports top-down BMPs as negative */
    if (sw != w || sh != h) {   /* trust the decoder's reading, but check it too */
        rc = image_check_pixel_limit(sw, sh, req->max_pixels, what, err);
        if (rc != CS_OK)
            return rc;
        w = sw;
        h = sh;
    }
    /* Always ask for RGBA: stb then expands palettes and tRNS colour keys to
     * alpha, which is composited over white below. */
    int dw, dh;
    uint8_t *rgba = stbi_load_from_memory(req->data, len, &dw, &dh, &channels, 4);
    if (!rgba)
        return cs_error_set(err, CS_ERR_CORRUPT, "damaged %s data: %s", what, stb_reason());
    if (dw != w || dh != h) {
        stbi_image_free(rgba);
        return cs_error_set(err, CS_ERR_CORRUPT, "%s decoded to %dx%d, not the %dx%d of its header",
                            what, dw, dh, w, h);
    }
    /* Composite in place (RGB packed into the front of stb's buffer), then
     * reduce straight from it when the caller needs far fewer pixels: the
     * full-size image is never held twice. */
    image_rgba_over_white(rgba, (size_t)w * 4, w, h, rgba);
    cs_image decoded = {w, h, rgba};
    int rw, rh;
    if (image_reduced_size(w, h, req->target_min_side, &rw, &rh)) {
        rc = image_resize(&decoded, rw, rh, &out->image, err);
    } else {
        rc = image_alloc(&out->image, w, h, err);
        if (rc == CS_OK)
            memcpy(out->image.pixels, rgba, (size_t)w * (size_t)h * 3);
    }
    stbi_image_free(rgba);
    if (rc != CS_OK)
        return rc;
    out->full_width = w;
    out->full_height = h;
    const uint8_t *exif;
    size_t exif_len;
    if (format == CS_FORMAT_PNG &&
        image_png_find_chunk(req->data, req->len, "eXIf", &exif, &exif_len))
        image_parse_exif(exif, exif_len, &out->exif);
    return CS_OK;
}
