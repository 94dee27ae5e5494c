/* Runs graph models through the interpreter and compares them with TF.js's
 * outputs written by the Node scripts in tests/tfjs (or expects an error).
 *
 *   tfjs_check CASES.json
 *
 * CASES.json: {"cases": [{"name", "model", "input": {"file", "shape"},
 *   "outputs": [{"node", "dtype", "shape", "file"}], "atol", "rtol",
 *   "layers": [...same as outputs...],
 *   "expect_error": {"phase": "load" | "session" | "run", "contains": "..."}}]}
 * Relative paths are relative to CASES.json. A float matches when
 * |ours - ref| <= atol + rtol * |ref|. Integers and bools match exactly.
 * Prints one line per output with the max abs and relative differences. */
#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "check.h"
#include "common/fsutil.h"
#include "models/tagger/tfjs.h"

static char base_dir[4096];

static char *path_of(const char *p)
{
    if (p[0] == '/')
        return strdup(p);
    return fs_path_join(base_dir, p);
}

static void *read_blob(const char *file, size_t *len)
{
    char *p = path_of(file);
    uint8_t *data = NULL;
    cs_error err = {0};
    if (!p || fs_read_file(p, (uint64_t)1 << 32, &data, len, &err) != CS_OK) {
        fprintf(stderr, "cannot read %s: %s\n", file, err.message);
        data = NULL;
    }
    free(p);
    return data;
}

static bool json_shape(json_t *a, tfjs_shape *s)
{
    if (!json_is_array(a) || json_array_size(a) > TFJS_MAX_RANK)
        return false;
    s->rank = (int)json_array_size(a);
    for (int i = 0; i < s->rank; i++)
        s->dims[i] = json_integer_value(json_array_get(a, (size_t)i));
    return true;
}

static int64_t count_of(const tfjs_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->dims[i];
    return n;
}

typedef struct stats {
    double max_abs, max_rel;
    int64_t bad;
} stats;

/* Compares one tensor; returns true when it matches. */
static bool compare(const char *label, const tfjs_tensor *got, json_t *want, double atol,
                    double rtol, stats *total, bool quiet)
{
    const char *dtype = json_string_value(json_object_get(want, "dtype"));
    tfjs_shape shape;
    if (!dtype || !json_shape(json_object_get(want, "shape"), &shape)) {
        fprintf(stderr, "%s: malformed expectation\n", label);
        return false;
    }
    tfjs_dtype wt = strcmp(dtype, "float32") == 0 ? TFJS_FLOAT32
                    : strcmp(dtype, "int32") == 0 ? TFJS_INT32 : TFJS_BOOL;
    bool ok = got->dtype == wt && got->shape.rank == shape.rank;
    for (int i = 0; ok && i < shape.rank; i++)
        ok = got->shape.dims[i] == shape.dims[i];
    if (!ok) {
        fprintf(stderr, "%s: dtype/shape differ from TF.js (rank %d vs %d, dtype %d vs %s)\n",
                label, got->shape.rank, shape.rank, (int)got->dtype, dtype);
        return false;
    }
    size_t len = 0;
    void *ref = read_blob(json_string_value(json_object_get(want, "file")), &len);
    int64_t n = count_of(&shape);
    size_t esz = wt == TFJS_BOOL ? 1 : 4;
    if (!ref || len != (size_t)n * esz) {
        free(ref);
        fprintf(stderr, "%s: reference file has the wrong size\n", label);
        return false;
    }
    double max_abs = 0, max_rel = 0;
    int64_t bad = 0, first_bad = -1;
    for (int64_t i = 0; i < n; i++) {
        double a, b;
        if (wt == TFJS_FLOAT32) {
            a = ((const float *)got->data)[i];
            b = ((const float *)ref)[i];
        } else if (wt == TFJS_INT32) {
            a = ((const int32_t *)got->data)[i];
            b = ((const int32_t *)ref)[i];
        } else {
            a = ((const uint8_t *)got->data)[i] != 0;
            b = ((const uint8_t *)ref)[i] != 0;
        }
        bool same_special = (isnan(a) && isnan(b)) || (isinf(a) && a == b);
        double d = same_special ? 0 : fabs(a - b);
        double rel = same_special ? 0 : d / fmax(1.0, fabs(b));
        if (isnan(d))
            d = rel = INFINITY;
        max_abs = fmax(max_abs, d);
        max_rel = fmax(max_rel, rel);
        bool fine = same_special || (wt == TFJS_FLOAT32 ? d <= atol + rtol * fabs(b) : d == 0);
        if (!fine) {
            if (first_bad < 0)
                first_bad = i;
            bad++;
        }
    }
    if (!quiet || bad)
        printf("  %-60s max abs %.3g, max rel %.3g%s\n", label, max_abs, max_rel,
               bad ? "  MISMATCH" : "");
    if (bad) {
        double a = wt == TFJS_FLOAT32 ? ((const float *)got->data)[first_bad]
                   : wt == TFJS_INT32 ? ((const int32_t *)got->data)[first_bad]
                                      : ((const uint8_t *)got->data)[first_bad];
        double b = wt == TFJS_FLOAT32 ? ((const float *)ref)[first_bad]
                   : wt == TFJS_INT32 ? ((const int32_t *)ref)[first_bad]
                                      : ((const uint8_t *)ref)[first_bad];
        printf("    %lld of %lld differ; first at %lld: ours %.9g, TF.js %.9g\n",
               (long long)bad, (long long)n, (long long)first_bad, a, b);
    }
    if (total) {
        total->max_abs = fmax(total->max_abs, max_abs);
        total->max_rel = fmax(total->max_rel, max_rel);
        total->bad += bad;
    }
    free(ref);
    return bad == 0;
}

static bool expect_error(const char *name, json_t *expect, const char *phase, cs_status rc,
                         const cs_error *err)
{
    const char *want_phase = json_string_value(json_object_get(expect, "phase"));
    const char *contains = json_string_value(json_object_get(expect, "contains"));
    if (rc == CS_OK || !want_phase || strcmp(want_phase, phase) != 0) {
        printf("%s: expected an error at %s, got %s at %s%s%s\n", name,
               want_phase ? want_phase : "?", rc == CS_OK ? "success" : "an error", phase,
               rc == CS_OK ? "" : ": ", rc == CS_OK ? "" : err->message);
        return false;
    }
    if (contains && !strstr(err->message, contains)) {
        printf("%s: error \"%s\" does not mention \"%s\"\n", name, err->message, contains);
        return false;
    }
    printf("%s: refused as expected: %s\n", name, err->message);
    return true;
}

static bool run_case(json_t *c, tfjs_model **cached, char **cached_path)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const char *model_file = json_string_value(json_object_get(c, "model"));
    json_t *expect = json_object_get(c, "expect_error");
    if (!name || !model_file) {
        fprintf(stderr, "a case without name or model\n");
        return false;
    }
    char *model_path = path_of(model_file);
    cs_error err = {0};
    cs_status rc = CS_OK;
    tfjs_model *model = NULL;
    if (!expect && *cached_path && strcmp(*cached_path, model_path) == 0) {
        model = *cached;
        free(model_path);
    } else {
        rc = tfjs_model_load(model_path, &model, &err);
        if (expect && rc != CS_OK) {
            free(model_path);
            return expect_error(name, expect, "load", rc, &err);
        }
        if (rc != CS_OK) {
            printf("%s: load failed: %s\n", name, err.message);
            free(model_path);
            return false;
        }
        if (!expect) {
            tfjs_model_free(*cached);
            free(*cached_path);
            *cached = model;
            *cached_path = model_path;
        } else {
            free(model_path);
        }
    }
    bool ok = true;
    float *x = NULL;
    size_t len = 0;
    /* the graph's outputs, in TF.js's order */
    json_t *mo = json_object_get(c, "model_outputs");
    if (json_is_array(mo)) {
        bool same = (int)json_array_size(mo) == tfjs_model_output_count(model);
        for (size_t i = 0; same && i < json_array_size(mo); i++)
            same = strcmp(json_string_value(json_array_get(mo, i)),
                          tfjs_model_output_name(model, (int)i)) == 0;
        if (!same) {
            printf("%s: the model's outputs differ from TF.js's:", name);
            for (int i = 0; i < tfjs_model_output_count(model); i++)
                printf(" %s", tfjs_model_output_name(model, i));
            printf("\n");
            ok = false;
        }
    }
    json_t *input = json_object_get(c, "input");
    tfjs_shape shape;
    if (!json_shape(json_object_get(input, "shape"), &shape)) {
        fprintf(stderr, "%s: no input shape\n", name);
        ok = false;
    }
    json_t *outputs = json_object_get(c, "outputs");
    json_t *layers = json_object_get(c, "layers");
    size_t n_out = json_array_size(outputs);
    const char **names = calloc(n_out + 1, sizeof *names);
    for (size_t i = 0; i < n_out; i++)
        names[i] = json_string_value(json_object_get(json_array_get(outputs, i), "node"));
    tfjs_session *s = NULL;
    if (ok) {
        rc = tfjs_session_new_with_outputs(model, &shape, names, (int)n_out, &s, &err);
        if (expect) {
            if (rc != CS_OK || strcmp(json_string_value(json_object_get(expect, "phase")), "session") == 0) {
                ok = expect_error(name, expect, "session", rc, &err);
                goto done;
            }
        } else if (rc != CS_OK) {
            printf("%s: session failed: %s\n", name, err.message);
            ok = false;
        }
    }
    if (ok)
        x = read_blob(json_string_value(json_object_get(input, "file")), &len);
    if (ok && (!x || len != (size_t)count_of(&shape) * sizeof(float))) {
        fprintf(stderr, "%s: input file does not match its shape\n", name);
        ok = false;
    }
    if (ok && json_array_size(layers))
        tfjs_session_keep_all(s);
    if (ok) {
        rc = tfjs_session_run(s, x, &err);
        if (expect) {
            ok = expect_error(name, expect, "run", rc, &err);
            goto done;
        }
        if (rc != CS_OK) {
            printf("%s: run failed: %s\n", name, err.message);
            ok = false;
        }
    }
    double atol = json_is_number(json_object_get(c, "atol"))
                      ? json_number_value(json_object_get(c, "atol")) : 1e-4;
    double rtol = json_is_number(json_object_get(c, "rtol"))
                      ? json_number_value(json_object_get(c, "rtol")) : 1e-4;
    if (ok) {
        printf("%s\n", name);
        stats total = {0};
        for (size_t i = 0; i < n_out; i++) {
            tfjs_tensor t;
            char label[512];
            snprintf(label, sizeof label, "%s", names[i]);
            if (tfjs_session_node(s, names[i], &t, &err) != CS_OK) {
                printf("  %s: %s\n", names[i], err.message);
                ok = false;
                continue;
            }
            ok &= compare(label, &t, json_array_get(outputs, i), atol, rtol, &total, false);
        }
        if (json_array_size(layers)) {
            int shown = 0, diverged = 0;
            stats lt = {0};
            for (size_t i = 0; i < json_array_size(layers); i++) {
                json_t *l = json_array_get(layers, i);
                const char *node = json_string_value(json_object_get(l, "node"));
                tfjs_tensor t;
                if (tfjs_session_node(s, node, &t, &err) != CS_OK)
                    continue;   /* not computed for these outputs */
                if (!compare(node, &t, l, atol, rtol, &lt, true)) {
                    diverged++;
                    if (++shown >= 5)
                        break;
                }
            }
            printf("  layers: %d diverging (showing the first), max abs %.3g\n", diverged,
                   lt.max_abs);
        }
    }
done:
    tfjs_session_free(s);
    free(names);
    free(x);
    if (expect)
        tfjs_model_free(model);
    return ok;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASES.json\n", argv[0]);
        return 2;
    }
    json_error_t jerr;
    json_t *root = json_load_file(argv[1], 0, &jerr);
    if (!root) {
        fprintf(stderr, "%s: %s\n", argv[1], jerr.text);
        return 1;
    }
    char *copy = strdup(argv[1]);
    snprintf(base_dir, sizeof base_dir, "%s", dirname(copy));
    free(copy);
    json_t *cases = json_object_get(root, "cases");
    tfjs_model *cached = NULL;
    char *cached_path = NULL;
    int failed = 0, total = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        total++;
        if (!run_case(json_array_get(cases, i), &cached, &cached_path))
            failed++;
    }
    tfjs_model_free(cached);
    free(cached_path);
    json_decref(root);
    printf("%d of %d cases passed\n", total - failed, total);
    check_failures = failed;
    CHECK_DONE();
}
