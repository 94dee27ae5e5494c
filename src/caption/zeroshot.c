/* Zero-shot scoring and sentence composing (rules in zeroshot.h). */
#include "caption/zeroshot.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void zs_logits(const float *images, size_t n, const float *concepts, size_t m, int dim,
               float scale, float *out)
{
    if (n == 0 || m == 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)m, dim, scale, images,
                dim, concepts, dim, 0.0f, out, (int)m);
}

void zs_softmax(float *row, size_t m)
{
    if (m == 0)
        return;
    float max = row[0];
    for (size_t i = 1; i < m; i++)
        if (row[i] > max)
            max = row[i];
    double sum = 0;
    for (size_t i = 0; i < m; i++) {
        row[i] = expf(row[i] - max);
        sum += row[i];
    }
    float inv = (float)(1.0 / sum);
    for (size_t i = 0; i < m; i++)
        row[i] *= inv;
}

/* ---------- picking ---------- */

/* Inserts p into list (best first, at most max), dropping the worst. */
static void insert(zs_pick *list, int *n, int max, zs_pick p)
{
    int at = *n;
    while (at > 0 && list[at - 1].prob < p.prob)
        at--;
    if (at >= max)
        return;
    int last = *n < max ? *n : max - 1;
    memmove(list + at + 1, list + at, (size_t)(last - at) * sizeof *list);
    list[at] = p;
    if (*n < max)
        (*n)++;
}

/* How many of a kind are kept (the picture kinds: see slot()). */
static int kind_limit(concept_kind kind)
{
    return kind == CONCEPT_OBJECT ? 2 : 1;
}

/* Concepts counted against one limit: picture kinds have two slots, the
 * medium and the content. */
static int slot(const concept *c)
{
    if (c->group->kind == CONCEPT_PICTURE && c->group->style == STYLE_CONTENT)
        return CONCEPT_NKINDS;
    return (int)c->group->kind;
}

zs_rule zs_rule_default(void)
{
    zs_rule rule = {ZS_MIN_PROB, ZS_REL_TO_BEST};
    const char *env = getenv("CAPSEARCH_ZEROSHOT_MIN_PROB");
    char *end = NULL;
    double p = env && *env ? strtod(env, &end) : 0;
    if (end && *end == '\0' && p > 0 && p < 1)
        rule.min_prob = (float)p;
    return rule;
}

/* Whether `concept` names the same thing as an earlier pick, one a kind of
 * the other. */
static bool restates_pick(const concept_vocab *v, const zs_caption *out, size_t concept)
{
    for (int i = 0; i < out->npicks; i++)
        if (concepts_related(v, out->picks[i].concept, concept))
            return true;
    return false;
}

static void pick(const concept_vocab *v, const float *probs, const zs_rule *rule,
                 zs_caption *out)
{
    /* The best 32 above min_prob are enough for every kind's few. */
    zs_pick above[32];
    int nabove = 0;
    for (size_t i = 0; i < v->n; i++) {
        zs_pick p = {i, probs[i]};
        insert(out->top, &out->ntop, ZS_TOP, p);
        if (probs[i] >= rule->min_prob)
            insert(above, &nabove, 32, p);
    }
    float best[CONCEPT_NKINDS + 1] = {0};
    int count[CONCEPT_NKINDS + 1] = {0};
    int restated = 0;
    bool indoor = false;
    for (int i = 0; i < nabove; i++) {
        const concept *c = &v->items[above[i].concept];
        int s = slot(c);
        if (count[s] == 0)
            best[s] = above[i].prob;
        if (above[i].prob < rule->rel_to_best * best[s])
            continue;
        /* "puppy" after "dog": a tag, but not a second thing seen */
        if (restates_pick(v, out, above[i].concept)) {
            if (restated < ZS_MAX_RESTATED && out->npicks < ZS_MAX_PICKS) {
                restated++;
                out->picks[out->npicks++] = above[i];
            }
            continue;
        }
        if (count[s] >= kind_limit(c->group->kind))
            continue;
        count[s]++;
        if (c->group->kind == CONCEPT_SCENE && c->group->indoor)
            indoor = true;
        if (out->npicks < ZS_MAX_PICKS)
            out->picks[out->npicks++] = above[i];
    }
    if (!indoor)
        return;
    /* rain, snow and sunsets are not seen indoors: the scene wins */
    int kept = 0;
    for (int i = 0; i < out->npicks; i++)
        if (v->items[out->picks[i].concept].group->kind != CONCEPT_WEATHER)
            out->picks[kept++] = out->picks[i];
    out->npicks = kept;
}

/* ---------- composing ---------- */

/* out = a + sep + b + end, cut to fit (texts here are far shorter). */
static void join(char *out, size_t size, const char *a, const char *sep, const char *b,
                 const char *end)
{
    const char *pieces[] = {a, sep, b, end};
    size_t len = 0;
    for (size_t i = 0; i < 4; i++) {
        size_t n = pieces[i] ? strlen(pieces[i]) : 0;
        if (len + n >= size)
            n = size - 1 - len;
        if (n)
            memcpy(out + len, pieces[i], n);
        len += n;
    }
    out[len] = '\0';
}

typedef struct parts {
    const concept *objects[2];
    int nobjects;
    const concept *scene, *activity, *event, *weather, *medium, *content;
} parts;

static void sort_parts(const concept_vocab *v, const zs_caption *z, parts *p)
{
    *p = (parts){0};
    size_t first_object = 0;
    for (int i = 0; i < z->npicks; i++) {
        const concept *c = &v->items[z->picks[i].concept];
        switch (c->group->kind) {
        case CONCEPT_OBJECT:
            /* the first of each thing: "a dog", never "a dog and a puppy" */
            if (p->nobjects == 0 ||
                (p->nobjects == 1 && !concepts_related(v, first_object, z->picks[i].concept))) {
                if (p->nobjects == 0)
                    first_object = z->picks[i].concept;
                p->objects[p->nobjects++] = c;
            }
            break;
        /* picks come best first; a later one of a kind restates it */
        case CONCEPT_SCENE: p->scene = p->scene ? p->scene : c; break;
        case CONCEPT_ACTIVITY: p->activity = p->activity ? p->activity : c; break;
        case CONCEPT_EVENT: p->event = p->event ? p->event : c; break;
        case CONCEPT_WEATHER: p->weather = p->weather ? p->weather : c; break;
        case CONCEPT_PICTURE:
            if (c->group->style == STYLE_CONTENT)
                p->content = p->content ? p->content : c;
            /* a photo is what a caption assumes: it is not said */
            else if (strcmp(c->word, "photo") != 0 && !p->medium)
                p->medium = c;
            break;
        default: break;
        }
    }
}

static void add_candidate(zs_caption *z, const parts *p, const char *phrase)
{
    if (!phrase[0] || z->ncandidates >= ZS_MAX_CANDIDATES)
        return;
    zs_candidate *c = &z->candidates[z->ncandidates];
    char with[ZS_TEXT_MAX];
    if (p->medium) {
        char medium[CONCEPT_WORD_MAX + 8];
        concept_with_article(p->medium, medium, sizeof medium);
        /* the medium alone ("a screenshot") or in front ("a drawing of ...") */
        if (strcmp(phrase, medium) == 0)
            join(with, sizeof with, medium, NULL, NULL, NULL);
        else
            join(with, sizeof with, medium, " of ", phrase, NULL);
        join(c->prompt, sizeof c->prompt, with, NULL, NULL, ".");
    } else {
        join(with, sizeof with, phrase, NULL, NULL, NULL);
        join(c->prompt, sizeof c->prompt, "a photo of ", phrase, NULL, ".");
    }
    join(c->sentence, sizeof c->sentence, with, NULL, NULL, ".");
    if (c->sentence[0] >= 'a' && c->sentence[0] <= 'z')
        c->sentence[0] = (char)(c->sentence[0] - 'a' + 'A');
    for (int i = 0; i < z->ncandidates; i++)
        if (strcmp(z->candidates[i].prompt, c->prompt) == 0)
            return;
    c->score = 0;
    z->ncandidates++;
}

/* "on a beach at a wedding at sunset" ("" when none). */
static void setting(const parts *p, char *out, size_t size)
{
    size_t len = 0;
    out[0] = '\0';
    const concept *order[] = {p->scene, p->event, p->weather};
    for (size_t i = 0; i < 3; i++) {
        if (!order[i])
            continue;
        char phrase[ZS_TEXT_MAX];
        concept_place(order[i], phrase, sizeof phrase);
        char sofar[ZS_TEXT_MAX];
        join(sofar, sizeof sofar, out, NULL, NULL, NULL);
        join(out, size, sofar, len ? " " : "", phrase, NULL);
        len = strlen(out);
    }
}

/* The most probable concept of a kind, when it is within
 * ZS_UNSURE_LOGIT_GAP of the best concept of all; NULL otherwise. */
static const concept *unsure_best(const concept_vocab *v, const float *probs, concept_kind kind)
{
    size_t best = v->n, top = v->n;
    for (size_t i = 0; i < v->n; i++) {
        if (top == v->n || probs[i] > probs[top])
            top = i;
        if (v->items[i].group->kind == kind && (best == v->n || probs[i] > probs[best]))
            best = i;
    }
    if (best == v->n || !(probs[best] >= probs[top] * expf(-ZS_UNSURE_LOGIT_GAP)))
        return NULL;
    return &v->items[best];
}

/* Settings too unsure for a tag still make candidates: the first subject
 * in the likeliest scene, and at the likeliest time or weather ("a dog on a
 * beach", "a dog at sunset"). CLIP's ranking then keeps them only when they
 * fit the picture better than the subject alone. */
static void add_unsure_settings(const concept_vocab *v, const float *probs, const parts *p,
                                const char *subject, zs_caption *out)
{
    char where[ZS_TEXT_MAX], phrase[ZS_TEXT_MAX];
    const concept *scene = p->scene ? NULL : unsure_best(v, probs, CONCEPT_SCENE);
    bool indoor = (p->scene && p->scene->group->indoor) || (scene && scene->group->indoor);
    const concept *weather = p->weather || indoor ? NULL
                                                  : unsure_best(v, probs, CONCEPT_WEATHER);
    if (scene && !(scene->group->indoor && p->weather)) {
        parts q = *p;
        q.scene = scene;
        setting(&q, where, sizeof where);
        join(phrase, sizeof phrase, subject, " ", where, NULL);
        add_candidate(out, p, phrase);
    }
    if (weather) {
        parts q = *p;
        q.weather = weather;
        setting(&q, where, sizeof where);
        join(phrase, sizeof phrase, subject, " ", where, NULL);
        add_candidate(out, p, phrase);
    }
}

void zs_compose(const concept_vocab *v, const float *probs, const zs_rule *rule,
                zs_caption *out)
{
    memset(out, 0, sizeof *out);
    out->best = -1;
    pick(v, probs, rule, out);
    parts p;
    sort_parts(v, out, &p);

    /* subjects, most specific first */
    char subjects[4][ZS_TEXT_MAX];
    int nsubjects = 0;
    char a[ZS_TEXT_MAX], b[ZS_TEXT_MAX];
    if (p.activity)
        snprintf(subjects[nsubjects++], ZS_TEXT_MAX, "a person %s",
                 concept_place(p.activity, a, sizeof a));
    if (p.nobjects > 0) {
        const concept *o = p.objects[0];
        concept_with_article(o, subjects[nsubjects++], ZS_TEXT_MAX);
        if (p.nobjects > 1)
            snprintf(subjects[nsubjects++], ZS_TEXT_MAX, "%s and %s",
                     concept_with_article(o, a, sizeof a),
                     concept_with_article(p.objects[1], b, sizeof b));
        if (o->group->style == STYLE_COUNT)
            concept_plural(o->word, subjects[nsubjects++], ZS_TEXT_MAX);
    }
    char where[ZS_TEXT_MAX];
    setting(&p, where, sizeof where);
    char phrase[ZS_TEXT_MAX];
    if (p.content) {
        /* what the picture is beats what is in it: a document, a map */
        concept_with_article(p.content, a, sizeof a);
        add_candidate(out, &p, a);
    }
    for (int i = 0; i < nsubjects; i++) {
        join(phrase, sizeof phrase, subjects[i], where[0] ? " " : "", where, NULL);
        add_candidate(out, &p, phrase);
    }
    /* the first subject without its setting, and the setting alone */
    if (nsubjects > 0 && where[0])
        add_candidate(out, &p, subjects[0]);
    if (p.scene) {
        const concept *s = p.scene;
        bool bare = s->group->literal;   /* indoors, outdoors: no scene to name */
        char rest[ZS_TEXT_MAX];
        parts no_scene = p;
        no_scene.scene = NULL;
        setting(&no_scene, rest, sizeof rest);
        if (!bare) {
            join(phrase, sizeof phrase, concept_with_article(s, a, sizeof a), rest[0] ? " " : "",
                 rest, NULL);
            add_candidate(out, &p, phrase);
        }
    } else if (nsubjects == 0 && !p.content && (p.event || p.weather)) {
        /* nothing but a setting: "a wedding", "the sky at sunset" is too sure */
        if (p.event)
            add_candidate(out, &p, concept_with_article(p.event, a, sizeof a));
        if (p.weather) {
            join(phrase, sizeof phrase, "a view ", concept_place(p.weather, a, sizeof a), NULL,
                 NULL);
            add_candidate(out, &p, phrase);
        }
    }
    if (out->ncandidates == 0 && p.medium)
        add_candidate(out, &p, concept_with_article(p.medium, a, sizeof a));
    if (nsubjects > 0)
        add_unsure_settings(v, probs, &p, subjects[0], out);
}

void zs_rank(zs_caption *c, const float *image, const float *prompts, int dim)
{
    c->best = -1;
    for (int i = 0; i < c->ncandidates; i++) {
        const float *t = prompts + (size_t)i * (size_t)dim;
        double dot = 0;
        for (int k = 0; k < dim; k++)
            dot += (double)image[k] * t[k];
        c->candidates[i].score = (float)dot;
        if (c->best < 0 || c->candidates[i].score > c->candidates[c->best].score)
            c->best = i;
    }
}

const char *zs_sentence(const zs_caption *c)
{
    return c->best >= 0 ? c->candidates[c->best].sentence : "";
}
