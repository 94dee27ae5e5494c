/* Words from a file path for the text index (see caption.h for the rules).
 *
 * Case: ASCII and Latin-1 capitals (U+00C0-U+00DE) are lower-cased here;
 * other scripts are kept as they are because the FTS5 tokenizer
 * (unicode61, remove_diacritics 2) folds case and diacritics anyway.
 * Bytes that are not valid UTF-8 (file names are arbitrary bytes on Linux)
 * count as separators, so the index never receives broken text. */
#include "caption/caption.h"

#include <stdbool.h>
#include <string.h>

#include "common/strbuf.h"
#include "common/utf8.h"

enum char_class { CL_SEP, CL_UPPER, CL_LOWER, CL_DIGIT, CL_OTHER };

/* Latin-1 letters as UTF-8 (C3 xx): capitals are U+00C0-U+00DE without the
 * multiplication sign U+00D7, small letters U+00DF-U+00FF without U+00F7. */
static bool latin1_upper(const unsigned char *s, size_t len)
{
    return len == 2 && s[0] == 0xC3 && s[1] >= 0x80 && s[1] <= 0x9E && s[1] != 0x97;
}

static bool latin1_lower(const unsigned char *s, size_t len)
{
    return len == 2 && s[0] == 0xC3 && s[1] >= 0x9F && s[1] <= 0xBF && s[1] != 0xB7;
}

static enum char_class classify(const unsigned char *s, size_t max, size_t *len)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *len = 1;
        if (c >= 'A' && c <= 'Z')
            return CL_UPPER;
        if (c >= 'a' && c <= 'z')
            return CL_LOWER;
        if (c >= '0' && c <= '9')
            return CL_DIGIT;
        return CL_SEP;
    }
    size_t n = utf8_sequence_length(s, max);
    if (n == 0) {
        *len = 1;   /* skip one invalid byte at a time */
        return CL_SEP;
    }
    *len = n;
    if (latin1_upper(s, n))
        return CL_UPPER;
    if (latin1_lower(s, n))
        return CL_LOWER;
    return CL_OTHER;
}

/* Prefixes cameras put before a counter; the words themselves say nothing. */
static bool is_camera_prefix(const char *w, size_t n)
{
    static const char *const prefixes[] = {"img", "dsc", "dscn", "dcim", "pxl", "mvimg"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strlen(prefixes[i]) == n && memcmp(prefixes[i], w, n) == 0)
            return true;
    return false;
}

static bool all_digits(const char *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] < '0' || w[i] > '9')
            return false;
    return true;
}

typedef struct words_ctx {
    strbuf out;          /* the result, words separated by one space */
    strbuf word;         /* the current word, lower-cased */
    bool after_prefix;   /* the previous word of this component was IMG etc. */
} words_ctx;

/* True when `w` is already one of the space-separated words in `out`. Paths
 * are bounded by PATH_MAX, so a linear scan is cheap enough. */
static bool already_listed(const strbuf *out, const char *w, size_t n)
{
    const char *p = strbuf_str(out);
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, w, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static void lower_into(strbuf *dst, const char *s, size_t n)
{
    strbuf_reset(dst);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        else if (i > 0 && latin1_upper((const unsigned char *)s + i - 1, 2))
            c = (unsigned char)(c + 0x20);   /* second byte of a Latin-1 capital */
        strbuf_append_char(dst, (char)c);
    }
}

/* Applies the noise rules to one word and appends it when it survives. */
static void emit_word(words_ctx *ctx, const char *s, size_t n)
{
    lower_into(&ctx->word, s, n);
    if (strbuf_failed(&ctx->word)) {
        ctx->out.failed = true;   /* report the failure through the result */
        return;
    }
    const char *w = strbuf_str(&ctx->word);
    size_t len = ctx->word.len;
    bool counter_after_prefix = ctx->after_prefix && all_digits(w, len);
    ctx->after_prefix = is_camera_prefix(w, len);
    if (ctx->after_prefix || counter_after_prefix)
        return;
    if (all_digits(w, len) && len > 4)
        return;
    if (already_listed(&ctx->out, w, len))
        return;
    if (ctx->out.len > 0)
        strbuf_append_char(&ctx->out, ' ');
    strbuf_append_n(&ctx->out, w, len);
}

/* A word boundary falls before the character of class `cur` when the
 * letter/digit kind changes, at a lower-to-upper step (fooBar), and before the
 * last capital of a run that continues in lower case (HTTPServer). */
static bool is_boundary(enum char_class prev, enum char_class cur, enum char_class next)
{
    if ((prev == CL_DIGIT) != (cur == CL_DIGIT))
        return true;
    if ((prev == CL_LOWER || prev == CL_OTHER) && cur == CL_UPPER)
        return true;
    return prev == CL_UPPER && cur == CL_UPPER && next == CL_LOWER;
}

/* Splits one path component (no '/') into words. */
static void split_component(words_ctx *ctx, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    ctx->after_prefix = false;
    size_t i = 0, start = 0;
    enum char_class prev = CL_SEP;
    while (i < n) {
        size_t len;
        enum char_class cur = classify(u + i, n - i, &len);
        if (cur == CL_SEP) {
            if (prev != CL_SEP)
                emit_word(ctx, s + start, i - start);
        } else if (prev == CL_SEP) {
            start = i;
        } else {
            size_t next_len;
            enum char_class next =
                i + len < n ? classify(u + i + len, n - i - len, &next_len) : CL_SEP;
            if (is_boundary(prev, cur, next)) {
                emit_word(ctx, s + start, i - start);
                start = i;
            }
        }
        prev = cur;
        i += len;
    }
    if (prev != CL_SEP)
        emit_word(ctx, s + start, n - start);
}

/* Length of root without trailing slashes ("/" becomes 0). */
static size_t trimmed_len(const char *root)
{
    size_t n = strlen(root);
    while (n > 0 && root[n - 1] == '/')
        n--;
    return n;
}

/* The part of `path` below `root`, or NULL when path is not inside root. */
static const char *below_root(const char *root, size_t root_len, const char *path)
{
    if (strncmp(path, root, root_len) != 0 || path[root_len] != '/')
        return NULL;
    return path + root_len + 1;
}

/* Splits every '/'-separated component of `rel`; the last one loses its
 * extension (the text after its last '.', unless that dot starts the name). */
static void split_relative(words_ctx *ctx, const char *rel)
{
    for (;;) {
        const char *slash = strchr(rel, '/');
        if (slash) {
            split_component(ctx, rel, (size_t)(slash - rel));
            rel = slash + 1;
            continue;
        }
        size_t n = strlen(rel);
        const char *dot = strrchr(rel, '.');
        if (dot && dot != rel)
            n = (size_t)(dot - rel);
        split_component(ctx, rel, n);
        return;
    }
}

char *caption_path_words(const char *root, const char *path)
{
    words_ctx ctx;
    strbuf_init(&ctx.out);
    strbuf_init(&ctx.word);
    ctx.after_prefix = false;
    if (!path)
        path = "";
    const char *rel = NULL;
    if (root && *root) {
        size_t root_len = trimmed_len(root);
        rel = below_root(root, root_len, path);
        if (rel) {
            /* root's own last folder name ("Pictures") is a word too */
            const char *name = root + root_len;
            while (name > root && name[-1] != '/')
                name--;
            split_component(&ctx, name, (size_t)(root + root_len - name));
        }
    }
    if (!rel) {
        const char *slash = strrchr(path, '/');
        rel = slash ? slash + 1 : path;
    }
    split_relative(&ctx, rel);
    strbuf_free(&ctx.word);
    return strbuf_take(&ctx.out);
}
