/* Embedding normalisation and the similarity kernel. */
#include <float.h>
#include <math.h>

#include "embed.h"

/* The reference's clamp on the norm: rows shorter than this are divided by
 * it instead, so a zero row stays zero (cosine 0 with everything). */
#define NORM_FLOOR 1e-12

/* ||x||_2 for finite x, without spurious overflow or underflow. The plain
 * sum of squares is exact enough and fast; only when it overflowed or lost
 * range to underflow do we redo it scaled by the largest magnitude, as
 * LAPACK's dnrm2 does. */
static double norm2(const double *x, size_t d)
{
    double ss = 0.0;
    for (size_t k = 0; k < d; k++)
        ss += x[k] * x[k];
    if (ss >= DBL_MIN && ss <= DBL_MAX)
        return sqrt(ss);
    double amax = 0.0;
    for (size_t k = 0; k < d; k++)
        amax = fmax(amax, fabs(x[k]));
    if (amax == 0.0)
        return 0.0;
    double scaled = 0.0;
    for (size_t k = 0; k < d; k++) {
        double q = x[k] / amax;
        scaled += q * q;
    }
    return amax * sqrt(scaled);
}

int rpo_normalize_rows(rpo_in src, size_t rows, size_t d, double *dst)
{
    int finite = 1;
    for (size_t i = 0; i < rows; i++) {
        double *row = dst + i * d;
        finite &= rpo_in_load(src, i * d, d, row, NULL);
        double norm = norm2(row, d);
        /* Finite entries near DBL_MAX can make a length beyond DBL_MAX, and
         * dividing by that infinity would silently zero the row. Scaling by
         * a power of two keeps the direction, is exact at that magnitude,
         * and 2^-32 brings any length (at most sqrt(d) DBL_MAX) in range. */
        if (norm > DBL_MAX) {
            for (size_t k = 0; k < d; k++)
                row[k] *= 0x1p-32;
            norm = norm2(row, d);
        }
        double denom = fmax(norm, NORM_FLOOR);
        for (size_t k = 0; k < d; k++)
            row[k] /= denom;
    }
    return finite;
}

static double dot(const double *x, const double *y, size_t d)
{
    double s = 0.0;
    for (size_t k = 0; k < d; k++)
        s += x[k] * y[k];
    return s;
}

void rpo_similarity_block(const double *e, size_t i0, size_t rows,
                          const double *f, size_t n, size_t d, double *sim)
{
    for (size_t r = 0; r < rows; r++) {
        const double *er = e + (i0 + r) * d;
        for (size_t j = 0; j < n; j++)
            sim[r * n + j] = dot(er, f + j * d, d);
    }
}
