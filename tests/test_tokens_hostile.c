/*
 * The token-level helpers under hostile arguments the fuzzer found
 * mishandled (tests/fuzz/tokens.c, sequences.c), as plain regression tests:
 *   - (T, stride) or (B, T) whose product overflows size_t fails with
 *     RPO_ERR_SIZE before anything is read: the arrays end at an
 *     inaccessible page, so a single read past their one element crashes;
 *   - rpo_token_logps_backward_* leaves rows with a negative target alone
 *     whatever their dlogps, NaN and infinity included, as the header says.
 */
#include <fcntl.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logits_shape_overflow_reads_nothing),
        cmocka_unit_test(test_sequence_shape_overflow_reads_nothing),
        cmocka_unit_test(test_backward_ignores_dlogps_of_rows_without_token),
    };
    return cmocka_run_group_tests_name("tokens_hostile", tests, NULL, NULL);
}
