/* POSH documents (daemon/posh.h): the fingerprint is SHA-256 over the
 * leaf's DER, standard base64 with padding, checked against the openssl
 * command line on a certificate made here (so not against this code's own
 * arithmetic); the JSON's shape; "expires" from the remaining lifetime,
 * bounded; bad input refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "daemon/posh.h"
#include "daemon/rz_err.h"

#define DAY 86400L
#define NOW ((time_t)1800000000)   /* 2027-01-15, a fixed "now" */

/* A self-signed certificate for cn valid from NOW - 1 h until not_after,
 * appended to *pem (malloc'ed, grows). */
static void add_cert(char **pem, const char *cn, time_t not_after)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	size_t old = *pem != NULL ? strlen(*pem) : 0;
	long n;

	assert_non_null(key);
	assert_non_null(x);
	assert_non_null(bio);
	assert_int_equal(X509_set_version(x, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), (long)not_after & 0xffff), 1);
	assert_non_null(ASN1_TIME_set(X509_getm_notBefore(x), NOW - 3600));
	assert_non_null(ASN1_TIME_set(X509_getm_notAfter(x), not_after));
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                            (const unsigned char *)cn, -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_int_equal(X509_set_pubkey(x, key), 1);
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	n = BIO_get_mem_data(bio, &p);
	assert_true(n > 0);
	*pem = realloc(*pem, old + (size_t)n + 1);
	assert_non_null(*pem);
	memcpy(*pem + old, p, (size_t)n);
	(*pem)[old + (size_t)n] = '\0';
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(key);
}

/* What the openssl command line says the POSH fingerprint of pem's first
 * certificate is: DER, SHA-256, base64 (the recipe of RFC 7711's
 * examples, and what the integration test runs on Prosody's handshake). */
static void openssl_fingerprint(const char *pem, char *out, size_t len)
{
	char path[] = "/tmp/rz-posh-XXXXXX", cmd[256];
	int fd = mkstemp(path);
	FILE *fp;
	size_t n;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, pem, strlen(pem)), (ssize_t)strlen(pem));
	assert_int_equal(close(fd), 0);
	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -outform der | openssl dgst -sha256 "
	         "-binary | base64", path);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	n = fread(out, 1, len - 1, fp);
	out[n] = '\0';
	assert_int_equal(pclose(fp), 0);
	unlink(path);
	out[strcspn(out, "\n")] = '\0';
	assert_int_equal(strlen(out), 44);   /* 32 bytes: 43 characters and one '=' */
}

/* The document of pem at NOW, parsed; its fingerprint into fp. */
static json_t *doc_of(const char *pem, const char **fp, json_int_t *expires)
{
	char *text = NULL, err[256];
	size_t len = 0;
	json_error_t je;
	json_t *doc, *fps, *one, *v;

	assert_int_equal(posh_doc(pem, NOW, &text, &len, err, sizeof(err)), 0);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	assert_true(len > 0 && text[len - 1] == '\n');
	doc = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL)
		fail_msg("not JSON (%s): %s", je.text, text);
	free(text);
	/* exactly {"fingerprints": [{"sha-256": "..."}], "expires": N} */
	assert_true(json_is_object(doc));
	assert_int_equal(json_object_size(doc), 2);
	fps = json_object_get(doc, "fingerprints");
	assert_true(json_is_array(fps));
	assert_int_equal(json_array_size(fps), 1);
	one = json_array_get(fps, 0);
	assert_true(json_is_object(one));
	assert_int_equal(json_object_size(one), 1);
	v = json_object_get(one, "sha-256");
	assert_true(json_is_string(v));
	*fp = json_string_value(v);
	v = json_object_get(doc, "expires");
	assert_true(json_is_integer(v));
	*expires = json_integer_value(v);
	return doc;
}

/* The leaf's fingerprint, not another certificate's of the chain. */
static void test_fingerprint(void **state)
{
	char *leaf = NULL, *chain = NULL, *issuer = NULL, want[128], other[128];
	const char *fp;
	json_int_t expires;
	json_t *doc;

	(void)state;
	add_cert(&leaf, "example.org", NOW + 90 * DAY);
	add_cert(&issuer, "Stand-in Issuer", NOW + 900 * DAY);
	chain = malloc(strlen(leaf) + strlen(issuer) + 1);
	assert_non_null(chain);
	strcpy(chain, leaf);
	strcat(chain, issuer);
	openssl_fingerprint(leaf, want, sizeof(want));
	openssl_fingerprint(issuer, other, sizeof(other));
	assert_string_not_equal(want, other);

	doc = doc_of(chain, &fp, &expires);
	assert_string_equal(fp, want);
	assert_int_equal(expires, POSH_EXPIRES_MAX);
	json_decref(doc);
	doc = doc_of(leaf, &fp, &expires);
	assert_string_equal(fp, want);
	json_decref(doc);
	free(leaf);
	free(issuer);
	free(chain);
}

/* "expires": a tenth of what remains, at most a day, 0 once expired; the
 * same through a document as from posh_expires(). */
static void test_expires(void **state)
{
	static const struct {
		long left;           /* not_after - now, seconds */
		long long want;
	} cases[] = {
		{ 90 * DAY, POSH_EXPIRES_MAX },   /* classic: capped at a day */
		{ 10 * DAY, POSH_EXPIRES_MAX },   /* exactly the cap */
		{ 10 * DAY - 10, POSH_EXPIRES_MAX - 1 },
		{ 160 * 3600, 16 * 3600 },        /* shortlived: 16 hours */
		{ 5 * DAY, 43200 },
		{ 3600, 360 },
		{ 10, 1 },
		{ 9, 0 },
		{ 1, 0 },
		{ 0, 0 },                         /* expires now */
		{ -DAY, 0 },                      /* expired */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long got = posh_expires(NOW + cases[i].left, NOW);

		if (got != cases[i].want)
			fail_msg("case %zu: %ld s left: expires %lld, want %lld", i, cases[i].left, got,
			         cases[i].want);
	}
	for (size_t i = 3; i < sizeof(cases) / sizeof(cases[0]); i += 4) {
		char *pem = NULL;
		const char *fp;
		json_int_t expires;
		json_t *doc;

		add_cert(&pem, "example.org", NOW + cases[i].left);
		doc = doc_of(pem, &fp, &expires);
		assert_int_equal(expires, cases[i].want);
		json_decref(doc);
		free(pem);
	}
}

static void test_bad_input(void **state)
{
	char *out = (char *)"untouched", err[256];
	size_t len = 7;

	(void)state;
	assert_int_equal(posh_doc(NULL, NOW, &out, &len, err, sizeof(err)), RZ_EINVAL);
	assert_null(out);
	assert_int_equal(len, 0);
	assert_int_equal(posh_doc("-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n",
	                          NOW, &out, &len, err, sizeof(err)), RZ_ESYNTAX);
	assert_null(out);
	assert_non_null(strstr(err, "cannot be read"));
	assert_int_equal(posh_doc("", NOW, &out, NULL, NULL, 0), RZ_ESYNTAX);
	assert_int_equal(posh_doc("x", NOW, NULL, NULL, err, sizeof(err)), RZ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprint),
		cmocka_unit_test(test_expires),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
