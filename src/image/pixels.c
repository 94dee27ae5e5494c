/* Pixel buffers: allocation with checked sizes, the pixel limit, alpha
 * compositing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

void image_free(cs_image *image)
{
    if (!image)
        return;
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

cs_status image_alloc(cs_image *image, int width, int height, cs_error *err)
{
    memset(image, 0, sizeof *image);
    if (width <= 0 || height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "image size %dx%d is empty", width, height);
    if ((size_t)width > SIZE_MAX / 3 / (size_t)height)
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "a %dx%d image does not fit in memory", width, height);
    image->pixels = malloc((size_t)width * (size_t)height * 3);
    if (!image->pixels)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for a %dx%d image",
                            width, height);
    image->width = width;
    image->height = height;
    return CS_OK;
}

cs_status image_check_pixel_limit(int width, int height, uint64_t max_pixels,
                                  const char *format_name, cs_error *err)
{
    if (width <= 0 || height <= 0)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "%s header declares an empty image (%dx%d)", format_name,
                            width, height);
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (pixels > max_pixels)
        return cs_error_set(err, CS_ERR_TOO_LARGE,
                            "%s image is %dx%d (%.1f megapixels), above the limit of "
                            "%.1f megapixels", format_name, width, height,
                            (double)pixels / 1e6, (double)max_pixels / 1e6);
    return CS_OK;
}

void image_rgba_over_white(const uint8_t *rgba, size_t rgba_stride, int width, int height,
                           uint8_t *rgb)
{
    for (int y = 0; y < height; y++) {
        const uint8_t *src = rgba + (size_t)y * rgba_stride;
        uint8_t *dst = rgb + (size_t)y * (size_t)width * 3;
        for (int x = 0; x < width; x++, src += 4, dst += 3) {
            unsigned a = src[3];
            if (a == 255) {   /* most pixels of most pictures: no division */
                dst[0] = src[0];
                dst[1] = src[1];
                dst[2] = src[2];
                continue;
            }
            for (int c = 0; c < 3; c++)   /* round(c*a/255 + 255*(1-a/255)) */
                dst[c] = (uint8_t)((src[c] * a + 255u * (255u - a) + 127u) / 255u);
        }
    }
}
