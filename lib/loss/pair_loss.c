/* TRL's per-pair losses and their derivatives, overflow-free. */
#include <math.h>
#include <stddef.h>

#include "numerics.h"
#include "pair_loss.h"
#include "rpo.h"

rpo_pair_loss rpo_pair_loss_make(int loss, double beta, double eps, double tau)
{
    rpo_pair_loss p;
    p.loss = loss;
    p.beta = beta;
    p.eps = eps;
    p.tau = tau;
    /* 0.5 / beta is infinite only for beta below ~2.8e-309; IPO and
     * SPPO_HARD then have an infinite loss, which the range check reports. */
    p.half_inv_beta = 0.5 / beta;
    p.robust_scale = 1.0 / (1.0 - 2.0 * eps);   /* eps < 0.5 by its bounds */
    p.exo_log_keep = log1p(-eps);
    p.exo_log_flip = log(eps);                   /* -inf for eps = 0: the
                                                    engine refuses EXO then */
    p.log_tau = log(tau);
    p.margin = 0.0;
    return p;
}

/* softplus and sigmoid of u and of -u from one t = exp(-|u|), as in
 * numerics.h: both softplus values share log1p(t) and both sigmoids the
 * reciprocal 1 / (1 + t), so this costs one exp, one log1p, one division:
 *   softplus(-u) = max(-u, 0) + log1p(t)   softplus(u) = max(u, 0) + log1p(t)
 *   sigmoid of the side u points to = 1 / (1 + t), of the other = t / (1 + t) */
typedef struct logistic {
    double sp_neg;  /* softplus(-u) = -log sigmoid(u)  */
    double sp_pos;  /* softplus(u)  = -log sigmoid(-u) */
    double sig_neg; /* sigmoid(-u) */
    double sig_pos; /* sigmoid(u)  */
} logistic;

static logistic logistic_of(double u)
{
    const double t = rpo_exp_neg_abs(u);
    const double l1 = log1p(t);
    const double big = 1.0 / (1.0 + t), small = t * big;
    logistic l;
    l.sp_neg = (u < 0.0 ? -u : 0.0) + l1;
    l.sp_pos = (u > 0.0 ? u : 0.0) + l1;
    l.sig_pos = u >= 0.0 ? big : small;
    l.sig_neg = u >= 0.0 ? small : big;
    return l;
}

/* Losses of x = beta (a - b) alone: value and df/dx. */
static double sigmoid_loss(const rpo_pair_loss *p, double x, double *dfdx)
{
    const logistic l = logistic_of(x);
    *dfdx = -(1.0 - p->eps) * l.sig_neg + p->eps * l.sig_pos;
    return (1.0 - p->eps) * l.sp_neg + p->eps * l.sp_pos;
}

/* ORPO's odds-ratio term beta sp(-u) of the log-odds difference u (beta
 * is ORPO's lambda: it weighs the term, it does not scale u). */
static double orpo_loss(const rpo_pair_loss *p, double u, double *dfdu)
{
    const logistic l = logistic_of(u);
    *dfdu = -p->beta * l.sig_neg;
    return p->beta * l.sp_neg;
}

static double hinge_loss(double x, double *dfdx)
{
    const double margin = 1.0 - x;
    /* relu's derivative at 0 is 0, as in torch */
    *dfdx = margin > 0.0 ? -1.0 : 0.0;
    return margin > 0.0 ? margin : 0.0;
}

static double robust_loss(const rpo_pair_loss *p, double x, double *dfdx)
{
    const logistic l = logistic_of(x);
    *dfdx = (-(1.0 - p->eps) * l.sig_neg - p->eps * l.sig_pos) * p->robust_scale;
    return ((1.0 - p->eps) * l.sp_neg - p->eps * l.sp_pos) * p->robust_scale;
}

/* KL(Bernoulli(q) || Bernoulli(1 - eps)) with q = sigmoid(x). log q and
 * log(1 - q) are -softplus(-x) and -softplus(x), and dq/dx = q (1 - q),
 * which makes df/dx = q (1 - q) (x - log(1 - eps) + log eps). */
static double exo_loss(const rpo_pair_loss *p, double x, double *dfdx)
{
    const logistic l = logistic_of(x);
    *dfdx = l.sig_pos * l.sig_neg * (x - p->exo_log_keep + p->exo_log_flip);
    return l.sig_pos * (-l.sp_neg - p->exo_log_keep) +
           l.sig_neg * (-l.sp_pos - p->exo_log_flip);
}

/* sp(-x) sigmoid(-x/tau) + exp(-x) sigmoid(x/tau); dfdx may be NULL. Every product of a
 * possibly huge and a possibly tiny factor is taken as one exp of a sum of
 * logs, so exp(-x) never overflows while its weight vanishes:
 *   exp(-x) sigmoid(y)              = exp(-x - sp(-y))              y = x/tau
 *   sigmoid(y) sigmoid(-y) / tau    = exp(-sp(-y) - sp(y) - log tau)
 *   exp(-x) sigmoid(y) sigmoid(-y)/tau = exp(-x - sp(-y) - sp(y) - log tau) */
static double discopop_loss(const rpo_pair_loss *p, double x, double *dfdx)
{
    const logistic lx = logistic_of(x);
    const logistic ly = logistic_of(x / p->tau);
    const double exp_part = exp(-x - ly.sp_neg);
    if (dfdx != NULL) { /* two more exps, paid only for gradients */
        const double mix_slope = exp(-ly.sp_neg - ly.sp_pos - p->log_tau);
        const double exp_slope = exp(-x - ly.sp_neg - ly.sp_pos - p->log_tau);
        *dfdx = -lx.sig_neg * ly.sig_neg - lx.sp_neg * mix_slope - exp_part +
                exp_slope;
    }
    return lx.sp_neg * ly.sig_neg + exp_part;
}

/* Losses of the two rewards separately. */
static double bco_loss(const rpo_pair_loss *p, double a, double b,
                       double *fa, double *fb)
{
    const logistic la = logistic_of(p->beta * a);
    const logistic lb = logistic_of(p->beta * b);
    *fa = -p->beta * la.sig_neg;
    *fb = p->beta * lb.sig_pos;
    return la.sp_neg + lb.sp_pos;
}

static double nca_loss(const rpo_pair_loss *p, double a, double b,
                       double *fa, double *fb)
{
    const logistic la = logistic_of(p->beta * a);
    const logistic lb = logistic_of(p->beta * b);
    *fa = p->beta * (-la.sig_neg + 0.5 * la.sig_pos);
    *fb = 0.5 * p->beta * lb.sig_pos;
    return la.sp_neg + 0.5 * la.sp_pos + 0.5 * lb.sp_pos;
}

static double sppo_loss(const rpo_pair_loss *p, double a, double b,
                        double *fa, double *fb)
{
    const double ra = a - p->half_inv_beta;
    const double rb = b + p->half_inv_beta;
    *fa = 2.0 * ra;
    *fb = 2.0 * rb;
    return ra * ra + rb * rb;
}

static double apo_zero_loss(const rpo_pair_loss *p, double a, double b,
                            double *fa, double *fb)
{
    const logistic la = logistic_of(p->beta * a);
    const logistic lb = logistic_of(p->beta * b);
    *fa = -p->beta * la.sig_pos * la.sig_neg;
    *fb = p->beta * lb.sig_pos * lb.sig_neg;
    return la.sig_neg + lb.sig_pos;
}

static double apo_down_loss(const rpo_pair_loss *p, double a, double x,
                            double *fa, double *fb)
{
    const logistic la = logistic_of(p->beta * a);
    const logistic lx = logistic_of(x);
    const double slope_x = p->beta * lx.sig_pos * lx.sig_neg;
    *fa = p->beta * la.sig_pos * la.sig_neg - slope_x;
    *fb = slope_x;
    return la.sig_pos + lx.sig_neg;
}

/* 1 for the losses that read the two rewards (scaled log-ratios) apart,
 * 0 for those of the difference alone. */
static int reads_rewards(int loss)
{
    switch (loss) {
    case RPO_LOSS_BCO_PAIR:
    case RPO_LOSS_SPPO_HARD:
    case RPO_LOSS_NCA_PAIR:
    case RPO_LOSS_APO_ZERO:
    case RPO_LOSS_APO_DOWN:
        return 1;
    default:
        return 0;
    }
}

double rpo_pair_loss_eval(const rpo_pair_loss *p, double s, double a, double b,
                         double *fa, double *fb)
{
    double ga = 0.0, gb = 0.0, f;
    double dfdx = 0.0;  /* for the losses of x = beta (a - b) alone */
    int of_x = 1;
    /* beta first: beta (a - b) is what the loss reads, so it stays finite
     * whenever the scaled x is, also when s (a - b) alone would not be */
    const double x = p->beta * (a - b) * s;
    if (reads_rewards(p->loss)) {
        a *= s;
        b *= s;
    }
    switch (p->loss) {
    case RPO_LOSS_HINGE:
        f = hinge_loss(x, &dfdx);
        break;
    case RPO_LOSS_IPO: {
        /* IPO reads the raw log-ratio difference, not beta times it */
        const double r = s * (a - b) - p->half_inv_beta;
        f = r * r;
        ga = 2.0 * r;
        gb = -ga;
        of_x = 0;
        break;
    }
    case RPO_LOSS_ROBUST:
        f = robust_loss(p, x, &dfdx);
        break;
    case RPO_LOSS_EXO_PAIR:
        f = exo_loss(p, x, &dfdx);
        break;
    case RPO_LOSS_BCO_PAIR:
        f = bco_loss(p, a, b, &ga, &gb);
        of_x = 0;
        break;
    case RPO_LOSS_SPPO_HARD:
        f = sppo_loss(p, a, b, &ga, &gb);
        of_x = 0;
        break;
    case RPO_LOSS_NCA_PAIR:
        f = nca_loss(p, a, b, &ga, &gb);
        of_x = 0;
        break;
    case RPO_LOSS_APO_ZERO:
        f = apo_zero_loss(p, a, b, &ga, &gb);
        of_x = 0;
        break;
    case RPO_LOSS_APO_DOWN:
        f = apo_down_loss(p, a, x, &ga, &gb);
        of_x = 0;
        break;
    case RPO_LOSS_DISCOPOP:
        f = discopop_loss(p, x, fa != NULL ? &dfdx : NULL);
        break;
    case RPO_LOSS_ORPO:
        f = orpo_loss(p, s * (a - b), &ga);
        gb = -ga;
        of_x = 0;
        break;
    default: /* RPO_LOSS_SIGMOID; x - 0 is x for the entry points of 1.2 */
        f = sigmoid_loss(p, x - p->margin, &dfdx);
        break;
    }
    if (of_x) {
        ga = p->beta * dfdx;
        gb = -ga;
    }
    if (fa != NULL) {
        *fa = ga;
        *fb = gb;
    }
    return f;
}
