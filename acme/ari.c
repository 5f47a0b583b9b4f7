/* ari.c - RFC 9773 certificate identifiers, renewalInfo, renewal times. */
#include <math.h>
#include <string.h>

#include <jansson.h>
#include <openssl/asn1.h>
#include <openssl/x509v3.h>

#include "acme/ari.h"
#include "acme/b64.h"
#include "acme/retry.h"
#include "acme/util.h"
#include "acme/acme_err.h"

int acme_ari_cert_id_raw(const uint8_t *aki, size_t aki_len, const uint8_t *serial,
                         size_t serial_len, char *out, size_t outlen)
{
	char tmp[ACME_ARI_CERT_ID_SIZE];
	int a, s;

	if (aki == NULL || serial == NULL || out == NULL || aki_len == 0 || serial_len == 0)
		return ACME_EINVAL;
	if (aki_len > ACME_ARI_AKI_MAX || serial_len > ACME_ARI_SERIAL_MAX)
		return ACME_ERANGE;
	/* Encoded in tmp (ACME_B64URL_SIZE() allows for padding we never
	 * write), so that out needs only the exact length and a NUL. */
	if ((a = acme_b64url_encode(aki, aki_len, tmp, sizeof(tmp))) < 0)
		return a;
	tmp[a] = '.';
	if ((s = acme_b64url_encode(serial, serial_len, tmp + a + 1, sizeof(tmp) - (size_t)a - 1)) < 0)
		return s;
	if ((size_t)(a + 1 + s) >= outlen)
		return ACME_ETOOLONG;
	memcpy(out, tmp, (size_t)(a + 1 + s) + 1);
	return a + 1 + s;
}

int acme_ari_cert_id(const X509 *cert, char *out, size_t outlen)
{
	AUTHORITY_KEYID *akid = NULL;
	const ASN1_INTEGER *serial;
	unsigned char der[2 + 4 + ACME_ARI_SERIAL_MAX], *p = der;
	size_t hdr;
	int crit = 0, n, rc;

	if (cert == NULL || out == NULL)
		return ACME_EINVAL;
	akid = X509_get_ext_d2i(cert, NID_authority_key_identifier, &crit, NULL);
	if (akid == NULL || akid->keyid == NULL || ASN1_STRING_length(akid->keyid) <= 0) {
		rc = ACME_ENOENT;
		goto out;
	}
	if ((serial = X509_get0_serialNumber(cert)) == NULL) {
		rc = ACME_ENOENT;
		goto out;
	}
	/* The INTEGER as DER, then without its tag and length. */
	n = i2d_ASN1_INTEGER(serial, NULL);
	if (n <= 0 || (size_t)n > sizeof(der)) {
		rc = n <= 0 ? ACME_ENOMEM : ACME_ERANGE;
		goto out;
	}
	if (i2d_ASN1_INTEGER(serial, &p) != n || der[0] != V_ASN1_INTEGER) {
		rc = ACME_ENOMEM;
		goto out;
	}
	hdr = der[1] < 0x80 ? 2 : 2 + (size_t)(der[1] & 0x7f);
	if (hdr >= (size_t)n) {
		rc = ACME_ERANGE;
		goto out;
	}
	rc = acme_ari_cert_id_raw(ASN1_STRING_get0_data(akid->keyid),
	                          (size_t)ASN1_STRING_length(akid->keyid), der + hdr,
	                          (size_t)n - hdr, out, outlen);
out:
	AUTHORITY_KEYID_free(akid);
	return rc;
}

static int asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;
	int64_t t;

	memset(&tm, 0, sizeof(tm));
	if (a == NULL || ASN1_TIME_to_tm(a, &tm) != 1)
		return ACME_ESYNTAX;
	if (acme_civil_time(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	                    tm.tm_sec, &t) < 0)
		return ACME_ESYNTAX;
	*out = (time_t)t;
	return 0;
}

int acme_cert_validity(const X509 *cert, time_t *not_before, time_t *not_after)
{
	time_t nb, na;
	int rc;

	if (cert == NULL || not_before == NULL || not_after == NULL)
		return ACME_EINVAL;
	if ((rc = asn1_time(X509_get0_notBefore(cert), &nb)) < 0 ||
	    (rc = asn1_time(X509_get0_notAfter(cert), &na)) < 0)
		return rc;
	*not_before = nb;
	*not_after = na;
	return 0;
}

static bool dig(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

int acme_rfc3339(const char *s, size_t len, time_t *out)
{
	int y, mon, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	size_t i = 19;
	int64_t t;

	if (s == NULL || out == NULL)
		return ACME_EINVAL;
	if (len > ACME_RFC3339_MAX)
		return ACME_ETOOLONG;
	/* YYYY-MM-DDTHH:MM:SS */
	if (len < 20 || !dig(s, 4, &y) || s[4] != '-' || !dig(s + 5, 2, &mon) || s[7] != '-' ||
	    !dig(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !dig(s + 11, 2, &h) ||
	    s[13] != ':' || !dig(s + 14, 2, &mi) || s[16] != ':' || !dig(s + 17, 2, &sec))
		return ACME_ESYNTAX;
	if (s[i] == '.') {             /* time-secfrac: at least one digit */
		size_t f = ++i;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == f)
			return ACME_ESYNTAX;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		sign = 0;
	} else if (i < len && (s[i] == '+' || s[i] == '-') && len - i == 6 &&
	           dig(s + i + 1, 2, &oh) && s[i + 3] == ':' && dig(s + i + 4, 2, &om) &&
	           oh <= 23 && om <= 59) {
		sign = s[i] == '+' ? 1 : -1;
	} else {
		return ACME_ESYNTAX;
	}
	if (acme_civil_time(y, mon, d, h, mi, sec, &t) < 0)
		return ACME_ESYNTAX;
	/* local = UTC + offset */
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	*out = (time_t)t;
	return 0;
}

static int take_time(const json_t *v, time_t *out)
{
	if (v == NULL)
		return ACME_ENOENT;
	if (!json_is_string(v))
		return ACME_ETYPE;
	return acme_rfc3339(json_string_value(v), json_string_length(v), out);
}

static int take_url(const json_t *v, char *dst)
{
	const char *s;
	size_t len, i = 0;

	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return ACME_ETYPE;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len > ACME_ARI_URL_MAX)
		return ACME_ETOOLONG;
	if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return ACME_ESYNTAX;
	while (i < len && s[i] != ':') {
		char c = s[i++];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return ACME_ESYNTAX;
	}
	if (i + 1 >= len)
		return ACME_ESYNTAX;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return ACME_ESYNTAX;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int acme_ari_parse(const char *body, size_t len, struct acme_ari_info *out)
{
	json_t *root = NULL;
	const json_t *win;
	int rc;

	if (out == NULL)
		return ACME_EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = acme_json_load(body, len, ACME_ARI_MAX_BYTES, &root)) != 0)
		goto out;
	if (!json_is_object(root)) {
		rc = ACME_ETYPE;
		goto out;
	}
	if ((win = json_object_get(root, "suggestedWindow")) == NULL) {
		rc = ACME_ENOENT;
		goto out;
	}
	if (!json_is_object(win)) {
		rc = ACME_ETYPE;
		goto out;
	}
	if ((rc = take_time(json_object_get(win, "start"), &out->start)) < 0 ||
	    (rc = take_time(json_object_get(win, "end"), &out->end)) < 0 ||
	    (rc = take_url(json_object_get(root, "explanationURL"), out->explanation_url)) < 0)
		goto out;
	if (out->end <= out->start) {
		rc = ACME_ERANGE;
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int acme_ari_next_poll(const char *retry_after, time_t now, time_t *out)
{
	time_t at;
	int rc;

	if (out == NULL || now < 0)
		return ACME_EINVAL;
	*out = now + ACME_ARI_POLL_DEFAULT;
	if (retry_after == NULL)
		return ACME_ENOENT;
	if ((rc = acme_retry_after(retry_after, now, &at)) < 0)
		return rc;
	if (at < now + ACME_ARI_POLL_MIN)
		at = now + ACME_ARI_POLL_MIN;
	if (at > now + ACME_ARI_POLL_MAX)
		at = now + ACME_ARI_POLL_MAX;
	*out = at;
	return 0;
}

static double clamp01(double j)
{
	if (isnan(j))
		return 0.5;
	return j < 0.0 ? 0.0 : j > 1.0 ? 1.0 : j;
}

int acme_ari_renew_time(const struct acme_ari_info *w, time_t now, double jitter01, time_t *out)
{
	time_t t;

	if (w == NULL || out == NULL)
		return ACME_EINVAL;
	if (w->end <= w->start)
		return ACME_ERANGE;
	t = w->start + (time_t)floor(clamp01(jitter01) * (double)(w->end - w->start));
	if (t > w->end)
		t = w->end;
	*out = t > now ? t : now;
	return 0;
}

bool acme_ari_in_window(const struct acme_ari_info *w, time_t t)
{
	return w != NULL && w->end > w->start && t >= w->start && t < w->end;
}

int acme_renew_time(time_t not_before, time_t not_after, unsigned renew_percent, double jitter01,
                    time_t *out)
{
	double life, t;
	time_t margin, latest;

	if (out == NULL || not_after <= not_before)
		return ACME_EINVAL;
	if (renew_percent < 1 || renew_percent > 99)
		return ACME_ERANGE;
	life = (double)(not_after - not_before);
	t = (double)not_before + life * renew_percent / 100.0 +
	    life * ACME_RENEW_SPREAD_PCT / 100.0 * (2.0 * clamp01(jitter01) - 1.0);
	margin = not_after - not_before < 3 * ACME_RENEW_MARGIN ? (not_after - not_before) / 3
	                                                        : ACME_RENEW_MARGIN;
	latest = not_after - margin;
	if (t > (double)latest)
		t = (double)latest;
	if (t < (double)not_before)
		t = (double)not_before;
	*out = (time_t)floor(t);
	return 0;
}
