/*
 * The token helpers on every kernel set, against long double:
 *   - log-probs within the header's bound (4 ulps of the type, plus
 *     V 2^-149 or V 2^-1074 absolute) on rows of every width around the
 *     vector sizes, logits spread from 1 to near the float range,
 *     confident rows, and V up to 262144;
 *   - each gradient entry within a few ulps of g ([v == y] - p_v);
 *   - the 1.3 variants against the accumulating backward: overwrite, in
 *     place, with the forward's lse; results bitwise identical for 1, 2
 *     and 3 threads; the overwrite gradient against finite differences.
 * Hostile inputs of the new entry points are in test_tokens_hostile.c.
 */
#include <float.h>
#include <stdlib.h>

#define RPO_STATIC_LINKING_ONLY
#include "testutil.h"
#include "kernel_sets.h"

/* One problem, in double (float-representable values for float32). */
typedef struct problem {
    int f32;
    size_t t, v, stride;
    double *x;        /* (T, stride)  */
    int32_t *y;       /* (T)          */
    double *g;        /* (T) dlogps   */
} problem;

static void round_to_type(const problem *p, double *a, size_t count)
{
    if (p->f32)
        for (size_t k = 0; k < count; k++)
            a[k] = (double)(float)a[k];
}

/* librpo computes float32 calls of fewer logits (T V) than this in
 * double, through the float64 kernels (lib/tokens/token_rows.h): a problem meant
 * for the float32 kernels is padded to it with rows without target. */
#define VECTOR_LOGITS (1u << 16)

/* Logits centred on 0 with spread `spread`; row k's first entry raised by
 * `lead` (0: none), which makes a confident row when the target is 0.
 * T rows with targets, then (vector_path) as many without as make the
 * call large enough for the float32 kernels. */
static problem make_problem_for(test_rng *rng, int f32, size_t t, size_t v, size_t stride,
                                double spread, double lead, int vector_path)
{
    const size_t scored = t;
    if (vector_path && t * v < VECTOR_LOGITS)
        t = (VECTOR_LOGITS + v - 1) / v;
    problem p = {f32, t, v, stride, NULL, NULL, NULL};
    p.x = calloc(t * stride, sizeof *p.x);
    p.y = calloc(t, sizeof *p.y);
    p.g = calloc(t, sizeof *p.g);
    assert_true(p.x && p.y && p.g);
    for (size_t k = 0; k < t; k++) {
        rng_fill(rng, p.x + k * stride, v, -spread, spread);
        p.x[k * stride] += lead;
        for (size_t j = v; j < stride; j++)
            p.x[k * stride + j] = 1e300;   /* padding: never read */
        p.y[k] = lead != 0.0 ? 0 : (int32_t)(rng_next(rng) % v);
        if (k >= scored)
            p.y[k] = -1;
        p.g[k] = rng_uniform(rng, -2.0, 2.0);
    }
    if (f32)
        for (size_t k = 0; k < t * stride; k++)
            p.x[k] = (k % stride) < v ? (double)(float)p.x[k] : 0.0;
    round_to_type(&p, p.g, t);
    return p;
}

static problem make_problem(test_rng *rng, int f32, size_t t, size_t v, size_t stride,
                            double spread, double lead)
{
    return make_problem_for(rng, f32, t, v, stride, spread, lead, 0);
}

static void free_problem(problem *p)
{
    free(p->x);
    free(p->y);
    free(p->g);
}

/* ------------------------------------------------ calls in either type */

static void *typed_copy(const problem *p, const double *a, size_t count)
{
    void *c = malloc((count ? count : 1) * (p->f32 ? sizeof(float) : sizeof(double)));
    assert_non_null(c);
    for (size_t k = 0; k < count; k++) {
        if (p->f32)
            ((float *)c)[k] = (float)a[k];
        else
            ((double *)c)[k] = a[k];
    }
    return c;
}

static void back_to_double(const problem *p, const void *c, double *a, size_t count)
{
    for (size_t k = 0; k < count; k++)
        a[k] = p->f32 ? (double)((const float *)c)[k] : ((const double *)c)[k];
}

/* rpo_token_logps_lse_* (lse != NULL) or rpo_token_logps_*. */
static int forward(rpo_ctx *ctx, const problem *p, double *logps, double *lse)
{
    void *x = typed_copy(p, p->x, p->t * p->stride), *out = typed_copy(p, logps, p->t);
    int s;
    if (p->f32)
        s = lse ? rpo_token_logps_lse_f32(ctx, p->t, p->v, p->stride, x, p->y, out, lse)
                : rpo_token_logps_f32(ctx, p->t, p->v, p->stride, x, p->y, out);
    else
        s = lse ? rpo_token_logps_lse_f64(ctx, p->t, p->v, p->stride, x, p->y, out, lse)
                : rpo_token_logps_f64(ctx, p->t, p->v, p->stride, x, p->y, out);
    back_to_double(p, out, logps, p->t);
    free(x);
    free(out);
    return s;
}

/* rpo_token_logps_backward_lse_* into d (T, stride), which holds the
 * current dlogits; in_place: d starts as the logits (overwrite only). */
static int backward(rpo_ctx *ctx, const problem *p, const double *lse, int write,
                    int in_place, double *d)
{
    const size_t n = p->t * p->stride;
    void *x = typed_copy(p, p->x, n), *g = typed_copy(p, p->g, p->t);
    void *dd = in_place ? x : typed_copy(p, d, n);
    int s = p->f32 ? rpo_token_logps_backward_lse_f32(ctx, p->t, p->v, p->stride, x, p->y, lse,
                                                      g, dd, write)
                   : rpo_token_logps_backward_lse_f64(ctx, p->t, p->v, p->stride, x, p->y, lse,
                                                      g, dd, write);
    back_to_double(p, dd, d, n);
    if (!in_place)
        free(dd);
    free(x);
    free(g);
    return s;
}

/* ------------------------------------------------------ long double */

typedef struct ref_row {
    long double top, log_sum;
} ref_row;

static ref_row reference(const double *x, size_t v)
{
    size_t arg = 0;
    for (size_t k = 1; k < v; k++)
        if (x[k] > x[arg])
            arg = k;
    long double rest = 0.0L;
    for (size_t k = 0; k < v; k++)
        if (k != arg)
            rest += expl((long double)x[k] - (long double)x[arg]);
    ref_row r = {(long double)x[arg], log1pl(rest)};
    return r;
}

static long double ref_logp(const double *x, size_t y, ref_row r)
{
    return ((long double)x[y] - r.top) - r.log_sum;
}

/* One ulp of the type at |w|. */
static double ulp(int f32, long double w)
{
    const double a = fabs((double)w);
    if (f32)
        return a < (double)FLT_MIN ? 0x1p-149 : ldexp(1.0, ilogb(a) - 23);
    return a < DBL_MIN ? 0x1p-1074 : ldexp(1.0, ilogb(a) - 52);
}

static double tiny(int f32)
{
    return f32 ? 0x1p-149 : 0x1p-1074;
}

/* ulps of slack the reference itself needs: none, except for float64
 * under valgrind, which computes long double with 53 bits only (then the
 * reference is no better than the library, and 1e-12 relative is what can
 * be checked). */
static double reference_slack(int f32, long double want)
{
    return !f32 && small_run() ? 1e-12 * fabs((double)want) : 0.0;
}

/* The header's bound on every log-prob of p, computed by ctx. */
static void check_forward(rpo_ctx *ctx, const problem *p, const char *what)
{
    double *logps = calloc(p->t, sizeof *logps);
    assert_non_null(logps);
    assert_status(forward(ctx, p, logps, NULL), RPO_OK);
    for (size_t k = 0; k < p->t; k++) {
        if (p->y[k] < 0) {
            assert_true(logps[k] == 0.0);
            continue;
        }
        const double *x = p->x + k * p->stride;
        const long double want = ref_logp(x, (size_t)p->y[k], reference(x, p->v));
        const double err = fabs((double)((long double)logps[k] - want));
        const double bound = 4.0 * ulp(p->f32, want) + (double)p->v * tiny(p->f32) +
                             reference_slack(p->f32, want);
        if (!(err <= bound))
            fail_msg("%s %s V = %zu row %zu: logp %.9g, want %.12Lg (%.2f ulps)", what,
                     p->f32 ? "f32" : "f64", p->v, k, logps[k], want, err / ulp(p->f32, want));
    }
    free(logps);
}

/* Every entry of the overwritten gradient (lse computed by the call)
 * against g ([v == y] - p_v): 4 ulps for the softmax, 1 for the rounding
 * of the product, and the subnormal terms' absolute error. */
static void check_gradient(rpo_ctx *ctx, const problem *p, const char *what)
{
    double *d = calloc(p->t * p->stride, sizeof *d);
    assert_non_null(d);
    assert_status(backward(ctx, p, NULL, RPO_GRAD_OVERWRITE, 0, d), RPO_OK);
    for (size_t k = 0; k < p->t; k++) {
        if (p->y[k] < 0) {   /* written with zeros */
            for (size_t j = 0; j < p->v; j++)
                assert_true(d[k * p->stride + j] == 0.0);
            continue;
        }
        const double *x = p->x + k * p->stride;
        const ref_row r = reference(x, p->v);
        const size_t y = (size_t)p->y[k];
        for (size_t j = 0; j < p->v; j++) {
            const long double logp = ref_logp(x, j, r);
            const long double want = j == y ? -(long double)p->g[k] * expm1l(logp)
                                            : -(long double)p->g[k] * expl(logp);
            const double err = fabs((double)((long double)d[k * p->stride + j] - want));
            const double bound = 5.0 * ulp(p->f32, want) + (double)p->v * tiny(p->f32) +
                                 reference_slack(p->f32, want);
            if (!(err <= bound))
                fail_msg("%s %s V = %zu row %zu entry %zu: %.9g, want %.12Lg (%.2f ulps)", what,
                         p->f32 ? "f32" : "f64", p->v, k, j, d[k * p->stride + j], want,
                         err / ulp(p->f32, want));
        }
    }
    free(d);
}

static void on_every_set(void (*check)(rpo_ctx *, const problem *, const char *),
                         const problem *p)
{
    for (size_t s = 0; s < KERNEL_SETS; s++) {
        rpo_ctx *ctx = context_on(kernel_sets[s]);
        if (ctx == NULL)
            continue;
        static const char *names[] = {"portable", "avx2", "avx512", "generic"};
        check(ctx, p, names[kernel_sets[s]]);
        rpo_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------- precision */

static void test_widths_around_vector_sizes(void **state)
{
    (void)state;
    test_rng rng = {41};
    const double spreads[] = {1.0, 30.0, 1e4};
    /* small calls (float32 in double) and calls large enough for the
     * float32 kernels; valgrind's reduced run takes every seventh width */
    for (int f32 = 0; f32 <= 1; f32++)
        for (size_t v = 1; v <= 70; v += small_run() ? 7 : 1)
            for (size_t s = 0; s < 3; s++)
                for (int vector_path = 0; vector_path <= f32; vector_path++) {
                    problem p = make_problem_for(&rng, f32, 3, v, v + (v % 3), spreads[s], 0.0,
                                                 vector_path);
                    on_every_set(check_forward, &p);
                    on_every_set(check_gradient, &p);
                    free_problem(&p);
                }
}

static void test_spread_to_float_range(void **state)
{
    (void)state;
    test_rng rng = {42};
    /* Up to 0.45 FLT_MAX each way: differences near the float range, and
     * beyond it (they overflow float, not double: exp of them is 0). */
    const double spreads[] = {1e10, 1e30, 0.45 * (double)FLT_MAX};
    for (int f32 = 0; f32 <= 1; f32++)
        for (size_t s = 0; s < 3; s++) {
            problem p = make_problem_for(&rng, f32, 4, 37, 37, spreads[s], 0.0, 1);
            on_every_set(check_forward, &p);
            on_every_set(check_gradient, &p);
            free_problem(&p);
        }
}

/* Every logit at the type's largest value, and rows mixing it with its
 * negative (the fuzzer's find: log V vanished in the exponent's ulp there,
 * and the softmax came out as 1 - log V). */
static void test_rows_at_the_type_limit(void **state)
{
    (void)state;
    test_rng rng = {49};
    for (int f32 = 0; f32 <= 1; f32++) {
        const double top = f32 ? (double)FLT_MAX : DBL_MAX;
        problem p = make_problem_for(&rng, f32, 3, 19, 19, 1.0, 0.0, 1);
        for (size_t k = 0; k < p.v; k++) {
            p.x[k] = top;                                   /* all equal */
            p.x[p.stride + k] = k % 3 ? top : -top;         /* two levels */
            p.x[2 * p.stride + k] = top * (1.0 - 0x1p-20 * (double)k);
        }
        on_every_set(check_gradient, &p);
        free_problem(&p);
    }
}

/* The target far above the rest: log p_y = -log1p(rest) with rest down to
 * e^-40 V, where an error absolute in 1 would be all of it. */
static void test_confident_rows(void **state)
{
    (void)state;
    test_rng rng = {43};
    const double leads[] = {10.0, 25.0, 40.0};
    for (int f32 = 0; f32 <= 1; f32++)
        for (size_t l = 0; l < 3; l++) {
            problem p = make_problem_for(&rng, f32, 3, 133, 133, 3.0, leads[l], 1);
            on_every_set(check_forward, &p);
            on_every_set(check_gradient, &p);
            free_problem(&p);
        }
}

/* One row of 262144 (2^18) logits per type and set: the double sums keep
 * the bound at this length. (Valgrind's reduced run stops at 2^14.) */
static void test_long_rows(void **state)
{
    (void)state;
    test_rng rng = {44};
    const size_t v = small_run() ? 1u << 14 : 1u << 18;
    for (int f32 = 0; f32 <= 1; f32++) {
        problem p = make_problem(&rng, f32, 1, v, v, 8.0, 0.0);
        on_every_set(check_forward, &p);
        free_problem(&p);
        problem q = make_problem(&rng, f32, 1, v, v, 2.0, 30.0);
        on_every_set(check_forward, &q);
        free_problem(&q);
    }
}

/* ------------------------------------------------------------ variants */

static int same_bits(const double *a, const double *b, size_t count)
{
    return memcmp(a, b, count * sizeof *a) == 0;
}

/* 1, 2 and 3 threads give the same bits for every helper. The rows are
 * wide enough (T V >= 2^16) that the calls do split. */
static void test_threads_bitwise(void **state)
{
    (void)state;
    test_rng rng = {45};
    for (int f32 = 0; f32 <= 1; f32++) {
        problem p = make_problem(&rng, f32, 61, 2053, 2056, 6.0, 0.0);
        p.y[5] = -1;
        p.g[7] = 0.0;
        const size_t n = p.t * p.stride;
        double *logps[3], *lse[3], *over[3], *acc[3];
        for (unsigned th = 1; th <= 3; th++) {
            rpo_ctx *ctx = rpo_ctx_create();
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, th), RPO_OK);
            logps[th - 1] = calloc(p.t, sizeof(double));
            lse[th - 1] = calloc(p.t, sizeof(double));
            over[th - 1] = calloc(n, sizeof(double));
            acc[th - 1] = calloc(n, sizeof(double));
            for (size_t k = 0; k < n; k++)
                acc[th - 1][k] = (double)(k % 7) * 0.25;
            assert_status(forward(ctx, &p, logps[th - 1], lse[th - 1]), RPO_OK);
            assert_status(backward(ctx, &p, lse[th - 1], RPO_GRAD_OVERWRITE, 1, over[th - 1]), RPO_OK);
            assert_status(backward(ctx, &p, NULL, RPO_GRAD_ACCUMULATE, 0, acc[th - 1]), RPO_OK);
            rpo_ctx_free(ctx);
        }
        for (int th = 1; th < 3; th++) {
            assert_true(same_bits(logps[0], logps[th], p.t));
            assert_true(same_bits(lse[0], lse[th], p.t));
            assert_true(same_bits(over[0], over[th], n));
            assert_true(same_bits(acc[0], acc[th], n));
        }
        for (int th = 0; th < 3; th++) {
            free(logps[th]); free(lse[th]); free(over[th]); free(acc[th]);
        }
        free_problem(&p);
    }
}

/* The variants against the accumulating backward and each other. */
static void test_variants_agree(void **state)
{
    (void)state;
    test_rng rng = {46};
    for (int f32 = 0; f32 <= 1; f32++)
        for (size_t s = 0; s < KERNEL_SETS; s++) {
            rpo_ctx *ctx = context_on(kernel_sets[s]);
            if (ctx == NULL)
                continue;
            problem p = make_problem_for(&rng, f32, 9, 531, 540, 5.0, 0.0, 1);
            p.y[2] = -1;     /* no target */
            p.g[4] = 0.0;    /* no upstream gradient */
            const size_t n = p.t * p.stride;
            double *plain = calloc(p.t, sizeof(double)), *with = calloc(p.t, sizeof(double));
            double *lse = calloc(p.t, sizeof(double));
            double *zeros = calloc(n, sizeof(double)), *over = calloc(n, sizeof(double));
            double *in_place = calloc(n, sizeof(double)), *given = calloc(n, sizeof(double));
            double *base = calloc(n, sizeof(double)), *acc = calloc(n, sizeof(double));
            assert_true(plain && with && lse && zeros && over && in_place && given && base && acc);

            /* the forward's log-probs do not depend on asking for lse */
            assert_status(forward(ctx, &p, plain, NULL), RPO_OK);
            assert_status(forward(ctx, &p, with, lse), RPO_OK);
            assert_true(same_bits(plain, with, p.t));
            assert_true(lse[2] == 0.0);

            /* overwrite == accumulate into zeros; in place == a separate buffer */
            assert_status(backward(ctx, &p, NULL, RPO_GRAD_ACCUMULATE, 0, zeros), RPO_OK);
            for (size_t k = 0; k < n; k++)
                over[k] = 12345.0;   /* overwritten, or padding kept */
            assert_status(backward(ctx, &p, NULL, RPO_GRAD_OVERWRITE, 0, over), RPO_OK);
            assert_status(backward(ctx, &p, NULL, RPO_GRAD_OVERWRITE, 1, in_place), RPO_OK);
            for (size_t k = 0; k < n; k++) {
                const size_t row = k / p.stride, col = k % p.stride;
                if (col >= p.v) {
                    assert_true(over[k] == 12345.0);             /* padding untouched */
                    assert_true(in_place[k] == p.x[k]);
                    continue;
                }
                assert_true(over[k] == zeros[k]);
                assert_true(memcmp(&over[k], &in_place[k], sizeof(double)) == 0);
                if (row == 2 || row == 4)
                    assert_true(over[k] == 0.0);                 /* skipped rows zeroed */
            }

            /* with the forward's lse: the same within the bound's slack */
            assert_status(backward(ctx, &p, lse, RPO_GRAD_OVERWRITE, 0, given), RPO_OK);
            for (size_t k = 0; k < n; k++) {
                if (k % p.stride >= p.v)
                    continue;
                const double slack = 3.0 * ulp(f32, (long double)over[k]) +
                                     fabs(p.g[k / p.stride]) * fabs(lse[k / p.stride]) * 0x1p-52;
                if (!(fabs(given[k] - over[k]) <= slack))
                    fail_msg("lse given: entry %zu %.17g vs %.17g", k, given[k], over[k]);
            }

            /* accumulating onto something: the old values plus the gradient */
            rng_fill(&rng, base, n, -1.0, 1.0);
            round_to_type(&p, base, n);
            memcpy(acc, base, n * sizeof(double));
            assert_status(backward(ctx, &p, lse, RPO_GRAD_ACCUMULATE, 0, acc), RPO_OK);
            for (size_t k = 0; k < n; k++) {
                if (k % p.stride >= p.v) {
                    assert_true(acc[k] == base[k]);
                    continue;
                }
                const double want = base[k] + given[k];
                if (!(fabs(acc[k] - want) <= 2.0 * ulp(f32, (long double)want) + ulp(f32, (long double)given[k])))
                    fail_msg("accumulate: entry %zu %.17g vs %.17g", k, acc[k], want);
            }

            free(plain); free(with); free(lse); free(zeros); free(over);
            free(in_place); free(given); free(base); free(acc);
            free_problem(&p);
            rpo_ctx_free(ctx);
        }
}

/* The 1.1 backward is the 1.3 one without lse, accumulating: same bits. */
static void test_old_backward_is_accumulate(void **state)
{
    (void)state;
    test_rng rng = {47};
    problem p = make_problem(&rng, 1, 5, 300, 300, 4.0, 0.0);
    const size_t n = p.t * p.stride;
    float *x = typed_copy(&p, p.x, n), *g = typed_copy(&p, p.g, p.t);
    float *d1 = calloc(n, sizeof(float)), *d2 = calloc(n, sizeof(float));
    rpo_ctx *ctx = rpo_ctx_create();
    assert_status(rpo_token_logps_backward_f32(ctx, p.t, p.v, p.stride, x, p.y, g, d1), RPO_OK);
    assert_status(rpo_token_logps_backward_lse_f32(ctx, p.t, p.v, p.stride, x, p.y, NULL, g, d2,
                                                   RPO_GRAD_ACCUMULATE), RPO_OK);
    assert_true(memcmp(d1, d2, n * sizeof(float)) == 0);
    rpo_ctx_free(ctx);
    free(x); free(g); free(d1); free(d2);
    free_problem(&p);
}

/* sum_t g_t logp_t(x) by central differences against the in-place
 * overwrite gradient, float64. */
static void test_overwrite_finite_differences(void **state)
{
    (void)state;
    test_rng rng = {48};
    problem p = make_problem(&rng, 0, 4, 19, 21, 3.0, 0.0);
    p.y[1] = -1;
    const size_t n = p.t * p.stride;
    rpo_ctx *ctx = rpo_ctx_create();
    double *d = calloc(n, sizeof(double)), *logps = calloc(p.t, sizeof(double));
    assert_status(backward(ctx, &p, NULL, RPO_GRAD_OVERWRITE, 1, d), RPO_OK);
    const double h = 1e-6;
    for (size_t k = 0; k < n; k++) {
        if (k % p.stride >= p.v)
            continue;
        const double keep = p.x[k];
        double f[2];
        for (int side = 0; side < 2; side++) {
            p.x[k] = keep + (side ? h : -h);
            assert_status(forward(ctx, &p, logps, NULL), RPO_OK);
            f[side] = 0.0;
            for (size_t t = 0; t < p.t; t++)
                f[side] += p.g[t] * logps[t];
        }
        p.x[k] = keep;
        check_loss("d(sum g logp)/dx", d[k], (f[1] - f[0]) / (2 * h), 1e-8);
    }
    free(d);
    free(logps);
    rpo_ctx_free(ctx);
    free_problem(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_widths_around_vector_sizes),
        cmocka_unit_test(test_spread_to_float_range),
        cmocka_unit_test(test_rows_at_the_type_limit),
        cmocka_unit_test(test_confident_rows),
        cmocka_unit_test(test_long_rows),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_variants_agree),
        cmocka_unit_test(test_old_backward_is_accumulate),
        cmocka_unit_test(test_overwrite_finite_differences),
    };
    return cmocka_run_group_tests_name("token kernels", tests, NULL, NULL);
}
