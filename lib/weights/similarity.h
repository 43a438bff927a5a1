/*
 * The similarity stage: cosine similarities of normalised embedding rows,
 * s_ij = <e_i, f_j> / (|e_i| |f_j|), a block of rows at a time.
 *
 * One internal signature, three backends (kann's kad_sgemm_simple with or
 * without CBLAS): the native kernel of lib/kernels/simd/ on packed tiles; for small
 * problems, where packing and padding to tiles cost more than the product,
 * native dot products of normalised rows; and in a `make USE_CBLAS=1`
 * build, from RPO_BLAS_MIN_WORK multiply-adds on, cblas_sgemm / dgemm
 * (cblas_?syrk for a whole symmetric matrix) on normalised rows. Small
 * products stay native: there the library call costs more than it saves.
 */
#ifndef RPO_SIMILARITY_H
#define RPO_SIMILARITY_H

#include <stddef.h>

#include "arrays.h"
#include "kernels.h"

/* M * N * D from which a CBLAS build hands products to the library. */
#define RPO_BLAS_MIN_WORK ((size_t)1 << 24)

/* How the products of a call are computed. */
typedef enum rpo_sim_backend {
    RPO_SIM_TILES,     /* native kernel on packed tiles (lib/kernels/simd/product.h) */
    RPO_SIM_DOTS,      /* native dot products of rows (small problems)      */
    RPO_SIM_BLAS       /* CBLAS gemm / syrk on rows                         */
} rpo_sim_backend;

typedef struct rpo_similarity {
    rpo_dtype type;              /* compute type: float or double          */
    size_t m, n, d;
    int paired;                  /* f is e: the matrix is symmetric         */
    rpo_sim_backend backend;
    const rpo_kernels_of_type *k;
    rpo_in e, f;                 /* the caller's (M, D) and (N, D)          */
    const double *e_norm;        /* (M) row norms (embed.c)                 */
    const double *f_norm;        /* (N), == e_norm when paired              */
    const void *f_tiles;         /* TILES: f packed in B tiles (pack.h)     */
    const void *e_rows, *f_rows; /* DOTS, BLAS: normalised rows; f_rows ==
                                    e_rows when paired                      */
} rpo_similarity;

/* The backend for a product of these sizes in this build. */
rpo_sim_backend rpo_similarity_backend(size_t m, size_t n, size_t d);

/* s (rows, n), row stride lds, = similarities of rows i0 .. i0 + rows - 1
 * with every f_j. upper: paired only; at least the entries with j >= i are
 * computed and the caller mirrors the rest (rpo_mirror_plan); with CBLAS
 * only for the whole matrix (i0 == 0, rows == m). scratch as above. */
void rpo_similarity_rows(const rpo_similarity *sim, size_t i0, size_t rows,
                         void *s, size_t lds, void *scratch, int upper);

/* The mirror of the square s (count, count), row stride lds: its upper
 * triangle copied onto the lower one by the kernel set's mirror, in
 * independent strips of columns that workers may take in any order (a
 * copy: the same bits whatever the order). Strips are one cache line wide,
 * shifted so that they start on a line when the rows do; large matrices
 * are written with streaming stores. */
typedef struct rpo_mirror {
    rpo_mirror_fn copy;
    void *s;
    size_t lds, count;
    size_t lead;     /* columns before the first line-aligned strip */
    size_t width;    /* columns of every later strip (the last may be short) */
    int stream;
} rpo_mirror;

rpo_mirror rpo_mirror_plan(const rpo_kernels_of_type *k, rpo_dtype type,
                           void *s, size_t lds, size_t count);
size_t rpo_mirror_strips(const rpo_mirror *m);
void rpo_mirror_strip(const rpo_mirror *m, size_t strip);

#endif /* RPO_SIMILARITY_H */
