/* The per-pair forward and backward of the loss family, streamed by rows. */
#include "pairs_family.h"

/* One pair in LOSS placement: W f(a, b). A zero weight contributes exactly
 * nothing, also where f is huge (0 * inf would be NaN), and its dW term is
 * never read: the softmax backward multiplies it by W_ij = 0. */
static double loss_placed(const rpo_pairs_family *c, double w, double a,
                          double b, double *ga, double *gb, double *gw)
{
    if (w == 0.0) {
        *ga = *gb = *gw = 0.0;
        return 0.0;
    }
    double fa, fb;
    const int want_slope = c->want_grad;
    double f = rpo_pair_loss_eval(c->f, 1.0, a, b, want_slope ? &fa : NULL, &fb);
    *ga = want_slope ? w * fa : 0.0;
    *gb = want_slope ? w * fb : 0.0;
    *gw = f;
    return w * f;
}

/* One pair in LOGIT placement: f(k W a, k W b); the chain rule brings k W
 * out for a and b, and k (a f_a + b f_b) for W. */
static double logit_placed(const rpo_pairs_family *c, double w, double a,
                           double b, int want_gw, double *ga, double *gb,
                           double *gw)
{
    const double kw = c->logit_scale * w;
    double fa = 0.0, fb = 0.0;
    const int want_slope = c->want_grad || want_gw;
    double f = rpo_pair_loss_eval(c->f, kw, a, b, want_slope ? &fa : NULL, &fb);
    *ga = kw * fa;
    *gb = kw * fb;
    *gw = want_gw ? c->logit_scale * (a * fa + b * fb) : 0.0;
    return f;
}

void rpo_pairs_family_rows(const rpo_pairs_family *c, size_t i0, size_t rows,
                     const double *w, rpo_sums *sums, double *row_g,
                     double *col_g, double *gw)
{
    const size_t n = c->n;
    for (size_t r = 0; r < rows; r++) {
        const double a = c->a[i0 + r];
        const double *wr = w + r * n;
        double loss = 0.0, margin = 0.0, accuracy = 0.0, grad = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double b = c->b[j];
            const double z = a - b;
            double ga, gb, dw;
            margin += wr[j] * z;
            accuracy += z > 0.0 ? wr[j] : 0.0;
            loss += c->logit
                        ? logit_placed(c, wr[j], a, b, gw != NULL, &ga, &gb, &dw)
                        : loss_placed(c, wr[j], a, b, &ga, &gb, &dw);
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
        if (c->want_grad)
            row_g[r] = grad;
    }
}
