/*
 * The paths of rpo_objective_* beside the contrast matrix (rpo.h,
 * docs/objectives.md): KTO and APO_ZERO_UNPAIRED, and term lists with an
 * empty side, against tests/objective_ref.h (TRL's kto_loss, SFT's NLL)
 * and against sentinels:
 *   - KTO and APO with optional inputs left out (no reference model, no
 *     sample weights, no KL pairs): the same numbers as the reference;
 *   - each output asked alone equals the same output of the full call, bit
 *     for bit (KTO, APO, a term list with both sides or with one);
 *   - hostile KTO inputs (each pointer it needs NULL, a NaN in each array
 *     it reads, embedding gradients asked of it) and results beyond the
 *     output type: a status, a detail, nothing written;
 *   - an empty side: the other side's rewards, zero gradients (embeddings
 *     included), SFT alone; NaN there is refused; float32 ranges; a row
 *     block with an empty side gives its share in partial_stats and leaves
 *     the loss and the context's metrics alone;
 *   - sizes no memory could hold: refused before any input is read;
 *   - EXO_PAIR without label smoothing, SFT token counts NaN or below 1;
 *   - descriptors: NULL results, an implausibly long batch.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#define RPO_STATIC_LINKING_ONLY
#include "objective_ref.h"
#include "testutil.h"

#define M 4
#define N 3
#define K 3
#define D 2
#define SENTINEL 12345.0
#define BETA 0.7

typedef struct outputs {
    double loss;
    double gc[M], gr[N], gce[M * D], gre[N * D];
    double losses[M + N], rc[M], rr[N], partial[RPO_PARTIAL_COUNT];
} outputs;

static void fill_sentinel(outputs *o)
{
    for (size_t k = 0; k < sizeof *o / sizeof(double); k++)
        ((double *)o)[k] = SENTINEL;
}

static void assert_untouched(const outputs *o, const char *what)
{
    for (size_t k = 0; k < sizeof *o / sizeof(double); k++)
        if (((const double *)o)[k] != SENTINEL)
            fail_msg("%s: output %zu written", what, k);
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

/* Every array holds M values (N, K <= M), so one copy serves any. */
typedef struct problem {
    double pc[M], rc[M], pr[M], rr[M], wc[M], wr[M], lc[M];
    double pk[M], rk[M], emb[(M + N) * D];
} problem;

static void make_problem(problem *P, uint64_t seed)
{
    test_rng r = {seed};
    rng_fill(&r, P->pc, M, -6.0, -0.5);
    rng_fill(&r, P->rc, M, -6.0, -0.5);
    rng_fill(&r, P->pr, N, -6.0, -0.5);
    rng_fill(&r, P->rr, N, -6.0, -0.5);
    rng_fill(&r, P->wc, M, 0.2, 2.0);
    rng_fill(&r, P->wr, N, 0.2, 2.0);
    rng_fill(&r, P->pk, K, -4.0, -1.0);
    rng_fill(&r, P->rk, K, -6.0, -3.0);   /* a positive mean kl */
    rng_fill(&r, P->emb, (M + N) * D, -1.0, 1.0);
    for (size_t i = 0; i < M; i++)
        P->lc[i] = (double)(1 + i);
}

static const int kto_list[1] = {RPO_LOSS_KTO};
static const int apo_list[1] = {RPO_LOSS_APO_ZERO_UNPAIRED};

static rpo_batch_f64 unpaired_batch(const problem *P, int apo)
{
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = M;
    b.n = N;
    b.policy_chosen = P->pc;
    b.ref_chosen = P->rc;
    b.policy_rejected = P->pr;
    b.ref_rejected = P->rr;
    b.chosen_weights = P->wc;
    b.rejected_weights = P->wr;
    b.terms = 1;
    b.term_losses = apo ? apo_list : kto_list;
    b.k = K;
    b.policy_kl = P->pk;
    b.ref_kl = P->rk;
    return b;
}

static rpo_ctx *new_ctx(int reduction)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, BETA), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_REDUCTION, reduction), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 1.3), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_UNDESIRABLE_WEIGHT, 0.6), RPO_OK);
    return ctx;
}

static void expect_refused(rpo_ctx *ctx, const rpo_batch_f64 *b, rpo_results_f64 *r,
                           outputs *o, int want, const char *what)
{
    const int status = rpo_objective_f64(ctx, b, r);
    if (status != want)
        fail_msg("%s: status %d, want %d (detail \"%s\")", what, status, want,
                 rpo_ctx_error_detail(ctx));
    if (rpo_ctx_error_detail(ctx)[0] == '\0')
        fail_msg("%s: no detail", what);
    assert_untouched(o, what);
}

static double stat(rpo_ctx *ctx, int which)
{
    double value;
    assert_status(rpo_ctx_stat(ctx, which, &value), RPO_OK);
    return value;
}

/* KTO and APO without the optional inputs: no reference model (log-ratio
 * = policy), no sample weights, the kl from K pairs without their
 * reference, or no pairs at all (kl = 0); both reductions; no sequences. */
static void test_unpaired_optional_inputs(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 11);
    for (int c = 0; c < 8; c++) {
        const int apo = c & 1, sum = (c >> 1) & 1, pairs = c >> 2;
        rpo_ctx *ctx = new_ctx(sum ? RPO_REDUCTION_SUM : RPO_REDUCTION_MEAN);
        rpo_batch_f64 b = unpaired_batch(&P, apo);
        b.ref_chosen = b.ref_rejected = NULL;
        b.chosen_weights = b.rejected_weights = NULL;
        b.ref_kl = NULL;
        b.k = pairs ? K : 0;
        ld mean = 0.0L;
        for (size_t k = 0; k < b.k; k++)
            mean += (ld)P.pk[k] / (ld)K;
        const double kl = mean > 0.0L ? (double)mean : 0.0;  /* TRL's clamp */
        outputs o;
        fill_sentinel(&o);
        rpo_results_f64 r = results_of(&o);
        assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
        double gc[M], gr[N], losses[M + N];
        const double want = ref_kto(apo, M, N, P.pc, NULL, P.pr, NULL, NULL, NULL, kl,
                                    BETA, 1.3, 0.6, sum, gc, gr, losses);
        check_loss("loss", o.loss, want, TOL_F64);
        check_vector_rel("grad chosen", o.gc, gc, M, TOL_F64);
        check_vector_rel("grad rejected", o.gr, gr, N, TOL_F64);
        check_vector_rel("losses", o.losses, losses, M + N, TOL_F64);
        for (size_t i = 0; i < M; i++)
            check_loss("chosen reward", o.rc[i], BETA * P.pc[i], TOL_F64);
        check_loss("kl", stat(ctx, RPO_STAT_KL), apo ? 0.0 : kl, TOL_F64);

        b.m = b.n = 0;  /* no sequences: a zero loss, zero metrics */
        assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
        assert_true(o.loss == 0.0);
        assert_true(stat(ctx, RPO_STAT_REWARD_CHOSEN) == 0.0);
        assert_true(stat(ctx, RPO_STAT_REWARD_REJECTED) == 0.0);
        rpo_ctx_free(ctx);
    }
}

/* Each output asked alone is the same output of the full call, bit for
 * bit; without the loss, KTO's and an empty side's loss metric is 0. For
 * KTO, APO, and a term list (SIGMOID and SFT) with both sides or one. */
static void test_outputs_alone(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 12);
    static const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    for (int c = 0; c < 4; c++) {
        rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
        rpo_batch_f64 b = unpaired_batch(&P, c == 1);
        if (c >= 2) {   /* the term list: embeddings, lengths */
            b.term_losses = list;
            b.terms = 2;
            b.d = D;
            b.chosen_emb = P.emb;
            b.rejected_emb = P.emb + M * D;
            b.chosen_lengths = P.lc;
            b.k = 0;
            if (c == 3)
                b.n = 0;
        }
        outputs full;
        rpo_results_f64 r = results_of(&full);
        assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
        for (int which = 0; which < 6; which++) {
            outputs o;
            fill_sentinel(&o);
            rpo_results_f64 one;
            memset(&one, 0, sizeof one);
            one.size = sizeof one;
            switch (which) {
            case 0: one.loss = &o.loss; break;
            case 1: one.grad_chosen = o.gc; break;
            case 2: one.grad_rejected = o.gr; break;
            case 3: one.losses = o.losses; break;
            case 4: one.chosen_rewards = o.rc; break;
            default: one.rejected_rewards = o.rr; break;
            }
            assert_status(rpo_objective_f64(ctx, &b, &one), RPO_OK);
            const double *got = which == 0 ? &o.loss : which == 1 ? o.gc
                              : which == 2 ? o.gr : which == 3 ? o.losses
                              : which == 4 ? o.rc : o.rr;
            const double *want = which == 0 ? &full.loss : which == 1 ? full.gc
                               : which == 2 ? full.gr : which == 3 ? full.losses
                               : which == 4 ? full.rc : full.rr;
            const size_t losses = c >= 2 ? b.m : b.m + b.n;   /* per row, or per sequence */
            const size_t count = which == 0 ? 1 : which == 1 ? b.m : which == 2 ? b.n
                               : which == 3 ? losses : which == 4 ? b.m : b.n;
            assert_memory_equal(got, want, count * sizeof(double));
            /* (the pair path keeps the loss it computed in the metric) */
            if (which != 0 && c != 2)
                assert_true(stat(ctx, RPO_STAT_LOSS) == 0.0);
        }
        rpo_ctx_free(ctx);
    }
}

/* Hostile KTO and APO inputs: a status and a detail, nothing written. */
static void test_unpaired_hostile(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 13);
    const double nan = (double)NAN, kl_nan = (double)NAN;
    for (int apo = 0; apo < 2; apo++) {
        rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
        outputs o;
        fill_sentinel(&o);
        rpo_results_f64 r = results_of(&o);
        rpo_batch_f64 b = unpaired_batch(&P, apo);
        b.policy_chosen = NULL;
        expect_refused(ctx, &b, &r, &o, RPO_ERR_NULL_POINTER, "policy_chosen NULL");
        b = unpaired_batch(&P, apo);
        b.policy_rejected = NULL;
        expect_refused(ctx, &b, &r, &o, RPO_ERR_NULL_POINTER, "policy_rejected NULL");
        if (!apo) {  /* APO reads no kl */
            b = unpaired_batch(&P, apo);
            b.policy_kl = NULL;
            expect_refused(ctx, &b, &r, &o, RPO_ERR_NULL_POINTER, "policy_kl NULL");
        }
        /* a NaN in each array read */
        double *arrays[7] = {P.pc, P.rc, P.pr, P.rr, P.pk, P.rk, NULL};
        for (int a = 0; a < 7; a++) {
            if (apo && a >= 4)
                break;
            b = unpaired_batch(&P, apo);
            double copy[M];
            if (arrays[a] == NULL) {
                b.kl = &kl_nan;
            } else {
                memcpy(copy, arrays[a], sizeof copy);
                copy[1] = nan;
                const double **field[6] = {&b.policy_chosen, &b.ref_chosen,
                                           &b.policy_rejected, &b.ref_rejected,
                                           &b.policy_kl, &b.ref_kl};
                *field[a] = copy;
            }
            expect_refused(ctx, &b, &r, &o, RPO_ERR_NONFINITE, "NaN input");
        }
        /* KTO has no embeddings, so no embedding gradients */
        b = unpaired_batch(&P, apo);
        rpo_results_f64 with_emb = r;
        with_emb.grad_chosen_emb = o.gce;
        expect_refused(ctx, &b, &with_emb, &o, RPO_ERR_PARAM, "embedding gradients");
        rpo_ctx_free(ctx);
    }
}

/* Results beyond the output type: an infinite float64 loss (sample weights
 * near DBL_MAX), float32 rewards and losses beyond FLT_MAX. */
static void test_unpaired_range(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 14);
    rpo_ctx *ctx = new_ctx(RPO_REDUCTION_SUM);
    outputs o;
    fill_sentinel(&o);
    rpo_results_f64 r = results_of(&o);
    rpo_batch_f64 b = unpaired_batch(&P, 0);
    double huge[M];
    for (size_t i = 0; i < M; i++)
        huge[i] = DBL_MAX;   /* times the desirable weight 1.3: infinite */
    b.chosen_weights = huge;
    expect_refused(ctx, &b, &r, &o, RPO_ERR_RANGE, "infinite float64 loss");

    /* float32: rewards beta a beyond FLT_MAX, then sample losses beyond it */
    float pc[M], pr[N], wc[M];
    to_f32(pc, P.pc, M);
    to_f32(pr, P.pr, N);
    for (size_t i = 0; i < M; i++)
        wc[i] = FLT_MAX;
    float loss = 7.0f, gc[M], gr[N], losses[M + N], rc[M], rr[N];
    for (int c = 0; c < 2; c++) {
        assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, c == 0 ? 1e38 : BETA), RPO_OK);
        rpo_batch_f32 b32;
        memset(&b32, 0, sizeof b32);
        b32.size = sizeof b32;
        b32.m = M;
        b32.n = N;
        b32.policy_chosen = pc;
        b32.policy_rejected = pr;
        b32.chosen_weights = c == 1 ? wc : NULL;
        b32.terms = 1;
        b32.term_losses = kto_list;
        rpo_results_f32 r32;
        memset(&r32, 0, sizeof r32);
        r32.size = sizeof r32;
        r32.loss = &loss;
        r32.grad_chosen = gc;
        r32.grad_rejected = gr;
        r32.losses = losses;
        r32.chosen_rewards = rc;
        r32.rejected_rewards = rr;
        assert_status(rpo_objective_f32(ctx, &b32, &r32), RPO_ERR_RANGE);
        assert_true(rpo_ctx_error_detail(ctx)[0] != '\0');
        assert_true(loss == 7.0f);
    }
    rpo_ctx_free(ctx);
}

/* A term list with an empty side: SIGMOID's contrasts vanish, SFT stays,
 * the other side's rewards are beta times its log-ratios, every gradient
 * of the empty contrasts is 0 (embeddings included). */
static void test_empty_side(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 15);
    const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    for (int side = 0; side < 2; side++) {
        rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
        rpo_batch_f64 b;
        memset(&b, 0, sizeof b);
        b.size = sizeof b;
        b.m = side == 0 ? 0 : M;
        b.n = side == 0 ? N : 0;
        b.d = D;
        b.policy_chosen = P.pc;
        b.ref_chosen = P.rc;
        b.policy_rejected = P.pr;
        b.ref_rejected = P.rr;
        b.chosen_emb = P.emb;
        b.rejected_emb = P.emb + M * D;  /* unpaired: its own gradient */
        b.chosen_lengths = P.lc;
        b.terms = 2;
        b.term_losses = list;
        outputs o;
        fill_sentinel(&o);
        rpo_results_f64 r = results_of(&o);
        r.grad_chosen_emb = o.gce;
        r.grad_rejected_emb = o.gre;
        assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);
        ld tokens = 0.0L, nll = 0.0L;
        for (size_t i = 0; i < b.m; i++) {
            tokens += (ld)P.lc[i];
            nll -= (ld)P.pc[i];
        }
        check_loss("SFT alone", o.loss, b.m ? (double)(nll / tokens) : 0.0, TOL_F64);
        for (size_t i = 0; i < b.m; i++) {
            check_loss("SFT gradient", o.gc[i], (double)(-1.0L / tokens), TOL_F64);
            check_loss("chosen reward", o.rc[i], BETA * (P.pc[i] - P.rc[i]), TOL_F64);
        }
        for (size_t j = 0; j < b.n; j++) {
            assert_true(o.gr[j] == 0.0);
            check_loss("rejected reward", o.rr[j], BETA * (P.pr[j] - P.rr[j]), TOL_F64);
        }
        for (size_t k = 0; k < b.m * D; k++)
            assert_true(o.gce[k] == 0.0);
        for (size_t k = 0; k < b.n * D; k++)
            assert_true(o.gre[k] == 0.0);
        check_loss("logps rejected", stat(ctx, RPO_STAT_LOGPS_REJECTED),
                   b.n ? (P.pr[0] + P.pr[1] + P.pr[2]) / 3.0 : 0.0, TOL_F64);

        /* a NaN on the side that is there is refused */
        double bad[M];
        memcpy(bad, side == 0 ? P.rr : P.rc, sizeof bad);
        bad[0] = (double)NAN;
        if (side == 0)
            b.ref_rejected = bad;
        else
            b.ref_chosen = bad;
        fill_sentinel(&o);
        expect_refused(ctx, &b, &r, &o, RPO_ERR_NONFINITE, "NaN beside an empty side");
        rpo_ctx_free(ctx);
    }
}

/* An empty side in float32: an SFT loss or a reward beyond FLT_MAX. */
static void test_empty_side_f32_range(void **state)
{
    (void)state;
    const int sft[1] = {RPO_LOSS_SFT};
    const float pc[2] = {-3e38f, -3e38f}, lc[2] = {1.0f, 1.0f}, pr[2] = {-1.0f, -2.0f};
    for (int c = 0; c < 2; c++) {
        rpo_ctx *ctx = new_ctx(RPO_REDUCTION_SUM);
        if (c == 1)
            assert_status(rpo_ctx_set(ctx, RPO_PARAM_BETA, 1e38), RPO_OK);
        rpo_batch_f32 b;
        memset(&b, 0, sizeof b);
        b.size = sizeof b;
        b.m = c == 0 ? 2 : 0;
        b.n = c == 0 ? 0 : 2;
        b.policy_chosen = pc;
        b.policy_rejected = c == 0 ? pr : (const float[2]){-10.0f, -20.0f};
        b.chosen_lengths = lc;
        b.terms = 1;
        b.term_losses = sft;
        float loss = 7.0f, gc[2] = {7.0f, 7.0f}, rr[2] = {7.0f, 7.0f};
        rpo_results_f32 r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        r.loss = &loss;
        r.grad_chosen = gc;
        r.rejected_rewards = rr;
        /* c == 0: -(pc_0 + pc_1) = 6e38; c == 1: beta b = -1e39, -2e39 */
        assert_status(rpo_objective_f32(ctx, &b, &r), RPO_ERR_RANGE);
        assert_true(rpo_ctx_error_detail(ctx)[0] != '\0');
        assert_true(loss == 7.0f && gc[0] == 7.0f && rr[0] == 7.0f);
        rpo_ctx_free(ctx);
    }
}

/* A row block with no rejected rows: its SFT share in partial_stats, the
 * loss output untouched, the context's metrics those of the call before. */
static void test_empty_side_row_block(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 16);
    const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    rpo_ctx *ctx = new_ctx(RPO_REDUCTION_SUM);
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = M;
    b.n = 0;
    b.policy_chosen = P.pc;
    b.ref_chosen = P.rc;
    b.chosen_lengths = P.lc;
    b.terms = 2;
    b.term_losses = list;
    outputs whole;
    rpo_results_f64 rw = results_of(&whole);
    assert_status(rpo_objective_f64(ctx, &b, &rw), RPO_OK);
    /* another call's metrics, which the block must leave as they are */
    const rpo_batch_f64 kto = unpaired_batch(&P, 0);
    outputs other;
    rpo_results_f64 ro = results_of(&other);
    assert_status(rpo_objective_f64(ctx, &kto, &ro), RPO_OK);
    const double loss_before = stat(ctx, RPO_STAT_LOSS);
    assert_true(loss_before != whole.loss);

    outputs o;
    fill_sentinel(&o);
    rpo_results_f64 r = results_of(&o);
    r.partial_stats = o.partial;
    assert_status(rpo_objective_rows_f64(ctx, M, 0, &b, &r), RPO_OK);
    check_loss("block share", o.partial[RPO_PARTIAL_LOSS], whole.loss, TOL_F64);
    for (int k = 1; k < RPO_PARTIAL_COUNT; k++)
        assert_true(o.partial[k] == 0.0);
    assert_true(o.loss == SENTINEL);
    check_vector_rel("block gradient", o.gc, whole.gc, M, TOL_F64);
    assert_true(stat(ctx, RPO_STAT_LOSS) == loss_before);
    rpo_ctx_free(ctx);
}

/* Sizes no memory could hold, refused before any input is read (the
 * arrays here hold one element): m + n beyond SIZE_MAX, and the scratch
 * of m sequences (KTO) or m rows beside an empty side (a term list). */
static void test_sizes_beyond_memory(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 18);
    const int sigmoid[1] = {RPO_LOSS_SIGMOID};
    const size_t sizes[3][2] = {{SIZE_MAX, 1}, {SIZE_MAX / 16, 0}, {SIZE_MAX / 16, 0}};
    for (int c = 0; c < 3; c++) {
        rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
        rpo_batch_f64 b = unpaired_batch(&P, 0);
        b.m = sizes[c][0];
        b.n = sizes[c][1];
        b.k = 0;
        if (c == 2) {
            b.term_losses = sigmoid;
            b.chosen_weights = b.rejected_weights = NULL;
        }
        outputs o;
        fill_sentinel(&o);
        rpo_results_f64 r;
        memset(&r, 0, sizeof r);
        r.size = sizeof r;
        r.loss = &o.loss;
        expect_refused(ctx, &b, &r, &o, RPO_ERR_SIZE, "sizes beyond memory");
        rpo_ctx_free(ctx);
    }
}

/* Term lists the settings or the batch make invalid: EXO_PAIR without
 * label smoothing (its loss divides by it), an SFT token count that is
 * NaN or below one. */
static void test_term_list_refusals(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 19);
    const int exo[1] = {RPO_LOSS_EXO_PAIR};
    const int sft[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
    rpo_batch_f64 b;
    memset(&b, 0, sizeof b);
    b.size = sizeof b;
    b.m = b.n = N;
    b.policy_chosen = P.pc;
    b.ref_chosen = P.rc;
    b.policy_rejected = P.pr;
    b.ref_rejected = P.rr;
    b.d = D;
    b.chosen_emb = P.emb;
    b.chosen_lengths = P.lc;
    b.terms = 1;
    b.term_losses = exo;
    outputs o;
    fill_sentinel(&o);
    rpo_results_f64 r = results_of(&o);
    expect_refused(ctx, &b, &r, &o, RPO_ERR_PARAM, "EXO_PAIR without label smoothing");
    assert_non_null(strstr(rpo_ctx_error_detail(ctx), "label smoothing"));
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.1), RPO_OK);
    assert_status(rpo_objective_f64(ctx, &b, &r), RPO_OK);

    b.terms = 2;
    b.term_losses = sft;
    const double nan_tokens = (double)NAN, few_tokens = 0.5, tokens = 6.0;
    fill_sentinel(&o);
    b.sft_tokens = &nan_tokens;
    expect_refused(ctx, &b, &r, &o, RPO_ERR_NONFINITE, "NaN sft_tokens");
    b.sft_tokens = &few_tokens;
    expect_refused(ctx, &b, &r, &o, RPO_ERR_PARAM, "sft_tokens below 1");
    b.sft_tokens = &tokens;   /* a row block's count: all blocks' tokens */
    b.rejected_emb = P.emb + M * D;
    r.partial_stats = o.partial;
    assert_status(rpo_objective_rows_f64(ctx, N, 0, &b, &r), RPO_OK);
    rpo_ctx_free(ctx);
}

/* Descriptors: NULL results; a batch whose size claims more than any
 * plausible future layout. */
static void test_descriptors(void **state)
{
    (void)state;
    problem P;
    make_problem(&P, 17);
    rpo_ctx *ctx = new_ctx(RPO_REDUCTION_MEAN);
    rpo_batch_f64 b = unpaired_batch(&P, 0);
    assert_status(rpo_objective_f64(ctx, &b, NULL), RPO_ERR_NULL_POINTER);
    assert_true(strstr(rpo_ctx_error_detail(ctx), "results") != NULL);
    struct { rpo_batch_f64 known; unsigned char tail[1 << 16]; } *longer =
        calloc(1, sizeof *longer);
    assert_non_null(longer);
    longer->known = b;
    longer->known.size = sizeof *longer;  /* zero tail, but 64 KiB of it */
    outputs o;
    fill_sentinel(&o);
    rpo_results_f64 r = results_of(&o);
    expect_refused(ctx, &longer->known, &r, &o, RPO_ERR_SIZE, "implausible size");
    free(longer);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unpaired_optional_inputs),
        cmocka_unit_test(test_outputs_alone),
        cmocka_unit_test(test_unpaired_hostile),
        cmocka_unit_test(test_unpaired_range),
        cmocka_unit_test(test_empty_side),
        cmocka_unit_test(test_empty_side_f32_range),
        cmocka_unit_test(test_empty_side_row_block),
        cmocka_unit_test(test_sizes_beyond_memory),
        cmocka_unit_test(test_term_list_refusals),
        cmocka_unit_test(test_descriptors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
