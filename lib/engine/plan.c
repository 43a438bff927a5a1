/* Planning a call: compute type, row blocks, threads, scratch layout. */
#include <math.h>
#include <string.h>

#include "objective.h"
#include "pack.h"
#include "plan.h"
#include "rpo.h"
#include "validate.h"
#include "weights.h"

/* A row block's similarities (or weights) take about this much: a few
 * rows of a wide matrix, the whole of a narrow one. Big enough for the
 * product to reuse each packed column tile over many rows, small enough
 * that a worker's block stays in its core's share of the caches. */
#define BLOCK_BYTES ((size_t)2 << 20)
#define BLOCK_ROWS_MAX 512
/* CBLAS repacks its right-hand operand on every call: give it tall blocks. */
#define BLAS_BLOCK_ROWS 512
/* Below about this many multiply-adds plus pair evaluations a call stays on
 * the caller's thread: starting threads would cost more than they save. */
#define SERIAL_WORK 4e6
/* The float32 entry points compute in float when every input, and so every
 * intermediate, stays within these magnitudes (rpo.h, "Precision")... */
#define F32_RANGE 0x1p60
#define F32_PAIR_RANGE 0x1p100
/* ...and the call has about this many multiply-adds plus pair evaluations.
 * Below it a call takes some ten microseconds either way, and double keeps
 * the results of small problems (a toy trainer's, a test's) independent of
 * the CPU's kernels to about 1e-15 instead of 1e-7. */
#define F32_MIN_WORK 1e6

rpo_input_scan rpo_scan_inputs(const rpo_call *call)
{
    rpo_input_scan s = {1, 0.0, 1.0, 1.0};
    if (call->kind == RPO_CALL_WEIGHTS)
        return s;
    const double pc = rpo_in_max_abs(call->policy_chosen, 0, call->m);
    const double pr = rpo_in_max_abs(call->policy_rejected, 0, call->n);
    const double rc = call->ref_chosen.data ? rpo_in_max_abs(call->ref_chosen, 0, call->m) : 0.0;
    const double rr = call->ref_rejected.data ? rpo_in_max_abs(call->ref_rejected, 0, call->n) : 0.0;
    if (call->kind == RPO_CALL_LOSS_WEIGHTED)
        s.w_bound = rpo_in_max_abs(call->weights_in, 0, call->m * call->n);
    s.finite = pc < HUGE_VAL && pr < HUGE_VAL && rc < HUGE_VAL &&
               rr < HUGE_VAL && s.w_bound < HUGE_VAL;
    /* an objective's sample weights multiply each pair's term in the
     * compute type (NaN and infinity are reported by objective.c) */
    if (call->objective != NULL) {
        const rpo_objective *o = call->objective;
        const double wc = o->chosen_weights.data ? rpo_in_max_abs(o->chosen_weights, 0, call->m) : 1.0;
        const double wr = o->rejected_weights.data ? rpo_in_max_abs(o->rejected_weights, 0, call->n) : 1.0;
        /* with losses_grad, g_i also multiplies each pair's derivative */
        const double g = o->losses_grad.data ? rpo_in_max_abs(o->losses_grad, 0, call->m) : 1.0;
        s.sample_bound = wc * wr * (g > 1.0 ? g : 1.0);
    }
    s.z_bound = (pc + rc) + (pr + rr);  /* may overflow: then not float */
    return s;
}

/* Multiply-adds of the similarity product plus pair evaluations, about. */
static double call_work(const rpo_call *call, int embedding)
{
    return (double)call->m * (double)call->n *
           ((embedding ? (double)call->d : 0.0) + 32.0);
}

static int in_range(double x, double lo, double hi)
{
    return x >= lo && x <= hi;
}

/* Float is enough when the caller gave float and no stage can leave
 * float's range: |u| = beta |W| |z| and the softmax's 1 / tau stay far
 * from overflow, and beta, tau keep full precision as floats. */
/* Embedding gradients flow only through the EMBEDDING softmax; the other
 * weightings do not depend on the embeddings (SINKHORN is refused). */
static int computes_emb_grad(const rpo_call *call, int weighting)
{
    return call->kind == RPO_CALL_LOSS && weighting == RPO_WEIGHTING_EMBEDDING &&
           rpo_call_wants_emb_grad(call);
}

/* The per-pair stage (plan.h): the pairs kernels evaluate SIGMOID and
 * ROBUST (their eps: config.h) without dL/dW; every other member of the
 * family, and every call with embedding gradients, runs the family's
 * kernel, and an objective its counterpart. */
static rpo_pairs_kernel pairs_kernel(const rpo_config *cfg, const rpo_call *call,
                                     int emb_grad)
{
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_PAIRS_NONE;
    /* pairs_scalar.c, the GENERIC set's path, knows no sample weights */
    if (call->objective != NULL)
        return emb_grad || cfg->scalar_pairs || !rpo_objective_fast(call->objective)
                   ? RPO_PAIRS_OBJECTIVE
                   : RPO_PAIRS_SIMD;
    if ((cfg->loss != RPO_LOSS_SIGMOID && cfg->loss != RPO_LOSS_ROBUST) || emb_grad)
        return RPO_PAIRS_FAMILY;
    return cfg->scalar_pairs ? RPO_PAIRS_SCALAR : RPO_PAIRS_SIMD;
}

rpo_dtype rpo_compute_type(const rpo_config *cfg, const rpo_call *call,
                           const rpo_input_scan *scan, int embedding)
{
    const rpo_dtype caller = call->kind == RPO_CALL_WEIGHTS
                                 ? call->weights_out.type
                                 : call->policy_chosen.type;
    const int weighting = rpo_call_weighting(cfg, call);
    /* Sinkhorn's iterations and the embeddings' backward run in double */
    if (caller != RPO_F32 || !scan->finite ||
        weighting == RPO_WEIGHTING_SINKHORN || computes_emb_grad(call, weighting))
        return RPO_F64;
    if (call_work(call, embedding) < F32_MIN_WORK)
        return RPO_F64;
    /* solved temperatures stay inside their bracket (contrasts.h), which
     * is inside this range */
    const double tau = cfg->target_contrasts > 0.0 ? 1.0 : cfg->tau;
    if (embedding && !call->similarity_only &&
        !in_range(tau, 1.0 / F32_RANGE, F32_RANGE))
        return RPO_F64;
    if (call->kind == RPO_CALL_WEIGHTS)
        return RPO_F32;
    /* the pair's beta: the logit scale multiplies it in LOGIT placement;
     * the smoothed sigmoid adds eps u, and ROBUST's |eps| grows without
     * bound as its smoothing nears 1/2 */
    const double beta = rpo_pair_beta(cfg, call->n);
    const double eps = fabs(cfg->sigmoid_eps);
    if (!in_range(beta, 1.0 / F32_RANGE, F32_RANGE) || eps > F32_RANGE ||
        scan->z_bound > F32_RANGE || scan->w_bound > F32_RANGE ||
        !(scan->sample_bound <= F32_RANGE) ||
        beta * (eps > 1.0 ? eps : 1.0) * scan->w_bound * scan->z_bound > F32_PAIR_RANGE)
        return RPO_F64;
    return RPO_F32;
}

static size_t block_rows_for(size_t m, size_t n, size_t elem, size_t mr, int blas)
{
    size_t rows = n <= BLOCK_BYTES / elem ? BLOCK_BYTES / (n * elem) : 0;
    if (rows > BLOCK_ROWS_MAX)
        rows = BLOCK_ROWS_MAX;
    if (blas && rows < BLAS_BLOCK_ROWS)
        rows = BLAS_BLOCK_ROWS;
    rows = rows / mr * mr;
    if (rows < mr)
        rows = mr;
    return rows < m ? rows : m;
}

int rpo_call_weighting(const rpo_config *cfg, const rpo_call *call)
{
    if (call->kind == RPO_CALL_LOSS_WEIGHTED)
        return RPO_WEIGHTING_CALLER;
    return call->similarity_only ? RPO_WEIGHTING_EMBEDDING : cfg->weighting;
}

rpo_plan rpo_plan_call(const rpo_config *cfg, const rpo_call *call,
                       const rpo_input_scan *scan)
{
    rpo_plan p;
    memset(&p, 0, sizeof p);
    p.weighting = rpo_call_weighting(cfg, call);
    p.embedding = p.weighting == RPO_WEIGHTING_EMBEDDING;
    p.uses_sim = p.embedding || p.weighting == RPO_WEIGHTING_SINKHORN;
    p.paired = p.uses_sim && rpo_call_is_paired(call);
    p.emb_grad = computes_emb_grad(call, p.weighting);
    p.solves_tau = p.embedding && !call->similarity_only && cfg->target_contrasts > 0.0;
    p.records_shape = !call->similarity_only &&
                      (p.uses_sim || p.weighting == RPO_WEIGHTING_CALLER);
    p.square = (call->is_row_block ? call->m_total : call->m) == call->n;
    p.pairs = pairs_kernel(cfg, call, p.emb_grad);
    p.compute_type = rpo_compute_type(cfg, call, scan, p.embedding);
    p.elem = p.compute_type == RPO_F32 ? sizeof(float) : sizeof(double);
    p.kernels = cfg->kernels;
    p.k = p.compute_type == RPO_F32 ? &cfg->kernels->f32 : &cfg->kernels->f64;
    p.backend = rpo_similarity_backend(call->m, call->n, call->d);
    const int blas = p.uses_sim && p.backend == RPO_SIM_BLAS;
    p.block_rows = block_rows_for(call->m, call->n, p.elem, p.k->mr, blas);
    p.blocks = (call->m + p.block_rows - 1) / p.block_rows;
    /* the half product of paired embeddings serves the EMBEDDING rows;
     * SINKHORN computes its cosines once, whole */
    p.symmetric = p.embedding && p.paired && p.blocks == 1;
    p.shared = p.blocks == 1 || blas;
    p.items_per_block = p.shared ? (p.block_rows + RPO_SUB_BLOCK_ROWS - 1) / RPO_SUB_BLOCK_ROWS : 1;

    const size_t threads = call_work(call, p.embedding) < SERIAL_WORK ? 1 : cfg->threads;
    const size_t units = p.shared ? p.items_per_block : p.blocks;
    p.workers = (unsigned)(threads < units ? threads : units);
    /* One slice per worker would leave the first ones with most of a
     * symmetric product's triangle; four each balance it. A lone worker
     * takes the block whole, reusing each packed column tile over all of
     * its rows. */
    const size_t slices = p.workers > 1 ? 4 * (size_t)p.workers : 1;
    p.slice_rows = (p.block_rows + slices - 1) / slices;
    p.slice_rows = (p.slice_rows + p.k->mr - 1) / p.k->mr * p.k->mr;
    return p;
}

static rpo_layout layout(const rpo_call *call, const rpo_plan *p,
                         rpo_scratch_plan *plan)
{
    const size_t m = call->m, n = call->n, d = call->d, E = p->elem;
    const size_t D = sizeof(double);
    const int loss = call->kind != RPO_CALL_WEIGHTS;
    /* rpo_weights_* writes in place when the output has the compute type */
    const int direct = !loss && call->weights_out.type == p->compute_type;
    rpo_layout L;
    memset(&L, 0, sizeof L);
    if (loss) {
        L.a = rpo_scratch_add(plan, m, D);
        L.b = rpo_scratch_add(plan, n, D);
        L.a_compute = p->compute_type == RPO_F64 ? L.a : rpo_scratch_add(plan, m, E);
        L.b_compute = p->compute_type == RPO_F64 ? L.b : rpo_scratch_add(plan, n, E);
        L.row_g = rpo_scratch_add(plan, m, D);
        L.col_g = rpo_scratch_add(plan, n, D);
    }
    if (p->uses_sim) {
        L.e_norm = rpo_scratch_add(plan, m, D);
        L.f_norm = p->paired ? L.e_norm : rpo_scratch_add(plan, n, D);
        if (p->backend == RPO_SIM_TILES) {
            L.f_tiles = rpo_scratch_add(plan, rpo_packed_count(n, d, p->k->nr), E);
        } else {
            L.e_rows = rpo_scratch_add(plan, m * d, E);
            L.f_rows = p->paired ? L.e_rows : rpo_scratch_add(plan, n * d, E);
        }
    }
    if (p->weighting == RPO_WEIGHTING_UNIFORM)
        L.uniform = rpo_scratch_add(plan, n, E);
    if (p->records_shape) {
        L.row_entropy = rpo_scratch_add(plan, m, D);
        if (p->square)
            L.row_diag = rpo_scratch_add(plan, m, D);
    }
    if (p->solves_tau)
        L.row_tau = rpo_scratch_add(plan, m, D);
    if (p->shared && !direct)
        L.shared_panel = rpo_scratch_add(plan, p->block_rows * n, E);
    if (p->weighting == RPO_WEIGHTING_SINKHORN) {
        L.cos = rpo_scratch_add(plan, m * n, D);
        L.pot_f = rpo_scratch_add(plan, m, D);
        L.pot_g = rpo_scratch_add(plan, n, D);
        L.pot_g_next = rpo_scratch_add(plan, n, D);
        L.col_max = rpo_scratch_add(plan, n, D);
        L.col_sum = rpo_scratch_add(plan, n, D);
    }
    if (p->emb_grad) {
        L.e_hat = rpo_scratch_add(plan, m * d, D);
        L.f_hat = p->paired ? L.e_hat : rpo_scratch_add(plan, n * d, D);
        L.f_hat_t = rpo_scratch_add(plan, d * n, D);
        L.de = rpo_scratch_add(plan, m * d, D);
        L.df = rpo_scratch_add(plan, n * d, D);
    }
    if (loss && call->objective != NULL) {
        const size_t terms = call->objective->terms;
        L.sa = rpo_scratch_add(plan, m, terms * D);
        L.da = rpo_scratch_add(plan, m, terms * D);
        L.sb = rpo_scratch_add(plan, n, terms * D);
        L.db = rpo_scratch_add(plan, n, terms * D);
        L.wc = rpo_scratch_add(plan, m, D);
        L.wg = call->objective->losses_grad.data != NULL ? rpo_scratch_add(plan, m, D) : L.wc;
        L.wr = rpo_scratch_add(plan, n, D);
        L.row_loss = rpo_scratch_add(plan, m, D);
        /* the pairs kernel reads term 0's scores and wr in its type */
        const int narrow = p->pairs == RPO_PAIRS_SIMD && p->compute_type == RPO_F32;
        L.sa_compute = narrow ? rpo_scratch_add(plan, m, E) : L.sa;
        L.sb_compute = narrow ? rpo_scratch_add(plan, n, E) : L.sb;
        L.wr_compute = narrow ? rpo_scratch_add(plan, n, E) : L.wr;
    }

    /* One worker's regions, then as many copies as workers. */
    rpo_scratch_plan w = {0};
    const size_t work_rows = p->shared ? RPO_SUB_BLOCK_ROWS : p->block_rows;
    const size_t product_rows = p->shared ? p->slice_rows : p->block_rows;
    if (!p->shared && !direct)
        L.per_worker.panel = rpo_scratch_add(&w, p->block_rows * n, E);
    if (p->uses_sim && p->backend == RPO_SIM_TILES)
        L.per_worker.sim = rpo_scratch_add(&w, rpo_packed_count(product_rows, d, p->k->mr), E);
    if (loss) {
        L.per_worker.col_part = rpo_scratch_add(&w, n, D);
        L.per_worker.col_tmp = rpo_scratch_add(&w, n, E);
        if (p->pairs != RPO_PAIRS_SIMD)
            L.per_worker.wide = rpo_scratch_add(&w, work_rows * n, D);
        if (p->emb_grad) {
            L.per_worker.gw = rpo_scratch_add(&w, work_rows * n, D);
            L.per_worker.df_part = rpo_scratch_add(&w, n * d, D);
            L.per_worker.gw_t = rpo_scratch_add(&w, n * work_rows, D);
            L.per_worker.e_t = rpo_scratch_add(&w, d * work_rows, D);
        }
    }
    L.worker_bytes = w.bytes;
    L.worker0 = rpo_scratch_add_copies(plan, p->workers, &w);
    return L;
}

int rpo_plan_reserve(rpo_ctx *ctx, const rpo_call *call, const rpo_plan *p,
                     rpo_layout *L)
{
    rpo_scratch_plan plan = {0};
    *L = layout(call, p, &plan);
    if (plan.overflow)
        return rpo_fail(ctx, RPO_ERR_SIZE, "the scratch memory for m = %zu, "
                        "n = %zu, d = %zu overflows size_t", call->m, call->n,
                        call->d);
    return rpo_scratch_reserve(ctx, &plan);
}
