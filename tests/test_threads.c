/*
 * Distinct contexts on distinct threads at once (rpo.h: "Distinct contexts
 * may be used from distinct threads at once").
 *
 * A set of calls covering every entry point, weighting, placement and
 * reduction, small and multi-block sizes, and some that must fail (NaN
 * input), is first run one by one on fresh contexts. Then several threads
 * each own a few contexts and replay every call, in an order of their own,
 * on contexts that switch settings and sizes between calls (so scratch
 * grows while other threads compute), several rounds over. Every result
 * must equal the single-threaded one byte for byte: status, outputs and
 * metrics. The threads share the (read-only) inputs. RPO_TEST_SMALL=1
 * (valgrind) runs fewer rounds.
 *
 * `make sanitize` also runs this suite under -fsanitize=thread. When the
 * build has RPO_PARAM_THREADS, half the calls also ask for two threads
 * inside the library.
 */
#include <pthread.h>
#include <stdio.h>

#include "replay.h"
#include "testutil.h"

enum { WORKERS = 4, CONTEXTS_PER_WORKER = 3, CALLS = 42 };

/* Rounds over the calls per worker; 2 when RPO_TEST_SMALL=1 (valgrind). */
static int rounds;

static replay_call calls[CALLS];
static replay_result expected[CALLS];

/* Call k: the entry point cycles fastest, then the weighting, the
 * placement; sizes from a generator seeded by k; every ninth call spans
 * several row blocks; every eleventh has a NaN among its log-probs. */
static void make_call(replay_call *c, int k, int library_threads)
{
    static const double betas[4] = {0.05, 0.1, 1.0, 10.0};
    static const double taus[3] = {0.1, 0.5, 2.0};
    static const double alphas[4] = {0.0, 0.5, 0.8, 1.0};
    uint64_t s = (uint64_t)k * 7919u + 17u;
    memset(c, 0, sizeof *c);
    c->entry = (replay_entry)(k % REPLAY_ENTRIES);
    c->weighting = (k / REPLAY_ENTRIES) % 3;
    c->placement = (k / (3 * REPLAY_ENTRIES)) % 3;
    c->reduction = k % 2;
    c->beta = betas[replay_next(&s) % 4];
    c->tau = taus[replay_next(&s) % 3];
    c->alpha = alphas[replay_next(&s) % 4];
    c->threads = library_threads > 1 && k % 2 == 1 ? 2 : 1;
    c->m = 1 + replay_next(&s) % 40;
    c->n = 1 + replay_next(&s) % 40;
    c->d = 1 + replay_next(&s) % 24;
    if (k % 9 == 0) {
        c->m = 300;
        c->n = 200;
    }
    c->paired = c->weighting == RPO_WEIGHTING_EMBEDDING && k % 4 == 0;
    if (c->weighting == RPO_WEIGHTING_DIAGONAL || c->paired)
        c->n = c->m;
    assert_int_equal(replay_build(c, (uint64_t)k + 1u), 0);
    if (k % 11 == 5) {
        c->pc[c->m / 2] = (double)NAN;
        c->pc32[c->m / 2] = NAN;
    }
}

static int nan_call(int k)
{
    int entry = k % REPLAY_ENTRIES;
    return k % 11 == 5 && entry != REPLAY_WEIGHTS_F64 && entry != REPLAY_WEIGHTS_F32;
}

/* 2 when the build lets a context use two threads itself, else 1. */
static int library_threads(void)
{
#ifdef RPO_PARAM_THREADS
    double lo, hi;
    if (rpo_param_bounds(RPO_PARAM_THREADS, &lo, &hi) == RPO_OK && hi >= 2.0)
        return 2;
#endif
    return 1;
}

typedef struct worker {
    int id;
    int mismatches;
    int first_mismatch;     /* call index, or -1 */
    int failures;           /* out of memory or settings refused */
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    rpo_ctx *ctx[CONTEXTS_PER_WORKER];
    for (int c = 0; c < CONTEXTS_PER_WORKER; c++) {
        ctx[c] = rpo_ctx_create();
        if (ctx[c] == NULL)
            w->failures++;
    }
    for (int round = 0; round < rounds && w->failures == 0; round++) {
        for (int idx = 0; idx < CALLS; idx++) {
            /* 5 is coprime with CALLS: a permutation per worker and round */
            int k = (idx * 5 + w->id * 11 + round * 3) % CALLS;
            rpo_ctx *c = ctx[(k + w->id + round) % CONTEXTS_PER_WORKER];
            replay_result r;
            if (replay_configure(c, &calls[k]) != RPO_OK ||
                replay_run(c, &calls[k], &r) != 0) {
                w->failures++;
                continue;
            }
            if (!replay_same(&r, &expected[k])) {
                if (w->mismatches++ == 0)
                    w->first_mismatch = k;
            }
            replay_result_free(&r);
        }
    }
    for (int c = 0; c < CONTEXTS_PER_WORKER; c++)
        rpo_ctx_free(ctx[c]);
    return NULL;
}

static void test_contexts_on_threads(void **state)
{
    (void)state;
    const int lib_threads = library_threads();
    rounds = replay_small() ? 2 : 6;
    for (int k = 0; k < CALLS; k++) {
        make_call(&calls[k], k, lib_threads);
        rpo_ctx *ctx = rpo_ctx_create();
        assert_non_null(ctx);
        assert_status(replay_configure(ctx, &calls[k]), RPO_OK);
        assert_int_equal(replay_run(ctx, &calls[k], &expected[k]), 0);
        assert_status(expected[k].status, nan_call(k) ? RPO_ERR_NONFINITE : RPO_OK);
        rpo_ctx_free(ctx);
    }

    pthread_t threads[WORKERS];
    worker workers[WORKERS];
    for (int t = 0; t < WORKERS; t++) {
        workers[t].id = t;
        workers[t].mismatches = 0;
        workers[t].first_mismatch = -1;
        workers[t].failures = 0;
        assert_int_equal(pthread_create(&threads[t], NULL, work, &workers[t]), 0);
    }
    for (int t = 0; t < WORKERS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < WORKERS; t++) {
        if (workers[t].failures != 0)
            fail_msg("worker %d: %d calls could not run", t, workers[t].failures);
        if (workers[t].mismatches != 0)
            fail_msg("worker %d: %d results differ from the single-threaded run "
                     "(first: call %d)", t, workers[t].mismatches,
                     workers[t].first_mismatch);
    }
    printf("# %d workers x %d contexts x %d rounds x %d calls, library threads %d\n",
           WORKERS, CONTEXTS_PER_WORKER, rounds, CALLS, lib_threads);
    for (int k = 0; k < CALLS; k++) {
        replay_result_free(&expected[k]);
        replay_free(&calls[k]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contexts_on_threads),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
