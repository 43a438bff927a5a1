/*
 * Token log-probs from logits and their backward into dlogits
 * (rpo_token_logps_*, rpo_token_logps_backward_*): the checks and the
 * order of the passes. token_rows.c runs each pass over the rows and
 * threads, lib/kernels/simd/tokens.h holds the per-row kernels.
 *
 * The forward keeps its T results in the context's scratch and writes them
 * after every row has passed. The backward may not write until every row
 * it changes is known good, since accumulated or overwritten rows cannot
 * be restored: so it checks all of them first (a read of each row, no
 * exp), then computes. That first read is the price of "nothing written on
 * error" without a T x V buffer.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "arrays.h"
#include "config.h"
#include "context.h"
#include "detail.h"
#include "rpo.h"
#include "token_rows.h"

static token_rows make_rows(rpo_ctx *ctx, rpo_dtype type, size_t t, size_t v,
                            size_t stride, const void *logits,
                            const int32_t *targets)
{
    token_rows r;
    memset(&r, 0, sizeof r);
    if (ctx != NULL) {
        const rpo_config cfg = rpo_config_of(ctx);
        r.set = cfg.kernels;
        r.kern = type == RPO_F32 ? &cfg.kernels->f32 : &cfg.kernels->f64;
        r.threads = cfg.threads;
    }
    r.elem = type == RPO_F32 ? sizeof(float) : sizeof(double);
    r.t = t;
    r.v = v;
    r.stride = stride;
    r.logits = logits;
    r.targets = targets;
    return r;
}

static const char *type_name(const token_rows *r)
{
    return r->elem == sizeof(float) ? "float32" : "float64";
}

/* Names the first NaN or infinity of row k, which a check found there, in
 * the documented order: dlogps[k], the logits row, lse[k], then the
 * dlogits row that is accumulated into. Only a failing call comes here. */
static int fail_nonfinite_row(rpo_ctx *ctx, const token_rows *r, size_t k)
{
    const rpo_dtype type = r->elem == sizeof(float) ? RPO_F32 : RPO_F64;
    if (r->dlogps.data != NULL) {
        const double g = rpo_in_at(r->dlogps, k);
        if (!isfinite(g))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "dlogps[%zu] is %s", k,
                            rpo_nonfinite_name(g));
    }
    const rpo_in logits = {r->logits, type};
    if (rpo_check_finite_rows(ctx, "logits", logits, k, 1, r->v, r->stride) != RPO_OK)
        return RPO_ERR_NONFINITE;
    if (r->lse != NULL && !isfinite(r->lse[k]))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "lse[%zu] is %s", k,
                        rpo_nonfinite_name(r->lse[k]));
    if (r->dlogits != NULL && !r->overwrite) {
        const rpo_in dlogits = {r->dlogits, type};
        if (rpo_check_finite_rows(ctx, "dlogits", dlogits, k, 1, r->v, r->stride) != RPO_OK)
            return RPO_ERR_NONFINITE;
    }
    return rpo_fail(ctx, RPO_ERR_NONFINITE, "row %zu holds NaN or infinity", k);
}

/* Sizes and targets, shared by both directions: RPO_OK or RPO_ERR_SIZE
 * (pointers are checked by the caller, which knows its outputs). */
static int validate_sizes(rpo_ctx *ctx, const token_rows *r)
{
    if (r->v == 0)
        return rpo_fail(ctx, RPO_ERR_SIZE, "v is 0: a row of logits needs at least one entry");
    if (r->stride < r->v)
        return rpo_fail(ctx, RPO_ERR_SIZE, "stride = %zu is below v = %zu", r->stride, r->v);
    /* (T, stride) overflowing size_t is RPO_ERR_SIZE before any target is
     * read. (Bounding only the last row's end, (T - 1) stride + V, let
     * T = stride = 2^32, V = 1 through to read 2^32 targets.) */
    if (rpo_mul_overflows(r->t, r->stride) || rpo_mul_overflows(r->t * r->stride, r->elem))
        return rpo_fail(ctx, RPO_ERR_SIZE, "t * stride overflows size_t (t = %zu, stride = %zu)",
                        r->t, r->stride);
    for (size_t k = 0; k < r->t; k++)
        if (r->targets[k] >= 0 && (size_t)r->targets[k] >= r->v)
            return rpo_fail(ctx, RPO_ERR_SIZE, "targets[%zu] = %d is not below v = %zu",
                            k, (int)r->targets[k], r->v);
    return RPO_OK;
}

/* 1 when the byte ranges [a, a + na) and [b, b + nb) share a byte. */
static int overlaps(const void *a, size_t na, const void *b, size_t nb)
{
    const uintptr_t pa = (uintptr_t)a, pb = (uintptr_t)b;
    return na > 0 && nb > 0 && pa < pb + nb && pb < pa + na;
}

/* Bytes spanned by a (T, stride) matrix's used entries. */
static size_t matrix_bytes(const token_rows *r)
{
    return ((r->t - 1) * r->stride + r->v) * r->elem;
}

static int token_forward(rpo_ctx *ctx, token_rows *r, rpo_out logps, double *lse,
                         int want_lse)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (r->t == 0)
        return RPO_OK;
    const char *null = r->logits == NULL ? "logits" : r->targets == NULL ? "targets"
                     : logps.data == NULL ? "logps" : want_lse && lse == NULL ? "lse" : NULL;
    if (null != NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL with t = %zu", null, r->t);
    int status = validate_sizes(ctx, r);
    if (status != RPO_OK)
        return status;
    if (want_lse && overlaps(lse, r->t * sizeof(double), logps.data, r->t * r->elem))
        return rpo_fail(ctx, RPO_ERR_SIZE, "lse overlaps logps");

    rpo_scratch_plan plan = {0};
    const size_t at_logp = rpo_scratch_add(&plan, r->t, sizeof(double));
    const size_t at_lse = rpo_scratch_add(&plan, r->t, sizeof(double));
    const size_t at_wide = rpo_scratch_add(&plan, token_rows_in_double(r) ? r->v : 0,
                                           sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "no scratch for %zu rows' results", r->t);
    r->logp = rpo_scratch_at(ctx, at_logp);
    r->lse_out = rpo_scratch_at(ctx, at_lse);
    r->wide_x = rpo_scratch_at(ctx, at_wide);

    rpo_token_forward_rows(r, r->threads);
    for (size_t k = 0; k < r->t; k++)
        if (r->logp[k] != r->logp[k])
            return fail_nonfinite_row(ctx, r, k);
    for (size_t k = 0; k < r->t; k++)
        if (!rpo_out_fits(logps.type, &r->logp[k], 1))
            return rpo_fail(ctx, RPO_ERR_RANGE,
                            "row %zu: logps = %g is beyond %s's range (its logits spread too wide)",
                            k, r->logp[k], type_name(r));
    rpo_out_store(logps, 0, r->logp, r->t);
    if (want_lse)
        memcpy(lse, r->lse_out, r->t * sizeof(double));
    return RPO_OK;
}

/* The arrays the backward may not overlap: dlogits changes while they are
 * still read. Only dlogits == logits, when overwriting, is allowed. */
static int validate_aliasing(rpo_ctx *ctx, const token_rows *r)
{
    const size_t bytes = matrix_bytes(r);
    if (overlaps(r->dlogits, bytes, r->logits, bytes) &&
        !(r->overwrite && r->dlogits == r->logits))
        return rpo_fail(ctx, RPO_ERR_SIZE, r->overwrite
                        ? "dlogits overlaps logits without being the same array"
                        : "dlogits overlaps logits (only RPO_GRAD_OVERWRITE may pass the logits themselves)");
    const size_t g_bytes = r->t * (r->dlogps.type == RPO_F32 ? sizeof(float) : sizeof(double));
    if (overlaps(r->dlogits, bytes, r->dlogps.data, g_bytes))
        return rpo_fail(ctx, RPO_ERR_SIZE, "dlogits overlaps dlogps");
    if (overlaps(r->dlogits, bytes, r->targets, r->t * sizeof(int32_t)))
        return rpo_fail(ctx, RPO_ERR_SIZE, "dlogits overlaps targets");
    if (r->lse != NULL && overlaps(r->dlogits, bytes, r->lse, r->t * sizeof(double)))
        return rpo_fail(ctx, RPO_ERR_SIZE, "dlogits overlaps lse");
    return RPO_OK;
}

static int token_backward(rpo_ctx *ctx, token_rows *r, int write)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (r->t == 0)
        return RPO_OK;
    const char *null = r->logits == NULL ? "logits" : r->targets == NULL ? "targets"
                     : r->dlogps.data == NULL ? "dlogps" : r->dlogits == NULL ? "dlogits" : NULL;
    if (null != NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL with t = %zu", null, r->t);
    r->overwrite = write == RPO_GRAD_OVERWRITE;
    int status = validate_sizes(ctx, r);
    if (status == RPO_OK)
        status = validate_aliasing(ctx, r);
    if (status != RPO_OK)
        return status;
    if (write != RPO_GRAD_ACCUMULATE && write != RPO_GRAD_OVERWRITE)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "write = %d is neither RPO_GRAD_ACCUMULATE nor RPO_GRAD_OVERWRITE", write);

    rpo_scratch_plan plan = {0};
    const size_t at_status = rpo_scratch_add(&plan, r->t, sizeof(int));
    const size_t at_top = rpo_scratch_add(&plan, r->t, sizeof(double));
    const size_t wide = token_rows_in_double(r) ? r->v : 0;
    const size_t at_wide_x = rpo_scratch_add(&plan, wide, sizeof(double));
    const size_t at_wide_d = rpo_scratch_add(&plan, wide, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "no scratch for %zu rows' checks", r->t);
    r->status = rpo_scratch_at(ctx, at_status);
    r->top = rpo_scratch_at(ctx, at_top);
    r->wide_x = rpo_scratch_at(ctx, at_wide_x);
    r->wide_d = rpo_scratch_at(ctx, at_wide_d);

    /* Every check, for every row that will change. A NaN found in a later
     * row wins over a range problem in an earlier one (the documented
     * order). */
    rpo_token_check_rows(r, r->threads);
    for (size_t k = 0; k < r->t; k++)
        if (r->status[k] == RPO_ERR_NONFINITE)
            return fail_nonfinite_row(ctx, r, k);
    for (size_t k = 0; k < r->t; k++)
        if (r->status[k] == RPO_ERR_RANGE)
            return rpo_fail(ctx, RPO_ERR_RANGE, r->lse != NULL
                            ? "row %zu: lse is not the row's log-sum-exp, or dlogits + dlogps leaves %s"
                            : "dlogits[%zu, :] could leave %s's range: dlogits + dlogps "
                              "may pass it", k, type_name(r));

    rpo_token_grad_rows(r, r->threads);
    return RPO_OK;
}

int rpo_token_logps_f32(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                        const float *logits, const int32_t *targets,
                        float *logps)
{
    token_rows r = make_rows(ctx, RPO_F32, t, v, stride, logits, targets);
    return token_forward(ctx, &r, rpo_out_f32(logps), NULL, 0);
}

int rpo_token_logps_f64(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                        const double *logits, const int32_t *targets,
                        double *logps)
{
    token_rows r = make_rows(ctx, RPO_F64, t, v, stride, logits, targets);
    return token_forward(ctx, &r, rpo_out_f64(logps), NULL, 0);
}

int rpo_token_logps_lse_f32(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                            const float *logits, const int32_t *targets,
                            float *logps, double *lse)
{
    token_rows r = make_rows(ctx, RPO_F32, t, v, stride, logits, targets);
    return token_forward(ctx, &r, rpo_out_f32(logps), lse, 1);
}

int rpo_token_logps_lse_f64(rpo_ctx *ctx, size_t t, size_t v, size_t stride,
                            const double *logits, const int32_t *targets,
                            double *logps, double *lse)
{
    token_rows r = make_rows(ctx, RPO_F64, t, v, stride, logits, targets);
    return token_forward(ctx, &r, rpo_out_f64(logps), lse, 1);
}

int rpo_token_logps_backward_f32(rpo_ctx *ctx, size_t t, size_t v,
                                 size_t stride, const float *logits,
                                 const int32_t *targets, const float *dlogps,
                                 float *dlogits)
{
    return rpo_token_logps_backward_lse_f32(ctx, t, v, stride, logits, targets, NULL,
                                            dlogps, dlogits, RPO_GRAD_ACCUMULATE);
}

int rpo_token_logps_backward_f64(rpo_ctx *ctx, size_t t, size_t v,
                                 size_t stride, const double *logits,
                                 const int32_t *targets, const double *dlogps,
                                 double *dlogits)
{
    return rpo_token_logps_backward_lse_f64(ctx, t, v, stride, logits, targets, NULL,
                                            dlogps, dlogits, RPO_GRAD_ACCUMULATE);
}

int rpo_token_logps_backward_lse_f32(rpo_ctx *ctx, size_t t, size_t v,
                                     size_t stride, const float *logits,
                                     const int32_t *targets, const double *lse,
                                     const float *dlogps, float *dlogits,
                                     int write)
{
    token_rows r = make_rows(ctx, RPO_F32, t, v, stride, logits, targets);
    r.lse = lse;
    r.dlogps = rpo_in_f32(dlogps);
    r.dlogits = dlogits;
    return token_backward(ctx, &r, write);
}

int rpo_token_logps_backward_lse_f64(rpo_ctx *ctx, size_t t, size_t v,
                                     size_t stride, const double *logits,
                                     const int32_t *targets, const double *lse,
                                     const double *dlogps, double *dlogits,
                                     int write)
{
    token_rows r = make_rows(ctx, RPO_F64, t, v, stride, logits, targets);
    r.lse = lse;
    r.dlogps = rpo_in_f64(dlogps);
    r.dlogits = dlogits;
    return token_backward(ctx, &r, write);
}
