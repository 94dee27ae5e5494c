/* A session: the graph planned for one input shape. Creating it runs shape
 * inference over the nodes the outputs need, fuses neighbours (tfjs_fuse.c)
 * and plans memory: every computed tensor gets a buffer with a lifetime (the
 * steps from its writer to its last reader); reshape-like ops share their
 * input's buffer, elementwise ops overwrite an input that dies with them,
 * and the buffers are packed into one arena, largest first, each at the
 * lowest offset free over its lifetime. A run then only calls kernels: no
 * allocation. */
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "models/tagger/tfjs_internal.h"

#define ARENA_ALIGN 64
#define FOREVER (1 << 30)

static size_t round_up(size_t n)
{
    return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

static void release_plan(tfjs_session *s)
{
    free(s->port_base);
    free(s->vals);
    free(s->buf_of);
    free(s->kept);
    free(s->value_alias);
    free(s->needed);
    free(s->steps);
    free(s->fuse);
    free(s->step_view);
    free(s->step_of);
    free(s->bufs);
    free(s->arena);
    free(s->scratch);
    free(s->step_seconds);
    tfjs_session keep = *s;
    memset(s, 0, sizeof *s);
    s->m = keep.m;
    s->input_shape = keep.input_shape;
    s->extra = keep.extra;
    s->n_extra = keep.n_extra;
    s->keep_all = keep.keep_all;
    s->want_keep_all = keep.want_keep_all;
    s->profile = keep.profile;
}

void tfjs_session_free(tfjs_session *s)
{
    if (!s)
        return;
    release_plan(s);
    for (int i = 0; i < s->n_extra; i++)
        free(s->extra[i]);
    free(s->extra);
    free(s);
}

/* Finds "name" or "name:k" among the nodes. */
static bool lookup_ref(const tfjs_model *m, const char *name, tfjs_ref *out)
{
    int64_t *v;
    if (strmap_get(&m->names, name, &v)) {
        *out = (tfjs_ref){(int)*v, 0};
        return m->nodes[*v].n_out > 0;
    }
    const char *colon = strrchr(name, ':');
    if (!colon || colon == name || !colon[1])
        return false;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    size_t n = (size_t)(colon - name);
    char buf[1024];
    if (*end || port < 0 || n >= sizeof buf)
        return false;
    memcpy(buf, name, n);
    buf[n] = '\0';
    if (!strmap_get(&m->names, buf, &v) || port >= m->nodes[*v].n_out)
        return false;
    *out = (tfjs_ref){(int)*v, (int)port};
    return true;
}

static cs_status check_input_shape(const tfjs_model *m, const tfjs_shape *given, cs_error *err)
{
    const tfjs_node *ph = &m->nodes[m->input_node];
    char a[96], b[96];
    if (given->rank < 0 || given->rank > TFJS_MAX_RANK)
        return cs_error_set(err, CS_ERR_INVALID, "%s: input rank %d is not supported", m->path,
                            given->rank);
    int64_t n = 1;
    for (int i = 0; i < given->rank; i++) {
        if (given->dims[i] < 0 || given->dims[i] > TFJS_MAX_ELEMENTS)
            return cs_error_set(err, CS_ERR_INVALID, "%s: input shape %s has a free or bad "
                                "dimension", m->path, tfjs_shape_str(given, a, sizeof a));
        n *= given->dims[i];
        if (n > TFJS_MAX_ELEMENTS)
            return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: input shape %s is too large",
                                m->path, tfjs_shape_str(given, a, sizeof a));
    }
    if (ph->at.dtype != TFJS_FLOAT32)
        return cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: input '%s' is %s; only float32 inputs "
                            "are supported", m->path, ph->name, tfjs_dtype_name(ph->at.dtype));
    const tfjs_shape *want = &ph->at.shape;
    if (want->rank < 0)
        return CS_OK;
    bool ok = want->rank == given->rank;
    for (int i = 0; ok && i < want->rank; i++)
        ok = want->dims[i] == -1 || want->dims[i] == given->dims[i];
    if (!ok)
        return cs_error_set(err, CS_ERR_INVALID, "%s: input '%s' has shape %s; %s does not fit",
                            m->path, ph->name, tfjs_shape_str(want, a, sizeof a),
                            tfjs_shape_str(given, b, sizeof b));
    return CS_OK;
}

int tfjs_step_reads(const tfjs_session *s, int i, int *out, int max)
{
    const tfjs_fusion *f = &s->fuse[i];
    const tfjs_model *m = s->m;
    int n = 0;
#define READ(v)                   \
    do {                          \
        if (n < max && (v) >= 0)  \
            out[n++] = (v);       \
    } while (0)
    switch (f->kind) {
    case TFJS_STEP_SKIP:
        break;
    case TFJS_STEP_OP: {
        const tfjs_node *node = &m->nodes[s->steps[i].node];
        for (int k = 0; k < node->n_in; k++)
            READ(tfjs_value_of(s, node->in[k]));
        break;
    }
    case TFJS_STEP_CONV: {
        const tfjs_node *node = &m->nodes[s->steps[i].node];
        READ(f->x_value >= 0 ? f->x_value : tfjs_value_of(s, node->in[0]));
        for (int k = 1; k < node->n_in; k++)
            READ(tfjs_value_of(s, node->in[k]));
        READ(f->residual);
        READ(f->in_scale);
        break;
    }
    case TFJS_STEP_MASK:
        READ(f->x_value);
        READ(f->residual);
        break;
    case TFJS_STEP_BLOCK:
        READ(f->x_value);
        READ(f->in_scale);
        for (int j = 0; j < 3; j++) {
            if (f->nodes[j] < 0)
                continue;
            const tfjs_node *node = &m->nodes[f->nodes[j]];
            for (int k = 1; k < node->n_in; k++)
                READ(tfjs_value_of(s, node->in[k]));
        }
        READ(f->residual);
        break;
    }
#undef READ
    return n;
}

/* Values step i writes (into out, at most max): a fused step its chain's
 * end (and a block its fused Mean), else its node's ports. */
static int step_writes(const tfjs_session *s, int i, int *out, int max)
{
    const tfjs_fusion *f = &s->fuse[i];
    if (f->kind == TFJS_STEP_SKIP)
        return 0;
    int base = s->port_base[s->steps[i].node], n = 0;
    int ports = f->out_value == base ? s->m->nodes[s->steps[i].node].n_out : 1;
    for (int k = 0; k < ports && n < max; k++)
        out[n++] = f->out_value + k;
    if (f->kind == TFJS_STEP_BLOCK && f->mean_value >= 0 && n < max)
        out[n++] = f->mean_value;
    return n;
}

static cs_status alloc_tables(tfjs_session *s, cs_error *err)
{
    const tfjs_model *m = s->m;
    size_t nn = (size_t)(m->n_nodes ? m->n_nodes : 1);
    size_t nv = (size_t)(s->n_values ? s->n_values : 1);
    s->vals = calloc(nv, sizeof *s->vals);
    s->buf_of = malloc(nv * sizeof *s->buf_of);
    s->kept = calloc(nv, sizeof *s->kept);
    s->value_alias = malloc(nv * sizeof *s->value_alias);
    s->needed = calloc(nn, sizeof *s->needed);
    s->steps = calloc(nn, sizeof *s->steps);
    s->fuse = calloc(nn, sizeof *s->fuse);
    s->step_view = calloc(nn, sizeof *s->step_view);
    s->step_of = malloc(nn * sizeof *s->step_of);
    s->bufs = calloc(nv, sizeof *s->bufs);
    if (!s->vals || !s->buf_of || !s->kept || !s->value_alias || !s->needed || !s->steps ||
        !s->fuse || !s->step_view || !s->step_of || !s->bufs)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nv; i++) {
        s->buf_of[i] = -1;
        s->value_alias[i] = -1;
    }
    for (size_t i = 0; i < nn; i++)
        s->step_of[i] = -1;
    return CS_OK;
}

/* What the outputs and the named nodes need, then shape inference. */
static cs_status infer(tfjs_session *s, cs_error *err)
{
    const tfjs_model *m = s->m;
    for (int i = 0; i < m->n_outputs; i++) {
        s->needed[m->outputs[i].node] = true;
        s->kept[tfjs_value_of(s, m->outputs[i])] = true;
    }
    for (int i = 0; i < s->n_extra; i++) {
        tfjs_ref r;
        if (!lookup_ref(m, s->extra[i], &r))
            return cs_error_set(err, CS_ERR_NOT_FOUND, "%s: no node '%s'", m->path, s->extra[i]);
        s->needed[r.node] = true;
        for (int k = 0; k < m->nodes[r.node].n_out; k++)
            s->kept[s->port_base[r.node] + k] = true;
    }
    for (int oi = m->n_nodes - 1; oi >= 0; oi--) {
        const tfjs_node *n = &m->nodes[m->order[oi]];
        if (!s->needed[m->order[oi]] || n->konst)
            continue;
        for (int k = 0; k < n->n_in; k++)
            s->needed[n->in[k].node] = true;
    }
    if (s->keep_all)
        for (int v = 0; v < s->n_values; v++)
            s->kept[v] = true;
    const tfjs_value **in = malloc(TFJS_MAX_INPUTS * sizeof *in);
    if (!in)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    cs_status rc = CS_OK;
    for (int oi = 0; oi < m->n_nodes && rc == CS_OK; oi++) {
        int id = m->order[oi];
        const tfjs_node *n = &m->nodes[id];
        if (!s->needed[id])
            continue;
        tfjs_value *out = &s->vals[s->port_base[id]];
        if (n->konst) {
            for (int k = 0; k < n->n_out; k++)
                out[k] = n->konst[k];
            continue;
        }
        if (n->op == TFJS_OP_PLACEHOLDER) {
            if (id != m->input_node) {
                rc = cs_error_set(err, CS_ERR_UNSUPPORTED, "%s: the outputs need input '%s' too; "
                                  "only one input (%s) can be fed", m->path, n->name,
                                  m->nodes[m->input_node].name);
                break;
            }
            rc = check_input_shape(m, &s->input_shape, err);
            out->dtype = TFJS_FLOAT32;
            out->shape = s->input_shape;
            out->data = NULL;
            s->buf_of[s->port_base[id]] = -2;
            continue;
        }
        if (n->op == TFJS_OP_NOOP)
            continue;
        for (int k = 0; k < n->n_in; k++)
            in[k] = &s->vals[tfjs_value_of(s, n->in[k])];
        tfjs_step *step = &s->steps[s->n_steps];
        rc = tfjs_op_prepare(n, in, out, step, err);
        if (rc != CS_OK) {
            rc = cs_error_prefix(err, "%s: ", m->path);
            break;
        }
        step->node = id;
        s->fuse[s->n_steps] = (tfjs_fusion){TFJS_STEP_OP, s->port_base[id], -1, -1, -1, -1,
                                            {-1, -1, -1}, {0}};
        s->step_of[id] = s->n_steps;
        s->step_view[s->n_steps] = tfjs_op_is_view(n->op);
        s->n_steps++;
    }
    free(in);
    return rc;
}

/* Buffers and their lifetimes, in-place reuse, then the arena layout. */
static cs_status layout(tfjs_session *s, cs_error *err)
{
    const tfjs_model *m = s->m;
    int *reads = malloc((TFJS_MAX_INPUTS + 16) * sizeof *reads);
    if (!reads)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->scratch_bytes = 0;
    for (int i = 0; i < s->n_steps; i++) {
        tfjs_fusion *f = &s->fuse[i];
        if (f->kind == TFJS_STEP_SKIP)
            continue;
        if (f->kind == TFJS_STEP_CONV)
            s->steps[i].scratch_bytes =
                nn_conv2d_ex_scratch_floats(&s->steps[i].p.conv.c, f->in_scale >= 0) *
                sizeof(float);
        if (s->steps[i].scratch_bytes > s->scratch_bytes)
            s->scratch_bytes = s->steps[i].scratch_bytes;
        int base = s->port_base[s->steps[i].node];
        if (s->step_view[i]) {
            /* share the input's memory; a view of the caller's input that must
             * outlive the run gets its own copy */
            int src = tfjs_value_of(s, m->nodes[s->steps[i].node].in[0]);
            if (!(s->buf_of[src] == -2 && s->kept[base])) {
                s->value_alias[base] = src;
                s->buf_of[base] = s->buf_of[src];
                continue;
            }
            s->step_view[i] = false;
        }
        int n = step_writes(s, i, reads, TFJS_MAX_INPUTS + 16);
        for (int k = 0; k < n; k++) {
            tfjs_buffer *b = &s->bufs[s->n_bufs];
            b->bytes = (size_t)tfjs_shape_elements(&s->vals[reads[k]].shape) *
                       tfjs_dtype_size(s->vals[reads[k]].dtype);
            b->first = b->last = i;
            s->buf_of[reads[k]] = s->n_bufs++;
        }
    }
    /* lifetimes: the last step reading any value of a buffer */
    for (int i = 0; i < s->n_steps; i++) {
        int nr = tfjs_step_reads(s, i, reads, TFJS_MAX_INPUTS + 16);
        for (int k = 0; k < nr; k++) {
            int b = s->buf_of[reads[k]];
            if (b >= 0 && s->bufs[b].last < i)
                s->bufs[b].last = i;
        }
    }
    for (int v = 0; v < s->n_values; v++)
        if (s->kept[v] && s->buf_of[v] >= 0)
            s->bufs[s->buf_of[v]].last = FOREVER;
    /* in place: an elementwise op may write over an input dying with it */
    if (!s->keep_all) {
        const tfjs_value **in = malloc(TFJS_MAX_INPUTS * sizeof *in);
        for (int i = 0; in && i < s->n_steps; i++) {
            if (s->fuse[i].kind != TFJS_STEP_OP || s->step_view[i])
                continue;
            const tfjs_node *n = &m->nodes[s->steps[i].node];
            for (int k = 0; k < n->n_in; k++)
                in[k] = &s->vals[tfjs_value_of(s, n->in[k])];
            int base = s->fuse[i].out_value, which;
            if (n->n_out != 1 || !tfjs_op_in_place(n, in, &s->vals[base], &which))
                continue;
            int bu = s->buf_of[tfjs_value_of(s, n->in[which])], bv = s->buf_of[base];
            if (bu < 0 || bv < 0 || bu == bv || s->bufs[bu].last != i ||
                s->bufs[bu].bytes != s->bufs[bv].bytes)
                continue;
            bool shared = false;   /* another operand in the buffer being overwritten */
            for (int k = 0; k < n->n_in; k++)
                shared |= k != which && s->buf_of[tfjs_value_of(s, n->in[k])] == bu;
            if (shared)
                continue;
            s->bufs[bu].last = s->bufs[bv].last;
            s->bufs[bv].merged = true;
            for (int v = 0; v < s->n_values; v++)
                if (s->buf_of[v] == bv)
                    s->buf_of[v] = bu;
        }
        free(in);
    }
    free(reads);

    /* arena: largest first, lowest offset free over the lifetime */
    int *order = malloc((size_t)(s->n_bufs ? s->n_bufs : 1) * sizeof *order);
    if (!order)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    int n_order = 0;
    for (int b = 0; b < s->n_bufs; b++)
        if (!s->bufs[b].merged)
            order[n_order++] = b;
    for (int i = 1; i < n_order; i++) {   /* insertion sort, largest first */
        int key = order[i], j = i - 1;
        while (j >= 0 && s->bufs[order[j]].bytes < s->bufs[key].bytes) {
            order[j + 1] = order[j];
            j--;
        }
        order[j + 1] = key;
    }
    size_t arena = 0;
    for (int i = 0; i < n_order; i++) {
        tfjs_buffer *b = &s->bufs[order[i]];
        size_t need = round_up(b->bytes), offset = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int j = 0; j < i; j++) {
                const tfjs_buffer *o = &s->bufs[order[j]];
                if (o->last < b->first || b->last < o->first)
                    continue;   /* never alive together */
                size_t end = o->offset + round_up(o->bytes);
                if (offset < end && o->offset < offset + need) {
                    offset = end;
                    moved = true;
                }
            }
        }
        b->offset = offset;
        if (offset + need > arena)
            arena = offset + need;
    }
    free(order);
    if ((int64_t)arena > TFJS_MAX_ARENA_BYTES)
        return cs_error_set(err, CS_ERR_TOO_LARGE, "%s: this input shape needs %zu bytes of "
                            "tensors", m->path, arena);
    s->arena_bytes = arena;
    if (arena && !(s->arena = aligned_alloc(ARENA_ALIGN, arena)))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %zu bytes of tensors", arena);
    if (s->scratch_bytes &&
        !(s->scratch = aligned_alloc(ARENA_ALIGN, round_up(s->scratch_bytes))))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory for %zu bytes of scratch",
                            s->scratch_bytes);
    for (int v = 0; v < s->n_values; v++) {
        int b = s->buf_of[v];
        if (b >= 0)
            s->vals[v].data = (char *)s->arena + s->bufs[b].offset;
    }
    return CS_OK;
}

static cs_status plan(tfjs_session *s, cs_error *err)
{
    const tfjs_model *m = s->m;
    s->port_base = malloc((size_t)(m->n_nodes ? m->n_nodes : 1) * sizeof *s->port_base);
    if (!s->port_base)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->n_values = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        s->port_base[i] = s->n_values;
        s->n_values += m->nodes[i].n_out;
    }
    cs_status rc = alloc_tables(s, err);
    if (rc == CS_OK)
        rc = infer(s, err);
    if (rc == CS_OK && !s->keep_all)
        tfjs_fuse(s);
    if (rc == CS_OK)
        rc = layout(s, err);
    return rc;
}

static cs_status session_create(const tfjs_model *model, const tfjs_shape *input_shape,
                                const char *const *extra, int n_extra, tfjs_session **out,
                                cs_error *err)
{
    *out = NULL;
    if (model->input_node < 0)
        return cs_error_set(err, CS_ERR_INVALID, "%s: the graph has no input", model->path);
    if (n_extra < 0 || (n_extra > 0 && !extra))
        return cs_error_set(err, CS_ERR_INVALID, "bad list of node names");
    tfjs_session *s = calloc(1, sizeof *s);
    if (!s)
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    s->m = model;
    s->input_shape = *input_shape;
    cs_status rc = CS_OK;
    if (n_extra > 0) {
        s->extra = calloc((size_t)n_extra, sizeof *s->extra);
        if (!s->extra)
            rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
        for (int i = 0; i < n_extra && rc == CS_OK; i++) {
            if (!extra[i])
                rc = cs_error_set(err, CS_ERR_INVALID, "a NULL node name");
            else if (!(s->extra[i] = strdup(extra[i])))
                rc = cs_error_set(err, CS_ERR_NOMEM, "out of memory");
            else
                s->n_extra = i + 1;
        }
    }
    if (rc == CS_OK)
        rc = plan(s, err);
    if (rc != CS_OK) {
        tfjs_session_free(s);
        return rc;
    }
    *out = s;
    return CS_OK;
}

cs_status tfjs_session_new(const tfjs_model *model, const tfjs_shape *input_shape,
                           tfjs_session **out, cs_error *err)
{
    return session_create(model, input_shape, NULL, 0, out, err);
}

cs_status tfjs_session_new_with_outputs(const tfjs_model *model, const tfjs_shape *input_shape,
                                        const char *const *node_names, int count,
                                        tfjs_session **out, cs_error *err)
{
    return session_create(model, input_shape, node_names, count, out, err);
}

void tfjs_session_keep_all(tfjs_session *s)
{
    if (s)
        s->want_keep_all = true;
}

static const void *const_data(const tfjs_session *s, const tfjs_node *n, int k)
{
    return k < n->n_in ? s->vals[tfjs_value_of(s, n->in[k])].data : NULL;
}

static cs_status run_step(tfjs_session *s, int i, const tfjs_value **in, cs_error *err)
{
    const tfjs_model *m = s->m;
    const tfjs_step *st = &s->steps[i];
    const tfjs_fusion *f = &s->fuse[i];
    const tfjs_node *n = &m->nodes[st->node];
    float *out = s->vals[f->out_value].data;
    switch (f->kind) {
    case TFJS_STEP_SKIP:
        return CS_OK;
    case TFJS_STEP_OP:
        for (int k = 0; k < n->n_in; k++)
            in[k] = &s->vals[tfjs_value_of(s, n->in[k])];
        return tfjs_op_run(n, st, in, &s->vals[f->out_value], s->scratch, err);
    case TFJS_STEP_CONV: {
        const float *x = f->x_value >= 0 ? s->vals[f->x_value].data : const_data(s, n, 0);
        nn_conv2d_ex(&st->p.conv.c, x, const_data(s, n, 1),
                     n->at.has_bias ? const_data(s, n, 2) : NULL,
                     f->in_scale >= 0 ? s->vals[f->in_scale].data : NULL,
                     f->residual >= 0 ? s->vals[f->residual].data : NULL, out, s->scratch);
        return CS_OK;
    }
    case TFJS_STEP_MASK:
        nn_mul_equal_mask(s->vals[f->x_value].data, s->vals[f->residual].data, out,
                          (size_t)tfjs_shape_elements(&s->vals[f->out_value].shape));
        return CS_OK;
    case TFJS_STEP_BLOCK: {
        const void *w[3] = {NULL, NULL, NULL}, *b[3] = {NULL, NULL, NULL};
        for (int j = 0; j < 3; j++) {
            if (f->nodes[j] < 0)
                continue;
            const tfjs_node *fn = &m->nodes[f->nodes[j]];
            w[j] = const_data(s, fn, 1);
            b[j] = fn->at.has_bias ? const_data(s, fn, 2) : NULL;
        }
        nn_block(&f->blk, s->vals[f->x_value].data, w[0], b[0], w[1], b[1], w[2], b[2],
                 f->residual >= 0 ? s->vals[f->residual].data : NULL,
                 f->in_scale >= 0 ? s->vals[f->in_scale].data : NULL, out,
                 f->mean_value >= 0 ? s->vals[f->mean_value].data : NULL, s->scratch);
        return CS_OK;
    }
    }
    return CS_OK;
}

cs_status tfjs_session_run(tfjs_session *s, const float *input, cs_error *err)
{
    if (s->want_keep_all && !s->keep_all) {
        /* re-plan without reuse or fusion; on failure the session is unusable */
        release_plan(s);
        s->keep_all = true;
        cs_status rc = plan(s, err);
        if (rc != CS_OK) {
            release_plan(s);
            return rc;
        }
    }
    if (!s->vals)
        return cs_error_set(err, CS_ERR_INVALID, "%s: the session could not be planned",
                            s->m->path);
    if (s->profile && !s->step_seconds &&
        !(s->step_seconds = calloc((size_t)(s->n_steps ? s->n_steps : 1), sizeof(double))))
        return cs_error_set(err, CS_ERR_NOMEM, "out of memory");
    const tfjs_model *m = s->m;
    const tfjs_value *in[TFJS_MAX_INPUTS];
    s->ran = false;
    s->vals[s->port_base[m->input_node]].data = (void *)input;
    for (int i = 0; i < s->n_steps; i++) {
        if (s->step_view[i]) {
            int v = s->port_base[s->steps[i].node];
            s->vals[v].data = s->vals[s->value_alias[v]].data;
            continue;
        }
        double t0 = s->step_seconds ? fs_now_seconds() : 0;
        cs_status rc = run_step(s, i, in, err);
        if (rc != CS_OK)
            return cs_error_prefix(err, "%s: ", m->path);
        if (s->step_seconds)
            s->step_seconds[i] += fs_now_seconds() - t0;
    }
    s->ran = true;
    if (s->step_seconds)
        s->profiled_runs++;
    return CS_OK;
}

static cs_status read_value(const tfjs_session *s, int v, tfjs_tensor *out, cs_error *err)
{
    if (!s->ran)
        return cs_error_set(err, CS_ERR_INVALID, "%s: the session has not run yet", s->m->path);
    out->dtype = s->vals[v].dtype;
    out->shape = s->vals[v].shape;
    out->data = s->vals[v].data;
    return CS_OK;
}

cs_status tfjs_session_output(const tfjs_session *s, int index, tfjs_tensor *out, cs_error *err)
{
    if (index < 0 || index >= s->m->n_outputs)
        return cs_error_set(err, CS_ERR_INVALID, "%s: no output %d (the model has %d)",
                            s->m->path, index, s->m->n_outputs);
    if (!s->vals)
        return cs_error_set(err, CS_ERR_INVALID, "%s: the session could not be planned",
                            s->m->path);
    return read_value(s, tfjs_value_of(s, s->m->outputs[index]), out, err);
}

cs_status tfjs_session_node(const tfjs_session *s, const char *node_name, tfjs_tensor *out,
                            cs_error *err)
{
    tfjs_ref r;
    if (!lookup_ref(s->m, node_name, &r))
        return cs_error_set(err, CS_ERR_NOT_FOUND, "%s: no node '%s'", s->m->path, node_name);
    if (!s->vals)
        return cs_error_set(err, CS_ERR_INVALID, "%s: the session could not be planned",
                            s->m->path);
    int v = tfjs_value_of(s, r);
    if (!s->needed[r.node])
        return cs_error_set(err, CS_ERR_NOT_FOUND, "%s: node '%s' is not computed for this "
                            "session's outputs", s->m->path, node_name);
    if (!s->m->nodes[r.node].konst && !s->kept[v])
        return cs_error_set(err, CS_ERR_INVALID, "%s: node '%s' is not kept after a run; name "
                            "it in tfjs_session_new_with_outputs or call tfjs_session_keep_all",
                            s->m->path, node_name);
    return read_value(s, v, out, err);
}

void tfjs_session_profile(tfjs_session *s, bool on)
{
    s->profile = on;
    if (!on) {
        free(s->step_seconds);
        s->step_seconds = NULL;
        s->profiled_runs = 0;
    }
}

static const char *step_label(const tfjs_session *s, int i)
{
    switch (s->fuse[i].kind) {
    case TFJS_STEP_BLOCK:
        return s->fuse[i].nodes[0] >= 0 && s->fuse[i].nodes[2] >= 0 ? "block expand+dw+project"
               : s->fuse[i].nodes[0] >= 0                           ? "block expand+dw"
                                                                    : "block dw+project";
    case TFJS_STEP_CONV:
        return "conv+residual/scale";
    case TFJS_STEP_MASK:
        return "peak mask";
    default:
        return s->m->nodes[s->steps[i].node].op_name;
    }
}

void tfjs_session_profile_print(const tfjs_session *s, FILE *out)
{
    if (!s->step_seconds || s->profiled_runs == 0) {
        fprintf(out, "no profile (call tfjs_session_profile before running)\n");
        return;
    }
    double total = 0, runs = s->profiled_runs;
    for (int i = 0; i < s->n_steps; i++)
        total += s->step_seconds[i];
    fprintf(out, "%.2f ms per run over %d runs (arena %.1f MB)\n", total / runs * 1e3,
            s->profiled_runs, s->arena_bytes / 1e6);
    bool *done = calloc((size_t)(s->n_steps ? s->n_steps : 1), sizeof *done);
    if (!done)
        return;
    for (int i = 0; i < s->n_steps; i++)
        done[i] = s->fuse[i].kind == TFJS_STEP_SKIP || s->step_view[i];
    for (;;) {   /* totals by kind of step */
        int first = -1;
        for (int i = 0; i < s->n_steps && first < 0; i++)
            if (!done[i])
                first = i;
        if (first < 0)
            break;
        const char *label = step_label(s, first);
        double t = 0;
        int count = 0;
        for (int j = first; j < s->n_steps; j++)
            if (!done[j] && strcmp(step_label(s, j), label) == 0) {
                t += s->step_seconds[j];
                count++;
                done[j] = true;
            }
        fprintf(out, "  %-28s %4d steps %8.2f ms %5.1f%%\n", label, count, t / runs * 1e3,
                total > 0 ? 100 * t / total : 0);
    }
    for (int i = 0; i < s->n_steps; i++)
        done[i] = s->fuse[i].kind == TFJS_STEP_SKIP || s->step_view[i];
    for (int k = 0; k < 20; k++) {   /* the slowest steps */
        int best = -1;
        for (int i = 0; i < s->n_steps; i++)
            if (!done[i] && (best < 0 || s->step_seconds[i] > s->step_seconds[best]))
                best = i;
        if (best < 0)
            break;
        done[best] = true;
        char shape[96];
        tfjs_shape_str(&s->vals[s->fuse[best].out_value].shape, shape, sizeof shape);
        fprintf(out, "  %7.3f ms  %-26s %-18s %s\n", s->step_seconds[best] / runs * 1e3,
                step_label(s, best), shape, s->m->nodes[s->steps[best].node].name);
    }
    free(done);
}
