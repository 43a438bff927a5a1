/*
 * The engine's steps for a call that carries an objective (objective.h):
 * checking the values the objective adds, preparing its scores in the
 * scratch, checking and writing the outputs it adds, and the call without
 * a contrast (M == 0 or N == 0), where only SFT can be nonzero.
 */
#ifndef RPO_ENGINE_OBJECTIVE_H
#define RPO_ENGINE_OBJECTIVE_H

#include "engine.h"
#include "plan.h"
#include "stream.h"

/* After the inputs were found finite: lengths, sample weights, ORPO's
 * domain. RPO_OK or the status with a detail. */
int rpo_objective_check_call(rpo_ctx *ctx, const rpo_call *call);

/* After the log-ratios a, b are in the scratch: scores, slopes, weights. */
void rpo_objective_prepare(rpo_ctx *ctx, const rpo_call *call, const rpo_plan *p,
                           const rpo_layout *L);

/* RPO_ERR_RANGE unless the per-row losses and rewards fit their outputs. */
int rpo_objective_check_range(rpo_ctx *ctx, const rpo_config *cfg,
                              const rpo_call *call, const rpo_loss_result *r,
                              const double *a, const double *b);

/* Writes the per-row losses and the rewards. */
void rpo_objective_write(const rpo_config *cfg, const rpo_call *call,
                         const rpo_loss_result *r, const double *a, const double *b);

/* M == 0 or N == 0: checks every input, then writes the SFT term alone
 * (0 when M == 0) and zeros elsewhere. */
int rpo_objective_finish_empty(rpo_ctx *ctx, const rpo_config *cfg,
                               const rpo_call *call);

#endif /* RPO_ENGINE_OBJECTIVE_H */
