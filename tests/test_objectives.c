/*
 * rpo_objective_* (rpo.h, docs/objectives.md) against tests/support/objective_ref.h:
 *   - every term (the eleven pair losses, SIGMOID_NORM, SIMPO, ORPO, SFT)
 *     and two-term lists, under every weighting (and the caller's W), both
 *     placements, both reductions, each f-divergence, with and without
 *     lengths and sample weights, paired and unpaired sizes: loss,
 *     gradients, per-row losses and rewards;
 *   - a list is the weighted sum of its terms called alone;
 *   - finite differences of the library itself in float64, the embedding
 *     gradients included;
 *   - the DPO special case (DIAGONAL, alpha = 1) of TRL's formulas,
 *     transcribed here: sigmoid with each f-divergence, IPO on averages,
 *     SimPO, ORPO with its NLL;
 *   - KTO and apo_zero_unpaired against TRL's kto_loss;
 *   - on every kernel set: the SIMD pairs kernel's weighted variants (one
 *     sigmoid term without margin) and the generic kernel (the rest);
 *     float32 follows float64, float64 the reference; threads change no bit;
 *   - the entry points of 1.2 ignore the new settings, bit for bit;
 *   - hostile descriptors and values: a status, a detail, nothing written;
 *   - row blocks add up to the whole call, KTO's included.
 */
#include <float.h>
#include <stdio.h>
#include <stdlib.h>

#define RPO_STATIC_LINKING_ONLY
#include "objective_ref.h"
#include "testutil.h"
#include "kernel_sets.h"

#define M 5
#define N 4
#define D 3
#define SENTINEL 12345.0

static void set(rpo_ctx *ctx, int param, double value)
{
    assert_status(rpo_ctx_set(ctx, param, value), RPO_OK);
}

/* A problem: log-probs < 0 (ORPO reads log(1 - p)), lengths with a
 * fractional count below 1 (TRL's clamp makes it 1), positive sample
 * weights, embeddings. */
typedef struct problem {
    size_t m, n;
    double pc[M], rc[M], pr[M], rr[M];
    double lc[M], lr[M], wc[M], wr[M];
    double ce[M * D], re[M * D];
    double w[M * M];
} problem;

static void make_problem(problem *P, size_t m, size_t n, uint64_t seed)
{
    test_rng r = {seed};
    P->m = m;
    P->n = n;
    rng_fill(&r, P->pc, m, -6.0, -0.5);
    rng_fill(&r, P->rc, m, -6.0, -0.5);
    rng_fill(&r, P->pr, n, -6.0, -0.5);
    rng_fill(&r, P->rr, n, -6.0, -0.5);
    for (size_t i = 0; i < m; i++)
        P->lc[i] = (double)(1 + rng_next(&r) % 9);
    for (size_t j = 0; j < n; j++)
        P->lr[j] = (double)(1 + rng_next(&r) % 9);
    P->lc[1] = 0.5;
    rng_fill(&r, P->wc, m, 0.2, 2.0);
    rng_fill(&r, P->wr, n, 0.2, 2.0);
    rng_fill(&r, P->ce, m * D, -1.0, 1.0);
    rng_fill(&r, P->re, n * D, -1.0, 1.0);
    rng_fill(&r, P->w, m * n, 0.0, 0.5);
}

typedef struct outputs {
    double loss;
    double gc[M], gr[M], losses[2 * M], rc[M], rr[M];
    double gce[M * D], gre[M * D];
} outputs;

static rpo_batch_f64 batch_of(const problem *P, int lengths, int sample)
{
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = P->m;
    b.n = P->n;
    b.d = D;
    b.policy_chosen = P->pc;
    b.ref_chosen = P->rc;
    b.policy_rejected = P->pr;
    b.ref_rejected = P->rr;
    b.chosen_emb = P->ce;
    b.rejected_emb = P->m == P->n ? NULL : P->re;
    b.chosen_lengths = lengths ? P->lc : NULL;
    b.rejected_lengths = lengths ? P->lr : NULL;
    b.chosen_weights = sample ? P->wc : NULL;
    b.rejected_weights = sample ? P->wr : NULL;
    return b;
}

static rpo_results_f64 results_of(outputs *o)
{
    rpo_results_f64 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = &o->loss;
    r.grad_chosen = o->gc;
    r.grad_rejected = o->gr;
    r.losses = o->losses;
    r.chosen_rewards = o->rc;
    r.rejected_rewards = o->rr;
    return r;
}

/* The kernel set the next contexts use (kernel_sets.h). */
static int current_set = RPO_KERNELS_AUTO;

static rpo_ctx *objective_ctx(int weighting, int placement, int reduction, int fdiv)
{
    rpo_ctx *ctx = context_on(current_set);
    assert_non_null(ctx);
    set(ctx, RPO_PARAM_WEIGHTING, weighting);
    set(ctx, RPO_PARAM_PLACEMENT, placement);
    set(ctx, RPO_PARAM_REDUCTION, reduction);
    set(ctx, RPO_PARAM_BETA, 0.7);
    set(ctx, RPO_PARAM_ALPHA, 0.6);
    set(ctx, RPO_PARAM_TAU, 0.4);
    set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.1);
    set(ctx, RPO_PARAM_SIMPO_GAMMA, 0.3);
    set(ctx, RPO_PARAM_F_DIVERGENCE, fdiv);
    set(ctx, RPO_PARAM_F_ALPHA, 0.5);
    return ctx;
}

/* The weight matrix the context's weighting gives (family_ref.h). */
static void reference_weights(const problem *P, int weighting, double *w)
{
    if (weighting == RPO_WEIGHTING_UNIFORM)
        ref_uniform(P->m, P->n, w);
    else if (weighting == RPO_WEIGHTING_DIAGONAL)
        ref_diagonal(P->n, 0.6, w);
    else
        ref_embedding(P->m, P->n, D, P->ce, P->m == P->n ? P->ce : P->re, 0.4, w);
}

static obj_ref reference_of(const problem *P, const rpo_batch_f64 *b, const double *w,
                            int logit, int sum, int fdiv, double gamma, size_t terms,
                            const int *loss, const double *weight)
{
    obj_ref r;
    memset(&r, 0, sizeof r);
    r.m = P->m;
    r.n = P->n;
    r.pc = P->pc;
    r.rc = P->rc;
    r.pr = P->pr;
    r.rr = P->rr;
    r.lc = b->chosen_lengths;
    r.lr = b->rejected_lengths;
    r.wc = b->chosen_weights;
    r.wr = b->rejected_weights;
    r.w = w;
    r.logit = logit;
    r.k = 1.0;
    r.sum = sum;
    r.beta = 0.7;
    r.eps = 0.1;
    r.tau = 0.05;
    r.gamma = gamma;
    r.fdiv = fdiv;
    r.f_alpha = 0.5;
    r.terms = terms;
    r.loss = loss;
    r.weight = weight;
    return r;
}

static const char *const term_names[] = {
    "sigmoid", "hinge", "ipo", "robust", "exo_pair", "bco_pair", "sppo_hard",
    "nca_pair", "apo_zero", "apo_down", "discopop", "sigmoid_norm", "simpo",
    "orpo", "sft"};
#define NTERMS 15

/* One configuration: the library against the reference. */
static void check_configuration(const problem *P, int weighting, int caller_w,
                                int placement, int reduction, int fdiv,
                                int lengths, int sample, size_t terms,
                                const int *loss, const double *weight)
{
    rpo_ctx *ctx = objective_ctx(weighting, placement, reduction, fdiv);
    /* no margin with sample weights: one sigmoid term then runs on the
     * pairs kernel's weighted variants, the other lists on objective_pairs.c */
    const double gamma = sample ? 0.0 : 0.3;
    set(ctx, RPO_PARAM_SIMPO_GAMMA, gamma);
    rpo_batch_f64 b = batch_of(P, lengths, sample);
    b.terms = terms;
    b.term_losses = loss;
    b.term_weights = weight;
    double w[M * M];
    if (caller_w) {
        memcpy(w, P->w, sizeof w);
        b.weights = w;
    } else {
        reference_weights(P, weighting, w);
    }
    outputs o;
    rpo_results_f64 r = results_of(&o);
    char what[160];
    snprintf(what, sizeof what, "%s%s w%d%s p%d r%d f%d L%d S%d on %s",
             term_names[loss[0]], terms > 1 ? "+" : "", weighting,
             caller_w ? "(caller)" : "", placement, reduction, fdiv, lengths, sample,
             rpo_ctx_kernels(ctx));
    int status = rpo_objective_f64(ctx, &b, &r);
    if (status != RPO_OK)
        fail_msg("%s: status %d (%s)", what, status, rpo_ctx_error_detail(ctx));
    const int logit = placement == RPO_PLACEMENT_LOGIT ||
                      (placement == RPO_PLACEMENT_AUTO && !caller_w &&
                       weighting == RPO_WEIGHTING_EMBEDDING);
    obj_ref ref = reference_of(P, &b, w, logit, reduction == RPO_REDUCTION_SUM,
                               fdiv, gamma, terms, loss, weight);
    double gc[M], gr[M], rows[M];
    const double loss_want = ref_objective(&ref, gc, gr, rows);
    check_loss(what, o.loss, loss_want, TOL_F64);
    check_vector_rel(what, o.gc, gc, P->m, TOL_F64);
    check_vector_rel(what, o.gr, gr, P->n, TOL_F64);
    check_vector_rel(what, o.losses, rows, P->m, TOL_F64);
    for (size_t i = 0; i < P->m; i++)
        check_loss("chosen reward", o.rc[i], 0.7 * (P->pc[i] - P->rc[i]), TOL_F64);
    for (size_t j = 0; j < P->n; j++)
        check_loss("rejected reward", o.rr[j], 0.7 * (P->pr[j] - P->rr[j]), TOL_F64);
    double mean = 0.0, got;
    for (size_t i = 0; i < P->m; i++)
        mean += o.losses[i];
    if (reduction == RPO_REDUCTION_MEAN)
        mean /= (double)P->m;
    check_loss("per-row losses add up to the loss", mean, o.loss, TOL_F64);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOGPS_CHOSEN, &got), RPO_OK);
    double want = 0.0;
    for (size_t i = 0; i < P->m; i++)
        want += P->pc[i] / (double)P->m;
    check_loss("logps/chosen", got, want, TOL_F64);
    assert_string_equal(rpo_ctx_error_detail(ctx), "");
    rpo_ctx_free(ctx);
}

/* Every term alone, and sigmoid + each other term, across the grid, on
 * the current kernel set. Returns the number of configurations. */
static size_t check_grid(void)
{
    static const int weightings[] = {RPO_WEIGHTING_UNIFORM, RPO_WEIGHTING_DIAGONAL,
                                     RPO_WEIGHTING_EMBEDDING};
    problem paired, unpaired;
    make_problem(&paired, 4, 4, 11);
    make_problem(&unpaired, 5, 3, 12);
    size_t configurations = 0;
    for (int pi = 0; pi < 2; pi++) {
        const problem *P = pi == 0 ? &paired : &unpaired;
        for (int wi = 0; wi < 4; wi++) {
            const int caller_w = wi == 3;
            const int weighting = caller_w ? RPO_WEIGHTING_UNIFORM : weightings[wi];
            if (weighting == RPO_WEIGHTING_DIAGONAL && P->m != P->n)
                continue;
            for (int placement = RPO_PLACEMENT_LOGIT; placement <= RPO_PLACEMENT_LOSS;
                 placement++)
                for (int fdiv = RPO_FDIV_REVERSE_KL; fdiv <= RPO_FDIV_ALPHA; fdiv++)
                    for (int extras = 0; extras < 4; extras++) {
                        const int lengths = extras & 1, sample = extras >> 1;
                        const int reduction = (fdiv + extras) % 2;
                        for (int t = 0; t < NTERMS; t++) {
                            if (t == RPO_LOSS_SFT && !lengths)
                                continue;
                            const int one[1] = {t};
                            const double unit[1] = {1.0};
                            check_configuration(P, weighting, caller_w, placement,
                                                reduction, fdiv, lengths, sample,
                                                1, one, unit);
                            const int two[2] = {RPO_LOSS_SIGMOID, t};
                            const double mix[2] = {0.8, -0.35};
                            if (t != RPO_LOSS_SIGMOID)
                                check_configuration(P, weighting, caller_w, placement,
                                                    reduction, fdiv, lengths, sample,
                                                    2, two, mix);
                            configurations += 2;
                        }
                    }
        }
    }
    return configurations;
}

static void test_terms_against_reference(void **state)
{
    (void)state;
    for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
        rpo_ctx *probe = context_on(kernel_sets[ks]);
        if (probe == NULL)
            continue;
        rpo_ctx_free(probe);
        current_set = kernel_sets[ks];
        assert_true(check_grid() > 1000);
        if (small_run())
            break;
    }
    current_set = RPO_KERNELS_AUTO;
}

static double call_loss(rpo_ctx *ctx, const rpo_batch_f64 *b, outputs *o)
{
    rpo_results_f64 r = results_of(o);
    r.grad_chosen_emb = o->gce;
    if (b->rejected_emb != NULL)
        r.grad_rejected_emb = o->gre;
    assert_status(rpo_objective_f64(ctx, b, &r), RPO_OK);
    return o->loss;
}

/* TRL's loss_type=["sigmoid", "sft"], loss_weights=[1, 0.5] is the sigmoid
 * call plus half the SFT call: loss, gradients and per-row losses. */
static void test_list_is_sum_of_terms(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 4, 4, 21);
    rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                 RPO_REDUCTION_MEAN, RPO_FDIV_REVERSE_KL);
    rpo_batch_f64 b = batch_of(&P, 1, 1);
    const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    const double weights[2] = {1.0, 0.5};
    const int sig[1] = {RPO_LOSS_SIGMOID}, sft[1] = {RPO_LOSS_SFT};
    outputs both, a, c;
    b.terms = 2;
    b.term_losses = list;
    b.term_weights = weights;
    call_loss(ctx, &b, &both);
    b.terms = 1;
    b.term_weights = NULL;
    b.term_losses = sig;
    call_loss(ctx, &b, &a);
    b.term_losses = sft;
    call_loss(ctx, &b, &c);
    check_loss("list loss", both.loss, a.loss + 0.5 * c.loss, 1e-14);
    for (size_t i = 0; i < P.m; i++) {
        check_loss("list grad", both.gc[i], a.gc[i] + 0.5 * c.gc[i], 1e-14);
        check_loss("list rows", both.losses[i], a.losses[i] + 0.5 * c.losses[i], 1e-14);
    }
    for (size_t j = 0; j < P.n; j++)
        check_loss("list grad rejected", both.gr[j], a.gr[j], 1e-14);
    rpo_ctx_free(ctx);
}

/* Central differences of the library's own loss, every policy log-prob
 * and (EMBEDDING) every embedding entry, with lengths, sample weights and
 * a three-term list. */
static void fd_check(int weighting, int placement, int fdiv, size_t m, size_t n)
{
    problem P;
    make_problem(&P, m, n, 31 + (uint64_t)weighting);
    rpo_ctx *ctx = objective_ctx(weighting, placement, RPO_REDUCTION_MEAN, fdiv);
    rpo_batch_f64 b = batch_of(&P, 1, 1);
    const int list[3] = {RPO_LOSS_SIGMOID, RPO_LOSS_ORPO, RPO_LOSS_SFT};
    const double weights[3] = {1.0, 0.7, 0.4};
    b.terms = 3;
    b.term_losses = list;
    b.term_weights = weights;
    outputs o, t;
    call_loss(ctx, &b, &o);
    const double h = 1e-6;
    double *vars[4] = {P.pc, P.pr, P.ce, P.re};
    const double *grads[4] = {o.gc, o.gr, o.gce, o.gre};
    const size_t counts[4] = {m, n, weighting == RPO_WEIGHTING_EMBEDDING ? m * D : 0,
                              weighting == RPO_WEIGHTING_EMBEDDING && m != n ? n * D : 0};
    for (int v = 0; v < 4; v++)
        for (size_t k = 0; k < counts[v]; k++) {
            const double keep = vars[v][k];
            vars[v][k] = keep + h;
            const double up = call_loss(ctx, &b, &t);
            vars[v][k] = keep - h;
            const double down = call_loss(ctx, &b, &t);
            vars[v][k] = keep;
            const double fd = (up - down) / (2.0 * h);
            if (!(fabs(fd - grads[v][k]) <= 1e-6 * fmax(1.0, fabs(fd))))
                fail_msg("finite difference of input %d[%zu]: %.12g, gradient %.12g",
                         v, k, fd, grads[v][k]);
        }
    rpo_ctx_free(ctx);
}

static void test_finite_differences(void **state)
{
    (void)state;
    for (int fdiv = RPO_FDIV_REVERSE_KL; fdiv <= RPO_FDIV_ALPHA; fdiv++) {
        fd_check(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOGIT, fdiv, 4, 4);
        fd_check(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_LOSS, fdiv, 5, 3);
        fd_check(RPO_WEIGHTING_DIAGONAL, RPO_PLACEMENT_LOSS, fdiv, 4, 4);
        fd_check(RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_LOGIT, fdiv, 5, 3);
    }
}

/* DIAGONAL with alpha = 1 and LOSS placement is TRL's paired loss. The
 * formulas of TRL's DPOTrainer.dpo_loss, CPOTrainer (simpo) and
 * ORPOTrainer, transcribed on torch's terms (logsigmoid, softplus). */
static ld trl_logsigmoid(ld x) { return -log1pl(expl(-x)); }
static ld trl_softplus(ld x) { return log1pl(expl(x)); }

static void test_dpo_special_case(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 4, 4, 41);
    const size_t n = 4;
    const ld beta = 0.7L, eps = 0.1L, gamma = 0.3L;
    for (int c = 0; c < 6; c++) {
        int fdiv = RPO_FDIV_REVERSE_KL, loss = RPO_LOSS_SIGMOID, lengths = 0;
        if (c == 1) fdiv = RPO_FDIV_JS;
        if (c == 2) fdiv = RPO_FDIV_ALPHA;
        if (c == 3) { loss = RPO_LOSS_IPO; lengths = 1; }
        if (c == 4) { loss = RPO_LOSS_SIMPO; lengths = 1; }
        if (c == 5) { loss = RPO_LOSS_ORPO; lengths = 1; }
        rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_DIAGONAL, RPO_PLACEMENT_LOSS,
                                     RPO_REDUCTION_MEAN, fdiv);
        set(ctx, RPO_PARAM_ALPHA, 1.0);
        rpo_batch_f64 b = batch_of(&P, lengths, 0);
        const int list[2] = {loss, RPO_LOSS_SFT};
        b.terms = loss == RPO_LOSS_ORPO ? 2 : 1;   /* ORPO's whole loss */
        b.term_losses = list;
        outputs o;
        call_loss(ctx, &b, &o);
        ld total = 0.0L, tokens = 0.0L, nll = 0.0L;
        for (size_t i = 0; i < n; i++) {
            const ld lc = P.lc[i] < 1.0 ? 1.0L : (ld)P.lc[i], lr = (ld)P.lr[i];
            const ld chosen_logratios = (ld)P.pc[i] - (ld)P.rc[i];
            const ld rejected_logratios = (ld)P.pr[i] - (ld)P.rr[i];
            ld logits = ((ld)P.pc[i] - (ld)P.pr[i]) - ((ld)P.rc[i] - (ld)P.rr[i]), l;
            if (c == 1) /* logits -= softplus(chosen) - softplus(rejected) */
                logits -= trl_softplus(chosen_logratios) - trl_softplus(rejected_logratios);
            if (c == 2) /* (exp(-alpha rejected) - exp(-alpha chosen)) / alpha */
                logits = (expl(rejected_logratios * -0.5L) -
                          expl(chosen_logratios * -0.5L)) / 0.5L;
            if (c <= 2) {
                /* the margin: -logsigmoid(beta z - gamma) */
                l = -trl_logsigmoid(beta * logits - gamma) * (1 - eps) -
                    trl_logsigmoid(-(beta * logits - gamma)) * eps;
            } else if (c == 3) { /* averaged log-probs, (logits - 1/(2 beta))^2 */
                const ld z = ((ld)P.pc[i] / lc - (ld)P.pr[i] / lr) -
                             ((ld)P.rc[i] / lc - (ld)P.rr[i] / lr);
                l = (z - 1.0L / (2.0L * beta)) * (z - 1.0L / (2.0L * beta));
            } else if (c == 4) { /* CPO simpo: logits - gamma / beta */
                ld z = (ld)P.pc[i] / lc - (ld)P.pr[i] / lr;
                z -= gamma / beta;
                l = -trl_logsigmoid(beta * z) * (1 - eps) - trl_logsigmoid(-beta * z) * eps;
            } else { /* ORPO: -beta logsigmoid(log_odds) */
                const ld x = (ld)P.pc[i] / lc, y = (ld)P.pr[i] / lr;
                const ld log_odds = (x - y) - (log1pl(-expl(x)) - log1pl(-expl(y)));
                l = -beta * trl_logsigmoid(log_odds);
                tokens += lc;
                nll -= (ld)P.pc[i];
            }
            total += l;
        }
        ld want = total / (ld)n;
        if (c == 5)
            want += nll / tokens;   /* ORPO: policy_nll_loss - losses.mean() */
        check_loss(term_names[loss], o.loss, (double)want, TOL_F64);
        rpo_ctx_free(ctx);
    }
}

/* KTO: TRL's kto_loss with kl from the KL pairs, a given kl (clamped at
 * 0), apo_zero_unpaired; both reductions; empty sides. */
static void test_kto(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 5, 3, 51);
    double pk[4], rk[4];
    test_rng r = {52};
    rng_fill(&r, pk, 4, -6.0, -1.0);
    rng_fill(&r, rk, 4, -6.0, -1.0);
    pk[0] += 3.0;  /* a positive mean: the clamp leaves it */
    for (int c = 0; c < 8; c++) {
        const int apo = c % 2, sum = (c >> 1) % 2, given = c >> 2;
        rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                     sum ? RPO_REDUCTION_SUM : RPO_REDUCTION_MEAN,
                                     RPO_FDIV_REVERSE_KL);
        set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 1.3);
        set(ctx, RPO_PARAM_UNDESIRABLE_WEIGHT, 0.6);
        for (size_t sides = 0; sides < 3; sides++) {
            rpo_batch_f64 b = batch_of(&P, 1, 1);
            b.m = sides == 1 ? 0 : 5;
            b.n = sides == 2 ? 0 : 3;
            const int list[1] = {apo ? RPO_LOSS_APO_ZERO_UNPAIRED : RPO_LOSS_KTO};
            b.terms = 1;
            b.term_losses = list;
            const double kl_given = given ? -0.25 : 0.0;
            b.k = 4;
            b.policy_kl = pk;
            b.ref_kl = rk;
            if (given)
                b.kl = &kl_given;
            outputs o;
            rpo_results_f64 res = results_of(&o);
            assert_status(rpo_objective_f64(ctx, &b, &res), RPO_OK);
            ld mean = 0.0L;
            for (int k = 0; k < 4; k++)
                mean += ((ld)pk[k] - (ld)rk[k]) / 4.0L;
            const double kl = given ? 0.0 : (double)(mean > 0 ? mean : 0.0L);
            double gc[M], gr[M], losses[2 * M];
            const double want = ref_kto(apo, b.m, b.n, P.pc, P.rc, P.pr, P.rr, P.wc,
                                        P.wr, kl, 0.7, 1.3, 0.6, sum, gc, gr, losses);
            check_loss("kto loss", o.loss, want, TOL_F64);
            check_vector_rel("kto grad chosen", o.gc, gc, b.m, TOL_F64);
            check_vector_rel("kto grad rejected", o.gr, gr, b.n, TOL_F64);
            check_vector_rel("kto losses", o.losses, losses, b.m + b.n, TOL_F64);
            double got_kl;
            assert_status(rpo_ctx_stat(ctx, RPO_STAT_KL, &got_kl), RPO_OK);
            check_loss("kl", got_kl, apo ? 0.0 : kl, TOL_F64);
        }
        rpo_ctx_free(ctx);
    }
}

/* On each kernel set, a problem big enough for the float stages (EMBEDDING
 * similarities in float) and for whole vector chunks of the pairs kernel:
 * float64 equals the reference, float32 follows float64, THREADS changes
 * no bit. */
static void test_f32_and_threads(void **state)
{
    (void)state;
    enum { BM = 400, BN = 300, BD = 16 };
    double *v = malloc(sizeof(double) * (4 * BM + 4 * BN + BM * BD + BN * BD));
    float *f = malloc(sizeof(float) * (4 * BM + 4 * BN + BM * BD + BN * BD));
    assert_non_null(v);
    assert_non_null(f);
    test_rng r = {61};
    double *pc = v, *rc = pc + BM, *lc = rc + BM, *wc = lc + BM;
    double *pr = wc + BM, *rr = pr + BN, *lr = rr + BN, *wr = lr + BN;
    double *ce = wr + BN, *re = ce + BM * BD;
    rng_fill(&r, v, 2 * BM, -8.0, -1.0);
    rng_fill(&r, lc, BM, 1.0, 30.0);
    rng_fill(&r, wc, BM, 0.1, 2.0);
    rng_fill(&r, pr, 2 * BN, -8.0, -1.0);
    rng_fill(&r, lr, BN, 1.0, 30.0);
    rng_fill(&r, wr, BN, 0.1, 2.0);
    rng_fill(&r, ce, (BM + BN) * BD, -1.0, 1.0);
    to_f32(f, v, 4 * BM + 4 * BN + BM * BD + BN * BD);
    const int list[2] = {RPO_LOSS_SIGMOID_NORM, RPO_LOSS_SFT};
    const double weights[2] = {1.0, 0.5};
    rpo_batch_f64 b = {sizeof b, BM, BN, BD, pc, rc, pr, rr, ce, re, NULL,
                       lc, lr, wc, wr, 2, list, weights, 0, NULL, NULL, NULL, NULL, NULL};
    rpo_batch_f32 bf = {sizeof bf, BM, BN, BD, f, f + BM, f + 4 * BM, f + 4 * BM + BN,
                        f + 4 * BM + 4 * BN, f + 4 * BM + 4 * BN + BM * BD, NULL,
                        f + 2 * BM, f + 4 * BM + 2 * BN, f + 3 * BM, f + 4 * BM + 3 * BN,
                        2, list, weights, 0, NULL, NULL, NULL, NULL, NULL};
    /* the reference: EMBEDDING (LOGIT placement), MEAN, no margin */
    static double w[BM * BN], want_gc[BM], want_gr[BN], want_rows[BM];
    ref_embedding(BM, BN, BD, ce, re, 0.4, w);
    obj_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.m = BM;
    ref.n = BN;
    ref.pc = pc;
    ref.rc = rc;
    ref.pr = pr;
    ref.rr = rr;
    ref.lc = lc;
    ref.lr = lr;
    ref.wc = wc;
    ref.wr = wr;
    ref.w = w;
    ref.logit = 1;
    ref.k = 1.0;
    ref.beta = 0.7;
    ref.eps = 0.1;
    ref.terms = 2;
    ref.loss = list;
    ref.weight = weights;
    const double want = ref_objective(&ref, want_gc, want_gr, want_rows);

    static double loss[2], gc[2][BM], gr[2][BN], rows[2][BM];
    static float loss32, gc32[BM], gr32[BN], rows32[BM];
    for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
        rpo_ctx *probe = context_on(kernel_sets[ks]);
        if (probe == NULL)
            continue;
        rpo_ctx_free(probe);
        current_set = kernel_sets[ks];
        for (unsigned threads = 1; threads <= 2; threads++) {
            rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                         RPO_REDUCTION_MEAN, RPO_FDIV_REVERSE_KL);
            set(ctx, RPO_PARAM_SIMPO_GAMMA, 0.0);
            set(ctx, RPO_PARAM_THREADS, threads == 1 ? 1 : 4);
            rpo_results_f64 res = {sizeof res, &loss[threads - 1], gc[threads - 1],
                                   gr[threads - 1], NULL, NULL, rows[threads - 1],
                                   NULL, NULL, NULL};
            assert_status(rpo_objective_f64(ctx, &b, &res), RPO_OK);
            if (threads == 1) {
                rpo_results_f32 r32 = {sizeof r32, &loss32, gc32, gr32, NULL, NULL,
                                       rows32, NULL, NULL, NULL};
                assert_status(rpo_objective_f32(ctx, &bf, &r32), RPO_OK);
            }
            rpo_ctx_free(ctx);
        }
        assert_memory_equal(&loss[0], &loss[1], sizeof loss[0]);
        assert_memory_equal(gc[0], gc[1], sizeof gc[0]);
        assert_memory_equal(gr[0], gr[1], sizeof gr[0]);
        assert_memory_equal(rows[0], rows[1], sizeof rows[0]);
        check_loss("f64 loss", loss[0], want, TOL_F64);
        check_vector_rel("f64 grad chosen", gc[0], want_gc, BM, TOL_F64);
        check_vector_rel("f64 grad rejected", gr[0], want_gr, BN, TOL_F64);
        check_vector_rel("f64 rows", rows[0], want_rows, BM, TOL_F64);
        double wide[BM];
        check_loss("f32 loss", (double)loss32, loss[0], TOL_F32);
        to_f64(wide, gc32, BM);
        check_vector_rel("f32 grad chosen", wide, gc[0], BM, TOL_F32);
        to_f64(wide, gr32, BN);
        check_vector_rel("f32 grad rejected", wide, gr[0], BN, TOL_F32);
        to_f64(wide, rows32, BM);
        check_vector_rel("f32 rows", wide, rows[0], BM, TOL_F32);
        if (small_run())
            break;
    }
    current_set = RPO_KERNELS_AUTO;
    free(v);
    free(f);
}

/* The entry points of 1.2 read none of the new settings: the same bits. */
static void test_old_entry_points_ignore_new_settings(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 4, 4, 71);
    /* loss, gradients, embedding gradients: the SIMD pairs kernel's path
     * (rpo_loss_f64) and the generic family kernel's (with dL/de) */
    double out[2][2 * (1 + 2 * M) + M * D];
    for (int k = 0; k < 2; k++) {
        rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                     RPO_REDUCTION_MEAN, RPO_FDIV_REVERSE_KL);
        if (k == 1) {
            set(ctx, RPO_PARAM_SIMPO_GAMMA, 2.0);
            set(ctx, RPO_PARAM_F_DIVERGENCE, RPO_FDIV_JS);
            set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 3.0);
        }
        memset(out[k], 0, sizeof out[k]);
        assert_status(rpo_loss_f64(ctx, 4, P.pc, P.rc, 4, P.pr, P.rr, D, P.ce, NULL,
                                   &out[k][0], &out[k][1], &out[k][1 + M]),
                      RPO_OK);
        double *family = out[k] + 1 + 2 * M;
        assert_status(rpo_loss_embed_grad_f64(ctx, 4, P.pc, P.rc, 4, P.pr, P.rr, D,
                                              P.ce, NULL, &family[0], &family[1],
                                              &family[1 + M], &family[1 + 2 * M], NULL),
                      RPO_OK);
        rpo_ctx_free(ctx);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
}

/* Runs a hostile call: the status, a detail, and no output touched. */
static void expect_refused(rpo_ctx *ctx, const rpo_batch_f64 *b,
                           const rpo_results_f64 *r_in, int want, const char *what)
{
    outputs o;
    for (size_t k = 0; k < sizeof o / sizeof(double); k++)
        ((double *)&o)[k] = SENTINEL;
    rpo_results_f64 r = results_of(&o);
    if (r_in != NULL)
        r.size = r_in->size;
    const int status = rpo_objective_f64(ctx, b, &r);
    if (status != want)
        fail_msg("%s: status %d, want %d (detail \"%s\")", what, status, want,
                 rpo_ctx_error_detail(ctx));
    if (rpo_ctx_error_detail(ctx)[0] == '\0')
        fail_msg("%s: no detail", what);
    for (size_t k = 0; k < sizeof o / sizeof(double); k++)
        if (((double *)&o)[k] != SENTINEL)
            fail_msg("%s: output %zu written", what, k);
}

static void expect_detail_names(rpo_ctx *ctx, const char *text)
{
    if (strstr(rpo_ctx_error_detail(ctx), text) == NULL)
        fail_msg("detail \"%s\" does not name %s", rpo_ctx_error_detail(ctx), text);
}

static void test_hostile(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 4, 4, 81);
    rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                 RPO_REDUCTION_MEAN, RPO_FDIV_REVERSE_KL);
    const int sig[1] = {RPO_LOSS_SIGMOID};
    const int sft[1] = {RPO_LOSS_SFT};
    const int orpo[1] = {RPO_LOSS_ORPO};
    const int twice[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SIGMOID};
    const int unknown[1] = {17};
    const int kto_in_list[2] = {RPO_LOSS_KTO, RPO_LOSS_SIGMOID};
    const int many[RPO_MAX_TERMS + 1] = {0};
    const double nan_weight[1] = {(double)NAN};
    double bad[M];

    rpo_batch_f64 b = batch_of(&P, 1, 1);
    b.size = sizeof(size_t) * 4;           /* below the first version's */
    expect_refused(ctx, &b, NULL, RPO_ERR_SIZE, "short batch");
    b = batch_of(&P, 1, 1);
    rpo_results_f64 short_results = {0};
    short_results.size = sizeof(size_t);
    expect_refused(ctx, &b, &short_results, RPO_ERR_SIZE, "short results");

    /* a newer caller's batch: a known prefix and one more field */
    struct { rpo_batch_f64 known; double future; } longer;
    longer.known = batch_of(&P, 1, 1);
    longer.known.size = sizeof longer;
    longer.future = 1.0;
    expect_refused(ctx, &longer.known, NULL, RPO_ERR_UNSUPPORTED, "unknown field set");
    longer.future = 0.0;
    outputs o;
    rpo_results_f64 r = results_of(&o);
    assert_status(rpo_objective_f64(ctx, &longer.known, &r), RPO_OK);

    b = batch_of(&P, 1, 1);
    memcpy(bad, P.lc, sizeof bad);
    bad[2] = -1.0;
    b.chosen_lengths = bad;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "negative length");
    bad[2] = 0.0;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "zero length");
    expect_detail_names(ctx, "chosen_lengths[2] = 0");
    b.chosen_lengths = P.lc;
    double bad_rejected[M];
    memcpy(bad_rejected, P.lr, sizeof bad_rejected);
    bad_rejected[3] = -0.0;
    b.rejected_lengths = bad_rejected;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "negative zero length");
    expect_detail_names(ctx, "rejected_lengths[3]");
    b.rejected_lengths = P.lr;
    b.chosen_lengths = bad;
    bad[2] = (double)NAN;
    expect_refused(ctx, &b, NULL, RPO_ERR_NONFINITE, "NaN length");
    b = batch_of(&P, 1, 1);
    memcpy(bad, P.wr, sizeof bad);
    bad[3] = (double)NAN;
    b.rejected_weights = bad;
    expect_refused(ctx, &b, NULL, RPO_ERR_NONFINITE, "NaN sample weight");
    bad[3] = -0.5;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "negative sample weight");

    b = batch_of(&P, 1, 1);
    b.terms = RPO_MAX_TERMS + 1;
    b.term_losses = many;
    expect_refused(ctx, &b, NULL, RPO_ERR_SIZE, "too many terms");
    b.terms = 1;
    b.term_losses = NULL;
    expect_refused(ctx, &b, NULL, RPO_ERR_NULL_POINTER, "no term list");
    b.term_losses = unknown;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "unknown term");
    b.terms = 2;
    b.term_losses = twice;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "repeated term");
    b.term_losses = kto_in_list;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "KTO in a list");
    b.terms = 1;
    b.term_losses = sig;
    b.term_weights = nan_weight;
    expect_refused(ctx, &b, NULL, RPO_ERR_PARAM, "NaN term weight");

    b = batch_of(&P, 0, 1);
    b.terms = 1;
    b.term_losses = sft;
    expect_refused(ctx, &b, NULL, RPO_ERR_NULL_POINTER, "SFT without lengths");
    b = batch_of(&P, 1, 1);
    b.terms = 1;
    b.term_losses = orpo;
    memcpy(bad, P.pr, sizeof bad);
    bad[0] = 0.5;                          /* a probability above 1 */
    b.policy_rejected = bad;
    expect_refused(ctx, &b, NULL, RPO_ERR_RANGE, "ORPO of a log-prob > 0");

    b = batch_of(&P, 1, 1);
    memcpy(bad, P.pc, sizeof bad);
    bad[1] = (double)INFINITY;
    b.policy_chosen = bad;
    expect_refused(ctx, &b, NULL, RPO_ERR_NONFINITE, "infinite log-prob");

    assert_status(rpo_objective_f64(ctx, NULL, &r), RPO_ERR_NULL_POINTER);
    assert_status(rpo_objective_f64(NULL, &b, &r), RPO_ERR_NULL_POINTER);
    rpo_ctx_free(ctx);
}

/* An empty side: the pair terms vanish, SFT stays (TRL's NLL of the
 * chosen side alone). */
static void test_empty_side_keeps_sft(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 4, 4, 91);
    rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_UNIFORM, RPO_PLACEMENT_AUTO,
                                 RPO_REDUCTION_MEAN, RPO_FDIV_REVERSE_KL);
    const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    const double weights[2] = {1.0, 0.5};
    rpo_batch_f64 b = batch_of(&P, 1, 0);
    b.n = 0;
    b.terms = 2;
    b.term_losses = list;
    b.term_weights = weights;
    outputs o;
    rpo_results_f64 r = results_of(&o);
    assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
    double tokens = 0.0, nll = 0.0;
    for (size_t i = 0; i < 4; i++) {
        tokens += P.lc[i] < 1.0 ? 1.0 : P.lc[i];
        nll -= P.pc[i];
    }
    check_loss("sft alone", o.loss, 0.5 * nll / tokens, TOL_F64);
    for (size_t i = 0; i < 4; i++)
        check_loss("sft grad", o.gc[i], -0.5 / tokens, TOL_F64);
    rpo_ctx_free(ctx);
}

/* Row blocks: two blocks of a problem's chosen rows, against every rank's
 * rejected rows, add up to the whole call: gradients and per-row losses
 * complete, the rejected gradients and the loss as shares; SFT divides by
 * the gathered token count. */
static void check_row_blocks(void);

static void test_row_blocks(void **state)
{
    (void)state;
    for (size_t ks = 0; ks < KERNEL_SETS; ks++) {
        rpo_ctx *probe = context_on(kernel_sets[ks]);
        if (probe == NULL)
            continue;
        rpo_ctx_free(probe);
        current_set = kernel_sets[ks];
        check_row_blocks();
        if (small_run())
            break;
    }
    current_set = RPO_KERNELS_AUTO;
}

static void check_row_blocks(void)
{
    problem P;
    make_problem(&P, 5, 5, 101);
    const int lists[2][3] = {{RPO_LOSS_SIGMOID, RPO_LOSS_ORPO, RPO_LOSS_SFT},
                             {RPO_LOSS_SIGMOID, RPO_LOSS_SFT, 0}};
    const double weights[3] = {1.0, 0.6, 0.3};
    static const int weightings[] = {RPO_WEIGHTING_EMBEDDING, RPO_WEIGHTING_DIAGONAL,
                                     RPO_WEIGHTING_UNIFORM};
    for (int li = 0; li < 2; li++)
        for (int wi = 0; wi < 3; wi++)
            for (int reduction = 0; reduction < 2; reduction++) {
                rpo_ctx *ctx = objective_ctx(weightings[wi], RPO_PLACEMENT_AUTO,
                                             reduction, RPO_FDIV_REVERSE_KL);
                set(ctx, RPO_PARAM_SIMPO_GAMMA, 0.0);  /* list 1: the pairs kernel */
                rpo_batch_f64 b = batch_of(&P, 1, 1);
                b.rejected_emb = P.ce;   /* the gathered embeddings, explicit */
                b.terms = li == 0 ? 3 : 2;
                b.term_losses = lists[li];
                b.term_weights = weights;
                outputs whole;
                rpo_results_f64 r = results_of(&whole);
                assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
                double tokens = 0.0;
                for (size_t i = 0; i < 5; i++)
                    tokens += P.lc[i] < 1.0 ? 1.0 : P.lc[i];
                double gc[M], gr[M] = {0}, rows[M], rewards[M], share_sum = 0.0;
                for (size_t blk = 0; blk < 2; blk++) {
                    const size_t i0 = blk == 0 ? 0 : 2, rows_in = blk == 0 ? 2 : 3;
                    rpo_batch_f64 part = b;
                    part.m = rows_in;
                    part.policy_chosen = P.pc + i0;
                    part.ref_chosen = P.rc + i0;
                    part.chosen_emb = P.ce + i0 * D;
                    part.chosen_lengths = P.lc + i0;
                    part.chosen_weights = P.wc + i0;
                    part.sft_tokens = &tokens;
                    double pgr[M], stats[RPO_PARTIAL_COUNT];
                    rpo_results_f64 pr = {0};
                    pr.size = sizeof pr;
                    pr.grad_chosen = gc + i0;
                    pr.grad_rejected = pgr;
                    pr.losses = rows + i0;
                    pr.chosen_rewards = rewards + i0;
                    pr.partial_stats = stats;
                    assert_status(rpo_objective_rows_f64(ctx, 5, i0, &part, &pr), RPO_OK);
                    for (size_t j = 0; j < 5; j++)
                        gr[j] += pgr[j];
                    share_sum += stats[RPO_PARTIAL_LOSS];
                }
                char what[96];
                snprintf(what, sizeof what, "blocks (list %d, weighting %d, reduction %d, %s)",
                         li, weightings[wi], reduction, rpo_ctx_kernels(ctx));
                check_loss(what, share_sum, whole.loss, 1e-13);
                check_vector_rel(what, gc, whole.gc, 5, 1e-13);
                check_vector_rel(what, gr, whole.gr, 5, 1e-13);
                check_vector_rel(what, rows, whole.losses, 5, 1e-13);
                check_vector_rel(what, rewards, whole.rc, 5, 1e-15);
                rpo_ctx_free(ctx);
            }
}

/* KTO's row blocks: each block its own desirable and undesirable
 * sequences, the gathered kl; gradients, per-sequence losses and rewards
 * complete, the loss shares and reward sums adding up to the whole call's
 * loss and metrics; a lone block with its own KL pairs is the whole call;
 * the metrics stay; a block beyond m_total is refused. */
static void kto_blocks(rpo_ctx *ctx, const problem *P, const int *list,
                       const double *pk, const double *rk, const double *g,
                       const char *what)
{
    const size_t m = P->m, n = P->n;   /* 5 and 3 */
    ld mean = 0.0L;
    for (size_t k = 0; k < 4; k++)
        mean += ((ld)pk[k] - (ld)rk[k]) / 4.0L;
    const double gathered = (double)mean;
    rpo_batch_f64 b = batch_of(P, 0, 1);
    b.terms = 1;
    b.term_losses = list;
    b.k = 4;
    b.policy_kl = pk;
    b.ref_kl = rk;
    b.losses_grad = g;
    outputs whole;
    rpo_results_f64 r = results_of(&whole);
    assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
    double whole_stats[3];
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &whole_stats[0]), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_REWARD_CHOSEN, &whole_stats[1]), RPO_OK);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_REWARD_REJECTED, &whole_stats[2]), RPO_OK);

    /* block 0: chosen 0..1, rejected 0..1; block 1: chosen 2..4, rejected 2 */
    const size_t c0[2] = {0, 2}, cm[2] = {2, 3}, r0[2] = {0, 2}, rn[2] = {2, 1};
    double gc[M], gr[M], losses[2 * M], rc[M], rr[M], stats[RPO_PARTIAL_COUNT] = {0};
    size_t offset = 0;
    for (int blk = 0; blk < 2; blk++) {
        rpo_batch_f64 part = b;
        double g_part[2 * M];
        part.m = cm[blk];
        part.n = rn[blk];
        part.policy_chosen = P->pc + c0[blk];
        part.ref_chosen = P->rc + c0[blk];
        part.chosen_weights = P->wc + c0[blk];
        part.policy_rejected = P->pr + r0[blk];
        part.ref_rejected = P->rr + r0[blk];
        part.rejected_weights = P->wr + r0[blk];
        part.kl = &gathered;      /* the KL pairs are then not read */
        part.policy_kl = NULL;
        part.ref_kl = NULL;
        part.k = 0;
        if (g != NULL) {          /* g follows the sequences: chosen first */
            memcpy(g_part, g + c0[blk], cm[blk] * sizeof *g);
            memcpy(g_part + cm[blk], g + m + r0[blk], rn[blk] * sizeof *g);
            part.losses_grad = g_part;
        }
        double block_losses[2 * M], block_stats[RPO_PARTIAL_COUNT];
        rpo_results_f64 pr = {0};
        pr.size = sizeof pr;
        pr.grad_chosen = gc + c0[blk];
        pr.grad_rejected = gr + r0[blk];
        pr.losses = block_losses;
        pr.chosen_rewards = rc + c0[blk];
        pr.rejected_rewards = rr + r0[blk];
        pr.partial_stats = block_stats;
        assert_status(rpo_objective_rows_f64(ctx, m + n, offset, &part, &pr), RPO_OK);
        offset += cm[blk] + rn[blk];
        memcpy(losses + c0[blk], block_losses, cm[blk] * sizeof *losses);
        memcpy(losses + m + r0[blk], block_losses + cm[blk], rn[blk] * sizeof *losses);
        for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
            stats[k] += block_stats[k];
    }
    check_loss(what, stats[RPO_PARTIAL_LOSS], whole.loss, 1e-14);
    check_loss(what, stats[RPO_PARTIAL_REWARD_CHOSEN] / (double)m, whole_stats[1], 1e-14);
    check_loss(what, stats[RPO_PARTIAL_REWARD_REJECTED] / (double)n, whole_stats[2], 1e-14);
    assert_true(stats[RPO_PARTIAL_MARGIN] == 0.0 && stats[RPO_PARTIAL_ACCURACY] == 0.0);
    check_vector_rel(what, gc, whole.gc, m, 1e-14);
    check_vector_rel(what, gr, whole.gr, n, 1e-14);
    check_vector_rel(what, losses, whole.losses, m + n, 1e-14);
    check_vector_rel(what, rc, whole.rc, m, 1e-15);
    check_vector_rel(what, rr, whole.rr, n, 1e-15);
    double after;
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &after), RPO_OK);
    assert_true(after == whole_stats[0]);   /* blocks leave the metrics */

    /* one block holding every sequence, its own KL pairs: the whole call */
    outputs one;
    double one_stats[RPO_PARTIAL_COUNT];
    rpo_results_f64 pr = results_of(&one);
    pr.partial_stats = one_stats;
    assert_status(rpo_objective_rows_f64(ctx, m + n, 0, &b, &pr), RPO_OK);
    check_loss(what, one_stats[RPO_PARTIAL_LOSS], whole.loss, 1e-15);
    check_vector_rel(what, one.gc, whole.gc, m, 1e-15);
    check_vector_rel(what, one.gr, whole.gr, n, 1e-15);

    /* a block beyond m_total */
    for (size_t k = 0; k < sizeof one / sizeof(double); k++)
        ((double *)&one)[k] = SENTINEL;
    pr = results_of(&one);
    assert_status(rpo_objective_rows_f64(ctx, m + n, 1, &b, &pr), RPO_ERR_SIZE);
    assert_true(rpo_ctx_error_detail(ctx)[0] != '\0');
    for (size_t k = 0; k < sizeof one / sizeof(double); k++)
        assert_true(((double *)&one)[k] == SENTINEL);
}

static void test_kto_row_blocks(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 5, 3, 111);
    double pk[4], rk[4], g[2 * M];
    test_rng r = {112};
    rng_fill(&r, pk, 4, -6.0, -1.0);
    rng_fill(&r, rk, 4, -6.0, -1.0);
    rng_fill(&r, g, 8, -1.0, 1.0);
    const int kto[1] = {RPO_LOSS_KTO}, apo[1] = {RPO_LOSS_APO_ZERO_UNPAIRED};
    for (int c = 0; c < 12; c++) {
        const int reduction = c % 2, with_g = (c / 2) % 2, clamped = c / 4 == 1;
        const int *list = c / 4 == 2 ? apo : kto;
        pk[0] = clamped ? -9.0 : 2.0;   /* a negative mean: kl clamps to 0 */
        rpo_ctx *ctx = objective_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO,
                                     reduction, RPO_FDIV_REVERSE_KL);
        set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 1.3);
        set(ctx, RPO_PARAM_UNDESIRABLE_WEIGHT, 0.6);
        char what[96];
        snprintf(what, sizeof what, "%s blocks (reduction %d, g %d, clamped %d)",
                 list == kto ? "KTO" : "APO", reduction, with_g, clamped);
        kto_blocks(ctx, &P, list, pk, rk, with_g ? g : NULL, what);
        rpo_ctx_free(ctx);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_terms_against_reference),
        cmocka_unit_test(test_list_is_sum_of_terms),
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_dpo_special_case),
        cmocka_unit_test(test_kto),
        cmocka_unit_test(test_f32_and_threads),
        cmocka_unit_test(test_old_entry_points_ignore_new_settings),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_empty_side_keeps_sft),
        cmocka_unit_test(test_row_blocks),
        cmocka_unit_test(test_kto_row_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
