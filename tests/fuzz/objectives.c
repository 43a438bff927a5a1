/*
 * rpo_objective_* and rpo_objective_rows_* of librpo 1.3 under the
 * fuzzer (docs/objectives.md):
 * arbitrary sizes, term lists (unknown, repeated and unpaired losses,
 * NaN weights), descriptor sizes (short, the first layout without
 * losses_grad, longer with a zero or a set tail), present or NULL arrays
 * (losses_grad among them) with hostile values (NaN, infinities,
 * negative lengths and weights, positive log-probs), settings, in float32
 * or float64. Invariants:
 *   - the status is listed; a descriptor below the first version's size is
 *     RPO_ERR_SIZE and one with a set unknown field RPO_ERR_UNSUPPORTED;
 *     sizes whose products overflow are RPO_ERR_SIZE (or an earlier
 *     pointer or list error) without touching the (poisoned) arrays;
 *   - inputs are never written, nor the settings;
 *   - on error no output is written, the metrics are unchanged and the
 *     context has a detail; on success the detail is "" and every output
 *     written is finite;
 *   - a row block never changes the metrics (but for its finite shares of
 *     W's shape), and one outside its problem
 *     is refused.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "values.h"

enum { I_PC, I_RC, I_PR, I_RR, I_E, I_F, I_W, I_LC, I_LR, I_WC, I_WR, I_PK, I_RK,
       I_KL, I_G, I_COUNT };
enum { O_LOSS, O_GC, O_GR, O_GE, O_GF, O_LOSSES, O_RC, O_RR, O_STATS, O_COUNT };
/* SIZE_FIRST: the batch's first 1.3 layout, which ends before
 * losses_grad (the results have one layout: exact there). */
enum { SIZE_EXACT, SIZE_SHORT, SIZE_LONGER_ZERO, SIZE_LONGER_SET, SIZE_FIRST };

/* The batch and results of either precision behind one pointer, with room
 * for a tail past this version's layout. */
typedef struct {
    union { rpo_batch_f32 f32; rpo_batch_f64 f64; } b;
    unsigned char tail[16];
} batch_room;

typedef struct {
    union { rpo_results_f32 f32; rpo_results_f64 f64; } r;
    unsigned char tail[16];
} results_room;

typedef struct objective_call {
    int f32, overflow;
    int rows;                       /* rpo_objective_rows_*               */
    size_t m_total, row_offset;
    double sft_tokens;
    size_t m, n, d, k, terms;
    int term_losses[RPO_MAX_TERMS + 2];
    double term_weights[RPO_MAX_TERMS + 2];
    int losses_null, weights_null;
    int batch_size, results_size;   /* SIZE_* */
    guarded in[I_COUNT];
    guarded out[O_COUNT];
} objective_call;

/* KTO or APO_ZERO_UNPAIRED alone: M + N per-sequence losses. */
static int is_unpaired(const objective_call *c)
{
    return c->terms == 1 && !c->losses_null &&
           (c->term_losses[0] == RPO_LOSS_KTO ||
            c->term_losses[0] == RPO_LOSS_APO_ZERO_UNPAIRED);
}

static size_t in_count(const objective_call *c, int a)
{
    switch (a) {
    case I_G: return is_unpaired(c) ? c->m + c->n : c->m;
    case I_PC: case I_RC: case I_LC: case I_WC: return c->m;
    case I_PR: case I_RR: case I_LR: case I_WR: return c->n;
    case I_E: return c->m * c->d;
    case I_F: return c->n * c->d;
    case I_W: return c->m * c->n;
    case I_PK: case I_RK: return c->k;
    default: return 1;
    }
}

static size_t out_count(const objective_call *c, int o)
{
    switch (o) {
    case O_LOSS: return 1;
    case O_GC: case O_RC: return c->m;
    case O_GR: case O_RR: return c->n;
    case O_GE: return c->m * c->d;
    case O_GF: return c->n * c->d;
    case O_STATS: return RPO_PARTIAL_COUNT;
    default: return c->m + c->n;   /* per-sequence losses: M, or M + N for KTO */
    }
}

static size_t room_size(int choice, size_t known, size_t first, reader *r)
{
    switch (choice) {
    case SIZE_SHORT: return take_choice(r, (unsigned)first);
    case SIZE_FIRST: return first;
    case SIZE_LONGER_ZERO:
    case SIZE_LONGER_SET: return known + 1 + take_choice(r, 15);
    default: return known;
    }
}

#define FILL_BATCH(B, T, c)                                                   \
    do {                                                                      \
        (B).m = (c)->m;                                                       \
        (B).n = (c)->n;                                                       \
        (B).d = (c)->d;                                                       \
        (B).policy_chosen = (const T *)(c)->in[I_PC].p;                       \
        (B).ref_chosen = (const T *)(c)->in[I_RC].p;                          \
        (B).policy_rejected = (const T *)(c)->in[I_PR].p;                     \
        (B).ref_rejected = (const T *)(c)->in[I_RR].p;                        \
        (B).chosen_emb = (const T *)(c)->in[I_E].p;                           \
        (B).rejected_emb = (const T *)(c)->in[I_F].p;                         \
        (B).weights = (const T *)(c)->in[I_W].p;                              \
        (B).chosen_lengths = (const T *)(c)->in[I_LC].p;                      \
        (B).rejected_lengths = (const T *)(c)->in[I_LR].p;                    \
        (B).chosen_weights = (const T *)(c)->in[I_WC].p;                      \
        (B).rejected_weights = (const T *)(c)->in[I_WR].p;                    \
        (B).terms = (c)->terms;                                               \
        (B).term_losses = (c)->losses_null ? NULL : (c)->term_losses;         \
        (B).term_weights = (c)->weights_null ? NULL : (c)->term_weights;      \
        (B).k = (c)->k;                                                       \
        (B).policy_kl = (const T *)(c)->in[I_PK].p;                           \
        (B).ref_kl = (const T *)(c)->in[I_RK].p;                              \
        (B).kl = (const T *)(c)->in[I_KL].p;                                  \
        (B).losses_grad = (const T *)(c)->in[I_G].p;                          \
    } while (0)

#define FILL_RESULTS(R, T, c)                                                 \
    do {                                                                      \
        (R).loss = (T *)(c)->out[O_LOSS].p;                                   \
        (R).grad_chosen = (T *)(c)->out[O_GC].p;                              \
        (R).grad_rejected = (T *)(c)->out[O_GR].p;                            \
        (R).grad_chosen_emb = (T *)(c)->out[O_GE].p;                          \
        (R).grad_rejected_emb = (T *)(c)->out[O_GF].p;                        \
        (R).losses = (T *)(c)->out[O_LOSSES].p;                               \
        (R).chosen_rewards = (T *)(c)->out[O_RC].p;                           \
        (R).rejected_rewards = (T *)(c)->out[O_RR].p;                         \
        (R).partial_stats = (T *)(c)->out[O_STATS].p;                         \
    } while (0)

static int invoke(rpo_ctx *ctx, const objective_call *c, reader *r)
{
    batch_room b;
    results_room res;
    memset(&b, 0, sizeof b);
    memset(&res, 0, sizeof res);
    const size_t known_b = c->f32 ? sizeof(rpo_batch_f32) : sizeof(rpo_batch_f64);
    const size_t known_r = c->f32 ? sizeof(rpo_results_f32) : sizeof(rpo_results_f64);
    const size_t first_b = c->f32 ? offsetof(rpo_batch_f32, losses_grad)
                                  : offsetof(rpo_batch_f64, losses_grad);
    const size_t size_b = room_size(c->batch_size, known_b, first_b, r);
    const size_t size_r = room_size(c->results_size == SIZE_FIRST ? SIZE_EXACT
                                                                  : c->results_size,
                                    known_r, known_r, r);
    if (c->f32) {
        FILL_BATCH(b.b.f32, float, c);
        FILL_RESULTS(res.r.f32, float, c);
        b.b.f32.size = size_b;
        res.r.f32.size = size_r;
    } else {
        FILL_BATCH(b.b.f64, double, c);
        FILL_RESULTS(res.r.f64, double, c);
        b.b.f64.size = size_b;
        res.r.f64.size = size_r;
    }
    const float tokens32 = (float)c->sft_tokens;
    if (c->sft_tokens != 0.0) {
        if (c->f32)
            b.b.f32.sft_tokens = &tokens32;
        else
            b.b.f64.sft_tokens = &c->sft_tokens;
    }
    if (c->batch_size == SIZE_LONGER_SET)
        ((unsigned char *)&b)[size_b - 1] = 1;
    if (c->results_size == SIZE_LONGER_SET)
        ((unsigned char *)&res)[size_r - 1] = 1;
    if (c->rows)
        return c->f32 ? rpo_objective_rows_f32(ctx, c->m_total, c->row_offset, &b.b.f32,
                                               &res.r.f32)
                      : rpo_objective_rows_f64(ctx, c->m_total, c->row_offset, &b.b.f64,
                                               &res.r.f64);
    return c->f32 ? rpo_objective_f32(ctx, &b.b.f32, &res.r.f32)
                  : rpo_objective_f64(ctx, &b.b.f64, &res.r.f64);
}

static void build(reader *r, objective_call *c, values v[I_COUNT])
{
    c->f32 = (int)take_choice(r, 2);
    c->overflow = take_choice(r, 16) == 0;
    if (c->overflow) {
        take_overflowing(r, &c->m, &c->n);
        c->d = 1 + take_small_size(r, 8);
    } else {
        c->m = take_small_size(r, 9);
        c->n = take_small_size(r, 9);
        c->d = take_small_size(r, 5);
    }
    c->k = take_small_size(r, 5);
    c->rows = take_choice(r, 4) == 0;
    if (c->rows) {
        const size_t extra = take_small_size(r, 9);
        c->m_total = c->m > SIZE_MAX - extra ? SIZE_MAX : c->m + extra;
        c->row_offset = take_choice(r, 4) == 0 ? c->m_total : take_choice(r, (unsigned)extra + 1);
    }
    if (take_choice(r, 4) == 0)
        c->sft_tokens = take_setting_value(r);
    c->terms = take_choice(r, RPO_MAX_TERMS + 2);
    for (size_t t = 0; t < c->terms; t++) {
        c->term_losses[t] = (int)take_choice(r, 19) - 1;
        c->term_weights[t] = take_choice(r, 8) == 0 ? take_setting_value(r)
                                                    : 0.25 * (double)take_choice(r, 8);
    }
    c->losses_null = take_choice(r, 16) == 0;
    c->weights_null = take_choice(r, 2) == 0;
    c->batch_size = take_choice(r, 8) == 0 ? (int)take_choice(r, 5) : SIZE_EXACT;
    c->results_size = take_choice(r, 8) == 0 ? (int)take_choice(r, 4) : SIZE_EXACT;
    for (int a = 0; a < I_COUNT; a++) {
        /* optional arrays are absent more often than the log-probs */
        const int optional = a != I_PC && a != I_PR;
        const int absent = take_choice(r, optional ? 2 : 8) == 0;
        const int emb = a == I_E || a == I_F || a == I_W || a == I_LC || a == I_LR ||
                        a == I_WC || a == I_WR;
        const int poisoned = c->overflow && a != I_PK && a != I_RK && a != I_KL;
        v[a] = take_values(r, poisoned ? 0 : in_count(c, a), emb, !c->f32);
        if (!poisoned && (a == I_LC || a == I_LR) && take_choice(r, 2))
            for (size_t k = 0; k < v[a].count; k++) {   /* token counts, mostly */
                v[a].v32[k] = fabsf(v[a].v32[k]) * 16.0f;
                v[a].v64[k] = (double)v[a].v32[k];
            }
        c->in[a] = poisoned && !absent ? guard_poisoned() : place(&v[a], c->f32, 0, absent);
    }
    for (int o = 0; o < O_COUNT; o++) {
        const int absent = take_choice(r, 3) == 0;
        c->out[o] = absent ? guard_absent()
                    : c->overflow && o != O_LOSS && o != O_STATS
                        ? guard_poisoned()
                        : guard_output(out_count(c, o), c->f32 ? sizeof(float) : sizeof(double));
    }
}

static void release(objective_call *c, values v[I_COUNT])
{
    for (int a = 0; a < I_COUNT; a++) {
        guard_free(&c->in[a]);
        free_values(&v[a]);
    }
    for (int o = 0; o < O_COUNT; o++)
        guard_free(&c->out[o]);
}

void op_objective(reader *r, rpo_ctx *ctx)
{
    objective_call c;
    memset(&c, 0, sizeof c);
    values v[I_COUNT];
    build(r, &c, v);
    snapshot in[I_COUNT], out[O_COUNT];
    for (int a = 0; a < I_COUNT; a++)
        in[a] = snapshot_take(&c.in[a]);
    for (int o = 0; o < O_COUNT; o++)
        out[o] = snapshot_take(&c.out[o]);
    ctx_state before, after;
    observe(ctx, &before);

    const int status = invoke(ctx, &c, r);

    CHECK(status_listed(status), "unlisted status %d", status);
    observe(ctx, &after);
    CHECK(same_settings(&before, &after), "an objective call changed the settings");
    for (int a = 0; a < I_COUNT; a++)
        CHECK(snapshot_same(&in[a], &c.in[a]), "input %d written", a);
    /* the batch is read first, then the results */
    const int batch_fits = c.batch_size == SIZE_EXACT || c.batch_size == SIZE_LONGER_ZERO ||
                           c.batch_size == SIZE_FIRST;
    const int first = !batch_fits ? c.batch_size : c.results_size;
    if (first == SIZE_SHORT)
        CHECK(status == RPO_ERR_SIZE, "short descriptor: status %d", status);
    else if (first == SIZE_LONGER_SET)
        CHECK(status == RPO_ERR_UNSUPPORTED, "unknown field set: status %d", status);
    if (c.overflow)
        CHECK(status != RPO_OK, "overflowing sizes succeeded");
    if (c.rows) {
        CHECK(same_metrics_but_shape(&before, &after),
              "a row block changed the metrics (beyond the shares of W's shape)");
        if (c.row_offset > c.m_total || c.m > c.m_total - c.row_offset)
            CHECK(status != RPO_OK, "a block outside its problem succeeded");
    }
    if (status != RPO_OK) {
        CHECK(rpo_ctx_error_detail(ctx)[0] != '\0', "status %d without a detail", status);
        CHECK(same_metrics(&before, &after), "a failed call changed the metrics");
        for (int o = 0; o < O_COUNT; o++)
            CHECK(snapshot_same(&out[o], &c.out[o]), "output %d written on error", o);
    } else {
        CHECK(rpo_ctx_error_detail(ctx)[0] == '\0', "success with a detail");
        /* KTO fills M + N per-sequence losses, a list M; both are finite */
        const int unpaired = is_unpaired(&c);
        for (int o = 0; o < O_COUNT; o++) {
            if (c.out[o].p == NULL || snapshot_same(&out[o], &c.out[o]))
                continue;   /* not asked for, or not written (paired emb) */
            const size_t count = o == O_LOSSES && !unpaired ? c.m : out_count(&c, o);
            for (size_t k = 0; k < count; k++)
                CHECK(isfinite(at(&c.out[o], c.f32, k)), "output %d[%zu] not finite", o, k);
        }
    }
    for (int a = 0; a < I_COUNT; a++)
        snapshot_free(&in[a]);
    for (int o = 0; o < O_COUNT; o++)
        snapshot_free(&out[o]);
    release(&c, v);
}
