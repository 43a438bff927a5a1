/*
 * The fused linear log-probs, chunk by chunk (linear.h, docs/math.md).
 *
 * The work items are the vocabulary's chunks of C words. Item j packs its
 * weight rows once, then walks the live tokens C at a time: the product
 * gives a C x C chunk of logits that never leaves the worker's scratch.
 *
 *   forward:  each item's row maxima and sums of exponentials, per token,
 *             are merged into the running ones in item order (commit).
 *   backward: the chunk's logits become its gradient g in place; the item
 *             owns rows [jC, jC + C) of dweight and dbias and adds to them
 *             directly; its share of dhidden (all tokens) is formed in the
 *             worker's buffer and added to dhidden in item order (commit).
 *
 * Every sum is thus formed in an order fixed by T, V and C alone, and the
 * results are bitwise identical for any number of threads.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fused_linear.h"
#include "threads.h"

/* Elements of a packed operand: count rows or columns in tiles of width. */
static size_t packed(size_t count, size_t depth, size_t width)
{
    return (count + width - 1) / width * width * depth;
}

static size_t elem_size(const rpo_linear_call *c)
{
    return c->type == RPO_F32 ? sizeof(float) : sizeof(double);
}

static size_t token_chunks(const rpo_linear_call *c)
{
    return (c->live + c->chunk - 1) / c->chunk;
}

static size_t vocab_chunks(const rpo_linear_call *c)
{
    return (c->v + c->chunk - 1) / c->chunk;
}

/* One worker's regions, as offsets from its base. */
typedef struct worker_regions {
    size_t w_rows;      /* the item's weight rows: B tiles over words       */
    size_t w_cols;      /* the same rows as B tiles over H (backward)       */
    size_t s;           /* the C x C chunk of logits, then of g             */
    size_t g_t;         /* g^T as A tiles over words (backward: dweight)    */
    size_t g_a;         /* g as A tiles over tokens (backward: dhidden)     */
    size_t partial;     /* (live, H) the item's share of dhidden (backward) */
    size_t col;         /* (C) each row's target column in the chunk        */
    size_t bias_sum;    /* (C) doubles: the chunk's column sums of g        */
    size_t row_max, row_sum; /* (live) doubles: the item's per-token lse parts */
    rpo_scratch_plan plan;   /* all of them: one worker's share of scratch */
} worker_regions;

static worker_regions worker_plan(const rpo_linear_call *c, int backward,
                                  int *overflow)
{
    const size_t e = elem_size(c), C = c->chunk, mr = c->k->mr, nr = c->k->nr;
    worker_regions w;
    memset(&w, 0, sizeof w);
    rpo_scratch_plan *p = &w.plan;
    w.w_rows = rpo_scratch_add(p, packed(C, c->h, nr), e);
    w.s = rpo_scratch_add(p, C * C, e);
    w.col = rpo_scratch_add(p, C, sizeof(ptrdiff_t));
    w.row_max = rpo_scratch_add(p, c->live, sizeof(double));
    w.row_sum = rpo_scratch_add(p, c->live, sizeof(double));
    if (backward) {
        w.w_cols = rpo_scratch_add(p, packed(c->h, C, nr), e);
        w.g_t = rpo_scratch_add(p, packed(C, C, mr), e);
        w.g_a = rpo_scratch_add(p, packed(C, C, mr), e);
        w.bias_sum = rpo_scratch_add(p, C, sizeof(double));
        if (rpo_mul_overflows(c->live, c->h))
            p->overflow = 1;
        else
            w.partial = rpo_scratch_add(p, c->live * c->h, e);
    }
    *overflow |= p->overflow;
    return w;
}

void rpo_linear_plan(const rpo_linear_call *c, int backward,
                     rpo_scratch_plan *plan, rpo_linear_layout *lay)
{
    const size_t e = elem_size(c), tchunks = token_chunks(c);
    const size_t items = vocab_chunks(c);
    int overflow = 0;
    const worker_regions w = worker_plan(c, backward, &overflow);
    lay->backward = backward;
    lay->workers = c->threads < items ? c->threads : (unsigned)items;
    if (lay->workers == 0)
        lay->workers = 1;
    if (rpo_mul_overflows(tchunks, packed(c->chunk, c->h, c->k->mr)) ||
        rpo_mul_overflows(tchunks, packed(c->h, c->chunk, c->k->nr)))
        overflow = 1;
    if (overflow) {
        plan->overflow = 1;
        return;
    }
    lay->hidden_a = rpo_scratch_add(plan, tchunks * packed(c->chunk, c->h, c->k->mr), e);
    lay->hidden_b = backward
        ? rpo_scratch_add(plan, tchunks * packed(c->h, c->chunk, c->k->nr), e)
        : 0;
    lay->target_x = rpo_scratch_add(plan, c->live, sizeof(double));
    lay->run_max = rpo_scratch_add(plan, c->live, sizeof(double));
    lay->run_sum = rpo_scratch_add(plan, c->live, sizeof(double));
    lay->dlogp = rpo_scratch_add(plan, c->live, sizeof(double));
    lay->worker_bytes = w.plan.bytes;
    lay->per_worker = rpo_scratch_add_copies(plan, lay->workers, &w.plan);
}

/* What every item of a run shares. */
typedef struct chunk_job {
    const rpo_linear_call *c;
    const rpo_linear_layout *lay;
    const rpo_linear_grads *g;       /* backward only */
    worker_regions w;
    unsigned char *scratch;
    size_t e;
    size_t first_bad[RPO_MAX_WORKERS]; /* forward: a worker's first item
                                          with a non-finite logit        */
} chunk_job;

static void *region(const chunk_job *job, unsigned worker, size_t offset)
{
    return job->scratch + job->lay->per_worker + worker * job->lay->worker_bytes + offset;
}

static double *shared_doubles(const chunk_job *job, size_t offset)
{
    return (double *)(void *)(job->scratch + offset);
}

/* The packed hidden rows of token chunk i, as A tiles over tokens (the
 * logits) or B tiles over H (dweight). */
static void *hidden_a(const chunk_job *job, size_t i)
{
    const rpo_linear_call *c = job->c;
    return job->scratch + job->lay->hidden_a +
           i * packed(c->chunk, c->h, c->k->mr) * job->e;
}
static void *hidden_b(const chunk_job *job, size_t i)
{
    const rpo_linear_call *c = job->c;
    return job->scratch + job->lay->hidden_b +
           i * packed(c->h, c->chunk, c->k->nr) * job->e;
}

static void pack_hidden(const chunk_job *job)
{
    const rpo_linear_call *c = job->c;
    for (size_t i = 0, t0 = 0; t0 < c->live; i++, t0 += c->chunk) {
        const size_t tc = c->live - t0 < c->chunk ? c->live - t0 : c->chunk;
        rpo_tiles_of_rows(c->type, c->hidden, c->h, c->rows, t0, tc, c->h,
                          c->k->mr, hidden_a(job, i));
        if (job->lay->backward)
            rpo_tiles_of_columns(c->type, c->hidden, c->h, c->rows, t0, tc,
                                 c->h, c->k->nr, hidden_b(job, i));
    }
}

static const void *weight_row(const rpo_linear_call *c, size_t v)
{
    return (const char *)c->weight + v * c->ldw * elem_size(c);
}

static const void *bias_at(const rpo_linear_call *c, size_t v)
{
    return c->bias != NULL ? (const char *)c->bias + v * elem_size(c) : NULL;
}

static double value_at(const rpo_linear_call *c, const void *p, size_t at)
{
    return c->type == RPO_F32 ? (double)((const float *)p)[at]
                              : ((const double *)p)[at];
}

/* The item's chunk of words [v0, v0 + vc) and its logits with the token
 * chunk [t0, t0 + tc) into s (tc, C); w_rows packed already. */
static void chunk_logits(const chunk_job *job, unsigned worker, size_t i,
                         size_t tc, size_t vc)
{
    const rpo_linear_call *c = job->c;
    c->k->product(tc, vc, c->h, hidden_a(job, i), region(job, worker, job->w.w_rows),
                  region(job, worker, job->w.s), c->chunk, RPO_NOT_SYMMETRIC);
}

/* ------------------------------------------------------------ forward */

static void forward_compute(void *arg, unsigned worker, size_t item)
{
    chunk_job *job = arg;
    const rpo_linear_call *c = job->c;
    const size_t C = c->chunk, v0 = item * C;
    const size_t vc = c->v - v0 < C ? c->v - v0 : C;
    double *row_max = region(job, worker, job->w.row_max);
    double *row_sum = region(job, worker, job->w.row_sum);
    double *target_x = shared_doubles(job, job->lay->target_x);
    char *s = region(job, worker, job->w.s);

    rpo_tiles_of_rows(c->type, c->weight, c->ldw, NULL, v0, vc, c->h, c->k->nr,
                      region(job, worker, job->w.w_rows));
    for (size_t i = 0, t0 = 0; t0 < c->live; i++, t0 += C) {
        const size_t tc = c->live - t0 < C ? c->live - t0 : C;
        chunk_logits(job, worker, i, tc, vc);
        c->k->chunk_lse(tc, vc, s, C, bias_at(c, v0), row_max + t0,
                        row_sum + t0);
        for (size_t r = 0; r < tc; r++) {
            if (!(isfinite(row_max[t0 + r]) && isfinite(row_sum[t0 + r])) &&
                job->first_bad[worker] > item)
                job->first_bad[worker] = item;
            /* each token's target lies in one item: no other writes it */
            const size_t y = (size_t)c->targets[c->rows[t0 + r]];
            if (y >= v0 && y < v0 + vc)
                target_x[t0 + r] = value_at(c, s, r * C + (y - v0));
        }
    }
}

/* Merges the item's (max, sum) of each token into the running ones. */
static void forward_commit(void *arg, unsigned worker, size_t item)
{
    chunk_job *job = arg;
    const rpo_linear_call *c = job->c;
    const double *row_max = region(job, worker, job->w.row_max);
    const double *row_sum = region(job, worker, job->w.row_sum);
    double *run_max = shared_doubles(job, job->lay->run_max);
    double *run_sum = shared_doubles(job, job->lay->run_sum);
    if (job->first_bad[worker] <= item)
        return;  /* the call fails; nothing to merge */
    for (size_t t = 0; t < c->live; t++) {
        const double m = row_max[t], s = row_sum[t];
        if (item == 0) {
            run_max[t] = m;
            run_sum[t] = s;
        } else if (m > run_max[t]) {
            run_sum[t] = run_sum[t] * exp(run_max[t] - m) + s;
            run_max[t] = m;
        } else {
            run_sum[t] += s * exp(m - run_max[t]);
        }
    }
}

/* The status of a call some of whose logits were not all finite: a weight
 * row holding NaN or infinity (any, so that RPO_ERR_NONFINITE comes before
 * RPO_ERR_RANGE as rpo.h orders them), or else finite inputs whose logit
 * overflowed, in the first chunk that saw one. */
static int bad_logits(rpo_ctx *ctx, const rpo_linear_call *c, size_t item)
{
    for (size_t v = 0; v < c->v; v++) {
        const void *w = weight_row(c, v);
        for (size_t k = 0; k < c->h; k++)
            if (!isfinite(value_at(c, w, k)))
                return rpo_fail(ctx, RPO_ERR_NONFINITE,
                                "weight[%zu][%zu] is NaN or infinite", v, k);
    }
    const size_t v0 = item * c->chunk;
    const size_t v1 = c->v - v0 < c->chunk ? c->v : v0 + c->chunk;
    return rpo_fail(ctx, RPO_ERR_RANGE,
                    "a logit of words [%zu, %zu) overflows the %s range",
                    v0, v1, c->type == RPO_F32 ? "float32" : "float64");
}

static void run_chunks(chunk_job *job, void (*compute)(void *, unsigned, size_t),
                       void (*commit)(void *, unsigned, size_t))
{
    rpo_ordered_work work;
    work.compute = compute;
    work.commit = commit;
    work.arg = job;
    rpo_run_ordered(&work, vocab_chunks(job->c), job->lay->workers);
}

static void job_init(chunk_job *job, rpo_ctx *ctx, const rpo_linear_call *c,
                     const rpo_linear_layout *lay, const rpo_linear_grads *g)
{
    int overflow = 0;  /* the plan already passed */
    job->c = c;
    job->lay = lay;
    job->g = g;
    job->w = worker_plan(c, lay->backward, &overflow);
    job->scratch = ctx->scratch;
    job->e = elem_size(c);
    for (unsigned w = 0; w < RPO_MAX_WORKERS; w++)
        job->first_bad[w] = SIZE_MAX;
}

int rpo_linear_forward_run(rpo_ctx *ctx, const rpo_linear_call *c,
                           const rpo_linear_layout *lay)
{
    chunk_job job;
    job_init(&job, ctx, c, lay, NULL);
    pack_hidden(&job);
    run_chunks(&job, forward_compute, forward_commit);

    size_t bad = SIZE_MAX;
    for (unsigned w = 0; w < lay->workers; w++)
        bad = job.first_bad[w] < bad ? job.first_bad[w] : bad;
    if (bad != SIZE_MAX)
        return bad_logits(ctx, c, bad);

    double *target_x = shared_doubles(&job, lay->target_x);
    double *run_max = shared_doubles(&job, lay->run_max);
    const double *run_sum = shared_doubles(&job, lay->run_sum);
    for (size_t t = 0; t < c->live; t++) {
        /* 1 <= run_sum <= V: the largest term is exp(0) */
        run_max[t] += log(run_sum[t]);
        target_x[t] -= run_max[t];
    }
    return RPO_OK;
}

/* ----------------------------------------------------------- backward */

/* dst[k] += src[k] in the element type (the commit of dhidden). */
static void add_into(const rpo_linear_call *c, void *dst, const void *src,
                     size_t n)
{
    if (c->type == RPO_F32) {
        float *d = dst;
        const float *s = src;
        for (size_t k = 0; k < n; k++)
            d[k] += s[k];
    } else {
        double *d = dst;
        const double *s = src;
        for (size_t k = 0; k < n; k++)
            d[k] += s[k];
    }
}

/* sums[j] += g[r][j] over the rows of a chunk of g (tc, C), in double. */
static void add_columns(const rpo_linear_call *c, const void *g, size_t tc,
                        size_t vc, double *sums)
{
    for (size_t r = 0; r < tc; r++) {
        if (c->type == RPO_F32) {
            const float *row = (const float *)g + r * c->chunk;
            for (size_t j = 0; j < vc; j++)
                sums[j] += (double)row[j];
        } else {
            const double *row = (const double *)g + r * c->chunk;
            for (size_t j = 0; j < vc; j++)
                sums[j] += row[j];
        }
    }
}

static void backward_compute(void *arg, unsigned worker, size_t item)
{
    chunk_job *job = arg;
    const rpo_linear_call *c = job->c;
    const rpo_linear_grads *g = job->g;
    const size_t C = c->chunk, v0 = item * C, e = job->e;
    const size_t vc = c->v - v0 < C ? c->v - v0 : C;
    const double *lse = shared_doubles(job, job->lay->run_max);
    const double *dlogp = shared_doubles(job, job->lay->dlogp);
    ptrdiff_t *col = region(job, worker, job->w.col);
    double *bias_sum = region(job, worker, job->w.bias_sum);
    char *s = region(job, worker, job->w.s);
    void *g_t = region(job, worker, job->w.g_t), *g_a = region(job, worker, job->w.g_a);
    char *partial = region(job, worker, job->w.partial);
    char *dweight = (char *)g->dweight + v0 * c->ldw * e;

    rpo_tiles_of_rows(c->type, c->weight, c->ldw, NULL, v0, vc, c->h, c->k->nr,
                      region(job, worker, job->w.w_rows));
    rpo_tiles_of_columns(c->type, c->weight, c->ldw, NULL, v0, vc, c->h,
                         c->k->nr, region(job, worker, job->w.w_cols));
    for (size_t j = 0; j < vc; j++)
        bias_sum[j] = 0.0;
    for (size_t i = 0, t0 = 0; t0 < c->live; i++, t0 += C) {
        const size_t tc = c->live - t0 < C ? c->live - t0 : C;
        chunk_logits(job, worker, i, tc, vc);
        for (size_t r = 0; r < tc; r++) {
            const size_t y = (size_t)c->targets[c->rows[t0 + r]];
            col[r] = y >= v0 && y < v0 + vc ? (ptrdiff_t)(y - v0) : -1;
        }
        c->k->chunk_grad(tc, vc, s, C, bias_at(c, v0), lse + t0, dlogp + t0, col);
        if (g->dbias != NULL)
            add_columns(c, s, tc, vc, bias_sum);
        /* dweight[v0 + j, :] += sum_r g[r, j] hidden[t0 + r, :] */
        rpo_tiles_of_columns(c->type, s, C, NULL, 0, tc, vc, c->k->mr, g_t);
        c->k->product_acc(vc, c->h, tc, g_t, hidden_b(job, i), dweight, c->ldw,
                          RPO_NOT_SYMMETRIC);
        /* the item's share of dhidden[t0 + r, :] = sum_j g[r, j] weight[v0 + j, :] */
        rpo_tiles_of_rows(c->type, s, C, NULL, 0, tc, vc, c->k->mr, g_a);
        c->k->product(tc, c->h, vc, g_a, region(job, worker, job->w.w_cols),
                      partial + t0 * c->h * e, c->h, RPO_NOT_SYMMETRIC);
    }
    if (g->dbias != NULL) {
        for (size_t j = 0; j < vc; j++) {
            if (c->type == RPO_F32)
                ((float *)g->dbias)[v0 + j] =
                    (float)((double)((float *)g->dbias)[v0 + j] + bias_sum[j]);
            else
                ((double *)g->dbias)[v0 + j] += bias_sum[j];
        }
    }
}

static void backward_commit(void *arg, unsigned worker, size_t item)
{
    chunk_job *job = arg;
    const rpo_linear_call *c = job->c;
    const char *partial = region(job, worker, job->w.partial);
    (void)item;
    for (size_t t = 0; t < c->live; t++)
        add_into(c, (char *)job->g->dhidden + c->rows[t] * c->h * job->e,
                 partial + t * c->h * job->e, c->h);
}

void rpo_linear_backward_run(rpo_ctx *ctx, const rpo_linear_call *c,
                             const rpo_linear_layout *lay,
                             const rpo_linear_grads *g)
{
    chunk_job job;
    job_init(&job, ctx, c, lay, g);
    pack_hidden(&job);
    run_chunks(&job, backward_compute, backward_commit);
}
