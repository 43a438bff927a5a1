/*
 * Every error status of the loss and weight entry points, in float32 and
 * float64, each with its outputs proven untouched (filled with a sentinel,
 * compared after the call) and the context unchanged (settings and the
 * last call's metrics), plus the documented precedence between errors.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

enum kind { LOSS, WEIGHTED, WEIGHTS };
enum dtype { F64, F32 };

#define BUF 64                  /* every output buffer, whatever m and n */
#define SENTINEL 12345.678

/* One call's arguments, in double; the float32 run narrows them. */
typedef struct spec {
    enum kind kind;
    size_t m, n, d;
    const double *pc, *rc, *pr, *rr, *ce, *re, *w;
    int re_is_ce;              /* pass the chosen pointer as rejected_emb  */
    int null_ctx;
    int null_weights_out;      /* rpo_weights_* with weights == NULL       */
} spec;

/* A valid paired 4 x 4 batch with D = 3 that every case starts from. */
static const double PC[4] = {-10.0, -12.5, -9.0, -14.0};
static const double RC[4] = {-11.0, -12.0, -9.5, -13.0};
static const double PR[4] = {-13.0, -12.0, -11.0, -15.5};
static const double RR[4] = {-12.0, -12.5, -10.0, -15.0};
static const double CE[12] = {1, 0, 0,  0, 1, 0,  0, 0, 1,  1, 1, 0};
static const double RE[12] = {0, 1, 1,  1, 0, 1,  1, 1, 1,  0, 0, 1};
static const double W[16] = {1, 0, 0, 0,  0, 1, 0, 0,  0, 0, 1, 0,  0, 0, 0, 1};

static spec base(enum kind kind)
{
    spec s = {kind, 4, 4, 3, PC, RC, PR, RR, CE, RE, W, 0, 0, 0};
    return s;
}

/* Everything observable about a context: settings and metrics. */
typedef struct snapshot { double v[16]; } snapshot;

static snapshot take_snapshot(const rpo_ctx *ctx)
{
    snapshot s;
    int k = 0;
    for (int p = RPO_PARAM_WEIGHTING; p <= RPO_PARAM_REDUCTION; p++)
        assert_status(rpo_ctx_get(ctx, p, &s.v[k++]), RPO_OK);
    for (int t = RPO_STAT_LOSS; t <= RPO_STAT_ACCURACY; t++)
        assert_status(rpo_ctx_stat(ctx, t, &s.v[k++]), RPO_OK);
    for (; k < 16; k++)
        s.v[k] = 0.0;
    return s;
}

static float *narrow_copy(const double *src, size_t count, float *dst)
{
    if (src == NULL)
        return NULL;
    to_f32(dst, src, count);
    return dst;
}

/* Runs the spec with sentinel-filled outputs; returns the status after
 * checking that nothing was written and the context did not change. */
static int run_guarded(rpo_ctx *ctx, const spec *s, enum dtype t)
{
    double o64[3][BUF];
    float o32[3][BUF];
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < BUF; k++) {
            o64[b][k] = SENTINEL;
            o32[b][k] = (float)SENTINEL;
        }
    snapshot before = take_snapshot(ctx);
    rpo_ctx *c = s->null_ctx ? NULL : ctx;
    int status;
    if (t == F64) {
        const double *re = s->re_is_ce ? s->ce : s->re;
        double *w_out = s->null_weights_out ? NULL : o64[0];
        switch (s->kind) {
        case LOSS:
            status = rpo_loss_f64(c, s->m, s->pc, s->rc, s->n, s->pr, s->rr,
                                  s->d, s->ce, re, o64[0], o64[1], o64[2]);
            break;
        case WEIGHTED:
            status = rpo_loss_weighted_f64(c, s->m, s->pc, s->rc, s->n, s->pr,
                                           s->rr, s->w, o64[0], o64[1], o64[2]);
            break;
        default:
            status = rpo_weights_f64(c, s->m, s->n, s->d, s->ce, re, w_out);
        }
    } else {
        /* Inputs are small arrays (at most 16 values) whatever m and n say:
         * the error cases with huge sizes must fail before reading. */
        float pc[16], rc[16], pr[16], rr[16], ce[16], re[16], w[16];
        const size_t k4 = 4, k12 = 12, k16 = 16;
        float *fpc = narrow_copy(s->pc, k4, pc), *frc = narrow_copy(s->rc, k4, rc);
        float *fpr = narrow_copy(s->pr, k4, pr), *frr = narrow_copy(s->rr, k4, rr);
        float *fce = narrow_copy(s->ce, k12, ce);
        float *fre = s->re_is_ce ? fce : narrow_copy(s->re, k12, re);
        float *fw = narrow_copy(s->w, k16, w);
        float *w_out = s->null_weights_out ? NULL : o32[0];
        switch (s->kind) {
        case LOSS:
            status = rpo_loss_f32(c, s->m, fpc, frc, s->n, fpr, frr, s->d, fce,
                                  fre, o32[0], o32[1], o32[2]);
            break;
        case WEIGHTED:
            status = rpo_loss_weighted_f32(c, s->m, fpc, frc, s->n, fpr, frr,
                                           fw, o32[0], o32[1], o32[2]);
            break;
        default:
            status = rpo_weights_f32(c, s->m, s->n, s->d, fce, fre, w_out);
        }
    }
    if (status != RPO_OK) {
        for (int b = 0; b < 3; b++)
            for (int k = 0; k < BUF; k++)
                if (o64[b][k] != SENTINEL || o32[b][k] != (float)SENTINEL)
                    fail_msg("status %d wrote output %d[%d]", status, b, k);
        snapshot after = take_snapshot(ctx);
        for (int k = 0; k < 16; k++)
            if (memcmp(&before.v[k], &after.v[k], sizeof(double)) != 0)
                fail_msg("status %d changed the context (entry %d)", status, k);
    }
    return status;
}

/* A context with non-default settings and non-zero metrics, so that a
 * change of either would be visible. */
static rpo_ctx *used_context(int weighting)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO, 0.3, 0.7, 0.6,
              RPO_REDUCTION_MEAN);
    double loss = 0.0;
    assert_status(rpo_loss_f64(ctx, 4, PC, RC, 4, PR, RR, 0, NULL, NULL,
                               &loss, NULL, NULL), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
    return ctx;
}

/* Expects status from the spec under the weighting, in both precisions. */
static void expect(int weighting, const spec *s, int want, const char *what)
{
    for (int t = F64; t <= F32; t++) {
        rpo_ctx *ctx = used_context(weighting);
        int got = run_guarded(ctx, s, (enum dtype)t);
        if (got != want)
            fail_msg("%s (%s): status %d (%s), want %d (%s)", what,
                     t == F64 ? "f64" : "f32", got, rpo_status_string(got),
                     want, rpo_status_string(want));
        rpo_ctx_free(ctx);
    }
}

static const int all_weightings[] = {RPO_WEIGHTING_UNIFORM, RPO_WEIGHTING_DIAGONAL,
                                     RPO_WEIGHTING_EMBEDDING};

static void test_null_pointers(void **state)
{
    (void)state;
    for (int k = 0; k < 3; k++) {
        int wt = all_weightings[k];
        for (enum kind kind = LOSS; kind <= WEIGHTS; kind++) {
            spec s = base(kind);
            s.null_ctx = 1;
            expect(wt, &s, RPO_ERR_NULL_POINTER, "NULL ctx");
            if (kind == WEIGHTS)
                continue;
            s = base(kind);
            s.pc = NULL;
            expect(wt, &s, RPO_ERR_NULL_POINTER, "NULL policy_chosen");
            s = base(kind);
            s.pr = NULL;
            expect(wt, &s, RPO_ERR_NULL_POINTER, "NULL policy_rejected");
        }
    }
    spec s = base(LOSS);
    s.ce = NULL;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NULL_POINTER, "NULL chosen_emb");
    s = base(WEIGHTS);
    s.ce = NULL;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NULL_POINTER, "weights: NULL chosen_emb");
    s = base(WEIGHTED);
    s.w = NULL;
    expect(RPO_WEIGHTING_UNIFORM, &s, RPO_ERR_NULL_POINTER, "NULL caller weights");
    s = base(WEIGHTS);
    s.null_weights_out = 1;
    expect(RPO_WEIGHTING_UNIFORM, &s, RPO_ERR_NULL_POINTER, "NULL weights output");
}

static void test_sizes(void **state)
{
    (void)state;
    spec s = base(LOSS);
    s.n = 3;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_ERR_SIZE, "diagonal with m != n");
    s.re = NULL;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_SIZE, "paired (NULL) embeddings, m != n");
    s.re_is_ce = 1;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_SIZE, "paired (same) embeddings, m != n");
    s = base(WEIGHTS);
    s.n = 3;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_ERR_SIZE, "weights: diagonal with m != n");
    for (enum kind kind = LOSS; kind <= WEIGHTS; kind += 2) {
        s = base(kind);
        s.d = 0;
        expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_SIZE, "embedding with d == 0");
    }
    /* Products overflowing size_t fail before anything is read (the arrays
     * are 4 long; reading them as this long would crash). */
    for (enum kind kind = LOSS; kind <= WEIGHTS; kind++)
        for (int k = 0; k < 3; k++) {
            s = base(kind);
            s.m = SIZE_MAX / 2 + 1;
            s.n = 2;
            s.re = NULL;
            expect(all_weightings[k], &s, RPO_ERR_SIZE, "m * n overflows");
        }
    s = base(LOSS);
    s.d = SIZE_MAX / 2 + 1;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_SIZE, "m * d overflows");
    /* m * d fits, but its bytes do not. */
    s.m = s.n = (size_t)1 << 20;
    s.d = (size_t)1 << 42;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_SIZE, "m * d * sizeof(double) overflows");
}

static void test_out_of_memory(void **state)
{
    (void)state;
    /* 2^58 doubles of normalised embeddings: a valid size that no machine
     * can allocate; the call must fail before it reads an input. */
    spec s = base(LOSS);
    s.m = s.n = (size_t)1 << 20;
    s.d = (size_t)1 << 38;
    s.re = NULL;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NOMEM, "huge embeddings");
    s.kind = WEIGHTS;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NOMEM, "weights: huge embeddings");
}

/* NaN, +inf and -inf in each input array in turn. */
static void test_nonfinite_inputs(void **state)
{
    (void)state;
    const double bad[3] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
    for (int b = 0; b < 3; b++) {
        double pc[4], rc[4], pr[4], rr[4], ce[12], re[12], w[16];
        const double *sources[7] = {PC, RC, PR, RR, CE, RE, W};
        double *copies[7] = {pc, rc, pr, rr, ce, re, w};
        const size_t sizes[7] = {4, 4, 4, 4, 12, 12, 16};
        for (int which = 0; which < 7; which++) {
            for (int k = 0; k < 7; k++)
                memcpy(copies[k], sources[k], sizes[k] * sizeof(double));
            copies[which][sizes[which] - 1] = bad[b];
            spec s = {LOSS, 4, 4, 3, pc, rc, pr, rr, ce, re, w, 0, 0, 0};
            char what[64];
            snprintf(what, sizeof what, "non-finite in input %d (%g)", which, bad[b]);
            if (which < 4) {            /* log-probs: every weighting */
                for (int k = 0; k < 3; k++)
                    expect(all_weightings[k], &s, RPO_ERR_NONFINITE, what);
                s.kind = WEIGHTED;
                expect(RPO_WEIGHTING_UNIFORM, &s, RPO_ERR_NONFINITE, what);
            } else if (which < 6) {     /* embeddings: embedding weighting */
                expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NONFINITE, what);
                s.kind = WEIGHTS;
                expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NONFINITE, what);
            } else {                    /* caller weights */
                s.kind = WEIGHTED;
                expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NONFINITE, what);
            }
        }
    }
}

/* Arrays that are not read may hold anything. */
static void test_unread_inputs_are_ignored(void **state)
{
    (void)state;
    double ce[12];
    for (int k = 0; k < 12; k++)
        ce[k] = (double)NAN;
    spec s = base(LOSS);
    s.ce = ce;
    s.re = ce;
    expect(RPO_WEIGHTING_UNIFORM, &s, RPO_OK, "NaN embeddings, uniform");
    s.d = 0;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_OK, "NaN embeddings, diagonal, d 0");
}

/* Finite inputs whose result does not fit the output type. */
static void test_range(void **state)
{
    (void)state;
    rpo_ctx *ctx = used_context(RPO_WEIGHTING_UNIFORM);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1.0), RPO_OK);
    /* float32: a = -6e38 is fine in double, but the loss 6e38 > FLT_MAX. */
    const float pc[1] = {-3e38f}, rc[1] = {3e38f};
    const float pr[2] = {-1.0f, -2.0f}, rr[2] = {-1.0f, -2.0f};
    float loss = (float)SENTINEL, gc[1] = {7}, gr[2] = {7, 7};
    snapshot before = take_snapshot(ctx);
    assert_status(rpo_loss_f32(ctx, 1, pc, rc, 2, pr, rr, 0, NULL, NULL,
                               &loss, gc, gr), RPO_ERR_RANGE);
    assert_true(loss == (float)SENTINEL && gc[0] == 7 && gr[0] == 7 && gr[1] == 7);
    snapshot after = take_snapshot(ctx);
    assert_memory_equal(&before, &after, sizeof before);
    /* The same values in float64 are representable: success. */
    double dpc[1] = {-3e38}, drc[1] = {3e38}, dpr[2] = {-1, -2}, drr[2] = {-1, -2};
    double dloss = 0.0;
    assert_status(rpo_loss_f64(ctx, 1, dpc, drc, 2, dpr, drr, 0, NULL, NULL,
                               &dloss, NULL, NULL), RPO_OK);
    assert_true(fabs(dloss - 6e38) <= 1e-12 * 6e38);
    /* float64: the log-ratio 1e308 - (-1e308) overflows. */
    spec s = base(LOSS);
    const double big_pc[4] = {1e308, -1, -1, -1}, big_rc[4] = {-1e308, -1, -1, -1};
    s.pc = big_pc;
    s.rc = big_rc;
    assert_status(run_guarded(ctx, &s, F64), RPO_ERR_RANGE);
    /* float64: beta near DBL_MAX makes beta * z, and the loss, overflow. */
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1e308), RPO_OK);
    const double low_pc[4] = {-40, -40, -40, -40}; /* z_ij <= -20 */
    s = base(LOSS);
    s.pc = low_pc;
    assert_status(run_guarded(ctx, &s, F64), RPO_ERR_RANGE);
    rpo_ctx_free(ctx);
}

/* Errors are reported in the documented order: NULL pointer, size, memory,
 * non-finite input, range. */
static void test_precedence(void **state)
{
    (void)state;
    double nan_pc[4] = {(double)NAN, -1, -1, -1};
    spec s = base(LOSS);
    s.null_ctx = 1;
    s.n = 3;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_ERR_NULL_POINTER, "NULL ctx before size");
    s = base(LOSS);
    s.pr = NULL;
    s.n = 3;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_ERR_NULL_POINTER, "NULL input before size");
    s = base(LOSS);
    s.pc = nan_pc;
    s.n = 3;
    expect(RPO_WEIGHTING_DIAGONAL, &s, RPO_ERR_SIZE, "size before non-finite");
    s = base(LOSS);
    s.pc = nan_pc;
    s.m = s.n = (size_t)1 << 20;
    s.d = (size_t)1 << 38;
    s.re = NULL;
    expect(RPO_WEIGHTING_EMBEDDING, &s, RPO_ERR_NOMEM, "memory before non-finite");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_nonfinite_inputs),
        cmocka_unit_test(test_unread_inputs_are_ignored),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_precedence),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
