/*
 * Argument checks that need no memory and read no array: NULL pointers and
 * sizes. Finiteness is checked while the inputs are widened to double.
 */
#ifndef RPO_VALIDATE_H
#define RPO_VALIDATE_H

#include "engine.h"

/* 1 when the call's rejected embeddings are the chosen ones (paired). */
int rpo_call_is_paired(const rpo_call *call);

/* 1 when the weighting reads the prompt embeddings. */
int rpo_weighting_uses_embeddings(int weighting);

/* 1 when the call asks for an embedding gradient. */
int rpo_call_wants_emb_grad(const rpo_call *call);

/* RPO_OK, RPO_ERR_NULL_POINTER or RPO_ERR_SIZE (in that precedence) for a
 * call whose weighting is `weighting` (the context's, for every kind); a
 * failure records its detail in ctx. */
int rpo_validate_call(rpo_ctx *ctx, const rpo_call *call, int weighting);

/* RPO_OK, RPO_ERR_PARAM for settings that conflict (EXO_PAIR without label
 * smoothing), or RPO_ERR_UNSUPPORTED for a request no code path serves
 * (SINKHORN in a row block or with embedding gradients), with its detail
 * in ctx. */
int rpo_validate_settings(rpo_ctx *ctx, const rpo_config *cfg,
                          const rpo_call *call);

#endif /* RPO_VALIDATE_H */
