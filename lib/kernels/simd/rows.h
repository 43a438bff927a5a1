/*
 * Row-wise helpers of the embedding preparation, vectorised: the sum of
 * squares behind each row norm, and the normalised copy of a row.
 *
 * Template: included once per element type by instantiate.h; the input has
 * the element type.
 *
 * Squares are summed in double lanes whatever the element type: a float
 * squared cannot overflow or underflow a double, so float rows need no
 * rescaling at all (embed.c handles the double rows that overflow).
 */

static double TNAME(sumsq)(const void *x_, size_t d)
{
    const REAL *x = x_;
    vf64 acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
    size_t k = 0;
    for (; k + 4 * VL64 <= d; k += 4 * VL64) {
        const vf64 u0 = TNAME(load_wide)(x + k), u1 = TNAME(load_wide)(x + k + VL64);
        const vf64 u2 = TNAME(load_wide)(x + k + 2 * VL64), u3 = TNAME(load_wide)(x + k + 3 * VL64);
        acc0 += u0 * u0;
        acc1 += u1 * u1;
        acc2 += u2 * u2;
        acc3 += u3 * u3;
    }
    double ss = hsum_f64((acc0 + acc1) + (acc2 + acc3));
    for (; k < d; k++)
        ss += (double)x[k] * (double)x[k];
    return ss;
}

/* out (d) = x (d) * inv, rounded to the element type. */
static void TNAME(scale)(const void *x_, size_t d, double inv, void *out_)
{
    const REAL *x = x_;
    REAL *out = out_;
    const REAL s = (REAL)inv;
    size_t k = 0;
    for (; k + VLR <= d; k += VLR)
        TNAME(store)(out + k, TNAME(load)(x + k) * s);
    for (; k < d; k++)
        out[k] = x[k] * s;
}
