/*
 * monitor.h - what the daemon's work looks like, read from PostgreSQL by a
 * thread of its own every RZ_MONITOR_S seconds (jobs due, running and
 * waiting by kind and step; services in conflict, in error, failed,
 * active), so that the status line and the metrics read a snapshot and
 * never wait on the database themselves.
 */
#ifndef RZ_MONITOR_H
#define RZ_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "daemon/primaries.h"

#define RZ_MONITOR_S 15.0
/* The certificates' expiry counts every this many readings (5 minutes):
 * they move by days, and their statement looks at every enabled service. */
#define RZ_MONITOR_EXPIRY_EVERY 20

struct rz_monitor;

/* The latest reading. */
struct rz_monitor_snap {
	bool ok;                     /* the latest reading succeeded */
	unsigned readings;           /* readings so far, good or failed */
	struct store_job_count jobs[STORE_JOB_COUNTS_MAX];
	size_t n_jobs;
	struct store_service_count svc;
	long long due, running, waiting;     /* the jobs' totals */
};

/* Start the thread (its own connection from cfg's database section, which
 * must outlive it; primaries, for knotd's reachability, may be NULL).  0,
 * RZ_ENOMEM or RZ_EIO. */
RZ_MUSTCHECK
int rz_monitor_start(const struct rz_config *cfg, struct rz_primaries *primaries,
                     struct rz_monitor **out);

/* Register the gauges read from the snapshot at each scrape (after
 * rz_metrics_init()): jobs due, running and waiting by kind and step,
 * services by state, certificates by days to expiry, and whether the
 * database and knotd answer.  The monitor must outlive the metrics
 * listener. */
void rz_monitor_metrics(struct rz_monitor *m);
/* Stop (within the database's connect and statement timeouts) and free. */
void rz_monitor_stop(struct rz_monitor *m);

void rz_monitor_snap(struct rz_monitor *m, struct rz_monitor_snap *out);

/* One line for STATUS=: "jobs: N due, M running, K waiting; services: A
 * active, F failed, C conflict, E error" (or that the database is not
 * reachable). */
void rz_monitor_summary(struct rz_monitor *m, char *buf, size_t len);

#endif
