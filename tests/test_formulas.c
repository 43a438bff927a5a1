/*
 * The library against a second formulation (tests/support/reference.c: SPEC
 * section 1 written literally in long double) on random problems of many
 * shapes, including ones whose contrast matrix spans several of the
 * engine's row blocks: loss, both gradients, weights and every metric, for
 * every weighting x placement x reduction, paired and unpaired, with and
 * without reference log-probs, in float64 and float32.
 */
#include <stdio.h>
#include <stdlib.h>

#include "reference.h"
#include "testutil.h"

typedef struct shape { size_t m, n, d; } shape;

/* RPO_TEST_SMALL=1 (set by `make sanitize-valgrind`, docs/hardening.md)
 * skips the shapes with more than this many pairs: under valgrind they take
 * minutes, and the long double reference runs there with only double's 53
 * bits, whose rounding over 450000 pairs reaches the 1e-12 tolerance. The
 * native and sanitizer runs keep every shape. */
#define SMALL_RUN_MAX_PAIRS 16384

static int small_run(void)
{
    const char *small = getenv("RPO_TEST_SMALL");
    return small != NULL && small[0] == '1';
}

/* 300 x 200 and 150 x 3000 cross row-block boundaries of the engine. */
static const shape shapes[] = {
    {1, 1, 3}, {2, 2, 1}, {7, 7, 16}, {5, 11, 8}, {13, 4, 5},
    {64, 64, 32}, {300, 200, 9}, {150, 3000, 2},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

typedef struct arrays {
    double *pc, *rc, *pr, *rr, *ce, *re;
    double *gc, *gr, *w;              /* library outputs (double)       */
    float *fpc, *frc, *fpr, *frr, *fce, *fre, *fgc, *fgr, *fw;
    long double *lgc, *lgr, *lw;      /* reference outputs              */
} arrays;

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

static arrays make_arrays(test_rng *rng, shape s)
{
    arrays A;
    size_t m = s.m, n = s.n, d = s.d;
    A.pc = xmalloc(m * 8); A.rc = xmalloc(m * 8);
    A.pr = xmalloc(n * 8); A.rr = xmalloc(n * 8);
    A.ce = xmalloc(m * d * 8); A.re = xmalloc(n * d * 8);
    A.gc = xmalloc(m * 8); A.gr = xmalloc(n * 8); A.w = xmalloc(m * n * 8);
    A.fpc = xmalloc(m * 4); A.frc = xmalloc(m * 4);
    A.fpr = xmalloc(n * 4); A.frr = xmalloc(n * 4);
    A.fce = xmalloc(m * d * 4); A.fre = xmalloc(n * d * 4);
    A.fgc = xmalloc(m * 4); A.fgr = xmalloc(n * 4); A.fw = xmalloc(m * n * 4);
    A.lgc = xmalloc(m * sizeof(long double));
    A.lgr = xmalloc(n * sizeof(long double));
    A.lw = xmalloc(m * n * sizeof(long double));
    rng_fill(rng, A.pc, m, -80.0, -20.0);
    rng_fill(rng, A.rc, m, -80.0, -20.0);
    rng_fill(rng, A.pr, n, -80.0, -20.0);
    rng_fill(rng, A.rr, n, -80.0, -20.0);
    rng_fill(rng, A.ce, m * d, -1.0, 1.0);
    rng_fill(rng, A.re, n * d, -1.0, 1.0);
    /* Make the float64 inputs exactly float32 so both paths see the same
     * numbers and their results are comparable. */
    to_f32(A.fpc, A.pc, m); to_f64(A.pc, A.fpc, m);
    to_f32(A.frc, A.rc, m); to_f64(A.rc, A.frc, m);
    to_f32(A.fpr, A.pr, n); to_f64(A.pr, A.fpr, n);
    to_f32(A.frr, A.rr, n); to_f64(A.rr, A.frr, n);
    to_f32(A.fce, A.ce, m * d); to_f64(A.ce, A.fce, m * d);
    to_f32(A.fre, A.re, n * d); to_f64(A.re, A.fre, n * d);
    return A;
}

static void free_arrays(arrays *A)
{
    void *all[] = {A->pc, A->rc, A->pr, A->rr, A->ce, A->re, A->gc, A->gr, A->w,
                   A->fpc, A->frc, A->fpr, A->frr, A->fce, A->fre, A->fgc,
                   A->fgr, A->fw, A->lgc, A->lgr, A->lw};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
}

static void narrow_ld(double *dst, const long double *src, size_t count)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = (double)src[k];
}

static void compare(const char *what, const rpo_ctx *ctx, double loss,
                    const double *gc, const double *gr, const ref_result *r,
                    size_t m, size_t n, double tol, int check_metrics)
{
    char label[200];
    double *want_gc = xmalloc(m * 8), *want_gr = xmalloc(n * 8);
    narrow_ld(want_gc, r->grad_chosen, m);
    narrow_ld(want_gr, r->grad_rejected, n);
    snprintf(label, sizeof label, "%s loss", what);
    check_loss(label, loss, (double)r->loss, tol);
    snprintf(label, sizeof label, "%s grad_chosen", what);
    check_vector_rel(label, gc, want_gc, m, tol);
    snprintf(label, sizeof label, "%s grad_rejected", what);
    check_vector_rel(label, gr, want_gr, n, tol);
    free(want_gc);
    free(want_gr);
    if (!check_metrics)
        return;
    const int stats[4] = {RPO_STAT_REWARD_CHOSEN, RPO_STAT_REWARD_REJECTED,
                          RPO_STAT_MARGIN, RPO_STAT_ACCURACY};
    const long double want[4] = {r->reward_chosen, r->reward_rejected,
                                 r->margin, r->accuracy};
    for (int k = 0; k < 4; k++) {
        double got = 0.0;
        assert_status(rpo_ctx_stat(ctx, stats[k], &got), RPO_OK);
        snprintf(label, sizeof label, "%s metric %d", what, stats[k]);
        check_loss(label, got, (double)want[k], 1e-12);
    }
    double stat_loss = 0.0;
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &stat_loss), RPO_OK);
    assert_true(stat_loss == loss);
}

static void run_problem(rpo_ctx *ctx, arrays *A, shape s, int wt, int pl,
                        int red, int paired, int reference_free, double beta)
{
    const size_t m = s.m, n = s.n, d = s.d, mn = m * n;
    ref_problem p = {wt, pl, red, beta, 0.4, 0.65, m, n, d,
                     A->pc, reference_free ? NULL : A->rc,
                     A->pr, reference_free ? NULL : A->rr,
                     A->ce, paired ? NULL : A->re, NULL};
    ref_result r = {0, A->lgc, A->lgr, A->lw, 0, 0, 0, 0};
    ref_compute(&p, &r);
    configure(ctx, wt, pl, beta, 0.4, 0.65, red);
    char what[160];
    snprintf(what, sizeof what, "%zux%zux%zu w%d p%d r%d %s%s", m, n, d, wt, pl,
             red, paired ? "paired" : "unpaired", reference_free ? " ref-free" : "");

    /* float64 */
    double loss = 0.0;
    const double *rc = reference_free ? NULL : A->rc, *rr = reference_free ? NULL : A->rr;
    assert_status(rpo_loss_f64(ctx, m, A->pc, rc, n, A->pr, rr, d, A->ce,
                               paired ? NULL : A->re, &loss, A->gc, A->gr), RPO_OK);
    compare(what, ctx, loss, A->gc, A->gr, &r, m, n, TOL_F64, 1);
    assert_status(rpo_weights_f64(ctx, m, n, d, A->ce, paired ? NULL : A->re, A->w), RPO_OK);
    double *want_w = xmalloc(mn * 8);
    narrow_ld(want_w, A->lw, mn);
    check_vector_abs(what, A->w, want_w, mn, TOL_F64);
    for (size_t i = 0; i < m; i++) {          /* rows sum to 1 */
        long double sum = 0;
        for (size_t j = 0; j < n; j++)
            sum += (long double)A->w[i * n + j];
        assert_true(fabsl(sum - 1.0L) <= 1e-12L);
    }

    /* float32, same inputs */
    float floss = 0.0f;
    const float *frc = reference_free ? NULL : A->frc, *frr = reference_free ? NULL : A->frr;
    assert_status(rpo_loss_f32(ctx, m, A->fpc, frc, n, A->fpr, frr, d, A->fce,
                               paired ? NULL : A->fre, &floss, A->fgc, A->fgr), RPO_OK);
    to_f64(A->gc, A->fgc, m);
    to_f64(A->gr, A->fgr, n);
    compare(what, ctx, (double)floss, A->gc, A->gr, &r, m, n, TOL_F32, 0);
    assert_status(rpo_weights_f32(ctx, m, n, d, A->fce, paired ? NULL : A->fre, A->fw), RPO_OK);
    to_f64(A->w, A->fw, mn);
    check_vector_abs(what, A->w, want_w, mn, TOL_F32);
    free(want_w);
}

static void test_against_reference(void **state)
{
    (void)state;
    test_rng rng = {2024};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    int runs = 0;
    for (size_t k = 0; k < N_SHAPES; k++) {
        shape s = shapes[k];
        if (small_run() && s.m * s.n > SMALL_RUN_MAX_PAIRS)
            continue;
        arrays A = make_arrays(&rng, s);
        for (int wt = 0; wt < 3; wt++)
            for (int pl = 0; pl < 3; pl++)
                for (int red = 0; red < 2; red++)
                    for (int paired = 0; paired < 2; paired++) {
                        if (paired && s.m != s.n)
                            continue;
                        if (wt == RPO_WEIGHTING_DIAGONAL && s.m != s.n)
                            continue;
                        double beta = (runs % 3 == 0) ? 0.1 : (runs % 3 == 1) ? 1.5 : 0.02;
                        run_problem(ctx, &A, s, wt, pl, red, paired, runs % 4 == 3, beta);
                        runs++;
                    }
        free_arrays(&A);
    }
    assert_true(runs > (small_run() ? 100 : 150));
    rpo_ctx_free(ctx);
}

/* rpo_loss_weighted_* over an arbitrary caller matrix (rows need not sum
 * to 1, entries may be negative) against the reference. */
static void test_weighted_against_reference(void **state)
{
    (void)state;
    test_rng rng = {555};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    const shape s = {40, 700, 1}; /* 2 row blocks */
    arrays A = make_arrays(&rng, s);
    double *w = xmalloc(s.m * s.n * 8);
    float *fw = xmalloc(s.m * s.n * 4);
    rng_fill(&rng, w, s.m * s.n, -0.5, 2.0);
    to_f32(fw, w, s.m * s.n);
    to_f64(w, fw, s.m * s.n);
    for (int wt = 0; wt < 3; wt++)
        for (int pl = 0; pl < 3; pl++) {
            ref_problem p = {wt, pl, RPO_REDUCTION_MEAN, 0.2, 0.5, 0.8, s.m, s.n, 0,
                             A.pc, A.rc, A.pr, A.rr, NULL, NULL, w};
            ref_result r = {0, A.lgc, A.lgr, A.lw, 0, 0, 0, 0};
            ref_compute(&p, &r);
            configure(ctx, wt, pl, 0.2, 0.5, 0.8, RPO_REDUCTION_MEAN);
            double loss = 0.0;
            assert_status(rpo_loss_weighted_f64(ctx, s.m, A.pc, A.rc, s.n, A.pr, A.rr,
                                                w, &loss, A.gc, A.gr), RPO_OK);
            compare("weighted f64", ctx, loss, A.gc, A.gr, &r, s.m, s.n, TOL_F64, 1);
            float floss = 0.0f;
            assert_status(rpo_loss_weighted_f32(ctx, s.m, A.fpc, A.frc, s.n, A.fpr,
                                                A.frr, fw, &floss, A.fgc, A.fgr), RPO_OK);
            to_f64(A.gc, A.fgc, s.m);
            to_f64(A.gr, A.fgr, s.n);
            compare("weighted f32", ctx, (double)floss, A.gc, A.gr, &r, s.m, s.n, TOL_F32, 0);
        }
    free(w);
    free(fw);
    free_arrays(&A);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_weighted_against_reference),
    };
    return cmocka_run_group_tests_name("formulas", tests, NULL, NULL);
}
