/* What the tagger found, merged into the metadata caption (tagging.c,
 * caption_add_findings): which objects the sentence names, the tags and
 * their kinds and scores, faces and expressions, the order of tags. The
 * expected sentences are written from the rules, not taken from output. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "indexer/indexer_internal.h"

static const caption_tag *find_tag(const caption_result *r, const char *name, const char *kind)
{
    for (int i = 0; i < r->ntags; i++)
        if (strcmp(r->tags[i].name, name) == 0 && strcmp(r->tags[i].kind, kind) == 0)
            return &r->tags[i];
    return NULL;
}

static void metadata(caption_result *out)
{
    cs_color_share colors[1] = {{"blue", 0.9f, {0}}};
    caption_facts facts = {.width = 800, .height = 600, .format = CS_FORMAT_PNG,
                           .colors = colors, .ncolors = 1};
    cs_error err;
    CHECK_OK(caption_from_metadata(&facts, out, &err), &err);
}

static tagger_object object(const char *label, float score, float x1, float y1, float x2,
                            float y2)
{
    return (tagger_object){0, label, score, {x1, y1, x2, y2}};
}

static void test_weak_objects_are_tags_only(void)
{
    caption_result r;
    metadata(&r);
    tagger_result *found = calloc(1, sizeof *found);
    found->objects[0] = object("cat", 0.62f, 100, 100, 500, 500);
    found->objects[1] = object("kite", 0.35f, 10, 10, 40, 40);
    found->objects[2] = object("cat", 0.5f, 520, 100, 700, 400);
    found->nobjects = 3;
    cs_error err;
    CHECK_OK(tagging_apply(found, 800, 600, &r, &err), &err);
    /* two cats named; the 0.35 kite is below the sentence's 0.45 */
    CHECK_STR_EQ(r.caption, "Two cats. A landscape image, mostly blue.");
    const caption_tag *cat = find_tag(&r, "cat", "object");
    const caption_tag *kite = find_tag(&r, "kite", "object");
    CHECK(cat && fabsf(cat->score - 0.62f) < 1e-6f);   /* the best of the two */
    CHECK(kite && fabsf(kite->score - 0.35f) < 1e-6f);
    /* findings first, then the metadata tags, all in the index text */
    CHECK_STR_EQ(r.tags[0].name, "cat");
    CHECK(find_tag(&r, "blue", "color") && find_tag(&r, "png", "format"));
    CHECK(strstr(r.tags_text, "cat") && strstr(r.tags_text, "kite") &&
          strstr(r.tags_text, "blue"));
    caption_result_free(&r);
    free(found);
}

static void test_faces_and_expressions(void)
{
    caption_result r;
    metadata(&r);
    tagger_result *found = calloc(1, sizeof *found);
    found->objects[0] = object("person", 0.8f, 0, 0, 300, 600);
    found->objects[1] = object("person", 0.7f, 400, 0, 700, 600);
    found->nobjects = 2;
    found->faces[0] = (tagger_face){0.9f, {100, 50, 200, 150}, "happy", 0.9f};
    found->faces[1] = (tagger_face){0.8f, {500, 50, 600, 150}, "happy", 0.7f};
    found->faces[2] = (tagger_face){0.8f, {650, 50, 690, 90}, NULL, 0};
    found->nfaces = 3;
    cs_error err;
    CHECK_OK(tagging_apply(found, 800, 600, &r, &err), &err);
    /* three faces, two of them smiling: three people (a face counts as a
     * person the detector missed), most of them smiling */
    CHECK_STR_EQ(r.caption, "Three smiling people. A landscape image, mostly blue.");
    const caption_tag *faces = find_tag(&r, "faces", "face");
    const caption_tag *smiling = find_tag(&r, "smiling", "expression");
    CHECK(faces && fabsf(faces->score - 0.9f) < 1e-6f);
    CHECK(smiling && fabsf(smiling->score - 0.9f) < 1e-6f);
    CHECK(!find_tag(&r, "happy", "expression"));
    caption_result_free(&r);

    /* a neutral or unsure expression is no tag */
    metadata(&r);
    found->nfaces = 1;
    found->faces[0] = (tagger_face){0.9f, {100, 50, 200, 150}, "neutral", 0.95f};
    CHECK_OK(tagging_apply(found, 800, 600, &r, &err), &err);
    CHECK(find_tag(&r, "face", "face"));
    CHECK(!find_tag(&r, "neutral", "expression"));
    caption_result_free(&r);
    metadata(&r);
    found->faces[0] = (tagger_face){0.9f, {100, 50, 200, 150}, "sad", 0.4f};
    CHECK_OK(tagging_apply(found, 800, 600, &r, &err), &err);
    CHECK(!find_tag(&r, "sad", "expression"));
    caption_result_free(&r);
    free(found);
}

static void test_nothing_found_keeps_the_metadata_caption(void)
{
    caption_result r;
    metadata(&r);
    tagger_result *found = calloc(1, sizeof *found);
    cs_error err;
    CHECK_OK(tagging_apply(found, 800, 600, &r, &err), &err);
    CHECK_STR_EQ(r.caption, "A landscape image, mostly blue.");
    CHECK(!find_tag(&r, "face", "face"));
    caption_result_free(&r);
    free(found);
}

static void test_too_many_findings_refused(void)
{
    caption_result r;
    metadata(&r);
    caption_tag tags[CAPTION_MAX_FINDING_TAGS + 1] = {{"x", 0.5f, "object"}};
    char before[256];
    snprintf(before, sizeof before, "%s", r.caption);
    cs_error err;
    CHECK(caption_add_findings(&r, "A thing", tags, CAPTION_MAX_FINDING_TAGS + 1, &err) ==
          CS_ERR_INVALID);
    CHECK_STR_EQ(r.caption, before);   /* unchanged */
    caption_result_free(&r);
}

int main(void)
{
    test_weak_objects_are_tags_only();
    test_faces_and_expressions();
    test_nothing_found_keeps_the_metadata_caption();
    test_too_many_findings_refused();
    CHECK_DONE();
}
