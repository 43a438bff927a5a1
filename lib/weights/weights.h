/*
 * Weight matrix rows: W_ij for a block of rows, whatever the weighting, in
 * the compute type (float for the float32 entry points, double for float64).
 *
 * The engine asks for W one row block at a time, so the M x N matrix
 * exists only when the caller asked for it (rpo_weights_*).
 */
#ifndef RPO_WEIGHTS_H
#define RPO_WEIGHTS_H

#include <stddef.h>

#include "arrays.h"
#include "kernels.h"
#include "similarity.h"

/* Besides the public RPO_WEIGHTING_* values: weights the caller supplies
 * (rpo_loss_weighted_*). Internal, never accepted as a setting. */
#define RPO_WEIGHTING_CALLER (-1)

typedef struct rpo_weight_source {
    int weighting;      /* RPO_WEIGHTING_* or RPO_WEIGHTING_CALLER          */
    rpo_dtype type;     /* compute type of the rows handed out              */
    size_t n;           /* columns                                          */
    double alpha;       /* DIAGONAL: W_ii                                   */
    size_t row_offset;  /* DIAGONAL: global index of local row 0, so a row
                           block of a larger problem finds its diagonal     */
    double tau;         /* EMBEDDING: softmax temperature                   */
    const rpo_similarity *sim;     /* EMBEDDING                             */
    rpo_softmax_fn softmax;        /* EMBEDDING: kernel of the compute type;
                                      NULL: the similarities themselves     */
    const void *uniform_row;       /* UNIFORM: (n) of 1/N                   */
    /* SINKHORN (always computed in double): the plan's rows are the
     * softmax of cos_ij + g_j (sinkhorn.h), from what its iterations kept */
    const double *cos;             /* (M, n) cosine similarities            */
    const double *col_bias;        /* (n) the column potentials g           */
    rpo_in caller;      /* CALLER: (M, N) row-major, already checked finite */
    /* EMBEDDING with a target number of effective contrasts k > 0
     * (RPO_PARAM_TARGET_CONTRASTS): each row's temperature is solved
     * (contrasts.h) and written to row_tau (M), which the backward reads;
     * k == 0: tau for every row, row_tau unused */
    double target;
    double *row_tau;
    rpo_row_entropy_fn row_entropy_at;  /* the solve's kernel (kernels.h) */
    /* The shape of W (RPO_STAT_EFFECTIVE_CONTRASTS, _DIAGONAL_WEIGHT),
     * written row by row as rows are formed; NULL: not recorded.
     * row_entropy (M): EMBEDDING, SINKHORN and CALLER rows (UNIFORM and
     * DIAGONAL have closed forms); row_diag (M): W_ii of every weighting
     * but UNIFORM and DIAGONAL, when W is square (the whole problem's
     * m == n), at column row_offset + i */
    double *row_entropy;
    double *row_diag;
    int square;         /* the whole problem's m == n: W has a diagonal */
} rpo_weight_source;

/* Row i0 .. i0 + rows - 1 of W. Returns where they are, with their row
 * stride in *ldw (0: one row serves every row): in panel (rows, n), which
 * may be written, or in an array of the source. sim_scratch serves the
 * similarity product: the packed tiles of TILES, rpo_packed_count(rows, d,
 * mr) elements as the plan reserves them (engine/plan.c). A block whose
 * similarities are computed elsewhere (stream.c's shared blocks) only needs
 * the softmax kernel of the source. */
const void *rpo_weight_rows(const rpo_weight_source *src, size_t i0,
                            size_t rows, void *panel, void *sim_scratch,
                            size_t *ldw);

/* EMBEDDING rows i0 .. i0 + rows - 1 in place in panel (rows, n): their
 * similarities on entry, their weights on return (the softmax with tau,
 * or with each row's solved temperature), their shape recorded. Every
 * path that turns similarities into EMBEDDING weights goes through here;
 * nothing happens when the source has no softmax (similarities only). */
void rpo_embedding_softmax(const rpo_weight_source *src, size_t i0,
                           size_t rows, void *panel);

/* The sums over rows 0 .. m - 1 of exp(H_i) and of W_ii (0 when W is not
 * square), from the recorded rows or the closed forms. */
void rpo_weight_shape_sums(const rpo_weight_source *src, size_t m,
                           double *contrasts, double *diagonal);

/* row (n) = 1/N in type: the row UNIFORM hands out. */
void rpo_uniform_row(rpo_dtype type, size_t n, void *row);

#endif /* RPO_WEIGHTS_H */
