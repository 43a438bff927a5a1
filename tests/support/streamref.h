/*
 * A second independent recomputation of SPEC section 1, for the hardening
 * suites (numerical edges, large shapes), beside reference.c (which
 * materialises W and z whole). This one is built for range and scale: it
 * streams W a row at a time (O(N) memory, so the 4096 x 4096 cases fit)
 * and normalises prompt rows after dividing by their largest entry (rows
 * near DBL_MAX). Its elementary functions are the suites' oracle
 * (oracle.h, which says why they are libm's double ones); products,
 * differences and every sum run in long double. It shares no code and no
 * formulation tricks with lib/: the weights come from a log-sum-exp over
 * -dist/tau.
 *
 * Everything is static inline so each suite includes it on its own.
 */
#ifndef RPO_TEST_STREAMREF_H
#define RPO_TEST_STREAMREF_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "rpo.h"

/* One problem, inputs as doubles (float32 suites widen theirs first). */
typedef struct sref_problem {
    int weighting;            /* RPO_WEIGHTING_*                             */
    int placement;            /* RPO_PLACEMENT_*, AUTO resolved here         */
    int reduction;            /* RPO_REDUCTION_*                             */
    double beta, tau, alpha;
    size_t m, n, d;
    const double *pc, *rc;    /* (M); rc NULL = reference-free               */
    const double *pr, *rr;    /* (N); rr NULL = reference-free               */
    const double *e, *f;      /* (M, D), (N, D); f NULL = paired (f = e)     */
    const double *w;          /* (M, N) caller weights, or NULL              */
} sref_problem;

typedef struct sref_result {
    long double loss;
    long double *grad_chosen;     /* (M), allocated by sref_compute */
    long double *grad_rejected;   /* (N)                           */
    long double reward_chosen, reward_rejected, margin, accuracy;
    /* The same sums over magnitudes: the scale a metric's rounding error is
     * relative to when its terms cancel. */
    long double reward_chosen_scale, reward_rejected_scale, margin_scale;
} sref_result;

static inline int sref_logit_placement(const sref_problem *p)
{
    if (p->placement != RPO_PLACEMENT_AUTO)
        return p->placement == RPO_PLACEMENT_LOGIT;
    return p->w == NULL && p->weighting == RPO_WEIGHTING_EMBEDDING;
}

/* Rows of x (rows, d) scaled to unit length, with the reference's clamp:
 * a row shorter than 1e-12 is divided by 1e-12 instead. Each row is first
 * divided by its largest magnitude so that no square overflows or vanishes
 * even where long double has only double's range (valgrind). */
static inline long double *sref_unit_rows(const double *x, size_t rows, size_t d)
{
    long double *u = malloc((rows * d != 0 ? rows * d : 1) * sizeof *u);
    if (u == NULL)
        return NULL;
    for (size_t i = 0; i < rows; i++) {
        const double *xi = x + i * d;
        long double amax = 0.0L, ss = 0.0L;
        for (size_t k = 0; k < d; k++)
            if (fabsl((long double)xi[k]) > amax)
                amax = fabsl((long double)xi[k]);
        for (size_t k = 0; k < d; k++) {
            long double q = amax > 0.0L ? (long double)xi[k] / amax : 0.0L;
            u[i * d + k] = q;
            ss += q * q;
        }
        /* norm = amax * sqrt(ss); the clamp compares without forming it */
        long double root = sqrtl(ss);
        int clamped = amax == 0.0L || amax < 1e-12L / root;
        for (size_t k = 0; k < d; k++)
            u[i * d + k] = clamped ? (long double)xi[k] / 1e-12L
                                   : u[i * d + k] / root;
    }
    return u;
}

/* Row i of W into row (N), given unit rows eu, fu for EMBEDDING. */
static inline void sref_weight_row(const sref_problem *p, size_t i,
                                  const long double *eu, const long double *fu,
                                  long double *row)
{
    const size_t n = p->n, d = p->d;
    if (p->w != NULL) {
        for (size_t j = 0; j < n; j++)
            row[j] = (long double)p->w[i * n + j];
        return;
    }
    switch (p->weighting) {
    case RPO_WEIGHTING_UNIFORM:
        for (size_t j = 0; j < n; j++)
            row[j] = 1.0L / (long double)n;
        return;
    case RPO_WEIGHTING_DIAGONAL:
        for (size_t j = 0; j < n; j++) {
            if (n == 1)
                row[j] = 1.0L;
            else
                row[j] = j == i ? (long double)p->alpha
                                : (1.0L - (long double)p->alpha) / (long double)(n - 1);
        }
        return;
    default: { /* EMBEDDING: W_ij = exp(s_ij - logsumexp_j s_ij) */
        long double top = -HUGE_VALL;
        for (size_t j = 0; j < n; j++) {
            long double cosine = 0.0L;
            for (size_t k = 0; k < d; k++)
                cosine += eu[i * d + k] * fu[j * d + k];
            row[j] = -(1.0L - cosine) / (long double)p->tau;
            if (row[j] > top)
                top = row[j];
        }
        long double total = 0.0L;
        for (size_t j = 0; j < n; j++)
            total += oracle_exp(row[j] - top);
        long double lse = top + oracle_log(total);
        for (size_t j = 0; j < n; j++)
            row[j] = oracle_exp(row[j] - lse);
        return;
    }
    }
}

/* Frees what sref_compute allocated. */
static inline void sref_free(sref_result *r)
{
    free(r->grad_chosen);
    free(r->grad_rejected);
    r->grad_chosen = r->grad_rejected = NULL;
}

/* The weight matrix (M, N) alone, for rpo_weights_*. Returns 0, or -1 when
 * memory ran out. */
static inline int sref_weights(const sref_problem *p, long double *w)
{
    long double *eu = NULL, *fu = NULL;
    if (p->w == NULL && p->weighting == RPO_WEIGHTING_EMBEDDING) {
        eu = sref_unit_rows(p->e, p->m, p->d);
        fu = p->f != NULL ? sref_unit_rows(p->f, p->n, p->d) : eu;
        if (eu == NULL || fu == NULL)
            return -1;
    }
    for (size_t i = 0; i < p->m; i++)
        sref_weight_row(p, i, eu, fu, w + i * p->n);
    if (fu != eu)
        free(fu);
    free(eu);
    return 0;
}

/* Loss, gradients and metrics of p, and when weights is not NULL the weight
 * matrix (M, N) too. Returns 0, or -1 when memory ran out. */
static inline int sref_compute_with_weights(const sref_problem *p, sref_result *r,
                                           long double *weights)
{
    const size_t m = p->m, n = p->n;
    const long double beta = (long double)p->beta;
    const int logit = sref_logit_placement(p);
    r->grad_chosen = calloc(m ? m : 1, sizeof *r->grad_chosen);
    r->grad_rejected = calloc(n ? n : 1, sizeof *r->grad_rejected);
    long double *a = malloc((m ? m : 1) * sizeof *a);
    long double *b = malloc((n ? n : 1) * sizeof *b);
    long double *row = malloc((n ? n : 1) * sizeof *row);
    long double *eu = NULL, *fu = NULL;
    if (p->w == NULL && p->weighting == RPO_WEIGHTING_EMBEDDING) {
        eu = sref_unit_rows(p->e, m, p->d);
        fu = p->f != NULL ? sref_unit_rows(p->f, n, p->d) : eu;
    }
    int ok = r->grad_chosen && r->grad_rejected && a && b && row &&
             (p->w != NULL || p->weighting != RPO_WEIGHTING_EMBEDDING || (eu && fu));

    long double loss = 0.0L, margin = 0.0L, accuracy = 0.0L;
    long double sum_a = 0.0L, sum_b = 0.0L;
    long double abs_margin = 0.0L, abs_a = 0.0L, abs_b = 0.0L;
    for (size_t i = 0; ok && i < m; i++) {
        a[i] = (long double)p->pc[i] - (p->rc ? (long double)p->rc[i] : 0.0L);
        sum_a += a[i];
        abs_a += fabsl(a[i]);
    }
    for (size_t j = 0; ok && j < n; j++) {
        b[j] = (long double)p->pr[j] - (p->rr ? (long double)p->rr[j] : 0.0L);
        sum_b += b[j];
        abs_b += fabsl(b[j]);
    }
    /* per-pair loss q_ij and dq_ij/dz_ij, before the 1/M (and 1/N) */
    for (size_t i = 0; ok && i < m; i++) {
        sref_weight_row(p, i, eu, fu, row);
        if (weights != NULL)
            memcpy(weights + i * n, row, n * sizeof *row);
        for (size_t j = 0; j < n; j++) {
            long double z = a[i] - b[j], wij = row[j], g;
            if (logit) {
                loss += oracle_softplus_neg(beta * wij * z) / (long double)n;
                g = -beta * wij * oracle_sigmoid_neg(beta * wij * z) / (long double)n;
            } else {
                loss += wij * oracle_softplus_neg(beta * z);
                g = -beta * wij * oracle_sigmoid_neg(beta * z);
            }
            r->grad_chosen[i] += g;
            r->grad_rejected[j] -= g;
            margin += wij * beta * z;
            abs_margin += fabsl(wij * beta * z);
            accuracy += z > 0.0L ? wij : 0.0L;
        }
    }
    if (ok) {
        long double rows = p->reduction == RPO_REDUCTION_SUM ? 1.0L : (long double)m;
        r->loss = loss / rows;
        for (size_t i = 0; i < m; i++)
            r->grad_chosen[i] /= rows;
        for (size_t j = 0; j < n; j++)
            r->grad_rejected[j] /= rows;
        r->reward_chosen = m ? beta * sum_a / (long double)m : 0.0L;
        r->reward_rejected = n ? beta * sum_b / (long double)n : 0.0L;
        r->margin = m ? margin / (long double)m : 0.0L;
        r->accuracy = m ? accuracy / (long double)m : 0.0L;
        r->reward_chosen_scale = m ? beta * abs_a / (long double)m : 0.0L;
        r->reward_rejected_scale = n ? beta * abs_b / (long double)n : 0.0L;
        r->margin_scale = m ? abs_margin / (long double)m : 0.0L;
    }
    if (fu != eu)
        free(fu);
    free(eu);
    free(a);
    free(b);
    free(row);
    if (!ok)
        sref_free(r);
    return ok ? 0 : -1;
}

static inline int sref_compute(const sref_problem *p, sref_result *r)
{
    return sref_compute_with_weights(p, r, NULL);
}

#endif /* RPO_TEST_STREAMREF_H */
