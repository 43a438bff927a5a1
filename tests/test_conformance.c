/*
 * Every case of the conformance vectors, through every entry point, within
 * the tolerances of the README beside them:
 *   rpo_loss_f64 / rpo_loss_f32                  loss and both gradients
 *   rpo_weights_f64 / rpo_weights_f32            the weight matrix
 *   rpo_loss_weighted_f64 / _f32 fed the expected weights
 * plus the sum reduction, which must be exactly M times the mean.
 */
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"
#include "vectors.h"

static rpo_vec_set vectors;

/* Float copies of one case's arrays (the inputs are exact in float32). */
typedef struct f32_case {
    float *pc, *rc, *pr, *rr, *ce, *re, *w;
} f32_case;

static float *narrow(const double *src, size_t count)
{
    if (src == NULL)
        return NULL;
    float *dst = malloc((count ? count : 1) * sizeof *dst);
    assert_non_null(dst);
    to_f32(dst, src, count);
    return dst;
}

static f32_case narrow_case(const rpo_vec_case *c)
{
    f32_case f;
    f.pc = narrow(c->policy_chosen, c->m);
    f.rc = narrow(c->ref_chosen, c->m);
    f.pr = narrow(c->policy_rejected, c->n);
    f.rr = narrow(c->ref_rejected, c->n);
    f.ce = narrow(c->chosen_emb, c->m * c->d);
    f.re = c->rejected_emb_same ? f.ce : narrow(c->rejected_emb, c->n * c->d);
    f.w = narrow(c->weights, c->m * c->n);
    return f;
}

static void free_f32_case(f32_case *f)
{
    if (f->re != f->ce)
        free(f->re);
    free(f->pc); free(f->rc); free(f->pr); free(f->rr); free(f->ce); free(f->w);
}

static const double *rejected_emb_of(const rpo_vec_case *c)
{
    return c->rejected_emb_same ? c->chosen_emb : c->rejected_emb;
}

static rpo_ctx *context_for(const rpo_vec_case *c, int reduction)
{
    rpo_ctx *ctx = rpo_ctx_create();
    assert_non_null(ctx);
    configure(ctx, c->weighting, c->placement, c->beta, c->tau, c->alpha, reduction);
    return ctx;
}

/* Checks loss and gradients (double copies) against the case. */
static void check_against_case(const rpo_vec_case *c, const char *entry,
                               double loss, const double *gc, const double *gr,
                               double tol)
{
    char what[256];
    snprintf(what, sizeof what, "%s [%s] loss", c->name, entry);
    check_loss(what, loss, c->loss, tol);
    snprintf(what, sizeof what, "%s [%s] grad_chosen", c->name, entry);
    check_vector_rel(what, gc, c->grad_chosen, c->m, tol);
    snprintf(what, sizeof what, "%s [%s] grad_rejected", c->name, entry);
    check_vector_rel(what, gr, c->grad_rejected, c->n, tol);
}

static void loss_f64_case(const rpo_vec_case *c)
{
    rpo_ctx *ctx = context_for(c, RPO_REDUCTION_MEAN);
    double loss = -1.0, stat = -2.0;
    double *gc = calloc(c->m, sizeof *gc), *gr = calloc(c->n, sizeof *gr);
    assert_status(rpo_loss_f64(ctx, c->m, c->policy_chosen, c->ref_chosen,
                               c->n, c->policy_rejected, c->ref_rejected,
                               c->d, c->chosen_emb, rejected_emb_of(c),
                               &loss, gc, gr), RPO_OK);
    check_against_case(c, "rpo_loss_f64", loss, gc, gr, TOL_F64);
    assert_status(rpo_ctx_stat(ctx, RPO_STAT_LOSS, &stat), RPO_OK);
    assert_true(stat == loss);
    free(gc);
    free(gr);
    rpo_ctx_free(ctx);
}

static void loss_f32_case(const rpo_vec_case *c)
{
    rpo_ctx *ctx = context_for(c, RPO_REDUCTION_MEAN);
    f32_case f = narrow_case(c);
    float loss = -1.0f;
    float *gc = calloc(c->m, sizeof *gc), *gr = calloc(c->n, sizeof *gr);
    double *gcd = calloc(c->m, sizeof *gcd), *grd = calloc(c->n, sizeof *grd);
    assert_status(rpo_loss_f32(ctx, c->m, f.pc, f.rc, c->n, f.pr, f.rr,
                               c->d, f.ce, f.re, &loss, gc, gr), RPO_OK);
    to_f64(gcd, gc, c->m);
    to_f64(grd, gr, c->n);
    check_against_case(c, "rpo_loss_f32", (double)loss, gcd, grd, TOL_F32);
    free(gc); free(gr); free(gcd); free(grd);
    free_f32_case(&f);
    rpo_ctx_free(ctx);
}

static void weights_case(const rpo_vec_case *c)
{
    rpo_ctx *ctx = context_for(c, RPO_REDUCTION_MEAN);
    f32_case f = narrow_case(c);
    size_t mn = c->m * c->n;
    double *w64 = calloc(mn, sizeof *w64), *w32d = calloc(mn, sizeof *w32d);
    float *w32 = calloc(mn, sizeof *w32);
    char what[256];
    assert_status(rpo_weights_f64(ctx, c->m, c->n, c->d, c->chosen_emb,
                                  rejected_emb_of(c), w64), RPO_OK);
    snprintf(what, sizeof what, "%s [rpo_weights_f64]", c->name);
    check_vector_abs(what, w64, c->weights, mn, TOL_F64);
    assert_status(rpo_weights_f32(ctx, c->m, c->n, c->d, f.ce, f.re, w32), RPO_OK);
    to_f64(w32d, w32, mn);
    snprintf(what, sizeof what, "%s [rpo_weights_f32]", c->name);
    check_vector_abs(what, w32d, c->weights, mn, TOL_F32);
    free(w64); free(w32); free(w32d);
    free_f32_case(&f);
    rpo_ctx_free(ctx);
}

static void loss_weighted_case(const rpo_vec_case *c)
{
    rpo_ctx *ctx = context_for(c, RPO_REDUCTION_MEAN);
    f32_case f = narrow_case(c);
    double loss = -1.0;
    double *gc = calloc(c->m, sizeof *gc), *gr = calloc(c->n, sizeof *gr);
    assert_status(rpo_loss_weighted_f64(ctx, c->m, c->policy_chosen, c->ref_chosen,
                                        c->n, c->policy_rejected, c->ref_rejected,
                                        c->weights, &loss, gc, gr), RPO_OK);
    check_against_case(c, "rpo_loss_weighted_f64", loss, gc, gr, TOL_F64);

    float loss32 = -1.0f;
    float *gc32 = calloc(c->m, sizeof *gc32), *gr32 = calloc(c->n, sizeof *gr32);
    assert_status(rpo_loss_weighted_f32(ctx, c->m, f.pc, f.rc, c->n, f.pr, f.rr,
                                        f.w, &loss32, gc32, gr32), RPO_OK);
    to_f64(gc, gc32, c->m);
    to_f64(gr, gr32, c->n);
    check_against_case(c, "rpo_loss_weighted_f32", (double)loss32, gc, gr, TOL_F32);
    free(gc); free(gr); free(gc32); free(gr32);
    free_f32_case(&f);
    rpo_ctx_free(ctx);
}

/* The sum reduction is M times the mean, for the loss and both gradients. */
static void sum_reduction_case(const rpo_vec_case *c)
{
    rpo_ctx *ctx = context_for(c, RPO_REDUCTION_SUM);
    double loss = -1.0;
    double *gc = calloc(c->m, sizeof *gc), *gr = calloc(c->n, sizeof *gr);
    double *want_gc = calloc(c->m, sizeof *gc), *want_gr = calloc(c->n, sizeof *gr);
    assert_status(rpo_loss_f64(ctx, c->m, c->policy_chosen, c->ref_chosen,
                               c->n, c->policy_rejected, c->ref_rejected,
                               c->d, c->chosen_emb, rejected_emb_of(c),
                               &loss, gc, gr), RPO_OK);
    double mm = (double)c->m;
    for (size_t i = 0; i < c->m; i++)
        want_gc[i] = mm * c->grad_chosen[i];
    for (size_t j = 0; j < c->n; j++)
        want_gr[j] = mm * c->grad_rejected[j];
    char what[256];
    snprintf(what, sizeof what, "%s [sum reduction] loss", c->name);
    check_loss(what, loss, mm * c->loss, TOL_F64);
    snprintf(what, sizeof what, "%s [sum reduction] grad_chosen", c->name);
    check_vector_rel(what, gc, want_gc, c->m, TOL_F64);
    snprintf(what, sizeof what, "%s [sum reduction] grad_rejected", c->name);
    check_vector_rel(what, gr, want_gr, c->n, TOL_F64);
    free(gc); free(gr); free(want_gc); free(want_gr);
    rpo_ctx_free(ctx);
}

static void for_every_case(void (*run)(const rpo_vec_case *))
{
    assert_true(vectors.count > 0);
    for (size_t k = 0; k < vectors.count; k++)
        run(&vectors.cases[k]);
}

static void test_loss_f64(void **state) { (void)state; for_every_case(loss_f64_case); }
static void test_loss_f32(void **state) { (void)state; for_every_case(loss_f32_case); }
static void test_weights(void **state) { (void)state; for_every_case(weights_case); }
static void test_loss_weighted(void **state) { (void)state; for_every_case(loss_weighted_case); }
static void test_sum_reduction(void **state) { (void)state; for_every_case(sum_reduction_case); }

static int load_vectors(void **state)
{
    (void)state;
    if (rpo_vec_load(rpo_vec_path(), &vectors) != 0)
        return -1;
    printf("# %zu conformance cases from %s\n", vectors.count, rpo_vec_path());
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
        cmocka_unit_test(test_loss_f64),
        cmocka_unit_test(test_loss_f32),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_loss_weighted),
        cmocka_unit_test(test_sum_reduction),
    };
    return cmocka_run_group_tests_name("conformance", tests, load_vectors, free_vectors);
}
