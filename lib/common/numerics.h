/*
 * Overflow-free elementary functions of the loss.
 *
 * For a pair with scaled contrast u (u = beta*z, or beta*W*z in logit
 * placement) the loss needs softplus(-u) = -log sigmoid(u) and the gradient
 * needs sigmoid(-u). Both come from the single t = exp(-|u|) in (0, 1],
 * which never overflows:
 *
 *     softplus(-u) = max(-u, 0) + log1p(t)
 *     sigmoid(-u)  = t / (1 + t)   if u >= 0
 *                  = 1 / (1 + t)   if u <  0
 *
 * For |u| = 1e30 this gives softplus = 1e30 or 0 and sigmoid = 1 or 0,
 * exactly the limits; no intermediate is ever larger than |u|.
 */
#ifndef RPO_NUMERICS_H
#define RPO_NUMERICS_H

#include <math.h>

/* exp(-|u|) */
static inline double rpo_exp_neg_abs(double u)
{
    return exp(-fabs(u));
}

/* softplus(-u) given t = exp(-|u|). */
static inline double rpo_softplus_neg(double u, double t)
{
    return (u < 0.0 ? -u : 0.0) + log1p(t);
}

/* sigmoid(-u) given t = exp(-|u|). */
static inline double rpo_sigmoid_neg(double u, double t)
{
    return (u >= 0.0 ? t : 1.0) / (1.0 + t);
}

#endif /* RPO_NUMERICS_H */
