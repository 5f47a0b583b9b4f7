/*
 * certs_dns.c - the _acme-challenge TXT records of a cert job: published
 * in one Knot transaction through publish.h (ledger purpose "acme"),
 * verified on every authoritative server, removed on every path out of an
 * order, and verified gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/retry.h"
#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/log.h"
#include "daemon/publish.h"
#include "daemon/rz_err.h"

/* The order's TXT records, as Knot writes them (k) and as the check
 * reads them (rr); either may be NULL. */
static size_t txt_records(const json_t *st, struct zg_krec *k, struct zg_rr *rr, size_t max)
{
	json_t *chs = json_object_get(st, "ch"), *c;
	size_t i, n = 0;

	json_array_foreach(chs, i, c) {
		if (n == max)
			break;
		if (k != NULL) {
			memset(&k[n], 0, sizeof(k[n]));
			snprintf(k[n].owner, sizeof(k[n].owner), "_acme-challenge.%s.",
			         cs_get(c, "name"));
			k[n].ttl = CS_TXT_TTL;
			snprintf(k[n].type, sizeof(k[n].type), "TXT");
			snprintf(k[n].data, sizeof(k[n].data), "\"%s\"", cs_get(c, "value"));
		}
		if (rr != NULL) {
			memset(&rr[n], 0, sizeof(rr[n]));
			snprintf(rr[n].owner, sizeof(rr[n].owner), "_acme-challenge.%s.",
			         cs_get(c, "name"));
			rr[n].ttl = CS_TXT_TTL;
			rr[n].type = ZG_RR_TXT;
			snprintf(rr[n].data, sizeof(rr[n].data), "\"%s\"", cs_get(c, "value"));
		}
		n++;
	}
	return n;
}

/* One Knot transaction: want (maybe none) replaces every acme record the
 * ledger has for the service; the ledger settled after the commit. */
static int txt_apply(const struct rz_step_ctx *x, const struct rz_job *job,
                     const struct zg_krec *want, size_t n_want, size_t *n_set, size_t *n_unset,
                     char *err, size_t errlen)
{
	struct zg_krec *owned = NULL;
	struct zg_plan plan;
	size_t n_owned = 0;
	char *diff = NULL;
	int ret;

	memset(&plan, 0, sizeof(plan));
	*n_set = *n_unset = 0;
	if ((ret = store_ledger_live(x->db, job->domain, job->service, "acme", &owned, &n_owned,
	                             err, errlen)) != 0)
		return ret;
	if (n_want == 0 && n_owned == 0) {
		free(owned);
		return 0;
	}
	ret = rz_publish_apply(x, job, "acme", want, n_want, owned, n_owned, &plan, &diff, err,
	                       errlen);
	if (ret == RZ_ENOZONE && n_want == 0)
		ret = 0;     /* the zone went, and its records with it */
	if (ret == 0) {
		*n_set = plan.n_set;
		*n_unset = plan.n_unset;
		ret = store_ledger_settle(x->db, job, want, n_want, n_want == 0 ? owned : plan.unset,
		                          n_want == 0 ? n_owned : plan.n_unset, err, errlen);
	} else if (ret == RZ_ECONFLICT) {
		snprintf(err, errlen, "%s", plan.conflict);
	}
	zg_plan_clear(&plan);
	free(diff);
	free(owned);
	return ret;
}

/* Served by every authoritative server (present), or by none. */
static int txt_check(const struct rz_config *cfg, const struct rz_job *job, const json_t *st,
                     bool present, char *err, size_t errlen)
{
	struct zg_rr rrs[ZG_MAX_CERT_NAMES];
	size_t n = txt_records(st, NULL, rrs, ZG_MAX_CERT_NAMES);

	return rz_publish_check(cfg, job->primary, rrs, n, present, err, errlen);
}

/* The next look at the servers: soon while the records propagate, with
 * backoff when a server did not answer. */
static double check_delay(const struct rz_job *job, int ret)
{
	return ret == RZ_EIO ? rz_backoff(job->attempts + 1, 0.5, 10.0, rz_jitter()) :
	       rz_check_delay(job->attempts);
}

void cs_step_publish(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                     struct rz_step_out *o)
{
	struct zg_krec want[ZG_MAX_CERT_NAMES];
	size_t n = txt_records(st, want, NULL, ZG_MAX_CERT_NAMES), n_set, n_unset;
	char err[2048] = "", why[2600];
	int ret = txt_apply(x, job, want, n, &n_set, &n_unset, err, sizeof(err));

	if (ret == RZ_EAGAIN || ret == RZ_EBUSY) {
		cs_zone_wait(o, job, st, ret, err);
		return;
	}
	if (ret == RZ_ECONFLICT) {
		snprintf(why, sizeof(why), "challenge records clash with the zone: %s", err);
		cs_give_up(o, job, st, why);
		return;
	}
	if (ret != 0) {
		cs_retry(o, job, err);
		return;
	}
	json_object_set_new(st, "published", json_true());
	cs_audit(o, "acme", "acme: zone %s: %zu _acme-challenge TXT records added in one "
	         "transaction (%zu already there, %zu old removed)", job->zone, n_set, n - n_set,
	         n_unset);
	cs_go(o, RZ_STEP_VERIFY, rz_check_delay(0), st);
}

void cs_step_verify(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                    struct rz_step_out *o)
{
	char err[1024] = "";
	int ret = txt_check(x->cfg, job, st, true, err, sizeof(err));

	if (ret == 0) {
		const struct rz_primary *pr = rz_config_primary(x->cfg, job->primary);

		cs_audit(o, "acme", "acme: challenge records served by all %zu authoritative "
		         "servers of knot primary '%s' after %.2f s", pr != NULL ? pr->n_servers : 0,
		         job->primary, job->step_age);
		cs_go(o, RZ_STEP_RESPOND, 0, st);
		return;
	}
	if (job->step_age > x->cfg->dns_check_max_s) {
		/* publish again, later */
		cs_retry(o, job, err);
		o->res.next_step = RZ_STEP_PUBLISH;
		return;
	}
	cs_go(o, RZ_STEP_VERIFY, check_delay(job, ret), st);
	o->res.failed = true;   /* counts the polls */
}

int cs_txt_remove(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                  struct rz_step_out *o)
{
	size_t n_set, n_unset;
	char err[2048] = "";
	int ret = txt_apply(x, job, NULL, 0, &n_set, &n_unset, err, sizeof(err));

	if (ret == RZ_EAGAIN || ret == RZ_EBUSY) {
		cs_zone_wait(o, job, st, ret, err);
		return -1;
	}
	if (ret != 0) {
		cs_retry(o, job, err);
		return -1;
	}
	return (int)n_unset;
}

void cs_step_cleanup(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                     struct rz_step_out *o)
{
	int n = cs_txt_remove(x, job, st, o);

	if (n < 0)
		return;
	if (n > 0)
		cs_audit(o, "acme", "acme: zone %s: %d _acme-challenge TXT records removed",
		         job->zone, n);
	if (strcmp(cs_get(st, "after"), "deploy") != 0 && cs_get(st, "error")[0] != '\0') {
		snprintf(o->last_error, sizeof(o->last_error), "%s", cs_get(st, "error"));
		o->res.last_error = o->last_error;
	}
	cs_go(o, RZ_STEP_VERIFY_CLEAN, 0, st);
}

/* The order failed: parked until a retry or a renewal; a key made for it
 * goes too. */
static void park_failed(const struct rz_step_ctx *x, const struct rz_job *job,
                        const json_t *st, struct rz_step_out *o)
{
	json_t *ns = json_pack("{s:s,s:s}", "parked", "failed", "error", cs_get(st, "error"));
	struct cf_policy pol = cs_policy(x->cfg);
	char err[512];

	if (ns == NULL ||
	    certstore_order_status(x->db, cs_order_id(st), "invalid", err, sizeof(err)) != 0) {
		json_decref(ns);
		cs_retry(o, job, ns == NULL ? "out of memory" : err);
		return;
	}
	if (cf_discard_pending(&pol, job->service, job->domain, err, sizeof(err)) == 0)
		cs_audit(o, "acme", "removed the unused key of the failed order");
	snprintf(o->last_error, sizeof(o->last_error), "%s", cs_get(st, "error"));
	o->res.last_error = o->last_error;
	o->res.cert = RZ_CERT_FAILED;
	o->res.active = RZ_ACTIVE_IF_CERT;
	cs_go(o, RZ_STEP_NONE, 0, ns);
	json_decref(ns);
}

/* A new order after a failure the CA (or a lost key) said to retry. */
static void order_again(const struct rz_job *job, const json_t *st, struct rz_step_out *o)
{
	json_t *ns = json_pack("{s:s}", "reason", cs_get(st, "reason"));
	json_t *after = json_object_get(st, "retry_s");

	if (ns == NULL) {
		cs_retry(o, job, "out of memory");
		return;
	}
	snprintf(o->last_error, sizeof(o->last_error), "%s", cs_get(st, "error"));
	o->res.last_error = o->last_error;
	cs_go(o, RZ_STEP_ORDER, json_is_number(after) ? json_number_value(after) :
	      acme_backoff_ladder(1, rz_jitter()), ns);
	json_decref(ns);
}

void cs_step_verify_clean(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                          struct rz_step_out *o)
{
	char err[1024] = "";
	const char *after = cs_get(st, "after");
	int ret = json_is_true(json_object_get(st, "published")) ?
	          txt_check(x->cfg, job, st, false, err, sizeof(err)) : 0;

	if (ret != 0 && job->step_age <= x->cfg->dns_check_max_s) {
		cs_go(o, RZ_STEP_VERIFY_CLEAN, check_delay(job, ret), st);
		o->res.failed = true;
		if (strcmp(after, "deploy") != 0 && cs_get(st, "error")[0] != '\0') {
			snprintf(o->last_error, sizeof(o->last_error), "%s", cs_get(st, "error"));
			o->res.last_error = o->last_error;
		}
		return;
	}
	if (strcmp(after, "deploy") == 0)
		cs_go(o, RZ_STEP_DEPLOY, 0, st);
	else if (strcmp(after, "retry") == 0)
		order_again(job, st, o);
	else
		park_failed(x, job, st, o);
}
