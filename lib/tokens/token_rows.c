/* The token helpers' row passes over threads (see token_rows.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "rpo.h"
#include "threads.h"
#include "token_rows.h"

/* Rows per work item: enough that claiming an item costs nothing next to
 * its rows, few enough that two threads share a short batch evenly. Only
 * the speed depends on it, never a result. */
#define ROWS_PER_ITEM 4

static const void *row_of(const token_rows *r, const void *base, size_t k)
{
    return (const char *)base + k * r->stride * r->elem;
}

/* Entry y of row k of the logits, in double. */
static double logit_at(const token_rows *r, size_t k, size_t y)
{
    const void *row = row_of(r, r->logits, k);
    return r->elem == sizeof(float) ? (double)((const float *)row)[y]
                                    : ((const double *)row)[y];
}

/* Row k of a float32 matrix widened into `into` (V doubles). */
static const double *widened(const token_rows *r, const void *base, size_t k, double *into)
{
    r->set->widen_scale(row_of(r, base, k), r->v, 1.0, into);
    return into;
}

static void forward_row(const token_rows *r, size_t k)
{
    r->logp[k] = 0.0;
    r->lse_out[k] = 0.0;
    if (r->targets[k] < 0)
        return;
    /* the next row this thread reads, for the kernel to prefetch */
    size_t next = k + 1;
    while (next < r->t && next % ROWS_PER_ITEM != 0 && r->targets[next] < 0)
        next++;
    const void *ahead = next < r->t && next % ROWS_PER_ITEM != 0 ? row_of(r, r->logits, next) : NULL;
    rpo_lse lse;
    const int finite = token_rows_in_double(r)
        ? r->set->f64.token_lse(widened(r, r->logits, k, r->wide_x), r->v, NULL, &lse)
        : r->kern->token_lse(row_of(r, r->logits, k), r->v, ahead, &lse);
    if (!finite) {
        r->logp[k] = (double)NAN;
        return;
    }
    r->logp[k] = (logit_at(r, k, (size_t)r->targets[k]) - lse.top) - lse.log_sum;
    r->lse_out[k] = lse.top + lse.log_sum;
}

static double type_max(const token_rows *r)
{
    return r->elem == sizeof(float) ? (double)FLT_MAX : DBL_MAX;
}

static int check_row(const token_rows *r, size_t k)
{
    if (token_row_skipped(r, k))
        return RPO_OK;
    const double g = rpo_in_at(r->dlogps, k);
    double top, absmax;
    if (!(g - g == 0.0) || !r->kern->token_scan(row_of(r, r->logits, k), r->v, &top, &absmax))
        return RPO_ERR_NONFINITE;
    if (r->lse != NULL) {
        /* A log-sum-exp lies in [top, top + log V]; anything else is not
         * this row's, and one below top would make exponents positive. */
        const double lse = r->lse[k];
        if (!(lse - lse == 0.0))
            return RPO_ERR_NONFINITE;
        if (!(lse >= top && lse - top <= log((double)r->v) + 1.0))
            return RPO_ERR_RANGE;
        r->top[k] = top;   /* the gradient's exponents are x - top */
    }
    if (r->overwrite)
        return RPO_OK;   /* |g ([v == y] - p)| <= |g| always fits */
    double dtop, dmax;
    if (!r->kern->token_scan(row_of(r, r->dlogits, k), r->v, &dtop, &dmax))
        return RPO_ERR_NONFINITE;
    /* Each update is g ([v == y] - p_v), at most |g| in magnitude. */
    return dmax + fabs(g) <= type_max(r) ? RPO_OK : RPO_ERR_RANGE;
}

static void grad_row(const token_rows *r, size_t k)
{
    void *d = (char *)r->dlogits + k * r->stride * r->elem;
    if (token_row_skipped(r, k)) {
        if (r->overwrite)
            memset(d, 0, r->v * r->elem);
        return;
    }
    const void *x = row_of(r, r->logits, k);
    rpo_lse lse;
    if (r->lse != NULL) {
        lse.top = r->top[k];
        lse.log_sum = r->lse[k] - r->top[k];
    } else {
        (void)r->kern->token_lse(x, r->v, NULL, &lse);   /* checked finite */
    }
    r->kern->token_grad(x, r->v, (size_t)r->targets[k], rpo_in_at(r->dlogps, k),
                        lse, d, r->overwrite);
}

/* grad_row for a float32 row computed in double (token_rows_in_double). */
static void grad_row_in_double(const token_rows *r, size_t k)
{
    float *d = (float *)r->dlogits + k * r->stride;
    if (token_row_skipped(r, k)) {
        if (r->overwrite)
            memset(d, 0, r->v * sizeof *d);
        return;
    }
    const double *x = widened(r, r->logits, k, r->wide_x);
    rpo_lse lse;
    if (r->lse != NULL) {
        lse.top = r->top[k];
        lse.log_sum = r->lse[k] - r->top[k];
    } else {
        (void)r->set->f64.token_lse(x, r->v, NULL, &lse);   /* checked finite */
    }
    if (!r->overwrite)
        (void)widened(r, r->dlogits, k, r->wide_d);
    r->set->f64.token_grad(x, r->v, (size_t)r->targets[k], rpo_in_at(r->dlogps, k), lse,
                           r->wide_d, r->overwrite);
    for (size_t j = 0; j < r->v; j++)
        d[j] = (float)r->wide_d[j];
}

/* ---------------------------------------------------------- threads */

typedef struct pass {
    const token_rows *rows;
    int which;   /* FORWARD, CHECK or GRAD */
} pass;

enum { FORWARD, CHECK, GRAD };

static void compute_item(void *arg, unsigned worker, size_t item)
{
    (void)worker;
    const pass *p = arg;
    const token_rows *r = p->rows;
    const size_t end = (item + 1) * ROWS_PER_ITEM < r->t ? (item + 1) * ROWS_PER_ITEM : r->t;
    for (size_t k = item * ROWS_PER_ITEM; k < end; k++) {
        if (p->which == FORWARD)
            forward_row(r, k);
        else if (p->which == CHECK)
            r->status[k] = check_row(r, k);
        else if (token_rows_in_double(r))
            grad_row_in_double(r, k);
        else
            grad_row(r, k);
    }
}

/* Rows are independent: nothing to combine in order. */
static void commit_nothing(void *arg, unsigned worker, size_t item)
{
    (void)arg;
    (void)worker;
    (void)item;
}

static void run(const token_rows *r, int which, unsigned workers)
{
    pass p = {r, which};
    rpo_ordered_work work = {compute_item, commit_nothing, &p};
    /* small calls: starting a thread costs more than the rows, and the
     * rows in double share one wide_x and wide_d */
    if (r->t * r->v < RPO_TOKEN_SERIAL_LOGITS)
        workers = 1;
    rpo_run_ordered(&work, (r->t + ROWS_PER_ITEM - 1) / ROWS_PER_ITEM, workers);
}

void rpo_token_forward_rows(const token_rows *r, unsigned workers)
{
    run(r, FORWARD, workers);
}

void rpo_token_check_rows(const token_rows *r, unsigned workers)
{
    run(r, CHECK, workers);
}

void rpo_token_grad_rows(const token_rows *r, unsigned workers)
{
    run(r, GRAD, workers);
}
