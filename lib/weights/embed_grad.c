/* Backward through the softmax, the cosines and the row normalisation. */
#include "embed.h"
#include "embed_grad.h"

void rpo_softmax_rows_backward(const double *w, double *g, size_t rows,
                               size_t n, double scale, double tau,
                               const double *row_tau)
{
    for (size_t r = 0; r < rows; r++) {
        const double tau_r = row_tau != NULL ? row_tau[r] : tau;
        const double *wr = w + r * n;
        double *gr = g + r * n;
        double mean = 0.0;   /* sum_k W_ik g_ik: rows of W sum to 1 */
        for (size_t j = 0; j < n; j++)
            mean += wr[j] * gr[j];
        /* scale before dividing by tau: where W_ij (g_ij - mean) is 0 the
         * result stays 0 even for a tau so small that 1/tau overflows */
        for (size_t j = 0; j < n; j++)
            gr[j] = wr[j] * (gr[j] - mean) * scale / tau_r;
    }
}

void rpo_transpose(const double *src, size_t rows, size_t cols, double *dst)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            dst[c * rows + r] = src[r * cols + c];
}

void rpo_cosine_backward(rpo_product_fn dots, const double *gs, size_t rows,
                         size_t n, const double *e_rows, const double *f_t,
                         size_t d, double *de_rows, double *df_part,
                         double *gs_t, double *e_t)
{
    dots(rows, d, n, gs, f_t, de_rows, d, RPO_NOT_SYMMETRIC);
    rpo_transpose(gs, rows, n, gs_t);
    rpo_transpose(e_rows, rows, d, e_t);
    dots(n, d, rows, gs_t, e_t, df_part, d, RPO_NOT_SYMMETRIC);
}

void rpo_normalize_rows_backward(const double *xhat, const double *denoms,
                                 size_t rows, size_t d, double *g)
{
    for (size_t i = 0; i < rows; i++) {
        const double *x = xhat + i * d;
        double *gi = g + i * d;
        /* a row longer than DBL_MAX was normalised as (x 2^-32) / -denom
         * (embed.h): its norm is -denom 2^32, and the 2^-32 applies first
         * (exact at any magnitude that makes such a row) */
        const double denom = denoms[i] < 0.0 ? -denoms[i] : denoms[i];
        const double pre = denoms[i] < 0.0 ? RPO_ROW_PRESCALE : 1.0;
        double along = 0.0;
        if (denom > RPO_NORM_FLOOR)
            for (size_t k = 0; k < d; k++)
                along += x[k] * gi[k];
        for (size_t k = 0; k < d; k++)
            gi[k] = (gi[k] - x[k] * along) * pre / denom;
    }
}
