/*
 * retention.c - old rows trimmed in small batches by a thread of its own
 * (retention.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/db.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/retention.h"

struct rz_retention {
	const struct rz_config *boot;
	struct rz_live *live;
	pthread_t thread;
	int stop_fd;                 /* eventfd: readable once stopping */
	int daemon_stop_fd;          /* the daemon's, readable once it stops; or -1 */
	int wake_fd;                 /* eventfd: a round now (a reload) */
	atomic_bool stopping;
	struct db_cancel cancel;     /* the batch under way, cancelled on stop */
	struct store_trim_cursor cur[STORE_TRIM__MAX];   /* kept across rounds */
};

/* What one round did. */
struct round {
	long long deleted[STORE_TRIM__MAX];
	uint32_t days[STORE_TRIM__MAX];
	unsigned batches;
	bool more;                   /* a table stopped at its bound */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait secs, or less when stopping (or woken, with wake): true when
 * stopping. */
static bool pause_or_stop(struct rz_retention *r, double secs, bool wake)
{
	struct pollfd p[3] = { { .fd = r->stop_fd, .events = POLLIN },
	                       { .fd = r->wake_fd, .events = POLLIN },
	                       { .fd = r->daemon_stop_fd, .events = POLLIN } };
	uint64_t v;

	if (atomic_load(&r->stopping))
		return true;
	if (!wake)
		p[1].fd = -1;   /* poll ignores it */
	if (poll(p, r->daemon_stop_fd >= 0 ? 3 : 2, (int)(secs * 1000.0)) > 0 &&
	    (p[0].revents != 0 || p[2].revents != 0))
		atomic_store(&r->stopping, true);
	if (p[1].revents != 0 && read(r->wake_fd, &v, sizeof(v)) != sizeof(v))
		rz_log(RZ_LOG_DEBUG, "retention: reading the wake-up: %s", strerror(errno));
	return atomic_load(&r->stopping);
}

uint32_t rz_retention_days(const struct rz_config *cfg, enum store_trim t)
{
	uint32_t w = 0, audit = cfg->audit_retention_days, need;

	switch (t) {
	case STORE_TRIM_EVENTS:
		return cfg->events_retention_days;
	case STORE_TRIM_AUDIT:
	case STORE_TRIM_CERTIFICATES:
	case STORE_TRIM_ACME_ORDERS:
		return audit;
	case STORE_TRIM_ACME_EVENTS:
		/* the budget counts events inside its longest window */
		if (audit == 0)
			return 0;
		if (cfg->lim_new_orders_window_s > w)
			w = cfg->lim_new_orders_window_s;
		if (cfg->lim_certs_per_domain_window_s > w)
			w = cfg->lim_certs_per_domain_window_s;
		if (cfg->lim_certs_per_names_window_s > w)
			w = cfg->lim_certs_per_names_window_s;
		if (cfg->lim_failed_validations_window_s > w)
			w = cfg->lim_failed_validations_window_s;
		need = (w + 86399) / 86400 + 1;
		return audit > need ? audit : need;
	case STORE_TRIM__MAX:
		break;
	}
	return 0;
}

/* One table's share of a round: 0, or RZ_EDB with err set. */
static int trim_table(struct rz_retention *r, PGconn *db, enum store_trim t, struct round *rd,
                      char *err, size_t errlen)
{
	for (unsigned b = 0; b < RZ_RETENTION_BATCHES; b++) {
		long long n = 0;
		bool done = true;
		double t0 = mono(), took;
		int ret;

		if (atomic_load(&r->stopping))
			return 0;
		ret = store_trim_batch(db, t, rd->days[t], &r->cur[t], &n, &done, err, errlen);
		took = mono() - t0;
		if (ret != 0)
			return ret;
		rd->batches++;
		rd->deleted[t] += n;
		if (n > 0)
			rz_metric_add(rz_instr.retention_deleted, store_trim_name(t), NULL,
			              (double)n);
		if (done)
			return 0;
		/* as long a pause as the batch took: at most half a backend */
		if (pause_or_stop(r, took > RZ_RETENTION_PAUSE_S ? took : RZ_RETENTION_PAUSE_S,
		                  false))
			return 0;
	}
	rd->more = true;   /* the cursor stays: the next round goes on from it */
	return 0;
}

static void round_log(const struct round *rd, double secs)
{
	char line[512];
	size_t len = 0;
	long long total = 0;

	for (int t = 0; t < STORE_TRIM__MAX; t++) {
		total += rd->deleted[t];
		if (rd->deleted[t] > 0 && len < sizeof(line))
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			                        "%s%lld %s (%u days)", len > 0 ? ", " : "",
			                        rd->deleted[t], store_trim_name((enum store_trim)t),
			                        rd->days[t]);
	}
	if (total > 0)
		rz_log(RZ_LOG_INFO, "retention: deleted %s in %u batches, %.2f s%s", line,
		       rd->batches, secs, rd->more ? "; more next round" : "");
}

/* One round: true when the next should come soon (more rows, a failure). */
static bool round_run(struct rz_retention *r, PGconn **db)
{
	const struct rz_config *cfg = rz_live_get(r->live);
	struct round rd;
	char err[512] = "", unlock_err[256];
	double t0 = mono();
	bool locked = false;
	int ret = 0;

	memset(&rd, 0, sizeof(rd));
	for (int t = 0; t < STORE_TRIM__MAX; t++)
		rd.days[t] = rz_retention_days(cfg, (enum store_trim)t);
	rz_live_put(r->live, cfg);
	if (*db == NULL || PQstatus(*db) != CONNECTION_OK) {
		db_cancel_set(&r->cancel, NULL);
		PQfinish(*db);
		*db = NULL;
		if ((ret = db_connect(r->boot, db, err, sizeof(err))) == 0)
			db_cancel_set(&r->cancel, *db);
	}
	/* several daemons on one database: one trims, the others skip */
	if (ret == 0 && (ret = store_trim_lock(*db, &locked, err, sizeof(err))) == 0 && !locked)
		rz_log(RZ_LOG_DEBUG, "retention: another regzoned is trimming: skipped");
	for (int t = 0; t < STORE_TRIM__MAX && locked && ret == 0 &&
	     !atomic_load(&r->stopping); t++)
		if (rd.days[t] > 0)
			ret = trim_table(r, *db, (enum store_trim)t, &rd, err, sizeof(err));
	if (locked && PQstatus(*db) == CONNECTION_OK &&
	    store_trim_unlock(*db, ret == 0 ? err : unlock_err,
	                      ret == 0 ? sizeof(err) : sizeof(unlock_err)) != 0) {
		/* the lock goes with the session */
		db_cancel_set(&r->cancel, NULL);
		PQfinish(*db);
		*db = NULL;
		ret = ret != 0 ? ret : RZ_EDB;
	}
	round_log(&rd, mono() - t0);
	if (ret != 0 && !atomic_load(&r->stopping))
		rz_log(RZ_LOG_WARN, "retention: %s; again in %.0f s", err, RZ_RETENTION_SOON_S);
	return ret != 0 || rd.more;
}

static void *retention_main(void *arg)
{
	struct rz_retention *r = arg;
	PGconn *db = NULL;
	double wait = RZ_RETENTION_FIRST_S;

	while (!pause_or_stop(r, wait, true))
		wait = round_run(r, &db) ? RZ_RETENTION_SOON_S : RZ_RETENTION_ROUND_S;
	db_cancel_set(&r->cancel, NULL);
	PQfinish(db);
	return NULL;
}

int rz_retention_start(const struct rz_config *boot, struct rz_live *live, int stop_fd,
                       struct rz_retention **out)
{
	struct rz_retention *r = calloc(1, sizeof(*r));

	*out = NULL;
	if (r == NULL)
		return RZ_ENOMEM;
	r->boot = boot;
	r->live = live;
	r->daemon_stop_fd = stop_fd;
	db_cancel_init(&r->cancel);
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if ((r->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 || r->wake_fd < 0 ||
	    pthread_create(&r->thread, NULL, retention_main, r) != 0) {
		if (r->stop_fd >= 0)
			close(r->stop_fd);
		if (r->wake_fd >= 0)
			close(r->wake_fd);
		db_cancel_destroy(&r->cancel);
		free(r);
		return RZ_EIO;
	}
	*out = r;
	return 0;
}

void rz_retention_stop(struct rz_retention *r)
{
	uint64_t one = 1;

	if (r == NULL)
		return;
	atomic_store(&r->stopping, true);
	if (write(r->stop_fd, &one, sizeof(one)) != sizeof(one))
		rz_log(RZ_LOG_WARN, "retention: cannot stop it: %s", strerror(errno));
	db_cancel_fire(&r->cancel);
	pthread_join(r->thread, NULL);
	close(r->stop_fd);
	close(r->wake_fd);
	db_cancel_destroy(&r->cancel);
	free(r);
}

void rz_retention_wake(struct rz_retention *r)
{
	uint64_t one = 1;

	if (r != NULL && write(r->wake_fd, &one, sizeof(one)) != sizeof(one))
		rz_log(RZ_LOG_WARN, "retention: cannot wake it: %s", strerror(errno));
}
