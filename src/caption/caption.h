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
 * noise is dropped: all-digit runs longer than 4 digits, the prefixes
 * img, dsc, dscn, dcim, pxl, mvimg, and a digit run right after one of them
 * in the same component (the counter of IMG_1234, DSCN0001). ASCII and
 * Latin-1 capitals are lower-cased; other non-ASCII letters are kept as they
 * are (the FTS tokenizer folds their case and diacritics). Bytes that are not
 * valid UTF-8 act as separators. A word is listed once, first place kept.
 * `root` may be NULL or "" (then only the file name counts), and so does a
 * path that is not inside root. Returns a malloc'd string ("" when nothing is
 * left), NULL on allocation failure. */
char *caption_path_words(const char *root, const char *path);

/* Time words for a wall-clock timestamp (timegm() encoding, see cs_exif):
 * year, month name, weekday, season (southern hemisphere when `southern`),
 * and time of day (morning 5-12, afternoon 12-17, evening 17-21, night).
 * A timestamp outside the years 1..9999 (a broken clock) gives "" for every
 * word and day 0. */
typedef struct caption_date_words {
    char year[8];
    const char *month;       /* "january" ... */
    const char *weekday;     /* "monday" ... */
    const char *season;      /* "spring", "summer", "autumn", "winter" */
    const char *time_of_day; /* "morning", "afternoon", "evening", "night" */
    int day;                 /* 1..31 */
} caption_date_words;

void caption_date_words_for(int64_t taken_at, bool southern, caption_date_words *out);

/* "portrait", "landscape", "square" (sides within 5% of each other) or
 * "panorama" (aspect >= 2:1 either way); NULL when a side is not positive. */
const char *caption_shape_word(int width, int height);

typedef struct caption_tag {
    char name[64];           /* lower-case word(s), e.g. "blue", "canon" */
    float score;             /* 0..1 */
    const char *kind;        /* "color", "shape", "date", "camera", "format" */
} caption_tag;

/* Metadata gives at most 28 tags (20 colours of 5% and more, 8 others);
 * what a detector found (caption_add_findings) gets the rest. */
#define CAPTION_MAX_TAGS 64
#define CAPTION_MAX_FINDING_TAGS 36

typedef struct caption_facts {
    int width, height;            /* after orientation */
    cs_image_format format;
    const cs_exif *exif;          /* may be NULL */
    const cs_color_share *colors; /* dominant colours, largest first */
    int ncolors;
} caption_facts;

typedef struct caption_result {
    char *caption;           /* one sentence, e.g. "A landscape photo, mostly
                                blue and white, taken on a summer evening,
                                Sunday 4 July 2021, with a Canon EOS 5D." */
    char *tags_text;         /* tag names, space-separated, for the index */
    char *exif_text;         /* date and camera words for the index */
    caption_tag tags[CAPTION_MAX_TAGS];
    int ntags;
} caption_result;

/* Composes the metadata caption. Unknown parts are left out of the sentence.
 * Colours under 10% share are left out of the sentence (at most three are
 * named) and kept as tags down to 5%; same-named colours are merged. It says
 * "photo" when a camera is known or the format is JPEG/HEIF, else "image".
 * The camera is the make as people say it ("NIKON CORPORATION" -> "Nikon")
 * followed by the model without a repeated make. Tags, in this order: colours
 * (score = share), shape, date (year, month, season, time of day), camera
 * (make, model), format; each (kind, name) once, names lower-case and cut to
 * fit 63 bytes before the word that crosses the limit (or, for one long word,
 * at a UTF-8 character boundary). exif_text holds year, month, weekday, day,
 * season, time of day and the camera words. The hemisphere comes from GPS
 * when present. Returns CS_ERR_INVALID for missing facts or a negative or
 * array-less colour count, CS_ERR_NOMEM on allocation failure; `out` is then
 * empty. */
cs_status caption_from_metadata(const caption_facts *facts, caption_result *out,
                                cs_error *err);
void caption_result_free(caption_result *result);

/* Puts what a model found in front of the metadata caption: `sentence`
 * ("Two people and a dog", may be "" or NULL) becomes the caption's first
 * sentence, and `tags` (at most CAPTION_MAX_FINDING_TAGS, kinds such as
 * "object", "face", "expression") come before the metadata tags, with the
 * same naming rules; tags_text is rebuilt. CS_ERR_INVALID for too many
 * tags, CS_ERR_NOMEM on allocation failure (`out` is then unchanged). */
cs_status caption_add_findings(caption_result *out, const char *sentence,
                               const caption_tag *tags, int ntags, cs_error *err);

#endif
