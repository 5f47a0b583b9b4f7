/*
 * certs.c - the steps of a cert job (see certs.h) as a table, and what
 * they share (certs_int.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/certs.h"
#include "daemon/certs_int.h"
#include "daemon/hook.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/posh.h"
#include "daemon/rz_err.h"
#include "zonegen/psl.h"

/* ------------------------------------------------------- step results */

const char *cs_get(const json_t *st, const char *key)
{
	const char *v = json_string_value(json_object_get(st, key));

	return v != NULL ? v : "";
}

long long cs_order_id(const json_t *st)
{
	return (long long)json_integer_value(json_object_get(st, "order_id"));
}

void cs_go(struct rz_step_out *o, enum rz_step next, double delay, const json_t *st)
{
	char *json = st != NULL ? json_dumps(st, JSON_COMPACT) : NULL;

	/* Out of memory: the step data stays as it was, and the step runs
	 * again from it (every step is idempotent): rz_cert_step() set the
	 * job's own step as the next one before the step ran. */
	if (st != NULL && json == NULL) {
		o->res.delay_s = 1.0;
		o->res.failed = true;
		return;
	}
	rz_step_go(o, next, delay, json);
	free(json);
}

void cs_audit(struct rz_step_out *o, const char *kind, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->audit, sizeof(o->audit), fmt, ap);
	va_end(ap);
	o->res.audit_kind = kind;
	o->res.audit_msg = o->audit;
}

void cs_error(struct rz_step_out *o, const struct rz_job *job, const char *why)
{
	snprintf(o->last_error, sizeof(o->last_error), "certificate: %s: %s", job->step_name, why);
	o->res.last_error = o->last_error;
}

void cs_retry(struct rz_step_out *o, const struct rz_job *job, const char *why)
{
	cs_error(o, job, why);
	rz_step_go(o, job->step, rz_backoff(job->attempts + 1, CS_BACKOFF_BASE, CS_BACKOFF_CAP,
	                                    rz_jitter()), NULL);
	o->res.failed = true;
	cs_audit(o, "error", "%s", o->last_error);
	rz_log_zone(RZ_LOG_WARN, job->domain, "%s (attempt %d)", o->last_error, job->attempts + 1);
}

void cs_zone_wait(struct rz_step_out *o, const struct rz_job *job, json_t *st, int ret,
                  const char *why)
{
	if (ret == RZ_EAGAIN) {
		cs_go(o, job->step, 0.05 + 0.5 * rz_jitter(), st);
		return;
	}
	cs_error(o, job, why);
	o->res.failed = true;   /* counts the looks, for the delay */
	if (job->attempts == 0)
		cs_audit(o, "wait", "%s", o->last_error);
	cs_go(o, job->step, rz_backoff(job->attempts + 1, 0.5, CS_BUSY_RETRY_MAX_S, rz_jitter()),
	      st);
}

void cs_give_up(struct rz_step_out *o, const struct rz_job *job, json_t *st, const char *why)
{
	json_object_set_new(st, "after", json_string("failed"));
	json_object_set_new(st, "error", json_string(why));
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	o->res.last_error = o->last_error;
	cs_audit(o, "error", "certificate: %s: %s", job->step_name, why);
	rz_log_zone(RZ_LOG_WARN, job->domain, "certificate order failed: %s", why);
	cs_go(o, RZ_STEP_CLEANUP, 0, st);
}

/* ------------------------------------------------ what the job is for */

int cs_names(const struct rz_config *cfg, const struct rz_job *job,
             char names[][ZG_OWNER_SIZE], const char **ptrs, size_t *n)
{
	const struct zg_profile *p = rz_config_profile(cfg, job->profile);
	int ret;

	*n = 0;
	if (p == NULL)
		return RZ_ENOENT;
	if ((ret = zg_cert_names(p, job->domain, names, n)) != 0)
		return ret;
	for (size_t i = 0; i < *n; i++)
		ptrs[i] = names[i];
	return 0;
}

struct cf_policy cs_policy(const struct rz_config *cfg)
{
	struct cf_policy p = { cfg->cert_dir, cfg->cert_gid };

	return p;
}

int cs_live_dir(const struct rz_config *cfg, const struct rz_job *job, char *buf, size_t len)
{
	struct cf_policy p = cs_policy(cfg);

	return cf_live_path(&p, job->service, job->domain, buf, len);
}

bool cs_posh_on(const struct rz_config *cfg, const struct rz_job *job)
{
	return cfg->cert_posh && strcmp(job->service, POSH_SERVICE) == 0;
}

/* The Public Suffix List (acme.public_suffix_list), loaded before the
 * workers start and read by all of them. */
static struct zg_psl *g_psl;

void cs_reg_domain(const char *domain, char *out, size_t len)
{
	if (g_psl == NULL || zg_psl_registered_domain(g_psl, domain, out, len) != 0)
		snprintf(out, len, "%s", domain);
}

/*
 * The hook gets REGZONE_DOMAIN, REGZONE_SERVICE, REGZONE_CERT_DIR (the live
 * directory) and REGZONE_ACTION, with certificates.posh REGZONE_POSH_DIR
 * (where the POSH documents are: the live directory too, but a hook should
 * not have to know that), plus the operator's certificates.hook_env;
 * nothing else of regzoned's environment.  A hook that outlived
 * hook_timeout_s failed, whatever it exited with.
 */
int cs_run_hook(const struct rz_config *cfg, const struct rz_job *job, const char *action,
                int *status, char *output, size_t outlen)
{
	char dir[4096], e_dom[ZG_OWNER_SIZE + 32], e_svc[RZ_SERVICE_MAX + 32], e_dir[4200];
	char e_act[64], e_posh[4200];
	const char *env[RZ_HOOK_ENV_MAX + 1];
	struct rz_hook_result res;
	size_t n = 0;
	int ret;

	*status = -1;
	output[0] = '\0';
	if ((ret = cs_live_dir(cfg, job, dir, sizeof(dir))) != 0) {
		snprintf(output, outlen, "hook: no certificate directory for %s", job->domain);
		return ret;
	}
	snprintf(e_dom, sizeof(e_dom), "REGZONE_DOMAIN=%s", job->domain);
	snprintf(e_svc, sizeof(e_svc), "REGZONE_SERVICE=%s", job->service);
	snprintf(e_dir, sizeof(e_dir), "REGZONE_CERT_DIR=%s", dir);
	snprintf(e_act, sizeof(e_act), "REGZONE_ACTION=%s", action);
	env[n++] = e_dom;
	env[n++] = e_svc;
	env[n++] = e_dir;
	env[n++] = e_act;
	if (cs_posh_on(cfg, job)) {
		snprintf(e_posh, sizeof(e_posh), "REGZONE_POSH_DIR=%s", dir);
		env[n++] = e_posh;
	}
	for (size_t i = 0; i < cfg->n_hook_env && n < RZ_HOOK_ENV_MAX; i++)
		env[n++] = cfg->hook_env[i];
	env[n] = NULL;
	ret = rz_hook_run(cfg->deploy_hook, env, cfg->hook_timeout_s, &res);
	snprintf(output, outlen, "%s", res.output);
	if (ret != 0) {
		rz_metric_inc(rz_instr.hook_runs, action, "not_run");
		return ret;
	}
	*status = res.timed_out ? -1 : res.status;
	rz_metric_inc(rz_instr.hook_runs, action, res.timed_out ? "timeout" :
	              res.status == 0 ? "ok" : "failed");
	return 0;
}

/* ---------------------------------------------------- start and end */

int rz_cert_start(const struct rz_config *cfg, char *err, size_t errlen)
{
	if (g_psl != NULL)
		return 0;
	return zg_psl_load(cfg->acme_psl, &g_psl, err, errlen);
}

void rz_cert_thread_end(void)
{
	cs_client_end();
}

void rz_cert_end(void)
{
	zg_psl_free(g_psl);
	g_psl = NULL;
	cs_acct_end();
}

/* --------------------------------------------------------- the table */

/* A job parked by a failure (or a disable) and made due again, or one
 * whose desired state changed under it: where it goes instead of its
 * step.  True when it went. */
static bool resume(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                   struct rz_step_out *o)
{
	json_t *empty = json_object();
	struct rz_state sv;
	char err[512];
	bool found, went = true;

	if (empty == NULL) {
		cs_retry(o, job, "out of memory");
	} else if (job->desired != RZ_DESIRED_ENABLED && job->step != RZ_STEP_REMOVE) {
		cs_go(o, RZ_STEP_REMOVE, 0, empty);
	} else if (job->desired == RZ_DESIRED_ENABLED && job->step == RZ_STEP_REMOVE) {
		/* Enabled again while (or after) the removal ran.  The dns job arms
		 * this job when the records are published, but only a parked one:
		 * if it published during the removal, order now. */
		if (store_state(x->db, job->domain, job->service, &sv, &found, err,
		                sizeof(err)) != 0) {
			cs_retry(o, job, err);
		} else if (found && sv.dns == RZ_DNS_PUBLISHED) {
			o->res.cert = RZ_CERT_ORDERING;
			cs_audit(o, "acme", "certificate: enabled again and the records are "
			         "published: a new order");
			cs_go(o, RZ_STEP_ORDER, 0, empty);
		} else {
			cs_go(o, RZ_STEP_NONE, 0, NULL);   /* re-armed when they are published */
		}
	} else if (strcmp(cs_get(st, "parked"), "failed") == 0 &&
	           strcmp(cs_get(st, "retry_step"), "deploy") == 0) {
		/* A hook that kept failing, due again: "regzonectl retry". */
		cs_audit(o, "hook", "certificate: the deploy hook again after its failures (%s)",
		         cs_get(st, "error"));
		json_object_del(st, "parked");
		json_object_del(st, "retry_step");
		json_object_del(st, "error");
		cs_go(o, RZ_STEP_DEPLOY, 0, st);
	} else if (strcmp(cs_get(st, "parked"), "failed") == 0) {
		/* A failed order parked here is due again: "regzonectl retry". */
		o->res.cert = RZ_CERT_ORDERING;
		cs_audit(o, "acme", "certificate: a new order after the failure (%s)",
		         cs_get(st, "error"));
		cs_go(o, RZ_STEP_ORDER, 0, empty);
	} else {
		went = false;
	}
	json_decref(empty);
	return went;
}

static cs_step_fn *const cert_steps[RZ_STEP__MAX] = {
	[RZ_STEP_ORDER] = cs_step_order,
	[RZ_STEP_PUBLISH] = cs_step_publish,
	[RZ_STEP_VERIFY] = cs_step_verify,
	[RZ_STEP_RESPOND] = cs_step_respond,
	[RZ_STEP_POLL] = cs_step_poll,
	[RZ_STEP_FINALIZE] = cs_step_finalize,
	[RZ_STEP_DOWNLOAD] = cs_step_download,
	[RZ_STEP_CLEANUP] = cs_step_cleanup,
	[RZ_STEP_VERIFY_CLEAN] = cs_step_verify_clean,
	[RZ_STEP_DEPLOY] = cs_step_deploy,
	[RZ_STEP_RENEW] = cs_step_renew,
	[RZ_STEP_REMOVE] = cs_step_remove,
};

void rz_cert_step(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o)
{
	json_t *st = json_loads(job->state_json, 0, NULL);

	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	if (st == NULL) {
		cs_retry(o, job, "out of memory");
		return;
	}
	if ((unsigned)job->step >= RZ_STEP__MAX || cert_steps[job->step] == NULL) {
		char why[128];

		snprintf(why, sizeof(why), "not a step of a cert job: parked");
		cs_error(o, job, why);
		cs_audit(o, "error", "%s", o->last_error);
		o->res.failed = true;
		cs_go(o, RZ_STEP_NONE, 0, NULL);
	} else {
		rz_step_go(o, job->step, 1.0, NULL);   /* what cs_go() falls back to */
		if (!resume(x, job, st, o)) {
			rz_log_zone(RZ_LOG_DEBUG, job->domain, "cert step %s (attempt %d)",
			            job->step_name, job->attempts + 1);
			cert_steps[job->step](x, job, st, o);
		}
	}
	json_decref(st);
}
