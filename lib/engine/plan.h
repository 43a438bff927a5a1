/*
 * How a call will run: compute type, similarity backend, row blocks,
 * threads, and where everything lives in the context's scratch. Decided
 * from the sizes, the settings and (for the compute type) the magnitudes of
 * the inputs, never from the thread count, so that results do not depend
 * on it (threads.h).
 *
 * Row blocks. The rows are cut into blocks of `block_rows`. In the
 * streamed mode each worker takes whole blocks: it computes a block's
 * similarities into its own buffer, its weights and its per-pair terms,
 * and commits the block's partial sums in block order. When one product
 * serves many rows at once (the CBLAS backend, which threads the product
 * itself, or a problem that is a single block, whose symmetric product is
 * computed whole) the block is shared instead: its similarities are
 * computed first, then the workers take its sub-blocks of SUB_BLOCK_ROWS
 * rows and commit those in order.
 */
#ifndef RPO_PLAN_H
#define RPO_PLAN_H

#include <stddef.h>

#include "config.h"
#include "context.h"
#include "engine.h"
#include "kernels.h"
#include "similarity.h"

/* Rows per unit of work and commit in the shared mode. */
#define RPO_SUB_BLOCK_ROWS 32

/* What the inputs hold (largest magnitudes, finiteness), looked at only
 * after sizes and memory have been checked. */
typedef struct rpo_input_scan {
    int finite;        /* every log-prob and caller weight is finite     */
    double z_bound;    /* >= max_i |a_i| + max_j |b_j|                   */
    double w_bound;    /* >= max |W_ij| (1 for the library's weightings) */
    double sample_bound; /* >= max |wc_i wr_j| of an objective (else 1)  */
} rpo_input_scan;

/* The per-pair stage of a call: which kernel evaluates the pairs of a
 * block of rows. */
typedef enum rpo_pairs_kernel {
    RPO_PAIRS_NONE,      /* rpo_weights_*: no per-pair stage              */
    RPO_PAIRS_SIMD,      /* the kernel set's pairs (kernels/simd/pairs.h):
                            SIGMOID and ROBUST (any label smoothing, either
                            logit scale) without dL/dW, and an objective
                            whose single term is one of them             */
    RPO_PAIRS_SCALAR,    /* pairs_scalar.c: the same in scalar double, in its
                            place under RPO_KERNELS_GENERIC               */
    RPO_PAIRS_FAMILY,    /* pairs_family.c: every member of the loss
                            family, and dL/dW for embedding gradients     */
    RPO_PAIRS_OBJECTIVE  /* objective_pairs.c: an objective's term list    */
} rpo_pairs_kernel;

typedef struct rpo_plan {
    rpo_dtype compute_type;         /* float or double (rpo_compute_type) */
    size_t elem;                    /* its size                           */
    const rpo_kernels *kernels;     /* the context's kernel set           */
    const rpo_kernels_of_type *k;   /* its kernels of the compute type    */
    int weighting;                  /* RPO_WEIGHTING_* or _CALLER         */
    int embedding, paired;
    int uses_sim;                   /* EMBEDDING or SINKHORN: the prompts'
                                       similarities are prepared          */
    int emb_grad;                   /* embedding gradients computed       */
    int solves_tau;                 /* EMBEDDING rows solve their
                                       temperature (TARGET_CONTRASTS)     */
    int records_shape;              /* rows record their entropy (and
                                       diagonal): EMBEDDING, SINKHORN and
                                       the caller's weights, when W is
                                       formed                             */
    int square;                     /* the whole problem's M == N        */
    rpo_sim_backend backend;        /* of the similarity products         */
    int symmetric;                  /* one block of paired embeddings:
                                       half the product, mirrored         */
    int shared;                     /* shared blocks (see above)          */
    rpo_pairs_kernel pairs;         /* the per-pair stage                 */
    size_t block_rows, blocks;
    size_t items_per_block;         /* units of work (and commit) in a
                                       block: 1, or its sub-blocks        */
    size_t slice_rows;              /* shared mode: rows of the slices its
                                       native product is cut into (the
                                       products' values do not depend on
                                       it: product.h)                     */
    unsigned workers;
} rpo_plan;

/* Byte offsets of one worker's regions, relative to its base. */
typedef struct rpo_worker_regions {
    size_t panel;      /* (block_rows, n) weights of a block, compute type */
    size_t sim;        /* the tile product's packed rows                   */
    size_t col_part;   /* (n) double: a block's column sums                */
    size_t col_tmp;    /* (n) compute type: the pairs kernel's scratch     */
    size_t wide;       /* (rows, n) double: weights for pairs_scalar.c         */
    /* embedding gradients (embed_grad.h), double                          */
    size_t gw;         /* (rows, n) dL/dW, then dL/dcos                    */
    size_t df_part;    /* (n, d) the work unit's dL/df^                    */
    size_t gw_t, e_t;  /* (n, rows), (d, rows) transposes                  */
} rpo_worker_regions;

/* Byte offsets in the context's scratch. */
typedef struct rpo_layout {
    size_t a, b;               /* (M), (N) double log-ratios               */
    size_t a_compute, b_compute; /* the same in the compute type           */
    size_t row_g, col_g;       /* (M), (N) double gradient sums            */
    size_t e_norm, f_norm;     /* (M), (N) embedding row norms             */
    size_t f_tiles;            /* TILES: f packed in B tiles               */
    size_t e_rows, f_rows;     /* DOTS, BLAS: normalised rows              */
    size_t uniform;            /* (N) 1/N in the compute type              */
    /* the shape of W and the solved temperatures (weights.h), double      */
    size_t row_entropy, row_diag, row_tau;   /* (M) each                   */
    size_t shared_panel;       /* shared mode: (block_rows, n)             */
    /* SINKHORN (sinkhorn.h): the cosines and the potentials, double       */
    size_t cos, pot_f, pot_g, pot_g_next, col_max, col_sum;
    /* embedding gradients (embed_grad.h), double                          */
    size_t e_hat, f_hat;       /* (M, D), (N, D) normalised rows           */
    size_t f_hat_t;            /* (D, N) f_hat transposed                  */
    size_t de, df;             /* (M, D), (N, D)                           */
    /* an objective (objective.h), double                                  */
    size_t sa, da, sb, db;     /* (T, M), (T, M), (T, N), (T, N)           */
    size_t wc, wr;             /* (M), (N) sample weights                  */
    size_t wg;                 /* (M) the pairs kernel's row gradient
                                  weights: wc_i g_i with losses_grad, else
                                  wc itself                                */
    size_t row_loss;           /* (M)                                      */
    size_t sa_compute, sb_compute; /* term 0's scores, compute type     */
    size_t wr_compute;         /* (N) wr in the compute type               */
    rpo_worker_regions per_worker;
    size_t worker0, worker_bytes;
} rpo_layout;

/* The magnitudes of a call's inputs. Reads them: call only after the
 * sizes were validated. */
rpo_input_scan rpo_scan_inputs(const rpo_call *call);

/* The weighting a call uses (RPO_WEIGHTING_CALLER for rpo_loss_weighted_*,
 * EMBEDDING for the similarity stage alone). */
int rpo_call_weighting(const rpo_config *cfg, const rpo_call *call);

/* The plan for a call; scan may promise small finite inputs (the compute
 * type then follows from the types and settings alone). */
rpo_plan rpo_plan_call(const rpo_config *cfg, const rpo_call *call,
                       const rpo_input_scan *scan);

/* The compute type the scan allows (float only if everything fits). */
rpo_dtype rpo_compute_type(const rpo_config *cfg, const rpo_call *call,
                           const rpo_input_scan *scan, int embedding);

/* Lays out the plan's scratch in *L and reserves it: RPO_OK, RPO_ERR_SIZE
 * or RPO_ERR_NOMEM (rpo_scratch_reserve). */
int rpo_plan_reserve(rpo_ctx *ctx, const rpo_call *call, const rpo_plan *p,
                     rpo_layout *L);

/* A worker's region: worker's base plus region's offset. */
static inline void *rpo_worker_at(const rpo_ctx *ctx, const rpo_layout *L,
                                  unsigned worker, size_t region)
{
    return rpo_scratch_at(ctx, L->worker0 + worker * L->worker_bytes + region);
}

#endif /* RPO_PLAN_H */
