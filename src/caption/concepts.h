/* The concept vocabulary of zero-shot captions: several thousand things a
 * picture may show, each with a kind, a display word and the prompts CLIP
 * embeds for it.
 *
 * It is made at run time from WordNet (libWN): the nouns under a short
 * table of roots in concepts.c (animals, flowers, food, vehicles,
 * structures, furniture, devices, clothing, places, sports, social events,
 * weather and times of day, kinds of pictures), keeping only senses seen in
 * WordNet's sense-tagged texts, so that rare and technical words ("aardwolf",
 * "zygodactyl") stay out. Each concept is named by the most frequent of its
 * synset's words; a word is listed once (the first root that reaches it
 * wins, scenes before objects). A few words WordNet lacks or files
 * elsewhere ("screenshot", "indoors") are rows of the table themselves. */
#ifndef CS_CAPTION_CONCEPTS_H
#define CS_CAPTION_CONCEPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef enum concept_kind {
    CONCEPT_OBJECT,
    CONCEPT_SCENE,
    CONCEPT_ACTIVITY,
    CONCEPT_EVENT,
    CONCEPT_WEATHER,     /* weather and the time of day */
    CONCEPT_PICTURE,     /* what kind of picture: photo, screenshot, document */
    CONCEPT_NKINDS
} concept_kind;

/* "object", "scene", "activity", "event", "weather", "picture". */
const char *concept_kind_name(concept_kind kind);

/* How a group's words enter sentences and prompts. */
typedef enum concept_style {
    STYLE_COUNT,         /* "a dog", plural "dogs" */
    STYLE_MASS,          /* food and drink: "pasta", no article, no plural */
    STYLE_PLACE,         /* a scene: `place` says how ("on a beach") */
    STYLE_SPORT,         /* "a person playing tennis", "a person skiing" */
    STYLE_EVENT,         /* "at a wedding" */
    STYLE_CONTEXT,       /* weather, time of day: `place` ("at sunset") */
    STYLE_MEDIUM,        /* photo, screenshot, drawing: "a drawing of ..." */
    STYLE_CONTENT,       /* document, diagram, map: "a screenshot of a map" */
} concept_style;

#define CONCEPT_MAX_TEMPLATES 2

/* One row of the root table. */
typedef struct concept_group {
    const char *name;        /* the root's WordNet lemma ("body_of_water"), or
                                for a literal row its word ("screenshot") */
    const char *kind_of;     /* the root's sense: the first sense that is a
                                kind of this word; NULL: the first sense */
    concept_kind kind;
    concept_style style;
    int depth;               /* hyponym levels followed (0: the root only) */
    bool literal;            /* the row's own word, WordNet not asked */
    bool indoor;             /* scenes: inside (rules out the weather) */
    const char *place;       /* STYLE_PLACE / STYLE_CONTEXT: "on a %s",
                                "in the %s", "at %s" */
    /* Prompts: "{}" is the word, "{a}" the word with its article ("a dog",
     * "an owl", "pasta"), "{place}" the place phrase ("on a beach"),
     * "{act}" the activity phrase ("playing tennis"). */
    const char *templates[CONCEPT_MAX_TEMPLATES];
    int budget;              /* at most this many words (0: all): those seen
                                in WordNet's tagged texts first, then the
                                shallower ones */
} concept_group;

/* The root table (for tests and documentation). */
const concept_group *concept_groups(size_t *n);
/* The group named `name` (first match), NULL when none. */
const concept_group *concept_group_find(const char *name);

#define CONCEPT_WORD_MAX 48

typedef struct concept {
    char word[CONCEPT_WORD_MAX];   /* display word: "dog", "hot dog" */
    const concept_group *group;
    long synset;                   /* WordNet noun synset, -1 when none */
    size_t lineage_at;             /* its hypernyms: vocab lineage[at, at + n) */
    size_t lineage_n;
} concept;

typedef struct concept_vocab {
    concept *items;
    size_t n, cap;
    long *lineage;                 /* every concept's hypernym synsets, ascending */
    size_t nlineage, caplineage;
} concept_vocab;

/* Builds the vocabulary from WordNet (lexicon_open must have succeeded:
 * CS_ERR_NOT_FOUND / CS_ERR_UNSUPPORTED otherwise, with how to get it).
 * Each concept also gets its synset's hypernyms (concepts_related). Takes
 * 0.7-0.9 s here, 0.1-0.2 s of it the hypernyms; thread-safe (holds libWN's
 * lock). */
cs_status concepts_build(concept_vocab *out, cs_error *err);
/* Appends one concept (tests build small vocabularies by hand). A word
 * already in the vocabulary is not added again. False on allocation
 * failure or a word that does not fit. */
bool concepts_add(concept_vocab *v, const char *word, const concept_group *group);
void concepts_free(concept_vocab *v);

/* Sets item i's synset and its hypernyms (any order; copied, sorted). False
 * on allocation failure. concepts_build fills these from WordNet. */
bool concepts_set_lineage(concept_vocab *v, size_t i, long synset, const long *hypernyms,
                          size_t n);
/* Whether one of two concepts is a kind of the other ("puppy" and "dog",
 * "woman" and "person"): the same thing named twice, not two things. */
bool concepts_related(const concept_vocab *v, size_t a, size_t b);

/* "kind:word", the concept's key in the catalog ("object:hot dog"). */
void concept_key(const concept *c, char *out, size_t size);

/* Phrases (into out[size], returned): */
/* the word with its article: "a dog", "an owl", "pasta", "indoors" */
const char *concept_with_article(const concept *c, char *out, size_t size);
/* the plural ("dogs", "buses", "knives", "mice", "hot dogs"); the word
 * itself for mass nouns and words that do not change ("sheep") */
const char *concept_plural(const char *word, char *out, size_t size);
/* a scene's or context's place phrase: "on a beach", "at sunset", "in the
 * rain", "indoors"; an event's: "at a wedding"; an activity's: "playing
 * tennis", "skiing" */
const char *concept_place(const concept *c, char *out, size_t size);

#define CONCEPT_PROMPT_MAX 160
/* The concept's prompts (its group's templates filled in); returns how
 * many (1..CONCEPT_MAX_TEMPLATES). */
size_t concept_prompts(const concept *c, char out[][CONCEPT_PROMPT_MAX], size_t max);

#endif
