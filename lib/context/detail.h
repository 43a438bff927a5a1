/*
 * Error details that point into the caller's arrays (rpo_ctx_error_detail):
 * "policy_chosen[2] is NaN", "grad_chosen[3] = 4e+38 is beyond float32's
 * range". The fast checks only learn that something is wrong; these run on
 * the failure path alone and look again, element by element, to name it.
 */
#ifndef RPO_DETAIL_H
#define RPO_DETAIL_H

#include <stddef.h>

#include "arrays.h"
#include "context.h"

/* "NaN", "inf" or "-inf": how a detail names a value that is not finite. */
const char *rpo_nonfinite_name(double x);

/* RPO_OK when the count elements of the vector src are finite; otherwise
 * records "name[k] is NaN" (or inf, -inf) for the first that is not and
 * returns RPO_ERR_NONFINITE. */
int rpo_check_finite_vector(rpo_ctx *ctx, const char *name, rpo_in src,
                            size_t count);

/* The same for rows [row0, row0 + rows) of a matrix whose rows start
 * stride elements apart and hold cols values: "name[i, j] is inf". */
int rpo_check_finite_rows(rpo_ctx *ctx, const char *name, rpo_in src,
                          size_t row0, size_t rows, size_t cols, size_t stride);

/* After rpo_out_fits said no for values (count doubles, cols per row; cols
 * 0 for a vector) bound for an output of the given type: records the first
 * value that does not fit ("name[k] = 5e+38 is beyond float32's range")
 * and returns RPO_ERR_RANGE. */
int rpo_fail_range(rpo_ctx *ctx, const char *name, rpo_dtype type,
                   const double *values, size_t count, size_t cols);

#endif /* RPO_DETAIL_H */
