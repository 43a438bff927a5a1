/*
 * rpo_loss_rows_* and rpo_loss_rows_weighted_*: one row block of a global
 * contrast matrix, for data-parallel ranks (rpo.h). Thin, like api.c: the
 * arrays tagged with their element type, one rpo_call marked as a block of
 * m_total rows for the engine.
 */
#include "engine.h"
#include "rpo.h"

static int run_rows(rpo_ctx *ctx, rpo_call_kind kind, size_t m_total,
                    size_t row_offset,
                    size_t m, rpo_in policy_chosen, rpo_in ref_chosen,
                    size_t n, rpo_in policy_rejected, rpo_in ref_rejected,
                    size_t d, rpo_in chosen_emb, rpo_in rejected_emb,
                    rpo_in weights, rpo_out grad_chosen, rpo_out grad_chosen_emb,
                    rpo_out partial_stats, rpo_out partial_grad_rejected,
                    rpo_out partial_grad_rejected_emb)
{
    rpo_call call = rpo_loss_call(kind, m, policy_chosen, ref_chosen,
                                  n, policy_rejected, ref_rejected,
                                  d, chosen_emb, rejected_emb, weights);
    call.is_row_block = 1;
    call.m_total = m_total;
    call.row_offset = row_offset;
    call.grad_chosen = grad_chosen;
    call.grad_chosen_emb = grad_chosen_emb;
    call.partial_stats = partial_stats;
    /* a block's rejected gradients are partial sums over its rows */
    call.grad_rejected = partial_grad_rejected;
    call.grad_rejected_emb = partial_grad_rejected_emb;
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
    return run_rows(ctx, RPO_CALL_LOSS, m_total, row_offset,
                    m, rpo_in_f32(policy_chosen), rpo_in_f32(ref_chosen),
                    n, rpo_in_f32(policy_rejected), rpo_in_f32(ref_rejected),
                    d, rpo_in_f32(chosen_emb), rpo_in_f32(rejected_emb),
                    rpo_in_f32(NULL), rpo_out_f32(grad_chosen),
                    rpo_out_f32(grad_chosen_emb), rpo_out_f32(partial_stats),
                    rpo_out_f32(partial_grad_rejected),
                    rpo_out_f32(partial_grad_rejected_emb));
}

int rpo_loss_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                      size_t m, const double *policy_chosen, const double *ref_chosen,
                      size_t n, const double *policy_rejected, const double *ref_rejected,
                      size_t d, const double *chosen_emb, const double *rejected_emb,
                      double *grad_chosen, double *grad_chosen_emb,
                      double *partial_stats, double *partial_grad_rejected,
                      double *partial_grad_rejected_emb)
{
    return run_rows(ctx, RPO_CALL_LOSS, m_total, row_offset,
                    m, rpo_in_f64(policy_chosen), rpo_in_f64(ref_chosen),
                    n, rpo_in_f64(policy_rejected), rpo_in_f64(ref_rejected),
                    d, rpo_in_f64(chosen_emb), rpo_in_f64(rejected_emb),
                    rpo_in_f64(NULL), rpo_out_f64(grad_chosen),
                    rpo_out_f64(grad_chosen_emb), rpo_out_f64(partial_stats),
                    rpo_out_f64(partial_grad_rejected),
                    rpo_out_f64(partial_grad_rejected_emb));
}

int rpo_loss_rows_weighted_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const float *policy_chosen, const float *ref_chosen,
                               size_t n, const float *policy_rejected,
                               const float *ref_rejected, const float *weights,
                               float *grad_chosen, float *partial_stats,
                               float *partial_grad_rejected)
{
    return run_rows(ctx, RPO_CALL_LOSS_WEIGHTED, m_total, row_offset,
                    m, rpo_in_f32(policy_chosen), rpo_in_f32(ref_chosen),
                    n, rpo_in_f32(policy_rejected), rpo_in_f32(ref_rejected),
                    0, rpo_in_f32(NULL), rpo_in_f32(NULL),
                    rpo_in_f32(weights), rpo_out_f32(grad_chosen),
                    rpo_out_f32(NULL), rpo_out_f32(partial_stats),
                    rpo_out_f32(partial_grad_rejected), rpo_out_f32(NULL));
}

int rpo_loss_rows_weighted_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const double *policy_chosen, const double *ref_chosen,
                               size_t n, const double *policy_rejected,
                               const double *ref_rejected, const double *weights,
                               double *grad_chosen, double *partial_stats,
                               double *partial_grad_rejected)
{
    return run_rows(ctx, RPO_CALL_LOSS_WEIGHTED, m_total, row_offset,
                    m, rpo_in_f64(policy_chosen), rpo_in_f64(ref_chosen),
                    n, rpo_in_f64(policy_rejected), rpo_in_f64(ref_rejected),
                    0, rpo_in_f64(NULL), rpo_in_f64(NULL),
                    rpo_in_f64(weights), rpo_out_f64(grad_chosen),
                    rpo_out_f64(NULL), rpo_out_f64(partial_stats),
                    rpo_out_f64(partial_grad_rejected), rpo_out_f64(NULL));
}
