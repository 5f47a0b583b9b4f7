/*
 * regzoned - the regzone daemon.
 *
 *   regzoned -c FILE           run
 *   regzoned -c FILE --check   validate FILE and exit (0 ok, 1 error)
 *
 * main() reads the configuration, applies the schema, binds the request
 * (ROUTER) and feed (PUB) sockets, starts the worker threads and serves
 * requests until SIGTERM or SIGINT.  A request is checked, stored in one
 * PostgreSQL transaction and only then acknowledged; the workers drive Knot
 * toward the stored desired state (reconcile.c).
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
#include "daemon/reconcile.h"
#include "daemon/request.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

#define MAX_WORKERS 64
#define ZONES_MAX_AGE 60.0     /* relist knotd's zones at least this often, s */
#define ZONES_MIN_AGE 1.0      /* ... and on a miss at most this often */
#define ZONES_RETRY 5.0        /* after a failed listing, keep the old list this long */
#define WAIT_CAP 5.0           /* longest idle wait of a worker, seconds */
#define INTAKE_BATCH 256       /* requests stored in one transaction, at most */

/* The zones knotd serves, as of the last listing (intake checks every
 * enable against it without a control round trip per request). */
struct zone_set {
	char **names;
	size_t n;
	char **slots;            /* open addressing over names */
	size_t n_slots;
	double loaded;           /* monotonic seconds; 0 = never */
	double tried;            /* last listing attempt, failed or not */
};

struct daemon {
	const struct rz_config *cfg;
	void *zctx;
	void *pub;
	pthread_mutex_t pub_lock;
	pthread_mutex_t knot_lock;      /* workers' use of knotd's control socket */
	int stop_fd;                   /* eventfd: readable once stopping */
	atomic_bool stopping;
	char host[64];
	struct zone_set zones;
};

struct worker {
	struct daemon *d;
	pthread_t thread;
	int index;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: regzoned -c FILE [--check]\n"
	        "  -c, --config FILE  configuration (YAML)\n"
	        "      --check        validate the configuration and exit\n"
	        "  -V, --version      print the version\n");
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

/* Publish one state object on the feed: [domain][json]. */
static void feed_publish(struct daemon *d, const struct rz_state *st)
{
	json_t *j = rz_state_json(st);
	char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text == NULL)
		return;
	pthread_mutex_lock(&d->pub_lock);
	if (zmq_send(d->pub, st->domain, strlen(st->domain), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
		zmq_send(d->pub, text, strlen(text), ZMQ_DONTWAIT);
	pthread_mutex_unlock(&d->pub_lock);
	free(text);
}

/* Wait up to secs for fd to be readable or for the stop signal. */
static void wait_fd(struct daemon *d, int fd, double secs)
{
	struct pollfd p[2] = { { .fd = d->stop_fd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };

	poll(p, fd >= 0 ? 2 : 1, (int)(secs * 1000.0));
}

static PGconn *worker_connect(struct worker *w)
{
	char err[512];
	double delay = 0.5;

	while (!atomic_load(&w->d->stopping)) {
		PGconn *c = NULL;
		PGresult *r;

		if (db_connect(w->d->cfg->db_conninfo, &c, err, sizeof(err)) == 0) {
			r = PQexec(c, "LISTEN rz_jobs");
			if (PQresultStatus(r) == PGRES_COMMAND_OK) {
				PQclear(r);
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

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct daemon *d = w->d;
	char name[128], err[1024];
	PGconn *db = NULL;
	double last_dead = 0;

	snprintf(name, sizeof(name), "%s:%ld:w%d", d->host, (long)getpid(), w->index);
	while (!atomic_load(&d->stopping)) {
		struct rz_job job;
		struct rz_step_out out;
		struct rz_state st;
		bool got = false, stale = false, changed = false, dead;
		double secs;
		PGnotify *n;

		err[0] = '\0';

		if (db == NULL && (db = worker_connect(w)) == NULL)
			break;
		/* free jobs first; dead daemons' claims every few seconds */
		dead = mono() - last_dead > WAIT_CAP;
		if (dead)
			last_dead = mono();
		if (store_job_claim(db, name, false, &job, &got, &secs, err, sizeof(err)) == 0 &&
		    !got && dead) {
			double next_s = secs;

			if (store_job_claim(db, name, true, &job, &got, &secs, err, sizeof(err)) == 0 &&
			    got)
				rz_log_zone(RZ_LOG_INFO, job.domain, "took over a job claimed by a "
				            "session that is gone");
			secs = next_s;   /* the free jobs' schedule, not the dead claims' */
		}
		if (err[0] != '\0') {
			rz_log(RZ_LOG_WARN, "worker %d: %s", w->index, err);
			PQfinish(db);
			db = NULL;
			continue;
		}
		if (!got) {
			if (secs < 0 || secs > WAIT_CAP)
				secs = WAIT_CAP;
			/* something due but taken by another worker a moment ago:
			 * do not spin on it */
			wait_fd(d, PQsocket(db), secs > 0.01 ? secs : 0.01);
			if (!PQconsumeInput(db)) {
				PQfinish(db);
				db = NULL;
				continue;
			}
			while ((n = PQnotifies(db)) != NULL)
				PQfreemem(n);
			continue;
		}
		rz_step_run(d->cfg, &d->knot_lock, db, &job, &out);
		if (store_job_finish(db, &job, &out.res, &stale, &changed, &st, err,
		                     sizeof(err)) != 0) {
			/* The claim dies with this connection: another worker retakes it. */
			rz_log_zone(RZ_LOG_WARN, job.domain, "cannot record step %s: %s", job.step, err);
			PQfinish(db);
			db = NULL;
		} else if (changed) {
			rz_log_zone(RZ_LOG_INFO, job.domain, "dns %s, certificate %s%s%s%s", st.dns,
			            st.cert_state, st.active ? ", active" : "",
			            st.last_error[0] ? ": " : "", st.last_error);
			feed_publish(d, &st);
		}
		free(out.state_json);
		rz_job_clear(&job);
	}
	rz_cert_thread_end();
	if (db != NULL) {
		if (store_release_claims(db, err, sizeof(err)) != 0)
			rz_log(RZ_LOG_WARN, "worker %d: releasing claims: %s", w->index, err);
		PQfinish(db);
	}
	return NULL;
}

static size_t zone_hash(const char *name, size_t n_slots)
{
	size_t h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	return h % n_slots;
}

static bool zones_has(const struct zone_set *zs, const char *name)
{
	if (zs->n_slots == 0)
		return false;
	for (size_t h = zone_hash(name, zs->n_slots); zs->slots[h] != NULL;
	     h = (h + 1) % zs->n_slots)
		if (strcmp(zs->slots[h], name) == 0)
			return true;
	return false;
}

static void zones_clear(struct zone_set *zs)
{
	zg_knot_zones_free(zs->names, zs->n);
	free(zs->slots);
	memset(zs, 0, sizeof(*zs));
}

/* List knotd's zones again; on failure the old list stays. */
static int zones_refresh(struct daemon *d, char *err, size_t errlen)
{
	struct zone_set next = { 0 };
	struct zg_knot *k = NULL;
	int ret;

	d->zones.tried = mono();
	if ((ret = zg_knot_open(d->cfg->knot_socket, d->cfg->knot_timeout_ms, &k, err,
	                        errlen)) != 0)
		return ret;
	ret = zg_knot_zones(k, &next.names, &next.n, err, errlen);
	zg_knot_close(k);
	if (ret != 0)
		return ret;
	next.n_slots = next.n * 2 + 1;
	if ((next.slots = calloc(next.n_slots, sizeof(*next.slots))) == NULL) {
		zones_clear(&next);
		return RZ_ENOMEM;
	}
	for (size_t i = 0; i < next.n; i++) {
		size_t h = zone_hash(next.names[i], next.n_slots);

		while (next.slots[h] != NULL)
			h = (h + 1) % next.n_slots;
		next.slots[h] = next.names[i];
	}
	next.loaded = next.tried = mono();
	zones_clear(&d->zones);
	d->zones = next;
	return 0;
}

/* Is domain in a zone knotd serves (the domain itself or its closest
 * parent with two labels or more)?  0 with zone set, RZ_ENOENT, or an
 * error (knotd unreachable and no list yet) with err set. */
static int zone_lookup(struct daemon *d, const char *domain, char *zone, size_t zonelen,
                       char *err, size_t errlen)
{
	double age = mono() - d->zones.loaded;
	int ret;

	/* A knotd that does not answer must not stall every request: after a
	 * failed listing, the old list serves for ZONES_RETRY seconds. */
	if ((d->zones.loaded == 0 || age > ZONES_MAX_AGE) &&
	    mono() - d->zones.tried > (d->zones.loaded == 0 ? ZONES_MIN_AGE : ZONES_RETRY)) {
		ret = zones_refresh(d, err, errlen);
		if (ret != 0 && d->zones.loaded == 0)
			return ret;
		if (ret != 0)
			rz_log(RZ_LOG_WARN, "cannot list knotd's zones (using the list from %.0f s "
			       "ago): %s", age, err);
	}
	if (d->zones.loaded == 0) {
		snprintf(err, errlen, "knotd's zone list is not available yet");
		return RZ_EIO;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (const char *c = domain; c != NULL && strchr(c, '.') != NULL;
		     c = strchr(c, '.') + 1) {
			if (zones_has(&d->zones, c)) {
				snprintf(zone, zonelen, "%s", c);
				return 0;
			}
		}
		/* A zone added since the last listing: look again, not too often. */
		if (pass > 0 || mono() - d->zones.tried < ZONES_MIN_AGE)
			break;
		if ((ret = zones_refresh(d, err, errlen)) != 0)
			return ret;   /* cannot tell: unavailable, not "not served" */
	}
	snprintf(err, errlen, "no zone served by knotd holds %s", domain);
	return RZ_ENOENT;
}

/* (Re)connect the intake's database connection. */
static int intake_connect(struct daemon *d, PGconn **db, char *err, size_t errlen)
{
	if (*db != NULL && PQstatus(*db) == CONNECTION_OK)
		return 0;
	PQfinish(*db);
	*db = NULL;
	if (db_connect(d->cfg->db_conninfo, db, err, errlen) != 0)
		return RZ_EDB;
	if (store_intake_prepare(*db, err, errlen) != 0) {
		PQfinish(*db);
		*db = NULL;
		return RZ_EDB;
	}
	return 0;
}

/* One message from the request socket and what becomes of it. */
struct msg {
	zmq_msg_t frames[4];
	int n_frames;
	struct rz_req req;
	char zone[ZG_OWNER_SIZE];
	char *reply;            /* set once answered */
	bool in_batch;
	struct store_intake_item item;
};

static void msg_free(struct msg *m)
{
	for (int i = 0; i < m->n_frames; i++)
		zmq_msg_close(&m->frames[i]);
	rz_req_clear(&m->req);
	free(m->reply);
	free(m->item.reply);
}

/* Check one request; answer it unless it needs the database batch. */
static void intake_check(struct daemon *d, struct msg *m)
{
	struct rz_req_error rerr;
	const zmq_msg_t *body;
	char err[1024] = "";
	int ret;

	memset(&m->req, 0, sizeof(m->req));
	if (!(m->n_frames == 3 && zmq_msg_size(&m->frames[1]) == 0) && m->n_frames != 2) {
		m->reply = rz_reply_error(NULL, RZ_RC_BAD_REQUEST, "expected one JSON object per "
		                          "message");
		return;
	}
	body = &m->frames[m->n_frames - 1];
	if (rz_req_parse(d->cfg, zmq_msg_data((zmq_msg_t *)body), zmq_msg_size(body), &m->req,
	                 &rerr) != 0) {
		rz_log(RZ_LOG_INFO, "request %s refused: %s: %s",
		       m->req.id[0] ? m->req.id : "(no id)", rz_rcode_name(rerr.code), rerr.message);
		m->reply = rz_reply_error(m->req.id, rerr.code, rerr.message);
		return;
	}
	if (m->req.action == RZ_ACT_ENABLE) {
		ret = zone_lookup(d, m->req.domain, m->zone, sizeof(m->zone), err, sizeof(err));
		if (ret == RZ_ENOENT) {
			m->reply = rz_reply_error(m->req.id, RZ_RC_ZONE_NOT_SERVED, err);
			return;
		}
		if (ret != 0) {
			rz_log_zone(RZ_LOG_WARN, m->req.domain, "request %s: %s", m->req.id, err);
			m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "cannot reach knotd to "
			                          "check the zone; try again later");
			return;
		}
	}
	if (m->req.action != RZ_ACT_STATUS) {
		m->in_batch = true;
		m->item.req = &m->req;
		m->item.zone = m->zone;
	}
}

static void answer_status(struct daemon *d, PGconn **db, struct msg *m)
{
	struct rz_state st;
	char err[1024];
	bool found;

	if (intake_connect(d, db, err, sizeof(err)) == 0 &&
	    store_state(*db, m->req.domain, m->req.service, &st, &found, err, sizeof(err)) == 0) {
		json_t *j = rz_state_json(&st);

		m->reply = rz_reply_ok(m->req.id, j);
		json_decref(j);
		return;
	}
	if (*db != NULL && PQstatus(*db) != CONNECTION_OK) {
		PQfinish(*db);
		*db = NULL;
	}
	rz_log_zone(RZ_LOG_ERR, m->req.domain, "status %s: %s", m->req.id, err);
	m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "the database is unavailable; "
	                          "try again later");
}

/*
 * Store the batched requests: one transaction for all; if it fails, once
 * more after a reconnect, then one by one so that a single bad item cannot
 * refuse the others.  Nothing is acknowledged that was not committed.
 */
static void store_batch(struct daemon *d, PGconn **db, struct msg **batch, size_t n)
{
	struct store_intake_item *items = calloc(n, sizeof(*items));
	char err[1024] = "";
	int ret = RZ_ENOMEM;

	for (size_t i = 0; items != NULL && i < n; i++)
		items[i] = batch[i]->item;
	for (int attempt = 0; items != NULL && attempt < 2; attempt++) {
		if ((ret = intake_connect(d, db, err, sizeof(err))) != 0)
			continue;
		if ((ret = store_intake_batch(*db, items, n, err, sizeof(err))) == 0)
			break;
		if (PQstatus(*db) == CONNECTION_OK)
			break;
	}
	if (ret != 0 && n > 1 && items != NULL && *db != NULL && PQstatus(*db) == CONNECTION_OK) {
		rz_log(RZ_LOG_WARN, "batch of %zu not stored (%s): storing one by one", n, err);
		for (size_t i = 0; i < n; i++)
			if (store_intake_batch(*db, &items[i], 1, err, sizeof(err)) != 0)
				rz_log_zone(RZ_LOG_ERR, items[i].req->domain, "request %s not stored: %s",
				            items[i].req->id, err);
		ret = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct msg *m = batch[i];

		if (items != NULL && ret == 0 && items[i].reply != NULL) {
			m->reply = items[i].reply;
			items[i].reply = NULL;
			rz_log_zone(RZ_LOG_INFO, m->req.domain, "event %s: %s%s", m->req.id,
			            rz_action_name(m->req.action), items[i].replayed ? " (replay)" :
			            items[i].changed ? "" : " (no change)");
			if (items[i].changed)
				feed_publish(d, &items[i].st);
		} else {
			if (ret != 0)
				rz_log_zone(RZ_LOG_ERR, m->req.domain, "request %s not stored: %s",
				            m->req.id, err);
			m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "the database is "
			                          "unavailable; nothing was stored, try again later");
		}
	}
	free(items);
}

/* Read a Z85 CURVE key file (40 characters); secret files must be private. */
static int read_key(const char *path, bool secret, char key[41], char *err, size_t errlen)
{
	struct stat sb;
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return RZ_EIO;
	}
	if (secret && (sb.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: a secret key must not be readable by group or others "
		         "(chmod 600)", path);
		close(fd);
		return RZ_EINVAL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 40 || (n > 40 && buf[40] != '\n' && buf[40] != '\r')) {
		snprintf(err, errlen, "%s: not a Z85 CURVE key (40 characters)", path);
		explicit_bzero(buf, sizeof(buf));
		return RZ_EINVAL;
	}
	memcpy(key, buf, 40);
	key[40] = '\0';
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/* ZAP handler (RFC 27): CURVE clients whose key is on the allow-list pass. */
static void *zap_main(void *arg)
{
	struct daemon *d = arg;
	void *s = zmq_socket(d->zctx, ZMQ_REP);

	if (s == NULL || zmq_bind(s, "inproc://zeromq.zap.01") != 0) {
		rz_log(RZ_LOG_ERR, "ZAP handler: %s", zmq_strerror(errno));
		if (s != NULL)
			zmq_close(s);
		return NULL;
	}
	for (;;) {
		char frames[7][256];
		size_t sizes[7];
		int more = 1, nf = 0;
		size_t ml = sizeof(more);
		const char *status = "400", *text = "not allowed";
		char z85[41] = "";

		while (more && nf < 7) {
			int n = zmq_recv(s, frames[nf], sizeof(frames[nf]), 0);

			if (n < 0)
				goto done;   /* ETERM: shutting down */
			sizes[nf++] = (size_t)n < sizeof(frames[0]) ? (size_t)n : sizeof(frames[0]);
			zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
		}
		while (more) {   /* drain anything unexpected */
			char junk[64];

			if (zmq_recv(s, junk, sizeof(junk), 0) < 0)
				goto done;
			zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml);
		}
		if (nf >= 7 && sizes[5] == 5 && memcmp(frames[5], "CURVE", 5) == 0 &&
		    sizes[6] == 32 && zmq_z85_encode(z85, (uint8_t *)frames[6], 32) != NULL) {
			for (size_t i = 0; i < d->cfg->n_curve_clients; i++)
				if (strcmp(z85, d->cfg->curve_clients[i]) == 0) {
					status = "200";
					text = "OK";
				}
			if (strcmp(status, "200") != 0)
				rz_log(RZ_LOG_WARN, "refused a CURVE client with an unknown key %s", z85);
		}
		/* version, request id, status, text, user id, metadata */
		zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(s, frames[1], nf > 1 ? sizes[1] : 0, ZMQ_SNDMORE);
		zmq_send(s, status, 3, ZMQ_SNDMORE);
		zmq_send(s, text, strlen(text), ZMQ_SNDMORE);
		zmq_send(s, z85, strcmp(status, "200") == 0 ? strlen(z85) : 0, ZMQ_SNDMORE);
		zmq_send(s, "", 0, 0);
	}
done:
	zmq_close(s);
	return NULL;
}

/* Receive one multipart message into frames; returns the count or -1. */
static int recv_msg(void *s, zmq_msg_t *frames, int max)
{
	int n = 0, more = 1;

	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			for (int i = 0; i < n; i++)
				zmq_msg_close(&frames[i]);
			return -1;
		}
		more = zmq_msg_more(&m);
		if (n < max)
			frames[n++] = m;
		else
			zmq_msg_close(&m);
	}
	return n;
}

static int serve(struct daemon *d, int sigfd, char *secret)
{
	const struct rz_config *cfg = d->cfg;
	void *router = zmq_socket(d->zctx, ZMQ_ROUTER);
	PGconn *db = NULL;
	char err[512];
	int zero = 0, one = 1, rc = 1;

	if (router == NULL)
		return 1;
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	if (cfg->curve_secret_file != NULL) {
		zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one));
		zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, secret, 40);
		zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "regzone", 7);
	}
	explicit_bzero(secret, 41);
	if (zmq_bind(router, cfg->requests) != 0) {
		rz_log(RZ_LOG_ERR, "cannot bind requests endpoint %s: %s", cfg->requests,
		       zmq_strerror(errno));
		goto out;
	}
	rz_log(RZ_LOG_INFO, "serving requests on %s%s, state feed on %s", cfg->requests,
	       cfg->curve_secret_file ? " (CURVE)" : "", cfg->feed);
	if (intake_connect(d, &db, err, sizeof(err)) != 0)
		rz_log(RZ_LOG_WARN, "%s (requests answer 'unavailable' until it is back)", err);

	while (!atomic_load(&d->stopping)) {
		zmq_pollitem_t items[2] = {
			{ .socket = router, .events = ZMQ_POLLIN },
			{ .fd = sigfd, .events = ZMQ_POLLIN },
		};

		if (zmq_poll(items, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rz_log(RZ_LOG_ERR, "zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		if (items[1].revents & ZMQ_POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				rz_log(RZ_LOG_INFO, "signal %u: stopping", si.ssi_signo);
			break;
		}
		/* Every message waiting (up to a batch), checked, then stored in
		 * one transaction and answered. */
		for (;;) {
			struct msg *msgs = calloc(INTAKE_BATCH, sizeof(*msgs));
			struct msg *batch[INTAKE_BATCH];
			size_t n = 0, nb = 0;

			if (msgs == NULL)
				break;
			while (n < INTAKE_BATCH &&
			       (msgs[n].n_frames = recv_msg(router, msgs[n].frames, 4)) >= 0) {
				struct msg *m = &msgs[n++];
				bool dup = false;

				intake_check(d, m);
				if (m->reply == NULL && m->req.action == RZ_ACT_STATUS)
					answer_status(d, &db, m);
				if (!m->in_batch)
					continue;
				for (size_t i = 0; i < nb; i++)
					dup |= strcmp(batch[i]->req.id, m->req.id) == 0;
				if (dup) {
					/* the same id twice: the second sees the first stored */
					store_batch(d, &db, batch, nb);
					nb = 0;
				}
				batch[nb++] = m;
			}
			if (nb > 0)
				store_batch(d, &db, batch, nb);
			for (size_t i = 0; i < n; i++) {
				struct msg *m = &msgs[i];

				if (m->reply != NULL) {
					zmq_send(router, zmq_msg_data(&m->frames[0]),
					         zmq_msg_size(&m->frames[0]), ZMQ_SNDMORE);
					if (m->n_frames == 3)
						zmq_send(router, "", 0, ZMQ_SNDMORE);
					zmq_send(router, m->reply, strlen(m->reply), 0);
				}
				msg_free(m);
			}
			free(msgs);
			if (n < INTAKE_BATCH)
				break;
		}
	}
	rc = 0;
out:
	zmq_close(router);
	PQfinish(db);
	return rc;
}

static int run(const struct rz_config *cfg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct worker workers[MAX_WORKERS];
	pthread_t zap;
	bool zap_started = false;
	sigset_t mask;
	PGconn *db = NULL;
	char err[1024], secret[41] = "";
	int sigfd = -1, applied, rc = 1, zero = 0;
	uint32_t n_workers = cfg->workers < MAX_WORKERS ? cfg->workers : MAX_WORKERS;
	uint32_t started = 0;

	if (d == NULL)
		return 1;
	d->cfg = cfg;
	pthread_mutex_init(&d->pub_lock, NULL);
	pthread_mutex_init(&d->knot_lock, NULL);
	gethostname(d->host, sizeof(d->host) - 1);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	/* Signals are read from a signalfd by the intake loop only. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (sigfd < 0 || d->stop_fd < 0) {
		rz_log(RZ_LOG_ERR, "signalfd/eventfd: %s", strerror(errno));
		goto out;
	}
	/* Everything that can refuse to start, before anything starts. */
	if (cfg->curve_secret_file != NULL &&
	    read_key(cfg->curve_secret_file, true, secret, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "CURVE: %s", err);
		goto out;
	}
	if (db_connect(cfg->db_conninfo, &db, err, sizeof(err)) != 0 ||
	    db_migrate(db, &applied, err, sizeof(err)) != 0) {
		rz_log(RZ_LOG_ERR, "%s", err);
		goto out;
	}
	PQfinish(db);
	db = NULL;
	if (applied > 0)
		rz_log(RZ_LOG_INFO, "%d migrations applied", applied);

	d->zctx = zmq_ctx_new();
	d->pub = zmq_socket(d->zctx, ZMQ_PUB);
	zmq_setsockopt(d->pub, ZMQ_LINGER, &zero, sizeof(zero));
	if (zmq_bind(d->pub, cfg->feed) != 0) {
		rz_log(RZ_LOG_ERR, "cannot bind feed endpoint %s: %s", cfg->feed, zmq_strerror(errno));
		goto stop;
	}
	if (cfg->curve_secret_file != NULL) {
		if (pthread_create(&zap, NULL, zap_main, d) != 0)
			goto stop;
		zap_started = true;
	}
	for (started = 0; started < n_workers; started++) {
		workers[started].d = d;
		workers[started].index = (int)started;
		if (pthread_create(&workers[started].thread, NULL, worker_main, &workers[started]))
			break;
	}
	if (n_workers == 0)
		rz_log(RZ_LOG_INFO, "regzoned %s: intake only (workers: 0): requests are stored, "
		       "other regzoned processes on this database publish them", REGZONE_VERSION);
	else
		rz_log(RZ_LOG_INFO, "regzoned %s: %u workers", REGZONE_VERSION, started);
	rc = serve(d, sigfd, secret);
stop:
	atomic_store(&d->stopping, true);
	{
		uint64_t one = 1;

		if (write(d->stop_fd, &one, sizeof(one)) != sizeof(one))
			rz_log(RZ_LOG_WARN, "cannot wake the workers: %s", strerror(errno));
	}
	for (uint32_t i = 0; i < started; i++)
		pthread_join(workers[i].thread, NULL);
	rz_cert_end();
	if (d->pub != NULL)
		zmq_close(d->pub);
	if (d->zctx != NULL)
		zmq_ctx_shutdown(d->zctx);
	if (zap_started)
		pthread_join(zap, NULL);
	if (d->zctx != NULL)
		zmq_ctx_term(d->zctx);
	rz_log(RZ_LOG_INFO, "stopped");
out:
	explicit_bzero(secret, sizeof(secret));
	zones_clear(&d->zones);
	PQfinish(db);
	if (sigfd >= 0)
		close(sigfd);
	if (d->stop_fd > 0)
		close(d->stop_fd);
	pthread_mutex_destroy(&d->pub_lock);
	pthread_mutex_destroy(&d->knot_lock);
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
	struct rz_config *cfg = NULL;
	const char *path = NULL;
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
	if (path == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check) {
		char key[41];

		/* the files it names must be usable too */
		if (cfg->curve_secret_file != NULL &&
		    read_key(cfg->curve_secret_file, true, key, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s: listen.curve.secret_key_file: %s\n", path, err);
			rz_config_free(cfg);
			return 1;
		}
		explicit_bzero(key, sizeof(key));
		printf("%s: ok (%zu profiles, default '%s')\n", path, cfg->n_profiles,
		       cfg->default_profile);
		rz_config_free(cfg);
		return 0;
	}
	rz_log_set_level(level_from_name(cfg->log_level));
	rc = run(cfg);
	rz_config_free(cfg);
	return rc;
}
