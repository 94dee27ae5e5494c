/* What the tagger found, turned into the caption's first sentence and tags:
 * objects by label (best score), "face" for faces, and the expressions
 * read on them ("smiling"). No identities, no gender or age. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption/scene.h"
#include "indexer/indexer_internal.h"

/* An expression is named only this sure, and only for faces large enough
 * to read (the tagger leaves the others' expression NULL). */
#define EXPRESSION_MIN_SCORE 0.5f
/* Objects scoring this much are named in the sentence; weaker ones (down to
 * the tagger's threshold) are only tags, with their scores: on the sample
 * photos the false detections score 0.3-0.4 (a kite on the moon, a clock
 * on coins) and most true ones 0.5 and more (see the README's table). */
#define SENTENCE_MIN_SCORE 0.45f

static const char *expression_word(const char *expression)
{
    static const char *const words[][2] = {
        {"happy", "smiling"}, {"sad", "sad"}, {"angry", "angry"}, {"surprised", "surprised"},
        {"afraid", "afraid"}, {"disgusted", "disgusted"},
    };
    for (size_t i = 0; expression && i < sizeof words / sizeof *words; i++)
        if (strcmp(words[i][0], expression) == 0)
            return words[i][1];
    return NULL;   /* "neutral" says nothing worth searching */
}

static void add_finding(caption_tag *tags, int *n, const char *name, float score,
                        const char *kind)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(tags[i].kind, kind) == 0 && strcmp(tags[i].name, name) == 0) {
            if (score > tags[i].score)
                tags[i].score = score;
            return;
        }
    if (*n >= CAPTION_MAX_FINDING_TAGS)
        return;   /* 80 labels + faces + 6 expressions cannot all be found at once */
    snprintf(tags[*n].name, sizeof tags[*n].name, "%s", name);
    tags[*n].score = score;
    tags[*n].kind = kind;
    (*n)++;
}

cs_status tagging_apply(const tagger_result *found, int width, int height,
                        caption_result *caption, cs_error *err)
{
    caption_object objects[TAGGER_MAX_OBJECTS];
    caption_face faces[TAGGER_MAX_FACES];
    caption_tag tags[CAPTION_MAX_FINDING_TAGS];
    int ntags = 0;
    int nnamed = 0;
    for (int i = 0; i < found->nobjects; i++) {
        const tagger_object *o = &found->objects[i];
        if (o->score >= SENTENCE_MIN_SCORE)
            objects[nnamed++] = (caption_object){o->label, o->score,
                                                 {o->box[0], o->box[1], o->box[2], o->box[3]}};
        add_finding(tags, &ntags, o->label, o->score, "object");
    }
    for (int i = 0; i < found->nfaces; i++) {
        const tagger_face *f = &found->faces[i];
        faces[i] = (caption_face){{f->box[0], f->box[1], f->box[2], f->box[3]}, f->expression,
                                  f->expression_score};
        add_finding(tags, &ntags, found->nfaces > 1 ? "faces" : "face", f->score, "face");
        const char *word = expression_word(f->expression);
        if (word && f->expression_score >= EXPRESSION_MIN_SCORE)
            add_finding(tags, &ntags, word, f->expression_score, "expression");
    }
    caption_scene scene = {width, height, objects, nnamed, faces, found->nfaces};
    char *sentence = NULL;
    cs_status rc = caption_from_scene(&scene, &sentence, err);
    if (rc == CS_OK)
        rc = caption_add_findings(caption, sentence, tags, ntags, err);
    free(sentence);
    return rc;
}

cs_status tagging_open(tagger **out, char **problem, bool *broken, cs_error *err)
{
    *out = NULL;
    *problem = NULL;
    *broken = false;
    char dir[4096];
    cs_error why;
    cs_status rc = tagger_default_dir(dir, sizeof dir, &why);
    if (rc == CS_OK)
        rc = tagger_open(dir, NULL, out, &why);
    if (rc == CS_ERR_NOMEM) {
        *err = why;
        return rc;
    }
    if (rc == CS_OK && !tagger_has(*out, TAGGER_OBJECTS)) {
        tagger_free(*out);
        *out = NULL;
        cs_error_set(&why, CS_ERR_NOT_FOUND,
                     "no object detector in %s: captions come from file names, dates and "
                     "colours only (tools/fetch-models.sh installs the tagger's models)", dir);
    } else if (rc != CS_OK) {
        *broken = true;
        cs_error_prefix(&why, "the tagger's models cannot be used (reinstall them with "
                              "tools/fetch-models.sh): ");
    }
    if (!*out && !(*problem = strdup(why.message)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    return CS_OK;
}
