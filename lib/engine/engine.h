/*
 * The driver behind every public entry point: it checks a call, plans it
 * and reserves scratch (plan.c), prepares the log-ratios and the
 * normalised embeddings, streams the contrast matrix by row blocks through
 * the weights, the similarity product and the per-pair kernels (stream*.c),
 * scales, checks and finally writes the outputs. Nothing is written to the
 * caller's outputs or to the context's metrics before every check has
 * passed.
 */
#ifndef RPO_ENGINE_H
#define RPO_ENGINE_H

#include <stddef.h>

#include "arrays.h"
#include "config.h"
#include "context.h"

typedef enum rpo_call_kind {
    RPO_CALL_LOSS,           /* rpo_loss_*: weights from the context      */
    RPO_CALL_LOSS_WEIGHTED,  /* rpo_loss_weighted_*: the caller's weights */
    RPO_CALL_WEIGHTS         /* rpo_weights_*: the weight matrix only     */
} rpo_call_kind;

/* One public call, its arrays tagged with their element type. Arrays a
 * call kind does not use are left with data == NULL. */
typedef struct rpo_call {
    rpo_call_kind kind;
    size_t m, n, d;
    rpo_in policy_chosen, ref_chosen;        /* (M), ref may be absent    */
    rpo_in policy_rejected, ref_rejected;    /* (N), ref may be absent    */
    rpo_in chosen_emb, rejected_emb;         /* (M, D), (N, D)            */
    rpo_in weights_in;                       /* (M, N) LOSS_WEIGHTED      */
    rpo_out loss, grad_chosen, grad_rejected;/* (1), (M), (N)             */
    rpo_out weights_out;                     /* (M, N) WEIGHTS            */
    int similarity_only;  /* WEIGHTS: the cosine similarities, whatever the
                             weighting, without the softmax (the
                             static-linking-only rpo_similarity_*)        */
    rpo_out grad_chosen_emb;                 /* (M, D)                    */
    rpo_out grad_rejected_emb;               /* (N, D)                    */
    /* A row block of a larger problem (rpo_loss_rows_*): rows row_offset ..
     * row_offset + m - 1 of m_total. grad_rejected, grad_rejected_emb and
     * partial_stats then receive this block's shares, loss is unused. */
    int is_row_block;
    size_t m_total, row_offset;
    rpo_out partial_stats;                   /* (RPO_PARTIAL_COUNT)       */
    /* An objective's term list (rpo_objective_*, objective.h), or NULL:
     * the context's RPO_PARAM_LOSS as in 1.2. Its outputs: */
    const struct rpo_objective *objective;
    rpo_out losses;                          /* (M) per-row losses        */
    rpo_out chosen_rewards, rejected_rewards;/* (M), (N) beta a, beta b   */
} rpo_call;

/* Runs the call with the context's settings, resolved here once
 * (rpo_config_of). Returns RPO_OK or the first error, in the order the
 * header documents: NULL pointer, size, memory, non-finite input, range. */
int rpo_run(rpo_ctx *ctx, const rpo_call *call);

/* The same with settings an entry point already resolved (ctx not NULL). */
int rpo_run_configured(rpo_ctx *ctx, const rpo_config *cfg, const rpo_call *call);

#endif /* RPO_ENGINE_H */
