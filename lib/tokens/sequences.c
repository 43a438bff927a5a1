/*
 * Per-sequence log-probs from per-token ones under a mask, and the
 * backward (rpo_seq_logps_*, rpo_seq_logps_backward_*).
 *
 * These are pure functions: no context, no memory. The forward has B
 * results to hold back until every check has passed and nowhere to keep
 * them, so it makes two passes over the (B, T) token log-probs: one that
 * checks, one that computes and writes. Both are cheap next to the (T, V)
 * logits the token log-probs came from.
 */
#include "arrays.h"
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
