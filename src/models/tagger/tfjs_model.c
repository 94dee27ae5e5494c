/* Loading a graph model: model.json (jansson), the weights, the node list
 * with parsed attributes, inputs resolved ("x", "x:1"; "^x" control inputs
 * only count as uses), a topological order, the graph's inputs and outputs
 * (the signature's, also under userDefinedMetadata, else the nodes nothing
 * consumes, in node order, as tfjs's operation_mapper does), and constant
 * folding: every node whose inputs are all constant is computed once here. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "common/array.h"
#include "common/fsutil.h"
#include "models/tagger/tfjs_internal.h"

static void free_value(tfjs_value *v)
{
    if (v)
        free(v->data);
}

void tfjs_model_free(tfjs_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_nodes; i++) {
        tfjs_node *n = &m->nodes[i];
        free(n->name);
        free(n->op_name);
        free(n->in);
        if (n->konst)
            for (int k = 0; k < n->n_out; k++)
                free_value(&n->konst[k]);
        free(n->konst);
    }
    free(m->nodes);
    strmap_free(&m->names);
    free(m->order);
    free(m->inputs);
    free(m->outputs);
    if (m->output_names)
        for (int i = 0; i < m->n_outputs; i++)
            free(m->output_names[i]);
    free(m->output_names);
    free(m->path);
    free(m);
}

/* "name" -> (name, 0), "name:3" -> (name, 3); the name is copied into buf. */
static bool split_ref(const char *s, char *buf, size_t size, int *port)
{
    const char *colon = strrchr(s, ':');
    size_t n = strlen(s);
    *port = 0;
    if (colon && colon[1]) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end == '\0' && p >= 0 && p < TFJS_MAX_INPUTS) {
            *port = (int)p;
            n = (size_t)(colon - s);
        }
    }
    if (n == 0 || n >= size)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

static int find_node(const tfjs_model *m, const char *name)
{
    int64_t *v;
    return strmap_get(&m->names, name, &v) ? (int)*v : -1;
}

/* A node's input strings (owned by the JSON document) until resolved. */
typedef struct node_inputs {
    const char **names;
    int count;
} node_inputs;

/* Node skeletons: names, ops, attributes; inputs are resolved afterwards. */
static cs_status read_nodes(tfjs_model *m, json_t *list, node_inputs *inputs_of, cs_error *err)
{
    size_t n = json_array_size(list);
    m->nodes = calloc(n ? n : 1, sizeof *m->nodes);
    if (!m->nodes)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(list, i);
        json_t *name = json_object_get(j, "name"), *op = json_object_get(j, "op");
        if (!json_is_string(name) || !json_is_string(op) || !json_string_value(name)[0])
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: node %zu has no name or op",
                                m->path, i);
        tfjs_node *node = &m->nodes[i];
        node->name = strdup(json_string_value(name));
        node->op_name = strdup(json_string_value(op));
        m->n_nodes = (int)i + 1;
        if (!node->name || !node->op_name)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        int64_t *dup;
        if (strmap_get(&m->names, node->name, &dup))
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: two nodes are named '%s'", m->path,
                                node->name);
        if (!strmap_put(&m->names, node->name, (int64_t)i))
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        json_t *inputs = json_object_get(j, "input");
        if (inputs && !json_is_array(inputs))
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: node '%s' has a malformed input list",
                                m->path, node->name);
        size_t ni = json_array_size(inputs);
        if (ni > TFJS_MAX_INPUTS)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: node '%s' has more than %d inputs",
                                m->path, node->name, TFJS_MAX_INPUTS);
        inputs_of[i].names = calloc(ni ? ni : 1, sizeof *inputs_of[i].names);
        node->in = calloc(ni ? ni : 1, sizeof *node->in);
        if (!inputs_of[i].names || !node->in)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        for (size_t k = 0; k < ni; k++) {
            json_t *s = json_array_get(inputs, k);
            if (!json_is_string(s))
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: node '%s' has a malformed input",
                                    m->path, node->name);
            inputs_of[i].names[k] = json_string_value(s);
            if (json_string_value(s)[0] != '^')
                node->n_in++;
        }
        inputs_of[i].count = (int)ni;
        cs_status rc = tfjs_op_parse(m->path, node, j, err);
        if (rc != CS_OK)
            return rc;
    }
    return CS_OK;
}

static cs_status resolve_inputs(tfjs_model *m, const node_inputs *inputs_of, cs_error *err)
{
    char buf[1024];
    for (int i = 0; i < m->n_nodes; i++) {
        tfjs_node *node = &m->nodes[i];
        int k = 0;
        for (int j = 0; j < inputs_of[i].count; j++) {
            const char *s = inputs_of[i].names[j];
            bool control = s[0] == '^';
            int port = 0;
            if (!split_ref(control ? s + 1 : s, buf, sizeof buf, &port))
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: node '%s' (%s): input '%s' is "
                                    "not a node name", m->path, node->name, node->op_name, s);
            int src = find_node(m, buf);
            if (src < 0)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: node '%s' (%s): input '%s' is not "
                                    "a node of the graph", m->path, node->name, node->op_name, s);
            m->nodes[src].consumed = true;
            if (control)
                continue;
            if (port >= m->nodes[src].n_out)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: node '%s' (%s): input '%s' names "
                                    "output %d, but '%s' has %d", m->path, node->name,
                                    node->op_name, s, port, buf, m->nodes[src].n_out);
            node->in[k].node = src;
            node->in[k].port = port;
            k++;
        }
    }
    return CS_OK;
}

/* Depth-first post-order, roots in node-list order: a list that is already
 * topological keeps its order. */
static cs_status topo_sort(tfjs_model *m, cs_error *err)
{
    int n = m->n_nodes;
    m->order = malloc((size_t)(n ? n : 1) * sizeof *m->order);
    unsigned char *state = calloc((size_t)(n ? n : 1), 1);
    int *stack = malloc((size_t)(n ? n : 1) * sizeof *stack);
    int *next = calloc((size_t)(n ? n : 1), sizeof *next);
    cs_status rc = CS_OK;
    if (!m->order || !state || !stack || !next)
        rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    int count = 0;
    for (int root = 0; root < n && rc == CS_OK; root++) {
        if (state[root])
            continue;
        int sp = 0;
        stack[sp++] = root;
        state[root] = 1;
        while (sp > 0 && rc == CS_OK) {
            int v = stack[sp - 1];
            tfjs_node *node = &m->nodes[v];
            if (next[v] < node->n_in) {
                int u = node->in[next[v]++].node;
                if (state[u] == 1)
                    rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: the graph has a cycle through "
                                      "node '%s'", m->path, m->nodes[u].name);
                else if (state[u] == 0) {
                    state[u] = 1;
                    stack[sp++] = u;
                }
            } else {
                state[v] = 2;
                m->order[count++] = v;
                sp--;
            }
        }
    }
    free(state);
    free(stack);
    free(next);
    return rc;
}

static cs_status attach_constants(tfjs_model *m, json_t *json_nodes, strmap *weight_map,
                                  tfjs_value *weights, cs_error *err)
{
    char a[96], b[96];
    for (int i = 0; i < m->n_nodes; i++) {
        tfjs_node *node = &m->nodes[i];
        if (node->op != TFJS_OP_CONST)
            continue;
        int64_t *idx;
        if (!strmap_get(weight_map, node->name, &idx))
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: constant '%s' has no data in the "
                                "weightsManifest", m->path, node->name);
        tfjs_value *w = &weights[*idx];
        if (!w->data)
            return cs_error_set(err, CS_ERR_CORRUPT, "%s: weight '%s' is used twice", m->path,
                                node->name);
        /* The node's own declared shape, when it has one, must agree. */
        json_t *value = tfjs_attr(json_array_get(json_nodes, (size_t)i), "value");
        json_t *tensor = value ? json_object_get(value, "tensor") : NULL;
        json_t *tshape = tensor ? json_object_get(tensor, "tensorShape") : NULL;
        tfjs_shape declared;
        if (tshape && tfjs_parse_shape(tshape, &declared) && declared.rank >= 0) {
            bool same = declared.rank == w->shape.rank;
            for (int d = 0; same && d < declared.rank; d++)
                same = declared.dims[d] == w->shape.dims[d] || declared.dims[d] == -1;
            if (!same)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: constant '%s' is %s in the "
                                    "weightsManifest but %s in its node", m->path, node->name,
                                    tfjs_shape_str(&w->shape, a, sizeof a),
                                    tfjs_shape_str(&declared, b, sizeof b));
        }
        node->konst = malloc(sizeof *node->konst);
        if (!node->konst)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        *node->konst = *w;
        w->data = NULL;   /* moved */
    }
    return CS_OK;
}

static cs_status find_io(tfjs_model *m, json_t *root, cs_error *err)
{
    json_t *sig = NULL, *meta = json_object_get(root, "userDefinedMetadata");
    if (json_is_object(meta))
        sig = json_object_get(meta, "signature");
    if (!json_is_object(sig))
        sig = json_object_get(root, "signature");
    json_t *sig_in = json_is_object(sig) ? json_object_get(sig, "inputs") : NULL;
    json_t *sig_out = json_is_object(sig) ? json_object_get(sig, "outputs") : NULL;
    char buf[1024];
    const char *key;
    json_t *v;

    /* inputs: the signature's, else every Placeholder */
    m->inputs = malloc((size_t)(m->n_nodes ? m->n_nodes : 1) * sizeof *m->inputs);
    if (!m->inputs)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    if (json_is_object(sig_in) && json_object_size(sig_in) > 0) {
        json_object_foreach(sig_in, key, v) {
            json_t *name = json_object_get(v, "name");
            int port, idx = -1;
            if (json_is_string(name) && split_ref(json_string_value(name), buf, sizeof buf, &port))
                idx = find_node(m, buf);
            if (idx < 0 || m->nodes[idx].op != TFJS_OP_PLACEHOLDER || m->n_inputs >= m->n_nodes)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: signature input '%s' is not a "
                                    "Placeholder node", m->path, key);
            tfjs_node *ph = &m->nodes[idx];
            if (ph->at.shape.rank < 0) {   /* take the signature's shape */
                json_t *ts = json_object_get(v, "tensorShape");
                if (ts && !tfjs_parse_shape(ts, &ph->at.shape))
                    return cs_error_set(err, CS_ERR_CORRUPT, "%s: signature input '%s' has a "
                                        "bad shape", m->path, key);
            }
            m->inputs[m->n_inputs++] = idx;
        }
    } else {
        for (int i = 0; i < m->n_nodes; i++)
            if (m->nodes[i].op == TFJS_OP_PLACEHOLDER)
                m->inputs[m->n_inputs++] = i;
    }
    m->input_node = m->n_inputs > 0 ? m->inputs[0] : -1;

    /* outputs: the signature's, else the nodes nothing consumes */
    size_t cap = 0;
    if (json_is_object(sig_out) && json_object_size(sig_out) > 0) {
        json_object_foreach(sig_out, key, v) {
            json_t *name = json_object_get(v, "name");
            int port = 0, idx = -1;
            if (json_is_string(name) && split_ref(json_string_value(name), buf, sizeof buf, &port))
                idx = find_node(m, buf);
            if (idx < 0 || port >= m->nodes[idx].n_out)
                return cs_error_set(err, CS_ERR_CORRUPT, "%s: signature output '%s' is not a "
                                    "node output of the graph", m->path, key);
            if (!ARRAY_RESERVE(m->outputs, cap, (size_t)m->n_outputs))
                return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            m->outputs[m->n_outputs++] = (tfjs_ref){idx, port};
        }
    } else {
        for (int i = 0; i < m->n_nodes; i++) {
            if (m->nodes[i].consumed || m->nodes[i].n_out == 0)
                continue;
            if (!ARRAY_RESERVE(m->outputs, cap, (size_t)m->n_outputs))
                return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            m->outputs[m->n_outputs++] = (tfjs_ref){i, 0};
        }
    }
    if (m->n_outputs == 0)
        return cs_error_set(err, CS_ERR_CORRUPT, "%s: the graph has no outputs", m->path);
    m->output_names = calloc((size_t)m->n_outputs, sizeof *m->output_names);
    if (!m->output_names)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < m->n_outputs; i++) {
        const tfjs_ref *r = &m->outputs[i];
        const char *name = m->nodes[r->node].name;
        size_t len = strlen(name) + 16;
        m->output_names[i] = malloc(len);
        if (!m->output_names[i])
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        if (r->port)
            snprintf(m->output_names[i], len, "%s:%d", name, r->port);
        else
            snprintf(m->output_names[i], len, "%s", name);
    }
    return CS_OK;
}

/* Computes every node whose inputs are all constant, in topological order;
 * the graph that sessions run starts at the placeholders. */
static cs_status fold_constants(tfjs_model *m, cs_error *err)
{
    int64_t folded_bytes = 0;
    for (int oi = 0; oi < m->n_nodes; oi++) {
        tfjs_node *node = &m->nodes[m->order[oi]];
        if (node->konst || node->op == TFJS_OP_PLACEHOLDER || node->op == TFJS_OP_NOOP)
            continue;
        bool all_const = true;
        for (int i = 0; i < node->n_in && all_const; i++)
            all_const = m->nodes[node->in[i].node].konst != NULL;
        if (!all_const)
            continue;
        const tfjs_value *in[TFJS_MAX_INPUTS];
        for (int i = 0; i < node->n_in; i++)
            in[i] = &m->nodes[node->in[i].node].konst[node->in[i].port];
        tfjs_value *out = calloc((size_t)node->n_out, sizeof *out);
        tfjs_step step;
        if (!out)
            return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        cs_status rc = tfjs_op_prepare(node, in, out, &step, err);
        for (int k = 0; k < node->n_out && rc == CS_OK; k++) {
            size_t bytes = (size_t)tfjs_shape_elements(&out[k].shape) *
                           tfjs_dtype_size(out[k].dtype);
            folded_bytes += (int64_t)bytes;
            if (folded_bytes > TFJS_MAX_WEIGHT_BYTES)
                rc = cs_error_set(err, CS_ERR_TOO_LARGE, "node '%s' (%s): constant folding "
                                  "produces more than %lld bytes", node->name, node->op_name,
                                  (long long)TFJS_MAX_WEIGHT_BYTES);
            else if (!(out[k].data = malloc(bytes ? bytes : 1)))
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        }
        void *scratch = NULL;
        if (rc == CS_OK && step.scratch_bytes &&
            !(scratch = malloc(step.scratch_bytes)))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        if (rc == CS_OK)
            rc = tfjs_op_run(node, &step, in, out, scratch, err);
        free(scratch);
        if (rc != CS_OK) {
            for (int k = 0; k < node->n_out; k++)
                free(out[k].data);
            free(out);
            return cs_error_prefix(err, "%s: ", m->path);
        }
        node->konst = out;
    }
    return CS_OK;
}

cs_status tfjs_model_load(const char *model_json, tfjs_model **out, cs_error *err)
{
    *out = NULL;
    tfjs_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(model_json))) {
        free(m);
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    strmap_init(&m->names);
    m->input_node = -1;
    uint8_t *text = NULL;
    size_t len = 0;
    json_t *root = NULL;
    node_inputs *inputs_of = NULL;
    size_t n_listed = 0;
    tfjs_value *weights = NULL;
    int n_weights = 0;
    strmap weight_map;
    strmap_init(&weight_map);

    cs_status rc = fs_read_file(model_json, TFJS_MAX_JSON_BYTES, &text, &len, err);
    if (rc == CS_OK) {
        json_error_t jerr;
        root = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root)
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: line %d: %s", model_json, jerr.line,
                              jerr.text);
    }
    json_t *topo = NULL, *list = NULL;
    if (rc == CS_OK) {
        json_t *format = json_object_get(root, "format");
        topo = json_object_get(root, "modelTopology");
        list = json_is_object(topo) ? json_object_get(topo, "node") : NULL;
        if (!json_is_object(root))
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: not a JSON object", model_json);
        else if (json_is_string(format) && strcmp(json_string_value(format), "graph-model") != 0)
            rc = cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: format '%s' (only TF.js graph "
                              "models are supported)", model_json, json_string_value(format));
        else if (!json_is_array(list))
            rc = cs_error_set(err, CS_ERR_CORRUPT, "%s: modelTopology.node is missing; not a "
                              "TF.js graph model", model_json);
        else if ((n_listed = json_array_size(list)) > TFJS_MAX_NODES)
            rc = cs_error_set(err, CS_ERR_TOO_LARGE, "%s: more than %d nodes", model_json,
                              TFJS_MAX_NODES);
        else if (!(inputs_of = calloc(n_listed ? n_listed : 1, sizeof *inputs_of)))
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    }
    if (rc == CS_OK) {
        char *dir_copy = strdup(model_json);
        if (!dir_copy)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        else
            rc = tfjs_weights_load(model_json, dirname(dir_copy),
                                   json_object_get(root, "weightsManifest"), &weight_map,
                                   &weights, &n_weights, err);
        free(dir_copy);
    }
    if (rc == CS_OK)
        rc = read_nodes(m, list, inputs_of, err);
    if (rc == CS_OK)
        rc = resolve_inputs(m, inputs_of, err);
    if (rc == CS_OK)
        rc = attach_constants(m, list, &weight_map, weights, err);
    if (rc == CS_OK)
        rc = topo_sort(m, err);
    if (rc == CS_OK)
        rc = find_io(m, root, err);
    if (rc == CS_OK)
        rc = fold_constants(m, err);

    for (size_t i = 0; inputs_of && i < n_listed; i++)
        free(inputs_of[i].names);
    free(inputs_of);
    for (int i = 0; i < n_weights; i++)
        free(weights[i].data);
    free(weights);
    strmap_free(&weight_map);
    json_decref(root);
    free(text);
    if (rc != CS_OK) {
        tfjs_model_free(m);
        return rc;
    }
    *out = m;
    return CS_OK;
}

int tfjs_model_input_count(const tfjs_model *m)
{
    return m->n_inputs;
}

const char *tfjs_model_input_name(const tfjs_model *m, int index)
{
    return index >= 0 && index < m->n_inputs ? m->nodes[m->inputs[index]].name : NULL;
}

tfjs_shape tfjs_model_input_shape(const tfjs_model *m, int index)
{
    tfjs_shape s = {0, {0}};
    if (index >= 0 && index < m->n_inputs)
        s = m->nodes[m->inputs[index]].at.shape;
    return s;
}

int tfjs_model_output_count(const tfjs_model *m)
{
    return m->n_outputs;
}

const char *tfjs_model_output_name(const tfjs_model *m, int index)
{
    return index >= 0 && index < m->n_outputs ? m->output_names[index] : NULL;
}

int tfjs_model_output_index(const tfjs_model *m, const char *name)
{
    char buf[1024];
    int port;
    if (!split_ref(name, buf, sizeof buf, &port))
        return -1;
    int node = find_node(m, buf);
    for (int i = 0; i < m->n_outputs; i++)
        if (m->outputs[i].node == node && m->outputs[i].port == port)
            return i;
    return -1;
}
