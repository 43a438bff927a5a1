/*
 * RPO_WEIGHTING_SINKHORN against a second formulation: the textbook
 * Sinkhorn-Knopp scaling of the kernel exp(-C / epsilon), in long double,
 * iterated far past convergence. Also: the marginals and the statistics,
 * one iteration = the EMBEDDING softmax, column constraints a softmax
 * ignores, no NaN at a tiny epsilon, the loss over the plan,
 * and the requests that are refused.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "family_ref.h"
#include "testutil.h"

#define MAXM 8
#define MAXN 8
#define D 4

static void set(rpo_ctx *ctx, int param, double value)
{
    assert_status(rpo_ctx_set(ctx, param, value), RPO_OK);
}

static rpo_ctx *sinkhorn_ctx(double tau, double iters, double tol)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_SINKHORN);
    set(ctx, RPO_PARAM_TAU, tau);
    set(ctx, RPO_PARAM_SINKHORN_ITERS, iters);
    set(ctx, RPO_PARAM_SINKHORN_TOL, tol);
    return ctx;
}

/* u = (1/m) / (K v), v = (1/n) / (K^T u), then the plan's rows rescaled. */
static void plain_sinkhorn(size_t m, size_t n, const double *e, const double *f,
                           double eps, double *w)
{
    ld K[MAXM][MAXN], u[MAXM], v[MAXN];
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            K[i][j] = expl(-(1.0L - ref_cosine(e + i * D, f + j * D, D)) / (ld)eps);
    for (size_t j = 0; j < n; j++)
        v[j] = 1.0L;
    for (int it = 0; it < 20000; it++) {
        for (size_t i = 0; i < m; i++) {
            ld s = 0.0L;
            for (size_t j = 0; j < n; j++)
                s += K[i][j] * v[j];
            u[i] = (1.0L / (ld)m) / s;
        }
        for (size_t j = 0; j < n; j++) {
            ld s = 0.0L;
            for (size_t i = 0; i < m; i++)
                s += K[i][j] * u[i];
            v[j] = (1.0L / (ld)n) / s;
        }
    }
    for (size_t i = 0; i < m; i++) {
        ld s = 0.0L;
        for (size_t j = 0; j < n; j++)
            s += u[i] * K[i][j] * v[j];
        for (size_t j = 0; j < n; j++)
            w[i * n + j] = (double)(u[i] * K[i][j] * v[j] / s);
    }
}

static void random_embeddings(test_rng *rng, size_t rows, double *x)
{
    rng_fill(rng, x, rows * D, -1.0, 1.0);
}

static void test_matches_plain_sinkhorn(void **state)
{
    (void)state;
    test_rng rng = {21};
    const double taus[3] = {1.0, 0.5, 0.2};
    const size_t shapes[3][2] = {{5, 7}, {6, 6}, {8, 3}};
    for (int s = 0; s < 3; s++) {
        const size_t m = shapes[s][0], n = shapes[s][1];
        double e[MAXM * D], f[MAXN * D], want[MAXM * MAXN], got[MAXM * MAXN];
        random_embeddings(&rng, m, e);
        random_embeddings(&rng, n, f);
        plain_sinkhorn(m, n, e, f, taus[s], want);
        rpo_ctx *ctx = sinkhorn_ctx(taus[s], 1e6, 1e-15);
        assert_status(rpo_weights_f64(ctx, m, n, D, e, f, got), RPO_OK);
        check_vector_abs("sinkhorn plan", got, want, m * n, 1e-11);
        rpo_ctx_free(ctx);
    }
}

/* max_j |N * sum_i W_ij / M - 1| */
static double column_error(const double *w, size_t m, size_t n)
{
    double worst = 0.0;
    for (size_t j = 0; j < n; j++) {
        double s = 0.0;
        for (size_t i = 0; i < m; i++)
            s += w[i * n + j];
        worst = fmax(worst, fabs((double)n * s / (double)m - 1.0));
    }
    return worst;
}

static void test_marginals_and_stats(void **state)
{
    (void)state;
    test_rng rng = {22};
    const size_t m = 6, n = 5;
    double e[MAXM * D], f[MAXN * D], w[MAXM * MAXN], iters, err;
    random_embeddings(&rng, m, e);
    random_embeddings(&rng, n, f);

    /* converged: within tol, and rows sum to 1 */
    rpo_ctx *ctx = sinkhorn_ctx(0.3, 1000, 1e-10);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, w), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iters), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ERROR, &err), RPO_OK);
    assert_true(iters >= 2 && iters < 1000 && iters == floor(iters));
    assert_true(err <= 1e-10);
    assert_true(column_error(w, m, n) <= 1e-10 + 1e-14);
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++)
            s += w[i * n + j];
        check_loss("row sum", s, 1.0, 1e-14);
    }
    rpo_ctx_free(ctx);

    /* cut short: exactly the iterations allowed, and the error reported is
     * the column error of the weights returned */
    ctx = sinkhorn_ctx(0.05, 3, 0.0);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, w), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iters), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ERROR, &err), RPO_OK);
    assert_true(iters == 3.0);
    assert_true(err > 1e-6);
    check_loss("reported column error", err, column_error(w, m, n), 1e-12);
    rpo_ctx_free(ctx);
}

static void test_one_iteration_is_embedding(void **state)
{
    (void)state;
    test_rng rng = {23};
    const size_t m = 4, n = 7;
    double e[MAXM * D], f[MAXN * D], ws[MAXM * MAXN], we[MAXM * MAXN];
    random_embeddings(&rng, m, e);
    random_embeddings(&rng, n, f);
    rpo_ctx *ctx = sinkhorn_ctx(0.5, 1, 0.0);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, ws), RPO_OK);
    set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, we), RPO_OK);
    check_vector_abs("one iteration", ws, we, m * n, 1e-15);
    rpo_ctx_free(ctx);
}

/* Both chosen prompts are nearest to rejected prompt 0, so a row softmax
 * sends both there; a transport plan must also use column 1 (its columns
 * carry 1/N each) and at a small epsilon it finds the cheaper matching,
 * 0 -> 0 and 1 -> 1 (cost 0 + 0.89 against 1 + 0.006 the other way). */
static void test_plan_respects_columns(void **state)
{
    (void)state;
    const double e[2 * D] = {1, 0, 0, 0,   0.9, 0.1, 0, 0};
    const double f[2 * D] = {1, 0, 0, 0,   0, 1, 0, 0};
    double w[4];
    rpo_ctx *ctx = sinkhorn_ctx(0.01, 100000, 1e-12);
    assert_status(rpo_weights_f64(ctx, 2, 2, D, e, f, w), RPO_OK);
    assert_true(w[0] > 0.99 && w[3] > 0.99);
    set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING);
    assert_status(rpo_weights_f64(ctx, 2, 2, D, e, f, w), RPO_OK);
    assert_true(w[0] > 0.99 && w[2] > 0.99);
    rpo_ctx_free(ctx);
}

static void test_tiny_epsilon(void **state)
{
    (void)state;
    test_rng rng = {24};
    const size_t m = 5, n = 6;
    double e[MAXM * D], f[MAXN * D], w[MAXM * MAXN], err;
    random_embeddings(&rng, m, e);
    random_embeddings(&rng, n, f);
    rpo_ctx *ctx = sinkhorn_ctx(1e-300, 50, 1e-9);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, w), RPO_OK);
    for (size_t i = 0; i < m; i++) {
        double s = 0.0;
        for (size_t j = 0; j < n; j++) {
            assert_true(w[i * n + j] >= 0.0 && w[i * n + j] <= 1.0);
            s += w[i * n + j];
        }
        check_loss("row sum at tiny epsilon", s, 1.0, 1e-14);
    }
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ERROR, &err), RPO_OK);
    assert_true(err >= 0.0 && err <= DBL_MAX);
    rpo_ctx_free(ctx);
}

/* The loss over the plan is rpo_loss_weighted_* over rpo_weights_*'s
 * output, in LOSS placement when AUTO. */
static void test_loss_uses_plan(void **state)
{
    (void)state;
    test_rng rng = {25};
    const size_t m = 5, n = 4;
    double e[MAXM * D], f[MAXN * D], w[MAXM * MAXN];
    double pc[MAXM], rc[MAXM], pr[MAXN], rr[MAXN];
    random_embeddings(&rng, m, e);
    random_embeddings(&rng, n, f);
    rng_fill(&rng, pc, m, -20, -5); rng_fill(&rng, rc, m, -20, -5);
    rng_fill(&rng, pr, n, -20, -5); rng_fill(&rng, rr, n, -20, -5);
    rpo_ctx *ctx = sinkhorn_ctx(0.3, 500, 1e-12);
    set(ctx, RPO_PARAM_BETA, 0.5);
    double l1, l2, l3, gc1[MAXM], gc2[MAXM], gr1[MAXN], gr2[MAXN], iters;
    assert_status(rpo_loss_f64(ctx, m, pc, rc, n, pr, rr, D, e, f, &l1, gc1, gr1),
                  RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iters), RPO_OK);
    assert_true(iters >= 2);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, w), RPO_OK);
    assert_status(rpo_loss_weighted_f64(ctx, m, pc, rc, n, pr, rr, w, &l2, gc2, gr2),
                  RPO_OK);
    check_loss("plan loss", l1, l2, 1e-14);
    check_vector_rel("plan grad chosen", gc1, gc2, m, 1e-14);
    check_vector_rel("plan grad rejected", gr1, gr2, n, 1e-14);
    set(ctx, RPO_PARAM_PLACEMENT, RPO_PLACEMENT_LOSS);
    assert_status(rpo_loss_f64(ctx, m, pc, rc, n, pr, rr, D, e, f, &l3, NULL, NULL),
                  RPO_OK);
    assert_true(l3 == l1);
    /* a loss call with another weighting resets the Sinkhorn statistics */
    set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_UNIFORM);
    assert_status(rpo_loss_f64(ctx, m, pc, rc, n, pr, rr, 0, NULL, NULL, &l3,
                               NULL, NULL), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iters), RPO_OK);
    assert_true(iters == 0.0);
    rpo_ctx_free(ctx);
}

/* The plan couples every row: no row block; it is a constant of the
 * backward: no embedding gradient. Refused, nothing written. */
static void test_refused_requests(void **state)
{
    (void)state;
    test_rng rng = {26};
    double e[4 * D], f[4 * D], pc[4], pr[4];
    random_embeddings(&rng, 4, e);
    random_embeddings(&rng, 4, f);
    rng_fill(&rng, pc, 4, -9, -1);
    rng_fill(&rng, pr, 4, -9, -1);
    rpo_ctx *ctx = sinkhorn_ctx(0.5, 100, 1e-9);
    double g[4] = {5, 5, 5, 5}, ge[4 * D], stats[RPO_PARTIAL_COUNT] = {5, 5, 5, 5, 5};
    double loss = 5.0;
    for (size_t k = 0; k < 4 * D; k++)
        ge[k] = 5.0;
    assert_status(rpo_loss_rows_f64(ctx, 4, 0, 2, pc, NULL, 4, pr, NULL, D, e, f,
                                    g, NULL, stats, NULL, NULL), RPO_ERR_UNSUPPORTED);
    assert_status(rpo_loss_embed_grad_f64(ctx, 4, pc, NULL, 4, pr, NULL, D, e, f,
                                          &loss, g, NULL, ge, NULL),
                  RPO_ERR_UNSUPPORTED);
    assert_true(loss == 5.0 && g[0] == 5.0 && g[3] == 5.0 && stats[0] == 5.0 &&
                ge[0] == 5.0);
    /* without embedding gradients the same call is fine */
    assert_status(rpo_loss_embed_grad_f64(ctx, 4, pc, NULL, 4, pr, NULL, D, e, f,
                                          &loss, g, NULL, NULL, NULL), RPO_OK);
    rpo_ctx_free(ctx);
}

static void test_f32_follows_f64(void **state)
{
    (void)state;
    test_rng rng = {27};
    const size_t m = 5, n = 6;
    double e[MAXM * D], f[MAXN * D], w64[MAXM * MAXN], w[MAXM * MAXN];
    float e32[MAXM * D], f32[MAXN * D], w32[MAXM * MAXN];
    random_embeddings(&rng, m, e);
    random_embeddings(&rng, n, f);
    to_f32(e32, e, m * D);
    to_f32(f32, f, n * D);
    to_f64(e, e32, m * D);
    to_f64(f, f32, n * D);
    rpo_ctx *ctx = sinkhorn_ctx(0.4, 1000, 1e-12);
    assert_status(rpo_weights_f64(ctx, m, n, D, e, f, w64), RPO_OK);
    assert_status(rpo_weights_f32(ctx, m, n, D, e32, f32, w32), RPO_OK);
    to_f64(w, w32, m * n);
    check_vector_abs("f32 plan", w, w64, m * n, TOL_F32);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_plain_sinkhorn),
        cmocka_unit_test(test_marginals_and_stats),
        cmocka_unit_test(test_one_iteration_is_embedding),
        cmocka_unit_test(test_plan_respects_columns),
        cmocka_unit_test(test_tiny_epsilon),
        cmocka_unit_test(test_loss_uses_plan),
        cmocka_unit_test(test_refused_requests),
        cmocka_unit_test(test_f32_follows_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
