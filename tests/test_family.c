/*
 * The loss family (RPO_PARAM_LOSS and its settings) against tests/support/family_ref.h:
 *   - DIAGONAL, alpha = 1: every member equals TRL's paired loss and its
 *     gradients, also with label smoothing and without a reference;
 *   - any weighting, both placements, both logit scales, both reductions:
 *     the library equals the reference contrast over the same weights;
 *   - finite differences of the library itself, both placements;
 *   - the generic kernel agrees with the dedicated SIGMOID kernel;
 *   - ROW_MEAN makes uniform logit placement the plain mean of all pairs;
 *   - huge contrasts stay finite, or are reported as RPO_ERR_RANGE;
 *   - settings: bounds, defaults, refusals, EXO_PAIR without smoothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "family_ref.h"
#include "testutil.h"

#define NLOSS (RPO_LOSS_DISCOPOP + 1)

static const char *const loss_names[NLOSS] = {
    "sigmoid", "hinge", "ipo", "robust", "exo_pair", "bco_pair",
    "sppo_hard", "nca_pair", "apo_zero", "apo_down", "discopop"};

static void set(rpo_ctx *ctx, int param, double value)
{
    assert_status(rpo_ctx_set(ctx, param, value), RPO_OK);
}

static rpo_ctx *family_ctx(const ref_loss *p, int weighting, int placement,
                           int reduction)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    set(ctx, RPO_PARAM_WEIGHTING, weighting);
    set(ctx, RPO_PARAM_PLACEMENT, placement);
    set(ctx, RPO_PARAM_REDUCTION, reduction);
    set(ctx, RPO_PARAM_BETA, p->beta);
    set(ctx, RPO_PARAM_LOSS, p->loss);
    set(ctx, RPO_PARAM_LABEL_SMOOTHING, p->eps);
    set(ctx, RPO_PARAM_DISCOPOP_TAU, p->tau);
    return ctx;
}

/* The smoothing each member is tested with: EXO_PAIR needs eps > 0. */
static double smoothing_for(int loss, int variant)
{
    if (loss == RPO_LOSS_EXO_PAIR)
        return variant ? 0.2 : 1e-3;
    return variant ? 0.15 : 0.0;
}

/* Random log-probs: (M) chosen, (N) rejected, policy and reference. */
typedef struct batch {
    size_t m, n, d;
    double pc[8], rc[8], pr[8], rr[8];
    double a[8], b[8];
    double ce[8 * 3], re[8 * 3];
} batch;

static batch make_batch(test_rng *rng, size_t m, size_t n)
{
    batch B;
    memset(&B, 0, sizeof B);
    B.m = m;
    B.n = n;
    B.d = 3;
    rng_fill(rng, B.pc, m, -30.0, -5.0);
    rng_fill(rng, B.rc, m, -30.0, -5.0);
    rng_fill(rng, B.pr, n, -30.0, -5.0);
    rng_fill(rng, B.rr, n, -30.0, -5.0);
    rng_fill(rng, B.ce, m * 3, -1.0, 1.0);
    rng_fill(rng, B.re, n * 3, -1.0, 1.0);
    for (size_t i = 0; i < m; i++)
        B.a[i] = B.pc[i] - B.rc[i];
    for (size_t j = 0; j < n; j++)
        B.b[j] = B.pr[j] - B.rr[j];
    return B;
}

/* TRL's paired loss: DIAGONAL with alpha = 1 is (1/M) sum_i f(a_i, b_i). */
static void trl_paired_case(const ref_loss *p, test_rng *rng, int reference_free)
{
    batch B = make_batch(rng, 5, 5);
    if (reference_free) {
        memset(B.rc, 0, sizeof B.rc);
        memset(B.rr, 0, sizeof B.rr);
        memcpy(B.a, B.pc, sizeof B.a);
        memcpy(B.b, B.pr, sizeof B.b);
    }
    double want_loss = 0.0, want_gc[5], want_gr[5];
    for (size_t i = 0; i < 5; i++) {
        ld fa, fb;
        want_loss += (double)ref_pair(p, (ld)B.a[i], (ld)B.b[i], &fa, &fb) / 5.0;
        want_gc[i] = (double)(fa / 5.0L);
        want_gr[i] = (double)(fb / 5.0L);
    }
    rpo_ctx *ctx = family_ctx(p, RPO_WEIGHTING_DIAGONAL, RPO_PLACEMENT_AUTO,
                              RPO_REDUCTION_MEAN);
    set(ctx, RPO_PARAM_ALPHA, 1.0);
    double loss, gc[5], gr[5];
    assert_status(rpo_loss_f64(ctx, 5, B.pc, reference_free ? NULL : B.rc,
                               5, B.pr, reference_free ? NULL : B.rr, 0, NULL,
                               NULL, &loss, gc, gr), RPO_OK);
    char what[128];
    snprintf(what, sizeof what, "TRL %s eps %g", loss_names[p->loss], p->eps);
    check_loss(what, loss, want_loss, TOL_F64);
    check_vector_rel(what, gc, want_gc, 5, TOL_F64);
    check_vector_rel(what, gr, want_gr, 5, TOL_F64);
    rpo_ctx_free(ctx);
}

static void test_trl_paired(void **state)
{
    (void)state;
    test_rng rng = {42};
    for (int loss = 0; loss < NLOSS; loss++)
        for (int variant = 0; variant < 2; variant++) {
            ref_loss p = {loss, variant ? 0.5 : 0.1, smoothing_for(loss, variant),
                          variant ? 0.3 : 0.05};
            trl_paired_case(&p, &rng, 0);
            trl_paired_case(&p, &rng, 1);
        }
}

/* The weights of each weighting, from the reference. */
static void reference_weights(int weighting, const batch *B, double alpha,
                              double tau, double *w)
{
    if (weighting == RPO_WEIGHTING_UNIFORM)
        ref_uniform(B->m, B->n, w);
    else if (weighting == RPO_WEIGHTING_DIAGONAL)
        ref_diagonal(B->n, alpha, w);
    else
        ref_embedding(B->m, B->n, B->d, B->ce, B->re, tau, w);
}

static void contrast_case(const ref_loss *p, const batch *B, int weighting,
                          int placement, int scale, int reduction)
{
    const double alpha = 0.7, tau = 0.4;
    double w[8 * 8];
    reference_weights(weighting, B, alpha, tau, w);
    const int logit = placement == RPO_PLACEMENT_LOGIT;
    const double k = scale == RPO_LOGIT_SCALE_ROW_MEAN ? (double)B->n : 1.0;
    const double s = reduction == RPO_REDUCTION_MEAN ? 1.0 / (double)B->m : 1.0;
    double want_gc[8], want_gr[8];
    double want = ref_contrast(p, logit, k, s, B->m, B->a, B->n, B->b, w,
                               want_gc, want_gr);

    rpo_ctx *ctx = family_ctx(p, weighting, placement, reduction);
    set(ctx, RPO_PARAM_ALPHA, alpha);
    set(ctx, RPO_PARAM_TAU, tau);
    set(ctx, RPO_PARAM_LOGIT_SCALE, scale);
    double loss, gc[8], gr[8];
    assert_status(rpo_loss_f64(ctx, B->m, B->pc, B->rc, B->n, B->pr, B->rr,
                               B->d, B->ce, B->re, &loss, gc, gr), RPO_OK);
    char what[160];
    snprintf(what, sizeof what, "%s weighting %d placement %d scale %d red %d",
             loss_names[p->loss], weighting, placement, scale, reduction);
    check_loss(what, loss, want, TOL_F64);
    check_vector_rel(what, gc, want_gc, B->m, TOL_F64);
    check_vector_rel(what, gr, want_gr, B->n, TOL_F64);
    rpo_ctx_free(ctx);
}

static void test_contrast_matrix(void **state)
{
    (void)state;
    test_rng rng = {7};
    const batch unpaired = make_batch(&rng, 4, 6);
    const batch paired = make_batch(&rng, 5, 5);
    const int weightings[3] = {RPO_WEIGHTING_UNIFORM, RPO_WEIGHTING_DIAGONAL,
                               RPO_WEIGHTING_EMBEDDING};
    for (int loss = 0; loss < NLOSS; loss++) {
        ref_loss p = {loss, 0.3, smoothing_for(loss, 1), 0.1};
        for (int wi = 0; wi < 3; wi++)
            for (int placement = 1; placement <= 2; placement++)
                for (int scale = 0; scale <= 1; scale++)
                    for (int red = 0; red <= 1; red++)
                        contrast_case(&p, weightings[wi] == RPO_WEIGHTING_DIAGONAL
                                              ? &paired : &unpaired,
                                      weightings[wi], placement, scale, red);
    }
}

/* Central differences of the library's own loss, float64. */
static void finite_difference_case(const ref_loss *p, int placement, int scale)
{
    test_rng rng = {100u + (uint64_t)p->loss};
    batch B = make_batch(&rng, 4, 5);
    rpo_ctx *ctx = family_ctx(p, RPO_WEIGHTING_EMBEDDING, placement,
                              RPO_REDUCTION_MEAN);
    set(ctx, RPO_PARAM_LOGIT_SCALE, scale);
    double loss, gc[8], gr[8], fd_c[8], fd_r[8];
    assert_status(rpo_loss_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr, B.rr, B.d,
                               B.ce, B.re, &loss, gc, gr), RPO_OK);
    double *sides[2] = {B.pc, B.pr};
    double *fds[2] = {fd_c, fd_r};
    size_t counts[2] = {B.m, B.n};
    for (int side = 0; side < 2; side++)
        for (size_t k = 0; k < counts[side]; k++) {
            double keep = sides[side][k], h = 1e-5 * fmax(1.0, fabs(keep));
            double up, down;
            sides[side][k] = keep + h;
            assert_status(rpo_loss_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr, B.rr,
                                       B.d, B.ce, B.re, &up, NULL, NULL), RPO_OK);
            sides[side][k] = keep - h;
            assert_status(rpo_loss_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr, B.rr,
                                       B.d, B.ce, B.re, &down, NULL, NULL), RPO_OK);
            sides[side][k] = keep;
            fds[side][k] = (up - down) / (2.0 * h);
        }
    char what[128];
    snprintf(what, sizeof what, "finite differences %s placement %d scale %d",
             loss_names[p->loss], placement, scale);
    check_vector_rel(what, gc, fd_c, B.m, 1e-6);
    check_vector_rel(what, gr, fd_r, B.n, 1e-6);
    rpo_ctx_free(ctx);
}

static void test_finite_differences(void **state)
{
    (void)state;
    for (int loss = 0; loss < NLOSS; loss++) {
        ref_loss p = {loss, 0.2, smoothing_for(loss, 1), 0.5};
        for (int placement = 1; placement <= 2; placement++)
            for (int scale = 0; scale <= 1; scale++)
                finite_difference_case(&p, placement, scale);
    }
}

/* rpo_loss_embed_grad_* runs the generic kernel for every loss; rpo_loss_*
 * runs pairs_scalar.c's for plain SIGMOID. They must agree. */
static void test_generic_kernel_matches_sigmoid_kernel(void **state)
{
    (void)state;
    test_rng rng = {3};
    batch B = make_batch(&rng, 6, 7);
    for (int placement = 1; placement <= 2; placement++) {
        ref_loss p = {RPO_LOSS_SIGMOID, 0.7, 0.0, 0.05};
        rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_EMBEDDING, placement,
                                  RPO_REDUCTION_MEAN);
        double l1, l2, gc1[8], gc2[8], gr1[8], gr2[8], ge[8 * 3], gf[8 * 3];
        assert_status(rpo_loss_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr, B.rr, B.d,
                                   B.ce, B.re, &l1, gc1, gr1), RPO_OK);
        assert_status(rpo_loss_embed_grad_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr,
                                              B.rr, B.d, B.ce, B.re, &l2, gc2,
                                              gr2, ge, gf), RPO_OK);
        check_loss("generic vs sigmoid kernel", l2, l1, 1e-14);
        check_vector_rel("generic vs sigmoid kernel", gc2, gc1, B.m, 1e-14);
        check_vector_rel("generic vs sigmoid kernel", gr2, gr1, B.n, 1e-14);
        rpo_ctx_free(ctx);
    }
}

/* k W = 1 for uniform weights under ROW_MEAN: logit placement becomes the
 * mean of f over all pairs, which is uniform loss placement. */
static void test_row_mean_uniform_is_pair_mean(void **state)
{
    (void)state;
    test_rng rng = {11};
    batch B = make_batch(&rng, 3, 7);
    for (int loss = 0; loss < NLOSS; loss++) {
        ref_loss p = {loss, 0.4, smoothing_for(loss, 0), 0.2};
        double l[2], gc[2][8], gr[2][8];
        for (int placement = 1; placement <= 2; placement++) {
            rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_UNIFORM, placement,
                                      RPO_REDUCTION_MEAN);
            set(ctx, RPO_PARAM_LOGIT_SCALE, RPO_LOGIT_SCALE_ROW_MEAN);
            assert_status(rpo_loss_f64(ctx, B.m, B.pc, B.rc, B.n, B.pr, B.rr,
                                       0, NULL, NULL, &l[placement - 1],
                                       gc[placement - 1], gr[placement - 1]),
                          RPO_OK);
            rpo_ctx_free(ctx);
        }
        check_loss(loss_names[loss], l[0], l[1], 1e-14);
        check_vector_rel(loss_names[loss], gc[0], gc[1], B.m, 1e-13);
        check_vector_rel(loss_names[loss], gr[0], gr[1], B.n, 1e-13);
    }
}

static int all_finite(const double *x, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (!isfinite(x[k]))
            return 0;
    return 1;
}

/* |beta z| of 1e4 and 1e30: every member gives a finite loss and finite
 * gradients, except where the loss itself leaves the double range (IPO
 * and SPPO_HARD square 1e200; DISCOPOP with tau > 1 grows like
 * exp(|x|(1 - 1/tau))), which is RPO_ERR_RANGE with nothing written. */
static void test_extremes(void **state)
{
    (void)state;
    const double mags[2] = {1e4, 1e30};
    for (int loss = 0; loss < NLOSS; loss++)
        for (int mi = 0; mi < 2; mi++)
            for (int placement = 1; placement <= 2; placement++) {
                ref_loss p = {loss, 1.0, smoothing_for(loss, 1), 0.05};
                rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_UNIFORM, placement,
                                          RPO_REDUCTION_MEAN);
                const double pc[2] = {mags[mi], -mags[mi]};
                const double pr[2] = {-mags[mi], mags[mi]};
                double loss_v = 0.0, gc[2], gr[2];
                int status = rpo_loss_f64(ctx, 2, pc, NULL, 2, pr, NULL, 0, NULL,
                                          NULL, &loss_v, gc, gr);
                if (status != RPO_OK)
                    fail_msg("%s at %g placement %d: %s", loss_names[loss],
                             mags[mi], placement, rpo_status_string(status));
                if (!(isfinite(loss_v) && all_finite(gc, 2) && all_finite(gr, 2)))
                    fail_msg("%s at %g: non-finite result", loss_names[loss], mags[mi]);
                rpo_ctx_free(ctx);
            }
    /* past the double range */
    const int squares[2] = {RPO_LOSS_IPO, RPO_LOSS_SPPO_HARD};
    for (int k = 0; k < 2; k++) {
        ref_loss p = {squares[k], 1.0, 0.0, 0.05};
        rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_LOSS,
                                  RPO_REDUCTION_MEAN);
        const double pc[1] = {1e200}, pr[1] = {-1e200};
        double loss_v = 123.0;
        assert_status(rpo_loss_f64(ctx, 1, pc, NULL, 1, pr, NULL, 0, NULL, NULL,
                                   &loss_v, NULL, NULL), RPO_ERR_RANGE);
        assert_true(loss_v == 123.0);
        rpo_ctx_free(ctx);
    }
    ref_loss hot = {RPO_LOSS_DISCOPOP, 1.0, 0.0, 2.0};
    rpo_ctx *ctx = family_ctx(&hot, RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_LOSS,
                              RPO_REDUCTION_MEAN);
    const double pc[1] = {-1e4}, pr[1] = {1e4};
    double loss_v = 123.0;
    assert_status(rpo_loss_f64(ctx, 1, pc, NULL, 1, pr, NULL, 0, NULL, NULL,
                               &loss_v, NULL, NULL), RPO_ERR_RANGE);
    assert_true(loss_v == 123.0);
    /* the same contrast the right way round is tiny, not NaN */
    assert_status(rpo_loss_f64(ctx, 1, pr, NULL, 1, pc, NULL, 0, NULL, NULL,
                               &loss_v, NULL, NULL), RPO_OK);
    assert_true(loss_v >= 0.0 && loss_v < 1e-300);
    rpo_ctx_free(ctx);
}

/* LOGIT placement with ROW_MEAN evaluates f(k W a, k W b) with k W up to
 * N: here k W a = 3 W 1e308 overflows although beta k W (a - b), the only
 * thing a loss of the difference reads, is about 3 W. The expectation is
 * formed from x_j = 3 W_j (beta a) directly: no reference may rely on long
 * double's wider range (valgrind computes long double as double). */
static void test_scaled_logits_do_not_overflow(void **state)
{
    (void)state;
    const double pc[1] = {1e308}, pr[3] = {0.0, 0.0, 0.0};
    const double ce[2] = {1, 0}, re[3 * 2] = {1, 0, 0.8, 0.6, 0, 1};
    const double beta = 1e-308, eps = 0.1;
    ref_loss p = {RPO_LOSS_SIGMOID, beta, eps, 0.05};
    rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOGIT,
                              RPO_REDUCTION_MEAN);
    set(ctx, RPO_PARAM_LOGIT_SCALE, RPO_LOGIT_SCALE_ROW_MEAN);
    set(ctx, RPO_PARAM_TAU, 0.2);
    double w[3], loss, gc[1], gr[3];
    ref_embedding(1, 3, 2, ce, re, 0.2, w);
    double want = 0.0;
    for (size_t j = 0; j < 3; j++) {
        const double x = 3.0 * w[j] * (beta * pc[0]);   /* about 3 W_j */
        want += ((1.0 - eps) * log1p(exp(-x)) + eps * log1p(exp(x))) / 3.0;
    }
    assert_status(rpo_loss_f64(ctx, 1, pc, NULL, 3, pr, NULL, 2, ce, re,
                               &loss, gc, gr), RPO_OK);
    check_loss("k W a beyond DBL_MAX", loss, want, 1e-13);
    assert_true(isfinite(gc[0]) && isfinite(gr[0]) && isfinite(gr[1]) && isfinite(gr[2]));
    rpo_ctx_free(ctx);
}

static void test_settings(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    const struct { int param; double def, lo, hi; } rows[] = {
        {RPO_PARAM_LOSS, RPO_LOSS_SIGMOID, 0, RPO_LOSS_DISCOPOP},
        {RPO_PARAM_LABEL_SMOOTHING, 0.0, 0.0, 0.49999999999999994},
        {RPO_PARAM_DISCOPOP_TAU, 0.05, 4.9406564584124654e-324, 1.7976931348623157e308},
        {RPO_PARAM_LOGIT_SCALE, RPO_LOGIT_SCALE_ROW_SUM, 0, 1},
        {RPO_PARAM_SINKHORN_ITERS, 200, 1, 1e6},
        {RPO_PARAM_SINKHORN_TOL, 1e-9, 0.0, 1.0},
        {RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING, 0, RPO_WEIGHTING_SINKHORN},
    };
    for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
        double v, lo, hi;
        assert_status(rpo_ctx_get(ctx, rows[k].param, &v), RPO_OK);
        assert_true(v == rows[k].def);
        assert_status(rpo_param_bounds(rows[k].param, &lo, &hi), RPO_OK);
        assert_true(lo == rows[k].lo && hi == rows[k].hi);
    }
    const struct { int param; double bad; } refused[] = {
        {RPO_PARAM_LOSS, 11}, {RPO_PARAM_LOSS, 1.5}, {RPO_PARAM_LOSS, -1},
        {RPO_PARAM_LABEL_SMOOTHING, 0.5}, {RPO_PARAM_LABEL_SMOOTHING, -0.01},
        {RPO_PARAM_DISCOPOP_TAU, 0.0}, {RPO_PARAM_DISCOPOP_TAU, (double)NAN},
        {RPO_PARAM_LOGIT_SCALE, 2}, {RPO_PARAM_SINKHORN_ITERS, 0},
        {RPO_PARAM_SINKHORN_ITERS, 2.5}, {RPO_PARAM_SINKHORN_TOL, -1e-9},
        {RPO_PARAM_SINKHORN_TOL, 1.5}, {RPO_PARAM_WEIGHTING, 4},
    };
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        double before, after;
        assert_status(rpo_ctx_get(ctx, refused[k].param, &before), RPO_OK);
        assert_status(rpo_ctx_set(ctx, refused[k].param, refused[k].bad), RPO_ERR_PARAM);
        assert_status(rpo_ctx_get(ctx, refused[k].param, &after), RPO_OK);
        assert_true(before == after);
    }
    double v;
    assert_status(rpo_ctx_set(ctx, 999, 0.0), RPO_ERR_PARAM);
    assert_status(rpo_ctx_get(ctx, 999, &v), RPO_ERR_PARAM);
    rpo_ctx_free(ctx);
}

/* EXO_PAIR with eps = 0 has an infinite loss: RPO_ERR_PARAM at the call,
 * nothing written, metrics kept. */
static void test_exo_needs_smoothing(void **state)
{
    (void)state;
    ref_loss p = {RPO_LOSS_SIGMOID, 0.1, 0.0, 0.05};
    rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO,
                              RPO_REDUCTION_MEAN);
    const double pc[2] = {-3, -4}, pr[2] = {-5, -2};
    double loss = 7.0, gc[2] = {7, 7}, gr[2] = {7, 7}, stat_before, stat_after;
    assert_status(rpo_loss_f64(ctx, 2, pc, NULL, 2, pr, NULL, 0, NULL, NULL,
                               &loss, NULL, NULL), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &stat_before), RPO_OK);
    set(ctx, RPO_PARAM_LOSS, RPO_LOSS_EXO_PAIR);
    loss = 7.0;
    assert_status(rpo_loss_f64(ctx, 2, pc, NULL, 2, pr, NULL, 0, NULL, NULL,
                               &loss, gc, gr), RPO_ERR_PARAM);
    assert_true(loss == 7.0 && gc[0] == 7.0 && gr[1] == 7.0);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &stat_after), RPO_OK);
    assert_true(stat_before == stat_after);
    set(ctx, RPO_PARAM_LABEL_SMOOTHING, 1e-3);
    assert_status(rpo_loss_f64(ctx, 2, pc, NULL, 2, pr, NULL, 0, NULL, NULL,
                               &loss, gc, gr), RPO_OK);
    rpo_ctx_free(ctx);
}

/* Float32 entry points round the float64 result once. */
static void test_f32_follows_f64(void **state)
{
    (void)state;
    test_rng rng = {5};
    batch B = make_batch(&rng, 4, 5);
    float pc[8], rc[8], pr[8], rr[8], ce[24], re[24], loss32, gc32[8], gr32[8];
    to_f32(pc, B.pc, 4); to_f32(rc, B.rc, 4); to_f32(pr, B.pr, 5); to_f32(rr, B.rr, 5);
    to_f32(ce, B.ce, 12); to_f32(re, B.re, 15);
    to_f64(B.pc, pc, 4); to_f64(B.rc, rc, 4); to_f64(B.pr, pr, 5); to_f64(B.rr, rr, 5);
    to_f64(B.ce, ce, 12); to_f64(B.re, re, 15);
    for (int loss = 0; loss < NLOSS; loss++) {
        ref_loss p = {loss, 0.2, smoothing_for(loss, 1), 0.3};
        rpo_ctx *ctx = family_ctx(&p, RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOGIT,
                                  RPO_REDUCTION_MEAN);
        double loss64, gc64[8], gr64[8], g[8];
        assert_status(rpo_loss_f64(ctx, 4, B.pc, B.rc, 5, B.pr, B.rr, 3, B.ce,
                                   B.re, &loss64, gc64, gr64), RPO_OK);
        assert_status(rpo_loss_f32(ctx, 4, pc, rc, 5, pr, rr, 3, ce, re,
                                   &loss32, gc32, gr32), RPO_OK);
        check_loss(loss_names[loss], (double)loss32, loss64, TOL_F32);
        to_f64(g, gc32, 4);
        check_vector_rel(loss_names[loss], g, gc64, 4, TOL_F32);
        to_f64(g, gr32, 5);
        check_vector_rel(loss_names[loss], g, gr64, 5, TOL_F32);
        rpo_ctx_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trl_paired),
        cmocka_unit_test(test_contrast_matrix),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_generic_kernel_matches_sigmoid_kernel),
        cmocka_unit_test(test_row_mean_uniform_is_pair_mean),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_scaled_logits_do_not_overflow),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_exo_needs_smoothing),
        cmocka_unit_test(test_f32_follows_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
