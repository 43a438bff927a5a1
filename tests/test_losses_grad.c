/*
 * The incoming per-row gradients of rpo_objective_* (batch.losses_grad,
 * rpo.h): with g set, every gradient returned is that of
 * F = sum_i g_i losses_i, the per-row losses the same call returns, and the
 * loss is still the reduced one. Judged against
 *   - central differences of F, formed from the library's own float64
 *     per-row losses (policy log-probs and embeddings), for term lists
 *     (the lone sigmoid term that otherwise runs on the SIMD pairs kernel,
 *     and a three-term list with SFT), every weighting, both placements and
 *     reductions, paired and unpaired, with lengths and sample weights, and
 *     for KTO and APO_ZERO_UNPAIRED (M + N losses);
 *   - the reduced loss's gradient: a uniform g = c gives exactly c * M
 *     (MEAN) or c (SUM) times it;
 *   - row blocks with g add up to the whole call with g;
 *   - float32 follows float64;
 *   - a NaN in g is refused with a detail and nothing written; a batch of
 *     the first 1.3 layout (its size ends before losses_grad) never reads
 *     the field.
 */
#include <stdio.h>

#include "testutil.h"

#define M 5
#define N 5
#define D 3
#define K 3
#define SENTINEL 12345.0

typedef struct problem {
    size_t m, n;
    double pc[M], rc[M], pr[N], rr[N];
    double lc[M], lr[N], wc[M], wr[N];
    double ce[M * D], re[N * D];
    double pk[K], rk[K];
    double g[M + N];
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
    rng_fill(&r, P->wc, m, 0.2, 2.0);
    rng_fill(&r, P->wr, n, 0.2, 2.0);
    rng_fill(&r, P->ce, m * D, -1.0, 1.0);
    rng_fill(&r, P->re, n * D, -1.0, 1.0);
    rng_fill(&r, P->pk, K, -6.0, -1.0);
    rng_fill(&r, P->rk, K, -6.0, -1.0);
    P->pk[0] += 4.0;   /* a positive kl */
    rng_fill(&r, P->g, m + n, -2.0, 2.0);
    P->g[1] = 0.0;     /* a row whose loss does not count */
}

static rpo_ctx *make_ctx(int weighting, int placement, int reduction)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, weighting), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, placement), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_REDUCTION, reduction), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, 0.7), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_ALPHA, 0.6), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_TAU, 0.4), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 1.3), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_UNDESIRABLE_WEIGHT, 0.6), RPO_OK);
    return ctx;
}

static const int LIST_SIGMOID[1] = {RPO_LOSS_SIGMOID};
static const int LIST_THREE[3] = {RPO_LOSS_SIGMOID, RPO_LOSS_ORPO, RPO_LOSS_SFT};
static const double WEIGHTS_THREE[3] = {1.0, 0.7, 0.4};
static const int LIST_KTO[1] = {RPO_LOSS_KTO};
static const int LIST_APO[1] = {RPO_LOSS_APO_ZERO_UNPAIRED};

/* A batch of P with lengths and sample weights, the list `list` (KTO's
 * KL pairs when it is KTO), and no losses_grad yet. */
static rpo_batch_f64 batch_of(const problem *P, const int *list, size_t terms)
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
    b.chosen_lengths = P->lc;
    b.rejected_lengths = P->lr;
    b.chosen_weights = P->wc;
    b.rejected_weights = P->wr;
    b.terms = terms;
    b.term_losses = list;
    b.term_weights = list == LIST_THREE ? WEIGHTS_THREE : NULL;
    if (list == LIST_KTO) {
        b.k = K;
        b.policy_kl = P->pk;
        b.ref_kl = P->rk;
    }
    return b;
}

static int unpaired(const rpo_batch_f64 *b)
{
    return b->term_losses[0] == RPO_LOSS_KTO ||
           b->term_losses[0] == RPO_LOSS_APO_ZERO_UNPAIRED;
}

typedef struct outputs {
    double loss;
    double gc[M], gr[N], gce[M * D], gre[N * D];
    double losses[M + N];
} outputs;

/* The call with every gradient wanted (embeddings for a list). */
static void call(rpo_ctx *ctx, const rpo_batch_f64 *b, outputs *o)
{
    rpo_results_f64 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = &o->loss;
    r.grad_chosen = o->gc;
    r.grad_rejected = o->gr;
    r.losses = o->losses;
    if (!unpaired(b)) {
        r.grad_chosen_emb = o->gce;
        if (b->rejected_emb != NULL)
            r.grad_rejected_emb = o->gre;
    }
    memset(o, 0, sizeof *o);
    const int status = rpo_objective_f64(ctx, b, &r);
    if (status != RPO_OK)
        fail_msg("status %d (%s)", status, rpo_ctx_error_detail(ctx));
}

/* F = sum_i g_i losses_i, from the library's own per-row losses. */
static double weighted_losses(rpo_ctx *ctx, const rpo_batch_f64 *b, const double *g)
{
    outputs o;
    call(ctx, b, &o);
    const size_t rows = unpaired(b) ? b->m + b->n : b->m;
    long double f = 0.0L;
    for (size_t i = 0; i < rows; i++)
        f += (long double)g[i] * (long double)o.losses[i];
    return (double)f;
}

/* Central differences of F against the gradients of the call with g. */
static void fd_check(rpo_ctx *ctx, problem *P, rpo_batch_f64 b, const char *what)
{
    b.losses_grad = P->g;
    outputs o;
    call(ctx, &b, &o);
    const int emb = !unpaired(&b);
    double *vars[4] = {P->pc, P->pr, P->ce, P->re};
    const double *grads[4] = {o.gc, o.gr, o.gce, o.gre};
    const size_t counts[4] = {P->m, P->n, emb ? P->m * D : 0,
                              emb && b.rejected_emb != NULL ? P->n * D : 0};
    const double h = 1e-6;
    for (int v = 0; v < 4; v++)
        for (size_t k = 0; k < counts[v]; k++) {
            const double keep = vars[v][k];
            vars[v][k] = keep + h;
            const double up = weighted_losses(ctx, &b, P->g);
            vars[v][k] = keep - h;
            const double down = weighted_losses(ctx, &b, P->g);
            vars[v][k] = keep;
            const double fd = (up - down) / (2.0 * h);
            if (!(fabs(fd - grads[v][k]) <= 1e-6 * fmax(1.0, fabs(fd))))
                fail_msg("%s: d F / d input %d[%zu]: finite difference %.12g, "
                         "gradient %.12g", what, v, k, fd, grads[v][k]);
        }
}

/* A uniform g = c: the reduced gradients times c M (MEAN) or c (SUM), and
 * the same loss as without g. */
static void uniform_check(rpo_ctx *ctx, const problem *P, rpo_batch_f64 b,
                          int reduction, const char *what)
{
    const double c = 0.75;
    double g[M + N];
    for (size_t k = 0; k < M + N; k++)
        g[k] = c;
    outputs plain, with;
    call(ctx, &b, &plain);
    b.losses_grad = g;
    call(ctx, &b, &with);
    const size_t rows = unpaired(&b) ? P->m + P->n : P->m;
    const double factor = reduction == RPO_REDUCTION_MEAN ? c * (double)rows : c;
    double want[M * D];
    check_loss(what, with.loss, plain.loss, 1e-14);
    const double *reduced[4] = {plain.gc, plain.gr, plain.gce, plain.gre};
    const double *got[4] = {with.gc, with.gr, with.gce, with.gre};
    const size_t counts[4] = {P->m, P->n, P->m * D, P->n * D};
    for (int v = 0; v < 4; v++) {
        for (size_t k = 0; k < counts[v]; k++)
            want[k] = factor * reduced[v][k];
        check_vector_rel(what, got[v], want, counts[v], 1e-13);
    }
}

static void test_lists(void **state)
{
    (void)state;
    static const int weightings[3] = {RPO_WEIGHTING_EMBEDDING, RPO_WEIGHTING_DIAGONAL,
                                      RPO_WEIGHTING_UNIFORM};
    for (int shape = 0; shape < 2; shape++)
        for (int wi = 0; wi < 3; wi++)
            for (int placement = RPO_PLACEMENT_LOGIT; placement <= RPO_PLACEMENT_LOSS;
                 placement++)
                for (int reduction = 0; reduction < 2; reduction++)
                    for (int li = 0; li < 2; li++) {
                        problem P;
                        make_problem(&P, shape ? 5 : 4, shape ? 3 : 4,
                                     (uint64_t)(7 + wi + 3 * shape));
                        if (weightings[wi] == RPO_WEIGHTING_DIAGONAL && P.m != P.n)
                            continue;
                        rpo_ctx *ctx = make_ctx(weightings[wi], placement, reduction);
                        rpo_batch_f64 b = li == 0 ? batch_of(&P, LIST_SIGMOID, 1)
                                                  : batch_of(&P, LIST_THREE, 3);
                        char what[128];
                        snprintf(what, sizeof what, "%s, %zux%zu, weighting %d, "
                                 "placement %d, reduction %d",
                                 li == 0 ? "sigmoid" : "sigmoid+orpo+sft", P.m, P.n,
                                 weightings[wi], placement, reduction);
                        fd_check(ctx, &P, b, what);
                        uniform_check(ctx, &P, b, reduction, what);
                        rpo_ctx_free(ctx);
                    }
}

static void test_unpaired(void **state)
{
    (void)state;
    for (int apo = 0; apo < 2; apo++)
        for (int reduction = 0; reduction < 2; reduction++) {
            problem P;
            make_problem(&P, 5, 3, 61);
            rpo_ctx *ctx = make_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, reduction);
            const rpo_batch_f64 b = batch_of(&P, apo ? LIST_APO : LIST_KTO, 1);
            const char *what = apo ? "apo_zero_unpaired" : "kto";
            fd_check(ctx, &P, b, what);
            uniform_check(ctx, &P, b, reduction, what);
            rpo_ctx_free(ctx);
        }
}

/* Two row blocks with their rows' g add up to the whole call with g. */
static void test_row_blocks(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 5, 5, 71);
    for (int reduction = 0; reduction < 2; reduction++) {
        rpo_ctx *ctx = make_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, reduction);
        rpo_batch_f64 b = batch_of(&P, LIST_THREE, 3);
        b.rejected_emb = P.ce;   /* the gathered embeddings, explicit */
        b.losses_grad = P.g;
        outputs whole;
        call(ctx, &b, &whole);
        double tokens = 0.0;
        for (size_t i = 0; i < 5; i++)
            tokens += P.lc[i];
        double gc[M], gr[N] = {0}, gce[M * D], gre[M * D] = {0};
        for (size_t blk = 0; blk < 2; blk++) {
            const size_t i0 = blk == 0 ? 0 : 2, rows = blk == 0 ? 2 : 3;
            rpo_batch_f64 part = b;
            part.m = rows;
            part.policy_chosen = P.pc + i0;
            part.ref_chosen = P.rc + i0;
            part.chosen_emb = P.ce + i0 * D;
            part.chosen_lengths = P.lc + i0;
            part.chosen_weights = P.wc + i0;
            part.losses_grad = P.g + i0;
            part.sft_tokens = &tokens;
            double pgr[N], pgre[M * D], stats[RPO_PARTIAL_COUNT];
            rpo_results_f64 r;
            memset(&r, 0, sizeof r);
            r.size = sizeof r;
            r.grad_chosen = gc + i0;
            r.grad_rejected = pgr;
            r.grad_chosen_emb = gce + i0 * D;
            r.grad_rejected_emb = pgre;
            r.partial_stats = stats;
            assert_status(rpo_objective_rows_f64(ctx, 5, i0, &part, &r), RPO_OK);
            for (size_t j = 0; j < 5; j++)
                gr[j] += pgr[j];
            for (size_t k = 0; k < 5 * D; k++)
                gre[k] += pgre[k];
        }
        /* paired: the whole call's chosen embedding gradient is both roles' */
        for (size_t k = 0; k < 5 * D; k++)
            gce[k] += gre[k];
        check_vector_rel("blocks with g: grad_chosen", gc, whole.gc, 5, 1e-13);
        check_vector_rel("blocks with g: grad_rejected", gr, whole.gr, 5, 1e-13);
        check_vector_rel("blocks with g: grad_chosen_emb", gce, whole.gce, 5 * D, 1e-13);
        rpo_ctx_free(ctx);
    }
}

/* float32 with g follows float64 with g. */
static void test_f32(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 5, 3, 81);
    rpo_ctx *ctx = make_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, RPO_REDUCTION_MEAN);
    rpo_batch_f64 b = batch_of(&P, LIST_THREE, 3);
    b.losses_grad = P.g;
    outputs o;
    call(ctx, &b, &o);
    float pc[M], rc[M], pr[N], rr[N], lc[M], lr[N], wc[M], wr[N], g[M];
    float ce[M * D], re[N * D], loss, gc[M], gr[N];
    for (size_t i = 0; i < P.m; i++) {
        pc[i] = (float)P.pc[i];
        rc[i] = (float)P.rc[i];
        lc[i] = (float)P.lc[i];
        wc[i] = (float)P.wc[i];
        g[i] = (float)P.g[i];
    }
    for (size_t j = 0; j < P.n; j++) {
        pr[j] = (float)P.pr[j];
        rr[j] = (float)P.rr[j];
        lr[j] = (float)P.lr[j];
        wr[j] = (float)P.wr[j];
    }
    for (size_t k = 0; k < P.m * D; k++)
        ce[k] = (float)P.ce[k];
    for (size_t k = 0; k < P.n * D; k++)
        re[k] = (float)P.re[k];
    rpo_batch_f32 bf;
    memset(&bf, 0, sizeof bf);
    bf.size = sizeof bf;
    bf.m = 5;
    bf.n = 3;
    bf.d = D;
    bf.policy_chosen = pc;
    bf.ref_chosen = rc;
    bf.policy_rejected = pr;
    bf.ref_rejected = rr;
    bf.chosen_emb = ce;
    bf.rejected_emb = re;
    bf.chosen_lengths = lc;
    bf.rejected_lengths = lr;
    bf.chosen_weights = wc;
    bf.rejected_weights = wr;
    bf.terms = 3;
    bf.term_losses = LIST_THREE;
    bf.term_weights = WEIGHTS_THREE;
    bf.losses_grad = g;
    rpo_results_f32 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = &loss;
    r.grad_chosen = gc;
    r.grad_rejected = gr;
    assert_status(rpo_objective_f32(ctx, &bf, &r), RPO_OK);
    double gcd[M], grd[N];
    for (size_t i = 0; i < 5; i++)
        gcd[i] = (double)gc[i];
    for (size_t j = 0; j < 3; j++)
        grd[j] = (double)gr[j];
    check_loss("f32 loss", (double)loss, o.loss, TOL_F32);
    check_vector_rel("f32 grad_chosen", gcd, o.gc, 5, TOL_F32);
    check_vector_rel("f32 grad_rejected", grd, o.gr, 3, TOL_F32);
    rpo_ctx_free(ctx);
}

/* A NaN or infinite g: RPO_ERR_NONFINITE naming it, nothing written. */
static void expect_nonfinite_g(rpo_ctx *ctx, const rpo_batch_f64 *b, const char *name)
{
    outputs o;
    for (size_t k = 0; k < sizeof o / sizeof(double); k++)
        ((double *)&o)[k] = SENTINEL;
    rpo_results_f64 r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    r.loss = &o.loss;
    r.grad_chosen = o.gc;
    r.grad_rejected = o.gr;
    r.losses = o.losses;
    assert_status(rpo_objective_f64(ctx, b, &r), RPO_ERR_NONFINITE);
    if (strstr(rpo_ctx_error_detail(ctx), name) == NULL)
        fail_msg("detail \"%s\" does not name %s", rpo_ctx_error_detail(ctx), name);
    for (size_t k = 0; k < sizeof o / sizeof(double); k++)
        if (((double *)&o)[k] != SENTINEL)
            fail_msg("%s: output %zu written", name, k);
}

static void test_hostile(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 5, 3, 91);
    rpo_ctx *ctx = make_ctx(RPO_WEIGHTING_EMBEDDING, RPO_PLACEMENT_AUTO, RPO_REDUCTION_MEAN);
    double g[M + N];
    memcpy(g, P.g, sizeof g);
    rpo_batch_f64 b = batch_of(&P, LIST_THREE, 3);
    b.losses_grad = g;
    g[4] = (double)NAN;
    expect_nonfinite_g(ctx, &b, "losses_grad[4]");
    g[4] = 1.0;
    b = batch_of(&P, LIST_KTO, 1);
    b.losses_grad = g;
    g[6] = (double)INFINITY;     /* a rejected row's: M + 1 */
    expect_nonfinite_g(ctx, &b, "losses_grad[6]");

    /* the first 1.3 layout ends before losses_grad: never read */
    b = batch_of(&P, LIST_THREE, 3);
    outputs plain, old;
    call(ctx, &b, &plain);
    b.size = offsetof(rpo_batch_f64, losses_grad);
    b.losses_grad = g;           /* still holding an infinity */
    call(ctx, &b, &old);
    assert_memory_equal(&plain, &old, sizeof plain);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_unpaired),
        cmocka_unit_test(test_row_blocks),
        cmocka_unit_test(test_f32),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
