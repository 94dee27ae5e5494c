/* Segments (text_champions.h): which pictures each one keeps, which
 * filters ask for it, and the record of those with lists of their own. */
#include "store/catalog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/dates.h"
#include "common/strmap.h"

#define TYPE_PREFIX "type:"
#define FOLDER_PREFIX "folder:"
#define YEAR_PREFIX "year:"
#define MONTH_PREFIX "month:"

/* The first and last second of a calendar month (month 0: the whole
 * year), as date filters give them (dates_parse_day). */
static bool calendar_bounds(long year, long month, int64_t *from, int64_t *to)
{
    if (year < 1 || year > 9999 || month < 0 || month > 12)
        return false;
    char first[32], last[32];
    snprintf(first, sizeof first, "%04ld-%02ld-01", year, month ? month : 1);
    if (!dates_parse_day(first, false, from))
        return false;
    for (int day = 31; day >= 28; day--) {   /* the month's last day */
        snprintf(last, sizeof last, "%04ld-%02ld-%02d", year, month ? month : 12, day);
        if (dates_parse_day(last, true, to))
            return true;
    }
    return false;
}

bool text_segment_dates_name(const cs_filter *filter, char *name, size_t cap)
{
    if (!filter || !filter->has_from || !filter->has_to)
        return false;
    /* the year of `from`: a year's or a month's bounds must be the filter's */
    long year = (long)(filter->from / 31556952) + 1970;   /* mean Gregorian year */
    for (long y = year - 1; y <= year + 1; y++)
        for (long m = 0; m <= 12; m++) {
            int64_t from, to;
            if (!calendar_bounds(y, m, &from, &to) || from != filter->from || to != filter->to)
                continue;
            int len = m ? snprintf(name, cap, MONTH_PREFIX "%04ld-%02ld", y, m)
                        : snprintf(name, cap, YEAR_PREFIX "%ld", y);
            return len > 0 && (size_t)len < cap;
        }
    return false;
}

static const char *after_prefix(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(name, prefix, n) == 0 && name[n] ? name + n : NULL;
}

bool text_segment_filter(const char *name, cs_filter *out)
{
    *out = (cs_filter){0};
    if (strcmp(name, "faces") == 0)
        out->has_faces = true;
    else if (strcmp(name, "text") == 0)
        out->has_text = true;
    else if (after_prefix(name, TYPE_PREFIX))
        out->type = after_prefix(name, TYPE_PREFIX);
    else if (after_prefix(name, FOLDER_PREFIX))
        out->folder = after_prefix(name, FOLDER_PREFIX);
    else if (after_prefix(name, YEAR_PREFIX)) {
        char *end;
        long year = strtol(after_prefix(name, YEAR_PREFIX), &end, 10);
        if (*end || !calendar_bounds(year, 0, &out->from, &out->to))
            return false;
        out->has_from = out->has_to = true;
    } else if (after_prefix(name, MONTH_PREFIX)) {
        const char *text = after_prefix(name, MONTH_PREFIX);
        char *end;
        long year = strtol(text, &end, 10), month = 0;
        if (end - text == 4 && *end == '-' && end[1] >= '0' && end[1] <= '9')
            month = strtol(end + 1, &end, 10);
        if (*end || month < 1 || !calendar_bounds(year, month, &out->from, &out->to))
            return false;
        out->has_from = out->has_to = true;
    } else {
        return false;
    }
    return true;
}

/* Whether the filter's folder is `folder` or lies below it. */
static bool folder_within(const cs_filter *filter, const char *folder)
{
    size_t n = catalog_filter_folder_len(filter), len = strlen(folder);
    return n >= len && memcmp(filter->folder, folder, len) == 0 &&
           (n == len || filter->folder[len] == '/');
}

/* Whether `filter` keeps only pictures of the segment whose filter is f. */
static bool requires(const cs_filter *filter, const cs_filter *f)
{
    return f->has_faces  ? filter->has_faces
           : f->has_text ? filter->has_text
           : f->type     ? filter->type && strcmp(filter->type, f->type) == 0
           : f->folder   ? folder_within(filter, f->folder)
                         : filter->has_from && filter->has_to && filter->from >= f->from &&
                               filter->to <= f->to;
}


bool text_segment_is(const cs_filter *filter, const char *name)
{
    cs_filter f;
    if (!filter || !text_segment_filter(name, &f))
        return false;
    bool same_folder = f.folder ? catalog_filter_folder_len(filter) == strlen(f.folder) &&
                                      folder_within(filter, f.folder)
                                : catalog_filter_folder_len(filter) == 0;
    bool same_type = (filter->type && *filter->type) ? f.type && !strcmp(filter->type, f.type)
                                                     : !f.type;
    bool same_dates = f.has_from ? filter->has_from && filter->has_to &&
                                       filter->from == f.from && filter->to == f.to
                                 : !filter->has_from && !filter->has_to;
    return same_folder && same_type && same_dates && !(filter->camera && *filter->camera) &&
           filter->has_faces == f.has_faces && filter->has_text == f.has_text;
}

/* Whether a name fits a segment record: one line, not cut short. */
static bool fits(const char *prefix, const char *value)
{
    return value && *value && !strchr(value, '\n') &&
           strlen(prefix) + strlen(value) < TEXT_SEGMENT_NAME_MAX;
}

/* The segments `prefix` + each value of `sql` (one column; ?1 and ?2 the
 * least and most rows, ?3 the most values) that name a segment. */
static cs_status add_grouped(catalog *c, const char *sql, const char *prefix, int64_t min_rows,
                             int64_t max_rows, int most, bool if_scattered, text_segment *out,
                             int *n, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, sql, &stmt, err);
    if (rc != CS_OK)
        return rc;
    sqlite3_bind_int64(stmt, 1, min_rows);
    sqlite3_bind_int64(stmt, 2, max_rows);
    sqlite3_bind_int(stmt, 3, most);
    int step;
    while ((step = sqlite3_step(stmt)) == SQLITE_ROW && *n < TEXT_SEGMENT_CANDIDATES_MAX) {
        const char *value = (const char *)sqlite3_column_text(stmt, 0);
        cs_filter f;
        if (fits(prefix, value)) {   /* so prefix and value fit the name */
            size_t at = strlen(prefix);
            memcpy(out[*n].name, prefix, at);
            memcpy(out[*n].name + at, value, strlen(value) + 1);
            out[*n].rows = 0;
            out[*n].if_scattered = if_scattered;
            *n += text_segment_filter(out[*n].name, &f);
        }
    }
    if (step != SQLITE_ROW && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "counting the pictures of each type, year and month");
    sqlite3_finalize(stmt);
    return rc;
}

/* Adds `count` to the folder and to each folder above it (not the root). */
static bool count_up(strmap *subtree, const char *folder, int64_t count, char *buf)
{
    size_t len = strlen(folder);
    memcpy(buf, folder, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = '\0';
    while (len > 1) {
        int64_t *have;
        if (strmap_get(subtree, buf, &have))
            *have += count;
        else if (!strmap_put(subtree, buf, count))
            return false;
        while (len > 0 && buf[len - 1] != '/')
            len--;
        while (len > 1 && buf[len - 1] == '/')
            len--;
        buf[len] = '\0';
    }
    return true;
}

static int by_rows_desc(const void *a, const void *b)
{
    const text_segment *x = a, *y = b;
    if (x->rows != y->rows)
        return x->rows > y->rows ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The largest folders (with their subfolders) of min_rows to max_rows. */
static cs_status add_folders(catalog *c, int64_t min_rows, int64_t max_rows, text_segment *out,
                             int *n, cs_error *err)
{
    sqlite3_stmt *stmt;
    cs_status rc = catalog_prepare(c, "SELECT folder, count(*) FROM images GROUP BY folder",
                                   &stmt, err);
    if (rc != CS_OK)
        return rc;
    strmap subtree;
    strmap_init(&subtree);
    char *buf = NULL;
    size_t buf_cap = 0;
    int step;
    while (rc == CS_OK && (step = sqlite3_step(stmt)) == SQLITE_ROW) {
        const char *folder = (const char *)sqlite3_column_text(stmt, 0);
        if (folder && (!ARRAY_RESERVE(buf, buf_cap, strlen(folder)) ||
                       !count_up(&subtree, folder, sqlite3_column_int64(stmt, 1), buf)))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory counting folders");
    }
    if (rc == CS_OK && step != SQLITE_DONE)
        rc = catalog_sql_error(c, err, "counting the pictures of each folder");
    sqlite3_finalize(stmt);
    free(buf);
    text_segment *found = NULL;
    size_t nfound = 0;
    if (rc == CS_OK && subtree.count) {
        found = malloc(subtree.count * sizeof *found);
        if (!found)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory counting folders");
    }
    for (size_t i = 0; found && i < subtree.cap; i++) {
        const strmap_slot *slot = &subtree.slots[i];
        if (slot->key && slot->value >= min_rows && slot->value <= max_rows &&
            fits(FOLDER_PREFIX, slot->key)) {
            snprintf(found[nfound].name, TEXT_SEGMENT_NAME_MAX, FOLDER_PREFIX "%s", slot->key);
            found[nfound++].rows = slot->value;
        }
    }
    if (nfound)
        qsort(found, nfound, sizeof *found, by_rows_desc);
    for (size_t i = 0; i < nfound && *n < TEXT_SEGMENT_CANDIDATES_MAX; i++) {
        found[i].if_scattered = i >= TEXT_FOLDER_SEGMENTS_MAX;
        out[(*n)++] = found[i];
    }
    free(found);
    strmap_free(&subtree);
    return rc;
}

cs_status text_segments_candidates(catalog *c, int64_t min_rows, int64_t max_rows,
                                   text_segment *out, int *n, cs_error *err)
{
    *n = 0;
    out[(*n)++] = (text_segment){.name = "faces"};
    out[(*n)++] = (text_segment){.name = "text"};
    cs_status rc = add_grouped(c, "SELECT format FROM images GROUP BY format"
                                  " HAVING count(*) BETWEEN ?1 AND ?2 LIMIT ?3", TYPE_PREFIX,
                               min_rows, max_rows, TEXT_SEGMENTS_MAX, false, out, n, err);
    if (rc == CS_OK)   /* the most populous years */
        rc = add_grouped(c, "SELECT year FROM (SELECT strftime('%Y', taken_at, 'unixepoch') AS"
                            " year, count(*) AS rows FROM images WHERE taken_at IS NOT NULL"
                            " GROUP BY year) WHERE rows BETWEEN ?1 AND ?2"
                            " ORDER BY rows DESC, year LIMIT ?3",
                         YEAR_PREFIX, min_rows, max_rows, TEXT_YEAR_SEGMENTS_MAX, false, out, n,
                         err);
    if (rc == CS_OK)
        rc = add_folders(c, min_rows, max_rows, out, n, err);
    if (rc == CS_OK)   /* the most populous months */
        rc = add_grouped(c, "SELECT month FROM (SELECT strftime('%Y-%m', taken_at, 'unixepoch')"
                            " AS month, count(*) AS rows FROM images WHERE taken_at IS NOT NULL"
                            " GROUP BY month) WHERE rows BETWEEN ?1 AND ?2"
                            " ORDER BY rows DESC, month LIMIT ?3",
                         MONTH_PREFIX, min_rows, max_rows, TEXT_SEGMENT_CANDIDATES_MAX, true, out,
                         n, err);
    return rc;
}

void text_segment_record_free(text_segment_record *r)
{
    free(r->text);
    free(r->segments);
    free(r->filters);
    *r = (text_segment_record){0};
}

/* Parses meta.text_segments, one line per segment, "ROWS NAME", into r
 * (empty on failure to allocate: no segment serves, as without lists). */
static cs_status parse_record(char *text, text_segment_record *r, cs_error *err)
{
    size_t lines = 1;
    for (const char *t = text; *t; t++)
        lines += *t == '\n';
    if (lines > TEXT_SEGMENTS_MAX)
        lines = TEXT_SEGMENTS_MAX;
    r->text = text;
    r->segments = malloc(lines * sizeof *r->segments);
    r->filters = malloc(lines * sizeof *r->filters);
    if (!r->segments || !r->filters) {
        text_segment_record_free(r);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory reading the segments");
    }
    char *line = text;
    while (line && *line && (size_t)r->n < lines) {
        char *end = strchr(line, '\n'), *name;
        size_t len = end ? (size_t)(end - line) : strlen(line);
        long long rows = strtoll(line, &name, 10);
        text_segment *seg = &r->segments[r->n];
        size_t name_len = len - (size_t)(name - line);
        if (name != line && *name == ' ' && name_len > 1 && name_len <= TEXT_SEGMENT_NAME_MAX) {
            memcpy(seg->name, name + 1, name_len - 1);
            seg->name[name_len - 1] = '\0';
            seg->rows = rows;
            seg->if_scattered = false;
            r->n += text_segment_filter(seg->name, &r->filters[r->n]);
        }
        line = end ? end + 1 : NULL;
    }
    return CS_OK;
}

cs_status text_segments_read(catalog *c, const text_segment_record **out, cs_error *err)
{
    *out = &c->segments;
    char *text = NULL;
    cs_status rc = catalog_meta_get(c, "text_segments", &text, err);
    if (rc != CS_OK || !text) {
        free(text);
        text_segment_record_free(&c->segments);
        return rc;
    }
    if (c->segments.text && strcmp(c->segments.text, text) == 0) {
        free(text);
        return CS_OK;
    }
    text_segment_record_free(&c->segments);
    return parse_record(text, &c->segments, err);
}

cs_status text_segments_write(catalog *c, const text_segment *segments, int n, cs_error *err)
{
    size_t cap = (size_t)n * (TEXT_SEGMENT_NAME_MAX + 24) + 1, len = 0;
    char *value = malloc(cap);
    if (!value)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory recording the segments");
    value[0] = '\0';
    for (int s = 0; s < n; s++)
        len += (size_t)snprintf(value + len, cap - len, "%s%lld %s", s ? "\n" : "",
                                (long long)segments[s].rows, segments[s].name);
    cs_status rc = catalog_meta_set(c, "text_segments", value, err);
    free(value);
    return rc;
}

cs_status text_segment_above(catalog *c, const char *name, int64_t max, bool *above,
                             cs_error *err)
{
    *above = false;
    const text_segment_record *r;
    cs_status rc = text_segments_read(c, &r, err);
    int64_t rows = -1;
    for (int s = 0; rc == CS_OK && s < r->n; s++)
        if (strcmp(r->segments[s].name, name) == 0)
            rows = r->segments[s].rows;
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
    if (!filter || !(filter->has_faces || filter->has_text || (filter->type && *filter->type) ||
                     catalog_filter_folder_len(filter) || (filter->has_from && filter->has_to)))
        return CS_OK;
    const text_segment_record *r;
    cs_status rc = text_segments_read(c, &r, err);
    for (int s = 0; rc == CS_OK && s < r->n; s++)
        if (r->segments[s].rows > 0 && requires(filter, &r->filters[s]) &&
            (chosen->rows == 0 || r->segments[s].rows < chosen->rows))
            *chosen = r->segments[s];
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
