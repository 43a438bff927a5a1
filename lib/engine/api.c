/*
 * The public loss and weight entry points, the embedding gradients among
 * them (api_rows.c has the row blocks). Each tags its arrays with their
 * element type, names them in one rpo_call (arrays a call does not use are
 * left out: absent) and hands it to the engine, so the float32 and float64
 * variants share every line of logic.
 */
#include "engine.h"
#include "rpo.h"

int rpo_loss_f32(rpo_ctx *ctx,
                 size_t m, const float *policy_chosen, const float *ref_chosen,
                 size_t n, const float *policy_rejected, const float *ref_rejected,
                 size_t d, const float *chosen_emb, const float *rejected_emb,
                 float *loss, float *grad_chosen, float *grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f32(policy_chosen),
        .ref_chosen = rpo_in_f32(ref_chosen),
        .policy_rejected = rpo_in_f32(policy_rejected),
        .ref_rejected = rpo_in_f32(ref_rejected),
        .chosen_emb = rpo_in_f32(chosen_emb),
        .rejected_emb = rpo_in_f32(rejected_emb),
        .loss = rpo_out_f32(loss),
        .grad_chosen = rpo_out_f32(grad_chosen),
        .grad_rejected = rpo_out_f32(grad_rejected),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_f64(rpo_ctx *ctx,
                 size_t m, const double *policy_chosen, const double *ref_chosen,
                 size_t n, const double *policy_rejected, const double *ref_rejected,
                 size_t d, const double *chosen_emb, const double *rejected_emb,
                 double *loss, double *grad_chosen, double *grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f64(policy_chosen),
        .ref_chosen = rpo_in_f64(ref_chosen),
        .policy_rejected = rpo_in_f64(policy_rejected),
        .ref_rejected = rpo_in_f64(ref_rejected),
        .chosen_emb = rpo_in_f64(chosen_emb),
        .rejected_emb = rpo_in_f64(rejected_emb),
        .loss = rpo_out_f64(loss),
        .grad_chosen = rpo_out_f64(grad_chosen),
        .grad_rejected = rpo_out_f64(grad_rejected),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_weighted_f32(rpo_ctx *ctx,
                          size_t m, const float *policy_chosen, const float *ref_chosen,
                          size_t n, const float *policy_rejected, const float *ref_rejected,
                          const float *weights,
                          float *loss, float *grad_chosen, float *grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS_WEIGHTED,
        .m = m, .n = n,
        .policy_chosen = rpo_in_f32(policy_chosen),
        .ref_chosen = rpo_in_f32(ref_chosen),
        .policy_rejected = rpo_in_f32(policy_rejected),
        .ref_rejected = rpo_in_f32(ref_rejected),
        .weights_in = rpo_in_f32(weights),
        .loss = rpo_out_f32(loss),
        .grad_chosen = rpo_out_f32(grad_chosen),
        .grad_rejected = rpo_out_f32(grad_rejected),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_weighted_f64(rpo_ctx *ctx,
                          size_t m, const double *policy_chosen, const double *ref_chosen,
                          size_t n, const double *policy_rejected, const double *ref_rejected,
                          const double *weights,
                          double *loss, double *grad_chosen, double *grad_rejected)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS_WEIGHTED,
        .m = m, .n = n,
        .policy_chosen = rpo_in_f64(policy_chosen),
        .ref_chosen = rpo_in_f64(ref_chosen),
        .policy_rejected = rpo_in_f64(policy_rejected),
        .ref_rejected = rpo_in_f64(ref_rejected),
        .weights_in = rpo_in_f64(weights),
        .loss = rpo_out_f64(loss),
        .grad_chosen = rpo_out_f64(grad_chosen),
        .grad_rejected = rpo_out_f64(grad_rejected),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_embed_grad_f32(rpo_ctx *ctx,
                            size_t m, const float *policy_chosen, const float *ref_chosen,
                            size_t n, const float *policy_rejected, const float *ref_rejected,
                            size_t d, const float *chosen_emb, const float *rejected_emb,
                            float *loss, float *grad_chosen, float *grad_rejected,
                            float *grad_chosen_emb, float *grad_rejected_emb)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f32(policy_chosen),
        .ref_chosen = rpo_in_f32(ref_chosen),
        .policy_rejected = rpo_in_f32(policy_rejected),
        .ref_rejected = rpo_in_f32(ref_rejected),
        .chosen_emb = rpo_in_f32(chosen_emb),
        .rejected_emb = rpo_in_f32(rejected_emb),
        .loss = rpo_out_f32(loss),
        .grad_chosen = rpo_out_f32(grad_chosen),
        .grad_rejected = rpo_out_f32(grad_rejected),
        .grad_chosen_emb = rpo_out_f32(grad_chosen_emb),
        .grad_rejected_emb = rpo_out_f32(grad_rejected_emb),
    };
    return rpo_run(ctx, &call);
}

int rpo_loss_embed_grad_f64(rpo_ctx *ctx,
                            size_t m, const double *policy_chosen, const double *ref_chosen,
                            size_t n, const double *policy_rejected, const double *ref_rejected,
                            size_t d, const double *chosen_emb, const double *rejected_emb,
                            double *loss, double *grad_chosen, double *grad_rejected,
                            double *grad_chosen_emb, double *grad_rejected_emb)
{
    const rpo_call call = {
        .kind = RPO_CALL_LOSS,
        .m = m, .n = n, .d = d,
        .policy_chosen = rpo_in_f64(policy_chosen),
        .ref_chosen = rpo_in_f64(ref_chosen),
        .policy_rejected = rpo_in_f64(policy_rejected),
        .ref_rejected = rpo_in_f64(ref_rejected),
        .chosen_emb = rpo_in_f64(chosen_emb),
        .rejected_emb = rpo_in_f64(rejected_emb),
        .loss = rpo_out_f64(loss),
        .grad_chosen = rpo_out_f64(grad_chosen),
        .grad_rejected = rpo_out_f64(grad_rejected),
        .grad_chosen_emb = rpo_out_f64(grad_chosen_emb),
        .grad_rejected_emb = rpo_out_f64(grad_rejected_emb),
    };
    return rpo_run(ctx, &call);
}

int rpo_weights_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                    const float *chosen_emb, const float *rejected_emb,
                    float *weights)
{
    const rpo_call call = {
        .kind = RPO_CALL_WEIGHTS,
        .m = m, .n = n, .d = d,
        .chosen_emb = rpo_in_f32(chosen_emb),
        .rejected_emb = rpo_in_f32(rejected_emb),
        .weights_out = rpo_out_f32(weights),
    };
    return rpo_run(ctx, &call);
}

int rpo_weights_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                    const double *chosen_emb, const double *rejected_emb,
                    double *weights)
{
    const rpo_call call = {
        .kind = RPO_CALL_WEIGHTS,
        .m = m, .n = n, .d = d,
        .chosen_emb = rpo_in_f64(chosen_emb),
        .rejected_emb = rpo_in_f64(rejected_emb),
        .weights_out = rpo_out_f64(weights),
    };
    return rpo_run(ctx, &call);
}

/* Static-linking-only (rpo.h): the similarity stage alone, for benchmarks. */
int rpo_similarity_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const float *chosen_emb, const float *rejected_emb,
                       float *sim)
{
    const rpo_call call = {
        .kind = RPO_CALL_WEIGHTS,
        .m = m, .n = n, .d = d,
        .chosen_emb = rpo_in_f32(chosen_emb),
        .rejected_emb = rpo_in_f32(rejected_emb),
        .weights_out = rpo_out_f32(sim),
        .similarity_only = 1,
    };
    return rpo_run(ctx, &call);
}

int rpo_similarity_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const double *chosen_emb, const double *rejected_emb,
                       double *sim)
{
    const rpo_call call = {
        .kind = RPO_CALL_WEIGHTS,
        .m = m, .n = n, .d = d,
        .chosen_emb = rpo_in_f64(chosen_emb),
        .rejected_emb = rpo_in_f64(rejected_emb),
        .weights_out = rpo_out_f64(sim),
        .similarity_only = 1,
    };
    return rpo_run(ctx, &call);
}
