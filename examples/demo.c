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
 * Last, the log-probs such a run starts from: a small LM head (hidden
 * states and the output projection) through the fused linear log-probs,
 * which never hold the tokens x words logits, beside the unfused path
 * (the logits, then rpo_token_logps_*), with what the logits would cost.
 *
 * Build and run:  make demo
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

/* ------------------------------------------------------------ LM head */

enum { LM_T = 256, LM_H = 64, LM_V = 2048 };  /* tokens, hidden width, words */

/* Deterministic values in [-scale, scale). */
static void fill(float *x, size_t n, uint32_t seed, float scale)
{
    for (size_t k = 0; k < n; k++) {
        seed = seed * 1664525u + 1013904223u;
        x[k] = scale * ((float)(seed >> 8) * 0x1p-23f - 1.0f);
    }
}

static float max_diff(const float *a, const float *b, size_t n)
{
    float d = 0.0f;
    for (size_t k = 0; k < n; k++)
        d = fabsf(a[k] - b[k]) > d ? fabsf(a[k] - b[k]) : d;
    return d;
}

static double mib(double floats)
{
    return floats * sizeof(float) / (1024.0 * 1024.0);
}

/* The fused path and the unfused one on the same head: log-probs, then
 * the gradients of sum_t dlogps[t] logps[t] with respect to hidden and
 * weight. 0 when they agree. */
static int lm_head(rpo_ctx *ctx)
{
    const size_t T = LM_T, H = LM_H, V = LM_V;
    float *hidden = malloc(T * H * sizeof *hidden), *weight = malloc(V * H * sizeof *weight);
    float *logits = malloc(T * V * sizeof *logits);
    float *dh = calloc(T * H, sizeof *dh), *dw = calloc(V * H, sizeof *dw);
    float *dh2 = calloc(T * H, sizeof *dh2), *dw2 = calloc(V * H, sizeof *dw2);
    float logps[LM_T], logps2[LM_T], lse[LM_T], dlogps[LM_T];
    double lse2[LM_T];
    int32_t targets[LM_T];
    int failed = 1;
    if (!hidden || !weight || !logits || !dh || !dw || !dh2 || !dw2)
        goto out;
    fill(hidden, T * H, 1, 1.0f);
    fill(weight, V * H, 2, 0.25f);
    for (size_t t = 0; t < T; t++) {
        targets[t] = (int32_t)((t * 7919u) % V);
        dlogps[t] = -1.0f / (float)T;  /* the gradient of the mean NLL */
    }

    /* fused: hidden states and the head in, per-token log-probs out */
    if (rpo_linear_logps_f32(ctx, T, H, V, hidden, weight, H, NULL, targets, logps, lse) ||
        rpo_linear_logps_backward_f32(ctx, T, H, V, hidden, weight, H, NULL, targets, lse,
                                      dlogps, dh, dw, NULL))
        goto fail;

    /* unfused: the (T, V) logits, the token helpers, the chain rule */
    for (size_t t = 0; t < T; t++)
        for (size_t v = 0; v < V; v++) {
            float x = 0.0f;
            for (size_t k = 0; k < H; k++)
                x += hidden[t * H + k] * weight[v * H + k];
            logits[t * V + v] = x;
        }
    if (rpo_token_logps_lse_f32(ctx, T, V, V, logits, targets, logps2, lse2) ||
        rpo_token_logps_backward_lse_f32(ctx, T, V, V, logits, targets, lse2, dlogps,
                                         logits, RPO_GRAD_OVERWRITE))
        goto fail;
    for (size_t t = 0; t < T; t++)
        for (size_t v = 0; v < V; v++) {
            const float g = logits[t * V + v];  /* now dL/dlogits */
            for (size_t k = 0; k < H; k++) {
                dh2[t * H + k] += g * weight[v * H + k];
                dw2[v * H + k] += g * hidden[t * H + k];
            }
        }

    double mean = 0.0;
    for (size_t t = 0; t < T; t++)
        mean += (double)logps[t] / (double)T;
    const float tol = 1e-5f, grad_tol = 1e-7f;
    const float d_logp = max_diff(logps, logps2, T);
    const float d_grad = fmaxf(max_diff(dh, dh2, T * H), max_diff(dw, dw2, V * H));
    double chunk = 0.0;
    rpo_ctx_get(ctx, RPO_PARAM_LINEAR_CHUNK, &chunk);
    printf("LM head: %zu tokens, hidden width %zu, %zu words, float32 (rpo_linear_logps_f32)\n",
           T, H, V);
    printf("  mean log-prob %.4f; fused and unfused (logits, then rpo_token_logps_f32):\n", mean);
    if (d_logp <= tol && d_grad <= grad_tol)
        printf("  log-probs agree within %.0e, gradients of hidden and weight within %.0e\n",
               (double)tol, (double)grad_tol);
    else {
        printf("  log-probs differ by %.3g, gradients by %.3g\n", (double)d_logp,
               (double)d_grad);
        goto out;
    }
    printf("  the logits would take %.1f MiB (%.1f MiB at T = 1024, V = 50257);\n",
           mib((double)T * (double)V), mib(1024.0 * 50257.0));
    printf("  the fused path holds one chunk of at most %.0f x %.0f (%.2f MiB) at a time\n",
           chunk, chunk, mib(chunk * chunk));
    failed = 0;
    goto out;
fail:
    fprintf(stderr, "LM head: %s\n", rpo_ctx_error_detail(ctx));
out:
    free(hidden), free(weight), free(logits), free(dh), free(dw), free(dh2), free(dw2);
    return failed;
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
    failed |= lm_head(ctx);
    rpo_ctx_free(ctx);
    return failed;
}
