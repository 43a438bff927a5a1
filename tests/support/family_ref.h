/*
 * An independent reference of the loss family and of the contrast matrix
 * built on it, for the test suites: TRL's per-sequence formulas written
 * the way TRL writes them (logsigmoid, sigmoid, relu, squares), evaluated
 * naively in long double, with their derivatives worked out by hand from
 * d/dx logsigmoid(x) = sigmoid(-x) and d/dx sigmoid(x) = sigmoid(x)
 * sigmoid(-x). Valid for moderate arguments only (|beta z| up to ~50):
 * the library's overflow-free forms are tested separately at the extremes.
 * Nothing here shares code with lib/.
 */
#ifndef RPO_FAMILY_REF_H
#define RPO_FAMILY_REF_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "rpo.h"

typedef long double ld;

static inline ld ref_sig(ld x) { return 1.0L / (1.0L + expl(-x)); }
static inline ld ref_logsig(ld x) { return -log1pl(expl(-x)); }

typedef struct ref_loss {
    int loss;
    double beta, eps, tau;
} ref_loss;

/* f(a, b) of TRL's loss_type with a = chosen log-ratio, b = rejected
 * log-ratio; *fa, *fb its partial derivatives. */
static inline ld ref_pair(const ref_loss *p, ld a, ld b, ld *fa, ld *fb)
{
    const ld beta = (ld)p->beta, eps = (ld)p->eps, tau = (ld)p->tau;
    const ld logits = a - b;          /* TRL: pi_logratios - ref_logratios */
    const ld x = beta * logits;
    const ld ra = beta * a, rb = beta * b;  /* chosen/rejected rewards */
    ld f, dx = 0.0L;  /* dx: df/dx for losses of x alone */
    int of_x = 1;
    switch (p->loss) {
    case RPO_LOSS_SIGMOID:
        f = -ref_logsig(x) * (1.0L - eps) - ref_logsig(-x) * eps;
        dx = ref_sig(x) - (1.0L - eps);
        break;
    case RPO_LOSS_HINGE:
        f = 1.0L - x > 0.0L ? 1.0L - x : 0.0L;
        dx = 1.0L - x > 0.0L ? -1.0L : 0.0L;
        break;
    case RPO_LOSS_IPO:
        f = (logits - 1.0L / (2.0L * beta)) * (logits - 1.0L / (2.0L * beta));
        *fa = 2.0L * (logits - 1.0L / (2.0L * beta));
        *fb = -*fa;
        of_x = 0;
        break;
    case RPO_LOSS_ROBUST:
        f = (-(1.0L - eps) * ref_logsig(x) + eps * ref_logsig(-x)) /
            (1.0L - 2.0L * eps);
        dx = ref_sig(x) - (1.0L - eps) / (1.0L - 2.0L * eps);
        break;
    case RPO_LOSS_EXO_PAIR:
        f = ref_sig(x) * (ref_logsig(x) - log1pl(-eps)) +
            ref_sig(-x) * (ref_logsig(-x) - logl(eps));
        /* product rule on both terms, term by term */
        dx = ref_sig(x) * ref_sig(-x) * (ref_logsig(x) - log1pl(-eps)) +
             ref_sig(x) * ref_sig(-x) -
             ref_sig(x) * ref_sig(-x) * (ref_logsig(-x) - logl(eps)) -
             ref_sig(-x) * ref_sig(x);
        break;
    case RPO_LOSS_BCO_PAIR:
        f = -ref_logsig(ra) - ref_logsig(-rb);
        *fa = -beta * ref_sig(-ra);
        *fb = beta * ref_sig(rb);
        of_x = 0;
        break;
    case RPO_LOSS_SPPO_HARD:
        f = (a - 0.5L / beta) * (a - 0.5L / beta) + (b + 0.5L / beta) * (b + 0.5L / beta);
        *fa = 2.0L * (a - 0.5L / beta);
        *fb = 2.0L * (b + 0.5L / beta);
        of_x = 0;
        break;
    case RPO_LOSS_NCA_PAIR:
        f = -ref_logsig(ra) - 0.5L * ref_logsig(-ra) - 0.5L * ref_logsig(-rb);
        *fa = beta * (-ref_sig(-ra) + 0.5L * ref_sig(ra));
        *fb = 0.5L * beta * ref_sig(rb);
        of_x = 0;
        break;
    case RPO_LOSS_APO_ZERO:
        f = (1.0L - ref_sig(ra)) + ref_sig(rb);
        *fa = -beta * ref_sig(ra) * ref_sig(-ra);
        *fb = beta * ref_sig(rb) * ref_sig(-rb);
        of_x = 0;
        break;
    case RPO_LOSS_APO_DOWN:
        f = ref_sig(ra) + (1.0L - ref_sig(x));
        *fa = beta * ref_sig(ra) * ref_sig(-ra) - beta * ref_sig(x) * ref_sig(-x);
        *fb = beta * ref_sig(x) * ref_sig(-x);
        of_x = 0;
        break;
    default: { /* RPO_LOSS_DISCOPOP */
        const ld mod = ref_sig(x / tau);
        const ld dmod = ref_sig(x / tau) * ref_sig(-x / tau) / tau;
        f = -ref_logsig(x) * (1.0L - mod) + expl(-x) * mod;
        dx = -ref_sig(-x) * (1.0L - mod) + ref_logsig(x) * dmod -
             expl(-x) * mod + expl(-x) * dmod;
        break;
    }
    }
    if (of_x) {
        *fa = beta * dx;
        *fb = -beta * dx;
    }
    return f;
}

/* The contrast matrix over weights w (m, n), in the terms of docs/extensions.md:
 *   LOSS placement : L = s sum_ij W_ij f(a_i, b_j)
 *   LOGIT placement: L = s / n sum_ij f(k W_ij a_i, k W_ij b_j)
 * with s = 1/m_total (MEAN) or 1 (SUM). Writes dL/da (m), dL/db (n). */
static inline double ref_contrast(const ref_loss *p, int logit, double k,
                                  double s, size_t m, const double *a,
                                  size_t n, const double *b, const double *w,
                                  double *ga, double *gb)
{
    ld total = 0.0L;
    ld *col = (ld *)calloc(n ? n : 1, sizeof *col);
    const ld scale = logit ? (ld)s / (ld)n : (ld)s;
    for (size_t i = 0; i < m; i++) {
        ld row = 0.0L;
        for (size_t j = 0; j < n; j++) {
            const ld wij = (ld)w[i * n + j];
            ld fa, fb, f;
            if (logit) {
                const ld kw = (ld)k * wij;
                f = ref_pair(p, kw * (ld)a[i], kw * (ld)b[j], &fa, &fb);
                fa *= kw;
                fb *= kw;
            } else {
                f = wij * ref_pair(p, (ld)a[i], (ld)b[j], &fa, &fb);
                fa *= wij;
                fb *= wij;
            }
            total += f;
            row += fa;
            col[j] += fb;
        }
        if (ga != NULL)
            ga[i] = (double)(row * scale);
    }
    if (gb != NULL)
        for (size_t j = 0; j < n; j++)
            gb[j] = (double)(col[j] * scale);
    free(col);
    return (double)(total * scale);
}

/* The paper's weightings, naively: W (m, n) row-major. */
static inline void ref_uniform(size_t m, size_t n, double *w)
{
    for (size_t k = 0; k < m * n; k++)
        w[k] = 1.0 / (double)n;
}

static inline void ref_diagonal(size_t n, double alpha, double *w)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            w[i * n + j] = n == 1 ? 1.0 : i == j ? alpha : (1.0 - alpha) / (double)(n - 1);
}

static inline ld ref_cosine(const double *x, const double *y, size_t d)
{
    ld xy = 0.0L, xx = 0.0L, yy = 0.0L;
    for (size_t k = 0; k < d; k++) {
        xy += (ld)x[k] * (ld)y[k];
        xx += (ld)x[k] * (ld)x[k];
        yy += (ld)y[k] * (ld)y[k];
    }
    return xy / (fmaxl(sqrtl(xx), 1e-12L) * fmaxl(sqrtl(yy), 1e-12L));
}

/* softmax_j(-(1 - cos_ij) / tau) */
static inline void ref_embedding(size_t m, size_t n, size_t d, const double *e,
                                 const double *f, double tau, double *w)
{
    for (size_t i = 0; i < m; i++) {
        ld sum = 0.0L;
        for (size_t j = 0; j < n; j++)
            sum += expl(-(1.0L - ref_cosine(e + i * d, f + j * d, d)) / (ld)tau);
        for (size_t j = 0; j < n; j++)
            w[i * n + j] =
                (double)(expl(-(1.0L - ref_cosine(e + i * d, f + j * d, d)) / (ld)tau) / sum);
    }
}

#endif /* RPO_FAMILY_REF_H */
