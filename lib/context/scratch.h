/*
 * The scratch arena of a context. A call first sums the sizes of the
 * regions it needs with rpo_scratch_add (which reports size_t overflow),
 * then reserves them all at once with rpo_scratch_reserve, so a failing
 * call never leaves the context half-grown: on RPO_ERR_NOMEM the old
 * scratch stays as it was. A region is then found by its offset
 * (rpo_scratch_at, context.h).
 *
 * Under AddressSanitizer (make sanitize, the fuzz build) every region is
 * followed by a red zone that stays poisoned, as zstd's workspace does: a
 * write or read past a region's last byte into the next region is
 * reported where it happens, not as a wrong number later. Only those
 * builds lay out the red zones; elsewhere the layout is byte for byte the
 * same as without them.
 */
#ifndef RPO_SCRATCH_H
#define RPO_SCRATCH_H

#include <stddef.h>

#include "rpo.h"

/* Alignment of every scratch region: one cache line, enough for AVX-512. */
#define RPO_ALIGN 64

/* RPO_SCRATCH_REDZONES: 1 when AddressSanitizer instruments this build
 * (gcc defines __SANITIZE_ADDRESS__, clang answers __has_feature). */
#if defined(__SANITIZE_ADDRESS__)
#define RPO_SCRATCH_REDZONES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RPO_SCRATCH_REDZONES 1
#endif
#endif
#ifndef RPO_SCRATCH_REDZONES
#define RPO_SCRATCH_REDZONES 0
#endif

#if RPO_SCRATCH_REDZONES
/* The regions a plan remembers so that reserving can unpoison exactly
 * them. The library's largest plan (the loss with embedding gradients and
 * an objective) has under 50; a plan with more is reserved unpoisoned
 * whole rather than checked in part. */
#define RPO_SCRATCH_MAX_REGIONS 64
typedef struct rpo_scratch_region {
    size_t offset;   /* the first copy's place in the arena          */
    size_t bytes;    /* its exact size, without rounding or red zone */
    size_t copies;   /* copies of it (one per worker), stride apart  */
    size_t stride;
} rpo_scratch_region;
#endif

/* Start every plan empty: `rpo_scratch_plan plan = {0};`. */
typedef struct rpo_scratch_plan {
    size_t bytes;   /* running total, each region rounded up to RPO_ALIGN */
    int overflow;   /* set once any size computation overflowed size_t    */
#if RPO_SCRATCH_REDZONES
    size_t regions; /* entries of region[] in use; past the array's size,
                       the plan is reserved unpoisoned whole            */
    rpo_scratch_region region[RPO_SCRATCH_MAX_REGIONS];
#endif
} rpo_scratch_plan;

/* Adds a region of count elements of elem_size bytes to the plan and
 * returns its offset. */
size_t rpo_scratch_add(rpo_scratch_plan *plan, size_t count, size_t elem_size);

/* Adds count copies of the regions of sub (one worker's plan, offsets from
 * its base) to the plan, sub->bytes apart, and returns the first copy's
 * offset; copy k starts sub->bytes * k after it. sub's overflow carries
 * over. */
size_t rpo_scratch_add_copies(rpo_scratch_plan *plan, size_t count,
                              const rpo_scratch_plan *sub);

/* Makes ctx's scratch at least plan->bytes long, and under AddressSanitizer
 * poisons all of it but the plan's regions. RPO_OK, RPO_ERR_SIZE when the
 * plan overflowed, or RPO_ERR_NOMEM. */
int rpo_scratch_reserve(rpo_ctx *ctx, const rpo_scratch_plan *plan);

#endif /* RPO_SCRATCH_H */
