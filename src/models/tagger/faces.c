/* Faces with BlazeFace (MediaPipe's 256-pixel "back" model) and their
 * expression with mini-Xception (FER2013's seven classes).
 *
 * BlazeFace gives 896 anchors: 512 from a 16x16 grid (stride 16, 2 per cell)
 * then 384 from an 8x8 grid (stride 32, 6 per cell), each with a score logit
 * and [dx, dy, w, h, 6 keypoints] in input pixels relative to the anchor
 * centre. Its input is RGB in [-1, 1]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tagger/tagger_internal.h"

#define ANCHORS 896
/* Faces overlapping this much are one face (group photos need a low value
 * but not the Human library's 0.1, which merges neighbours). */
#define SAME_FACE_IOU 0.3f
/* The expression model saw faces with some margin around them. */
#define FACE_MARGIN 1.2f

static const char *const expressions[7] = {"angry", "disgusted", "afraid", "happy", "sad",
                                           "surprised", "neutral"};

cs_status faces_session_new(tagger *t, tagger_session *s, cs_error *err)
{
    tfjs_shape shape = {4, {1, FACE_SIZE, FACE_SIZE, 3}};
    cs_status rc = tfjs_session_new(t->face_detector, &shape, &s->faces, err);
    if (rc == CS_OK && t->expression) {
        tfjs_shape eshape = {4, {1, EXPRESSION_SIZE, EXPRESSION_SIZE, 1}};
        rc = tfjs_session_new(t->expression, &eshape, &s->expression, err);
    }
    if (rc == CS_OK)
        rc = tagger_reserve_input(s, (size_t)FACE_SIZE * FACE_SIZE * 3, err);
    return rc;
}

/* The four outputs by their shapes: scores and boxes of the 512 and the 384. */
typedef struct face_outputs {
    const float *score512, *score384, *box512, *box384;
} face_outputs;

static cs_status find_outputs(tagger_session *s, face_outputs *o, cs_error *err)
{
    memset(o, 0, sizeof *o);
    int n = tfjs_model_output_count(s->owner->face_detector);
    for (int i = 0; i < n; i++) {
        tfjs_tensor t;
        cs_status rc = tfjs_session_output(s->faces, i, &t, err);
        if (rc != CS_OK)
            return rc;
        if (t.dtype != TFJS_FLOAT32 || t.shape.rank != 3)
            continue;
        int64_t rows = t.shape.dims[1], cols = t.shape.dims[2];
        if (rows == 512 && cols == 1)
            o->score512 = t.data;
        else if (rows == 384 && cols == 1)
            o->score384 = t.data;
        else if (rows == 512 && cols == 16)
            o->box512 = t.data;
        else if (rows == 384 && cols == 16)
            o->box384 = t.data;
    }
    if (!o->score512 || !o->score384 || !o->box512 || !o->box384)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "the face detector's outputs are not the expected [512|384 x 1|16]");
    return CS_OK;
}

static void anchor_centre(int i, float *cx, float *cy)
{
    if (i < 512) {   /* 16x16 cells, 2 anchors each */
        int cell = i / 2;
        *cx = 16.0f * ((float)(cell % 16) + 0.5f);
        *cy = 16.0f * ((float)(cell / 16) + 0.5f);
    } else {         /* 8x8 cells, 6 anchors each */
        int cell = (i - 512) / 6;
        *cx = 32.0f * ((float)(cell % 8) + 0.5f);
        *cy = 32.0f * ((float)(cell / 8) + 0.5f);
    }
}

static float sigmoid(float x)
{
    x = x > 80 ? 80 : x < -80 ? -80 : x;
    return 1.0f / (1.0f + expf(-x));
}

/* Grey 64x64 in [-1, 1] of the square around a face. */
static cs_status expression_input(tagger_session *s, const cs_image *image, const float box[4],
                                  float *input, cs_error *err)
{
    float cx = (box[0] + box[2]) / 2, cy = (box[1] + box[3]) / 2;
    float side = fmaxf(box[2] - box[0], box[3] - box[1]) * FACE_MARGIN;
    int x0 = (int)fmaxf(0, cx - side / 2), y0 = (int)fmaxf(0, cy - side / 2);
    int x1 = (int)fminf((float)image->width, cx + side / 2);
    int y1 = (int)fminf((float)image->height, cy + side / 2);
    if (x1 - x0 < 2 || y1 - y0 < 2)
        return cs_error_set(err, CS_ERR_INVALID, "face too small");
    /* A view of the crop: rows of the original with its own stride. */
    cs_image crop = {x1 - x0, y1 - y0, malloc((size_t)(x1 - x0) * (y1 - y0) * 3)};
    if (!crop.pixels)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (int y = y0; y < y1; y++)
        memcpy(crop.pixels + (size_t)(y - y0) * crop.width * 3,
               image->pixels + ((size_t)y * image->width + x0) * 3, (size_t)crop.width * 3);
    cs_image small = {0};
    cs_status rc = image_resize(&crop, EXPRESSION_SIZE, EXPRESSION_SIZE, &small, err);
    free(crop.pixels);
    if (rc != CS_OK)
        return rc;
    (void)s;
    for (int i = 0; i < EXPRESSION_SIZE * EXPRESSION_SIZE; i++) {
        const uint8_t *p = small.pixels + 3 * i;
        float g = (0.2989f * p[0] + 0.5870f * p[1] + 0.1140f * p[2]) / 255.0f;
        input[i] = (g - 0.5f) * 2.0f;
    }
    image_free(&small);
    return CS_OK;
}

static cs_status classify_expression(tagger_session *s, const cs_image *image, tagger_face *face,
                                     cs_error *err)
{
    float input[EXPRESSION_SIZE * EXPRESSION_SIZE];
    cs_status rc = expression_input(s, image, face->box, input, err);
    if (rc == CS_OK)
        rc = tfjs_session_run(s->expression, input, err);
    tfjs_tensor probs;
    if (rc == CS_OK)
        rc = tfjs_session_output(s->expression, 0, &probs, err);
    if (rc != CS_OK)
        return rc;
    const float *p = probs.data;
    int best = 0;
    for (int i = 1; i < 7; i++)
        if (p[i] > p[best])
            best = i;
    face->expression = expressions[best];
    face->expression_score = p[best];
    return CS_OK;
}

cs_status faces_run(tagger_session *s, const cs_image *image, tagger_result *out,
                    cs_error *err)
{
    const tagger_options *o = &s->owner->options;
    placement where;
    cs_status rc = tagger_place(s, image, FACE_SIZE, true, 1.0f / 127.5f, -1.0f, s->input,
                                &where, err);
    if (rc == CS_OK)
        rc = tfjs_session_run(s->faces, s->input, err);
    face_outputs fo;
    if (rc == CS_OK)
        rc = find_outputs(s, &fo, err);
    if (rc != CS_OK)
        return rc;
    /* tagger_nms works on tagger_object: faces are one class. */
    tagger_object found[ANCHORS];
    int n = 0;
    for (int i = 0; i < ANCHORS; i++) {
        float score = sigmoid(i < 512 ? fo.score512[i] : fo.score384[i - 512]);
        if (score < o->face_threshold)
            continue;
        const float *r = i < 512 ? fo.box512 + (size_t)i * 16 : fo.box384 + (size_t)(i - 512) * 16;
        float ax, ay;
        anchor_centre(i, &ax, &ay);
        float cx = ax + r[0], cy = ay + r[1], w = r[2], h = r[3];
        if (!(w > 0 && h > 0))
            continue;
        tagger_object *f = &found[n++];
        f->class_id = 0;
        f->label = "face";
        f->score = score;
        f->box[0] = fmaxf(0, (cx - w / 2 - where.offset_x) / where.scale_x);
        f->box[1] = fmaxf(0, (cy - h / 2 - where.offset_y) / where.scale_y);
        f->box[2] = fminf((float)image->width, (cx + w / 2 - where.offset_x) / where.scale_x);
        f->box[3] = fminf((float)image->height, (cy + h / 2 - where.offset_y) / where.scale_y);
    }
    n = tagger_nms(found, n, SAME_FACE_IOU, false);
    for (int i = 0; i < n && out->nfaces < TAGGER_MAX_FACES; i++) {
        if (found[i].box[2] <= found[i].box[0] || found[i].box[3] <= found[i].box[1])
            continue;
        tagger_face *face = &out->faces[out->nfaces++];
        memcpy(face->box, found[i].box, sizeof face->box);
        face->score = found[i].score;
        float side = fminf(face->box[2] - face->box[0], face->box[3] - face->box[1]);
        if (s->expression && side >= (float)o->min_face_pixels) {
            cs_error ignored;   /* an expression we cannot read is just left out */
            classify_expression(s, image, face, &ignored);
        }
    }
    return CS_OK;
}
