/* Row norms of the embeddings. */
#include <float.h>
#include <math.h>

#include "embed.h"

/* ||x||_2 for finite x, without spurious overflow or underflow, given its
 * plain sum of squares ss. That is exact enough when it neither overflowed
 * nor lost range to underflow; otherwise we redo it scaled by the largest
 * magnitude, as LAPACK's dnrm2 does. Entries near DBL_MAX can make a length
 * beyond DBL_MAX: then the result is -||x 2^-32||, negative to say that the
 * row is to be scaled by 2^-32 first (exact at that magnitude, and it keeps
 * the direction; embed.h). NaN or infinity in x gives NaN or infinity. */
static double norm2_f64(const double *x, size_t d, double ss)
{
    if (ss >= DBL_MIN && ss <= DBL_MAX)
        return sqrt(ss);
    double amax = 0.0;
    for (size_t k = 0; k < d; k++)
        amax = fmax(amax, fabs(x[k]));
    if (amax == 0.0 || !(amax <= DBL_MAX))
        return ss;  /* 0, or the inf / NaN the sum already holds */
    double scaled = 0.0;
    for (size_t k = 0; k < d; k++) {
        double q = x[k] / amax;
        scaled += q * q;
    }
    const double norm = amax * sqrt(scaled);
    return norm <= DBL_MAX ? norm : -((amax * RPO_ROW_PRESCALE) * sqrt(scaled));
}

int rpo_row_norms(const rpo_kernels *k, rpo_in src, size_t i0, size_t rows,
                  size_t d, double *denom)
{
    double acc = 0.0;
    for (size_t i = i0; i < i0 + rows; i++) {
        double norm;
        if (src.type == RPO_F32) {
            /* a float squared fits a double with room to spare (FLT_MAX^2
             * is about 1e77, the smallest float squared about 2e-90): the
             * plain sum in double neither overflows nor underflows */
            norm = sqrt(k->f32.sumsq((const float *)src.data + i * d, d));
        } else {
            const double *x = (const double *)src.data + i * d;
            norm = norm2_f64(x, d, k->f64.sumsq(x, d));
        }
        acc += norm - norm;  /* NaN once any row held NaN or infinity */
        denom[i] = norm < 0.0 ? norm : fmax(norm, RPO_NORM_FLOOR);
    }
    return acc == 0.0;
}
