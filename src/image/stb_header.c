/* Image dimensions from PNG, GIF, BMP and TGA headers, so the pixel
 * limit is checked before stb_image allocates anything. */
#include <limits.h>
#include <string.h>

#include "image/image_internal.h"

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int le16(const uint8_t *p) { return p[0] | p[1] << 8; }

static cs_status too_short(const char *what, cs_error *err)
{
    return cs_error_set(err, CS_ERR_CORRUPT, "%s file is too short to hold its header", what);
}

cs_status image_stb_header_dimensions(const uint8_t *d, size_t len, cs_image_format format,
                                      int *width, int *height, cs_error *err)
{
    uint32_t w = 0, h = 0;
    switch (format) {
    case CS_FORMAT_PNG:
        if (len < 24)
            return too_short("PNG", err);
        if (memcmp(d + 12, "IHDR", 4) != 0)
            return cs_error_set(err, CS_ERR_CORRUPT, "PNG does not start with an IHDR chunk");
        w = be32(d + 16);
        h = be32(d + 20);
        break;
    case CS_FORMAT_GIF:
        if (len < 10)
            return too_short("GIF", err);
        w = (uint32_t)le16(d + 6);
        h = (uint32_t)le16(d + 8);
        break;
    case CS_FORMAT_BMP: {
        if (len < 26)
            return too_short("BMP", err);
        if (le32(d + 14) == 12) {   /* OS/2 core header: 16-bit sizes */
            w = (uint32_t)le16(d + 18);
            h = (uint32_t)le16(d + 20);
            break;
        }
        int32_t sw = (int32_t)le32(d + 18), sh = (int32_t)le32(d + 22);
        if (sw < 0 || sh == INT32_MIN)
            return cs_error_set(err, CS_ERR_CORRUPT, "BMP header declares an invalid size %dx%d",
                                (int)sw, (int)sh);
        w = (uint32_t)sw;
        h = (uint32_t)(sh < 0 ? -sh : sh);   /* negative height = rows stored top-down */
        break;
    }
    case CS_FORMAT_TGA:
        if (len < 18)
            return too_short("TGA", err);
        w = (uint32_t)le16(d + 12);
        h = (uint32_t)le16(d + 14);
        break;
    default:
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "no header reader for %s",
                            image_format_name(format));
    }
    if (w > INT_MAX || h > INT_MAX)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s header declares an impossible size %ux%u",
                            image_format_name(format), (unsigned)w, (unsigned)h);
    *width = (int)w;
    *height = (int)h;
    return CS_OK;
}
