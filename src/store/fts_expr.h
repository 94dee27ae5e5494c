/* The FTS5 MATCH expressions capsearch builds (src/search/ftsquery.h:
 * quoted phrases, "x" * prefixes, OR, AND, NOT, parentheses and `column :`
 * filters), parsed into a tree and evaluated on a row's tokenized columns
 * the way FTS5 evaluates them, so rows can be matched and bm25-scored
 * outside FTS5. Anything else (NEAR, ^, {col list}, barewords) is refused
 * with CS_ERR_UNSUPPORTED and the caller keeps FTS5's own query. */
#ifndef CS_STORE_FTS_EXPR_H
#define CS_STORE_FTS_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "store/fts_tokenize.h"

#define FTS_EXPR_MAX_COLUMNS 32
/* More phrases than this: refused (the caller keeps FTS5's own query). */
#define FTS_EXPR_MAX_PHRASES 64

typedef struct fts_phrase {
    fts_token_list tokens;   /* the phrase's tokens, as FTS5 tokenizes query text */
    bool prefix;             /* "x" *: the last token matches any token it begins */
    uint32_t columns;        /* bit c set: column c is searched */
    char *text;              /* the phrase as written (unescaped), for counting it in FTS5 */
} fts_phrase;

typedef enum fts_node_kind { FTS_NODE_PHRASE, FTS_NODE_OR, FTS_NODE_AND, FTS_NODE_NOT } fts_node_kind;

typedef struct fts_node {
    fts_node_kind kind;
    int phrase;              /* FTS_NODE_PHRASE: index into phrases */
    int left, right;         /* other kinds: node indexes */
} fts_node;

typedef struct fts_expr {
    fts_phrase *phrases;
    int nphrases, phrases_cap;
    fts_node *nodes;
    int nnodes, nodes_cap;
    int root;
    int ncolumns;
} fts_expr;

/* Parses `match`; columns[] are the table's column names in order.
 * CS_ERR_UNSUPPORTED for syntax outside the subset above (or a phrase with
 * no token); the error says what. */
cs_status fts_expr_parse(fts_tokenizer *t, const char *match, const char *const *columns,
                         int ncolumns, fts_expr **out, cs_error *err);
void fts_expr_free(fts_expr *e);

/* The phrases whose rows together hold every match: the phrases of the
 * top-level OR (left of a NOT). False when a top-level AND makes that
 * set meaningless. ids has room for e->nphrases. */
bool fts_expr_alternatives(const fts_expr *e, int *ids, int *n);

/* Evaluates the expression on one row, cols[c] being column c's tokens.
 * freq[p] gets phrase p's hits weighted by weights[column] (FTS5's bm25
 * f(q,D)); returns whether the row matches. */
bool fts_expr_eval(const fts_expr *e, const fts_token_list *cols, const double *weights,
                   double *freq);

#endif
