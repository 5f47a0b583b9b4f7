/*
 * publish.c - writes into a zone (one Knot transaction) and the check that
 * every authoritative server serves them (see publish.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/publish.h"
#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"
#include "zonegen/knot.h"

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
/* A write's outcome, for the metrics. */
static const char *txn_outcome(int ret, const struct zg_plan *plan)
{
	switch (ret) {
	case 0:
		return plan->n_set == 0 && plan->n_unset == 0 ? "unchanged" : "committed";
	case RZ_ECONFLICT:
		return "conflict";
	case RZ_EAGAIN:
		return "zone_locked";
	case RZ_EBUSY:
		return "zone_busy";
	case RZ_ENOZONE:
		return "no_zone";
	default:
		return "failed";
	}
}

int rz_publish_apply(const struct rz_step_ctx *x, const struct rz_job *job, const char *purpose,
                     const struct zg_krec *want, size_t n_want, const struct zg_krec *owned,
                     size_t n_owned, struct zg_plan *plan, char **diff, char *err,
                     size_t errlen)
{
	const struct rz_config *cfg = x->cfg;
	PGconn *db = x->db;
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
		rz_metric_inc(rz_instr.knot_txns, "zone_locked", NULL);
		return RZ_EAGAIN;
	}
	/* knotd serves one control connection at a time: queue here, not in
	 * its listen backlog. */
	pthread_mutex_lock(x->knot_lock);
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
	if ((ret = store_ledger_pending(db, job, purpose, plan->set, plan->n_set, err,
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
	pthread_mutex_unlock(x->knot_lock);
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
	rz_metric_inc(rz_instr.knot_txns, txn_outcome(ret, plan), NULL);
	if (ret != 0 && ret != RZ_ECONFLICT)
		zg_plan_clear(plan);
	return ret;
}

int rz_publish_check(const struct rz_config *cfg, const struct zg_rr *rrs, size_t n,
                     bool present, char *err, size_t errlen)
{
	struct zg_dns_server *servers = servers_of(cfg);
	int *outcome, ret;

	if (servers == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	if ((outcome = calloc(cfg->n_servers + 1, sizeof(*outcome))) == NULL) {
		free(servers);
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	ret = zg_dns_check_servers(servers, cfg->n_servers, rrs, n, present ? 1 : 0,
	                           cfg->dns_timeout_ms, outcome, err, errlen);
	for (size_t i = 0; n > 0 && i < cfg->n_servers; i++) {
		char name[80];

		snprintf(name, sizeof(name), "%s@%u", cfg->servers[i].address,
		         (unsigned)cfg->servers[i].port);
		rz_metric_inc(rz_instr.dns_checks, name, outcome[i] == 0 ? "served" :
		              outcome[i] == ZG_EAGAIN ? "not_yet" :
		              outcome[i] == ZG_DNS_NOT_ASKED ? "not_asked" : "error");
	}
	free(outcome);
	free(servers);
	if (ret != 0 && ret != RZ_EIO && ret != RZ_ENOMEM)
		ret = RZ_EAGAIN;
	return ret;
}
