/*
 * experiment: does what librpo 1.3 adds for RPO's contrast matrix pay off
 * on a task where related prompts matter? Run by `make experiment`.
 *
 * The task and the policy are train_toy's (toy_task.h), with more
 * clusters than a batch has pairs (16 clusters, batches of 16 pairs): a
 * random batch then rarely holds two prompts of one cluster, so embedding
 * weights have little to choose from, while a batch of related prompts is
 * mostly one cluster, whose prompts share their preferences.
 *
 * The arms, every one from the same start with the same step size on the
 * same pool of noisy pairs, judged on the same held-out pairs:
 *   (1)  DPO: DIAGONAL weighting, alpha 1, random batches;
 *   (2)  RPO: EMBEDDING weighting (tau 0.5), the same random batches, with
 *        the logit scale that keeps beta's meaning (configure says why);
 *   (2r) as (2) with the reference implementation's logit scale;
 *   (3)  as (2) on batches of related prompts (rpo_related_batches_f32),
 *        their order reshuffled every epoch;
 *   (4)  as (3) with a target of 4 effective contrasts instead of tau
 *        (RPO_PARAM_TARGET_CONTRASTS): each row's temperature is solved so
 *        that a chosen response meets about 4 rejected ones, its own and
 *        its nearest neighbours', where tau spreads it over the whole batch
 *        of cluster-mates;
 *   (5a) as (2) with cached micro-batches: each step's batch is four of
 *        (2)'s batches, whose 64 x 64 contrast matrix is computed once from
 *        the micro-batches' log-probs, then each micro-batch is run again
 *        and back-propagated with its slice of the gradient (GradCache, as
 *        docs/c-trainer.md shows); as many steps as (2), so four times the
 *        pairs seen;
 *   (5b) as (5a) with a quarter of the steps: the same pairs seen as (2).
 * Each seed draws a new world (cluster centres, hidden reward), pool,
 * held-out set, start and batch order. Every arm runs at each of five step
 * sizes (plain gradient descent); the first table gives held-out accuracy
 * at each, mean and standard deviation over seeds, so no arm is judged at
 * a step that suits another. The second gives accuracy and reward margin at
 * the main step size, the third each feature against the arm it changes,
 * seed by seed: the seeds are shared, so the paired difference is what
 * tells a feature's effect from the spread between seeds.
 *
 * Before training, the program measures how good a label each kind of
 * contrast is: how often the true reward agrees that a chosen response
 * beats the rejected response of its own pair (the noisy label), of a
 * prompt of its cluster, or of a prompt of another cluster (what RPO's
 * off-diagonal contrasts assert).
 *
 * The program checks, half way through every seed, that the cached
 * micro-batches' loss and gradient are those of one step on the whole
 * 4x batch (to float32 rounding: the gradient's sums run in another order),
 * and exits with 1 if not, or if any number it reports is not finite.
 *
 * Usage: experiment [seeds [steps]]   (default 20 seeds of 600 steps)
 */
#include <math.h>
#include <string.h>

#include "toy_task.h"

enum {
    K = 16,          /* prompt clusters: as many as a batch has pairs   */
    TRAIN = 1024,    /* training pairs: 64 per cluster on average       */
    BATCH = 16,      /* pairs per step (a micro-batch in arm 5)         */
    GROUP = 4,       /* micro-batches per cached step                   */
    BIG = GROUP * BATCH,
    DEFAULT_SEEDS = 20,
    DEFAULT_STEPS = 600,
    MAX_SEEDS = 100
};

/* Step sizes of plain gradient descent, the same for every arm; 300 is
 * train_toy's. The loss's gradients carry beta / M, hence their size. */
static const float STEP_SIZES[] = {3.0f, 10.0f, 30.0f, 100.0f, 300.0f};
#define N_STEP_SIZES (sizeof STEP_SIZES / sizeof STEP_SIZES[0])
/* The tables of margins and differences: step 10, DPO's best and near
 * every arm's (the first table shows each arm's own). */
enum { MAIN_STEP_SIZE = 1 };

/* train_toy's temperature, untuned, and arm (4)'s target in its place:
 * a related batch is mostly one cluster, whose cosines are all high, so
 * tau spreads a row's weight over nearly all of it (the table's
 * "contrasts" column); 4 keeps the nearest few. */
static const double TAU = 0.5;
static const double TARGET_CONTRASTS = 4.0;

/* ------------------------------------------------------------ the arms */

enum arm {
    ARM_DPO, ARM_RANDOM, ARM_REFERENCE_SCALE, ARM_RELATED, ARM_TARGET, ARM_CACHED,
    ARM_CACHED_SAME_PAIRS, ARMS
};

typedef struct arm_spec {
    const char *label, *name;
    int related;        /* batches of related prompts, else random    */
    size_t group;       /* micro-batches per step (1: a plain step)   */
    size_t step_share;  /* takes steps / step_share steps              */
} arm_spec;

static const arm_spec arms[ARMS] = {
    [ARM_DPO] = {"(1)", "DPO (diagonal, alpha 1)", 0, 1, 1},
    [ARM_RANDOM] = {"(2)", "RPO embedding, random batches", 0, 1, 1},
    [ARM_REFERENCE_SCALE] = {"(2r)", "(2), the reference's logit scale", 0, 1, 1},
    [ARM_RELATED] = {"(3)", "RPO embedding, related batches", 1, 1, 1},
    [ARM_TARGET] = {"(4)", "(3), target of 4 contrasts", 1, 1, 1},
    [ARM_CACHED] = {"(5a)", "RPO, 4x batch cached, same steps", 0, GROUP, 1},
    [ARM_CACHED_SAME_PAIRS] = {"(5b)", "RPO, 4x batch cached, same pairs", 0, GROUP, GROUP},
};

/* The features, each against the arm it changes. */
typedef struct comparison { enum arm feature, baseline; const char *what; } comparison;

static const comparison comparisons[] = {
    {ARM_RANDOM, ARM_DPO, "embedding weights instead of DPO"},
    {ARM_REFERENCE_SCALE, ARM_DPO, "the same, the reference's scale"},
    {ARM_RELATED, ARM_RANDOM, "related batches instead of random"},
    {ARM_TARGET, ARM_RELATED, "target of 4 contrasts, not tau"},
    {ARM_CACHED, ARM_RANDOM, "4x batch, cached, same steps"},
    {ARM_CACHED_SAME_PAIRS, ARM_RANDOM, "4x batch, cached, same pairs"},
};
#define COMPARISONS (sizeof comparisons / sizeof comparisons[0])

static void configure(rpo_ctx *ctx, enum arm a)
{
    CHECK(rpo_ctx_set(ctx, RPO_PARAM_BETA, BETA));
    if (a == ARM_DPO) {
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL));
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 1.0));
        return;
    }
    CHECK(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_EMBEDDING));
    CHECK(rpo_ctx_set(ctx, RPO_PARAM_TAU, TAU));
    if (a == ARM_TARGET)
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, TARGET_CONTRASTS));
    /* The reference's logit placement with rows of W summing to 1 divides
     * beta by about N (docs/extensions.md, section 2): at one step size, RPO
     * takes smaller steps than DPO, and the 4x batch smaller again. Rows of
     * N W averaging 1 keep beta's meaning for every N, so the arms differ
     * in what they contrast, not in their scale. (2r) shows the other. */
    if (a != ARM_REFERENCE_SCALE)
        CHECK(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, RPO_LOGIT_SCALE_ROW_MEAN));
}

/* ------------------------------------------------------------ batches */

/* Batches served epoch by epoch, as a DataLoader serves them. Random: a
 * fresh permutation of the pool every epoch. Related: the fixed batches of
 * rpo_related_batches, in a fresh order every epoch (their contents stay:
 * they are what makes them related), as rpo.torch.RelatedPromptSampler
 * does. A step of g micro-batches takes the next g batches. */
typedef struct batch_stream {
    const size_t *related;  /* (TRAIN): the related order, or NULL */
    size_t order[TRAIN];    /* this epoch's order                  */
    size_t next;            /* first pair not yet served           */
    rng r;
} batch_stream;

static void shuffle(rng *r, size_t *x, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = rng_below(r, i), t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

static void new_epoch(batch_stream *s)
{
    if (s->related == NULL) {
        for (size_t i = 0; i < TRAIN; i++)
            s->order[i] = i;
        shuffle(&s->r, s->order, TRAIN);
    } else {
        size_t batch_order[TRAIN / BATCH];
        for (size_t k = 0; k < TRAIN / BATCH; k++)
            batch_order[k] = k;
        shuffle(&s->r, batch_order, TRAIN / BATCH);
        for (size_t k = 0; k < TRAIN / BATCH; k++)
            memcpy(s->order + k * BATCH, s->related + batch_order[k] * BATCH,
                   BATCH * sizeof *s->order);
    }
    s->next = 0;
}

/* The next count (a multiple of BATCH dividing TRAIN) pairs' indices. */
static const size_t *next_pairs(batch_stream *s, size_t count)
{
    if (s->next + count > TRAIN)
        new_epoch(s);
    const size_t *pairs = s->order + s->next;
    s->next += count;
    return pairs;
}

/* How related a partition into batches is: the share of pairs of prompts
 * within a batch that come from one cluster (1 / K for random batches on
 * average, 1 when every batch is one cluster). */
static double same_cluster_share(const example *pool, const size_t *order)
{
    size_t same = 0, pairs = 0;
    for (size_t k = 0; k < TRAIN; k += BATCH)
        for (size_t i = k; i < k + BATCH; i++)
            for (size_t j = i + 1; j < k + BATCH; j++, pairs++)
                same += pool[order[i]].cluster == pool[order[j]].cluster;
    return (double)same / (double)pairs;
}

/* ------------------------------------------------------------ one step */

/* Everything one seed's arms share. */
typedef struct setup {
    const example *pool;        /* (TRAIN) noisy pairs                    */
    float embeddings[TRAIN * D];/* the pool's prompt features, row by row */
    float ref_chosen[TRAIN], ref_rejected[TRAIN]; /* under the reference  */
    const held_out *h;
    policy start;               /* also the reference model               */
} setup;

/* The reference model is frozen: its log-probs of the pool, once per
 * dataset, as a trainer would store them beside the data. */
static void reference_logps(rpo_ctx *ctx, setup *su, buffers *b)
{
    static float logps[2 * MAX_SEQS];   /* one chunk: chosen, rejected */
    for (size_t at = 0; at < TRAIN; at += MAX_SEQS) {
        const size_t count = TRAIN - at < MAX_SEQS ? TRAIN - at : MAX_SEQS;
        pair_logps(ctx, &su->start, su->pool + at, count, b, logps);
        memcpy(su->ref_chosen + at, logps, count * sizeof(float));
        memcpy(su->ref_rejected + at, logps + count, count * sizeof(float));
    }
}

/* Loads count pairs (chosen sides, then rejected sides) into b with their
 * reference log-probs, and their prompts' embeddings into emb (count, D). */
static void load_pairs(const setup *su, const size_t *pairs, size_t count,
                       buffers *b, float *emb)
{
    load_side(b, su->pool, pairs, count, 0, 1);
    load_side(b, su->pool, pairs, count, count, 0);
    for (size_t i = 0; i < count; i++) {
        b->ref_logps[i] = su->ref_chosen[pairs[i]];
        b->ref_logps[count + i] = su->ref_rejected[pairs[i]];
        memcpy(emb + i * D, su->embeddings + pairs[i] * D, D * sizeof *emb);
    }
}

/* The gradient of one plain step on count pairs (added into grad): the
 * whole batch's logits in memory at once. */
static float plain_gradient(rpo_ctx *ctx, const setup *su, const policy *p,
                            const size_t *pairs, size_t count, int embedding,
                            buffers *b, policy *grad)
{
    float emb[MAX_SEQS / 2 * D];
    load_pairs(su, pairs, count, b, emb);
    return loss_gradient(ctx, p, b, count, count, embedding ? emb : NULL,
                         NULL, grad);
}

/* The same gradient on GROUP * BATCH pairs, holding one micro-batch's
 * logits at a time (GradCache; docs/c-trainer.md):
 *   1. each micro-batch's forward, keeping one log-prob per sequence;
 *   2. one loss over the whole BIG x BIG contrast matrix;
 *   3. each micro-batch's forward again, and its backward from its slice
 *      of dL/dlogp.
 * A model with dropout would save its random state before a micro-batch's
 * first forward and restore it before the second; this one has none. */
static float cached_gradient(rpo_ctx *ctx, const setup *su, const policy *p,
                             const size_t *pairs, buffers *b, policy *grad)
{
    float chosen[BIG], rejected[BIG], chosen_ref[BIG], rejected_ref[BIG];
    float dchosen[BIG], drejected[BIG], emb[BIG * D], dseq[2 * BATCH], loss;
    for (size_t g = 0; g < GROUP; g++) {                     /* 1 */
        const size_t at = g * BATCH;
        load_pairs(su, pairs + at, BATCH, b, emb + at * D);
        sequence_logps(ctx, p, 2 * BATCH, b, b->seq_logps);
        memcpy(chosen + at, b->seq_logps, BATCH * sizeof(float));
        memcpy(rejected + at, b->seq_logps + BATCH, BATCH * sizeof(float));
        memcpy(chosen_ref + at, b->ref_logps, BATCH * sizeof(float));
        memcpy(rejected_ref + at, b->ref_logps + BATCH, BATCH * sizeof(float));
    }
    CHECK(rpo_loss_f32(ctx, BIG, chosen, chosen_ref, BIG, rejected,   /* 2 */
                       rejected_ref, D, emb, NULL, &loss, dchosen, drejected));
    for (size_t g = 0; g < GROUP; g++) {                     /* 3 */
        const size_t at = g * BATCH;
        load_side(b, su->pool, pairs + at, BATCH, 0, 1);
        load_side(b, su->pool, pairs + at, BATCH, BATCH, 0);
        sequence_logps(ctx, p, 2 * BATCH, b, b->seq_logps);
        memcpy(dseq, dchosen + at, BATCH * sizeof(float));
        memcpy(dseq + BATCH, drejected + at, BATCH * sizeof(float));
        sequence_backward(ctx, 2 * BATCH, b, dseq, grad);
    }
    return loss;
}

/* The largest difference between the cached gradient and one plain step's
 * on the same pairs, relative to the largest gradient; exits when the
 * losses differ (same log-probs, same call: they must not). */
static double cached_vs_plain(rpo_ctx *ctx, const setup *su, const policy *p,
                              const size_t *pairs, buffers *b)
{
    static policy cached, plain;
    memset(&cached, 0, sizeof cached);
    memset(&plain, 0, sizeof plain);
    const float cached_loss = cached_gradient(ctx, su, p, pairs, b, &cached);
    const float plain_loss = plain_gradient(ctx, su, p, pairs, BIG, 1, b, &plain);
    if (!(cached_loss == plain_loss)) {
        fprintf(stderr, "experiment: cached loss %.9g, one step's %.9g\n",
                (double)cached_loss, (double)plain_loss);
        exit(1);
    }
    const float *c = (const float *)&cached, *q = (const float *)&plain;
    double largest = 0.0, diff = 0.0;
    for (size_t k = 0; k < N_PARAMS; k++) {
        largest = fmax(largest, fabs((double)q[k]));
        diff = fmax(diff, fabs((double)c[k] - (double)q[k]));
    }
    return diff / largest;
}

/* ------------------------------------------------------------ a run */

/* Held-out accuracy and margin at the end; the weights' effective
 * contrasts (exp of a row's entropy) and diagonal weight, means over the
 * steps' loss calls. */
typedef struct outcome { double accuracy, margin, contrasts, diagonal; } outcome;

/* The float32 gradient sums of 2 * BIG sequences, in another order: a few
 * units in the last place of the largest entry, far below this. */
static const double CACHED_TOLERANCE = 1e-5;

static outcome train(enum arm a, float step_size, const setup *su,
                     const size_t *related, uint64_t seed, int steps, buffers *b,
                     double *cached_error)
{
    const arm_spec *spec = &arms[a];
    rpo_ctx *ctx = rpo_ctx_create(), *eval = evaluation_context();
    if (ctx == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    configure(ctx, a);
    batch_stream stream;
    stream.related = spec->related ? related : NULL;
    stream.r.state = seed ^ 0xBA7C4E5ull;   /* same stream for every arm */
    new_epoch(&stream);

    policy p = su->start;
    double contrasts = 0.0, diagonal = 0.0;
    const int arm_steps = steps / (int)spec->step_share;
    for (int step = 0; step < arm_steps; step++) {
        const size_t *pairs = next_pairs(&stream, spec->group * BATCH);
        policy grad;
        memset(&grad, 0, sizeof grad);
        if (spec->group == 1) {
            plain_gradient(ctx, su, &p, pairs, BATCH, a != ARM_DPO, b, &grad);
        } else {
            /* the check, half way: at step 0 the policy is the reference,
             * every log-ratio is 0 and the check would see little */
            if (step == arm_steps / 2) {
                const double e = cached_vs_plain(ctx, su, &p, pairs, b);
                if (!(e <= CACHED_TOLERANCE)) {
                    fprintf(stderr, "experiment: the cached gradient differs "
                            "from one step's by %.3g of its largest entry\n", e);
                    exit(1);
                }
                *cached_error = fmax(*cached_error, e);
            }
            cached_gradient(ctx, su, &p, pairs, b, &grad);
        }
        sgd_update(&p, &grad, step_size);
        /* the stats of the step's loss call (the last on ctx) */
        double value;
        CHECK(rpo_ctx_stat(ctx, RPO_STAT_EFFECTIVE_CONTRASTS, &value));
        contrasts += value;
        CHECK(rpo_ctx_stat(ctx, RPO_STAT_DIAGONAL_WEIGHT, &value));
        diagonal += value;
    }
    outcome o;
    o.contrasts = contrasts / arm_steps;
    o.diagonal = diagonal / arm_steps;
    evaluate(eval, ctx, &p, su->h, b, &o.accuracy, &o.margin);
    rpo_ctx_free(ctx);
    rpo_ctx_free(eval);
    return o;
}

/* ------------------------------------------------------------ statistics */

typedef struct spread { double mean, sd; } spread;

/* Mean and sample standard deviation of x[0 .. n-1] (sd 0 when n == 1). */
static spread mean_sd(const double *x, size_t n)
{
    double sum = 0.0, squares = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    const double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        squares += (x[i] - mean) * (x[i] - mean);
    spread s = {mean, n > 1 ? sqrt(squares / (double)(n - 1)) : 0.0};
    return s;
}

static int all_finite = 1;

static void print_spread(const char *format, spread s)
{
    all_finite &= isfinite(s.mean) && isfinite(s.sd);
    printf(format, s.mean, s.sd);
}

/* ------------------------------------------------------------ labels */

/* How often the true reward agrees with what a contrast asserts, that
 * chosen response i (to its prompt) beats rejected response j (to its
 * own): for j = i (the training label, right as often as Bradley-Terry's
 * noise allows), for j another prompt of i's cluster, for j a prompt of
 * another cluster. A contrast is a label; RPO adds the last two kinds. */
typedef struct label_agreement { double own, cluster, other; } label_agreement;

static label_agreement agreement(const world *w, const example *pool)
{
    static double chosen[TRAIN], rejected[TRAIN];
    for (size_t i = 0; i < TRAIN; i++) {
        chosen[i] = true_reward(w, pool[i].x, &pool[i].chosen);
        rejected[i] = true_reward(w, pool[i].x, &pool[i].rejected);
    }
    size_t agree[3] = {0, 0, 0}, count[3] = {0, 0, 0};
    for (size_t i = 0; i < TRAIN; i++)
        for (size_t j = 0; j < TRAIN; j++) {
            const size_t kind = i == j ? 0 : pool[i].cluster == pool[j].cluster ? 1 : 2;
            agree[kind] += chosen[i] > rejected[j];
            count[kind]++;
        }
    label_agreement g = {(double)agree[0] / (double)count[0],
                         (double)agree[1] / (double)count[1],
                         (double)agree[2] / (double)count[2]};
    return g;
}

/* ------------------------------------------------------------ main */

static int parse_count(const char *text, int low, int high, const char *what)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < low || v > high) {
        fprintf(stderr, "experiment: %s must be a whole number in [%d, %d], "
                "not '%s'\n", what, low, high, text);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    if (argc > 3) {
        fprintf(stderr, "usage: experiment [seeds [steps]]\n");
        return 2;
    }
    const int seeds = argc > 1 ? parse_count(argv[1], 2, MAX_SEEDS, "seeds") : DEFAULT_SEEDS;
    const int steps = argc > 2 ? parse_count(argv[2], GROUP, 1000000, "steps") : DEFAULT_STEPS;
    const size_t n = (size_t)seeds;

    static world w;
    static example pool[TRAIN], tests[HELD_OUT];
    static held_out h;
    static setup su;
    static buffers b;
    static size_t related[TRAIN], identity[TRAIN];
    static double accuracy[N_STEP_SIZES][ARMS][MAX_SEEDS], margin[N_STEP_SIZES][ARMS][MAX_SEEDS];
    static double contrasts[N_STEP_SIZES][ARMS][MAX_SEEDS], diagonal[N_STEP_SIZES][ARMS][MAX_SEEDS];
    static double share_random[MAX_SEEDS], share_related[MAX_SEEDS];
    static double own[MAX_SEEDS], mate[MAX_SEEDS], other[MAX_SEEDS];
    double cached_error = 0.0;

    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL)
        return 1;
    for (int s = 0; s < seeds; s++) {
        const uint64_t seed = 1000 + (uint64_t)s;
        rng r = {seed};
        make_world(&r, &w, K);
        for (size_t i = 0; i < TRAIN; i++)
            pool[i] = make_example(&r, &w, 1);
        for (size_t i = 0; i < HELD_OUT; i++)
            tests[i] = make_example(&r, &w, 0);
        random_policy(&r, &su.start);
        su.pool = pool;
        for (size_t i = 0; i < TRAIN; i++)
            memcpy(su.embeddings + i * D, pool[i].x, sizeof pool[i].x);
        h.pairs = tests;
        pair_logps(ctx, &su.start, tests, HELD_OUT, &b, h.ref_logps);
        su.h = &h;
        reference_logps(ctx, &su, &b);

        /* the pool's batches of related prompts, once: they depend on the
         * prompts alone, not on the model */
        CHECK(rpo_related_batches_f32(ctx, TRAIN, D, su.embeddings, BATCH,
                                      seed, related));
        /* the pool in its stored order is random: draws are independent */
        for (size_t i = 0; i < TRAIN; i++)
            identity[i] = i;
        share_random[s] = same_cluster_share(pool, identity);
        share_related[s] = same_cluster_share(pool, related);
        const label_agreement g = agreement(&w, pool);
        own[s] = g.own;
        mate[s] = g.cluster;
        other[s] = g.other;

        for (size_t k = 0; k < N_STEP_SIZES; k++)
            for (int a = 0; a < ARMS; a++) {
                outcome o = train((enum arm)a, STEP_SIZES[k], &su, related, seed,
                                  steps, &b, &cached_error);
                accuracy[k][a][s] = o.accuracy;
                margin[k][a][s] = o.margin;
                contrasts[k][a][s] = o.contrasts;
                diagonal[k][a][s] = o.diagonal;
            }
    }
    rpo_ctx_free(ctx);

    printf("experiment: %d seeds; each seed a new world of %d prompt clusters "
           "(preferences shared within a cluster), %d noisy training pairs, "
           "%d held-out pairs, start and batch order\n", seeds, K, TRAIN, HELD_OUT);
    printf("every arm: the same data and start, beta %.1f, tau %.1f, plain "
           "gradient descent; %d steps of %d pairs, except (5a) %d steps of %d "
           "and (5b) %d steps of %d\n", BETA, TAU, steps, BATCH, steps, BIG,
           steps / GROUP, BIG);
    printf("pairs of prompts within a batch from one cluster: random batches "
           "%.3f, related batches %.3f\n", mean_sd(share_random, n).mean,
           mean_sd(share_related, n).mean);
    printf("a chosen response truly beats the rejected response of its own "
           "pair %.3f, of its cluster %.3f, of another cluster %.3f\n",
           mean_sd(own, n).mean, mean_sd(mate, n).mean, mean_sd(other, n).mean);
    printf("cached micro-batches: loss equal to one %d-pair step's, gradient "
           "within %.1e of its largest entry, in every seed and step size\n\n",
           BIG, cached_error);

    printf("held-out preference accuracy by step size, mean (sd) over seeds\n");
    printf("%-4s %-34s", "arm", "");
    for (size_t k = 0; k < N_STEP_SIZES; k++) {
        char title[16];
        snprintf(title, sizeof title, "step %.0f", (double)STEP_SIZES[k]);
        printf("  %-13s", title);
    }
    printf("\n");
    for (int a = 0; a < ARMS; a++) {
        printf("%-4s %-34s", arms[a].label, arms[a].name);
        for (size_t k = 0; k < N_STEP_SIZES; k++)
            print_spread("  %.3f (%.3f)", mean_sd(accuracy[k][a], n));
        printf("\n");
    }

    const size_t m = MAIN_STEP_SIZE;
    printf("\nat step size %.0f: held-out accuracy and reward margin, mean +- sd "
           "over seeds; the weights' effective contrasts and diagonal weight, "
           "means over steps and seeds\n", (double)STEP_SIZES[m]);
    printf("%-4s %-34s %-17s %-17s %-10s %s\n", "arm", "", "accuracy", "margin",
           "contrasts", "diagonal");
    for (int a = 0; a < ARMS; a++) {
        printf("%-4s %-34s ", arms[a].label, arms[a].name);
        print_spread("%.3f +- %.3f    ", mean_sd(accuracy[m][a], n));
        print_spread("%+.3f +- %.3f   ", mean_sd(margin[m][a], n));
        const spread c = mean_sd(contrasts[m][a], n), g = mean_sd(diagonal[m][a], n);
        all_finite &= isfinite(c.mean) && isfinite(g.mean);
        printf("%6.2f     %5.3f\n", c.mean, g.mean);
    }

    printf("\nat step size %.0f: paired differences over the same seeds, "
           "mean +- sd\n", (double)STEP_SIZES[m]);
    printf("%-11s %-34s %-17s %s\n", "arms", "feature", "accuracy", "margin");
    for (size_t c = 0; c < COMPARISONS; c++) {
        const comparison *k = &comparisons[c];
        double da[MAX_SEEDS], dm[MAX_SEEDS];
        for (int s = 0; s < seeds; s++) {
            da[s] = accuracy[m][k->feature][s] - accuracy[m][k->baseline][s];
            dm[s] = margin[m][k->feature][s] - margin[m][k->baseline][s];
        }
        char arms_label[16];
        snprintf(arms_label, sizeof arms_label, "%s-%s", arms[k->feature].label,
                 arms[k->baseline].label);
        printf("%-11s %-34s ", arms_label, k->what);
        print_spread("%+.3f +- %.3f   ", mean_sd(da, n));
        print_spread("%+.3f +- %.3f\n", mean_sd(dm, n));
    }
    if (!all_finite) {
        fprintf(stderr, "experiment: a number above is not finite\n");
        return 1;
    }
    return 0;
}
