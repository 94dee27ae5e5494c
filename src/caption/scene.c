#include "caption/scene.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

/* At most this many kinds of things are named; the rest are tags only. */
#define MAX_PHRASES 5
#define MAX_GROUPS 32

const char *caption_plural(const char *noun, char *out, size_t size)
{
    static const char *const irregular[][2] = {
        {"person", "people"}, {"mouse", "mice"}, {"knife", "knives"}, {"sheep", "sheep"},
        {"skis", "skis"}, {"scissors", "scissors"}, {"tv", "TVs"}, {"cell phone", "cell phones"},
        {"hair drier", "hair driers"}, {"sports ball", "balls"}, {"potted plant", "potted plants"},
        {"dining table", "tables"}, {"wine glass", "wine glasses"}, {"giraffe", "giraffes"},
    };
    for (size_t i = 0; i < sizeof irregular / sizeof *irregular; i++)
        if (strcmp(noun, irregular[i][0]) == 0)
            return irregular[i][1];
    size_t n = strlen(noun);
    const char *suffix = "s";
    size_t keep = n;
    if (n >= 2 && (noun[n - 1] == 's' || noun[n - 1] == 'x' || noun[n - 1] == 'z' ||
                   (noun[n - 1] == 'h' && (noun[n - 2] == 'c' || noun[n - 2] == 's'))))
        suffix = "es";   /* bus, box, bench, brush */
    else if (n >= 2 && noun[n - 1] == 'y' && !strchr("aeiou", noun[n - 2])) {
        suffix = "ies";  /* teddy -> teddies */
        keep = n - 1;
    }
    snprintf(out, size, "%.*s%s", (int)keep, noun, suffix);
    return out;
}

static const char *singular_display(const char *noun)
{
    /* The label as a person would say it. */
    if (strcmp(noun, "dining table") == 0)
        return "table";
    if (strcmp(noun, "tv") == 0)
        return "TV";
    if (strcmp(noun, "sports ball") == 0)
        return "ball";
    return noun;
}

void caption_count_phrase(const char *noun, int count, char *out, size_t size)
{
    static const char *const numbers[] = {"no", "one", "two", "three", "four", "five",
                                          "six", "seven", "eight", "nine", "ten"};
    const char *shown = singular_display(noun);
    if (count <= 1) {
        bool vowel = strchr("aeiouAEIOU", shown[0]) != NULL;
        snprintf(out, size, "%s %s", vowel ? "an" : "a", shown);
        return;
    }
    char plural[64];
    const char *p = caption_plural(noun, plural, sizeof plural);
    snprintf(out, size, "%s %s", count <= 10 ? numbers[count] : "many", p);
}

typedef struct group {
    const char *label;
    int count;
    float best;
    int members[MAX_GROUPS];   /* indices into scene->objects */
    bool used;                 /* already named in a relation */
} group;

static int find_group(group *groups, int n, const char *label)
{
    for (int i = 0; i < n; i++)
        if (strcmp(groups[i].label, label) == 0)
            return i;
    return -1;
}

static bool is_one_of(const char *label, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(label, *list) == 0)
            return true;
    return false;
}

static float center_x(const float *b) { return (b[0] + b[2]) / 2; }
static float center_y(const float *b) { return (b[1] + b[3]) / 2; }

/* A person rides it when the person's middle is over it and the person's
 * feet reach into it: the person's box ends inside the lower part of its box
 * and starts above it. */
static bool rides(const float *person, const float *ride)
{
    float w = ride[2] - ride[0], h = ride[3] - ride[1];
    float cx = center_x(person);
    return cx > ride[0] - 0.1f * w && cx < ride[2] + 0.1f * w && person[1] < ride[1] &&
           person[3] > ride[1] + 0.25f * h && center_y(person) < center_y(ride);
}

/* Resting on it: the bottom middle of `thing` falls inside `under`'s box. */
static bool rests_on(const float *thing, const float *under)
{
    float cx = center_x(thing), bottom = thing[3];
    return cx >= under[0] && cx <= under[2] && bottom >= under[1] &&
           bottom <= under[3] + 0.05f * (under[3] - under[1]);
}

static int count_matching(const caption_scene *s, const group *a, const group *b,
                          bool (*relation)(const float *, const float *))
{
    int n = 0;
    for (int i = 0; i < a->count; i++)
        for (int j = 0; j < b->count; j++)
            if (relation(s->objects[a->members[i]].box, s->objects[b->members[j]].box)) {
                n++;
                break;
            }
    return n;
}

typedef struct phrases {
    char text[MAX_PHRASES][320];
    int n;
} phrases;

static void add_phrase(phrases *p, const char *text)
{
    if (p->n < MAX_PHRASES)
        snprintf(p->text[p->n++], sizeof p->text[0], "%s", text);
}

static void people_phrase(const caption_scene *s, int count, char *out, size_t size)
{
    int happy = 0;
    for (int i = 0; i < s->nfaces; i++)
        if (s->faces[i].expression && strcmp(s->faces[i].expression, "happy") == 0 &&
            s->faces[i].expression_score >= 0.5f)
            happy++;
    char base[64];
    caption_count_phrase("person", count, base, sizeof base);
    /* "a smiling person", "two smiling people": only when most faces smile */
    if (happy > 0 && happy * 2 >= s->nfaces) {
        const char *space = strchr(base, ' ');
        snprintf(out, size, "%.*s smiling%s", (int)(space - base), base, space);
        if (count <= 1)   /* "an smiling" would be wrong */
            snprintf(out, size, "a smiling person");
    } else {
        snprintf(out, size, "%s", base);
    }
}

/* Relations first (they use up the groups they name), then the rest by score. */
static void describe(const caption_scene *s, group *groups, int ngroups, phrases *p)
{
    static const char *const rideable[] = {"bicycle", "motorcycle", "horse", "elephant",
                                           "skateboard", "surfboard", NULL};
    static const char *const standing_on[] = {"skis", "snowboard", NULL};
    static const char *const on_tables[] = {
        "cup", "bowl", "bottle", "wine glass", "fork", "knife", "spoon", "cake", "pizza",
        "sandwich", "donut", "apple", "banana", "orange", "broccoli", "carrot", "hot dog",
        "vase", "laptop", "book", "cell phone", "keyboard", "mouse", "remote", NULL};
    static const char *const furniture[] = {"couch", "bed", "chair", "bench", NULL};
    static const char *const pets[] = {"cat", "dog", "teddy bear", NULL};
    char a[96], b[96], line[320];

    int person = find_group(groups, ngroups, "person");
    int people = person >= 0 ? groups[person].count : 0;
    if (s->nfaces > people)
        people = s->nfaces;   /* a close-up face is a person the detector may miss */

    for (int g = 0; g < ngroups && person >= 0; g++) {
        bool ride = is_one_of(groups[g].label, rideable);
        bool stand = is_one_of(groups[g].label, standing_on);
        if ((!ride && !stand) || groups[person].used)
            continue;
        int riders = count_matching(s, &groups[person], &groups[g], rides);
        if (riders == 0 || riders < groups[person].count)
            continue;   /* only when every person found rides */
        people_phrase(s, people, a, sizeof a);
        caption_count_phrase(groups[g].label, stand ? 2 : groups[g].count, b, sizeof b);
        snprintf(line, sizeof line, "%s %s %s", a, ride ? "riding" : "on",
                 stand ? (strcmp(groups[g].label, "skis") == 0 ? "skis" : b) : b);
        add_phrase(p, line);
        groups[person].used = groups[g].used = true;
    }
    int kite = find_group(groups, ngroups, "kite");
    if (person >= 0 && kite >= 0 && !groups[person].used) {
        people_phrase(s, people, a, sizeof a);
        caption_count_phrase("kite", groups[kite].count, b, sizeof b);
        snprintf(line, sizeof line, "%s flying %s", a, b);
        add_phrase(p, line);
        groups[person].used = groups[kite].used = true;
    }
    int table = find_group(groups, ngroups, "dining table");
    for (int g = 0; g < ngroups && table >= 0; g++) {
        if (groups[g].used || !is_one_of(groups[g].label, on_tables))
            continue;
        if (count_matching(s, &groups[g], &groups[table], rests_on) < groups[g].count)
            continue;
        caption_count_phrase(groups[g].label, groups[g].count, a, sizeof a);
        snprintf(line, sizeof line, "%s on a table", a);
        add_phrase(p, line);
        groups[g].used = true;
        groups[table].used = true;   /* named already */
    }
    for (int f = 0; f < ngroups; f++) {
        if (groups[f].used || !is_one_of(groups[f].label, furniture))
            continue;
        for (int g = 0; g < ngroups; g++) {
            if (groups[g].used || !is_one_of(groups[g].label, pets))
                continue;
            if (count_matching(s, &groups[g], &groups[f], rests_on) < groups[g].count)
                continue;
            caption_count_phrase(groups[g].label, groups[g].count, a, sizeof a);
            caption_count_phrase(groups[f].label, 1, b, sizeof b);
            snprintf(line, sizeof line, "%s on %s", a, b);
            add_phrase(p, line);
            groups[g].used = groups[f].used = true;
        }
    }
    if (person < 0 && people > 0) {   /* faces without a detected person */
        people_phrase(s, people, a, sizeof a);
        add_phrase(p, a);
    }
    for (int g = 0; g < ngroups; g++) {
        if (groups[g].used)
            continue;
        if (g == person)
            people_phrase(s, people, a, sizeof a);
        else
            caption_count_phrase(groups[g].label, groups[g].count, a, sizeof a);
        add_phrase(p, a);
        groups[g].used = true;
    }
}

static int compare_groups(const void *x, const void *y)
{
    const group *a = x, *b = y;
    return (a->best < b->best) - (a->best > b->best);
}

cs_status caption_from_scene(const caption_scene *s, char **out, cs_error *err)
{
    *out = NULL;
    group groups[MAX_GROUPS];
    int ngroups = 0;
    for (int i = 0; i < s->nobjects; i++) {
        const caption_object *o = &s->objects[i];
        if (!o->label)
            continue;
        int g = find_group(groups, ngroups, o->label);
        if (g < 0) {
            if (ngroups == MAX_GROUPS)
                continue;
            g = ngroups++;
            groups[g] = (group){.label = o->label, .best = o->score};
        }
        if (groups[g].count < MAX_GROUPS)
            groups[g].members[groups[g].count++] = i;
        if (o->score > groups[g].best)
            groups[g].best = o->score;
    }
    qsort(groups, (size_t)ngroups, sizeof *groups, compare_groups);
    phrases p = {.n = 0};
    describe(s, groups, ngroups, &p);
    strbuf sb;
    strbuf_init(&sb);
    for (int i = 0; i < p.n; i++) {
        if (i > 0)
            strbuf_append(&sb, i == p.n - 1 ? " and " : ", ");
        strbuf_append(&sb, p.text[i]);
    }
    if (strbuf_failed(&sb)) {
        strbuf_free(&sb);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    char *text = strbuf_take(&sb);
    if (!text)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    text[0] = (char)toupper((unsigned char)text[0]);
    *out = text;
    return CS_OK;
}
