/* The libuv side of the HTTP layer: listener, connections, the per-connection
 * queue of requests, timeouts and graceful shutdown.
 *
 * Every connection owns a FIFO of exchanges (one per request, or one answer
 * the server writes itself, like a 431). Only the head is ever active: it runs
 * on the thread pool, then its response is written; the next one starts when
 * that write completes. Responses therefore leave in request order, a client
 * that does not read its responses stops getting work done for it, and one
 * connection never occupies more than one pool thread. While the queue holds
 * max_pipelined requests the parser is paused and reading stops; the bytes
 * already read but not parsed wait in `held`. */
#include "server/http_internal.h"

#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_BUFFER_SIZE (64 * 1024)
#define LISTEN_BACKLOG 511
/* After the last response, how long to keep reading and discarding what the
 * client still sends: closing with unread input makes the kernel send a RST,
 * which can destroy the response before the client reads it. */
#define LINGER_MS 2000

typedef struct http_conn http_conn;

typedef enum exchange_phase {
    EXCHANGE_QUEUED,
    EXCHANGE_RUNNING,    /* the handler has it on the thread pool */
    EXCHANGE_WRITING,
} exchange_phase;

typedef struct http_exchange {
    struct http_exchange *next;
    http_conn *conn;
    http_handler_fn handler;
    void *handler_context;
    http_request_data *request;   /* NULL for an answer the server gives itself */
    http_response response;
    exchange_phase phase;
    bool close_after;             /* the connection ends with this response */
    bool handled;                 /* the handler ran (for on_request_done) */
    uint64_t received_ns;
    uv_work_t work;
    uv_write_t write;
    strbuf head;
} http_exchange;

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_server *server;
    http_conn *prev, *next;
    http_assembler assembler;
    char remote[64];
    http_exchange *queue_head, *queue_tail;
    size_t queue_len;
    char *held;                   /* read but not parsed while the assembler is paused */
    size_t held_len;
    int open_handles;             /* tcp and timer, until their close callbacks ran */
    bool counted;                 /* holds one of max_connections */
    bool reading;
    bool closing;                 /* uv_close called */
    bool lingering;               /* last response sent; discarding input until EOF */
    bool shutdown_pending;        /* a uv_shutdown request is outstanding */
    bool peer_eof;                /* the client will send nothing more */
    uint64_t message_started_ms;
    uint64_t last_activity_ms;
    uint64_t write_progress_ms;   /* when the response being written last moved */
    size_t write_backlog;         /* its bytes libuv still held then */
    uint64_t linger_until_ms;
    uv_shutdown_t shutdown_req;
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t *listener;           /* own allocation: it may outlive a failed start */
    http_handler_fn handler;
    void *handler_context;
    void (*on_request_done)(const http_request *, int, double, void *);
    http_limits limits;
    http_server_counters counters;
    int port;
    http_conn *connections;
    int counted_connections;
    /* Accepting needs a handle; when no connection can be allocated the
     * socket is accepted into this one and closed at once (libuv stops
     * listening until a pending connection is accepted). */
    uv_tcp_t refuse_tcp;
    bool refuse_busy;
    bool accept_pending;          /* a connection waits for refuse_tcp */
    bool shutting_down;
    bool listener_closed;
    bool closed_notified;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
    /* Reads are consumed before the next one starts, so one buffer serves all
     * connections of the loop. */
    char read_buffer[READ_BUFFER_SIZE];
};

static void conn_close(http_conn *conn);
static void conn_update(http_conn *conn);
static void conn_feed(http_conn *conn, const char *data, size_t len);

/* ---- the queue ---- */

static void queue_append(http_conn *conn, http_exchange *ex)
{
    ex->conn = conn;
    ex->next = NULL;
    if (conn->queue_tail)
        conn->queue_tail->next = ex;
    else
        conn->queue_head = ex;
    conn->queue_tail = ex;
    conn->queue_len++;
}

static void queue_remove(http_conn *conn, http_exchange *ex)
{
    http_exchange **link = &conn->queue_head;
    http_exchange *previous = NULL;
    while (*link && *link != ex) {
        previous = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return;
    *link = ex->next;
    if (conn->queue_tail == ex)
        conn->queue_tail = previous;
    conn->queue_len--;
}

/* Removes and frees an exchange, reporting it to on_request_done when a
 * response was produced for it (written, or discarded because the client left). */
static void exchange_finish(http_exchange *ex)
{
    http_conn *conn = ex->conn;
    http_server *server = conn->server;
    queue_remove(conn, ex);
    if (ex->request)
        server->counters.requests_in_flight--;
    if (server->on_request_done && (ex->handled || !ex->request)) {
        double seconds = (double)(uv_hrtime() - ex->received_ns) / 1e9;
        if (ex->request) {
            server->on_request_done(&ex->request->view, ex->response.status, seconds,
                                    server->handler_context);
        } else {
            /* Refused before a request existed: method and path are empty. */
            http_request stub = {.method = "", .path = "", .raw_query = ""};
            memcpy(stub.remote, conn->remote, sizeof stub.remote);
            server->on_request_done(&stub, ex->response.status, seconds,
                                    server->handler_context);
        }
    }
    http_response_free(&ex->response);
    strbuf_free(&ex->head);
    http_request_data_free(ex->request);
    free(ex);
}

/* Drops the requests that have not started (shutdown, connection gone). */
static void queue_drop_waiting(http_conn *conn)
{
    http_exchange *ex = conn->queue_head;
    while (ex) {
        http_exchange *next = ex->next;
        if (ex->phase == EXCHANGE_QUEUED)
            exchange_finish(ex);
        ex = next;
    }
}

/* Queues an answer the server gives itself; the connection closes after it. */
static void conn_enqueue_answer(http_conn *conn, int status, const char *code,
                                const char *message)
{
    http_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) {
        conn_close(conn);   /* cannot even say why */
        return;
    }
    http_response_init(&ex->response);
    http_response_error(&ex->response, status, code, message);
    strbuf_init(&ex->head);
    ex->close_after = true;
    ex->received_ns = uv_hrtime();
    queue_append(conn, ex);
    conn->server->counters.rejected_total++;
}

/* ---- what the assembler delivers ---- */

static void sink_message_begin(void *context)
{
    http_conn *conn = context;
    conn->message_started_ms = uv_now(conn->server->loop);
}

static bool sink_request(void *context, http_request_data *request)
{
    http_conn *conn = context;
    http_server *server = conn->server;
    memcpy(request->view.remote, conn->remote, sizeof request->view.remote);
    http_exchange *ex = calloc(1, sizeof *ex);
    if (!ex) {
        http_request_data_free(request);
        http_assembler_stop(&conn->assembler);
        conn_enqueue_answer(conn, 503, "out_of_memory",
                            "the server is out of memory; try again later");
        return false;
    }
    ex->request = request;
    ex->handler = server->handler;
    ex->handler_context = server->handler_context;
    ex->close_after = !request->keep_alive;
    ex->received_ns = uv_hrtime();
    http_response_init(&ex->response);
    strbuf_init(&ex->head);
    queue_append(conn, ex);
    server->counters.requests_total++;
    server->counters.requests_in_flight++;
    return conn->queue_len < (size_t)server->limits.max_pipelined;
}

static void sink_reject(void *context, int status, const char *code, const char *message)
{
    conn_enqueue_answer(context, status, code, message);
}

static void on_continue_written(uv_write_t *req, int status)
{
    (void)status;   /* a failed write shows up again on the final response */
    free(req);
}

static void sink_expect_continue(void *context)
{
    http_conn *conn = context;
    /* Interim answers must not overtake earlier responses; with requests
     * queued the client simply sends the body after its own timeout. */
    if (conn->queue_head || conn->closing)
        return;
    static char text[] = "HTTP/1.1 100 Continue\r\n\r\n";
    uv_write_t *req = malloc(sizeof *req);
    if (!req)
        return;
    uv_buf_t buf = uv_buf_init(text, sizeof text - 1);
    if (uv_write(req, (uv_stream_t *)&conn->tcp, &buf, 1, on_continue_written) != 0)
        free(req);
}

static const http_assembler_sink conn_sink = {
    .message_begin = sink_message_begin,
    .request = sink_request,
    .reject = sink_reject,
    .expect_continue = sink_expect_continue,
};

/* ---- closing ---- */

static void server_maybe_finish(http_server *server)
{
    if (server->shutting_down && server->listener_closed && !server->connections &&
        !server->refuse_busy && !server->closed_notified) {
        server->closed_notified = true;
        if (server->on_closed)
            server->on_closed(server->on_closed_arg);
    }
}

/* Frees the connection once nothing refers to it: handles closed, no work on
 * the thread pool, no write or shutdown request pending. */
static void conn_maybe_free(http_conn *conn)
{
    if (!conn->closing || conn->open_handles > 0 || conn->queue_head || conn->shutdown_pending)
        return;
    http_server *server = conn->server;
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        server->connections = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    http_assembler_free(&conn->assembler);
    free(conn->held);
    free(conn);
    server->counters.connections_open--;
    server_maybe_finish(server);
}

static void on_conn_handle_closed(uv_handle_t *handle)
{
    http_conn *conn = handle->data;
    conn->open_handles--;
    conn_maybe_free(conn);
}

/* A connection stops counting against max_connections once it has said its
 * last word (lingering or closed). */
static void conn_release_slot(http_conn *conn)
{
    if (conn->counted) {
        conn->counted = false;
        conn->server->counted_connections--;
    }
}

static void conn_close(http_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = true;
    conn->reading = false;
    http_assembler_stop(&conn->assembler);
    conn_release_slot(conn);
    /* A running handler keeps its exchange (and so the connection) until it
     * returns; its response is then discarded. Writes in progress are
     * cancelled by uv_close and finish in on_written. */
    queue_drop_waiting(conn);
    uv_close((uv_handle_t *)&conn->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&conn->timer, on_conn_handle_closed);
}

static void on_shutdown_done(uv_shutdown_t *req, int status)
{
    http_conn *conn = req->data;
    conn->shutdown_pending = false;
    if (conn->closing)
        conn_maybe_free(conn);
    else if (status < 0)
        conn_close(conn);
}

/* The last response is out: send FIN, then read and discard until the client
 * closes too (or LINGER_MS passes), so our close cannot reset the response. */
static void conn_begin_linger(http_conn *conn)
{
    if (conn->closing || conn->lingering)
        return;
    conn->lingering = true;
    conn_release_slot(conn);
    http_assembler_stop(&conn->assembler);
    free(conn->held);
    conn->held = NULL;
    conn->held_len = 0;
    queue_drop_waiting(conn);
    if (conn->peer_eof) {
        conn_close(conn);
        return;
    }
    conn->shutdown_req.data = conn;
    if (uv_shutdown(&conn->shutdown_req, (uv_stream_t *)&conn->tcp, on_shutdown_done) != 0) {
        conn_close(conn);
        return;
    }
    conn->shutdown_pending = true;
    int idle = conn->server->limits.idle_timeout_ms;
    conn->linger_until_ms = uv_now(conn->server->loop) + (uint64_t)(idle < LINGER_MS ? idle : LINGER_MS);
    conn_update(conn);
}

/* ---- running and writing exchanges ---- */

static void on_written(uv_write_t *req, int status)
{
    http_exchange *ex = req->data;
    http_conn *conn = ex->conn;
    http_server *server = conn->server;
    bool last = ex->close_after;
    exchange_finish(ex);
    if (conn->closing) {
        conn_maybe_free(conn);
        return;
    }
    if (status < 0) {   /* the client is gone */
        conn_close(conn);
        return;
    }
    conn->last_activity_ms = uv_now(server->loop);   /* the idle time starts now */
    if (last || server->shutting_down || (conn->peer_eof && !conn->queue_head)) {
        conn_begin_linger(conn);
        return;
    }
    if (conn->assembler.state == HTTP_ASSEMBLER_PAUSED &&
        conn->queue_len < (size_t)server->limits.max_pipelined) {
        /* Room in the queue again: parse what was held back, then read on. */
        http_assembler_resume(&conn->assembler);
        char *held = conn->held;
        size_t held_len = conn->held_len;
        conn->held = NULL;
        conn->held_len = 0;
        if (held) {
            conn_feed(conn, held, held_len);
            free(held);
        }
    }
    conn_update(conn);
}

static void exchange_write(http_exchange *ex)
{
    http_conn *conn = ex->conn;
    http_server *server = conn->server;
    /* When the client half-closed, everything queued is answered and the
     * last answer says so. */
    if (server->shutting_down || (conn->peer_eof && ex->next == NULL))
        ex->close_after = true;
    if (!http_response_serialize_head(&ex->response, !ex->close_after, &ex->head)) {
        exchange_finish(ex);
        conn_close(conn);   /* out of memory: nothing sensible can be sent */
        return;
    }
    uv_buf_t bufs[2];
    unsigned nbufs = 0;
    bufs[nbufs++] = uv_buf_init(ex->head.data, (unsigned)ex->head.len);
    bool send_body = !(ex->request && ex->request->is_head) && ex->response.body_len > 0;
    if (send_body)
        bufs[nbufs++] = uv_buf_init((char *)ex->response.body, (unsigned)ex->response.body_len);
    ex->phase = EXCHANGE_WRITING;
    ex->write.data = ex;
    conn->write_progress_ms = uv_now(server->loop);
    if (uv_write(&ex->write, (uv_stream_t *)&conn->tcp, bufs, nbufs, on_written) != 0) {
        exchange_finish(ex);
        conn_close(conn);
        return;
    }
    conn->write_backlog = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
}

static void run_handler(uv_work_t *work)
{
    http_exchange *ex = work->data;
    ex->handler(&ex->request->view, &ex->response, ex->handler_context);
}

static void after_handler(uv_work_t *work, int status)
{
    http_exchange *ex = work->data;
    http_conn *conn = ex->conn;
    ex->handled = status == 0;
    if (conn->closing) {   /* the client left meanwhile: discard the response */
        exchange_finish(ex);
        conn_maybe_free(conn);
        return;
    }
    exchange_write(ex);
    conn_update(conn);
}

/* Starts the head of the queue if it is waiting. */
static void conn_pump(http_conn *conn)
{
    http_exchange *ex = conn->queue_head;
    if (!ex || ex->phase != EXCHANGE_QUEUED || conn->closing)
        return;
    if (!ex->request) {
        exchange_write(ex);
        return;
    }
    ex->phase = EXCHANGE_RUNNING;
    ex->work.data = ex;
    if (uv_queue_work(conn->server->loop, &ex->work, run_handler, after_handler) != 0) {
        http_response_error(&ex->response, 500, "internal_error",
                            "the request could not be scheduled");
        exchange_write(ex);
    }
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    http_conn *conn = handle->data;
    *buf = uv_buf_init(conn->server->read_buffer, READ_BUFFER_SIZE);
}

static void conn_hold(http_conn *conn, const char *data, size_t len)
{
    char *held = realloc(conn->held, conn->held_len + len);
    if (!held) {
        http_assembler_stop(&conn->assembler);
        conn_enqueue_answer(conn, 503, "out_of_memory",
                            "the server is out of memory; try again later");
        return;
    }
    memcpy(held + conn->held_len, data, len);
    conn->held = held;
    conn->held_len += len;
}

static void conn_feed(http_conn *conn, const char *data, size_t len)
{
    size_t consumed = http_assembler_feed(&conn->assembler, data, len);
    if (consumed < len)
        conn_hold(conn, data + consumed, len - consumed);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    http_conn *conn = stream->data;
    if (nread == 0 || conn->closing)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || conn->lingering) {
            conn_close(conn);   /* reset, or the client finished after our last response */
            return;
        }
        /* Half-close: the client sent everything it will send. A request cut
         * short is abandoned; complete ones are still answered. */
        conn->peer_eof = true;
        http_assembler_stop(&conn->assembler);
        if (!conn->queue_head)
            conn_close(conn);
        else
            conn_update(conn);
        return;
    }
    conn->last_activity_ms = uv_now(conn->server->loop);
    if (conn->lingering)
        return;   /* discarded */
    conn_feed(conn, buf->base, (size_t)nread);
    conn_update(conn);
}

static void conn_set_reading(http_conn *conn, bool want)
{
    if (want == conn->reading)
        return;
    if (want) {
        if (uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read) != 0) {
            conn_close(conn);
            return;
        }
    } else {
        uv_read_stop((uv_stream_t *)&conn->tcp);
    }
    conn->reading = want;
}

/* ---- timeouts ---- */

static uint64_t earliest(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* When a request that started must be complete. */
static uint64_t request_deadline(const http_conn *conn)
{
    const http_limits *limits = &conn->server->limits;
    return earliest(conn->message_started_ms + (uint64_t)limits->request_timeout_ms,
                    conn->last_activity_ms + (uint64_t)limits->idle_timeout_ms);
}

static void on_conn_timer(uv_timer_t *timer);

/* One timer per connection, aimed at whichever deadline applies now:
 * lingering ends; a response that made no progress for the idle timeout; a
 * request arriving too slowly (408); an idle keep-alive connection (silent
 * close). A handler that takes long is not timed out here. */
static void conn_arm_timer(http_conn *conn)
{
    if (conn->closing)
        return;
    const http_limits *limits = &conn->server->limits;
    uint64_t deadline = UINT64_MAX;
    if (conn->lingering) {
        deadline = conn->linger_until_ms;
    } else {
        const http_exchange *head = conn->queue_head;
        if (head && head->phase == EXCHANGE_WRITING)
            deadline = conn->write_progress_ms + (uint64_t)limits->idle_timeout_ms;
        if (conn->assembler.in_message)
            deadline = earliest(deadline, request_deadline(conn));
        else if (!head && !conn->peer_eof)
            deadline = conn->last_activity_ms + (uint64_t)limits->idle_timeout_ms;
    }
    if (deadline == UINT64_MAX) {
        uv_timer_stop(&conn->timer);
        return;
    }
    uint64_t now = uv_now(conn->server->loop);
    uv_timer_start(&conn->timer, on_conn_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_conn_timer(uv_timer_t *timer)
{
    http_conn *conn = timer->data;
    const http_limits *limits = &conn->server->limits;
    uint64_t now = uv_now(conn->server->loop);
    const http_exchange *head = conn->queue_head;
    if (conn->lingering) {
        conn_close(conn);
        return;
    }
    if (head && head->phase == EXCHANGE_WRITING &&
        now >= conn->write_progress_ms + (uint64_t)limits->idle_timeout_ms) {
        /* A large response to a slow client is fine as long as it moves. */
        size_t backlog = uv_stream_get_write_queue_size((uv_stream_t *)&conn->tcp);
        if (backlog >= conn->write_backlog) {
            conn_close(conn);   /* the client stopped reading */
            return;
        }
        conn->write_backlog = backlog;
        conn->write_progress_ms = now;
    }
    if (conn->assembler.in_message && now >= request_deadline(conn)) {
        http_assembler_stop(&conn->assembler);
        char message[160];
        snprintf(message, sizeof message,
                 "the request did not arrive in full within %d ms (or stalled for %d ms)",
                 limits->request_timeout_ms, limits->idle_timeout_ms);
        conn_enqueue_answer(conn, 408, "request_timeout", message);
        conn_update(conn);
        return;
    }
    if (!head && !conn->assembler.in_message &&
        now >= conn->last_activity_ms + (uint64_t)limits->idle_timeout_ms) {
        conn_close(conn);   /* idle keep-alive: nothing to say */
        return;
    }
    conn_arm_timer(conn);
}

/* Brings reading, the queue and the timer in line with the current state. */
static void conn_update(http_conn *conn)
{
    if (conn->closing)
        return;
    bool want_reading = !conn->peer_eof &&
                        (conn->lingering ||
                         (conn->assembler.state == HTTP_ASSEMBLER_READING &&
                          !conn->server->shutting_down));
    conn_set_reading(conn, want_reading);
    if (conn->closing)
        return;
    conn_pump(conn);
    if (conn->closing)
        return;
    conn_arm_timer(conn);
}

/* ---- accepting ---- */

static void format_peer(uv_tcp_t *tcp, char *out, size_t size)
{
    struct sockaddr_storage addr;
    int len = sizeof addr;
    snprintf(out, size, "unknown");
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&addr, &len) != 0)
        return;
    char ip[INET6_ADDRSTRLEN] = "";
    if (addr.ss_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&addr;
        uv_ip4_name(in4, ip, sizeof ip);
        snprintf(out, size, "%s:%d", ip, ntohs(in4->sin_port));
    } else if (addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&addr;
        uv_ip6_name(in6, ip, sizeof ip);
        snprintf(out, size, "[%s]:%d", ip, ntohs(in6->sin6_port));
    }
}

static void on_connection(uv_stream_t *listener, int status);

static void on_refused_closed(uv_handle_t *handle)
{
    http_server *server = handle->data;
    server->refuse_busy = false;
    if (server->accept_pending && !server->shutting_down) {
        server->accept_pending = false;
        on_connection((uv_stream_t *)server->listener, 0);
    }
    server_maybe_finish(server);
}

/* Out of memory for a connection: close it unanswered rather than leave it
 * pending, which would stop the listener for good. */
static void refuse_connection(http_server *server)
{
    if (server->refuse_busy) {
        server->accept_pending = true;   /* retried from on_refused_closed */
        return;
    }
    if (uv_tcp_init(server->loop, &server->refuse_tcp) != 0)
        return;
    server->refuse_tcp.data = server;
    server->refuse_busy = true;
    uv_accept((uv_stream_t *)server->listener, (uv_stream_t *)&server->refuse_tcp);
    uv_close((uv_handle_t *)&server->refuse_tcp, on_refused_closed);
    server->counters.rejected_total++;
}

static void on_connection(uv_stream_t *listener, int status)
{
    http_server *server = listener->data;
    if (status < 0 || server->shutting_down)
        return;   /* a failed accept (say EMFILE) is retried by libuv */
    http_conn *conn = calloc(1, sizeof *conn);
    if (!conn) {
        refuse_connection(server);
        return;
    }
    conn->server = server;
    if (uv_tcp_init(server->loop, &conn->tcp) != 0) {
        free(conn);
        refuse_connection(server);
        return;
    }
    conn->tcp.data = conn;
    conn->timer.data = conn;
    uv_timer_init(server->loop, &conn->timer);   /* cannot fail on unix */
    conn->open_handles = 2;
    http_assembler_init(&conn->assembler, &server->limits, &conn_sink, conn);
    conn->next = server->connections;
    if (server->connections)
        server->connections->prev = conn;
    server->connections = conn;
    server->counters.connections_total++;
    server->counters.connections_open++;
    conn->last_activity_ms = uv_now(server->loop);
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        conn_close(conn);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);   /* small responses should not wait for ACKs */
    format_peer(&conn->tcp, conn->remote, sizeof conn->remote);
    if (server->counted_connections >= server->limits.max_connections) {
        char message[128];
        snprintf(message, sizeof message,
                 "the server already has %d connections open, its limit; try again later",
                 server->limits.max_connections);
        http_assembler_stop(&conn->assembler);
        conn_enqueue_answer(conn, 503, "too_many_connections", message);
    } else {
        conn->counted = true;
        server->counted_connections++;
    }
    conn_update(conn);
}

/* ---- the server ---- */

static void free_closed_handle(uv_handle_t *handle)
{
    free(handle);
}

cs_status http_server_start(uv_loop_t *loop, const http_server_config *config,
                            http_server **out, cs_error *err)
{
    *out = NULL;
    if (!loop || !config || !config->handler)
        return cs_error_set(err, CS_ERR_INVALID, "http server: no loop or no request handler");
    if (config->port < 0 || config->port > 65535)
        return cs_error_set(err, CS_ERR_INVALID, "port %d is out of range (0..65535)",
                            config->port);
    /* Writing to a socket the client already closed raises SIGPIPE, which by
     * default kills the process; a server must see EPIPE instead. A handler
     * the program installed itself is left alone. */
    struct sigaction pipe_action;
    if (sigaction(SIGPIPE, NULL, &pipe_action) == 0 && pipe_action.sa_handler == SIG_DFL)
        signal(SIGPIPE, SIG_IGN);
    const char *host = config->host && *config->host ? config->host : "127.0.0.1";
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    if (uv_ip4_addr(host, config->port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, config->port, (struct sockaddr_in6 *)&addr) != 0)
        return cs_error_set(err, CS_ERR_INVALID,
                            "'%s' is not an IP address (use, say, 127.0.0.1 or ::1)", host);
    http_server *server = calloc(1, sizeof *server);
    uv_tcp_t *listener = calloc(1, sizeof *listener);
    if (!server || !listener) {
        free(server);
        free(listener);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory starting the http server");
    }
    int rc = uv_tcp_init(loop, listener);
    if (rc != 0) {
        free(server);
        free(listener);
        return cs_error_set(err, CS_ERR_IO, "cannot create a socket: %s", uv_strerror(rc));
    }
    listener->data = server;
    rc = uv_tcp_bind(listener, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)listener, LISTEN_BACKLOG, on_connection);
    if (rc != 0) {
        /* A handle is only released through the loop; it frees itself there. */
        listener->data = NULL;
        uv_close((uv_handle_t *)listener, free_closed_handle);
        free(server);
        const char *hint = rc == UV_EADDRINUSE ? " (another program uses this port; choose another)"
                         : rc == UV_EACCES     ? " (ports below 1024 need privileges)"
                         : rc == UV_EADDRNOTAVAIL ? " (no network interface has this address)"
                                                  : "";
        return cs_error_set(err, CS_ERR_IO, "cannot listen on %s port %d: %s%s", host,
                            config->port, uv_strerror(rc), hint);
    }
    struct sockaddr_storage bound;
    int bound_len = sizeof bound;
    server->port = config->port;
    if (uv_tcp_getsockname(listener, (struct sockaddr *)&bound, &bound_len) == 0)
        server->port = bound.ss_family == AF_INET6
                           ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                           : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    server->loop = loop;
    server->listener = listener;
    server->handler = config->handler;
    server->handler_context = config->handler_context;
    server->on_request_done = config->on_request_done;
    server->limits = http_limits_normalize(&config->limits);
    *out = server;
    return CS_OK;
}

int http_server_port(const http_server *server)
{
    return server->port;
}

static void on_listener_closed(uv_handle_t *handle)
{
    http_server *server = handle->data;
    free(handle);
    server->listener = NULL;
    server->listener_closed = true;
    server_maybe_finish(server);
}

/* Shutdown for one connection: nothing new is read; a request in progress
 * completes and is answered with "Connection: close"; requests queued behind
 * it never started and are dropped (a client retries those). */
static void conn_begin_drain(http_conn *conn)
{
    if (conn->closing || conn->lingering)
        return;
    http_assembler_stop(&conn->assembler);
    free(conn->held);
    conn->held = NULL;
    conn->held_len = 0;
    queue_drop_waiting(conn);
    if (!conn->queue_head)
        conn_close(conn);
    else
        conn_update(conn);
}

void http_server_shutdown(http_server *server, void (*on_closed)(void *arg), void *arg)
{
    if (server->shutting_down)
        return;
    server->shutting_down = true;
    server->on_closed = on_closed;
    server->on_closed_arg = arg;
    uv_close((uv_handle_t *)server->listener, on_listener_closed);
    /* Connections are freed from close callbacks, never here, so the list
     * stays valid while we walk it. */
    for (http_conn *conn = server->connections; conn; conn = conn->next)
        conn_begin_drain(conn);
}

void http_server_free(http_server *server)
{
    free(server);
}

void http_server_get_counters(const http_server *server, http_server_counters *out)
{
    *out = server->counters;
}
