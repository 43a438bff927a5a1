/* Normalise, convert and lay out embedding rows (see pack.h). */
#include "embed.h"
#include "pack.h"

/* x / denom. Multiplying by 1 / denom is exact enough and much faster,
 * unless 1 / denom would be subnormal and lose bits: only a float64 row
 * with a norm above 2^1000 gets the division, after the exact prescale of
 * a row longer than DBL_MAX (a negative denom, embed.h). */
typedef struct row_scale {
    double inv, denom, pre;
    int divide;
} row_scale;

static row_scale scale_of(double denom)
{
    row_scale s;
    s.pre = denom < 0.0 ? RPO_ROW_PRESCALE : 1.0;
    s.denom = denom < 0.0 ? -denom : denom;
    s.divide = !(s.denom <= 0x1p1000) || denom < 0.0;
    s.inv = 1.0 / s.denom;
    return s;
}

static double scaled(double x, row_scale s)
{
    return s.divide ? x * s.pre / s.denom : x * s.inv;
}

size_t rpo_packed_count(size_t rows, size_t d, size_t tile)
{
    return (rows + tile - 1) / tile * tile * d;
}

/* Writes value number `at` of a dst of the given type. */
static void put(rpo_dtype type, void *dst, size_t at, double value)
{
    if (type == RPO_F32)
        ((float *)dst)[at] = (float)value;
    else
        ((double *)dst)[at] = value;
}

void rpo_pack_rows(const rpo_kernels *k, rpo_dtype type, rpo_in src,
                   const double *denom, size_t i0, size_t rows, size_t d,
                   void *dst)
{
    const size_t elem = type == RPO_F32 ? sizeof(float) : sizeof(double);
    const size_t in_elem = src.type == RPO_F32 ? sizeof(float) : sizeof(double);
    for (size_t r = 0; r < rows; r++) {
        const size_t i = i0 + r;
        const row_scale s = scale_of(denom[i]);
        const void *x = (const char *)src.data + i * d * in_elem;
        void *out = (char *)dst + r * d * elem;
        if (src.type == type && !s.divide) {
            (type == RPO_F32 ? k->f32.scale : k->f64.scale)(x, d, s.inv, out);
            continue;
        }
        if (src.type == RPO_F32 && type == RPO_F64) {
            k->widen_scale(x, d, s.inv, out);  /* float32 input in double */
            continue;
        }
        for (size_t c = 0; c < d; c++)
            put(type, out, c, scaled(rpo_in_at(src, i * d + c), s));
    }
}

/* One tile of `live` rows (of `tile`) of SRC_T input to DST_T output,
 * rows past `live` zero. Eight columns at a time: each row's eight inputs
 * are read together and scattered down the tile, so reads stay sequential
 * and the tile's output rows fill in cache. The scale is a multiplication
 * in MATH_T (float only from float to float), or a division in double for
 * rows that need one (scale_of). */
#define PACK_TILE(NAME, SRC_T, DST_T, MATH_T)                                  \
    static void NAME(const SRC_T *x, const double *denom, size_t live,        \
                     size_t d, size_t tile, DST_T *out)                        \
    {                                                                          \
        MATH_T inv[64];                                                        \
        row_scale scales[64];                                                  \
        int divide = 0;                                                        \
        for (size_t r = 0; r < tile; r++) {                                    \
            const row_scale s = scale_of(r < live ? denom[r] : 1.0);           \
            inv[r] = r < live ? (MATH_T)s.inv : (MATH_T)0;                     \
            divide |= s.divide;                                                \
            scales[r] = s;                                                     \
        }                                                                      \
        size_t c = 0;                                                          \
        if (!divide)                                                           \
            for (; c + 8 <= d; c += 8)                                         \
                for (size_t r = 0; r < tile; r++) {                            \
                    /* padding rows read row 0 and multiply it by 0 */         \
                    const SRC_T *xr = x + (r < live ? r : 0) * d + c;          \
                    for (size_t l = 0; l < 8; l++)                             \
                        out[(c + l) * tile + r] = (DST_T)((MATH_T)xr[l] * inv[r]); \
                }                                                              \
        for (; c < d; c++)                                                     \
            for (size_t r = 0; r < tile; r++)                                  \
                out[c * tile + r] =                                            \
                    r >= live ? (DST_T)0                                       \
                    : divide  ? (DST_T)scaled((double)x[r * d + c], scales[r]) \
                              : (DST_T)((MATH_T)x[r * d + c] * inv[r]);        \
    }

PACK_TILE(tile_f32_f32, float, float, float)
PACK_TILE(tile_f32_f64, float, double, double)
PACK_TILE(tile_f64_f64, double, double, double)
PACK_TILE(tile_f64_f32, double, float, double)

void rpo_pack_tiles(rpo_dtype type, rpo_in src, const double *denom,
                    size_t i0, size_t rows, size_t d, size_t tile, void *dst)
{
    /* tiles are at most 32 wide (kernels.h): 64 bounds the scales above */
    const size_t elem = type == RPO_F32 ? sizeof(float) : sizeof(double);
    for (size_t t0 = 0; t0 < rows; t0 += tile) {
        const size_t live = rows - t0 < tile ? rows - t0 : tile;
        const size_t first = i0 + t0;
        char *out = (char *)dst + t0 * d * elem;
        const double *dn = denom + first;
        if (src.type == RPO_F32) {
            const float *x = (const float *)src.data + first * d;
            if (type == RPO_F32)
                tile_f32_f32(x, dn, live, d, tile, (float *)out);
            else
                tile_f32_f64(x, dn, live, d, tile, (double *)out);
        } else {
            const double *x = (const double *)src.data + first * d;
            if (type == RPO_F64)
                tile_f64_f64(x, dn, live, d, tile, (double *)out);
            else
                tile_f64_f32(x, dn, live, d, tile, (float *)out);
        }
    }
}
