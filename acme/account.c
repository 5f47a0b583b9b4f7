/*
 * account.c - newAccount (RFC 8555 section 7.3): contacts, terms of
 * service, the external account binding (section 7.3.4, signed by
 * acme/acct.c) and the strict reading of the account object.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "acme/acct.h"
#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/client_int.h"
#include "acme/http.h"
#include "acme/parse.h"

#define ACCT_STATES (ACME_ST(ACME_ST_VALID) | ACME_ST(ACME_ST_DEACTIVATED) | \
                     ACME_ST(ACME_ST_REVOKED))
#define CONTACT_MAX 320

/* The account object of a newAccount reply (status checked); sets c's
 * account URL from Location. */
static int account_reply(struct acme_client *c, const struct acme_resp *r, const char *what,
                         struct acme_error *e)
{
	enum acme_status st = ACME_ST_PENDING;
	json_t *j = NULL, *contact;
	const char *orders;
	size_t i;
	json_t *v;
	int ret;

	if (r->location == NULL || !acme_url_ok(r->location)) {
		ret = acme_fail(e, ACME_EPROTO, "%s: no https Location (account URL) in the reply",
		                what);
		goto out;
	}
	if ((ret = acme_load_object(r, what, &j, e)) != 0 ||
	    (ret = acme_field_status(j, ACCT_STATES, &st, what, e)) != 0 ||
	    (ret = acme_field_url(j, "orders", false, &orders, what, e)) != 0)
		goto out;
	contact = json_object_get(j, "contact");
	if (contact != NULL && !json_is_array(contact)) {
		ret = acme_fail(e, ACME_EPROTO, "%s: \"contact\" is not an array", what);
		goto out;
	}
	json_array_foreach(contact, i, v) {
		if (!json_is_string(v)) {
			ret = acme_fail(e, ACME_EPROTO, "%s: a contact is not a string", what);
			goto out;
		}
	}
	if (st != ACME_ST_VALID) {
		ret = acme_fail(e, ACME_EACME, "%s: account %s is %s", what, r->location,
		                acme_status_name(st));
		goto out;
	}
	ret = acme_client_set_account_url(c, r->location);
	if (ret != 0)
		acme_fail(e, ret, "out of memory");
out:
	json_decref(j);
	return ret;
}

/* A "mailto:" URL of one address. */
static bool contact_ok(const char *s)
{
	if (s == NULL || strncmp(s, "mailto:", 7) != 0 || s[7] == '\0' || strlen(s) > CONTACT_MAX)
		return false;
	for (s += 7; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == ',' || *s == '?')
			return false;
	return true;
}

/* The newAccount payload of req, as compact JSON in *body (free() it). */
static int account_payload(struct acme_client *c, const struct acme_account_req *req,
                           const char *what, char **body, struct acme_error *e)
{
	json_t *payload = NULL, *contacts = NULL, *eab = NULL;
	int ret;

	*body = NULL;
	payload = json_object();
	contacts = json_array();
	if (payload == NULL || contacts == NULL) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < req->n_contact; i++) {
		if (!contact_ok(req->contact[i])) {
			ret = acme_fail(e, ACME_EINVAL, "%s: contact \"%s\" is not a mailto: URL of one "
			                "address", what, req->contact[i] ? req->contact[i] : "(null)");
			goto out;
		}
		if (json_array_append_new(contacts, json_string(req->contact[i])) != 0) {
			ret = acme_fail(e, ACME_ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((req->terms_agreed && json_object_set_new(payload, "termsOfServiceAgreed",
	                                              json_true()) != 0) ||
	    (req->n_contact > 0 && json_object_set(payload, "contact", contacts) != 0)) {
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
		goto out;
	}
	if (req->eab_kid != NULL) {
		ret = acme_acct_eab(c->acct, req->eab_kid, req->eab_hmac_key, c->dir.new_account, &eab);
		if (ret != 0) {
			acme_fail(e, ret, "%s: external account binding: %s (is the HMAC key base64url?)",
			          what, acme_strerror(ret));
			goto out;
		}
		if (json_object_set(payload, "externalAccountBinding", eab) != 0) {
			ret = acme_fail(e, ACME_ENOMEM, "out of memory");
			goto out;
		}
	}
	*body = json_dumps(payload, JSON_COMPACT);
	ret = *body != NULL ? 0 : acme_fail(e, ACME_ENOMEM, "out of memory");
out:
	json_decref(eab);
	json_decref(contacts);
	json_decref(payload);
	return ret;
}

int acme_account_register(struct acme_client *c, const struct acme_account_req *req,
                          struct acme_error *e)
{
	static const char what[] = "newAccount";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	acme_err_reset(e);
	if (req == NULL || (req->n_contact > 0 && req->contact == NULL) ||
	    (req->eab_kid != NULL) != (req->eab_hmac_key != NULL)) {
		ret = acme_fail(e, ACME_EINVAL, "%s: bad request", what);
		goto out;
	}
	if ((ret = acme_need_directory(c, e)) != 0)
		goto out;
	if (c->dir.eab_required && req->eab_kid == NULL) {
		ret = acme_fail(e, ACME_ECONFIG, "%s: the CA requires an external account binding "
		                "(eab kid and hmac key) and none is configured", what);
		goto out;
	}
	if ((ret = account_payload(c, req, what, &body, e)) != 0 ||
	    (ret = acme_post(c, c->dir.new_account, body, true, NULL, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 200, 201, what, c->dir.new_account, e)) != 0 ||
	    (ret = account_reply(c, &r, what, e)) != 0)
		goto out;
	acme_log(c, ACME_LOG_DEBUG, "acme: account %s (%s)", c->kid,
	         r.status == 201 ? "new" : "existing");
out:
	acme_resp_clear(&r);
	free(body);
	return ret;
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
	acme_err_reset(e);
	if (account_url != NULL)
		*account_url = NULL;
	if (json == NULL || account_url == NULL)
		return acme_fail(e, ACME_EINVAL, "newAccount: bad arguments");
	memset(&c, 0, sizeof(c));   /* account_reply() only sets c.kid */
	acme_reply_of(json, len, location, &r);
	ret = account_reply(&c, &r, "newAccount", e);
	if (ret == 0) {
		*account_url = c.kid;
		c.kid = NULL;
	}
	free(c.kid);
	return ret;
}
