/*
 * The sequence helpers of librpo 1.1 under the fuzzer: rpo_seq_logps_* and
 * rpo_seq_logps_backward_*, with arbitrary (B, T) (and products overflowing
 * size_t, with poisoned arrays), masks (absent, 0/1, any nonzero byte),
 * reductions (SUM, MEAN, any int), NULL pointers and hostile values (see
 * values.h for the rules every call is held to). Here besides: unmasked
 * entries are never read; sums and means match long double ones; the
 * backward writes every entry, the exact share or 0.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "values.h"

typedef struct seq_call {
    size_t b, t;
    int overflow;
    values x;                 /* token_logps (B, T), or dseq_logps (B)   */
    uint8_t *mask;            /* (B, T) or NULL                          */
    int reduce;
    int absent_in, absent_out, extra;
} seq_call;

static seq_call take_seq_call(reader *r, int backward, int extra)
{
    seq_call c;
    memset(&c, 0, sizeof c);
    c.overflow = take_choice(r, 10) == 0;
    if (c.overflow) {
        take_overflowing(r, &c.b, &c.t);
    } else {
        c.b = take_small_size(r, 65);
        c.t = take_small_size(r, 65);
    }
    /* the reduction: mostly SUM or MEAN, sometimes any int */
    uint8_t how = take_u8(r);
    c.reduce = how < 224 ? (int)(how & 1) : (int)take_u32(r);
    /* no mask (1 in 4), a NULL input or output (1 in 8 each) */
    uint8_t ptrs = take_u8(r);
    const int no_mask = (ptrs & 0x03) == 0;
    c.absent_in = (ptrs & 0x1c) == 0x1c;
    c.absent_out = (ptrs & 0xe0) == 0xe0;
    c.extra = extra;
    const size_t cells = c.overflow ? 0 : c.b * c.t;
    c.x = take_values(r, backward ? (c.overflow ? 0 : c.b) : cells, 0, extra);
    if (!no_mask) {
        c.mask = malloc(cells ? cells : 1);
        if (c.mask == NULL)
            guard_fail_alloc();
        for (size_t k = 0; k < cells; k++) {
            uint8_t m = take_u8(r);
            c.mask[k] = m < 160 ? (uint8_t)(m & 1) : m; /* any nonzero counts */
        }
    }
    return c;
}

static void free_seq_call(seq_call *c)
{
    free_values(&c->x);
    free(c->mask);
}

static guarded place_mask(const seq_call *c)
{
    if (c->mask == NULL)
        return guard_absent();
    if (c->overflow)
        return guard_poisoned();
    return guard_copy(c->mask, c->b * c->t, 1);
}

static int masked(const seq_call *c, size_t k)
{
    return c->mask == NULL || c->mask[k] != 0;
}

static int reduce_known(int reduce)
{
    return reduce == RPO_SEQ_SUM || reduce == RPO_SEQ_MEAN;
}

/* The statuses rpo_seq_logps_* may return. */
static int seq_status_allowed(const seq_call *c, int f32, int status)
{
    if (c->b == 0) /* succeeds, writes nothing (an unknown reduce may be refused) */
        return status == RPO_OK || (!reduce_known(c->reduce) && status == RPO_ERR_PARAM);
    if (c->absent_out || (c->t > 0 && c->absent_in))
        return status == RPO_ERR_NULL_POINTER;
    if (mul_overflows(c->b, c->t))
        return status == RPO_ERR_SIZE;
    if (!reduce_known(c->reduce))
        return status == RPO_ERR_PARAM;
    int nonfinite = 0;
    double reach = 0.0; /* the largest sum of masked magnitudes of a row */
    for (size_t i = 0; i < c->b; i++) {
        double row = 0.0;
        for (size_t k = 0; k < c->t; k++)
            if (masked(c, i * c->t + k)) {
                double x = value_at(&c->x, f32, i * c->t + k);
                nonfinite |= !isfinite(x);
                row += fabs(x);
            }
        reach = fmax(reach, row);
    }
    if (nonfinite)
        return status == RPO_ERR_NONFINITE;
    if (status == RPO_ERR_RANGE)
        return reach >= type_max(f32) * 0.5;
    return status == RPO_OK;
}

/* Runs rpo_seq_logps_* in one precision, seq_logps aliasing token_logps
 * when `alias`; returns the status and the B results of a success. */
static int run_seq(const seq_call *c, int f32, int alias, double **result)
{
    guarded in = place(&c->x, f32, c->overflow, c->absent_in);
    guarded mask = place_mask(c);
    guarded out = c->absent_out ? guard_absent()
                  : c->overflow ? guard_poisoned()
                  : guard_output(c->b, f32 ? sizeof(float) : sizeof(double));
    int aliased = alias && !c->overflow && in.p != NULL && out.p != NULL &&
                  in.bytes >= out.bytes;
    if (aliased) {
        guard_free(&out);
        out = in;
    }
    snapshot in_snap = snapshot_take(&in), mask_snap = snapshot_take(&mask);
    snapshot out_snap = snapshot_take(&out);
    int status = f32 ? rpo_seq_logps_f32(c->b, c->t, in.p, mask.p, c->reduce, out.p)
                     : rpo_seq_logps_f64(c->b, c->t, in.p, mask.p, c->reduce, out.p);
    CHECK(status_listed(status), "rpo_seq_logps: unlisted status %d", status);
    if (!c->extra || f32)
        CHECK(seq_status_allowed(c, f32, status),
              "rpo_seq_logps_%s B %zu T %zu reduce %d: status %d (%s) breaks its rules",
              f32 ? "f32" : "f64", c->b, c->t, c->reduce, status, rpo_status_string(status));
    CHECK(snapshot_same(&mask_snap, &mask), "rpo_seq_logps wrote the mask");
    if (!aliased || status != RPO_OK)
        CHECK(snapshot_same(&in_snap, &in), "rpo_seq_logps wrote token_logps");
    if (status != RPO_OK) {
        CHECK(snapshot_same(&out_snap, &out), "rpo_seq_logps wrote on error %d", status);
    } else if (c->b > 0) {
        double *got = malloc(c->b * sizeof *got);
        if (got == NULL)
            guard_fail_alloc();
        for (size_t i = 0; i < c->b; i++) {
            long double sum = 0.0L, scale = 0.0L;
            size_t count = 0;
            for (size_t k = 0; k < c->t; k++)
                if (masked(c, i * c->t + k)) {
                    long double x = (long double)value_at(&c->x, f32, i * c->t + k);
                    sum += x;
                    scale += fabsl(x);
                    count++;
                }
            if (c->reduce == RPO_SEQ_MEAN && count > 0) {
                sum /= (long double)count;
                scale /= (long double)count;
            }
            got[i] = at(&out, f32, i);
            double tol = (1e-12 + 4.0 * (double)(c->t + 1) * 0x1p-53) * (double)scale +
                         (f32 ? 0x1p-23 * fabs((double)sum) + 0x1p-149 : 0.0);
            CHECK(isfinite(got[i]) && fabs(got[i] - (double)sum) <= tol,
                  "seq_logps[%zu] = %.17g, want %.17Lg", i, got[i], sum);
        }
        if (result != NULL)
            *result = got;
        else
            free(got);
    }
    snapshot_free(&in_snap);
    snapshot_free(&mask_snap);
    snapshot_free(&out_snap);
    if (!aliased)
        guard_free(&out);
    guard_free(&in);
    guard_free(&mask);
    return status;
}

void op_seq_logps(reader *r)
{
    const unsigned precision = take_choice(r, 3);
    seq_call c = take_seq_call(r, 0, precision == 0 && take_choice(r, 8) == 0);
    const int alias = precision != 2 && take_choice(r, 4) == 0;
    double *s64 = NULL, *s32 = NULL;
    int st64 = 0, st32 = 0;
    if (precision != 1)
        st64 = run_seq(&c, 0, 0, &s64);
    if (precision != 0)
        st32 = run_seq(&c, 1, 0, &s32);
    if (precision == 2) {
        /* float32 sums are the float64 ones rounded once, or RPO_ERR_RANGE
         * exactly when one of those lies beyond FLT_MAX */
        CHECK(st64 == st32 || (st64 == RPO_OK && st32 == RPO_ERR_RANGE),
              "rpo_seq_logps: float64 status %d, float32 %d", st64, st32);
        double top = 0.0;
        for (size_t i = 0; st64 == RPO_OK && i < c.b; i++)
            top = fmax(top, fabs(s64[i]));
        if (st64 == RPO_OK && st32 == RPO_ERR_RANGE)
            CHECK(top >= (double)FLT_MAX * (1.0 - 1e-6),
                  "rpo_seq_logps_f32 RPO_ERR_RANGE though every float64 sum (max %.9g) fits",
                  top);
        if (st64 == RPO_OK && st32 == RPO_OK) {
            CHECK(top <= (double)FLT_MAX * (1.0 + 1e-6),
                  "rpo_seq_logps_f32 succeeded though a float64 sum is %.9g", top);
            for (size_t i = 0; i < c.b; i++)
                CHECK(fabs(s64[i] - s32[i]) <= 1e-5 * fmax(1.0, fabs(s64[i])),
                      "seq_logps[%zu]: float64 %.17g float32 %.17g", i, s64[i], s32[i]);
        }
    }
    if (alias) {
        double *again = NULL;
        int f32 = precision == 1;
        int st = run_seq(&c, f32, 1, &again);
        CHECK(st == (f32 ? st32 : st64), "aliased seq_logps: status %d, separate %d",
              st, f32 ? st32 : st64);
        const double *first = f32 ? s32 : s64;
        for (size_t i = 0; st == RPO_OK && i < c.b; i++)
            CHECK(memcmp(&again[i], &first[i], sizeof(double)) == 0,
                  "aliased seq_logps[%zu] = %.17g, separate %.17g", i, again[i], first[i]);
        free(again);
    }
    free(s64);
    free(s32);
    free_seq_call(&c);
}

static int seq_backward_status_allowed(const seq_call *c, int f32, int status)
{
    if (c->b == 0 || c->t == 0) /* succeeds, writes nothing */
        return status == RPO_OK || (!reduce_known(c->reduce) && status == RPO_ERR_PARAM);
    if (c->absent_in || c->absent_out)
        return status == RPO_ERR_NULL_POINTER;
    if (mul_overflows(c->b, c->t))
        return status == RPO_ERR_SIZE;
    if (!reduce_known(c->reduce))
        return status == RPO_ERR_PARAM;
    int nonfinite_used = 0, nonfinite_unused = 0;
    for (size_t i = 0; i < c->b; i++) {
        if (isfinite(value_at(&c->x, f32, i)))
            continue;
        size_t count = 0;
        for (size_t k = 0; k < c->t; k++)
            count += masked(c, i * c->t + k) ? 1u : 0u;
        if (count > 0)
            nonfinite_used = 1;
        else
            nonfinite_unused = 1;
    }
    if (nonfinite_used)
        return status == RPO_ERR_NONFINITE;
    if (nonfinite_unused && status == RPO_ERR_NONFINITE)
        return 1; /* "NaN or infinity in dseq_logps", even where unused */
    return status == RPO_OK;
}

static void run_seq_backward(const seq_call *c, int f32)
{
    guarded in = place(&c->x, f32, c->overflow, c->absent_in);
    guarded mask = place_mask(c);
    guarded out = c->absent_out ? guard_absent()
                  : c->overflow ? guard_poisoned()
                  : guard_output(c->b * c->t, f32 ? sizeof(float) : sizeof(double));
    snapshot in_snap = snapshot_take(&in), mask_snap = snapshot_take(&mask);
    snapshot out_snap = snapshot_take(&out);
    int status = f32 ? rpo_seq_logps_backward_f32(c->b, c->t, mask.p, c->reduce, in.p, out.p)
                     : rpo_seq_logps_backward_f64(c->b, c->t, mask.p, c->reduce, in.p, out.p);
    CHECK(status_listed(status), "rpo_seq_logps_backward: unlisted status %d", status);
    if (!c->extra || f32)
        CHECK(seq_backward_status_allowed(c, f32, status),
              "rpo_seq_logps_backward_%s B %zu T %zu reduce %d: status %d (%s) breaks "
              "its rules", f32 ? "f32" : "f64", c->b, c->t, c->reduce, status,
              rpo_status_string(status));
    CHECK(snapshot_same(&in_snap, &in) && snapshot_same(&mask_snap, &mask),
          "rpo_seq_logps_backward wrote an input");
    if (status != RPO_OK || c->b == 0 || c->t == 0) {
        CHECK(snapshot_same(&out_snap, &out), "rpo_seq_logps_backward wrote with status "
              "%d (B %zu, T %zu)", status, c->b, c->t);
    } else {
        for (size_t i = 0; i < c->b; i++) {
            size_t count = 0;
            for (size_t k = 0; k < c->t; k++)
                count += masked(c, i * c->t + k) ? 1u : 0u;
            double d = value_at(&c->x, f32, i);
            double share = c->reduce == RPO_SEQ_MEAN && count > 0 ? d / (double)count : d;
            if (f32)
                share = (double)(float)share;
            for (size_t k = 0; k < c->t; k++) {
                double got = at(&out, f32, i * c->t + k);
                double want = masked(c, i * c->t + k) ? share : 0.0;
                CHECK(fabs(got - want) <= (f32 ? 0x1p-23 : 0x1p-52) * fabs(want),
                      "dtoken_logps[%zu][%zu] = %.17g, want %.17g", i, k, got, want);
            }
        }
    }
    snapshot_free(&in_snap);
    snapshot_free(&mask_snap);
    snapshot_free(&out_snap);
    guard_free(&out);
    guard_free(&in);
    guard_free(&mask);
}

void op_seq_logps_backward(reader *r)
{
    const unsigned precision = take_choice(r, 3);
    seq_call c = take_seq_call(r, 1, precision == 0 && take_choice(r, 8) == 0);
    if (precision != 1)
        run_seq_backward(&c, 0);
    if (precision != 0)
        run_seq_backward(&c, 1);
    free_seq_call(&c);
}

/* ------------------------------------------------------------------------ */
/* 1.3: rpo_packed_seq_logps_* and the backward */

/* B + 1 offsets into T tokens: mostly a valid cu_seqlens, sometimes one
 * entry replaced by anything (out of order, negative, past T). */
static int64_t *take_offsets(reader *r, size_t b, size_t t)
{
    int64_t *o = malloc((b + 1) * sizeof *o);
    if (o == NULL)
        guard_fail_alloc();
    o[0] = (int64_t)take_choice(r, 3) % (int64_t)(t + 1);
    for (size_t k = 1; k <= b; k++) {
        int64_t step = (int64_t)take_choice(r, 9);
        o[k] = o[k - 1] + step > (int64_t)t ? (int64_t)t : o[k - 1] + step;
    }
    if (take_choice(r, 6) == 0) {
        static const int64_t odd[] = {-1, INT64_MIN, INT64_MAX, 1, 0, 70};
        o[take_choice(r, (unsigned)b + 1)] = odd[take_choice(r, 6)];
    }
    return o;
}

static int offsets_valid(const int64_t *o, size_t b, size_t t)
{
    if (o[0] < 0 || (uint64_t)o[b] > (uint64_t)t)
        return 0;
    for (size_t k = 0; k < b; k++)
        if (o[k + 1] < o[k])
            return 0;
    return 1;
}

void op_packed_seq(reader *r, rpo_ctx *ctx)
{
    const size_t b = take_small_size(r, 9), t = take_small_size(r, 65);
    const int f32 = take_choice(r, 2) == 0;
    const size_t elem = f32 ? sizeof(float) : sizeof(double);
    int64_t *offsets = take_offsets(r, b, t);
    uint8_t how = take_u8(r);
    const int reduce = how < 240 ? (int)(how & 1) : (int)take_u32(r);
    values x = take_values(r, t, 0, 0), dseq = take_values(r, b, 0, 0);
    uint8_t *mask = NULL;
    if (take_choice(r, 4) != 0) {
        mask = malloc(t ? t : 1);
        if (mask == NULL)
            guard_fail_alloc();
        for (size_t k = 0; k < t; k++)
            mask[k] = (uint8_t)(take_u8(r) & 1);
    }
    const int valid = offsets_valid(offsets, b, t);
    const int known = reduce == RPO_SEQ_SUM || reduce == RPO_SEQ_MEAN;

    guarded in = place(&x, f32, 0, 0), out = guard_output(b, elem);
    snapshot out_snap = snapshot_take(&out);
    int st = f32 ? rpo_packed_seq_logps_f32(ctx, b, t, offsets, in.p, mask, reduce, out.p)
                 : rpo_packed_seq_logps_f64(ctx, b, t, offsets, in.p, mask, reduce, out.p);
    CHECK(status_listed(st), "rpo_packed_seq_logps: unlisted status %d", st);
    if (b > 0 && !valid)
        CHECK(st == RPO_ERR_SIZE, "bad offsets: status %d", st);
    else if (b > 0 && !known)
        CHECK(st == RPO_ERR_PARAM, "reduce %d: status %d", reduce, st);
    if (st != RPO_OK) {
        CHECK(snapshot_same(&out_snap, &out), "rpo_packed_seq_logps wrote on error %d", st);
    } else {
        for (size_t s = 0; s < b; s++) {
            long double sum = 0.0L, size = 0.0L;   /* size: sum of |x|, the condition */
            size_t count = 0;
            for (int64_t k = offsets[s]; k < offsets[s + 1]; k++)
                if (mask == NULL || mask[k]) {
                    sum += (long double)value_at(&x, f32, (size_t)k);
                    size += fabsl((long double)value_at(&x, f32, (size_t)k));
                    count++;
                }
            if (reduce == RPO_SEQ_MEAN && count) {
                sum /= (long double)count;
                size /= (long double)count;
            }
            const double got = at(&out, f32, s);
            CHECK(fabs(got - (double)sum) <= (f32 ? 1e-6 : 1e-14) * fmax(1.0, (double)size),
                  "seq_logps[%zu] = %.17g, want %.17Lg", s, got, sum);
        }
    }

    guarded g = place(&dseq, f32, 0, 0), dtok = guard_output(t, elem);
    snapshot dtok_snap = snapshot_take(&dtok);
    st = f32 ? rpo_packed_seq_logps_backward_f32(ctx, b, t, offsets, mask, reduce, g.p, dtok.p)
             : rpo_packed_seq_logps_backward_f64(ctx, b, t, offsets, mask, reduce, g.p, dtok.p);
    CHECK(status_listed(st), "rpo_packed_seq_logps_backward: unlisted status %d", st);
    if (t > 0 && !valid)
        CHECK(st == RPO_ERR_SIZE, "bad offsets: backward status %d", st);
    if (st != RPO_OK) {
        CHECK(snapshot_same(&dtok_snap, &dtok), "packed backward wrote on error %d", st);
    } else if (t > 0) {   /* T == 0 succeeds before any offset is read */
        size_t k = 0;
        for (size_t s = 0; s <= b; s++) {
            const size_t end = s < b ? (size_t)offsets[s] : t;
            for (; k < end; k++)
                CHECK(at(&dtok, f32, k) == 0.0, "dtoken[%zu] outside every sequence", k);
            if (s == b)
                break;
            size_t count = 0;
            for (int64_t j = offsets[s]; j < offsets[s + 1]; j++)
                count += mask == NULL || mask[j];
            double share = value_at(&dseq, f32, s);
            if (reduce == RPO_SEQ_MEAN)
                share = count ? share / (double)count : 0.0;
            for (; k < (size_t)offsets[s + 1]; k++) {
                const double want = mask == NULL || mask[k] ? share : 0.0;
                /* (rounded to the type: a float32 share may underflow) */
                CHECK(fabs(at(&dtok, f32, k) - want) <= 1e-6 * fabs(want) + (f32 ? 0x1p-149 : 0.0),
                      "dtoken[%zu] = %.17g, want %.17g", k, at(&dtok, f32, k), want);
            }
        }
    }
    snapshot_free(&out_snap);
    snapshot_free(&dtok_snap);
    guard_free(&in);
    guard_free(&out);
    guard_free(&g);
    guard_free(&dtok);
    free_values(&x);
    free_values(&dseq);
    free(mask);
    free(offsets);
}
