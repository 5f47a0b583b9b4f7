/*
 * posh.c - the POSH document of a certificate (see posh.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/ari.h"
#include "daemon/posh.h"
#include "daemon/rz_err.h"

long long posh_expires(time_t not_after, time_t now)
{
	long long left;

	if (not_after <= now)
		return 0;
	left = ((long long)not_after - (long long)now) / POSH_EXPIRES_DIVISOR;
	return left < POSH_EXPIRES_MAX ? left : POSH_EXPIRES_MAX;
}

/* base64 (standard alphabet, padded) of SHA-256 over x's DER encoding:
 * what RFC 7711 fingerprints, the certificate as it goes on the wire. */
static int fingerprint(X509 *x, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	int n, ret = RZ_ENOMEM;

	if ((n = i2d_X509(x, &der)) <= 0)
		return RZ_ESYNTAX;
	if (EVP_Digest(der, (size_t)n, md, &mdlen, EVP_sha256(), NULL) == 1 &&
	    outlen >= ((size_t)mdlen + 2) / 3 * 4 + 1) {
		EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);
		ret = 0;
	}
	OPENSSL_free(der);
	return ret;
}

int posh_doc(const char *chain_pem, time_t now, char **out, size_t *outlen, char *err,
             size_t errlen)
{
	char fp[64], *text = NULL;
	BIO *bio = NULL;
	X509 *x = NULL;
	json_t *doc = NULL;
	time_t nb, na;
	size_t len;
	int ret = RZ_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (errlen > 0)
		err[0] = '\0';
	if (chain_pem == NULL || out == NULL) {
		snprintf(err, errlen, "posh: no chain or no place for the document");
		goto out;
	}
	ret = RZ_ENOMEM;
	if ((bio = BIO_new_mem_buf(chain_pem, -1)) == NULL)
		goto out;
	ret = RZ_ESYNTAX;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		snprintf(err, errlen, "posh: the chain's first certificate cannot be read");
		goto out;
	}
	if (acme_cert_validity(x, &nb, &na) != 0) {
		snprintf(err, errlen, "posh: the certificate's validity cannot be read");
		goto out;
	}
	if ((ret = fingerprint(x, fp, sizeof(fp))) != 0) {
		snprintf(err, errlen, "posh: the certificate's fingerprint: %s", rz_strerror(ret));
		goto out;
	}
	/* jansson keeps the keys in the order given */
	ret = RZ_ENOMEM;
	doc = json_pack("{s:[{s:s}],s:I}", "fingerprints", "sha-256", fp, "expires",
	                (json_int_t)posh_expires(na, now));
	if (doc == NULL || (text = json_dumps(doc, JSON_INDENT(2))) == NULL)
		goto out;
	len = strlen(text);
	if ((*out = malloc(len + 2)) == NULL)
		goto out;
	memcpy(*out, text, len);
	memcpy(*out + len, "\n", 2);
	if (outlen != NULL)
		*outlen = len + 1;
	ret = 0;
out:
	if (ret == RZ_ENOMEM && errlen > 0 && err[0] == '\0')
		snprintf(err, errlen, "posh: out of memory");
	free(text);
	json_decref(doc);
	X509_free(x);
	BIO_free(bio);
	return ret;
}
