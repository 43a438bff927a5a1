/*
 * rpo_bench: how fast librpo computes the loss, its gradients and the
 * weights, and how much memory it takes doing so.
 *
 *   rpo_bench [--quick] [--threads T] [--min-time S] [--tsv] [--blas]
 *             [--target-contrasts K]
 *   rpo_bench --one OP PAIRING TYPE WEIGHTING M D [--dump DIR] [...]
 *
 * Each configuration (OP: loss = loss and both gradients, weights = the
 * weight matrix alone; PAIRING: paired or unpaired; TYPE: f32 or f64;
 * WEIGHTING: uniform, diagonal or embedding; M = N rows; D the embedding
 * width) runs in its own child process, which reports:
 *   median     median wall time of one call over the repetitions
 *   spread     (75th - 25th percentile) / median
 *   cpu ms     median CPU time of one call, all threads together: on a
 *              busy machine a wall time well above it (one thread) shows
 *              the run waited for a core
 *   Mpairs/s   M * N / median, in millions
 *   sim GF/s   2 M N D / median time of the similarity stage alone
 *              (rpo_similarity_*, exactly as rpo_weights_* runs it; the
 *              symmetric product of paired embeddings does half of those
 *              flops, so for them the rate is an effective one)
 *   peak MiB   peak resident memory of the child during the timed calls
 *              minus its resident memory just before them (inputs and
 *              outputs already allocated and touched, the library's code
 *              already loaded by a tiny call on another context): the
 *              library's scratch, thread stacks and allocator overhead,
 *              everything the calls added (getrusage's ru_maxrss)
 *   blas x     with --blas in a bench built against a CBLAS: the stage's
 *              time over cblas_?syrk (paired) or cblas_?gemm (unpaired)
 *              alone on the same normalised rows, with the BLAS's own
 *              threads (OPENBLAS_NUM_THREADS); the two are timed
 *              alternately and their medians divided
 * Every call runs once untimed first (the context's scratch grows there),
 * then at least 3 times and until --min-time seconds have passed.
 *
 * --one runs a single configuration; --dump DIR also writes its inputs as
 * raw little-endian arrays (pc, rc, pr, rr, e, and f when unpaired) for
 * bench/compare_torch.py, which feeds the same numbers to PyTorch.
 *
 * Timing belongs here and never in a test (see tests/).
 */
#define RPO_STATIC_LINKING_ONLY
#define _GNU_SOURCE /* for the CPU model; the program is Linux-only */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpo.h"

#ifdef BENCH_CBLAS
#include <cblas.h>
#endif

enum op { OP_LOSS, OP_WEIGHTS };
static const char *const op_names[] = {"loss", "weights"};
static const char *const weighting_names[] = {"uniform", "diagonal", "embedding"};

typedef struct config {
    enum op op;
    int paired;
    int f64;
    int weighting;      /* RPO_WEIGHTING_* */
    size_t m, d;        /* n == m */
} config;

typedef struct options {
    int quick, tsv, blas;
    unsigned threads;
    double min_time;
    const char *dump;
    double target_contrasts;  /* RPO_PARAM_TARGET_CONTRASTS: what solving
                                 each embedding row's temperature costs */
} options;

/* ------------------------------------------------------------ inputs */

typedef struct rng { unsigned long long s; } rng;

static double uniform(rng *r, double lo, double hi)
{
    unsigned long long z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (double)(z >> 11) * 0x1p-53;
}

/* A batch in float32-exact doubles: log-probs of long responses, and
 * embeddings around a few topics so the weights are far from uniform. */
typedef struct batch {
    size_t m, n, d;
    double *pc, *rc, *pr, *rr, *e, *f;
    float *pc32, *rc32, *pr32, *rr32, *e32, *f32;
} batch;

/* Touched (with a byte pattern: zeroing after malloc may be turned into
 * calloc, which hands out untouched pages that would then count as the
 * library's memory when first written). */
static void *alloc(size_t count, size_t size)
{
    void *p = malloc((count ? count : 1) * size);
    if (p == NULL) {
        fprintf(stderr, "rpo_bench: out of memory\n");
        exit(1);
    }
    memset(p, 0x3f, (count ? count : 1) * size);
    return p;
}

static void fill(rng *r, double *x, float *x32, size_t count, double lo, double hi)
{
    for (size_t k = 0; k < count; k++)
        x32[k] = (float)uniform(r, lo, hi), x[k] = (double)x32[k];
}

static batch make_batch(const config *c)
{
    batch b;
    rng r = {12345 + c->m * 7 + c->d};
    b.m = b.n = c->m;
    b.d = c->d;
    b.pc = alloc(b.m, sizeof(double)); b.pc32 = alloc(b.m, sizeof(float));
    b.rc = alloc(b.m, sizeof(double)); b.rc32 = alloc(b.m, sizeof(float));
    b.pr = alloc(b.n, sizeof(double)); b.pr32 = alloc(b.n, sizeof(float));
    b.rr = alloc(b.n, sizeof(double)); b.rr32 = alloc(b.n, sizeof(float));
    fill(&r, b.pc, b.pc32, b.m, -120.0, -20.0);
    fill(&r, b.rc, b.rc32, b.m, -120.0, -20.0);
    fill(&r, b.pr, b.pr32, b.n, -120.0, -20.0);
    fill(&r, b.rr, b.rr32, b.n, -120.0, -20.0);
    b.e = alloc(b.m * b.d, sizeof(double)); b.e32 = alloc(b.m * b.d, sizeof(float));
    fill(&r, b.e, b.e32, b.m * b.d, -1.0, 1.0);
    for (size_t i = 0; i < b.m; i++)  /* topic i % 8 shifts 8 coordinates */
        for (size_t k = 8 * (i % 8); k < 8 * (i % 8) + 8 && k < b.d; k++)
            b.e32[i * b.d + k] += 2.0f, b.e[i * b.d + k] = (double)b.e32[i * b.d + k];
    if (c->paired) {
        b.f = b.e;
        b.f32 = b.e32;
    } else {
        b.f = alloc(b.n * b.d, sizeof(double)); b.f32 = alloc(b.n * b.d, sizeof(float));
        fill(&r, b.f, b.f32, b.n * b.d, -1.0, 1.0);
    }
    return b;
}

static void dump_array(const char *dir, const char *name, const void *x, size_t bytes)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (fp == NULL || fwrite(x, 1, bytes, fp) != bytes) {
        fprintf(stderr, "rpo_bench: cannot write %s\n", path);
        exit(1);
    }
    fclose(fp);
}

static void dump_batch(const char *dir, const config *c, const batch *b)
{
    const size_t s = c->f64 ? sizeof(double) : sizeof(float);
    dump_array(dir, "pc", c->f64 ? (const void *)b->pc : (const void *)b->pc32, b->m * s);
    dump_array(dir, "rc", c->f64 ? (const void *)b->rc : (const void *)b->rc32, b->m * s);
    dump_array(dir, "pr", c->f64 ? (const void *)b->pr : (const void *)b->pr32, b->n * s);
    dump_array(dir, "rr", c->f64 ? (const void *)b->rr : (const void *)b->rr32, b->n * s);
    dump_array(dir, "e", c->f64 ? (const void *)b->e : (const void *)b->e32, b->m * b->d * s);
    if (!c->paired)
        dump_array(dir, "f", c->f64 ? (const void *)b->f : (const void *)b->f32, b->n * b->d * s);
}

/* ------------------------------------------------------------ timing */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* CPU time of the whole process (all its threads). */
static double cpu_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Outputs of the calls, allocated once. */
typedef struct outputs {
    double loss, *gc, *gr, *w;
    float loss32, *gc32, *gr32, *w32;
} outputs;

static int call_once(rpo_ctx *ctx, const config *c, const batch *b, outputs *o,
                     int similarity)
{
    const size_t m = b->m, n = b->n, d = b->d;
    const double *f = c->paired ? NULL : b->f;
    const float *f32 = c->paired ? NULL : b->f32;
    if (similarity)
        return c->f64 ? rpo_similarity_f64(ctx, m, n, d, b->e, f, o->w)
                      : rpo_similarity_f32(ctx, m, n, d, b->e32, f32, o->w32);
    if (c->op == OP_WEIGHTS)
        return c->f64 ? rpo_weights_f64(ctx, m, n, d, b->e, f, o->w)
                      : rpo_weights_f32(ctx, m, n, d, b->e32, f32, o->w32);
    return c->f64 ? rpo_loss_f64(ctx, m, b->pc, b->rc, n, b->pr, b->rr, d, b->e, f,
                                 &o->loss, o->gc, o->gr)
                  : rpo_loss_f32(ctx, m, b->pc32, b->rc32, n, b->pr32, b->rr32, d,
                                 b->e32, f32, &o->loss32, o->gc32, o->gr32);
}

static int by_value(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

typedef struct timing {
    double median, p25, p75;
    double cpu_median;  /* CPU time per call (all threads) */
    int reps;
} timing;

#define MAX_REPS 4000

static timing time_calls(rpo_ctx *ctx, const config *c, const batch *b,
                         outputs *o, int similarity, double min_time)
{
    static double t[MAX_REPS], cpu[MAX_REPS];
    timing r;
    int reps = 0;
    double start = now();
    if (call_once(ctx, c, b, o, similarity) != RPO_OK) {  /* untimed warm-up */
        fprintf(stderr, "rpo_bench: the call failed\n");
        exit(1);
    }
    while (reps < MAX_REPS && (reps < 3 || now() - start < min_time)) {
        double t0 = now(), c0 = cpu_now();
        (void)call_once(ctx, c, b, o, similarity);
        cpu[reps] = cpu_now() - c0;
        t[reps++] = now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], by_value);
    qsort(cpu, (size_t)reps, sizeof cpu[0], by_value);
    r.cpu_median = cpu[reps / 2];
    r.reps = reps;
    r.median = t[reps / 2];
    r.p25 = t[reps / 4];
    r.p75 = t[(3 * reps) / 4];
    return r;
}

#ifdef BENCH_CBLAS
/* The similarity stage against cblas_?syrk (paired) / ?gemm (unpaired)
 * alone on the same normalised rows, the product the stage computes. The
 * two are timed alternately, call after call, so that a neighbour slowing
 * the machine down slows both alike; returns the median stage time over
 * the median BLAS time. */
typedef struct blas_rows {
    double *e, *f;
    float *e32, *f32;
} blas_rows;

static blas_rows normalised_rows(const batch *b)
{
    blas_rows r;
    r.e = alloc(b->m * b->d, sizeof *r.e);
    r.f = alloc(b->n * b->d, sizeof *r.f);
    r.e32 = alloc(b->m * b->d, sizeof *r.e32);
    r.f32 = alloc(b->n * b->d, sizeof *r.f32);
    for (size_t i = 0; i < b->m + b->n; i++) {
        const double *x = i < b->m ? b->e + i * b->d : b->f + (i - b->m) * b->d;
        double *y = i < b->m ? r.e + i * b->d : r.f + (i - b->m) * b->d;
        float *y32 = i < b->m ? r.e32 + i * b->d : r.f32 + (i - b->m) * b->d;
        double ss = 0;
        for (size_t k = 0; k < b->d; k++)
            ss += x[k] * x[k];
        for (size_t k = 0; k < b->d; k++)
            y[k] = x[k] / fmax(sqrt(ss), 1e-12), y32[k] = (float)y[k];
    }
    return r;
}

static void blas_once(const config *c, const batch *b, const blas_rows *r, outputs *o)
{
    const int m = (int)b->m, n = (int)b->n, d = (int)b->d;
    if (c->f64 && c->paired)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, d, 1.0, r->e, d, 0.0, o->w, n);
    else if (c->f64)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, d, 1.0, r->e, d, r->f, d,
                    0.0, o->w, n);
    else if (c->paired)
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, m, d, 1.0f, r->e32, d, 0.0f,
                    o->w32, n);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, d, 1.0f, r->e32, d,
                    r->f32, d, 0.0f, o->w32, n);
}

static double stage_over_blas(rpo_ctx *ctx, const config *c, const batch *b, outputs *o,
                              double min_time)
{
    static double ts[MAX_REPS], tb[MAX_REPS];
    blas_rows r = normalised_rows(b);
    (void)call_once(ctx, c, b, o, 1);  /* untimed warm-ups */
    blas_once(c, b, &r, o);
    int reps = 0;
    const double start = now();
    while (reps < MAX_REPS && (reps < 5 || now() - start < 2.0 * min_time)) {
        double t0 = now();
        (void)call_once(ctx, c, b, o, 1);
        ts[reps] = now() - t0;
        t0 = now();
        blas_once(c, b, &r, o);
        tb[reps++] = now() - t0;
    }
    qsort(ts, (size_t)reps, sizeof ts[0], by_value);
    qsort(tb, (size_t)reps, sizeof tb[0], by_value);
    free(r.e); free(r.f); free(r.e32); free(r.f32);
    return ts[reps / 2] / tb[reps / 2];
}
#endif

/* ------------------------------------------------------ one config */

static long resident_kib(void)
{
    long pages = 0, resident = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(fp);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static void configure(rpo_ctx *ctx, const config *c, const options *opt)
{
    if (rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, c->weighting) != RPO_OK ||
        rpo_ctx_set(ctx, RPO_PARAM_THREADS, opt->threads) != RPO_OK ||
        rpo_ctx_set(ctx, RPO_PARAM_TARGET_CONTRASTS, opt->target_contrasts) != RPO_OK) {
        fprintf(stderr, "rpo_bench: bad setting\n");
        exit(1);
    }
}

/* Runs in the child: times the configuration, prints one row. */
static void run_config(const config *c, const options *opt)
{
    batch b = make_batch(c);
    if (opt->dump != NULL)
        dump_batch(opt->dump, c, &b);
    outputs o;
    memset(&o, 0, sizeof o);
    const size_t mn = b.m * b.n;
    if (c->f64) {
        o.gc = alloc(b.m, sizeof(double)); o.gr = alloc(b.n, sizeof(double));
        o.w = alloc(mn, sizeof(double));
    } else {
        o.gc32 = alloc(b.m, sizeof(float)); o.gr32 = alloc(b.n, sizeof(float));
        o.w32 = alloc(mn, sizeof(float));
    }
    /* load and touch everything the calls use before the baseline */
    rpo_ctx *warm = rpo_ctx_create(), *ctx = rpo_ctx_create();
    if (warm == NULL || ctx == NULL)
        exit(1);
    configure(warm, c, opt);
    configure(ctx, c, opt);
    config tiny = *c;
    tiny.m = 4;
    tiny.d = 4;
    batch tb = make_batch(&tiny);
    (void)call_once(warm, &tiny, &tb, &o, 0);
    rpo_ctx_free(warm);

    const long base_kib = resident_kib();
    timing t = time_calls(ctx, c, &b, &o, 0, opt->min_time);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double peak_mib = (double)(ru.ru_maxrss - base_kib) / 1024.0;

    double sim_gflops = 0.0, blas_ratio = 0.0;
    if (c->weighting == RPO_WEIGHTING_EMBEDDING) {
        timing s = time_calls(ctx, c, &b, &o, 1, opt->min_time);
        sim_gflops = 2.0 * (double)mn * (double)b.d / s.median * 1e-9;
#ifdef BENCH_CBLAS
        if (opt->blas)
            blas_ratio = stage_over_blas(ctx, c, &b, &o, opt->min_time);
#endif
    }
    const double value = c->op == OP_WEIGHTS ? 0.0 : c->f64 ? o.loss : (double)o.loss32;
    if (opt->tsv) {
        printf("%s\t%s\t%s\t%s\t%zu\t%zu\t%u\t%.9g\t%.9g\t%.9g\t%.9g\t%d\t%.6g\t%.6g\t%.6g\t%.3f\t%.17g\n",
               op_names[c->op], c->paired ? "paired" : "unpaired", c->f64 ? "f64" : "f32",
               weighting_names[c->weighting], b.m, b.d, opt->threads, t.median, t.p25, t.p75,
               t.cpu_median, t.reps, (double)mn / t.median * 1e-6, sim_gflops, peak_mib,
               blas_ratio, value);
    } else {
        char dcol[16], sim[16], blas[16];
        snprintf(dcol, sizeof dcol, c->weighting == RPO_WEIGHTING_EMBEDDING ? "%zu" : "-", b.d);
        snprintf(sim, sizeof sim, sim_gflops > 0 ? "%.1f" : "-", sim_gflops);
        snprintf(blas, sizeof blas, blas_ratio > 0 ? "%.2f" : "-", blas_ratio);
        printf("%-7s %-8s %-3s %-9s %5zu %5s %11.4g %6.1f%% %10.4g %10.2f %8s %9.2f %6s\n",
               op_names[c->op], c->paired ? "paired" : "unpaired", c->f64 ? "f64" : "f32",
               weighting_names[c->weighting], b.m, dcol, t.median * 1e3,
               100.0 * (t.p75 - t.p25) / t.median, t.cpu_median * 1e3,
               (double)mn / t.median * 1e-6, sim, peak_mib, blas);
    }
    fflush(stdout);
    rpo_ctx_free(ctx);
}

/* The configuration in a fresh process, so peak memory is its own. */
static int run_in_child(const config *c, const options *opt)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        run_config(c, opt);
        _exit(0);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------------ sweep */

static void header(const options *opt)
{
    char model[512] = "unknown CPU", line[512];
    FILE *fp = fopen("/proc/cpuinfo", "r");
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
        if (strncmp(line, "model name", 10) == 0) {
            const char *v = strchr(line, ':');
            snprintf(model, sizeof model, "%s", v ? v + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (fp != NULL)
        fclose(fp);
    rpo_ctx *ctx = rpo_ctx_create();
    printf("# librpo %s, kernels %s, %u thread(s), %ld CPU(s): %s\n", rpo_version_string(),
           rpo_ctx_kernels(ctx), opt->threads, sysconf(_SC_NPROCESSORS_ONLN), model);
    if (opt->target_contrasts > 0.0)
        printf("# target contrasts k = %g (embedding rows solve their temperature)\n",
               opt->target_contrasts);
    rpo_ctx_free(ctx);
#ifdef __VERSION__
    printf("# compiler %s%s\n", __VERSION__,
#ifdef BENCH_CBLAS
           ", bench linked with a CBLAS"
#else
           ""
#endif
    );
#endif
    if (opt->tsv)
        printf("op\tpairing\ttype\tweighting\tm\td\tthreads\tmedian_s\tp25_s\tp75_s\tcpu_s\t"
               "reps\tmpairs_per_s\tsim_gflops\tpeak_mib\tblas_ratio\tvalue\n");
    else
        printf("%-7s %-8s %-3s %-9s %5s %5s %11s %7s %10s %10s %8s %9s %6s\n", "op",
               "pairing", "type", "weighting", "M=N", "D", "median ms", "spread", "cpu ms",
               "Mpairs/s", "simGF/s", "peak MiB", "blas x");
}

static int sweep(const options *opt)
{
    static const size_t ms_full[] = {8, 64, 512, 4096}, ds_full[] = {384, 768, 4096};
    static const size_t ms_quick[] = {8, 64, 512}, ds_quick[] = {384};
    const size_t *ms = opt->quick ? ms_quick : ms_full;
    const size_t *ds = opt->quick ? ds_quick : ds_full;
    const size_t nm = opt->quick ? 3 : 4, nd = opt->quick ? 1 : 3;
    int failed = 0;
    header(opt);
    for (int op = OP_LOSS; op <= OP_WEIGHTS; op++)
        for (int w = RPO_WEIGHTING_EMBEDDING; w >= RPO_WEIGHTING_UNIFORM; w--)
            for (int f64 = 0; f64 <= 1; f64++)
                for (int paired = 1; paired >= 0; paired--) {
                    if (w == RPO_WEIGHTING_DIAGONAL && !paired)
                        continue;  /* diagonal emphasis needs paired data */
                    for (size_t i = 0; i < nm; i++)
                        for (size_t k = 0; k < (w == RPO_WEIGHTING_EMBEDDING ? nd : 1); k++) {
                            config c = {(enum op)op, paired, f64, w, ms[i],
                                        w == RPO_WEIGHTING_EMBEDDING ? ds[k] : 1};
                            failed |= run_in_child(&c, opt) != 0;
                        }
                    if (opt->quick && w == RPO_WEIGHTING_EMBEDDING && !f64) {
                        /* the large target shape, float32 */
                        config c = {(enum op)op, paired, 0, w, 4096, 768};
                        failed |= run_in_child(&c, opt) != 0;
                    }
                }
    return failed;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: rpo_bench [--quick] [--threads T] [--min-time S] [--tsv] [--blas]\n"
            "                 [--target-contrasts K]\n"
            "       rpo_bench --one loss|weights paired|unpaired f32|f64 "
            "uniform|diagonal|embedding M D\n"
            "                 [--dump DIR] [--threads T] [--min-time S] [--tsv]\n"
            "                 [--target-contrasts K]\n");
    return 2;
}

static int index_of(const char *s, const char *const *names, int count)
{
    for (int k = 0; k < count; k++)
        if (strcmp(s, names[k]) == 0)
            return k;
    return -1;
}

int main(int argc, char **argv)
{
    options opt = {0, 0, 0, 1, 0.3, NULL, 0.0};
    config one;
    int single = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--quick") == 0) {
            opt.quick = 1;
        } else if (strcmp(argv[a], "--tsv") == 0) {
            opt.tsv = 1;
        } else if (strcmp(argv[a], "--blas") == 0) {
            opt.blas = 1;
        } else if (strcmp(argv[a], "--threads") == 0 && a + 1 < argc) {
            opt.threads = (unsigned)strtoul(argv[++a], NULL, 10);
        } else if (strcmp(argv[a], "--min-time") == 0 && a + 1 < argc) {
            opt.min_time = strtod(argv[++a], NULL);
        } else if (strcmp(argv[a], "--target-contrasts") == 0 && a + 1 < argc) {
            opt.target_contrasts = strtod(argv[++a], NULL);
        } else if (strcmp(argv[a], "--dump") == 0 && a + 1 < argc) {
            opt.dump = argv[++a];
        } else if (strcmp(argv[a], "--one") == 0 && a + 6 < argc) {
            static const char *const pairings[] = {"unpaired", "paired"};
            static const char *const types[] = {"f32", "f64"};
            int op = index_of(argv[a + 1], op_names, 2);
            int paired = index_of(argv[a + 2], pairings, 2);
            int f64 = index_of(argv[a + 3], types, 2);
            int w = index_of(argv[a + 4], weighting_names, 3);
            if (op < 0 || paired < 0 || f64 < 0 || w < 0)
                return usage();
            one.op = (enum op)op;
            one.paired = paired;
            one.f64 = f64;
            one.weighting = w;
            one.m = (size_t)strtoul(argv[a + 5], NULL, 10);
            one.d = (size_t)strtoul(argv[a + 6], NULL, 10);
            if (one.m == 0 || one.d == 0)
                return usage();
            single = 1;
            a += 6;
        } else {
            return usage();
        }
    }
    if (opt.threads < 1)
        return usage();
#ifndef BENCH_CBLAS
    if (opt.blas) {
        fprintf(stderr, "rpo_bench: built without a CBLAS; --blas ignored\n");
        opt.blas = 0;
    }
#endif
    if (single) {
        header(&opt);
        return run_in_child(&one, &opt) != 0;
    }
    return sweep(&opt);
}
