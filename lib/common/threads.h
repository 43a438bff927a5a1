/*
 * Work split over threads with results independent of the thread count.
 *
 * The engine cuts the rows into blocks whose boundaries depend only on the
 * problem's sizes. Blocks are computed on any thread in any order, each
 * into its worker's own buffers; their partial sums are then combined
 * ("committed") strictly in block order, one at a time. Every sum is
 * therefore formed in the same order for 1 thread or 64, and the results
 * are bitwise identical.
 *
 * POSIX threads, created per call (a call that is worth splitting runs for
 * milliseconds; creating a thread costs microseconds) and joined before the
 * call returns: nothing outlives a call and nothing is global.
 */
#ifndef RPO_THREADS_H
#define RPO_THREADS_H

#include <stddef.h>

/* The most workers a call starts; worker ids are below it. */
#define RPO_MAX_WORKERS 256

/* What a worker does with block `item`. compute runs concurrently on
 * distinct workers; commit runs for item 0, 1, 2, ... in that order, never
 * two at once, each after the item's compute on the same worker. */
typedef struct rpo_ordered_work {
    void (*compute)(void *arg, unsigned worker, size_t item);
    void (*commit)(void *arg, unsigned worker, size_t item);
    void *arg;
} rpo_ordered_work;

/* Runs items 0 .. items - 1 on up to `workers` workers (the calling thread
 * is worker 0; worker ids are 0 .. workers - 1). When a thread cannot be
 * created the others do its share: the results are the same. */
void rpo_run_ordered(const rpo_ordered_work *work, size_t items,
                     unsigned workers);

/* The commit of work whose items write disjoint outputs and sum nothing. */
void rpo_nothing_to_commit(void *arg, unsigned worker, size_t item);

#endif /* RPO_THREADS_H */
