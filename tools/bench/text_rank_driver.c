/* tools/bench: the champion path of the text ranking against FTS5's full
 * bm25 ranking on an existing catalog. Reads one query per line (user
 * text) on stdin; prints per query the two times and recall@10/@K, then
 * the means and the champion path's percentiles. --rebuild makes the
 * champion lists first (timed). --exact FILE keeps FTS5's rankings (one
 * line of ids per query) so later runs of the same queries skip them: read
 * when the file exists, written otherwise. --filter compares the filtered
 * rankings (FTS5's reference joined to the same condition in SQL): faces,
 * text, type=T, camera=T, folder=F or dates=YYYY-MM-DD..YYYY-MM-DD (days
 * taken, inclusive). Each query's line names the path
 * that answered it, "(proven)" when its page was proven final.
 * usage: text_rank_driver CATALOG_DB [--rebuild] [--k K] [--exact FILE]
 *                         [--filter F] */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_NAME "text_rank_driver"
#include "bench_util.h"

#include "common/dates.h"
#include "search/ftsquery.h"
#include "store/catalog.h"
#include "store/text_champions.h"

/* --filter: the catalog's filter and the same condition on f.rowid in SQL
 * (?3 its text), written here rather than taken from the catalog's code. */
typedef struct bench_filter {
    cs_filter filter;
    const char *sql;
    const char *text;
} bench_filter;

static bench_filter parse_filter(const char *spec)
{
    bench_filter b = {.sql = "1"};
    if (!spec)
        return b;
    if (!strcmp(spec, "faces")) {
        b.filter.has_faces = 1;
        b.sql = "EXISTS (SELECT 1 FROM tags t WHERE t.image_id = f.rowid AND t.kind = 'face')";
    } else if (!strcmp(spec, "text")) {
        b.filter.has_text = 1;
        b.sql = "EXISTS (SELECT 1 FROM captions t WHERE t.image_id = f.rowid AND t.ocr <> '')";
    } else if (!strncmp(spec, "type=", 5)) {
        b.filter.type = b.text = spec + 5;
        b.sql = "(SELECT format FROM images WHERE id = f.rowid) = ?3";
    } else if (!strncmp(spec, "camera=", 7)) {
        b.filter.camera = b.text = spec + 7;
        b.sql = "(SELECT instr(lower(coalesce(camera_make, '') || ' ' || coalesce(camera_model,"
                " '')), lower(?3)) FROM images WHERE id = f.rowid) > 0";
    } else if (!strncmp(spec, "folder=", 7)) {
        b.filter.folder = b.text = spec + 7;
        b.sql = "(SELECT folder = ?3 OR folder LIKE ?3 || '/%' FROM images WHERE id = f.rowid)";
    } else if (!strncmp(spec, "dates=", 6) && strlen(spec) == 6 + 22 && spec[16] == '.' &&
               spec[17] == '.') {
        char from[11], to[11];
        memcpy(from, spec + 6, 10);
        memcpy(to, spec + 18, 10);
        from[10] = to[10] = '\0';
        if (!dates_parse_day(from, false, &b.filter.from) ||
            !dates_parse_day(to, true, &b.filter.to))
            bench_die(spec, "dates=FROM..TO takes two days, YYYY-MM-DD");
        b.filter.has_from = b.filter.has_to = true;
        static char sql[160];
        snprintf(sql, sizeof sql, "(SELECT taken_at BETWEEN %lld AND %lld FROM images"
                 " WHERE id = f.rowid)", (long long)b.filter.from, (long long)b.filter.to);
        b.sql = sql;
    } else {
        bench_die(spec, "--filter takes faces, text, type=T, camera=T, folder=F or "
                        "dates=YYYY-MM-DD..YYYY-MM-DD");
    }
    return b;
}

/* Which path of catalog_fts_search answered, from its counters. */
#define NPATHS 6
static const char path_names[NPATHS][10] = {"segment", "lists", "rows", "bitmap", "joined",
                                            "fts5"};

static int answered_by(const text_rank_counts *before, catalog *c)
{
    text_rank_counts now = catalog_text_rank_counts(c);
    int at = now.segment > before->segment             ? 0
             : now.champion > before->champion         ? 1
             : now.filtered_rows > before->filtered_rows ? 2
             : now.kept_bitmap > before->kept_bitmap   ? 3
             : now.joined > before->joined             ? 4
                                                       : 5;
    return at;
}

static size_t exact(sqlite3 *db, const char *match, const bench_filter *bf, int k, int64_t *ids)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT f.rowid, bm25(captions_fts, 3.0, 2.5, 1.5, 2.0, 1.0, 0.5) AS s"
             " FROM captions_fts f WHERE captions_fts MATCH ?1 AND %s ORDER BY s, f.rowid"
             " LIMIT ?2", bf->sql);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        bench_die("the reference query", sqlite3_errmsg(db));
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
    if (bf->text)
        sqlite3_bind_text(st, 3, bf->text, -1, SQLITE_STATIC);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* One query's exact ranking from the cache file, or -1 at its end. */
static long read_exact(FILE *f, int k, int64_t *ids)
{
    char line[1 << 14];
    if (!fgets(line, sizeof line, f))
        return -1;
    long n = 0;
    char *p = line, *end;
    for (long long v; n < k && (v = strtoll(p, &end, 10), end != p); p = end)
        ids[n++] = v;
    return n;
}

static double percentile(const double *sorted, int n, double p)
{
    int i = (int)(p * (n - 1) + 0.5);
    return sorted[i < n ? i : n - 1];
}

static double recall(const int64_t *want, size_t nw, const int64_t *got, size_t ng, size_t k)
{
    size_t hit = 0, total = nw < k ? nw : k;
    for (size_t i = 0; i < total; i++)
        for (size_t j = 0; j < ng && j < k; j++)
            if (got[j] == want[i]) {
                hit++;
                break;
            }
    return total ? (double)hit / (double)total : 1.0;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    static const char usage[] = "usage: text_rank_driver CATALOG_DB [--rebuild] [--k K] "
                                "[--exact FILE] [--filter F]\n";
    /* Opening creates a catalog, so a mistyped option must not become one. */
    if (argc < 2 || argv[1][0] == '-' || access(argv[1], R_OK) != 0) {
        fputs(usage, stderr);
        if (argc >= 2 && argv[1][0] != '-')
            fprintf(stderr, "%s: no such catalog\n", argv[1]);
        return 2;
    }
    int k = 100;
    int rebuild = 0;
    const char *exact_path = NULL, *filter_spec = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--rebuild"))
            rebuild = 1;
        else if (!strcmp(argv[i], "--exact") && i + 1 < argc)
            exact_path = argv[++i];
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            k = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc)
            filter_spec = argv[++i];
        else {
            fprintf(stderr, "unknown option '%s'\n%s", argv[i], usage);
            return 2;
        }
    }
    bench_filter bf = parse_filter(filter_spec);
    cs_error err = {0};
    catalog *c;
    if (catalog_open(argv[1], false, &c, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    if (rebuild) {
        double t = bench_now_s();
        if (catalog_rebuild_champions(c, &err) != CS_OK) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        printf("rebuild %.1f s\n", bench_now_s() - t);
    }
    sqlite3 *db;
    sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL);
    FILE *cache_in = exact_path ? fopen(exact_path, "r") : NULL;
    FILE *cache_out = exact_path && !cache_in ? fopen(exact_path, "w") : NULL;
    if (exact_path && !cache_in && !cache_out)
        bench_die(exact_path, "cannot open or create");
    char line[1024];
    int64_t *want = bench_xmalloc((size_t)k * sizeof *want);
    size_t times_cap = 256;
    double *times = bench_xmalloc(times_cap * sizeof *times);
    double sum10 = 0, sumk = 0, t_exact = 0, t_fast = 0;
    int paths[NPATHS] = {0};
    int nq = 0, proven_pages = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *match = NULL;
        if (fts_query_build(line, &match, &err) != CS_OK || !match)
            continue;
        double t0 = bench_now_s();
        long cached = cache_in ? read_exact(cache_in, k, want) : -1;
        if (cache_in && cached < 0)
            bench_die(exact_path, "has fewer rankings than there are queries");
        size_t nw = cache_in ? (size_t)cached : exact(db, match, &bf, k, want);
        double t1 = bench_now_s();
        if (cache_out) {
            for (size_t i = 0; i < nw; i++)
                fprintf(cache_out, "%s%lld", i ? " " : "", (long long)want[i]);
            fputc('\n', cache_out);
        }
        int64_t *got;
        double *scores;
        size_t ng;
        text_rank_counts before = catalog_text_rank_counts(c);
        if (catalog_fts_search(c, match, &bf.filter, k, &got, &scores, &ng, &err) != CS_OK) {
            fprintf(stderr, "%s: %s\n", line, err.message);
            return 1;
        }
        double t2 = bench_now_s();
        double r10 = recall(want, nw, got, ng, 10), rk = recall(want, nw, got, ng, (size_t)k);
        int path = answered_by(&before, c);
        paths[path]++;
        text_rank_counts after = catalog_text_rank_counts(c);
        bool proven = after.proven > before.proven;
        proven_pages += proven;
        printf("%-32s exact %7.1f ms  champion %6.1f ms  recall@10 %.2f  recall@%d %.3f  %s%s"
               "\n", line, (t1 - t0) * 1e3, (t2 - t1) * 1e3, r10, k, rk, path_names[path],
               proven ? " (proven)" : "");
        sum10 += r10;
        sumk += rk;
        t_exact += t1 - t0;
        t_fast += t2 - t1;
        if ((size_t)nq == times_cap) {
            double *grown = realloc(times, (times_cap *= 2) * sizeof *times);
            if (!grown)
                bench_die("times", "out of memory");
            times = grown;
        }
        times[nq++] = (t2 - t1) * 1e3;
        free(got);
        free(scores);
        free(match);
    }
    if (nq)
        printf("queries %d  mean exact %.1f ms  mean champion %.1f ms  recall@10 %.4f  "
               "recall@%d %.4f\n", nq, t_exact * 1e3 / nq, t_fast * 1e3 / nq, sum10 / nq, k,
               sumk / nq);
    if (nq) {
        qsort(times, (size_t)nq, sizeof *times, bench_cmp_double);
        printf("champion ms: median %.1f  p90 %.1f  p99 %.1f  max %.1f\n",
               percentile(times, nq, 0.5), percentile(times, nq, 0.9),
               percentile(times, nq, 0.99), times[nq - 1]);
    }
    printf("answered by:");
    for (int i = 0; i < NPATHS; i++)
        printf(" %s %d", path_names[i], paths[i]);
    printf("; pages proven final %d\n", proven_pages);
    if (cache_in)
        fclose(cache_in);
    if (cache_out && fclose(cache_out) != 0)
        bench_die(exact_path, "write error");
    free(times);
    free(want);
    sqlite3_close(db);
    catalog_close(c);
    return 0;
}
