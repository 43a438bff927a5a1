/* The three weightings of the paper, optimal transport, and the caller's
 * own matrix. */
#include <string.h>

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

/* W_ij = softmax_j(-(1 - cos_ij) / tau): similarities, then the softmax
 * kernel in place (lib/kernels/simd/weights_softmax.h says how it stays stable). */
static void embedding_rows(const rpo_weight_source *src, size_t i0,
                           size_t rows, void *w, void *sim_scratch)
{
    const size_t n = src->n;
    rpo_similarity_rows(src->sim, i0, rows, w, n, sim_scratch, 0);
    if (src->softmax != NULL)
        src->softmax(rows, n, w, n, w, n, src->tau);
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
    src->softmax(rows, n, w, n, w, n, src->tau);
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
    default: /* RPO_WEIGHTING_CALLER */
        if (src->caller.type == src->type) {
            const size_t elem = src->type == RPO_F32 ? sizeof(float) : sizeof(double);
            return (const char *)src->caller.data + i0 * n * elem;
        }
        /* float32 weights in a double computation */
        (void)rpo_in_load(src->caller, i0 * n, rows * n, panel, NULL);
        return panel;
    }
}
