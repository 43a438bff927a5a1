/* The formulas of SPEC section 1, literally, in long double. */
#include <math.h>

#include "reference.h"
#include "oracle.h"
#include "rpo.h"

/* Widening is deliberate here; spelled out for -Wdouble-promotion. */
#define LD(x) ((long double)(x))

/* log(1 + e^x) and 1 / (1 + e^-x), from the suites' oracle. */
static long double softplus(long double x) { return oracle_softplus_neg(-x); }
static long double sigmoid(long double x) { return oracle_sigmoid_neg(-x); }

static void normalise(const double *x, size_t d, long double *out)
{
    long double ss = 0;
    for (size_t k = 0; k < d; k++)
        ss += LD(x[k]) * LD(x[k]);
    long double norm = sqrtl(ss);
    if (norm < 1e-12L)
        norm = 1e-12L;
    for (size_t k = 0; k < d; k++)
        out[k] = LD(x[k]) / norm;
}

static void weights_of(const ref_problem *p, long double *W)
{
    const size_t m = p->m, n = p->n, d = p->d;
    for (size_t i = 0; i < m; i++) {
        long double *row = W + i * n;
        if (p->w != NULL) {
            for (size_t j = 0; j < n; j++)
                row[j] = LD(p->w[i * n + j]);
        } else if (p->weighting == RPO_WEIGHTING_UNIFORM) {
            for (size_t j = 0; j < n; j++)
                row[j] = 1.0L / LD(n);
        } else if (p->weighting == RPO_WEIGHTING_DIAGONAL) {
            for (size_t j = 0; j < n; j++)
                row[j] = n == 1 ? 1.0L
                       : j == i ? (long double)p->alpha
                                : (1.0L - LD(p->alpha)) / LD(n - 1);
        } else {
            const double *re = p->re != NULL ? p->re : p->ce;
            long double e[4096], f[4096], top = -LD(INFINITY), sum = 0;
            normalise(p->ce + i * d, d, e);
            for (size_t j = 0; j < n; j++) {
                normalise(re + j * d, d, f);
                long double cos = 0;
                for (size_t k = 0; k < d; k++)
                    cos += e[k] * f[k];
                row[j] = -(1.0L - cos) / LD(p->tau);   /* -dist / tau */
                top = row[j] > top ? row[j] : top;
            }
            for (size_t j = 0; j < n; j++)
                sum += row[j] = expl(row[j] - top);
            for (size_t j = 0; j < n; j++)
                row[j] /= sum;
        }
    }
}

void ref_compute(const ref_problem *p, ref_result *r)
{
    const size_t m = p->m, n = p->n;
    int logit = p->placement == RPO_PLACEMENT_LOGIT ||
                (p->placement == RPO_PLACEMENT_AUTO &&
                 p->weighting == RPO_WEIGHTING_EMBEDDING);
    long double rows = p->reduction == RPO_REDUCTION_SUM ? 1.0L : (long double)m;
    long double beta = LD(p->beta);
    weights_of(p, r->weights);
    r->loss = r->margin = r->accuracy = 0;
    r->reward_chosen = r->reward_rejected = 0;
    for (size_t j = 0; j < n; j++)
        r->grad_rejected[j] = 0;
    for (size_t i = 0; i < m; i++) {
        long double a = LD(p->pc[i]) - LD(p->rc ? p->rc[i] : 0.0);
        r->grad_chosen[i] = 0;
        r->reward_chosen += beta * a / m;
        for (size_t j = 0; j < n; j++) {
            long double b = LD(p->pr[j]) - LD(p->rr ? p->rr[j] : 0.0);
            long double z = a - b, W = r->weights[i * n + j], g;
            if (logit) {
                r->loss += softplus(-beta * W * z) / (rows * n);
                g = -(beta / (rows * n)) * W * sigmoid(-beta * W * z);
            } else {
                r->loss += W * softplus(-beta * z) / rows;
                g = -(beta / rows) * W * sigmoid(-beta * z);
            }
            r->grad_chosen[i] += g;
            r->grad_rejected[j] -= g;
            r->margin += W * beta * z / m;
            r->accuracy += z > 0 ? W / m : 0;
        }
    }
    for (size_t j = 0; j < n; j++)
        r->reward_rejected += beta * (LD(p->pr[j]) - LD(p->rr ? p->rr[j] : 0.0)) / LD(n);
}
