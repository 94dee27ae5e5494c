/* Champion lists: ranking common words at scale (index/FORMAT.md,
 * "text_champions"). For every term in at least min_df rows, the list_len
 * rows where the term's own bm25 term is largest; a search for common
 * words scores those rows (plus the rows of its rare words and the rows
 * written since the lists were made) with FTS5's bm25 instead of ranking
 * every match. */
#ifndef CS_STORE_TEXT_CHAMPIONS_H
#define CS_STORE_TEXT_CHAMPIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/catalog.h"

typedef struct text_rank_settings {
    int min_df;        /* a term in this many rows or more gets a list */
    int list_len;      /* rows per list (R) */
    int exact_below;   /* fewer estimated matches: FTS5's own ranking */
    int pending_max;   /* more rows written since the lists: FTS5's own ranking */
    /* a scattered segment (below) gets lists when ranking it without them
     * is expected to cost more than this (us); 0: always */
    int scattered_us;
} text_rank_settings;

#define TEXT_RANK_DEFAULTS ((text_rank_settings){2000, 1000, 2000, 1000, 15000})

/* Scoring one candidate row in C (reading its text, tokenizing, bm25):
 * about this much at a million rows (measured). */
#define TEXT_SCORE_ROW_NS 7500.0

/* Segments: the pictures a filter part keeps, when it keeps too many to be
 * listed at search time: those with faces ("faces"), with text read in
 * them ("text"), of one type ("type:png"), taken in a calendar year
 * ("year:2015"), in a folder and below ("folder:/photos/2015", the
 * largest folders). Each with at least min_df rows and at most half of
 * them has lists of its own ("segment_champions"), made with the others: a
 * search asking for it reads those, and their bound holds within it.
 * Smaller folders and calendar months ("month:2015-03") get lists too when
 * their pictures are scattered among the others' rows, as when a library
 * was indexed in another order: ranking them otherwise means scoring each
 * of their rows or reading every match of the query. */
#define TEXT_SEGMENTS_MAX 512
#define TEXT_YEAR_SEGMENTS_MAX 24
#define TEXT_FOLDER_SEGMENTS_MAX 32
#define TEXT_SEGMENT_CANDIDATES_MAX 1024
#define TEXT_SEGMENT_NAME_MAX 320
typedef struct text_segment {
    char name[TEXT_SEGMENT_NAME_MAX];
    int64_t rows;
    bool if_scattered;   /* a candidate that needs lists only when scattered */
} text_segment;

/* The filter keeping exactly the segment's pictures (its type points into
 * name); false for a name that is no segment. */
bool text_segment_filter(const char *name, cs_filter *out);

/* The name of the year or month segment whose bounds are exactly the
 * filter's dates ("year:2015", "month:2015-03"), false when they are no
 * calendar year or month. */
bool text_segment_dates_name(const cs_filter *filter, char *name, size_t cap);

/* Whether `filter` keeps exactly the segment's pictures. */
bool text_segment_is(const cs_filter *filter, const char *name);

/* The segments that may have lists: faces, text, each type of min_rows to
 * max_rows pictures, the TEXT_YEAR_SEGMENTS_MAX years and the
 * TEXT_FOLDER_SEGMENTS_MAX folders (with their subfolders) of that many
 * with the most pictures; then, if_scattered, the other folders and the
 * months of that many, the most populous first; at most
 * TEXT_SEGMENT_CANDIDATES_MAX in all (out has room for that many). */
cs_status text_segments_candidates(catalog *c, int64_t min_rows, int64_t max_rows,
                                   text_segment *out, int *n, cs_error *err);

/* The segments with lists and their rows when the lists were made
 * (meta.text_segments), at most TEXT_SEGMENTS_MAX, each with the filter
 * keeping its pictures. A handle keeps the record parsed until its text
 * changes: a search reads it several times, and parsing hundreds of names
 * costs more than the search's other bookkeeping. */
typedef struct text_segment_record {
    char *text;             /* the meta value parsed below (NULL: none yet) */
    text_segment *segments;
    cs_filter *filters;     /* their filters, pointing into segments' names */
    int n;
} text_segment_record;
cs_status text_segments_read(catalog *c, const text_segment_record **out, cs_error *err);
void text_segment_record_free(text_segment_record *r);
cs_status text_segments_write(catalog *c, const text_segment *segments, int n, cs_error *err);

/* The segment whose lists serve `filter` (*chosen; rows 0: none): of those
 * with lists that it requires, the smallest. */
cs_status text_segment_serving(catalog *c, const cs_filter *filter, text_segment *chosen,
                               cs_error *err);

/* Whether the segment surely has more than max rows now: its rows when the
 * lists were made, less the rows changed since (each change of a face tag,
 * of read text or of the type rewrites the caption row, which marks it
 * pending). False when it has no lists. */
cs_status text_segment_above(catalog *c, const char *name, int64_t max, bool *above,
                             cs_error *err);

/* Test-only: other thresholds for this handle (builds and searches). */
void catalog_set_text_rank_settings(catalog *c, const text_rank_settings *s);

/* Test-only: how many searches of this handle each path answered. */
typedef struct text_rank_counts {
    int64_t champion;        /* the champion lists */
    int64_t segment;         /* ... of which a segment's lists */
    int64_t proven;          /* ... of which pages proven final (page_final) */
    int64_t conjunctions;    /* ANDs of listed words read for them */
    int64_t filtered_rows;   /* every row a narrow filter keeps, scored */
    int64_t kept_bitmap;     /* FTS5, checking a bitmap of the filter's images */
    int64_t kept_ranges;     /* ... the rowid ranges it read, summed */
    int64_t sizes_read;      /* ... of which the row sizes were read first */
    int64_t bound_skipped;   /* ... rows not scored: their bound could not enter */
    int64_t joined;          /* FTS5, joining each match to its image's filter */
    /* listings with excluded words (catalog_browse) */
    int64_t listing_walked;  /* each picture's words checked */
    int64_t listing_not_in;  /* the excluded words' matches listed */
    int64_t camera_by_names; /* a camera's pictures listed by its distinct names */
} text_rank_counts;
text_rank_counts catalog_text_rank_counts(const catalog *c);

/* Makes the lists again from every caption row, in one transaction, and
 * empties text_pending. Not inside another transaction. */
cs_status catalog_rebuild_champions(catalog *c, cs_error *err);

/* Whether lists made with this handle's settings exist (*built), and the
 * row count they were made from. */
cs_status catalog_champions_built(catalog *c, bool *built, long long *rows, cs_error *err);

/* Whether the lists are missing, were made without the segments' lists
 * (before schema 7), or too many rows changed since they were made (more
 * than pending_max, or 1% of the rows). */
cs_status catalog_champions_stale(catalog *c, bool *stale, cs_error *err);

/* The champion path of catalog_fts_search. *handled false (and nothing
 * else set) when the query must take FTS5's own ranking: no lists, too
 * many pending rows, a small or deep result, syntax outside fts_expr.h,
 * or a filter that leaves fewer than `limit` of the candidates. A narrow
 * filter keeping few rows against the query's matches has each of them
 * scored: the exact ranking of the filtered rows. A narrow filter keeping
 * more, yet fewer than the query's matches, when the lists cannot serve it,
 * has its images listed (or takes `listed`, may be NULL) and FTS5 ranks
 * the matches among them (text_kept.h). */
cs_status text_rank_search(catalog *c, const char *match, const cs_filter *filter,
                           const catalog_listed *listed, int limit, bool *handled,
                           int64_t **ids, double **scores, size_t *n, cs_error *err);

#endif
