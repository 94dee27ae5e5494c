/* Loading the tagger's models and running them on one picture. The model
 * specifics (pre- and post-processing) live in detect.c and faces.c. */
#include "models/tagger/tagger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models/tagger/tagger_internal.h"

cs_status tagger_default_dir(char *out, size_t size, cs_error *err)
{
    const char *env = getenv("CAPSEARCH_MODELS");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (env && *env)
        n = snprintf(out, size, "%s/%s", env, TAGGER_MODELS_SUBDIR);
    else if (xdg && *xdg == '/')
        n = snprintf(out, size, "%s/capsearch/models/%s", xdg, TAGGER_MODELS_SUBDIR);
    else if (home && *home)
        n = snprintf(out, size, "%s/.local/share/capsearch/models/%s", home, TAGGER_MODELS_SUBDIR);
    else
        return cs_error_set(err, CS_ERR_INVALID, "no models folder: set HOME or CAPSEARCH_MODELS");
    if (n < 0 || (size_t)n >= size)
        return cs_error_set(err, CS_ERR_INVALID, "models folder name is too long");
    return CS_OK;
}

/* Loads dir/name.json when it exists; *model stays NULL when it does not. */
static cs_status load_optional(const char *dir, const char *name, tfjs_model **model,
                               cs_error *err)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s.json", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return cs_error_set(err, CS_ERR_INVALID, "models folder name is too long");
    struct stat st;
    if (stat(path, &st) != 0)
        return CS_OK;
    cs_status rc = tfjs_model_load(path, model, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "loading the %s model: ", name);
    return CS_OK;
}

cs_status tagger_open(const char *dir, const tagger_options *options, tagger **out,
                      cs_error *err)
{
    *out = NULL;
    tagger *t = calloc(1, sizeof *t);
    if (!t)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    tagger_options defaults = {0};
    t->options = options ? *options : defaults;
    if (t->options.object_threshold <= 0)
        t->options.object_threshold = 0.3f;
    if (t->options.face_threshold <= 0)
        t->options.face_threshold = 0.75f;
    if (t->options.min_face_pixels <= 0)
        t->options.min_face_pixels = 48;
    cs_status rc = load_optional(dir, "centernet", &t->detector, err);
    if (rc == CS_OK)
        rc = load_optional(dir, "blazeface", &t->face_detector, err);
    if (rc == CS_OK)
        rc = load_optional(dir, "emotion", &t->expression, err);
    if (rc != CS_OK) {
        tagger_free(t);
        return rc;
    }
    snprintf(t->description, sizeof t->description, "%s%s%s",
             t->detector ? "centernet " : "", t->face_detector ? "blazeface " : "",
             t->expression ? "emotion" : "");
    *out = t;
    return CS_OK;
}

void tagger_free(tagger *t)
{
    if (!t)
        return;
    tfjs_model_free(t->detector);
    tfjs_model_free(t->face_detector);
    tfjs_model_free(t->expression);
    free(t);
}

bool tagger_has(const tagger *t, tagger_part part)
{
    switch (part) {
    case TAGGER_OBJECTS: return t->detector != NULL;
    case TAGGER_FACES: return t->face_detector != NULL;
    case TAGGER_EXPRESSIONS: return t->face_detector && t->expression;
    }
    return false;
}

const char *tagger_describe(const tagger *t)
{
    return t->description;
}

cs_status tagger_session_new(tagger *t, tagger_session **out, cs_error *err)
{
    *out = NULL;
    tagger_session *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->owner = t;
    cs_status rc = CS_OK;
    if (t->detector)
        rc = detect_session_new(t, s, err);
    if (rc == CS_OK && t->face_detector)
        rc = faces_session_new(t, s, err);
    if (rc != CS_OK) {
        tagger_session_free(s);
        return rc;
    }
    *out = s;
    return CS_OK;
}

void tagger_session_free(tagger_session *s)
{
    if (!s)
        return;
    tfjs_session_free(s->detect);
    tfjs_session_free(s->faces);
    tfjs_session_free(s->expression);
    free(s->input);
    free(s->scratch.pixels);
    free(s);
}

/* BlazeFace also fires on cat faces, cups and textures (0.5-0.8 on the
 * sample photos, real faces 0.77-0.88): a face counts when the detector
 * found a person around it, or when it is near certain. */
#define FACE_ALONE_MIN 0.9f

static bool inside_person(const tagger_result *r, const float box[4])
{
    float cx = 0.5f * (box[0] + box[2]), cy = 0.5f * (box[1] + box[3]);
    for (int i = 0; i < r->nobjects; i++) {
        const float *p = r->objects[i].box;
        if (strcmp(r->objects[i].label, "person") == 0 && cx >= p[0] && cx <= p[2] &&
            cy >= p[1] && cy <= p[3])
            return true;
    }
    return false;
}

static void keep_plausible_faces(tagger_result *r, bool have_detector)
{
    int kept = 0;
    for (int i = 0; i < r->nfaces; i++)
        if (!have_detector || r->faces[i].score >= FACE_ALONE_MIN ||
            inside_person(r, r->faces[i].box))
            r->faces[kept++] = r->faces[i];
    r->nfaces = kept;
}

cs_status tagger_run(tagger_session *s, const cs_image *image, tagger_result *out,
                     cs_error *err)
{
    memset(out, 0, sizeof *out);
    if (!image || !image->pixels || image->width <= 0 || image->height <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "no picture to tag");
    cs_status rc = CS_OK;
    if (s->detect)
        rc = detect_run(s, image, out, err);
    if (rc == CS_OK && s->faces) {
        rc = faces_run(s, image, out, err);
        keep_plausible_faces(out, s->detect != NULL);
    }
    return rc;
}
