/*
 * bench_tokens: the token-level helpers on a language-model-sized batch
 * (T = 1024 positions, GPT-2's vocabulary V = 50257), float32, against
 * the memory floor: a plain read of the logits (the forward cannot do
 * less) and a read plus a write of them in place (nor the in-place
 * backward), on 1 thread and on 2 (which says what 2 threads can gain
 * where memory is the limit). Then each helper on 2 threads against 1.
 *
 *   make bench-tokens                        this, then PyTorch on the same
 *                                            logits (bench/tokens_torch.py)
 *   build/bench/bench_tokens [T] [--dump DIR]
 *
 * --dump writes the logits, targets and dlogps (raw, native order) and
 * librpo's times (times.txt) for bench/tokens_torch.py. Each time is the
 * best of RUNS calls. A measurement, not a test: nothing passes or fails.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rpo.h"

enum { V = 50257, SEQ_LEN = 64, RUNS = 7 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct batch {
    size_t t;
    float *logits, *work, *logps, *dlogps, *seq;
    double *lse;
    int32_t *targets;
    uint8_t *mask;
    int64_t *offsets;
    rpo_ctx *ctx;
} batch;

static void die(const char *what, int status)
{
    fprintf(stderr, "bench_tokens: %s: %s\n", what, rpo_status_string(status));
    exit(1);
}

/* The floors, on [from, to) of the logits. Every 64-bit word is read (an
 * OR the compiler vectorises and cannot skip); every float of work is read
 * and written back in place, with ordinary stores as the helpers use. */
typedef struct span {
    batch *b;
    size_t from, to;
    uint64_t acc;
} span;

static void *read_span(void *arg)
{
    span *sp = arg;
    const unsigned char *p = (const unsigned char *)sp->b->logits;
    uint64_t acc = 0;
    for (size_t k = sp->from * sizeof(float); k + 8 <= sp->to * sizeof(float); k += 8) {
        uint64_t w;
        memcpy(&w, p + k, 8);
        acc |= w;
    }
    sp->acc = acc;
    return NULL;
}

static void *read_write_span(void *arg)
{
    span *sp = arg;
    for (size_t k = sp->from; k < sp->to; k++)
        sp->b->work[k] = -sp->b->work[k];
    return NULL;
}

static volatile uint64_t sink;
static int floor_threads = 1;

/* The floor on floor_threads threads (the caller's and one more). */
static void floor_run(batch *b, void *(*fn)(void *))
{
    const size_t n = b->t * V, half = n / 2 / 16 * 16;
    span one = {b, 0, floor_threads == 2 ? half : n, 0}, two = {b, half, n, 0};
    pthread_t other;
    const int split = floor_threads == 2 && pthread_create(&other, NULL, fn, &two) == 0;
    if (floor_threads == 2 && !split)
        one.to = n;
    fn(&one);
    if (split)
        pthread_join(other, NULL);
    sink = one.acc | two.acc;
}
static void floor_read(batch *b) { floor_run(b, read_span); }
static void floor_read_write(batch *b) { floor_run(b, read_write_span); }

static void forward(batch *b)
{
    int s = rpo_token_logps_f32(b->ctx, b->t, V, V, b->logits, b->targets, b->logps);
    if (s != RPO_OK)
        die("rpo_token_logps_f32", s);
}
static void forward_lse(batch *b)
{
    int s = rpo_token_logps_lse_f32(b->ctx, b->t, V, V, b->logits, b->targets, b->logps, b->lse);
    if (s != RPO_OK)
        die("rpo_token_logps_lse_f32", s);
}
/* In place: work holds a copy of the logits, and becomes their gradient. */
static void backward_in_place(batch *b)
{
    int s = rpo_token_logps_backward_lse_f32(b->ctx, b->t, V, V, b->work, b->targets, b->lse,
                                             b->dlogps, b->work, RPO_GRAD_OVERWRITE);
    if (s != RPO_OK)
        die("rpo_token_logps_backward_lse_f32", s);
}
static void backward_accumulate(batch *b)
{
    int s = rpo_token_logps_backward_f32(b->ctx, b->t, V, V, b->logits, b->targets,
                                         b->dlogps, b->work);
    if (s != RPO_OK)
        die("rpo_token_logps_backward_f32", s);
}
static void packed(batch *b)
{
    int s = rpo_packed_seq_logps_f32(b->ctx, b->t / SEQ_LEN, b->t, b->offsets, b->logps,
                                     b->mask, RPO_SEQ_SUM, b->seq);
    if (s != RPO_OK)
        die("rpo_packed_seq_logps_f32", s);
}

static void refresh_work(batch *b)
{
    memcpy(b->work, b->logits, b->t * V * sizeof(float));
}

/* Best of RUNS; `fresh` restores work before each (untimed). */
static double best_of(batch *b, void (*fn)(batch *), int fresh)
{
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
        if (fresh)
            refresh_work(b);
        const double t0 = now();
        fn(b);
        const double t1 = now();
        best = t1 - t0 < best ? t1 - t0 : best;
    }
    return best;
}

static void set_threads(batch *b, int threads)
{
    int s = rpo_ctx_set(b->ctx, RPO_PARAM_THREADS, threads);
    if (s != RPO_OK)
        die("RPO_PARAM_THREADS", s);
}

static void dump(const batch *b, const char *dir, const double *times)
{
    char path[4096];
    const struct { const char *name; const void *data; size_t bytes; } files[] = {
        {"logits.f32", b->logits, b->t * V * sizeof(float)},
        {"targets.i32", b->targets, b->t * sizeof(int32_t)},
        {"dlogps.f32", b->dlogps, b->t * sizeof(float)},
        {"logps.f32", b->logps, b->t * sizeof(float)},
    };
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[f].name);
        FILE *out = fopen(path, "wb");
        if (!out || fwrite(files[f].data, 1, files[f].bytes, out) != files[f].bytes) {
            fprintf(stderr, "bench_tokens: cannot write %s\n", path);
            exit(1);
        }
        fclose(out);
    }
    snprintf(path, sizeof path, "%s/times.txt", dir);
    FILE *out = fopen(path, "w");
    if (!out) {
        fprintf(stderr, "bench_tokens: cannot write %s\n", path);
        exit(1);
    }
    fprintf(out, "t %zu\nv %d\nforward %.9f\nfwd_bwd_in_place %.9f\nfwd_bwd_accumulate %.9f\n",
            b->t, V, times[0], times[1], times[2]);
    fclose(out);
}

int main(int argc, char **argv)
{
    batch b;
    memset(&b, 0, sizeof b);
    b.t = 1024;
    const char *dir = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--dump") == 0 && a + 1 < argc)
            dir = argv[++a];
        else
            b.t = (size_t)strtoul(argv[a], NULL, 10);
    }
    b.t = (b.t + SEQ_LEN - 1) / SEQ_LEN * SEQ_LEN;
    const size_t n = b.t * V;
    b.logits = malloc(n * sizeof *b.logits);
    b.work = malloc(n * sizeof *b.work);
    b.logps = malloc(b.t * sizeof *b.logps);
    b.dlogps = malloc(b.t * sizeof *b.dlogps);
    b.seq = malloc(b.t / SEQ_LEN * sizeof *b.seq);
    b.lse = malloc(b.t * sizeof *b.lse);
    b.targets = malloc(b.t * sizeof *b.targets);
    b.mask = malloc(b.t * sizeof *b.mask);
    b.offsets = malloc((b.t / SEQ_LEN + 1) * sizeof *b.offsets);
    b.ctx = rpo_ctx_create();
    if (!b.logits || !b.work || !b.logps || !b.dlogps || !b.seq || !b.lse || !b.targets ||
        !b.mask || !b.offsets || !b.ctx) {
        fprintf(stderr, "bench_tokens: out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t k = 0; k < n; k++)
        b.logits[k] = (float)((double)(next(&s) >> 11) * 0x1p-53 * 8.0 - 4.0);
    for (size_t k = 0; k < b.t; k++) {
        b.targets[k] = (int32_t)(next(&s) % V);
        b.dlogps[k] = 1.0f / (float)b.t;
        b.mask[k] = 1;
    }
    for (size_t k = 0; k <= b.t / SEQ_LEN; k++)
        b.offsets[k] = (int64_t)(k * SEQ_LEN);
    refresh_work(&b);

    printf("librpo %s, T = %zu, V = %d, float32, best of %d\n",
           rpo_version_string(), b.t, V, RUNS);
    set_threads(&b, 1);
    const double read = best_of(&b, floor_read, 0);
    const double read_write = best_of(&b, floor_read_write, 0);
    floor_threads = 2;
    const double read2 = best_of(&b, floor_read, 0);
    const double read_write2 = best_of(&b, floor_read_write, 0);
    floor_threads = 1;
    printf("%-44s %8.2f ms  %5.2f GB/s; 2 threads %.2f ms (%.2fx)\n", "floor: read the logits",
           1e3 * read, 1e-9 * (double)(n * sizeof(float)) / read, 1e3 * read2, read / read2);
    printf("%-44s %8.2f ms  %5.2f GB/s; 2 threads %.2f ms (%.2fx)\n",
           "floor: read and write them in place", 1e3 * read_write,
           2e-9 * (double)(n * sizeof(float)) / read_write, 1e3 * read_write2,
           read_write / read_write2);

    double one[4], two[4];
    void (*const fns[4])(batch *) = {forward, forward_lse, backward_in_place, backward_accumulate};
    const char *names[4] = {"rpo_token_logps_f32", "rpo_token_logps_lse_f32",
                            "backward_lse_f32, overwrite, in place",
                            "rpo_token_logps_backward_f32 (accumulate)"};
    const double floors[4] = {read, read, read_write, read_write};
    for (int threads = 1; threads <= 2; threads++) {
        set_threads(&b, threads);
        double *times = threads == 1 ? one : two;
        forward_lse(&b);   /* the lse the in-place backward takes */
        for (int f = 0; f < 4; f++)
            times[f] = best_of(&b, fns[f], f >= 2);
    }
    printf("\n%-44s %9s %7s %9s %9s\n", "1 thread", "ms", "floors", "2 thr ms", "1T / 2T");
    for (int f = 0; f < 4; f++)
        printf("%-44s %9.2f %6.2fx %9.2f %8.2fx\n", names[f], 1e3 * one[f], one[f] / floors[f],
               1e3 * two[f], one[f] / two[f]);
    set_threads(&b, 1);
    const double pk = best_of(&b, packed, 0);
    printf("%-44s %9.4f ms (%zu sequences)\n", "rpo_packed_seq_logps_f32", 1e3 * pk, b.t / SEQ_LEN);

    if (dir != NULL) {
        forward(&b);
        const double times[3] = {one[0], one[1] + one[2], one[0] + one[3]};
        dump(&b, dir, times);
    }
    rpo_ctx_free(b.ctx);
    free(b.logits); free(b.work); free(b.logps); free(b.dlogps); free(b.seq);
    free(b.lse); free(b.targets); free(b.mask); free(b.offsets);
    return 0;
}
