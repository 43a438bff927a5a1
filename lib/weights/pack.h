/*
 * Normalised embedding rows laid out for the similarity product.
 *
 * Each row of src is divided by its norm (embed.c) and converted to the
 * compute type (float or double) on the way into the layout a product needs:
 *   rows:    (rows, d) row-major, for a CBLAS product
 *   A tiles: [tile][k][mr], rows padded with zeros to a multiple of mr,
 *            the broadcast operand of the native kernel (lib/kernels/simd/product.h)
 *   B tiles: [tile][k][nr], rows padded with zeros to a multiple of nr,
 *            the vector operand of the native kernel
 * so the normalised matrix is never stored twice.
 */
#ifndef RPO_PACK_H
#define RPO_PACK_H

#include <stddef.h>

#include "arrays.h"
#include "kernels.h"

/* Elements of a packed operand of `rows` rows in tiles of `tile` rows. */
size_t rpo_packed_count(size_t rows, size_t d, size_t tile);

/* dst (rows, d) of type = rows [i0, i0 + rows) of src / denom (k's scale
 * kernels do the common cases). */
void rpo_pack_rows(const rpo_kernels *k, rpo_dtype type, rpo_in src,
                   const double *denom, size_t i0, size_t rows, size_t d,
                   void *dst);

/* dst = rows [i0, i0 + rows) of src / denom in tiles of `tile` rows,
 * [tile][k][r] (A tiles with tile = mr, B tiles with tile = nr). */
void rpo_pack_tiles(rpo_dtype type, rpo_in src, const double *denom,
                    size_t i0, size_t rows, size_t d, size_t tile, void *dst);

#endif /* RPO_PACK_H */
