/*
 * One measurement of the fused linear log-probs, for bench/compare_linear.py
 * (make bench-linear), which runs it in a fresh process per configuration
 * beside PyTorch's and prints the ratios.
 *
 *   bench_linear run T H V THREADS REPS       float32 forward and backward
 *   bench_linear products T H V C REPS        the three products alone
 *   bench_linear peak                         the single-core FMA peak
 *
 * `run` prints one line of tab-separated fields:
 *   fwd_s      median seconds of rpo_linear_logps_f32
 *   bwd_s      median seconds of rpo_linear_logps_backward_f32 (given lse)
 *   extra_mib  peak resident memory above what the inputs and outputs
 *              hold: the library's scratch, as the OS counts it
 *   fwd_gflops 2 T H V / fwd_s: the logits product (with its softmax)
 *   bwd_gflops 3 * 2 T H V / bwd_s: the backward's three products (the
 *              logits again, dhidden, dweight, with the gradient kernel)
 * `products` runs, on one thread, the chunk products exactly as
 * lib/tokens/fused_linear_run.c does (the same kernel table, packing
 * functions, chunk shapes and order: C tokens x C words, every token
 * scored) and prints one line per stage, "name<TAB>seconds" (the best of
 * REPS passes over all chunks; each pass first makes the two calls whole,
 * so that every share compares times taken under the same load):
 *   call_fwd   rpo_linear_logps_f32 (RPO_PARAM_LINEAR_CHUNK = C)
 *   call_bwd   rpo_linear_logps_backward_f32 given its lse
 *   logits     s = hidden W^T          (forward, and again in the backward)
 *   dhidden    partial = g W           (backward)
 *   dweight    dweight += g^T hidden   (backward)
 *   pack_fwd   packing of the forward's operands (weight rows, hidden)
 *   pack_bwd   packing of the backward's (weight columns, g twice, hidden
 *              both ways)
 * and, when built with OpenBLAS (BENCH_CBLAS, one thread), the same three
 * products through cblas_sgemm on the same chunks of the plain row-major
 * arrays (no packing needed): blas_logits, blas_dhidden, blas_dweight.
 * `peak` prints GFLOP/s of independent fused multiply-adds on one core,
 * in the widest vectors the CPU runs (AVX-512 or AVX2; '-' elsewhere).
 *
 * `products` reaches into the library (lib/kernels/kernels.h,
 * lib/tokens/fused_linear.h), so this program links librpo.a: the timing
 * costs the shipped library nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "rpo.h"

#include "fused_linear.h"
#include "kernels.h"

#ifdef BENCH_CBLAS
#include <cblas.h>
#endif

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

/* ------------------------------------------------------------ products */

enum { CALL_FWD, CALL_BWD, LOGITS, DHIDDEN, DWEIGHT, PACK_FWD, PACK_BWD,
       BLAS_LOGITS, BLAS_DHIDDEN, BLAS_DWEIGHT, STAGES };
static const char *const stage_name[STAGES] = {
    "call_fwd", "call_bwd", "logits", "dhidden", "dweight", "pack_fwd", "pack_bwd",
    "blas_logits", "blas_dhidden", "blas_dweight"};

/* Elements of a packed operand, as fused_linear_run.c counts them. */
static size_t packed(size_t count, size_t depth, size_t width)
{
    return (count + width - 1) / width * width * depth;
}

static float *scratch_floats(size_t n)
{
    return filled(n, 9, 0.0f);
}

/* One pass over every chunk, adding each stage's seconds to t[]. */
static void product_pass(const rpo_kernels_of_type *k, size_t T, size_t H,
                         size_t V, size_t C, const float *hidden,
                         const float *weight, float *const *buf, float *dweight,
                         double *t)
{
    float *hidden_a = buf[0], *hidden_b = buf[1], *w_rows = buf[2], *w_cols = buf[3];
    float *s = buf[4], *g_t = buf[5], *g_a = buf[6], *partial = buf[7];
    const size_t tchunks = (T + C - 1) / C;
    double t0 = now();
    for (size_t i = 0; i < tchunks; i++) {
        const size_t tc = T - i * C < C ? T - i * C : C;
        rpo_tiles_of_rows(RPO_F32, hidden, H, NULL, i * C, tc, H, k->mr,
                          hidden_a + i * packed(C, H, k->mr));
    }
    double t1 = now();
    t[PACK_FWD] += t1 - t0;
    for (size_t i = 0; i < tchunks; i++) {
        const size_t tc = T - i * C < C ? T - i * C : C;
        rpo_tiles_of_columns(RPO_F32, hidden, H, NULL, i * C, tc, H, k->nr,
                             hidden_b + i * packed(H, C, k->nr));
    }
    t[PACK_BWD] += now() - t1;
    for (size_t v0 = 0; v0 < V; v0 += C) {
        const size_t vc = V - v0 < C ? V - v0 : C;
        t0 = now();
        rpo_tiles_of_rows(RPO_F32, weight, H, NULL, v0, vc, H, k->nr, w_rows);
        t1 = now();
        rpo_tiles_of_columns(RPO_F32, weight, H, NULL, v0, vc, H, k->nr, w_cols);
        t[PACK_FWD] += t1 - t0;
        t[PACK_BWD] += now() - t1;
        for (size_t i = 0; i < tchunks; i++) {
            const size_t t_0 = i * C, tc = T - t_0 < C ? T - t_0 : C;
            t0 = now();
            k->product(tc, vc, H, hidden_a + i * packed(C, H, k->mr), w_rows, s, C,
                       RPO_NOT_SYMMETRIC);
            t1 = now();
            t[LOGITS] += t1 - t0;
            /* s stands in for the gradient g: same shapes, finite values */
            rpo_tiles_of_columns(RPO_F32, s, C, NULL, 0, tc, vc, k->mr, g_t);
            double t2 = now();
            k->product_acc(vc, H, tc, g_t, hidden_b + i * packed(H, C, k->nr),
                           dweight + v0 * H, H, RPO_NOT_SYMMETRIC);
            double t3 = now();
            rpo_tiles_of_rows(RPO_F32, s, C, NULL, 0, tc, vc, k->mr, g_a);
            double t4 = now();
            k->product(tc, H, vc, g_a, w_cols, partial + t_0 * H, H, RPO_NOT_SYMMETRIC);
            double t5 = now();
            t[PACK_BWD] += (t2 - t1) + (t4 - t3);
            t[DWEIGHT] += t3 - t2;
            t[DHIDDEN] += t5 - t4;
        }
    }
}

#ifdef BENCH_CBLAS
/* The same chunks through cblas_sgemm on the row-major arrays. */
static void blas_pass(size_t T, size_t H, size_t V, size_t C, const float *hidden,
                      const float *weight, float *s, float *partial, float *dweight,
                      double *t)
{
    const int h = (int)H, c = (int)C;
    for (size_t v0 = 0; v0 < V; v0 += C) {
        const int vc = (int)(V - v0 < C ? V - v0 : C);
        const float *w = weight + v0 * H;
        for (size_t t_0 = 0; t_0 < T; t_0 += C) {
            const int tc = (int)(T - t_0 < C ? T - t_0 : C);
            const float *x = hidden + t_0 * H;
            double t0 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tc, vc, h, 1.0f,
                        x, h, w, h, 0.0f, s, c);
            double t1 = now();
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, vc, h, tc, 1.0f,
                        s, c, x, h, 1.0f, dweight + v0 * H, h);
            double t2 = now();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, tc, h, vc, 1.0f,
                        s, c, w, h, 0.0f, partial + t_0 * H, h);
            double t3 = now();
            t[BLAS_LOGITS] += t1 - t0;
            t[BLAS_DWEIGHT] += t2 - t1;
            t[BLAS_DHIDDEN] += t3 - t2;
        }
    }
}
#endif

static int products(size_t T, size_t H, size_t V, size_t C, int reps)
{
    const rpo_kernels_of_type *k = &rpo_kernels_best()->f32;
    const size_t tchunks = (T + C - 1) / C;
    float *hidden = filled(T * H, 1, 2.0f), *weight = filled(V * H, 2, 0.2f);
    float *dweight = filled(V * H, 7, 0.0f);
    float *buf[8] = {scratch_floats(tchunks * packed(C, H, k->mr)),
                     scratch_floats(tchunks * packed(H, C, k->nr)),
                     scratch_floats(packed(C, H, k->nr)), scratch_floats(packed(H, C, k->nr)),
                     scratch_floats(C * C), scratch_floats(packed(C, C, k->mr)),
                     scratch_floats(packed(C, C, k->mr)), scratch_floats(T * H)};
    /* the whole calls too, in the same passes, so that the shares outside
     * the products compare times taken under the same load */
    float *logps = filled(T, 4, 0.0f), *lse = filled(T, 5, 0.0f), *dlogps = filled(T, 3, 1.0f);
    float *dhidden = filled(T * H, 6, 0.0f);
    int32_t *targets = malloc(T * sizeof *targets);
    rpo_ctx *ctx = rpo_ctx_create();
    if (targets == NULL || ctx == NULL)
        return 1;
    for (size_t r = 0; r < T; r++)
        targets[r] = (int32_t)((r * 7919u) % V);
    rpo_ctx_set(ctx, RPO_PARAM_LINEAR_CHUNK, (double)C);
    double best[STAGES];
    for (int st = 0; st < STAGES; st++)
        best[st] = 1e30;
#ifdef BENCH_CBLAS
    openblas_set_num_threads(1);
    const int stages = STAGES;
#else
    const int stages = BLAS_LOGITS;
#endif
    for (int r = 0; r <= reps; r++) {  /* pass 0 warms up */
        double t[STAGES] = {0};
        const double c0 = now();
        int s1 = rpo_linear_logps_f32(ctx, T, H, V, hidden, weight, H, NULL, targets, logps,
                                      lse);
        const double c1 = now();
        int s2 = rpo_linear_logps_backward_f32(ctx, T, H, V, hidden, weight, H, NULL,
                                               targets, lse, dlogps, dhidden, dweight, NULL);
        t[CALL_FWD] = c1 - c0;
        t[CALL_BWD] = now() - c1;
        if (s1 != RPO_OK || s2 != RPO_OK) {
            fprintf(stderr, "bench_linear: %s\n", rpo_ctx_error_detail(ctx));
            return 1;
        }
        product_pass(k, T, H, V, C, hidden, weight, buf, dweight, t);
#ifdef BENCH_CBLAS
        blas_pass(T, H, V, C, hidden, weight, buf[4], buf[7], dweight, t);
#endif
        for (int st = 0; r > 0 && st < stages; st++)
            best[st] = t[st] < best[st] ? t[st] : best[st];
    }
    for (int st = 0; st < stages; st++)
        printf("%s\t%.4f\n", stage_name[st], best[st]);
    for (int b = 0; b < 8; b++)
        free(buf[b]);
    free(hidden), free(weight), free(dweight);
    free(logps), free(lse), free(dlogps), free(dhidden), free(targets);
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
    if (argc == 7 && strcmp(argv[1], "products") == 0)
        return products(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
                        strtoul(argv[4], NULL, 10), strtoul(argv[5], NULL, 10),
                        atoi(argv[6]));
    if (argc == 7 && strcmp(argv[1], "run") == 0)
        return run(strtoul(argv[2], NULL, 10), strtoul(argv[3], NULL, 10),
                   strtoul(argv[4], NULL, 10), atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: bench_linear run T H V THREADS REPS | products T H V C REPS | peak\n");
    return 2;
}
