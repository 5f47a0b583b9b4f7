/*
 * dname.c - validation of the domain names customers and profiles give us.
 *
 * Only what a registrar can register and a CA can certify passes: LDH
 * labels, A-labels that really decode as Punycode, RFC 1035 lengths.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ZG_EDNAME;
}

/*
 * RFC 3492 decoding, only to know whether an A-label is well formed: the
 * part after "xn--" must decode to at least one non-ASCII code point, every
 * code point valid Unicode scalar.  Returns true when it does.
 */
static bool punycode_ok(const char *s, size_t len)
{
	enum { BASE = 36, TMIN = 1, TMAX = 26, SKEW = 38, DAMP = 700,
	       IBIAS = 72, IN = 128 };
	uint32_t n = IN, i = 0, bias = IBIAS, out = 0;
	size_t b = 0, j, in;

	for (j = 0; j < len; j++)
		if (s[j] == '-')
			b = j;
	/* basic code points before the last delimiter */
	out = (uint32_t)b;
	in = b > 0 ? b + 1 : 0;
	if (in >= len)
		return false;   /* nothing to decode: not an IDN */
	while (in < len) {
		uint32_t oldi = i, w = 1, k, digit, t, delta;

		for (k = BASE;; k += BASE) {
			unsigned char c;

			if (in >= len)
				return false;
			c = (unsigned char)s[in++];
			if (c >= '0' && c <= '9')
				digit = c - '0' + 26;
			else if (c >= 'a' && c <= 'z')
				digit = c - 'a';
			else if (c >= 'A' && c <= 'Z')
				digit = c - 'A';
			else
				return false;
			if (digit > (UINT32_MAX - i) / w)
				return false;
			i += digit * w;
			t = k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
			if (digit < t)
				break;
			if (w > UINT32_MAX / (BASE - t))
				return false;
			w *= BASE - t;
		}
		out++;
		/* adapt the bias */
		delta = oldi == 0 ? (i - oldi) / DAMP : (i - oldi) / 2;
		delta += delta / out;
		for (k = 0; delta > ((BASE - TMIN) * TMAX) / 2; k += BASE)
			delta /= BASE - TMIN;
		bias = k + (BASE - TMIN + 1) * delta / (delta + SKEW);
		if (i / out > 0x10FFFF - n)
			return false;
		n += i / out;
		i %= out;
		/* no C1 controls, surrogates or values past Unicode */
		if (n < 0xA0 || n > 0x10FFFF || (n >= 0xD800 && n <= 0xDFFF))
			return false;
		i++;
	}
	return true;
}

/* underscore: labels may also hold '_' (service labels, RFC 8552). */
static int check_name(const char *in, char *out, size_t outlen,
                      char *err, size_t errlen, const char *what, bool underscore)
{
	size_t len, i, lstart = 0, nlabels = 0;
	bool tld_numeric = true, tld_underscore = false;

	if (in == NULL || in[0] == '\0')
		return fail(err, errlen, "empty %s", what);
	len = strnlen(in, ZG_DNAME_LEN + 2);
	if (len > ZG_DNAME_LEN + 1)
		return fail(err, errlen, "%s longer than %d characters", what, ZG_DNAME_LEN);
	if (len > 1 && in[len - 1] == '.')
		len--;  /* one trailing dot: the absolute form */
	if (len > ZG_DNAME_LEN)
		return fail(err, errlen, "%s longer than %d characters", what, ZG_DNAME_LEN);

	for (i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)in[i] : '.';

		if (c == '.') {
			size_t llen = i - lstart;
			const char *l = in + lstart;

			if (llen == 0)
				return fail(err, errlen, "empty label in %s", what);
			if (llen > 63)
				return fail(err, errlen, "label '%.20s...' longer than 63 characters", l);
			if (l[0] == '-' || l[llen - 1] == '-')
				return fail(err, errlen, "label '%.*s' starts or ends with a hyphen",
				            (int)llen, l);
			if (llen >= 4 && l[2] == '-' && l[3] == '-') {
				if (strncasecmp(l, "xn", 2) != 0)
					return fail(err, errlen, "label '%.*s' has hyphens in the 3rd and 4th "
					            "positions but is not an A-label (xn--)", (int)llen, l);
				if (!punycode_ok(l + 4, llen - 4))
					return fail(err, errlen, "label '%.*s' is not a valid A-label (bad Punycode)",
					            (int)llen, l);
			}
			tld_numeric = true;
			tld_underscore = false;
			for (size_t j = 0; j < llen; j++) {
				if (!isdigit((unsigned char)l[j]))
					tld_numeric = false;
				if (l[j] == '_')
					tld_underscore = true;
			}
			nlabels++;
			lstart = i + 1;
			continue;
		}
		if (c >= 0x80)
			return fail(err, errlen, "%s contains a non-ASCII character: give an "
			            "internationalised name as its A-label (xn--...)", what);
		if (c == ' ' || c == '\t')
			return fail(err, errlen, "%s contains a space", what);
		if (c == '*')
			return fail(err, errlen, "wildcards are not allowed in a %s", what);
		if (c == '\\')
			return fail(err, errlen, "escapes are not allowed in a %s", what);
		if (!isalnum(c) && c != '-' && !(underscore && c == '_')) {
			if (isprint(c))
				return fail(err, errlen, "invalid character '%c' at position %zu of %s",
				            c, i + 1, what);
			return fail(err, errlen, "invalid character 0x%02x at position %zu of %s",
			            c, i + 1, what);
		}
	}
	if (nlabels < 2)
		return fail(err, errlen, "%s must have at least two labels", what);
	if (tld_numeric)
		return fail(err, errlen, "top-level label of %s is all digits", what);
	/* a service label is never a TLD: "x._domainkey" is a relative name */
	if (tld_underscore)
		return fail(err, errlen, "top-level label of %s contains '_'", what);
	if (out != NULL) {
		if (outlen <= len)
			return fail(err, errlen, "%s too long for the buffer", what);
		for (i = 0; i < len; i++)
			out[i] = (char)tolower((unsigned char)in[i]);
		out[len] = '\0';
	}
	return 0;
}

int zg_dname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	return check_name(in, out, outlen, err, errlen, "domain name", false);
}

int zg_hostname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	return check_name(in, out, outlen, err, errlen, "host name", false);
}

int zg_alias_check(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	return check_name(in, out, outlen, err, errlen, "CNAME target", true);
}

const char *zg_zone_first(const char *domain)
{
	return domain != NULL && strchr(domain, '.') != NULL ? domain : NULL;
}

const char *zg_zone_next(const char *cand)
{
	const char *dot = cand != NULL ? strchr(cand, '.') : NULL;

	return dot != NULL ? zg_zone_first(dot + 1) : NULL;
}
