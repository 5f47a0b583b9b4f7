/*
 * certs.c - the steps of a cert job (see certs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acct.h"
#include "acme/ari.h"
#include "acme/budget.h"
#include "acme/client.h"
#include "acme/csr.h"
#include "acme/problem.h"
#include "acme/retry.h"
#include "daemon/certfiles.h"
#include "daemon/certs.h"
#include "daemon/hook.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"
#include "zonegen/knot.h"
#include "zonegen/psl.h"

#define TXT_TTL 60
#define HOOK_OUTPUT_MAX RZ_HOOK_OUTPUT_MAX
#define REVOKE_CESSATION 5
#define SLOT_WAIT_S 60.0          /* an order waiting for a slot: woken, or after this */
#define RATE_LIMIT_FLOOR_S 60.0   /* a rate-limited CA is asked again no sooner */
#define BUSY_RETRY_MAX_S 10.0     /* a zone busy with a foreign transaction: look again */

/* ------------------------------------------------------------ helpers */

static double jitter(void)
{
	return (double)(random() % 10000) / 10000.0;
}

/* The job's step data, parsed (an object, maybe empty). */
static json_t *state_of(const struct rz_job *job)
{
	json_t *st = json_loads(job->state_json, 0, NULL);

	if (!json_is_object(st)) {
		json_decref(st);
		st = json_object();
	}
	return st;
}

static const char *sget(const json_t *st, const char *k)
{
	const char *v = json_string_value(json_object_get(st, k));

	return v != NULL ? v : "";
}

/* Move on to next (NULL: park) after delay, with st as the new step data. */
static void go(struct rz_step_out *o, const char *next, double delay, json_t *st)
{
	o->res.next_step = next;
	o->res.delay_s = delay;
	if (st != NULL) {
		free(o->state_json);
		o->state_json = json_dumps(st, JSON_COMPACT);
		o->res.state_json = o->state_json;
	}
}

static void audit(struct rz_step_out *o, const char *kind, const char *fmt, const char *a,
                  const char *b)
{
	snprintf(o->audit, sizeof(o->audit), fmt, a, b);
	o->res.audit_kind = kind;
	o->res.audit_msg = o->audit;
}

/* A failure of ours (database, files, Knot): the same step again later. */
static void retry(struct rz_step_out *o, const struct rz_job *job, const char *msg)
{
	snprintf(o->last_error, sizeof(o->last_error), "certificate: %s: %s", job->step, msg);
	o->res.next_step = job->step;
	o->res.delay_s = rz_backoff(job->attempts + 1, 1.0, 600.0, jitter());
	o->res.failed = true;
	o->res.last_error = o->last_error;
	audit(o, "error", "%s%s", o->last_error, "");
	rz_log_zone(RZ_LOG_WARN, job->domain, "%s (attempt %d)", o->last_error, job->attempts + 1);
}

/* The zone is taken: by another regzone writer a moment (RZ_EAGAIN: again
 * soon), or by a transaction that is not regzone's (RZ_EBUSY: an operator's
 * knotc session, waited for with a growing delay, never aborted; status
 * says "zone busy"). */
static void zone_wait(struct rz_step_out *o, const struct rz_job *job, json_t *st, int ret,
                      const char *why)
{
	if (ret == RZ_EAGAIN) {
		go(o, job->step, 0.05 + 0.5 * jitter(), st);
		return;
	}
	snprintf(o->last_error, sizeof(o->last_error), "certificate: %s: %s", job->step, why);
	o->res.last_error = o->last_error;
	o->res.failed = true;   /* counts the looks, for the delay */
	if (job->attempts == 0)
		audit(o, "wait", "%s%s", o->last_error, "");
	go(o, job->step, rz_backoff(job->attempts + 1, 0.5, BUSY_RETRY_MAX_S, jitter()), st);
}

/* The order is over without a certificate: remove the TXT records, then
 * park as failed with why. */
static void give_up(struct rz_step_out *o, const struct rz_job *job, json_t *st,
                    const char *why)
{
	json_object_set_new(st, "after", json_string("failed"));
	json_object_set_new(st, "error", json_string(why));
	snprintf(o->last_error, sizeof(o->last_error), "%s", why);
	o->res.last_error = o->last_error;
	audit(o, "error", "certificate: %s: %s", job->step, why);
	rz_log_zone(RZ_LOG_WARN, job->domain, "certificate order failed: %s", why);
	go(o, "cleanup", 0, st);
}

/* The certificate names of the job's profile. */
static int cert_names(const struct rz_config *cfg, const struct rz_job *job,
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

/* Where certificate files go: certificates.dir and .group (certfiles.h). */
static struct cf_policy policy_of(const struct rz_config *cfg)
{
	struct cf_policy p = { cfg->cert_dir, cfg->cert_gid };

	return p;
}

/* The directory the hosting reads for the job's service and domain. */
static int live_dir(const struct rz_config *cfg, const struct rz_job *job, char *buf,
                    size_t len)
{
	struct cf_policy p = policy_of(cfg);

	return cf_live_path(&p, job->service, job->domain, buf, len);
}

/* The registered domain of the job's domain (the rate limit on
 * certificates per registered domain), itself when the list cannot say. */
static struct zg_psl *g_psl;

static void reg_domain_of(const char *domain, char *out, size_t len)
{
	if (g_psl == NULL || zg_psl_registered_domain(g_psl, domain, out, len) != 0)
		snprintf(out, len, "%s", domain);
}

int rz_cert_start(const struct rz_config *cfg, char *err, size_t errlen)
{
	int ret;

	if (g_psl != NULL)
		return 0;
	if ((ret = zg_psl_load(cfg->acme_psl, &g_psl, err, errlen)) != 0)
		return ret;
	return 0;
}

/* ------------------------------------------------------ the ACME client */

/* One account key for the process; one client per worker thread. */
static pthread_mutex_t acct_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acme_acct *g_acct;
static _Thread_local struct acme_client *tl_client;
/* The account URL every thread signs with; NULL: register (again). */
static char *g_kid;

void rz_cert_thread_end(void)
{
	acme_client_free(tl_client);
	tl_client = NULL;
}

void rz_cert_end(void)
{
	zg_psl_free(g_psl);
	g_psl = NULL;
	pthread_mutex_lock(&acct_lock);
	acme_acct_free(g_acct);
	g_acct = NULL;
	free(g_kid);
	g_kid = NULL;
	pthread_mutex_unlock(&acct_lock);
}

/* The CA does not know the account KID (any more: a CA reset).  Every
 * thread registers again through client_get(), once: the first that
 * comes by registers, the others take its URL. */
static void forget_account(const char *kid)
{
	pthread_mutex_lock(&acct_lock);
	if (g_kid != NULL && kid != NULL && strcmp(g_kid, kid) == 0) {
		free(g_kid);
		g_kid = NULL;
	}
	pthread_mutex_unlock(&acct_lock);
}

/* This thread's client, with the shared account (registered or found). */
static int client_get(const struct rz_config *cfg, struct acme_client **out,
                      struct acme_error *e)
{
	struct acme_client_opts opts = { 0 };
	char err[512] = "";
	const char *kid;
	int ret = 0;

	memset(e, 0, sizeof(*e));
	*out = NULL;
	pthread_mutex_lock(&acct_lock);
	if (g_acct == NULL) {
		ret = acme_acct_load(cfg->acme_account_key, 1, &g_acct, err, sizeof(err));
		if (ret != 0) {
			pthread_mutex_unlock(&acct_lock);
			e->code = ret;
			snprintf(e->msg, sizeof(e->msg), "account key: %s", err);
			return ret;
		}
	}
	pthread_mutex_unlock(&acct_lock);
	if (tl_client == NULL) {
		opts.directory_url = cfg->acme_directory;
		opts.ca_bundle = cfg->acme_ca_bundle;
		opts.timeout_ms = 30000;
		opts.default_retry_s = 1;
		if ((ret = acme_client_new(&opts, g_acct, &tl_client, e)) != 0)
			return ret;
	}
	/* One registration at a time: the lock is held across it, which is
	 * rare (start-up, a CA reset) and keeps the others from racing it. */
	pthread_mutex_lock(&acct_lock);
	if (g_kid == NULL) {
		struct acme_account_req req = {
			(const char *const *)cfg->acme_contact, cfg->n_acme_contact,
			cfg->acme_terms_agreed, cfg->acme_eab_kid, cfg->acme_eab_hmac_key,
		};

		ret = acme_account_register(tl_client, &req, e);
		if (ret == 0) {
			g_kid = strdup(acme_client_account_url(tl_client));
			if (g_kid == NULL)
				ret = RZ_ENOMEM;
			else
				rz_log(RZ_LOG_INFO, "acme: account %s", g_kid);
		}
	} else {
		kid = acme_client_account_url(tl_client);
		if (kid == NULL || strcmp(kid, g_kid) != 0)
			ret = acme_client_set_account_url(tl_client, g_kid);
	}
	pthread_mutex_unlock(&acct_lock);
	if (ret != 0) {
		if (e->msg[0] == '\0')
			snprintf(e->msg, sizeof(e->msg), "account: %s", rz_strerror(ret));
		return ret;
	}
	*out = tl_client;
	return 0;
}

/* A CA call failed: retry the step later (Retry-After, else backoff), or
 * give the order up (the CA refused). */
static void order_status(PGconn *db, const json_t *st, const char *status, const char *problem);
/* The database connection of the step this thread runs. */
static _Thread_local PGconn *db_of_step;

static void ca_error(struct rz_step_out *o, const struct rz_job *job, json_t *st, int ret,
                     const struct acme_error *e)
{
	char text[ACME_PROBLEM_TEXT_MAX + 256];

	if (ret == RZ_EACME && e->has_problem)
		acme_problem_text(&e->problem, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "%s", e->msg[0] ? e->msg : rz_strerror(ret));
	if (ret == RZ_EACME && e->has_problem &&
	    acme_problem_class(&e->problem) == ACME_PC_FAIL_ACCOUNT) {
		/* The CA does not know the account (any more: a CA reset): register
		 * again next time, a few times before giving up. */
		json_int_t again = json_integer_value(json_object_get(st, "account_again"));

		forget_account(tl_client != NULL ? acme_client_account_url(tl_client) : NULL);
		if (again < 3) {
			json_object_set_new(st, "account_again", json_integer(again + 1));
			snprintf(o->last_error, sizeof(o->last_error), "certificate: %s: %s", job->step,
			         text);
			o->res.last_error = o->last_error;
			o->res.failed = true;
			audit(o, "acme", "%s (account registered again)", o->last_error, "");
			go(o, job->step, rz_backoff((int)again + 1, 0.5, 10.0, jitter()), st);
			return;
		}
	}
	if (ret == RZ_EACME && e->http_status == 404 && sget(st, "order_url")[0] != '\0' &&
	    strcmp(job->step, "download") != 0) {
		/* The CA lost the order (a reset): clean up, then a new order soon. */
		char why[ACME_PROBLEM_TEXT_MAX + 256 + 400];

		snprintf(why, sizeof(why), "the CA no longer knows order %.300s: a new order (%s)",
		         sget(st, "order_url"), text);
		json_object_set_new(st, "after", json_string("retry"));
		json_object_set_new(st, "error", json_string(why));
		json_object_set_new(st, "retry_s", json_real(1.0 + jitter()));
		order_status(db_of_step, st, "abandoned", NULL);
		audit(o, "acme", "%s%s", why, "");
		go(o, "cleanup", 0, st);
		return;
	}
	if (acme_error_retryable(e) || ret == RZ_EIO) {
		double d;

		if (e->retry_after_given)
			d = e->retry_after_s;
		else if (ret == RZ_EACME)
			d = acme_backoff_ladder(job->attempts + 1, jitter());
		else
			d = rz_backoff(job->attempts + 1, 1.0, 600.0, jitter());
		/* A rate-limited CA is never asked again in a hot loop, whatever
		 * its Retry-After says (0, a past date). */
		if (ret == RZ_EACME && e->has_problem && e->problem.kind == ACME_PT_RATE_LIMITED &&
		    d < RATE_LIMIT_FLOOR_S)
			d = RATE_LIMIT_FLOOR_S * (1.0 + 0.1 * jitter());
		if (d < 1)
			d = 1;
		snprintf(o->last_error, sizeof(o->last_error), "certificate: %s: %s", job->step, text);
		o->res.last_error = o->last_error;
		o->res.failed = true;
		o->res.audit_kind = "acme";
		o->res.audit_msg = o->audit;
		snprintf(o->audit, sizeof(o->audit), "%s (retry in %.0f s)", o->last_error, d);
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s (retry in %.0f s)", o->last_error, d);
		go(o, job->step, d, st);
		return;
	}
	give_up(o, job, st, text);
}

/* store_sql() under a short name: the statements below are long. */
static int sql(PGconn *db, const char *q, int n, const char *const *p, PGresult **out,
               char *err, size_t errlen)
{
	return store_sql(db, q, n, p, out, err, errlen);
}

/* ------------------------------------------------------------- budget */

static void limits_of(const struct rz_config *cfg, struct acme_limits *l)
{
	l->new_orders.max = cfg->lim_new_orders;
	l->new_orders.window = cfg->lim_new_orders_window_s;
	l->certs_per_domain.max = cfg->lim_certs_per_domain;
	l->certs_per_domain.window = cfg->lim_certs_per_domain_window_s;
	l->certs_per_names.max = cfg->lim_certs_per_names;
	l->certs_per_names.window = cfg->lim_certs_per_names_window_s;
	l->failed_validations.max = cfg->lim_failed_validations;
	l->failed_validations.window = cfg->lim_failed_validations_window_s;
}

/* The recorded events that can count against this order, checked. */
static int budget(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                  const char *const *names, size_t n, bool ari_renewal,
                  struct acme_verdict *v, char *err, size_t errlen)
{
	struct acme_limits lim;
	char reg[ZG_OWNER_SIZE];
	struct acme_candidate c = { names, n, reg, ari_renewal };
	struct acme_event *ev = NULL;
	char **split = NULL;
	const char ***evnames = NULL;
	char window[32];
	const char *p[] = { window, reg };
	PGresult *r;
	int rows, ret = 0;
	uint32_t w = cfg->lim_new_orders_window_s;

	reg_domain_of(job->domain, reg, sizeof(reg));
	limits_of(cfg, &lim);
	if (cfg->lim_certs_per_domain_window_s > w)
		w = cfg->lim_certs_per_domain_window_s;
	if (cfg->lim_certs_per_names_window_s > w)
		w = cfg->lim_certs_per_names_window_s;
	if (cfg->lim_failed_validations_window_s > w)
		w = cfg->lim_failed_validations_window_s;
	snprintf(window, sizeof(window), "%u", w);
	if (sql(db, "SELECT kind, extract(epoch FROM at)::bigint, "
	        "array_to_string(names, ' '), reg_domain, coalesce(name, '') "
	        "FROM acme_events WHERE at > now() - make_interval(secs => $1::double "
	        "precision) AND (kind = 'order_created' OR reg_domain = $2 OR "
	        "kind = 'validation_failed')", 2, p, &r, err, errlen) != 0)
		return RZ_EDB;
	rows = PQntuples(r);
	ev = calloc((size_t)rows + 1, sizeof(*ev));
	split = calloc((size_t)rows + 1, sizeof(*split));
	evnames = calloc((size_t)rows + 1, sizeof(*evnames));
	if (ev == NULL || split == NULL || evnames == NULL) {
		ret = RZ_ENOMEM;
		goto out;
	}
	for (int i = 0; i < rows; i++) {
		const char *kind = PQgetvalue(r, i, 0);
		size_t k = 0, cap = 1;
		char *save = NULL, *tok;

		ev[i].at = (time_t)atoll(PQgetvalue(r, i, 1));
		ev[i].kind = strcmp(kind, "order_created") == 0 ? ACME_EV_ORDER_CREATED :
		             strcmp(kind, "cert_issued") == 0 ? ACME_EV_CERT_ISSUED :
		             ACME_EV_VALIDATION_FAILED;
		ev[i].reg_domain = PQgetvalue(r, i, 3);
		ev[i].name = PQgetvalue(r, i, 4);
		if ((split[i] = strdup(PQgetvalue(r, i, 2))) == NULL) {
			ret = RZ_ENOMEM;
			goto out;
		}
		for (const char *s = split[i]; *s; s++)
			cap += *s == ' ';
		if ((evnames[i] = calloc(cap, sizeof(char *))) == NULL) {
			ret = RZ_ENOMEM;
			goto out;
		}
		for (tok = strtok_r(split[i], " ", &save); tok != NULL && k < cap;
		     tok = strtok_r(NULL, " ", &save))
			evnames[i][k++] = tok;
		ev[i].names = evnames[i];
		ev[i].n_names = k;
		if (ev[i].kind == ACME_EV_VALIDATION_FAILED && ev[i].name[0] == '\0')
			ev[i].name = k > 0 ? evnames[i][0] : job->domain;
		if (ev[i].kind == ACME_EV_CERT_ISSUED && k == 0) {
			ev[i].names = (const char *const *)&ev[i].reg_domain;
			ev[i].n_names = 1;
		}
	}
	ret = acme_budget_check(&lim, ev, (size_t)rows, &c, time(NULL), v);
	if (ret != 0)
		snprintf(err, errlen, "rate-limit budget: %s", rz_strerror(ret));
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (int i = 0; split != NULL && evnames != NULL && i < rows; i++) {
		free(split[i]);
		free(evnames[i]);
	}
	free(split);
	free(evnames);
	free(ev);
	PQclear(r);
	return ret;
}

/* --------------------------------------------------------- database */

static char *names_array(const char *const *names, size_t n)
{
	json_t *a = json_array();
	char *s, *out;
	size_t len;

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(names[i]));
	s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	if (s == NULL)
		return NULL;
	/* ["a","b"] -> {"a","b"}: names are LDH, nothing to escape */
	len = strlen(s);
	out = s;
	out[0] = '{';
	out[len - 1] = '}';
	return out;
}

/* ------------------------------------------------------------- steps */

/*
 * Orders in flight at once: at most acme.concurrency, counted and taken in
 * one serialised transaction (store.h), so that workers deciding together
 * never exceed it.  Without a slot the order waits until one that ends
 * wakes it (store_job_finish), or SLOT_WAIT_S at the latest: never polled.
 * 0 with the slot (kept in the step data), 1 when the step waits.
 */
static int take_slot(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                     json_t *st, struct rz_step_out *o)
{
	char err[512], msg[160];
	bool got = false;

	if (store_cert_slot_take(db, job->id, cfg->acme_concurrency, &got, err,
	                         sizeof(err)) != 0) {
		retry(o, job, err);
		return 1;
	}
	if (!got) {
		json_object_set_new(st, "slot_wait", json_true());
		json_object_set_new(st, "slot_looks", json_integer(
		        json_integer_value(json_object_get(st, "slot_looks")) + 1));
		snprintf(o->audit, sizeof(o->audit), "acme: %u orders in flight (acme.concurrency): "
		         "waiting for one to end", cfg->acme_concurrency);
		o->res.audit_kind = job->attempts == 0 ? "wait" : NULL;
		o->res.audit_msg = o->res.audit_kind != NULL ? o->audit : NULL;
		o->res.failed = true;   /* counts the waits */
		go(o, "order", SLOT_WAIT_S * (1.0 + 0.2 * jitter()), st);
		return 1;
	}
	json_object_set_new(st, "slot_held", json_true());
	if (json_is_true(json_object_get(st, "slot_wait"))) {
		snprintf(msg, sizeof(msg), "acme: an order slot freed after %lld looks "
		         "(acme.concurrency %u)", (long long)json_integer_value(
		         json_object_get(st, "slot_looks")) + 1, cfg->acme_concurrency);
		if (store_audit(db, job->domain, job->service, NULL, "wait", msg, NULL, err,
		                sizeof(err)) != 0)
			rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);
	}
	json_object_del(st, "slot_wait");
	json_object_del(st, "slot_looks");
	return 0;
}

static void step_order(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                       json_t *st, struct rz_step_out *o)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], err[1024] = "";
	char azid_store[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES], *azids[ZG_MAX_CERT_NAMES];
	size_t n = 0;
	struct acme_client *c;
	struct acme_order ord = { 0 };
	struct acme_error e;
	struct acme_verdict v;
	json_t *chs;
	int ret;
	bool renewing = strcmp(sget(st, "reason"), "renew") == 0;

	o->res.cert_state = renewing ? "renewing" : "ordering";
	if (cert_names(cfg, job, names, ptrs, &n) != 0 || n == 0) {
		give_up(o, job, st, "the profile names no certificate names");
		return;
	}
	if ((ret = client_get(cfg, &c, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	if (sget(st, "order_url")[0] == '\0') {
		/* A new order: within the budget only. */
		/* An ARI renewal inside the CA's window (with "replaces") is exempt. */
		const char *replaces = sget(st, "replaces")[0] ? sget(st, "replaces") : NULL;

		if ((ret = budget(cfg, db, job, ptrs, n, replaces != NULL, &v, err,
		                  sizeof(err))) != 0) {
			retry(o, job, err);
			return;
		}
		if (!v.allowed) {
			double d = difftime(v.not_before, time(NULL));

			json_object_del(st, "slot_held");   /* no slot while it waits */
			snprintf(o->last_error, sizeof(o->last_error), "certificate: waiting for the "
			         "rate-limit budget (%s, %u counted) for %.0f s",
			         acme_limit_name(v.limit), v.count, d);
			o->res.last_error = o->last_error;
			audit(o, "acme", "%s%s", o->last_error, "");
			go(o, "order", d > 1 ? d : 1, st);
			return;
		}
		if (!json_is_true(json_object_get(st, "slot_held")) &&
		    take_slot(cfg, db, job, st, o) != 0)
			return;
		ret = acme_order_new_replacing(c, ptrs, n, replaces, &ord, &e);
		if (ret != 0) {
			ca_error(o, job, st, ret, &e);
			return;
		}
		{
			char *arr = names_array(ptrs, n), reg[ZG_OWNER_SIZE];
			const char *p[] = { job->domain, job->service, ord.url, arr,
			                    renewing ? "renew" : "issue", acme_client_account_url(c),
			                    replaces, reg };
			PGresult *r = NULL;

			reg_domain_of(job->domain, reg, sizeof(reg));
			ret = arr == NULL ? RZ_ENOMEM :
			      sql(db, "WITH o AS (INSERT INTO acme_orders (domain, service, order_url, "
			          "names, status, reason, replaces) VALUES ($1, $2, $3, $4::text[], "
			          "'pending', $5, $7) RETURNING id, names) "
			          "INSERT INTO acme_events (kind, account, domain, reg_domain, names, "
			          "order_id) SELECT 'order_created', $6, $1, $8, names, id FROM o "
			          "RETURNING order_id", 8, p, &r, err, sizeof(err));
			free(arr);
			if (ret == 0) {
				json_object_set_new(st, "order_id",
				                    json_integer(atoll(PQgetvalue(r, 0, 0))));
				json_object_set_new(st, "order_url", json_string(ord.url));
				PQclear(r);
			}
		}
		if (ret != 0) {
			/* The CA has the order; we could not store it: it expires there. */
			acme_order_clear(&ord);
			retry(o, job, err);
			return;
		}
		rz_log_zone(RZ_LOG_INFO, job->domain, "acme: order %s for %zu names", ord.url, n);
	} else {
		ret = acme_order_get(c, sget(st, "order_url"), &ord, &e);
		if (ret != 0) {
			ca_error(o, job, st, ret, &e);
			return;
		}
	}
	/* The order is stored: from here on a restart resumes it. */
	if (ord.status == ACME_ST_INVALID) {
		acme_order_clear(&ord);
		give_up(o, job, st, "the order is invalid");
		return;
	}
	/* The order must be for exactly the names asked, and (below) its
	 * authorizations too, before any challenge record goes out. */
	if (!acme_names_same_set(ptrs, n, (const char *const *)ord.identifiers,
	                         ord.n_identifiers)) {
		acme_order_clear(&ord);
		give_up(o, job, st, "the CA's order is not for the names asked");
		return;
	}
	if (ord.status == ACME_ST_PENDING && ord.n_authorizations != n) {
		snprintf(err, sizeof(err), "the CA's order has %zu authorizations for %zu names",
		         ord.n_authorizations, n);
		acme_order_clear(&ord);
		give_up(o, job, st, err);
		return;
	}
	chs = json_array();
	for (size_t i = 0; ord.status == ACME_ST_PENDING && i < ord.n_authorizations; i++) {
		struct acme_authz az = { 0 };
		char value[ACME_B64_SHA256_SIZE];
		const char *ident;

		ret = acme_authz_get(c, ord.authorizations[i], &az, &e);
		if (ret != 0) {
			acme_authz_clear(&az);
			json_decref(chs);
			acme_order_clear(&ord);
			ca_error(o, job, st, ret, &e);
			return;
		}
		ident = az.identifier != NULL ? az.identifier : "";
		snprintf(azid_store[i], sizeof(azid_store[i]), "%s", ident);
		azids[i] = azid_store[i];
		if (az.status == ACME_ST_VALID) {
			acme_authz_clear(&az);
			continue;
		}
		if (az.status != ACME_ST_PENDING || !az.has_dns01 ||
		    acme_key_authz_dns(g_acct, az.dns01.token, value) != 0) {
			snprintf(err, sizeof(err), "authorization for %s is %s%s", az.identifier,
			         acme_status_name(az.status),
			         az.has_dns01 ? "" : " (no dns-01 challenge offered)");
			acme_authz_clear(&az);
			json_decref(chs);
			acme_order_clear(&ord);
			give_up(o, job, st, err);
			return;
		}
		json_array_append_new(chs, json_pack("{s:s,s:s,s:s,s:s}", "name", az.identifier,
		                                     "authz", az.url, "chall", az.dns01.url,
		                                     "value", value));
		acme_authz_clear(&az);
	}
	if (ord.status == ACME_ST_PENDING &&
	    !acme_names_same_set(ptrs, n, azids, ord.n_authorizations)) {
		json_decref(chs);
		acme_order_clear(&ord);
		give_up(o, job, st, "the CA's authorizations are not for the names asked: no "
		        "challenge record published");
		return;
	}
	json_object_set_new(st, "ch", chs);
	snprintf(o->audit, sizeof(o->audit), "acme: order %s (%s), %zu challenges to answer",
	         sget(st, "order_url"), acme_status_name(ord.status), json_array_size(chs));
	o->res.audit_kind = "acme";
	o->res.audit_msg = o->audit;
	acme_order_clear(&ord);
	go(o, json_array_size(chs) > 0 ? "publish" : "poll", 0, st);
}

/* The order's TXT records. */
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
			         sget(c, "name"));
			k[n].ttl = TXT_TTL;
			snprintf(k[n].type, sizeof(k[n].type), "TXT");
			snprintf(k[n].data, sizeof(k[n].data), "\"%s\"", sget(c, "value"));
		}
		if (rr != NULL) {
			memset(&rr[n], 0, sizeof(rr[n]));
			snprintf(rr[n].owner, sizeof(rr[n].owner), "_acme-challenge.%s.",
			         sget(c, "name"));
			rr[n].ttl = TXT_TTL;
			rr[n].type = ZG_RR_TXT;
			snprintf(rr[n].data, sizeof(rr[n].data), "\"%s\"", sget(c, "value"));
		}
		n++;
	}
	return n;
}

/* One Knot transaction: want (maybe none) replaces every acme record the
 * ledger has for the service. */
static int txt_apply(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                     const struct rz_job *job, const struct zg_krec *want, size_t n_want,
                     size_t *n_set, size_t *n_unset, char *err, size_t errlen)
{
	struct zg_krec *owned = NULL;
	struct zg_plan plan;
	size_t n_owned = 0;
	char *diff = NULL;
	int ret;

	memset(&plan, 0, sizeof(plan));
	*n_set = *n_unset = 0;
	if ((ret = store_ledger_live_of(db, job->domain, job->service, "acme", &owned, &n_owned,
	                                err, errlen)) != 0)
		return ret;
	if (n_want == 0 && n_owned == 0) {
		free(owned);
		return 0;
	}
	ret = rz_knot_apply(cfg, knot_lock, db, job, "acme", want, n_want, owned, n_owned, &plan,
	                    &diff, err, errlen);
	if (ret == RZ_ENOENT && n_want == 0 && strstr(err, "no such zone") != NULL)
		ret = 0;     /* the zone went, and its records with it */
	if (ret == 0) {
		*n_set = plan.n_set;
		*n_unset = plan.n_unset;
		ret = store_ledger_settle(db, job, want, n_want, n_want == 0 ? owned : plan.unset,
		                          n_want == 0 ? n_owned : plan.n_unset, err, errlen);
	} else if (ret == RZ_ECONFLICT) {
		snprintf(err, errlen, "%s", plan.conflict);
	}
	zg_plan_clear(&plan);
	free(diff);
	free(owned);
	return ret;
}

static void step_publish(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                         const struct rz_job *job, json_t *st, struct rz_step_out *o)
{
	struct zg_krec want[ZG_MAX_CERT_NAMES];
	size_t n = txt_records(st, want, NULL, ZG_MAX_CERT_NAMES), n_set, n_unset;
	char err[2048] = "";
	int ret;

	ret = txt_apply(cfg, knot_lock, db, job, want, n, &n_set, &n_unset, err, sizeof(err));
	if (ret == RZ_EAGAIN || ret == RZ_EBUSY) {
		zone_wait(o, job, st, ret, err);
		return;
	}
	if (ret == RZ_ECONFLICT) {
		char why[2600];

		snprintf(why, sizeof(why), "challenge records clash with the zone: %s", err);
		give_up(o, job, st, why);
		return;
	}
	if (ret != 0) {
		retry(o, job, err);
		return;
	}
	json_object_set_new(st, "published", json_true());
	snprintf(o->audit, sizeof(o->audit), "acme: zone %s: %zu _acme-challenge TXT records "
	         "added in one transaction (%zu already there, %zu old removed)", job->zone, n_set,
	         n - n_set, n_unset);
	o->res.audit_kind = "acme";
	o->res.audit_msg = o->audit;
	go(o, "verify", rz_check_delay(0), st);
}

/* Served by every authoritative server (present), or by none. */
static int txt_check(const struct rz_config *cfg, const json_t *st, int present, char *err,
                     size_t errlen)
{
	struct zg_rr rrs[ZG_MAX_CERT_NAMES];
	struct zg_dns_server *servers = calloc(cfg->n_servers + 1, sizeof(*servers));
	size_t n = txt_records(st, NULL, rrs, ZG_MAX_CERT_NAMES);
	int ret;

	if (servers == NULL)
		return RZ_ENOMEM;
	for (size_t i = 0; i < cfg->n_servers; i++) {
		servers[i].address = cfg->servers[i].address;
		servers[i].port = cfg->servers[i].port;
	}
	ret = zg_dns_check(servers, cfg->n_servers, rrs, n, present, cfg->dns_timeout_ms, err,
	                   errlen);
	free(servers);
	return ret;
}

static void step_verify(const struct rz_config *cfg, const struct rz_job *job, json_t *st,
                        struct rz_step_out *o)
{
	char err[1024] = "";
	int ret = txt_check(cfg, st, 1, err, sizeof(err));

	if (ret == 0) {
		snprintf(o->audit, sizeof(o->audit), "acme: challenge records served by all %zu "
		         "authoritative servers after %.2f s", cfg->n_servers, job->step_age);
		o->res.audit_kind = "acme";
		o->res.audit_msg = o->audit;
		go(o, "respond", 0, st);
		return;
	}
	if (job->step_age > cfg->dns_check_max_s) {
		/* publish again, later */
		retry(o, job, err);
		o->res.next_step = "publish";
		return;
	}
	go(o, "verify", ret == RZ_EIO ? rz_backoff(job->attempts + 1, 0.5, 10.0, jitter()) :
	   rz_check_delay(job->attempts), st);
	o->res.failed = true;   /* counts the polls */
}

static void step_respond(const struct rz_config *cfg, const struct rz_job *job, json_t *st,
                         struct rz_step_out *o)
{
	json_t *chs = json_object_get(st, "ch"), *ch;
	struct acme_client *c;
	struct acme_error e;
	size_t i;
	int ret;

	if ((ret = client_get(cfg, &c, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	json_array_foreach(chs, i, ch) {
		enum acme_status s;

		if (json_is_true(json_object_get(ch, "answered")))
			continue;
		ret = acme_challenge_respond(c, sget(ch, "chall"), &s, &e);
		if (ret == RZ_EACME) {
			/* Answered before a restart?  The CA then refuses a second
			 * answer: what counts is the challenge's own status. */
			struct acme_authz az = { 0 };
			struct acme_error e2;

			if (acme_authz_get(c, sget(ch, "authz"), &az, &e2) == 0 &&
			    (az.status == ACME_ST_VALID ||
			     (az.status == ACME_ST_PENDING && az.has_dns01 &&
			      (az.dns01.status == ACME_ST_PROCESSING ||
			       az.dns01.status == ACME_ST_VALID))))
				ret = 0;
			acme_authz_clear(&az);
		}
		if (ret != 0) {
			if (ret == RZ_EACME) {
				/* the CA refused it: which name failed validation counts */
				json_object_set_new(st, "failed_name", json_string(sget(ch, "name")));
			}
			ca_error(o, job, st, ret, &e);
			return;
		}
		json_object_set_new(ch, "answered", json_true());
	}
	audit(o, "acme", "acme: %s challenges answered%s", "dns-01", "");
	go(o, "poll", 0.2, st);
}

/* Record the validations that failed (budget) from an invalid order. */
static void record_failed(PGconn *db, const struct rz_job *job, const json_t *st,
                          const struct acme_error *e)
{
	json_t *chs = json_object_get(st, "ch"), *ch;
	char oid[32], err[256];
	size_t i;

	snprintf(oid, sizeof(oid), "%lld", (long long)json_integer_value(json_object_get(st,
	         "order_id")));
	json_array_foreach(chs, i, ch) {
		const char *name = sget(ch, "name");
		bool hit = !e->has_problem || e->problem.n_sub == 0;

		for (size_t k = 0; e->has_problem && k < e->problem.n_sub; k++)
			if (strcmp(e->problem.sub[k].identifier.value, name) == 0)
				hit = true;
		if (hit) {
			char reg[ZG_OWNER_SIZE];
			const char *p[] = { job->domain, name, oid, reg };

			reg_domain_of(job->domain, reg, sizeof(reg));
			/* the budget's record of it: losing it would let the CA's
			 * failed-validation limit be reached unseen */
			if (sql(db, "INSERT INTO acme_events (kind, domain, reg_domain, names, name, "
			        "order_id) VALUES ('validation_failed', $1, $4, ARRAY[$2], $2, "
			        "nullif($3, '0')::bigint)", 4, p, NULL, err, sizeof(err)) != 0)
				rz_log_zone(RZ_LOG_ERR, job->domain, "cannot record a failed validation "
				            "of %s: %s", name, err);
		}
	}
}

static void order_status(PGconn *db, const json_t *st, const char *status, const char *problem)
{
	char oid[32], err[256];
	const char *p[] = { oid, status, problem };

	snprintf(oid, sizeof(oid), "%lld", (long long)json_integer_value(json_object_get(st,
	         "order_id")));
	(void)sql(db, "UPDATE acme_orders SET status = $2, problem = coalesce($3::jsonb, problem), "
	          "updated_at = now(), finished_at = CASE WHEN $2 IN ('valid', 'invalid', "
	          "'abandoned') THEN now() END WHERE id = $1::bigint", 3, p, NULL, err, sizeof(err));
}

static void step_poll(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                      json_t *st, struct rz_step_out *o)
{
	struct acme_client *c;
	struct acme_order ord = { 0 };
	struct acme_error e;
	bool invalid;
	int ret;

	if ((ret = client_get(cfg, &c, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	ret = acme_order_poll(c, sget(st, "order_url"), &ord, &e);
	/* The CA's verdict on the order (it answered with the order object),
	 * or a failed request (a problem document: an account the CA lost, an
	 * order it lost, a rate limit, an outage), which ca_error() sorts. */
	invalid = ret == RZ_EACME && ord.url != NULL && ord.status == ACME_ST_INVALID;
	if (ret == 0 && ord.status == ACME_ST_READY) {
		acme_order_clear(&ord);
		go(o, "finalize", 0, st);
		return;
	}
	if (ret == 0 && ord.status == ACME_ST_VALID) {
		json_object_set_new(st, "cert_url", json_string(ord.certificate));
		acme_order_clear(&ord);
		order_status(db, st, "valid", NULL);
		go(o, "download", 0, st);
		return;
	}
	acme_order_clear(&ord);
	if (ret == RZ_EAGAIN) {
		double d = e.retry_after_given ? e.retry_after_s : rz_check_delay(job->attempts + 2);

		go(o, "poll", d, st);
		o->res.failed = true;   /* counts the polls */
		return;
	}
	if (invalid) {
		char text[ACME_PROBLEM_TEXT_MAX];

		record_failed(db, job, st, &e);
		if (e.has_problem)
			acme_problem_text(&e.problem, text, sizeof(text));
		else
			snprintf(text, sizeof(text), "the order became invalid");
		order_status(db, st, "invalid", NULL);
		give_up(o, job, st, text);
		return;
	}
	ca_error(o, job, st, ret, &e);
}

static void step_finalize(const struct rz_config *cfg, const struct rz_job *job, json_t *st,
                          struct rz_step_out *o)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	char newkey[4200], err[512] = "";
	struct cf_policy pol = policy_of(cfg);
	struct acme_client *c;
	struct acme_order ord = { 0 }, after = { 0 };
	struct acme_error e;
	struct acme_dkey *k = NULL;
	struct acme_csr *csr = NULL;
	size_t n = 0;
	int ret;

	if ((ret = client_get(cfg, &c, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	if ((ret = acme_order_get(c, sget(st, "order_url"), &ord, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	if (ord.status != ACME_ST_READY) {   /* finalized before a restart */
		acme_order_clear(&ord);
		go(o, "poll", 0, st);
		return;
	}
	if (cf_pending_key_path(&pol, job->service, job->domain, newkey, sizeof(newkey), err,
	                        sizeof(err)) != 0) {
		acme_order_clear(&ord);
		retry(o, job, err);
		return;
	}
	/* The new key waits beside the files (certfiles.h): not over the
	 * current key until the new certificate is in place.  Reused when a
	 * restart comes back here. */
	ret = acme_dkey_load(newkey, &k, err, sizeof(err));
	if (ret == RZ_ENOENT || (ret != 0 && ret != RZ_EIO)) {
		acme_dkey_free(k);
		k = NULL;
		ret = acme_dkey_new(cfg->acme_key_type, &k);
		if (ret == 0)
			ret = acme_key_write_pem(k, newkey, err, sizeof(err));
	}
	if (ret == 0 && cert_names(cfg, job, names, ptrs, &n) != 0)
		ret = RZ_ENOENT;
	if (ret == 0)
		ret = acme_csr_new(k, ptrs, n, &csr, err, sizeof(err));
	if (ret != 0) {
		if (err[0] == '\0')
			snprintf(err, sizeof(err), "key or CSR: %s", rz_strerror(ret));
		acme_dkey_free(k);
		acme_order_clear(&ord);
		retry(o, job, err);
		return;
	}
	ret = acme_order_finalize(c, ord.url, ord.finalize, csr, &after, &e);
	acme_csr_free(csr);
	acme_dkey_free(k);
	acme_order_clear(&ord);
	acme_order_clear(&after);
	if (ret != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	audit(o, "acme", "acme: order finalized with a %s key%s",
	      rz_key_type_name(cfg->acme_key_type), "");
	go(o, "poll", 0.2, st);
}

/* Serial (hex), issuer (one line), validity and ARI id of the leaf. */
static int leaf_info(const char *pem, char *serial, size_t slen, char *issuer, size_t ilen,
                     time_t *nb, time_t *na, char *ari, size_t alen)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIGNUM *bn = x != NULL ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	int ret = RZ_ESYNTAX;

	if (hex != NULL && acme_cert_validity(x, nb, na) == 0) {
		BIO *ib = BIO_new(BIO_s_mem());
		char *p = NULL;
		long n;

		snprintf(serial, slen, "%s", hex);
		issuer[0] = '\0';
		if (ib != NULL && X509_NAME_print_ex(ib, X509_get_issuer_name(x), 0,
		                                     XN_FLAG_RFC2253) >= 0 &&
		    (n = BIO_get_mem_data(ib, &p)) > 0)
			snprintf(issuer, ilen, "%.*s", (int)n, p);
		BIO_free(ib);
		if (acme_ari_cert_id(x, ari, alen) < 0)
			ari[0] = '\0';
		ret = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

/* Install pem for the job (certfiles.h), unless a restart after the
 * install finds it in place already.  0; RZ_ENOENT when no key of this
 * order is left (a new order is needed); another code with err. */
static int install(const struct rz_config *cfg, const struct rz_job *job, const char *pem,
                   const char *serial, char *err, size_t errlen)
{
	struct cf_policy pol = policy_of(cfg);
	struct acme_dkey *k = NULL;
	char newkey[4200], *installed = NULL;
	int ret;

	if (cf_installed_chain(&pol, job->service, job->domain, &installed, err, errlen) == 0 &&
	    strcmp(installed, pem) == 0) {
		free(installed);
		return 0;
	}
	free(installed);
	if ((ret = cf_pending_key_path(&pol, job->service, job->domain, newkey, sizeof(newkey),
	                               err, errlen)) != 0)
		return ret;
	/* The key of this order, and only it. */
	ret = acme_dkey_load(newkey, &k, err, errlen);
	if (ret == 0 && acme_dkey_check_cert(k, pem) != 0)
		ret = RZ_ENOENT;
	acme_dkey_free(k);
	if (ret != 0)
		return RZ_ENOENT;
	return cf_install(&pol, job->service, job->domain, pem, serial, err, errlen);
}

/* Does the leaf of pem certify exactly the job's certificate names?  When
 * not, why says what it names. */
static bool names_certified(const struct rz_config *cfg, const struct rz_job *job,
                            const char *pem, char *why, size_t whylen)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	char **got = NULL;
	size_t n = 0, n_got = 0, off = 0;
	bool same;

	if (cert_names(cfg, job, names, ptrs, &n) != 0 || acme_cert_names(pem, &got, &n_got) != 0) {
		snprintf(why, whylen, "the CA's certificate names cannot be read");
		return false;
	}
	same = acme_names_same_set(ptrs, n, (const char *const *)got, n_got);
	if (!same) {
		off = (size_t)snprintf(why, whylen, "the CA's certificate names");
		for (size_t i = 0; i < n_got && off < whylen; i++)
			off += (size_t)snprintf(why + off, whylen - off, " %s", got[i]);
		if (off < whylen)
			snprintf(why + off, whylen - off, ", not the %zu names ordered: not installed", n);
	}
	acme_names_free(got, n_got);
	return same;
}

static void step_download(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                          json_t *st, struct rz_step_out *o)
{
	char dir[4200], key[4300], chain[4300], err[1024] = "", why[1024];
	char serial[128], issuer[512], ari[ACME_ARI_CERT_ID_SIZE], nbs[32], nas[32];
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], reg[ZG_OWNER_SIZE];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	struct acme_client *c;
	struct acme_error e;
	char *pem = NULL, *arr = NULL;
	time_t nb = 0, na = 0;
	size_t n = 0;
	int ret;

	if ((ret = client_get(cfg, &c, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	if ((ret = acme_cert_download(c, sget(st, "cert_url"), &pem, NULL, NULL, &e)) != 0) {
		ca_error(o, job, st, ret, &e);
		return;
	}
	if (live_dir(cfg, job, dir, sizeof(dir)) != 0 ||
	    leaf_info(pem, serial, sizeof(serial), issuer, sizeof(issuer), &nb, &na, ari,
	              sizeof(ari)) != 0) {
		free(pem);
		retry(o, job, "the CA's certificate cannot be read");
		return;
	}
	snprintf(key, sizeof(key), "%s/" CF_KEY_FILE, dir);
	snprintf(chain, sizeof(chain), "%s/" CF_CHAIN_FILE, dir);
	if (!names_certified(cfg, job, pem, why, sizeof(why))) {
		free(pem);
		give_up(o, job, st, why);
		return;
	}
	/* The chain and the key change together: one rename (certfiles.h). */
	ret = install(cfg, job, pem, serial, err, sizeof(err));
	if (ret == RZ_ENOENT) {
		free(pem);
		/* No key for this certificate any more: a new order, after cleanup. */
		json_object_set_new(st, "after", json_string("retry"));
		json_object_set_new(st, "error", json_string("the certificate's private key is "
		                                             "gone: a new order is needed"));
		audit(o, "error", "certificate: %s: %s", job->step, sget(st, "error"));
		go(o, "cleanup", 0, st);
		return;
	}
	if (ret != 0) {
		free(pem);
		retry(o, job, err);
		return;
	}
	/* The row. */
	(void)cert_names(cfg, job, names, ptrs, &n);
	arr = names_array(ptrs, n);
	reg_domain_of(job->domain, reg, sizeof(reg));
	snprintf(nbs, sizeof(nbs), "%lld", (long long)nb);
	snprintf(nas, sizeof(nas), "%lld", (long long)na);
	{
		char oid[32];
		const char *p[] = { job->domain, job->service, oid, serial, issuer, arr, job->profile,
		                    nbs, nas, pem, ari[0] ? ari : NULL, key, chain,
		                    rz_key_type_name(cfg->acme_key_type), reg };

		snprintf(oid, sizeof(oid), "%lld",
		         (long long)json_integer_value(json_object_get(st, "order_id")));
		ret = arr == NULL ? RZ_ENOMEM :
		      sql(db, "WITH c AS (INSERT INTO certificates (domain, service, order_id, serial, "
		          "issuer, names, profile, not_before, not_after, chain_pem, ari_cert_id, "
		          "key_path, chain_path, key_type) VALUES ($1, $2, nullif($3, '0')::bigint, $4, "
		          "$5, $6::text[], $7, to_timestamp($8::bigint), to_timestamp($9::bigint), $10, "
		          "$11, $12, $13, $14) ON CONFLICT (serial, issuer) DO NOTHING RETURNING id) "
		          "INSERT INTO acme_events (kind, domain, reg_domain, names, order_id) "
		          "SELECT 'cert_issued', $1, $15, $6::text[], nullif($3, '0')::bigint FROM c",
		          15, p, NULL, err, sizeof(err));
	}
	free(arr);
	free(pem);
	if (ret != 0) {
		retry(o, job, err);
		return;
	}
	json_object_set_new(st, "serial", json_string(serial));
	json_object_set_new(st, "after", json_string("deploy"));
	json_object_del(st, "account_again");   /* counted per order */
	{
		struct tm tm;
		char when[32];

		gmtime_r(&na, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(o->audit, sizeof(o->audit), "acme: certificate %s issued by %s, valid until "
		         "%s UTC; written to %.1000s", serial, issuer, when, dir);
	}
	o->res.audit_kind = "acme";
	o->res.audit_msg = o->audit;
	rz_log_zone(RZ_LOG_INFO, job->domain, "certificate %s issued", serial);
	go(o, "cleanup", 0, st);
}

static void step_cleanup(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                         const struct rz_job *job, json_t *st, struct rz_step_out *o)
{
	size_t n_set, n_unset;
	char err[2048] = "";
	int ret = txt_apply(cfg, knot_lock, db, job, NULL, 0, &n_set, &n_unset, err, sizeof(err));

	if (ret == RZ_EAGAIN || ret == RZ_EBUSY) {
		zone_wait(o, job, st, ret, err);
		return;
	}
	if (ret != 0) {
		retry(o, job, err);
		return;
	}
	if (n_unset > 0) {
		snprintf(o->audit, sizeof(o->audit), "acme: zone %s: %zu _acme-challenge TXT "
		         "records removed", job->zone, n_unset);
		o->res.audit_kind = "acme";
		o->res.audit_msg = o->audit;
	}
	if (strcmp(sget(st, "after"), "deploy") != 0 && sget(st, "error")[0] != '\0') {
		snprintf(o->last_error, sizeof(o->last_error), "%s", sget(st, "error"));
		o->res.last_error = o->last_error;
	}
	go(o, "verify_clean", 0, st);
}

/*
 * The deploy hook in its box (hook.h): REGZONE_DOMAIN, REGZONE_SERVICE,
 * REGZONE_CERT_DIR (the live directory) and REGZONE_ACTION, plus the
 * operator's certificates.hook_env; nothing else of regzoned's environment.
 * *status: its exit status, or -1 when it did not finish in time (a hook
 * that outlived hook_timeout_s failed, whatever it exited with).
 */
static int run_hook(const struct rz_config *cfg, const struct rz_job *job, const char *action,
                    int *status, char *output, size_t outlen)
{
	char dir[4096], e_dom[ZG_OWNER_SIZE + 32], e_svc[RZ_SERVICE_MAX + 32], e_dir[4200];
	char e_act[64];
	const char *env[RZ_HOOK_ENV_MAX + 1];
	struct rz_hook_result res;
	size_t n = 0;
	int ret;

	*status = -1;
	output[0] = '\0';
	if ((ret = live_dir(cfg, job, dir, sizeof(dir))) != 0) {
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
	for (size_t i = 0; i < cfg->n_hook_env && n < RZ_HOOK_ENV_MAX; i++)
		env[n++] = cfg->hook_env[i];
	env[n] = NULL;
	ret = rz_hook_run(cfg->deploy_hook, env, cfg->hook_timeout_s, &res);
	snprintf(output, outlen, "%s", res.output);
	if (ret != 0)
		return ret;
	*status = res.timed_out ? -1 : res.status;
	return 0;
}

/* When to renew: acme.renew_percent of the lifetime, with jitter. */
static double renew_delay(const struct rz_config *cfg, PGconn *db, const struct rz_job *job)
{
	const char *p[] = { job->domain, job->service };
	PGresult *r = NULL;
	char err[256];
	double d = 86400;

	if (sql(db, "SELECT extract(epoch FROM not_before)::bigint, "
	        "extract(epoch FROM not_after)::bigint FROM certificates WHERE domain = $1 AND "
	        "service = $2 AND revoked_at IS NULL ORDER BY not_after DESC LIMIT 1", 2, p, &r,
	        err, sizeof(err)) == 0) {
		if (PQntuples(r) == 1) {
			time_t t;

			if (acme_renew_time((time_t)atoll(PQgetvalue(r, 0, 0)),
			                    (time_t)atoll(PQgetvalue(r, 0, 1)), cfg->acme_renew_percent,
			                    jitter(), &t) == 0)
				d = difftime(t, time(NULL));
		}
		PQclear(r);
	}
	return d > 1 ? d : 1;
}

static void step_verify_clean(const struct rz_config *cfg, PGconn *db,
                              const struct rz_job *job, json_t *st, struct rz_step_out *o)
{
	char err[1024] = "";
	const char *after = sget(st, "after");
	int ret = json_is_true(json_object_get(st, "published")) ?
	          txt_check(cfg, st, 0, err, sizeof(err)) : 0;

	if (ret != 0 && job->step_age <= cfg->dns_check_max_s) {
		go(o, "verify_clean", ret == RZ_EIO ?
		   rz_backoff(job->attempts + 1, 0.5, 10.0, jitter()) : rz_check_delay(job->attempts),
		   st);
		o->res.failed = true;
		if (strcmp(after, "deploy") != 0 && sget(st, "error")[0] != '\0') {
			snprintf(o->last_error, sizeof(o->last_error), "%s", sget(st, "error"));
			o->res.last_error = o->last_error;
		}
		return;
	}
	if (strcmp(after, "deploy") == 0) {
		go(o, "deploy", 0, st);
		return;
	}
	if (strcmp(after, "retry") == 0) {
		json_t *ns = json_pack("{s:s}", "reason", sget(st, "reason"));

		snprintf(o->last_error, sizeof(o->last_error), "%s", sget(st, "error"));
		o->res.last_error = o->last_error;
		go(o, "order", json_is_number(json_object_get(st, "retry_s")) ?
		   json_number_value(json_object_get(st, "retry_s")) :
		   acme_backoff_ladder(1, jitter()), ns);
		json_decref(ns);
		return;
	}
	/* failed: parked until retry / renew; a key made for it goes too */
	{
		json_t *ns = json_pack("{s:s,s:s}", "parked", "failed", "error", sget(st, "error"));
		struct cf_policy pol = policy_of(cfg);
		char derr[512];

		if (cf_discard_pending(&pol, job->service, job->domain, derr, sizeof(derr)) == 0)
			audit(o, "acme", "removed the unused key of the failed order%s%s", "", "");

		snprintf(o->last_error, sizeof(o->last_error), "%s", sget(st, "error"));
		o->res.last_error = o->last_error;
		o->res.cert_state = "failed";
		o->res.active = 2;
		order_status(db, st, "invalid", NULL);
		go(o, NULL, 0, ns);
		json_decref(ns);
	}
}

static double renewal_plan(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                           time_t renew_at, char *replaces, size_t rlen);

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
	audit(o, "hook", "%s%s", o->last_error, "");
	rz_log_zone(RZ_LOG_WARN, job->domain, "deploy hook %s", how);
	if ((uint32_t)job->attempts + 1 < cfg->hook_max_failures) {
		go(o, "deploy", rz_backoff(job->attempts + 1, 5.0, 3600.0, jitter()), NULL);
		return;
	}
	json_object_set_new(st, "parked", json_string("failed"));
	json_object_set_new(st, "retry_step", json_string("deploy"));
	json_object_set_new(st, "error", json_string(o->last_error));
	o->res.cert_state = "failed";
	go(o, NULL, 0, st);
}

static void step_deploy(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                        json_t *st, struct rz_step_out *o)
{
	char output[HOOK_OUTPUT_MAX], stat[16], err[256];
	int status = 0;
	time_t renew_at;
	double d;

	if (cfg->deploy_hook != NULL) {
		if (run_hook(cfg, job, "deploy", &status, output, sizeof(output)) != 0) {
			retry(o, job, output[0] ? output : "cannot run the deploy hook");
			return;
		}
		snprintf(stat, sizeof(stat), "%d", status);
		{
			const char *p[] = { job->domain, job->service, stat };

			(void)sql(db, "UPDATE certificates SET hook_status = $3::integer, hook_at = now(), "
			          "deployed_at = CASE WHEN $3::integer = 0 THEN now() ELSE deployed_at END "
			          "WHERE id = (SELECT id FROM certificates WHERE domain = $1 AND "
			          "service = $2 ORDER BY id DESC LIMIT 1)", 3, p, NULL, err, sizeof(err));
		}
		if (status != 0) {
			deploy_failed(cfg, job, st, status, output, o);
			return;
		}
		snprintf(o->audit, sizeof(o->audit), "deploy hook exited 0%s%.3000s",
		         output[0] ? ": " : "", output);
		o->res.audit_kind = "hook";
		o->res.audit_msg = o->audit;
	} else {
		const char *p[] = { job->domain, job->service };

		(void)sql(db, "UPDATE certificates SET deployed_at = now() WHERE id = (SELECT id FROM "
		          "certificates WHERE domain = $1 AND service = $2 ORDER BY id DESC LIMIT 1)",
		          2, p, NULL, err, sizeof(err));
		audit(o, "state", "certificate %s in place (no deploy hook configured)%s",
		      sget(st, "serial"), "");
	}
	o->res.cert_state = "issued";
	o->res.active = 2;
	{
		char replaces[ACME_ARI_CERT_ID_SIZE], at[32];
		double fallback = renew_delay(cfg, db, job);
		const char *p[] = { job->domain, job->service, at };

		renew_at = time(NULL) + (time_t)fallback;
		snprintf(at, sizeof(at), "%lld", (long long)renew_at);
		(void)sql(db, "UPDATE certificates SET renew_after = to_timestamp($3::bigint) WHERE "
		          "id = (SELECT id FROM certificates WHERE domain = $1 AND service = $2 "
		          "ORDER BY id DESC LIMIT 1)", 3, p, NULL, err, sizeof(err));
		d = renewal_plan(cfg, db, job, renew_at, replaces, sizeof(replaces));
		if (d < 60)
			d = 60;   /* the renew step decides, with the window in hand */
	}
	{
		json_t *ns = json_pack("{s:s,s:I}", "serial", sget(st, "serial"), "renew_at",
		                       (json_int_t)renew_at);

		go(o, "renew", d, ns);
		json_decref(ns);
	}
	rz_log_zone(RZ_LOG_INFO, job->domain, "certificate %s deployed; renewal in %.0f s",
	            sget(st, "serial"), d);
}

/* The ARI certificate id of the current certificate, "" when none. */
static void current_ari_id(PGconn *db, const struct rz_job *job, char *out, size_t len)
{
	const char *p[] = { job->domain, job->service };
	PGresult *r = NULL;
	char err[256];

	out[0] = '\0';
	if (sql(db, "SELECT coalesce(ari_cert_id, '') FROM certificates WHERE domain = $1 AND "
	        "service = $2 AND revoked_at IS NULL ORDER BY not_after DESC LIMIT 1", 2, p, &r,
	        err, sizeof(err)) == 0) {
		if (PQntuples(r) == 1)
			snprintf(out, len, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
	}
}

/*
 * When to renew, asking the CA's renewalInfo (RFC 9773) when its directory
 * has one: inside the suggested window (*replaces = the certificate's id,
 * so the order is an ARI renewal), asked again about twice a day; without
 * ARI (or when it fails): renew_percent of the lifetime.  Seconds from now.
 */
static double renewal_plan(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                           time_t renew_at, char *replaces, size_t rlen)
{
	double d = renew_at > 0 ? difftime(renew_at, time(NULL)) : renew_delay(cfg, db, job);
	char id[ACME_ARI_CERT_ID_SIZE];
	const struct acme_directory *dir = NULL;
	struct acme_client *c;
	struct acme_ari_info w;
	struct acme_error e;
	time_t now = time(NULL), next_poll, t;

	replaces[0] = '\0';
	current_ari_id(db, job, id, sizeof(id));
	if (id[0] == '\0' || client_get(cfg, &c, &e) != 0 ||
	    acme_client_directory(c, &dir, &e) != 0 || dir->renewal_info == NULL)
		return d;
	if (acme_renewal_info(c, id, &w, &next_poll, &e) != 0) {
		rz_log_zone(RZ_LOG_WARN, job->domain, "acme: renewalInfo: %s", e.msg);
		return d < difftime(next_poll, now) ? d : difftime(next_poll, now);
	}
	if (acme_ari_renew_time(&w, now, jitter(), &t) != 0)
		return d;
	if (t <= now && acme_ari_in_window(&w, now)) {
		snprintf(replaces, rlen, "%s", id);
		return 0;
	}
	if (difftime(t, now) < d)
		d = difftime(t, now);
	if (difftime(next_poll, now) < d)
		d = difftime(next_poll, now);
	return d > 1 ? d : 1;
}

/* Does the current certificate carry exactly the profile's names? */
static bool names_current(const struct rz_config *cfg, PGconn *db, const struct rz_job *job)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE], err[256];
	const char *ptrs[ZG_MAX_CERT_NAMES];
	size_t n = 0;
	char *arr;
	PGresult *r = NULL;
	bool same = true;

	if (cert_names(cfg, job, names, ptrs, &n) != 0 || (arr = names_array(ptrs, n)) == NULL)
		return true;
	{
		const char *p[] = { job->domain, job->service, arr };

		if (sql(db, "SELECT (SELECT array_agg(x ORDER BY x) FROM unnest(names) x) = "
		        "(SELECT array_agg(x ORDER BY x) FROM unnest($3::text[]) x) FROM certificates "
		        "WHERE domain = $1 AND service = $2 AND revoked_at IS NULL "
		        "ORDER BY id DESC LIMIT 1", 3, p, &r, err, sizeof(err)) == 0) {
			same = PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			PQclear(r);
		}
	}
	free(arr);
	return same;
}

static void step_renew(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                       json_t *st, struct rz_step_out *o)
{
	char replaces[ACME_ARI_CERT_ID_SIZE] = "";
	json_t *ns;
	bool names_changed = !names_current(cfg, db, job);

	if (names_changed)
		audit(o, "acme", "the profile's certificate names changed: a new certificate%s%s",
		      "", "");
	if (!json_is_true(json_object_get(st, "forced")) && !names_changed) {
		/* Not a renew request: only the renewal time (or the CA's window)
		 * renews; "regzonectl retry" making every job due does not. */
		double d = renewal_plan(cfg, db, job,
		                        (time_t)json_integer_value(json_object_get(st, "renew_at")),
		                        replaces, sizeof(replaces));

		if (d > 60) {
			go(o, "renew", d, st);
			return;
		}
	}
	ns = json_pack("{s:s}", "reason", "renew");
	if (replaces[0] != '\0')
		json_object_set_new(ns, "replaces", json_string(replaces));
	if (names_changed) {
		o->res.cert_state = "renewing";
		o->res.active = 2;
		go(o, "order", 0, ns);
		json_decref(ns);
		return;
	}

	o->res.cert_state = "renewing";
	o->res.active = 2;
	audit(o, "acme", "renewal of the certificate of %s started%s", job->domain, "");
	go(o, "order", 0, ns);
	json_decref(ns);
}

/* Disable: challenge records out, hook told, files deleted, revocation. */
/* The remove hook, once per removal (its success kept in the step data).
 * 0 when done or given up on after hook_max_failures (audited: the files go
 * anyway, the service is disabled), 1 when the step must run again. */
static int remove_hook(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                       json_t *st, struct rz_step_out *o)
{
	char output[HOOK_OUTPUT_MAX], msg[HOOK_OUTPUT_MAX + 160], err[512];
	int status = -1;

	if (cfg->deploy_hook == NULL || json_is_true(json_object_get(st, "hook_done")))
		return 0;
	if (run_hook(cfg, job, "remove", &status, output, sizeof(output)) == 0 && status == 0) {
		snprintf(msg, sizeof(msg), "remove hook exited 0%s%s", output[0] ? ": " : "", output);
	} else if ((uint32_t)job->attempts + 1 < cfg->hook_max_failures) {
		snprintf(o->last_error, sizeof(o->last_error), "certificate: remove hook exited %d "
		         "(failure %d of %u): %.1500s", status, job->attempts + 1,
		         cfg->hook_max_failures, output);
		o->res.last_error = o->last_error;
		o->res.failed = true;
		audit(o, "hook", "%s%s", o->last_error, "");
		go(o, "remove", rz_backoff(job->attempts + 1, 5.0, 3600.0, jitter()), st);
		return 1;
	} else {
		snprintf(msg, sizeof(msg), "remove hook failed %u times (last exit %d): removing the "
		         "files anyway: %.1500s", cfg->hook_max_failures, status, output);
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", msg);
	}
	json_object_set_new(st, "hook_done", json_true());
	if (store_audit(db, job->domain, job->service, NULL, "hook", msg, NULL, err,
	                sizeof(err)) != 0)
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);
	return 0;
}

/* Revoke the current certificate (acme.revoke_on_disable): 0 done or
 * refused (audited), 1 when the step must run again (the CA unreachable). */
static int revoke_current(const struct rz_config *cfg, PGconn *db, const struct rz_job *job,
                          json_t *st, struct rz_step_out *o)
{
	const char *p[] = { job->domain, job->service };
	struct acme_client *c;
	struct acme_error e;
	PGresult *r = NULL;
	char err[512];
	int ret;

	if (sql(db, "SELECT id, chain_pem FROM certificates WHERE domain = $1 AND service = $2 "
	        "AND revoked_at IS NULL AND not_after > now() ORDER BY id DESC LIMIT 1", 2, p, &r,
	        err, sizeof(err)) != 0) {
		retry(o, job, err);
		return 1;
	}
	if (PQntuples(r) == 1) {
		const char *q[] = { PQgetvalue(r, 0, 0) };

		ret = client_get(cfg, &c, &e);
		if (ret == 0)
			ret = acme_cert_revoke(c, PQgetvalue(r, 0, 1), REVOKE_CESSATION, &e);
		if (ret != 0 && acme_error_retryable(&e)) {
			PQclear(r);
			ca_error(o, job, st, ret, &e);
			return 1;
		}
		if (ret == 0 && sql(db, "UPDATE certificates SET revoked_at = now() WHERE "
		                    "id = $1::bigint", 1, q, NULL, err, sizeof(err)) != 0) {
			PQclear(r);
			retry(o, job, err);
			return 1;
		}
		/* a refusal is audited, the row stays */
		if (store_audit(db, job->domain, job->service, NULL, "acme", ret == 0 ?
		                "certificate revoked (cessationOfOperation)" : e.msg, NULL, err,
		                sizeof(err)) != 0)
			rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);
	}
	PQclear(r);
	return 0;
}

/* Disable: challenge records out, hook told, files deleted, revocation. */
static void step_remove(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                        const struct rz_job *job, json_t *st, struct rz_step_out *o)
{
	struct cf_policy pol = policy_of(cfg);
	char err[2048] = "", *installed = NULL;
	size_t n_set, n_unset;
	int ret;
	const char *p[] = { job->domain, job->service };

	ret = txt_apply(cfg, knot_lock, db, job, NULL, 0, &n_set, &n_unset, err, sizeof(err));
	if (ret == RZ_EAGAIN || ret == RZ_EBUSY) {
		zone_wait(o, job, st, ret, err);
		return;
	}
	if (ret != 0) {
		retry(o, job, err);
		return;
	}
	if (sql(db, "UPDATE acme_orders SET status = 'abandoned', updated_at = now(), "
	        "finished_at = now() WHERE domain = $1 AND service = $2 AND status IN ('new', "
	        "'pending', 'ready', 'processing')", 2, p, NULL, err, sizeof(err)) != 0) {
		retry(o, job, err);
		return;
	}
	if (cf_installed_chain(&pol, job->service, job->domain, &installed, err,
	                       sizeof(err)) == 0) {
		free(installed);
		if (remove_hook(cfg, db, job, st, o) != 0)
			return;
		if (cfg->acme_revoke_on_disable && revoke_current(cfg, db, job, st, o) != 0)
			return;
	}
	if ((ret = cf_remove(&pol, job->service, job->domain, err, sizeof(err))) != 0) {
		if (ret != RZ_EEXIST) {
			retry(o, job, err);
			return;
		}
		rz_log_zone(RZ_LOG_WARN, job->domain, "%s", err);   /* not ours: left alone */
	}
	o->res.cert_state = "none";
	snprintf(o->audit, sizeof(o->audit), "certificate files removed%s",
	         n_unset > 0 ? " (and challenge records)" : "");
	o->res.audit_kind = "state";
	o->res.audit_msg = o->audit;
	go(o, NULL, 0, st);
}

void rz_cert_step(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                  const struct rz_job *job, struct rz_step_out *o)
{
	json_t *st = state_of(job);
	const char *s = job->step;

	db_of_step = db;

	if (strcmp(job->desired, "enabled") != 0 && strcmp(s, "remove") != 0) {
		json_t *ns = json_object();

		go(o, "remove", 0, ns);
		json_decref(ns);
		json_decref(st);
		return;
	}
	if (strcmp(job->desired, "enabled") == 0 && strcmp(s, "remove") == 0) {
		/* Enabled again while (or after) the removal ran.  The dns job arms
		 * this job when the records are published, but only a parked one:
		 * if it published during the removal, order now. */
		const char *p[] = { job->domain, job->service };
		PGresult *r = NULL;
		char err[256];
		bool published = sql(db, "SELECT 1 FROM services WHERE domain = $1 AND service = $2 "
		                     "AND dns = 'published'", 2, p, &r, err, sizeof(err)) == 0 &&
		                 PQntuples(r) == 1;

		PQclear(r);
		if (published) {
			json_t *ns = json_object();

			o->res.cert_state = "ordering";
			audit(o, "acme", "certificate: enabled again and the records are published: "
			      "a new order%s%s", "", "");
			go(o, "order", 0, ns);
			json_decref(ns);
		} else {
			go(o, NULL, 0, NULL);     /* re-armed when the records are published */
		}
		json_decref(st);
		return;
	}
	if (strcmp(sget(st, "parked"), "failed") == 0 && strcmp(sget(st, "retry_step"),
	                                                        "deploy") == 0) {
		/* A hook that kept failing, due again: "regzonectl retry". */
		json_object_del(st, "parked");
		json_object_del(st, "retry_step");
		audit(o, "hook", "certificate: the deploy hook again after its failures (%s)%s",
		      sget(st, "error"), "");
		json_object_del(st, "error");
		go(o, "deploy", 0, st);
		json_decref(st);
		return;
	}
	if (strcmp(sget(st, "parked"), "failed") == 0) {
		/* A failed order parked here is due again: "regzonectl retry". */
		json_t *ns = json_object();

		o->res.cert_state = "ordering";
		audit(o, "acme", "certificate: a new order after the failure (%s)%s",
		      sget(st, "error"), "");
		go(o, "order", 0, ns);
		json_decref(ns);
		json_decref(st);
		return;
	}
	rz_log_zone(RZ_LOG_DEBUG, job->domain, "cert step %s (attempt %d)", s, job->attempts + 1);
	if (strcmp(s, "order") == 0)
		step_order(cfg, db, job, st, o);
	else if (strcmp(s, "publish") == 0)
		step_publish(cfg, knot_lock, db, job, st, o);
	else if (strcmp(s, "verify") == 0)
		step_verify(cfg, job, st, o);
	else if (strcmp(s, "respond") == 0)
		step_respond(cfg, job, st, o);
	else if (strcmp(s, "poll") == 0)
		step_poll(cfg, db, job, st, o);
	else if (strcmp(s, "finalize") == 0)
		step_finalize(cfg, job, st, o);
	else if (strcmp(s, "download") == 0)
		step_download(cfg, db, job, st, o);
	else if (strcmp(s, "cleanup") == 0)
		step_cleanup(cfg, knot_lock, db, job, st, o);
	else if (strcmp(s, "verify_clean") == 0)
		step_verify_clean(cfg, db, job, st, o);
	else if (strcmp(s, "deploy") == 0)
		step_deploy(cfg, db, job, st, o);
	else if (strcmp(s, "renew") == 0)
		step_renew(cfg, db, job, st, o);
	else if (strcmp(s, "remove") == 0)
		step_remove(cfg, knot_lock, db, job, st, o);
	else
		retry(o, job, "unknown step");
	json_decref(st);
}
