/* The CLIP byte-level BPE tokenizer (OpenAI CLIP's simple_tokenizer, the
 * Hugging Face CLIPTokenizer), loaded from a Hugging Face model folder's
 * vocab.json + merges.txt.
 *
 * Encoding, step by step (see /work/shared/specs/clip.md §4):
 *  1. UTF-8 decoding. Invalid bytes become U+FFFD exactly as Python's
 *     bytes.decode("utf-8", errors="replace") does: one U+FFFD for each
 *     maximal ill-formed subsequence (a truncated sequence gives one U+FFFD,
 *     a stray continuation byte or an impossible byte one each).
 *  2. HTML unescaping, twice, exactly as Python's html.unescape: decimal and
 *     hex numeric references (with its replacements for 0, 0x80-0x9f,
 *     surrogates, out-of-range and non-character values) and all 2231 HTML5
 *     named references, including the legacy names accepted without ';'
 *     ("&amp", "&eacute") and their longest-prefix rule ("&ampx" -> "&x").
 *  3. The parts of ftfy.fix_text that matter here: curly quotes to straight
 *     (U+02BC, U+2018..U+201B -> ', U+201C..U+201F -> ") and NFC. The rest of
 *     ftfy (mojibake repair, ligatures, full-width forms, control-character
 *     removal) is not done.
 *  4. strip, every run of whitespace (Python's str.isspace) to one space.
 *  5. Python's str.lower(): simple lowercase mappings plus U+0130 -> "i̇" and
 *     the final-sigma rule.
 *  6. The pre-tokenisation regex, with IGNORECASE:
 *       <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|
 *       [\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *     A pre-token equal to "<|startoftext|>" or "<|endoftext|>" becomes that
 *     special token, as in the reference.
 *  7. Byte-level BPE of each pre-token ("</w>" on its last symbol), merges
 *     applied by rank.
 *  8. [<|startoftext|>] + ids + [<|endoftext|>], truncated to the context
 *     length with the last id forced to <|endoftext|>.
 * Unicode data (NFC, case, categories) comes from utf8proc.
 *
 * A tokenizer is immutable after loading: encode may be called from several
 * threads at once. */
#ifndef CS_MODELS_CLIP_TOKENIZER_H
#define CS_MODELS_CLIP_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define CLIP_CONTEXT_LENGTH 77

typedef struct clip_tokenizer clip_tokenizer;

/* Loads <dir>/vocab.json and <dir>/merges.txt. */
cs_status clip_tokenizer_load(const char *dir, clip_tokenizer **out, cs_error *err);
/* The same with explicit paths. merges.txt: an optional "#version" first
 * line, then one "left right" pair a line, in rank order; both parts and
 * their concatenation must be in vocab.json, as must the 256 byte symbols
 * (with and without "</w>") and the two special tokens. */
cs_status clip_tokenizer_load_files(const char *vocab_path, const char *merges_path,
                                    clip_tokenizer **out, cs_error *err);
void clip_tokenizer_free(clip_tokenizer *tok);

/* Encodes len bytes of text (any bytes; NUL is an ordinary character) into
 * ids[0 .. *n_out): start token, the text's tokens, end token. ids has room
 * for context_length (>= 2) ids; longer results are cut to context_length
 * with the end token kept last, and *truncated (when non-NULL) says so. */
cs_status clip_tokenizer_encode(const clip_tokenizer *tok, const char *text, size_t len,
                                int32_t *ids, size_t context_length, size_t *n_out,
                                bool *truncated, cs_error *err);

int32_t clip_tokenizer_start_id(const clip_tokenizer *tok);   /* 49406 for CLIP */
int32_t clip_tokenizer_end_id(const clip_tokenizer *tok);     /* 49407 for CLIP */
size_t clip_tokenizer_vocab_size(const clip_tokenizer *tok);  /* highest id + 1 */

/* Steps 1-5 above on their own (for tests): a malloc'd NUL-terminated UTF-8
 * string in *out (its length in *out_len; it may contain NUL characters). */
cs_status clip_text_clean(const char *text, size_t len, char **out, size_t *out_len,
                          cs_error *err);

#endif
