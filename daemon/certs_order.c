/*
 * certs_order.c - the order steps of a cert job: order (within the
 * rate-limit budget and acme.concurrency, the order's names and
 * authorizations checked), respond (the challenges answered), poll.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/budget.h"
#include "acme/csr.h"
#include "acme/problem.h"
#include "acme/schedule.h"
#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

/* ------------------------------------------------------------- budget */

static void limits_of(const struct rz_config *cfg, struct acme_limits *l, uint32_t *window)
{
	l->new_orders.max = cfg->lim_new_orders;
	l->new_orders.window = cfg->lim_new_orders_window_s;
	l->certs_per_domain.max = cfg->lim_certs_per_domain;
	l->certs_per_domain.window = cfg->lim_certs_per_domain_window_s;
	l->certs_per_names.max = cfg->lim_certs_per_names;
	l->certs_per_names.window = cfg->lim_certs_per_names_window_s;
	l->failed_validations.max = cfg->lim_failed_validations;
	l->failed_validations.window = cfg->lim_failed_validations_window_s;
	*window = cfg->lim_new_orders_window_s;
	if (cfg->lim_certs_per_domain_window_s > *window)
		*window = cfg->lim_certs_per_domain_window_s;
	if (cfg->lim_certs_per_names_window_s > *window)
		*window = cfg->lim_certs_per_names_window_s;
	if (cfg->lim_failed_validations_window_s > *window)
		*window = cfg->lim_failed_validations_window_s;
}

/* What is left of each limit's window for this order (metrics). */
static void budget_gauges(const struct acme_limits *lim, const struct certstore_events *ev,
                          const struct acme_candidate *c)
{
	const struct acme_limit *each[ACME_LIM__MAX] = {
		[ACME_LIM_NEW_ORDERS] = &lim->new_orders,
		[ACME_LIM_CERTS_PER_DOMAIN] = &lim->certs_per_domain,
		[ACME_LIM_CERTS_PER_NAMES] = &lim->certs_per_names,
		[ACME_LIM_FAILED_VALIDATIONS] = &lim->failed_validations,
	};
	time_t now = time(NULL);

	for (int id = ACME_LIM_NEW_ORDERS; id < ACME_LIM__MAX; id++) {
		unsigned used;

		if (each[id]->max == 0)
			continue;
		used = acme_budget_used((enum acme_limit_id)id, each[id], ev->ev, ev->n, c, now);
		rz_metric_set(rz_instr.budget_remaining, acme_limit_name((enum acme_limit_id)id),
		              NULL, used >= each[id]->max ? 0 : (double)(each[id]->max - used));
	}
}

/* The order's priority (acme/schedule.h) from its step data: a renewal
 * that was not urgent is once it waited past its window's end. */
static enum acme_sched_prio order_prio(const json_t *st, time_t now)
{
	json_int_t p = json_integer_value(json_object_get(st, "prio"));
	struct acme_sched_window w = { 0, (time_t)json_integer_value(json_object_get(st,
	                                                                     "win_end")) };

	if (p == ACME_PRIO_RENEW)
		return acme_sched_priority(true, w.end != 0 ? &w : NULL, now);
	return p == ACME_PRIO_URGENT ? ACME_PRIO_URGENT : ACME_PRIO_FIRST;
}

/* Are first certificates (jobs.priority 1 at step order, no order made
 * yet) waiting besides job?  Inside budget_take()'s transaction. */
static int firsts_waiting(PGconn *db, long long job_id, bool *yes, char *err, size_t errlen)
{
	char jid[32];
	const char *p[] = { jid };
	PGresult *r = NULL;
	int ret;

	snprintf(jid, sizeof(jid), "%lld", job_id);
	if ((ret = store_sql(db, "SELECT EXISTS (SELECT 1 FROM jobs WHERE kind = 'cert' AND "
	                     "step = 'order' AND priority = 1 AND id <> $1::bigint AND "
	                     "NOT state ? 'order_url')", 1, p, &r, err, errlen)) != 0)
		return ret;
	*yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return 0;
}

/* The database's clock, which stamps the events (daemons on other hosts
 * may run another), in whole seconds rounded down. */
static int db_clock(PGconn *db, time_t *now, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int ret;

	if ((ret = store_sql(db, "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint", 0,
	                     NULL, &r, err, errlen)) != 0)
		return ret;
	*now = (time_t)atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* One unit of the budget taken: an 'order_created' event whose order is
 * not made yet (certstore_order_new() completes it). */
static int budget_mark(PGconn *db, const char *domain, const char *reg,
                       const char *const *names, size_t n, const char *account,
                       long long *event_id, char *err, size_t errlen)
{
	char *arr = store_text_array(names, n);
	const char *p[] = { domain, reg, arr, account };
	PGresult *r = NULL;
	int ret;

	if (arr == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	ret = store_sql(db, "INSERT INTO acme_events (kind, domain, reg_domain, names, account) "
	                "VALUES ('order_created', $1, $2, $3::text[], $4) RETURNING id", 4, p, &r,
	                err, errlen);
	free(arr);
	if (ret != 0)
		return ret;
	*event_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/*
 * The budget checked for this order and, when it fits, one unit taken
 * (*event_id), in one transaction that an advisory lock serialises across
 * workers and daemons sharing the database: workers checking together
 * would all see the last unit free.  A renewal that is not urgent leaves
 * the reserve of the new-orders limit to first certificates that wait.
 * Times are the database's (*now: when it decided).
 */
static int budget_take(const struct rz_step_ctx *x, const struct rz_job *job, const json_t *st,
                       const char *const *names, size_t n, bool ari_renewal,
                       const char *account, struct acme_verdict *v, long long *event_id,
                       time_t *now, char *err, size_t errlen)
{
	struct acme_limits lim;
	struct certstore_events ev = { 0 };
	char reg[ZG_OWNER_SIZE];
	struct acme_candidate c = { names, n, reg, ari_renewal };
	enum acme_sched_prio prio;
	uint32_t window;
	bool firsts = false;
	int ret;

	*event_id = 0;
	*now = time(NULL);
	cs_reg_domain(job->domain, reg, sizeof(reg));
	limits_of(x->cfg, &lim, &window);
	if ((ret = store_sql(x->db, "BEGIN", 0, NULL, NULL, err, errlen)) != 0)
		return ret;
	if ((ret = store_sql(x->db, "SELECT pg_advisory_xact_lock(hashtext('regzone acme "
	                     "budget'))", 0, NULL, NULL, err, errlen)) != 0 ||
	    (ret = db_clock(x->db, now, err, errlen)) != 0)
		goto fail;
	prio = order_prio(st, *now);
	if ((prio == ACME_PRIO_RENEW &&
	     (ret = firsts_waiting(x->db, job->id, &firsts, err, errlen)) != 0) ||
	    (ret = certstore_events(x->db, window, reg, &ev, err, errlen)) != 0)
		goto fail;
	lim.new_orders.max = acme_sched_new_orders_cap(lim.new_orders.max, prio, firsts);
	if ((ret = acme_budget_check(&lim, ev.ev, ev.n, &c, *now, v)) != 0) {
		snprintf(err, errlen, "rate-limit budget: %s", rz_strerror(ret));
		goto fail;
	}
	budget_gauges(&lim, &ev, &c);
	if (v->allowed && (ret = budget_mark(x->db, job->domain, reg, names, n, account,
	                                     event_id, err, errlen)) != 0)
		goto fail;
	if ((ret = store_sql(x->db, "COMMIT", 0, NULL, NULL, err, errlen)) != 0)
		goto fail;
	certstore_events_free(&ev);
	return 0;
fail:
	certstore_events_free(&ev);
	{
		char ignored[128];

		(void)!store_sql(x->db, "ROLLBACK", 0, NULL, NULL, ignored, sizeof(ignored));
	}
	*event_id = 0;
	return ret;
}

/* The CA refused the order (it answered): the unit taken is given back.
 * A request without an answer keeps it (the CA may have the order). */
static void budget_give_back(const struct rz_step_ctx *x, const struct rz_job *job,
                             long long event_id)
{
	char id[32], err[256];
	const char *p[] = { id };

	snprintf(id, sizeof(id), "%lld", event_id);
	if (store_sql(x->db, "DELETE FROM acme_events WHERE id = $1::bigint AND order_id IS NULL",
	              1, p, NULL, err, sizeof(err)) != 0)
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s (the budget counts the refused order)",
		            err);
}

/* Not within the budget: the order waits until it is, its priority as it
 * stands then (urgent once past its window), the reason in last_error. */
static void budget_wait(const struct rz_job *job, json_t *st, struct rz_step_out *o,
                        const struct acme_verdict *v, time_t now)
{
	double d = difftime(v->not_before, now);

	bool first = json_object_get(st, "budget_wait") == NULL;

	json_object_del(st, "slot_held");   /* no slot while it waits */
	json_object_set_new(st, "budget_wait", json_string(acme_limit_name(v->limit)));
	if (json_integer_value(json_object_get(st, "prio")) == ACME_PRIO_RENEW &&
	    order_prio(st, now) == ACME_PRIO_URGENT)
		json_object_set_new(st, "prio", json_integer(ACME_PRIO_URGENT));
	snprintf(o->last_error, sizeof(o->last_error), "certificate: waiting for the rate-limit "
	         "budget (%s, %u counted) for %.0f s", acme_limit_name(v->limit), v->count, d);
	o->res.last_error = o->last_error;
	if (first)
		cs_audit(o, "wait", "%s", o->last_error);
	o->res.failed = true;   /* counts the waits */
	cs_go(o, job->step, d > 1 ? d : 1, st);
}

/*
 * Orders in flight at once: at most acme.concurrency, counted and taken in
 * one serialised transaction (store.h), so that workers deciding together
 * never exceed it.  Without a slot the order waits until one that ends
 * wakes it (store_job_finish), or CS_SLOT_WAIT_S at the latest: never
 * polled.  0 with the slot (kept in the step data), 1 when the step waits.
 */
static int take_slot(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                     struct rz_step_out *o)
{
	char err[512], msg[160];
	bool got = false;

	if (store_cert_slot_take(x->db, job->id, x->cfg->acme_concurrency, &got, err,
	                         sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return 1;
	}
	if (!got) {
		json_object_set_new(st, "slot_wait", json_true());
		json_object_set_new(st, "slot_looks", json_integer(
		        json_integer_value(json_object_get(st, "slot_looks")) + 1));
		if (job->attempts == 0)
			cs_audit(o, "wait", "acme: %u orders in flight (acme.concurrency): waiting "
			         "for one to end", x->cfg->acme_concurrency);
		o->res.failed = true;   /* counts the waits */
		cs_go(o, job->step, CS_SLOT_WAIT_S * (1.0 + 0.2 * rz_jitter()), st);
		return 1;
	}
	json_object_set_new(st, "slot_held", json_true());
	if (json_is_true(json_object_get(st, "slot_wait"))) {
		snprintf(msg, sizeof(msg), "acme: an order slot freed after %lld looks "
		         "(acme.concurrency %u)", (long long)json_integer_value(
		         json_object_get(st, "slot_looks")) + 1, x->cfg->acme_concurrency);
		if (store_audit(x->db, job->domain, job->service, NULL, "wait", msg, NULL, err,
		                sizeof(err)) != 0)
			rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);
	}
	json_object_del(st, "slot_wait");
	json_object_del(st, "slot_looks");
	return 0;
}

/* ------------------------------------------------------------- order */

/* The names of the order being made. */
struct order_names {
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	size_t n;
};

/* A new order at the CA, within the budget and with a slot, stored (its
 * URL in acme_orders and the step data) before anything else: from here
 * on a restart resumes it.  0 with *ord; 1 when the step ended (o set). */
static int order_new(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                     struct rz_step_out *o, struct acme_client *c,
                     const struct order_names *on, struct acme_order *ord)
{
	/* An ARI renewal inside the CA's window (with "replaces") is exempt. */
	const char *replaces = cs_get(st, "replaces")[0] ? cs_get(st, "replaces") : NULL;
	bool renewing = strcmp(cs_get(st, "reason"), "renew") == 0;
	char err[1024] = "", reg[ZG_OWNER_SIZE];
	struct certstore_order row;
	struct acme_verdict v;
	struct acme_error e;
	long long id, ev_id = 0;
	time_t now;
	int ret;

	/* The slot first, then the budget: the unit is taken right before
	 * the CA is asked, never held while the order waits for a slot. */
	if (!json_is_true(json_object_get(st, "slot_held")) && take_slot(x, job, st, o) != 0)
		return 1;
	if ((ret = budget_take(x, job, st, on->ptrs, on->n, replaces != NULL,
	                       acme_client_account_url(c), &v, &ev_id, &now, err,
	                       sizeof(err))) != 0) {
		cs_retry(o, job, err);
		return 1;
	}
	if (!v.allowed) {
		budget_wait(job, st, o, &v, now);
		return 1;
	}
	json_object_del(st, "budget_wait");
	if ((ret = acme_order_new_replacing(c, on->ptrs, on->n, replaces, ord, &e)) != 0) {
		if (ret == RZ_EACME && e.http_status >= 400)
			budget_give_back(x, job, ev_id);
		cs_ca_error(x, job, st, o, ret, &e);
		return 1;
	}
	cs_reg_domain(job->domain, reg, sizeof(reg));
	row = (struct certstore_order){
		job->domain, job->service, ord->url, renewing ? "renew" : "issue", on->ptrs,
		on->n, acme_client_account_url(c), replaces, reg, ev_id,
	};
	if ((ret = certstore_order_new(x->db, &row, &id, err, sizeof(err))) != 0) {
		/* The CA has the order; we could not store it: it expires there
		 * (its unit stays taken). */
		acme_order_clear(ord);
		cs_retry(o, job, err);
		return 1;
	}
	json_object_set_new(st, "order_id", json_integer(id));
	json_object_set_new(st, "order_url", json_string(ord->url));
	rz_log_zone(RZ_LOG_INFO, job->domain, "acme: order %s for %zu names", ord->url, on->n);
	return 0;
}

/* The order must be for exactly the names asked, and so must its
 * authorizations, before any challenge record goes out.  NULL when it is,
 * else why not (into buf). */
static const char *order_wrong(const struct acme_order *ord, const struct order_names *on,
                               char *buf, size_t len)
{
	if (ord->status == ACME_ST_INVALID)
		return "the order is invalid";
	if (!acme_names_same_set(on->ptrs, on->n, (const char *const *)ord->identifiers,
	                         ord->n_identifiers))
		return "the CA's order is not for the names asked";
	if (ord->status == ACME_ST_PENDING && ord->n_authorizations != on->n) {
		snprintf(buf, len, "the CA's order has %zu authorizations for %zu names",
		         ord->n_authorizations, on->n);
		return buf;
	}
	return NULL;
}

/* The dns-01 challenges of the order's pending authorizations into *chs
 * (name, authz, chall, value).  0; 1 when the step ended (o set). */
static int order_challenges(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                            struct rz_step_out *o, struct acme_client *c,
                            const struct acme_order *ord, const struct order_names *on,
                            json_t *chs)
{
	char ids[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], why[1024];
	const char *idp[ZG_MAX_CERT_NAMES];
	struct acme_error e;
	int ret;

	for (size_t i = 0; i < ord->n_authorizations && i < ZG_MAX_CERT_NAMES; i++) {
		struct acme_authz az = { 0 };
		char value[ACME_B64_SHA256_SIZE];

		if ((ret = acme_authz_get(c, ord->authorizations[i], &az, &e)) != 0) {
			acme_authz_clear(&az);
			cs_ca_error(x, job, st, o, ret, &e);
			return 1;
		}
		snprintf(ids[i], sizeof(ids[i]), "%s", az.identifier != NULL ? az.identifier : "");
		idp[i] = ids[i];
		if (az.status == ACME_ST_VALID) {
			acme_authz_clear(&az);
			continue;
		}
		if (az.status != ACME_ST_PENDING || !az.has_dns01 ||
		    acme_key_authz_dns(cs_account(), az.dns01.token, value) != 0) {
			snprintf(why, sizeof(why), "authorization for %.256s is %s%s", ids[i],
			         acme_status_name(az.status),
			         az.has_dns01 ? "" : " (no dns-01 challenge offered)");
			acme_authz_clear(&az);
			cs_give_up(o, job, st, why);
			return 1;
		}
		ret = json_array_append_new(chs, json_pack("{s:s,s:s,s:s,s:s}", "name", ids[i],
		                            "authz", az.url, "chall", az.dns01.url, "value", value));
		acme_authz_clear(&az);
		if (ret != 0) {
			cs_retry(o, job, "out of memory");
			return 1;
		}
	}
	if (!acme_names_same_set(on->ptrs, on->n, idp, ord->n_authorizations)) {
		cs_give_up(o, job, st, "the CA's authorizations are not for the names asked: no "
		           "challenge record published");
		return 1;
	}
	return 0;
}

void cs_step_order(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                   struct rz_step_out *o)
{
	struct order_names on;
	struct acme_client *c;
	struct acme_order ord = { 0 };
	struct acme_error e;
	const char *wrong;
	char why[256];
	json_t *chs = NULL;
	int ret;

	o->res.cert = strcmp(cs_get(st, "reason"), "renew") == 0 ? RZ_CERT_RENEWING :
	              RZ_CERT_ORDERING;
	if (cs_names(x->cfg, job, on.names, on.ptrs, &on.n) != 0 || on.n == 0) {
		cs_give_up(o, job, st, "the profile names no certificate names");
		return;
	}
	if ((ret = cs_client(x->cfg, &c, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	if (cs_get(st, "order_url")[0] == '\0') {
		/* CAA first: a refusal it shows costs no order (certs_caa.c) */
		if (cs_caa_check(x, job, st, o, on.ptrs, on.n, acme_client_account_url(c)) != 0 ||
		    order_new(x, job, st, o, c, &on, &ord) != 0)
			goto out;
	} else if ((ret = acme_order_get(c, cs_get(st, "order_url"), &ord, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		goto out;
	}
	if ((wrong = order_wrong(&ord, &on, why, sizeof(why))) != NULL) {
		cs_give_up(o, job, st, wrong);
		goto out;
	}
	if ((chs = json_array()) == NULL) {
		cs_retry(o, job, "out of memory");
		goto out;
	}
	if (ord.status == ACME_ST_PENDING &&
	    order_challenges(x, job, st, o, c, &ord, &on, chs) != 0)
		goto out;
	json_object_set(st, "ch", chs);
	cs_audit(o, "acme", "acme: order %s (%s), %zu challenges to answer",
	         cs_get(st, "order_url"), acme_status_name(ord.status), json_array_size(chs));
	cs_go(o, json_array_size(chs) > 0 ? RZ_STEP_PUBLISH : RZ_STEP_POLL, 0, st);
out:
	json_decref(chs);
	acme_order_clear(&ord);
}

/* ----------------------------------------------------------- respond */

/* Answered before a restart?  The CA then refuses a second answer: what
 * counts is the challenge's own status. */
static bool answered_before(struct acme_client *c, const json_t *ch)
{
	struct acme_authz az = { 0 };
	struct acme_error e;
	bool yes = acme_authz_get(c, cs_get(ch, "authz"), &az, &e) == 0 &&
	           (az.status == ACME_ST_VALID ||
	            (az.status == ACME_ST_PENDING && az.has_dns01 &&
	             (az.dns01.status == ACME_ST_PROCESSING || az.dns01.status == ACME_ST_VALID)));

	acme_authz_clear(&az);
	return yes;
}

void cs_step_respond(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                     struct rz_step_out *o)
{
	json_t *chs = json_object_get(st, "ch"), *ch;
	struct acme_client *c;
	struct acme_error e;
	size_t i;
	int ret;

	if ((ret = cs_client(x->cfg, &c, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	json_array_foreach(chs, i, ch) {
		enum acme_status s;

		if (json_is_true(json_object_get(ch, "answered")))
			continue;
		ret = acme_challenge_respond(c, cs_get(ch, "chall"), &s, &e);
		if (ret == RZ_EACME && answered_before(c, ch))
			ret = 0;
		if (ret != 0) {
			/* the CA refused it: which name failed validation counts */
			if (ret == RZ_EACME)
				json_object_set_new(st, "failed_name", json_string(cs_get(ch, "name")));
			cs_ca_error(x, job, st, o, ret, &e);
			return;
		}
		json_object_set_new(ch, "answered", json_true());
	}
	cs_audit(o, "acme", "acme: dns-01 challenges answered");
	cs_go(o, RZ_STEP_POLL, 0.2, st);
}

/* -------------------------------------------------------------- poll */

/* Record the validations that failed (the budget counts them) of an
 * invalid order: each name the CA's problem names, or all of them. */
static int record_failed(const struct rz_step_ctx *x, const struct rz_job *job,
                         const json_t *st, const struct acme_error *e, char *err,
                         size_t errlen)
{
	json_t *chs = json_object_get(st, "ch"), *ch;
	char reg[ZG_OWNER_SIZE];
	size_t i;
	int ret;

	cs_reg_domain(job->domain, reg, sizeof(reg));
	json_array_foreach(chs, i, ch) {
		const char *name = cs_get(ch, "name");
		bool hit = !e->has_problem || e->problem.n_sub == 0;

		for (size_t k = 0; e->has_problem && k < e->problem.n_sub; k++)
			if (strcmp(e->problem.sub[k].identifier.value, name) == 0)
				hit = true;
		if (hit && (ret = certstore_validation_failed(x->db, job->domain, reg, name,
		                                              cs_order_id(st), err, errlen)) != 0)
			return ret;
	}
	return 0;
}

/* The CA says the order is invalid: recorded, then given up. */
static void order_invalid(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                          struct rz_step_out *o, const struct acme_error *e)
{
	char text[ACME_PROBLEM_TEXT_MAX], err[512];

	if (record_failed(x, job, st, e, err, sizeof(err)) != 0 ||
	    certstore_order_status(x->db, cs_order_id(st), "invalid", err, sizeof(err)) != 0) {
		/* the budget must see it: losing it would let the CA's
		 * failed-validation limit be reached unseen */
		cs_retry(o, job, err);
		return;
	}
	if (e->has_problem)
		acme_problem_text(&e->problem, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "the order became invalid");
	cs_give_up(o, job, st, text);
}

void cs_step_poll(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                  struct rz_step_out *o)
{
	struct acme_client *c;
	struct acme_order ord = { 0 };
	struct acme_error e;
	char err[512];
	bool invalid;
	int ret;

	if ((ret = cs_client(x->cfg, &c, &e)) != 0) {
		cs_ca_error(x, job, st, o, ret, &e);
		return;
	}
	ret = acme_order_poll(c, cs_get(st, "order_url"), &ord, &e);
	/* The CA's verdict on the order (it answered with the order object),
	 * or a failed request (a problem document: an account the CA lost, an
	 * order it lost, a rate limit, an outage), which cs_ca_error() sorts. */
	invalid = ret == RZ_EACME && ord.url != NULL && ord.status == ACME_ST_INVALID;
	if (ret == 0 && ord.status == ACME_ST_READY) {
		cs_go(o, RZ_STEP_FINALIZE, 0, st);
	} else if (ret == 0 && ord.status == ACME_ST_VALID) {
		json_object_set_new(st, "cert_url", json_string(ord.certificate));
		if (certstore_order_status(x->db, cs_order_id(st), "valid", err, sizeof(err)) != 0)
			cs_retry(o, job, err);
		else
			cs_go(o, RZ_STEP_DOWNLOAD, 0, st);
	} else if (ret == RZ_EAGAIN) {
		cs_go(o, RZ_STEP_POLL, e.retry_after_given ? e.retry_after_s :
		      rz_check_delay(job->attempts + 2), st);
		o->res.failed = true;   /* counts the polls */
	} else if (invalid) {
		order_invalid(x, job, st, o, &e);
	} else {
		cs_ca_error(x, job, st, o, ret, &e);
	}
	acme_order_clear(&ord);
}
