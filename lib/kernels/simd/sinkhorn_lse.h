/*
 * The two halves of a log-domain Sinkhorn iteration (lib/weights/sinkhorn.c), in
 * double: log-sum-exps of the rows and of the columns of x = c + bias,
 *
 *     lse_rows:    out_r = top_r + eps log sum_j exp((x_rj - top_r) / eps),
 *                  x_rj = c_rj + g_j, top_r = max_j x_rj
 *     lse_columns: col_max_j = max_r x_rj, col_sum_j = sum_r exp((x_rj -
 *                  col_max_j) / eps), x_rj = c_rj + f_r
 *
 * Every exponent is <= 0 (exp_nonpos of vmath.h). Each row's sum is formed
 * in vector lanes, then added in a fixed order; each column's sum runs down
 * its rows in order in its own lane, whatever the columns around it, so a
 * caller may cut the columns into strips and get the same bits.
 *
 * Included once, after the double kernels, by instantiate.h.
 */

/* (x - top) / eps as a product with 1 / eps, or a quotient when 1 / eps
 * overflows (eps below 1 / DBL_MAX). */
typedef struct sinkhorn_scale {
    double inv;
    int divide;
} sinkhorn_scale;

static inline sinkhorn_scale sinkhorn_scale_of(double eps)
{
    sinkhorn_scale s;
    s.inv = 1.0 / eps;
    s.divide = !(s.inv <= DBL_MAX);
    return s;
}

static inline vf64 sinkhorn_exp(vf64 x, sinkhorn_scale s, double eps)
{
    return exp_nonpos_f64(s.divide ? x / eps : x * s.inv);
}

/* The same for the ragged end of a row: lanes past it (zeros loaded, whose
 * difference may be positive) take exp(0) and are cleared. */
static inline vf64 sinkhorn_exp_part(vi64 tail, vf64 x, sinkhorn_scale s, double eps)
{
    return keep_f64(tail, sinkhorn_exp(select_f64(tail, x, (vf64){0}), s, eps));
}

static void sinkhorn_lse_rows(size_t rows, size_t n, const double *c, size_t ldc,
                              const double *g, double eps, double *out)
{
    const size_t full = n / VL64 * VL64, rest = n - full;
    const vi64 tail = first_lanes_64(rest);
    const sinkhorn_scale s = sinkhorn_scale_of(eps);
    for (size_t r = 0; r < rows; r++) {
        const double *cr = c + r * ldc;
        const vf64 first = (vf64){0} + (cr[0] + g[0]);
        vf64 vmax = first;
        for (size_t j = 0; j < full; j += VL64)
            vmax = max_f64(vmax, load_f64(cr + j) + load_f64(g + j));
        if (rest)
            vmax = max_f64(vmax, select_f64(tail, load_part_f64(cr + full, rest) +
                                                      load_part_f64(g + full, rest),
                                            first));
        const double top = hmax_f64(vmax);
        vf64 sum = {0};
        for (size_t j = 0; j < full; j += VL64)
            sum += sinkhorn_exp(load_f64(cr + j) + load_f64(g + j) - top, s, eps);
        if (rest)
            sum += sinkhorn_exp_part(tail, load_part_f64(cr + full, rest) +
                                               load_part_f64(g + full, rest) - top,
                                     s, eps);
        out[r] = top + eps * log(hsum_f64(sum));
    }
}

static void sinkhorn_lse_columns(size_t rows, size_t n, const double *c, size_t ldc,
                                 const double *f, double eps, double *col_max,
                                 double *col_sum)
{
    const size_t full = n / VL64 * VL64, rest = n - full;
    const vi64 tail = first_lanes_64(rest);
    const sinkhorn_scale s = sinkhorn_scale_of(eps);
    for (size_t j = 0; j < n; j++) {
        col_max[j] = c[j] + f[0];
        col_sum[j] = 0.0;
    }
    for (size_t r = 1; r < rows; r++) {
        const double *cr = c + r * ldc;
        for (size_t j = 0; j < full; j += VL64)
            store_f64(col_max + j, max_f64(load_f64(col_max + j), load_f64(cr + j) + f[r]));
        if (rest)
            store_part_f64(col_max + full,
                           max_f64(load_part_f64(col_max + full, rest),
                                   load_part_f64(cr + full, rest) + f[r]),
                           rest);
    }
    for (size_t r = 0; r < rows; r++) {
        const double *cr = c + r * ldc;
        for (size_t j = 0; j < full; j += VL64)
            store_f64(col_sum + j,
                      load_f64(col_sum + j) +
                          sinkhorn_exp(load_f64(cr + j) + f[r] - load_f64(col_max + j), s, eps));
        if (rest)
            store_part_f64(col_sum + full,
                           load_part_f64(col_sum + full, rest) +
                               sinkhorn_exp_part(tail, load_part_f64(cr + full, rest) + f[r] -
                                                           load_part_f64(col_max + full, rest),
                                                 s, eps),
                           rest);
    }
}
