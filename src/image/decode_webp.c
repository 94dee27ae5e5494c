/* WebP through libwebp: still images decoded with libwebp's own scaler when
 * far larger than needed; animations give their first frame on the canvas.
 * EXIF (for orientation, date, camera) comes from the RIFF 'EXIF' chunk. */
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "image/image_internal.h"

static cs_status webp_error(VP8StatusCode status, cs_error *err)
{
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY:
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory decoding WebP");
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "WebP uses a feature libwebp cannot decode");
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return cs_error_set(err, CS_ERR_CORRUPT, "WebP file is truncated");
    default:
        return cs_error_set(err, CS_ERR_CORRUPT, "damaged WebP data (libwebp status %d)",
                            (int)status);
    }
}

/* Decodes one VP8/VP8L bitstream to RGBA at width x height (scaled by libwebp
 * when that differs from its own size). *rgba is malloc'd. */
static cs_status decode_bitstream_rgba(const uint8_t *data, size_t len, int width, int height,
                                       bool scale, uint8_t **rgba, cs_error *err)
{
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config))
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "libwebp version mismatch");
    size_t size = (size_t)width * (size_t)height * 4;   /* WebP sides are < 2^14 */
    *rgba = malloc(size);
    if (!*rgba)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for a %dx%d WebP image",
                            width, height);
    if (scale) {
        config.options.use_scaling = 1;
        config.options.scaled_width = width;
        config.options.scaled_height = height;
    }
    config.output.colorspace = MODE_RGBA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = *rgba;
    config.output.u.RGBA.stride = width * 4;
    config.output.u.RGBA.size = size;
    VP8StatusCode status = WebPDecode(data, len, &config);
    WebPFreeDecBuffer(&config.output);   /* external memory: releases nothing of ours */
    if (status != VP8_STATUS_OK) {
        free(*rgba);
        *rgba = NULL;
        return webp_error(status, err);
    }
    return CS_OK;
}

static cs_status decode_still(const decode_request *req, const WebPBitstreamFeatures *f,
                              cs_decoded *out, cs_error *err)
{
    int w = f->width, h = f->height;
    bool scale = image_reduced_size(f->width, f->height, req->target_min_side, &w, &h);
    uint8_t *rgba;
    cs_status rc = decode_bitstream_rgba(req->data, req->len, w, h, scale, &rgba, err);
    if (rc != CS_OK)
        return rc;
    rc = image_alloc(&out->image, w, h, err);
    if (rc == CS_OK)
        image_rgba_over_white(rgba, (size_t)w * 4, w, h, out->image.pixels);
    free(rgba);
    out->full_width = f->width;
    out->full_height = f->height;
    return rc;
}

/* The first frame, placed on a white canvas the size of the animation. */
static cs_status decode_first_frame(const decode_request *req, WebPDemuxer *demux,
                                    cs_decoded *out, cs_error *err)
{
    int cw = (int)WebPDemuxGetI(demux, WEBP_FF_CANVAS_WIDTH);
    int ch = (int)WebPDemuxGetI(demux, WEBP_FF_CANVAS_HEIGHT);
    cs_status rc = image_check_pixel_limit(cw, ch, req->max_pixels, "WebP", err);
    if (rc != CS_OK)
        return rc;
    WebPIterator frame;
    if (!WebPDemuxGetFrame(demux, 1, &frame))
        return cs_error_set(err, CS_ERR_CORRUPT, "animated WebP has no frames");
    uint8_t *rgba = NULL;
    if (frame.width <= 0 || frame.height <= 0 || frame.x_offset < 0 || frame.y_offset < 0 ||
        frame.x_offset + frame.width > cw || frame.y_offset + frame.height > ch) {
        rc = cs_error_set(err, CS_ERR_CORRUPT, "animated WebP frame lies outside its canvas");
        goto done;
    }
    rc = decode_bitstream_rgba(frame.fragment.bytes, frame.fragment.size, frame.width,
                               frame.height, false, &rgba, err);
    if (rc == CS_OK)
        rc = image_alloc(&out->image, cw, ch, err);
    if (rc != CS_OK)
        goto done;
    memset(out->image.pixels, 255, (size_t)cw * (size_t)ch * 3);
    for (int y = 0; y < frame.height; y++) {
        uint8_t *row = out->image.pixels + ((size_t)(frame.y_offset + y) * (size_t)cw +
                                            (size_t)frame.x_offset) * 3;
        image_rgba_over_white(rgba + (size_t)y * (size_t)frame.width * 4, (size_t)frame.width * 4,
                              frame.width, 1, row);
    }
    out->full_width = cw;
    out->full_height = ch;
done:
    free(rgba);
    WebPDemuxReleaseIterator(&frame);
    return rc;
}

static void read_exif(WebPDemuxer *demux, cs_exif *exif)
{
    if (!(WebPDemuxGetI(demux, WEBP_FF_FORMAT_FLAGS) & EXIF_FLAG))
        return;
    WebPChunkIterator chunk;
    if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
        image_parse_exif(chunk.chunk.bytes, chunk.chunk.size, exif);
        WebPDemuxReleaseChunkIterator(&chunk);
    }
}

cs_status image_decode_webp(const decode_request *req, cs_decoded *out, cs_error *err)
{
    WebPBitstreamFeatures features;
    VP8StatusCode status = WebPGetFeatures(req->data, req->len, &features);
    if (status != VP8_STATUS_OK)
        return webp_error(status, err);
    cs_status rc = image_check_pixel_limit(features.width, features.height, req->max_pixels,
                                           "WebP", err);
    if (rc != CS_OK)
        return rc;
    WebPData whole = {req->data, req->len};
    WebPDemuxer *demux = WebPDemux(&whole);   /* NULL when the container is damaged */
    if (features.has_animation) {
        if (!demux)
            return cs_error_set(err, CS_ERR_CORRUPT, "damaged animated WebP container");
        rc = decode_first_frame(req, demux, out, err);
    } else {
        rc = decode_still(req, &features, out, err);
    }
    if (rc == CS_OK && demux)
        read_exif(demux, &out->exif);
    WebPDemuxDelete(demux);
    return rc;
}
