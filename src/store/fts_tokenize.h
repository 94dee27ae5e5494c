/* FTS5's own tokenizer ("porter unicode61 remove_diacritics 2", the one
 * captions_fts was created with), called from C, so text we score ourselves
 * is split and stemmed exactly as the index split it. */
#ifndef CS_STORE_FTS_TOKENIZE_H
#define CS_STORE_FTS_TOKENIZE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct fts_tokenizer fts_tokenizer;

/* The tokens of one text, in order: token i is bytes[off[i] .. off[i]+len[i])
 * at position pos[i] (positions advance by one per token, as FTS5's). */
typedef struct fts_token_list {
    char *bytes;
    size_t nbytes, bytes_cap;
    uint32_t *off, *len, *pos;
    size_t n, cap;
    uint32_t next_pos;
    int nomem;
} fts_token_list;

/* How the text is read: as a document, as query text, or as the text of
 * a prefix query ("x" *). */
typedef enum fts_tokenize_mode {
    FTS_TOKENIZE_DOCUMENT,
    FTS_TOKENIZE_QUERY,
    FTS_TOKENIZE_QUERY_PREFIX,
} fts_tokenize_mode;

/* Finds FTS5 on the connection (SELECT fts5(?1)) and creates the tokenizer. */
cs_status fts_tokenizer_open(sqlite3 *db, fts_tokenizer **out, cs_error *err);
void fts_tokenizer_close(fts_tokenizer *t);

/* Empties the list, keeping its memory. */
void fts_token_list_clear(fts_token_list *l);
void fts_token_list_free(fts_token_list *l);

/* Appends the tokens of text[0..len) to `out` (positions restart at 0). */
cs_status fts_tokenize(fts_tokenizer *t, fts_tokenize_mode mode, const char *text, size_t len,
                       fts_token_list *out, cs_error *err);

#endif
