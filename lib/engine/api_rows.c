/*
 * rpo_loss_rows_* and rpo_loss_rows_weighted_*: one row block of a global
 * contrast matrix, for data-parallel ranks (rpo.h). Thin, like api.c: the
 * arrays tagged with their element type, one rpo_call marked as a block of
 * m_total rows for the engine. A block's rejected gradients are partial
 * sums over its rows, and its loss goes to partial_stats.
 */
#include "engine.h"
#include "rpo.h"

int rpo_loss_rows_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                      size_t m, const float *policy_chosen, const float *ref_chosen,
                      size_t n, const float *policy_rejected, const float *ref_rejected,
                      size_t d, const float *chosen_emb, const float *rejected_emb,
                      float *grad_chosen, float *grad_chosen_emb,
                      float *partial_stats, float *partial_grad_rejected,
                      float *partial_grad_rejected_emb)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .is_row_block = 1, .m_total = m_total, .row_offset = row_offset,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f32(policy_chosen),
        .ref_chosen = rpo_in_f32(ref_chosen),
        .policy_rejected = rpo_in_f32(policy_rejected),
        .ref_rejected = rpo_in_f32(ref_rejected),
        .chosen_emb = rpo_in_f32(chosen_emb),
        .rejected_emb = rpo_in_f32(rejected_emb),
        .grad_chosen = rpo_out_f32(grad_chosen),
        .partial_stats = rpo_out_f32(partial_stats),
        .grad_rejected = rpo_out_f32(partial_grad_rejected),
        .grad_chosen_emb = rpo_out_f32(grad_chosen_emb),
        .grad_rejected_emb = rpo_out_f32(partial_grad_rejected_emb),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                      size_t m, const double *policy_chosen, const double *ref_chosen,
                      size_t n, const double *policy_rejected, const double *ref_rejected,
                      size_t d, const double *chosen_emb, const double *rejected_emb,
                      double *grad_chosen, double *grad_chosen_emb,
                      double *partial_stats, double *partial_grad_rejected,
                      double *partial_grad_rejected_emb)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .is_row_block = 1, .m_total = m_total, .row_offset = row_offset,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f64(policy_chosen),
        .ref_chosen = rpo_in_f64(ref_chosen),
        .policy_rejected = rpo_in_f64(policy_rejected),
        .ref_rejected = rpo_in_f64(ref_rejected),
        .chosen_emb = rpo_in_f64(chosen_emb),
        .rejected_emb = rpo_in_f64(rejected_emb),
        .grad_chosen = rpo_out_f64(grad_chosen),
        .partial_stats = rpo_out_f64(partial_stats),
        .grad_rejected = rpo_out_f64(partial_grad_rejected),
        .grad_chosen_emb = rpo_out_f64(grad_chosen_emb),
        .grad_rejected_emb = rpo_out_f64(partial_grad_rejected_emb),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_rows_weighted_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const float *policy_chosen, const float *ref_chosen,
                               size_t n, const float *policy_rejected,
                               const float *ref_rejected, const float *weights,
                               float *grad_chosen, float *partial_stats,
                               float *partial_grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS_WEIGHTED,
        .is_row_block = 1, .m_total = m_total, .row_offset = row_offset,
        .m = m, .n = n,
        .policy_chosen = rpo_in_f32(policy_chosen),
        .ref_chosen = rpo_in_f32(ref_chosen),
        .policy_rejected = rpo_in_f32(policy_rejected),
        .ref_rejected = rpo_in_f32(ref_rejected),
        .weights_in = rpo_in_f32(weights),
        .grad_chosen = rpo_out_f32(grad_chosen),
        .partial_stats = rpo_out_f32(partial_stats),
        .grad_rejected = rpo_out_f32(partial_grad_rejected),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_rows_weighted_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                               size_t m, const double *policy_chosen, const double *ref_chosen,
                               size_t n, const double *policy_rejected,
                               const double *ref_rejected, const double *weights,
                               double *grad_chosen, double *partial_stats,
                               double *partial_grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS_WEIGHTED,
        .is_row_block = 1, .m_total = m_total, .row_offset = row_offset,
        .m = m, .n = n,
        .policy_chosen = rpo_in_f64(policy_chosen),
        .ref_chosen = rpo_in_f64(ref_chosen),
        .policy_rejected = rpo_in_f64(policy_rejected),
        .ref_rejected = rpo_in_f64(ref_rejected),
        .weights_in = rpo_in_f64(weights),
        .grad_chosen = rpo_out_f64(grad_chosen),
        .partial_stats = rpo_out_f64(partial_stats),
        .grad_rejected = rpo_out_f64(partial_grad_rejected),
    };
    return rpo_run(ctx, &call);
}
