/* Text in pictures: a cheap test that says whether a picture likely holds
 * text, and Tesseract to read it when it does.
 *
 * The test runs on the small image every picture is decoded to for analysis
 * (short side 128-256 px; see CS_ANALYSIS_MIN_SIDE) so that photos without
 * text cost well under a millisecond more. It looks for what printed text
 * is made of: letter-shaped blobs (dark on light or light on dark, against
 * the local mean) with thin strokes for their height, standing side by side
 * in rows of similar height. Bricks, coins, leaves and gravel make blobs too,
 * but not thin-stroked ones in rows. Text has to be about 5 px tall at that
 * size to be seen (a headline, a sign, a slide, a screenshot's title, a
 * receipt photographed close); the small print of a large photo is not.
 *
 * When it fires, the picture is decoded again, large enough for the letters
 * the test saw to be ~32 px tall (Tesseract's comfortable size), and read.
 * Only words Tesseract is at least OCR_MIN_CONFIDENCE sure of are kept. */
#ifndef CS_CAPTION_OCR_H
#define CS_CAPTION_OCR_H

#include <stdbool.h>

#include "common/error.h"
#include "common/strbuf.h"
#include "image/image.h"

/* Words below this Tesseract confidence (0-100) are dropped: on photos,
 * what Tesseract reads from texture is mostly below 60, real words above. */
#define OCR_MIN_CONFIDENCE 60.0f
/* Bytes of text kept per picture, cut at a word boundary: a page of text
 * (~2000 characters) fits; a search needs a few words, not a book. */
#define OCR_MAX_TEXT 2048
/* The letter height the second decode aims for, and the longest side it may
 * have (bounds Tesseract's time on a huge poster). */
#define OCR_TARGET_LETTER_PX 32
#define OCR_MAX_SIDE 2400

typedef struct ocr_text_guess {
    bool likely;           /* letters in rows: worth running Tesseract */
    bool look_closer;      /* no letters, but stacked lines of small print:
                              worth testing a larger decode */
    int candidates;        /* letter-shaped blobs */
    int in_rows;           /* of those, standing in rows */
    int rows;              /* rows of at least three */
    int lines;             /* the tallest stack of small-print lines */
    float letter_height;   /* median height of the letters in rows, in the
                              tested image's pixels (0 when none) */
} ocr_text_guess;

/* The cheap test (thread-safe): letters first; when there are none, lines
 * of small print. About 1 ms on a 192 x 128 image, 5 ms at 512 px.
 * CS_ERR_NOMEM on allocation failure. */
cs_status ocr_guess_text(const cs_image *image, ocr_text_guess *out, cs_error *err);

/* The short side to decode the picture at for reading, given what the test
 * saw on `tested` (an image of the picture whose full size is full_w x
 * full_h): 0 = full size; -1 = `tested` is big enough already. */
int ocr_read_min_side(const ocr_text_guess *guess, const cs_image *tested, int full_w,
                      int full_h);
/* The short side of the closer look after `look_closer` (512 px, 0 = full
 * size); -1 when `tested` is as sharp as that already. */
int ocr_closer_min_side(const cs_image *tested, int full_w, int full_h);

/* One Tesseract instance. Not thread-safe and slow to create (~0.1 s):
 * keep one per thread and reuse it. */
typedef struct ocr_engine ocr_engine;

/* `languages`: Tesseract language codes joined by '+' ("eng", "eng+deu");
 * NULL or "" = "eng". CS_ERR_NOT_FOUND (message names the missing
 * traineddata file and the Debian package) when a language is not
 * installed, CS_ERR_UNSUPPORTED when built without Tesseract. */
cs_status ocr_engine_new(const char *languages, ocr_engine **out, cs_error *err);
void ocr_engine_free(ocr_engine *engine);

/* How the text is laid out, for Tesseract's page segmentation. */
typedef enum ocr_layout {
    OCR_SPARSE,   /* words here and there: signs, labels, captions */
    OCR_BLOCK,    /* one block of lines: a page, a receipt, a screen */
} ocr_layout;

/* Reads the text of `image`: the words of at least OCR_MIN_CONFIDENCE, one
 * space between words, at most OCR_MAX_TEXT bytes. `letter_height` (pixels
 * of `image`, 0 = unknown) lets it scale the image so letters are about
 * OCR_TARGET_LETTER_PX tall; the longest side read is OCR_MAX_SIDE. *text
 * is malloc'd ("" when nothing was read). */
cs_status ocr_read(ocr_engine *engine, const cs_image *image, float letter_height,
                   ocr_layout layout, char **text, cs_error *err);

/* ---- the whole step, as the indexer runs it for one picture ---- */

/* Decodes the picture again with a short side of at least `min_side`
 * (0 = full size). */
typedef cs_status (*ocr_decode_fn)(int min_side, cs_decoded *out, void *user, cs_error *err);
/* The caller's engine for this thread, created on first use; NULL when OCR
 * is not available (then nothing is read). */
typedef ocr_engine *(*ocr_engine_fn)(void *user);

typedef struct ocr_picture {
    const cs_decoded *analysis;   /* the picture at the analysis size */
    ocr_decode_fn decode;
    ocr_engine_fn engine;
    void *user;                   /* for both callbacks */
} ocr_picture;

typedef struct ocr_outcome {
    ocr_text_guess first;         /* the test on the analysis image */
    ocr_text_guess closer;        /* the test on the closer look */
    bool looked_closer;
    bool read;                    /* Tesseract ran */
    int read_width, read_height;  /* the size it was given */
    double test_ms, decode_ms, read_ms;
    char *text;                   /* malloc'd; "" when nothing was read */
} ocr_outcome;

/* The test; when it says text, a closer look or a decode at the size the
 * letters need, and Tesseract. A second decode that fails leaves the text
 * empty (the picture was decoded once already: it is not broken). Only
 * CS_ERR_NOMEM is returned as an error. */
cs_status ocr_picture_text(const ocr_picture *picture, ocr_outcome *out, cs_error *err);
void ocr_outcome_free(ocr_outcome *out);

/* Checks that every language's traineddata is installed, without starting
 * Tesseract (which would print to stderr). Same errors as ocr_engine_new. */
cs_status ocr_check_languages(const char *languages, cs_error *err);

/* For `capsearch doctor`: Tesseract's version (NULL when not built in), the
 * folder its language files are read from, and the installed languages
 * ("eng osd"), appended to `out`. */
const char *ocr_version(void);
const char *ocr_data_dir(void);
void ocr_installed_languages(strbuf *out);

#endif
