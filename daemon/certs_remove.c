/*
 * certs_remove.c - a cert job's removal (the service disabled): challenge
 * records out, unfinished orders abandoned, the hosting told (the hook,
 * REGZONE_ACTION=remove), the certificate revoked when configured, its
 * files deleted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/hook.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

#define REVOKE_CESSATION 5        /* RFC 5280 reason cessationOfOperation */

/* The remove hook, once per removal (its success kept in the step data).
 * 0 when done or given up on after hook_max_failures (audited: the files go
 * anyway, the service is disabled), 1 when the step must run again. */
static int remove_hook(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                       struct rz_step_out *o)
{
	const struct rz_config *cfg = x->cfg;
	char output[RZ_HOOK_OUTPUT_MAX], msg[RZ_HOOK_OUTPUT_MAX + 160], err[512];
	int status = -1;

	if (cfg->deploy_hook == NULL || json_is_true(json_object_get(st, "hook_done")))
		return 0;
	if (cs_run_hook(cfg, job, "remove", &status, output, sizeof(output)) == 0 && status == 0) {
		snprintf(msg, sizeof(msg), "remove hook exited 0%s%s", output[0] ? ": " : "", output);
	} else if ((uint32_t)job->attempts + 1 < cfg->hook_max_failures) {
		snprintf(o->last_error, sizeof(o->last_error), "certificate: remove hook exited %d "
		         "(failure %d of %u): %.1500s", status, job->attempts + 1,
		         cfg->hook_max_failures, output);
		o->res.last_error = o->last_error;
		o->res.failed = true;
		cs_audit(o, "hook", "%s", o->last_error);
		cs_go(o, RZ_STEP_REMOVE, rz_backoff(job->attempts + 1, 5.0, 3600.0, rz_jitter()), st);
		return 1;
	} else {
		snprintf(msg, sizeof(msg), "remove hook failed %u times (last exit %d): removing the "
		         "files anyway: %.1500s", cfg->hook_max_failures, status, output);
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", msg);
	}
	if (store_audit(x->db, job->domain, job->service, NULL, "hook", msg, NULL, err,
	                sizeof(err)) != 0) {
		cs_retry(o, job, err);   /* the hook runs again: the audit must say it ran */
		return 1;
	}
	json_object_set_new(st, "hook_done", json_true());
	return 0;
}

/* Revoke the current certificate (acme.revoke_on_disable): 0 done or
 * refused (audited), 1 when the step must run again (the CA unreachable,
 * the database). */
static int revoke_current(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                          struct rz_step_out *o)
{
	struct certstore_current cur;
	struct acme_client *c;
	struct acme_error e;
	char err[512];
	bool found;
	int ret;

	if (certstore_current(x->db, job->domain, job->service, &cur, &found, err,
	                      sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return 1;
	}
	if (!found || cur.not_after <= time(NULL)) {
		certstore_current_free(&cur);
		return 0;
	}
	if ((ret = cs_client(x->cfg, &c, &e)) == 0)
		ret = acme_cert_revoke(c, cur.chain_pem, REVOKE_CESSATION, &e);
	if (ret != 0 && acme_error_retryable(&e)) {
		certstore_current_free(&cur);
		cs_ca_error(x, job, st, o, ret, &e);
		return 1;
	}
	if ((ret == 0 && certstore_revoked(x->db, cur.id, err, sizeof(err)) != 0) ||
	    /* a refusal is audited, the row stays */
	    store_audit(x->db, job->domain, job->service, NULL, "acme", ret == 0 ?
	                "certificate revoked (cessationOfOperation)" : e.msg, NULL, err,
	                sizeof(err)) != 0) {
		certstore_current_free(&cur);
		cs_retry(o, job, err);
		return 1;
	}
	certstore_current_free(&cur);
	return 0;
}

void cs_step_remove(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                    struct rz_step_out *o)
{
	struct cf_policy pol = cs_policy(x->cfg);
	char err[2048] = "", *installed = NULL;
	int ret;

	if ((ret = cs_txt_remove(x, job, st, o)) < 0)
		return;
	if (ret > 0)
		json_object_set_new(st, "txt_removed", json_true());
	if (certstore_orders_abandon(x->db, job->domain, job->service, err, sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return;
	}
	if (cf_installed_chain(&pol, job->service, job->domain, &installed, err,
	                       sizeof(err)) == 0) {
		free(installed);
		if (remove_hook(x, job, st, o) != 0)
			return;
		if (x->cfg->acme_revoke_on_disable && revoke_current(x, job, st, o) != 0)
			return;
	}
	if ((ret = cf_remove(&pol, job->service, job->domain, err, sizeof(err))) != 0) {
		if (ret != RZ_EEXIST) {
			cs_retry(o, job, err);
			return;
		}
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);   /* not ours: left alone */
	}
	o->res.cert = RZ_CERT_NONE;
	cs_audit(o, "state", "certificate files removed%s",
	         json_is_true(json_object_get(st, "txt_removed")) ? " (and challenge records)" : "");
	cs_go(o, RZ_STEP_NONE, 0, st);
}
