/*
 * The logits helpers of librpo 1.1 under the fuzzer: rpo_token_logps_* and
 * rpo_token_logps_backward_*, with arbitrary sizes (and (T, stride)
 * products overflowing size_t, with poisoned arrays), strides below and
 * above V, targets (valid, negative, INT32_MIN/MAX, V and past it), NULL
 * pointers and hostile values (see values.h for the rules every call is
 * held to). Here besides: negative targets give log-prob 0 and rows that
 * are never read or written; the padding past V is never touched; results
 * match a long double log-softmax and its derivative.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "values.h"

/* A target id: mostly valid, sometimes "no token" (negative), sometimes
 * invalid (V or just past it, INT32_MAX). */
static int32_t take_target(reader *r, size_t v)
{
    static const int32_t specials[] = {-1, -100, INT32_MIN, INT32_MAX, -2};
    uint8_t b = take_u8(r);
    if (b < 200 && v > 0)
        return (int32_t)(b % v);
    if (b < 235)
        return specials[b % 5];
    return (int32_t)v + (int32_t)(b % 2);
}

static int32_t *take_targets(reader *r, size_t t, size_t v)
{
    int32_t *y = malloc((t ? t : 1) * sizeof *y);
    if (y == NULL)
        guard_fail_alloc();
    for (size_t k = 0; k < t; k++)
        y[k] = take_target(r, v);
    return y;
}

static guarded place_targets(const int32_t *y, size_t t, int overflow, int absent)
{
    if (absent)
        return guard_absent();
    if (overflow)
        return guard_poisoned();
    return guard_copy(y, t, sizeof *y);
}

/* Shape of a (T, stride) logits problem. */
typedef struct logits_shape {
    size_t t, v, stride;
    int overflow;
} logits_shape;

static logits_shape take_logits_shape(reader *r)
{
    logits_shape s;
    s.overflow = take_choice(r, 10) == 0;
    if (s.overflow) {
        take_overflowing(r, &s.t, &s.stride);
        s.v = take_choice(r, 2) ? s.stride : huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
        return s;
    }
    s.t = take_small_size(r, 65);
    s.v = take_small_size(r, 65);
    s.stride = s.v + (take_choice(r, 4) == 0 ? take_choice(r, 4) : 0);
    if (take_choice(r, 16) == 0 && s.stride > 0)
        s.stride--; /* possibly below V: RPO_ERR_SIZE */
    return s;
}

/* The shape errors shared by both logits helpers, in the documented
 * order after the NULL checks: V == 0, stride < V, (T, stride) overflowing.
 * A target >= V is judged by the caller. */
static int logits_shape_error(const logits_shape *s)
{
    return s->v == 0 || s->stride < s->v || mul_overflows(s->t, s->stride);
}

/* The largest spread max - min among the first V logits of row i. */
static double row_spread(const values *logits, int f32, const logits_shape *s, size_t i)
{
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t k = 0; k < s->v; k++) {
        double x = value_at(logits, f32, i * s->stride + k);
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    return hi - lo;
}

/* log softmax(row)[y] in long double. */
static long double log_softmax_at(const values *logits, int f32, const logits_shape *s,
                                  size_t i, size_t y)
{
    long double top = -HUGE_VALL, sum = 0.0L;
    for (size_t k = 0; k < s->v; k++) {
        long double x = (long double)value_at(logits, f32, i * s->stride + k);
        top = x > top ? x : top;
    }
    for (size_t k = 0; k < s->v; k++)
        sum += expl((long double)value_at(logits, f32, i * s->stride + k) - top);
    return (long double)value_at(logits, f32, i * s->stride + y) - top - logl(sum);
}

/* ------------------------------------------------------------------------ */
/* rpo_token_logps_* */

typedef struct token_call {
    logits_shape s;
    values logits;
    int32_t *targets;
    int absent_logits, absent_targets, absent_out, ctx_absent;
    int extra;
} token_call;

/* The statuses rpo_token_logps_* may return for c in one precision. */
static int token_status_allowed(const token_call *c, int f32, int status)
{
    const logits_shape *s = &c->s;
    if (s->t == 0) /* succeeds; a NULL context may still be refused */
        return status == RPO_OK || (c->ctx_absent && status == RPO_ERR_NULL_POINTER);
    if (c->ctx_absent || c->absent_logits || c->absent_targets || c->absent_out)
        return status == RPO_ERR_NULL_POINTER;
    if (logits_shape_error(s))
        return status == RPO_ERR_SIZE;
    for (size_t i = 0; i < s->t; i++)
        if (c->targets[i] >= 0 && (size_t)c->targets[i] >= s->v)
            return status == RPO_ERR_SIZE;
    int nonfinite = 0;
    double spread = 0.0;
    for (size_t i = 0; i < s->t; i++) {
        if (c->targets[i] < 0)
            continue; /* row never read */
        for (size_t k = 0; k < s->v; k++)
            nonfinite |= !isfinite(value_at(&c->logits, f32, i * s->stride + k));
        if (!nonfinite)
            spread = fmax(spread, row_spread(&c->logits, f32, s, i));
    }
    if (nonfinite)
        return status == RPO_ERR_NONFINITE;
    if (status == RPO_ERR_RANGE) /* only from logits spread near the limit */
        return spread >= type_max(f32) * 0x1p-4;
    return status == RPO_OK;
}

/* Runs c in one precision on ctx; out_alias 1 makes logps alias logits.
 * Checks the call alone; returns the status and leaves the logps (T) of a
 * success in *logps_out (malloc'd doubles) when asked. */
static int run_token(rpo_ctx *ctx, const token_call *c, int f32, int out_alias,
                     double **logps_out)
{
    const logits_shape *s = &c->s;
    guarded logits = place(&c->logits, f32, s->overflow, c->absent_logits);
    guarded targets = place_targets(c->targets, s->t, s->overflow, c->absent_targets);
    guarded out = c->absent_out ? guard_absent()
                  : s->overflow ? guard_poisoned()
                  : guard_output(s->t, f32 ? sizeof(float) : sizeof(double));
    int aliased = out_alias && !s->overflow && out.p != NULL && logits.p != NULL &&
                  logits.bytes >= out.bytes;
    if (aliased) {
        guard_free(&out);
        out = logits;
    }
    snapshot logits_snap = snapshot_take(&logits), targets_snap = snapshot_take(&targets);
    snapshot out_snap = snapshot_take(&out);
    ctx_state before, after;
    if (ctx != NULL)
        observe(ctx, &before);

    int status = f32 ? rpo_token_logps_f32(c->ctx_absent ? NULL : ctx, s->t, s->v, s->stride,
                                           logits.p, targets.p, out.p)
                     : rpo_token_logps_f64(c->ctx_absent ? NULL : ctx, s->t, s->v, s->stride,
                                           logits.p, targets.p, out.p);

    CHECK(status_listed(status), "rpo_token_logps: unlisted status %d", status);
    check_detail(c->ctx_absent ? NULL : ctx, status, "rpo_token_logps");
    if (!c->extra || f32)
        CHECK(token_status_allowed(c, f32, status),
              "rpo_token_logps_%s T %zu V %zu stride %zu: status %d (%s) breaks its rules",
              f32 ? "f32" : "f64", s->t, s->v, s->stride, status, rpo_status_string(status));
    if (ctx != NULL) {
        observe(ctx, &after);
        CHECK(same_settings(&before, &after) && same_metrics(&before, &after),
              "rpo_token_logps changed the context's settings or metrics");
    }
    CHECK(snapshot_same(&targets_snap, &targets), "rpo_token_logps wrote the targets");
    if (!aliased || status != RPO_OK)
        CHECK(snapshot_same(&logits_snap, &logits), "rpo_token_logps wrote the logits");
    if (status != RPO_OK) {
        CHECK(snapshot_same(&out_snap, &out), "rpo_token_logps wrote on error %d", status);
    } else if (s->t > 0) {
        double *got = malloc(s->t * sizeof *got);
        if (got == NULL)
            guard_fail_alloc();
        for (size_t i = 0; i < s->t; i++) {
            got[i] = at(&out, f32, i);
            CHECK(isfinite(got[i]) && got[i] <= 0.0, "logps[%zu] = %.17g", i, got[i]);
            if (c->targets[i] < 0) {
                CHECK(got[i] == 0.0, "logps[%zu] = %.17g for a negative target", i, got[i]);
                continue;
            }
            long double want = log_softmax_at(&c->logits, f32, s, i, (size_t)c->targets[i]);
            double tol = (f32 ? 1e-5 : 1e-12) * fmax(1.0, (double)fabsl(want));
            /* (no subnormal slack needed: tol is at least 1e-12) */
            CHECK(fabs(got[i] - (double)want) <= tol,
                  "logps[%zu] = %.17g, want %.17Lg", i, got[i], want);
        }
        if (logps_out != NULL)
            *logps_out = got;
        else
            free(got);
    }
    snapshot_free(&logits_snap);
    snapshot_free(&targets_snap);
    snapshot_free(&out_snap);
    if (!aliased)
        guard_free(&out);
    guard_free(&logits);
    guard_free(&targets);
    return status;
}

void op_token_logps(reader *r, rpo_ctx *ctx)
{
    token_call c;
    memset(&c, 0, sizeof c);
    c.s = take_logits_shape(r);
    const unsigned precision = take_choice(r, 3); /* f64, f32, both */
    c.ctx_absent = take_choice(r, 32) == 0;
    if (take_choice(r, 8) == 0) {
        uint8_t nulls = take_u8(r);
        c.absent_logits = nulls & 1;
        c.absent_targets = (nulls >> 1) & 1;
        c.absent_out = (nulls >> 2) & 1;
    }
    c.extra = precision == 0 && take_choice(r, 8) == 0;
    const size_t cells = c.s.overflow ? 0 : c.s.t * c.s.stride;
    c.logits = take_values(r, cells, 1, c.extra);
    c.targets = take_targets(r, c.s.overflow ? 0 : c.s.t, c.s.v);
    const int alias = take_choice(r, 4) == 0;

    double *l64 = NULL, *l32 = NULL;
    int st64 = 0, st32 = 0;
    if (precision != 1)
        st64 = run_token(ctx, &c, 0, 0, &l64);
    if (precision != 0)
        st32 = run_token(ctx, &c, 1, 0, &l32);
    if (precision == 2) {
        CHECK(st64 == st32 || (st64 == RPO_OK && st32 == RPO_ERR_RANGE),
              "rpo_token_logps: float64 status %d, float32 %d", st64, st32);
        for (size_t i = 0; st64 == RPO_OK && st32 == RPO_OK && i < c.s.t; i++)
            CHECK(fabs(l64[i] - l32[i]) <= 1e-5 * fmax(1.0, fabs(l64[i])),
                  "logps[%zu]: float64 %.17g float32 %.17g", i, l64[i], l32[i]);
    }
    if (alias && precision != 2 && !c.ctx_absent) {
        /* logps may alias logits: the same values as separate arrays */
        double *again = NULL;
        int f32 = precision == 1;
        int st = run_token(ctx, &c, f32, 1, &again);
        CHECK(st == (f32 ? st32 : st64), "aliased logps: status %d, separate %d",
              st, f32 ? st32 : st64);
        const double *first = f32 ? l32 : l64;
        for (size_t i = 0; st == RPO_OK && i < c.s.t; i++)
            CHECK(memcmp(&again[i], &first[i], sizeof(double)) == 0,
                  "aliased logps[%zu] = %.17g, separate %.17g", i, again[i], first[i]);
        free(again);
    }
    free(l64);
    free(l32);
    free_values(&c.logits);
    free(c.targets);
}

/* ------------------------------------------------------------------------ */
/* rpo_token_logps_backward_* */

typedef struct backward_call {
    logits_shape s;
    values logits, dlogps, dlogits;
    int32_t *targets;
    int absent[4];            /* logits, targets, dlogps, dlogits */
    int ctx_absent, extra;
} backward_call;

/* A row the backward reads and updates: a token and a nonzero dlogps. */
static int row_updated(const backward_call *c, int f32, size_t i)
{
    return c->targets[i] >= 0 && value_at(&c->dlogps, f32, i) != 0.0;
}

static int backward_status_allowed(const backward_call *c, int f32, int status)
{
    const logits_shape *s = &c->s;
    if (s->t == 0)
        return status == RPO_OK || (c->ctx_absent && status == RPO_ERR_NULL_POINTER);
    if (c->ctx_absent || c->absent[0] || c->absent[1] || c->absent[2] || c->absent[3])
        return status == RPO_ERR_NULL_POINTER;
    if (logits_shape_error(s))
        return status == RPO_ERR_SIZE;
    int bad_target_read = 0, bad_target_skipped = 0;
    for (size_t i = 0; i < s->t; i++)
        if (c->targets[i] >= 0 && (size_t)c->targets[i] >= s->v) {
            if (row_updated(c, f32, i))
                bad_target_read = 1;
            else
                bad_target_skipped = 1;
        }
    if (bad_target_read)
        return status == RPO_ERR_SIZE;
    if (bad_target_skipped && status == RPO_ERR_SIZE)
        return 1; /* the header does not say whether skipped rows count */
    int nonfinite = 0;
    double reach = 0.0; /* max |dlogits| + |dlogps| over updated rows */
    for (size_t i = 0; i < s->t; i++) {
        if (!row_updated(c, f32, i))
            continue;
        double d = value_at(&c->dlogps, f32, i), top = 0.0;
        nonfinite |= !isfinite(d);
        for (size_t k = 0; k < s->v; k++) {
            double x = value_at(&c->logits, f32, i * s->stride + k);
            double g = value_at(&c->dlogits, f32, i * s->stride + k);
            nonfinite |= !isfinite(x) || !isfinite(g);
            top = fmax(top, fabs(g));
        }
        reach = fmax(reach, top + fabs(d));
    }
    if (nonfinite)
        return status == RPO_ERR_NONFINITE;
    if (status == RPO_ERR_RANGE) /* only near the limit of the type */
        return reach >= type_max(f32) * 0x1p-10;
    return status == RPO_OK;
}

/* Runs c in one precision; returns the status and leaves the resulting
 * dlogits (T x stride doubles) of a success in *result when asked. */
static int run_backward(rpo_ctx *ctx, const backward_call *c, int f32, double **result)
{
    const logits_shape *s = &c->s;
    guarded logits = place(&c->logits, f32, s->overflow, c->absent[0]);
    guarded targets = place_targets(c->targets, s->t, s->overflow, c->absent[1]);
    guarded dlogps = place(&c->dlogps, f32, s->overflow, c->absent[2]);
    guarded dlogits = place(&c->dlogits, f32, s->overflow, c->absent[3]);
    snapshot snaps[3] = {snapshot_take(&logits), snapshot_take(&targets),
                         snapshot_take(&dlogps)};
    snapshot out_snap = snapshot_take(&dlogits);
    ctx_state before, after;
    if (ctx != NULL)
        observe(ctx, &before);

    rpo_ctx *call_ctx = c->ctx_absent ? NULL : ctx;
    int status = f32 ? rpo_token_logps_backward_f32(call_ctx, s->t, s->v, s->stride,
                                                    logits.p, targets.p, dlogps.p, dlogits.p)
                     : rpo_token_logps_backward_f64(call_ctx, s->t, s->v, s->stride,
                                                    logits.p, targets.p, dlogps.p, dlogits.p);

    CHECK(status_listed(status), "rpo_token_logps_backward: unlisted status %d", status);
    check_detail(call_ctx, status, "rpo_token_logps_backward");
    if (!c->extra || f32)
        CHECK(backward_status_allowed(c, f32, status),
              "rpo_token_logps_backward_%s T %zu V %zu stride %zu: status %d (%s) "
              "breaks its rules", f32 ? "f32" : "f64", s->t, s->v, s->stride, status,
              rpo_status_string(status));
    if (ctx != NULL) {
        observe(ctx, &after);
        CHECK(same_settings(&before, &after) && same_metrics(&before, &after),
              "rpo_token_logps_backward changed the context's settings or metrics");
    }
    CHECK(snapshot_same(&snaps[0], &logits) && snapshot_same(&snaps[1], &targets) &&
          snapshot_same(&snaps[2], &dlogps), "rpo_token_logps_backward wrote an input");
    if (status != RPO_OK) {
        CHECK(snapshot_same(&out_snap, &dlogits),
              "rpo_token_logps_backward wrote dlogits on error %d", status);
    } else if (s->t > 0) {
        const double u = f32 ? 0x1p-24 : 0x1p-53;
        double *got = malloc(s->t * s->stride * sizeof *got + 1);
        if (got == NULL)
            guard_fail_alloc();
        for (size_t i = 0; i < s->t; i++) {
            const int updated = row_updated(c, f32, i);
            int was_zero = 1;
            for (size_t k = 0; k < s->v; k++)
                was_zero &= value_at(&c->dlogits, f32, i * s->stride + k) == 0.0;
            long double top = -HUGE_VALL, sum = 0.0L;
            if (updated) {
                for (size_t k = 0; k < s->v; k++) {
                    long double x = (long double)value_at(&c->logits, f32, i * s->stride + k);
                    top = x > top ? x : top;
                }
                for (size_t k = 0; k < s->v; k++)
                    sum += expl((long double)value_at(&c->logits, f32, i * s->stride + k) - top);
            }
            const double d = value_at(&c->dlogps, f32, i);
            for (size_t k = 0; k < s->stride; k++) {
                const size_t at_k = i * s->stride + k;
                got[at_k] = at(&dlogits, f32, at_k);
                const double old = value_at(&c->dlogits, f32, at_k);
                if (k >= s->v || !updated) { /* padding and skipped rows */
                    CHECK(memcmp(&got[at_k], &old, sizeof old) == 0,
                          "dlogits[%zu][%zu] touched (%.17g -> %.17g)", i, k, old, got[at_k]);
                    continue;
                }
                CHECK(isfinite(got[at_k]), "dlogits[%zu][%zu] = %.17g", i, k, got[at_k]);
                if (!was_zero)
                    continue;
                long double p = expl((long double)value_at(&c->logits, f32, at_k) - top) / sum;
                long double want = (long double)d *
                                   ((k == (size_t)c->targets[i] ? 1.0L : 0.0L) - p);
                /* relative to |dlogps|, plus two steps of the type's
                 * spacing below its smallest normal (subnormal products) */
                double tol = (f32 ? 1e-5 : 1e-12) * fabs(d) + 4.0 * u * fabs(d) +
                             (f32 ? 0x1p-148 : 0x1p-1073);
                CHECK(fabs(got[at_k] - (double)want) <= tol,
                      "dlogits[%zu][%zu] = %.17g, want %.17Lg", i, k, got[at_k], want);
            }
        }
        if (result != NULL)
            *result = got;
        else
            free(got);
    }
    for (int k = 0; k < 3; k++)
        snapshot_free(&snaps[k]);
    snapshot_free(&out_snap);
    guard_free(&logits);
    guard_free(&targets);
    guard_free(&dlogps);
    guard_free(&dlogits);
    return status;
}

void op_token_logps_backward(reader *r, rpo_ctx *ctx)
{
    backward_call c;
    memset(&c, 0, sizeof c);
    c.s = take_logits_shape(r);
    const unsigned precision = take_choice(r, 3);
    c.ctx_absent = take_choice(r, 32) == 0;
    if (take_choice(r, 8) == 0) {
        uint8_t nulls = take_u8(r);
        for (int k = 0; k < 4; k++)
            c.absent[k] = (nulls >> k) & 1;
    }
    c.extra = precision == 0 && take_choice(r, 8) == 0;
    const size_t t = c.s.overflow ? 0 : c.s.t;
    const size_t cells = c.s.overflow ? 0 : c.s.t * c.s.stride;
    c.logits = take_values(r, cells, 1, c.extra);
    c.targets = take_targets(r, t, c.s.v);
    c.dlogps = take_values(r, t, 1, c.extra);
    /* the gradient accumulated into: mostly zeros, so the increment is
     * checked exactly, sometimes arbitrary values */
    if (take_choice(r, 4) == 0) {
        c.dlogits = take_values(r, cells, 1, c.extra);
    } else {
        c.dlogits.count = cells;
        c.dlogits.v32 = calloc(cells ? cells : 1, sizeof(float));
        c.dlogits.v64 = calloc(cells ? cells : 1, sizeof(double));
        if (c.dlogits.v32 == NULL || c.dlogits.v64 == NULL)
            guard_fail_alloc();
    }

    double *g64 = NULL, *g32 = NULL;
    int st64 = 0, st32 = 0;
    if (precision != 1)
        st64 = run_backward(ctx, &c, 0, &g64);
    if (precision != 0)
        st32 = run_backward(ctx, &c, 1, &g32);
    if (precision == 2) {
        CHECK(st64 == st32 || (st64 == RPO_OK && st32 == RPO_ERR_RANGE),
              "rpo_token_logps_backward: float64 status %d, float32 %d", st64, st32);
        /* the rows both updated (the rest must be untouched, checked above) */
        for (size_t i = 0; st64 == RPO_OK && st32 == RPO_OK && i < t; i++)
            for (size_t k = 0; row_updated(&c, 0, i) && k < c.s.v; k++) {
                const double a = g64[i * c.s.stride + k], b = g32[i * c.s.stride + k];
                CHECK(fabs(a - b) <= 1e-5 * fmax(1.0, fabs(a)) + 0x1p-149,
                      "dlogits[%zu][%zu]: float64 %.17g float32 %.17g", i, k, a, b);
            }
    }
    free(g64);
    free(g32);
    free_values(&c.logits);
    free_values(&c.dlogps);
    free_values(&c.dlogits);
    free(c.targets);
}


/* ------------------------------------------------------------------------ */
/* 1.3: rpo_token_logps_lse_* then rpo_token_logps_backward_lse_* */

/* Rows rpo_token_logps_backward_lse_* changes: a token and nonzero dlogps. */
static int lse_row_changed(const int32_t *targets, const values *dlogps, int f32, size_t i)
{
    return targets[i] >= 0 && value_at(dlogps, f32, i) != 0.0;
}

/* The forward with log-sum-exps must give rpo_token_logps_*'s status and
 * bits, and an lse in [max, max + log V] for each row with a token (0 for
 * the others); then the backward with that lse (or hostile values in its
 * place), overwriting (in place or not), accumulating, or with an unknown
 * write mode: on error nothing is written, on success the padding is
 * untouched, skipped rows are zero (overwrite) or untouched (accumulate),
 * and an overwrite of the forward's own lse agrees with the 1.1 backward
 * accumulating into zeros. */
void op_token_lse(reader *r, rpo_ctx *ctx)
{
    logits_shape s = take_logits_shape(r);
    if (s.overflow)
        return;   /* op_token_logps covers overflowing shapes */
    const int f32 = take_choice(r, 2) == 0;
    const size_t elem = f32 ? sizeof(float) : sizeof(double);
    const size_t cells = s.t * s.stride;
    values logits = take_values(r, cells, 1, 0);
    int32_t *targets = take_targets(r, s.t, s.v);
    values dlogps = take_values(r, s.t, 1, 0);
    const unsigned lse_source = take_choice(r, 4);   /* 0: hostile values, 1: NULL, else forward */
    values hostile_lse = take_values(r, s.t, 1, 0);
    const unsigned mode = take_choice(r, 8);         /* 0..3 overwrite, 4..6 accumulate, 7 odd */
    const int write = mode < 4 ? RPO_GRAD_OVERWRITE : mode < 7 ? RPO_GRAD_ACCUMULATE
                                                               : (int)take_u32(r);
    const int in_place = write == RPO_GRAD_OVERWRITE && take_choice(r, 2) == 0;

    guarded x = place(&logits, f32, 0, 0), y = place_targets(targets, s.t, 0, 0);
    guarded logps = guard_output(s.t, elem), plain = guard_output(s.t, elem);
    double *lse = malloc((s.t ? s.t : 1) * sizeof *lse);
    if (lse == NULL)
        guard_fail_alloc();
    int st = f32 ? rpo_token_logps_lse_f32(ctx, s.t, s.v, s.stride, x.p, y.p, logps.p, lse)
                 : rpo_token_logps_lse_f64(ctx, s.t, s.v, s.stride, x.p, y.p, logps.p, lse);
    int st_plain = f32 ? rpo_token_logps_f32(ctx, s.t, s.v, s.stride, x.p, y.p, plain.p)
                       : rpo_token_logps_f64(ctx, s.t, s.v, s.stride, x.p, y.p, plain.p);
    CHECK(st == st_plain, "rpo_token_logps_lse: status %d, rpo_token_logps %d", st, st_plain);
    CHECK(st != RPO_OK || memcmp(logps.p, plain.p, s.t * elem) == 0,
          "rpo_token_logps_lse: log-probs differ from rpo_token_logps's");
    for (size_t i = 0; st == RPO_OK && i < s.t; i++) {
        if (targets[i] < 0) {
            CHECK(lse[i] == 0.0, "lse[%zu] = %.17g for a row without token", i, lse[i]);
            continue;
        }
        double top = -HUGE_VAL;
        for (size_t k = 0; k < s.v; k++)
            top = fmax(top, value_at(&logits, f32, i * s.stride + k));
        /* (lse is rounded to double: a few of its ulps above log V) */
        CHECK(lse[i] >= top && lse[i] - top <= log((double)s.v) + 1e-6 + 0x1p-50 * fabs(top),
              "lse[%zu] = %.17g outside [%.17g, + log V]", i, lse[i], top);
    }
    if (st != RPO_OK || lse_source == 0)
        for (size_t i = 0; i < s.t; i++)
            lse[i] = value_at(&hostile_lse, 0, i);
    const int forward_lse = st == RPO_OK && lse_source >= 2;

    guarded g = place(&dlogps, f32, 0, 0);
    guarded d = in_place ? x : guard_output(cells, elem);
    if (!in_place && take_choice(r, 2) == 0)
        memset(d.p, 0, d.bytes);
    snapshot x_snap = snapshot_take(&x), d_snap = snapshot_take(&d);
    const double *lse_arg = lse_source == 1 ? NULL : lse;
    int bst = f32 ? rpo_token_logps_backward_lse_f32(ctx, s.t, s.v, s.stride, x.p, y.p, lse_arg,
                                                     g.p, d.p, write)
                  : rpo_token_logps_backward_lse_f64(ctx, s.t, s.v, s.stride, x.p, y.p, lse_arg,
                                                     g.p, d.p, write);
    CHECK(status_listed(bst), "rpo_token_logps_backward_lse: unlisted status %d", bst);
    if (s.t > 0 && write != RPO_GRAD_OVERWRITE && write != RPO_GRAD_ACCUMULATE &&
        st == RPO_OK)
        CHECK(bst == RPO_ERR_PARAM, "write = %d: status %d", write, bst);
    if (bst != RPO_OK) {
        CHECK(snapshot_same(&x_snap, &x) && snapshot_same(&d_snap, &d),
              "rpo_token_logps_backward_lse wrote on error %d", bst);
    } else {
        if (!in_place)
            CHECK(snapshot_same(&x_snap, &x), "rpo_token_logps_backward_lse wrote the logits");
        for (size_t i = 0; i < s.t; i++)
            for (size_t k = 0; k < s.stride; k++) {
                const size_t at_k = i * s.stride + k;
                const double got = at(&d, f32, at_k);
                const double old = f32 ? (double)((const float *)d_snap.bytes)[at_k]
                                       : ((const double *)d_snap.bytes)[at_k];
                if (k >= s.v || (!lse_row_changed(targets, &dlogps, f32, i) &&
                                 write == RPO_GRAD_ACCUMULATE))
                    CHECK(memcmp(&got, &old, sizeof got) == 0 || (got != got && old != old),
                          "dlogits[%zu][%zu] touched", i, k);
                else if (!lse_row_changed(targets, &dlogps, f32, i))
                    CHECK(got == 0.0, "dlogits[%zu][%zu] = %.17g in a skipped row", i, k, got);
                else
                    CHECK(isfinite(got), "dlogits[%zu][%zu] = %.17g", i, k, got);
            }
        if (forward_lse && write == RPO_GRAD_OVERWRITE) {
            /* against the 1.1 backward accumulating into zeros */
            guarded z = guard_output(cells, elem);
            memset(z.p, 0, z.bytes);
            guarded x2 = place(&logits, f32, 0, 0);
            int zst = f32 ? rpo_token_logps_backward_f32(ctx, s.t, s.v, s.stride, x2.p, y.p, g.p, z.p)
                          : rpo_token_logps_backward_f64(ctx, s.t, s.v, s.stride, x2.p, y.p, g.p, z.p);
            CHECK(zst == RPO_OK, "rpo_token_logps_backward: %d where the lse variant succeeded", zst);
            for (size_t i = 0; i < s.t; i++)
                for (size_t k = 0; lse_row_changed(targets, &dlogps, f32, i) && k < s.v; k++) {
                    const double a = at(&d, f32, i * s.stride + k), b = at(&z, f32, i * s.stride + k);
                    const double gi = fabs(value_at(&dlogps, f32, i));
                    const double u = f32 ? 0x1p-24 : 0x1p-53;
                    CHECK(fabs(a - b) <= 16 * u * (fabs(b) + gi * fabs(lse[i])) + 0x1p-140,
                          "dlogits[%zu][%zu]: with lse %.17g, without %.17g", i, k, a, b);
                }
            guard_free(&z);
            guard_free(&x2);
        }
    }
    snapshot_free(&x_snap);
    snapshot_free(&d_snap);
    if (!in_place)
        guard_free(&d);
    guard_free(&g);
    guard_free(&x);
    guard_free(&y);
    guard_free(&logps);
    guard_free(&plain);
    free(lse);
    free_values(&logits);
    free_values(&dlogps);
    free_values(&hostile_lse);
    free(targets);
}
