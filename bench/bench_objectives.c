/*
 * bench_objectives: the cost of an objective (rpo_objective_f32, docs/
 * objectives.md) over the plain call (rpo_loss_f32) on the same float32
 * EMBEDDING-weighted problem: loss and both gradients, with lengths,
 * sample weights and the two-term list {SIGMOID, SFT}, as trainers call it.
 * The two calls alternate, each run's time is taken, and the best of each
 * gives the ratio (issue 13's target: at most 1.15).
 *
 *   make bench-objectives                       M = N = 4096, D = 256
 *   build/bench/bench_objectives M N D [T]       other sizes, T threads
 *
 * A measurement, not a test: nothing here passes or fails.
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

static float *array(size_t count, uint64_t *s, double lo, double hi)
{
    float *x = malloc((count ? count : 1) * sizeof *x);
    if (x == NULL) {
        fprintf(stderr, "bench_objectives: out of memory\n");
        exit(1);
    }
    for (size_t k = 0; k < count; k++) {
        uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        x[k] = (float)(lo + (hi - lo) * (double)((z ^ (z >> 31)) >> 11) * 0x1p-53);
    }
    return x;
}

int main(int argc, char **argv)
{
    const size_t m = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 4096;
    const size_t n = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 4096;
    const size_t d = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 256;
    const double threads = argc > 4 ? strtod(argv[4], NULL) : 1.0;
    uint64_t seed = 1;
    float *rc = array(m, &seed, -40, -10), *pc = array(m, &seed, -43, -7);
    float *rr = array(n, &seed, -40, -10), *pr = array(n, &seed, -43, -7);
    float *lc = array(m, &seed, 5, 200), *lr = array(n, &seed, 5, 200);
    float *wc = array(m, &seed, 0.5, 1.5), *wr = array(n, &seed, 0.5, 1.5);
    float *e = array(m * d, &seed, -1, 1), *f = array(n * d, &seed, -1, 1);
    float *gc = array(m, &seed, 0, 0), *gr = array(n, &seed, 0, 0);
    float *rows = array(m, &seed, 0, 0);
    float loss;

    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL || rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads) != RPO_OK) {
        fprintf(stderr, "bench_objectives: no context, or threads not in [1, 256]\n");
        return 1;
    }
    const int list[2] = {RPO_LOSS_SIGMOID, RPO_LOSS_SFT};
    const double weights[2] = {1.0, 0.5};
    rpo_batch_f32 batch = {sizeof batch, m, n, d, pc, rc, pr, rr, e, f, NULL,
                           lc, lr, wc, wr, 2, list, weights, 0, NULL, NULL, NULL, NULL, NULL};
    rpo_results_f32 results = {sizeof results, &loss, gc, gr, NULL, NULL, rows,
                               NULL, NULL, NULL};

    printf("librpo %s, float32 EMBEDDING, M = %zu, N = %zu, D = %zu, %.0f thread(s), "
           "best of %d\n", rpo_version_string(), m, n, d, threads, RUNS);
    double best_plain = 1e300, best_objective = 1e300;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        int status = rpo_loss_f32(ctx, m, pc, rc, n, pr, rr, d, e, f, &loss, gc, gr);
        const double plain = now() - t0;
        t0 = now();
        if (status == RPO_OK)
            status = rpo_objective_f32(ctx, &batch, &results);
        const double objective = now() - t0;
        if (status != RPO_OK) {
            fprintf(stderr, "%s (%s)\n", rpo_status_string(status), rpo_ctx_error_detail(ctx));
            return 1;
        }
        best_plain = plain < best_plain ? plain : best_plain;
        best_objective = objective < best_objective ? objective : best_objective;
    }
    printf("plain rpo_loss_f32                          %9.2f ms\n", 1e3 * best_plain);
    printf("objective: sigmoid + 0.5 sft, lengths, wc wr %9.2f ms\n", 1e3 * best_objective);
    printf("ratio objective / plain                     %9.3f\n", best_objective / best_plain);
    rpo_ctx_free(ctx);
    return 0;
}
