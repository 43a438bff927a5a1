/*
 * Calls described as data, replayable on any context: the thread and
 * determinism suites run the same call many times, in many contexts, on
 * many threads, and compare the outputs byte for byte.
 *
 * Nothing here calls cmocka, so worker threads may use it; the inputs of a
 * call are built once and only read afterwards, so threads share them.
 */
#ifndef RPO_TEST_REPLAY_H
#define RPO_TEST_REPLAY_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpo.h"

typedef enum replay_entry {
    REPLAY_LOSS_F64, REPLAY_LOSS_F32,
    REPLAY_WEIGHTS_F64, REPLAY_WEIGHTS_F32,
    REPLAY_WEIGHTED_F64, REPLAY_WEIGHTED_F32,
    REPLAY_ENTRIES
} replay_entry;

typedef struct replay_call {
    replay_entry entry;
    int weighting, placement, reduction;
    double beta, tau, alpha;
    int threads;              /* RPO_PARAM_THREADS when the build has it */
    size_t m, n, d;
    int paired;               /* rejected_emb NULL (then n == m)          */
    /* inputs, both precisions holding the same (float32) values */
    double *pc, *rc, *pr, *rr, *e, *f, *w;
    float *pc32, *rc32, *pr32, *rr32, *e32, *f32, *w32;
} replay_call;

/* What one replay produced: the status, the outputs as bytes (loss,
 * grad_chosen, grad_rejected; or the weights) and the five metrics. */
typedef struct replay_result {
    int status;
    size_t bytes;
    unsigned char *out;
    double stats[6];
} replay_result;

/* 1 when RPO_TEST_SMALL=1 asks for a lighter run (valgrind, see
 * docs/hardening.md): the suites then repeat less, never check less. */
static inline int replay_small(void)
{
    const char *small = getenv("RPO_TEST_SMALL");
    return small != NULL && small[0] == '1';
}

static inline uint64_t replay_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double replay_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * (double)(replay_next(state) >> 11) * 0x1p-53;
}

/* count float32 values in [lo, hi), in both precisions. */
static inline int replay_fill(uint64_t *state, size_t count, double lo, double hi,
                              double **x64, float **x32)
{
    *x64 = malloc((count ? count : 1) * sizeof **x64);
    *x32 = malloc((count ? count : 1) * sizeof **x32);
    if (*x64 == NULL || *x32 == NULL)
        return -1;
    for (size_t k = 0; k < count; k++) {
        (*x32)[k] = (float)replay_uniform(state, lo, hi);
        (*x64)[k] = (double)(*x32)[k];
    }
    return 0;
}

/* Builds the inputs of c (sizes and settings already set) from seed.
 * Returns 0, or -1 when out of memory. */
static inline int replay_build(replay_call *c, uint64_t seed)
{
    uint64_t s = seed;
    int bad = 0;
    bad |= replay_fill(&s, c->m, -80.0, -2.0, &c->pc, &c->pc32);
    bad |= replay_fill(&s, c->m, -80.0, -2.0, &c->rc, &c->rc32);
    bad |= replay_fill(&s, c->n, -80.0, -2.0, &c->pr, &c->pr32);
    bad |= replay_fill(&s, c->n, -80.0, -2.0, &c->rr, &c->rr32);
    bad |= replay_fill(&s, c->m * c->d, -1.0, 1.0, &c->e, &c->e32);
    bad |= replay_fill(&s, c->n * c->d, -1.0, 1.0, &c->f, &c->f32);
    bad |= replay_fill(&s, c->m * c->n, 0.0, 2.0, &c->w, &c->w32);
    return bad ? -1 : 0;
}

static inline void replay_free(replay_call *c)
{
    free(c->pc); free(c->rc); free(c->pr); free(c->rr);
    free(c->e); free(c->f); free(c->w);
    free(c->pc32); free(c->rc32); free(c->pr32); free(c->rr32);
    free(c->e32); free(c->f32); free(c->w32);
}

/* Applies c's settings to ctx. Returns the first failing status. */
static inline int replay_configure(rpo_ctx *ctx, const replay_call *c)
{
    int st = RPO_OK;
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_WEIGHTING, c->weighting);
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_PLACEMENT, c->placement);
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_REDUCTION, c->reduction);
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_BETA, c->beta);
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_TAU, c->tau);
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_ALPHA, c->alpha);
#ifdef RPO_PARAM_THREADS
    if (st == RPO_OK) st = rpo_ctx_set(ctx, RPO_PARAM_THREADS, c->threads);
#endif
    return st;
}

static inline size_t replay_out_bytes(const replay_call *c)
{
    size_t elem = (c->entry % 2 == 1) ? sizeof(float) : sizeof(double);
    if (c->entry == REPLAY_WEIGHTS_F64 || c->entry == REPLAY_WEIGHTS_F32)
        return c->m * c->n * elem;
    return (1 + c->m + c->n) * elem;
}

/* Runs c on ctx (already configured) with outputs at out_base, which must
 * hold replay_out_bytes(c) bytes aligned for the entry's element type.
 * Returns the status. */
static inline int replay_invoke(rpo_ctx *ctx, const replay_call *c, void *out_base)
{
    const size_t m = c->m, n = c->n, d = c->d;
    switch (c->entry) {
    case REPLAY_LOSS_F64: {
        double *o = out_base;
        return rpo_loss_f64(ctx, m, c->pc, c->rc, n, c->pr, c->rr, d, c->e,
                            c->paired ? NULL : c->f, o, o + 1, o + 1 + m);
    }
    case REPLAY_LOSS_F32: {
        float *o = out_base;
        return rpo_loss_f32(ctx, m, c->pc32, c->rc32, n, c->pr32, c->rr32, d,
                            c->e32, c->paired ? NULL : c->f32, o, o + 1, o + 1 + m);
    }
    case REPLAY_WEIGHTS_F64:
        return rpo_weights_f64(ctx, m, n, d, c->e, c->paired ? NULL : c->f,
                               (double *)out_base);
    case REPLAY_WEIGHTS_F32:
        return rpo_weights_f32(ctx, m, n, d, c->e32, c->paired ? NULL : c->f32,
                               (float *)out_base);
    case REPLAY_WEIGHTED_F64: {
        double *o = out_base;
        return rpo_loss_weighted_f64(ctx, m, c->pc, c->rc, n, c->pr, c->rr, c->w,
                                     o, o + 1, o + 1 + m);
    }
    default: {
        float *o = out_base;
        return rpo_loss_weighted_f32(ctx, m, c->pc32, c->rc32, n, c->pr32, c->rr32,
                                     c->w32, o, o + 1, o + 1 + m);
    }
    }
}

/* Runs c on ctx and records everything it produced into r (r->out is
 * allocated here; release with replay_result_free). Returns 0, or -1 when
 * out of memory. */
static inline int replay_run(rpo_ctx *ctx, const replay_call *c, replay_result *r)
{
    memset(r, 0, sizeof *r);
    r->bytes = replay_out_bytes(c);
    /* doubles are the strictest alignment any output needs */
    double *buf = calloc(r->bytes / sizeof(float) + 2, sizeof(double));
    if (buf == NULL)
        return -1;
    r->status = replay_invoke(ctx, c, buf);
    r->out = (unsigned char *)buf;
    /* Only a successful loss call sets the metrics; otherwise they are an
     * earlier call's, not this one's. */
    int sets_metrics = r->status == RPO_OK && c->entry != REPLAY_WEIGHTS_F64 &&
                       c->entry != REPLAY_WEIGHTS_F32;
    for (int s = RPO_STAT_LOSS; sets_metrics && s <= RPO_STAT_ACCURACY; s++)
        (void)rpo_ctx_stat(ctx, s, &r->stats[s]);
    return 0;
}

static inline void replay_result_free(replay_result *r)
{
    free(r->out);
    r->out = NULL;
}

/* 1 when a and b are the same bytes: status, outputs and metrics. */
static inline int replay_same(const replay_result *a, const replay_result *b)
{
    return a->status == b->status && a->bytes == b->bytes &&
           memcmp(a->out, b->out, a->bytes) == 0 &&
           memcmp(a->stats, b->stats, sizeof a->stats) == 0;
}

#endif /* RPO_TEST_REPLAY_H */
