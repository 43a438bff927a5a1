/*
 * Token log-probs from logits and the fused backward into dlogits
 * (rpo_token_logps_*, rpo_token_logps_backward_*).
 *
 * Both stream the (T, V) logits one row at a time through
 * row_logsoftmax.c. The forward keeps its T results in the context's scratch and writes them
 * after every row has passed its checks. The backward accumulates into the
 * caller's dlogits, which cannot be undone, so it runs in two phases: the
 * first reads every row it will update (logits and current dlogits) and
 * checks it, without any exp; only then does the second read the rows
 * again, compute each row's softmax once and update it. That second read
 * is the price of "nothing written on error" without a T x V buffer.
 */
#include <math.h>
#include <string.h>

#include "arrays.h"
#include "context.h"
#include "detail.h"
#include "rpo.h"
#include "row_logsoftmax.h"

/* One call's logits, (T, stride) with V used per row, and targets (T). */
typedef struct logits_call {
    size_t t, v, stride;
    rpo_in logits;
    const int32_t *targets;
} logits_call;

/* Pointer and size checks shared by both directions: RPO_OK,
 * RPO_ERR_NULL_POINTER or RPO_ERR_SIZE, with the detail in ctx.
 * `missing` names the first output (or dlogps) pointer that is NULL, if
 * any. */
static int validate_logits(rpo_ctx *ctx, const logits_call *c,
                           const char *missing)
{
    if (c->logits.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "logits is NULL with t = %zu",
                        c->t);
    if (c->targets == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "targets is NULL with t = %zu",
                        c->t);
    if (missing != NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL with t = %zu",
                        missing, c->t);
    if (c->v == 0)
        return rpo_fail(ctx, RPO_ERR_SIZE, "v is 0: a row of logits needs at "
                        "least one entry");
    if (c->stride < c->v)
        return rpo_fail(ctx, RPO_ERR_SIZE, "stride = %zu is below v = %zu",
                        c->stride, c->v);
    /* (T, stride) overflowing size_t is RPO_ERR_SIZE, as the header says,
     * before any target is read. (Bounding only the last row's end,
     * (T - 1) * stride + V, let T = stride = 2^32, V = 1 through to read
     * 2^32 targets from an array no caller can have.) */
    if (rpo_mul_overflows(c->t, c->stride))
        return rpo_fail(ctx, RPO_ERR_SIZE, "t * stride overflows size_t "
                        "(t = %zu, stride = %zu)", c->t, c->stride);
    for (size_t k = 0; k < c->t; k++)
        if (c->targets[k] >= 0 && (size_t)c->targets[k] >= c->v)
            return rpo_fail(ctx, RPO_ERR_SIZE, "targets[%zu] = %ld is not below "
                            "v = %zu", k, (long)c->targets[k], c->v);
    return RPO_OK;
}

/* Names the first NaN or infinity in row k of the logits. */
static int fail_nonfinite_row(rpo_ctx *ctx, const logits_call *c, size_t k)
{
    return rpo_check_finite_rows(ctx, "logits", c->logits, k, 1, c->v, c->stride);
}

/* Row k of the logits as doubles: a view of a float64 caller array, or a
 * widened copy in row. Returns 0 when the row holds NaN or infinity. */
static int load_row(const logits_call *c, size_t k, double *row,
                    const double **x)
{
    return rpo_in_load(c->logits, k * c->stride, c->v, row, x);
}

static int token_logps(rpo_ctx *ctx, const logits_call *c, rpo_out logps)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (c->t == 0)
        return RPO_OK;
    int status = validate_logits(ctx, c, logps.data == NULL ? "logps" : NULL);
    if (status != RPO_OK)
        return status;

    rpo_scratch_plan plan = {0, 0};
    const size_t at_result = rpo_scratch_add(&plan, c->t, sizeof(double));
    const size_t at_row = rpo_scratch_add(&plan, c->v, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return status;
    double *result = rpo_scratch_at(ctx, at_result);
    double *row = rpo_scratch_at(ctx, at_row);

    for (size_t k = 0; k < c->t; k++) {
        result[k] = 0.0;
        if (c->targets[k] < 0)
            continue;
        const double *x;
        if (!load_row(c, k, row, &x))
            return fail_nonfinite_row(ctx, c, k);
        result[k] = rpo_row_logp(x, (size_t)c->targets[k], rpo_row_lse(x, c->v));
    }
    if (!rpo_out_fits(logps.type, result, c->t))
        return rpo_fail_range(ctx, "logps", logps.type, result, c->t, 0);
    rpo_out_store(logps, 0, result, c->t);
    return RPO_OK;
}

/* Phase one of the backward for row k (upstream gradient g): the logits
 * and the current dlogits row must be finite, and no sum may leave the
 * output type. RPO_OK, RPO_ERR_NONFINITE or RPO_ERR_RANGE, with the
 * detail in ctx. */
static int check_backward_row(rpo_ctx *ctx, const logits_call *c, size_t k,
                              double g, rpo_out dlogits, double *drow)
{
    if (!rpo_in_all_finite(c->logits, k * c->stride, c->v))
        return fail_nonfinite_row(ctx, c, k);
    rpo_in current = {dlogits.data, dlogits.type};
    const double *d;
    if (!rpo_in_load(current, k * c->stride, c->v, drow, &d))
        return rpo_check_finite_rows(ctx, "dlogits", current, k, 1, c->v,
                                     c->stride);
    /* Each update is g * ([v == y] - p_v), at most |g| in magnitude. */
    double largest = 0.0;
    for (size_t j = 0; j < c->v; j++)
        largest = fmax(largest, fabs(d[j]));
    double bound = largest + fabs(g);
    if (rpo_out_fits(dlogits.type, &bound, 1))
        return RPO_OK;
    return rpo_fail(ctx, RPO_ERR_RANGE, "dlogits[%zu, :] could leave %s's "
                    "range: max |dlogits[%zu, :]| + |dlogps[%zu]| = %g", k,
                    dlogits.type == RPO_F32 ? "float32" : "float64", k, k,
                    bound);
}

static int token_logps_backward(rpo_ctx *ctx, const logits_call *c,
                                rpo_in dlogps, rpo_out dlogits)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (c->t == 0)
        return RPO_OK;
    int status = validate_logits(ctx, c, dlogps.data == NULL    ? "dlogps"
                                         : dlogits.data == NULL ? "dlogits"
                                                                : NULL);
    if (status != RPO_OK)
        return status;

    /* three rows: the widened logits, their exponentials, the widened
     * dlogits (float32) */
    rpo_scratch_plan plan = {0, 0};
    const size_t at_row = rpo_scratch_add(&plan, c->v, sizeof(double));
    const size_t at_exp = rpo_scratch_add(&plan, c->v, sizeof(double));
    const size_t at_drow = rpo_scratch_add(&plan, c->v, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return status;
    double *row = rpo_scratch_at(ctx, at_row);
    double *e = rpo_scratch_at(ctx, at_exp);
    double *drow = rpo_scratch_at(ctx, at_drow);

    /* Phase one: every check, for every row that will change. A NaN found
     * in a later row must win over a range problem in an earlier one
     * (the documented order), so range failures are only remembered. Only
     * those rows' dlogps are checked: the header leaves rows with a
     * negative target alone, whatever their dlogps (padding a framework
     * did not zero). A NaN dlogps is not 0, so its row counts as changing. */
    int range = RPO_OK;
    char range_detail[RPO_DETAIL_BYTES];
    for (size_t k = 0; k < c->t; k++) {
        double g = rpo_in_at(dlogps, k);
        if (c->targets[k] < 0 || g == 0.0)
            continue;
        if (!(g - g == 0.0))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "dlogps[%zu] is %s", k,
                            rpo_nonfinite_name(g));
        status = check_backward_row(ctx, c, k, g, dlogits, drow);
        if (status == RPO_ERR_NONFINITE)
            return status;
        if (status != RPO_OK && range == RPO_OK) {
            /* the first range problem is the one reported, unless a NaN
             * comes later */
            range = status;
            memcpy(range_detail, ctx->error_detail, sizeof range_detail);
        }
    }
    if (range != RPO_OK) {
        memcpy(ctx->error_detail, range_detail, sizeof range_detail);
        return range;
    }

    /* Phase two: the updates, which can no longer fail. */
    for (size_t k = 0; k < c->t; k++) {
        double g = rpo_in_at(dlogps, k);
        if (c->targets[k] < 0 || g == 0.0)
            continue;
        const double *x;
        (void)load_row(c, k, row, &x);
        size_t y = (size_t)c->targets[k];
        if (dlogits.type == RPO_F64) {
            double *d = (double *)dlogits.data + k * c->stride;
            rpo_row_logp_backward(x, c->v, y, g, e, d);
        } else {
            rpo_in current = {dlogits.data, dlogits.type};
            (void)rpo_in_load(current, k * c->stride, c->v, drow, NULL);
            rpo_row_logp_backward(x, c->v, y, g, e, drow);
            rpo_out_store(dlogits, k * c->stride, drow, c->v);
        }
    }
    return RPO_OK;
}

static logits_call make_call(size_t t, size_t v, size_t stride, rpo_in logits,
                             const int32_t *targets)
{
    logits_call c;
    c.t = t;
    c.v = v;
    c.stride = stride;
    c.logits = logits;
    c.targets = targets;
    return c;
}

int rpo_token_logps_f32(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                        const float *logits, const int32_t *targets,
                        float *logps)
{
    logits_call c = make_call(t, v, stride, rpo_in_f32(logits), targets);
    return token_logps(ctx, &c, rpo_out_f32(logps));
}

int rpo_token_logps_f64(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                        const double *logits, const int32_t *targets,
                        double *logps)
{
    logits_call c = make_call(t, v, stride, rpo_in_f64(logits), targets);
    return token_logps(ctx, &c, rpo_out_f64(logps));
}

int rpo_token_logps_backward_f32(rpo_ctx *ctx, size_t t, size_t v,
                                 size_t stride, const float *logits,
                                 const int32_t *targets, const float *dlogps,
                                 float *dlogits)
{
    logits_call c = make_call(t, v, stride, rpo_in_f32(logits), targets);
    return token_logps_backward(ctx, &c, rpo_in_f32(dlogps), rpo_out_f32(dlogits));
}

int rpo_token_logps_backward_f64(rpo_ctx *ctx, size_t t, size_t v,
                                 size_t stride, const double *logits,
                                 const int32_t *targets, const double *dlogps,
                                 double *dlogits)
{
    logits_call c = make_call(t, v, stride, rpo_in_f64(logits), targets);
    return token_logps_backward(ctx, &c, rpo_in_f64(dlogps), rpo_out_f64(dlogits));
}
