/*
 * Vector types for the kernels in lib/kernels/simd/, one width per translation unit.
 *
 * Each isa_*.c file defines RPO_SIMD_BYTES (16, 32 or 64) and is compiled
 * with the matching -m flags; the same kernel sources then become SSE2 or
 * NEON, AVX2 or AVX-512 code. The kernels are written with GNU C vector
 * extensions (gcc and clang): arithmetic on vectors is ordinary C operators,
 * a scalar operand is broadcast, comparisons give 0 / -1 lane masks. This
 * header adds the few things operators cannot say: unaligned loads and
 * stores, lane selection, horizontal sums.
 *
 *   vf32 / vi32   RPO_SIMD_BYTES / 4 lanes of float / int32_t   (VL32 lanes)
 *   vf64 / vi64   RPO_SIMD_BYTES / 8 lanes of double / int64_t  (VL64 lanes)
 */
#ifndef RPO_SIMD_H
#define RPO_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if !defined(__GNUC__)
#  error "lib/simd needs GNU C vector extensions (gcc or clang)"
#endif
#ifndef RPO_SIMD_BYTES
#  error "define RPO_SIMD_BYTES before including simd.h"
#endif

#define VL32 (RPO_SIMD_BYTES / 4)
#define VL64 (RPO_SIMD_BYTES / 8)

typedef float vf32 __attribute__((vector_size(RPO_SIMD_BYTES)));
typedef int32_t vi32 __attribute__((vector_size(RPO_SIMD_BYTES)));
typedef double vf64 __attribute__((vector_size(RPO_SIMD_BYTES)));
typedef int64_t vi64 __attribute__((vector_size(RPO_SIMD_BYTES)));

/* The same types with element alignment, for unaligned loads and stores. */
typedef float vf32_u __attribute__((vector_size(RPO_SIMD_BYTES), aligned(4), may_alias));
typedef double vf64_u __attribute__((vector_size(RPO_SIMD_BYTES), aligned(8), may_alias));

static inline vf32 load_f32(const float *p) { return *(const vf32_u *)p; }
static inline vf64 load_f64(const double *p) { return *(const vf64_u *)p; }
static inline void store_f32(float *p, vf32 v) { *(vf32_u *)p = v; }
static inline void store_f64(double *p, vf64 v) { *(vf64_u *)p = v; }

/* VL64 consecutive elements widened to double lanes. */
typedef float vf32_half_u __attribute__((vector_size(RPO_SIMD_BYTES / 2), aligned(4), may_alias));
static inline vf64 load_wide_f32(const float *p)
{
    return __builtin_convertvector(*(const vf32_half_u *)p, vf64);
}
static inline vf64 load_wide_f64(const double *p) { return load_f64(p); }

/* The first count (< lanes) elements of p, the other lanes zero; and the
 * converse store. For the ragged end of a row. */
static inline vf32 load_part_f32(const float *p, size_t count)
{
    vf32 v = {0};
    memcpy(&v, p, count * sizeof *p);
    return v;
}
static inline vf64 load_part_f64(const double *p, size_t count)
{
    vf64 v = {0};
    memcpy(&v, p, count * sizeof *p);
    return v;
}
static inline void store_part_f32(float *p, vf32 v, size_t count)
{
    memcpy(p, &v, count * sizeof *p);
}
static inline void store_part_f64(double *p, vf64 v, size_t count)
{
    memcpy(p, &v, count * sizeof *p);
}

/* Lane masks: -1 in lanes k < count, 0 elsewhere. */
static inline vi32 first_lanes_32(size_t count)
{
    vi32 m;
    for (int l = 0; l < VL32; l++)
        m[l] = (size_t)l < count ? -1 : 0;
    return m;
}
static inline vi64 first_lanes_64(size_t count)
{
    vi64 m;
    for (int l = 0; l < VL64; l++)
        m[l] = (size_t)l < count ? -1 : 0;
    return m;
}

/* mask ? a : b, lane by lane (the vector ?: is C++ only). */
static inline vf32 select_f32(vi32 mask, vf32 a, vf32 b)
{
    return (vf32)(((vi32)a & mask) | ((vi32)b & ~mask));
}
static inline vf64 select_f64(vi64 mask, vf64 a, vf64 b)
{
    return (vf64)(((vi64)a & mask) | ((vi64)b & ~mask));
}

/* a with the lanes outside mask set to +0. */
static inline vf32 keep_f32(vi32 mask, vf32 a) { return (vf32)((vi32)a & mask); }
static inline vf64 keep_f64(vi64 mask, vf64 a) { return (vf64)((vi64)a & mask); }

static inline vf32 abs_f32(vf32 x) { return (vf32)((vi32)x & 0x7fffffff); }
static inline vf64 abs_f64(vf64 x) { return (vf64)((vi64)x & 0x7fffffffffffffffLL); }

/* a > b ? a : b lane by lane (b where either is NaN): exactly what the x86
 * max instructions compute, which compilers do not find in the select. */
#if defined(__x86_64__) && RPO_SIMD_BYTES == 64
#include <immintrin.h>
static inline vf32 max_f32(vf32 a, vf32 b) { return (vf32)_mm512_max_ps((__m512)a, (__m512)b); }
static inline vf64 max_f64(vf64 a, vf64 b) { return (vf64)_mm512_max_pd((__m512d)a, (__m512d)b); }
#elif defined(__x86_64__) && RPO_SIMD_BYTES == 32
#include <immintrin.h>
static inline vf32 max_f32(vf32 a, vf32 b) { return (vf32)_mm256_max_ps((__m256)a, (__m256)b); }
static inline vf64 max_f64(vf64 a, vf64 b) { return (vf64)_mm256_max_pd((__m256d)a, (__m256d)b); }
#elif defined(__x86_64__) && RPO_SIMD_BYTES == 16
#include <emmintrin.h>
static inline vf32 max_f32(vf32 a, vf32 b) { return (vf32)_mm_max_ps((__m128)a, (__m128)b); }
static inline vf64 max_f64(vf64 a, vf64 b) { return (vf64)_mm_max_pd((__m128d)a, (__m128d)b); }
#else
static inline vf32 max_f32(vf32 a, vf32 b) { return select_f32(a > b, a, b); }
static inline vf64 max_f64(vf64 a, vf64 b) { return select_f64(a > b, a, b); }
#endif

/* Streaming (non-temporal) stores: the line goes to memory without being
 * read first or kept in the caches, for large outputs that nothing reads
 * soon. p must be RPO_SIMD_BYTES-aligned. stream_fence() orders them before
 * every later store, so that a thread which joins this one sees them.
 * Elsewhere than on x86-64 they are ordinary stores. */
#if defined(__x86_64__) && RPO_SIMD_BYTES == 64
static inline void stream_f32(float *p, vf32 v) { _mm512_stream_ps(p, (__m512)v); }
static inline void stream_f64(double *p, vf64 v) { _mm512_stream_pd(p, (__m512d)v); }
#elif defined(__x86_64__) && RPO_SIMD_BYTES == 32
static inline void stream_f32(float *p, vf32 v) { _mm256_stream_ps(p, (__m256)v); }
static inline void stream_f64(double *p, vf64 v) { _mm256_stream_pd(p, (__m256d)v); }
#elif defined(__x86_64__) && RPO_SIMD_BYTES == 16
static inline void stream_f32(float *p, vf32 v) { _mm_stream_ps(p, (__m128)v); }
static inline void stream_f64(double *p, vf64 v) { _mm_stream_pd(p, (__m128d)v); }
#else
static inline void stream_f32(float *p, vf32 v) { store_f32(p, v); }
static inline void stream_f64(double *p, vf64 v) { store_f64(p, v); }
#endif
static inline void stream_fence(void)
{
#if defined(__x86_64__)
    _mm_sfence();
#endif
}

/* Sums of the lanes in a fixed order, so a result never depends on anything
 * but the data: halves are added as vectors down to 16 bytes, then the
 * last lanes in double. A tree, so the sum's latency is a few additions
 * rather than one per lane. (Halves are taken lane by lane: copying the
 * vector's bytes would force it out of its register.) */
typedef float f32x4 __attribute__((vector_size(16)));
typedef double f64x2 __attribute__((vector_size(16)));
#if RPO_SIMD_BYTES >= 32
typedef float f32x8 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));
static inline f32x4 fold_f32x8(f32x8 v)
{
    return (f32x4){v[0], v[1], v[2], v[3]} + (f32x4){v[4], v[5], v[6], v[7]};
}
static inline f64x2 fold_f64x4(f64x4 v)
{
    return (f64x2){v[0], v[1]} + (f64x2){v[2], v[3]};
}
#endif
#if RPO_SIMD_BYTES >= 64
static inline f32x8 fold_f32x16(vf32 v)
{
    return (f32x8){v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]} + (f32x8){v[8], v[9], v[10], v[11], v[12], v[13], v[14], v[15]};
}
static inline f64x4 fold_f64x8(vf64 v)
{
    return (f64x4){v[0], v[1], v[2], v[3]} + (f64x4){v[4], v[5], v[6], v[7]};
}
#endif

static inline double hsum_f32(vf32 v)
{
#if RPO_SIMD_BYTES == 64
    const f32x4 q = fold_f32x8(fold_f32x16(v));
#elif RPO_SIMD_BYTES == 32
    const f32x4 q = fold_f32x8(v);
#else
    const f32x4 q = v;
#endif
    return ((double)q[0] + (double)q[2]) + ((double)q[1] + (double)q[3]);
}

static inline double hsum_f64(vf64 v)
{
#if RPO_SIMD_BYTES == 64
    const f64x2 q = fold_f64x4(fold_f64x8(v));
#elif RPO_SIMD_BYTES == 32
    const f64x2 q = fold_f64x4(v);
#else
    const f64x2 q = v;
#endif
    return q[0] + q[1];
}

static inline float hmax_f32(vf32 v)
{
    float m = v[0];
    for (int l = 1; l < VL32; l++)
        m = v[l] > m ? v[l] : m;
    return m;
}
static inline double hmax_f64(vf64 v)
{
    double m = v[0];
    for (int l = 1; l < VL64; l++)
        m = v[l] > m ? v[l] : m;
    return m;
}

#endif /* RPO_SIMD_H */
