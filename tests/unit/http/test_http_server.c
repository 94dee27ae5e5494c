/* A real server on 127.0.0.1 (port 0) with a small echo handler, its loop on
 * a thread, driven from raw sockets. Responses are parsed with http_parser in
 * response mode, so the checks see exactly what a client would. Small limits
 * and timeouts keep the run short. */
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "server/http_internal.h"

#define IDLE_TIMEOUT_MS 1000
#define REQUEST_TIMEOUT_MS 600
#define MAX_CONNECTIONS 8
#define MAX_PIPELINED 4
#define SLOW_MS 500
#define READ_TIMEOUT_MS 5000

/* ---- the server under test ---- */

static uv_loop_t loop;
static http_server *server;
static int server_port;
static uv_async_t control;
static uv_sem_t control_done;
static enum { CONTROL_COUNTERS, CONTROL_SHUTDOWN } control_command;
static http_server_counters counters_snapshot;
static volatile int server_closed;
static int requests_done;   /* on_request_done calls; loop thread only, read via control */
static int requests_done_snapshot;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_ms(void)
{
    return (double)uv_hrtime() / 1e6;
}

/* Echoes what it got as JSON; /slow first sleeps; /headers adds one; /fixed
 * answers the same whatever the method. */
static void echo_handler(const http_request *request, http_response *response, void *context)
{
    (void)context;
    if (strcmp(request->path, "/big") == 0) {   /* 1 MiB, to fill socket buffers */
        size_t n = 1u << 20;
        char *text = malloc(n + 1);
        if (text) {
            memset(text, ' ', n);
            memcpy(text, "{}", 2);
            text[n] = '\0';
        }
        http_response_json(response, 200, text);
        return;
    }
    if (strcmp(request->path, "/fixed") == 0) {
        http_response_json(response, 200, strdup("{\"fixed\":true}"));
        return;
    }
    if (strcmp(request->path, "/slow") == 0)
        sleep_ms(SLOW_MS);
    char *q = NULL;
    int rc = http_query_param(request->raw_query, "q", &q);
    if (rc < 0) {
        http_response_error(response, 400, "invalid_query", "q is not valid percent-encoded UTF-8");
        return;
    }
    if (strcmp(request->path, "/headers") == 0) {
        http_response_add_header(response, "X-Test", "yes");
        /* refused: the response must not change */
        http_response_add_header(response, "X-Evil", "a\r\nSet-Cookie: x=1");
    }
    const char *host = http_request_header(request, "host");
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s%,s:s}", "method", request->method,
                            "path", request->path, "query", request->raw_query, "q", q, "host",
                            host, "body", request->body ? (const char *)request->body : "",
                            request->body_len, "remote", request->remote);
    free(q);
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    http_response_json(response, 200, text);
}

static void on_request_done(const http_request *request, int status, double seconds, void *context)
{
    (void)request, (void)status, (void)seconds, (void)context;
    requests_done++;
}

static void on_server_closed(void *arg)
{
    (void)arg;
    server_closed = 1;
    uv_close((uv_handle_t *)&control, NULL);   /* the last handle: uv_run returns */
}

static void on_control(uv_async_t *async)
{
    (void)async;
    if (control_command == CONTROL_COUNTERS) {
        http_server_get_counters(server, &counters_snapshot);
        requests_done_snapshot = requests_done;
    } else {
        http_server_shutdown(server, on_server_closed, NULL);
    }
    uv_sem_post(&control_done);
}

static void run_control(int command)
{
    control_command = command;
    uv_async_send(&control);
    uv_sem_wait(&control_done);
}

static http_server_counters get_counters(void)
{
    run_control(CONTROL_COUNTERS);
    return counters_snapshot;
}

/* Waits until the server has closed every connection (they close
 * asynchronously after the client does). */
static void wait_no_connections(void)
{
    for (int i = 0; i < 300 && get_counters().connections_open != 0; i++)
        sleep_ms(10);
    CHECK_INT_EQ(get_counters().connections_open, 0);
}

static void loop_thread(void *arg)
{
    (void)arg;
    uv_run(&loop, UV_RUN_DEFAULT);
}

/* ---- a client that parses responses ---- */

#define MAX_REPLIES 32
#define MAX_REPLY_HEADERS 16

typedef struct reply {
    int status;
    int nheaders;
    strbuf names[MAX_REPLY_HEADERS];    /* lowercased */
    strbuf values[MAX_REPLY_HEADERS];
    strbuf body;
} reply;

typedef struct client {
    int fd;
    http_parser parser;
    reply replies[MAX_REPLIES];
    int nreplies;
    bool head_reply[MAX_REPLIES];   /* this reply answers a HEAD: no body follows */
    bool in_value;                  /* the next field piece starts a new header */
    bool eof;
    size_t bytes_received;
} client;

static void reply_free(reply *r)
{
    for (int i = 0; i < MAX_REPLY_HEADERS; i++) {
        strbuf_free(&r->names[i]);
        strbuf_free(&r->values[i]);
    }
    strbuf_free(&r->body);
}

static int on_reply_begin(http_parser *p)
{
    client *c = p->data;
    if (c->nreplies >= MAX_REPLIES)
        return -1;
    c->in_value = false;
    return 0;
}

static int on_reply_field(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    reply *r = &c->replies[c->nreplies];
    if (r->nheaders == 0 || c->in_value) {
        if (r->nheaders == MAX_REPLY_HEADERS)
            return -1;
        r->nheaders++;
        c->in_value = false;
    }
    for (size_t i = 0; i < len; i++)
        strbuf_append_char(&r->names[r->nheaders - 1],
                           (char)(at[i] >= 'A' && at[i] <= 'Z' ? at[i] + 32 : at[i]));
    return 0;
}

static int on_reply_value(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    reply *r = &c->replies[c->nreplies];
    c->in_value = true;
    strbuf_append_n(&r->values[r->nheaders - 1], at, len);
    return 0;
}

static int on_reply_headers_complete(http_parser *p)
{
    client *c = p->data;
    c->replies[c->nreplies].status = (int)p->status_code;
    return c->head_reply[c->nreplies] ? 1 : 0;
}

static int on_reply_body(http_parser *p, const char *at, size_t len)
{
    client *c = p->data;
    strbuf_append_n(&c->replies[c->nreplies].body, at, len);
    return 0;
}

static int on_reply_complete(http_parser *p)
{
    client *c = p->data;
    c->nreplies++;
    return 0;
}

static const http_parser_settings reply_settings = {
    .on_message_begin = on_reply_begin,
    .on_header_field = on_reply_field,
    .on_header_value = on_reply_value,
    .on_headers_complete = on_reply_headers_complete,
    .on_body = on_reply_body,
    .on_message_complete = on_reply_complete,
};

/* The value of a reply header (name in lowercase), copied to out, or NULL. */
static const char *reply_header(reply *r, const char *name, char *out, size_t size)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strcmp(strbuf_str(&r->names[i]), name) == 0) {
            snprintf(out, size, "%s", strbuf_str(&r->values[i]));
            return out;
        }
    return NULL;
}

static int connect_server(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server_port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void client_open(client *c)
{
    memset(c, 0, sizeof *c);
    c->fd = connect_server();
    CHECK(c->fd >= 0);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
}

static void client_close(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    for (int i = 0; i < MAX_REPLIES; i++)
        reply_free(&c->replies[i]);
}

static void client_send(client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;   /* the server closed on us; the reply checks will tell */
        data += n;
        len -= (size_t)n;
    }
}

static void client_send_str(client *c, const char *text)
{
    client_send(c, text, strlen(text));
}

/* Reads until `want` replies arrived, the server closed, or the timeout. */
static bool client_read(client *c, int want, int timeout_ms)
{
    double deadline = now_ms() + timeout_ms;
    char buf[16384];
    while (c->nreplies < want && !c->eof) {
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        if (poll(&pfd, 1, left) <= 0)
            continue;
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            c->eof = true;   /* closed or reset */
            break;
        }
        c->bytes_received += (size_t)n;
        size_t parsed = http_parser_execute(&c->parser, &reply_settings, buf, (size_t)n);
        CHECK_INT_EQ(parsed, n);
        CHECK_INT_EQ(HTTP_PARSER_ERRNO(&c->parser), HPE_OK);
    }
    return c->nreplies >= want;
}

/* True when the server closes the connection within the timeout. */
static bool client_wait_eof(client *c, int timeout_ms)
{
    client_read(c, MAX_REPLIES + 1, timeout_ms);
    return c->eof;
}

static const char *reply_json_string(reply *r, const char *key, char *out, size_t size)
{
    json_error_t jerr;
    json_t *doc = json_loadb(strbuf_str(&r->body), r->body.len, 0, &jerr);
    const char *value = NULL;
    if (doc && json_is_string(json_object_get(doc, key))) {
        snprintf(out, size, "%s", json_string_value(json_object_get(doc, key)));
        value = out;
    }
    json_decref(doc);
    return value;
}

static void check_reply(reply *r, int status, const char *path)
{
    CHECK_INT_EQ(r->status, status);
    char buf[256];
    if (path)
        CHECK_STR_EQ(reply_json_string(r, "path", buf, sizeof buf), path);
}

static void check_error_reply(reply *r, int status, const char *code)
{
    CHECK_INT_EQ(r->status, status);
    char buf[64];
    CHECK_STR_EQ(reply_header(r, "content-type", buf, sizeof buf), "application/json");
    CHECK_STR_EQ(reply_header(r, "connection", buf, sizeof buf), "close");
    json_error_t jerr;
    json_t *doc = json_loadb(strbuf_str(&r->body), r->body.len, 0, &jerr);
    const char *got_code = NULL, *message = NULL;
    CHECK(doc && json_unpack(doc, "{s:{s:s,s:s}}", "error", "code", &got_code, "message",
                             &message) == 0);
    if (got_code)
        CHECK_STR_EQ(got_code, code);
    CHECK(message && message[0]);
    json_decref(doc);
}

/* Sends one request on a fresh connection; expects an error reply and a close. */
static void check_refused(const char *request, int status, const char *code)
{
    client c;
    client_open(&c);
    client_send_str(&c, request);
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    if (c.nreplies >= 1)
        check_error_reply(&c.replies[0], status, code);
    else
        fprintf(stderr, "  no reply to %.60s\n", request);
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    client_close(&c);
}

/* ---- the tests ---- */

static void test_keep_alive(void)
{
    client c;
    client_open(&c);
    client_send_str(&c, "GET /one?q=dog+%C3%A9 HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    client_send_str(&c, "POST /two HTTP/1.1\r\nHost: test\r\nContent-Length: 7\r\n\r\npayload");
    CHECK(client_read(&c, 2, READ_TIMEOUT_MS));
    client_send_str(&c, "GET /headers HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK(client_read(&c, 3, READ_TIMEOUT_MS));
    CHECK(!c.eof);
    char buf[256];
    if (c.nreplies == 3) {
        check_reply(&c.replies[0], 200, "/one");
        CHECK_STR_EQ(reply_json_string(&c.replies[0], "q", buf, sizeof buf), "dog \xC3\xA9");
        CHECK_STR_EQ(reply_json_string(&c.replies[0], "host", buf, sizeof buf), "test");
        CHECK(strncmp(reply_json_string(&c.replies[0], "remote", buf, sizeof buf) ? buf : "",
                      "127.0.0.1:", 10) == 0);
        CHECK_STR_EQ(reply_header(&c.replies[0], "connection", buf, sizeof buf), "keep-alive");
        check_reply(&c.replies[1], 200, "/two");
        CHECK_STR_EQ(reply_json_string(&c.replies[1], "method", buf, sizeof buf), "POST");
        CHECK_STR_EQ(reply_json_string(&c.replies[1], "body", buf, sizeof buf), "payload");
        check_reply(&c.replies[2], 200, "/headers");
        CHECK_STR_EQ(reply_header(&c.replies[2], "x-test", buf, sizeof buf), "yes");
        CHECK(reply_header(&c.replies[2], "x-evil", buf, sizeof buf) == NULL);
        CHECK(reply_header(&c.replies[2], "set-cookie", buf, sizeof buf) == NULL);
        CHECK(reply_header(&c.replies[2], "date", buf, sizeof buf) != NULL);
    }
    /* A query the handler cannot decode is its 400, on a connection that stays. */
    client_send_str(&c, "GET /one?q=%FF HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 4, READ_TIMEOUT_MS));
    CHECK_INT_EQ(c.replies[3].status, 400);
    CHECK(!c.eof);
    client_close(&c);
}

static void test_pipelining(void)
{
    /* Five requests in one write, a slow one second: answered in order. */
    client c;
    client_open(&c);
    client_send_str(&c,
                    "GET /p1 HTTP/1.1\r\n\r\n"
                    "GET /slow HTTP/1.1\r\n\r\n"
                    "POST /p3 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                    "HEAD /p4 HTTP/1.1\r\n\r\n"
                    "GET /p5 HTTP/1.1\r\n\r\n");
    c.head_reply[3] = true;
    CHECK(client_read(&c, 5, READ_TIMEOUT_MS));
    if (c.nreplies == 5) {
        check_reply(&c.replies[0], 200, "/p1");
        check_reply(&c.replies[1], 200, "/slow");
        check_reply(&c.replies[2], 200, "/p3");
        CHECK_INT_EQ(c.replies[3].status, 200);
        CHECK_INT_EQ(c.replies[3].body.len, 0);
        check_reply(&c.replies[4], 200, "/p5");
    }
    client_close(&c);

    /* Far more than max_pipelined in one write, sent in awkward pieces: the
     * server pauses reading, holds the rest, and still answers all of them. */
    client_open(&c);
    strbuf many;
    strbuf_init(&many);
    for (int i = 0; i < 24; i++)
        strbuf_appendf(&many, "GET /n%d HTTP/1.1\r\nHost: pipelined\r\n\r\n", i);
    for (size_t off = 0; off < many.len; off += 13) {
        size_t n = many.len - off < 13 ? many.len - off : 13;
        client_send(&c, many.data + off, n);
    }
    strbuf_free(&many);
    CHECK(client_read(&c, 24, READ_TIMEOUT_MS));
    CHECK_INT_EQ(c.nreplies, 24);
    for (int i = 0; i < c.nreplies; i++) {
        char path[16];
        snprintf(path, sizeof path, "/n%d", i);
        check_reply(&c.replies[i], 200, path);
    }
    CHECK(!c.eof);
    client_close(&c);
}

static void test_connection_end(void)
{
    char buf[64];
    client c;
    client_open(&c);
    client_send_str(&c, "GET /old HTTP/1.0\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    if (c.nreplies == 1) {
        check_reply(&c.replies[0], 200, "/old");
        CHECK_STR_EQ(reply_header(&c.replies[0], "connection", buf, sizeof buf), "close");
    }
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    client_close(&c);

    client_open(&c);
    client_send_str(&c, "GET /old1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    client_send_str(&c, "GET /old2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(client_read(&c, 2, READ_TIMEOUT_MS));
    if (c.nreplies == 2)
        CHECK_STR_EQ(reply_header(&c.replies[1], "connection", buf, sizeof buf), "keep-alive");
    CHECK(!c.eof);
    client_close(&c);

    /* Connection: close, with another request behind it that must be ignored. */
    client_open(&c);
    client_send_str(&c, "GET /bye HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    if (c.nreplies >= 1) {
        check_reply(&c.replies[0], 200, "/bye");
        CHECK_STR_EQ(reply_header(&c.replies[0], "connection", buf, sizeof buf), "close");
    }
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    CHECK_INT_EQ(c.nreplies, 1);
    client_close(&c);

    /* Half-close after two requests: both answered, then the server closes.
     * (Whether the last reply says "close" depends on whether the end of
     * input was seen before it was written.) */
    client_open(&c);
    client_send_str(&c, "GET /h1 HTTP/1.1\r\n\r\nGET /h2 HTTP/1.1\r\n\r\n");
    shutdown(c.fd, SHUT_WR);
    CHECK(client_read(&c, 2, READ_TIMEOUT_MS));
    if (c.nreplies == 2) {
        check_reply(&c.replies[0], 200, "/h1");
        check_reply(&c.replies[1], 200, "/h2");
    }
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    client_close(&c);
}

static void test_refusals(void)
{
    check_refused("NONSENSE\r\n\r\n", 400, "bad_request");
    check_refused("GET / HTTP/1.1 extra\r\n\r\n", 400, "bad_request");
    check_refused("GET / HTTP/9.9\r\n\r\n", 505, "http_version_not_supported");
    check_refused("GET /\xff\xfe HTTP/1.1\r\n\r\n", 400, "invalid_path");   /* raw bytes */

    strbuf big;
    strbuf_init(&big);
    strbuf_append(&big, "GET / HTTP/1.1\r\nX-Big: ");
    for (int i = 0; i < 2000; i++)
        strbuf_append_char(&big, 'a');
    strbuf_append(&big, "\r\n\r\n");
    check_refused(strbuf_str(&big), 431, "header_too_large");

    strbuf_reset(&big);
    strbuf_append(&big, "GET /");
    for (int i = 0; i < 300; i++)
        strbuf_append_char(&big, 'u');
    strbuf_append(&big, " HTTP/1.1\r\n\r\n");
    check_refused(strbuf_str(&big), 414, "uri_too_long");
    strbuf_free(&big);

    /* Refused on the headers alone: the body is never sent, yet the answer comes. */
    check_refused("POST /upload HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 413,
                  "payload_too_large");
    check_refused("POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "not_implemented");

    check_refused("GET /a%zz HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_refused("GET /a%00b HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_refused("GET /a%C3%28 HTTP/1.1\r\n\r\n", 400, "invalid_path");
    check_refused("GET /a%ED%A0%80 HTTP/1.1\r\n\r\n", 400, "invalid_path");

    /* A bad request after a good one: the good one is answered first. */
    client c;
    client_open(&c);
    client_send_str(&c, "GET /fine HTTP/1.1\r\n\r\nGET /%zz HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 2, READ_TIMEOUT_MS));
    if (c.nreplies == 2) {
        check_reply(&c.replies[0], 200, "/fine");
        check_error_reply(&c.replies[1], 400, "invalid_path");
    }
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    client_close(&c);
}

static void test_bodies(void)
{
    char buf[256];
    client c;
    client_open(&c);
    client_send_str(&c, "POST /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n");
    sleep_ms(50);
    client_send_str(&c, "1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    if (c.nreplies == 1)
        CHECK_STR_EQ(reply_json_string(&c.replies[0], "body", buf, sizeof buf), "hello world!");

    /* HEAD: the same headers as GET, no body; the next reply parses cleanly. */
    client_send_str(&c, "HEAD /fixed HTTP/1.1\r\n\r\n");
    c.head_reply[1] = true;
    CHECK(client_read(&c, 2, READ_TIMEOUT_MS));
    size_t after_head = c.bytes_received;
    sleep_ms(100);
    CHECK(!client_read(&c, 3, 100));   /* nothing more arrives */
    CHECK_INT_EQ(c.bytes_received, after_head);
    client_send_str(&c, "GET /fixed HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 3, READ_TIMEOUT_MS));
    if (c.nreplies == 3) {
        char head_length[32], get_length[32];
        CHECK(reply_header(&c.replies[1], "content-length", head_length, sizeof head_length));
        CHECK(reply_header(&c.replies[2], "content-length", get_length, sizeof get_length));
        CHECK_STR_EQ(head_length, get_length);
        CHECK_INT_EQ(c.replies[1].body.len, 0);
        CHECK(c.replies[2].body.len > 0);
    }

    /* Expect: 100-continue gets the interim answer before the body is sent. */
    client_send_str(&c, "POST /cont HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    CHECK(client_read(&c, 4, READ_TIMEOUT_MS));
    if (c.nreplies == 4)
        CHECK_INT_EQ(c.replies[3].status, 100);
    client_send_str(&c, "body");
    CHECK(client_read(&c, 5, READ_TIMEOUT_MS));
    if (c.nreplies == 5)
        CHECK_STR_EQ(reply_json_string(&c.replies[4], "body", buf, sizeof buf), "body");
    client_close(&c);
}

static void test_timeouts(void)
{
    /* Slowloris: half a request, then silence → 408 and close. */
    client c;
    client_open(&c);
    double start = now_ms();
    client_send_str(&c, "GET /slowloris HTTP/1.1\r\nHost: x\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    double elapsed = now_ms() - start;
    if (c.nreplies == 1)
        check_error_reply(&c.replies[0], 408, "request_timeout");
    CHECK(elapsed >= REQUEST_TIMEOUT_MS - 50 && elapsed < REQUEST_TIMEOUT_MS + 1500);
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    client_close(&c);

    /* Trickling a byte at a time is no way around it. */
    client_open(&c);
    start = now_ms();
    const char *text = "GET /trickle HTTP/1.1\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    for (size_t i = 0; text[i] && c.nreplies == 0 && !c.eof; i++) {
        client_send(&c, text + i, 1);
        client_read(&c, 1, 100);
    }
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    elapsed = now_ms() - start;
    if (c.nreplies == 1)
        CHECK_INT_EQ(c.replies[0].status, 408);
    CHECK(elapsed < REQUEST_TIMEOUT_MS + 1500);
    client_close(&c);

    /* Idle keep-alive: closed without a word after the idle timeout. */
    client_open(&c);
    client_send_str(&c, "GET /idle HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    start = now_ms();
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    elapsed = now_ms() - start;
    CHECK_INT_EQ(c.nreplies, 1);
    CHECK(elapsed >= IDLE_TIMEOUT_MS - 100 && elapsed < IDLE_TIMEOUT_MS + 1500);
    client_close(&c);

    /* A connection that never sends anything is idle too. */
    client_open(&c);
    CHECK(client_wait_eof(&c, READ_TIMEOUT_MS));
    CHECK_INT_EQ(c.nreplies, 0);
    CHECK_INT_EQ(c.bytes_received, 0);
    client_close(&c);
}

static void test_connection_limit(void)
{
    wait_no_connections();
    client clients[MAX_CONNECTIONS];
    for (int i = 0; i < MAX_CONNECTIONS; i++) {
        client_open(&clients[i]);
        client_send_str(&clients[i], "GET /hold HTTP/1.1\r\n\r\n");
        CHECK(client_read(&clients[i], 1, READ_TIMEOUT_MS));   /* accepted and counted */
    }
    uint64_t rejected_before = get_counters().rejected_total;
    client extra;
    client_open(&extra);
    CHECK(client_read(&extra, 1, READ_TIMEOUT_MS));
    if (extra.nreplies == 1)
        check_error_reply(&extra.replies[0], 503, "too_many_connections");
    CHECK(client_wait_eof(&extra, READ_TIMEOUT_MS));
    client_close(&extra);
    CHECK_INT_EQ(get_counters().rejected_total, rejected_before + 1);
    for (int i = 0; i < MAX_CONNECTIONS; i++)
        client_close(&clients[i]);
    wait_no_connections();
    /* Room again. */
    client again;
    client_open(&again);
    client_send_str(&again, "GET /again HTTP/1.1\r\n\r\n");
    CHECK(client_read(&again, 1, READ_TIMEOUT_MS));
    if (again.nreplies == 1)
        check_reply(&again.replies[0], 200, "/again");
    client_close(&again);
}

static void test_client_leaves_mid_request(void)
{
    wait_no_connections();   /* earlier replies may still be reporting */
    int done_before = (get_counters(), requests_done_snapshot);
    client c;
    client_open(&c);
    client_send_str(&c, "GET /slow HTTP/1.1\r\n\r\n");
    sleep_ms(100);   /* the handler is running now */
    client_close(&c);
    client gone;   /* and one that resets the connection */
    client_open(&gone);
    client_send_str(&gone, "GET /slow HTTP/1.1\r\n\r\n");
    sleep_ms(100);
    struct linger hard = {1, 0};
    setsockopt(gone.fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    client_close(&gone);
    sleep_ms(SLOW_MS + 300);
    wait_no_connections();
    CHECK_INT_EQ((get_counters(), requests_done_snapshot), done_before + 2);
    CHECK_INT_EQ(get_counters().requests_in_flight, 0);
    /* still serving */
    client_open(&c);
    client_send_str(&c, "GET /alive HTTP/1.1\r\n\r\n");
    CHECK(client_read(&c, 1, READ_TIMEOUT_MS));
    if (c.nreplies == 1)
        check_reply(&c.replies[0], 200, "/alive");
    client_close(&c);
}

static void test_client_not_reading(void)
{
    /* Many large responses asked for, none read: the server stops reading
     * once max_pipelined requests wait, and drops the client when a write
     * makes no progress for the idle timeout. */
    wait_no_connections();
    uint64_t total_before = get_counters().requests_total;
    client c;
    client_open(&c);
    for (int i = 0; i < 60; i++)
        client_send_str(&c, "GET /big HTTP/1.1\r\n\r\n");
    sleep_ms(300);
    http_server_counters counters = get_counters();
    CHECK(counters.requests_in_flight <= MAX_PIPELINED);
    CHECK(counters.requests_total - total_before < 60);   /* the rest was never parsed */
    CHECK_INT_EQ(counters.connections_open, 1);
    double start = now_ms();
    while (get_counters().connections_open != 0 && now_ms() - start < READ_TIMEOUT_MS)
        sleep_ms(20);
    CHECK_INT_EQ(get_counters().connections_open, 0);
    CHECK_INT_EQ(get_counters().requests_in_flight, 0);
    client_close(&c);
}

static void test_shutdown(uv_thread_t *thread)
{
    char buf[64];
    client busy, idle, queued;
    client_open(&busy);
    client_open(&idle);
    client_open(&queued);
    client_send_str(&idle, "GET /idle HTTP/1.1\r\n\r\n");
    CHECK(client_read(&idle, 1, READ_TIMEOUT_MS));
    client_send_str(&busy, "GET /slow HTTP/1.1\r\n\r\n");
    /* one running, one waiting behind it on the same connection */
    client_send_str(&queued, "GET /slow HTTP/1.1\r\n\r\nGET /behind HTTP/1.1\r\n\r\n");
    sleep_ms(150);
    double start = now_ms();
    run_control(CONTROL_SHUTDOWN);

    CHECK(client_wait_eof(&idle, 1000));            /* idle: closed at once */
    CHECK(now_ms() - start < 1000);
    CHECK(client_read(&busy, 1, READ_TIMEOUT_MS));  /* in flight: still answered */
    if (busy.nreplies == 1) {
        check_reply(&busy.replies[0], 200, "/slow");
        CHECK_STR_EQ(reply_header(&busy.replies[0], "connection", buf, sizeof buf), "close");
    }
    CHECK(client_wait_eof(&busy, READ_TIMEOUT_MS));
    CHECK(client_wait_eof(&queued, READ_TIMEOUT_MS));
    CHECK_INT_EQ(queued.nreplies, 1);               /* the one behind never started */
    if (queued.nreplies >= 1)
        check_reply(&queued.replies[0], 200, "/slow");
    CHECK(connect_server() < 0);                    /* no longer listening */
    client_close(&busy);
    client_close(&idle);
    client_close(&queued);

    uv_thread_join(thread);                         /* the loop ran dry */
    CHECK(server_closed);
}

int main(void)
{
    CHECK_INT_EQ(uv_loop_init(&loop), 0);
    CHECK_INT_EQ(uv_sem_init(&control_done, 0), 0);
    CHECK_INT_EQ(uv_async_init(&loop, &control, on_control), 0);
    http_server_config config = {
        .host = "127.0.0.1",
        .port = 0,
        .limits = {.max_header_bytes = 1024, .max_url_bytes = 256, .max_body_bytes = 4096,
                   .max_connections = MAX_CONNECTIONS, .idle_timeout_ms = IDLE_TIMEOUT_MS,
                   .request_timeout_ms = REQUEST_TIMEOUT_MS, .max_pipelined = MAX_PIPELINED},
        .handler = echo_handler,
        .on_request_done = on_request_done,
    };
    cs_error err;
    CHECK_OK(http_server_start(&loop, &config, &server, &err), &err);
    if (!server)
        CHECK_DONE();
    server_port = http_server_port(server);
    CHECK(server_port > 0);

    /* A second server on the same port fails with a message that says why. */
    http_server *clash = NULL;
    config.port = server_port;
    CHECK_INT_EQ(http_server_start(&loop, &config, &clash, &err), CS_ERR_IO);
    CHECK(strstr(err.message, "in use") != NULL);
    CHECK(clash == NULL);
    config.host = "not-an-address";
    CHECK_INT_EQ(http_server_start(&loop, &config, &clash, &err), CS_ERR_INVALID);

    uv_thread_t thread;
    CHECK_INT_EQ(uv_thread_create(&thread, loop_thread, NULL), 0);

    test_keep_alive();
    test_pipelining();
    test_connection_end();
    test_refusals();
    test_bodies();
    test_timeouts();
    test_connection_limit();
    test_client_leaves_mid_request();
    test_client_not_reading();
    test_shutdown(&thread);

    http_server_counters counters;
    http_server_get_counters(server, &counters);   /* the loop is stopped: safe here */
    CHECK_INT_EQ(counters.connections_open, 0);
    CHECK_INT_EQ(counters.requests_in_flight, 0);
    CHECK(counters.requests_total >= 40);
    CHECK(counters.rejected_total >= 12);
    http_server_free(server);
    CHECK_INT_EQ(uv_loop_close(&loop), 0);
    uv_sem_destroy(&control_done);
    CHECK_DONE();
}
