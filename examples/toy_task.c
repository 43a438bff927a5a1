/*
 * toy_task: the task, the policy and the training pieces shared by
 * examples/train_toy.c and examples/experiment.c (toy_task.h says what
 * each is).
 */
#include "toy_task.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ random */

uint64_t rng_next(rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

double rng_normal(rng *r)
{
    double u = rng_uniform(r) + 0x1p-54, v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

size_t rng_below(rng *r, size_t n)
{
    return (size_t)(rng_next(r) % n);
}

/* ------------------------------------------------------------ data */

void make_world(rng *r, world *w, size_t clusters)
{
    if (clusters == 0 || clusters > MAX_CLUSTERS) {
        fprintf(stderr, "make_world: %zu clusters, want 1 to %d\n", clusters,
                MAX_CLUSTERS);
        exit(1);
    }
    w->clusters = clusters;
    for (size_t k = 0; k < clusters; k++)
        for (size_t d = 0; d < D; d++)
            w->centre[k][d] = (float)(2.0 * rng_normal(r));
    for (size_t v = 0; v < V; v++)
        for (size_t d = 0; d < D; d++)
            w->theta[v][d] = (float)(0.5 * rng_normal(r));
}

double true_reward(const world *w, const float *x, const response *y)
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

example make_example(rng *r, const world *w, int noisy)
{
    example e;
    e.cluster = rng_below(r, w->clusters);
    for (size_t d = 0; d < D; d++)
        e.x[d] = w->centre[e.cluster][d] + (float)(0.7 * rng_normal(r));
    response a = random_response(r), b = random_response(r);
    double margin = true_reward(w, e.x, &a) - true_reward(w, e.x, &b);
    int a_wins = noisy ? rng_uniform(r) < 1.0 / (1.0 + exp(-margin)) : margin > 0.0;
    e.chosen = a_wins ? a : b;
    e.rejected = a_wins ? b : a;
    return e;
}

/* ------------------------------------------------------------ the policy */

void random_policy(rng *r, policy *p)
{
    float *w = (float *)p;
    for (size_t k = 0; k < N_PARAMS; k++)
        w[k] = (float)(0.1 * rng_normal(r));
}

void sgd_update(policy *p, const policy *grad, float learning_rate)
{
    float *w = (float *)p;
    const float *g = (const float *)grad;
    for (size_t k = 0; k < N_PARAMS; k++)
        w[k] -= learning_rate * g[k];
}

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

/* Adds the gradient of the weights from dlogits (n * L, V) into grad. */
static void backward_logits(policy *grad, size_t n, const float *const *prompts,
                            const float *dlogits)
{
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

void load_side(buffers *b, const example *pool, const size_t *index,
               size_t count, size_t offset, int chosen)
{
    for (size_t i = 0; i < count; i++) {
        const example *e = &pool[index != NULL ? index[i] : i];
        b->prompts[offset + i] = e->x;
        b->ys[offset + i] = chosen ? &e->chosen : &e->rejected;
    }
}

void sequence_logps(rpo_ctx *ctx, const policy *p, size_t n, buffers *b,
                    float *out)
{
    forward_logits(p, n, b->prompts, b->ys, b->logits, b->targets);
    for (size_t k = 0; k < n * L; k++)
        b->mask[k] = b->targets[k] >= 0;
    CHECK(rpo_token_logps_f32(ctx, n * L, V, V, b->logits, b->targets,
                              b->token_logps));
    CHECK(rpo_seq_logps_f32(n, L, b->token_logps, b->mask, RPO_SEQ_MEAN, out));
}

void sequence_backward(rpo_ctx *ctx, size_t n, buffers *b, const float *dseq,
                       policy *grad)
{
    CHECK(rpo_seq_logps_backward_f32(n, L, b->mask, RPO_SEQ_MEAN, dseq, b->dtoken));
    memset(b->dlogits, 0, n * L * V * sizeof *b->dlogits);
    CHECK(rpo_token_logps_backward_f32(ctx, n * L, V, V, b->logits, b->targets,
                                       b->dtoken, b->dlogits));
    backward_logits(grad, n, b->prompts, b->dlogits);
}

float loss_gradient(rpo_ctx *ctx, const policy *p, buffers *b, size_t m,
                    size_t n_rej, const float *chosen_emb,
                    const float *rejected_emb, policy *grad)
{
    const size_t n = m + n_rej;
    float loss;
    sequence_logps(ctx, p, n, b, b->seq_logps);
    CHECK(rpo_loss_f32(ctx, m, b->seq_logps, b->ref_logps,
                       n_rej, b->seq_logps + m, b->ref_logps + m,
                       D, chosen_emb, rejected_emb,
                       &loss, b->dseq, b->dseq + m));
    sequence_backward(ctx, n, b, b->dseq, grad);
    return loss;
}

/* ------------------------------------------------------------ evaluation */

void pair_logps(rpo_ctx *ctx, const policy *p, const example *pairs,
                size_t count, buffers *b, float *out)
{
    load_side(b, pairs, NULL, count, 0, 1);
    sequence_logps(ctx, p, count, b, out);
    load_side(b, pairs, NULL, count, 0, 0);
    sequence_logps(ctx, p, count, b, out + count);
}

rpo_ctx *evaluation_context(void)
{
    rpo_ctx *eval = rpo_ctx_create();
    if (eval == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    CHECK(rpo_ctx_set(eval, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL));
    CHECK(rpo_ctx_set(eval, RPO_PARAM_ALPHA, 1.0));
    CHECK(rpo_ctx_set(eval, RPO_PARAM_BETA, BETA));
    return eval;
}

void evaluate(rpo_ctx *eval, rpo_ctx *ctx, const policy *p, const held_out *h,
              buffers *b, double *accuracy, double *margin)
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
