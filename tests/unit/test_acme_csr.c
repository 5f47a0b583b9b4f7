/*
 * acme/csr.c: for every key type, a CSR for three names that OpenSSL
 * parses and verifies (X509_REQ_verify), whose subjectAltName holds exactly
 * those names in order, whose CN is the first name (none when it is longer
 * than 64), whose key is of the type asked for; the key file written 0600
 * atomically (no temporary left, an existing 0644 file replaced by a 0600
 * one), read back by OpenSSL as the CSR's key; name rules table-driven;
 * the dNSNames of certificates made here (acme_cert_names()) and name-set
 * comparison (acme_names_same_set()), table-driven; the key type names
 * both ways (acme_key_type_name(), acme_key_type_from_name()).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include "acme/acme_err.h"

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

static void check_key_type(EVP_PKEY *k, enum acme_key_type t)
{
	char group[64] = "";
	size_t glen = 0;

	switch (t) {
	case ACME_KEY_P256:
	case ACME_KEY_P384:
		assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_EC);
		assert_int_equal(EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                                sizeof(group), &glen), 1);
		assert_string_equal(group, t == ACME_KEY_P256 ? "prime256v1" : "secp384r1");
		break;
	case ACME_KEY_RSA2048:
	case ACME_KEY_RSA3072:
		assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
		assert_int_equal(EVP_PKEY_get_bits(k), t == ACME_KEY_RSA2048 ? 2048 : 3072);
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

static void one_type(enum acme_key_type t)
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
	one_type(ACME_KEY_P256);
}

static void test_p384(void **state)
{
	(void)state;
	one_type(ACME_KEY_P384);
}

static void test_rsa2048(void **state)
{
	(void)state;
	one_type(ACME_KEY_RSA2048);
}

static void test_rsa3072(void **state)
{
	(void)state;
	one_type(ACME_KEY_RSA3072);
}

static void test_bad_type(void **state)
{
	struct acme_dkey *key = (struct acme_dkey *)1;

	(void)state;
	assert_int_equal(acme_dkey_new(ACME_KEY__MAX, &key), ACME_EINVAL);
	assert_null(key);
	assert_int_equal(acme_dkey_new((enum acme_key_type)-1, &key), ACME_EINVAL);
}

/* Each type's name, both ways; names are exact (lowercase, no spaces). */
static void test_key_type_names(void **state)
{
	static const struct {
		const char *name;
		int ret;
		enum acme_key_type type;
	} cases[] = {
		{ "p256", 0, ACME_KEY_P256 },
		{ "p384", 0, ACME_KEY_P384 },
		{ "rsa2048", 0, ACME_KEY_RSA2048 },
		{ "rsa3072", 0, ACME_KEY_RSA3072 },
		{ "P256", ACME_ENOENT, ACME_KEY__MAX },
		{ "p256 ", ACME_ENOENT, ACME_KEY__MAX },
		{ "p25", ACME_ENOENT, ACME_KEY__MAX },
		{ "", ACME_ENOENT, ACME_KEY__MAX },
		{ "ed25519", ACME_ENOENT, ACME_KEY__MAX },
		{ "rsa4096", ACME_ENOENT, ACME_KEY__MAX },
	};
	enum acme_key_type t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t = ACME_KEY__MAX;   /* untouched on error */
		if (acme_key_type_from_name(cases[i].name, &t) != cases[i].ret || t != cases[i].type)
			fail_msg("case %zu \"%s\": %d", i, cases[i].name, (int)t);
		if (cases[i].ret == 0)
			assert_string_equal(acme_key_type_name(t), cases[i].name);
	}
	for (int k = 0; k < ACME_KEY__MAX; k++) {
		assert_int_equal(acme_key_type_from_name(acme_key_type_name((enum acme_key_type)k), &t),
		                 0);
		assert_int_equal(t, k);
	}
	assert_null(acme_key_type_name(ACME_KEY__MAX));
	assert_null(acme_key_type_name((enum acme_key_type)-1));
	assert_int_equal(acme_key_type_from_name(NULL, &t), ACME_EINVAL);
	assert_int_equal(acme_key_type_from_name("p256", NULL), ACME_EINVAL);
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
	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &key), 0);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), 0);
	check_mode_0600_no_tmp(path);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), 0);
	acme_dkey_free(back);
	back = NULL;
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(acme_dkey_load(path, &back, err, sizeof(err)), ACME_EPERM);
	assert_null(back);
	/* a directory that does not exist: an error, nothing written */
	snprintf(path, sizeof(path), "%s/nodir/key.pem", tmpdir);
	assert_int_equal(acme_key_write_pem(key, path, err, sizeof(err)), ACME_EIO);
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
	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &key), 0);
	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &other), 0);
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
	assert_int_equal(acme_dkey_check_cert(other, pem), ACME_ECONFLICT);
	assert_int_equal(acme_dkey_check_cert(key, "no certificate"), ACME_ESYNTAX);
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
		{ "", ACME_EDNAME },
		{ "single", ACME_EDNAME },
		{ "Example.test", ACME_EDNAME },
		{ "example.test.", ACME_EDNAME },
		{ ".example.test", ACME_EDNAME },
		{ "a..example.test", ACME_EDNAME },
		{ "-a.example.test", ACME_EDNAME },
		{ "a-.example.test", ACME_EDNAME },
		{ "a_b.example.test", ACME_EDNAME },
		{ "a b.example.test", ACME_EDNAME },
		{ "a.*.example.test", ACME_EDNAME },
		{ "*", ACME_EDNAME },
		{ "*.test", ACME_EDNAME },   /* a wildcard needs two labels under it */
		{ "**.example.test", ACME_EDNAME },
		{ "caf\xc3\xa9.example.test", ACME_EDNAME },
		{ "example.test\n", ACME_EDNAME },
	};
	char label64[80], long_name[300];
	struct acme_dkey *key = NULL;
	struct acme_csr *csr = NULL;
	char err[256];

	(void)state;
	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &key), 0);
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
	assert_int_equal(acme_dns_name_check(NULL), ACME_EDNAME);
	/* label of 63 ok, 64 not */
	memset(label64, 'a', 64);
	label64[64] = '\0';
	snprintf(long_name, sizeof(long_name), "%s.test", label64);
	assert_int_equal(acme_dns_name_check(long_name), ACME_EDNAME);
	snprintf(long_name, sizeof(long_name), "%s.test", label64 + 1);
	assert_int_equal(acme_dns_name_check(long_name), 0);

	/* counts and duplicates */
	{
		const char *dup[] = { "a.example.test", "b.example.test", "a.example.test" };
		const char *many[ACME_CSR_MAX_NAMES + 1];
		char buf[ACME_CSR_MAX_NAMES + 1][32];

		assert_int_equal(acme_csr_new(key, dup, 3, &csr, err, sizeof(err)), ACME_EINVAL);
		assert_non_null(strstr(err, "twice"));
		assert_int_equal(acme_csr_new(key, dup, 0, &csr, err, sizeof(err)), ACME_ERANGE);
		for (int i = 0; i <= ACME_CSR_MAX_NAMES; i++) {
			snprintf(buf[i], sizeof(buf[i]), "n%d.example.test", i);
			many[i] = buf[i];
		}
		assert_int_equal(acme_csr_new(key, many, ACME_CSR_MAX_NAMES + 1, &csr, err,
		                              sizeof(err)), ACME_ERANGE);
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
	assert_int_equal(acme_dkey_new(ACME_KEY_P256, &key), 0);
	assert_int_equal(acme_csr_new(key, names, 2, &csr, err, sizeof(err)), 0);
	req = parse_csr(csr);
	assert_int_equal(X509_REQ_verify(req, X509_REQ_get0_pubkey(req)), 1);
	assert_int_equal(X509_NAME_entry_count(X509_REQ_get_subject_name(req)), 0);
	check_sans(req, names, 2);
	X509_REQ_free(req);
	acme_csr_free(csr);
	acme_dkey_free(key);
}

/* ------------------------------------------------ certificate names */

enum { SAN_DNS, SAN_IP, SAN_EMAIL, SAN_URI };

struct san {
	int kind;
	const char *val;
	size_t len;          /* 0: strlen(val) */
};

#define MAX_SANS 4

/*
 * A self-signed certificate (P-256, CN example.test) whose subjectAltName
 * holds sans[0..n) in order, as PEM; next to it, `exts` copies of that
 * extension (0: none, 2: a duplicate extension).  free() the result.
 */
static char *make_cert(const struct san *sans, size_t n, int exts)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *subj = X509_NAME_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	BIO *mem = BIO_new(BIO_s_mem());
	char *pem, *out;
	long len;

	assert_non_null(k);
	assert_non_null(x);
	assert_non_null(subj);
	assert_non_null(gens);
	assert_non_null(mem);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_int_equal(X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	                                            (const unsigned char *)"example.test", -1, -1,
	                                            0), 1);
	assert_int_equal(X509_set_subject_name(x, subj), 1);
	assert_int_equal(X509_set_issuer_name(x, subj), 1);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *v = sans[i].kind == SAN_IP ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
		size_t l = sans[i].len ? sans[i].len : strlen(sans[i].val);
		static const int types[] = { GEN_DNS, GEN_IPADD, GEN_EMAIL, GEN_URI };

		assert_non_null(g);
		assert_non_null(v);
		assert_int_equal(ASN1_STRING_set(v, sans[i].val, (int)l), 1);
		GENERAL_NAME_set0_value(g, types[sans[i].kind], v);
		assert_true(sk_GENERAL_NAME_push(gens, g) > 0);
	}
	for (int i = 0; i < exts; i++) {
		X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);

		assert_non_null(ext);
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(mem, x), 1);
	len = BIO_get_mem_data(mem, &pem);
	out = strndup(pem, (size_t)len);
	assert_non_null(out);
	BIO_free(mem);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subj);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

static void test_cert_names_rows(void **state)
{
	static const struct {
		const char *what;
		struct san sans[MAX_SANS];
		size_t n;
		int exts;
		int ret;
		const char *want[MAX_SANS];
		size_t nwant;
	} cases[] = {
		{ "three names, in order",
		  { { SAN_DNS, "example.test", 0 }, { SAN_DNS, "conference.example.test", 0 },
		    { SAN_DNS, "upload.example.test", 0 } }, 3, 1, 0,
		  { "example.test", "conference.example.test", "upload.example.test" }, 3 },
		{ "lowercased", { { SAN_DNS, "Upload.EXAMPLE.test", 0 } }, 1, 1, 0,
		  { "upload.example.test" }, 1 },
		{ "wildcard", { { SAN_DNS, "*.example.test", 0 }, { SAN_DNS, "example.test", 0 } },
		  2, 1, 0, { "*.example.test", "example.test" }, 2 },
		{ "A-label", { { SAN_DNS, "xn--bcher-kva.example", 0 } }, 1, 1, 0,
		  { "xn--bcher-kva.example" }, 1 },
		{ "repeats kept", { { SAN_DNS, "a.example.test", 0 }, { SAN_DNS, "a.example.test", 0 } },
		  2, 1, 0, { "a.example.test", "a.example.test" }, 2 },
		{ "IP SAN ignored",
		  { { SAN_IP, "\x7f\x00\x00\x01", 4 }, { SAN_DNS, "example.test", 0 },
		    { SAN_IP, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16 } }, 3, 1, 0,
		  { "example.test" }, 1 },
		{ "only an IP SAN", { { SAN_IP, "\x7f\x00\x00\x01", 4 } }, 1, 1, 0, { NULL }, 0 },
		{ "e-mail and URI ignored",
		  { { SAN_EMAIL, "admin@example.test", 0 }, { SAN_DNS, "example.test", 0 },
		    { SAN_URI, "xmpp:example.test", 0 } }, 3, 1, 0, { "example.test" }, 1 },
		{ "no SAN, CN only", { { 0, NULL, 0 } }, 0, 0, 0, { NULL }, 0 },
		{ "an empty SAN extension", { { 0, NULL, 0 } }, 0, 1, 0, { NULL }, 0 },
		/* refused */
		{ "two SAN extensions", { { SAN_DNS, "example.test", 0 } }, 1, 2, ACME_ESYNTAX,
		  { NULL }, 0 },
		{ "embedded NUL", { { SAN_DNS, "example.test\0.evil.test", 23 } }, 1, 1, ACME_ESYNTAX,
		  { NULL }, 0 },
		{ "NUL among good names",
		  { { SAN_DNS, "example.test", 0 }, { SAN_DNS, "evil.test\0", 10 } }, 2, 1, ACME_ESYNTAX,
		  { NULL }, 0 },
		{ "underscore", { { SAN_DNS, "a_b.example.test", 0 } }, 1, 1, ACME_ESYNTAX, { NULL }, 0 },
		{ "space", { { SAN_DNS, "a b.example.test", 0 } }, 1, 1, ACME_ESYNTAX, { NULL }, 0 },
		{ "non-ASCII", { { SAN_DNS, "caf\xc3\xa9.example.test", 0 } }, 1, 1, ACME_ESYNTAX,
		  { NULL }, 0 },
		{ "empty dNSName", { { SAN_DNS, "", 0 } }, 1, 1, ACME_ESYNTAX, { NULL }, 0 },
		{ "trailing dot", { { SAN_DNS, "example.test.", 0 } }, 1, 1, ACME_ESYNTAX, { NULL }, 0 },
		{ "one label", { { SAN_DNS, "localhost", 0 } }, 1, 1, ACME_ESYNTAX, { NULL }, 0 },
		{ "inner wildcard", { { SAN_DNS, "a.*.example.test", 0 } }, 1, 1, ACME_ESYNTAX,
		  { NULL }, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *pem = make_cert(cases[i].sans, cases[i].n, cases[i].exts);
		char **names = (char **)&pem;
		size_t n = 99;
		int ret = acme_cert_names(pem, &names, &n);

		if (ret != cases[i].ret)
			fail_msg("%s: ret %d, want %d", cases[i].what, ret, cases[i].ret);
		if (ret != 0) {
			assert_null(names);
			assert_int_equal(n, 0);
		} else {
			if (n != cases[i].nwant)
				fail_msg("%s: %zu names, want %zu", cases[i].what, n, cases[i].nwant);
			if (n == 0)
				assert_null(names);
			for (size_t k = 0; k < n; k++)
				assert_string_equal(names[k], cases[i].want[k]);
			/* and as a set, against the list it should be */
			assert_true(acme_names_same_set((const char *const *)names, n,
			                                cases[i].want, cases[i].nwant));
		}
		acme_names_free(names, n);
		free(pem);
	}
}

/* Only the first certificate of a chain counts; text around PEM blocks is
 * skipped; no certificate at all is an error. */
static void test_cert_names_chain(void **state)
{
	static const struct san leaf[] = { { SAN_DNS, "example.test", 0 },
	                                   { SAN_DNS, "upload.example.test", 0 } };
	static const struct san other[] = { { SAN_DNS, "intermediate.test", 0 } };
	static const char *const order[] = { "upload.example.test", "example.test" };
	static const char *const wrong[] = { "example.test", "intermediate.test" };
	char *a = make_cert(leaf, 2, 1), *b = make_cert(other, 1, 1);
	size_t len = strlen(a) + strlen(b) + 64, n = 0;
	char *chain = malloc(len), **names = NULL;

	(void)state;
	assert_non_null(chain);
	snprintf(chain, len, "leaf certificate:\n%s%s", a, b);
	assert_int_equal(acme_cert_names(chain, &names, &n), 0);
	assert_int_equal(n, 2);
	assert_true(acme_names_same_set((const char *const *)names, n, order, 2));
	assert_false(acme_names_same_set((const char *const *)names, n, wrong, 2));
	acme_names_free(names, n);
	/* the other order: the other leaf */
	snprintf(chain, len, "%s%s", b, a);
	assert_int_equal(acme_cert_names(chain, &names, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "intermediate.test");
	assert_false(acme_names_same_set((const char *const *)names, n, order, 2));
	acme_names_free(names, n);

	/* no certificate */
	names = (char **)&chain;
	n = 5;
	assert_int_equal(acme_cert_names("", &names, &n), ACME_ESYNTAX);
	assert_null(names);
	assert_int_equal(n, 0);
	assert_int_equal(acme_cert_names("no certificate here", &names, &n), ACME_ESYNTAX);
	assert_int_equal(acme_cert_names("-----BEGIN CERTIFICATE-----\nAAAA\n"
	                                 "-----END CERTIFICATE-----\n", &names, &n), ACME_ESYNTAX);
	/* a truncated leaf */
	snprintf(chain, len, "%.*s", (int)(strlen(a) / 2), a);
	assert_int_equal(acme_cert_names(chain, &names, &n), ACME_ESYNTAX);
	assert_int_equal(acme_cert_names(NULL, &names, &n), ACME_EINVAL);
	assert_int_equal(acme_cert_names(a, NULL, &n), ACME_EINVAL);
	assert_int_equal(acme_cert_names(a, &names, NULL), ACME_EINVAL);
	acme_names_free(NULL, 3);
	free(chain);
	free(a);
	free(b);
}

/* ACME_CSR_MAX_NAMES dNSNames are read, one more is refused; non-DNS names
 * do not count. */
static void test_cert_names_bound(void **state)
{
	struct san sans[ACME_CSR_MAX_NAMES + 2];
	char buf[ACME_CSR_MAX_NAMES + 1][32], **names = NULL, *pem;
	size_t n = 0;

	(void)state;
	for (int i = 0; i <= ACME_CSR_MAX_NAMES; i++) {
		snprintf(buf[i], sizeof(buf[i]), "n%d.example.test", i);
		sans[i].kind = SAN_DNS;
		sans[i].val = buf[i];
		sans[i].len = 0;
	}
	sans[ACME_CSR_MAX_NAMES + 1] = (struct san){ SAN_IP, "\x7f\0\0\x01", 4 };
	/* 100 names and an IP address */
	sans[ACME_CSR_MAX_NAMES] = sans[ACME_CSR_MAX_NAMES + 1];
	pem = make_cert(sans, ACME_CSR_MAX_NAMES + 1, 1);
	assert_int_equal(acme_cert_names(pem, &names, &n), 0);
	assert_int_equal(n, ACME_CSR_MAX_NAMES);
	assert_string_equal(names[ACME_CSR_MAX_NAMES - 1], "n99.example.test");
	acme_names_free(names, n);
	free(pem);
	/* 101 names */
	sans[ACME_CSR_MAX_NAMES] = (struct san){ SAN_DNS, buf[ACME_CSR_MAX_NAMES], 0 };
	pem = make_cert(sans, ACME_CSR_MAX_NAMES + 1, 1);
	assert_int_equal(acme_cert_names(pem, &names, &n), ACME_ERANGE);
	assert_null(names);
	assert_int_equal(n, 0);
	free(pem);
}

static void test_names_same_set(void **state)
{
	static const struct {
		const char *a[4];
		size_t na;
		const char *b[4];
		size_t nb;
		bool same;
	} cases[] = {
		{ { "a.test", "b.test" }, 2, { "b.test", "a.test" }, 2, true },
		{ { "a.test" }, 1, { "A.TEST." }, 1, true },
		{ { "Example.Test." }, 1, { "example.test" }, 1, true },
		{ { "a.test", "a.test", "b.test" }, 3, { "b.test", "a.test" }, 2, true },
		{ { "a.test" }, 1, { "a.test", "A.test", "a.test." }, 3, true },
		{ { "*.a.test", "a.test" }, 2, { "a.test", "*.A.test" }, 2, true },
		{ { NULL }, 0, { NULL }, 0, true },
		/* different */
		{ { "a.test", "b.test" }, 2, { "a.test" }, 1, false },
		{ { "a.test" }, 1, { "a.test", "b.test" }, 2, false },
		{ { "a.test", "b.test" }, 2, { "a.test", "c.test" }, 2, false },
		{ { "a.test", "a.test" }, 2, { "a.test", "b.test" }, 2, false },
		{ { NULL }, 0, { "a.test" }, 1, false },
		{ { "a.test" }, 1, { NULL }, 0, false },
		{ { "a.test." }, 1, { "a.test.." }, 1, false },    /* only one dot ignored */
		{ { "a.test" }, 1, { "a.tes" }, 1, false },
		{ { "a.test" }, 1, { "a.testx" }, 1, false },
		{ { "a.test" }, 1, { "a.test " }, 1, false },
		{ { "*.a.test" }, 1, { "x.a.test" }, 1, false },  /* no wildcard matching */
		{ { "\xc3\x89.test" }, 1, { "\xc3\xa9.test" }, 1, false },  /* ASCII folding only */
		{ { "a.test", NULL }, 2, { "a.test" }, 1, false },
		{ { "a.test" }, 1, { NULL, "a.test" }, 2, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = acme_names_same_set(cases[i].a, cases[i].na, cases[i].b, cases[i].nb);

		if (got != cases[i].same)
			fail_msg("case %zu: %d, want %d", i, got, cases[i].same);
		/* symmetric */
		assert_true(acme_names_same_set(cases[i].b, cases[i].nb, cases[i].a, cases[i].na) ==
		            cases[i].same);
	}
	/* NULL arrays */
	assert_true(acme_names_same_set(NULL, 0, NULL, 0));
	assert_false(acme_names_same_set(NULL, 1, cases[0].b, 1));
	assert_false(acme_names_same_set(cases[0].a, 1, NULL, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_p256),
		cmocka_unit_test(test_p384),
		cmocka_unit_test(test_rsa2048),
		cmocka_unit_test(test_rsa3072),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_key_type_names),
		cmocka_unit_test(test_key_file_replace_and_refuse),
		cmocka_unit_test(test_check_cert),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_long_first_name_no_cn),
		cmocka_unit_test(test_cert_names_rows),
		cmocka_unit_test(test_cert_names_chain),
		cmocka_unit_test(test_cert_names_bound),
		cmocka_unit_test(test_names_same_set),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
