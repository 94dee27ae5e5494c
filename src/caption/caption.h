/* src/caption: turning what is known about an image (file path, EXIF,
 * dimensions, colours; later model outputs) into a caption sentence, tags and
 * the words the text index searches. This header is the folder's public
 * interface. */
#ifndef CS_CAPTION_CAPTION_H
#define CS_CAPTION_CAPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "image/image.h"

/* Words from a file path, lower-case, space-separated, for the text index:
 * folder names below `root` (and root's own last folder name) and the file
 * name without its extension, split on separators (/ _ - . space and other
 * punctuation), camelCase boundaries (fooBar -> foo bar, HTTPServer -> http
 * server) and letter/digit boundaries (IMG2021 -> img 2021). Camera counter
 * noise is dropped: all-digit runs longer than 4 digits and the prefixes
 * img, dsc, dscn, dcim, pxl, mvimg. Non-ASCII letters are kept as they are.
 * `root` may be NULL (then only the file name counts). Returns a malloc'd
 * string ("" when nothing is left), NULL on allocation failure. */
char *caption_path_words(const char *root, const char *path);

/* Time words for a wall-clock timestamp (timegm() encoding, see cs_exif):
 * year, month name, weekday, season (southern hemisphere when `southern`),
 * and time of day (morning 5-12, afternoon 12-17, evening 17-21, night). */
typedef struct caption_date_words {
    char year[8];
    const char *month;       /* "january" ... */
    const char *weekday;     /* "monday" ... */
    const char *season;      /* "spring", "summer", "autumn", "winter" */
    const char *time_of_day; /* "morning", "afternoon", "evening", "night" */
    int day;                 /* 1..31 */
} caption_date_words;

void caption_date_words_for(int64_t taken_at, bool southern, caption_date_words *out);

/* "portrait", "landscape", "square" or "panorama" (aspect >= 2:1 either way). */
const char *caption_shape_word(int width, int height);

typedef struct caption_tag {
    char name[64];           /* lower-case word(s), e.g. "blue", "canon" */
    float score;             /* 0..1 */
    const char *kind;        /* "color", "shape", "date", "camera", "format" */
} caption_tag;

#define CAPTION_MAX_TAGS 32

typedef struct caption_facts {
    int width, height;            /* after orientation */
    cs_image_format format;
    const cs_exif *exif;          /* may be NULL */
    const cs_color_share *colors; /* dominant colours, largest first */
    int ncolors;
} caption_facts;

typedef struct caption_result {
    char *caption;           /* one sentence, e.g. "A landscape photo, mostly
                                blue and white, taken on a summer evening in
                                July 2021 with a Canon EOS 5D." */
    char *tags_text;         /* tag names, space-separated, for the index */
    char *exif_text;         /* date and camera words for the index */
    caption_tag tags[CAPTION_MAX_TAGS];
    int ntags;
} caption_result;

/* Composes the metadata caption. Colours under 10% share are left out of the
 * sentence (kept as tags down to 5%). Returns CS_ERR_NOMEM on allocation
 * failure; `out` is then empty. */
cs_status caption_from_metadata(const caption_facts *facts, caption_result *out,
                                cs_error *err);
void caption_result_free(caption_result *result);

#endif
