/* EXIF through libexif: orientation, capture time, camera, GPS. Anything
 * missing or malformed is simply left out. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libexif/exif-data.h>

#include "image/image_internal.h"

/* libexif takes an unsigned int size; real EXIF blocks are at most 64 KiB in
 * JPEG and rarely more than a few MiB elsewhere. */
#define EXIF_MAX_BYTES (64u << 20)
#define EXIF_EARLIEST_YEAR 1800   /* photography is younger: earlier = a bogus clock */

static ExifEntry *find_entry(ExifData *ed, ExifIfd ifd, ExifTag tag)
{
    return ed->ifd[ifd] ? exif_content_get_entry(ed->ifd[ifd], tag) : NULL;
}

static bool read_unsigned(const ExifEntry *e, ExifByteOrder order, unsigned *value)
{
    if (!e || !e->data || e->components < 1)
        return false;
    if (e->format == EXIF_FORMAT_SHORT && e->size >= 2)
        *value = exif_get_short(e->data, order);
    else if (e->format == EXIF_FORMAT_LONG && e->size >= 4)
        *value = exif_get_long(e->data, order);
    else
        return false;
    return true;
}

/* Copies an ASCII value keeping printable characters only (EXIF text is
 * 7-bit ASCII; anything else is padding or damage), with runs of spaces
 * collapsed and both ends trimmed. Values longer than the field are cut: the
 * fields hold far more than any real camera name. */
static void copy_ascii(const ExifEntry *e, char *dst, size_t cap)
{
    size_t n = 0;
    dst[0] = '\0';
    if (!e || !e->data || e->format != EXIF_FORMAT_ASCII)
        return;
    for (size_t i = 0; i < e->size && n + 1 < cap; i++) {
        unsigned char c = e->data[i];
        if (c == '\0')
            break;
        if (c < 0x20 || c > 0x7E)
            continue;
        if (c == ' ' && (n == 0 || dst[n - 1] == ' '))
            continue;
        dst[n++] = (char)c;
    }
    while (n > 0 && dst[n - 1] == ' ')
        n--;
    dst[n] = '\0';
}

static bool read_digits(const char *s, int count, int *value)
{
    int v = 0;
    for (int i = 0; i < count; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *value = v;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* "YYYY:MM:DD HH:MM:SS" (some writers use '-' in the date or 'T' between
 * the halves) as timegm() of the fields. */
static bool parse_datetime(const char *s, int64_t *out)
{
    if (strlen(s) < 19)
        return false;
    int year, month, day, hour, minute, second;
    bool separators_ok = (s[4] == ':' || s[4] == '-') && s[7] == s[4] &&
                         (s[10] == ' ' || s[10] == 'T') && s[13] == ':' && s[16] == ':';
    if (!separators_ok || !read_digits(s, 4, &year) || !read_digits(s + 5, 2, &month) ||
        !read_digits(s + 8, 2, &day) || !read_digits(s + 11, 2, &hour) ||
        !read_digits(s + 14, 2, &minute) || !read_digits(s + 17, 2, &second))
        return false;
    if (year < EXIF_EARLIEST_YEAR || month < 1 || month > 12 || day < 1 ||
        day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60)
        return false;
    struct tm tm = {
        .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
        .tm_hour = hour, .tm_min = minute, .tm_sec = second,
    };
    *out = (int64_t)timegm(&tm);
    return true;
}

static bool read_datetime(ExifData *ed, ExifIfd ifd, ExifTag tag, int64_t *out)
{
    char text[32];
    copy_ascii(find_entry(ed, ifd, tag), text, sizeof text);
    return parse_datetime(text, out);
}

static bool read_rational_part(const ExifEntry *e, ExifByteOrder order, size_t i, double *out)
{
    const unsigned char *p = e->data + 8 * i;
    if (e->format == EXIF_FORMAT_RATIONAL) {
        ExifRational r = exif_get_rational(p, order);
        if (r.denominator == 0) {   /* 0/0 is a common way of writing "0" */
            *out = 0;
            return r.numerator == 0;
        }
        *out = (double)r.numerator / r.denominator;
        return true;
    }
    ExifSRational r = exif_get_srational(p, order);
    if (r.denominator == 0) {
        *out = 0;
        return r.numerator == 0;
    }
    *out = (double)r.numerator / r.denominator;
    return true;
}

/* Degrees, minutes, seconds (fewer parts allowed) with an N/S or E/W ref. */
static bool read_gps_coordinate(const ExifEntry *value, const ExifEntry *ref,
                                ExifByteOrder order, char negative_ref, double limit,
                                double *out)
{
    if (!value || !value->data || value->components < 1 ||
        (value->format != EXIF_FORMAT_RATIONAL && value->format != EXIF_FORMAT_SRATIONAL))
        return false;
    size_t parts = value->components < 3 ? value->components : 3;
    if (value->size < parts * 8)
        return false;
    static const double unit[3] = {1.0, 60.0, 3600.0};
    double degrees = 0;
    for (size_t i = 0; i < parts; i++) {
        double part;
        if (!read_rational_part(value, order, i, &part))
            return false;
        degrees += part / unit[i];
    }
    if (!(degrees >= -limit && degrees <= limit))
        return false;
    if (ref && ref->data && ref->size >= 1 &&
        toupper((unsigned char)ref->data[0]) == negative_ref)
        degrees = -degrees;
    *out = degrees;
    return true;
}

static void read_fields(ExifData *ed, cs_exif *out)
{
    ExifByteOrder order = exif_data_get_byte_order(ed);
    unsigned orientation;
    if (read_unsigned(find_entry(ed, EXIF_IFD_0, EXIF_TAG_ORIENTATION), order, &orientation) &&
        orientation >= 1 && orientation <= 8)
        out->orientation = (int)orientation;

    out->has_taken_at =
        read_datetime(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, &out->taken_at) ||
        read_datetime(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_DIGITIZED, &out->taken_at) ||
        read_datetime(ed, EXIF_IFD_0, EXIF_TAG_DATE_TIME, &out->taken_at);
    if (!out->has_taken_at)
        out->taken_at = 0;

    copy_ascii(find_entry(ed, EXIF_IFD_0, EXIF_TAG_MAKE), out->make, sizeof out->make);
    copy_ascii(find_entry(ed, EXIF_IFD_0, EXIF_TAG_MODEL), out->model, sizeof out->model);

    double lat, lon;
    bool ok = read_gps_coordinate(find_entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE),
                                  find_entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE_REF),
                                  order, 'S', 90.0, &lat) &&
              read_gps_coordinate(find_entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE),
                                  find_entry(ed, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE_REF),
                                  order, 'W', 180.0, &lon);
    /* Exactly 0,0 is what devices without a fix write; nobody's photos are
     * all taken at that spot in the Gulf of Guinea. */
    if (ok && !(lat == 0.0 && lon == 0.0)) {
        out->has_gps = true;
        out->latitude = lat;
        out->longitude = lon;
    }
}

void image_parse_exif(const uint8_t *data, size_t len, cs_exif *out)
{
    memset(out, 0, sizeof *out);
    if (!data || len < 8)
        return;
    const uint8_t *block = NULL;
    size_t block_len = 0;
    uint8_t *owned = NULL;
    if (data[0] == 0xFF && data[1] == 0xD8) {
        if (!image_jpeg_find_segment(data, len, 0xE1, "Exif\0\0", 6, &block, &block_len))
            return;
    } else if (memcmp(data, "Exif\0\0", 6) == 0) {
        block = data;
        block_len = len;
    } else if (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0) {
        if (len > EXIF_MAX_BYTES)
            return;
        owned = malloc(len + 6);   /* libexif wants the "Exif\0\0" header */
        if (!owned)
            return;   /* EXIF is optional: without memory for it, there is none */
        memcpy(owned, "Exif\0\0", 6);
        memcpy(owned + 6, data, len);
        block = owned;
        block_len = len + 6;
    } else {
        return;
    }
    if (block_len <= EXIF_MAX_BYTES) {
        ExifData *ed = exif_data_new();
        if (ed) {
            /* Read what is there: the "follow the specification" option would
             * add default tags and rewrite values. */
            exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
            exif_data_load_data(ed, block, (unsigned)block_len);
            read_fields(ed, out);
            exif_data_unref(ed);
        }
    }
    free(owned);
}
