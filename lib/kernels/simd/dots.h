/*
 * The similarity product for small problems: s_ij = <e_i, f_j> as plain dot
 * products of normalised row-major rows. No packing and no padding to
 * register tiles, which for a few dozen rows cost more than the product.
 *
 * Template: included once per element type by instantiate.h.
 *
 * A block of 4 rows of e by 4 rows of f shares every load. Each dot sums
 * k in vector lanes (lane l takes k = l, l + VLR, ...) and then the lanes in
 * a fixed order, so <e_i, e_j> and <e_j, e_i> are bitwise equal and a
 * symmetric product can compute one and mirror it.
 */

/* c[r][c] += <e_r, f_c> over the block's full vectors and its tail, for
 * 4 rows of e and 4 of f: 16 accumulators, 8 loads per 16 multiply-adds. */
#define DOT_ROWS(X) X(0) X(1) X(2) X(3)

static inline __attribute__((always_inline)) void
TNAME(dot_block)(size_t d, const REAL *e, const REAL *f, REAL *s, size_t lds,
                 int e_rows, int f_rows)
{
    const size_t full = d / VLR * VLR, rest = d - full;
#define ACC(r) VREAL c##r##0 = {0}, c##r##1 = {0}, c##r##2 = {0}, c##r##3 = {0};
    DOT_ROWS(ACC)
    for (size_t k = 0; k < full + (rest ? VLR : 0); k += VLR) {
        const size_t live = k < full ? VLR : rest;
        VREAL y0, y1, y2, y3;
#define LOAD_F(c) y##c = (c) < f_rows ? (live == VLR ? TNAME(load)(f + (c) * d + k) \
                                      : TNAME(load_part)(f + (c) * d + k, live)) : (VREAL){0};
        DOT_ROWS(LOAD_F)
#define STEP(r)                                                                     \
        if ((r) < e_rows) {                                                         \
            const VREAL x = live == VLR ? TNAME(load)(e + (r) * d + k)              \
                                        : TNAME(load_part)(e + (r) * d + k, live);  \
            c##r##0 += x * y0; c##r##1 += x * y1; c##r##2 += x * y2; c##r##3 += x * y3; \
        }
        DOT_ROWS(STEP)
    }
#define SAVE(r)                                                            \
    if ((r) < e_rows) {                                                    \
        REAL *sr = s + (r) * lds;                                          \
        sr[0] = (REAL)TNAME(hsum)(c##r##0);                                \
        if (f_rows > 1) sr[1] = (REAL)TNAME(hsum)(c##r##1);                \
        if (f_rows > 2) sr[2] = (REAL)TNAME(hsum)(c##r##2);                \
        if (f_rows > 3) sr[3] = (REAL)TNAME(hsum)(c##r##3);                \
    }
    DOT_ROWS(SAVE)
#undef ACC
#undef LOAD_F
#undef STEP
#undef SAVE
}

static void TNAME(dots)(size_t rows, size_t n, size_t d, const void *e_,
                        const void *f_, void *s_, size_t lds, size_t sym_row0)
{
    const REAL *e = e_, *f = f_;
    REAL *s = s_;
    for (size_t r = 0; r < rows; r += 4) {
        const int e_rows = rows - r < 4 ? (int)(rows - r) : 4;
        /* symmetric: from the block's first row on; the few entries below
         * the diagonal this computes are mirrored over anyway */
        size_t j = sym_row0 == RPO_NOT_SYMMETRIC ? 0 : sym_row0 + r;
        for (; j + 4 <= n; j += 4) {
            if (e_rows == 4)
                TNAME(dot_block)(d, e + r * d, f + j * d, s + r * lds + j, lds, 4, 4);
            else
                TNAME(dot_block)(d, e + r * d, f + j * d, s + r * lds + j, lds, e_rows, 4);
        }
        if (j < n)
            TNAME(dot_block)(d, e + r * d, f + j * d, s + r * lds + j, lds, e_rows,
                             (int)(n - j));
    }
}

#undef DOT_ROWS
