/*
 * toy_task: the synthetic preference task and the small policy that
 * examples/train_toy.c and examples/experiment.c train with librpo, in the
 * style of a C trainer (llm.c): forward to logits, librpo's token helpers
 * and loss, backward into dlogits, then into the weights.
 *
 * The task. A prompt is a feature vector x (D numbers) drawn around one of
 * the world's cluster centres; a response is a short sequence of tokens (2
 * to L of them, from a vocabulary of V; shorter ones are padded with target
 * -1, which the token helpers skip). A hidden reward, the mean over the
 * response's tokens of <theta[token], x>, decides which of two responses
 * is better; training labels follow it through Bradley-Terry noise (the
 * better one is "chosen" with probability sigmoid(r_better - r_worse)),
 * held-out labels are the truth. Prompts of one cluster share their
 * preferences, which is what RPO's embedding weights exploit: a chosen
 * response is contrasted with the rejected responses of related prompts
 * too, not only with its own.
 *
 * The policy. A linear softmax over tokens given the prompt, the same at
 * every position: logits = W x + c. A response's log-prob is the mean of
 * its tokens' (RPO_SEQ_MEAN), so a longer response is not penalised for
 * its length and the hidden reward is exactly representable. The reference
 * model is the policy at step 0.
 */
#ifndef TOY_TASK_H
#define TOY_TASK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rpo.h"

enum {
    D = 8,              /* prompt features                    */
    V = 12,             /* vocabulary                         */
    L = 4,              /* longest response                   */
    MAX_CLUSTERS = 64,  /* prompt clusters a world may have   */
    HELD_OUT = 512,     /* held-out pairs                     */
    MAX_SEQS = 512      /* sequences one forward may hold: the held-out
                           side, or the largest training batch   */
};

/* Every loss call of both programs: the implicit reward's scale. */
static const double BETA = 0.1;

#define CHECK(call)                                                        \
    do {                                                                   \
        int status_ = (call);                                              \
        if (status_ != RPO_OK) {                                           \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,             \
                    rpo_status_string(status_));                           \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

/* ------------------------------------------------------------ random */

/* splitmix64: small, and the same stream on every platform, so a seed
 * names one dataset everywhere. */
typedef struct rng { uint64_t state; } rng;

uint64_t rng_next(rng *r);
double rng_uniform(rng *r);           /* [0, 1) */
double rng_normal(rng *r);            /* standard normal */
size_t rng_below(rng *r, size_t n);   /* [0, n) */

/* ------------------------------------------------------------ data */

/* A response: up to L tokens; positions past its length hold target -1
 * ("no token"), which librpo's token helpers skip. */
typedef struct response { int32_t tokens[L]; } response;

typedef struct example {
    float x[D];             /* prompt features, also its embedding */
    size_t cluster;         /* which centre x was drawn around     */
    response chosen, rejected;
} example;

typedef struct world {
    size_t clusters;
    float centre[MAX_CLUSTERS][D];
    float theta[V][D];      /* the hidden reward */
} world;

/* clusters centres, then the hidden reward, drawn from r. */
void make_world(rng *r, world *w, size_t clusters);

/* The hidden reward of response y to prompt x. */
double true_reward(const world *w, const float *x, const response *y);

/* One pair around a random centre. noisy: the label follows Bradley-Terry;
 * otherwise it is the truth. */
example make_example(rng *r, const world *w, int noisy);

/* ------------------------------------------------------------ the policy */

typedef struct policy {
    float w[V][D];
    float c[V];
} policy;

#define N_PARAMS (sizeof(policy) / sizeof(float))

/* A random start: every weight 0.1 N(0, 1). */
void random_policy(rng *r, policy *p);

/* p -= learning_rate * grad */
void sgd_update(policy *p, const policy *grad, float learning_rate);

/* Scratch for up to MAX_SEQS sequences. Sequence s answers prompts[s] with
 * ys[s]; the logits of the last forward stay here for its backward. */
typedef struct buffers {
    float logits[MAX_SEQS * L * V], dlogits[MAX_SEQS * L * V];
    int32_t targets[MAX_SEQS * L];
    uint8_t mask[MAX_SEQS * L];
    float token_logps[MAX_SEQS * L], dtoken[MAX_SEQS * L];
    float seq_logps[MAX_SEQS], ref_logps[MAX_SEQS], dseq[MAX_SEQS];
    const float *prompts[MAX_SEQS];
    const response *ys[MAX_SEQS];
} buffers;

/* Puts one side (chosen or rejected) of count examples into b at offset:
 * pool[index[i]], or pool[i] when index is NULL. */
void load_side(buffers *b, const example *pool, const size_t *index,
               size_t count, size_t offset, int chosen);

/* Sequence log-probs of the n sequences in b->prompts / b->ys under p,
 * into out (n); the logits stay in b for the backward. */
void sequence_logps(rpo_ctx *ctx, const policy *p, size_t n, buffers *b,
                    float *out);

/* The backward of the last sequence_logps from dL/dlogp of its n
 * sequences (dseq, n): adds the gradient of the policy into grad. */
void sequence_backward(rpo_ctx *ctx, size_t n, buffers *b, const float *dseq,
                       policy *grad);

/* One loss and its gradient on m chosen sequences followed by n_rej
 * rejected ones (already in b->prompts / b->ys, with their reference
 * log-probs in b->ref_logps); embeddings: (m, D) and (n_rej, D), rejected
 * NULL when paired, both NULL for DIAGONAL. Adds the gradient into grad,
 * returns the loss. */
float loss_gradient(rpo_ctx *ctx, const policy *p, buffers *b, size_t m,
                    size_t n_rej, const float *chosen_emb,
                    const float *rejected_emb, policy *grad);

/* ------------------------------------------------------------ evaluation */

typedef struct held_out {
    const example *pairs;            /* (HELD_OUT), labelled by the truth */
    float ref_logps[2 * HELD_OUT];   /* under the reference: chosen, rejected */
} held_out;

/* Log-probs of count pairs under p: out (2 * count), chosen then rejected. */
void pair_logps(rpo_ctx *ctx, const policy *p, const example *pairs,
                size_t count, buffers *b, float *out);

/* A context that scores held-out pairs: DIAGONAL, alpha 1 (DPO's metrics
 * of the true pairs). Exits when out of memory. */
rpo_ctx *evaluation_context(void);

/* Held-out preference accuracy (how often the implicit reward
 * beta * (log pi - log pi_ref) ranks the truly better response first; a
 * margin of exactly 0 counts as not ranked) and mean reward margin, which
 * librpo reports with a loss-only call on eval. */
void evaluate(rpo_ctx *eval, rpo_ctx *ctx, const policy *p, const held_out *h,
              buffers *b, double *accuracy, double *margin);

#endif
