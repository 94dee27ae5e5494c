/* The zero-shot concept vocabulary (rules in concepts.h): the root table,
 * the walk down WordNet's hyponyms, and the phrasing of concepts. */
#include "caption/concepts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption/concept_lineage.h"
#include "caption/lexicon.h"
#include "common/array.h"
#include "common/strmap.h"

/* Prompt templates. CLIP's own zero-shot prompts ("a photo of a {}.", "a
 * photo of {}, a type of food.") with two per concept: averaging more costs
 * text-tower time for every concept and helps little. */
#define T_THING {"a photo of {a}.", "a photo of the {}."}
#define T_ANIMAL {"a photo of {a}.", "a photo of {a}, a type of animal."}
#define T_FLOWER {"a photo of {a}.", "a photo of {a}, a type of flower."}
#define T_FOOD {"a photo of {}.", "a photo of {}, a type of food."}
#define T_PLACE {"a photo of {a}.", "a photo taken {place}."}
#define T_AROUND {"a photo taken {place}."}
#define T_SPORT {"a photo of a person {act}.", "a photo of {}."}
#define T_EVENT {"a photo of {a}.", "a photo taken at {a}."}
#define T_CONTEXT {"a photo taken {place}.", "a photo of the {}."}
#define T_MEDIUM {"{a}.", "this is {a}."}
#define T_CONTENT {"{a}.", "a photo of {a}."}

/* Scenes, weather, events and kinds of pictures come first: a word that
 * two roots reach keeps the first ("room" words are also structures).
 * Columns: root (or literal word), its sense (a kind of), kind, style,
 * hyponym depth, literal, indoor, place phrase, templates, budget. */
static const concept_group groups[] = {
    /* kinds of pictures */
    {"photo", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"screenshot", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"drawing", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"painting", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"sketch", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"illustration", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"cartoon", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"3d rendering", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"scan", NULL, CONCEPT_PICTURE, STYLE_MEDIUM, 0, true, false, NULL, T_MEDIUM, 0},
    {"document", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"diagram", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"chart", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"map", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"receipt", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"poster", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"logo", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    {"page of text", NULL, CONCEPT_PICTURE, STYLE_CONTENT, 0, true, false, NULL, T_CONTENT, 0},
    /* places and scenes */
    {"indoors", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, true, true, "%s", T_AROUND, 0},
    {"outdoors", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, true, false, "%s", T_AROUND, 0},
    {"room", NULL, CONCEPT_SCENE, STYLE_PLACE, 2, false, true, "in a %s", T_PLACE, 100},
    {"geological_formation", NULL, CONCEPT_SCENE, STYLE_PLACE, 3, false, false, "on a %s",
     T_PLACE, 100},
    {"body_of_water", NULL, CONCEPT_SCENE, STYLE_PLACE, 3, false, false, "by a %s", T_PLACE, 0},
    {"forest", NULL, CONCEPT_SCENE, STYLE_PLACE, 1, false, false, "in a %s", T_PLACE, 0},
    {"tract", "geographical_area", CONCEPT_SCENE, STYLE_PLACE, 2, false, false, "in a %s",
     T_PLACE, 0},
    {"city", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "in a %s", T_PLACE, 0},
    {"town", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "in a %s", T_PLACE, 0},
    {"village", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "in a %s", T_PLACE, 0},
    {"street", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "on a %s", T_PLACE, 0},
    {"road", NULL, CONCEPT_SCENE, STYLE_PLACE, 1, false, false, "on a %s", T_PLACE, 0},
    {"landscape", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "in a %s", T_PLACE, 0},
    {"skyline", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, false, false, "by a %s", T_PLACE, 0},
    {"underwater", NULL, CONCEPT_SCENE, STYLE_PLACE, 0, true, false, "%s", T_AROUND, 0},
    /* weather and time of day */
    {"sunset", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "at %s", T_CONTEXT, 0},
    {"sunrise", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "at %s", T_CONTEXT, 0},
    {"time_of_day", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 1, false, false, "at %s", T_CONTEXT, 0},
    {"morning", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in the %s", T_CONTEXT, 0},
    {"afternoon", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in the %s",
     T_CONTEXT, 0},
    {"evening", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in the %s", T_CONTEXT, 0},
    {"night", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "at %s", T_CONTEXT, 0},
    {"precipitation", "weather", CONCEPT_WEATHER, STYLE_CONTEXT, 2, false, false, "in the %s",
     T_CONTEXT, 0},
    {"fog", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in the %s", T_CONTEXT, 0},
    {"storm", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in a %s", T_CONTEXT, 0},
    {"rainbow", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "under a %s",
     T_CONTEXT, 0},
    {"sunshine", NULL, CONCEPT_WEATHER, STYLE_CONTEXT, 0, false, false, "in the %s",
     T_CONTEXT, 0},
    /* social events and activities */
    {"ceremony", NULL, CONCEPT_EVENT, STYLE_EVENT, 2, false, false, NULL, T_EVENT, 30},
    {"party", "social_gathering", CONCEPT_EVENT, STYLE_EVENT, 2, false, false, NULL, T_EVENT, 20},
    {"meeting", "social_gathering", CONCEPT_EVENT, STYLE_EVENT, 1, false, false, NULL, T_EVENT,
     10},
    {"concert", NULL, CONCEPT_EVENT, STYLE_EVENT, 1, false, false, NULL, T_EVENT, 0},
    {"festival", NULL, CONCEPT_EVENT, STYLE_EVENT, 1, false, false, NULL, T_EVENT, 0},
    {"parade", NULL, CONCEPT_EVENT, STYLE_EVENT, 0, false, false, NULL, T_EVENT, 0},
    {"contest", NULL, CONCEPT_EVENT, STYLE_EVENT, 2, false, false, NULL, T_EVENT, 30},
    {"sport", "athletics", CONCEPT_ACTIVITY, STYLE_SPORT, 3, false, false, NULL, T_SPORT, 80},
    {"dancing", NULL, CONCEPT_ACTIVITY, STYLE_SPORT, 0, true, false, NULL, T_SPORT, 0},
    {"cooking", NULL, CONCEPT_ACTIVITY, STYLE_SPORT, 0, true, false, NULL, T_SPORT, 0},
    {"reading", NULL, CONCEPT_ACTIVITY, STYLE_SPORT, 0, true, false, NULL, T_SPORT, 0},
    {"hiking", NULL, CONCEPT_ACTIVITY, STYLE_SPORT, 0, true, false, NULL, T_SPORT, 0},
    {"camping", NULL, CONCEPT_ACTIVITY, STYLE_SPORT, 0, true, false, NULL, T_SPORT, 0},
    /* things */
    {"person", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, false, false, NULL, T_THING, 0},
    /* who is in a photo, by the words people search with; WordNet's
     * hyponyms of "person" are mostly occupations and roles */
    {"man", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"woman", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"child", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"boy", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"girl", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"baby", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"teenager", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"bride", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"family", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"couple", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"crowd", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, true, false, NULL, T_THING, 0},
    {"animal", NULL, CONCEPT_OBJECT, STYLE_COUNT, 12, false, false, NULL, T_ANIMAL, 1200},
    {"flower", "angiosperm", CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_FLOWER, 150},
    {"tree", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 150},
    {"shrub", NULL, CONCEPT_OBJECT, STYLE_COUNT, 2, false, false, NULL, T_FLOWER, 80},
    {"houseplant", NULL, CONCEPT_OBJECT, STYLE_COUNT, 0, false, false, NULL, T_THING, 0},
    {"dish", "nutriment", CONCEPT_OBJECT, STYLE_MASS, 3, false, false, NULL, T_FOOD, 150},
    {"edible_fruit", NULL, CONCEPT_OBJECT, STYLE_MASS, 2, false, false, NULL, T_FOOD, 0},
    {"vegetable", "produce", CONCEPT_OBJECT, STYLE_MASS, 2, false, false, NULL, T_FOOD, 0},
    {"baked_goods", NULL, CONCEPT_OBJECT, STYLE_MASS, 3, false, false, NULL, T_FOOD, 100},
    {"dessert", NULL, CONCEPT_OBJECT, STYLE_MASS, 2, false, false, NULL, T_FOOD, 0},
    {"beverage", NULL, CONCEPT_OBJECT, STYLE_MASS, 3, false, false, NULL, T_FOOD, 100},
    {"vehicle", NULL, CONCEPT_OBJECT, STYLE_COUNT, 6, false, false, NULL, T_THING, 250},
    {"structure", "artifact", CONCEPT_OBJECT, STYLE_COUNT, 4, false, false, NULL, T_THING, 500},
    {"furniture", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 0},
    {"computer", NULL, CONCEPT_OBJECT, STYLE_COUNT, 4, false, false, NULL, T_THING, 40},
    {"device", NULL, CONCEPT_OBJECT, STYLE_COUNT, 6, false, false, NULL, T_THING, 600},
    {"implement", NULL, CONCEPT_OBJECT, STYLE_COUNT, 4, false, false, NULL, T_THING, 250},
    {"container", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 200},
    {"clothing", NULL, CONCEPT_OBJECT, STYLE_COUNT, 4, false, false, NULL, T_THING, 250},
    {"sports_equipment", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 0},
    {"plaything", NULL, CONCEPT_OBJECT, STYLE_COUNT, 2, false, false, NULL, T_THING, 0},
    {"electronic_equipment", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 0},
    {"home_appliance", NULL, CONCEPT_OBJECT, STYLE_COUNT, 2, false, false, NULL, T_THING, 0},
    {"musical_instrument", NULL, CONCEPT_OBJECT, STYLE_COUNT, 3, false, false, NULL, T_THING, 0},
};
#define NGROUPS (sizeof groups / sizeof groups[0])

const concept_group *concept_groups(size_t *n)
{
    *n = NGROUPS;
    return groups;
}

const concept_group *concept_group_find(const char *name)
{
    for (size_t i = 0; i < NGROUPS; i++)
        if (strcmp(groups[i].name, name) == 0)
            return &groups[i];
    return NULL;
}

const char *concept_kind_name(concept_kind kind)
{
    static const char *const names[CONCEPT_NKINDS] = {"object", "scene", "activity",
                                                      "event", "weather", "picture"};
    return (unsigned)kind < CONCEPT_NKINDS ? names[kind] : "?";
}

/* ---------- the vocabulary ---------- */

bool concepts_add(concept_vocab *v, const char *word, const concept_group *group)
{
    size_t len = strlen(word);
    if (len == 0 || len >= CONCEPT_WORD_MAX)
        return false;
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i].word, word) == 0)
            return true;
    if (!ARRAY_RESERVE(v->items, v->cap, v->n))
        return false;
    concept *c = &v->items[v->n++];
    memcpy(c->word, word, len + 1);
    c->group = group;
    c->synset = -1;
    c->lineage_at = 0;
    c->lineage_n = 0;
    return true;
}

void concepts_free(concept_vocab *v)
{
    free(v->items);
    free(v->lineage);
    *v = (concept_vocab){0};
}

void concept_key(const concept *c, char *out, size_t size)
{
    snprintf(out, size, "%s:%s", concept_kind_name(c->group->kind), c->word);
}

#if CAPSEARCH_HAVE_WORDNET

#include <wn.h>

/* Words of at most this many parts ("ice cream", "fire truck"); longer
 * names are almost always technical. */
#define MAX_PARTS 2
/* Synsets looked at per root, a guard against a root whose subtree is far
 * larger than meant. */
#define MAX_VISITS 20000

/* A display word: lower-case letters, at most MAX_PARTS parts joined by
 * '_' or '-'. Capitals mark names and genera ("Canis", "Paris"); digits
 * and other punctuation mark technical terms. */
static bool plain_word(const char *w)
{
    size_t n = strlen(w);
    if (n < 2 || n >= CONCEPT_WORD_MAX)
        return false;
    int parts = 1;
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (c == '_' || c == '-') {
            if (i == 0 || i + 1 == n || w[i - 1] == '_' || w[i - 1] == '-')
                return false;
            parts++;
        } else if (c < 'a' || c > 'z') {
            return false;
        }
    }
    return parts <= MAX_PARTS;
}

/* How well known word w is in its sense `sense` (1-based): 0 when the
 * word mostly means something else (CLIP would read "box" as the
 * container, not the theatre box; "head" as the body part, not a head of
 * cattle): a second sense counts only when WordNet's tagged texts saw it
 * at least SECOND_SENSE_SHARE as often as the first ("party" the
 * gathering, 14 against 29 for the political party). Otherwise 2 + the
 * number of tagged senses after it, or 1 for an untagged first sense (an
 * unambiguous word too rare for the tagged texts: "giraffe", "laptop"). */
#define SECOND_SENSE_SHARE 0.4
static int familiarity(const char *w, int sense)
{
    char buf[CONCEPT_WORD_MAX];
    snprintf(buf, sizeof buf, "%s", w);
    IndexPtr ix = index_lookup(buf, NOUN);
    if (!ix)
        return 0;
    int score = 0;
    if (sense == 1)
        score = ix->tagged_cnt >= 1 ? 2 + ix->tagged_cnt - 1 : 1;
    else if (sense == 2 && ix->tagged_cnt >= 2 &&
             GetTagcnt(ix, 2) >= SECOND_SENSE_SHARE * GetTagcnt(ix, 1))
        score = 2 + ix->tagged_cnt - 2;
    free_index(ix);
    return score;
}

/* The synset's display word ("" when none is plain and familiar) and how
 * familiar it is: the first familiar word in WordNet's order, which puts a
 * synset's usual name first ("sunset, sundown"); `root` rows keep their
 * first plain word regardless. */
static int display_word(SynsetPtr ss, bool root, char out[CONCEPT_WORD_MAX])
{
    out[0] = '\0';
    int best = 0;
    for (int i = 0; i < ss->wcount && !out[0]; i++) {
        if (!plain_word(ss->words[i]))
            continue;
        int f = familiarity(ss->words[i], ss->wnsns ? ss->wnsns[i] : 0);
        if (f > 0 || root) {
            best = f;
            snprintf(out, CONCEPT_WORD_MAX, "%s", ss->words[i]);
        }
    }
    for (char *c = out; *c; c++)
        if (*c == '_')
            *c = ' ';
    return best;
}

/* Is the synset at `offset` (transitively, at most 16 levels up) a kind of
 * `word`? */
static bool kind_of(long offset, const char *word, int depth)
{
    if (depth > 16)
        return false;
    SynsetPtr ss = read_synset(NOUN, offset, "");
    if (!ss)
        return false;
    bool yes = false;
    for (int i = 0; i < ss->wcount && !yes; i++)
        yes = strcmp(ss->words[i], word) == 0;
    for (int i = 0; i < ss->ptrcount && !yes; i++)
        if (ss->ptrtyp[i] == HYPERPTR && ss->ppos[i] == NOUN)
            yes = kind_of(ss->ptroff[i], word, depth + 1);
    free_synset(ss);
    return yes;
}

/* The root synset of a group, -1 when WordNet lacks it. */
static long root_offset(const concept_group *g)
{
    char buf[CONCEPT_WORD_MAX];
    snprintf(buf, sizeof buf, "%s", g->name);
    IndexPtr ix = index_lookup(buf, NOUN);
    if (!ix)
        return -1;
    long chosen = -1;
    for (int i = 0; i < ix->off_cnt && chosen < 0; i++)
        if (!g->kind_of || kind_of((long)ix->offset[i], g->kind_of, 0))
            chosen = (long)ix->offset[i];
    free_index(ix);
    return chosen;
}

typedef struct walk_item {
    long offset;
    int depth;
} walk_item;

typedef struct found {
    char word[CONCEPT_WORD_MAX];
    long offset;             /* its synset */
    bool tagged;
    bool single;             /* one word: "giraffe", not "sheep frog" */
    int depth;
    size_t order;
} found;

/* Tagged senses first, then single words, then the shallower (more
 * general) ones: what a group's budget keeps. */
static int compare_found(const void *pa, const void *pb)
{
    const found *a = pa, *b = pb;
    if (a->tagged != b->tagged)
        return a->tagged ? -1 : 1;
    if (a->single != b->single)
        return a->single ? -1 : 1;
    if (a->depth != b->depth)
        return a->depth < b->depth ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* Breadth first down the hyponyms of the group's root, then the group's
 * best `budget` words into the vocabulary. */
static cs_status walk_group(const concept_group *g, concept_vocab *v, strmap *seen)
{
    long root = root_offset(g);
    if (root < 0)
        return CS_OK;   /* a WordNet without the root: the group is empty */
    walk_item *queue = malloc(MAX_VISITS * sizeof *queue);
    found *words = NULL;
    size_t nwords = 0, capwords = 0;
    if (!queue)
        return CS_ERR_NOMEM;
    size_t head = 0, tail = 0;
    queue[tail++] = (walk_item){root, 0};
    cs_status rc = CS_OK;
    while (rc == CS_OK && head < tail) {
        walk_item it = queue[head++];
        SynsetPtr ss = read_synset(NOUN, it.offset, "");
        if (!ss)
            continue;
        char word[CONCEPT_WORD_MAX];
        int fam = display_word(ss, it.depth == 0, word);
        if (word[0]) {
            if (!ARRAY_RESERVE(words, capwords, nwords)) {
                rc = CS_ERR_NOMEM;
            } else {
                found *f = &words[nwords];
                memcpy(f->word, word, sizeof word);
                f->offset = it.offset;
                /* the root itself always makes it */
                f->tagged = fam >= 2 || it.depth == 0;
                f->single = !strchr(word, ' ') && !strchr(word, '-');
                f->depth = it.depth;
                f->order = nwords++;
            }
        }
        for (int i = 0; rc == CS_OK && i < ss->ptrcount && it.depth < g->depth; i++) {
            if (ss->ptrtyp[i] != HYPOPTR || ss->ppos[i] != NOUN || tail >= MAX_VISITS)
                continue;
            char key[24];
            snprintf(key, sizeof key, "%ld", ss->ptroff[i]);
            int64_t *seen_value = NULL;
            if (strmap_get(seen, key, &seen_value))
                continue;
            if (!strmap_put(seen, key, 1))
                rc = CS_ERR_NOMEM;
            else
                queue[tail++] = (walk_item){ss->ptroff[i], it.depth + 1};
        }
        free_synset(ss);
    }
    if (nwords)
        qsort(words, nwords, sizeof *words, compare_found);
    size_t budget = g->budget > 0 ? (size_t)g->budget : nwords, taken = 0;
    for (size_t i = 0; rc == CS_OK && i < nwords && taken < budget; i++) {
        size_t before = v->n;
        if (!concepts_add(v, words[i].word, g))
            rc = CS_ERR_NOMEM;
        else if (v->n > before)
            v->items[v->n - 1].synset = words[i].offset;
        taken += v->n > before;
    }
    free(words);
    free(queue);
    return rc;
}

cs_status concepts_build(concept_vocab *out, cs_error *err)
{
    *out = (concept_vocab){0};
    cs_status rc = lexicon_open(err);
    if (rc != CS_OK)
        return rc;
    strmap seen;
    strmap_init(&seen);
    lexicon_lock();
    for (size_t i = 0; rc == CS_OK && i < NGROUPS; i++) {
        if (groups[i].literal)
            rc = concepts_add(out, groups[i].name, &groups[i]) ? CS_OK : CS_ERR_NOMEM;
        else
            rc = walk_group(&groups[i], out, &seen);
    }
    if (rc == CS_OK)
        rc = concepts_fill_lineage(out);
    lexicon_unlock();
    strmap_free(&seen);
    if (rc != CS_OK) {
        concepts_free(out);
        return cs_error_set(err, rc, "out of memory building the concept vocabulary");
    }
    return CS_OK;
}

#else

cs_status concepts_build(concept_vocab *out, cs_error *err)
{
    *out = (concept_vocab){0};
    return lexicon_open(err);   /* says how to get WordNet */
}

#endif

/* ---------- phrasing ---------- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* "an" before a vowel sound, by spelling with the usual exceptions. */
static const char *article(const char *word)
{
    static const char *const a_before[] = {"uni", "use", "usu", "uten", "eu", "one", "once",
                                           "ewe", "uk"};
    static const char *const an_before[] = {"hour", "honest", "honor", "honour", "heir"};
    for (size_t i = 0; i < sizeof an_before / sizeof *an_before; i++)
        if (starts_with(word, an_before[i]))
            return "an";
    for (size_t i = 0; i < sizeof a_before / sizeof *a_before; i++)
        if (starts_with(word, a_before[i]))
            return "a";
    if (word[0] >= '0' && word[0] <= '9')
        return word[0] == '8' ? "an" : "a";
    return strchr("aeiou", word[0]) ? "an" : "a";
}

/* Said with "the": there is one ("the sea", "the sky"). */
static bool unique_thing(const char *word)
{
    static const char *const words[] = {"sea", "ocean", "sky", "sun", "moon", "horizon"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(word, words[i]) == 0)
            return true;
    return false;
}

const char *concept_with_article(const concept *c, char *out, size_t size)
{
    const concept_group *g = c->group;
    bool bare = g->style == STYLE_MASS || g->style == STYLE_SPORT ||
                (g->literal && g->place && strcmp(g->place, "%s") == 0);
    if (bare)
        snprintf(out, size, "%s", c->word);
    else
        snprintf(out, size, "%s %s", unique_thing(c->word) ? "the" : article(c->word), c->word);
    return out;
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

const char *concept_plural(const char *word, char *out, size_t size)
{
    /* The last part changes: "hot dog" -> "hot dogs". */
    const char *last = strrchr(word, ' ');
    last = last ? last + 1 : word;
    size_t stem = (size_t)(last - word);
    static const char *const same[] = {"sheep", "deer", "fish", "moose", "bison", "salmon",
                                       "trout", "aircraft", "series", "species", "swine",
                                       "shrimp", "scissors", "glasses", "trousers", "jeans",
                                       "pants", "shorts", "skis", "people", "cattle"};
    static const char *const irregular[][2] = {
        {"person", "people"}, {"man", "men"}, {"woman", "women"}, {"child", "children"},
        {"mouse", "mice"}, {"goose", "geese"}, {"foot", "feet"}, {"tooth", "teeth"},
        {"ox", "oxen"}, {"louse", "lice"}, {"cactus", "cacti"}, {"fungus", "fungi"},
        {"knife", "knives"}, {"wife", "wives"}, {"life", "lives"}, {"leaf", "leaves"},
        {"loaf", "loaves"}, {"wolf", "wolves"}, {"calf", "calves"}, {"half", "halves"},
        {"shelf", "shelves"}, {"thief", "thieves"}, {"scarf", "scarves"}, {"elf", "elves"},
        {"potato", "potatoes"}, {"tomato", "tomatoes"}, {"hero", "heroes"},
        {"volcano", "volcanoes"}, {"mosquito", "mosquitoes"}, {"torpedo", "torpedoes"},
        {"echo", "echoes"}, {"domino", "dominoes"}, {"tornado", "tornadoes"},
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (strcmp(last, same[i]) == 0) {
            snprintf(out, size, "%s", word);
            return out;
        }
    for (size_t i = 0; i < sizeof irregular / sizeof *irregular; i++) {
        const char *sing = irregular[i][0];
        size_t ln = strlen(last), sn = strlen(sing);
        /* also as the end of a compound: "fireman" -> "firemen" */
        bool compound = ln > sn && strcmp(last + ln - sn, sing) == 0 &&
                        (strcmp(sing, "man") == 0 || strcmp(sing, "woman") == 0);
        if (strcmp(last, sing) == 0 || compound) {
            snprintf(out, size, "%.*s%s", (int)(stem + ln - sn), word, irregular[i][1]);
            return out;
        }
    }
    size_t n = strlen(word);
    if (ends_with(word, n, "s") || ends_with(word, n, "x") || ends_with(word, n, "z") ||
        ends_with(word, n, "ch") || ends_with(word, n, "sh"))
        snprintf(out, size, "%ses", word);   /* bus, box, bench, brush */
    else if (n >= 2 && word[n - 1] == 'y' && !strchr("aeiou", word[n - 2]))
        snprintf(out, size, "%.*sies", (int)(n - 1), word);   /* puppy -> puppies */
    else
        snprintf(out, size, "%ss", word);
    return out;
}

const char *concept_place(const concept *c, char *out, size_t size)
{
    const concept_group *g = c->group;
    char with[CONCEPT_WORD_MAX + 8];
    switch (g->style) {
    case STYLE_PLACE:
    case STYLE_CONTEXT: {
        /* "on a %s" / "in the %s" / "at %s" / "%s"; "by the sea", not "a sea" */
        const char *fmt = g->place ? g->place : "in a %s";
        size_t fn = strlen(fmt);
        if (ends_with(fmt, fn, " a %s") || strcmp(fmt, "a %s") == 0) {
            snprintf(out, size, "%.*s%s %s", (int)(fn - 4), fmt,
                     unique_thing(c->word) ? "the" : article(c->word), c->word);
        } else {
            snprintf(out, size, fmt, c->word);
        }
        return out;
    }
    case STYLE_EVENT:
        snprintf(out, size, "at %s", concept_with_article(c, with, sizeof with));
        return out;
    case STYLE_SPORT: {
        size_t n = strlen(c->word);
        /* "skiing", "dancing": a verb already; games are played */
        snprintf(out, size, ends_with(c->word, n, "ing") ? "%s" : "playing %s", c->word);
        return out;
    }
    default:
        return concept_with_article(c, out, size);
    }
}

/* Appends `s` to out[*len] within size. */
static void put(char *out, size_t size, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= size)
        n = size - 1 - *len;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
}

size_t concept_prompts(const concept *c, char out[][CONCEPT_PROMPT_MAX], size_t max)
{
    size_t count = 0;
    for (size_t t = 0; t < CONCEPT_MAX_TEMPLATES && count < max; t++) {
        const char *tpl = c->group->templates[t];
        if (!tpl)
            break;
        char *dest = out[count++];
        size_t len = 0;
        dest[0] = '\0';
        char phrase[CONCEPT_PROMPT_MAX];
        for (const char *p = tpl; *p;) {
            if (starts_with(p, "{}")) {
                put(dest, CONCEPT_PROMPT_MAX, &len, c->word);
                p += 2;
            } else if (starts_with(p, "{a}")) {
                put(dest, CONCEPT_PROMPT_MAX, &len, concept_with_article(c, phrase,
                                                                         sizeof phrase));
                p += 3;
            } else if (starts_with(p, "{place}") || starts_with(p, "{act}")) {
                put(dest, CONCEPT_PROMPT_MAX, &len, concept_place(c, phrase, sizeof phrase));
                p += p[1] == 'p' ? 7 : 5;
            } else {
                char one[2] = {*p++, '\0'};
                put(dest, CONCEPT_PROMPT_MAX, &len, one);
            }
        }
    }
    return count;
}
