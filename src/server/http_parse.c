/* Request assembly: http_parser callbacks collect the pieces of a request
 * (every callback may deliver a fragment: a header name can be split across
 * two reads), enforce the limits while the bytes arrive, and hand a complete,
 * decoded request to the sink. No sockets here: the server and the fuzzer
 * feed it the same way. */
#include "server/http_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/array.h"

/* The request line around the URL: "METHOD " and " HTTP/1.1\r\n". */
#define REQUEST_LINE_OVERHEAD 12
/* ": " and CRLF around each header line. */
#define HEADER_LINE_OVERHEAD 4

static http_assembler *assembler_of(http_parser *parser)
{
    return parser->data;
}

static void free_headers(http_assembler *a)
{
    for (size_t i = 0; i < a->nheaders; i++) {
        strbuf_free(&a->headers[i].name);
        strbuf_free(&a->headers[i].value);
    }
    a->nheaders = 0;
}

static void reset_message(http_assembler *a)
{
    strbuf_free(&a->url);
    free_headers(a);
    strbuf_free(&a->body);
    a->next_field_starts_header = true;
    a->header_bytes = 0;
}

/* Stops the assembler and tells the sink what to answer. Returns the value
 * that makes http_parser halt. */
static int reject(http_assembler *a, int status, const char *code, const char *fmt, ...)
    CS_PRINTF(4, 5);

static int reject(http_assembler *a, int status, const char *code, const char *fmt, ...)
{
    char message[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    a->state = HTTP_ASSEMBLER_STOPPED;
    a->in_message = false;
    a->sink->reject(a->sink_context, status, code, message);
    return -1;
}

static int reject_out_of_memory(http_assembler *a)
{
    return reject(a, 500, "internal_error", "out of memory reading the request");
}

static int add_header_bytes(http_assembler *a, size_t n)
{
    a->header_bytes += n;
    if (a->header_bytes > a->limits.max_header_bytes)
        return reject(a, 431, "header_too_large",
                      "the request line and headers exceed %zu bytes",
                      a->limits.max_header_bytes);
    return 0;
}

static int on_message_begin(http_parser *parser)
{
    http_assembler *a = assembler_of(parser);
    reset_message(a);
    a->in_message = true;
    if (a->sink->message_begin)
        a->sink->message_begin(a->sink_context);
    return 0;
}

static int on_url(http_parser *parser, const char *at, size_t length)
{
    http_assembler *a = assembler_of(parser);
    if (a->url.len == 0 && add_header_bytes(a, REQUEST_LINE_OVERHEAD) != 0)
        return -1;
    if (length > a->limits.max_url_bytes - a->url.len)
        return reject(a, 414, "uri_too_long", "the URL is longer than %zu bytes",
                      a->limits.max_url_bytes);
    strbuf_append_n(&a->url, at, length);
    if (strbuf_failed(&a->url))
        return reject_out_of_memory(a);
    return add_header_bytes(a, length);
}

static int on_header_field(http_parser *parser, const char *at, size_t length)
{
    http_assembler *a = assembler_of(parser);
    if (a->next_field_starts_header) {
        if (a->nheaders >= HTTP_MAX_HEADER_COUNT)
            return reject(a, 431, "header_too_large", "more than %d header lines",
                          HTTP_MAX_HEADER_COUNT);
        if (!ARRAY_RESERVE(a->headers, a->headers_capacity, a->nheaders))
            return reject_out_of_memory(a);
        strbuf_init(&a->headers[a->nheaders].name);
        strbuf_init(&a->headers[a->nheaders].value);
        a->nheaders++;
        a->next_field_starts_header = false;
        if (add_header_bytes(a, HEADER_LINE_OVERHEAD) != 0)
            return -1;
    }
    strbuf *name = &a->headers[a->nheaders - 1].name;
    strbuf_append_n(name, at, length);
    if (strbuf_failed(name))
        return reject_out_of_memory(a);
    return add_header_bytes(a, length);
}

static int on_header_value(http_parser *parser, const char *at, size_t length)
{
    http_assembler *a = assembler_of(parser);
    if (a->nheaders == 0)   /* http_parser always sends a field first */
        return reject(a, 400, "bad_request", "header value without a name");
    a->next_field_starts_header = true;
    strbuf *value = &a->headers[a->nheaders - 1].value;
    strbuf_append_n(value, at, length);
    if (strbuf_failed(value))
        return reject_out_of_memory(a);
    return add_header_bytes(a, length);
}

static bool is_named(const http_assembler_header *h, const char *name)
{
    return strcasecmp(strbuf_str(&h->name), name) == 0;
}

/* "chunked" alone, ignoring surrounding spaces and case: the one coding we
 * can read (http_parser decodes it). */
static bool is_plain_chunked(const char *value)
{
    while (*value == ' ' || *value == '\t')
        value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t'))
        n--;
    return n == 7 && strncasecmp(value, "chunked", 7) == 0;
}

static int on_headers_complete(http_parser *parser)
{
    http_assembler *a = assembler_of(parser);
    if (add_header_bytes(a, 2) != 0)   /* the blank line */
        return -1;
    /* http_parser takes any digits; HTTP/1.x is what we speak (a 1.x with a
     * higher minor is 1.1-compatible by definition). */
    if (parser->http_major != 1)
        return reject(a, 505, "http_version_not_supported",
                      "HTTP/%u.%u is not supported; use HTTP/1.1", parser->http_major,
                      parser->http_minor);
    bool expects_continue = false;
    for (size_t i = 0; i < a->nheaders; i++) {
        const http_assembler_header *h = &a->headers[i];
        /* Debian's http_parser is built lenient (spaces in names pass); a
         * name like "Transfer-Encoding " is a request-smuggling classic. */
        if (!http_is_field_name(strbuf_str(&h->name)) ||
            !http_is_field_value(strbuf_str(&h->value)))
            return reject(a, 400, "bad_request", "malformed header line %zu", i + 1);
        if (is_named(h, "Transfer-Encoding") && !is_plain_chunked(strbuf_str(&h->value)))
            return reject(a, 501, "not_implemented",
                          "Transfer-Encoding '%.64s' is not supported: send the body with "
                          "Content-Length or 'Transfer-Encoding: chunked'",
                          strbuf_str(&h->value));
        if (is_named(h, "Expect")) {
            if (strcasecmp(strbuf_str(&h->value), "100-continue") != 0)
                return reject(a, 417, "expectation_failed",
                              "only 'Expect: 100-continue' is supported");
            expects_continue = true;
        }
    }
    /* Refuse an oversized body before reading any of it. */
    if ((parser->flags & F_CONTENTLENGTH) && parser->content_length > a->limits.max_body_bytes)
        return reject(a, 413, "payload_too_large",
                      "the body is %" PRIu64 " bytes; the limit is %zu bytes",
                      (uint64_t)parser->content_length, a->limits.max_body_bytes);
    bool has_body = (parser->flags & F_CHUNKED) ||
                    ((parser->flags & F_CONTENTLENGTH) && parser->content_length > 0);
    if (expects_continue && has_body && parser->http_major == 1 && parser->http_minor >= 1 &&
        a->sink->expect_continue)
        a->sink->expect_continue(a->sink_context);
    return 0;
}

static int on_body(http_parser *parser, const char *at, size_t length)
{
    http_assembler *a = assembler_of(parser);
    /* Chunked bodies have no length up front: count as they come. */
    if (length > a->limits.max_body_bytes - a->body.len)
        return reject(a, 413, "payload_too_large", "the body is larger than %zu bytes",
                      a->limits.max_body_bytes);
    strbuf_append_n(&a->body, at, length);
    if (strbuf_failed(&a->body))
        return reject_out_of_memory(a);
    return 0;
}

/* Moves the collected headers into the request (names and values as sent). */
static bool take_headers(http_assembler *a, http_request_data *r)
{
    if (a->nheaders == 0)
        return true;
    r->headers = calloc(a->nheaders, sizeof *r->headers);
    if (!r->headers)
        return false;
    r->nheaders = a->nheaders;
    for (size_t i = 0; i < a->nheaders; i++) {
        r->headers[i].name = strbuf_take(&a->headers[i].name);
        r->headers[i].value = strbuf_take(&a->headers[i].value);
        if (!r->headers[i].name || !r->headers[i].value)
            return false;
    }
    return true;
}

/* Splits the request target into a decoded path and the raw query. */
static int take_target(http_assembler *a, http_parser *parser, http_request_data *r)
{
    const char *url = strbuf_str(&a->url);
    struct http_parser_url fields;
    http_parser_url_init(&fields);
    if (a->url.len == 0 ||
        http_parser_parse_url(url, a->url.len, parser->method == HTTP_CONNECT, &fields) != 0)
        return reject(a, 400, "bad_request", "malformed request target");
    if (fields.field_set & (1u << UF_PATH)) {
        cs_error err;
        cs_status rc = http_percent_decode(url + fields.field_data[UF_PATH].off,
                                           fields.field_data[UF_PATH].len, false, &r->path, &err);
        if (rc == CS_ERR_NOMEM)
            return reject_out_of_memory(a);
        if (rc != CS_OK)
            return reject(a, 400, "invalid_path", "invalid path: %s", err.message);
    } else {
        /* "http://host" and CONNECT's "host:port" have none. */
        r->path = strdup("/");
    }
    if (fields.field_set & (1u << UF_QUERY))
        r->raw_query = strndup(url + fields.field_data[UF_QUERY].off,
                               fields.field_data[UF_QUERY].len);
    else
        r->raw_query = strdup("");
    if (!r->path || !r->raw_query)
        return reject_out_of_memory(a);
    return 0;
}

static int on_message_complete(http_parser *parser)
{
    http_assembler *a = assembler_of(parser);
    http_request_data *r = calloc(1, sizeof *r);
    if (!r)
        return reject_out_of_memory(a);
    if (take_target(a, parser, r) != 0) {
        http_request_data_free(r);
        return -1;
    }
    if (!take_headers(a, r)) {
        http_request_data_free(r);
        return reject_out_of_memory(a);
    }
    if (a->body.len > 0) {
        r->view.body_len = a->body.len;
        r->body = (uint8_t *)strbuf_take(&a->body);
        if (!r->body) {
            http_request_data_free(r);
            return reject_out_of_memory(a);
        }
    }
    r->view.method = http_method_str((enum http_method)parser->method);
    r->view.path = r->path;
    r->view.raw_query = r->raw_query;
    r->view.headers = r->headers;
    r->view.nheaders = r->nheaders;
    r->view.body = r->body;
    /* After an upgrade (or CONNECT) the rest of the stream is another
     * protocol we do not speak: answer this request, then close. */
    r->keep_alive = http_should_keep_alive(parser) && !parser->upgrade;
    r->is_head = parser->method == HTTP_HEAD;

    a->in_message = false;
    if (!r->keep_alive)
        a->state = HTTP_ASSEMBLER_STOPPED;
    bool carry_on = a->sink->request(a->sink_context, r);
    if (a->state == HTTP_ASSEMBLER_READING && !carry_on)
        a->state = HTTP_ASSEMBLER_PAUSED;
    if (a->state != HTTP_ASSEMBLER_READING)
        http_parser_pause(parser, 1);   /* execute() returns right after this request */
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void http_assembler_init(http_assembler *a, const http_limits *limits,
                         const http_assembler_sink *sink, void *sink_context)
{
    memset(a, 0, sizeof *a);
    http_parser_init(&a->parser, HTTP_REQUEST);
    a->parser.data = a;
    a->limits = http_limits_normalize(limits);
    a->sink = sink;
    a->sink_context = sink_context;
    a->state = HTTP_ASSEMBLER_READING;
    strbuf_init(&a->url);
    strbuf_init(&a->body);
    a->next_field_starts_header = true;
}

void http_assembler_free(http_assembler *a)
{
    reset_message(a);
    free(a->headers);
    a->headers = NULL;
    a->headers_capacity = 0;
}

/* A parse error http_parser found: which status answers it. */
static void reject_parse_error(http_assembler *a, enum http_errno error)
{
    switch (error) {
    case HPE_HEADER_OVERFLOW:
        reject(a, 431, "header_too_large", "the request line and headers are too large");
        break;
    case HPE_INVALID_TRANSFER_ENCODING:
        reject(a, 501, "not_implemented",
               "unsupported Transfer-Encoding: send the body with Content-Length or "
               "'Transfer-Encoding: chunked'");
        break;
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        reject(a, 400, "bad_request",
               "a request cannot have both Content-Length and Transfer-Encoding");
        break;
    default:
        reject(a, 400, "bad_request", "malformed request: %s", http_errno_description(error));
        break;
    }
}

size_t http_assembler_feed(http_assembler *a, const char *data, size_t len)
{
    if (a->state == HTTP_ASSEMBLER_STOPPED || len == 0)
        return len;   /* len 0 would mean end-of-stream to http_parser */
    if (a->state == HTTP_ASSEMBLER_PAUSED)
        return 0;
    size_t consumed = http_parser_execute(&a->parser, &parser_settings, data, len);
    if (a->state == HTTP_ASSEMBLER_STOPPED)
        return len;
    if (a->state == HTTP_ASSEMBLER_PAUSED)
        return consumed;
    enum http_errno error = HTTP_PARSER_ERRNO(&a->parser);
    if (error != HPE_OK)
        reject_parse_error(a, error);
    else if (consumed != len)   /* http_parser stops early only on upgrade, handled above */
        reject(a, 400, "bad_request", "the request could not be parsed past byte %zu", consumed);
    return len;
}

void http_assembler_resume(http_assembler *a)
{
    if (a->state != HTTP_ASSEMBLER_PAUSED)
        return;
    a->state = HTTP_ASSEMBLER_READING;
    http_parser_pause(&a->parser, 0);
}

void http_assembler_stop(http_assembler *a)
{
    a->state = HTTP_ASSEMBLER_STOPPED;
    a->in_message = false;
}

void http_request_data_free(http_request_data *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->raw_query);
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    free(r->headers);
    free(r->body);
    free(r);
}
