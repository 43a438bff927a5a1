/*
 * rpo_loss_rows_* and rpo_loss_rows_weighted_*: one row block of a global
 * contrast matrix, for data-parallel ranks (rpo.h). Thin, like api.c: one
 * rpo_call marked as a block of m_total rows for the engine.
 */
#include "engine.h"
#include "rpo.h"

/* The arrays of a row-block call, tagged with their element type. */
typedef struct rows_args {
    size_t m_total, row_offset, m, n, d;
    rpo_in policy_chosen, ref_chosen, policy_rejected, ref_rejected;
    rpo_in chosen_emb, rejected_emb, weights;
    rpo_out grad_chosen, grad_chosen_emb, partial_stats;
    rpo_out partial_grad_rejected, partial_grad_rejected_emb;
} rows_args;

static int run_rows(rpo_ctx *ctx, rpo_call_kind kind, const rows_args *r)
{
    rpo_call call = {0};
    call.kind = kind;
    call.rows = 1;
    call.m_total = r->m_total;
    call.row_offset = r->row_offset;
    call.m = r->m;
    call.n = r->n;
    call.d = r->d;
    call.policy_chosen = r->policy_chosen;
    call.ref_chosen = r->ref_chosen;
    call.policy_rejected = r->policy_rejected;
    call.ref_rejected = r->ref_rejected;
    call.chosen_emb = r->chosen_emb;
    call.rejected_emb = r->rejected_emb;
    call.weights_in = r->weights;
    call.grad_chosen = r->grad_chosen;
    call.grad_chosen_emb = r->grad_chosen_emb;
    call.partial_stats = r->partial_stats;
    call.grad_rejected = r->partial_grad_rejected;
    call.grad_rejected_emb = r->partial_grad_rejected_emb;
    return rpo_run(ctx, &call);
}

int rpo_loss_rows_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                      size_t m, const float *policy_chosen, const float *ref_chosen,
                      size_t n, const float *policy_rejected, const float *ref_rejected,
                      size_t d, const float *chosen_emb, const float *rejected_emb,
                      float *grad_chosen, float *grad_chosen_emb,
                      float *partial_stats, float *partial_grad_rejected,
                      float *partial_grad_rejected_emb)
{
    rows_args r = {0};
    r.m_total = m_total;
    r.row_offset = row_offset;
    r.m = m;
    r.n = n;
    r.d = d;
    r.policy_chosen = rpo_in_f32(policy_chosen);
    r.ref_chosen = rpo_in_f32(ref_chosen);
    r.policy_rejected = rpo_in_f32(policy_rejected);
    r.ref_rejected = rpo_in_f32(ref_rejected);
    r.chosen_emb = rpo_in_f32(chosen_emb);
    r.rejected_emb = rpo_in_f32(rejected_emb);
    r.weights = rpo_in_f32(NULL);
    r.grad_chosen = rpo_out_f32(grad_chosen);
    r.grad_chosen_emb = rpo_out_f32(grad_chosen_emb);
    r.partial_stats = rpo_out_f32(partial_stats);
    r.partial_grad_rejected = rpo_out_f32(partial_grad_rejected);
    r.partial_grad_rejected_emb = rpo_out_f32(partial_grad_rejected_emb);
    return run_rows(ctx, RPO_CALL_LOSS, &r);
}

int rpo_loss_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                      size_t m, const double *policy_chosen, const double *ref_chosen,
                      size_t n, const double *policy_rejected, const double *ref_rejected,
                      size_t d, const double *chosen_emb, const double *rejected_emb,
                      double *grad_chosen, double *grad_chosen_emb,
                      double *partial_stats, double *partial_grad_rejected,
                      double *partial_grad_rejected_emb)
{
    rows_args r = {0};
    r.m_total = m_total;
    r.row_offset = row_offset;
    r.m = m;
    r.n = n;
    r.d = d;
    r.policy_chosen = rpo_in_f64(policy_chosen);
    r.ref_chosen = rpo_in_f64(ref_chosen);
    r.policy_rejected = rpo_in_f64(policy_rejected);
    r.ref_rejected = rpo_in_f64(ref_rejected);
    r.chosen_emb = rpo_in_f64(chosen_emb);
    r.rejected_emb = rpo_in_f64(rejected_emb);
    r.weights = rpo_in_f64(NULL);
    r.grad_chosen = rpo_out_f64(grad_chosen);
    r.grad_chosen_emb = rpo_out_f64(grad_chosen_emb);
    r.partial_stats = rpo_out_f64(partial_stats);
    r.partial_grad_rejected = rpo_out_f64(partial_grad_rejected);
    r.partial_grad_rejected_emb = rpo_out_f64(partial_grad_rejected_emb);
    return run_rows(ctx, RPO_CALL_LOSS, &r);
}

int rpo_loss_rows_weighted_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const float *policy_chosen, const float *ref_chosen,
                               size_t n, const float *policy_rejected,
                               const float *ref_rejected, const float *weights,
                               float *grad_chosen, float *partial_stats,
                               float *partial_grad_rejected)
{
    rows_args r = {0};
    r.m_total = m_total;
    r.row_offset = row_offset;
    r.m = m;
    r.n = n;
    r.policy_chosen = rpo_in_f32(policy_chosen);
    r.ref_chosen = rpo_in_f32(ref_chosen);
    r.policy_rejected = rpo_in_f32(policy_rejected);
    r.ref_rejected = rpo_in_f32(ref_rejected);
    r.chosen_emb = r.rejected_emb = rpo_in_f32(NULL);
    r.weights = rpo_in_f32(weights);
    r.grad_chosen = rpo_out_f32(grad_chosen);
    r.grad_chosen_emb = r.partial_grad_rejected_emb = rpo_out_f32(NULL);
    r.partial_stats = rpo_out_f32(partial_stats);
    r.partial_grad_rejected = rpo_out_f32(partial_grad_rejected);
    return run_rows(ctx, RPO_CALL_LOSS_WEIGHTED, &r);
}

int rpo_loss_rows_weighted_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const double *policy_chosen, const double *ref_chosen,
                               size_t n, const double *policy_rejected,
                               const double *ref_rejected, const double *weights,
                               double *grad_chosen, double *partial_stats,
                               double *partial_grad_rejected)
{
    rows_args r = {0};
    r.m_total = m_total;
    r.row_offset = row_offset;
    r.m = m;
    r.n = n;
    r.policy_chosen = rpo_in_f64(policy_chosen);
    r.ref_chosen = rpo_in_f64(ref_chosen);
    r.policy_rejected = rpo_in_f64(policy_rejected);
    r.ref_rejected = rpo_in_f64(ref_rejected);
    r.chosen_emb = r.rejected_emb = rpo_in_f64(NULL);
    r.weights = rpo_in_f64(weights);
    r.grad_chosen = rpo_out_f64(grad_chosen);
    r.grad_chosen_emb = r.partial_grad_rejected_emb = rpo_out_f64(NULL);
    r.partial_stats = rpo_out_f64(partial_stats);
    r.partial_grad_rejected = rpo_out_f64(partial_grad_rejected);
    return run_rows(ctx, RPO_CALL_LOSS_WEIGHTED, &r);
}
