/*
 * regzoned - the regzone daemon.
 *
 *   regzoned -c FILE           run
 *   regzoned -c FILE --check   validate FILE and exit (0 ok, 1 error)
 *
 * main() reads the configuration, applies the schema, binds the request
 * (ROUTER) and feed (PUB) sockets (listen.c), starts a zone-list thread
 * per Knot primary (primaries.c, zones.c), the worker threads and the
 * intake thread, then waits for SIGTERM or SIGINT.  A request is checked,
 * stored in one PostgreSQL transaction and only then acknowledged; the
 * workers drive Knot toward the stored desired state (reconcile.c).  The intake never waits on knotd: it
 * reads the zone list from a snapshot.
 *
 * Stopping: SIGTERM stops the intake and lets each worker finish its step;
 * a database statement still running RZ_STOP_GRACE_S seconds later (a held
 * lock) is cancelled, so the daemon exits within a bound whatever
 * PostgreSQL does.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/certs.h"
#include "daemon/feed.h"
#include "daemon/hook.h"
#include "daemon/intake.h"
#include "daemon/jobs.h"
#include "daemon/instr.h"
#include "daemon/listen.h"
#include "daemon/metrics.h"
#include "daemon/monitor.h"
#include "daemon/notify.h"
#include "daemon/reload.h"
#include "daemon/request.h"
#include "daemon/retention.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "daemon/primaries.h"

#define MAX_WORKERS 64
#define WAIT_CAP 5.0           /* longest idle wait of a worker, seconds */
#define RZ_STOP_GRACE_S 5.0    /* after SIGTERM, statements still running are cancelled */
#define STATUS_EVERY_S 10.0    /* a new STATUS= line at most this often */
#define RZ_DEFAULT_CONFIG "/etc/regzone/regzone.yaml"

struct daemon {
	/* What a reload keeps (sockets, database, knot, workers): read by the
	 * long-lived parts (the ZAP handler, the zone list, connections). */
	const struct rz_config *cfg;
	struct rz_live *live;           /* profiles, limits, hook...: per unit of work */
	struct rz_notify *notify;       /* threads 0..n-1 workers, n the intake */
	struct rz_monitor *mon;
	struct rz_retention *retention;   /* old rows trimmed (retention.h) */
	struct rz_metrics_http *http;   /* metrics.listen, or NULL */
	unsigned n_workers;
	void *zctx;
	struct rz_listen sock;
	struct rz_feed feed;
	int stop_fd;                   /* eventfd: readable once stopping */
	atomic_bool stopping;
	atomic_int running;            /* intake and worker threads still running */
	bool listed_once;              /* every primary listed, one answered: logged */
	char host[64];
	struct rz_primaries *primaries;  /* each with its zone list and its lock */
	struct db_cancel cancels[MAX_WORKERS + 1];   /* [0] intake, [1+i] worker i */
};

struct worker {
	struct daemon *d;
	pthread_t thread;
	int index;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: regzoned [-c FILE] [--check]\n"
	        "  -c, --config FILE  configuration (YAML); default $REGZONE_CONFIG, then "
	        RZ_DEFAULT_CONFIG "\n"
	        "      --check        validate the configuration and exit\n"
	        "  -V, --version      print the version\n"
	        "  -h, --help         print this help\n"
	        "signals: SIGTERM, SIGINT stop; SIGHUP reloads the configuration's profiles,\n"
	        "limits, log level, hook and DNS servers (what needs a restart is logged)\n");
}

static enum rz_log_level level_from_name(const char *name)
{
	static const struct { const char *name; enum rz_log_level lvl; } levels[] = {
		{ "error", RZ_LOG_ERR }, { "warning", RZ_LOG_WARN },
		{ "info", RZ_LOG_INFO }, { "debug", RZ_LOG_DEBUG },
	};

	for (size_t i = 0; name != NULL && i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcmp(name, levels[i].name) == 0)
			return levels[i].lvl;
	return RZ_LOG_INFO;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait up to secs for fd to be readable or for the stop signal. */
static void wait_fd(struct daemon *d, int fd, double secs)
{
	struct pollfd p[2] = { { .fd = d->stop_fd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	poll(p, fd >= 0 ? 2 : 1, (int)(secs * 1000.0));
}

/* The worker's database connection, listening for new jobs; its cancel
 * slot follows it. */
static PGconn *worker_connect(struct worker *w)
{
	char err[512];
	double delay = 0.5;

	while (!atomic_load(&w->d->stopping)) {
		PGconn *c = NULL;
		PGresult *r;

		if (db_connect(w->d->cfg, &c, err, sizeof(err)) == 0) {
			r = PQexec(c, "LISTEN rz_jobs");
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				PQclear(r);
				db_cancel_set(&w->d->cancels[1 + w->index], c);
				return c;
			}
			snprintf(err, sizeof(err), "LISTEN: %s", PQerrorMessage(c));
			PQclear(r);
			PQfinish(c);
		}
		rz_log(RZ_LOG_WARN, "worker %d: %s; retrying in %.1f s", w->index, err, delay);
		wait_fd(w->d, -1, delay);
		delay = delay < 10 ? delay * 2 : 10;
	}
	return NULL;
}

static void worker_disconnect(struct worker *w, PGconn **db)
{
	db_cancel_set(&w->d->cancels[1 + w->index], NULL);
	PQfinish(*db);
	*db = NULL;
}

/* What a worker claims and runs at once: a job, or a batch of dns jobs of
 * one step (store_job_claim). */
struct work {
	struct rz_job jobs[RZ_CLAIM_MAX];
	struct rz_step_out out[RZ_CLAIM_MAX];
	struct store_finish fin[RZ_CLAIM_MAX];
	size_t n;
};

/* Claim free jobs, or with dead (none free) jobs of a session that is gone
 * (*took says so): 0 (w->n may be 0, then *secs says when the next is
 * due), or an error in err. */
static int claim(PGconn *db, const char *name, bool dead, struct work *w, double *secs,
                 bool *took, char *err, size_t errlen)
{
	double next_s = -1;
	int ret = store_job_claim(db, name, false, w->jobs, RZ_CLAIM_MAX, &w->n, secs, err,
	                          errlen);

	*took = false;
	if (ret != 0 || w->n > 0 || !dead)
		return ret;
	next_s = *secs;
	ret = store_job_claim(db, name, true, w->jobs, RZ_CLAIM_MAX, &w->n, secs, err, errlen);
	if (ret == 0 && w->n > 0) {
		rz_log_zone(RZ_LOG_INFO, w->jobs[0].domain, "took over %zu job%s claimed by a "
		            "session that is gone", w->n, w->n > 1 ? "s (this and others)" : "");
		*took = true;
	}
	*secs = next_s;   /* the free jobs' schedule, not the dead claims' */
	return ret;
}

/* The steps of the jobs claimed, their outcomes ready for
 * store_job_finish(); true when cert steps ran. */
static bool run_steps(struct daemon *d, const struct worker *w, const struct rz_step_ctx *ctx,
                      struct work *wk)
{
	bool cert = false;

	for (size_t i = 0; i < wk->n; i++)
		cert |= wk->jobs[i].kind == RZ_KIND_CERT;
	if (!cert) {
		rz_jobs_run(ctx, wk->jobs, wk->n, wk->out);   /* bounded as one */
	} else {
		/* cert steps (several only when a dead session's claims are
		 * taken over) each a unit of the watchdog's: each has its own
		 * bound (the CA's timeouts, the hook's) */
		for (size_t i = 0; i < wk->n; i++) {
			rz_notify_busy(d->notify, (unsigned)w->index);
			rz_job_run(ctx, &wk->jobs[i], &wk->out[i]);
		}
	}
	for (size_t i = 0; i < wk->n; i++) {
		const struct rz_job *job = &wk->jobs[i];

		rz_metric_inc(rz_instr.steps, rz_kind_name(job->kind), job->step_name);
		if (wk->out[i].res.failed)
			rz_metric_inc(rz_instr.step_retries, rz_kind_name(job->kind), job->step_name);
		wk->fin[i] = (struct store_finish){ .job = job, .res = &wk->out[i].res };
	}
	return cert;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	struct rz_step_ctx ctx = { .primaries = d->primaries };
	struct work *wk = calloc(1, sizeof(*wk));
	char name[128], err[1024];
	PGconn *db = NULL;
	double last_dead = 0;

	snprintf(name, sizeof(name), "%s:%ld:w%d", d->host, (long)getpid(), w->index);
	if (wk == NULL)
		rz_log(RZ_LOG_ERR, "worker %d: out of memory", w->index);
	while (wk != NULL && !atomic_load(&d->stopping)) {
		bool dead, took = false, cert = false;
		double secs;
		int ret;
		PGnotify *n;

		err[0] = '\0';
		rz_notify_idle(d->notify, (unsigned)w->index);
		if (db == NULL && (db = worker_connect(w)) == NULL)
			break;
		/* a primary that answers again: its failed jobs are due now */
		for (char back[RZ_PRIMARY_NAME_MAX + 1];
		     rz_primaries_take_back(d->primaries, back, sizeof(back));) {
			long long woken = 0;

			if (store_jobs_wake_primary(db, back, &woken, err, sizeof(err)) != 0)
				rz_log(RZ_LOG_WARN, "worker %d: %s", w->index, err);
			else if (woken > 0)
				rz_log(RZ_LOG_INFO, "knot primary '%s' answers again: %lld failed jobs "
				       "due now", back, woken);
			err[0] = '\0';
		}
		/* free jobs first; dead daemons' claims every few seconds */
		dead = mono() - last_dead > WAIT_CAP;
		if (dead)
			last_dead = mono();
		if (claim(db, name, dead, wk, &secs, &took, err, sizeof(err)) != 0) {
			rz_log(RZ_LOG_WARN, "worker %d: %s", w->index, err);
			worker_disconnect(w, &db);
			continue;
		}
		if (took)
			last_dead = 0;   /* a dead session's claims: look for more at once */
		if (wk->n == 0) {
			if (secs < 0 || secs > WAIT_CAP)
				secs = WAIT_CAP;
			/* something due but taken by another worker a moment ago:
			 * do not spin on it */
			wait_fd(d, PQsocket(db), secs > 0.01 ? secs : 0.01);
			if (!PQconsumeInput(db)) {
				worker_disconnect(w, &db);
				continue;
			}
			while ((n = PQnotifies(db)) != NULL)
				PQfreemem(n);
			continue;
		}
		/* One step of each job claimed: the configuration of the moment
		 * (a reload applies to the next), a unit of work the watchdog
		 * watches. */
		rz_notify_busy(d->notify, (unsigned)w->index);
		ctx.db = db;
		ctx.cfg = rz_live_get(d->live);
		cert = run_steps(d, w, &ctx, wk);
		/* what libcurl keeps open without close-on-exec (its connections'
		 * socketpairs) after a cert step; a dns step leaves nothing open
		 * (the control socket closes with its batch, the DNS sockets are
		 * close-on-exec), and a hook's child closes every fd anyway */
		if (cert)
			rz_cloexec_sweep();
		ret = store_job_finish(db, wk->fin, wk->n, err, sizeof(err));
		rz_live_put(d->live, ctx.cfg);
		ctx.cfg = NULL;
		for (size_t i = 0; i < wk->n; i++) {
			const struct store_finish *f = &wk->fin[i];

			if (ret != 0) {
				/* The claims die with this connection: another worker
				 * retakes them. */
				rz_log_zone(RZ_LOG_WARN, f->job->domain, "cannot record step %s: %s",
				            f->job->step_name, err);
			} else if (f->changed) {
				rz_log_zone(RZ_LOG_INFO, f->job->domain, "dns %s, certificate %s%s%s%s",
				            rz_dns_name(f->st.dns), rz_cert_name(f->st.cert),
				            f->st.active ? ", active" : "",
				            f->st.last_error[0] ? ": " : "", f->st.last_error);
				rz_feed_publish(&d->feed, &f->st);
			}
			rz_step_out_clear(&wk->out[i]);
			rz_job_clear(&wk->jobs[i]);
		}
		wk->n = 0;
		if (ret != 0)
			worker_disconnect(w, &db);
	}
	free(wk);
	rz_cert_thread_end();
	if (db != NULL && store_release_claims(db, err, sizeof(err)) != 0)
		rz_log(RZ_LOG_WARN, "worker %d: releasing claims: %s", w->index, err);
	worker_disconnect(w, &db);
	atomic_fetch_sub(&d->running, 1);
	return NULL;
}

static void *intake_main(void *arg)
{
	struct daemon *d = arg;
	struct rz_intake in = {
		.boot = d->cfg, .live = d->live, .router = d->sock.router, .stop_fd = d->stop_fd,
		.stopping = &d->stopping, .primaries = d->primaries, .feed = &d->feed,
		.cancel = &d->cancels[0], .notify = d->notify, .notify_index = d->n_workers,
	};

	if (rz_intake_serve(&in) != 0)
		rz_log(RZ_LOG_ERR, "the intake stopped on an error");
	atomic_fetch_sub(&d->running, 1);
	return NULL;
}

static void *zap_main(void *arg)
{
	struct daemon *d = arg;

	rz_zap_serve(d->sock.zap, d->cfg);
	return NULL;
}

/* SIGHUP: the configuration read again; a broken file changes nothing. */
static void reload(struct daemon *d)
{
	char err[1024];
	unsigned kept = 0;
	const struct rz_config *cfg;

	if (rz_live_reload(d->live, &kept, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "reload: %s: the running configuration is kept", err);
		return;
	}
	cfg = rz_live_get(d->live);
	rz_log_set_level(level_from_name(cfg->log_level));
	rz_log(RZ_LOG_INFO, "reload: %s applied (%zu profiles, default '%s', %zu knot primaries, "
	       "%zu DNS servers of the first)%s",
	       cfg->path, cfg->n_profiles, cfg->default_profile, cfg->n_primaries,
	       cfg->n_primaries > 0 ? cfg->primaries[0].n_servers : 0,
	       kept > 0 ? "; what needs a restart was kept as running" : "");
	rz_live_put(d->live, cfg);
	rz_retention_wake(d->retention);   /* a new retention applies at once */
}

/* READY=1 once every primary's first zone listing ended, one at least
 * succeeded (the zones listed by two primaries are logged then), and the
 * monitor read the
 * database (the schema is migrated and the sockets bound before the
 * threads start); then a status line now and then, and the watchdog. */
static void tell_manager(struct daemon *d, bool *ready, double *last_status)
{
	char line[400], why[256];

	rz_notify_tick(d->notify);
	if (mono() - *last_status < STATUS_EVERY_S && *ready)
		return;
	if (!*ready) {
		struct rz_monitor_snap snap;

		rz_monitor_snap(d->mon, &snap);
		rz_primaries_last_error(d->primaries, why, sizeof(why));
		/* every primary listed once, one at least answered (logged once) */
		if (!d->listed_once && rz_primaries_all_listed(d->primaries) &&
		    rz_primaries_n_ok(d->primaries) > 0) {
			rz_primaries_log_ready(d->primaries);
			d->listed_once = true;
		}
		if (!d->listed_once || snap.readings == 0) {
			if (mono() - *last_status >= STATUS_EVERY_S) {
				snprintf(line, sizeof(line), "waiting for %s%s%.200s",
				         snap.readings == 0 ? "the first look at the database" :
				         "knotd's zone list", why[0] ? ": " : "", why);
				rz_notify_status(d->notify, line);
				*last_status = mono();
			}
			return;
		}
		rz_log(RZ_LOG_INFO, "ready: knotd's zones listed");
	}
	rz_monitor_summary(d->mon, line, sizeof(line));
	rz_notify_ready(d->notify, line);
	*ready = true;
	*last_status = mono();
}

/*
 * Wait for SIGTERM/SIGINT (SIGHUP reloads), then stop: every thread is told
 * at once, and a database statement still running RZ_STOP_GRACE_S seconds
 * later is cancelled (again every second) so that a lock held elsewhere
 * cannot keep the daemon from exiting.
 */
static void wait_signals(struct daemon *d, int sigfd)
{
	struct signalfd_siginfo si;
	double since = 0, last_status = -STATUS_EVERY_S;
	bool ready = false;
	uint64_t one = 1;

	while (!atomic_load(&d->stopping)) {
		struct pollfd p = { .fd = sigfd, .events = POLLIN };

		if (atomic_load(&d->running) <= 0) {
			rz_log(RZ_LOG_ERR, "every thread ended: stopping");
			break;
		}
		tell_manager(d, &ready, &last_status);
		if (poll(&p, 1, 250) <= 0 || read(sigfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			reload(d);
			continue;
		}
		rz_log(RZ_LOG_INFO, "signal %u: stopping", si.ssi_signo);
		break;
	}
	rz_notify_stopping(d->notify);
	atomic_store(&d->stopping, true);
	if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
		rz_log(RZ_LOG_WARN, "cannot wake the threads: %s", strerror(errno));
	since = mono();
	while (atomic_load(&d->running) > 0) {
		struct pollfd p = { .fd = sigfd, .events = POLLIN };
		unsigned cancelled = 0;

		if (poll(&p, 1, 100) > 0 && read(sigfd, &si, sizeof(si)) == sizeof(si))
			rz_log(RZ_LOG_INFO, "signal %u: already stopping", si.ssi_signo);
		if (mono() - since < RZ_STOP_GRACE_S)
			continue;
		for (size_t i = 0; i < sizeof(d->cancels) / sizeof(d->cancels[0]); i++)
			cancelled += db_cancel_fire(&d->cancels[i]);
		if (cancelled > 0)
			rz_log(RZ_LOG_WARN, "stopping: cancelled %u database statement%s still running "
			       "after %.0f s", cancelled, cancelled == 1 ? "" : "s", RZ_STOP_GRACE_S);
		since = mono() - RZ_STOP_GRACE_S + 1.0;   /* again in a second */
	}
}

/* Before anything starts: the schema, the zone-list thread, the sockets. */
static int start_up(struct daemon *d)
{
	const struct rz_config *cfg = d->cfg;
	char err[1024];
	PGconn *db = NULL;
	int applied, ret;

	if (cfg->insecure_tcp)
		rz_log(RZ_LOG_WARN, "listen.insecure_tcp is true: a tcp:// endpoint without CURVE "
		       "lets anyone who reaches it publish records and get certificates");
	if (db_connect(cfg, &db, err, sizeof(err)) != 0 ||
	    db_migrate(db, &applied, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "%s", err);
		PQfinish(db);
		return 1;
	}
	PQfinish(db);
	if (applied > 0)
		rz_log(RZ_LOG_INFO, "%d migrations applied", applied);
	if (rz_cert_start(cfg, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "acme.public_suffix_list: %s", err);
		return 1;
	}
	if ((ret = rz_primaries_start(cfg, &d->primaries)) != 0) {
		rz_log(RZ_LOG_ERR, "zone list: %s", rz_strerror(ret));
		return 1;
	}
	if ((d->zctx = zmq_ctx_new()) == NULL ||
	    rz_listen_open(cfg, d->zctx, &d->sock, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "%s", d->zctx == NULL ? "cannot create a ZeroMQ context" : err);
		return 1;
	}
	rz_feed_init(&d->feed, d->sock.pub);
	if ((ret = rz_monitor_start(cfg, d->primaries, &d->mon)) != 0) {
		rz_log(RZ_LOG_ERR, "monitor: %s", rz_strerror(ret));
		return 1;
	}
	rz_monitor_metrics(d->mon);
	if ((ret = rz_retention_start(cfg, d->live, d->stop_fd, &d->retention)) != 0) {
		rz_log(RZ_LOG_ERR, "retention: %s", rz_strerror(ret));
		return 1;
	}
	if (cfg->metrics_listen != NULL) {
		if (rz_metrics_http_start(cfg->metrics_addr, cfg->metrics_port, &d->http, err,
		                          sizeof(err)) != 0) {
			rz_log(RZ_LOG_ERR, "metrics.listen: %s", err);
			return 1;
		}
		rz_log(RZ_LOG_INFO, "metrics on http://%s%s%s:%u/metrics",
		       strchr(cfg->metrics_addr, ':') ? "[" : "", cfg->metrics_addr,
		       strchr(cfg->metrics_addr, ':') ? "]" : "", (unsigned)cfg->metrics_port);
	}
	rz_log(RZ_LOG_INFO, "serving requests on %s, state feed on %s%s", cfg->requests, cfg->feed,
	       cfg->curve ? " (CURVE)" : "");
	return 0;
}

static int run(const struct rz_config *cfg, struct rz_live *live)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct worker workers[MAX_WORKERS];
	pthread_t zap, intake;
	bool zap_started = false, intake_started = false, feed = false;
	sigset_t mask;
	int sigfd = -1, rc = 1;
	uint32_t n_workers = cfg->workers < MAX_WORKERS ? cfg->workers : MAX_WORKERS;
	uint32_t started = 0;

	if (d == NULL)
		return 1;
	d->cfg = cfg;
	d->live = live;
	d->n_workers = n_workers;
	d->stop_fd = -1;
	for (size_t i = 0; i < sizeof(d->cancels) / sizeof(d->cancels[0]); i++)
		db_cancel_init(&d->cancels[i]);
	gethostname(d->host, sizeof(d->host) - 1);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	/* Signals are read from a signalfd by the main thread only; every
	 * thread inherits the mask (a hook gets default ones: hook.c). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (sigfd < 0 || d->stop_fd < 0) {
		rz_log(RZ_LOG_ERR, "signalfd/eventfd: %s", strerror(errno));
		goto out;
	}
	if (rz_notify_new(n_workers + 1, cfg->step_timeout_s, &d->notify) != 0)
		goto out;
	if (start_up(d) != 0)
		goto stop;
	feed = true;
	if (d->sock.zap != NULL) {
		if (pthread_create(&zap, NULL, zap_main, d) != 0)
			goto stop;
		zap_started = true;
	}
	for (started = 0; started < n_workers; started++) {
		workers[started].d = d;
		workers[started].index = (int)started;
		atomic_fetch_add(&d->running, 1);
		if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started])) {
			atomic_fetch_sub(&d->running, 1);
			break;
		}
	}
	atomic_fetch_add(&d->running, 1);
	if (pthread_create(&intake, NULL, intake_main, d) != 0) {
		atomic_fetch_sub(&d->running, 1);
		rz_log(RZ_LOG_ERR, "cannot start the intake thread");
		goto stop;
	}
	intake_started = true;
	if (n_workers == 0)
		rz_log(RZ_LOG_INFO, "regzoned %s: intake only (workers: 0): requests are stored, "
		       "other regzoned processes on this database publish them", REGZONE_VERSION);
	else
		rz_log(RZ_LOG_INFO, "regzoned %s: %u workers", REGZONE_VERSION, started);
	wait_signals(d, sigfd);
	rc = 0;
stop:
	/* the listener's collect functions read the monitor: first out */
	rz_metrics_http_stop(d->http);
	d->http = NULL;
	atomic_store(&d->stopping, true);
	{
		uint64_t one = 1;

		if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
			rz_log(RZ_LOG_WARN, "cannot wake the workers: %s", strerror(errno));
	}
	if (intake_started)
		pthread_join(intake, NULL);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	rz_cert_end();
	rz_retention_stop(d->retention);
	rz_monitor_stop(d->mon);
	rz_primaries_stop(d->primaries);
	if (d->zctx != NULL) {
		void *zap_sock = d->sock.zap;

		d->sock.zap = NULL;
		rz_listen_close(&d->sock);
		zmq_ctx_shutdown(d->zctx);
		if (zap_started)
			pthread_join(zap, NULL);
		if (zap_sock != NULL)
			zmq_close(zap_sock);
		zmq_ctx_term(d->zctx);
	}
	if (feed)
		rz_feed_destroy(&d->feed);
	rz_log(RZ_LOG_INFO, "stopped");
out:
	if (sigfd >= 0)
		close(sigfd);
	if (d->stop_fd >= 0)
		close(d->stop_fd);
	for (size_t i = 0; i < sizeof(d->cancels) / sizeof(d->cancels[0]); i++)
		db_cancel_destroy(&d->cancels[i]);
	rz_notify_free(d->notify);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct rz_config *cfg = NULL, *running = NULL;
	struct rz_live *live = NULL;
	const char *path = getenv("REGZONE_CONFIG");
	char err[1024];
	int check = 0, opt, rc;

	while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'k': check = 1; break;
		case 'V': printf("regzoned %s\n", REGZONE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (path == NULL || path[0] == '\0')
		path = RZ_DEFAULT_CONFIG;
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		/* the files it names must be usable too */
		if (rz_listen_check(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: %s\n", path, err);
			rz_config_free(cfg);
			return 1;
		}
		if (rz_cert_start(cfg, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: acme.public_suffix_list: %s\n", path, err);
			rz_cert_end();
			rz_config_free(cfg);
			return 1;
		}
		rz_cert_end();
		printf("%s: ok (%zu profiles, default '%s')\n", path, cfg->n_profiles,
		       cfg->default_profile);
		rz_config_free(cfg);
		return 0;
	}
	rz_log_set_level(level_from_name(cfg->log_level));
	if (rz_metrics_init() != 0) {
		fprintf(stderr, "regzoned: out of memory\n");
		rz_config_free(cfg);
		return 1;
	}
	rz_instr_init();
	/* Two copies: cfg keeps what a reload cannot change for the parts that
	 * hold on to it; the live one is replaced by reloads. */
	if (rz_config_load(path, &running, err, sizeof(err)) != 0 ||
	    rz_live_new(running, &live) != 0) {
		fprintf(stderr, "%s\n", running == NULL ? err : "out of memory");
		rz_config_free(running);
		rz_config_free(cfg);
		rz_metrics_free();
		return 1;
	}
	rc = run(cfg, live);
	rz_live_free(live);
	rz_config_free(cfg);
	rz_metrics_free();
	return rc;
}
