/*
 * What the token-level harness files (tokens.c, sequences.c) share: values
 * in both precisions and their placement in guarded memory.
 *
 * Each call of a token-level helper is checked against include/rpo.h's
 * rules for it: the status is one its "Errors" allow for the arguments; on
 * error nothing is written and the context is unchanged; on success the
 * outputs are finite and match a long double recomputation, the context's
 * settings and metrics are unchanged, an aliased output gives the result of
 * separate arrays, and float32 and float64 agree. RPO_ERR_RANGE is accepted
 * only where some magnitude in play approaches the type's limit.
 */
#ifndef RPO_FUZZ_VALUES_H
#define RPO_FUZZ_VALUES_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "contract.h"
#include "guard.h"
#include "harness.h"

/* An array of values in both precisions (the same float32 numbers), plus
 * float64-only extremes when `extra` is set. */
typedef struct values {
    size_t count;
    float *v32;
    double *v64;
} values;

static inline values take_values(reader *r, size_t count, int embedding_like, int extra)
{
    values x;
    x.count = count;
    x.v32 = malloc((count ? count : 1) * sizeof *x.v32);
    x.v64 = malloc((count ? count : 1) * sizeof *x.v64);
    if (x.v32 == NULL || x.v64 == NULL)
        guard_fail_alloc();
    for (size_t k = 0; k < count; k++) {
        x.v32[k] = take_value(r, embedding_like);
        x.v64[k] = (double)x.v32[k];
        if (extra && take_choice(r, 4) == 0)
            x.v64[k] = special_f64[take_choice(r, SPECIAL_F64_COUNT)];
    }
    return x;
}

static inline void free_values(values *x)
{
    free(x->v32);
    free(x->v64);
}

/* x[k] of the precision asked for, as a double. */
static inline double value_at(const values *x, int f32, size_t k)
{
    return f32 ? (double)x->v32[k] : x->v64[k];
}

/* A guarded array holding x in one precision, poisoned, or absent. */
static inline guarded place(const values *x, int f32, int overflow, int absent)
{
    if (absent)
        return guard_absent();
    if (overflow)
        return guard_poisoned();
    return f32 ? guard_copy(x->v32, x->count, sizeof(float))
               : guard_copy(x->v64, x->count, sizeof(double));
}

static inline double at(const guarded *g, int f32, size_t k)
{
    return f32 ? (double)((const float *)g->p)[k] : ((const double *)g->p)[k];
}

static inline double type_max(int f32)
{
    return f32 ? (double)FLT_MAX : DBL_MAX;
}

/* Two sizes whose product overflows size_t. */
static inline void take_overflowing(reader *r, size_t *x, size_t *y)
{
    *x = huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
    *y = huge_sizes[take_choice(r, HUGE_SIZES_COUNT)];
    if (!mul_overflows(*x, *y)) {
        if (*x < 2)
            *x = 2;
        *y = SIZE_MAX;
    }
}

#endif /* RPO_FUZZ_VALUES_H */
