/*
 * reader.c - the strict reader of the CA's JSON (acme/client_int.h): one
 * object per reply, every member taken type-checked, status values
 * limited to those the kind of object may have.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/client_int.h"
#include "acme/http.h"

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

bool acme_media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

bool acme_url_ok(const char *s)
{
	size_t n = strlen(s);

	if (n <= 8 || n > ACME_URL_MAX || strncasecmp(s, "https://", 8) != 0)
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int acme_load_object(const struct acme_resp *r, const char *what, json_t **out,
                     struct acme_error *e)
{
	json_error_t jerr;
	json_t *j;

	*out = NULL;
	if (!acme_media_is(r->content_type, "application/json"))
		return acme_fail(e, ACME_EPROTO, "%s: reply is not application/json (Content-Type %s)",
		                 what, r->content_type ? r->content_type : "missing");
	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return acme_fail(e, ACME_EPROTO, "%s: reply is not JSON: %s (line %d)", what,
		                 jerr.text, jerr.line);
	if (!json_is_object(j)) {
		json_decref(j);
		return acme_fail(e, ACME_EPROTO, "%s: reply is not a JSON object", what);
	}
	*out = j;
	return 0;
}

int acme_field_str(json_t *o, const char *key, bool required, const char **out,
                   const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" missing", what, key);
		return 0;
	}
	if (!json_is_string(v))
		return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" is not a string", what, key);
	if (json_string_length(v) > ACME_FIELD_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" is too long or holds NUL", what,
		                 key);
	*out = json_string_value(v);
	return 0;
}

int acme_value_url(json_t *v, const char **out, const char *what, const char *key,
                   struct acme_error *e)
{
	if (!json_is_string(v))
		return acme_fail(e, ACME_EPROTO, "%s: %s is not a string", what, key);
	if (json_string_length(v) > ACME_URL_MAX || !acme_url_ok(json_string_value(v)))
		return acme_fail(e, ACME_EPROTO, "%s: %s is not an https URL", what, key);
	*out = json_string_value(v);
	return 0;
}

int acme_field_url(json_t *o, const char *key, bool required, const char **out,
                   const char *what, struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL) {
		if (required)
			return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" missing", what, key);
		return 0;
	}
	return acme_value_url(v, out, what, key, e);
}

int acme_field_bool(json_t *o, const char *key, bool *out, const char *what,
                    struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = false;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" is not a boolean", what, key);
	*out = json_is_true(v);
	return 0;
}

int acme_field_status(json_t *o, unsigned allowed, enum acme_status *out, const char *what,
                      struct acme_error *e)
{
	const char *s;
	int ret = acme_field_str(o, "status", true, &s, what, e);

	if (ret != 0)
		return ret;
	for (int i = 0; i < ACME_ST__MAX; i++) {
		if (strcmp(s, status_names[i]) == 0 && (allowed & ACME_ST(i))) {
			*out = (enum acme_status)i;
			return 0;
		}
	}
	return acme_fail(e, ACME_EPROTO, "%s: status \"%.64s\" is not one this object can have",
	                 what, s);
}

int acme_field_obj(json_t *o, const char *key, json_t **out, const char *what,
                   struct acme_error *e)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return acme_fail(e, ACME_EPROTO, "%s: field \"%s\" is not an object", what, key);
	*out = v;
	return 0;
}

int acme_dup_into(char **dst, const char *src, struct acme_error *e)
{
	*dst = NULL;
	if (src == NULL)
		return 0;
	*dst = strdup(src);
	if (*dst == NULL)
		return acme_fail(e, ACME_ENOMEM, "out of memory");
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

void acme_reply_of(const char *json, size_t len, const char *location, struct acme_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->body = (char *)json;                    /* only read */
	r->body_len = len;
	r->location = (char *)location;            /* only read */
	r->content_type = (char *)"application/json";
}
