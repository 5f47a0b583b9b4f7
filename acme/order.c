/*
 * order.c - orders (newOrder, POST-as-GET, polling, finalize),
 * authorizations and their dns-01 challenges (RFC 8555 sections 7.1.3 to
 * 7.1.6, 7.4, 7.5), and the acme/parse.h readers of those objects.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "acme/acct.h"
#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/client_int.h"
#include "acme/csr.h"
#include "acme/http.h"
#include "acme/parse.h"
#include "acme/problem.h"

#define MAX_AUTHZ ACME_CSR_MAX_NAMES
#define MAX_CHALLENGES 16

#define ORDER_STATES (ACME_ST(ACME_ST_PENDING) | ACME_ST(ACME_ST_READY) | \
                      ACME_ST(ACME_ST_PROCESSING) | ACME_ST(ACME_ST_VALID) | \
                      ACME_ST(ACME_ST_INVALID))
#define AUTHZ_STATES (ACME_ST(ACME_ST_PENDING) | ACME_ST(ACME_ST_VALID) | \
                      ACME_ST(ACME_ST_INVALID) | ACME_ST(ACME_ST_DEACTIVATED) | \
                      ACME_ST(ACME_ST_EXPIRED) | ACME_ST(ACME_ST_REVOKED))
#define CHALL_STATES (ACME_ST(ACME_ST_PENDING) | ACME_ST(ACME_ST_PROCESSING) | \
                      ACME_ST(ACME_ST_VALID) | ACME_ST(ACME_ST_INVALID))

/* ------------------------------------------------------------ problems */

/* The "error" member of an order, authorization or challenge into p
 * (p->type stays "" when there is none; nothing when p is NULL). */
static int embedded_problem(json_t *err, struct acme_problem *p, const char *what,
                            struct acme_error *e)
{
	int pr;

	if (err == NULL || p == NULL)
		return 0;
	pr = acme_problem_from_json(err, 0, p);
	if (pr != 0)
		return acme_fail(e, ACME_EPROTO, "%s: malformed \"error\" member (%s)", what,
		                 acme_strerror(pr));
	return 0;
}

/* An invalid order/authorization/challenge: its error (if any) into e;
 * returns ACME_EACME. */
static int refused_by(struct acme_error *e, const struct acme_problem *p, const char *what,
                      const char *url, const char *status)
{
	char text[ACME_PROBLEM_TEXT_MAX];

	if (p != NULL && p->type[0] != '\0') {
		e->problem = *p;
		e->has_problem = true;
		acme_problem_text(p, text, sizeof(text));
		return acme_fail(e, ACME_EACME, "%s %s is %s: %s", what, url, status, text);
	}
	return acme_fail(e, ACME_EACME, "%s %s is %s", what, url, status);
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

/* The identifiers and authorization URLs of an order object into out. */
static int order_lists(json_t *j, struct acme_order *out, const char *what,
                       struct acme_error *e)
{
	json_t *ids = json_object_get(j, "identifiers");
	json_t *authz = json_object_get(j, "authorizations");
	json_t *v;
	size_t i;
	int ret;

	if (!json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > ACME_CSR_MAX_NAMES)
		return acme_fail(e, ACME_EPROTO, "%s: \"identifiers\" is not an array of 1 to %d",
		                 what, ACME_CSR_MAX_NAMES);
	if (!json_is_array(authz) || json_array_size(authz) > MAX_AUTHZ)
		return acme_fail(e, ACME_EPROTO, "%s: \"authorizations\" is not an array of at most "
		                 "%d", what, MAX_AUTHZ);
	out->identifiers = calloc(json_array_size(ids), sizeof(char *));
	out->authorizations = calloc(json_array_size(authz) + 1, sizeof(char *));
	if (out->identifiers == NULL || out->authorizations == NULL)
		return acme_fail(e, ACME_ENOMEM, "out of memory");
	json_array_foreach(ids, i, v) {
		const char *type, *value;

		if (!json_is_object(v))
			return acme_fail(e, ACME_EPROTO, "%s: an identifier is not an object", what);
		if ((ret = acme_field_str(v, "type", true, &type, what, e)) != 0 ||
		    (ret = acme_field_str(v, "value", true, &value, what, e)) != 0)
			return ret;
		if (strcmp(type, "dns") != 0)
			return acme_fail(e, ACME_EPROTO, "%s: identifier type \"%.32s\" (only dns is "
			                 "asked for)", what, type);
		if ((ret = acme_dup_into(&out->identifiers[out->n_identifiers], value, e)) != 0)
			return ret;
		out->n_identifiers++;
	}
	json_array_foreach(authz, i, v) {
		const char *u = NULL;

		if ((ret = acme_value_url(v, &u, what, "an authorization", e)) != 0 ||
		    (ret = acme_dup_into(&out->authorizations[out->n_authorizations], u, e)) != 0)
			return ret;
		out->n_authorizations++;
	}
	return 0;
}

/* An order object into out (url not touched); its "error" into perr.
 * The caller clears out on error. */
static int parse_order(json_t *j, struct acme_order *out, struct acme_problem *perr,
                       const char *what, struct acme_error *e)
{
	const char *expires, *finalize, *cert, *s;
	json_t *err;
	int ret;

	if ((ret = acme_field_status(j, ORDER_STATES, &out->status, what, e)) != 0 ||
	    (ret = acme_field_str(j, "expires", false, &expires, what, e)) != 0 ||
	    (ret = acme_field_str(j, "notBefore", false, &s, what, e)) != 0 ||
	    (ret = acme_field_str(j, "notAfter", false, &s, what, e)) != 0 ||
	    (ret = acme_field_url(j, "finalize", true, &finalize, what, e)) != 0 ||
	    (ret = acme_field_url(j, "certificate", false, &cert, what, e)) != 0 ||
	    (ret = acme_field_obj(j, "error", &err, what, e)) != 0)
		return ret;
	if (out->status == ACME_ST_VALID && cert == NULL)
		return acme_fail(e, ACME_EPROTO, "%s: a valid order without a certificate URL", what);
	if ((ret = order_lists(j, out, what, e)) != 0 ||
	    (ret = acme_dup_into(&out->expires, expires, e)) != 0 ||
	    (ret = acme_dup_into(&out->finalize, finalize, e)) != 0 ||
	    (ret = acme_dup_into(&out->certificate, cert, e)) != 0)
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

/* The newOrder payload for names[0..n) (checked) and replaces (may be
 * NULL), as compact JSON in *body (free() it). */
static int order_payload(const char *const *names, size_t n, const char *replaces,
                         const char *what, char **body, struct acme_error *e)
{
	json_t *payload = NULL, *ids = NULL;
	int ret = 0;

	*body = NULL;
	ids = json_array();
	if (ids == NULL) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (acme_dns_name_check(names[i]) != 0) {
			ret = acme_fail(e, ACME_EDNAME, "%s: invalid name \"%s\"", what,
			                names[i] ? names[i] : "(null)");
			goto out;
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(names[i], names[k]) == 0) {
				ret = acme_fail(e, ACME_EINVAL, "%s: name \"%s\" given twice", what,
				                names[i]);
				goto out;
			}
		}
		if (json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "dns", "value",
		                                         names[i])) != 0) {
			ret = acme_fail(e, ACME_ENOMEM, "out of memory");
			goto out;
		}
	}
	payload = json_pack("{s:O}", "identifiers", ids);
	if (payload != NULL && replaces != NULL &&
	    json_object_set_new(payload, "replaces", json_string(replaces)) != 0) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	*body = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (*body == NULL)
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
out:
	json_decref(payload);
	json_decref(ids);
	return ret;
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
	json_t *j = NULL;
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	acme_err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || names == NULL || n == 0 || n > ACME_CSR_MAX_NAMES) {
		ret = acme_fail(e, ACME_EINVAL, "%s: 1 to %d names", what, ACME_CSR_MAX_NAMES);
		goto out;
	}
	if ((ret = order_payload(names, n, replaces, what, &body, e)) != 0 ||
	    (ret = acme_need_directory(c, e)) != 0 ||
	    (ret = acme_post(c, c->dir.new_order, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 201, 200, what, c->dir.new_order, e)) != 0)
		goto out;
	if (r.location == NULL || !acme_url_ok(r.location)) {
		ret = acme_fail(e, ACME_EPROTO, "%s: no https Location (order URL) in the reply", what);
		goto out;
	}
	if ((ret = acme_load_object(&r, what, &j, e)) != 0 ||
	    (ret = parse_order(j, out, NULL, what, e)) != 0 ||
	    (ret = acme_dup_into(&out->url, r.location, e)) != 0)
		goto out;
	if (!same_names(out, names, n)) {
		ret = acme_fail(e, ACME_EPROTO, "%s: the order's identifiers are not the names asked "
		                "for", what);
		goto out;
	}
	acme_retry_from(c, &r, &out->retry_after_s, &out->retry_after_given);
out:
	if (ret != 0)
		acme_order_clear(out);
	acme_resp_clear(&r);
	json_decref(j);
	free(body);
	return ret;
}

/* POST-as-GET of an https URL whose reply must be a 200 JSON object. */
static int fetch_object(struct acme_client *c, const char *url, const char *what,
                        struct acme_resp *r, json_t **j, struct acme_error *e)
{
	int ret;

	if (url == NULL || !acme_url_ok(url))
		return acme_fail(e, ACME_EINVAL, "%s: not an https URL", what);
	if ((ret = acme_post(c, url, "", false, NULL, what, r, e)) != 0 ||
	    (ret = acme_expect_status(r, 200, 200, what, url, e)) != 0)
		return ret;
	return acme_load_object(r, what, j, e);
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
	    (ret = acme_dup_into(out_url, url, e)) == 0)
		acme_retry_from(c, &r, retry_s, retry_given);
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

	acme_err_reset(e);
	if (out == NULL)
		return acme_fail(e, ACME_EINVAL, "order: no place for the result");
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
		return acme_fail(e, ACME_EAGAIN, "order %s is %s: ask again in %u s", o->url,
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
		acme_err_reset(e);
		return acme_fail(e, ACME_ENOMEM, "out of memory");
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
	acme_err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (out == NULL || csr == NULL || csr->b64url == NULL || order_url == NULL ||
	    !acme_url_ok(order_url) || finalize_url == NULL || !acme_url_ok(finalize_url)) {
		ret = acme_fail(e, ACME_EINVAL, "%s: bad arguments", what);
		goto out;
	}
	perr = calloc(1, sizeof(*perr));
	payload = json_pack("{s:s}", "csr", csr->b64url);
	body = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	if (perr == NULL || body == NULL) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = acme_post(c, finalize_url, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 200, 200, what, finalize_url, e)) != 0 ||
	    (ret = acme_load_object(&r, what, &j, e)) != 0 ||
	    (ret = parse_order(j, out, perr, what, e)) != 0 ||
	    (ret = acme_dup_into(&out->url, order_url, e)) != 0)
		goto out;
	acme_retry_from(c, &r, &out->retry_after_s, &out->retry_after_given);
	if (out->status == ACME_ST_INVALID)
		ret = refused_by(e, perr, "order", order_url, "invalid");
out:
	if (ret != 0 && ret != ACME_EACME && out != NULL)
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
		return acme_fail(e, ACME_EPROTO, "%s: a challenge is not an object", what);
	if ((ret = acme_field_str(v, "type", true, type, what, e)) != 0 ||
	    (ret = acme_field_url(v, "url", true, url, what, e)) != 0 ||
	    (ret = acme_field_status(v, CHALL_STATES, st, what, e)) != 0 ||
	    (ret = acme_field_str(v, "token", false, token, what, e)) != 0 ||
	    (ret = acme_field_str(v, "validated", false, &s, what, e)) != 0 ||
	    (ret = acme_field_obj(v, "error", &err, what, e)) != 0)
		return ret;
	if (strcmp(*type, "dns-01") == 0 && acme_token_check(*token) != 0)
		return acme_fail(e, ACME_EPROTO, "%s: the dns-01 challenge has no usable token "
		                 "(1 to %d base64url characters)", what, ACME_TOKEN_MAX);
	return embedded_problem(err, perr, what, e);
}

/* The challenges of an authorization object: the first dns-01 one into
 * out->dns01 (its "error" into perr). */
static int authz_challenges(json_t *j, struct acme_authz *out, struct acme_problem *perr,
                            const char *what, struct acme_error *e)
{
	json_t *chs = json_object_get(j, "challenges"), *v;
	size_t i;
	int ret;

	if (!json_is_array(chs) || json_array_size(chs) > MAX_CHALLENGES)
		return acme_fail(e, ACME_EPROTO, "%s: \"challenges\" is not an array of at most %d",
		                 what, MAX_CHALLENGES);
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
		    (ret = acme_dup_into(&out->dns01.url, chall_url, e)) != 0 ||
		    (ret = acme_dup_into(&out->dns01.token, token, e)) != 0)
			return ret;
		out->dns01.status = st;
		out->has_dns01 = true;
	}
	return 0;
}

/* An authorization object into out (url not touched).  The caller clears
 * out on error. */
static int parse_authz(json_t *j, struct acme_authz *out, struct acme_problem *perr,
                       const char *what, struct acme_error *e)
{
	const char *expires, *type, *value;
	json_t *id;
	int ret;

	if ((ret = acme_field_status(j, AUTHZ_STATES, &out->status, what, e)) != 0 ||
	    (ret = acme_field_str(j, "expires", false, &expires, what, e)) != 0 ||
	    (ret = acme_field_bool(j, "wildcard", &out->wildcard, what, e)) != 0 ||
	    (ret = acme_field_obj(j, "identifier", &id, what, e)) != 0)
		return ret;
	if (id == NULL)
		return acme_fail(e, ACME_EPROTO, "%s: field \"identifier\" missing", what);
	if ((ret = acme_field_str(id, "type", true, &type, what, e)) != 0 ||
	    (ret = acme_field_str(id, "value", true, &value, what, e)) != 0)
		return ret;
	if (strcmp(type, "dns") != 0 || acme_dns_name_check(value) != 0 ||
	    strncmp(value, "*.", 2) == 0)
		return acme_fail(e, ACME_EPROTO, "%s: identifier is not a dns name", what);
	if ((ret = authz_challenges(j, out, perr, what, e)) != 0 ||
	    (ret = acme_dup_into(&out->identifier, value, e)) != 0 ||
	    (ret = acme_dup_into(&out->expires, expires, e)) != 0)
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

	acme_err_reset(e);
	if (out == NULL)
		return acme_fail(e, ACME_EINVAL, "authorization: no place for the result");
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
		acme_err_reset(e);
		return acme_fail(e, ACME_ENOMEM, "out of memory");
	}
	ret = authz_fetch(c, url, out, perr, e);
	if (ret == 0) {
		switch (out->status) {
		case ACME_ST_VALID:
			break;
		case ACME_ST_PENDING:
			e->retry_after_s = out->retry_after_s;
			e->retry_after_given = out->retry_after_given;
			ret = acme_fail(e, ACME_EAGAIN, "authorization %s (%s) is pending: ask again in "
			                "%u s", url, out->identifier, out->retry_after_s);
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
	acme_err_reset(e);
	if (url == NULL || !acme_url_ok(url)) {
		ret = acme_fail(e, ACME_EINVAL, "%s: not an https URL", what);
		goto out;
	}
	perr = calloc(1, sizeof(*perr));
	if (perr == NULL) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	if ((ret = acme_post(c, url, "{}", false, NULL, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 200, 200, what, url, e)) != 0 ||
	    (ret = acme_load_object(&r, what, &j, e)) != 0 ||
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

/* ------------------------------------------- acme/parse.h: the readers alone */

int acme_parse_order(const char *json, size_t len, struct acme_order *out,
                     struct acme_problem *perr, struct acme_error *e)
{
	struct acme_error dummy;
	struct acme_resp r;
	json_t *j = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	acme_err_reset(e);
	if (json == NULL || out == NULL)
		return acme_fail(e, ACME_EINVAL, "order: bad arguments");
	memset(out, 0, sizeof(*out));
	acme_reply_of(json, len, NULL, &r);
	if ((ret = acme_load_object(&r, "order", &j, e)) == 0)
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
	acme_err_reset(e);
	if (json == NULL || out == NULL)
		return acme_fail(e, ACME_EINVAL, "authorization: bad arguments");
	memset(out, 0, sizeof(*out));
	acme_reply_of(json, len, NULL, &r);
	if ((ret = acme_load_object(&r, "authorization", &j, e)) == 0)
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
	acme_err_reset(e);
	if (json == NULL || status == NULL)
		return acme_fail(e, ACME_EINVAL, "challenge: bad arguments");
	acme_reply_of(json, len, NULL, &r);
	if ((ret = acme_load_object(&r, "challenge", &j, e)) == 0 &&
	    (ret = parse_challenge(j, &type, &url, &token, &st, perr, "challenge", e)) == 0)
		*status = st;
	json_decref(j);
	return ret;
}
