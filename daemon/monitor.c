/*
 * monitor.c - the work's counts, read by a thread of its own (monitor.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/monitor.h"
#include "daemon/step.h"

struct rz_monitor {
	const struct rz_config *cfg;
	struct rz_primaries *primaries;
	pthread_t thread;
	int stop_fd;                 /* eventfd: readable once stopping */
	pthread_mutex_t lock;
	struct rz_monitor_snap snap;
	bool expiry_known;           /* snap.svc.expiring was read once */
	char err[256];
};

static void reading(struct rz_monitor *m, PGconn **db)
{
	struct rz_monitor_snap s;
	char err[256] = "";
	int ret = 0;

	bool expiry;

	memset(&s, 0, sizeof(s));
	/* the expiry counts of the last reading that made them, unless this
	 * one makes them again (the first, then every few minutes) */
	pthread_mutex_lock(&m->lock);
	memcpy(s.svc.expiring, m->snap.svc.expiring, sizeof(s.svc.expiring));
	expiry = !m->expiry_known || m->snap.readings % RZ_MONITOR_EXPIRY_EVERY == 0;
	pthread_mutex_unlock(&m->lock);
	if (*db == NULL || PQstatus(*db) != CONNECTION_OK) {
		PQfinish(*db);
		*db = NULL;
		ret = db_connect(m->cfg, db, err, sizeof(err));
	}
	if (ret == 0)
		ret = store_counts(*db, s.jobs, &s.n_jobs, &s.svc, expiry, err, sizeof(err));
	s.ok = ret == 0;
	for (size_t i = 0; i < s.n_jobs; i++) {
		s.due += s.jobs[i].due;
		s.running += s.jobs[i].running;
		s.waiting += s.jobs[i].waiting;
	}
	pthread_mutex_lock(&m->lock);
	if (!s.ok && m->snap.ok)
		rz_log(RZ_LOG_WARN, "monitor: %s", err);
	s.readings = m->snap.readings + 1;
	if (!s.ok) {
		/* keep the last good counts; say they are old */
		struct rz_monitor_snap keep = m->snap;

		keep.ok = false;
		keep.readings = s.readings;
		s = keep;
	}
	m->expiry_known |= s.ok && expiry;
	m->snap = s;
	snprintf(m->err, sizeof(m->err), "%s", err);
	pthread_mutex_unlock(&m->lock);
}

static void *monitor_main(void *arg)
{
	struct rz_monitor *m = arg;
	PGconn *db = NULL;

	for (;;) {
		struct pollfd p = { .fd = m->stop_fd, .events = POLLIN };

		reading(m, &db);
		if (poll(&p, 1, (int)(RZ_MONITOR_S * 1000)) != 0)
			break;
	}
	PQfinish(db);
	return NULL;
}

int rz_monitor_start(const struct rz_config *cfg, struct rz_primaries *primaries,
                     struct rz_monitor **out)
{
	struct rz_monitor *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return RZ_ENOMEM;
	m->cfg = cfg;
	m->primaries = primaries;
	pthread_mutex_init(&m->lock, NULL);
	if ((m->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0 ||
	    pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
		if (m->stop_fd >= 0)
			close(m->stop_fd);
		pthread_mutex_destroy(&m->lock);
		free(m);
		return RZ_EIO;
	}
	*out = m;
	return 0;
}

void rz_monitor_stop(struct rz_monitor *m)
{
	uint64_t one = 1;

	if (m == NULL)
		return;
	if (write(m->stop_fd, &one, sizeof(one)) != sizeof(one))
		rz_log(RZ_LOG_WARN, "monitor: cannot stop it: %s", strerror(errno));
	pthread_join(m->thread, NULL);
	close(m->stop_fd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

void rz_monitor_snap(struct rz_monitor *m, struct rz_monitor_snap *out)
{
	if (m == NULL) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&m->lock);
	*out = m->snap;
	pthread_mutex_unlock(&m->lock);
}

void rz_monitor_summary(struct rz_monitor *m, char *buf, size_t len)
{
	struct rz_monitor_snap s;
	char err[256];

	rz_monitor_snap(m, &s);
	pthread_mutex_lock(&m->lock);
	snprintf(err, sizeof(err), "%s", m->err);
	pthread_mutex_unlock(&m->lock);
	if (s.readings == 0) {
		snprintf(buf, len, "starting");
		return;
	}
	snprintf(buf, len, "%sjobs: %lld due, %lld running, %lld waiting; services: %lld active, "
	         "%lld certificate failed, %lld conflict, %lld error%s%.120s",
	         s.ok ? "" : "(database unreachable, counts as last read) ", s.due, s.running,
	         s.waiting, s.svc.active, s.svc.cert_failed, s.svc.dns_conflict, s.svc.dns_error,
	         s.ok ? "" : ": ", s.ok ? "" : err);
}

/* ---------------------------------------------------------- metrics */

/* The jobs' counts: arg is the column (0 due, 1 running, 2 waiting). */
struct jobs_gauge {
	struct rz_monitor *m;
	int column;
};
static struct jobs_gauge jobs_gauges[3];

static void collect_jobs(void *arg, struct rz_metric *g)
{
	const struct jobs_gauge *jg = arg;
	struct rz_monitor_snap s;

	rz_monitor_snap(jg->m, &s);
	if (s.readings == 0)
		return;
	for (size_t i = 0; i < s.n_jobs; i++) {
		const struct store_job_count *j = &s.jobs[i];
		long long v = jg->column == 0 ? j->due : jg->column == 1 ? j->running : j->waiting;

		rz_metric_set(g, rz_kind_name(j->kind), rz_step_name(j->step), (double)v);
	}
}

static void collect_services(void *arg, struct rz_metric *g)
{
	struct rz_monitor_snap s;

	rz_monitor_snap(arg, &s);
	if (s.readings == 0)
		return;
	rz_metric_set(g, "active", NULL, (double)s.svc.active);
	rz_metric_set(g, "certificate_failed", NULL, (double)s.svc.cert_failed);
	rz_metric_set(g, "conflict", NULL, (double)s.svc.dns_conflict);
	rz_metric_set(g, "error", NULL, (double)s.svc.dns_error);
	rz_metric_set(g, "all", NULL, (double)s.svc.total);
}

static void collect_expiry(void *arg, struct rz_metric *g)
{
	static const int days[] = STORE_EXPIRY_DAYS;
	struct rz_monitor_snap s;
	char within[16];

	rz_monitor_snap(arg, &s);
	if (s.readings == 0)
		return;
	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++) {
		if (days[i] < 0)
			snprintf(within, sizeof(within), "+Inf");
		else
			snprintf(within, sizeof(within), "%d", days[i]);
		rz_metric_set(g, within, NULL, (double)s.svc.expiring[i]);
	}
}

static void collect_up(void *arg, struct rz_metric *g)
{
	struct rz_monitor *m = arg;
	struct rz_monitor_snap s;
	size_t n = m->primaries != NULL ? rz_primaries_count(m->primaries) : 0, n_ok = 0;
	bool listed = n > 0;

	rz_monitor_snap(m, &s);
	if (s.readings > 0)
		rz_metric_set(g, "database", NULL, s.ok ? 1 : 0);
	/* knot:NAME per primary; knotd: all of them */
	for (size_t i = 0; i < n; i++) {
		struct rz_primary_rt *pr = rz_primaries_at(m->primaries, i);
		struct rz_zones *z = rz_primary_zones(pr);
		char comp[8 + RZ_PRIMARY_NAME_MAX];
		bool ok = rz_primary_answers(pr);

		if (rz_zones_generation(z) == 0) {
			listed = false;
			continue;
		}
		n_ok += ok;
		snprintf(comp, sizeof(comp), "knot:%s", rz_primary_name(pr));
		rz_metric_set(g, comp, NULL, ok ? 1 : 0);
	}
	if (listed)
		rz_metric_set(g, "knotd", NULL, n_ok == n ? 1 : 0);
}

void rz_monitor_metrics(struct rz_monitor *m)
{
	static const char *const names[3][2] = {
		{ "regzone_jobs_due", "Jobs due now and not claimed, by kind and step." },
		{ "regzone_jobs_running", "Jobs a worker runs now, by kind and step." },
		{ "regzone_jobs_waiting", "Jobs waiting for a later time (backoff, propagation, "
		  "the CA, a renewal), by kind and step." },
	};
	struct rz_metric *g;

	for (int i = 0; i < 3; i++) {
		jobs_gauges[i] = (struct jobs_gauge){ m, i };
		g = rz_metric_gauge(names[i][0], names[i][1], "kind", "step");
		rz_metric_on_scrape(g, collect_jobs, &jobs_gauges[i]);
	}
	g = rz_metric_gauge("regzone_services", "Services (domain, service) by state.", "state",
	                    NULL);
	rz_metric_on_scrape(g, collect_services, m);
	g = rz_metric_gauge("regzone_certificates_expiring",
	                    "Enabled services' current certificates expiring within the days "
	                    "given (cumulative; +Inf: all).", "within_days", NULL);
	rz_metric_on_scrape(g, collect_expiry, m);
	g = rz_metric_gauge("regzone_up", "Whether the database and knotd answered at the last "
	                    "look (1) or not (0): knot:NAME per primary, knotd for all.",
	                    "component", NULL);
	rz_metric_on_scrape(g, collect_up, m);
}
