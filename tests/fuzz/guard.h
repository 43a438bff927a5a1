/*
 * Memory the harness hands to librpo, arranged so that AddressSanitizer
 * catches any access the contract forbids:
 *   - arrays that exist are allocated at their exact size, so one element
 *     past either end lands in a redzone;
 *   - arrays that must not be touched at all (sizes whose products overflow
 *     size_t: the call must fail before reading anything) point into a
 *     poisoned block, so even reading their first element is a report.
 * Plus snapshots, to prove that nothing was written.
 */
#ifndef RPO_FUZZ_GUARD_H
#define RPO_FUZZ_GUARD_H

#include <sanitizer/asan_interface.h>
#include <stdlib.h>
#include <string.h>

typedef struct guarded {
    void *p;           /* what the library gets; NULL for an absent array */
    size_t bytes;      /* 0 for poisoned blocks                            */
    int poisoned;
} guarded;

enum { POISON_BYTES = 64 };

static inline void guard_fail_alloc(void)
{
    /* The harness's own allocations are small: failing them is a harness
     * fault, not a finding about librpo. */
    abort();
}

/* An exact-size allocation holding a copy of src (count elements). */
static inline guarded guard_copy(const void *src, size_t count, size_t elem)
{
    guarded g;
    g.bytes = count * elem;
    g.poisoned = 0;
    g.p = malloc(g.bytes ? g.bytes : 1);
    if (g.p == NULL)
        guard_fail_alloc();
    if (g.bytes)
        memcpy(g.p, src, g.bytes);
    return g;
}

/* An exact-size output array filled with a recognisable pattern. */
static inline guarded guard_output(size_t count, size_t elem)
{
    guarded g;
    g.bytes = count * elem;
    g.poisoned = 0;
    g.p = malloc(g.bytes ? g.bytes : 1);
    if (g.p == NULL)
        guard_fail_alloc();
    memset(g.p, 0xA5, g.bytes);
    return g;
}

/* A block no access may touch. */
static inline guarded guard_poisoned(void)
{
    guarded g;
    g.bytes = 0;
    g.poisoned = 1;
    g.p = malloc(POISON_BYTES);
    if (g.p == NULL)
        guard_fail_alloc();
    ASAN_POISON_MEMORY_REGION(g.p, POISON_BYTES);
    return g;
}

static inline guarded guard_absent(void)
{
    guarded g = {NULL, 0, 0};
    return g;
}

static inline void guard_free(guarded *g)
{
    if (g->p != NULL && g->poisoned)
        ASAN_UNPOISON_MEMORY_REGION(g->p, POISON_BYTES);
    free(g->p);
    g->p = NULL;
}

/* A copy of g's bytes, to compare after a call. */
typedef struct snapshot {
    unsigned char *bytes;
    size_t size;
} snapshot;

static inline snapshot snapshot_take(const guarded *g)
{
    snapshot s = {NULL, 0};
    if (g->p == NULL || g->poisoned)
        return s;
    s.size = g->bytes;
    s.bytes = malloc(s.size ? s.size : 1);
    if (s.bytes == NULL)
        guard_fail_alloc();
    memcpy(s.bytes, g->p, s.size);
    return s;
}

/* 1 when g still holds the snapshot's bytes. */
static inline int snapshot_same(const snapshot *s, const guarded *g)
{
    if (s->bytes == NULL)
        return 1;
    return memcmp(s->bytes, g->p, s->size) == 0;
}

static inline void snapshot_free(snapshot *s)
{
    free(s->bytes);
    s->bytes = NULL;
}

#endif /* RPO_FUZZ_GUARD_H */
