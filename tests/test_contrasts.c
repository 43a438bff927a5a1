/*
 * Effective contrasts (rpo.h, "Effective contrasts"; docs/extensions.md
 * section 10): RPO_PARAM_TARGET_CONTRASTS and the two statistics of W's
 * shape. Judged against long double written here:
 *   - the solved weights against a plain long-double bisection of each
 *     row's temperature on the cosines, and exp(entropy) of the returned
 *     rows within the documented tolerance of k (float64 1e-9, float32
 *     1e-5), on every kernel set, paired and unpaired;
 *   - RPO_STAT_EFFECTIVE_CONTRASTS and RPO_STAT_DIAGONAL_WEIGHT against
 *     the entropies and diagonal computed from the returned W (or the
 *     caller's W, normalised by its magnitudes) for every weighting and
 *     every call that forms W; row blocks' shares add up;
 *   - the embedding gradients with k > 0 against central finite
 *     differences of the loss with each row's temperature held at its
 *     solved value (row blocks of one row each, k = 0, tau = tau_i);
 *   - the same bits for every thread count;
 *   - k where it cannot be reached (k = N, N = 1, ties at the maximum),
 *     hostile values at set and call time, and weightings that ignore k.
 */
#define RPO_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "kernel_sets.h"

typedef long double ld;

#define MAXM 80
#define MAXN 80
#define MAXD 224

typedef struct problem {
    size_t m, n, d;
    int paired;
    double pc[MAXM], rc[MAXM], pr[MAXN], rr[MAXN];
    double e[MAXM * MAXD], f[MAXN * MAXD];
} problem;

static problem *make_problem(uint64_t seed, size_t m, size_t n, size_t d, int paired)
{
    test_rng rng = {seed};
    problem *P = calloc(1, sizeof *P);
    assert_non_null(P);
    P->m = m;
    P->n = paired ? m : n;
    P->d = d;
    P->paired = paired;
    rng_fill(&rng, P->pc, m, -12, -2);
    rng_fill(&rng, P->rc, m, -12, -2);
    rng_fill(&rng, P->pr, P->n, -12, -2);
    rng_fill(&rng, P->rr, P->n, -12, -2);
    rng_fill(&rng, P->e, m * d, -1, 1);
    rng_fill(&rng, P->f, P->n * d, -1, 1);
    /* prompts around a few topics, so rows differ from uniform */
    for (size_t i = 0; i < m; i++)
        P->e[i * d + i % 4] += 2.0;
    for (size_t j = 0; j < P->n; j++)
        P->f[j * d + j % 4] += 2.0;
    /* float32-exact inputs: both entry points see the same numbers */
    for (size_t k = 0; k < m * d; k++)
        P->e[k] = (double)(float)P->e[k];
    for (size_t k = 0; k < P->n * d; k++)
        P->f[k] = (double)(float)P->f[k];
    return P;
}

static const double *rejected_emb(const problem *P)
{
    return P->paired ? NULL : P->f;
}

/* ---- long-double references ------------------------------------------ */

/* cos (m, n) of the rows, normalised as e / max(||e||, 1e-12). */
static void ld_cosines(const problem *P, ld *cos)
{
    const double *f = P->paired ? P->e : P->f;
    for (size_t i = 0; i < P->m; i++)
        for (size_t j = 0; j < P->n; j++) {
            ld ee = 0, ff = 0, ef = 0;
            for (size_t k = 0; k < P->d; k++) {
                const ld a = (ld)P->e[i * P->d + k], b = (ld)f[j * P->d + k];
                ee += a * a;
                ff += b * b;
                ef += a * b;
            }
            cos[i * P->n + j] = ef / (fmaxl(sqrtl(ee), 1e-12L) * fmaxl(sqrtl(ff), 1e-12L));
        }
}

/* w (n) = softmax((c - 1) / tau); tau = infinity gives the uniform row. */
static void ld_softmax_row(const ld *c, size_t n, ld tau, ld *w)
{
    ld top = c[0], z = 0;
    for (size_t j = 1; j < n; j++)
        top = fmaxl(top, c[j]);
    for (size_t j = 0; j < n; j++) {
        w[j] = isinf(tau) ? 1.0L : expl((c[j] - top) / tau);
        z += w[j];
    }
    for (size_t j = 0; j < n; j++)
        w[j] /= z;
}

/* -sum_j w_j log w_j, 0 log 0 = 0. */
static ld ld_entropy(const ld *w, size_t n)
{
    ld h = 0;
    for (size_t j = 0; j < n; j++)
        if (w[j] > 0)
            h -= w[j] * logl(w[j]);
    return h;
}

/* The temperature at which exp(entropy) = k, by plain bisection on
 * log tau over the library's bracket [2^-20, 2^20]. */
static ld ld_solve_tau(const ld *c, size_t n, ld k)
{
    if (k >= (ld)n)
        return (ld)INFINITY;
    ld w[MAXN];
    ld lo = logl(0x1p-20L), hi = logl(0x1p20L);   /* in log tau */
    for (int it = 0; it < 200; it++) {
        const ld mid = 0.5L * (lo + hi);
        ld_softmax_row(c, n, expl(mid), w);
        if (ld_entropy(w, n) > logl(k))
            hi = mid;
        else
            lo = mid;
    }
    return expl(0.5L * (lo + hi));
}

/* The shape of a row-major W (m, n) in long double: mean exp(entropy)
 * of the rows normalised by their magnitudes (0 for a zero row), and
 * the mean diagonal when m == n (else 0). */
static void ld_shape(const double *w, size_t m, size_t n, double *contrasts,
                     double *diagonal)
{
    ld c = 0, dg = 0, p[MAXN];
    for (size_t i = 0; i < m; i++) {
        ld sum = 0;
        for (size_t j = 0; j < n; j++)
            sum += fabsl((ld)w[i * n + j]);
        if (sum > 0) {
            for (size_t j = 0; j < n; j++)
                p[j] = fabsl((ld)w[i * n + j]) / sum;
            c += expl(ld_entropy(p, n));
        }
        if (m == n)
            dg += (ld)w[i * n + i];
    }
    *contrasts = (double)(c / (ld)m);
    *diagonal = (double)(dg / (ld)m);
}

static double stat_of(rpo_ctx *ctx, int stat)
{
    double v;
    assert_status(rpo_ctx_stat(ctx, stat, &v), RPO_OK);
    return v;
}

static rpo_ctx *embedding_ctx(int ks, double k)
{
    rpo_ctx *ctx = context_on(ks);
    if (ctx == NULL)
        return NULL;
    configure(ctx, RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.5, 0.3, 0.8,
              RPO_REDUCTION_MEAN);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, k), RPO_OK);
    return ctx;
}

/* W of the context's weighting, in float64 or through float32. */
static void weights_of(rpo_ctx *ctx, const problem *P, int f32, double *w)
{
    if (!f32) {
        assert_status(rpo_weights_f64(ctx, P->m, P->n, P->d, P->e, rejected_emb(P), w),
                      RPO_OK);
        return;
    }
    float *e32 = malloc(P->m * P->d * sizeof *e32), *f32v = malloc(P->n * P->d * sizeof *f32v);
    float *w32 = malloc(P->m * P->n * sizeof *w32);
    assert_true(e32 != NULL && f32v != NULL && w32 != NULL);
    to_f32(e32, P->e, P->m * P->d);
    to_f32(f32v, P->f, P->n * P->d);
    assert_status(rpo_weights_f32(ctx, P->m, P->n, P->d, e32, P->paired ? NULL : f32v, w32),
                  RPO_OK);
    to_f64(w, w32, P->m * P->n);
    free(e32);
    free(f32v);
    free(w32);
}

/* ---- the solve --------------------------------------------------------- */

/* Every row of W against the long-double bisection's row, and its
 * exp(entropy) against k; the statistics against W itself. */
static void check_solved(const problem *P, int ks, int f32, double k)
{
    rpo_ctx *ctx = embedding_ctx(ks, k);
    if (ctx == NULL)
        return;
    double *w = malloc(P->m * P->n * sizeof *w);
    ld *cos = malloc(P->m * P->n * sizeof *cos), ref[MAXN], got[MAXN];
    assert_true(w != NULL && cos != NULL);
    weights_of(ctx, P, f32, w);
    ld_cosines(P, cos);
    /* the float32 path computes the cosines in float: the rows follow
     * them to a few float ulps over tau */
    const double w_tol = f32 ? 2e-4 : 1e-7, h_tol = f32 ? 1e-5 : 1e-9;
    for (size_t i = 0; i < P->m; i++) {
        const ld tau = ld_solve_tau(cos + i * P->n, P->n, (ld)k);
        ld_softmax_row(cos + i * P->n, P->n, tau, ref);
        for (size_t j = 0; j < P->n; j++) {
            got[j] = (ld)w[i * P->n + j];
            if (!(fabsl(got[j] - ref[j]) <= (ld)w_tol))
                fail_msg("%s k %g ks %d row %zu col %zu: W %.17g, bisection %.17Lg",
                         f32 ? "f32" : "f64", k, ks, i, j, w[i * P->n + j], ref[j]);
        }
        const double eff = (double)expl(ld_entropy(got, P->n));
        if (!(fabs(eff / k - 1.0) <= h_tol))
            fail_msg("%s k %g ks %d row %zu: exp(H) %.17g", f32 ? "f32" : "f64", k,
                     ks, i, eff);
    }
    double contrasts, diagonal;
    ld_shape(w, P->m, P->n, &contrasts, &diagonal);
    check_loss("effective contrasts", stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS),
               contrasts, f32 ? 1e-5 : 1e-12);
    check_loss("diagonal", stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT), diagonal,
               f32 ? 1e-6 : 1e-14);
    free(w);
    free(cos);
    rpo_ctx_free(ctx);
}

static void test_solved_rows_match_a_long_double_bisection(void **state)
{
    (void)state;
    static const double ks_f64[] = {1.0, 1.5, 4.0, 11.25, 23.0};
    problem *unpaired = make_problem(11, 9, 24, 5, 0);
    problem *paired = make_problem(12, 24, 24, 7, 1);
    for (size_t s = 0; s < KERNEL_SETS; s++)
        for (size_t q = 0; q < sizeof ks_f64 / sizeof ks_f64[0]; q++) {
            check_solved(unpaired, kernel_sets[s], 0, ks_f64[q]);
            check_solved(paired, kernel_sets[s], 0, ks_f64[q]);
        }
    free(unpaired);
    free(paired);
    /* large enough for the float32 path (plan.c's F32_MIN_WORK) */
    problem *big = make_problem(13, 72, 72, MAXD, 0);
    problem *big_paired = make_problem(14, 72, 72, MAXD, 1);
    for (size_t s = 0; s < (small_run() ? 1 : KERNEL_SETS); s++) {
        check_solved(big, kernel_sets[s], 1, 3.0);
        check_solved(big_paired, kernel_sets[s], 1, 8.5);
        check_solved(big, kernel_sets[s], 0, 3.0);
    }
    free(big);
    free(big_paired);
}

/* k = N: the uniform row exactly; N = 1: the row 1; ties at the maximum
 * with k below their count: exp(H) stays at about the count. */
static void test_unreachable_targets(void **state)
{
    (void)state;
    problem *P = make_problem(21, 5, 6, 4, 0);
    rpo_ctx *ctx = embedding_ctx(RPO_KERNELS_AUTO, 6.0);
    double w[5 * 6];
    weights_of(ctx, P, 0, w);
    for (size_t k = 0; k < 5 * 6; k++)
        assert_true(w[k] == 1.0 / 6.0);
    assert_true(fabs(stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS) - 6.0) < 1e-14);
    /* the uniform rows do not depend on the embeddings */
    double loss, ge[5 * 4], gf[6 * 4];
    assert_status(rpo_loss_embed_grad_f64(ctx, 5, P->pc, P->rc, 6, P->pr, P->rr, 4, P->e,
                                          P->f, &loss, NULL, NULL, ge, gf), RPO_OK);
    for (size_t k = 0; k < 5 * 4; k++)
        assert_true(ge[k] == 0.0);

    /* N = 1: k must be 1, the row is 1 */
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 1.0), RPO_OK);
    assert_status(rpo_weights_f64(ctx, 5, 1, 4, P->e, P->f, w), RPO_OK);
    for (size_t i = 0; i < 5; i++)
        assert_true(w[i] == 1.0);
    assert_true(stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS) == 1.0);

    /* every rejected prompt of row 0's maximum twice (columns 0 and 3
     * equal, and nearest to chosen row 0): k = 1 cannot be reached, the
     * row is about half and half */
    memcpy(P->f + 3 * 4, P->f, 4 * sizeof(double));
    memcpy(P->e, P->f, 4 * sizeof(double));
    assert_status(rpo_weights_f64(ctx, 5, 6, 4, P->e, P->f, w), RPO_OK);
    assert_true(fabs(w[0] - 0.5) < 1e-6 && fabs(w[3] - 0.5) < 1e-6);
    ld row[6];
    for (size_t j = 0; j < 6; j++)
        row[j] = (ld)w[j];
    assert_true(fabsl(expl(ld_entropy(row, 6)) - 2.0L) < 1e-5L);
    rpo_ctx_free(ctx);
    free(P);
}

/* ---- the statistics of every weighting and call ----------------------- */

/* The statistics of a loss-type call against ld_shape of w. */
static void check_stats(rpo_ctx *ctx, const char *what, const double *w, size_t m,
                        size_t n, double tol)
{
    double contrasts, diagonal;
    ld_shape(w, m, n, &contrasts, &diagonal);
    char name[96];
    snprintf(name, sizeof name, "%s: effective contrasts", what);
    check_loss(name, stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS), contrasts, tol);
    snprintf(name, sizeof name, "%s: diagonal", what);
    check_loss(name, stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT), diagonal, tol);
}

static void test_stats_of_every_weighting(void **state)
{
    (void)state;
    static const int weightings[] = {RPO_WEIGHTING_UNIFORM, RPO_WEIGHTING_DIAGONAL,
                                     RPO_WEIGHTING_EMBEDDING, RPO_WEIGHTING_SINKHORN};
    for (int paired = 0; paired <= 1; paired++)
        for (size_t q = 0; q < 4; q++) {
            const int weighting = weightings[q];
            if (weighting == RPO_WEIGHTING_DIAGONAL && !paired)
                continue;
            problem *P = make_problem(31 + q, 6, 8, 5, paired);
            for (int target = 0; target <= 1; target++) {
                rpo_ctx *ctx = rpo_ctx_create();
                configure(ctx, weighting, RPO_PLACEMENT_AUTO, 0.5, 0.3, 0.7,
                          RPO_REDUCTION_MEAN);
                assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS,
                                          target ? 2.5 : 0.0), RPO_OK);
                char what[64];
                snprintf(what, sizeof what, "weighting %d paired %d k %d", weighting,
                         paired, target);
                double w[6 * 8], loss, ga[8], gb[8], ge[8 * 5];
                weights_of(ctx, P, 0, w);
                check_stats(ctx, what, w, P->m, P->n, 1e-12);
                /* a loss call forms the same W */
                assert_status(rpo_loss_f64(ctx, P->m, P->pc, P->rc, P->n, P->pr, P->rr,
                                           P->d, P->e, rejected_emb(P), &loss, ga, gb),
                              RPO_OK);
                check_stats(ctx, what, w, P->m, P->n, 1e-12);
                if (weighting != RPO_WEIGHTING_SINKHORN) {
                    assert_status(rpo_loss_embed_grad_f64(ctx, P->m, P->pc, P->rc, P->n,
                                                          P->pr, P->rr, P->d, P->e,
                                                          rejected_emb(P), &loss, ga, gb,
                                                          ge, NULL), RPO_OK);
                    check_stats(ctx, what, w, P->m, P->n, 1e-12);
                }
                /* an objective */
                rpo_batch_f64 batch;
                memset(&batch, 0, sizeof batch);
                batch.size = sizeof batch;
                batch.m = P->m;
                batch.n = P->n;
                batch.d = P->d;
                batch.policy_chosen = P->pc;
                batch.ref_chosen = P->rc;
                batch.policy_rejected = P->pr;
                batch.ref_rejected = P->rr;
                batch.chosen_emb = P->e;
                batch.rejected_emb = rejected_emb(P);
                rpo_results_f64 results;
                memset(&results, 0, sizeof results);
                results.size = sizeof results;
                results.loss = &loss;
                assert_status(rpo_objective_f64(ctx, &batch, &results), RPO_OK);
                check_stats(ctx, what, w, P->m, P->n, 1e-12);
                rpo_ctx_free(ctx);
            }
            free(P);
        }
}

/* The caller's weights: any finite values, negative and zero rows too. */
static void test_stats_of_the_callers_weights(void **state)
{
    (void)state;
    problem *P = make_problem(41, 7, 7, 3, 1);
    test_rng rng = {42};
    double w[7 * 7], loss;
    float w32[7 * 7], pc[7], rc[7], pr[7], rr[7], loss32;
    rng_fill(&rng, w, 7 * 7, -2, 3);
    for (size_t j = 0; j < 7; j++)
        w[2 * 7 + j] = 0.0;          /* a row of zeros: 0 contrasts */
    w[4 * 7 + 1] = 0.0;              /* 0 log 0 = 0 */
    w[5 * 7 + 5] = 5e306;            /* huge: |w| log |w| would overflow */
    for (int f32 = 0; f32 <= 1; f32++) {
        rpo_ctx *ctx = rpo_ctx_create();
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 3.0), RPO_OK);
        /* (on the loss: 1e300 inside the logit would overflow) */
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, RPO_PLACEMENT_LOSS), RPO_OK);
        if (f32) {
            w[5 * 7 + 5] = 1e30;
            to_f32(w32, w, 7 * 7);
            to_f64(w, w32, 7 * 7);
            to_f32(pc, P->pc, 7);
            to_f32(rc, P->rc, 7);
            to_f32(pr, P->pr, 7);
            to_f32(rr, P->rr, 7);
            assert_status(rpo_loss_weighted_f32(ctx, 7, pc, rc, 7, pr, rr, w32, &loss32,
                                                NULL, NULL), RPO_OK);
        } else {
            assert_status(rpo_loss_weighted_f64(ctx, 7, P->pc, P->rc, 7, P->pr, P->rr, w,
                                                &loss, NULL, NULL), RPO_OK);
        }
        check_stats(ctx, f32 ? "caller f32" : "caller f64", w, 7, 7, 1e-12);
        rpo_ctx_free(ctx);
    }
    free(P);
}

/* The caller's diagonal may be as large as the type allows: its mean is
 * finite although the sum of its entries is not (a fuzzer's find). */
static void test_huge_callers_diagonal(void **state)
{
    (void)state;
    const double zero[2] = {0.0, 0.0}, w[2 * 2] = {1e308, 0.0, 0.0, 1.5e308};
    double loss, part[RPO_PARTIAL_COUNT], gc[2], gr[2];
    rpo_ctx *ctx = rpo_ctx_create();
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, RPO_PLACEMENT_LOSS), RPO_OK);
    /* log-ratios 0: each pair's loss is log 2, the weighted mean finite */
    assert_status(rpo_loss_weighted_f64(ctx, 2, zero, zero, 2, zero, zero, w, &loss,
                                        NULL, NULL), RPO_OK);
    check_loss("huge caller diagonal", stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT), 1.25e308,
               1e-15);
    /* a row block of both rows: the share is the whole mean */
    assert_status(rpo_loss_rows_weighted_f64(ctx, 2, 0, 2, zero, zero, 2, zero, zero, w,
                                             gc, part, gr), RPO_OK);
    check_loss("huge caller diagonal, rows", stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT),
               1.25e308, 1e-15);
    rpo_ctx_free(ctx);
}

/* Row blocks leave their shares in the context; they add up to the
 * whole call's statistics. */
static void test_row_block_shares_add_up(void **state)
{
    (void)state;
    for (int target = 0; target <= 1; target++)
        for (int paired = 0; paired <= 1; paired++) {
            problem *P = make_problem(51, 9, 9, 4, paired);
            const double *f = paired ? P->e : P->f;  /* gathered, for the blocks */
            rpo_ctx *ctx = embedding_ctx(RPO_KERNELS_AUTO, target ? 3.0 : 0.0);
            double loss, part[RPO_PARTIAL_COUNT], gc[9], gr[9];
            assert_status(rpo_loss_f64(ctx, 9, P->pc, P->rc, 9, P->pr, P->rr, 4, P->e,
                                       f, &loss, NULL, NULL), RPO_OK);
            const double whole_c = stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS);
            const double whole_d = stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT);
            const double whole_loss = stat_of(ctx, RPO_STAT_LOSS);
            double sum_c = 0.0, sum_d = 0.0;
            static const size_t cuts[] = {0, 4, 5, 9};
            for (size_t b = 0; b + 1 < 4; b++) {
                const size_t i0 = cuts[b], rows = cuts[b + 1] - cuts[b];
                assert_status(rpo_loss_rows_f64(ctx, 9, i0, rows, P->pc + i0, P->rc + i0,
                                                9, P->pr, P->rr, 4, P->e + i0 * 4, f,
                                                gc, NULL, part, gr, NULL), RPO_OK);
                sum_c += stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS);
                sum_d += stat_of(ctx, RPO_STAT_DIAGONAL_WEIGHT);
                /* the other metrics stay the whole call's */
                assert_true(stat_of(ctx, RPO_STAT_LOSS) == whole_loss);
            }
            check_loss("row shares: contrasts", sum_c, whole_c, 1e-13);
            check_loss("row shares: diagonal", sum_d, whole_d, 1e-13);
            assert_true(whole_d > 0.0);
            rpo_ctx_free(ctx);
            free(P);
        }
}

/* ---- the backward ------------------------------------------------------ */

/* The loss with row i's temperature held at tau[i]: row blocks of one
 * row each, k = 0, tau = tau[i]; their loss shares add up. */
static double fixed_temperature_loss(rpo_ctx *ctx, const problem *P, const ld *tau)
{
    const double *f = P->paired ? P->e : P->f;
    double total = 0.0, part[RPO_PARTIAL_COUNT];
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 0.0), RPO_OK);
    for (size_t i = 0; i < P->m; i++) {
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_TAU, (double)tau[i]), RPO_OK);
        assert_status(rpo_loss_rows_f64(ctx, P->m, i, 1, P->pc + i, P->rc + i, P->n, P->pr,
                                        P->rr, P->d, P->e + i * P->d, f, NULL, NULL, part,
                                        NULL, NULL), RPO_OK);
        total += part[RPO_PARTIAL_LOSS];
    }
    return total;
}

static void test_embedding_gradients_hold_the_temperatures(void **state)
{
    (void)state;
    for (int paired = 0; paired <= 1; paired++)
        for (int placement = RPO_PLACEMENT_LOGIT; placement <= RPO_PLACEMENT_LOSS;
             placement++) {
            problem *P = make_problem(61 + (uint64_t)placement, 5, 6, 3, paired);
            const double k = 2.5;
            rpo_ctx *ctx = embedding_ctx(RPO_KERNELS_AUTO, k);
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, placement), RPO_OK);
            double loss, ge[5 * 3], gf[6 * 3];
            assert_status(rpo_loss_embed_grad_f64(ctx, P->m, P->pc, P->rc, P->n, P->pr,
                                                  P->rr, P->d, P->e, rejected_emb(P),
                                                  &loss, NULL, NULL, ge, gf), RPO_OK);
            /* the temperatures of the unperturbed rows, solved here */
            ld cos[5 * 6], tau[5];
            ld_cosines(P, cos);
            for (size_t i = 0; i < P->m; i++)
                tau[i] = ld_solve_tau(cos + i * P->n, P->n, (ld)k);
            check_loss("fixed-temperature loss", fixed_temperature_loss(ctx, P, tau), loss,
                       1e-9);
            /* central differences in every embedding entry */
            const size_t sides = paired ? 1 : 2;
            for (size_t side = 0; side < sides; side++) {
                double *x = side == 0 ? P->e : P->f;
                const double *g = side == 0 ? ge : gf;
                const size_t count = (side == 0 ? P->m : P->n) * P->d;
                double fd[6 * 3];
                for (size_t q = 0; q < count; q++) {
                    const double keep = x[q], h = 1e-6;
                    x[q] = keep + h;
                    const double up = fixed_temperature_loss(ctx, P, tau);
                    x[q] = keep - h;
                    const double down = fixed_temperature_loss(ctx, P, tau);
                    x[q] = keep;
                    fd[q] = (up - down) / (2.0 * h);
                }
                check_vector_rel(side == 0 ? "dL/de" : "dL/df", g, fd, count, 1e-6);
            }
            rpo_ctx_free(ctx);
            free(P);
        }
}

/* ---- threads, hostile values, weightings that ignore k ---------------- */

static void test_same_bits_for_every_thread_count(void **state)
{
    (void)state;
    /* 200 x 200 x (96 + 32): above the work a call keeps on one thread */
    const size_t m = 200, d = 96, outs = m + m + m * d + 2;
    test_rng rng = {71};
    double *pc = malloc(m * sizeof *pc), *pr = malloc(m * sizeof *pr);
    double *e = malloc(m * d * sizeof *e);
    double *first = malloc(outs * sizeof *first), *out = malloc(outs * sizeof *out);
    assert_true(pc != NULL && pr != NULL && e != NULL && first != NULL && out != NULL);
    rng_fill(&rng, pc, m, -12, -2);
    rng_fill(&rng, pr, m, -12, -2);
    rng_fill(&rng, e, m * d, -1, 1);
    for (unsigned threads = 1; threads <= 4; threads++) {
        rpo_ctx *ctx = embedding_ctx(RPO_KERNELS_AUTO, 5.0);
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads), RPO_OK);
        double *ga = out, *gb = ga + m, *ge = gb + m, *loss = ge + m * d;
        assert_status(rpo_loss_embed_grad_f64(ctx, m, pc, NULL, m, pr, NULL, d, e, NULL,
                                              loss, ga, gb, ge, NULL), RPO_OK);
        loss[1] = stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS);
        assert_true(fabs(loss[1] - 5.0) < 5e-9);
        if (threads == 1)
            memcpy(first, out, outs * sizeof *out);
        else if (memcmp(first, out, outs * sizeof *out) != 0)
            fail_msg("threads = %u differs from threads = 1", threads);
        rpo_ctx_free(ctx);
    }
    free(pc);
    free(pr);
    free(e);
    free(first);
    free(out);
}

static void test_hostile_targets(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    static const double refused[] = {0.5, 1e-300, 0.999999, -1.0, -1e-300};
    for (size_t q = 0; q < sizeof refused / sizeof refused[0]; q++) {
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, refused[q]),
                      RPO_ERR_PARAM);
        assert_non_null(strstr(rpo_ctx_error_detail(ctx), "RPO_PARAM_TARGET_CONTRASTS"));
    }
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, (double)NAN), RPO_ERR_PARAM);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, (double)INFINITY), RPO_ERR_PARAM);
    double v, lo, hi;
    assert_status(rpo_ctx_get(ctx, RPO_PARAM_TARGET_CONTRASTS, &v), RPO_OK);
    assert_true(v == 0.0);
    assert_status(rpo_param_bounds(RPO_PARAM_TARGET_CONTRASTS, &lo, &hi), RPO_OK);
    assert_true(lo == 0.0 && hi > 1e300);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 1.0), RPO_OK);

    /* k > N at call time: a detail, nothing written, metrics kept */
    problem *P = make_problem(81, 4, 5, 3, 0);
    double loss = -7.0, ga[4] = {-7, -7, -7, -7}, w[4 * 5];
    assert_status(rpo_loss_f64(ctx, 4, P->pc, P->rc, 5, P->pr, P->rr, 3, P->e, P->f,
                               &loss, ga, NULL), RPO_OK);
    const double before = stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 5.5), RPO_OK);
    loss = -7.0;
    for (size_t i = 0; i < 4; i++)
        ga[i] = -7.0;
    for (size_t q = 0; q < 4 * 5; q++)
        w[q] = -7.0;
    assert_status(rpo_loss_f64(ctx, 4, P->pc, P->rc, 5, P->pr, P->rr, 3, P->e, P->f,
                               &loss, ga, NULL), RPO_ERR_PARAM);
    assert_non_null(strstr(rpo_ctx_error_detail(ctx), "exceeds n = 5"));
    assert_status(rpo_weights_f64(ctx, 4, 5, 3, P->e, P->f, w), RPO_ERR_PARAM);
    assert_status(rpo_loss_rows_f64(ctx, 8, 0, 4, P->pc, P->rc, 5, P->pr, P->rr, 3, P->e,
                                    P->f, ga, NULL, NULL, NULL, NULL), RPO_ERR_PARAM);
    assert_true(loss == -7.0 && ga[0] == -7.0 && ga[3] == -7.0);
    for (size_t q = 0; q < 4 * 5; q++)
        assert_true(w[q] == -7.0);
    assert_true(stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS) == before);
    /* no rows or no columns: nothing to solve */
    assert_status(rpo_loss_f64(ctx, 0, NULL, NULL, 5, P->pr, P->rr, 3, NULL, P->f, &loss,
                               NULL, NULL), RPO_OK);
    assert_true(stat_of(ctx, RPO_STAT_EFFECTIVE_CONTRASTS) == 0.0);

    /* the other weightings and the caller's weights ignore k: the same
     * bits as with k = 0 */
    for (int weighting = RPO_WEIGHTING_UNIFORM; weighting <= RPO_WEIGHTING_SINKHORN;
         weighting++) {
        if (weighting == RPO_WEIGHTING_EMBEDDING || weighting == RPO_WEIGHTING_DIAGONAL)
            continue;
        double with_k[4 * 5], without[4 * 5];
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 1e6), RPO_OK);
        assert_status(rpo_weights_f64(ctx, 4, 5, 3, P->e, P->f, with_k), RPO_OK);
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 0.0), RPO_OK);
        assert_status(rpo_weights_f64(ctx, 4, 5, 3, P->e, P->f, without), RPO_OK);
        assert_memory_equal(with_k, without, sizeof with_k);
    }
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, 1e6), RPO_OK);
    assert_status(rpo_loss_weighted_f64(ctx, 4, P->pc, P->rc, 5, P->pr, P->rr, w, &loss,
                                        NULL, NULL), RPO_OK);
    free(P);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_solved_rows_match_a_long_double_bisection),
        cmocka_unit_test(test_unreachable_targets),
        cmocka_unit_test(test_stats_of_every_weighting),
        cmocka_unit_test(test_stats_of_the_callers_weights),
        cmocka_unit_test(test_huge_callers_diagonal),
        cmocka_unit_test(test_row_block_shares_add_up),
        cmocka_unit_test(test_embedding_gradients_hold_the_temperatures),
        cmocka_unit_test(test_same_bits_for_every_thread_count),
        cmocka_unit_test(test_hostile_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
