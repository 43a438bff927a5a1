/* The three weightings of the paper, optimal transport, and the caller's
 * own matrix. */
#include <math.h>
#include <string.h>

#include "contrasts.h"
#include "rpo.h"
#include "weights.h"

static void set(rpo_dtype type, void *w, size_t at, double value)
{
    if (type == RPO_F32)
        ((float *)w)[at] = (float)value;
    else
        ((double *)w)[at] = value;
}

void rpo_uniform_row(rpo_dtype type, size_t n, void *row)
{
    const double v = 1.0 / (double)n;
    for (size_t j = 0; j < n; j++)
        set(type, row, j, v);
}

/* W_ii = alpha, the rest of the row shares 1 - alpha. With one column the
 * reference divides by N - 1 = 0; we define that row as plain DPO, W = 1. */
static void diagonal_rows(const rpo_weight_source *src, size_t i0,
                          size_t rows, void *w)
{
    const size_t n = src->n;
    const double on = n == 1 ? 1.0 : src->alpha;
    const double off = n == 1 ? 0.0 : (1.0 - src->alpha) / (double)(n - 1);
    for (size_t r = 0; r < rows; r++) {
        const size_t diag = src->row_offset + i0 + r;
        if (src->type == RPO_F32) {
            float *row = (float *)w + r * n;
            for (size_t j = 0; j < n; j++)
                row[j] = (float)off;
            if (diag < n)
                row[diag] = (float)on;
        } else {
            double *row = (double *)w + r * n;
            for (size_t j = 0; j < n; j++)
                row[j] = off;
            if (diag < n)
                row[diag] = on;
        }
    }
}

/* Rows i0 .. of W at w (row stride ldw) were formed: their diagonal
 * weights, and for the caller's weights their entropies (softmax rows
 * have theirs from the kernel). */
static void record_rows(const rpo_weight_source *src, size_t i0, size_t rows,
                        const void *w, size_t ldw)
{
    const size_t elem = src->type == RPO_F32 ? sizeof(float) : sizeof(double);
    for (size_t r = 0; r < rows; r++) {
        const char *row = (const char *)w + r * ldw * elem;
        if (src->row_diag != NULL) {
            const size_t diag = src->row_offset + i0 + r;
            src->row_diag[i0 + r] = src->type == RPO_F32
                                        ? (double)((const float *)row)[diag]
                                        : ((const double *)row)[diag];
        }
        if (src->row_entropy != NULL && src->weighting == RPO_WEIGHTING_CALLER)
            src->row_entropy[i0 + r] = rpo_caller_row_entropy(src->type, row, src->n);
    }
}

void rpo_embedding_softmax(const rpo_weight_source *src, size_t i0,
                           size_t rows, void *panel)
{
    const size_t n = src->n;
    if (src->softmax == NULL)
        return;
    double *entropy = src->row_entropy != NULL ? src->row_entropy + i0 : NULL;
    if (src->target > 0.0) {
        const size_t elem = src->type == RPO_F32 ? sizeof(float) : sizeof(double);
        for (size_t r = 0; r < rows; r++) {
            char *row = (char *)panel + r * n * elem;
            const double tau = rpo_solve_row_tau(src->row_entropy_at, src->type, row, n,
                                                 src->target, src->tau);
            src->row_tau[i0 + r] = tau;
            src->softmax(1, n, row, n, row, n, tau, entropy != NULL ? entropy + r : NULL);
        }
    } else {
        src->softmax(rows, n, panel, n, panel, n, src->tau, entropy);
    }
    record_rows(src, i0, rows, panel, n);
}

/* W_ij = softmax_j(-(1 - cos_ij) / tau): similarities, then the softmax
 * kernel in place (lib/kernels/simd/weights_softmax.h says how it stays stable). */
static void embedding_rows(const rpo_weight_source *src, size_t i0,
                           size_t rows, void *w, void *sim_scratch)
{
    rpo_similarity_rows(src->sim, i0, rows, w, src->n, sim_scratch, 0);
    rpo_embedding_softmax(src, i0, rows, w);
}

/* W_ij = softmax_j((cos_ij + g_j) / tau), the rows of the transport plan
 * rescaled (sinkhorn.h); the cosines come from the iterations' copy. */
static void sinkhorn_rows(const rpo_weight_source *src, size_t i0, size_t rows,
                          double *w)
{
    const size_t n = src->n;
    memcpy(w, src->cos + i0 * n, rows * n * sizeof *w);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            w[r * n + j] += src->col_bias[j];
    src->softmax(rows, n, w, n, w, n, src->tau,
                 src->row_entropy != NULL ? src->row_entropy + i0 : NULL);
    record_rows(src, i0, rows, w, n);
}

const void *rpo_weight_rows(const rpo_weight_source *src, size_t i0,
                            size_t rows, void *panel, void *sim_scratch,
                            size_t *ldw)
{
    const size_t n = src->n;
    *ldw = n;
    switch (src->weighting) {
    case RPO_WEIGHTING_UNIFORM:
        *ldw = 0;
        return src->uniform_row;
    case RPO_WEIGHTING_DIAGONAL:
        diagonal_rows(src, i0, rows, panel);
        return panel;
    case RPO_WEIGHTING_EMBEDDING:
        embedding_rows(src, i0, rows, panel, sim_scratch);
        return panel;
    case RPO_WEIGHTING_SINKHORN:
        sinkhorn_rows(src, i0, rows, panel);
        return panel;
    default: { /* RPO_WEIGHTING_CALLER */
        const void *w = panel;
        if (src->caller.type == src->type) {
            const size_t elem = src->type == RPO_F32 ? sizeof(float) : sizeof(double);
            w = (const char *)src->caller.data + i0 * n * elem;
        } else {  /* float32 weights in a double computation */
            rpo_widen_f32((const float *)src->caller.data + i0 * n, rows * n, panel);
        }
        record_rows(src, i0, rows, w, n);
        return w;
    }
    }
}

void rpo_weight_shape_shares(const rpo_weight_source *src, size_t m,
                             size_t m_total, double *contrasts, double *diagonal)
{
    const size_t n = src->n;
    double c = 0.0, d = 0.0;
    if (src->weighting == RPO_WEIGHTING_UNIFORM) {
        c = (double)m * (double)n;
        d = src->square ? (double)m / (double)n : 0.0;
    } else if (src->weighting == RPO_WEIGHTING_DIAGONAL) {  /* always square */
        c = (double)m * exp(rpo_diagonal_row_entropy(src->alpha, n));
        d = (double)m * (n == 1 ? 1.0 : src->alpha);
    } else {
        for (size_t i = 0; i < m; i++)
            c += exp(src->row_entropy[i]);
        if (src->row_diag != NULL && src->weighting == RPO_WEIGHTING_CALLER) {
            /* The caller's weights may be as large as the type allows, so
             * their sum may overflow where their share cannot: divide each
             * first, and keep the rounded share within the largest entry's
             * magnitude, which bounds the exact one (m <= m_total). */
            double big = 0.0;
            for (size_t i = 0; i < m; i++) {
                d += src->row_diag[i] / (double)m_total;
                big = fmax(big, fabs(src->row_diag[i]));
            }
            *contrasts = c / (double)m_total;
            *diagonal = fmin(fmax(d, -big), big);
            return;
        }
        if (src->row_diag != NULL)  /* softmax and Sinkhorn rows: W_ii <= 1 */
            for (size_t i = 0; i < m; i++)
                d += src->row_diag[i];
    }
    *contrasts = c / (double)m_total;
    *diagonal = d / (double)m_total;
}
