/*
 * bench_tokens: time of the token-level helpers on a language-model-sized
 * batch (GPT-2's vocabulary, padded as llm.c pads it), in float32.
 *
 *   make bench-tokens            T = 1024 positions
 *   build/bench/bench_tokens T   another T
 *
 * Prints the best of five runs of each helper, per call and per logit.
 * This is a measurement, not a test: nothing here passes or fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "rpo.h"

enum { V = 50257, VP = 50304, SEQ_LEN = 64, RUNS = 5 };

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

static void report(const char *what, double best, double count, const char *unit)
{
    printf("%-30s %9.3f ms  %7.3f ns/%s\n", what, 1e3 * best, 1e9 * best / count, unit);
}

int main(int argc, char **argv)
{
    size_t t = argc > 1 ? (size_t)strtoul(argv[1], NULL, 10) : 1024;
    t = (t + SEQ_LEN - 1) / SEQ_LEN * SEQ_LEN;
    float *logits = malloc(t * VP * sizeof *logits);
    float *dlogits = calloc(t * VP, sizeof *dlogits);
    float *logps = malloc(t * sizeof *logps), *dlogps = malloc(t * sizeof *dlogps);
    float *seq = malloc(t / SEQ_LEN * sizeof *seq);
    int32_t *targets = malloc(t * sizeof *targets);
    uint8_t *mask = malloc(t * sizeof *mask);
    rpo_ctx *ctx = rpo_ctx_create();
    if (!logits || !dlogits || !logps || !dlogps || !seq || !targets || !mask || !ctx) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint64_t s = 1;
    for (size_t k = 0; k < t * VP; k++)
        logits[k] = (float)((double)(next(&s) >> 11) * 0x1p-53 * 8.0 - 4.0);
    for (size_t k = 0; k < t; k++) {
        targets[k] = (int32_t)(next(&s) % V);
        dlogps[k] = 1.0f / (float)t;
        mask[k] = 1;
    }

    printf("librpo %s, T = %zu, V = %d (row stride %d), float32, best of %d\n",
           rpo_version_string(), t, V, VP, RUNS);
    double best[3] = {1e30, 1e30, 1e30};
    for (int r = 0; r < RUNS; r++) {
        double t0 = now();
        int status = rpo_token_logps_f32(ctx, t, V, VP, logits, targets, logps);
        double t1 = now();
        status |= rpo_token_logps_backward_f32(ctx, t, V, VP, logits, targets,
                                               dlogps, dlogits);
        double t2 = now();
        status |= rpo_seq_logps_f32(t / SEQ_LEN, SEQ_LEN, logps, mask,
                                    RPO_SEQ_SUM, seq);
        double t3 = now();
        if (status != RPO_OK) {
            fprintf(stderr, "a helper failed: %s\n", rpo_status_string(status));
            return 1;
        }
        best[0] = t1 - t0 < best[0] ? t1 - t0 : best[0];
        best[1] = t2 - t1 < best[1] ? t2 - t1 : best[1];
        best[2] = t3 - t2 < best[2] ? t3 - t2 : best[2];
    }
    report("rpo_token_logps_f32", best[0], (double)t * V, "logit");
    report("rpo_token_logps_backward_f32", best[1], (double)t * V, "logit");
    report("rpo_seq_logps_f32", best[2], (double)t, "token");
    rpo_ctx_free(ctx);
    free(logits); free(dlogits); free(logps); free(dlogps); free(seq);
    free(targets); free(mask);
    return 0;
}
