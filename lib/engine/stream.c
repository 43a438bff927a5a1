/* Row blocks: their walk (rpo_walk_blocks) and the similarity product of a
 * shared block. */
#include "stream.h"
#include "threads.h"

void rpo_weight_shape_metrics(const rpo_stream *s, rpo_metrics *metrics)
{
    const rpo_call *call = s->call;
    const size_t m_total = call->is_row_block ? call->m_total : call->m;
    rpo_weight_shape_shares(s->src, call->m, m_total, &metrics->effective_contrasts,
                            &metrics->diagonal_weight);
}

size_t rpo_block_rows(const rpo_plan *p, size_t m, size_t block)
{
    const size_t i0 = block * p->block_rows;
    return m - i0 < p->block_rows ? m - i0 : p->block_rows;
}

typedef struct slice_job {
    const rpo_stream *s;
    size_t i0, rows;
    char *out;
    size_t lds;
    int upper;
} slice_job;

static void product_slice(void *arg, unsigned worker, size_t item)
{
    const slice_job *job = arg;
    const rpo_stream *s = job->s;
    const size_t slice = s->p->slice_rows, r0 = item * slice;
    const size_t rows = job->rows - r0 < slice ? job->rows - r0 : slice;
    void *scratch = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.sim);
    rpo_similarity_rows(s->src->sim, job->i0 + r0, rows,
                        job->out + r0 * job->lds * s->p->elem, job->lds, scratch,
                        job->upper);
}

static void mirror_strip(void *arg, unsigned worker, size_t item)
{
    (void)worker;
    rpo_mirror_strip(arg, item);
}

void rpo_parallel_mirror(const rpo_stream *s, void *out, size_t lds, size_t count)
{
    rpo_mirror mirror = rpo_mirror_plan(s->src->sim->k, s->p->compute_type, out, lds, count);
    rpo_ordered_work work = {mirror_strip, rpo_nothing_to_commit, &mirror};
    rpo_run_ordered(&work, rpo_mirror_strips(&mirror), s->p->workers);
}

void rpo_shared_similarity(const rpo_stream *s, size_t i0, size_t rows,
                           void *out, size_t lds, int upper)
{
    if (s->p->backend == RPO_SIM_BLAS) {
        rpo_similarity_rows(s->src->sim, i0, rows, out, lds, NULL, upper);
    } else {
        /* every entry is the same whatever the slicing (product.h) */
        slice_job job = {s, i0, rows, out, lds, upper};
        rpo_ordered_work work = {product_slice, rpo_nothing_to_commit, &job};
        rpo_run_ordered(&work, (rows + s->p->slice_rows - 1) / s->p->slice_rows,
                        s->p->workers);
    }
    if (upper)
        rpo_parallel_mirror(s, out, lds, rows);
}

typedef struct walk_job {
    const rpo_stream *s;
    const rpo_block_visitor *v;
    /* shared mode: the block being worked on */
    char *shared;
    size_t shared_i0, shared_rows;
} walk_job;

/* Rows i0 .. of W where the visitor computes in place, else NULL. */
static char *in_place_rows(const walk_job *job, size_t i0)
{
    const rpo_stream *s = job->s;
    return job->v->in_place == NULL
               ? NULL
               : job->v->in_place + i0 * s->call->n * s->p->elem;
}

/* Streamed mode: a whole block on one worker. */
static void walk_block(void *arg, unsigned worker, size_t item)
{
    const walk_job *job = arg;
    const rpo_stream *s = job->s;
    const size_t i0 = item * s->p->block_rows;
    const size_t rows = rpo_block_rows(s->p, s->call->m, item);
    /* (a call may have no scratch at all: take regions only when they exist) */
    void *panel = in_place_rows(job, i0);
    if (panel == NULL)
        panel = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.panel);
    void *sim = s->p->embedding
                    ? rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.sim)
                    : NULL;
    size_t ldw;
    const void *w = rpo_weight_rows(s->src, i0, rows, panel, sim, &ldw);
    job->v->take(job->v->arg, worker, i0, rows, w, ldw);
}

/* Shared mode: a sub-block of the block whose similarities are computed. */
static void walk_sub_block(void *arg, unsigned worker, size_t item)
{
    const walk_job *job = arg;
    const rpo_stream *s = job->s;
    const size_t n = s->call->n, r0 = item * RPO_SUB_BLOCK_ROWS;
    const size_t rows = job->shared_rows - r0 < RPO_SUB_BLOCK_ROWS ? job->shared_rows - r0
                                                                   : RPO_SUB_BLOCK_ROWS;
    const size_t i0 = job->shared_i0 + r0;
    char *panel = job->shared + r0 * n * s->p->elem;
    const void *w = panel;
    size_t ldw = n;
    if (s->p->embedding)
        rpo_embedding_softmax(s->src, i0, rows, panel);
    else
        w = rpo_weight_rows(s->src, i0, rows, panel, NULL, &ldw);
    job->v->take(job->v->arg, worker, i0, rows, w, ldw);
}

static void walk_commit(void *arg, unsigned worker, size_t item)
{
    const walk_job *job = arg;
    job->v->commit(job->v->arg, worker, item);
}

void rpo_walk_blocks(const rpo_stream *s, const rpo_block_visitor *v)
{
    const rpo_plan *p = s->p;
    walk_job job = {s, v, NULL, 0, 0};
    if (!p->shared) {
        rpo_ordered_work work = {walk_block, walk_commit, &job};
        rpo_run_ordered(&work, p->blocks, p->workers);
        return;
    }
    for (size_t block = 0; block < p->blocks; block++) {
        job.shared_i0 = block * p->block_rows;
        job.shared_rows = rpo_block_rows(p, s->call->m, block);
        job.shared = in_place_rows(&job, job.shared_i0);
        if (job.shared == NULL)
            job.shared = rpo_scratch_at(s->ctx, s->L->shared_panel);
        if (p->embedding)
            rpo_shared_similarity(s, job.shared_i0, job.shared_rows, job.shared,
                                  s->call->n, v->symmetric);
        rpo_ordered_work work = {walk_sub_block, walk_commit, &job};
        rpo_run_ordered(&work, (job.shared_rows + RPO_SUB_BLOCK_ROWS - 1) / RPO_SUB_BLOCK_ROWS,
                        p->workers);
    }
}
