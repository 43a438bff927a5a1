/* The engine's objective steps (engine_objective.h). */
#include <string.h>

#include "engine_objective.h"
#include "objective.h"
#include "rpo.h"
#include "validate.h"

int rpo_objective_check_call(rpo_ctx *ctx, const rpo_call *call)
{
    return rpo_objective_check_values(ctx, call->objective, call->policy_chosen,
                                      call->m, call->policy_rejected, call->n);
}

/* dst[k] = (float)src[k]: what the float pairs kernel reads. */
static void narrow(const double *src, size_t count, float *dst)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = (float)src[k];
}

void rpo_objective_prepare(rpo_ctx *ctx, const rpo_call *call, const rpo_plan *p,
                           const rpo_layout *L)
{
    const rpo_objective *o = call->objective;
    rpo_objective_scores(o, call->policy_chosen, rpo_scratch_at(ctx, L->a),
                         o->chosen_lengths, call->m, rpo_scratch_at(ctx, L->sa),
                         rpo_scratch_at(ctx, L->da));
    rpo_objective_scores(o, call->policy_rejected, rpo_scratch_at(ctx, L->b),
                         o->rejected_lengths, call->n, rpo_scratch_at(ctx, L->sb),
                         rpo_scratch_at(ctx, L->db));
    rpo_objective_sample_weights(o->chosen_weights, call->m, rpo_scratch_at(ctx, L->wc));
    rpo_objective_sample_weights(o->rejected_weights, call->n, rpo_scratch_at(ctx, L->wr));
    if (o->losses_grad.data != NULL) {
        const double *wc = rpo_scratch_at(ctx, L->wc);
        double *wg = rpo_scratch_at(ctx, L->wg);
        for (size_t i = 0; i < call->m; i++)
            wg[i] = wc[i] * rpo_in_at(o->losses_grad, i);
    }
    if (p->pairs == RPO_PAIRS_SIMD && p->compute_type == RPO_F32) {
        narrow(rpo_scratch_at(ctx, L->sa), call->m, rpo_scratch_at(ctx, L->sa_compute));
        narrow(rpo_scratch_at(ctx, L->sb), call->n, rpo_scratch_at(ctx, L->sb_compute));
        narrow(rpo_scratch_at(ctx, L->wr), call->n, rpo_scratch_at(ctx, L->wr_compute));
    }
}

/* beta times each log-ratio fits the output, when the output is wanted. */
static int rewards_fit(rpo_out out, double beta, const double *x, size_t count)
{
    if (out.data == NULL)
        return 1;
    for (size_t k = 0; k < count; k++) {
        const double reward = beta * x[k];
        if (!rpo_out_fits(out.type, &reward, 1))
            return 0;
    }
    return 1;
}

static void write_rewards(rpo_out out, double beta, const double *x, size_t count)
{
    if (out.data == NULL)
        return;
    for (size_t k = 0; k < count; k++) {
        const double reward = beta * x[k];
        rpo_out_store(out, k, &reward, 1);
    }
}

int rpo_objective_check_range(rpo_ctx *ctx, const rpo_config *cfg,
                              const rpo_call *call, const rpo_loss_result *r,
                              const double *a, const double *b)
{
    const double beta = cfg->beta;
    if (call->losses.data != NULL && r->row_loss != NULL &&
        !rpo_out_fits(call->losses.type, r->row_loss, call->m))
        return rpo_fail(ctx, RPO_ERR_RANGE, "a per-row loss is beyond the output type");
    if (!rewards_fit(call->chosen_rewards, beta, a, call->m) ||
        !rewards_fit(call->rejected_rewards, beta, b, call->n))
        return rpo_fail(ctx, RPO_ERR_RANGE, "a reward beta * log-ratio is beyond the output type");
    return RPO_OK;
}

void rpo_objective_write(const rpo_config *cfg, const rpo_call *call,
                         const rpo_loss_result *r, const double *a, const double *b)
{
    const double beta = cfg->beta;
    if (call->losses.data != NULL && r->row_loss != NULL)
        rpo_out_store(call->losses, 0, r->row_loss, call->m);
    write_rewards(call->chosen_rewards, beta, a, call->m);
    write_rewards(call->rejected_rewards, beta, b, call->n);
}

static int all_finite(rpo_in x, size_t count)
{
    return x.data == NULL || rpo_in_all_finite(x, 0, count);
}

int rpo_objective_finish_empty(rpo_ctx *ctx, const rpo_config *cfg,
                               const rpo_call *call)
{
    const size_t m = call->m, n = call->n;
    /* a, b, the SFT gradient and row losses: (M), (N), (M), (M) doubles;
     * sizes and memory before any input is read */
    rpo_scratch_plan plan = {0};
    (void)rpo_scratch_add(&plan, 1, 1);  /* M == N == 0: still real regions */
    const size_t at_a = rpo_scratch_add(&plan, m, sizeof(double));
    const size_t at_b = rpo_scratch_add(&plan, n, sizeof(double));
    const size_t at_grad = rpo_scratch_add(&plan, m, sizeof(double));
    const size_t at_rows = rpo_scratch_add(&plan, m, sizeof(double));
    int status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "scratch for m = %zu, n = %zu", m, n);
    if (!all_finite(call->policy_chosen, m) || !all_finite(call->ref_chosen, m) ||
        !all_finite(call->policy_rejected, n) || !all_finite(call->ref_rejected, n))
        return rpo_fail(ctx, RPO_ERR_NONFINITE, "NaN or infinity in a log-prob");
    status = rpo_objective_check_call(ctx, call);
    if (status != RPO_OK)
        return status;
    double *a = rpo_scratch_at(ctx, at_a), *b = rpo_scratch_at(ctx, at_b);
    double *grad = rpo_scratch_at(ctx, at_grad), *rows = rpo_scratch_at(ctx, at_rows);
    /* an empty side's log-probs may be NULL */
    if (m > 0)
        (void)rpo_log_ratios(call->policy_chosen, call->ref_chosen, m, a);
    if (n > 0)
        (void)rpo_log_ratios(call->policy_rejected, call->ref_rejected, n, b);
    memset(grad, 0, m * sizeof *grad);
    memset(rows, 0, m * sizeof *rows);

    rpo_loss_result r;
    memset(&r, 0, sizeof r);
    rpo_objective_add_sft(call->objective, call->policy_chosen, m,
                          call->is_row_block ? call->m_total : m,
                          cfg->reduction == RPO_REDUCTION_SUM, &r.loss, grad, rows);
    r.row_loss = rows;
    if (!(r.loss - r.loss == 0.0) ||
        (call->loss.data != NULL && !rpo_out_fits(call->loss.type, &r.loss, 1)) ||
        (call->partial_stats.data != NULL && !rpo_out_fits(call->partial_stats.type, &r.loss, 1)) ||
        (call->grad_chosen.data != NULL && !rpo_out_fits(call->grad_chosen.type, grad, m)) ||
        rpo_objective_check_range(ctx, cfg, call, &r, a, b) != RPO_OK)
        return rpo_fail(ctx, RPO_ERR_RANGE, "a result does not fit the output type");

    /* a row block's loss is its share, in partial_stats (zeros besides) */
    double partial[RPO_PARTIAL_COUNT] = {0};
    partial[RPO_PARTIAL_LOSS] = r.loss;
    if (call->loss.data != NULL && !call->is_row_block)
        rpo_out_store(call->loss, 0, &r.loss, 1);
    if (call->partial_stats.data != NULL)
        rpo_out_store(call->partial_stats, 0, partial, RPO_PARTIAL_COUNT);
    if (call->grad_chosen.data != NULL)
        rpo_out_store(call->grad_chosen, 0, grad, m);
    if (call->grad_rejected.data != NULL)
        rpo_out_zero(call->grad_rejected, 0, n);
    if (call->grad_chosen_emb.data != NULL)
        rpo_out_zero(call->grad_chosen_emb, 0, m * call->d);
    if (call->grad_rejected_emb.data != NULL && !rpo_call_is_paired(call))
        rpo_out_zero(call->grad_rejected_emb, 0, n * call->d);
    rpo_objective_write(cfg, call, &r, a, b);
    if (call->is_row_block) {  /* a row block leaves the metrics alone, but */
        ctx->last.effective_contrasts = 0.0;  /* for its shares of W's shape */
        ctx->last.diagonal_weight = 0.0;
        return RPO_OK;
    }
    memset(&ctx->last, 0, sizeof ctx->last);
    ctx->last.loss = call->loss.data != NULL ? r.loss : 0.0;
    ctx->last.logps_chosen = rpo_in_mean(call->policy_chosen, m);
    ctx->last.logps_rejected = rpo_in_mean(call->policy_rejected, n);
    return RPO_OK;
}
