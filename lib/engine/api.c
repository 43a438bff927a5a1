/*
 * The public loss and weight entry points, the embedding gradients among
 * them (api_rows.c has the row blocks). Each tags its arrays with
 * their element type and hands one rpo_call to the engine, so the float32
 * and float64 variants share every line of logic.
 */
#include "engine.h"
#include "rpo.h"

static int run_loss(rpo_ctx *ctx, rpo_call_kind kind,
                    size_t m, rpo_in policy_chosen, rpo_in ref_chosen,
                    size_t n, rpo_in policy_rejected, rpo_in ref_rejected,
                    size_t d, rpo_in chosen_emb, rpo_in rejected_emb,
                    rpo_in weights, rpo_out loss, rpo_out grad_chosen,
                    rpo_out grad_rejected, rpo_out grad_chosen_emb,
                    rpo_out grad_rejected_emb)
{
    rpo_call call = rpo_loss_call(kind, m, policy_chosen, ref_chosen,
                                  n, policy_rejected, ref_rejected,
                                  d, chosen_emb, rejected_emb, weights);
    call.loss = loss;
    call.grad_chosen = grad_chosen;
    call.grad_rejected = grad_rejected;
    call.grad_chosen_emb = grad_chosen_emb;
    call.grad_rejected_emb = grad_rejected_emb;
    return rpo_run(ctx, &call);
}

static int run_weights(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       rpo_in chosen_emb, rpo_in rejected_emb, rpo_out weights,
                       int similarity_only)
{
    rpo_call call = {0};
    call.kind = RPO_CALL_WEIGHTS;
    call.similarity_only = similarity_only;
    call.m = m;
    call.n = n;
    call.d = d;
    call.chosen_emb = chosen_emb;
    call.rejected_emb = rejected_emb;
    call.weights_out = weights;
    return rpo_run(ctx, &call);
}

int rpo_loss_f32(rpo_ctx *ctx,
                 size_t m, const float *policy_chosen, const float *ref_chosen,
                 size_t n, const float *policy_rejected, const float *ref_rejected,
                 size_t d, const float *chosen_emb, const float *rejected_emb,
                 float *loss, float *grad_chosen, float *grad_rejected)
{
    return run_loss(ctx, RPO_CALL_LOSS,
                    m, rpo_in_f32(policy_chosen), rpo_in_f32(ref_chosen),
                    n, rpo_in_f32(policy_rejected), rpo_in_f32(ref_rejected),
                    d, rpo_in_f32(chosen_emb), rpo_in_f32(rejected_emb),
                    rpo_in_f32(NULL), rpo_out_f32(loss),
                    rpo_out_f32(grad_chosen), rpo_out_f32(grad_rejected),
                    rpo_out_f32(NULL), rpo_out_f32(NULL));
}

int rpo_loss_f64(rpo_ctx *ctx,
                 size_t m, const double *policy_chosen, const double *ref_chosen,
                 size_t n, const double *policy_rejected, const double *ref_rejected,
                 size_t d, const double *chosen_emb, const double *rejected_emb,
                 double *loss, double *grad_chosen, double *grad_rejected)
{
    return run_loss(ctx, RPO_CALL_LOSS,
                    m, rpo_in_f64(policy_chosen), rpo_in_f64(ref_chosen),
                    n, rpo_in_f64(policy_rejected), rpo_in_f64(ref_rejected),
                    d, rpo_in_f64(chosen_emb), rpo_in_f64(rejected_emb),
                    rpo_in_f64(NULL), rpo_out_f64(loss),
                    rpo_out_f64(grad_chosen), rpo_out_f64(grad_rejected),
                    rpo_out_f64(NULL), rpo_out_f64(NULL));
}

int rpo_loss_weighted_f32(rpo_ctx *ctx,
                          size_t m, const float *policy_chosen, const float *ref_chosen,
                          size_t n, const float *policy_rejected, const float *ref_rejected,
                          const float *weights,
                          float *loss, float *grad_chosen, float *grad_rejected)
{
    return run_loss(ctx, RPO_CALL_LOSS_WEIGHTED,
                    m, rpo_in_f32(policy_chosen), rpo_in_f32(ref_chosen),
                    n, rpo_in_f32(policy_rejected), rpo_in_f32(ref_rejected),
                    0, rpo_in_f32(NULL), rpo_in_f32(NULL),
                    rpo_in_f32(weights), rpo_out_f32(loss),
                    rpo_out_f32(grad_chosen), rpo_out_f32(grad_rejected),
                    rpo_out_f32(NULL), rpo_out_f32(NULL));
}

int rpo_loss_weighted_f64(rpo_ctx *ctx,
                          size_t m, const double *policy_chosen, const double *ref_chosen,
                          size_t n, const double *policy_rejected, const double *ref_rejected,
                          const double *weights,
                          double *loss, double *grad_chosen, double *grad_rejected)
{
    return run_loss(ctx, RPO_CALL_LOSS_WEIGHTED,
                    m, rpo_in_f64(policy_chosen), rpo_in_f64(ref_chosen),
                    n, rpo_in_f64(policy_rejected), rpo_in_f64(ref_rejected),
                    0, rpo_in_f64(NULL), rpo_in_f64(NULL),
                    rpo_in_f64(weights), rpo_out_f64(loss),
                    rpo_out_f64(grad_chosen), rpo_out_f64(grad_rejected),
                    rpo_out_f64(NULL), rpo_out_f64(NULL));
}

int rpo_loss_embed_grad_f32(rpo_ctx *ctx,
                            size_t m, const float *policy_chosen, const float *ref_chosen,
                            size_t n, const float *policy_rejected, const float *ref_rejected,
                            size_t d, const float *chosen_emb, const float *rejected_emb,
                            float *loss, float *grad_chosen, float *grad_rejected,
                            float *grad_chosen_emb, float *grad_rejected_emb)
{
    return run_loss(ctx, RPO_CALL_LOSS,
                    m, rpo_in_f32(policy_chosen), rpo_in_f32(ref_chosen),
                    n, rpo_in_f32(policy_rejected), rpo_in_f32(ref_rejected),
                    d, rpo_in_f32(chosen_emb), rpo_in_f32(rejected_emb),
                    rpo_in_f32(NULL), rpo_out_f32(loss), rpo_out_f32(grad_chosen),
                    rpo_out_f32(grad_rejected), rpo_out_f32(grad_chosen_emb),
                    rpo_out_f32(grad_rejected_emb));
}

int rpo_loss_embed_grad_f64(rpo_ctx *ctx,
                            size_t m, const double *policy_chosen, const double *ref_chosen,
                            size_t n, const double *policy_rejected, const double *ref_rejected,
                            size_t d, const double *chosen_emb, const double *rejected_emb,
                            double *loss, double *grad_chosen, double *grad_rejected,
                            double *grad_chosen_emb, double *grad_rejected_emb)
{
    return run_loss(ctx, RPO_CALL_LOSS,
                    m, rpo_in_f64(policy_chosen), rpo_in_f64(ref_chosen),
                    n, rpo_in_f64(policy_rejected), rpo_in_f64(ref_rejected),
                    d, rpo_in_f64(chosen_emb), rpo_in_f64(rejected_emb),
                    rpo_in_f64(NULL), rpo_out_f64(loss), rpo_out_f64(grad_chosen),
                    rpo_out_f64(grad_rejected), rpo_out_f64(grad_chosen_emb),
                    rpo_out_f64(grad_rejected_emb));
}

int rpo_weights_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                    const float *chosen_emb, const float *rejected_emb,
                    float *weights)
{
    return run_weights(ctx, m, n, d, rpo_in_f32(chosen_emb),
                       rpo_in_f32(rejected_emb), rpo_out_f32(weights), 0);
}

int rpo_weights_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                    const double *chosen_emb, const double *rejected_emb,
                    double *weights)
{
    return run_weights(ctx, m, n, d, rpo_in_f64(chosen_emb),
                       rpo_in_f64(rejected_emb), rpo_out_f64(weights), 0);
}

/* Static-linking-only (rpo.h): the similarity stage alone, for benchmarks. */
int rpo_similarity_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const float *chosen_emb, const float *rejected_emb,
                       float *sim)
{
    return run_weights(ctx, m, n, d, rpo_in_f32(chosen_emb),
                       rpo_in_f32(rejected_emb), rpo_out_f32(sim), 1);
}

int rpo_similarity_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const double *chosen_emb, const double *rejected_emb,
                       double *sim)
{
    return run_weights(ctx, m, n, d, rpo_in_f64(chosen_emb),
                       rpo_in_f64(rejected_emb), rpo_out_f64(sim), 1);
}
