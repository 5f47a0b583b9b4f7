/*
 * profile.c - profile templates -> concrete records for one domain.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zonegen/caa.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define ZG_PARAM_NAME_LEN 32
/* An expanded value: the longest TXT text, and room to see it is longer. */
#define ZG_TEMPLATE_SIZE (ZG_TXT_MAX + 256)
/* The built-in "{acme_account_uri}" (zonegen.h), allowed in text only. */
#define ACCOUNT_URI "acme_account_uri"
#define ACCOUNT_URI_LEN (sizeof(ACCOUNT_URI) - 1)

static const char *const rtype_names[ZG_RR__MAX] = {
	[ZG_RR_A] = "A", [ZG_RR_AAAA] = "AAAA", [ZG_RR_CNAME] = "CNAME",
	[ZG_RR_SRV] = "SRV", [ZG_RR_TXT] = "TXT", [ZG_RR_MX] = "MX", [ZG_RR_CAA] = "CAA",
};

static const char *const ptype_names[ZG_P__MAX] = {
	[ZG_P_HOSTNAME] = "hostname", [ZG_P_IPV4] = "ipv4", [ZG_P_IPV6] = "ipv6",
	[ZG_P_TEXT] = "text",
};

/* Which string fields each type uses (the integers are always there). */
enum { F_TARGET = 1, F_ADDRESS = 2, F_TEXT = 4, F_TAG = 8 };
static const unsigned rtype_fields[ZG_RR__MAX] = {
	[ZG_RR_A] = F_ADDRESS, [ZG_RR_AAAA] = F_ADDRESS, [ZG_RR_CNAME] = F_TARGET,
	[ZG_RR_SRV] = F_TARGET, [ZG_RR_TXT] = F_TEXT, [ZG_RR_MX] = F_TARGET,
	[ZG_RR_CAA] = F_TEXT | F_TAG,
};

const char *zg_rtype_name(enum zg_rtype t)
{
	return (unsigned)t < ZG_RR__MAX ? rtype_names[t] : NULL;
}

int zg_rtype_from_name(const char *name, enum zg_rtype *out)
{
	for (unsigned i = 0; name != NULL && i < ZG_RR__MAX; i++) {
		if (strcasecmp(name, rtype_names[i]) == 0) {
			*out = (enum zg_rtype)i;
			return 0;
		}
	}
	return ZG_ENOENT;
}

const char *zg_ptype_name(enum zg_ptype t)
{
	return (unsigned)t < ZG_P__MAX ? ptype_names[t] : NULL;
}

int zg_ptype_from_name(const char *name, enum zg_ptype *out)
{
	for (unsigned i = 0; name != NULL && i < ZG_P__MAX; i++) {
		if (strcmp(name, ptype_names[i]) == 0) {
			*out = (enum zg_ptype)i;
			return 0;
		}
	}
	return ZG_ENOENT;
}

/* A text parameter's value or a CAA value, written between double quotes
 * as it is: printable ASCII without anything Knot's parser (or a human
 * reader) treats as syntax. */
static int text_chars_check(const char *s, const char *forbidden, char *err, size_t errlen)
{
	size_t len = strnlen(s, ZG_TEXT_LEN + 1);

	if (len > ZG_TEXT_LEN)
		return zg_fail(ZG_EINVAL, err, errlen, "text longer than %d characters", ZG_TEXT_LEN);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e)
			return zg_fail(ZG_EINVAL, err, errlen,
			             "text contains a control or non-ASCII byte 0x%02x", c);
		if (strchr(forbidden, c) != NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "text contains the character '%c'", c);
	}
	return 0;
}

static int text_check(const char *s, char *err, size_t errlen)
{
	return text_chars_check(s, "\"\\;()", err, errlen);
}

/*
 * A CAA value a profile writes: a text value, except that ';' and '=' are
 * allowed for the parameters of RFC 8657 ("ca; accounturi=...").  A
 * request's parameter never brings a ';' (zg_param_value_check()), so
 * only the profile's own text can add a parameter.  An issue or issuewild
 * value must also parse as one (zg_caa_issue_check()).
 */
static int caa_text_check(const struct zg_rtmpl *r, const char *s, char *err, size_t errlen)
{
	int ret = text_chars_check(s, "\"\\()", err, errlen);

	if (ret != 0)
		return ret;
	if (r->tag != NULL && (strcasecmp(r->tag, "issue") == 0 ||
	                       strcasecmp(r->tag, "issuewild") == 0))
		return zg_caa_issue_check(s, err, errlen);
	return 0;
}

/* The value of {acme_account_uri}: an RFC 8657 accounturi value (%x21-3A
 * / %x3C-7E: no space, no ';'), and nothing Knot's parser reads as
 * syntax. */
static int account_uri_check(const char *s, char *err, size_t errlen)
{
	size_t len = strnlen(s, ZG_TEXT_LEN + 1);

	if (len == 0 || len > ZG_TEXT_LEN - 64)
		return zg_fail(ZG_EINVAL, err, errlen, "the ACME account URL is empty or too long");
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f || strchr(";\"\\()", s[i]) != NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "the ACME account URL '%.64s' has a "
			             "character a CAA parameter cannot hold", s);
	return 0;
}

int zg_param_value_check(enum zg_ptype type, const char *val, char *err, size_t errlen)
{
	unsigned char buf[16];
	char tmp[ZG_OWNER_SIZE];

	if (val == NULL)
		return zg_fail(ZG_EINVAL, err, errlen, "missing value");
	switch (type) {
	case ZG_P_HOSTNAME:
		return zg_hostname_check(val, tmp, sizeof(tmp), err, errlen) == 0 ? 0 : ZG_EINVAL;
	case ZG_P_IPV4:
		if (inet_pton(AF_INET, val, buf) != 1)
			return zg_fail(ZG_EINVAL, err, errlen, "'%.64s' is not an IPv4 address", val);
		return 0;
	case ZG_P_IPV6:
		if (inet_pton(AF_INET6, val, buf) != 1)
			return zg_fail(ZG_EINVAL, err, errlen, "'%.64s' is not an IPv6 address", val);
		return 0;
	case ZG_P_TEXT:
		return text_check(val, err, errlen);
	default:
		return zg_fail(ZG_EINVAL, err, errlen, "unknown parameter kind");
	}
}

/* TXT text: whatever zg_txt_data() can render (it escapes and splits). */
static int txt_check(const char *s, char *err, size_t errlen)
{
	char tmp[ZG_DATA_SIZE];

	return zg_txt_data(s, tmp, sizeof(tmp), err, errlen);
}

/* Target "." (the root): "no such service" in SRV (RFC 2782), "no mail"
 * in MX (RFC 7505).  Only as a literal: a host-name parameter never is. */
static bool is_root(const char *target)
{
	return strcmp(target, ".") == 0;
}

/* A target of type t: a host name, for CNAME any name of LDH and '_'
 * labels (zg_alias_check()). */
static int target_check(enum zg_rtype t, const char *in, char *out, size_t outlen,
                        char *err, size_t errlen)
{
	if (t == ZG_RR_CNAME)
		return zg_alias_check(in, out, outlen, err, errlen);
	return zg_hostname_check(in, out, outlen, err, errlen);
}

/* A relative owner: "@" or dot-separated labels of letters, digits, '-' and
 * '_' (service labels), each 1..63. */
static int owner_check(const char *o, char *err, size_t errlen)
{
	size_t llen = 0, len;

	if (o == NULL || o[0] == '\0')
		return zg_fail(ZG_EINVAL, err, errlen, "empty owner");
	if (strcmp(o, "@") == 0)
		return 0;
	len = strnlen(o, ZG_DNAME_LEN + 1);
	if (len > ZG_DNAME_LEN - 4)
		return zg_fail(ZG_EINVAL, err, errlen, "owner '%.32s...' too long", o);
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)o[i] : '.';

		if (c == '.') {
			if (llen == 0)
				return zg_fail(ZG_EINVAL, err, errlen, "owner '%s' has an empty label", o);
			if (llen > 63)
				return zg_fail(ZG_EINVAL, err, errlen, "owner '%s' has a label over 63", o);
			llen = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return zg_fail(ZG_EINVAL, err, errlen,
			             "owner '%.64s' contains an invalid character", o);
		llen++;
	}
	if (strncasecmp(o, "_xmppconnect", 12) == 0 && (o[12] == '\0' || o[12] == '.'))
		return zg_fail(ZG_EINVAL, err, errlen, "'_xmppconnect' (XEP-0156 TXT) is never "
		             "published: it was removed from XMPP for security reasons");
	return 0;
}

static const struct zg_param *param_find(const struct zg_profile *p, const char *name, size_t len)
{
	for (size_t i = 0; i < p->n_params; i++)
		if (strlen(p->params[i].name) == len && strncmp(p->params[i].name, name, len) == 0)
			return &p->params[i];
	return NULL;
}

/* Check that every "{name}" in s is a declared parameter or "domain". */
static int refs_check(const struct zg_profile *p, const char *s, const char *field,
                      char *err, size_t errlen)
{
	bool text = strcmp(field, "text") == 0;

	for (const char *c = s; *c != '\0'; c++) {
		const char *end;

		if (*c == '}')
			return zg_fail(ZG_EINVAL, err, errlen, "'%s': unmatched '}'", field);
		if (*c != '{')
			continue;
		end = strchr(c + 1, '}');
		if (end == NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "'%s': unterminated '{'", field);
		if (((size_t)(end - c - 1) == 6 && strncmp(c + 1, "domain", 6) == 0) ||
		    ((size_t)(end - c - 1) == 9 && strncmp(c + 1, "params_id", 9) == 0)) {
			c = end;
			continue;
		}
		if ((size_t)(end - c - 1) == ACCOUNT_URI_LEN &&
		    strncmp(c + 1, ACCOUNT_URI, ACCOUNT_URI_LEN) == 0) {
			if (!text)
				return zg_fail(ZG_EINVAL, err, errlen, "'%s': '{" ACCOUNT_URI "}' "
				             "may only be used in a record's text", field);
			c = end;
			continue;
		}
		if (param_find(p, c + 1, (size_t)(end - c - 1)) == NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "'%s': unknown parameter '{%.*s}'",
			             field, (int)(end - c - 1), c + 1);
		c = end;
	}
	return 0;
}

/* Does s contain a "{...}" reference at all? */
static bool has_ref(const char *s)
{
	return strchr(s, '{') != NULL;
}

/* The literal values of r are checked now, templated ones at expansion. */
static int literals_check(const struct zg_rtmpl *r, char *err, size_t errlen)
{
	char tmp[ZG_OWNER_SIZE];

	if (r->target != NULL && is_root(r->target)) {
		if (r->type == ZG_RR_SRV && (r->priority != 0 || r->weight != 0 || r->port != 0))
			return zg_fail(ZG_EINVAL, err, errlen, "SRV target '.' (no such service, RFC "
			             "2782) needs priority, weight and port 0, not %u %u %u",
			             r->priority, r->weight, r->port);
		if (r->type == ZG_RR_MX && r->priority != 0)
			return zg_fail(ZG_EINVAL, err, errlen, "null MX '.' (RFC 7505) needs "
			             "preference 0, not %u", r->priority);
		if (r->type != ZG_RR_SRV && r->type != ZG_RR_MX)
			return zg_fail(ZG_EINVAL, err, errlen, "%s target cannot be '.' (only SRV "
			             "and MX have a meaning for the root)", rtype_names[r->type]);
	} else if (r->target != NULL && !has_ref(r->target) &&
	           target_check(r->type, r->target, tmp, sizeof(tmp), err, errlen) != 0) {
		return ZG_EINVAL;
	}
	if (r->address != NULL && !has_ref(r->address) &&
	    zg_param_value_check(r->type == ZG_RR_A ? ZG_P_IPV4 : ZG_P_IPV6, r->address,
	                         err, errlen) != 0)
		return ZG_EINVAL;
	if (r->text != NULL && !has_ref(r->text) &&
	    (r->type == ZG_RR_TXT ? txt_check(r->text, err, errlen) :
	     r->type == ZG_RR_CAA ? caa_text_check(r, r->text, err, errlen) :
	                            text_check(r->text, err, errlen)) != 0)
		return ZG_EINVAL;
	return 0;
}

int zg_rtmpl_check(const struct zg_profile *p, const struct zg_rtmpl *r,
                   char *err, size_t errlen)
{
	struct { const char *name; const char *val; unsigned bit; } f[] = {
		{ "target", r->target, F_TARGET }, { "address", r->address, F_ADDRESS },
		{ "text", r->text, F_TEXT }, { "tag", r->tag, F_TAG },
	};
	unsigned need;
	int ret;

	if ((unsigned)r->type >= ZG_RR__MAX)
		return zg_fail(ZG_EINVAL, err, errlen, "invalid record type");
	if ((ret = owner_check(r->owner, err, errlen)) != 0)
		return ret;
	need = rtype_fields[r->type];
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((need & f[i].bit) && f[i].val == NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "%s record needs '%s'",
			             rtype_names[r->type], f[i].name);
		if (!(need & f[i].bit) && f[i].val != NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "'%s' does not apply to a %s record",
			             f[i].name, rtype_names[r->type]);
		if (f[i].val != NULL && (ret = refs_check(p, f[i].val, f[i].name, err, errlen)) != 0)
			return ret;
	}
	if ((ret = literals_check(r, err, errlen)) != 0)
		return ret;
	if (r->tag != NULL) {
		size_t n = strlen(r->tag);

		if (n == 0 || n > 15)
			return zg_fail(ZG_EINVAL, err, errlen, "CAA tag must be 1..15 characters");
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)r->tag[i]))
				return zg_fail(ZG_EINVAL, err, errlen, "CAA tag must be letters and digits");
	}
	if (r->type == ZG_RR_CAA && r->flags != 0 && r->flags != 128)
		return zg_fail(ZG_EINVAL, err, errlen, "CAA flags must be 0 or 128");
	if (r->ttl != 0 && (r->ttl < 60 || r->ttl > 604800))
		return zg_fail(ZG_EINVAL, err, errlen, "ttl must be between 60 and 604800");
	return 0;
}

static bool owner_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

/* No label of s starts or ends with '-' (a host name's labels, as the CA
 * and acme_dns_name_check() want them). */
static bool hyphens_ok(const char *s)
{
	for (;;) {
		size_t n = strcspn(s, ".");

		if (s[0] == '-' || (n > 0 && s[n - 1] == '-'))
			return false;
		if (s[n] == '\0')
			return true;
		s += n + 1;
	}
}

int zg_profile_check(const struct zg_profile *p, char *err, size_t errlen)
{
	if (p->n_records == 0)
		return zg_fail(ZG_EINVAL, err, errlen, "profile '%s' has no records", p->name);
	if (p->n_records > ZG_MAX_RECORDS)
		return zg_fail(ZG_EINVAL, err, errlen, "profile '%s' has more than %d records",
		             p->name, ZG_MAX_RECORDS);
	if (p->n_params > ZG_MAX_PARAMS)
		return zg_fail(ZG_EINVAL, err, errlen, "profile '%s' has more than %d parameters",
		             p->name, ZG_MAX_PARAMS);
	if (p->n_cert_names > ZG_MAX_CERT_NAMES)
		return zg_fail(ZG_EINVAL, err, errlen, "profile '%s' has more than %d certificate "
		             "names", p->name, ZG_MAX_CERT_NAMES);
	for (size_t i = 0; i < p->n_params; i++)
		if (strcmp(p->params[i].name, ACCOUNT_URI) == 0)
			return zg_fail(ZG_EINVAL, err, errlen, "parameter '%s' is a built-in "
			             "variable", ACCOUNT_URI);
	for (size_t i = 0; i < p->n_params; i++)
		for (size_t j = i + 1; j < p->n_params; j++)
			if (strcmp(p->params[i].name, p->params[j].name) == 0)
				return zg_fail(ZG_EINVAL, err, errlen, "parameter '%s' declared twice",
				             p->params[i].name);
	for (size_t i = 0; i < p->n_records; i++) {
		const struct zg_rtmpl *a = &p->records[i];
		uint32_t ta = a->ttl ? a->ttl : p->ttl;

		for (size_t j = 0; j < p->n_records; j++) {
			const struct zg_rtmpl *b = &p->records[j];
			uint32_t tb = b->ttl ? b->ttl : p->ttl;

			if (i == j || !owner_eq(a->owner, b->owner))
				continue;
			if (a->type == ZG_RR_CNAME)
				return zg_fail(ZG_EINVAL, err, errlen, "CNAME at '%s' beside other data "
				             "of the profile", a->owner);
			if (a->type == b->type && ta != tb)
				return zg_fail(ZG_EINVAL, err, errlen, "%s records at '%s' with different "
				             "TTLs", rtype_names[a->type], a->owner);
			if (a->type == b->type && a->target != NULL && is_root(a->target))
				return zg_fail(ZG_EINVAL, err, errlen, "%s '.' at '%s' beside another %s "
				             "record: '.' says there is no such service and must be "
				             "alone", rtype_names[a->type], a->owner,
				             rtype_names[a->type]);
		}
		if (a->type == ZG_RR_CNAME && strcmp(a->owner, "@") == 0)
			return zg_fail(ZG_EINVAL, err, errlen, "a CNAME cannot be at the apex '@'");
	}
	for (size_t i = 0; i < p->n_cert_names; i++) {
		const char *n = p->cert_names[i];

		if (owner_check(n, err, errlen) != 0)
			return ZG_EINVAL;
		if (strchr(n, '_') != NULL || !hyphens_ok(n))
			return zg_fail(ZG_EINVAL, err, errlen, "certificate name '%s' is not a host name", n);
		for (size_t j = 0; j < i; j++)
			if (owner_eq(n, p->cert_names[j]))
				return zg_fail(ZG_EINVAL, err, errlen, "certificate name '%s' listed twice", n);
	}
	return 0;
}

/* What one expansion fills in: the domain, the built-ins, the request's
 * values. */
struct expansion {
	const struct zg_profile *p;
	const char *domain;
	const struct zg_builtins *b;
	const struct zg_kv *kv;
	size_t n_kv;
};

/* Value of parameter name (len bytes) for this request, or NULL. */
static const char *param_value(const struct expansion *x, const char *name, size_t len)
{
	const struct zg_profile *p = x->p;
	const struct zg_kv *kv = x->kv;
	size_t n_kv = x->n_kv;
	const struct zg_param *decl;

	if (len == 6 && strncmp(name, "domain", 6) == 0)
		return x->domain;
	decl = param_find(p, name, len);
	if (decl == NULL)
		return NULL;
	for (size_t i = 0; i < n_kv; i++)
		if (strcmp(kv[i].key, decl->name) == 0)
			return kv[i].val;
	return decl->def;
}

/*
 * "{params_id}": 16 hexadecimal digits that change whenever a value of the
 * profile's parameters changes (FNV-1a, 64 bits, over name=value of every
 * declared parameter in order, defaults included): an id for a policy the
 * hosting serves from those values, such as MTA-STS's (RFC 8461 3.1: it
 * must change when the policy does; a change of another value only makes
 * senders fetch the same policy again).  Not a secret, not a checksum.
 */
static void params_id(const struct expansion *x, char out[17])
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < x->p->n_params; i++) {
		const char *name = x->p->params[i].name;
		const char *v = param_value(x, name, strlen(name));
		const char *parts[] = { name, "=", v != NULL ? v : "", "\n" };

		for (size_t k = 0; k < 4; k++)
			for (const unsigned char *c = (const unsigned char *)parts[k]; *c != '\0'; c++) {
				h ^= *c;
				h *= 1099511628211ull;
			}
	}
	snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The value of {acme_account_uri}: the caller's, checked; ZG_EAGAIN
 * while the caller does not know it yet. */
static int account_uri_value(const struct expansion *x, const char **val, char *err,
                             size_t errlen)
{
	if (x->b == NULL || x->b->acme_account_uri == NULL)
		return zg_fail(ZG_EAGAIN, err, errlen, "profile '%s' uses {" ACCOUNT_URI "}: "
		               "waiting for the ACME account", x->p->name);
	*val = x->b->acme_account_uri;
	return account_uri_check(*val, err, errlen);
}

/* Expand "{name}" references of tmpl into out. */
static int subst(const struct expansion *x, const char *tmpl, char *out, size_t outlen,
                 char *err, size_t errlen)
{
	size_t o = 0;
	int ret;

	for (const char *c = tmpl; *c != '\0'; c++) {
		const char *val = NULL, *end;
		char id[17];
		size_t vlen;

		if (*c != '{') {
			if (o + 1 >= outlen)
				return zg_fail(ZG_ETOOLONG, err, errlen, "value longer than %zu bytes",
				             outlen - 1);
			out[o++] = *c;
			continue;
		}
		end = strchr(c + 1, '}');
		if (end == NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "unterminated '{' in template");
		if ((size_t)(end - c - 1) == 9 && strncmp(c + 1, "params_id", 9) == 0) {
			params_id(x, id);
			val = id;
		} else if ((size_t)(end - c - 1) == ACCOUNT_URI_LEN &&
		    strncmp(c + 1, ACCOUNT_URI, ACCOUNT_URI_LEN) == 0) {
			if ((ret = account_uri_value(x, &val, err, errlen)) != 0)
				return ret;
		} else {
			val = param_value(x, c + 1, (size_t)(end - c - 1));
		}
		if (val == NULL)
			return zg_fail(ZG_EPARAM, err, errlen, "profile '%s' needs parameter '%.*s'",
			             x->p->name, (int)(end - c - 1), c + 1);
		vlen = strlen(val);
		if (o + vlen >= outlen)
			return zg_fail(ZG_ETOOLONG, err, errlen, "value longer than %zu bytes",
			             outlen - 1);
		memcpy(out + o, val, vlen);
		o += vlen;
		c = end;
	}
	out[o] = '\0';
	return 0;
}

static int params_check(const struct expansion *x, char *err, size_t errlen)
{
	const struct zg_profile *p = x->p;
	const struct zg_kv *kv = x->kv;
	const char *domain = x->domain;
	size_t n_kv = x->n_kv;
	char msg[256], norm[ZG_OWNER_SIZE];

	if (n_kv > ZG_MAX_PARAMS)
		return zg_fail(ZG_EPARAM, err, errlen, "too many parameters");
	for (size_t i = 0; i < n_kv; i++) {
		const struct zg_param *decl;

		if (kv[i].key == NULL || kv[i].val == NULL)
			return zg_fail(ZG_EPARAM, err, errlen, "parameter without a name or value");
		decl = param_find(p, kv[i].key, strlen(kv[i].key));
		if (decl == NULL)
			return zg_fail(ZG_EPARAM, err, errlen, "profile '%s' has no parameter '%.32s'",
			             p->name, kv[i].key);
		for (size_t j = 0; j < i; j++)
			if (strcmp(kv[j].key, kv[i].key) == 0)
				return zg_fail(ZG_EPARAM, err, errlen, "parameter '%s' given twice",
				             kv[i].key);
		if (zg_param_value_check(decl->type, kv[i].val, msg, sizeof(msg)) != 0)
			return zg_fail(ZG_EPARAM, err, errlen, "parameter '%s': %s", decl->name, msg);
	}
	for (size_t i = 0; i < p->n_params; i++) {
		const struct zg_param *decl = &p->params[i];
		const char *v = param_value(x, decl->name, strlen(decl->name));

		if (v == NULL)
			return zg_fail(ZG_EPARAM, err, errlen, "profile '%s' needs parameter '%s'",
			             p->name, decl->name);
		if (decl->type == ZG_P_HOSTNAME &&
		    zg_hostname_check(v, norm, sizeof(norm), NULL, 0) == 0 &&
		    strcmp(norm, domain) == 0)
			return zg_fail(ZG_EDNAME, err, errlen, "domain '%s' is the hosting target "
			             "itself ('%s')", domain, decl->name);
	}
	return 0;
}

/* "owner" relative to domain -> FQDN with trailing dot, lowercase. */
static int owner_fqdn(const char *owner, const char *domain, char *out, size_t outlen,
                      char *err, size_t errlen)
{
	int n;

	if (strcmp(owner, "@") == 0)
		n = snprintf(out, outlen, "%s.", domain);
	else
		n = snprintf(out, outlen, "%s.%s.", owner, domain);
	if (n < 0 || (size_t)n >= outlen || (size_t)n > ZG_DNAME_LEN + 1)
		return zg_fail(ZG_EDNAME, err, errlen, "name too long: '%s' under '%.64s'", owner, domain);
	for (char *c = out; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

/*
 * rr->data for template r: the rdata in presentation format from the
 * expanded host name (target, exchange) or value (address, text).
 */
static int rr_data(const struct zg_rtmpl *r, const char *host, const char *val,
                   struct zg_rr *rr, char *err, size_t errlen)
{
	int ret;

	switch (r->type) {
	case ZG_RR_A:
	case ZG_RR_AAAA:
		ret = snprintf(rr->data, sizeof(rr->data), "%s", val);
		break;
	case ZG_RR_CNAME:
		ret = snprintf(rr->data, sizeof(rr->data), "%s.", host);
		break;
	case ZG_RR_SRV:
		ret = snprintf(rr->data, sizeof(rr->data), "%u %u %u %s.", r->priority,
		               r->weight, r->port, host);
		break;
	case ZG_RR_MX:
		ret = snprintf(rr->data, sizeof(rr->data), "%u %s.", r->priority, host);
		break;
	case ZG_RR_TXT:
		if (zg_txt_data(val, rr->data, sizeof(rr->data), err, errlen) != 0)
			return ZG_ETOOLONG;   /* val passed txt_check(): only the size */
		ret = 0;
		break;
	case ZG_RR_CAA: {
		char tag[16];
		size_t i;

		for (i = 0; r->tag[i] != '\0' && i < sizeof(tag) - 1; i++)
			tag[i] = (char)tolower((unsigned char)r->tag[i]);
		tag[i] = '\0';
		ret = snprintf(rr->data, sizeof(rr->data), "%u %s \"%s\"", r->flags, tag, val);
		break;
	}
	default:
		return zg_fail(ZG_EINVAL, err, errlen, "invalid record type");
	}
	if (ret < 0 || (size_t)ret >= sizeof(rr->data))
		return zg_fail(ZG_ETOOLONG, err, errlen, "%s: record data too long", rr->owner);
	return 0;
}

static int expand_one(const struct expansion *x, const struct zg_rtmpl *r, struct zg_rr *rr,
                      char *err, size_t errlen)
{
	const struct zg_profile *p = x->p;
	const char *domain = x->domain;
	char val[ZG_TEMPLATE_SIZE] = "", host[ZG_OWNER_SIZE] = "", msg[256];
	unsigned char bin[16];
	int ret;

	memset(rr, 0, sizeof(*rr));
	rr->type = r->type;
	rr->ttl = r->ttl ? r->ttl : p->ttl;
	if ((ret = owner_fqdn(r->owner, domain, rr->owner, sizeof(rr->owner), err, errlen)) != 0)
		return ret;

	if (r->target != NULL && is_root(r->target)) {
		if (r->type != ZG_RR_SRV && r->type != ZG_RR_MX)
			return zg_fail(ZG_EINVAL, err, errlen, "%s %s target cannot be '.'", rr->owner,
			             rtype_names[r->type]);
		/* host stays "": rr_data() writes the root as "." */
	} else if (r->target != NULL) {
		if ((ret = subst(x, r->target, val, sizeof(val), err, errlen)) != 0)
			return ret;
		if (target_check(r->type, val, host, sizeof(host), msg, sizeof(msg)) != 0)
			return zg_fail(ZG_EPARAM, err, errlen, "%s %s target: %s", rr->owner,
			             rtype_names[r->type], msg);
		if (r->type == ZG_RR_CNAME && strlen(host) + 1 == strlen(rr->owner) &&
		    strncmp(host, rr->owner, strlen(host)) == 0)
			return zg_fail(ZG_EDNAME, err, errlen, "CNAME %s would point at itself", rr->owner);
	}
	if (r->address != NULL) {
		int af = r->type == ZG_RR_A ? AF_INET : AF_INET6;

		if ((ret = subst(x, r->address, val, sizeof(val), err, errlen)) != 0)
			return ret;
		if (inet_pton(af, val, bin) != 1)
			return zg_fail(ZG_EPARAM, err, errlen, "%s %s: '%.64s' is not an address",
			             rr->owner, rtype_names[r->type], val);
		inet_ntop(af, bin, val, sizeof(val));   /* canonical C-library form (knot.c re-renders what Knot prints the same way) */
	}
	if (r->text != NULL) {
		if ((ret = subst(x, r->text, val, sizeof(val), err, errlen)) != 0)
			return ret;
		ret = r->type == ZG_RR_TXT ? txt_check(val, msg, sizeof(msg)) :
		      r->type == ZG_RR_CAA ? caa_text_check(r, val, msg, sizeof(msg)) :
		                             text_check(val, msg, sizeof(msg));
		if (ret != 0)
			return zg_fail(ret == ZG_ETOOLONG ? ZG_ETOOLONG : ZG_EPARAM, err, errlen,
			             "%s %s: %s", rr->owner, rtype_names[r->type], msg);
	}

	return rr_data(r, host, val, rr, err, errlen);
}

int zg_expand(const struct zg_profile *p, const char *domain,
              const struct zg_kv *params, size_t n_params,
              struct zg_rr *out, size_t *n_out, char *err, size_t errlen)
{
	return zg_expand_with(p, domain, NULL, params, n_params, out, n_out, err, errlen);
}

bool zg_profile_uses_account_uri(const struct zg_profile *p)
{
	for (size_t i = 0; i < p->n_records; i++)
		if (p->records[i].text != NULL &&
		    strstr(p->records[i].text, "{" ACCOUNT_URI "}") != NULL)
			return true;
	return false;
}

int zg_expand_with(const struct zg_profile *p, const char *domain, const struct zg_builtins *b,
                   const struct zg_kv *params, size_t n_params,
                   struct zg_rr *out, size_t *n_out, char *err, size_t errlen)
{
	char norm[ZG_OWNER_SIZE];
	struct expansion x = { p, norm, b, params, n_params };
	int ret;

	*n_out = 0;
	if (zg_dname_check(domain, norm, sizeof(norm), err, errlen) != 0)
		return ZG_EDNAME;
	if (p->n_records > ZG_MAX_RECORDS)
		return zg_fail(ZG_EINVAL, err, errlen, "profile has too many records");
	if ((ret = params_check(&x, err, errlen)) != 0)
		return ret;
	for (size_t i = 0; i < p->n_records; i++) {
		ret = expand_one(&x, &p->records[i], &out[i], err, errlen);
		if (ret != 0) {
			*n_out = 0;
			return ret;
		}
	}
	*n_out = p->n_records;
	return 0;
}

int zg_cert_names(const struct zg_profile *p, const char *domain,
                  char out[][ZG_OWNER_SIZE], size_t *n_out)
{
	*n_out = 0;
	if (p->n_cert_names > ZG_MAX_CERT_NAMES)
		return ZG_ERANGE;
	for (size_t i = 0; i < p->n_cert_names; i++) {
		int ret = owner_fqdn(p->cert_names[i], domain, out[i], ZG_OWNER_SIZE, NULL, 0);

		if (ret != 0)
			return ret;
		out[i][strlen(out[i]) - 1] = '\0';  /* certificates name hosts without the dot */
	}
	*n_out = p->n_cert_names;
	return 0;
}

void zg_profile_clear(struct zg_profile *p)
{
	if (p == NULL)
		return;
	free(p->name);
	free(p->service);
	for (size_t i = 0; i < p->n_params; i++) {
		free(p->params[i].name);
		free(p->params[i].def);
	}
	free(p->params);
	for (size_t i = 0; i < p->n_records; i++) {
		free(p->records[i].owner);
		free(p->records[i].target);
		free(p->records[i].address);
		free(p->records[i].text);
		free(p->records[i].tag);
	}
	free(p->records);
	for (size_t i = 0; i < p->n_cert_names; i++)
		free(p->cert_names[i]);
	free(p->cert_names);
	memset(p, 0, sizeof(*p));
}
