/*
 * caa.c - CAA records parsed and judged (see caa.h): RFC 8659, RFC 8657.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zonegen/caa.h"
#include "zonegen/zg_err.h"

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_wsp(const char *s)
{
	while (is_wsp(*s))
		s++;
	return s;
}

/* The quoted (or bare) value of a CAA record's text, unescaped. */
static int value_unquote(const char *s, char *out, size_t outlen, char *err, size_t errlen)
{
	size_t o = 0;
	bool quoted = *s == '"';

	if (quoted)
		s++;
	for (; *s != '\0' && !(quoted && *s == '"') && !(!quoted && is_wsp(*s)); s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\') {
			if (isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
			    isdigit((unsigned char)s[3])) {
				int v = (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');

				if (v > 255)
					return zg_fail(ZG_ESYNTAX, err, errlen, "CAA value: bad escape");
				c = (unsigned char)v;
				s += 3;
			} else if (s[1] != '\0') {
				c = (unsigned char)*++s;
			} else {
				return zg_fail(ZG_ESYNTAX, err, errlen, "CAA value: dangling '\\'");
			}
		}
		if (o + 1 >= outlen)
			return zg_fail(ZG_ETOOLONG, err, errlen, "CAA value too long");
		out[o++] = (char)c;
	}
	if (quoted && *s != '"')
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA value: unterminated '\"'");
	if (quoted)
		s++;
	if (*skip_wsp(s) != '\0')
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA record: text after the value");
	out[o] = '\0';
	return 0;
}

int zg_caa_parse(const char *data, struct zg_caa *out, char *err, size_t errlen)
{
	const char *s = skip_wsp(data);
	unsigned long flags;
	char *end;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!isdigit((unsigned char)*s))
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA record: no flags in '%.64s'", data);
	flags = strtoul(s, &end, 10);
	if (flags > 255 || !is_wsp(*end))
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA record: bad flags in '%.64s'", data);
	out->flags = (uint8_t)flags;
	s = skip_wsp(end);
	for (n = 0; isalnum((unsigned char)s[n]); n++)
		;
	if (n == 0 || n >= ZG_CAA_TAG_SIZE || !is_wsp(s[n]))
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA record: bad tag in '%.64s'", data);
	for (size_t i = 0; i < n; i++)
		out->tag[i] = (char)tolower((unsigned char)s[i]);
	out->tag[n] = '\0';
	return value_unquote(skip_wsp(s + n), out->value, sizeof(out->value), err, errlen);
}

/* An issuer-domain-name: LDH labels, none empty, none starting or ending
 * with '-'. */
static bool issuer_ok(const char *s, size_t len)
{
	size_t l = 0;

	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';

		if (c == '.') {
			if (l == 0 || s[i - 1] == '-' || s[i - l] == '-')
				return false;
			l = 0;
		} else if (isalnum((unsigned char)c) || c == '-') {
			l++;
		} else {
			return false;
		}
	}
	return len < ZG_OWNER_SIZE;
}

/* One parameter "tag=value" at *sp (after WSP), taken into out. */
static int param_take(const char **sp, struct zg_caa_issue *out, char *err, size_t errlen)
{
	const char *s = *sp, *tag = s, *val;
	size_t tlen, vlen;
	char *dst = NULL;
	bool *has = NULL;

	while (isalnum((unsigned char)*s))
		s++;
	if ((tlen = (size_t)(s - tag)) == 0)
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA parameter without a tag");
	s = skip_wsp(s);
	if (*s != '=')
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA parameter '%.*s' without '='",
		               (int)tlen, tag);
	s = skip_wsp(s + 1);
	for (val = s; *s > 0x20 && *s < 0x7f && *s != ';'; s++)
		;
	vlen = (size_t)(s - val);
	if (tlen == 10 && strncasecmp(tag, "accounturi", 10) == 0) {
		dst = out->accounturi;
		has = &out->has_accounturi;
	} else if (tlen == 17 && strncasecmp(tag, "validationmethods", 17) == 0) {
		dst = out->methods;
		has = &out->has_methods;
	}
	if (has != NULL) {
		if (*has)
			return zg_fail(ZG_ESYNTAX, err, errlen, "CAA parameter '%.*s' given twice",
			               (int)tlen, tag);
		*has = true;
		memcpy(dst, val, vlen);   /* vlen < ZG_CAA_VALUE_SIZE: it came from one */
		dst[vlen] = '\0';
	}
	*sp = s;
	return 0;
}

int zg_caa_issue_parse(const char *value, struct zg_caa_issue *out, char *err, size_t errlen)
{
	const char *s = skip_wsp(value), *iss = s;
	size_t len;
	int ret;

	memset(out, 0, sizeof(*out));
	while (*s != '\0' && !is_wsp(*s) && *s != ';')
		s++;
	len = (size_t)(s - iss);
	if (len > 0 && !issuer_ok(iss, len))
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA issuer '%.*s' is not a domain name",
		               (int)(len > 64 ? 64 : len), iss);
	memcpy(out->issuer, iss, len);
	out->issuer[len] = '\0';
	s = skip_wsp(s);
	if (*s == '\0')
		return 0;
	if (*s != ';')
		return zg_fail(ZG_ESYNTAX, err, errlen, "CAA value: '%.64s' after the issuer", s);
	s = skip_wsp(s + 1);
	while (*s != '\0') {
		if ((ret = param_take(&s, out, err, errlen)) != 0)
			return ret;
		s = skip_wsp(s);
		if (*s == '\0')
			break;
		if (*s != ';')
			return zg_fail(ZG_ESYNTAX, err, errlen, "CAA value: '%.64s' after a "
			               "parameter", s);
		s = skip_wsp(s + 1);
	}
	return 0;
}

int zg_caa_issue_check(const char *value, char *err, size_t errlen)
{
	struct zg_caa_issue is;
	char msg[256];

	if (zg_caa_issue_parse(value, &is, msg, sizeof(msg)) != 0)
		return zg_fail(ZG_EINVAL, err, errlen, "%s", msg);
	return 0;
}

/* ------------------------------------------------------------ judging */

/* Append to msg (a growing line). */
static void add(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add(char *msg, size_t msglen, const char *fmt, ...)
{
	size_t used = strnlen(msg, msglen);
	va_list ap;

	if (msglen == 0 || used + 1 >= msglen)
		return;
	va_start(ap, fmt);
	vsnprintf(msg + used, msglen - used, fmt, ap);
	va_end(ap);
}

static bool identity_match(const char *issuer, const struct zg_caa_ask *a)
{
	for (size_t i = 0; i < a->n_identities; i++) {
		const char *id = a->identities[i];
		size_t n = strlen(id);

		if (n > 0 && id[n - 1] == '.')
			n--;
		if (n == strlen(issuer) && strncasecmp(id, issuer, n) == 0)
			return true;
	}
	return false;
}

/* Is method in the comma-separated list (RFC 8657 4)? */
static bool method_listed(const char *list, const char *method)
{
	size_t m = strlen(method);

	for (const char *s = list;;) {
		size_t n = strcspn(s, ",");

		if (n == m && strncmp(s, method, m) == 0)
			return true;
		if (s[n] == '\0')
			return false;
		s += n + 1;
	}
}

/* Does property r let a issue?  When not, what it allows goes into desc
 * (empty for ";"). */
static bool property_allows(const struct zg_caa *r, const struct zg_caa_ask *a,
                            char *desc, size_t desclen)
{
	struct zg_caa_issue is;

	desc[0] = '\0';
	if (zg_caa_issue_parse(r->value, &is, NULL, 0) != 0) {
		snprintf(desc, desclen, "a malformed \"%.64s\"", r->value);
		return false;
	}
	if (is.issuer[0] == '\0')
		return false;
	if (!identity_match(is.issuer, a)) {
		snprintf(desc, desclen, "%s", is.issuer);
		return false;
	}
	if (is.has_accounturi && (a->account_uri == NULL ||
	                          strcmp(is.accounturi, a->account_uri) != 0)) {
		snprintf(desc, desclen, "%s with accounturi=%.200s", is.issuer, is.accounturi);
		return false;
	}
	if (is.has_methods && !method_listed(is.methods, a->method != NULL ? a->method : "")) {
		snprintf(desc, desclen, "%s with validationmethods=%.100s", is.issuer, is.methods);
		return false;
	}
	snprintf(desc, desclen, "%s", is.issuer);
	return true;
}

static bool tag_known(const char *tag)
{
	return strcmp(tag, "issue") == 0 || strcmp(tag, "issuewild") == 0 ||
	       strcmp(tag, "iodef") == 0;
}

bool zg_caa_eval(const struct zg_caa *rrs, size_t n, const char *owner,
                 const struct zg_caa_ask *a, char *msg, size_t msglen)
{
	char name[ZG_OWNER_SIZE], desc[640];
	const char *want = "issue";
	size_t named = 0, considered = 0;

	snprintf(name, sizeof(name), "%s", owner != NULL ? owner : "");
	if (name[0] != '\0' && name[strlen(name) - 1] == '.')
		name[strlen(name) - 1] = '\0';
	if (msglen > 0)
		msg[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((rrs[i].flags & ZG_CAA_FLAG_CRITICAL) && !tag_known(rrs[i].tag)) {
			add(msg, msglen, "CAA at %s has the critical property '%s', unknown to "
			    "regzone (RFC 8659 4.5: no CA may issue)", name, rrs[i].tag);
			return false;
		}
		if (a->wildcard && strcmp(rrs[i].tag, "issuewild") == 0)
			want = "issuewild";
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rrs[i].tag, want) != 0)
			continue;
		considered++;
		if (property_allows(&rrs[i], a, desc, sizeof(desc))) {
			add(msg, msglen, "CAA at %s allows %s", name, desc);
			return true;
		}
		if (desc[0] != '\0') {
			if (named++ == 0)
				add(msg, msglen, "CAA at %s allows only %s", name, desc);
			else
				add(msg, msglen, ", %s", desc);
		}
	}
	if (considered == 0) {
		if (n == 0)
			add(msg, msglen, "no CAA record up to %s", name);
		else
			add(msg, msglen, "CAA at %s does not restrict issuance", name);
		return true;
	}
	if (named == 0)
		add(msg, msglen, "CAA at %s allows only no CA", name);
	return false;
}
