/*
 * An independent long-double implementation of SPEC section 1, written
 * straight from the formulas (materialising W and z, no streaming, no
 * shared code with lib/), used as the second formulation by the tests.
 */
#ifndef RPO_TEST_REFERENCE_H
#define RPO_TEST_REFERENCE_H

#include <stddef.h>

typedef struct ref_problem {
    int weighting, placement, reduction;   /* placement AUTO resolved inside */
    double beta, tau, alpha;
    size_t m, n, d;
    const double *pc, *rc, *pr, *rr;       /* rc, rr may be NULL           */
    const double *ce, *re;                 /* re NULL: paired              */
    const double *w;                       /* non-NULL: caller's W         */
} ref_problem;

typedef struct ref_result {
    long double loss;
    long double *grad_chosen, *grad_rejected;  /* (m), (n), caller-owned */
    long double *weights;                      /* (m, n), caller-owned   */
    long double reward_chosen, reward_rejected, margin, accuracy;
} ref_result;

/* Fills r (its arrays allocated by the caller). */
void ref_compute(const ref_problem *p, ref_result *r);

#endif
