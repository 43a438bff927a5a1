/*
 * The documented contract of a compute call, written out independently of
 * lib/ from include/rpo.h's "Errors" list: which status a call must return
 * given its arguments, and when its float32 and float64 results must agree.
 */
#ifndef RPO_FUZZ_CONTRACT_H
#define RPO_FUZZ_CONTRACT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "rpo.h"

typedef enum call_kind { KIND_LOSS, KIND_WEIGHTS, KIND_WEIGHTED } call_kind;

/* A compute call as the contract sees it: sizes, which arrays are present,
 * the settings that matter, and whether any array that is read holds NaN
 * or infinity. */
typedef struct call_shape {
    call_kind kind;
    int ctx_present;
    int weighting;
    size_t m, n, d;
    int has_pc, has_pr, has_e, has_w, has_weights_out;
    int paired;                 /* rejected_emb NULL or == chosen_emb */
    int nonfinite_read;         /* filled by the harness */
    int rules_known;            /* the settings are ones these rules cover */
} call_shape;

static inline int mul_overflows(size_t x, size_t y)
{
    return x != 0 && y > SIZE_MAX / x;
}

static inline int reads_embeddings(const call_shape *s)
{
    return s->kind != KIND_WEIGHTED && s->weighting == RPO_WEIGHTING_EMBEDDING;
}

/* The status the header promises before any value is looked at:
 * RPO_ERR_NULL_POINTER, then RPO_ERR_SIZE, in that order; RPO_OK when the
 * call is well-formed (values are judged separately). */
static inline int expected_shape_status(const call_shape *s)
{
    const int empty = s->m == 0 || s->n == 0;
    if (!s->ctx_present)
        return RPO_ERR_NULL_POINTER;
    if (s->kind != KIND_WEIGHTS) {
        if (s->m > 0 && !s->has_pc)
            return RPO_ERR_NULL_POINTER;
        if (s->n > 0 && !s->has_pr)
            return RPO_ERR_NULL_POINTER;
    }
    if (!empty) {
        if (s->kind == KIND_WEIGHTED && !s->has_w)
            return RPO_ERR_NULL_POINTER;
        if (s->kind == KIND_WEIGHTS && !s->has_weights_out)
            return RPO_ERR_NULL_POINTER;
        if (reads_embeddings(s) && !s->has_e)
            return RPO_ERR_NULL_POINTER;
    }
    if (mul_overflows(s->m, s->n))
        return RPO_ERR_SIZE;
    if (!empty && s->kind != KIND_WEIGHTED) {
        if (s->weighting == RPO_WEIGHTING_DIAGONAL && s->m != s->n)
            return RPO_ERR_SIZE;
        if (s->weighting == RPO_WEIGHTING_EMBEDDING &&
            (s->d == 0 || mul_overflows(s->m, s->d) || mul_overflows(s->n, s->d) ||
             (s->paired && s->m != s->n)))
            return RPO_ERR_SIZE;
    }
    return RPO_OK;
}

static inline int status_listed(int status)
{
    return status == RPO_OK || status == RPO_ERR_NULL_POINTER ||
           status == RPO_ERR_SIZE || status == RPO_ERR_PARAM ||
           status == RPO_ERR_NONFINITE || status == RPO_ERR_NOMEM ||
           status == RPO_ERR_UNSUPPORTED || status == RPO_ERR_RANGE;
}

/* 1 when the sizes overflow in a way the contract turns into RPO_ERR_SIZE
 * (the harness then passes arrays that must not be touched at all). */
static inline int size_overflow_applies(const call_shape *s)
{
    if (s->m == 0 || s->n == 0)
        return 0;
    if (mul_overflows(s->m, s->n))
        return 1;
    return reads_embeddings(s) &&
           (mul_overflows(s->m, s->d) || mul_overflows(s->n, s->d));
}

/* The statuses a call may end with. Under settings these rules do not
 * cover (s->rules_known == 0: a weighting or setting added after 1.0), any
 * listed status; the harness's other invariants still apply. */
static inline int status_allowed(const call_shape *s, int status)
{
    if (!s->rules_known)
        return status_listed(status);
    int shape = expected_shape_status(s);
    if (shape != RPO_OK)
        return status == shape;
    if (s->m == 0 || s->n == 0)
        return status == RPO_OK;
    if (s->nonfinite_read)
        return status == RPO_ERR_NONFINITE;
    /* finite values: success, or a result too large for the output type;
     * the weight matrix always fits (its entries lie in [0, 1]) */
    if (s->kind == KIND_WEIGHTS)
        return status == RPO_OK;
    return status == RPO_OK || status == RPO_ERR_RANGE;
}

/*
 * When the float32 and float64 entry points must agree to the conformance
 * tolerance (1e-5) on the same float32 values. An implementation may
 * compute float32 similarities in float32, so the problem must be well
 * conditioned for that:
 *   - every scaled contrast |beta * z_ij| <= 8 (with caller weights,
 *     |beta * w_ij * z_ij| <= 8 and |w_ij| <= 1e3): the sigmoid and softplus
 *     then amplify relative input errors by at most a few units;
 *   - for embedding weights, tau >= 0.25 and every prompt row is zero or has
 *     an L2 norm in [1e-6, 1e6]: a cosine computed in float32 is then within
 *     about (D + 2) 2^-24 of the float64 one, which the softmax turns into a
 *     relative weight error of 2 (D + 2) 2^-24 / tau, below 1e-5 for the
 *     harness's D <= 65.
 * Outside these the harness still checks statuses, finiteness, row sums and
 * that nothing is written on error, only not agreement.
 */
typedef struct conditioning_input {
    call_kind kind;
    int weighting;
    double beta, tau;
    size_t m, n, d;
    const double *pc, *rc, *pr, *rr;   /* rc, rr may be NULL */
    const double *e, *f;               /* f == e when paired */
    const double *w;                   /* KIND_WEIGHTED */
} conditioning_input;

static inline int rows_well_scaled(const double *x, size_t rows, size_t d)
{
    for (size_t i = 0; i < rows; i++) {
        double ss = 0.0;
        for (size_t k = 0; k < d; k++)
            ss += x[i * d + k] * x[i * d + k];
        if (ss != 0.0 && !(ss >= 1e-12 && ss <= 1e12))
            return 0;
    }
    return 1;
}

static inline int well_conditioned(const conditioning_input *c)
{
    const int embedding = c->kind != KIND_WEIGHTED &&
                          c->weighting == RPO_WEIGHTING_EMBEDDING;
    if (embedding) {
        if (!(c->tau >= 0.25))
            return 0;
        if (!rows_well_scaled(c->e, c->m, c->d) || !rows_well_scaled(c->f, c->n, c->d))
            return 0;
    }
    if (c->kind == KIND_WEIGHTS)
        return 1;
    for (size_t i = 0; i < c->m; i++) {
        long double a = (long double)c->pc[i] - (c->rc ? (long double)c->rc[i] : 0.0L);
        for (size_t j = 0; j < c->n; j++) {
            long double b = (long double)c->pr[j] - (c->rr ? (long double)c->rr[j] : 0.0L);
            long double u = (long double)c->beta * (a - b);
            if (c->kind == KIND_WEIGHTED) {
                long double w = (long double)c->w[i * c->n + j];
                if (fabsl(w) > 1e3L)
                    return 0;
                u *= w;
            }
            if (!(fabsl(u) <= 8.0L))
                return 0;
        }
    }
    return 1;
}

#endif /* RPO_FUZZ_CONTRACT_H */
