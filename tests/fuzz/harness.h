/*
 * What the harness's files share: the invariant check, a context's
 * observable state, and the operations each file contributes.
 *   fuzz_api.c   the entry point and the loss and weight calls
 *   settings.c   settings, queries, and a context's observable state
 *   tokens.c     the logits helpers of librpo 1.1
 *   sequences.c  the sequence helpers of librpo 1.1
 *   row_blocks.c the row blocks and embedding gradients of librpo 1.2
 *   batching.c   the related-prompt batches of librpo 1.3
 *   objectives.c the objectives of librpo 1.3
 */
#ifndef RPO_FUZZ_HARNESS_H
#define RPO_FUZZ_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reader.h"
#include "rpo.h"

/* A violated invariant: say what broke, then abort, which libFuzzer
 * reports as a crash and saves the input for. */
#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_api: invariant broken at %s:%d: ",         \
                    __FILE__, __LINE__);                                     \
            fprintf(stderr, __VA_ARGS__);                                    \
            fprintf(stderr, "\n");                                           \
            abort();                                                         \
        }                                                                    \
    } while (0)

/* rpo_ctx_error_detail after a call on ctx that returned status: "" after
 * a success, a non-empty text after a failure, never NULL. */
static inline void check_detail(const rpo_ctx *ctx, int status, const char *call)
{
    if (ctx == NULL)
        return;
    const char *detail = rpo_ctx_error_detail(ctx);
    CHECK(detail != NULL, "%s: rpo_ctx_error_detail is NULL", call);
    if (status == RPO_OK)
        CHECK(detail[0] == '\0', "%s succeeded, detail \"%s\"", call, detail);
    else
        CHECK(detail[0] != '\0', "%s failed with %d without a detail", call, status);
}

/* What a context shows through the API: every setting key and every stat
 * (keys past the last one known give their error status). */
enum { KEYS = 32, STATS = 14 };

typedef struct ctx_state {
    int get_status[KEYS];
    double get_value[KEYS];
    int stat_status[STATS];
    double stat_value[STATS];
} ctx_state;

void observe(const rpo_ctx *ctx, ctx_state *s);
int same_settings(const ctx_state *a, const ctx_state *b);
int same_metrics(const ctx_state *a, const ctx_state *b);
/* Only RPO_STAT_LOSS .. RPO_STAT_ACCURACY, the loss call's metrics. */
int same_loss_metrics(const ctx_state *a, const ctx_state *b);
/* Every metric but the shape of W (RPO_STAT_EFFECTIVE_CONTRASTS,
 * RPO_STAT_DIAGONAL_WEIGHT), which a row block sets to its shares: in b
 * those must be finite. */
int same_metrics_but_shape(const ctx_state *a, const ctx_state *b);

/* A setting's value (the key must be known). */
double setting(const rpo_ctx *ctx, int param);
/* Gives `to` every setting of `from`. */
void copy_settings(const rpo_ctx *from, rpo_ctx *to);
/* 1 when every setting is one the 1.0 rules of contract.h cover. */
int settings_known(const rpo_ctx *ctx);

/* Settings and queries, each one call with its invariants (settings.c). */
void op_set(reader *r, rpo_ctx *ctx);
void op_query(reader *r, rpo_ctx *ctx);

/* The token-level helpers, each one call with its invariants (tokens.c,
 * sequences.c). */
void op_token_logps(reader *r, rpo_ctx *ctx);
void op_token_logps_backward(reader *r, rpo_ctx *ctx);
void op_seq_logps(reader *r);
void op_seq_logps_backward(reader *r);
/* 1.3: the forward with log-sum-exps and the backward that takes them
 * (tokens.c), packed sequences (sequences.c). */
void op_token_lse(reader *r, rpo_ctx *ctx);
void op_packed_seq(reader *r, rpo_ctx *ctx);

/* The row blocks and embedding gradients of 1.2, one call with its
 * invariants, compared with `other` where they must agree (row_blocks.c). */
void op_row_blocks(reader *r, rpo_ctx *ctx, rpo_ctx *other);

/* rpo_related_batches_*, one call per precision with its invariants
 * (batching.c). */
void op_related_batches(reader *r, rpo_ctx *ctx);
/* The fused linear log-probs of 1.3, forward then backward, each one call
 * with its invariants (linear.c). */
void op_linear_logps(reader *r, rpo_ctx *ctx);
/* rpo_objective_* of 1.3, one call with its invariants (objectives.c). */
void op_objective(reader *r, rpo_ctx *ctx);

#endif /* RPO_FUZZ_HARNESS_H */
