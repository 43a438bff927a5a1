/* The scratch arena: plans, reservation, and its red zones under ASan. */
#include <stdint.h>
#include <stdlib.h>

#include "context.h"

#if RPO_SCRATCH_REDZONES
#include <sanitizer/asan_interface.h>
/* One red zone after each region; its poison also covers the region's
 * rounding to RPO_ALIGN, so even one element past the end is caught. */
#define REDZONE_BYTES RPO_ALIGN
#else
#define REDZONE_BYTES 0
#endif

#if RPO_SCRATCH_REDZONES
/* Remembers a region for rpo_scratch_reserve; a plan with more regions
 * than fit is marked to be reserved unpoisoned whole. */
static void note_region(rpo_scratch_plan *plan, size_t offset, size_t bytes,
                        size_t copies, size_t stride)
{
    if (plan->regions < RPO_SCRATCH_MAX_REGIONS) {
        const rpo_scratch_region r = {offset, bytes, copies, stride};
        plan->region[plan->regions] = r;
    }
    if (plan->regions <= RPO_SCRATCH_MAX_REGIONS)
        plan->regions++;
}

/* Poisons the whole block, then unpoisons the plan's regions: whatever the
 * last plan left unpoisoned is poisoned again. */
static void poison_gaps(rpo_ctx *ctx, const rpo_scratch_plan *plan)
{
    unsigned char *base = ctx->scratch;
    ASAN_POISON_MEMORY_REGION(ctx->scratch_block,
                              (size_t)(base - (unsigned char *)ctx->scratch_block) +
                                  ctx->scratch_bytes);
    if (plan->regions > RPO_SCRATCH_MAX_REGIONS) {
        ASAN_UNPOISON_MEMORY_REGION(base, plan->bytes);
        return;
    }
    for (size_t i = 0; i < plan->regions; i++) {
        const rpo_scratch_region *r = &plan->region[i];
        for (size_t k = 0; k < r->copies; k++)
            ASAN_UNPOISON_MEMORY_REGION(base + r->offset + k * r->stride, r->bytes);
    }
}
#endif

size_t rpo_scratch_add(rpo_scratch_plan *plan, size_t count, size_t elem_size)
{
    size_t offset = plan->bytes;
    if (elem_size != 0 &&
        count > (SIZE_MAX - RPO_ALIGN - REDZONE_BYTES) / elem_size) {
        plan->overflow = 1;
        return 0;
    }
    size_t bytes = (count * elem_size + RPO_ALIGN - 1) / RPO_ALIGN * RPO_ALIGN +
                   REDZONE_BYTES;
    if (bytes > SIZE_MAX - RPO_ALIGN - plan->bytes) {
        plan->overflow = 1;
        return 0;
    }
    plan->bytes += bytes;
#if RPO_SCRATCH_REDZONES
    note_region(plan, offset, count * elem_size, 1, 0);
#endif
    return offset;
}

size_t rpo_scratch_add_copies(rpo_scratch_plan *plan, size_t count,
                              const rpo_scratch_plan *sub)
{
    plan->overflow |= sub->overflow;
#if RPO_SCRATCH_REDZONES
    const size_t regions = plan->regions;
#endif
    const size_t offset = rpo_scratch_add(plan, count, sub->bytes);
#if RPO_SCRATCH_REDZONES
    /* The copies' own regions, each with its red zone, replace the one
     * region rpo_scratch_add noted for the whole block. A sub-plan's
     * regions are single (workers do not nest); one that is not, or that
     * overflowed its list, leaves the block unpoisoned whole. */
    if (plan->overflow || regions >= RPO_SCRATCH_MAX_REGIONS)
        return offset;
    if (sub->regions > RPO_SCRATCH_MAX_REGIONS)
        return offset;
    plan->regions = regions;
    for (size_t i = 0; i < sub->regions; i++) {
        const rpo_scratch_region *r = &sub->region[i];
        if (r->copies != 1) {
            plan->regions = regions;
            note_region(plan, offset, count * sub->bytes, 1, 0);
            return offset;
        }
        note_region(plan, offset + r->offset, r->bytes, count, sub->bytes);
    }
#endif
    return offset;
}

int rpo_scratch_reserve(rpo_ctx *ctx, const rpo_scratch_plan *plan)
{
    if (plan->overflow)
        return rpo_fail(ctx, RPO_ERR_SIZE, "the scratch memory these sizes "
                        "need overflows size_t");
    if (plan->bytes > ctx->scratch_bytes) {
        /* Grow geometrically so sizes that creep up step by step settle
         * after a few calls; the contents need not survive, so no
         * realloc. */
        size_t want = plan->bytes;
        if (ctx->scratch_bytes <= (SIZE_MAX - RPO_ALIGN) / 2 &&
            ctx->scratch_bytes + ctx->scratch_bytes / 2 > want)
            want = ctx->scratch_bytes + ctx->scratch_bytes / 2;
        /* No allocator gives an object beyond PTRDIFF_MAX bytes: say so
         * without asking (a request that large is an error to valgrind). */
        if (want > (size_t)PTRDIFF_MAX - RPO_ALIGN)
            return rpo_fail(ctx, RPO_ERR_NOMEM, "%zu bytes of scratch memory "
                            "exceed the largest object (PTRDIFF_MAX)", want);
        void *block = malloc(want + RPO_ALIGN);
        if (block == NULL)
            return rpo_fail(ctx, RPO_ERR_NOMEM, "could not allocate %zu bytes "
                            "of scratch memory", want + RPO_ALIGN);
        free(ctx->scratch_block);
        ctx->scratch_block = block;
        uintptr_t p = (uintptr_t)block;
        ctx->scratch = (unsigned char *)block + ((RPO_ALIGN - p % RPO_ALIGN) % RPO_ALIGN);
        ctx->scratch_bytes = want;
    }
#if RPO_SCRATCH_REDZONES
    if (ctx->scratch_block != NULL)
        poison_gaps(ctx, plan);
#endif
    return RPO_OK;
}
