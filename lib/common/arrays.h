/*
 * Typed views of the caller's arrays.
 *
 * The public API comes in float32 and float64; the engine computes in the
 * caller's type or in double (engine.c decides). These views carry a caller
 * pointer with its element type, so that one engine serves both entry
 * points and the conversions (with their finiteness and range checks) live
 * in one place.
 */
#ifndef RPO_ARRAYS_H
#define RPO_ARRAYS_H

#include <stddef.h>
#include <stdint.h>

/* 1 when x * y overflows size_t: every (rows, cols) shape is checked with
 * it before an array of that shape is indexed. */
static inline int rpo_mul_overflows(size_t x, size_t y)
{
    return x != 0 && y > SIZE_MAX / x;
}

typedef enum rpo_dtype { RPO_F32, RPO_F64 } rpo_dtype;

/* A read-only caller array; data may be NULL (absent). */
typedef struct rpo_in {
    const void *data;
    rpo_dtype type;
} rpo_in;

/* A caller output array; data may be NULL (not wanted). */
typedef struct rpo_out {
    void *data;
    rpo_dtype type;
} rpo_out;

static inline rpo_in rpo_in_f32(const float *p) { rpo_in a = {p, RPO_F32}; return a; }
static inline rpo_in rpo_in_f64(const double *p) { rpo_in a = {p, RPO_F64}; return a; }
static inline rpo_out rpo_out_f32(float *p) { rpo_out a = {p, RPO_F32}; return a; }
static inline rpo_out rpo_out_f64(double *p) { rpo_out a = {p, RPO_F64}; return a; }

/* Element k of a present array, widened to double. */
static inline double rpo_in_at(rpo_in src, size_t k)
{
    return src.type == RPO_F32 ? (double)((const float *)src.data)[k]
                               : ((const double *)src.data)[k];
}

/* 1 when elements [offset, offset + count) of src are all finite. */
int rpo_in_all_finite(rpo_in src, size_t offset, size_t count);

/* max_k |src[offset + k]| for k < count (0 when count is 0), or +infinity
 * when any of them is NaN or infinite. */
double rpo_in_max_abs(rpo_in src, size_t offset, size_t count);

/* The mean of src[0 .. count - 1] in double; 0 when count is 0. */
double rpo_in_mean(rpo_in src, size_t count);

/* dst[k] = src[k] for k < count, widened to double. */
void rpo_widen_f32(const float *src, size_t count, double *dst);

/* The log-ratios out[k] = policy[k] - ref[k] (ref absent reads as 0).
 * Returns 1 when every input is finite. A difference of finite inputs may
 * still overflow to infinity; the engine's final range check reports it. */
int rpo_log_ratios(rpo_in policy, rpo_in ref, size_t count, double *out);

/* 1 when every src[k] (k < count) survives the conversion to dst's type as
 * a finite value (float32 overflow would give infinity). */
int rpo_out_fits(rpo_dtype type, const double *src, size_t count);

/* Writes src (count doubles) to dst[offset...], narrowing to its type.
 * Call only after rpo_out_fits said yes: this cannot fail. */
void rpo_out_store(rpo_out dst, size_t offset, const double *src, size_t count);

/* Writes count zeros to dst[offset...]. */
void rpo_out_zero(rpo_out dst, size_t offset, size_t count);

#endif /* RPO_ARRAYS_H */
