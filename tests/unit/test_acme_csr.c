/*
 * acme/csr.c: for every key type, a CSR for three names that OpenSSL
 * parses and verifies (X509_REQ_verify), whose subjectAltName holds exactly
 * those names in order, whose CN is the first name (none when it is longer
 * than 64), whose key is of the type asked for; the key file written 0600
 * atomically (no temporary left, an existing 0644 file replaced by a 0600
 * one), read back by OpenSSL as the CSR's key; name rules table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/b64.h"
#include "acme/csr.h"
#include "daemon/rz_err.h"

static char tmpdir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_acme_csr.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static X509_REQ *parse_csr(const struct acme_csr *csr)
{
	const uint8_t *p = csr->der;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)csr->der_len);
	uint8_t *dec = malloc(csr->der_len + 4);
	size_t n = 0;

	assert_non_null(req);
	assert_ptr_equal(p, csr->der + csr->der_len);   /* nothing after the DER */
	/* the base64url form is the same DER */
	assert_non_null(dec);
	assert_int_equal(acme_b64url_decode(csr->b64url, strlen(csr->b64url), dec,
	                                    csr->der_len + 4, &n), 0);
	assert_int_equal(n, csr->der_len);
	assert_memory_equal(dec, csr->der, n);
	free(dec);
	return req;
}

/* The SAN dNSNames of req, in order, must be exactly names[0..n). */
static void check_sans(X509_REQ *req, const char *const *names, size_t n)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens = NULL;
	int found = 0;

	assert_non_null(exts);
	assert_int_equal(sk_X509_EXTENSION_num(exts), 1);   /* only the SAN */
	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);

		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) {
			found++;
			gens = X509V3_EXT_d2i(ext);
		}
	}
	assert_int_equal(found, 1);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), (int)n);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type;
		ASN1_IA5STRING *s = GENERAL_NAME_get0_value(g, &type);

		assert_int_equal(type, GEN_DNS);
		assert_int_equal(ASN1_STRING_length(s), (int)strlen(names[i]));
		assert_memory_equal(ASN1_STRING_get0_data(s), names[i], strlen(names[i]));
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

static void check_key_type(EVP_PKEY *k, enum rz_key_type t)
{
	char group[64] = "";
	size_t glen = 0;

	switch (t) {
	case RZ_KEY_P256:
	case RZ_KEY_P384:
		assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
		assert_int_equal(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                                sizeof(group), &glen), 1);
		assert_string_equal(group, t == RZ_KEY_P256 ? "prime256v1" : "secp384r1");
		break;
	case RZ_KEY_RSA2048:
	case RZ_KEY_RSA3072:
		assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
		assert_int_equal(EVP_PKEY_get_bits(k), t == RZ_KEY_RSA2048 ? 2048 : 3072);
		break;
	default:
		fail();
	}
}

static void check_mode_0600_no_tmp(const char *path)
{
	struct stat st;
	char cmd[256];

	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep tmp)\"", tmpdir);
	assert_int_equal(system(cmd), 0);
}

static EVP_PKEY *read_key_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *k;

	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(k);
	return k;
}

static void one_type(enum rz_key_type t)
{
	static const char *const names[] = {
		"example.test", "conference.example.test", "upload.example.test",
	};
	struct acme_dkey *key = NULL, *back = NULL;
	struct acme_csr *csr = NULL;
	X509_REQ *req;
	EVP_PKEY *pub, *file_key;
	X509_NAME *subj;
	char cn[256], path[160], err[256];
	int idx;

	assert_int_equal(acme_dkey_new(t, &key), 0);
	assert_int_equal(acme_dkey_type(key), t);
	assert_int_equal(acme_csr_new(key, names, 3, &csr, err, sizeof(err)), 0);
	req = parse_csr(csr);
	pub = X509_REQ_get0_pubkey(req);
	assert_non_null(pub);
	assert_int_equal(X509_REQ_verify(req, pub), 1);
	assert_int_equal(X509_REQ_get_version(req), X509_REQ_VERSION_1);
	check_key_type(pub, t);
	check_sans(req, names, 3);
	/* SHA-256 signature */
	{
		const X509_ALGOR *alg = NULL;
		int pknid = 0, mdnid = 0;

		X509_REQ_get0_signature(req, NULL, &alg);
		assert_non_null(alg);
		assert_int_equal(OBJ_find_sigid_algs(OBJ_obj2nid(alg->algorithm), &mdnid, &pknid), 1);
		assert_int_equal(mdnid, NID_sha256);
	}
	/* CN = the first name, and only that */
	subj = X509_REQ_get_subject_name(req);
	assert_int_equal(X509_NAME_entry_count(subj), 1);
	idx = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
	assert_true(idx >= 0);
	assert_int_equal(X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof(cn)),
	                 (int)strlen(names[0]));
	assert_string_equal(cn, names[0]);

	/* the key file: 0600, atomically written, the CSR's key */
	snprintf(path, sizeof(path), "%s/privkey-%d.pem", tmpdir, (int)t);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), 0);
	check_mode_0600_no_tmp(path);
	file_key = read_key_file(path);
	assert_int_equal(EVP_PKEY_eq(file_key, pub), 1);
	check_key_type(file_key, t);
	EVP_PKEY_free(file_key);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), 0);
	assert_int_equal(acme_dkey_type(back), t);
	acme_dkey_free(back);

	X509_REQ_free(req);
	acme_csr_free(csr);
	acme_dkey_free(key);
}

static void test_p256(void **state)
{
	(void)state;
	one_type(RZ_KEY_P256);
}

static void test_p384(void **state)
{
	(void)state;
	one_type(RZ_KEY_P384);
}

static void test_rsa2048(void **state)
{
	(void)state;
	one_type(RZ_KEY_RSA2048);
}

static void test_rsa3072(void **state)
{
	(void)state;
	one_type(RZ_KEY_RSA3072);
}

static void test_bad_type(void **state)
{
	struct acme_dkey *key = (struct acme_dkey *)1;

	(void)state;
	assert_int_equal(acme_dkey_new(RZ_KEY__MAX, &key), RZ_EINVAL);
	assert_null(key);
	assert_int_equal(acme_dkey_new((enum rz_key_type)-1, &key), RZ_EINVAL);
}

/* An existing world-readable file is replaced by a 0600 one (rename: a new
 * inode, never a chmod race); a group-readable key is refused on load. */
static void test_key_file_replace_and_refuse(void **state)
{
	struct acme_dkey *key = NULL, *back = NULL;
	char path[160], err[256];
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/replace.pem", tmpdir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("old\n", fp);
	fclose(fp);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(acme_dkey_new(RZ_KEY_P256, &key), 0);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), 0);
	check_mode_0600_no_tmp(path);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), 0);
	acme_dkey_free(back);
	back = NULL;
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), RZ_EPERM);
	assert_null(back);
	/* a directory that does not exist: an error, nothing written */
	snprintf(path, sizeof(path), "%s/nodir/key.pem", tmpdir);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), RZ_EIO);
	assert_int_equal(access(path, F_OK), -1);
	acme_dkey_free(key);
}

/* Public key of the first certificate of a chain vs the key. */
static void test_check_cert(void **state)
{
	struct acme_dkey *key = NULL, *other = NULL;
	char path[160], err[256], *pem;
	EVP_PKEY *k;
	X509 *x = X509_new();
	BIO *mem = BIO_new(BIO_s_mem());
	long len;

	(void)state;
	assert_int_equal(acme_dkey_new(RZ_KEY_P256, &key), 0);
	assert_int_equal(acme_dkey_new(RZ_KEY_P256, &other), 0);
	snprintf(path, sizeof(path), "%s/cert-key.pem", tmpdir);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), 0);
	k = read_key_file(path);
	/* a self-signed certificate for that key, made here */
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(mem, x), 1);
	len = BIO_get_mem_data(mem, &pem);
	pem = strndup(pem, (size_t)len);
	assert_int_equal(acme_dkey_check_cert(key, pem), 0);
	assert_int_equal(acme_dkey_check_cert(other, pem), RZ_ECONFLICT);
	assert_int_equal(acme_dkey_check_cert(key, "no certificate"), RZ_ESYNTAX);
	free(pem);
	BIO_free(mem);
	X509_free(x);
	EVP_PKEY_free(k);
	acme_dkey_free(key);
	acme_dkey_free(other);
}

static void test_names(void **state)
{
	static const struct { const char *name; int ret; } cases[] = {
		{ "example.test", 0 },
		{ "a.b", 0 },
		{ "xn--caf-dma.example.test", 0 },
		{ "*.example.test", 0 },
		{ "0.example.test", 0 },
		{ "a-b.example.test", 0 },
		{ "", RZ_EDNAME },
		{ "single", RZ_EDNAME },
		{ "Example.test", RZ_EDNAME },
		{ "example.test.", RZ_EDNAME },
		{ ".example.test", RZ_EDNAME },
		{ "a..example.test", RZ_EDNAME },
		{ "-a.example.test", RZ_EDNAME },
		{ "a-.example.test", RZ_EDNAME },
		{ "a_b.example.test", RZ_EDNAME },
		{ "a b.example.test", RZ_EDNAME },
		{ "a.*.example.test", RZ_EDNAME },
		{ "*", RZ_EDNAME },
		{ "*.test", RZ_EDNAME },   /* a wildcard needs two labels under it */
		{ "**.example.test", RZ_EDNAME },
		{ "caf\xc3\xa9.example.test", RZ_EDNAME },
		{ "example.test\n", RZ_EDNAME },
	};
	char label64[80], long_name[300];
	struct acme_dkey *key = NULL;
	struct acme_csr *csr = NULL;
	char err[256];

	(void)state;
	assert_int_equal(acme_dkey_new(RZ_KEY_P256, &key), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *one[] = { cases[i].name };

		assert_int_equal(acme_dns_name_check(cases[i].name), cases[i].ret);
		assert_int_equal(acme_csr_new(key, one, 1, &csr, err, sizeof(err)), cases[i].ret);
		if (cases[i].ret == 0) {
			assert_non_null(csr);
			acme_csr_free(csr);
			csr = NULL;
		} else {
			assert_null(csr);
		}
	}
	assert_int_equal(acme_dns_name_check(NULL), RZ_EDNAME);
	/* label of 63 ok, 64 not */
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(long_name, sizeof(long_name), "%s.test", label64);
	assert_int_equal(acme_dns_name_check(long_name), RZ_EDNAME);
	snprintf(long_name, sizeof(long_name), "%s.test", label64 + 1);
	assert_int_equal(acme_dns_name_check(long_name), 0);

	/* counts and duplicates */
	{
		const char *dup[] = { "a.example.test", "b.example.test", "a.example.test" };
		const char *many[ACME_CSR_MAX_NAMES + 1];
		char buf[ACME_CSR_MAX_NAMES + 1][32];

		assert_int_equal(acme_csr_new(key, dup, 3, &csr, err, sizeof(err)), RZ_EINVAL);
		assert_non_null(strstr(err, "twice"));
		assert_int_equal(acme_csr_new(key, dup, 0, &csr, err, sizeof(err)), RZ_ERANGE);
		for (int i = 0; i <= ACME_CSR_MAX_NAMES; i++) {
			snprintf(buf[i], sizeof(buf[i]), "n%d.example.test", i);
			many[i] = buf[i];
		}
		assert_int_equal(acme_csr_new(key, many, ACME_CSR_MAX_NAMES + 1, &csr, err,
		                              sizeof(err)), RZ_ERANGE);
		assert_int_equal(acme_csr_new(key, many, ACME_CSR_MAX_NAMES, &csr, err, sizeof(err)), 0);
		{
			X509_REQ *req = parse_csr(csr);

			check_sans(req, many, ACME_CSR_MAX_NAMES);
			X509_REQ_free(req);
		}
		acme_csr_free(csr);
		csr = NULL;
	}
	acme_dkey_free(key);
}

/* A first name longer than 64 characters cannot be a CN: the subject is
 * empty and the name is in the SAN. */
static void test_long_first_name_no_cn(void **state)
{
	char longname[128];
	const char *names[2];
	struct acme_dkey *key = NULL;
	struct acme_csr *csr = NULL;
	X509_REQ *req;
	char err[256];

	(void)state;
	snprintf(longname, sizeof(longname), "%s.%s.example.test",
	         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	assert_true(strlen(longname) > 64);
	names[0] = longname;
	names[1] = "example.test";
	assert_int_equal(acme_dkey_new(RZ_KEY_P256, &key), 0);
	assert_int_equal(acme_csr_new(key, names, 2, &csr, err, sizeof(err)), 0);
	req = parse_csr(csr);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
	check_sans(req, names, 2);
	X509_REQ_free(req);
	acme_csr_free(csr);
	acme_dkey_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p256),
		cmocka_unit_test(test_p384),
		cmocka_unit_test(test_rsa2048),
		cmocka_unit_test(test_rsa3072),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_key_file_replace_and_refuse),
		cmocka_unit_test(test_check_cert),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_first_name_no_cn),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
