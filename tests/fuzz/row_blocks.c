/*
 * The entry points of librpo 1.2 under the fuzzer (docs/extensions.md):
 * rpo_loss_rows_*, rpo_loss_rows_weighted_* and rpo_loss_embed_grad_*, with
 * arbitrary sizes, row offsets, settings, present or NULL pointers and
 * hostile values, in float32 or float64. Invariants:
 *   - the status is listed; a row block outside its problem (row_offset + M
 *     beyond m_total) is RPO_ERR_SIZE once the pointers pass, and sizes
 *     whose products overflow are RPO_ERR_SIZE without touching the
 *     (poisoned) arrays;
 *   - inputs are never written; on error no output is written and the
 *     context is unchanged; on success every output is finite and the
 *     settings are unchanged, and a row block leaves the metrics alone
 *     but for its (finite) shares of W's shape;
 *   - a block that is the whole problem (row_offset 0, m_total = M) gives
 *     bitwise what rpo_loss_embed_grad_* gives on another context with the
 *     same settings: the same status and, on success, the same gradients,
 *     and partial statistics equal to that call's loss and metrics
 *     (SINKHORN aside: row blocks refuse it).
 */
#include <math.h>
#include <string.h>

#include "values.h"

enum { I_PC, I_RC, I_PR, I_RR, I_E, I_F, I_W, I_COUNT };           /* inputs  */
enum { P_GC, P_GE, P_STATS, P_GR, P_GF, P_COUNT };                 /* outputs */
enum { API_ROWS, API_ROWS_WEIGHTED, API_EMBED_GRAD };

typedef struct row_block_call {
    int api, f32, overflow;
    size_t m_total, row_offset, m, n, d;
    guarded in[I_COUNT];
    guarded out[P_COUNT];
    guarded loss;                 /* API_EMBED_GRAD only */
} row_block_call;

static size_t out_count(const row_block_call *c, int o)
{
    switch (o) {
    case P_GC: return c->m;
    case P_GE: return c->m * c->d;
    case P_STATS: return RPO_PARTIAL_COUNT;
    case P_GR: return c->n;
    default: return c->n * c->d;
    }
}

static int invoke(rpo_ctx *ctx, const row_block_call *c)
{
    const void *pc = c->in[I_PC].p, *rc = c->in[I_RC].p, *pr = c->in[I_PR].p;
    const void *rr = c->in[I_RR].p, *e = c->in[I_E].p, *f = c->in[I_F].p;
    const void *w = c->in[I_W].p;
    void *gc = c->out[P_GC].p, *ge = c->out[P_GE].p, *st = c->out[P_STATS].p;
    void *gr = c->out[P_GR].p, *gf = c->out[P_GF].p;
    if (c->f32) {
        switch (c->api) {
        case API_ROWS:
            return rpo_loss_rows_f32(ctx, c->m_total, c->row_offset, c->m, pc, rc,
                                     c->n, pr, rr, c->d, e, f, gc, ge, st, gr, gf);
        case API_ROWS_WEIGHTED:
            return rpo_loss_rows_weighted_f32(ctx, c->m_total, c->row_offset, c->m,
                                              pc, rc, c->n, pr, rr, w, gc, st, gr);
        default:
            return rpo_loss_embed_grad_f32(ctx, c->m, pc, rc, c->n, pr, rr, c->d, e,
                                           f, c->loss.p, gc, gr, ge, gf);
        }
    }
    switch (c->api) {
    case API_ROWS:
        return rpo_loss_rows_f64(ctx, c->m_total, c->row_offset, c->m, pc, rc,
                                 c->n, pr, rr, c->d, e, f, gc, ge, st, gr, gf);
    case API_ROWS_WEIGHTED:
        return rpo_loss_rows_weighted_f64(ctx, c->m_total, c->row_offset, c->m,
                                          pc, rc, c->n, pr, rr, w, gc, st, gr);
    default:
        return rpo_loss_embed_grad_f64(ctx, c->m, pc, rc, c->n, pr, rr, c->d, e,
                                       f, c->loss.p, gc, gr, ge, gf);
    }
}

/* RPO_ERR_NULL_POINTER by the pointer rules of a row block (rpo.h), else
 * RPO_OK: log-probs of a non-empty side, then (with both sides) the
 * caller's weights or, for a weighting that reads them, both embeddings. */
static int row_block_pointers(const row_block_call *c, int weighting)
{
    if (c->m > 0 && c->in[I_PC].p == NULL)
        return RPO_ERR_NULL_POINTER;
    if (c->n > 0 && c->in[I_PR].p == NULL)
        return RPO_ERR_NULL_POINTER;
    if (c->m == 0 || c->n == 0)
        return RPO_OK;
    if (c->api == API_ROWS_WEIGHTED)
        return c->in[I_W].p == NULL ? RPO_ERR_NULL_POINTER : RPO_OK;
    const int reads = weighting == RPO_WEIGHTING_EMBEDDING ||
                      weighting == RPO_WEIGHTING_SINKHORN;
    if (reads && (c->in[I_E].p == NULL || c->in[I_F].p == NULL))
        return RPO_ERR_NULL_POINTER;
    return RPO_OK;
}

static void take_sizes(reader *r, row_block_call *c)
{
    c->overflow = take_choice(r, 16) == 0;
    if (c->overflow) {
        take_overflowing(r, &c->m, &c->n);
        c->d = 1 + take_small_size(r, 8);
    } else {
        c->m = take_small_size(r, 17);
        c->n = take_small_size(r, 17);
        c->d = take_small_size(r, 9);
    }
    switch (c->api == API_EMBED_GRAD ? 0 : take_choice(r, 4)) {
    case 0:                        /* the whole problem */
        c->m_total = c->m;
        c->row_offset = 0;
        break;
    case 1:                        /* outside it */
        c->m_total = c->m == 0 ? 0 : c->m - 1;
        c->row_offset = take_choice(r, 3);
        if (c->m == 0)
            c->row_offset = 1;
        break;
    default: {                     /* a block of a larger problem */
        const size_t extra = take_small_size(r, 17);
        c->row_offset = extra == 0 ? 0 : take_choice(r, (unsigned)extra + 1);
        c->m_total = c->m > SIZE_MAX - extra ? SIZE_MAX : c->m + extra;
        break;
    }
    }
}

static void build(reader *r, row_block_call *c, values v[I_COUNT])
{
    const size_t counts[I_COUNT] = {c->m, c->m, c->n, c->n, c->m * c->d,
                                    c->n * c->d, c->m * c->n};
    for (int a = 0; a < I_COUNT; a++) {
        const int absent = take_choice(r, 8) == 0 ||
                           (a == I_W && c->api != API_ROWS_WEIGHTED) ||
                           ((a == I_E || a == I_F) && c->api == API_ROWS_WEIGHTED);
        v[a] = take_values(r, c->overflow ? 0 : counts[a], a == I_E || a == I_F || a == I_W,
                           !c->f32);
        c->in[a] = place(&v[a], c->f32, c->overflow, absent);
    }
    for (int o = 0; o < P_COUNT; o++) {
        const int absent = take_choice(r, 4) == 0 ||
                           ((o == P_GE || o == P_GF) && c->api == API_ROWS_WEIGHTED);
        c->out[o] = absent ? guard_absent()
                    : c->overflow ? guard_poisoned()
                                  : guard_output(out_count(c, o), c->f32 ? sizeof(float)
                                                                         : sizeof(double));
    }
    c->loss = c->api == API_EMBED_GRAD && !c->overflow
                  ? guard_output(1, c->f32 ? sizeof(float) : sizeof(double))
                  : guard_absent();
}

static void release(row_block_call *c, values v[I_COUNT])
{
    for (int a = 0; a < I_COUNT; a++) {
        guard_free(&c->in[a]);
        free_values(&v[a]);
    }
    for (int o = 0; o < P_COUNT; o++)
        guard_free(&c->out[o]);
    guard_free(&c->loss);
}

/* Runs c on ctx with every invariant of one call; returns the status. */
static int run_checked(rpo_ctx *ctx, row_block_call *c)
{
    snapshot in[I_COUNT], out[P_COUNT], loss = snapshot_take(&c->loss);
    for (int a = 0; a < I_COUNT; a++)
        in[a] = snapshot_take(&c->in[a]);
    for (int o = 0; o < P_COUNT; o++)
        out[o] = snapshot_take(&c->out[o]);
    ctx_state before, after;
    observe(ctx, &before);
    const int weighting = (int)setting(ctx, RPO_PARAM_WEIGHTING);

    const int status = invoke(ctx, c);

    CHECK(status_listed(status), "unlisted status %d", status);
    check_detail(ctx, status, "a row block or embedding gradient call");
    observe(ctx, &after);
    CHECK(same_settings(&before, &after), "a 1.2 call changed the settings");
    for (int a = 0; a < I_COUNT; a++)
        CHECK(snapshot_same(&in[a], &c->in[a]), "input %d written", a);
    if (c->api != API_EMBED_GRAD) {
        CHECK(same_metrics_but_shape(&before, &after),
              "a row block changed the metrics (beyond the shares of W's shape)");
        const int pointers = row_block_pointers(c, weighting);
        if (pointers != RPO_OK)
            CHECK(status == pointers, "status %d, want NULL pointer", status);
        else if (c->row_offset > c->m_total || c->m > c->m_total - c->row_offset)
            CHECK(status == RPO_ERR_SIZE, "block outside its problem: status %d", status);
    }
    if (c->overflow && status != RPO_ERR_NULL_POINTER)
        CHECK(status == RPO_ERR_SIZE, "overflowing sizes: status %d", status);
    if (status != RPO_OK) {
        CHECK(same_metrics(&before, &after), "a failed call changed the metrics");
        for (int o = 0; o < P_COUNT; o++)
            CHECK(snapshot_same(&out[o], &c->out[o]), "output %d written on error", o);
        CHECK(snapshot_same(&loss, &c->loss), "loss written on error");
    } else {
        for (int o = 0; o < P_COUNT; o++) {
            if (c->out[o].p == NULL)
                continue;
            /* paired embed_grad leaves grad_rejected_emb unused */
            if (o == P_GF && c->api == API_EMBED_GRAD &&
                (c->in[I_F].p == NULL || c->in[I_F].p == c->in[I_E].p))
                continue;
            for (size_t k = 0; k < out_count(c, o); k++)
                CHECK(isfinite(at(&c->out[o], c->f32, k)), "output %d[%zu] not finite", o, k);
        }
    }
    for (int a = 0; a < I_COUNT; a++)
        snapshot_free(&in[a]);
    for (int o = 0; o < P_COUNT; o++)
        snapshot_free(&out[o]);
    snapshot_free(&loss);
    return status;
}

static int same_bytes(const guarded *a, const guarded *b, size_t count, int f32)
{
    if (a->p == NULL || b->p == NULL)
        return 1;
    return memcmp(a->p, b->p, count * (f32 ? sizeof(float) : sizeof(double))) == 0;
}

/* The whole problem as one block against rpo_loss_embed_grad_* on `other`
 * with the same settings and the same arrays. */
static void check_whole_block(rpo_ctx *ctx, rpo_ctx *other, row_block_call *c,
                              int status)
{
    copy_settings(ctx, other);
    row_block_call g = *c;
    g.api = API_EMBED_GRAD;
    for (int o = 0; o < P_COUNT; o++)
        g.out[o] = c->out[o].p == NULL || o == P_STATS
                       ? guard_absent()
                       : guard_output(out_count(c, o), c->f32 ? sizeof(float) : sizeof(double));
    g.loss = guard_output(1, c->f32 ? sizeof(float) : sizeof(double));
    const int g_status = invoke(other, &g);
    const int sinkhorn = (int)setting(ctx, RPO_PARAM_WEIGHTING) == RPO_WEIGHTING_SINKHORN;
    /* The comparison call must return the loss, while a row block that
     * asked for no statistics computes none: a float32 loss that overflows
     * is RPO_ERR_RANGE on the comparison side alone, as documented. The
     * gradients are then not compared (the comparison wrote none). */
    const int loss_only_overflow = c->out[P_STATS].p == NULL && status == RPO_OK &&
                                   g_status == RPO_ERR_RANGE;
    if (!sinkhorn && !loss_only_overflow) {
        CHECK(status == g_status, "whole block: status %d, embed_grad %d", status, g_status);
        if (status == RPO_OK) {
            static const int outs[4] = {P_GC, P_GE, P_GR, P_GF};
            for (int k = 0; k < 4; k++)
                CHECK(same_bytes(&c->out[outs[k]], &g.out[outs[k]], out_count(c, outs[k]), c->f32),
                      "whole block: output %d differs from embed_grad", outs[k]);
            if (c->out[P_STATS].p != NULL) {
                CHECK(at(&c->out[P_STATS], c->f32, 0) == at(&g.loss, c->f32, 0),
                      "whole block: loss differs");
                for (int k = 1; k < RPO_PARTIAL_COUNT; k++) {
                    double v;
                    CHECK(rpo_ctx_stat(other, k + 1, &v) == RPO_OK, "stat");
                    const double got = at(&c->out[P_STATS], c->f32, (size_t)k);
                    CHECK(c->f32 ? (float)v == (float)got : v == got,
                          "whole block: statistic %d differs", k);
                }
            }
        }
    }
    for (int o = 0; o < P_COUNT; o++)
        guard_free(&g.out[o]);
    guard_free(&g.loss);
}

void op_row_blocks(reader *r, rpo_ctx *ctx, rpo_ctx *other)
{
    row_block_call c;
    memset(&c, 0, sizeof c);
    c.api = (int)take_choice(r, 3);
    c.f32 = (int)take_choice(r, 2);
    take_sizes(r, &c);
    values v[I_COUNT];
    build(r, &c, v);
    const int status = run_checked(ctx, &c);
    if (c.api == API_ROWS && !c.overflow && c.row_offset == 0 && c.m_total == c.m &&
        c.in[I_F].p != NULL)
        check_whole_block(ctx, other, &c, status);
    release(&c, v);
}
