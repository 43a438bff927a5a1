/*
 * Numerical edges through the public API, each judged by an independent
 * long double recomputation (streamref.h) or a closed form:
 *   - beta * z of +-1e4 and +-1e30, reached by a large beta or a large z
 *   - tau from 1e-6 to 1e6, and 1e-40 and 1e-310 (1 / tau beyond float, double)
 *   - zero embedding rows on either side, paired and unpaired
 *   - all-equal log-probs (z = 0 everywhere: loss log 2, known gradients)
 *   - float32 log-probs near FLT_MAX whose loss or gradients do not fit a
 *     float (RPO_ERR_RANGE, nothing written), and those that just do
 *   - float64 log-probs near DBL_MAX, huge and subnormal embeddings
 * Every combination runs through float64 and float32 where the values are
 * float32 numbers, and through rpo_loss_*, rpo_weights_* and the metrics.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "refcheck.h"

/* x rounded to the nearest float, so float32 and float64 see one value. */
static double f32_exact(double x)
{
    return (double)(float)x;
}

static const int weightings[] = {RPO_WEIGHTING_UNIFORM, RPO_WEIGHTING_DIAGONAL,
                                 RPO_WEIGHTING_EMBEDDING};
static const int placements[] = {RPO_PLACEMENT_AUTO, RPO_PLACEMENT_LOGIT,
                                 RPO_PLACEMENT_LOSS};

/* Prompt embeddings (3, 4) of three distinct, non-orthogonal prompts. */
static const double emb3[3 * 4] = {
    1.0, 0.5, 0.0, -0.25,
    0.75, 1.0, 0.25, 0.0,
    -0.5, 0.25, 1.0, 0.5,
};

static sref_problem base_problem(int weighting, int placement, double beta)
{
    sref_problem p;
    memset(&p, 0, sizeof p);
    p.weighting = weighting;
    p.placement = placement;
    p.reduction = RPO_REDUCTION_MEAN;
    p.beta = beta;
    p.tau = 0.5;
    p.alpha = 0.8;
    return p;
}

/* beta * z_ij of magnitude `scale` with both signs in one batch, reached
 * with beta = 1 and huge log-ratios, and with a huge beta and moderate
 * log-ratios. Rejected log-ratios are 0 (reference-free, pr = 0), so
 * z_ij = a_i. */
static void contrast_magnitude(double scale)
{
    const double betas[2] = {1.0, f32_exact(scale / 16.0)};
    for (int bi = 0; bi < 2; bi++) {
        double beta = betas[bi];
        double unit = f32_exact(scale / beta);
        double pc[3] = {unit, -unit, f32_exact(2.0 * unit)};
        double rc[3] = {0.0, 0.0, f32_exact(unit)};
        double pr[3] = {0.0, 0.0, 0.0};
        for (size_t w = 0; w < sizeof weightings / sizeof *weightings; w++)
            for (size_t pl = 0; pl < sizeof placements / sizeof *placements; pl++)
                for (int red = RPO_REDUCTION_MEAN; red <= RPO_REDUCTION_SUM; red++) {
                    sref_problem p = base_problem(weightings[w], placements[pl], beta);
                    p.reduction = red;
                    p.m = p.n = 3;
                    p.d = 4;
                    p.pc = pc; p.rc = rc; p.pr = pr; p.rr = NULL;
                    p.e = emb3; p.f = NULL;
                    char label[128];
                    snprintf(label, sizeof label,
                             "|beta z| %g (beta %g) weighting %d placement %d reduction %d",
                             scale, beta, p.weighting, p.placement, red);
                    refcheck_all(label, &p);
                }
    }
}

static void test_beta_z_1e4(void **state)
{
    (void)state;
    contrast_magnitude(1e4);
}

static void test_beta_z_1e30(void **state)
{
    (void)state;
    contrast_magnitude(1e30);
}

/* Embedding weights from nearly one-hot (tau 1e-6) to nearly uniform
 * (tau 1e6), unpaired with a repeated prompt (an exact tie) and paired. */
static void test_tau_range(void **state)
{
    (void)state;
    test_rng rng = {12345};
    enum { M = 4, N = 5, D = 6 };
    double e[M * D], f[N * D], pc[M], rc[M], pr[N], rr[N];
    for (size_t k = 0; k < M * D; k++)
        e[k] = f32_exact(rng_uniform(&rng, -1.0, 1.0));
    for (size_t k = 0; k < N * D; k++)
        f[k] = f32_exact(rng_uniform(&rng, -1.0, 1.0));
    memcpy(f + 3 * D, e + 1 * D, D * sizeof *f); /* rejected 3 = chosen 1's prompt */
    memcpy(f + 4 * D, e + 1 * D, D * sizeof *f); /* and rejected 4: a tie */
    for (size_t i = 0; i < M; i++) {
        pc[i] = f32_exact(rng_uniform(&rng, -40.0, -10.0));
        rc[i] = f32_exact(rng_uniform(&rng, -40.0, -10.0));
    }
    for (size_t j = 0; j < N; j++) {
        pr[j] = f32_exact(rng_uniform(&rng, -40.0, -10.0));
        rr[j] = f32_exact(rng_uniform(&rng, -40.0, -10.0));
    }
    /* and taus whose reciprocal overflows float (1e-40) or double
     * (1e-310, subnormal): the softmax divides by tau instead */
    for (int decade = -8; decade <= 6; decade++) {
        double tau = decade == -8 ? 1e-310 : decade == -7 ? 1e-40 : pow(10.0, decade);
        /* The reference needs 1 / tau in long double; under valgrind long
         * double arithmetic runs at double's precision and range, where
         * 1 / 1e-310 overflows: no reference for that case there. */
        volatile long double ulp = LDBL_EPSILON;
        if (decade == -8 && 1.0L + ulp == 1.0L)
            continue;
        for (int logit = 0; logit <= 1; logit++) {
            sref_problem p = base_problem(RPO_WEIGHTING_EMBEDDING,
                                         logit ? RPO_PLACEMENT_LOGIT : RPO_PLACEMENT_LOSS,
                                         0.5);
            p.tau = tau;
            p.m = M; p.n = N; p.d = D;
            p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr;
            p.e = e; p.f = f;
            char label[128];
            snprintf(label, sizeof label, "tau %g unpaired logit %d", tau, logit);
            refcheck_all(label, &p);
            p.n = M; /* paired: the chosen prompts on both sides */
            p.f = NULL;
            snprintf(label, sizeof label, "tau %g paired logit %d", tau, logit);
            refcheck_all(label, &p);
        }
    }
}

/* A zero prompt embedding has cosine 0 with everything: its weight row is
 * uniform, and as a rejected prompt it is a column of equal distance. */
static void test_zero_embedding_rows(void **state)
{
    (void)state;
    enum { M = 3, N = 4, D = 4 };
    double e[M * D], f[N * D];
    memcpy(e, emb3, sizeof e);
    memset(e + 1 * D, 0, D * sizeof *e);          /* chosen row 1 is zero   */
    for (size_t j = 0; j < N; j++)
        for (size_t k = 0; k < D; k++)
            f[j * D + k] = emb3[((j + 1) % 3) * D + k];
    memset(f + 2 * D, 0, D * sizeof *f);          /* rejected row 2 is zero */
    const double pc[M] = {-10.0, -12.5, -8.0}, rc[M] = {-11.0, -12.0, -9.5};
    const double pr[N] = {-14.0, -9.0, -13.0, -10.5};
    for (int tau_k = 0; tau_k < 3; tau_k++) {
        const double taus[3] = {1e-3, 0.5, 1e3};
        sref_problem p = base_problem(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 1.0);
        p.tau = taus[tau_k];
        p.m = M; p.n = N; p.d = D;
        p.pc = pc; p.rc = rc; p.pr = pr; p.rr = NULL;
        p.e = e; p.f = f;
        char label[96];
        snprintf(label, sizeof label, "zero rows unpaired tau %g", p.tau);
        refcheck_all(label, &p);

        /* The zero chosen row's weights are 1/N, whatever tau. */
        double w[M * N];
        rpo_ctx *ctx = refcheck_ctx(&p);
        assert_status(rpo_weights_f64(ctx, M, N, D, e, f, w), RPO_OK);
        for (size_t j = 0; j < N; j++)
            assert_true(fabs(w[1 * N + j] - 1.0 / N) <= 1e-15);
        rpo_ctx_free(ctx);

        p.n = M; /* paired, the zero row on both sides */
        p.pr = pc; p.rr = rc; p.pc = pr;
        p.f = NULL;
        snprintf(label, sizeof label, "zero row paired tau %g", p.tau);
        refcheck_all(label, &p);
    }
}

/* With every log-ratio equal, z = 0: each pair contributes softplus(0) =
 * log 2 and sigmoid(0) = 1/2, so for rows of W summing to 1
 *   loss     = M log 2 / R
 *   dL/dpc_i = -(beta/2) s          dL/dpr_j = (beta/2) s sum_i W_ij
 * with R = M (mean) or 1 (sum) and s = 1/R (loss placement) or 1/(R N)
 * (logit placement); the margin and accuracy are 0. */
static void all_equal_case(int weighting, int placement, int reduction, int f32)
{
    enum { M = 4, D = 4 };
    const double beta = 0.25;
    double pc[M], rc[M], pr[M], rr[M], e[M * D];
    for (size_t i = 0; i < M; i++) {
        pc[i] = -7.5 - (double)i;  rc[i] = -5.5 - (double)i;  /* a = -2 */
        pr[i] = -9.0 + (double)i;  rr[i] = -7.0 + (double)i;  /* b = -2 */
    }
    for (size_t k = 0; k < M * D; k++)
        e[k] = emb3[k % (3 * D)] + (double)(k / (3 * D));
    sref_problem p = base_problem(weighting, placement, beta);
    p.reduction = reduction;
    p.m = p.n = M;
    p.d = D;
    p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr; p.e = e;
    long double w[M * M];
    assert_int_equal(sref_weights(&p, w), 0);

    const double rows = reduction == RPO_REDUCTION_SUM ? 1.0 : (double)M;
    const double s = sref_logit_placement(&p) ? 1.0 / (rows * M) : 1.0 / rows;
    const double want_loss = log(2.0) * (double)M / rows;
    double want_gc[M], want_gr[M];
    for (size_t i = 0; i < M; i++)
        want_gc[i] = -0.5 * beta * s;
    for (size_t j = 0; j < M; j++) {
        long double col = 0.0L;
        for (size_t i = 0; i < M; i++)
            col += w[i * M + j];
        want_gr[j] = 0.5 * beta * s * (double)col;
    }

    rpo_ctx *ctx = refcheck_ctx(&p);
    refcheck_out out;
    double gc[M], gr[M];
    out.gc = gc;
    out.gr = gr;
    assert_status(refcheck_run_loss(ctx, &p, f32, &out), RPO_OK);
    const double tol = f32 ? TOL_F32 : TOL_F64;
    char what[96];
    snprintf(what, sizeof what, "all equal: weighting %d placement %d reduction %d %s",
             weighting, placement, reduction, f32 ? "f32" : "f64");
    check_loss(what, out.loss, want_loss, tol);
    check_vector_rel(what, gc, want_gc, M, tol);
    check_vector_rel(what, gr, want_gr, M, tol);
    assert_true(out.stat[RPO_STAT_MARGIN] == 0.0);
    assert_true(out.stat[RPO_STAT_ACCURACY] == 0.0);
    check_loss(what, out.stat[RPO_STAT_REWARD_CHOSEN], -2.0 * beta, tol);
    check_loss(what, out.stat[RPO_STAT_REWARD_REJECTED], -2.0 * beta, tol);
    rpo_ctx_free(ctx);
}

static void test_all_equal_log_probs(void **state)
{
    (void)state;
    for (size_t w = 0; w < sizeof weightings / sizeof *weightings; w++)
        for (size_t pl = 0; pl < sizeof placements / sizeof *placements; pl++)
            for (int red = RPO_REDUCTION_MEAN; red <= RPO_REDUCTION_SUM; red++)
                for (int f32 = 0; f32 <= 1; f32++)
                    all_equal_case(weightings[w], placements[pl], red, f32);
}

/* ---------------------------------------------------------------- limits */

#define SENTINEL_F32 (-1234.5f)

/* Leaves metrics in ctx from a successful call, so an error can be seen to
 * keep them. */
static void seed_metrics(rpo_ctx *ctx, double stats[6])
{
    const double pc[2] = {-3.0, -4.0}, pr[2] = {-5.0, -2.0};
    double loss;
    assert_status(rpo_loss_f64(ctx, 2, pc, NULL, 2, pr, NULL, 4, emb3, NULL,
                               &loss, NULL, NULL), RPO_OK);
    for (int s = RPO_STAT_LOSS; s <= RPO_STAT_ACCURACY; s++)
        assert_status(rpo_ctx_stat(ctx, s, &stats[s]), RPO_OK);
}

static void assert_metrics_kept(const rpo_ctx *ctx, const double stats[6])
{
    for (int s = RPO_STAT_LOSS; s <= RPO_STAT_ACCURACY; s++) {
        double now;
        assert_status(rpo_ctx_stat(ctx, s, &now), RPO_OK);
        assert_memory_equal(&now, &stats[s], sizeof now);
    }
}

/* rpo_loss_f32 on p must fail with RPO_ERR_RANGE, writing nothing and
 * keeping the metrics. want_loss / want_grads say which outputs to ask. */
static void expect_f32_range(const char *label, const sref_problem *p,
                             int want_loss, int want_grads)
{
    rpo_ctx *ctx = refcheck_ctx(p);
    double stats[6];
    seed_metrics(ctx, stats);
    refcheck_f32 f = refcheck_narrow_problem(p);
    float loss = SENTINEL_F32, gc[4], gr[4];
    assert_true(p->m <= 4 && p->n <= 4);
    for (size_t k = 0; k < 4; k++)
        gc[k] = gr[k] = SENTINEL_F32;
    int status = rpo_loss_f32(ctx, p->m, f.pc, f.rc, p->n, f.pr, f.rr, p->d,
                              f.e, f.f, want_loss ? &loss : NULL,
                              want_grads ? gc : NULL, want_grads ? gr : NULL);
    if (status != RPO_ERR_RANGE)
        fail_msg("%s: status %d (%s), want RPO_ERR_RANGE", label, status,
                 rpo_status_string(status));
    assert_true(loss == SENTINEL_F32);
    for (size_t k = 0; k < 4; k++)
        assert_true(gc[k] == SENTINEL_F32 && gr[k] == SENTINEL_F32);
    assert_metrics_kept(ctx, stats);
    refcheck_free_f32(&f);
    rpo_ctx_free(ctx);
}

/* Float32 log-probs at +-FLT_MAX make a = -2 FLT_MAX and b = 2 FLT_MAX, so
 * z = -4 FLT_MAX, which float64 holds. With beta = 1 the loss, about
 * 4 FLT_MAX, does not fit a float: RPO_ERR_RANGE for float32, the right
 * value for float64. With beta = 0.1 it fits, and the sum over three rows
 * does not again. The gradients (at most beta / M) always fit, so a
 * gradient-only float32 call succeeds. */
static void test_float32_near_max(void **state)
{
    (void)state;
    const double big = (double)FLT_MAX;
    const double pc[3] = {-big, -big, -big}, rc[3] = {big, big, big};
    const double pr[3] = {big, big, big}, rr[3] = {-big, -big, -big};
    for (size_t w = 0; w < sizeof weightings / sizeof *weightings; w++) {
        sref_problem p = base_problem(weightings[w], RPO_PLACEMENT_LOSS, 1.0);
        p.m = p.n = 3;
        p.d = 4;
        p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr; p.e = emb3;
        sref_result want;
        assert_int_equal(sref_compute(&p, &want), 0);
        assert_true(want.loss > (long double)FLT_MAX);
        refcheck_loss("FLT_MAX log-probs, beta 1", &p, &want, 0);
        sref_free(&want);
        expect_f32_range("FLT_MAX log-probs, beta 1, loss", &p, 1, 0);
        expect_f32_range("FLT_MAX log-probs, beta 1, loss and gradients", &p, 1, 1);

        /* gradients only: they fit */
        rpo_ctx *ctx = refcheck_ctx(&p);
        refcheck_f32 f = refcheck_narrow_problem(&p);
        float gc[3], gr[3];
        assert_status(rpo_loss_f32(ctx, 3, f.pc, f.rc, 3, f.pr, f.rr, 4, f.e, NULL,
                                   NULL, gc, gr), RPO_OK);
        for (size_t k = 0; k < 3; k++)
            assert_true(isfinite(gc[k]) && isfinite(gr[k]));
        refcheck_free_f32(&f);
        rpo_ctx_free(ctx);

        p.beta = 0.1; /* loss about 0.4 FLT_MAX: fits */
        assert_int_equal(sref_compute(&p, &want), 0);
        assert_true(want.loss < (long double)FLT_MAX);
        refcheck_loss("FLT_MAX log-probs, beta 0.1", &p, &want, 0);
        refcheck_loss("FLT_MAX log-probs, beta 0.1", &p, &want, 1);
        sref_free(&want);

        p.reduction = RPO_REDUCTION_SUM; /* three rows of 0.4 FLT_MAX: not */
        expect_f32_range("FLT_MAX log-probs, beta 0.1, sum", &p, 1, 1);
    }
}

/* A beta of 1e40 with contrasts of 1e-40: beta z is about 1, the loss is
 * moderate, but the gradients (about beta / M) exceed FLT_MAX. */
static void test_float32_gradient_overflow(void **state)
{
    (void)state;
    const double tiny = f32_exact(1e-40); /* a float32 subnormal */
    const double pc[2] = {tiny, -tiny}, pr[2] = {0.0, 0.0};
    sref_problem p = base_problem(RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO, 1e40);
    p.m = p.n = 2;
    p.pc = pc; p.pr = pr;
    sref_result want;
    assert_int_equal(sref_compute(&p, &want), 0);
    refcheck_loss("beta 1e40", &p, &want, 0);
    sref_free(&want);
    expect_f32_range("beta 1e40, gradients", &p, 0, 1);

    /* the loss alone fits */
    rpo_ctx *ctx = refcheck_ctx(&p);
    const float pc32[2] = {(float)tiny, (float)-tiny}, pr32[2] = {0.0f, 0.0f};
    float loss;
    assert_status(rpo_loss_f32(ctx, 2, pc32, NULL, 2, pr32, NULL, 0, NULL, NULL,
                               &loss, NULL, NULL), RPO_OK);
    assert_true(isfinite(loss) && loss > 0.0f);
    rpo_ctx_free(ctx);
}

/* Both gradients are computed when either is asked for, but only those
 * asked for must fit the output type. With M = 1, N = 4, uniform weights,
 * loss placement and z = 0, dL/dpc = -beta/2 and dL/dpr_j = beta/8: for
 * beta = 1.6e39 the rejected gradients (2e38) fit a float, the chosen one
 * (8e38) does not. Asking for the rejected ones alone must succeed. */
static void test_float32_unrequested_gradient(void **state)
{
    (void)state;
    const float pc[1] = {-3.0f}, pr[4] = {-3.0f, -3.0f, -3.0f, -3.0f};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_LOSS, 1.6e39, 0.5, 0.8,
              RPO_REDUCTION_MEAN);
    float loss = 0.0f, gc[1] = {SENTINEL_F32}, gr[4];
    assert_status(rpo_loss_f32(ctx, 1, pc, NULL, 4, pr, NULL, 0, NULL, NULL,
                               &loss, NULL, gr), RPO_OK);
    check_loss("unrequested gradient: loss", (double)loss, log(2.0), TOL_F32);
    for (size_t j = 0; j < 4; j++)
        check_loss("unrequested gradient: grad_rejected", (double)gr[j], 2e38, TOL_F32);
    assert_status(rpo_loss_f32(ctx, 1, pc, NULL, 4, pr, NULL, 0, NULL, NULL,
                               &loss, gc, gr), RPO_ERR_RANGE);
    assert_true(gc[0] == SENTINEL_F32);
    rpo_ctx_free(ctx);
}

/* Subnormal log-probs: contrasts of a few 1e-45 leave every pair at
 * softplus(0) to many digits. */
static void test_subnormal_log_probs(void **state)
{
    (void)state;
    const double t = 0x1p-149; /* FLT_TRUE_MIN, which is C11 */
    const double pc[3] = {t, 2 * t, -t}, rc[3] = {0.0, t, t};
    const double pr[2] = {-3 * t, 5 * t}, rr[2] = {t, -t};
    for (size_t w = 0; w < 3; w += 2) { /* uniform and embedding: M != N */
        sref_problem p = base_problem(weightings[w], RPO_PLACEMENT_AUTO, 1.0);
        p.m = 3; p.n = 2; p.d = 4;
        p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr;
        p.e = emb3; p.f = emb3 + 4;
        refcheck_all("subnormal log-probs", &p);
    }
}

/* Float64 log-probs at +-DBL_MAX: the log-ratio 2 DBL_MAX does not fit a
 * double. With beta = 1 neither does the loss: RPO_ERR_RANGE, nothing
 * written. With beta = 1e-300 every true result fits; the library may
 * still refuse with RPO_ERR_RANGE (it forms the log-ratio in double), but
 * if it answers, the answer must be right. */
static void test_float64_near_max(void **state)
{
    (void)state;
    const double big = DBL_MAX;
    const double pc[2] = {-big, big}, rc[2] = {big, -big};
    const double pr[2] = {big, 0.0}, rr[2] = {-big, 0.0};
    sref_problem p = base_problem(RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO, 1.0);
    p.m = p.n = 2;
    p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr;

    rpo_ctx *ctx = refcheck_ctx(&p);
    double stats[6];
    seed_metrics(ctx, stats);
    double loss = -1.0, gc[2] = {-1.0, -1.0}, gr[2] = {-1.0, -1.0};
    assert_status(rpo_loss_f64(ctx, 2, pc, rc, 2, pr, rr, 0, NULL, NULL,
                               &loss, gc, gr), RPO_ERR_RANGE);
    assert_true(loss == -1.0 && gc[0] == -1.0 && gc[1] == -1.0 &&
                gr[0] == -1.0 && gr[1] == -1.0);
    assert_metrics_kept(ctx, stats);

    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1e-300), RPO_OK);
    int status = rpo_loss_f64(ctx, 2, pc, rc, 2, pr, rr, 0, NULL, NULL,
                              &loss, gc, gr);
    rpo_ctx_free(ctx);
    if (status == RPO_ERR_RANGE)
        return;
    assert_status(status, RPO_OK);
    p.beta = 1e-300;
    sref_result want;
    assert_int_equal(sref_compute(&p, &want), 0);
    refcheck_loss("DBL_MAX log-probs, beta 1e-300", &p, &want, 0);
    sref_free(&want);
}

/* Huge float64 log-probs whose scaled contrasts are moderate. */
static void test_float64_huge_log_probs(void **state)
{
    (void)state;
    const double pc[3] = {1e300, -2e300, 5e299}, rc[3] = {-1e300, 1e300, 0.0};
    const double pr[2] = {3e300, -1e300}, rr[2] = {1e300, 1e300};
    for (size_t w = 0; w < 3; w += 2) {
        sref_problem p = base_problem(weightings[w], RPO_PLACEMENT_AUTO, 1e-300);
        p.m = 3; p.n = 2; p.d = 4;
        p.pc = pc; p.rc = rc; p.pr = pr; p.rr = rr;
        p.e = emb3; p.f = emb3 + 4;
        sref_result want;
        assert_int_equal(sref_compute(&p, &want), 0);
        refcheck_loss("log-probs 1e300, beta 1e-300", &p, &want, 0);
        sref_free(&want);
    }
}

/* Cosines do not depend on a row's length, so prompts scaled to the edge of
 * float64 (entries up to 1.7e308, where the squared norm overflows) and of
 * float32, or down to subnormals, must give the weights of the unscaled
 * rows (at DBL_MAX even the norm itself exceeds DBL_MAX). Subnormal rows are shorter than the 1e-12 norm floor, so they act
 * as (almost) zero rows, which the reference reproduces. */
static void test_extreme_embedding_scales(void **state)
{
    (void)state;
    enum { M = 3, N = 3, D = 4 };
    const double pc[M] = {-3.0, -1.0, -2.0}, pr[N] = {-2.5, -4.0, -0.5};
    /* 0x1p1002: a norm above 2^1000 that a double still holds, so the rows
     * are divided by it rather than multiplied by its subnormal inverse */
    const double scales[] = {DBL_MAX, 0x1p1002, 1e300, 1e-300, 0x1p-1064};
    for (size_t s = 0; s < sizeof scales / sizeof *scales; s++) {
        double e[M * D], f[N * D];
        for (size_t k = 0; k < M * D; k++) {
            e[k] = emb3[k] * scales[s];
            f[k] = emb3[(k + D) % (M * D)] * scales[s];
        }
        sref_problem p = base_problem(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 1.0);
        p.m = M; p.n = N; p.d = D;
        p.pc = pc; p.pr = pr; p.e = e; p.f = f;
        sref_result want;
        assert_int_equal(sref_compute(&p, &want), 0);
        char label[64];
        snprintf(label, sizeof label, "embeddings scaled by %g", scales[s]);
        refcheck_loss(label, &p, &want, 0);
        sref_free(&want);
        long double w[M * N];
        assert_int_equal(sref_weights(&p, w), 0);
        refcheck_weights(label, &p, w, 0);
    }
    /* Sides above the dots kernels' 160 rows go through packed tiles: all
     * rows beyond 2^1000 (divided, not multiplied by the inverse), and one
     * such chosen row among ordinary ones (a tile holding both kinds). */
    {
        enum { BIG = 168 };
        double *e = malloc(BIG * D * sizeof *e), *f = malloc(BIG * D * sizeof *f);
        long double *w = malloc(BIG * BIG * sizeof *w);
        double pcb[BIG], prb[BIG];
        assert_true(e != NULL && f != NULL && w != NULL);
        for (int c = 0; c < 2; c++) {
            for (size_t k = 0; k < BIG * D; k++) {
                const double base = emb3[k % (M * D)] + 0.01 * (double)(k / (M * D));
                e[k] = base * (c == 0 ? 0x1p1002 : k < D ? 0x1p1010 : 1.0);
                f[k] = (emb3[(k + D) % (M * D)] - 0.005 * (double)(k / D % 7)) *
                       (c == 0 ? 0x1p1002 : 1.0);
            }
            for (size_t i = 0; i < BIG; i++) {
                pcb[i] = -1.0 - 0.01 * (double)i;
                prb[i] = -2.0 + 0.01 * (double)i;
            }
            sref_problem p = base_problem(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 1.0);
            p.m = p.n = BIG;
            p.d = D;
            p.pc = pcb; p.pr = prb; p.e = e; p.f = f;
            assert_int_equal(sref_weights(&p, w), 0);
            refcheck_weights(c == 0 ? "168 rows scaled by 2^1002"
                                    : "168 rows, one scaled by 2^1010", &p, w, 0);
        }
        free(e);
        free(f);
        free(w);
    }
    /* float32 prompts at FLT_MAX */
    double e[M * D], f[N * D];
    for (size_t k = 0; k < M * D; k++) {
        e[k] = f32_exact(emb3[k] * (double)FLT_MAX);
        f[k] = f32_exact(emb3[(k + D) % (M * D)] * (double)FLT_MAX);
    }
    sref_problem p = base_problem(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 1.0);
    p.m = M; p.n = N; p.d = D;
    p.pc = pc; p.pr = pr; p.e = e; p.f = f;
    refcheck_all("embeddings at FLT_MAX", &p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_beta_z_1e4),
        cmocka_unit_test(test_beta_z_1e30),
        cmocka_unit_test(test_tau_range),
        cmocka_unit_test(test_zero_embedding_rows),
        cmocka_unit_test(test_all_equal_log_probs),
        cmocka_unit_test(test_float32_near_max),
        cmocka_unit_test(test_float32_gradient_overflow),
        cmocka_unit_test(test_float32_unrequested_gradient),
        cmocka_unit_test(test_subnormal_log_probs),
        cmocka_unit_test(test_float64_near_max),
        cmocka_unit_test(test_float64_huge_log_probs),
        cmocka_unit_test(test_extreme_embedding_scales),
    };
    return cmocka_run_group_tests_name("extremes", tests, NULL, NULL);
}
