/* The CLIP byte-level BPE tokenizer; the rules are in tokenizer.h. */
#include "models/clip/tokenizer.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "common/fsutil.h"
#include "common/strmap.h"
#include "models/clip/html_entities.h"

#define MERGES_MAX_BYTES (256u << 20)

typedef struct pair_slot {
    uint64_t key;       /* 0 = empty; else ((left + 1) << 32) | right */
    int32_t rank;
    int32_t merged;
} pair_slot;

struct clip_tokenizer {
    strmap vocab;               /* token string -> id */
    int32_t byte_id[256];       /* id of the byte's symbol */
    int32_t byte_end_id[256];   /* id of the byte's symbol + "</w>" */
    pair_slot *pairs;
    size_t pairs_cap;           /* power of two */
    size_t pairs_count;
    int32_t start_id, end_id;
    size_t vocab_size;
};

/* ---- code point buffers ---- */

typedef struct cpbuf {
    int32_t *v;
    size_t n, cap;
} cpbuf;

static bool cp_reserve(cpbuf *b, size_t extra)
{
    if (b->n + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + extra) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t))
            return false;
        cap *= 2;
    }
    int32_t *v = realloc(b->v, cap * sizeof(int32_t));
    if (!v)
        return false;
    b->v = v;
    b->cap = cap;
    return true;
}

static bool cp_push(cpbuf *b, int32_t c)
{
    if (!cp_reserve(b, 1))
        return false;
    b->v[b->n++] = c;
    return true;
}

static bool cp_push_utf8(cpbuf *b, const char *s)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    while (*p) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(p, -1, &c);
        if (k <= 0)
            return false;   /* the generated table is valid UTF-8 */
        if (!cp_push(b, c))
            return false;
        p += k;
    }
    return true;
}

static void cp_free(cpbuf *b)
{
    free(b->v);
    b->v = NULL;
    b->n = b->cap = 0;
}

static size_t utf8_put(int32_t c, unsigned char *o)
{
    if (c < 0x80) {
        o[0] = (unsigned char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (unsigned char)(0xC0 | (c >> 6));
        o[1] = (unsigned char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (c >> 12));
        o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (c >> 18));
    o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (c & 0x3F));
    return 4;
}

/* UTF-8 of cps[0..n) into a malloc'd NUL-terminated buffer. */
static unsigned char *cp_to_utf8(const int32_t *cps, size_t n, size_t *len)
{
    if (n > (SIZE_MAX - 1) / 4)
        return NULL;
    unsigned char *o = malloc(4 * n + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += utf8_put(cps[i], o + k);
    o[k] = 0;
    *len = k;
    return o;
}

/* ---- 1. decoding as Python's errors="replace" ---- */

static bool decode_replace(const unsigned char *s, size_t n, cpbuf *out)
{
    size_t i = 0;
    while (i < n) {
        unsigned b0 = s[i];
        if (b0 < 0x80) {
            if (!cp_push(out, (int32_t)b0))
                return false;
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;   /* range of the second byte */
        int32_t c;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            need = 1;
            c = b0 & 0x1F;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            need = 2;
            c = b0 & 0x0F;
            if (b0 == 0xE0)
                lo = 0xA0;
            else if (b0 == 0xED)
                hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            need = 3;
            c = b0 & 0x07;
            if (b0 == 0xF0)
                lo = 0x90;
            else if (b0 == 0xF4)
                hi = 0x8F;
        } else {
            /* a continuation byte or one that never starts a sequence */
            if (!cp_push(out, 0xFFFD))
                return false;
            i++;
            continue;
        }
        /* Consume the longest valid prefix; a broken one is one U+FFFD. */
        size_t k = 1;
        bool ok = true;
        for (; k <= need; k++) {
            if (i + k >= n) {
                ok = false;
                break;
            }
            unsigned b = s[i + k];
            unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
            if (b < l || b > h) {
                ok = false;
                break;
            }
            c = (c << 6) | (int32_t)(b & 0x3F);
        }
        if (!cp_push(out, ok ? c : 0xFFFD))
            return false;
        i += ok ? need + 1 : k;
    }
    return true;
}

/* ---- 2. html.unescape ---- */

static const int32_t cp1252_80_9f[32] = {
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D, 0x017D, 0x8F,
    0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178,
};

/* Appends what html.unescape gives for a numeric reference to num (already
 * capped at 0x110000). */
static bool unescape_number(cpbuf *out, int64_t num)
{
    if (num == 0)
        return cp_push(out, 0xFFFD);
    if (num == 0x0D)
        return cp_push(out, 0x0D);
    if (num >= 0x80 && num <= 0x9F)
        return cp_push(out, cp1252_80_9f[num - 0x80]);
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF)
        return cp_push(out, 0xFFFD);
    if ((num >= 0x1 && num <= 0x8) || (num >= 0xE && num <= 0x1F) ||
        (num >= 0x7F && num <= 0x9F) || (num >= 0xFDD0 && num <= 0xFDEF) ||
        num == 0xB || (num & 0xFFFE) == 0xFFFE)
        return true;    /* dropped */
    return cp_push(out, (int32_t)num);
}

static int entity_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const clip_html_entity *)elem)->name);
}

/* The value of the named reference cps[0..n) (without '&'), or NULL. */
static const char *entity_lookup(const int32_t *cps, size_t n)
{
    char name[40];
    if (n == 0 || n >= sizeof name)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (cps[i] <= 0 || cps[i] > 0x7E)
            return NULL;    /* every name is printable ASCII */
        name[i] = (char)cps[i];
    }
    name[n] = 0;
    const clip_html_entity *e = bsearch(name, clip_html_entities, clip_html_entity_count,
                                        sizeof clip_html_entities[0], entity_cmp);
    return e ? e->value : NULL;
}

static bool is_ascii_digit(int32_t c) { return c >= '0' && c <= '9'; }
static bool is_ascii_xdigit(int32_t c)
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static int32_t xdigit_value(int32_t c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Python: re.sub(r'&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)', ...) */
static bool html_unescape(const cpbuf *in, cpbuf *out)
{
    const int32_t *s = in->v;
    size_t n = in->n, i = 0;
    out->n = 0;
    while (i < n) {
        if (s[i] != '&') {
            if (!cp_push(out, s[i++]))
                return false;
            continue;
        }
        size_t j = i + 1;
        if (j < n && s[j] == '#') {
            size_t k = j + 1;
            bool hex = false;
            if (k < n && is_ascii_digit(s[k])) {
                while (k < n && is_ascii_digit(s[k]))
                    k++;
            } else if (k < n && (s[k] == 'x' || s[k] == 'X') && k + 1 < n &&
                       is_ascii_xdigit(s[k + 1])) {
                hex = true;
                k++;
                while (k < n && is_ascii_xdigit(s[k]))
                    k++;
            } else {
                if (!cp_push(out, '&'))
                    return false;
                i++;
                continue;
            }
            int64_t num = 0;
            for (size_t d = j + 1 + (hex ? 1 : 0); d < k; d++) {
                num = num * (hex ? 16 : 10) + (hex ? xdigit_value(s[d]) : s[d] - '0');
                if (num > 0x10FFFF)
                    num = 0x110000;
            }
            if (k < n && s[k] == ';')
                k++;
            if (!unescape_number(out, num))
                return false;
            i = k;
            continue;
        }
        size_t k = j;
        while (k < n && k - j < 32 && s[k] != '\t' && s[k] != '\n' && s[k] != '\f' &&
               s[k] != ' ' && s[k] != '<' && s[k] != '&' && s[k] != '#' && s[k] != ';')
            k++;
        if (k == j) {
            if (!cp_push(out, '&'))
                return false;
            i++;
            continue;
        }
        if (k < n && s[k] == ';')
            k++;
        size_t len = k - j;
        const char *value = entity_lookup(s + j, len);
        size_t used = len;
        for (size_t x = len - 1; !value && x >= 2; x--) {
            value = entity_lookup(s + j, x);
            used = x;
        }
        if (value) {
            if (!cp_push_utf8(out, value))
                return false;
            for (size_t r = j + used; r < k; r++)
                if (!cp_push(out, s[r]))
                    return false;
        } else {
            for (size_t r = i; r < k; r++)
                if (!cp_push(out, s[r]))
                    return false;
        }
        i = k;
    }
    return true;
}

/* ---- 3-5. quotes, NFC, whitespace, lowercase ---- */

/* Python's str.isspace(): bidi class WS, B or S, or category Zs. */
static bool py_isspace(int32_t c)
{
    if (c == ' ')
        return true;
    if (c < 0x09)
        return false;
    const utf8proc_property_t *p = utf8proc_get_property(c);
    return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
           p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

static bool is_letter(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO;
}

static bool is_number(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_ND && k <= UTF8PROC_CATEGORY_NO;
}

/* Unicode's Cased, approximated from utf8proc: a cased letter category or
 * a case mapping (catches Ⓐ, Ⅰ; misses the few caseless Other_Lowercase
 * letters such as ª). Only used by the final-sigma rule. */
static bool is_cased(int32_t c)
{
    utf8proc_category_t k = utf8proc_category(c);
    if (k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT)
        return true;
    return utf8proc_tolower(c) != c || utf8proc_toupper(c) != c;
}

/* Unicode's Case_Ignorable: Mn, Me, Cf, Lm, Sk and the Word_Break
 * MidLetter / MidNumLet / Single_Quote characters. */
static bool is_case_ignorable(int32_t c)
{
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    default:
        return false;
    }
}

/* CPython's handle_capital_sigma. */
static int32_t lower_sigma(const int32_t *s, size_t n, size_t i)
{
    size_t j = i;
    int32_t c = 0;
    bool found = false;
    while (j > 0) {
        c = s[--j];
        if (!is_case_ignorable(c)) {
            found = true;
            break;
        }
    }
    bool final = found && is_cased(c);
    if (final) {
        for (j = i + 1; j < n; j++) {
            c = s[j];
            if (!is_case_ignorable(c))
                break;
        }
        final = j == n || !is_cased(c);
    }
    return final ? 0x3C2 : 0x3C3;
}

static bool nfc(cpbuf *b)
{
    size_t len;
    unsigned char *u = cp_to_utf8(b->v, b->n, &len);
    if (!u)
        return false;
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map(u, (utf8proc_ssize_t)len, &dst,
                                      UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    free(u);
    if (r < 0)
        return false;
    b->n = 0;
    bool ok = decode_replace(dst, (size_t)r, b);
    free(dst);
    return ok;
}

/* Steps 1-5 into *out (code points). */
static cs_status clean_text(const char *text, size_t len, cpbuf *out, cs_error *err)
{
    cpbuf a = {0}, b = {0};
    out->n = 0;
    bool ok = decode_replace((const unsigned char *)text, len, &a) && html_unescape(&a, &b) &&
              html_unescape(&b, &a);
    if (ok) {
        for (size_t i = 0; i < a.n; i++) {
            int32_t c = a.v[i];
            if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B))
                a.v[i] = '\'';
            else if (c >= 0x201C && c <= 0x201F)
                a.v[i] = '"';
        }
        ok = nfc(&a);
    }
    if (ok) {
        /* strip + collapse into b */
        b.n = 0;
        bool pending = false;
        for (size_t i = 0; ok && i < a.n; i++) {
            if (py_isspace(a.v[i])) {
                pending = b.n > 0;
                continue;
            }
            if (pending)
                ok = cp_push(&b, ' ');
            pending = false;
            ok = ok && cp_push(&b, a.v[i]);
        }
    }
    if (ok) {
        for (size_t i = 0; ok && i < b.n; i++) {
            int32_t c = b.v[i];
            if (c == 0x130)
                ok = cp_push(out, 'i') && cp_push(out, 0x307);
            else if (c == 0x3A3)
                ok = cp_push(out, lower_sigma(b.v, b.n, i));
            else
                ok = cp_push(out, utf8proc_tolower(c));
        }
    }
    cp_free(&a);
    cp_free(&b);
    if (!ok)
        return cs_error_set(err, CS_ERR_NOMEM, "clip tokenizer: out of memory cleaning text");
    return CS_OK;
}

cs_status clip_text_clean(const char *text, size_t len, char **out, size_t *out_len,
                          cs_error *err)
{
    cpbuf c = {0};
    cs_status st = clean_text(text, len, &c, err);
    if (st != CS_OK) {
        cp_free(&c);
        return st;
    }
    unsigned char *u = cp_to_utf8(c.v, c.n, out_len);
    cp_free(&c);
    if (!u)
        return cs_error_set(err, CS_ERR_NOMEM, "clip tokenizer: out of memory");
    *out = (char *)u;
    return CS_OK;
}

/* ---- 6. pre-tokenisation ---- */

/* Case-insensitive match of an ASCII literal on lowercased text: the only
 * lowercase character that IGNORECASE also matches to one of the literal's
 * letters is U+017F (long s) for 's'. */
static size_t match_literal(const int32_t *s, size_t n, size_t i, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++) {
        if (i + k >= n)
            return 0;
        int32_t c = s[i + k];
        if (c != (unsigned char)lit[k] && !(lit[k] == 's' && c == 0x17F))
            return 0;
    }
    return k;
}

/* Length of the pre-token at s[i] (0 for whitespace, which is skipped). */
static size_t pretoken_length(const int32_t *s, size_t n, size_t i)
{
    static const char *const literals[] = {
        "<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d",
    };
    for (size_t l = 0; l < sizeof literals / sizeof literals[0]; l++) {
        size_t k = match_literal(s, n, i, literals[l]);
        if (k)
            return k;
    }
    size_t j = i;
    if (is_letter(s[i])) {
        while (j < n && is_letter(s[j]))
            j++;
        return j - i;
    }
    if (is_number(s[i]))
        return 1;
    while (j < n && !py_isspace(s[j]) && !is_letter(s[j]) && !is_number(s[j]))
        j++;
    return j - i;
}

/* ---- 7. BPE ---- */

static uint64_t pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a + 1) << 32 | (uint32_t)b;
}

static size_t pair_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return (size_t)k;
}

static const pair_slot *pair_find(const clip_tokenizer *t, int32_t a, int32_t b)
{
    if (!t->pairs_cap)
        return NULL;
    uint64_t key = pair_key(a, b);
    size_t mask = t->pairs_cap - 1;
    for (size_t i = pair_hash(key) & mask;; i = (i + 1) & mask) {
        if (t->pairs[i].key == key)
            return &t->pairs[i];
        if (t->pairs[i].key == 0)
            return NULL;
    }
}

static bool pair_put(clip_tokenizer *t, int32_t a, int32_t b, int32_t rank, int32_t merged)
{
    if ((t->pairs_count + 1) * 2 > t->pairs_cap) {
        size_t cap = t->pairs_cap ? t->pairs_cap * 2 : 1024;
        pair_slot *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i < t->pairs_cap; i++) {
            if (!t->pairs[i].key)
                continue;
            size_t j = pair_hash(t->pairs[i].key) & (cap - 1);
            while (slots[j].key)
                j = (j + 1) & (cap - 1);
            slots[j] = t->pairs[i];
        }
        free(t->pairs);
        t->pairs = slots;
        t->pairs_cap = cap;
    }
    uint64_t key = pair_key(a, b);
    size_t mask = t->pairs_cap - 1;
    size_t i = pair_hash(key) & mask;
    while (t->pairs[i].key && t->pairs[i].key != key)
        i = (i + 1) & mask;
    if (!t->pairs[i].key)
        t->pairs_count++;
    /* A repeated pair keeps its last rank, as the reference's dict does. */
    t->pairs[i] = (pair_slot){key, rank, merged};
    return true;
}

/* BPE of the bytes b[0..n) (n >= 1) into sym (room for n); returns the
 * number of symbols. */
static size_t bpe_word(const clip_tokenizer *t, const unsigned char *b, size_t n, int32_t *sym)
{
    for (size_t i = 0; i + 1 < n; i++)
        sym[i] = t->byte_id[b[i]];
    sym[n - 1] = t->byte_end_id[b[n - 1]];
    size_t m = n;
    while (m > 1) {
        int32_t best = INT32_MAX, left = 0, right = 0, merged = 0;
        for (size_t i = 0; i + 1 < m; i++) {
            const pair_slot *p = pair_find(t, sym[i], sym[i + 1]);
            if (p && p->rank < best) {
                best = p->rank;
                left = sym[i];
                right = sym[i + 1];
                merged = p->merged;
            }
        }
        if (best == INT32_MAX)
            break;
        size_t w = 0;
        for (size_t i = 0; i < m;) {
            if (i + 1 < m && sym[i] == left && sym[i + 1] == right) {
                sym[w++] = merged;
                i += 2;
            } else {
                sym[w++] = sym[i++];
            }
        }
        m = w;
    }
    return m;
}

/* ---- 8. encode ---- */

cs_status clip_tokenizer_encode(const clip_tokenizer *tok, const char *text, size_t len,
                                int32_t *ids, size_t context_length, size_t *n_out,
                                bool *truncated, cs_error *err)
{
    if (!tok || !ids || !n_out || (!text && len))
        return cs_error_set(err, CS_ERR_INVALID, "clip tokenizer: missing argument");
    if (context_length < 2)
        return cs_error_set(err, CS_ERR_INVALID,
                            "clip tokenizer: context length %zu is too small (at least 2)",
                            context_length);
    cpbuf c = {0};
    cs_status st = clean_text(text ? text : "", len, &c, err);
    if (st != CS_OK) {
        cp_free(&c);
        return st;
    }
    size_t room = context_length - 1;   /* positions before the end token */
    size_t count = 0;
    bool cut = false;
    ids[count++] = tok->start_id;
    unsigned char *bytes = NULL;
    int32_t *sym = NULL;
    if (c.n) {
        bytes = malloc(4 * c.n);
        sym = malloc(4 * c.n * sizeof *sym);
        if (!bytes || !sym) {
            st = cs_error_set(err, CS_ERR_NOMEM, "clip tokenizer: out of memory");
            goto done;
        }
    }
    for (size_t i = 0; i < c.n;) {
        size_t k = pretoken_length(c.v, c.n, i);
        if (!k) {
            i++;
            continue;
        }
        if (count == room) {
            cut = true;
            break;
        }
        size_t nb = 0;
        for (size_t j = i; j < i + k; j++)
            nb += utf8_put(c.v[j], bytes + nb);
        i += k;
        if (nb == 15 && memcmp(bytes, "<|startoftext|>", 15) == 0) {
            ids[count++] = tok->start_id;
            continue;
        }
        if (nb == 13 && memcmp(bytes, "<|endoftext|>", 13) == 0) {
            ids[count++] = tok->end_id;
            continue;
        }
        size_t m = bpe_word(tok, bytes, nb, sym);
        for (size_t j = 0; j < m; j++) {
            if (count == room) {
                cut = true;
                break;
            }
            ids[count++] = sym[j];
        }
        if (cut)
            break;
    }
    ids[count++] = tok->end_id;
    *n_out = count;
    if (truncated)
        *truncated = cut;
done:
    free(bytes);
    free(sym);
    cp_free(&c);
    return st;
}

/* ---- loading ---- */

static void bytes_to_unicode(int32_t map[256])
{
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        map[b] = printable ? b : 256 + extra++;
    }
}

static bool vocab_get(const clip_tokenizer *t, const char *s, int32_t *id)
{
    int64_t *v;
    if (!strmap_get(&t->vocab, s, &v))
        return false;
    *id = (int32_t)*v;
    return true;
}

static cs_status load_vocab(clip_tokenizer *t, const char *path, cs_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_cannot_open_file)
            return cs_error_set(err, CS_ERR_NOT_FOUND, "vocabulary '%s': %s", path, jerr.text);
        return cs_error_set(err, CS_ERR_CORRUPT, "vocabulary '%s': line %d: %s", path,
                            jerr.line, jerr.text);
    }
    cs_status st = CS_OK;
    if (!json_is_object(root)) {
        st = cs_error_set(err, CS_ERR_CORRUPT,
                          "vocabulary '%s': expected a JSON object of token -> id", path);
        goto done;
    }
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        json_int_t id = json_is_integer(value) ? json_integer_value(value) : -1;
        if (id < 0 || id >= INT32_MAX) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "vocabulary '%s': token \"%s\" has no valid id (a non-negative "
                              "integer)", path, key);
            goto done;
        }
        if (!strmap_put(&t->vocab, key, id)) {
            st = cs_error_set(err, CS_ERR_NOMEM, "vocabulary '%s': out of memory", path);
            goto done;
        }
        if ((size_t)id + 1 > t->vocab_size)
            t->vocab_size = (size_t)id + 1;
    }
    int32_t map[256];
    bytes_to_unicode(map);
    for (int b = 0; b < 256; b++) {
        char s[16];
        size_t k = utf8_put(map[b], (unsigned char *)s);
        s[k] = 0;
        if (!vocab_get(t, s, &t->byte_id[b])) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "vocabulary '%s': byte symbol \"%s\" (byte 0x%02x) is missing; "
                              "not a byte-level BPE vocabulary", path, s, b);
            goto done;
        }
        memcpy(s + k, "</w>", 5);
        if (!vocab_get(t, s, &t->byte_end_id[b])) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "vocabulary '%s': end-of-word symbol \"%s\" is missing", path, s);
            goto done;
        }
    }
    if (!vocab_get(t, "<|startoftext|>", &t->start_id) ||
        !vocab_get(t, "<|endoftext|>", &t->end_id))
        st = cs_error_set(err, CS_ERR_CORRUPT,
                          "vocabulary '%s': <|startoftext|> or <|endoftext|> is missing", path);
done:
    json_decref(root);
    return st;
}

static cs_status load_merges(clip_tokenizer *t, const char *path, cs_error *err)
{
    uint8_t *data;
    size_t len;
    cs_status st = fs_read_file(path, MERGES_MAX_BYTES, &data, &len, err);
    if (st != CS_OK)
        return st;  /* the message names the file */
    char *s = (char *)data, *end = s + len;
    size_t line_no = 0;
    int32_t rank = 0;
    char buf[1024];
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *line_end = nl ? nl : end;
        char *next = nl ? nl + 1 : end;
        line_no++;
        if (line_end > s && line_end[-1] == '\r')
            line_end--;
        size_t n = (size_t)(line_end - s);
        if (n == 0 || (line_no == 1 && n >= 8 && memcmp(s, "#version", 8) == 0)) {
            s = next;
            continue;
        }
        char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp + 1 == line_end || memchr(sp + 1, ' ', (size_t)(line_end - sp - 1)) ||
            memchr(s, 0, n) || n + 1 >= sizeof buf) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "merges '%s': line %zu: expected two symbols separated by one "
                              "space", path, line_no);
            goto done;
        }
        if (rank == INT32_MAX - 1) {
            st = cs_error_set(err, CS_ERR_TOO_LARGE, "merges '%s': too many merges", path);
            goto done;
        }
        size_t nl_len = (size_t)(sp - s), nr = (size_t)(line_end - sp - 1);
        int32_t a, b, ab;
        memcpy(buf, s, nl_len);
        buf[nl_len] = 0;
        bool ok_a = vocab_get(t, buf, &a);
        memcpy(buf, sp + 1, nr);
        buf[nr] = 0;
        bool ok_b = vocab_get(t, buf, &b);
        memcpy(buf, s, nl_len);
        memcpy(buf + nl_len, sp + 1, nr);
        buf[nl_len + nr] = 0;
        bool ok_ab = vocab_get(t, buf, &ab);
        if (!ok_a || !ok_b || !ok_ab) {
            st = cs_error_set(err, CS_ERR_CORRUPT,
                              "merges '%s': line %zu: \"%.*s\" uses or makes a symbol that is "
                              "not in the vocabulary", path, line_no, (int)n, s);
            goto done;
        }
        if (!pair_put(t, a, b, rank++, ab)) {
            st = cs_error_set(err, CS_ERR_NOMEM, "merges '%s': out of memory", path);
            goto done;
        }
        s = next;
    }
done:
    free(data);
    return st;
}

cs_status clip_tokenizer_load_files(const char *vocab_path, const char *merges_path,
                                    clip_tokenizer **out, cs_error *err)
{
    *out = NULL;
    clip_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return cs_error_set(err, CS_ERR_NOMEM, "clip tokenizer: out of memory");
    strmap_init(&t->vocab);
    cs_status st = load_vocab(t, vocab_path, err);
    if (st == CS_OK)
        st = load_merges(t, merges_path, err);
    if (st != CS_OK) {
        clip_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CS_OK;
}

cs_status clip_tokenizer_load(const char *dir, clip_tokenizer **out, cs_error *err)
{
    *out = NULL;
    char *vocab = fs_path_join(dir, "vocab.json");
    char *merges = fs_path_join(dir, "merges.txt");
    cs_status st;
    if (!vocab || !merges)
        st = cs_error_set(err, CS_ERR_NOMEM, "clip tokenizer: out of memory");
    else
        st = clip_tokenizer_load_files(vocab, merges, out, err);
    free(vocab);
    free(merges);
    return st;
}

void clip_tokenizer_free(clip_tokenizer *tok)
{
    if (!tok)
        return;
    strmap_free(&tok->vocab);
    free(tok->pairs);
    free(tok);
}

int32_t clip_tokenizer_start_id(const clip_tokenizer *tok) { return tok->start_id; }
int32_t clip_tokenizer_end_id(const clip_tokenizer *tok) { return tok->end_id; }
size_t clip_tokenizer_vocab_size(const clip_tokenizer *tok) { return tok->vocab_size; }
