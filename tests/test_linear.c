/*
 * The fused linear log-probs (rpo.h, "Fused linear log-probs"):
 *   forward and backward against a long double reference, on every kernel
 *   set, with chunk sizes that do and do not divide T and V, a padded
 *   weight row stride, with and without bias;
 *   against the unfused path (the logits, then rpo_token_logps_* and its
 *   backward, then the two products of the chain rule);
 *   the backward against finite differences of the forward;
 *   1, 2 and 3 threads bitwise equal; lse passed or recomputed bitwise
 *   equal, on every kernel set and with logits near 1000 (the returned
 *   lse, in the element type, is all the backward needs); skipped tokens
 *   untouched;
 *   hostile inputs (NaN in a weight row, in hidden, targets out of range,
 *   overflowing sizes and logits, stride < H, NULLs) with nothing written;
 *   the backward's own inputs (NaN in dhidden, dweight, dbias, dlogps or
 *   lse; accumulators that would overflow) with the accumulators unchanged.
 */
#include <float.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define RPO_STATIC_LINKING_ONLY
#include "testutil.h"
#include "kernel_sets.h"

#define SENTINEL (-12345.0)
#define D_NAN ((double)NAN)

/* ---------------------------------------------------------------- a case */

typedef struct problem {
    size_t t, h, v, ldw;
    double *hidden;     /* (t, h)                                       */
    double *weight;     /* (v, ldw), padding NaN: never read             */
    double *bias;       /* (v) or NULL                                   */
    int32_t *targets;   /* (t), some negative                            */
    double *dlogps;     /* (t), some 0                                   */
    double *dhidden0, *dweight0, *dbias0;  /* what the outputs hold before */
} problem;

static double *alloc_doubles(size_t n)
{
    double *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static problem make_problem(uint64_t seed, size_t t, size_t h, size_t v,
                            size_t ldw, int with_bias)
{
    test_rng rng = {seed};
    problem p = {t, h, v, ldw, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    p.hidden = alloc_doubles(t * h);
    p.weight = alloc_doubles(v * ldw);
    p.targets = malloc(t * sizeof *p.targets);
    p.dlogps = alloc_doubles(t);
    p.dhidden0 = alloc_doubles(t * h);
    p.dweight0 = alloc_doubles(v * ldw);
    p.dbias0 = alloc_doubles(v);
    assert_non_null(p.targets);
    rng_fill(&rng, p.hidden, t * h, -1.0, 1.0);
    for (size_t r = 0; r < v; r++)
        for (size_t k = 0; k < ldw; k++)
            p.weight[r * ldw + k] = k < h ? rng_uniform(&rng, -1.0, 1.0) : D_NAN;
    if (with_bias) {
        p.bias = alloc_doubles(v);
        rng_fill(&rng, p.bias, v, -2.0, 2.0);
    }
    for (size_t k = 0; k < t; k++) {
        p.targets[k] = k % 7 == 3 ? -100 : (int32_t)(rng_next(&rng) % v);
        p.dlogps[k] = k % 11 == 5 ? 0.0 : rng_uniform(&rng, -1.0, 1.0);
    }
    rng_fill(&rng, p.dhidden0, t * h, -0.5, 0.5);
    rng_fill(&rng, p.dweight0, v * ldw, -0.5, 0.5);
    rng_fill(&rng, p.dbias0, v, -0.5, 0.5);
    return p;
}

static void free_problem(problem *p)
{
    free(p->hidden);
    free(p->weight);
    free(p->bias);
    free(p->targets);
    free(p->dlogps);
    free(p->dhidden0);
    free(p->dweight0);
    free(p->dbias0);
}

/* What a call returns, widened to double. */
typedef struct result {
    double *logps, *lse;                 /* (t)          */
    double *dhidden, *dweight, *dbias;   /* as in problem */
} result;

static result make_result(const problem *p)
{
    result r;
    r.logps = alloc_doubles(p->t);
    r.lse = alloc_doubles(p->t);
    r.dhidden = alloc_doubles(p->t * p->h);
    r.dweight = alloc_doubles(p->v * p->ldw);
    r.dbias = alloc_doubles(p->v);
    return r;
}

static void free_result(result *r)
{
    free(r->logps);
    free(r->lse);
    free(r->dhidden);
    free(r->dweight);
    free(r->dbias);
}

/* Float copies of a problem's arrays (NULL stays NULL). */
static float *narrow(const double *x, size_t n)
{
    if (x == NULL)
        return NULL;
    float *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    to_f32(y, x, n);
    return y;
}

/* The forward of p in f32 or f64 into r->logps and r->lse. */
static int forward(rpo_ctx *ctx, const problem *p, int f32, result *r)
{
    if (!f32)
        return rpo_linear_logps_f64(ctx, p->t, p->h, p->v, p->hidden, p->weight,
                                    p->ldw, p->bias, p->targets, r->logps, r->lse);
    float *hidden = narrow(p->hidden, p->t * p->h), *weight = narrow(p->weight, p->v * p->ldw);
    float *bias = narrow(p->bias, p->v), *logps = narrow(r->logps, p->t);
    float *lse = narrow(r->lse, p->t);
    int status = rpo_linear_logps_f32(ctx, p->t, p->h, p->v, hidden, weight, p->ldw,
                                      bias, p->targets, logps, lse);
    to_f64(r->logps, logps, p->t);
    to_f64(r->lse, lse, p->t);
    free(hidden), free(weight), free(bias), free(logps), free(lse);
    return status;
}

/* The backward of p, accumulated into r's gradients (copied from the
 * problem's initial values first); lse from r->lse when use_lse. */
static int backward(rpo_ctx *ctx, const problem *p, int f32, int use_lse, result *r)
{
    memcpy(r->dhidden, p->dhidden0, p->t * p->h * sizeof(double));
    memcpy(r->dweight, p->dweight0, p->v * p->ldw * sizeof(double));
    memcpy(r->dbias, p->dbias0, p->v * sizeof(double));
    if (!f32)
        return rpo_linear_logps_backward_f64(ctx, p->t, p->h, p->v, p->hidden, p->weight,
                                             p->ldw, p->bias, p->targets,
                                             use_lse ? r->lse : NULL, p->dlogps,
                                             r->dhidden, r->dweight, r->dbias);
    float *hidden = narrow(p->hidden, p->t * p->h), *weight = narrow(p->weight, p->v * p->ldw);
    float *bias = narrow(p->bias, p->v), *lse = narrow(r->lse, p->t);
    float *dlogps = narrow(p->dlogps, p->t), *dhidden = narrow(r->dhidden, p->t * p->h);
    float *dweight = narrow(r->dweight, p->v * p->ldw), *dbias = narrow(r->dbias, p->v);
    int status = rpo_linear_logps_backward_f32(ctx, p->t, p->h, p->v, hidden, weight,
                                               p->ldw, bias, p->targets,
                                               use_lse ? lse : NULL, dlogps, dhidden,
                                               dweight, dbias);
    to_f64(r->dhidden, dhidden, p->t * p->h);
    to_f64(r->dweight, dweight, p->v * p->ldw);
    to_f64(r->dbias, dbias, p->v);
    free(hidden), free(weight), free(bias), free(lse), free(dlogps);
    free(dhidden), free(dweight), free(dbias);
    return status;
}

/* ---------------------------------------------------- long double reference */

/* The reference of everything a call computes: the logits in long double,
 * a log-softmax over each whole row, and the chain rule written out. */
static void reference(const problem *p, result *r)
{
    const size_t t = p->t, h = p->h, v = p->v, ldw = p->ldw;
    long double *logit = malloc(v * sizeof *logit);
    long double *dh = malloc(t * h * sizeof *dh), *dw = malloc(v * ldw * sizeof *dw);
    long double *db = malloc(v * sizeof *db);
    assert_true(logit != NULL && dh != NULL && dw != NULL && db != NULL);
    for (size_t k = 0; k < t * h; k++)
        dh[k] = (long double)p->dhidden0[k];
    for (size_t k = 0; k < v * ldw; k++)
        dw[k] = (long double)p->dweight0[k];
    for (size_t j = 0; j < v; j++)
        db[j] = (long double)p->dbias0[j];
    for (size_t i = 0; i < t; i++) {
        r->logps[i] = r->lse[i] = 0.0;
        if (p->targets[i] < 0)
            continue;
        long double top = -(long double)INFINITY, sum = 0.0L;
        for (size_t j = 0; j < v; j++) {
            long double x = p->bias != NULL ? (long double)p->bias[j] : 0.0L;
            for (size_t k = 0; k < h; k++)
                x += (long double)p->hidden[i * h + k] * (long double)p->weight[j * ldw + k];
            logit[j] = x;
            top = x > top ? x : top;
        }
        for (size_t j = 0; j < v; j++)
            sum += expl(logit[j] - top);
        const long double lse = top + logl(sum);
        r->lse[i] = (double)lse;
        r->logps[i] = (double)(logit[p->targets[i]] - lse);
        const long double d = (long double)p->dlogps[i];
        for (size_t j = 0; j < v; j++) {
            const long double g =
                d * ((long double)((size_t)p->targets[i] == j) - expl(logit[j] - lse));
            db[j] += g;
            for (size_t k = 0; k < h; k++) {
                dh[i * h + k] += g * (long double)p->weight[j * ldw + k];
                dw[j * ldw + k] += g * (long double)p->hidden[i * h + k];
            }
        }
    }
    for (size_t k = 0; k < t * h; k++)
        r->dhidden[k] = (double)dh[k];
    for (size_t k = 0; k < v * ldw; k++)
        r->dweight[k] = (double)dw[k];
    for (size_t j = 0; j < v; j++)
        r->dbias[j] = (double)db[j];
    free(logit);
    free(dh);
    free(dw);
    free(db);
}

/* The arrays' used entries (the weight padding excluded) within tol of the
 * reference, relative to each array's largest value. */
static void check_against(const char *what, const problem *p, const result *got,
                          const result *want, double tol, int grads)
{
    char name[192];
    snprintf(name, sizeof name, "%s logps", what);
    check_vector_rel(name, got->logps, want->logps, p->t, tol);
    snprintf(name, sizeof name, "%s lse", what);
    check_vector_rel(name, got->lse, want->lse, p->t, tol);
    if (!grads)
        return;
    snprintf(name, sizeof name, "%s dhidden", what);
    check_vector_rel(name, got->dhidden, want->dhidden, p->t * p->h, tol);
    snprintf(name, sizeof name, "%s dbias", what);
    check_vector_rel(name, got->dbias, want->dbias, p->v, tol);
    for (size_t j = 0; j < p->v; j++) {
        snprintf(name, sizeof name, "%s dweight row %zu", what, j);
        check_vector_abs(name, got->dweight + j * p->ldw, want->dweight + j * p->ldw, p->h,
                         tol * 4.0);
    }
}

static void set_chunk(rpo_ctx *ctx, double chunk)
{
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LINEAR_CHUNK, chunk), RPO_OK);
}

/* ------------------------------------------------------------------ tests */

/* Every kernel set, f32 and f64, with and without bias, chunk sizes that
 * divide T = 48 and V = 80 (16), divide V only (20), neither (33), and one
 * chunk for all (256); weight rows padded to ldw = h + 3. */
static void test_reference_every_kernel_set(void **state)
{
    (void)state;
    static const double chunks[] = {16, 20, 33, 256};
    int tested = 0;
    for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
        /* valgrind and sanitizer runs: the fastest set this CPU (or
         * valgrind's view of it) runs, only */
        if (small_run() && tested)
            break;
        rpo_ctx *ctx = context_on(kernel_sets[ks]);
        if (ctx == NULL)
            continue;
        tested = 1;
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            problem p = make_problem(11 + (uint64_t)with_bias, 48, 37, 80, 40, with_bias);
            result want = make_result(&p), got = make_result(&p);
            reference(&p, &want);
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                set_chunk(ctx, chunks[c]);
                for (int f32 = 0; f32 < 2; f32++) {
                    char what[96];
                    snprintf(what, sizeof what, "%s chunk %g %s bias %d",
                             rpo_ctx_kernels(ctx), chunks[c], f32 ? "f32" : "f64", with_bias);
                    assert_status(forward(ctx, &p, f32, &got), RPO_OK);
                    assert_status(backward(ctx, &p, f32, 1, &got), RPO_OK);
                    check_against(what, &p, &got, &want, f32 ? 2e-5 : 1e-12, 1);
                }
            }
            free_result(&want);
            free_result(&got);
            free_problem(&p);
        }
        rpo_ctx_free(ctx);
    }
}

/* The unfused path a user would otherwise write: logits = hidden weight^T
 * + bias (in double), rpo_token_logps_f64 and rpo_token_logps_backward_f64,
 * then dhidden += dlogits weight and dweight += dlogits^T hidden. */
static void test_against_unfused_path(void **state)
{
    (void)state;
    problem p = make_problem(5, 29, 19, 61, 19, 1);
    const size_t t = p.t, h = p.h, v = p.v;
    double *logits = alloc_doubles(t * v), *dlogits = alloc_doubles(t * v);
    result want = make_result(&p), got = make_result(&p);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    for (size_t i = 0; i < t; i++)
        for (size_t j = 0; j < v; j++) {
            double x = p.bias[j];
            for (size_t k = 0; k < h; k++)
                x += p.hidden[i * h + k] * p.weight[j * p.ldw + k];
            logits[i * v + j] = x;
            dlogits[i * v + j] = 0.0;
        }
    assert_status(rpo_token_logps_f64(ctx, t, v, v, logits, p.targets, want.logps), RPO_OK);
    assert_status(rpo_token_logps_backward_f64(ctx, t, v, v, logits, p.targets, p.dlogps,
                                               dlogits), RPO_OK);
    memcpy(want.dhidden, p.dhidden0, t * h * sizeof(double));
    memcpy(want.dweight, p.dweight0, v * p.ldw * sizeof(double));
    memcpy(want.dbias, p.dbias0, v * sizeof(double));
    for (size_t i = 0; i < t; i++)
        for (size_t j = 0; j < v; j++) {
            want.dbias[j] += dlogits[i * v + j];
            for (size_t k = 0; k < h; k++) {
                want.dhidden[i * h + k] += dlogits[i * v + j] * p.weight[j * p.ldw + k];
                want.dweight[j * p.ldw + k] += dlogits[i * v + j] * p.hidden[i * h + k];
            }
        }
    set_chunk(ctx, 16);
    assert_status(forward(ctx, &p, 0, &got), RPO_OK);
    check_vector_rel("logps vs unfused", got.logps, want.logps, t, 1e-12);
    assert_status(backward(ctx, &p, 0, 1, &got), RPO_OK);
    check_vector_rel("dhidden vs unfused", got.dhidden, want.dhidden, t * h, 1e-12);
    check_vector_rel("dweight vs unfused", got.dweight, want.dweight, v * h, 1e-12);
    check_vector_rel("dbias vs unfused", got.dbias, want.dbias, v, 1e-12);
    rpo_ctx_free(ctx);
    free(logits);
    free(dlogits);
    free_result(&want);
    free_result(&got);
    free_problem(&p);
}

/* L = sum_t dlogps[t] logps[t]; its central differences against the
 * backward's gradient (from zero) for a spread of entries of each input. */
static double objective(rpo_ctx *ctx, const problem *p, result *r)
{
    assert_status(forward(ctx, p, 0, r), RPO_OK);
    double l = 0.0;
    for (size_t i = 0; i < p->t; i++)
        l += p->dlogps[i] * r->logps[i];
    return l;
}

static void check_difference(rpo_ctx *ctx, const problem *p, result *scratch,
                             double *x, double grad, const char *what)
{
    const double step = 1e-6, keep = *x;
    *x = keep + step;
    const double up = objective(ctx, p, scratch);
    *x = keep - step;
    const double down = objective(ctx, p, scratch);
    *x = keep;
    const double fd = (up - down) / (2.0 * step);
    if (!(fabs(fd - grad) <= 1e-7 * fmax(1.0, fabs(grad))))
        fail_msg("%s: backward %.12g, finite difference %.12g", what, grad, fd);
}

static void test_finite_differences(void **state)
{
    (void)state;
    problem p = make_problem(23, 13, 9, 41, 11, 1);
    memset(p.dhidden0, 0, p.t * p.h * sizeof(double));
    memset(p.dweight0, 0, p.v * p.ldw * sizeof(double));
    memset(p.dbias0, 0, p.v * sizeof(double));
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set_chunk(ctx, 16);
    result g = make_result(&p), scratch = make_result(&p);
    assert_status(forward(ctx, &p, 0, &g), RPO_OK);
    assert_status(backward(ctx, &p, 0, 1, &g), RPO_OK);
    char what[64];
    for (size_t e = 0; e < p.t * p.h; e += 7) {
        snprintf(what, sizeof what, "dhidden[%zu]", e);
        check_difference(ctx, &p, &scratch, &p.hidden[e], g.dhidden[e], what);
    }
    for (size_t j = 0; j < p.v; j += 3)
        for (size_t k = 0; k < p.h; k += 4) {
            snprintf(what, sizeof what, "dweight[%zu][%zu]", j, k);
            check_difference(ctx, &p, &scratch, &p.weight[j * p.ldw + k],
                             g.dweight[j * p.ldw + k], what);
        }
    for (size_t j = 0; j < p.v; j += 2) {
        snprintf(what, sizeof what, "dbias[%zu]", j);
        check_difference(ctx, &p, &scratch, &p.bias[j], g.dbias[j], what);
    }
    rpo_ctx_free(ctx);
    free_result(&g);
    free_result(&scratch);
    free_problem(&p);
}

static void assert_same_bits(const char *what, const double *a, const double *b, size_t n)
{
    if (memcmp(a, b, n * sizeof *a) != 0)
        fail_msg("%s differs bitwise", what);
}

static void assert_same_results(const char *what, const problem *p, const result *a,
                                const result *b)
{
    char name[192];
    snprintf(name, sizeof name, "%s logps", what);
    assert_same_bits(name, a->logps, b->logps, p->t);
    snprintf(name, sizeof name, "%s lse", what);
    assert_same_bits(name, a->lse, b->lse, p->t);
    snprintf(name, sizeof name, "%s dhidden", what);
    assert_same_bits(name, a->dhidden, b->dhidden, p->t * p->h);
    snprintf(name, sizeof name, "%s dbias", what);
    assert_same_bits(name, a->dbias, b->dbias, p->v);
    for (size_t j = 0; j < p->v; j++) {
        snprintf(name, sizeof name, "%s dweight row %zu", what, j);
        assert_same_bits(name, a->dweight + j * p->ldw, b->dweight + j * p->ldw, p->h);
    }
}

/* 2 and 3 threads give the bits of 1, in both types; the backward
 * recomputing lse gives the bits of the backward given the forward's. */
static void test_threads_and_lse_bitwise(void **state)
{
    (void)state;
    problem p = make_problem(31, 45, 21, 150, 24, 1);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set_chunk(ctx, 16);
    for (int f32 = 0; f32 < 2; f32++) {
        result one = make_result(&p), many = make_result(&p);
        assert_status(forward(ctx, &p, f32, &one), RPO_OK);
        assert_status(backward(ctx, &p, f32, 1, &one), RPO_OK);
        for (double threads = 2; threads <= 3; threads++) {
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads), RPO_OK);
            assert_status(forward(ctx, &p, f32, &many), RPO_OK);
            assert_status(backward(ctx, &p, f32, 1, &many), RPO_OK);
            assert_same_results(f32 ? "f32 threads" : "f64 threads", &p, &one, &many);
            /* a fresh context: no forward's lse left in its scratch */
            rpo_ctx *fresh = rpo_ctx_create();
            assert_non_null(fresh);
            set_chunk(fresh, 16);
            assert_status(rpo_ctx_set(fresh, RPO_PARAM_THREADS, threads), RPO_OK);
            assert_status(backward(fresh, &p, f32, 0, &many), RPO_OK);
            rpo_ctx_free(fresh);
            assert_same_results(f32 ? "f32 lse recomputed" : "f64 lse recomputed", &p,
                                &one, &many);
        }
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, 1), RPO_OK);
        free_result(&one);
        free_result(&many);
    }
    rpo_ctx_free(ctx);
    free_problem(&p);
}

/* The forward's lse is the double lse rounded to the element type
 * (rpo.h), and the backward rounds whatever lse it uses to that type:
 * given the returned lse, it gives the bits of lse NULL (recomputed in
 * double) on every kernel set. The bias lifts the logits near 1000, where
 * a float's ulp is 2^-14 and a float lse rounded any other way, or used
 * unrounded, would move the softmax entries. */
static void test_returned_lse_is_enough(void **state)
{
    (void)state;
    problem p = make_problem(47, 37, 19, 90, 19, 1);
    for (size_t j = 0; j < p.v; j++)
        p.bias[j] += 1000.0;
    for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
        for (int f32 = 0; f32 < 2; f32++) {
            rpo_ctx *ctx = context_on(kernel_sets[ks]);
            if (ctx == NULL)
                continue;
            set_chunk(ctx, 16);
            result given = make_result(&p), recomputed = make_result(&p);
            assert_status(forward(ctx, &p, f32, &given), RPO_OK);
            assert_true(given.lse[0] > 999.0);
            assert_status(backward(ctx, &p, f32, 1, &given), RPO_OK);
            memcpy(recomputed.logps, given.logps, p.t * sizeof(double));
            memcpy(recomputed.lse, given.lse, p.t * sizeof(double));
            assert_status(backward(ctx, &p, f32, 0, &recomputed), RPO_OK);
            assert_same_results(f32 ? "f32 lse near 1000" : "f64 lse near 1000", &p,
                                &given, &recomputed);
            free_result(&given);
            free_result(&recomputed);
            rpo_ctx_free(ctx);
        }
    }
    free_problem(&p);
}

/* Tokens without a target or with dlogps 0 are neither read nor written:
 * NaN in their hidden rows changes nothing, their dhidden rows keep their
 * bits, their logps and lse are 0. */
static void test_skipped_tokens(void **state)
{
    (void)state;
    problem p = make_problem(41, 30, 8, 50, 13, 0);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    result r = make_result(&p);
    for (size_t i = 0; i < p.t; i++)
        if (p.targets[i] < 0 || p.dlogps[i] == 0.0) {
            if (p.targets[i] < 0)
                p.hidden[i * p.h + 2] = D_NAN;
        }
    assert_status(forward(ctx, &p, 0, &r), RPO_OK);
    assert_status(backward(ctx, &p, 0, 1, &r), RPO_OK);
    for (size_t i = 0; i < p.t; i++) {
        if (p.targets[i] < 0) {
            assert_true(r.logps[i] == 0.0 && r.lse[i] == 0.0);
        }
        if (p.targets[i] < 0 || p.dlogps[i] == 0.0)
            assert_same_bits("a skipped dhidden row", r.dhidden + i * p.h,
                             p.dhidden0 + i * p.h, p.h);
    }
    /* the padding of dweight's rows (ldw > H) is never touched */
    for (size_t j = 0; j < p.v; j++)
        assert_same_bits("dweight padding", r.dweight + j * p.ldw + p.h,
                         p.dweight0 + j * p.ldw + p.h, p.ldw - p.h);
    rpo_ctx_free(ctx);
    free_result(&r);
    free_problem(&p);
}

/* --------------------------------------------------------- hostile inputs */

/* Runs forward and backward on p in f64 (types & 1) and f32 (types & 2)
 * and checks both return `status` with every output as it was (the
 * backward is given lse = SENTINEL: any finite lse passes the checks). */
#define BOTH_TYPES 3
/* x as the caller's array holds it: rounded to float for an f32 call. */
static double as_given(int f32, double x)
{
    return f32 ? (double)(float)x : x;
}

static void expect_failure_in(rpo_ctx *ctx, const problem *p, int status, const char *what,
                              int types)
{
    for (int f32 = 0; f32 < 2; f32++) {
        if (!(types & (1 << f32)))
            continue;
        result r = make_result(p);
        for (size_t i = 0; i < p->t; i++)
            r.logps[i] = r.lse[i] = SENTINEL;
        if (forward(ctx, p, f32, &r) != status)
            fail_msg("%s (%s forward): status %d, want %d", what, f32 ? "f32" : "f64",
                     forward(ctx, p, f32, &r), status);
        for (size_t i = 0; i < p->t; i++)
            assert_true(r.logps[i] == SENTINEL && r.lse[i] == SENTINEL);
        assert_true(rpo_ctx_error_detail(ctx)[0] != '\0');
        if (backward(ctx, p, f32, 1, &r) != status)
            fail_msg("%s (%s backward): status %d, want %d", what, f32 ? "f32" : "f64",
                     backward(ctx, p, f32, 1, &r), status);
        /* backward() put the initial values in first: still them */
        for (size_t k = 0; k < p->t * p->h; k++)
            assert_true(r.dhidden[k] == as_given(f32, p->dhidden0[k]));
        for (size_t k = 0; k < p->v * p->ldw; k++)
            assert_true(r.dweight[k] == as_given(f32, p->dweight0[k]));
        for (size_t k = 0; k < p->v; k++)
            assert_true(r.dbias[k] == as_given(f32, p->dbias0[k]));
        free_result(&r);
    }
}

static void expect_failure(rpo_ctx *ctx, const problem *p, int status, const char *what)
{
    expect_failure_in(ctx, p, status, what, BOTH_TYPES);
}

static void test_hostile_inputs(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set_chunk(ctx, 16);
    problem p = make_problem(51, 20, 6, 70, 6, 1);
    {
        /* NaN in the last chunk's weight row: found after the others ran */
        const double keep = p.weight[65 * p.ldw + 3];
        p.weight[65 * p.ldw + 3] = D_NAN;
        expect_failure(ctx, &p, RPO_ERR_NONFINITE, "NaN weight");
        p.weight[65 * p.ldw + 3] = (double)INFINITY;
        expect_failure(ctx, &p, RPO_ERR_NONFINITE, "infinite weight");
        p.weight[65 * p.ldw + 3] = keep;
    }
    {
        const double keep = p.hidden[p.h + 1];  /* token 1 has a target */
        p.hidden[p.h + 1] = D_NAN;
        expect_failure(ctx, &p, RPO_ERR_NONFINITE, "NaN hidden");
        p.hidden[p.h + 1] = keep;
        p.bias[69] = D_NAN;
        expect_failure(ctx, &p, RPO_ERR_NONFINITE, "NaN bias");
        p.bias[69] = 0.5;
    }
    {
        const int32_t keep = p.targets[4];
        p.targets[4] = (int32_t)p.v;
        expect_failure(ctx, &p, RPO_ERR_SIZE, "target == V");
        p.targets[4] = keep;
    }
    {
        /* finite, but a logit overflows the type */
        const double keep0 = p.hidden[0], keep1 = p.weight[2 * p.ldw];
        p.hidden[0] = 1e30;
        p.weight[2 * p.ldw] = 1e30;
        expect_failure_in(ctx, &p, RPO_ERR_RANGE, "overflowing float logit", 2);
        p.hidden[0] = 1e200;
        p.weight[2 * p.ldw] = -1e200;
        expect_failure_in(ctx, &p, RPO_ERR_RANGE, "overflowing double logit", 1);
        /* an overflow in the first chunk and NaN in the last: non-finite
         * comes first in the documented order */
        const double keep65 = p.weight[65 * p.ldw];
        p.weight[65 * p.ldw] = D_NAN;
        expect_failure_in(ctx, &p, RPO_ERR_NONFINITE, "overflow, then NaN weight", 1);
        p.weight[65 * p.ldw] = keep65;
        p.hidden[0] = keep0;
        p.weight[2 * p.ldw] = keep1;
    }
    {
        problem q = p;
        q.ldw = q.h - 1;
        expect_failure(ctx, &q, RPO_ERR_SIZE, "stride < H");
    }
    /* NULLs, zero sizes and sizes whose products overflow, on the raw API */
    float x[4] = {0}, out[4];
    int32_t y[2] = {0, 0};
    assert_status(rpo_linear_logps_f32(NULL, 2, 1, 1, x, x, 1, NULL, y, out, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_f32(ctx, 2, 1, 1, NULL, x, 1, NULL, y, out, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_f32(ctx, 2, 1, 1, x, NULL, 1, NULL, y, out, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_f32(ctx, 2, 1, 1, x, x, 1, NULL, NULL, out, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_f32(ctx, 2, 1, 1, x, x, 1, NULL, y, NULL, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_backward_f32(ctx, 2, 1, 1, x, x, 1, NULL, y, NULL,
                                                NULL, x, x, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_backward_f32(ctx, 2, 1, 1, x, x, 1, NULL, y, NULL,
                                                x, NULL, x, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_backward_f32(ctx, 2, 1, 1, x, x, 1, NULL, y, NULL,
                                                x, x, NULL, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_f32(ctx, 0, 1, 1, NULL, NULL, 1, NULL, NULL, NULL, NULL),
                  RPO_OK);
    assert_status(rpo_linear_logps_f32(ctx, 2, 0, 1, x, x, 1, NULL, y, out, NULL),
                  RPO_ERR_SIZE);
    assert_status(rpo_linear_logps_f32(ctx, 2, 1, 0, x, x, 1, NULL, y, out, NULL),
                  RPO_ERR_SIZE);
    /* (T, H) and (V, ldw) overflowing size_t: refused before any read */
    assert_status(rpo_linear_logps_f32(ctx, SIZE_MAX / 2, 4, 1, x, x, 4, NULL, y, out, NULL),
                  RPO_ERR_SIZE);
    assert_status(rpo_linear_logps_f32(ctx, 2, 2, SIZE_MAX / 2, x, x, 4, NULL, y, out, NULL),
                  RPO_ERR_SIZE);
    assert_status(rpo_linear_logps_backward_f64(ctx, SIZE_MAX / 2, 4, 1, (double *)x,
                                                (double *)x, 4, NULL, y, NULL, (double *)x,
                                                (double *)x, (double *)x, NULL),
                  RPO_ERR_SIZE);
    /* (T, H) in range but one packed chunk of H-wide rows beyond size_t:
     * refused from the plan, before hidden (one element) is read. With the
     * AVX-512 kernels' tiles the plan overflows size_t (RPO_ERR_SIZE); with
     * narrower tiles (the set valgrind's CPU offers) it may fit size_t and
     * no allocator can give it (RPO_ERR_NOMEM). */
    const size_t wide[2] = {SIZE_MAX / 4, ((size_t)1 << 60) + 1};
    for (int k = 0; k < 2; k++) {
        out[0] = out[1] = 42.0f;
        int status = rpo_linear_logps_f32(ctx, 1, wide[k], 1, x, x, wide[k], NULL, y, out, NULL);
        assert_true(status == RPO_ERR_SIZE || status == RPO_ERR_NOMEM);
        assert_true(out[0] == 42.0f);
        const float dlogp[1] = {1.0f};   /* a token the backward must score */
        status = rpo_linear_logps_backward_f32(ctx, 1, wide[k], 1, x, x, wide[k], NULL, y,
                                               NULL, dlogp, x, x, NULL);
        assert_true(status == RPO_ERR_SIZE || status == RPO_ERR_NOMEM);
    }
    rpo_ctx_free(ctx);
    free_problem(&p);
}

/* The backward alone reads what the forward does not: the accumulators
 * dhidden (scored rows), dweight and dbias, dlogps and the caller's lse.
 * NaN or infinity in any, or an accumulation that would overflow: the
 * status, a detail, the accumulators as they were. */
static void expect_backward_failure(rpo_ctx *ctx, const problem *p, int status,
                                    const char *what)
{
    result r = make_result(p);
    assert_status(forward(ctx, p, 0, &r), RPO_OK);
    if (backward(ctx, p, 0, 1, &r) != status)
        fail_msg("%s: status %d, want %d (detail \"%s\")", what, backward(ctx, p, 0, 1, &r),
                 status, rpo_ctx_error_detail(ctx));
    assert_true(rpo_ctx_error_detail(ctx)[0] != '\0');
    assert_memory_equal(r.dhidden, p->dhidden0, p->t * p->h * sizeof(double));
    assert_memory_equal(r.dweight, p->dweight0, p->v * p->ldw * sizeof(double));
    assert_memory_equal(r.dbias, p->dbias0, p->v * sizeof(double));
    free_result(&r);
}

static void test_backward_hostile_accumulators(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set_chunk(ctx, 16);
    problem p = make_problem(71, 12, 5, 40, 6, 1);
    double *arrays[4] = {p.dweight0, p.dbias0, p.dhidden0 + 1 * p.h, p.dlogps};
    const size_t at[4] = {37 * p.ldw + 2, 39, 3, 1};  /* token 1 is scored */
    const char *names[4] = {"NaN dweight", "NaN dbias", "NaN dhidden", "NaN dlogps"};
    for (int a = 0; a < 4; a++) {
        const double keep = arrays[a][at[a]];
        arrays[a][at[a]] = D_NAN;
        expect_backward_failure(ctx, &p, RPO_ERR_NONFINITE, names[a]);
        arrays[a][at[a]] = keep;
    }
    {
        /* the caller's lse: NaN in a scored token's */
        result r = make_result(&p);
        assert_status(forward(ctx, &p, 0, &r), RPO_OK);
        r.lse[1] = D_NAN;
        assert_status(backward(ctx, &p, 0, 1, &r), RPO_ERR_NONFINITE);
        assert_memory_equal(r.dweight, p.dweight0, p.v * p.ldw * sizeof(double));
        free_result(&r);
    }
    {
        /* accumulators so large that adding a gradient may overflow */
        const double keep_w = p.dweight0[0], keep_b = p.dbias0[0];
        p.dweight0[0] = DBL_MAX;
        expect_backward_failure(ctx, &p, RPO_ERR_RANGE, "dweight near DBL_MAX");
        p.dweight0[0] = keep_w;
        p.dbias0[0] = DBL_MAX;
        expect_backward_failure(ctx, &p, RPO_ERR_RANGE, "dbias near DBL_MAX");
        p.dbias0[0] = keep_b;
    }
    /* no context; no tokens: nothing to do, nothing written */
    double x[2] = {0.5, 0.5}, d[2] = {7.0, 7.0};
    int32_t y[1] = {0};
    assert_status(rpo_linear_logps_backward_f64(NULL, 1, 1, 1, x, x, 1, NULL, y, NULL, x, d,
                                                d, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_linear_logps_backward_f64(ctx, 0, 1, 1, NULL, NULL, 1, NULL, NULL, NULL,
                                                NULL, NULL, NULL, NULL), RPO_OK);
    assert_true(d[0] == 7.0 && d[1] == 7.0);
    rpo_ctx_free(ctx);
    free_problem(&p);
}

/* Found by the fuzzer: every logit 1e38 (a zero hidden row, bias 1e38),
 * so the float lse cannot hold log V and every clamped softmax entry is 1;
 * dhidden's update is then V |dlogps| max |weight|, beyond float: the
 * backward must refuse it (RPO_ERR_RANGE) with nothing written, not
 * return -infinity. */
static void test_softmax_sum_beyond_one(void **state)
{
    (void)state;
    enum { V = 9 };
    float hidden[2] = {0.0f, 0.0f}, weight[V * 2], bias[V], lse[1] = {1e38f};
    float dlogps[1] = {0.5f}, dhidden[2] = {-0.25f, -1.25f}, dweight[V * 2] = {0};
    int32_t targets[1] = {4};
    for (size_t k = 0; k < V * 2; k++)
        weight[k] = 1e38f;
    for (size_t k = 0; k < V; k++)
        bias[k] = 1e38f;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_linear_logps_backward_f32(ctx, 1, 2, V, hidden, weight, 2, bias,
                                                targets, lse, dlogps, dhidden, dweight,
                                                NULL),
                  RPO_ERR_RANGE);
    assert_true(dhidden[0] == -0.25f && dhidden[1] == -1.25f);
    rpo_ctx_free(ctx);
}

/* Found by the fuzzer: extreme scales whose products are modest. The
 * bounds of rpo.h hold far inside float64's range, so the backward must
 * succeed; it used to refuse them (RPO_ERR_RANGE) where a norm or a sum
 * overflowed or underflowed on the way to the bound:
 *   - hidden 1e-300 times weights near DBL_MAX: logits about 1e8 (the
 *     hidden norm underflowed to 0, the weight norm overflowed, 0 * inf);
 *   - dlogps 1e308 on two tokens times hidden and weights 1e-300: updates
 *     of 1e8 (V |dlogps| and sum |dlogps| overflowed first).
 * The expected values are written out from the formulas of rpo.h. */
static void test_extreme_scales_in_range(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    {
        const double hidden[2] = {1e-300, 1e-300};
        const double weight[4] = {DBL_MAX, DBL_MAX, -DBL_MAX, DBL_MAX / 2};
        const int32_t targets[1] = {1};
        const double dlogps[1] = {1e-300};
        double logps[1], lse[1], dhidden[2] = {0.0, 0.0}, dweight[4] = {0.0};
        assert_status(rpo_linear_logps_f64(ctx, 1, 2, 2, hidden, weight, 2, NULL, targets,
                                           logps, lse), RPO_OK);
        /* z = (2, -1/2) DBL_MAX 1e-300: the target's log-prob is z1 - z0 */
        const double z0 = 2.0 * (DBL_MAX * 1e-300), z1 = -0.5 * (DBL_MAX * 1e-300);
        assert_true(fabs(logps[0] - (z1 - z0)) <= 1e-12 * fabs(z1 - z0));
        assert_status(rpo_linear_logps_backward_f64(ctx, 1, 2, 2, hidden, weight, 2, NULL,
                                                    targets, lse, dlogps, dhidden, dweight,
                                                    NULL), RPO_OK);
        /* softmax (1, 0): g = dlogps ([v == 1] - p) = 1e-300 (-1, 1), so
         * dhidden = 1e-300 (w1 - w0) = 1e-300 DBL_MAX (-2, -1/2) */
        const double want[2] = {-2.0 * (DBL_MAX * 1e-300), -0.5 * (DBL_MAX * 1e-300)};
        for (int k = 0; k < 2; k++)
            assert_true(fabs(dhidden[k] - want[k]) <= 1e-12 * fabs(want[k]));
        assert_true(dweight[0] == 0.0 && dweight[3] == 0.0);   /* 1e-600 underflows */
    }
    {
        const double hidden[4] = {1e-300, 1e-300, 1e-300, 1e-300};
        const double weight[4] = {1e-300, 1e-300, 1e-300, 1e-300};
        const int32_t targets[2] = {0, 0};
        const double dlogps[2] = {1e308, 1e308};
        double dhidden[4] = {0.0}, dweight[4] = {0.0};
        assert_status(rpo_linear_logps_backward_f64(ctx, 2, 2, 2, hidden, weight, 2, NULL,
                                                    targets, NULL, dlogps, dhidden, dweight,
                                                    NULL), RPO_OK);
        /* logits 2e-600 = 0, softmax (1/2, 1/2): g[t] = 1e308 (1/2, -1/2);
         * dweight[v, :] = sum_t g[t, v] 1e-300 = (1e8, -1e8); dhidden 0,
         * to the rounding of terms of 5e7 */
        for (int k = 0; k < 2; k++) {
            assert_true(fabs(dweight[k] - 1e8) <= 1e-12 * 1e8);
            assert_true(fabs(dweight[2 + k] + 1e8) <= 1e-12 * 1e8);
        }
        for (int k = 0; k < 4; k++)
            assert_true(fabs(dhidden[k]) <= 1e-12 * 1e8);
    }
    rpo_ctx_free(ctx);
}

/* A NaN weight row or bias is not an error when no token is scored:
 * nothing reads them. The chunk setting's bounds are rpo_param_bounds'. */
static void test_nothing_scored_and_bounds(void **state)
{
    (void)state;
    problem p = make_problem(61, 5, 4, 20, 4, 1);
    for (size_t i = 0; i < p.t; i++)
        p.targets[i] = -1;
    p.weight[3] = D_NAN;
    p.bias[7] = D_NAN;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    result r = make_result(&p);
    assert_status(forward(ctx, &p, 0, &r), RPO_OK);
    assert_status(backward(ctx, &p, 0, 1, &r), RPO_OK);
    for (size_t i = 0; i < p.t; i++)
        assert_true(r.logps[i] == 0.0);
    double lo = 0, hi = 0;
    assert_status(rpo_param_bounds(RPO_PARAM_LINEAR_CHUNK, &lo, &hi), RPO_OK);
    assert_true(lo == 16 && hi == 4096);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LINEAR_CHUNK, 15), RPO_ERR_PARAM);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LINEAR_CHUNK, 16.5), RPO_ERR_PARAM);
    rpo_ctx_free(ctx);
    free_result(&r);
    free_problem(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_every_kernel_set),
        cmocka_unit_test(test_against_unfused_path),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_threads_and_lse_bitwise),
        cmocka_unit_test(test_returned_lse_is_enough),
        cmocka_unit_test(test_skipped_tokens),
        cmocka_unit_test(test_hostile_inputs),
        cmocka_unit_test(test_backward_hostile_accumulators),
        cmocka_unit_test(test_nothing_scored_and_bounds),
        cmocka_unit_test(test_softmax_sum_beyond_one),
        cmocka_unit_test(test_extreme_scales_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
