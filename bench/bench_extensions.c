/*
 * bench_extensions: time of the extensions (docs/extensions.md) beside the
 * reference loss, in float64, on one M x N problem with D-wide prompts:
 * the loss family's generic kernel, the embedding gradients, Sinkhorn
 * weights and a row block.
 *
 *   make bench-extensions                  M = N = 512, D = 256
 *   build/bench/bench_extensions M N D [T] other sizes, T threads
 *
 * Prints the best of seven runs of each call. A measurement, not a test:
 * nothing here passes or fails.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rpo.h"

enum { RUNS = 7 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double uniform(uint64_t *s, double lo, double hi)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return lo + (hi - lo) * (double)((z ^ (z >> 31)) >> 11) * 0x1p-53;
}

typedef struct problem {
    size_t m, n, d;
    double *pc, *rc, *pr, *rr, *e, *f;
    double *gc, *gr, *ge, *gf, stats[RPO_PARTIAL_COUNT];
} problem;

typedef enum path {
    REFERENCE, DISCOPOP, IPO_ROW_MEAN, EMBED_GRAD, SINKHORN, ROW_BLOCK, PATHS
} path;

static const char *const names[PATHS] = {
    "sigmoid, embedding (reference)", "discopop (family kernel)",
    "ipo, row-mean logit scale", "sigmoid + embedding gradients",
    "sinkhorn weights, sigmoid", "row block: half the rows"};

static int run(rpo_ctx *ctx, problem *p, path which)
{
    double loss;
    switch (which) {
    case EMBED_GRAD:
        return rpo_loss_embed_grad_f64(ctx, p->m, p->pc, p->rc, p->n, p->pr, p->rr, p->d,
                                       p->e, p->f, &loss, p->gc, p->gr, p->ge, p->gf);
    case ROW_BLOCK:
        return rpo_loss_rows_f64(ctx, p->m, p->m / 2, p->m - p->m / 2, p->pc + p->m / 2,
                                 p->rc + p->m / 2, p->n, p->pr, p->rr, p->d,
                                 p->e + p->m / 2 * p->d, p->f, p->gc, NULL, p->stats,
                                 p->gr, NULL);
    default:
        return rpo_loss_f64(ctx, p->m, p->pc, p->rc, p->n, p->pr, p->rr, p->d, p->e,
                            p->f, &loss, p->gc, p->gr);
    }
}

static void configure(rpo_ctx *ctx, path which)
{
    rpo_ctx_set(ctx, RPO_PARAM_LOSS, which == DISCOPOP ? RPO_LOSS_DISCOPOP
                                     : which == IPO_ROW_MEAN ? RPO_LOSS_IPO
                                                             : RPO_LOSS_SIGMOID);
    rpo_ctx_set(ctx, RPO_PARAM_LOGIT_SCALE, which == IPO_ROW_MEAN ? RPO_LOGIT_SCALE_ROW_MEAN
                                                                  : RPO_LOGIT_SCALE_ROW_SUM);
    rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, which == SINKHORN ? RPO_WEIGHTING_SINKHORN
                                                            : RPO_WEIGHTING_EMBEDDING);
}

static double *array(size_t count, uint64_t *seed, double lo, double hi)
{
    double *x = malloc((count ? count : 1) * sizeof *x);
    if (x == NULL) {
        fprintf(stderr, "bench_extensions: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < count; k++)
        x[k] = uniform(seed, lo, hi);
    return x;
}

int main(int argc, char **argv)
{
    problem p;
    p.m = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 512;
    p.n = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 512;
    p.d = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 256;
    const double threads = argc > 4 ? strtod(argv[4], NULL) : 1.0;
    uint64_t seed = 1;
    p.rc = array(p.m, &seed, -40, -10);
    p.pc = array(p.m, &seed, -43, -7);
    p.rr = array(p.n, &seed, -40, -10);
    p.pr = array(p.n, &seed, -43, -7);
    p.e = array(p.m * p.d, &seed, -1, 1);
    p.f = array(p.n * p.d, &seed, -1, 1);
    p.gc = array(p.m, &seed, 0, 0);
    p.gr = array(p.n, &seed, 0, 0);
    p.ge = array(p.m * p.d, &seed, 0, 0);
    p.gf = array(p.n * p.d, &seed, 0, 0);

    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL)
        return 1;
    if (rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads) != RPO_OK) {
        fprintf(stderr, "bench_extensions: threads must be an integer in [1, 256]\n");
        return 1;
    }
    printf("librpo %s, float64, M = %zu, N = %zu, D = %zu, %.0f thread(s), best of %d\n",
           rpo_version_string(), p.m, p.n, p.d, threads, RUNS);
    for (int which = 0; which < PATHS; which++) {
        configure(ctx, (path)which);
        double best = 1e300;
        for (int r = 0; r < RUNS; r++) {
            const double t0 = now();
            const int status = run(ctx, &p, (path)which);
            const double t = now() - t0;
            if (status != RPO_OK) {
                fprintf(stderr, "%s: %s\n", names[which], rpo_status_string(status));
                return 1;
            }
            best = t < best ? t : best;
        }
        printf("%-34s %9.2f ms", names[which], 1e3 * best);
        if (which == SINKHORN) {
            double iterations;
            rpo_ctx_stat(ctx, RPO_STAT_SINKHORN_ITERATIONS, &iterations);
            printf("  (%.0f iterations)", iterations);
        }
        printf("\n");
    }
    rpo_ctx_free(ctx);
    free(p.pc); free(p.rc); free(p.pr); free(p.rr); free(p.e); free(p.f);
    free(p.gc); free(p.gr); free(p.ge); free(p.gf);
    return 0;
}
