/* Plans scratch, prepares inputs, streams row blocks, writes results. */
#include <string.h>

#include "contrast.h"
#include "embed.h"
#include "engine.h"
#include "rpo.h"
#include "validate.h"
#include "weights.h"

/* A row block's weights take about this many doubles (128 KiB): small
 * enough to stay in a core's L2 cache between the weight and contrast
 * passes, large enough to amortise the loop overhead. */
#define BLOCK_DOUBLES 16384

/* Where each array lives in the context's scratch (byte offsets). */
typedef struct scratch_layout {
    size_t a, b;            /* (M), (N) log-ratios                   */
    size_t row_g, col_g;    /* (M), (N) unscaled gradient sums       */
    size_t e, f;            /* (M, D), (N, D) normalised embeddings  */
    size_t w;               /* (block_rows, N) one block of weights  */
    size_t block_rows;
} scratch_layout;

static size_t block_rows_for(size_t m, size_t n)
{
    size_t rows = n < BLOCK_DOUBLES ? BLOCK_DOUBLES / n : 1;
    return rows < m ? rows : m;
}

static int uses_embeddings(const rpo_call *call, int weighting)
{
    return call->kind != RPO_CALL_LOSS_WEIGHTED &&
           weighting == RPO_WEIGHTING_EMBEDDING;
}

static scratch_layout plan_scratch(const rpo_call *call, int weighting,
                                   rpo_scratch_plan *plan)
{
    const size_t m = call->m, n = call->n, d = call->d;
    const size_t D = sizeof(double);
    scratch_layout L;
    memset(&L, 0, sizeof L);
    L.block_rows = block_rows_for(m, n);
    if (call->kind != RPO_CALL_WEIGHTS) {
        L.a = rpo_scratch_add(plan, m, D);
        L.b = rpo_scratch_add(plan, n, D);
        L.row_g = rpo_scratch_add(plan, m, D);
        L.col_g = rpo_scratch_add(plan, n, D);
    }
    if (uses_embeddings(call, weighting)) {
        L.e = rpo_scratch_add(plan, m * d, D);
        L.f = rpo_call_is_paired(call) ? L.e : rpo_scratch_add(plan, n * d, D);
    }
    L.w = rpo_scratch_add(plan, L.block_rows * n, D);
    return L;
}

/* Normalises the embeddings into scratch and describes where W comes from. */
static int prepare_weights(const rpo_ctx *ctx, const rpo_call *call,
                           const scratch_layout *L, rpo_weight_source *src)
{
    memset(src, 0, sizeof *src);
    src->weighting = call->kind == RPO_CALL_LOSS_WEIGHTED ? RPO_WEIGHTING_CALLER
                                                          : rpo_weighting(ctx);
    src->alpha = ctx->param[RPO_PARAM_ALPHA];
    src->tau = ctx->param[RPO_PARAM_TAU];
    src->caller = call->weights_in;
    if (src->weighting != RPO_WEIGHTING_EMBEDDING)
        return RPO_OK;
    double *e = rpo_scratch_at(ctx, L->e);
    double *f = rpo_scratch_at(ctx, L->f);
    if (!rpo_normalize_rows(call->chosen_emb, call->m, call->d, e))
        return RPO_ERR_NONFINITE;
    if (f != e && !rpo_normalize_rows(call->rejected_emb, call->n, call->d, f))
        return RPO_ERR_NONFINITE;
    src->d = call->d;
    src->e = e;
    src->f = f;
    return RPO_OK;
}

static int stream_weights(rpo_ctx *ctx, const rpo_call *call,
                          const scratch_layout *L, const rpo_weight_source *src)
{
    const size_t m = call->m, n = call->n;
    double *w = rpo_scratch_at(ctx, L->w);
    for (size_t i0 = 0; i0 < m; i0 += L->block_rows) {
        size_t rows = m - i0 < L->block_rows ? m - i0 : L->block_rows;
        (void)rpo_weight_rows(src, i0, rows, n, w); /* cannot fail here */
        rpo_out_store(call->weights_out, i0 * n, w, rows * n);
    }
    return RPO_OK;
}

/* Scaled results of a loss call, in double, before they are written. */
typedef struct loss_result {
    double loss;
    double *grad_a;   /* (M) in scratch, or NULL when not wanted */
    double *grad_b;   /* (N) in scratch, or NULL when not wanted */
    rpo_metrics metrics;
} loss_result;

static double mean_of(const double *x, size_t count)
{
    double s = 0.0;
    for (size_t k = 0; k < count; k++)
        s += x[k];
    return s / (double)count;
}

static int finite(double x)
{
    return x - x == 0.0;
}

static int stream_loss(rpo_ctx *ctx, const rpo_call *call,
                       const scratch_layout *L, const rpo_weight_source *src,
                       loss_result *out)
{
    const size_t m = call->m, n = call->n;
    const int want_grad = call->grad_chosen.data != NULL ||
                          call->grad_rejected.data != NULL;
    double *a = rpo_scratch_at(ctx, L->a);
    double *b = rpo_scratch_at(ctx, L->b);
    double *row_g = rpo_scratch_at(ctx, L->row_g);
    double *col_g = rpo_scratch_at(ctx, L->col_g);
    double *w = rpo_scratch_at(ctx, L->w);

    rpo_contrast c;
    c.n = n;
    c.a = a;
    c.b = b;
    c.beta = ctx->param[RPO_PARAM_BETA];
    c.logit = rpo_resolved_placement(ctx) == RPO_PLACEMENT_LOGIT;
    c.want_loss = call->loss.data != NULL;
    c.want_grad = want_grad;

    rpo_sums sums = {0.0, 0.0, 0.0};
    if (want_grad)
        memset(col_g, 0, n * sizeof *col_g);
    for (size_t i0 = 0; i0 < m; i0 += L->block_rows) {
        size_t rows = m - i0 < L->block_rows ? m - i0 : L->block_rows;
        int status = rpo_weight_rows(src, i0, rows, n, w);
        if (status != RPO_OK)
            return status;
        rpo_contrast_rows(&c, i0, rows, w, &sums, row_g + i0, col_g);
    }

    /* mean over rows (or their sum), and the 1/N of logit placement */
    const double rows_scale =
        rpo_reduction(ctx) == RPO_REDUCTION_MEAN ? 1.0 / (double)m : 1.0;
    const double pair_scale = c.logit ? rows_scale / (double)n : rows_scale;
    const double grad_scale = -c.beta * pair_scale;
    out->loss = sums.loss * pair_scale;
    out->grad_a = out->grad_b = NULL;
    if (want_grad) {
        for (size_t i = 0; i < m; i++)
            row_g[i] *= grad_scale;
        for (size_t j = 0; j < n; j++)
            col_g[j] *= -grad_scale;
        out->grad_a = row_g;
        out->grad_b = col_g;
    }
    out->metrics.loss = c.want_loss ? out->loss : 0.0;
    out->metrics.reward_chosen = c.beta * mean_of(a, m);
    out->metrics.reward_rejected = c.beta * mean_of(b, n);
    out->metrics.margin = c.beta * (sums.margin / (double)m);
    out->metrics.accuracy = sums.accuracy / (double)m;
    return RPO_OK;
}

/* RPO_ERR_RANGE unless every result is finite in the caller's type. */
static int check_range(const rpo_call *call, const loss_result *r)
{
    const rpo_metrics *s = &r->metrics;
    if (!(finite(s->loss) && finite(s->reward_chosen) &&
          finite(s->reward_rejected) && finite(s->margin) &&
          finite(s->accuracy)))
        return RPO_ERR_RANGE;
    if (call->loss.data != NULL && !rpo_out_fits(call->loss.type, &r->loss, 1))
        return RPO_ERR_RANGE;
    /* Both gradients are computed when either is wanted; only the ones
     * the caller asked for must fit (a float32 grad_chosen beyond FLT_MAX
     * must not fail a call that wants grad_rejected alone). */
    if (call->grad_chosen.data != NULL &&
        !rpo_out_fits(call->grad_chosen.type, r->grad_a, call->m))
        return RPO_ERR_RANGE;
    if (call->grad_rejected.data != NULL &&
        !rpo_out_fits(call->grad_rejected.type, r->grad_b, call->n))
        return RPO_ERR_RANGE;
    return RPO_OK;
}

static void write_loss(rpo_ctx *ctx, const rpo_call *call, const loss_result *r)
{
    if (call->loss.data != NULL)
        rpo_out_store(call->loss, 0, &r->loss, 1);
    if (call->grad_chosen.data != NULL)
        rpo_out_store(call->grad_chosen, 0, r->grad_a, call->m);
    if (call->grad_rejected.data != NULL)
        rpo_out_store(call->grad_rejected, 0, r->grad_b, call->n);
    ctx->last = r->metrics;
}

/* M == 0 or N == 0: there is no contrast. The loss is 0, the gradients of
 * the side that has rows are 0, and so are the metrics. */
static int finish_empty(rpo_ctx *ctx, const rpo_call *call)
{
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_OK;
    const double zero = 0.0;
    if (call->loss.data != NULL)
        rpo_out_store(call->loss, 0, &zero, 1);
    if (call->grad_chosen.data != NULL)
        rpo_out_zero(call->grad_chosen, 0, call->m);
    if (call->grad_rejected.data != NULL)
        rpo_out_zero(call->grad_rejected, 0, call->n);
    memset(&ctx->last, 0, sizeof ctx->last);
    return RPO_OK;
}

static int prepare_log_ratios(rpo_ctx *ctx, const rpo_call *call,
                              const scratch_layout *L)
{
    int finite_inputs =
        rpo_log_ratios(call->policy_chosen, call->ref_chosen, call->m,
                       rpo_scratch_at(ctx, L->a)) &&
        rpo_log_ratios(call->policy_rejected, call->ref_rejected, call->n,
                       rpo_scratch_at(ctx, L->b));
    return finite_inputs ? RPO_OK : RPO_ERR_NONFINITE;
}

int rpo_run(rpo_ctx *ctx, const rpo_call *call)
{
    if (ctx == NULL)
        return RPO_ERR_NULL_POINTER;
    const int weighting = rpo_weighting(ctx);
    int status = rpo_validate_call(call, weighting);
    if (status != RPO_OK)
        return status;
    if (call->m == 0 || call->n == 0)
        return finish_empty(ctx, call);

    rpo_scratch_plan plan = {0, 0};
    scratch_layout L = plan_scratch(call, weighting, &plan);
    status = rpo_scratch_reserve(ctx, &plan);
    if (status != RPO_OK)
        return status;

    rpo_weight_source src;
    if (call->kind != RPO_CALL_WEIGHTS)
        status = prepare_log_ratios(ctx, call, &L);
    if (status == RPO_OK)
        status = prepare_weights(ctx, call, &L, &src);
    if (status != RPO_OK)
        return status;
    if (call->kind == RPO_CALL_WEIGHTS)
        return stream_weights(ctx, call, &L, &src);

    loss_result result;
    status = stream_loss(ctx, call, &L, &src, &result);
    if (status == RPO_OK)
        status = check_range(call, &result);
    if (status == RPO_OK)
        write_loss(ctx, call, &result);
    return status;
}
