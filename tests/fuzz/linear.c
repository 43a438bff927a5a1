/*
 * The fused linear log-probs of librpo 1.3 under the fuzzer:
 * rpo_linear_logps_* and rpo_linear_logps_backward_* with arbitrary sizes
 * (and (T, H) or (V, ldw) products overflowing size_t, with poisoned
 * arrays), row strides below and above H, targets (valid, negative,
 * INT32_MIN/MAX, V and past it), absent pointers, hostile values, any
 * chunk size. Held to rpo.h: the status is one its "Errors" allow for the
 * arguments (non-finite before range; RPO_ERR_RANGE only where some
 * magnitude in play nears the type's limit); inputs are never written; on
 * error nothing is written; on success every output is finite, tokens
 * without a target get log-prob and lse 0, skipped rows of dhidden and the
 * padding of dweight keep their bytes.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "values.h"

typedef struct linear_case {
    size_t t, h, v, ldw;
    int overflow;                      /* arrays poisoned: fail before reads */
    values hidden, weight, bias, lse, dlogps, dhidden, dweight, dbias;
    int32_t *targets;
    int has_bias, has_lse, has_dbias, ctx_absent;
    unsigned absent;                   /* 1..5: that required array is NULL */
} linear_case;

static int32_t take_linear_target(reader *r, size_t v)
{
    static const int32_t specials[] = {-1, -100, INT32_MIN, INT32_MAX};
    uint8_t b = take_u8(r);
    if (b < 200 && v > 0)
        return (int32_t)(b % v);
    if (b < 240)
        return specials[b % 4];
    return (int32_t)v;
}

static linear_case take_case(reader *r)
{
    linear_case c;
    memset(&c, 0, sizeof c);
    c.overflow = take_choice(r, 10) == 0;
    if (c.overflow) {
        if (take_choice(r, 2)) {
            take_overflowing(r, &c.t, &c.h);
            c.v = 3, c.ldw = c.h;
        } else {
            c.t = take_small_size(r, 9), c.h = take_small_size(r, 9);
            take_overflowing(r, &c.v, &c.ldw);
            if (c.ldw < c.h)
                c.ldw = c.h;
        }
    } else {
        c.t = take_small_size(r, 20);
        c.h = take_small_size(r, 17);
        c.v = take_small_size(r, 65);
        c.ldw = c.h + take_choice(r, 3);
        if (take_choice(r, 16) == 0 && c.h > 0)
            c.ldw = c.h - 1;
    }
    c.has_bias = take_choice(r, 2) == 1;
    c.has_lse = take_choice(r, 2) == 1;
    c.has_dbias = take_choice(r, 2) == 1;
    c.ctx_absent = take_choice(r, 32) == 0;
    c.absent = take_choice(r, 16) < 5 ? 1 + take_choice(r, 5) : 0;
    const size_t t = c.overflow ? 0 : c.t, v = c.overflow ? 0 : c.v;
    const int extra = take_choice(r, 2) == 1;
    c.hidden = take_values(r, c.overflow ? 0 : t * c.h, 1, extra);
    c.weight = take_values(r, c.overflow ? 0 : v * c.ldw, 1, extra);
    c.bias = take_values(r, v, 1, extra);
    c.lse = take_values(r, t, 0, extra);
    c.dlogps = take_values(r, t, 1, extra);
    c.dhidden = take_values(r, c.overflow ? 0 : t * c.h, 1, extra);
    c.dweight = take_values(r, c.overflow ? 0 : v * c.ldw, 1, extra);
    c.dbias = take_values(r, v, 1, extra);
    c.targets = malloc((t ? t : 1) * sizeof *c.targets);
    if (c.targets == NULL)
        guard_fail_alloc();
    for (size_t k = 0; k < t; k++)
        c.targets[k] = take_linear_target(r, c.v);
    return c;
}

static void free_case(linear_case *c)
{
    values *all[] = {&c->hidden, &c->weight, &c->bias, &c->lse, &c->dlogps,
                     &c->dhidden, &c->dweight, &c->dbias};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free_values(all[k]);
    free(c->targets);
}

/* max |x| over rows (first n of each ld) selected by keep (NULL: all);
 * +infinity when one of them is NaN or infinite. */
static double max_abs_rows(const values *x, int f32, size_t rows, size_t ld, size_t n,
                           const int *keep)
{
    double m = 0.0;
    for (size_t i = 0; i < rows; i++) {
        if (keep != NULL && !keep[i])
            continue;
        for (size_t k = 0; k < n; k++) {
            const double a = fabs(value_at(x, f32, i * ld + k));
            if (!(a <= DBL_MAX))
                return HUGE_VAL;
            m = a > m ? a : m;
        }
    }
    return m;
}

/* The status the shape alone decides (after ctx and NULL checks), or 1
 * when the data decides. */
static int shape_status(const linear_case *c)
{
    if (c->h == 0 || c->v == 0 || c->ldw < c->h || mul_overflows(c->t, c->h) ||
        mul_overflows(c->v, c->ldw))
        return RPO_ERR_SIZE;
    for (size_t k = 0; k < c->t; k++)
        if (c->targets[k] >= 0 && (size_t)c->targets[k] >= c->v)
            return RPO_ERR_SIZE;
    return 1;
}

typedef struct arrays {
    guarded hidden, weight, bias, targets, lse, dlogps;
    guarded logps, lse_out, dhidden, dweight, dbias;
} arrays;

static guarded place_or_poison(const linear_case *c, const values *x, int f32, int present)
{
    return place(x, f32, c->overflow, !present);
}

static arrays place_all(const linear_case *c, int f32)
{
    const size_t e = f32 ? sizeof(float) : sizeof(double);
    arrays a;
    a.hidden = place_or_poison(c, &c->hidden, f32, c->absent != 1);
    a.weight = place_or_poison(c, &c->weight, f32, c->absent != 2);
    a.bias = place_or_poison(c, &c->bias, f32, c->has_bias);
    a.lse = place_or_poison(c, &c->lse, f32, c->has_lse);
    a.dlogps = place_or_poison(c, &c->dlogps, f32, c->absent != 4);
    a.targets = c->absent == 3 ? guard_absent()
                : c->overflow ? guard_poisoned()
                : guard_copy(c->targets, c->t, sizeof *c->targets);
    a.logps = c->absent == 5 ? guard_absent()
              : c->overflow ? guard_poisoned() : guard_output(c->t, e);
    a.lse_out = c->overflow ? guard_poisoned() : guard_output(c->t, e);
    a.dhidden = place_or_poison(c, &c->dhidden, f32, c->absent != 5);
    a.dweight = place_or_poison(c, &c->dweight, f32, 1);
    a.dbias = place_or_poison(c, &c->dbias, f32, c->has_dbias);
    return a;
}

static void free_all(arrays *a)
{
    guarded *all[] = {&a->hidden, &a->weight, &a->bias, &a->targets, &a->lse, &a->dlogps,
                      &a->logps, &a->lse_out, &a->dhidden, &a->dweight, &a->dbias};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        guard_free(all[k]);
}

enum { SNAPSHOTS = 11 };

static void take_snapshots(arrays *a, snapshot *s)
{
    guarded *all[SNAPSHOTS] = {&a->hidden, &a->weight, &a->bias, &a->targets, &a->lse,
                               &a->dlogps, &a->logps, &a->lse_out, &a->dhidden,
                               &a->dweight, &a->dbias};
    for (size_t k = 0; k < SNAPSHOTS; k++)
        s[k] = snapshot_take(all[k]);
}

/* Which of the SNAPSHOTS arrays (from `first` on) changed; -1 for none. */
static int changed(arrays *a, const snapshot *s, int first, int last)
{
    guarded *all[SNAPSHOTS] = {&a->hidden, &a->weight, &a->bias, &a->targets, &a->lse,
                               &a->dlogps, &a->logps, &a->lse_out, &a->dhidden,
                               &a->dweight, &a->dbias};
    for (int k = first; k <= last; k++)
        if (!snapshot_same(&s[k], all[k]))
            return k;
    return -1;
}

static void run_forward(rpo_ctx *ctx, const linear_case *c, int f32)
{
    arrays a = place_all(c, f32);
    snapshot snap[SNAPSHOTS];
    take_snapshots(&a, snap);
    rpo_ctx *call_ctx = c->ctx_absent ? NULL : ctx;
    float *lse32 = c->has_lse ? a.lse_out.p : NULL;
    double *lse64 = c->has_lse ? a.lse_out.p : NULL;
    const int status =
        f32 ? rpo_linear_logps_f32(call_ctx, c->t, c->h, c->v, a.hidden.p, a.weight.p, c->ldw,
                                   a.bias.p, a.targets.p, a.logps.p, lse32)
            : rpo_linear_logps_f64(call_ctx, c->t, c->h, c->v, a.hidden.p, a.weight.p, c->ldw,
                                   a.bias.p, a.targets.p, a.logps.p, lse64);
    CHECK(status_listed(status), "rpo_linear_logps: unlisted status %d", status);
    CHECK(changed(&a, snap, 0, 5) < 0, "rpo_linear_logps wrote an input");

    int want = 1;
    if (c->ctx_absent)
        want = RPO_ERR_NULL_POINTER;
    else if (c->t == 0)
        want = RPO_OK;
    else if (c->absent == 1 || c->absent == 2 || c->absent == 3 || c->absent == 5)
        want = RPO_ERR_NULL_POINTER;
    else
        want = shape_status(c);
    if (want == 1) {
        int *live = malloc(c->t * sizeof *live), any = 0;
        if (live == NULL)
            guard_fail_alloc();
        for (size_t k = 0; k < c->t; k++)
            any |= live[k] = c->targets[k] >= 0;
        const double mh = max_abs_rows(&c->hidden, f32, c->t, c->h, c->h, live);
        const double mw = any ? max_abs_rows(&c->weight, f32, c->v, c->ldw, c->h, NULL) : 0.0;
        const double mb = any && c->has_bias ? max_abs_rows(&c->bias, f32, 1, c->v, c->v, NULL) : 0.0;
        free(live);
        if (mh == HUGE_VAL || mw == HUGE_VAL || mb == HUGE_VAL)
            want = RPO_ERR_NONFINITE;
        else if (status == RPO_ERR_RANGE)
            CHECK((double)c->h * mh * mw + mb >= type_max(f32) / 4,
                  "rpo_linear_logps: RANGE for logits up to %g", (double)c->h * mh * mw + mb);
        else
            want = RPO_OK;
    }
    if (status != RPO_ERR_RANGE || want != 1)
        CHECK(status == want, "rpo_linear_logps_%s T %zu H %zu V %zu ldw %zu: status %d, want %d",
              f32 ? "f32" : "f64", c->t, c->h, c->v, c->ldw, status, want);
    if (status != RPO_OK) {
        CHECK(changed(&a, snap, 6, 7) < 0, "rpo_linear_logps wrote on error %d", status);
    } else {
        for (size_t k = 0; k < c->t; k++) {
            const double lp = at(&a.logps, f32, k);
            const double l = c->has_lse ? at(&a.lse_out, f32, k) : 0.0;
            CHECK(isfinite(lp) && isfinite(l) && lp <= 1e-5 * (1.0 + fabs(l)),
                  "logps[%zu] = %g, lse %g", k, lp, l);
            if (c->targets[k] < 0)
                CHECK(lp == 0.0 && l == 0.0, "token %zu has no target: logp %g lse %g", k, lp, l);
        }
    }
    for (size_t k = 0; k < SNAPSHOTS; k++)
        snapshot_free(&snap[k]);
    free_all(&a);
}

static void run_backward(rpo_ctx *ctx, const linear_case *c, int f32)
{
    arrays a = place_all(c, f32);
    snapshot snap[SNAPSHOTS];
    take_snapshots(&a, snap);
    rpo_ctx *call_ctx = c->ctx_absent ? NULL : ctx;
    const int status =
        f32 ? rpo_linear_logps_backward_f32(call_ctx, c->t, c->h, c->v, a.hidden.p, a.weight.p,
                                            c->ldw, a.bias.p, a.targets.p, a.lse.p, a.dlogps.p,
                                            a.dhidden.p, a.dweight.p, a.dbias.p)
            : rpo_linear_logps_backward_f64(call_ctx, c->t, c->h, c->v, a.hidden.p, a.weight.p,
                                            c->ldw, a.bias.p, a.targets.p, a.lse.p, a.dlogps.p,
                                            a.dhidden.p, a.dweight.p, a.dbias.p);
    CHECK(status_listed(status), "rpo_linear_logps_backward: unlisted status %d", status);
    CHECK(changed(&a, snap, 0, 5) < 0, "rpo_linear_logps_backward wrote an input");

    int want;
    if (c->ctx_absent)
        want = RPO_ERR_NULL_POINTER;
    else if (c->t == 0)
        want = RPO_OK;
    else if (c->absent == 4 || c->absent == 5 || c->absent == 1 || c->absent == 2 ||
             c->absent == 3)
        want = RPO_ERR_NULL_POINTER;
    else
        want = shape_status(c);
    int *live = NULL, any = 0;
    if (want == 1) {
        live = malloc(c->t * sizeof *live);
        if (live == NULL)
            guard_fail_alloc();
        double dsum = 0.0, dmax = 0.0, dh_bound = 0.0;
        int d_nonfinite = 0;
        for (size_t k = 0; k < c->t; k++) {
            const double d = value_at(&c->dlogps, f32, k);
            any |= live[k] = c->targets[k] >= 0 && d != 0.0;
            if (live[k]) {
                d_nonfinite |= !isfinite(d);
                dsum += fabs(d);
                dmax = fabs(d) > dmax ? fabs(d) : dmax;
            }
        }
        if (!any) {
            want = RPO_OK;
        } else {
            const double mh = max_abs_rows(&c->hidden, f32, c->t, c->h, c->h, live);
            const double mw = max_abs_rows(&c->weight, f32, c->v, c->ldw, c->h, NULL);
            const double mb = c->has_bias ? max_abs_rows(&c->bias, f32, 1, c->v, c->v, NULL) : 0.0;
            const double mdw = max_abs_rows(&c->dweight, f32, c->v, c->ldw, c->h, NULL);
            const double mdb = c->has_dbias ? max_abs_rows(&c->dbias, f32, 1, c->v, c->v, NULL) : 0.0;
            const double mdh = max_abs_rows(&c->dhidden, f32, c->t, c->h, c->h, live);
            const double ml = c->has_lse ? max_abs_rows(&c->lse, f32, c->t, 1, 1, live) : 0.0;
            if (d_nonfinite || mh == HUGE_VAL || mw == HUGE_VAL || mb == HUGE_VAL ||
                mdw == HUGE_VAL || mdb == HUGE_VAL || mdh == HUGE_VAL ||
                (c->has_lse && !isfinite(ml))) {
                want = RPO_ERR_NONFINITE;
            } else {
                dh_bound = mdh + (double)c->v * dmax * mw;
                const double bound =
                    fmax(fmax((double)c->h * mh * mw + mb + log((double)c->v), dh_bound),
                         fmax(mdw + dsum * mh, c->has_dbias ? mdb + dsum : 0.0));
                if (status == RPO_ERR_RANGE)
                    CHECK(bound >= type_max(f32) / 4,
                          "rpo_linear_logps_backward: RANGE within bounds %g", bound);
                else
                    want = RPO_OK;
            }
        }
    }
    if (status != RPO_ERR_RANGE || want != 1)
        CHECK(status == want,
              "rpo_linear_logps_backward_%s T %zu H %zu V %zu ldw %zu: status %d, want %d",
              f32 ? "f32" : "f64", c->t, c->h, c->v, c->ldw, status, want);
    if (status != RPO_OK) {
        CHECK(changed(&a, snap, 8, 10) < 0, "rpo_linear_logps_backward wrote on error %d",
              status);
    } else if (live != NULL && c->t > 0) {
        for (size_t i = 0; i < c->t; i++)
            for (size_t k = 0; k < c->h; k++) {
                const double x = at(&a.dhidden, f32, i * c->h + k);
                const double was = value_at(&c->dhidden, f32, i * c->h + k);
                CHECK(live[i] ? isfinite(x) : (x == was || (isnan(x) && isnan(was))),
                      "dhidden[%zu][%zu] = %g", i, k, x);
            }
        for (size_t j = 0; j < c->v; j++)
            for (size_t k = 0; k < c->ldw; k++) {
                const double x = at(&a.dweight, f32, j * c->ldw + k);
                const double was = value_at(&c->dweight, f32, j * c->ldw + k);
                /* written only when some token is scored, never the padding */
                CHECK(k < c->h && any ? isfinite(x) : (x == was || (isnan(x) && isnan(was))),
                      "dweight[%zu][%zu] = %g", j, k, x);
            }
        if (c->has_dbias)
            for (size_t j = 0; j < c->v; j++) {
                const double x = at(&a.dbias, f32, j), was = value_at(&c->dbias, f32, j);
                CHECK(any ? isfinite(x) : (x == was || (isnan(x) && isnan(was))),
                      "dbias[%zu] = %g", j, x);
            }
    }
    free(live);
    for (size_t k = 0; k < SNAPSHOTS; k++)
        snapshot_free(&snap[k]);
    free_all(&a);
}

void op_linear_logps(reader *r, rpo_ctx *ctx)
{
    const double chunk = 16.0 + (double)take_choice(r, 40);
    CHECK(rpo_ctx_set(ctx, RPO_PARAM_LINEAR_CHUNK, chunk) == RPO_OK,
          "RPO_PARAM_LINEAR_CHUNK %g refused", chunk);
    linear_case c = take_case(r);
    const int f32 = take_choice(r, 2) == 1;
    run_forward(ctx, &c, f32);
    run_backward(ctx, &c, f32);
    free_case(&c);
}
