/* The per-pair forward and backward of a term list, streamed by rows. */
#include "objective_pairs.h"

/* One pair, every term: the sum of w_t f_t and its derivatives with
 * respect to the two policy log-probs and to W_ij, before the sample
 * weights. LOSS placement multiplies by W (and, as pairs_family.c, a
 * zero weight adds exactly nothing, also where a term is huge). */
static double pair_terms(const rpo_objective_pairs *c, size_t i, size_t j,
                         double w, int want_gw, double *ga, double *gb, double *gw)
{
    const rpo_objective *o = c->o;
    const double s = c->logit ? c->logit_scale * w : 1.0;
    const int want_slope = c->want_grad || want_gw;
    double f = 0.0;
    *ga = *gb = *gw = 0.0;
    if (!c->logit && w == 0.0)
        return 0.0;
    for (size_t t = 0; t < o->terms; t++) {
        const double sa = c->sa[t * c->m + i], sb = c->sb[t * c->n + j];
        double fa = 0.0, fb = 0.0;
        const double ft = rpo_pair_loss_eval(&o->pair[t], s, sa, sb,
                                            want_slope ? &fa : NULL, &fb);
        f += o->weight[t] * ft;
        if (!want_slope)
            continue;
        /* d f(s sa, s sb) / d policy = s f_a da; / dW (logit) = k (sa f_a + sb f_b) */
        *ga += o->weight[t] * s * fa * c->da[t * c->m + i];
        *gb += o->weight[t] * s * fb * c->db[t * c->n + j];
        if (c->logit)
            *gw += o->weight[t] * c->logit_scale * (sa * fa + sb * fb);
    }
    if (c->logit)
        return f;
    *ga *= w;
    *gb *= w;
    *gw = f;
    return w * f;
}

void rpo_objective_pairs_rows(const rpo_objective_pairs *c, size_t i0, size_t rows,
                        const double *w, rpo_sums *sums, double *row_loss,
                        double *row_g, double *col_g, double *gw)
{
    const size_t n = c->n;
    for (size_t r = 0; r < rows; r++) {
        const size_t i = i0 + r;
        const double za = c->za[i], wc = c->wc[i];
        /* the row loss's incoming gradient weighs its derivatives only */
        const double gi = rpo_objective_row_factor(c->o, i, 1.0);
        const double *wr = w + r * n;
        double loss = 0.0, margin = 0.0, accuracy = 0.0, grad = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double z = za - c->zb[j];
            const double pair_weight = wc * c->wr[j];
            double ga, gb, dw;
            margin += wr[j] * z;
            accuracy += z > 0.0 ? wr[j] : 0.0;
            const double f = pair_terms(c, i, j, wr[j], gw != NULL, &ga, &gb, &dw);
            /* a zero sample weight drops the pair, also where f is huge */
            if (pair_weight == 0.0) {
                ga = gb = dw = 0.0;
            } else {
                const double grad_weight = pair_weight * gi;
                loss += pair_weight * f;
                ga *= grad_weight;
                gb *= grad_weight;
                dw *= grad_weight;
            }
            if (c->want_grad) {
                grad += ga;
                col_g[j] += gb;
            }
            if (gw != NULL)
                gw[r * n + j] = dw;
        }
        sums->loss += loss;
        sums->margin += margin;
        sums->accuracy += accuracy;
        row_loss[r] = loss;
        if (c->want_grad)
            row_g[r] = grad;
    }
}
