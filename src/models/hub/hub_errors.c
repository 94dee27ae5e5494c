/* Messages for the Hub's HTTP errors. The Hub names its errors in an
 * X-Error-Code header (RepoNotFound, RevisionNotFound, EntryNotFound,
 * GatedRepo) and answers 401, not 404, for a repository that does not exist
 * when no token is sent. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "models/hub/hub.h"

/* The server's own words: X-Error-Message, else the JSON body's "error",
 * else the body's first line; "" when there are none. */
static void server_words(const hub_get *get, char *out, size_t size)
{
    out[0] = '\0';
    const char *words = get->error_message;
    json_t *doc = NULL;
    if (!*words && get->body.len) {
        doc = json_loadb(get->body.data, get->body.len, 0, NULL);
        words = json_string_value(json_object_get(doc, "error"));
        if (!words)
            words = get->body.data;
    }
    size_t n = 0;
    for (const char *p = words; p && *p && *p != '\n' && *p != '\r' && n + 1 < size && n < 200;
         p++)
        out[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
    out[n] = '\0';
    json_decref(doc);
}

cs_status hub_status_error(const hub_get *get, bool have_token, const char *name,
                           const char *revision, const char *file, cs_error *err)
{
    char said[256], says[300] = "";
    server_words(get, said, sizeof said);
    if (*said)
        snprintf(says, sizeof says, ": \"%s\"", said);
    const char *code = get->error_code;
    long status = get->status;
    const char *url = get->url;
    if (strcmp(code, "RevisionNotFound") == 0)
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "revision '%s' not found in %s (HTTP %ld from %s%s)", revision, name,
                            status, url, says);
    if (strcmp(code, "RepoNotFound") == 0 || (!file && status == 404) ||
        (status == 401 && !have_token))
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "repository %s not found (HTTP %ld from %s%s): check the name%s",
                            name, status, url, says,
                            have_token ? ", and that the token in HF_TOKEN may read it"
                                       : "; a private or gated repository needs a token in "
                                         "HF_TOKEN");
    if (strcmp(code, "GatedRepo") == 0 || status == 403)
        return cs_error_set(err, CS_ERR_IO,
                            "access to %s is restricted (HTTP %ld from %s%s): accept its conditions "
                            "on its page on the Hub, then set HF_TOKEN to a token of that account",
                            name, status, url, says);
    if (status == 401)
        return cs_error_set(err, CS_ERR_IO, "the Hub refused the token in HF_TOKEN (HTTP 401 from %s%s)",
                            url, says);
    if (strcmp(code, "EntryNotFound") == 0 || status == 404)
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "%s not found in %s at revision %s (HTTP %ld from %s%s)",
                            file ? file : "the file list", name, revision, status, url, says);
    if (status == 429)
        return cs_error_set(err, CS_ERR_IO,
                            "the Hub is limiting requests (HTTP 429 from %s%s): wait a few minutes "
                            "and run the same command again", url, says);
    if (status >= 500)
        return cs_error_set(err, CS_ERR_IO,
                            "the server failed (HTTP %ld from %s%s): try again later", status,
                            url, says);
    return cs_error_set(err, CS_ERR_IO, "unexpected HTTP %ld from %s%s", status, url, says);
}
