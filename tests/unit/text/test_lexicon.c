/* The WordNet lexicon: the related words a picture's object words get at
 * index time (sense choice, the cut below very general words, labels), the
 * alternatives a searched word gets, odd input, and many threads at once.
 * Expected words are WordNet 3.0's, written here, not read back from the
 * code under test.
 *
 * usage: test_lexicon            (needs WordNet; exit 77 without it unless
 *                                 CAPSEARCH_REQUIRE_MODELS=1)
 *        test_lexicon --missing  (run with WNSEARCHDIR pointing nowhere:
 *                                 everything degrades to "no words") */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "caption/lexicon.h"
#include "check.h"

static char *related(const char *const *words, size_t n)
{
    strbuf sb;
    strbuf_init(&sb);
    cs_error err = {0};
    CHECK_OK(lexicon_related_words(words, n, &sb, &err), &err);
    char *text = strbuf_take(&sb);
    return text ? text : strdup("");
}

static char *related1(const char *word)
{
    return related(&word, 1);
}

/* Whole entries of the ", "-separated list (not substrings). */
static bool has_entry(const char *list, const char *entry)
{
    size_t n = strlen(entry);
    for (const char *p = list; (p = strstr(p, entry)); p += n) {
        bool starts = p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ');
        bool ends = p[n] == '\0' || p[n] == ',';
        if (starts && ends)
            return true;
    }
    return false;
}

static int count_entry(const char *list, const char *entry)
{
    int count = 0;
    size_t n = strlen(entry);
    for (const char *p = list; (p = strstr(p, entry)); p += n) {
        bool starts = p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ');
        bool ends = p[n] == '\0' || p[n] == ',';
        count += starts && ends;
    }
    return count;
}

#define EXPECT_HAS(list, entry)                                                        \
    do {                                                                               \
        if (!has_entry((list), (entry))) {                                             \
            fprintf(stderr, "%s:%d: [%s] lacks \"%s\"\n", __FILE__, __LINE__, (list),   \
                    (entry));                                                          \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

#define EXPECT_LACKS(list, entry)                                                      \
    do {                                                                               \
        if (has_entry((list), (entry))) {                                              \
            fprintf(stderr, "%s:%d: [%s] has \"%s\"\n", __FILE__, __LINE__, (list),     \
                    (entry));                                                          \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)

static void test_index_words(void)
{
    char *dog = related1("dog");
    /* the sense's synonyms, its hypernyms up to animal, both branches */
    const char *dog_words[] = {"dog", "domestic dog", "Canis familiaris", "canine", "carnivore",
                               "mammal", "animal", "domestic animal"};
    for (size_t i = 0; i < sizeof dog_words / sizeof *dog_words; i++)
        EXPECT_HAS(dog, dog_words[i]);
    /* cut below the very general, and no other sense (hot dog, cad) */
    const char *never[] = {"entity", "physical entity", "object", "whole", "organism",
                           "living thing", "frankfurter", "cad", "sausage"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        EXPECT_LACKS(dog, never[i]);
    free(dog);

    /* labels take the sense a photo shows */
    char *mouse = related1("mouse");
    EXPECT_HAS(mouse, "computer mouse");
    EXPECT_HAS(mouse, "electronic device");
    EXPECT_LACKS(mouse, "rodent");
    free(mouse);
    char *kite = related1("kite");
    EXPECT_HAS(kite, "toy");
    EXPECT_LACKS(kite, "hawk");
    EXPECT_LACKS(kite, "check");
    free(kite);
    char *phone = related1("cell phone");   /* COCO's name, WordNet's lemma differs */
    EXPECT_HAS(phone, "cellular telephone");
    EXPECT_HAS(phone, "telephone");
    free(phone);
    char *teddy = related1("Teddy Bear");   /* case does not matter */
    EXPECT_HAS(teddy, "toy");
    free(teddy);
    char *tv = related1("tv");
    EXPECT_HAS(tv, "television receiver");
    EXPECT_LACKS(tv, "broadcasting");
    free(tv);
    char *orange = related1("orange");
    EXPECT_HAS(orange, "citrus");
    EXPECT_LACKS(orange, "chromatic color");
    free(orange);

    /* inflections (WordNet's morphology), and a plain noun's first
     * physical sense */
    char *boats = related1("boats");
    EXPECT_HAS(boats, "boat");
    EXPECT_HAS(boats, "vessel");
    EXPECT_HAS(boats, "vehicle");
    free(boats);
    char *mice = related1("mice");
    EXPECT_HAS(mice, "mouse");
    free(mice);
    char *coffee = related1("coffee");
    EXPECT_HAS(coffee, "beverage");
    EXPECT_LACKS(coffee, "tree");
    free(coffee);

    /* nothing for times, names, numbers, non-words */
    const char *nothing[] = {"evening", "chelsea", "2019", "café", "", "a b c d e f g",
                             "xqzvw", "dog;drop table", "\x01\x02",
                             "supercalifragilisticexpialidocious-and-then-some-more-letters-still"};
    for (size_t i = 0; i < sizeof nothing / sizeof *nothing; i++) {
        char *r = related1(nothing[i]);
        if (r[0]) {
            fprintf(stderr, "%s:%d: related of [%s] should be empty, got [%s]\n", __FILE__,
                    __LINE__, nothing[i], r);
            check_failures++;
        }
        free(r);
    }

    /* several words: each synset once, NULL entries skipped */
    const char *pets[] = {"dog", NULL, "cat", "dog"};
    char *both = related(pets, 4);
    CHECK_INT_EQ(count_entry(both, "carnivore"), 1);
    CHECK_INT_EQ(count_entry(both, "animal"), 1);
    EXPECT_HAS(both, "feline");
    EXPECT_HAS(both, "canine");
    free(both);

    /* appends to what is there; errors on bad arguments */
    strbuf sb;
    strbuf_init(&sb);
    strbuf_append(&sb, "x");
    cs_error err = {0};
    const char *cup = "cup";
    CHECK_OK(lexicon_related_words(&cup, 1, &sb, &err), &err);
    CHECK(strncmp(strbuf_str(&sb), "x, cup", 6) == 0);
    strbuf_free(&sb);
    CHECK_INT_EQ(lexicon_related_words(NULL, 1, &sb, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(lexicon_related_words(&cup, 1, NULL, &err), CS_ERR_INVALID);
}

/* Every detector label has a sense, and the one a photo shows. */
static void test_labels(void)
{
    static const char *const coco[80] = {
        "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
        "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
        "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
        "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
        "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
        "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
        "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
        "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
        "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
        "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
        "toothbrush",
    };
    for (size_t i = 0; i < 80; i++) {
        char *r = related1(coco[i]);
        if (!r[0]) {
            fprintf(stderr, "%s:%d: the label [%s] has no related words\n", __FILE__, __LINE__,
                    coco[i]);
            check_failures++;
        }
        free(r);
    }
    /* senses a photo shows, where WordNet's first is another */
    static const char *const sense_checks[][3] = {
        /* label, must have, must not have */
        {"hot dog", "sandwich", "exhibitionist"}, {"banana", "edible fruit", "herb"},
        {"broccoli", "vegetable", "crucifer"}, {"carrot", "root vegetable", "plant organ"},
        {"cake", "baked goods", "block"}, {"toilet", "plumbing fixture", "room"},
        {"microwave", "kitchen appliance", "electromagnetic radiation"},
        {"toaster", "kitchen appliance", "supporter"}, {"book", "volume", "publication"},
        {"sports ball", "game equipment", "dance"}, {"tie", "necktie", "relationship"},
        {"skis", "ski", ""}, {"wine glass", "wineglass", ""}, {"potted plant", "pot plant", ""},
    };
    for (size_t i = 0; i < sizeof sense_checks / sizeof *sense_checks; i++) {
        char *r = related1(sense_checks[i][0]);
        EXPECT_HAS(r, sense_checks[i][1]);
        if (sense_checks[i][2][0])
            EXPECT_LACKS(r, sense_checks[i][2]);
        free(r);
    }
}

typedef struct alts {
    char text[8][128];
    bool same[8];
    int n;
} alts;

static void collect(const char *text, bool same_weight, void *user)
{
    alts *a = user;
    if (a->n < 8) {
        snprintf(a->text[a->n], sizeof a->text[0], "%s", text);
        a->same[a->n++] = same_weight;
    }
}

static alts expand(const char *word)
{
    alts a = {0};
    cs_error err = {0};
    CHECK_OK(lexicon_expand_word(word, strlen(word), collect, &a, &err), &err);
    return a;
}

/* "~dog" for the related column, "=boat" for same weight, joined by ' '. */
static void expect_alts(const char *word, const char *expected, int line)
{
    alts a = expand(word);
    char got[512] = "";
    for (int i = 0; i < a.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%c%s", i ? " " : "",
                 a.same[i] ? '=' : '~', a.text[i]);
    if (strcmp(got, expected) != 0) {
        fprintf(stderr, "%s:%d: expand [%s]\n  got      [%s]\n  expected [%s]\n", __FILE__, line,
                word, got, expected);
        check_failures++;
    }
}

#define EXPECT_ALTS(word, expected) expect_alts(word, expected, __LINE__)

static void test_query_words(void)
{
    EXPECT_ALTS("puppy", "~dog");
    EXPECT_ALTS("puppies", "=puppy ~dog");
    EXPECT_ALTS("hound", "~dog");            /* hound -> hunting dog -> dog */
    EXPECT_ALTS("kitty", "~cat");            /* its 4th sense: the stakes and kitten reach none */
    EXPECT_ALTS("tabby", "~cat");
    EXPECT_ALTS("motorbike", "~motorcycle");
    EXPECT_ALTS("sedan", "~car");
    EXPECT_ALTS("jet", "~airplane");
    EXPECT_ALTS("boats", "=boat");
    EXPECT_ALTS("mice", "=mouse");
    EXPECT_ALTS("Boats", "=boat");
    /* synonyms need nothing: the related column holds all of a sense's words */
    EXPECT_ALTS("automobile", "");
    EXPECT_ALTS("dog", "");
    EXPECT_ALTS("animal", "");
    /* a label means the label ("mouse" the device, not the timid person) */
    EXPECT_ALTS("mouse", "");
    /* the mostly-meant sense reaches nothing: no rare one ("coffee tree") */
    EXPECT_ALTS("coffee", "");
    /* slang person senses do not count (mug: "sucker"); people words do */
    EXPECT_ALTS("mug", "");
    EXPECT_ALTS("man", "~person");
    EXPECT_ALTS("astronaut", "~person");
    EXPECT_ALTS("evening", "");
    EXPECT_ALTS("", "");
    EXPECT_ALTS("café", "");
    EXPECT_ALTS("\"dog\" OR", "");

    /* len bytes only, no NUL needed */
    alts a = {0};
    cs_error err = {0};
    CHECK_OK(lexicon_expand_word("puppyXYZ", 5, collect, &a, &err), &err);
    CHECK_INT_EQ(a.n, 1);
    CHECK_INT_EQ(lexicon_expand_word(NULL, 3, collect, &a, &err), CS_ERR_INVALID);
    CHECK_INT_EQ(lexicon_expand_word("dog", 3, NULL, NULL, &err), CS_ERR_INVALID);
}

/* libWN is not thread-safe: the lexicon's lock must make it so. Every thread
 * asks about the same and different words and must get what one thread
 * gets. */
static const char *const thread_words[] = {
    "dog", "puppy", "cat", "kitty", "boats", "mice", "cell phone", "kite", "hound", "oak",
    "sedan", "tulip", "spaniel", "ferry", "goblet", "teacup", "rose", "canoe", "pony", "lamb",
};
#define NTHREAD_WORDS (sizeof thread_words / sizeof *thread_words)
static char *expected_related[NTHREAD_WORDS];

static void *hammer(void *arg)
{
    size_t offset = (size_t)(uintptr_t)arg;
    long *bad = calloc(1, sizeof *bad);
    for (int round = 0; round < 20 && bad; round++) {
        for (size_t k = 0; k < NTHREAD_WORDS; k++) {
            size_t i = (k + offset) % NTHREAD_WORDS;
            char *r = related1(thread_words[i]);
            if (strcmp(r, expected_related[i]) != 0)
                (*bad)++;
            free(r);
            alts a = expand(thread_words[i]);
            (void)a;
        }
    }
    return bad;
}

static void test_threads(void)
{
    for (size_t i = 0; i < NTHREAD_WORDS; i++)
        expected_related[i] = related1(thread_words[i]);
    pthread_t threads[8];
    for (size_t t = 0; t < 8; t++)
        CHECK(pthread_create(&threads[t], NULL, hammer, (void *)(uintptr_t)(t * 3)) == 0);
    for (size_t t = 0; t < 8; t++) {
        void *ret = NULL;
        pthread_join(threads[t], &ret);
        CHECK(ret && *(long *)ret == 0);
        free(ret);
    }
    for (size_t i = 0; i < NTHREAD_WORDS; i++)
        free(expected_related[i]);
}

static int test_missing(void)
{
    cs_error err = {0};
    CHECK(!lexicon_available());
    cs_status rc = lexicon_open(&err);
    CHECK(rc == CS_ERR_NOT_FOUND || rc == CS_ERR_UNSUPPORTED);
    CHECK(strstr(err.message, "wordnet") != NULL);   /* names the package */
    char *r = related1("dog");
    CHECK_STR_EQ(r, "");
    free(r);
    alts a = expand("puppy");
    CHECK_INT_EQ(a.n, 0);
    CHECK_DONE();
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--missing") == 0)
        return test_missing();
    cs_error err = {0};
    if (lexicon_open(&err) != CS_OK) {
        const char *require = getenv("CAPSEARCH_REQUIRE_MODELS");
        fprintf(stderr, "%s\n", err.message);
        return require && strcmp(require, "1") == 0 ? 1 : 77;
    }
    CHECK(lexicon_version() && strcmp(lexicon_version(), "3.0") == 0);
    CHECK(lexicon_revision() && strstr(lexicon_revision(), "3.0") != NULL);
    test_index_words();
    test_labels();
    test_query_words();
    test_threads();
    CHECK_DONE();
}
