/* Operands of the fused linear log-probs in the product kernels' tiles
 * (linear.h). */
#include <string.h>

#include "fused_linear.h"

/* Row r of the source: the index says which row of src it is. */
static size_t source_row(const size_t *index, size_t first, size_t r)
{
    return index != NULL ? index[first + r] : first + r;
}

/* dst[tile][k][j] = src row (tile * width + j), column k. Eight columns
 * of a row are read together and scattered down the tile, so the reads
 * stay sequential while the tile fills in cache. */
#define TILES_OF_ROWS(NAME, REAL)                                              \
    static void NAME(const REAL *src, size_t ld, const size_t *index,         \
                     size_t first, size_t count, size_t depth, size_t width,  \
                     REAL *dst)                                                \
    {                                                                          \
        for (size_t t0 = 0; t0 < count; t0 += width) {                         \
            REAL *tile = dst + t0 * depth;                                     \
            for (size_t j = 0; j < width; j++) {                               \
                if (t0 + j >= count) {                                         \
                    for (size_t k = 0; k < depth; k++)                         \
                        tile[k * width + j] = 0;                               \
                    continue;                                                  \
                }                                                              \
                const REAL *x = src + source_row(index, first, t0 + j) * ld;   \
                size_t k = 0;                                                  \
                for (; k + 8 <= depth; k += 8)                                 \
                    for (size_t l = 0; l < 8; l++)                             \
                        tile[(k + l) * width + j] = x[k + l];                  \
                for (; k < depth; k++)                                         \
                    tile[k * width + j] = x[k];                                \
            }                                                                  \
        }                                                                      \
    }

/* dst[tile][k][j] = src row k, column (tile * width + j): whole runs of
 * width columns copied. */
#define TILES_OF_COLUMNS(NAME, REAL)                                           \
    static void NAME(const REAL *src, size_t ld, const size_t *index,         \
                     size_t first, size_t depth, size_t count, size_t width,  \
                     REAL *dst)                                                \
    {                                                                          \
        for (size_t c0 = 0; c0 < count; c0 += width) {                         \
            const size_t live = count - c0 < width ? count - c0 : width;      \
            REAL *tile = dst + c0 * depth;                                     \
            for (size_t k = 0; k < depth; k++) {                               \
                const REAL *x = src + source_row(index, first, k) * ld + c0;   \
                memcpy(tile + k * width, x, live * sizeof(REAL));              \
                for (size_t j = live; j < width; j++)                          \
                    tile[k * width + j] = 0;                                   \
            }                                                                  \
        }                                                                      \
    }

TILES_OF_ROWS(rows_f32, float)
TILES_OF_ROWS(rows_f64, double)
TILES_OF_COLUMNS(columns_f32, float)
TILES_OF_COLUMNS(columns_f64, double)

void rpo_tiles_of_rows(rpo_dtype type, const void *src, size_t ld,
                       const size_t *index, size_t first, size_t count,
                       size_t depth, size_t width, void *dst)
{
    if (type == RPO_F32)
        rows_f32(src, ld, index, first, count, depth, width, dst);
    else
        rows_f64(src, ld, index, first, count, depth, width, dst);
}

void rpo_tiles_of_columns(rpo_dtype type, const void *src, size_t ld,
                          const size_t *index, size_t first, size_t depth,
                          size_t count, size_t width, void *dst)
{
    if (type == RPO_F32)
        columns_f32(src, ld, index, first, depth, count, width, dst);
    else
        columns_f64(src, ld, index, first, depth, count, width, dst);
}
