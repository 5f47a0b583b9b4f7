/*
 * client.c - the ACME client object (acme/client.h): its error and log
 * helpers, the directory, the nonce pool and the signed POST with its
 * badNonce retries.  The protocol steps are in acme/account.c, order.c and
 * cert.c; the strict reader of the CA's JSON in acme/reader.c.
 *
 * Problem documents are read by acme/problem.h, Retry-After by
 * acme/retry.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "acme/acct.h"
#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/client_int.h"
#include "acme/http.h"
#include "acme/parse.h"
#include "acme/problem.h"
#include "acme/retry.h"

#define NONCE_MAX 256
#define LOG_LINE_MAX (ACME_URL_MAX + 256)   /* room for two short words and a URL */
#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_RETRY_S 3
#define DEFAULT_BAD_NONCE 5

/* ------------------------------------------------------------- errors */

/* One printable line: never a forged log line or a terminal escape. */
static void make_printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

void acme_err_reset(struct acme_error *e)
{
	memset(e, 0, sizeof(*e));
}

int acme_fail(struct acme_error *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	make_printable(e->msg);   /* what the CA sent may be in it */
	return code;
}

void acme_log(const struct acme_client *c, int level, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	if (c->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	make_printable(line);
	c->log(c->log_arg, level, line);
}

bool acme_error_retryable(const struct acme_error *e)
{
	if (e->code == ACME_EIO || e->code == ACME_EAGAIN)
		return true;
	if (e->code != ACME_EACME)
		return false;
	if (e->has_problem)
		return acme_problem_class(&e->problem) == ACME_PC_RETRY;
	return e->http_status >= 500 || e->http_status == 429;
}

void acme_retry_from(const struct acme_client *c, const struct acme_resp *r, uint32_t *secs,
                     bool *given)
{
	time_t now = time(NULL), when = 0;

	*given = r->retry_after != NULL && acme_retry_after(r->retry_after, now, &when) == 0;
	*secs = *given ? (uint32_t)(when > now ? when - now : 0) : c->default_retry_s;
}

int acme_reply_refused(const struct acme_client *c, const char *what, const char *url,
                       const struct acme_resp *r, struct acme_error *e)
{
	char text[ACME_PROBLEM_TEXT_MAX];
	int pr;

	e->http_status = r->status;
	acme_retry_from(c, r, &e->retry_after_s, &e->retry_after_given);
	if (!acme_media_is(r->content_type, "application/problem+json")) {
		memset(&e->problem, 0, sizeof(e->problem));   /* about:blank, the status alone */
		snprintf(e->problem.type, sizeof(e->problem.type), "about:blank");
		e->problem.kind = ACME_PT_OTHER;
		e->problem.http_status = (int)r->status;
		return acme_fail(e, ACME_EACME, "%s %s: HTTP %ld without a problem document", what,
		                 url, r->status);
	}
	pr = acme_problem_parse(r->body, r->body_len, (int)r->status, &e->problem);
	if (pr != 0)
		return acme_fail(e, ACME_EPROTO, "%s %s: HTTP %ld with a malformed problem document "
		                 "(%s)", what, url, r->status, acme_strerror(pr));
	e->has_problem = true;
	acme_problem_text(&e->problem, text, sizeof(text));
	return acme_fail(e, ACME_EACME, "%s %s: HTTP %ld %s", what, url, r->status, text);
}

void acme_note_request(const struct acme_client *c, const char *endpoint, int ret,
                       const struct acme_resp *r, const struct acme_error *e)
{
	const char *problem = NULL;

	if (c->on_request == NULL)
		return;
	if (ret == 0 && e != NULL && e->has_problem)
		problem = acme_problem_kind_name(e->problem.kind);
	c->on_request(c->request_arg, endpoint, ret == 0 && r != NULL ? r->status : 0, problem);
}

int acme_transport_failed(struct acme_client *c, int ret, struct acme_error *e)
{
	return acme_fail(e, ret, "%s", acme_http_error(c->http));
}

int acme_expect_status(const struct acme_resp *r, long a, long b, const char *what,
                       const char *url, struct acme_error *e)
{
	if (r->status == a || r->status == b)
		return 0;
	return acme_fail(e, ACME_EPROTO, "%s: POST %s: unexpected HTTP %ld", what, url, r->status);
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
	acme_err_reset(e);
	if (out == NULL || opts == NULL || acct == NULL || opts->directory_url == NULL ||
	    !acme_url_ok(opts->directory_url)) {
		ret = acme_fail(e, ACME_EINVAL, "acme client: the directory must be an https URL");
		goto out;
	}
	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->dir_url = strdup(opts->directory_url)) == NULL) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	c->acct = acct;
	c->default_retry_s = opts->default_retry_s ? opts->default_retry_s : DEFAULT_RETRY_S;
	c->max_bad_nonce = opts->max_bad_nonce ? opts->max_bad_nonce : DEFAULT_BAD_NONCE;
	c->log = opts->log;
	c->log_arg = opts->log_arg;
	c->on_request = opts->on_request;
	c->request_arg = opts->request_arg;
	ret = acme_http_new(opts->ca_bundle, opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS,
	                    &c->http);
	if (ret != 0) {
		acme_fail(e, ret, "acme client: HTTP client setup failed: %s", acme_strerror(ret));
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

	if (kid == NULL || !acme_url_ok(kid))
		return ACME_EINVAL;
	k = strdup(kid);
	if (k == NULL)
		return ACME_ENOMEM;
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

/* ------------------------------------------------------------ directory */

static int parse_directory(json_t *o, struct acme_directory *d, struct acme_error *e)
{
	static const char what[] = "directory", mwhat[] = "directory meta";
	const char *nn, *na, *no, *rc, *kc, *ri, *tos = NULL, *web = NULL;
	json_t *meta;
	int ret;

	if ((ret = acme_field_url(o, "newNonce", true, &nn, what, e)) != 0 ||
	    (ret = acme_field_url(o, "newAccount", true, &na, what, e)) != 0 ||
	    (ret = acme_field_url(o, "newOrder", true, &no, what, e)) != 0 ||
	    (ret = acme_field_url(o, "revokeCert", false, &rc, what, e)) != 0 ||
	    (ret = acme_field_url(o, "keyChange", false, &kc, what, e)) != 0 ||
	    (ret = acme_field_url(o, "renewalInfo", false, &ri, what, e)) != 0 ||
	    (ret = acme_field_obj(o, "meta", &meta, what, e)) != 0)
		return ret;
	if (meta != NULL) {
		json_t *caa = json_object_get(meta, "caaIdentities");
		size_t i;
		json_t *v;

		/* termsOfService may be any URI (Pebble: a data: URL) */
		if ((ret = acme_field_str(meta, "termsOfService", false, &tos, mwhat, e)) != 0 ||
		    (ret = acme_field_str(meta, "website", false, &web, mwhat, e)) != 0 ||
		    (ret = acme_field_bool(meta, "externalAccountRequired", &d->eab_required,
		                           mwhat, e)) != 0)
			return ret;
		if (caa != NULL && !json_is_array(caa))
			return acme_fail(e, ACME_EPROTO, "directory meta: caaIdentities is not an array");
		json_array_foreach(caa, i, v)
			if (!json_is_string(v))
				return acme_fail(e, ACME_EPROTO,
				                 "directory meta: a caaIdentity is not a string");
	}
	if ((ret = acme_dup_into(&d->new_nonce, nn, e)) != 0 ||
	    (ret = acme_dup_into(&d->new_account, na, e)) != 0 ||
	    (ret = acme_dup_into(&d->new_order, no, e)) != 0 ||
	    (ret = acme_dup_into(&d->revoke_cert, rc, e)) != 0 ||
	    (ret = acme_dup_into(&d->key_change, kc, e)) != 0 ||
	    (ret = acme_dup_into(&d->renewal_info, ri, e)) != 0 ||
	    (ret = acme_dup_into(&d->terms_of_service, tos, e)) != 0 ||
	    (ret = acme_dup_into(&d->website, web, e)) != 0)
		return ret;
	return 0;
}

int acme_need_directory(struct acme_client *c, struct acme_error *e)
{
	struct acme_resp r = { 0 };
	struct acme_directory d = { 0 };
	json_t *j = NULL;
	int ret;

	if (c->have_dir)
		return 0;
	ret = acme_http_get(c->http, c->dir_url, &r);
	c->stats.requests++;
	acme_note_request(c, "directory", ret, &r, NULL);
	if (ret != 0) {
		acme_transport_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200) {
		ret = r.status >= 400 ? acme_reply_refused(c, "GET", c->dir_url, &r, e)
		                      : acme_fail(e, ACME_EPROTO, "GET %s: unexpected HTTP %ld",
		                                  c->dir_url, r.status);
		goto out;
	}
	if ((ret = acme_load_object(&r, "directory", &j, e)) != 0 ||
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
	acme_err_reset(e);
	ret = acme_need_directory(c, e);
	if (ret == 0 && dir != NULL)
		*dir = &c->dir;
	return ret;
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
	acme_err_reset(e);
	if (json == NULL || out == NULL)
		return acme_fail(e, ACME_EINVAL, "directory: bad arguments");
	memset(out, 0, sizeof(*out));
	acme_reply_of(json, len, NULL, &r);
	if ((ret = acme_load_object(&r, "directory", &j, e)) == 0)
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
	if (c->n_nonces == ACME_NONCE_POOL) {
		free(c->nonces[0]);
		memmove(&c->nonces[0], &c->nonces[1], (ACME_NONCE_POOL - 1) * sizeof(c->nonces[0]));
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
	if ((ret = acme_need_directory(c, e)) != 0)
		return ret;
	ret = acme_http_head(c->http, c->dir.new_nonce, &r);
	c->stats.requests++;
	c->stats.nonce_fetches++;
	acme_note_request(c, "newNonce", ret, &r, NULL);
	if (ret != 0) {
		acme_transport_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200 && r.status != 204) {
		ret = r.status >= 400 ? acme_reply_refused(c, "HEAD", c->dir.new_nonce, &r, e)
		                      : acme_fail(e, ACME_EPROTO, "HEAD %s: unexpected HTTP %ld",
		                                  c->dir.new_nonce, r.status);
		goto out;
	}
	if (!nonce_ok(r.nonce)) {
		ret = acme_fail(e, ACME_EPROTO, "HEAD %s: no valid Replay-Nonce", c->dir.new_nonce);
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

int acme_post(struct acme_client *c, const char *url, const char *payload, bool jwk,
              const char *accept, const char *what, struct acme_resp *resp,
              struct acme_error *e)
{
	char *nonce = NULL, *jws = NULL;
	int ret;

	memset(resp, 0, sizeof(*resp));
	if (!jwk && c->kid == NULL)
		return acme_fail(e, ACME_EINVAL,
		                 "%s: no account URL (register the account or set its URL)", what);
	for (uint32_t attempt = 0;; attempt++) {
		if ((ret = nonce_take(c, &nonce, e)) != 0)
			break;
		ret = acme_acct_sign(c->acct, url, nonce, jwk ? NULL : c->kid, payload, &jws);
		free(nonce);
		nonce = NULL;
		if (ret != 0) {
			acme_fail(e, ret, "%s: signing failed: %s", what, acme_strerror(ret));
			break;
		}
		ret = acme_http_post_jose(c->http, url, jws, accept, resp);
		free(jws);
		jws = NULL;
		c->stats.requests++;
		c->stats.signed_posts++;
		if (ret != 0) {
			acme_note_request(c, what, ret, NULL, NULL);
			acme_transport_failed(c, ret, e);
			break;
		}
		nonce_keep(c, &resp->nonce);
		acme_log(c, ACME_LOG_DEBUG, "acme: %s: POST %s -> %ld", what, url, resp->status);
		if (resp->status < 400)
			acme_note_request(c, what, 0, resp, NULL);
		if (resp->status >= 400) {
			ret = acme_reply_refused(c, what, url, resp, e);
			acme_note_request(c, what, 0, resp, e);
			if (ret == ACME_EACME && e->has_problem &&
			    e->problem.kind == ACME_PT_BAD_NONCE && attempt < c->max_bad_nonce) {
				c->stats.bad_nonce_retries++;
				acme_log(c, ACME_LOG_INFO, "acme: %s: badNonce from %s, retry %u/%u with "
				         "a fresh nonce", what, url, attempt + 1, c->max_bad_nonce);
				acme_resp_clear(resp);
				acme_err_reset(e);
				continue;
			}
			break;
		}
		if (resp->status < 200 || resp->status > 299) {
			ret = acme_fail(e, ACME_EPROTO, "%s: POST %s: unexpected HTTP %ld", what, url,
			                resp->status);
			break;
		}
		return 0;
	}
	acme_resp_clear(resp);
	return ret;
}
