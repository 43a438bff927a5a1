/*
 * The mirror of a symmetric matrix: the upper triangle copied onto the
 * lower one, a strip of columns at a time (similarity.c cuts the strips).
 *
 * Template: included once per element type by instantiate.h.
 *
 * A strip one cache line wide (MIRROR_LINE elements) goes through the
 * registers in square tiles: the tile's upper rows are loaded, transposed
 * in registers, and each lower row of the tile is written as one whole
 * line. With a large matrix the lines go out as streaming stores: the lower
 * triangle is then written without first being read from memory, and
 * without pushing the upper rows still to be read out of the caches. The
 * upper rows are prefetched a few lines ahead, since they are read down
 * the strip, one row a page apart, where the hardware prefetcher does not
 * look. This pass is a copy: whatever the strips, tiles or stores, the
 * matrix gets the same bits.
 */

/* Elements per 64-byte cache line, and how many lines ahead each upper
 * row is prefetched. */
#define MIRROR_LINE (64 / sizeof(REAL))
#define MIRROR_PREFETCH_LINES 4

/* Indexes of the two-source shuffles of the transpose, for L lanes: lane c
 * of the result takes lane c of the first vector, or lane c - h or c of the
 * second (index L + ...). */
#ifndef RPO_MIRROR_LANES
#define RPO_MIRROR_LANES
#define MIRROR_LOW(c, h, L) (((c) & (h)) ? (L) + (c) - (h) : (c))
#define MIRROR_HIGH(c, h, L) (((c) & (h)) ? (L) + (c) : (c) + (h))
#define LANES_2(F, h) F(0, h, 2), F(1, h, 2)
#define LANES_4(F, h) F(0, h, 4), F(1, h, 4), F(2, h, 4), F(3, h, 4)
#define LANES_8(F, h) F(0, h, 8), F(1, h, 8), F(2, h, 8), F(3, h, 8), \
                      F(4, h, 8), F(5, h, 8), F(6, h, 8), F(7, h, 8)
#define LANES_16(F, h) F(0, h, 16), F(1, h, 16), F(2, h, 16), F(3, h, 16),     \
                       F(4, h, 16), F(5, h, 16), F(6, h, 16), F(7, h, 16),     \
                       F(8, h, 16), F(9, h, 16), F(10, h, 16), F(11, h, 16),   \
                       F(12, h, 16), F(13, h, 16), F(14, h, 16), F(15, h, 16)
#endif

/* The tile lives in registers only when every loop over it is unrolled,
 * which gcc does not do at -O2 by itself (clang does). */
#define MIRROR_UNROLL _Pragma("GCC unroll 16")

#if VLR == 16
#define MIRROR_LANES LANES_16
#elif VLR == 8
#define MIRROR_LANES LANES_8
#elif VLR == 4
#define MIRROR_LANES LANES_4
#elif VLR == 2
#define MIRROR_LANES LANES_2
#else
#error "mirror.h: no transpose for this lane count"
#endif

/* One butterfly stage: rows x and x + h (x without bit h) trade the lanes
 * that have bit h in their index against those that have not, which swaps
 * that bit between row and column numbers. All stages swap every bit: the
 * VLR x VLR block is transposed. */
#define MIRROR_STAGE(v, h)                                                     \
    MIRROR_UNROLL                                                              \
    for (size_t x = 0; x < VLR; x++)                                           \
        if ((x & (h)) == 0) {                                                  \
            const VREAL a = v[x], b = v[x | (h)];                              \
            v[x] = __builtin_shufflevector(a, b, MIRROR_LANES(MIRROR_LOW, h));  \
            v[x | (h)] = __builtin_shufflevector(a, b, MIRROR_LANES(MIRROR_HIGH, h)); \
        }

static inline void TNAME(transpose)(VREAL *v)
{
    MIRROR_STAGE(v, 1)
#if VLR > 2
    MIRROR_STAGE(v, 2)
#endif
#if VLR > 4
    MIRROR_STAGE(v, 4)
#endif
#if VLR > 8
    MIRROR_STAGE(v, 8)
#endif
}

/* Rows j0 .. j1 - 1 of the upper triangle of the square s (count, count),
 * row stride lds, copied into columns j0 .. j1 - 1 of the rows below them.
 * stream: the caller allows streaming stores (used where the lines are
 * aligned for them). */
static void TNAME(mirror)(void *s_, size_t lds, size_t count, size_t j0,
                          size_t j1, int stream)
{
    REAL *s = s_;
    /* the small triangle inside the strip */
    for (size_t i = j0 + 1; i < j1; i++)
        for (size_t j = j0; j < i; j++)
            s[i * lds + j] = s[j * lds + i];
    size_t i = j1;
    if (j1 - j0 == MIRROR_LINE) {
        const int streamed = stream && (uintptr_t)(s + j0) % 64 == 0 &&
                             lds * sizeof(REAL) % 64 == 0;
        for (; i + MIRROR_LINE <= count; i += MIRROR_LINE) {
            if (i + (MIRROR_PREFETCH_LINES + 1) * MIRROR_LINE <= count)
                for (size_t r = 0; r < MIRROR_LINE; r++)
                    __builtin_prefetch(s + (j0 + r) * lds + i + MIRROR_PREFETCH_LINES * MIRROR_LINE);
            for (size_t q = 0; q < MIRROR_LINE; q += VLR) {
                VREAL v[MIRROR_LINE];
                MIRROR_UNROLL
                for (size_t r = 0; r < MIRROR_LINE; r++)
                    v[r] = TNAME(load)(s + (j0 + r) * lds + i + q);
                MIRROR_UNROLL
                for (size_t g = 0; g < MIRROR_LINE; g += VLR)
                    TNAME(transpose)(v + g);
                /* v[g + c]: column i + q + c of upper rows j0 + g .. */
                MIRROR_UNROLL
                for (size_t c = 0; c < VLR; c++) {
                    REAL *line = s + (i + q + c) * lds + j0;
                    MIRROR_UNROLL
                    for (size_t g = 0; g < MIRROR_LINE; g += VLR) {
                        if (streamed)
                            TNAME(stream)(line + g, v[g + c]);
                        else
                            TNAME(store)(line + g, v[g + c]);
                    }
                }
            }
        }
        if (streamed)
            stream_fence();
    }
    /* the ragged end, or all of a narrow strip: element by element (each
     * upper row's line serves the next columns) */
    for (; i < count; i++)
        for (size_t j = j0; j < j1; j++)
            s[i * lds + j] = s[j * lds + i];
}

#undef MIRROR_LINE
#undef MIRROR_PREFETCH_LINES
#undef MIRROR_LANES
#undef MIRROR_STAGE
#undef MIRROR_UNROLL
