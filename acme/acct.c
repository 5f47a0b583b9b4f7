/*
 * acct.c - the account key: load/create, JWK, thumbprint, JWS signing,
 * external account binding, DNS-01 key authorization.  The only file of
 * regzone that holds the account's private key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "acme/util.h"
#include "acme/acct.h"
#include "acme/b64.h"
#include "acme/acme_err.h"

#define COORD_LEN 32                     /* P-256 field element */
#define NONCE_MAX 512
#define EAB_KEY_MAX 512

struct acme_acct {
	EVP_PKEY *key;
	char x[ACME_B64URL_SIZE(COORD_LEN)];
	char y[ACME_B64URL_SIZE(COORD_LEN)];
	char *jwk;                           /* canonical JSON, RFC 7638 */
	char thumb[ACME_B64_SHA256_SIZE];
};

/* base64url of a SHA-256 digest into exactly ACME_B64_SHA256_SIZE bytes
 * (acme_b64url_encode() wants room for padding it does not write). */
static int b64_sha256(const uint8_t *md, unsigned int mdlen, char out[ACME_B64_SHA256_SIZE])
{
	char tmp[ACME_B64URL_SIZE(32)];

	if (mdlen != 32 || acme_b64url_encode(md, mdlen, tmp, sizeof(tmp)) != 43)
		return ACME_EIO;
	memcpy(out, tmp, ACME_B64_SHA256_SIZE);
	return 0;
}

/* The key's public point as base64url x and y, the canonical JWK and its
 * thumbprint.  ACME_ETYPE unless the key is EC P-256 with a private part. */
static int derive_public(struct acme_acct *a)
{
	char group[64];
	size_t glen = 0;
	BIGNUM *x = NULL, *y = NULL, *priv = NULL;
	uint8_t bx[COORD_LEN], by[COORD_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	json_t *jwk = NULL;
	int ret = ACME_ETYPE;

	if (EVP_PKEY_get_base_id(a->key) != EVP_PKEY_EC)
		goto out;
	if (EVP_PKEY_get_utf8_string_param(a->key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	                                   sizeof(group), &glen) != 1 ||
	    strcmp(group, "prime256v1") != 0)
		goto out;
	if (EVP_PKEY_get_bn_param(a->key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) != 1)
		goto out;   /* a public key only */
	ret = ACME_EIO;
	if (EVP_PKEY_get_bn_param(a->key, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(a->key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, bx, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(y, by, COORD_LEN) != COORD_LEN)
		goto out;
	if (acme_b64url_encode(bx, COORD_LEN, a->x, sizeof(a->x)) < 0 ||
	    acme_b64url_encode(by, COORD_LEN, a->y, sizeof(a->y)) < 0)
		goto out;
	ret = ACME_ENOMEM;
	jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC", "x", a->x,
	                "y", a->y);
	if (jwk == NULL)
		goto out;
	/* RFC 7638: members in lexicographic order, no whitespace. */
	a->jwk = json_dumps(jwk, JSON_COMPACT | JSON_SORT_KEYS);
	if (a->jwk == NULL)
		goto out;
	ret = ACME_EIO;
	if (EVP_Digest(a->jwk, strlen(a->jwk), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    b64_sha256(md, mdlen, a->thumb) != 0)
		goto out;
	ret = 0;
out:
	json_decref(jwk);
	BN_free(x);
	BN_free(y);
	BN_clear_free(priv);
	return ret;
}

/* A new P-256 account key at path, never over an existing file
 * (ACME_EEXIST when path appeared meanwhile). */
static int create_key(const char *path, EVP_PKEY **key, char *err, size_t errlen)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	int ret;

	if (k == NULL) {
		acme_seterr(err, errlen, "account key: P-256 key generation failed");
		return ACME_EIO;
	}
	if ((ret = acme_key_file_write("account key", path, k, false, err, errlen)) != 0) {
		EVP_PKEY_free(k);
		return ret;
	}
	*key = k;
	return 0;
}

int acme_acct_load(const char *path, int create, struct acme_acct **out,
                   char *err, size_t errlen)
{
	struct acme_acct *a = NULL;
	EVP_PKEY *key = NULL;
	int ret = ACME_EINVAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || path == NULL || path[0] == '\0') {
		acme_seterr(err, errlen, "account key: no path");
		goto out;
	}
	*out = NULL;
	ret = acme_key_file_read("account key", path, &key, err, errlen);
	if (ret == ACME_ENOENT && create) {
		ret = create_key(path, &key, err, errlen);
		if (ret == ACME_EEXIST)   /* another process made it first: use it */
			ret = acme_key_file_read("account key", path, &key, err, errlen);
	}
	if (ret != 0)
		goto out;
	ret = ACME_ENOMEM;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		goto out;
	a->key = key;
	key = NULL;
	ret = derive_public(a);
	if (ret == ACME_ETYPE)
		acme_seterr(err, errlen, "account key %s: not an EC P-256 private key", path);
	else if (ret != 0)
		acme_seterr(err, errlen, "account key %s: cannot derive the public key", path);
	if (ret != 0)
		goto out;
	*out = a;
	a = NULL;
out:
	EVP_PKEY_free(key);
	acme_acct_free(a);
	return ret;
}

void acme_acct_free(struct acme_acct *acct)
{
	if (acct == NULL)
		return;
	EVP_PKEY_free(acct->key);
	free(acct->jwk);
	free(acct);
}

const char *acme_acct_jwk_json(const struct acme_acct *acct)
{
	return acct->jwk;
}

void acme_acct_thumbprint(const struct acme_acct *acct, char out[ACME_B64_SHA256_SIZE])
{
	memcpy(out, acct->thumb, ACME_B64_SHA256_SIZE);
}

/* base64url of len bytes, malloc'ed. */
static char *b64_dup(const void *in, size_t len)
{
	char *s = malloc(ACME_B64URL_SIZE(len));

	if (s != NULL && acme_b64url_encode(in, len, s, ACME_B64URL_SIZE(len)) < 0) {
		free(s);
		s = NULL;
	}
	return s;
}

static int b64url_chars(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		unsigned char c = (unsigned char)*s;

		if (n >= max)
			return 0;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return n > 0;
}

int acme_token_check(const char *token)
{
	if (token == NULL || !b64url_chars(token, ACME_TOKEN_MAX))
		return ACME_EINVAL;
	return 0;
}

/* The flattened JSON JWS of a signature over B64(protected).B64(payload);
 * NULL when out of memory. */
static json_t *jws_object(const char *prot_b64, const char *pay_b64, const uint8_t *sig,
                          size_t siglen)
{
	char *sig_b64 = b64_dup(sig, siglen);
	json_t *jws;

	if (sig_b64 == NULL)
		return NULL;
	jws = json_pack("{s:s, s:s, s:s}", "protected", prot_b64, "payload", pay_b64,
	                "signature", sig_b64);
	free(sig_b64);
	return jws;
}

/* The same, as compact JSON text. */
static int jws_finish(const char *prot_b64, const char *pay_b64, const uint8_t *sig,
                      size_t siglen, char **jws_out)
{
	json_t *jws = jws_object(prot_b64, pay_b64, sig, siglen);

	*jws_out = jws != NULL ? json_dumps(jws, JSON_COMPACT) : NULL;
	json_decref(jws);
	return *jws_out != NULL ? 0 : ACME_ENOMEM;
}

static char *signing_input(const char *prot_b64, const char *pay_b64, size_t *len)
{
	char *s = NULL;
	int n = asprintf(&s, "%s.%s", prot_b64, pay_b64);

	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return s;
}

int acme_acct_sign(const struct acme_acct *acct, const char *url, const char *nonce,
                   const char *kid, const char *payload, char **jws_out)
{
	json_t *prot = NULL;
	char *prot_json = NULL, *prot_b64 = NULL, *pay_b64 = NULL, *input = NULL;
	uint8_t *der = NULL, rs[2 * COORD_LEN];
	const uint8_t *p;
	size_t derlen = 0, inlen = 0;
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *sig = NULL;
	const BIGNUM *r, *s;
	int ret = ACME_EINVAL;

	if (jws_out != NULL)
		*jws_out = NULL;
	if (acct == NULL || url == NULL || url[0] == '\0' || nonce == NULL ||
	    !b64url_chars(nonce, NONCE_MAX) || payload == NULL || jws_out == NULL ||
	    (kid != NULL && kid[0] == '\0'))
		goto out;
	ret = ACME_ENOMEM;
	prot = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "nonce", nonce, "url", url);
	if (prot == NULL)
		goto out;
	if (kid != NULL) {
		if (json_object_set_new(prot, "kid", json_string(kid)) != 0)
			goto out;
	} else {
		json_t *jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", "P-256", "kty", "EC",
		                        "x", acct->x, "y", acct->y);

		if (json_object_set_new(prot, "jwk", jwk) != 0)
			goto out;
	}
	prot_json = json_dumps(prot, JSON_COMPACT);
	if (prot_json == NULL)
		goto out;
	prot_b64 = b64_dup(prot_json, strlen(prot_json));
	pay_b64 = b64_dup(payload, strlen(payload));
	if (prot_b64 == NULL || pay_b64 == NULL)
		goto out;
	input = signing_input(prot_b64, pay_b64, &inlen);
	md = EVP_MD_CTX_new();
	if (input == NULL || md == NULL)
		goto out;
	ret = ACME_EIO;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, acct->key) != 1 ||
	    EVP_DigestSign(md, NULL, &derlen, (const uint8_t *)input, inlen) != 1)
		goto out;
	der = malloc(derlen);
	if (der == NULL) {
		ret = ACME_ENOMEM;
		goto out;
	}
	if (EVP_DigestSign(md, der, &derlen, (const uint8_t *)input, inlen) != 1)
		goto out;
	/* JWS wants R || S, each zero-padded to 32 bytes (RFC 7518 3.4). */
	p = der;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_bn2binpad(r, rs, COORD_LEN) != COORD_LEN ||
	    BN_bn2binpad(s, rs + COORD_LEN, COORD_LEN) != COORD_LEN)
		goto out;
	ret = jws_finish(prot_b64, pay_b64, rs, sizeof(rs), jws_out);
out:
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(md);
	free(der);
	free(input);
	free(pay_b64);
	free(prot_b64);
	free(prot_json);
	json_decref(prot);
	return ret;
}

int acme_acct_eab(const struct acme_acct *acct, const char *kid, const char *hmac_key_b64url,
                  const char *new_account_url, json_t **out)
{
	json_t *prot = NULL;
	char *prot_json = NULL, *prot_b64 = NULL, *pay_b64 = NULL, *input = NULL;
	uint8_t key[EAB_KEY_MAX], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t keylen = 0, klen, inlen = 0;
	int ret = ACME_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (acct == NULL || kid == NULL || kid[0] == '\0' || hmac_key_b64url == NULL ||
	    new_account_url == NULL || new_account_url[0] == '\0' || out == NULL)
		goto out;
	klen = strlen(hmac_key_b64url);
	while (klen > 0 && hmac_key_b64url[klen - 1] == '=')
		klen--;
	if (klen == 0 || acme_b64url_decode(hmac_key_b64url, klen, key, sizeof(key), &keylen) != 0 ||
	    keylen == 0)
		goto out;
	ret = ACME_ENOMEM;
	prot = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", kid, "url", new_account_url);
	if (prot == NULL)
		goto out;
	prot_json = json_dumps(prot, JSON_COMPACT);
	if (prot_json == NULL)
		goto out;
	prot_b64 = b64_dup(prot_json, strlen(prot_json));
	pay_b64 = b64_dup(acct->jwk, strlen(acct->jwk));
	if (prot_b64 == NULL || pay_b64 == NULL)
		goto out;
	input = signing_input(prot_b64, pay_b64, &inlen);
	if (input == NULL)
		goto out;
	ret = ACME_EIO;
	if (HMAC(EVP_sha256(), key, (int)keylen, (const uint8_t *)input, inlen, mac,
	         &maclen) == NULL)
		goto out;
	ret = ACME_ENOMEM;
	if ((*out = jws_object(prot_b64, pay_b64, mac, maclen)) == NULL)
		goto out;
	ret = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	json_decref(prot);
	free(input);
	free(pay_b64);
	free(prot_b64);
	free(prot_json);
	return ret;
}

int acme_key_authz_dns(const struct acme_acct *acct, const char *token,
                       char out[ACME_B64_SHA256_SIZE])
{
	char *ka = NULL;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int n, ret = ACME_EINVAL;

	out[0] = '\0';
	if (acct == NULL || acme_token_check(token) != 0)
		goto out;
	ret = ACME_ENOMEM;
	n = asprintf(&ka, "%s.%s", token, acct->thumb);
	if (n < 0) {
		ka = NULL;
		goto out;
	}
	ret = ACME_EIO;
	if (EVP_Digest(ka, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    b64_sha256(md, mdlen, out) != 0)
		goto out;
	ret = 0;
out:
	free(ka);
	return ret;
}
