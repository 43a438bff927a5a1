/*
 * The 1.2 paths on the engine (docs/extensions.md, docs/performance.md): the
 * loss family's kernel with both logit scales, the Sinkhorn weights, the
 * embedding gradients and the row blocks, on problems large enough to take
 * the engine's tiled, multi-block, shared-block, symmetric and threaded
 * paths (and CBLAS in a USE_CBLAS=1 build, check-cblas):
 *   - every kernel set agrees with an independent long double evaluation
 *     (family_ref.h's loss family; the softmax, the Sinkhorn scaling and
 *     the backward through softmax, cosines and normalisation written out
 *     here) within the conformance tolerances, float64 and float32;
 *   - row blocks summed as a data-parallel trainer sums them give the
 *     whole problem (with paired embeddings: the documented recipe);
 *   - RPO_PARAM_THREADS = 1, 2, 3, 8 give bitwise identical outputs.
 * Linked with librpo.a: rpo_ctx_use_kernels is static-linking-only.
 */
#define RPO_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>

#include "family_ref.h"
#include "testutil.h"
#include "kernel_sets.h"

static void *alloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------------------ problems */

typedef struct shape {
    size_t m, n, d;
    int paired;
} shape;

/* Values exactly representable as float, so that both entry points read
 * the same numbers and one reference serves both. */
typedef struct problem {
    shape s;
    double *pc, *rc, *pr, *rr, *e, *f;      /* f == e when paired        */
    float *pc32, *rc32, *pr32, *rr32, *e32, *f32;
    ld *eh, *fh;                            /* unit rows (ld), fh == eh   */
    ld *e_norm, *f_norm;                    /* clamped norms              */
    ld *cos;                                /* (m, n)                     */
} problem;

static double *float_values(test_rng *rng, size_t count, double lo, double hi)
{
    double *x = alloc(count, sizeof *x);
    for (size_t k = 0; k < count; k++)
        x[k] = (double)(float)rng_uniform(rng, lo, hi);
    return x;
}

static float *narrow(const double *x, size_t count)
{
    float *y = alloc(count, sizeof *y);
    to_f32(y, x, count);
    return y;
}

static void unit_rows(const double *x, size_t rows, size_t d, ld *xh, ld *norm)
{
    for (size_t i = 0; i < rows; i++) {
        ld ss = 0.0L;
        for (size_t k = 0; k < d; k++)
            ss += (ld)x[i * d + k] * (ld)x[i * d + k];
        norm[i] = fmaxl(sqrtl(ss), 1e-12L);
        for (size_t k = 0; k < d; k++)
            xh[i * d + k] = (ld)x[i * d + k] / norm[i];
    }
}

static problem make_problem(shape s, uint64_t seed)
{
    problem p;
    memset(&p, 0, sizeof p);
    p.s = s;
    test_rng rng = {seed};
    const size_t m = s.m, n = s.n, d = s.d;
    p.rc = float_values(&rng, m, -40.0, -10.0);
    p.rr = float_values(&rng, n, -40.0, -10.0);
    p.pc = float_values(&rng, m, -3.0, 3.0);
    p.pr = float_values(&rng, n, -3.0, 3.0);
    for (size_t i = 0; i < m; i++)
        p.pc[i] = (double)(float)(p.pc[i] + p.rc[i]);
    for (size_t j = 0; j < n; j++)
        p.pr[j] = (double)(float)(p.pr[j] + p.rr[j]);
    p.e = float_values(&rng, m * d, -1.0, 1.0);
    p.f = s.paired ? p.e : float_values(&rng, n * d, -1.0, 1.0);
    p.pc32 = narrow(p.pc, m); p.rc32 = narrow(p.rc, m);
    p.pr32 = narrow(p.pr, n); p.rr32 = narrow(p.rr, n);
    p.e32 = narrow(p.e, m * d);
    p.f32 = s.paired ? p.e32 : narrow(p.f, n * d);
    p.eh = alloc(m * d, sizeof *p.eh);
    p.e_norm = alloc(m, sizeof *p.e_norm);
    unit_rows(p.e, m, d, p.eh, p.e_norm);
    if (s.paired) {
        p.fh = p.eh;
        p.f_norm = p.e_norm;
    } else {
        p.fh = alloc(n * d, sizeof *p.fh);
        p.f_norm = alloc(n, sizeof *p.f_norm);
        unit_rows(p.f, n, d, p.fh, p.f_norm);
    }
    p.cos = alloc(m * n, sizeof *p.cos);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            ld c = 0.0L;
            for (size_t k = 0; k < d; k++)
                c += p.eh[i * d + k] * p.fh[j * d + k];
            p.cos[i * n + j] = c;
        }
    return p;
}

static void free_problem(problem *p)
{
    if (!p->s.paired) {
        free(p->f); free(p->f32); free(p->fh); free(p->f_norm);
    }
    free(p->pc); free(p->rc); free(p->pr); free(p->rr); free(p->e);
    free(p->pc32); free(p->rc32); free(p->pr32); free(p->rr32); free(p->e32);
    free(p->eh); free(p->e_norm); free(p->cos);
}

/* ------------------------------------------------------------ settings */

typedef struct config {
    const char *name;
    int weighting, loss, placement, logit_scale;
    double beta, tau, eps, discopop_tau;
} config;

static void apply(rpo_ctx *ctx, const config *c, int threads)
{
    configure(ctx, c->weighting, c->placement, c->beta, c->tau, 0.8, RPO_REDUCTION_MEAN);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOSS, c->loss), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, c->eps), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_DISCOPOP_TAU, c->discopop_tau), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, c->logit_scale), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_SINKHORN_ITERS, 4), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_SINKHORN_TOL, 0.0), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads), RPO_OK);
}

/* LOGIT unless the placement says LOSS: AUTO is LOGIT for EMBEDDING only */
static int logit_placed(const config *c)
{
    if (c->placement != RPO_PLACEMENT_AUTO)
        return c->placement == RPO_PLACEMENT_LOGIT;
    return c->weighting == RPO_WEIGHTING_EMBEDDING;
}

/* ------------------------------------------------------------ reference */

/* W_ij = softmax_j((cos_ij - 1) / tau) */
static void ref_softmax(const problem *p, double tau, ld *w)
{
    const size_t m = p->s.m, n = p->s.n;
    for (size_t i = 0; i < m; i++) {
        ld sum = 0.0L;
        for (size_t j = 0; j < n; j++)
            sum += w[i * n + j] = expl((p->cos[i * n + j] - 1.0L) / (ld)tau);
        for (size_t j = 0; j < n; j++)
            w[i * n + j] /= sum;
    }
}

/* The textbook Sinkhorn-Knopp scaling of K = exp(-(1 - cos) / eps) with
 * `updates` column updates, rows of the plan rescaled to sum to 1. The
 * library's k-th iteration measures the columns of the plan whose rows
 * were made exact for the potentials of k - 1 column updates. */
static void ref_sinkhorn(const problem *p, double eps, size_t updates, ld *w)
{
    const size_t m = p->s.m, n = p->s.n;
    ld *v = alloc(n, sizeof *v), *u = alloc(m, sizeof *u);
    for (size_t k = 0; k < m * n; k++)
        w[k] = expl((p->cos[k] - 1.0L) / (ld)eps);
    for (size_t j = 0; j < n; j++)
        v[j] = 1.0L;
    for (size_t it = 0; it < updates; it++) {
        for (size_t i = 0; i < m; i++) {
            ld s = 0.0L;
            for (size_t j = 0; j < n; j++)
                s += w[i * n + j] * v[j];
            u[i] = 1.0L / ((ld)m * s);
        }
        for (size_t j = 0; j < n; j++) {
            ld s = 0.0L;
            for (size_t i = 0; i < m; i++)
                s += w[i * n + j] * u[i];
            v[j] = 1.0L / ((ld)n * s);
        }
    }
    for (size_t i = 0; i < m; i++) {
        ld s = 0.0L;
        for (size_t j = 0; j < n; j++)
            s += w[i * n + j] *= v[j];
        for (size_t j = 0; j < n; j++)
            w[i * n + j] /= s;
    }
    free(u);
    free(v);
}

static void ref_diagonal_ld(size_t n, double alpha, ld *w)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            w[i * n + j] = i == j ? (ld)alpha : (1.0L - (ld)alpha) / (ld)(n - 1);
}

/* Everything a call returns, in double (float32 results widened). */
typedef struct outputs {
    double loss;
    double *ga, *gb;      /* (m), (n)                                   */
    double *ge, *gf;      /* (m, d), (n, d); paired: ge holds both roles */
    double *w;            /* (m, n) SINKHORN weights                     */
} outputs;

static outputs new_outputs(const shape *s)
{
    outputs o;
    o.loss = 0.0;
    o.ga = alloc(s->m, sizeof *o.ga);
    o.gb = alloc(s->n, sizeof *o.gb);
    o.ge = alloc(s->m * s->d, sizeof *o.ge);
    o.gf = alloc(s->n * s->d, sizeof *o.gf);
    o.w = alloc(s->m * s->n, sizeof *o.w);
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->ga); free(o->gb); free(o->ge); free(o->gf); free(o->w);
}

static int same_bits(const shape *s, const outputs *x, const outputs *y)
{
    return memcmp(&x->loss, &y->loss, sizeof x->loss) == 0 &&
           memcmp(x->ga, y->ga, s->m * sizeof *x->ga) == 0 &&
           memcmp(x->gb, y->gb, s->n * sizeof *x->gb) == 0 &&
           memcmp(x->ge, y->ge, s->m * s->d * sizeof *x->ge) == 0 &&
           memcmp(x->gf, y->gf, s->n * s->d * sizeof *x->gf) == 0 &&
           memcmp(x->w, y->w, s->m * s->n * sizeof *x->w) == 0;
}

/* The loss and its gradients over the weights w (m, n), and with embedding
 * weights (emb) the gradients through the softmax, the cosines and the
 * normalisation, each step written from its definition:
 *   p_ij = s W_ij f(a_i, b_j)                       (LOSS placement)
 *   p_ij = (s / n) f(k W_ij a_i, k W_ij b_j)        (LOGIT placement)
 *   dL/dcos_ij = W_ij (dL/dW_ij - sum_l W_il dL/dW_il) / tau
 *   dL/de^_i = sum_j dL/dcos_ij f^_j,  dL/df^_j = sum_i dL/dcos_ij e^_i
 *   dL/de_i = (dL/de^_i - e^_i (e^_i . dL/de^_i)) / ||e_i||  (unclamped) */
static void reference(const problem *p, const config *c, const ld *w, int emb,
                      outputs *out)
{
    const size_t m = p->s.m, n = p->s.n, d = p->s.d;
    const ref_loss rl = {c->loss, c->beta, c->eps, c->discopop_tau};
    const int logit = logit_placed(c);
    const ld k = c->logit_scale == RPO_LOGIT_SCALE_ROW_MEAN ? (ld)n : 1.0L;
    const ld s = 1.0L / (ld)m, scale = logit ? s / (ld)n : s;
    ld total = 0.0L;
    ld *col = alloc(n, sizeof *col), *gw = alloc(n, sizeof *gw);
    ld *de = alloc(m * d, sizeof *de), *df = alloc(n * d, sizeof *df);
    for (size_t i = 0; i < m; i++) {
        const ld a = (ld)p->pc[i] - (ld)p->rc[i];
        ld row = 0.0L, mean = 0.0L;
        for (size_t j = 0; j < n; j++) {
            const ld b = (ld)p->pr[j] - (ld)p->rr[j], wij = w[i * n + j];
            ld fa, fb, f;
            if (logit) {
                f = ref_pair(&rl, k * wij * a, k * wij * b, &fa, &fb);
                gw[j] = scale * k * (a * fa + b * fb);
                fa *= k * wij;
                fb *= k * wij;
            } else {
                f = ref_pair(&rl, a, b, &fa, &fb);
                gw[j] = scale * f;
                f *= wij;
                fa *= wij;
                fb *= wij;
            }
            total += f;
            row += fa;
            col[j] += fb;
            mean += wij * gw[j];
        }
        out->ga[i] = (double)(row * scale);
        for (size_t j = 0; emb && j < n; j++) {
            const ld gcos = w[i * n + j] * (gw[j] - mean) / (ld)c->tau;
            for (size_t q = 0; q < d; q++) {
                de[i * d + q] += gcos * p->fh[j * d + q];
                df[j * d + q] += gcos * p->eh[i * d + q];
            }
        }
    }
    out->loss = (double)(total * scale);
    for (size_t j = 0; j < n; j++)
        out->gb[j] = (double)(col[j] * scale);
    if (emb) {
        if (p->s.paired)
            for (size_t q = 0; q < m * d; q++)
                de[q] += df[q];
        for (int side = 0; side < (p->s.paired ? 1 : 2); side++) {
            const size_t rows = side ? n : m;
            const ld *xh = side ? p->fh : p->eh, *norm = side ? p->f_norm : p->e_norm;
            const ld *g = side ? df : de;
            double *to = side ? out->gf : out->ge;
            for (size_t i = 0; i < rows; i++) {
                ld along = 0.0L;
                if (norm[i] > 1e-12L)
                    for (size_t q = 0; q < d; q++)
                        along += xh[i * d + q] * g[i * d + q];
                for (size_t q = 0; q < d; q++)
                    to[i * d + q] = (double)((g[i * d + q] - xh[i * d + q] * along) / norm[i]);
            }
        }
    }
    free(col); free(gw); free(de); free(df);
}

/* ------------------------------------------------------------ the calls */

typedef enum path { FAMILY, EMB_GRAD, SINKHORN, ROWS, ROWS_DIAGONAL, PATHS } path;
static const char *path_names[PATHS] = {"family", "embedding gradients", "sinkhorn",
                                        "row blocks", "row blocks, diagonal"};

static void widen(double *dst, const float *src, size_t count)
{
    to_f64(dst, src, count);
}

/* One of rpo_loss_*, rpo_loss_embed_grad_*, or (SINKHORN) rpo_loss_* and
 * rpo_weights_*, in float32 (f32) or float64, into *o. Returns the Sinkhorn
 * iterations (0 for other paths). */
static size_t call_whole(rpo_ctx *ctx, const problem *p, path which, int f32, outputs *o)
{
    const size_t m = p->s.m, n = p->s.n, d = p->s.d;
    const int grads = which == EMB_GRAD;
    if (!f32) {
        if (grads)
            assert_status(rpo_loss_embed_grad_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d,
                                                  p->e, p->f, &o->loss, o->ga, o->gb,
                                                  o->ge, o->gf), RPO_OK);
        else
            assert_status(rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d, p->e,
                                       p->f, &o->loss, o->ga, o->gb), RPO_OK);
        if (which == SINKHORN)
            assert_status(rpo_weights_f64(ctx, m, n, d, p->e, p->f, o->w), RPO_OK);
    } else {
        float loss, *ga = alloc(m, sizeof *ga), *gb = alloc(n, sizeof *gb);
        float *ge = alloc(m * d, sizeof *ge), *gf = alloc(n * d, sizeof *gf);
        float *w = alloc(m * n, sizeof *w);
        if (grads)
            assert_status(rpo_loss_embed_grad_f32(ctx, m, p->pc32, p->rc32, n, p->pr32,
                                                  p->rr32, d, p->e32, p->f32, &loss, ga,
                                                  gb, ge, gf), RPO_OK);
        else
            assert_status(rpo_loss_f32(ctx, m, p->pc32, p->rc32, n, p->pr32, p->rr32, d,
                                       p->e32, p->f32, &loss, ga, gb), RPO_OK);
        if (which == SINKHORN)
            assert_status(rpo_weights_f32(ctx, m, n, d, p->e32, p->f32, w), RPO_OK);
        o->loss = (double)loss;
        widen(o->ga, ga, m); widen(o->gb, gb, n);
        widen(o->ge, ge, m * d); widen(o->gf, gf, n * d);
        widen(o->w, w, m * n);
        free(ga); free(gb); free(ge); free(gf); free(w);
    }
    double iterations = 0.0;
    if (which == SINKHORN)
        assert_status(rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iterations), RPO_OK);
    return (size_t)iterations;
}

/* The problem as three row blocks of rpo_loss_rows_*, summed as a trainer
 * sums them after its all-reduce. Paired embeddings: every block reads the
 * gathered matrix as rejected_emb, and pair i's gradient is its block's
 * grad_chosen_emb row plus row i of the summed partial_grad_rejected_emb. */
static void call_rows(rpo_ctx *ctx, const problem *p, int f32, outputs *o)
{
    const size_t m = p->s.m, n = p->s.n, d = p->s.d;
    const size_t cut[4] = {0, m / 3, m / 3 + (m / 3) / 2 + 5, m};
    double *stats = alloc(RPO_PARTIAL_COUNT, sizeof *stats);
    double *gb = alloc(n, sizeof *gb), *gf = alloc(n * d, sizeof *gf);
    float *stats32 = alloc(RPO_PARTIAL_COUNT, sizeof *stats32);
    float *ga32 = alloc(m, sizeof *ga32), *ge32 = alloc(m * d, sizeof *ge32);
    float *gb32 = alloc(n, sizeof *gb32), *gf32 = alloc(n * d, sizeof *gf32);
    o->loss = 0.0;
    memset(o->gb, 0, n * sizeof *o->gb);
    memset(o->gf, 0, n * d * sizeof *o->gf);
    for (int blk = 0; blk < 3; blk++) {
        const size_t r0 = cut[blk], rows = cut[blk + 1] - cut[blk];
        if (!f32) {
            assert_status(rpo_loss_rows_f64(ctx, m, r0, rows, p->pc + r0, p->rc + r0, n,
                                            p->pr, p->rr, d, p->e + r0 * d, p->f,
                                            o->ga + r0, o->ge + r0 * d, stats, gb, gf),
                          RPO_OK);
        } else {
            assert_status(rpo_loss_rows_f32(ctx, m, r0, rows, p->pc32 + r0, p->rc32 + r0,
                                            n, p->pr32, p->rr32, d, p->e32 + r0 * d,
                                            p->f32, ga32 + r0, ge32 + r0 * d, stats32,
                                            gb32, gf32), RPO_OK);
            widen(stats, stats32, RPO_PARTIAL_COUNT);
            widen(gb, gb32, n);
            widen(gf, gf32, n * d);
        }
        o->loss += stats[RPO_PARTIAL_LOSS];
        for (size_t j = 0; j < n; j++)
            o->gb[j] += gb[j];
        for (size_t q = 0; q < n * d; q++)
            o->gf[q] += gf[q];
    }
    if (f32) {
        widen(o->ga, ga32, m);
        widen(o->ge, ge32, m * d);
    }
    if (p->s.paired) {
        for (size_t q = 0; q < m * d; q++)
            o->ge[q] += o->gf[q];
        memset(o->gf, 0, n * d * sizeof *o->gf);
    }
    free(stats); free(gb); free(gf); free(stats32);
    free(ga32); free(ge32); free(gb32); free(gf32);
}

static void call_path(rpo_ctx *ctx, const problem *p, path which, int f32,
                      outputs *o, size_t *iterations)
{
    *iterations = 0;
    if (which == ROWS || which == ROWS_DIAGONAL)
        call_rows(ctx, p, f32, o);
    else
        *iterations = call_whole(ctx, p, which, f32, o);
}

/* ------------------------------------------------------------ the checks */

static config path_config(path which, int variant)
{
    /* label-smoothed sigmoid with the row-mean logit scale; IPO on the
     * loss; the reference sigmoid; robust on the loss; NCA with the
     * row-mean scale; APO-down over the diagonal (test_family.c has every
     * member on small problems) */
    /* in two tables (C99 wants constant initialisers: a macro, not a copy) */
#define SMOOTHED_SIGMOID_ROW_MEAN                                              \
    {"sigmoid eps 0.1 row-mean", RPO_WEIGHTING_EMBEDDING, RPO_LOSS_SIGMOID,   \
     RPO_PLACEMENT_LOGIT, RPO_LOGIT_SCALE_ROW_MEAN, 0.1, 0.5, 0.1, 0.05}
    static const config family[] = {
        SMOOTHED_SIGMOID_ROW_MEAN,
        {"ipo loss-placed", RPO_WEIGHTING_EMBEDDING, RPO_LOSS_IPO,
         RPO_PLACEMENT_LOSS, RPO_LOGIT_SCALE_ROW_SUM, 0.5, 0.5, 0.0, 0.05},
    };
    static const config emb_grad[] = {
        {"sigmoid", RPO_WEIGHTING_EMBEDDING, RPO_LOSS_SIGMOID,
         RPO_PLACEMENT_AUTO, RPO_LOGIT_SCALE_ROW_SUM, 0.1, 0.5, 0.0, 0.05},
        {"robust loss-placed", RPO_WEIGHTING_EMBEDDING, RPO_LOSS_ROBUST,
         RPO_PLACEMENT_LOSS, RPO_LOGIT_SCALE_ROW_SUM, 0.1, 0.5, 0.2, 0.05},
        SMOOTHED_SIGMOID_ROW_MEAN,
    };
#undef SMOOTHED_SIGMOID_ROW_MEAN
    static const config sinkhorn[] = {
        {"sigmoid", RPO_WEIGHTING_SINKHORN, RPO_LOSS_SIGMOID,
         RPO_PLACEMENT_AUTO, RPO_LOGIT_SCALE_ROW_SUM, 0.1, 0.5, 0.0, 0.05},
        {"nca logit row-mean", RPO_WEIGHTING_SINKHORN, RPO_LOSS_NCA_PAIR,
         RPO_PLACEMENT_LOGIT, RPO_LOGIT_SCALE_ROW_MEAN, 0.1, 0.5, 0.0, 0.05},
    };
    static const config diagonal = {"apo-down", RPO_WEIGHTING_DIAGONAL, RPO_LOSS_APO_DOWN,
                                    RPO_PLACEMENT_AUTO, RPO_LOGIT_SCALE_ROW_SUM, 0.1,
                                    0.5, 0.0, 0.05};
    switch (which) {
    case FAMILY: return family[variant % 2];
    case EMB_GRAD: return emb_grad[variant % 3];
    case SINKHORN: return sinkhorn[variant % 2];
    case ROWS: return family[0];
    default: return diagonal;
    }
}

static int variants(path which)
{
    return which == EMB_GRAD ? 3 : which == FAMILY || which == SINKHORN ? 2 : 1;
}

/* The reference outputs of a path under configuration c. */
static void expected(const problem *p, path which, const config *c, size_t iterations,
                     outputs *want)
{
    const size_t m = p->s.m, n = p->s.n;
    ld *w = alloc(m * n, sizeof *w);
    if (which == SINKHORN)
        ref_sinkhorn(p, c->tau, iterations - 1, w);
    else if (which == ROWS_DIAGONAL)
        ref_diagonal_ld(n, 0.8, w);
    else
        ref_softmax(p, c->tau, w);
    for (size_t k = 0; k < m * n; k++)
        want->w[k] = (double)w[k];
    reference(p, c, w, which == EMB_GRAD || which == ROWS, want);
    free(w);
}

static void check_against(const char *label, const problem *p, path which,
                          const outputs *got, const outputs *want, double tol)
{
    const size_t m = p->s.m, n = p->s.n, d = p->s.d;
    char what[320];
    snprintf(what, sizeof what, "%s: loss", label);
    check_loss(what, got->loss, want->loss, tol);
    snprintf(what, sizeof what, "%s: grad_chosen", label);
    check_vector_rel(what, got->ga, want->ga, m, tol);
    snprintf(what, sizeof what, "%s: grad_rejected", label);
    check_vector_rel(what, got->gb, want->gb, n, tol);
    if (which == EMB_GRAD || which == ROWS) {
        snprintf(what, sizeof what, "%s: grad_chosen_emb", label);
        check_vector_rel(what, got->ge, want->ge, m * d, tol);
        snprintf(what, sizeof what, "%s: grad_rejected_emb", label);
        if (!p->s.paired)
            check_vector_rel(what, got->gf, want->gf, n * d, tol);
    }
    if (which == SINKHORN) {
        snprintf(what, sizeof what, "%s: weights", label);
        check_vector_abs(what, got->w, want->w, m * n, tol);
    }
}

/* How much of the matrix a configuration runs: every kernel set, or the
 * fastest one (the first found); and how many more thread counts, on the
 * fastest set. The embedding gradients' first configuration, which goes
 * through every kernel the 1.2 paths use (product, softmax, dot products),
 * runs on every set; tests/test_kernels.c covers every set on every
 * similarity path. */
static int every_set(path which, int variant)
{
    return which == EMB_GRAD && variant == 0 && !small_run();
}

static size_t more_thread_counts(int variant)
{
    return variant == 0 && !small_run() ? 3 : 1;
}

/* Every path against the reference, both precisions, one thread; then the
 * same calls on more threads, bitwise. */
static void check_shape(shape s, uint64_t seed)
{
    problem p = make_problem(s, seed);
    static const int more_threads[] = {3, 2, 8};
    for (int which = FAMILY; which < PATHS; which++) {
        if (which == ROWS_DIAGONAL && s.m != s.n)
            continue;
        for (int v = 0; v < (small_run() ? 1 : variants((path)which)); v++) {
            const config c = path_config((path)which, v);
            outputs want = new_outputs(&s);
            int have_want = 0;
            size_t sets_run = 0;
            for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
                if (sets_run > 0 && !every_set((path)which, v))
                    break;
                for (int f32 = 0; f32 <= 1; f32++) {
                    rpo_ctx *ctx = context_on(kernel_sets[ks]);
                    if (ctx == NULL)
                        break;
                    char label[256];
                    snprintf(label, sizeof label, "%zu x %zu x %zu%s, %s, %s, %s, %s",
                             s.m, s.n, s.d, s.paired ? " paired" : "",
                             path_names[which], c.name, rpo_ctx_kernels(ctx),
                             f32 ? "f32" : "f64");
                    apply(ctx, &c, 1);
                    outputs one = new_outputs(&s);
                    size_t iterations;
                    call_path(ctx, &p, (path)which, f32, &one, &iterations);
                    if (!have_want) {
                        expected(&p, (path)which, &c, iterations, &want);
                        have_want = 1;
                    }
                    check_against(label, &p, (path)which, &one, &want,
                                  f32 ? TOL_F32 : TOL_F64);
                    const size_t counts = sets_run > 0 ? 0 : more_thread_counts(v);
                    for (size_t t = 0; t < counts; t++) {
                        outputs more = new_outputs(&s);
                        apply(ctx, &c, more_threads[t]);
                        call_path(ctx, &p, (path)which, f32, &more, &iterations);
                        if (!same_bits(&s, &one, &more))
                            fail_msg("%s: %d threads differ from 1", label, more_threads[t]);
                        free_outputs(&more);
                    }
                    free_outputs(&one);
                    rpo_ctx_free(ctx);
                    if (f32)
                        sets_run++;
                }
            }
            free_outputs(&want);
        }
    }
    free_problem(&p);
}

/* Single blocks, whose sub-blocks the workers share: tiled (the paired one
 * with the symmetric half product) and dot products. */
static void test_single_blocks(void **state)
{
    (void)state;
    check_shape((shape){240, 240, 48, 1}, 11);
    check_shape(small_run() ? (shape){200, 240, 64, 0} : (shape){300, 262, 40, 0}, 12);
}

/* Several row blocks, each on one worker: dot products (M <= 160) and
 * tiles, paired and not; the largest one is a CBLAS product in a USE_CBLAS=1
 * build. A row block holds 2 MiB, so these take a quarter of a million
 * pairs at least: too many for the small runs, whose single blocks run the
 * same per-pair and commit code on shared sub-blocks. */
static void test_streamed_blocks(void **state)
{
    (void)state;
    if (small_run())
        skip();
    check_shape((shape){140, 3000, 12, 0}, 21);
    check_shape((shape){520, 520, 16, 1}, 22);
    check_shape((shape){700, 520, 48, 0}, 23);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_blocks),
        cmocka_unit_test(test_streamed_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
