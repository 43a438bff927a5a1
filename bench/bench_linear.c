/*
 * One measurement of the fused linear log-probs, for bench/compare_linear.py
 * (make bench-linear), which runs it in a fresh process per configuration
 * beside PyTorch's and prints the ratios.
 *
 *   bench_linear run T H V THREADS REPS   float32 forward and backward
 *   bench_linear peak                     the single-core FMA peak
 *
 * `run` prints one line of tab-separated fields:
 *   fwd_s      median seconds of rpo_linear_logps_f32
 *   bwd_s      median seconds of rpo_linear_logps_backward_f32 (given lse)
 *   extra_mib  peak resident memory above what the inputs and outputs
 *              hold: the library's scratch, as the OS counts it
 *   fwd_gflops 2 T H V / fwd_s: the logits product (with its softmax)
 *   bwd_gflops 3 * 2 T H V / bwd_s: the backward's three products (the
 *              logits again, dhidden, dweight, with the gradient kernel)
 * `peak` prints GFLOP/s of independent fused multiply-adds on one core,
 * in the widest vectors the CPU runs (AVX-512 or AVX2; '-' elsewhere).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rpo.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long max_rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int compare_doubles(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, compare_doubles);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* Pages touched, so that their memory counts before the baseline. */
static float *filled(size_t n, unsigned seed, float scale)
{
    float *x = malloc(n * sizeof *x);
    if (x == NULL) {
        fprintf(stderr, "bench_linear: out of memory\n");
        exit(1);
    }
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t k = 0; k < n; k++) {
        s = s * 1664525u + 1013904223u;
        x[k] = scale * ((float)(s >> 8) * 0x1p-24f - 0.5f);
    }
    return x;
}

static int run(size_t t, size_t h, size_t v, int threads, int reps)
{
    float *hidden = filled(t * h, 1, 2.0f), *weight = filled(v * h, 2, 0.2f);
    float *dlogps = filled(t, 3, 1.0f), *logps = filled(t, 4, 0.0f), *lse = filled(t, 5, 0.0f);
    float *dhidden = filled(t * h, 6, 0.0f), *dweight = filled(v * h, 7, 0.0f);
    int32_t *targets = malloc(t * sizeof *targets);
    rpo_ctx *ctx = rpo_ctx_create();
    if (targets == NULL || ctx == NULL)
        return 1;
    for (size_t k = 0; k < t; k++)
        targets[k] = (int32_t)((k * 7919u) % v);
    rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads);
    const long base = max_rss_kib();

    double fwd[64], bwd[64];
    if (reps > 64)
        reps = 64;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        int s1 = rpo_linear_logps_f32(ctx, t, h, v, hidden, weight, h, NULL, targets,
                                      logps, lse);
        double t1 = now();
        int s2 = rpo_linear_logps_backward_f32(ctx, t, h, v, hidden, weight, h, NULL,
                                               targets, lse, dlogps, dhidden, dweight,
                                               NULL);
        double t2 = now();
        if (s1 != RPO_OK || s2 != RPO_OK) {
            fprintf(stderr, "bench_linear: %s\n", rpo_ctx_error_detail(ctx));
            return 1;
        }
        fwd[r] = t1 - t0;
        bwd[r] = t2 - t1;
    }
    const double extra = (double)(max_rss_kib() - base) / 1024.0;
    const double f = median(fwd, reps), b = median(bwd, reps);
    const double flops = 2.0 * (double)t * (double)h * (double)v;
    printf("%.4f\t%.4f\t%.1f\t%.1f\t%.1f\n", f, b, extra, flops / f * 1e-9,
           3.0 * flops / b * 1e-9);
    rpo_ctx_free(ctx);
    return 0;
}

/* Twelve independent accumulators in registers: enough to keep two FMA
 * units busy through a four-cycle latency. */
#if defined(__x86_64__)
#include <immintrin.h>
#define FMA12(VEC, SET1, FMADD, FIRST)                                        \
    const VEC a = SET1(1.0000001f), b = SET1(1e-8f);                          \
    VEC c0 = SET1(0.f), c1 = SET1(1.f), c2 = SET1(2.f), c3 = SET1(3.f);       \
    VEC c4 = SET1(4.f), c5 = SET1(5.f), c6 = SET1(6.f), c7 = SET1(7.f);       \
    VEC c8 = SET1(8.f), c9 = SET1(9.f), c10 = SET1(10.f), c11 = SET1(11.f);   \
    const double t0 = now();                                                  \
    for (long n = 0; n < iters; n++) {                                        \
        c0 = FMADD(c0, a, b); c1 = FMADD(c1, a, b); c2 = FMADD(c2, a, b);     \
        c3 = FMADD(c3, a, b); c4 = FMADD(c4, a, b); c5 = FMADD(c5, a, b);     \
        c6 = FMADD(c6, a, b); c7 = FMADD(c7, a, b); c8 = FMADD(c8, a, b);     \
        c9 = FMADD(c9, a, b); c10 = FMADD(c10, a, b); c11 = FMADD(c11, a, b); \
    }                                                                         \
    const double dt = now() - t0;                                             \
    const float sink = FIRST(c0) + FIRST(c1) + FIRST(c2) + FIRST(c3) +        \
                       FIRST(c4) + FIRST(c5) + FIRST(c6) + FIRST(c7) +        \
                       FIRST(c8) + FIRST(c9) + FIRST(c10) + FIRST(c11);       \
    if (sink == 12345.0f)                                                     \
        printf("?");                                                          \
    return 2.0 * (double)(sizeof(VEC) / 4) * 12.0 * (double)iters / dt * 1e-9;

__attribute__((target("avx512f,fma"))) static double fma_avx512(long iters)
{
    FMA12(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_cvtss_f32)
}

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters)
{
    FMA12(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_cvtss_f32)
}
#endif

static int peak(void)
{
    double best = 0.0;
    const char *isa = "";
    for (int r = 0; r < 5; r++) {
        double g;
#if defined(__x86_64__)
        if (__builtin_cpu_supports("avx512f"))
            g = fma_avx512(20000000), isa = "avx512";
        else if (__builtin_cpu_supports("avx2"))
            g = fma_avx2(20000000), isa = "avx2";
        else
#endif
        {
            printf("-\tno FMA vectors\n");
            return 0;
        }
        best = g > best ? g : best;
    }
    printf("%.1f\t%s\n", best, isa);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "peak") == 0)
        return peak();
    if (argc == 7 && strcmp(argv[1], "run") == 0)
        return run(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
                   strtoul(argv[4], NULL, 10), atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: bench_linear run T H V THREADS REPS | peak\n");
    return 2;
}
