/* The interpreter's API on a tiny model written here (no Node needed):
 * inputs with a free batch dimension, output names and lookup, repeated
 * runs, kept nodes (named at creation or keep_all), and the refusals when a
 * value is not kept or a session has not run. Values are worked by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "models/tagger/tfjs.h"

/* x [-1,4] -> a = Relu(x) -> b = Mul(a, k[4]) -> y = Identity(b);
 *             s = Sigmoid(x) (a second output, unconsumed) */
static const char *MODEL =
    "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":["
    "{\"name\":\"x\",\"op\":\"Placeholder\",\"attr\":{\"dtype\":{\"type\":\"DT_FLOAT\"},"
    "\"shape\":{\"shape\":{\"dim\":[{\"size\":\"-1\"},{\"size\":\"4\"}]}}}},"
    "{\"name\":\"k\",\"op\":\"Const\",\"attr\":{\"value\":{\"tensor\":{\"dtype\":\"DT_FLOAT\","
    "\"tensorShape\":{\"dim\":[{\"size\":\"4\"}]}}},\"dtype\":{\"type\":\"DT_FLOAT\"}}},"
    "{\"name\":\"a\",\"op\":\"Relu\",\"input\":[\"x\"]},"
    "{\"name\":\"b\",\"op\":\"Mul\",\"input\":[\"a\",\"k\",\"^x\"]},"
    "{\"name\":\"y\",\"op\":\"Identity\",\"input\":[\"b\"]},"
    "{\"name\":\"s\",\"op\":\"Sigmoid\",\"input\":[\"x\"]}]},"
    "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":[{\"name\":\"k\",\"shape\":[4],"
    "\"dtype\":\"float32\"}]}]}";

static char dir[256];

static void write_model(void)
{
    snprintf(dir, sizeof dir, "/tmp/tfjs-api-%d", (int)getpid());
    char path[512];
    snprintf(path, sizeof path, "mkdir -p %s", dir);
    if (system(path) != 0)
        return;
    snprintf(path, sizeof path, "%s/model.json", dir);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(MODEL, f);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/w.bin", dir);
    f = fopen(path, "wb");
    float k[4] = {1.0f, 2.0f, -3.0f, 0.5f};
    if (f) {
        fwrite(k, sizeof k, 1, f);
        fclose(f);
    }
}

int main(void)
{
    write_model();
    char path[512];
    snprintf(path, sizeof path, "%s/model.json", dir);
    cs_error err = {0};
    tfjs_model *m = NULL;
    CHECK_OK(tfjs_model_load(path, &m, &err), &err);
    if (!m)
        CHECK_DONE();

    CHECK_INT_EQ(tfjs_model_input_count(m), 1);
    CHECK_STR_EQ(tfjs_model_input_name(m, 0), "x");
    tfjs_shape in = tfjs_model_input_shape(m, 0);
    CHECK_INT_EQ(in.rank, 2);
    CHECK_INT_EQ(in.dims[0], -1);
    CHECK_INT_EQ(in.dims[1], 4);
    /* no signature: the unconsumed nodes, in node order */
    CHECK_INT_EQ(tfjs_model_output_count(m), 2);
    CHECK_STR_EQ(tfjs_model_output_name(m, 0), "y");
    CHECK_STR_EQ(tfjs_model_output_name(m, 1), "s");
    CHECK_INT_EQ(tfjs_model_output_index(m, "s"), 1);
    CHECK_INT_EQ(tfjs_model_output_index(m, "y:0"), 0);
    CHECK_INT_EQ(tfjs_model_output_index(m, "b"), -1);
    CHECK_INT_EQ(tfjs_model_output_index(m, "nope"), -1);

    /* the free batch dimension, filled in */
    tfjs_shape shape = {2, {3, 4}};
    tfjs_session *s = NULL;
    const char *keep[1] = {"a"};
    CHECK_OK(tfjs_session_new_with_outputs(m, &shape, keep, 1, &s, &err), &err);
    tfjs_tensor t;
    CHECK(tfjs_session_output(s, 0, &t, &err) != CS_OK);   /* not run yet */
    float x[12] = {1, -1, 2, 4, 0, 3, -2, -8, 5, 5, 5, 5};
    for (int round = 0; round < 2; round++) {
        CHECK_OK(tfjs_session_run(s, x, &err), &err);
        CHECK_OK(tfjs_session_output(s, 0, &t, &err), &err);
        CHECK_INT_EQ(t.dtype, TFJS_FLOAT32);
        CHECK_INT_EQ(t.shape.rank, 2);
        CHECK_INT_EQ(t.shape.dims[0], 3);
        const float k[4] = {1, 2, -3, 0.5f};
        for (int i = 0; i < 12; i++) {
            float want = (x[i] > 0 ? x[i] : 0) * k[i % 4];
            CHECK_NEAR(((const float *)t.data)[i], want, 0);
        }
        CHECK_OK(tfjs_session_output(s, 1, &t, &err), &err);
        CHECK_NEAR(((const float *)t.data)[0], 1 / (1 + exp(-x[0])), 1e-6);
        CHECK_OK(tfjs_session_node(s, "a", &t, &err), &err);   /* named at creation */
        CHECK_NEAR(((const float *)t.data)[1], x[1] > 0 ? x[1] : 0, 0);
        CHECK_NEAR(((const float *)t.data)[3], x[3] > 0 ? x[3] : 0, 0);
        CHECK_OK(tfjs_session_node(s, "k", &t, &err), &err);   /* constants are readable */
        CHECK_NEAR(((const float *)t.data)[2], -3, 0);
        for (int i = 0; i < 12; i++)
            x[i] = -x[i];   /* a second run with other numbers */
    }
    CHECK(tfjs_session_node(s, "b", &t, &err) != CS_OK);   /* not kept */
    CHECK(strstr(err.message, "not kept") != NULL);
    CHECK(tfjs_session_node(s, "zzz", &t, &err) == CS_ERR_NOT_FOUND);
    CHECK(tfjs_session_output(s, 7, &t, &err) != CS_OK);

    /* keep_all: every node readable after the next run */
    tfjs_session_keep_all(s);
    tfjs_session_profile(s, true);
    CHECK_OK(tfjs_session_run(s, x, &err), &err);
    CHECK_OK(tfjs_session_node(s, "b", &t, &err), &err);
    CHECK_NEAR(((const float *)t.data)[0], 1, 0);   /* x[0] = 1 again: relu(1) * 1 */
    FILE *null = fopen("/dev/null", "w");
    if (null) {
        tfjs_session_profile_print(s, null);
        fclose(null);
    }
    tfjs_session_free(s);

    /* shapes the placeholder does not accept */
    tfjs_shape bad = {2, {3, 5}};
    CHECK(tfjs_session_new(m, &bad, &s, &err) == CS_ERR_INVALID);
    CHECK(strstr(err.message, "does not fit") != NULL);
    tfjs_shape free_dim = {2, {-1, 4}};
    CHECK(tfjs_session_new(m, &free_dim, &s, &err) != CS_OK);
    const char *missing[1] = {"no_such_node"};
    CHECK(tfjs_session_new_with_outputs(m, &shape, missing, 1, &s, &err) == CS_ERR_NOT_FOUND);

    tfjs_model_free(m);
    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
