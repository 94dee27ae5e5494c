/* The C side of tools/bench/scale: a library of N synthetic pictures made
 * without decoding any, through the catalog API the indexer writes with.
 *
 *   scale_library_driver --db DIR --model DIR --words FILE --count N
 *                        [--seed S] [--clusters C] [--spread X] [--batch B]
 *                        [--grouped]
 *
 * --words: lines "KIND word" (KIND: noun, adj, place, colour); words are
 * drawn Zipf-like (the r-th of a kind with weight 1/(r+1)), so common words
 * have long FTS posting lists as in a real library. Each picture gets a row
 * (path, folder, size, date, camera; every 50th a PNG, every 10th with a
 * face tag, every 100th with text read in it), a caption sentence, tags,
 * path and date words, and a CLIP-sized embedding: --clusters centres on the unit
 * sphere, Gaussian noise of norm about --spread, L2-normalised. The
 * embeddings are stored under the id of the CLIP model folder --model
 * (clip_model_id), which is recorded as the library's model (as `index
 * --model` records it) and made the vector model (meta embedding_model).
 * --grouped stores the pictures folder by folder, as `capsearch index`
 * stores a folder tree (a folder's pictures get consecutive ids, their
 * months in order); without it the pictures' folders follow no order.
 * Rows go in --batch at a time, one transaction each. Then the library is
 * opened once, which builds vectors.faiss from the catalog (exact up to
 * 50,000 vectors, IVF-SQ8 above) as it does for any library whose vector
 * file is missing. Prints one JSON object with the timings. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capsearch/capsearch.h"

#define BENCH_NAME "scale_library_driver"
#include "bench_util.h"
#include "library/clip_model.h"
#include "store/catalog.h"
#include "store/text_champions.h"

enum { KIND_NOUN, KIND_ADJ, KIND_PLACE, KIND_COLOUR, KINDS };
static const char *const KIND_NAMES[KINDS] = {"noun", "adj", "place", "colour"};

typedef struct wordlist {
    char **words;
    double *cdf;        /* cumulative Zipf weights */
    size_t n;
} wordlist;

/* splitmix64: fast, and the same stream on every machine for a seed */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s) { return (double)(next_u64(s) >> 11) / 9007199254740992.0; }

static double gauss(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(6.283185307179586 * v);
}

static const char *pick(const wordlist *w, uint64_t *s)
{
    double u = uniform(s) * w->cdf[w->n - 1];
    size_t lo = 0, hi = w->n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return w->words[lo];
}

static void add_word(wordlist *w, const char *word)
{
    char **words = realloc(w->words, (w->n + 1) * sizeof *words);
    double *cdf = realloc(w->cdf, (w->n + 1) * sizeof *cdf);
    if (!words || !cdf)
        bench_die("words", "out of memory");
    w->words = words;
    w->cdf = cdf;
    if (!(w->words[w->n] = strdup(word)))
        bench_die("words", "out of memory");
    w->cdf[w->n] = (w->n ? w->cdf[w->n - 1] : 0.0) + 1.0 / (double)(w->n + 1);
    w->n++;
}

static void read_words(const char *path, wordlist lists[KINDS])
{
    FILE *f = fopen(path, "r");
    if (!f)
        bench_die(path, "cannot open");
    char kind[32], word[128];
    while (fscanf(f, "%31s %127s", kind, word) == 2) {
        int k = 0;
        while (k < KINDS && strcmp(kind, KIND_NAMES[k]) != 0)
            k++;
        if (k == KINDS)
            bench_die(path, "a line's kind is not noun, adj, place or colour");
        add_word(&lists[k], word);
    }
    fclose(f);
    for (int k = 0; k < KINDS; k++)
        if (lists[k].n == 0)
            bench_die(path, "every kind needs at least one word");
}

static const char *article(const char *word)
{
    return strchr("aeiou", word[0]) ? "an" : "a";
}

static void check(cs_status rc, const cs_error *err, const char *what)
{
    if (rc != CS_OK)
        bench_die(what, err->message);
}

static const char *const MONTHS[12] = {"january", "february", "march", "april", "may", "june",
                                       "july", "august", "september", "october", "november",
                                       "december"};
static const char *const SEASONS[12] = {"winter", "winter", "spring", "spring", "spring",
                                        "summer", "summer", "summer", "autumn", "autumn",
                                        "autumn", "winter"};
static const char *const CAMERAS[4][2] = {{"Canon", "EOS 80D"}, {"Nikon", "D750"},
                                          {"Sony", "ILCE-7M3"}, {"Apple", "iPhone 12"}};

/* A picture's folder and month when --grouped: drawn from a stream of
 * their own, then sorted by folder and month. */
typedef struct placement {
    int year, month;
    const char *place;
} placement;

static int by_folder(const void *a, const void *b)
{
    const placement *x = a, *y = b;
    if (x->year != y->year)
        return x->year - y->year;
    int c = strcmp(x->place, y->place);
    return c ? c : x->month - y->month;
}

static placement *grouped_placements(const wordlist *places, long long count, uint64_t seed)
{
    placement *all = bench_xmalloc((size_t)count * sizeof *all);
    uint64_t rng = seed * 0x9e3779b97f4a7c15ull + 7;
    for (long long i = 0; i < count; i++) {
        all[i].place = pick(places, &rng);
        all[i].year = 2005 + (int)(next_u64(&rng) % 20);
        all[i].month = (int)(next_u64(&rng) % 12);
    }
    qsort(all, (size_t)count, sizeof *all, by_folder);
    return all;
}

/* The text ranking's champion lists, made when missing or stale, as the
 * end of a `capsearch index` run makes them. Seconds taken (0: fresh). */
static double refresh_text_lists(const char *catalog_path)
{
    cs_error err;
    catalog *cat;
    check(catalog_open(catalog_path, false, &cat, &err), &err, catalog_path);
    bool stale = false;
    check(catalog_champions_stale(cat, &stale, &err), &err, "champion lists");
    double t0 = bench_now_s();
    if (stale)
        check(catalog_rebuild_champions(cat, &err), &err, "champion lists");
    catalog_close(cat);
    return stale ? bench_now_s() - t0 : 0.0;
}

int main(int argc, char **argv)
{
    cs_blas_restart_if_generic(argv);   /* OpenBLAS's fast kernels (capsearch.h) */
    /* --refresh-text-lists DB: only the lists of an existing library */
    if (argc == 3 && !strcmp(argv[1], "--refresh-text-lists")) {
        char path[4096];
        snprintf(path, sizeof path, "%s/catalog.db", argv[2]);
        printf("{\"text_lists_s\": %.2f}\n", refresh_text_lists(path));
        return 0;
    }
    const char *db = NULL, *model_dir = NULL, *words_path = NULL;
    long long count = 0;
    uint64_t seed = 1;
    int clusters = 200, batch = 20000;
    double spread = 0.75;
    bool grouped = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--grouped")) {
            grouped = true;
            continue;
        }
        if (!v)
            bench_die(a, "needs a value");
        if (!strcmp(a, "--db"))
            db = v;
        else if (!strcmp(a, "--model"))
            model_dir = v;
        else if (!strcmp(a, "--words"))
            words_path = v;
        else if (!strcmp(a, "--count"))
            count = atoll(v);
        else if (!strcmp(a, "--seed"))
            seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--clusters"))
            clusters = atoi(v);
        else if (!strcmp(a, "--spread"))
            spread = atof(v);
        else if (!strcmp(a, "--batch"))
            batch = atoi(v);
        else
            bench_die(a, "unknown option");
        i++;
    }
    if (!db || !model_dir || !words_path || count < 1 || clusters < 1 || batch < 1)
        bench_die("usage", "--db DIR --model DIR --words FILE --count N [--seed S] [--clusters C] "
                     "[--spread X] [--batch B] [--grouped]");
    wordlist lists[KINDS] = {{0}};
    read_words(words_path, lists);

    cs_error err;
    cs_library *lib;   /* creates the folder and an empty catalog */
    check(cs_library_open(db, NULL, &lib, &err), &err, db);
    char catalog_path[4096];
    snprintf(catalog_path, sizeof catalog_path, "%s/catalog.db", cs_library_dir(lib));
    cs_library_close(lib);

    char model_id[CLIP_ID_MAX];
    check(clip_model_id(model_dir, model_id, sizeof model_id, &err), &err, model_dir);
    cs_clip_model *probe;   /* only for the embedding size */
    check(cs_clip_open_with(model_dir, &(cs_clip_options){.max_batch = 1, .threads = 1},
                            &probe, &err), &err, model_dir);
    int dim = cs_clip_dim(probe);
    cs_clip_close(probe);

    uint64_t rng = seed * 0x2545f4914f6cdd1dull + 1;
    float *centres = bench_xmalloc((size_t)clusters * dim * sizeof *centres);
    for (int c = 0; c < clusters; c++) {
        double norm = 0;
        for (int j = 0; j < dim; j++) {
            centres[(size_t)c * dim + j] = (float)gauss(&rng);
            norm += (double)centres[(size_t)c * dim + j] * centres[(size_t)c * dim + j];
        }
        for (int j = 0; j < dim; j++)
            centres[(size_t)c * dim + j] /= (float)sqrt(norm);
    }

    placement *order = grouped ? grouped_placements(&lists[KIND_PLACE], count, seed) : NULL;
    catalog *cat;
    check(catalog_open(catalog_path, false, &cat, &err), &err, catalog_path);
    double t0 = bench_now_s();
    float *vec = bench_xmalloc((size_t)dim * sizeof *vec);
    char path[256], folder[192], caption[512], tags[256], path_words[192], exif[128], hash[33];
    for (long long i = 0; i < count; i++) {
        if (i % batch == 0)
            check(catalog_begin(cat, &err), &err, "begin");
        const char *n1 = pick(&lists[KIND_NOUN], &rng), *n2 = pick(&lists[KIND_NOUN], &rng);
        const char *adj = pick(&lists[KIND_ADJ], &rng), *place = pick(&lists[KIND_PLACE], &rng);
        const char *c1 = pick(&lists[KIND_COLOUR], &rng), *c2 = pick(&lists[KIND_COLOUR], &rng);
        int year = 2005 + (int)(next_u64(&rng) % 20), month = (int)(next_u64(&rng) % 12);
        const char *const *camera = CAMERAS[next_u64(&rng) % 4];
        if (order) {   /* the same draws made above, so the rest is unchanged */
            place = order[i].place;
            year = order[i].year;
            month = order[i].month;
        }
        snprintf(folder, sizeof folder, "/photos/%d/%s", year, place);
        /* every 50th a PNG, every 10th with a face, every 100th with text
         * read in it: what the type, faces and text filters keep */
        bool png = i % 50 == 7, face = i % 10 == 3, text_read = i % 100 == 5;
        snprintf(path, sizeof path, "%s/IMG_%07lld.%s", folder, i, png ? "png" : "jpg");
        snprintf(caption, sizeof caption,
                 "%s %s photo of %s %s and %s %s at the %s, mostly %s and %s.",
                 adj[0] == 'a' || adj[0] == 'e' || adj[0] == 'i' || adj[0] == 'o' ? "An" : "A",
                 adj, article(n1), n1, article(n2), n2, place, c1, c2);
        snprintf(tags, sizeof tags, "%s\n%s\n%s\n%s\n%s", n1, n2, place, c1, c2);
        snprintf(path_words, sizeof path_words, "photos %d %s", year, place);
        snprintf(exif, sizeof exif, "%d %s %s %s %s", year, MONTHS[month], SEASONS[month],
                 camera[0], camera[1]);
        snprintf(hash, sizeof hash, "%032llx", i + 1);
        const float *centre = centres + (next_u64(&rng) % (uint64_t)clusters) * (size_t)dim;
        double norm = 0, sigma = spread / sqrt((double)dim);
        for (int j = 0; j < dim; j++) {
            vec[j] = centre[j] + (float)(sigma * gauss(&rng));
            norm += (double)vec[j] * vec[j];
        }
        for (int j = 0; j < dim; j++)
            vec[j] /= (float)sqrt(norm);
        catalog_image image = {
            .path = path, .folder = folder, .size = 1000000 + (int64_t)(next_u64(&rng) % 9000000),
            .mtime_ns = 1600000000000000000ll + i, .content_hash = hash, .width = 4000,
            .height = 3000, .format = png ? "png" : "jpeg", .has_taken_at = true,
            .taken_at = 1104537600ll + (int64_t)(year - 2005) * 31536000 + month * 2628000,
            .camera_make = camera[0], .camera_model = camera[1], .has_phash = true,
            .phash = next_u64(&rng)};
        catalog_text text = {.caption = caption, .tags = tags, .ocr = text_read ? "open daily" : "",
                             .path_words = path_words, .exif_text = exif, .related = ""};
        catalog_tag tag_rows[6] = {{n1, "object", 0.9f}, {n2, "object", 0.7f},
                                   {c1, "color", 0.6f}, {c2, "color", 0.4f},
                                   {place, "scene", 0.5f}};
        /* the same word twice would repeat the tags' primary key */
        size_t ntags = 5;
        if (!strcmp(n1, n2))
            tag_rows[1] = tag_rows[--ntags];
        if (!strcmp(tag_rows[2].tag, tag_rows[3].tag) && ntags == 5)
            tag_rows[3] = tag_rows[--ntags];
        if (face)
            tag_rows[ntags++] = (catalog_tag){"face", "face", 0.95f};
        catalog_embedding embedding = {.model = model_id, .dim = dim, .data = vec};
        check(catalog_put_image(cat, &image, &text, tag_rows, ntags, &embedding, NULL, &err),
              &err, path);
        if ((i + 1) % batch == 0 || i + 1 == count) {
            check(catalog_commit(cat, &err), &err, "commit");
            fprintf(stderr, "\rrows: %lld/%lld", i + 1, count);
        }
    }
    fprintf(stderr, "\n");
    double rows_s = bench_now_s() - t0;
    check(catalog_begin(cat, &err), &err, "begin");
    check(catalog_meta_set(cat, "embedding_model", model_id, &err), &err, "meta");
    check(catalog_commit(cat, &err), &err, "commit");
    check(clip_record_model(cat, model_dir, model_id, CS_CLIP_F32, &err), &err, "recording");
    catalog_close(cat);
    double lists_s = refresh_text_lists(catalog_path);

    /* Opening the library builds and saves the vector file for the model. */
    double t1 = bench_now_s();
    check(cs_library_open(db, NULL, &lib, &err), &err, db);
    cs_stats stats;
    check(cs_library_stats(lib, &stats, &err), &err, "stats");
    cs_library_close(lib);
    double vectors_s = bench_now_s() - t1;
    if (stats.vectors != count)
        bench_die(db, "the vector file does not hold every picture");
    printf("{\"count\": %lld, \"dim\": %d, \"model\": \"%s\", \"rows_s\": %.2f, "
           "\"text_lists_s\": %.2f, \"vectors_s\": %.2f}\n",
           count, dim, model_id, rows_s, lists_s, vectors_s);
    free(vec);
    free(centres);
    free(order);
    for (int k = 0; k < KINDS; k++) {
        for (size_t j = 0; j < lists[k].n; j++)
            free(lists[k].words[j]);
        free(lists[k].words);
        free(lists[k].cdf);
    }
    return 0;
}
