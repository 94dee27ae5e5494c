/* Damaged vector files: every one must be refused with CS_ERR_CORRUPT (or
 * CS_ERR_NOT_FOUND when missing) and a message naming the file, and none may
 * crash or leak; the suite also runs under AddressSanitizer.
 *
 * The test builds files itself from the layout in vectors.h (our header and
 * trailer, with its XXH3-64 checksum) around FAISS payloads it gets from the
 * FAISS C API, so it knows independently where each field lies. The FAISS
 * payload of an IDMap2 over a flat inner-product index is: "IxM2" + 33-byte
 * index header, "IxFI" + 33-byte header, u64 float count + floats, u64 id
 * count + ids.
 *
 * Structural damage is tested on files whose checksum was recomputed after
 * the damage ("resealed"), so that the structural checks themselves, not
 * just the checksum, are what refuses them. */
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <xxhash.h>

#include <faiss/c_api/Index_c.h>
#include <faiss/c_api/index_factory_c.h>
#include <faiss/c_api/index_io_c.h>

#include "check.h"
#include "store/vectors.h"
#include "vec_testutil.h"

enum { DIM = 8, NVEC = 5 };
#define MODEL "corrupt-test"
#define GEN 7

static const char *scratch;
static char *target;   /* the file each case writes and loads */

/* Serialises a FAISS index through the C API into a malloc'd buffer. */
static unsigned char *faiss_bytes(const char *factory, FaissMetricType metric,
                                  const int64_t *ids, size_t n, size_t *len)
{
    FaissIndex *idx = NULL;
    if (faiss_index_factory(&idx, DIM, factory, metric) != 0)
        return NULL;
    float data[16 * DIM];
    test_rng rng = {n};
    for (size_t i = 0; i < n; i++)
        rng_unit_vector(&rng, data + i * DIM, DIM);
    int rc = 0;
    if (n > 0)
        rc = ids ? faiss_Index_add_with_ids(idx, (idx_t)n, data, ids)
                 : faiss_Index_add(idx, (idx_t)n, data);
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (rc == 0 && f)
        rc = faiss_write_index(idx, f);
    if (f)
        fclose(f);
    faiss_Index_free(idx);
    if (rc != 0) {
        free(buf);
        return NULL;
    }
    *len = size;
    return (unsigned char *)buf;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

enum { TRAILER_LEN = 16 };   /* u64 generation, u64 XXH3-64 of all bytes before */

/* Stores the checksum of a file of n >= TRAILER_LEN bytes as it now is. */
static void reseal(unsigned char *b, size_t n)
{
    put_le(b + n - 8, XXH3_64bits(b, n - TRAILER_LEN), 8);
}

enum { HEADER_LEN = 48 };   /* magic, generation, dim, model id length, kind, nprobe,
                               nlist, trained_for */

/* Header + payload + trailer as vectors.h describes them (an exact index:
 * kind 0, its IVF parameters 0). */
static unsigned char *wrap_payload(const char *model, uint32_t dim, uint64_t gen,
                                   const unsigned char *payload, size_t plen, uint64_t trailer,
                                   size_t *len)
{
    size_t mlen = strlen(model);
    size_t n = HEADER_LEN + mlen + plen + TRAILER_LEN;
    unsigned char *b = calloc(1, n);
    if (!b)
        return NULL;
    memcpy(b, "CSVEC\0\0\3", 8);
    put_le(b + 8, gen, 8);
    put_le(b + 16, dim, 4);
    put_le(b + 20, mlen, 4);
    memcpy(b + HEADER_LEN, model, mlen);
    memcpy(b + HEADER_LEN + mlen, payload, plen);
    put_le(b + HEADER_LEN + mlen + plen, trailer, 8);
    reseal(b, n);
    *len = n;
    return b;
}

/* Writes the bytes to the target file and loads it. */
static cs_status load_bytes(const unsigned char *b, size_t n, vectors **out, cs_error *err)
{
    if (write_bytes(target, b, n) != 0) {
        fprintf(stderr, "cannot write %s\n", target);
        exit(1);
    }
    return vectors_load(target, out, err);
}

/* Expects CS_ERR_CORRUPT with a message naming the file and containing
 * each of the (up to two) phrases given. */
static void expect_corrupt_saying(const unsigned char *b, size_t n, const char *what,
                                  const char *phrase1, const char *phrase2)
{
    cs_error err = {0};
    vectors *v = NULL;
    cs_status rc = load_bytes(b, n, &v, &err);
    if (rc != CS_ERR_CORRUPT || v != NULL || !strstr(err.message, target) ||
        (phrase1 && !strstr(err.message, phrase1)) ||
        (phrase2 && !strstr(err.message, phrase2))) {
        fprintf(stderr, "%s: status %d, message '%s'\n", what, (int)rc, err.message);
        check_failures++;
    }
    vectors_free(v);
}

static void expect_corrupt(const unsigned char *b, size_t n, const char *what)
{
    expect_corrupt_saying(b, n, what, NULL, NULL);
}

static void expect_loads(const unsigned char *b, size_t n, const char *what)
{
    cs_error err = {0};
    vectors *v = NULL;
    cs_status rc = load_bytes(b, n, &v, &err);
    if (rc != CS_OK) {
        fprintf(stderr, "%s: status %d, message '%s'\n", what, (int)rc, err.message);
        check_failures++;
    }
    vectors_free(v);
}

static const int64_t good_ids[NVEC] = {3, 10, 42, 77, 1000000007};

int main(int argc, char **argv)
{
    char *dir = make_scratch(argc > 1 ? argv[1] : "/tmp", "corrupt");
    if (!dir)
        return 1;
    scratch = dir;
    target = fs_path_join(dir, "case.vec");

    /* The reference file, written by vectors_save. */
    cs_error err;
    vectors *v = NULL;
    CHECK_OK(vectors_create(MODEL, DIM, &v, &err), &err);
    if (!v)
        return 1;
    float data[NVEC * DIM];
    test_rng rng = {5};
    for (int i = 0; i < NVEC; i++)
        rng_unit_vector(&rng, data + i * DIM, DIM);
    CHECK_OK(vectors_add(v, NVEC, good_ids, data, &err), &err);
    char *good_path = fs_path_join(dir, "good.vec");
    CHECK_OK(vectors_save(v, good_path, GEN, &err), &err);
    vectors_free(v);
    uint8_t *good = NULL;
    size_t size = 0;
    CHECK_OK(fs_read_file(good_path, 1 << 20, &good, &size, &err), &err);
    if (!good)
        return 1;

    /* Where things are, from the format description alone. */
    const size_t mlen = strlen(MODEL);
    const size_t payload = HEADER_LEN + mlen;
    const size_t floats = payload + 4 + 33 + 4 + 33 + 8;
    const size_t idcount = floats + (size_t)NVEC * DIM * 4;
    const size_t idvals = idcount + 8;
    const size_t trailer = idvals + (size_t)NVEC * 8;
    const size_t checksum = trailer + 8;
    CHECK_INT_EQ(size, trailer + TRAILER_LEN);
    CHECK(memcmp(good, "CSVEC\0\0\3", 8) == 0);
    for (size_t i = 24; i < HEADER_LEN; i++)
        CHECK_INT_EQ(good[i], 0);   /* kind exact, no IVF parameters */
    CHECK(memcmp(good + payload, "IxM2", 4) == 0);
    CHECK(memcmp(good + payload + 37, "IxFI", 4) == 0);
    CHECK_INT_EQ(get_le(good + trailer, 8), GEN);
    CHECK(get_le(good + checksum, 8) == XXH3_64bits(good, trailer));
    expect_loads(good, size, "the unmodified file");

    /* Missing and empty files, and a folder in the file's place. */
    char *missing = fs_path_join(dir, "missing.vec");
    v = NULL;
    CHECK_INT_EQ(vectors_load(missing, &v, &err), CS_ERR_NOT_FOUND);
    CHECK(v == NULL);
    free(missing);
    expect_corrupt(good, 0, "empty file");
    char *folder = fs_path_join(dir, "folder.vec");
    CHECK(mkdir(folder, 0755) == 0);
    CHECK_INT_EQ(vectors_load(folder, &v, &err), CS_ERR_CORRUPT);
    free(folder);

    /* Truncated at every length, and extended. */
    for (size_t n = 0; n < size; n++) {
        char what[64];
        snprintf(what, sizeof what, "truncated to %zu bytes", n);
        expect_corrupt(good, n, what);
    }
    unsigned char *longer = malloc(size + 100);
    memcpy(longer, good, size);
    memset(longer + size, 0, 100);
    expect_corrupt(longer, size + 1, "one byte appended");
    expect_corrupt(longer, size + 100, "100 bytes appended");
    free(longer);

    /* Other format versions, resealed so only the version refuses them. */
    unsigned char *b = malloc(size);
    memcpy(b, good, size);
    b[7] = 4;
    reseal(b, size);
    expect_corrupt_saying(b, size, "a newer format version", "version 4", NULL);
    /* Version 2: a 24-byte header (no kind or IVF parameters), checksummed. */
    memcpy(b, good, 24);
    b[7] = 2;
    memcpy(b + 24, good + HEADER_LEN, size - HEADER_LEN);
    reseal(b, size - (HEADER_LEN - 24));
    expect_corrupt_saying(b, size - (HEADER_LEN - 24), "a version 2 file", "older format",
                          "version 2");
    /* A file as version 1 wrote it: the same layout with an 8-byte trailer
     * (the generation) and no checksum. */
    memcpy(b, good, size);
    b[7] = 1;
    expect_corrupt_saying(b, size - 8, "a version 1 file", "older format", "version 1");
    b[7] = 0;
    expect_corrupt_saying(b, size - 8, "a version 0 file", "older format", "version 0");

    /* Field by field, resealed. */
    memcpy(b, "GGUF\0\0\0\2", 8);
    reseal(b, size);
    expect_corrupt_saying(b, size, "wrong magic", "magic", NULL);
    memcpy(b, good, size);
    put_le(b + trailer, GEN + 1, 8);   /* outside the checksum */
    expect_corrupt_saying(b, size, "trailer mismatch", "interrupted write", NULL);
    memcpy(b, good, size);
    put_le(b + 8, GEN + 1, 8);
    reseal(b, size);
    expect_corrupt_saying(b, size, "header generation changed", "interrupted write", NULL);
    memcpy(b, good, size);
    put_le(b + checksum, get_le(good + checksum, 8) + 1, 8);
    expect_corrupt_saying(b, size, "checksum off by one", "checksum", NULL);
    memcpy(b, good, size);
    put_le(b + checksum, 0, 8);
    expect_corrupt_saying(b, size, "checksum zeroed", "checksum", NULL);
    const uint64_t bad_mlen[] = {0xffffffffu, 0x80000000u, 257, 256, 200, mlen + 1, mlen - 1, 0};
    for (size_t i = 0; i < sizeof bad_mlen / sizeof *bad_mlen; i++) {
        memcpy(b, good, size);
        put_le(b + 20, bad_mlen[i], 4);
        reseal(b, size);
        char what[64];
        snprintf(what, sizeof what, "model id length %llu", (unsigned long long)bad_mlen[i]);
        expect_corrupt(b, size, what);
    }
    const uint64_t bad_dim[] = {0, DIM - 1, DIM + 1, 65536, 65537, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad_dim / sizeof *bad_dim; i++) {
        memcpy(b, good, size);
        put_le(b + 16, bad_dim[i], 4);
        reseal(b, size);
        char what[64];
        snprintf(what, sizeof what, "header dimension %llu", (unsigned long long)bad_dim[i]);
        expect_corrupt(b, size, what);
    }
    memcpy(b, good, size);
    b[HEADER_LEN + 3] = '\0';
    reseal(b, size);
    expect_corrupt_saying(b, size, "NUL inside the model id", "NUL", NULL);
    /* FAISS counts claiming more vectors or floats than the file holds:
     * refused before FAISS would allocate for them. */
    const uint64_t huge[] = {NVEC + 1, (uint64_t)1 << 32, (uint64_t)1 << 39, UINT64_MAX};
    for (size_t i = 0; i < sizeof huge / sizeof *huge; i++) {
        const size_t at[] = {payload + 8, payload + 45, floats - 8, idcount};
        for (size_t j = 0; j < sizeof at / sizeof *at; j++) {
            memcpy(b, good, size);
            put_le(b + at[j], huge[i], 8);
            reseal(b, size);
            char what[80];
            snprintf(what, sizeof what, "count %llu at offset %zu", (unsigned long long)huge[i],
                     at[j]);
            expect_corrupt(b, size, what);
        }
    }

    /* Every single bit of the file flipped in turn (every byte x every bit,
     * a superset of one bit per byte and of all bits at a few offsets), then
     * every byte inverted. Each one must be refused. A flip inside the model
     * id, a float or an id value leaves a well-formed file, which only the
     * checksum can catch: there the message must name the checksum, which
     * also shows FAISS never got to accept the damaged bytes. */
    size_t flips = 0;
    for (int bit = 0; bit <= 8; bit++) {
        for (size_t i = 0; i < size; i++) {
            memcpy(b, good, size);
            b[i] ^= bit == 8 ? 0xff : (unsigned char)(1u << bit);
            bool opaque = (i >= HEADER_LEN && i < payload) || (i >= floats && i < idcount) ||
                          (i >= idvals && i < trailer);
            char what[64];
            if (bit == 8)
                snprintf(what, sizeof what, "byte %zu inverted", i);
            else
                snprintf(what, sizeof what, "byte %zu bit %d flipped", i, bit);
            expect_corrupt_saying(b, size, what, opaque ? "checksum" : NULL, NULL);
            flips++;
        }
    }
    CHECK_INT_EQ(flips, size * 9);
    printf("%zu damaged copies of a %zu-byte file tried\n", flips, size);

    /* FAISS payloads of the wrong kind inside a correct header and trailer
     * (checksum included), so the structural checks must refuse them. */
    struct {
        const char *factory;
        FaissMetricType metric;
        const int64_t *ids;
        size_t n;
        bool ok;
        const char *what;
    } kinds[] = {
        {"IDMap2,Flat", METRIC_INNER_PRODUCT, good_ids, NVEC, true, "the expected kind"},
        {"IDMap2,Flat", METRIC_INNER_PRODUCT, NULL, 0, true, "an empty IDMap2"},
        {"IDMap,Flat", METRIC_INNER_PRODUCT, good_ids, NVEC, false, "an IDMap (not IDMap2)"},
        {"IDMap2,Flat", METRIC_L2, good_ids, NVEC, false, "an L2 index"},
        {"Flat", METRIC_INNER_PRODUCT, NULL, NVEC, false, "a bare flat index"},
        {"IDMap2,Flat", METRIC_INNER_PRODUCT, (const int64_t[]){4, 9, 4}, 3, false,
         "a repeated id"},
        {"IDMap2,Flat", METRIC_INNER_PRODUCT, (const int64_t[]){4, -7}, 2, false,
         "a negative id"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t plen = 0, flen = 0;
        const int64_t *ids = kinds[i].ids;
        unsigned char *p = faiss_bytes(kinds[i].factory, kinds[i].metric, ids, kinds[i].n, &plen);
        CHECK(p != NULL);
        if (!p)
            continue;
        unsigned char *f = wrap_payload(MODEL, DIM, GEN, p, plen, GEN, &flen);
        if (kinds[i].ok)
            expect_loads(f, flen, kinds[i].what);
        else
            expect_corrupt(f, flen, kinds[i].what);
        free(f);
        free(p);
    }

    free(b);
    free(good);
    free(good_path);
    free(target);
    if (!check_failures)
        remove_tree(dir);
    free(dir);
    CHECK_DONE();
}
