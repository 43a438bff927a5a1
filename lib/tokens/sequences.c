/*
 * Per-sequence log-probs from per-token ones under a mask, and the
 * backward (rpo_seq_logps_*, rpo_seq_logps_backward_*), for padded (B, T)
 * batches and for packed ones, sequences concatenated in one stream of T
 * tokens (rpo_packed_seq_logps_*, with a context for the details of bad
 * offsets and the scratch its results wait in).
 *
 * These are pure functions: no context, no memory. The forward has B
 * results to hold back until every check has passed and nowhere to keep
 * them, so it makes two passes over the (B, T) token log-probs: one that
 * checks, one that computes and writes. Both are cheap next to the (T, V)
 * logits the token log-probs came from.
 */
#include <inttypes.h>

#include "arrays.h"
#include "context.h"
#include "rpo.h"

typedef struct seq_call {
    size_t b, t;
    const uint8_t *mask;    /* (B, T) or NULL: every token counts */
    int reduce;             /* RPO_SEQ_*                          */
} seq_call;

static int is_counted(const seq_call *c, size_t k)
{
    return c->mask == NULL || c->mask[k] != 0;
}

static int validate_shape(const seq_call *c)
{
    if (rpo_mul_overflows(c->b, c->t))
        return RPO_ERR_SIZE;
    if (c->reduce != RPO_SEQ_SUM && c->reduce != RPO_SEQ_MEAN)
        return RPO_ERR_PARAM;
    return RPO_OK;
}

/* Row r's reduction into *value; returns 0 when a counted entry is NaN or
 * infinite. Entries that are not counted are not read. */
static int reduce_row(const seq_call *c, rpo_in x, size_t r, double *value)
{
    double sum = 0.0, finite = 0.0;
    size_t count = 0;
    for (size_t k = r * c->t; k < (r + 1) * c->t; k++) {
        if (!is_counted(c, k))
            continue;
        double e = rpo_in_at(x, k);
        finite += e - e;
        sum += e;
        count++;
    }
    if (c->reduce == RPO_SEQ_MEAN)
        sum = count > 0 ? sum / (double)count : 0.0;
    *value = sum;
    return finite == 0.0;
}

static int reduce_sequences(const seq_call *c, rpo_in token_logps,
                            rpo_out seq_logps)
{
    if (c->b == 0)
        return RPO_OK;
    if (seq_logps.data == NULL || (c->t > 0 && token_logps.data == NULL))
        return RPO_ERR_NULL_POINTER;
    int status = validate_shape(c);
    if (status != RPO_OK)
        return status;

    /* Pass one: checks only. NaN anywhere wins over a range problem. */
    int range = RPO_OK;
    for (size_t r = 0; r < c->b; r++) {
        double value;
        if (!reduce_row(c, token_logps, r, &value))
            return RPO_ERR_NONFINITE;
        if (!rpo_out_fits(seq_logps.type, &value, 1))
            range = RPO_ERR_RANGE;
    }
    if (range != RPO_OK)
        return range;
    /* Pass two: the same arithmetic, written. Row r's result lands at
     * index r <= r * T, so seq_logps may alias token_logps: what it
     * overwrites has been read already. */
    for (size_t r = 0; r < c->b; r++) {
        double value;
        (void)reduce_row(c, token_logps, r, &value);
        rpo_out_store(seq_logps, r, &value, 1);
    }
    return RPO_OK;
}

static int spread_sequences(const seq_call *c, rpo_in dseq, rpo_out dtoken)
{
    if (c->b == 0 || c->t == 0)
        return RPO_OK;
    if (dseq.data == NULL || dtoken.data == NULL)
        return RPO_ERR_NULL_POINTER;
    int status = validate_shape(c);
    if (status != RPO_OK)
        return status;
    if (!rpo_in_all_finite(dseq, 0, c->b))
        return RPO_ERR_NONFINITE;

    for (size_t r = 0; r < c->b; r++) {
        double scale = rpo_in_at(dseq, r);
        if (c->reduce == RPO_SEQ_MEAN) {
            size_t count = 0;
            for (size_t k = r * c->t; k < (r + 1) * c->t; k++)
                count += is_counted(c, k) ? 1u : 0u;
            scale = count > 0 ? scale / (double)count : 0.0;
        }
        const double zero = 0.0;
        for (size_t k = r * c->t; k < (r + 1) * c->t; k++)
            rpo_out_store(dtoken, k, is_counted(c, k) ? &scale : &zero, 1);
    }
    return RPO_OK;
}

static seq_call make_call(size_t b, size_t t, const uint8_t *mask, int reduce)
{
    seq_call c;
    c.b = b;
    c.t = t;
    c.mask = mask;
    c.reduce = reduce;
    return c;
}

int rpo_seq_logps_f32(size_t b, size_t t, const float *token_logps,
                      const uint8_t *mask, int reduce, float *seq_logps)
{
    seq_call c = make_call(b, t, mask, reduce);
    return reduce_sequences(&c, rpo_in_f32(token_logps), rpo_out_f32(seq_logps));
}

int rpo_seq_logps_f64(size_t b, size_t t, const double *token_logps,
                      const uint8_t *mask, int reduce, double *seq_logps)
{
    seq_call c = make_call(b, t, mask, reduce);
    return reduce_sequences(&c, rpo_in_f64(token_logps), rpo_out_f64(seq_logps));
}

int rpo_seq_logps_backward_f32(size_t b, size_t t, const uint8_t *mask,
                               int reduce, const float *dseq_logps,
                               float *dtoken_logps)
{
    seq_call c = make_call(b, t, mask, reduce);
    return spread_sequences(&c, rpo_in_f32(dseq_logps), rpo_out_f32(dtoken_logps));
}

int rpo_seq_logps_backward_f64(size_t b, size_t t, const uint8_t *mask,
                               int reduce, const double *dseq_logps,
                               double *dtoken_logps)
{
    seq_call c = make_call(b, t, mask, reduce);
    return spread_sequences(&c, rpo_in_f64(dseq_logps), rpo_out_f64(dtoken_logps));
}

/* ------------------------------------------------------------- packed */

typedef struct packed_call {
    size_t b, t;
    const int64_t *offsets;   /* (B + 1): sequence r is [offsets[r], offsets[r + 1]) */
    const uint8_t *mask;      /* (T) or NULL: every token counts                    */
    int reduce;
} packed_call;

static int packed_counted(const packed_call *c, size_t k)
{
    return c->mask == NULL || c->mask[k] != 0;
}

/* RPO_OK, or RPO_ERR_SIZE / RPO_ERR_PARAM with a detail. */
static int validate_packed(rpo_ctx *ctx, const packed_call *c)
{
    if (c->offsets[0] < 0)
        return rpo_fail(ctx, RPO_ERR_SIZE, "offsets[0] = %" PRId64 " is negative", c->offsets[0]);
    for (size_t r = 0; r < c->b; r++)
        if (c->offsets[r + 1] < c->offsets[r])
            return rpo_fail(ctx, RPO_ERR_SIZE,
                            "offsets[%zu] = %" PRId64 " is below offsets[%zu] = %" PRId64
                            ": offsets must not decrease", r + 1, c->offsets[r + 1], r, c->offsets[r]);
    if ((uint64_t)c->offsets[c->b] > (uint64_t)c->t)
        return rpo_fail(ctx, RPO_ERR_SIZE, "offsets[%zu] = %" PRId64 " passes T = %zu",
                        c->b, c->offsets[c->b], c->t);
    if (c->reduce != RPO_SEQ_SUM && c->reduce != RPO_SEQ_MEAN)
        return rpo_fail(ctx, RPO_ERR_PARAM, "reduce = %d is neither RPO_SEQ_SUM nor RPO_SEQ_MEAN",
                        c->reduce);
    return RPO_OK;
}

/* Tokens counted in sequence r. */
static size_t packed_count(const packed_call *c, size_t r)
{
    size_t count = 0;
    for (size_t k = (size_t)c->offsets[r]; k < (size_t)c->offsets[r + 1]; k++)
        count += packed_counted(c, k) ? 1u : 0u;
    return count;
}

static int reduce_packed(rpo_ctx *ctx, const packed_call *c, rpo_in token_logps,
                         rpo_out seq_logps)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (c->b == 0)
        return RPO_OK;
    if (c->offsets == NULL || seq_logps.data == NULL || (c->t > 0 && token_logps.data == NULL))
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "offsets, token_logps and seq_logps must not be NULL when B = %zu > 0", c->b);
    int status = validate_packed(ctx, c);
    if (status != RPO_OK)
        return status;
    rpo_scratch_plan plan = {0};
    const size_t at = rpo_scratch_add(&plan, c->b, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "no scratch for %zu sequences' results", c->b);
    double *result = rpo_scratch_at(ctx, at);

    for (size_t r = 0; r < c->b; r++) {
        double sum = 0.0;
        for (size_t k = (size_t)c->offsets[r]; k < (size_t)c->offsets[r + 1]; k++) {
            if (!packed_counted(c, k))
                continue;
            const double e = rpo_in_at(token_logps, k);
            if (!(e - e == 0.0))
                return rpo_fail(ctx, RPO_ERR_NONFINITE,
                                "token_logps[%zu] (sequence %zu) is NaN or infinite", k, r);
            sum += e;
        }
        const size_t count = packed_count(c, r);
        if (c->reduce == RPO_SEQ_MEAN)
            sum = count > 0 ? sum / (double)count : 0.0;
        result[r] = sum;
    }
    for (size_t r = 0; r < c->b; r++)
        if (!rpo_out_fits(seq_logps.type, &result[r], 1))
            return rpo_fail(ctx, RPO_ERR_RANGE, "sequence %zu's sum %g does not fit %s", r,
                            result[r], seq_logps.type == RPO_F32 ? "float32" : "float64");
    rpo_out_store(seq_logps, 0, result, c->b);
    return RPO_OK;
}

static int spread_packed(rpo_ctx *ctx, const packed_call *c, rpo_in dseq, rpo_out dtoken)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (c->t == 0)
        return RPO_OK;
    if (c->offsets == NULL || dtoken.data == NULL || (c->b > 0 && dseq.data == NULL))
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "offsets, dseq_logps and dtoken_logps must not be NULL when T = %zu > 0",
                        c->t);
    int status = validate_packed(ctx, c);
    if (status != RPO_OK)
        return status;
    /* The B scales first, in scratch: dtoken_logps may then overlap
     * dseq_logps, which is read in full before anything is written. */
    rpo_scratch_plan plan = {0};
    /* one more than B, so that B = 0 still has a region to point at */
    const size_t at = rpo_scratch_add(&plan, c->b + 1, sizeof(double));
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status, "no scratch for %zu sequences' gradients", c->b);
    double *scale = rpo_scratch_at(ctx, at);
    for (size_t r = 0; r < c->b; r++) {
        scale[r] = rpo_in_at(dseq, r);
        if (!(scale[r] - scale[r] == 0.0))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "dseq_logps[%zu] is NaN or infinite", r);
        if (c->reduce == RPO_SEQ_MEAN) {
            const size_t count = packed_count(c, r);
            scale[r] = count > 0 ? scale[r] / (double)count : 0.0;
        }
    }
    /* Every token is written: 0 unless counted in a sequence. */
    const double zero = 0.0;
    size_t k = 0;
    for (size_t r = 0; r < c->b; r++) {
        for (; k < (size_t)c->offsets[r]; k++)
            rpo_out_store(dtoken, k, &zero, 1);
        for (; k < (size_t)c->offsets[r + 1]; k++)
            rpo_out_store(dtoken, k, packed_counted(c, k) ? &scale[r] : &zero, 1);
    }
    for (; k < c->t; k++)
        rpo_out_store(dtoken, k, &zero, 1);
    return RPO_OK;
}

static packed_call make_packed(size_t b, size_t t, const int64_t *offsets,
                               const uint8_t *mask, int reduce)
{
    packed_call c;
    c.b = b;
    c.t = t;
    c.offsets = offsets;
    c.mask = mask;
    c.reduce = reduce;
    return c;
}

int rpo_packed_seq_logps_f32(rpo_ctx *ctx, size_t b, size_t t,
                             const int64_t *offsets, const float *token_logps,
                             const uint8_t *mask, int reduce, float *seq_logps)
{
    packed_call c = make_packed(b, t, offsets, mask, reduce);
    return reduce_packed(ctx, &c, rpo_in_f32(token_logps), rpo_out_f32(seq_logps));
}

int rpo_packed_seq_logps_f64(rpo_ctx *ctx, size_t b, size_t t,
                             const int64_t *offsets, const double *token_logps,
                             const uint8_t *mask, int reduce, double *seq_logps)
{
    packed_call c = make_packed(b, t, offsets, mask, reduce);
    return reduce_packed(ctx, &c, rpo_in_f64(token_logps), rpo_out_f64(seq_logps));
}

int rpo_packed_seq_logps_backward_f32(rpo_ctx *ctx, size_t b, size_t t,
                                      const int64_t *offsets, const uint8_t *mask,
                                      int reduce, const float *dseq_logps,
                                      float *dtoken_logps)
{
    packed_call c = make_packed(b, t, offsets, mask, reduce);
    return spread_packed(ctx, &c, rpo_in_f32(dseq_logps), rpo_out_f32(dtoken_logps));
}

int rpo_packed_seq_logps_backward_f64(rpo_ctx *ctx, size_t b, size_t t,
                                      const int64_t *offsets, const uint8_t *mask,
                                      int reduce, const double *dseq_logps,
                                      double *dtoken_logps)
{
    packed_call c = make_packed(b, t, offsets, mask, reduce);
    return spread_packed(ctx, &c, rpo_in_f64(dseq_logps), rpo_out_f64(dtoken_logps));
}
