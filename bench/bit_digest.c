/*
 * bit_digest: one 64-bit digest per family of entry points over many
 * configurations, so that two builds can be compared bit for bit
 * (docs/hardening.md, "Bitwise identity across refactors").
 *
 * Every call's status, every byte of its outputs (the buffers are filled
 * with a sentinel first, so what a call leaves alone counts too) and, after
 * a success, every RPO_STAT_* go into the family's FNV-1a digest. The error
 * details go into a digest of their own ("details"), apart from the
 * results. The configurations cover every weighting, placement, reduction,
 * loss and logit scale, label smoothing, paired and unpaired embeddings,
 * float32 and float64, inputs too large for float (the double fallback),
 * shapes that cross the plan's thresholds (float32 compute, threads,
 * several row blocks, shared and streamed blocks), 1, 2 and 3 threads,
 * every kernel set this CPU runs (RPO_KERNELS_GENERIC among them), row
 * blocks, objectives, the token, sequence and linear helpers, the batching
 * order, the conformance vectors and the bench's inputs (bench.c's
 * generator and quick-sweep shapes).
 *
 * No timing: a digest is a function of the library's results only. The
 * output is the same on every run of one build on one CPU; compare two
 * builds by diffing their outputs (`make bit-digest`).
 *
 * Linked with librpo.a: it uses the static-linking-only kernel choice and
 * rpo_similarity_*.
 */
#define RPO_STATIC_LINKING_ONLY
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpo.h"
#include "vectors.h"

/* ------------------------------------------------------------ digests */

enum family {
    F_LOSS, F_LOSS_WEIGHTED, F_EMBED_GRAD, F_WEIGHTS, F_SIMILARITY, F_ROWS,
    F_ROWS_WEIGHTED, F_OBJECTIVE, F_OBJECTIVE_ROWS, F_TOKENS, F_SEQUENCES,
    F_LINEAR, F_BATCHES, F_VECTORS, F_BENCH, F_DETAILS, F_COUNT
};
static const char *const family_names[F_COUNT] = {
    "loss", "loss_weighted", "loss_embed_grad", "weights", "similarity",
    "loss_rows", "loss_rows_weighted", "objective", "objective_rows",
    "tokens", "sequences", "linear", "related_batches", "vectors", "bench",
    "details"};

static uint64_t digest[F_COUNT];
static unsigned long calls[F_COUNT], refused[F_COUNT];

static void mix(int family, const void *bytes, size_t count)
{
    const unsigned char *p = bytes;
    uint64_t h = digest[family];
    for (size_t k = 0; k < count; k++)
        h = (h ^ p[k]) * 0x100000001b3ull;
    digest[family] = h;
}

static void mix_int(int family, int x)
{
    mix(family, &x, sizeof x);
}

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

static void *alloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, "bit_digest: out of memory\n");
        exit(1);
    }
    return p;
}

/* An array in float32-exact doubles and its float copy. */
typedef struct arr {
    size_t count;
    double *d;
    float *f;
} arr;

static arr make(rng *r, size_t count, double lo, double hi)
{
    arr a = {count, alloc(count * sizeof(double)), alloc(count * sizeof(float))};
    for (size_t k = 0; k < count; k++) {
        a.f[k] = (float)uniform(r, lo, hi);
        a.d[k] = (double)a.f[k];
    }
    return a;
}

static void drop(arr *a)
{
    free(a->d);
    free(a->f);
}

/* Output buffers: the sentinel before each call, the bytes after it. */
typedef struct out {
    size_t bytes;
    void *p;
} out;

#define OUT_SENTINEL 0xA5

static out outbuf(size_t count, int f64)
{
    out o = {count * (f64 ? sizeof(double) : sizeof(float)), NULL};
    o.p = alloc(o.bytes);
    memset(o.p, OUT_SENTINEL, o.bytes);
    return o;
}

static void take(int family, out *o)
{
    mix(family, o->p, o->bytes);
    free(o->p);
    o->p = NULL;
}

/* Status, details and, after a success, every statistic. */
static void finish_call(int family, rpo_ctx *ctx, int status)
{
    calls[family]++;
    refused[family] += status != RPO_OK;
    mix_int(family, status);
    const char *detail = rpo_ctx_error_detail(ctx);
    mix(F_DETAILS, detail, strlen(detail) + 1);
    if (status != RPO_OK || ctx == NULL)
        return;
    for (int stat = 1; stat <= 16; stat++) {
        double v;
        if (rpo_ctx_stat(ctx, stat, &v) == RPO_OK)
            mix(family, &v, sizeof v);
    }
}

#define D(a) ((a) != NULL ? (a)->d : NULL)
#define FL(a) ((a) != NULL ? (a)->f : NULL)

/* ------------------------------------------------------------ contexts */

static int kernel_sets[4];
static int kernel_set_count;

/* The (kernel set, threads) pairs of the larger sweeps: every set, and
 * 1, 2 and 3 threads on the default and the GENERIC ones. */
typedef struct combo { int kernels, threads; } combo;
static combo combos[8];
static int combo_count;

static void add_combo(int kernels, int threads)
{
    for (int k = 0; k < kernel_set_count; k++)
        if (kernel_sets[k] == kernels) {
            combos[combo_count].kernels = kernels;
            combos[combo_count++].threads = threads;
        }
}

static rpo_ctx *new_ctx(int kernels, int threads)
{
    rpo_ctx *ctx = rpo_ctx_create();
    if (ctx == NULL || rpo_ctx_use_kernels(ctx, kernels) != RPO_OK ||
        rpo_ctx_set(ctx, RPO_PARAM_THREADS, threads) != RPO_OK) {
        fprintf(stderr, "bit_digest: no context\n");
        exit(1);
    }
    return ctx;
}

static void set(rpo_ctx *ctx, int param, double value)
{
    if (rpo_ctx_set(ctx, param, value) != RPO_OK) {
        fprintf(stderr, "bit_digest: setting %d = %g refused: %s\n", param,
                value, rpo_ctx_error_detail(ctx));
        exit(1);
    }
}

/* ------------------------------------------------------------ a batch */

typedef struct batch {
    size_t m, n, d;
    arr pc, rc, pr, rr, e, f, w;
    int paired;
} batch;

static batch make_batch(unsigned long long seed, size_t m, size_t n, size_t d,
                        int paired, double scale)
{
    rng r = {seed};
    batch b;
    b.m = m;
    b.n = n;
    b.d = d;
    b.paired = paired;
    b.pc = make(&r, m, -3.0 * scale, 1.0 * scale);
    b.rc = make(&r, m, -3.0 * scale, 1.0 * scale);
    b.pr = make(&r, n, -3.0 * scale, 1.0 * scale);
    b.rr = make(&r, n, -3.0 * scale, 1.0 * scale);
    b.e = make(&r, m * d, -1.0, 1.0);
    b.f = make(&r, n * d, -1.0, 1.0);
    b.w = make(&r, m * n, 0.0, 2.0 / (double)(n ? n : 1));
    return b;
}

static void drop_batch(batch *b)
{
    drop(&b->pc); drop(&b->rc); drop(&b->pr); drop(&b->rr);
    drop(&b->e); drop(&b->f); drop(&b->w);
}

/* The loss entry points on one batch with the context's settings. */
static void run_loss_family(rpo_ctx *ctx, const batch *b, int f64, int fam_loss,
                            int fam_weighted, int fam_grad)
{
    const size_t m = b->m, n = b->n, d = b->d;
    out loss = outbuf(1, f64), gc = outbuf(m, f64), gr = outbuf(n, f64);
    int status = f64
        ? rpo_loss_f64(ctx, m, b->pc.d, b->rc.d, n, b->pr.d, b->rr.d, d, b->e.d,
                       b->paired ? NULL : b->f.d, loss.p, gc.p, gr.p)
        : rpo_loss_f32(ctx, m, b->pc.f, b->rc.f, n, b->pr.f, b->rr.f, d, b->e.f,
                       b->paired ? NULL : b->f.f, loss.p, gc.p, gr.p);
    finish_call(fam_loss, ctx, status);
    take(fam_loss, &loss); take(fam_loss, &gc); take(fam_loss, &gr);
    /* the loss alone, and the gradients alone */
    loss = outbuf(1, f64);
    status = f64 ? rpo_loss_f64(ctx, m, b->pc.d, NULL, n, b->pr.d, NULL, d, b->e.d,
                                b->paired ? NULL : b->f.d, loss.p, NULL, NULL)
                 : rpo_loss_f32(ctx, m, b->pc.f, NULL, n, b->pr.f, NULL, d, b->e.f,
                                b->paired ? NULL : b->f.f, loss.p, NULL, NULL);
    finish_call(fam_loss, ctx, status);
    take(fam_loss, &loss);
    gc = outbuf(m, f64);
    status = f64 ? rpo_loss_f64(ctx, m, b->pc.d, b->rc.d, n, b->pr.d, b->rr.d, d, b->e.d,
                                b->paired ? NULL : b->f.d, NULL, gc.p, NULL)
                 : rpo_loss_f32(ctx, m, b->pc.f, b->rc.f, n, b->pr.f, b->rr.f, d, b->e.f,
                                b->paired ? NULL : b->f.f, NULL, gc.p, NULL);
    finish_call(fam_loss, ctx, status);
    take(fam_loss, &gc);

    if (fam_weighted >= 0) {
        loss = outbuf(1, f64); gc = outbuf(m, f64); gr = outbuf(n, f64);
        status = f64 ? rpo_loss_weighted_f64(ctx, m, b->pc.d, b->rc.d, n, b->pr.d,
                                             b->rr.d, b->w.d, loss.p, gc.p, gr.p)
                     : rpo_loss_weighted_f32(ctx, m, b->pc.f, b->rc.f, n, b->pr.f,
                                             b->rr.f, b->w.f, loss.p, gc.p, gr.p);
        finish_call(fam_weighted, ctx, status);
        take(fam_weighted, &loss); take(fam_weighted, &gc); take(fam_weighted, &gr);
    }
    if (fam_grad >= 0) {
        loss = outbuf(1, f64); gc = outbuf(m, f64); gr = outbuf(n, f64);
        out ge = outbuf(m * d, f64), gf = outbuf(n * d, f64);
        status = f64
            ? rpo_loss_embed_grad_f64(ctx, m, b->pc.d, b->rc.d, n, b->pr.d, b->rr.d, d,
                                      b->e.d, b->paired ? NULL : b->f.d, loss.p, gc.p,
                                      gr.p, ge.p, gf.p)
            : rpo_loss_embed_grad_f32(ctx, m, b->pc.f, b->rc.f, n, b->pr.f, b->rr.f, d,
                                      b->e.f, b->paired ? NULL : b->f.f, loss.p, gc.p,
                                      gr.p, ge.p, gf.p);
        finish_call(fam_grad, ctx, status);
        take(fam_grad, &loss); take(fam_grad, &gc); take(fam_grad, &gr);
        take(fam_grad, &ge); take(fam_grad, &gf);
    }
}

static void run_weights_family(rpo_ctx *ctx, const batch *b, int f64, int fam)
{
    const size_t m = b->m, n = b->n, d = b->d;
    out w = outbuf(m * n, f64);
    int status = f64 ? rpo_weights_f64(ctx, m, n, d, b->e.d, b->paired ? NULL : b->f.d, w.p)
                     : rpo_weights_f32(ctx, m, n, d, b->e.f, b->paired ? NULL : b->f.f, w.p);
    finish_call(fam, ctx, status);
    take(fam, &w);
}

static void run_similarity(rpo_ctx *ctx, const batch *b, int f64)
{
    const size_t m = b->m, n = b->n, d = b->d;
    out w = outbuf(m * n, f64);
    int status = f64 ? rpo_similarity_f64(ctx, m, n, d, b->e.d, b->paired ? NULL : b->f.d, w.p)
                     : rpo_similarity_f32(ctx, m, n, d, b->e.f, b->paired ? NULL : b->f.f, w.p);
    finish_call(F_SIMILARITY, ctx, status);
    take(F_SIMILARITY, &w);
}

/* The batch's rows in `parts` row blocks (the rejected side whole). */
static void run_rows(rpo_ctx *ctx, const batch *b, int f64, size_t parts)
{
    const size_t m = b->m, n = b->n, d = b->d;
    for (size_t part = 0; part < parts; part++) {
        const size_t i0 = m * part / parts, i1 = m * (part + 1) / parts, rows = i1 - i0;
        const double *fe = b->paired ? b->e.d : b->f.d;
        const float *fe32 = b->paired ? b->e.f : b->f.f;
        out gc = outbuf(rows, f64), ge = outbuf(rows * d, f64);
        out ps = outbuf(RPO_PARTIAL_COUNT, f64), gr = outbuf(n, f64), gf = outbuf(n * d, f64);
        int status = f64
            ? rpo_loss_rows_f64(ctx, m, i0, rows, b->pc.d + i0, b->rc.d + i0, n, b->pr.d,
                                b->rr.d, d, b->e.d + i0 * d, fe, gc.p, ge.p, ps.p, gr.p, gf.p)
            : rpo_loss_rows_f32(ctx, m, i0, rows, b->pc.f + i0, b->rc.f + i0, n, b->pr.f,
                                b->rr.f, d, b->e.f + i0 * d, fe32, gc.p, ge.p, ps.p, gr.p,
                                gf.p);
        finish_call(F_ROWS, ctx, status);
        take(F_ROWS, &gc); take(F_ROWS, &ge); take(F_ROWS, &ps); take(F_ROWS, &gr);
        take(F_ROWS, &gf);
        /* without the embedding gradients */
        gc = outbuf(rows, f64); ps = outbuf(RPO_PARTIAL_COUNT, f64); gr = outbuf(n, f64);
        status = f64
            ? rpo_loss_rows_f64(ctx, m, i0, rows, b->pc.d + i0, b->rc.d + i0, n, b->pr.d,
                                b->rr.d, d, b->e.d + i0 * d, fe, gc.p, NULL, ps.p, gr.p, NULL)
            : rpo_loss_rows_f32(ctx, m, i0, rows, b->pc.f + i0, b->rc.f + i0, n, b->pr.f,
                                b->rr.f, d, b->e.f + i0 * d, fe32, gc.p, NULL, ps.p, gr.p,
                                NULL);
        finish_call(F_ROWS, ctx, status);
        take(F_ROWS, &gc); take(F_ROWS, &ps); take(F_ROWS, &gr);

        gc = outbuf(rows, f64); ps = outbuf(RPO_PARTIAL_COUNT, f64); gr = outbuf(n, f64);
        status = f64
            ? rpo_loss_rows_weighted_f64(ctx, m, i0, rows, b->pc.d + i0, b->rc.d + i0, n,
                                         b->pr.d, b->rr.d, b->w.d + i0 * n, gc.p, ps.p, gr.p)
            : rpo_loss_rows_weighted_f32(ctx, m, i0, rows, b->pc.f + i0, b->rc.f + i0, n,
                                         b->pr.f, b->rr.f, b->w.f + i0 * n, gc.p, ps.p, gr.p);
        finish_call(F_ROWS_WEIGHTED, ctx, status);
        take(F_ROWS_WEIGHTED, &gc); take(F_ROWS_WEIGHTED, &ps); take(F_ROWS_WEIGHTED, &gr);
    }
}

/* ------------------------------------------------------------ the sweeps */

static const int loss_kinds = RPO_LOSS_DISCOPOP + 1;

static int smoothed(int loss)
{
    return loss == RPO_LOSS_SIGMOID || loss == RPO_LOSS_ROBUST || loss == RPO_LOSS_EXO_PAIR;
}

/* Every setting of the loss on small batches, each kernel set. */
static void sweep_settings(void)
{
    static const size_t shapes[][3] = {{5, 5, 4}, {3, 7, 5}, {1, 1, 2}};
    for (int ks = 0; ks < kernel_set_count; ks++) {
        rpo_ctx *ctx = new_ctx(kernel_sets[ks], 1);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int paired = 0; paired <= 1; paired++) {
                const size_t m = shapes[s][0], n = paired ? m : shapes[s][1];
                batch b = make_batch(1000 + s * 10 + (size_t)paired, m, n, shapes[s][2],
                                     paired, 1.0);
                for (int weighting = 0; weighting <= RPO_WEIGHTING_SINKHORN; weighting++)
                    for (int placement = 0; placement <= RPO_PLACEMENT_LOSS; placement++)
                        for (int reduction = 0; reduction <= 1; reduction++)
                            for (int loss = 0; loss < loss_kinds; loss++)
                                for (int sm = 0; sm <= (smoothed(loss) ? 1 : 0); sm++)
                                    for (int scale = 0; scale <= 1; scale++)
                                        for (int f64 = 0; f64 <= 1; f64++) {
                                            set(ctx, RPO_PARAM_WEIGHTING, weighting);
                                            set(ctx, RPO_PARAM_PLACEMENT, placement);
                                            set(ctx, RPO_PARAM_REDUCTION, reduction);
                                            set(ctx, RPO_PARAM_LOSS, loss);
                                            set(ctx, RPO_PARAM_LABEL_SMOOTHING, sm ? 0.2 : 0.0);
                                            set(ctx, RPO_PARAM_LOGIT_SCALE, scale);
                                            set(ctx, RPO_PARAM_BETA, 0.1 + 0.3 * (double)s);
                                            set(ctx, RPO_PARAM_TAU, 0.5);
                                            run_loss_family(ctx, &b, f64, F_LOSS,
                                                            F_LOSS_WEIGHTED, F_EMBED_GRAD);
                                            if (placement == 0 && reduction == 0 &&
                                                loss == 0 && sm == 0 && scale == 0) {
                                                run_weights_family(ctx, &b, f64, F_WEIGHTS);
                                                run_similarity(ctx, &b, f64);
                                            }
                                            /* row blocks: a third of the losses, and
                                             * ROBUST's smoothed kernel */
                                            if (m > 1 && ((loss % 3 == 0 && sm == 0) ||
                                                          (loss == RPO_LOSS_ROBUST && sm)))
                                                run_rows(ctx, &b, f64, 2);
                                            /* effective contrasts: each row's
                                             * temperature solved for k */
                                            if (weighting == RPO_WEIGHTING_EMBEDDING &&
                                                placement == 0 && scale == 0 && sm == 0 &&
                                                loss % 3 == 0 && n > 1) {
                                                set(ctx, RPO_PARAM_TARGET_CONTRASTS,
                                                    1.0 + 0.5 * (double)(n - 1));
                                                run_loss_family(ctx, &b, f64, F_LOSS,
                                                                F_LOSS_WEIGHTED, F_EMBED_GRAD);
                                                run_weights_family(ctx, &b, f64, F_WEIGHTS);
                                                if (m > 1)
                                                    run_rows(ctx, &b, f64, 2);
                                                set(ctx, RPO_PARAM_TARGET_CONTRASTS, 0.0);
                                            }
                                        }
                drop_batch(&b);
            }
        rpo_ctx_free(ctx);
    }
}

/* Shapes across the plan's thresholds, threads, inputs too large for
 * float; the common settings. */
static void sweep_shapes(void)
{
    static const size_t shapes[][3] = {
        {130, 130, 40},   /* float32 computes in float from here     */
        {600, 64, 8},     /* several row blocks                      */
        {300, 260, 24},   /* threads start                           */
        {40, 2000, 16},   /* wide rows                               */
    };
    static const int losses[][2] = {{RPO_LOSS_SIGMOID, 0}, {RPO_LOSS_SIGMOID, 1},
                                    {RPO_LOSS_ROBUST, 1}, {RPO_LOSS_HINGE, 0},
                                    {RPO_LOSS_DISCOPOP, 0}};
    for (int c = 0; c < combo_count; c++) {
            rpo_ctx *ctx = new_ctx(combos[c].kernels, combos[c].threads);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int paired = 0; paired <= 1; paired++)
                    for (int huge = 0; huge <= 1; huge++) {
                        const size_t m = shapes[s][0], n = paired ? m : shapes[s][1];
                        batch b = make_batch(2000 + s * 10 + (size_t)paired * 2 + (size_t)huge,
                                             m, n, shapes[s][2], paired, huge ? 1e25 : 30.0);
                        for (int weighting = 0; weighting <= RPO_WEIGHTING_SINKHORN; weighting++)
                            for (size_t l = 0; l < sizeof losses / sizeof losses[0]; l++)
                                    for (int f64 = 0; f64 <= 1 - huge; f64++) {
                                        const int placement = l % 2 ? RPO_PLACEMENT_LOSS
                                                                    : RPO_PLACEMENT_AUTO;
                                        if (weighting == RPO_WEIGHTING_SINKHORN && (s == 3 || l > 1))
                                            continue;
                                        set(ctx, RPO_PARAM_WEIGHTING, weighting);
                                        set(ctx, RPO_PARAM_PLACEMENT, placement);
                                        set(ctx, RPO_PARAM_REDUCTION, (int)l % 2);
                                        set(ctx, RPO_PARAM_LOSS, losses[l][0]);
                                        set(ctx, RPO_PARAM_LABEL_SMOOTHING,
                                            losses[l][1] ? 0.1 : 0.0);
                                        set(ctx, RPO_PARAM_LOGIT_SCALE, (int)l == 2);
                                        run_loss_family(ctx, &b, f64, F_LOSS,
                                                        l == 0 ? F_LOSS_WEIGHTED : -1,
                                                        l < 2 || l == 3 ? F_EMBED_GRAD : -1);
                                        if (placement == 0 && l == 0) {
                                            run_weights_family(ctx, &b, f64, F_WEIGHTS);
                                            if (weighting == RPO_WEIGHTING_EMBEDDING)
                                                run_similarity(ctx, &b, f64);
                                        }
                                        if (l < 2 && !huge)
                                            run_rows(ctx, &b, f64, 3);
                                    }
                        drop_batch(&b);
                    }
            rpo_ctx_free(ctx);
        }
}

/* ------------------------------------------------------------ objectives */

typedef struct term_list {
    size_t terms;
    int loss[3];
    double weight[3];
} term_list;

static void run_objective_once(rpo_ctx *ctx, const batch *b, const arr *lc,
                               const arr *lr, const arr *wc, const arr *wr,
                               const arr *kl_p, const arr *kl_r, size_t k,
                               const term_list *t, int use_w, const arr *lg,
                               int f64, size_t parts)
{
    const size_t m = b->m, n = b->n, d = b->d;
    for (size_t part = 0; part < parts; part++) {
        const size_t i0 = m * part / parts, i1 = m * (part + 1) / parts, rows = i1 - i0;
        const int fam = parts > 1 ? F_OBJECTIVE_ROWS : F_OBJECTIVE;
        out loss = outbuf(1, f64), gc = outbuf(rows, f64), gr = outbuf(n, f64);
        out ge = outbuf(rows * d, f64), gf = outbuf(n * d, f64);
        out losses = outbuf(rows + n, f64), rc = outbuf(rows, f64), rr = outbuf(n, f64);
        out ps = outbuf(RPO_PARTIAL_COUNT, f64);
        const int want_emb = !use_w;
        int status;
        if (f64) {
            rpo_batch_f64 in;
            memset(&in, 0, sizeof in);
            in.size = sizeof in;
            in.m = rows; in.n = n; in.d = d;
            in.policy_chosen = b->pc.d + i0; in.ref_chosen = b->rc.d + i0;
            in.policy_rejected = b->pr.d; in.ref_rejected = b->rr.d;
            in.chosen_emb = b->e.d + i0 * d;
            in.rejected_emb = b->paired && parts == 1 ? NULL : (b->paired ? b->e.d : b->f.d);
            in.weights = use_w ? b->w.d + i0 * n : NULL;
            in.chosen_lengths = lc ? lc->d + i0 : NULL; in.rejected_lengths = D(lr);
            in.chosen_weights = wc ? wc->d + i0 : NULL; in.rejected_weights = D(wr);
            in.terms = t->terms; in.term_losses = t->loss; in.term_weights = t->weight;
            in.k = k; in.policy_kl = D(kl_p); in.ref_kl = D(kl_r);
            in.losses_grad = D(lg);
            rpo_results_f64 res;
            memset(&res, 0, sizeof res);
            res.size = sizeof res;
            res.loss = loss.p; res.grad_chosen = gc.p; res.grad_rejected = gr.p;
            res.grad_chosen_emb = want_emb ? ge.p : NULL;
            res.grad_rejected_emb = want_emb ? gf.p : NULL;
            res.losses = losses.p; res.chosen_rewards = rc.p; res.rejected_rewards = rr.p;
            res.partial_stats = ps.p;
            status = parts > 1 ? rpo_objective_rows_f64(ctx, m, i0, &in, &res)
                               : rpo_objective_f64(ctx, &in, &res);
        } else {
            rpo_batch_f32 in;
            memset(&in, 0, sizeof in);
            in.size = sizeof in;
            in.m = rows; in.n = n; in.d = d;
            in.policy_chosen = b->pc.f + i0; in.ref_chosen = b->rc.f + i0;
            in.policy_rejected = b->pr.f; in.ref_rejected = b->rr.f;
            in.chosen_emb = b->e.f + i0 * d;
            in.rejected_emb = b->paired && parts == 1 ? NULL : (b->paired ? b->e.f : b->f.f);
            in.weights = use_w ? b->w.f + i0 * n : NULL;
            in.chosen_lengths = lc ? lc->f + i0 : NULL; in.rejected_lengths = FL(lr);
            in.chosen_weights = wc ? wc->f + i0 : NULL; in.rejected_weights = FL(wr);
            in.terms = t->terms; in.term_losses = t->loss; in.term_weights = t->weight;
            in.k = k; in.policy_kl = FL(kl_p); in.ref_kl = FL(kl_r);
            in.losses_grad = FL(lg);
            rpo_results_f32 res;
            memset(&res, 0, sizeof res);
            res.size = sizeof res;
            res.loss = loss.p; res.grad_chosen = gc.p; res.grad_rejected = gr.p;
            res.grad_chosen_emb = want_emb ? ge.p : NULL;
            res.grad_rejected_emb = want_emb ? gf.p : NULL;
            res.losses = losses.p; res.chosen_rewards = rc.p; res.rejected_rewards = rr.p;
            res.partial_stats = ps.p;
            status = parts > 1 ? rpo_objective_rows_f32(ctx, m, i0, &in, &res)
                               : rpo_objective_f32(ctx, &in, &res);
        }
        finish_call(fam, ctx, status);
        take(fam, &loss); take(fam, &gc); take(fam, &gr); take(fam, &ge); take(fam, &gf);
        take(fam, &losses); take(fam, &rc); take(fam, &rr); take(fam, &ps);
    }
}

static void sweep_objectives(void)
{
    static const term_list lists[] = {
        {0, {0}, {0}},
        {1, {RPO_LOSS_SIGMOID}, {1.0}},
        {1, {RPO_LOSS_SIGMOID_NORM}, {1.0}},
        {1, {RPO_LOSS_SIMPO}, {0.7}},
        {1, {RPO_LOSS_ORPO}, {1.0}},
        {2, {RPO_LOSS_SIGMOID, RPO_LOSS_SFT}, {1.0, 0.5}},
        {2, {RPO_LOSS_IPO, RPO_LOSS_BCO_PAIR}, {0.3, 1.2}},
        {3, {RPO_LOSS_ROBUST, RPO_LOSS_HINGE, RPO_LOSS_SFT}, {1.0, 0.25, 2.0}},
        {1, {RPO_LOSS_KTO}, {1.0}},
        {1, {RPO_LOSS_APO_ZERO_UNPAIRED}, {1.0}},
        {1, {RPO_LOSS_APO_DOWN}, {1.0}},
    };
    static const size_t shapes[][3] = {{6, 6, 4}, {4, 9, 3}, {200, 190, 40}};
    for (int c = 0; c < combo_count; c++) {
            rpo_ctx *ctx = new_ctx(combos[c].kernels, combos[c].threads);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
                for (int paired = 0; paired <= 1; paired++) {
                    const size_t m = shapes[s][0], n = paired ? m : shapes[s][1];
                    batch b = make_batch(3000 + s * 10 + (size_t)paired, m, n, shapes[s][2],
                                         paired, 1.0);
                    /* ORPO reads length-averaged log-probs below 0 */
                    for (size_t k = 0; k < m; k++)
                        b.pc.f[k] = -fabsf(b.pc.f[k]) - 0.5f, b.pc.d[k] = (double)b.pc.f[k];
                    for (size_t k = 0; k < n; k++)
                        b.pr.f[k] = -fabsf(b.pr.f[k]) - 0.5f, b.pr.d[k] = (double)b.pr.f[k];
                    rng r = {4000 + s};
                    arr lc = make(&r, m, 1.0, 9.0), lr = make(&r, n, 1.0, 9.0);
                    arr wc = make(&r, m, 0.0, 2.0), wr = make(&r, n, 0.0, 2.0);
                    arr klp = make(&r, 5, -4.0, -1.0), klr = make(&r, 5, -4.0, -1.0);
                    arr lg = make(&r, m + n, -1.0, 2.0);   /* losses' incoming gradients */
                    const int small = s < 2;
                    for (size_t t = 0; t < sizeof lists / sizeof lists[0]; t++)
                        for (int weighting = 0; weighting <= RPO_WEIGHTING_EMBEDDING; weighting++)
                            for (int variant = 0; variant < (small ? 4 : 2); variant++)
                                for (int f64 = 0; f64 <= 1; f64++) {
                                    set(ctx, RPO_PARAM_WEIGHTING, weighting);
                                    set(ctx, RPO_PARAM_LOSS, variant == 3 ? RPO_LOSS_ROBUST
                                                                          : RPO_LOSS_SIGMOID);
                                    set(ctx, RPO_PARAM_LABEL_SMOOTHING, variant == 3 ? 0.1 : 0.0);
                                    set(ctx, RPO_PARAM_F_DIVERGENCE, variant);
                                    set(ctx, RPO_PARAM_F_ALPHA, 0.5);
                                    set(ctx, RPO_PARAM_SIMPO_GAMMA, variant * 0.25);
                                    set(ctx, RPO_PARAM_REDUCTION, variant & 1);
                                    set(ctx, RPO_PARAM_PLACEMENT, variant == 2 ? RPO_PLACEMENT_LOSS
                                                                               : RPO_PLACEMENT_AUTO);
                                    set(ctx, RPO_PARAM_DESIRABLE_WEIGHT, 1.0 + variant);
                                    set(ctx, RPO_PARAM_UNDESIRABLE_WEIGHT, 1.5);
                                    const int lengths = variant != 1;
                                    const int samples = variant >= 2;
                                    run_objective_once(ctx, &b, lengths ? &lc : NULL,
                                                       lengths ? &lr : NULL,
                                                       samples ? &wc : NULL,
                                                       samples ? &wr : NULL, &klp, &klr,
                                                       variant == 0 ? 0 : 5, &lists[t],
                                                       variant == 1 && small,
                                                       variant == 2 ? &lg : NULL, f64, 1);
                                    if (variant < 2)
                                        run_objective_once(ctx, &b, lengths ? &lc : NULL,
                                                           lengths ? &lr : NULL, NULL, NULL,
                                                           NULL, NULL, 0, &lists[t], 0, NULL,
                                                           f64, 2);
                                }
                    drop(&lc); drop(&lr); drop(&wc); drop(&wr); drop(&klp); drop(&klr);
                    drop(&lg);
                    drop_batch(&b);
                }
            rpo_ctx_free(ctx);
        }
}

/* ------------------------------------------------------------ tokens */

static void sweep_tokens(void)
{
    static const size_t shapes[][3] = {{7, 13, 16}, {33, 300, 300}, {200, 1000, 1003}};
    for (int c = 0; c < combo_count; c++) {
            rpo_ctx *ctx = new_ctx(combos[c].kernels, combos[c].threads);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const size_t t = shapes[s][0], v = shapes[s][1], stride = shapes[s][2];
                rng r = {5000 + s};
                arr logits = make(&r, t * stride, -8.0, 8.0);
                arr dl = make(&r, t, -1.0, 1.0);
                int32_t *targets = alloc(t * sizeof *targets);
                for (size_t k = 0; k < t; k++)
                    targets[k] = k % 5 == 4 ? -1 : (int32_t)((k * 7919) % v);
                for (int f64 = 0; f64 <= 1; f64++) {
                    const void *lg = f64 ? (void *)logits.d : (void *)logits.f;
                    const void *dlp = f64 ? (void *)dl.d : (void *)dl.f;
                    out lp = outbuf(t, f64), lse = outbuf(t, 1);
                    int st = f64 ? rpo_token_logps_f64(ctx, t, v, stride, lg, targets, lp.p)
                                 : rpo_token_logps_f32(ctx, t, v, stride, lg, targets, lp.p);
                    finish_call(F_TOKENS, ctx, st);
                    take(F_TOKENS, &lp);
                    lp = outbuf(t, f64);
                    st = f64 ? rpo_token_logps_lse_f64(ctx, t, v, stride, lg, targets, lp.p, lse.p)
                             : rpo_token_logps_lse_f32(ctx, t, v, stride, lg, targets, lp.p, lse.p);
                    finish_call(F_TOKENS, ctx, st);
                    take(F_TOKENS, &lp);
                    out g = outbuf(t * stride, f64);
                    memset(g.p, 0, g.bytes);
                    st = f64 ? rpo_token_logps_backward_f64(ctx, t, v, stride, lg, targets, dlp, g.p)
                             : rpo_token_logps_backward_f32(ctx, t, v, stride, lg, targets, dlp, g.p);
                    finish_call(F_TOKENS, ctx, st);
                    take(F_TOKENS, &g);
                    for (int write = 0; write <= 1; write++) {
                        g = outbuf(t * stride, f64);
                        memset(g.p, 0, g.bytes);
                        st = f64 ? rpo_token_logps_backward_lse_f64(ctx, t, v, stride, lg, targets,
                                                                    lse.p, dlp, g.p, write)
                                 : rpo_token_logps_backward_lse_f32(ctx, t, v, stride, lg, targets,
                                                                    lse.p, dlp, g.p, write);
                        finish_call(F_TOKENS, ctx, st);
                        take(F_TOKENS, &g);
                    }
                    take(F_TOKENS, &lse);
                }
                free(targets);
                drop(&logits);
                drop(&dl);
            }
            rpo_ctx_free(ctx);
        }
}

static void sweep_sequences(void)
{
    rpo_ctx *ctx = new_ctx(RPO_KERNELS_AUTO, 2);
    const size_t b = 6, t = 40;
    rng r = {6000};
    arr lp = make(&r, b * t, -5.0, 0.0), dseq = make(&r, b, -1.0, 1.0);
    uint8_t mask[6 * 40];
    for (size_t k = 0; k < b * t; k++)
        mask[k] = (uint8_t)(k % 7 != 3);
    const int64_t offsets[7] = {0, 3, 3, 17, 30, 31, 40};
    for (int f64 = 0; f64 <= 1; f64++)
        for (int reduce = 0; reduce <= 1; reduce++)
            for (int masked = 0; masked <= 1; masked++) {
                const void *x = f64 ? (void *)lp.d : (void *)lp.f;
                const void *dy = f64 ? (void *)dseq.d : (void *)dseq.f;
                const uint8_t *mk = masked ? mask : NULL;
                out y = outbuf(b, f64);
                int st = f64 ? rpo_seq_logps_f64(b, t, x, mk, reduce, y.p)
                             : rpo_seq_logps_f32(b, t, x, mk, reduce, y.p);
                finish_call(F_SEQUENCES, NULL, st);
                take(F_SEQUENCES, &y);
                out g = outbuf(b * t, f64);
                st = f64 ? rpo_seq_logps_backward_f64(b, t, mk, reduce, dy, g.p)
                         : rpo_seq_logps_backward_f32(b, t, mk, reduce, dy, g.p);
                finish_call(F_SEQUENCES, NULL, st);
                take(F_SEQUENCES, &g);
                y = outbuf(b, f64);
                st = f64 ? rpo_packed_seq_logps_f64(ctx, b, t, offsets, x, mk, reduce, y.p)
                         : rpo_packed_seq_logps_f32(ctx, b, t, offsets, x, mk, reduce, y.p);
                finish_call(F_SEQUENCES, ctx, st);
                take(F_SEQUENCES, &y);
                g = outbuf(b * t, f64);
                st = f64 ? rpo_packed_seq_logps_backward_f64(ctx, b, t, offsets, mk, reduce, dy, g.p)
                         : rpo_packed_seq_logps_backward_f32(ctx, b, t, offsets, mk, reduce, dy, g.p);
                finish_call(F_SEQUENCES, ctx, st);
                take(F_SEQUENCES, &g);
            }
    drop(&lp);
    drop(&dseq);
    rpo_ctx_free(ctx);
}

static void sweep_linear(void)
{
    static const size_t shapes[][3] = {{9, 8, 37}, {70, 48, 600}};
    static const int chunks[] = {16, 256};
    for (int c = 0; c < combo_count; c++) {
            rpo_ctx *ctx = new_ctx(combos[c].kernels, combos[c].threads);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                const size_t t = shapes[s][0], h = shapes[s][1], v = shapes[s][2], ldw = h + 3;
                rng r = {7000 + s};
                arr hid = make(&r, t * h, -1.0, 1.0), wt = make(&r, v * ldw, -0.5, 0.5);
                arr bias = make(&r, v, -0.2, 0.2), dl = make(&r, t, -1.0, 1.0);
                int32_t *targets = alloc(t * sizeof *targets);
                for (size_t k = 0; k < t; k++)
                    targets[k] = k % 6 == 5 ? -1 : (int32_t)((k * 104729) % v);
                for (size_t ch = 0; ch < 2; ch++)
                    for (int with_bias = 0; with_bias <= 1; with_bias++)
                        for (int f64 = 0; f64 <= 1; f64++) {
                            set(ctx, RPO_PARAM_LINEAR_CHUNK, chunks[ch]);
                            const void *H = f64 ? (void *)hid.d : (void *)hid.f;
                            const void *W = f64 ? (void *)wt.d : (void *)wt.f;
                            const void *B = with_bias ? (f64 ? (void *)bias.d : (void *)bias.f) : NULL;
                            const void *DL = f64 ? (void *)dl.d : (void *)dl.f;
                            out lp = outbuf(t, f64), lse = outbuf(t, f64);
                            int st = f64 ? rpo_linear_logps_f64(ctx, t, h, v, H, W, ldw, B, targets,
                                                                lp.p, lse.p)
                                         : rpo_linear_logps_f32(ctx, t, h, v, H, W, ldw, B, targets,
                                                                lp.p, lse.p);
                            finish_call(F_LINEAR, ctx, st);
                            take(F_LINEAR, &lp);
                            out dh = outbuf(t * h, f64), dw = outbuf(v * ldw, f64), db = outbuf(v, f64);
                            memset(dh.p, 0, dh.bytes);
                            memset(dw.p, 0, dw.bytes);
                            memset(db.p, 0, db.bytes);
                            st = f64 ? rpo_linear_logps_backward_f64(ctx, t, h, v, H, W, ldw, B, targets,
                                                                     lse.p, DL, dh.p, dw.p,
                                                                     with_bias ? db.p : NULL)
                                     : rpo_linear_logps_backward_f32(ctx, t, h, v, H, W, ldw, B, targets,
                                                                     lse.p, DL, dh.p, dw.p,
                                                                     with_bias ? db.p : NULL);
                            finish_call(F_LINEAR, ctx, st);
                            take(F_LINEAR, &dh); take(F_LINEAR, &dw); take(F_LINEAR, &db);
                            take(F_LINEAR, &lse);
                        }
                free(targets);
                drop(&hid); drop(&wt); drop(&bias); drop(&dl);
            }
            rpo_ctx_free(ctx);
        }
}

static void sweep_batches(void)
{
    for (int threads = 1; threads <= 3; threads++) {
        rpo_ctx *ctx = new_ctx(RPO_KERNELS_AUTO, threads);
        const size_t p = 500, d = 24;
        rng r = {8000};
        arr e = make(&r, p * d, -1.0, 1.0);
        for (size_t i = 0; i < p; i++)
            e.f[i * d + i % d] += 3.0f, e.d[i * d + i % d] = (double)e.f[i * d + i % d];
        size_t *order = alloc(p * sizeof *order);
        for (int f64 = 0; f64 <= 1; f64++)
            for (size_t bs = 7; bs <= 64; bs *= 3) {
                memset(order, OUT_SENTINEL, p * sizeof *order);
                int st = f64 ? rpo_related_batches_f64(ctx, p, d, e.d, bs, 42, order)
                             : rpo_related_batches_f32(ctx, p, d, e.f, bs, 42, order);
                finish_call(F_BATCHES, ctx, st);
                mix(F_BATCHES, order, p * sizeof *order);
            }
        free(order);
        drop(&e);
        rpo_ctx_free(ctx);
    }
}

/* The conformance vectors, as test_conformance.c runs them. */
static void sweep_vectors(void)
{
    rpo_vec_set set_;
    if (rpo_vec_load(rpo_vec_path(), &set_) != 0)
        exit(1);
    for (int ks = 0; ks < kernel_set_count; ks++) {
        rpo_ctx *ctx = new_ctx(kernel_sets[ks], 1);
        for (size_t c = 0; c < set_.count; c++) {
            const rpo_vec_case *v = &set_.cases[c];
            set(ctx, RPO_PARAM_WEIGHTING, v->weighting);
            set(ctx, RPO_PARAM_PLACEMENT, v->placement);
            set(ctx, RPO_PARAM_BETA, v->beta);
            set(ctx, RPO_PARAM_TAU, v->tau);
            set(ctx, RPO_PARAM_ALPHA, v->alpha);
            const double *f = v->rejected_emb_same ? v->chosen_emb : v->rejected_emb;
            out loss = outbuf(1, 1), gc = outbuf(v->m, 1), gr = outbuf(v->n, 1);
            int st = rpo_loss_f64(ctx, v->m, v->policy_chosen, v->ref_chosen, v->n,
                                  v->policy_rejected, v->ref_rejected, v->d, v->chosen_emb,
                                  f, loss.p, gc.p, gr.p);
            finish_call(F_VECTORS, ctx, st);
            take(F_VECTORS, &loss); take(F_VECTORS, &gc); take(F_VECTORS, &gr);
            out w = outbuf(v->m * v->n, 1);
            st = rpo_weights_f64(ctx, v->m, v->n, v->d, v->chosen_emb, f, w.p);
            finish_call(F_VECTORS, ctx, st);
            take(F_VECTORS, &w);
        }
        rpo_ctx_free(ctx);
    }
    rpo_vec_free(&set_);
}

/* bench.c's inputs (its generator and seeds) on its quick sweep's shapes. */
static batch bench_batch(size_t m, size_t d, int paired)
{
    rng r = {12345 + m * 7 + d};
    batch b;
    memset(&b, 0, sizeof b);
    b.m = b.n = m;
    b.d = d;
    b.paired = paired;
    b.pc = make(&r, m, -120.0, -20.0);
    b.rc = make(&r, m, -120.0, -20.0);
    b.pr = make(&r, m, -120.0, -20.0);
    b.rr = make(&r, m, -120.0, -20.0);
    b.e = make(&r, m * d, -1.0, 1.0);
    for (size_t i = 0; i < m; i++)
        for (size_t k = 8 * (i % 8); k < 8 * (i % 8) + 8 && k < d; k++)
            b.e.f[i * d + k] += 2.0f, b.e.d[i * d + k] = (double)b.e.f[i * d + k];
    b.f = paired ? make(&r, 0, 0, 0) : make(&r, m * d, -1.0, 1.0);
    b.w = make(&r, 0, 0, 0);
    return b;
}

static void sweep_bench(void)
{
    static const size_t shapes[][2] = {{8, 384}, {64, 384}, {512, 384}, {4096, 768}};
    for (int threads = 1; threads <= 2; threads++) {
        rpo_ctx *ctx = new_ctx(RPO_KERNELS_AUTO, threads);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int paired = 1; paired >= 0; paired--)
                for (int weighting = RPO_WEIGHTING_EMBEDDING; weighting >= 0; weighting--)
                    for (int f64 = 0; f64 <= 1; f64++) {
                        const int big = s == 3;
                        if ((big && (f64 || weighting != RPO_WEIGHTING_EMBEDDING || threads == 1)) ||
                            (weighting == RPO_WEIGHTING_DIAGONAL && !paired))
                            continue;
                        batch b = bench_batch(shapes[s][0], weighting == RPO_WEIGHTING_EMBEDDING
                                                                ? shapes[s][1] : 1, paired);
                        if (paired)
                            b.f = b.e;  /* not used: paired passes NULL */
                        set(ctx, RPO_PARAM_WEIGHTING, weighting);
                        out loss = outbuf(1, f64), gc = outbuf(b.m, f64), gr = outbuf(b.n, f64);
                        int st = f64 ? rpo_loss_f64(ctx, b.m, b.pc.d, b.rc.d, b.n, b.pr.d, b.rr.d,
                                                    b.d, b.e.d, paired ? NULL : b.f.d, loss.p,
                                                    gc.p, gr.p)
                                     : rpo_loss_f32(ctx, b.m, b.pc.f, b.rc.f, b.n, b.pr.f, b.rr.f,
                                                    b.d, b.e.f, paired ? NULL : b.f.f, loss.p,
                                                    gc.p, gr.p);
                        finish_call(F_BENCH, ctx, st);
                        take(F_BENCH, &loss); take(F_BENCH, &gc); take(F_BENCH, &gr);
                        run_weights_family(ctx, &b, f64, F_BENCH);
                        if (paired) {
                            b.f.d = NULL;  /* shared with e: freed once */
                            b.f.f = NULL;
                        }
                        drop_batch(&b);
                    }
        rpo_ctx_free(ctx);
    }
}

int main(void)
{
    static const int candidates[] = {RPO_KERNELS_AUTO, RPO_KERNELS_PORTABLE,
                                     RPO_KERNELS_AVX2, RPO_KERNELS_GENERIC};
    rpo_ctx *probe = rpo_ctx_create();
    if (probe == NULL)
        return 1;
    for (size_t k = 0; k < sizeof candidates / sizeof candidates[0]; k++)
        if (rpo_ctx_use_kernels(probe, candidates[k]) == RPO_OK)
            kernel_sets[kernel_set_count++] = candidates[k];
    rpo_ctx_use_kernels(probe, RPO_KERNELS_AUTO);
    printf("bit_digest: librpo %s, kernel sets: auto (%s)", rpo_version_string(),
           rpo_ctx_kernels(probe));
    for (int k = 1; k < kernel_set_count; k++)
        printf(", %d", kernel_sets[k]);
    printf("\n");
    rpo_ctx_free(probe);
    add_combo(RPO_KERNELS_AUTO, 1);
    add_combo(RPO_KERNELS_AUTO, 2);
    add_combo(RPO_KERNELS_AUTO, 3);
    add_combo(RPO_KERNELS_PORTABLE, 2);
    add_combo(RPO_KERNELS_AVX2, 2);
    add_combo(RPO_KERNELS_GENERIC, 1);
    add_combo(RPO_KERNELS_GENERIC, 3);
    for (int f = 0; f < F_COUNT; f++)
        digest[f] = 0xcbf29ce484222325ull;

    fprintf(stderr, "bit_digest: sweep_settings\n");
    sweep_settings();
    fprintf(stderr, "bit_digest: sweep_shapes\n");
    sweep_shapes();
    fprintf(stderr, "bit_digest: sweep_objectives\n");
    sweep_objectives();
    fprintf(stderr, "bit_digest: sweep_tokens\n");
    sweep_tokens();
    fprintf(stderr, "bit_digest: sweep_sequences\n");
    sweep_sequences();
    fprintf(stderr, "bit_digest: sweep_linear\n");
    sweep_linear();
    fprintf(stderr, "bit_digest: sweep_batches\n");
    sweep_batches();
    fprintf(stderr, "bit_digest: sweep_vectors\n");
    sweep_vectors();
    fprintf(stderr, "bit_digest: sweep_bench\n");
    sweep_bench();

    for (int f = 0; f < F_COUNT; f++)
        printf("%-20s %016llx  (%lu calls, %lu refused)\n", family_names[f],
               (unsigned long long)digest[f], calls[f], refused[f]);
    return 0;
}
