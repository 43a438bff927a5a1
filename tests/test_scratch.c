/*
 * The scratch arena (lib/context/scratch.c), against its own contract:
 *
 *   - in every build, a plan's offsets are those of the 1.2 layout when
 *     no sanitizer is on (each region rounded up to RPO_ALIGN, one after
 *     the other; copies of a worker's plan as one region of count x its
 *     bytes), so release results cannot move;
 *   - under AddressSanitizer (make sanitize-asan-clang, -gcc), writing one
 *     element past a region is reported as a use-after-poison, in a child
 *     process whose exit status and message are checked: past a plain
 *     region, past a worker's region into the next worker's copy, and past
 *     a region that a previous, larger plan had left unpoisoned. Writing
 *     the region's last element is not reported.
 *
 * The suite reaches into lib/ (context.h), so it links librpo.a and sees
 * the library's headers (tests/tests.mk).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "context.h"

/* The offsets of 1.2's arena: a region of count x elem bytes takes the
 * next multiple of RPO_ALIGN. */
static size_t aligned(size_t bytes)
{
    return (bytes + RPO_ALIGN - 1) / RPO_ALIGN * RPO_ALIGN;
}

static void test_release_layout(void **state)
{
    (void)state;
    rpo_scratch_plan plan = {0};
    const size_t a = rpo_scratch_add(&plan, 3, sizeof(double));
    const size_t b = rpo_scratch_add(&plan, 8, sizeof(double));
    const size_t c = rpo_scratch_add(&plan, 0, sizeof(double));
    rpo_scratch_plan worker = {0};
    (void)rpo_scratch_add(&worker, 5, sizeof(float));
    (void)rpo_scratch_add(&worker, 100, 1);
    const size_t workers = rpo_scratch_add_copies(&plan, 3, &worker);
    assert_int_equal(plan.overflow, 0);
    if (RPO_SCRATCH_REDZONES) {
        /* red zones only add room: every region starts after the last
         * one's end, aligned */
        assert_true(b >= a + aligned(3 * sizeof(double)));
        assert_true(c >= b + aligned(8 * sizeof(double)));
        assert_true(workers >= c);
        assert_true(worker.bytes >= aligned(5 * sizeof(float)) + aligned(100));
        assert_true(plan.bytes >= workers + 3 * worker.bytes);
        assert_int_equal(b % RPO_ALIGN, 0);
        assert_int_equal(workers % RPO_ALIGN, 0);
    } else {
        assert_int_equal(a, 0);
        assert_int_equal(b, aligned(3 * sizeof(double)));
        assert_int_equal(c, b + aligned(8 * sizeof(double)));
        assert_int_equal(workers, c);
        assert_int_equal(worker.bytes, aligned(5 * sizeof(float)) + aligned(100));
        assert_int_equal(plan.bytes, workers + 3 * worker.bytes);
    }

    /* An overflowing worker plan makes the whole plan overflow. */
    rpo_scratch_plan huge = {0};
    (void)rpo_scratch_add(&huge, SIZE_MAX / 2, 4);
    assert_int_equal(huge.overflow, 1);
    rpo_scratch_plan outer = {0};
    (void)rpo_scratch_add_copies(&outer, 2, &huge);
    assert_int_equal(outer.overflow, 1);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_int_equal(rpo_scratch_reserve(ctx, &outer), RPO_ERR_SIZE);
    rpo_ctx_free(ctx);
}

#if RPO_SCRATCH_REDZONES
#include <sys/wait.h>
#include <unistd.h>

/* Runs write_at(ctx) in a child process with its stderr captured; returns
 * its exit status (or 128 + the signal) and copies what it printed. */
typedef void (*scratch_writer)(rpo_ctx *ctx);

static int run_child(scratch_writer write_at, char *out, size_t out_size)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        rpo_ctx *ctx = rpo_ctx_create();
        if (ctx == NULL)
            _exit(3);
        write_at(ctx);
        _exit(0);    /* survived: nothing was reported */
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t got;
    while ((got = read(fds[0], out + used, out_size - 1 - used)) > 0) {
        used += (size_t)got;
        if (used == out_size - 1)
            break;
    }
    out[used] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Stores through a volatile pointer so the write happens as written. */
static void store(double *p, size_t index, double value)
{
    volatile double *v = p;
    v[index] = value;
}

/* Two regions of 3 doubles; index k of the first is written. */
static void two_regions_write(rpo_ctx *ctx, size_t k)
{
    rpo_scratch_plan plan = {0};
    const size_t first = rpo_scratch_add(&plan, 3, sizeof(double));
    (void)rpo_scratch_add(&plan, 3, sizeof(double));
    if (rpo_scratch_reserve(ctx, &plan) != RPO_OK)
        _exit(4);
    store(rpo_scratch_at(ctx, first), k, 1.0);
}
static void write_last(rpo_ctx *ctx) { two_regions_write(ctx, 2); }
static void write_one_past(rpo_ctx *ctx) { two_regions_write(ctx, 3); }

/* Three workers' copies of a plan of two regions of 8 doubles (a whole
 * number of cache lines: no rounding slack); worker 0's second region is
 * overrun by one element, towards worker 1's first. */
static void write_past_worker(rpo_ctx *ctx)
{
    rpo_scratch_plan worker = {0};
    (void)rpo_scratch_add(&worker, 8, sizeof(double));
    const size_t second = rpo_scratch_add(&worker, 8, sizeof(double));
    rpo_scratch_plan plan = {0};
    const size_t base = rpo_scratch_add_copies(&plan, 3, &worker);
    if (rpo_scratch_reserve(ctx, &plan) != RPO_OK)
        _exit(4);
    double *worker0 = rpo_scratch_at(ctx, base + 0 * worker.bytes + second);
    store(worker0, 7, 1.0);          /* its last element: fine */
    double *worker1 = rpo_scratch_at(ctx, base + 1 * worker.bytes);
    store(worker1, 0, 1.0);          /* the next copy's first: fine */
    store(worker0, 8, 1.0);          /* one past: reported */
}

/* A first plan with one large region leaves the arena unpoisoned there;
 * a second plan of two small regions in the same memory must poison the
 * gap again. */
static void write_past_after_replan(rpo_ctx *ctx)
{
    rpo_scratch_plan large = {0};
    const size_t whole = rpo_scratch_add(&large, 64, sizeof(double));
    if (rpo_scratch_reserve(ctx, &large) != RPO_OK)
        _exit(4);
    store(rpo_scratch_at(ctx, whole), 20, 1.0);
    rpo_scratch_plan small = {0};
    const size_t first = rpo_scratch_add(&small, 8, sizeof(double));
    (void)rpo_scratch_add(&small, 8, sizeof(double));
    if (rpo_scratch_reserve(ctx, &small) != RPO_OK)
        _exit(4);
    store(rpo_scratch_at(ctx, first), 8, 1.0);
}

static void expect_report(scratch_writer write_at)
{
    char out[8192];
    const int status = run_child(write_at, out, sizeof out);
    if (status == 0 || strstr(out, "use-after-poison") == NULL)
        fail_msg("expected ASan's use-after-poison report, got exit %d:\n%s",
                 status, out);
}

static void test_overrun_reported(void **state)
{
    (void)state;
    char out[8192];
    const int status = run_child(write_last, out, sizeof out);
    if (status != 0)
        fail_msg("writing a region's last element was reported (exit %d):\n%s",
                 status, out);
    expect_report(write_one_past);
}

static void test_worker_overrun_reported(void **state)
{
    (void)state;
    expect_report(write_past_worker);
}

static void test_replan_poisons_again(void **state)
{
    (void)state;
    expect_report(write_past_after_replan);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_layout),
#if RPO_SCRATCH_REDZONES
        cmocka_unit_test(test_overrun_reported),
        cmocka_unit_test(test_worker_overrun_reported),
        cmocka_unit_test(test_replan_poisons_again),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
