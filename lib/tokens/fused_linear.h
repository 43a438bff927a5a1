/*
 * The fused linear log-probs (rpo_linear_logps_*, docs/math.md): what the
 * entry points (fused_linear.c: checks) hand to the chunked computation
 * (fused_linear_run.c) and the layouts it packs its operands into
 * (fused_linear_pack.c).
 */
#ifndef RPO_FUSED_LINEAR_H
#define RPO_FUSED_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "arrays.h"
#include "config.h"
#include "context.h"
#include "kernels.h"

/* One call, after its checks. Only the `live` tokens are computed: those
 * with a target (and, for the backward, a nonzero dlogps), at positions
 * rows[0 .. live - 1] in increasing order. */
typedef struct rpo_linear_call {
    rpo_dtype type;
    const rpo_kernels_of_type *k;
    size_t h, v, ldw;
    const void *hidden;        /* (T, H)            */
    const void *weight;        /* (V, ldw)          */
    const void *bias;          /* (V) or NULL       */
    const int32_t *targets;    /* (T)               */
    size_t live;
    const size_t *rows;        /* (live)            */
    size_t chunk;              /* RPO_PARAM_LINEAR_CHUNK */
    unsigned threads;
} rpo_linear_call;

/* The backward's outputs. */
typedef struct rpo_linear_grads {
    void *dhidden;             /* (T, H)                             */
    void *dweight;             /* (V, ldw)                           */
    void *dbias;               /* (V) or NULL                        */
} rpo_linear_grads;

/* Scratch of a call: rpo_linear_plan adds its regions to plan (offsets
 * kept in lay); after rpo_scratch_reserve the run functions find them. One
 * layout serves the forward and the backward, which runs the forward
 * first when the caller does not pass lse. The (live) doubles regions:
 *   target_x  the target's logit, then the log-prob
 *   run_max   the running row maximum, then the lse
 *   run_sum   the running sum of exponentials
 *   dlogp     the backward's dlogps                                      */
typedef struct rpo_linear_layout {
    unsigned workers;
    int backward;
    size_t hidden_a, hidden_b;     /* packed hidden rows, per token chunk   */
    size_t target_x, run_max, run_sum, dlogp;
    size_t per_worker;             /* worker 0's regions                    */
    size_t worker_bytes;           /* from one worker's regions to the next */
} rpo_linear_layout;

void rpo_linear_plan(const rpo_linear_call *c, int backward,
                     rpo_scratch_plan *plan, rpo_linear_layout *lay);

/* The forward: run_max becomes the live tokens' lse and target_x their
 * log-probs. RPO_OK, or RPO_ERR_NONFINITE (a weight row) or RPO_ERR_RANGE
 * (a logit overflowed) with the detail recorded in ctx. */
int rpo_linear_forward_run(rpo_ctx *ctx, const rpo_linear_call *c,
                           const rpo_linear_layout *lay);

/* The backward from the lse in run_max and the dlogps in dlogp, after
 * every check has passed: it cannot fail. */
void rpo_linear_backward_run(rpo_ctx *ctx, const rpo_linear_call *c,
                             const rpo_linear_layout *lay,
                             const rpo_linear_grads *g);

/* Operand layouts of the product kernels ([tile][k][width], kernels.h),
 * zero-padded to whole tiles, from a row-major src with row stride ld.
 * index == NULL reads rows first, first + 1, ...; otherwise rows
 * index[first], index[first + 1], ....
 *   rows:    tiles over `count` rows, k over `depth` columns
 *   columns: tiles over `count` columns, k over `depth` rows          */
void rpo_tiles_of_rows(rpo_dtype type, const void *src, size_t ld,
                       const size_t *index, size_t first, size_t count,
                       size_t depth, size_t width, void *dst);
void rpo_tiles_of_columns(rpo_dtype type, const void *src, size_t ld,
                          const size_t *index, size_t first, size_t depth,
                          size_t count, size_t width, void *dst);

#endif /* RPO_FUSED_LINEAR_H */
