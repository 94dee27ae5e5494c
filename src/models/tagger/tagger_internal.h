/* Shared by the tagger's files. */
#ifndef CS_MODELS_TAGGER_INTERNAL_H
#define CS_MODELS_TAGGER_INTERNAL_H

#include "models/tagger/tagger.h"
#include "models/tagger/tfjs.h"

#define TAGGER_MODELS_SUBDIR "human-models-3.0.4"
#define DETECT_SIZE 512
#define FACE_SIZE 256
#define EXPRESSION_SIZE 64

struct tagger {
    tagger_options options;
    tfjs_model *detector;        /* centernet */
    tfjs_model *face_detector;   /* blazeface */
    tfjs_model *expression;      /* emotion */
    char description[64];
};

struct tagger_session {
    tagger *owner;
    tfjs_session *detect;
    tfjs_session *faces;
    tfjs_session *expression;
    float *input;                /* the largest model input, reused */
    size_t input_floats;
    cs_image scratch;            /* resized picture, reused when the size allows */
};

/* COCO's 80 class names in the detectors' order. */
extern const char *const coco_labels[80];

/* How a picture was placed on a square model input: input = picture * scale
 * + offset. */
typedef struct placement {
    float scale_x, scale_y;
    float offset_x, offset_y;
} placement;

/* Draws `image` onto a size x size RGB float input (channel values
 * value * mul + add), letterboxed (centred, aspect kept, rest zero) or
 * stretched. */
cs_status tagger_place(tagger_session *s, const cs_image *image, int size, bool letterbox,
                       float mul, float add, float *input, placement *where, cs_error *err);
/* Ensures s->input holds at least n floats. */
cs_status tagger_reserve_input(tagger_session *s, size_t n, cs_error *err);

cs_status detect_session_new(tagger *t, tagger_session *s, cs_error *err);
cs_status detect_run(tagger_session *s, const cs_image *image, tagger_result *out,
                     cs_error *err);
cs_status faces_session_new(tagger *t, tagger_session *s, cs_error *err);
cs_status faces_run(tagger_session *s, const cs_image *image, tagger_result *out,
                    cs_error *err);

#endif
