/* The three weightings of the paper, and the caller's own matrix. */
#include <math.h>

#include "embed.h"
#include "rpo.h"
#include "weights.h"

static void uniform_rows(size_t rows, size_t n, double *w)
{
    double v = 1.0 / (double)n;
    for (size_t k = 0; k < rows * n; k++)
        w[k] = v;
}

/* W_ii = alpha, the rest of the row shares 1 - alpha. With one column the
 * reference divides by N - 1 = 0; we define that row as plain DPO, W = 1. */
static void diagonal_rows(double alpha, size_t row_offset, size_t i0,
                          size_t rows, size_t n, double *w)
{
    double on = n == 1 ? 1.0 : alpha;
    double off = n == 1 ? 0.0 : (1.0 - alpha) / (double)(n - 1);
    for (size_t r = 0; r < rows; r++) {
        size_t diag = row_offset + i0 + r;
        for (size_t j = 0; j < n; j++)
            w[r * n + j] = j == diag ? on : off;
    }
}

/* W_ij = softmax_j(-(1 - cos_ij) / tau). The constant -1/tau cancels in the
 * softmax, so we exponentiate (cos_ij - max_j cos_ij) / tau: subtracting
 * before dividing keeps the exponent's rounding relative to the small
 * difference, not to 1/tau, and the largest term is exactly exp(0) = 1, so
 * the sum lies in [1, N] and never overflows or vanishes. */
static void softmax_row(double tau, size_t n, double *row)
{
    double top = row[0];
    for (size_t j = 1; j < n; j++)
        top = fmax(top, row[j]);
    double sum = 0.0;
    for (size_t j = 0; j < n; j++) {
        row[j] = exp((row[j] - top) / tau);
        sum += row[j];
    }
    for (size_t j = 0; j < n; j++)
        row[j] /= sum;
}

static void embedding_rows(const rpo_weight_source *src, size_t i0,
                           size_t rows, size_t n, double *w)
{
    rpo_similarity_block(src->e, i0, rows, src->f, n, src->d, w);
    for (size_t r = 0; r < rows; r++)
        softmax_row(src->tau, n, w + r * n);
}

int rpo_weight_rows(const rpo_weight_source *src, size_t i0, size_t rows,
                    size_t n, double *w)
{
    switch (src->weighting) {
    case RPO_WEIGHTING_UNIFORM:
        uniform_rows(rows, n, w);
        return RPO_OK;
    case RPO_WEIGHTING_DIAGONAL:
        diagonal_rows(src->alpha, src->row_offset, i0, rows, n, w);
        return RPO_OK;
    case RPO_WEIGHTING_EMBEDDING:
        embedding_rows(src, i0, rows, n, w);
        return RPO_OK;
    default: /* RPO_WEIGHTING_CALLER */
        return rpo_in_load(src->caller, i0 * n, rows * n, w, NULL)
                   ? RPO_OK : RPO_ERR_NONFINITE;
    }
}
