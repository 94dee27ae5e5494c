/* What the benchmark drivers share. A driver is a tool run by a script, so
 * any failure ends it with a message on stderr. Define BENCH_NAME (the
 * driver's name, for messages) before including this header. */
#ifndef CAPSEARCH_BENCH_UTIL_H
#define CAPSEARCH_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef BENCH_NAME
#error "define BENCH_NAME before including bench_util.h"
#endif

static inline void bench_die(const char *what, const char *why)
{
    fprintf(stderr, BENCH_NAME ": %s: %s\n", what, why);
    exit(1);
}

static inline void *bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        bench_die("malloc", "out of memory");
    return p;
}

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The non-empty lines of a file; they point into *blob (free both). */
static inline char **bench_read_lines(const char *path, size_t *n, char **blob)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        bench_die(path, "cannot open");
    size_t cap = 1 << 16, len = 0, got;
    char *text = bench_xmalloc(cap + 1);
    while ((got = fread(text + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *grown = realloc(text, (cap *= 2) + 1);
            if (!grown)
                bench_die(path, "out of memory");
            text = grown;
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed)
        bench_die(path, "read error");
    text[len] = '\0';
    size_t count = 0, lines_cap = 64;
    char **lines = bench_xmalloc(lines_cap * sizeof *lines);
    for (char *p = text, *end; p < text + len; p = end) {
        end = memchr(p, '\n', (size_t)(text + len - p));
        end = end ? (*end = '\0', end + 1) : text + len;
        if (!*p)
            continue;
        if (count == lines_cap) {
            char **grown = realloc(lines, (lines_cap *= 2) * sizeof *lines);
            if (!grown)
                bench_die(path, "out of memory");
            lines = grown;
        }
        lines[count++] = p;
    }
    *n = count;
    *blob = text;
    return lines;
}

#endif
