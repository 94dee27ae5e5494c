/* HEIC and AVIF through libheif. libheif applies the container's rotation
 * and mirroring (irot/imir) itself, so EXIF orientation is read for the
 * record but not applied again. */
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "image/image_internal.h"

/* EXIF blocks larger than this are not worth reading for a few fields. */
#define HEIF_EXIF_MAX_BYTES (4u << 20)

static cs_status heif_failure(const struct heif_error *e, const char *what, cs_error *err)
{
    cs_status code = CS_ERR_CORRUPT;
    if (e->code == heif_error_Unsupported_feature || e->code == heif_error_Unsupported_filetype ||
        e->code == heif_error_Decoder_plugin_error)
        code = CS_ERR_UNSUPPORTED;
    else if (e->code == heif_error_Memory_allocation_error)
        code = CS_ERR_NOMEM;
    return cs_error_set(err, code, "%s: %s", what, e->message ? e->message : "libheif error");
}

/* The EXIF item starts with a 4-byte big-endian offset to the TIFF header
 * (ISO/IEC 23008-12 annex A). */
static void read_exif(const struct heif_image_handle *handle, cs_exif *exif)
{
    heif_item_id id;
    if (heif_image_handle_get_list_of_metadata_block_IDs(handle, "Exif", &id, 1) < 1)
        return;
    size_t size = heif_image_handle_get_metadata_size(handle, id);
    if (size < 4 || size > HEIF_EXIF_MAX_BYTES)
        return;
    uint8_t *block = malloc(size);
    if (!block)
        return;   /* EXIF is optional */
    struct heif_error e = heif_image_handle_get_metadata(handle, id, block);
    if (e.code == heif_error_Ok) {
        size_t offset = (size_t)block[0] << 24 | (size_t)block[1] << 16 |
                        (size_t)block[2] << 8 | block[3];
        if (offset < size - 4)
            image_parse_exif(block + 4 + offset, size - 4 - offset, exif);
    }
    free(block);
}

static cs_status decode_primary(const decode_request *req, struct heif_image_handle *handle,
                                cs_decoded *out, cs_error *err)
{
    /* Sizes after the container's transformations, i.e. as displayed. */
    int w = heif_image_handle_get_width(handle), h = heif_image_handle_get_height(handle);
    cs_status rc = image_check_pixel_limit(w, h, req->max_pixels, "HEIF", err);
    if (rc != CS_OK)
        return rc;
    bool alpha = heif_image_handle_has_alpha_channel(handle) != 0;
    struct heif_image *img = NULL;
    struct heif_error e = heif_decode_image(handle, &img, heif_colorspace_RGB,
                                            alpha ? heif_chroma_interleaved_RGBA
                                                  : heif_chroma_interleaved_RGB,
                                            NULL);
    if (e.code != heif_error_Ok)
        return heif_failure(&e, "cannot decode HEIF image", err);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    int pw = heif_image_get_width(img, heif_channel_interleaved);
    int ph = heif_image_get_height(img, heif_channel_interleaved);
    int bytes_per_pixel = alpha ? 4 : 3;
    if (!plane || pw <= 0 || ph <= 0 || stride < pw * bytes_per_pixel) {
        rc = cs_error_set(err, CS_ERR_CORRUPT, "HEIF decoder returned no usable pixels");
    } else {
        rc = image_alloc(&out->image, pw, ph, err);
        if (rc == CS_OK && alpha) {
            image_rgba_over_white(plane, (size_t)stride, pw, ph, out->image.pixels);
        } else if (rc == CS_OK) {
            for (int y = 0; y < ph; y++)
                memcpy(out->image.pixels + (size_t)y * (size_t)pw * 3,
                       plane + (size_t)y * (size_t)stride, (size_t)pw * 3);
        }
        out->full_width = pw;
        out->full_height = ph;
    }
    heif_image_release(img);
    return rc;
}

cs_status image_decode_heif(const decode_request *req, cs_decoded *out, cs_error *err)
{
    /* No heif_init()/heif_deinit() per image: libheif documents them as
     * optional, Debian's build has its codecs built in (no plugins to load),
     * and reference counting them from many decoding threads gains nothing. */
    if (req->len > INT32_MAX)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "HEIF file is larger than 2 GiB");
    struct heif_context *ctx = heif_context_alloc();
    if (!ctx)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the HEIF decoder");
    struct heif_image_handle *handle = NULL;
    cs_status rc;
    struct heif_error e =
        heif_context_read_from_memory_without_copy(ctx, req->data, req->len, NULL);
    if (e.code != heif_error_Ok) {
        rc = heif_failure(&e, "cannot read HEIF file", err);
        goto done;
    }
    e = heif_context_get_primary_image_handle(ctx, &handle);
    if (e.code != heif_error_Ok) {
        rc = heif_failure(&e, "HEIF file has no primary image", err);
        goto done;
    }
    rc = decode_primary(req, handle, out, err);
    if (rc == CS_OK)
        read_exif(handle, &out->exif);
done:
    if (handle)
        heif_image_handle_release(handle);
    heif_context_free(ctx);
    if (rc != CS_OK)
        image_free(&out->image);
    return rc;
}
