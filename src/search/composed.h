/* Composed queries: double-quoted terms joined by + and -, each with an
 * optional weight, as in
 *     "beach" + "sunset" - "people"        2:"dog" + 0.5:"snow"
 * Shape (anything else is plain text and goes to the FTS query builder as
 * before, so "quoted words" alone and -word keep their meaning):
 *   query  = term (op term)+            at least two terms
 *   term   = [weight ':'] '"' text '"'  text: any bytes but '"'
 *   op     = '+' | '-'                  spaces, tabs and newlines around
 *                                        tokens are ignored
 *   weight = any run of characters other than spaces, quotes and ':' right
 *            before ':"'; it must then be a decimal number (digits with an
 *            optional fraction) above 0 and at most 100.
 * A text of that shape with a bad weight, an empty term or more than
 * CS_MAX_QUERY_TERMS terms is an error (CS_ERR_INVALID) saying which term
 * and why, rather than a silent plain-text search. The first term counts
 * positive; each later term takes its operator's sign. */
#ifndef CS_SEARCH_COMPOSED_H
#define CS_SEARCH_COMPOSED_H

#include <stdbool.h>
#include <stddef.h>

#include "capsearch/capsearch.h"
#include "common/error.h"

#define COMPOSED_MAX_WEIGHT 100.0

typedef struct composed_query {
    size_t n;
    cs_query_term *terms;    /* texts malloc'd; weights signed */
} composed_query;

/* *out NULL (and CS_OK) when `text` is plain text; otherwise the terms. */
cs_status composed_parse(const char *text, composed_query **out, cs_error *err);
void composed_free(composed_query *q);

#endif
