/* Recognising image formats from their first bytes, and the file extensions
 * the indexer tries. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "image/image.h"
#include "image/image_internal.h"

const char *image_format_name(cs_image_format format)
{
    switch (format) {
    case CS_FORMAT_JPEG: return "jpeg";
    case CS_FORMAT_PNG: return "png";
    case CS_FORMAT_GIF: return "gif";
    case CS_FORMAT_BMP: return "bmp";
    case CS_FORMAT_TGA: return "tga";
    case CS_FORMAT_PNM: return "pnm";
    case CS_FORMAT_WEBP: return "webp";
    case CS_FORMAT_HEIF: return "heif";
    case CS_FORMAT_UNKNOWN: break;
    }
    return "unknown";
}

static uint32_t read_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t read_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static bool is_bmp(const uint8_t *d, size_t len)
{
    /* "BM" alone is too weak (plenty of text starts with it): also require a
     * known DIB header size. */
    if (len < 18 || d[0] != 'B' || d[1] != 'M')
        return false;
    uint32_t dib = read_le32(d + 14);
    return dib == 12 || dib == 16 || dib == 40 || dib == 52 || dib == 56 ||
           dib == 64 || dib == 108 || dib == 124;
}

static bool is_pnm(const uint8_t *d, size_t len)
{
    return len >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6' && isspace(d[2]);
}

static bool is_heif_brand(const uint8_t *b)
{
    static const char brands[][5] = {"heic", "heix", "hevc", "hevx", "heim", "heis",
                                     "hevm", "hevs", "mif1", "msf1", "avif", "avis"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
        if (memcmp(b, brands[i], 4) == 0)
            return true;
    return false;
}

static bool is_heif(const uint8_t *d, size_t len)
{
    /* ISO base media file: a leading 'ftyp' box naming a HEIF/AVIF brand as
     * major brand or among the compatible ones. */
    if (len < 16 || memcmp(d + 4, "ftyp", 4) != 0)
        return false;
    uint32_t box_size = read_be32(d);
    if (box_size < 16 || box_size > len)
        box_size = (uint32_t)(len < 4096 ? len : 4096);
    if (is_heif_brand(d + 8))
        return true;
    for (uint32_t at = 16; at + 4 <= box_size; at += 4)
        if (is_heif_brand(d + at))
            return true;
    return false;
}

static bool ends_with_ci(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && strcasecmp(name + n - s, suffix) == 0;
}

static bool is_plausible_tga(const uint8_t *d, size_t len)
{
    if (len < 18)
        return false;
    int colormap_type = d[1], image_type = d[2], bits = d[16];
    int width = d[12] | d[13] << 8, height = d[14] | d[15] << 8;
    bool type_ok = image_type == 1 || image_type == 2 || image_type == 3 ||
                   image_type == 9 || image_type == 10 || image_type == 11;
    bool bits_ok = bits == 8 || bits == 15 || bits == 16 || bits == 24 || bits == 32;
    return colormap_type <= 1 && type_ok && bits_ok && width > 0 && height > 0;
}

cs_image_format image_sniff(const uint8_t *data, size_t len, const char *name_hint)
{
    if (!data)
        return CS_FORMAT_UNKNOWN;
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF)
        return CS_FORMAT_JPEG;
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return CS_FORMAT_PNG;
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return CS_FORMAT_GIF;
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return CS_FORMAT_WEBP;
    if (is_heif(data, len))
        return CS_FORMAT_HEIF;
    if (is_bmp(data, len))
        return CS_FORMAT_BMP;
    if (is_pnm(data, len))
        return CS_FORMAT_PNM;
    if (name_hint && ends_with_ci(name_hint, ".tga") && is_plausible_tga(data, len))
        return CS_FORMAT_TGA;
    return CS_FORMAT_UNKNOWN;
}

bool image_has_known_extension(const char *name)
{
    static const char *const extensions[] = {
        "jpg", "jpeg", "jpe", "png", "gif", "bmp", "tga", "pnm", "ppm",
        "pgm", "pbm", "webp", "heic", "heif", "avif",
    };
    if (!name)
        return false;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)   /* no extension, or a hidden file like ".png" */
        return false;
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++)
        if (strcasecmp(dot + 1, extensions[i]) == 0)
            return true;
    return false;
}
