/* JSON documents for the API's objects, shared by the CLI (--json) and the
 * HTTP server so both speak the same format. Every function returns a new
 * jansson value (NULL only when memory runs out). */
#ifndef CS_VIEWS_VIEWS_H
#define CS_VIEWS_VIEWS_H

#include <jansson.h>
#include <stdbool.h>

#include "capsearch/capsearch.h"

/* A JSON string for text that may not be valid UTF-8 (file names are bytes):
 * invalid bytes become U+FFFD. JSON null for NULL. */
json_t *view_text(const char *text);

/* "YYYY-MM-DDTHH:MM:SS" for a wall-clock time, or null when unknown. */
json_t *view_time(bool known, int64_t wall_clock);

/* How results link to thumbnails and files: the server sets a prefix such as
 * "/api/images"; the CLI passes NULL and gets no links. */
typedef struct view_links {
    const char *images_prefix;
    int thumb_size;
} view_links;

/* {"query"?, "took_ms", "candidates", "results": [...], "fts_query"?}; with
 * explain also "query_embedding"? ("computed", "cached", "partly cached"),
 * "terms"? (a composed query's [{"text", "weight"}]), "vector_filter"?
 * ("post-filter", "id-selector", "stored") and "filter_list"? ("listed",
 * "kept") */
json_t *view_results(const cs_results *results, const char *query, bool explain,
                     const view_links *links);
json_t *view_image_info(const cs_image_info *info, const view_links *links);
json_t *view_stats(const cs_stats *stats, const char *library_dir);
/* Counters of an indexing run (as reported by cs_index's progress). */
json_t *view_index_progress(const cs_index_progress *progress);
json_t *view_errors(const cs_error_list *list);
json_t *view_duplicates(const cs_duplicate_groups *groups, int distance);
/* {"error": {"code", "message"}} */
json_t *view_error(const char *code, const char *message);

#endif
