/*
 * intake.c - the request socket's loop (see intake.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "daemon/config.h"
#include "daemon/instr.h"
#include "daemon/intake.h"
#include "daemon/log.h"
#include "daemon/request.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

#define INTAKE_BATCH 256       /* requests stored in one transaction, at most */
#define MSG_FRAMES 4           /* frames of a message kept; the rest are dropped */
#define DEFER_MAX 1024         /* enables waiting for a fresh zone list, at most */
#define DEFER_S 3.0            /* ... each for at most this long */

/* One message from the request socket and what becomes of it. */
struct msg {
	zmq_msg_t frames[MSG_FRAMES];
	int n_frames;
	struct rz_req req;
	char zone[ZG_OWNER_SIZE];
	char primary[RZ_PRIMARY_NAME_MAX + 1];   /* the zone's Knot primary */
	char *reply;            /* set once answered */
	bool parsed;            /* req holds a checked request */
	double t_recv;          /* when it came (rz_metrics_clock) */
	bool in_batch;
	struct store_intake_item item;
	/* deferred: waits for a zone listing (or behind one of its domain) */
	bool waits_zone;
	uint64_t fresh;         /* listings started after this answer it (primaries.h) */
	double deadline;
	struct msg *next;
};

/* The messages of one round: answered (and freed) together. */
struct round {
	struct msg *m[INTAKE_BATCH + DEFER_MAX];
	size_t n;
	struct msg *batch[INTAKE_BATCH + DEFER_MAX];
	size_t nb;
};

struct intake {
	const struct rz_intake *in;
	const struct rz_config *cfg;     /* this round's (rz_live_get) */
	PGconn *db;
	struct msg *deferred, **deferred_tail;
	size_t n_deferred;
	struct round r;
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* (Re)connect the intake's database connection. */
static int intake_connect(struct intake *t, char *err, size_t errlen)
{
	if (t->db != NULL && PQstatus(t->db) == CONNECTION_OK)
		return 0;
	db_cancel_set(t->in->cancel, NULL);
	PQfinish(t->db);
	t->db = NULL;
	if (db_connect(t->in->boot, &t->db, err, errlen) != 0)
		return RZ_EDB;
	if (store_intake_prepare(t->db, err, errlen) != 0) {
		PQfinish(t->db);
		t->db = NULL;
		return RZ_EDB;
	}
	db_cancel_set(t->in->cancel, t->db);
	return 0;
}

static void msg_free(struct msg *m)
{
	for (int i = 0; i < m->n_frames && i < MSG_FRAMES; i++)
		zmq_msg_close(&m->frames[i]);
	rz_req_clear(&m->req);
	free(m->reply);
	free(m->item.reply);
	free(m);
}

/* Receive one whole message (libzmq delivers multipart messages whole):
 * its first MSG_FRAMES frames are kept, the others counted and dropped.
 * NULL when nothing is waiting (or out of memory: the message waits). */
static struct msg *recv_msg(void *s)
{
	struct msg *m = calloc(1, sizeof(*m));
	int more = 1;

	if (m == NULL)
		return NULL;
	m->t_recv = rz_metrics_clock();
	while (more) {
		zmq_msg_t f, *dst = m->n_frames < MSG_FRAMES ? &m->frames[m->n_frames] : &f;

		zmq_msg_init(dst);
		if (zmq_msg_recv(dst, s, m->n_frames == 0 ? ZMQ_DONTWAIT : 0) < 0) {
			zmq_msg_close(dst);
			if (m->n_frames == 0) {
				free(m);
				return NULL;
			}
			break;   /* cannot happen mid-message; keep what came */
		}
		more = zmq_msg_more(dst);
		if (dst == &f)
			zmq_msg_close(&f);
		if (m->n_frames < INT32_MAX)
			m->n_frames++;
	}
	return m;
}

/* The enable's zone from the snapshot: 0 placed (or answered), 1 deferred. */
static int place_zone(struct intake *t, struct msg *m, bool final)
{
	uint64_t fresh = 0;
	char why[600];
	enum rz_zone_answer a = rz_primaries_lookup(t->in->primaries, m->req.domain, m->zone,
	                                            sizeof(m->zone), m->primary, &fresh, why,
	                                            sizeof(why));

	if (a == RZ_ZONE_FOUND)
		return 0;
	if (a == RZ_ZONE_AMBIGUOUS) {
		rz_log_zone(RZ_LOG_WARN, m->req.domain, "request %s refused: %s", m->req.id, why);
		m->reply = rz_reply_error(m->req.id, RZ_RC_ZONE_NOT_SERVED, why);
		return 0;
	}
	if (a == RZ_ZONE_UNREACHABLE) {
		rz_log_zone(RZ_LOG_WARN, m->req.domain, "request %s: knotd's zone list is not "
		            "available: %s", m->req.id, why);
		m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "cannot reach knotd to "
		                          "check the zone; try again later");
		return 0;
	}
	if (final) {
		snprintf(why, sizeof(why), "no zone served by knotd holds %s", m->req.domain);
		m->reply = rz_reply_error(m->req.id, RZ_RC_ZONE_NOT_SERVED, why);
		return 0;
	}
	/* A zone added since the last listing?  Ask for a new one and wait. */
	if (t->n_deferred >= DEFER_MAX) {
		m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "too many requests wait "
		                          "for knotd's zone list; try again later");
		return 0;
	}
	rz_primaries_ask(t->in->primaries);
	m->waits_zone = true;
	m->fresh = fresh;
	m->deadline = mono() + DEFER_S;
	return 1;
}

/* Check one request; answer it unless it needs the database batch.
 * 0 done (answered or in the batch), 1 deferred. */
static int intake_check(struct intake *t, struct msg *m)
{
	struct rz_req_error rerr;
	const zmq_msg_t *body;

	memset(&m->req, 0, sizeof(m->req));
	if (!(m->n_frames == 3 && zmq_msg_size(&m->frames[1]) == 0) && m->n_frames != 2) {
		m->reply = rz_reply_error(NULL, RZ_RC_BAD_REQUEST, "expected one JSON object per "
		                          "message");
		return 0;
	}
	body = &m->frames[m->n_frames - 1];
	if (rz_req_parse(t->cfg, zmq_msg_data((zmq_msg_t *)body), zmq_msg_size(body), &m->req,
	                 &rerr) != 0) {
		rz_log(RZ_LOG_INFO, "request %s refused: %s: %s",
		       m->req.id[0] ? m->req.id : "(no id)", rz_rcode_name(rerr.code), rerr.message);
		m->reply = rz_reply_error(m->req.id, rerr.code, rerr.message);
		return 0;
	}
	m->parsed = true;
	if (m->req.action == RZ_ACT_ENABLE && place_zone(t, m, false) != 0)
		return 1;
	return 0;
}

/* Another deferred message of the same domain is ahead of this one. */
static bool behind_deferred(const struct intake *t, const struct msg *m)
{
	for (const struct msg *d = t->deferred; d != NULL; d = d->next)
		if (strcmp(d->req.domain, m->req.domain) == 0)
			return true;
	return false;
}

static void defer(struct intake *t, struct msg *m)
{
	m->next = NULL;
	*t->deferred_tail = m;
	t->deferred_tail = &m->next;
	t->n_deferred++;
}

/* The intake's connection broke (a PostgreSQL restart, a failover):
 * dropped, so that the next attempt connects again. */
static void drop_if_broken(struct intake *t)
{
	if (t->db != NULL && PQstatus(t->db) != CONNECTION_OK) {
		db_cancel_set(t->in->cancel, NULL);
		PQfinish(t->db);
		t->db = NULL;
	}
}

/* A status from PostgreSQL; on a broken connection once more on a new one
 * (the server may be back already: a restart leaves the old one dead). */
static void answer_status(struct intake *t, struct msg *m)
{
	struct rz_state st;
	char err[1024] = "";
	bool found;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (intake_connect(t, err, sizeof(err)) == 0 &&
		    store_state(t->db, m->req.domain, m->req.service, &st, &found, err,
		                sizeof(err)) == 0) {
			json_t *j = rz_state_json(&st);

			m->reply = rz_reply_ok(m->req.id, j);
			json_decref(j);
			return;
		}
		if (t->db != NULL && PQstatus(t->db) == CONNECTION_OK)
			break;      /* the server answered: not a connection to renew */
		drop_if_broken(t);
	}
	rz_log_zone(RZ_LOG_ERR, m->req.domain, "status %s: %s", m->req.id, err);
	m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "the database is unavailable; "
	                          "try again later");
}

/* Records of two profiles, and room to compare them (refuse_clashes). */
struct clash_buf {
	struct zg_rr rr[ZG_MAX_RECORDS];
	struct zg_krec a[ZG_MAX_RECORDS], b[ZG_MAX_RECORDS];
};

/* Could enable req live beside service (profile, params) of its domain?
 * false with the reason in why when their records clash. */
static bool fits_beside(const struct intake *t, struct clash_buf **cbp, const struct rz_req *req,
                        const char *service, const char *profile, const char *params_json,
                        char *why, size_t whylen)
{
	/* regzone's account URL is the same for both: a placeholder compares
	 * as well (a CAA both would publish is the same record) */
	static const struct zg_builtins bi = { ZG_ACCOUNT_URI_PLACEHOLDER };
	const struct zg_profile *p = rz_config_profile(t->cfg, req->profile);
	char clash[600], err[256];
	size_t na = 0, nb = 0;
	struct clash_buf *cb;

	/* room for two record sets (about 450 KB), only for a domain with
	 * another service: most enables have none */
	if (*cbp == NULL && (*cbp = calloc(1, sizeof(**cbp))) == NULL) {
		rz_log_zone(RZ_LOG_WARN, req->domain, "request %s: out of memory to compare its "
		            "records with service '%s': only the check at publication applies",
		            req->id, service);
		return true;
	}
	cb = *cbp;
	if (p == NULL || zg_expand_with(p, req->domain, &bi, req->params, req->n_params, cb->rr,
	                                &na, err, sizeof(err)) != 0)
		return true;    /* the worker says what is wrong with it */
	for (size_t i = 0; i < na; i++)
		zg_krec_from_rr(&cb->rr[i], &cb->a[i]);
	if (rz_config_expand(t->cfg, profile, req->domain, params_json, &bi, cb->rr, &nb, err,
	                     sizeof(err)) != 0)
		return true;    /* a profile gone from the configuration: nothing to compare */
	for (size_t i = 0; i < nb; i++)
		zg_krec_from_rr(&cb->rr[i], &cb->b[i]);
	if (zg_records_clash(cb->a, na, cb->b, nb, clash, sizeof(clash)) == 0)
		return true;
	snprintf(why, whylen, "service '%s' (profile '%s') cannot be enabled beside service "
	         "'%s' (profile '%s') of %s: %s", req->service, req->profile, service, profile,
	         req->domain, clash);
	return false;
}

/*
 * A second service of a domain whose records would clash with another's
 * (a second SPF or DMARC record, a shared record, a CNAME beside data) is
 * refused at its enable, with the reason, and changes nothing: checked
 * against the enabled services stored and the enables ahead of it in this
 * batch.  Returns the batch without them (their replies set).  Without the
 * database the batch goes on unchecked (it then fails as a whole).
 */
static size_t refuse_clashes(struct intake *t, struct msg **batch, size_t n)
{
	const char **domains = calloc(n ? n : 1, sizeof(*domains));
	struct clash_buf *cb = NULL;
	struct store_svc *svc = NULL;
	size_t nd = 0, ns = 0, kept = 0;
	char err[512], why[1024];

	for (size_t i = 0; domains != NULL && i < n; i++)
		if (batch[i]->req.action == RZ_ACT_ENABLE)
			domains[nd++] = batch[i]->req.domain;
	err[0] = '\0';
	if (nd == 0 || intake_connect(t, err, sizeof(err)) != 0 ||
	    store_services_enabled(t->db, domains, nd, &svc, &ns, err, sizeof(err)) != 0) {
		if (err[0] != '\0')   /* the batch then fails the same way, or stores */
			rz_log(RZ_LOG_WARN, "intake: the enables' other services not read: %s", err);
		free(domains);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		struct msg *m = batch[i];
		bool ok = true;

		for (size_t j = 0; ok && m->req.action == RZ_ACT_ENABLE && j < ns; j++)
			if (strcmp(svc[j].domain, m->req.domain) == 0 &&
			    strcmp(svc[j].service, m->req.service) != 0)
				ok = fits_beside(t, &cb, &m->req, svc[j].service, svc[j].profile,
				                 svc[j].params_json, why, sizeof(why));
		for (size_t j = 0; ok && m->req.action == RZ_ACT_ENABLE && j < kept; j++) {
			const struct rz_req *o = &batch[j]->req;

			if (o->action == RZ_ACT_ENABLE && strcmp(o->domain, m->req.domain) == 0 &&
			    strcmp(o->service, m->req.service) != 0)
				ok = fits_beside(t, &cb, &m->req, o->service, o->profile, o->params_json,
				                 why, sizeof(why));
		}
		if (ok) {
			batch[kept++] = m;
			continue;
		}
		rz_log_zone(RZ_LOG_INFO, m->req.domain, "request %s refused: %s", m->req.id, why);
		m->reply = rz_reply_error(m->req.id, RZ_RC_CONFLICT, why);
		m->in_batch = false;
	}
	store_svcs_free(svc, ns);
	free(domains);
	free(cb);
	return kept;
}

/*
 * Store the batched requests: one transaction for all; if it fails, once
 * more after a reconnect, then one by one so that a single bad item cannot
 * refuse the others.  Nothing is acknowledged that was not committed.
 * First the enables that would clash with another service are refused.
 */
static void store_batch(struct intake *t, struct msg **batch, size_t n)
{
	struct store_intake_item *items;
	char err[1024] = "";
	int ret = RZ_ENOMEM;

	if ((n = refuse_clashes(t, batch, n)) == 0)
		return;
	items = calloc(n, sizeof(*items));

	for (size_t i = 0; items != NULL && i < n; i++)
		items[i] = batch[i]->item;
	for (int attempt = 0; items != NULL && attempt < 2; attempt++) {
		if ((ret = intake_connect(t, err, sizeof(err))) != 0)
			continue;
		if ((ret = store_intake_batch(t->db, items, n, err, sizeof(err))) == 0)
			break;
		if (PQstatus(t->db) == CONNECTION_OK)
			break;
		drop_if_broken(t);   /* nothing was committed: the next attempt stores it all */
	}
	if (ret != 0 && n > 1 && items != NULL && t->db != NULL &&
	    PQstatus(t->db) == CONNECTION_OK && !*t->in->stopping) {
		rz_log(RZ_LOG_WARN, "batch of %zu not stored (%s): storing one by one", n, err);
		for (size_t i = 0; i < n; i++)
			if (store_intake_batch(t->db, &items[i], 1, err, sizeof(err)) != 0)
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
				rz_feed_publish(t->in->feed, &items[i].st);
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

/* A checked message joins the round: answered now (status), or batched. */
static void take(struct intake *t, struct msg *m)
{
	struct round *r = &t->r;
	bool dup = false;

	r->m[r->n++] = m;
	if (m->reply != NULL)
		return;
	if (m->req.action == RZ_ACT_STATUS) {
		answer_status(t, m);
		return;
	}
	m->in_batch = true;
	m->item.req = &m->req;
	m->item.zone = m->zone;
	m->item.primary = m->primary;
	for (size_t i = 0; i < r->nb; i++)
		dup |= strcmp(r->batch[i]->req.id, m->req.id) == 0;
	if (dup) {
		/* the same id twice: the second sees the first stored */
		store_batch(t, r->batch, r->nb);
		r->nb = 0;
	}
	r->batch[r->nb++] = m;
}

/* Deferred messages whose listing came (or whose time ran out), in order;
 * one behind another of its domain waits for it. */
static void resolve_deferred(struct intake *t)
{
	uint64_t gen = rz_primaries_listed(t->in->primaries);
	double now = mono();
	struct msg **pp = &t->deferred, *m;

	t->deferred_tail = &t->deferred;
	while ((m = *pp) != NULL) {
		bool blocked = false;

		for (struct msg *d = t->deferred; d != m && !blocked; d = d->next)
			blocked = strcmp(d->req.domain, m->req.domain) == 0;
		if (blocked || (m->waits_zone && gen < m->fresh && now < m->deadline)) {
			t->deferred_tail = &m->next;
			pp = &m->next;
			continue;
		}
		*pp = m->next;
		t->n_deferred--;
		if (m->waits_zone && gen < m->fresh) {
			rz_log_zone(RZ_LOG_WARN, m->req.domain, "request %s: knotd did not list its "
			            "zones within %.0f s", m->req.id, DEFER_S);
			m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "cannot reach knotd to "
			                          "check the zone; try again later");
		} else if (m->waits_zone) {
			place_zone(t, m, true);
		}
		take(t, m);
	}
}

/* The reply's code ("ok" or its error code; the replies are ours, compact
 * JSON), and the request's action, for the metrics. */
static void count_reply(const struct msg *m)
{
	const char *c = strstr(m->reply, "\"code\":\""), *action = "unknown";
	char code[32] = "ok";

	if (c != NULL && strstr(m->reply, "\"ok\":false") != NULL) {
		c += strlen("\"code\":\"");
		snprintf(code, sizeof(code), "%.*s", (int)strcspn(c, "\""), c);
	}
	if (m->parsed && rz_action_name(m->req.action) != NULL)
		action = rz_action_name(m->req.action);
	rz_metric_inc(rz_instr.requests, action, code);
	rz_metric_observe(rz_instr.intake_seconds, NULL, NULL, rz_metrics_clock() - m->t_recv);
}

/* Send the round's replies and free its messages. */
static void round_finish(struct intake *t)
{
	struct round *r = &t->r;

	if (r->nb > 0)
		store_batch(t, r->batch, r->nb);
	for (size_t i = 0; i < r->n; i++) {
		struct msg *m = r->m[i];

		if (m->reply != NULL) {
			zmq_send(t->in->router, zmq_msg_data(&m->frames[0]),
			         zmq_msg_size(&m->frames[0]), ZMQ_SNDMORE);
			if (m->n_frames == 3)
				zmq_send(t->in->router, "", 0, ZMQ_SNDMORE);
			zmq_send(t->in->router, m->reply, strlen(m->reply), 0);
			count_reply(m);
		}
		msg_free(m);
	}
	r->n = r->nb = 0;
}

/* Milliseconds until the first deferred message's deadline, or -1. */
static long poll_timeout(const struct intake *t)
{
	double first = -1;

	for (const struct msg *m = t->deferred; m != NULL; m = m->next)
		if (m->waits_zone && (first < 0 || m->deadline < first))
			first = m->deadline;
	if (first < 0)
		return -1;
	first -= mono();
	return first > 0 ? (long)(first * 1000.0) + 1 : 0;
}

int rz_intake_serve(const struct rz_intake *in)
{
	struct intake *t = calloc(1, sizeof(*t));
	struct msg *m;
	char err[512];
	int rc = 0;

	if (t == NULL)
		return 1;
	t->in = in;
	t->deferred_tail = &t->deferred;
	if (intake_connect(t, err, sizeof(err)) != 0)
		rz_log(RZ_LOG_WARN, "%s (requests answer 'unavailable' until it is back)", err);
	while (!*in->stopping) {
		zmq_pollitem_t items[3] = {
			{ .socket = in->router, .events = ZMQ_POLLIN },
			{ .fd = in->stop_fd, .events = ZMQ_POLLIN },
			{ .fd = rz_primaries_fd(in->primaries), .events = ZMQ_POLLIN },
		};

		if (zmq_poll(items, 3, poll_timeout(t)) < 0) {
			if (errno == EINTR)
				continue;
			rz_log(RZ_LOG_ERR, "zmq_poll: %s", zmq_strerror(errno));
			rc = 1;
			break;
		}
		if (*in->stopping)
			break;
		if (items[2].revents & ZMQ_POLLIN)
			rz_primaries_ack(in->primaries);
		rz_notify_busy(in->notify, in->notify_index);
		t->cfg = rz_live_get(in->live);
		resolve_deferred(t);
		/* Every message waiting (up to a batch), checked, then stored in
		 * one transaction and answered. */
		for (size_t got = 0; got < INTAKE_BATCH && (m = recv_msg(in->router)) != NULL; got++) {
			int later = intake_check(t, m);

			if (later == 0 && m->reply == NULL && behind_deferred(t, m)) {
				/* keep the order of a domain's requests */
				if (t->n_deferred < DEFER_MAX)
					later = 1;
				else
					m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "too many "
					                          "requests wait; try again later");
			}
			if (later)
				defer(t, m);
			else
				take(t, m);
		}
		round_finish(t);
		rz_live_put(in->live, t->cfg);
		t->cfg = NULL;
		rz_notify_idle(in->notify, in->notify_index);
	}
	/* Stopping: what waits is answered, nothing of it was stored. */
	while ((m = t->deferred) != NULL) {
		t->deferred = m->next;
		if (m->reply == NULL)
			m->reply = rz_reply_error(m->req.id, RZ_RC_UNAVAILABLE, "regzoned is stopping; "
			                          "nothing was stored, try again later");
		t->r.m[t->r.n++] = m;
	}
	round_finish(t);
	db_cancel_set(in->cancel, NULL);
	PQfinish(t->db);
	free(t);
	return rc;
}
