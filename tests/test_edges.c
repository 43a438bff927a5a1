/*
 * Edge cases and API properties: empty sides, each NULL output skipped,
 * reference-free use, the two spellings of paired embeddings, a context
 * reused across changing sizes, single pairs, DPO as diagonal alpha = 1,
 * a zero embedding row, huge and tiny magnitudes.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define MAXN 16

static rpo_ctx *new_ctx(int weighting, int placement, double beta)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, weighting, placement, beta, 0.5, 0.8, RPO_REDUCTION_MEAN);
    return ctx;
}

static void test_empty_sides(void **state)
{
    (void)state;
    const double x[3] = {-1.0, -2.0, -3.0};
    const float xf[3] = {-1.0f, -2.0f, -3.0f};
    for (int wt = 0; wt < 3; wt++) {
        rpo_ctx *ctx = new_ctx(wt, RPO_PLACEMENT_AUTO, 0.1);
        /* A previous call leaves non-zero metrics behind. */
        double loss = 5.0, g[3] = {5, 5, 5}, stat = 5.0;
        assert_status(rpo_loss_f64(ctx, 3, x, x, 3, x, NULL, 1, x, NULL,
                                   &loss, g, g), RPO_OK);
        /* m == 0: the rejected side's gradients are zero, loss 0, and the
         * empty side's arrays may be NULL; no embeddings are needed. */
        loss = 5.0;
        g[0] = g[1] = g[2] = 5.0;
        assert_status(rpo_loss_f64(ctx, 0, NULL, NULL, 3, x, x, 0, NULL, NULL,
                                   &loss, NULL, g), RPO_OK);
        assert_true(loss == 0.0 && g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0);
        for (int s = RPO_STAT_LOSS; s <= RPO_STAT_ACCURACY; s++) {
            assert_status(rpo_ctx_stat(ctx, s, &stat), RPO_OK);
            assert_true(stat == 0.0);
        }
        /* n == 0, float32, with unpaired-looking sizes. */
        float fl = 5.0f, fg[3] = {5, 5, 5};
        assert_status(rpo_loss_f32(ctx, 3, xf, NULL, 0, NULL, NULL, 0, NULL, NULL,
                                   &fl, fg, NULL), RPO_OK);
        assert_true(fl == 0.0f && fg[0] == 0.0f && fg[2] == 0.0f);
        /* Weighted and weight entry points: nothing to weigh. */
        loss = 5.0;
        assert_status(rpo_loss_weighted_f64(ctx, 0, NULL, NULL, 2, x, NULL, NULL,
                                            &loss, NULL, NULL), RPO_OK);
        assert_true(loss == 0.0);
        double w = 5.0;
        assert_status(rpo_weights_f64(ctx, 0, 4, 0, NULL, NULL, NULL), RPO_OK);
        assert_status(rpo_weights_f64(ctx, 4, 0, 3, NULL, NULL, &w), RPO_OK);
        assert_true(w == 5.0);
        rpo_ctx_free(ctx);
    }
}

/* A batch used by several tests: 5 x 5 paired, D = 4. CE has a sixth row
 * so that the unpaired view CE + 4 (rows 1..5) holds five rejected rows. */
static double PC[5] = {-31.5, -40.25, -28.0, -35.5, -44.0};
static double RC[5] = {-33.0, -39.5, -30.25, -35.0, -41.0};
static double PR[5] = {-36.0, -38.5, -33.0, -30.5, -47.25};
static double RR[5] = {-35.5, -40.0, -31.0, -32.0, -46.0};
static double CE[24] = {0.3, -0.2, 0.9, 0.1,  0.4, 0.4, -0.1, 0.0,  -0.8, 0.2, 0.1, 0.5,
                        0.0, 0.7, 0.7, -0.3,  0.25, -0.5, 0.5, 0.6,  -0.4, 0.1, 0.3, -0.9};

typedef struct outputs { double loss, gc[MAXN], gr[MAXN], stats[6]; } outputs;

static int call(rpo_ctx *ctx, size_t m, const double *rc, size_t n,
                const double *rr, const double *re, int want, outputs *o)
{
    memset(o, 0x5a, sizeof *o);
    int status = rpo_loss_f64(ctx, m, PC, rc, n, PR, rr, 4, CE, re,
                              (want & 1) ? &o->loss : NULL,
                              (want & 2) ? o->gc : NULL,
                              (want & 4) ? o->gr : NULL);
    for (int s = RPO_STAT_LOSS; s <= RPO_STAT_ACCURACY; s++)
        assert_status(rpo_ctx_stat(ctx, s, &o->stats[s]), RPO_OK);
    return status;
}

static void test_null_outputs_are_skipped(void **state)
{
    (void)state;
    for (int wt = 0; wt < 3; wt++)
        for (int pl = 0; pl < 3; pl++) {
            rpo_ctx *ctx = new_ctx(wt, pl, 0.7);
            outputs full, part;
            assert_status(call(ctx, 5, RC, 5, RR, NULL, 7, &full), RPO_OK);
            for (int want = 0; want < 7; want++) {
                assert_status(call(ctx, 5, RC, 5, RR, NULL, want, &part), RPO_OK);
                /* What is computed is bitwise what the full call gives;
                 * what is not asked for is not written. */
                unsigned char untouched[sizeof(double)];
                memset(untouched, 0x5a, sizeof untouched);
                if (want & 1)
                    assert_memory_equal(&part.loss, &full.loss, sizeof(double));
                else
                    assert_memory_equal(&part.loss, untouched, sizeof(double));
                if (want & 2)
                    assert_memory_equal(part.gc, full.gc, 5 * sizeof(double));
                else
                    assert_memory_equal(part.gc, untouched, sizeof(double));
                if (want & 4)
                    assert_memory_equal(part.gr, full.gr, 5 * sizeof(double));
                else
                    assert_memory_equal(part.gr, untouched, sizeof(double));
                /* Metrics do not depend on which outputs were asked for,
                 * except the loss stat, 0 when the loss was not computed. */
                assert_memory_equal(&part.stats[2], &full.stats[2], 4 * sizeof(double));
                assert_true(part.stats[1] == ((want & 1) ? full.stats[1] : 0.0));
            }
            rpo_ctx_free(ctx);
        }
}

static void test_reference_free_is_zero_reference(void **state)
{
    (void)state;
    const double zeros[5] = {0, 0, 0, 0, 0};
    for (int wt = 0; wt < 3; wt++) {
        rpo_ctx *ctx = new_ctx(wt, RPO_PLACEMENT_AUTO, 0.3);
        outputs a, b;
        assert_status(call(ctx, 5, NULL, 5, NULL, NULL, 7, &a), RPO_OK);
        assert_status(call(ctx, 5, zeros, 5, zeros, NULL, 7, &b), RPO_OK);
        assert_memory_equal(&a, &b, sizeof a);
        /* and it differs from the run with a reference (the test can fail) */
        assert_status(call(ctx, 5, RC, 5, RR, NULL, 7, &b), RPO_OK);
        assert_true(a.loss != b.loss);
        rpo_ctx_free(ctx);
    }
}

static void test_paired_spellings_agree_bitwise(void **state)
{
    (void)state;
    for (int pl = 0; pl < 3; pl++) {
        rpo_ctx *ctx = new_ctx(RPO_WEIGHTING_EMBEDDING, pl, 0.4);
        outputs a, b;
        assert_status(call(ctx, 5, RC, 5, RR, NULL, 7, &a), RPO_OK);
        assert_status(call(ctx, 5, RC, 5, RR, CE, 7, &b), RPO_OK);
        assert_memory_equal(&a, &b, sizeof a);
        double wa[25], wb[25];
        assert_status(rpo_weights_f64(ctx, 5, 5, 4, CE, NULL, wa), RPO_OK);
        assert_status(rpo_weights_f64(ctx, 5, 5, 4, CE, CE, wb), RPO_OK);
        assert_memory_equal(wa, wb, sizeof wa);
        rpo_ctx_free(ctx);
    }
}

/* Calls of growing and shrinking sizes on one context give bitwise what a
 * fresh context gives: no state leaks between calls through scratch. */
static void test_context_reuse_across_sizes(void **state)
{
    (void)state;
    static const size_t sizes[][2] = {{5, 5}, {1, 1}, {3, 5}, {5, 2}, {2, 2}, {5, 5}, {4, 1}};
    for (int wt = 0; wt < 3; wt++) {
        rpo_ctx *reused = new_ctx(wt, RPO_PLACEMENT_AUTO, 0.2);
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            size_t m = sizes[k][0], n = sizes[k][1];
            if (wt == RPO_WEIGHTING_DIAGONAL && m != n)
                continue;
            const double *re = m == n ? NULL : CE + 4; /* unpaired: shifted rows */
            rpo_ctx *fresh = new_ctx(wt, RPO_PLACEMENT_AUTO, 0.2);
            outputs a, b;
            assert_status(call(reused, m, RC, n, RR, re, 7, &a), RPO_OK);
            assert_status(call(fresh, m, RC, n, RR, re, 7, &b), RPO_OK);
            assert_memory_equal(&a, &b, sizeof a);
            rpo_ctx_free(fresh);
        }
        rpo_ctx_free(reused);
    }
}

/* -log sigmoid(x), in long double, for the independent expectations. */
static double softplus_neg(double x)
{
    long double v = (long double)x;
    return (double)(v > 0 ? log1pl(expl(-v)) : -v + log1pl(expl(v)));
}

/* One chosen against one rejected is DPO under every weighting and
 * placement: W = 1. */
static void test_single_pair_is_dpo(void **state)
{
    (void)state;
    const double pc = -12.0, rc = -13.5, pr = -14.0, rr = -13.0, e[2] = {1.0, 2.0};
    const double beta = 0.5, z = (pc - rc) - (pr - rr);
    const double want = softplus_neg(beta * z);
    const double want_g = -beta / (1.0 + exp(beta * z));  /* -beta sigmoid(-beta z) */
    for (int wt = 0; wt < 3; wt++)
        for (int pl = 0; pl < 3; pl++) {
            rpo_ctx *ctx = new_ctx(wt, pl, beta);
            double loss = 0, gc = 0, gr = 0, w = 0;
            assert_status(rpo_loss_f64(ctx, 1, &pc, &rc, 1, &pr, &rr, 2, e, NULL,
                                       &loss, &gc, &gr), RPO_OK);
            check_loss("single pair", loss, want, 1e-15);
            check_loss("single pair grad", gc, want_g, 1e-15);
            check_loss("single pair grad rejected", gr, -want_g, 1e-15);
            assert_status(rpo_weights_f64(ctx, 1, 1, 2, e, NULL, &w), RPO_OK);
            assert_true(w == 1.0);
            rpo_ctx_free(ctx);
        }
}

/* Diagonal weighting with alpha = 1 is DPO: loss, gradients and DPO's
 * usual metrics, from the DPO formulas directly. */
static void test_diagonal_alpha_one_is_dpo(void **state)
{
    (void)state;
    const double beta = 0.25;
    for (int pl = 0; pl < 3; pl++) {
        rpo_ctx *ctx = new_ctx(RPO_WEIGHTING_DIAGONAL, pl, beta);
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0), RPO_OK);
        outputs o;
        assert_status(call(ctx, 5, RC, 5, RR, NULL, 7, &o), RPO_OK);
        double loss = 0, margin = 0, accuracy = 0, gc[5], gr[5];
        for (int i = 0; i < 5; i++) {
            double z = (PC[i] - RC[i]) - (PR[i] - RR[i]);
            loss += softplus_neg(beta * z) / 5;
            gc[i] = -beta / 5 / (1.0 + exp(beta * z));
            gr[i] = -gc[i];
            margin += beta * z / 5;
            accuracy += z > 0 ? 0.2 : 0.0;
        }
        /* In logit placement the off-diagonal pairs have W = 0 and so still
         * contribute softplus(0) = log 2 each, over N: not DPO, but
         * (DPO + (N - 1) log 2) / N, with DPO's gradients over N. */
        if (pl == RPO_PLACEMENT_LOGIT) {
            for (int i = 0; i < 5; i++) {
                gc[i] /= 5;
                gr[i] /= 5;
            }
            check_loss("logit-placed diagonal loss", o.loss, (loss + 4 * log(2.0)) / 5, 1e-14);
            check_vector_rel("logit-placed grad chosen", o.gc, gc, 5, 1e-14);
            check_vector_rel("logit-placed grad rejected", o.gr, gr, 5, 1e-14);
        } else {
            check_loss("dpo loss", o.loss, loss, 1e-14);
            check_vector_rel("dpo grad chosen", o.gc, gc, 5, 1e-14);
            check_vector_rel("dpo grad rejected", o.gr, gr, 5, 1e-14);
        }
        check_loss("dpo margin", o.stats[RPO_STAT_MARGIN], margin, 1e-14);
        check_loss("dpo accuracy", o.stats[RPO_STAT_ACCURACY], accuracy, 1e-15);
        rpo_ctx_free(ctx);
    }
}

static void test_zero_embedding_row(void **state)
{
    (void)state;
    double ce[20];
    memcpy(ce, CE, sizeof ce);
    memset(ce + 8, 0, 4 * sizeof(double));            /* row 2 is zero */
    rpo_ctx *ctx = new_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1);
    double w[25];
    assert_status(rpo_weights_f64(ctx, 5, 5, 4, ce, NULL, w), RPO_OK);
    /* cosine 0 with everything: its row is uniform, and in every other row
     * its column gets exp((0 - max cos)/tau) / sum, finite and positive. */
    for (int j = 0; j < 5; j++)
        assert_true(w[2 * 5 + j] == 0.2);
    for (int i = 0; i < 5; i++)
        assert_true(w[i * 5 + 2] > 0.0 && w[i * 5 + 2] < 1.0);
    outputs o;
    assert_status(call(ctx, 5, RC, 5, RR, NULL, 7, &o), RPO_OK);
    rpo_ctx_free(ctx);
}

/* |beta z| of 1e4 and 1e30: finite results equal to the limits
 * softplus(-u) -> max(-u, 0), sigmoid(-u) -> [u < 0]. */
static void test_huge_magnitudes(void **state)
{
    (void)state;
    const double scales[2] = {1e4, 1e30};
    for (int k = 0; k < 2; k++)
        for (int sign = -1; sign <= 1; sign += 2) {
            double u = sign * scales[k];          /* beta z with beta = 1 */
            double pc = u, rc = 0.0, pr = 0.0, rr = 0.0;
            for (int pl = 1; pl <= 2; pl++) {
                rpo_ctx *ctx = new_ctx(RPO_WEIGHTING_UNIFORM, pl, 1.0);
                double loss = 0, gc = 0, gr = 0;
                assert_status(rpo_loss_f64(ctx, 1, &pc, &rc, 1, &pr, &rr, 0, NULL,
                                           NULL, &loss, &gc, &gr), RPO_OK);
                assert_true(loss == (u < 0 ? -u : 0.0));
                assert_true(gc == (u < 0 ? -1.0 : 0.0));
                assert_true(gr == -gc);
                float fpc = (float)pc, frc = 0, fpr = 0, frr = 0, fl = 0, fgc = 0, fgr = 0;
                assert_status(rpo_loss_f32(ctx, 1, &fpc, &frc, 1, &fpr, &frr, 0, NULL,
                                           NULL, &fl, &fgc, &fgr), RPO_OK);
                assert_true(fl == (float)(u < 0 ? -u : 0.0));
                assert_true(fgc == (u < 0 ? -1.0f : 0.0f));
                rpo_ctx_free(ctx);
            }
        }
}

/* All log-ratios equal: z = 0 everywhere, so every pair costs log 2 and
 * pulls with sigmoid(0) = 1/2; tiny beta and subnormal inputs stay exact. */
static void test_tiny_magnitudes(void **state)
{
    (void)state;
    const double same[4] = {-7.0, -7.0, -7.0, -7.0};
    for (int wt = 0; wt < 3; wt++) {
        rpo_ctx *ctx = new_ctx(wt, RPO_PLACEMENT_LOSS, 1e-300);
        double e[8] = {1e-310, 0, 0, 1e-310, 5e-324, 5e-324, 1e-320, -1e-320};
        double loss = 0, gc[4], gr[4];
        assert_status(rpo_loss_f64(ctx, 4, same, NULL, 4, same, NULL, 2, e, NULL,
                                   &loss, gc, gr), RPO_OK);
        check_loss("z = 0 loss", loss, log(2.0), 1e-15);
        for (int i = 0; i < 4; i++) {
            check_loss("z = 0 grad", gc[i] / 1e-300, -0.5 / 4, 1e-14);
            check_loss("z = 0 grad rejected", gr[i] / 1e-300, 0.5 / 4, 1e-14);
        }
        double w[16];
        assert_status(rpo_weights_f64(ctx, 4, 4, 2, e, NULL, w), RPO_OK);
        for (int i = 0; i < 4; i++) {
            double sum = 0;
            for (int j = 0; j < 4; j++) {
                assert_true(isfinite(w[i * 4 + j]) && w[i * 4 + j] >= 0.0);
                sum += w[i * 4 + j];
            }
            check_loss("row sum", sum, 1.0, 1e-15);
        }
        rpo_ctx_free(ctx);
    }
}

/* Embeddings far beyond sqrt(DBL_MAX) normalise without overflow: the
 * weights equal those of the same directions at unit scale. */
static void test_huge_embeddings(void **state)
{
    (void)state;
    double big[20], w_big[25], w_unit[25];
    for (int k = 0; k < 20; k++)
        big[k] = CE[k] * 1e300;
    rpo_ctx *ctx = new_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1);
    assert_status(rpo_weights_f64(ctx, 5, 5, 4, big, NULL, w_big), RPO_OK);
    assert_status(rpo_weights_f64(ctx, 5, 5, 4, CE, NULL, w_unit), RPO_OK);
    check_vector_abs("huge embeddings", w_big, w_unit, 25, 1e-15);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_sides),
        cmocka_unit_test(test_null_outputs_are_skipped),
        cmocka_unit_test(test_reference_free_is_zero_reference),
        cmocka_unit_test(test_paired_spellings_agree_bitwise),
        cmocka_unit_test(test_context_reuse_across_sizes),
        cmocka_unit_test(test_single_pair_is_dpo),
        cmocka_unit_test(test_diagonal_alpha_one_is_dpo),
        cmocka_unit_test(test_zero_embedding_row),
        cmocka_unit_test(test_huge_magnitudes),
        cmocka_unit_test(test_tiny_magnitudes),
        cmocka_unit_test(test_huge_embeddings),
    };
    return cmocka_run_group_tests_name("edges", tests, NULL, NULL);
}
