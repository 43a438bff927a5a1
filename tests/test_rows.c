/*
 * Row blocks of a global problem (rpo_loss_rows_*, rpo_loss_rows_weighted_*):
 * split the M_total chosen rows into blocks (one of them empty), run each
 * block against all N rejected columns, sum the partial outputs as an
 * all-reduce would, and compare with the single-process call to 1e-12:
 * loss, both log-prob gradients, the metrics, and the embedding gradients
 * (paired: the two roles added), for every weighting, both placements,
 * both logit scales, both reductions and several losses. Also: the
 * caller-weighted blocks (the recipe for SINKHORN), float32, and errors.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

#define MT 7            /* M_total */
#define NMAX 7
#define D 3
#define NBLOCKS 4
static const size_t block_sizes[NBLOCKS] = {2, 0, 3, 2};

typedef struct global {
    size_t n;
    int paired;
    double pc[MT], rc[MT], pr[NMAX], rr[NMAX];
    double e[MT * D], f[NMAX * D];
} global;

static global make_global(uint64_t seed, size_t n, int paired)
{
    test_rng rng = {seed};
    global G;
    memset(&G, 0, sizeof G);
    G.n = n;
    G.paired = paired;
    rng_fill(&rng, G.pc, MT, -15, -2);
    rng_fill(&rng, G.rc, MT, -15, -2);
    rng_fill(&rng, G.pr, n, -15, -2);
    rng_fill(&rng, G.rr, n, -15, -2);
    rng_fill(&rng, G.e, MT * D, -1, 1);
    if (paired)
        memcpy(G.f, G.e, sizeof G.e);   /* one embedding per pair */
    else
        rng_fill(&rng, G.f, n * D, -1, 1);
    return G;
}

/* What every rank ends with: the single-process outputs. */
typedef struct result {
    double loss, stats[RPO_PARTIAL_COUNT];
    double gc[MT], gr[NMAX], ge[MT * D], gf[NMAX * D];
} result;

static result whole(rpo_ctx *ctx, const global *G)
{
    result R;
    memset(&R, 0, sizeof R);
    assert_status(rpo_loss_embed_grad_f64(ctx, MT, G->pc, G->rc, G->n, G->pr,
                                          G->rr, D, G->e, G->paired ? NULL : G->f,
                                          &R.loss, R.gc, R.gr, R.ge, R.gf), RPO_OK);
    const int stats[RPO_PARTIAL_COUNT] = {RPO_STAT_LOSS, RPO_STAT_REWARD_CHOSEN,
                                          RPO_STAT_REWARD_REJECTED, RPO_STAT_MARGIN,
                                          RPO_STAT_ACCURACY};
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
        assert_status(rpo_ctx_stat(ctx, stats[k], &R.stats[k]), RPO_OK);
    return R;
}

/* Every block, its partial outputs summed into one buffer, as an
 * all-reduce of [stats | grad_rejected | grad_rejected_emb] would. */
static result by_blocks(rpo_ctx *ctx, const global *G)
{
    result R;
    memset(&R, 0, sizeof R);
    /* paired: the gathered embeddings are the chosen ones, so the first
     * block's chosen rows start at the very pointer of rejected_emb */
    const double *gathered = G->paired ? G->e : G->f;
    size_t offset = 0;
    for (int blk = 0; blk < NBLOCKS; blk++) {
        const size_t m = block_sizes[blk];
        double buf[RPO_PARTIAL_COUNT + NMAX + NMAX * D];
        double *stats = buf, *gr = buf + RPO_PARTIAL_COUNT, *gf = gr + G->n;
        assert_status(rpo_loss_rows_f64(ctx, MT, offset, m, G->pc + offset,
                                        G->rc + offset, G->n, G->pr, G->rr, D,
                                        G->e + offset * D, gathered, R.gc + offset,
                                        R.ge + offset * D, stats, gr, gf), RPO_OK);
        for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
            R.stats[k] += stats[k];
        for (size_t j = 0; j < G->n; j++)
            R.gr[j] += gr[j];
        for (size_t k = 0; k < G->n * D; k++)
            R.gf[k] += gf[k];
        offset += m;
    }
    R.loss = R.stats[RPO_PARTIAL_LOSS];
    if (G->paired) {   /* pair i's embedding played both roles */
        for (size_t k = 0; k < MT * D; k++)
            R.ge[k] += R.gf[k];
        memset(R.gf, 0, sizeof R.gf);
    }
    return R;
}

static void compare(const char *what, const result *got, const result *want,
                    size_t n, int paired)
{
    char label[200];
    snprintf(label, sizeof label, "%s loss", what);
    check_loss(label, got->loss, want->loss, TOL_F64);
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++) {
        snprintf(label, sizeof label, "%s stat %d", what, k);
        check_loss(label, got->stats[k], want->stats[k], TOL_F64);
    }
    snprintf(label, sizeof label, "%s grad chosen", what);
    check_vector_rel(label, got->gc, want->gc, MT, TOL_F64);
    snprintf(label, sizeof label, "%s grad rejected", what);
    check_vector_rel(label, got->gr, want->gr, n, TOL_F64);
    snprintf(label, sizeof label, "%s grad chosen emb", what);
    check_vector_rel(label, got->ge, want->ge, MT * D, TOL_F64);
    if (!paired) {
        snprintf(label, sizeof label, "%s grad rejected emb", what);
        check_vector_rel(label, got->gf, want->gf, n * D, TOL_F64);
    }
}

static void blocks_case(int weighting, int placement, int scale, int reduction,
                        int loss, int paired)
{
    const size_t n = weighting == RPO_WEIGHTING_DIAGONAL || paired ? MT : 5;
    global G = make_global(500u + (uint64_t)(weighting * 100 + loss), n, paired);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, weighting, placement, 0.6, 0.4, 0.7, reduction);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOSS, loss), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.05), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, scale), RPO_OK);
    const result want = whole(ctx, &G);
    const result got = by_blocks(ctx, &G);
    char what[160];
    snprintf(what, sizeof what, "weighting %d placement %d scale %d red %d loss %d paired %d",
             weighting, placement, scale, reduction, loss, paired);
    compare(what, &got, &want, n, paired);
    /* the blocks left the context's metrics as the whole call set them */
    double stat;
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_MARGIN, &stat), RPO_OK);
    assert_true(stat == want.stats[RPO_PARTIAL_MARGIN]);
    rpo_ctx_free(ctx);
}

static void test_blocks_sum_to_whole(void **state)
{
    (void)state;
    const int losses[4] = {RPO_LOSS_SIGMOID, RPO_LOSS_HINGE, RPO_LOSS_SPPO_HARD,
                           RPO_LOSS_EXO_PAIR};
    for (int weighting = 0; weighting <= 2; weighting++)
        for (int placement = 1; placement <= 2; placement++)
            for (int scale = 0; scale <= 1; scale++)
                for (int red = 0; red <= 1; red++)
                    for (int l = 0; l < 4; l++)
                        for (int paired = 0; paired <= (weighting == 2); paired++)
                            blocks_case(weighting, placement, scale, red,
                                        losses[l], paired);
}

/* Caller weights by blocks: the global SINKHORN plan, computed once from
 * the gathered embeddings, fed to each block's rows. */
static void test_weighted_blocks(void **state)
{
    (void)state;
    global G = make_global(9, 6, 0);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_SINKHORN), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LOSS, RPO_LOSS_ROBUST), RPO_OK);
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_LABEL_SMOOTHING, 0.1), RPO_OK);
    double w[MT * NMAX], loss, gc[MT], gr[NMAX];
    assert_status(rpo_weights_f64(ctx, MT, G.n, D, G.e, G.f, w), RPO_OK);
    assert_status(rpo_loss_f64(ctx, MT, G.pc, G.rc, G.n, G.pr, G.rr, D, G.e, G.f,
                               &loss, gc, gr), RPO_OK);
    double sum_loss = 0.0, sum_gr[NMAX] = {0}, bgc[MT];
    size_t offset = 0;
    for (int blk = 0; blk < NBLOCKS; blk++) {
        const size_t m = block_sizes[blk];
        double stats[RPO_PARTIAL_COUNT], part[NMAX];
        assert_status(rpo_loss_rows_weighted_f64(ctx, MT, offset, m, G.pc + offset,
                                                 G.rc + offset, G.n, G.pr, G.rr,
                                                 w + offset * G.n, bgc + offset,
                                                 stats, part), RPO_OK);
        sum_loss += stats[RPO_PARTIAL_LOSS];
        for (size_t j = 0; j < G.n; j++)
            sum_gr[j] += part[j];
        offset += m;
    }
    check_loss("weighted blocks loss", sum_loss, loss, TOL_F64);
    check_vector_rel("weighted blocks grad chosen", bgc, gc, MT, TOL_F64);
    check_vector_rel("weighted blocks grad rejected", sum_gr, gr, G.n, TOL_F64);
    rpo_ctx_free(ctx);
}

static void test_f32_blocks(void **state)
{
    (void)state;
    global G = make_global(31, 5, 0);
    float pc[MT], rc[MT], pr[NMAX], rr[NMAX], e[MT * D], f[NMAX * D];
    to_f32(pc, G.pc, MT); to_f32(rc, G.rc, MT); to_f32(pr, G.pr, 5); to_f32(rr, G.rr, 5);
    to_f32(e, G.e, MT * D); to_f32(f, G.f, 5 * D);
    to_f64(G.pc, pc, MT); to_f64(G.rc, rc, MT); to_f64(G.pr, pr, 5); to_f64(G.rr, rr, 5);
    to_f64(G.e, e, MT * D); to_f64(G.f, f, 5 * D);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    const result want = whole(ctx, &G);
    float stats[RPO_PARTIAL_COUNT], gr[NMAX], gc[MT];
    double sum_loss = 0.0, sum_gr[NMAX] = {0}, got_gc[MT];
    size_t offset = 0;
    for (int blk = 0; blk < NBLOCKS; blk++) {
        const size_t m = block_sizes[blk];
        assert_status(rpo_loss_rows_f32(ctx, MT, offset, m, pc + offset, rc + offset,
                                        5, pr, rr, D, e + offset * D, f,
                                        gc + offset, NULL, stats, gr, NULL), RPO_OK);
        sum_loss += (double)stats[RPO_PARTIAL_LOSS];
        for (size_t j = 0; j < 5; j++)
            sum_gr[j] += (double)gr[j];
        offset += m;
    }
    to_f64(got_gc, gc, MT);
    check_loss("f32 blocks loss", sum_loss, want.loss, TOL_F32);
    check_vector_rel("f32 blocks grad chosen", got_gc, want.gc, MT, TOL_F32);
    check_vector_rel("f32 blocks grad rejected", sum_gr, want.gr, 5, TOL_F32);
    rpo_ctx_free(ctx);
}

static void test_errors_write_nothing(void **state)
{
    (void)state;
    global G = make_global(3, MT, 0);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    double gc[MT], stats[RPO_PARTIAL_COUNT], gr[NMAX];
    for (size_t k = 0; k < MT; k++)
        gc[k] = gr[k] = 5.0;
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
        stats[k] = 5.0;
    /* the block runs past m_total */
    assert_status(rpo_loss_rows_f64(ctx, MT, 5, 3, G.pc, G.rc, MT, G.pr, G.rr, D,
                                    G.e, G.f, gc, NULL, stats, gr, NULL), RPO_ERR_SIZE);
    assert_status(rpo_loss_rows_f64(ctx, 2, 3, 0, G.pc, G.rc, MT, G.pr, G.rr, D,
                                    G.e, G.f, gc, NULL, stats, gr, NULL), RPO_ERR_SIZE);
    assert_status(rpo_loss_rows_f64(ctx, SIZE_MAX, 0, 1, G.pc, G.rc, 3, G.pr, G.rr, D,
                                    G.e, G.f, gc, NULL, stats, gr, NULL), RPO_ERR_SIZE);
    /* rejected embeddings are always the gathered ones: no paired NULL */
    assert_status(rpo_loss_rows_f64(ctx, MT, 0, 3, G.pc, G.rc, MT, G.pr, G.rr, D,
                                    G.e, NULL, gc, NULL, stats, gr, NULL),
                  RPO_ERR_NULL_POINTER);
    /* DIAGONAL needs the whole problem square */
    assert_status(rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, RPO_WEIGHTING_DIAGONAL), RPO_OK);
    assert_status(rpo_loss_rows_f64(ctx, MT, 0, 3, G.pc, G.rc, 5, G.pr, G.rr, 0,
                                    NULL, NULL, gc, NULL, stats, gr, NULL), RPO_ERR_SIZE);
    assert_status(rpo_loss_rows_f64(ctx, MT, 4, 3, G.pc, G.rc, MT, G.pr, G.rr, 0,
                                    NULL, NULL, gc, NULL, stats, gr, NULL), RPO_OK);
    for (size_t k = 0; k < 3; k++)
        assert_true(gc[k] != 5.0);
    for (size_t k = 3; k < MT; k++)
        assert_true(gc[k] == 5.0);
    /* caller weights NULL */
    assert_status(rpo_loss_rows_weighted_f64(ctx, MT, 0, 3, G.pc, G.rc, MT, G.pr,
                                             G.rr, NULL, gc, stats, gr),
                  RPO_ERR_NULL_POINTER);
    rpo_ctx_free(ctx);
}

/* A rank without rows, or a problem without rows: zeros, success. */
static void test_empty_blocks(void **state)
{
    (void)state;
    global G = make_global(4, 4, 0);
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    double stats[RPO_PARTIAL_COUNT], gr[NMAX], gf[NMAX * D];
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
        stats[k] = 5.0;
    for (size_t k = 0; k < NMAX * D; k++)
        gf[k] = 5.0;
    for (size_t k = 0; k < NMAX; k++)
        gr[k] = 5.0;
    assert_status(rpo_loss_rows_f64(ctx, MT, 3, 0, NULL, NULL, 4, G.pr, G.rr, D,
                                    NULL, G.f, NULL, NULL, stats, gr, gf), RPO_OK);
    for (int k = 0; k < RPO_PARTIAL_COUNT; k++)
        assert_true(stats[k] == 0.0);
    for (size_t k = 0; k < 4; k++)
        assert_true(gr[k] == 0.0);
    for (size_t k = 0; k < 4 * D; k++)
        assert_true(gf[k] == 0.0);
    assert_status(rpo_loss_rows_f64(ctx, 0, 0, 0, NULL, NULL, 0, NULL, NULL, D,
                                    NULL, NULL, NULL, NULL, stats, NULL, NULL), RPO_OK);
    rpo_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_sum_to_whole),
        cmocka_unit_test(test_weighted_blocks),
        cmocka_unit_test(test_f32_blocks),
        cmocka_unit_test(test_errors_write_nothing),
        cmocka_unit_test(test_empty_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
