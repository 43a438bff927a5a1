/* Conversions between the caller's float32/float64 arrays and double. */
#include <math.h>
#include <string.h>

#include "arrays.h"
#include "rpo.h"

int rpo_in_all_finite(rpo_in src, size_t offset, size_t count)
{
    /* Summing x - x over the array is 0 exactly when every x is finite
     * (inf - inf and NaN give NaN), and it runs branch-free. */
    if (src.type == RPO_F32) {
        const float *p = (const float *)src.data + offset;
        float acc = 0.0f;
        for (size_t k = 0; k < count; k++)
            acc += p[k] - p[k];
        return acc == 0.0f;
    }
    const double *p = (const double *)src.data + offset;
    double acc = 0.0;
    for (size_t k = 0; k < count; k++)
        acc += p[k] - p[k];
    return acc == 0.0;
}

double rpo_in_max_abs(rpo_in src, size_t offset, size_t count)
{
    if (!rpo_in_all_finite(src, offset, count))
        return HUGE_VAL;
    double top = 0.0;
    if (src.type == RPO_F32) {
        const float *p = (const float *)src.data + offset;
        float m = 0.0f;
        for (size_t k = 0; k < count; k++)
            m = fabsf(p[k]) > m ? fabsf(p[k]) : m;
        top = (double)m;
    } else {
        const double *p = (const double *)src.data + offset;
        for (size_t k = 0; k < count; k++)
            top = fabs(p[k]) > top ? fabs(p[k]) : top;
    }
    return top;
}

void rpo_widen_f32(const float *src, size_t count, double *dst)
{
    for (size_t k = 0; k < count; k++)
        dst[k] = (double)src[k];
}

int rpo_log_ratios(rpo_in policy, rpo_in ref, size_t count, double *out)
{
    if (!rpo_in_all_finite(policy, 0, count))
        return 0;
    if (ref.data != NULL && !rpo_in_all_finite(ref, 0, count))
        return 0;
    for (size_t k = 0; k < count; k++) {
        double r = ref.data != NULL ? rpo_in_at(ref, k) : 0.0;
        out[k] = rpo_in_at(policy, k) - r;
    }
    return 1;
}

/* Doubles below this in magnitude round to a finite float32 (FLT_MAX plus
 * half an ulp; the tie rounds to even, which is infinity). Comparing avoids
 * relying on the out-of-range conversion, which ISO C leaves undefined. */
#define F32_ROUNDS_FINITE 0x1.ffffffp+127

int rpo_out_fits(rpo_dtype type, const double *src, size_t count)
{
    if (type == RPO_F32) {
        int ok = 1;
        for (size_t k = 0; k < count; k++)
            ok &= fabs(src[k]) < F32_ROUNDS_FINITE; /* false for NaN too */
        return ok;
    }
    double acc = 0.0;
    for (size_t k = 0; k < count; k++)
        acc += src[k] - src[k];
    return acc == 0.0;
}

void rpo_out_store(rpo_out dst, size_t offset, const double *src, size_t count)
{
    if (dst.type == RPO_F32) {
        float *p = (float *)dst.data + offset;
        for (size_t k = 0; k < count; k++)
            p[k] = (float)src[k];
    } else {
        memmove((double *)dst.data + offset, src, count * sizeof *src);
    }
}

void rpo_out_zero(rpo_out dst, size_t offset, size_t count)
{
    if (dst.type == RPO_F32) {
        float *p = (float *)dst.data + offset;
        for (size_t k = 0; k < count; k++)
            p[k] = 0.0f;
    } else {
        double *p = (double *)dst.data + offset;
        for (size_t k = 0; k < count; k++)
            p[k] = 0.0;
    }
}

double rpo_in_mean(rpo_in src, size_t count)
{
    double sum = 0.0;
    for (size_t k = 0; k < count; k++)
        sum += rpo_in_at(src, k);
    return count > 0 ? sum / (double)count : 0.0;
}
