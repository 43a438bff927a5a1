/*
 * Runs a sref_problem (streamref.h) through librpo's public entry points, in
 * float64 or float32, and compares every output with the long double
 * reference under a tolerance derived from the problem's conditioning.
 * Shared by the hardening suites; include after testutil.h.
 */
#ifndef RPO_TEST_REFCHECK_H
#define RPO_TEST_REFCHECK_H

#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "streamref.h"
#include "testutil.h"

/* The relative tolerance of p's results through the float64 (f32 == 0) or
 * float32 entry points:
 *   - the conformance tolerance (README of the vectors), plus
 *   - 4 (M + N + D) u64 for the sums over rows, columns and embedding
 *     components that any summation order accumulates, plus
 *   - for embedding weights, 2 (D + 2) u / tau: a cosine carries up to
 *     (D + 2) u of rounding (u of the arithmetic the similarity may use:
 *     float32 entry points are allowed to compute it in float32), and the
 *     softmax turns an error e of the exponent (cos - max) / tau into a
 *     relative error of about 2 e / tau in W, and so in the loss.
 * For D = 8 and tau = 0.5 this is the conformance tolerance itself; for
 * tau = 1e-6 or D = 65536 it widens as the problem's conditioning does. */
static inline double refcheck_tol(const sref_problem *p, int f32)
{
    const double u = f32 ? 0x1p-24 : 0x1p-53;
    double tol = f32 ? TOL_F32 : TOL_F64;
    tol += 4.0 * (double)(p->m + p->n + p->d) * 0x1p-53;
    if (p->w == NULL && p->weighting == RPO_WEIGHTING_EMBEDDING)
        tol += 2.0 * ((double)p->d + 2.0) * u / p->tau;
    return tol;
}

static inline rpo_ctx *refcheck_ctx(const sref_problem *p)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, p->weighting, p->placement, p->beta, p->tau, p->alpha,
              p->reduction);
    return ctx;
}

/* |got - want| <= tol * max(floor, scale), naming the quantity. */
static inline void refcheck_value(const char *label, const char *what,
                                  double got, long double want,
                                  long double scale, double tol, double floor)
{
    double w = (double)want;
    double bound = tol * fmax(floor, (double)fabsl(scale));
    if (!(fabs(got - w) <= bound))
        fail_msg("%s: %s %.17g, want %.17g (|diff| %.3g > %.3g)", label, what,
                 got, w, fabs(got - w), bound);
}

/* Every |got_k - want_k| <= tol * max_k |want_k| (the gradient rule), the
 * reference rounded to double first so that values below double's range
 * compare as the zeros they must be. */
static inline void refcheck_vector(const char *label, const char *what,
                                   const double *got, const long double *want,
                                   size_t count, double tol)
{
    double scale = 0.0;
    for (size_t k = 0; k < count; k++)
        scale = fmax(scale, fabs((double)want[k]));
    for (size_t k = 0; k < count; k++) {
        double w = (double)want[k];
        if (!(fabs(got[k] - w) <= tol * scale))
            fail_msg("%s: %s[%zu] %.17g, want %.17g (|diff| %.3g > %.3g)",
                     label, what, k, got[k], w, fabs(got[k] - w), tol * scale);
    }
}

/* The problem's arrays narrowed to float (the tests only build problems
 * whose values float represents exactly). */
typedef struct refcheck_f32 {
    float *pc, *rc, *pr, *rr, *e, *f, *w;
} refcheck_f32;

static inline float *refcheck_narrow(const double *x, size_t count)
{
    if (x == NULL)
        return NULL;
    float *y = malloc((count ? count : 1) * sizeof *y);
    assert_non_null(y);
    to_f32(y, x, count);
    return y;
}

static inline refcheck_f32 refcheck_narrow_problem(const sref_problem *p)
{
    refcheck_f32 f;
    f.pc = refcheck_narrow(p->pc, p->m);
    f.rc = refcheck_narrow(p->rc, p->m);
    f.pr = refcheck_narrow(p->pr, p->n);
    f.rr = refcheck_narrow(p->rr, p->n);
    f.e = refcheck_narrow(p->e, p->m * p->d);
    f.f = refcheck_narrow(p->f, p->n * p->d);
    f.w = refcheck_narrow(p->w, p->m * p->n);
    return f;
}

static inline void refcheck_free_f32(refcheck_f32 *f)
{
    free(f->pc); free(f->rc); free(f->pr); free(f->rr);
    free(f->e); free(f->f); free(f->w);
}

/* Outputs of one loss call, widened to double. */
typedef struct refcheck_out {
    double loss;
    double *gc, *gr;        /* (M), (N) */
    double stat[6];         /* indexed by RPO_STAT_* */
} refcheck_out;

/* Runs p through rpo_loss_* (rpo_loss_weighted_* when p->w is set) in
 * float64 or float32 and returns the status; out is filled on success. */
static inline int refcheck_run_loss(rpo_ctx *ctx, const sref_problem *p,
                                    int f32, refcheck_out *out)
{
    const size_t m = p->m, n = p->n;
    int status;
    if (!f32) {
        if (p->w != NULL)
            status = rpo_loss_weighted_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr,
                                           p->w, &out->loss, out->gc, out->gr);
        else
            status = rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, p->d,
                                  p->e, p->f, &out->loss, out->gc, out->gr);
    } else {
        refcheck_f32 f = refcheck_narrow_problem(p);
        float loss = 0.0f;
        float *gc = malloc((m ? m : 1) * sizeof *gc);
        float *gr = malloc((n ? n : 1) * sizeof *gr);
        assert_true(gc != NULL && gr != NULL);
        if (p->w != NULL)
            status = rpo_loss_weighted_f32(ctx, m, f.pc, f.rc, n, f.pr, f.rr,
                                           f.w, &loss, gc, gr);
        else
            status = rpo_loss_f32(ctx, m, f.pc, f.rc, n, f.pr, f.rr, p->d,
                                  f.e, f.f, &loss, gc, gr);
        if (status == RPO_OK) {
            out->loss = (double)loss;
            to_f64(out->gc, gc, m);
            to_f64(out->gr, gr, n);
        }
        free(gc);
        free(gr);
        refcheck_free_f32(&f);
    }
    for (int s = RPO_STAT_LOSS; status == RPO_OK && s <= RPO_STAT_ACCURACY; s++)
        assert_status(rpo_ctx_stat(ctx, s, &out->stat[s]), RPO_OK);
    return status;
}

/* p through the float64 or float32 loss entry point must succeed and match
 * want: loss, both gradients and the metrics. */
static inline void refcheck_loss(const char *label, const sref_problem *p,
                                 const sref_result *want, int f32)
{
    char what[256];
    snprintf(what, sizeof what, "%s [%s]", label, f32 ? "f32" : "f64");
    rpo_ctx *ctx = refcheck_ctx(p);
    refcheck_out out;
    out.gc = malloc((p->m ? p->m : 1) * sizeof *out.gc);
    out.gr = malloc((p->n ? p->n : 1) * sizeof *out.gr);
    assert_true(out.gc != NULL && out.gr != NULL);
    int status = refcheck_run_loss(ctx, p, f32, &out);
    if (status != RPO_OK)
        fail_msg("%s: status %d (%s), want RPO_OK", what, status,
                 rpo_status_string(status));
    const double tol = refcheck_tol(p, f32);
    refcheck_value(what, "loss", out.loss, want->loss, want->loss, tol, 1.0);
    refcheck_vector(what, "grad_chosen", out.gc, want->grad_chosen, p->m, tol);
    refcheck_vector(what, "grad_rejected", out.gr, want->grad_rejected, p->n, tol);
    refcheck_value(what, "stat loss", out.stat[RPO_STAT_LOSS], want->loss,
                   want->loss, tol, 1.0);
    refcheck_value(what, "reward_chosen", out.stat[RPO_STAT_REWARD_CHOSEN],
                   want->reward_chosen, want->reward_chosen_scale, tol, 1.0);
    refcheck_value(what, "reward_rejected", out.stat[RPO_STAT_REWARD_REJECTED],
                   want->reward_rejected, want->reward_rejected_scale, tol, 1.0);
    refcheck_value(what, "margin", out.stat[RPO_STAT_MARGIN], want->margin,
                   want->margin_scale, tol, 1.0);
    refcheck_value(what, "accuracy", out.stat[RPO_STAT_ACCURACY], want->accuracy,
                   1.0L, tol, 1.0);
    free(out.gc);
    free(out.gr);
    rpo_ctx_free(ctx);
}

/* The weight matrix of p through rpo_weights_f64 or _f32 must match want
 * (M, N) to the absolute tolerance, and every row must sum to 1. */
static inline void refcheck_weights(const char *label, const sref_problem *p,
                                    const long double *want, int f32)
{
    char what[256];
    snprintf(what, sizeof what, "%s [weights %s]", label, f32 ? "f32" : "f64");
    const size_t m = p->m, n = p->n;
    rpo_ctx *ctx = refcheck_ctx(p);
    double *w = malloc((m * n != 0 ? m * n : 1) * sizeof *w);
    assert_non_null(w);
    int status;
    if (!f32) {
        status = rpo_weights_f64(ctx, m, n, p->d, p->e, p->f, w);
    } else {
        refcheck_f32 f = refcheck_narrow_problem(p);
        float *w32 = malloc((m * n != 0 ? m * n : 1) * sizeof *w32);
        assert_non_null(w32);
        status = rpo_weights_f32(ctx, m, n, p->d, f.e, f.f, w32);
        if (status == RPO_OK)
            to_f64(w, w32, m * n);
        free(w32);
        refcheck_free_f32(&f);
    }
    if (status != RPO_OK)
        fail_msg("%s: status %d (%s), want RPO_OK", what, status,
                 rpo_status_string(status));
    const double tol = refcheck_tol(p, f32);
    for (size_t k = 0; k < m * n; k++)
        if (!(fabs(w[k] - (double)want[k]) <= tol))
            fail_msg("%s: W[%zu][%zu] %.17g, want %.17g (|diff| %.3g > %.3g)",
                     what, k / n, k % n, w[k], (double)want[k],
                     fabs(w[k] - (double)want[k]), tol);
    for (size_t i = 0; i < m; i++) {
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += w[i * n + j];
        if (!(fabs(sum - 1.0) <= tol))
            fail_msg("%s: row %zu sums to %.17g", what, i, sum);
    }
    free(w);
    rpo_ctx_free(ctx);
}

/* The reference and both entry points, loss and (unless p->w) weights. */
static inline void refcheck_all(const char *label, const sref_problem *p)
{
    sref_result want;
    long double *w = NULL;
    if (p->w == NULL) {
        w = malloc((p->m * p->n != 0 ? p->m * p->n : 1) * sizeof *w);
        assert_non_null(w);
    }
    assert_int_equal(sref_compute_with_weights(p, &want, w), 0);
    refcheck_loss(label, p, &want, 0);
    refcheck_loss(label, p, &want, 1);
    sref_free(&want);
    if (w != NULL) {
        refcheck_weights(label, p, w, 0);
        refcheck_weights(label, p, w, 1);
        free(w);
    }
}

#endif /* RPO_TEST_REFCHECK_H */
