/*
 * knotq.c - the queue in front of one knotd's control socket (knotq.h).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "daemon/knotq.h"
#include "daemon/rz_err.h"

struct waiter {
	void *item;
	bool taken;                /* in the batch running now */
	bool done;
	struct waiter *next;
};

struct rz_knotq {
	pthread_mutex_t lock;      /* everything below; never held across a batch */
	pthread_cond_t done;       /* a batch ended (CLOCK_MONOTONIC) */
	struct waiter *head, *tail;
	bool leading;              /* a batch is running */
	uint64_t batch_start_ms;   /* since when */
	unsigned long long batches, items;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rz_knotq_new(struct rz_knotq **out)
{
	struct rz_knotq *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	*out = NULL;
	if (q == NULL)
		return RZ_ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->done, &ca);
	pthread_condattr_destroy(&ca);
	*out = q;
	return 0;
}

void rz_knotq_free(struct rz_knotq *q)
{
	if (q == NULL)
		return;
	pthread_cond_destroy(&q->done);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Take me out of the queue (not taken by a batch). */
static void unlink_waiter(struct rz_knotq *q, struct waiter *me)
{
	struct waiter **pp = &q->head, *prev = NULL;

	while (*pp != NULL && *pp != me) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (*pp == NULL)
		return;
	*pp = me->next;
	if (q->tail == me)
		q->tail = prev;
}

/* Lead one batch: the oldest items, up to a batch. */
static void lead(struct rz_knotq *q, rz_knotq_fn run, void *ctx)
{
	struct waiter *batch[RZ_KNOTQ_MAX_BATCH];
	void *items[RZ_KNOTQ_MAX_BATCH];
	size_t n = 0;

	q->leading = true;
	q->batch_start_ms = mono_ms();
	while (q->head != NULL && n < RZ_KNOTQ_MAX_BATCH) {
		batch[n] = q->head;
		batch[n]->taken = true;
		items[n++] = q->head->item;
		q->head = q->head->next;
	}
	if (q->head == NULL)
		q->tail = NULL;
	pthread_mutex_unlock(&q->lock);
	run(ctx, items, n);
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < n; i++)
		batch[i]->done = true;   /* their stacks: not touched after this */
	q->batches++;
	q->items += n;
	q->leading = false;
	pthread_cond_broadcast(&q->done);
}

int rz_knotq_run_many(struct rz_knotq *q, void *const *items, size_t n, rz_knotq_fn run,
                      void *ctx, unsigned slow_ms, bool impatient, bool *not_run)
{
	struct waiter *me = calloc(n ? n : 1, sizeof(*me));
	size_t pending = n;

	if (me == NULL)
		return RZ_ENOMEM;
	pthread_mutex_lock(&q->lock);
	for (size_t i = 0; i < n; i++) {
		me[i].item = items[i];
		not_run[i] = false;
		if (q->tail != NULL)
			q->tail->next = &me[i];
		else
			q->head = &me[i];
		q->tail = &me[i];
	}
	while (pending > 0) {
		uint64_t deadline;
		struct timespec ts;
		bool waiting = false;

		pending = 0;
		for (size_t i = 0; i < n; i++) {
			pending += !me[i].done && !not_run[i];
			waiting |= !me[i].done && !not_run[i] && !me[i].taken;
		}
		if (pending == 0)
			break;
		if (!q->leading) {
			lead(q, run, ctx);
			continue;
		}
		if (!waiting) {     /* all taken: bounded by the batches' own timeouts */
			pthread_cond_wait(&q->done, &q->lock);
			continue;
		}
		deadline = q->batch_start_ms + slow_ms;
		if (impatient || mono_ms() >= deadline) {
			for (size_t i = 0; i < n; i++)
				if (!me[i].done && !me[i].taken && !not_run[i]) {
					unlink_waiter(q, &me[i]);
					not_run[i] = true;
				}
			continue;
		}
		ts.tv_sec = (time_t)(deadline / 1000u);
		ts.tv_nsec = (long)(deadline % 1000u) * 1000000L;
		pthread_cond_timedwait(&q->done, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	free(me);
	return 0;
}

int rz_knotq_run(struct rz_knotq *q, void *item, rz_knotq_fn run, void *ctx,
                 unsigned slow_ms, bool impatient)
{
	bool not_run = false;
	int ret = rz_knotq_run_many(q, &item, 1, run, ctx, slow_ms, impatient, &not_run);

	return ret != 0 ? ret : not_run ? RZ_EAGAIN : 0;
}

void rz_knotq_stats(struct rz_knotq *q, unsigned long long *batches,
                    unsigned long long *items)
{
	pthread_mutex_lock(&q->lock);
	*batches = q->batches;
	*items = q->items;
	pthread_mutex_unlock(&q->lock);
}
