/* A term list's resolution, its value checks, scores and the SFT term. */
#include <float.h>
#include <math.h>

#include "numerics.h"
#include "objective.h"
#include "rpo.h"

static int finite(double x)
{
    return x - x == 0.0;
}

/* Loss types TRL defines on per-token averages read a / L (with lengths). */
static rpo_score_kind score_of(int loss)
{
    switch (loss) {
    case RPO_LOSS_IPO:
    case RPO_LOSS_SIGMOID_NORM:
        return RPO_SCORE_RATIO_MEAN;
    case RPO_LOSS_SIMPO:
        return RPO_SCORE_POLICY_MEAN;
    case RPO_LOSS_ORPO:
        return RPO_SCORE_LOG_ODDS;
    default:
        return RPO_SCORE_RATIO;
    }
}

/* SIGMOID_NORM and SIMPO are the sigmoid loss on other scores; the margin
 * gamma belongs to the three sigmoid terms only. */
static rpo_pair_loss pair_function(const rpo_config *cfg, int loss)
{
    const int sigmoid = loss == RPO_LOSS_SIGMOID || loss == RPO_LOSS_SIGMOID_NORM ||
                        loss == RPO_LOSS_SIMPO;
    rpo_pair_loss f = rpo_pair_loss_make(sigmoid ? RPO_LOSS_SIGMOID : loss,
                                       cfg->beta, cfg->label_smoothing,
                                       cfg->discopop_tau);
    if (sigmoid)
        f.margin = cfg->simpo_gamma;
    return f;
}

static int add_term(rpo_ctx *ctx, const rpo_config *cfg, rpo_objective *o,
                    size_t list_length, size_t index, int loss, double weight)
{
    if (loss < 0 || loss > RPO_LOSS_APO_ZERO_UNPAIRED)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "term_losses[%zu] = %d is not an RPO_LOSS_* value",
                        index, loss);
    if (!finite(weight))
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "term_weights[%zu] = %g must be finite", index, weight);
    if (loss == RPO_LOSS_KTO || loss == RPO_LOSS_APO_ZERO_UNPAIRED) {
        if (list_length > 1)
            return rpo_fail(ctx, RPO_ERR_PARAM,
                            "term_losses[%zu] = %d (unpaired) must be the only "
                            "term (terms = %zu)", index, loss, list_length);
        o->unpaired = loss;
        o->unpaired_weight = weight;
        return RPO_OK;
    }
    if (loss == RPO_LOSS_EXO_PAIR && cfg->label_smoothing == 0.0)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "EXO_PAIR (term %zu) needs label smoothing > 0", index);
    if (loss == RPO_LOSS_SFT) {
        o->has_sft = 1;
        o->sft_weight = weight;
        return RPO_OK;
    }
    o->pair[o->terms] = pair_function(cfg, loss);
    o->score[o->terms] = score_of(loss);
    o->weight[o->terms] = weight;
    o->terms++;
    return RPO_OK;
}

int rpo_objective_resolve(rpo_ctx *ctx, const rpo_config *cfg, size_t terms,
                          const int *term_losses, const double *term_weights,
                          rpo_dtype type, rpo_objective *o)
{
    rpo_objective zero = {0};
    *o = zero;
    o->fdiv = cfg->f_divergence;
    o->f_alpha = o->fdiv == RPO_FDIV_FORWARD_KL ? 1.0 : cfg->f_alpha;
    o->exp_cap = type == RPO_F32 ? log((double)FLT_MAX) : log(DBL_MAX);
    if (terms == 0)
        return add_term(ctx, cfg, o, 1, 0, cfg->loss, 1.0);
    if (terms > RPO_MAX_TERMS)
        return rpo_fail(ctx, RPO_ERR_SIZE, "terms = %zu exceeds RPO_MAX_TERMS = %d",
                        terms, RPO_MAX_TERMS);
    if (term_losses == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "term_losses is NULL with terms = %zu", terms);
    unsigned seen = 0;
    for (size_t t = 0; t < terms; t++) {
        const int loss = term_losses[t];
        const double weight = term_weights != NULL ? term_weights[t] : 1.0;
        if (loss >= 0 && loss <= RPO_LOSS_APO_ZERO_UNPAIRED) {
            if (seen & (1u << loss))
                return rpo_fail(ctx, RPO_ERR_PARAM,
                                "term_losses[%zu] = %d appears twice", t, loss);
            seen |= 1u << loss;
        }
        int status = add_term(ctx, cfg, o, terms, t, loss, weight);
        if (status != RPO_OK)
            return status;
    }
    return RPO_OK;
}

int rpo_objective_fast(const rpo_objective *o)
{
    return o->terms == 1 && o->pair[0].loss == RPO_LOSS_SIGMOID &&
           o->pair[0].margin == 0.0 &&
           (o->fdiv == RPO_FDIV_REVERSE_KL || o->score[0] == RPO_SCORE_POLICY_MEAN);
}

static int uses_orpo(const rpo_objective *o)
{
    for (size_t t = 0; t < o->terms; t++)
        if (o->score[t] == RPO_SCORE_LOG_ODDS)
            return 1;
    return 0;
}

/* A weight: finite and >= 0. A token count: finite and > 0, since an
 * empty completion carries no learning signal (TRL drops such examples
 * before training; rpo.h). */
static int check_values_of(rpo_ctx *ctx, rpo_in x, size_t count, const char *name,
                           int count_of_tokens)
{
    if (x.data == NULL)
        return RPO_OK;
    for (size_t k = 0; k < count; k++) {
        const double v = rpo_in_at(x, k);
        if (!finite(v))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "%s[%zu] = %g", name, k, v);
        if (count_of_tokens && !(v > 0.0))
            return rpo_fail(ctx, RPO_ERR_PARAM,
                            "%s[%zu] = %g must be > 0 (a completion's token count)",
                            name, k, v);
        if (v < 0.0)
            return rpo_fail(ctx, RPO_ERR_PARAM, "%s[%zu] = %g must be >= 0",
                            name, k, v);
    }
    return RPO_OK;
}

/* A length that divides: at least 1, as TRL clamps it (only a fractional
 * count below 1 needs it); 1 when absent. */
static double divisor(rpo_in lengths, size_t k)
{
    if (lengths.data == NULL)
        return 1.0;
    const double l = rpo_in_at(lengths, k);
    return l > 1.0 ? l : 1.0;
}

/* ORPO's log(1 - exp(x)) needs x < 0: a probability below 1. */
static int check_log_odds_domain(rpo_ctx *ctx, rpo_in policy, rpo_in lengths,
                                 size_t count, const char *name)
{
    for (size_t k = 0; k < count; k++) {
        const double x = rpo_in_at(policy, k) / divisor(lengths, k);
        if (!(x < 0.0))
            return rpo_fail(ctx, RPO_ERR_RANGE,
                            "ORPO's log-odds need a log-prob < 0, but %s[%zu] "
                            "per token is %g", name, k, x);
    }
    return RPO_OK;
}

int rpo_objective_check_values(rpo_ctx *ctx, const rpo_objective *o,
                               rpo_in policy_chosen, size_t m,
                               rpo_in policy_rejected, size_t n)
{
    int status = check_values_of(ctx, o->chosen_lengths, m, "chosen_lengths", 1);
    if (status == RPO_OK)
        status = check_values_of(ctx, o->rejected_lengths, n, "rejected_lengths", 1);
    if (status == RPO_OK)
        status = check_values_of(ctx, o->chosen_weights, m, "chosen_weights", 0);
    if (status == RPO_OK)
        status = check_values_of(ctx, o->rejected_weights, n, "rejected_weights", 0);
    if (status == RPO_OK && o->losses_grad.data != NULL) {
        /* one incoming gradient per entry of results.losses */
        const size_t rows = o->unpaired ? m + n : m;
        for (size_t k = 0; k < rows && status == RPO_OK; k++) {
            const double g = rpo_in_at(o->losses_grad, k);
            if (!finite(g))
                status = rpo_fail(ctx, RPO_ERR_NONFINITE, "losses_grad[%zu] = %g",
                                  k, g);
        }
    }
    if (status == RPO_OK && o->has_sft && o->sft_tokens.data != NULL) {
        const double t = rpo_in_at(o->sft_tokens, 0);
        if (!finite(t))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "sft_tokens = %g", t);
        if (!(t >= 1.0))
            return rpo_fail(ctx, RPO_ERR_PARAM, "sft_tokens = %g must be >= 1", t);
    }
    if (status != RPO_OK || !uses_orpo(o) || m == 0 || n == 0)
        return status;
    status = check_log_odds_domain(ctx, policy_chosen, o->chosen_lengths, m,
                                   "policy_chosen");
    if (status == RPO_OK)
        status = check_log_odds_domain(ctx, policy_rejected, o->rejected_lengths,
                                       n, "policy_rejected");
    return status;
}

/* The f-divergence's score g(a) and g'(a) (rpo.h, RPO_FDIV_*). */
static double fdiv_score(const rpo_objective *o, double a, double *slope)
{
    switch (o->fdiv) {
    case RPO_FDIV_JS: {
        /* logsigmoid(a) = -softplus(-a); its slope sigmoid(-a) */
        const double t = rpo_exp_neg_abs(a);
        *slope = rpo_sigmoid_neg(a, t);
        return -rpo_softplus_neg(a, t);
    }
    case RPO_FDIV_FORWARD_KL:
    case RPO_FDIV_ALPHA: {
        /* TRL's cap_exp clamps the exponent, whose gradient then stops */
        double e = -o->f_alpha * a;
        *slope = 1.0;
        if (e > o->exp_cap) {
            e = o->exp_cap;
            *slope = 0.0;
        }
        const double ex = exp(e);
        *slope *= ex;
        return -ex / o->f_alpha;
    }
    default: /* RPO_FDIV_REVERSE_KL */
        *slope = 1.0;
        return a;
    }
}

/* log(1 - exp(x)) for x < 0, each branch where it keeps its digits. */
#define LN2 0.69314718055994530942
static double log1m_exp(double x)
{
    return x > -LN2 ? log(-expm1(x)) : log1p(-exp(x));
}

void rpo_objective_scores(const rpo_objective *o, rpo_in policy, const double *ratio,
                          rpo_in lengths, size_t count, double *s, double *ds)
{
    for (size_t t = 0; t < o->terms; t++) {
        double *st = s + t * count, *dst = ds + t * count;
        for (size_t k = 0; k < count; k++) {
            const double len = divisor(lengths, k);
            double slope = 1.0;
            switch (o->score[t]) {
            case RPO_SCORE_RATIO_MEAN:
                st[k] = fdiv_score(o, ratio[k] / len, &slope);
                dst[k] = slope / len;
                break;
            case RPO_SCORE_POLICY_MEAN:
                st[k] = rpo_in_at(policy, k) / len;
                dst[k] = 1.0 / len;
                break;
            case RPO_SCORE_LOG_ODDS: {
                /* lo(x) = x - log(1 - e^x), lo'(x) = 1 / (1 - e^x) */
                const double x = rpo_in_at(policy, k) / len;
                st[k] = x - log1m_exp(x);
                dst[k] = -1.0 / expm1(x) / len;
                break;
            }
            default: /* RPO_SCORE_RATIO */
                st[k] = fdiv_score(o, ratio[k], &slope);
                dst[k] = slope;
                break;
            }
        }
    }
}

void rpo_objective_sample_weights(rpo_in weights, size_t count, double *out)
{
    for (size_t k = 0; k < count; k++)
        out[k] = weights.data != NULL ? rpo_in_at(weights, k) : 1.0;
}

void rpo_objective_add_sft(const rpo_objective *o, rpo_in policy_chosen,
                           size_t m, size_t m_total, int sum, double *loss,
                           double *grad, double *row_loss)
{
    if (!o->has_sft || m == 0)
        return;
    double tokens = 0.0, nll = 0.0;
    for (size_t i = 0; i < m; i++) {
        const double wc = o->chosen_weights.data ? rpo_in_at(o->chosen_weights, i) : 1.0;
        tokens += divisor(o->chosen_lengths, i);
        nll -= wc * rpo_in_at(policy_chosen, i);
    }
    /* a row block divides its share by the tokens of all blocks */
    if (o->sft_tokens.data != NULL)
        tokens = rpo_in_at(o->sft_tokens, 0);
    const double scale = sum ? (double)m_total : 1.0;
    *loss += scale * o->sft_weight * (nll / tokens);
    for (size_t i = 0; i < m; i++) {
        const double wc = o->chosen_weights.data ? rpo_in_at(o->chosen_weights, i) : 1.0;
        /* row i's loss is m_total times its share of the reduced SFT */
        const double factor = o->losses_grad.data != NULL
                                  ? rpo_in_at(o->losses_grad, i) * (double)m_total
                                  : scale;
        if (grad != NULL)
            grad[i] += factor * o->sft_weight * (-wc / tokens);
        if (row_loss != NULL)
            row_loss[i] += o->sft_weight *
                           ((double)m_total * -wc * rpo_in_at(policy_chosen, i) / tokens);
    }
}
