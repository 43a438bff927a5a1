/*
 * Settings, bounds, stats, versions and status strings: the SPEC's table
 * of parameters (numbers, defaults, ranges) and its status codes.
 */
#include <float.h>
#include <stdio.h>

#include "testutil.h"

typedef struct param_row {
    int param;
    double def, lo, hi;
    int is_enum;
} param_row;

/* SPEC section 2, written out independently of lib/context/context.c. */
static const param_row spec_params[] = {
    {1, 2.0, 0.0, 3.0, 1},                         /* WEIGHTING (3:
                                                      SINKHORN, 1.2) */
    {2, 0.1, 4.9406564584124654e-324, DBL_MAX, 0}, /* BETA       */
    {3, 0.5, 4.9406564584124654e-324, DBL_MAX, 0}, /* TAU        */
    {4, 0.8, 0.0, 1.0, 0},                         /* ALPHA      */
    {5, 0.0, 0.0, 2.0, 1},                         /* PLACEMENT  */
    {6, 0.0, 0.0, 1.0, 1},                         /* REDUCTION  */
    /* docs/extensions.md, since 1.2 */
    {8, 0.0, 0.0, 10.0, 1},                        /* LOSS       */
    {9, 0.0, 0.0, 0.49999999999999994, 0},         /* LABEL_SMOOTHING */
    {10, 0.05, 4.9406564584124654e-324, DBL_MAX, 0}, /* DISCOPOP_TAU */
    {11, 0.0, 0.0, 1.0, 1},                        /* LOGIT_SCALE */
    {12, 200.0, 1.0, 1e6, 1},                      /* SINKHORN_ITERS */
    {13, 1e-9, 0.0, 1.0, 0},                       /* SINKHORN_TOL */
    /* docs/objectives.md, since 1.3 */
    {14, 0.0, 0.0, DBL_MAX, 0},                    /* SIMPO_GAMMA */
    {15, 0.0, 0.0, 3.0, 1},                        /* F_DIVERGENCE */
    {16, 1.0, 4.9406564584124654e-324, DBL_MAX, 0}, /* F_ALPHA */
    {17, 1.0, 0.0, DBL_MAX, 0},                    /* DESIRABLE_WEIGHT */
    {18, 1.0, 0.0, DBL_MAX, 0},                    /* UNDESIRABLE_WEIGHT */
};
#define N_PARAMS (sizeof spec_params / sizeof spec_params[0])

static void test_numbers_are_the_spec(void **state)
{
    (void)state;
    assert_int_equal(RPO_PARAM_WEIGHTING, 1);
    assert_int_equal(RPO_PARAM_BETA, 2);
    assert_int_equal(RPO_PARAM_TAU, 3);
    assert_int_equal(RPO_PARAM_ALPHA, 4);
    assert_int_equal(RPO_PARAM_PLACEMENT, 5);
    assert_int_equal(RPO_PARAM_REDUCTION, 6);
    assert_int_equal(RPO_WEIGHTING_UNIFORM, 0);
    assert_int_equal(RPO_WEIGHTING_DIAGONAL, 1);
    assert_int_equal(RPO_WEIGHTING_EMBEDDING, 2);
    assert_int_equal(RPO_PLACEMENT_AUTO, 0);
    assert_int_equal(RPO_PLACEMENT_LOGIT, 1);
    assert_int_equal(RPO_PLACEMENT_LOSS, 2);
    assert_int_equal(RPO_REDUCTION_MEAN, 0);
    assert_int_equal(RPO_REDUCTION_SUM, 1);
    assert_int_equal(RPO_STAT_LOSS, 1);
    assert_int_equal(RPO_STAT_REWARD_CHOSEN, 2);
    assert_int_equal(RPO_STAT_REWARD_REJECTED, 3);
    assert_int_equal(RPO_STAT_MARGIN, 4);
    assert_int_equal(RPO_STAT_ACCURACY, 5);
    assert_int_equal(RPO_OK, 0);
    assert_int_equal(RPO_ERR_NULL_POINTER, -1);
    assert_int_equal(RPO_ERR_SIZE, -2);
    assert_int_equal(RPO_ERR_PARAM, -3);
    assert_int_equal(RPO_ERR_NONFINITE, -4);
    assert_int_equal(RPO_ERR_NOMEM, -5);
    assert_int_equal(RPO_ERR_UNSUPPORTED, -6);
    assert_int_equal(RPO_ERR_RANGE, -7);
}

static void test_defaults_and_bounds(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    for (size_t k = 0; k < N_PARAMS; k++) {
        const param_row *p = &spec_params[k];
        double v = -1.0, lo = -1.0, hi = -1.0;
        assert_status(rpo_ctx_get(ctx, p->param, &v), RPO_OK);
        assert_true(v == p->def);
        assert_status(rpo_param_bounds(p->param, &lo, &hi), RPO_OK);
        assert_true(lo == p->lo);
        assert_true(hi == p->hi);
        /* Both bounds are accepted (inclusive) and read back exactly. */
        assert_status(rpo_ctx_set(ctx, p->param, lo), RPO_OK);
        assert_status(rpo_ctx_get(ctx, p->param, &v), RPO_OK);
        assert_true(v == lo);
        assert_status(rpo_ctx_set(ctx, p->param, hi), RPO_OK);
        assert_status(rpo_ctx_get(ctx, p->param, &v), RPO_OK);
        assert_true(v == hi);
    }
    rpo_ctx_free(ctx);
}

/* A rejected value leaves the old one in place. */
static void expect_rejected(rpo_ctx *ctx, int param, double value)
{
    double before = 0.0, after = 0.0;
    assert_status(rpo_ctx_get(ctx, param, &before), RPO_OK);
    assert_status(rpo_ctx_set(ctx, param, value), RPO_ERR_PARAM);
    assert_status(rpo_ctx_get(ctx, param, &after), RPO_OK);
    assert_true(before == after);
}

static void test_out_of_range_values(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    const double nan = (double)NAN, inf = (double)INFINITY;
    for (size_t k = 0; k < N_PARAMS; k++) {
        const param_row *p = &spec_params[k];
        expect_rejected(ctx, p->param, nan);
        expect_rejected(ctx, p->param, inf);
        expect_rejected(ctx, p->param, -inf);
        expect_rejected(ctx, p->param, nextafter(p->lo, -inf));
        if (p->hi < DBL_MAX)
            expect_rejected(ctx, p->param, nextafter(p->hi, inf));
        if (p->is_enum)
            expect_rejected(ctx, p->param, p->lo + 0.5);
    }
    expect_rejected(ctx, RPO_PARAM_BETA, 0.0);
    expect_rejected(ctx, RPO_PARAM_TAU, 0.0);
    expect_rejected(ctx, RPO_PARAM_BETA, -0.1);
    rpo_ctx_free(ctx);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    const int unknown[] = {0, -1, 1000, -2147483647 - 1, 2147483647};
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        double v = 42.0, lo = 42.0, hi = 42.0;
        assert_status(rpo_ctx_set(ctx, unknown[k], 1.0), RPO_ERR_PARAM);
        assert_status(rpo_ctx_get(ctx, unknown[k], &v), RPO_ERR_PARAM);
        assert_status(rpo_param_bounds(unknown[k], &lo, &hi), RPO_ERR_PARAM);
        assert_status(rpo_ctx_stat(ctx, unknown[k], &v), RPO_ERR_PARAM);
        assert_true(v == 42.0 && lo == 42.0 && hi == 42.0);
    }
    rpo_ctx_free(ctx);
}

static void test_null_arguments(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    double v = 42.0;
    assert_status(rpo_ctx_set(NULL, RPO_PARAM_BETA, 1.0), RPO_ERR_NULL_POINTER);
    assert_status(rpo_ctx_get(NULL, RPO_PARAM_BETA, &v), RPO_ERR_NULL_POINTER);
    assert_status(rpo_ctx_get(ctx, RPO_PARAM_BETA, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_ctx_stat(NULL, RPO_STAT_LOSS, &v), RPO_ERR_NULL_POINTER);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, NULL), RPO_ERR_NULL_POINTER);
    assert_status(rpo_param_bounds(RPO_PARAM_BETA, NULL, &v), RPO_ERR_NULL_POINTER);
    assert_status(rpo_param_bounds(RPO_PARAM_BETA, &v, NULL), RPO_ERR_NULL_POINTER);
    assert_true(v == 42.0);
    rpo_ctx_free(NULL); /* a no-op */
    rpo_ctx_free(ctx);
}

static void test_stats_start_at_zero(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    for (int stat = RPO_STAT_LOSS; stat <= RPO_STAT_ACCURACY; stat++) {
        double v = 42.0;
        assert_status(rpo_ctx_stat(ctx, stat, &v), RPO_OK);
        assert_true(v == 0.0);
    }
    rpo_ctx_free(ctx);
}

static void test_version(void **state)
{
    (void)state;
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", RPO_VERSION_MAJOR,
             RPO_VERSION_MINOR, RPO_VERSION_PATCH);
    assert_string_equal(rpo_version_string(), want);
    assert_string_equal(RPO_VERSION_STRING, want);
    assert_int_equal(rpo_version_number(), RPO_VERSION_NUMBER);
    assert_int_equal(RPO_VERSION_NUMBER, RPO_VERSION_MAJOR * 10000 +
                     RPO_VERSION_MINOR * 100 + RPO_VERSION_PATCH);
}

static void test_status_strings(void **state)
{
    (void)state;
    const char *unknown = rpo_status_string(12345);
    assert_non_null(unknown);
    /* Every listed code has its own message, distinct from the unknown one. */
    for (int s = RPO_ERR_RANGE; s <= RPO_OK; s++) {
        const char *msg = rpo_status_string(s);
        assert_non_null(msg);
        assert_true(msg[0] != '\0');
        assert_string_not_equal(msg, unknown);
        for (int t = s + 1; t <= RPO_OK; t++)
            assert_string_not_equal(msg, rpo_status_string(t));
    }
    const int odd[] = {-8, 1, -2147483647 - 1, 2147483647};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++)
        assert_non_null(rpo_status_string(odd[k]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_are_the_spec),
        cmocka_unit_test(test_defaults_and_bounds),
        cmocka_unit_test(test_out_of_range_values),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_stats_start_at_zero),
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_status_strings),
    };
    return cmocka_run_group_tests_name("context", tests, NULL, NULL);
}
