/*
 * Vector exp and log1p on the ranges the loss needs, in float and double.
 *
 * Every exponential librpo takes has a non-positive argument: exp(-|u|) in
 * the softplus/sigmoid pair (numerics.h explains why), and
 * exp((s - max s) / tau) in the softmax. Every logarithm is log1p(t) with
 * t = exp(-|u|) in [0, 1]. Restricting to these ranges keeps the code short
 * and removes every overflow case.
 *
 * exp(x), x <= 0: x = n ln2 + r with n = round(x / ln2) and |r| <= ln2/2
 * (Cody and Waite's two-part ln2, so r is exact to the last bit), e^r by its
 * Taylor series cut where the next term is below an ulp (degree 7 for
 * float, 13 for double), times 2^n: built in the exponent bits and applied
 * as two halves, so results down to the smallest subnormal come out right
 * (AVX-512 does it in one instruction, vscalef). Below that the result is
 * 0. NaN stays NaN.
 *
 * log1p(t), 0 <= t <= 1: log1p(t) = 2 atanh(s) with s = t / (2 + t). When
 * 1 + t > sqrt 2 we use log 2 + log((1 + t) / 2) instead, whose s is
 * (t - 1) / (t + 3); either way |s| <= 3 - 2 sqrt 2 = 0.1716, and
 * 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ...) is cut after the term below an
 * ulp (s^8/9 for float, s^18/19 for double). Relative error a few ulp for
 * every normal result (a subnormal t may lose its last bit in t / 2).
 *
 * Needs simd.h. Written once, compiled per instruction set.
 */
#ifndef RPO_VMATH_H
#define RPO_VMATH_H

#include "simd.h"

#if RPO_SIMD_BYTES == 64
#include <immintrin.h>
#endif

/* ----------------------------------------------------------- float */

static inline vf32 exp_nonpos_f32(vf32 x)
{
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f;          /* 9 significant bits */
    const float ln2_lo = -2.12194440e-4f;       /* ln 2 - ln2_hi      */
    const float round_magic = 0x1.8p23f;        /* adding it rounds to integer */
    /* Below -104 the result is under half the smallest subnormal. */
    x = select_f32(x < -104.0f, (vf32){0} - 104.0f, x);
    vf32 t = x * log2e + round_magic;
    vf32 n = t - round_magic;
    vi32 ni = (vi32)t - (vi32)((vf32){0} + round_magic);
    vf32 r = x - n * ln2_hi;
    r = r - n * ln2_lo;
    vf32 p = (vf32){0} + (1.0f / 5040.0f);
    p = p * r + (1.0f / 720.0f);
    p = p * r + (1.0f / 120.0f);
    p = p * r + (1.0f / 24.0f);
    p = p * r + (1.0f / 6.0f);
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
#if RPO_SIMD_BYTES == 64
    /* AVX-512 scales by 2^n in one instruction, subnormals included */
    (void)ni;
    return (vf32)_mm512_scalef_ps((__m512)p, (__m512)n);
#else
    /* n >= -150 here, so both halves are normal powers of two. */
    vi32 n1 = ni >> 1, n2 = ni - n1;
    vf32 s1 = (vf32)((n1 + 127) << 23), s2 = (vf32)((n2 + 127) << 23);
    return p * s1 * s2;
#endif
}

/* log1p(t) = k + 2 s P(s^2) with s = num / den and k = 0 or ln 2 (see the
 * top). Split so that a caller with another division to do can share it. */
typedef struct log1p_parts_f32 {
    vf32 num, den, k;
} log1p_parts_f32;

static inline log1p_parts_f32 log1p_split_f32(vf32 t)
{
    const float sqrt2_m1 = 0.414213562f;
    const float ln2 = 0.693147181f;
    const vi32 big = t > sqrt2_m1;
    log1p_parts_f32 q;
    q.num = select_f32(big, t - 1.0f, t);
    q.den = select_f32(big, t + 3.0f, t + 2.0f);
    q.k = keep_f32(big, (vf32){0} + ln2);
    return q;
}

static inline vf32 log1p_finish_f32(const log1p_parts_f32 *q, vf32 s)
{
    const vf32 s2 = s * s;
    vf32 p = (vf32){0} + (1.0f / 9.0f);
    p = p * s2 + (1.0f / 7.0f);
    p = p * s2 + (1.0f / 5.0f);
    p = p * s2 + (1.0f / 3.0f);
    p = p * s2 + 1.0f;
    return q->k + 2.0f * s * p;
}

/* ---------------------------------------------------------- double */

static inline vf64 exp_nonpos_f64(vf64 x)
{
    const double log2e = 1.4426950408889634;
    const double ln2_hi = 6.93147180369123816490e-01; /* 32 significant bits */
    const double ln2_lo = 1.90821492927058770002e-10;
    const double round_magic = 0x1.8p52;
    x = select_f64(x < -746.0, (vf64){0} - 746.0, x);
    vf64 t = x * log2e + round_magic;
    vf64 n = t - round_magic;
    vi64 ni = (vi64)t - (vi64)((vf64){0} + round_magic);
    vf64 r = x - n * ln2_hi;
    r = r - n * ln2_lo;
    vf64 p = (vf64){0} + 1.0 / 6227020800.0;  /* 1/13! */
    p = p * r + 1.0 / 479001600.0;            /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
#if RPO_SIMD_BYTES == 64
    (void)ni;
    return (vf64)_mm512_scalef_pd((__m512d)p, (__m512d)n);
#else
    /* n >= -1077 here, so both halves are normal powers of two. */
    vi64 n1 = ni >> 1, n2 = ni - n1;
    vf64 s1 = (vf64)((n1 + 1023) << 52), s2 = (vf64)((n2 + 1023) << 52);
    return p * s1 * s2;
#endif
}

typedef struct log1p_parts_f64 {
    vf64 num, den, k;
} log1p_parts_f64;

static inline log1p_parts_f64 log1p_split_f64(vf64 t)
{
    const double sqrt2_m1 = 0.41421356237309505;
    const double ln2 = 0.69314718055994531;
    const vi64 big = t > sqrt2_m1;
    log1p_parts_f64 q;
    q.num = select_f64(big, t - 1.0, t);
    q.den = select_f64(big, t + 3.0, t + 2.0);
    q.k = keep_f64(big, (vf64){0} + ln2);
    return q;
}

static inline vf64 log1p_finish_f64(const log1p_parts_f64 *q, vf64 s)
{
    const vf64 s2 = s * s;
    vf64 p = (vf64){0} + 1.0 / 19.0;
    p = p * s2 + 1.0 / 17.0;
    p = p * s2 + 1.0 / 15.0;
    p = p * s2 + 1.0 / 13.0;
    p = p * s2 + 1.0 / 11.0;
    p = p * s2 + 1.0 / 9.0;
    p = p * s2 + 1.0 / 7.0;
    p = p * s2 + 1.0 / 5.0;
    p = p * s2 + 1.0 / 3.0;
    p = p * s2 + 1.0;
    return q->k + 2.0 * s * p;
}

#endif /* RPO_VMATH_H */
