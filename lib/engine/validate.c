/* NULL-pointer and size rules of the API (header, "Errors"). Each failure
 * records its detail in the context (rpo_fail): the argument, the rule and
 * the values, so a caller learns what to change without reading rpo.h. */
#include <stdint.h>

#include "rpo.h"
#include "validate.h"

int rpo_call_is_paired(const rpo_call *call)
{
    /* A row block always gets the gathered rejected embeddings, and its
     * chosen rows may start where they do (row_offset 0): never paired. */
    if (call->is_row_block)
        return 0;
    return call->rejected_emb.data == NULL ||
           call->rejected_emb.data == call->chosen_emb.data;
}

int rpo_weighting_uses_embeddings(int weighting)
{
    return weighting == RPO_WEIGHTING_EMBEDDING ||
           weighting == RPO_WEIGHTING_SINKHORN;
}

int rpo_call_wants_emb_grad(const rpo_call *call)
{
    return call->grad_chosen_emb.data != NULL ||
           call->grad_rejected_emb.data != NULL;
}

static const char *weighting_name(int weighting)
{
    return weighting == RPO_WEIGHTING_EMBEDDING ? "EMBEDDING" : "SINKHORN";
}

/* The advice after a missing embedding: DPO users meet this first, with
 * the default weighting and no embeddings. */
static const char *embedding_hint(int weighting)
{
    return weighting == RPO_WEIGHTING_EMBEDDING
               ? " (DIAGONAL with alpha 1 is DPO)"
               : "";
}

static int check_pointers(rpo_ctx *ctx, const rpo_call *call, int weighting,
                          int empty)
{
    /* A side's log-probs are needed only when the side is not empty; the
     * other arrays only when there is a contrast to compute. */
    if (call->kind != RPO_CALL_WEIGHTS) {
        if (call->m > 0 && call->policy_chosen.data == NULL)
            return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                            "policy_chosen is NULL with m = %zu", call->m);
        if (call->n > 0 && call->policy_rejected.data == NULL)
            return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                            "policy_rejected is NULL with n = %zu", call->n);
    }
    if (empty)
        return RPO_OK;
    if (call->kind == RPO_CALL_LOSS_WEIGHTED && call->weights_in.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "weights is NULL with m = %zu, n = %zu", call->m, call->n);
    if (call->kind == RPO_CALL_WEIGHTS && call->weights_out.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "weights (the output) is NULL with m = %zu, n = %zu",
                        call->m, call->n);
    if (call->kind != RPO_CALL_LOSS_WEIGHTED &&
        rpo_weighting_uses_embeddings(weighting)) {
        if (call->chosen_emb.data == NULL)
            return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                            "chosen_emb is NULL: %s weighting needs prompt "
                            "embeddings%s", weighting_name(weighting),
                            embedding_hint(weighting));
        if (call->is_row_block && call->rejected_emb.data == NULL)
            return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                            "rejected_emb is NULL: a row block under %s "
                            "weighting needs the gathered rejected embeddings",
                            weighting_name(weighting));
    }
    return RPO_OK;
}

static int fail_overflow(rpo_ctx *ctx, const char *x_name, size_t x,
                         const char *y_name, size_t y)
{
    return rpo_fail(ctx, RPO_ERR_SIZE, "%s * %s overflows size_t (%s = %zu, %s = %zu)",
                    x_name, y_name, x_name, x, y_name, y);
}

static int check_sizes(rpo_ctx *ctx, const rpo_call *call, int weighting,
                       int empty)
{
    const size_t m = call->m, n = call->n, d = call->d;
    /* a row block's diagonal is that of the whole problem */
    const size_t m_whole = call->is_row_block ? call->m_total : m;
    if (call->is_row_block && (call->row_offset > call->m_total ||
                       m > call->m_total - call->row_offset))
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "row_offset + m exceeds m_total (row_offset = %zu, "
                        "m = %zu, m_total = %zu)", call->row_offset, m,
                        call->m_total);
    if (rpo_mul_overflows(m_whole, n))
        return fail_overflow(ctx, call->is_row_block ? "m_total" : "m", m_whole, "n", n);
    if (rpo_mul_overflows(m, n))
        return fail_overflow(ctx, "m", m, "n", n);
    const int reads_emb = !empty && call->kind != RPO_CALL_LOSS_WEIGHTED &&
                          rpo_weighting_uses_embeddings(weighting);
    if (rpo_call_wants_emb_grad(call) || reads_emb) {
        if (rpo_mul_overflows(m, d))
            return fail_overflow(ctx, "m", m, "d", d);
        if (rpo_mul_overflows(n, d))
            return fail_overflow(ctx, "n", n, "d", d);
    }
    if (empty || call->kind == RPO_CALL_LOSS_WEIGHTED)
        return RPO_OK;
    if (weighting == RPO_WEIGHTING_DIAGONAL && m_whole != n)
        return call->is_row_block
                   ? rpo_fail(ctx, RPO_ERR_SIZE, "DIAGONAL weighting needs "
                              "m_total == n (m_total = %zu, n = %zu)", m_whole, n)
                   : rpo_fail(ctx, RPO_ERR_SIZE, "DIAGONAL weighting needs "
                              "m == n (m = %zu, n = %zu)", m, n);
    if (reads_emb) {
        if (d == 0)
            return rpo_fail(ctx, RPO_ERR_SIZE, "%s weighting needs d > 0 "
                            "(d = 0)", weighting_name(weighting));
        if (rpo_call_is_paired(call) && m != n)
            return rpo_fail(ctx, RPO_ERR_SIZE,
                            "rejected_emb is %s: paired embeddings need m == n "
                            "(m = %zu, n = %zu); unpaired data passes its own "
                            "rejected_emb", call->rejected_emb.data == NULL
                                ? "NULL" : "chosen_emb", m, n);
    }
    return RPO_OK;
}

int rpo_validate_call(rpo_ctx *ctx, const rpo_call *call, int weighting)
{
    const int empty = call->m == 0 || call->n == 0;
    int status = check_pointers(ctx, call, weighting, empty);
    if (status == RPO_OK)
        status = check_sizes(ctx, call, weighting, empty);
    return status;
}

int rpo_validate_settings(rpo_ctx *ctx, const rpo_config *cfg,
                          const rpo_call *call)
{
    /* A row of N columns has at most N effective contrasts. A call
     * without rows or columns solves nothing (an unpaired micro-batch may
     * lack a side); the caller's weights and the similarities alone use
     * no temperature. */
    const double k = cfg->target_contrasts;
    if (cfg->weighting == RPO_WEIGHTING_EMBEDDING && k > (double)call->n &&
        call->kind != RPO_CALL_LOSS_WEIGHTED && !call->similarity_only &&
        call->m > 0 && call->n > 0)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "RPO_PARAM_TARGET_CONTRASTS = %.17g exceeds n = %zu: "
                        "a row of W has at most n effective contrasts", k,
                        call->n);
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_OK;
    /* EXO's KL against (1 - eps, eps) is infinite for eps = 0; TRL refuses
     * it too rather than guess a value. An objective checked its own
     * terms (objective.c). */
    if (call->objective == NULL && cfg->loss == RPO_LOSS_EXO_PAIR &&
        cfg->label_smoothing == 0.0)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "EXO_PAIR loss needs RPO_PARAM_LABEL_SMOOTHING > 0 (it "
                        "is 0, where EXO's KL divergence is infinite)");
    if (call->kind == RPO_CALL_LOSS && cfg->weighting == RPO_WEIGHTING_SINKHORN) {
        if (call->is_row_block)
            return rpo_fail(ctx, RPO_ERR_UNSUPPORTED,
                            "SINKHORN weighting has no row blocks: its plan "
                            "couples all rows (compute it with rpo_weights_* "
                            "and pass this block's rows to "
                            "rpo_loss_rows_weighted_*)");
        if (rpo_call_wants_emb_grad(call))
            return rpo_fail(ctx, RPO_ERR_UNSUPPORTED,
                            "SINKHORN cannot give embedding gradients: pass "
                            "embeddings that need none (grad_chosen_emb and "
                            "grad_rejected_emb NULL); its plan is a constant "
                            "of the backward");
    }
    return RPO_OK;
}
