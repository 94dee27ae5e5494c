/* A sentence about what is in a picture, from detected objects and faces:
 * counts ("three cups"), plurals ("two people"), a few relations the
 * geometry supports ("a person riding a motorcycle", "three cups on a
 * table") and expressions ("two smiling people"). No identities, no gender
 * or age guesses. */
#ifndef CS_CAPTION_SCENE_H
#define CS_CAPTION_SCENE_H

#include "common/error.h"

typedef struct caption_object {
    const char *label;        /* COCO name: "person", "cup", "dining table" */
    float score;
    float box[4];             /* x1, y1, x2, y2 in pixels */
} caption_object;

typedef struct caption_face {
    float box[4];
    const char *expression;   /* "happy", "neutral", ... or NULL */
    float expression_score;
} caption_face;

typedef struct caption_scene {
    int width, height;
    const caption_object *objects;
    int nobjects;
    const caption_face *faces;
    int nfaces;
} caption_scene;

/* The plural of a COCO label ("person" -> "people", "knife" -> "knives",
 * "bus" -> "buses", "skis" -> "skis"). Static storage or `out`. */
const char *caption_plural(const char *noun, char *out, size_t size);
/* "a"/"an" + noun, or a number word + plural ("two", ..., "ten", "many"). */
void caption_count_phrase(const char *noun, int count, char *out, size_t size);

/* The sentence without a final period, starting with a capital ("A person
 * riding a motorcycle and a dog"); "" when nothing was found. *out is
 * malloc'd. */
cs_status caption_from_scene(const caption_scene *scene, char **out, cs_error *err);

#endif
