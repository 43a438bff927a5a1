/* The per-pair forward and backward of SPEC section 1, streamed by rows. */
#include "pairs_scalar.h"
#include "numerics.h"

void rpo_pairs_scalar_rows(const rpo_pairs_scalar *c, size_t i0, size_t rows,
                       const double *w, rpo_sums *sums, double *row_g,
                       double *col_g)
{
    const size_t n = c->n;
    const double beta = c->beta, eps = c->smoothing;
    for (size_t r = 0; r < rows; r++) {
        const double a = c->a[i0 + r];
        const double *wr = w + r * n;
        double loss = 0.0, margin = 0.0, accuracy = 0.0, grad = 0.0;
        for (size_t j = 0; j < n; j++) {
            const double z = a - c->b[j];
            const double wz = wr[j] * z;
            /* Where W enters: inside the logit, or as the pair's weight. */
            const double u = c->logit ? beta * wz : beta * z;
            const double scale = c->logit ? 1.0 : wr[j];
            const double t = rpo_exp_neg_abs(u);
            margin += wz;
            accuracy += z > 0.0 ? wr[j] : 0.0;
            if (c->want_loss) {
                /* smoothed: softplus(u) = u + softplus(-u) */
                const double g = rpo_softplus_neg(u, t);
                loss += scale * (eps != 0.0 ? g + eps * u : g);
            }
            if (c->want_grad) {
                /* d p_ij / d z_ij = -beta * W_ij * (sigmoid(-u) - eps) in
                 * both placements (the chain rule brings W out of the
                 * logit). */
                const double sig = rpo_sigmoid_neg(u, t);
                const double s = wr[j] * (eps != 0.0 ? sig - eps : sig);
                grad += s;
                col_g[j] += s;
            }
        }
        sums->loss += loss;
        sums->margin += margin;
        sums->accuracy += accuracy;
        if (c->want_grad)
            row_g[r] = grad;
    }
}
