/* Row blocks and the similarity product of a shared block. */
#include "stream.h"
#include "threads.h"

void rpo_weight_shape_metrics(const rpo_stream *s, rpo_metrics *metrics)
{
    const rpo_call *call = s->call;
    const size_t m_total = call->is_row_block ? call->m_total : call->m;
    double contrasts, diagonal;
    rpo_weight_shape_sums(s->src, call->m, &contrasts, &diagonal);
    metrics->effective_contrasts = contrasts / (double)m_total;
    metrics->diagonal_weight = diagonal / (double)m_total;
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

static void nothing_to_commit(void *arg, unsigned worker, size_t item)
{
    (void)arg; (void)worker; (void)item;
}

static void mirror_strip(void *arg, unsigned worker, size_t item)
{
    (void)worker;
    rpo_mirror_strip(arg, item);
}

void rpo_parallel_mirror(const rpo_stream *s, void *out, size_t lds, size_t count)
{
    rpo_mirror mirror = rpo_mirror_plan(s->src->sim->k, s->p->compute_type, out, lds, count);
    rpo_ordered_work work = {mirror_strip, nothing_to_commit, &mirror};
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
        rpo_ordered_work work = {product_slice, nothing_to_commit, &job};
        rpo_run_ordered(&work, (rows + s->p->slice_rows - 1) / s->p->slice_rows,
                        s->p->workers);
    }
    if (upper)
        rpo_parallel_mirror(s, out, lds, rows);
}
