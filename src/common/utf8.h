/* UTF-8 validation. File names on Linux are bytes, and JSON output and the
 * text index need valid UTF-8. */
#ifndef CS_COMMON_UTF8_H
#define CS_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence starting at s (1..4), or 0 when the
 * bytes there are not valid UTF-8 (overlong forms, surrogates, values past
 * U+10FFFF and truncated sequences are invalid). n = bytes available. */
size_t utf8_sequence_length(const unsigned char *s, size_t n);
bool utf8_is_valid(const char *s, size_t n);
/* A malloc'd copy with each invalid byte replaced by U+FFFD; NULL on
 * allocation failure. */
char *utf8_sanitize(const char *s);

#endif
