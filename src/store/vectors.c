/* The vector index over the FAISS C API. See vectors.h for the file layout.
 *
 * Loading trusts nothing in the file: the header, the lengths, the checksum
 * and the FAISS payload's own structure are checked against the file size
 * before FAISS parses anything, because FAISS allocates whatever sizes a
 * damaged file claims (up to 2^40 elements) before noticing the data is not
 * there, and accepts any bit pattern as a vector or an id. */
#include "store/vectors.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <faiss/c_api/IndexIVF_c.h>
#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/MetaIndexes_c.h>
#include <faiss/c_api/error_c.h>
#include <faiss/c_api/impl/AuxIndexStructures_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>
#include <xxhash.h>

#include "common/fsutil.h"
#include "store/faiss_extra.h"

/* The last magic byte is the format version; the first seven never change. */
#define VEC_MAGIC "CSVEC\0\0\3"
#define VEC_MAGIC_LEN 8
#define VEC_VERSION 3
/* magic, generation, dim, model id length, kind, nprobe, nlist, trained_for */
#define VEC_HEADER_LEN 48
#define VEC_TRAILER_LEN 16  /* generation again, XXH3-64 of all bytes before */
#define VEC_HASH_CHUNK ((size_t)1 << 20)
#define VEC_MODEL_MAX 256
#define VEC_DIM_MAX 65536
#define VEC_NLIST_MAX ((uint64_t)1 << 24)

/* Past its nprobe lists an IVF search goes on, up to IVF_DEEPER_FACTOR
 * times as many, while the next list may still hold a better vector than
 * the k-th found: its centroid's score plus IVF_MARGIN_SPREADS residual
 * spreads (cs_faiss_ivf_residual_spread: the deviation of a query's dot
 * product with a residual) reaches that score. A query like the indexed
 * vectors (what nprobe is calibrated on) has its best far above the other
 * lists and stops at nprobe; one in a direction the clusters do not follow
 * (a text query to pictures can be) goes deeper. A million clustered
 * vectors, random directions as queries, recall@10: 0.52 at nprobe 16;
 * 0.84, 0.93, 0.97 with up to 4, 8, 16 times as many lists (2.3, 4.3,
 * 8.2 ms; exact search 90 ms). Clustered queries: 0.968 -> 0.971. */
#define IVF_DEEPER_FACTOR 8
#define IVF_MARGIN_SPREADS 4.0f
#define IVF_SPREAD_SAMPLE 4096

/* IVF parameters. nlist ~ 4 sqrt(n) (FAISS's guideline is 4..16 sqrt(n):
 * the low end, because training and adding cost grow with nlist) and at
 * most n / IVF_TRAIN_PER_LIST, so that k-means gets the points per centroid
 * FAISS asks for (it warns on stderr below 39). */
#define IVF_LISTS_PER_SQRT 4.0
#define IVF_TRAIN_PER_LIST 40
#define SELECTED_LISTS_FACTOR 4.0   /* vectors_search_among */
#define SELECTED_PROBES_FACTOR_MAX 16.0   /* vectors_search_among */
/* A filtered search goes deeper as an unfiltered one does (the k-th best
 * being the k-th allowed), from a floor already raised, so less far: a
 * million clustered vectors, random directions as queries, recall@10 among
 * 10% / 1% of the ids 0.959 / 0.923 (3.8 / 1.4 ms) with the floor alone;
 * up to 2, 4, 8 times as many lists: 0.981 / 0.969 (6.2 / 2.6 ms), 0.985 /
 * 0.984 (7.3 / 3.3 ms), 0.985 / 0.987 (8.3 / 4.8 ms). Exact: 60-65 / 10-12
 * ms. Clustered queries stop at the floor (0.981 / 0.988 either way). */
#define SELECTED_DEEPER_FACTOR 4
/* nprobe is the smallest value on a 1.5x ladder whose recall@10 (the query
 * itself left out) against exact search reaches IVF_TARGET_RECALL on
 * IVF_CALIBRATION_QUERIES of the indexed vectors: a margin over the 0.95
 * wanted for queries that are not in the index. */
#define IVF_TARGET_RECALL 0.97
#define IVF_CALIBRATION_QUERIES 200
#define IVF_CALIBRATION_K 10
/* The FAISS serialisation of IndexScalarQuantizer's QT_8bit and RS_minmax. */
#define FAISS_QT_8BIT 0
#define FAISS_RS_MINMAX 0

/* The FAISS serialisation of IndexIDMap2 over IndexFlatIP (as faiss_write_index
 * writes it): "IxM2", index header, "IxFI", index header, u64 float count +
 * floats, u64 id count + ids. An index header is i32 d, i64 ntotal, two i64
 * fields FAISS always writes as 2^20, u8 is_trained, i32 metric type. */
#define FAISS_INDEX_HEADER_LEN 33
#define FAISS_FIXED_PREFIX (4 + FAISS_INDEX_HEADER_LEN + 4 + FAISS_INDEX_HEADER_LEN + 8)
#define FAISS_FIXED_LEN (FAISS_FIXED_PREFIX + 8)
#define FAISS_HEADER_DUMMY (INT64_C(1) << 20)

/* Ids are non-negative (FAISS reports "no result" as -1), so -1 marks an
 * empty slot. */
#define IDSET_EMPTY INT64_C(-1)

/* An open-addressing set of the ids in the index, so that vectors_add can
 * tell which ids it replaces without asking FAISS to scan everything. It is
 * rebuilt from FAISS's own id list after every removal. */
typedef struct idset {
    int64_t *slots;
    size_t cap;     /* a power of two, or 0 */
    size_t count;
} idset;

struct vectors {
    FaissIndex *idx;   /* an IndexIDMap2 over IndexFlatIP, or an IndexIVFScalarQuantizer */
    char *model;
    int dim;
    vectors_kind kind;
    size_t nlist;          /* IVF: lists; 0 for exact */
    size_t nprobe;         /* IVF: lists searched per query, also set in FAISS */
    float probe_margin;    /* IVF: see ivf_search; 0 = nprobe lists exactly */
    int64_t trained_for;   /* IVF: vectors it was trained for */
    int64_t generation;
    idset ids;
    bool ids_stale;    /* a failed FAISS call left `ids` unsynchronised */
    atomic_int refs;   /* readers holding it (see vectors_retain) */
};

/* v->probe_margin from the residuals of the index's codes. */
static cs_status set_probe_margin(vectors *v, cs_error *err)
{
    float spread = 0.0f;
    char msg[256];
    if (cs_faiss_ivf_residual_spread(v->idx, IVF_SPREAD_SAMPLE, &spread, msg, sizeof msg) != 0)
        return cs_error_set(err, CS_ERR_VECTOR, "cannot measure the vector index's lists: %s",
                            msg);
    v->probe_margin = IVF_MARGIN_SPREADS * spread;
    return CS_OK;
}

/* ---- id set ---- */

static size_t idset_slot(int64_t id, size_t cap)
{
    uint64_t x = (uint64_t)id;   /* splitmix64 finaliser: SQLite rowids are sequential */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (size_t)x & (cap - 1);
}

static bool idset_contains(const idset *s, int64_t id)
{
    if (s->cap == 0)
        return false;
    for (size_t i = idset_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == id)
            return true;
        if (s->slots[i] == IDSET_EMPTY)
            return false;
    }
}

/* Inserts without growing: the caller reserved room. False if present. */
static bool idset_insert(idset *s, int64_t id)
{
    for (size_t i = idset_slot(id, s->cap);; i = (i + 1) & (s->cap - 1)) {
        if (s->slots[i] == id)
            return false;
        if (s->slots[i] == IDSET_EMPTY) {
            s->slots[i] = id;
            s->count++;
            return true;
        }
    }
}

static void idset_clear(idset *s)
{
    for (size_t i = 0; i < s->cap; i++)
        s->slots[i] = IDSET_EMPTY;
    s->count = 0;
}

/* Makes room for `want` ids at a load factor of at most 1/2. */
static bool idset_reserve(idset *s, size_t want)
{
    if (want > SIZE_MAX / 4 / sizeof(int64_t))
        return false;
    size_t cap = 16;
    while (cap < want * 2)
        cap *= 2;
    if (cap <= s->cap)
        return true;
    int64_t *slots = malloc(cap * sizeof *slots);
    if (!slots)
        return false;
    idset bigger = {slots, cap, 0};
    idset_clear(&bigger);
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i] != IDSET_EMPTY)
            idset_insert(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
    return true;
}

static void idset_free(idset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

/* ---- helpers ---- */

static const char *faiss_message(void)
{
    const char *m = faiss_get_last_error();
    return m && *m ? m : "no details from FAISS";
}

static cs_status corrupt(cs_error *err, const char *path, const char *fmt, ...) CS_PRINTF(3, 4);
static cs_status corrupt(cs_error *err, const char *path, const char *fmt, ...)
{
    char detail[CS_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return cs_error_set(err, CS_ERR_CORRUPT, "vector file '%s' is damaged: %s", path, detail);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

/* Reads n bytes at off. A short read means the file is shorter than its
 * size said (it changed under us): reported as damage. */
static cs_status read_at(FILE *f, const char *path, uint64_t off, void *buf, size_t n,
                         cs_error *err)
{
    if (fseeko(f, (off_t)off, SEEK_SET) != 0)
        return cs_error_errno(err, errno, "cannot seek in the vector file", path);
    if (fread(buf, 1, n, f) != n) {
        if (ferror(f))
            return cs_error_errno(err, errno ? errno : EIO, "cannot read the vector file", path);
        return corrupt(err, path, "it ends early (expected %zu bytes at offset %llu)", n,
                       (unsigned long long)off);
    }
    return CS_OK;
}

/* The ids FAISS holds, in its order: the exact index's id map itself
 * (*owned false), or a malloc'd copy gathered from the IVF lists. */
static cs_status faiss_ids(const vectors *v, idx_t **ids, size_t *n, bool *owned,
                           cs_error *err)
{
    *ids = NULL;
    *n = 0;
    *owned = false;
    if (v->kind == VECTORS_EXACT) {
        faiss_IndexIDMap2_id_map(faiss_IndexIDMap2_cast(v->idx), ids, n);
        return CS_OK;
    }
    const FaissIndexIVF *ivf = faiss_IndexIVF_cast(v->idx);
    size_t total = (size_t)faiss_Index_ntotal(v->idx);
    idx_t *out = malloc((total ? total : 1) * sizeof *out);
    if (!out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing %zu vector ids", total);
    size_t got = 0;
    for (size_t list = 0; list < v->nlist; list++) {
        size_t len = faiss_IndexIVF_get_list_size(ivf, list);
        if (len > total - got) {
            free(out);
            return cs_error_set(err, CS_ERR_VECTOR, "the vector index's lists hold more ids "
                                                    "than its count (%zu)", total);
        }
        faiss_IndexIVF_invlists_get_ids(ivf, list, out + got);
        got += len;
    }
    if (got != total) {
        free(out);
        return cs_error_set(err, CS_ERR_VECTOR, "the vector index's lists hold %zu ids for "
                                                "%zu vectors", got, total);
    }
    *ids = out;
    *n = total;
    *owned = true;
    return CS_OK;
}

/* Rebuilds `ids` from FAISS's id list. Detects ids a damaged file could hold
 * twice or negative (FAISS itself accepts both silently). `path` names the
 * file being loaded, or is NULL for an index in memory. */
static cs_status sync_ids(vectors *v, const char *path, cs_error *err)
{
    idx_t *map = NULL;
    size_t n = 0;
    bool owned = false;
    cs_status rc = faiss_ids(v, &map, &n, &owned, err);
    if (rc != CS_OK) {
        v->ids_stale = true;
        return rc;
    }
    if (!idset_reserve(&v->ids, n)) {
        v->ids_stale = true;
        if (owned)
            free(map);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %zu vector ids", n);
    }
    idset_clear(&v->ids);
    for (size_t i = 0; i < n; i++) {
        if (map[i] < 0 || !idset_insert(&v->ids, map[i])) {
            v->ids_stale = true;
            const char *what = map[i] < 0 ? "a negative id" : "a repeated id";
            long long bad = (long long)map[i];
            if (owned)
                free(map);
            if (path)
                return corrupt(err, path, "the index holds %s (%lld)", what, bad);
            return cs_error_set(err, CS_ERR_VECTOR, "the vector index holds %s (%lld)", what,
                                bad);
        }
    }
    if (owned)
        free(map);
    v->ids_stale = false;
    return CS_OK;
}

static cs_status ensure_ids(vectors *v, cs_error *err)
{
    return v->ids_stale ? sync_ids(v, NULL, err) : CS_OK;
}

static bool model_ok(const char *model)
{
    return model && strnlen(model, VEC_MODEL_MAX + 1) <= VEC_MODEL_MAX;
}

/* Index of the first NaN or infinity in x, or `count` when there is none:
 * one would make every inner product with it meaningless. */
static size_t first_non_finite(const float *x, size_t count)
{
    size_t i = 0;
    while (i < count && isfinite(x[i]))
        i++;
    return i;
}

/* ---- create / free / accessors ---- */

static cs_status wrap(FaissIndex *idx, const char *model, int dim, int64_t generation,
                      vectors **out, cs_error *err)
{
    vectors *v = calloc(1, sizeof *v);
    char *m = strdup(model);
    if (!v || !m) {
        free(v);
        free(m);
        faiss_Index_free(idx);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    v->idx = idx;
    v->model = m;
    atomic_init(&v->refs, 1);
    v->dim = dim;
    v->generation = generation;
    *out = v;
    return CS_OK;
}

static cs_status check_model_dim(const char *model, int dim, cs_error *err)
{
    if (!model_ok(model))
        return cs_error_set(err, CS_ERR_INVALID,
                            "embedding model id is missing or longer than %d bytes",
                            VEC_MODEL_MAX);
    if (dim < 1 || dim > VEC_DIM_MAX)
        return cs_error_set(err, CS_ERR_INVALID,
                            "vector dimension %d is outside 1..%d", dim, VEC_DIM_MAX);
    return CS_OK;
}

cs_status vectors_create(const char *model, int dim, vectors **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_create: no output pointer");
    *out = NULL;
    cs_status rc = check_model_dim(model, dim, err);
    if (rc != CS_OK)
        return rc;
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, dim, "IDMap2,Flat", METRIC_INNER_PRODUCT) != 0)
        return cs_error_set(err, CS_ERR_VECTOR, "cannot create a %d-dimension vector index: %s",
                            dim, faiss_message());
    return wrap(idx, model, dim, 0, out, err);
}

vectors *vectors_retain(vectors *v)
{
    if (v)
        atomic_fetch_add(&v->refs, 1);
    return v;
}

void vectors_release(vectors *v)
{
    if (v && atomic_fetch_sub(&v->refs, 1) == 1)
        vectors_free(v);
}

void vectors_free(vectors *v)
{
    if (!v)
        return;
    faiss_Index_free(v->idx);
    idset_free(&v->ids);
    free(v->model);
    free(v);
}

int64_t vectors_generation(const vectors *v) { return v->generation; }
const char *vectors_model(const vectors *v) { return v->model; }
int vectors_dim(const vectors *v) { return v->dim; }
int64_t vectors_count(const vectors *v) { return (int64_t)faiss_Index_ntotal(v->idx); }
vectors_kind vectors_get_kind(const vectors *v) { return v->kind; }
int64_t vectors_nlist(const vectors *v) { return (int64_t)v->nlist; }
int vectors_nprobe(const vectors *v) { return (int)v->nprobe; }
int64_t vectors_trained_for(const vectors *v) { return v->trained_for; }

cs_status vectors_set_nprobe(vectors *v, int nprobe, cs_error *err)
{
    if (!v || v->kind != VECTORS_IVF_SQ8)
        return cs_error_set(err, CS_ERR_INVALID, "only an IVF vector index has an nprobe");
    if (nprobe < 1 || (size_t)nprobe > v->nlist)
        return cs_error_set(err, CS_ERR_INVALID, "nprobe %d is outside 1..%zu (the index's lists)",
                            nprobe, v->nlist);
    v->nprobe = (size_t)nprobe;
    faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(v->idx), v->nprobe);
    return CS_OK;
}

bool vectors_needs_retrain(const vectors *v, int64_t exact_max)
{
    int64_t n = vectors_count(v);
    if (v->kind == VECTORS_EXACT)
        return n > exact_max;
    return n > VECTORS_RETRAIN_FACTOR * v->trained_for ||
           n * VECTORS_RETRAIN_FACTOR < v->trained_for || n <= exact_max / 2;
}

cs_status vectors_replace(vectors *v, vectors *fresh, cs_error *err)
{
    if (!v || !fresh)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_replace: no index");
    if (v->dim != fresh->dim || strcmp(v->model, fresh->model) != 0)
        return cs_error_set(err, CS_ERR_INVALID,
                            "cannot replace a %d-dimension index of '%s' with a %d-dimension "
                            "one of '%s'", v->dim, v->model, fresh->dim, fresh->model);
    FaissIndex *old_idx = v->idx;
    idset old_ids = v->ids;
    v->idx = fresh->idx;
    v->ids = fresh->ids;
    v->ids_stale = fresh->ids_stale;
    v->kind = fresh->kind;
    v->nlist = fresh->nlist;
    v->nprobe = fresh->nprobe;
    v->probe_margin = fresh->probe_margin;
    v->trained_for = fresh->trained_for;
    fresh->idx = old_idx;
    fresh->ids = old_ids;
    vectors_free(fresh);
    return CS_OK;
}

/* ---- load ---- */

/* Checks the FAISS payload [off, off + len) has exactly the structure and
 * size of an IDMap2 over a flat inner-product index of `dim` dimensions.
 * Sets *count to its number of vectors. */
static cs_status check_flat_payload(FILE *f, const char *path, uint64_t off, uint64_t len,
                               uint32_t dim, int64_t *count, cs_error *err)
{
    if (len < FAISS_FIXED_LEN)
        return corrupt(err, path, "the FAISS index is %llu bytes, too short to be one",
                       (unsigned long long)len);
    unsigned char b[FAISS_FIXED_PREFIX];
    cs_status rc = read_at(f, path, off, b, sizeof b, err);
    if (rc != CS_OK)
        return rc;
    static const char *const tags[2] = {"IxM2", "IxFI"};
    static const char *const names[2] = {"an IDMap2 index", "a flat inner-product index"};
    const unsigned char *h = b;
    uint64_t ntotal = 0;
    for (int level = 0; level < 2; level++) {
        if (memcmp(h, tags[level], 4) != 0) {
            char tag[5];
            for (int i = 0; i < 4; i++)
                tag[i] = h[i] >= 0x20 && h[i] < 0x7f ? (char)h[i] : '?';
            tag[4] = '\0';
            return corrupt(err, path, "the FAISS index is not %s (type tag '%s')",
                           names[level], tag);
        }
        h += 4;
        uint32_t d = get_u32(h);
        uint64_t n = get_u64(h + 4);
        if (d != dim)
            return corrupt(err, path, "the FAISS index has %u dimensions, the header says %u",
                           d, dim);
        if (level == 0)
            ntotal = n;
        else if (n != ntotal)
            return corrupt(err, path, "the FAISS index counts %llu and %llu vectors",
                           (unsigned long long)ntotal, (unsigned long long)n);
        if (get_u64(h + 12) != (uint64_t)FAISS_HEADER_DUMMY ||
            get_u64(h + 20) != (uint64_t)FAISS_HEADER_DUMMY || h[28] != 1 ||
            get_u32(h + 29) != (uint32_t)METRIC_INNER_PRODUCT)
            return corrupt(err, path, "the FAISS index header is not that of a trained "
                                      "inner-product index");
        h += FAISS_INDEX_HEADER_LEN;
    }
    /* Bound the count by the bytes present before multiplying with it. */
    uint64_t per_vector = (uint64_t)dim * sizeof(float) + sizeof(int64_t);
    if (ntotal > (len - FAISS_FIXED_LEN) / per_vector ||
        len != FAISS_FIXED_LEN + ntotal * per_vector)
        return corrupt(err, path, "the FAISS index claims %llu vectors of %u dimensions, "
                                  "which does not match its %llu bytes",
                       (unsigned long long)ntotal, dim, (unsigned long long)len);
    if (get_u64(h) != ntotal * dim)
        return corrupt(err, path, "the FAISS index holds %llu floats, expected %llu",
                       (unsigned long long)get_u64(h), (unsigned long long)(ntotal * dim));
    unsigned char nids[8];
    rc = read_at(f, path, off + FAISS_FIXED_PREFIX + ntotal * dim * sizeof(float), nids,
                 sizeof nids, err);
    if (rc != CS_OK)
        return rc;
    if (get_u64(nids) != ntotal)
        return corrupt(err, path, "the FAISS index holds %llu ids for %llu vectors",
                       (unsigned long long)get_u64(nids), (unsigned long long)ntotal);
    *count = (int64_t)ntotal;
    return CS_OK;
}

/* A bounded reader over the FAISS payload, for the IVF walk below. */
typedef struct cursor {
    FILE *f;
    const char *path;
    uint64_t off, end;
} cursor;

static cs_status cur_skip(cursor *c, uint64_t n, const char *what, cs_error *err)
{
    if (n > c->end - c->off)
        return corrupt(err, c->path, "the FAISS index ends inside its %s", what);
    c->off += n;
    return CS_OK;
}

static cs_status cur_read(cursor *c, void *buf, size_t n, const char *what, cs_error *err)
{
    uint64_t at = c->off;
    cs_status rc = cur_skip(c, n, what, err);
    return rc == CS_OK ? read_at(c->f, c->path, at, buf, n, err) : rc;
}

static cs_status cur_u64(cursor *c, uint64_t *v, const char *what, cs_error *err)
{
    unsigned char b[8];
    cs_status rc = cur_read(c, b, sizeof b, what, err);
    *v = rc == CS_OK ? get_u64(b) : 0;
    return rc;
}

/* Reads a u64 that must equal `want`. */
static cs_status cur_expect_u64(cursor *c, uint64_t want, const char *what, cs_error *err)
{
    uint64_t v = 0;
    cs_status rc = cur_u64(c, &v, what, err);
    if (rc == CS_OK && v != want)
        rc = corrupt(err, c->path, "the FAISS index's %s is %llu, expected %llu", what,
                     (unsigned long long)v, (unsigned long long)want);
    return rc;
}

static cs_status cur_expect_tag(cursor *c, const char *tag, const char *name, cs_error *err)
{
    unsigned char b[4];
    cs_status rc = cur_read(c, b, sizeof b, name, err);
    if (rc == CS_OK && memcmp(b, tag, 4) != 0) {
        char got[5];
        for (int i = 0; i < 4; i++)
            got[i] = b[i] >= 0x20 && b[i] < 0x7f ? (char)b[i] : '?';
        got[4] = '\0';
        rc = corrupt(err, c->path, "the FAISS index is not %s (type tag '%s')", name, got);
    }
    return rc;
}

/* An index header (d, ntotal, two dummies, is_trained, metric) of a trained
 * inner-product index of `dim` dimensions. */
static cs_status cur_index_header(cursor *c, uint32_t dim, uint64_t *ntotal, cs_error *err)
{
    unsigned char h[FAISS_INDEX_HEADER_LEN];
    cs_status rc = cur_read(c, h, sizeof h, "index header", err);
    if (rc != CS_OK)
        return rc;
    if (get_u32(h) != dim)
        return corrupt(err, c->path, "the FAISS index has %u dimensions, the header says %u",
                       get_u32(h), dim);
    if (get_u64(h + 12) != (uint64_t)FAISS_HEADER_DUMMY ||
        get_u64(h + 20) != (uint64_t)FAISS_HEADER_DUMMY || h[28] != 1 ||
        get_u32(h + 29) != (uint32_t)METRIC_INNER_PRODUCT)
        return corrupt(err, c->path, "the FAISS index header is not that of a trained "
                                     "inner-product index");
    *ntotal = get_u64(h + 4);
    return CS_OK;
}

/* The inverted lists' sizes ("full": one per list; "sprs": list number and
 * size of each non-empty list, the lists ascending), as FAISS writes them:
 * "full" exactly when more than half of the lists are non-empty. Sets *sum. */
static cs_status cur_list_sizes(cursor *c, uint64_t nlist, uint64_t ntotal, uint64_t *sum,
                                cs_error *err)
{
    unsigned char type[4];
    cs_status rc = cur_read(c, type, sizeof type, "list layout", err);
    bool full = rc == CS_OK && memcmp(type, "full", 4) == 0;
    if (rc == CS_OK && !full && memcmp(type, "sprs", 4) != 0)
        rc = corrupt(err, c->path, "the FAISS index's inverted lists have an unknown layout");
    uint64_t count = 0;
    if (rc == CS_OK)
        rc = cur_u64(c, &count, "list size count", err);
    if (rc != CS_OK)
        return rc;
    if (full ? count != nlist : count % 2 != 0 || count / 2 > nlist)
        return corrupt(err, c->path, "the FAISS index has %llu list size entries for %llu lists",
                       (unsigned long long)count, (unsigned long long)nlist);
    uint64_t total = 0, nonempty = 0, next_list = 0;
    unsigned char b[8 * 512];
    for (uint64_t i = 0; i < count;) {
        size_t chunk = count - i < 512 ? (size_t)(count - i) : 512;
        rc = cur_read(c, b, chunk * 8, "list sizes", err);
        if (rc != CS_OK)
            return rc;
        for (size_t j = 0; j < chunk; j++, i++) {
            uint64_t v = get_u64(b + 8 * j);
            if (!full && i % 2 == 0) {   /* a list number */
                if (v < next_list || v >= nlist)
                    return corrupt(err, c->path, "the FAISS index names list %llu out of "
                                                 "order or outside 0..%llu",
                                   (unsigned long long)v, (unsigned long long)nlist - 1);
                next_list = v + 1;
                continue;
            }
            if (v > ntotal - total || (!full && v == 0))
                return corrupt(err, c->path, "the FAISS index's list sizes do not add up to "
                                             "its %llu vectors", (unsigned long long)ntotal);
            total += v;
            nonempty += v > 0;
        }
    }
    if (full != (nonempty > nlist / 2))
        return corrupt(err, c->path, "the FAISS index's list layout is not the one FAISS "
                                     "writes for %llu of %llu lists in use",
                       (unsigned long long)nonempty, (unsigned long long)nlist);
    *sum = total;
    return CS_OK;
}

/* Checks the FAISS payload [off, off + len) has exactly the structure and
 * size of what vectors_save writes for an IVF-SQ8 index: "IwSq", index
 * header, nlist, nprobe, the coarse quantizer ("IxFI", header, centroids),
 * no direct map, the scalar quantizer (8-bit, min-max, its 2 * dim trained
 * floats), code size, by_residual, and array inverted lists ("ilar", nlist,
 * code size, sizes, then each non-empty list's codes and ids). Every count
 * is bounded by the bytes present before anything is multiplied with it.
 * Sets *count to its number of vectors. */
static cs_status check_ivf_payload(FILE *f, const char *path, uint64_t off, uint64_t len,
                                   uint32_t dim, uint64_t nlist, uint64_t nprobe,
                                   int64_t *count, cs_error *err)
{
    cursor c = {f, path, off, off + len};
    uint64_t ntotal = 0, nq = 0, sum = 0;
    unsigned char b[12];
    cs_status rc = cur_expect_tag(&c, "IwSq", "an IVF scalar-quantizer index", err);
    if (rc == CS_OK)
        rc = cur_index_header(&c, dim, &ntotal, err);
    if (rc == CS_OK && ntotal > len / dim)
        rc = corrupt(err, path, "the FAISS index claims %llu vectors in %llu bytes",
                     (unsigned long long)ntotal, (unsigned long long)len);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, nlist, "list count", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, nprobe, "nprobe", err);
    if (rc == CS_OK)
        rc = cur_expect_tag(&c, "IxFI", "an IVF over a flat inner-product quantizer", err);
    if (rc == CS_OK)
        rc = cur_index_header(&c, dim, &nq, err);
    if (rc == CS_OK && nq != nlist)
        rc = corrupt(err, path, "the FAISS index's quantizer has %llu centroids for %llu lists",
                     (unsigned long long)nq, (unsigned long long)nlist);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, nlist * dim, "centroid float count", err);
    if (rc == CS_OK)
        rc = cur_skip(&c, nlist * dim * sizeof(float), "centroids", err);
    if (rc == CS_OK)   /* direct map: u8 type (none) and u64 array length */
        rc = cur_read(&c, b, 9, "direct map", err);
    if (rc == CS_OK && (b[0] != 0 || get_u64(b + 1) != 0))
        rc = corrupt(err, path, "the FAISS index has a direct map; vector files have none");
    if (rc == CS_OK)   /* qtype, rangestat, rangestat_arg */
        rc = cur_read(&c, b, 12, "scalar quantizer", err);
    if (rc == CS_OK && (get_u32(b) != FAISS_QT_8BIT || get_u32(b + 4) != FAISS_RS_MINMAX ||
                        get_u32(b + 8) != 0))
        rc = corrupt(err, path, "the FAISS index's scalar quantizer is not 8-bit min-max");
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, dim, "quantizer dimension", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, dim, "quantizer code size", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, 2 * (uint64_t)dim, "quantizer trained float count", err);
    if (rc == CS_OK)
        rc = cur_skip(&c, 2 * (uint64_t)dim * sizeof(float), "quantizer ranges", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, dim, "code size", err);
    if (rc == CS_OK)
        rc = cur_read(&c, b, 1, "residual flag", err);
    if (rc == CS_OK && b[0] != 1)
        rc = corrupt(err, path, "the FAISS index does not encode residuals");
    if (rc == CS_OK)
        rc = cur_expect_tag(&c, "ilar", "an IVF with array inverted lists", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, nlist, "inverted list count", err);
    if (rc == CS_OK)
        rc = cur_expect_u64(&c, dim, "inverted list code size", err);
    if (rc == CS_OK)
        rc = cur_list_sizes(&c, nlist, ntotal, &sum, err);
    if (rc == CS_OK && sum != ntotal)
        rc = corrupt(err, path, "the FAISS index's lists hold %llu vectors, its header says %llu",
                     (unsigned long long)sum, (unsigned long long)ntotal);
    if (rc == CS_OK && c.end - c.off != ntotal * ((uint64_t)dim + sizeof(int64_t)))
        rc = corrupt(err, path, "the FAISS index's %llu vectors of %u bytes and their ids do "
                                "not fill its remaining %llu bytes",
                     (unsigned long long)ntotal, dim, (unsigned long long)(c.end - c.off));
    if (rc == CS_OK)
        *count = (int64_t)ntotal;
    return rc;
}

/* Checks that the XXH3-64 of the file's first `len` bytes is `want`. The
 * bytes are read once here and again by FAISS, without holding the index
 * twice in memory; that is sound because a vector file is never changed in
 * place, only replaced by a rename, which leaves the open file as it was. */
static cs_status check_checksum(FILE *f, const char *path, uint64_t len, uint64_t want,
                                cs_error *err)
{
    XXH3_state_t *st = XXH3_createState();
    unsigned char *buf = malloc(VEC_HASH_CHUNK);
    cs_status rc = CS_OK;
    if (!st || !buf || XXH3_64bits_reset(st) != XXH_OK)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory checking the vector file '%s'",
                          path);
    for (uint64_t off = 0; rc == CS_OK && off < len;) {
        size_t n = len - off < VEC_HASH_CHUNK ? (size_t)(len - off) : VEC_HASH_CHUNK;
        rc = read_at(f, path, off, buf, n, err);
        if (rc == CS_OK)
            XXH3_64bits_update(st, buf, n);   /* fails only for a NULL buffer */
        off += n;
    }
    if (rc == CS_OK) {
        uint64_t got = XXH3_64bits_digest(st);
        if (got != want)
            rc = corrupt(err, path, "its checksum %016llx does not match its contents "
                                    "(%016llx)",
                         (unsigned long long)want, (unsigned long long)got);
    }
    free(buf);
    XXH3_freeState(st);
    return rc;
}

/* Parses and checks everything; on success *out owns the FAISS index. */
static cs_status load_file(FILE *f, const char *path, vectors **out, cs_error *err)
{
    struct stat st;
    if (fstat(fileno(f), &st) != 0)
        return cs_error_errno(err, errno, "cannot stat the vector file", path);
    if (!S_ISREG(st.st_mode))
        return corrupt(err, path, "it is not a regular file");
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0)
        return corrupt(err, path, "it is empty");
    if (size < VEC_HEADER_LEN + VEC_TRAILER_LEN)
        return corrupt(err, path, "it is only %llu bytes", (unsigned long long)size);

    unsigned char h[VEC_HEADER_LEN];
    cs_status rc = read_at(f, path, 0, h, sizeof h, err);
    if (rc != CS_OK)
        return rc;
    if (memcmp(h, VEC_MAGIC, VEC_MAGIC_LEN - 1) != 0)
        return corrupt(err, path, "it is not a capsearch vector file (wrong magic bytes)");
    if (h[VEC_MAGIC_LEN - 1] != VEC_VERSION)
        return corrupt(err, path, "it is in %s format (version %u; this build reads version %d)",
                       h[VEC_MAGIC_LEN - 1] < VEC_VERSION ? "an older" : "a newer or unknown",
                       (unsigned)h[VEC_MAGIC_LEN - 1], VEC_VERSION);
    uint64_t generation = get_u64(h + 8);
    uint32_t dim = get_u32(h + 16);
    uint32_t model_len = get_u32(h + 20);
    uint32_t kind = get_u32(h + 24);
    uint32_t nprobe = get_u32(h + 28);
    uint64_t nlist = get_u64(h + 32);
    uint64_t trained_for = get_u64(h + 40);
    if (dim < 1 || dim > VEC_DIM_MAX)
        return corrupt(err, path, "its dimension %u is outside 1..%d", dim, VEC_DIM_MAX);
    if (kind == VECTORS_EXACT) {
        if (nprobe != 0 || nlist != 0 || trained_for != 0)
            return corrupt(err, path, "its exact index has IVF parameters");
    } else if (kind == VECTORS_IVF_SQ8) {
        if (nlist < 1 || nlist > VEC_NLIST_MAX || nprobe < 1 || nprobe > nlist ||
            trained_for < 1 || trained_for > INT64_MAX / VECTORS_RETRAIN_FACTOR)
            return corrupt(err, path, "its IVF parameters are out of range (nlist %llu, "
                                      "nprobe %u, trained for %llu vectors)",
                           (unsigned long long)nlist, nprobe, (unsigned long long)trained_for);
    } else {
        return corrupt(err, path, "its index kind %u is unknown", kind);
    }
    if (model_len > VEC_MODEL_MAX)
        return corrupt(err, path, "its model id length %u is over %d", model_len,
                       VEC_MODEL_MAX);
    if (VEC_HEADER_LEN + (uint64_t)model_len + VEC_TRAILER_LEN > size)
        return corrupt(err, path, "it is truncated (%llu bytes)", (unsigned long long)size);

    char model[VEC_MODEL_MAX + 1];
    rc = read_at(f, path, VEC_HEADER_LEN, model, model_len, err);
    if (rc != CS_OK)
        return rc;
    model[model_len] = '\0';
    if (strlen(model) != model_len)
        return corrupt(err, path, "its model id contains a NUL byte");

    unsigned char t[VEC_TRAILER_LEN];
    rc = read_at(f, path, size - VEC_TRAILER_LEN, t, sizeof t, err);
    if (rc != CS_OK)
        return rc;
    if (get_u64(t) != generation)
        return corrupt(err, path, "its trailer (%llu) does not repeat the header's generation "
                                  "(%llu): an interrupted write",
                       (unsigned long long)get_u64(t), (unsigned long long)generation);
    /* Before FAISS sees a byte: it would take any damaged float or id. */
    rc = check_checksum(f, path, size - VEC_TRAILER_LEN, get_u64(t + 8), err);
    if (rc != CS_OK)
        return rc;

    uint64_t payload_off = VEC_HEADER_LEN + model_len;
    uint64_t payload_len = size - payload_off - VEC_TRAILER_LEN;
    int64_t count = 0;
    if (kind == VECTORS_EXACT)
        rc = check_flat_payload(f, path, payload_off, payload_len, dim, &count, err);
    else
        rc = check_ivf_payload(f, path, payload_off, payload_len, dim, nlist, nprobe, &count,
                               err);
    if (rc != CS_OK)
        return rc;

    if (fseeko(f, (off_t)payload_off, SEEK_SET) != 0)
        return cs_error_errno(err, errno, "cannot seek in the vector file", path);
    FaissIndex *idx = NULL;
    if (faiss_read_index(f, 0, &idx) != 0)
        return corrupt(err, path, "FAISS cannot read the index: %s", faiss_message());
    off_t end = ftello(f);
    const char *problem = NULL;
    FaissIndexIVF *ivf = kind == VECTORS_IVF_SQ8 ? faiss_IndexIVF_cast(idx) : NULL;
    if (end < 0 || (uint64_t)end != payload_off + payload_len)
        problem = "FAISS read a different length than the index occupies";
    else if (kind == VECTORS_EXACT && !faiss_IndexIDMap2_cast(idx))
        problem = "the index is not an IDMap2";
    else if (kind == VECTORS_IVF_SQ8 && !ivf)
        problem = "the index is not an IVF";
    else if (ivf && (faiss_IndexIVF_nlist(ivf) != nlist || faiss_IndexIVF_nprobe(ivf) != nprobe))
        problem = "the IVF's lists or nprobe differ from the header's";
    else if (faiss_Index_d(idx) != (int)dim)
        problem = "the index dimension differs from the header's";
    else if (faiss_Index_metric_type(idx) != METRIC_INNER_PRODUCT)
        problem = "the index does not use inner product";
    else if (faiss_Index_ntotal(idx) != count)
        problem = "the index holds a different number of vectors than its layout";
    if (problem) {
        faiss_Index_free(idx);
        return corrupt(err, path, "%s", problem);
    }

    vectors *v = NULL;
    rc = wrap(idx, model, (int)dim, (int64_t)generation, &v, err);
    if (rc == CS_OK) {
        v->kind = (vectors_kind)kind;
        v->nlist = (size_t)nlist;
        v->nprobe = nprobe;
        v->trained_for = (int64_t)trained_for;
        rc = sync_ids(v, path, err);
    }
    if (rc == CS_OK && v->kind == VECTORS_IVF_SQ8)
        rc = set_probe_margin(v, err);
    if (rc != CS_OK) {
        vectors_free(v);
        return rc;
    }
    *out = v;
    return CS_OK;
}

cs_status vectors_load(const char *path, vectors **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_load: no output pointer");
    *out = NULL;
    if (!path || !*path)
        return cs_error_set(err, CS_ERR_INVALID, "no vector file name given");
    FILE *f = fopen(path, "rbe");
    if (!f)
        return cs_error_errno(err, errno, "cannot open the vector file", path);
    cs_status rc = load_file(f, path, out, err);
    fclose(f);
    return rc;
}

/* ---- save ---- */

typedef struct save_ctx {
    const vectors *v;
    const char *path;
    int64_t generation;
} save_ctx;

static cs_status write_failed(const char *path, cs_error *err)
{
    int e = errno;
    return cs_error_errno(err, e ? e : EIO, "cannot write the vector file", path);
}

/* A write-only stream that passes everything on to `out` and hashes it, so
 * the checksum covers exactly the bytes written, FAISS's included, without
 * holding the index twice in memory. */
typedef struct hashing_writer {
    FILE *out;
    XXH3_state_t *st;
} hashing_writer;

static ssize_t hashing_write(void *cookie, const char *buf, size_t n)
{
    hashing_writer *w = cookie;
    size_t done = fwrite(buf, 1, n, w->out);
    XXH3_64bits_update(w->st, buf, done);
    if (done < n && errno == 0)
        errno = EIO;
    return (ssize_t)done;
}

/* Header, model id and FAISS index through a hashing stream. */
static cs_status write_body(FILE *f, const save_ctx *c, cs_error *err)
{
    size_t model_len = strlen(c->v->model);
    unsigned char h[VEC_HEADER_LEN + VEC_MODEL_MAX];
    memcpy(h, VEC_MAGIC, VEC_MAGIC_LEN);
    put_u64(h + 8, (uint64_t)c->generation);
    put_u32(h + 16, (uint32_t)c->v->dim);
    put_u32(h + 20, (uint32_t)model_len);
    put_u32(h + 24, (uint32_t)c->v->kind);
    put_u32(h + 28, (uint32_t)c->v->nprobe);
    put_u64(h + 32, (uint64_t)c->v->nlist);
    put_u64(h + 40, (uint64_t)c->v->trained_for);
    memcpy(h + VEC_HEADER_LEN, c->v->model, model_len);
    errno = 0;
    if (fwrite(h, 1, VEC_HEADER_LEN + model_len, f) != VEC_HEADER_LEN + model_len)
        return write_failed(c->path, err);
    if (faiss_write_index(c->v->idx, f) != 0)
        return cs_error_set(err, CS_ERR_IO, "cannot write the vector index to '%s': %s",
                            c->path, faiss_message());
    return CS_OK;
}

static cs_status write_vectors(FILE *f, void *user, cs_error *err)
{
    const save_ctx *c = user;
    hashing_writer w = {f, XXH3_createState()};
    if (!w.st || XXH3_64bits_reset(w.st) != XXH_OK) {
        XXH3_freeState(w.st);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory writing '%s'", c->path);
    }
    FILE *hf = fopencookie(&w, "wb", (cookie_io_functions_t){.write = hashing_write});
    if (!hf) {
        XXH3_freeState(w.st);
        return cs_error_errno(err, errno, "cannot write the vector file", c->path);
    }
    cs_status rc = write_body(hf, c, err);
    errno = 0;
    if (fclose(hf) != 0 && rc == CS_OK)   /* flushes the rest into f and the hash */
        rc = write_failed(c->path, err);
    uint64_t sum = XXH3_64bits_digest(w.st);
    XXH3_freeState(w.st);
    if (rc != CS_OK)
        return rc;
    unsigned char t[VEC_TRAILER_LEN];
    put_u64(t, (uint64_t)c->generation);
    put_u64(t + 8, sum);
    errno = 0;
    if (fwrite(t, 1, sizeof t, f) != sizeof t || ferror(f))
        return write_failed(c->path, err);
    return CS_OK;
}

cs_status vectors_save(vectors *v, const char *path, int64_t generation, cs_error *err)
{
    if (!v || !path || !*path)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_save: no index or file name");
    save_ctx c = {v, path, generation};
    cs_status rc = fs_write_atomic(path, write_vectors, &c, err);
    if (rc == CS_OK)
        v->generation = generation;
    return rc;
}

/* ---- add / remove / list / search ---- */

/* Removes ids from FAISS and resynchronises the id set. */
static cs_status remove_from_faiss(vectors *v, size_t n, const int64_t *ids, size_t *removed,
                                   cs_error *err)
{
    FaissIDSelectorBatch *sel = NULL;
    if (faiss_IDSelectorBatch_new(&sel, n, ids) != 0)
        return cs_error_set(err, CS_ERR_VECTOR, "cannot select %zu vector ids: %s", n,
                            faiss_message());
    size_t nrem = 0;
    int frc = faiss_Index_remove_ids(v->idx, (const FaissIDSelector *)sel, &nrem);
    faiss_IDSelector_free((FaissIDSelector *)sel);
    cs_status rc = CS_OK;
    if (frc != 0)
        rc = cs_error_set(err, CS_ERR_VECTOR, "cannot remove %zu vectors: %s", n,
                          faiss_message());
    /* Even after a failure FAISS may have removed some: re-read its list.
     * This cannot allocate (the set only shrinks) unless it was stale. */
    cs_error sync_err;
    if (sync_ids(v, NULL, &sync_err) != CS_OK && rc == CS_OK)
        rc = cs_error_set(err, sync_err.code, "%s", sync_err.message);
    if (removed)
        *removed = rc == CS_OK ? nrem : 0;
    return rc;
}

cs_status vectors_add(vectors *v, size_t n, const int64_t *ids, const float *data,
                      cs_error *err)
{
    if (!v)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_add: no index");
    if (n == 0)
        return CS_OK;
    if (!ids || !data)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_add: no ids or vectors");
    if (n > (size_t)INT64_MAX / sizeof(float) / (size_t)v->dim)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "%zu vectors are too many to add at once", n);
    cs_status rc = ensure_ids(v, err);
    if (rc != CS_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0)
            return cs_error_set(err, CS_ERR_INVALID, "vector id %lld is negative",
                                (long long)ids[i]);
        size_t bad = first_non_finite(data + i * (size_t)v->dim, (size_t)v->dim);
        if (bad < (size_t)v->dim)
            return cs_error_set(err, CS_ERR_INVALID,
                                "the vector for id %lld has a non-finite value at position %zu",
                                (long long)ids[i], bad);
    }

    /* Ids repeated within the batch would leave FAISS with two entries for
     * one id; ids already present are replaced, so they are removed first. */
    idset batch = {0};
    int64_t *present = malloc(n * sizeof *present);
    size_t npresent = 0;
    if (!present || !idset_reserve(&batch, n) || !idset_reserve(&v->ids, v->ids.count + n)) {
        free(present);
        idset_free(&batch);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory adding %zu vectors", n);
    }
    for (size_t i = 0; i < n && rc == CS_OK; i++) {
        if (!idset_insert(&batch, ids[i]))
            rc = cs_error_set(err, CS_ERR_INVALID, "vector id %lld is given twice in one add",
                              (long long)ids[i]);
        else if (idset_contains(&v->ids, ids[i]))
            present[npresent++] = ids[i];
    }
    idset_free(&batch);
    if (rc == CS_OK && npresent > 0)
        rc = remove_from_faiss(v, npresent, present, NULL, err);
    free(present);
    if (rc != CS_OK)
        return rc;

    char msg[256];
    if (cs_faiss_add_with_ids(v->idx, (idx_t)n, data, ids, msg, sizeof msg) != 0) {
        rc = cs_error_set(err, CS_ERR_VECTOR, "cannot add %zu vectors to the index: %s", n,
                          msg);
        v->ids_stale = true;   /* FAISS may have added part of the batch */
        return rc;
    }
    for (size_t i = 0; i < n; i++)
        idset_insert(&v->ids, ids[i]);   /* room was reserved above */
    return CS_OK;
}

cs_status vectors_remove(vectors *v, size_t n, const int64_t *ids, size_t *removed,
                         cs_error *err)
{
    if (removed)
        *removed = 0;
    if (!v)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_remove: no index");
    if (n == 0)
        return CS_OK;
    if (!ids)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_remove: no ids");
    cs_status rc = ensure_ids(v, err);
    if (rc != CS_OK)
        return rc;
    /* FAISS scans the whole index for any removal: skip it when none of the
     * ids is there. */
    bool any = false;
    for (size_t i = 0; i < n && !any; i++)
        any = idset_contains(&v->ids, ids[i]);
    if (!any)
        return CS_OK;
    return remove_from_faiss(v, n, ids, removed, err);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

cs_status vectors_ids(const vectors *v, int64_t **ids, size_t *n, cs_error *err)
{
    if (!v || !ids || !n)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_ids: missing argument");
    *ids = NULL;
    *n = 0;
    idx_t *map = NULL;
    size_t count = 0;
    bool owned = false;
    cs_status rc = faiss_ids(v, &map, &count, &owned, err);
    if (rc != CS_OK)
        return rc;
    int64_t *out = owned ? map : malloc((count ? count : 1) * sizeof *out);
    if (!out)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory listing %zu vector ids", count);
    if (count && !owned)
        memcpy(out, map, count * sizeof *out);
    qsort(out, count, sizeof *out, cmp_id);
    *ids = out;
    *n = count;
    return CS_OK;
}

/* The nprobe lists hold about nprobe * ntotal / nlist vectors; a search for
 * more than they hold (a filtered search asking for many candidates) probes
 * more lists, up to all of them, so that it gets `want` results whenever the
 * index holds that many. The nprobe is per call: concurrent searches do not
 * share it. */
static cs_status ivf_search(const vectors *v, const float *query, idx_t want, int64_t *ids,
                            float *scores, cs_error *err)
{
    size_t ntotal = (size_t)faiss_Index_ntotal(v->idx);
    size_t per_list = ntotal / v->nlist ? ntotal / v->nlist : 1;
    size_t nprobe = v->nprobe;
    if ((size_t)want / per_list * 2 > nprobe)
        nprobe = (size_t)want / per_list * 2;
    for (;;) {
        if (nprobe > v->nlist)
            nprobe = v->nlist;
        char msg[256];
        size_t deeper = nprobe * IVF_DEEPER_FACTOR;
        if (cs_faiss_ivf_search_deeper(v->idx, 1, query, want, nprobe, deeper, v->probe_margin,
                                       scores, ids, msg, sizeof msg) != 0)
            return cs_error_set(err, CS_ERR_VECTOR, "vector search failed: %s", msg);
        if (ids[want - 1] >= 0 || nprobe == v->nlist)
            return CS_OK;   /* results come best first, -1 padding last */
        nprobe *= 4;
    }
}

/* A search needs a page of at least one and a query of finite numbers. */
static cs_status check_query(const vectors *v, const float *query, int k, cs_error *err)
{
    if (k <= 0)
        return cs_error_set(err, CS_ERR_INVALID, "asked for %d vector matches; need at least 1",
                            k);
    size_t bad = first_non_finite(query, (size_t)v->dim);
    if (bad < (size_t)v->dim)
        return cs_error_set(err, CS_ERR_INVALID,
                            "the query vector has a non-finite value at position %zu", bad);
    return CS_OK;
}

cs_status vectors_search(const vectors *v, const float *query, int k, int64_t *ids,
                         float *scores, int *found, cs_error *err)
{
    if (found)
        *found = 0;
    if (!v || !query || !ids || !scores || !found)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_search: missing argument");
    cs_status rc = check_query(v, query, k, err);
    if (rc != CS_OK)
        return rc;
    idx_t ntotal = faiss_Index_ntotal(v->idx);
    if (ntotal == 0)
        return CS_OK;
    idx_t want = k < ntotal ? k : ntotal;   /* no padding to allocate or skip */
    if (v->kind == VECTORS_EXACT) {
        char msg[256];
        if (cs_faiss_exact_search(v->idx, query, want, scores, ids, msg, sizeof msg) != 0)
            return cs_error_set(err, CS_ERR_VECTOR, "vector search failed: %s", msg);
    } else {
        rc = ivf_search(v, query, want, ids, scores, err);
        if (rc != CS_OK)
            return rc;
    }
    int kept = 0;
    for (idx_t i = 0; i < want; i++) {
        if (ids[i] < 0)
            continue;   /* FAISS's "no result" */
        ids[kept] = ids[i];
        scores[kept] = scores[i];
        kept++;
    }
    *found = kept;
    return CS_OK;
}

cs_status vectors_search_among(const vectors *v, const float *query, int k,
                               const int64_t *allowed, size_t nallowed, int64_t *ids,
                               float *scores, int *found, cs_error *err)
{
    if (found)
        *found = 0;
    if (!v || !query || !ids || !scores || !found || (nallowed && !allowed))
        return cs_error_set(err, CS_ERR_INVALID, "vectors_search_among: missing argument");
    cs_status rc = check_query(v, query, k, err);
    if (rc != CS_OK)
        return rc;
    idx_t ntotal = faiss_Index_ntotal(v->idx);
    if (ntotal == 0 || nallowed == 0)
        return CS_OK;
    idx_t want = k < ntotal ? k : ntotal;
    if ((size_t)want > nallowed)
        want = (idx_t)nallowed;
    /* Few allowed ids are spread over many lists: start from the nprobe
     * the index was calibrated with, or from as many lists as hold
     * SELECTED_LISTS_FACTOR times `want` of them on average, and widen until
     * `want` are found. The nearest allowed ids lie in more lists than the
     * first `want` found: at a million vectors, recall@20 (of 400 asked)
     * against the exact ranking of a month, a place and a type went from
     * 0.995, 0.897 and 0.825 with a factor of 4/3 (5 ms) to 0.995, 0.965
     * and 0.955 with 4 (7-11 ms); 6 gave 0.995, 0.98 and 0.975 (9-10 ms).
     * A broad filter's nearest ids are as deep as the first want * ntotal /
     * nallowed of the whole index, deeper than the calibrated nprobe
     * reaches: it is raised by twice the inverse share, up to
     * SELECTED_PROBES_FACTOR_MAX times. At a million vectors, with faces (1
     * in 10), recall@20 went from 0.787 to 0.970 (4.4 to 8.2 ms of vector
     * search, before the own scan of faiss_extra.cpp); raising by the
     * inverse share alone, at most 8 times, gave 0.907 (6.2 ms). */
    size_t nprobe = v->kind == VECTORS_EXACT ? 0 : (size_t)v->nprobe;
    if (v->kind != VECTORS_EXACT) {
        double raise = 2.0 * (double)ntotal / (double)nallowed;
        double floor = (double)nprobe * (raise < SELECTED_PROBES_FACTOR_MAX
                                             ? raise : SELECTED_PROBES_FACTOR_MAX);
        double lists = (double)want * (double)v->nlist / (double)nallowed * SELECTED_LISTS_FACTOR;
        if (floor > lists)
            lists = floor;
        if (lists > (double)nprobe)
            nprobe = lists < (double)v->nlist ? (size_t)lists : v->nlist;
        if (nprobe == 0)
            nprobe = 1;
    }
    for (;;) {
        char msg[256];
        size_t deeper = nprobe * SELECTED_DEEPER_FACTOR;
        if (cs_faiss_search_among(v->idx, nprobe, deeper, v->probe_margin, query, want, allowed,
                                  nallowed, scores, ids, msg, sizeof msg) != 0)
            return cs_error_set(err, CS_ERR_VECTOR, "filtered vector search failed: %s", msg);
        if (v->kind == VECTORS_EXACT || ids[want - 1] >= 0 || nprobe >= v->nlist)
            break;
        nprobe = nprobe * 4 < v->nlist ? nprobe * 4 : v->nlist;
    }
    int kept = 0;
    for (idx_t i = 0; i < want; i++) {
        if (ids[i] < 0)
            continue;   /* FAISS's "no result" */
        ids[kept] = ids[i];
        scores[kept] = scores[i];
        kept++;
    }
    *found = kept;
    return CS_OK;
}

/* ---- build: the kind by size ---- */

cs_status vectors_exact_max(int64_t *out, cs_error *err)
{
    *out = VECTORS_EXACT_MAX;
    const char *s = getenv("CAPSEARCH_EXACT_MAX");
    if (!s || !*s)
        return CS_OK;
    char *end = NULL;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || x < 0)
        return cs_error_set(err, CS_ERR_INVALID,
                            "CAPSEARCH_EXACT_MAX='%s' is not a whole number of vectors; set it "
                            "to 0 or more, or unset it for the default (%d)",
                            s, VECTORS_EXACT_MAX);
    *out = x;
    return CS_OK;
}

static size_t ivf_nlist(size_t n)
{
    size_t nlist = (size_t)(IVF_LISTS_PER_SQRT * sqrt((double)n) + 0.5);
    if (nlist > n / IVF_TRAIN_PER_LIST)
        nlist = n / IVF_TRAIN_PER_LIST;
    if (nlist > VEC_NLIST_MAX)
        nlist = VEC_NLIST_MAX;
    return nlist ? nlist : 1;
}

/* Trains the coarse quantizer (k-means, FAISS's spherical one for inner
 * product, 10 iterations) and the scalar quantizer on IVF_TRAIN_PER_LIST
 * vectors per list, spread evenly over the input: training cost grows with
 * nlist squared, and more points per centroid barely move the centroids. */
static cs_status ivf_train(vectors *v, size_t n, const float *data, cs_error *err)
{
    size_t dim = (size_t)v->dim;
    size_t ntrain = v->nlist * IVF_TRAIN_PER_LIST;
    if (ntrain > n)
        ntrain = n;
    const float *train = data;
    float *sample = NULL;
    if (ntrain < n) {
        sample = malloc(ntrain * dim * sizeof *sample);
        if (!sample)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %zu training vectors",
                                ntrain);
        for (size_t i = 0; i < ntrain; i++)
            memcpy(sample + i * dim, data + (size_t)((double)i * n / ntrain) * dim,
                   dim * sizeof *sample);
        train = sample;
    }
    cs_status rc = CS_OK;
    char msg[256];
    if (cs_faiss_train(v->idx, (idx_t)ntrain, train, msg, sizeof msg) != 0)
        rc = cs_error_set(err, CS_ERR_VECTOR, "cannot train the vector index on %zu vectors: %s",
                          ntrain, msg);
    free(sample);
    return rc;
}

/* 1, 2, 3, 4, 6, 8, 12, 16, ...: steps of about 1.5x. */
static size_t next_nprobe(size_t p)
{
    if (p < 2)
        return p + 1;
    return (p & (p - 1)) == 0 ? p / 2 * 3 : p / 3 * 4;
}

/* Sets nprobe to the smallest value on the ladder 1, 2, 3, 4, 6, 8, 12, ...
 * (then nlist) whose recall@K on a sample of the indexed vectors reaches
 * IVF_TARGET_RECALL. Each sampled vector is a query; its own id is left out
 * of both result lists (it is always found, and would flatter the figure).
 * The exact neighbours come from FAISS's brute-force k-NN over `data`. */
static cs_status ivf_calibrate(vectors *v, size_t n, const int64_t *ids, const float *data,
                               cs_error *err)
{
    enum { K = IVF_CALIBRATION_K, KQ = K + 1 };
    size_t dim = (size_t)v->dim;
    size_t nq = n < IVF_CALIBRATION_QUERIES ? n : IVF_CALIBRATION_QUERIES;
    float *queries = malloc(nq * dim * sizeof *queries);
    float *dist = malloc(nq * KQ * sizeof *dist);
    idx_t *exact = malloc(nq * KQ * sizeof *exact);
    idx_t *got = malloc(nq * KQ * sizeof *got);
    size_t *rows = malloc(nq * sizeof *rows);
    cs_status rc = CS_OK;
    if (!queries || !dist || !exact || !got || !rows)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory calibrating the vector index");
    for (size_t q = 0; rc == CS_OK && q < nq; q++) {
        rows[q] = (size_t)(((double)q + 0.5) * n / nq);
        memcpy(queries + q * dim, data + rows[q] * dim, dim * sizeof *queries);
    }
    char msg[256];
    if (rc == CS_OK && cs_faiss_knn_ip(queries, nq, data, n, dim, KQ, dist, exact, msg,
                                       sizeof msg) != 0)
        rc = cs_error_set(err, CS_ERR_VECTOR, "exact search for calibration failed: %s", msg);
    for (size_t i = 0; rc == CS_OK && i < nq * KQ; i++)
        exact[i] = exact[i] >= 0 ? ids[exact[i]] : -1;   /* rows to ids */

    size_t nprobe = 1;
    while (rc == CS_OK) {
        if (cs_faiss_ivf_search(v->idx, (idx_t)nq, queries, KQ, nprobe, dist, got, msg,
                                sizeof msg) != 0) {
            rc = cs_error_set(err, CS_ERR_VECTOR, "search for calibration failed: %s", msg);
            break;
        }
        size_t hits = 0, total = 0;
        for (size_t q = 0; q < nq; q++) {
            int64_t self = ids[rows[q]];
            const idx_t *e = exact + q * KQ, *g = got + q * KQ;
            for (int i = 0, taken = 0; i < KQ && taken < K; i++) {
                if (e[i] == self || e[i] < 0)
                    continue;
                taken++;
                total++;
                for (int j = 0, seen = 0; j < KQ && seen < K; j++) {
                    if (g[j] == self || g[j] < 0)
                        continue;
                    seen++;
                    if (g[j] == e[i]) {
                        hits++;
                        break;
                    }
                }
            }
        }
        if (nprobe >= v->nlist || total == 0 || (double)hits >= IVF_TARGET_RECALL * total)
            break;
        size_t next = next_nprobe(nprobe);
        nprobe = next < v->nlist ? next : v->nlist;
    }
    if (rc == CS_OK) {
        v->nprobe = nprobe;
        faiss_IndexIVF_set_nprobe(faiss_IndexIVF_cast(v->idx), nprobe);
        rc = set_probe_margin(v, err);
    }
    free(queries);
    free(dist);
    free(exact);
    free(got);
    free(rows);
    return rc;
}

static cs_status build_ivf(const char *model, int dim, size_t n, const int64_t *ids,
                           const float *data, vectors **out, cs_error *err)
{
    for (size_t i = 0; i < n; i++) {
        /* Checked before training: a NaN would poison the centroids. */
        size_t bad = first_non_finite(data + i * (size_t)dim, (size_t)dim);
        if (bad < (size_t)dim)
            return cs_error_set(err, CS_ERR_INVALID,
                                "the vector for id %lld has a non-finite value at position %zu",
                                (long long)ids[i], bad);
    }
    size_t nlist = ivf_nlist(n);
    char desc[64];
    snprintf(desc, sizeof desc, "IVF%zu,SQ8", nlist);
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, dim, desc, METRIC_INNER_PRODUCT) != 0)
        return cs_error_set(err, CS_ERR_VECTOR, "cannot create a %d-dimension %s vector index: %s",
                            dim, desc, faiss_message());
    vectors *v = NULL;
    cs_status rc = wrap(idx, model, dim, 0, &v, err);
    if (rc != CS_OK)
        return rc;
    v->kind = VECTORS_IVF_SQ8;
    v->nlist = nlist;
    v->nprobe = 1;
    v->trained_for = (int64_t)n;
    rc = ivf_train(v, n, data, err);
    if (rc == CS_OK)
        rc = vectors_add(v, n, ids, data, err);
    if (rc == CS_OK)
        rc = ivf_calibrate(v, n, ids, data, err);
    if (rc != CS_OK) {
        vectors_free(v);
        return rc;
    }
    *out = v;
    return CS_OK;
}

cs_status vectors_build(const char *model, int dim, size_t n, const int64_t *ids,
                        const float *data, vectors **out, cs_error *err)
{
    if (!out)
        return cs_error_set(err, CS_ERR_INVALID, "vectors_build: no output pointer");
    *out = NULL;
    if (n > 0 && (!ids || !data))
        return cs_error_set(err, CS_ERR_INVALID, "vectors_build: no ids or vectors");
    int64_t exact_max = 0;
    cs_status rc = vectors_exact_max(&exact_max, err);
    if (rc != CS_OK)
        return rc;
    if ((uint64_t)n <= (uint64_t)exact_max) {
        vectors *v = NULL;
        rc = vectors_create(model, dim, &v, err);
        if (rc == CS_OK)
            rc = vectors_add(v, n, ids, data, err);
        if (rc != CS_OK) {
            vectors_free(v);
            return rc;
        }
        *out = v;
        return CS_OK;
    }
    rc = check_model_dim(model, dim, err);   /* before any training */
    if (rc != CS_OK)
        return rc;
    return build_ivf(model, dim, n, ids, data, out, err);
}
