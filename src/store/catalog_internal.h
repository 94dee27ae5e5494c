/* Shared by the catalog's own files only. */
#ifndef CS_STORE_CATALOG_INTERNAL_H
#define CS_STORE_CATALOG_INTERNAL_H

#include <sqlite3.h>

#include "store/catalog.h"

/* Statements on the indexing hot path, prepared once on first use. */
typedef enum catalog_stmt_id {
    STMT_FIND_PATH,
    STMT_DELETE_IMAGE,
    STMT_INSERT_IMAGE,
    STMT_INSERT_CAPTION,
    STMT_INSERT_TAG,
    STMT_INSERT_EMBEDDING,
    STMT_DELETE_ERROR,
    STMT_COUNT
} catalog_stmt_id;

struct catalog {
    sqlite3 *db;
    char *path;
    bool read_only;
    int schema_version;
    sqlite3_int64 changes_at_begin;
    sqlite3_stmt *stmts[STMT_COUNT];
};

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
