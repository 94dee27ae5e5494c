/* libFuzzer target for the request path of `capsearch serve`: arbitrary bytes
 * go through the same http_assembler the server feeds from its sockets, in
 * pieces of varying size, pausing and resuming the way the server does when
 * its per-connection queue is full. Every request and every refusal is then
 * turned into response bytes with the server's own code, and the helpers a
 * handler uses (header lookup, query decoding, add_header) run on what came
 * in. Invariants that must hold for any input trap when broken.
 *
 * Input layout: byte 0 seeds the piece sizes, byte 1 picks the limits and how
 * often the sink pauses; the rest is the stream. Built by tools/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "server/http_internal.h"

#define MUST(cond)                  \
    do {                            \
        if (!(cond))                \
            __builtin_trap();       \
    } while (0)

typedef struct fuzz_sink_state {
    int requests;
    int pause_every;
    bool rejected;
} fuzz_sink_state;

/* What reaches the wire has CRLF line ends only, and one blank line: the end. */
static void check_head(const strbuf *head)
{
    const char *s = strbuf_str(head);
    MUST(head->len >= 4 && memcmp(s + head->len - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < head->len; i++) {
        if (s[i] == '\n')
            MUST(i > 0 && s[i - 1] == '\r');
        if (s[i] == '\r')
            MUST(i + 1 < head->len && s[i + 1] == '\n');
        if (i + 4 <= head->len && memcmp(s + i, "\r\n\r\n", 4) == 0)
            MUST(i + 4 == head->len);
    }
}

static void respond(http_response *response, bool keep_alive)
{
    strbuf head;
    strbuf_init(&head);
    if (http_response_serialize_head(response, keep_alive, &head))
        check_head(&head);
    strbuf_free(&head);
    http_response_free(response);
}

static void use_request(const http_request_data *data)
{
    const http_request *r = &data->view;
    MUST(r->method && r->path && r->raw_query);
    MUST(utf8_is_valid(r->path, strlen(r->path)));
    MUST((r->body == NULL) == (r->body_len == 0));
    http_request_header(r, "Host");
    http_request_header(r, "content-length");

    static const char *const names[] = {"q", "k", "", "a b", "\xC3\xA9"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *value = NULL;
        int rc = http_query_param(r->raw_query, names[i], &value);
        MUST(rc >= -2 && rc <= 1);
        MUST((rc == 1) == (value != NULL));
        if (value) {
            MUST(utf8_is_valid(value, strlen(value)));
            free(value);
        }
    }

    /* Echo what the client sent into a response, the way a careless handler
     * might: whatever add_header accepts must serialise cleanly. */
    http_response response;
    http_response_init(&response);
    http_response_error(&response, 404, "not_found", r->path);
    for (size_t i = 0; i < r->nheaders; i++)
        http_response_add_header(&response, r->headers[i].name, r->headers[i].value);
    http_response_add_header(&response, "X-Path", r->path);
    respond(&response, data->keep_alive);
}

static bool fuzz_request(void *context, http_request_data *request)
{
    fuzz_sink_state *state = context;
    MUST(!state->rejected);   /* nothing follows a refusal */
    use_request(request);
    http_request_data_free(request);
    state->requests++;
    return !(state->pause_every && state->requests % state->pause_every == 0);
}

static void fuzz_reject(void *context, int status, const char *code, const char *message)
{
    fuzz_sink_state *state = context;
    MUST(!state->rejected);
    MUST(status >= 400 && status <= 599);
    state->rejected = true;
    http_response response;
    http_response_init(&response);
    http_response_error(&response, status, code, message);
    respond(&response, false);
}

static const http_assembler_sink fuzz_sink = {
    .request = fuzz_request,
    .reject = fuzz_reject,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t rng = data[0] * 2654435761u + 1;
    uint8_t mode = data[1];
    data += 2;
    size -= 2;

    http_limits limits = {0};   /* defaults */
    if (mode & 1) {             /* small limits, so the fuzzer reaches them */
        limits.max_header_bytes = 256;
        limits.max_url_bytes = 64;
        limits.max_body_bytes = 32;
    }
    fuzz_sink_state state = {.pause_every = (mode >> 1) & 3};
    http_assembler assembler;
    http_assembler_init(&assembler, &limits, &fuzz_sink, &state);

    size_t offset = 0;
    while (offset < size) {
        rng = rng * 1103515245u + 12345u;
        size_t piece = 1 + (rng >> 16) % 97;
        if (piece > size - offset)
            piece = size - offset;
        size_t consumed = http_assembler_feed(&assembler, (const char *)data + offset, piece);
        MUST(consumed <= piece);
        if (assembler.state == HTTP_ASSEMBLER_PAUSED)
            http_assembler_resume(&assembler);   /* the queue drained */
        else
            MUST(consumed == piece);
        offset += consumed;
    }
    http_assembler_free(&assembler);
    return 0;
}
