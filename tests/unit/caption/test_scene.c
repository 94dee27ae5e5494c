/* Sentences from detected objects and faces. The expected sentences are
 * what a person would say about the boxes drawn here. */
#include <stdlib.h>

#include "caption/scene.h"
#include "check.h"

static void expect(const caption_object *objects, int n, const caption_face *faces, int nfaces,
                   const char *expected)
{
    caption_scene s = {1000, 800, objects, n, faces, nfaces};
    char *text = NULL;
    cs_error err;
    CHECK_OK(caption_from_scene(&s, &text, &err), &err);
    CHECK_STR_EQ(text, expected);
    free(text);
}

static void test_plurals(void)
{
    char buf[64];
    const char *cases[][2] = {{"person", "people"}, {"cup", "cups"}, {"bus", "buses"},
                              {"bench", "benches"}, {"knife", "knives"}, {"mouse", "mice"},
                              {"sheep", "sheep"}, {"toothbrush", "toothbrushes"},
                              {"teddy bear", "teddy bears"}, {"wine glass", "wine glasses"},
                              {"skis", "skis"}, {"box", "boxes"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR_EQ(caption_plural(cases[i][0], buf, sizeof buf), cases[i][1]);
    caption_count_phrase("apple", 1, buf, sizeof buf);
    CHECK_STR_EQ(buf, "an apple");
    caption_count_phrase("cup", 3, buf, sizeof buf);
    CHECK_STR_EQ(buf, "three cups");
    caption_count_phrase("person", 2, buf, sizeof buf);
    CHECK_STR_EQ(buf, "two people");
    caption_count_phrase("bird", 14, buf, sizeof buf);
    CHECK_STR_EQ(buf, "many birds");
    caption_count_phrase("dining table", 1, buf, sizeof buf);
    CHECK_STR_EQ(buf, "a table");
}

static void test_scenes(void)
{
    expect(NULL, 0, NULL, 0, "");
    caption_object cat[] = {{"cat", 0.6f, {100, 100, 600, 700}}};
    expect(cat, 1, NULL, 0, "A cat");

    /* a rider: the person sits over the motorcycle, feet inside its box */
    caption_object rider[] = {{"person", 0.9f, {400, 100, 600, 600}},
                              {"motorcycle", 0.8f, {300, 350, 750, 780}}};
    expect(rider, 2, NULL, 0, "A person riding a motorcycle");
    /* side by side: not riding */
    caption_object beside[] = {{"person", 0.9f, {50, 100, 250, 700}},
                               {"motorcycle", 0.8f, {400, 350, 900, 780}}};
    expect(beside, 2, NULL, 0, "A person and a motorcycle");

    /* three cups standing on a table */
    caption_object cups[] = {{"dining table", 0.7f, {0, 400, 1000, 800}},
                             {"cup", 0.8f, {100, 300, 200, 500}},
                             {"cup", 0.7f, {400, 320, 500, 520}},
                             {"cup", 0.6f, {700, 310, 800, 510}}};
    expect(cups, 4, NULL, 0, "Three cups on a table");
    /* a cup floating above the table (on a shelf): no "on a table" */
    caption_object shelf[] = {{"dining table", 0.7f, {0, 600, 1000, 800}},
                              {"cup", 0.8f, {100, 100, 200, 200}}};
    expect(shelf, 2, NULL, 0, "A cup and a table");

    /* faces: two smiling people */
    caption_object two[] = {{"person", 0.9f, {100, 100, 400, 800}},
                            {"person", 0.9f, {500, 100, 800, 800}}};
    caption_face smiling[] = {{{150, 120, 250, 240}, "happy", 0.9f},
                              {{550, 120, 650, 240}, "happy", 0.8f}};
    expect(two, 2, smiling, 2, "Two smiling people");
    caption_face mixed[] = {{{150, 120, 250, 240}, "neutral", 0.9f},
                            {{550, 120, 650, 240}, "sad", 0.8f}};
    expect(two, 2, mixed, 2, "Two people");
    /* a close-up face the detector did not call a person */
    caption_face one[] = {{{300, 200, 700, 700}, "happy", 0.95f}};
    expect(NULL, 0, one, 1, "A smiling person");

    /* a kite in the sky above a person */
    caption_object kite[] = {{"kite", 0.6f, {600, 50, 700, 150}},
                             {"person", 0.8f, {200, 400, 300, 790}}};
    expect(kite, 2, NULL, 0, "A person flying a kite");

    /* a dog on a couch, with a cup somewhere else */
    caption_object dog[] = {{"couch", 0.7f, {0, 300, 1000, 800}},
                            {"dog", 0.9f, {300, 200, 600, 700}},
                            {"cup", 0.5f, {900, 50, 950, 120}}};
    expect(dog, 3, NULL, 0, "A dog on a couch and a cup");

    /* many kinds: named by score, at most five */
    caption_object lots[] = {{"car", 0.9f, {0, 0, 10, 10}}, {"bus", 0.8f, {20, 0, 30, 10}},
                             {"truck", 0.7f, {40, 0, 50, 10}}, {"bicycle", 0.6f, {60, 0, 70, 10}},
                             {"bench", 0.5f, {80, 0, 90, 10}}, {"bird", 0.4f, {100, 0, 110, 10}},
                             {"car", 0.35f, {200, 0, 210, 10}}};
    expect(lots, 7, NULL, 0, "Two cars, a bus, a truck, a bicycle and a bench");
}

int main(void)
{
    test_plurals();
    test_scenes();
    CHECK_DONE();
}
