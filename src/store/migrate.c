/* Creating and upgrading the catalog schema. New catalogs get index/schema.sql;
 * older ones run index/migrations/NNNN_*.sql in order, each upgrade in one
 * transaction so a crash leaves either the old or the new version. */
#include "store/catalog_internal.h"

#include <stdio.h>
#include <time.h>

/* Generated from index/ by tools/embed_files.py. */
extern const char cs_sql_schema[];
extern const char cs_sql_migration_0001[];
extern const char cs_sql_migration_0002[];
extern const char cs_sql_migration_0003[];
extern const char cs_sql_migration_0004[];
extern const char cs_sql_migration_0005[];
extern const char cs_sql_migration_0006[];
extern const char cs_sql_migration_0007[];
extern const char cs_sql_migration_0008[];
extern const char cs_sql_migration_0009[];

/* migrations[v] upgrades version v to v + 1 (index 0 creates version 1). */
static const char *const migrations[CATALOG_SCHEMA_VERSION] = {
    cs_sql_migration_0001,
    cs_sql_migration_0002,
    cs_sql_migration_0003,
    cs_sql_migration_0004,
    cs_sql_migration_0005,
    cs_sql_migration_0006,
    cs_sql_migration_0007,
    cs_sql_migration_0008,
    cs_sql_migration_0009,
};

static cs_status read_user_version(catalog *c, int *version, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "PRAGMA user_version", &stmt, err);
    if (rc != CS_OK)
        return rc;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *version = sqlite3_column_int(stmt, 0);
    else
        rc = catalog_sql_error(c, err, "reading the schema version");
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status count_objects(catalog *c, int *count, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT count(*) FROM sqlite_master", &stmt, err);
    if (rc != CS_OK)
        return rc;
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *count = sqlite3_column_int(stmt, 0);
    else
        rc = catalog_sql_error(c, err, "reading the schema");
    sqlite3_finalize(stmt);
    return rc;
}

static cs_status set_version(catalog *c, int version, cs_error *err)
{
    char sql[160];
    snprintf(sql, sizeof sql,
             "PRAGMA user_version = %d;"
             "INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', '%d')",
             version, version);
    return catalog_exec(c, sql, err);
}

static cs_status create_fresh(catalog *c, cs_error *err)
{
    cs_status rc = catalog_exec(c, cs_sql_schema, err);
    if (rc != CS_OK)
        return cs_error_prefix(err, "creating the catalog schema: ");
    char sql[200];
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('generation', '0'), ('created_at', '%lld')",
             (long long)time(NULL));
    rc = catalog_exec(c, sql, err);
    if (rc == CS_OK)
        rc = set_version(c, CATALOG_SCHEMA_VERSION, err);
    return rc;
}

static cs_status upgrade(catalog *c, int from, cs_error *err)
{
    for (int v = from; v < CATALOG_SCHEMA_VERSION; v++) {
        cs_status rc = catalog_exec(c, migrations[v], err);
        if (rc != CS_OK)
            return cs_error_prefix(err, "upgrading the catalog from version %d to %d: ", v, v + 1);
        if (v == 0) {
            /* Version 1 is created by its migration: seed its meta rows. */
            rc = catalog_exec(c, "INSERT INTO meta(key, value) VALUES ('generation', '0')", err);
            if (rc != CS_OK)
                return rc;
        }
    }
    return set_version(c, CATALOG_SCHEMA_VERSION, err);
}

cs_status catalog_migrate(catalog *c, cs_error *err)
{
    int version = 0;
    cs_status rc = read_user_version(c, &version, err);
    if (rc != CS_OK)
        return rc;
    if (version > CATALOG_SCHEMA_VERSION)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "catalog '%s' has schema version %d, newer than this capsearch "
                            "understands (%d): upgrade capsearch", c->path, version,
                            CATALOG_SCHEMA_VERSION);
    if (version == CATALOG_SCHEMA_VERSION) {
        c->schema_version = version;
        return CS_OK;
    }
    if (c->read_only)
        return cs_error_set(err, CS_ERR_UNSUPPORTED,
                            "catalog '%s' has schema version %d and must be upgraded to %d; "
                            "open it writable once (e.g. capsearch stats)", c->path, version,
                            CATALOG_SCHEMA_VERSION);
    rc = catalog_exec(c, "BEGIN IMMEDIATE", err);
    if (rc != CS_OK)
        return rc;
    /* Read again under the write lock: another process may have just done it. */
    rc = read_user_version(c, &version, err);
    int objects = 0;
    if (rc == CS_OK)
        rc = count_objects(c, &objects, err);
    if (rc == CS_OK) {
        if (version == 0 && objects > 0)
            rc = cs_error_set(err, CS_ERR_CORRUPT,
                              "'%s' is an SQLite database but not a capsearch catalog", c->path);
        else if (version == 0)
            rc = create_fresh(c, err);
        else if (version < CATALOG_SCHEMA_VERSION)
            rc = upgrade(c, version, err);
    }
    if (rc != CS_OK) {
        catalog_rollback(c);
        return rc;
    }
    rc = catalog_exec(c, "COMMIT", err);
    if (rc != CS_OK) {
        catalog_rollback(c);
        return rc;
    }
    c->schema_version = CATALOG_SCHEMA_VERSION;
    return CS_OK;
}
