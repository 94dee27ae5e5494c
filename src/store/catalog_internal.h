/* Shared by the catalog's own files only. */
#ifndef CS_STORE_CATALOG_INTERNAL_H
#define CS_STORE_CATALOG_INTERNAL_H

#include <sqlite3.h>

#include "store/catalog.h"
#include "store/fts_tokenize.h"
#include "store/text_champions.h"

/* Statements on the hot paths (indexing, searching), prepared once per
 * connection on first use. A cached SELECT must be reset after use: a
 * statement left mid-way holds its read snapshot open. */
typedef enum catalog_stmt_id {
    STMT_FIND_PATH,
    STMT_DELETE_IMAGE,
    STMT_INSERT_IMAGE,
    STMT_INSERT_CAPTION,
    STMT_INSERT_TAG,
    STMT_INSERT_EMBEDDING,
    STMT_DELETE_ERROR,
    STMT_FTS_SEARCH,
    STMT_FTS_SEARCH_FILTERED,
    STMT_FTS_SEARCH_KEPT,
    STMT_FTS_DOC_SIZES,
    STMT_FILTER_MATCHES,
    STMT_FILTER_IDS,
    STMT_FILTER_IDS_IN_FOLDER,
    STMT_FILTER_IDS_IN_DATES,
    STMT_FILTER_IDS_WITH_FACES,
    STMT_FILTER_IDS_WITH_TEXT,
    STMT_FILTER_IDS_OF_TYPE,
    STMT_FILTER_ONLY_IN_FOLDER,
    STMT_FILTER_ONLY_IN_DATES,
    STMT_FILTER_ONLY_WITH_FACES,
    STMT_FILTER_ONLY_WITH_TEXT,
    STMT_FILTER_ONLY_OF_TYPE,
    STMT_FILTER_ONLY_CAMERA,
    STMT_FILL_RESULT,
    STMT_GET_EMBEDDING,
    STMT_TAG_NAMES,
    STMT_SET_RELATED,
    STMT_CAPTION_TEXT,
    STMT_CHAMPIONS,
    STMT_SEGMENT_CHAMPIONS,
    STMT_HAS_FACE,
    STMT_HAS_TEXT,
    STMT_BROWSE,
    STMT_BROWSE_IN_FOLDER,
    STMT_BROWSE_IN_DATES,
    STMT_FILTER_PARTS_WHOLE,
    STMT_CAMERA_NEXT,
    STMT_CAMERA_IDS,
    STMT_COUNT
} catalog_stmt_id;

/* bm25 weights of the FTS columns, in schema order: caption, tags, ocr,
 * path_words, exif_text, related. Words a person would use for the picture
 * (caption, tags) count most; date and camera words less; WordNet's related
 * words least, so a picture found only through them ("animal" for a dog)
 * ranks below one whose own words match. See index/FORMAT.md. */
#define FTS_RANK_EXPR "bm25(captions_fts, 3.0, 2.5, 1.5, 2.0, 1.0, 0.5)"

/* The text the camera filter searches, as the images_camera index holds it. */
#define CAMERA_TEXT_SQL \
    "lower(coalesce(camera_make, '') || ' ' || coalesce(camera_model, ''))"

/* A search filter as SQL over `images i`; parameters ?10..?16 (bound by
 * catalog_bind_filter) so it composes with any statement's own parameters.
 * Camera: a substring of "make model", both sides lower-cased (instr, not
 * LIKE, so % and _ typed by the user are plain characters). Text and faces
 * are what the indexer stored: a non-empty OCR column, a tag of kind face. */
#define FILTER_SQL \
    " AND (?10 IS NULL OR i.folder = ?10 OR substr(i.folder, 1, length(?10) + 1) = ?10 || '/')" \
    " AND (?11 IS NULL OR i.taken_at >= ?11)" \
    " AND (?12 IS NULL OR i.taken_at <= ?12)" \
    " AND (?13 IS NULL OR i.format = ?13)" \
    " AND (?14 IS NULL OR instr(lower(coalesce(i.camera_make, '') || ' ' ||" \
    "      coalesce(i.camera_model, '')), lower(?14)) > 0)" \
    " AND (?15 IS NULL OR EXISTS (SELECT 1 FROM captions fc WHERE fc.image_id = i.id" \
    "      AND fc.ocr <> ''))" \
    " AND (?16 IS NULL OR EXISTS (SELECT 1 FROM tags ft WHERE ft.image_id = i.id" \
    "      AND ft.kind = 'face'))"

void catalog_bind_filter(sqlite3_stmt *stmt, const cs_filter *filter);

/* The folder filter's length without trailing slashes ("/photos/" and
 * "/photos" mean the same folder); 0 when there is none or it is "/" (all). */
size_t catalog_filter_folder_len(const cs_filter *f);

/* A set of image ids as bits, handed to SQL with sqlite3_bind_pointer:
 * cs_kept(?, rowid) is 1 when the set holds rowid. Checking a bit costs a
 * fraction of the join to images that FILTER_SQL needs. */
typedef struct id_bitmap {
    uint64_t *words;
    int64_t nbits;
} id_bitmap;
#define ID_BITMAP_POINTER "capsearch-id-bitmap"

/* Registers cs_kept on the connection. */
cs_status catalog_register_functions(catalog *c, cs_error *err);

struct catalog {
    sqlite3 *db;
    char *path;
    bool read_only;
    int schema_version;
    sqlite3_int64 changes_at_begin;
    sqlite3_stmt *stmts[STMT_COUNT];
    fts_tokenizer *tokenizer;        /* opened on first use */
    text_rank_settings text_rank;
    text_rank_counts text_paths;     /* which path answered (tests) */
    text_segment_record segments;    /* meta.text_segments as last read, parsed */
};

/* The FTS columns in schema order, and their bm25 weights (FTS_RANK_EXPR). */
#define FTS_NCOLUMNS 6
extern const char *const fts_column_names[FTS_NCOLUMNS];
extern const double fts_column_weights[FTS_NCOLUMNS];
#define FTS_RELATED_MASK (1u << 5)
#define FTS_ALL_MASK ((1u << FTS_NCOLUMNS) - 1)

cs_status catalog_tokenizer(catalog *c, fts_tokenizer **out, cs_error *err);

struct fts_expr;
/* Evaluates an FTS5 expression (fts_expr.h) on caption row `id`: its
 * phrase frequencies (fts_expr_eval) and length in tokens; cols[] has
 * FTS_NCOLUMNS lists to tokenize into. *matched false when the row is gone
 * or does not match. */
cs_status catalog_eval_row(catalog *c, const struct fts_expr *e, int64_t id, fts_token_list *cols,
                           bool *matched, double *freq, double *doc_len, cs_error *err);

cs_status catalog_sql_error(catalog *c, cs_error *err, const char *what);
cs_status catalog_exec(catalog *c, const char *sql, cs_error *err);
cs_status catalog_prepare(catalog *c, const char *sql, sqlite3_stmt **stmt, cs_error *err);
cs_status catalog_step_done(catalog *c, sqlite3_stmt *stmt, cs_error *err, const char *what);
void catalog_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text);
/* A cached statement (reset and unbound before it is handed out). */
cs_status catalog_stmt(catalog *c, catalog_stmt_id id, sqlite3_stmt **stmt, cs_error *err);
void catalog_finalize_statements(catalog *c);

/* Creates a new catalog or upgrades an older one (migrate.c). */
cs_status catalog_migrate(catalog *c, cs_error *err);

#endif
