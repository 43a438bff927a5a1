/*
 * The performance engine: every kernel set this machine runs, every
 * similarity path (dot products, packed tiles, CBLAS in a USE_CBLAS=1
 * build, symmetric and not) and every thread count must give the same
 * answers:
 *   - each kernel set passes every conformance case through every entry
 *     point, within the conformance tolerances;
 *   - on problems large enough to take the tiled and multi-block paths
 *     (ragged sizes, so every edge is exercised) each kernel set agrees
 *     with an independent long double evaluation of the SPEC formulas,
 *     within the same tolerances, for every weighting and placement, with
 *     and without label smoothing and the logit scale k = N, for SIGMOID
 *     and ROBUST, and for loss-only and gradient-only calls;
 *   - the similarity stage alone (rpo_similarity_*) gives the cosines;
 *   - the paired similarity matrix is exactly symmetric at every alignment
 *     of the output, with and without streaming stores;
 *   - RPO_PARAM_THREADS = 1, 2, 3, 8 give bitwise identical outputs;
 *   - float32 inputs beyond float's safe range fall back to double.
 * Linked with librpo.a: rpo_ctx_use_kernels is static-linking-only.
 */
#define RPO_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"
#include "testutil.h"
#include "kernel_sets.h"
#include "vectors.h"

static rpo_vec_set vectors;

static float *narrow(const double *src, size_t count)
{
    if (src == NULL)
        return NULL;
    float *dst = malloc((count ? count : 1) * sizeof *dst);
    assert_non_null(dst);
    to_f32(dst, src, count);
    return dst;
}

/* ------------------------------------------- conformance, every set */

static void conformance_case(rpo_ctx *ctx, const rpo_vec_case *c)
{
    const char *ks = rpo_ctx_kernels(ctx);
    char what[256];
    configure(ctx, c->weighting, c->placement, c->beta, c->tau, c->alpha,
              RPO_REDUCTION_MEAN);
    const double *re = c->rejected_emb_same ? c->chosen_emb : c->rejected_emb;
    double loss, *gc = calloc(c->m, sizeof *gc), *gr = calloc(c->n, sizeof *gr);
    double *w = calloc(c->m * c->n, sizeof *w);
    assert_status(rpo_loss_f64(ctx, c->m, c->policy_chosen, c->ref_chosen, c->n,
                               c->policy_rejected, c->ref_rejected, c->d,
                               c->chosen_emb, re, &loss, gc, gr), RPO_OK);
    snprintf(what, sizeof what, "%s [%s f64] loss", c->name, ks);
    check_loss(what, loss, c->loss, TOL_F64);
    snprintf(what, sizeof what, "%s [%s f64] grad_chosen", c->name, ks);
    check_vector_rel(what, gc, c->grad_chosen, c->m, TOL_F64);
    snprintf(what, sizeof what, "%s [%s f64] grad_rejected", c->name, ks);
    check_vector_rel(what, gr, c->grad_rejected, c->n, TOL_F64);
    assert_status(rpo_weights_f64(ctx, c->m, c->n, c->d, c->chosen_emb, re, w), RPO_OK);
    snprintf(what, sizeof what, "%s [%s f64] weights", c->name, ks);
    check_vector_abs(what, w, c->weights, c->m * c->n, TOL_F64);
    assert_status(rpo_loss_weighted_f64(ctx, c->m, c->policy_chosen, c->ref_chosen,
                                        c->n, c->policy_rejected, c->ref_rejected,
                                        c->weights, &loss, gc, gr), RPO_OK);
    snprintf(what, sizeof what, "%s [%s weighted f64] loss", c->name, ks);
    check_loss(what, loss, c->loss, TOL_F64);
    snprintf(what, sizeof what, "%s [%s weighted f64] grad_rejected", c->name, ks);
    check_vector_rel(what, gr, c->grad_rejected, c->n, TOL_F64);

    float *pc = narrow(c->policy_chosen, c->m), *rc = narrow(c->ref_chosen, c->m);
    float *pr = narrow(c->policy_rejected, c->n), *rr = narrow(c->ref_rejected, c->n);
    float *ce = narrow(c->chosen_emb, c->m * c->d);
    float *rej = c->rejected_emb_same ? ce : narrow(c->rejected_emb, c->n * c->d);
    float loss32, *gc32 = calloc(c->m, sizeof *gc32), *gr32 = calloc(c->n, sizeof *gr32);
    float *w32 = calloc(c->m * c->n, sizeof *w32);
    assert_status(rpo_loss_f32(ctx, c->m, pc, rc, c->n, pr, rr, c->d, ce, rej,
                               &loss32, gc32, gr32), RPO_OK);
    to_f64(gc, gc32, c->m);
    to_f64(gr, gr32, c->n);
    snprintf(what, sizeof what, "%s [%s f32] loss", c->name, ks);
    check_loss(what, (double)loss32, c->loss, TOL_F32);
    snprintf(what, sizeof what, "%s [%s f32] grad_chosen", c->name, ks);
    check_vector_rel(what, gc, c->grad_chosen, c->m, TOL_F32);
    snprintf(what, sizeof what, "%s [%s f32] grad_rejected", c->name, ks);
    check_vector_rel(what, gr, c->grad_rejected, c->n, TOL_F32);
    assert_status(rpo_weights_f32(ctx, c->m, c->n, c->d, ce, rej, w32), RPO_OK);
    to_f64(w, w32, c->m * c->n);
    snprintf(what, sizeof what, "%s [%s f32] weights", c->name, ks);
    check_vector_abs(what, w, c->weights, c->m * c->n, TOL_F32);

    if (rej != ce)
        free(rej);
    free(pc); free(rc); free(pr); free(rr); free(ce);
    free(gc); free(gr); free(w); free(gc32); free(gr32); free(w32);
}

static void test_conformance_every_kernel_set(void **state)
{
    (void)state;
    assert_true(vectors.count > 0);
    int ran = 0;
    for (size_t s = 0; s < KERNEL_SETS; s++) {
        rpo_ctx *ctx = context_on(kernel_sets[s]);
        if (ctx == NULL) {
            printf("# kernel set %d: not on this machine, skipped\n", kernel_sets[s]);
            continue;
        }
        printf("# kernel set %s: %zu conformance cases\n", rpo_ctx_kernels(ctx),
               vectors.count);
        for (size_t k = 0; k < vectors.count; k++)
            conformance_case(ctx, &vectors.cases[k]);
        rpo_ctx_free(ctx);
        ran++;
    }
    assert_true(ran >= 2); /* portable and generic run everywhere */
}

/* ------------------------------------- an independent reference */

/* Inputs of a generated problem, in double (exact in float). */
typedef struct problem {
    size_t m, n, d;
    int paired;
    double *pc, *rc, *pr, *rr, *e, *f;   /* f == e when paired */
} problem;

/* Rounds to float so float32 and float64 calls see the same numbers. */
static double f32_exact(double x)
{
    return (double)(float)x;
}

static problem make_problem(size_t m, size_t n, size_t d, int paired,
                            uint64_t seed)
{
    problem p;
    test_rng rng = {seed};
    p.m = m; p.n = n; p.d = d; p.paired = paired;
    p.pc = malloc(m * sizeof *p.pc); p.rc = malloc(m * sizeof *p.rc);
    p.pr = malloc(n * sizeof *p.pr); p.rr = malloc(n * sizeof *p.rr);
    for (size_t i = 0; i < m; i++) {
        p.pc[i] = f32_exact(rng_uniform(&rng, -80.0, -20.0));
        p.rc[i] = f32_exact(p.pc[i] + rng_uniform(&rng, -4.0, 4.0));
    }
    for (size_t j = 0; j < n; j++) {
        p.pr[j] = f32_exact(rng_uniform(&rng, -80.0, -20.0));
        p.rr[j] = f32_exact(p.pr[j] + rng_uniform(&rng, -4.0, 4.0));
    }
    /* embeddings around a few topics, so the weights are far from uniform */
    p.e = malloc(m * d * sizeof *p.e);
    for (size_t k = 0; k < m * d; k++)
        p.e[k] = f32_exact(rng_uniform(&rng, -1.0, 1.0) +
                           (k % d < 8 ? 3.0 * (double)((k / d) % 3) : 0.0));
    p.e[(m / 2) * d + 0] = 0.0;          /* keep one row all zero:      */
    for (size_t k = 0; k < d; k++)       /* cosine 0 with everything    */
        p.e[(m / 2) * d + k] = 0.0;
    if (paired) {
        p.f = p.e;
    } else {
        p.f = malloc(n * d * sizeof *p.f);
        for (size_t k = 0; k < n * d; k++)
            p.f[k] = f32_exact(rng_uniform(&rng, -1.0, 1.0) +
                               (k % d < 8 ? 3.0 * (double)((k / d) % 3) : 0.0));
    }
    return p;
}

static void free_problem(problem *p)
{
    if (p->f != p->e)
        free(p->f);
    free(p->pc); free(p->rc); free(p->pr); free(p->rr); free(p->e);
}

/* The SPEC's formulas, straight, in long double. */
typedef struct reference {
    double loss, *gc, *gr, *w;
} reference;


#define LD(x) ((long double)(x))

/* Compensated (Kahan) sums: valgrind computes long double at double
 * precision, and a plain sum of a few hundred thousand terms would then
 * drift past the float64 tolerance. */
typedef struct ksum { long double s, c; } ksum;
static void kadd(ksum *k, long double x)
{
    long double y = x - k->c, t = k->s + y;
    k->c = (t - k->s) - y;
    k->s = t;
}

/* The reference loss with label smoothing eps, (1 - eps) softplus(-u) +
 * eps softplus(u), or with robust: ((1 - eps) softplus(-u) - eps
 * softplus(u)) / (1 - 2 eps) (RPO_LOSS_ROBUST); logit scale k (u = beta k
 * W z in LOGIT placement). */
static reference reference_of(const problem *p, int weighting, int logit,
                              double beta, double tau, double alpha,
                              double eps, double k_scale, int robust)
{
    const size_t m = p->m, n = p->n, d = p->d;
    reference r;
    r.w = malloc(m * n * sizeof *r.w);
    r.gc = calloc(m, sizeof *r.gc);
    r.gr = calloc(n, sizeof *r.gr);
    long double *row = malloc(n * sizeof *row);
    ksum total = {0, 0};
    ksum *col = calloc(n, sizeof *col);
    for (size_t i = 0; i < m; i++) {
        if (weighting == RPO_WEIGHTING_EMBEDDING) {
            long double ne = 0, top = -2;
            for (size_t k = 0; k < d; k++)
                ne += LD(p->e[i * d + k]) * LD(p->e[i * d + k]);
            ne = fmaxl(sqrtl(ne), 1e-12L);
            for (size_t j = 0; j < n; j++) {
                long double nf = 0, dot = 0;
                for (size_t k = 0; k < d; k++) {
                    nf += LD(p->f[j * d + k]) * LD(p->f[j * d + k]);
                    dot += LD(p->e[i * d + k]) * LD(p->f[j * d + k]);
                }
                row[j] = dot / (ne * fmaxl(sqrtl(nf), 1e-12L));
                top = fmaxl(top, row[j]);
            }
            long double sum = 0;
            for (size_t j = 0; j < n; j++)
                sum += row[j] = expl((row[j] - top) / LD(tau));
            for (size_t j = 0; j < n; j++)
                row[j] /= sum;
        } else if (weighting == RPO_WEIGHTING_DIAGONAL) {
            for (size_t j = 0; j < n; j++)
                row[j] = n == 1 ? 1 : j == i ? LD(alpha) : (1 - LD(alpha)) / LD(n - 1);
        } else {
            for (size_t j = 0; j < n; j++)
                row[j] = 1 / LD(n);
        }
        long double a = LD(p->pc[i]) - LD(p->rc[i]);
        ksum grow = {0, 0};
        for (size_t j = 0; j < n; j++) {
            r.w[i * n + j] = (double)row[j];
            long double z = a - (LD(p->pr[j]) - LD(p->rr[j]));
            const long double kb = logit ? LD(beta) * LD(k_scale) : LD(beta);
            long double u = logit ? kb * row[j] * z : kb * z;
            const long double sign = robust ? -1 : 1;
            const long double norm = robust ? 1 - 2 * LD(eps) : 1;
            long double f = ((1 - LD(eps)) * oracle_softplus_neg(u) +
                             sign * LD(eps) * oracle_softplus_neg(-u)) / norm;
            kadd(&total, logit ? f / LD(n) : row[j] * f);
            /* df/du = (-(1 - eps) sigmoid(-u) +- eps sigmoid(u)) / norm */
            long double dfdu = (-(1 - LD(eps)) * oracle_sigmoid_neg(u) +
                                sign * LD(eps) * oracle_sigmoid_neg(-u)) / norm;
            long double g = kb * row[j] * dfdu / (logit ? LD(m) * LD(n) : LD(m));
            kadd(&grow, g);
            kadd(&col[j], -g);
        }
        r.gc[i] = (double)grow.s;
    }
    for (size_t j = 0; j < n; j++)
        r.gr[j] = (double)col[j].s;
    r.loss = (double)(total.s / LD(m));
    free(row);
    free(col);
    return r;
}

static void free_reference(reference *r)
{
    free(r->gc); free(r->gr); free(r->w);
}

/* Float copies of a problem. */
typedef struct problem32 {
    float *pc, *rc, *pr, *rr, *e, *f;
} problem32;

static problem32 narrow_problem(const problem *p)
{
    problem32 q;
    q.pc = narrow(p->pc, p->m); q.rc = narrow(p->rc, p->m);
    q.pr = narrow(p->pr, p->n); q.rr = narrow(p->rr, p->n);
    q.e = narrow(p->e, p->m * p->d);
    q.f = p->paired ? q.e : narrow(p->f, p->n * p->d);
    return q;
}

static void free_problem32(problem32 *q)
{
    if (q->f != q->e)
        free(q->f);
    free(q->pc); free(q->rc); free(q->pr); free(q->rr); free(q->e);
}

/* One problem through one kernel set: loss and both gradients (and
 * loss-only, gradient-only calls) in f64 and f32, and the weights. */
static void check_against_reference(rpo_ctx *ctx, const problem *p,
                                    const problem32 *q, const reference *ref,
                                    const char *label)
{
    const size_t m = p->m, n = p->n, d = p->d;
    const double *f = p->paired ? NULL : p->f;
    const float *f32 = p->paired ? NULL : q->f;
    char what[256];
    double loss = -1, *gc = calloc(m, sizeof *gc), *gr = calloc(n, sizeof *gr);
    float loss32 = -1, *gc32 = calloc(m, sizeof *gc32), *gr32 = calloc(n, sizeof *gr32);

    assert_status(rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d, p->e, f,
                               &loss, gc, gr), RPO_OK);
    snprintf(what, sizeof what, "%s f64 loss", label);
    check_loss(what, loss, ref->loss, TOL_F64);
    snprintf(what, sizeof what, "%s f64 grad_chosen", label);
    check_vector_rel(what, gc, ref->gc, m, TOL_F64);
    snprintf(what, sizeof what, "%s f64 grad_rejected", label);
    check_vector_rel(what, gr, ref->gr, n, TOL_F64);

    /* loss only, then gradients only: bitwise the numbers of the full call
     * (the specialised kernels skip work, never change how it is done) */
    double loss_only = -1, *gr_only = calloc(n, sizeof *gr_only);
    assert_status(rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d, p->e, f,
                               &loss_only, NULL, NULL), RPO_OK);
    if (memcmp(&loss_only, &loss, sizeof loss) != 0)
        fail_msg("%s: the loss-only call differs from the full one", label);
    assert_status(rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d, p->e, f,
                               NULL, NULL, gr_only), RPO_OK);
    if (memcmp(gr_only, gr, n * sizeof *gr) != 0)
        fail_msg("%s: the gradient-only call differs from the full one", label);
    free(gr_only);

    assert_status(rpo_loss_f32(ctx, m, q->pc, q->rc, n, q->pr, q->rr, d, q->e, f32,
                               &loss32, gc32, gr32), RPO_OK);
    to_f64(gc, gc32, m);
    to_f64(gr, gr32, n);
    snprintf(what, sizeof what, "%s f32 loss", label);
    check_loss(what, (double)loss32, ref->loss, TOL_F32);
    snprintf(what, sizeof what, "%s f32 grad_chosen", label);
    check_vector_rel(what, gc, ref->gc, m, TOL_F32);
    snprintf(what, sizeof what, "%s f32 grad_rejected", label);
    check_vector_rel(what, gr, ref->gr, n, TOL_F32);

    double *w = malloc(m * n * sizeof *w);
    float *w32 = malloc(m * n * sizeof *w32);
    assert_status(rpo_weights_f64(ctx, m, n, d, p->e, f, w), RPO_OK);
    snprintf(what, sizeof what, "%s f64 weights", label);
    check_vector_abs(what, w, ref->w, m * n, TOL_F64);
    assert_status(rpo_weights_f32(ctx, m, n, d, q->e, f32, w32), RPO_OK);
    to_f64(w, w32, m * n);
    snprintf(what, sizeof what, "%s f32 weights", label);
    check_vector_abs(what, w, ref->w, m * n, TOL_F32);

    free(w); free(w32); free(gc); free(gr); free(gc32); free(gr32);
}

typedef struct shape {
    size_t m, n, d;
    int paired;
} shape;

/* Ragged sizes on every side of the engine's thresholds: computed in
 * double even through the float32 entry points (the first two: small),
 * dot products, packed tiles (larger), several row blocks (tall), a
 * product big enough for CBLAS in a USE_CBLAS=1 build (the last one). */
static const shape shapes[] = {
    {37, 37, 21, 1},
    {9, 61, 130, 0},
    {150, 150, 200, 1},
    {100, 140, 300, 0},
    {203, 203, 77, 1},
    {230, 171, 45, 0},
    {1500, 900, 13, 0},
    {520, 520, 64, 1},
};
#define SHAPES (sizeof shapes / sizeof shapes[0])

typedef struct setting {
    int weighting, placement;
    double beta, tau, alpha;
    double smoothing;   /* RPO_PARAM_LABEL_SMOOTHING */
    int logit_scale;    /* RPO_PARAM_LOGIT_SCALE */
    int loss;           /* RPO_PARAM_LOSS: SIGMOID or ROBUST */
} setting;

#define ROW_SUM RPO_LOGIT_SCALE_ROW_SUM
#define ROW_MEAN RPO_LOGIT_SCALE_ROW_MEAN
#define SIGMOID RPO_LOSS_SIGMOID
#define ROBUST RPO_LOSS_ROBUST
static const setting settings[] = {
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1, 0.5, 0.8, 0.0, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOSS, 2.0, 0.05, 0.8, 0.0, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1, 0.01, 0.8, 0.0, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO, 0.5, 0.5, 0.8, 0.0, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_DIAGONAL, RPO_PLACEMENT_LOGIT, 0.3, 0.5, 0.7, 0.0, ROW_SUM, SIGMOID},
    /* label smoothing (cDPO) and the logit scale k = N */
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1, 0.5, 0.8, 0.1, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOSS, 2.0, 0.05, 0.8, 0.3, ROW_SUM, SIGMOID},
    {RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_LOGIT, 0.05, 0.5, 0.8, 0.0, ROW_MEAN, SIGMOID},
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOGIT, 0.02, 0.5, 0.8, 0.2, ROW_MEAN, SIGMOID},
    /* ROBUST, on the same kernels (eps -> -eps / (1 - 2 eps)) */
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOSS, 0.5, 0.5, 0.8, 0.45, ROW_SUM, ROBUST},
    {RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, 0.1, 0.5, 0.8, 0.2, ROW_MEAN, ROBUST},
};
#undef ROW_SUM
#undef ROW_MEAN
#undef SIGMOID
#undef ROBUST
#define SETTINGS (sizeof settings / sizeof settings[0])

static void test_kernel_sets_match_reference(void **state)
{
    (void)state;
    for (size_t s = 0; s < SHAPES; s++) {
        shape small = shapes[s];
        if (small_run() && small.m * small.n > 50000)
            small.m /= 4, small.n /= 4;
        const shape *sh = &small;
        problem p = make_problem(sh->m, sh->n, sh->d, sh->paired, 1000 + s);
        problem32 q = narrow_problem(&p);
        for (size_t t = 0; t < SETTINGS; t++) {
            const setting *st = &settings[t];
            if (st->weighting == RPO_WEIGHTING_DIAGONAL && sh->m != sh->n)
                continue;
            /* a reduced run keeps every other setting, smoothed and
             * scaled ones among them */
            if (small_run() && t % 2 == 1)
                continue;
            int logit = st->placement == RPO_PLACEMENT_LOGIT ||
                        (st->placement == RPO_PLACEMENT_AUTO &&
                         st->weighting == RPO_WEIGHTING_EMBEDDING);
            const double k_scale =
                st->logit_scale == RPO_LOGIT_SCALE_ROW_MEAN ? (double)sh->n : 1.0;
            reference ref = reference_of(&p, st->weighting, logit, st->beta,
                                         st->tau, st->alpha, st->smoothing, k_scale,
                                         st->loss == RPO_LOSS_ROBUST);
            for (size_t k = 0; k < KERNEL_SETS; k++) {
                rpo_ctx *ctx = context_on(kernel_sets[k]);
                if (ctx == NULL)
                    continue;
                configure(ctx, st->weighting, st->placement, st->beta, st->tau,
                          st->alpha, RPO_REDUCTION_MEAN);
                assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, st->smoothing),
                              RPO_OK);
                assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, st->logit_scale),
                              RPO_OK);
                assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOSS, st->loss), RPO_OK);
                char label[200];
                snprintf(label, sizeof label,
                         "%zux%zux%zu %s, weighting %d placement %d loss %d eps %g scale %d [%s]",
                         sh->m, sh->n, sh->d, sh->paired ? "paired" : "unpaired",
                         st->weighting, st->placement, st->loss, st->smoothing,
                         st->logit_scale, rpo_ctx_kernels(ctx));
                check_against_reference(ctx, &p, &q, &ref, label);
                rpo_ctx_free(ctx);
            }
            free_reference(&ref);
        }
        free_problem32(&q);
        free_problem(&p);
    }
}

/* The cosines of p in long double, rounded once: (m, n), malloc'd. */
static double *reference_cosines(const problem *p)
{
    const size_t m = p->m, n = p->n, d = p->d;
    double *want = malloc(m * n * sizeof *want);
    assert_non_null(want);
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            long double ee = 0, ff = 0, ef = 0;
            for (size_t k = 0; k < d; k++) {
                ee += LD(p->e[i * d + k]) * LD(p->e[i * d + k]);
                ff += LD(p->f[j * d + k]) * LD(p->f[j * d + k]);
                ef += LD(p->e[i * d + k]) * LD(p->f[j * d + k]);
            }
            want[i * n + j] = (double)(ef / (fmaxl(sqrtl(ee), 1e-12L) *
                                             fmaxl(sqrtl(ff), 1e-12L)));
        }
    return want;
}

/* The similarity stage alone (rpo_similarity_*), through every path. */
static void test_similarity_stage(void **state)
{
    (void)state;
    for (size_t s = 0; s < SHAPES; s++) {
        shape small = shapes[s];
        if (small_run() && small.m * small.n > 50000)
            small.m /= 4, small.n /= 4;
        const shape *sh = &small;
        problem p = make_problem(sh->m, sh->n, sh->d, sh->paired, 3000 + s);
        problem32 q = narrow_problem(&p);
        const size_t m = p.m, n = p.n, d = p.d;
        double *want = reference_cosines(&p), *got = malloc(m * n * sizeof *got);
        float *got32 = malloc(m * n * sizeof *got32);
        for (size_t k = 0; k < KERNEL_SETS; k++) {
            rpo_ctx *ctx = context_on(kernel_sets[k]);
            if (ctx == NULL)
                continue;
            /* the weighting setting does not matter */
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_UNIFORM), RPO_OK);
            char what[160];
            snprintf(what, sizeof what, "similarity %zux%zux%zu [%s] f64", m, n, d,
                     rpo_ctx_kernels(ctx));
            assert_status(rpo_similarity_f64(ctx, m, n, d, p.e, p.paired ? NULL : p.f,
                                             got), RPO_OK);
            check_vector_abs(what, got, want, m * n, TOL_F64);
            snprintf(what, sizeof what, "similarity %zux%zux%zu [%s] f32", m, n, d,
                     rpo_ctx_kernels(ctx));
            assert_status(rpo_similarity_f32(ctx, m, n, d, q.e, p.paired ? NULL : q.f,
                                             got32), RPO_OK);
            to_f64(got, got32, m * n);
            check_vector_abs(what, got, want, m * n, TOL_F32);
            rpo_ctx_free(ctx);
        }
        free(want); free(got); free(got32);
        free_problem32(&q);
        free_problem(&p);
    }
}

/* ------------------------------------ the mirror of a symmetric matrix */

/* The paired similarity matrix, at every alignment of the output: the mirror
 * (lib/kernels/simd/mirror.h) cuts its strips on cache lines when every row starts
 * on one (M a multiple of 16 floats, 8 doubles), so each offset of the
 * output from a line gives other strips; from 16 MiB it writes with
 * streaming stores. Whatever the strips, the lower triangle must be the
 * upper one transposed bit for bit, the upper one the cosines, and every
 * offset the same bits as offset 0, on one thread or two. */
static void check_mirrored(const char *what, const double *got, const double *first,
                           const double *want, size_t m, double tol)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp(&got[i * m + j], &got[j * m + i], sizeof got[0]) != 0)
                fail_msg("%s: s[%zu][%zu] = %.17g is not s[%zu][%zu] = %.17g", what,
                         i, j, got[i * m + j], j, i, got[j * m + i]);
    if (first != NULL && memcmp(got, first, m * m * sizeof *got) != 0)
        fail_msg("%s: not the bits of the aligned output", what);
    check_vector_abs(what, got, want, m * m, tol);
}

static void mirror_case(size_t m, size_t offsets, int f32)
{
    const size_t d = 5, line = f32 ? 16 : 8;
    problem p = make_problem(m, m, d, 1, 4000 + m);
    problem32 q = narrow_problem(&p);
    double *want = reference_cosines(&p);
    double *first = malloc(m * m * sizeof *first), *got = malloc(m * m * sizeof *got);
    /* room for any offset from a 64-byte line */
    char *room = malloc(m * m * (f32 ? sizeof(float) : sizeof(double)) + 64 + 64);
    assert_non_null(first); assert_non_null(got); assert_non_null(room);
    char *base = room + (64 - (size_t)((uintptr_t)room % 64)) % 64;
    for (size_t k = 0; k < KERNEL_SETS; k++) {
        rpo_ctx *ctx = context_on(kernel_sets[k]);
        if (ctx == NULL)
            continue;
        for (size_t o = 0; o < line; o += line / offsets) {
            char what[160];
            snprintf(what, sizeof what, "mirror %zu x %zu [%s] %s, %zu elements past a line",
                     m, m, rpo_ctx_kernels(ctx), f32 ? "f32" : "f64", o);
            /* one thread or two: strips on either */
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, (double)(1 + o % 2)), RPO_OK);
            if (f32) {
                float *out = (float *)(void *)base + o;
                assert_status(rpo_similarity_f32(ctx, m, m, d, q.e, NULL, out), RPO_OK);
                to_f64(got, out, m * m);
            } else {
                double *out = (double *)(void *)base + o;
                assert_status(rpo_similarity_f64(ctx, m, m, d, p.e, NULL, out), RPO_OK);
                memcpy(got, out, m * m * sizeof *got);
            }
            check_mirrored(what, got, o == 0 ? NULL : first, want, m, f32 ? TOL_F32 : TOL_F64);
            if (o == 0)
                memcpy(first, got, m * m * sizeof *got);
        }
        rpo_ctx_free(ctx);
    }
    free(room); free(got); free(first); free(want);
    free_problem32(&q);
    free_problem(&p);
}

static void test_mirror_every_alignment(void **state)
{
    (void)state;
    /* rows on lines, or not (ragged strips and ends) */
    mirror_case(160, 16, 1);
    mirror_case(160, 8, 0);
    mirror_case(157, 1, 1);
    mirror_case(157, 1, 0);
    if (small_run())
        return;
    /* streaming stores: 16 MiB and more */
    mirror_case(2064, 4, 1);
    mirror_case(1456, 4, 0);
}

/* ------------------------------------------- threads: bitwise equal */

typedef struct outputs {
    double loss, *gc, *gr, *w, stats[5];
    float loss32, *gc32, *gr32, *w32;
} outputs;

static outputs run_all(rpo_ctx *ctx, const problem *p, const problem32 *q)
{
    const size_t m = p->m, n = p->n, d = p->d;
    outputs o;
    o.gc = malloc(m * sizeof *o.gc); o.gr = malloc(n * sizeof *o.gr);
    o.w = malloc(m * n * sizeof *o.w);
    o.gc32 = malloc(m * sizeof *o.gc32); o.gr32 = malloc(n * sizeof *o.gr32);
    o.w32 = malloc(m * n * sizeof *o.w32);
    const double *f = p->paired ? NULL : p->f;
    const float *f32 = p->paired ? NULL : q->f;
    assert_status(rpo_loss_f64(ctx, m, p->pc, p->rc, n, p->pr, p->rr, d, p->e, f,
                               &o.loss, o.gc, o.gr), RPO_OK);
    for (int s = 0; s < 5; s++)
        assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS + s, &o.stats[s]), RPO_OK);
    assert_status(rpo_loss_f32(ctx, m, q->pc, q->rc, n, q->pr, q->rr, d, q->e, f32,
                               &o.loss32, o.gc32, o.gr32), RPO_OK);
    assert_status(rpo_weights_f64(ctx, m, n, d, p->e, f, o.w), RPO_OK);
    assert_status(rpo_weights_f32(ctx, m, n, d, q->e, f32, o.w32), RPO_OK);
    return o;
}

static void free_outputs(outputs *o)
{
    free(o->gc); free(o->gr); free(o->w); free(o->gc32); free(o->gr32); free(o->w32);
}

static void assert_same_bits(const char *what, const void *x, const void *y, size_t bytes)
{
    if (memcmp(x, y, bytes) != 0)
        fail_msg("%s differs between thread counts", what);
}

static void test_threads_bitwise_identical(void **state)
{
    (void)state;
    static const unsigned thread_counts[] = {1, 3, 2, 8};
    const size_t counts = small_run() ? 2 : 4;
    /* big enough to be split (above the serial size): several row blocks,
     * streamed; and single blocks, whose sub-blocks are shared out */
    static const shape big[] = {{1100, 700, 40, 0}, {800, 800, 96, 1}, {2000, 1500, 0, 0},
                                {480, 480, 128, 1}, {400, 1000, 0, 0}};
    for (size_t s = 0; s < sizeof big / sizeof big[0]; s++) {
        /* halved, they still split (all but the last, which is small) */
        shape small = big[s];
        if (small_run() && s + 1 < sizeof big / sizeof big[0])
            small.m /= 2, small.n /= 2;
        const shape *sh = &small;
        problem p = make_problem(sh->m, sh->n, sh->d ? sh->d : 1, sh->paired, 77 + s);
        problem32 q = narrow_problem(&p);
        const int weighting = sh->d ? RPO_WEIGHTING_EMBEDDING : RPO_WEIGHTING_UNIFORM;
        for (size_t k = 0; k < KERNEL_SETS; k++) {
            outputs first;
            memset(&first, 0, sizeof first);
            for (size_t t = 0; t < counts; t++) {
                rpo_ctx *ctx = context_on(kernel_sets[k]);
                if (ctx == NULL)
                    break;
                configure(ctx, weighting, RPO_PLACEMENT_AUTO, 0.1, 0.5, 0.8,
                          RPO_REDUCTION_MEAN);
                assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, thread_counts[t]), RPO_OK);
                outputs o = run_all(ctx, &p, &q);
                if (t == 0) {
                    first = o;
                } else {
                    const size_t m = p.m, n = p.n;
                    assert_same_bits("loss f64", &o.loss, &first.loss, sizeof o.loss);
                    assert_same_bits("metrics", o.stats, first.stats, sizeof o.stats);
                    assert_same_bits("grad_chosen f64", o.gc, first.gc, m * sizeof *o.gc);
                    assert_same_bits("grad_rejected f64", o.gr, first.gr, n * sizeof *o.gr);
                    assert_same_bits("weights f64", o.w, first.w, m * n * sizeof *o.w);
                    assert_same_bits("loss f32", &o.loss32, &first.loss32, sizeof o.loss32);
                    assert_same_bits("grad_chosen f32", o.gc32, first.gc32, m * sizeof *o.gc32);
                    assert_same_bits("grad_rejected f32", o.gr32, first.gr32, n * sizeof *o.gr32);
                    assert_same_bits("weights f32", o.w32, first.w32, m * n * sizeof *o.w32);
                    free_outputs(&o);
                }
                rpo_ctx_free(ctx);
            }
            free_outputs(&first); /* free(NULL) when the set did not run */
        }
        free_problem32(&q);
        free_problem(&p);
    }
}

/* ------------------------------------------------ settings and knobs */

static void test_threads_setting(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    double lo = 0, hi = 0, v = 0;
    assert_status(rpo_param_bounds(RPO_PARAM_THREADS, &lo, &hi), RPO_OK);
    assert_true(lo == 1.0 && hi == 256.0);
    assert_status(rpo_ctx_get(ctx, RPO_PARAM_THREADS, &v), RPO_OK);
    assert_true(v == 1.0);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, 0.0), RPO_ERR_PARAM);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, 257.0), RPO_ERR_PARAM);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, 2.5), RPO_ERR_PARAM);
    assert_status(rpo_ctx_get(ctx, RPO_PARAM_THREADS, &v), RPO_OK);
    assert_true(v == 1.0);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_THREADS, 256.0), RPO_OK);
    rpo_ctx_free(ctx);
}

static void test_kernel_knob(void **state)
{
    (void)state;
    rpo_ctx *ctx = rpo_ctx_create();
    const char *best = rpo_ctx_kernels(ctx);
    assert_true(best[0] != '\0');
    assert_status(rpo_ctx_use_kernels(NULL, RPO_KERNELS_PORTABLE), RPO_ERR_NULL_POINTER);
    assert_status(rpo_ctx_use_kernels(ctx, 99), RPO_ERR_PARAM);
    assert_status(rpo_ctx_use_kernels(ctx, -2), RPO_ERR_PARAM);
    assert_string_equal(rpo_ctx_kernels(ctx), best); /* unchanged */
    assert_status(rpo_ctx_use_kernels(ctx, RPO_KERNELS_PORTABLE), RPO_OK);
    assert_string_equal(rpo_ctx_kernels(ctx), "portable");
    assert_status(rpo_ctx_use_kernels(ctx, RPO_KERNELS_GENERIC), RPO_OK);
    assert_string_equal(rpo_ctx_kernels(ctx), "generic");
    assert_status(rpo_ctx_use_kernels(ctx, RPO_KERNELS_AUTO), RPO_OK);
    assert_string_equal(rpo_ctx_kernels(ctx), best);
    assert_string_equal(rpo_ctx_kernels(NULL), "");
    rpo_ctx_free(ctx);
}

/* float32 inputs whose float stages would overflow are computed in double:
 * the float32 entry point then agrees with the float64 one. Both cases
 * give inf or NaN if computed in float. */
static void compare_f32_with_f64(const char *what, const problem *p, double beta,
                                 double tau, int check_grad)
{
    problem32 q = narrow_problem(p);
    rpo_ctx *ctx = rpo_ctx_create();
    configure(ctx, RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, beta, tau, 0.8,
              RPO_REDUCTION_MEAN);
    double loss, *gc = malloc(p->m * sizeof *gc), *gr = malloc(p->n * sizeof *gr);
    float loss32, *gc32 = malloc(p->m * sizeof *gc32), *gr32 = malloc(p->n * sizeof *gr32);
    double *g = malloc(p->m * sizeof *g);
    assert_status(rpo_loss_f64(ctx, p->m, p->pc, p->rc, p->n, p->pr, p->rr, p->d,
                               p->e, NULL, &loss, gc, gr), RPO_OK);
    assert_status(rpo_loss_f32(ctx, p->m, q.pc, q.rc, p->n, q.pr, q.rr, p->d, q.e,
                               NULL, &loss32, gc32, gr32), RPO_OK);
    check_loss(what, (double)loss32, loss, TOL_F32);
    if (check_grad) {
        to_f64(g, gc32, p->m);
        check_vector_rel(what, g, gc, p->m, TOL_F32);
    }
    free(gc); free(gr); free(gc32); free(gr32); free(g);
    rpo_ctx_free(ctx);
    free_problem32(&q);
}

static void test_f32_range_fallback(void **state)
{
    (void)state;
    /* (sizes big enough for the float32 entry points to compute in float
     * when they can: M N (D + 32) above a million) */
    /* log-ratio differences near 6e38: z overflows float, not double */
    problem p = make_problem(300, 300, 24, 1, 5);
    for (size_t i = 0; i < p.m; i++) {
        p.pc[i] = i % 2 ? 3e38 : -3e38;
        p.pr[i] = i % 3 ? -3e38 : 3e38;
        p.rc[i] = p.rr[i] = 0.0;
    }
    compare_f32_with_f64("huge log-ratios", &p, 1e-38, 0.5, 0);
    free_problem(&p);
    /* tau below float's range: 1 / tau is infinite in float */
    p = make_problem(300, 300, 24, 1, 6);
    compare_f32_with_f64("tiny tau", &p, 0.1, 1e-40, 1);
    free_problem(&p);
}

static int load_vectors(void **state)
{
    (void)state;
    if (rpo_vec_load(rpo_vec_path(), &vectors) != 0)
        return -1;
    return 0;
}

static int free_vectors(void **state)
{
    (void)state;
    rpo_vec_free(&vectors);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conformance_every_kernel_set),
        cmocka_unit_test(test_kernel_sets_match_reference),
        cmocka_unit_test(test_similarity_stage),
        cmocka_unit_test(test_mirror_every_alignment),
        cmocka_unit_test(test_threads_bitwise_identical),
        cmocka_unit_test(test_threads_setting),
        cmocka_unit_test(test_kernel_knob),
        cmocka_unit_test(test_f32_range_fallback),
    };
    return cmocka_run_group_tests_name("kernels", tests, load_vectors, free_vectors);
}
