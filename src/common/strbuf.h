/* A growable NUL-terminated string. A failed allocation is sticky: later
 * appends do nothing and strbuf_failed() reports it once at the end. */
#ifndef CS_COMMON_STRBUF_H
#define CS_COMMON_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

typedef struct strbuf {
    char *data;     /* always NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
    bool failed;
} strbuf;

void strbuf_init(strbuf *sb);
void strbuf_free(strbuf *sb);
void strbuf_reset(strbuf *sb);   /* len = 0, keeps the memory */
void strbuf_append(strbuf *sb, const char *s);
void strbuf_append_n(strbuf *sb, const char *s, size_t n);
void strbuf_append_char(strbuf *sb, char c);
void strbuf_appendf(strbuf *sb, const char *fmt, ...) CS_PRINTF(2, 3);
/* The string ("" when empty); owned by sb. */
const char *strbuf_str(const strbuf *sb);
/* Hands the string to the caller (NULL if allocation failed); sb is reset. */
char *strbuf_take(strbuf *sb);
static inline bool strbuf_failed(const strbuf *sb) { return sb->failed; }

#endif
