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
 */

#define SUM_CHUNK 16

static void TNAME(softmax)(size_t rows, size_t n, const void *s_, size_t lds,
                           void *w_, size_t ldw, double tau)
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

        double sum = 0.0;
        VREAL chunk = {0};
        for (size_t j = 0; j < full; j += VLR) {
            VREAL x = TNAME(load)(sr + j) - top;
            x = divide ? x / tau_r : x * scale;
            const VREAL e = TNAME(exp_nonpos)(x);
            TNAME(store)(wr + j, e);
            chunk += e;
            if ((j / VLR) % SUM_CHUNK == SUM_CHUNK - 1) {
                sum += TNAME(hsum)(chunk);
                chunk = (VREAL){0};
            }
        }
        if (rest) {
            VREAL x = TNAME(load_part)(sr + full, rest) - top;
            x = divide ? x / tau_r : x * scale;
            const VREAL e = TNAME(keep)(tail, TNAME(exp_nonpos)(x));
            TNAME(store_part)(wr + full, e, rest);
            chunk += e;
        }
        sum += TNAME(hsum)(chunk);

        /* The largest term is exp(0) = 1, so 1 <= sum <= n. */
        const REAL inv_sum = (REAL)(1.0 / sum);
        for (size_t j = 0; j < full; j += VLR)
            TNAME(store)(wr + j, TNAME(load)(wr + j) * inv_sum);
        if (rest)
            TNAME(store_part)(wr + full, TNAME(load_part)(wr + full, rest) * inv_sum, rest);
    }
}

#undef SUM_CHUNK
