/*
 * retention.h - the tables that only grow, trimmed by a thread of its own.
 *
 * Every RZ_RETENTION_ROUND_S seconds (the first round RZ_RETENTION_FIRST_S
 * after the start) the thread deletes, on its own PostgreSQL connection,
 * the rows older than their retention (audit.retention_days,
 * events.retention_days, read from the running configuration at each round:
 * a reload starts one, rz_retention_wake()), table after table, in batches of
 * STORE_TRIM_BATCH rows, each batch its own short transaction (bounded by
 * database.statement_timeout_ms), with a pause between batches at least as
 * long as the batch took: it never holds locks long and never takes more
 * than about half a backend.  A round reads at most RZ_RETENTION_BATCHES
 * batches per table; a table with more old rows goes on where it stopped
 * at the next round, RZ_RETENTION_SOON_S later.  A round that deleted
 * something logs one line; regzone_retention_deleted_total{table} counts.
 * Several daemons on one database: one trims at a time (an advisory lock),
 * the others skip the round.
 *
 * What is trimmed, and after how long (rz_retention_days()):
 *   events        events.retention_days, except the latest request of a
 *                 service the reconciler has not settled yet
 *   audit         audit.retention_days, except the lines of a service not
 *                 settled (dns or certificate on its way, in conflict,
 *                 error or failed)
 *   acme_events   audit.retention_days, but never less than the longest
 *                 acme.limits window (a day more): the budget reads them
 *   certificates  audit.retention_days after their expiry, when a newer
 *                 certificate of the service exists
 *   acme_orders   audit.retention_days after they finished, once nothing
 *                 names them (certificates, budget events, the cert job)
 * A retention of 0 keeps the table's rows forever.  Nothing else is
 * trimmed: service_periods is billing's record (one row per activation),
 * published_records rows are the ledger, knot_txns rows go with their
 * transaction (a dead session's row is what lets a stale Knot transaction
 * be aborted), jobs and services are one row per service.
 */
#ifndef RZ_RETENTION_H
#define RZ_RETENTION_H

#include <stdint.h>

#include "daemon/config.h"
#include "daemon/reload.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"

#define RZ_RETENTION_ROUND_S 300.0   /* between rounds */
#define RZ_RETENTION_SOON_S 30.0     /* after a round that stopped at its bound, or failed */
#define RZ_RETENTION_FIRST_S 5.0     /* the first round after the start */
#define RZ_RETENTION_BATCHES 100     /* batches of one table in one round */
#define RZ_RETENTION_PAUSE_S 0.05    /* the shortest pause between batches */

struct rz_retention;

/* Days after which table t's rows go under cfg, 0: kept forever. */
uint32_t rz_retention_days(const struct rz_config *cfg, enum store_trim t);

/*
 * Start the thread: its connection from boot's database section (boot must
 * outlive it), the retention from live at each round; stop_fd (or -1) is
 * polled, never read: once it is readable (the daemon stops) the thread
 * starts no other batch.  0, RZ_ENOMEM or RZ_EIO.
 */
RZ_MUSTCHECK
int rz_retention_start(const struct rz_config *boot, struct rz_live *live, int stop_fd,
                       struct rz_retention **out);

/* A round now, with the running configuration (after a reload: a lower
 * retention takes effect at once).  NULL: nothing. */
void rz_retention_wake(struct rz_retention *r);

/* Stop and free (NULL: nothing): a batch under way is cancelled; returns
 * within the database's connect timeout at worst (a connection being made). */
void rz_retention_stop(struct rz_retention *r);

#endif
