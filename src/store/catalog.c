/* The catalog on SQLite: opening, transactions and generation, meta. The
 * statements for images, search and reports live in catalog_images.c and
 * catalog_query.c; schema creation and upgrades in migrate.c. */
#include "store/catalog_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cs_status catalog_sql_error(catalog *c, cs_error *err, const char *what)
{
    return cs_error_set(err, CS_ERR_DB, "catalog '%s': %s: %s", c->path, what,
                        sqlite3_errmsg(c->db));
}

cs_status catalog_exec(catalog *c, const char *sql, cs_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cs_status rc = cs_error_set(err, CS_ERR_DB, "catalog '%s': %s", c->path,
                                    msg ? msg : sqlite3_errmsg(c->db));
        sqlite3_free(msg);
        return rc;
    }
    return CS_OK;
}

cs_status catalog_prepare(catalog *c, const char *sql, sqlite3_stmt **stmt, cs_error *err)
{
    if (sqlite3_prepare_v2(c->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        *stmt = NULL;
        return catalog_sql_error(c, err, "preparing a statement");
    }
    return CS_OK;
}

/* Runs a statement that returns no rows; resets it either way. */
cs_status catalog_step_done(catalog *c, sqlite3_stmt *stmt, cs_error *err, const char *what)
{
    int rc = sqlite3_step(stmt);
    cs_status st = CS_OK;
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        st = catalog_sql_error(c, err, what);
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    return st;
}

void catalog_bind_text_or_null(sqlite3_stmt *stmt, int index, const char *text)
{
    if (text && *text)
        sqlite3_bind_text(stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(stmt, index);
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

cs_status catalog_open(const char *path, bool read_only, catalog **out, cs_error *err)
{
    *out = NULL;
    if (read_only && !file_exists(path))
        return cs_error_set(err, CS_ERR_NOT_FOUND,
                            "no catalog at '%s': index a folder first (capsearch index DIR)", path);
    catalog *c = calloc(1, sizeof *c);
    if (!c)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory opening the catalog");
    c->text_rank = TEXT_RANK_DEFAULTS;
    c->path = strdup(path);
    c->read_only = read_only;
    if (!c->path) {
        free(c);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory opening the catalog");
    }
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
        cs_status rc = cs_error_set(err, CS_ERR_DB, "cannot open catalog '%s': %s", path,
                                    c->db ? sqlite3_errmsg(c->db) : "out of memory");
        catalog_close(c);
        return rc;
    }
    sqlite3_extended_result_codes(c->db, 1);
    /* Another process may be indexing: wait for its short write transactions. */
    sqlite3_busy_timeout(c->db, 10000);
    cs_status rc = catalog_exec(c, "PRAGMA foreign_keys = ON", err);
    if (rc == CS_OK)
        rc = catalog_register_functions(c, err);
    if (rc == CS_OK && !read_only)
        /* WAL: readers never block the indexer; NORMAL sync keeps every committed
         * transaction across a process crash (only power loss can cost the last). */
        rc = catalog_exec(c, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", err);
    if (rc == CS_OK)
        rc = catalog_migrate(c, err);
    if (rc != CS_OK) {
        catalog_close(c);
        return rc;
    }
    *out = c;
    return CS_OK;
}

void catalog_close(catalog *c)
{
    if (!c)
        return;
    catalog_finalize_statements(c);
    if (c->db)
        sqlite3_close_v2(c->db);
    text_segment_record_free(&c->segments);
    free(c->path);
    free(c);
}

int catalog_schema_version(const catalog *c)
{
    return c->schema_version;
}

cs_status catalog_begin(catalog *c, cs_error *err)
{
    if (c->read_only)
        return cs_error_set(err, CS_ERR_INVALID, "catalog '%s' is open read-only", c->path);
    /* IMMEDIATE: take the write lock now, so a busy catalog fails here and not
     * halfway through a batch. */
    cs_status rc = catalog_exec(c, "BEGIN IMMEDIATE", err);
    if (rc == CS_OK)
        c->changes_at_begin = sqlite3_total_changes64(c->db);
    return rc;
}

cs_status catalog_commit(catalog *c, cs_error *err)
{
    if (sqlite3_total_changes64(c->db) != c->changes_at_begin) {
        cs_status rc = catalog_exec(c,
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'", err);
        if (rc != CS_OK) {
            catalog_rollback(c);
            return rc;
        }
    }
    cs_status rc = catalog_exec(c, "COMMIT", err);
    if (rc != CS_OK)
        catalog_rollback(c);
    return rc;
}

void catalog_rollback(catalog *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

cs_status catalog_begin_read(catalog *c, cs_error *err)
{
    return catalog_exec(c, "BEGIN DEFERRED", err);
}

void catalog_end_read(catalog *c)
{
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

cs_status catalog_meta_get(catalog *c, const char *key, char **value, cs_error *err)
{
    *value = NULL;
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT value FROM meta WHERE key = ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(stmt);
    if (step == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(stmt, 0);
        *value = strdup(text ? text : "");
        if (!*value)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    } else if (step != SQLITE_DONE) {
        rc = catalog_sql_error(c, err, "reading meta");
    }
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_meta_set(catalog *c, const char *key, const char *value, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c,
        "INSERT INTO meta(key, value) VALUES (?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
    rc = catalog_step_done(c, stmt, err, "writing meta");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status catalog_generation(catalog *c, int64_t *generation, cs_error *err)
{
    char *value = NULL;
    cs_status rc = catalog_meta_get(c, "generation", &value, err);
    if (rc != CS_OK)
        return rc;
    if (!value)
        return cs_error_set(err, CS_ERR_CORRUPT, "catalog '%s' has no generation in its meta table",
                            c->path);
    char *end = NULL;
    long long g = strtoll(value, &end, 10);
    bool ok = end && end != value && *end == '\0' && g >= 0;
    free(value);
    if (!ok)
        return cs_error_set(err, CS_ERR_CORRUPT, "catalog '%s' has a malformed generation", c->path);
    *generation = g;
    return CS_OK;
}
