/*
 * One row of a language model's logits x (V) turned into its log-sum-exp,
 * and the gradient of log softmax(x)[y] written from it: the token helpers'
 * kernels (lib/tokens/tokens.c drives them over the rows, lib/tokens/token_rows.c over
 * threads).
 *
 * Template: included once per element type by instantiate.h; the logits
 * and the gradient have the element type, sums are kept in double.
 *
 * Accuracy. Every exponent is x - top <= 0 (top = max x). Its rounding to
 * the element type would cost |x - top| ulps in exp(x - top), which matters
 * exactly for a confident row, whose log-probs are made of such small
 * terms; so the difference is kept as two parts (TwoSum, exact) and the
 * low part applied as exp(s + lo) = exp(s) (1 + lo). The row's top entries
 * are not added to the sum but counted, so that the sum of the others
 * ("rest", often far below 1) keeps its digits and log_sum = log1p(rest).
 * Float terms are summed in double lanes (error below V 2^-53 relative);
 * double terms in double lanes with Kahan's compensation. What is left is
 * the exponential's own error, a few ulps of the element type: rpo.h
 * states the bound, tests/test_token_kernels.c checks it.
 */

#ifndef RPO_SIMD_TOKENS_ONCE
#define RPO_SIMD_TOKENS_ONCE

/* A row's sum in double lanes: sum, plus Kahan's compensation for double
 * terms (float terms need none in double). */
typedef struct token_sum {
    vf64 sum, comp;
} token_sum;

/* Float lanes widened to double, in halves (the element-wise form below is
 * what the x86 code says in two conversions, which compilers do not find
 * in it). */
static inline void token_add_f32(token_sum *acc, vf32 e)
{
#if defined(__x86_64__) && RPO_SIMD_BYTES == 64
    const __m512 v = (__m512)e;
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    acc->sum += (vf64)_mm512_cvtps_pd(_mm512_castps512_ps256(v)) + (vf64)_mm512_cvtps_pd(hi);
#elif defined(__x86_64__) && RPO_SIMD_BYTES == 32
    const __m256 v = (__m256)e;
    acc->sum += (vf64)_mm256_cvtps_pd(_mm256_castps256_ps128(v)) +
                (vf64)_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
#else
    typedef float f32_half __attribute__((vector_size(RPO_SIMD_BYTES / 2)));
    f32_half lo, hi;
    for (int l = 0; l < VL32 / 2; l++) {
        lo[l] = e[l];
        hi[l] = e[l + VL32 / 2];
    }
    acc->sum += __builtin_convertvector(lo, vf64) + __builtin_convertvector(hi, vf64);
#endif
}

static inline void token_add_f64(token_sum *acc, vf64 e)
{
    const vf64 y = e - acc->comp;
    const vf64 t = acc->sum + y;
    acc->comp = (t - acc->sum) - y;
    acc->sum = t;
}

static inline double token_total(const token_sum *acc)
{
    return hsum_f64(acc->sum) - hsum_f64(acc->comp);
}

#endif /* RPO_SIMD_TOKENS_ONCE */

/* exp(x - top) for x <= top, with x - top split exactly into s + lo
 * (TwoSum) so that no ulp of a large difference is lost: lo is at most
 * half an ulp of s, and exp(s + lo) = exp(s) (1 + lo) to the last bit. A
 * difference beyond the type's range (x = -FLT_MAX, top = FLT_MAX) gives
 * 0, as does every s below the smallest subnormal result. */
static inline VREAL TNAME(exp_below)(VREAL x, REAL top)
{
    const VREAL s = x - top;
    const VREAL back = s - x;
    VREAL lo = (x - (s - back)) + ((0 - top) - back);
    lo = TNAME(keep)(s >= -REAL_MAX, lo);
    const VREAL e = TNAME(exp_nonpos)(s);
    return e + e * lo;
}

/* The row's largest entry (*top) and largest magnitude (*absmax); returns
 * 0, leaving both alone, when the row holds NaN or infinity. V > 0. */
static int TNAME(token_scan)(const void *x_, size_t v, double *top, double *absmax)
{
    const REAL *x = x_;
    const size_t full = v / VLR * VLR, rest = v - full;
    const VMASK tail = FIRST_LANES(rest);
    VREAL high = (VREAL){0} + x[0], big = {0}, poison = {0};
    for (size_t j = 0; j < full; j += VLR) {
        const VREAL a = TNAME(load)(x + j);
        high = TNAME(max)(high, a);
        big = TNAME(max)(big, TNAME(abs)(a));
        poison += a * 0;   /* NaN once any entry is NaN or infinite */
    }
    if (rest) {
        const VREAL a = TNAME(select)(tail, TNAME(load_part)(x + full, rest),
                                      (VREAL){0} + x[0]);
        high = TNAME(max)(high, a);
        big = TNAME(max)(big, TNAME(abs)(a));
        poison += a * 0;
    }
    if (TNAME(hsum)(poison) != 0)
        return 0;
    *top = (double)TNAME(hmax)(high);
    *absmax = (double)TNAME(hmax)(big);
    return 1;
}

/* The row's max (top) and log sum_k exp(x_k - top) (log_sum). Returns 0,
 * leaving *lse alone, when the row holds NaN or infinity. V > 0. next, if
 * not NULL, is the row the caller asks for after this one (V entries): it
 * is fetched into the caches while this one's exponentials are computed,
 * so that its first pass does not wait for memory. */
static int TNAME(token_lse)(const void *x_, size_t v, const void *next_, rpo_lse *lse)
{
    const REAL *x = x_;
    const char *next = next_;
    const size_t full = v / VLR * VLR, rest = v - full;
    const VMASK tail = FIRST_LANES(rest);

    /* Pass one (from memory): the top, and whether everything is finite.
     * Two accumulators hide the max's latency. */
    VREAL top0 = (VREAL){0} + x[0], top1 = top0, poison = {0};
    size_t j = 0;
    for (; j + 2 * VLR <= full; j += 2 * VLR) {
        const VREAL a = TNAME(load)(x + j), b = TNAME(load)(x + j + VLR);
        top0 = TNAME(max)(top0, a);
        top1 = TNAME(max)(top1, b);
        poison += a * 0 + b * 0;
    }
    for (; j < full; j += VLR) {
        const VREAL a = TNAME(load)(x + j);
        top0 = TNAME(max)(top0, a);
        poison += a * 0;
    }
    if (rest) {
        const VREAL a = TNAME(select)(tail, TNAME(load_part)(x + full, rest),
                                      (VREAL){0} + x[0]);
        top0 = TNAME(max)(top0, a);
        poison += a * 0;
    }
    if (TNAME(hsum)(poison) != 0)
        return 0;
    const REAL top = TNAME(hmax)(TNAME(max)(top0, top1));

    /* Pass two (from cache): the terms below the top, summed; the top's
     * own, each exactly 1, counted. */
    token_sum acc = {{0}, {0}};
    VMASK tops = {0};
    for (j = 0; j < full; j += VLR) {
        if (next != NULL && (j * sizeof(REAL)) % 64 == 0)
            __builtin_prefetch(next + j * sizeof(REAL), 0, 3);
        const VREAL a = TNAME(load)(x + j);
        const VMASK at_top = a == top;
        tops -= at_top;
        TNAME(token_add)(&acc, TNAME(keep)(~at_top, TNAME(exp_below)(a, top)));
    }
    if (rest) {
        const VREAL a = TNAME(load_part)(x + full, rest);
        const VMASK at_top = (a == top) & tail;
        tops -= at_top;
        TNAME(token_add)(&acc, TNAME(keep)(tail & ~at_top, TNAME(exp_below)(a, top)));
    }
    double count = 0;
    for (int l = 0; l < VLR; l++)
        count += (double)tops[l];
    lse->top = (double)top;
    lse->log_sum = log1p(token_total(&acc) + (count - 1));
    return 1;
}

/* The gradient of g * log softmax(x)[y] with respect to x, from the row's
 * log-sum-exp lse.top + lse.log_sum:
 *     d[k] = g ([k == y] - softmax(x)[k])        overwrite != 0
 *     d[k] += g ([k == y] - softmax(x)[k])       overwrite == 0
 * with softmax(x)[k] = exp(x[k] - top) / exp(log_sum): the exact exponent
 * of exp_below, then one product by 1 / sum, which lies in [1 / V, 1].
 * (Subtracting log_sum inside the exponent would round it into the
 * exponent's ulp, which is huge when |top| is.) top must be the row's
 * largest entry. d may equal x when overwriting (each vector is read
 * before it is written), and must not overlap it otherwise. */
static void TNAME(token_grad)(const void *x_, size_t v, size_t y, double g,
                              rpo_lse lse, void *d_, int overwrite)
{
    const REAL *x = x_;
    REAL *d = d_;
    const size_t full = v / VLR * VLR, rest = v - full;
    const REAL top = (REAL)lse.top, inv_sum = (REAL)exp(-lse.log_sum);
    const REAL minus_g = (REAL)-g;
    /* The target's 1 - p_y as -expm1(log p_y): accurate when the model is
     * confident (p_y near 1), where 1 - p_y would cancel. Read before the
     * row is overwritten. */
    const double d_y = (overwrite ? 0.0 : (double)d[y]) -
                       g * expm1(((double)x[y] - lse.top) - lse.log_sum);

    if (overwrite) {
        for (size_t j = 0; j < full; j += VLR) {
            const VREAL p = TNAME(exp_below)(TNAME(load)(x + j), top) * inv_sum;
            TNAME(store)(d + j, minus_g * p);
        }
        if (rest) {
            const VREAL p = TNAME(exp_below)(TNAME(load_part)(x + full, rest), top) * inv_sum;
            TNAME(store_part)(d + full, minus_g * p, rest);
        }
    } else {
        for (size_t j = 0; j < full; j += VLR) {
            const VREAL p = TNAME(exp_below)(TNAME(load)(x + j), top) * inv_sum;
            TNAME(store)(d + j, TNAME(load)(d + j) + minus_g * p);
        }
        if (rest) {
            const VREAL p = TNAME(exp_below)(TNAME(load_part)(x + full, rest), top) * inv_sum;
            TNAME(store_part)(d + full, TNAME(load_part)(d + full, rest) + minus_g * p, rest);
        }
    }
    d[y] = (REAL)d_y;
}
