/*
 * The per-pair functions of the loss family (RPO_LOSS_*, TRL's loss_type
 * vocabulary): f(a, b) of a chosen log-ratio a and a rejected log-ratio b,
 * with its partial derivatives, each evaluated in a form that never
 * overflows in an intermediate (docs/extensions.md derives every one).
 *
 * The functions are evaluated at (s a, s b) for a scale s: in LOGIT
 * placement s = k W_ij (k the logit scale), in LOSS placement s = 1. The
 * losses of the difference alone form beta (a - b) s, as the core forms
 * beta W z: two huge log-ratios never make inf - inf, and x is finite
 * whenever its value is.
 */
#ifndef RPO_PAIR_LOSS_H
#define RPO_PAIR_LOSS_H

/* One member of the family with its constants, prepared once per call. */
typedef struct rpo_pair_loss {
    int loss;            /* RPO_LOSS_*                                   */
    double beta;
    double eps;          /* label smoothing (SIGMOID, ROBUST, EXO_PAIR)  */
    double tau;          /* DISCOPOP's temperature                       */
    double half_inv_beta;/* 1/(2 beta) of IPO and SPPO_HARD (may be inf) */
    double robust_scale; /* 1/(1 - 2 eps)                                */
    double exo_log_keep; /* log(1 - eps)                                 */
    double exo_log_flip; /* log(eps)                                     */
    double log_tau;      /* log(tau)                                     */
    double margin;       /* gamma of SIGMOID: sp(-(x - gamma)); 0 unless
                            an objective sets it (rpo_objective_*)       */
} rpo_pair_loss;

/* The family member `loss` with its constants (margin 0). Besides
 * RPO_LOSS_*, RPO_LOSS_ORPO: beta sp(-(a - b)) of two log-odds. */
rpo_pair_loss rpo_pair_loss_make(int loss, double beta, double eps, double tau);

/* f(s a, s b) and, when fa is not NULL, its partials *fa and *fb with
 * respect to its first and second argument (the chain rule's factor s is
 * the caller's). Finite for finite inputs unless the value itself exceeds
 * the double range (IPO and SPPO_HARD square their input; DISCOPOP with
 * tau > 1 grows like exp(|x| (1 - 1/tau)) for x -> -inf). */
double rpo_pair_loss_eval(const rpo_pair_loss *p, double s, double a, double b,
                         double *fa, double *fb);

#endif /* RPO_PAIR_LOSS_H */
