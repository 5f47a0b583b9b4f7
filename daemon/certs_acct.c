/*
 * certs_acct.c - the ACME account every worker signs with, each worker's
 * client, and what a CA's error means for the step (certs_int.h).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/problem.h"
#include "acme/retry.h"
#include "daemon/certs_int.h"
#include "daemon/certstore.h"
#include "daemon/instr.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

#define CA_TIMEOUT_MS 30000       /* one request to the CA */
#define ACCOUNT_AGAIN_MAX 3       /* registrations after the CA lost the account */

/* One account key for the process; one client per worker thread. */
static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acme_acct *g_acct;
static _Thread_local struct acme_client *tl_client;
/* The account URL every thread signs with; NULL: register (again). */
static char *g_kid;

void cs_client_end(void)
{
	acme_client_free(tl_client);
	tl_client = NULL;
}

void cs_acct_end(void)
{
	pthread_mutex_lock(&acct_lock);
	acme_acct_free(g_acct);
	g_acct = NULL;
	free(g_kid);
	g_kid = NULL;
	pthread_mutex_unlock(&acct_lock);
}

const struct acme_acct *cs_account(void)
{
	return g_acct;
}

/* The CA does not know the account KID (any more: a CA reset).  Every
 * thread registers again through cs_client(), once: the first that comes
 * by registers, the others take its URL. */
static void forget_account(const char *kid)
{
	pthread_mutex_lock(&acct_lock);
	if (g_kid != NULL && kid != NULL && strcmp(g_kid, kid) == 0) {
		free(g_kid);
		g_kid = NULL;
	}
	pthread_mutex_unlock(&acct_lock);
}

/* The ACME client's log lines, at its level (syslog's numbers, as rz_log's). */
static void log_from_acme(void *arg, int level, const char *msg)
{
	(void)arg;
	rz_log((enum rz_log_level)level, "%s", msg);
}

/* The ACME client's requests, counted (metrics). */
static void count_acme(void *arg, const char *endpoint, long status, const char *problem)
{
	char code[16];

	(void)arg;
	snprintf(code, sizeof(code), "%ld", status);
	rz_metric_inc(rz_instr.acme_requests, endpoint, code);
	if (problem != NULL && strcmp(problem, "badNonce") == 0)
		rz_metric_inc(rz_instr.acme_bad_nonce, NULL, NULL);
}

static int acct_load(const struct rz_config *cfg, struct acme_error *e)
{
	char err[512] = "";
	int ret = 0;

	pthread_mutex_lock(&acct_lock);
	if (g_acct == NULL &&
	    (ret = acme_acct_load(cfg->acme_account_key, 1, &g_acct, err, sizeof(err))) != 0) {
		e->code = ret;
		snprintf(e->msg, sizeof(e->msg), "account key: %s", err);
	}
	pthread_mutex_unlock(&acct_lock);
	return ret;
}

/* One registration at a time: the lock is held across it, which is rare
 * (start-up, a CA reset) and keeps the others from racing it. */
static int acct_url(const struct rz_config *cfg, struct acme_error *e)
{
	const char *kid;
	int ret = 0;

	pthread_mutex_lock(&acct_lock);
	if (g_kid == NULL) {
		struct acme_account_req req = {
			(const char *const *)cfg->acme_contact, cfg->n_acme_contact,
			cfg->acme_terms_agreed, cfg->acme_eab_kid, cfg->acme_eab_hmac_key,
		};

		ret = acme_account_register(tl_client, &req, e);
		if (ret == 0 && (g_kid = strdup(acme_client_account_url(tl_client))) == NULL)
			ret = RZ_ENOMEM;
		else if (ret == 0)
			rz_log(RZ_LOG_INFO, "acme: account %s", g_kid);
	} else {
		kid = acme_client_account_url(tl_client);
		if (kid == NULL || strcmp(kid, g_kid) != 0)
			ret = acme_client_set_account_url(tl_client, g_kid);
	}
	pthread_mutex_unlock(&acct_lock);
	return ret;
}

int cs_client(const struct rz_config *cfg, struct acme_client **out, struct acme_error *e)
{
	struct acme_client_opts opts = { 0 };
	int ret;

	memset(e, 0, sizeof(*e));
	*out = NULL;
	if ((ret = acct_load(cfg, e)) != 0)
		return ret;
	if (tl_client == NULL) {
		opts.directory_url = cfg->acme_directory;
		opts.ca_bundle = cfg->acme_ca_bundle;
		opts.timeout_ms = CA_TIMEOUT_MS;
		opts.default_retry_s = 1;
		opts.log = log_from_acme;
		opts.on_request = count_acme;
		if ((ret = acme_client_new(&opts, g_acct, &tl_client, e)) != 0)
			return ret;
	}
	if ((ret = acct_url(cfg, e)) != 0) {
		if (e->msg[0] == '\0')
			snprintf(e->msg, sizeof(e->msg), "account: %s", rz_strerror(ret));
		return ret;
	}
	*out = tl_client;
	return 0;
}

/* The known URL into buf: true when there is one. */
static bool kid_copy(char *buf, size_t len)
{
	bool have;

	pthread_mutex_lock(&acct_lock);
	have = g_kid != NULL && strlen(g_kid) < len;
	if (have)
		snprintf(buf, len, "%s", g_kid);
	pthread_mutex_unlock(&acct_lock);
	return have;
}

int rz_cert_account_uri(const struct rz_config *cfg, char *buf, size_t len, char *err,
                        size_t errlen)
{
	struct acme_client *c;
	struct acme_error e;
	int ret;

	if (kid_copy(buf, len))
		return 0;
	if ((ret = cs_client(cfg, &c, &e)) != 0) {
		snprintf(err, errlen, "%s", e.msg[0] ? e.msg : rz_strerror(ret));
		return ret;
	}
	if (!kid_copy(buf, len)) {
		snprintf(err, errlen, "the ACME account's URL is too long");
		return RZ_ETOOLONG;
	}
	return 0;
}

/* The CA does not know the account (any more: a CA reset): register again
 * next time, a few times before giving up.  True when the step retries. */
static bool account_lost(const struct rz_job *job, json_t *st, struct rz_step_out *o,
                         const char *text)
{
	json_int_t again = json_integer_value(json_object_get(st, "account_again"));

	forget_account(tl_client != NULL ? acme_client_account_url(tl_client) : NULL);
	if (again >= ACCOUNT_AGAIN_MAX)
		return false;
	json_object_set_new(st, "account_again", json_integer(again + 1));
	cs_error(o, job, text);
	o->res.failed = true;
	cs_audit(o, "acme", "%s (account registered again)", o->last_error);
	cs_go(o, job->step, rz_backoff((int)again + 1, 0.5, 10.0, rz_jitter()), st);
	return true;
}

/* The CA lost the order (a reset): clean up, then a new order soon. */
static void order_lost(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                       struct rz_step_out *o, const char *text)
{
	char why[ACME_PROBLEM_TEXT_MAX + 256 + 400], err[512];

	if (certstore_order_status(x->db, cs_order_id(st), "abandoned", err, sizeof(err)) != 0) {
		cs_retry(o, job, err);
		return;
	}
	snprintf(why, sizeof(why), "the CA no longer knows order %.300s: a new order (%s)",
	         cs_get(st, "order_url"), text);
	json_object_set_new(st, "after", json_string("retry"));
	json_object_set_new(st, "error", json_string(why));
	json_object_set_new(st, "retry_s", json_real(1.0 + rz_jitter()));
	cs_audit(o, "acme", "%s", why);
	cs_go(o, RZ_STEP_CLEANUP, 0, st);
}

/* A CA that is down, slow or rate-limiting: the same step later. */
static void ca_later(const struct rz_job *job, json_t *st, struct rz_step_out *o, int ret,
                     const struct acme_error *e, const char *text)
{
	double d;

	if (e->retry_after_given)
		d = e->retry_after_s;
	else if (ret == RZ_EACME)
		d = acme_backoff_ladder(job->attempts + 1, rz_jitter());
	else
		d = rz_backoff(job->attempts + 1, CS_BACKOFF_BASE, CS_BACKOFF_CAP, rz_jitter());
	/* A rate-limited CA is never asked again in a hot loop, whatever its
	 * Retry-After says (0, a past date). */
	if (ret == RZ_EACME && e->has_problem && e->problem.kind == ACME_PT_RATE_LIMITED &&
	    d < CS_RATE_LIMIT_FLOOR_S)
		d = CS_RATE_LIMIT_FLOOR_S * (1.0 + 0.1 * rz_jitter());
	if (d < 1)
		d = 1;
	cs_error(o, job, text);
	o->res.failed = true;
	cs_audit(o, "acme", "%s (retry in %.0f s)", o->last_error, d);
	rz_log_zone(RZ_LOG_WARN, job->domain, "%s (retry in %.0f s)", o->last_error, d);
	cs_go(o, job->step, d, st);
}

void cs_ca_error(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                 struct rz_step_out *o, int ret, const struct acme_error *e)
{
	char text[ACME_PROBLEM_TEXT_MAX + 256];
	bool problem = ret == RZ_EACME && e->has_problem;

	if (problem)
		acme_problem_text(&e->problem, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", e->msg[0] ? e->msg : rz_strerror(ret));
	if (problem && acme_problem_class(&e->problem) == ACME_PC_FAIL_ACCOUNT &&
	    account_lost(job, st, o, text))
		return;
	if (ret == RZ_EACME && e->http_status == 404 && cs_get(st, "order_url")[0] != '\0' &&
	    job->step != RZ_STEP_DOWNLOAD) {
		order_lost(x, job, st, o, text);
		return;
	}
	if (acme_error_retryable(e) || ret == RZ_EIO) {
		ca_later(job, st, o, ret, e, text);
		return;
	}
	cs_give_up(o, job, st, text);
}
