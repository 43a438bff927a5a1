/*
 * libFuzzer harness for the whole public API of librpo (docs/hardening.md):
 * the entry point, and the loss and weight calls.
 *
 * Each input is a short program of operations on two contexts: settings
 * with arbitrary keys and values and queries with NULL or valid pointers
 * (settings.c), contexts freed and recreated, the token-level helpers of
 * 1.1 (tokens.c, sequences.c), the row blocks and embedding gradients of
 * 1.2 (row_blocks.c), the related-prompt batches (batching.c), the fused
 * linear log-probs (linear.c) and the objectives (objectives.c) of 1.3, and
 * compute calls (rpo_loss_*,
 * rpo_weights_*, rpo_loss_weighted_*, float32, float64 or both on the same
 * values) with arbitrary sizes, settings, present or NULL pointers, outputs
 * aliasing inputs, and values including NaN, +-inf, subnormals, +-1e38,
 * FLT_MAX and float64-only extremes. Sizes whose products overflow size_t
 * come with poisoned arrays: the call must fail with RPO_ERR_SIZE without
 * touching them.
 *
 * Invariants checked on every call (a violation aborts, which libFuzzer
 * reports as a crash with the input saved):
 *   - the status is a listed code, and the one include/rpo.h's error rules
 *     give for the arguments (contract.h);
 *   - on error nothing was written, and the context's settings and metrics
 *     are unchanged;
 *   - rpo_ctx_error_detail is "" after a success and a non-empty text
 *     after a failure (harness.h, for every call on a context);
 *   - inputs are never written (unless an output aliases them);
 *   - on success every output is finite, every weight lies in [0, 1] and
 *     every weight row sums to 1, the metrics are finite, an empty side
 *     gives loss 0 and zero gradients, the settings are unchanged, and
 *     rpo_weights_* leaves the loss metrics alone;
 *   - float32 and float64 on the same values give the same status, except
 *     that float32 alone reports RPO_ERR_RANGE exactly when a float64
 *     result lies beyond FLT_MAX, and agree to the conformance tolerance
 *     where the problem is well conditioned (contract.h);
 *   - an output aliasing an input gives the result of separate arrays;
 *   - a repeated call on another context gives the same bytes;
 *   - rpo_weights_f64 fed to rpo_loss_weighted_f64 reproduces rpo_loss_f64.
 * AddressSanitizer and UndefinedBehaviorSanitizer watch every access.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"
#include "guard.h"
#include "harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* Calls that ask for more scratch than exists must see malloc fail and
 * return RPO_ERR_NOMEM, as they would without the sanitizer. */
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* ------------------------------------------------------------------------ */
/* Compute calls. */

enum { A_PC, A_RC, A_PR, A_RR, A_E, A_F, A_W, A_COUNT };       /* inputs  */
enum { O_LOSS, O_GC, O_GR, O_WOUT, O_COUNT };                  /* outputs */
enum { F_DISTINCT, F_NULL, F_SAME };                           /* rejected_emb */

typedef struct problem {
    call_shape shape;
    int overflow;               /* sizes overflow: every array poisoned      */
    int absent[A_COUNT];        /* passed as NULL                            */
    int out_absent[O_COUNT];
    int f_mode;
    int f64_extra;              /* float64 values beyond float32 mixed in    */
    size_t count[A_COUNT];
    size_t out_count[O_COUNT];
    float *v32[A_COUNT];
    double *v64[A_COUNT];
} problem;

/* The arrays of one call in one precision. Outputs may alias inputs. */
typedef struct instance {
    int f32;
    guarded in[A_COUNT];
    guarded out[O_COUNT];
    int out_alias[O_COUNT];     /* input it aliases, or -1 */
} instance;

static size_t elem_size(int f32)
{
    return f32 ? sizeof(float) : sizeof(double);
}

static void build_instance(const problem *p, int f32, instance *x)
{
    memset(x, 0, sizeof *x);
    x->f32 = f32;
    for (int a = 0; a < A_COUNT; a++) {
        if (p->absent[a] || (a == A_F && p->f_mode != F_DISTINCT))
            x->in[a] = guard_absent();
        else if (p->overflow)
            x->in[a] = guard_poisoned();
        else
            x->in[a] = guard_copy(f32 ? (const void *)p->v32[a] : (const void *)p->v64[a],
                                  p->count[a], elem_size(f32));
    }
    for (int o = 0; o < O_COUNT; o++) {
        x->out_alias[o] = -1;
        if (p->out_absent[o])
            x->out[o] = guard_absent();
        else if (p->overflow)
            x->out[o] = guard_poisoned();
        else
            x->out[o] = guard_output(p->out_count[o], elem_size(f32));
    }
}

static void free_instance(instance *x)
{
    for (int a = 0; a < A_COUNT; a++)
        guard_free(&x->in[a]);
    for (int o = 0; o < O_COUNT; o++)
        if (x->out_alias[o] < 0)
            guard_free(&x->out[o]);
}

static int invoke(rpo_ctx *ctx, const problem *p, const instance *x)
{
    const call_shape *s = &p->shape;
    const void *pc = x->in[A_PC].p, *rc = x->in[A_RC].p;
    const void *pr = x->in[A_PR].p, *rr = x->in[A_RR].p;
    const void *e = x->in[A_E].p, *w = x->in[A_W].p;
    const void *f = p->f_mode == F_SAME ? e : x->in[A_F].p;
    void *loss = x->out[O_LOSS].p, *gc = x->out[O_GC].p, *gr = x->out[O_GR].p;
    void *wout = x->out[O_WOUT].p;
    if (x->f32) {
        switch (s->kind) {
        case KIND_LOSS:
            return rpo_loss_f32(ctx, s->m, pc, rc, s->n, pr, rr, s->d, e, f, loss, gc, gr);
        case KIND_WEIGHTS:
            return rpo_weights_f32(ctx, s->m, s->n, s->d, e, f, wout);
        default:
            return rpo_loss_weighted_f32(ctx, s->m, pc, rc, s->n, pr, rr, w, loss, gc, gr);
        }
    }
    switch (s->kind) {
    case KIND_LOSS:
        return rpo_loss_f64(ctx, s->m, pc, rc, s->n, pr, rr, s->d, e, f, loss, gc, gr);
    case KIND_WEIGHTS:
        return rpo_weights_f64(ctx, s->m, s->n, s->d, e, f, wout);
    default:
        return rpo_loss_weighted_f64(ctx, s->m, pc, rc, s->n, pr, rr, w, loss, gc, gr);
    }
}

static double out_at(const instance *x, int o, size_t k)
{
    return x->f32 ? (double)((const float *)x->out[o].p)[k]
                  : ((const double *)x->out[o].p)[k];
}

/* 1 when any of the arrays the call reads holds NaN or infinity. */
static int nonfinite_read(const problem *p, int f32)
{
    const call_shape *s = &p->shape;
    int reads[A_COUNT] = {0};
    if (s->kind != KIND_WEIGHTS) {
        reads[A_PC] = reads[A_RC] = reads[A_PR] = reads[A_RR] = 1;
    }
    if (reads_embeddings(s)) {
        reads[A_E] = 1;
        reads[A_F] = p->f_mode == F_DISTINCT;
    }
    reads[A_W] = s->kind == KIND_WEIGHTED;
    for (int a = 0; a < A_COUNT; a++) {
        if (!reads[a] || p->absent[a])
            continue;
        for (size_t k = 0; k < p->count[a]; k++) {
            double v = f32 ? (double)p->v32[a][k] : p->v64[a][k];
            if (!isfinite(v))
                return 1;
        }
    }
    return 0;
}

/* Runs x on ctx and checks everything that holds for one call alone.
 * Returns the status. */
/* RPO_STAT_EFFECTIVE_CONTRASTS after rpo_weights_*: the mean over the rows
 * written of exp(-sum_j W_ij log W_ij), computed here from them in long
 * double (0 when there are none). */
static void check_effective_contrasts(const instance *x, const call_shape *s,
                                      const ctx_state *after, int has_pairs)
{
    const double got = after->stat_value[RPO_STAT_EFFECTIVE_CONTRASTS];
    CHECK(after->stat_status[RPO_STAT_EFFECTIVE_CONTRASTS] == RPO_OK && isfinite(got),
          "effective contrasts %.17g after success", got);
    if (!has_pairs) {
        CHECK(got == 0.0, "effective contrasts %.17g without rows", got);
        return;
    }
    long double sum = 0.0L;
    for (size_t i = 0; i < s->m; i++) {
        long double h = 0.0L;
        for (size_t j = 0; j < s->n; j++) {
            const long double w = (long double)out_at(x, O_WOUT, i * s->n + j);
            if (w > 0.0L)
                h -= w * logl(w);
        }
        sum += expl(h);
    }
    const double want = (double)(sum / (long double)s->m);
    CHECK(fabs(got - want) <= (x->f32 ? 1e-4 : 1e-9) * want,
          "effective contrasts %.17g, from the weights %.17g", got, want);
}

static int run_checked(rpo_ctx *ctx, const problem *p, instance *x)
{
    call_shape s = p->shape;
    s.nonfinite_read = nonfinite_read(p, x->f32);
    snapshot in_snap[A_COUNT], out_snap[O_COUNT];
    for (int a = 0; a < A_COUNT; a++)
        in_snap[a] = snapshot_take(&x->in[a]);
    for (int o = 0; o < O_COUNT; o++)
        out_snap[o] = snapshot_take(&x->out[o]);
    ctx_state before, after;
    if (ctx != NULL)
        observe(ctx, &before);

    int status = invoke(ctx, p, x);

    CHECK(status_listed(status), "unlisted status %d", status);
    check_detail(ctx, status, "a loss or weights call");
    CHECK(status_allowed(&s, status),
          "kind %d %s m %zu n %zu d %zu weighting %d: status %d (%s) breaks the "
          "documented rules (expected shape status %d, non-finite input %d)",
          s.kind, x->f32 ? "f32" : "f64", s.m, s.n, s.d, s.weighting, status,
          rpo_status_string(status), expected_shape_status(&s), s.nonfinite_read);
    if (ctx != NULL)
        observe(ctx, &after);

    /* inputs are const, unless an output aliases them */
    for (int a = 0; a < A_COUNT; a++) {
        int aliased = 0;
        for (int o = 0; o < O_COUNT; o++)
            aliased |= x->out_alias[o] == a;
        if (!aliased || status != RPO_OK)
            CHECK(snapshot_same(&in_snap[a], &x->in[a]), "input %d was written", a);
    }

    if (status != RPO_OK) {
        for (int o = 0; o < O_COUNT; o++)
            CHECK(snapshot_same(&out_snap[o], &x->out[o]),
                  "output %d written by a call that failed with %d", o, status);
        if (ctx != NULL) {
            CHECK(same_settings(&before, &after), "a failed call changed a setting");
            CHECK(same_metrics(&before, &after), "a failed call changed the metrics");
        }
    } else {
        const int has_pairs = s.m > 0 && s.n > 0;
        /* the 1.0 rules give an empty side loss 0 and zero gradients */
        const int empty = !has_pairs && s.rules_known;
        CHECK(same_settings(&before, &after), "a call changed a setting");
        if (s.kind == KIND_WEIGHTS) {
            CHECK(same_loss_metrics(&before, &after), "rpo_weights_* changed the loss metrics");
            for (size_t i = 0; i < s.m && has_pairs; i++) {
                double sum = 0.0;
                for (size_t j = 0; j < s.n; j++) {
                    double wij = out_at(x, O_WOUT, i * s.n + j);
                    CHECK(wij >= 0.0 && wij <= 1.0, "W[%zu][%zu] = %.17g", i, j, wij);
                    sum += wij;
                }
                CHECK(fabs(sum - 1.0) <= (x->f32 ? 1e-5 : 1e-12) * (double)(s.n + 1),
                      "weight row %zu sums to %.17g", i, sum);
            }
            check_effective_contrasts(x, &s, &after, has_pairs);
        } else {
            for (int k = RPO_STAT_LOSS; k <= RPO_STAT_ACCURACY; k++)
                CHECK(after.stat_status[k] == RPO_OK && isfinite(after.stat_value[k]),
                      "metric %d is %.17g after success", k, after.stat_value[k]);
            if (x->out[O_LOSS].p != NULL) {
                double loss = out_at(x, O_LOSS, 0);
                CHECK(isfinite(loss), "loss %.17g returned with RPO_OK", loss);
                CHECK(!empty || loss == 0.0, "empty side: loss %.17g", loss);
            }
            for (int o = O_GC; o <= O_GR; o++)
                for (size_t k = 0; x->out[o].p != NULL && k < p->out_count[o]; k++) {
                    double g = out_at(x, o, k);
                    CHECK(isfinite(g), "gradient %d[%zu] = %.17g with RPO_OK", o, k, g);
                    CHECK(!empty || g == 0.0, "empty side: gradient %.17g", g);
                }
        }
    }
    for (int a = 0; a < A_COUNT; a++)
        snapshot_free(&in_snap[a]);
    for (int o = 0; o < O_COUNT; o++)
        snapshot_free(&out_snap[o]);
    return status;
}

/* The largest magnitude among the outputs x returned. */
static double max_output(const problem *p, const instance *x)
{
    double top = 0.0;
    for (int o = 0; o < O_COUNT; o++)
        for (size_t k = 0; x->out[o].p != NULL && k < p->out_count[o]; k++)
            top = fmax(top, fabs(out_at(x, o, k)));
    return top;
}

/* float32 vs float64 on the same values (both succeeded, well conditioned):
 * the conformance tolerance, plus float32's absolute rounding below
 * FLT_MIN where an output underflows. */
static void check_agreement(const problem *p, const instance *x64, const instance *x32)
{
    const double tol = 1e-5, slack = 0x1p-149;
    if (p->shape.kind == KIND_WEIGHTS) {
        for (size_t k = 0; k < p->out_count[O_WOUT]; k++) {
            double a = out_at(x64, O_WOUT, k), b = out_at(x32, O_WOUT, k);
            CHECK(fabs(a - b) <= tol + slack, "W[%zu]: f64 %.17g f32 %.17g", k, a, b);
        }
        return;
    }
    if (x64->out[O_LOSS].p != NULL) {
        double a = out_at(x64, O_LOSS, 0), b = out_at(x32, O_LOSS, 0);
        CHECK(fabs(a - b) <= tol * fmax(1.0, fabs(a)) + slack,
              "loss: f64 %.17g f32 %.17g", a, b);
    }
    for (int o = O_GC; o <= O_GR; o++) {
        if (x64->out[o].p == NULL)
            continue;
        double scale = 0.0;
        for (size_t k = 0; k < p->out_count[o]; k++)
            scale = fmax(scale, fabs(out_at(x64, o, k)));
        for (size_t k = 0; k < p->out_count[o]; k++) {
            double a = out_at(x64, o, k), b = out_at(x32, o, k);
            CHECK(fabs(a - b) <= tol * scale + slack,
                  "gradient %d[%zu]: f64 %.17g f32 %.17g", o, k, a, b);
        }
    }
}

static int is_well_conditioned(const rpo_ctx *ctx, const problem *p)
{
    conditioning_input c;
    c.kind = p->shape.kind;
    c.weighting = p->shape.weighting;
    c.beta = setting(ctx, RPO_PARAM_BETA);
    c.tau = setting(ctx, RPO_PARAM_TAU);
    c.m = p->shape.m; c.n = p->shape.n; c.d = p->shape.d;
    c.pc = p->v64[A_PC]; c.pr = p->v64[A_PR];
    c.rc = p->absent[A_RC] ? NULL : p->v64[A_RC];
    c.rr = p->absent[A_RR] ? NULL : p->v64[A_RR];
    c.e = p->v64[A_E];
    c.f = p->f_mode == F_DISTINCT ? p->v64[A_F] : p->v64[A_E];
    c.w = p->v64[A_W];
    return well_conditioned(&c);
}

/* 1 when instances a and b produced the same bytes in every output. */
static int same_outputs(const problem *p, const instance *a, const instance *b)
{
    for (int o = 0; o < O_COUNT; o++) {
        if ((a->out[o].p == NULL) != (b->out[o].p == NULL))
            return 0;
        if (a->out[o].p != NULL &&
            memcmp(a->out[o].p, b->out[o].p, p->out_count[o] * elem_size(a->f32)) != 0)
            return 0;
    }
    return 1;
}

/* Makes output o of x alias input a, when the input holds at least as many
 * bytes as the output needs. Returns 1 when it did. */
static int make_alias(const problem *p, instance *x, int o, int a)
{
    if (p->overflow || x->out[o].p == NULL || x->in[a].p == NULL)
        return 0;
    if (a == A_F && p->f_mode != F_DISTINCT)
        return 0;
    if (x->in[a].bytes < p->out_count[o] * elem_size(x->f32) || p->out_count[o] == 0)
        return 0;
    guard_free(&x->out[o]);
    x->out[o] = x->in[a];
    x->out_alias[o] = a;
    return 1;
}

static void choose_alias(reader *r, const problem *p, instance *x)
{
    static const int pairs[][2] = {
        {O_GC, A_PC}, {O_GR, A_PR}, {O_LOSS, A_PC}, {O_GC, A_RC}, {O_GR, A_RR},
        {O_GC, A_W}, {O_WOUT, A_E}, {O_WOUT, A_F},
    };
    unsigned pick = take_choice(r, 16);
    if (pick < 8)
        (void)make_alias(p, x, pairs[pick][0], pairs[pick][1]);
}

/* Fills p's values from the reader (both precisions, same values). */
static void fill_values(reader *r, problem *p)
{
    p->f64_extra = take_choice(r, 8) == 0;
    for (int a = 0; a < A_COUNT; a++) {
        size_t count = p->overflow ? 0 : p->count[a];
        p->v32[a] = malloc((count ? count : 1) * sizeof(float));
        p->v64[a] = malloc((count ? count : 1) * sizeof(double));
        if (p->v32[a] == NULL || p->v64[a] == NULL)
            guard_fail_alloc();
        for (size_t k = 0; k < count; k++) {
            p->v32[a][k] = take_value(r, a == A_E || a == A_F || a == A_W);
            p->v64[a][k] = (double)p->v32[a][k];
            if (p->f64_extra && take_choice(r, 4) == 0)
                p->v64[a][k] = special_f64[take_choice(r, SPECIAL_F64_COUNT)];
        }
    }
}

static void free_values(problem *p)
{
    for (int a = 0; a < A_COUNT; a++) {
        free(p->v32[a]);
        free(p->v64[a]);
    }
}

static void choose_sizes(reader *r, problem *p)
{
    call_shape *s = &p->shape;
    if (!p->overflow) {
        s->m = take_small_size(r, 65);
        s->n = take_choice(r, 4) == 0 ? s->m : take_small_size(r, 65);
        s->d = take_small_size(r, 65);
        return;
    }
    s->m = huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
    s->n = huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
    s->d = huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
    if (!size_overflow_applies(s)) {
        if (s->m < 2)
            s->m = 2;
        s->n = SIZE_MAX;
    }
}

static void op_compute(reader *r, rpo_ctx *ctx, rpo_ctx *other)
{
    problem p;
    memset(&p, 0, sizeof p);
    call_shape *s = &p.shape;
    s->kind = (call_kind)take_choice(r, 3);
    const unsigned precision = take_choice(r, 3);   /* f64, f32, both */
    s->ctx_present = take_choice(r, 32) != 0;
    s->weighting = (int)setting(ctx, RPO_PARAM_WEIGHTING);
    s->rules_known = settings_known(ctx);
    p.overflow = take_choice(r, 8) == 0;
    choose_sizes(r, &p);

    uint8_t flags = take_u8(r);
    p.absent[A_RC] = flags & 1;
    p.absent[A_RR] = (flags >> 1) & 1;
    p.f_mode = (flags >> 2) & 3;
    if (p.f_mode == 3)
        p.f_mode = F_DISTINCT;
    p.out_absent[O_LOSS] = (flags >> 4) & 1;
    p.out_absent[O_GC] = (flags >> 5) & 1;
    p.out_absent[O_GR] = (flags >> 6) & 1;
    if (flags & 0x80) { /* hostile NULLs for what may be required */
        uint8_t nulls = take_u8(r);
        p.absent[A_PC] = nulls & 1;
        p.absent[A_PR] = (nulls >> 1) & 1;
        p.absent[A_E] = (nulls >> 2) & 1;
        p.absent[A_W] = (nulls >> 3) & 1;
        p.out_absent[O_WOUT] = (nulls >> 4) & 1;
    }
    /* paired: rejected_emb NULL or the chosen pointer (NULL too when the
     * chosen one is absent) */
    s->paired = p.f_mode != F_DISTINCT;
    s->has_pc = !p.absent[A_PC];
    s->has_pr = !p.absent[A_PR];
    s->has_e = !p.absent[A_E];
    s->has_w = !p.absent[A_W];
    s->has_weights_out = !p.out_absent[O_WOUT];

    if (!p.overflow) { /* overflowing sizes get poisoned blocks, no values */
        p.count[A_PC] = p.count[A_RC] = s->m;
        p.count[A_PR] = p.count[A_RR] = s->n;
        p.count[A_E] = s->m * s->d;
        p.count[A_F] = s->n * s->d;
        p.count[A_W] = s->m * s->n;
        p.out_count[O_LOSS] = 1;
        p.out_count[O_GC] = s->m;
        p.out_count[O_GR] = s->n;
        p.out_count[O_WOUT] = s->m * s->n;
    }
    /* which outputs this kind has at all */
    if (s->kind == KIND_WEIGHTS)
        p.out_absent[O_LOSS] = p.out_absent[O_GC] = p.out_absent[O_GR] = 1;
    else
        p.out_absent[O_WOUT] = 1;
    fill_values(r, &p);

    rpo_ctx *call_ctx = s->ctx_present ? ctx : NULL;
    const int alias = !p.overflow && precision != 2 && take_choice(r, 4) == 0;
    const int repeat = !p.overflow && take_choice(r, 4) == 0;

    instance x64, x32;
    int st64 = 0, st32 = 0;
    if (precision != 1) {
        build_instance(&p, 0, &x64);
        st64 = run_checked(call_ctx, &p, &x64);
    }
    if (precision != 0) {
        build_instance(&p, 1, &x32);
        st32 = run_checked(call_ctx, &p, &x32);
    }

    if (precision == 2 && !p.f64_extra) {
        if (st64 == RPO_OK && st32 == RPO_ERR_RANGE)
            CHECK(max_output(&p, &x64) >= (double)FLT_MAX * (1.0 - 1e-4),
                  "float32 RPO_ERR_RANGE though every float64 result (max %.9g) fits",
                  max_output(&p, &x64));
        else if (st64 == RPO_OK && st32 == RPO_OK && s->ctx_present) {
            CHECK(max_output(&p, &x64) <= (double)FLT_MAX * (1.0 + 1e-4),
                  "float32 succeeded though a float64 result is %.9g",
                  max_output(&p, &x64));
            if (s->m > 0 && s->n > 0 && s->rules_known && is_well_conditioned(ctx, &p))
                check_agreement(&p, &x64, &x32);
        } else
            CHECK(st64 == st32, "float64 status %d, float32 status %d", st64, st32);
    }

    /* The same call again, on the other context given the same settings:
     * with an output aliasing an input there, or plainly; same bytes. */
    if ((alias || repeat) && s->ctx_present && precision != 2) {
        instance *first = precision == 0 ? &x64 : &x32;
        instance again;
        copy_settings(ctx, other);
        build_instance(&p, precision == 1, &again);
        if (alias)
            choose_alias(r, &p, &again);
        int st = run_checked(other, &p, &again);
        CHECK(st == (precision == 0 ? st64 : st32),
              "the same call gives status %d, then %d", precision == 0 ? st64 : st32, st);
        if (st == RPO_OK)
            CHECK(same_outputs(&p, first, &again),
                  "the same call gives other bytes (aliased outputs: %d)", alias);
        free_instance(&again);
    }

    /* rpo_weights_f64 into rpo_loss_weighted_f64 reproduces rpo_loss_f64. */
    if (s->kind == KIND_LOSS && precision != 1 && st64 == RPO_OK && s->ctx_present &&
        s->m > 0 && s->n > 0 && !p.out_absent[O_LOSS] && s->rules_known &&
        is_well_conditioned(ctx, &p)) {
        double *w = malloc(s->m * s->n * sizeof *w);
        double loss = 0.0;
        if (w == NULL)
            guard_fail_alloc();
        const double *f = p.f_mode == F_DISTINCT ? x64.in[A_F].p
                          : p.f_mode == F_SAME ? x64.in[A_E].p : NULL;
        CHECK(rpo_weights_f64(ctx, s->m, s->n, s->d, x64.in[A_E].p, f, w) == RPO_OK,
              "rpo_weights_f64 fails where rpo_loss_f64 succeeded");
        int st = rpo_loss_weighted_f64(ctx, s->m, x64.in[A_PC].p, x64.in[A_RC].p,
                                       s->n, x64.in[A_PR].p, x64.in[A_RR].p, w,
                                       &loss, NULL, NULL);
        CHECK(st == RPO_OK, "rpo_loss_weighted_f64 status %d", st);
        double want = out_at(&x64, O_LOSS, 0);
        CHECK(fabs(loss - want) <= 1e-10 * fmax(1.0, fabs(want)),
              "weights + weighted loss %.17g, loss %.17g", loss, want);
        free(w);
    }

    if (precision != 1)
        free_instance(&x64);
    if (precision != 0)
        free_instance(&x32);
    free_values(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r;
    reader_init(&r, data, size);
    rpo_ctx *ctx[2] = {rpo_ctx_create(), rpo_ctx_create()};
    CHECK(ctx[0] != NULL && ctx[1] != NULL, "rpo_ctx_create failed");
    int ops = 0;
    do {
        unsigned which = take_choice(&r, 2);
        switch (take_choice(&r, 17)) {
        case 0:
        case 1:
            op_set(&r, ctx[which]);
            break;
        case 2:
            op_query(&r, ctx[which]);
            break;
        case 3:
            rpo_ctx_free(ctx[which]);
            ctx[which] = rpo_ctx_create();
            CHECK(ctx[which] != NULL, "rpo_ctx_create failed");
            break;
        case 8:
            op_token_logps(&r, ctx[which]);
            break;
        case 9:
            op_token_logps_backward(&r, ctx[which]);
            break;
        case 10:
            op_seq_logps(&r);
            break;
        case 11:
            op_seq_logps_backward(&r);
            break;
        case 12:
            op_token_lse(&r, ctx[which]);
            break;
        case 13:
            op_packed_seq(&r, ctx[which]);
            break;
        case 7:
            op_row_blocks(&r, ctx[which], ctx[1 - which]);
            break;
        case 14:
            op_related_batches(&r, ctx[which]);
            break;
        case 15:
            op_linear_logps(&r, ctx[which]);
            break;
        case 16:
            op_objective(&r, ctx[which]);
            break;
        default:
            op_compute(&r, ctx[which], ctx[1 - which]);
            break;
        }
    } while (!exhausted(&r) && ++ops < 16);
    rpo_ctx_free(ctx[0]);
    rpo_ctx_free(ctx[1]);
    return 0;
}
