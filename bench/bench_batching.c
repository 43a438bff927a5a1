/*
 * Timing and quality of rpo_related_batches_f32 (docs/extensions.md).
 *
 *   bench_batching [P [D [B [threads [clusters]]]]]   default 100000 384 32 1 P/64
 *
 * The data is clustered: `clusters` random unit centres in D dimensions,
 * each prompt a centre plus Gaussian noise of the same total length, so
 * two prompts of one cluster have cosine about 0.5 and of two clusters
 * about 0. Prints the best wall time of 3 runs, and the mean within-batch
 * cosine similarity of the related batches against consecutive runs of a
 * uniformly random permutation (what a shuffling DataLoader serves).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rpo.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static uint64_t next_u64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double uniform01(void)
{
    return ((double)(next_u64() >> 11) + 0.5) / 9007199254740992.0;
}

static double gaussian(void)
{
    return sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01());
}

static double seconds_now(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void unit_gaussian(float *x, size_t d)
{
    double norm = 0.0;
    for (size_t k = 0; k < d; k++) {
        x[k] = (float)gaussian();
        norm += (double)x[k] * (double)x[k];
    }
    for (size_t k = 0; k < d; k++)
        x[k] = (float)((double)x[k] / sqrt(norm));
}

/* The mean over batches of the mean cosine of a batch's distinct pairs:
 * for unit rows, sum_{i != j} x_i . x_j = |sum_i x_i|^2 - |S|. */
static double within_batch_cosine(const float *x, size_t p, size_t d,
                                  size_t b, const size_t *order, double *sum)
{
    double total = 0.0;
    size_t batches = 0;
    for (size_t s = 0; s + 1 < p; s += b) {
        const size_t size = s + b <= p ? b : p - s;
        if (size < 2)
            break;
        for (size_t k = 0; k < d; k++)
            sum[k] = 0.0;
        double self = 0.0;
        for (size_t r = 0; r < size; r++) {
            const float *row = x + order[s + r] * d;
            double norm = 0.0;
            for (size_t k = 0; k < d; k++)
                norm += (double)row[k] * (double)row[k];
            for (size_t k = 0; k < d; k++)
                sum[k] += (double)row[k] / sqrt(norm);
            self += 1.0;
        }
        double sq = 0.0;
        for (size_t k = 0; k < d; k++)
            sq += sum[k] * sum[k];
        total += (sq - self) / (self * (self - 1.0));
        batches++;
    }
    return total / (double)batches;
}

int main(int argc, char **argv)
{
    const size_t p = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 100000;
    const size_t d = argc > 2 ? (size_t)strtoul(argv[2], NULL, 10) : 384;
    const size_t b = argc > 3 ? (size_t)strtoul(argv[3], NULL, 10) : 32;
    const double threads = argc > 4 ? strtod(argv[4], NULL) : 1.0;
    size_t clusters = argc > 5 ? (size_t)strtoul(argv[5], NULL, 10) : p / 64;
    if (clusters == 0)
        clusters = 1;

    float *x = malloc(p * d * sizeof *x);
    float *centres = malloc(clusters * d * sizeof *centres);
    float *noise = malloc(d * sizeof *noise);
    size_t *order = malloc(p * sizeof *order);
    size_t *shuffled = malloc(p * sizeof *shuffled);
    double *sum = malloc(d * sizeof *sum);
    rpo_ctx *ctx = rpo_ctx_create();
    if (!x || !centres || !noise || !order || !shuffled || !sum || !ctx) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (size_t c = 0; c < clusters; c++)
        unit_gaussian(centres + c * d, d);
    for (size_t i = 0; i < p; i++) {
        const float *centre = centres + (next_u64() % clusters) * d;
        unit_gaussian(noise, d);
        for (size_t k = 0; k < d; k++)
            x[i * d + k] = centre[k] + noise[k];
    }
    for (size_t i = 0; i < p; i++)
        shuffled[i] = i;
    for (size_t i = p - 1; i > 0; i--) {
        const size_t j = (size_t)(next_u64() % (i + 1));
        const size_t t = shuffled[i];
        shuffled[i] = shuffled[j];
        shuffled[j] = t;
    }

    if (rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads) != RPO_OK) {
        fprintf(stderr, "bad thread count\n");
        return 1;
    }
    double best = HUGE_VAL, best_cpu = HUGE_VAL;
    for (int run = 0; run < 3; run++) {
        const double t0 = seconds_now(CLOCK_MONOTONIC);
        const double c0 = seconds_now(CLOCK_PROCESS_CPUTIME_ID);
        const int status = rpo_related_batches_f32(ctx, p, d, x, b, 1, order);
        const double t = seconds_now(CLOCK_MONOTONIC) - t0;
        const double c = seconds_now(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (status != RPO_OK) {
            fprintf(stderr, "rpo_related_batches_f32: %s (%s)\n",
                    rpo_status_string(status), rpo_ctx_error_detail(ctx));
            return 1;
        }
        best = t < best ? t : best;
        best_cpu = c < best_cpu ? c : best_cpu;
    }
    printf("related batches  P = %zu  D = %zu  B = %zu  threads = %g  "
           "clusters = %zu\n", p, d, b, threads, clusters);
    printf("  wall time (best of 3)          %8.3f s\n", best);
    printf("  CPU time, all threads (best)   %8.3f s\n", best_cpu);
    printf("  mean within-batch cosine\n");
    printf("    related batches              %8.4f\n",
           within_batch_cosine(x, p, d, b, order, sum));
    printf("    random batches               %8.4f\n",
           within_batch_cosine(x, p, d, b, shuffled, sum));
    rpo_ctx_free(ctx);
    free(sum);
    free(shuffled);
    free(order);
    free(noise);
    free(centres);
    free(x);
    return 0;
}
