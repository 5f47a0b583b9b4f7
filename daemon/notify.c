/*
 * notify.c - the service manager's notifications (see notify.h).
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "daemon/log.h"
#include "daemon/notify.h"

struct rz_notify {
	unsigned n;
	double step_max_s;
	_Atomic double *busy_since;   /* per thread: monotonic start of its unit, 0 idle */
	bool ready;
	uint64_t watchdog_usec;       /* 0: no watchdog asked for */
	double last_ping;
	bool wedged;                  /* as last seen: logged once per wedge */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int rz_notify_new(unsigned n_threads, double step_max_s, struct rz_notify **out)
{
	struct rz_notify *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (n == NULL || (n->busy_since = calloc(n_threads + 1, sizeof(*n->busy_since))) == NULL) {
		free(n);
		return RZ_ENOMEM;
	}
	n->n = n_threads;
	n->step_max_s = step_max_s;
	for (unsigned i = 0; i < n_threads; i++)
		atomic_init(&n->busy_since[i], 0.0);
	/* The service manager's interval, for this process only (WATCHDOG_PID). */
	if (sd_watchdog_enabled(0, &n->watchdog_usec) <= 0)
		n->watchdog_usec = 0;
	*out = n;
	return 0;
}

void rz_notify_free(struct rz_notify *n)
{
	if (n == NULL)
		return;
	free(n->busy_since);
	free(n);
}

void rz_notify_busy(struct rz_notify *n, unsigned i)
{
	if (n != NULL && i < n->n)
		atomic_store(&n->busy_since[i], mono());
}

void rz_notify_idle(struct rz_notify *n, unsigned i)
{
	if (n != NULL && i < n->n)
		atomic_store(&n->busy_since[i], 0.0);
}

/* A STATUS= text is one line (sd_notify reads newline-separated pairs). */
static void send_pairs(const char *first, const char *status)
{
	char buf[512];
	size_t k = 0;

	k = (size_t)snprintf(buf, sizeof(buf), "%s%sSTATUS=", first != NULL ? first : "",
	                     first != NULL ? "\n" : "");
	for (const char *s = status; s != NULL && *s != '\0' && k + 1 < sizeof(buf); s++)
		buf[k++] = *s == '\n' ? ' ' : *s;
	buf[k < sizeof(buf) ? k : sizeof(buf) - 1] = '\0';
	sd_notify(0, buf);
}

void rz_notify_ready(struct rz_notify *n, const char *status)
{
	if (n == NULL)
		return;
	send_pairs(n->ready ? NULL : "READY=1", status);
	n->ready = true;
}

void rz_notify_status(struct rz_notify *n, const char *status)
{
	if (n != NULL)
		send_pairs(NULL, status);
}

void rz_notify_stopping(struct rz_notify *n)
{
	if (n != NULL)
		sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

bool rz_notify_tick(struct rz_notify *n)
{
	double now = mono();
	unsigned wedged = 0, which = 0;
	double longest = 0;

	if (n == NULL)
		return true;
	for (unsigned i = 0; i < n->n; i++) {
		double since = atomic_load(&n->busy_since[i]);

		if (since > 0 && now - since > n->step_max_s) {
			if (now - since > longest) {
				longest = now - since;
				which = i;
			}
			wedged++;
		}
	}
	if (wedged > 0 && !n->wedged)
		rz_log(RZ_LOG_ERR, "%u thread%s wedged (thread %u busy for %.0f s, more than %.0f s): "
		       "%s", wedged, wedged == 1 ? "" : "s", which, longest, n->step_max_s,
		       n->watchdog_usec > 0 ? "no more watchdog pings" : "no watchdog to restart it");
	else if (wedged == 0 && n->wedged)
		rz_log(RZ_LOG_INFO, "every thread makes progress again");
	n->wedged = wedged > 0;
	if (n->watchdog_usec > 0 && wedged == 0 &&
	    now - n->last_ping >= (double)n->watchdog_usec / 2e6) {
		sd_notify(0, "WATCHDOG=1");
		n->last_ping = now;
	}
	return wedged == 0;
}
