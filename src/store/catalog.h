/* The catalog: one SQLite database that is the library's source of truth
 * (images, captions and their FTS5 index, tags, embeddings, errors, meta).
 * Schema in index/schema.sql, described in index/FORMAT.md.
 *
 * A catalog handle belongs to one thread at a time. Every write happens inside
 * catalog_begin/catalog_commit; a commit that changed anything advances the
 * catalog generation, which the vector file is stamped with. */
#ifndef CS_STORE_CATALOG_H
#define CS_STORE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsearch/capsearch.h"
#include "common/error.h"
#include "common/strbuf.h"

#define CATALOG_SCHEMA_VERSION 9

typedef struct catalog catalog;

/* Opens or creates (unless read_only) the catalog at `path`, upgrading an
 * older schema in place. A catalog from a newer capsearch is refused. */
cs_status catalog_open(const char *path, bool read_only, catalog **out, cs_error *err);
void catalog_close(catalog *c);

int catalog_schema_version(const catalog *c);

cs_status catalog_begin(catalog *c, cs_error *err);
/* Commits; when the transaction wrote anything the generation is advanced
 * inside it first. */
cs_status catalog_commit(catalog *c, cs_error *err);
void catalog_rollback(catalog *c);
/* A read transaction, so several reads see one snapshot. */
cs_status catalog_begin_read(catalog *c, cs_error *err);
void catalog_end_read(catalog *c);

cs_status catalog_generation(catalog *c, int64_t *generation, cs_error *err);

/* meta key/value; *value is malloc'd, NULL when the key is absent. */
cs_status catalog_meta_get(catalog *c, const char *key, char **value, cs_error *err);
cs_status catalog_meta_set(catalog *c, const char *key, const char *value, cs_error *err);

/* ---- what the indexer writes ---- */

typedef struct catalog_image {
    const char *path;
    const char *folder;
    int64_t size;
    int64_t mtime_ns;
    const char *content_hash;  /* 32 hex digits */
    int width, height;
    const char *format;
    bool has_taken_at;
    int64_t taken_at;
    const char *camera_make;   /* NULL or "" = unknown */
    const char *camera_model;
    bool has_gps;
    double gps_lat, gps_lon;
    bool has_phash;
    uint64_t phash;
} catalog_image;

typedef struct catalog_text {
    const char *caption;
    const char *tags;
    const char *ocr;
    const char *path_words;
    const char *exif_text;
    const char *related;       /* WordNet words for the picture's objects */
} catalog_text;

typedef struct catalog_tag {
    const char *tag;
    const char *kind;
    float score;
} catalog_tag;

typedef struct catalog_embedding {
    const char *model;
    int dim;
    const float *data;
} catalog_embedding;

/* Stores one image with its text, tags and (optional) embedding. An entry at
 * the same path is replaced (its id is retired: ids are never reused for
 * different content), and any error recorded for the path is cleared. */
cs_status catalog_put_image(catalog *c, const catalog_image *image,
                            const catalog_text *text, const catalog_tag *tags,
                            size_t ntags, const catalog_embedding *embedding,
                            int64_t *id, cs_error *err);
/* Adds another model's embedding to an image written in this transaction. */
cs_status catalog_put_embedding(catalog *c, int64_t id, const catalog_embedding *embedding,
                                cs_error *err);

/* Stores a file whose content is already catalogued as `source_id` (a rename
 * or a copy): everything derived from the pixels is copied, the path words
 * are the new path's, and so are the related words when `related` is not
 * NULL (they come partly from the path). CS_ERR_NOT_FOUND when the source is
 * gone. */
cs_status catalog_copy_image(catalog *c, int64_t source_id, const char *path,
                             const char *folder, int64_t size, int64_t mtime_ns,
                             const char *path_words, const char *related, int64_t *id,
                             cs_error *err);

/* The names of image `id`'s tags whose kind is one of `kinds`, by kind
 * (zero-shot concepts last) then name (strcmp order), joined with '\n'
 * between tags, appended to
 * `out` (nothing for an image without such tags). */
cs_status catalog_tag_names(catalog *c, int64_t id, const char *const *kinds, size_t nkinds,
                            strbuf *out, cs_error *err);

/* For recomputing the related words of images indexed before they existed:
 * images with id > after_id, by id, at most `limit`, with their path words
 * and the names of their tags of the given kinds ('\n' between tags).
 * Strings are valid during the callback. */
typedef cs_status (*catalog_words_fn)(int64_t id, const char *path_words, const char *tags,
                                      void *user, cs_error *err);
cs_status catalog_each_words(catalog *c, int64_t after_id, int limit,
                             const char *const *kinds, size_t nkinds, catalog_words_fn fn,
                             void *user, cs_error *err);
/* Replaces the related words of one image (a no-op when they are the same). */
cs_status catalog_set_related(catalog *c, int64_t id, const char *related, cs_error *err);

cs_status catalog_delete_image(catalog *c, int64_t id, cs_error *err);

/* Records why a file could not be indexed (replacing an older record). */
cs_status catalog_record_error(catalog *c, const char *path, int64_t size,
                               int64_t mtime_ns, const char *reason, cs_error *err);
cs_status catalog_delete_error(catalog *c, const char *path, cs_error *err);

/* ---- what change detection reads ---- */

typedef struct catalog_file {
    int64_t id;            /* 0 for error records */
    const char *path;
    int64_t size;
    int64_t mtime_ns;
    const char *content_hash;  /* NULL for error records */
} catalog_file;

typedef cs_status (*catalog_file_fn)(const catalog_file *file, void *user, cs_error *err);

/* Calls fn for every image (and, separately, every error record) whose path
 * starts with `prefix` ("" = all). */
cs_status catalog_each_image(catalog *c, const char *prefix, catalog_file_fn fn,
                             void *user, cs_error *err);
cs_status catalog_each_error(catalog *c, const char *prefix, catalog_file_fn fn,
                             void *user, cs_error *err);

/* ---- embeddings (the vector index is rebuilt from these) ---- */

/* Ids of images with an embedding of `model`, ascending; *ids malloc'd. */
cs_status catalog_embedding_ids(catalog *c, const char *model, int64_t **ids,
                                size_t *n, cs_error *err);
/* The embedding dimension stored for `model`, 0 when there is none. */
cs_status catalog_embedding_dim(catalog *c, const char *model, int *dim, cs_error *err);
/* Reads the embedding of one image into out[dim]. CS_ERR_NOT_FOUND if absent. */
cs_status catalog_get_embedding(catalog *c, int64_t id, const char *model, int dim,
                                float *out, cs_error *err);

typedef cs_status (*catalog_embedding_fn)(int64_t id, const float *data, int dim,
                                          void *user, cs_error *err);
/* Streams every embedding of `model` in id order (for a full rebuild). */
cs_status catalog_each_embedding(catalog *c, const char *model, catalog_embedding_fn fn,
                                 void *user, cs_error *err);

/* ---- search and reports ---- */

/* Runs an FTS5 MATCH expression (built by fts_query_build, never user text)
 * ranked by bm25 with the column weights of FORMAT.md, keeping only images
 * that pass `filter` (NULL = all). Lower score = better. *ids and *scores are
 * malloc'd (NULL when n == 0). */
cs_status catalog_fts_search(catalog *c, const char *match, const cs_filter *filter,
                             int limit, int64_t **ids, double **scores, size_t *n,
                             cs_error *err);

/* A filter's images listed once for a search that needs them twice (the
 * text and the vector ranking): catalog_filter_ids with `max` (0: not
 * listed); `more` when the filter keeps more than max (ids then not
 * usable). */
typedef struct catalog_listed {
    int64_t *ids;
    size_t n;
    int64_t max;
    bool more;
} catalog_listed;

/* catalog_fts_search with the filter's images already listed (NULL: not
 * listed); the list is used instead of listing them again. */
cs_status catalog_fts_search_listed(catalog *c, const char *match, const cs_filter *filter,
                                    const catalog_listed *listed, int limit, int64_t **ids,
                                    double **scores, size_t *n, cs_error *err);

/* Whether `filter` restricts anything (NULL: no). */
bool catalog_filter_active(const cs_filter *filter);

/* Clears the parts of `filter` that keep every picture the catalog holds:
 * a folder holding the whole library (its root, as a user often picks it)
 * and a type every picture has. The rankings would otherwise test those
 * parts row by row, or sort the whole library to list it. */
cs_status catalog_filter_drop_whole(catalog *c, cs_filter *filter, cs_error *err);

/* The images that pass `filter` and whose words do not match the FTS5
 * expression `excluded` (NULL: none excluded), newest first (by date taken,
 * then the latest added; undated last), at most `limit`: a listing for a
 * query without words to rank by. *ids and *taken (the dates, 0 when
 * unknown) malloc'd, NULL when n == 0. */
cs_status catalog_browse(catalog *c, const char *excluded, const cs_filter *filter, int limit,
                         int64_t **ids, double **taken, size_t *n, cs_error *err);

/* Removes from ids[] (and scores[] beside it, in step) the images whose
 * words match the FTS5 expression `match` (built by fts_query_build,
 * never user text), keeping the order; *n becomes how many are left. */
cs_status catalog_drop_matching(catalog *c, const char *match, int64_t *ids, double *scores,
                                size_t *n, cs_error *err);

/* The ids of the images that pass `filter`, ascending; *ids malloc'd
 * (NULL when n == 0). With max >= 0, at most max of them: *more (may be
 * NULL) tells whether the filter keeps others. A narrow filter
 * (catalog_filter_narrow) reads only its part of one of the catalog's
 * indexes. */
cs_status catalog_filter_ids(catalog *c, const cs_filter *filter, int64_t max, int64_t **ids,
                             size_t *n, bool *more, cs_error *err);

/* Whether listing the filter's images reads one of the catalog's indexes
 * (a folder below the root, dates, faces, text or a type), not every
 * image. */
bool catalog_filter_narrow(const cs_filter *filter);

/* How many images `filter` keeps at most, as far as the catalog knows
 * without reading them: the rows of the smallest segment it requires
 * (faces, text read, a type: text_champions.h) when the champion lists
 * were made; 0 when no such count is known. */
cs_status catalog_filter_rows_at_most(catalog *c, const cs_filter *filter, int64_t *rows,
                                      cs_error *err);

/* Whether a complete list (catalog_listed, not `more`) holds id. */
bool catalog_listed_has(const catalog_listed *listed, int64_t id);

/* Whether image `id` passes `filter` (false when it does not exist). */
cs_status catalog_filter_matches(catalog *c, int64_t id, const cs_filter *filter,
                                 bool *matches, cs_error *err);

/* Fills the catalog fields of a result (path, caption, tags, size, date).
 * CS_ERR_NOT_FOUND when the id does not exist. */
cs_status catalog_fill_result(catalog *c, int64_t id, cs_result *out, cs_error *err);

cs_status catalog_stats(catalog *c, cs_stats *out, cs_error *err);
cs_status catalog_errors(catalog *c, cs_error_list **out, cs_error *err);

typedef struct catalog_phash {
    int64_t id;
    uint64_t phash;
} catalog_phash;
/* Every image with a perceptual hash, by id. *out malloc'd. */
cs_status catalog_phashes(catalog *c, catalog_phash **out, size_t *n, cs_error *err);
/* The path of an image, malloc'd. */
cs_status catalog_image_path(catalog *c, int64_t id, char **path, cs_error *err);

/* Everything stored about image `id` (row, caption texts, tags by kind then
 * score), read in one snapshot; free with cs_image_info_free.
 * CS_ERR_NOT_FOUND when there is no such image. */
cs_status catalog_image_info(catalog *c, int64_t id, cs_image_info **out, cs_error *err);

#endif
