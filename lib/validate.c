/* NULL-pointer and size rules of the API (header, "Errors"). */
#include <stdint.h>

#include "rpo.h"
#include "validate.h"

int rpo_call_is_paired(const rpo_call *call)
{
    /* A row block always gets the gathered rejected embeddings, and its
     * chosen rows may start where they do (row_offset 0): never paired. */
    if (call->rows)
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

int rpo_mul_overflows(size_t x, size_t y)
{
    return x != 0 && y > SIZE_MAX / x;
}

static int check_pointers(const rpo_call *call, int weighting, int empty)
{
    /* A side's log-probs are needed only when the side is not empty; the
     * other arrays only when there is a contrast to compute. */
    if (call->kind != RPO_CALL_WEIGHTS) {
        if (call->m > 0 && call->policy_chosen.data == NULL)
            return RPO_ERR_NULL_POINTER;
        if (call->n > 0 && call->policy_rejected.data == NULL)
            return RPO_ERR_NULL_POINTER;
    }
    if (empty)
        return RPO_OK;
    if (call->kind == RPO_CALL_LOSS_WEIGHTED && call->weights_in.data == NULL)
        return RPO_ERR_NULL_POINTER;
    if (call->kind == RPO_CALL_WEIGHTS && call->weights_out.data == NULL)
        return RPO_ERR_NULL_POINTER;
    if (call->kind != RPO_CALL_LOSS_WEIGHTED &&
        rpo_weighting_uses_embeddings(weighting)) {
        if (call->chosen_emb.data == NULL)
            return RPO_ERR_NULL_POINTER;
        if (call->rows && call->rejected_emb.data == NULL)
            return RPO_ERR_NULL_POINTER;
    }
    return RPO_OK;
}

static int check_sizes(const rpo_call *call, int weighting, int empty)
{
    const size_t m = call->m, n = call->n, d = call->d;
    /* a row block's diagonal is that of the whole problem */
    const size_t m_whole = call->rows ? call->m_total : m;
    if (call->rows && (call->row_offset > call->m_total ||
                       m > call->m_total - call->row_offset))
        return RPO_ERR_SIZE;
    if (rpo_mul_overflows(m_whole, n) || rpo_mul_overflows(m, n))
        return RPO_ERR_SIZE;
    if (rpo_call_wants_emb_grad(call) &&
        (rpo_mul_overflows(m, d) || rpo_mul_overflows(n, d)))
        return RPO_ERR_SIZE;
    if (empty || call->kind == RPO_CALL_LOSS_WEIGHTED)
        return RPO_OK;
    if (weighting == RPO_WEIGHTING_DIAGONAL && m_whole != n)
        return RPO_ERR_SIZE;
    if (rpo_weighting_uses_embeddings(weighting)) {
        if (d == 0 || rpo_mul_overflows(m, d) || rpo_mul_overflows(n, d))
            return RPO_ERR_SIZE;
        if (rpo_call_is_paired(call) && m != n)
            return RPO_ERR_SIZE;
    }
    return RPO_OK;
}

int rpo_validate_call(const rpo_call *call, int weighting)
{
    const int empty = call->m == 0 || call->n == 0;
    int status = check_pointers(call, weighting, empty);
    if (status == RPO_OK)
        status = check_sizes(call, weighting, empty);
    return status;
}

int rpo_validate_settings(const rpo_call *call, int weighting, int loss,
                          double label_smoothing)
{
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_OK;
    /* EXO's KL against (1 - eps, eps) is infinite for eps = 0; TRL refuses
     * it too rather than guess a value. An objective checked its own
     * terms (objective.c). */
    if (call->objective == NULL && loss == RPO_LOSS_EXO_PAIR && label_smoothing == 0.0)
        return RPO_ERR_PARAM;
    if (call->kind == RPO_CALL_LOSS && weighting == RPO_WEIGHTING_SINKHORN &&
        (call->rows || rpo_call_wants_emb_grad(call)))
        return RPO_ERR_UNSUPPORTED;
    return RPO_OK;
}
