/*
 * Row softmax of a block of cosine similarities:
 *     w_ij = exp((s_ij - max_j s_ij) / tau) / sum_j exp(...)
 * which is softmax_j(-(1 - s_ij) / tau): the constant cancels (weights.c
 * says why the maximum is subtracted before dividing by tau).
 *
 * Template: included once per element type by instantiate.h.
 *
 * Three passes over each row while it is in L1: the maximum, the
 * exponentials (stored, and summed in vector lanes that are added into a
 * double every SUM_CHUNK vectors, so a float row of any length sums to
 * double accuracy), and the scaling by 1 / sum.
 *
 * entropy (rows), when not NULL, receives each row's entropy
 * -sum_j w_ij log w_ij. With x_j the scaled exponent and e_j = exp(x_j),
 * log w_j = x_j - log sum, so the entropy is log sum - (sum_j e_j x_j) /
 * sum: one more multiply-add per entry in the exponentials' pass and one
 * log per row, never a log per weight. The weights are the same bits
 * with or without it.
 */

#define SUM_CHUNK 16

static void TNAME(softmax)(size_t rows, size_t n, const void *s_, size_t lds,
                           void *w_, size_t ldw, double tau, double *entropy)
{
    const REAL *s = s_;
    REAL *w = w_;
    const size_t full = n / VLR * VLR, rest = n - full;
    const VMASK tail = FIRST_LANES(rest);
    /* (s - max) * (1 / tau) unless 1 / tau overflows: then divide. */
    const double inv_tau = 1.0 / tau;
    const int divide = !(inv_tau <= (double)REAL_MAX);
    const REAL scale = divide ? (REAL)1 : (REAL)inv_tau;
    const REAL tau_r = (REAL)tau;
    /* An exponent that overflowed to -inf has e = 0 and adds 0 log 0 = 0
     * to the entropy: e * x is taken at max(x, x_floor), never 0 * inf. */
    const VREAL x_floor = (VREAL){0} - (REAL)1e30;

    for (size_t r = 0; r < rows; r++) {
        const REAL *sr = s + r * lds;
        REAL *wr = w + r * ldw;

        VREAL vmax = (VREAL){0} + sr[0];
        for (size_t j = 0; j < full; j += VLR)
            vmax = TNAME(max)(vmax, TNAME(load)(sr + j));
        if (rest)
            vmax = TNAME(max)(vmax, TNAME(select)(tail, TNAME(load_part)(sr + full, rest),
                                                  (VREAL){0} + sr[0]));
        const REAL top = TNAME(hmax)(vmax);

        double sum = 0.0, sum_ex = 0.0;
        VREAL chunk = {0}, chunk_ex = {0};
        for (size_t j = 0; j < full; j += VLR) {
            VREAL x = TNAME(load)(sr + j) - top;
            x = divide ? x / tau_r : x * scale;
            const VREAL e = TNAME(exp_nonpos)(x);
            TNAME(store)(wr + j, e);
            chunk += e;
            if (entropy != NULL)
                chunk_ex += e * TNAME(max)(x, x_floor);
            if ((j / VLR) % SUM_CHUNK == SUM_CHUNK - 1) {
                sum += TNAME(hsum)(chunk);
                chunk = (VREAL){0};
                if (entropy != NULL) {
                    sum_ex += TNAME(hsum)(chunk_ex);
                    chunk_ex = (VREAL){0};
                }
            }
        }
        if (rest) {
            VREAL x = TNAME(load_part)(sr + full, rest) - top;
            x = divide ? x / tau_r : x * scale;
            const VREAL e = TNAME(keep)(tail, TNAME(exp_nonpos)(x));
            TNAME(store_part)(wr + full, e, rest);
            chunk += e;
            if (entropy != NULL)
                chunk_ex += TNAME(keep)(tail, e * TNAME(max)(x, x_floor));
        }
        sum += TNAME(hsum)(chunk);
        if (entropy != NULL)
            entropy[r] = log(sum) - (sum_ex + TNAME(hsum)(chunk_ex)) / sum;

        /* The largest term is exp(0) = 1, so 1 <= sum <= n. */
        const REAL inv_sum = (REAL)(1.0 / sum);
        for (size_t j = 0; j < full; j += VLR)
            TNAME(store)(wr + j, TNAME(load)(wr + j) * inv_sum);
        if (rest)
            TNAME(store_part)(wr + full, TNAME(load_part)(wr + full, rest) * inv_sum, rest);
    }
}

/* The entropy H of the softmax row w_j = exp(t_j) / Z, t_j = beta (s_j -
 * top), and its slope dH/d(log beta) = -Var_w(t), for the temperature
 * solve of lib/weights/contrasts.c: H = log Z - (sum_j e^t_j t_j) / Z.
 * In double lanes whatever the element type (floats are widened), so the
 * solve's tolerance holds for float rows too; top is the row's maximum,
 * so every t_j <= 0 and Z >= 1. */
static void TNAME(row_entropy)(const void *s_, size_t n, double top, double beta,
                               double *entropy, double *slope)
{
    const REAL *s = s_;
    vf64 z = {0}, zt = {0}, ztt = {0};
    size_t j = 0;
    for (; j + VL64 <= n; j += VL64) {
        const vf64 t = (TNAME(load_wide)(s + j) - top) * beta;
        const vf64 e = exp_nonpos_f64(t);
        z += e;
        zt += e * t;
        ztt += e * t * t;
    }
    double z1 = hsum_f64(z), zt1 = hsum_f64(zt), ztt1 = hsum_f64(ztt);
    for (; j < n; j++) {
        const double t = ((double)s[j] - top) * beta;
        const double e = exp(t);
        z1 += e;
        zt1 += e * t;
        ztt1 += e * t * t;
    }
    const double mean = zt1 / z1;
    const double var = ztt1 / z1 - mean * mean;
    *entropy = log(z1) - mean;
    *slope = var > 0.0 ? -var : 0.0;
}

#undef SUM_CHUNK
