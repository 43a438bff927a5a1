/*
 * Prompt embeddings: the row norms that normalise them.
 *
 * Rows are L2-normalised as e / max(||e||_2, 1e-12) (a zero row stays zero
 * and has cosine 0 with everything). The normalised rows are never stored
 * as such: pack.c scales each row by its norm while laying it out for the
 * similarity product.
 */
#ifndef RPO_EMBED_H
#define RPO_EMBED_H

#include <stddef.h>

#include "arrays.h"
#include "kernels.h"

/* The reference's clamp on the norm: rows shorter than this are divided by
 * it instead, so a zero row stays zero (cosine 0 with everything). */
#define RPO_NORM_FLOOR 1e-12

/* denom[i] = max(||row i of src||_2, RPO_NORM_FLOOR) for the rows i0 ..
 * i0 + rows - 1 of src (., d), computed
 * without overflow or underflow for any finite input (k's sumsq kernels do
 * the sums). A float64 row of finite entries can be longer than DBL_MAX;
 * its denom[i] is then -||row i * RPO_ROW_PRESCALE||_2, negative: such a
 * row normalises as (x * RPO_ROW_PRESCALE) / -denom[i] (pack.c). Returns 1
 * when every value is finite, 0 otherwise (denom is then garbage). */
#define RPO_ROW_PRESCALE 0x1p-32
int rpo_row_norms(const rpo_kernels *k, rpo_in src, size_t i0, size_t rows, size_t d,
                  double *denom);

#endif /* RPO_EMBED_H */
