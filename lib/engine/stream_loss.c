/* The loss, its gradients and metrics, streamed by row blocks (plan.h). */
#include <string.h>

#include "embed_grad.h"
#include "objective_pairs.h"
#include "pair_loss.h"
#include "pairs_family.h"
#include "pairs_scalar.h"
#include "rpo.h"
#include "stream.h"
#include "threads.h"

typedef struct loss_job {
    const rpo_stream *s;
    rpo_pairs_scalar scalar;   /* for pairs_scalar.c, and the settings   */
    rpo_pairs_family family;   /* for pairs_family.c                     */
    rpo_pair_loss pair;        /* family's per-pair function             */
    rpo_objective_pairs objective; /* an objective's, for objective_pairs.c */
    double pair_scale;         /* dL/d(pair term): the reduction's scale */
    double grad_scale;         /* what the derivatives are scaled by:
                                  pair_scale, or without the reduction
                                  when each row brings its own incoming
                                  gradient (an objective's losses_grad) */
    const void *a_compute, *b_compute;
    double *row_g, *col_g;
    double *row_loss;          /* (M) an objective's per-row losses      */
    const void *wr_compute;    /* (N) its wr for the pairs kernel        */
    const double *wg;          /* (M) its row gradient weights (plan.h)  */
    double *e_hat, *f_hat_t, *de, *df; /* embedding gradients            */
    rpo_sums total;
    rpo_sums item_sums[256];   /* per worker, up to RPO_PARAM_THREADS    */
} loss_job;

/* Weights for pairs_scalar.c: double rows of stride n. */
static const double *widen_rows(const loss_job *job, const void *w, size_t ldw,
                                size_t rows, double *wide)
{
    const size_t n = job->s->call->n;
    if (job->s->p->compute_type == RPO_F64 && ldw == n)
        return w;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            wide[r * n + j] = job->s->p->compute_type == RPO_F64
                                  ? ((const double *)w)[r * ldw + j]
                                  : (double)((const float *)w)[r * ldw + j];
    return wide;
}

/* The generic pairs kernels (an objective's, or the loss family's), and
 * for embedding gradients the softmax and cosine backward of the rows
 * (embed_grad.h); their dL/df^ goes to the worker's df_part, which the
 * commit adds in order. */
static void generic_pairs_stage(loss_job *job, unsigned worker, size_t i0,
                                size_t rows, const double *w, rpo_sums *sums,
                                double *col_part)
{
    const rpo_stream *s = job->s;
    const rpo_layout *L = s->L;
    const size_t n = s->call->n, d = s->call->d;
    double *gw = s->p->emb_grad ? rpo_worker_at(s->ctx, L, worker, L->per_worker.gw) : NULL;
    if (s->call->objective != NULL)
        rpo_objective_pairs_rows(&job->objective, i0, rows, w, sums,
                                 job->row_loss + i0, job->row_g + i0, col_part, gw);
    else
        rpo_pairs_family_rows(&job->family, i0, rows, w, sums, job->row_g + i0, col_part, gw);
    if (gw == NULL)
        return;
    /* the solved temperatures are constants of the backward */
    rpo_softmax_rows_backward(w, gw, rows, n, job->grad_scale, s->src->tau,
                              s->src->target > 0.0 ? s->src->row_tau + i0 : NULL);
    rpo_cosine_backward(s->p->k->dots, gw, rows, n, job->e_hat + i0 * d,
                        job->f_hat_t, d, job->de + i0 * d,
                        rpo_worker_at(s->ctx, L, worker, L->per_worker.df_part),
                        rpo_worker_at(s->ctx, L, worker, L->per_worker.gw_t),
                        rpo_worker_at(s->ctx, L, worker, L->per_worker.e_t));
}

/* The per-pair stage of rows i0 .. i0 + rows - 1 with weights w (row
 * stride ldw), into the worker's sums and column partial: the SIMD pairs
 * kernel for the default loss, or the generic paths of pairs_scalar.c and
 * pairs_family.c. */
static void pair_stage(loss_job *job, unsigned worker, size_t i0, size_t rows,
                       const void *w, size_t ldw)
{
    const rpo_stream *s = job->s;
    const rpo_plan *p = s->p;
    const size_t n = s->call->n;
    double *col_part = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.col_part);
    rpo_sums *sums = &job->item_sums[worker];
    memset(sums, 0, sizeof *sums);
    if (job->scalar.want_grad)
        memset(col_part, 0, n * sizeof *col_part);
    if (p->pairs == RPO_PAIRS_SIMD) {
        rpo_pair_block blk;
        blk.rows = rows;
        blk.n = n;
        blk.a = (const char *)job->a_compute + i0 * p->elem;
        blk.b = job->b_compute;
        blk.w = w;
        blk.ldw = ldw;
        blk.beta = job->scalar.beta;
        blk.smoothing = job->scalar.smoothing;
        blk.logit = job->scalar.logit;
        blk.want_loss = job->scalar.want_loss;
        blk.want_grad = job->scalar.want_grad;
        blk.col_tmp = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.col_tmp);
        blk.sums = sums;
        blk.row_g = job->row_g + i0;
        blk.col_g = col_part;
        blk.col_w = NULL;
        if (s->call->objective != NULL) {  /* the sample weights */
            blk.col_w = job->wr_compute;
            blk.row_w = job->objective.wc + i0;
            blk.row_gw = job->wg + i0;
            blk.row_loss = job->row_loss + i0;
        }
        p->k->pairs(&blk);
    } else {
        double *wide = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.wide);
        const double *wd = widen_rows(job, w, ldw, rows, wide);
        if (p->pairs == RPO_PAIRS_SCALAR)
            rpo_pairs_scalar_rows(&job->scalar, i0, rows, wd, sums, job->row_g + i0,
                                  col_part);
        else
            generic_pairs_stage(job, worker, i0, rows, wd, sums, col_part);
    }
}

/* The walk's rows (rpo_walk_blocks): their per-pair stage. */
static void loss_rows(void *arg, unsigned worker, size_t i0, size_t rows,
                      const void *w, size_t ldw)
{
    pair_stage(arg, worker, i0, rows, w, ldw);
}

/* Partial sums join the totals in order (threads.h). */
static void loss_commit(void *arg, unsigned worker, size_t item)
{
    loss_job *job = arg;
    const rpo_sums *sums = &job->item_sums[worker];
    (void)item;
    job->total.loss += sums->loss;
    job->total.margin += sums->margin;
    job->total.accuracy += sums->accuracy;
    const rpo_stream *s = job->s;
    if (job->scalar.want_grad) {
        const double *col_part = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.col_part);
        for (size_t j = 0; j < s->call->n; j++)
            job->col_g[j] += col_part[j];
    }
    if (s->p->emb_grad) {
        const double *df_part = rpo_worker_at(s->ctx, s->L, worker, s->L->per_worker.df_part);
        for (size_t k = 0; k < s->call->n * s->call->d; k++)
            job->df[k] += df_part[k];
    }
}

static double sum_of(const double *x, size_t count)
{
    double sum = 0.0;
    for (size_t k = 0; k < count; k++)
        sum += x[k];
    return sum;
}

/* An objective's kernel reads the scores and sample weights that
 * engine.c prepared (objective.h). */
static void describe_objective(loss_job *job)
{
    const rpo_stream *s = job->s;
    const rpo_ctx *ctx = s->ctx;
    rpo_objective_pairs *op = &job->objective;
    op->m = s->call->m;
    op->n = s->call->n;
    op->o = s->call->objective;
    op->a = job->scalar.a;
    op->b = job->scalar.b;
    op->sa = rpo_scratch_at(ctx, s->L->sa);
    op->da = rpo_scratch_at(ctx, s->L->da);
    op->sb = rpo_scratch_at(ctx, s->L->sb);
    op->db = rpo_scratch_at(ctx, s->L->db);
    op->wc = rpo_scratch_at(ctx, s->L->wc);
    op->wr = rpo_scratch_at(ctx, s->L->wr);
    op->za = op->o->terms > 0 ? op->sa : op->a;
    op->zb = op->o->terms > 0 ? op->sb : op->b;
    op->logit = job->family.logit;
    op->logit_scale = job->family.logit_scale;
    op->want_grad = job->family.want_grad;
    job->row_loss = rpo_scratch_at(ctx, s->L->row_loss);
    if (s->p->pairs == RPO_PAIRS_SIMD) {
        /* the pairs kernel reads term 0's scores in place of a, b */
        job->a_compute = rpo_scratch_at(ctx, s->L->sa_compute);
        job->b_compute = rpo_scratch_at(ctx, s->L->sb_compute);
        job->wr_compute = rpo_scratch_at(ctx, s->L->wr_compute);
        job->wg = rpo_scratch_at(ctx, s->L->wg);
        job->scalar.smoothing = op->o->pair[0].eps;
    }
}

/* The pairs kernel's sums of term 0 become its term: times its weight,
 * and the chain rule's slopes d score / d policy. */
static void finish_fast_term(const loss_job *job, rpo_loss_result *out)
{
    const rpo_call *call = job->s->call;
    const double weight = call->objective->weight[0];
    out->loss *= weight;
    for (size_t i = 0; i < call->m; i++)
        job->row_loss[i] *= weight;
    if (out->grad_a == NULL)
        return;
    for (size_t i = 0; i < call->m; i++)
        out->grad_a[i] *= weight * job->objective.da[i];
    for (size_t j = 0; j < call->n; j++)
        out->grad_b[j] *= weight * job->objective.db[j];
}

/* After the pair terms: the per-row losses in the loss's units, the SFT
 * term, and the metrics only an objective reports. */
static void finish_objective(const loss_job *job, rpo_loss_result *out)
{
    const rpo_stream *s = job->s;
    const rpo_call *call = s->call;
    const size_t m = call->m, n = call->n;
    const double row_unit = job->scalar.logit ? 1.0 / (double)n : 1.0;
    for (size_t i = 0; i < m; i++)
        job->row_loss[i] *= row_unit;
    rpo_objective_add_sft(call->objective, call->policy_chosen, m,
                          call->is_row_block ? call->m_total : m,
                          s->cfg->reduction == RPO_REDUCTION_SUM, &out->loss,
                          out->grad_a, job->row_loss);
    out->row_loss = job->row_loss;
}

/* Embedding gradients after the last block: the paired matrix plays both
 * roles, then both go back through the normalisation. */
static void finish_emb_grad(const loss_job *job, rpo_loss_result *out)
{
    const rpo_stream *s = job->s;
    const rpo_call *call = s->call;
    const size_t d = call->d;
    double *de = job->de, *df = job->df;
    if (s->p->paired) {
        for (size_t k = 0; k < call->m * d; k++)
            de[k] += df[k];
        df = NULL;
    }
    rpo_normalize_rows_backward(job->e_hat, s->src->sim->e_norm, call->m, d, de);
    if (df != NULL)
        rpo_normalize_rows_backward(rpo_scratch_at(s->ctx, s->L->f_hat),
                                    s->src->sim->f_norm, call->n, d, df);
    out->grad_e = de;
    out->grad_f = df;
}

void rpo_stream_loss(const rpo_stream *s, rpo_loss_result *out)
{
    const rpo_ctx *ctx = s->ctx;
    const rpo_config *cfg = s->cfg;
    const rpo_call *call = s->call;
    const size_t m = call->m, n = call->n, d = call->d;
    /* the global M of a row block (rpo_loss_rows_*), or the call's own */
    const size_t m_total = call->is_row_block ? call->m_total : m;
    loss_job job;
    memset(&job, 0, sizeof job);
    job.s = s;
    job.scalar.n = n;
    job.scalar.a = rpo_scratch_at(ctx, s->L->a);
    job.scalar.b = rpo_scratch_at(ctx, s->L->b);
    job.scalar.beta = rpo_pair_beta(cfg, n);
    job.scalar.smoothing = cfg->sigmoid_eps;
    job.scalar.logit = cfg->logit;
    job.scalar.want_loss = call->loss.data != NULL || call->partial_stats.data != NULL ||
                           call->losses.data != NULL;
    job.scalar.want_grad = call->grad_chosen.data != NULL ||
                           call->grad_rejected.data != NULL;
    job.a_compute = rpo_scratch_at(ctx, s->L->a_compute);
    job.b_compute = rpo_scratch_at(ctx, s->L->b_compute);
    job.row_g = rpo_scratch_at(ctx, s->L->row_g);
    job.col_g = rpo_scratch_at(ctx, s->L->col_g);
    if (job.scalar.want_grad)
        memset(job.col_g, 0, n * sizeof *job.col_g);

    const double beta = cfg->beta;
    job.pair = rpo_pair_loss_make(cfg->loss, beta, cfg->label_smoothing,
                                 cfg->discopop_tau);
    job.family.n = n;
    job.family.a = job.scalar.a;
    job.family.b = job.scalar.b;
    job.family.f = &job.pair;
    job.family.logit = job.scalar.logit;
    job.family.logit_scale = rpo_logit_factor(cfg, n);
    job.family.want_grad = job.scalar.want_grad;
    if (call->objective != NULL)
        describe_objective(&job);

    /* mean over the rows of the whole problem (or their sum), and the 1/N
     * of logit placement */
    const double rows_scale =
        cfg->reduction == RPO_REDUCTION_MEAN ? 1.0 / (double)m_total : 1.0;
    job.pair_scale = job.scalar.logit ? rows_scale / (double)n : rows_scale;
    const int per_row_grad = call->objective != NULL &&
                             call->objective->losses_grad.data != NULL;
    job.grad_scale = !per_row_grad ? job.pair_scale
                     : job.scalar.logit ? 1.0 / (double)n : 1.0;
    if (s->p->emb_grad) {
        job.e_hat = rpo_scratch_at(ctx, s->L->e_hat);
        job.f_hat_t = rpo_scratch_at(ctx, s->L->f_hat_t);
        job.de = rpo_scratch_at(ctx, s->L->de);
        job.df = rpo_scratch_at(ctx, s->L->df);
        memset(job.df, 0, n * d * sizeof *job.df);
    }

    const rpo_block_visitor visitor = {loss_rows, loss_commit, NULL,
                                       s->p->symmetric, &job};
    rpo_walk_blocks(s, &visitor);

    /* the pairs kernels and pairs_scalar.c leave out -beta (rows) and +beta
     * (columns), the pair's beta; the family's and the objective's sums
     * are the derivatives themselves. The metrics take the caller's beta. */
    const int slopes = s->p->pairs == RPO_PAIRS_FAMILY ||
                       s->p->pairs == RPO_PAIRS_OBJECTIVE;
    const double row_unit = slopes ? job.grad_scale : -job.scalar.beta * job.grad_scale;
    const double col_unit = slopes ? job.grad_scale : job.scalar.beta * job.grad_scale;
    out->loss = job.total.loss * job.pair_scale;
    out->grad_a = out->grad_b = out->grad_e = out->grad_f = out->row_loss = NULL;
    if (job.scalar.want_grad) {
        for (size_t i = 0; i < m; i++)
            job.row_g[i] *= row_unit;
        for (size_t j = 0; j < n; j++)
            job.col_g[j] *= col_unit;
        out->grad_a = job.row_g;
        out->grad_b = job.col_g;
    }
    if (s->p->emb_grad)
        finish_emb_grad(&job, out);
    if (call->objective != NULL && s->p->pairs == RPO_PAIRS_SIMD)
        finish_fast_term(&job, out);
    if (call->objective != NULL)
        finish_objective(&job, out);
    memset(&out->metrics, 0, sizeof out->metrics);
    out->metrics.loss = job.scalar.want_loss ? out->loss : 0.0;
    out->metrics.reward_chosen = beta * (sum_of(job.scalar.a, m) / (double)m_total);
    /* a block's share of the rejected mean is its share of the rows */
    out->metrics.reward_rejected = beta * (sum_of(job.scalar.b, n) / (double)n) *
                                   ((double)m / (double)m_total);
    out->metrics.margin = beta * (job.total.margin / (double)m_total);
    out->metrics.accuracy = job.total.accuracy / (double)m_total;
    rpo_weight_shape_metrics(s, &out->metrics);
    if (call->objective != NULL) {
        out->metrics.logps_chosen = rpo_in_mean(call->policy_chosen, m);
        out->metrics.logps_rejected = rpo_in_mean(call->policy_rejected, n);
    }
    out->partial[RPO_PARTIAL_LOSS] = out->metrics.loss;
    out->partial[RPO_PARTIAL_REWARD_CHOSEN] = out->metrics.reward_chosen;
    out->partial[RPO_PARTIAL_REWARD_REJECTED] = out->metrics.reward_rejected;
    out->partial[RPO_PARTIAL_MARGIN] = out->metrics.margin;
    out->partial[RPO_PARTIAL_ACCURACY] = out->metrics.accuracy;
}
