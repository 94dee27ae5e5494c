/* The weightsManifest: each group's shard files are concatenated in the
 * order listed, and its weights lie back to back in that byte stream with no
 * padding (tfjs-core io_utils decodeWeights). Every weight's byte range is
 * computed and checked against the shards' real sizes before anything is
 * read; then each is widened to float32/int32 (float16, and uint8/uint16
 * affine quantisation: value = q * scale + min, rounded for int32). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/fsutil.h"
#include "models/tagger/tfjs_internal.h"

float tfjs_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF;
    float f;
    if (exp == 0) {
        /* zero and subnormals: man * 2^-24, exact in float */
        f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    uint32_t bits;
    if (exp == 31)
        bits = sign | 0x7F800000u | (man << 13);   /* inf, NaN (payload kept) */
    else
        bits = sign | ((exp + 112) << 23) | (man << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A shard name must stay inside the model's folder. */
static bool safe_shard_path(const char *p)
{
    if (!*p || p[0] == '/')
        return false;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if ((n == 2 && s[0] == '.' && s[1] == '.') || n == 0)
            return false;
        s += n;
        if (*s == '/')
            s++;
    }
    return true;
}

typedef struct weight_spec {
    const char *name;
    tfjs_dtype dtype;
    tfjs_shape shape;
    int64_t count;
    int stored;          /* 0: as dtype, 1: float16, 2: uint8, 3: uint16 */
    double scale, min;
    int64_t offset, bytes;
} weight_spec;

static cs_status parse_spec(const char *model_path, json_t *w, weight_spec *s, cs_error *err)
{
    memset(s, 0, sizeof *s);
    json_t *name = json_object_get(w, "name");
    if (!json_is_string(name))
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: a weightsManifest entry has no name",
                            model_path);
    s->name = json_string_value(name);
    json_t *dtype = json_object_get(w, "dtype");
    const char *dt = json_is_string(dtype) ? json_string_value(dtype) : "";
    if (strcmp(dt, "float32") == 0)
        s->dtype = TFJS_FLOAT32;
    else if (strcmp(dt, "int32") == 0)
        s->dtype = TFJS_INT32;
    else if (strcmp(dt, "bool") == 0)
        s->dtype = TFJS_BOOL;
    else
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: weight '%s' has dtype '%s' "
                            "(float32, int32 and bool are supported)", model_path, s->name, dt);
    json_t *shape = json_object_get(w, "shape");
    if (!json_is_array(shape) || json_array_size(shape) > TFJS_MAX_RANK)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' has no valid shape "
                            "(an array of at most %d sizes)", model_path, s->name, TFJS_MAX_RANK);
    s->shape.rank = (int)json_array_size(shape);
    s->count = 1;
    for (int i = 0; i < s->shape.rank; i++) {
        int64_t d;
        if (!tfjs_json_int(json_array_get(shape, (size_t)i), &d) || d < 0 ||
            d > TFJS_MAX_ELEMENTS)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' has a bad size in its "
                                "shape", model_path, s->name);
        s->shape.dims[i] = d;
        s->count *= d;
        if (s->count > TFJS_MAX_ELEMENTS)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: weight '%s' declares more than "
                                "%lld elements", model_path, s->name,
                                (long long)TFJS_MAX_ELEMENTS);
    }
    int64_t elem = s->dtype == TFJS_BOOL ? 1 : 4;
    json_t *q = json_object_get(w, "quantization");
    if (q) {
        json_t *qd = json_object_get(q, "dtype");
        const char *qt = json_is_string(qd) ? json_string_value(qd) : "";
        if (strcmp(qt, "float16") == 0) {
            if (s->dtype != TFJS_FLOAT32)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' is float16 "
                                    "quantised but not float32", model_path, s->name);
            s->stored = 1;
            elem = 2;
        } else if (strcmp(qt, "uint8") == 0 || strcmp(qt, "uint16") == 0) {
            json_t *scale = json_object_get(q, "scale"), *min = json_object_get(q, "min");
            if (!json_is_number(scale) || !json_is_number(min) || s->dtype == TFJS_BOOL)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' is %s quantised "
                                    "without a numeric scale and min", model_path, s->name, qt);
            s->scale = json_number_value(scale);
            s->min = json_number_value(min);
            s->stored = qt[4] == '8' ? 2 : 3;
            elem = s->stored == 2 ? 1 : 2;
        } else {
            return cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: weight '%s' has quantization "
                                "dtype '%s' (float16, uint8 and uint16 are supported)",
                                model_path, s->name, qt);
        }
    }
    s->bytes = s->count * elem;
    return CS_OK;
}

static void decode(const weight_spec *s, const uint8_t *src, void *dst)
{
    int64_t n = s->count;
    if (s->stored == 0) {
        memcpy(dst, src, (size_t)s->bytes);   /* little-endian, as stored */
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        if (s->stored == 1) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            ((float *)dst)[i] = tfjs_half_to_float(h);
            continue;
        }
        unsigned q = s->stored == 2 ? src[i] : (unsigned)(src[2 * i] | (src[2 * i + 1] << 8));
        double v = (double)q * s->scale + s->min;   /* in double, as JavaScript does */
        if (s->dtype == TFJS_FLOAT32) {
            ((float *)dst)[i] = (float)v;
        } else {
            double r = floor(v + 0.5);   /* Math.round */
            ((int32_t *)dst)[i] = r >= 2147483647.0 ? INT32_MAX
                                  : r <= -2147483648.0 ? INT32_MIN : (int32_t)r;
        }
    }
}

/* Reads one group's shards into one buffer, checking the manifest's total. */
static cs_status read_group(const char *model_path, const char *dir, json_t *paths,
                            int64_t need, uint8_t **out, cs_error *err)
{
    *out = NULL;
    if (need == 0 && json_is_array(paths) && json_array_size(paths) == 0)
        return CS_OK;
    if (!json_is_array(paths) || json_array_size(paths) == 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: a weightsManifest group has no paths",
                            model_path);
    int64_t total = 0;
    size_t n = json_array_size(paths);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(paths, i);
        if (!json_is_string(p) || !safe_shard_path(json_string_value(p)))
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: shard path '%s' is not a file name "
                                "inside the model's folder", model_path,
                                json_is_string(p) ? json_string_value(p) : "?");
        char *full = fs_path_join(dir, json_string_value(p));
        if (!full)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        int64_t size = fs_file_size(full);
        if (size < 0) {
            cs_status rc = cs_error_set(err, CS_ERR_NOT_FOUND, "%s: weight shard '%s' is "
                                        "missing", model_path, full);
            free(full);
            return rc;
        }
        free(full);
        total += size;
        if (total > TFJS_MAX_WEIGHT_BYTES)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: weight shards are larger than "
                                "%lld bytes", model_path, (long long)TFJS_MAX_WEIGHT_BYTES);
    }
    if (total != need)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: the weight shards (%s%s) hold %lld bytes "
                            "but the manifest describes %lld: truncated or mismatched files",
                            model_path, json_string_value(json_array_get(paths, 0)),
                            n > 1 ? ", ..." : "", (long long)total, (long long)need);
    uint8_t *buf = malloc(total > 0 ? (size_t)total : 1);
    if (!buf)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %lld bytes of weights",
                            (long long)total);
    int64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        char *full = fs_path_join(dir, json_string_value(json_array_get(paths, i)));
        uint8_t *data = NULL;
        size_t len = 0;
        cs_status rc = full ? fs_read_file(full, (uint64_t)(total - at), &data, &len, err)
                            : cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        free(full);
        if (rc != CS_OK) {
            free(buf);
            return rc;
        }
        if ((int64_t)len > total - at) {   /* the file grew meanwhile */
            free(data);
            free(buf);
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight shards changed while reading",
                                model_path);
        }
        memcpy(buf + at, data, len);
        at += (int64_t)len;
        free(data);
    }
    if (at != total) {
        free(buf);
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight shards changed while reading",
                            model_path);
    }
    *out = buf;
    return CS_OK;
}

cs_status tfjs_weights_load(const char *model_path, const char *dir, json_t *manifest,
                            strmap *map, tfjs_value **values, int *count, cs_error *err)
{
    *values = NULL;
    *count = 0;
    size_t cap = 0;
    if (!manifest)
        return CS_OK;
    if (!json_is_array(manifest))
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: weightsManifest is not a list", model_path);
    cs_status rc = CS_OK;
    weight_spec *specs = NULL;
    size_t spec_cap = 0;
    for (size_t g = 0; g < json_array_size(manifest) && rc == CS_OK; g++) {
        json_t *group = json_array_get(manifest, g);
        json_t *weights = json_is_object(group) ? json_object_get(group, "weights") : NULL;
        if (!json_is_array(weights)) {
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: weightsManifest group %zu has no "
                              "weights list", model_path, g);
            break;
        }
        /* Sizes and offsets first: nothing is read before they add up. */
        size_t n = json_array_size(weights);
        int64_t offset = 0;
        for (size_t i = 0; i < n && rc == CS_OK; i++) {
            if (!ARRAY_RESERVE(specs, spec_cap, i)) {
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
                break;
            }
            rc = parse_spec(model_path, json_array_get(weights, i), &specs[i], err);
            if (rc == CS_OK) {
                specs[i].offset = offset;
                offset += specs[i].bytes;
                if (offset > TFJS_MAX_WEIGHT_BYTES)
                    rc = cs_error_set(err, CS_ERR_TOO_LARGE, "%s: the weights add up to more "
                                      "than %lld bytes", model_path,
                                      (long long)TFJS_MAX_WEIGHT_BYTES);
            }
        }
        uint8_t *buf = NULL;
        if (rc == CS_OK)
            rc = read_group(model_path, dir, json_object_get(group, "paths"), offset, &buf, err);
        for (size_t i = 0; i < n && rc == CS_OK; i++) {
            weight_spec *s = &specs[i];
            if (s->offset < 0 || s->bytes < 0 || s->offset + s->bytes > offset) {
                rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' lies outside its shards",
                                  model_path, s->name);
                break;
            }
            int64_t *existing;
            if (strmap_get(map, s->name, &existing)) {
                rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' appears twice in the "
                                  "manifest", model_path, s->name);
                break;
            }
            if (!ARRAY_RESERVE(*values, cap, (size_t)*count)) {
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
                break;
            }
            tfjs_value *v = &(*values)[*count];
            v->dtype = s->dtype;
            v->shape = s->shape;
            size_t bytes = (size_t)s->count * tfjs_dtype_size(s->dtype);
            v->data = malloc(bytes ? bytes : 1);
            if (!v->data || !strmap_put(map, s->name, *count)) {
                free(v->data);
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
                break;
            }
            decode(s, buf + s->offset, v->data);
            (*count)++;
        }
        free(buf);
    }
    free(specs);
    return rc;
}
