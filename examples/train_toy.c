/*
 * train_toy: a tiny policy trained end to end with librpo, in the style of
 * a C trainer (llm.c): forward to logits, librpo's token helpers and loss,
 * backward into dlogits, then into the weights.
 *
 * The task. A prompt is a feature vector x (D numbers) drawn around one of
 * K cluster centres; a response is a short sequence of tokens (2 to L of
 * them, from a vocabulary of V; shorter ones are padded with target -1,
 * which the token helpers skip). A hidden reward, the mean over the
 * response's tokens of <theta[token], x>, decides which of two responses is
 * better; the training labels follow it through Bradley-Terry noise (the
 * better one is "chosen" with probability sigmoid(r_better - r_worse)), the
 * held-out labels are the truth. Prompts of one cluster share their
 * preferences, which is what RPO's embedding weights exploit: a chosen
 * response is contrasted with the rejected responses of related prompts
 * too, not only with its own.
 *
 * The policy. A linear softmax over tokens given the prompt, the same at
 * every position: logits = W x + c. A response's log-prob is the mean of
 * its tokens' (RPO_SEQ_MEAN), so a longer response is not penalised for its
 * length and the hidden reward is exactly representable. The reference
 * model is the policy at step 0.
 *
 * Three runs from the same start, with the same batches of the same pool:
 *   RPO, embedding weights   paired batches, prompt features as embeddings
 *   DPO                      the same batches, diagonal weighting, alpha 1
 *   RPO, unpaired            chosen responses of some prompts against the
 *                            rejected responses of other prompts (M = 8,
 *                            N = 12 per batch): data DPO cannot use at all
 * and a table of held-out preference accuracy (how often the implicit
 * reward beta * (log pi - log pi_ref) ranks the truly better response
 * first; at step 0 every margin is 0, which counts as not ranked) and the
 * mean reward margin, over steps. All three use one plain gradient-descent
 * step size; the losses scale their gradients differently (logit placement
 * carries a 1/N), so this compares the methods as configured, not tuned.
 *
 * Build and run:  make demo   (after examples/demo)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpo.h"

enum {
    D = 8,          /* prompt features                      */
    K = 4,          /* prompt clusters                      */
    V = 12,         /* vocabulary                           */
    L = 4,          /* longest response                     */
    TRAIN = 512,    /* training preference pairs            */
    HELD_OUT = 512, /* held-out pairs                       */
    BATCH = 16,     /* pairs per paired step                */
    UNPAIRED_M = 8, /* chosen responses per unpaired step   */
    UNPAIRED_N = 12,/* rejected responses per unpaired step */
    STEPS = 600,
    MAX_SEQS = 2 * BATCH > HELD_OUT ? 2 * BATCH : HELD_OUT
};

static const double BETA = 0.1;
static const float LEARNING_RATE = 300.0f;

/* ------------------------------------------------------------ random */

typedef struct rng { uint64_t state; } rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double rng_normal(rng *r)
{
    double u = rng_uniform(r) + 0x1p-54, v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static size_t rng_below(rng *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

/* ------------------------------------------------------------ data */

/* A response: up to L tokens; positions past its length hold target -1
 * ("no token"), which librpo's token helpers skip. */
typedef struct response { int32_t tokens[L]; } response;

typedef struct example {
    float x[D];             /* prompt features, also its embedding */
    response chosen, rejected;
} example;

typedef struct world {
    float centre[K][D];
    float theta[V][D];      /* the hidden reward */
} world;

static void make_world(rng *r, world *w)
{
    for (size_t k = 0; k < K; k++)
        for (size_t d = 0; d < D; d++)
            w->centre[k][d] = (float)(2.0 * rng_normal(r));
    for (size_t v = 0; v < V; v++)
        for (size_t d = 0; d < D; d++)
            w->theta[v][d] = (float)(0.5 * rng_normal(r));
}

static double true_reward(const world *w, const float *x, const response *y)
{
    double s = 0.0;
    size_t t = 0;
    for (; t < L && y->tokens[t] >= 0; t++)
        for (size_t d = 0; d < D; d++)
            s += (double)w->theta[y->tokens[t]][d] * (double)x[d];
    return s / (double)t;
}

static response random_response(rng *r)
{
    response y;
    size_t length = 2 + rng_below(r, L - 1);
    for (size_t t = 0; t < L; t++)
        y.tokens[t] = t < length ? (int32_t)rng_below(r, V) : -1;
    return y;
}

/* noisy: the label follows Bradley-Terry; otherwise it is the truth */
static example make_example(rng *r, const world *w, int noisy)
{
    example e;
    size_t k = rng_below(r, K);
    for (size_t d = 0; d < D; d++)
        e.x[d] = w->centre[k][d] + (float)(0.7 * rng_normal(r));
    response a = random_response(r), b = random_response(r);
    double margin = true_reward(w, e.x, &a) - true_reward(w, e.x, &b);
    int a_wins = noisy ? rng_uniform(r) < 1.0 / (1.0 + exp(-margin)) : margin > 0.0;
    e.chosen = a_wins ? a : b;
    e.rejected = a_wins ? b : a;
    return e;
}

/* ------------------------------------------------------------ the policy */

typedef struct policy {
    float w[V][D];
    float c[V];
} policy;

#define N_PARAMS (sizeof(policy) / sizeof(float))

/* Logits of every position of n sequences: logits (n * L, V), targets
 * (n * L). Sequence s answers prompt prompts[s]. */
static void forward_logits(const policy *p, size_t n, const float *const *prompts,
                           const response *const *ys, float *logits,
                           int32_t *targets)
{
    for (size_t s = 0; s < n; s++)
        for (size_t t = 0; t < L; t++) {
            float *row = logits + (s * L + t) * V;
            for (size_t v = 0; v < V; v++) {
                float z = p->c[v];
                for (size_t d = 0; d < D; d++)
                    z += p->w[v][d] * prompts[s][d];
                row[v] = z;
            }
            targets[s * L + t] = ys[s]->tokens[t];
        }
}

/* Gradients of the weights from dlogits (n * L, V). */
static void backward_logits(policy *grad, size_t n, const float *const *prompts,
                            const float *dlogits)
{
    memset(grad, 0, sizeof *grad);
    for (size_t s = 0; s < n; s++)
        for (size_t t = 0; t < L; t++) {
            const float *drow = dlogits + (s * L + t) * V;
            for (size_t v = 0; v < V; v++) {
                grad->c[v] += drow[v];
                for (size_t d = 0; d < D; d++)
                    grad->w[v][d] += drow[v] * prompts[s][d];
            }
        }
}

/* Plain gradient descent. The loss's gradients carry beta / M, hence the
 * large step. */
static void sgd_update(policy *p, const policy *grad)
{
    float *w = (float *)p;
    const float *g = (const float *)grad;
    for (size_t k = 0; k < N_PARAMS; k++)
        w[k] -= LEARNING_RATE * g[k];
}

/* ------------------------------------------------------------ one step */

/* Scratch for up to MAX_SEQS sequences. */
typedef struct buffers {
    float logits[MAX_SEQS * L * V], dlogits[MAX_SEQS * L * V];
    int32_t targets[MAX_SEQS * L];
    uint8_t mask[MAX_SEQS * L];
    float token_logps[MAX_SEQS * L], dtoken[MAX_SEQS * L];
    float seq_logps[MAX_SEQS], ref_logps[MAX_SEQS], dseq[MAX_SEQS];
    const float *prompts[MAX_SEQS];
    const response *ys[MAX_SEQS];
} buffers;

#define CHECK(call)                                                        \
    do {                                                                   \
        int status_ = (call);                                              \
        if (status_ != RPO_OK) {                                           \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__,             \
                    rpo_status_string(status_));                           \
            exit(1);                                                       \
        }                                                                  \
    } while (0)

/* Sequence log-probs of the n sequences in b->prompts / b->ys under p,
 * into out; the logits stay in b for the backward. */
static void sequence_logps(rpo_ctx *ctx, const policy *p, size_t n,
                           buffers *b, float *out)
{
    forward_logits(p, n, b->prompts, b->ys, b->logits, b->targets);
    for (size_t k = 0; k < n * L; k++)
        b->mask[k] = b->targets[k] >= 0;
    CHECK(rpo_token_logps_f32(ctx, n * L, V, V, b->logits, b->targets,
                              b->token_logps));
    CHECK(rpo_seq_logps_f32(n, L, b->token_logps, b->mask, RPO_SEQ_MEAN, out));
}

/* One training step on m chosen sequences followed by n_rej rejected ones
 * (already in b->prompts / b->ys, with their reference log-probs in
 * b->ref_logps); embeddings: (m, D) and (n_rej, D), rejected NULL when
 * paired. */
static void train_step(rpo_ctx *ctx, policy *p, buffers *b,
                       size_t m, size_t n_rej, const float *chosen_emb,
                       const float *rejected_emb)
{
    const size_t n = m + n_rej;
    sequence_logps(ctx, p, n, b, b->seq_logps);
    CHECK(rpo_loss_f32(ctx, m, b->seq_logps, b->ref_logps,
                       n_rej, b->seq_logps + m, b->ref_logps + m,
                       D, chosen_emb, rejected_emb,
                       NULL, b->dseq, b->dseq + m));
    CHECK(rpo_seq_logps_backward_f32(n, L, b->mask, RPO_SEQ_MEAN, b->dseq, b->dtoken));
    memset(b->dlogits, 0, n * L * V * sizeof *b->dlogits);
    CHECK(rpo_token_logps_backward_f32(ctx, n * L, V, V, b->logits, b->targets,
                                       b->dtoken, b->dlogits));
    policy grad;
    backward_logits(&grad, n, b->prompts, b->dlogits);
    sgd_update(p, &grad);
}

/* ------------------------------------------------------------ evaluation */

/* Puts one side (chosen or rejected) of count examples into b at offset:
 * pool[index[i]], or pool[i] when index is NULL. */
static void load_side(buffers *b, const example *pool, const size_t *index,
                      size_t count, size_t offset, int chosen)
{
    for (size_t i = 0; i < count; i++) {
        const example *e = &pool[index != NULL ? index[i] : i];
        b->prompts[offset + i] = e->x;
        b->ys[offset + i] = chosen ? &e->chosen : &e->rejected;
    }
}

/* Log-probs of count pairs under p: out (2 * count), chosen then rejected. */
static void pair_logps(rpo_ctx *ctx, const policy *p, const example *pairs,
                       size_t count, buffers *b, float *out)
{
    load_side(b, pairs, NULL, count, 0, 1);
    sequence_logps(ctx, p, count, b, out);
    load_side(b, pairs, NULL, count, 0, 0);
    sequence_logps(ctx, p, count, b, out + count);
}

typedef struct held_out {
    const example *pairs;            /* (HELD_OUT), labelled by the truth */
    float ref_logps[2 * HELD_OUT];   /* under the reference: chosen, rejected */
} held_out;

/* Held-out accuracy and margin: DPO's metrics (diagonal, alpha 1) of the
 * true pairs, which librpo reports with a loss-only call. */
static void evaluate(rpo_ctx *eval, rpo_ctx *ctx, const policy *p,
                     const held_out *h, buffers *b, double *accuracy,
                     double *margin)
{
    static float logps[2 * HELD_OUT];
    pair_logps(ctx, p, h->pairs, HELD_OUT, b, logps);
    float loss;
    CHECK(rpo_loss_f32(eval, HELD_OUT, logps, h->ref_logps, HELD_OUT,
                       logps + HELD_OUT, h->ref_logps + HELD_OUT,
                       0, NULL, NULL, &loss, NULL, NULL));
    CHECK(rpo_ctx_stat(eval, RPO_STAT_ACCURACY, accuracy));
    CHECK(rpo_ctx_stat(eval, RPO_STAT_MARGIN, margin));
}

/* ------------------------------------------------------------ the runs */

enum { RUN_RPO, RUN_DPO, RUN_UNPAIRED, RUNS };
static const char *const run_names[RUNS] = {
    "RPO embedding", "DPO (diag, a=1)", "RPO unpaired"};

static const int report_steps[] = {0, 25, 50, 100, 200, 400, STEPS};
#define REPORTS (sizeof report_steps / sizeof report_steps[0])

typedef struct run_result { double accuracy[REPORTS], margin[REPORTS]; } run_result;

static void configure(rpo_ctx *ctx, int run)
{
    CHECK(rpo_ctx_set(ctx, RPO_PARAM_BETA, BETA));
    if (run == RUN_DPO) {
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL));
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0));
    } else {
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING));
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_TAU, 0.5));
    }
}

static void train(int run, const policy *start, const example *pool,
                  const held_out *h, buffers *b, run_result *out)
{
    rpo_ctx *ctx = rpo_ctx_create(), *eval = rpo_ctx_create();
    if (ctx == NULL || eval == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    configure(ctx, run);
    CHECK(rpo_ctx_set(eval, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL));
    CHECK(rpo_ctx_set(eval, RPO_PARAM_ALPHA, 1.0));
    CHECK(rpo_ctx_set(eval, RPO_PARAM_BETA, BETA));

    policy p = *start;
    rng order = {7};   /* the same batches for every run */
    size_t next_report = 0;
    for (int step = 0; step <= STEPS; step++) {
        if ((int)next_report < (int)REPORTS && report_steps[next_report] == step) {
            evaluate(eval, ctx, &p, h, b, &out->accuracy[next_report],
                     &out->margin[next_report]);
            next_report++;
        }
        if (step == STEPS)
            break;
        size_t batch[BATCH], other[UNPAIRED_N];
        for (size_t i = 0; i < BATCH; i++)
            batch[i] = rng_below(&order, TRAIN);
        size_t m = BATCH, n = BATCH;
        float chosen_emb[BATCH * D], rejected_emb[UNPAIRED_N * D];
        if (run == RUN_UNPAIRED) {
            /* chosen responses of some prompts, rejected responses of
             * others: no response meets the other half of its own pair */
            m = UNPAIRED_M;
            n = UNPAIRED_N;
            for (size_t j = 0; j < n; j++)
                other[j] = (batch[j] + TRAIN / 2) % TRAIN;
            load_side(b, pool, batch, m, 0, 1);
            load_side(b, pool, other, n, m, 0);
        } else {
            load_side(b, pool, batch, m, 0, 1);
            load_side(b, pool, batch, n, m, 0);
        }
        for (size_t i = 0; i < m + n; i++)
            memcpy(i < m ? chosen_emb + i * D : rejected_emb + (i - m) * D,
                   b->prompts[i], D * sizeof(float));
        /* reference log-probs: the starting policy's */
        sequence_logps(ctx, start, m + n, b, b->ref_logps);
        train_step(ctx, &p, b, m, n,
                   run == RUN_DPO ? NULL : chosen_emb,
                   run == RUN_UNPAIRED ? rejected_emb : NULL);
    }
    rpo_ctx_free(ctx);
    rpo_ctx_free(eval);
}

int main(void)
{
    static world w;
    static example pool[TRAIN], tests[HELD_OUT];
    static policy start;
    static held_out h;
    static buffers b;
    run_result results[RUNS];

    rng r = {2024};
    make_world(&r, &w);
    for (size_t i = 0; i < TRAIN; i++)
        pool[i] = make_example(&r, &w, 1);
    for (size_t i = 0; i < HELD_OUT; i++)
        tests[i] = make_example(&r, &w, 0);
    float *sp = (float *)&start;
    for (size_t k = 0; k < N_PARAMS; k++)
        sp[k] = (float)(0.1 * rng_normal(&r));

    /* held-out reference log-probs under the starting policy */
    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL)
        return 1;
    h.pairs = tests;
    pair_logps(ctx, &start, tests, HELD_OUT, &b, h.ref_logps);
    rpo_ctx_free(ctx);

    for (int run = 0; run < RUNS; run++)
        train(run, &start, pool, &h, &b, &results[run]);

    printf("train_toy: prompts in %d clusters, %d noisy training pairs, "
           "%d held-out pairs\n", K, TRAIN, HELD_OUT);
    printf("policy: linear softmax over %d tokens, responses of 2-%d tokens, "
           "length-normalised log-probs; beta %.1f, gradient descent, %d steps "
           "of %d pairs\n\n", V, L, BETA, STEPS, BATCH);
    printf("held-out preference accuracy / reward margin (step 0 is the "
           "reference: every margin 0)\n");
    printf("%5s", "step");
    for (int run = 0; run < RUNS; run++)
        printf(run + 1 < RUNS ? "   %-15s" : "   %s", run_names[run]);
    printf("\n");
    for (size_t k = 0; k < REPORTS; k++) {
        printf("%5d", report_steps[k]);
        for (int run = 0; run < RUNS; run++)
            printf("   %5.3f / %+7.4f", results[run].accuracy[k],
                   results[run].margin[k]);
        printf("\n");
    }
    return 0;
}
