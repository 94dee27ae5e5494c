/* Parsing and evaluating capsearch's FTS5 expressions (fts_expr.h).
 * Precedence as FTS5's: NOT binds tightest, then AND (also implicit, by
 * juxtaposition), then OR. */
#include "store/fts_expr.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const char *s;
    size_t i;
    fts_expr *e;
    fts_tokenizer *tok;
    const char *const *columns;
    cs_error *err;
    cs_status rc;
    int depth;
} parser;

#define MAX_DEPTH 64

static void skip_space(parser *p)
{
    while (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r')
        p->i++;
}

static bool fail(parser *p, cs_status code, const char *why)
{
    if (p->rc == CS_OK)
        p->rc = cs_error_set(p->err, code, "FTS expression not handled outside FTS5: %s at byte %zu",
                             why, p->i);
    return false;
}

static bool is_bare(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || (unsigned char)c >= 0x80;
}

/* The bareword at the cursor (not consumed); its length, 0 if none. */
static size_t bareword(const parser *p)
{
    size_t n = 0;
    while (is_bare(p->s[p->i + n]))
        n++;
    return n;
}

static bool keyword_at(parser *p, const char *kw)
{
    skip_space(p);
    size_t n = bareword(p);
    return n == strlen(kw) && memcmp(p->s + p->i, kw, n) == 0;
}

static int new_node(parser *p, fts_node node)
{
    fts_expr *e = p->e;
    if (e->nnodes == e->nodes_cap) {
        int cap = e->nodes_cap ? e->nodes_cap * 2 : 16;
        fts_node *n = realloc(e->nodes, (size_t)cap * sizeof *n);
        if (!n) {
            fail(p, CS_ERR_NOMEM, "out of memory");
            return -1;
        }
        e->nodes = n;
        e->nodes_cap = cap;
    }
    e->nodes[e->nnodes] = node;
    return e->nnodes++;
}

static int parse_or(parser *p, uint32_t columns);

/* "quoted text" [*]; inner "" is a quote. */
static int parse_phrase(parser *p, uint32_t columns)
{
    p->i++;
    size_t cap = 16, len = 0;
    char *text = malloc(cap);
    if (!text) {
        fail(p, CS_ERR_NOMEM, "out of memory");
        return -1;
    }
    for (;;) {
        char c = p->s[p->i];
        if (!c) {
            free(text);
            fail(p, CS_ERR_UNSUPPORTED, "unterminated string");
            return -1;
        }
        p->i++;
        if (c == '"') {
            if (p->s[p->i] != '"')
                break;
            p->i++;
        }
        if (len + 2 > cap) {
            char *t = realloc(text, cap *= 2);
            if (!t) {
                free(text);
                fail(p, CS_ERR_NOMEM, "out of memory");
                return -1;
            }
            text = t;
        }
        text[len++] = c;
    }
    text[len] = '\0';
    skip_space(p);
    bool prefix = p->s[p->i] == '*';
    if (prefix)
        p->i++;
    fts_expr *e = p->e;
    if (e->nphrases == FTS_EXPR_MAX_PHRASES) {
        free(text);
        fail(p, CS_ERR_UNSUPPORTED, "too many phrases");
        return -1;
    }
    if (e->nphrases == e->phrases_cap) {
        int cap2 = e->phrases_cap ? e->phrases_cap * 2 : 8;
        fts_phrase *ph = realloc(e->phrases, (size_t)cap2 * sizeof *ph);
        if (!ph) {
            free(text);
            fail(p, CS_ERR_NOMEM, "out of memory");
            return -1;
        }
        e->phrases = ph;
        e->phrases_cap = cap2;
    }
    fts_phrase *ph = &e->phrases[e->nphrases++];
    *ph = (fts_phrase){.prefix = prefix, .columns = columns, .text = text};
    cs_status rc = fts_tokenize(p->tok, prefix ? FTS_TOKENIZE_QUERY_PREFIX : FTS_TOKENIZE_QUERY,
                                text, len, &ph->tokens, p->err);
    if (rc != CS_OK) {
        p->rc = rc;
        return -1;
    }
    if (ph->tokens.n == 0) {
        fail(p, CS_ERR_UNSUPPORTED, "a phrase without a token");
        return -1;
    }
    return new_node(p, (fts_node){.kind = FTS_NODE_PHRASE, .phrase = e->nphrases - 1});
}

/* ( expr ) | column : primary | phrase */
static int parse_primary(parser *p, uint32_t columns)
{
    if (++p->depth > MAX_DEPTH) {
        fail(p, CS_ERR_UNSUPPORTED, "nesting too deep");
        return -1;
    }
    skip_space(p);
    int node = -1;
    char c = p->s[p->i];
    if (c == '(') {
        p->i++;
        node = parse_or(p, columns);
        skip_space(p);
        if (node >= 0 && p->s[p->i] != ')') {
            fail(p, CS_ERR_UNSUPPORTED, "expected ')'");
            node = -1;
        }
        p->i++;
    } else if (c == '"') {
        node = parse_phrase(p, columns);
    } else if (bareword(p)) {
        size_t n = bareword(p), at = p->i;
        p->i += n;
        skip_space(p);
        if (p->s[p->i] != ':') {
            p->i = at;
            fail(p, CS_ERR_UNSUPPORTED, "a bareword");
        } else {
            p->i++;
            int col = -1;
            for (int k = 0; k < p->e->ncolumns; k++)
                if (strlen(p->columns[k]) == n && memcmp(p->columns[k], p->s + at, n) == 0)
                    col = k;
            if (col < 0)
                fail(p, CS_ERR_UNSUPPORTED, "an unknown column");
            else
                node = parse_primary(p, columns & (1u << col));
        }
    } else {
        fail(p, CS_ERR_UNSUPPORTED, c ? "unexpected character" : "unexpected end");
    }
    p->depth--;
    return node;
}

static int binary(parser *p, fts_node_kind kind, int left, int right)
{
    if (left < 0 || right < 0)
        return -1;
    return new_node(p, (fts_node){.kind = kind, .left = left, .right = right});
}

static int parse_not(parser *p, uint32_t columns)
{
    int left = parse_primary(p, columns);
    while (left >= 0 && keyword_at(p, "NOT")) {
        p->i += 3;
        left = binary(p, FTS_NODE_NOT, left, parse_primary(p, columns));
    }
    return left;
}

static bool at_operand(parser *p)
{
    skip_space(p);
    char c = p->s[p->i];
    if (c == '(' || c == '"')
        return true;
    return bareword(p) && !keyword_at(p, "OR") && !keyword_at(p, "NOT");
}

static int parse_and(parser *p, uint32_t columns)
{
    int left = parse_not(p, columns);
    while (left >= 0) {
        if (keyword_at(p, "AND"))
            p->i += 3;
        else if (!at_operand(p))
            break;
        left = binary(p, FTS_NODE_AND, left, parse_not(p, columns));
    }
    return left;
}

static int parse_or(parser *p, uint32_t columns)
{
    int left = parse_and(p, columns);
    while (left >= 0 && keyword_at(p, "OR")) {
        p->i += 2;
        left = binary(p, FTS_NODE_OR, left, parse_and(p, columns));
    }
    return left;
}

void fts_expr_free(fts_expr *e)
{
    if (!e)
        return;
    for (int k = 0; k < e->nphrases; k++) {
        fts_token_list_free(&e->phrases[k].tokens);
        free(e->phrases[k].text);
    }
    free(e->phrases);
    free(e->nodes);
    free(e);
}

cs_status fts_expr_parse(fts_tokenizer *t, const char *match, const char *const *columns,
                         int ncolumns, fts_expr **out, cs_error *err)
{
    *out = NULL;
    if (ncolumns <= 0 || ncolumns > FTS_EXPR_MAX_COLUMNS)
        return cs_error_set(err, CS_ERR_INVALID, "%d columns: 1..%d supported", ncolumns,
                            FTS_EXPR_MAX_COLUMNS);
    fts_expr *e = calloc(1, sizeof *e);
    if (!e)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory parsing an FTS expression");
    e->ncolumns = ncolumns;
    parser p = {.s = match ? match : "", .e = e, .tok = t, .columns = columns, .err = err};
    uint32_t all = ncolumns == 32 ? 0xffffffffu : (1u << ncolumns) - 1;
    e->root = parse_or(&p, all);
    skip_space(&p);
    if (e->root >= 0 && p.s[p.i])
        fail(&p, CS_ERR_UNSUPPORTED, "text after the expression");
    if (p.rc != CS_OK || e->root < 0) {
        fts_expr_free(e);
        return p.rc != CS_OK ? p.rc : cs_error_set(err, CS_ERR_UNSUPPORTED, "empty expression");
    }
    *out = e;
    return CS_OK;
}

static bool collect(const fts_expr *e, int node, int *ids, int *n)
{
    const fts_node *nd = &e->nodes[node];
    switch (nd->kind) {
    case FTS_NODE_PHRASE:
        ids[(*n)++] = nd->phrase;
        return true;
    case FTS_NODE_OR:
        return collect(e, nd->left, ids, n) && collect(e, nd->right, ids, n);
    case FTS_NODE_NOT:
        return collect(e, nd->left, ids, n);
    case FTS_NODE_AND:
        return false;
    }
    return false;
}

bool fts_expr_alternatives(const fts_expr *e, int *ids, int *n)
{
    *n = 0;
    return collect(e, e->root, ids, n);
}

static bool token_equals(const fts_token_list *doc, size_t i, const fts_token_list *q, size_t j,
                         bool prefix)
{
    uint32_t dl = doc->len[i], ql = q->len[j];
    if (prefix ? dl < ql : dl != ql)
        return false;
    return memcmp(doc->bytes + doc->off[i], q->bytes + q->off[j], ql) == 0;
}

/* Hits of a phrase in one column: starts where its tokens follow at
 * consecutive positions (the last one as a prefix when asked). */
static int phrase_hits(const fts_phrase *ph, const fts_token_list *col)
{
    const fts_token_list *q = &ph->tokens;
    int hits = 0;
    for (size_t i = 0; i + q->n <= col->n; i++) {
        size_t j = 0;
        for (; j < q->n; j++) {
            if (col->pos[i + j] != col->pos[i] + j ||
                !token_equals(col, i + j, q, j, ph->prefix && j + 1 == q->n))
                break;
        }
        if (j == q->n)
            hits++;
    }
    return hits;
}

static bool eval_node(const fts_expr *e, int node, const bool *present)
{
    const fts_node *nd = &e->nodes[node];
    switch (nd->kind) {
    case FTS_NODE_PHRASE:
        return present[nd->phrase];
    case FTS_NODE_OR:
        return eval_node(e, nd->left, present) || eval_node(e, nd->right, present);
    case FTS_NODE_AND:
        return eval_node(e, nd->left, present) && eval_node(e, nd->right, present);
    case FTS_NODE_NOT:
        return eval_node(e, nd->left, present) && !eval_node(e, nd->right, present);
    }
    return false;
}

bool fts_expr_eval(const fts_expr *e, const fts_token_list *cols, const double *weights,
                   double *freq)
{
    bool present[FTS_EXPR_MAX_PHRASES];
    for (int k = 0; k < e->nphrases; k++) {
        const fts_phrase *ph = &e->phrases[k];
        double f = 0;
        bool any = false;
        for (int c = 0; c < e->ncolumns; c++) {
            if (!(ph->columns & (1u << c)))
                continue;
            int hits = phrase_hits(ph, &cols[c]);
            if (hits) {
                any = true;
                f += weights[c] * hits;
            }
        }
        freq[k] = f;
        present[k] = any;
    }
    return eval_node(e, e->root, present);
}
