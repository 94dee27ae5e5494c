/* Turning what a user typed into a safe FTS5 MATCH expression. User text is
 * never passed to MATCH raw: every word becomes a quoted string, so no input
 * can be a syntax error or reach an FTS5 operator by accident. */
#ifndef CS_SEARCH_FTSQUERY_H
#define CS_SEARCH_FTSQUERY_H

#include "common/error.h"

/* Rules:
 * - words are runs of letters/digits (any non-ASCII byte counts as a letter so
 *   UTF-8 text stays whole; invalid UTF-8 is dropped); an apostrophe, hyphen
 *   or full stop between two such characters stays inside the word (dog's,
 *   t-shirt, 3.5), which FTS5 reads as a phrase just as the index split it;
 * - each word becomes "word" (inner quotes doubled); the words are OR'ed so a
 *   photo matching more of them ranks higher (bm25 does the rest);
 * - English stop words ("a", "the", "on", "at", "with", ...) and the nouns
 *   people put before a search ("photos of", "picture of") are dropped unless
 *   nothing else is left; a repeated term is kept once (case-insensitively);
 * - "several words in quotes" typed by the user become a phrase (also with
 *   typographic quotes, guillemets or fullwidth quotes; an unclosed quote
 *   runs to the end); phrases keep their stop words;
 * - word* becomes a prefix query "word" * (likewise "a phrase"*);
 * - -word or -"a phrase" excludes, when the dash starts a word (not in
 *   t-shirt or a--b): (...) NOT "word", several as (...) NOT ("a" OR "b");
 * - AND, OR, NOT, NEAR, parentheses, colons, carets, plus signs are ordinary
 *   characters: an "AND" typed by the user is searched for as a word.
 * *out is a malloc'd expression, or NULL when the text holds nothing to search
 * (empty, only punctuation, only exclusions). */
cs_status fts_query_build(const char *user_text, char **out, cs_error *err);

#endif
