/* Ordered parallel loop on POSIX threads (see threads.h). */
#include <pthread.h>

#include "threads.h"

typedef struct shared_state {
    const rpo_ordered_work *work;
    size_t items;
    pthread_mutex_t lock;
    pthread_cond_t turn;      /* signalled when next_commit advances */
    size_t next_claim;        /* the next item nobody has taken      */
    size_t next_commit;       /* the item whose commit is due        */
} shared_state;

typedef struct worker_arg {
    shared_state *shared;
    unsigned id;
} worker_arg;

/* Claim, compute, wait for the item's turn, commit; until none is left.
 * Items are claimed in increasing order and a worker commits its item
 * before claiming another, so the oldest uncommitted item's worker never
 * waits: no deadlock. */
static void *work_loop(void *p)
{
    worker_arg *wa = p;
    shared_state *sh = wa->shared;
    for (;;) {
        pthread_mutex_lock(&sh->lock);
        size_t item = sh->next_claim;
        if (item < sh->items)
            sh->next_claim++;
        pthread_mutex_unlock(&sh->lock);
        if (item >= sh->items)
            return NULL;

        sh->work->compute(sh->work->arg, wa->id, item);

        pthread_mutex_lock(&sh->lock);
        while (sh->next_commit != item)
            pthread_cond_wait(&sh->turn, &sh->lock);
        pthread_mutex_unlock(&sh->lock);
        sh->work->commit(sh->work->arg, wa->id, item);
        pthread_mutex_lock(&sh->lock);
        sh->next_commit++;
        pthread_cond_broadcast(&sh->turn);
        pthread_mutex_unlock(&sh->lock);
    }
}

void rpo_nothing_to_commit(void *arg, unsigned worker, size_t item)
{
    (void)arg; (void)worker; (void)item;
}

static void run_serial(const rpo_ordered_work *work, size_t items)
{
    for (size_t item = 0; item < items; item++) {
        work->compute(work->arg, 0, item);
        work->commit(work->arg, 0, item);
    }
}

void rpo_run_ordered(const rpo_ordered_work *work, size_t items,
                     unsigned workers)
{
    if (workers > RPO_MAX_WORKERS)
        workers = RPO_MAX_WORKERS;
    if ((size_t)workers > items)
        workers = (unsigned)items;
    if (workers <= 1) {
        run_serial(work, items);
        return;
    }

    shared_state sh;
    sh.work = work;
    sh.items = items;
    sh.next_claim = 0;
    sh.next_commit = 0;
    if (pthread_mutex_init(&sh.lock, NULL) != 0) {
        run_serial(work, items);
        return;
    }
    if (pthread_cond_init(&sh.turn, NULL) != 0) {
        pthread_mutex_destroy(&sh.lock);
        run_serial(work, items);
        return;
    }

    pthread_t thread[RPO_MAX_WORKERS];
    worker_arg args[RPO_MAX_WORKERS];
    unsigned started = 1;
    for (unsigned w = 1; w < workers; w++) {
        args[started].shared = &sh;
        args[started].id = started;
        if (pthread_create(&thread[started], NULL, work_loop, &args[started]) != 0)
            break;  /* fewer workers; each takes more items */
        started++;
    }
    args[0].shared = &sh;
    args[0].id = 0;
    work_loop(&args[0]);
    for (unsigned w = 1; w < started; w++)
        pthread_join(thread[w], NULL);
    pthread_cond_destroy(&sh.turn);
    pthread_mutex_destroy(&sh.lock);
}
