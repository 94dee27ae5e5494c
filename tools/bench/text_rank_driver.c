/* tools/bench: the champion path of the text ranking against FTS5's full
 * bm25 ranking on an existing catalog. Reads one query per line (user
 * text) on stdin; prints per query the two times and recall@10/@K, then
 * the means and the champion path's percentiles. --rebuild makes the
 * champion lists first (timed). --exact FILE keeps FTS5's rankings (one
 * line of ids per query) so later runs of the same queries skip them: read
 * when the file exists, written otherwise.
 * usage: text_rank_driver CATALOG_DB [--rebuild] [--k K] [--exact FILE] */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_NAME "text_rank_driver"
#include "bench_util.h"

#include "search/ftsquery.h"
#include "store/catalog.h"
#include "store/text_champions.h"

static size_t exact(sqlite3 *db, const char *match, int k, int64_t *ids)
{
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT rowid, bm25(captions_fts, 3.0, 2.5, 1.5, 2.0, 1.0, 0.5) AS s"
                           " FROM captions_fts WHERE captions_fts MATCH ?1 ORDER BY s, rowid"
                           " LIMIT ?2", -1, &st, NULL);
    sqlite3_bind_text(st, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, k);
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
    if (argc < 2) {
        fprintf(stderr, "usage: text_rank_driver CATALOG_DB [--rebuild] [--k K]\n");
        return 2;
    }
    int k = 100;
    int rebuild = 0;
    const char *exact_path = NULL;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--rebuild"))
            rebuild = 1;
        else if (!strcmp(argv[i], "--exact") && i + 1 < argc)
            exact_path = argv[++i];
        else if (!strcmp(argv[i], "--k") && i + 1 < argc)
            k = atoi(argv[++i]);
    }
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
    int nq = 0;
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        char *match = NULL;
        if (fts_query_build(line, &match, &err) != CS_OK || !match)
            continue;
        double t0 = bench_now_s();
        long cached = cache_in ? read_exact(cache_in, k, want) : -1;
        if (cache_in && cached < 0)
            bench_die(exact_path, "has fewer rankings than there are queries");
        size_t nw = cache_in ? (size_t)cached : exact(db, match, k, want);
        double t1 = bench_now_s();
        if (cache_out) {
            for (size_t i = 0; i < nw; i++)
                fprintf(cache_out, "%s%lld", i ? " " : "", (long long)want[i]);
            fputc('\n', cache_out);
        }
        int64_t *got;
        double *scores;
        size_t ng;
        if (catalog_fts_search(c, match, NULL, k, &got, &scores, &ng, &err) != CS_OK) {
            fprintf(stderr, "%s: %s\n", line, err.message);
            return 1;
        }
        double t2 = bench_now_s();
        double r10 = recall(want, nw, got, ng, 10), rk = recall(want, nw, got, ng, (size_t)k);
        printf("%-32s exact %7.1f ms  champion %6.1f ms  recall@10 %.2f  recall@%d %.3f\n",
               line, (t1 - t0) * 1e3, (t2 - t1) * 1e3, r10, k, rk);
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
