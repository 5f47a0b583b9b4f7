/*
 * state.c - the state object: names, JSON out and in, the row reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/rz_err.h"
#include "daemon/state.h"

static const char *const desired_names[RZ_DESIRED__MAX] = {
	[RZ_DESIRED_ENABLED] = "enabled", [RZ_DESIRED_DISABLED] = "disabled",
};
static const char *const dns_names[RZ_DNS__MAX] = {
	[RZ_DNS_PENDING] = "pending", [RZ_DNS_PUBLISHED] = "published",
	[RZ_DNS_CONFLICT] = "conflict", [RZ_DNS_REMOVING] = "removing",
	[RZ_DNS_REMOVED] = "removed", [RZ_DNS_ERROR] = "error",
};
static const char *const cert_names[RZ_CERT__MAX] = {
	[RZ_CERT_NONE] = "none", [RZ_CERT_ORDERING] = "ordering", [RZ_CERT_ISSUED] = "issued",
	[RZ_CERT_RENEWING] = "renewing", [RZ_CERT_FAILED] = "failed",
};

static int from_name(const char *const *names, int n, const char *s, int *out)
{
	for (int i = 0; s != NULL && i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

const char *rz_desired_name(enum rz_desired v)
{
	return (unsigned)v < RZ_DESIRED__MAX ? desired_names[v] : NULL;
}

const char *rz_dns_name(enum rz_dns v)
{
	return (unsigned)v < RZ_DNS__MAX ? dns_names[v] : NULL;
}

const char *rz_cert_name(enum rz_cert v)
{
	return (unsigned)v < RZ_CERT__MAX ? cert_names[v] : NULL;
}

int rz_desired_from_name(const char *s, enum rz_desired *out)
{
	int v, ret = from_name(desired_names, RZ_DESIRED__MAX, s, &v);

	if (ret == 0)
		*out = (enum rz_desired)v;
	return ret;
}

int rz_dns_from_name(const char *s, enum rz_dns *out)
{
	int v, ret = from_name(dns_names, RZ_DNS__MAX, s, &v);

	if (ret == 0)
		*out = (enum rz_dns)v;
	return ret;
}

int rz_cert_from_name(const char *s, enum rz_cert *out)
{
	int v, ret = from_name(cert_names, RZ_CERT__MAX, s, &v);

	if (ret == 0)
		*out = (enum rz_cert)v;
	return ret;
}

void rz_state_absent(const char *domain, const char *service, struct rz_state *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->domain, sizeof(s->domain), "%s", domain);
	snprintf(s->service, sizeof(s->service), "%s", service);
	s->desired = RZ_DESIRED_DISABLED;
	s->dns = RZ_DNS_REMOVED;
	s->cert = RZ_CERT_NONE;
}

/* ---- out ------------------------------------------------------------ */

json_t *rz_json_text(const char *s, size_t max, bool empty_null)
{
	size_t n = s != NULL ? strnlen(s, max) : 0;
	json_t *v = NULL;
	char *copy = NULL;

	if (n == 0 && empty_null)
		return json_null();
	if ((v = json_stringn(s != NULL ? s : "", n)) != NULL)
		return v;
	/* not valid UTF-8: printable ASCII instead */
	if ((copy = strndup(s, n)) == NULL)
		return NULL;
	for (char *p = copy; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	v = json_stringn(copy, n);
	free(copy);
	return v;
}

#define STR(o, k, field, empty_null) \
	json_object_set_new((o), (k), rz_json_text((field), sizeof(field), (empty_null)))

json_t *rz_state_json(const struct rz_state *s)
{
	json_t *o = NULL, *cert = NULL;
	int fails = 0;

	if (s == NULL || rz_desired_name(s->desired) == NULL || rz_dns_name(s->dns) == NULL ||
	    rz_cert_name(s->cert) == NULL)
		return NULL;
	o = json_object();
	cert = json_object();
	fails |= json_object_set_new(cert, "state", json_string(rz_cert_name(s->cert)));
	fails |= STR(cert, "not_after", s->not_after, true);
	fails |= STR(cert, "serial", s->serial, true);
	fails |= STR(o, "domain", s->domain, false);
	fails |= STR(o, "service", s->service, false);
	fails |= json_object_set_new(o, "desired", json_string(rz_desired_name(s->desired)));
	fails |= json_object_set_new(o, "dns", json_string(rz_dns_name(s->dns)));
	fails |= json_object_set_new(o, "certificate", cert);
	fails |= json_object_set_new(o, "active", json_boolean(s->active));
	fails |= STR(o, "last_error", s->last_error, true);
	fails |= STR(o, "updated_at", s->updated_at, true);
	if (s->primary[0] != '\0')   /* only when known: older readers pin the members */
		fails |= STR(o, "primary", s->primary, false);
	if (o == NULL || fails != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- in ------------------------------------------------------------- */

int rz_json_take_str(const json_t *o, const char *key, bool nullable, bool cut, char *buf,
                     size_t len, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	const char *s;

	buf[0] = '\0';
	if (v == NULL) {
		snprintf(err, errlen, "\"%s\" is missing", key);
		return RZ_EINVAL;
	}
	if (json_is_null(v) && nullable)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "\"%s\" must be a string%s", key, nullable ? " or null" : "");
		return RZ_EINVAL;
	}
	s = json_string_value(v);
	if (strlen(s) >= len && !cut) {
		snprintf(err, errlen, "\"%s\" is too long", key);
		return RZ_EINVAL;
	}
	snprintf(buf, len, "%s", s);
	return 0;
}

/* A state word of o: its name looked up with from(). */
static int take_word(const json_t *o, const char *key, int (*from)(const char *, int *),
                     int *out, char *err, size_t errlen)
{
	char buf[32];

	if (rz_json_take_str(o, key, false, false, buf, sizeof(buf), err, errlen) != 0)
		return RZ_EINVAL;
	if (from(buf, out) != 0) {
		snprintf(err, errlen, "\"%s\" has an unknown value", key);
		return RZ_EINVAL;
	}
	return 0;
}

static int desired_i(const char *s, int *v)
{
	return from_name(desired_names, RZ_DESIRED__MAX, s, v);
}

static int dns_i(const char *s, int *v)
{
	return from_name(dns_names, RZ_DNS__MAX, s, v);
}

static int cert_i(const char *s, int *v)
{
	return from_name(cert_names, RZ_CERT__MAX, s, v);
}

int rz_state_from_json(const json_t *o, struct rz_state *s, char *err, size_t errlen)
{
	const json_t *cert, *active;
	char norm[ZG_OWNER_SIZE], e[256];
	int desired, dns, cst;

	memset(s, 0, sizeof(*s));
	if (!json_is_object(o)) {
		snprintf(err, errlen, "state must be an object");
		return RZ_EINVAL;
	}
	cert = json_object_get(o, "certificate");
	active = json_object_get(o, "active");
	if (rz_json_take_str(o, "domain", false, false, s->domain, sizeof(s->domain), err, errlen) ||
	    rz_json_take_str(o, "service", false, false, s->service, sizeof(s->service), err, errlen) ||
	    take_word(o, "desired", desired_i, &desired, err, errlen) ||
	    take_word(o, "dns", dns_i, &dns, err, errlen) ||
	    rz_json_take_str(o, "last_error", true, true, s->last_error, sizeof(s->last_error), err,
	             errlen) ||
	    rz_json_take_str(o, "updated_at", true, false, s->updated_at, sizeof(s->updated_at), err,
	             errlen))
		return RZ_EINVAL;
	/* optional: regzoned before knot.primaries did not send it */
	if (json_object_get(o, "primary") != NULL &&
	    rz_json_take_str(o, "primary", true, false, s->primary, sizeof(s->primary), err,
	                     errlen) != 0)
		return RZ_EINVAL;
	if (zg_dname_check(s->domain, norm, sizeof(norm), e, sizeof(e)) != 0 ||
	    strcmp(norm, s->domain) != 0) {
		snprintf(err, errlen, "\"domain\" is not a domain in normal form");
		return RZ_EINVAL;
	}
	if (!json_is_object(cert)) {
		snprintf(err, errlen, "\"certificate\" must be an object");
		return RZ_EINVAL;
	}
	if (take_word(cert, "state", cert_i, &cst, err, errlen) ||
	    rz_json_take_str(cert, "not_after", true, false, s->not_after, sizeof(s->not_after), err,
	             errlen) ||
	    rz_json_take_str(cert, "serial", true, false, s->serial, sizeof(s->serial), err, errlen))
		return RZ_EINVAL;
	if (!json_is_boolean(active)) {
		snprintf(err, errlen, "\"active\" must be a boolean");
		return RZ_EINVAL;
	}
	s->desired = (enum rz_desired)desired;
	s->dns = (enum rz_dns)dns;
	s->cert = (enum rz_cert)cst;
	s->active = json_is_true(active);
	return 0;
}

/* ---- the row -------------------------------------------------------- */

int rz_state_from_row(const PGresult *r, int row, int col, struct rz_state *s)
{
	memset(s, 0, sizeof(*s));
	if (PQnfields(r) < col + RZ_STATE_NCOLS || row >= PQntuples(r))
		return RZ_EDB;
	snprintf(s->domain, sizeof(s->domain), "%s", PQgetvalue(r, row, col + 0));
	snprintf(s->service, sizeof(s->service), "%s", PQgetvalue(r, row, col + 1));
	if (rz_desired_from_name(PQgetvalue(r, row, col + 2), &s->desired) != 0 ||
	    rz_dns_from_name(PQgetvalue(r, row, col + 3), &s->dns) != 0 ||
	    rz_cert_from_name(PQgetvalue(r, row, col + 4), &s->cert) != 0)
		return RZ_EDB;
	snprintf(s->not_after, sizeof(s->not_after), "%s", PQgetvalue(r, row, col + 5));
	snprintf(s->serial, sizeof(s->serial), "%s", PQgetvalue(r, row, col + 6));
	s->active = strcmp(PQgetvalue(r, row, col + 7), "t") == 0;
	snprintf(s->last_error, sizeof(s->last_error), "%s", PQgetvalue(r, row, col + 8));
	snprintf(s->updated_at, sizeof(s->updated_at), "%s", PQgetvalue(r, row, col + 9));
	snprintf(s->primary, sizeof(s->primary), "%s", PQgetvalue(r, row, col + 10));
	return 0;
}
