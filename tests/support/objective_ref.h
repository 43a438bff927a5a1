/*
 * An independent reference of the objectives of rpo_objective_* (rpo.h,
 * docs/objectives.md), for the test suites: the formulas of issue 13 and
 * TRL's trainers written out naively in long double, over a weight matrix
 * the caller materialises (family_ref.h's weightings), with derivatives
 * worked out by hand. The eleven pair losses of 1.2 come from
 * family_ref.h's ref_pair; SIGMOID with its margin, SIMPO, ORPO, SFT and
 * KTO are written here. Valid for moderate arguments only. Nothing here
 * shares code with lib/.
 */
#ifndef RPO_OBJECTIVE_REF_H
#define RPO_OBJECTIVE_REF_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "family_ref.h"

typedef struct obj_ref {
    size_t m, n;
    const double *pc, *rc, *pr, *rr;   /* rc, rr may be NULL              */
    const double *lc, *lr;             /* lengths, or NULL                */
    const double *wc, *wr;             /* sample weights, or NULL         */
    const double *w;                   /* (m, n) the weight matrix        */
    int logit;                         /* LOGIT placement                 */
    double k;                          /* logit scale                     */
    int sum;                           /* SUM reduction                   */
    double beta, eps, tau, gamma;
    int fdiv;
    double f_alpha;
    size_t terms;
    const int *loss;
    const double *weight;
} obj_ref;

static inline ld ref_len(const double *l, size_t k)
{
    if (l == NULL)
        return 1.0L;
    return l[k] < 1.0 ? 1.0L : (ld)l[k];   /* TRL's clamp(min=1) */
}

/* The f-divergence's score of a log-ratio, and its derivative. */
static inline ld ref_fdiv(const obj_ref *p, ld a, ld *slope)
{
    const ld alpha = (ld)p->f_alpha;
    switch (p->fdiv) {
    case RPO_FDIV_FORWARD_KL:
        *slope = expl(-a);
        return -expl(-a);
    case RPO_FDIV_JS:
        *slope = ref_sig(-a);
        return ref_logsig(a);
    case RPO_FDIV_ALPHA:
        *slope = expl(-alpha * a);
        return -expl(-alpha * a) / alpha;
    default:
        *slope = 1.0L;
        return a;
    }
}

/* A sequence's score for pair loss `loss`, and d score / d policy. */
static inline ld ref_score(const obj_ref *p, int loss, ld policy, ld ref, ld len,
                           ld *slope)
{
    switch (loss) {
    case RPO_LOSS_IPO:
    case RPO_LOSS_SIGMOID_NORM: {
        ld g;
        const ld s = ref_fdiv(p, (policy - ref) / len, &g);
        *slope = g / len;
        return s;
    }
    case RPO_LOSS_SIMPO:
        *slope = 1.0L / len;
        return policy / len;
    case RPO_LOSS_ORPO: {
        /* ORPO's log_odds: x - log1p(-exp(x)), x the mean token log-prob */
        const ld x = policy / len;
        *slope = (1.0L / (1.0L - expl(x))) / len;
        return x - log1pl(-expl(x));
    }
    default:
        return ref_fdiv(p, policy - ref, slope);
    }
}

/* f at the scaled scores (s sa, s sb), and its partials there. */
static inline ld ref_term(const obj_ref *p, int loss, ld s, ld sa, ld sb,
                          ld *fa, ld *fb)
{
    const ld beta = (ld)p->beta, eps = (ld)p->eps;
    if (loss == RPO_LOSS_SIGMOID || loss == RPO_LOSS_SIGMOID_NORM ||
        loss == RPO_LOSS_SIMPO) {
        /* -logsigmoid(x - gamma) (1 - eps) - logsigmoid(-(x - gamma)) eps */
        const ld x = beta * s * (sa - sb) - (ld)p->gamma;
        const ld f = -ref_logsig(x) * (1.0L - eps) - ref_logsig(-x) * eps;
        *fa = beta * (-(1.0L - eps) * ref_sig(-x) + eps * ref_sig(x));
        *fb = -*fa;
        return f;
    }
    if (loss == RPO_LOSS_ORPO) {
        const ld u = s * (sa - sb);
        *fa = -beta * ref_sig(-u);
        *fb = -*fa;
        return -beta * ref_logsig(u);
    }
    ref_loss rl = {loss, p->beta, p->eps, p->tau};
    return ref_pair(&rl, s * sa, s * sb, fa, fb);
}

/* The objective's loss, its gradients (m), (n) with respect to the policy
 * log-probs and the per-row losses (m), each may be NULL. */
static inline double ref_objective(const obj_ref *p, double *gc, double *gr,
                                   double *rows)
{
    const size_t m = p->m, n = p->n;
    ld *g_c = (ld *)calloc(m + 1, sizeof(ld)), *g_r = (ld *)calloc(n + 1, sizeof(ld));
    ld *row = (ld *)calloc(m + 1, sizeof(ld));
    ld total = 0.0L;
    const ld red = p->sum ? 1.0L : 1.0L / (ld)m;   /* a pair term's mean */
    const ld per_row = p->logit ? 1.0L / (ld)n : 1.0L;
    for (size_t t = 0; t < p->terms; t++) {
        const int loss = p->loss[t];
        const ld wt = (ld)p->weight[t];
        if (loss == RPO_LOSS_SFT) {
            /* TRL's NLL: -(sum of chosen token log-probs) / (chosen tokens) */
            ld tokens = 0.0L, nll = 0.0L;
            for (size_t i = 0; i < m; i++) {
                tokens += ref_len(p->lc, i);
                nll -= (p->wc ? (ld)p->wc[i] : 1.0L) * (ld)p->pc[i];
            }
            const ld scale = p->sum ? (ld)m : 1.0L;
            total += wt * scale * nll / tokens;
            for (size_t i = 0; i < m; i++) {
                const ld wci = p->wc ? (ld)p->wc[i] : 1.0L;
                g_c[i] += wt * scale * -wci / tokens;
                row[i] += wt * (ld)m * -wci * (ld)p->pc[i] / tokens;
            }
            continue;
        }
        for (size_t i = 0; i < m; i++) {
            ld da, db;
            const ld sa = ref_score(p, loss, (ld)p->pc[i], p->rc ? (ld)p->rc[i] : 0.0L,
                                    ref_len(p->lc, i), &da);
            for (size_t j = 0; j < n; j++) {
                const ld sb = ref_score(p, loss, (ld)p->pr[j], p->rr ? (ld)p->rr[j] : 0.0L,
                                        ref_len(p->lr, j), &db);
                const ld wij = (ld)p->w[i * n + j];
                const ld sample = (p->wc ? (ld)p->wc[i] : 1.0L) *
                                  (p->wr ? (ld)p->wr[j] : 1.0L);
                ld fa, fb, f;
                if (p->logit) {
                    const ld kw = (ld)p->k * wij;
                    f = ref_term(p, loss, kw, sa, sb, &fa, &fb);
                    fa *= kw;
                    fb *= kw;
                } else {
                    f = wij * ref_term(p, loss, 1.0L, sa, sb, &fa, &fb);
                    fa *= wij;
                    fb *= wij;
                }
                total += wt * red * per_row * sample * f;
                row[i] += wt * per_row * sample * f;
                g_c[i] += wt * red * per_row * sample * fa * da;
                g_r[j] += wt * red * per_row * sample * fb * db;
            }
        }
    }
    for (size_t i = 0; i < m; i++) {
        if (gc)
            gc[i] = (double)g_c[i];
        if (rows)
            rows[i] = (double)row[i];
    }
    for (size_t j = 0; j < n && gr; j++)
        gr[j] = (double)g_r[j];
    free(g_c);
    free(g_r);
    free(row);
    return (double)total;
}

/* TRL's KTOTrainer.kto_loss (and loss_type="apo_zero_unpaired"), with the
 * sample weights and the reduction of rpo.h; kl already clamped. Writes
 * the gradients (m), (n) and the per-sequence losses (m + n). */
static inline double ref_kto(int apo, size_t m, size_t n, const double *pc,
                             const double *rc, const double *pr, const double *rr,
                             const double *wc, const double *wr, double kl,
                             double beta, double wd, double wu, int sum,
                             double *gc, double *gr, double *losses)
{
    const ld B = (ld)beta, K = apo ? 0.0L : (ld)kl;
    const ld scale = sum || m + n == 0 ? 1.0L : 1.0L / (ld)(m + n);
    ld total = 0.0L;
    for (size_t i = 0; i < m; i++) {
        const ld a = (ld)pc[i] - (rc ? (ld)rc[i] : 0.0L);
        const ld w = (wc ? (ld)wc[i] : 1.0L) * (ld)wd;
        /* chosen_losses = 1 - F.sigmoid(beta * (chosen_logratios - kl)) */
        const ld u = B * (a - K);
        const ld l = 1.0L - ref_sig(u);
        total += w * l;
        losses[i] = (double)(w * l);
        gc[i] = (double)(scale * w * -B * ref_sig(u) * ref_sig(-u));
    }
    for (size_t j = 0; j < n; j++) {
        const ld b = (ld)pr[j] - (rr ? (ld)rr[j] : 0.0L);
        const ld w = (wr ? (ld)wr[j] : 1.0L) * (ld)wu;
        ld r, g;
        if (apo) { /* rejected_losses = F.sigmoid(beta * rejected_logratios) */
            r = ref_sig(B * b);
            g = B * ref_sig(B * b) * ref_sig(-B * b);
        } else {   /* 1 - F.sigmoid(beta * (kl - rejected_logratios)) */
            const ld v = B * (K - b);
            r = 1.0L - ref_sig(v);
            g = B * ref_sig(v) * ref_sig(-v);
        }
        total += w * r;
        losses[m + j] = (double)(w * r);
        gr[j] = (double)(scale * w * g);
    }
    return (double)(scale * total);
}

#endif /* RPO_OBJECTIVE_REF_H */
