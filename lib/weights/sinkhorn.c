/* Log-domain Sinkhorn iterations for the column potentials of the plan. */
#include <float.h>
#include <math.h>

#include "sinkhorn.h"
#include "threads.h"

/* f_i = -eps log m - LSE_j(g_j + cos_ij) for rows i0 .. i1 - 1. */
static void update_rows(const rpo_kernels *k, const double *cos, size_t m,
                        size_t n, double eps, const double *g, double *f,
                        size_t i0, size_t i1)
{
    const double eps_log_m = eps * log((double)m);
    k->lse_rows(i1 - i0, n, cos + i0 * n, n, g, eps, f + i0);
    for (size_t i = i0; i < i1; i++)
        f[i] = -eps_log_m - f[i];
}

/* g_next_j = -eps log n - LSE_i(f_i + cos_ij) for columns j0 .. j1 - 1.
 * The kernel reads the matrix along its rows, and every column sums over i
 * in the same order whatever the columns around it. */
static void update_columns(const rpo_kernels *k, const double *cos, size_t m,
                           size_t n, double eps, const double *f,
                           double *g_next, double *col_max, double *col_sum,
                           size_t j0, size_t j1)
{
    const double eps_log_n = eps * log((double)n);
    k->lse_columns(m, j1 - j0, cos + j0, n, f, eps, col_max + j0, col_sum + j0);
    for (size_t j = j0; j < j1; j++)
        g_next[j] = -eps_log_n - (col_max[j] + eps * log(col_sum[j]));
}

/* One half-iteration spread over the workers: the rows of f, or the
 * columns of g_next, cut into slices. Each potential is computed whole by
 * one worker, in the same order whatever the slicing, so the results are
 * the same for any number of workers. */
typedef struct half_step {
    const rpo_kernels *k;
    const double *cos;
    size_t m, n;
    double eps;
    const double *g;
    double *f, *g_next, *col_max, *col_sum;
    size_t per_slice;
} half_step;

static size_t slice_end(const half_step *h, size_t item, size_t count)
{
    const size_t end = (item + 1) * h->per_slice;
    return end < count ? end : count;
}

static void rows_slice(void *arg, unsigned worker, size_t item)
{
    const half_step *h = arg;
    (void)worker;
    update_rows(h->k, h->cos, h->m, h->n, h->eps, h->g, h->f, item * h->per_slice,
                slice_end(h, item, h->m));
}

static void columns_slice(void *arg, unsigned worker, size_t item)
{
    const half_step *h = arg;
    (void)worker;
    update_columns(h->k, h->cos, h->m, h->n, h->eps, h->f, h->g_next, h->col_max,
                   h->col_sum, item * h->per_slice, slice_end(h, item, h->n));
}

/* Runs slice over count rows or columns: one slice for a lone worker
 * (the plain loops), four per worker otherwise to even out their loads. */
static void run_sliced(half_step *h, void (*slice)(void *, unsigned, size_t),
                       size_t count, unsigned workers)
{
    const size_t slices = workers > 1 ? 4 * (size_t)workers : 1;
    h->per_slice = (count + slices - 1) / slices;
    rpo_ordered_work work = {slice, rpo_nothing_to_commit, h};
    rpo_run_ordered(&work, (count + h->per_slice - 1) / h->per_slice, workers);
}

rpo_sinkhorn_run rpo_sinkhorn(const double *cos, size_t m, size_t n,
                              double epsilon, size_t max_iters, double tol,
                              double *g, double *f, double *g_next,
                              double *col_max, double *col_sum,
                              const rpo_kernels *k, unsigned workers)
{
    rpo_sinkhorn_run run = {0, 0.0};
    half_step h = {k, cos, m, n, epsilon, g, f, g_next, col_max, col_sum, 0};
    for (size_t j = 0; j < n; j++)
        g[j] = 0.0;
    for (;;) {
        run_sliced(&h, rows_slice, m, workers);
        run_sliced(&h, columns_slice, n, workers);
        run.iterations++;
        /* With exact rows, N times column j's sum is
         * exp((g_j - g_next_j) / eps): g_next would make it exactly 1. */
        run.error = 0.0;
        for (size_t j = 0; j < n; j++)
            run.error = fmax(run.error, fabs(expm1((g[j] - g_next[j]) / epsilon)));
        /* a tiny epsilon far from convergence gives exp(+large): report
         * the largest double rather than infinity, which is no statistic */
        run.error = fmin(run.error, DBL_MAX);
        if (run.error <= tol || run.iterations >= max_iters)
            return run;
        for (size_t j = 0; j < n; j++)
            g[j] = g_next[j];
    }
}
