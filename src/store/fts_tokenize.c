/* FTS5's tokenizer through its C API (fts5_api, reached with SELECT
 * fts5(?1) and a bound pointer, the documented way). */
#include "store/fts_tokenize.h"

#include <stdlib.h>
#include <string.h>

#include "common/array.h"

struct fts_tokenizer {
    fts5_tokenizer api;
    Fts5Tokenizer *instance;
};

static cs_status find_fts5(sqlite3 *db, fts5_api **api, cs_error *err)
{
    *api = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &stmt, NULL) != SQLITE_OK)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "this SQLite has no FTS5 API (%s)", sqlite3_errmsg(db));
    sqlite3_bind_pointer(stmt, 1, (void *)api, "fts5_api_ptr", NULL);
    sqlite3_step(stmt);
    sqlite3_finalize(stmt);
    if (!*api)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "this SQLite does not hand out its FTS5 API");
    return CS_OK;
}

cs_status fts_tokenizer_open(sqlite3 *db, fts_tokenizer **out, cs_error *err)
{
    *out = NULL;
    fts5_api *api;
    cs_status rc = find_fts5(db, &api, err);
    if (rc != CS_OK)
        return rc;
    fts_tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory opening the FTS5 tokenizer");
    void *user = NULL;
    /* the arguments of captions_fts's tokenize option (index/schema.sql) */
    const char *args[] = {"unicode61", "remove_diacritics", "2"};
    if (api->xFindTokenizer(api, "porter", &user, &t->api) != SQLITE_OK ||
        t->api.xCreate(user, args, 3, &t->instance) != SQLITE_OK) {
        free(t);
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "FTS5's porter tokenizer could not be created");
    }
    *out = t;
    return CS_OK;
}

void fts_tokenizer_close(fts_tokenizer *t)
{
    if (!t)
        return;
    t->api.xDelete(t->instance);
    free(t);
}

void fts_token_list_clear(fts_token_list *l)
{
    l->nbytes = 0;
    l->n = 0;
    l->next_pos = 0;
    l->nomem = 0;
}

void fts_token_list_free(fts_token_list *l)
{
    free(l->bytes);
    free(l->off);
    free(l->len);
    free(l->pos);
    memset(l, 0, sizeof *l);
}

static int on_token(void *ctx, int flags, const char *token, int ntoken, int start, int end)
{
    (void)start;
    (void)end;
    fts_token_list *l = ctx;
    size_t need = l->nbytes + (size_t)ntoken;
    if (need > l->bytes_cap) {
        size_t cap = l->bytes_cap ? l->bytes_cap : 256;
        while (cap < need)
            cap *= 2;
        char *b = realloc(l->bytes, cap);
        if (!b)
            goto nomem;
        l->bytes = b;
        l->bytes_cap = cap;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        uint32_t *o = realloc(l->off, cap * sizeof *o);
        if (!o)
            goto nomem;
        l->off = o;
        uint32_t *n = realloc(l->len, cap * sizeof *n);
        if (!n)
            goto nomem;
        l->len = n;
        uint32_t *p = realloc(l->pos, cap * sizeof *p);
        if (!p)
            goto nomem;
        l->pos = p;
        l->cap = cap;
    }
    memcpy(l->bytes + l->nbytes, token, (size_t)ntoken);
    /* a colocated token (a synonym) shares the previous token's position */
    uint32_t pos = (flags & FTS5_TOKEN_COLOCATED) && l->next_pos ? l->next_pos - 1 : l->next_pos++;
    l->off[l->n] = (uint32_t)l->nbytes;
    l->len[l->n] = (uint32_t)ntoken;
    l->pos[l->n] = pos;
    l->n++;
    l->nbytes = need;
    return SQLITE_OK;
nomem:
    l->nomem = 1;
    return SQLITE_NOMEM;
}

cs_status fts_tokenize(fts_tokenizer *t, fts_tokenize_mode mode, const char *text, size_t len,
                       fts_token_list *out, cs_error *err)
{
    if (len > 0x7fffffff)
        return cs_error_set(err, CS_ERR_INVALID, "text of %zu bytes is too long to tokenize", len);
    int flags = mode == FTS_TOKENIZE_DOCUMENT ? FTS5_TOKENIZE_DOCUMENT
              : mode == FTS_TOKENIZE_QUERY    ? FTS5_TOKENIZE_QUERY
                                              : FTS5_TOKENIZE_QUERY | FTS5_TOKENIZE_PREFIX;
    out->next_pos = 0;
    int rc = t->api.xTokenize(t->instance, out, flags, text ? text : "", (int)len, on_token);
    if (out->nomem)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory tokenizing text");
    if (rc != SQLITE_OK)
        return cs_error_set(err, CS_ERR_INVALID, "FTS5's tokenizer failed (code %d)", rc);
    return CS_OK;
}
