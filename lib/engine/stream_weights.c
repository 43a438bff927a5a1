/* The weight matrix of rpo_weights_* (and the similarities alone of the
 * static-linking-only rpo_similarity_*), written block by block. When the
 * output has the compute type the blocks are computed in place. */
#include <string.h>

#include "stream.h"
#include "threads.h"

typedef struct weights_job {
    const rpo_stream *s;
    int direct;              /* the output has the compute type */
} weights_job;

static char *out_rows(const weights_job *job, size_t i0)
{
    const rpo_stream *s = job->s;
    return (char *)s->call->weights_out.data + i0 * s->call->n * s->p->elem;
}

/* Rows i0 .. of W, computed at w (row stride ldw), to the output. */
static void store_rows(const weights_job *job, size_t i0, size_t rows,
                       const void *w, size_t ldw)
{
    const rpo_stream *s = job->s;
    const size_t n = s->call->n;
    if (job->direct && w == out_rows(job, i0) && ldw == n)
        return;
    for (size_t r = 0; r < rows; r++) {
        const char *row = (const char *)w + r * ldw * s->p->elem;
        if (s->p->compute_type == RPO_F64)  /* to float32 or float64 */
            rpo_out_store(s->call->weights_out, (i0 + r) * n, (const double *)row, n);
        else                        /* float rows to a float output */
            memcpy((float *)s->call->weights_out.data + (i0 + r) * n, row, n * sizeof(float));
    }
}

/* The walk's rows (rpo_walk_blocks): to the output. */
static void weights_rows(void *arg, unsigned worker, size_t i0, size_t rows,
                         const void *w, size_t ldw)
{
    (void)worker;
    store_rows(arg, i0, rows, w, ldw);
}

/* Paired embeddings in place: the upper triangle block by block (one
 * CBLAS call in the shared mode), the mirror, then the softmax. */
static void upper_block(void *arg, unsigned worker, size_t item)
{
    const weights_job *job = arg;
    const rpo_stream *s = job->s;
    const size_t i0 = item * s->p->block_rows;
    void *sim = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.sim);
    rpo_similarity_rows(s->src->sim, i0, rpo_block_rows(s->p, s->call->m, item),
                        out_rows(job, i0), s->call->n, sim, 1);
}

static void softmax_rows(void *arg, unsigned worker, size_t item)
{
    const weights_job *job = arg;
    const rpo_stream *s = job->s;
    const size_t m = s->call->m, i0 = item * RPO_SUB_BLOCK_ROWS;
    (void)worker;
    rpo_embedding_softmax(s->src, i0, m - i0 < RPO_SUB_BLOCK_ROWS ? m - i0 : RPO_SUB_BLOCK_ROWS,
                          out_rows(job, i0));
}

static void symmetric_in_place(weights_job *job)
{
    const rpo_stream *s = job->s;
    const rpo_plan *p = s->p;
    const size_t m = s->call->m;
    if (p->shared) {
        rpo_shared_similarity(s, 0, m, out_rows(job, 0), s->call->n, 1);
    } else {
        rpo_ordered_work work = {upper_block, rpo_nothing_to_commit, job};
        rpo_run_ordered(&work, p->blocks, p->workers);
        rpo_parallel_mirror(s, out_rows(job, 0), s->call->n, m);
    }
    if (s->src->softmax == NULL)
        return;
    rpo_ordered_work work = {softmax_rows, rpo_nothing_to_commit, job};
    rpo_run_ordered(&work, (m + RPO_SUB_BLOCK_ROWS - 1) / RPO_SUB_BLOCK_ROWS, p->workers);
}

void rpo_stream_weights(const rpo_stream *s)
{
    const rpo_plan *p = s->p;
    weights_job job;
    memset(&job, 0, sizeof job);
    job.s = s;
    job.direct = s->call->weights_out.type == p->compute_type;
    if (p->embedding && p->paired && job.direct) {
        symmetric_in_place(&job);
        return;
    }
    /* the full product: the symmetric half is computed in place above */
    const rpo_block_visitor visitor = {weights_rows, rpo_nothing_to_commit,
                                       job.direct ? out_rows(&job, 0) : NULL, 0,
                                       &job};
    rpo_walk_blocks(s, &visitor);
}
