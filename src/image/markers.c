/* Walking JPEG segments and PNG chunks to find metadata blocks, bounded by
 * the buffer at every step. */
#include <string.h>

#include "image/image_internal.h"

int image_jpeg_next_segment(const uint8_t *data, size_t len, size_t *at,
                            const uint8_t **payload, size_t *payload_len)
{
    while (len - *at >= 2) {
        if (data[*at] != 0xFF)
            return 0;   /* lost sync: not a well-formed marker sequence */
        int marker = data[*at + 1];
        if (marker == 0xFF) {   /* fill byte before a marker */
            (*at)++;
            continue;
        }
        *at += 2;
        bool standalone = marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7);
        if (standalone)
            continue;
        if (marker == 0xD9 || len - *at < 2)
            return 0;
        size_t seg_len = (size_t)data[*at] << 8 | data[*at + 1];
        if (seg_len < 2 || seg_len > len - *at)
            return 0;
        *payload = data + *at + 2;
        *payload_len = seg_len - 2;
        *at += seg_len;
        return marker;
    }
    return 0;
}

bool image_jpeg_find_segment(const uint8_t *data, size_t len, int app_marker,
                             const char *prefix, size_t prefix_len,
                             const uint8_t **payload, size_t *payload_len)
{
    if (!data || len < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return false;
    size_t at = 2;
    const uint8_t *p;
    size_t n;
    int marker;
    while ((marker = image_jpeg_next_segment(data, len, &at, &p, &n)) != 0 && marker != 0xDA) {
        if (marker == app_marker && n >= prefix_len && memcmp(p, prefix, prefix_len) == 0) {
            *payload = p;
            *payload_len = n;
            return true;
        }
    }
    return false;
}

size_t image_jpeg_scan_bytes(const uint8_t *data, size_t len)
{
    if (!data || len < 4 || data[0] != 0xFF || data[1] != 0xD8)
        return 0;
    size_t at = 2;
    const uint8_t *p;
    size_t n;
    int marker;
    while ((marker = image_jpeg_next_segment(data, len, &at, &p, &n)) != 0)
        if (marker == 0xDA) {
            size_t left = len - at;
            bool ends_with_eoi = left >= 2 && data[len - 2] == 0xFF && data[len - 1] == 0xD9;
            return ends_with_eoi ? left - 2 : left;
        }
    return 0;
}

bool image_png_find_chunk(const uint8_t *data, size_t len, const char type[4],
                          const uint8_t **payload, size_t *payload_len)
{
    if (!data || len < 8 || memcmp(data, "\x89PNG\r\n\x1a\n", 8) != 0)
        return false;
    size_t at = 8;
    while (len - at >= 12) {   /* length, type, data, CRC */
        size_t n = (size_t)data[at] << 24 | (size_t)data[at + 1] << 16 |
                   (size_t)data[at + 2] << 8 | data[at + 3];
        if (n > len - at - 12)
            return false;
        const uint8_t *chunk_type = data + at + 4;
        if (memcmp(chunk_type, type, 4) == 0) {
            *payload = data + at + 8;
            *payload_len = n;
            return true;
        }
        if (memcmp(chunk_type, "IEND", 4) == 0)
            return false;
        at += 12 + n;
    }
    return false;
}
