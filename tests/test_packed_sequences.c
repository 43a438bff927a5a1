/*
 * Packed sequences (rpo_packed_seq_logps_*, and the backward): B sequences
 * in one stream of T tokens, given by B + 1 offsets.
 *   - the forward against the padded (B, L) helper on the same tokens laid
 *     out with padding (a second formulation) and against long double;
 *   - the backward by the adjoint identity sum_k dtoken_k u_k =
 *     sum_b dseq_b seq_b(u) for any u, and every token written;
 *   - the whole chain logits -> token log-probs -> packed sequences and
 *     back (in place, overwriting) against finite differences;
 *   - the float32 backward against the formula it implements;
 *   - bad offsets, masks, NaN, NULL arguments, sums beyond the output
 *     type: an error with a detail, nothing written.
 */
#include <float.h>
#include <stdlib.h>

#include "testutil.h"

enum { B = 4, T = 23 };

/* Sequences [1, 6), [6, 6) (empty), [6, 15), [15, 22): tokens 0 and 22
 * belong to none. */
static const int64_t offsets[B + 1] = {1, 6, 6, 15, 22};

static void fill(test_rng *rng, double *x, uint8_t *mask)
{
    rng_fill(rng, x, T, -5.0, 0.0);
    for (size_t k = 0; k < T; k++)
        mask[k] = (uint8_t)(rng_next(rng) % 4 != 0);
    mask[8] = 0;
}

static void test_forward_matches_padded_layout(void **state)
{
    (void)state;
    test_rng rng = {61};
    double x[T];
    uint8_t mask[T];
    fill(&rng, x, mask);
    const int64_t *cut = offsets;
    rpo_ctx *ctx = rpo_ctx_create();
    for (int reduce = RPO_SEQ_SUM; reduce <= RPO_SEQ_MEAN; reduce++) {
        /* the same tokens padded to (B, L): sequence b in row b */
        enum { L = 10 };
        double padded[B * L] = {0}, want_padded[B];
        uint8_t padded_mask[B * L] = {0};
        for (size_t b = 0; b < B; b++) {
            for (int64_t k = cut[b]; k < cut[b + 1]; k++) {
                padded[b * L + (size_t)(k - cut[b])] = x[k];
                padded_mask[b * L + (size_t)(k - cut[b])] = mask[k];
            }
        }
        assert_status(rpo_seq_logps_f64(B, L, padded, padded_mask, reduce, want_padded), RPO_OK);
        double got[B];
        assert_status(rpo_packed_seq_logps_f64(ctx, B, T, cut, x, mask, reduce, got), RPO_OK);
        for (size_t b = 0; b < B; b++) {
            long double sum = 0.0L;
            size_t count = 0;
            for (int64_t k = cut[b]; k < cut[b + 1]; k++)
                if (mask[k]) {
                    sum += (long double)x[k];
                    count++;
                }
            if (reduce == RPO_SEQ_MEAN)
                sum = count ? sum / (long double)count : 0.0L;
            check_loss("packed vs long double", got[b], (double)sum, 1e-15);
            check_loss("packed vs padded", got[b], want_padded[b], 1e-15);
        }
        assert_true(got[1] == 0.0);   /* the empty sequence */
        float x32[T], got32[B];
        to_f32(x32, x, T);
        assert_status(rpo_packed_seq_logps_f32(ctx, B, T, cut, x32, NULL, reduce, got32), RPO_OK);
        for (size_t b = 0; b < B; b++) {
            double sum = 0.0;
            for (int64_t k = cut[b]; k < cut[b + 1]; k++)
                sum += (double)x32[k];
            if (reduce == RPO_SEQ_MEAN && cut[b + 1] > cut[b])
                sum /= (double)(cut[b + 1] - cut[b]);
            check_loss("float32, no mask", (double)got32[b], sum, 1e-6);
        }
    }
    rpo_ctx_free(ctx);
}

/* The backward is the forward's adjoint: for any u (T),
 * sum_k dtoken[k] u[k] = sum_b dseq[b] seq_b(u). Every token is written,
 * those in no sequence or masked out with 0. */
static void test_backward_is_the_adjoint(void **state)
{
    (void)state;
    test_rng rng = {62};
    double u[T], dseq[B];
    uint8_t mask[T];
    fill(&rng, u, mask);
    rng_fill(&rng, dseq, B, -2.0, 2.0);
    rpo_ctx *ctx = rpo_ctx_create();
    for (int reduce = RPO_SEQ_SUM; reduce <= RPO_SEQ_MEAN; reduce++) {
        double dtoken[T], seq[B];
        for (size_t k = 0; k < T; k++)
            dtoken[k] = 99.0;
        assert_status(rpo_packed_seq_logps_backward_f64(ctx, B, T, offsets, mask, reduce, dseq,
                                                        dtoken), RPO_OK);
        assert_status(rpo_packed_seq_logps_f64(ctx, B, T, offsets, u, mask, reduce, seq), RPO_OK);
        double left = 0.0, right = 0.0;
        for (size_t k = 0; k < T; k++)
            left += dtoken[k] * u[k];
        for (size_t b = 0; b < B; b++)
            right += dseq[b] * seq[b];
        check_loss("adjoint", left, right, 1e-14);
        const size_t outside[] = {0, 8, 22};   /* before, masked, after */
        for (size_t j = 0; j < 3; j++)
            assert_true(dtoken[outside[j]] == 0.0);
    }
    rpo_ctx_free(ctx);
}

/* sum_b w_b seq_b(logps(logits)) by central differences against the
 * chain's backward: packed backward, then the token backward overwriting
 * the logits in place. */
static void test_chain_finite_differences(void **state)
{
    (void)state;
    enum { V = 7 };
    test_rng rng = {63};
    double logits[T * V], w[B];
    int32_t targets[T];
    uint8_t mask[T];
    rng_fill(&rng, logits, T * V, -3.0, 3.0);
    rng_fill(&rng, w, B, -1.0, 1.0);
    for (size_t k = 0; k < T; k++) {
        targets[k] = (int32_t)(rng_next(&rng) % V);
        mask[k] = (uint8_t)(k % 5 != 2);
    }
    targets[0] = -100;   /* outside every sequence, no target */
    rpo_ctx *ctx = rpo_ctx_create();
    const int reduce = RPO_SEQ_MEAN;
    double g[T], lse[T], logps[T], seq[B];
    double d[T * V];
    memcpy(d, logits, sizeof d);
    assert_status(rpo_token_logps_lse_f64(ctx, T, V, V, logits, targets, logps, lse), RPO_OK);
    assert_status(rpo_packed_seq_logps_backward_f64(ctx, B, T, offsets, mask, reduce, w, g), RPO_OK);
    assert_status(rpo_token_logps_backward_lse_f64(ctx, T, V, V, d, targets, lse, g, d,
                                                   RPO_GRAD_OVERWRITE), RPO_OK);
    const double h = 1e-6;
    for (size_t k = 0; k < T * V; k++) {
        const double keep = logits[k];
        double f[2];
        for (int side = 0; side < 2; side++) {
            logits[k] = keep + (side ? h : -h);
            assert_status(rpo_token_logps_f64(ctx, T, V, V, logits, targets, logps), RPO_OK);
            assert_status(rpo_packed_seq_logps_f64(ctx, B, T, offsets, logps, mask, reduce, seq),
                          RPO_OK);
            f[side] = 0.0;
            for (size_t b = 0; b < B; b++)
                f[side] += w[b] * seq[b];
        }
        logits[k] = keep;
        check_loss("chain", d[k], (f[1] - f[0]) / (2 * h), 1e-8);
    }
    rpo_ctx_free(ctx);
}

/* Each bad call fails with its status and a detail, writing nothing. */
static void expect(rpo_ctx *ctx, int got, int status, const char *says, const double *out,
                   size_t count)
{
    assert_status(got, status);
    if (says != NULL && strstr(rpo_ctx_error_detail(ctx), says) == NULL)
        fail_msg("detail \"%s\" does not say \"%s\"", rpo_ctx_error_detail(ctx), says);
    for (size_t k = 0; k < count; k++)
        assert_true(out[k] == 42.0);
}

static void test_hostile(void **state)
{
    (void)state;
    test_rng rng = {64};
    double x[T], dseq[B] = {1.0, 2.0, 3.0, 4.0}, seq[B], dtoken[T];
    uint8_t mask[T];
    fill(&rng, x, mask);
    for (size_t k = 0; k < T; k++)
        dtoken[k] = 42.0;
    for (size_t b = 0; b < B; b++)
        seq[b] = 42.0;
    rpo_ctx *ctx = rpo_ctx_create();
    int64_t bad[B + 1];

    memcpy(bad, offsets, sizeof bad);
    bad[2] = 3;   /* below offsets[1] = 6 */
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, bad, x, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_SIZE, "offsets[2] = 3 is below offsets[1] = 6", seq, B);
    expect(ctx, rpo_packed_seq_logps_backward_f64(ctx, B, T, bad, mask, RPO_SEQ_SUM, dseq, dtoken),
           RPO_ERR_SIZE, "must not decrease", dtoken, T);
    memcpy(bad, offsets, sizeof bad);
    bad[B] = T + 1;
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, bad, x, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_SIZE, "passes T = 23", seq, B);
    bad[B] = 22;
    bad[0] = -1;
    expect(ctx, rpo_packed_seq_logps_backward_f64(ctx, B, T, bad, mask, RPO_SEQ_MEAN, dseq, dtoken),
           RPO_ERR_SIZE, "negative", dtoken, T);
    memset(bad, 0, sizeof bad);
    bad[B] = INT64_MAX;   /* passes T, whatever the comparisons' types */
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, bad, x, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_SIZE, NULL, seq, B);
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, NULL, x, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_NULL_POINTER, "must not be NULL", seq, B);
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, offsets, x, mask, 5, seq),
           RPO_ERR_PARAM, "reduce = 5", seq, B);
    /* NaN in a counted token: an error; in a masked or outside one: read never */
    x[3] = (double)NAN;
    mask[3] = 1;
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, offsets, x, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_NONFINITE, "token_logps[3]", seq, B);
    mask[3] = 0;
    x[0] = x[22] = (double)INFINITY;
    assert_status(rpo_packed_seq_logps_f64(ctx, B, T, offsets, x, mask, RPO_SEQ_SUM, seq), RPO_OK);
    dseq[2] = (double)NAN;
    expect(ctx, rpo_packed_seq_logps_backward_f64(ctx, B, T, offsets, mask, RPO_SEQ_SUM, dseq,
                                                  dtoken), RPO_ERR_NONFINITE, "dseq_logps[2]",
           dtoken, T);
    /* a sum beyond float32 */
    float big[T], out32[B] = {42.0f, 42.0f, 42.0f, 42.0f};
    for (size_t k = 0; k < T; k++)
        big[k] = -3e38f;
    assert_status(rpo_packed_seq_logps_f32(ctx, B, T, offsets, big, NULL, RPO_SEQ_SUM, out32),
                  RPO_ERR_RANGE);
    for (size_t b = 0; b < B; b++)
        assert_true(out32[b] == 42.0f);
    /* nothing to do */
    assert_status(rpo_packed_seq_logps_f64(ctx, 0, T, NULL, NULL, NULL, RPO_SEQ_SUM, NULL), RPO_OK);
    assert_status(rpo_packed_seq_logps_backward_f64(ctx, B, 0, NULL, NULL, RPO_SEQ_SUM, NULL, NULL),
                  RPO_OK);
    assert_status(rpo_packed_seq_logps_f64(NULL, B, T, offsets, x, mask, RPO_SEQ_SUM, seq),
                  RPO_ERR_NULL_POINTER);
    rpo_ctx_free(ctx);
}

/* The float32 backward against the formula dtoken_k = dseq_b (SUM) or
 * dseq_b / count_b (MEAN) for token k counted in sequence b, 0 elsewhere;
 * the backward's NULL arguments; a float64 sum beyond DBL_MAX. */
static void test_f32_backward_and_null_arguments(void **state)
{
    (void)state;
    test_rng rng = {65};
    double x[T], dseq[B];
    uint8_t mask[T];
    fill(&rng, x, mask);
    rng_fill(&rng, dseq, B, -2.0, 2.0);
    float dseq32[B], dtoken32[T];
    to_f32(dseq32, dseq, B);
    rpo_ctx *ctx = rpo_ctx_create();
    for (int reduce = RPO_SEQ_SUM; reduce <= RPO_SEQ_MEAN; reduce++) {
        assert_status(rpo_packed_seq_logps_backward_f32(ctx, B, T, offsets, mask, reduce,
                                                        dseq32, dtoken32), RPO_OK);
        double want[T] = {0};
        for (size_t b = 0; b < B; b++) {
            size_t count = 0;
            for (int64_t k = offsets[b]; k < offsets[b + 1]; k++)
                count += mask[k] != 0;
            for (int64_t k = offsets[b]; k < offsets[b + 1]; k++)
                if (mask[k] != 0)
                    want[k] = reduce == RPO_SEQ_SUM ? (double)dseq32[b]
                                                    : (double)dseq32[b] / (double)count;
        }
        for (size_t k = 0; k < T; k++)
            check_loss("float32 dtoken", (double)dtoken32[k], want[k], TOL_F32);
    }

    double dtoken[T];
    for (size_t k = 0; k < T; k++)
        dtoken[k] = 42.0;
    assert_status(rpo_packed_seq_logps_backward_f64(NULL, B, T, offsets, mask, RPO_SEQ_SUM, dseq,
                                                    dtoken), RPO_ERR_NULL_POINTER);
    expect(ctx, rpo_packed_seq_logps_backward_f64(ctx, B, T, NULL, mask, RPO_SEQ_SUM, dseq,
                                                  dtoken), RPO_ERR_NULL_POINTER, "must not be NULL",
           dtoken, T);
    expect(ctx, rpo_packed_seq_logps_backward_f64(ctx, B, T, offsets, mask, RPO_SEQ_SUM, NULL,
                                                  dtoken), RPO_ERR_NULL_POINTER, "dseq_logps",
           dtoken, T);
    assert_status(rpo_packed_seq_logps_backward_f64(ctx, B, T, offsets, mask, RPO_SEQ_SUM, dseq,
                                                    NULL), RPO_ERR_NULL_POINTER);
    /* no sequences, T tokens: each token belongs to none, so 0 */
    const int64_t none[1] = {0};
    assert_status(rpo_packed_seq_logps_backward_f64(ctx, 0, T, none, NULL, RPO_SEQ_SUM, NULL,
                                                    dtoken), RPO_OK);
    for (size_t k = 0; k < T; k++)
        assert_true(dtoken[k] == 0.0);

    double seq[B] = {42.0, 42.0, 42.0, 42.0};
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, offsets, NULL, mask, RPO_SEQ_SUM, seq),
           RPO_ERR_NULL_POINTER, "must not be NULL", seq, B);
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, offsets, x, mask, RPO_SEQ_SUM, NULL),
           RPO_ERR_NULL_POINTER, "must not be NULL", NULL, 0);
    double huge[T];
    for (size_t k = 0; k < T; k++)
        huge[k] = -DBL_MAX;   /* two of them overflow a double */
    expect(ctx, rpo_packed_seq_logps_f64(ctx, B, T, offsets, huge, NULL, RPO_SEQ_SUM, seq),
           RPO_ERR_RANGE, "float64", seq, B);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_padded_layout),
        cmocka_unit_test(test_backward_is_the_adjoint),
        cmocka_unit_test(test_chain_finite_differences),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_f32_backward_and_null_arguments),
    };
    return cmocka_run_group_tests_name("packed sequences", tests, NULL, NULL);
}
