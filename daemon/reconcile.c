/*
 * reconcile.c - the steps of a dns job (see reconcile.h), as a table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "daemon/certs.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/publish.h"
#include "daemon/reconcile.h"
#include "daemon/rz_err.h"
#include "zonegen/knot.h"

#define BACKOFF_BASE 1.0
#define BACKOFF_CAP 600.0
#define ERROR_AFTER 5            /* failures before dns shows "error" */
#define BUSY_CHECK_MAX_S 10.0    /* a zone busy with a foreign transaction: look this often */

/* A failure: retry step with backoff; dns becomes "error" after a few. */
static void failure(struct rz_step_out *o, const struct rz_job *job, enum rz_step retry_step,
                    const char *fmt, const char *a, const char *b)
{
	snprintf(o->last_error, sizeof(o->last_error), fmt, a, b);
	rz_step_go(o, retry_step, rz_backoff(job->attempts + 1, BACKOFF_BASE, BACKOFF_CAP,
	                                     rz_jitter()), NULL);
	if (job->attempts + 1 >= ERROR_AFTER)
		o->res.dns = RZ_DNS_ERROR;
	o->res.failed = true;
	o->res.last_error = o->last_error;
	o->res.audit_kind = "error";
	snprintf(o->audit, sizeof(o->audit), "%s: %s", job->step_name, o->last_error);
	o->res.audit_msg = o->audit;
	rz_log_zone(RZ_LOG_WARN, job->domain, "%s failed (attempt %d): %s", job->step_name,
	            job->attempts + 1, o->last_error);
}

/* Records as Knot-form krecs. */
static void to_krecs(const struct zg_rr *rrs, size_t n, struct zg_krec *out)
{
	for (size_t i = 0; i < n; i++)
		zg_krec_from_rr(&rrs[i], &out[i]);
}

/* The profile's records for this job, as generated. */
static int want_records(const struct rz_config *cfg, const struct rz_job *job,
                        struct zg_rr *rrs, size_t *n, char *err, size_t errlen)
{
	const struct zg_profile *p = rz_config_profile(cfg, job->profile);
	struct zg_builtins b = { NULL };
	char uri[ZG_TEXT_LEN + 1], why[512];
	int ret;

	*n = 0;
	/* {acme_account_uri}: the account made sure of first (certs.h), the
	 * step again with backoff while the CA cannot be asked. */
	if (p != NULL && zg_profile_uses_account_uri(p)) {
		if ((ret = rz_cert_account_uri(cfg, uri, sizeof(uri), why, sizeof(why))) != 0) {
			snprintf(err, errlen, "waiting for the ACME account ({acme_account_uri}): %s",
			         why);
			return RZ_EAGAIN;
		}
		b.acme_account_uri = uri;
	}
	return rz_config_expand(cfg, job->profile, job->domain, job->params_json, &b, rrs, n, err,
	                        errlen);
}

/*
 * A transaction that is not regzone's is open on the zone (an operator's
 * knotc session): wait for it, however long it stays open, checking again
 * every few seconds; never abort it.  The first sighting is audited and
 * kept in the job's step data; status shows "zone busy: ...".
 */
static void zone_busy(const struct rz_job *job, const char *why, struct rz_step_out *o)
{
	json_t *st = json_loads(job->state_json, 0, NULL);
	double since = json_number_value(json_object_get(st, "busy_since"));
	double now = (double)time(NULL);

	json_decref(st);
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	rz_step_go(o, job->step, rz_backoff(job->attempts + 1, 0.5, BUSY_CHECK_MAX_S, rz_jitter()),
	           NULL);
	o->res.failed = true;     /* counts the checks, for the backoff */
	o->res.last_error = o->last_error;
	if (since <= 0) {
		char buf[64];

		snprintf(buf, sizeof(buf), "{\"busy_since\":%.0f}", now);
		rz_step_go(o, job->step, o->res.delay_s, buf);
		snprintf(o->audit, sizeof(o->audit), "%s: %s", job->step_name, why);
		o->res.audit_kind = "wait";
		o->res.audit_msg = o->audit;
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", why);
	}
}

/* A publish step of a batch: its records, what the ledger says regzone
 * owns, and the write's outcome. */
struct pub_job {
	struct zg_krec *want, *owned;    /* malloc'ed */
	size_t n_want, n_owned;
	struct zg_plan plan;
	char *diff;
	char err[2048];
};

/* The records to write and the ledger's: false (and o says why) when the
 * step cannot write. */
static bool publish_prepare(const struct rz_step_ctx *x, const struct rz_job *job,
                            struct pub_job *p, struct zg_rr *rrs, struct rz_step_out *o)
{
	size_t n = 0;

	if (want_records(x->cfg, job, rrs, &n, p->err, sizeof(p->err)) != 0) {
		failure(o, job, RZ_STEP_PUBLISH, "%s%s", p->err, "");
		return false;
	}
	if ((p->want = calloc(n ? n : 1, sizeof(*p->want))) == NULL) {
		failure(o, job, RZ_STEP_PUBLISH, "%s%s", "out of memory", "");
		return false;
	}
	to_krecs(rrs, n, p->want);
	p->n_want = n;
	if (store_ledger_live(x->db, job->domain, job->service, "service", &p->owned,
	                      &p->n_owned, p->err, sizeof(p->err)) != 0) {
		failure(o, job, RZ_STEP_PUBLISH, "%s%s", p->err, "");
		return false;
	}
	return true;
}

/* The step's outcome from the write's (ret) and, after a write, the
 * ledger's settling (settled, its error in p->err). */
static void publish_done(const struct rz_job *job, struct pub_job *p, int ret, int settled,
                         struct rz_step_out *o)
{
	const struct zg_plan *plan = &p->plan;

	if (ret == RZ_ECONFLICT) {
		snprintf(o->last_error, sizeof(o->last_error), "conflict with existing records: %s",
		         plan->conflict);
		rz_step_go(o, RZ_STEP_NONE, 0, NULL);
		o->res.dns = RZ_DNS_CONFLICT;
		o->res.active = RZ_ACTIVE_NO;
		o->res.last_error = o->last_error;
		o->res.audit_kind = "error";
		o->res.audit_msg = o->last_error;
		rz_log_zone(RZ_LOG_WARN, job->domain, "conflict: %s", plan->conflict);
		return;
	}
	if (ret == RZ_EAGAIN) {     /* another worker of ours has the zone */
		rz_step_go(o, RZ_STEP_PUBLISH, 0.05 + 0.1 * rz_jitter(), NULL);
		return;
	}
	if (ret == RZ_EBUSY) {
		zone_busy(job, p->err, o);
		return;
	}
	if (ret != 0) {
		failure(o, job, RZ_STEP_PUBLISH, "knot: %s%s", p->err, "");
		return;
	}
	if (settled != 0) {
		failure(o, job, RZ_STEP_PUBLISH, "%s%s", p->err, "");
		return;
	}
	snprintf(o->audit, sizeof(o->audit), "zone %s: %zu records added, %zu removed, %zu "
	         "already there%s%s", job->zone, plan->n_set, plan->n_unset, plan->n_keep,
	         p->diff != NULL && p->diff[0] != '\0' ? "; diff:\n" : "",
	         p->diff != NULL ? p->diff : "");
	rz_log_zone(RZ_LOG_INFO, job->domain, "publish: zone %s, %zu added, %zu removed, %zu "
	            "already there", job->zone, plan->n_set, plan->n_unset, plan->n_keep);
	rz_step_go(o, RZ_STEP_VERIFY, rz_check_delay(0), "{}");   /* forget any busy_since */
	o->res.audit_kind = "step";
	o->res.audit_msg = o->audit;
}

/* The publish steps of n jobs: their writes go to knotd together. */
static void publish_many(const struct rz_step_ctx *x, const struct rz_job *const *jobs,
                         size_t n, struct rz_step_out *const *o)
{
	struct zg_rr *rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs));
	struct pub_job *p = calloc(n, sizeof(*p));
	struct rz_pub_req *req = calloc(n, sizeof(*req));
	struct store_settle *settle = calloc(n, sizeof(*settle));
	size_t *of = calloc(n, sizeof(*of)), m = 0, ns = 0;
	char serr[1024] = "";
	int settled = 0;

	if (rrs == NULL || p == NULL || req == NULL || of == NULL || settle == NULL) {
		for (size_t i = 0; i < n; i++)
			failure(o[i], jobs[i], RZ_STEP_PUBLISH, "%s%s", "out of memory", "");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!publish_prepare(x, jobs[i], &p[i], rrs, o[i]))
			continue;
		req[m] = (struct rz_pub_req){
			.job = jobs[i], .purpose = "service", .want = p[i].want, .n_want = p[i].n_want,
			.owned = p[i].owned, .n_owned = p[i].n_owned, .plan = &p[i].plan,
			.diff = &p[i].diff, .err = p[i].err, .errlen = sizeof(p[i].err),
		};
		of[m++] = i;
	}
	rz_publish_apply_many(x, req, m);
	/* Pending rows of what is now there become live, removed ones close:
	 * one statement for the batch */
	for (size_t k = 0; k < m; k++)
		if (req[k].ret == 0)
			settle[ns++] = (struct store_settle){ jobs[of[k]], p[of[k]].want,
			                                      p[of[k]].n_want, p[of[k]].plan.unset,
			                                      p[of[k]].plan.n_unset };
	if (ns > 0 && store_ledger_settle_many(x->db, settle, ns, serr, sizeof(serr)) != 0)
		settled = RZ_EDB;
	for (size_t k = 0; k < m; k++) {
		if (req[k].ret == 0 && settled != 0)
			snprintf(p[of[k]].err, sizeof(p[of[k]].err), "%s", serr);
		publish_done(jobs[of[k]], &p[of[k]], req[k].ret, settled, o[of[k]]);
	}
out:
	for (size_t i = 0; p != NULL && i < n; i++) {
		zg_plan_clear(&p[i].plan);
		free(p[i].want);
		free(p[i].owned);
		free(p[i].diff);
	}
	free(rrs);
	free(p);
	free(req);
	free(of);
	free(settle);
}

static void step_publish(const struct rz_step_ctx *x, const struct rz_job *job,
                         struct rz_step_out *o)
{
	publish_many(x, &job, 1, &o);
}

/* Are these records served by every authoritative server (present) or by
 * none (absent)?  Schedules the next check or moves on. */
static void step_check(const struct rz_config *cfg, const struct rz_job *job,
                       const struct zg_rr *rrs, size_t n, bool present, struct rz_step_out *o)
{
	char err[1024] = "";
	const struct rz_primary *pr = rz_config_primary(cfg, job->primary);
	int ret = rz_publish_check(cfg, job->primary, rrs, n, present, err, sizeof(err));

	if (ret == 0) {
		/* active: the records and, when regzone manages certificates and
		 * the profile names some (a mail set may need none), a
		 * certificate deployed (the cert job, armed here, says when) */
		const struct zg_profile *prof = rz_config_profile(cfg, job->profile);
		bool certs = cfg->cert_auto && (prof == NULL || prof->n_cert_names > 0);

		rz_step_go(o, RZ_STEP_NONE, 0, NULL);
		o->res.dns = present ? RZ_DNS_PUBLISHED : RZ_DNS_REMOVED;
		o->res.active = !present ? RZ_ACTIVE_NO : certs ? RZ_ACTIVE_IF_CERT : RZ_ACTIVE_YES;
		o->res.arm_cert = present && certs;
		if (present)
			rz_metric_observe(rz_instr.publication_seconds, NULL, NULL, job->desired_age);
		snprintf(o->audit, sizeof(o->audit), "%s on all %zu authoritative servers of knot "
		         "primary '%s' after %.2f s", present ? "served" : "gone",
		         pr != NULL ? pr->n_servers : 0, job->primary, job->step_age);
		o->res.audit_kind = "state";
		o->res.audit_msg = o->audit;
		rz_log_zone(RZ_LOG_INFO, job->domain, "%s", o->audit);
		return;
	}
	if (job->step_age > cfg->dns_check_max_s) {
		/* Give up waiting: publish (or remove) again, with backoff. */
		failure(o, job, present ? RZ_STEP_PUBLISH : RZ_STEP_REMOVE,
		        "not %s by every authoritative server after the check deadline: %s",
		        present ? "served" : "removed", err);
		return;
	}
	/* Not yet: look again soon, a little later each time. */
	rz_step_go(o, job->step, rz_check_delay(job->attempts), NULL);
	o->res.failed = true;   /* counts the polls */
	if (ret == RZ_EIO || ret == RZ_ENOMEM) {
		snprintf(o->last_error, sizeof(o->last_error), "%s", err);
		o->res.last_error = o->last_error;
		o->res.delay_s = rz_backoff(job->attempts + 1, 0.5, 10.0, rz_jitter());
	}
}

static void step_verify(const struct rz_step_ctx *x, const struct rz_job *job,
                        struct rz_step_out *o)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	size_t n = 0;
	char err[1024];

	if (want_records(x->cfg, job, rrs, &n, err, sizeof(err)) != 0) {
		failure(o, job, RZ_STEP_PUBLISH, "%s%s", err, "");
		return;
	}
	step_check(x->cfg, job, rrs, n, true, o);
}

/* {"removed": [[owner, ttl, type, data], ...]}: what verify_removed looks
 * for.  malloc'ed, NULL when out of memory. */
static char *removed_json(const struct zg_krec *recs, size_t n)
{
	json_t *arr = json_array(), *obj = json_object();
	char *text = NULL;
	int fails = arr == NULL || obj == NULL;

	for (size_t i = 0; !fails && i < n; i++)
		fails |= json_array_append_new(arr, json_pack("[s,i,s,s]", recs[i].owner,
		                                              (json_int_t)recs[i].ttl, recs[i].type,
		                                              recs[i].data)) != 0;
	if (!fails && json_object_set(obj, "removed", arr) == 0)
		text = json_dumps(obj, JSON_COMPACT);
	json_decref(arr);
	json_decref(obj);
	return text;
}

static void step_remove(const struct rz_step_ctx *x, const struct rz_job *job,
                        struct rz_step_out *o)
{
	struct zg_krec *owned = NULL;
	struct zg_plan plan;
	size_t n_owned = 0;
	char err[2048] = "", *diff = NULL, *removed = NULL;
	int ret;

	memset(&plan, 0, sizeof(plan));
	if ((ret = store_ledger_live(x->db, job->domain, job->service, "service", &owned,
	                             &n_owned, err, sizeof(err))) != 0) {
		failure(o, job, RZ_STEP_REMOVE, "%s%s", err, "");
		return;
	}
	if (n_owned > 0) {
		ret = rz_publish_apply(x, job, "service", NULL, 0, owned, n_owned, &plan, &diff, err,
		                       sizeof(err));
		if (ret == RZ_ENOZONE) {
			rz_log_zone(RZ_LOG_WARN, job->domain, "zone %s no longer served: its records "
			            "went with it", job->zone);
			ret = 0;
		}
		if (ret == RZ_EAGAIN) {
			rz_step_go(o, RZ_STEP_REMOVE, 0.05 + 0.1 * rz_jitter(), NULL);
			goto out;
		}
		if (ret == RZ_EBUSY) {
			zone_busy(job, err, o);
			goto out;
		}
		if (ret != 0) {
			failure(o, job, RZ_STEP_REMOVE, "knot: %s%s", err, "");
			goto out;
		}
	}
	/* Every ledger row closes: what was there is unset now, what was not is
	 * gone already.  The check afterwards looks for all of them. */
	if ((ret = store_ledger_settle(x->db, job, NULL, 0, owned, n_owned, err,
	                               sizeof(err))) != 0) {
		failure(o, job, RZ_STEP_REMOVE, "%s%s", err, "");
		goto out;
	}
	if ((removed = removed_json(owned, n_owned)) == NULL) {
		failure(o, job, RZ_STEP_REMOVE, "%s%s", "out of memory", "");
		goto out;
	}
	rz_step_go(o, RZ_STEP_VERIFY_REMOVED, rz_check_delay(0), removed);
	snprintf(o->audit, sizeof(o->audit), "zone %s: %zu records removed", job->zone,
	         plan.n_unset);
	rz_log_zone(RZ_LOG_INFO, job->domain, "%s", o->audit);
	o->res.audit_kind = "step";
	o->res.audit_msg = o->audit;
out:
	free(removed);
	zg_plan_clear(&plan);
	free(owned);
	free(diff);
}

static void step_verify_removed(const struct rz_step_ctx *x, const struct rz_job *job,
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
	step_check(x->cfg, job, rrs, n, false, o);
}

/* The dns job's steps, each with the desired state it serves. */
static const struct {
	enum rz_step step;
	enum rz_desired desired;
	void (*run)(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o);
} dns_steps[] = {
	{ RZ_STEP_PUBLISH, RZ_DESIRED_ENABLED, step_publish },
	{ RZ_STEP_VERIFY, RZ_DESIRED_ENABLED, step_verify },
	{ RZ_STEP_REMOVE, RZ_DESIRED_DISABLED, step_remove },
	{ RZ_STEP_VERIFY_REMOVED, RZ_DESIRED_DISABLED, step_verify_removed },
};

void rz_dns_step(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o)
{
	for (size_t i = 0; i < sizeof(dns_steps) / sizeof(dns_steps[0]); i++) {
		if (dns_steps[i].step != job->step)
			continue;
		if (job->desired != dns_steps[i].desired) {
			/* The event that changed desired also rescheduled the job. */
			rz_step_go(o, job->desired == RZ_DESIRED_ENABLED ? RZ_STEP_PUBLISH :
			           RZ_STEP_REMOVE, 0, NULL);
			return;
		}
		rz_log_zone(RZ_LOG_DEBUG, job->domain, "step %s (attempt %d)", job->step_name,
		            job->attempts + 1);
		dns_steps[i].run(x, job, o);
		return;
	}
	failure(o, job, RZ_STEP_NONE, "unknown step '%s' of a %s job", job->step_name, "dns");
}

void rz_dns_steps(const struct rz_step_ctx *x, const struct rz_job *jobs, size_t n,
                  struct rz_step_out *o)
{
	const struct rz_job *batch[RZ_CLAIM_MAX];
	struct rz_step_out *out[RZ_CLAIM_MAX];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		rz_step_out_init(&o[i]);
		if (jobs[i].step != RZ_STEP_PUBLISH || jobs[i].desired != RZ_DESIRED_ENABLED ||
		    m == RZ_CLAIM_MAX) {
			rz_dns_step(x, &jobs[i], &o[i]);
			continue;
		}
		rz_log_zone(RZ_LOG_DEBUG, jobs[i].domain, "step %s (attempt %d, in a batch)",
		            jobs[i].step_name, jobs[i].attempts + 1);
		batch[m] = &jobs[i];
		out[m++] = &o[i];
	}
	if (m > 0)
		publish_many(x, batch, m, out);
}
