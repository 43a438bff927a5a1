/*
 * The compute kernels behind the engine, as a table of function pointers.
 *
 * One table per instruction set: "portable" (any machine gcc or clang
 * targets; 16-byte vectors, i.e. SSE2 on x86-64, NEON on ARM64), "avx2"
 * (AVX2 + FMA) and "avx512" (AVX-512F). All are built from the same sources
 * in lib/kernels/simd/, each compiled with its own flags, so the default build runs
 * on any x86-64 machine; rpo_ctx_create stores the best table the CPU runs
 * in the context (libsodium's "pick best implementation", but without a
 * global: the choice lives in the context).
 *
 * Every kernel exists for float (the float32 entry points) and double (the
 * float64 ones); only the element type differs. Shapes, row-major:
 *
 *   product:  s (rows, n) = A (rows, d) . B (n, d)^T from packed operands
 *             (pack.c lays them out; mr and nr below give the tile sizes)
 *   dots:     the same from row-major operands, for small problems
 *   softmax:  w (rows, n) = softmax over j of (s_ij - max_j s_ij) / tau
 *   pairs:    the per-pair loss, gradient and metric sums of a row block
 *             for the default (sigmoid) loss, see rpo_pair_block
 *   sumsq, scale: the row norms and normalised rows of the embeddings
 *   mirror:   the upper triangle of a symmetric s copied onto the lower
 *   token_*:  one row of logits (V): its largest entries, its
 *             log-sum-exp, the gradient of one log-softmax entry
 *             (lib/kernels/simd/tokens.h)
 */
#ifndef RPO_KERNELS_H
#define RPO_KERNELS_H

#include <stddef.h>

#include "rpo.h"

/* The tables are numbered as rpo.h's RPO_KERNELS_PORTABLE, _AVX2, _AVX512
 * (static-linking-only section; the library is built with
 * RPO_STATIC_LINKING_ONLY defined). */
#define RPO_KERNEL_TABLES 3

/* Unscaled sums over the rows processed so far. With p_ij the pair loss
 * (loss placement W_ij g(beta z_ij), logit placement g(beta W_ij z_ij),
 * g(u) = softplus(-u) + eps u, which is (1 - eps) softplus(-u) + eps
 * softplus(u)) and s_ij = W_ij (sigmoid(-u_ij) - eps):
 *   loss     = sum p_ij        margin   = sum W_ij z_ij
 *   accuracy = sum W_ij [z_ij > 0]                                        */
typedef struct rpo_sums {
    double loss;
    double margin;
    double accuracy;
} rpo_sums;

/* One row block of the contrast for the pairs kernel. The compute type
 * (float or double) is that of the kernel called; a, b, w, col_tmp point to
 * it. Outputs are unscaled sums, as for rpo_pairs_scalar_rows
 * (lib/loss/pairs_scalar.h). */
typedef struct rpo_pair_block {
    size_t rows, n;
    const void *a;        /* (rows) chosen log-ratios of the block's rows   */
    const void *b;        /* (n) rejected log-ratios                        */
    const void *w;        /* (rows, ldw) weights; ldw == 0: one row for all */
    size_t ldw;
    double beta;          /* the pair's beta: times the logit scale in logit
                             placement (pair_loss.h)                         */
    double smoothing;     /* label smoothing eps; 0: the plain loss         */
    int logit;            /* 1: logit placement, 0: loss placement          */
    int want_loss;        /* 0: no softplus                                 */
    int want_grad;        /* 0: no sigmoid, row_g and col_g untouched       */
    void *col_tmp;        /* (n) scratch in the compute type                */
    /* outputs */
    rpo_sums *sums;       /* += loss, margin, accuracy of the block         */
    double *row_g;        /* (rows) = sum_j s_ij                            */
    double *col_g;        /* (n) += sum_i s_ij                              */
    /* An objective's sample weights (objective.h), or col_w NULL: every
     * pair's term times row_w[r] col_w[j], and s_ij times row_gw[r]
     * col_w[j]. */
    const void *col_w;    /* (n) wr in the compute type, or NULL            */
    const double *row_w;  /* (rows) wc; read when col_w is not NULL         */
    const double *row_gw; /* (rows) the rows' gradient weights: row_w, or
                             wc_i g_i with the objective's losses_grad     */
    double *row_loss;     /* (rows) out, with col_w: each row's loss sum;
                             NULL: not written                              */
} rpo_pair_block;

typedef void (*rpo_product_fn)(size_t rows, size_t n, size_t d,
                               const void *ap, const void *bp,
                               void *s, size_t lds, size_t sym_row0);
typedef void (*rpo_softmax_fn)(size_t rows, size_t n, const void *s,
                               size_t lds, void *w, size_t ldw, double tau,
                               double *entropy);
typedef void (*rpo_row_entropy_fn)(const void *s, size_t n, double top,
                                   double beta, double *entropy, double *slope);
typedef void (*rpo_pairs_fn)(const rpo_pair_block *block);
typedef double (*rpo_sumsq_fn)(const void *x, size_t d);
typedef void (*rpo_scale_fn)(const void *x, size_t d, double inv, void *out);
typedef void (*rpo_mirror_fn)(void *s, size_t lds, size_t count, size_t j0,
                              size_t j1, int stream);
typedef void (*rpo_chunk_lse_fn)(size_t rows, size_t n, void *s, size_t lds,
                                 const void *bias, double *row_max,
                                 double *row_sum);
typedef void (*rpo_chunk_grad_fn)(size_t rows, size_t n, void *s, size_t lds,
                                  const void *bias, const double *lse,
                                  const double *dlogp, const ptrdiff_t *col);
/* A row's log-sum-exp in two parts, top + log_sum: keeping them apart
 * keeps log_sum's digits when |top| is huge. */
typedef struct rpo_lse {
    double top;      /* max_v x[v]                        */
    double log_sum;  /* log sum_v exp(x[v] - top), >= 0   */
} rpo_lse;
typedef int (*rpo_token_scan_fn)(const void *x, size_t v, double *top,
                                 double *absmax);
typedef int (*rpo_token_lse_fn)(const void *x, size_t v, const void *next,
                                rpo_lse *lse);
typedef void (*rpo_token_grad_fn)(const void *x, size_t v, size_t y, double g,
                                  rpo_lse lse, void *d, int overwrite);
typedef void (*rpo_lse_rows_fn)(size_t rows, size_t n, const double *c,
                                size_t ldc, const double *g, double eps,
                                double *out);
typedef void (*rpo_lse_columns_fn)(size_t rows, size_t n, const double *c,
                                   size_t ldc, const double *f, double eps,
                                   double *col_max, double *col_sum);

/* The kernels of one element type. */
typedef struct rpo_kernels_of_type {
    /* Tile sizes of the product: A is packed in tiles of mr rows, B in
     * tiles of nr columns (pack.c). */
    size_t mr, nr;
    /* s (rows, n), row stride lds, from ap (rows packed) and bp (n packed).
     * sym_row0 == RPO_NOT_SYMMETRIC computes all of s. Otherwise A and B
     * are the same matrix, the panel's row r is the matrix's row
     * sym_row0 + r, and at least the entries with column >= row are
     * computed (the caller mirrors the rest). */
    rpo_product_fn product;
    /* The same product from plain row-major operands (rows, d) and (n, d),
     * without packing: cheaper for small problems. */
    rpo_product_fn dots;
    /* w (rows, n) from s (rows, n); w may equal s. entropy (rows): each
     * row's -sum_j w_ij log w_ij, or NULL (weights_softmax.h). */
    rpo_softmax_fn softmax;
    /* For one row s (n) with maximum top: the entropy of softmax(beta (s
     * - top)) and its slope in log beta, computed in double
     * (weights_softmax.h); the evaluations of the temperature solve. */
    rpo_row_entropy_fn row_entropy;
    rpo_pairs_fn pairs;
    /* sum_k x_k^2 in double, for x (d) of the element type. */
    rpo_sumsq_fn sumsq;
    /* out (d) = x (d) * inv in the element type. */
    rpo_scale_fn scale;
    /* Rows j0 .. j1 - 1 of the upper triangle of the square s (count,
     * count), row stride lds, copied into columns j0 .. j1 - 1 of the rows
     * below them. A strip one cache line wide (64 bytes) and aligned to
     * one goes through vector tiles; stream allows streaming stores
     * (lib/kernels/simd/mirror.h). */
    rpo_mirror_fn mirror;
    /* The fused linear log-probs (lib/tokens/fused_linear_run.c,
     * lib/kernels/simd/linear.h): the product into s accumulated rather
     * than overwritten (each depth block added in order), and the softmax of one chunk of logits: its rows'
     * max and sum of exponentials, or its gradient in place. */
    rpo_product_fn product_acc;
    rpo_chunk_lse_fn chunk_lse;
    rpo_chunk_grad_fn chunk_grad;
    /* One row x (V) of logits. scan: max_v x[v] and max_v |x[v]|; 0 (and
     * both untouched) when the row holds NaN or infinity. lse: the row's
     * log-sum-exp; 0 (and *lse untouched) when it holds NaN or infinity;
     * next (or NULL) is prefetched, the row the caller takes next.
     * grad: d (V) = or += g ([v == y] - exp(x[v] - lse.top - lse.log_sum))
     * as overwrite says; d may equal x when overwriting. */
    rpo_token_scan_fn token_scan;
    rpo_token_lse_fn token_lse;
    rpo_token_grad_fn token_grad;
} rpo_kernels_of_type;

#define RPO_NOT_SYMMETRIC ((size_t)-1)

typedef struct rpo_kernels {
    const char *name;
    int id;                      /* RPO_KERNELS_* */
    rpo_kernels_of_type f32, f64;
    /* out (d) doubles = x (d) floats * inv: float32 rows computed in
     * double (small problems, and inputs too large for float). */
    rpo_scale_fn widen_scale;
    /* The log-sum-exps of a Sinkhorn iteration (sinkhorn.c), in double,
     * over x = c + a bias, c (rows, n) with row stride ldc:
     *   lse_rows:    out (rows) = LSE_j(c_rj + g_j), g (n)
     *   lse_columns: col_max, col_sum (n) of c_rj + f_r, f (rows), with
     *                LSE_r = col_max + eps log col_sum
     * where LSE_k(x_k) = max x + eps log sum_k exp((x_k - max x) / eps).
     * Each column's sum runs down the rows in order: columns cut into
     * strips give the same bits. */
    rpo_lse_rows_fn lse_rows;
    rpo_lse_columns_fn lse_columns;
} rpo_kernels;

/* The fastest set this CPU runs. Never NULL. */
const rpo_kernels *rpo_kernels_best(void);

/* Table id (RPO_KERNELS_PORTABLE, _AVX2, _AVX512), or NULL when this build
 * or CPU cannot run it. */
const rpo_kernels *rpo_kernels_get(int id);

/* The tables, defined in lib/kernels/simd/isa_*.c (the x86 ones only on x86-64).
 * Functions rather than variables: an internal variable would appear in
 * the debug information that the ABI baseline records (docs/abi.md). */
const rpo_kernels *rpo_kernels_portable(void);
const rpo_kernels *rpo_kernels_avx2(void);
const rpo_kernels *rpo_kernels_avx512(void);

#endif /* RPO_KERNELS_H */
