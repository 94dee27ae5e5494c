/* Segments (text_champions.h): which pictures each one keeps, which
 * filters ask for it, and the record of those with lists of their own. */
#include "store/catalog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE_PREFIX "type:"

bool text_segment_filter(const char *name, cs_filter *out)
{
    *out = (cs_filter){0};
    if (strcmp(name, "faces") == 0)
        out->has_faces = true;
    else if (strcmp(name, "text") == 0)
        out->has_text = true;
    else if (strncmp(name, TYPE_PREFIX, strlen(TYPE_PREFIX)) == 0 && name[strlen(TYPE_PREFIX)])
        out->type = name + strlen(TYPE_PREFIX);
    else
        return false;
    return true;
}

bool text_segment_required(const cs_filter *filter, const char *name)
{
    cs_filter f;
    if (!filter || !text_segment_filter(name, &f))
        return false;
    return f.has_faces ? filter->has_faces
           : f.has_text ? filter->has_text
                        : filter->type && strcmp(filter->type, f.type) == 0;
}

bool text_segment_is(const cs_filter *filter, const char *name)
{
    cs_filter f;
    if (!filter || !text_segment_filter(name, &f))
        return false;
    bool folder = filter->folder && *filter->folder && strspn(filter->folder, "/") <
                                                           strlen(filter->folder);
    bool same_type = (filter->type && *filter->type) ? f.type && !strcmp(filter->type, f.type)
                                                     : !f.type;
    return !folder && !filter->has_from && !filter->has_to && same_type &&
           !(filter->camera && *filter->camera) && filter->has_faces == f.has_faces &&
           filter->has_text == f.has_text;
}

cs_status text_segments_candidates(catalog *c, int64_t min_rows, text_segment *out, int *n,
                                   cs_error *err)
{
    *n = 0;
    snprintf(out[(*n)++].name, TEXT_SEGMENT_NAME_MAX, "faces");
    snprintf(out[(*n)++].name, TEXT_SEGMENT_NAME_MAX, "text");
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT format FROM images GROUP BY format"
                                      " HAVING count(*) >= ?1", &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, min_rows);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW && *n < TEXT_SEGMENTS_MAX) {
        const char *format = (const char *)sqlite3_column_text(stmt, 0);
        /* a name the record can hold: no space, not cut short */
        if (!format || !*format || strpbrk(format, " \t\n") ||
            strlen(TYPE_PREFIX) + strlen(format) >= TEXT_SEGMENT_NAME_MAX)
            continue;
        snprintf(out[(*n)++].name, TEXT_SEGMENT_NAME_MAX, TYPE_PREFIX "%s", format);
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "counting the pictures of each type");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status text_segments_read(catalog *c, text_segment *out, int *n, cs_error *err)
{
    *n = 0;
    char *meta = NULL;
    cs_status rc = catalog_meta_get(c, "text_segments", &meta, err);
    long long rows;
    int used;
    char name[TEXT_SEGMENT_NAME_MAX];
    for (const char *at = meta; at && *n < TEXT_SEGMENTS_MAX &&
                                sscanf(at, "%39s %lld%n", name, &rows, &used) == 2;
         at += used) {
        memcpy(out[*n].name, name, sizeof name);
        out[(*n)++].rows = rows;
    }
    free(meta);
    return rc;
}

cs_status text_segments_write(catalog *c, const text_segment *segments, int n, cs_error *err)
{
    char value[TEXT_SEGMENTS_MAX * (TEXT_SEGMENT_NAME_MAX + 24)] = "";
    for (int s = 0; s < n; s++)
        snprintf(value + strlen(value), sizeof value - strlen(value), "%s%s %lld",
                 s ? " " : "", segments[s].name, (long long)segments[s].rows);
    return catalog_meta_set(c, "text_segments", value, err);
}

cs_status text_segment_above(catalog *c, const char *name, int64_t max, bool *above,
                             cs_error *err)
{
    *above = false;
    text_segment segments[TEXT_SEGMENTS_MAX];
    int n;
    cs_status rc = text_segments_read(c, segments, &n, err);
    int64_t rows = -1;
    for (int s = 0; s < n; s++)
        if (strcmp(segments[s].name, name) == 0)
            rows = segments[s].rows;
    if (rc != CS_OK || rows <= max)
        return rc;
    sqlite3_stmt *stmt;
    rc = catalog_prepare(c, "SELECT count(*) FROM (SELECT 1 FROM text_pending LIMIT ?1)", &stmt,
                         err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, rows - max);
    if (sqlite3_step(stmt) == SQLITE_ROW)
        *above = sqlite3_column_int64(stmt, 0) < rows - max;
    else
        rc = catalog_sql_error(c, err, "counting changed captions");
    sqlite3_finalize(stmt);
    return rc;
}

cs_status text_segment_serving(catalog *c, const cs_filter *filter, text_segment *chosen,
                               cs_error *err)
{
    *chosen = (text_segment){0};
    if (!filter || !(filter->has_faces || filter->has_text || (filter->type && *filter->type)))
        return CS_OK;
    text_segment segments[TEXT_SEGMENTS_MAX];
    int n;
    cs_status rc = text_segments_read(c, segments, &n, err);
    for (int s = 0; rc == CS_OK && s < n; s++)
        if (segments[s].rows > 0 && text_segment_required(filter, segments[s].name) &&
            (chosen->rows == 0 || segments[s].rows < chosen->rows))
            *chosen = segments[s];
    return rc;
}

cs_status catalog_filter_rows_at_most(catalog *c, const cs_filter *filter, int64_t *rows,
                                      cs_error *err)
{
    text_segment chosen;
    cs_status rc = text_segment_serving(c, filter, &chosen, err);
    *rows = chosen.rows;
    return rc;
}
