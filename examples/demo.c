/*
 * demo: librpo on a small built-in batch, printed readably.
 *
 * Four prompts from two topics (two about cooking, two about astronomy),
 * each with a chosen and a rejected response. The paired run weighs every
 * chosen response against every rejected one by how related their prompts
 * are (embedding weighting, the library's default), then compares with DPO
 * (diagonal weighting with alpha = 1). The unpaired run contrasts three
 * chosen responses with five rejected ones from other prompts.
 *
 * Build and run:  make demo
 */
#include <stdio.h>

#include "rpo.h"

#define D 4 /* a toy sentence-embedding width */

static void print_vector(const char *name, const float *x, size_t count)
{
    printf("  %-16s", name);
    for (size_t k = 0; k < count; k++)
        printf(" %+.5f", (double)x[k]);
    printf("\n");
}

static void print_matrix(const char *name, const float *w, size_t m, size_t n)
{
    printf("  %s (%zu x %zu, each row sums to 1):\n", name, m, n);
    for (size_t i = 0; i < m; i++) {
        printf("   ");
        for (size_t j = 0; j < n; j++)
            printf(" %.4f", (double)w[i * n + j]);
        printf("\n");
    }
}

static void print_metrics(const rpo_ctx *ctx)
{
    static const struct { int stat; const char *name; } stats[] = {
        {RPO_STAT_LOSS, "loss"},
        {RPO_STAT_REWARD_CHOSEN, "reward chosen"},
        {RPO_STAT_REWARD_REJECTED, "reward rejected"},
        {RPO_STAT_MARGIN, "margin"},
        {RPO_STAT_ACCURACY, "accuracy"},
    };
    printf("  metrics:");
    for (size_t k = 0; k < sizeof stats / sizeof stats[0]; k++) {
        double v = 0.0;
        rpo_ctx_stat(ctx, stats[k].stat, &v);
        printf("  %s %.5f", stats[k].name, v);
    }
    printf("\n");
}

/* Runs one loss call and prints everything it returns; 0 on success. */
static int run(rpo_ctx *ctx, const char *title,
               size_t m, const float *pc, const float *rc,
               size_t n, const float *pr, const float *rr,
               const float *ce, const float *re)
{
    float loss = 0.0f, gc[8], gr[8], w[64];
    int status = rpo_loss_f32(ctx, m, pc, rc, n, pr, rr, D, ce, re,
                              &loss, gc, gr);
    if (status == RPO_OK)
        status = rpo_weights_f32(ctx, m, n, D, ce, re, w);
    if (status != RPO_OK) {
        fprintf(stderr, "%s: %s\n", title, rpo_status_string(status));
        return 1;
    }
    printf("%s\n  loss %.6f\n", title, (double)loss);
    print_vector("dL/d chosen", gc, m);
    print_vector("dL/d rejected", gr, n);
    print_matrix("weights W", w, m, n);
    print_metrics(ctx);
    printf("\n");
    return 0;
}

int main(void)
{
    /* Per-sequence log-probs (sums over response tokens). */
    const float policy_chosen[4]   = {-42.1f, -37.8f, -55.0f, -49.6f};
    const float ref_chosen[4]      = {-44.0f, -38.5f, -54.2f, -52.3f};
    const float policy_rejected[4] = {-47.9f, -41.2f, -53.1f, -58.4f};
    const float ref_rejected[4]    = {-46.3f, -40.0f, -55.6f, -56.9f};
    /* Prompt embeddings: rows 0-1 cooking, rows 2-3 astronomy. */
    const float prompts[4 * D] = {
        0.9f, 0.1f, 0.0f, 0.2f,
        0.8f, 0.3f, 0.1f, 0.0f,
        0.0f, 0.1f, 0.9f, 0.3f,
        0.1f, 0.0f, 0.7f, 0.6f,
    };
    /* Unpaired: three chosen (cooking, cooking, astronomy) against five
     * rejected responses to other prompts. */
    const float u_policy_rejected[5] = {-50.2f, -39.9f, -61.0f, -45.5f, -52.8f};
    const float u_ref_rejected[5]    = {-49.0f, -41.1f, -58.7f, -44.0f, -53.3f};
    const float u_rejected_prompts[5 * D] = {
        0.7f, 0.2f, 0.1f, 0.1f,
        0.0f, 0.2f, 0.8f, 0.4f,
        0.9f, 0.0f, 0.0f, 0.3f,
        0.2f, 0.1f, 0.6f, 0.7f,
        0.5f, 0.5f, 0.5f, 0.5f,
    };

    printf("librpo %s: Relative Preference Optimization (arXiv 2402.10958)\n\n",
           rpo_version_string());
    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    int failed = 0;
    /* Defaults: embedding weighting, beta 0.1, tau 0.5, auto placement. */
    failed |= run(ctx, "RPO, paired, embedding-distance weights (tau 0.5)",
                  4, policy_chosen, ref_chosen, 4, policy_rejected,
                  ref_rejected, prompts, NULL);

    rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL);
    rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0);
    failed |= run(ctx, "DPO, the same pairs (diagonal weights, alpha 1)",
                  4, policy_chosen, ref_chosen, 4, policy_rejected,
                  ref_rejected, NULL, NULL);

    rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING);
    failed |= run(ctx, "RPO, unpaired: 3 chosen x 5 rejected from other prompts",
                  3, policy_chosen, ref_chosen, 5, u_policy_rejected,
                  u_ref_rejected, prompts, u_rejected_prompts);
    rpo_ctx_free(ctx);
    return failed;
}
