/* Turning what a user typed into a safe FTS5 MATCH expression. User text is
 * never passed to MATCH raw: every word becomes a quoted string, so no input
 * can be a syntax error or reach an FTS5 operator by accident. */
#ifndef CS_SEARCH_FTSQUERY_H
#define CS_SEARCH_FTSQUERY_H

#include <stdbool.h>
#include <stddef.h>

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

/* What a text without words to search for excludes (its -word and
 * -"a phrase" terms) as one expression that matches them, "dog" OR "a
 * cat", with the shape and safety of fts_query_build; NULL when the text
 * excludes nothing or has words to search for (fts_query_build's case). */
cs_status fts_query_build_excluded(const char *user_text, char **out, cs_error *err);

/* The text's exclusions as one expression, as fts_query_build_excluded
 * writes them, whether or not the text has words to search for; NULL when
 * it excludes nothing. */
cs_status fts_query_exclusions(const char *user_text, char **out, cs_error *err);

/* The text as typed without its search syntax: its exclusions (each -word
 * or -"a phrase", dashes and stars too), phrase quote marks and prefix
 * stars, runs of white space made one space. What a CLIP text tower should
 * read: "beach" of "beach -people" (it would read "people" as wanted),
 * red car of "red car". NULL when that is the text itself. */
cs_status fts_query_tower_text(const char *user_text, char **out, cs_error *err);

/* ---- query expansion ---- */

/* The FTS column holding a picture's related words (index/FORMAT.md). */
#define FTS_RELATED_COLUMN "related"
/* Words of one query expanded at most (a pasted paragraph stays cheap). */
#define FTS_MAX_EXPANDED_WORDS 16
#define FTS_MAX_ALTERNATIVES 8

typedef struct fts_alternatives fts_alternatives;

/* Adds an alternative for the word being expanded. `text` may be anything:
 * its words are quoted like user words (one phrase), so nothing in it is
 * FTS5 syntax; text without words is ignored. `same_weight`: searched like
 * the word itself, in every column (an inflection: mice -> mouse);
 * otherwise only in the related column (a concept the word is a kind of:
 * puppy -> dog), whose low bm25 weight ranks such matches below pictures
 * whose own words match. Repeats, the word itself, and alternatives past
 * FTS_MAX_ALTERNATIVES are dropped. */
void fts_alternatives_add(fts_alternatives *alts, const char *text, bool same_weight);

/* Called for each plain word of the query (not a phrase, a prefix, an
 * exclusion, a repeat or a dropped stop word), `len` bytes at `word` (not
 * NUL-terminated). A failure stops the build and is returned. */
typedef cs_status (*fts_expand_fn)(const char *word, size_t len, fts_alternatives *alts,
                                   void *user, cs_error *err);

/* fts_query_build, with each plain word searched together with its
 * alternatives: "puppy" OR related : ("dog"), "mice" OR "mouse". The
 * output keeps the shape rules of fts_query_build plus the one column
 * filter `related : (...)`, which names a column of ours, never user text.
 * `expand` NULL: exactly fts_query_build. */
cs_status fts_query_build_expanded(const char *user_text, fts_expand_fn expand, void *user,
                                   char **out, cs_error *err);

/* The expression for a list of phrases (a composed query's terms): each
 * text's words as one quoted phrase, those with exclude[i] false OR'ed,
 * those with exclude[i] true after NOT, with the shape and safety of
 * fts_query_build (quote marks and operators inside a text are separators,
 * never syntax). No stop words are dropped and nothing is expanded. *out is
 * NULL when no positive text has a word. */
cs_status fts_query_build_phrases(const char *const *texts, const bool *exclude, size_t n,
                                  char **out, cs_error *err);

#endif
