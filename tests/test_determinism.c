/*
 * Determinism: the same call on the same build gives the same bytes (status,
 * outputs, metrics) every time:
 *   - run after run on one context;
 *   - context after context (fresh ones);
 *   - on a context whose scratch an earlier, larger call grew, and on one
 *     an earlier call left mid-way through an error;
 *   - whatever the alignment of the caller's input and output arrays (a
 *     kernel that peeled by address would sum in another order).
 * Training runs resume from checkpoints and compare runs across restarts;
 * this is what lets them.
 */
#include <stdio.h>

#include "replay.h"
#include "testutil.h"

enum { CALLS = 24 };

/* Repeats of each call, and array shifts tried; fewer when RPO_TEST_SMALL=1
 * asks for a lighter run (valgrind). */
static int repeats;
static size_t shifts;

static replay_call calls[CALLS];

/* Every entry point in every weighting; sizes odd and even, one call per
 * weighting spanning several row blocks, D not a multiple of any vector
 * width. When the build has RPO_PARAM_THREADS, odd calls ask for two. */
static void make_calls(void)
{
    int lib_threads = 1;
#ifdef RPO_PARAM_THREADS
    double lo, hi;
    if (rpo_param_bounds(RPO_PARAM_THREADS, &lo, &hi) == RPO_OK && hi >= 2.0)
        lib_threads = 2;
#endif
    for (int k = 0; k < CALLS; k++) {
        replay_call *c = &calls[k];
        memset(c, 0, sizeof *c);
        c->entry = (replay_entry)(k % REPLAY_ENTRIES);
        c->weighting = (k / REPLAY_ENTRIES) % 3;
        c->placement = (k / 2) % 3;
        c->reduction = (k / 3) % 2;
        c->beta = 0.1 + 0.3 * k;
        c->tau = 0.05 + 0.2 * (k % 5);
        c->alpha = 0.8;
        c->threads = lib_threads > 1 && k % 2 == 1 ? 2 : 1;
        c->m = 17 + (size_t)k;
        c->n = 9 + (size_t)(3 * k) % 23;
        c->d = 33;
        if (k >= 3 * REPLAY_ENTRIES) { /* the fourth group: several blocks */
            c->m = replay_small() ? 131 : 301;
            c->n = replay_small() ? 129 : 203;
        }
        c->paired = c->weighting == RPO_WEIGHTING_EMBEDDING && k % 3 == 0;
        if (c->weighting == RPO_WEIGHTING_DIAGONAL || c->paired)
            c->n = c->m;
        assert_int_equal(replay_build(c, 1000u + (uint64_t)k), 0);
    }
}

static rpo_ctx *configured(const replay_call *c)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(replay_configure(ctx, c), RPO_OK);
    return ctx;
}

/* The reference result of call k: a fresh context, one run. */
static replay_result first_result(int k)
{
    rpo_ctx *ctx = configured(&calls[k]);
    replay_result r;
    assert_int_equal(replay_run(ctx, &calls[k], &r), 0);
    assert_status(r.status, RPO_OK);
    rpo_ctx_free(ctx);
    return r;
}

static void expect_same(const char *what, int k, const replay_result *got,
                        const replay_result *want)
{
    if (!replay_same(got, want))
        fail_msg("%s: call %d (entry %d, weighting %d, %zu x %zu) differs",
                 what, k, calls[k].entry, calls[k].weighting, calls[k].m,
                 calls[k].n);
}

static void test_run_after_run(void **state)
{
    (void)state;
    for (int k = 0; k < CALLS; k++) {
        replay_result want = first_result(k);
        rpo_ctx *ctx = configured(&calls[k]);
        for (int rep = 0; rep < repeats; rep++) {
            replay_result got;
            assert_int_equal(replay_run(ctx, &calls[k], &got), 0);
            expect_same("run after run", k, &got, &want);
            replay_result_free(&got);
        }
        rpo_ctx_free(ctx);
        replay_result_free(&want);
    }
}

static void test_context_after_context(void **state)
{
    (void)state;
    for (int k = 0; k < CALLS; k++) {
        replay_result want = first_result(k);
        for (int rep = 0; rep < repeats; rep++) {
            replay_result got = first_result(k);
            expect_same("context after context", k, &got, &want);
            replay_result_free(&got);
        }
        replay_result_free(&want);
    }
}

/* A context first used for a much larger problem holds scratch far bigger
 * than the calls need, laid out for another shape, with stale values; each
 * call then also finds the previous call's leftovers. */
static void test_grown_scratch(void **state)
{
    (void)state;
    replay_call big;
    memset(&big, 0, sizeof big);
    big.entry = REPLAY_LOSS_F64;
    big.weighting = RPO_WEIGHTING_EMBEDDING;
    big.beta = 0.1; big.tau = 0.5; big.alpha = 0.8;
    big.threads = 1;
    big.m = 4000; big.n = 3; big.d = 256; /* 8 MB of prompts, few pairs */
    assert_int_equal(replay_build(&big, 77u), 0);
    rpo_ctx *ctx = configured(&big);
    replay_result warm;
    assert_int_equal(replay_run(ctx, &big, &warm), 0);
    assert_status(warm.status, RPO_OK);
    replay_result_free(&warm);
    for (int k = 0; k < CALLS; k++) {
        replay_result want = first_result(k);
        assert_status(replay_configure(ctx, &calls[k]), RPO_OK);
        replay_result got;
        assert_int_equal(replay_run(ctx, &calls[k], &got), 0);
        expect_same("on a grown, used context", k, &got, &want);
        replay_result_free(&got);
        replay_result_free(&want);
    }
    rpo_ctx_free(ctx);
    replay_free(&big);
}

/* A call that fails after the library has filled part of its scratch (an
 * infinity in the last embedding row is found only after the log-ratios and
 * other rows are in place) must leave nothing that changes the next call. */
static void test_after_failed_call(void **state)
{
    (void)state;
    for (int k = 0; k < CALLS; k++) {
        replay_result want = first_result(k);
        replay_call bad = calls[k]; /* shares the arrays: restored below */
        size_t last = bad.m * bad.d - 1;
        double keep = bad.e[last];
        float keep32 = bad.e32[last];
        bad.e[last] = (double)INFINITY;
        bad.e32[last] = INFINITY;
        bad.weighting = RPO_WEIGHTING_EMBEDDING;
        if (bad.entry == REPLAY_WEIGHTED_F64 || bad.entry == REPLAY_WEIGHTED_F32)
            bad.entry = REPLAY_LOSS_F64; /* the weighted loss reads no prompts */

        rpo_ctx *ctx = configured(&bad);
        replay_result failed;
        assert_int_equal(replay_run(ctx, &bad, &failed), 0);
        assert_status(failed.status, RPO_ERR_NONFINITE);
        replay_result_free(&failed);
        calls[k].e[last] = keep;
        calls[k].e32[last] = keep32;
        assert_status(replay_configure(ctx, &calls[k]), RPO_OK);
        replay_result got;
        assert_int_equal(replay_run(ctx, &calls[k], &got), 0);
        expect_same("after a failed call", k, &got, &want);
        replay_result_free(&got);
        rpo_ctx_free(ctx);
        replay_result_free(&want);
    }
}

/* Copies of count elements of size elem at an offset of shift elements into
 * a fresh buffer (NULL stays NULL); the buffer itself is returned through
 * block for freeing. */
static void *shifted(const void *src, size_t count, size_t elem, size_t shift,
                     void **block)
{
    *block = NULL;
    if (src == NULL)
        return NULL;
    unsigned char *b = malloc((count + shift + 1) * elem);
    assert_non_null(b);
    memcpy(b + shift * elem, src, count * elem);
    *block = b;
    return b + shift * elem;
}

static void test_alignment(void **state)
{
    (void)state;
    for (int k = 0; k < CALLS; k++) {
        replay_result want = first_result(k);
        const replay_call *c = &calls[k];
        for (size_t shift = 1; shift <= shifts; shift++) {
            replay_call s = *c;
            void *blocks[15];
            const size_t D8 = sizeof(double), F4 = sizeof(float);
            s.pc = shifted(c->pc, c->m, D8, shift, &blocks[0]);
            s.rc = shifted(c->rc, c->m, D8, shift, &blocks[1]);
            s.pr = shifted(c->pr, c->n, D8, shift, &blocks[2]);
            s.rr = shifted(c->rr, c->n, D8, shift, &blocks[3]);
            s.e = shifted(c->e, c->m * c->d, D8, shift, &blocks[4]);
            s.f = shifted(c->f, c->n * c->d, D8, shift, &blocks[5]);
            s.w = shifted(c->w, c->m * c->n, D8, shift, &blocks[6]);
            s.pc32 = shifted(c->pc32, c->m, F4, shift, &blocks[7]);
            s.rc32 = shifted(c->rc32, c->m, F4, shift, &blocks[8]);
            s.pr32 = shifted(c->pr32, c->n, F4, shift, &blocks[9]);
            s.rr32 = shifted(c->rr32, c->n, F4, shift, &blocks[10]);
            s.e32 = shifted(c->e32, c->m * c->d, F4, shift, &blocks[11]);
            s.f32 = shifted(c->f32, c->n * c->d, F4, shift, &blocks[12]);
            s.w32 = shifted(c->w32, c->m * c->n, F4, shift, &blocks[13]);

            /* outputs shifted by as many elements */
            size_t elem = c->entry % 2 == 1 ? F4 : D8;
            size_t bytes = replay_out_bytes(c);
            unsigned char *out = calloc(bytes + 8 * elem, 1);
            assert_non_null(out);
            blocks[14] = out;
            rpo_ctx *ctx = configured(c);
            replay_result got;
            memset(&got, 0, sizeof got);
            got.status = replay_invoke(ctx, &s, out + shift * elem);
            got.bytes = bytes;
            got.out = out + shift * elem;
            if (c->entry != REPLAY_WEIGHTS_F64 && c->entry != REPLAY_WEIGHTS_F32)
                for (int st = RPO_STAT_LOSS; st <= RPO_STAT_ACCURACY; st++)
                    assert_status(rpo_ctx_stat(ctx, st, &got.stats[st]), RPO_OK);
            char what[64];
            snprintf(what, sizeof what, "arrays shifted by %zu elements", shift);
            expect_same(what, k, &got, &want);
            rpo_ctx_free(ctx);
            for (int b = 0; b < 15; b++)
                free(blocks[b]);
        }
        replay_result_free(&want);
    }
}

static int setup(void **state)
{
    (void)state;
    repeats = replay_small() ? 2 : 4;
    shifts = replay_small() ? 3 : 7;
    make_calls();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int k = 0; k < CALLS; k++)
        replay_free(&calls[k]);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_after_run),
        cmocka_unit_test(test_context_after_context),
        cmocka_unit_test(test_grown_scratch),
        cmocka_unit_test(test_after_failed_call),
        cmocka_unit_test(test_alignment),
    };
    return cmocka_run_group_tests_name("determinism", tests, setup, teardown);
}
