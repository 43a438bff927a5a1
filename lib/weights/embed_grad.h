/*
 * Embedding gradients: the backward of the EMBEDDING weights
 *
 *     e^ = e / max(||e||, floor)          f^ likewise        (embed.h)
 *     cos_ij = e^_i . f^_j
 *     W_ij = softmax_j((cos_ij - 1) / tau)                   (weights.c)
 *
 * in three steps, each the transpose of its forward step: softmax rows,
 * cosine products, normalisation. The engine runs the first two per row
 * block (beside the pairs kernel, which gives dL/dW) and the last once.
 */
#ifndef RPO_EMBED_GRAD_H
#define RPO_EMBED_GRAD_H

#include <stddef.h>

#include "kernels.h"

/* In place, for a block of softmax rows w (rows, n) with g (rows, n) =
 * dL/dW on entry: g_ij = scale * W_ij (g_ij - sum_k W_ik g_ik) / tau_i on
 * return, which is dL/dcos_ij for W = softmax(cos / tau) times scale.
 * tau_i = row_tau[i] (rows), each row's own temperature held constant,
 * or tau for every row when row_tau is NULL. */
void rpo_softmax_rows_backward(const double *w, double *g, size_t rows,
                               size_t n, double scale, double tau,
                               const double *row_tau);

/* dst (cols, rows) = the transpose of src (rows, cols). */
void rpo_transpose(const double *src, size_t rows, size_t cols, double *dst);

/* The cosine products' backward for a block, as two products on the
 * kernels' dots (s = A B^T of row-major operands, kernels.h): with gs
 * (rows, n) = dL/dcos, e_rows (rows, d) the block's normalised chosen rows
 * and f_t (d, n) the normalised rejected rows transposed,
 *   de_rows (rows, d) = gs f           = dots(gs, f_t)
 *   df_part (n, d)    = gs^T e_rows    = dots(gs^T, e_rows^T)
 * both written. Scratch: gs_t (n, rows), e_t (d, rows). */
void rpo_cosine_backward(rpo_product_fn dots, const double *gs, size_t rows,
                         size_t n, const double *e_rows, const double *f_t,
                         size_t d, double *de_rows, double *df_part,
                         double *gs_t, double *e_t);

/* The normalisation's backward, in place: g (rows, d) holds dL/dx^ on
 * entry and dL/dx on return, for x^ (rows, d) and the divisors denoms
 * (rows) from rpo_row_norms (embed.h):
 *   g = (g - x^ (x^ . g)) / ||x||    where the norm was not clamped,
 *   g = g / RPO_NORM_FLOOR           where it was (x^ = x / floor there),
 * with ||x|| = -denom / RPO_ROW_PRESCALE for a row longer than DBL_MAX
 * (a negative denom). */
void rpo_normalize_rows_backward(const double *xhat, const double *denoms,
                                 size_t rows, size_t d, double *g);

#endif /* RPO_EMBED_GRAD_H */
