/* Objects with CenterNet (MobileNetV3 + CenterNet head; decoding is inside
 * the graph): `tower_0/detections` is [1, 100, 6] = x1, y1, x2, y2, score,
 * class in 512-pixel input coordinates, best first. The input is RGB 0..255
 * (the /255 is folded into the first convolution). */
#include <math.h>
#include <string.h>

#include "models/tagger/tagger_internal.h"

#define DETECTIONS "tower_0/detections"
/* Global average of the deepest block's expanded features (its squeeze-
 * excite mean), already computed by the graph: a free image descriptor. */
#define FEATURES "tower_0/MobilenetV3/expanded_conv_14/squeeze_excite/Mean"
/* Boxes of one class overlapping this much are one object. */
#define SAME_OBJECT_IOU 0.5f

cs_status detect_session_new(tagger *t, tagger_session *s, cs_error *err)
{
    tfjs_shape shape = {4, {1, DETECT_SIZE, DETECT_SIZE, 3}};
    const char *extra[1] = {FEATURES};
    cs_status rc = tfjs_session_new_with_outputs(t->detector, &shape, extra, 1, &s->detect, err);
    if (rc == CS_OK)
        rc = tagger_reserve_input(s, (size_t)DETECT_SIZE * DETECT_SIZE * 3, err);
    return rc;
}

float tagger_iou(const float a[4], const float b[4])
{
    float ix = fminf(a[2], b[2]) - fmaxf(a[0], b[0]);
    float iy = fminf(a[3], b[3]) - fmaxf(a[1], b[1]);
    if (ix <= 0 || iy <= 0)
        return 0;
    float inter = ix * iy;
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    float uni = area_a + area_b - inter;
    return uni > 0 ? inter / uni : 0;
}

static void sort_by_score(tagger_object *o, int n)
{
    for (int i = 1; i < n; i++) {   /* insertion sort: n <= 100 */
        tagger_object key = o[i];
        int j = i - 1;
        while (j >= 0 && o[j].score < key.score) {
            o[j + 1] = o[j];
            j--;
        }
        o[j + 1] = key;
    }
}

int tagger_nms(tagger_object *objects, int n, float iou, bool per_class)
{
    sort_by_score(objects, n);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool suppressed = false;
        for (int k = 0; k < kept && !suppressed; k++)
            suppressed = (!per_class || objects[k].class_id == objects[i].class_id) &&
                         tagger_iou(objects[k].box, objects[i].box) >= iou;
        if (!suppressed)
            objects[kept++] = objects[i];
    }
    return kept;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void read_features(tagger_session *s, tagger_result *out)
{
    tfjs_tensor t;
    cs_error ignored;
    if (tfjs_session_node(s->detect, FEATURES, &t, &ignored) != CS_OK ||
        t.dtype != TFJS_FLOAT32)
        return;
    int64_t n = 1;
    for (int i = 0; i < t.shape.rank; i++)
        n *= t.shape.dims[i];
    if (n != TAGGER_FEATURE_DIM)
        return;
    const float *f = t.data;
    double norm = 0;
    for (int i = 0; i < TAGGER_FEATURE_DIM; i++)
        norm += (double)f[i] * f[i];
    if (norm <= 0)
        return;
    float inv = (float)(1.0 / sqrt(norm));
    for (int i = 0; i < TAGGER_FEATURE_DIM; i++)
        out->features[i] = f[i] * inv;
    out->has_features = true;
}

cs_status detect_run(tagger_session *s, const cs_image *image, tagger_result *out,
                     cs_error *err)
{
    const tagger_options *o = &s->owner->options;
    placement where;
    cs_status rc = tagger_place(s, image, DETECT_SIZE, o->preprocess == TAGGER_LETTERBOX,
                                1.0f, 0.0f, s->input, &where, err);
    if (rc == CS_OK)
        rc = tfjs_session_run(s->detect, s->input, err);
    int index = tfjs_model_output_index(s->owner->detector, DETECTIONS);
    tfjs_tensor det;
    if (rc == CS_OK && index < 0)
        rc = cs_error_set(err, CS_ERR_CORRUPT, "the detector has no output %s", DETECTIONS);
    if (rc == CS_OK)
        rc = tfjs_session_output(s->detect, index, &det, err);
    if (rc != CS_OK)
        return rc;
    if (det.dtype != TFJS_FLOAT32 || det.shape.rank != 3 || det.shape.dims[2] != 6)
        return cs_error_set(err, CS_ERR_CORRUPT, "the detector's %s output has an unexpected shape",
                            DETECTIONS);
    const float *d = det.data;
    int rows = (int)det.shape.dims[1];
    tagger_object found[100];
    int n = 0;
    for (int i = 0; i < rows && n < 100; i++) {
        const float *r = d + (size_t)i * 6;
        int cls = (int)r[5];
        if (!(r[4] >= o->object_threshold) || cls < 0 || cls >= 80)
            continue;
        tagger_object *t = &found[n];
        t->class_id = cls;
        t->label = coco_labels[cls];
        t->score = r[4];
        /* back from input pixels to picture pixels */
        t->box[0] = clampf((r[0] - where.offset_x) / where.scale_x, 0, (float)image->width);
        t->box[1] = clampf((r[1] - where.offset_y) / where.scale_y, 0, (float)image->height);
        t->box[2] = clampf((r[2] - where.offset_x) / where.scale_x, 0, (float)image->width);
        t->box[3] = clampf((r[3] - where.offset_y) / where.scale_y, 0, (float)image->height);
        if (t->box[2] > t->box[0] && t->box[3] > t->box[1])
            n++;
    }
    n = tagger_nms(found, n, SAME_OBJECT_IOU, true);
    if (n > TAGGER_MAX_OBJECTS)
        n = TAGGER_MAX_OBJECTS;
    memcpy(out->objects, found, (size_t)n * sizeof *found);
    out->nobjects = n;
    read_features(s, out);
    return CS_OK;
}
