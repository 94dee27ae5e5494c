/* The concept vocabulary built from WordNet: its size, every kind and the
 * expected everyday words present, no word twice, plain display words, and
 * prompts for every concept. Skipped (exit 77) without WordNet's files. */
#include <stdlib.h>
#include <string.h>

#include "caption/concepts.h"
#include "check.h"
#include "common/strmap.h"

static bool has(const concept_vocab *v, const char *word, concept_kind kind)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i].word, word) == 0)
            return v->items[i].group->kind == kind;
    return false;
}

static size_t index_of(const concept_vocab *v, const char *word)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->items[i].word, word) == 0)
            return i;
    return v->n;
}

int main(void)
{
    concept_vocab v;
    cs_error err;
    cs_status rc = concepts_build(&v, &err);
    if (rc == CS_ERR_NOT_FOUND || rc == CS_ERR_UNSUPPORTED) {
        fprintf(stderr, "skipped: %s\n", err.message);
        return 77;
    }
    CHECK_OK(rc, &err);
    fprintf(stderr, "%zu concepts\n", v.n);
    CHECK(v.n >= 3000);
    CHECK(v.n <= 8000);   /* each costs text-tower time once per model */

    /* every kind, and the words a photo library is searched for */
    size_t per_kind[CONCEPT_NKINDS] = {0};
    for (size_t i = 0; i < v.n; i++)
        per_kind[v.items[i].group->kind]++;
    for (int k = 0; k < CONCEPT_NKINDS; k++)
        CHECK(per_kind[k] > 0);
    CHECK(per_kind[CONCEPT_OBJECT] >= 2000);
    CHECK(per_kind[CONCEPT_SCENE] >= 50);
    const struct { const char *word; concept_kind kind; } expected[] = {
        {"dog", CONCEPT_OBJECT}, {"cat", CONCEPT_OBJECT}, {"horse", CONCEPT_OBJECT},
        {"giraffe", CONCEPT_OBJECT}, {"rose", CONCEPT_OBJECT}, {"pizza", CONCEPT_OBJECT},
        {"car", CONCEPT_OBJECT}, {"bicycle", CONCEPT_OBJECT}, {"boat", CONCEPT_OBJECT},
        {"chair", CONCEPT_OBJECT}, {"bridge", CONCEPT_OBJECT}, {"person", CONCEPT_OBJECT},
        {"beach", CONCEPT_SCENE}, {"mountain", CONCEPT_SCENE}, {"forest", CONCEPT_SCENE},
        {"city", CONCEPT_SCENE}, {"kitchen", CONCEPT_SCENE}, {"lake", CONCEPT_SCENE},
        {"indoors", CONCEPT_SCENE}, {"tennis", CONCEPT_ACTIVITY}, {"skiing", CONCEPT_ACTIVITY},
        {"wedding", CONCEPT_EVENT}, {"concert", CONCEPT_EVENT}, {"party", CONCEPT_EVENT},
        {"sunset", CONCEPT_WEATHER}, {"snow", CONCEPT_WEATHER}, {"rain", CONCEPT_WEATHER},
        {"night", CONCEPT_WEATHER}, {"photo", CONCEPT_PICTURE},
        {"screenshot", CONCEPT_PICTURE}, {"document", CONCEPT_PICTURE},
        {"drawing", CONCEPT_PICTURE}, {"diagram", CONCEPT_PICTURE},
        {"man", CONCEPT_OBJECT}, {"woman", CONCEPT_OBJECT}, {"child", CONCEPT_OBJECT},
        {"boy", CONCEPT_OBJECT}, {"girl", CONCEPT_OBJECT}, {"baby", CONCEPT_OBJECT},
        {"family", CONCEPT_OBJECT},
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        if (!has(&v, expected[i].word, expected[i].kind)) {
            fprintf(stderr, "missing: %s (%s)\n", expected[i].word,
                    concept_kind_name(expected[i].kind));
            check_failures++;
        }
    /* WordNet's hypernyms (as `wn WORD -hypen` shows them): a kind of the
     * other is related, two kinds of one thing are not */
    const struct { const char *a, *b; bool related; } pairs[] = {
        {"dog", "puppy", true}, {"puppy", "dog", true}, {"dog", "animal", true},
        {"car", "vehicle", true}, {"person", "woman", true}, {"child", "person", true},
        {"girl", "woman", true}, {"dog", "cat", false}, {"car", "truck", false},
        {"man", "woman", false}, {"dog", "beach", false}, {"rose", "pizza", false},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        size_t a = index_of(&v, pairs[i].a), b = index_of(&v, pairs[i].b);
        if (a == v.n || b == v.n || concepts_related(&v, a, b) != pairs[i].related) {
            fprintf(stderr, "%s and %s: expected %s\n", pairs[i].a, pairs[i].b,
                    pairs[i].related ? "related" : "distinct");
            check_failures++;
        }
    }
    size_t with_synset = 0;
    for (size_t i = 0; i < v.n; i++)
        if (v.items[i].synset >= 0) {
            with_synset++;
            CHECK(v.items[i].lineage_n > 0);   /* every noun but "entity" has one */
        }
    CHECK(with_synset + 20 >= v.n);

    /* obscure senses stay out: "box" is not a room, "head" not an animal */
    CHECK(!has(&v, "box", CONCEPT_SCENE));
    CHECK(!has(&v, "head", CONCEPT_OBJECT));

    /* every group's root that WordNet names plainly is there */
    size_t ngroups = 0;
    const concept_group *groups = concept_groups(&ngroups);
    for (size_t g = 0; g < ngroups; g++) {
        if (strchr(groups[g].name, '_'))
            continue;   /* "body_of_water": three words, not a display word */
        bool found = false;
        for (size_t i = 0; i < v.n && !found; i++)
            found = v.items[i].group == &groups[g] || strcmp(v.items[i].word, groups[g].name) == 0;
        if (!found) {
            fprintf(stderr, "root missing: %s\n", groups[g].name);
            check_failures++;
        }
    }

    /* no word twice, plain words, prompts that say the word */
    strmap seen;
    strmap_init(&seen);
    for (size_t i = 0; i < v.n; i++) {
        const concept *c = &v.items[i];
        int64_t *dup = NULL;
        if (strmap_get(&seen, c->word, &dup)) {
            fprintf(stderr, "twice: %s\n", c->word);
            check_failures++;
        }
        CHECK(strmap_put(&seen, c->word, 1));
        for (const char *p = c->word; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == ' ' || *p == '-' ||
                  (*p >= '0' && *p <= '9'))) {
                fprintf(stderr, "not a plain word: '%s'\n", c->word);
                check_failures++;
                break;
            }
        char prompts[CONCEPT_MAX_TEMPLATES][CONCEPT_PROMPT_MAX];
        size_t n = concept_prompts(c, prompts, CONCEPT_MAX_TEMPLATES);
        CHECK(n >= 1);
        for (size_t k = 0; k < n; k++)
            if (!strstr(prompts[k], c->word)) {
                fprintf(stderr, "prompt without its word: '%s' for '%s'\n", prompts[k], c->word);
                check_failures++;
            }
    }
    strmap_free(&seen);
    concepts_free(&v);
    CHECK_DONE();
}
