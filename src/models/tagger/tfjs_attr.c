/* Reading TF AttrValue messages as protobuf JSON (tfjs model.json): int64 as
 * strings, bytes as base64, fields left out when they hold their default. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/tagger/tfjs_internal.h"

json_t *tfjs_attr(json_t *node, const char *key)
{
    json_t *attrs = json_object_get(node, "attr");
    json_t *a = json_is_object(attrs) ? json_object_get(attrs, key) : NULL;
    return json_is_object(a) ? a : NULL;
}

/* An int64 written as a string ("3", "-1") or, leniently, as a number. */
bool tfjs_json_int(json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return false;
    *out = (int64_t)x;
    return true;
}

bool tfjs_attr_int(json_t *node, const char *key, int64_t *out)
{
    json_t *a = tfjs_attr(node, key);
    if (!a)
        return false;
    json_t *i = json_object_get(a, "i");
    if (!i) {   /* present but default: 0 */
        *out = 0;
        return json_object_size(a) == 0;
    }
    return tfjs_json_int(i, out);
}

bool tfjs_attr_bool(json_t *node, const char *key, bool dflt)
{
    json_t *a = tfjs_attr(node, key);
    if (!a)
        return dflt;
    json_t *b = json_object_get(a, "b");
    return json_is_true(b);
}

bool tfjs_attr_float(json_t *node, const char *key, double *out)
{
    json_t *a = tfjs_attr(node, key);
    if (!a)
        return false;
    json_t *f = json_object_get(a, "f");
    if (!f) {
        *out = 0.0;
        return true;
    }
    if (json_is_number(f)) {
        *out = json_number_value(f);
        return true;
    }
    if (json_is_string(f)) {   /* proto3 JSON writes non-finite floats as strings */
        const char *s = json_string_value(f);
        if (strcmp(s, "NaN") == 0)
            *out = NAN;
        else if (strcmp(s, "Infinity") == 0)
            *out = INFINITY;
        else if (strcmp(s, "-Infinity") == 0)
            *out = -INFINITY;
        else
            return false;
        return true;
    }
    return false;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

/* Standard or URL-safe base64, padding optional; false when it does not fit. */
static bool b64_decode(const char *s, char *buf, size_t size)
{
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (; *s && *s != '='; s++) {
        int v = b64_value(*s);
        if (v < 0)
            return false;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= size)
                return false;
            buf[n++] = (char)((acc >> bits) & 0xFF);
        }
    }
    buf[n] = '\0';
    return true;
}

bool tfjs_attr_string(json_t *node, const char *key, char *buf, size_t size)
{
    json_t *a = tfjs_attr(node, key);
    json_t *s = a ? json_object_get(a, "s") : NULL;
    if (!json_is_string(s))
        return false;
    return b64_decode(json_string_value(s), buf, size);
}

static json_t *attr_list(json_t *node, const char *key, const char *field, int *status)
{
    json_t *a = tfjs_attr(node, key);
    if (!a) {
        *status = -1;
        return NULL;
    }
    json_t *list = json_object_get(a, "list");
    if (!json_is_object(list)) {
        *status = -2;
        return NULL;
    }
    json_t *items = json_object_get(list, field);
    if (!items) {   /* an empty list */
        *status = 0;
        return NULL;
    }
    if (!json_is_array(items)) {
        *status = -2;
        return NULL;
    }
    *status = 1;
    return items;
}

int tfjs_attr_ints(json_t *node, const char *key, int64_t *out, int max)
{
    int status;
    json_t *items = attr_list(node, key, "i", &status);
    if (status <= 0)
        return status;
    size_t n = json_array_size(items);
    if (n > (size_t)max)
        return -2;
    for (size_t i = 0; i < n; i++)
        if (!tfjs_json_int(json_array_get(items, i), &out[i]))
            return -2;
    return (int)n;
}

int tfjs_attr_strings(json_t *node, const char *key, char (*out)[32], int max)
{
    int status;
    json_t *items = attr_list(node, key, "s", &status);
    if (status <= 0)
        return status;
    size_t n = json_array_size(items);
    if (n > (size_t)max)
        return -2;
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(items, i);
        if (!json_is_string(s) || !b64_decode(json_string_value(s), out[i], sizeof out[i]))
            return -2;
    }
    return (int)n;
}

bool tfjs_parse_dtype(const char *name, tfjs_dtype *out)
{
    static const struct {
        const char *name;
        tfjs_dtype t;
    } map[] = {
        {"DT_FLOAT", TFJS_FLOAT32}, {"DT_DOUBLE", TFJS_FLOAT32}, {"DT_HALF", TFJS_FLOAT32},
        {"DT_INT32", TFJS_INT32},   {"DT_INT64", TFJS_INT32},    {"DT_INT16", TFJS_INT32},
        {"DT_INT8", TFJS_INT32},    {"DT_UINT8", TFJS_INT32},    {"DT_UINT16", TFJS_INT32},
        {"DT_BOOL", TFJS_BOOL},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(name, map[i].name) == 0) {
            *out = map[i].t;
            return true;
        }
    return false;
}

bool tfjs_attr_dtype(json_t *node, const char *key, tfjs_dtype *out)
{
    json_t *a = tfjs_attr(node, key);
    json_t *t = a ? json_object_get(a, "type") : NULL;
    if (!a)
        return false;
    if (!t) {   /* DT_INVALID by omission */
        return false;
    }
    return json_is_string(t) && tfjs_parse_dtype(json_string_value(t), out);
}

bool tfjs_parse_shape(json_t *shape, tfjs_shape *out)
{
    out->rank = 0;
    if (!json_is_object(shape))
        return false;
    if (json_is_true(json_object_get(shape, "unknownRank"))) {
        out->rank = -1;
        return true;
    }
    json_t *dims = json_object_get(shape, "dim");
    if (!dims)
        return true;   /* a scalar */
    if (!json_is_array(dims) || json_array_size(dims) > TFJS_MAX_RANK)
        return false;
    out->rank = (int)json_array_size(dims);
    for (int i = 0; i < out->rank; i++) {
        json_t *d = json_array_get(dims, (size_t)i);
        json_t *size = json_is_object(d) ? json_object_get(d, "size") : NULL;
        int64_t v = 0;
        if (!json_is_object(d) || (size && !tfjs_json_int(size, &v)) || v < -1)
            return false;
        out->dims[i] = v;
    }
    return true;
}
