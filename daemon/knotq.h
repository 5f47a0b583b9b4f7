/*
 * knotq.h - the queue in front of one knotd's control socket.
 *
 * knotd serves one control connection at a time, and a zone transaction
 * costs it a few round trips whatever its size: so the writers of one
 * primary do not take turns with a connection each, they join a queue.
 * The first writer to find nobody at the socket becomes the leader: it
 * takes every item waiting (up to a maximum), runs them as one batch on
 * one connection (the run function: a block per command for all their
 * zones), and wakes their writers; a writer that arrived meanwhile waits
 * for the next batch, led by one of them.  Each item keeps its own outcome.
 * Nothing waits without a bound: a batch is bounded by the control
 * timeout of each of its exchanges, and a writer gives up waiting for a
 * slow one.
 */
#ifndef RZ_KNOTQ_H
#define RZ_KNOTQ_H

#include <stdbool.h>
#include <stddef.h>

#define RZ_KNOTQ_MAX_BATCH 64

struct rz_knotq;

/* run(ctx, items, n): one batch, on the leader's thread with its ctx. */
typedef void (*rz_knotq_fn)(void *ctx, void *const *items, size_t n);

/* 0, or RZ_ENOMEM. */
int rz_knotq_new(struct rz_knotq **out);
void rz_knotq_free(struct rz_knotq *q);

/*
 * Run item: 0 once it has run, in this thread's batch or another's.  A
 * writer waiting while a batch has run for slow_ms already (knotd slow or
 * stopped), or at once when impatient (knotd did not answer the last
 * time), gives up instead: RZ_EAGAIN, its item not run, so that workers
 * stay free for other primaries and other work.  An item taken into a
 * batch always waits for it (bounded by the batch's control timeouts).
 */
int rz_knotq_run(struct rz_knotq *q, void *item, rz_knotq_fn run, void *ctx,
                 unsigned slow_ms, bool impatient);

/*
 * The same for n items of one writer: each runs (in this thread's batches
 * or others') or gives up as above, not_run[i] then set.  0, or RZ_ENOMEM
 * with nothing run.
 */
int rz_knotq_run_many(struct rz_knotq *q, void *const *items, size_t n, rz_knotq_fn run,
                      void *ctx, unsigned slow_ms, bool impatient, bool *not_run);

/* Batches run so far and the items in them (for the metrics and tests). */
void rz_knotq_stats(struct rz_knotq *q, unsigned long long *batches,
                    unsigned long long *items);

#endif
