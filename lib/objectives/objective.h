/*
 * Objectives (rpo_objective_*, docs/objectives.md): a weighted list of
 * loss terms on the contrast matrix, with lengths, sample weights and
 * f-divergence scores, or KTO's unpaired loss.
 *
 * A list runs through the engine like any loss call (engine.c): this file
 * turns the log-probs into each pair term's scores sa, sb and their slopes
 * d sa / d policy (so the per-pair kernel, objective_pairs.c, only chains
 * them), adds the SFT term, and checks the values the engine does not know.
 * KTO reads no weight matrix and runs on its own (kto.c).
 */
#ifndef RPO_OBJECTIVE_H
#define RPO_OBJECTIVE_H

#include <stddef.h>

#include "arrays.h"
#include "config.h"
#include "context.h"
#include "pair_loss.h"

/* What a pair term reads of a sequence, besides its log-ratio. */
typedef enum rpo_score_kind {
    RPO_SCORE_RATIO,        /* g(a)                                    */
    RPO_SCORE_RATIO_MEAN,   /* g(a / L): IPO, SIGMOID_NORM             */
    RPO_SCORE_POLICY_MEAN,  /* p / L, reference-free: SIMPO            */
    RPO_SCORE_LOG_ODDS      /* lo(p / L), reference-free: ORPO         */
} rpo_score_kind;

/* One call's objective, resolved from the batch and the settings. */
typedef struct rpo_objective {
    size_t terms;                          /* pair terms                   */
    rpo_pair_loss pair[RPO_MAX_TERMS];      /* their per-pair functions     */
    rpo_score_kind score[RPO_MAX_TERMS];
    double weight[RPO_MAX_TERMS];
    int has_sft;
    double sft_weight;
    int unpaired;                          /* RPO_LOSS_KTO or
                                              RPO_LOSS_APO_ZERO_UNPAIRED;
                                              0 for a list                 */
    double unpaired_weight;
    rpo_in chosen_lengths, rejected_lengths;    /* absent: sums            */
    rpo_in chosen_weights, rejected_weights;    /* absent: 1               */
    rpo_in sft_tokens;                     /* (1) the chosen tokens of all
                                              row blocks, or absent        */
    size_t k;                              /* KTO's KL pairs               */
    rpo_in policy_kl, ref_kl, kl;
    rpo_in losses_grad;                    /* (M), (M + N) for KTO: each
                                              per-row loss's incoming
                                              gradient, or absent: the
                                              reduced loss's gradients     */
    int fdiv;                              /* RPO_FDIV_*                   */
    double f_alpha;
    double exp_cap;   /* log of the caller type's largest finite value    */
} rpo_objective;

/* 1 when the list's pair terms run on the SIMD pairs kernel (kernels.h):
 * one term of the sigmoid loss (SIGMOID, SIGMOID_NORM, SIMPO) with no
 * margin, on scores within the log-probs' magnitudes (reverse KL, or
 * SIMPO's p / L). Every other list runs on objective_pairs.c. */
int rpo_objective_fast(const rpo_objective *o);

/* The list of a batch: resolves terms/term_losses/term_weights (terms == 0:
 * the context's RPO_PARAM_LOSS) and the settings into *o, whose arrays the
 * caller fills in. RPO_OK, or RPO_ERR_SIZE / RPO_ERR_NULL_POINTER /
 * RPO_ERR_PARAM with a detail in ctx. */
int rpo_objective_resolve(rpo_ctx *ctx, const rpo_config *cfg, size_t terms,
                          const int *term_losses, const double *term_weights,
                          rpo_dtype type, rpo_objective *o);

/* Checks the values of the lengths (finite, > 0) and sample weights
 * (finite, >= 0) of a call with m chosen and n rejected rows, losses_grad
 * (finite),
 * and ORPO's domain once the policy log-probs are known finite. RPO_OK,
 * or RPO_ERR_NONFINITE, RPO_ERR_PARAM or RPO_ERR_RANGE with a detail. */
int rpo_objective_check_values(rpo_ctx *ctx, const rpo_objective *o,
                               rpo_in policy_chosen, size_t m,
                               rpo_in policy_rejected, size_t n);

/* Each pair term's scores and slopes, term t's at [t * m] and [t * n]:
 *   sa (T, M), da (T, M)   from the chosen side (a: its log-ratios)
 *   sb (T, N), db (T, N)   from the rejected side
 * and the sample weights wc (M), wr (N) (1 where absent). */
void rpo_objective_scores(const rpo_objective *o, rpo_in policy, const double *ratio,
                          rpo_in lengths, size_t count, double *s, double *ds);
void rpo_objective_sample_weights(rpo_in weights, size_t count, double *out);

/* What the derivatives of per-row loss k are multiplied by: its incoming
 * gradient g_k (losses_grad), or `reduced` (the reduction's factor) when
 * there is none. */
static inline double rpo_objective_row_factor(const rpo_objective *o, size_t k,
                                              double reduced)
{
    return o->losses_grad.data != NULL ? rpo_in_at(o->losses_grad, k) : reduced;
}

/* The SFT term of a list's m chosen rows, of m_total over all row blocks
 * (m_total = m for a whole call): adds this block's share of weight * SFT
 * (times m_total under SUM) to *loss, its gradient to grad (M; NULL: not
 * wanted) and each row's share, times m_total, to row_loss (M; NULL: not
 * wanted). The token count is sft_tokens when given, else this block's.
 * With losses_grad, grad receives the gradient of sum_i g_i row_loss_i. */
void rpo_objective_add_sft(const rpo_objective *o, rpo_in policy_chosen,
                           size_t m, size_t m_total, int sum, double *loss,
                           double *grad, double *row_loss);

/* KTO and APO_ZERO_UNPAIRED (kto.c): checks, computes, writes. The
 * arrays as for a list; losses is (M + N). A row block (rows = 1) holds
 * sequences row_offset .. row_offset + M + N - 1 of the m_total sequences
 * of all blocks: it writes partial_stats (loss share, reward sums), not
 * loss, and leaves the metrics alone. */
typedef struct rpo_unpaired_call {
    size_t m, n;
    rpo_in policy_chosen, ref_chosen, policy_rejected, ref_rejected;
    rpo_out loss, grad_chosen, grad_rejected, losses;
    rpo_out chosen_rewards, rejected_rewards;
    int is_row_block;           /* rpo_objective_rows_*: rows row_offset ..
                                   of m_total                            */
    size_t m_total, row_offset;
    rpo_out partial_stats;
} rpo_unpaired_call;

int rpo_unpaired_run(rpo_ctx *ctx, const rpo_config *cfg, const rpo_objective *o,
                     const rpo_unpaired_call *call);

#endif /* RPO_OBJECTIVE_H */
