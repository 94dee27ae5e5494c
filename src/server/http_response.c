/* Response helpers for handlers and the one place a response becomes bytes. */
#include "server/http_internal.h"

#include <http_parser.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/utf8.h"

void http_response_init(http_response *response)
{
    memset(response, 0, sizeof *response);
    response->status = 200;
    strcpy(response->content_type, "application/json");
}

void http_response_free(http_response *response)
{
    free(response->body);
    response->body = NULL;
    response->body_len = 0;
}

static void set_body(http_response *response, char *text)
{
    free(response->body);
    response->body = (uint8_t *)text;
    response->body_len = text ? strlen(text) : 0;
    strcpy(response->content_type, "application/json");
}

/* Used when even building an error body failed: a fixed text, or no body. */
static void set_out_of_memory(http_response *response)
{
    static const char text[] =
        "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory building the response\"}}";
    response->status = 500;
    set_body(response, strdup(text));
}

void http_response_json(http_response *response, int status, char *json)
{
    if (!json) {
        /* The caller's allocation failed; say so instead of sending nothing. */
        set_out_of_memory(response);
        return;
    }
    response->status = status;
    set_body(response, json);
}

void http_response_error(http_response *response, int status, const char *code,
                         const char *message)
{
    /* jansson refuses invalid UTF-8; a message quoting user input may hold some. */
    char *safe_code = utf8_sanitize(code ? code : "error");
    char *safe_message = utf8_sanitize(message ? message : "");
    json_t *doc = NULL;
    char *text = NULL;
    if (safe_code && safe_message)
        doc = json_pack("{s:{s:s,s:s}}", "error", "code", safe_code, "message", safe_message);
    if (doc)
        text = json_dumps(doc, JSON_COMPACT);   /* malloc'd: jansson's default allocator */
    json_decref(doc);
    free(safe_code);
    free(safe_message);
    if (!text) {
        set_out_of_memory(response);
        return;
    }
    response->status = status;
    set_body(response, text);
}

/* Headers whose value the server decides: letting a handler set them would
 * break the framing of the connection. */
static bool is_server_managed(const char *name)
{
    static const char *const managed[] = {"Content-Length", "Transfer-Encoding", "Connection",
                                          "Keep-Alive", "Upgrade", "Date"};
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (strcasecmp(name, managed[i]) == 0)
            return true;
    return false;
}

cs_status http_response_add_header(http_response *response, const char *name,
                                   const char *value)
{
    if (!name || !value || !http_is_field_name(name) || !http_is_field_value(value))
        return CS_ERR_INVALID;
    if (is_server_managed(name))
        return CS_ERR_INVALID;
    if (strcasecmp(name, "Content-Type") == 0) {
        if (strlen(value) >= sizeof response->content_type)
            return CS_ERR_TOO_LARGE;
        strcpy(response->content_type, value);
        return CS_OK;
    }
    if (response->nheaders < 0 || response->nheaders >= HTTP_MAX_RESPONSE_HEADERS)
        return CS_ERR_TOO_LARGE;
    http_response_header *header = &response->headers[response->nheaders];
    if (strlen(name) >= sizeof header->name || strlen(value) >= sizeof header->value)
        return CS_ERR_TOO_LARGE;
    strcpy(header->name, name);
    strcpy(header->value, value);
    response->nheaders++;
    return CS_OK;
}

bool http_status_has_body(int status)
{
    return !(status < 200 || status == 204 || status == 304);
}

static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

/* Why a handler's response cannot be sent as it is, or NULL when it can. */
static const char *response_problem(const http_response *response)
{
    /* 1xx are interim answers: a handler must give a final one. */
    if (response->status < 200 || response->status > 999)
        return "status code outside 200..999";
    if (!terminated(response->content_type, sizeof response->content_type) ||
        !http_is_field_value(response->content_type))
        return "invalid Content-Type";
    if (response->nheaders < 0 || response->nheaders > HTTP_MAX_RESPONSE_HEADERS)
        return "header count out of range";
    for (int i = 0; i < response->nheaders; i++) {
        const http_response_header *h = &response->headers[i];
        if (!terminated(h->name, sizeof h->name) || !terminated(h->value, sizeof h->value) ||
            !http_is_field_name(h->name) || !http_is_field_value(h->value) ||
            is_server_managed(h->name))
            return "invalid header";
    }
    if (!response->body && response->body_len)
        return "body length without a body";
    /* libuv buffers hold at most UINT_MAX bytes; refuse rather than cut. */
    if (response->body_len > UINT_MAX)
        return "body larger than 4 GiB";
    return NULL;
}

static const char *reason_phrase(int status)
{
    const char *reason = http_status_str((enum http_status)status);
    /* http_parser says "<unknown>" for codes it does not list. */
    return strcmp(reason, "<unknown>") == 0 ? "Unknown" : reason;
}

static void append_date(strbuf *out)
{
    /* Fixed English names: strftime would follow the process locale. */
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    struct tm tm;
    if (!gmtime_r(&now, &tm))
        return;   /* Date is optional */
    strbuf_appendf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday % 7],
                   tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
                   tm.tm_min, tm.tm_sec);
}

bool http_response_serialize_head(http_response *response, bool keep_alive, strbuf *out)
{
    const char *problem = response_problem(response);
    if (problem) {
        http_response_free(response);
        http_response_init(response);
        char message[128];
        snprintf(message, sizeof message, "the handler produced an invalid response: %s",
                 problem);
        http_response_error(response, 500, "internal_error", message);
    }
    if (!http_status_has_body(response->status))
        http_response_free(response);
    strbuf_appendf(out, "HTTP/1.1 %d %s\r\n", response->status, reason_phrase(response->status));
    strbuf_appendf(out, "Content-Type: %s\r\n", response->content_type);
    if (http_status_has_body(response->status))
        strbuf_appendf(out, "Content-Length: %zu\r\n", response->body_len);
    strbuf_appendf(out, "Connection: %s\r\n", keep_alive ? "keep-alive" : "close");
    append_date(out);
    for (int i = 0; i < response->nheaders; i++)
        strbuf_appendf(out, "%s: %s\r\n", response->headers[i].name, response->headers[i].value);
    strbuf_append(out, "\r\n");
    return !strbuf_failed(out);
}
