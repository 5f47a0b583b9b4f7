/*
 * acme/acct.c: account key file (0600 on creation, others' access refused),
 * JWS signatures checked with OpenSSL independently of the signer (signing
 * input rebuilt, R||S turned back into DER, EVP_DigestVerify with the
 * public key taken from the JWK and from the key file), protected header
 * fields (jwk vs kid), RFC 7638 thumbprint recomputed from the key file,
 * DNS-01 key authorization digest, token character rules, EAB HMAC.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "acme/acct.h"
#include "acme/b64.h"
#include "acme/acme_err.h"

struct fixture {
	char dir[64];
	char path[128];
	struct acme_acct *acct;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_acme_jws.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/account.key", f->dir);
	assert_int_equal(acme_acct_load(f->path, 1, &f->acct, err, sizeof(err)), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[160];

	acme_acct_free(f->acct);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* base64url text -> malloc'ed bytes (NUL-terminated for convenience). */
static uint8_t *unb64(const char *s, size_t *n)
{
	size_t cap = strlen(s) * 3 / 4 + 4;
	uint8_t *out = malloc(cap + 1);

	assert_non_null(out);
	assert_int_equal(acme_b64url_decode(s, strlen(s), out, cap, n), 0);
	out[*n] = '\0';
	return out;
}

static char *b64(const void *in, size_t len)
{
	char *s = malloc(ACME_B64URL_SIZE(len));

	assert_non_null(s);
	assert_true(acme_b64url_encode(in, len, s, ACME_B64URL_SIZE(len)) >= 0);
	return s;
}

/* The uncompressed public point 04||X||Y of the key file, read here with
 * OpenSSL alone. */
static void file_pubpoint(const char *path, uint8_t pt[65])
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *k;
	size_t len = 0;

	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	                                                 pt, 65, &len), 1);
	assert_int_equal(len, 65);
	assert_int_equal(pt[0], 4);
	EVP_PKEY_free(k);
}

/* An EVP_PKEY from a JWK's x and y. */
static EVP_PKEY *pub_from_xy(const uint8_t x[32], const uint8_t y[32])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;
	uint8_t pt[65];

	pt[0] = 4;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	assert_non_null(bld);
	assert_non_null(ctx);
	assert_int_equal(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0), 1);
	assert_int_equal(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, 65), 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	assert_non_null(params);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* Verify a JWS (JSON text) with pkey: 1 good, 0 bad. */
static int verify_jws(json_t *jws, EVP_PKEY *pkey)
{
	const char *prot = json_string_value(json_object_get(jws, "protected"));
	const char *pay = json_string_value(json_object_get(jws, "payload"));
	const char *sigs = json_string_value(json_object_get(jws, "signature"));
	uint8_t *rs, *der = NULL;
	size_t n;
	char *input = NULL;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int derlen, ok;

	assert_non_null(prot);
	assert_non_null(pay);
	assert_non_null(sigs);
	rs = unb64(sigs, &n);
	assert_int_equal(n, 64);   /* R||S, not DER */
	assert_int_equal(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)), 1);
	derlen = i2d_ECDSA_SIG(sig, &der);
	assert_true(derlen > 0);
	assert_true(asprintf(&input, "%s.%s", prot, pay) > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
	ok = EVP_DigestVerify(md, der, (size_t)derlen, (const uint8_t *)input, strlen(input)) == 1;
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	free(input);
	free(rs);
	return ok;
}

static json_t *decode_part(json_t *jws, const char *part)
{
	size_t n;
	uint8_t *raw = unb64(json_string_value(json_object_get(jws, part)), &n);
	json_t *j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);

	free(raw);
	return j;
}

static void test_key_file_created_0600(void **state)
{
	struct fixture *f = *state;
	struct acme_acct *again = NULL;
	char t1[ACME_B64_SHA256_SIZE], t2[ACME_B64_SHA256_SIZE], err[256];
	struct stat st;
	char cmd[256];

	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* no temporary file left beside it */
	snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | wc -l) -eq 1", f->dir);
	assert_int_equal(system(cmd), 0);
	/* loading again (create or not) gives the same key */
	assert_int_equal(acme_acct_load(f->path, 0, &again, err, sizeof(err)), 0);
	acme_acct_thumbprint(f->acct, t1);
	acme_acct_thumbprint(again, t2);
	assert_string_equal(t1, t2);
	acme_acct_free(again);
	again = NULL;
	assert_int_equal(acme_acct_load(f->path, 1, &again, err, sizeof(err)), 0);
	acme_acct_thumbprint(again, t2);
	assert_string_equal(t1, t2);
	acme_acct_free(again);
}

static void test_key_file_refusals(void **state)
{
	struct fixture *f = *state;
	struct acme_acct *a = NULL;
	char path[160], err[256];
	FILE *fp;
	EVP_PKEY *k;

	/* missing without create */
	snprintf(path, sizeof(path), "%s/missing.key", f->dir);
	assert_int_equal(acme_acct_load(path, 0, &a, err, sizeof(err)), ACME_ENOENT);
	assert_null(a);
	assert_int_equal(access(path, F_OK), -1);

	/* open to group or others: refused, whatever the bits */
	static const mode_t modes[] = { 0644, 0640, 0604, 0660, 0606, 0620 };
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(f->path, modes[i]), 0);
		assert_int_equal(acme_acct_load(f->path, 1, &a, err, sizeof(err)), ACME_EPERM);
		assert_null(a);
		assert_non_null(strstr(err, "refusing"));
	}
	assert_int_equal(chmod(f->path, 0600), 0);
	/* 0400 is fine */
	assert_int_equal(chmod(f->path, 0400), 0);
	assert_int_equal(acme_acct_load(f->path, 0, &a, err, sizeof(err)), 0);
	acme_acct_free(a);
	a = NULL;
	assert_int_equal(chmod(f->path, 0600), 0);

	/* a directory is not a key */
	assert_int_equal(acme_acct_load(f->dir, 1, &a, err, sizeof(err)), ACME_EPERM);

	/* not PEM */
	snprintf(path, sizeof(path), "%s/garbage.key", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("not a key\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(acme_acct_load(path, 1, &a, err, sizeof(err)), ACME_ESYNTAX);

	/* a P-384 key is not ES256 */
	snprintf(path, sizeof(path), "%s/p384.key", f->dir);
	k = EVP_EC_gen("P-384");
	assert_non_null(k);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(fp);
	EVP_PKEY_free(k);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(acme_acct_load(path, 1, &a, err, sizeof(err)), ACME_ETYPE);
	assert_null(a);
}

/* The JWK is canonical and its thumbprint is SHA-256 of exactly that text,
 * both rebuilt here from the key file. */
static void test_jwk_and_thumbprint(void **state)
{
	struct fixture *f = *state;
	uint8_t pt[65], md[32];
	char *x, *y, canon[256], expect[ACME_B64URL_SIZE(32)], got[ACME_B64_SHA256_SIZE];
	unsigned int mdlen = 0;

	file_pubpoint(f->path, pt);
	x = b64(pt + 1, 32);
	y = b64(pt + 33, 32);
	assert_int_equal(strlen(x), 43);   /* 32 bytes, fixed length */
	snprintf(canon, sizeof(canon), "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	assert_string_equal(acme_acct_jwk_json(f->acct), canon);
	assert_int_equal(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(acme_b64url_encode(md, 32, expect, sizeof(expect)), 43);
	acme_acct_thumbprint(f->acct, got);
	assert_string_equal(got, expect);
	free(x);
	free(y);
}

static void test_sign_with_jwk(void **state)
{
	struct fixture *f = *state;
	const char *url = "https://ca.example/acme/new-acct", *nonce = "abc-DEF_123";
	const char *payload = "{\"termsOfServiceAgreed\":true,\"contact\":[\"mailto:ops@example.test\"]}";
	char *jws_text = NULL;
	json_t *jws, *prot, *jwk, *pay;
	uint8_t pt[65], *x, *y;
	size_t nx, ny;
	EVP_PKEY *from_jwk, *from_file;

	assert_int_equal(acme_acct_sign(f->acct, url, nonce, NULL, payload, &jws_text), 0);
	assert_non_null(jws_text);
	jws = json_loads(jws_text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(jws);
	assert_int_equal(json_object_size(jws), 3);

	prot = decode_part(jws, "protected");
	assert_non_null(prot);
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "nonce")), nonce);
	assert_string_equal(json_string_value(json_object_get(prot, "url")), url);
	assert_null(json_object_get(prot, "kid"));
	assert_int_equal(json_object_size(prot), 4);
	jwk = json_object_get(prot, "jwk");
	assert_true(json_is_object(jwk));
	assert_int_equal(json_object_size(jwk), 4);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "EC");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "P-256");
	x = unb64(json_string_value(json_object_get(jwk, "x")), &nx);
	y = unb64(json_string_value(json_object_get(jwk, "y")), &ny);
	assert_int_equal(nx, 32);
	assert_int_equal(ny, 32);
	/* the JWK is the key file's public key */
	file_pubpoint(f->path, pt);
	assert_memory_equal(pt + 1, x, 32);
	assert_memory_equal(pt + 33, y, 32);

	pay = decode_part(jws, "payload");
	assert_non_null(pay);
	assert_true(json_is_true(json_object_get(pay, "termsOfServiceAgreed")));

	from_jwk = pub_from_xy(x, y);
	assert_true(verify_jws(jws, from_jwk));
	{
		FILE *fp = fopen(f->path, "r");

		assert_non_null(fp);
		from_file = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
		fclose(fp);
		assert_non_null(from_file);
		assert_true(verify_jws(jws, from_file));
		EVP_PKEY_free(from_file);
	}
	/* a changed payload does not verify */
	{
		char *other = b64("{\"termsOfServiceAgreed\":false}", 30);

		json_object_set_new(jws, "payload", json_string(other));
		assert_false(verify_jws(jws, from_jwk));
		free(other);
	}
	/* and another key does not verify the original */
	{
		EVP_PKEY *k2 = EVP_EC_gen("P-256");
		json_t *orig = json_loads(jws_text, 0, NULL);

		assert_false(verify_jws(orig, k2));
		assert_true(verify_jws(orig, from_jwk));
		EVP_PKEY_free(k2);
		json_decref(orig);
	}
	EVP_PKEY_free(from_jwk);
	free(x);
	free(y);
	json_decref(pay);
	json_decref(prot);
	json_decref(jws);
	free(jws_text);
}

static void test_sign_with_kid_post_as_get(void **state)
{
	struct fixture *f = *state;
	const char *kid = "https://ca.example/acme/acct/42";
	char *jws_text = NULL;
	json_t *jws, *prot;
	uint8_t pt[65];
	EVP_PKEY *pub;

	assert_int_equal(acme_acct_sign(f->acct, "https://ca.example/acme/order/7", "n0nce", kid, "",
	                                &jws_text), 0);
	jws = json_loads(jws_text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(jws);
	/* POST-as-GET: the payload is the empty string */
	assert_string_equal(json_string_value(json_object_get(jws, "payload")), "");
	prot = decode_part(jws, "protected");
	assert_string_equal(json_string_value(json_object_get(prot, "kid")), kid);
	assert_null(json_object_get(prot, "jwk"));
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "ES256");
	assert_string_equal(json_string_value(json_object_get(prot, "url")),
	                    "https://ca.example/acme/order/7");
	assert_int_equal(json_object_size(prot), 4);
	file_pubpoint(f->path, pt);
	pub = pub_from_xy(pt + 1, pt + 33);
	assert_true(verify_jws(jws, pub));
	EVP_PKEY_free(pub);
	json_decref(prot);
	json_decref(jws);
	free(jws_text);
}

static void test_sign_bad_arguments(void **state)
{
	struct fixture *f = *state;
	char *jws = NULL;

	assert_int_equal(acme_acct_sign(f->acct, "", "n", NULL, "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, NULL, "n", NULL, "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, "https://x/", "", NULL, "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, "https://x/", "a+b", NULL, "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, "https://x/", "a\"b", NULL, "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, "https://x/", "n", "", "{}", &jws), ACME_EINVAL);
	assert_int_equal(acme_acct_sign(f->acct, "https://x/", "n", NULL, NULL, &jws), ACME_EINVAL);
	assert_null(jws);
}

/* Many threads signing with one account at once; every JWS verifies. */
struct thr {
	const struct acme_acct *acct;
	EVP_PKEY *pub;
	int bad;
};

static void *sign_loop(void *arg)
{
	struct thr *t = arg;

	for (int i = 0; i < 50; i++) {
		char *text = NULL;
		json_t *j;

		if (acme_acct_sign(t->acct, "https://ca.example/x", "nonce", "https://ca.example/a/1",
		                   "{\"i\":1}", &text) != 0) {
			t->bad++;
			continue;
		}
		j = json_loads(text, 0, NULL);
		if (j == NULL || !verify_jws(j, t->pub))
			t->bad++;
		json_decref(j);
		free(text);
	}
	return NULL;
}

static void test_sign_threads(void **state)
{
	struct fixture *f = *state;
	pthread_t tid[4];
	struct thr t[4];
	uint8_t pt[65];
	EVP_PKEY *pub;

	file_pubpoint(f->path, pt);
	pub = pub_from_xy(pt + 1, pt + 33);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ f->acct, pub, 0 };
		assert_int_equal(pthread_create(&tid[i], NULL, sign_loop, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(t[i].bad, 0);
	}
	EVP_PKEY_free(pub);
}

static void test_key_authz_dns(void **state)
{
	struct fixture *f = *state;
	/* the token of RFC 8555 section 8.4's example */
	const char *token = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
	char thumb[ACME_B64URL_SIZE(32)], out[ACME_B64_SHA256_SIZE], expect[ACME_B64URL_SIZE(32)];
	char ka[512];
	uint8_t md[32];
	unsigned int mdlen = 0;

	/* thumbprint recomputed from the key file, then the digest */
	{
		uint8_t pt[65];
		char *x, *y, canon[256];

		file_pubpoint(f->path, pt);
		x = b64(pt + 1, 32);
		y = b64(pt + 33, 32);
		snprintf(canon, sizeof(canon),
		         "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
		assert_int_equal(EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL), 1);
		assert_int_equal(acme_b64url_encode(md, 32, thumb, sizeof(thumb)), 43);
		free(x);
		free(y);
	}
	snprintf(ka, sizeof(ka), "%s.%s", token, thumb);
	assert_int_equal(EVP_Digest(ka, strlen(ka), md, &mdlen, EVP_sha256(), NULL), 1);
	assert_int_equal(acme_b64url_encode(md, 32, expect, sizeof(expect)), 43);
	assert_int_equal(acme_key_authz_dns(f->acct, token, out), 0);
	assert_string_equal(out, expect);
	assert_int_equal(strlen(out), 43);
}

static void test_token_rules(void **state)
{
	struct fixture *f = *state;
	char long_ok[ACME_TOKEN_MAX + 1], too_long[ACME_TOKEN_MAX + 2];
	static const struct { const char *tok; int ret; } cases[] = {
		{ "abc", 0 },
		{ "A-Z_a-z_0-9", 0 },
		{ "-", 0 },
		{ "", ACME_EINVAL },
		{ "a.b", ACME_EINVAL },
		{ "a+b", ACME_EINVAL },
		{ "a/b", ACME_EINVAL },
		{ "abc=", ACME_EINVAL },
		{ "a b", ACME_EINVAL },
		{ "abc\n", ACME_EINVAL },
		{ "a;rm -rf", ACME_EINVAL },
		{ "a\"b", ACME_EINVAL },
		{ "../../etc/passwd", ACME_EINVAL },
		{ "caf\xc3\xa9", ACME_EINVAL },
	};
	char out[ACME_B64_SHA256_SIZE];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		strcpy(out, "x");
		assert_int_equal(acme_token_check(cases[i].tok), cases[i].ret);
		assert_int_equal(acme_key_authz_dns(f->acct, cases[i].tok, out), cases[i].ret);
		if (cases[i].ret != 0)
			assert_string_equal(out, "");
		else
			assert_int_equal(strlen(out), 43);
	}
	assert_int_equal(acme_token_check(NULL), ACME_EINVAL);
	assert_int_equal(acme_key_authz_dns(f->acct, NULL, out), ACME_EINVAL);
	memset(long_ok, 'a', ACME_TOKEN_MAX);
	long_ok[ACME_TOKEN_MAX] = '\0';
	memset(too_long, 'a', ACME_TOKEN_MAX + 1);
	too_long[ACME_TOKEN_MAX + 1] = '\0';
	assert_int_equal(acme_key_authz_dns(f->acct, long_ok, out), 0);
	assert_int_equal(acme_key_authz_dns(f->acct, too_long, out), ACME_EINVAL);
}

static void test_eab(void **state)
{
	struct fixture *f = *state;
	static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
	const char *url = "https://ca.example/acme/new-acct";
	char *key_b64 = b64(key, sizeof(key)), *padded = NULL, *input = NULL, *sig_expect;
	json_t *eab = NULL, *eab2 = NULL, *prot;
	uint8_t *payload, mac[32];
	unsigned int maclen = 0;
	size_t n;

	assert_int_equal(acme_acct_eab(f->acct, "kid-1", key_b64, url, &eab), 0);
	assert_non_null(eab);
	assert_int_equal(json_object_size(eab), 3);
	prot = decode_part(eab, "protected");
	assert_string_equal(json_string_value(json_object_get(prot, "alg")), "HS256");
	assert_string_equal(json_string_value(json_object_get(prot, "kid")), "kid-1");
	assert_string_equal(json_string_value(json_object_get(prot, "url")), url);
	assert_null(json_object_get(prot, "nonce"));   /* RFC 8555 7.3.4: no nonce */
	assert_int_equal(json_object_size(prot), 3);
	payload = unb64(json_string_value(json_object_get(eab, "payload")), &n);
	assert_string_equal((const char *)payload, acme_acct_jwk_json(f->acct));
	/* HMAC-SHA256 over the signing input, with the decoded key */
	assert_true(asprintf(&input, "%s.%s", json_string_value(json_object_get(eab, "protected")),
	                     json_string_value(json_object_get(eab, "payload"))) > 0);
	assert_non_null(HMAC(EVP_sha256(), key, sizeof(key), (const uint8_t *)input, strlen(input),
	                     mac, &maclen));
	assert_int_equal(maclen, 32);
	sig_expect = b64(mac, 32);
	assert_string_equal(json_string_value(json_object_get(eab, "signature")), sig_expect);

	/* '=' padding on the key is tolerated and changes nothing */
	assert_true(asprintf(&padded, "%s=", key_b64) > 0);
	assert_int_equal(acme_acct_eab(f->acct, "kid-1", padded, url, &eab2), 0);
	assert_string_equal(json_string_value(json_object_get(eab2, "signature")), sig_expect);
	json_decref(eab2);
	eab2 = NULL;

	/* bad keys and arguments */
	assert_int_equal(acme_acct_eab(f->acct, "kid-1", "", url, &eab2), ACME_EINVAL);
	assert_int_equal(acme_acct_eab(f->acct, "kid-1", "ab+/", url, &eab2), ACME_EINVAL);
	assert_int_equal(acme_acct_eab(f->acct, "", key_b64, url, &eab2), ACME_EINVAL);
	assert_int_equal(acme_acct_eab(f->acct, "kid-1", key_b64, "", &eab2), ACME_EINVAL);
	assert_null(eab2);

	free(sig_expect);
	free(input);
	free(payload);
	free(padded);
	free(key_b64);
	json_decref(prot);
	json_decref(eab);
}

/* Several processes creating the same missing key at once: one key wins
 * (link() never replaces), every process ends up using it. */
static void test_create_race(void **state)
{
	struct fixture *f = *state;
	char path[160], err[256], thumbs[6][ACME_B64_SHA256_SIZE];
	int fds[6][2];
	pid_t pids[6];
	struct stat st;

	snprintf(path, sizeof(path), "%s/race.key", f->dir);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct acme_acct *a = NULL;
			char t[ACME_B64_SHA256_SIZE] = "";

			close(fds[i][0]);
			if (acme_acct_load(path, 1, &a, err, sizeof(err)) == 0)
				acme_acct_thumbprint(a, t);
			if (write(fds[i][1], t, sizeof(t)) != (ssize_t)sizeof(t))
				_exit(2);
			acme_acct_free(a);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < 6; i++) {
		int status = 0;

		assert_int_equal(read(fds[i][0], thumbs[i], sizeof(thumbs[i])), (ssize_t)sizeof(thumbs[i]));
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(strlen(thumbs[i]), 43);
		assert_string_equal(thumbs[i], thumbs[0]);
	}
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	{
		/* no temporary file left behind by the losers */
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "test $(ls -A '%s' | grep -c tmp) -eq 0", f->dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_key_file_created_0600, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_jwk_and_thumbprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_with_jwk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_with_kid_post_as_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_authz_dns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_race, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
