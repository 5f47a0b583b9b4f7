/*
 * cert.c - the issued certificate: download with the strict check of the
 * PEM chain (RFC 8555 section 7.4.2), revocation (section 7.6) and its
 * renewalInfo (RFC 9773).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/acme_err.h"
#include "acme/ari.h"
#include "acme/b64.h"
#include "acme/client.h"
#include "acme/client_int.h"
#include "acme/http.h"
#include "acme/parse.h"

#define PEM_CHAIN "application/pem-certificate-chain"

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* One or more PEM certificates and nothing else (text only): 0,
 * ACME_EPROTO or ACME_ENOMEM. */
static int check_chain(const char *pem, size_t len)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	size_t n = 0, blocks;
	int ret = ACME_EPROTO;

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
		ret = ACME_ENOMEM;
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

/* The Link rel="alternate" https URLs of r into *alt (n_alt of them). */
static int alternates_of(const struct acme_resp *r, char ***alt, size_t *n_alt,
                         struct acme_error *e)
{
	char **v;
	size_t n = 0;
	int ret = 0;

	*alt = NULL;
	*n_alt = 0;
	v = calloc(ACME_HTTP_MAX_LINKS, sizeof(char *));
	if (v == NULL)
		return acme_fail(e, ACME_ENOMEM, "out of memory");
	for (size_t i = 0; i < r->n_links; i++) {
		if (strcasecmp(r->links[i].rel, "alternate") != 0 || !acme_url_ok(r->links[i].url))
			continue;
		if ((ret = acme_dup_into(&v[n], r->links[i].url, e)) != 0)
			break;
		n++;
	}
	if (ret != 0) {
		acme_strv_free(v, n);
		return ret;
	}
	*alt = v;
	*n_alt = n;
	return 0;
}

int acme_cert_download(struct acme_client *c, const char *url, char **pem,
                       char ***alternates, size_t *n_alternates, struct acme_error *e)
{
	static const char what[] = "certificate";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	int ret;

	if (e == NULL)
		e = &dummy;
	acme_err_reset(e);
	if (pem != NULL)
		*pem = NULL;
	if (alternates != NULL)
		*alternates = NULL;
	if (n_alternates != NULL)
		*n_alternates = 0;
	if (pem == NULL || url == NULL || !acme_url_ok(url) ||
	    (alternates != NULL) != (n_alternates != NULL)) {
		ret = acme_fail(e, ACME_EINVAL, "%s: bad arguments", what);
		goto out;
	}
	if ((ret = acme_post(c, url, "", false, PEM_CHAIN, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 200, 200, what, url, e)) != 0)
		goto out;
	if (!acme_media_is(r.content_type, PEM_CHAIN)) {
		ret = acme_fail(e, ACME_EPROTO, "%s %s: Content-Type %s, not " PEM_CHAIN, what, url,
		                r.content_type ? r.content_type : "missing");
		goto out;
	}
	if ((ret = check_chain(r.body, r.body_len)) != 0) {
		acme_fail(e, ret, "%s %s: the reply is not a PEM certificate chain", what, url);
		goto out;
	}
	if (alternates != NULL && (ret = alternates_of(&r, alternates, n_alternates, e)) != 0)
		goto out;
	*pem = r.body;
	r.body = NULL;
out:
	acme_resp_clear(&r);
	return ret;
}

/* The revokeCert payload for the first certificate of pem, as compact
 * JSON in *body (free() it). */
static int revoke_payload(const char *pem, int reason, const char *what, char **body,
                          struct acme_error *e)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	uint8_t *der = NULL;
	char *b64 = NULL;
	json_t *payload = NULL;
	int derlen, ret = 0;

	*body = NULL;
	bio = BIO_new_mem_buf(pem, -1);
	x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	if (x == NULL || (derlen = i2d_X509(x, &der)) <= 0) {
		ERR_clear_error();
		ret = acme_fail(e, ACME_ESYNTAX, "%s: no PEM certificate", what);
		goto out;
	}
	b64 = malloc(ACME_B64URL_SIZE((size_t)derlen));
	if (b64 == NULL ||
	    acme_b64url_encode(der, (size_t)derlen, b64, ACME_B64URL_SIZE((size_t)derlen)) < 0 ||
	    (payload = json_pack("{s:s, s:i}", "certificate", b64, "reason", reason)) == NULL ||
	    (*body = json_dumps(payload, JSON_COMPACT)) == NULL)
		ret = acme_fail(e, ACME_ENOMEM, "out of memory");
out:
	json_decref(payload);
	free(b64);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	return ret;
}

int acme_cert_revoke(struct acme_client *c, const char *pem, int reason, struct acme_error *e)
{
	static const char what[] = "revokeCert";
	struct acme_error dummy;
	struct acme_resp r = { 0 };
	char *body = NULL;
	int ret;

	if (e == NULL)
		e = &dummy;
	acme_err_reset(e);
	if (pem == NULL || reason < 0 || reason > 10 || reason == 7) {
		ret = acme_fail(e, ACME_EINVAL, "%s: bad certificate or reason code", what);
		goto out;
	}
	if ((ret = acme_need_directory(c, e)) != 0)
		goto out;
	if (c->dir.revoke_cert == NULL) {
		ret = acme_fail(e, ACME_EINVAL, "%s: the CA's directory has no revokeCert", what);
		goto out;
	}
	if ((ret = revoke_payload(pem, reason, what, &body, e)) != 0 ||
	    (ret = acme_post(c, c->dir.revoke_cert, body, false, NULL, what, &r, e)) != 0 ||
	    (ret = acme_expect_status(&r, 200, 200, what, c->dir.revoke_cert, e)) != 0)
		goto out;
out:
	acme_resp_clear(&r);
	free(body);
	return ret;
}

/* A certificate identifier (RFC 9773 section 4.1): base64url and '.'. */
static bool cert_id_ok(const char *id)
{
	for (const char *p = id; *p != '\0'; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
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
	acme_err_reset(e);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || cert_id == NULL || cert_id[0] == '\0' || out == NULL || next_poll == NULL)
		return acme_fail(e, ACME_EINVAL, "%s: bad argument", what);
	if (!cert_id_ok(cert_id))
		return acme_fail(e, ACME_EINVAL, "%s: not a certificate identifier", what);
	if ((ret = acme_need_directory(c, e)) != 0)
		return ret;
	if (c->dir.renewal_info == NULL)
		return acme_fail(e, ACME_ENOENT, "%s: the CA's directory has no renewalInfo", what);
	len = strlen(c->dir.renewal_info) + strlen(cert_id) + 2;
	if ((url = malloc(len)) == NULL)
		return acme_fail(e, ACME_ENOMEM, "out of memory");
	snprintf(url, len, "%s%s%s", c->dir.renewal_info,
	         c->dir.renewal_info[strlen(c->dir.renewal_info) - 1] == '/' ? "" : "/", cert_id);
	ret = acme_http_get(c->http, url, &r);
	c->stats.requests++;
	acme_note_request(c, what, ret, &r, NULL);
	if (ret != 0) {
		acme_transport_failed(c, ret, e);
		goto out;
	}
	if (r.status != 200) {
		ret = r.status >= 400 ? acme_reply_refused(c, "GET", url, &r, e)
		                      : acme_fail(e, ACME_EPROTO, "GET %s: unexpected HTTP %ld", url,
		                                  r.status);
		goto out;
	}
	if ((ret = acme_ari_parse(r.body, r.body_len, out)) != 0) {
		ret = acme_fail(e, ACME_EPROTO, "%s: unusable reply (%s)", what, acme_strerror(ret));
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

int acme_parse_chain(const char *pem, size_t len)
{
	if (pem == NULL || len > INT_MAX)
		return ACME_EINVAL;
	return check_chain(pem, len);
}
