/*
 * rpo_loss_embed_grad_*: dL/d chosen_emb and dL/d rejected_emb through the
 * row normalisation and the softmax of the EMBEDDING weights, checked by
 * central finite differences of rpo_loss_f64 in float64:
 *   - unpaired and paired (one matrix: the sum of both roles), both
 *     placements, both logit scales, both reductions, several losses;
 *   - a zero row (the clamped normalisation is linear there);
 * and by properties: each row's gradient is orthogonal to the row (the
 * loss sees directions only) and scales like 1/||e||, also for a row
 * longer than DBL_MAX; the other outputs
 * equal rpo_loss_*'s; weightings that ignore the embeddings give zeros;
 * float32 follows float64.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define D 3
#define MAXR 6

typedef struct problem {
    size_t m, n;
    int paired;
    double pc[MAXR], rc[MAXR], pr[MAXR], rr[MAXR];
    double e[MAXR * D], f[MAXR * D];
} problem;

static problem make_problem(uint64_t seed, size_t m, size_t n, int paired)
{
    test_rng rng = {seed};
    problem P;
    memset(&P, 0, sizeof P);
    P.m = m;
    P.n = n;
    P.paired = paired;
    rng_fill(&rng, P.pc, m, -12, -2);
    rng_fill(&rng, P.rc, m, -12, -2);
    rng_fill(&rng, P.pr, n, -12, -2);
    rng_fill(&rng, P.rr, n, -12, -2);
    rng_fill(&rng, P.e, m * D, -1, 1);
    rng_fill(&rng, P.f, n * D, -1, 1);
    return P;
}

static const double *rejected_of(const problem *P)
{
    return P->paired ? NULL : P->f;
}

static double loss_of(rpo_ctx *ctx, const problem *P)
{
    double loss;
    assert_status(rpo_loss_f64(ctx, P->m, P->pc, P->rc, P->n, P->pr, P->rr, D,
                               P->e, rejected_of(P), &loss, NULL, NULL), RPO_OK);
    return loss;
}

/* Central differences of the loss in every entry of x (count). */
static void finite_differences(rpo_ctx *ctx, problem *P, double *x, size_t count,
                               double *fd)
{
    for (size_t k = 0; k < count; k++) {
        const double keep = x[k], h = 1e-6;
        x[k] = keep + h;
        const double up = loss_of(ctx, P);
        x[k] = keep - h;
        const double down = loss_of(ctx, P);
        x[k] = keep;
        fd[k] = (up - down) / (2.0 * h);
    }
}

static rpo_ctx *embedding_ctx(int loss, int placement, int scale, int reduction)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, RPO_WEIGHTING_EMBEDDING, placement, 0.8, 0.3, 0.8, reduction);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOSS, loss), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.1), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_DISCOPOP_TAU, 0.5), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, scale), RPO_OK);
    return ctx;
}

static void check_against_fd(int loss, int placement, int scale, int reduction,
                             int paired)
{
    problem P = make_problem(1000u + (uint64_t)(loss * 8 + placement * 4 + scale * 2 + paired),
                             paired ? 4 : 4, paired ? 4 : 5, paired);
    rpo_ctx *ctx = embedding_ctx(loss, placement, scale, reduction);
    double ge[MAXR * D], gf[MAXR * D], fd[MAXR * D];
    for (size_t k = 0; k < MAXR * D; k++)
        gf[k] = 99.0;
    assert_status(rpo_loss_embed_grad_f64(ctx, P.m, P.pc, P.rc, P.n, P.pr, P.rr,
                                          D, P.e, rejected_of(&P), NULL, NULL,
                                          NULL, ge, gf), RPO_OK);
    char what[128];
    snprintf(what, sizeof what, "dL/de loss %d placement %d scale %d red %d paired %d",
             loss, placement, scale, reduction, paired);
    finite_differences(ctx, &P, P.e, P.m * D, fd);
    check_vector_rel(what, ge, fd, P.m * D, 1e-6);
    if (paired) {
        /* one matrix, one gradient: the rejected output is not used */
        for (size_t k = 0; k < MAXR * D; k++)
            assert_true(gf[k] == 99.0);
    } else {
        snprintf(what, sizeof what, "dL/df loss %d placement %d scale %d red %d",
                 loss, placement, scale, reduction);
        finite_differences(ctx, &P, P.f, P.n * D, fd);
        check_vector_rel(what, gf, fd, P.n * D, 1e-6);
    }
    rpo_ctx_free(ctx);
}

static void test_finite_differences(void **state)
{
    (void)state;
    const int losses[5] = {RPO_LOSS_SIGMOID, RPO_LOSS_IPO, RPO_LOSS_BCO_PAIR,
                           RPO_LOSS_APO_DOWN, RPO_LOSS_DISCOPOP};
    for (int l = 0; l < 5; l++)
        for (int placement = 1; placement <= 2; placement++)
            for (int scale = 0; scale <= 1; scale++)
                for (int paired = 0; paired <= 1; paired++)
                    check_against_fd(losses[l], placement, scale,
                                     (l + scale) % 2, paired);
}

/* At a zero row the normalisation is e / 1e-12, linear for steps below
 * 1e-12: a step of 1e-16 moves e^ by 1e-4, where differences are exact
 * enough. */
static void test_zero_row(void **state)
{
    (void)state;
    problem P = make_problem(77, 3, 4, 0);
    for (size_t k = 0; k < D; k++)
        P.e[1 * D + k] = 0.0;
    rpo_ctx *ctx = embedding_ctx(RPO_LOSS_SIGMOID, RPO_PLACEMENT_LOGIT, 0,
                                 RPO_REDUCTION_MEAN);
    double ge[MAXR * D], fd[D];
    assert_status(rpo_loss_embed_grad_f64(ctx, P.m, P.pc, P.rc, P.n, P.pr, P.rr,
                                          D, P.e, P.f, NULL, NULL, NULL, ge, NULL),
                  RPO_OK);
    for (size_t k = 0; k < D; k++) {
        const double h = 1e-16;
        P.e[D + k] = h;
        const double up = loss_of(ctx, &P);
        P.e[D + k] = -h;
        const double down = loss_of(ctx, &P);
        P.e[D + k] = 0.0;
        fd[k] = (up - down) / (2.0 * h);
    }
    check_vector_rel("zero row", ge + D, fd, D, 1e-5);
    assert_true(fabs(ge[D]) > 1e6);   /* divided by the floor, 1e-12 */
    rpo_ctx_free(ctx);
}

static double dot(const double *x, const double *y, size_t count)
{
    double s = 0.0;
    for (size_t k = 0; k < count; k++)
        s += x[k] * y[k];
    return s;
}

static void test_properties(void **state)
{
    (void)state;
    problem P = make_problem(88, 5, 4, 0);
    rpo_ctx *ctx = embedding_ctx(RPO_LOSS_NCA_PAIR, RPO_PLACEMENT_LOGIT, 1,
                                 RPO_REDUCTION_MEAN);
    double loss, gc[MAXR], gr[MAXR], ge[MAXR * D], gf[MAXR * D];
    double loss2, gc2[MAXR], gr2[MAXR], ge3[MAXR * D];
    assert_status(rpo_loss_embed_grad_f64(ctx, P.m, P.pc, P.rc, P.n, P.pr, P.rr,
                                          D, P.e, P.f, &loss, gc, gr, ge, gf),
                  RPO_OK);
    for (size_t i = 0; i < P.m; i++) {
        const double *e = P.e + i * D, *g = ge + i * D;
        assert_true(fabs(dot(e, g, D)) <= 1e-14 * sqrt(dot(e, e, D) * dot(g, g, D)) + 1e-300);
    }
    /* the rest equals rpo_loss_f64 */
    assert_status(rpo_loss_f64(ctx, P.m, P.pc, P.rc, P.n, P.pr, P.rr, D, P.e, P.f,
                               &loss2, gc2, gr2), RPO_OK);
    check_loss("loss", loss, loss2, 1e-15);
    check_vector_rel("grad chosen", gc, gc2, P.m, 1e-15);
    check_vector_rel("grad rejected", gr, gr2, P.n, 1e-15);
    /* three times the embeddings, a third of the gradient */
    for (size_t k = 0; k < P.m * D; k++)
        P.e[k] *= 3.0;
    assert_status(rpo_loss_embed_grad_f64(ctx, P.m, P.pc, P.rc, P.n, P.pr, P.rr,
                                          D, P.e, P.f, NULL, NULL, NULL, ge3, NULL),
                  RPO_OK);
    for (size_t k = 0; k < P.m * D; k++)
        ge3[k] *= 3.0;
    check_vector_rel("scaled rows", ge3, ge, P.m * D, 1e-13);
    rpo_ctx_free(ctx);
}

/* A float64 row whose length exceeds DBL_MAX (entries near DBL_MAX) is
 * normalised after an exact scaling by 2^-32 (lib/weights/embed.h); its gradient
 * must still be that of the row's direction over its true length: the
 * gradient of y 2^1023 is the gradient of y times 2^-1023. */
static void test_rows_longer_than_dbl_max(void **state)
{
    (void)state;
    problem P = make_problem(66, 4, 5, 0), Q;
    const double y[D] = {1.5, -1.2, 1.9};   /* |y| 2^1023 > DBL_MAX */
    memcpy(P.e + 1 * D, y, sizeof y);
    memcpy(P.f + 3 * D, y, sizeof y);
    Q = P;
    for (size_t k = 0; k < D; k++) {
        Q.e[1 * D + k] = ldexp(y[k], 1023);
        Q.f[3 * D + k] = ldexp(y[k], 1023);
    }
    rpo_ctx *ctx = embedding_ctx(RPO_LOSS_SIGMOID, RPO_PLACEMENT_AUTO, 0,
                                 RPO_REDUCTION_MEAN);
    double ge[MAXR * D], gf[MAXR * D], he[MAXR * D], hf[MAXR * D];
    assert_status(rpo_loss_embed_grad_f64(ctx, 4, P.pc, P.rc, 5, P.pr, P.rr, D, P.e,
                                          P.f, NULL, NULL, NULL, ge, gf), RPO_OK);
    assert_status(rpo_loss_embed_grad_f64(ctx, 4, Q.pc, Q.rc, 5, Q.pr, Q.rr, D, Q.e,
                                          Q.f, NULL, NULL, NULL, he, hf), RPO_OK);
    for (size_t k = 0; k < D; k++) {
        he[1 * D + k] = ldexp(he[1 * D + k], 1023);
        hf[3 * D + k] = ldexp(hf[3 * D + k], 1023);
    }
    check_vector_rel("dL/de, a row beyond DBL_MAX", he, ge, 4 * D, 1e-12);
    check_vector_rel("dL/df, a row beyond DBL_MAX", hf, gf, 5 * D, 1e-12);
    rpo_ctx_free(ctx);
}

/* UNIFORM and DIAGONAL do not depend on the embeddings: zeros. */
static void test_other_weightings_give_zeros(void **state)
{
    (void)state;
    problem P = make_problem(99, 4, 4, 0);
    for (int weighting = 0; weighting <= 1; weighting++) {
        rpo_ctx *ctx = rpo_ctx_create();
        assert_non_null(ctx);
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
        double ge[MAXR * D], gf[MAXR * D], loss;
        for (size_t k = 0; k < MAXR * D; k++)
            ge[k] = gf[k] = 5.0;
        assert_status(rpo_loss_embed_grad_f64(ctx, 4, P.pc, P.rc, 4, P.pr, P.rr, D,
                                              P.e, P.f, &loss, NULL, NULL, ge, gf),
                      RPO_OK);
        for (size_t k = 0; k < 4 * D; k++)
            assert_true(ge[k] == 0.0 && gf[k] == 0.0);
        assert_true(ge[4 * D] == 5.0);   /* nothing past (M, D) */
        rpo_ctx_free(ctx);
    }
}

static void test_errors_write_nothing(void **state)
{
    (void)state;
    problem P = make_problem(5, 3, 3, 0);
    rpo_ctx *ctx = embedding_ctx(RPO_LOSS_SIGMOID, RPO_PLACEMENT_AUTO, 0,
                                 RPO_REDUCTION_MEAN);
    double ge[MAXR * D], gf[MAXR * D];
    for (size_t k = 0; k < MAXR * D; k++)
        ge[k] = gf[k] = 5.0;
    assert_status(rpo_loss_embed_grad_f64(ctx, 3, P.pc, P.rc, 3, P.pr, P.rr, D,
                                          NULL, P.f, NULL, NULL, NULL, ge, gf),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_loss_embed_grad_f64(ctx, 3, P.pc, P.rc, 3, P.pr, P.rr, 0,
                                          P.e, P.f, NULL, NULL, NULL, ge, gf),
                  RPO_ERR_SIZE);
    assert_status(rpo_loss_embed_grad_f64(ctx, 3, P.pc, P.rc, 3, P.pr, P.rr,
                                          SIZE_MAX / 2, P.e, P.f, NULL, NULL,
                                          NULL, ge, gf), RPO_ERR_SIZE);
    P.f[4] = (double)NAN;
    assert_status(rpo_loss_embed_grad_f64(ctx, 3, P.pc, P.rc, 3, P.pr, P.rr, D,
                                          P.e, P.f, NULL, NULL, NULL, ge, gf),
                  RPO_ERR_NONFINITE);
    for (size_t k = 0; k < MAXR * D; k++)
        assert_true(ge[k] == 5.0 && gf[k] == 5.0);
    rpo_ctx_free(ctx);
}

static void test_f32_follows_f64(void **state)
{
    (void)state;
    problem P = make_problem(55, 4, 5, 0);
    float pc[MAXR], rc[MAXR], pr[MAXR], rr[MAXR], e[MAXR * D], f[MAXR * D];
    float ge32[MAXR * D], gf32[MAXR * D];
    to_f32(pc, P.pc, 4); to_f32(rc, P.rc, 4); to_f32(pr, P.pr, 5); to_f32(rr, P.rr, 5);
    to_f32(e, P.e, 4 * D); to_f32(f, P.f, 5 * D);
    to_f64(P.pc, pc, 4); to_f64(P.rc, rc, 4); to_f64(P.pr, pr, 5); to_f64(P.rr, rr, 5);
    to_f64(P.e, e, 4 * D); to_f64(P.f, f, 5 * D);
    rpo_ctx *ctx = embedding_ctx(RPO_LOSS_SIGMOID, RPO_PLACEMENT_LOGIT, 0,
                                 RPO_REDUCTION_MEAN);
    double ge[MAXR * D], gf[MAXR * D], g[MAXR * D];
    assert_status(rpo_loss_embed_grad_f64(ctx, 4, P.pc, P.rc, 5, P.pr, P.rr, D,
                                          P.e, P.f, NULL, NULL, NULL, ge, gf), RPO_OK);
    assert_status(rpo_loss_embed_grad_f32(ctx, 4, pc, rc, 5, pr, rr, D, e, f,
                                          NULL, NULL, NULL, ge32, gf32), RPO_OK);
    to_f64(g, ge32, 4 * D);
    check_vector_rel("f32 dL/de", g, ge, 4 * D, TOL_F32);
    to_f64(g, gf32, 5 * D);
    check_vector_rel("f32 dL/df", g, gf, 5 * D, TOL_F32);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_zero_row),
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_rows_longer_than_dbl_max),
        cmocka_unit_test(test_other_weightings_give_zeros),
        cmocka_unit_test(test_errors_write_nothing),
        cmocka_unit_test(test_f32_follows_f64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
