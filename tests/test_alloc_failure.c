/*
 * Allocation failure, proven for every public function that takes a
 * context (as sqlite fails each allocation in turn): the suite is linked
 * against librpo.a with malloc, calloc, free and the pthread calls wrapped
 * (-Wl,--wrap=..., tests/tests.mk), so it can fail the k-th allocation a
 * call makes, for every k the call reaches. Each such call must:
 *   - return RPO_ERR_NOMEM, with a detail;
 *   - write nothing (every output byte keeps its sentinel);
 *   - leave the context's metrics as they were;
 *   - leave the context usable: the same call, with allocation allowed
 *     again, succeeds and gives the bytes of a call that never failed;
 *   - leak nothing: once the context is freed, every block allocated
 *     through the wrappers has been freed.
 * A failed pthread_create, pthread_mutex_init or pthread_cond_init is not
 * an error: the call runs on fewer workers and gives the same bytes
 * (rpo.h: results do not depend on the threads).
 * The entry points of 1.3 are here too: objectives (a term list, KTO),
 * token log-probs with their log-sum-exps and that backward, fused linear
 * log-probs and their backward, packed sequences both ways, related
 * batches.
 */
#include <pthread.h>
#include <stdlib.h>

#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* The wrappers. Armed with fail_at = k, the k-th allocation from then on
 * (0-based) fails; live counts the blocks not yet freed.                   */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void __real_free(void *p);
int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);
int __real_pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr);
int __real_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void __wrap_free(void *p);
int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg);
int __wrap_pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr);
int __wrap_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr);

static long fail_at = -1;      /* -1: never fail                           */
static long allocations;       /* allocations seen since the last arm()    */
static long live;              /* blocks allocated and not yet freed       */
/* What fails while set: a thread start, or the lock or the condition
 * variable the workers share (POSIX lets both fail for want of memory). */
enum { FAIL_NOTHING, FAIL_THREAD_START, FAIL_MUTEX_INIT, FAIL_COND_INIT };
static int fail_threads;

static void arm(long k)
{
    fail_at = k;
    allocations = 0;
}

static int should_fail(void)
{
    return allocations++ == fail_at;
}

void *__wrap_malloc(size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_malloc(size);
    if (p != NULL)
        live++;
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __real_calloc(count, size);
    if (p != NULL)
        live++;
    return p;
}

void __wrap_free(void *p)
{
    if (p != NULL)
        live--;
    __real_free(p);
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                          void *(*start)(void *), void *arg)
{
    if (fail_threads == FAIL_THREAD_START)
        return 11; /* EAGAIN, as when the system is out of threads */
    return __real_pthread_create(thread, attr, start, arg);
}

int __wrap_pthread_mutex_init(pthread_mutex_t *mutex, const pthread_mutexattr_t *attr)
{
    if (fail_threads == FAIL_MUTEX_INIT)
        return 12; /* ENOMEM */
    return __real_pthread_mutex_init(mutex, attr);
}

int __wrap_pthread_cond_init(pthread_cond_t *cond, const pthread_condattr_t *attr)
{
    if (fail_threads == FAIL_COND_INIT)
        return 12; /* ENOMEM */
    return __real_pthread_cond_init(cond, attr);
}

/* ------------------------------------------------------------------------ */
/* The problem every entry point takes: paired where a call needs it, with
 * M = N chosen and rejected rows of D features and T tokens over V words.
 * The allocation test runs a small one; the thread test one large enough
 * that the engine splits it over workers.                                  */

enum { MAX_MN = 256, MAX_D = 64, MAX_T = 32, MAX_V = 1024 };
/* One output slot holds the largest output: (M, D) or (T, V) doubles. */
enum { SLOT = (MAX_MN * MAX_D > MAX_T * MAX_V ? MAX_MN * MAX_D : MAX_T * MAX_V) * 8 };
enum { OUT_BYTES = 5 * SLOT };
#define SENTINEL 0xA5

static size_t M, N, D, T, V;
static double pc[MAX_MN], rc[MAX_MN], pr[MAX_MN], rr[MAX_MN], emb[MAX_MN * MAX_D];
static double logits_d[MAX_T * MAX_V], weights_d[MAX_MN * MAX_MN], dlogps_d[MAX_T];
static float pc_f[MAX_MN], rc_f[MAX_MN], pr_f[MAX_MN], rr_f[MAX_MN], emb_f[MAX_MN * MAX_D];
static float logits_f[MAX_T * MAX_V], weights_f[MAX_MN * MAX_MN], dlogps_f[MAX_T];
static int32_t targets[MAX_T];
static double lengths[MAX_MN];   /* SFT's token counts */
static double lse_d[MAX_T];      /* the rows' log-sum-exps, an input of 1.3's backward */

static void use_problem(size_t mn, size_t d, size_t t, size_t v)
{
    M = N = mn;
    D = d;
    T = t;
    V = v;
    for (size_t i = 0; i < mn; i++) {
        pc[i] = -10.0 - 3.0 * sin(1.3 * (double)i);
        rc[i] = pc[i] + 0.5 * cos(0.7 * (double)i);
        pr[i] = -11.0 - 2.0 * cos(1.1 * (double)i);
        rr[i] = pr[i] - 0.4 * sin(0.9 * (double)i);
    }
    for (size_t k = 0; k < mn * d; k++)
        emb[k] = sin(0.37 * (double)k + 0.2);
    for (size_t k = 0; k < mn * mn; k++)
        weights_d[k] = (k % (mn + 1) == 0 ? 0.5 : 0.5 / (double)mn);
    for (size_t k = 0; k < t * v; k++)
        logits_d[k] = 3.0 * sin(0.7 * (double)k);
    for (size_t k = 0; k < t; k++) {
        dlogps_d[k] = 0.5 - 0.25 * (double)(k % 5);
        targets[k] = k % 4 == 2 ? -1 : (int32_t)((k * 5) % v);
    }
    for (size_t i = 0; i < mn; i++) {
        pc_f[i] = (float)pc[i]; rc_f[i] = (float)rc[i];
        pr_f[i] = (float)pr[i]; rr_f[i] = (float)rr[i];
    }
    for (size_t k = 0; k < mn * d; k++)
        emb_f[k] = (float)emb[k];
    for (size_t k = 0; k < mn * mn; k++)
        weights_f[k] = (float)weights_d[k];
    for (size_t k = 0; k < t * v; k++)
        logits_f[k] = (float)logits_d[k];
    for (size_t k = 0; k < t; k++)
        dlogps_f[k] = (float)dlogps_d[k];
    for (size_t i = 0; i < mn; i++)
        lengths[i] = (double)(1 + i % 3);
    double logps[MAX_T];
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_token_logps_lse_f64(ctx, t, v, v, logits_d, targets, logps, lse_d), RPO_OK);
    rpo_ctx_free(ctx);
}

/* Each case calls one entry point, its outputs carved out of `out`. */
typedef int (*entry_call)(rpo_ctx *ctx, unsigned char *out);

#define OUT(type, k) ((type *)(void *)(out + (k) * SLOT))

static int loss_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_f64(ctx, M, pc, rc, N, pr, rr, D, emb, NULL,
                        OUT(double, 0), OUT(double, 1), OUT(double, 2));
}
static int loss_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_f32(ctx, M, pc_f, rc_f, N, pr_f, rr_f, D, emb_f, NULL,
                        OUT(float, 0), OUT(float, 1), OUT(float, 2));
}
static int weights_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_weights_f64(ctx, M, N, D, emb, emb, OUT(double, 0));
}
static int weights_f32_call(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_weights_f32(ctx, M, N, D, emb_f, emb_f, OUT(float, 0));
}
static int weighted_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_weighted_f64(ctx, M, pc, rc, N, pr, rr, weights_d,
                                 OUT(double, 0), OUT(double, 1), OUT(double, 2));
}
static int weighted_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_weighted_f32(ctx, M, pc_f, rc_f, N, pr_f, rr_f, weights_f,
                                 OUT(float, 0), OUT(float, 1), OUT(float, 2));
}
static int embed_grad_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_embed_grad_f64(ctx, M, pc, rc, N, pr, rr, D, emb, emb,
                                   OUT(double, 0), OUT(double, 1), OUT(double, 2),
                                   OUT(double, 3), OUT(double, 4));
}
static int embed_grad_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_embed_grad_f32(ctx, M, pc_f, rc_f, N, pr_f, rr_f, D, emb_f,
                                   emb_f, OUT(float, 0), OUT(float, 1),
                                   OUT(float, 2), OUT(float, 3), OUT(float, 4));
}
static int rows_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_rows_f64(ctx, M + 2, 1, M, pc, rc, N, pr, rr, D, emb, emb,
                             OUT(double, 0), OUT(double, 1), OUT(double, 2),
                             OUT(double, 3), OUT(double, 4));
}
static int rows_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_rows_f32(ctx, M + 2, 1, M, pc_f, rc_f, N, pr_f, rr_f, D,
                             emb_f, emb_f, OUT(float, 0), OUT(float, 1),
                             OUT(float, 2), OUT(float, 3), OUT(float, 4));
}
static int rows_weighted_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_rows_weighted_f64(ctx, M, 0, M, pc, rc, N, pr, rr,
                                      weights_d, OUT(double, 0), OUT(double, 1),
                                      OUT(double, 2));
}
static int rows_weighted_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_loss_rows_weighted_f32(ctx, M, 0, M, pc_f, rc_f, N, pr_f, rr_f,
                                      weights_f, OUT(float, 0), OUT(float, 1),
                                      OUT(float, 2));
}
static int tokens_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_f64(ctx, T, V, V, logits_d, targets, OUT(double, 0));
}
static int tokens_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_f32(ctx, T, V, V, logits_f, targets, OUT(float, 0));
}
static int tokens_backward_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_backward_f64(ctx, T, V, V, logits_d, targets, dlogps_d,
                                        OUT(double, 0));
}
static int tokens_backward_f32(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_backward_f32(ctx, T, V, V, logits_f, targets, dlogps_f,
                                        OUT(float, 0));
}

/* The entry points of 1.3. */
enum { LINEAR_H = 4 };   /* hidden (T, 4) from emb, the head (V, 4) from logits */
static const int64_t packed_offsets[3] = {0, 2, 5};   /* two sequences, T >= 5 */

static int objective_list_f64(rpo_ctx *ctx, unsigned char *out)
{
    static const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = M;
    b.n = N;
    b.d = D;
    b.policy_chosen = pc;
    b.ref_chosen = rc;
    b.policy_rejected = pr;
    b.ref_rejected = rr;
    b.chosen_emb = emb;
    b.chosen_lengths = lengths;
    b.terms = 2;
    b.term_losses = list;
    rpo_results_f64 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = OUT(double, 0);
    r.grad_chosen = OUT(double, 1);
    r.grad_rejected = OUT(double, 2);
    r.losses = OUT(double, 3);
    return rpo_objective_f64(ctx, &b, &r);
}
static int objective_kto_f64(rpo_ctx *ctx, unsigned char *out)
{
    static const int kto[1] = {RPO_LOSS_KTO};
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = M;
    b.n = N;
    b.policy_chosen = pc;
    b.ref_chosen = rc;
    b.policy_rejected = pr;
    b.ref_rejected = rr;
    b.terms = 1;
    b.term_losses = kto;
    rpo_results_f64 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = OUT(double, 0);
    r.grad_chosen = OUT(double, 1);
    r.grad_rejected = OUT(double, 2);
    r.losses = OUT(double, 3);
    return rpo_objective_f64(ctx, &b, &r);
}
static int tokens_lse_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_lse_f64(ctx, T, V, V, logits_d, targets, OUT(double, 0),
                                   OUT(double, 1));
}
static int tokens_backward_lse_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_token_logps_backward_lse_f64(ctx, T, V, V, logits_d, targets, lse_d, dlogps_d,
                                            OUT(double, 0), RPO_GRAD_OVERWRITE);
}
static int linear_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_linear_logps_f64(ctx, T, LINEAR_H, V, emb, logits_d, LINEAR_H, NULL, targets,
                                OUT(double, 0), OUT(double, 1));
}
static int linear_backward_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_linear_logps_backward_f64(ctx, T, LINEAR_H, V, emb, logits_d, LINEAR_H, NULL,
                                         targets, NULL, dlogps_d, OUT(double, 0),
                                         OUT(double, 1), NULL);
}
static int packed_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_packed_seq_logps_f64(ctx, 2, T, packed_offsets, dlogps_d, NULL, RPO_SEQ_MEAN,
                                    OUT(double, 0));
}
static int packed_backward_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_packed_seq_logps_backward_f64(ctx, 2, T, packed_offsets, NULL, RPO_SEQ_MEAN,
                                             pc, OUT(double, 0));
}
static int related_batches_f64(rpo_ctx *ctx, unsigned char *out)
{
    return rpo_related_batches_f64(ctx, M, D, emb, 2, 7, OUT(size_t, 0));
}

typedef struct entry_case {
    const char *name;
    entry_call call;
} entry_case;

#define CASE(f) {#f, f}
static const entry_case cases[] = {
    CASE(loss_f64),       CASE(loss_f32),         CASE(weights_f64),
    CASE(weights_f32_call), CASE(weighted_f64),   CASE(weighted_f32),
    CASE(embed_grad_f64), CASE(embed_grad_f32),   CASE(rows_f64),
    CASE(rows_f32),       CASE(rows_weighted_f64), CASE(rows_weighted_f32),
    CASE(tokens_f64),     CASE(tokens_f32),       CASE(tokens_backward_f64),
    CASE(tokens_backward_f32),
    CASE(objective_list_f64), CASE(objective_kto_f64), CASE(tokens_lse_f64),
    CASE(tokens_backward_lse_f64), CASE(linear_f64), CASE(linear_backward_f64),
    CASE(packed_f64), CASE(packed_backward_f64), CASE(related_batches_f64),
};
enum { CASE_COUNT = sizeof cases / sizeof cases[0] };

/* The settings each case runs under: the default (EMBEDDING weighting),
 * and on two threads, where a failed thread start must change nothing. */
static rpo_ctx *new_ctx(unsigned threads)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads), RPO_OK);
    return ctx;
}

static void assert_untouched(const char *name, long k, const unsigned char *out)
{
    for (size_t b = 0; b < (size_t)OUT_BYTES; b++)
        if (out[b] != SENTINEL)
            fail_msg("%s, allocation %ld failed: output byte %zu written", name, k, b);
}

static void assert_no_metrics(const char *name, const rpo_ctx *ctx)
{
    for (int s = RPO_STAT_LOSS; s <= RPO_STAT_ACCURACY; s++) {
        double v = -1.0;
        assert_status(rpo_ctx_stat(ctx, s, &v), RPO_OK);
        if (v != 0.0)
            fail_msg("%s: metric %d is %g after a failed call", name, s, v);
    }
}

/* Every allocation of every entry point, failed in turn. */
static void test_each_allocation_fails_cleanly(void **state)
{
    (void)state;
    static unsigned char want[OUT_BYTES], out[OUT_BYTES];
    use_problem(3, 4, 5, 7);
    int allocating = 0;
    for (int c = 0; c < CASE_COUNT; c++) {
        const long live_before = live;
        /* The call as it runs when memory is plentiful. */
        rpo_ctx *ctx = new_ctx(1);
        memset(want, SENTINEL, sizeof want);
        arm(-1);
        assert_status(cases[c].call(ctx, want), RPO_OK);
        const long needed = allocations;
        rpo_ctx_free(ctx);
        allocating += needed > 0;

        for (long k = 0; k < needed; k++) {
            ctx = new_ctx(1);
            memset(out, SENTINEL, sizeof out);
            arm(k);
            const int status = cases[c].call(ctx, out);
            arm(-1);
            if (status != RPO_ERR_NOMEM)
                fail_msg("%s, allocation %ld failed: status %d (%s)", cases[c].name,
                         k, status, rpo_status_string(status));
            if (rpo_ctx_error_detail(ctx)[0] == '\0')
                fail_msg("%s, allocation %ld failed: detail \"%s\"", cases[c].name, k,
                         rpo_ctx_error_detail(ctx));
            assert_untouched(cases[c].name, k, out);
            assert_no_metrics(cases[c].name, ctx);
            /* Still usable: the retry gives the bytes of the unfailed call. */
            assert_status(cases[c].call(ctx, out), RPO_OK);
            if (memcmp(out, want, sizeof out) != 0)
                fail_msg("%s: the call after a failed allocation differs", cases[c].name);
            rpo_ctx_free(ctx);
        }
        if (live != live_before)
            fail_msg("%s: %ld blocks leaked", cases[c].name, live - live_before);
    }
    /* Every loss and weights entry point takes scratch memory on a fresh
     * context; were none to allocate, this suite would prove nothing. */
    assert_true(allocating >= 12);
}

static void test_context_creation_fails_cleanly(void **state)
{
    (void)state;
    const long live_before = live;
    arm(0);
    rpo_ctx *ctx = rpo_ctx_create();
    arm(-1);
    assert_null(ctx);
    assert_int_equal(live, live_before);
}

/* No thread can start, or the workers' lock or condition variable cannot
 * be made: the call runs on the caller's thread alone, with the bytes of a
 * one-thread call. */
static void test_failed_thread_start_changes_nothing(void **state)
{
    (void)state;
    static unsigned char want[OUT_BYTES], out[OUT_BYTES];
    use_problem(MAX_MN, MAX_D, MAX_T, MAX_V);
    const char *what[] = {"", "a failed thread start", "a failed mutex init",
                          "a failed condition variable init"};
    for (int c = 0; c < CASE_COUNT; c++) {
        rpo_ctx *ctx = new_ctx(1);
        memset(want, SENTINEL, sizeof want);
        assert_status(cases[c].call(ctx, want), RPO_OK);
        rpo_ctx_free(ctx);

        for (int fail = FAIL_THREAD_START; fail <= FAIL_COND_INIT; fail++) {
            ctx = new_ctx(2);
            memset(out, SENTINEL, sizeof out);
            fail_threads = fail;
            const int status = cases[c].call(ctx, out);
            fail_threads = FAIL_NOTHING;
            assert_status(status, RPO_OK);
            if (memcmp(out, want, sizeof out) != 0)
                fail_msg("%s: %s changed the result", cases[c].name, what[fail]);
            rpo_ctx_free(ctx);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_allocation_fails_cleanly),
        cmocka_unit_test(test_context_creation_fails_cleanly),
        cmocka_unit_test(test_failed_thread_start_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
