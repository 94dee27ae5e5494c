/* WordNet words for the text index: what a picture's object words are a kind
 * of (index time) and what a searched word is a kind of (query time).
 *
 * Index time: every object word of a picture (detector labels, caption
 * nouns, file and folder names) gives the words of its WordNet sense and of
 * all its hypernyms up to, not including, the very general ones (entity,
 * object, whole, artifact, organism, ...). "dog" gives dog, domestic dog,
 * canis familiaris, canine, canid, carnivore, ..., mammal, ..., animal,
 * domestic animal. They go to the `related` column, weighted low, so
 * "animal" finds the dog below a picture whose own words say "animal".
 *
 * Query time: a searched word gives its lemma (mice -> mouse, searched like
 * the word itself) and the head words of the label concepts it is a kind of
 * (puppy -> dog, kitty -> cat, hound -> dog, motorbike -> motorcycle), which
 * are searched in the `related` column only. Synonyms need no query-time
 * step: the related column already holds every word of each sense
 * (automobile finds a car because a car's related words say automobile).
 *
 * Sense choice (WordNet lists senses most frequent first):
 *  - a detector label (the 80 COCO names, plus a few scene nouns) uses the
 *    sense fixed for it in a table: the first sense that is a kind of a
 *    given word ("mouse" the electronic device, "kite" the toy, "orange" the
 *    fruit, "tv" the receiver, "hot dog" the sandwich);
 *  - any other word uses its first sense among the first three that is a
 *    physical thing (a kind of "physical entity") and not a proper noun:
 *    "evening" (a time) gives nothing, "chelsea" (a place name) nothing;
 *  - a searched word climbs (at most four levels) from its senses in order
 *    and uses the first that reaches a label concept ("kitty": the stakes
 *    and the kitten senses reach none, the fourth sense reaches cat).
 *
 * libWN keeps global state (open files, static buffers), so every call into
 * it holds one process-wide mutex. What it returns is cached per synset and
 * per word, so a word costs libWN time once per process.
 *
 * WordNet's files are found as libWN finds them: $WNSEARCHDIR, else
 * $WNHOME/dict, else the compiled default (/usr/share/wordnet on Debian).
 * Without them every function here succeeds and adds nothing. */
#ifndef CS_CAPTION_LEXICON_H
#define CS_CAPTION_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"
#include "common/strbuf.h"

/* Opens WordNet once per process (later calls return the first result).
 * CS_ERR_NOT_FOUND when its files are missing, CS_ERR_UNSUPPORTED when
 * capsearch was built without libWN; the message says how to get it.
 * Thread-safe. */
cs_status lexicon_open(cs_error *err);
bool lexicon_available(void);

/* What the related words of a picture depend on: WordNet's release and the
 * rules here ("wordnet 3.0, lexicon 1"). Changes when either does, so
 * that catalogs can be brought up to date. NULL when not built in. */
const char *lexicon_revision(void);

/* For `capsearch doctor`: "3.0" (WordNet's release) or NULL when not built
 * in, and the folder its files are read from. */
const char *lexicon_version(void);
const char *lexicon_data_dir(void);

/* Appends the related words of `words` (each one word or a multi-word label
 * like "teddy bear"; ASCII case does not matter; words WordNet does not
 * know, numbers and non-ASCII words are skipped) to `out`: synset words
 * separated by ", ", each synset once, at most LEXICON_MAX_SYNSETS synsets.
 * Appends nothing when WordNet is not available. CS_ERR_NOMEM on allocation
 * failure (also when `out` has failed). Thread-safe. */
#define LEXICON_MAX_SYNSETS 64
cs_status lexicon_related_words(const char *const *words, size_t n, strbuf *out,
                                cs_error *err);

/* What a searched word may also be found by. `same_weight`: an inflection
 * (mice -> mouse) searched like the word; otherwise a concept the word is a
 * kind of, for the related column only. `text` is valid during the call. */
typedef void (*lexicon_alternative_fn)(const char *text, bool same_weight, void *user);

/* Calls `fn` for each alternative of `word` (len bytes, need not be
 * NUL-terminated), at most LEXICON_MAX_ALTERNATIVES times. Nothing when
 * WordNet is not available. CS_ERR_NOMEM on allocation failure. Thread-safe. */
#define LEXICON_MAX_ALTERNATIVES 8
cs_status lexicon_expand_word(const char *word, size_t len, lexicon_alternative_fn fn,
                              void *user, cs_error *err);

/* The one mutex every call into libWN holds, for the other readers of
 * WordNet in this folder (concepts.c). Call only after lexicon_open
 * succeeded; no-ops when built without libWN. */
void lexicon_lock(void);
void lexicon_unlock(void);

#endif
