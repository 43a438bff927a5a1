/* Error details that name an element of the caller's arrays. */
#include <math.h>
#include <stdio.h>

#include "detail.h"
#include "rpo.h"

const char *rpo_nonfinite_name(double x)
{
    return isnan(x) ? "NaN" : x > 0 ? "inf" : "-inf";
}

int rpo_check_finite_vector(rpo_ctx *ctx, const char *name, rpo_in src,
                            size_t count)
{
    for (size_t k = 0; k < count; k++) {
        const double x = rpo_in_at(src, k);
        if (!isfinite(x))
            return rpo_fail(ctx, RPO_ERR_NONFINITE, "%s[%zu] is %s", name, k,
                            rpo_nonfinite_name(x));
    }
    return RPO_OK;
}

int rpo_check_finite_rows(rpo_ctx *ctx, const char *name, rpo_in src,
                          size_t row0, size_t rows, size_t cols, size_t stride)
{
    for (size_t i = row0; i < row0 + rows; i++)
        for (size_t j = 0; j < cols; j++) {
            const double x = rpo_in_at(src, i * stride + j);
            if (!isfinite(x))
                return rpo_fail(ctx, RPO_ERR_NONFINITE, "%s[%zu, %zu] is %s",
                                name, i, j, rpo_nonfinite_name(x));
        }
    return RPO_OK;
}

int rpo_fail_range(rpo_ctx *ctx, const char *name, rpo_dtype type,
                   const double *values, size_t count, size_t cols)
{
    const char *type_name = type == RPO_F32 ? "float32" : "float64";
    size_t k = 0;
    while (k + 1 < count && rpo_out_fits(type, &values[k], 1))
        k++;
    char where[64];
    if (count == 1)
        where[0] = '\0';
    else if (cols == 0)
        (void)snprintf(where, sizeof where, "[%zu]", k);
    else
        (void)snprintf(where, sizeof where, "[%zu, %zu]", k / cols, k % cols);
    if (isfinite(values[k]))
        return rpo_fail(ctx, RPO_ERR_RANGE, "%s%s = %g is beyond %s's range",
                        name, where, values[k], type_name);
    return rpo_fail(ctx, RPO_ERR_RANGE, "%s%s would be %s in %s", name, where,
                    rpo_nonfinite_name(values[k]), type_name);
}
