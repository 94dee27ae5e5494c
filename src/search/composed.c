/* Recognising and parsing composed queries (rules in composed.h). Two
 * passes over the text: the first only checks the shape and counts terms,
 * so a pasted text of ten thousand terms costs one scan and no memory; the
 * second copies the terms out. */
#include "search/composed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Longest weight text read as a number ("100.000000" fits): longer is
 * refused, not converted. */
#define MAX_WEIGHT_CHARS 24

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t skip_space(const char *s, size_t i)
{
    while (is_space(s[i]))
        i++;
    return i;
}

typedef struct span {
    size_t off, len;
} span;

typedef struct raw_term {
    span weight;        /* len 0 and has_weight false: no weight given */
    bool has_weight;
    span text;
    bool negative;
} raw_term;

/* One term at s[i]: fills *t and returns the index after its closing
 * quote, or 0 when s[i] does not start a term (the text is then plain). */
static size_t scan_term(const char *s, size_t i, raw_term *t)
{
    *t = (raw_term){0};
    if (s[i] != '"') {
        size_t j = i;
        while (s[j] && !is_space(s[j]) && s[j] != '"' && s[j] != ':')
            j++;
        if (s[j] != ':' || s[j + 1] != '"')
            return 0;
        t->has_weight = true;
        t->weight = (span){i, j - i};
        i = j + 1;
    }
    const char *close = strchr(s + i + 1, '"');
    if (!close)
        return 0;   /* unbalanced: plain text, where it runs to the end */
    t->text = (span){i + 1, (size_t)(close - (s + i + 1))};
    return (size_t)(close - s) + 1;
}

/* Walks the shape, filling terms[0..max) when `terms` is not NULL.
 * Returns the number of terms, or 0 when the text is not composed. */
static size_t walk(const char *s, raw_term *terms, size_t max)
{
    size_t n = 0, i = skip_space(s, 0);
    bool negative = false;
    for (;;) {
        raw_term t;
        size_t next = scan_term(s, i, &t);
        if (!next)
            return 0;
        t.negative = negative;
        if (terms && n < max)
            terms[n] = t;
        n++;
        i = skip_space(s, next);
        if (!s[i])
            break;
        if (s[i] != '+' && s[i] != '-')
            return 0;
        negative = s[i] == '-';
        i = skip_space(s, i + 1);
    }
    return n >= 2 ? n : 0;
}

/* The weight's value, or a negative number when it is not a decimal
 * number in (0, COMPOSED_MAX_WEIGHT]. Digits and one '.' only: no sign,
 * exponent, hex, inf or nan reach strtod. */
static double weight_value(const char *s, span w)
{
    if (w.len == 0 || w.len > MAX_WEIGHT_CHARS)
        return -1.0;
    char buf[MAX_WEIGHT_CHARS + 1];
    size_t digits = 0, dots = 0;
    for (size_t k = 0; k < w.len; k++) {
        char c = s[w.off + k];
        if (c >= '0' && c <= '9')
            digits++;
        else if (c == '.')
            dots++;
        else
            return -1.0;
        buf[k] = c;
    }
    buf[w.len] = '\0';
    if (digits == 0 || dots > 1)
        return -1.0;
    double v = strtod(buf, NULL);
    return v > 0.0 && v <= COMPOSED_MAX_WEIGHT && isfinite(v) ? v : -1.0;
}

static bool blank(const char *s, span t)
{
    for (size_t k = 0; k < t.len; k++)
        if (!is_space(s[t.off + k]))
            return false;
    return true;
}

void composed_free(composed_query *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++)
        free(q->terms[i].text);
    free(q->terms);
    free(q);
}

/* Checks every term and copies it into q (q->terms has room for n). */
static cs_status copy_terms(const char *s, const raw_term *raw, size_t n, composed_query *q,
                            cs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const raw_term *t = &raw[i];
        double w = 1.0;
        if (t->has_weight && (w = weight_value(s, t->weight)) < 0.0) {
            int shown = t->weight.len > 40 ? 40 : (int)t->weight.len;
            return cs_error_set(err, CS_ERR_INVALID,
                                "term %zu of the composed query has the weight '%.*s%s': "
                                "write a number above 0 and at most %g before the colon, "
                                "as in 2:\"dog\" or 0.5:\"snow\"",
                                i + 1, shown, s + t->weight.off,
                                t->weight.len > 40 ? "..." : "", COMPOSED_MAX_WEIGHT);
        }
        if (blank(s, t->text))
            return cs_error_set(err, CS_ERR_INVALID,
                                "term %zu of the composed query is empty: put words between "
                                "its quotes or leave it out", i + 1);
        char *text = malloc(t->text.len + 1);
        if (!text)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the query");
        memcpy(text, s + t->text.off, t->text.len);
        text[t->text.len] = '\0';
        q->terms[q->n++] = (cs_query_term){text, t->negative ? -w : w};
    }
    return CS_OK;
}

cs_status composed_parse(const char *text, composed_query **out, cs_error *err)
{
    *out = NULL;
    if (!text)
        return CS_OK;
    size_t n = walk(text, NULL, 0);
    if (n == 0)
        return CS_OK;
    if (n > CS_MAX_QUERY_TERMS)
        return cs_error_set(err, CS_ERR_INVALID,
                            "a composed query takes at most %d quoted terms; this one has %zu",
                            CS_MAX_QUERY_TERMS, n);
    raw_term raw[CS_MAX_QUERY_TERMS];
    walk(text, raw, CS_MAX_QUERY_TERMS);
    composed_query *q = calloc(1, sizeof *q);
    if (q)
        q->terms = calloc(n, sizeof *q->terms);
    if (!q || !q->terms) {
        composed_free(q);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the query");
    }
    cs_status rc = copy_terms(text, raw, n, q, err);
    if (rc != CS_OK) {
        composed_free(q);
        return rc;
    }
    *out = q;
    return CS_OK;
}
