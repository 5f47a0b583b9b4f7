/*
 * reconcile.c - the steps of a dns job.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon/certs.h"
#include "daemon/log.h"
#include "daemon/reconcile.h"
#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"
#include "zonegen/knot.h"

#define BACKOFF_BASE 1.0
#define BACKOFF_CAP 600.0
#define ERROR_AFTER 5            /* failures before dns shows "error" */
#define CHECK_PLATEAU 12         /* checks at most 250 ms apart */
#define BUSY_CHECK_MAX_S 10.0    /* a zone busy with a foreign transaction: look this often */

double rz_backoff(int attempts, double base, double cap, double jitter)
{
	double d = base;

	for (int i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;
	return d * (0.75 + 0.5 * jitter);
}

/*
 * 50 ms (a secondary rarely has the change sooner), growing by half to
 * 250 ms and staying there for the first dozen checks: a secondary that
 * takes a NOTIFY right after another one serves the change 0.5-1 s later,
 * and is then seen within 250 ms.  After that, growing by half to 2 s.
 */
double rz_check_delay(int polls)
{
	double d = 0.05, cap = 0.25;

	if (polls > CHECK_PLATEAU) {   /* after the plateau: from 250 ms up to 2 s */
		d = 0.25;
		cap = 2.0;
		polls -= CHECK_PLATEAU;
	}
	for (int i = 0; i < polls && d < cap; i++)
		d *= 1.5;
	return d < cap ? d : cap;
}

static double jitter(void)
{
	return (double)(random() % 10000) / 10000.0;
}

static void result(struct rz_step_out *o, const char *next, double delay, const char *dns,
                   int active)
{
	o->res.next_step = next;
	o->res.delay_s = delay;
	o->res.dns = dns;
	o->res.active = active;
}

/* A failure: retry the same (or given) step with backoff; dns becomes
 * "error" after a few. */
static void failure(struct rz_step_out *o, const struct rz_job *job, const char *retry_step,
                    const char *fmt, const char *a, const char *b)
{
	snprintf(o->last_error, sizeof(o->last_error), fmt, a, b);
	result(o, retry_step, rz_backoff(job->attempts + 1, BACKOFF_BASE, BACKOFF_CAP, jitter()),
	       job->attempts + 1 >= ERROR_AFTER ? "error" : NULL, -1);
	o->res.failed = true;
	o->res.last_error = o->last_error;
	o->res.audit_kind = "error";
	snprintf(o->audit, sizeof(o->audit), "%s: %s", job->step, o->last_error);
	o->res.audit_msg = o->audit;
	rz_log_zone(RZ_LOG_WARN, job->domain, "%s failed (attempt %d): %s", job->step,
	            job->attempts + 1, o->last_error);
}

/* The profile's records for this job, as generated. */
static int want_records(const struct rz_config *cfg, const struct rz_job *job,
                        struct zg_rr *rrs, size_t *n, char *err, size_t errlen)
{
	const struct zg_profile *p = rz_config_profile(cfg, job->profile);
	struct zg_kv kv[ZG_MAX_PARAMS];
	json_t *params = NULL, *v;
	const char *key;
	size_t n_kv = 0;
	int ret;

	*n = 0;
	if (p == NULL) {
		snprintf(err, errlen, "profile '%s' is no longer in the configuration", job->profile);
		return RZ_ENOENT;
	}
	params = json_loads(job->params_json, 0, NULL);
	if (!json_is_object(params)) {
		json_decref(params);
		snprintf(err, errlen, "stored params are not a JSON object");
		return RZ_EINVAL;
	}
	json_object_foreach(params, key, v) {
		if (!json_is_string(v) || n_kv == ZG_MAX_PARAMS) {
			json_decref(params);
			snprintf(err, errlen, "stored params are not string values");
			return RZ_EINVAL;
		}
		kv[n_kv].key = key;
		kv[n_kv++].val = json_string_value(v);
	}
	ret = zg_expand(p, job->domain, kv, n_kv, rrs, n, err, errlen);
	json_decref(params);
	return ret;
}

/* Every configured authoritative server; malloc'ed. */
static struct zg_dns_server *servers_of(const struct rz_config *cfg)
{
	struct zg_dns_server *s = calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof(*s));

	for (size_t i = 0; s != NULL && i < cfg->n_servers; i++) {
		s[i].address = cfg->servers[i].address;
		s[i].port = cfg->servers[i].port;
	}
	return s;
}

/* Records as Knot-form krecs. */
static void to_krecs(const struct zg_rr *rrs, size_t n, struct zg_krec *out)
{
	for (size_t i = 0; i < n; i++)
		zg_krec_from_rr(&rrs[i], &out[i]);
}

/* The distinct owners of two record lists. */
static size_t owners_of(const struct zg_krec *a, size_t na, const struct zg_krec *b,
                        size_t nb, const char **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < na + nb; i++) {
		const char *o = i < na ? a[i].owner : b[i - na].owner;
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(out[j], o) == 0)
				break;
		if (j == n && n < max)
			out[n++] = o;
	}
	return n;
}

/*
 * knotd said a transaction is already open on the zone, while this worker
 * holds the zone's advisory lock, which every regzone writer (of every
 * daemon on this database) holds around its transactions: so it is not a
 * live one of ours.  It is ours only when a writer whose PostgreSQL session
 * is gone recorded it (knot_txns) and it holds nothing but records of
 * regzone's ledger: then it is aborted, loudly.  Anything else (an
 * operator's knotc zone-begin) is left alone: RZ_EBUSY, the step waits.
 * 0 when a transaction of ours was aborted (begin again), RZ_EBUSY, or an
 * error.
 */
static int stale_txn(struct zg_knot *k, PGconn *db, const struct rz_job *job, char *err,
                     size_t errlen)
{
	struct zg_krec *recs = NULL;
	bool *removed = NULL, ours = false;
	char why[2 * ZG_OWNER_SIZE + ZG_DATA_SIZE], derr[512];
	size_t n = 0;
	int n_dead = 0, ret;

	if ((ret = store_knot_txn_dead(db, job->zone, &n_dead, err, errlen)) != 0)
		return ret;
	if (n_dead == 0) {
		snprintf(err, errlen, "zone busy: transaction open on zone %s (not regzone's: "
		         "waiting for it to end)", job->zone);
		return RZ_EBUSY;
	}
	if ((ret = zg_knot_diff_recs(k, job->zone, &recs, &removed, &n, derr, sizeof(derr))) != 0) {
		free(recs);
		free(removed);
		if (ret == RZ_EKNOT && strstr(derr, "no active transaction") != NULL)
			return store_knot_txn_forget_dead(db, job->zone, err, errlen);   /* gone now */
		snprintf(err, errlen, "zone busy: cannot read the open transaction on zone %s: %s",
		         job->zone, derr);
		return ret == RZ_EIO ? RZ_EIO : RZ_EBUSY;
	}
	ret = store_ledger_holds(db, job->zone, recs, n, &ours, why, sizeof(why), err, errlen);
	free(recs);
	free(removed);
	if (ret != 0)
		return ret;
	if (!ours) {
		snprintf(err, errlen, "zone busy: transaction open on zone %s with changes that are "
		         "not regzone's (%.200s): waiting for it to end", job->zone, why);
		return RZ_EBUSY;
	}
	zg_knot_abort(k, job->zone);
	rz_log_zone(RZ_LOG_WARN, job->domain, "aborted the transaction a regzone writer that is "
	            "gone left open on zone %s (%zu records of regzone's, nothing else)", job->zone, n);
	snprintf(why, sizeof(why), "aborted the Knot transaction a regzone writer that is gone "
	         "left open on zone %s (%zu changes, all regzone's own)", job->zone, n);
	if (store_audit(db, job->domain, job->service, NULL, "error", why, NULL, derr,
	                sizeof(derr)) != 0)
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", derr);
	return store_knot_txn_forget_dead(db, job->zone, err, errlen);
}

/* zone-begin with our intent recorded first: 0 with *intent set (delete it
 * after the commit or abort), RZ_EBUSY (a transaction that is not ours), or
 * an error. */
static int begin_txn(struct zg_knot *k, PGconn *db, const struct rz_job *job,
                     long long *intent, char *err, size_t errlen)
{
	int ret;

	*intent = 0;
	if ((ret = store_knot_txn_intent(db, job->zone, job->id, intent, err, errlen)) != 0)
		return ret;
	for (int tries = 0; tries < 2; tries++) {
		ret = zg_knot_begin(k, job->zone, err, errlen);
		if (ret != RZ_EBUSY)
			break;
		if ((ret = stale_txn(k, db, job, err, errlen)) != 0)
			break;
		ret = RZ_EBUSY;   /* aborted ours: begin once more */
	}
	if (ret != 0) {
		char derr[256];

		/* ours only: the others' stay as evidence (no begin succeeded) */
		if (store_knot_txn_done(db, job->zone, *intent, false, derr, sizeof(derr)) != 0)
			rz_log_zone(RZ_LOG_WARN, job->domain, "%s", derr);
		*intent = 0;
		if (ret == RZ_EBUSY && strncmp(err, "zone busy", 9) != 0)
			snprintf(err, errlen, "zone busy: transaction open on zone %s", job->zone);
	}
	return ret;
}

/*
 * One Knot transaction on the job's zone: read the owners concerned, plan
 * against the ledger, record pending rows, set/unset, commit.  want may be
 * empty (removal).  On success *plan holds what was done.
 */
int rz_knot_apply(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                  const struct rz_job *job, const char *purpose,
                  const struct zg_krec *want, size_t n_want, const struct zg_krec *owned,
                  size_t n_owned, struct zg_plan *plan, char **diff,
                  char *err, size_t errlen)
{
	struct zg_knot *k = NULL;
	struct zg_krec *existing = NULL;
	const char *owners[2 * ZG_MAX_RECORDS + 64];
	size_t n_existing = 0, n_owners;
	long long intent = 0;
	bool open_txn = false, locked = false, ended = false;
	int ret;

	memset(plan, 0, sizeof(*plan));
	*diff = NULL;
	/* One regzone writer per zone, across daemons: the zone's advisory lock
	 * (released by PostgreSQL if this process dies). */
	if ((ret = store_zone_trylock(db, job->zone, &locked, err, errlen)) != 0)
		return ret;
	if (!locked) {
		snprintf(err, errlen, "another regzone worker is writing zone %s", job->zone);
		return RZ_EAGAIN;
	}
	/* knotd serves one control connection at a time: queue here, not in
	 * its listen backlog. */
	pthread_mutex_lock(knot_lock);
	if ((ret = zg_knot_open(cfg->knot_socket, cfg->knot_timeout_ms, &k, err, errlen)) != 0)
		goto out;
	if ((ret = begin_txn(k, db, job, &intent, err, errlen)) != 0)
		goto out;
	open_txn = true;
	n_owners = owners_of(want, n_want, owned, n_owned, owners,
	                     sizeof(owners) / sizeof(owners[0]));
	if ((ret = zg_knot_get_many(k, job->zone, owners, n_owners, &existing, &n_existing, err,
	                            errlen)) != 0)
		goto out;
	ret = zg_plan_publish(want, n_want, existing, n_existing, owned, n_owned, plan);
	if (ret != 0) {
		if (ret == RZ_ECONFLICT)
			snprintf(err, errlen, "%s", plan->conflict);
		goto out;
	}
	if (plan->n_set == 0 && plan->n_unset == 0)
		goto out;    /* nothing to change: abort the empty transaction */
	if ((ret = store_ledger_pending_of(db, job, purpose, plan->set, plan->n_set, err,
	                                   errlen)) != 0)
		goto out;
	if ((ret = zg_knot_unset_many(k, job->zone, plan->unset, plan->n_unset, err, errlen)) != 0 ||
	    (ret = zg_knot_set_many(k, job->zone, plan->set, plan->n_set, err, errlen)) != 0)
		goto out;
	if ((ret = zg_knot_diff(k, job->zone, diff, err, errlen)) != 0)
		goto out;
	ret = zg_knot_commit(k, job->zone, err, errlen);
	open_txn = false;   /* committed, or aborted by zg_knot_commit */
	ended = true;
out:
	if (open_txn) {
		zg_knot_abort(k, job->zone);
		ended = true;   /* a failed abort leaves the intent: a later writer sees it */
	}
	zg_knot_close(k);
	pthread_mutex_unlock(knot_lock);
	if (intent != 0 && ended) {
		char derr[256];

		if (store_knot_txn_done(db, job->zone, intent, true, derr, sizeof(derr)) != 0 &&
		    ret == 0) {
			snprintf(err, errlen, "%s", derr);
			ret = RZ_EDB;
		}
	}
	if (store_zone_unlock(db, job->zone) != 0 && ret == 0) {
		snprintf(err, errlen, "cannot release the zone lock: %s", PQerrorMessage(db));
		ret = RZ_EDB;   /* the session is suspect: the caller drops it */
	}
	free(existing);
	if (ret != 0 && ret != RZ_ECONFLICT)
		zg_plan_clear(plan);
	return ret;
}

/*
 * A transaction that is not regzone's is open on the zone (an operator's
 * knotc session): wait for it, however long it stays open, checking again
 * every few seconds; never abort it.  The first sighting is audited and
 * kept in the job's step data; status shows "zone busy: ...".
 */
static void zone_busy(const struct rz_job *job, const char *step, const char *why,
                      struct rz_step_out *o)
{
	json_t *st = json_loads(job->state_json, 0, NULL);
	double since = json_number_value(json_object_get(st, "busy_since"));
	double now = (double)time(NULL);

	json_decref(st);
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	result(o, step, rz_backoff(job->attempts + 1, 0.5, BUSY_CHECK_MAX_S, jitter()), NULL, -1);
	o->res.failed = true;     /* counts the checks, for the backoff */
	o->res.last_error = o->last_error;
	if (since <= 0) {
		char buf[64];

		snprintf(buf, sizeof(buf), "{\"busy_since\":%.0f}", now);
		o->state_json = strdup(buf);
		o->res.state_json = o->state_json;
		snprintf(o->audit, sizeof(o->audit), "%s: %s", step, why);
		o->res.audit_kind = "wait";
		o->res.audit_msg = o->audit;
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", why);
	}
}

static void step_publish(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                         const struct rz_job *job, struct rz_step_out *o)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	struct zg_krec want[ZG_MAX_RECORDS], *owned = NULL;
	struct zg_plan plan;
	size_t n = 0, n_owned = 0;
	char err[2048] = "", *diff = NULL;
	int ret;

	if ((ret = want_records(cfg, job, rrs, &n, err, sizeof(err))) != 0) {
		failure(o, job, "publish", "%s%s", err, "");
		return;
	}
	to_krecs(rrs, n, want);
	if ((ret = store_ledger_live(db, job->domain, job->service, &owned, &n_owned, err,
	                             sizeof(err))) != 0) {
		failure(o, job, "publish", "%s%s", err, "");
		return;
	}
	ret = rz_knot_apply(cfg, knot_lock, db, job, "service", want, n, owned, n_owned, &plan, &diff, err,
	                 sizeof(err));
	if (ret == RZ_ECONFLICT) {
		snprintf(o->last_error, sizeof(o->last_error), "conflict with existing records: %s",
		         plan.conflict);
		result(o, NULL, 0, "conflict", 0);
		o->res.last_error = o->last_error;
		o->res.audit_kind = "error";
		o->res.audit_msg = o->last_error;
		rz_log_zone(RZ_LOG_WARN, job->domain, "conflict: %s", plan.conflict);
		goto out;
	}
	if (ret == RZ_EAGAIN) {     /* another worker of ours has the zone */
		result(o, "publish", 0.05 + 0.1 * jitter(), NULL, -1);
		goto out;
	}
	if (ret == RZ_EBUSY) {
		zone_busy(job, "publish", err, o);
		goto out;
	}
	if (ret != 0) {
		failure(o, job, "publish", "knot: %s%s", err, "");
		goto out;
	}
	/* Pending rows of what is now there become live; removed ones close. */
	ret = store_ledger_settle(db, job, want, n, plan.unset, plan.n_unset, err, sizeof(err));
	if (ret != 0) {
		failure(o, job, "publish", "%s%s", err, "");
		goto out;
	}
	snprintf(o->audit, sizeof(o->audit), "zone %s: %zu records added, %zu removed, %zu "
	         "already there%s%s", job->zone, plan.n_set, plan.n_unset, plan.n_keep,
	         diff != NULL && diff[0] != '\0' ? "; diff:\n" : "", diff != NULL ? diff : "");
	rz_log_zone(RZ_LOG_INFO, job->domain, "publish: zone %s, %zu added, %zu removed, %zu "
	            "already there", job->zone, plan.n_set, plan.n_unset, plan.n_keep);
	result(o, "verify", rz_check_delay(0), NULL, -1);
	o->state_json = strdup("{}");      /* forget any busy_since */
	o->res.state_json = o->state_json;
	o->res.audit_kind = "step";
	o->res.audit_msg = o->audit;
out:
	zg_plan_clear(&plan);
	free(owned);
	free(diff);
}

/* Are these records served by every authoritative server (present) or by
 * none (absent)?  Schedules the next check or moves on. */
static void step_check(const struct rz_config *cfg, const struct rz_job *job,
                       const struct zg_rr *rrs, size_t n, int present, struct rz_step_out *o)
{
	struct zg_dns_server *servers = servers_of(cfg);
	size_t n_servers = cfg->n_servers;
	char err[1024] = "";
	int ret;

	ret = servers == NULL ? RZ_ENOMEM :
	      zg_dns_check(servers, n_servers, rrs, n, present, cfg->dns_timeout_ms, err,
	                   sizeof(err));
	free(servers);
	if (ret == RZ_ENOMEM)
		snprintf(err, sizeof(err), "out of memory");
	if (ret == 0) {
		/* active: the records and, when regzone manages certificates, a
		 * certificate deployed (the cert job, armed here, says when) */
		result(o, NULL, 0, present ? "published" : "removed",
		       present ? (cfg->cert_auto ? 2 : 1) : 0);
		o->res.arm_cert = present && cfg->cert_auto;
		snprintf(o->audit, sizeof(o->audit), "%s on all %zu authoritative servers after "
		         "%.2f s", present ? "served" : "gone", n_servers, job->step_age);
		o->res.audit_kind = "state";
		o->res.audit_msg = o->audit;
		rz_log_zone(RZ_LOG_INFO, job->domain, "%s", o->audit);
		return;
	}
	if (job->step_age > cfg->dns_check_max_s) {
		/* Give up waiting: publish (or remove) again, with backoff. */
		failure(o, job, present ? "publish" : "remove",
		        "not %s by every authoritative server after the check deadline: %s",
		        present ? "served" : "removed", err);
		return;
	}
	/* Not yet: look again soon, a little later each time. */
	result(o, job->step, rz_check_delay(job->attempts), NULL, -1);
	o->res.failed = true;   /* counts the polls */
	if (ret == RZ_EIO) {
		snprintf(o->last_error, sizeof(o->last_error), "%s", err);
		o->res.last_error = o->last_error;
		o->res.delay_s = rz_backoff(job->attempts + 1, 0.5, 10.0, jitter());
	}
}

static void step_verify(const struct rz_config *cfg, const struct rz_job *job,
                        struct rz_step_out *o)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	size_t n = 0;
	char err[1024];

	if (want_records(cfg, job, rrs, &n, err, sizeof(err)) != 0) {
		failure(o, job, "publish", "%s%s", err, "");
		return;
	}
	step_check(cfg, job, rrs, n, 1, o);
}

static void step_remove(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                        const struct rz_job *job, struct rz_step_out *o)
{
	struct zg_krec *owned = NULL;
	struct zg_plan plan;
	size_t n_owned = 0;
	char err[2048] = "", *diff = NULL;
	json_t *arr = NULL;
	int ret;

	memset(&plan, 0, sizeof(plan));
	if ((ret = store_ledger_live(db, job->domain, job->service, &owned, &n_owned, err,
	                             sizeof(err))) != 0) {
		failure(o, job, "remove", "%s%s", err, "");
		return;
	}
	if (n_owned > 0) {
		ret = rz_knot_apply(cfg, knot_lock, db, job, "service", NULL, 0, owned, n_owned, &plan, &diff, err,
		                 sizeof(err));
		if (ret == RZ_ENOENT && strstr(err, "no such zone") != NULL) {
			rz_log_zone(RZ_LOG_WARN, job->domain, "zone %s no longer served: its records "
			            "went with it", job->zone);
			ret = 0;
		}
		if (ret == RZ_EAGAIN) {
			result(o, "remove", 0.05 + 0.1 * jitter(), NULL, -1);
			goto out;
		}
		if (ret == RZ_EBUSY) {
			zone_busy(job, "remove", err, o);
			goto out;
		}
		if (ret != 0) {
			failure(o, job, "remove", "knot: %s%s", err, "");
			goto out;
		}
	}
	/* Every ledger row closes: what was there is unset now, what was not is
	 * gone already.  The check afterwards looks for all of them. */
	if ((ret = store_ledger_settle(db, job, NULL, 0, owned, n_owned, err, sizeof(err))) != 0) {
		failure(o, job, "remove", "%s%s", err, "");
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n_owned; i++)
		json_array_append_new(arr, json_pack("[s,i,s,s]", owned[i].owner,
		                                     (json_int_t)owned[i].ttl, owned[i].type,
		                                     owned[i].data));
	{
		json_t *obj = json_object();

		if (obj != NULL && arr != NULL && json_object_set(obj, "removed", arr) == 0)
			o->state_json = json_dumps(obj, JSON_COMPACT);
		json_decref(obj);
	}
	if (o->state_json == NULL) {
		failure(o, job, "remove", "%s%s", "out of memory", "");
		goto out;
	}
	o->res.state_json = o->state_json;
	snprintf(o->audit, sizeof(o->audit), "zone %s: %zu records removed", job->zone,
	         plan.n_unset);
	rz_log_zone(RZ_LOG_INFO, job->domain, "%s", o->audit);
	result(o, "verify_removed", rz_check_delay(0), NULL, -1);
	o->res.audit_kind = "step";
	o->res.audit_msg = o->audit;
out:
	json_decref(arr);
	zg_plan_clear(&plan);
	free(owned);
	free(diff);
}

static void step_verify_removed(const struct rz_config *cfg, const struct rz_job *job,
                                struct rz_step_out *o)
{
	struct zg_rr rrs[2 * ZG_MAX_RECORDS];
	json_t *st = json_loads(job->state_json, 0, NULL);
	json_t *arr = json_object_get(st, "removed"), *e;
	size_t n = 0, i;

	json_array_foreach(arr, i, e) {
		const char *owner, *type, *data;
		json_int_t ttl;
		enum zg_rtype t;

		if (n == sizeof(rrs) / sizeof(rrs[0]) ||
		    json_unpack(e, "[s,I,s,s]", &owner, &ttl, &type, &data) != 0 ||
		    zg_rtype_from_name(type, &t) != 0)
			continue;
		memset(&rrs[n], 0, sizeof(rrs[n]));
		snprintf(rrs[n].owner, sizeof(rrs[n].owner), "%s", owner);
		rrs[n].ttl = (uint32_t)ttl;
		rrs[n].type = t;
		snprintf(rrs[n].data, sizeof(rrs[n].data), "%s", data);
		n++;
	}
	json_decref(st);
	step_check(cfg, job, rrs, n, 0, o);
}

void rz_step_run(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                 const struct rz_job *job, struct rz_step_out *o)
{
	static const struct {
		const char *step;
		const char *desired;     /* the step only makes sense for this */
	} valid[] = {
		{ "publish", "enabled" }, { "verify", "enabled" },
		{ "remove", "disabled" }, { "verify_removed", "disabled" },
	};
	size_t i;

	memset(o, 0, sizeof(*o));
	o->res.active = -1;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (strcmp(job->step, valid[i].step) == 0)
			break;
	if (strcmp(job->kind, "cert") == 0) {
		rz_cert_step(cfg, knot_lock, db, job, o);
		return;
	}
	if (i == sizeof(valid) / sizeof(valid[0]) || strcmp(job->kind, "dns") != 0) {
		failure(o, job, NULL, "unknown step '%s' of a %s job", job->step, job->kind);
		return;
	}
	if (strcmp(job->desired, valid[i].desired) != 0) {
		/* The event that changed desired also rescheduled the job. */
		result(o, strcmp(job->desired, "enabled") == 0 ? "publish" : "remove", 0, NULL, -1);
		return;
	}
	rz_log_zone(RZ_LOG_DEBUG, job->domain, "step %s (attempt %d)", job->step, job->attempts + 1);
	if (strcmp(job->step, "publish") == 0)
		step_publish(cfg, knot_lock, db, job, o);
	else if (strcmp(job->step, "verify") == 0)
		step_verify(cfg, job, o);
	else if (strcmp(job->step, "remove") == 0)
		step_remove(cfg, knot_lock, db, job, o);
	else
		step_verify_removed(cfg, job, o);
}
