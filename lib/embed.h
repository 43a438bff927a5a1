/*
 * Prompt embeddings: row normalisation and cosine-similarity blocks.
 */
#ifndef RPO_EMBED_H
#define RPO_EMBED_H

#include <stddef.h>

#include "arrays.h"

/* Normalises each of the rows rows of src (rows, d) into dst (rows, d) as
 * e / max(||e||_2, 1e-12), in double; a zero row stays zero. The norm is
 * computed without overflow or underflow for any finite input. Returns 1
 * when every input value is finite, 0 otherwise (dst is then garbage). */
int rpo_normalize_rows(rpo_in src, size_t rows, size_t d, double *dst);

/* sim[r * n + j] = dot(e[(i0 + r) * d ...], f[j * d ...]) for r < rows,
 * j < n: a (rows, n) block of the cosine matrix of normalised rows.
 *   e: (>= i0 + rows, d)   f: (n, d)   sim: (rows, n) */
void rpo_similarity_block(const double *e, size_t i0, size_t rows,
                          const double *f, size_t n, size_t d, double *sim);

#endif /* RPO_EMBED_H */
