/* The metadata caption: one sentence a person would write, plus tags and the
 * date/camera words the text index searches. Only the image *types* are used
 * (not image functions), so this links without the decoders. */
#include "caption/caption.h"

#include <math.h>   /* isfinite (a macro: no libm needed) */
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"

#define COLOR_TAG_MIN 0.05f      /* a colour this large is worth a tag */
#define COLOR_SENTENCE_MIN 0.10f /* ... and this large worth saying */
#define SENTENCE_COLORS 3
/* Slots kept for the other tags: shape 1, date 4, camera 2, format 1. Shares
 * sum to at most 1, so at most 20 colours reach 5% and the colour cap is
 * never reached by real input; past it the smallest colours are left out. */
#define OTHER_TAGS 8
#define MAX_COLOR_TAGS (CAPTION_MAX_TAGS - CAPTION_MAX_FINDING_TAGS - OTHER_TAGS)
#define TAG_NAME_MAX (sizeof(((caption_tag *)0)->name) - 1)

/* ---------- small text helpers ---------- */

static char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }
static char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c; }
static bool ascii_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool starts_with_vowel(const char *s)
{
    char c = ascii_lower(s[0]);
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

static bool equal_ci(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

/* True when s begins with `prefix` (ASCII case-insensitive) as whole words. */
static bool starts_with_words_ci(const char *s, const char *prefix, size_t plen)
{
    if (plen == 0 || strlen(s) < plen)
        return false;
    for (size_t i = 0; i < plen; i++)
        if (ascii_lower(s[i]) != ascii_lower(prefix[i]))
            return false;
    return !ascii_alnum(s[plen]);
}

/* Copies an EXIF string (at most `max` bytes, maybe unterminated) into dst as
 * clean text: control characters and invalid UTF-8 become spaces, runs of
 * spaces collapse, ends are trimmed. EXIF strings come from any device. */
static void append_clean(strbuf *dst, const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, max);
    bool pending_space = false;
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence_length(u + i, n - i);
        if (len == 0 || u[i] <= ' ' || u[i] == 0x7F) {
            pending_space = true;
            i += len ? len : 1;
            continue;
        }
        if (pending_space && dst->len > 0)
            strbuf_append_char(dst, ' ');
        pending_space = false;
        strbuf_append_n(dst, s + i, len);
        i += len;
    }
}

/* Length of s cut to fit a tag name: whole words when a space falls inside
 * the limit, else the longest prefix that ends on a UTF-8 character boundary. */
static size_t fitted_len(const char *s)
{
    size_t n = strlen(s);
    if (n <= TAG_NAME_MAX)
        return n;
    for (size_t i = TAG_NAME_MAX; i > 0; i--)
        if (s[i] == ' ') {
            while (i > 0 && s[i - 1] == ' ')
                i--;
            if (i > 0)
                return i;
            break;
        }
    size_t cut = TAG_NAME_MAX;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;   /* s[cut] would be a continuation byte: back to its lead byte */
    return cut;
}

/* ---------- tags ---------- */

/* Adds a tag with a lower-cased, fitted name; empty names and repeats of the
 * same (kind, name) are skipped because the catalog keys tags on both. */
static void add_tag(caption_result *out, const char *name, float score, const char *kind)
{
    if (!name || !*name || out->ntags >= CAPTION_MAX_TAGS)
        return;
    caption_tag *t = &out->tags[out->ntags];
    size_t n = fitted_len(name);
    for (size_t i = 0; i < n; i++)
        t->name[i] = ascii_lower(name[i]);
    t->name[n] = '\0';
    if (n == 0)
        return;
    for (int i = 0; i < out->ntags; i++)
        if (strcmp(out->tags[i].kind, kind) == 0 && strcmp(out->tags[i].name, t->name) == 0)
            return;
    t->score = score < 0.0f ? 0.0f : score > 1.0f ? 1.0f : score;
    t->kind = kind;
    out->ntags++;
}

/* ---------- colours ---------- */

typedef struct color_pick {
    const char *name;
    float share;
    int order;   /* input position: keeps the sort stable */
} color_pick;

static int compare_picks(const void *a, const void *b)
{
    const color_pick *x = a, *y = b;
    if (x->share != y->share)
        return x->share > y->share ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* Usable colours, same names merged, largest share first. */
static int collect_colors(const caption_facts *f, color_pick *picks)
{
    int n = 0;
    for (int i = 0; i < f->ncolors; i++) {
        const cs_color_share *c = &f->colors[i];
        if (!c->name || !*c->name || !isfinite(c->share) || c->share <= 0.0f)
            continue;
        int j = 0;
        while (j < n && !equal_ci(picks[j].name, strlen(picks[j].name), c->name))
            j++;
        if (j == n)
            picks[n++] = (color_pick){c->name, 0.0f, i};
        float sum = picks[j].share + c->share;
        picks[j].share = sum > 1.0f ? 1.0f : sum;
    }
    qsort(picks, (size_t)n, sizeof *picks, compare_picks);
    return n;
}

static cs_status add_color_tags(const caption_facts *f, caption_result *out, cs_error *err)
{
    if (f->ncolors <= 0)
        return CS_OK;
    color_pick *picks = malloc((size_t)f->ncolors * sizeof *picks);
    if (!picks)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory composing a caption");
    int n = collect_colors(f, picks);
    for (int i = 0; i < n && i < MAX_COLOR_TAGS && picks[i].share >= COLOR_TAG_MIN; i++)
        add_tag(out, picks[i].name, picks[i].share, "color");
    free(picks);
    return CS_OK;
}

/* ", mostly blue, white and green" from the colour tags big enough to say. */
static void append_colors(strbuf *sb, const caption_result *out)
{
    const char *names[SENTENCE_COLORS];
    int n = 0;
    for (int i = 0; i < out->ntags && n < SENTENCE_COLORS; i++)
        if (strcmp(out->tags[i].kind, "color") == 0 && out->tags[i].score >= COLOR_SENTENCE_MIN)
            names[n++] = out->tags[i].name;
    if (n == 0)
        return;
    strbuf_append(sb, ", mostly ");
    for (int i = 0; i < n; i++) {
        if (i > 0)
            strbuf_append(sb, i == n - 1 ? " and " : ", ");
        strbuf_append(sb, names[i]);
    }
}

/* ---------- camera ---------- */

/* Makes whose EXIF spelling is not what people call them. */
static const struct { const char *key, *name; } make_table[] = {
    {"eastman kodak", "Kodak"},
    {"seiko epson", "Epson"},
    {"pentax", "Pentax"},   /* also "PENTAX RICOH IMAGING" */
    {"hewlett-packard", "HP"},
    {"nikon", "Nikon"},
    {"olympus", "Olympus"},
};

/* Trailing words that are company form, not brand. */
static bool is_company_word(const char *w, size_t n)
{
    static const char *const words[] = {
        "corporation", "corp", "co", "ltd", "limited", "inc", "company", "imaging",
        "electronics", "computer", "camera", "cameras", "ag", "gmbh", "llc", "plc",
    };
    while (n > 0 && w[n - 1] == '.')
        n--;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (equal_ci(w, n, words[i]))
            return true;
    return false;
}

static bool is_word_sep(char c) { return c == ' ' || c == ','; }

/* Appends a word, title-casing SHOUTED brand names of 4+ letters ("SONY")
 * and all-lower-case ones ("motorola"); mixed case ("GoPro") is kept. */
static void append_brand_word(strbuf *sb, const char *w, size_t n)
{
    bool upper = n >= 4, lower = true;
    for (size_t i = 0; i < n; i++) {
        upper = upper && w[i] >= 'A' && w[i] <= 'Z';
        lower = lower && w[i] >= 'a' && w[i] <= 'z';
    }
    for (size_t i = 0; i < n; i++) {
        char c = w[i];
        if (upper || lower)
            c = i == 0 ? ascii_upper(c) : ascii_lower(c);
        strbuf_append_char(sb, c);
    }
}

/* The make as people say it: "NIKON CORPORATION" -> "Nikon". */
static void clean_make(strbuf *dst, const char *raw)
{
    for (size_t i = 0; i < sizeof make_table / sizeof make_table[0]; i++)
        if (starts_with_words_ci(raw, make_table[i].key, strlen(make_table[i].key))) {
            strbuf_append(dst, make_table[i].name);
            return;
        }
    /* Keep words up to the last one that is not company form (the first word
     * always stays, so a make is never emptied). */
    size_t keep_end = 0;
    for (size_t i = 0; raw[i];) {
        while (is_word_sep(raw[i]))
            i++;
        size_t start = i;
        while (raw[i] && !is_word_sep(raw[i]))
            i++;
        if (i > start && (keep_end == 0 || !is_company_word(raw + start, i - start)))
            keep_end = i;
    }
    for (size_t i = 0; i < keep_end;) {
        while (is_word_sep(raw[i]))
            i++;
        size_t start = i;
        while (i < keep_end && !is_word_sep(raw[i]))
            i++;
        if (dst->len > 0)
            strbuf_append_char(dst, ' ');
        append_brand_word(dst, raw + start, i - start);
    }
}

/* The model without a leading repeat of the make ("Canon EOS 5D" with make
 * "Canon" -> "EOS 5D"); the longest matching spelling of the make wins. */
static const char *model_rest(const char *model, const char *raw_make, const char *make)
{
    size_t first_word = strcspn(raw_make, " ,");
    const struct { const char *s; size_t n; } spellings[] = {
        {raw_make, strlen(raw_make)}, {make, strlen(make)}, {raw_make, first_word},
    };
    size_t best = 0;
    for (size_t i = 0; i < sizeof spellings / sizeof spellings[0]; i++)
        if (spellings[i].n > best && starts_with_words_ci(model, spellings[i].s, spellings[i].n))
            best = spellings[i].n;
    model += best;
    if (best > 0)
        model += strspn(model, " -_");
    return model;
}

typedef struct camera_text {
    strbuf make;    /* "Nikon" */
    strbuf model;   /* "D750" */
} camera_text;

static void camera_from_exif(const cs_exif *exif, camera_text *cam)
{
    strbuf raw_make, raw_model;
    strbuf_init(&raw_make);
    strbuf_init(&raw_model);
    append_clean(&raw_make, exif->make, sizeof exif->make);
    append_clean(&raw_model, exif->model, sizeof exif->model);
    clean_make(&cam->make, strbuf_str(&raw_make));
    strbuf_append(&cam->model,
                  model_rest(strbuf_str(&raw_model), strbuf_str(&raw_make), strbuf_str(&cam->make)));
    if (strbuf_failed(&raw_make) || strbuf_failed(&raw_model))
        cam->make.failed = true;
    strbuf_free(&raw_make);
    strbuf_free(&raw_model);
}

/* "Canon EOS 5D", "Canon camera" (no model) or "D750" (no make). */
static void append_camera_phrase(strbuf *sb, const camera_text *cam)
{
    const char *make = strbuf_str(&cam->make), *model = strbuf_str(&cam->model);
    strbuf_append(sb, starts_with_vowel(*make ? make : model) ? "an " : "a ");
    strbuf_append(sb, make);
    if (*make)
        strbuf_append(sb, *model ? " " : " camera");
    strbuf_append(sb, model);
}

/* ---------- the sentence ---------- */

static void append_capitalised(strbuf *sb, const char *word)
{
    if (!*word)
        return;
    strbuf_append_char(sb, ascii_upper(word[0]));
    strbuf_append(sb, word + 1);
}

static void append_subject(strbuf *sb, const char *shape, bool photo)
{
    const char *adjective = shape && strcmp(shape, "panorama") == 0 ? "panoramic" : shape;
    const char *noun = photo ? "photo" : "image";
    strbuf_append(sb, starts_with_vowel(adjective ? adjective : noun) ? "An " : "A ");
    if (adjective) {
        strbuf_append(sb, adjective);
        strbuf_append_char(sb, ' ');
    }
    strbuf_append(sb, noun);
}

/* "taken on a summer evening, Sunday 4 July 2021" */
static void append_date(strbuf *sb, const caption_date_words *d)
{
    strbuf_append(sb, ", taken on ");
    strbuf_append(sb, starts_with_vowel(d->season) ? "an " : "a ");
    strbuf_appendf(sb, "%s %s, ", d->season, d->time_of_day);
    append_capitalised(sb, d->weekday);
    strbuf_appendf(sb, " %d ", d->day);
    append_capitalised(sb, d->month);
    strbuf_appendf(sb, " %s", d->year);
}

/* Space-separated words, skipping empty ones. */
static void append_word(strbuf *sb, const char *word)
{
    if (!word || !*word)
        return;
    if (sb->len > 0)
        strbuf_append_char(sb, ' ');
    strbuf_append(sb, word);
}

static void append_lower_words(strbuf *sb, const char *words)
{
    if (!*words)
        return;
    if (sb->len > 0)
        strbuf_append_char(sb, ' ');
    for (const char *p = words; *p; p++)
        strbuf_append_char(sb, ascii_lower(*p));
}

typedef struct known_facts {
    const char *shape;        /* NULL when the size is unknown */
    bool has_date;
    caption_date_words date;
    bool has_camera;
    camera_text camera;
    bool photo;               /* "photo" rather than "image" */
} known_facts;

static void gather(const caption_facts *f, known_facts *k)
{
    k->shape = caption_shape_word(f->width, f->height);
    const cs_exif *exif = f->exif;
    k->has_date = false;
    if (exif && exif->has_taken_at) {
        bool southern = exif->has_gps && isfinite(exif->latitude) && exif->latitude < 0.0;
        caption_date_words_for(exif->taken_at, southern, &k->date);
        k->has_date = k->date.day != 0;
    }
    if (exif)
        camera_from_exif(exif, &k->camera);
    k->has_camera = k->camera.make.len > 0 || k->camera.model.len > 0;
    /* A camera, or a format cameras write, says photograph; a bare PNG or GIF
     * is more likely a screenshot or a graphic. */
    k->photo = k->has_camera || f->format == CS_FORMAT_JPEG || f->format == CS_FORMAT_HEIF;
}

static void add_fact_tags(const caption_facts *f, const known_facts *k, caption_result *out)
{
    add_tag(out, k->shape, 1.0f, "shape");
    if (k->has_date) {
        add_tag(out, k->date.year, 1.0f, "date");
        add_tag(out, k->date.month, 1.0f, "date");
        add_tag(out, k->date.season, 1.0f, "date");
        add_tag(out, k->date.time_of_day, 1.0f, "date");
    }
    add_tag(out, strbuf_str(&k->camera.make), 1.0f, "camera");
    add_tag(out, strbuf_str(&k->camera.model), 1.0f, "camera");
    add_tag(out, f->format != CS_FORMAT_UNKNOWN ? image_format_name(f->format) : NULL, 1.0f,
            "format");
}

static void build_sentence(strbuf *sb, const known_facts *k, const caption_result *out)
{
    append_subject(sb, k->shape, k->photo);
    append_colors(sb, out);
    if (k->has_date) {
        append_date(sb, &k->date);
        if (k->has_camera)
            strbuf_append(sb, ", with ");
    } else if (k->has_camera) {
        strbuf_append(sb, ", taken with ");
    }
    if (k->has_camera)
        append_camera_phrase(sb, &k->camera);
    strbuf_append_char(sb, '.');
}

static void build_exif_text(strbuf *sb, const known_facts *k)
{
    if (k->has_date) {
        append_word(sb, k->date.year);
        append_word(sb, k->date.month);
        append_word(sb, k->date.weekday);
        strbuf_appendf(sb, " %d", k->date.day);
        append_word(sb, k->date.season);
        append_word(sb, k->date.time_of_day);
    }
    append_lower_words(sb, strbuf_str(&k->camera.make));
    append_lower_words(sb, strbuf_str(&k->camera.model));
}

static void build_tags_text(strbuf *sb, const caption_result *out)
{
    for (int i = 0; i < out->ntags; i++)
        append_word(sb, out->tags[i].name);
}

static cs_status check_facts(const caption_facts *f, const caption_result *out, cs_error *err)
{
    if (!f || !out)
        return cs_error_set(err, CS_ERR_INVALID, "caption: no facts or no result given");
    if (f->ncolors < 0 || (f->ncolors > 0 && !f->colors))
        return cs_error_set(err, CS_ERR_INVALID, "caption: %d colours given without an array",
                            f->ncolors);
    return CS_OK;
}

cs_status caption_from_metadata(const caption_facts *facts, caption_result *out, cs_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    cs_status rc = check_facts(facts, out, err);
    if (rc != CS_OK)
        return rc;
    known_facts k;
    strbuf_init(&k.camera.make);
    strbuf_init(&k.camera.model);
    gather(facts, &k);
    rc = add_color_tags(facts, out, err);
    add_fact_tags(facts, &k, out);

    strbuf caption, tags, exif;
    strbuf_init(&caption);
    strbuf_init(&tags);
    strbuf_init(&exif);
    build_sentence(&caption, &k, out);
    build_tags_text(&tags, out);
    build_exif_text(&exif, &k);
    bool failed = strbuf_failed(&k.camera.make) || strbuf_failed(&k.camera.model);
    strbuf_free(&k.camera.make);
    strbuf_free(&k.camera.model);
    out->caption = strbuf_take(&caption);
    out->tags_text = strbuf_take(&tags);
    out->exif_text = strbuf_take(&exif);
    if (rc == CS_OK && (failed || !out->caption || !out->tags_text || !out->exif_text))
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory composing a caption");
    if (rc != CS_OK)
        caption_result_free(out);
    return rc;
}

void caption_result_free(caption_result *result)
{
    if (!result)
        return;
    free(result->caption);
    free(result->tags_text);
    free(result->exif_text);
    memset(result, 0, sizeof *result);
}

cs_status caption_add_findings(caption_result *out, const char *sentence,
                               const caption_tag *tags, int ntags, cs_error *err)
{
    if (!out || ntags < 0 || (ntags > 0 && !tags))
        return cs_error_set(err, CS_ERR_INVALID, "caption: no result or tags given");
    if (ntags > CAPTION_MAX_FINDING_TAGS)
        return cs_error_set(err, CS_ERR_INVALID, "caption: %d tags found, at most %d fit",
                            ntags, CAPTION_MAX_FINDING_TAGS);
    caption_result merged = *out;
    merged.ntags = 0;
    for (int i = 0; i < ntags; i++)
        add_tag(&merged, tags[i].name, tags[i].score, tags[i].kind);
    for (int i = 0; i < out->ntags; i++)
        add_tag(&merged, out->tags[i].name, out->tags[i].score, out->tags[i].kind);
    strbuf caption, tags_text;
    strbuf_init(&caption);
    strbuf_init(&tags_text);
    if (sentence && *sentence) {
        strbuf_append(&caption, sentence);
        strbuf_append(&caption, ". ");
    }
    strbuf_append(&caption, out->caption ? out->caption : "");
    build_tags_text(&tags_text, &merged);
    if (strbuf_failed(&caption) || strbuf_failed(&tags_text)) {
        strbuf_free(&caption);
        strbuf_free(&tags_text);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory composing a caption");
    }
    free(out->caption);
    free(out->tags_text);
    merged.caption = strbuf_take(&caption);
    merged.tags_text = strbuf_take(&tags_text);
    *out = merged;
    return CS_OK;
}
