/* Fusions applied to a planned session, in order:
 *  1. MobileNetV3's hard-swish chain after a convolution becomes the
 *     convolution's activation: Mul(c,x), Add(x,a), Relu6, Mul -> one pass.
 *  2. A squeeze-excite Mul(D, s[N,1,1,C]) feeding a 1x1 convolution becomes a
 *     per-input-channel scale folded into that convolution's filter.
 *  3. Add(conv, R) after a convolution becomes its epilogue.
 *  4. expand 1x1 -> depthwise -> project 1x1 (either 1x1 optional) becomes a
 *     banded block (nn_block): the expanded and depthwise tensors never
 *     leave the cache.
 *  5. Mul(a, Cast(Equal(a, b))) (CenterNet's peak mask) becomes one pass.
 *  6. A squeeze-excite Mul(D, s) read only by blocks without expansion is
 *     folded into their depthwise weights (dw(D*s) = dw with w*s).
 *  7. A Mean over a block's output rows and columns is summed by the block
 *     as it writes them (same order, in double), not read again.
 * Each only applies when the values it removes have no other reader and are
 * not kept (outputs, named nodes, keep_all), and each computes the same
 * operations on the same numbers (2 rounds differently: (d*s)*w vs d*(s*w)). */
#include <stdlib.h>
#include <string.h>

#include "models/tagger/tfjs_internal.h"

/* Readers of every value among the steps still to run (fusions change who
 * reads what): how many reads, and the first two reading steps. */
typedef struct uses {
    int *count;
    int *step[2];
} uses;

static bool uses_build(const tfjs_session *s, uses *u)
{
    size_t n = (size_t)(s->n_values ? s->n_values : 1);
    u->count = calloc(n, sizeof *u->count);
    u->step[0] = malloc(n * sizeof *u->step[0]);
    u->step[1] = malloc(n * sizeof *u->step[1]);
    int *reads = malloc((TFJS_MAX_INPUTS + 16) * sizeof *reads);
    bool ok = u->count && u->step[0] && u->step[1] && reads;
    for (int i = 0; ok && i < s->n_steps; i++) {
        int nr = tfjs_step_reads(s, i, reads, TFJS_MAX_INPUTS + 16);
        for (int k = 0; k < nr; k++) {
            int v = reads[k];
            if (u->count[v] < 2)
                u->step[u->count[v]][v] = i;
            u->count[v]++;
        }
    }
    free(reads);
    if (!ok) {
        free(u->count);
        free(u->step[0]);
        free(u->step[1]);
    }
    return ok;
}

static void uses_free(uses *u)
{
    free(u->count);
    free(u->step[0]);
    free(u->step[1]);
}

/* The node of the single step reading v (once), or -1. */
static int only_reader(const tfjs_session *s, const uses *u, int v)
{
    return u->count[v] == 1 ? s->steps[u->step[0][v]].node : -1;
}

static bool scalar_const(const tfjs_session *s, tfjs_ref r, float *v)
{
    const tfjs_node *n = &s->m->nodes[r.node];
    if (!n->konst || n->konst[r.port].dtype != TFJS_FLOAT32 ||
        tfjs_shape_elements(&n->konst[r.port].shape) != 1)
        return false;
    *v = *(const float *)n->konst[r.port].data;
    return true;
}

static bool same_shape(const tfjs_shape *a, const tfjs_shape *b)
{
    return a->rank == b->rank &&
           memcmp(a->dims, b->dims, sizeof a->dims[0] * (size_t)a->rank) == 0;
}

/* The operand index of binary node n that is not value x, or -1 unless x
 * is exactly one operand. */
static int other_operand(const tfjs_session *s, const tfjs_node *n, int x)
{
    if (n->op != TFJS_OP_BINARY || n->n_in != 2)
        return -1;
    bool a = tfjs_value_of(s, n->in[0]) == x, b = tfjs_value_of(s, n->in[1]) == x;
    return a == b ? -1 : a ? 1 : 0;
}

static int step_of(const tfjs_session *s, int node)
{
    return node >= 0 ? s->step_of[node] : -1;
}

static bool plain_step(const tfjs_session *s, int step)
{
    return step >= 0 && s->fuse[step].kind == TFJS_STEP_OP && !s->step_view[step];
}

static bool is_pointwise(const nn_conv_params *c)
{
    return c->k_h == 1 && c->k_w == 1 && c->stride_h == 1 && c->stride_w == 1 &&
           c->pad_top == 0 && c->pad_left == 0 && c->out_h == c->in_h && c->out_w == c->in_w;
}

/* ---- 1. hard-swish ---------------------------------------------------------- */

static void fuse_hard_swish(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    tfjs_fusion *f = &s->fuse[i];
    int x = f->out_value;
    if (s->kept[x] || u->count[x] != 2 || u->step[0][x] == u->step[1][x])
        return;
    int readers[2] = {s->steps[u->step[0][x]].node, s->steps[u->step[1][x]].node};
    int mul = -1, add = -1;
    float c = 0, a = 0;
    for (int r = 0; r < 2; r++) {
        const tfjs_node *n = &m->nodes[readers[r]];
        int other = other_operand(s, n, x);
        float k;
        if (other < 0 || !scalar_const(s, n->in[other], &k) || !plain_step(s, step_of(s, readers[r])))
            return;
        if (n->at.binop == NN_BIN_MUL) {
            mul = readers[r];
            c = k;
        } else if (n->at.binop == NN_BIN_ADD) {
            add = readers[r];
            a = k;
        }
    }
    if (mul < 0 || add < 0)
        return;
    int v_mul = tfjs_value_of(s, (tfjs_ref){mul, 0}), v_add = tfjs_value_of(s, (tfjs_ref){add, 0});
    int relu = only_reader(s, u, v_add);
    if (s->kept[v_mul] || s->kept[v_add] || relu < 0 || !plain_step(s, step_of(s, relu)))
        return;
    const tfjs_node *r = &m->nodes[relu];
    if (r->op != TFJS_OP_UNARY || r->at.unary != TFJS_UNARY_ACT || r->at.act.kind != NN_ACT_RELU6)
        return;
    int v_relu = tfjs_value_of(s, (tfjs_ref){relu, 0});
    int y = only_reader(s, u, v_relu);
    if (s->kept[v_relu] || y < 0 || only_reader(s, u, v_mul) != y || !plain_step(s, step_of(s, y)))
        return;
    const tfjs_node *yn = &m->nodes[y];
    int o = other_operand(s, yn, v_mul);
    if (o < 0 || yn->at.binop != NN_BIN_MUL || tfjs_value_of(s, yn->in[o]) != v_relu)
        return;
    int v_y = tfjs_value_of(s, (tfjs_ref){y, 0});
    if (!same_shape(&s->vals[x].shape, &s->vals[v_y].shape))
        return;
    s->steps[i].p.conv.c.act = (nn_act){NN_ACT_HARD_SWISH, c, a};
    f->out_value = v_y;
    s->fuse[s->step_of[mul]].kind = TFJS_STEP_SKIP;
    s->fuse[s->step_of[add]].kind = TFJS_STEP_SKIP;
    s->fuse[s->step_of[relu]].kind = TFJS_STEP_SKIP;
    s->fuse[s->step_of[y]].kind = TFJS_STEP_SKIP;
}

/* ---- 2. squeeze-excite scale into a 1x1 convolution -------------------------- */

static void fuse_se_scale(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    const tfjs_node *n = &m->nodes[s->steps[i].node];
    if (n->op != TFJS_OP_BINARY || n->at.binop != NN_BIN_MUL || !plain_step(s, i))
        return;
    int v_out = s->fuse[i].out_value;
    int conv = only_reader(s, u, v_out);
    int cs = step_of(s, conv);
    if (s->kept[v_out] || conv < 0 || cs < 0 || m->nodes[conv].op != TFJS_OP_CONV2D ||
        s->fuse[cs].kind != TFJS_STEP_OP || s->step_view[cs] ||
        tfjs_value_of(s, m->nodes[conv].in[0]) != v_out ||
        !is_pointwise(&s->steps[cs].p.conv.c))
        return;
    for (int d = 0; d < 2; d++) {
        const tfjs_value *dv = &s->vals[tfjs_value_of(s, n->in[d])];
        const tfjs_value *sv = &s->vals[tfjs_value_of(s, n->in[1 - d])];
        if (dv->dtype != TFJS_FLOAT32 || sv->dtype != TFJS_FLOAT32 || dv->shape.rank != 4 ||
            sv->shape.rank != 4 || !same_shape(&dv->shape, &s->vals[v_out].shape) ||
            sv->shape.dims[0] != dv->shape.dims[0] || sv->shape.dims[1] != 1 ||
            sv->shape.dims[2] != 1 || sv->shape.dims[3] != dv->shape.dims[3])
            continue;
        s->fuse[i].kind = TFJS_STEP_SKIP;
        s->fuse[cs].kind = TFJS_STEP_CONV;
        s->fuse[cs].x_value = tfjs_value_of(s, n->in[d]);
        s->fuse[cs].in_scale = tfjs_value_of(s, n->in[1 - d]);
        return;
    }
}

/* ---- 3. residual add into a convolution --------------------------------------- */

/* The step that writes value v, or -1 for constants and the input. */
static int writer_of(const tfjs_session *s, int v)
{
    for (int i = 0; i < s->n_steps; i++) {
        const tfjs_fusion *f = &s->fuse[i];
        if (f->kind == TFJS_STEP_SKIP)
            continue;
        const tfjs_node *n = &s->m->nodes[s->steps[i].node];
        int base = s->port_base[s->steps[i].node];
        if (f->out_value == v || (f->out_value == base && v >= base && v < base + n->n_out))
            return i;
    }
    return -1;
}

static void fuse_residual(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    tfjs_fusion *f = &s->fuse[i];
    if (m->nodes[s->steps[i].node].op != TFJS_OP_CONV2D || f->residual >= 0 || s->step_view[i] ||
        (f->kind != TFJS_STEP_OP && f->kind != TFJS_STEP_CONV))
        return;
    int o = f->out_value;
    int add = only_reader(s, u, o);
    int as = step_of(s, add);
    if (s->kept[o] || add < 0 || !plain_step(s, as))
        return;
    const tfjs_node *an = &m->nodes[add];
    int other = other_operand(s, an, o);
    if (other < 0 || an->at.binop != NN_BIN_ADD)
        return;
    int r = tfjs_value_of(s, an->in[other]);
    int v_add = tfjs_value_of(s, (tfjs_ref){add, 0});
    if (s->vals[r].dtype != TFJS_FLOAT32 || !same_shape(&s->vals[r].shape, &s->vals[o].shape) ||
        !same_shape(&s->vals[v_add].shape, &s->vals[o].shape))
        return;
    /* R must exist when the convolution runs */
    if (writer_of(s, r) >= i)
        return;
    f->kind = TFJS_STEP_CONV;
    f->residual = r;
    f->out_value = v_add;
    s->fuse[as].kind = TFJS_STEP_SKIP;
}

/* ---- 4. banded blocks ---------------------------------------------------------- */

static void fuse_block(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    const tfjs_node *dn = &m->nodes[s->steps[i].node];
    tfjs_fusion *fd = &s->fuse[i];
    const nn_conv_params *dc = &s->steps[i].p.conv.c;
    if (dn->op != TFJS_OP_DEPTHWISE || fd->kind != TFJS_STEP_OP || s->step_view[i] ||
        s->steps[i].p.conv.multiplier != 1 || dc->k_h * dc->k_w > 64)
        return;
    /* expand: the depthwise input comes from a plain 1x1 convolution only it reads */
    int e = tfjs_value_of(s, dn->in[0]);
    int es = writer_of(s, e);
    bool expand = es >= 0 && !s->kept[e] && u->count[e] == 1 &&
                  s->fuse[es].kind == TFJS_STEP_OP && !s->step_view[es] &&
                  m->nodes[s->steps[es].node].op == TFJS_OP_CONV2D &&
                  s->fuse[es].out_value == e && is_pointwise(&s->steps[es].p.conv.c);
    /* project: its output goes to a 1x1 convolution only (no input scale) */
    int d = fd->out_value;
    int pnode = only_reader(s, u, d);
    int ps = step_of(s, pnode);
    bool project = pnode >= 0 && ps >= 0 && !s->kept[d] &&
                   m->nodes[pnode].op == TFJS_OP_CONV2D && !s->step_view[ps] &&
                   (s->fuse[ps].kind == TFJS_STEP_OP || s->fuse[ps].kind == TFJS_STEP_CONV) &&
                   s->fuse[ps].in_scale < 0 && s->fuse[ps].x_value < 0 &&
                   tfjs_value_of(s, m->nodes[pnode].in[0]) == d &&
                   is_pointwise(&s->steps[ps].p.conv.c);
    if (!expand && !project)
        return;
    const nn_conv_params *ec = expand ? &s->steps[es].p.conv.c : NULL;
    const nn_conv_params *pc = project ? &s->steps[ps].p.conv.c : NULL;
    int x = expand ? tfjs_value_of(s, m->nodes[s->steps[es].node].in[0]) : e;
    nn_block_params *b = &s->fuse[project ? ps : i].blk;
    memset(b, 0, sizeof *b);
    b->batch = dc->batch;
    b->in_h = dc->in_h;
    b->in_w = dc->in_w;
    b->in_c = expand ? ec->in_c : dc->in_c;
    b->mid_c = dc->in_c;
    b->out_c = project ? pc->out_c : dc->out_c;
    b->expand = expand;
    b->project = project;
    b->expand_act = expand ? ec->act : (nn_act){NN_ACT_NONE, 0, 0};
    b->project_act = project ? pc->act : (nn_act){NN_ACT_NONE, 0, 0};
    b->dw = *dc;
    tfjs_fusion *last = &s->fuse[project ? ps : i];
    last->residual = project ? s->fuse[ps].residual : -1;
    last->kind = TFJS_STEP_BLOCK;
    last->x_value = x;
    last->nodes[0] = expand ? s->steps[es].node : -1;
    last->nodes[1] = s->steps[i].node;
    last->nodes[2] = project ? pnode : -1;
    b->residual = last->residual >= 0;
    s->steps[project ? ps : i].scratch_bytes = nn_block_scratch_floats(b) * sizeof(float);
    if (expand)
        s->fuse[es].kind = TFJS_STEP_SKIP;
    if (project)
        fd->kind = TFJS_STEP_SKIP;
}

/* ---- 5. peak mask --------------------------------------------------------------- */

static void fuse_mask(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    const tfjs_node *eq = &m->nodes[s->steps[i].node];
    if (eq->op != TFJS_OP_BINARY || eq->at.binop != NN_BIN_EQUAL || !plain_step(s, i))
        return;
    int a = tfjs_value_of(s, eq->in[0]), b = tfjs_value_of(s, eq->in[1]);
    int v_eq = s->fuse[i].out_value;
    int cast = only_reader(s, u, v_eq);
    int cs = step_of(s, cast);
    if (s->kept[v_eq] || cast < 0 || !plain_step(s, cs) || m->nodes[cast].op != TFJS_OP_CAST ||
        m->nodes[cast].at.dtype != TFJS_FLOAT32)
        return;
    int v_cast = s->fuse[cs].out_value;
    int mul = only_reader(s, u, v_cast);
    int ms = step_of(s, mul);
    if (s->kept[v_cast] || mul < 0 || !plain_step(s, ms))
        return;
    const tfjs_node *mn = &m->nodes[mul];
    int o = other_operand(s, mn, v_cast);
    if (o < 0 || mn->at.binop != NN_BIN_MUL || tfjs_value_of(s, mn->in[o]) != a)
        return;
    const tfjs_shape *sa = &s->vals[a].shape;
    if (s->vals[a].dtype != TFJS_FLOAT32 || s->vals[b].dtype != TFJS_FLOAT32 ||
        !same_shape(sa, &s->vals[b].shape) || !same_shape(sa, &s->vals[s->fuse[ms].out_value].shape))
        return;
    s->fuse[i].kind = TFJS_STEP_SKIP;
    s->fuse[cs].kind = TFJS_STEP_SKIP;
    s->fuse[ms].kind = TFJS_STEP_MASK;
    s->fuse[ms].x_value = a;
    s->fuse[ms].residual = b;
}

/* ---- 6. squeeze-excite scale into depthwise blocks --------------------------------- */

static void fuse_se_depthwise(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    const tfjs_node *n = &m->nodes[s->steps[i].node];
    if (n->op != TFJS_OP_BINARY || n->at.binop != NN_BIN_MUL || !plain_step(s, i))
        return;
    int v = s->fuse[i].out_value;
    if (s->kept[v] || u->count[v] < 1)
        return;
    /* every reader: a block without expansion whose input this is, once */
    int found = 0;
    for (int j = i + 1; j < s->n_steps; j++) {
        int reads[TFJS_MAX_INPUTS + 16];
        int nr = tfjs_step_reads(s, j, reads, TFJS_MAX_INPUTS + 16);
        for (int k = 0; k < nr; k++) {
            if (reads[k] != v)
                continue;
            const tfjs_fusion *f = &s->fuse[j];
            if (f->kind != TFJS_STEP_BLOCK || f->nodes[0] >= 0 || f->x_value != v ||
                f->in_scale >= 0)
                return;
            found++;
        }
    }
    if (found != u->count[v])
        return;
    for (int d = 0; d < 2; d++) {
        int dv_i = tfjs_value_of(s, n->in[d]), sv_i = tfjs_value_of(s, n->in[1 - d]);
        const tfjs_value *dv = &s->vals[dv_i], *sv = &s->vals[sv_i];
        if (dv->dtype != TFJS_FLOAT32 || sv->dtype != TFJS_FLOAT32 || dv->shape.rank != 4 ||
            sv->shape.rank != 4 || !same_shape(&dv->shape, &s->vals[v].shape) ||
            sv->shape.dims[0] != dv->shape.dims[0] || sv->shape.dims[1] != 1 ||
            sv->shape.dims[2] != 1 || sv->shape.dims[3] != dv->shape.dims[3])
            continue;
        for (int j = i + 1; j < s->n_steps; j++) {
            tfjs_fusion *f = &s->fuse[j];
            if (f->kind == TFJS_STEP_BLOCK && f->x_value == v) {
                f->x_value = dv_i;
                f->in_scale = sv_i;
                f->blk.dw_scale = true;
                s->steps[j].scratch_bytes = nn_block_scratch_floats(&f->blk) * sizeof(float);
            }
        }
        s->fuse[i].kind = TFJS_STEP_SKIP;
        return;
    }
}

/* ---- 7. a Mean over a block's output ------------------------------------------------ */

static void fuse_block_mean(tfjs_session *s, const uses *u, int i)
{
    const tfjs_model *m = s->m;
    tfjs_fusion *f = &s->fuse[i];
    if (f->kind != TFJS_STEP_BLOCK || f->nodes[2] >= 0 || f->mean_value >= 0)
        return;
    int d = f->out_value;
    for (int r = 0; r < 2 && r < u->count[d]; r++) {
        int ms = u->step[r][d];
        const tfjs_node *mn = &m->nodes[s->steps[ms].node];
        const tfjs_step *st = &s->steps[ms];
        if (mn->op != TFJS_OP_MEAN || !plain_step(s, ms) || st->p.mean.rank != 4 ||
            st->p.mean.reduce[0] || !st->p.mean.reduce[1] || !st->p.mean.reduce[2] ||
            st->p.mean.reduce[3] || tfjs_value_of(s, mn->in[0]) != d)
            continue;
        f->mean_value = s->fuse[ms].out_value;
        f->blk.mean = true;
        s->steps[i].scratch_bytes = nn_block_scratch_floats(&f->blk) * sizeof(float);
        s->fuse[ms].kind = TFJS_STEP_SKIP;
        return;
    }
}

void tfjs_fuse(tfjs_session *s)
{
    uses u;
    for (int pass = 0; pass < 7; pass++) {
        if (!uses_build(s, &u))
            return;   /* no memory: run unfused, which is correct */
        for (int i = 0; i < s->n_steps; i++) {
            if (s->fuse[i].kind == TFJS_STEP_SKIP)
                continue;
            tfjs_op op = s->m->nodes[s->steps[i].node].op;
            if (pass == 0 && (op == TFJS_OP_CONV2D || op == TFJS_OP_DEPTHWISE) &&
                plain_step(s, i) && s->steps[i].p.conv.c.act.kind == NN_ACT_NONE)
                fuse_hard_swish(s, &u, i);
            else if (pass == 1)
                fuse_se_scale(s, &u, i);
            else if (pass == 2)
                fuse_residual(s, &u, i);
            else if (pass == 3)
                fuse_block(s, &u, i);
            else if (pass == 4)
                fuse_mask(s, &u, i);
            else if (pass == 5)
                fuse_se_depthwise(s, &u, i);
            else if (pass == 6)
                fuse_block_mean(s, &u, i);
        }
        uses_free(&u);
    }
}
