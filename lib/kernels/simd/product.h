/*
 * The similarity product s = A . B^T of normalised embeddings: a cache-
 * blocked, register-tiled kernel in the manner of GotoBLAS and BLIS.
 *
 * Template: included once per element type by instantiate.h, with REAL,
 * VREAL, VLR (lanes), TNAME() (adds _f32 / _f64) and RPO_MR defined.
 *
 * The micro-kernel keeps an MR x NR tile of s in 2 * MR vector registers
 * (NR = two vectors of columns) and, for each k, loads two vectors of B's
 * packed row and broadcasts MR scalars of A: 2 * MR fused multiply-adds per
 * 2 + MR loads, no horizontal sums. Both operands are packed by pack.c so
 * the micro-kernel reads them sequentially:
 *   ap: [row tile][k][MR]   (rows padded with zeros to a multiple of MR)
 *   bp: [col tile][k][NR]   (columns padded with zeros to a multiple of NR)
 * Blocking: a block of NC_TILES column tiles of B by KC of its depth (16 KiB
 * per tile) is reused from L2 by every row tile of a group of MC_TILES, and
 * the group's block of s stays in cache while k advances.
 *
 * Every entry of s is summed over k in the same order whatever the panel,
 * the block or the thread, so s_ij and s_ji of a symmetric product are
 * bitwise equal and results never depend on the thread count.
 */

#define NR (2 * VLR)
#define KC 128          /* depth of a block                               */
#define NC_TILES 8      /* column tiles per block                         */
#define MC_TILES 10     /* row tiles per group: the group's rows of A and
                           of s stay in L2 while k advances              */
#define PREFETCH_K 16   /* how far ahead in k the B stream is prefetched  */

#if RPO_MR == 12
#  define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#elif RPO_MR == 6
#  define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#else
#  error "RPO_MR must be 6 or 12"
#endif

/* c (MR, NR), row stride ldc, = (first ? 0 : c) + ap (kc, MR)^T . bp (kc, NR) */
static void TNAME(micro)(size_t kc, const REAL *ap, const REAL *bp,
                         REAL *c, size_t ldc, int first)
{
#define DECLARE(r) VREAL c##r##_0 = {0}, c##r##_1 = {0};
    FOR_ROWS(DECLARE)
    for (size_t k = 0; k < kc; k++) {
        for (size_t off = 0; off < NR * sizeof(REAL); off += 64)
            __builtin_prefetch((const char *)(bp + (k + PREFETCH_K) * NR) + off);
        const VREAL b0 = TNAME(load)(bp + k * NR);
        const VREAL b1 = TNAME(load)(bp + k * NR + VLR);
        const REAL *ak = ap + k * RPO_MR;
#define STEP(r) { const REAL a = ak[r]; c##r##_0 += a * b0; c##r##_1 += a * b1; }
        FOR_ROWS(STEP)
    }
#define SAVE(r)                                                             \
    if (first) {                                                            \
        TNAME(store)(c + (r) * ldc, c##r##_0);                              \
        TNAME(store)(c + (r) * ldc + VLR, c##r##_1);                        \
    } else {                                                                \
        TNAME(store)(c + (r) * ldc, TNAME(load)(c + (r) * ldc) + c##r##_0); \
        TNAME(store)(c + (r) * ldc + VLR,                                   \
                     TNAME(load)(c + (r) * ldc + VLR) + c##r##_1);          \
    }
    FOR_ROWS(SAVE)
#undef DECLARE
#undef STEP
#undef SAVE
}

/* A tile at the ragged edge of s: computed whole into a local tile, then
 * only its rows x cols corner is written. */
static void TNAME(edge_tile)(size_t kc, const REAL *ap, const REAL *bp,
                             REAL *c, size_t ldc, size_t rows, size_t cols,
                             int first)
{
    REAL tile[RPO_MR * NR];
    TNAME(micro)(kc, ap, bp, tile, NR, 1);
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++)
            c[r * ldc + j] = first ? tile[r * NR + j] : c[r * ldc + j] + tile[r * NR + j];
}

/* s = (accumulate ? s : 0) + ap . bp^T: accumulate adds each depth block
 * to s in the block order, whatever the caller's chunking around it. */
static void TNAME(product_into)(size_t rows, size_t n, size_t d,
                                const void *ap_, const void *bp_, void *s_,
                                size_t lds, size_t sym_row0, int accumulate)
{
    const REAL *ap = ap_, *bp = bp_;
    REAL *s = s_;
    const size_t col_tiles = (n + NR - 1) / NR;
    for (size_t g0 = 0; g0 < rows; g0 += MC_TILES * RPO_MR) {
      const size_t g1 = rows - g0 < MC_TILES * RPO_MR ? rows : g0 + MC_TILES * RPO_MR;
      for (size_t t0 = 0; t0 < col_tiles; t0 += NC_TILES) {
        const size_t t1 = t0 + NC_TILES < col_tiles ? t0 + NC_TILES : col_tiles;
        for (size_t k0 = 0; k0 < d; k0 += KC) {
            const size_t kc = d - k0 < KC ? d - k0 : KC;
            for (size_t i = g0; i < g1; i += RPO_MR) {
                const size_t tile_rows = rows - i < RPO_MR ? rows - i : RPO_MR;
                const REAL *a = ap + (i * d + k0 * RPO_MR);
                for (size_t t = t0; t < t1; t++) {
                    const size_t j = t * NR;
                    /* symmetric: tiles wholly left of the diagonal are the
                     * mirror of tiles computed for earlier rows */
                    if (sym_row0 != RPO_NOT_SYMMETRIC && j + NR <= sym_row0 + i)
                        continue;
                    const size_t tile_cols = n - j < NR ? n - j : NR;
                    const REAL *b = bp + (t * d * NR + k0 * NR);
                    if (tile_rows == RPO_MR && tile_cols == NR)
                        TNAME(micro)(kc, a, b, s + i * lds + j, lds,
                                     !accumulate && k0 == 0);
                    else
                        TNAME(edge_tile)(kc, a, b, s + i * lds + j, lds,
                                         tile_rows, tile_cols,
                                         !accumulate && k0 == 0);
                }
            }
        }
      }
    }
}

static void TNAME(product)(size_t rows, size_t n, size_t d, const void *ap,
                           const void *bp, void *s, size_t lds,
                           size_t sym_row0)
{
    TNAME(product_into)(rows, n, d, ap, bp, s, lds, sym_row0, 0);
}

static void TNAME(product_acc)(size_t rows, size_t n, size_t d, const void *ap,
                               const void *bp, void *s, size_t lds,
                               size_t sym_row0)
{
    TNAME(product_into)(rows, n, d, ap, bp, s, lds, sym_row0, 1);
}

#undef NR
#undef KC
#undef NC_TILES
#undef MC_TILES
#undef PREFETCH_K
#undef FOR_ROWS
