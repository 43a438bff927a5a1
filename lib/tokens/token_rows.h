/*
 * The token helpers' passes over the rows of a (T, V) logits matrix, each
 * row on its own (lib/kernels/simd/tokens.h's kernels), spread over threads.
 *
 * A row's result depends on that row alone and is computed by the same
 * code whichever thread takes it, so every result is bitwise identical for
 * any RPO_PARAM_THREADS. The passes write only their own scratch (the
 * forward, the checks) or the rows they own (the gradient).
 */
#ifndef RPO_TOKEN_ROWS_H
#define RPO_TOKEN_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "arrays.h"
#include "kernels.h"

/* One call's arrays. logits (T, stride), V used per row; targets (T). */
typedef struct token_rows {
    const rpo_kernels *set;            /* the context's kernel set       */
    const rpo_kernels_of_type *kern;   /* its element type's kernels     */
    unsigned threads;                  /* RPO_PARAM_THREADS (config.h)   */
    size_t elem;                       /* bytes per logit: 4 or 8        */
    size_t t, v, stride;
    const void *logits;
    const int32_t *targets;
    /* the backward's */
    rpo_in dlogps;                     /* (T)                            */
    void *dlogits;                     /* (T, stride), may equal logits
                                          when overwrite                 */
    const double *lse;                 /* (T) given log-sum-exps or NULL */
    int overwrite;                     /* 1: =, 0: +=                    */
    /* scratch (T) results */
    double *logp, *lse_out;            /* forward                        */
    int *status;                       /* checks: RPO_OK or RPO_ERR_*    */
    double *top;                       /* checks, with lse: each row's max */
    double *wide_x, *wide_d;           /* (V) each, for rows in double   */
} token_rows;

/* Below this many logits (T V) a call runs on one thread, and a float32
 * call computes its rows in double through the float64 kernels (widened
 * into wide_x, results in wide_d, each rounded once), as the loss's small
 * calls do: its results then do not depend on the CPU's kernel set (to
 * double rounding), which a small trainer that compares runs across
 * machines needs (make demo's table), and its time does not matter. */
#define RPO_TOKEN_SERIAL_LOGITS (1u << 16)

static inline int token_rows_in_double(const token_rows *r)
{
    return r->elem == sizeof(float) && r->t * r->v < RPO_TOKEN_SERIAL_LOGITS;
}

/* Rows that no pass reads: no target, or (backward) a zero dlogps. */
static inline int token_row_skipped(const token_rows *r, size_t k)
{
    return r->targets[k] < 0 || (r->dlogps.data != NULL && rpo_in_at(r->dlogps, k) == 0.0);
}

/* logp[k] = log softmax(row k)[targets[k]] and lse_out[k] its
 * log-sum-exp; both 0 for a row without target; logp[k] NaN for a row
 * holding NaN or infinity. */
void rpo_token_forward_rows(const token_rows *r, unsigned workers);

/* status[k] for each row the backward changes: RPO_ERR_NONFINITE (NaN or
 * infinity in dlogps[k], the logits row, the lse, or the dlogits row that
 * is accumulated into), RPO_ERR_RANGE (a given lse that is not the row's
 * log-sum-exp, or a sum that could leave the type), else RPO_OK. */
void rpo_token_check_rows(const token_rows *r, unsigned workers);

/* The gradient rows, after every check passed: changed rows as
 * rpo_kernels_of_type.token_grad says, skipped ones zeroed (overwrite) or
 * left alone (accumulate). */
void rpo_token_grad_rows(const token_rows *r, unsigned workers);

#endif /* RPO_TOKEN_ROWS_H */
