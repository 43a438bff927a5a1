/*
 * The token-level helpers under hostile arguments the fuzzer found
 * mishandled (tests/fuzz/tokens.c, sequences.c), as plain regression tests:
 *   - (T, stride) or (B, T) whose product overflows size_t fails with
 *     RPO_ERR_SIZE before anything is read: the arrays end at an
 *     inaccessible page, so a single read past their one element crashes;
 *   - rpo_token_logps_backward_* leaves rows with a negative target alone
 *     whatever their dlogps, NaN and infinity included, as the header says;
 * and the 1.3 entry points (log-sum-exps, overwrite in place) under every
 * error the header lists (dlogits overlapping logits, dlogps, targets or
 * lse; NaN in any array read, the accumulated dlogits included), each
 * writing nothing and saying why in the context's detail.
 */
#include <fcntl.h>
#include <float.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testutil.h"

/* Memory whose last `bytes` bytes sit right before a page that cannot be
 * read or written: any access past them faults. */
typedef struct fenced {
    unsigned char *map;
    size_t map_bytes;
    void *p;
} fenced;

static fenced fence(size_t bytes)
{
    fenced f;
    long page = sysconf(_SC_PAGESIZE);
    assert_true(page > 0 && bytes <= (size_t)page);
    f.map_bytes = 2 * (size_t)page;
    int fd = open("/dev/zero", O_RDWR);
    assert_true(fd >= 0);
    void *map = mmap(NULL, f.map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    close(fd);
    assert_true(map != MAP_FAILED);
    f.map = map;
    assert_int_equal(mprotect(f.map + page, (size_t)page, PROT_NONE), 0);
    f.p = f.map + page - bytes;
    return f;
}

static void unfence(fenced *f)
{
    munmap(f->map, f->map_bytes);
}

/* T = stride = 2^32 overflow T x stride, though (T - 1) stride + V does
 * not for V = 1. Every target is -1 (no token), so a library that went on
 * would read targets past the first and write T log-probs. */
static void test_logits_shape_overflow_reads_nothing(void **state)
{
    (void)state;
    const size_t t = (size_t)1 << 32, stride = (size_t)1 << 32, v = 1;
    fenced targets = fence(sizeof(int32_t)), logits = fence(sizeof(double));
    fenced out = fence(sizeof(double)), dlogps = fence(sizeof(double));
    fenced logits32 = fence(sizeof(float)), out32 = fence(sizeof(float));
    *(int32_t *)targets.p = -1;
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_token_logps_f64(ctx, t, v, stride, logits.p, targets.p, out.p),
                  RPO_ERR_SIZE);
    assert_status(rpo_token_logps_f32(ctx, t, v, stride, logits32.p, targets.p, out32.p),
                  RPO_ERR_SIZE);
    assert_status(rpo_token_logps_backward_f64(ctx, t, v, stride, logits.p, targets.p,
                                               dlogps.p, out.p), RPO_ERR_SIZE);
    rpo_ctx_free(ctx);
    unfence(&targets); unfence(&logits); unfence(&out); unfence(&dlogps);
    unfence(&logits32); unfence(&out32);
}

static void test_sequence_shape_overflow_reads_nothing(void **state)
{
    (void)state;
    const size_t b = (size_t)1 << 32, t = (size_t)1 << 32;
    fenced in = fence(sizeof(double)), out = fence(sizeof(double)), mask = fence(1);
    assert_status(rpo_seq_logps_f64(b, t, in.p, mask.p, RPO_SEQ_SUM, out.p), RPO_ERR_SIZE);
    assert_status(rpo_seq_logps_backward_f64(b, t, mask.p, RPO_SEQ_MEAN, in.p, out.p),
                  RPO_ERR_SIZE);
    unfence(&in); unfence(&out); unfence(&mask);
}

/* Row 1 has no token (target -1): its dlogps may be anything, NaN or
 * infinity included, and the call must equal the one with dlogps[1] = 0,
 * leaving row 1 of dlogits untouched. */
static void test_backward_ignores_dlogps_of_rows_without_token(void **state)
{
    (void)state;
    enum { T = 3, V = 4 };
    const double logits[T * V] = {0.5, -1.0, 2.0, 0.25,  9.0, 9.0, 9.0, 9.0,
                                  -0.5, 1.5, 0.0, -2.0};
    const int32_t targets[T] = {2, -1, 1};
    const double odd[3] = {(double)NAN, (double)INFINITY, -(double)INFINITY};
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    double want[T * V] = {0}, dlogps[T] = {0.75, 0.0, -1.25};
    assert_status(rpo_token_logps_backward_f64(ctx, T, V, V, logits, targets, dlogps, want),
                  RPO_OK);
    for (int k = 0; k < 3; k++) {
        double got[T * V] = {0};
        dlogps[1] = odd[k];
        assert_status(rpo_token_logps_backward_f64(ctx, T, V, V, logits, targets,
                                                   dlogps, got), RPO_OK);
        assert_memory_equal(got, want, sizeof got);
        float got32[T * V] = {0}, logits32[T * V], dlogps32[T];
        to_f32(logits32, logits, T * V);
        to_f32(dlogps32, dlogps, T);
        assert_status(rpo_token_logps_backward_f32(ctx, T, V, V, logits32, targets,
                                                   dlogps32, got32), RPO_OK);
        for (size_t j = 0; j < V; j++)
            assert_true(got32[1 * V + j] == 0.0f);
    }
    /* a row that has a token does read its dlogps: NaN there is an error */
    double got[T * V] = {0};
    dlogps[1] = 0.0;
    dlogps[2] = (double)NAN;
    assert_status(rpo_token_logps_backward_f64(ctx, T, V, V, logits, targets, dlogps, got),
                  RPO_ERR_NONFINITE);
    rpo_ctx_free(ctx);
}

/* ------------------------------------------------------- 1.3 entry points */

enum { HT = 4, HV = 5, HS = 6 };   /* rows, logits per row, row stride */

typedef struct hostile {
    float logits[HT * HS], copy[HT * HS], d[HT * HS], dlogps[HT];
    int32_t targets[HT];
    double lse[HT];
    rpo_ctx *ctx;
} hostile;

static void make_hostile(hostile *h)
{
    for (int k = 0; k < HT * HS; k++)
        h->logits[k] = (float)((k * 7) % 11) * 0.5f - 2.0f;
    for (int k = 0; k < HT; k++) {
        h->targets[k] = k % HV;
        h->dlogps[k] = 0.5f + (float)k;
    }
    h->ctx = rpo_ctx_create();
    assert_non_null(h->ctx);
    float logps[HT];
    assert_status(rpo_token_logps_lse_f32(h->ctx, HT, HV, HS, h->logits, h->targets, logps,
                                          h->lse), RPO_OK);
    memcpy(h->copy, h->logits, sizeof h->copy);
    for (int k = 0; k < HT * HS; k++)
        h->d[k] = 3.0f;
}

/* The call failed with status, its detail mentions `says`, and neither
 * the logits nor dlogits changed. */
static void failed_cleanly(hostile *h, int got, int status, const char *says)
{
    assert_status(got, status);
    const char *detail = rpo_ctx_error_detail(h->ctx);
    if (strstr(detail, says) == NULL)
        fail_msg("detail \"%s\" does not say \"%s\"", detail, says);
    assert_memory_equal(h->logits, h->copy, sizeof h->copy);
    for (int k = 0; k < HT * HS; k++)
        assert_true(h->d[k] == 3.0f || h->d[k] == 0.75f * FLT_MAX);
}

static int in_place(hostile *h)
{
    return rpo_token_logps_backward_lse_f32(h->ctx, HT, HV, HS, h->logits, h->targets, h->lse,
                                            h->dlogps, h->logits, RPO_GRAD_OVERWRITE);
}

static int into_d(hostile *h, int write)
{
    return rpo_token_logps_backward_lse_f32(h->ctx, HT, HV, HS, h->logits, h->targets, h->lse,
                                            h->dlogps, h->d, write);
}

static void test_overwrite_checks_every_row_first(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    /* NaN in the last row: the rows before it must not have been written */
    h.logits[3 * HS + 4] = h.copy[3 * HS + 4] = (float)NAN;
    failed_cleanly(&h, in_place(&h), RPO_ERR_NONFINITE, "logits[3, 4] is NaN");
    /* ... but NaN in the padding, or in a row without target, is not read */
    h.logits[3 * HS + 4] = h.copy[3 * HS + 4] = 0.0f;
    h.logits[0 * HS + 5] = (float)NAN;
    h.logits[1 * HS + 2] = (float)INFINITY;
    h.targets[1] = -100;
    h.lse[1] = 0.0;
    assert_status(in_place(&h), RPO_OK);
    assert_true(isnan(h.logits[0 * HS + 5]));                    /* padding */
    for (int j = 0; j < HV; j++)
        assert_true(h.logits[1 * HS + j] == 0.0f);               /* zeroed */
    rpo_ctx_free(h.ctx);
}

static void test_lse_must_be_the_rows(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    const double good = h.lse[2];
    h.lse[2] = good - 3.0;          /* below the row's max */
    failed_cleanly(&h, in_place(&h), RPO_ERR_RANGE, "row 2");
    h.lse[2] = good + 100.0;        /* beyond max + log V + 1 */
    failed_cleanly(&h, into_d(&h, RPO_GRAD_ACCUMULATE), RPO_ERR_RANGE, "row 2");
    h.lse[2] = (double)NAN;
    failed_cleanly(&h, in_place(&h), RPO_ERR_NONFINITE, "lse[2] is NaN");
    h.lse[2] = (double)INFINITY;
    failed_cleanly(&h, into_d(&h, RPO_GRAD_OVERWRITE), RPO_ERR_NONFINITE, "lse[2] is inf");
    rpo_ctx_free(h.ctx);
}

static void test_sizes_modes_and_aliasing(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    h.targets[3] = HV;
    failed_cleanly(&h, in_place(&h), RPO_ERR_SIZE, "targets[3] = 5 is not below v = 5");
    h.targets[3] = 0;
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HV - 1, h.logits,
                                                        h.targets, h.lse, h.dlogps, h.d,
                                                        RPO_GRAD_ACCUMULATE),
                   RPO_ERR_SIZE, "stride");
    failed_cleanly(&h, into_d(&h, 2), RPO_ERR_PARAM, "write = 2");
    /* dlogits == logits only when overwriting; never a shifted view */
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HS, h.logits, h.targets,
                                                        h.lse, h.dlogps, h.logits,
                                                        RPO_GRAD_ACCUMULATE),
                   RPO_ERR_SIZE, "overlaps logits");
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT - 1, HV, HS, h.logits,
                                                        h.targets, h.lse, h.dlogps,
                                                        h.logits + 1, RPO_GRAD_OVERWRITE),
                   RPO_ERR_SIZE, "without being the same array");
    /* dlogps inside dlogits: overwriting row 0 would change row 1's dlogps */
    float both[HT * HS + HT];
    memcpy(both, h.d, sizeof h.d);
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HS, h.logits, h.targets,
                                                        h.lse, both + 2, both,
                                                        RPO_GRAD_OVERWRITE),
                   RPO_ERR_SIZE, "overlaps dlogps");
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HS, h.logits, h.targets,
                                                        h.lse, h.dlogps, NULL,
                                                        RPO_GRAD_OVERWRITE),
                   RPO_ERR_NULL_POINTER, "is NULL with t = ");
    rpo_ctx_free(h.ctx);
}

/* dlogits may not share a byte with targets or lse either (both are read
 * after rows are written), and accumulating reads dlogits: NaN there is
 * named like any input's. */
static void test_aliasing_targets_lse_and_accumulator_nan(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    /* one buffer of doubles holding dlogits (floats), then targets or lse
     * placed inside its rows */
    double store[HT * HS];
    memset(store, 0, sizeof store);   /* compared byte for byte below */
    float *dlogits = (float *)(void *)store;
    for (int k = 0; k < HT * HS; k++)
        dlogits[k] = 3.0f;
    int32_t *targets = (int32_t *)(void *)(dlogits + 2 * HS);
    memcpy(targets, h.targets, sizeof h.targets);
    unsigned char before[sizeof store];
    memcpy(before, store, sizeof store);
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HS, h.logits, targets,
                                                        h.lse, h.dlogps, dlogits,
                                                        RPO_GRAD_OVERWRITE),
                   RPO_ERR_SIZE, "overlaps targets");
    assert_memory_equal(store, before, sizeof store);
    double *lse = store + HS;   /* float row 2 onwards */
    memcpy(lse, h.lse, sizeof h.lse);
    memcpy(before, store, sizeof store);
    failed_cleanly(&h, rpo_token_logps_backward_lse_f32(h.ctx, HT, HV, HS, h.logits, h.targets,
                                                        lse, h.dlogps, dlogits,
                                                        RPO_GRAD_OVERWRITE),
                   RPO_ERR_SIZE, "overlaps lse");
    assert_memory_equal(store, before, sizeof store);

    h.d[1 * HS + 2] = (float)NAN;
    assert_status(into_d(&h, RPO_GRAD_ACCUMULATE), RPO_ERR_NONFINITE);
    assert_non_null(strstr(rpo_ctx_error_detail(h.ctx), "dlogits[1, 2] is NaN"));
    assert_true(isnan(h.d[1 * HS + 2]) && h.d[0] == 3.0f && h.d[3 * HS + 4] == 3.0f);
    rpo_ctx_free(h.ctx);
}

/* Accumulating onto dlogits near the float range could overflow: found in
 * the check, before any row is written. */
static void test_accumulate_range(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    h.d[2 * HS + 1] = 0.75f * FLT_MAX;
    h.dlogps[2] = 0.5f * FLT_MAX;
    failed_cleanly(&h, into_d(&h, RPO_GRAD_ACCUMULATE), RPO_ERR_RANGE, "row 2");
    rpo_ctx_free(h.ctx);
}

static void test_forward_lse_checks(void **state)
{
    (void)state;
    hostile h;
    make_hostile(&h);
    float logps[HT] = {7.0f, 7.0f, 7.0f, 7.0f};
    double lse[HT] = {7.0, 7.0, 7.0, 7.0};
    h.logits[2 * HS + 3] = (float)NAN;
    assert_status(rpo_token_logps_lse_f32(h.ctx, HT, HV, HS, h.logits, h.targets, logps, lse),
                  RPO_ERR_NONFINITE);
    assert_non_null(strstr(rpo_ctx_error_detail(h.ctx), "logits[2, 3] is NaN"));
    assert_status(rpo_token_logps_lse_f32(h.ctx, HT, HV, HS, h.copy, h.targets, logps, NULL),
                  RPO_ERR_NULL_POINTER);
    assert_status(rpo_token_logps_lse_f32(h.ctx, HT, HV, HS, h.copy, h.targets, logps,
                                          (double *)(void *)logps), RPO_ERR_SIZE);
    /* logits spread beyond float: the log-prob does not fit */
    h.copy[0] = FLT_MAX;
    h.copy[1] = -FLT_MAX;
    h.targets[0] = 1;
    assert_status(rpo_token_logps_lse_f32(h.ctx, HT, HV, HS, h.copy, h.targets, logps, lse),
                  RPO_ERR_RANGE);
    for (int k = 0; k < HT; k++)
        assert_true(logps[k] == 7.0f && lse[k] == 7.0);
    rpo_ctx_free(h.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_shape_overflow_reads_nothing),
        cmocka_unit_test(test_sequence_shape_overflow_reads_nothing),
        cmocka_unit_test(test_backward_ignores_dlogps_of_rows_without_token),
        cmocka_unit_test(test_overwrite_checks_every_row_first),
        cmocka_unit_test(test_lse_must_be_the_rows),
        cmocka_unit_test(test_sizes_modes_and_aliasing),
        cmocka_unit_test(test_aliasing_targets_lse_and_accumulator_nan),
        cmocka_unit_test(test_accumulate_range),
        cmocka_unit_test(test_forward_lse_checks),
    };
    return cmocka_run_group_tests_name("tokens_hostile", tests, NULL, NULL);
}
