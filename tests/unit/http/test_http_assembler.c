/* Request assembly without a socket: requests split at every byte, pipelined
 * requests, pausing for back-pressure, and every limit and malformed input the
 * server answers by itself. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/http_internal.h"

#define MAX_COLLECTED 32

typedef struct collector {
    http_request_data *requests[MAX_COLLECTED];
    int nrequests;
    int begins;
    int continues;
    int rejected_status;
    char rejected_code[64];
    char rejected_message[256];
    int pause_every;   /* ask for a pause after this many requests (0 = never) */
} collector;

static void collect_begin(void *context)
{
    ((collector *)context)->begins++;
}

static bool collect_request(void *context, http_request_data *request)
{
    collector *c = context;
    if (c->nrequests < MAX_COLLECTED)
        c->requests[c->nrequests++] = request;
    else
        http_request_data_free(request);
    return !(c->pause_every && c->nrequests % c->pause_every == 0);
}

static void collect_reject(void *context, int status, const char *code, const char *message)
{
    collector *c = context;
    CHECK_INT_EQ(c->rejected_status, 0);   /* at most one per stream */
    c->rejected_status = status;
    snprintf(c->rejected_code, sizeof c->rejected_code, "%s", code);
    snprintf(c->rejected_message, sizeof c->rejected_message, "%s", message);
}

static void collect_continue(void *context)
{
    ((collector *)context)->continues++;
}

static const http_assembler_sink collect_sink = {
    .message_begin = collect_begin,
    .request = collect_request,
    .reject = collect_reject,
    .expect_continue = collect_continue,
};

static void collector_free(collector *c)
{
    for (int i = 0; i < c->nrequests; i++)
        http_request_data_free(c->requests[i]);
    memset(c, 0, sizeof *c);
}

/* Feeds `text` in pieces of `chunk` bytes, resuming whenever the sink paused,
 * the way the server does once its queue has room. */
static void feed(http_assembler *a, const char *text, size_t len, size_t chunk)
{
    size_t offset = 0;
    while (offset < len) {
        size_t n = len - offset < chunk ? len - offset : chunk;
        size_t consumed = http_assembler_feed(a, text + offset, n);
        offset += consumed;
        if (a->state == HTTP_ASSEMBLER_PAUSED)
            http_assembler_resume(a);
        else
            CHECK_INT_EQ(consumed, n);
    }
}

/* Runs one stream through a fresh assembler, at the given piece size. */
static void run(collector *c, const http_limits *limits, const char *text, size_t chunk)
{
    http_assembler a;
    http_assembler_init(&a, limits, &collect_sink, c);
    feed(&a, text, strlen(text), chunk);
    http_assembler_free(&a);
}

static void test_split_at_every_byte(void)
{
    const char *text =
        "GET /photos/caf%C3%A9%20bar?q=dog+beach&k=5 HTTP/1.1\r\n"
        "Host: localhost:8080\r\n"
        "X-Empty:\r\n"
        "User-Agent: test agent/1.0\r\n"
        "Accept: */*\r\n"
        "\r\n";
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        collector c = {0};
        run(&c, NULL, text, chunk);
        CHECK_INT_EQ(c.nrequests, 1);
        CHECK_INT_EQ(c.rejected_status, 0);
        if (c.nrequests != 1) {
            collector_free(&c);
            continue;
        }
        const http_request *r = &c.requests[0]->view;
        CHECK_STR_EQ(r->method, "GET");
        CHECK_STR_EQ(r->path, "/photos/caf\xC3\xA9 bar");
        CHECK_STR_EQ(r->raw_query, "q=dog+beach&k=5");
        CHECK_INT_EQ(r->nheaders, 4);
        CHECK_STR_EQ(r->headers[0].name, "Host");
        CHECK_STR_EQ(r->headers[0].value, "localhost:8080");
        CHECK_STR_EQ(r->headers[1].name, "X-Empty");
        CHECK_STR_EQ(r->headers[1].value, "");
        CHECK_STR_EQ(r->headers[2].name, "User-Agent");
        CHECK_STR_EQ(r->headers[2].value, "test agent/1.0");
        CHECK_STR_EQ(http_request_header(r, "accept"), "*/*");
        CHECK(r->body == NULL && r->body_len == 0);
        CHECK(c.requests[0]->keep_alive);
        CHECK(!c.requests[0]->is_head);
        CHECK_INT_EQ(c.begins, 1);
        collector_free(&c);
    }
}

static void test_pipelined_and_bodies(void)
{
    const char *text =
        "GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        "POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
        "HEAD /four HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t chunks[] = {1, 3, 64, 4096};
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        collector c = {0};
        run(&c, NULL, text, chunks[i]);
        CHECK_INT_EQ(c.nrequests, 4);
        CHECK_INT_EQ(c.rejected_status, 0);
        if (c.nrequests == 4) {
            CHECK_STR_EQ(c.requests[0]->view.path, "/one");
            CHECK_STR_EQ(c.requests[1]->view.method, "POST");
            CHECK_INT_EQ(c.requests[1]->view.body_len, 5);
            CHECK(memcmp(c.requests[1]->view.body, "hello", 5) == 0);
            CHECK_STR_EQ(c.requests[2]->view.path, "/three");
            CHECK_INT_EQ(c.requests[2]->view.body_len, 7);
            CHECK(memcmp(c.requests[2]->view.body, "abcdefg", 7) == 0);
            CHECK_STR_EQ(c.requests[3]->view.method, "HEAD");
            CHECK(c.requests[3]->is_head);
        }
        collector_free(&c);
    }
}

static void test_pause(void)
{
    const char *text = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n";
    collector c = {.pause_every = 1};
    http_assembler a;
    http_assembler_init(&a, NULL, &collect_sink, &c);
    size_t len = strlen(text);
    size_t consumed = http_assembler_feed(&a, text, len);
    /* Stops right after the first request; the rest is the caller's. */
    CHECK_INT_EQ(consumed, 19);
    CHECK_INT_EQ(c.nrequests, 1);
    CHECK_INT_EQ(a.state, HTTP_ASSEMBLER_PAUSED);
    CHECK_INT_EQ(http_assembler_feed(&a, text + consumed, len - consumed), 0);   /* still paused */
    http_assembler_resume(&a);
    size_t more = http_assembler_feed(&a, text + consumed, len - consumed);
    CHECK_INT_EQ(more, 19);
    CHECK_INT_EQ(c.nrequests, 2);
    http_assembler_resume(&a);
    consumed += more;
    CHECK_INT_EQ(http_assembler_feed(&a, text + consumed, len - consumed), len - consumed);
    CHECK_INT_EQ(c.nrequests, 3);
    if (c.nrequests == 3) {
        CHECK_STR_EQ(c.requests[0]->view.path, "/1");
        CHECK_STR_EQ(c.requests[1]->view.path, "/2");
        CHECK_STR_EQ(c.requests[2]->view.path, "/3");
    }
    http_assembler_free(&a);
    collector_free(&c);
}

static void test_connection_end(void)
{
    /* HTTP/1.0 without keep-alive: the last request; later bytes are ignored. */
    collector c = {0};
    run(&c, NULL, "GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n", 4096);
    CHECK_INT_EQ(c.nrequests, 1);
    CHECK(c.nrequests == 1 && !c.requests[0]->keep_alive);
    CHECK_INT_EQ(c.rejected_status, 0);
    collector_free(&c);

    run(&c, NULL, "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n", 4096);
    CHECK_INT_EQ(c.nrequests, 2);
    CHECK(c.nrequests == 2 && c.requests[0]->keep_alive && !c.requests[1]->keep_alive);
    collector_free(&c);

    run(&c, NULL, "GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 4096);
    CHECK_INT_EQ(c.nrequests, 1);
    CHECK(c.nrequests == 1 && !c.requests[0]->keep_alive);
    collector_free(&c);

    /* An upgrade request is answered, then the connection ends. */
    run(&c, NULL,
        "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello", 4096);
    CHECK_INT_EQ(c.nrequests, 1);
    CHECK(c.nrequests == 1 && !c.requests[0]->keep_alive);
    CHECK_INT_EQ(c.rejected_status, 0);
    collector_free(&c);
}

static void check_rejected(const http_limits *limits, const char *text, int status,
                           const char *code)
{
    for (size_t chunk = 1; chunk <= 4096; chunk *= 64) {
        collector c = {0};
        run(&c, limits, text, chunk);
        CHECK_INT_EQ(c.rejected_status, status);
        CHECK_STR_EQ(c.rejected_code, code);
        CHECK(c.rejected_message[0] != '\0');
        if (c.rejected_status != status)
            fprintf(stderr, "  for %.60s (piece size %zu): %s\n", text, chunk, c.rejected_message);
        collector_free(&c);
    }
}

static void test_rejections(void)
{
    http_limits small = {.max_header_bytes = 200, .max_url_bytes = 64, .max_body_bytes = 10};
    char text[2048];

    snprintf(text, sizeof text, "GET /%0100d HTTP/1.1\r\n\r\n", 0);
    check_rejected(&small, text, 414, "uri_too_long");
    snprintf(text, sizeof text, "GET / HTTP/1.1\r\nX-Big: %0300d\r\n\r\n", 0);
    check_rejected(&small, text, 431, "header_too_large");
    /* many small headers add up */
    strcpy(text, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 40; i++)
        strcat(text, "A: b\r\n");
    strcat(text, "\r\n");
    check_rejected(&small, text, 431, "header_too_large");
    /* too many header lines, whatever the byte limit */
    static char many[8192];
    strcpy(many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= HTTP_MAX_HEADER_COUNT; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    check_rejected(NULL, many, 431, "header_too_large");

    /* Content-Length refused before any body byte arrives. */
    check_rejected(&small, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413, "payload_too_large");
    check_rejected(&small, "POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n", 413,
                   "payload_too_large");
    check_rejected(&small, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                   413, "payload_too_large");
    check_rejected(NULL, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented");
    check_rejected(NULL, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501,
                   "not_implemented");
    check_rejected(NULL, "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
                   "bad_request");
    check_rejected(NULL, "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400,
                   "bad_request");
    check_rejected(NULL, "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "POST / HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n", 417,
                   "expectation_failed");

    /* malformed request lines */
    check_rejected(NULL, "HELLO\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET / HTTP/9.9.9\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET / HTTP/9.9\r\n\r\n", 505, "http_version_not_supported");
    check_rejected(NULL, "GET / HTTP/2.0\r\n\r\n", 505, "http_version_not_supported");
    check_rejected(NULL, "GET / HTTP/0.9\r\n\r\n", 505, "http_version_not_supported");
    check_rejected(NULL, "GET / FTP/1.1\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET /a b HTTP/1.1\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "bad_request");   /* TLS hello */
    check_rejected(NULL, "GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400, "bad_request");
    check_rejected(NULL, "POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\nContent-Length: 1\r\n\r\nx",
                   400, "bad_request");

    /* paths */
    check_rejected(NULL, "GET /a%00b HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_rejected(NULL, "GET /a%zzb HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_rejected(NULL, "GET /a%C3%28 HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_rejected(NULL, "GET /a% HTTP/1.1\r\n\r\n", 400, "invalid_path");

    /* A rejection after good pipelined requests: those are kept. */
    collector c = {0};
    run(&c, NULL, "GET /ok HTTP/1.1\r\n\r\nGET /%zz HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n", 4096);
    CHECK_INT_EQ(c.nrequests, 1);
    CHECK_INT_EQ(c.rejected_status, 400);
    collector_free(&c);
}

static void test_accepted_oddities(void)
{
    collector c = {0};
    /* absolute-form, "*", a body exactly at the limit, ".." kept as sent */
    http_limits limits = {.max_body_bytes = 5};
    run(&c, &limits,
        "GET http://localhost:8080/abs?x=1 HTTP/1.1\r\n\r\n"
        "OPTIONS * HTTP/1.1\r\n\r\n"
        "PUT /up HTTP/1.1\r\nContent-Length: 5\r\n\r\n12345"
        "GET /../../etc/passwd HTTP/1.1\r\n\r\n"
        "GET /%2e%2e/x HTTP/1.1\r\n\r\n"
        "\r\nGET /after-blank-line HTTP/1.1\r\n\r\n"
        "GET /caf\xC3\xA9 HTTP/1.1\r\n\r\n",   /* raw UTF-8, as some clients send */
        4096);
    CHECK_INT_EQ(c.rejected_status, 0);
    CHECK_INT_EQ(c.nrequests, 7);
    if (c.nrequests == 7) {
        CHECK_STR_EQ(c.requests[6]->view.path, "/caf\xC3\xA9");
        CHECK_STR_EQ(c.requests[0]->view.path, "/abs");
        CHECK_STR_EQ(c.requests[0]->view.raw_query, "x=1");
        CHECK_STR_EQ(c.requests[1]->view.path, "*");
        CHECK_INT_EQ(c.requests[2]->view.body_len, 5);
        CHECK_STR_EQ(c.requests[3]->view.path, "/../../etc/passwd");
        CHECK_STR_EQ(c.requests[4]->view.path, "/../x");
        CHECK_STR_EQ(c.requests[5]->view.path, "/after-blank-line");
    }
    collector_free(&c);

    /* Expect: 100-continue is signalled only when a body is coming. */
    run(&c, NULL, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", 4096);
    CHECK_INT_EQ(c.continues, 1);
    CHECK_INT_EQ(c.nrequests, 1);
    collector_free(&c);
    run(&c, NULL, "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", 4096);
    CHECK_INT_EQ(c.continues, 0);
    CHECK_INT_EQ(c.nrequests, 1);
    collector_free(&c);
}

static void test_stop(void)
{
    collector c = {0};
    http_assembler a;
    http_assembler_init(&a, NULL, &collect_sink, &c);
    const char *part = "GET /slow HTTP/1.1\r\nHo";
    CHECK_INT_EQ(http_assembler_feed(&a, part, strlen(part)), strlen(part));
    CHECK(a.in_message);
    http_assembler_stop(&a);
    CHECK(!a.in_message);
    const char *rest = "st: x\r\n\r\n";
    CHECK_INT_EQ(http_assembler_feed(&a, rest, strlen(rest)), strlen(rest));   /* discarded */
    CHECK_INT_EQ(c.nrequests, 0);
    http_assembler_free(&a);
}

int main(void)
{
    test_split_at_every_byte();
    test_pipelined_and_bodies();
    test_pause();
    test_connection_end();
    test_rejections();
    test_accepted_oddities();
    test_stop();
    CHECK_DONE();
}
