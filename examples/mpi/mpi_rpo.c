/*
 * One RPO contrast matrix across MPI ranks (data parallelism).
 *
 * Each rank holds a shard of the batch: its own chosen responses (rows) and
 * its own rejected responses (columns), with their prompt embeddings. Per
 * training step:
 *
 *   1. all-gather the rejected log-probs and embeddings, so that every rank
 *      sees all N columns (a few numbers per response: cheap);
 *   2. rpo_loss_rows_f64 on this rank's chosen rows against all columns,
 *      with the rows' global offset (an exclusive scan) and M_total;
 *   3. one MPI_Allreduce (sum) of [partial stats | partial dL/d rejected |
 *      partial dL/d rejected embeddings];
 *   4. every rank now holds the loss and metrics of the whole batch, the
 *      gradients of its own chosen rows (complete after step 2) and, from
 *      the reduced vector, those of its own rejected columns.
 *
 * SINKHORN weights couple all rows, so they take one more gather (the
 * chosen embeddings), the global plan from rpo_weights_f64 on every rank,
 * and rpo_loss_rows_weighted_f64 on this rank's rows of it.
 *
 * To show that nothing is lost, each scenario is also computed by one
 * process on the whole batch; the program prints the largest difference
 * (absolute, relative for values above 1) and fails if it exceeds 1e-12.
 *
 *   mpirun -np 3 build/examples/mpi/mpi_rpo
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <rpo.h>

#define D 8                 /* prompt embedding width        */
#define TOLERANCE 1e-12

typedef struct scenario {
    const char *name;
    int weighting, placement, loss, logit_scale, reduction;
    double label_smoothing;
    int paired;             /* chosen i and rejected i share a prompt */
} scenario;

static const scenario scenarios[] = {
    {"embedding, unpaired, sigmoid", RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
     RPO_LOSS_SIGMOID, RPO_LOGIT_SCALE_ROW_SUM, RPO_REDUCTION_MEAN, 0.0, 0},
    {"embedding, paired, exo_pair, row-mean scale", RPO_WEIGHTING_EMBEDDING,
     RPO_PLACEMENT_AUTO, RPO_LOSS_EXO_PAIR, RPO_LOGIT_SCALE_ROW_MEAN,
     RPO_REDUCTION_MEAN, 1e-3, 1},
    {"diagonal, paired, hinge", RPO_WEIGHTING_DIAGONAL, RPO_PLACEMENT_AUTO,
     RPO_LOSS_HINGE, RPO_LOGIT_SCALE_ROW_SUM, RPO_REDUCTION_MEAN, 0.0, 1},
    {"uniform, unpaired, ipo, sum reduction", RPO_WEIGHTING_UNIFORM,
     RPO_PLACEMENT_AUTO, RPO_LOSS_IPO, RPO_LOGIT_SCALE_ROW_SUM,
     RPO_REDUCTION_SUM, 0.0, 0},
    {"sinkhorn, unpaired, robust", RPO_WEIGHTING_SINKHORN, RPO_PLACEMENT_AUTO,
     RPO_LOSS_ROBUST, RPO_LOGIT_SCALE_ROW_SUM, RPO_REDUCTION_MEAN, 0.1, 0},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

static int rank, world;

static void check(int status, const char *what)
{
    if (status != RPO_OK) {
        fprintf(stderr, "rank %d: %s: %s\n", rank, what, rpo_status_string(status));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
}

static void *alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    if (p == NULL) {
        fprintf(stderr, "rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

/* A deterministic batch, so every rank can also build the whole of it for
 * the single-process comparison. */
static double uniform(unsigned long long *state, double lo, double hi)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (double)(*state >> 11) * 0x1p-53;
}

/* How many rows each rank holds, and where its rows start. */
typedef struct shard {
    int count[64], start[64];
    size_t total;
} shard;

static shard make_shard(int base, int spread)
{
    shard s;
    s.total = 0;
    for (int r = 0; r < world; r++) {
        s.count[r] = base + (r * 7 + spread) % 3;   /* uneven on purpose */
        s.start[r] = (int)s.total;
        s.total += (size_t)s.count[r];
    }
    return s;
}

/* The whole batch (what a single process would see). */
typedef struct batch {
    size_t m, n;
    double *pc, *rc, *pr, *rr, *ce, *re;
} batch;

static batch make_batch(size_t m, size_t n, int paired, unsigned long long seed)
{
    batch b = {m, n, NULL, NULL, NULL, NULL, NULL, NULL};
    b.pc = alloc(m, sizeof *b.pc);  b.rc = alloc(m, sizeof *b.rc);
    b.pr = alloc(n, sizeof *b.pr);  b.rr = alloc(n, sizeof *b.rr);
    b.ce = alloc(m * D, sizeof *b.ce);
    b.re = alloc(n * D, sizeof *b.re);
    /* sequence log-probs, the policy a little away from the reference */
    for (size_t i = 0; i < m; i++) {
        b.rc[i] = uniform(&seed, -40.0, -10.0);
        b.pc[i] = b.rc[i] + uniform(&seed, -3.0, 3.0);
    }
    for (size_t j = 0; j < n; j++) {
        b.rr[j] = uniform(&seed, -40.0, -10.0);
        b.pr[j] = b.rr[j] + uniform(&seed, -3.0, 3.0);
    }
    for (size_t k = 0; k < m * D; k++)
        b.ce[k] = uniform(&seed, -1.0, 1.0);
    if (paired)
        memcpy(b.re, b.ce, m * D * sizeof *b.re);   /* one prompt per pair */
    else
        for (size_t k = 0; k < n * D; k++)
            b.re[k] = uniform(&seed, -1.0, 1.0);
    return b;
}

static void free_batch(batch *b)
{
    free(b->pc); free(b->rc); free(b->pr); free(b->rr); free(b->ce); free(b->re);
}

/* All ranks' pieces of `width` doubles per row, in rank order. */
static void all_gather(const double *mine, const shard *s, int width, double *all)
{
    int counts[64], displs[64];
    for (int r = 0; r < world; r++) {
        counts[r] = s->count[r] * width;
        displs[r] = s->start[r] * width;
    }
    MPI_Allgatherv(mine, counts[rank], MPI_DOUBLE, all, counts, displs,
                   MPI_DOUBLE, MPI_COMM_WORLD);
}

/* The largest |distributed - single process|, relative for values above
 * 1 in magnitude (a sum-reduced loss is large; its rounding grows along). */
static double worst = 0.0;

static void compare(const double *got, const double *want, size_t count)
{
    for (size_t k = 0; k < count; k++)
        worst = fmax(worst, fabs(got[k] - want[k]) / fmax(1.0, fabs(want[k])));
}

static rpo_ctx *context_for(const scenario *sc)
{
    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL)
        check(RPO_ERR_NOMEM, "rpo_ctx_create");
    check(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, sc->weighting), "weighting");
    check(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, sc->placement), "placement");
    check(rpo_ctx_set(ctx, RPO_PARAM_LOSS, sc->loss), "loss");
    check(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, sc->label_smoothing), "smoothing");
    check(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, sc->logit_scale), "logit scale");
    check(rpo_ctx_set(ctx, RPO_PARAM_REDUCTION, sc->reduction), "reduction");
    check(rpo_ctx_set(ctx, RPO_PARAM_BETA, 0.2), "beta");
    return ctx;
}

static void run_scenario(const scenario *sc, unsigned long long seed)
{
    const shard rows = make_shard(3, 0);
    const shard cols = sc->paired ? rows : make_shard(2, 1);
    batch all = make_batch(rows.total, cols.total, sc->paired, seed);
    const size_t m = (size_t)rows.count[rank], n_mine = (size_t)cols.count[rank];
    const size_t i0 = (size_t)rows.start[rank], j0 = (size_t)cols.start[rank];
    const size_t n = cols.total, m_total = rows.total;
    rpo_ctx *ctx = context_for(sc);

    /* What this rank holds: its rows and its columns. */
    const double *pc = all.pc + i0, *rc = all.rc + i0, *ce = all.ce + i0 * D;
    const double *pr_mine = all.pr + j0, *rr_mine = all.rr + j0;
    const double *re_mine = all.re + j0 * D;

    /* 1. Gather every rank's rejected responses. */
    double *pr = alloc(n, sizeof *pr), *rr = alloc(n, sizeof *rr);
    double *re = alloc(n * D, sizeof *re);
    all_gather(pr_mine, &cols, 1, pr);
    all_gather(rr_mine, &cols, 1, rr);
    all_gather(re_mine, &cols, D, re);

    /* 2. This rank's rows; 3. one all-reduce of the partial outputs. */
    const size_t reduce_len = RPO_PARTIAL_COUNT + n + n * D;
    double *reduced = alloc(reduce_len, sizeof *reduced);
    double *stats = reduced, *grad_pr = reduced + RPO_PARTIAL_COUNT;
    double *grad_re = grad_pr + n;
    double *grad_pc = alloc(m, sizeof *grad_pc), *grad_ce = alloc(m * D, sizeof *grad_ce);
    if (sc->weighting == RPO_WEIGHTING_SINKHORN) {
        double *ce_all = alloc(m_total * D, sizeof *ce_all);
        double *plan = alloc(m_total * n, sizeof *plan);
        all_gather(ce, &rows, D, ce_all);
        check(rpo_weights_f64(ctx, m_total, n, D, ce_all, re, plan), "rpo_weights_f64");
        check(rpo_loss_rows_weighted_f64(ctx, m_total, i0, m, pc, rc, n, pr, rr,
                                         plan + i0 * n, grad_pc, stats, grad_pr),
              "rpo_loss_rows_weighted_f64");
        free(ce_all);
        free(plan);
    } else {
        check(rpo_loss_rows_f64(ctx, m_total, i0, m, pc, rc, n, pr, rr, D, ce, re,
                                grad_pc, grad_ce, stats, grad_pr, grad_re),
              "rpo_loss_rows_f64");
    }
    MPI_Allreduce(MPI_IN_PLACE, reduced, (int)reduce_len, MPI_DOUBLE, MPI_SUM,
                  MPI_COMM_WORLD);

    /* 4. This rank's results, against one process on the whole batch. */
    double loss, want_stats[RPO_PARTIAL_COUNT];
    double *want_pc = alloc(m_total, sizeof *want_pc), *want_pr = alloc(n, sizeof *want_pr);
    double *want_ce = alloc(m_total * D, sizeof *want_ce);
    double *want_re = alloc(n * D, sizeof *want_re);
    if (sc->weighting == RPO_WEIGHTING_SINKHORN)
        check(rpo_loss_f64(ctx, m_total, all.pc, all.rc, n, all.pr, all.rr, D,
                           all.ce, all.re, &loss, want_pc, want_pr), "rpo_loss_f64");
    else
        check(rpo_loss_embed_grad_f64(ctx, m_total, all.pc, all.rc, n, all.pr, all.rr,
                                      D, all.ce, sc->paired ? NULL : all.re, &loss,
                                      want_pc, want_pr, want_ce, want_re),
              "rpo_loss_embed_grad_f64");
    const int stat_keys[RPO_PARTIAL_COUNT] = {
        RPO_STAT_LOSS, RPO_STAT_REWARD_CHOSEN, RPO_STAT_REWARD_REJECTED,
        RPO_STAT_MARGIN, RPO_STAT_ACCURACY};
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
        check(rpo_ctx_stat(ctx, stat_keys[k], &want_stats[k]), "rpo_ctx_stat");
    compare(stats, want_stats, RPO_PARTIAL_COUNT);
    compare(grad_pc, want_pc + i0, m);
    compare(grad_pr + j0, want_pr + j0, n_mine);
    if (sc->weighting != RPO_WEIGHTING_SINKHORN) {
        if (sc->paired)   /* pair i's one embedding played both roles */
            for (size_t k = 0; k < m * D; k++)
                grad_ce[k] += grad_re[i0 * D + k];
        else
            compare(grad_re + j0 * D, want_re + j0 * D, n_mine * D);
        compare(grad_ce, want_ce + i0 * D, m * D);
    }
    if (rank == 0)
        printf("%-46s M %zu N %zu  loss %.12f\n", sc->name, m_total, n,
               stats[RPO_PARTIAL_LOSS]);

    free(want_pc); free(want_pr); free(want_ce); free(want_re);
    free(grad_pc); free(grad_ce); free(reduced);
    free(pr); free(rr); free(re);
    free_batch(&all);
    rpo_ctx_free(ctx);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world > 64) {
        if (rank == 0)
            fprintf(stderr, "at most 64 ranks\n");
        MPI_Finalize();
        return 1;
    }
    for (size_t s = 0; s < N_SCENARIOS; s++)
        run_scenario(&scenarios[s], 1000ull + s);
    MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    const int ok = worst <= TOLERANCE;
    if (rank == 0)
        printf("%d ranks: largest difference from a single process: %.3g (%s)\n",
               world, worst, ok ? "ok" : "FAILED");
    MPI_Finalize();
    return ok ? 0 : 1;
}
