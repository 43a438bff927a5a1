/*
 * Finite-difference gradient checks in float64: for every weighting x
 * placement x reduction, paired and unpaired (diagonal is paired only), on
 * random batches, the analytic dL/d policy_chosen and dL/d policy_rejected
 * equal central differences of the loss, and the reference log-probs'
 * gradients are their negatives (checked by differences too). The same for
 * rpo_loss_weighted_f64 with a random caller matrix (rows not summing to 1).
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* Central differences with this step on log-probs of magnitude ~50: the
 * truncation error is O(h^2) ~ 1e-12 and the rounding error ~ 1e-16 / h,
 * both far below the tolerance. */
#define STEP 1e-5
#define FD_TOL 1e-6

typedef struct batch {
    size_t m, n, d;
    double *pc, *rc, *pr, *rr, *ce, *re, *w;  /* re NULL: paired */
} batch;

static batch make_batch(test_rng *rng, size_t m, size_t n, size_t d, int paired)
{
    batch b = {m, n, d, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    b.pc = malloc(m * sizeof(double));
    b.rc = malloc(m * sizeof(double));
    b.pr = malloc(n * sizeof(double));
    b.rr = malloc(n * sizeof(double));
    b.ce = malloc(m * d * sizeof(double));
    b.w = malloc(m * n * sizeof(double));
    assert_true(b.pc && b.rc && b.pr && b.rr && b.ce && b.w);
    rng_fill(rng, b.pc, m, -60.0, -20.0);
    rng_fill(rng, b.rc, m, -60.0, -20.0);
    rng_fill(rng, b.pr, n, -60.0, -20.0);
    rng_fill(rng, b.rr, n, -60.0, -20.0);
    rng_fill(rng, b.ce, m * d, -1.0, 1.0);
    rng_fill(rng, b.w, m * n, 0.0, 2.0);
    if (!paired) {
        b.re = malloc(n * d * sizeof(double));
        assert_non_null(b.re);
        rng_fill(rng, b.re, n * d, -1.0, 1.0);
    }
    return b;
}

static void free_batch(batch *b)
{
    free(b->pc); free(b->rc); free(b->pr); free(b->rr);
    free(b->ce); free(b->re); free(b->w);
}

/* The loss (and, when gc and gr are given, the gradients) of the batch. */
static double evaluate(rpo_ctx *ctx, const batch *b, int weighted,
                       double *gc, double *gr)
{
    double loss = 0.0;
    int status = weighted
        ? rpo_loss_weighted_f64(ctx, b->m, b->pc, b->rc, b->n, b->pr, b->rr,
                                b->w, &loss, gc, gr)
        : rpo_loss_f64(ctx, b->m, b->pc, b->rc, b->n, b->pr, b->rr, b->d,
                       b->ce, b->re, &loss, gc, gr);
    assert_status(status, RPO_OK);
    return loss;
}

static double loss_of(rpo_ctx *ctx, const batch *b, int weighted)
{
    return evaluate(ctx, b, weighted, NULL, NULL);
}

/* (L(x + h) - L(x - h)) / 2h for one coordinate x of the batch. */
static double central_difference(rpo_ctx *ctx, batch *b, double *x, int weighted)
{
    const double saved = *x;
    *x = saved + STEP;
    double up = loss_of(ctx, b, weighted);
    *x = saved - STEP;
    double down = loss_of(ctx, b, weighted);
    *x = saved;
    return (up - down) / (2.0 * STEP);
}

static void check_one(const char *label, double fd, double analytic, double scale)
{
    if (!(fabs(fd - analytic) <= FD_TOL * scale + 1e-12))
        fail_msg("%s: finite difference %.12g, analytic %.12g", label, fd, analytic);
}

static double max_abs(const double *x, size_t count)
{
    double s = 0.0;
    for (size_t k = 0; k < count; k++)
        s = fmax(s, fabs(x[k]));
    return s;
}

static void gradcheck(rpo_ctx *ctx, batch *b, int weighted, const char *what)
{
    double *gc = malloc(b->m * sizeof *gc), *gr = malloc(b->n * sizeof *gr);
    assert_non_null(gc);
    assert_non_null(gr);
    (void)evaluate(ctx, b, weighted, gc, gr);
    double scale = fmax(max_abs(gc, b->m), max_abs(gr, b->n));
    assert_true(scale > 0.0); /* a zero gradient would make this test vacuous */
    char label[320];
    for (size_t i = 0; i < b->m; i++) {
        snprintf(label, sizeof label, "%.200s dL/dpolicy_chosen[%zu]", what, i);
        check_one(label, central_difference(ctx, b, &b->pc[i], weighted), gc[i], scale);
        snprintf(label, sizeof label, "%.200s dL/dref_chosen[%zu]", what, i);
        check_one(label, central_difference(ctx, b, &b->rc[i], weighted), -gc[i], scale);
    }
    for (size_t j = 0; j < b->n; j++) {
        snprintf(label, sizeof label, "%.200s dL/dpolicy_rejected[%zu]", what, j);
        check_one(label, central_difference(ctx, b, &b->pr[j], weighted), gr[j], scale);
        snprintf(label, sizeof label, "%.200s dL/dref_rejected[%zu]", what, j);
        check_one(label, central_difference(ctx, b, &b->rr[j], weighted), -gr[j], scale);
    }
    free(gc);
    free(gr);
}

static const size_t shapes[][2] = {{1, 1}, {2, 2}, {5, 5}, {9, 9}, {3, 7}, {8, 2}, {1, 6}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

static void sweep(int weighted)
{
    static const char *const wname[] = {"uniform", "diagonal", "embedding"};
    static const char *const pname[] = {"auto", "logit", "loss"};
    static const char *const rname[] = {"mean", "sum"};
    static const double betas[] = {0.1, 1.0, 2.5};
    test_rng rng = {weighted ? 77u : 42u};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    int checked = 0;
    for (int wt = 0; wt < 3; wt++)
        for (int pl = 0; pl < 3; pl++)
            for (int red = 0; red < 2; red++)
                for (size_t s = 0; s < N_SHAPES; s++) {
                    size_t m = shapes[s][0], n = shapes[s][1];
                    int paired = m == n;
                    if (wt == RPO_WEIGHTING_DIAGONAL && !paired && !weighted)
                        continue;
                    double beta = betas[(size_t)checked % 3];
                    configure(ctx, wt, pl, beta, 0.3, 0.7, red);
                    batch b = make_batch(&rng, m, n, 6, paired);
                    char what[160];
                    snprintf(what, sizeof what, "%s%s/%s/%s %zux%zu beta %g",
                             weighted ? "weighted " : "", wname[wt], pname[pl],
                             rname[red], m, n, beta);
                    gradcheck(ctx, &b, weighted, what);
                    free_batch(&b);
                    checked++;
                }
    assert_true(checked >= 100);
    rpo_ctx_free(ctx);
}

static void test_loss_gradients(void **state) { (void)state; sweep(0); }
static void test_weighted_loss_gradients(void **state) { (void)state; sweep(1); }

/* Unpaired embeddings given explicitly, against the same matrix as paired:
 * an independent path through the embedding code. */
static void test_unpaired_embeddings_equal_paired_copy(void **state)
{
    (void)state;
    test_rng rng = {9};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    batch b = make_batch(&rng, 6, 6, 5, 1);
    double *copy = malloc(6 * 5 * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, b.ce, 6 * 5 * sizeof *copy);
    double l1 = 0, l2 = 0, g1[6], g2[6], r1[6], r2[6];
    assert_status(rpo_loss_f64(ctx, 6, b.pc, b.rc, 6, b.pr, b.rr, 5, b.ce, NULL,
                               &l1, g1, r1), RPO_OK);
    assert_status(rpo_loss_f64(ctx, 6, b.pc, b.rc, 6, b.pr, b.rr, 5, b.ce, copy,
                               &l2, g2, r2), RPO_OK);
    check_loss("paired vs copied", l2, l1, 1e-15);
    check_vector_rel("paired vs copied chosen", g2, g1, 6, 1e-15);
    check_vector_rel("paired vs copied rejected", r2, r1, 6, 1e-15);
    free(copy);
    free_batch(&b);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_gradients),
        cmocka_unit_test(test_weighted_loss_gradients),
        cmocka_unit_test(test_unpaired_embeddings_equal_paired_copy),
    };
    return cmocka_run_group_tests_name("gradcheck", tests, NULL, NULL);
}
