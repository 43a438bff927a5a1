/*
 * The per-pair forward and backward of the default (sigmoid) loss for a row
 * block, vectorised along the columns: the SIMD twin of rpo_pairs_scalar_rows
 * (pairs_scalar.c), with the same sums and the same stable forms (numerics.h):
 *
 *     z = a_i - b_j      u = beta * W_ij * z (logit)  or  beta * z (loss)
 *     t = exp(-|u|)      softplus(-u) = max(-u, 0) + log1p(t)
 *                        sigmoid(-u)  = (u >= 0 ? t : 1) / (1 + t)
 *
 * With label smoothing eps (cDPO) the pair's function is
 * (1 - eps) softplus(-u) + eps softplus(u), which is softplus(-u) + eps u
 * (softplus(u) = u + softplus(-u)), with derivative -(sigmoid(-u) - eps):
 * two more operations per vector, in instantiations of their own so that
 * the plain loss does not pay them.
 *
 * Template: included once per element type by instantiate.h.
 *
 * A row is taken SUM_CHUNK vectors at a time, in two sweeps: the front of
 * each pair (z, u, t = exp(-|u|)), then the rest. Two short dependency
 * chains instead of one long one let the processor overlap many more
 * vectors (about a quarter faster). Sums run in vector lanes and are added
 * into doubles after each chunk; the column sums run in the compute type
 * over at most GROUP rows and are then added into the double col_g. So
 * float blocks keep double accuracy in every total, at little cost.
 *
 * The twelve combinations of placement x (loss, gradient, both) x
 * smoothing are separate instantiations of one always-inlined body, so the
 * loss-only call does no gradient work and the inner loop never tests a
 * flag. Twelve more serve an objective's sample weights (objective.h):
 * the pair's term and its s_ij times wc_i wr_j, each row's loss written
 * out; the twelve of 1.2 keep their operations, and their bits.
 */

#define SUM_CHUNK 16
#define GROUP 8

typedef struct TNAME(pair_acc) {
    VREAL loss, margin, accuracy, grad;
} TNAME(pair_acc);

/* The front of a vector of pairs of row i: z, u and t = exp(-|u|). */
typedef struct TNAME(pair_front) {
    VREAL w, z, u, t;
} TNAME(pair_front);

static inline __attribute__((always_inline)) TNAME(pair_front)
TNAME(pair_front_of)(REAL ai, VREAL w, VREAL b, REAL beta, const int logit)
{
    TNAME(pair_front) f;
    f.w = w;
    f.z = ai - b;
    f.u = logit ? beta * (w * f.z) : beta * f.z;
    f.t = TNAME(exp_nonpos)((VREAL){0} - TNAME(abs)(f.u));
    return f;
}

/* The rest: sums, and the gradient terms s_ij = W_ij sigmoid(-u_ij) it
 * returns for the column sums. live masks the lanes past the row's end
 * (only when tail is set). */
static inline __attribute__((always_inline)) VREAL
TNAME(pair_back)(TNAME(pair_acc) *acc, const TNAME(pair_front) *f, VMASK live,
                 const int tail, const int logit, const int want_loss,
                 const int want_grad, const int smooth, REAL eps,
                 const int weighted, VREAL col_w)
{
    const VREAL w = f->w, z = f->z, u = f->u, t = f->t;
    VREAL margin = w * z, accuracy = TNAME(keep)(z > 0, w);
    if (tail) {
        margin = TNAME(keep)(live, margin);
        accuracy = TNAME(keep)(live, accuracy);
    }
    acc->margin += margin;
    acc->accuracy += accuracy;
    /* Each quotient is formed the same way whatever else is wanted, so a
     * loss-only or gradient-only call gives bitwise the numbers of a full
     * one (one division shared by both would not). */
    const TNAME(log1p_parts) lp = TNAME(log1p_split)(t);
    const VREAL log1p_s = want_loss ? lp.num / lp.den : (VREAL){0};
    const VREAL sigmoid =
        want_grad ? TNAME(select)(u >= 0, t, (VREAL){0} + 1) / (1 + t) : (VREAL){0};
    if (want_loss) {
        VREAL softplus = TNAME(max)(-u, (VREAL){0}) + TNAME(log1p_finish)(&lp, log1p_s);
        if (smooth)
            softplus += eps * u;
        VREAL p = logit ? softplus : w * softplus;
        if (weighted)
            p = col_w * p;
        if (tail)
            p = TNAME(keep)(live, p);
        acc->loss += p;
    }
    VREAL s = {0};
    if (want_grad) {
        /* d p / d z = -beta * W * sigmoid(-u) in both placements
         * (-beta * W * (sigmoid(-u) - eps) smoothed) */
        s = smooth ? w * (sigmoid - eps) : w * sigmoid;
        if (weighted)
            s = col_w * s;
        if (tail)
            s = TNAME(keep)(live, s);
        acc->grad += s;
    }
    return s;
}

static inline __attribute__((always_inline)) void
TNAME(pair_flush)(TNAME(pair_acc) *acc, double *loss, double *margin,
                  double *accuracy, double *grad)
{
    *loss += TNAME(hsum)(acc->loss);
    *margin += TNAME(hsum)(acc->margin);
    *accuracy += TNAME(hsum)(acc->accuracy);
    *grad += TNAME(hsum)(acc->grad);
    acc->loss = acc->margin = acc->accuracy = acc->grad = (VREAL){0};
}

static inline __attribute__((always_inline)) void
TNAME(pairs_body)(const rpo_pair_block *blk, const int logit,
                  const int want_loss, const int want_grad, const int smooth,
                  const int weighted)
{
    const size_t n = blk->n, full = n / VLR * VLR, rest = n - full;
    const REAL *a = blk->a, *b = blk->b, *w = blk->w;
    const REAL *cw = weighted ? blk->col_w : NULL;
    REAL *col = blk->col_tmp;
    const REAL beta = (REAL)blk->beta, eps = (REAL)blk->smoothing;
    const VMASK all = FIRST_LANES(VLR), tail = FIRST_LANES(rest);
    double loss = 0.0, margin = 0.0, accuracy = 0.0;

    for (size_t r0 = 0; r0 < blk->rows; r0 += GROUP) {
        const size_t r1 = blk->rows - r0 < GROUP ? blk->rows : r0 + GROUP;
        if (want_grad)
            memset(col, 0, n * sizeof *col);
        for (size_t r = r0; r < r1; r++) {
            const REAL ai = a[r];
            const REAL *wr = w + r * blk->ldw;
            TNAME(pair_acc) acc = {{0}, {0}, {0}, {0}};
            double row_grad = 0.0, row_loss = 0.0;
            /* weighted: the row's own loss, then times wc_i into the total */
            double *loss_sum = weighted ? &row_loss : &loss;
            const REAL wc = weighted ? (REAL)blk->row_w[r] : (REAL)1;
            const REAL wg = weighted ? (REAL)blk->row_gw[r] : (REAL)1;
            /* SUM_CHUNK vectors at a time, front then back: two short
             * dependency chains instead of one long one, so the processor
             * overlaps many more vectors */
            for (size_t j0 = 0; j0 < full; j0 += SUM_CHUNK * VLR) {
                const size_t j1 = full - j0 < SUM_CHUNK * VLR ? full : j0 + SUM_CHUNK * VLR;
                TNAME(pair_front) front[SUM_CHUNK];
                for (size_t j = j0; j < j1; j += VLR)
                    front[(j - j0) / VLR] = TNAME(pair_front_of)(ai, TNAME(load)(wr + j),
                                                                TNAME(load)(b + j), beta, logit);
                for (size_t j = j0; j < j1; j += VLR) {
                    const VREAL s = TNAME(pair_back)(&acc, &front[(j - j0) / VLR], all, 0,
                                                     logit, want_loss, want_grad, smooth, eps,
                                                     weighted,
                                                     weighted ? TNAME(load)(cw + j) : (VREAL){0});
                    if (want_grad)
                        TNAME(store)(col + j, TNAME(load)(col + j) + (weighted ? wg * s : s));
                }
                TNAME(pair_flush)(&acc, loss_sum, &margin, &accuracy, &row_grad);
            }
            if (rest) {
                const TNAME(pair_front) f = TNAME(pair_front_of)(
                    ai, TNAME(load_part)(wr + full, rest), TNAME(load_part)(b + full, rest),
                    beta, logit);
                const VREAL s = TNAME(pair_back)(
                    &acc, &f, tail, 1, logit, want_loss, want_grad, smooth, eps, weighted,
                    weighted ? TNAME(load_part)(cw + full, rest) : (VREAL){0});
                if (want_grad)
                    TNAME(store_part)(col + full,
                                      TNAME(load_part)(col + full, rest) + (weighted ? wg * s : s),
                                      rest);
            }
            TNAME(pair_flush)(&acc, loss_sum, &margin, &accuracy, &row_grad);
            if (weighted) {
                loss += (double)wc * row_loss;
                if (blk->row_loss != NULL)
                    blk->row_loss[r] = (double)wc * row_loss;
                row_grad *= (double)wg;
            }
            if (want_grad)
                blk->row_g[r] = row_grad;
        }
        if (want_grad)
            for (size_t j = 0; j < n; j++)
                blk->col_g[j] += (double)col[j];
    }
    blk->sums->loss += loss;
    blk->sums->margin += margin;
    blk->sums->accuracy += accuracy;
}

/* One instantiation per flag combination (names: placement, then what is
 * wanted, then _s when smoothed). */
#define PAIRS_VARIANT(name, logit, want_loss, want_grad, smooth, weighted)      \
    static void TNAME(name)(const rpo_pair_block *b)                           \
    {                                                                          \
        TNAME(pairs_body)(b, logit, want_loss, want_grad, smooth, weighted);   \
    }
#define PAIRS_VARIANTS(suffix, smooth, weighted)                               \
    PAIRS_VARIANT(pairs_logit_both##suffix, 1, 1, 1, smooth, weighted)         \
    PAIRS_VARIANT(pairs_logit_loss##suffix, 1, 1, 0, smooth, weighted)         \
    PAIRS_VARIANT(pairs_logit_grad##suffix, 1, 0, 1, smooth, weighted)         \
    PAIRS_VARIANT(pairs_loss_both##suffix, 0, 1, 1, smooth, weighted)          \
    PAIRS_VARIANT(pairs_loss_loss##suffix, 0, 1, 0, smooth, weighted)          \
    PAIRS_VARIANT(pairs_loss_grad##suffix, 0, 0, 1, smooth, weighted)
PAIRS_VARIANTS(, 0, 0)
PAIRS_VARIANTS(_s, 1, 0)
PAIRS_VARIANTS(_w, 0, 1)
PAIRS_VARIANTS(_sw, 1, 1)
#undef PAIRS_VARIANTS
#undef PAIRS_VARIANT

static void TNAME(pairs)(const rpo_pair_block *blk)
{
    /* [weighted][smoothed][logit][0 loss only, 1 gradients only, 2 both] */
    static void (*const variant[2][2][2][3])(const rpo_pair_block *) = {
        {{{TNAME(pairs_loss_loss), TNAME(pairs_loss_grad), TNAME(pairs_loss_both)},
          {TNAME(pairs_logit_loss), TNAME(pairs_logit_grad), TNAME(pairs_logit_both)}},
         {{TNAME(pairs_loss_loss_s), TNAME(pairs_loss_grad_s), TNAME(pairs_loss_both_s)},
          {TNAME(pairs_logit_loss_s), TNAME(pairs_logit_grad_s), TNAME(pairs_logit_both_s)}}},
        {{{TNAME(pairs_loss_loss_w), TNAME(pairs_loss_grad_w), TNAME(pairs_loss_both_w)},
          {TNAME(pairs_logit_loss_w), TNAME(pairs_logit_grad_w), TNAME(pairs_logit_both_w)}},
         {{TNAME(pairs_loss_loss_sw), TNAME(pairs_loss_grad_sw), TNAME(pairs_loss_both_sw)},
          {TNAME(pairs_logit_loss_sw), TNAME(pairs_logit_grad_sw),
           TNAME(pairs_logit_both_sw)}}}};
    const int wanted = !blk->want_grad ? 0 : !blk->want_loss ? 1 : 2;
    variant[blk->col_w != NULL][blk->smoothing != 0.0][blk->logit != 0][wanted](blk);
}

#undef SUM_CHUNK
#undef GROUP
