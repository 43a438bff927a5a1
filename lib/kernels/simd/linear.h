/*
 * The softmax side of the fused linear log-probs
 * (lib/tokens/fused_linear_run.c), on one chunk of logits s (rows, n) = hidden . weight^T at a time.
 *
 * Template: included once per element type by instantiate.h.
 *
 * Both kernels first add the bias to the chunk in place, x = s + bias, in
 * the element type, so that the forward, its target pick and the backward
 * all see the same x. The exponentials run in vector lanes of the element
 * type; each row's sum goes to double once per chunk, so a float row of a
 * 50 000-word vocabulary still sums to double accuracy across chunks.
 */

static void TNAME(add_bias)(REAL *x, const REAL *bias, size_t n)
{
    size_t j = 0;
    for (; j + VLR <= n; j += VLR)
        TNAME(store)(x + j, TNAME(load)(x + j) + TNAME(load)(bias + j));
    if (j < n)
        TNAME(store_part)(x + j, TNAME(load_part)(x + j, n - j) +
                                     TNAME(load_part)(bias + j, n - j), n - j);
}

/* For each row r: x = s_r + bias (bias may be NULL), written back into s;
 * row_max[r] = max_j x_j and row_sum[r] = sum_j exp(x_j - row_max[r]).
 * A NaN or infinite x leaves row_max[r] or row_sum[r] non-finite. */
static void TNAME(chunk_lse)(size_t rows, size_t n, void *s_, size_t lds,
                             const void *bias_, double *row_max,
                             double *row_sum)
{
    REAL *s = s_;
    const REAL *bias = bias_;
    const size_t full = n / VLR * VLR, rest = n - full;
    const VMASK tail = FIRST_LANES(rest);
    for (size_t r = 0; r < rows; r++) {
        REAL *x = s + r * lds;
        if (bias != NULL)
            TNAME(add_bias)(x, bias, n);
        VREAL vmax = (VREAL){0} + x[0];
        for (size_t j = 0; j < full; j += VLR)
            vmax = TNAME(max)(vmax, TNAME(load)(x + j));
        if (rest)
            vmax = TNAME(max)(vmax, TNAME(select)(tail, TNAME(load_part)(x + full, rest),
                                                  (VREAL){0} + x[0]));
        const REAL top = TNAME(hmax)(vmax);
        /* x * 0 is 0 for finite x and NaN for NaN or +-infinity: it makes
         * a -infinity logit (an overflow, exp of it 0) show in the sum */
        const VREAL zero = {0};
        VREAL sum = {0};
        for (size_t j = 0; j < full; j += VLR) {
            const VREAL xj = TNAME(load)(x + j);
            sum += TNAME(exp_nonpos)(xj - top) + xj * zero;
        }
        if (rest) {
            const VREAL xj = TNAME(select)(tail, TNAME(load_part)(x + full, rest), zero);
            sum += TNAME(keep)(tail, TNAME(exp_nonpos)(xj - top)) + xj * zero;
        }
        row_max[r] = (double)top;
        row_sum[r] = TNAME(hsum)(sum);
    }
}

/* The gradient of the chunk's log-probs with respect to its logits, in
 * place: for each row r, with x = s_r + bias (bias may be NULL),
 *   g_j = dlogp[r] * ([j == col[r]] - exp(min(x_j - lse[r], 0)))
 * col[r] is the target's column in the chunk, or negative when the target
 * lies in another chunk. The min keeps every softmax entry in [0, 1]
 * whatever lse the caller passed, so |g_j| <= |dlogp[r]|. */
static void TNAME(chunk_grad)(size_t rows, size_t n, void *s_, size_t lds,
                              const void *bias_, const double *lse,
                              const double *dlogp, const ptrdiff_t *col)
{
    REAL *s = s_;
    const REAL *bias = bias_;
    const size_t full = n / VLR * VLR, rest = n - full;
    const VREAL zero = {0};
    for (size_t r = 0; r < rows; r++) {
        REAL *x = s + r * lds;
        if (bias != NULL)
            TNAME(add_bias)(x, bias, n);
        const REAL l = (REAL)lse[r], d = (REAL)dlogp[r];
        for (size_t j = 0; j < full; j += VLR) {
            const VREAL gap = TNAME(max)((VREAL){0} + l - TNAME(load)(x + j), zero);
            TNAME(store)(x + j, -d * TNAME(exp_nonpos)(-gap));
        }
        if (rest) {
            const VREAL gap = TNAME(max)((VREAL){0} + l - TNAME(load_part)(x + full, rest), zero);
            TNAME(store_part)(x + full, -d * TNAME(exp_nonpos)(-gap), rest);
        }
        if (col[r] >= 0)
            x[col[r]] += d;
    }
}
