/* Turning user text into a safe FTS5 MATCH expression (rules in ftsquery.h).
 *
 * Safety comes from the output shape alone: the only things emitted are
 * double-quoted strings (inner quotes doubled), the operators OR and NOT, one
 * pair of parentheses around each side of NOT, and "*" right after a closing
 * quote. FTS5 never sees a bareword, a column filter, ^, + or NEAR from the
 * user, so no input can be a syntax error. */
#include "search/ftsquery.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"

typedef struct fts_term {
    size_t off, len;     /* rendered text ("dog", "red car", "beac" *) in the arena */
    const char *text;    /* arena pointer, set once the arena stops growing */
    size_t order;        /* position in the input: output keeps it */
    bool exclude;        /* typed as -word */
    bool stop;           /* a lone stop word */
    bool dup;            /* same as an earlier term */
    bool plain;          /* a bare word (no quotes, no *): may be expanded */
    size_t word_off, word_len;   /* the word in the input, when plain */
    size_t src_start, src_end;   /* all it took of the input, dashes and stars too */
} fts_term;

typedef struct parser {
    const unsigned char *s;
    size_t i;
    strbuf arena;
    fts_term *terms;
    size_t nterms, cap;
    bool nomem;
} parser;

/* ---------- characters ---------- */

static bool ascii_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Length of the valid UTF-8 sequence at s, 0 if none. The text is
 * NUL-terminated; strnlen keeps the look-ahead inside it. */
static size_t utf8_len(const unsigned char *s)
{
    return utf8_sequence_length(s, strnlen((const char *)s, 4));
}

/* Quote marks that open or close a phrase: ASCII ", the typographic
 * double quotes phones insert (“ ” „), guillemets « » and fullwidth ＂. */
static size_t quote_len(const unsigned char *s)
{
    if (s[0] == '"')
        return 1;
    if (s[0] == 0xC2 && (s[1] == 0xAB || s[1] == 0xBB))
        return 2;
    if (s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x9C && s[2] <= 0x9E)
        return 3;
    if (s[0] == 0xEF && s[1] == 0xBC && s[2] == 0x82)
        return 3;
    return 0;
}

/* Bytes of the word character at s (ASCII letter/digit or any valid non-ASCII
 * character that is not a quote mark), 0 if s is not one. */
static size_t word_char_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return ascii_alnum(s[0]) ? 1 : 0;
    return quote_len(s) ? 0 : utf8_len(s);
}

/* ' - . between two word characters keep one word (dog's, t-shirt, 3.5):
 * FTS5 then reads it as a phrase, matching what the index tokenized. */
static bool is_joiner(unsigned char c) { return c == '\'' || c == '-' || c == '.'; }

static size_t scan_word(const unsigned char *s, size_t i)
{
    for (;;) {
        size_t len = word_char_len(s + i);
        if (len == 0 && is_joiner(s[i]) && word_char_len(s + i + 1))
            len = 1;
        if (len == 0)
            return i;
        i += len;
    }
}

/* ---------- stop words ---------- */

/* Common English function words, plus the nouns people put in front of a
 * search ("photos of ...", "picture of ...") which every image matches. */
static const char *const stop_words[] = {
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at",
    "be", "been", "being", "both", "but", "by", "can", "could", "did", "do", "does",
    "each", "for", "from", "had", "has", "have", "he", "her", "here", "hers", "him",
    "his", "how", "i", "if", "image", "images", "in", "into", "is", "it", "its",
    "just", "me", "my", "nor", "not", "of", "on", "or", "our", "ours", "pic", "pics",
    "photo", "photos", "picture", "pictures", "she", "so", "some", "such", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those",
    "to", "too", "us", "very", "was", "we", "were", "what", "when", "where", "which",
    "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours",
};

static bool is_stop_word(const unsigned char *w, size_t n)
{
    for (size_t k = 0; k < sizeof stop_words / sizeof stop_words[0]; k++) {
        const char *sw = stop_words[k];
        if (strlen(sw) != n)
            continue;
        size_t j = 0;
        while (j < n && (w[j] | 0x20) == (unsigned char)sw[j])
            j++;
        if (j == n)
            return true;
    }
    return false;
}

/* ---------- terms ---------- */

static void append_escaped(strbuf *sb, const unsigned char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (s[k] == '"')
            strbuf_append_char(sb, '"');   /* FTS5 string escape: "" */
        strbuf_append_char(sb, (char)s[k]);
    }
}

static fts_term *new_term(parser *p, bool exclude)
{
    if (p->nterms == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        fts_term *t = cap < p->cap || cap > (size_t)-1 / sizeof *t
                          ? NULL
                          : realloc(p->terms, cap * sizeof *t);
        if (!t) {
            p->nomem = true;
            return NULL;
        }
        p->terms = t;
        p->cap = cap;
    }
    fts_term *t = &p->terms[p->nterms];
    *t = (fts_term){.off = p->arena.len, .order = p->nterms, .exclude = exclude};
    return t;
}

/* Consumes any '*' after a word or phrase; true when there was one. */
static bool take_star(parser *p)
{
    if (p->s[p->i] != '*')
        return false;
    while (p->s[p->i] == '*')
        p->i++;
    return true;
}

static void finish_term(parser *p, fts_term *t, bool prefix)
{
    if (prefix)
        strbuf_append(&p->arena, " *");
    t->len = p->arena.len - t->off;
    p->nterms++;
}

static void parse_word(parser *p, bool exclude)
{
    size_t start = p->i, end = scan_word(p->s, start);
    p->i = end;
    bool prefix = take_star(p);
    fts_term *t = new_term(p, exclude);
    if (!t)
        return;
    t->stop = !prefix && is_stop_word(p->s + start, end - start);
    t->plain = !prefix;
    t->word_off = start;
    t->word_len = end - start;
    strbuf_append_char(&p->arena, '"');
    append_escaped(&p->arena, p->s + start, end - start);
    strbuf_append_char(&p->arena, '"');
    finish_term(p, t, prefix);
}

/* A quoted phrase: its words, one space apart, in one FTS5 string. An
 * unclosed quote runs to the end of the text; a phrase with no words is
 * nothing to search and adds no term. */
static void parse_phrase(parser *p, bool exclude)
{
    p->i += quote_len(p->s + p->i);
    size_t start = p->i, end = p->i, words = 0;
    while (p->s[p->i]) {
        size_t q = quote_len(p->s + p->i);
        if (q) {
            p->i += q;
            break;
        }
        if (word_char_len(p->s + p->i)) {
            p->i = scan_word(p->s, p->i);
            words++;
        } else {
            p->i++;
        }
        end = p->i;
    }
    bool prefix = take_star(p);
    if (words == 0)
        return;
    fts_term *t = new_term(p, exclude);
    if (!t)
        return;
    strbuf_append_char(&p->arena, '"');
    for (size_t k = start, n = 0; k < end;) {
        if (!word_char_len(p->s + k)) {
            k++;
            continue;
        }
        size_t stop = scan_word(p->s, k);
        if (n++)
            strbuf_append_char(&p->arena, ' ');
        append_escaped(&p->arena, p->s + k, stop - k);
        k = stop;
    }
    strbuf_append_char(&p->arena, '"');
    finish_term(p, t, prefix);
}

/* True when the character ending just before s[j] is a word character. */
static bool word_char_before(const unsigned char *s, size_t j)
{
    size_t start = j;
    while (start > 0 && j - start < 4) {
        start--;
        if ((s[start] & 0xC0) != 0x80)
            return word_char_len(s + start) == j - start;
    }
    return false;
}

/* A '-' starts an exclusion only where a word could start (start of text or
 * after a non-word character), so "t-shirt" and "beach--sunset" exclude
 * nothing. Moves past the dashes; true when they make an exclusion. */
static bool take_exclusion(parser *p)
{
    size_t j = p->i;
    if (p->s[j] != '-')
        return false;
    bool word_before = word_char_before(p->s, j);
    while (p->s[j] == '-')
        j++;
    p->i = j;
    return !word_before && (word_char_len(p->s + j) || quote_len(p->s + j));
}

static void parse(parser *p)
{
    while (p->s[p->i] && !p->nomem) {
        size_t start = p->i, nterms = p->nterms;
        bool exclude = take_exclusion(p);
        if (quote_len(p->s + p->i))
            parse_phrase(p, exclude);
        else if (word_char_len(p->s + p->i))
            parse_word(p, exclude);
        else if (p->s[p->i])
            p->i++;   /* punctuation, control characters, invalid UTF-8 */
        if (p->nterms > nterms) {
            p->terms[nterms].src_start = start;
            p->terms[nterms].src_end = p->i;
        }
    }
}

/* ---------- output ---------- */

static int compare_ci(const fts_term *a, const fts_term *b)
{
    size_t n = a->len < b->len ? a->len : b->len;
    for (size_t k = 0; k < n; k++) {
        unsigned char x = (unsigned char)a->text[k], y = (unsigned char)b->text[k];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return (a->len > b->len) - (a->len < b->len);
}

static int compare_terms(const void *pa, const void *pb)
{
    const fts_term *a = *(const fts_term *const *)pa, *b = *(const fts_term *const *)pb;
    if (a->exclude != b->exclude)
        return a->exclude ? 1 : -1;
    int c = compare_ci(a, b);
    if (c)
        return c;
    return (a->order > b->order) - (a->order < b->order);
}

/* Marks repeats (FTS5 case-folds, so Dog and dog are one term): a pasted text
 * repeating a word must not grow the expression. */
static bool mark_duplicates(parser *p)
{
    if (p->nterms < 2)
        return true;
    fts_term **sorted = malloc(p->nterms * sizeof *sorted);
    if (!sorted)
        return false;
    for (size_t k = 0; k < p->nterms; k++)
        sorted[k] = &p->terms[k];
    qsort(sorted, p->nterms, sizeof *sorted, compare_terms);
    for (size_t k = 1; k < p->nterms; k++)
        if (sorted[k]->exclude == sorted[k - 1]->exclude && compare_ci(sorted[k], sorted[k - 1]) == 0)
            sorted[k]->dup = true;
    free(sorted);
    return true;
}

/* Alternatives of one word, rendered: `same` is ' OR '-ready phrases
 * searched everywhere, `related` the phrases for the related column. */
struct fts_alternatives {
    const fts_term *term;
    const unsigned char *word;
    size_t word_len;
    strbuf same, related;
    size_t nsame, nrelated;
    char *seen[FTS_MAX_ALTERNATIVES + 1];   /* rendered, for repeats */
    size_t nseen;
    bool nomem;
};

static void free_alternatives(fts_alternatives *a)
{
    if (!a)
        return;
    strbuf_free(&a->same);
    strbuf_free(&a->related);
    for (size_t i = 0; i < a->nseen; i++)
        free(a->seen[i]);
}

/* Appends the terms of one side joined by OR; returns how many. A term with
 * alternatives (alts[k], may be NULL) brings them along. */
static size_t append_side(strbuf *sb, const parser *p, fts_alternatives *const *alts,
                          bool exclude, bool skip_stop)
{
    size_t count = 0;
    for (size_t k = 0; k < p->nterms; k++) {
        const fts_term *t = &p->terms[k];
        if (t->exclude != exclude || t->dup || (skip_stop && t->stop))
            continue;
        if (count++)
            strbuf_append(sb, " OR ");
        strbuf_append_n(sb, t->text, t->len);
        const fts_alternatives *a = alts ? alts[k] : NULL;
        if (!a)
            continue;
        if (a->nsame) {
            strbuf_append(sb, " OR ");
            strbuf_append(sb, strbuf_str(&a->same));
        }
        if (a->nrelated) {
            strbuf_append(sb, " OR " FTS_RELATED_COLUMN " : (");
            strbuf_append(sb, strbuf_str(&a->related));
            strbuf_append_char(sb, ')');
        }
    }
    return count;
}

typedef enum expression_of {
    EXPRESSION_WORDS,           /* the words, NOT the exclusions */
    EXPRESSION_EXCLUDED_ALONE,  /* the exclusions, when there are no words */
    EXPRESSION_EXCLUDED,        /* the exclusions */
} expression_of;

/* The expression of the text's words or of its exclusions (`of`): "" when
 * there is none. */
static char *build_expression(const parser *p, fts_alternatives *const *alts, expression_of of)
{
    bool any_content = false;
    size_t npos = 0, nneg = 0;
    for (size_t k = 0; k < p->nterms; k++) {
        const fts_term *t = &p->terms[k];
        if (t->dup)
            continue;
        if (t->exclude)
            nneg++;
        else
            npos++;
        any_content = any_content || (!t->exclude && !t->stop);
    }
    strbuf sb;
    strbuf_init(&sb);
    if (of != EXPRESSION_WORDS) {
        if (npos == 0 || of == EXPRESSION_EXCLUDED)
            append_side(&sb, p, NULL, true, false);
        return strbuf_take(&sb);
    }
    if (npos == 0)
        return strbuf_take(&sb);   /* "": caller turns it into NULL */
    if (nneg)
        strbuf_append_char(&sb, '(');
    append_side(&sb, p, alts, false, any_content);   /* stop words only when alone */
    if (nneg) {
        strbuf_append(&sb, ") NOT ");
        /* one NOT whose right side ORs the exclusions: a chain of NOTs would
         * nest once per exclusion and FTS5 limits expression depth */
        if (nneg > 1)
            strbuf_append_char(&sb, '(');
        append_side(&sb, p, NULL, true, false);
        if (nneg > 1)
            strbuf_append_char(&sb, ')');
    }
    return strbuf_take(&sb);
}

/* ---------- expansion ---------- */

static bool same_text_ci(const char *a, const char *b)
{
    for (;; a++, b++) {
        unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
        if (!x)
            return true;
    }
}

void fts_alternatives_add(fts_alternatives *a, const char *text, bool same_weight)
{
    if (!a || !text || a->nomem || a->nseen >= FTS_MAX_ALTERNATIVES)
        return;
    /* the same rendering as a typed phrase: its words, one space apart */
    strbuf phrase;
    strbuf_init(&phrase);
    const unsigned char *s = (const unsigned char *)text;
    size_t words = 0;
    for (size_t k = 0; s[k];) {
        if (!word_char_len(s + k)) {
            k++;
            continue;
        }
        size_t stop = scan_word(s, k);
        if (words++)
            strbuf_append_char(&phrase, ' ');
        append_escaped(&phrase, s + k, stop - k);
        k = stop;
    }
    if (strbuf_failed(&phrase)) {
        a->nomem = true;
        strbuf_free(&phrase);
        return;
    }
    const char *rendered = strbuf_str(&phrase);
    char word[256];
    size_t wl = a->word_len < sizeof word - 1 ? a->word_len : sizeof word - 1;
    memcpy(word, a->word, wl);
    word[wl] = '\0';
    bool repeat = words == 0 || same_text_ci(rendered, word);
    for (size_t i = 0; !repeat && i < a->nseen; i++)
        repeat = same_text_ci(rendered, a->seen[i]);
    if (repeat) {
        strbuf_free(&phrase);
        return;
    }
    strbuf *out = same_weight ? &a->same : &a->related;
    size_t *count = same_weight ? &a->nsame : &a->nrelated;
    if ((*count)++)
        strbuf_append(out, " OR ");
    strbuf_append_char(out, '"');
    strbuf_append(out, rendered);
    strbuf_append_char(out, '"');
    a->seen[a->nseen++] = strbuf_take(&phrase);
    if (!a->seen[a->nseen - 1] || strbuf_failed(out))
        a->nomem = true;
}

/* Runs the expander over the plain words of the positive side. */
static cs_status expand_terms(const parser *p, fts_expand_fn expand, void *user,
                              fts_alternatives **alts, cs_error *err)
{
    size_t expanded = 0;
    for (size_t k = 0; k < p->nterms && expanded < FTS_MAX_EXPANDED_WORDS; k++) {
        const fts_term *t = &p->terms[k];
        if (!t->plain || t->exclude || t->dup || t->stop)
            continue;
        fts_alternatives *a = calloc(1, sizeof *a);
        if (!a)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory expanding the query");
        alts[k] = a;
        a->term = t;
        a->word = p->s + t->word_off;
        a->word_len = t->word_len;
        strbuf_init(&a->same);
        strbuf_init(&a->related);
        cs_status rc = expand((const char *)a->word, a->word_len, a, user, err);
        if (rc != CS_OK)
            return rc;
        if (a->nomem)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory expanding the query");
        expanded++;
    }
    return CS_OK;
}

/* Checks the arguments, clears *out and parses the text into *p (whose
 * arena and terms the caller frees). */
static cs_status parse_text(const char *user_text, char **out, parser *p, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "fts query: no output pointer");
    *out = NULL;
    if (!user_text)
        return cs_error_set(err, CS_ERR_INVALID, "fts query: no query text");
    *p = (parser){.s = (const unsigned char *)user_text};
    strbuf_init(&p->arena);
    parse(p);
    return CS_OK;
}

static cs_status build(const char *user_text, fts_expand_fn expand, void *user,
                       expression_of of, char **out, cs_error *err)
{
    parser p;
    cs_status checked = parse_text(user_text, out, &p, err);
    if (checked != CS_OK)
        return checked;
    char *expr = NULL;
    fts_alternatives **alts = NULL;
    cs_status rc = CS_OK;
    bool ok = !p.nomem && !strbuf_failed(&p.arena);
    if (ok) {
        for (size_t k = 0; k < p.nterms; k++)
            p.terms[k].text = strbuf_str(&p.arena) + p.terms[k].off;
        ok = mark_duplicates(&p);
    }
    if (ok && expand && p.nterms) {
        /* stop words count as content only when something else is there:
         * mark them as build_expression will treat them */
        bool any_content = false;
        for (size_t k = 0; k < p.nterms; k++)
            any_content = any_content || (!p.terms[k].exclude && !p.terms[k].stop && !p.terms[k].dup);
        alts = calloc(p.nterms, sizeof *alts);
        ok = alts != NULL;
        if (ok && any_content)
            rc = expand_terms(&p, expand, user, alts, err);
    }
    if (ok && rc == CS_OK) {
        expr = build_expression(&p, alts, of);
        ok = expr != NULL;
    }
    for (size_t k = 0; alts && k < p.nterms; k++) {
        free_alternatives(alts[k]);
        free(alts[k]);
    }
    free(alts);
    free(p.terms);
    strbuf_free(&p.arena);
    if (rc != CS_OK) {
        free(expr);
        return rc;
    }
    if (!ok)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the text query");
    if (!*expr) {
        free(expr);   /* nothing to search for */
        return CS_OK;
    }
    *out = expr;
    return CS_OK;
}

cs_status fts_query_build(const char *user_text, char **out, cs_error *err)
{
    return build(user_text, NULL, NULL, EXPRESSION_WORDS, out, err);
}

cs_status fts_query_build_excluded(const char *user_text, char **out, cs_error *err)
{
    return build(user_text, NULL, NULL, EXPRESSION_EXCLUDED_ALONE, out, err);
}

cs_status fts_query_exclusions(const char *user_text, char **out, cs_error *err)
{
    return build(user_text, NULL, NULL, EXPRESSION_EXCLUDED, out, err);
}

cs_status fts_query_tower_text(const char *user_text, char **out, cs_error *err)
{
    parser p;
    cs_status checked = parse_text(user_text, out, &p, err);
    if (checked != CS_OK)
        return checked;
    strbuf kept;
    strbuf_init(&kept);
    bool space = false;
    size_t k = 0;
    for (size_t i = 0; user_text[i] && !p.nomem;) {
        while (k < p.nterms && p.terms[k].src_end <= i)
            k++;
        bool in_term = k < p.nterms && p.terms[k].src_start <= i;
        size_t skip = 0;
        if (in_term && p.terms[k].exclude)
            skip = p.terms[k].src_end - i;   /* the exclusion, dashes to stars */
        else if ((skip = quote_len((const unsigned char *)user_text + i)) == 0 &&
                 ((in_term && user_text[i] == '*') || strchr(" \t\r\n\f\v", user_text[i])))
            skip = 1;   /* a prefix's star, white space */
        if (skip) {
            i += skip;
            space = true;
            continue;
        }
        if (space && kept.len)
            strbuf_append_char(&kept, ' ');
        space = false;
        strbuf_append_char(&kept, user_text[i++]);
    }
    bool ok = !p.nomem && !strbuf_failed(&kept);
    free(p.terms);
    strbuf_free(&p.arena);
    if (!ok) {
        strbuf_free(&kept);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the query's syntax");
    }
    if (strcmp(strbuf_str(&kept), user_text) == 0) {
        strbuf_free(&kept);   /* nothing to take out */
        return CS_OK;
    }
    *out = strbuf_take(&kept);
    return *out ? CS_OK : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
}

cs_status fts_query_build_expanded(const char *user_text, fts_expand_fn expand, void *user,
                                   char **out, cs_error *err)
{
    return build(user_text, expand, user, EXPRESSION_WORDS, out, err);
}

/* Each text rendered as a typed phrase would be (its words, one space
 * apart), then the same dedup and output as typed text. */
cs_status fts_query_build_phrases(const char *const *texts, const bool *exclude, size_t n,
                                  char **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "fts query: no output pointer");
    *out = NULL;
    if (n && (!texts || !exclude))
        return cs_error_set(err, CS_ERR_INVALID, "fts query: no phrases given");
    parser p = {.s = (const unsigned char *)""};
    strbuf_init(&p.arena);
    for (size_t i = 0; i < n && !p.nomem; i++) {
        const unsigned char *s = (const unsigned char *)texts[i];
        size_t words = 0;
        for (size_t k = 0; s[k]; k++)
            if (word_char_len(s + k)) {
                words = 1;
                break;
            }
        if (!words)
            continue;
        fts_term *t = new_term(&p, exclude[i]);
        if (!t)
            break;
        strbuf_append_char(&p.arena, '"');
        for (size_t k = 0, w = 0; s[k];) {
            if (!word_char_len(s + k)) {
                k++;
                continue;
            }
            size_t stop = scan_word(s, k);
            if (w++)
                strbuf_append_char(&p.arena, ' ');
            append_escaped(&p.arena, s + k, stop - k);
            k = stop;
        }
        strbuf_append_char(&p.arena, '"');
        finish_term(&p, t, false);
    }
    bool ok = !p.nomem && !strbuf_failed(&p.arena);
    char *expr = NULL;
    if (ok) {
        for (size_t k = 0; k < p.nterms; k++)
            p.terms[k].text = strbuf_str(&p.arena) + p.terms[k].off;
        ok = mark_duplicates(&p);
    }
    if (ok)
        ok = (expr = build_expression(&p, NULL, EXPRESSION_WORDS)) != NULL;
    free(p.terms);
    strbuf_free(&p.arena);
    if (!ok)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory building the text query");
    if (!*expr) {
        free(expr);
        return CS_OK;
    }
    *out = expr;
    return CS_OK;
}
