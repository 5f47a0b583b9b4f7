/*
 * csr.c - domain keys (P-256, P-384, RSA-2048, RSA-3072) and their names,
 * their PKCS#10 requests and their PEM files; the names a certificate
 * carries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme/util.h"
#include "acme/b64.h"
#include "acme/csr.h"
#include "acme/acme_err.h"

#define CN_MAX 64

struct acme_dkey {
	EVP_PKEY *key;
	enum acme_key_type type;
};

static const char *const key_type_names[ACME_KEY__MAX] = {
	[ACME_KEY_P256] = "p256",
	[ACME_KEY_P384] = "p384",
	[ACME_KEY_RSA2048] = "rsa2048",
	[ACME_KEY_RSA3072] = "rsa3072",
};

const char *acme_key_type_name(enum acme_key_type t)
{
	if ((int)t < 0 || t >= ACME_KEY__MAX)
		return NULL;
	return key_type_names[t];
}

int acme_key_type_from_name(const char *name, enum acme_key_type *out)
{
	if (name == NULL || out == NULL)
		return ACME_EINVAL;
	for (int i = 0; i < ACME_KEY__MAX; i++) {
		if (strcmp(name, key_type_names[i]) == 0) {
			*out = (enum acme_key_type)i;
			return 0;
		}
	}
	return ACME_ENOENT;
}

int acme_dkey_new(enum acme_key_type t, struct acme_dkey **out)
{
	struct acme_dkey *k = NULL;
	int ret = ACME_EINVAL;

	if (out == NULL)
		goto out;
	*out = NULL;
	if ((int)t < 0 || t >= ACME_KEY__MAX)
		goto out;
	ret = ACME_ENOMEM;
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		goto out;
	k->type = t;
	switch (t) {
	case ACME_KEY_P256:
		k->key = EVP_EC_gen("P-256");
		break;
	case ACME_KEY_P384:
		k->key = EVP_EC_gen("P-384");
		break;
	case ACME_KEY_RSA2048:
		k->key = EVP_RSA_gen(2048);
		break;
	case ACME_KEY_RSA3072:
		k->key = EVP_RSA_gen(3072);
		break;
	case ACME_KEY__MAX:
		break;
	}
	ret = ACME_EIO;
	if (k->key == NULL)
		goto out;
	*out = k;
	k = NULL;
	ret = 0;
out:
	acme_dkey_free(k);
	return ret;
}

/* Which of the four types key is; ACME_ETYPE for anything else. */
static int key_type_of(EVP_PKEY *key, enum acme_key_type *t)
{
	char group[64];
	size_t glen = 0;

	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof(group), &glen) != 1)
			return ACME_ETYPE;
		if (strcmp(group, "prime256v1") == 0) {
			*t = ACME_KEY_P256;
			return 0;
		}
		if (strcmp(group, "secp384r1") == 0) {
			*t = ACME_KEY_P384;
			return 0;
		}
		return ACME_ETYPE;
	case EVP_PKEY_RSA:
		if (EVP_PKEY_get_bits(key) == 2048) {
			*t = ACME_KEY_RSA2048;
			return 0;
		}
		if (EVP_PKEY_get_bits(key) == 3072) {
			*t = ACME_KEY_RSA3072;
			return 0;
		}
		return ACME_ETYPE;
	default:
		return ACME_ETYPE;
	}
}

int acme_dkey_load(const char *path, struct acme_dkey **out, char *err, size_t errlen)
{
	struct acme_dkey *k = NULL;
	int ret;

	if (out == NULL || path == NULL)
		return ACME_EINVAL;
	*out = NULL;
	if ((k = calloc(1, sizeof(*k))) == NULL)
		return ACME_ENOMEM;
	if ((ret = acme_key_file_read("key", path, &k->key, err, errlen)) == 0 &&
	    (ret = key_type_of(k->key, &k->type)) != 0)
		acme_seterr(err, errlen, "key %s: not a P-256, P-384, RSA-2048 or RSA-3072 key", path);
	if (ret == 0) {
		*out = k;
		k = NULL;
	}
	acme_dkey_free(k);
	return ret;
}

void acme_dkey_free(struct acme_dkey *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->key);
	free(key);
}

enum acme_key_type acme_dkey_type(const struct acme_dkey *key)
{
	return key->type;
}

int acme_key_write_pem(const struct acme_dkey *key, const char *path, char *err, size_t errlen)
{
	if (key == NULL || path == NULL || path[0] == '\0')
		return ACME_EINVAL;
	return acme_key_file_write("key", path, key->key, true, err, errlen);
}

int acme_dkey_check_cert(const struct acme_dkey *key, const char *pem)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	int ret = ACME_EINVAL;

	if (key == NULL || pem == NULL)
		goto out;
	ret = ACME_ENOMEM;
	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		goto out;
	ret = ACME_ESYNTAX;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x == NULL)
		goto out;
	pub = X509_get0_pubkey(x);
	ret = pub != NULL && EVP_PKEY_eq(pub, key->key) == 1 ? 0 : ACME_ECONFLICT;
out:
	X509_free(x);
	BIO_free(bio);
	return ret;
}

/* A lowercase host name as a certificate carries it; "*." allowed first. */
static int name_ok(const char *name)
{
	const char *p = name, *label;
	size_t len = name != NULL ? strlen(name) : 0, labels = 0;

	if (len == 0 || len > 253)
		return 0;
	if (strncmp(p, "*.", 2) == 0)
		p += 2;
	for (;;) {
		label = p;
		while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
			p++;
		if (p == label || p - label > 63 || *label == '-' || p[-1] == '-')
			return 0;
		labels++;
		if (*p == '\0')
			break;
		if (*p != '.')
			return 0;
		p++;
	}
	return labels >= 2;
}

int acme_dns_name_check(const char *name)
{
	return name_ok(name) ? 0 : ACME_EDNAME;
}

void acme_csr_free(struct acme_csr *csr)
{
	if (csr == NULL)
		return;
	free(csr->der);
	free(csr->b64url);
	free(csr);
}

int acme_csr_new(const struct acme_dkey *key, const char *const *names, size_t n,
                 struct acme_csr **out, char *err, size_t errlen)
{
	X509_REQ *req = NULL;
	X509_NAME *subj = NULL;
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gen = NULL;
	X509_EXTENSION *ext = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	struct acme_csr *csr = NULL;
	uint8_t *der = NULL;
	int derlen, ret = ACME_EINVAL;

	if (out != NULL)
		*out = NULL;
	if (key == NULL || names == NULL || out == NULL) {
		acme_seterr(err, errlen, "csr: missing argument");
		goto out;
	}
	ret = ACME_ERANGE;
	if (n == 0 || n > ACME_CSR_MAX_NAMES) {
		acme_seterr(err, errlen, "csr: %zu names (1 to %d)", n, ACME_CSR_MAX_NAMES);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ret = ACME_EDNAME;
		if (names[i] == NULL || !name_ok(names[i])) {
			acme_seterr(err, errlen, "csr: invalid name '%s'", names[i] ? names[i] : "(null)");
			goto out;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(names[i], names[j]) == 0) {
				ret = ACME_EINVAL;
				acme_seterr(err, errlen, "csr: name '%s' given twice", names[i]);
				goto out;
			}
		}
	}
	ret = ACME_ENOMEM;
	req = X509_REQ_new();
	subj = X509_NAME_new();
	gens = sk_GENERAL_NAME_new_null();
	exts = sk_X509_EXTENSION_new_null();
	if (req == NULL || subj == NULL || gens == NULL || exts == NULL)
		goto out;
	ret = ACME_EIO;
	if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1)
		goto out;
	if (strlen(names[0]) <= CN_MAX &&
	    X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
	                               (const unsigned char *)names[0], -1, -1, 0) != 1)
		goto out;
	if (X509_REQ_set_subject_name(req, subj) != 1 ||
	    X509_REQ_set_pubkey(req, key->key) != 1)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

		gen = GENERAL_NAME_new();
		if (ia5 == NULL || gen == NULL ||
		    ASN1_STRING_set(ia5, names[i], (int)strlen(names[i])) != 1) {
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
		if (sk_GENERAL_NAME_push(gens, gen) == 0)
			goto out;
		gen = NULL;
	}
	ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens);
	if (ext == NULL || sk_X509_EXTENSION_push(exts, ext) == 0)
		goto out;
	ext = NULL;
	if (X509_REQ_add_extensions(req, exts) != 1)
		goto out;
	if (X509_REQ_sign(req, key->key, EVP_sha256()) <= 0) {
		acme_seterr(err, errlen, "csr: signing failed");
		goto out;
	}
	derlen = i2d_X509_REQ(req, &der);
	if (derlen <= 0)
		goto out;
	ret = ACME_ENOMEM;
	csr = calloc(1, sizeof(*csr));
	if (csr == NULL)
		goto out;
	csr->der = malloc((size_t)derlen);
	csr->b64url = malloc(ACME_B64URL_SIZE((size_t)derlen));
	if (csr->der == NULL || csr->b64url == NULL)
		goto out;
	memcpy(csr->der, der, (size_t)derlen);
	csr->der_len = (size_t)derlen;
	if (acme_b64url_encode(csr->der, csr->der_len, csr->b64url,
	                       ACME_B64URL_SIZE((size_t)derlen)) < 0)
		goto out;
	*out = csr;
	csr = NULL;
	ret = 0;
out:
	acme_csr_free(csr);
	OPENSSL_free(der);
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	X509_NAME_free(subj);
	X509_REQ_free(req);
	return ret;
}

/* One name's comparable part: without one trailing dot. */
static size_t name_len(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && s[len - 1] == '.' ? len - 1 : len;
}

static char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
}

/* x and y the same DNS name (ASCII case-insensitive, one trailing dot). */
static bool name_eq(const char *x, const char *y)
{
	size_t lx = name_len(x), ly = name_len(y);

	if (lx != ly)
		return false;
	for (size_t i = 0; i < lx; i++)
		if (ascii_lower(x[i]) != ascii_lower(y[i]))
			return false;
	return true;
}

/* Every name of a is in b. */
static bool names_within(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++) {
		bool found = false;

		for (size_t k = 0; k < nb && !found; k++)
			found = name_eq(a[i], b[k]);
		if (!found)
			return false;
	}
	return true;
}

bool acme_names_same_set(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	if ((na > 0 && a == NULL) || (nb > 0 && b == NULL))
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i] == NULL)
			return false;
	for (size_t i = 0; i < nb; i++)
		if (b[i] == NULL)
			return false;
	return names_within(a, na, b, nb) && names_within(b, nb, a, na);
}

void acme_names_free(char **names, size_t n)
{
	if (names == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int acme_cert_names(const char *pem, char ***names, size_t *n)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	GENERAL_NAMES *gens = NULL;
	char **list = NULL;
	size_t count = 0;
	int crit = -1, ret = ACME_EINVAL;

	if (names != NULL)
		*names = NULL;
	if (n != NULL)
		*n = 0;
	if (pem == NULL || names == NULL || n == NULL)
		goto out;
	ret = ACME_ENOMEM;
	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		goto out;
	ret = ACME_ESYNTAX;
	if ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		goto out;
	/* crit: -1 no such extension, -2 more than one */
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	if (gens == NULL) {
		if (crit == -1)
			ret = 0;   /* no SAN: no names */
		goto out;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *data;
		int len;

		if (g->type != GEN_DNS)
			continue;
		if (count == ACME_CSR_MAX_NAMES) {
			ret = ACME_ERANGE;
			goto out;
		}
		if (list == NULL && (list = calloc(ACME_CSR_MAX_NAMES, sizeof(*list))) == NULL) {
			ret = ACME_ENOMEM;
			goto out;
		}
		data = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		ret = ACME_ESYNTAX;
		if (data == NULL || len <= 0 || memchr(data, '\0', (size_t)len) != NULL)
			goto out;
		if ((list[count] = strndup((const char *)data, (size_t)len)) == NULL) {
			ret = ACME_ENOMEM;
			goto out;
		}
		for (char *p = list[count]; *p != '\0'; p++)
			*p = ascii_lower(*p);
		count++;
		if (!name_ok(list[count - 1]))
			goto out;
	}
	ret = 0;
out:
	if (ret == 0 && count > 0) {
		*names = list;
		*n = count;
		list = NULL;
		count = 0;
	}
	if (ret != 0)
		ERR_clear_error();   /* leave no stale reason to the next OpenSSL call */
	acme_names_free(list, count);
	GENERAL_NAMES_free(gens);
	X509_free(x);
	BIO_free(bio);
	return ret;
}
