#include "views/views.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/utf8.h"

json_t *view_text(const char *text)
{
    if (!text)
        return json_null();
    json_t *value = json_string(text);
    if (value)
        return value;
    char *clean = utf8_sanitize(text);   /* jansson refuses invalid UTF-8 */
    value = clean ? json_string(clean) : NULL;
    free(clean);
    return value;
}

json_t *view_time(bool known, int64_t wall_clock)
{
    if (!known)
        return json_null();
    time_t t = (time_t)wall_clock;
    struct tm tm;
    char text[32];
    if (!gmtime_r(&t, &tm) || !strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm))
        return json_null();
    return json_string(text);
}

static void add_links(json_t *o, int64_t id, const view_links *links)
{
    if (!o || !links || !links->images_prefix)
        return;
    char url[256];
    snprintf(url, sizeof url, "%s/%lld/thumb?size=%d", links->images_prefix, (long long)id,
             links->thumb_size > 0 ? links->thumb_size : 256);
    json_object_set_new(o, "thumbnail", json_string(url));
    snprintf(url, sizeof url, "%s/%lld/file", links->images_prefix, (long long)id);
    json_object_set_new(o, "file", json_string(url));
}

static json_t *view_result(const cs_result *r, bool explain, const view_links *links)
{
    json_t *o = json_pack("{s:I, s:o, s:f, s:o, s:o, s:i, s:i, s:o}",
                          "id", (json_int_t)r->id, "path", view_text(r->path),
                          "score", r->score, "caption", view_text(r->caption),
                          "tags", view_text(r->tags), "width", r->width,
                          "height", r->height, "taken_at", view_time(r->taken_at != 0, r->taken_at));
    add_links(o, r->id, links);
    if (o && explain) {
        json_t *sources = json_object();
        for (int s = 0; s < r->nsources; s++) {
            json_t *src = r->sources[s].rank
                ? json_pack("{s:i, s:f}", "rank", r->sources[s].rank, "score", r->sources[s].score)
                : json_pack("{s:n}", "rank");
            json_object_set_new(sources, r->sources[s].source, src);
        }
        json_object_set_new(o, "explain", sources);
    }
    return o;
}

/* explain's account of the query side: whether its embedding came from
 * the cache, a composed query's terms, and how the vector list was
 * filtered. */
static void add_query_explain(json_t *doc, const cs_results *res)
{
    int computed = res->embeddings_computed, cached = res->embeddings_cached;
    if (computed || cached)
        json_object_set_new(doc, "query_embedding",
                            json_string(!computed ? "cached"
                                        : !cached ? "computed"
                                                  : "partly cached"));
    if (res->nterms) {
        json_t *terms = json_array();
        for (size_t i = 0; i < res->nterms; i++)
            json_array_append_new(terms, json_pack("{s:o, s:f}", "text",
                                                   view_text(res->terms[i].text), "weight",
                                                   res->terms[i].weight));
        json_object_set_new(doc, "terms", terms);
    }
    if (res->vector_filter)
        json_object_set_new(doc, "vector_filter", json_string(res->vector_filter));
    if (res->filter_list)
        json_object_set_new(doc, "filter_list", json_string(res->filter_list));
    const cs_search_timings *t = &res->timings;
    json_object_set_new(doc, "timings_ms",
                        json_pack("{s:f, s:f, s:f, s:f}", "text", t->text_ms, "embed",
                                  t->embed_ms, "vector", t->vector_ms, "page", t->page_ms));
}

json_t *view_results(const cs_results *res, const char *query, bool explain,
                     const view_links *links)
{
    json_t *items = json_array();
    for (size_t i = 0; i < res->count; i++)
        json_array_append_new(items, view_result(&res->items[i], explain, links));
    json_t *doc = json_pack("{s:o, s:I, s:f}", "results", items, "candidates",
                            (json_int_t)res->total_candidates, "took_ms", res->took_ms);
    if (doc && query)
        json_object_set_new(doc, "query", view_text(query));
    if (doc && explain && res->fts_query)
        json_object_set_new(doc, "fts_query", view_text(res->fts_query));
    if (doc && explain)
        add_query_explain(doc, res);
    if (doc && res->warning)
        json_object_set_new(doc, "warning", view_text(res->warning));
    return doc;
}

json_t *view_image_info(const cs_image_info *info, const view_links *links)
{
    json_t *tags = json_array();
    for (size_t i = 0; i < info->ntags; i++)
        json_array_append_new(tags, json_pack("{s:o, s:o, s:f}", "tag", view_text(info->tags[i].tag),
                                              "kind", view_text(info->tags[i].kind),
                                              "score", info->tags[i].score));
    json_t *o = json_pack(
        "{s:I, s:o, s:o, s:I, s:I, s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "id", (json_int_t)info->id, "path", view_text(info->path),
        "folder", view_text(info->folder), "size", (json_int_t)info->size,
        "mtime", (json_int_t)(info->mtime_ns / 1000000000), "content_hash",
        view_text(info->content_hash), "width", info->width, "height", info->height,
        "format", view_text(info->format),
        "taken_at", view_time(info->has_taken_at, info->taken_at),
        "camera_make", view_text(info->camera_make), "camera_model", view_text(info->camera_model),
        "gps", info->has_gps ? json_pack("{s:f, s:f}", "lat", info->gps_lat, "lon", info->gps_lon)
                             : json_null(),
        "caption", view_text(info->caption), "tags", tags,
        "path_words", view_text(info->path_words), "exif_text", view_text(info->exif_text));
    if (o && info->has_phash) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)info->phash);
        json_object_set_new(o, "phash", json_string(hex));
    }
    add_links(o, info->id, links);
    return o;
}

json_t *view_stats(const cs_stats *st, const char *library_dir)
{
    json_t *o = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:I, s:I, s:s}",
        "images", (json_int_t)st->images, "vectors", (json_int_t)st->vectors,
        "embeddings", (json_int_t)st->embeddings, "errors", (json_int_t)st->errors,
        "generation", (json_int_t)st->generation, "schema_version", st->schema_version,
        "catalog_bytes", (json_int_t)st->catalog_bytes, "vector_bytes", (json_int_t)st->vector_bytes,
        "image_bytes", (json_int_t)st->total_image_bytes, "embedding_model", st->embedding_model);
    if (o && library_dir)
        json_object_set_new(o, "library", view_text(library_dir));
    return o;
}

json_t *view_index_progress(const cs_index_progress *p)
{
    double rate = p->elapsed_s > 0 ? (double)p->done / p->elapsed_s : 0.0;
    json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:I, s:I}",
                     "total", (json_int_t)p->total, "done", (json_int_t)p->done,
                     "indexed", (json_int_t)p->indexed, "reused", (json_int_t)p->reused,
                     "failed", (json_int_t)p->failed, "unchanged", (json_int_t)p->unchanged,
                     "removed", (json_int_t)p->removed, "elapsed_s", p->elapsed_s,
                     "files_per_s", rate,
                     "eta_s", rate > 0 ? (double)(p->total - p->done) / rate : 0.0,
                     "embed_total", (json_int_t)p->embed_total,
                     "embedded", (json_int_t)p->embedded);
    if (o) {
        json_object_set_new(o, "captioned", json_integer((json_int_t)p->captioned));
        json_object_set_new(o, "concepts_embedded",
                            json_integer((json_int_t)p->concepts_embedded));
        json_object_set_new(o, "concepts_total", json_integer((json_int_t)p->concepts_total));
    }
    return o;
}

json_t *view_errors(const cs_error_list *list)
{
    json_t *items = json_array();
    for (size_t i = 0; i < list->count; i++)
        json_array_append_new(items, json_pack("{s:o, s:o, s:I}",
            "path", view_text(list->items[i].path), "reason", view_text(list->items[i].reason),
            "at", (json_int_t)list->items[i].at));
    return json_pack("{s:o}", "errors", items);
}

json_t *view_duplicates(const cs_duplicate_groups *groups, int distance)
{
    json_t *list = json_array();
    for (size_t g = 0; g < groups->count; g++) {
        json_t *members = json_array();
        const cs_duplicate_group *group = &groups->groups[g];
        for (size_t i = 0; i < group->count; i++)
            json_array_append_new(members, json_pack("{s:I, s:o, s:i}",
                "id", (json_int_t)group->ids[i], "path", view_text(group->paths[i]),
                "distance", group->distances[i]));
        json_array_append_new(list, members);
    }
    return json_pack("{s:i, s:o}", "distance", distance, "groups", list);
}

json_t *view_error(const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:o}}", "error", "code", code, "message", view_text(message));
}
