/*
 * train_toy: a tiny policy trained end to end with librpo, in the style of
 * a C trainer (llm.c): forward to logits, librpo's token helpers and loss,
 * backward into dlogits, then into the weights. The task (prompts in K
 * clusters that share their preferences, responses of a few tokens, a
 * hidden reward, noisy training labels) and the policy (a linear softmax
 * over tokens given the prompt) are in toy_task.h, shared with
 * experiment.c.
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
 * One seed: make experiment (experiment.c) repeats such runs over seeds.
 *
 * Build and run:  make demo   (after examples/demo)
 */
#include <string.h>

#include "toy_task.h"

enum {
    K = 4,          /* prompt clusters                      */
    TRAIN = 512,    /* training preference pairs            */
    BATCH = 16,     /* pairs per paired step                */
    UNPAIRED_M = 8, /* chosen responses per unpaired step   */
    UNPAIRED_N = 12,/* rejected responses per unpaired step */
    STEPS = 600
};

/* Plain gradient descent. The loss's gradients carry beta / M, hence the
 * large step. */
static const float LEARNING_RATE = 300.0f;

/* One training step on m chosen sequences followed by n_rej rejected ones
 * (already in b->prompts / b->ys, with their reference log-probs in
 * b->ref_logps); embeddings: (m, D) and (n_rej, D), rejected NULL when
 * paired. */
static void train_step(rpo_ctx *ctx, policy *p, buffers *b,
                       size_t m, size_t n_rej, const float *chosen_emb,
                       const float *rejected_emb)
{
    policy grad;
    memset(&grad, 0, sizeof grad);
    loss_gradient(ctx, p, b, m, n_rej, chosen_emb, rejected_emb, &grad);
    sgd_update(p, &grad, LEARNING_RATE);
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
    rpo_ctx *ctx = rpo_ctx_create(), *eval = evaluation_context();
    if (ctx == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    configure(ctx, run);

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
    make_world(&r, &w, K);
    for (size_t i = 0; i < TRAIN; i++)
        pool[i] = make_example(&r, &w, 1);
    for (size_t i = 0; i < HELD_OUT; i++)
        tests[i] = make_example(&r, &w, 0);
    random_policy(&r, &start);

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
