/*
 * rpo_ctx_error_detail: for each kind of failure of each entry point family,
 * the status and a detail that names the argument, the rule and the values;
 * "" before any call and after a success, never NULL, kept until the next
 * call, and nothing written to any output on the failure; a result beyond
 * its type names its first such element ([k], or [row, column]).
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "testutil.h"

#define SENTINEL 12345.0

/* A failure's detail must hold each of the expected pieces of text. */
static void check_detail(const rpo_ctx *ctx, int got, int want_status,
                         const char *const *pieces, size_t count)
{
    const char *detail = rpo_ctx_error_detail(ctx);
    assert_non_null(detail);
    if (got != want_status)
        fail_msg("status %d, want %d (detail \"%s\")", got, want_status, detail);
    for (size_t k = 0; k < count; k++)
        if (strstr(detail, pieces[k]) == NULL)
            fail_msg("detail \"%s\" lacks \"%s\"", detail, pieces[k]);
}

#define EXPECT_DETAIL(ctx, call, status, ...)                                 \
    do {                                                                      \
        const char *const pieces_[] = {__VA_ARGS__};                          \
        check_detail((ctx), (call), (status), pieces_,                        \
                     sizeof pieces_ / sizeof pieces_[0]);                     \
    } while (0)

/* Outputs start as SENTINEL; a failed call must leave every one so. */
static void fill(double *x, size_t count)
{
    for (size_t k = 0; k < count; k++)
        x[k] = SENTINEL;
}

static void assert_untouched(const double *x, size_t count)
{
    for (size_t k = 0; k < count; k++)
        if (x[k] != SENTINEL)
            fail_msg("output [%zu] was written on a failure: %g", k, x[k]);
}

static rpo_ctx *context_with(int weighting)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
    return ctx;
}

/* A valid batch of up to 6 chosen and 6 rejected rows, D = 2. */
static const double PC[6] = {-10, -12, -9, -14, -11, -13};
static const double RC[6] = {-11, -12, -9.5, -13, -10, -12};
static const double PR[6] = {-13, -12, -11, -15, -12, -14};
static const double RR[6] = {-12, -12.5, -10, -15, -11, -13};
static const double CE[12] = {1, 0, 0, 1, 1, 1, 1, -1, 2, 1, 1, 3};
static const double RE[12] = {0, 1, 1, 0, 1, 2, -1, 1, 3, 1, 1, 1};

typedef struct outputs {
    double loss[1], gc[6], gr[6], gce[12], gre[12], w[36], stats[RPO_PARTIAL_COUNT];
} outputs;

static void fill_outputs(outputs *o)
{
    fill((double *)o, sizeof *o / sizeof(double));
}

static void assert_outputs_untouched(const outputs *o)
{
    assert_untouched((const double *)o, sizeof *o / sizeof(double));
}

static int loss(rpo_ctx *ctx, size_t m, const double *pc, size_t n,
                const double *pr, size_t d, const double *ce, const double *re,
                outputs *o)
{
    fill_outputs(o);
    return rpo_loss_f64(ctx, m, pc, RC, n, pr, RR, d, ce, re, o->loss, o->gc,
                        o->gr);
}

static void test_lifecycle(void **state)
{
    (void)state;
    assert_string_equal(rpo_ctx_error_detail(NULL), "");
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_DIAGONAL);
    assert_string_equal(rpo_ctx_error_detail(ctx), "");
    outputs o;
    EXPECT_DETAIL(ctx, loss(ctx, 6, PC, 4, PR, 0, NULL, NULL, &o), RPO_ERR_SIZE,
                  "DIAGONAL weighting needs m == n (m = 6, n = 4)");
    assert_outputs_untouched(&o);
    /* The text stays until the next call that may change it; reading the
     * settings or the metrics does not. */
    double value;
    assert_int_equal(rpo_ctx_get(ctx, RPO_PARAM_BETA, &value), RPO_OK);
    assert_int_equal(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &value), RPO_OK);
    assert_int_equal(rpo_ctx_get(ctx, 999, &value), RPO_ERR_PARAM);
    assert_string_equal(rpo_ctx_error_detail(ctx),
                        "DIAGONAL weighting needs m == n (m = 6, n = 4)");
    /* A success clears it, a successful setting too. */
    assert_int_equal(loss(ctx, 4, PC, 4, PR, 0, NULL, NULL, &o), RPO_OK);
    assert_string_equal(rpo_ctx_error_detail(ctx), "");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 2.0), RPO_ERR_PARAM,
                  "RPO_PARAM_ALPHA = 2");
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0), RPO_OK);
    assert_string_equal(rpo_ctx_error_detail(ctx), "");
    /* A later failure replaces an earlier one whole. */
    EXPECT_DETAIL(ctx, loss(ctx, 4, NULL, 4, PR, 0, NULL, NULL, &o),
                  RPO_ERR_NULL_POINTER, "policy_chosen is NULL with m = 4");
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, NULL, 0, NULL, NULL, &o),
                  RPO_ERR_NULL_POINTER, "policy_rejected is NULL with n = 4");
    assert_null(strstr(rpo_ctx_error_detail(ctx), "policy_chosen"));
    rpo_ctx_free(ctx);
}

static void test_loss_pointers_and_sizes(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_EMBEDDING);
    outputs o;
    /* The DPO user who kept the default weighting. */
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 0, NULL, NULL, &o),
                  RPO_ERR_NULL_POINTER,
                  "chosen_emb is NULL: EMBEDDING weighting needs prompt embeddings",
                  "DIAGONAL with alpha 1 is DPO");
    /* Unpaired data without its rejected embeddings. */
    EXPECT_DETAIL(ctx, loss(ctx, 6, PC, 4, PR, 2, CE, NULL, &o), RPO_ERR_SIZE,
                  "rejected_emb is NULL", "m == n (m = 6, n = 4)");
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 0, CE, RE, &o), RPO_ERR_SIZE,
                  "EMBEDDING weighting needs d > 0");
    const size_t huge = SIZE_MAX / 2;
    EXPECT_DETAIL(ctx, loss(ctx, 2, PC, 2, PR, huge + 1, CE, RE, &o), RPO_ERR_SIZE,
                  "m * d overflows size_t (m = 2, d = 9223372036854775808)");
    /* m * d fits, n * d does not */
    EXPECT_DETAIL(ctx, loss(ctx, 1, PC, 2, PR, huge + 1, CE, RE, &o), RPO_ERR_SIZE,
                  "n * d overflows size_t (n = 2, d = 9223372036854775808)");
    /* m * d fits, the bytes of scratch for it do not. */
    EXPECT_DETAIL(ctx, loss(ctx, (size_t)1 << 20, PC, (size_t)1 << 20, PR,
                            (size_t)1 << 42, CE, NULL, &o),
                  RPO_ERR_SIZE, "scratch memory for m = 1048576, n = 1048576, "
                  "d = 4398046511104 overflows size_t");
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_UNIFORM),
                     RPO_OK);
    EXPECT_DETAIL(ctx, loss(ctx, huge, PC, 4, PR, 0, NULL, NULL, &o), RPO_ERR_SIZE,
                  "m * n overflows size_t", "n = 4");
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_SINKHORN),
                     RPO_OK);
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 2, NULL, NULL, &o),
                  RPO_ERR_NULL_POINTER, "chosen_emb is NULL: SINKHORN weighting");
    /* A valid size that no machine can allocate. */
    EXPECT_DETAIL(ctx, loss(ctx, (size_t)1 << 20, PC, (size_t)1 << 20, PR,
                            (size_t)1 << 38, CE, NULL, &o),
                  RPO_ERR_NOMEM, "could not allocate", "bytes of scratch");
    assert_outputs_untouched(&o);
    rpo_ctx_free(ctx);
}

static void test_loss_settings(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_UNIFORM);
    outputs o;
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_LOSS, RPO_LOSS_EXO_PAIR), RPO_OK);
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 0, NULL, NULL, &o), RPO_ERR_PARAM,
                  "EXO_PAIR", "RPO_PARAM_LABEL_SMOOTHING > 0");
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_LOSS, RPO_LOSS_SIGMOID), RPO_OK);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_SINKHORN),
                     RPO_OK);
    fill_outputs(&o);
    EXPECT_DETAIL(ctx, rpo_loss_embed_grad_f64(ctx, 4, PC, RC, 4, PR, RR, 2, CE,
                                               RE, o.loss, o.gc, o.gr, o.gce,
                                               o.gre),
                  RPO_ERR_UNSUPPORTED,
                  "SINKHORN cannot give embedding gradients: pass embeddings "
                  "that need none");
    assert_outputs_untouched(&o);
    fill_outputs(&o);
    EXPECT_DETAIL(ctx, rpo_loss_rows_f64(ctx, 4, 0, 4, PC, RC, 4, PR, RR, 2, CE,
                                         RE, o.gc, NULL, o.stats, o.gr, NULL),
                  RPO_ERR_UNSUPPORTED, "SINKHORN", "couples all rows");
    assert_outputs_untouched(&o);
    rpo_ctx_free(ctx);
}

static void test_nonfinite_names_the_element(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_EMBEDDING);
    outputs o;
    double pc[4] = {-10, -12, (double)NAN, -14};
    EXPECT_DETAIL(ctx, loss(ctx, 4, pc, 4, PR, 2, CE, RE, &o), RPO_ERR_NONFINITE,
                  "policy_chosen[2] is NaN");
    double pr[4] = {-13, -(double)INFINITY, -11, -15};
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, pr, 2, CE, RE, &o), RPO_ERR_NONFINITE,
                  "policy_rejected[1] is -inf");
    double re[8] = {0, 1, 1, 0, 1, 2, -1, (double)INFINITY};
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 2, CE, re, &o), RPO_ERR_NONFINITE,
                  "rejected_emb[3, 1] is inf");
    double ce[8] = {1, 0, 0, 1, (double)NAN, 1, 1, -1};
    EXPECT_DETAIL(ctx, loss(ctx, 4, PC, 4, PR, 2, ce, NULL, &o), RPO_ERR_NONFINITE,
                  "chosen_emb[2, 0] is NaN");
    /* float32 names the element too */
    const float pcf[2] = {-1.0f, -2.0f}, prf[2] = {-3.0f, (float)NAN};
    float lossf = (float)SENTINEL;
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_UNIFORM),
                     RPO_OK);
    EXPECT_DETAIL(ctx, rpo_loss_f32(ctx, 2, pcf, NULL, 2, prf, NULL, 0, NULL,
                                    NULL, &lossf, NULL, NULL),
                  RPO_ERR_NONFINITE, "policy_rejected[1] is NaN");
    assert_true(lossf == (float)SENTINEL);
    assert_outputs_untouched(&o);
    rpo_ctx_free(ctx);
}

static void test_weighted_and_weights(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_EMBEDDING);
    outputs o;
    fill_outputs(&o);
    EXPECT_DETAIL(ctx, rpo_loss_weighted_f64(ctx, 2, PC, RC, 3, PR, RR, NULL,
                                             o.loss, o.gc, o.gr),
                  RPO_ERR_NULL_POINTER, "weights is NULL with m = 2, n = 3");
    double w[6] = {1, 0, 0, 0, 1, 0};
    w[5] = (double)NAN;
    EXPECT_DETAIL(ctx, rpo_loss_weighted_f64(ctx, 2, PC, RC, 3, PR, RR, w,
                                             o.loss, o.gc, o.gr),
                  RPO_ERR_NONFINITE, "weights[1, 2] is NaN");
    EXPECT_DETAIL(ctx, rpo_weights_f64(ctx, 2, 3, 2, CE, RE, NULL),
                  RPO_ERR_NULL_POINTER, "weights (the output) is NULL");
    EXPECT_DETAIL(ctx, rpo_weights_f64(ctx, 2, 3, 2, NULL, RE, o.w),
                  RPO_ERR_NULL_POINTER, "chosen_emb is NULL");
    assert_outputs_untouched(&o);
    rpo_ctx_free(ctx);
}

static void test_row_blocks(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_DIAGONAL);
    outputs o;
    fill_outputs(&o);
    EXPECT_DETAIL(ctx, rpo_loss_rows_f64(ctx, 4, 3, 2, PC, RC, 4, PR, RR, 0,
                                         NULL, NULL, o.gc, NULL, o.stats, o.gr,
                                         NULL),
                  RPO_ERR_SIZE, "row_offset = 3, m = 2, m_total = 4");
    EXPECT_DETAIL(ctx, rpo_loss_rows_f64(ctx, 5, 0, 2, PC, RC, 4, PR, RR, 0,
                                         NULL, NULL, o.gc, NULL, o.stats, o.gr,
                                         NULL),
                  RPO_ERR_SIZE, "m_total == n (m_total = 5, n = 4)");
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING),
                     RPO_OK);
    EXPECT_DETAIL(ctx, rpo_loss_rows_f64(ctx, 4, 0, 2, PC, RC, 4, PR, RR, 2,
                                         CE, NULL, o.gc, NULL, o.stats, o.gr,
                                         NULL),
                  RPO_ERR_NULL_POINTER, "rejected_emb is NULL: a row block");
    assert_outputs_untouched(&o);
    rpo_ctx_free(ctx);
}

static void test_range_names_the_output(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_UNIFORM);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1.0), RPO_OK);
    /* a = -6e38 fits a double; the loss, 6e38, is beyond FLT_MAX */
    const float pc[1] = {-3e38f}, rc[1] = {3e38f};
    const float pr[2] = {-1.0f, -2.0f}, rr[2] = {-1.0f, -2.0f};
    float lossf = (float)SENTINEL;
    EXPECT_DETAIL(ctx, rpo_loss_f32(ctx, 1, pc, rc, 2, pr, rr, 0, NULL, NULL,
                                    &lossf, NULL, NULL),
                  RPO_ERR_RANGE, "loss = 6", "beyond float32's range");
    assert_true(lossf == (float)SENTINEL);
    rpo_ctx_free(ctx);
}

/* The first element beyond the type is named: a later one of a vector
 * (grad_chosen[1]: DPO's -beta s(beta) / M = -5e38 with beta = 1e39, where
 * row 0's -beta s(-beta) / M is 0), and a matrix's [row, column]: the
 * float32 embedding gradient's first element beyond FLT_MAX in the same
 * call in float64. */
static void test_range_names_the_element(void **state)
{
    (void)state;
    rpo_ctx *ctx = context_with(RPO_WEIGHTING_DIAGONAL);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0), RPO_OK);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1e39), RPO_OK);
    const float pc[2] = {-1.0f, -3.0f}, pr[2] = {-2.0f, -2.0f}, zero[2] = {0.0f, 0.0f};
    float gc[2] = {(float)SENTINEL, (float)SENTINEL};
    EXPECT_DETAIL(ctx, rpo_loss_f32(ctx, 2, pc, zero, 2, pr, zero, 0, NULL, NULL,
                                    NULL, gc, NULL),
                  RPO_ERR_RANGE, "grad_chosen[1] = -5e+38", "beyond float32's range");
    assert_true(gc[0] == (float)SENTINEL && gc[1] == (float)SENTINEL);
    rpo_ctx_free(ctx);

    ctx = context_with(RPO_WEIGHTING_EMBEDDING);
    assert_int_equal(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1e41), RPO_OK);
    double gce[6];
    assert_int_equal(rpo_loss_embed_grad_f64(ctx, 3, PC, RC, 4, PR, RR, 2, CE, RE, NULL,
                                             NULL, NULL, gce, NULL), RPO_OK);
    size_t first = 0;
    while (first < 6 && fabs(gce[first]) <= (double)FLT_MAX)
        first++;
    assert_true(first > 0 && first < 6);   /* a later element, of a later row */
    char where[48];
    (void)snprintf(where, sizeof where, "grad_chosen_emb[%zu, %zu] = ", first / 2, first % 2);
    float pcf[3], rcf[3], prf[4], rrf[4], cef[6], ref[8], gcef[6];
    for (size_t k = 0; k < 6; k++)
        gcef[k] = (float)SENTINEL;
    to_f32(pcf, PC, 3);
    to_f32(rcf, RC, 3);
    to_f32(prf, PR, 4);
    to_f32(rrf, RR, 4);
    to_f32(cef, CE, 6);
    to_f32(ref, RE, 8);
    EXPECT_DETAIL(ctx, rpo_loss_embed_grad_f32(ctx, 3, pcf, rcf, 4, prf, rrf, 2, cef, ref,
                                               NULL, NULL, NULL, gcef, NULL),
                  RPO_ERR_RANGE, where, "beyond float32's range");
    for (size_t k = 0; k < 6; k++)
        assert_true(gcef[k] == (float)SENTINEL);
    rpo_ctx_free(ctx);
}

static void test_tokens(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    double logits[4 * 5] = {0};
    int32_t targets[4] = {0, -100, 4, 7};
    double logps[4];
    fill(logps, 4);
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, 4, 5, 5, logits, targets, logps),
                  RPO_ERR_SIZE, "targets[3] = 7 is not below v = 5");
    targets[3] = 1;
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, 4, 5, 4, logits, targets, logps),
                  RPO_ERR_SIZE, "stride = 4 is below v = 5");
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, 4, 0, 5, logits, targets, logps),
                  RPO_ERR_SIZE, "v is 0");
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, 4, 5, 5, logits, NULL, logps),
                  RPO_ERR_NULL_POINTER, "targets is NULL with t = 4");
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, SIZE_MAX / 2, 5, 5, logits,
                                           targets, logps),
                  RPO_ERR_SIZE, "t * stride overflows size_t");
    logits[2 * 5 + 3] = (double)NAN;
    EXPECT_DETAIL(ctx, rpo_token_logps_f64(ctx, 4, 5, 5, logits, targets, logps),
                  RPO_ERR_NONFINITE, "logits[2, 3] is NaN");
    assert_untouched(logps, 4);
    logits[2 * 5 + 3] = 0.0;
    /* the backward: dlogps, then the current dlogits */
    double dlogps[4] = {1, 1, (double)NAN, 1}, dlogits[4 * 5];
    fill(dlogits, 20);
    EXPECT_DETAIL(ctx, rpo_token_logps_backward_f64(ctx, 4, 5, 5, logits,
                                                    targets, dlogps, dlogits),
                  RPO_ERR_NONFINITE, "dlogps[2] is NaN");
    EXPECT_DETAIL(ctx, rpo_token_logps_backward_f64(ctx, 4, 5, 5, logits,
                                                    targets, NULL, dlogits),
                  RPO_ERR_NULL_POINTER, "dlogps is NULL");
    assert_untouched(dlogits, 20);
    dlogps[2] = 1.0;
    dlogits[3 * 5 + 1] = (double)INFINITY;
    EXPECT_DETAIL(ctx, rpo_token_logps_backward_f64(ctx, 4, 5, 5, logits,
                                                    targets, dlogps, dlogits),
                  RPO_ERR_NONFINITE, "dlogits[3, 1] is inf");
    /* results beyond float32: a log-prob below -FLT_MAX, and a dlogits
     * row that one more update could carry past FLT_MAX */
    const float wide[2] = {3e38f, -3e38f};
    const int32_t second[1] = {1};
    float logpf = (float)SENTINEL;
    EXPECT_DETAIL(ctx, rpo_token_logps_f32(ctx, 1, 2, 2, wide, second, &logpf),
                  RPO_ERR_RANGE, "logps = -6", "beyond float32's range");
    assert_true(logpf == (float)SENTINEL);
    const float flat[2] = {0.0f, 0.0f}, dlogpf[1] = {1e38f};
    float dlogitsf[2] = {3e38f, 0.0f};
    EXPECT_DETAIL(ctx, rpo_token_logps_backward_f32(ctx, 1, 2, 2, flat, second,
                                                    dlogpf, dlogitsf),
                  RPO_ERR_RANGE, "dlogits[0, :] could leave float32's range",
                  "dlogits + dlogps");
    assert_true(dlogitsf[0] == 3e38f && dlogitsf[1] == 0.0f);
    /* and a success clears the detail */
    assert_int_equal(rpo_token_logps_f64(ctx, 4, 5, 5, logits, targets, logps),
                     RPO_OK);
    assert_string_equal(rpo_ctx_error_detail(ctx), "");
    rpo_ctx_free(ctx);
}

static void test_settings(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_BETA, -1.0), RPO_ERR_PARAM,
                  "RPO_PARAM_BETA = -1 is not a finite value > 0");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_THREADS, 0.0), RPO_ERR_PARAM,
                  "RPO_PARAM_THREADS = 0 is not an integer in [1, 256]");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, 1.5), RPO_ERR_PARAM,
                  "RPO_PARAM_WEIGHTING = 1.5 is not an integer in [0, 3]");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.5),
                  RPO_ERR_PARAM, "RPO_PARAM_LABEL_SMOOTHING = 0.5 is not in [0, 0.5)");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, RPO_PARAM_ALPHA, (double)NAN),
                  RPO_ERR_PARAM, "RPO_PARAM_ALPHA = nan is not in [0, 1]");
    EXPECT_DETAIL(ctx, rpo_ctx_set(ctx, 99, 1.0), RPO_ERR_PARAM,
                  "no setting has the key 99");
    rpo_ctx_free(ctx);
}

/* What a status string says is what the status covers. */
static void test_status_strings_say_what_they_cover(void **state)
{
    (void)state;
    assert_non_null(strstr(rpo_status_string(RPO_ERR_UNSUPPORTED), "settings"));
    assert_non_null(strstr(rpo_status_string(RPO_ERR_SIZE), "rule"));
    assert_non_null(strstr(rpo_status_string(RPO_ERR_PARAM), "conflict"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_loss_pointers_and_sizes),
        cmocka_unit_test(test_loss_settings),
        cmocka_unit_test(test_nonfinite_names_the_element),
        cmocka_unit_test(test_weighted_and_weights),
        cmocka_unit_test(test_row_blocks),
        cmocka_unit_test(test_range_names_the_output),
        cmocka_unit_test(test_range_names_the_element),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_status_strings_say_what_they_cover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
