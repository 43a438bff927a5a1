/* Checks a call, plans it, prepares its inputs, streams it, writes it. */
#include <string.h>

#include "detail.h"
#include "embed.h"
#include "embed_grad.h"
#include "engine.h"
#include "engine_objective.h"
#include "pack.h"
#include "plan.h"
#include "rpo.h"
#include "similarity.h"
#include "sinkhorn.h"
#include "stream.h"
#include "threads.h"
#include "validate.h"
#include "weights.h"

/* Names the first NaN or infinity in the log-probs or the caller's
 * weights. Called once a scan found one, which these checks then name. */
static int fail_nonfinite_log_probs(rpo_ctx *ctx, const rpo_call *call)
{
    int status = rpo_check_finite_vector(ctx, "policy_chosen",
                                         call->policy_chosen, call->m);
    if (status == RPO_OK && call->ref_chosen.data != NULL)
        status = rpo_check_finite_vector(ctx, "ref_chosen", call->ref_chosen,
                                         call->m);
    if (status == RPO_OK)
        status = rpo_check_finite_vector(ctx, "policy_rejected",
                                         call->policy_rejected, call->n);
    if (status == RPO_OK && call->ref_rejected.data != NULL)
        status = rpo_check_finite_vector(ctx, "ref_rejected",
                                         call->ref_rejected, call->n);
    if (status == RPO_OK && call->kind == RPO_CALL_LOSS_WEIGHTED)
        status = rpo_check_finite_rows(ctx, "weights", call->weights_in, 0,
                                       call->m, call->n, call->n);
    return status;
}

static int prepare_log_ratios(rpo_ctx *ctx, const rpo_call *call,
                              const rpo_plan *p, const rpo_layout *L)
{
    double *a = rpo_scratch_at(ctx, L->a), *b = rpo_scratch_at(ctx, L->b);
    int finite_inputs =
        rpo_log_ratios(call->policy_chosen, call->ref_chosen, call->m, a) &&
        rpo_log_ratios(call->policy_rejected, call->ref_rejected, call->n, b);
    if (p->compute_type == RPO_F32) {
        /* formed in double, rounded once */
        float *af = rpo_scratch_at(ctx, L->a_compute), *bf = rpo_scratch_at(ctx, L->b_compute);
        for (size_t i = 0; i < call->m; i++)
            af[i] = (float)a[i];
        for (size_t j = 0; j < call->n; j++)
            bf[j] = (float)b[j];
    }
    return finite_inputs ? RPO_OK : fail_nonfinite_log_probs(ctx, call);
}

/* One side's row norms and normalised rows, in chunks of rows over the
 * workers: a chunk's rows are packed right after their norms are taken,
 * while they are still in cache. Chunks hold whole tiles, so every row
 * lands where one pass over all rows puts it, with the same bits, for any
 * number of workers. */
#define PREPARE_CHUNK_BYTES ((size_t)256 << 10)

typedef struct side_job {
    const rpo_kernels *k;
    rpo_dtype type;           /* of the packed rows */
    rpo_in src;
    size_t rows, d, chunk;
    size_t tile;              /* rows per packed tile; 0: plain rows */
    double *norm;
    void *packed;             /* NULL: the norms alone */
    int finite;               /* 0 once a chunk held NaN or infinity */
    int chunk_finite[RPO_MAX_WORKERS];
} side_job;

static void prepare_chunk(void *arg, unsigned worker, size_t item)
{
    side_job *job = arg;
    const size_t i0 = item * job->chunk, d = job->d;
    const size_t rows = job->rows - i0 < job->chunk ? job->rows - i0 : job->chunk;
    const size_t elem = job->type == RPO_F32 ? sizeof(float) : sizeof(double);
    job->chunk_finite[worker] = rpo_row_norms(job->k, job->src, i0, rows, d, job->norm);
    if (job->packed == NULL || !job->chunk_finite[worker])
        return;
    if (job->tile > 0)
        rpo_pack_tiles(job->type, job->src, job->norm, i0, rows, d, job->tile,
                       (char *)job->packed + rpo_packed_count(i0, d, job->tile) * elem);
    else
        rpo_pack_rows(job->k, job->type, job->src, job->norm, i0, rows, d,
                      (char *)job->packed + i0 * d * elem);
}

static void commit_chunk(void *arg, unsigned worker, size_t item)
{
    side_job *job = arg;
    (void)item;
    job->finite &= job->chunk_finite[worker];
}

/* Returns 0 when src held NaN or infinity. */
static int prepare_side(const rpo_plan *p, rpo_in src, size_t rows, size_t d,
                        size_t tile, double *norm, void *packed)
{
    side_job job;
    job.k = p->kernels;
    job.type = p->compute_type;
    job.src = src;
    job.rows = rows;
    job.d = d;
    job.tile = tile;
    job.norm = norm;
    job.packed = packed;
    job.finite = 1;
    job.chunk = PREPARE_CHUNK_BYTES / ((d > 0 ? d : 1) * sizeof(double)) + 1;
    if (tile > 0)
        job.chunk = (job.chunk + tile - 1) / tile * tile;
    rpo_ordered_work work = {prepare_chunk, commit_chunk, &job};
    rpo_run_ordered(&work, (rows + job.chunk - 1) / job.chunk, p->workers);
    return job.finite;
}

/* Row norms, and the normalised rows in the layout the product reads: F
 * in B tiles for the native kernel (E is packed block by block as the
 * product goes), both sides as rows for dot products and CBLAS. */
static int prepare_similarity(rpo_ctx *ctx, const rpo_call *call,
                              const rpo_plan *p, const rpo_layout *L,
                              rpo_similarity *sim)
{
    memset(sim, 0, sizeof *sim);
    sim->type = p->compute_type;
    sim->m = call->m;
    sim->n = call->n;
    sim->d = call->d;
    sim->paired = p->paired;
    sim->backend = p->backend;
    sim->k = p->k;
    sim->e = call->chosen_emb;
    sim->f = p->paired ? call->chosen_emb : call->rejected_emb;
    /* f_norm is e_norm and f_rows is e_rows when paired (plan.c) */
    double *e_norm = rpo_scratch_at(ctx, L->e_norm);
    double *f_norm = rpo_scratch_at(ctx, L->f_norm);
    sim->e_norm = e_norm;
    sim->f_norm = f_norm;
    const int tiles = p->backend == RPO_SIM_TILES;
    void *e_packed = tiles ? NULL : rpo_scratch_at(ctx, L->e_rows);
    void *f_packed = rpo_scratch_at(ctx, tiles ? L->f_tiles : L->f_rows);
    const size_t f_tile = tiles ? p->k->nr : 0;
    if (!(p->paired && tiles) &&
        !prepare_side(p, sim->e, call->m, call->d, 0, e_norm, e_packed))
        return rpo_check_finite_rows(ctx, "chosen_emb", sim->e, 0, call->m,
                                     call->d, call->d);
    if (!(p->paired && !tiles) &&
        !prepare_side(p, sim->f, call->n, call->d, f_tile, f_norm, f_packed))
        return rpo_check_finite_rows(ctx, p->paired ? "chosen_emb" : "rejected_emb",
                                     sim->f, 0, call->n, call->d, call->d);
    if (tiles) {
        sim->f_tiles = f_packed;
    } else {
        sim->e_rows = e_packed;
        sim->f_rows = f_packed;  /* e_rows when paired */
    }
    return RPO_OK;
}

/* Embedding gradients: the normalised rows in double, for the backward,
 * and the rejected ones transposed for its products (embed_grad.h). */
static void prepare_emb_grad(rpo_ctx *ctx, const rpo_call *call,
                             const rpo_plan *p, const rpo_layout *L,
                             const rpo_similarity *sim)
{
    rpo_pack_rows(p->kernels, RPO_F64, sim->e, sim->e_norm, 0, call->m,
                  call->d, rpo_scratch_at(ctx, L->e_hat));
    if (!p->paired)
        rpo_pack_rows(p->kernels, RPO_F64, sim->f, sim->f_norm, 0, call->n,
                      call->d, rpo_scratch_at(ctx, L->f_hat));
    rpo_transpose(rpo_scratch_at(ctx, L->f_hat), call->n, call->d,
                  rpo_scratch_at(ctx, L->f_hat_t));
}

/* SINKHORN: the whole cosine matrix, a block at a time over the workers,
 * then the plan's column potentials (sinkhorn.h), which the weight source
 * reads with the cosines. */
static rpo_sinkhorn_run prepare_sinkhorn(const rpo_stream *s)
{
    rpo_ctx *ctx = s->ctx;
    const rpo_call *call = s->call;
    const rpo_layout *L = s->L;
    const size_t m = call->m, n = call->n;
    double *cos = rpo_scratch_at(ctx, L->cos);
    for (size_t block = 0; block < s->p->blocks; block++) {
        const size_t i0 = block * s->p->block_rows;
        rpo_shared_similarity(s, i0, rpo_block_rows(s->p, m, block),
                              cos + i0 * n, n, 0);
    }
    return rpo_sinkhorn(cos, m, n, s->cfg->tau, s->cfg->sinkhorn_iters,
                        s->cfg->sinkhorn_tol,
                        rpo_scratch_at(ctx, L->pot_g),
                        rpo_scratch_at(ctx, L->pot_f),
                        rpo_scratch_at(ctx, L->pot_g_next),
                        rpo_scratch_at(ctx, L->col_max),
                        rpo_scratch_at(ctx, L->col_sum), s->p->kernels,
                        s->p->workers);
}

static void describe_weights(rpo_ctx *ctx, const rpo_config *cfg,
                             const rpo_call *call, const rpo_plan *p,
                             const rpo_layout *L, const rpo_similarity *sim,
                             rpo_weight_source *src)
{
    memset(src, 0, sizeof *src);
    src->weighting = p->weighting;
    src->type = p->compute_type;
    src->n = call->n;
    src->alpha = cfg->alpha;
    src->tau = cfg->tau;
    src->sim = sim;
    src->softmax = call->similarity_only ? NULL : p->k->softmax;
    src->caller = call->weights_in;
    src->row_offset = call->row_offset;
    src->square = p->square;
    if (p->solves_tau) {
        src->target = cfg->target_contrasts;
        src->row_tau = rpo_scratch_at(ctx, L->row_tau);
        src->row_entropy_at = p->k->row_entropy;
    }
    if (p->records_shape) {
        src->row_entropy = rpo_scratch_at(ctx, L->row_entropy);
        if (p->square)
            src->row_diag = rpo_scratch_at(ctx, L->row_diag);
    }
    if (p->weighting == RPO_WEIGHTING_SINKHORN) {
        src->cos = rpo_scratch_at(ctx, L->cos);
        src->col_bias = rpo_scratch_at(ctx, L->pot_g);
    }
    if (p->weighting == RPO_WEIGHTING_UNIFORM) {
        void *row = rpo_scratch_at(ctx, L->uniform);
        rpo_uniform_row(p->compute_type, call->n, row);
        src->uniform_row = row;
    }
}

static int finite(double x)
{
    return x - x == 0.0;
}

/* RPO_OK when the values wanted in out fit its type; else RPO_ERR_RANGE
 * with the first value that does not. */
static int output_fits(rpo_ctx *ctx, const char *name, rpo_out out,
                       const double *values, size_t count, size_t cols)
{
    if (out.data == NULL || rpo_out_fits(out.type, values, count))
        return RPO_OK;
    return rpo_fail_range(ctx, name, out.type, values, count, cols);
}

/* RPO_ERR_RANGE unless every result is finite in the caller's type. */
static int check_range(rpo_ctx *ctx, const rpo_call *call,
                       const rpo_loss_result *r)
{
    const rpo_metrics *s = &r->metrics;
    if (!(finite(s->loss) && finite(s->reward_chosen) &&
          finite(s->reward_rejected) && finite(s->margin) &&
          finite(s->accuracy)))
        return rpo_fail(ctx, RPO_ERR_RANGE,
                        "a metric is not finite in double (loss = %g, "
                        "reward_chosen = %g, reward_rejected = %g, margin = %g)",
                        s->loss, s->reward_chosen, s->reward_rejected, s->margin);
    int status = output_fits(ctx, "loss", call->loss, &r->loss, 1, 0);
    if (status == RPO_OK)
        status = output_fits(ctx, "partial_stats", call->partial_stats,
                             r->partial, RPO_PARTIAL_COUNT, 0);
    /* Both gradients are computed when either is wanted; only the ones
     * the caller asked for must fit (a float32 grad_chosen beyond FLT_MAX
     * must not fail a call that wants grad_rejected alone). */
    if (status == RPO_OK)
        status = output_fits(ctx, "grad_chosen", call->grad_chosen, r->grad_a,
                             call->m, 0);
    if (status == RPO_OK)
        status = output_fits(ctx, call->is_row_block ? "partial_grad_rejected"
                                             : "grad_rejected",
                             call->grad_rejected, r->grad_b, call->n, 0);
    /* both embedding gradients are computed when either is wanted; only
     * the ones asked for must fit (a paired call has no rejected one) */
    if (status == RPO_OK && r->grad_e != NULL)
        status = output_fits(ctx, "grad_chosen_emb", call->grad_chosen_emb,
                             r->grad_e, call->m * call->d, call->d);
    if (status == RPO_OK && r->grad_f != NULL)
        status = output_fits(ctx, call->is_row_block ? "partial_grad_rejected_emb"
                                             : "grad_rejected_emb",
                             call->grad_rejected_emb, r->grad_f,
                             call->n * call->d, call->d);
    return status;
}

/* The embedding gradient outputs: computed, or zeros where the weights do
 * not depend on the embeddings. Paired calls have no rejected matrix. */
static void write_emb_grad(const rpo_call *call, const rpo_loss_result *r)
{
    const size_t md = call->m * call->d, nd = call->n * call->d;
    if (call->grad_chosen_emb.data != NULL) {
        if (r != NULL && r->grad_e != NULL)
            rpo_out_store(call->grad_chosen_emb, 0, r->grad_e, md);
        else
            rpo_out_zero(call->grad_chosen_emb, 0, md);
    }
    if (call->grad_rejected_emb.data != NULL && !rpo_call_is_paired(call)) {
        if (r != NULL && r->grad_f != NULL)
            rpo_out_store(call->grad_rejected_emb, 0, r->grad_f, nd);
        else
            rpo_out_zero(call->grad_rejected_emb, 0, nd);
    }
}

static void store_sinkhorn_run(rpo_metrics *metrics, const rpo_sinkhorn_run *run)
{
    metrics->sinkhorn_iterations = (double)run->iterations;
    metrics->sinkhorn_error = run->error;
}

static void store_weight_shape(rpo_metrics *metrics, const rpo_metrics *shape)
{
    metrics->effective_contrasts = shape->effective_contrasts;
    metrics->diagonal_weight = shape->diagonal_weight;
}

static void write_loss(rpo_ctx *ctx, const rpo_call *call,
                       const rpo_loss_result *r, const rpo_sinkhorn_run *run)
{
    if (call->loss.data != NULL && !call->is_row_block)
        rpo_out_store(call->loss, 0, &r->loss, 1);
    if (call->partial_stats.data != NULL)
        rpo_out_store(call->partial_stats, 0, r->partial, RPO_PARTIAL_COUNT);
    if (call->grad_chosen.data != NULL)
        rpo_out_store(call->grad_chosen, 0, r->grad_a, call->m);
    if (call->grad_rejected.data != NULL)
        rpo_out_store(call->grad_rejected, 0, r->grad_b, call->n);
    write_emb_grad(call, r);
    /* a row block's metrics are shares, not the problem's: they go to
     * partial_stats only, but for the shape of W, which partial_stats
     * (whose length is fixed since 1.2) has no room for */
    if (!call->is_row_block) {
        ctx->last = r->metrics;
        store_sinkhorn_run(&ctx->last, run);
    } else {
        store_weight_shape(&ctx->last, &r->metrics);
    }
}

/* M == 0 or N == 0: there is no contrast. The loss is 0, the gradients of
 * the side that has rows are 0, and so are the metrics. */
static int finish_empty(rpo_ctx *ctx, const rpo_call *call)
{
    static const rpo_metrics zero_metrics;
    if (call->kind == RPO_CALL_WEIGHTS || call->is_row_block)
        store_weight_shape(&ctx->last, &zero_metrics);
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_OK;
    const double zero = 0.0;
    if (call->loss.data != NULL && !call->is_row_block)
        rpo_out_store(call->loss, 0, &zero, 1);
    if (call->partial_stats.data != NULL)
        rpo_out_zero(call->partial_stats, 0, RPO_PARTIAL_COUNT);
    if (call->grad_chosen.data != NULL)
        rpo_out_zero(call->grad_chosen, 0, call->m);
    if (call->grad_rejected.data != NULL)
        rpo_out_zero(call->grad_rejected, 0, call->n);
    write_emb_grad(call, NULL);
    if (!call->is_row_block)
        memset(&ctx->last, 0, sizeof ctx->last);
    return RPO_OK;
}

int rpo_run(rpo_ctx *ctx, const rpo_call *call)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    const rpo_config cfg = rpo_config_of(ctx);
    return rpo_run_configured(ctx, &cfg, call);
}

int rpo_run_configured(rpo_ctx *ctx, const rpo_config *cfg, const rpo_call *call)
{
    rpo_detail_clear(ctx);
    int status = rpo_validate_call(ctx, call, rpo_call_weighting(cfg, call));
    if (status == RPO_OK)
        status = rpo_validate_settings(ctx, cfg, call);
    if (status != RPO_OK)
        return status;
    if (call->m == 0 || call->n == 0)
        return call->objective != NULL ? rpo_objective_finish_empty(ctx, cfg, call)
                                       : finish_empty(ctx, call);

    /* Sizes and memory are checked before any input is read: first for
     * the compute type the settings allow, then, if the inputs turn out
     * too large for float, again for double. */
    rpo_input_scan scan = {1, 0.0, 1.0, 1.0};
    rpo_plan p = rpo_plan_call(cfg, call, &scan);
    rpo_layout L;
    status = rpo_plan_reserve(ctx, call, &p, &L);
    if (status != RPO_OK)
        return status;
    scan = rpo_scan_inputs(call);
    if (!scan.finite)
        return fail_nonfinite_log_probs(ctx, call);
    if (call->objective != NULL) {
        status = rpo_objective_check_call(ctx, call);
        if (status != RPO_OK)
            return status;
    }
    if (p.compute_type == RPO_F32 && rpo_compute_type(cfg, call, &scan, p.embedding) != RPO_F32) {
        p = rpo_plan_call(cfg, call, &scan);
        status = rpo_plan_reserve(ctx, call, &p, &L);
        if (status != RPO_OK)
            return status;
    }

    if (call->kind != RPO_CALL_WEIGHTS) {
        status = prepare_log_ratios(ctx, call, &p, &L);
        if (status != RPO_OK)
            return status;
        if (call->objective != NULL)
            rpo_objective_prepare(ctx, call, &p, &L);
    }
    rpo_similarity sim;
    memset(&sim, 0, sizeof sim);
    if (p.uses_sim) {
        status = prepare_similarity(ctx, call, &p, &L, &sim);
        if (status != RPO_OK)
            return status;
        if (p.emb_grad)
            prepare_emb_grad(ctx, call, &p, &L, &sim);
    }
    rpo_weight_source src;
    describe_weights(ctx, cfg, call, &p, &L, &sim, &src);
    const rpo_stream stream = {ctx, cfg, call, &p, &L, &src};
    rpo_sinkhorn_run run = {0, 0.0};
    if (p.weighting == RPO_WEIGHTING_SINKHORN)
        run = prepare_sinkhorn(&stream);
    if (call->kind == RPO_CALL_WEIGHTS) {
        rpo_stream_weights(&stream);
        if (p.weighting == RPO_WEIGHTING_SINKHORN)
            store_sinkhorn_run(&ctx->last, &run);
        if (!call->similarity_only) {
            rpo_metrics shape;
            rpo_weight_shape_metrics(&stream, &shape);
            store_weight_shape(&ctx->last, &shape);
        }
        return RPO_OK;
    }

    rpo_loss_result result;
    rpo_stream_loss(&stream, &result);
    status = check_range(ctx, call, &result);
    const double *a = rpo_scratch_at(ctx, L.a), *b = rpo_scratch_at(ctx, L.b);
    if (status == RPO_OK && call->objective != NULL)
        status = rpo_objective_check_range(ctx, cfg, call, &result, a, b);
    if (status != RPO_OK)
        return status;
    write_loss(ctx, call, &result, &run);
    if (call->objective != NULL)
        rpo_objective_write(cfg, call, &result, a, b);
    return RPO_OK;
}
