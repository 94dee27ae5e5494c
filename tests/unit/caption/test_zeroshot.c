/* Zero-shot captions with fixed concept probabilities: which concepts the
 * rule keeps, the candidate sentences the composer makes of them (scene,
 * plural, article and picture-kind phrasing), CLIP's ranking of the
 * candidates, and the scoring math (GEMM logits, softmax). No WordNet and
 * no model: the vocabulary is made by hand from the real root table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "caption/zeroshot.h"
#include "check.h"

static concept_vocab vocab;

static void add(const char *word, const char *group)
{
    const concept_group *g = concept_group_find(group);
    CHECK(g != NULL);
    if (g)
        CHECK(concepts_add(&vocab, word, g));
}

static size_t index_of(const char *word)
{
    for (size_t i = 0; i < vocab.n; i++)
        if (strcmp(vocab.items[i].word, word) == 0)
            return i;
    fprintf(stderr, "no concept '%s' in the test vocabulary\n", word);
    abort();
}

static void build_vocab(void)
{
    add("dog", "animal");
    add("cat", "animal");
    add("owl", "animal");
    add("puppy", "animal");
    add("bus", "vehicle");
    add("umbrella", "implement");
    add("pasta", "dish");
    add("person", "person");
    add("beach", "geological_formation");
    add("mountain", "geological_formation");
    add("sea", "body_of_water");
    add("kitchen", "room");
    add("street", "street");
    add("indoors", "indoors");
    add("sunset", "sunset");
    add("rain", "precipitation");
    add("evening", "evening");
    add("tennis", "sport");
    add("skiing", "sport");
    add("wedding", "ceremony");
    add("photo", "photo");
    add("screenshot", "screenshot");
    add("drawing", "drawing");
    add("document", "document");
    add("map", "map");
    add("hound", "animal");
    add("retriever", "animal");
    /* Made-up synsets: a puppy and a hound are kinds of dog, the mountain
     * (for the test) a kind of beach; the cat and the rest stand apart. */
    CHECK(concepts_set_lineage(&vocab, index_of("dog"), 100, (const long[]){50, 10}, 2));
    CHECK(concepts_set_lineage(&vocab, index_of("puppy"), 200, (const long[]){10, 100, 50}, 3));
    CHECK(concepts_set_lineage(&vocab, index_of("hound"), 210, (const long[]){100, 10, 50}, 3));
    CHECK(concepts_set_lineage(&vocab, index_of("retriever"), 220, (const long[]){100}, 1));
    CHECK(concepts_set_lineage(&vocab, index_of("cat"), 300, (const long[]){60, 10}, 2));
    CHECK(concepts_set_lineage(&vocab, index_of("beach"), 400, (const long[]){40}, 1));
    CHECK(concepts_set_lineage(&vocab, index_of("mountain"), 410, (const long[]){400, 40}, 2));
}

/* Probabilities: the named concepts get theirs, the rest 1e-4 each, as in
 * a vocabulary of thousands (far below the threshold, and too far behind
 * to be an unsure setting). */
static void probs_of(float *p, const char *const *words, const float *values, size_t n)
{
    for (size_t i = 0; i < vocab.n; i++)
        p[i] = 1e-4f;
    for (size_t i = 0; i < n; i++)
        p[index_of(words[i])] = values[i];
}

static zs_caption compose(const char *const *words, const float *values, size_t n)
{
    float *p = malloc(vocab.n * sizeof *p);
    probs_of(p, words, values, n);
    zs_rule rule = {ZS_MIN_PROB, ZS_REL_TO_BEST};
    zs_caption z;
    zs_compose(&vocab, p, &rule, &z);
    free(p);
    return z;
}

static bool picked(const zs_caption *z, const char *word)
{
    for (int i = 0; i < z->npicks; i++)
        if (strcmp(vocab.items[z->picks[i].concept].word, word) == 0)
            return true;
    return false;
}

static bool has_sentence(const zs_caption *z, const char *sentence, const char *prompt)
{
    for (int i = 0; i < z->ncandidates; i++)
        if (strcmp(z->candidates[i].sentence, sentence) == 0 &&
            (!prompt || strcmp(z->candidates[i].prompt, prompt) == 0))
            return true;
    fprintf(stderr, "no candidate [%s] (prompt [%s]); there are:\n", sentence,
            prompt ? prompt : "*");
    for (int i = 0; i < z->ncandidates; i++)
        fprintf(stderr, "  [%s] [%s]\n", z->candidates[i].sentence, z->candidates[i].prompt);
    return false;
}

static bool any_mentions(const zs_caption *z, const char *word)
{
    for (int i = 0; i < z->ncandidates; i++)
        if (strstr(z->candidates[i].sentence, word) || strstr(z->candidates[i].prompt, word))
            return true;
    return false;
}

static void test_dog_on_beach(void)
{
    const char *w[] = {"dog", "beach", "sunset", "cat"};
    const float v[] = {0.5f, 0.2f, 0.1f, 0.03f};
    zs_caption z = compose(w, v, 4);
    CHECK(picked(&z, "dog") && picked(&z, "beach") && picked(&z, "sunset"));
    CHECK(!picked(&z, "cat"));   /* below the threshold */
    CHECK_INT_EQ(z.npicks, 3);
    CHECK(has_sentence(&z, "A dog on a beach at sunset.",
                       "a photo of a dog on a beach at sunset."));
    CHECK(has_sentence(&z, "Dogs on a beach at sunset.", NULL));
    CHECK(has_sentence(&z, "A beach at sunset.", NULL));
    CHECK(!any_mentions(&z, "cat"));
    CHECK(z.ncandidates <= ZS_MAX_CANDIDATES);
    for (int i = 0; i < z.npicks; i++)
        CHECK(z.picks[i].prob >= ZS_MIN_PROB);
    /* picks best first */
    for (int i = 1; i < z.npicks; i++)
        CHECK(z.picks[i - 1].prob >= z.picks[i].prob);
    /* top: the best ZS_TOP, kept or not, best first */
    CHECK_INT_EQ(z.ntop, ZS_TOP);
    CHECK_STR_EQ(vocab.items[z.top[0].concept].word, "dog");
    CHECK_STR_EQ(vocab.items[z.top[3].concept].word, "cat");
    CHECK_INT_EQ(z.best, -1);
    CHECK_STR_EQ(zs_sentence(&z), "");
}

static void test_relative_rule_and_limits(void)
{
    /* cat is above 0.05 but under a quarter of dog's */
    const char *w1[] = {"dog", "cat"};
    const float v1[] = {0.6f, 0.1f};
    zs_caption z = compose(w1, v1, 2);
    CHECK(picked(&z, "dog") && !picked(&z, "cat"));
    /* close: both, and a sentence with both */
    const float v2[] = {0.3f, 0.2f};
    z = compose(w1, v2, 2);
    CHECK(picked(&z, "dog") && picked(&z, "cat"));
    CHECK(has_sentence(&z, "A dog and a cat.", "a photo of a dog and a cat."));
    /* at most two objects */
    const char *w3[] = {"dog", "cat", "owl"};
    const float v3[] = {0.25f, 0.2f, 0.15f};
    z = compose(w3, v3, 3);
    CHECK_INT_EQ(z.npicks, 2);
    CHECK(!picked(&z, "owl"));
    /* nothing sure enough: no candidates, no sentence */
    z = compose(w1, (const float[]){0.04f, 0.03f}, 2);
    CHECK_INT_EQ(z.npicks, 0);
    CHECK_INT_EQ(z.ncandidates, 0);
}

static void test_one_scene(void)
{
    /* indoors beats the beach: one scene, and no weather indoors */
    const char *w[] = {"indoors", "beach", "rain", "dog"};
    const float v[] = {0.3f, 0.25f, 0.15f, 0.2f};
    zs_caption z = compose(w, v, 4);
    CHECK(picked(&z, "indoors") && !picked(&z, "beach") && !picked(&z, "rain"));
    CHECK(has_sentence(&z, "A dog indoors.", "a photo of a dog indoors."));
    for (int i = 0; i < z.ncandidates; i++)
        CHECK(!(strstr(z.candidates[i].sentence, "indoors") &&
                strstr(z.candidates[i].sentence, "beach")));
    CHECK(!any_mentions(&z, "rain"));
    /* the beach first: outdoors, the rain stays */
    const float v2[] = {0.2f, 0.3f, 0.15f, 0.2f};
    z = compose(w, v2, 4);
    CHECK(picked(&z, "beach") && !picked(&z, "indoors") && picked(&z, "rain"));
    CHECK(has_sentence(&z, "A dog on a beach in the rain.", NULL));
    CHECK(!any_mentions(&z, "indoors"));
    /* a kitchen is indoors too */
    const char *w3[] = {"kitchen", "sunset", "cat"};
    z = compose(w3, (const float[]){0.4f, 0.3f, 0.2f}, 3);
    CHECK(has_sentence(&z, "A cat in a kitchen.", NULL));
    CHECK(!picked(&z, "sunset"));
    /* the sea is "the sea" */
    const char *w4[] = {"sea", "evening"};
    z = compose(w4, (const float[]){0.5f, 0.3f}, 2);
    CHECK(has_sentence(&z, "The sea in the evening.", NULL));
}

static void test_related(void)
{
    size_t dog = index_of("dog"), puppy = index_of("puppy"), hound = index_of("hound"),
           cat = index_of("cat"), owl = index_of("owl");
    CHECK(concepts_related(&vocab, dog, puppy) && concepts_related(&vocab, puppy, dog));
    CHECK(!concepts_related(&vocab, puppy, hound));   /* two kinds of dog */
    CHECK(!concepts_related(&vocab, dog, cat));        /* a common hypernym only */
    CHECK(!concepts_related(&vocab, dog, owl));        /* owl has no lineage */
    CHECK(!concepts_related(&vocab, owl, index_of("bus")));
    CHECK(concepts_related(&vocab, dog, dog));
    CHECK(!concepts_related(&vocab, dog, vocab.n));     /* out of range */

    /* the puppy restates the dog: a tag, not a second thing; the cat is */
    const char *w[] = {"dog", "puppy", "cat"};
    zs_caption z = compose(w, (const float[]){0.4f, 0.3f, 0.2f}, 3);
    CHECK(picked(&z, "dog") && picked(&z, "puppy") && picked(&z, "cat"));
    CHECK(has_sentence(&z, "A dog and a cat.", "a photo of a dog and a cat."));
    CHECK(!any_mentions(&z, "pupp"));
    /* the puppy first: its sentences name it, never the dog too */
    z = compose(w, (const float[]){0.3f, 0.4f, 0.2f}, 3);
    CHECK(has_sentence(&z, "A puppy and a cat.", NULL));
    CHECK(has_sentence(&z, "Puppies.", NULL));
    for (int i = 0; i < z.ncandidates; i++)
        CHECK(!strstr(z.candidates[i].sentence, "dog"));
    /* a restated pick takes no place: the owl still counts as the second */
    const char *w2[] = {"dog", "puppy", "hound", "owl"};
    z = compose(w2, (const float[]){0.3f, 0.25f, 0.2f, 0.15f}, 4);
    CHECK(picked(&z, "puppy") && picked(&z, "hound") && picked(&z, "owl"));
    CHECK(has_sentence(&z, "A dog and an owl.", NULL));
    CHECK(!any_mentions(&z, "hound") && !any_mentions(&z, "pupp"));
    /* at most ZS_MAX_RESTATED of them */
    const char *w3[] = {"dog", "puppy", "hound", "retriever", "cat"};
    z = compose(w3, (const float[]){0.25f, 0.2f, 0.17f, 0.15f, 0.13f}, 5);
    CHECK(ZS_MAX_RESTATED == 2);
    CHECK_INT_EQ(z.npicks, 4);
    CHECK(!picked(&z, "retriever") && picked(&z, "cat"));
    /* a second scene of the same kind stays a tag: the sentence keeps the first */
    const char *w4[] = {"dog", "beach", "mountain"};
    z = compose(w4, (const float[]){0.4f, 0.3f, 0.25f}, 3);
    CHECK(picked(&z, "beach") && picked(&z, "mountain"));
    CHECK(has_sentence(&z, "A dog on a beach.", NULL));
    CHECK(!any_mentions(&z, "mountain"));
    /* without a lineage nothing is related: both dogs' words make a pair */
    concept_vocab plain = {0};
    CHECK(concepts_add(&plain, "dog", vocab.items[dog].group));
    CHECK(concepts_add(&plain, "puppy", vocab.items[puppy].group));
    CHECK(!concepts_related(&plain, 0, 1));
    CHECK(!concepts_set_lineage(&plain, 2, 1, NULL, 0));
    concepts_free(&plain);
}

static bool any_sentence_has(const zs_caption *z, const char *a, const char *b)
{
    for (int i = 0; i < z->ncandidates; i++)
        if (strstr(z->candidates[i].sentence, a) && (!b || strstr(z->candidates[i].sentence, b)))
            return true;
    return false;
}

static void test_unsure_settings(void)
{
    /* the beach and the sunset below the threshold, but close enough: a
     * candidate each with the subject; no tag; the kitchen too far behind */
    const char *w[] = {"dog", "beach", "sunset", "kitchen"};
    zs_caption z = compose(w, (const float[]){0.5f, 0.02f, 0.015f, 0.005f}, 4);
    CHECK_INT_EQ(z.npicks, 1);
    CHECK(picked(&z, "dog") && !picked(&z, "beach") && !picked(&z, "sunset"));
    CHECK(has_sentence(&z, "A dog.", "a photo of a dog."));
    CHECK(has_sentence(&z, "A dog on a beach.", "a photo of a dog on a beach."));
    CHECK(has_sentence(&z, "A dog at sunset.", NULL));
    CHECK(!any_mentions(&z, "kitchen"));
    CHECK(!any_sentence_has(&z, "beach", "sunset"));   /* one unsure setting at a time */
    CHECK(!any_sentence_has(&z, "Dogs", "beach"));     /* with the first subject only */
    /* the gap is to the best concept: e^-4 of 0.5 is 0.00916 */
    z = compose(w, (const float[]){0.5f, 0.0095f, 0.0088f, 0.001f}, 4);
    CHECK(any_sentence_has(&z, "beach", NULL) && !any_sentence_has(&z, "sunset", NULL));
    /* a kept scene: no unsure one, but the unsure time goes with it */
    z = compose(w, (const float[]){0.5f, 0.2f, 0.02f, 0.019f}, 4);
    CHECK(has_sentence(&z, "A dog on a beach at sunset.", NULL));
    CHECK(!any_mentions(&z, "kitchen"));
    /* an unsure indoor scene brings no weather, and none comes with it */
    z = compose(w, (const float[]){0.5f, 0.001f, 0.015f, 0.02f}, 4);
    CHECK(has_sentence(&z, "A dog in a kitchen.", NULL));
    CHECK(!any_sentence_has(&z, "sunset", NULL));
    /* a kept weather keeps an unsure indoor scene out */
    z = compose(w, (const float[]){0.5f, 0.001f, 0.2f, 0.02f}, 4);
    CHECK(has_sentence(&z, "A dog at sunset.", NULL));
    CHECK(!any_mentions(&z, "kitchen"));
    /* no subject: no unsure settings */
    const char *w2[] = {"screenshot", "beach"};
    z = compose(w2, (const float[]){0.6f, 0.02f}, 2);
    CHECK(!any_mentions(&z, "beach"));
    CHECK(z.ncandidates <= ZS_MAX_CANDIDATES);
}

static void test_plurals(void)
{
    const char *cases[][2] = {
        {"dog", "dogs"}, {"bus", "buses"}, {"puppy", "puppies"}, {"mouse", "mice"},
        {"knife", "knives"}, {"sheep", "sheep"}, {"hot dog", "hot dogs"},
        {"fireman", "firemen"}, {"person", "people"}, {"box", "boxes"}, {"glass", "glasses"},
        {"tomato", "tomatoes"}, {"day", "days"}, {"church", "churches"}, {"leaf", "leaves"},
        {"child", "children"}, {"wine glass", "wine glasses"}, {"fish", "fish"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR_EQ(concept_plural(cases[i][0], buf, sizeof buf), cases[i][1]);
    const char *w[] = {"bus", "street"};
    zs_caption z = compose(w, (const float[]){0.6f, 0.2f}, 2);
    CHECK(has_sentence(&z, "Buses on a street.", "a photo of buses on a street."));
    CHECK(has_sentence(&z, "A bus on a street.", NULL));
    const char *w2[] = {"person", "mountain"};
    z = compose(w2, (const float[]){0.6f, 0.2f}, 2);
    CHECK(has_sentence(&z, "People on a mountain.", NULL));
    /* food is not counted: no plural, no article */
    const char *w3[] = {"pasta"};
    z = compose(w3, (const float[]){0.6f}, 1);
    CHECK(has_sentence(&z, "Pasta.", "a photo of pasta."));
    CHECK_INT_EQ(z.ncandidates, 1);
}

static void test_articles_and_phrases(void)
{
    char buf[96];
    CHECK_STR_EQ(concept_with_article(&vocab.items[index_of("owl")], buf, sizeof buf), "an owl");
    CHECK_STR_EQ(concept_with_article(&vocab.items[index_of("umbrella")], buf, sizeof buf),
                 "an umbrella");
    CHECK_STR_EQ(concept_with_article(&vocab.items[index_of("indoors")], buf, sizeof buf),
                 "indoors");
    CHECK_STR_EQ(concept_place(&vocab.items[index_of("tennis")], buf, sizeof buf),
                 "playing tennis");
    CHECK_STR_EQ(concept_place(&vocab.items[index_of("skiing")], buf, sizeof buf), "skiing");
    CHECK_STR_EQ(concept_place(&vocab.items[index_of("wedding")], buf, sizeof buf),
                 "at a wedding");
    CHECK_STR_EQ(concept_place(&vocab.items[index_of("sunset")], buf, sizeof buf), "at sunset");
    CHECK_STR_EQ(concept_place(&vocab.items[index_of("rain")], buf, sizeof buf), "in the rain");
    const char *w[] = {"skiing", "mountain", "wedding"};
    zs_caption z = compose(w, (const float[]){0.4f, 0.3f, 0.2f}, 3);
    CHECK(has_sentence(&z, "A person skiing on a mountain at a wedding.", NULL));
    const char *w2[] = {"owl"};
    z = compose(w2, (const float[]){0.7f}, 1);
    CHECK(has_sentence(&z, "An owl.", "a photo of an owl."));
    CHECK(has_sentence(&z, "Owls.", NULL));
    /* prompts of the concepts themselves */
    char prompts[CONCEPT_MAX_TEMPLATES][CONCEPT_PROMPT_MAX];
    CHECK_INT_EQ(concept_prompts(&vocab.items[index_of("owl")], prompts, 2), 2);
    CHECK_STR_EQ(prompts[0], "a photo of an owl.");
    CHECK_INT_EQ(concept_prompts(&vocab.items[index_of("beach")], prompts, 2), 2);
    CHECK_STR_EQ(prompts[1], "a photo taken on a beach.");
    CHECK_INT_EQ(concept_prompts(&vocab.items[index_of("pasta")], prompts, 2), 2);
    CHECK_STR_EQ(prompts[1], "a photo of pasta, a type of food.");
    CHECK_INT_EQ(concept_prompts(&vocab.items[index_of("indoors")], prompts, 2), 1);
    CHECK_STR_EQ(prompts[0], "a photo taken indoors.");
    CHECK_INT_EQ(concept_prompts(&vocab.items[index_of("tennis")], prompts, 2), 2);
    CHECK_STR_EQ(prompts[0], "a photo of a person playing tennis.");
    char key[64];
    concept_key(&vocab.items[index_of("sunset")], key, sizeof key);
    CHECK_STR_EQ(key, "weather:sunset");
}

static void test_picture_kinds(void)
{
    /* a screenshot of a document */
    const char *w[] = {"screenshot", "document", "dog"};
    zs_caption z = compose(w, (const float[]){0.4f, 0.3f, 0.1f}, 3);
    CHECK(has_sentence(&z, "A screenshot of a document.", "a screenshot of a document."));
    CHECK(has_sentence(&z, "A screenshot of a dog.", "a screenshot of a dog."));
    /* a photo is not said */
    const char *w2[] = {"photo", "dog"};
    z = compose(w2, (const float[]){0.5f, 0.3f}, 2);
    CHECK(has_sentence(&z, "A dog.", "a photo of a dog."));
    CHECK(!any_mentions(&z, "photo of a photo"));
    for (int i = 0; i < z.ncandidates; i++)
        CHECK(!strstr(z.candidates[i].sentence, "photo"));
    /* a drawing of a cat; the medium alone when nothing else is sure */
    const char *w3[] = {"drawing", "cat"};
    z = compose(w3, (const float[]){0.4f, 0.3f}, 2);
    CHECK(has_sentence(&z, "A drawing of a cat.", "a drawing of a cat."));
    z = compose(w3, (const float[]){0.6f, 0.01f}, 2);
    CHECK(has_sentence(&z, "A drawing.", "a drawing."));
    CHECK_INT_EQ(z.ncandidates, 1);
    /* one medium and one content at most */
    const char *w4[] = {"screenshot", "drawing", "document", "map"};
    z = compose(w4, (const float[]){0.3f, 0.25f, 0.2f, 0.15f}, 4);
    CHECK(picked(&z, "screenshot") && !picked(&z, "drawing"));
    CHECK(picked(&z, "document") && !picked(&z, "map"));
}

static void test_rank(void)
{
    const char *w[] = {"dog", "beach"};
    zs_caption z = compose(w, (const float[]){0.5f, 0.3f}, 2);
    CHECK(z.ncandidates >= 3);
    int dim = 4;
    float image[4] = {0, 1, 0, 0};
    float prompts[ZS_MAX_CANDIDATES * 4] = {0};
    for (int i = 0; i < z.ncandidates; i++)
        prompts[i * dim] = 1;             /* orthogonal to the image ... */
    prompts[2 * dim] = 0.6f;              /* ... but the third: cosine 0.8 */
    prompts[2 * dim + 1] = 0.8f;
    zs_rank(&z, image, prompts, dim);
    CHECK_INT_EQ(z.best, 2);
    CHECK_NEAR(z.candidates[2].score, 0.8, 1e-6);
    CHECK_NEAR(z.candidates[0].score, 0.0, 1e-6);
    CHECK_STR_EQ(zs_sentence(&z), z.candidates[2].sentence);
}

static void test_math(void)
{
    /* two images, three concepts, dim 2 */
    const float images[] = {1, 0, 0.6f, 0.8f};
    const float concepts[] = {1, 0, 0, 1, 0.8f, 0.6f};
    float logits[6];
    zs_logits(images, 2, concepts, 3, 2, 100.0f, logits);
    const float want[] = {100, 0, 80, 60, 80, 96};
    for (int i = 0; i < 6; i++)
        CHECK_NEAR(logits[i], want[i], 1e-3);
    float row[3] = {60, 80, 96};
    zs_softmax(row, 3);
    double e0 = exp(60 - 96.0), e1 = exp(80 - 96.0), e2 = 1, sum = e0 + e1 + e2;
    CHECK_NEAR(row[0], e0 / sum, 1e-7);
    CHECK_NEAR(row[1], e1 / sum, 1e-7);
    CHECK_NEAR(row[2], e2 / sum, 1e-6);
    /* large logits do not overflow */
    float big[2] = {1000, 1000};
    zs_softmax(big, 2);
    CHECK_NEAR(big[0], 0.5, 1e-6);
}

static void test_rule_override(void)
{
    setenv("CAPSEARCH_ZEROSHOT_MIN_PROB", "0.01", 1);
    CHECK_NEAR(zs_rule_default().min_prob, 0.01, 1e-7);
    setenv("CAPSEARCH_ZEROSHOT_MIN_PROB", "2", 1);     /* out of range: ignored */
    CHECK_NEAR(zs_rule_default().min_prob, ZS_MIN_PROB, 1e-7);
    setenv("CAPSEARCH_ZEROSHOT_MIN_PROB", "x", 1);
    CHECK_NEAR(zs_rule_default().min_prob, ZS_MIN_PROB, 1e-7);
    unsetenv("CAPSEARCH_ZEROSHOT_MIN_PROB");
    CHECK_NEAR(zs_rule_default().rel_to_best, ZS_REL_TO_BEST, 1e-7);
}

int main(void)
{
    build_vocab();
    test_dog_on_beach();
    test_relative_rule_and_limits();
    test_one_scene();
    test_related();
    test_unsure_settings();
    test_plurals();
    test_articles_and_phrases();
    test_picture_kinds();
    test_rank();
    test_math();
    test_rule_override();
    concepts_free(&vocab);
    CHECK_DONE();
}
