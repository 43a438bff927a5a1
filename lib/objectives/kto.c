/*
 * KTO and APO_ZERO_UNPAIRED (objective.h): unpaired losses of each
 * sequence alone, against the constant kl, with no weight matrix. With
 * u_i = beta (a_i - kl), v_j = beta (kl - b_j) (kl = 0 for APO):
 *   KTO:  l_i = 1 - s(u_i) = s(-u_i),  dl_i/da_i = -beta s(u_i) s(-u_i)
 *         r_j = s(-v_j),               dr_j/db_j =  beta s(v_j) s(-v_j)
 *   APO:  l_i = s(-beta a_i)           (as KTO with kl = 0)
 *         r_j = s(beta b_j),           dr_j/db_j =  beta s(beta b_j) s(-beta b_j)
 * Both sigmoids of one argument come from one exp (numerics.h). The
 * derivatives of sequence k are multiplied by the reduction's factor, or
 * by its incoming gradient g_k (losses_grad). A row block is a subset of
 * the sequences: the same formulas, the mean taken over all blocks'.
 */
#include <string.h>

#include "numerics.h"
#include "objective.h"
#include "rpo.h"

static int finite(double x)
{
    return x - x == 0.0;
}

/* s(-u) into *low and s(u) into *high. */
static void sigmoids(double u, double *low, double *high)
{
    const double t = rpo_exp_neg_abs(u);
    *low = rpo_sigmoid_neg(u, t);
    *high = rpo_sigmoid_neg(-u, t);
}

static int check_finite(rpo_ctx *ctx, rpo_in x, size_t count, const char *name)
{
    if (x.data == NULL)
        return RPO_OK;
    for (size_t k = 0; k < count; k++)
        if (!finite(rpo_in_at(x, k)))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "%s[%zu] = %g", name, k,
                            rpo_in_at(x, k));
    return RPO_OK;
}

/* A row block's M + N sequences lie within the m_total of all blocks. */
static int check_block(rpo_ctx *ctx, const rpo_unpaired_call *c, size_t seqs)
{
    if (c->is_row_block && (c->row_offset > c->m_total || seqs > c->m_total - c->row_offset))
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "row_offset + m + n exceeds m_total, the sequences of "
                        "all blocks (row_offset = %zu, m + n = %zu, m_total = %zu)",
                        c->row_offset, seqs, c->m_total);
    return RPO_OK;
}

static int check_pointers(rpo_ctx *ctx, const rpo_objective *o,
                          const rpo_unpaired_call *c, int reads_kl)
{
    if (c->m > 0 && c->policy_chosen.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "policy_chosen is NULL, m = %zu", c->m);
    if (c->n > 0 && c->policy_rejected.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "policy_rejected is NULL, n = %zu", c->n);
    if (reads_kl && o->kl.data == NULL && o->k > 0 && o->policy_kl.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "KTO needs policy_kl (k = %zu) or kl", o->k);
    return RPO_OK;
}

static int check_values(rpo_ctx *ctx, const rpo_objective *o,
                        const rpo_unpaired_call *c, int reads_kl)
{
    int status = check_finite(ctx, c->policy_chosen, c->m, "policy_chosen");
    if (status == RPO_OK)
        status = check_finite(ctx, c->ref_chosen, c->m, "ref_chosen");
    if (status == RPO_OK)
        status = check_finite(ctx, c->policy_rejected, c->n, "policy_rejected");
    if (status == RPO_OK)
        status = check_finite(ctx, c->ref_rejected, c->n, "ref_rejected");
    if (status == RPO_OK && reads_kl && o->kl.data != NULL)
        status = check_finite(ctx, o->kl, 1, "kl");
    if (status == RPO_OK && reads_kl && o->kl.data == NULL) {
        status = check_finite(ctx, o->policy_kl, o->k, "policy_kl");
        if (status == RPO_OK)
            status = check_finite(ctx, o->ref_kl, o->k, "ref_kl");
    }
    if (status == RPO_OK)
        status = rpo_objective_check_values(ctx, o, c->policy_chosen, c->m,
                                            c->policy_rejected, c->n);
    return status;
}

/* max(0, the caller's kl or the mean over the KL pairs), as TRL clamps it.
 * The clamp is taken once, on the whole estimate: a row block is given the
 * gathered unclamped mean (the clamped means of blocks do not add up). */
static double kl_estimate(const rpo_objective *o)
{
    double kl = 0.0;
    if (o->kl.data != NULL) {
        kl = rpo_in_at(o->kl, 0);
    } else if (o->k > 0) {
        for (size_t k = 0; k < o->k; k++)
            kl += rpo_in_at(o->policy_kl, k) -
                  (o->ref_kl.data != NULL ? rpo_in_at(o->ref_kl, k) : 0.0);
        kl /= (double)o->k;
    }
    return kl > 0.0 ? kl : 0.0;
}

static double log_ratio(rpo_in policy, rpo_in ref, size_t k)
{
    return rpo_in_at(policy, k) - (ref.data != NULL ? rpo_in_at(ref, k) : 0.0);
}

static double weight_at(rpo_in w, size_t k)
{
    return w.data != NULL ? rpo_in_at(w, k) : 1.0;
}

static int fits(rpo_out out, const double *x, size_t count)
{
    return out.data == NULL || rpo_out_fits(out.type, x, count);
}

int rpo_unpaired_run(rpo_ctx *ctx, const rpo_config *cfg, const rpo_objective *o,
                     const rpo_unpaired_call *c)
{
    const int kto = o->unpaired == RPO_LOSS_KTO;
    int status = check_pointers(ctx, o, c, kto);
    if (status != RPO_OK)
        return status;
    /* sizes and memory before any input is read, as for every call */
    const size_t m = c->m, n = c->n, seqs = m + n;
    if (seqs < m)
        return rpo_fail(ctx, RPO_ERR_SIZE, "m + n overflows (m = %zu, n = %zu)", m, n);
    status = check_block(ctx, c, seqs);
    if (status != RPO_OK)
        return status;
    /* per sequence: losses, gradients, rewards, chosen first: 3 (M + N) */
    rpo_scratch_plan plan = {0};
    (void)rpo_scratch_add(&plan, 1, 1);  /* M + N == 0: still real regions */
    const size_t at_loss = rpo_scratch_add(&plan, seqs, sizeof(double));
    const size_t at_grad = rpo_scratch_add(&plan, seqs, sizeof(double));
    const size_t at_reward = rpo_scratch_add(&plan, seqs, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "scratch for %zu sequences", seqs);
    status = check_values(ctx, o, c, kto);
    if (status != RPO_OK)
        return status;
    double *losses = rpo_scratch_at(ctx, at_loss);
    double *grad = rpo_scratch_at(ctx, at_grad);
    double *reward = rpo_scratch_at(ctx, at_reward);

    const double beta = cfg->beta;
    const double kl = kto ? kl_estimate(o) : 0.0;
    const double wd = cfg->desirable_weight * o->unpaired_weight;
    const double wu = cfg->undesirable_weight * o->unpaired_weight;
    /* the mean is over the sequences of all blocks */
    const size_t seqs_total = c->is_row_block ? c->m_total : seqs;
    const double scale = cfg->reduction == RPO_REDUCTION_MEAN && seqs_total > 0
                             ? 1.0 / (double)seqs_total : 1.0;
    double total = 0.0, reward_chosen = 0.0, reward_rejected = 0.0;
    for (size_t i = 0; i < m; i++) {
        const double a = log_ratio(c->policy_chosen, c->ref_chosen, i);
        const double w = weight_at(o->chosen_weights, i) * wd;
        double low, high;
        sigmoids(beta * (a - kl), &low, &high);
        losses[i] = w * low;
        grad[i] = rpo_objective_row_factor(o, i, scale) * w * -beta * high * low;
        reward[i] = beta * a;
        total += losses[i];
        reward_chosen += reward[i];
    }
    for (size_t j = 0; j < n; j++) {
        const double b = log_ratio(c->policy_rejected, c->ref_rejected, j);
        const double w = weight_at(o->rejected_weights, j) * wu;
        double low, high;
        /* KTO's r = s(-beta (kl - b)), APO's r = s(beta b): one argument */
        sigmoids(kto ? beta * (kl - b) : -beta * b, &low, &high);
        losses[m + j] = w * low;
        grad[m + j] = rpo_objective_row_factor(o, m + j, scale) * w * beta * high * low;
        reward[m + j] = beta * b;
        total += losses[m + j];
        reward_rejected += reward[m + j];
    }
    const double loss = scale * total;

    /* a block's statistics are sums that add up across blocks: its loss
     * share, and its reward sums (the whole call's means once divided by
     * the global M and N); KTO has no margin or accuracy */
    double partial[RPO_PARTIAL_COUNT] = {0};
    partial[RPO_PARTIAL_LOSS] = loss;
    partial[RPO_PARTIAL_REWARD_CHOSEN] = reward_chosen;
    partial[RPO_PARTIAL_REWARD_REJECTED] = reward_rejected;
    if (!finite(loss) || !finite(reward_chosen) || !finite(reward_rejected) ||
        !fits(c->loss, &loss, 1) || !fits(c->partial_stats, partial, RPO_PARTIAL_COUNT) ||
        !fits(c->grad_chosen, grad, m) ||
        !fits(c->grad_rejected, grad + m, n) || !fits(c->losses, losses, seqs) ||
        !fits(c->chosen_rewards, reward, m) || !fits(c->rejected_rewards, reward + m, n))
        return rpo_fail(ctx, RPO_ERR_RANGE, "a result does not fit the output type");

    if (c->loss.data != NULL && !c->is_row_block)
        rpo_out_store(c->loss, 0, &loss, 1);
    if (c->partial_stats.data != NULL)
        rpo_out_store(c->partial_stats, 0, partial, RPO_PARTIAL_COUNT);
    if (c->grad_chosen.data != NULL)
        rpo_out_store(c->grad_chosen, 0, grad, m);
    if (c->grad_rejected.data != NULL)
        rpo_out_store(c->grad_rejected, 0, grad + m, n);
    if (c->losses.data != NULL)
        rpo_out_store(c->losses, 0, losses, seqs);
    if (c->chosen_rewards.data != NULL)
        rpo_out_store(c->chosen_rewards, 0, reward, m);
    if (c->rejected_rewards.data != NULL)
        rpo_out_store(c->rejected_rewards, 0, reward + m, n);
    if (c->is_row_block)
        return RPO_OK;   /* a row block leaves the metrics alone */
    memset(&ctx->last, 0, sizeof ctx->last);
    ctx->last.loss = c->loss.data != NULL ? loss : 0.0;
    ctx->last.reward_chosen = m > 0 ? reward_chosen / (double)m : 0.0;
    ctx->last.reward_rejected = n > 0 ? reward_rejected / (double)n : 0.0;
    ctx->last.logps_chosen = rpo_in_mean(c->policy_chosen, m);
    ctx->last.logps_rejected = rpo_in_mean(c->policy_rejected, n);
    ctx->last.kl = kl;
    return RPO_OK;
}
