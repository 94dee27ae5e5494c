/* Test helper: writes a HEIC or AVIF file from raw RGB with a container
 * orientation (irot/imir, which libheif applies on decode) and an EXIF
 * block, neither of which ImageMagick's writer keeps.
 *   make_heif OUT RAW_RGB WIDTH HEIGHT ORIENTATION EXIF_FILE heic|avif
 * Exit status 77 when libheif has no encoder for the format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "common/fsutil.h"

static int fail(const char *what, struct heif_error e)
{
    fprintf(stderr, "make_heif: %s: %s\n", what, e.message);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s OUT RAW_RGB W H ORIENTATION EXIF_FILE heic|avif\n", argv[0]);
        return 2;
    }
    int w = atoi(argv[3]), h = atoi(argv[4]), orientation = atoi(argv[5]);
    uint8_t *rgb = NULL, *exif = NULL;
    size_t rgb_len = 0, exif_len = 0;
    cs_error err;
    if (fs_read_file(argv[2], 1u << 28, &rgb, &rgb_len, &err) != CS_OK ||
        fs_read_file(argv[6], 1u << 20, &exif, &exif_len, &err) != CS_OK) {
        fprintf(stderr, "make_heif: %s\n", err.message);
        return 1;
    }
    if (w <= 0 || h <= 0 || rgb_len != (size_t)w * h * 3) {
        fprintf(stderr, "make_heif: %s is not %dx%d RGB\n", argv[2], w, h);
        return 1;
    }
    bool avif = strcmp(argv[7], "avif") == 0;
    struct heif_context *ctx = heif_context_alloc();
    struct heif_encoder *encoder = NULL;
    struct heif_image *image = NULL;
    struct heif_image_handle *handle = NULL;
    struct heif_error e = heif_context_get_encoder_for_format(
        ctx, avif ? heif_compression_AV1 : heif_compression_HEVC, &encoder);
    if (e.code != heif_error_Ok) {
        fail("no encoder", e);
        return 77;   /* this libheif cannot write the format: the caller skips it */
    }
    heif_encoder_set_lossy_quality(encoder, 90);
    e = heif_image_create(w, h, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &image);
    if (e.code != heif_error_Ok)
        return fail("image", e);
    e = heif_image_add_plane(image, heif_channel_interleaved, w, h, 8);
    if (e.code != heif_error_Ok)
        return fail("plane", e);
    int stride;
    uint8_t *plane = heif_image_get_plane(image, heif_channel_interleaved, &stride);
    for (int y = 0; y < h; y++)
        memcpy(plane + (size_t)y * stride, rgb + (size_t)y * w * 3, (size_t)w * 3);
    struct heif_encoding_options *options = heif_encoding_options_alloc();
    options->image_orientation = (enum heif_orientation)orientation;
    e = heif_context_encode_image(ctx, image, encoder, options, &handle);
    if (e.code != heif_error_Ok)
        return fail("encode", e);
    e = heif_context_add_exif_metadata(ctx, handle, exif, (int)exif_len);
    if (e.code != heif_error_Ok)
        return fail("exif", e);
    e = heif_context_write_to_file(ctx, argv[1]);
    if (e.code != heif_error_Ok)
        return fail("write", e);
    heif_encoding_options_free(options);
    heif_image_handle_release(handle);
    heif_image_release(image);
    heif_encoder_release(encoder);
    heif_context_free(ctx);
    free(rgb);
    free(exif);
    return 0;
}
