/* Log-domain Sinkhorn iterations for the column potentials of the plan. */
#include <float.h>
#include <math.h>

#include "sinkhorn.h"

/* f_i = -eps log m - LSE_j(g_j + cos_ij), one row at a time. */
static void update_rows(const double *cos, size_t m, size_t n, double eps,
                        const double *g, double *f)
{
    const double log_m = log((double)m);
    for (size_t i = 0; i < m; i++) {
        const double *row = cos + i * n;
        double top = row[0] + g[0];
        for (size_t j = 1; j < n; j++)
            top = fmax(top, row[j] + g[j]);
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += exp((row[j] + g[j] - top) / eps);
        f[i] = -eps * log_m - (top + eps * log(sum));
    }
}

/* g_next_j = -eps log n - LSE_i(f_i + cos_ij), in two row-major passes
 * (column maxima, then sums) so the matrix is read along its rows. */
static void update_columns(const double *cos, size_t m, size_t n, double eps,
                           const double *f, double *g_next, double *col_max,
                           double *col_sum)
{
    const double log_n = log((double)n);
    for (size_t j = 0; j < n; j++) {
        col_max[j] = cos[j] + f[0];
        col_sum[j] = 0.0;
    }
    for (size_t i = 1; i < m; i++)
        for (size_t j = 0; j < n; j++)
            col_max[j] = fmax(col_max[j], cos[i * n + j] + f[i]);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++)
            col_sum[j] += exp((cos[i * n + j] + f[i] - col_max[j]) / eps);
    for (size_t j = 0; j < n; j++)
        g_next[j] = -eps * log_n - (col_max[j] + eps * log(col_sum[j]));
}

rpo_sinkhorn_run rpo_sinkhorn(const double *cos, size_t m, size_t n,
                              double epsilon, size_t max_iters, double tol,
                              double *g, double *f, double *g_next,
                              double *col_max, double *col_sum)
{
    rpo_sinkhorn_run run = {0, 0.0};
    for (size_t j = 0; j < n; j++)
        g[j] = 0.0;
    for (;;) {
        update_rows(cos, m, n, epsilon, g, f);
        update_columns(cos, m, n, epsilon, f, g_next, col_max, col_sum);
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
