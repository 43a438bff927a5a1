/*
 * Batches of related prompts (rpo_related_batches_*): a permutation of a
 * dataset's prompts whose consecutive runs of B are groups of mutually
 * similar prompts, so that a mini-batch holds contrasts worth weighting.
 *
 * The method is a balanced bisection tree in cosine space: each node's
 * prompts are split in two by a few rounds of 2-means whose split is the
 * ranking of cos(x, c_left) - cos(x, c_right), cut at a multiple of B, so
 * every leaf is one batch. No P x P matrix is ever formed.
 */
#ifndef RPO_BATCHING_H
#define RPO_BATCHING_H

#include <stddef.h>
#include <stdint.h>

#include "arrays.h"
#include "context.h"

/* The most 2-means rounds of one split (rpo.h documents the number); a
 * split stops earlier once at most 1 / RPO_BATCH_SETTLED of its prompts
 * changed sides in a round. */
#define RPO_BATCH_SPLIT_ROUNDS 8
#define RPO_BATCH_SETTLED 256

/* Both public entry points: checks, scratch, the tree, then order. */
int rpo_related_batches(rpo_ctx *ctx, size_t p, size_t d, rpo_in embeddings,
                        size_t batch_size, uint64_t seed, size_t *order);

#endif /* RPO_BATCHING_H */
