/*
 * rpo_related_batches_* (librpo 1.3) under the fuzzer: arbitrary (P, D)
 * (and products overflowing size_t, with poisoned arrays), batch sizes
 * around 0, 1 and P, NULL pointers, any seed and hostile values. Held to
 * include/rpo.h's rules: the status is the one its "Errors" give, with a
 * detail on failure and "" on success; on error the order is untouched;
 * the embeddings are never written; settings and metrics are unchanged;
 * a success writes a permutation of 0 .. P-1, the same one on a context
 * running 3 threads.
 */
#include <stdint.h>
#include <string.h>

#include "values.h"

typedef struct batch_call {
    size_t p, d, b;
    uint64_t seed;
    int overflow, absent_in, absent_out, extra;
    values x;
} batch_call;

static batch_call take_batch_call(reader *r, int extra)
{
    batch_call c;
    memset(&c, 0, sizeof c);
    c.overflow = take_choice(r, 10) == 0;
    if (c.overflow) {
        take_overflowing(r, &c.p, &c.d);
    } else {
        c.p = take_small_size(r, 65);
        c.d = take_small_size(r, 17);
    }
    const size_t near[] = {0, 1, 2, 3, c.p, c.p + 1, c.p / 2, c.p - 1};
    const uint8_t how = take_u8(r);
    c.b = how < 192 ? near[how % 8] : (size_t)take_u64(r);
    c.seed = take_u64(r);
    const uint8_t ptrs = take_u8(r);
    c.absent_in = (ptrs & 0x07) == 0x07;
    c.absent_out = (ptrs & 0x38) == 0x38;
    c.extra = extra;
    c.x = take_values(r, c.overflow ? 0 : c.p * c.d, 1, extra);
    return c;
}

static int batch_status_allowed(const batch_call *c, int f32, int status)
{
    if (c->absent_in || c->absent_out)
        return status == RPO_ERR_NULL_POINTER;
    if (c->p == 0 || c->d == 0 || c->b == 0 || c->b > c->p ||
        mul_overflows(c->p, c->d))
        return status == RPO_ERR_SIZE;
    for (size_t k = 0; k < c->x.count; k++)
        if (!isfinite(value_at(&c->x, f32, k)))
            return status == RPO_ERR_NONFINITE;
    return status == RPO_OK;
}

/* One call in one precision on ctx; on success *order holds its result
 * (the caller frees it). */
static int run_batches(const batch_call *c, rpo_ctx *ctx, int f32, size_t **order)
{
    guarded in = place(&c->x, f32, c->overflow, c->absent_in);
    guarded out = c->absent_out ? guard_absent()
                  : c->overflow ? guard_poisoned()
                  : guard_output(c->p, sizeof(size_t));
    snapshot in_snap = snapshot_take(&in), out_snap = snapshot_take(&out);
    ctx_state before, after;
    observe(ctx, &before);
    const int status =
        f32 ? rpo_related_batches_f32(ctx, c->p, c->d, in.p, c->b, c->seed, out.p)
            : rpo_related_batches_f64(ctx, c->p, c->d, in.p, c->b, c->seed, out.p);
    observe(ctx, &after);
    CHECK(status_listed(status), "rpo_related_batches: unlisted status %d", status);
    if (!c->extra || f32)
        CHECK(batch_status_allowed(c, f32, status),
              "rpo_related_batches_%s P %zu D %zu B %zu: status %d (%s) breaks "
              "its rules", f32 ? "f32" : "f64", c->p, c->d, c->b, status,
              rpo_status_string(status));
    CHECK(snapshot_same(&in_snap, &in), "rpo_related_batches wrote the embeddings");
    CHECK(same_settings(&before, &after) && same_metrics(&before, &after),
          "rpo_related_batches changed the context's settings or metrics");
    CHECK((status == RPO_OK) == (rpo_ctx_error_detail(ctx)[0] == '\0'),
          "status %d with detail \"%s\"", status, rpo_ctx_error_detail(ctx));
    *order = NULL;
    if (status != RPO_OK) {
        CHECK(snapshot_same(&out_snap, &out), "a refused call wrote the order");
    } else {
        *order = malloc(c->p * sizeof **order);
        if (*order == NULL)
            guard_fail_alloc();
        memcpy(*order, out.p, c->p * sizeof **order);
        unsigned char *seen = calloc(c->p, 1);
        if (seen == NULL)
            guard_fail_alloc();
        for (size_t k = 0; k < c->p; k++) {
            const size_t i = (*order)[k];
            CHECK(i < c->p && !seen[i], "order[%zu] = %zu: not a permutation", k, i);
            seen[i] = 1;
        }
        free(seen);
    }
    snapshot_free(&in_snap);
    snapshot_free(&out_snap);
    guard_free(&in);
    guard_free(&out);
    return status;
}

void op_related_batches(reader *r, rpo_ctx *ctx)
{
    const int extra = take_choice(r, 4) == 0;
    batch_call c = take_batch_call(r, extra);
    size_t *order32 = NULL, *order64 = NULL, *threaded = NULL;
    const int s32 = run_batches(&c, ctx, 1, &order32);
    const int s64 = run_batches(&c, ctx, 0, &order64);
    if (!extra)
        CHECK(s32 == s64, "rpo_related_batches: f32 status %d, f64 status %d",
              s32, s64);
    if (s64 == RPO_OK) {
        rpo_ctx *other = rpo_ctx_create();
        CHECK(other != NULL, "rpo_ctx_create failed");
        CHECK(rpo_ctx_set(other, RPO_PARAM_THREADS, 3) == RPO_OK, "threads 3");
        CHECK(run_batches(&c, other, 0, &threaded) == RPO_OK,
              "rpo_related_batches failed on another context");
        CHECK(memcmp(threaded, order64, c.p * sizeof *threaded) == 0,
              "rpo_related_batches: another order on 3 threads");
        rpo_ctx_free(other);
    }
    free(threaded);
    free(order64);
    free(order32);
    free_values(&c.x);
}
