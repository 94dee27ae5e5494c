/* A JPEG decoded at 1/8 scale needs little more than each block's DC
 * coefficient: libjpeg's 1x1 inverse DCT reads nothing else. (A subsampled
 * chroma component may get a 2x2 one instead, which spares an upsampling;
 * libjpeg says which.) A progressive file sends AC coefficients in scans of
 * their own, most of its bytes and of its decoding time. A copy without the
 * AC scans of the components decoded 1x1 gives the same pixels at 1/8,
 * three to four times faster.
 *
 * It goes through libjpeg's own API, not TurboJPEG's: libjpeg smooths
 * blocks whose AC coefficients were never sent (guessing them from the
 * neighbours' DC), which changes the pixels, and only that API turns it
 * off. */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>   /* jpeglib.h uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "image/image_internal.h"

#define JPEG_SOF_PROGRESSIVE_HUFFMAN 0xC2
#define JPEG_SOS 0xDA
#define JPEG_EOI 0xD9
#define JPEG_DNL 0xDC
/* More scans kept than any encoder writes: past it the file goes to
 * TurboJPEG, which bounds scan counts itself (TJFLAG_LIMITSCANS). */
#define KEPT_SCANS_MAX 64

/* Start-of-frame markers: C0-CF but DHT (C4), JPG (C8) and DAC (CC). */
static bool is_start_of_frame(int marker)
{
    return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 &&
           marker != 0xCC;
}

/* Offset of the marker that ends the entropy-coded data starting at `at`
 * (0xFF 0x00 is a stuffed data byte, 0xFF 0xD0-D7 a restart); len if none. */
static size_t entropy_data_end(const uint8_t *data, size_t len, size_t at)
{
    for (; at + 1 < len; at++) {
        if (data[at] != 0xFF)
            continue;
        uint8_t next = data[at + 1];
        if (next == 0x00 || (next >= 0xD0 && next <= 0xD7))
            at++;
        else
            return at;
    }
    return len;
}

/* Component selector and first spectral index (Ss, 0 for DC) of a scan
 * header; false if damaged. AC scans have one component (T.81 G.1.1.1.1). */
static bool scan_header(const uint8_t *payload, size_t payload_len, int *first_component,
                        int *spectral_start)
{
    if (payload_len < 1)
        return false;
    size_t components = payload[0];
    if (components < 1 || payload_len < 1 + 2 * components + 3)
        return false;
    *first_component = payload[1];
    *spectral_start = payload[1 + 2 * components];
    return true;
}

/* A copy of a progressive JPEG without the AC scans of the components
 * marked in `drop` (by component id). False, *out NULL, when the file is not
 * a progressive Huffman JPEG ending in EOI with such scans, or memory is
 * short. */
static bool copy_without_ac_scans(const uint8_t *data, size_t len, const bool drop[256],
                                  uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    uint8_t *copy = malloc(len);   /* the copy only ever drops bytes */
    if (!copy)
        return false;
    memcpy(copy, data, 2);
    size_t copied = 2, at = 2, scans = 0, dropped = 0;
    bool progressive = false, ended = false;
    while (!ended) {
        while (len - at >= 2 && data[at] == 0xFF && data[at + 1] == 0xFF)
            at++;   /* fill bytes before a marker */
        if (len - at < 2 || data[at] != 0xFF)
            break;
        size_t start = at, end;
        if (data[at + 1] == JPEG_EOI) {
            end = at + 2;
            ended = true;
        } else {
            const uint8_t *payload;
            size_t payload_len;
            int marker = image_jpeg_next_segment(data, len, &at, &payload, &payload_len);
            if (marker == 0 || marker == JPEG_DNL)
                break;
            if (is_start_of_frame(marker))
                progressive = marker == JPEG_SOF_PROGRESSIVE_HUFFMAN;
            end = at;
            if (marker == JPEG_SOS) {
                int component, spectral_start;
                end = entropy_data_end(data, len, at);
                if (!progressive || !scan_header(payload, payload_len, &component,
                                                 &spectral_start) || end == len)
                    break;   /* not progressive, damaged or truncated */
                at = end;
                if (spectral_start > 0 && drop[component]) {
                    dropped++;
                    continue;
                }
                scans++;
            }
        }
        memcpy(copy + copied, data + start, end - start);
        copied += end - start;
    }
    if (!ended || !progressive || scans == 0 || scans > KEPT_SCANS_MAX || dropped == 0) {
        free(copy);
        return false;
    }
    *out = copy;
    *out_len = copied;
    return true;
}

typedef struct quiet_errors {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
    int warnings;
} quiet_errors;

static void escape_on_error(j_common_ptr cinfo)
{
    longjmp(((quiet_errors *)cinfo->err)->escape, 1);
}

/* Counts warnings (corrupt data) instead of printing them. */
static void count_warning(j_common_ptr cinfo, int level)
{
    if (level < 0)
        ((quiet_errors *)cinfo->err)->warnings++;
}

static void print_nothing(j_common_ptr cinfo)
{
    (void)cinfo;
}

#if JPEG_LIB_VERSION >= 70
#define DECODED_1X1(comp) ((comp)->DCT_h_scaled_size == 1 && (comp)->DCT_v_scaled_size == 1)
#else
#define DECODED_1X1(comp) ((comp)->DCT_scaled_size == 1)
#endif

/* Reads the header into cinfo, set for a 1/8 decode; marks the components
 * libjpeg will decode with a 1x1 inverse DCT. False if there are none. */
static bool read_header_at_eighth(struct jpeg_decompress_struct *cinfo, const uint8_t *data,
                                  size_t len, bool drop[256])
{
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    jpeg_read_header(cinfo, TRUE);
    cinfo->scale_num = 1;
    cinfo->scale_denom = 8;
    jpeg_calc_output_dimensions(cinfo);
    bool any = false;
    for (int c = 0; c < cinfo->num_components; c++) {
        jpeg_component_info *comp = &cinfo->comp_info[c];
        if (comp->component_id >= 0 && comp->component_id < 256 && DECODED_1X1(comp)) {
            drop[comp->component_id] = true;
            any = true;
        }
    }
    return any && cinfo->progressive_mode && !cinfo->arith_code;
}

bool image_jpeg_decode_dc(const uint8_t *data, size_t len, bool cmyk, int width, int height,
                          uint8_t *pixels)
{
    if (!data || len < 4 || data[0] != 0xFF || data[1] != 0xD8 || len > ULONG_MAX)
        return false;
    struct jpeg_decompress_struct cinfo;
    quiet_errors errors;
    cinfo.err = jpeg_std_error(&errors.pub);
    errors.pub.error_exit = escape_on_error;
    errors.pub.emit_message = count_warning;
    errors.pub.output_message = print_nothing;
    errors.warnings = 0;
    uint8_t *volatile copy = NULL;   /* set after setjmp: volatile keeps it */
    if (setjmp(errors.escape)) {
        jpeg_destroy_decompress(&cinfo);
        free(copy);
        return false;
    }
    jpeg_create_decompress(&cinfo);
    bool drop[256] = {false};
    size_t copy_len = 0;
    uint8_t *made = NULL;
    if (!read_header_at_eighth(&cinfo, data, len, drop) ||
        !copy_without_ac_scans(data, len, drop, &made, &copy_len)) {
        jpeg_destroy_decompress(&cinfo);
        return false;
    }
    copy = made;
    jpeg_abort_decompress(&cinfo);
    jpeg_mem_src(&cinfo, copy, (unsigned long)copy_len);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = 1;
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_ISLOW;   /* TJFLAG_ACCURATEDCT, as the whole decode */
    cinfo.do_block_smoothing = FALSE;
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int channels = cmyk ? 4 : 3;
    bool fits = cinfo.output_width == (JDIMENSION)width &&
                cinfo.output_height == (JDIMENSION)height &&
                cinfo.output_components == channels;
    while (fits && cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * (size_t)width * (size_t)channels;
        if (jpeg_read_scanlines(&cinfo, &row, 1) != 1)
            fits = false;
    }
    if (fits)
        jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(copy);
    return fits && errors.warnings == 0;
}
