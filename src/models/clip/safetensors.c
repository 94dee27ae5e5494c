/* Safetensors: map, parse the JSON header, check every tensor before use. */
#include "models/clip/safetensors.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct st_file {
    char *path;
    const uint8_t *map;
    size_t map_size;
    bool mapped;              /* map is ours to munmap (not a caller's buffer) */
    json_t *header;           /* owns the tensor names */
    st_tensor *tensors;       /* sorted by name */
    size_t ntensors;
};

static const struct {
    const char *name;
    st_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"F64", ST_F64, 8},
    {"I64", ST_I64, 8}, {"I32", ST_I32, 4}, {"I16", ST_I16, 2},   {"I8", ST_I8, 1},
    {"U8", ST_U8, 1},   {"BOOL", ST_BOOL, 1},
};

const char *st_dtype_name(st_dtype dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dtype == dtype)
            return dtypes[i].name;
    return "?";
}

size_t st_dtype_size(st_dtype dtype)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dtype == dtype)
            return dtypes[i].size;
    return 0;
}

static bool parse_dtype(const char *name, st_dtype *out)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (strcmp(dtypes[i].name, name) == 0) {
            *out = dtypes[i].dtype;
            return true;
        }
    return false;
}

/* A JSON integer in [0, max]. */
static bool get_count(const json_t *v, int64_t max, int64_t *out)
{
    if (!json_is_integer(v))
        return false;
    json_int_t n = json_integer_value(v);
    if (n < 0 || n > max)
        return false;
    *out = (int64_t)n;
    return true;
}

static cs_status bad(const st_file *f, const char *tensor, cs_error *err, const char *what)
{
    if (tensor)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: tensor '%s': %s", f->path, tensor, what);
    return cs_error_set(err, CS_ERR_CORRUPT, "%s: %s", f->path, what);
}

static cs_status parse_tensor(st_file *f, const char *name, const json_t *desc,
                              size_t data_size, const uint8_t *data, st_tensor *t,
                              cs_error *err)
{
    if (!json_is_object(desc))
        return bad(f, name, err, "its description is not a JSON object");
    const json_t *dtype = json_object_get(desc, "dtype");
    const json_t *shape = json_object_get(desc, "shape");
    const json_t *offsets = json_object_get(desc, "data_offsets");
    t->name = name;
    if (!json_is_string(dtype) || !parse_dtype(json_string_value(dtype), &t->dtype))
        return bad(f, name, err, "missing or unknown dtype");
    if (!json_is_array(shape) || json_array_size(shape) > ST_MAX_DIMS)
        return bad(f, name, err, "missing shape or more than 8 dimensions");
    t->ndim = (int)json_array_size(shape);
    t->count = 1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t dim;
        /* dims and their product stay far below 2^62: no overflow below */
        if (!get_count(json_array_get(shape, (size_t)i), INT64_C(1) << 40, &dim))
            return bad(f, name, err, "a dimension is not a whole number of a sane size");
        t->shape[i] = dim;
        if (dim != 0 && t->count > (INT64_C(1) << 40) / dim)
            return bad(f, name, err, "its shape holds too many elements");
        t->count *= dim;
    }
    int64_t begin, end;
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        !get_count(json_array_get(offsets, 0), (int64_t)data_size, &begin) ||
        !get_count(json_array_get(offsets, 1), (int64_t)data_size, &end) || end < begin)
        return bad(f, name, err, "data_offsets are missing or outside the file (truncated?)");
    t->nbytes = (size_t)(end - begin);
    if ((uint64_t)t->count * st_dtype_size(t->dtype) != t->nbytes) {
        char what[160];
        snprintf(what, sizeof what, "its shape and dtype need %lld bytes but data_offsets "
                 "give %zu", (long long)(t->count * (int64_t)st_dtype_size(t->dtype)),
                 t->nbytes);
        return bad(f, name, err, what);
    }
    t->data = data + begin;
    return CS_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    const uint8_t *px = x->data, *py = y->data;
    return (px > py) - (px < py);
}

/* Tensors must not share bytes (a header could point two at the same data
 * and have one written through the other's view elsewhere). */
static cs_status check_overlaps(st_file *f, cs_error *err)
{
    if (f->ntensors < 2)
        return CS_OK;
    const st_tensor **order = malloc(f->ntensors * sizeof *order);
    if (!order)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->ntensors; i++)
        order[i] = &f->tensors[i];
    qsort(order, f->ntensors, sizeof *order, by_offset);
    cs_status rc = CS_OK;
    for (size_t i = 1; i < f->ntensors && rc == CS_OK; i++) {
        const uint8_t *prev_end = (const uint8_t *)order[i - 1]->data + order[i - 1]->nbytes;
        if (order[i]->nbytes && order[i - 1]->nbytes && (const uint8_t *)order[i]->data < prev_end)
            rc = bad(f, order[i]->name, err, "its bytes overlap another tensor's");
    }
    free(order);
    return rc;
}

static cs_status parse_header(st_file *f, cs_error *err)
{
    if (f->map_size < 8)
        return bad(f, NULL, err, "too short for a safetensors file (no header length)");
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n > ST_MAX_HEADER_BYTES || n > f->map_size - 8)
        return bad(f, NULL, err, "the header length is larger than the file (truncated, or "
                                 "not a safetensors file)");
    json_error_t jerr;
    f->header = json_loadb((const char *)f->map + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!f->header) {
        char what[300];
        snprintf(what, sizeof what, "the header is not valid JSON (%s)", jerr.text);
        return bad(f, NULL, err, what);
    }
    if (!json_is_object(f->header))
        return bad(f, NULL, err, "the header is not a JSON object");
    const uint8_t *data = f->map + 8 + n;
    size_t data_size = f->map_size - 8 - (size_t)n;
    f->tensors = calloc(json_object_size(f->header) + 1, sizeof *f->tensors);
    if (!f->tensors)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    const char *name;
    json_t *desc;
    json_object_foreach(f->header, name, desc) {
        if (strcmp(name, "__metadata__") == 0)
            continue;
        cs_status rc = parse_tensor(f, name, desc, data_size, data, &f->tensors[f->ntensors],
                                    err);
        if (rc != CS_OK)
            return rc;
        f->ntensors++;
    }
    qsort(f->tensors, f->ntensors, sizeof *f->tensors, by_name);
    return check_overlaps(f, err);
}

cs_status st_open(const char *path, st_file **out, cs_error *err)
{
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    cs_status rc = CS_OK;
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = cs_error_errno(err, errno, "cannot read", path);
    } else if (!S_ISREG(st.st_mode)) {
        rc = cs_error_set(err, CS_ERR_INVALID, "%s: not a regular file", path);
    } else if (st.st_size > 0) {
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED)
            rc = cs_error_errno(err, errno, "cannot map", path);
        else
            f->map = map, f->map_size = (size_t)st.st_size, f->mapped = true;
    }
    if (fd >= 0)
        close(fd);
    if (rc == CS_OK)
        rc = parse_header(f, err);
    if (rc != CS_OK) {
        st_close(f);
        return rc;
    }
    *out = f;
    return CS_OK;
}

cs_status st_open_buffer(const char *name, const void *data, size_t size, st_file **out,
                         cs_error *err)
{
    *out = NULL;
    st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name))) {
        free(f);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    f->map = data;
    f->map_size = size;
    cs_status rc = parse_header(f, err);
    if (rc != CS_OK) {
        st_close(f);
        return rc;
    }
    *out = f;
    return CS_OK;
}

void st_release(const st_file *f, const st_tensor *t)
{
    long page = sysconf(_SC_PAGESIZE);
    if (!f->mapped || page <= 0 || t->nbytes == 0)
        return;
    /* only the whole pages inside the tensor: its neighbours keep theirs */
    uintptr_t begin = (uintptr_t)t->data, end = begin + t->nbytes;
    uintptr_t first = (begin + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t last = end & ~((uintptr_t)page - 1);
    if (last > first)
        madvise((void *)first, last - first, MADV_DONTNEED);   /* advice: failure is harmless */
}

void st_close(st_file *f)
{
    if (!f)
        return;
    if (f->mapped)
        munmap((void *)f->map, f->map_size);
    json_decref(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

const char *st_path(const st_file *f) { return f->path; }
size_t st_count(const st_file *f) { return f->ntensors; }
const st_tensor *st_at(const st_file *f, size_t i) { return i < f->ntensors ? &f->tensors[i] : NULL; }

const st_tensor *st_find(const st_file *f, const char *name)
{
    st_tensor key = {.name = name};
    return bsearch(&key, f->tensors, f->ntensors, sizeof key, by_name);
}

/* IEEE half to float, subnormals and infinities included. */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000u | (man << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    } else if (man == 0) {
        bits = sign;
    } else {   /* subnormal: normalise */
        int shift = 0;
        while (!(man & 0x400)) {
            man <<= 1;
            shift++;
        }
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((man & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

cs_status st_to_f32(const st_file *file, const st_tensor *t, float *out, cs_error *err)
{
    const uint8_t *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, t->nbytes);
        return CS_OK;
    case ST_F16:
    case ST_BF16:
        for (int64_t i = 0; i < t->count; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            if (t->dtype == ST_F16) {
                out[i] = half_to_float(h);
            } else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&out[i], &bits, sizeof bits);
            }
        }
        return CS_OK;
    default:
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: tensor '%s' is %s, not a float type",
                            file->path, t->name, st_dtype_name(t->dtype));
    }
}
