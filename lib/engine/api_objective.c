/*
 * rpo_objective_*: the batch and results descriptors of 1.3. Each is read
 * by its own size, its arrays tagged with their element type, and one
 * objective (objective.h) is resolved; a term list then runs as an engine
 * call, KTO on its own (kto.c). The float32 and float64 variants share
 * every line after the tagging.
 */
#include <stddef.h>
#include <string.h>

#include "engine.h"
#include "objective.h"
#include "rpo.h"

/* The first version of each descriptor is 1.3's first layout: a caller's
 * size below it is an error. A later version appends fields and reads the
 * fields an older caller did not send as zero (NULL, 0): the batch's
 * losses_grad was appended after sft_tokens, so the batch's first size
 * ends there; the results are still at their first layout. */
#define BATCH_FIRST(BATCH) offsetof(BATCH, losses_grad)

/* A size far beyond any version's is a caller's mistake (an uninitialised
 * size member), not a newer layout: refused before any byte of it is read. */
#define LONGEST_TAIL 4096

/* Copies the caller's descriptor src, whose first member is its size, into
 * dst (known bytes, this version's layout). A longer descriptor comes from
 * a newer header: its fields past `known` must all be zero, or the caller
 * asked for something this library cannot do. */
static int load_descriptor(rpo_ctx *ctx, void *dst, size_t first, size_t known,
                           const void *src, const char *name)
{
    size_t size;
    memcpy(&size, src, sizeof size);
    if (size < first)
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "%s.size = %zu is below its first version's %zu", name,
                        size, first);
    if (size > known && size - known > LONGEST_TAIL)
        return rpo_fail(ctx, RPO_ERR_SIZE,
                        "%s.size = %zu is implausibly large (this version's is %zu)",
                        name, size, known);
    const unsigned char *bytes = src;
    for (size_t k = known; k < size; k++)
        if (bytes[k] != 0)
            return rpo_fail(ctx, RPO_ERR_UNSUPPORTED,
                            "%s sets a field this library (%s) does not know, "
                            "at byte %zu of %zu", name, RPO_VERSION_STRING, k, size);
    memset(dst, 0, known);
    memcpy(dst, src, size < known ? size : known);
    return RPO_OK;
}

/* A batch's arrays tagged with their type. */
typedef struct batch_view {
    size_t m, n, d;
    rpo_in policy_chosen, ref_chosen, policy_rejected, ref_rejected;
    rpo_in chosen_emb, rejected_emb, weights;
    rpo_in chosen_lengths, rejected_lengths, chosen_weights, rejected_weights;
    size_t terms;
    const int *term_losses;
    const double *term_weights;
    size_t k;
    rpo_in policy_kl, ref_kl, kl;
    rpo_in sft_tokens;
    rpo_in losses_grad;
} batch_view;

typedef struct results_view {
    rpo_out loss, grad_chosen, grad_rejected, grad_chosen_emb, grad_rejected_emb;
    rpo_out losses, chosen_rewards, rejected_rewards, partial_stats;
} results_view;

/* A row block of a larger problem (rpo_objective_rows_*), or none. */
typedef struct block_view {
    int is_row_block;
    size_t m_total, row_offset;
} block_view;

static int run_list(rpo_ctx *ctx, const rpo_config *cfg, const batch_view *b,
                    const results_view *r, const rpo_objective *o,
                    const block_view *block)
{
    if (o->has_sft && b->m > 0 && b->chosen_lengths.data == NULL)
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER,
                        "SFT needs chosen_lengths (m = %zu)", b->m);
    if (b->weights.data != NULL && (r->grad_chosen_emb.data != NULL ||
                                    r->grad_rejected_emb.data != NULL))
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "embedding gradients need the context's weighting, "
                        "not the caller's weights");
    const rpo_call call = {
        .kind = b->weights.data != NULL ? RPO_CALL_LOSS_WEIGHTED : RPO_CALL_LOSS,
        .m = b->m, .n = b->n, .d = b->d,
        .policy_chosen = b->policy_chosen, .ref_chosen = b->ref_chosen,
        .policy_rejected = b->policy_rejected, .ref_rejected = b->ref_rejected,
        .chosen_emb = b->chosen_emb, .rejected_emb = b->rejected_emb,
        .weights_in = b->weights,
        .objective = o,
        .is_row_block = block->is_row_block,
        .m_total = block->m_total,
        .row_offset = block->row_offset,
        /* only a row block has partial_stats (rpo.h) */
        .partial_stats = block->is_row_block ? r->partial_stats : rpo_out_f64(NULL),
        .loss = r->loss,
        .grad_chosen = r->grad_chosen, .grad_rejected = r->grad_rejected,
        .grad_chosen_emb = r->grad_chosen_emb,
        .grad_rejected_emb = r->grad_rejected_emb,
        .losses = r->losses,
        .chosen_rewards = r->chosen_rewards,
        .rejected_rewards = r->rejected_rewards,
    };
    const int status = rpo_run_configured(ctx, cfg, &call);
    /* the engine's checks of 1.2 may not name their rule yet: then the
     * status's own text is the detail, so a failed call never has none */
    if (status != RPO_OK && rpo_ctx_error_detail(ctx)[0] == '\0')
        return rpo_fail(ctx, status, "%s", rpo_status_string(status));
    return status;
}

static int run_unpaired(rpo_ctx *ctx, const rpo_config *cfg, const batch_view *b,
                        const results_view *r, const rpo_objective *o,
                        const block_view *block)
{
    if (r->grad_chosen_emb.data != NULL || r->grad_rejected_emb.data != NULL)
        return rpo_fail(ctx, RPO_ERR_PARAM,
                        "KTO reads no embeddings: it has no embedding gradients");
    rpo_unpaired_call call;
    call.m = b->m;
    call.n = b->n;
    call.policy_chosen = b->policy_chosen;
    call.ref_chosen = b->ref_chosen;
    call.policy_rejected = b->policy_rejected;
    call.ref_rejected = b->ref_rejected;
    call.loss = r->loss;
    call.grad_chosen = r->grad_chosen;
    call.grad_rejected = r->grad_rejected;
    call.losses = r->losses;
    call.chosen_rewards = r->chosen_rewards;
    call.rejected_rewards = r->rejected_rewards;
    call.is_row_block = block->is_row_block;
    call.m_total = block->m_total;
    call.row_offset = block->row_offset;
    call.partial_stats = block->is_row_block ? r->partial_stats : rpo_out_f64(NULL);
    return rpo_unpaired_run(ctx, cfg, o, &call);
}

static int run_objective(rpo_ctx *ctx, const batch_view *b, const results_view *r,
                         rpo_dtype type, const block_view *block)
{
    /* the call's settings, resolved once for every step below */
    const rpo_config cfg = rpo_config_of(ctx);
    rpo_objective o;
    int status = rpo_objective_resolve(ctx, &cfg, b->terms, b->term_losses,
                                       b->term_weights, type, &o);
    if (status != RPO_OK)
        return status;
    o.chosen_lengths = b->chosen_lengths;
    o.rejected_lengths = b->rejected_lengths;
    o.chosen_weights = b->chosen_weights;
    o.rejected_weights = b->rejected_weights;
    o.k = b->k;
    o.policy_kl = b->policy_kl;
    o.ref_kl = b->ref_kl;
    o.kl = b->kl;
    o.sft_tokens = b->sft_tokens;
    o.losses_grad = b->losses_grad;
    return o.unpaired ? run_unpaired(ctx, &cfg, b, r, &o, block)
                      : run_list(ctx, &cfg, b, r, &o, block);
}

/* The arrays of one descriptor type, tagged; the same lines for both. */
#define VIEW_BATCH(v, src, tag)                                             \
    do {                                                                    \
        (v).m = (src).m;                                                    \
        (v).n = (src).n;                                                    \
        (v).d = (src).d;                                                    \
        (v).policy_chosen = tag((src).policy_chosen);                       \
        (v).ref_chosen = tag((src).ref_chosen);                             \
        (v).policy_rejected = tag((src).policy_rejected);                   \
        (v).ref_rejected = tag((src).ref_rejected);                         \
        (v).chosen_emb = tag((src).chosen_emb);                             \
        (v).rejected_emb = tag((src).rejected_emb);                         \
        (v).weights = tag((src).weights);                                   \
        (v).chosen_lengths = tag((src).chosen_lengths);                     \
        (v).rejected_lengths = tag((src).rejected_lengths);                 \
        (v).chosen_weights = tag((src).chosen_weights);                     \
        (v).rejected_weights = tag((src).rejected_weights);                 \
        (v).terms = (src).terms;                                            \
        (v).term_losses = (src).term_losses;                                \
        (v).term_weights = (src).term_weights;                              \
        (v).k = (src).k;                                                    \
        (v).policy_kl = tag((src).policy_kl);                               \
        (v).ref_kl = tag((src).ref_kl);                                     \
        (v).kl = tag((src).kl);                                             \
        (v).sft_tokens = tag((src).sft_tokens);                             \
        (v).losses_grad = tag((src).losses_grad);                           \
    } while (0)

#define VIEW_RESULTS(v, src, tag)                                           \
    do {                                                                    \
        (v).loss = tag((src).loss);                                         \
        (v).grad_chosen = tag((src).grad_chosen);                           \
        (v).grad_rejected = tag((src).grad_rejected);                       \
        (v).grad_chosen_emb = tag((src).grad_chosen_emb);                   \
        (v).grad_rejected_emb = tag((src).grad_rejected_emb);               \
        (v).losses = tag((src).losses);                                     \
        (v).chosen_rewards = tag((src).chosen_rewards);                     \
        (v).rejected_rewards = tag((src).rejected_rewards);                 \
        (v).partial_stats = tag((src).partial_stats);                       \
    } while (0)

/* Both precisions: load the descriptors, tag them, run. */
#define OBJECTIVE_ENTRY(BATCH, RESULTS, IN, OUT, TYPE)                        \
    rpo_detail_clear(ctx);                                                  \
    if (ctx == NULL || batch == NULL || results == NULL)                    \
        return rpo_fail(ctx, RPO_ERR_NULL_POINTER, "%s is NULL",            \
                        ctx == NULL     ? "ctx"                             \
                        : batch == NULL ? "batch"                           \
                                        : "results");                       \
    BATCH in;                                                               \
    RESULTS out;                                                            \
    int status = load_descriptor(ctx, &in, BATCH_FIRST(BATCH), sizeof in,   \
                                 batch, #BATCH);                            \
    if (status == RPO_OK)                                                   \
        status = load_descriptor(ctx, &out, sizeof(RESULTS), sizeof out,    \
                                 results, #RESULTS);                        \
    if (status != RPO_OK)                                                   \
        return status;                                                      \
    batch_view b;                                                           \
    results_view r;                                                         \
    VIEW_BATCH(b, in, IN);                                                  \
    VIEW_RESULTS(r, out, OUT);                                              \
    return run_objective(ctx, &b, &r, TYPE, &block)

int rpo_objective_f32(rpo_ctx *ctx, const rpo_batch_f32 *batch,
                      rpo_results_f32 *results)
{
    const block_view block = {0, 0, 0};
    OBJECTIVE_ENTRY(rpo_batch_f32, rpo_results_f32, rpo_in_f32, rpo_out_f32, RPO_F32);
}

int rpo_objective_f64(rpo_ctx *ctx, const rpo_batch_f64 *batch,
                      rpo_results_f64 *results)
{
    const block_view block = {0, 0, 0};
    OBJECTIVE_ENTRY(rpo_batch_f64, rpo_results_f64, rpo_in_f64, rpo_out_f64, RPO_F64);
}

int rpo_objective_rows_f32(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                           const rpo_batch_f32 *batch, rpo_results_f32 *results)
{
    const block_view block = {1, m_total, row_offset};
    OBJECTIVE_ENTRY(rpo_batch_f32, rpo_results_f32, rpo_in_f32, rpo_out_f32, RPO_F32);
}

int rpo_objective_rows_f64(rpo_ctx *ctx, size_t m_total, size_t row_offset,
                           const rpo_batch_f64 *batch, rpo_results_f64 *results)
{
    const block_view block = {1, m_total, row_offset};
    OBJECTIVE_ENTRY(rpo_batch_f64, rpo_results_f64, rpo_in_f64, rpo_out_f64, RPO_F64);
}
