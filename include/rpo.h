/*
 * librpo: Relative Preference Optimization loss and gradients.
 *
 * RPO here is Relative Preference Optimization (Yin, Wang, Gu, Huang, Chen,
 * Zhou, 2024, arXiv 2402.10958), not "iterative reasoning preference
 * optimization" (DPO + NLL) nor reward-aware preference optimization, which
 * share the acronym.
 *
 * What it computes. A batch holds M chosen responses and N rejected ones, each
 * given as a per-sequence log-probability under the policy being trained and
 * under the frozen reference model. With the log-ratios
 *
 *     a_i = policy_chosen[i]   - ref_chosen[i]         i < M
 *     b_j = policy_rejected[j] - ref_rejected[j]       j < N
 *     z_ij = a_i - b_j                                 the M x N contrast matrix
 *
 * the loss weighs every chosen response against every rejected one:
 *
 *     loss placement : L = (1/M) sum_i   sum_j   W_ij * softplus(-beta * z_ij)
 *     logit placement: L = (1/M) sum_i (1/N) sum_j softplus(-beta * W_ij * z_ij)
 *
 * where each row of the weight matrix W sums to 1 and is uniform, emphasises
 * the diagonal (the true pairs of paired data), or is a softmax over the
 * cosine distance of the two prompts' embeddings. Diagonal emphasis with
 * alpha = 1 is exactly DPO. librpo returns L, dL/d policy_chosen,
 * dL/d policy_rejected, the weight matrix and metrics; the caller
 * back-propagates the gradients through its own model. docs/math.md derives
 * everything; this header is the reference for every function, and
 * docs/api.md a guide to it.
 *
 * Conventions for every function below:
 *   - Arrays are row-major and contiguous; an (M, D) matrix is M rows of D.
 *   - The return value is a status: RPO_OK (0) or a negative RPO_ERR_* code.
 *   - On any error nothing is written to any output, and the context's
 *     settings and last metrics are unchanged.
 *   - Outputs may alias inputs (the results are written only at the end).
 *   - Nothing prints, aborts, exits or keeps global mutable state. Distinct
 *     contexts may be used from distinct threads at once; one context is used
 *     by one thread at a time.
 *
 * The header depends on <stddef.h> and <stdint.h> only and is C99.
 */
#ifndef RPO_H
#define RPO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Version: written here once; the Makefile and rpo.pc read it from here.   */

#define RPO_VERSION_MAJOR 1
#define RPO_VERSION_MINOR 3
#define RPO_VERSION_PATCH 0
#define RPO_VERSION_NUMBER \
    (RPO_VERSION_MAJOR * 10000 + RPO_VERSION_MINOR * 100 + RPO_VERSION_PATCH)
#define RPO_VERSION_STRINGIFY_(x) #x
#define RPO_VERSION_STRINGIFY(x) RPO_VERSION_STRINGIFY_(x)
#define RPO_VERSION_STRING                      \
    RPO_VERSION_STRINGIFY(RPO_VERSION_MAJOR) "." \
    RPO_VERSION_STRINGIFY(RPO_VERSION_MINOR) "." \
    RPO_VERSION_STRINGIFY(RPO_VERSION_PATCH)

/* Symbols are exported from the shared library only through RPO_API and the
 * version script lib/rpo.map; everything else is hidden. */
#if defined(_WIN32) && defined(RPO_BUILDING_DLL)
#  define RPO_API __declspec(dllexport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define RPO_API __attribute__((visibility("default")))
#else
#  define RPO_API
#endif

/* ------------------------------------------------------------------------ */
/* Status codes: explicit values, never renumbered or reused.               */

#define RPO_OK                 0
#define RPO_ERR_NULL_POINTER  (-1) /* a required pointer is NULL               */
#define RPO_ERR_SIZE          (-2) /* a size breaks a rule of the call (sizes
                                      that must match, a zero or
                                      out-of-bounds size or index), or a size
                                      product overflows size_t                */
#define RPO_ERR_PARAM         (-3) /* unknown setting, value out of range, or
                                      settings that conflict                 */
#define RPO_ERR_NONFINITE     (-4) /* NaN or infinity in an input that is read */
#define RPO_ERR_NOMEM         (-5) /* scratch memory could not be allocated    */
#define RPO_ERR_UNSUPPORTED   (-6) /* a valid request that these settings,
                                      this build or this CPU cannot serve
                                      (e.g. SINKHORN embedding gradients)    */
#define RPO_ERR_RANGE         (-7) /* finite inputs whose result does not fit
                                      the output type (it would be inf or NaN) */

/* rpo_status_string gives a code's general meaning. A call on a context
 * that fails also leaves a detail there (since 1.3, rpo_ctx_error_detail):
 * the argument, the rule and the values, as in "DIAGONAL weighting needs
 * m == n (m = 6, n = 4)".                                                  */

/* ------------------------------------------------------------------------ */
/* Settings: rpo_ctx_set / rpo_ctx_get keys. Values are doubles; an
 * enumeration passes its integer value. rpo_param_bounds gives each range.
 * Keys 1 to 6 exist since 1.0, RPO_PARAM_THREADS since 1.1, keys 8 to 13
 * since 1.2, keys 14 to 20 since 1.3; a library older than the key answers
 * RPO_ERR_PARAM for it
 * (compare rpo_version_number() with RPO_VERSION_NUMBER).                  */

#define RPO_PARAM_WEIGHTING  1 /* RPO_WEIGHTING_*; default EMBEDDING          */
#define RPO_PARAM_BETA       2 /* beta > 0, finite;      default 0.1          */
#define RPO_PARAM_TAU        3 /* tau > 0, finite;       default 0.5          */
#define RPO_PARAM_ALPHA      4 /* alpha in [0, 1];       default 0.8          */
#define RPO_PARAM_PLACEMENT  5 /* RPO_PLACEMENT_*;       default AUTO         */
#define RPO_PARAM_REDUCTION  6 /* RPO_REDUCTION_*;       default MEAN         */
#define RPO_PARAM_THREADS    7 /* since 1.1: threads per call, an integer
                                  in [1, 256]; default 1. Results are
                                  bitwise identical for every value (see
                                  "Threads" below)                         */
/* Beyond the paper (docs/extensions.md), since 1.2.                           */
#define RPO_PARAM_LOSS             8 /* RPO_LOSS_*: the per-pair function;
                                        default SIGMOID                      */
#define RPO_PARAM_LABEL_SMOOTHING  9 /* epsilon in [0, 0.5) of SIGMOID (cDPO),
                                        ROBUST and EXO_PAIR; default 0       */
#define RPO_PARAM_DISCOPOP_TAU    10 /* DISCOPOP's tau > 0; default 0.05     */
#define RPO_PARAM_LOGIT_SCALE     11 /* RPO_LOGIT_SCALE_*; default ROW_SUM   */
#define RPO_PARAM_SINKHORN_ITERS  12 /* most Sinkhorn iterations, integer in
                                        [1, 1e6]; default 200                */
#define RPO_PARAM_SINKHORN_TOL    13 /* stop when every column marginal is
                                        within this relative error, [0, 1];
                                        default 1e-9                         */
/* Objectives (docs/objectives.md), since 1.3: read by rpo_objective_*
 * alone; the entry points of 1.0 to 1.2 ignore them.                      */
#define RPO_PARAM_SIMPO_GAMMA     14 /* gamma >= 0, finite: the margin of
                                        SIMPO, SIGMOID and SIGMOID_NORM,
                                        softplus(-(x - gamma)); default 0
                                        (TRL's CPO default is 0.5)           */
#define RPO_PARAM_F_DIVERGENCE    15 /* RPO_FDIV_*; default REVERSE_KL       */
#define RPO_PARAM_F_ALPHA         16 /* the alpha of RPO_FDIV_ALPHA, > 0,
                                        finite; default 1 (TRL's
                                        f_alpha_divergence_coef)             */
#define RPO_PARAM_DESIRABLE_WEIGHT   17 /* KTO's, >= 0, finite; default 1   */
#define RPO_PARAM_UNDESIRABLE_WEIGHT 18 /* KTO's, >= 0, finite; default 1   */
/* The fused linear log-probs, since 1.3.                                 */
#define RPO_PARAM_LINEAR_CHUNK    19 /* rpo_linear_logps_*: tokens and
                                        vocabulary words per chunk of
                                        logits, integer in [16, 4096];
                                        default 256 (see there)            */
/* Effective contrasts (docs/extensions.md), since 1.3.                       */
#define RPO_PARAM_TARGET_CONTRASTS 20 /* k: 0 (off, the default) or a finite
                                        k >= 1 (values in (0, 1) are
                                        refused); EMBEDDING weighting then
                                        solves each row's temperature so
                                        that exp(entropy of W's row) = k,
                                        instead of using RPO_PARAM_TAU (see
                                        "Effective contrasts" below);
                                        rpo_param_bounds gives [0, DBL_MAX] */

/* Weightings: how the M x N contrast matrix is weighted (rows sum to 1). */
#define RPO_WEIGHTING_UNIFORM    0 /* W_ij = 1/N                              */
#define RPO_WEIGHTING_DIAGONAL   1 /* W_ii = alpha, W_ij = (1-alpha)/(N-1);
                                      paired data only (M == N)               */
#define RPO_WEIGHTING_EMBEDDING  2 /* W_ij = softmax_j((cos(e_i, f_j) - 1)/tau) */
#define RPO_WEIGHTING_SINKHORN   3 /* since 1.2: rows of the entropic
                                      optimal-transport plan between the
                                      chosen and rejected prompts (cost
                                      1 - cos, epsilon = tau), rescaled to
                                      sum to 1; constants in the backward.
                                      Not in rpo_loss_rows_*.                */

/* Placements: where W enters the loss. AUTO is the reference
 * implementation's choice: LOGIT for EMBEDDING, LOSS for the others. */
#define RPO_PLACEMENT_AUTO   0
#define RPO_PLACEMENT_LOGIT  1 /* softplus(-beta * W_ij * z_ij), mean over j  */
#define RPO_PLACEMENT_LOSS   2 /* W_ij * softplus(-beta * z_ij), sum over j   */

/* Reductions over the M rows. SUM is M times MEAN, for trainers that
 * normalise across micro-batches or ranks themselves. */
#define RPO_REDUCTION_MEAN  0
#define RPO_REDUCTION_SUM   1

/* Threads. A call with RPO_PARAM_THREADS = T > 1 runs on up to T POSIX
 * threads (the caller's included), created by the call and joined before
 * it returns; small problems stay on the caller's thread. The rows are cut
 * into blocks by the problem's sizes alone and partial sums are combined in
 * block order, so every result is bitwise identical whatever T is. With a
 * CBLAS build (make USE_CBLAS=1), large similarity products run inside the
 * BLAS with its own threads (OPENBLAS_NUM_THREADS for OpenBLAS). */

/* Per-pair functions f(a_i, b_j) (since 1.2), TRL's loss_type names and
 * formulas (TRL's paired loss is DIAGONAL with alpha = 1 and LOSS
 * placement). x = beta*(a-b), eps = LABEL_SMOOTHING, sp = softplus,
 * s = sigmoid. LOSS placement sums W_ij f(a_i, b_j); LOGIT placement
 * averages f(W_ij a_i, W_ij b_j).                                         */
#define RPO_LOSS_SIGMOID    0 /* (1-eps) sp(-x) + eps sp(x)   (DPO, cDPO)  */
#define RPO_LOSS_HINGE      1 /* max(0, 1 - x)                (RSO)        */
#define RPO_LOSS_IPO        2 /* (a - b - 1/(2 beta))^2       (IPO)        */
#define RPO_LOSS_ROBUST     3 /* ((1-eps) sp(-x) - eps sp(x)) / (1 - 2 eps)*/
#define RPO_LOSS_EXO_PAIR   4 /* KL(s(x) || 1 - eps), eps > 0 (EXO)        */
#define RPO_LOSS_BCO_PAIR   5 /* sp(-beta a) + sp(beta b)     (BCO)        */
#define RPO_LOSS_SPPO_HARD  6 /* (a - 1/(2 beta))^2 + (b + 1/(2 beta))^2   */
#define RPO_LOSS_NCA_PAIR   7 /* sp(-beta a) + sp(beta a)/2 + sp(beta b)/2 */
#define RPO_LOSS_APO_ZERO   8 /* s(-beta a) + s(beta b)       (APO-zero)   */
#define RPO_LOSS_APO_DOWN   9 /* s(beta a) + s(-x)            (APO-down)   */
#define RPO_LOSS_DISCOPOP  10 /* sp(-x) s(-x/tau) + exp(-x) s(x/tau)       */
/* Since 1.3, in the term list of rpo_objective_* only (RPO_PARAM_LOSS
 * keeps its range). With lengths, p = policy log-prob / length (at least 1);
 * gamma = SIMPO_GAMMA; lo(x) = x - log(1 - exp(x)), the log-odds.        */
#define RPO_LOSS_SIGMOID_NORM 11 /* SIGMOID on a/Lc, b/Lr     (sigmoid_norm)*/
#define RPO_LOSS_SIMPO     12 /* sp(-(beta (pc - pr) - gamma)), no ref (SimPO)*/
#define RPO_LOSS_ORPO      13 /* beta sp(-(lo(pc) - lo(pr))), no ref (ORPO)  */
#define RPO_LOSS_SFT       14 /* -(sum_i wc_i pc_i) / (sum_i Lc_i), not a
                                 pair term; needs chosen_lengths      (NLL)  */
#define RPO_LOSS_KTO       15 /* unpaired, alone in the list (KTO)           */
#define RPO_LOSS_APO_ZERO_UNPAIRED 16 /* unpaired, alone in the list         */

/* f-divergences (RPO_PARAM_F_DIVERGENCE, TRL's f_divergence_type): the
 * score g(a) that the pair losses read instead of the log-ratio a (and g(b)
 * for b); SIMPO, ORPO and SFT read no log-ratio and ignore it.            */
#define RPO_FDIV_REVERSE_KL 0 /* g(a) = a                                  */
#define RPO_FDIV_FORWARD_KL 1 /* g(a) = -exp(-a)                           */
#define RPO_FDIV_JS         2 /* g(a) = logsigmoid(a)                      */
#define RPO_FDIV_ALPHA      3 /* g(a) = -exp(-alpha a) / alpha, the exponent
                                 capped at log of the type's largest finite
                                 value as TRL's cap_exp does               */

/* Logit scales (since 1.2): the factor on W inside the logit (LOGIT
 * placement only; LOSS placement ignores it). ROW_SUM keeps the rows of W
 * summing to 1, as the reference does, so the logit shrinks like 1/N as N
 * grows; ROW_MEAN uses N * W, whose rows average 1, so beta keeps its
 * meaning at any N.                                                       */
#define RPO_LOGIT_SCALE_ROW_SUM   0
#define RPO_LOGIT_SCALE_ROW_MEAN  1

/* Metrics of the last successful rpo_loss_* / rpo_loss_weighted_* call,
 * read with rpo_ctx_stat. They are weighted by W, so they describe what the
 * loss optimises; for DIAGONAL with alpha = 1 they are DPO's usual ones.
 * All are 0 before the first such call and after one with an empty side
 * (M or N = 0).                                                            */
#define RPO_STAT_LOSS             1 /* the loss returned (after reduction)    */
#define RPO_STAT_REWARD_CHOSEN    2 /* mean_i beta * a_i                      */
#define RPO_STAT_REWARD_REJECTED  3 /* mean_j beta * b_j                      */
#define RPO_STAT_MARGIN           4 /* (1/M) sum_ij W_ij * beta * z_ij        */
#define RPO_STAT_ACCURACY         5 /* (1/M) sum_ij W_ij * [z_ij > 0]         */
/* Since 1.2: the Sinkhorn run of the last successful call that computed a
 * SINKHORN plan (rpo_loss_*, rpo_weights_*, rpo_loss_embed_grad_*); 0
 * after a loss call with another weighting.                               */
#define RPO_STAT_SINKHORN_ITERATIONS 6 /* iterations performed             */
#define RPO_STAT_SINKHORN_ERROR      7 /* max_j |N * colsum_j(W/M) - 1| of
                                          the last iteration (see docs)    */
/* Since 1.3, set by rpo_objective_* (0 after the other loss calls).       */
#define RPO_STAT_LOGPS_CHOSEN   8 /* mean_i policy_chosen[i] (logps/chosen) */
#define RPO_STAT_LOGPS_REJECTED 9 /* mean_j policy_rejected[j]             */
#define RPO_STAT_KL            10 /* KTO's kl; 0 for the other objectives  */
/* Since 1.3: the shape of the weight matrix W of the last call that
 * formed it (see "Effective contrasts" below for which calls do).       */
#define RPO_STAT_EFFECTIVE_CONTRASTS 11 /* (1/M) sum_i exp(H_i), H_i the
                                           entropy of row i: how many
                                           rejected responses a chosen one
                                           is contrasted with; 1 = DPO,
                                           N = UNIFORM                     */
#define RPO_STAT_DIAGONAL_WEIGHT     12 /* (1/M) sum_i W_ii when M == N:
                                           the true pairs' share of paired
                                           data; 0 when M != N. Unpaired
                                           data with M == N has no true
                                           pairs: its value means nothing */

/* Effective contrasts (since 1.3). Row i of W contrasts chosen response i
 * with every rejected one; exp(H_i), H_i = -sum_j W_ij log W_ij (0 log 0 =
 * 0), counts them effectively: 1 for a one-hot row (DPO), N for a uniform
 * one. RPO_STAT_EFFECTIVE_CONTRASTS and RPO_STAT_DIAGONAL_WEIGHT are set by
 * every call that forms W: rpo_loss_*, rpo_loss_weighted_*, rpo_weights_*,
 * rpo_loss_embed_grad_*, rpo_objective_* (0 after KTO and
 * APO_ZERO_UNPAIRED, which form none), and 0 after a call with M == 0 or
 * N == 0. rpo_loss_rows_* and rpo_objective_rows_* leave the other
 * metrics unchanged but set these two to the block's shares, divided by
 * m_total (and the diagonal taken at column row_offset + i, when m_total
 * == N), so that their sum over all blocks is the whole problem's:
 * all-reduce them beside partial_stats. UNIFORM (N, 1/N) and DIAGONAL
 * (alpha, and exp of -alpha log alpha - (1 - alpha) log((1 - alpha) /
 * (N - 1))) have closed forms; EMBEDDING and SINKHORN rows have their
 * entropy from the softmax that forms them (log Z - sum_j W_ij x_ij for
 * W_ij = exp(x_ij) / Z), at no measurable cost; the caller's weights
 * (rpo_loss_weighted_*) are normalised by the sum of their magnitudes,
 * |W_ij| / sum_j |W_ij|, with one log per weight, and a row of zeros
 * counts 0 contrasts (their diagonal is W_ii as given).
 *
 * RPO_PARAM_TARGET_CONTRASTS = k > 0 makes EMBEDDING weighting choose
 * each row's temperature tau_i, instead of RPO_PARAM_TAU, so that exp(H_i)
 * = k: W_ij = softmax_j((cos_ij - 1) / tau_i), as t-SNE sets a bandwidth
 * from a perplexity. H_i falls as tau_i falls; the solve is a safeguarded
 * Newton on log tau_i (bisection whenever a step leaves the bracket or
 * fails to halve), within tau_i in [2^-20, 2^20], started from
 * RPO_PARAM_TAU, in double on the row's cosines, until |H_i - log k| <=
 * 1e-10 or 64 evaluations (bisection alone reaches the bracket's width
 * limit within 48). The row then formed has |exp(H_i) / k - 1| <= 1e-9
 * in a float64 computation and <= 1e-5 in a float32 one (rpo.h,
 * "Precision"). Where k is out of reach: N == 1 (k must be 1) has the
 * row 1; k == N gives the uniform row, tau_i = infinity; a row whose
 * maximum is shared by more than k columns (duplicate prompts) has
 * exp(H_i) >= their number at every temperature and takes tau_i = 2^-20,
 * about uniform over them.
 * Each row is solved alone: the same bits for every RPO_PARAM_THREADS.
 * The backward treats every tau_i as a constant: the embedding gradients
 * (rpo_loss_embed_grad_*, rpo_loss_rows_*) are those of the softmax at
 * the solved temperatures, dW_ij/dcos_il = W_ij ([j == l] - W_il) / tau_i,
 * not the derivative through the solve. UNIFORM, DIAGONAL, SINKHORN (whose
 * tau is the transport's epsilon) and the caller's weights ignore k.
 * Errors: k > N with EMBEDDING weighting and M, N > 0 is RPO_ERR_PARAM
 * (with a detail), before anything is written.                           */

/* ------------------------------------------------------------------------ */
/* Context: settings, scratch memory that grows on demand and is reused
 * across calls, and the metrics of the last call. Opaque.                  */

typedef struct rpo_ctx rpo_ctx;

/* A new context with the default settings, or NULL when out of memory.
 * Allocates no scratch yet: that happens on the first call that needs it. */
RPO_API rpo_ctx *rpo_ctx_create(void);

/* Frees the context and its scratch. NULL is a no-op. */
RPO_API void rpo_ctx_free(rpo_ctx *ctx);

/* Sets one setting. RPO_ERR_NULL_POINTER for a NULL ctx; RPO_ERR_PARAM for
 * an unknown key, a value outside rpo_param_bounds, NaN, or a non-integer
 * value for an enumerated key; the old value is then kept. */
RPO_API int rpo_ctx_set(rpo_ctx *ctx, int param, double value);

/* Reads one setting into *value. RPO_ERR_NULL_POINTER for a NULL ctx or
 * value; RPO_ERR_PARAM for an unknown key (then *value is not written). */
RPO_API int rpo_ctx_get(const rpo_ctx *ctx, int param, double *value);

/* The inclusive range [*lo, *hi] of a setting ("> 0" gives the smallest
 * positive double as lo). RPO_ERR_NULL_POINTER when lo or hi is NULL,
 * RPO_ERR_PARAM for an unknown key; nothing is written then. */
RPO_API int rpo_param_bounds(int param, double *lo, double *hi);

/* Reads one metric (RPO_STAT_*) of the last successful loss call into
 * *value; all are 0 before the first. RPO_ERR_NULL_POINTER for a NULL ctx
 * or value, RPO_ERR_PARAM for an unknown stat. */
RPO_API int rpo_ctx_stat(const rpo_ctx *ctx, int stat, double *value);

/* ------------------------------------------------------------------------ */
/* The loss and its gradients.
 *
 *   policy_chosen   (M)     policy log-probs of the chosen responses
 *   ref_chosen      (M)     reference log-probs; NULL = reference-free (0)
 *   policy_rejected (N)     policy log-probs of the rejected responses
 *   ref_rejected    (N)     reference log-probs; NULL = reference-free (0)
 *   chosen_emb      (M, D)  prompt embeddings of the chosen side; read only
 *                           by EMBEDDING weighting (then required, D > 0)
 *   rejected_emb    (N, D)  rejected side; NULL or == chosen_emb means the
 *                           data is paired and then M must equal N
 *   loss            (1)     out: the loss; NULL = not computed
 *   grad_chosen     (M)     out: dL/d policy_chosen;   NULL = not computed
 *   grad_rejected   (N)     out: dL/d policy_rejected; NULL = not computed
 *
 * The gradients with respect to the reference log-probs are the negatives
 * of these. M == 0 or N == 0 succeeds with loss 0 and zero gradients (an
 * unpaired micro-batch may lack one side); a pointer to an empty array may
 * then be NULL. Errors, checked in this order before anything is written:
 *   RPO_ERR_NULL_POINTER  ctx, or an input needed for a non-empty side
 *   RPO_ERR_SIZE          DIAGONAL or paired embeddings with M != N,
 *                         EMBEDDING with D == 0, a size product overflowing
 *   RPO_ERR_PARAM         settings that conflict: EXO_PAIR with
 *                         LABEL_SMOOTHING 0 (its loss would be infinite)
 *   RPO_ERR_NOMEM         scratch could not grow (the old scratch is kept)
 *   RPO_ERR_NONFINITE     NaN or infinity in any input read
 *   RPO_ERR_RANGE         a result would be infinite or NaN in the output
 *                         type (e.g. float32 overflow of a huge loss)
 * Precision. The float64 entry points compute every stage in double. The
 * float32 ones, on problems of about a million multiply-adds and pair
 * evaluations or more, compute the similarities, the softmax and the
 * per-pair terms in float, and every sum (loss, metrics, gradients, softmax
 * normalisers) and the embedding norms in double; the log-ratios are formed
 * in double and rounded once. Smaller problems, and inputs so large that a
 * float stage could overflow (beta or tau outside [2^-60, 2^60], log-probs
 * or caller weights beyond 2^60 in magnitude), run every stage in double.
 * SINKHORN weights and embedding gradients run every stage in double too,
 * and so do the pairs of the loss family's members other than SIGMOID and
 * ROBUST (RPO_PARAM_LOSS); SIGMOID with label smoothing or either logit
 * scale, and ROBUST, take the float path like the reference loss. Nothing of size M x N is
 * allocated or built: the contrast matrix is streamed by row blocks
 * through scratch held in the context (docs/performance.md gives the
 * sizes). The one exception is SINKHORN weighting, whose iterations keep
 * the M x N cosine matrix in that scratch. */
RPO_API int rpo_loss_f32(rpo_ctx *ctx,
                         size_t m, const float *policy_chosen,
                         const float *ref_chosen,
                         size_t n, const float *policy_rejected,
                         const float *ref_rejected,
                         size_t d, const float *chosen_emb,
                         const float *rejected_emb,
                         float *loss, float *grad_chosen, float *grad_rejected);

RPO_API int rpo_loss_f64(rpo_ctx *ctx,
                         size_t m, const double *policy_chosen,
                         const double *ref_chosen,
                         size_t n, const double *policy_rejected,
                         const double *ref_rejected,
                         size_t d, const double *chosen_emb,
                         const double *rejected_emb,
                         double *loss, double *grad_chosen,
                         double *grad_rejected);

/* The weight matrix W the context's weighting gives, written to
 * weights (M, N) row-major; every row sums to 1. Embedding arguments as for
 * rpo_loss_*. M == 0 or N == 0 succeeds and writes nothing. Errors as for
 * rpo_loss_* (weights NULL with M, N > 0 is RPO_ERR_NULL_POINTER). */
RPO_API int rpo_weights_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                            const float *chosen_emb, const float *rejected_emb,
                            float *weights);

RPO_API int rpo_weights_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                            const double *chosen_emb,
                            const double *rejected_emb, double *weights);

/* The loss over the caller's own weight matrix weights (M, N), row-major,
 * any finite values (rows need not sum to 1). Placement AUTO resolves by the
 * context's weighting as in rpo_loss_*, so feeding rpo_weights_* output here
 * reproduces rpo_loss_*. The weights are constants: no gradient flows to
 * them. Other arguments, metrics and errors as for rpo_loss_*; weights NULL
 * with M, N > 0 is RPO_ERR_NULL_POINTER, a non-finite weight
 * RPO_ERR_NONFINITE. */
RPO_API int rpo_loss_weighted_f32(rpo_ctx *ctx,
                                  size_t m, const float *policy_chosen,
                                  const float *ref_chosen,
                                  size_t n, const float *policy_rejected,
                                  const float *ref_rejected,
                                  const float *weights,
                                  float *loss, float *grad_chosen,
                                  float *grad_rejected);

RPO_API int rpo_loss_weighted_f64(rpo_ctx *ctx,
                                  size_t m, const double *policy_chosen,
                                  const double *ref_chosen,
                                  size_t n, const double *policy_rejected,
                                  const double *ref_rejected,
                                  const double *weights,
                                  double *loss, double *grad_chosen,
                                  double *grad_rejected);

/* ------------------------------------------------------------------------ */
/* Token-level helpers (since 1.1): what a trainer in C needs around the
 * loss to turn a language model's logits into the per-sequence log-probs
 * above, and the loss's gradients back into dlogits.
 *
 *   logits (T, V) --rpo_token_logps--> token_logps (B, T') --rpo_seq_logps-->
 *   seq_logps (B) --rpo_loss--> loss, and each step's *_backward in reverse.
 *
 * The logits helpers take a context for three things: its scratch memory
 * (2 T doubles for the forward, T ints and T doubles for the backward,
 * never T x V), so that their results can be written only after every
 * check has passed; its kernel set (rpo_ctx_use_kernels); and
 * RPO_PARAM_THREADS: rows are spread over threads, each computed alone, so
 * results are bitwise identical for every thread count. They change
 * neither its settings nor its metrics.
 * The two sequence helpers are pure functions without a context: they
 * keep no state and use no memory, so any thread may call them at any
 * time.
 *
 * Precision (since 1.3; before, float32 was computed in double through
 * scalar code). The logits helpers compute in the input's type on the
 * vector kernels, with the sums in double and each exponent x - max kept
 * exact in two parts. Against the exact value, a log-prob is within
 * 4 ulps of the output type (float32 or float64), plus V * 2^-149
 * (float32) or V * 2^-1074 (float64) absolute from terms below the normal
 * range; each softmax entry of a gradient, exp(x - max) / sum, within 5
 * ulps (plus the same absolute term), and the written value is rounded
 * once more; a given lse (rpo_token_logps_backward_lse_*) adds
 * |dlogps| |lse| 2^-53 to the target's entry. tests/test_token_kernels.c
 * checks these bounds on every kernel set. The log-sum-exps are doubles
 * whatever the type: a float32 one would put |lse| float ulps of error
 * into every softmax entry.
 *
 * Unlike the loss functions, outputs must not overlap inputs here, except
 * where a function says so. Errors are checked in the documented order
 * (NULL pointer, size, parameter, memory, non-finite, range) before anything
 * is written.
 *
 * Target ids: a negative id marks a position that has no token to score
 * (padding, prompt; e.g. -1 or -100): its log-prob is 0, it gets no gradient,
 * and its row of logits is never read. */

/* How rpo_seq_logps_* reduces a sequence's token log-probs. */
#define RPO_SEQ_SUM   0 /* sum over the masked tokens: the log-prob of the
                           response, what the loss expects               */
#define RPO_SEQ_MEAN  1 /* mean over the masked tokens (length-normalised
                           log-probs); 0 for a sequence without any      */

/* Per-token log-probabilities by a numerically stable log-softmax:
 *
 *   logps[t] = logits[t, y] - max_v logits[t, v]
 *              - log sum_v exp(logits[t, v] - max_v logits[t, v]),  y = targets[t]
 *
 *   logits   (T, stride)  row t holds the V logits of position t in its
 *                         first V entries; stride >= V (padded rows)
 *   targets  (T)          the token id scored at each position, in [0, V),
 *                         or negative: no token (logps[t] = 0, row not read)
 *   logps    (T)          out; may alias logits or targets
 *
 * T == 0 succeeds and writes nothing (then the pointers may be NULL).
 * Errors: RPO_ERR_NULL_POINTER (ctx, logits, targets or logps NULL with
 * T > 0), RPO_ERR_SIZE (V == 0, stride < V, a target >= V, or (T, stride)
 * overflowing size_t), RPO_ERR_NOMEM, RPO_ERR_NONFINITE (NaN or infinity in
 * a row that is read), RPO_ERR_RANGE (a log-prob below the output type's
 * range, from logits spread wider than it). */
RPO_API int rpo_token_logps_f32(rpo_ctx *ctx, size_t t, size_t v,
                                size_t stride, const float *logits,
                                const int32_t *targets, float *logps);

RPO_API int rpo_token_logps_f64(rpo_ctx *ctx, size_t t, size_t v,
                                size_t stride, const double *logits,
                                const int32_t *targets, double *logps);

/* The backward of rpo_token_logps_*, fused with the softmax, ACCUMULATED
 * into the caller's gradient of the logits (as llm.c's
 * crossentropy_softmax_backward does):
 *
 *   dlogits[t, v] += dlogps[t] * ([v == y] - softmax(logits[t, :])[v])
 *
 *   logits, targets   as for rpo_token_logps_*
 *   dlogps   (T)          dL/d logps[t]
 *   dlogits  (T, stride)  in/out: the first V entries of each row are
 *                         accumulated into; the padding is never touched;
 *                         must not overlap logits, dlogps or targets
 *                         (RPO_ERR_SIZE since 1.3)
 *
 * Rows whose target is negative or whose dlogps[t] is 0 are neither read nor
 * written. Every row that is updated is checked first: the logits, dlogps
 * and the current dlogits must be finite (RPO_ERR_NONFINITE otherwise), and
 * RPO_ERR_RANGE is returned when a sum could leave the output type's range
 * (max |dlogits[t, :]| + |dlogps[t]| too large). Other errors as for
 * rpo_token_logps_*. No T x V buffer is allocated: each row is read again
 * after the checks, and its softmax computed once, one exp per entry.
 * rpo_token_logps_backward_lse_* with lse NULL and RPO_GRAD_ACCUMULATE is
 * the same call. */
RPO_API int rpo_token_logps_backward_f32(rpo_ctx *ctx, size_t t, size_t v,
                                         size_t stride, const float *logits,
                                         const int32_t *targets,
                                         const float *dlogps, float *dlogits);

RPO_API int rpo_token_logps_backward_f64(rpo_ctx *ctx, size_t t, size_t v,
                                         size_t stride, const double *logits,
                                         const int32_t *targets,
                                         const double *dlogps,
                                         double *dlogits);

/* rpo_token_logps_* that also returns each row's log-sum-exp, for
 * rpo_token_logps_backward_lse_* (since 1.3):
 *
 *   lse[t] = max_v logits[t, v] + log sum_v exp(logits[t, v] - max), in
 *            double (0 for a row without target, which is not read)
 *
 *   lse      (T)          out, double for both types; must not overlap logps
 *
 * The other arguments, the results and the errors are rpo_token_logps_*'s;
 * lse NULL with T > 0 is RPO_ERR_NULL_POINTER, lse overlapping logps
 * RPO_ERR_SIZE. */
RPO_API int rpo_token_logps_lse_f32(rpo_ctx *ctx, size_t t, size_t v,
                                    size_t stride, const float *logits,
                                    const int32_t *targets, float *logps,
                                    double *lse);

RPO_API int rpo_token_logps_lse_f64(rpo_ctx *ctx, size_t t, size_t v,
                                    size_t stride, const double *logits,
                                    const int32_t *targets, double *logps,
                                    double *lse);

/* How rpo_token_logps_backward_lse_* writes dlogits. */
#define RPO_GRAD_ACCUMULATE 0 /* dlogits[t, v] += ...: as
                                 rpo_token_logps_backward_*            */
#define RPO_GRAD_OVERWRITE  1 /* dlogits[t, v] = ...: dlogits may be the
                                 logits array itself (then the call
                                 replaces the logits by their gradient, as
                                 llm.c's fused classifier does)          */

/* The backward of rpo_token_logps_* with the forward's log-sum-exps and a
 * choice of accumulating or overwriting (since 1.3):
 *
 *   g = dlogps[t] * ([v == y] - exp(logits[t, v] - lse[t])),  y = targets[t]
 *   dlogits[t, v] += g     RPO_GRAD_ACCUMULATE
 *   dlogits[t, v]  = g     RPO_GRAD_OVERWRITE
 *
 *   logits, targets   as for rpo_token_logps_*
 *   lse      (T)          rpo_token_logps_lse_*'s output for these logits,
 *                         or NULL: computed from the rows (one more read of
 *                         each). A value outside [max_v logits[t, v],
 *                         that + log V + 1] cannot be the row's and is
 *                         RPO_ERR_RANGE; NaN or infinity RPO_ERR_NONFINITE
 *   dlogps   (T)          dL/d logps[t]
 *   dlogits  (T, stride)  in/out (accumulate) or out (overwrite): the first
 *                         V entries of each row; the padding columns are
 *                         never touched. It may not overlap dlogps, targets
 *                         or lse, nor the logits, except that with
 *                         RPO_GRAD_OVERWRITE it may BE the logits (the same
 *                         pointer): RPO_ERR_SIZE otherwise
 *   write                 RPO_GRAD_ACCUMULATE or RPO_GRAD_OVERWRITE
 *                         (RPO_ERR_PARAM otherwise)
 *
 * Rows whose target is negative or whose dlogps[t] is 0 are not read; when
 * overwriting they are written with zeros, when accumulating left alone.
 * Every row that changes is checked before the first is written, so on
 * any error nothing is written: dlogps[t], the row's logits (and lse[t],
 * and, when accumulating, its dlogits) must be finite, and when
 * accumulating max |dlogits[t, :]| + |dlogps[t]| must fit the type
 * (RPO_ERR_RANGE). With lse, each row of logits is read twice (the check,
 * then the gradient) and written once; without, twice more. Errors in the
 * order NULL pointer, size, parameter, memory, non-finite, range. */
RPO_API int rpo_token_logps_backward_lse_f32(rpo_ctx *ctx, size_t t, size_t v,
                                             size_t stride, const float *logits,
                                             const int32_t *targets,
                                             const double *lse,
                                             const float *dlogps,
                                             float *dlogits, int write);

RPO_API int rpo_token_logps_backward_lse_f64(rpo_ctx *ctx, size_t t, size_t v,
                                             size_t stride, const double *logits,
                                             const int32_t *targets,
                                             const double *lse,
                                             const double *dlogps,
                                             double *dlogits, int write);

/* Fused linear log-probs (since 1.3): the same per-token log-probs from
 * the final hidden states and the output projection (the LM head), without
 * ever holding the T x V logits:
 *
 *   logits[t, v] = <hidden[t, :], weight[v, :]> + bias[v]
 *   lse[t]       = log sum_v exp(logits[t, v])
 *   logps[t]     = logits[t, y] - lse[t],  y = targets[t]
 *
 *   hidden   (T, H)        row-major, the final layer's output
 *   weight   (V, ldw)      row v holds word v's H weights in its first H
 *                          entries; ldw >= H (a row stride: a slice of a
 *                          larger matrix, tied embeddings)
 *   bias     (V) or NULL   NULL: no bias
 *   targets  (T)           as for rpo_token_logps_*: in [0, V), or
 *                          negative: no token (logps[t] = 0, lse[t] = 0,
 *                          hidden row not read)
 *   logps    (T)           out
 *   lse      (T) or NULL   out: each row's log-sum-exp, for the backward,
 *                          in the ELEMENT type: the double lse rounded once
 *                          to nearest (see below)
 *
 * The logits are formed one chunk of C tokens by C words at a time
 * (C = RPO_PARAM_LINEAR_CHUNK): each chunk's row maxima and sums of
 * exponentials are merged into running ones in word order, so the
 * context's scratch holds about T * H elements (the hidden states laid out
 * for the product kernels; twice that in the backward) and 6 T words, and
 * per thread C * (H + C) elements and 2 T doubles (the backward: 3 C * H
 * + 3 C * C elements and its share of dhidden, T * H), whatever V is. Each chunk of the vocabulary is one work item for the
 * threads (RPO_PARAM_THREADS), merged in order: results are bitwise
 * identical for any thread count; they change with C by rounding only.
 * The float32 variant forms the logits in float, as a float matrix product
 * would, and each row's log-sum-exp and log-prob in double (rounded to
 * float when written).
 *
 * Why this lse is in the element type while rpo_token_logps_lse_*'s is
 * double: that backward evaluates the target's 1 - p_y in double from the
 * double lse (expm1), to keep its gradient within a few ulps when the
 * model is confident, and a float lse would shift log p_y by up to half
 * an ulp of lse. This backward evaluates every softmax entry
 * exp(logit - lse) in the element type, from element-type logits, and
 * rounds the lse it is given (or computes, with lse NULL) to the element
 * type first: the rounded lse loses nothing the backward uses, and the
 * backward given this lse returns the same bits as with lse NULL (tested
 * on every kernel set, with logits near 1000 where a float's ulp is 2^-14).
 * Against exact arithmetic, that rounding moves each float32 softmax entry
 * by a relative 2^-24 |lse| at most, as much as one rounding of a logit of
 * that size already does.
 *
 * No second pass over the weights: every weight row is read by the product
 * (when at least one target is not negative), and a NaN or infinity in it
 * makes every logit of its chunk non-finite; logps and lse are staged in
 * scratch and written only after the last chunk, so such a chunk makes the
 * call fail with nothing written. Only then, on that error path, are the
 * weight rows scanned, to tell RPO_ERR_NONFINITE (a non-finite weight)
 * from RPO_ERR_RANGE (finite inputs whose logit overflows).
 *
 * T == 0 succeeds and writes nothing (then the pointers may be NULL).
 * Errors: RPO_ERR_NULL_POINTER (ctx, hidden, weight, targets or logps NULL
 * with T > 0), RPO_ERR_SIZE (H == 0, V == 0, ldw < H, a target >= V, or
 * (T, H) or (V, ldw) overflowing size_t), RPO_ERR_NOMEM, RPO_ERR_NONFINITE
 * (NaN or infinity in a hidden row that is read, the bias or a weight row),
 * RPO_ERR_RANGE (a logit, lse or log-prob outside the output type's range). */
RPO_API int rpo_linear_logps_f32(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                                 const float *hidden, const float *weight,
                                 size_t ldw, const float *bias,
                                 const int32_t *targets, float *logps,
                                 float *lse);

RPO_API int rpo_linear_logps_f64(rpo_ctx *ctx, size_t t, size_t h, size_t v,
                                 const double *hidden, const double *weight,
                                 size_t ldw, const double *bias,
                                 const int32_t *targets, double *logps,
                                 double *lse);

/* The backward of rpo_linear_logps_*, ACCUMULATED into the caller's
 * gradients (as rpo_token_logps_backward_* is), with
 * g[t, v] = dlogps[t] * ([v == y] - exp(logits[t, v] - lse[t])):
 *
 *   dhidden[t, :] += sum_v g[t, v] weight[v, :]
 *   dweight[v, :] += sum_t g[t, v] hidden[t, :]
 *   dbias[v]      += sum_t g[t, v]
 *
 *   hidden, weight, ldw, bias, targets   as for the forward
 *   lse      (T) or NULL   the forward's lse on the same inputs; NULL: the
 *                          backward computes it (one more product). Each
 *                          softmax entry is clamped to [0, 1], so a wrong
 *                          lse gives wrong but finite gradients
 *   dlogps   (T)           dL/d logps[t]
 *   dhidden  (T, H)        in/out
 *   dweight  (V, ldw)      in/out, the first H entries of each row, the
 *                          weight's row stride; the padding is never touched
 *   dbias    (V) or NULL   in/out; NULL: not wanted (with or without bias)
 * Outputs must not overlap each other or the inputs.
 *
 * Tokens whose target is negative or whose dlogps[t] is 0 are skipped:
 * their rows are neither read nor written. The logits are recomputed chunk
 * by chunk as in the forward; each vocabulary chunk owns its rows of
 * dweight and dbias and adds to them directly, and its share of dhidden
 * goes through a per-thread buffer (T * H) added in chunk order.
 *
 * Nothing is written on error: since dweight is updated chunk by chunk,
 * every check runs first, in one pass over the weight and dweight rows (and
 * the smaller arrays): all must be finite (RPO_ERR_NONFINITE), and
 * RPO_ERR_RANGE is returned unless the bounds |logit| <= max_t |hidden_t|_2
 * max_v |weight_v|_2 + max |bias| and |g| <= |dlogps| keep every value
 * and update within half the output type's range (for dhidden[t]: V
 * |dlogps[t]| max |weight| added to its largest entry). Other errors as
 * for the forward, and RPO_ERR_NULL_POINTER for NULL dlogps, dhidden or
 * dweight with T > 0. */
RPO_API int rpo_linear_logps_backward_f32(rpo_ctx *ctx, size_t t, size_t h,
                                          size_t v, const float *hidden,
                                          const float *weight, size_t ldw,
                                          const float *bias,
                                          const int32_t *targets,
                                          const float *lse,
                                          const float *dlogps, float *dhidden,
                                          float *dweight, float *dbias);

RPO_API int rpo_linear_logps_backward_f64(rpo_ctx *ctx, size_t t, size_t h,
                                          size_t v, const double *hidden,
                                          const double *weight, size_t ldw,
                                          const double *bias,
                                          const int32_t *targets,
                                          const double *lse,
                                          const double *dlogps,
                                          double *dhidden, double *dweight,
                                          double *dbias);

/* Per-sequence log-probs from per-token ones and a mask:
 *
 *   seq_logps[b] = sum_t mask[b, t] token_logps[b, t]             RPO_SEQ_SUM
 *                  that sum / count_t mask[b, t] (0 if none)       RPO_SEQ_MEAN
 *
 *   token_logps (B, T)   row-major; entries whose mask is 0 are not read
 *   mask        (B, T)   nonzero: the token belongs to the response; NULL:
 *                        every token does
 *   reduce               RPO_SEQ_SUM or RPO_SEQ_MEAN
 *   seq_logps   (B)      out; may alias token_logps
 *
 * B == 0 succeeds and writes nothing; T == 0 writes B zeros (a sequence
 * without tokens has log-prob 0). Errors: RPO_ERR_NULL_POINTER (seq_logps
 * NULL with B > 0, token_logps NULL with B, T > 0), RPO_ERR_SIZE ((B, T)
 * overflowing size_t), RPO_ERR_PARAM (an unknown reduce), RPO_ERR_NONFINITE
 * (in a masked entry), RPO_ERR_RANGE (a sum beyond the output type). */
RPO_API int rpo_seq_logps_f32(size_t b, size_t t, const float *token_logps,
                              const uint8_t *mask, int reduce,
                              float *seq_logps);

RPO_API int rpo_seq_logps_f64(size_t b, size_t t, const double *token_logps,
                              const uint8_t *mask, int reduce,
                              double *seq_logps);

/* The backward of rpo_seq_logps_*: dtoken_logps[b, t] = dseq_logps[b] for
 * each masked token (divided by the count for RPO_SEQ_MEAN), 0 elsewhere.
 * Every entry of dtoken_logps (B, T) is WRITTEN, not accumulated: it is the
 * intermediate that rpo_token_logps_backward_* then accumulates into
 * dlogits. B == 0 or T == 0 succeeds and writes nothing. Errors:
 * RPO_ERR_NULL_POINTER (dseq_logps or dtoken_logps NULL with B, T > 0),
 * RPO_ERR_SIZE, RPO_ERR_PARAM as for rpo_seq_logps_*, RPO_ERR_NONFINITE
 * (NaN or infinity in dseq_logps). */
RPO_API int rpo_seq_logps_backward_f32(size_t b, size_t t,
                                       const uint8_t *mask, int reduce,
                                       const float *dseq_logps,
                                       float *dtoken_logps);

RPO_API int rpo_seq_logps_backward_f64(size_t b, size_t t,
                                       const uint8_t *mask, int reduce,
                                       const double *dseq_logps,
                                       double *dtoken_logps);

/* Packed sequences (since 1.3): B sequences concatenated without padding
 * in one stream of T tokens, sequence b being tokens offsets[b] to
 * offsets[b + 1] - 1 (the cu_seqlens convention of FlashAttention and
 * TRL). The token log-probs come from rpo_token_logps_* over the stream.
 *
 *   seq_logps[b] = sum of token_logps[k], offsets[b] <= k < offsets[b + 1],
 *                  mask[k] != 0                                  RPO_SEQ_SUM
 *                  that sum / the count of such k (0 if none)     RPO_SEQ_MEAN
 *
 *   offsets     (B + 1)  non-decreasing, offsets[0] >= 0, offsets[B] <= T;
 *                        tokens outside every sequence are not read
 *   token_logps (T)      entries whose mask is 0 are not read
 *   mask        (T)      nonzero: the token counts; NULL: every token does
 *   seq_logps   (B)      out; may alias token_logps
 *
 * The context gives the scratch the B results wait in until every check
 * has passed, and the error detail (rpo_ctx_error_detail). B == 0
 * succeeds and writes nothing. Errors: RPO_ERR_NULL_POINTER (ctx; offsets,
 * token_logps or seq_logps with B > 0), RPO_ERR_SIZE (offsets negative,
 * decreasing or passing T), RPO_ERR_PARAM (an unknown reduce),
 * RPO_ERR_NOMEM, RPO_ERR_NONFINITE (in a counted entry), RPO_ERR_RANGE (a
 * sum beyond the output type). */
RPO_API int rpo_packed_seq_logps_f32(rpo_ctx *ctx, size_t b, size_t t,
                                     const int64_t *offsets,
                                     const float *token_logps,
                                     const uint8_t *mask, int reduce,
                                     float *seq_logps);

RPO_API int rpo_packed_seq_logps_f64(rpo_ctx *ctx, size_t b, size_t t,
                                     const int64_t *offsets,
                                     const double *token_logps,
                                     const uint8_t *mask, int reduce,
                                     double *seq_logps);

/* The backward of rpo_packed_seq_logps_*: dtoken_logps[k] = dseq_logps[b]
 * for each counted token k of sequence b (divided by the count for
 * RPO_SEQ_MEAN), 0 for every other token, those outside every sequence
 * included. All T entries of dtoken_logps are WRITTEN. dtoken_logps may
 * overlap dseq_logps (B), which is read in full first. T == 0 succeeds
 * and writes nothing. Errors: RPO_ERR_NULL_POINTER (ctx; offsets or
 * dtoken_logps with T > 0, dseq_logps with B, T > 0), RPO_ERR_SIZE and
 * RPO_ERR_PARAM as for rpo_packed_seq_logps_*, RPO_ERR_NOMEM,
 * RPO_ERR_NONFINITE (NaN or infinity in dseq_logps). */
RPO_API int rpo_packed_seq_logps_backward_f32(rpo_ctx *ctx, size_t b,
                                              size_t t, const int64_t *offsets,
                                              const uint8_t *mask, int reduce,
                                              const float *dseq_logps,
                                              float *dtoken_logps);

RPO_API int rpo_packed_seq_logps_backward_f64(rpo_ctx *ctx, size_t b,
                                              size_t t, const int64_t *offsets,
                                              const uint8_t *mask, int reduce,
                                              const double *dseq_logps,
                                              double *dtoken_logps);

/* ------------------------------------------------------------------------ */
/* Beyond the paper (since 1.2; docs/extensions.md): gradients with respect to
 * the prompt embeddings, and one contrast matrix across data-parallel
 * ranks. The settings above (loss family, logit scale, Sinkhorn) apply to
 * these entry points as to rpo_loss_*.                                     */

/* rpo_loss_* that also returns the gradients with respect to the prompt
 * embeddings, for trainers that learn the prompt encoder or a projection:
 *   grad_chosen_emb   (M, D)  out: dL/d chosen_emb;   NULL = not computed
 *   grad_rejected_emb (N, D)  out: dL/d rejected_emb; NULL = not computed
 * Paired embeddings (rejected_emb NULL or == chosen_emb): the one matrix
 * plays both roles, grad_chosen_emb receives the sum of both roles and
 * grad_rejected_emb is not used. EMBEDDING weighting differentiates through
 * the row normalisation (as e / max(||e||, 1e-12) does, so a zero row gets
 * its gradient divided by 1e-12) and the softmax; UNIFORM and DIAGONAL do
 * not depend on the embeddings and give zeros. SINKHORN is
 * RPO_ERR_UNSUPPORTED when an embedding gradient is asked for: its plan is
 * a constant of the backward. Everything else as for rpo_loss_*. */
RPO_API int rpo_loss_embed_grad_f32(rpo_ctx *ctx,
                                    size_t m, const float *policy_chosen,
                                    const float *ref_chosen,
                                    size_t n, const float *policy_rejected,
                                    const float *ref_rejected,
                                    size_t d, const float *chosen_emb,
                                    const float *rejected_emb,
                                    float *loss, float *grad_chosen,
                                    float *grad_rejected,
                                    float *grad_chosen_emb,
                                    float *grad_rejected_emb);

RPO_API int rpo_loss_embed_grad_f64(rpo_ctx *ctx,
                                    size_t m, const double *policy_chosen,
                                    const double *ref_chosen,
                                    size_t n, const double *policy_rejected,
                                    const double *ref_rejected,
                                    size_t d, const double *chosen_emb,
                                    const double *rejected_emb,
                                    double *loss, double *grad_chosen,
                                    double *grad_rejected,
                                    double *grad_chosen_emb,
                                    double *grad_rejected_emb);

/* The entries of partial_stats (rpo_loss_rows_*). Each is this block's
 * share of the RPO_STAT_* of the same name, already divided by m_total, so
 * the sum over all blocks is the statistic of the whole problem. */
#define RPO_PARTIAL_LOSS             0
#define RPO_PARTIAL_REWARD_CHOSEN    1
#define RPO_PARTIAL_REWARD_REJECTED  2
#define RPO_PARTIAL_MARGIN           3
#define RPO_PARTIAL_ACCURACY         4
#define RPO_PARTIAL_COUNT            5 /* the length of partial_stats      */

/* One row block of a global problem, for data-parallel training: a rank's
 * chosen rows row_offset .. row_offset + M - 1 of all m_total chosen rows,
 * against all N rejected responses gathered from every rank.
 *
 *   m_total          the number of chosen rows over all ranks (M_total)
 *   row_offset       global index of this block's first row
 *   policy_chosen, ref_chosen       (M)     this block's rows
 *   policy_rejected, ref_rejected   (N)     every rank's, gathered
 *   chosen_emb       (M, D)  this block's rows } read by EMBEDDING only;
 *   rejected_emb     (N, D)  gathered, always  } no "paired" shorthand
 *   grad_chosen      (M)     out, complete: dL/d policy_chosen of the rows
 *   grad_chosen_emb  (M, D)  out, complete: dL/d chosen_emb of the rows
 *   partial_stats    (RPO_PARTIAL_COUNT)  out, this block's share
 *   partial_grad_rejected     (N)     out, share of dL/d policy_rejected
 *   partial_grad_rejected_emb (N, D)  out, share of dL/d rejected_emb
 * Every output may be NULL (not computed).
 *
 * Summing each partial output over all blocks, e.g. with one all-reduce of
 * a buffer that holds them side by side, gives what rpo_loss_embed_grad_*
 * returns for the whole problem (to rounding): the MEAN reduction divides
 * by m_total, never by M, so no rescaling follows the sum. The blocks must
 * cover rows 0 .. m_total - 1 once each. DIAGONAL needs m_total == N and
 * finds each row's diagonal through row_offset. Paired data, whose one
 * embedding per pair is gathered as rejected_emb: the gradient of pair i's
 * embedding is grad_chosen_emb row i plus row row_offset + i of the summed
 * partial_grad_rejected_emb. The context's metrics are left unchanged,
 * but for the shares of W's shape (since 1.3, "Effective contrasts").
 * Errors as for rpo_loss_*, plus RPO_ERR_SIZE when row_offset + M >
 * m_total, and RPO_ERR_UNSUPPORTED for SINKHORN weighting, whose plan
 * couples all rows: compute it with rpo_weights_* on the gathered
 * embeddings and pass this block's rows to rpo_loss_rows_weighted_*. */
RPO_API int rpo_loss_rows_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                              size_t m, const float *policy_chosen,
                              const float *ref_chosen,
                              size_t n, const float *policy_rejected,
                              const float *ref_rejected,
                              size_t d, const float *chosen_emb,
                              const float *rejected_emb,
                              float *grad_chosen, float *grad_chosen_emb,
                              float *partial_stats,
                              float *partial_grad_rejected,
                              float *partial_grad_rejected_emb);

RPO_API int rpo_loss_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                              size_t m, const double *policy_chosen,
                              const double *ref_chosen,
                              size_t n, const double *policy_rejected,
                              const double *ref_rejected,
                              size_t d, const double *chosen_emb,
                              const double *rejected_emb,
                              double *grad_chosen, double *grad_chosen_emb,
                              double *partial_stats,
                              double *partial_grad_rejected,
                              double *partial_grad_rejected_emb);

/* rpo_loss_rows_* over the caller's weights (M, N): this block's rows of
 * the global weight matrix, as for rpo_loss_weighted_*. */
RPO_API int rpo_loss_rows_weighted_f32(rpo_ctx *ctx,
                                       size_t m_total, size_t row_offset,
                                       size_t m, const float *policy_chosen,
                                       const float *ref_chosen,
                                       size_t n, const float *policy_rejected,
                                       const float *ref_rejected,
                                       const float *weights,
                                       float *grad_chosen, float *partial_stats,
                                       float *partial_grad_rejected);

RPO_API int rpo_loss_rows_weighted_f64(rpo_ctx *ctx,
                                       size_t m_total, size_t row_offset,
                                       size_t m, const double *policy_chosen,
                                       const double *ref_chosen,
                                       size_t n, const double *policy_rejected,
                                       const double *ref_rejected,
                                       const double *weights,
                                       double *grad_chosen,
                                       double *partial_stats,
                                       double *partial_grad_rejected);

/* ------------------------------------------------------------------------ */
/* Batches of related prompts (since 1.3; docs/extensions.md). RPO weighs
 * contrasts between prompts by their similarity, so a mini-batch of
 * unrelated prompts gives it little to weigh. These functions order a
 * dataset so that consecutive runs of batch_size prompts are mutually
 * similar in cosine space.
 *
 *   embeddings  (P, D)  the dataset's prompt embeddings, read only
 *   batch_size  B       prompts per batch, in [1, P]
 *   seed                any value; the same seed gives the same order
 *   order       (P)     out: a permutation of 0 .. P - 1; batch k is
 *                       order[k B .. k B + B - 1], the last one shorter
 *                       when B does not divide P
 *
 * Method: a bisection tree. Each node's prompts are split into two sets
 * of whole batches by at most 8 rounds of 2-means on the unit sphere:
 * prompts ranked by cos(x, c_left) - cos(x, c_right), the ranking cut at
 * the multiple of B between a third and two thirds of the node that
 * maximises |sum of left x/|x|| + |sum of right x/|x|| (so cuts fall
 * between clusters), stopping early once at most 1/256 of the node's
 * prompts change sides; until every leaf is one batch. Time O(P D L), L
 * <= log_{3/2}(P / B) + 1 levels of at most 15 passes over the embeddings
 * (P = 100000, D = 384, B = 32: about 7 s on one core of a shared
 * machine, bench/bench_batching.c); memory O(P) beside the embeddings (no
 * P x P matrix). A zero row counts as similar to nothing. The order
 * depends on the seed and the data only: it is the same for every
 * RPO_PARAM_THREADS (the nodes of a level are split on separate threads,
 * each node by one). It is not necessarily the same across kernel sets or
 * CPUs.
 *
 * Errors: RPO_ERR_NULL_POINTER (ctx, embeddings or order NULL),
 * RPO_ERR_SIZE (P == 0, D == 0, B == 0, B > P, or P D overflowing size_t),
 * RPO_ERR_NONFINITE (NaN or infinity in an embedding), RPO_ERR_NOMEM.
 * Nothing is written to order then; rpo_ctx_error_detail says why. */
RPO_API int rpo_related_batches_f32(rpo_ctx *ctx, size_t p, size_t d,
                                    const float *embeddings,
                                    size_t batch_size, uint64_t seed,
                                    size_t *order);

RPO_API int rpo_related_batches_f64(rpo_ctx *ctx, size_t p, size_t d,
                                    const double *embeddings,
                                    size_t batch_size, uint64_t seed,
                                    size_t *order);

/* ------------------------------------------------------------------------ */
/* Objectives (since 1.3; docs/objectives.md): the losses trainers combine,
 * on the contrast matrix and every weighting and placement above. One call
 * takes a batch descriptor and fills a results descriptor; both begin with
 * their own size, so a later release can append fields and a caller
 * compiled against this header keeps working.
 *
 * The loss is a weighted list of terms, sum_k w_k L_k, each term L_k
 * reduced as it would be alone (RPO_PARAM_REDUCTION):
 *   pair terms (RPO_LOSS_SIGMOID .. RPO_LOSS_ORPO): on the M x N contrast
 *     matrix exactly as rpo_loss_* reduces RPO_PARAM_LOSS, with scores
 *     sa_i, sb_j in place of a_i, b_j and the pair (i, j) term multiplied
 *     by the sample weights wc_i * wr_j:
 *       LOSS  placement: (1/M) sum_ij   wc_i wr_j W_ij f(sa_i, sb_j)
 *       LOGIT placement: (1/M) sum_ij   wc_i wr_j f(k W_ij sa_i, k W_ij sb_j) / N
 *     sa_i = g(a_i), or g(a_i / Lc_i) for IPO and SIGMOID_NORM when lengths
 *     are given (g the f-divergence's score); SIMPO reads pc_i / Lc_i and
 *     ORPO lo(pc_i / Lc_i), reference-free. For SIMPO and ORPO, LOGIT
 *     placement scales their logit (beta (sa - sb) - gamma, lo - lo) by k W.
 *   SFT: -(sum_i wc_i pc_i) / (sum_i Lc_i), whatever the weighting.
 *   SUM reduction multiplies every term by M.
 * KTO and APO_ZERO_UNPAIRED stand alone (a list of one): with kl =
 * max(0, mean_k (policy_kl[k] - ref_kl[k])) or max(0, *kl), a constant of
 * the backward (0 for APO_ZERO_UNPAIRED),
 *   L = (1/(M+N)) [sum_i wc_i wd l_i + sum_j wr_j wu r_j]     (SUM: no 1/(M+N))
 *   KTO:               l_i = 1 - s(beta (a_i - kl)), r_j = 1 - s(beta (kl - b_j))
 *   APO_ZERO_UNPAIRED: l_i = 1 - s(beta a_i),        r_j = s(beta b_j)
 * with wd, wu = RPO_PARAM_DESIRABLE_WEIGHT, RPO_PARAM_UNDESIRABLE_WEIGHT;
 * M and N need not match and either may be 0. Lengths are not read.
 *
 * Lengths are token counts: finite and > 0 (an empty completion carries
 * no learning signal; TRL drops such examples before training), and
 * clamped to at least 1 where they divide (TRL's clamp(min=1)). Sample
 * weights are finite and >= 0. Both are constants of the backward.      */

/* The longest term list. */
#define RPO_MAX_TERMS 8

/* The batch, float32 (rpo_batch_f64 is the same with double arrays).
 * Every array is the caller's, read only during the call. */
typedef struct rpo_batch_f32 {
    size_t size;                   /* sizeof(rpo_batch_f32)                */
    size_t m, n, d;                /* chosen, rejected, embedding width    */
    const float *policy_chosen;    /* (M)                                  */
    const float *ref_chosen;       /* (M) or NULL: reference-free (0)      */
    const float *policy_rejected;  /* (N)                                  */
    const float *ref_rejected;     /* (N) or NULL                          */
    const float *chosen_emb;       /* (M, D) as for rpo_loss_*             */
    const float *rejected_emb;     /* (N, D), NULL or chosen_emb: paired   */
    const float *weights;          /* (M, N) the caller's weight matrix, as
                                      for rpo_loss_weighted_*; NULL: the
                                      context's weighting                 */
    const float *chosen_lengths;   /* (M) token counts, or NULL: sums      */
    const float *rejected_lengths; /* (N) or NULL                          */
    const float *chosen_weights;   /* (M) sample weights wc, or NULL: 1    */
    const float *rejected_weights; /* (N) wr, or NULL: 1                   */
    size_t terms;                  /* 0: RPO_PARAM_LOSS alone, weight 1;
                                      else at most RPO_MAX_TERMS          */
    const int *term_losses;        /* (terms) RPO_LOSS_*, each at most once */
    const double *term_weights;    /* (terms) finite, or NULL: all 1       */
    size_t k;                      /* KTO's mismatched (KL) pairs          */
    const float *policy_kl;        /* (K)                                  */
    const float *ref_kl;           /* (K) or NULL                          */
    const float *kl;               /* (1) KTO's kl gathered by the caller
                                      (unclamped mean); NULL: from the
                                      K pairs, 0 when K == 0              */
    const float *sft_tokens;       /* (1) SFT's chosen token count over
                                      all row blocks (>= 1), or NULL: the
                                      batch's own (rpo_objective_rows_*)  */
    /* Appended in 1.3 after sft_tokens: a caller whose size ends before
     * it leaves it NULL. */
    const float *losses_grad;      /* (M) for a list, (M + N) for KTO: the
                                      incoming gradient g_i of each
                                      results.losses[i] (finite); every
                                      gradient returned is then that of
                                      sum_i g_i losses_i, the loss is
                                      still the reduced one. NULL: the
                                      reduced loss's gradients            */
} rpo_batch_f32;

typedef struct rpo_batch_f64 {
    size_t size;
    size_t m, n, d;
    const double *policy_chosen, *ref_chosen;
    const double *policy_rejected, *ref_rejected;
    const double *chosen_emb, *rejected_emb;
    const double *weights;
    const double *chosen_lengths, *rejected_lengths;
    const double *chosen_weights, *rejected_weights;
    size_t terms;
    const int *term_losses;
    const double *term_weights;
    size_t k;
    const double *policy_kl, *ref_kl;
    const double *kl;
    const double *sft_tokens;
    const double *losses_grad;
} rpo_batch_f64;

/* The results; every pointer may be NULL (not computed). */
typedef struct rpo_results_f32 {
    size_t size;                   /* sizeof(rpo_results_f32)              */
    float *loss;                   /* (1)                                  */
    float *grad_chosen;            /* (M) dL/d policy_chosen               */
    float *grad_rejected;          /* (N) dL/d policy_rejected             */
    float *grad_chosen_emb;        /* (M, D) as rpo_loss_embed_grad_*      */
    float *grad_rejected_emb;      /* (N, D)                               */
    float *losses;                 /* per sequence: (M) for a term list,
                                      (M + N) for KTO (chosen first); their
                                      mean is the MEAN loss, their sum the
                                      SUM loss                            */
    float *chosen_rewards;         /* (M) beta a_i                         */
    float *rejected_rewards;       /* (N) beta b_j                         */
    float *partial_stats;          /* (RPO_PARTIAL_COUNT) a row block's
                                      shares (rpo_objective_rows_*); not
                                      used by rpo_objective_*             */
} rpo_results_f32;

typedef struct rpo_results_f64 {
    size_t size;
    double *loss;
    double *grad_chosen, *grad_rejected;
    double *grad_chosen_emb, *grad_rejected_emb;
    double *losses;
    double *chosen_rewards, *rejected_rewards;
    double *partial_stats;
} rpo_results_f64;

/* Computes the objective of *batch into *results (both read and written
 * only during the call). The gradients are with respect to the policy
 * log-probs; the reference ones are the negatives for the terms that read
 * a log-ratio, 0 for SIMPO, ORPO and SFT. Metrics as for rpo_loss_*
 * (margin and accuracy contrast the first pair term's scores), plus
 * RPO_STAT_LOGPS_* and RPO_STAT_KL. Errors, before anything is written
 * (rpo_ctx_error_detail names the field and value):
 *   RPO_ERR_NULL_POINTER  ctx, batch or results; an input needed (as for
 *                         rpo_loss_*; term_losses with terms > 0;
 *                         chosen_lengths for SFT; policy_kl for K > 0
 *                         with KTO and no kl)
 *   RPO_ERR_SIZE          a descriptor's size below this version's (an
 *                         older layout than the first), sizes as for
 *                         rpo_loss_*, terms > RPO_MAX_TERMS
 *   RPO_ERR_UNSUPPORTED   a descriptor longer than this version's whose
 *                         unknown tail is not all zero bytes (a field this
 *                         library does not know was set); SINKHORN as for
 *                         rpo_loss_*
 *   RPO_ERR_PARAM         an unknown or repeated term, KTO or
 *                         APO_ZERO_UNPAIRED in a list, a non-finite term
 *                         weight, a zero or negative length, a
 *                         negative sample weight,
 *                         sft_tokens below 1, EXO_PAIR without label
 *                         smoothing, embedding gradients with the
 *                         caller's weights or with KTO
 *   RPO_ERR_NONFINITE     NaN or infinity in any array read
 *   RPO_ERR_RANGE         ORPO with a length-averaged log-prob >= 0 (its
 *                         log-odds are infinite), or a result beyond the
 *                         output type
 *   RPO_ERR_NOMEM         as for rpo_loss_*                               */
RPO_API int rpo_objective_f32(rpo_ctx *ctx, const rpo_batch_f32 *batch,
                              rpo_results_f32 *results);

RPO_API int rpo_objective_f64(rpo_ctx *ctx, const rpo_batch_f64 *batch,
                              rpo_results_f64 *results);

/* One row block of a term list across data-parallel ranks, as
 * rpo_loss_rows_* is of rpo_loss_embed_grad_*: the batch's M chosen rows
 * are rows row_offset .. row_offset + M - 1 of m_total, its N rejected
 * rows (and rejected_emb, never the "paired" shorthand) are every rank's,
 * gathered; lengths and sample weights follow their rows. results:
 * grad_chosen, grad_chosen_emb, losses (M, times m_total under MEAN) and
 * the rewards are complete; grad_rejected, grad_rejected_emb and
 * partial_stats are this block's shares, which summed over all blocks give
 * the whole call's gradients, loss and metrics; loss is not used. SFT
 * divides by batch->sft_tokens, the chosen tokens of all blocks (gather
 * them first; NULL: this block's own, right only for one block).
 * KTO and APO_ZERO_UNPAIRED: a block holds its own M desirable and N
 * undesirable sequences, sequences row_offset .. row_offset + M + N - 1 of
 * the m_total of all blocks (the mean's denominator under MEAN).
 * grad_chosen, grad_rejected, losses (M + N) and the rewards are complete
 * (the sequences do not interact); partial_stats holds the block's loss
 * share and the sums of its chosen and rejected rewards (divide their
 * all-reduced sums by the global M and N for the whole call's means;
 * margin and accuracy are 0). kl: batch->kl, the unclamped mean of every
 * block's KL pairs (gather sum_k (policy_kl - ref_kl) and K, divide), which
 * the library clamps once, as the whole call does (a mean of clamped block
 * estimates would not be max(0, mean)); NULL: max(0, this block's own K
 * pairs' mean), right only for one block. The context's metrics are
 * unchanged. Errors as for rpo_objective_* and rpo_loss_rows_*; for KTO
 * RPO_ERR_SIZE also when row_offset + M + N exceeds m_total. */
RPO_API int rpo_objective_rows_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                                   const rpo_batch_f32 *batch,
                                   rpo_results_f32 *results);

RPO_API int rpo_objective_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                                   const rpo_batch_f64 *batch,
                                   rpo_results_f64 *results);

/* ------------------------------------------------------------------------ */
/* Versions and messages.                                                   */

/* RPO_VERSION_NUMBER of the library actually loaded; compare it with the
 * header's to detect a mismatch at run time. */
RPO_API unsigned rpo_version_number(void);

/* RPO_VERSION_STRING of the library actually loaded ("1.3.0"). */
RPO_API const char *rpo_version_string(void);

/* A static English description of a status code; never NULL, also for
 * unknown codes. */
RPO_API const char *rpo_status_string(int status);

/* Since 1.3. The detail of the last call on ctx that failed: which
 * argument, which rule, the values involved (for example "DIAGONAL
 * weighting needs m == n (m = 6, n = 4)", "targets[3] = 7 is not below
 * v = 5", "policy_chosen[2] is NaN"). Every function that takes a
 * non-const ctx clears it first, so it is "" before any call and after a
 * call that succeeded, and it is never "" after one that failed with a
 * non-NULL ctx. rpo_ctx_get and rpo_ctx_stat, which only read the context,
 * leave it as it was (their failures are a NULL pointer or an unknown
 * key). Never NULL ("" for a NULL ctx). The text is English for people,
 * not a format to parse; it belongs to the context and stays valid until
 * the next call on it. */
RPO_API const char *rpo_ctx_error_detail(const rpo_ctx *ctx);

#ifdef __cplusplus
}
#endif

#endif /* RPO_H */

/* ------------------------------------------------------------------------ */
/* Not part of the stable ABI: available only when linking librpo.a, for
 * tests and benchmarks; may change in any release. Define
 * RPO_STATIC_LINKING_ONLY before including rpo.h to see it.               */

#if defined(RPO_STATIC_LINKING_ONLY) && !defined(RPO_H_STATIC_LINKING_ONLY)
#define RPO_H_STATIC_LINKING_ONLY

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel sets. rpo_ctx_create picks the fastest one the CPU runs (AUTO). */
#define RPO_KERNELS_AUTO     (-1)
#define RPO_KERNELS_PORTABLE   0  /* 16-byte vectors: any machine          */
#define RPO_KERNELS_AVX2       1  /* x86-64 with AVX2 and FMA              */
#define RPO_KERNELS_AVX512     2  /* x86-64 with AVX-512F                  */
#define RPO_KERNELS_GENERIC    3  /* PORTABLE, but the per-pair stage runs
                                     through the scalar double path that
                                     serves every loss family              */

/* Makes the context use a kernel set. RPO_ERR_NULL_POINTER for a NULL ctx,
 * RPO_ERR_PARAM for an unknown set, RPO_ERR_UNSUPPORTED when this build or
 * CPU cannot run it (the context keeps its set). */
int rpo_ctx_use_kernels(rpo_ctx *ctx, int kernels);

/* The name of the context's kernel set ("avx512", ...); "" for NULL. */
const char *rpo_ctx_kernels(const rpo_ctx *ctx);

/* The cosine similarities sim (M, N) of the embeddings (arguments and
 * errors as for rpo_weights_*), computed by the similarity stage exactly as
 * rpo_weights_* runs it (normalisation, layout, kernels, the symmetric
 * product for paired embeddings, threads) but without the softmax, whatever
 * the context's weighting: the benchmark's view of that stage. */
int rpo_similarity_f32(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const float *chosen_emb, const float *rejected_emb,
                       float *sim);
int rpo_similarity_f64(rpo_ctx *ctx, size_t m, size_t n, size_t d,
                       const double *chosen_emb, const double *rejected_emb,
                       double *sim);

#ifdef __cplusplus
}
#endif

#endif /* RPO_STATIC_LINKING_ONLY */
