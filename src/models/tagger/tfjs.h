/* A TensorFlow.js graph-model interpreter: loads model.json + weight shards
 * (float32, float16 and uint8/uint16-quantised weights, dequantised on load),
 * builds the graph once, and runs it in float32 NHWC with TensorFlow's
 * semantics for exactly the ops the built-in tagger's models use.
 *
 * A tfjs_model is read-only after loading and may be shared by threads; each
 * thread runs its own tfjs_session, whose buffers are planned once for one
 * input shape (no allocation per node per run). Sessions call OpenBLAS: with
 * one session per core, call nn_set_blas_threads(1) (nn/nn.h) once first. */
#ifndef CS_MODELS_TAGGER_TFJS_H
#define CS_MODELS_TAGGER_TFJS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "common/error.h"

#define TFJS_MAX_RANK 6

typedef enum tfjs_dtype { TFJS_FLOAT32, TFJS_INT32, TFJS_BOOL } tfjs_dtype;

typedef struct tfjs_shape {
    int rank;
    int64_t dims[TFJS_MAX_RANK];   /* -1 = free (inputs only) */
} tfjs_shape;

typedef struct tfjs_model tfjs_model;
typedef struct tfjs_session tfjs_session;

/* Loads `model_json` and the shard files it names (relative to its folder).
 * Errors name the file and, for graph problems, the node: unknown op, missing
 * input, bad attribute, a shard shorter or longer than the manifest says. */
cs_status tfjs_model_load(const char *model_json, tfjs_model **out, cs_error *err);
void tfjs_model_free(tfjs_model *model);

int tfjs_model_input_count(const tfjs_model *model);
const char *tfjs_model_input_name(const tfjs_model *model, int index);
tfjs_shape tfjs_model_input_shape(const tfjs_model *model, int index);
int tfjs_model_output_count(const tfjs_model *model);
const char *tfjs_model_output_name(const tfjs_model *model, int index);
/* The index of an output by its name (with or without ":0"), or -1. */
int tfjs_model_output_index(const tfjs_model *model, const char *name);

/* Plans a session for the given concrete input shape (free dims filled in);
 * shape mismatches are reported naming the node. */
cs_status tfjs_session_new(const tfjs_model *model, const tfjs_shape *input_shape,
                           tfjs_session **out, cs_error *err);
/* The same, also keeping the values of the named nodes ("name" or
 * "name:k") readable with tfjs_session_node after each run. */
cs_status tfjs_session_new_with_outputs(const tfjs_model *model, const tfjs_shape *input_shape,
                                        const char *const *node_names, int count,
                                        tfjs_session **out, cs_error *err);
void tfjs_session_free(tfjs_session *session);

/* Runs the graph on `input` (float32, the planned shape, row-major). */
cs_status tfjs_session_run(tfjs_session *session, const float *input, cs_error *err);

/* An output of the last run (valid until the next run or free). */
typedef struct tfjs_tensor {
    tfjs_dtype dtype;
    tfjs_shape shape;
    const void *data;           /* float * or int32_t * (bool as uint8_t *) */
} tfjs_tensor;
cs_status tfjs_session_output(const tfjs_session *session, int index, tfjs_tensor *out,
                              cs_error *err);

/* Debugging and tests: after tfjs_session_keep_all, every node's value is
 * kept (no buffer reuse, no fusion; the session re-plans at its next run)
 * and tfjs_session_node reads it after a run. Without it, tfjs_session_node
 * reads outputs, constants and the nodes named at creation. */
void tfjs_session_keep_all(tfjs_session *session);
cs_status tfjs_session_node(const tfjs_session *session, const char *node_name,
                            tfjs_tensor *out, cs_error *err);

/* Profiling: after tfjs_session_profile(session, true) each run adds every
 * node's time; tfjs_session_profile_print writes the totals by op and the
 * slowest nodes. */
void tfjs_session_profile(tfjs_session *session, bool on);
void tfjs_session_profile_print(const tfjs_session *session, FILE *out);

#endif
