/* EXIF orientation: turning the stored pixels into the upright picture. */
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* For orientation `o`, where the upright pixel (x, y) comes from in the
 * stored image of size w x h. */
static void source_of(int o, int x, int y, int w, int h, int *sx, int *sy)
{
    switch (o) {
    case 2: *sx = w - 1 - x; *sy = y; break;             /* mirror horizontal */
    case 3: *sx = w - 1 - x; *sy = h - 1 - y; break;     /* rotate 180 */
    case 4: *sx = x; *sy = h - 1 - y; break;             /* mirror vertical */
    case 5: *sx = y; *sy = x; break;                     /* transpose */
    case 6: *sx = y; *sy = h - 1 - x; break;             /* rotate 90 clockwise */
    case 7: *sx = w - 1 - y; *sy = h - 1 - x; break;     /* transverse */
    case 8: *sx = w - 1 - y; *sy = x; break;             /* rotate 90 counter-clockwise */
    default: *sx = x; *sy = y; break;
    }
}

cs_status image_apply_orientation(cs_image *image, int orientation, cs_error *err)
{
    if (orientation < 1 || orientation > 8)
        return cs_error_set(err, CS_ERR_INVALID,
                            "EXIF orientation %d is not between 1 and 8", orientation);
    if (!image || !image->pixels || image->width <= 0 || image->height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "no image to orient");
    if (orientation == 1)
        return CS_OK;
    int w = image->width, h = image->height;
    bool swaps = orientation >= 5;
    cs_image upright;
    cs_status rc = image_alloc(&upright, swaps ? h : w, swaps ? w : h, err);
    if (rc != CS_OK)
        return rc;
    for (int y = 0; y < upright.height; y++) {
        uint8_t *dst = upright.pixels + (size_t)y * (size_t)upright.width * 3;
        for (int x = 0; x < upright.width; x++, dst += 3) {
            int sx, sy;
            source_of(orientation, x, y, w, h, &sx, &sy);
            memcpy(dst, image->pixels + ((size_t)sy * (size_t)w + (size_t)sx) * 3, 3);
        }
    }
    free(image->pixels);
    *image = upright;
    return CS_OK;
}
