/*
 * notify.h - what regzoned tells its service manager (sd_notify(3)):
 * READY=1 once it can do its work, STATUS= lines, STOPPING=1, and the
 * watchdog's WATCHDOG=1, sent only while the threads make progress.
 *
 * Progress: every thread (the intake, each worker) marks when a unit of
 * work starts and ends (rz_notify_busy / rz_notify_idle).  A thread busy
 * with one unit longer than step_max seconds is wedged (a lock that never
 * comes, a call with no bound); while one is, no WATCHDOG=1 goes out, so a
 * service manager with WatchdogSec= restarts the daemon.  Without
 * NOTIFY_SOCKET (not run by systemd) every call is a no-op but the wedge
 * is still logged.
 */
#ifndef RZ_NOTIFY_H
#define RZ_NOTIFY_H

#include <stdbool.h>

#include "daemon/rz_err.h"

struct rz_notify;

/* For n_threads threads (numbered 0..n_threads-1).  0 or RZ_ENOMEM. */
RZ_MUSTCHECK
int rz_notify_new(unsigned n_threads, double step_max_s, struct rz_notify **out);
void rz_notify_free(struct rz_notify *n);

/* Thread i starts a unit of work / is between units (waiting for work is
 * progress). */
void rz_notify_busy(struct rz_notify *n, unsigned i);
void rz_notify_idle(struct rz_notify *n, unsigned i);

/* READY=1 with a STATUS= line (once; later calls send the status only). */
void rz_notify_ready(struct rz_notify *n, const char *status);
void rz_notify_status(struct rz_notify *n, const char *status);
void rz_notify_stopping(struct rz_notify *n);

/* From the main loop, at least every second: WATCHDOG=1 when the
 * service manager asked for it (WATCHDOG_USEC), at half its interval, and
 * no thread is wedged.  Returns whether every thread makes progress. */
bool rz_notify_tick(struct rz_notify *n);

#endif
