/*
 * client.c - RFC 8555: directory, nonces, signed requests with badNonce
 * retries, accounts, orders, authorizations, challenges, finalize,
 * certificate download, revocation.  Strict reader of the CA's JSON.
 *
 * Problem documents are read by acme/problem.h, Retry-After by
 * acme/retry.h.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acct.h"
#include "acme/b64.h"
#include "acme/ari.h"
#include "acme/client.h"
#include "acme/csr.h"
#include "acme/http.h"
#include "acme/parse.h"
#include "acme/problem.h"
#include "acme/retry.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

#define NONCE_POOL 8
#define NONCE_MAX 256
#define URL_MAX 2048
#define FIELD_MAX 1024               /* other strings from the CA */
#define MAX_AUTHZ ACME_CSR_MAX_NAMES
#define MAX_CHALLENGES 16
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_RETRY_S 3
#define DEFAULT_BAD_NONCE 5

#define ST(x) (1u << (x))
#define ORDER_STATES (ST(ACME_ST_PENDING) | ST(ACME_ST_READY) | ST(ACME_ST_PROCESSING) | \
                      ST(ACME_ST_VALID) | ST(ACME_ST_INVALID))
#define AUTHZ_STATES (ST(ACME_ST_PENDING) | ST(ACME_ST_VALID) | ST(ACME_ST_INVALID) | \
                      ST(ACME_ST_DEACTIVATED) | ST(ACME_ST_EXPIRED) | ST(ACME_ST_REVOKED))
#define CHALL_STATES (ST(ACME_ST_PENDING) | ST(ACME_ST_PROCESSING) | ST(ACME_ST_VALID) | \
                      ST(ACME_ST_INVALID))
#define ACCT_STATES  (ST(ACME_ST_VALID) | ST(ACME_ST_DEACTIVATED) | ST(ACME_ST_REVOKED))

struct acme_client {
	struct acme_http *http;
	const struct acme_acct *acct;
	char *dir_url;
	struct acme_directory dir;
	bool have_dir;
	char *kid;
	char *nonces[NONCE_POOL];
	size_t n_nonces;
	uint32_t default_retry_s;
	uint32_t max_bad_nonce;
	struct acme_client_stats stats;
};

static const char *const status_names[ACME_ST__MAX] = {
	[ACME_ST_PENDING] = "pending",
	[ACME_ST_READY] = "ready",
	[ACME_ST_PROCESSING] = "processing",
	[ACME_ST_VALID] = "valid",
	[ACME_ST_INVALID] = "invalid",
	[ACME_ST_DEACTIVATED] = "deactivated",
	[ACME_ST_EXPIRED] = "expired",
	[ACME_ST_REVOKED] = "revoked",
};

const char *acme_status_name(enum acme_status s)
{
	if ((int)s < 0 || s >= ACME_ST__MAX)
		return "?";
	return status_names[s];
}

/* ------------------------------------------------------------- errors */

static void err_reset(struct acme_error *e)
{
	memset(e, 0, sizeof(*e));
}

static int fail(struct acme_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct acme_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	/* What the CA sent may be in it: one printable line, never a forged
	 * log line or a terminal escape. */
	for (char *p = e->msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return code;
}

bool acme_error_retryable(const struct acme_error *e)
{
	if (e->code == RZ_EIO || e->code == RZ_EAGAIN)
		return true;
	if (e->code != RZ_EACME)
		return false;
	if (e->has_problem)
		return acme_problem_class(&e->problem) == ACME_PC_RETRY;
	return e->http_status >= 500 || e->http_status == 429;
}

/* Retry-After (delta-seconds or an HTTP-date) as seconds from now. */
static void retry_from(const struct acme_client *c, const struct acme_resp *r,
                       uint32_t *secs, bool *given)
{
	time_t now = time(NULL), when = 0;

	*given = r->retry_after != NULL && acme_retry_after(r->retry_after, now, &when) == 0;
	*secs = *given ? (uint32_t)(when > now ? when - now : 0) : c->default_retry_s;
}

/* Content-Type's media type equals type (parameters ignored). */
static bool media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* -------------------------------------------------------- JSON fields */

static int load_object(const struct acme_resp *r, const char *what, json_t **out,
                       struct acme_error *e)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (!media_is(r->content_type, "application/json"))
		return fail(e, RZ_EPROTO, "%s: reply is not application/json (Content-Type %s)",
		            what, r->content_type ? r->content_type : "missing");
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return fail(e, RZ_EPROTO, "%s: reply is not JSON: %s (line %d)", what, jerr.text,
		            jerr.line);
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(e, RZ_EPROTO, "%s: reply is not a JSON object", what);
	}
	*out = j;
	return 0;
}

/* A string member; NULL in *out when absent and not required. */
static int f_str(json_t *o, const char *key, bool required, const char **out,
                 const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return fail(e, RZ_EPROTO, "%s: field \"%s\" missing", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return fail(e, RZ_EPROTO, "%s: field \"%s\" is not a string", what, key);
	if (json_string_length(v) > FIELD_MAX || strlen(json_string_value(v)) != json_string_length(v))
		return fail(e, RZ_EPROTO, "%s: field \"%s\" is too long or holds NUL", what, key);
	*out = json_string_value(v);
	return 0;
}

/* An https URL without whitespace or control characters. */
static bool url_ok(const char *s)
{
	size_t n = strlen(s);

	if (n <= 8 || n > URL_MAX || strncasecmp(s, "https://", 8) != 0)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static int v_url(json_t *v, const char **out, const char *what, const char *key,
                 struct acme_error *e)
{
	if (!json_is_string(v))
		return fail(e, RZ_EPROTO, "%s: %s is not a string", what, key);
	if (json_string_length(v) > URL_MAX || !url_ok(json_string_value(v)))
		return fail(e, RZ_EPROTO, "%s: %s is not an https URL", what, key);
	*out = json_string_value(v);
	return 0;
}

static int f_url(json_t *o, const char *key, bool required, const char **out,
                 const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return fail(e, RZ_EPROTO, "%s: field \"%s\" missing", what, key);
		return 0;
	}
	return v_url(v, out, what, key, e);
}

static int f_bool(json_t *o, const char *key, bool *out, const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = false;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return fail(e, RZ_EPROTO, "%s: field \"%s\" is not a boolean", what, key);
	*out = json_is_true(v);
	return 0;
}

static int f_status(json_t *o, unsigned allowed, enum acme_status *out, const char *what,
                    struct acme_error *e)
{
	const char *s;
	int ret = f_str(o, "status", true, &s, what, e);

	if (ret != 0)
		return ret;
	for (int i = 0; i < ACME_ST__MAX; i++) {
		if (strcmp(s, status_names[i]) == 0 && (allowed & ST(i))) {
			*out = (enum acme_status)i;
			return 0;
		}
	}
	return fail(e, RZ_EPROTO, "%s: status \"%.64s\" is not one this object can have", what, s);
}

/* Optional object member; NULL when absent. */
static int f_obj(json_t *o, const char *key, json_t **out, const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(e, RZ_EPROTO, "%s: field \"%s\" is not an object", what, key);
	*out = v;
	return 0;
}

static int dup_into(char **dst, const char *src, struct acme_error *e)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	if (*dst == NULL)
		return fail(e, RZ_ENOMEM, "out of memory");
	return 0;
}

void acme_strv_free(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ------------------------------------------------------------ problems */

/* An error reply (status >= 400) into e: RZ_EACME, or RZ_EPROTO when the
 * problem document itself is malformed. */
static int problem_from_resp(const struct acme_client *c, const char *what, const char *url,
                             const struct acme_resp *r, struct acme_error *e)
{
	char text[ACME_PROBLEM_TEXT_MAX];
	int pr;

	e->http_status = r->status;
	retry_from(c, r, &e->retry_after_s, &e->retry_after_given);
	if (!media_is(r->content_type, "application/problem+json")) {
		memset(&e->problem, 0, sizeof(e->problem));   /* about:blank, the status alone */
		snprintf(e->problem.type, sizeof(e->problem.type), "about:blank");
		e->problem.kind = ACME_PT_OTHER;
		e->problem.http_status = (int)r->status;
		return fail(e, RZ_EACME, "%s %s: HTTP %ld without a problem document", what, url,
		            r->status);
	}
	pr = acme_problem_parse(r->body, r->body_len, (int)r->status, &e->problem);
	if (pr != 0)
		return fail(e, RZ_EPROTO, "%s %s: HTTP %ld with a malformed problem document (%s)",
		            what, url, r->status, rz_strerror(pr));
	e->has_problem = true;
	acme_problem_text(&e->problem, text, sizeof(text));
	return fail(e, RZ_EACME, "%s %s: HTTP %ld %s", what, url, r->status, text);
}

/* The "error" member of an order, authorization or challenge into p
 * (p->type stays "" when there is none). */
static int embedded_problem(json_t *err, struct acme_problem *p, const char *what,
                            struct acme_error *e)
{
	int pr;

	if (err == NULL || p == NULL)
		return 0;
	pr = acme_problem_from_json(err, 0, p);
	if (pr != 0)
		return fail(e, RZ_EPROTO, "%s: malformed \"error\" member (%s)", what, rz_strerror(pr));
	return 0;
}

/* An invalid order/authorization/challenge: its error (if any) into e. */
static int refused_by(struct acme_error *e, const struct acme_problem *p, const char *what,
                      const char *url, const char *status)
{
	char text[ACME_PROBLEM_TEXT_MAX];

	if (p != NULL && p->type[0] != '\0') {
		e->problem = *p;
		e->has_problem = true;
		acme_problem_text(p, text, sizeof(text));
		return fail(e, RZ_EACME, "%s %s is %s: %s", what, url, status, text);
	}
	return fail(e, RZ_EACME, "%s %s is %s", what, url, status);
}

/* --------------------------------------------------------------- client */

int acme_client_new(const struct acme_client_opts *opts, const struct acme_acct *acct,
                    struct acme_client **out, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_client *c = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (out == NULL || opts == NULL || acct == NULL || opts->directory_url == NULL ||
	    !url_ok(opts->directory_url)) {
		ret = fail(e, RZ_EINVAL, "acme client: the directory must be an https URL");
		goto out;
	}
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->dir_url = strdup(opts->directory_url)) == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	c->acct = acct;
	c->default_retry_s = opts->default_retry_s ? opts->default_retry_s : DEFAULT_RETRY_S;
	c->max_bad_nonce = opts->max_bad_nonce ? opts->max_bad_nonce : DEFAULT_BAD_NONCE;
	ret = acme_http_new(opts->ca_bundle, opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
	                    &c->http);
	if (ret != 0) {
		fail(e, ret, "acme client: HTTP client setup failed: %s", rz_strerror(ret));
		goto out;
	}
	*out = c;
	c = NULL;
out:
	acme_client_free(c);
	return ret;
}

static void dir_clear(struct acme_directory *d)
{
	free(d->new_nonce);
	free(d->new_account);
	free(d->new_order);
	free(d->revoke_cert);
	free(d->key_change);
	free(d->renewal_info);
	free(d->terms_of_service);
	free(d->website);
	memset(d, 0, sizeof(*d));
}

void acme_client_free(struct acme_client *c)
{
	if (c == NULL)
		return;
	acme_http_free(c->http);
	dir_clear(&c->dir);
	free(c->dir_url);
	free(c->kid);
	for (size_t i = 0; i < c->n_nonces; i++)
		free(c->nonces[i]);
	free(c);
}

int acme_client_set_account_url(struct acme_client *c, const char *kid)
{
	char *k;

	if (kid == NULL || !url_ok(kid))
		return RZ_EINVAL;
	k = strdup(kid);
	if (k == NULL)
		return RZ_ENOMEM;
	free(c->kid);
	c->kid = k;
	return 0;
}

const char *acme_client_account_url(const struct acme_client *c)
{
	return c->kid;
}

void acme_client_get_stats(const struct acme_client *c, struct acme_client_stats *out)
{
	*out = c->stats;
}

/* A transport failure into e. */
static int http_failed(struct acme_client *c, int ret, struct acme_error *e)
{
	return fail(e, ret, "%s", acme_http_error(c->http));
}

static int parse_directory(json_t *o, struct acme_directory *d, struct acme_error *e)
{
	static const char what[] = "directory";
	const char *nn, *na, *no, *rc, *kc, *ri, *tos = NULL, *web = NULL;
	json_t *meta;
	int ret;

	if ((ret = f_url(o, "newNonce", true, &nn, what, e)) != 0 ||
	    (ret = f_url(o, "newAccount", true, &na, what, e)) != 0 ||
	    (ret = f_url(o, "newOrder", true, &no, what, e)) != 0 ||
	    (ret = f_url(o, "revokeCert", false, &rc, what, e)) != 0 ||
	    (ret = f_url(o, "keyChange", false, &kc, what, e)) != 0 ||
	    (ret = f_url(o, "renewalInfo", false, &ri, what, e)) != 0 ||
	    (ret = f_obj(o, "meta", &meta, what, e)) != 0)
		return ret;
	if (meta != NULL) {
		json_t *caa = json_object_get(meta, "caaIdentities");
		size_t i;
		json_t *v;

		/* termsOfService may be any URI (Pebble: a data: URL) */
		if ((ret = f_str(meta, "termsOfService", false, &tos, "directory meta", e)) != 0 ||
		    (ret = f_str(meta, "website", false, &web, "directory meta", e)) != 0 ||
		    (ret = f_bool(meta, "externalAccountRequired", &d->eab_required,
		                  "directory meta", e)) != 0)
			return ret;
		if (caa != NULL && !json_is_array(caa))
			return fail(e, RZ_EPROTO, "directory meta: caaIdentities is not an array");
		json_array_foreach(caa, i, v)
			if (!json_is_string(v))
				return fail(e, RZ_EPROTO, "directory meta: a caaIdentity is not a string");
	}
	if ((ret = dup_into(&d->new_nonce, nn, e)) != 0 ||
	    (ret = dup_into(&d->new_account, na, e)) != 0 ||
	    (ret = dup_into(&d->new_order, no, e)) != 0 ||
	    (ret = dup_into(&d->revoke_cert, rc, e)) != 0 ||
	    (ret = dup_into(&d->key_change, kc, e)) != 0 ||
	    (ret = dup_into(&d->renewal_info, ri, e)) != 0 ||
	    (ret = dup_into(&d->terms_of_service, tos, e)) != 0 ||
	    (ret = dup_into(&d->website, web, e)) != 0)
		return ret;
	return 0;
}

static int need_directory(struct acme_client *c, struct acme_error *e)
{
	struct acme_resp r = { 0 };
	struct acme_directory d = { 0 };
	json_t *j = NULL;
	int ret;

	if (c->have_dir)
		return 0;
	ret = acme_http_get(c->http, c->dir_url, &r);
	c->stats.requests++;
	if (ret != 0) {
		http_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200) {
		ret = r.status >= 400 ? problem_from_resp(c, "GET", c->dir_url, &r, e)
		                      : fail(e, RZ_EPROTO, "GET %s: unexpected HTTP %ld", c->dir_url,
		                             r.status);
		goto out;
	}
	if ((ret = load_object(&r, "directory", &j, e)) != 0 ||
	    (ret = parse_directory(j, &d, e)) != 0)
		goto out;
	c->dir = d;
	memset(&d, 0, sizeof(d));
	c->have_dir = true;
out:
	dir_clear(&d);
	json_decref(j);
	acme_resp_clear(&r);
	return ret;
}

int acme_client_directory(struct acme_client *c, const struct acme_directory **dir,
                          struct acme_error *e)
{
	struct acme_error dummy;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	ret = need_directory(c, e);
	if (ret == 0 && dir != NULL)
		*dir = &c->dir;
	return ret;
}

/* ---------------------------------------------------------------- nonces */

static bool nonce_ok(const char *n)
{
	size_t len = n != NULL ? strlen(n) : 0;

	if (len == 0 || len > NONCE_MAX)
		return false;
	return strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == len;
}

/* Keep a reply's Replay-Nonce (taking ownership); the oldest goes when
 * the pool is full.  Malformed nonces are dropped. */
static void nonce_keep(struct acme_client *c, char **n)
{
	if (*n == NULL)
		return;
	if (!nonce_ok(*n)) {
		free(*n);
		*n = NULL;
		return;
	}
	if (c->n_nonces == NONCE_POOL) {
		free(c->nonces[0]);
		memmove(&c->nonces[0], &c->nonces[1], (NONCE_POOL - 1) * sizeof(c->nonces[0]));
		c->n_nonces--;
	}
	c->nonces[c->n_nonces++] = *n;
	*n = NULL;
}

/* A nonce for the next request: the newest pooled one, or HEAD newNonce. */
static int nonce_take(struct acme_client *c, char **out, struct acme_error *e)
{
	struct acme_resp r = { 0 };
	int ret;

	if (c->n_nonces > 0) {
		*out = c->nonces[--c->n_nonces];
		return 0;
	}
	if ((ret = need_directory(c, e)) != 0)
		return ret;
	ret = acme_http_head(c->http, c->dir.new_nonce, &r);
	c->stats.requests++;
	c->stats.nonce_fetches++;
	if (ret != 0) {
		http_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200 && r.status != 204) {
		ret = r.status >= 400 ? problem_from_resp(c, "HEAD", c->dir.new_nonce, &r, e)
		                      : fail(e, RZ_EPROTO, "HEAD %s: unexpected HTTP %ld",
		                             c->dir.new_nonce, r.status);
		goto out;
	}
	if (!nonce_ok(r.nonce)) {
		ret = fail(e, RZ_EPROTO, "HEAD %s: no valid Replay-Nonce", c->dir.new_nonce);
		goto out;
	}
	*out = r.nonce;
	r.nonce = NULL;
	ret = 0;
out:
	acme_resp_clear(&r);
	return ret;
}

/* ------------------------------------------------------- signed requests */

/*
 * POST a JWS of payload to url (jwk: sign with the key itself, for
 * newAccount; else with the account URL).  badNonce is retried with the
 * refusal's own nonce.  Any status >= 400 becomes RZ_EACME (problem in e);
 * a 2xx reply is left in *resp for the caller.
 */
static int post(struct acme_client *c, const char *url, const char *payload, bool jwk,
                const char *accept, const char *what, struct acme_resp *resp,
                struct acme_error *e)
{
	char *nonce = NULL, *jws = NULL;
	int ret;

	memset(resp, 0, sizeof(*resp));
	if (!jwk && c->kid == NULL)
		return fail(e, RZ_EINVAL, "%s: no account URL (register or look up the account)",
		            what);
	for (uint32_t attempt = 0;; attempt++) {
		if ((ret = nonce_take(c, &nonce, e)) != 0)
			break;
		ret = acme_acct_sign(c->acct, url, nonce, jwk ? NULL : c->kid, payload, &jws);
		free(nonce);
		nonce = NULL;
		if (ret != 0) {
			fail(e, ret, "%s: signing failed: %s", what, rz_strerror(ret));
			break;
		}
		ret = acme_http_post_jose(c->http, url, jws, accept, resp);
		free(jws);
		jws = NULL;
		c->stats.requests++;
		c->stats.signed_posts++;
		if (ret != 0) {
			http_failed(c, ret, e);
			break;
		}
		nonce_keep(c, &resp->nonce);
		rz_log(RZ_LOG_DEBUG, "acme: %s: POST %s -> %ld", what, url, resp->status);
		if (resp->status >= 400) {
			ret = problem_from_resp(c, what, url, resp, e);
			if (ret == RZ_EACME && e->has_problem &&
			    e->problem.kind == ACME_PT_BAD_NONCE && attempt < c->max_bad_nonce) {
				c->stats.bad_nonce_retries++;
				rz_log(RZ_LOG_INFO, "acme: %s: badNonce from %s, retry %u/%u with a fresh nonce",
				       what, url, attempt + 1, c->max_bad_nonce);
				acme_resp_clear(resp);
				err_reset(e);
				continue;
			}
			break;
		}
		if (resp->status < 200 || resp->status > 299) {
			ret = fail(e, RZ_EPROTO, "%s: POST %s: unexpected HTTP %ld", what, url,
			           resp->status);
			break;
		}
		return 0;
	}
	acme_resp_clear(resp);
	return ret;
}

static int expect_status(const struct acme_resp *r, long a, long b, const char *what,
                         const char *url, struct acme_error *e)
{
	if (r->status == a || r->status == b)
		return 0;
	return fail(e, RZ_EPROTO, "%s: POST %s: unexpected HTTP %ld", what, url, r->status);
}

/* -------------------------------------------------------------- accounts */

/* The account object of a newAccount reply (status checked). */
static int account_reply(struct acme_client *c, const struct acme_resp *r, const char *what,
                         struct acme_error *e)
{
	enum acme_status st = ACME_ST_PENDING;
	json_t *j = NULL, *contact;
	const char *orders;
	size_t i;
	json_t *v;
	int ret;

	if (r->location == NULL || !url_ok(r->location)) {
		ret = fail(e, RZ_EPROTO, "%s: no https Location (account URL) in the reply", what);
		goto out;
	}
	if ((ret = load_object(r, what, &j, e)) != 0 ||
	    (ret = f_status(j, ACCT_STATES, &st, what, e)) != 0 ||
	    (ret = f_url(j, "orders", false, &orders, what, e)) != 0)
		goto out;
	contact = json_object_get(j, "contact");
	if (contact != NULL && !json_is_array(contact)) {
		ret = fail(e, RZ_EPROTO, "%s: \"contact\" is not an array", what);
		goto out;
	}
	json_array_foreach(contact, i, v) {
		if (!json_is_string(v)) {
			ret = fail(e, RZ_EPROTO, "%s: a contact is not a string", what);
			goto out;
		}
	}
	if (st != ACME_ST_VALID) {
		ret = fail(e, RZ_EACME, "%s: account %s is %s", what, r->location,
		           acme_status_name(st));
		goto out;
	}
	ret = acme_client_set_account_url(c, r->location);
	if (ret != 0)
		fail(e, ret, "out of memory");
out:
	json_decref(j);
	return ret;
}

static bool contact_ok(const char *s)
{
	if (s == NULL || strncmp(s, "mailto:", 7) != 0 || s[7] == '\0' || strlen(s) > 320)
		return false;
	for (s += 7; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == ',' || *s == '?')
			return false;
	return true;
}

int acme_account_register(struct acme_client *c, const struct acme_account_req *req,
                          struct acme_error *e)
{
	static const char what[] = "newAccount";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	json_t *payload = NULL, *contacts = NULL, *eab = NULL;
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (req == NULL || (req->n_contact > 0 && req->contact == NULL) ||
	    (req->eab_kid != NULL) != (req->eab_hmac_key != NULL)) {
		ret = fail(e, RZ_EINVAL, "%s: bad request", what);
		goto out;
	}
	if ((ret = need_directory(c, e)) != 0)
		goto out;
	if (c->dir.eab_required && req->eab_kid == NULL) {
		ret = fail(e, RZ_ECONFIG, "%s: the CA requires an external account binding "
		           "(eab kid and hmac key) and none is configured", what);
		goto out;
	}
	payload = json_object();
	contacts = json_array();
	if (payload == NULL || contacts == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_contact; i++) {
		if (!contact_ok(req->contact[i])) {
			ret = fail(e, RZ_EINVAL, "%s: contact \"%s\" is not a mailto: URL of one address",
			           what, req->contact[i] ? req->contact[i] : "(null)");
			goto out;
		}
		if (json_array_append_new(contacts, json_string(req->contact[i])) != 0) {
			ret = fail(e, RZ_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((req->terms_agreed && json_object_set_new(payload, "termsOfServiceAgreed",
	                                              json_true()) != 0) ||
	    (req->n_contact > 0 && json_object_set(payload, "contact", contacts) != 0)) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if (req->eab_kid != NULL) {
		ret = acme_acct_eab(c->acct, req->eab_kid, req->eab_hmac_key, c->dir.new_account, &eab);
		if (ret != 0) {
			fail(e, ret, "%s: external account binding: %s (is the HMAC key base64url?)",
			     what, rz_strerror(ret));
			goto out;
		}
		if (json_object_set(payload, "externalAccountBinding", eab) != 0) {
			ret = fail(e, RZ_ENOMEM, "out of memory");
			goto out;
		}
	}
	body = json_dumps(payload, JSON_COMPACT);
	if (body == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = post(c, c->dir.new_account, body, true, NULL, what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 200, 201, what, c->dir.new_account, e)) != 0 ||
	    (ret = account_reply(c, &r, what, e)) != 0)
		goto out;
	rz_log(RZ_LOG_DEBUG, "acme: account %s (%s)", c->kid, r.status == 201 ? "new" : "existing");
out:
	acme_resp_clear(&r);
	free(body);
	json_decref(eab);
	json_decref(contacts);
	json_decref(payload);
	return ret;
}

int acme_account_lookup(struct acme_client *c, struct acme_error *e)
{
	static const char what[] = "newAccount (onlyReturnExisting)";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if ((ret = need_directory(c, e)) != 0)
		goto out;
	ret = post(c, c->dir.new_account, "{\"onlyReturnExisting\":true}", true, NULL, what, &r, e);
	if (ret == RZ_EACME && e->has_problem &&
	    e->problem.kind == ACME_PT_ACCOUNT_DOES_NOT_EXIST) {
		e->code = ret = RZ_ENOENT;
		goto out;
	}
	if (ret != 0 || (ret = expect_status(&r, 200, 200, what, c->dir.new_account, e)) != 0 ||
	    (ret = account_reply(c, &r, what, e)) != 0)
		goto out;
out:
	acme_resp_clear(&r);
	return ret;
}

/* ---------------------------------------------------------------- orders */

void acme_order_clear(struct acme_order *o)
{
	if (o == NULL)
		return;
	free(o->url);
	free(o->expires);
	acme_strv_free(o->identifiers, o->n_identifiers);
	acme_strv_free(o->authorizations, o->n_authorizations);
	free(o->finalize);
	free(o->certificate);
	memset(o, 0, sizeof(*o));
}

/* An order object into out (url not touched); its "error" into perr. */
static int parse_order(json_t *j, struct acme_order *out, struct acme_problem *perr,
                       const char *what, struct acme_error *e)
{
	const char *expires, *finalize, *cert, *s;
	json_t *ids, *authz, *err, *v;
	size_t i;
	int ret;

	if ((ret = f_status(j, ORDER_STATES, &out->status, what, e)) != 0 ||
	    (ret = f_str(j, "expires", false, &expires, what, e)) != 0 ||
	    (ret = f_str(j, "notBefore", false, &s, what, e)) != 0 ||
	    (ret = f_str(j, "notAfter", false, &s, what, e)) != 0 ||
	    (ret = f_url(j, "finalize", true, &finalize, what, e)) != 0 ||
	    (ret = f_url(j, "certificate", false, &cert, what, e)) != 0 ||
	    (ret = f_obj(j, "error", &err, what, e)) != 0)
		return ret;
	if (out->status == ACME_ST_VALID && cert == NULL)
		return fail(e, RZ_EPROTO, "%s: a valid order without a certificate URL", what);
	ids = json_object_get(j, "identifiers");
	authz = json_object_get(j, "authorizations");
	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > ACME_CSR_MAX_NAMES)
		return fail(e, RZ_EPROTO, "%s: \"identifiers\" is not an array of 1 to %d", what,
		            ACME_CSR_MAX_NAMES);
	if (!json_is_array(authz) || json_array_size(authz) > MAX_AUTHZ)
		return fail(e, RZ_EPROTO, "%s: \"authorizations\" is not an array of at most %d",
		            what, MAX_AUTHZ);
	out->identifiers = calloc(json_array_size(ids), sizeof(char *));
	out->authorizations = calloc(json_array_size(authz) + 1, sizeof(char *));
	if (out->identifiers == NULL || out->authorizations == NULL)
		return fail(e, RZ_ENOMEM, "out of memory");
	json_array_foreach(ids, i, v) {
		const char *type, *value;

		if (!json_is_object(v))
			return fail(e, RZ_EPROTO, "%s: an identifier is not an object", what);
		if ((ret = f_str(v, "type", true, &type, what, e)) != 0 ||
		    (ret = f_str(v, "value", true, &value, what, e)) != 0)
			return ret;
		if (strcmp(type, "dns") != 0)
			return fail(e, RZ_EPROTO, "%s: identifier type \"%.32s\" (only dns is asked for)",
			            what, type);
		if ((ret = dup_into(&out->identifiers[out->n_identifiers], value, e)) != 0)
			return ret;
		out->n_identifiers++;
	}
	json_array_foreach(authz, i, v) {
		const char *u = NULL;

		if ((ret = v_url(v, &u, what, "an authorization", e)) != 0 ||
		    (ret = dup_into(&out->authorizations[out->n_authorizations], u, e)) != 0)
			return ret;
		out->n_authorizations++;
	}
	if ((ret = dup_into(&out->expires, expires, e)) != 0 ||
	    (ret = dup_into(&out->finalize, finalize, e)) != 0 ||
	    (ret = dup_into(&out->certificate, cert, e)) != 0)
		return ret;
	return embedded_problem(err, perr, what, e);
}

/* The identifiers the CA names are exactly names (order and case aside). */
static bool same_names(const struct acme_order *o, const char *const *names, size_t n)
{
	if (o->n_identifiers != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < n && !found; k++)
			found = strcasecmp(names[i], o->identifiers[k]) == 0;
		if (!found)
			return false;
	}
	return true;
}

int acme_order_new(struct acme_client *c, const char *const *names, size_t n,
                   struct acme_order *out, struct acme_error *e)
{
	return acme_order_new_replacing(c, names, n, NULL, out, e);
}

int acme_order_new_replacing(struct acme_client *c, const char *const *names, size_t n,
                             const char *replaces, struct acme_order *out,
                             struct acme_error *e)
{
	static const char what[] = "newOrder";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	json_t *payload = NULL, *ids = NULL, *j = NULL;
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || names == NULL || n == 0 || n > ACME_CSR_MAX_NAMES) {
		ret = fail(e, RZ_EINVAL, "%s: 1 to %d names", what, ACME_CSR_MAX_NAMES);
		goto out;
	}
	ids = json_array();
	if (ids == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (acme_dns_name_check(names[i]) != 0) {
			ret = fail(e, RZ_EDNAME, "%s: invalid name \"%s\"", what,
			           names[i] ? names[i] : "(null)");
			goto out;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[i], names[k]) == 0) {
				ret = fail(e, RZ_EINVAL, "%s: name \"%s\" given twice", what, names[i]);
				goto out;
			}
		}
		if (json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value",
		                                         names[i])) != 0) {
			ret = fail(e, RZ_ENOMEM, "out of memory");
			goto out;
		}
	}
	payload = json_pack("{s:O}", "identifiers", ids);
	if (payload != NULL && replaces != NULL &&
	    json_object_set_new(payload, "replaces", json_string(replaces)) != 0) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	body = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (body == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = need_directory(c, e)) != 0 ||
	    (ret = post(c, c->dir.new_order, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 201, 200, what, c->dir.new_order, e)) != 0)
		goto out;
	if (r.location == NULL || !url_ok(r.location)) {
		ret = fail(e, RZ_EPROTO, "%s: no https Location (order URL) in the reply", what);
		goto out;
	}
	if ((ret = load_object(&r, what, &j, e)) != 0 ||
	    (ret = parse_order(j, out, NULL, what, e)) != 0 ||
	    (ret = dup_into(&out->url, r.location, e)) != 0)
		goto out;
	if (!same_names(out, names, n)) {
		ret = fail(e, RZ_EPROTO, "%s: the order's identifiers are not the names asked for",
		           what);
		goto out;
	}
	retry_from(c, &r, &out->retry_after_s, &out->retry_after_given);
out:
	if (ret != 0)
		acme_order_clear(out);
	acme_resp_clear(&r);
	json_decref(j);
	free(body);
	json_decref(payload);
	json_decref(ids);
	return ret;
}

/* POST-as-GET of an https URL whose reply must be a 200 JSON object. */
static int fetch_object(struct acme_client *c, const char *url, const char *what,
                        struct acme_resp *r, json_t **j, struct acme_error *e)
{
	int ret;

	if (url == NULL || !url_ok(url))
		return fail(e, RZ_EINVAL, "%s: not an https URL", what);
	if ((ret = post(c, url, "", false, NULL, what, r, e)) != 0 ||
	    (ret = expect_status(r, 200, 200, what, url, e)) != 0)
		return ret;
	return load_object(r, what, j, e);
}

/* Parse a fetched object into out (a struct acme_order or acme_authz). */
typedef int (*object_parser)(json_t *j, void *out, struct acme_problem *perr, const char *what,
                             struct acme_error *e);

/* POST-as-GET of an order or an authorization: parsed into out, with its
 * URL and the reply's Retry-After (fields of out).  The caller clears out
 * on error. */
static int fetch_parsed(struct acme_client *c, const char *url, const char *what,
                        object_parser parse, void *out, char **out_url, uint32_t *retry_s,
                        bool *retry_given, struct acme_problem *perr, struct acme_error *e)
{
	struct acme_resp r = { 0 };
	json_t *j = NULL;
	int ret;

	if ((ret = fetch_object(c, url, what, &r, &j, e)) == 0 &&
	    (ret = parse(j, out, perr, what, e)) == 0 &&
	    (ret = dup_into(out_url, url, e)) == 0)
		retry_from(c, &r, retry_s, retry_given);
	json_decref(j);
	acme_resp_clear(&r);
	return ret;
}

static int parse_order_object(json_t *j, void *out, struct acme_problem *perr,
                              const char *what, struct acme_error *e)
{
	return parse_order(j, out, perr, what, e);
}

static int order_fetch(struct acme_client *c, const char *url, struct acme_order *out,
                       struct acme_problem *perr, struct acme_error *e)
{
	int ret;

	err_reset(e);
	if (out == NULL)
		return fail(e, RZ_EINVAL, "order: no place for the result");
	memset(out, 0, sizeof(*out));
	ret = fetch_parsed(c, url, "order", parse_order_object, out, &out->url,
	                   &out->retry_after_s, &out->retry_after_given, perr, e);
	if (ret != 0)
		acme_order_clear(out);
	return ret;
}

int acme_order_get(struct acme_client *c, const char *url, struct acme_order *out,
                   struct acme_error *e)
{
	struct acme_error dummy;

	return order_fetch(c, url, out, NULL, e != NULL ? e : &dummy);
}

/* What an order's status means to a poller. */
static int order_verdict(const struct acme_order *o, const struct acme_problem *perr,
                         struct acme_error *e)
{
	switch (o->status) {
	case ACME_ST_READY:
	case ACME_ST_VALID:
		return 0;
	case ACME_ST_PENDING:
	case ACME_ST_PROCESSING:
		e->retry_after_s = o->retry_after_s;
		e->retry_after_given = o->retry_after_given;
		return fail(e, RZ_EAGAIN, "order %s is %s: ask again in %u s", o->url,
		            acme_status_name(o->status), o->retry_after_s);
	default:
		return refused_by(e, perr, "order", o->url, acme_status_name(o->status));
	}
}

int acme_order_poll(struct acme_client *c, const char *url, struct acme_order *out,
                    struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_problem *perr = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	perr = calloc(1, sizeof(*perr));
	if (perr == NULL) {
		err_reset(e);
		return fail(e, RZ_ENOMEM, "out of memory");
	}
	ret = order_fetch(c, url, out, perr, e);
	if (ret == 0)
		ret = order_verdict(out, perr, e);
	free(perr);
	return ret;
}

int acme_order_finalize(struct acme_client *c, const char *order_url,
                        const char *finalize_url, const struct acme_csr *csr,
                        struct acme_order *out, struct acme_error *e)
{
	static const char what[] = "finalize";
	struct acme_error dummy;
	struct acme_problem *perr = NULL;
	struct acme_resp r = { 0 };
	json_t *payload = NULL, *j = NULL;
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || csr == NULL || csr->b64url == NULL || order_url == NULL ||
	    !url_ok(order_url) || finalize_url == NULL || !url_ok(finalize_url)) {
		ret = fail(e, RZ_EINVAL, "%s: bad arguments", what);
		goto out;
	}
	perr = calloc(1, sizeof(*perr));
	payload = json_pack("{s:s}", "csr", csr->b64url);
	body = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (perr == NULL || body == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = post(c, finalize_url, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 200, 200, what, finalize_url, e)) != 0 ||
	    (ret = load_object(&r, what, &j, e)) != 0 ||
	    (ret = parse_order(j, out, perr, what, e)) != 0 ||
	    (ret = dup_into(&out->url, order_url, e)) != 0)
		goto out;
	retry_from(c, &r, &out->retry_after_s, &out->retry_after_given);
	if (out->status == ACME_ST_INVALID)
		ret = refused_by(e, perr, "order", order_url, "invalid");
out:
	if (ret != 0 && ret != RZ_EACME && out != NULL)
		acme_order_clear(out);
	acme_resp_clear(&r);
	json_decref(j);
	free(body);
	json_decref(payload);
	free(perr);
	return ret;
}

/* -------------------------------------------------------- authorizations */

void acme_authz_clear(struct acme_authz *a)
{
	if (a == NULL)
		return;
	free(a->url);
	free(a->identifier);
	free(a->expires);
	free(a->dns01.url);
	free(a->dns01.token);
	memset(a, 0, sizeof(*a));
}

/* One challenge object: type, url, status, token (dns-01), error. */
static int parse_challenge(json_t *v, const char **type, const char **url, const char **token,
                           enum acme_status *st, struct acme_problem *perr, const char *what,
                           struct acme_error *e)
{
	json_t *err;
	const char *s;
	int ret;

	if (!json_is_object(v))
		return fail(e, RZ_EPROTO, "%s: a challenge is not an object", what);
	if ((ret = f_str(v, "type", true, type, what, e)) != 0 ||
	    (ret = f_url(v, "url", true, url, what, e)) != 0 ||
	    (ret = f_status(v, CHALL_STATES, st, what, e)) != 0 ||
	    (ret = f_str(v, "token", false, token, what, e)) != 0 ||
	    (ret = f_str(v, "validated", false, &s, what, e)) != 0 ||
	    (ret = f_obj(v, "error", &err, what, e)) != 0)
		return ret;
	if (strcmp(*type, "dns-01") == 0 && acme_token_check(*token) != 0)
		return fail(e, RZ_EPROTO, "%s: the dns-01 challenge has no usable token "
		            "(1 to %d base64url characters)", what, ACME_TOKEN_MAX);
	return embedded_problem(err, perr, what, e);
}

static int parse_authz(json_t *j, struct acme_authz *out, struct acme_problem *perr,
                       const char *what, struct acme_error *e)
{
	const char *expires, *type, *value;
	json_t *id, *chs, *v;
	size_t i;
	int ret;

	if ((ret = f_status(j, AUTHZ_STATES, &out->status, what, e)) != 0 ||
	    (ret = f_str(j, "expires", false, &expires, what, e)) != 0 ||
	    (ret = f_bool(j, "wildcard", &out->wildcard, what, e)) != 0 ||
	    (ret = f_obj(j, "identifier", &id, what, e)) != 0)
		return ret;
	if (id == NULL)
		return fail(e, RZ_EPROTO, "%s: field \"identifier\" missing", what);
	if ((ret = f_str(id, "type", true, &type, what, e)) != 0 ||
	    (ret = f_str(id, "value", true, &value, what, e)) != 0)
		return ret;
	if (strcmp(type, "dns") != 0 || acme_dns_name_check(value) != 0 ||
	    strncmp(value, "*.", 2) == 0)
		return fail(e, RZ_EPROTO, "%s: identifier is not a dns name", what);
	chs = json_object_get(j, "challenges");
	if (!json_is_array(chs) || json_array_size(chs) > MAX_CHALLENGES)
		return fail(e, RZ_EPROTO, "%s: \"challenges\" is not an array of at most %d", what,
		            MAX_CHALLENGES);
	json_array_foreach(chs, i, v) {
		const char *ctype, *chall_url, *token;
		enum acme_status st = ACME_ST_PENDING;
		bool first_dns01;

		if ((ret = parse_challenge(v, &ctype, &chall_url, &token, &st, NULL, what, e)) != 0)
			return ret;
		first_dns01 = strcmp(ctype, "dns-01") == 0 && !out->has_dns01;
		if (!first_dns01)
			continue;
		/* parse again for its error, now that we know it is ours */
		if ((ret = parse_challenge(v, &ctype, &chall_url, &token, &st, perr, what, e)) != 0 ||
		    (ret = dup_into(&out->dns01.url, chall_url, e)) != 0 ||
		    (ret = dup_into(&out->dns01.token, token, e)) != 0)
			return ret;
		out->dns01.status = st;
		out->has_dns01 = true;
	}
	if ((ret = dup_into(&out->identifier, value, e)) != 0 ||
	    (ret = dup_into(&out->expires, expires, e)) != 0)
		return ret;
	return 0;
}

static int parse_authz_object(json_t *j, void *out, struct acme_problem *perr,
                              const char *what, struct acme_error *e)
{
	return parse_authz(j, out, perr, what, e);
}

static int authz_fetch(struct acme_client *c, const char *url, struct acme_authz *out,
                       struct acme_problem *perr, struct acme_error *e)
{
	int ret;

	err_reset(e);
	if (out == NULL)
		return fail(e, RZ_EINVAL, "authorization: no place for the result");
	memset(out, 0, sizeof(*out));
	ret = fetch_parsed(c, url, "authorization", parse_authz_object, out, &out->url,
	                   &out->retry_after_s, &out->retry_after_given, perr, e);
	if (ret != 0)
		acme_authz_clear(out);
	return ret;
}

int acme_authz_get(struct acme_client *c, const char *url, struct acme_authz *out,
                   struct acme_error *e)
{
	struct acme_error dummy;

	return authz_fetch(c, url, out, NULL, e != NULL ? e : &dummy);
}

int acme_authz_poll(struct acme_client *c, const char *url, struct acme_authz *out,
                    struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_problem *perr;
	int ret;

	if (e == NULL)
		e = &dummy;
	perr = calloc(1, sizeof(*perr));
	if (perr == NULL) {
		err_reset(e);
		return fail(e, RZ_ENOMEM, "out of memory");
	}
	ret = authz_fetch(c, url, out, perr, e);
	if (ret == 0) {
		switch (out->status) {
		case ACME_ST_VALID:
			break;
		case ACME_ST_PENDING:
			e->retry_after_s = out->retry_after_s;
			e->retry_after_given = out->retry_after_given;
			ret = fail(e, RZ_EAGAIN, "authorization %s (%s) is pending: ask again in %u s",
			           url, out->identifier, out->retry_after_s);
			break;
		default:
			ret = refused_by(e, perr, "authorization", url, acme_status_name(out->status));
			break;
		}
	}
	free(perr);
	return ret;
}

int acme_challenge_respond(struct acme_client *c, const char *url, enum acme_status *status,
                           struct acme_error *e)
{
	static const char what[] = "challenge";
	struct acme_error dummy;
	struct acme_problem *perr = NULL;
	struct acme_resp r = { 0 };
	const char *type, *chall_url, *token;
	enum acme_status st = ACME_ST_PENDING;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (url == NULL || !url_ok(url)) {
		ret = fail(e, RZ_EINVAL, "%s: not an https URL", what);
		goto out;
	}
	perr = calloc(1, sizeof(*perr));
	if (perr == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = post(c, url, "{}", false, NULL, what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 200, 200, what, url, e)) != 0 ||
	    (ret = load_object(&r, what, &j, e)) != 0 ||
	    (ret = parse_challenge(j, &type, &chall_url, &token, &st, perr, what, e)) != 0)
		goto out;
	if (status != NULL)
		*status = st;
	if (st == ACME_ST_INVALID)
		ret = refused_by(e, perr, what, url, "invalid");
out:
	json_decref(j);
	acme_resp_clear(&r);
	free(perr);
	return ret;
}

/* ---------------------------------------------------------- certificates */

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* One or more PEM certificates and nothing else (text only). */
static int check_chain(const char *pem, size_t len)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	size_t n = 0, blocks;
	int ret = RZ_EPROTO;

	if (strlen(pem) != len)
		goto out;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)pem[i];

		if ((ch < 0x20 || ch > 0x7e) && ch != '\n' && ch != '\r' && ch != '\t')
			goto out;
	}
	blocks = count_str(pem, "-----BEGIN ");
	if (blocks == 0 || blocks != count_str(pem, "-----BEGIN CERTIFICATE-----"))
		goto out;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL) {
		ret = RZ_ENOMEM;
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	if (n == blocks)
		ret = 0;
out:
	BIO_free(bio);
	return ret;
}

int acme_cert_download(struct acme_client *c, const char *url, char **pem,
                       char ***alternates, size_t *n_alternates, struct acme_error *e)
{
	static const char what[] = "certificate";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	char **alt = NULL;
	size_t n_alt = 0;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (pem != NULL)
		*pem = NULL;
	if (alternates != NULL)
		*alternates = NULL;
	if (n_alternates != NULL)
		*n_alternates = 0;
	if (pem == NULL || url == NULL || !url_ok(url) || (alternates != NULL) != (n_alternates != NULL)) {
		ret = fail(e, RZ_EINVAL, "%s: bad arguments", what);
		goto out;
	}
	if ((ret = post(c, url, "", false, "application/pem-certificate-chain", what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 200, 200, what, url, e)) != 0)
		goto out;
	if (!media_is(r.content_type, "application/pem-certificate-chain")) {
		ret = fail(e, RZ_EPROTO, "%s %s: Content-Type %s, not application/pem-certificate-chain",
		           what, url, r.content_type ? r.content_type : "missing");
		goto out;
	}
	if ((ret = check_chain(r.body, r.body_len)) != 0) {
		fail(e, ret, "%s %s: the reply is not a PEM certificate chain", what, url);
		goto out;
	}
	if (alternates != NULL) {
		alt = calloc(ACME_HTTP_MAX_LINKS, sizeof(char *));
		if (alt == NULL) {
			ret = fail(e, RZ_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < r.n_links; i++) {
			if (strcasecmp(r.links[i].rel, "alternate") != 0 || !url_ok(r.links[i].url))
				continue;
			if ((ret = dup_into(&alt[n_alt], r.links[i].url, e)) != 0)
				goto out;
			n_alt++;
		}
		*alternates = alt;
		*n_alternates = n_alt;
		alt = NULL;
	}
	*pem = r.body;
	r.body = NULL;
out:
	acme_strv_free(alt, n_alt);
	acme_resp_clear(&r);
	return ret;
}

int acme_cert_revoke(struct acme_client *c, const char *pem, int reason, struct acme_error *e)
{
	static const char what[] = "revokeCert";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	BIO *bio = NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	char *b64 = NULL, *body = NULL;
	json_t *payload = NULL;
	int derlen, ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (pem == NULL || reason < 0 || reason > 10 || reason == 7) {
		ret = fail(e, RZ_EINVAL, "%s: bad certificate or reason code", what);
		goto out;
	}
	if ((ret = need_directory(c, e)) != 0)
		goto out;
	if (c->dir.revoke_cert == NULL) {
		ret = fail(e, RZ_EINVAL, "%s: the CA's directory has no revokeCert", what);
		goto out;
	}
	bio = BIO_new_mem_buf(pem, -1);
	x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (x == NULL || (derlen = i2d_X509(x, &der)) <= 0) {
		ERR_clear_error();
		ret = fail(e, RZ_ESYNTAX, "%s: no PEM certificate", what);
		goto out;
	}
	b64 = malloc(ACME_B64URL_SIZE((size_t)derlen));
	if (b64 == NULL ||
	    acme_b64url_encode(der, (size_t)derlen, b64, ACME_B64URL_SIZE((size_t)derlen)) < 0 ||
	    (payload = json_pack("{s:s, s:i}", "certificate", b64, "reason", reason)) == NULL ||
	    (body = json_dumps(payload, JSON_COMPACT)) == NULL) {
		ret = fail(e, RZ_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = post(c, c->dir.revoke_cert, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = expect_status(&r, 200, 200, what, c->dir.revoke_cert, e)) != 0)
		goto out;
out:
	acme_resp_clear(&r);
	free(body);
	json_decref(payload);
	free(b64);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

int acme_renewal_info(struct acme_client *c, const char *cert_id, struct acme_ari_info *out,
                      time_t *next_poll, struct acme_error *e)
{
	static const char what[] = "renewalInfo";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	char *url = NULL;
	size_t len;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || cert_id == NULL || cert_id[0] == '\0' || out == NULL || next_poll == NULL)
		return fail(e, RZ_EINVAL, "%s: bad argument", what);
	for (const char *p = cert_id; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return fail(e, RZ_EINVAL, "%s: not a certificate identifier", what);
	if ((ret = need_directory(c, e)) != 0)
		return ret;
	if (c->dir.renewal_info == NULL)
		return fail(e, RZ_ENOENT, "%s: the CA's directory has no renewalInfo", what);
	len = strlen(c->dir.renewal_info) + strlen(cert_id) + 2;
	if ((url = malloc(len)) == NULL)
		return fail(e, RZ_ENOMEM, "out of memory");
	snprintf(url, len, "%s%s%s", c->dir.renewal_info,
	         c->dir.renewal_info[strlen(c->dir.renewal_info) - 1] == '/' ? "" : "/", cert_id);
	ret = acme_http_get(c->http, url, &r);
	c->stats.requests++;
	if (ret != 0) {
		http_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200) {
		ret = r.status >= 400 ? problem_from_resp(c, "GET", url, &r, e)
		                      : fail(e, RZ_EPROTO, "GET %s: unexpected HTTP %ld", url, r.status);
		goto out;
	}
	if ((ret = acme_ari_parse(r.body, r.body_len, out)) != 0) {
		ret = fail(e, RZ_EPROTO, "%s: unusable reply (%s)", what, rz_strerror(ret));
		goto out;
	}
	(void)acme_ari_next_poll(r.retry_after, time(NULL), next_poll);
out:
	if (ret != 0)
		*next_poll = time(NULL) + ACME_ARI_POLL_DEFAULT;
	acme_resp_clear(&r);
	free(url);
	return ret;
}

/* ------------------------------------------- acme/parse.h: the readers alone */

/* A 200 reply with body json[0..len), as load_object() and account_reply()
 * read it.  Nothing in it is owned: never acme_resp_clear() it. */
static void reply_of(const char *json, size_t len, const char *location, struct acme_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->body = (char *)json;                    /* only read */
	r->body_len = len;
	r->location = (char *)location;            /* only read */
	r->content_type = (char *)"application/json";
}

int acme_parse_directory(const char *json, size_t len, struct acme_directory *out,
                         struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_resp r;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (json == NULL || out == NULL)
		return fail(e, RZ_EINVAL, "directory: bad arguments");
	memset(out, 0, sizeof(*out));
	reply_of(json, len, NULL, &r);
	if ((ret = load_object(&r, "directory", &j, e)) == 0)
		ret = parse_directory(j, out, e);
	if (ret != 0)
		dir_clear(out);
	json_decref(j);
	return ret;
}

void acme_directory_clear(struct acme_directory *d)
{
	if (d != NULL)
		dir_clear(d);
}

int acme_parse_account(const char *json, size_t len, const char *location,
                       char **account_url, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_client c;
	struct acme_resp r;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (account_url != NULL)
		*account_url = NULL;
	if (json == NULL || account_url == NULL)
		return fail(e, RZ_EINVAL, "newAccount: bad arguments");
	memset(&c, 0, sizeof(c));   /* account_reply() only sets c.kid */
	reply_of(json, len, location, &r);
	ret = account_reply(&c, &r, "newAccount", e);
	if (ret == 0) {
		*account_url = c.kid;
		c.kid = NULL;
	}
	free(c.kid);
	return ret;
}

int acme_parse_order(const char *json, size_t len, struct acme_order *out,
                     struct acme_problem *perr, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_resp r;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (json == NULL || out == NULL)
		return fail(e, RZ_EINVAL, "order: bad arguments");
	memset(out, 0, sizeof(*out));
	reply_of(json, len, NULL, &r);
	if ((ret = load_object(&r, "order", &j, e)) == 0)
		ret = parse_order(j, out, perr, "order", e);
	if (ret != 0)
		acme_order_clear(out);
	json_decref(j);
	return ret;
}

int acme_parse_authz(const char *json, size_t len, struct acme_authz *out,
                     struct acme_problem *perr, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_resp r;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (json == NULL || out == NULL)
		return fail(e, RZ_EINVAL, "authorization: bad arguments");
	memset(out, 0, sizeof(*out));
	reply_of(json, len, NULL, &r);
	if ((ret = load_object(&r, "authorization", &j, e)) == 0)
		ret = parse_authz(j, out, perr, "authorization", e);
	if (ret != 0)
		acme_authz_clear(out);
	json_decref(j);
	return ret;
}

int acme_parse_challenge(const char *json, size_t len, enum acme_status *status,
                         struct acme_problem *perr, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_resp r;
	const char *type, *url, *token;
	enum acme_status st = ACME_ST_PENDING;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	err_reset(e);
	if (json == NULL || status == NULL)
		return fail(e, RZ_EINVAL, "challenge: bad arguments");
	reply_of(json, len, NULL, &r);
	if ((ret = load_object(&r, "challenge", &j, e)) == 0 &&
	    (ret = parse_challenge(j, &type, &url, &token, &st, perr, "challenge", e)) == 0)
		*status = st;
	json_decref(j);
	return ret;
}

int acme_parse_chain(const char *pem, size_t len)
{
	if (pem == NULL || len > INT_MAX)
		return RZ_EINVAL;
	return check_chain(pem, len);
}
