#include "models/hub/hub_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "capsearch_config.h"

struct hub_http {
    CURL *curl;
    int timeout_s;
    bool token;
    volatile int *cancel;
    char errbuf[CURL_ERROR_SIZE];
};

/* How much of an error response's body is kept for the message. */
#define ERROR_BODY_MAX 4096

/* What one request has seen so far. Each response (a redirect, then the
 * file) starts with its status line; only the last one's body is kept. */
typedef struct transfer {
    hub_http *http;
    hub_get *get;
    bool started;            /* the current response's body began */
    bool keep;               /* ... and it is the content (2xx) */
    bool have_range;
    uint64_t range_start;    /* the current response's Content-Range */
    uint64_t position;       /* where the next body byte goes */
    int write_errno;
    bool too_large;
    bool bad_range;
} transfer;

static void copy_trimmed(char *out, size_t size, const char *value, size_t len)
{
    while (len && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    while (len && (value[len - 1] == '\r' || value[len - 1] == '\n' || value[len - 1] == ' '))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, value, len);
    out[len] = '\0';
}

/* Copies the value when the header line is `name: value`. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    copy_trimmed(out, size, line + n + 1, len - n - 1);
    return true;
}

static size_t on_header(char *data, size_t size, size_t count, void *user)
{
    transfer *t = user;
    size_t len = size * count;
    char value[256];
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        t->started = false;
        t->have_range = false;
        t->get->error_code[0] = t->get->error_message[0] = '\0';
    } else if (header_value(data, len, "content-range", value, sizeof value)) {
        char *end = NULL;
        errno = 0;
        unsigned long long start =
            strncmp(value, "bytes ", 6) == 0 ? strtoull(value + 6, &end, 10) : 0;
        t->have_range = end && end != value + 6 && *end == '-' && errno == 0;
        t->range_start = start;
    } else if (!header_value(data, len, "x-error-code", t->get->error_code,
                             sizeof t->get->error_code)) {
        header_value(data, len, "x-error-message", t->get->error_message,
                     sizeof t->get->error_message);
    }
    return len;
}

/* The first body bytes of a response: decides where they go. */
static bool begin_body(transfer *t)
{
    hub_get *get = t->get;
    t->started = true;
    t->position = 0;
    long status = 0;
    curl_easy_getinfo(t->http->curl, CURLINFO_RESPONSE_CODE, &status);
    get->status = status;
    t->keep = status >= 200 && status < 300;
    if (!t->keep || get->fd < 0)
        return true;
    if (status == 206) {
        if (!t->have_range || t->range_start != get->offset) {
            t->bad_range = true;
            return false;
        }
        t->position = get->offset;
    } else if (get->offset > 0) {
        /* The server sends the whole file instead of the rest: start over. */
        if (ftruncate(get->fd, 0) != 0) {
            t->write_errno = errno;
            return false;
        }
        get->restarted = true;
    }
    return true;
}

static bool write_at(int fd, const char *data, size_t len, uint64_t position, int *errnum)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, data, len, (off_t)position);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *errnum = n < 0 ? errno : EIO;
            return false;
        }
        data += n;
        len -= (size_t)n;
        position += (uint64_t)n;
    }
    return true;
}

static size_t on_body(char *data, size_t size, size_t count, void *user)
{
    transfer *t = user;
    hub_get *get = t->get;
    size_t len = size * count;
    if (!t->started && !begin_body(t))
        return 0;
    if (!t->keep) {
        /* redirects' bodies are dropped; errors keep a little for the message */
        if (get->status >= 400 && get->body.len < ERROR_BODY_MAX)
            strbuf_append_n(&get->body, data,
                            len < ERROR_BODY_MAX - get->body.len ? len : ERROR_BODY_MAX - get->body.len);
        return len;
    }
    if (t->position + len > get->limit) {
        t->too_large = true;
        return 0;
    }
    if (get->fd < 0) {
        strbuf_append_n(&get->body, data, len);
        if (strbuf_failed(&get->body)) {
            t->write_errno = ENOMEM;
            return 0;
        }
    } else if (!write_at(get->fd, data, len, t->position, &t->write_errno)) {
        return 0;
    }
    t->position += len;
    get->received += len;
    if (get->fd >= 0 && get->on_bytes)
        get->on_bytes(t->position, get->user);
    return len;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    hub_http *http = user;
    return http->cancel && *http->cancel ? 1 : 0;
}

static void set(CURLcode rc, bool *ok)
{
    if (rc != CURLE_OK)
        *ok = false;
}

cs_status hub_http_open(const hub_http_config *config, hub_http **out, cs_error *err)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return cs_error_set(err, CS_ERR_IO, "cannot start libcurl");
    hub_http *http = calloc(1, sizeof *http);
    CURL *curl = http ? curl_easy_init() : NULL;
    if (!curl) {
        free(http);
        curl_global_cleanup();
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting libcurl");
    }
    http->curl = curl;
    http->timeout_s = config->timeout_s > 0 ? config->timeout_s : 30;
    http->cancel = config->cancel;
    const char *protocols = config->allow_http ? "http,https" : "https";
    bool ok = true;
    set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, protocols), &ok);
    set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, protocols), &ok);
    set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_USERAGENT, "capsearch/" CAPSEARCH_VERSION), &ok);
    set(curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, http->errbuf), &ok);
    set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)http->timeout_s), &ok);
    /* Slower than a byte a second for timeout_s seconds counts as stalled. */
    set(curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, (long)http->timeout_s), &ok);
    set(curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L), &ok);
    set(curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress), &ok);
    set(curl_easy_setopt(curl, CURLOPT_XFERINFODATA, http), &ok);
    set(curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header), &ok);
    set(curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body), &ok);
    http->token = config->token && *config->token;
    if (http->token) {
        /* libcurl's own auth, not a raw header: it is then dropped when a
         * redirect leads to another host, port or scheme (the Hub sends
         * large files to a CDN). */
        set(curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER), &ok);
        set(curl_easy_setopt(curl, CURLOPT_XOAUTH2_BEARER, config->token), &ok);
    }
    if (!ok) {
        hub_http_close(http);
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "this libcurl (%s) lacks an option capsearch needs", curl_version());
    }
    *out = http;
    return CS_OK;
}

void hub_http_close(hub_http *http)
{
    if (!http)
        return;
    curl_easy_cleanup(http->curl);
    free(http);
    curl_global_cleanup();
}

bool hub_http_has_token(const hub_http *http)
{
    return http->token;
}

cs_status hub_http_get(hub_http *http, hub_get *get, cs_error *err)
{
    transfer t = {.http = http, .get = get};
    get->status = 0;
    get->restarted = false;
    get->received = 0;
    get->error_code[0] = get->error_message[0] = '\0';
    strbuf_reset(&get->body);
    char range[32];
    snprintf(range, sizeof range, "%llu-", (unsigned long long)get->offset);
    http->errbuf[0] = '\0';
    CURL *curl = http->curl;
    bool ok = true;
    set(curl_easy_setopt(curl, CURLOPT_URL, get->url), &ok);
    set(curl_easy_setopt(curl, CURLOPT_RANGE, get->fd >= 0 && get->offset ? range : NULL), &ok);
    set(curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t), &ok);
    set(curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t), &ok);
    if (!ok)
        return cs_error_set(err, CS_ERR_INVALID, "cannot request %s", get->url);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && !t.started && !begin_body(&t))
        rc = CURLE_WRITE_ERROR;   /* an empty body still decides (a 200 empties the file) */
    get->status = status;
    if (rc == CURLE_OK)
        return CS_OK;
    const char *why = http->errbuf[0] ? http->errbuf : curl_easy_strerror(rc);
    if (t.write_errno == ENOMEM)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading %s", get->url);
    if (t.write_errno)
        return cs_error_errno(err, t.write_errno, "cannot write", get->path ? get->path : "");
    if (t.too_large)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "%s: the server sent more than the %llu bytes expected", get->url,
                            (unsigned long long)get->limit);
    if (t.bad_range)
        return cs_error_set(err, CS_ERR_CORRUPT,
                            "%s: asked for the bytes from %llu on, the server sent another range",
                            get->url, (unsigned long long)get->offset);
    if (rc == CURLE_ABORTED_BY_CALLBACK && http->cancel && *http->cancel)
        return cs_error_set(err, CS_ERR_CANCELLED, "interrupted");
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return cs_error_set(err, CS_ERR_IO, "%s: no answer or no data for %d s (%s)", get->url,
                            http->timeout_s, why);
    return cs_error_set(err, CS_ERR_IO, "cannot download %s: %s", get->url, why);
}
