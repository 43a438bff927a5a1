/*
 * rpo_related_batches_*: the order is a permutation; on clustered data its
 * batches are the clusters (or as similar as the best grouping found by
 * exhaustive search on tiny inputs), and clearly more similar than random
 * batches; it depends on the seed and the data only (not the thread count
 * nor the context's history); hostile arguments get a status and a detail
 * and leave the output untouched.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

/* Unit-length noise plus a centre per cluster: x_i = centre[i % clusters]
 * * spread + noise, so cluster membership is i % clusters (interleaved, so
 * the identity order is as bad as can be). */
static double *clustered(test_rng *r, size_t p, size_t d, size_t clusters,
                         double spread)
{
    double *centres = malloc(clusters * d * sizeof *centres);
    double *x = malloc(p * d * sizeof *x);
    assert_non_null(centres);
    assert_non_null(x);
    rng_fill(r, centres, clusters * d, -1.0, 1.0);
    for (size_t i = 0; i < p; i++)
        for (size_t k = 0; k < d; k++)
            x[i * d + k] = spread * centres[(i % clusters) * d + k] +
                           rng_uniform(r, -1.0, 1.0);
    free(centres);
    return x;
}

static double cosine(const double *x, size_t d, size_t i, size_t j)
{
    double xy = 0.0, xx = 0.0, yy = 0.0;
    for (size_t k = 0; k < d; k++) {
        xy += x[i * d + k] * x[j * d + k];
        xx += x[i * d + k] * x[i * d + k];
        yy += x[j * d + k] * x[j * d + k];
    }
    return xy / sqrt(xx * yy);
}

/* The sum over batches of the cosines of each batch's distinct pairs. */
static double batch_similarity(const double *x, size_t p, size_t d, size_t b,
                               const size_t *order)
{
    double total = 0.0;
    for (size_t s = 0; s < p; s += b)
        for (size_t r = s; r < s + b && r < p; r++)
            for (size_t q = r + 1; q < s + b && q < p; q++)
                total += cosine(x, d, order[r], order[q]);
    return total;
}

/* The mean over batches of the mean pairwise cosine (batches of >= 2). */
static double mean_batch_cosine(const double *x, size_t p, size_t d, size_t b,
                                const size_t *order)
{
    double total = 0.0;
    size_t batches = 0;
    for (size_t s = 0; s + 1 < p; s += b) {
        const size_t size = s + b <= p ? b : p - s;
        if (size < 2)
            break;
        double sum = 0.0;
        for (size_t r = s; r < s + size; r++)
            for (size_t q = r + 1; q < s + size; q++)
                sum += cosine(x, d, order[r], order[q]);
        total += sum / (double)(size * (size - 1) / 2);
        batches++;
    }
    return total / (double)batches;
}

static void assert_permutation(const size_t *order, size_t p)
{
    unsigned char *seen = calloc(p, 1);
    assert_non_null(seen);
    for (size_t k = 0; k < p; k++) {
        if (order[k] >= p)
            fail_msg("order[%zu] = %zu is not below p = %zu", k, order[k], p);
        if (seen[order[k]])
            fail_msg("order[%zu] = %zu appears twice", k, order[k]);
        seen[order[k]] = 1;
    }
    free(seen);
}

static void test_is_a_permutation(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {  /* P, D, B */
        {1, 3, 1}, {2, 1, 1}, {7, 4, 7}, {10, 3, 3}, {100, 8, 7},
        {257, 5, 16}, {1000, 16, 1}, {1000, 2, 999}, {64, 16, 8},
    };
    test_rng r = {11};
    rpo_ctx *ctx = rpo_ctx_create();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t p = shapes[s][0], d = shapes[s][1], b = shapes[s][2];
        double *x = malloc(p * d * sizeof *x);
        float *xf = malloc(p * d * sizeof *xf);
        size_t *order = malloc(p * sizeof *order);
        rng_fill(&r, x, p * d, -1.0, 1.0);
        to_f32(xf, x, p * d);
        assert_status(rpo_related_batches_f64(ctx, p, d, x, b, 5, order), RPO_OK);
        assert_permutation(order, p);
        assert_status(rpo_related_batches_f32(ctx, p, d, xf, b, 5, order), RPO_OK);
        assert_permutation(order, p);
        assert_string_equal(rpo_ctx_error_detail(ctx), "");
        free(order);
        free(xf);
        free(x);
    }
    /* All rows equal, or all zero: nothing to tell apart, still an order. */
    double same[60 * 3];
    size_t order[60];
    for (size_t k = 0; k < 60 * 3; k++)
        same[k] = 1.0;
    assert_status(rpo_related_batches_f64(ctx, 60, 3, same, 8, 1, order), RPO_OK);
    assert_permutation(order, 60);
    memset(same, 0, sizeof same);
    assert_status(rpo_related_batches_f64(ctx, 60, 3, same, 8, 1, order), RPO_OK);
    assert_permutation(order, 60);
    rpo_ctx_free(ctx);
}

/* Well-separated clusters of exactly B members: every batch is a cluster. */
static void test_batches_are_the_clusters(void **state)
{
    (void)state;
    const size_t b = 8, clusters = 24, p = b * clusters, d = 32;
    test_rng r = {3};
    double *x = clustered(&r, p, d, clusters, 3.0);
    float *xf = malloc(p * d * sizeof *xf);
    size_t *order = malloc(p * sizeof *order);
    to_f32(xf, x, p * d);
    rpo_ctx *ctx = rpo_ctx_create();
    for (int type = 0; type < 2; type++) {
        assert_status(type == 0
                          ? rpo_related_batches_f64(ctx, p, d, x, b, 9, order)
                          : rpo_related_batches_f32(ctx, p, d, xf, b, 9, order),
                      RPO_OK);
        assert_permutation(order, p);
        for (size_t s = 0; s < p; s += b)
            for (size_t k = s; k < s + b; k++)
                if (order[k] % clusters != order[s] % clusters)
                    fail_msg("%s: batch %zu mixes clusters %zu and %zu",
                             type == 0 ? "f64" : "f32", s / b,
                             order[s] % clusters, order[k] % clusters);
    }
    rpo_ctx_free(ctx);
    free(order);
    free(xf);
    free(x);
}

/* Overlapping clusters of uneven size (B does not divide them): the mean
 * within-batch cosine is far above a random order's. */
static void test_beats_random_batches(void **state)
{
    (void)state;
    const size_t p = 3000, d = 24, b = 20, clusters = 40;
    test_rng r = {21};
    double *x = clustered(&r, p, d, clusters, 0.7);
    size_t *order = malloc(p * sizeof *order);
    size_t *shuffled = malloc(p * sizeof *shuffled);
    for (size_t i = 0; i < p; i++)
        shuffled[i] = i;
    for (size_t i = p - 1; i > 0; i--) {
        const size_t j = (size_t)(rng_next(&r) % (i + 1)), t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }
    rpo_ctx *ctx = rpo_ctx_create();
    assert_status(rpo_related_batches_f64(ctx, p, d, x, b, 2, order), RPO_OK);
    const double related = mean_batch_cosine(x, p, d, b, order);
    const double random = mean_batch_cosine(x, p, d, b, shuffled);
    /* Same-cluster pairs have cosine about 0.4 here, others about 0. */
    if (!(related > random + 0.2))
        fail_msg("related batches %.4f, random batches %.4f", related, random);
    rpo_ctx_free(ctx);
    free(shuffled);
    free(order);
    free(x);
}

/* The largest batch_similarity over every grouping of the items not in
 * `used` into batches of b, by exhaustive search: the lowest unused item
 * opens a batch, which takes every combination of higher unused items. */
static double best_grouping(const double *x, size_t p, size_t d, size_t b,
                            unsigned used, size_t *batch, size_t filled,
                            double inside)
{
    if (filled == b) {
        if (used == (1u << p) - 1)
            return inside;
        /* The next batch goes after this one: callers still read it. */
        return inside + best_grouping(x, p, d, b, used, batch + b, 0, 0.0);
    }
    size_t from = 0;
    if (filled > 0)
        from = batch[filled - 1] + 1;
    double best = -HUGE_VAL;
    for (size_t item = from; item < p; item++) {
        if (used & (1u << item))
            continue;
        double gain = 0.0;
        for (size_t r = 0; r < filled; r++)
            gain += cosine(x, d, batch[r], item);
        batch[filled] = item;
        const double v = best_grouping(x, p, d, b, used | (1u << item), batch,
                                       filled + 1, inside + gain);
        best = v > best ? v : best;
        if (filled == 0)
            break;  /* a batch opens with the lowest unused item */
    }
    return best;
}

/* Tiny inputs, tight clusters in random directions: the order's grouping
 * is as similar as the best of all groupings. */
static void test_matches_exhaustive_search(void **state)
{
    (void)state;
    static const size_t shapes[][3] = {{8, 2, 4}, {8, 4, 2}, {9, 3, 3},
                                       {12, 4, 3}, {12, 3, 4}};
    rpo_ctx *ctx = rpo_ctx_create();
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const size_t p = shapes[s][0], b = shapes[s][1], clusters = shapes[s][2];
        const size_t d = 5;
        for (uint64_t trial = 0; trial < 10; trial++) {
            test_rng r = {100 + trial};
            double *x = clustered(&r, p, d, clusters, 8.0);
            size_t order[12], batch[12];
            assert_status(rpo_related_batches_f64(ctx, p, d, x, b, trial, order),
                          RPO_OK);
            assert_permutation(order, p);
            const double got = batch_similarity(x, p, d, b, order);
            const double best = best_grouping(x, p, d, b, 0u, batch, 0, 0.0);
            if (!(got >= best - 1e-12))
                fail_msg("P %zu, B %zu, trial %d: grouping %.15g, best %.15g",
                         p, b, (int)trial, got, best);
            free(x);
        }
    }
    rpo_ctx_free(ctx);
}

/* The same seed and data give the same order whatever the thread count,
 * context or earlier calls; another seed is allowed to differ. */
static void test_deterministic_any_threads(void **state)
{
    (void)state;
    const size_t p = 4000, d = 16, b = 10;
    test_rng r = {8};
    double *x = clustered(&r, p, d, 50, 0.5);
    size_t *want = malloc(p * sizeof *want);
    size_t *got = malloc(p * sizeof *got);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_status(rpo_related_batches_f64(ctx, p, d, x, b, 77, want), RPO_OK);
    static const double threads[] = {1, 2, 3, 4, 8, 13};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        rpo_ctx *other = rpo_ctx_create();
        assert_status(rpo_ctx_set(other, RPO_PARAM_THREADS, threads[t]), RPO_OK);
        /* An unrelated call first: the scratch holds its leftovers. */
        assert_status(rpo_related_batches_f64(other, p / 2, d, x, 3, 1, got),
                      RPO_OK);
        assert_status(rpo_related_batches_f64(other, p, d, x, b, 77, got), RPO_OK);
        if (memcmp(got, want, p * sizeof *got) != 0)
            fail_msg("threads %g: another order than with 1 thread", threads[t]);
        rpo_ctx_free(other);
    }
    rpo_ctx_free(ctx);
    free(got);
    free(want);
    free(x);
}

static void expect_refused(rpo_ctx *ctx, int status, int want)
{
    assert_status(status, want);
    if (ctx != NULL && rpo_ctx_error_detail(ctx)[0] == '\0')
        fail_msg("status %d without a detail", status);
}

static void test_hostile_arguments(void **state)
{
    (void)state;
    const size_t p = 10, d = 3;
    double x[10 * 3];
    float xf[10 * 3];
    for (size_t k = 0; k < p * d; k++)
        x[k] = (double)(k % 7) - 3.0;
    to_f32(xf, x, p * d);
    size_t order[10];
    const size_t untouched = (size_t)0xA5A5A5A5u;
    for (size_t k = 0; k < p; k++)
        order[k] = untouched;
    rpo_ctx *ctx = rpo_ctx_create();

    expect_refused(NULL, rpo_related_batches_f64(NULL, p, d, x, 2, 0, order),
                   RPO_ERR_NULL_POINTER);
    expect_refused(ctx, rpo_related_batches_f64(ctx, p, d, NULL, 2, 0, order),
                   RPO_ERR_NULL_POINTER);
    expect_refused(ctx, rpo_related_batches_f32(ctx, p, d, xf, 2, 0, NULL),
                   RPO_ERR_NULL_POINTER);
    expect_refused(ctx, rpo_related_batches_f64(ctx, 0, d, x, 2, 0, order),
                   RPO_ERR_SIZE);
    expect_refused(ctx, rpo_related_batches_f64(ctx, 0, d, x, 0, 0, order),
                   RPO_ERR_SIZE);
    expect_refused(ctx, rpo_related_batches_f64(ctx, p, 0, x, 2, 0, order),
                   RPO_ERR_SIZE);
    expect_refused(ctx, rpo_related_batches_f64(ctx, p, d, x, 0, 0, order),
                   RPO_ERR_SIZE);
    expect_refused(ctx, rpo_related_batches_f32(ctx, p, d, xf, p + 1, 0, order),
                   RPO_ERR_SIZE);
    expect_refused(ctx, rpo_related_batches_f64(ctx, SIZE_MAX / 2, 3, x, 2, 0,
                                                order),
                   RPO_ERR_SIZE);
    /* rows so wide that one row's bytes overflow size_t, with p * d in
     * range: refused before the row is read */
    expect_refused(ctx, rpo_related_batches_f64(ctx, 2, SIZE_MAX / 8 + 1, x, 1, 0, order),
                   RPO_ERR_SIZE);

    /* One bad entry anywhere: the detail names its row. */
    const double bad[] = {(double)NAN, HUGE_VAL, -HUGE_VAL};
    for (size_t v = 0; v < 3; v++) {
        for (size_t at = 0; at < p * d; at += 7) {
            double saved = x[at];
            x[at] = bad[v];
            to_f32(xf, x, p * d);
            expect_refused(ctx, rpo_related_batches_f64(ctx, p, d, x, 2, 0, order),
                           RPO_ERR_NONFINITE);
            char row[32];
            snprintf(row, sizeof row, "row %zu ", at / d);
            if (strstr(rpo_ctx_error_detail(ctx), row) == NULL)
                fail_msg("detail \"%s\" does not name %s",
                         rpo_ctx_error_detail(ctx), row);
            expect_refused(ctx, rpo_related_batches_f32(ctx, p, d, xf, 2, 0, order),
                           RPO_ERR_NONFINITE);
            x[at] = saved;
        }
    }
    for (size_t k = 0; k < p; k++)
        if (order[k] != untouched)
            fail_msg("order[%zu] written by a refused call", k);

    /* Float64 rows too long to square, and tiny ones: still an order, and
     * the long rows' clusters are found like any others. */
    double wide[8 * 2] = {1e300, 1e300, -1e300, 1e300, 1e300, 0.9e300,
                          -1e300, 1.1e300, 1e-300, 1e-300, -1e-300, 1e-300,
                          1e-300, 0.9e-300, -1e-300, 1.1e-300};
    assert_status(rpo_related_batches_f64(ctx, 8, 2, wide, 2, 0, order), RPO_OK);
    assert_permutation(order, 8);
    for (size_t s = 0; s < 8; s += 2)
        if (wide[order[s] * 2] * wide[order[s + 1] * 2] < 0.0)
            fail_msg("batch %zu pairs opposite directions", s / 2);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_a_permutation),
        cmocka_unit_test(test_batches_are_the_clusters),
        cmocka_unit_test(test_beats_random_batches),
        cmocka_unit_test(test_matches_exhaustive_search),
        cmocka_unit_test(test_deterministic_any_threads),
        cmocka_unit_test(test_hostile_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
