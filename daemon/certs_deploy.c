/*
 * certs_deploy.c - a cert job after its certificate is in place: deploy
 * (the hosting told through the deploy hook) and renew (when: a stable
 * place per domain in the CA's renewalInfo window, RFC 9773, else in
 * acme.renew_window_percent around acme.renew_percent of the lifetime; at
 * once when the profile's names changed; acme/schedule.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acme/ari.h"
#include "acme/csr.h"
#include "acme/schedule.h"
#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/hook.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

#define RENEW_LOOK_MIN_S 60.0   /* the renew step decides, with the window in hand */
#define NO_CERT_LOOK_S 86400.0  /* no certificate to renew: look again in a day */

/* cur's renewal window without ARI: acme.renew_percent -+ half of
 * acme.renew_window_percent of its lifetime (acme/schedule.h). */
static int plain_window(const struct rz_config *cfg, const struct certstore_current *cur,
                        struct acme_sched_window *w)
{
	if (cur->id == 0)
		return RZ_ENOENT;
	return acme_sched_window(cur->not_before, cur->not_after, cfg->acme_renew_percent,
	                         cfg->acme_renew_window_percent, w);
}

/* When to renew cur: its place in its window, stable for (domain,
 * service) however often it is computed (restarts, reloads).  Seconds
 * from now, at least 1; *w the window (NULL: not wanted). */
static double renew_delay(const struct rz_config *cfg, const struct rz_job *job,
                          const struct certstore_current *cur, struct acme_sched_window *w)
{
	struct acme_sched_window pw = { 0, 0 };
	double d = NO_CERT_LOOK_S;

	if (plain_window(cfg, cur, &pw) == 0)
		d = difftime(acme_sched_pick(&pw, acme_sched_offset(job->domain, job->service)),
		             time(NULL));
	if (w != NULL)
		*w = pw;
	return d > 1 ? d : 1;
}

/*
 * When to renew, asking the CA's renewalInfo when its directory has one:
 * the same stable place, in the suggested window (due: *replaces = the
 * certificate's id, so the order is an ARI renewal), asked again about
 * twice a day; without ARI (or when it fails): renew_at, else
 * renew_delay().  Seconds from now; *win the window that applies.
 */
static double renewal_plan(const struct rz_config *cfg, const struct rz_job *job,
                           const struct certstore_current *cur, time_t renew_at,
                           char *replaces, size_t rlen, struct acme_sched_window *win)
{
	double d = renew_delay(cfg, job, cur, win);
	const struct acme_directory *dir = NULL;
	struct acme_sched_window aw;
	struct acme_client *c;
	struct acme_ari_info w;
	struct acme_error e;
	time_t now = time(NULL), next_poll, t;

	if (renew_at > 0)
		d = difftime(renew_at, now);
	replaces[0] = '\0';
	if (cur->ari_cert_id[0] == '\0' || cs_client(cfg, &c, &e) != 0 ||
	    acme_client_directory(c, &dir, &e) != 0 || dir->renewal_info == NULL)
		return d;
	if (acme_renewal_info(c, cur->ari_cert_id, &w, &next_poll, &e) != 0) {
		rz_log_zone(RZ_LOG_WARN, job->domain, "acme: renewalInfo: %s", e.msg);
		return d < difftime(next_poll, now) ? d : difftime(next_poll, now);
	}
	/* The same place in the CA's window at every poll: a fresh draw
	 * each time would pull renewals toward the window's start. */
	if (acme_sched_ari_window(&w, cur->not_before, cur->not_after, &aw) != 0)
		return d;
	*win = aw;
	t = acme_sched_pick(&aw, acme_sched_offset(job->domain, job->service));
	if (t <= now) {
		if (acme_ari_in_window(&w, now))
			snprintf(replaces, rlen, "%s", cur->ari_cert_id);
		return 0;
	}
	d = difftime(t, now);
	if (difftime(next_poll, now) < d)
		d = difftime(next_poll, now);
	return d > 1 ? d : 1;
}

/* ------------------------------------------------------------ deploy */

/* The deploy hook failed (exit status, or -1: it did not finish in time):
 * again later with backoff, until hook_max_failures in a row; then the
 * certificate is "failed" with the hook's output, and "regzonectl retry"
 * runs the hook again (the certificate stays where it is). */
static void deploy_failed(const struct rz_config *cfg, const struct rz_job *job, json_t *st,
                          int status, const char *output, struct rz_step_out *o)
{
	char how[64];

	if (status < 0)
		snprintf(how, sizeof(how), "did not finish within %u s", cfg->hook_timeout_s);
	else
		snprintf(how, sizeof(how), "exited %d", status);
	snprintf(o->last_error, sizeof(o->last_error), "certificate: deploy hook %s (failure %d "
	         "of %u): %.1500s", how, job->attempts + 1, cfg->hook_max_failures, output);
	o->res.last_error = o->last_error;
	o->res.failed = true;
	cs_audit(o, "hook", "%s", o->last_error);
	rz_log_zone(RZ_LOG_WARN, job->domain, "deploy hook %s", how);
	if ((uint32_t)job->attempts + 1 < cfg->hook_max_failures) {
		cs_go(o, RZ_STEP_DEPLOY, rz_backoff(job->attempts + 1, 5.0, 3600.0, rz_jitter()),
		      NULL);
		return;
	}
	json_object_set_new(st, "parked", json_string("failed"));
	json_object_set_new(st, "retry_step", json_string("deploy"));
	json_object_set_new(st, "error", json_string(o->last_error));
	o->res.cert = RZ_CERT_FAILED;
	cs_go(o, RZ_STEP_NONE, 0, st);
}

/* Deployed: the renewal planned, the job at renew until then. */
static void deployed(const struct rz_step_ctx *x, const struct rz_job *job, const json_t *st,
                     struct rz_step_out *o, const struct certstore_current *cur,
                     time_t renew_at)
{
	char replaces[ACME_ARI_CERT_ID_SIZE];
	struct acme_sched_window w;
	double d = renewal_plan(x->cfg, job, cur, renew_at, replaces, sizeof(replaces), &w);
	/* waiting at renew: after first certificates in the claim order */
	json_t *ns = json_pack("{s:s,s:I,s:i}", "serial", cs_get(st, "serial"), "renew_at",
	                       (json_int_t)renew_at, "prio", ACME_PRIO_RENEW);

	if (ns == NULL) {
		cs_retry(o, job, "out of memory");
		return;
	}
	if (d < RENEW_LOOK_MIN_S)
		d = RENEW_LOOK_MIN_S;
	/* the first certificate of this request (not a renewal): the service
	 * is active now */
	if (strcmp(cs_get(st, "reason"), "renew") != 0)
		rz_metric_observe(rz_instr.issuance_seconds, NULL, NULL, job->desired_age);
	o->res.cert = RZ_CERT_ISSUED;
	o->res.active = RZ_ACTIVE_IF_CERT;
	cs_go(o, RZ_STEP_RENEW, d, ns);
	json_decref(ns);
	rz_log_zone(RZ_LOG_INFO, job->domain, "certificate %s deployed; renewal in %.0f s",
	            cs_get(st, "serial"), d);
}

void cs_step_deploy(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                    struct rz_step_out *o)
{
	char output[RZ_HOOK_OUTPUT_MAX], err[512];
	struct certstore_current cur;
	bool hook = x->cfg->deploy_hook != NULL, found;
	int status = 0;
	time_t renew_at = 0;

	if (hook && cs_run_hook(x->cfg, job, "deploy", &status, output, sizeof(output)) != 0) {
		cs_retry(o, job, output[0] ? output : "cannot run the deploy hook");
		return;
	}
	if (certstore_current(x->db, job->domain, job->service, &cur, &found, err,
	                      sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return;
	}
	if (status == 0)
		renew_at = time(NULL) + (time_t)renew_delay(x->cfg, job, &cur, NULL);
	/* The hook's status and the renewal time on the row, for ops. */
	if (certstore_deployed(x->db, job->domain, job->service, hook ? &status : NULL, renew_at,
	                       err, sizeof(err)) != 0) {
		certstore_current_free(&cur);
		cs_retry(o, job, err);
		return;
	}
	if (status != 0)
		deploy_failed(x->cfg, job, st, status, output, o);
	else if (hook)
		cs_audit(o, "hook", "deploy hook exited 0%s%.3000s", output[0] ? ": " : "", output);
	else
		cs_audit(o, "state", "certificate %s in place (no deploy hook configured)",
		         cs_get(st, "serial"));
	if (status == 0)
		deployed(x, job, st, o, &cur, renew_at);
	certstore_current_free(&cur);
}

/* ------------------------------------------------------------- renew */

/* Does cur carry exactly the profile's names?  (No certificate, or no
 * names to compare with: nothing to say, yes.) */
static bool names_current(const struct rz_config *cfg, const struct rz_job *job,
                          const struct certstore_current *cur)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	size_t n = 0;

	if (cur->id == 0 || cs_names(cfg, job, names, ptrs, &n) != 0)
		return true;
	return acme_names_same_set(ptrs, n, (const char *const *)cur->names, cur->n_names);
}

void cs_step_renew(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                   struct rz_step_out *o)
{
	char replaces[ACME_ARI_CERT_ID_SIZE] = "", err[512];
	struct certstore_current cur;
	struct acme_sched_window w = { 0, 0 };
	enum acme_sched_prio prio;
	bool changed, found, forced = json_is_true(json_object_get(st, "forced"));
	json_t *ns;
	double d;

	if (certstore_current(x->db, job->domain, job->service, &cur, &found, err,
	                      sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return;
	}
	changed = !names_current(x->cfg, job, &cur);
	/* Not a renew request: only the renewal time (or the CA's window)
	 * renews; "regzonectl retry" making every job due does not. */
	if (!changed && !forced) {
		d = renewal_plan(x->cfg, job, &cur, (time_t)json_integer_value(
		                 json_object_get(st, "renew_at")), replaces, sizeof(replaces), &w);
		if (d > RENEW_LOOK_MIN_S) {
			certstore_current_free(&cur);
			json_object_set_new(st, "prio", json_integer(ACME_PRIO_RENEW));
			cs_go(o, RZ_STEP_RENEW, d, st);
			return;
		}
	}
	certstore_current_free(&cur);
	/* The order's place in the claim order and the budget: a renew
	 * request first of all, new names like a first certificate, a
	 * renewal after first certificates until its window has passed. */
	prio = forced ? ACME_PRIO_URGENT : changed ? ACME_PRIO_FIRST :
	       acme_sched_priority(true, w.end != 0 ? &w : NULL, time(NULL));
	if ((ns = json_pack("{s:s,s:i,s:I}", "reason", "renew", "prio", (int)prio, "win_end",
	                    (json_int_t)w.end)) == NULL) {
		cs_retry(o, job, "out of memory");
		return;
	}
	if (replaces[0] != '\0')
		json_object_set_new(ns, "replaces", json_string(replaces));
	if (changed)
		cs_audit(o, "acme", "the profile's certificate names changed: a new certificate");
	else
		cs_audit(o, "acme", "renewal of the certificate of %s started", job->domain);
	o->res.cert = RZ_CERT_RENEWING;
	o->res.active = RZ_ACTIVE_IF_CERT;
	cs_go(o, RZ_STEP_ORDER, 0, ns);
	json_decref(ns);
}
