/*
 * Large shapes through the public API, judged by the long double reference
 * (streamref.h): embedding widths up to D = 65536 with a few rows, and
 * batches up to M = N = 4096 with narrow embeddings, in every weighting,
 * through float64 and float32 (inputs are float32 numbers), paired and
 * unpaired, with row blocks that do not divide the batch.
 *
 * RPO_TEST_SMALL=1 in the environment divides the large sizes by 16 (D up
 * to 4096, M and N up to 256): `make sanitize` runs the suite that way
 * under valgrind, where the full sizes would take minutes. The default,
 * full-size run is the one `make check` does natively.
 */
#include <stdio.h>
#include <stdlib.h>

#include "refcheck.h"

static size_t scaled(size_t full)
{
    const char *small = getenv("RPO_TEST_SMALL");
    return small != NULL && small[0] == '1' ? full / 16 : full;
}

/* A random problem whose values are float32 numbers. */
typedef struct shape_data {
    double *pc, *rc, *pr, *rr, *e, *f;
} shape_data;

static double *random_f32_values(test_rng *rng, size_t count, double lo, double hi)
{
    double *x = malloc((count ? count : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t k = 0; k < count; k++)
        x[k] = (double)(float)rng_uniform(rng, lo, hi);
    return x;
}

static shape_data make_data(uint64_t seed, size_t m, size_t n, size_t d)
{
    test_rng rng = {seed};
    shape_data s;
    s.pc = random_f32_values(&rng, m, -60.0, -5.0);
    s.rc = random_f32_values(&rng, m, -60.0, -5.0);
    s.pr = random_f32_values(&rng, n, -60.0, -5.0);
    s.rr = random_f32_values(&rng, n, -60.0, -5.0);
    s.e = random_f32_values(&rng, m * d, -1.0, 1.0);
    s.f = random_f32_values(&rng, n * d, -1.0, 1.0);
    /* prompts that repeat: the weights' largest entries are then ties */
    for (size_t j = 0; j < n && j < m; j += 7)
        memcpy(s.f + j * d, s.e + j * d, d * sizeof *s.f);
    return s;
}

static void free_data(shape_data *s)
{
    free(s->pc); free(s->rc); free(s->pr); free(s->rr); free(s->e); free(s->f);
}

static sref_problem problem(const shape_data *s, int weighting, size_t m,
                           size_t n, size_t d, int paired)
{
    sref_problem p;
    memset(&p, 0, sizeof p);
    p.weighting = weighting;
    p.placement = RPO_PLACEMENT_AUTO;
    p.reduction = RPO_REDUCTION_MEAN;
    p.beta = 0.1;
    p.tau = 0.5;
    p.alpha = 0.8;
    p.m = m; p.n = n; p.d = d;
    p.pc = s->pc; p.rc = s->rc; p.pr = s->pr; p.rr = s->rr;
    p.e = s->e;
    p.f = paired ? NULL : s->f;
    return p;
}

/* Wide embeddings: D = 65536 (the reference accumulates each cosine over
 * all of it in long double). */
static void test_wide_embeddings(void **state)
{
    (void)state;
    const size_t d = scaled(65536);
    shape_data s = make_data(1, 5, 5, d);
    sref_problem p = problem(&s, RPO_WEIGHTING_EMBEDDING, 3, 5, d, 0);
    refcheck_all("D wide, 3 x 5 unpaired", &p);
    p = problem(&s, RPO_WEIGHTING_EMBEDDING, 4, 4, d, 1);
    refcheck_all("D wide, 4 x 4 paired", &p);
    p.tau = 0.01;
    p.placement = RPO_PLACEMENT_LOSS;
    refcheck_all("D wide, 4 x 4 paired, tau 0.01, loss placement", &p);
    free_data(&s);
}

/* Tall batches: M = N = 4096 in the embedding weighting (logit placement,
 * the default); the diagonal at 1024 x 1024 (256 x 256 when small: its
 * row index crosses row blocks either way); 4096 x 3 and 3 x 4096; and a shape that is no multiple of any
 * block size. */
static void test_big_batches(void **state)
{
    (void)state;
    const size_t big = scaled(4096), d = 4;
    const size_t rows = big > 257 ? big : 257;
    shape_data s = make_data(2, rows, rows, d);
    sref_problem p = problem(&s, RPO_WEIGHTING_EMBEDDING, big, big, d, 0);
    refcheck_all("M = N = big, embedding, unpaired", &p);
    const size_t diag = big >= 1024 ? big / 4 : big;
    p = problem(&s, RPO_WEIGHTING_DIAGONAL, diag, diag, d, 1);
    refcheck_all("M = N, diagonal", &p);
    p = problem(&s, RPO_WEIGHTING_UNIFORM, big, 3, d, 0);
    refcheck_all("M = big x 3, uniform", &p);
    p = problem(&s, RPO_WEIGHTING_EMBEDDING, 3, big, d, 0);
    refcheck_all("3 x N = big, embedding", &p);
    p = problem(&s, RPO_WEIGHTING_EMBEDDING, big - 1, 257, d, 0);
    p.placement = RPO_PLACEMENT_LOSS;
    refcheck_all("big - 1 x 257, embedding, loss placement", &p);
    free_data(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wide_embeddings),
        cmocka_unit_test(test_big_batches),
    };
    return cmocka_run_group_tests_name("shapes", tests, NULL, NULL);
}
