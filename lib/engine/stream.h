/*
 * Streaming a call's row blocks through the kernels (plan.h describes the
 * blocks and the two modes): the loss with its gradients and metrics
 * (stream_loss.c), the weight matrix of rpo_weights_* (stream_weights.c),
 * both on one walk of the row blocks, and the similarity product of a
 * shared block (stream.c).
 */
#ifndef RPO_STREAM_H
#define RPO_STREAM_H

#include <stddef.h>

#include "context.h"
#include "engine.h"
#include "plan.h"
#include "weights.h"

/* Everything a streamed call reads. */
typedef struct rpo_stream {
    rpo_ctx *ctx;
    const rpo_config *cfg;
    const rpo_call *call;
    const rpo_plan *p;
    const rpo_layout *L;
    const rpo_weight_source *src;
} rpo_stream;

/* Scaled results of a loss call, in double, before they are written. */
typedef struct rpo_loss_result {
    double loss;
    double *grad_a;   /* (M) in scratch, or NULL when not wanted */
    double *grad_b;   /* (N) in scratch, or NULL when not wanted */
    double *grad_e;   /* (M, D) in scratch, or NULL when not computed */
    double *grad_f;   /* (N, D) in scratch, or NULL when not computed */
    double *row_loss; /* (M) an objective's per-row losses, or NULL     */
    rpo_metrics metrics;
    double partial[RPO_PARTIAL_COUNT];  /* row blocks: the shares */
} rpo_loss_result;

/* Rows in block `block` (the last one may be short). */
size_t rpo_block_rows(const rpo_plan *p, size_t m, size_t block);

/* The similarities of rows i0 .. i0 + rows - 1 into s (rows, n), row stride
 * lds, for a shared block: one CBLAS call (threaded by the BLAS), or
 * native slices spread over the plan's workers. upper: the whole matrix
 * of paired embeddings, mirrored afterwards. */
void rpo_shared_similarity(const rpo_stream *s, size_t i0, size_t rows,
                           void *out, size_t lds, int upper);

/* The mirror of the square out (count, count), over the workers
 * (rpo_mirror_plan). */
void rpo_parallel_mirror(const rpo_stream *s, void *out, size_t lds, size_t count);

/* RPO_STAT_EFFECTIVE_CONTRASTS and RPO_STAT_DIAGONAL_WEIGHT of the rows
 * streamed (divided by the whole problem's M: a row block's shares) into
 * metrics; its other fields are left as they are. */
void rpo_weight_shape_metrics(const rpo_stream *s, rpo_metrics *metrics);

/* What a walk over the row blocks (rpo_walk_blocks) does with them. */
typedef struct rpo_block_visitor {
    /* Rows i0 .. i0 + rows - 1 of W, computed at w (row stride ldw), for
     * the worker to use. */
    void (*take)(void *arg, unsigned worker, size_t i0, size_t rows,
                 const void *w, size_t ldw);
    /* After each unit of work, in order (threads.h). */
    void (*commit)(void *arg, unsigned worker, size_t item);
    /* Where rows i0 .. of W may be computed (the caller's output, in
     * place), or NULL: in the scratch's panels. */
    char *in_place;
    int symmetric;  /* shared blocks of paired embeddings: the half
                       product, mirrored (plan.h)                     */
    void *arg;
} rpo_block_visitor;

/* Computes the weights of every row block, in either mode (plan.h):
 * streamed, a block per unit of work; shared, the block's similarities
 * first, then its sub-blocks. Each unit's rows go to v->take, then
 * v->commit in order. The walk of both the loss and the weights. */
void rpo_walk_blocks(const rpo_stream *s, const rpo_block_visitor *v);

/* Streams the loss call described by s into *out. Cannot fail. */
void rpo_stream_loss(const rpo_stream *s, rpo_loss_result *out);

/* Streams the weights call described by s into its output. */
void rpo_stream_weights(const rpo_stream *s);

#endif /* RPO_STREAM_H */
