/*
 * Weight matrix rows: W_ij for a block of rows, whatever the weighting.
 *
 * The engine and rpo_weights_* both ask for W one row block at a time, so
 * the M x N matrix exists only when the caller asked for it.
 */
#ifndef RPO_WEIGHTS_H
#define RPO_WEIGHTS_H

#include <stddef.h>

#include "arrays.h"

/* Besides the public RPO_WEIGHTING_* values: weights the caller supplies
 * (rpo_loss_weighted_*). Internal, never accepted as a setting. */
#define RPO_WEIGHTING_CALLER (-1)

typedef struct rpo_weight_source {
    int weighting;      /* RPO_WEIGHTING_* or RPO_WEIGHTING_CALLER          */
    double alpha;       /* DIAGONAL: W_ii                                   */
    double tau;         /* EMBEDDING: softmax temperature                   */
    size_t row_offset;  /* DIAGONAL: global index of local row 0, so a row
                           block of a larger problem finds its diagonal     */
    size_t d;           /* EMBEDDING: (M, d) e and (N, d) f, normalised    */
    const double *e;
    const double *f;
    rpo_in caller;      /* CALLER: (M, N) row-major                         */
} rpo_weight_source;

/* w (rows, n) = rows i0 .. i0 + rows - 1 of W. RPO_OK, or
 * RPO_ERR_NONFINITE when caller weights hold NaN or infinity. */
int rpo_weight_rows(const rpo_weight_source *src, size_t i0, size_t rows,
                    size_t n, double *w);

#endif /* RPO_WEIGHTS_H */
