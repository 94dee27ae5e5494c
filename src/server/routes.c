/* The routes of `capsearch serve`. Each request runs here on the libuv
 * thread pool: it may search, read the catalog or make a thumbnail. Nothing
 * from the request reaches the file system except through the catalog
 * (files are served by image id, never by path). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dates.h"
#include "common/fsutil.h"
#include "common/strbuf.h"
#include "server/app.h"
#include "server/web_assets.h"
#include "views/views.h"

#define THUMB_DEFAULT 256
#define MAX_FILE_BYTES (1024ull << 20)

static const view_links api_links = {"/api/images", THUMB_DEFAULT};

/* ---- responses ---- */

static void reply_json(http_response *resp, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    if (!text) {
        http_response_error(resp, 500, "out_of_memory", "cannot build the response");
        return;
    }
    http_response_json(resp, status, text);
}

static int status_for(cs_status code)
{
    switch (code) {
    case CS_OK:
        return 200;
    case CS_ERR_INVALID:
        return 400;
    case CS_ERR_NOT_FOUND:
        return 404;
    case CS_ERR_TOO_LARGE:
        return 413;
    case CS_ERR_UNSUPPORTED:
    case CS_ERR_CORRUPT:
        return 415;
    case CS_ERR_BUSY:
        return 503;
    default:
        return 500;
    }
}

static const char *code_for(int status)
{
    switch (status) {
    case 400:
        return "bad_request";
    case 401:
        return "unauthorized";
    case 404:
        return "not_found";
    case 405:
        return "method_not_allowed";
    case 413:
        return "too_large";
    case 415:
        return "unsupported_media";
    case 503:
        return "busy";
    default:
        return "internal_error";
    }
}

static void reply_error(http_response *resp, const cs_error *err)
{
    int status = status_for(err->code);
    http_response_error(resp, status, code_for(status), err->message);
}

static void reply_bad(http_response *resp, const char *message)
{
    http_response_error(resp, 400, "bad_request", message);
}

static void reply_bytes(http_response *resp, const char *content_type, uint8_t *data, size_t len)
{
    resp->status = 200;
    snprintf(resp->content_type, sizeof resp->content_type, "%s", content_type);
    resp->body = data;
    resp->body_len = len;
}

/* ---- request parsing ---- */

/* Reads an integer query parameter. Returns 0 when absent (value untouched),
 * 1 when read, -1 when present but not an integer in [min, max]. */
static int int_param(const http_request *req, const char *name, long min, long max, long *value)
{
    char *text = NULL;
    int found = http_query_param(req->raw_query, name, &text);
    if (found <= 0)
        return found;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    int ok = *text && end && *end == '\0' && v >= min && v <= max;
    free(text);
    if (!ok)
        return -1;
    *value = v;
    return 1;
}

static bool flag_param(const http_request *req, const char *name)
{
    char *text = NULL;
    bool on = false;
    if (http_query_param(req->raw_query, name, &text) == 1)
        on = strcmp(text, "1") == 0 || strcmp(text, "true") == 0 || strcmp(text, "yes") == 0;
    free(text);
    return on;
}

/* alpha (0..1), the share of the CLIP ranking in a text search. On a bad
 * value writes the 400 and returns false. */
static bool alpha_param(const http_request *req, cs_search_options *options,
                        http_response *resp)
{
    char *text = NULL;
    int found = http_query_param(req->raw_query, "alpha", &text);
    bool ok = found == 0;
    if (found == 1) {
        char *end = NULL;
        double v = strtod(text, &end);
        ok = *text && end && *end == '\0' && v >= 0.0 && v <= 1.0;
        options->alpha = v;
        options->has_alpha = 1;
    }
    free(text);
    if (!ok)
        reply_bad(resp, "alpha must be a number from 0 to 1");
    return ok;
}

/* Strings the options point at, owned here. */
typedef struct search_params {
    cs_search_options options;
    char *q, *folder, *type, *camera;
} search_params;

static void search_params_free(search_params *p)
{
    free(p->q);
    free(p->folder);
    free(p->type);
    free(p->camera);
}

/* k, offset, explain and the filters. On failure writes the 400 and returns false. */
static bool parse_search_params(const http_request *req, search_params *p, http_response *resp)
{
    memset(p, 0, sizeof *p);
    long v;
    int r = int_param(req, "k", 1, 1000, &v);
    if (r < 0) {
        reply_bad(resp, "k must be a whole number from 1 to 1000");
        return false;
    }
    p->options.k = r ? (int)v : 20;
    r = int_param(req, "offset", 0, 100000, &v);
    if (r < 0) {
        reply_bad(resp, "offset must be a whole number from 0 to 100000");
        return false;
    }
    p->options.offset = r ? (int)v : 0;
    p->options.explain = flag_param(req, "explain");
    if (!alpha_param(req, &p->options, resp))
        return false;
    const char *strings[] = {"q", "folder", "type", "camera"};
    char **slots[] = {&p->q, &p->folder, &p->type, &p->camera};
    for (int i = 0; i < 4; i++)
        if (http_query_param(req->raw_query, strings[i], slots[i]) < 0) {
            char message[96];
            snprintf(message, sizeof message, "parameter %s is not valid percent-encoded UTF-8",
                     strings[i]);
            {
                reply_bad(resp, message);
                return false;
            }
        }
    p->options.filter.folder = p->folder && *p->folder ? p->folder : NULL;
    p->options.filter.type = p->type && *p->type ? p->type : NULL;
    p->options.filter.camera = p->camera && *p->camera ? p->camera : NULL;
    p->options.filter.has_text = flag_param(req, "has_text");
    p->options.filter.has_faces = flag_param(req, "has_faces");
    const char *days[] = {"from", "to"};
    for (int i = 0; i < 2; i++) {
        char *text = NULL;
        int found = http_query_param(req->raw_query, days[i], &text);
        if (found == 1 && *text) {
            int64_t *slot = i == 0 ? &p->options.filter.from : &p->options.filter.to;
            if (!dates_parse_day(text, i == 1, slot)) {
                free(text);
                char message[96];
                snprintf(message, sizeof message, "%s must be a date as YYYY-MM-DD", days[i]);
                {
                    reply_bad(resp, message);
                    return false;
                }
            }
            *(i == 0 ? &p->options.filter.has_from : &p->options.filter.has_to) = 1;
        }
        free(text);
        if (found < 0) {
            reply_bad(resp, "a date parameter is not valid percent-encoding");
            return false;
        }
    }
    return true;
}

/* "/api/images/123" + "/thumb" etc: the id and the rest, or false. */
static bool parse_image_path(const char *path, int64_t *id, const char **rest)
{
    const char *prefix = "/api/images/";
    size_t n = strlen(prefix);
    if (strncmp(path, prefix, n) != 0)
        return false;
    const char *p = path + n;
    if (*p < '1' || *p > '9')
        return false;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (*p++ - '0');
    }
    *id = v;
    *rest = p;
    return true;
}

/* ---- handlers ---- */

static void handle_search(server_app *app, const http_request *req, http_response *resp)
{
    search_params p;
    if (!parse_search_params(req, &p, resp))
        return;
    cs_results *res = NULL;
    cs_error err = {0};
    if (cs_search(app->lib, p.q ? p.q : "", &p.options, &res, &err) == CS_OK)
        reply_json(resp, 200, view_results(res, p.q ? p.q : "", p.options.explain, &api_links));
    else
        reply_error(resp, &err);
    cs_results_free(res);
    search_params_free(&p);
}

static void handle_search_image(server_app *app, const http_request *req, http_response *resp)
{
    search_params p;
    if (!parse_search_params(req, &p, resp))
        return;
    cs_results *res = NULL;
    cs_error err = {0};
    if (!req->body || req->body_len == 0)
        reply_bad(resp, "send the image file as the request body");
    else if (cs_search_image(app->lib, req->body, req->body_len, &p.options, &res, &err) == CS_OK)
        reply_json(resp, 200, view_results(res, NULL, p.options.explain, &api_links));
    else
        reply_error(resp, &err);
    cs_results_free(res);
    search_params_free(&p);
}

static void handle_similar(server_app *app, const http_request *req, int64_t id,
                           http_response *resp)
{
    search_params p;
    if (!parse_search_params(req, &p, resp))
        return;
    cs_results *res = NULL;
    cs_error err = {0};
    if (cs_search_similar(app->lib, id, &p.options, &res, &err) == CS_OK)
        reply_json(resp, 200, view_results(res, NULL, p.options.explain, &api_links));
    else
        reply_error(resp, &err);
    cs_results_free(res);
    search_params_free(&p);
}

static void handle_image(server_app *app, int64_t id, http_response *resp)
{
    cs_image_info *info = NULL;
    cs_error err = {0};
    if (cs_image_get(app->lib, id, &info, &err) == CS_OK)
        reply_json(resp, 200, view_image_info(info, &api_links));
    else
        reply_error(resp, &err);
    cs_image_info_free(info);
}

static void cache_forever(http_response *resp)
{
    /* An id always names the same picture (changed files get new ids). */
    http_response_add_header(resp, "Cache-Control", "private, max-age=31536000, immutable");
}

static void handle_thumb(server_app *app, const http_request *req, int64_t id, http_response *resp)
{
    long size = THUMB_DEFAULT;
    if (int_param(req, "size", 16, 1024, &size) < 0) {
        reply_bad(resp, "size must be a whole number of pixels from 16 to 1024");
        return;
    }
    uint8_t *jpeg = NULL;
    size_t len = 0;
    cs_error err = {0};
    if (cs_thumbnail(app->lib, id, (int)size, &jpeg, &len, &err) != CS_OK) {
        reply_error(resp, &err);
        return;
    }
    reply_bytes(resp, "image/jpeg", jpeg, len);
    cache_forever(resp);
}

static const char *media_type(const char *format)
{
    static const char *const types[][2] = {
        {"jpeg", "image/jpeg"}, {"png", "image/png"},
        {"gif", "image/gif"},   {"webp", "image/webp"},
        {"bmp", "image/bmp"},   {"heif", "image/heif"},
        {"tga", "image/x-tga"}, {"pnm", "image/x-portable-anymap"},
    };
    for (size_t i = 0; format && i < sizeof types / sizeof *types; i++)
        if (strcmp(format, types[i][0]) == 0)
            return types[i][1];
    return "application/octet-stream";
}

static void handle_file(server_app *app, int64_t id, http_response *resp)
{
    cs_image_info *info = NULL;
    cs_error err = {0};
    if (cs_image_get(app->lib, id, &info, &err) != CS_OK) {
        reply_error(resp, &err);
        return;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    /* The path comes from the catalog, never from the request. */
    if (fs_read_file(info->path, MAX_FILE_BYTES, &data, &len, &err) == CS_OK) {
        reply_bytes(resp, media_type(info->format), data, len);
        http_response_add_header(resp, "Cache-Control", "private, no-cache");
    } else {
        reply_error(resp, &err);
    }
    cs_image_info_free(info);
}

static json_t *job_json(const job_view *job)
{
    json_t *o = view_index_progress(&job->progress);
    if (!o)
        return NULL;
    json_object_set_new(o, "id", json_integer(job->id));
    json_object_set_new(o, "path", view_text(job->path));
    json_object_set_new(o, "state", json_string(job_state_name(job->state)));
    json_object_set_new(o, "error", job->error[0] ? view_text(job->error) : json_null());
    return o;
}

static void handle_index(server_app *app, const http_request *req, http_response *resp)
{
    json_error_t jerr;
    json_t *body = req->body ? json_loadb((const char *)req->body, req->body_len, 0, &jerr) : NULL;
    const char *path = body ? json_string_value(json_object_get(body, "path")) : NULL;
    if (!path || !*path) {
        json_decref(body);
        {
            reply_bad(resp, "send {\"path\": \"/folder/to/index\"} as JSON");
            return;
        }
    }
    job_view job;
    cs_error err = {0};
    if (jobs_submit(app->jobs, path, &job, &err) == CS_OK)
        reply_json(resp, 202, json_pack("{s:o}", "job", job_json(&job)));
    else
        reply_error(resp, &err);
    json_decref(body);
}

static void handle_jobs(server_app *app, const http_request *req, http_response *resp)
{
    const char *rest = req->path + strlen("/api/jobs");
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
            http_response_error(resp, 405, "method_not_allowed", "use GET on /api/jobs");
            return;
        }
        job_view *views = calloc(100, sizeof *views);
        if (!views) {
            http_response_error(resp, 500, "out_of_memory", "out of memory");
            return;
        }
        size_t n = jobs_list(app->jobs, views, 100);
        json_t *list = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list, job_json(&views[i]));
        free(views);
        {
            reply_json(resp, 200, json_pack("{s:o}", "jobs", list));
            return;
        }
    }
    char *end = NULL;
    long long id = rest[0] == '/' ? strtoll(rest + 1, &end, 10) : 0;
    if (!end || *end || id <= 0) {
        http_response_error(resp, 404, "not_found", "no such job");
        return;
    }
    job_view job;
    cs_error err = {0};
    if (strcmp(req->method, "DELETE") == 0) {
        if (jobs_cancel(app->jobs, id, &job, &err) != CS_OK) {
            reply_error(resp, &err);
            return;
        }
        {
            reply_json(resp, 202, json_pack("{s:o}", "job", job_json(&job)));
            return;
        }
    }
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
        http_response_error(resp, 405, "method_not_allowed", "use GET or DELETE on a job");
        return;
    }
    if (!jobs_get(app->jobs, id, &job)) {
        http_response_error(resp, 404, "not_found", "no such job");
        return;
    }
    reply_json(resp, 200, json_pack("{s:o}", "job", job_json(&job)));
}

static void handle_stats(server_app *app, http_response *resp)
{
    cs_stats st;
    cs_error err = {0};
    if (cs_library_stats(app->lib, &st, &err) != CS_OK) {
        reply_error(resp, &err);
        return;
    }
    json_t *doc = view_stats(&st, NULL);
    job_counts jc;
    jobs_count(app->jobs, &jc);
    pthread_mutex_lock(&app->mu);
    size_t watched = app->watched_folders;
    pthread_mutex_unlock(&app->mu);
    if (doc) {
        json_object_set_new(doc, "jobs",
                            json_pack("{s:i, s:i}", "queued", jc.queued, "running", jc.running));
        json_object_set_new(doc, "watched_folders", json_integer((json_int_t)watched));
    }
    reply_json(resp, 200, doc);
}

static void handle_metrics(server_app *app, http_response *resp)
{
    strbuf out;
    strbuf_init(&out);
    metrics_render(&app->metrics, &out);
    pthread_mutex_lock(&app->mu);
    http_server_counters http = app->http;
    size_t watched = app->watched_folders;
    pthread_mutex_unlock(&app->mu);
    strbuf_appendf(
        &out,
        "# HELP capsearch_http_connections_open Open client connections.\n"
        "# TYPE capsearch_http_connections_open gauge\ncapsearch_http_connections_open %llu\n"
        "# HELP capsearch_http_connections_total Connections accepted.\n"
        "# TYPE capsearch_http_connections_total counter\ncapsearch_http_connections_total %llu\n"
        "# HELP capsearch_http_requests_in_flight Requests being handled.\n"
        "# TYPE capsearch_http_requests_in_flight gauge\ncapsearch_http_requests_in_flight %llu\n"
        "# HELP capsearch_http_rejected_total Requests refused by a limit (4xx/5xx from the server "
        "itself).\n"
        "# TYPE capsearch_http_rejected_total counter\ncapsearch_http_rejected_total %llu\n",
        (unsigned long long)http.connections_open, (unsigned long long)http.connections_total,
        (unsigned long long)http.requests_in_flight, (unsigned long long)http.rejected_total);
    cs_stats st;
    cs_error err;
    if (cs_library_stats(app->lib, &st, &err) == CS_OK)
        strbuf_appendf(
            &out,
            "# HELP capsearch_images Images in the catalog.\n"
            "# TYPE capsearch_images gauge\ncapsearch_images %lld\n"
            "# HELP capsearch_vectors Vectors in the search index.\n"
            "# TYPE capsearch_vectors gauge\ncapsearch_vectors %lld\n"
            "# HELP capsearch_index_errors Files that could not be indexed.\n"
            "# TYPE capsearch_index_errors gauge\ncapsearch_index_errors %lld\n"
            "# HELP capsearch_catalog_bytes Size of the catalog on disk.\n"
            "# TYPE capsearch_catalog_bytes gauge\ncapsearch_catalog_bytes %lld\n"
            "# HELP capsearch_catalog_generation Catalog generation (changes with every write).\n"
            "# TYPE capsearch_catalog_generation gauge\ncapsearch_catalog_generation %lld\n",
            (long long)st.images, (long long)st.vectors, (long long)st.errors,
            (long long)st.catalog_bytes, (long long)st.generation);
    cs_query_cache_stats qc;
    cs_library_query_cache_stats(app->lib, &qc);
    strbuf_appendf(
        &out,
        "# HELP capsearch_query_embedding_cache_hits_total Query texts whose CLIP embedding "
        "came from the cache.\n"
        "# TYPE capsearch_query_embedding_cache_hits_total counter\n"
        "capsearch_query_embedding_cache_hits_total %llu\n"
        "# HELP capsearch_query_embedding_cache_misses_total Query texts the CLIP text tower "
        "embedded.\n"
        "# TYPE capsearch_query_embedding_cache_misses_total counter\n"
        "capsearch_query_embedding_cache_misses_total %llu\n"
        "# HELP capsearch_query_embedding_cache_entries Query embeddings held.\n"
        "# TYPE capsearch_query_embedding_cache_entries gauge\n"
        "capsearch_query_embedding_cache_entries %zu\n",
        (unsigned long long)qc.hits, (unsigned long long)qc.misses, qc.entries);
    job_counts jc;
    jobs_count(app->jobs, &jc);
    strbuf_appendf(&out,
                   "# HELP capsearch_jobs Indexing jobs by state.\n# TYPE capsearch_jobs gauge\n"
                   "capsearch_jobs{state=\"queued\"} %d\ncapsearch_jobs{state=\"running\"} %d\n"
                   "# HELP capsearch_jobs_finished_total Indexing jobs finished, by outcome.\n"
                   "# TYPE capsearch_jobs_finished_total counter\n"
                   "capsearch_jobs_finished_total{state=\"done\"} %llu\n"
                   "capsearch_jobs_finished_total{state=\"failed\"} %llu\n"
                   "capsearch_jobs_finished_total{state=\"cancelled\"} %llu\n"
                   "# HELP capsearch_watched_folders Folders watched for changes.\n"
                   "# TYPE capsearch_watched_folders gauge\ncapsearch_watched_folders %zu\n",
                   jc.queued, jc.running, (unsigned long long)jc.done,
                   (unsigned long long)jc.failed, (unsigned long long)jc.cancelled, watched);
    if (strbuf_failed(&out)) {
        strbuf_free(&out);
        {
            http_response_error(resp, 500, "out_of_memory", "out of memory");
            return;
        }
    }
    size_t len = out.len;
    reply_bytes(resp, "text/plain; version=0.0.4; charset=utf-8", (uint8_t *)strbuf_take(&out),
                len);
}

static bool serve_static(const http_request *req, http_response *resp)
{
    web_asset found;
    if (!web_asset_find(strcmp(req->path, "/") == 0 ? "/index.html" : req->path, &found))
        return false;
    const web_asset *asset = &found;
    uint8_t *copy = malloc(asset->len ? asset->len : 1);
    if (!copy) {
        http_response_error(resp, 500, "out_of_memory", "out of memory");
        return true;
    }
    memcpy(copy, asset->data, asset->len);
    reply_bytes(resp, asset->content_type, copy, asset->len);
    http_response_add_header(resp, "Cache-Control", "no-cache");
    http_response_add_header(resp, "X-Content-Type-Options", "nosniff");
    return true;
}

/* ---- auth and dispatch ---- */

/* Compares without an early exit, so timing does not reveal the token. */
static bool same_secret(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned diff = (unsigned)(na ^ nb);
    for (size_t i = 0; i < na; i++)
        diff |= (unsigned)(a[i] ^ b[i % (nb ? nb : 1)]);
    return diff == 0;
}

static bool authorized(server_app *app, const http_request *req)
{
    if (!app->token)
        return true;
    const char *auth = http_request_header(req, "Authorization");
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && same_secret(auth + 7, app->token))
        return true;
    /* <img src> cannot send headers: the page passes the token in the URL. */
    char *query_token = NULL;
    bool ok = http_query_param(req->raw_query, "token", &query_token) == 1 &&
              same_secret(query_token, app->token);
    free(query_token);
    return ok;
}

static bool is_get(const http_request *req)
{
    return strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
}

static void method_not_allowed(http_response *resp, const char *allow)
{
    http_response_error(resp, 405, "method_not_allowed", "this method is not allowed here");
    http_response_add_header(resp, "Allow", allow);
}

void routes_handle(const http_request *req, http_response *resp, void *context)
{
    server_app *app = context;
    const char *path = req->path;
    if (strcmp(path, "/healthz") == 0) {
        reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
        return;
    }
    bool api = strncmp(path, "/api/", 5) == 0 || strcmp(path, "/metrics") == 0;
    if (!api) {
        if (!is_get(req)) {
            method_not_allowed(resp, "GET, HEAD");
            return;
        }
        if (!serve_static(req, resp))
            http_response_error(resp, 404, "not_found", "no such page");
        return;
    }
    if (!authorized(app, req)) {
        http_response_error(resp, 401, "unauthorized",
                            "this server needs its access token: Authorization: Bearer TOKEN");
        http_response_add_header(resp, "WWW-Authenticate", "Bearer");
        return;
    }
    int64_t id;
    const char *rest;
    if (strcmp(path, "/api/search") == 0) {
        if (is_get(req))
            handle_search(app, req, resp);
        else
            method_not_allowed(resp, "GET, HEAD");
        return;
    }
    if (strcmp(path, "/api/search/image") == 0) {
        if (strcmp(req->method, "POST") == 0)
            handle_search_image(app, req, resp);
        else
            method_not_allowed(resp, "POST");
        return;
    }
    if (parse_image_path(path, &id, &rest)) {
        if (!is_get(req)) {
            method_not_allowed(resp, "GET, HEAD");
            return;
        }
        if (*rest == '\0') {
            handle_image(app, id, resp);
            return;
        }
        if (strcmp(rest, "/thumb") == 0) {
            handle_thumb(app, req, id, resp);
            return;
        }
        if (strcmp(rest, "/file") == 0) {
            handle_file(app, id, resp);
            return;
        }
        if (strcmp(rest, "/similar") == 0) {
            handle_similar(app, req, id, resp);
            return;
        }
    }
    if (strcmp(path, "/api/index") == 0) {
        if (strcmp(req->method, "POST") == 0)
            handle_index(app, req, resp);
        else
            method_not_allowed(resp, "POST");
        return;
    }
    if (strncmp(path, "/api/jobs", 9) == 0 && (path[9] == '\0' || path[9] == '/')) {
        handle_jobs(app, req, resp);
        return;
    }
    if (strcmp(path, "/api/stats") == 0) {
        if (is_get(req))
            handle_stats(app, resp);
        else
            method_not_allowed(resp, "GET, HEAD");
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        if (is_get(req))
            handle_metrics(app, resp);
        else
            method_not_allowed(resp, "GET, HEAD");
        return;
    }
    http_response_error(resp, 404, "not_found", "no such API route");
}
