/*
 * Batches of related prompts: a balanced bisection tree in cosine space
 * (batching.h).
 *
 * A node holds a run of the working permutation, `count` prompts, nb =
 * ceil(count / B) batches. Unless it fits in one batch it is split into a
 * left child of whole batches and a right child of the rest, so only the
 * rightmost leaf can be a short batch and every leaf starts at a multiple
 * of B. The split is 2-means on the unit sphere: with centroids c_l, c_r,
 * every prompt x is ranked by
 * cos(x, c_l) - cos(x, c_r) = x^ . (c_l / |c_l| - c_r / |c_r|), the ranking
 * is cut at the multiple of B (between a third and two thirds of the
 * node) that maximises |sum left x^| + |sum right x^| (the spherical
 * 2-means objective, so the cut seeks a gap between clusters), and the
 * centroids become the sums of each side.
 *
 * Cost: the tree is at most log_{3/2}(P / B) + 1 levels deep, and a level
 * reads every prompt at most 1 + 5/3 ROUNDS times: O(P D log(P / B)) time.
 * Memory is O(P) beside the caller's (P, D): the normalised rows are never
 * stored, only each row's scale.
 *
 * Threads: the nodes of a level are independent and each is split by one
 * worker alone, in the same order of operations whoever does it, so the
 * permutation is the same for any RPO_PARAM_THREADS.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batching.h"
#include "config.h"
#include "embed.h"
#include "threads.h"

typedef struct node_span {
    size_t start, count;   /* positions start .. start + count - 1      */
    size_t left;           /* after its split: the left child's count   */
} node_span;

typedef struct scored {
    double score;
    size_t item;
} scored;

typedef struct tree_job {
    rpo_in emb;            /* (P, D), the caller's                       */
    size_t d, batch;
    uint64_t seed;
    const double *scale;   /* (P) x^ = x * scale[i]                      */
    size_t *order;         /* (P) the working permutation                */
    scored *keys;          /* (P) scores of each node's positions        */
    unsigned char *on_left;/* (P) by prompt: its side in the last round  */
    node_span *nodes;
    double *vectors;       /* (workers, 5, D) c_l, c_r, direction, node
                              sum, running sum                           */
} tree_job;

/* splitmix64: a full-period mixer, so nearby seeds give unrelated draws. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15u;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9u;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBu;
    return x ^ (x >> 31);
}

/* x^ . u for row `row`, in double, four partial sums in a fixed order. */
static double unit_dot(rpo_in emb, size_t row, size_t d, double scale,
                       const double *u)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t k = 0;
    if (emb.type == RPO_F32) {
        const float *x = (const float *)emb.data + row * d;
        for (; k + 4 <= d; k += 4) {
            s0 += (double)x[k] * u[k];
            s1 += (double)x[k + 1] * u[k + 1];
            s2 += (double)x[k + 2] * u[k + 2];
            s3 += (double)x[k + 3] * u[k + 3];
        }
        for (; k < d; k++)
            s0 += (double)x[k] * u[k];
    } else {
        const double *x = (const double *)emb.data + row * d;
        for (; k + 4 <= d; k += 4) {
            s0 += x[k] * scale * u[k];
            s1 += x[k + 1] * scale * u[k + 1];
            s2 += x[k + 2] * scale * u[k + 2];
            s3 += x[k + 3] * scale * u[k + 3];
        }
        for (; k < d; k++)
            s0 += x[k] * scale * u[k];
        /* Scaled per entry: a float64 row may be too long to square. */
        return (s0 + s1) + (s2 + s3);
    }
    /* A float32 entry times |u| <= 2 cannot overflow a double sum. */
    return ((s0 + s1) + (s2 + s3)) * scale;
}

/* acc += x^ for row `row`. */
static void add_unit_row(rpo_in emb, size_t row, size_t d, double scale,
                         double *acc)
{
    if (emb.type == RPO_F32) {
        const float *x = (const float *)emb.data + row * d;
        for (size_t k = 0; k < d; k++)
            acc[k] += (double)x[k] * scale;
    } else {
        const double *x = (const double *)emb.data + row * d;
        for (size_t k = 0; k < d; k++)
            acc[k] += x[k] * scale;
    }
}

/* u = a / |a| - b / |b|, a zero vector standing for itself. */
static void split_direction(const double *a, const double *b, size_t d,
                            double *u)
{
    double na = 0.0, nb = 0.0;
    for (size_t k = 0; k < d; k++) {
        na += a[k] * a[k];
        nb += b[k] * b[k];
    }
    /* Means of unit vectors: |a|, |b| <= 1, so the squares cannot overflow. */
    const double ia = na > 0.0 ? 1.0 / sqrt(na) : 0.0;
    const double ib = nb > 0.0 ? 1.0 / sqrt(nb) : 0.0;
    for (size_t k = 0; k < d; k++)
        u[k] = a[k] * ia - b[k] * ib;
}

/* Higher score first; the item breaks ties, so the order is total and the
 * sort's result does not depend on the sort's algorithm. */
static int by_score(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->item > b->item) - (a->item < b->item);
}

/* |a| + |total - a|: the spherical 2-means objective of a split whose left
 * side sums to a (the sum of each side's cosines to its mean direction). */
static double split_objective(const double *a, const double *total, size_t d)
{
    double aa = 0.0, rr = 0.0;
    for (size_t k = 0; k < d; k++) {
        const double r = total[k] - a[k];
        aa += a[k] * a[k];
        rr += r * r;
    }
    return sqrt(aa) + sqrt(rr);
}

/* Splits one node of the working permutation in place and records its
 * cut (see the top). */
static void split_node(const tree_job *job, unsigned worker, size_t node)
{
    const size_t d = job->d, b = job->batch, start = job->nodes[node].start;
    const size_t count = job->nodes[node].count;
    /* The left side takes between a third and two thirds of the node's
     * batches (at least one each side; the right keeps any short batch):
     * the tree stays O(log(P / B)) deep, and the cut can fall in a gap
     * between clusters instead of through one. */
    const size_t batches = count / b + (count % b != 0);
    const size_t fewest = batches / 3 > 0 ? batches / 3 : 1;
    const size_t most = batches - fewest;
    size_t *order = job->order + start;
    scored *keys = job->keys + start;
    double *cl = job->vectors + (size_t)worker * 5 * d;
    double *cr = cl + d, *u = cr + d, *total = u + d, *run = total + d;

    /* Seeds: a prompt drawn from the node's own stream (the seed and the
     * node's place, not the order nodes are run in), and the prompt least
     * similar to it. The same pass sums the node's unit rows, so that a
     * side's sum is the other's complement. */
    const uint64_t draw = mix64(job->seed ^ mix64((uint64_t)start));
    const size_t first = order[draw % count];
    memset(cl, 0, d * sizeof *cl);
    add_unit_row(job->emb, first, d, job->scale[first], cl);
    size_t far = first;
    double lowest = 2.0;
    memset(total, 0, d * sizeof *total);
    for (size_t k = 0; k < count; k++) {
        const double c = unit_dot(job->emb, order[k], d, job->scale[order[k]], cl);
        add_unit_row(job->emb, order[k], d, job->scale[order[k]], total);
        if (c < lowest) {
            lowest = c;
            far = order[k];
        }
    }
    memset(cr, 0, d * sizeof *cr);
    add_unit_row(job->emb, far, d, job->scale[far], cr);

    size_t cut = fewest * b;
    for (int round = 0; round < RPO_BATCH_SPLIT_ROUNDS; round++) {
        split_direction(cl, cr, d, u);
        for (size_t k = 0; k < count; k++) {
            keys[k].item = order[k];
            keys[k].score = unit_dot(job->emb, order[k], d,
                                     job->scale[order[k]], u);
        }
        qsort(keys, count, sizeof *keys, by_score);
        /* The best cut of this ranking; cl becomes its left side's sum. */
        double best = -1.0;
        memset(run, 0, d * sizeof *run);
        for (size_t k = 0; k < most * b; k++) {
            order[k] = keys[k].item;
            add_unit_row(job->emb, order[k], d, job->scale[order[k]], run);
            if ((k + 1) % b == 0 && k + 1 >= fewest * b) {
                const double value = split_objective(run, total, d);
                if (value > best) {
                    best = value;
                    cut = k + 1;
                    memcpy(cl, run, d * sizeof *cl);
                }
            }
        }
        for (size_t k = 0; k < d; k++)
            cr[k] = total[k] - cl[k];
        size_t moved = 0;
        for (size_t k = 0; k < count; k++) {
            order[k] = keys[k].item;
            const unsigned char now_left = k < cut;
            moved += round == 0 || job->on_left[order[k]] != now_left;
            job->on_left[order[k]] = now_left;
        }
        /* Rounds cost a pass over the node each; once few prompts change
         * sides the split is as good as it gets. */
        if (moved <= count / RPO_BATCH_SETTLED)
            break;
    }
    job->nodes[node].left = cut;
}

static void split_node_compute(void *arg, unsigned worker, size_t node)
{
    split_node(arg, worker, node);
}

/* The children of `nodes` that hold more than one batch, in order. */
static size_t next_level(const node_span *nodes, size_t count, size_t batch,
                         node_span *children)
{
    size_t made = 0;
    for (size_t k = 0; k < count; k++) {
        const size_t left = nodes[k].left;
        const node_span l = {nodes[k].start, left, 0};
        const node_span r = {nodes[k].start + left, nodes[k].count - left, 0};
        if (l.count > batch)
            children[made++] = l;
        if (r.count > batch)
            children[made++] = r;
    }
    return made;
}

/* The row of the first non-finite entry (there is one). */
static size_t first_nonfinite_row(rpo_in emb, size_t p, size_t d)
{
    size_t row = 0;
    while (row + 1 < p && rpo_in_all_finite(emb, row * d, d))
        row++;
    return row;
}

int rpo_related_batches(rpo_ctx *ctx, size_t p, size_t d, rpo_in emb,
                        size_t batch, uint64_t seed, size_t *order)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    rpo_detail_clear(ctx);
    if (emb.data == NULL || order == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "related batches need embeddings and order (%s is NULL)",
                        emb.data == NULL ? "embeddings" : "order");
    if (p == 0 || d == 0)
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "related batches need p > 0 prompts of d > 0 "
                        "(p = %zu, d = %zu)", p, d);
    if (batch == 0 || batch > p)
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "batch_size must be in [1, p] (batch_size = %zu, "
                        "p = %zu)", batch, p);
    if (p > SIZE_MAX / d)
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "p * d overflows size_t (p = %zu, d = %zu)", p, d);

    const rpo_config cfg = rpo_config_of(ctx);
    unsigned workers = cfg.threads;
    const size_t most_nodes = p / batch + 1;
    rpo_scratch_plan plan = {0};
    const size_t at_scale = rpo_scratch_add(&plan, p, sizeof(double));
    const size_t at_order = rpo_scratch_add(&plan, p, sizeof(size_t));
    const size_t at_keys = rpo_scratch_add(&plan, p, sizeof(scored));
    const size_t at_sides = rpo_scratch_add(&plan, p, 1);
    const size_t at_nodes = rpo_scratch_add(&plan, most_nodes, sizeof(node_span));
    const size_t at_next = rpo_scratch_add(&plan, most_nodes, sizeof(node_span));
    const size_t at_vectors = rpo_scratch_add(&plan, (size_t)workers * 5,
                                              d * sizeof(double));
    if (d > SIZE_MAX / sizeof(double))
        plan.overflow = 1;
    int status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return rpo_fail(ctx, status,
                        "related batches: %zu bytes of scratch for p = %zu, "
                        "d = %zu", plan.bytes, p, d);

    double *scale = rpo_scratch_at(ctx, at_scale);
    if (!rpo_row_norms(cfg.kernels, emb, 0, p, d, scale)) {
        const size_t row = first_nonfinite_row(emb, p, d);
        return rpo_fail(ctx, RPO_ERR_NONFINITE,
                        "embeddings row %zu holds NaN or infinity", row);
    }
    /* rpo_row_norms gives a norm, or minus the norm of the prescaled row
     * for a float64 row too long for a double. */
    for (size_t i = 0; i < p; i++)
        scale[i] = scale[i] > 0.0 ? 1.0 / scale[i]
                                  : RPO_ROW_PRESCALE / -scale[i];

    tree_job job;
    job.emb = emb;
    job.d = d;
    job.batch = batch;
    job.seed = seed;
    job.scale = scale;
    job.order = rpo_scratch_at(ctx, at_order);
    job.keys = rpo_scratch_at(ctx, at_keys);
    job.on_left = rpo_scratch_at(ctx, at_sides);
    job.vectors = rpo_scratch_at(ctx, at_vectors);
    for (size_t i = 0; i < p; i++)
        job.order[i] = i;

    node_span *level = rpo_scratch_at(ctx, at_nodes);
    node_span *children = rpo_scratch_at(ctx, at_next);
    size_t nodes = 0;
    if (p > batch)
        level[nodes++] = (node_span){0, p, 0};
    while (nodes > 0) {
        job.nodes = level;
        const rpo_ordered_work work = {split_node_compute, rpo_nothing_to_commit,
                                       &job};
        rpo_run_ordered(&work, nodes, workers);
        nodes = next_level(level, nodes, batch, children);
        node_span *done = level;
        level = children;
        children = done;
    }
    memcpy(order, job.order, p * sizeof *order);
    return RPO_OK;
}

int rpo_related_batches_f32(rpo_ctx *ctx, size_t p, size_t d,
                            const float *embeddings, size_t batch_size,
                            uint64_t seed, size_t *order)
{
    return rpo_related_batches(ctx, p, d, rpo_in_f32(embeddings), batch_size,
                               seed, order);
}

int rpo_related_batches_f64(rpo_ctx *ctx, size_t p, size_t d,
                            const double *embeddings, size_t batch_size,
                            uint64_t seed, size_t *order)
{
    return rpo_related_batches(ctx, p, d, rpo_in_f64(embeddings), batch_size,
                               seed, order);
}
