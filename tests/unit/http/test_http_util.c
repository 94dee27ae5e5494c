/* The request-side helpers (percent-decoding of paths and query parameters,
 * header lookup) and the response helpers (JSON bodies, header injection
 * refused, serialisation). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "server/http_internal.h"

static void check_decode(const char *in, bool plus_is_space, const char *expected)
{
    char *out = NULL;
    cs_error err;
    cs_status rc = http_percent_decode(in, strlen(in), plus_is_space, &out, &err);
    if (expected) {
        CHECK_INT_EQ(rc, CS_OK);
        CHECK_STR_EQ(out, expected);
    } else {
        CHECK_INT_EQ(rc, CS_ERR_INVALID);
        CHECK(out == NULL);
        CHECK(strlen(err.message) > 0);
    }
    free(out);
}

static void test_percent_decode(void)
{
    check_decode("/plain/path", false, "/plain/path");
    check_decode("/a%20b/%2Fslash", false, "/a b//slash");
    check_decode("%c3%A9t%C3%A9", false, "\xC3\xA9t\xC3\xA9");   /* "été", both hex cases */
    check_decode("a+b", false, "a+b");                            /* '+' is literal in a path */
    check_decode("a+b", true, "a b");                             /* and a space in a query */
    check_decode("%2B", true, "+");
    check_decode("", false, "");
    check_decode("/../etc/passwd", false, "/../etc/passwd");      /* no normalisation here */
    check_decode("%", false, NULL);
    check_decode("abc%4", false, NULL);
    check_decode("%zz", false, NULL);
    check_decode("%4g", false, NULL);
    check_decode("a%00b", false, NULL);                           /* NUL */
    check_decode("%C3", false, NULL);                             /* truncated sequence */
    check_decode("%C3%28", false, NULL);                          /* bad continuation */
    check_decode("%C0%AF", false, NULL);                          /* overlong '/' */
    check_decode("%ED%A0%80", false, NULL);                       /* UTF-16 surrogate */
    check_decode("%F4%90%80%80", false, NULL);                    /* past U+10FFFF */
    check_decode("\xFF", false, NULL);                            /* raw invalid byte */

    /* Exactly the bytes given: the decoder must not read past n. */
    char *out = NULL;
    cs_error err;
    CHECK_INT_EQ(http_percent_decode("ab%41", 2, false, &out, &err), CS_OK);
    CHECK_STR_EQ(out, "ab");
    free(out);
    CHECK_INT_EQ(http_percent_decode("ab%41", 4, false, &out, &err), CS_ERR_INVALID);
}

static void check_param(const char *query, const char *name, int expected_rc,
                        const char *expected_value)
{
    char *value = (char *)"untouched";
    int rc = http_query_param(query, name, &value);
    CHECK_INT_EQ(rc, expected_rc);
    if (expected_rc == 1)
        CHECK_STR_EQ(value, expected_value);
    else
        CHECK(value == NULL);
    if (rc == 1)
        free(value);
}

static void test_query_param(void)
{
    const char *q = "q=dog+on+a+beach&k=10&explain&empty=&folder=%2Fhome%2Fme%2FPhotos";
    check_param(q, "q", 1, "dog on a beach");
    check_param(q, "k", 1, "10");
    check_param(q, "explain", 1, "");
    check_param(q, "empty", 1, "");
    check_param(q, "folder", 1, "/home/me/Photos");
    check_param(q, "missing", 0, NULL);
    check_param(q, "e", 0, NULL);                                /* no prefix matches */
    check_param("", "q", 0, NULL);
    check_param("q=caf%C3%A9", "q", 1, "caf\xC3\xA9");
    check_param("q=1&q=2", "q", 1, "1");                          /* first wins */
    check_param("=x&&q=1", "q", 1, "1");                          /* empty pieces skipped */
    check_param("q%5B%5D=a", "q[]", 1, "a");                      /* encoded names */
    check_param("a+b=c", "a b", 1, "c");
    check_param("%zz=1&q=2", "q", 1, "2");                        /* a bad name elsewhere is not our business */
    check_param("q=%zz", "q", -1, NULL);
    check_param("q=%", "q", -1, NULL);
    check_param("q=a%00b", "q", -1, NULL);
    check_param("q=%FF", "q", -1, NULL);
    check_param("q=%C3%28", "q", -1, NULL);
    check_param("q=a=b", "q", 1, "a=b");                          /* only the first '=' splits */
}

static void test_header_lookup(void)
{
    http_header headers[] = {
        {(char *)"Host", (char *)"localhost"},
        {(char *)"content-type", (char *)"image/jpeg"},
        {(char *)"X-Twice", (char *)"first"},
        {(char *)"x-twice", (char *)"second"},
    };
    http_request request = {.method = "GET", .path = "/", .raw_query = "",
                            .headers = headers, .nheaders = 4};
    CHECK_STR_EQ(http_request_header(&request, "host"), "localhost");
    CHECK_STR_EQ(http_request_header(&request, "Content-Type"), "image/jpeg");
    CHECK_STR_EQ(http_request_header(&request, "X-TWICE"), "first");
    CHECK(http_request_header(&request, "Authorization") == NULL);
    CHECK(http_request_header(&request, "Hos") == NULL);
    http_request empty = {.method = "GET", .path = "/", .raw_query = ""};
    CHECK(http_request_header(&empty, "Host") == NULL);
}

static void test_add_header(void)
{
    http_response r;
    http_response_init(&r);
    CHECK_INT_EQ(r.status, 200);
    CHECK_STR_EQ(r.content_type, "application/json");
    CHECK_INT_EQ(http_response_add_header(&r, "Cache-Control", "max-age=60"), CS_OK);
    /* header injection */
    CHECK_INT_EQ(http_response_add_header(&r, "X-A", "1\r\nSet-Cookie: evil=1"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "X-A", "1\nx"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "X-A", "1\rx"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "X-A\r\nSet-Cookie", "x"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "X A", "x"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "X:A", "x"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "", "x"), CS_ERR_INVALID);
    /* framing stays the server's */
    CHECK_INT_EQ(http_response_add_header(&r, "content-length", "0"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "Connection", "close"), CS_ERR_INVALID);
    CHECK_INT_EQ(http_response_add_header(&r, "Transfer-Encoding", "chunked"), CS_ERR_INVALID);
    /* too long: refused, not cut */
    char long_value[300];
    memset(long_value, 'v', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    CHECK_INT_EQ(http_response_add_header(&r, "X-Long", long_value), CS_ERR_TOO_LARGE);
    CHECK_INT_EQ(http_response_add_header(&r, "Content-Type", "image/jpeg"), CS_OK);
    CHECK_STR_EQ(r.content_type, "image/jpeg");
    CHECK_INT_EQ(r.nheaders, 1);
    for (int i = 1; i < HTTP_MAX_RESPONSE_HEADERS; i++)
        CHECK_INT_EQ(http_response_add_header(&r, "X-N", "n"), CS_OK);
    CHECK_INT_EQ(http_response_add_header(&r, "X-N", "n"), CS_ERR_TOO_LARGE);
    CHECK_INT_EQ(r.nheaders, HTTP_MAX_RESPONSE_HEADERS);
    http_response_free(&r);
}

static void test_error_body(void)
{
    http_response r;
    http_response_init(&r);
    http_response_error(&r, 404, "not_found", "no image \"42\" here \xFF");
    CHECK_INT_EQ(r.status, 404);
    CHECK_STR_EQ(r.content_type, "application/json");
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)r.body, r.body_len, 0, &jerr);
    CHECK(doc != NULL);
    const char *code = NULL, *message = NULL;
    CHECK_INT_EQ(json_unpack(doc, "{s:{s:s,s:s}}", "error", "code", &code, "message", &message), 0);
    CHECK_STR_EQ(code, "not_found");
    CHECK_STR_EQ(message, "no image \"42\" here \xEF\xBF\xBD");
    json_decref(doc);

    /* A handler's failed allocation turns into a 500, not an empty 200. */
    http_response_json(&r, 200, NULL);
    CHECK_INT_EQ(r.status, 500);
    CHECK(r.body != NULL && strstr((const char *)r.body, "internal_error") != NULL);
    http_response_json(&r, 201, strdup("{\"ok\":true}"));
    CHECK_INT_EQ(r.status, 201);
    CHECK_INT_EQ(r.body_len, 11);
    http_response_free(&r);
}

static void test_serialize(void)
{
    http_response r;
    http_response_init(&r);
    http_response_json(&r, 200, strdup("{}"));
    CHECK_INT_EQ(http_response_add_header(&r, "Cache-Control", "no-store"), CS_OK);
    strbuf head;
    strbuf_init(&head);
    CHECK(http_response_serialize_head(&r, true, &head));
    const char *h = strbuf_str(&head);
    CHECK(strncmp(h, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(h, "\r\nContent-Type: application/json\r\n") != NULL);
    CHECK(strstr(h, "\r\nContent-Length: 2\r\n") != NULL);
    CHECK(strstr(h, "\r\nConnection: keep-alive\r\n") != NULL);
    CHECK(strstr(h, "\r\nDate: ") != NULL);
    CHECK(strstr(h, "\r\nCache-Control: no-store\r\n") != NULL);
    CHECK(head.len >= 4 && strcmp(h + head.len - 4, "\r\n\r\n") == 0);
    http_response_free(&r);

    /* 204: no body, no Content-Length; close requested */
    strbuf_reset(&head);
    http_response_init(&r);
    http_response_json(&r, 204, strdup("{}"));
    CHECK(http_response_serialize_head(&r, false, &head));
    CHECK(strstr(strbuf_str(&head), "HTTP/1.1 204 No Content\r\n") != NULL);
    CHECK(strstr(strbuf_str(&head), "Content-Length") == NULL);
    CHECK(strstr(strbuf_str(&head), "\r\nConnection: close\r\n") != NULL);
    CHECK(r.body == NULL && r.body_len == 0);
    http_response_free(&r);

    /* A handler writing a bad header straight into the struct gets a 500. */
    strbuf_reset(&head);
    http_response_init(&r);
    strcpy(r.headers[0].name, "X-Bad");
    strcpy(r.headers[0].value, "a\r\nSet-Cookie: x=1");
    r.nheaders = 1;
    CHECK(http_response_serialize_head(&r, true, &head));
    CHECK(strncmp(strbuf_str(&head), "HTTP/1.1 500 ", 13) == 0);
    CHECK(strstr(strbuf_str(&head), "Set-Cookie") == NULL);
    http_response_free(&r);

    strbuf_reset(&head);
    http_response_init(&r);
    r.status = 42;
    CHECK(http_response_serialize_head(&r, true, &head));
    CHECK(strncmp(strbuf_str(&head), "HTTP/1.1 500 ", 13) == 0);
    http_response_free(&r);

    strbuf_reset(&head);
    http_response_init(&r);
    r.status = 299;   /* not in http_parser's table */
    CHECK(http_response_serialize_head(&r, true, &head));
    CHECK(strncmp(strbuf_str(&head), "HTTP/1.1 299 Unknown\r\n", 22) == 0);
    http_response_free(&r);
    strbuf_free(&head);
}

static void test_limits(void)
{
    http_limits zero = {0};
    http_limits l = http_limits_normalize(&zero);
    CHECK_INT_EQ(l.max_header_bytes, 16 * 1024);
    CHECK_INT_EQ(l.max_url_bytes, 8 * 1024);
    CHECK_INT_EQ(l.max_body_bytes, 32 * 1024 * 1024);
    CHECK_INT_EQ(l.max_connections, 256);
    CHECK_INT_EQ(l.idle_timeout_ms, 30000);
    CHECK_INT_EQ(l.request_timeout_ms, 30000);
    CHECK_INT_EQ(l.max_pipelined, 16);
    http_limits big = {.max_url_bytes = 1u << 20, .max_header_bytes = 1u << 20,
                       .max_connections = -3};
    l = http_limits_normalize(&big);
    CHECK_INT_EQ(l.max_url_bytes, 65535);
    CHECK_INT_EQ(l.max_header_bytes, 80 * 1024);
    CHECK_INT_EQ(l.max_connections, 256);
}

int main(void)
{
    test_percent_decode();
    test_query_param();
    test_header_lookup();
    test_add_header();
    test_error_body();
    test_serialize();
    test_limits();
    CHECK_DONE();
}
