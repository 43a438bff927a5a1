/*
 * The token-level helpers (rpo.h, "Token-level helpers"):
 *   rpo_token_logps_*            against a long double log-softmax
 *   rpo_token_logps_backward_*   against finite differences of the forward
 *                                and a long double softmax; accumulation
 *   rpo_seq_logps_*, _backward_* against direct sums and their derivative
 * plus a whole chain logits -> token log-probs -> sequences -> rpo_loss and
 * back, checked by finite differences; every error path; and that nothing
 * is written on error.
 */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "testutil.h"

#define SENTINEL (-12345.0)
/* NAN and INFINITY are float constants; these are their double values. */
#define D_NAN ((double)NAN)
#define D_INF ((double)INFINITY)

/* ---------------------------------------------------------------- helpers */

typedef struct logits_case {
    size_t t, v, stride;
    double *logits;        /* (t, stride); padding holds NaN: never read */
    int32_t *targets;      /* (t); some negative                        */
} logits_case;

static logits_case make_logits(test_rng *rng, size_t t, size_t v, size_t stride,
                               double spread)
{
    logits_case c = {t, v, stride, NULL, NULL};
    c.logits = malloc(t * stride * sizeof *c.logits);
    c.targets = malloc(t * sizeof *c.targets);
    assert_non_null(c.logits);
    assert_non_null(c.targets);
    for (size_t k = 0; k < t; k++) {
        for (size_t j = 0; j < stride; j++)
            c.logits[k * stride + j] = j < v ? rng_uniform(rng, -spread, spread) : D_NAN;
        c.targets[k] = (int32_t)(rng_next(rng) % v);
    }
    if (t > 2)
        c.targets[1] = -1;   /* a position without a token */
    return c;
}

static void free_logits(logits_case *c)
{
    free(c->logits);
    free(c->targets);
}

/* log softmax(row)[y] in long double, the naive way with the max shifted. */
static long double ld_logp(const double *row, size_t v, size_t y)
{
    long double top = (long double)row[0], sum = 0.0L;
    for (size_t j = 1; j < v; j++)
        if ((long double)row[j] > top)
            top = (long double)row[j];
    for (size_t j = 0; j < v; j++)
        sum += expl((long double)row[j] - top);
    return ((long double)row[y] - top) - logl(sum);
}

static long double ld_softmax(const double *row, size_t v, size_t j)
{
    long double top = (long double)row[0], sum = 0.0L;
    for (size_t k = 1; k < v; k++)
        if ((long double)row[k] > top)
            top = (long double)row[k];
    for (size_t k = 0; k < v; k++)
        sum += expl((long double)row[k] - top);
    return expl((long double)row[j] - top) / sum;
}

static rpo_ctx *new_ctx(void)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    return ctx;
}

/* ------------------------------------------------------- token log-probs */

static void test_logps_match_long_double(void **state)
{
    (void)state;
    test_rng rng = {11};
    rpo_ctx *ctx = new_ctx();
    logits_case c = make_logits(&rng, 9, 13, 16, 6.0);
    double got[9];
    float got32[9];
    float *logits32 = malloc(c.t * c.stride * sizeof *logits32);
    assert_non_null(logits32);
    to_f32(logits32, c.logits, c.t * c.stride);
    assert_status(rpo_token_logps_f64(ctx, c.t, c.v, c.stride, c.logits,
                                      c.targets, got), RPO_OK);
    assert_status(rpo_token_logps_f32(ctx, c.t, c.v, c.stride, logits32,
                                      c.targets, got32), RPO_OK);
    for (size_t k = 0; k < c.t; k++) {
        if (c.targets[k] < 0) {
            assert_true(got[k] == 0.0 && got32[k] == 0.0f);
            continue;
        }
        double want = (double)ld_logp(c.logits + k * c.stride, c.v, (size_t)c.targets[k]);
        check_loss("logp f64", got[k], want, 1e-14);
        /* float32 inputs are the rounded logits; compare with their own
         * long double result */
        double row[16];
        to_f64(row, logits32 + k * c.stride, c.v);
        check_loss("logp f32", (double)got32[k],
                   (double)ld_logp(row, c.v, (size_t)c.targets[k]), 1e-6);
    }
    free(logits32);
    free_logits(&c);
    rpo_ctx_free(ctx);
}

static void test_logps_extreme_logits(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    /* rows: huge spread, 1e4 spread, all equal, one-element vocabulary */
    const double logits[4 * 3] = {
        1e30, -1e30, 0.0,
        0.0, -1e4, 1e4,
        7.0, 7.0, 7.0,
        -3.0, 0.0, 0.0,
    };
    const int32_t targets[4] = {1, 0, 2, 0};
    double got[4];
    assert_status(rpo_token_logps_f64(ctx, 4, 3, 3, logits, targets, got), RPO_OK);
    check_loss("huge spread", got[0], -2e30, 1e-15);
    check_loss("1e4 spread", got[1], -1e4, 1e-15);
    check_loss("uniform", got[2], -log(3.0), 1e-15);
    /* V = 1 through a stride of 3: log softmax of one logit is 0 */
    double one;
    assert_status(rpo_token_logps_f64(ctx, 1, 1, 3, logits + 9, targets + 3, &one), RPO_OK);
    assert_true(one == 0.0);
    rpo_ctx_free(ctx);
}

static void test_logps_skip_rows_without_token(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    const double logits[2 * 2] = {D_NAN, D_INF, 1.0, 2.0};
    const int32_t targets[2] = {-100, 1};
    double got[2] = {SENTINEL, SENTINEL};
    assert_status(rpo_token_logps_f64(ctx, 2, 2, 2, logits, targets, got), RPO_OK);
    assert_true(got[0] == 0.0);
    check_loss("row 1", got[1], -log1p(exp(-1.0)), 1e-15);
    rpo_ctx_free(ctx);
}

static void test_logps_errors_write_nothing(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    double logits[3 * 4] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    int32_t targets[3] = {0, 1, 2};
    double out[3] = {SENTINEL, SENTINEL, SENTINEL};
    const double want[3] = {SENTINEL, SENTINEL, SENTINEL};

    assert_status(rpo_token_logps_f64(NULL, 3, 4, 4, logits, targets, out), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, NULL, targets, out), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, logits, NULL, out), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, logits, targets, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_f64(ctx, 0, 4, 4, NULL, NULL, NULL), RPO_OK);
    assert_status(rpo_token_logps_f64(ctx, 3, 0, 4, logits, targets, out), RPO_ERR_SIZE);
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 3, logits, targets, out), RPO_ERR_SIZE);
    assert_status(rpo_token_logps_f64(ctx, SIZE_MAX / 2, 4, 4, logits, targets, out), RPO_ERR_SIZE);
    targets[2] = 4;      /* == V */
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, logits, targets, out), RPO_ERR_SIZE);
    targets[2] = 2;
    logits[9] = D_NAN;   /* last row: rows before it computed, not written */
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, logits, targets, out), RPO_ERR_NONFINITE);
    logits[9] = -D_INF;
    assert_status(rpo_token_logps_f64(ctx, 3, 4, 4, logits, targets, out), RPO_ERR_NONFINITE);
    logits[9] = 9.0;
    check_vector_abs("out after errors", out, want, 3, 0.0);

    /* float32: a log-prob of about -6.8e38 does not fit */
    float l32[2] = {3e38f, -3e38f}, o32[1] = {(float)SENTINEL};
    int32_t y = 1;
    assert_status(rpo_token_logps_f32(ctx, 1, 2, 2, l32, &y, o32), RPO_ERR_RANGE);
    assert_true(o32[0] == (float)SENTINEL);
    /* float64: the same spread fits */
    double l64[2] = {3e38, -3e38}, o64;
    assert_status(rpo_token_logps_f64(ctx, 1, 2, 2, l64, &y, &o64), RPO_OK);
    check_loss("wide f64", o64, -6e38, 1e-15);
    rpo_ctx_free(ctx);
}

/* ---------------------------------------------------------- the backward */

/* sum_k dlogps[k] * logp_k(logits), the function whose gradient the
 * backward accumulates. */
static double weighted_logps(rpo_ctx *ctx, const logits_case *c, const double *dlogps)
{
    double logps[16];
    assert_true(c->t <= 16);
    assert_status(rpo_token_logps_f64(ctx, c->t, c->v, c->stride, c->logits,
                                      c->targets, logps), RPO_OK);
    double s = 0.0;
    for (size_t k = 0; k < c->t; k++)
        s += dlogps[k] * logps[k];
    return s;
}

static void test_backward_finite_differences(void **state)
{
    (void)state;
    test_rng rng = {12};
    rpo_ctx *ctx = new_ctx();
    logits_case c = make_logits(&rng, 6, 7, 9, 3.0);
    double dlogps[6];
    rng_fill(&rng, dlogps, 6, -2.0, 2.0);
    dlogps[3] = 0.0;
    double *d = calloc(c.t * c.stride, sizeof *d);
    assert_non_null(d);
    assert_status(rpo_token_logps_backward_f64(ctx, c.t, c.v, c.stride, c.logits,
                                               c.targets, dlogps, d), RPO_OK);
    const double h = 1e-6;
    for (size_t k = 0; k < c.t; k++) {
        for (size_t j = 0; j < c.v; j++) {
            double *x = &c.logits[k * c.stride + j], keep = *x;
            *x = keep + h;
            double up = weighted_logps(ctx, &c, dlogps);
            *x = keep - h;
            double down = weighted_logps(ctx, &c, dlogps);
            *x = keep;
            double want = (up - down) / (2.0 * h);
            if (!(fabs(d[k * c.stride + j] - want) <= 1e-8))
                fail_msg("dlogits[%zu, %zu] = %.12g, finite difference %.12g",
                         k, j, d[k * c.stride + j], want);
        }
        for (size_t j = c.v; j < c.stride; j++)
            assert_true(d[k * c.stride + j] == 0.0);   /* padding untouched */
    }
    free(d);
    free_logits(&c);
    rpo_ctx_free(ctx);
}

static void test_backward_accumulates_long_double(void **state)
{
    (void)state;
    test_rng rng = {13};
    rpo_ctx *ctx = new_ctx();
    logits_case c = make_logits(&rng, 5, 11, 12, 8.0);
    c.targets[2] = -7;
    double dlogps[5], *d = malloc(c.t * c.stride * sizeof *d);
    double *start = malloc(c.t * c.stride * sizeof *start);
    assert_non_null(d);
    assert_non_null(start);
    rng_fill(&rng, dlogps, 5, -1.0, 1.0);
    rng_fill(&rng, start, c.t * c.stride, -0.5, 0.5);
    memcpy(d, start, c.t * c.stride * sizeof *d);
    /* twice: the contributions add up */
    for (int pass = 0; pass < 2; pass++)
        assert_status(rpo_token_logps_backward_f64(ctx, c.t, c.v, c.stride, c.logits,
                                                   c.targets, dlogps, d), RPO_OK);
    for (size_t k = 0; k < c.t; k++) {
        for (size_t j = 0; j < c.stride; j++) {
            double want = start[k * c.stride + j];
            if (j < c.v && c.targets[k] >= 0) {
                long double p = ld_softmax(c.logits + k * c.stride, c.v, j);
                long double hot = j == (size_t)c.targets[k] ? 1.0L : 0.0L;
                want = (double)((long double)want + 2.0L * (long double)dlogps[k] * (hot - p));
            }
            if (!(fabs(d[k * c.stride + j] - want) <= 1e-14))
                fail_msg("dlogits[%zu, %zu] = %.17g, want %.17g", k, j,
                         d[k * c.stride + j], want);
        }
    }

    /* float32 agrees with float64 to float32 rounding */
    float *l32 = malloc(c.t * c.stride * sizeof *l32), d32[5 * 12], g32[5];
    double d64[5 * 12], back[5 * 12];
    assert_non_null(l32);
    to_f32(l32, c.logits, c.t * c.stride);
    to_f64(c.logits, l32, c.t * c.stride);
    to_f32(g32, dlogps, 5);
    to_f64(dlogps, g32, 5);
    memset(d32, 0, sizeof d32);
    memset(d64, 0, sizeof d64);
    assert_status(rpo_token_logps_backward_f32(ctx, c.t, c.v, c.stride, l32, c.targets, g32, d32), RPO_OK);
    assert_status(rpo_token_logps_backward_f64(ctx, c.t, c.v, c.stride, c.logits, c.targets, dlogps, d64), RPO_OK);
    to_f64(back, d32, 5 * 12);
    check_vector_rel("backward f32", back, d64, 5 * 12, 1e-6);
    free(l32);
    free(start);
    free(d);
    free_logits(&c);
    rpo_ctx_free(ctx);
}

/* A confident model: 1 - p_y is about 2 exp(-40), far below the ulp of 1.
 * The target's log-prob and its gradient must keep it to full relative
 * precision, where the naive 1 - p_y and log(sum) give 0. */
static void test_confident_target(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    const double logits[3] = {40.0, 0.0, 0.0};
    const int32_t y = 0;
    const double g = 1.0;
    double d[3] = {0.0, 0.0, 0.0}, logp = 0.0;
    long double rest = 2.0L * expl(-40.0L);
    assert_status(rpo_token_logps_f64(ctx, 1, 3, 3, logits, &y, &logp), RPO_OK);
    check_loss("log p_y relative", logp / (double)-log1pl(rest), 1.0, 1e-14);
    assert_status(rpo_token_logps_backward_f64(ctx, 1, 3, 3, logits, &y, &g, d), RPO_OK);
    check_loss("d[y] relative", d[0] / (double)(rest / (1.0L + rest)), 1.0, 1e-14);
    check_loss("d[1] relative", d[1] / (double)(-expl(-40.0L) / (1.0L + rest)), 1.0, 1e-14);
    rpo_ctx_free(ctx);
}

static void test_backward_skips_rows(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    /* row 0: no token; row 1: zero upstream gradient; both hold NaN logits
     * and NaN dlogits, which must be neither read nor written */
    double logits[3 * 2] = {D_NAN, D_NAN, D_NAN, D_NAN, 1.0, -1.0};
    const int32_t targets[3] = {-1, 0, 1};
    const double dlogps[3] = {1.0, 0.0, 0.5};
    double d[3 * 2] = {D_NAN, D_NAN, D_NAN, D_NAN, 0.0, 0.0};
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, d), RPO_OK);
    assert_true(isnan(d[0]) && isnan(d[1]) && isnan(d[2]) && isnan(d[3]));
    double p1 = 1.0 / (1.0 + exp(-2.0));   /* softmax of class 0 in row 2 */
    check_loss("row 2 class 0", d[4], -0.5 * p1, 1e-15);
    check_loss("row 2 class 1", d[5], 0.5 * p1, 1e-15);
    rpo_ctx_free(ctx);
}

static void test_backward_errors_write_nothing(void **state)
{
    (void)state;
    rpo_ctx *ctx = new_ctx();
    double logits[3 * 2] = {0.0, 1.0, 2.0, 3.0, 4.0, 5.0};
    int32_t targets[3] = {0, 1, 0};
    double dlogps[3] = {1.0, 1.0, 1.0};
    double d[3 * 2] = {1, 2, 3, 4, 5, 6};
    const double want[3 * 2] = {1, 2, 3, 4, 5, 6};

    assert_status(rpo_token_logps_backward_f64(NULL, 3, 2, 2, logits, targets, dlogps, d), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, NULL, d), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_backward_f64(ctx, 0, 2, 2, NULL, NULL, NULL, NULL), RPO_OK);
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 1, logits, targets, dlogps, d), RPO_ERR_SIZE);
    targets[1] = 2;
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, d), RPO_ERR_SIZE);
    targets[1] = 1;
    logits[5] = D_NAN;     /* the last row: earlier rows must stay as they were */
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, d), RPO_ERR_NONFINITE);
    logits[5] = 5.0;
    dlogps[2] = D_INF;
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, d), RPO_ERR_NONFINITE);
    dlogps[2] = 1.0;
    d[5] = D_NAN;          /* the accumulator is an input too */
    assert_status(rpo_token_logps_backward_f64(ctx, 3, 2, 2, logits, targets, dlogps, d), RPO_ERR_NONFINITE);
    assert_true(isnan(d[5]));
    d[5] = 6.0;
    check_vector_abs("dlogits after errors", d, want, 6, 0.0);

    /* float32: an accumulator at FLT_MAX plus a gradient of 1e38 could
     * overflow: RPO_ERR_RANGE, and the earlier row is not updated */
    float l32[2 * 2] = {0.0f, 1.0f, 0.0f, 1.0f};
    float g32[2] = {1.0f, 1e38f};
    float d32[2 * 2] = {0.0f, 0.0f, FLT_MAX, 0.0f};
    int32_t y32[2] = {0, 0};
    assert_status(rpo_token_logps_backward_f32(ctx, 2, 2, 2, l32, y32, g32, d32), RPO_ERR_RANGE);
    assert_true(d32[0] == 0.0f && d32[1] == 0.0f && d32[2] == FLT_MAX);
    /* a NaN in a later row wins over a range problem in an earlier one */
    float l32b[3 * 2] = {0.0f, 1.0f, 0.0f, 1.0f, NAN, 1.0f};
    float g32b[3] = {1.0f, 1e38f, 1.0f};
    float d32b[3 * 2] = {0.0f, 0.0f, FLT_MAX, 0.0f, 0.0f, 0.0f};
    int32_t y32b[3] = {0, 0, 0};
    assert_status(rpo_token_logps_backward_f32(ctx, 3, 2, 2, l32b, y32b, g32b, d32b), RPO_ERR_NONFINITE);
    rpo_ctx_free(ctx);
}

/* ------------------------------------------------------------ sequences */

static void test_seq_sum_and_mean(void **state)
{
    (void)state;
    test_rng rng = {14};
    enum { B = 4, T = 6 };
    double x[B * T], got[B], want[B];
    float x32[B * T], got32[B];
    uint8_t mask[B * T];
    rng_fill(&rng, x, B * T, -5.0, 0.0);
    for (size_t k = 0; k < B * T; k++)
        mask[k] = (uint8_t)(rng_next(&rng) % 3 != 0 ? 1 + rng_next(&rng) % 200 : 0);
    for (size_t k = 3 * T; k < 4 * T; k++)
        mask[k] = 0;                      /* row 3 has no token at all   */
    for (size_t k = 0; k < B * T; k++)
        if (!mask[k])
            x[k] = D_NAN;                 /* entries off the mask: unread */
    to_f32(x32, x, B * T);

    for (int reduce = RPO_SEQ_SUM; reduce <= RPO_SEQ_MEAN; reduce++) {
        for (size_t r = 0; r < B; r++) {
            long double s = 0.0L;
            size_t count = 0;
            for (size_t k = r * T; k < (r + 1) * T; k++)
                if (mask[k]) {
                    s += (long double)x[k];
                    count++;
                }
            if (reduce == RPO_SEQ_MEAN)
                s = count ? s / (long double)count : 0.0L;
            want[r] = (double)s;
        }
        assert_status(rpo_seq_logps_f64(B, T, x, mask, reduce, got), RPO_OK);
        check_vector_rel("seq f64", got, want, B, 1e-15);
        assert_true(got[3] == 0.0);
        assert_status(rpo_seq_logps_f32(B, T, x32, mask, reduce, got32), RPO_OK);
        double back[B];
        to_f64(back, got32, B);
        check_vector_rel("seq f32", back, want, B, 1e-6);
    }

    /* no mask: every token counts; output aliasing the input */
    double y[2 * 3] = {1, 2, 3, 4, 5, 6};
    assert_status(rpo_seq_logps_f64(2, 3, y, NULL, RPO_SEQ_SUM, y), RPO_OK);
    assert_true(y[0] == 6.0 && y[1] == 15.0);
    /* T == 0: sequences without tokens have log-prob 0 */
    double empty[2] = {SENTINEL, SENTINEL};
    assert_status(rpo_seq_logps_f64(2, 0, NULL, NULL, RPO_SEQ_MEAN, empty), RPO_OK);
    assert_true(empty[0] == 0.0 && empty[1] == 0.0);
    assert_status(rpo_seq_logps_f64(0, 5, NULL, NULL, RPO_SEQ_SUM, NULL), RPO_OK);
}

static void test_seq_backward(void **state)
{
    (void)state;
    enum { B = 3, T = 4 };
    const uint8_t mask[B * T] = {1, 1, 0, 0,  0, 1, 1, 1,  0, 0, 0, 0};
    const double dseq[B] = {2.0, -3.0, 5.0};
    double d[B * T], x[B * T], base[B], moved[B];
    float d32[B * T], dseq32[B] = {2.0f, -3.0f, 5.0f};
    for (size_t k = 0; k < B * T; k++)
        x[k] = -(double)k;
    for (int reduce = RPO_SEQ_SUM; reduce <= RPO_SEQ_MEAN; reduce++) {
        for (size_t k = 0; k < B * T; k++)
            d[k] = SENTINEL;
        assert_status(rpo_seq_logps_backward_f64(B, T, mask, reduce, dseq, d), RPO_OK);
        /* the forward is linear: moving token k by 1 moves sequence r by
         * exactly the derivative */
        assert_status(rpo_seq_logps_f64(B, T, x, mask, reduce, base), RPO_OK);
        for (size_t k = 0; k < B * T; k++) {
            x[k] += 1.0;
            assert_status(rpo_seq_logps_f64(B, T, x, mask, reduce, moved), RPO_OK);
            x[k] -= 1.0;
            size_t r = k / T;
            check_loss("d token", d[k], dseq[r] * (moved[r] - base[r]), 1e-15);
        }
        assert_status(rpo_seq_logps_backward_f32(B, T, mask, reduce, dseq32, d32), RPO_OK);
        for (size_t k = 0; k < B * T; k++)
            assert_true(d32[k] == (float)d[k]);
    }
    /* NULL mask, mean: 1/T each */
    assert_status(rpo_seq_logps_backward_f64(1, 4, NULL, RPO_SEQ_MEAN, dseq, d), RPO_OK);
    assert_true(d[0] == 0.5 && d[3] == 0.5);
}

static void test_seq_errors_write_nothing(void **state)
{
    (void)state;
    double x[2 * 2] = {1.0, 2.0, 3.0, 4.0}, out[2] = {SENTINEL, SENTINEL};
    double dseq[2] = {1.0, 1.0}, dx[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
    assert_status(rpo_seq_logps_f64(2, 2, NULL, NULL, RPO_SEQ_SUM, out), RPO_ERR_NULL_POINTER);
    assert_status(rpo_seq_logps_f64(2, 2, x, NULL, RPO_SEQ_SUM, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_seq_logps_f64(SIZE_MAX / 2, 4, x, NULL, RPO_SEQ_SUM, out), RPO_ERR_SIZE);
    assert_status(rpo_seq_logps_f64(2, 2, x, NULL, 2, out), RPO_ERR_PARAM);
    assert_status(rpo_seq_logps_f64(2, 2, x, NULL, -1, out), RPO_ERR_PARAM);
    x[3] = D_NAN;
    assert_status(rpo_seq_logps_f64(2, 2, x, NULL, RPO_SEQ_SUM, out), RPO_ERR_NONFINITE);
    x[3] = 1e308;
    x[2] = 1e308;            /* the sum overflows double */
    assert_status(rpo_seq_logps_f64(2, 2, x, NULL, RPO_SEQ_SUM, out), RPO_ERR_RANGE);
    assert_true(out[0] == SENTINEL && out[1] == SENTINEL);
    float x32[2] = {3e38f, 3e38f}, o32 = (float)SENTINEL;
    assert_status(rpo_seq_logps_f32(1, 2, x32, NULL, RPO_SEQ_SUM, &o32), RPO_ERR_RANGE);
    assert_status(rpo_seq_logps_f32(1, 2, x32, NULL, RPO_SEQ_MEAN, &o32), RPO_OK);
    assert_true(o32 == 3e38f);

    assert_status(rpo_seq_logps_backward_f64(2, 2, NULL, RPO_SEQ_SUM, NULL, dx), RPO_ERR_NULL_POINTER);
    assert_status(rpo_seq_logps_backward_f64(2, 2, NULL, RPO_SEQ_SUM, dseq, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_seq_logps_backward_f64(2, 2, NULL, 7, dseq, dx), RPO_ERR_PARAM);
    assert_status(rpo_seq_logps_backward_f64(SIZE_MAX / 2, 4, NULL, RPO_SEQ_SUM, dseq, dx), RPO_ERR_SIZE);
    dseq[1] = D_NAN;
    assert_status(rpo_seq_logps_backward_f64(2, 2, NULL, RPO_SEQ_SUM, dseq, dx), RPO_ERR_NONFINITE);
    for (size_t k = 0; k < 4; k++)
        assert_true(dx[k] == SENTINEL);
    assert_status(rpo_seq_logps_backward_f64(0, 2, NULL, RPO_SEQ_SUM, NULL, NULL), RPO_OK);
}

/* ---------------------------------------------------------- whole chain */

/* A C trainer's step: logits (2P sequences of T positions, V classes) ->
 * token log-probs -> masked sums -> rpo_loss over P chosen and P rejected
 * sequences; its backward through every helper must match finite
 * differences of the whole forward. */
enum { P = 2, SEQS = 2 * P, T = 3, V = 5 };

typedef struct chain {
    rpo_ctx *ctx;
    double logits[SEQS * T * V];
    int32_t targets[SEQS * T];
    uint8_t mask[SEQS * T];
    double ref[SEQS];
    double emb[P * 2];
} chain;

static double chain_forward(chain *c, double *dlogits)
{
    double token[SEQS * T], seq[SEQS], loss, gc[P], gr[P];
    assert_status(rpo_token_logps_f64(c->ctx, SEQS * T, V, V, c->logits, c->targets, token), RPO_OK);
    assert_status(rpo_seq_logps_f64(SEQS, T, token, c->mask, RPO_SEQ_SUM, seq), RPO_OK);
    assert_status(rpo_loss_f64(c->ctx, P, seq, c->ref, P, seq + P, c->ref + P,
                               2, c->emb, NULL, &loss, gc, gr), RPO_OK);
    if (dlogits != NULL) {
        double dseq[SEQS], dtoken[SEQS * T];
        memcpy(dseq, gc, sizeof gc);
        memcpy(dseq + P, gr, sizeof gr);
        assert_status(rpo_seq_logps_backward_f64(SEQS, T, c->mask, RPO_SEQ_SUM, dseq, dtoken), RPO_OK);
        memset(dlogits, 0, SEQS * T * V * sizeof *dlogits);
        assert_status(rpo_token_logps_backward_f64(c->ctx, SEQS * T, V, V, c->logits,
                                                   c->targets, dtoken, dlogits), RPO_OK);
    }
    return loss;
}

static void test_chain_finite_differences(void **state)
{
    (void)state;
    test_rng rng = {15};
    chain c;
    c.ctx = new_ctx();
    assert_status(rpo_ctx_set(c.ctx, RPO_PARAM_BETA, 1.0), RPO_OK);
    rng_fill(&rng, c.logits, SEQS * T * V, -2.0, 2.0);
    rng_fill(&rng, c.ref, SEQS, -6.0, -2.0);
    rng_fill(&rng, c.emb, P * 2, -1.0, 1.0);
    for (size_t k = 0; k < SEQS * T; k++) {
        c.targets[k] = (int32_t)(rng_next(&rng) % V);
        c.mask[k] = k % T != 0;           /* position 0 is the prompt */
    }
    double dlogits[SEQS * T * V];
    chain_forward(&c, dlogits);
    const double h = 1e-6;
    for (size_t k = 0; k < SEQS * T * V; k++) {
        double keep = c.logits[k];
        c.logits[k] = keep + h;
        double up = chain_forward(&c, NULL);
        c.logits[k] = keep - h;
        double down = chain_forward(&c, NULL);
        c.logits[k] = keep;
        double want = (up - down) / (2.0 * h);
        if (!(fabs(dlogits[k] - want) <= 1e-8))
            fail_msg("chain dlogits[%zu] = %.12g, finite difference %.12g",
                     k, dlogits[k], want);
        if (k / V % T == 0)
            assert_true(dlogits[k] == 0.0);   /* prompt positions */
    }
    rpo_ctx_free(c.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logps_match_long_double),
        cmocka_unit_test(test_logps_extreme_logits),
        cmocka_unit_test(test_logps_skip_rows_without_token),
        cmocka_unit_test(test_logps_errors_write_nothing),
        cmocka_unit_test(test_backward_finite_differences),
        cmocka_unit_test(test_backward_accumulates_long_double),
        cmocka_unit_test(test_confident_target),
        cmocka_unit_test(test_backward_skips_rows),
        cmocka_unit_test(test_backward_errors_write_nothing),
        cmocka_unit_test(test_seq_sum_and_mean),
        cmocka_unit_test(test_seq_backward),
        cmocka_unit_test(test_seq_errors_write_nothing),
        cmocka_unit_test(test_chain_finite_differences),
    };
    return cmocka_run_group_tests_name("tokens", tests, NULL, NULL);
}
