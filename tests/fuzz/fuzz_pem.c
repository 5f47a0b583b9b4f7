/*
 * fuzz_pem.c - the certificate chain the CA returns, through every reader
 * it meets after acme_cert_download():
 *   - acme_parse_chain() (acme/parse.h): the download's own check, one or
 *     more PEM certificates and nothing else;
 *   - acme_dkey_check_cert() (acme/csr.h): does the leaf carry our key
 *     (a P-256 key made once; a fuzzed certificate never does);
 *   - what daemon/certs.c reads of each certificate (its leaf_info() is
 *     static there, so the same calls are made here): serial, issuer,
 *     acme_cert_validity() and acme_ari_cert_id() (acme/ari.h), and the
 *     renewal time acme_renew_time() picks from that validity.
 * The input is handed over NUL-terminated, as a reply body is.
 *
 * Checked besides memory safety and leaks: an accepted chain has at least
 * one certificate OpenSSL reads; a certificate identifier is
 * base64url "." base64url of the length returned, fits
 * ACME_ARI_CERT_ID_SIZE, and a buffer one byte short is refused (buffers
 * are malloc'ed at their exact size); the renewal time lies within the
 * validity.
 */
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "acme/ari.h"
#include "acme/csr.h"
#include "acme/parse.h"
#include "acme/acme_err.h"
#include "tests/fuzz/fuzz.h"

#define MAX_CERTS 16   /* certificates of one input looked at */

/* Set up once by LLVMFuzzerInitialize (libFuzzer's main), then only read. */
static struct acme_dkey *key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (acme_dkey_new(ACME_KEY_P256, &key) != 0) {
		fprintf(stderr, "fuzz_pem: cannot make a key\n");
		exit(1);
	}
	return 0;
}

static void check_cert_id(const X509 *x)
{
	char *id = malloc(ACME_ARI_CERT_ID_SIZE), *exact = NULL;
	int n;

	if (id == NULL)
		return;
	n = acme_ari_cert_id(x, id, ACME_ARI_CERT_ID_SIZE);
	if (n < 0) {
		FZ_CHECK(n == ACME_ENOENT || n == ACME_ERANGE || n == ACME_ENOMEM);
		goto out;
	}
	FZ_CHECK((size_t)n < ACME_ARI_CERT_ID_SIZE && strlen(id) == (size_t)n);
	FZ_CHECK(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                    "0123456789-_.") == (size_t)n);
	FZ_CHECK(strchr(id, '.') != NULL && strchr(id, '.') == strrchr(id, '.'));
	FZ_CHECK(id[0] != '.' && id[n - 1] != '.');
	if ((exact = malloc((size_t)n + 1)) != NULL) {
		FZ_CHECK(acme_ari_cert_id(x, exact, (size_t)n) == ACME_ETOOLONG);
		FZ_CHECK(acme_ari_cert_id(x, exact, (size_t)n + 1) == n);
		FZ_CHECK(strcmp(exact, id) == 0);
	}
out:
	free(exact);
	free(id);
}

/* What certs.c takes from a downloaded certificate. */
static void read_cert(const X509 *x)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	BIO *ib = BIO_new(BIO_s_mem());
	time_t nb = 0, na = 0, at = 0;

	if (ib != NULL)
		(void)X509_NAME_print_ex(ib, X509_get_issuer_name(x), 0, XN_FLAG_RFC2253);
	if (acme_cert_validity(x, &nb, &na) == 0 && na > nb) {
		FZ_CHECK(acme_renew_time(nb, na, 66, 0.5, &at) == 0);
		FZ_CHECK(at >= nb && at <= na);
		FZ_CHECK(acme_renew_time(nb, na, 90, 1.0, &at) == 0 && at >= nb && at <= na);
	}
	check_cert_id(x);
	BIO_free(ib);
	OPENSSL_free(hex);
	BN_free(bn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *pem = fz_cstr(data, size);
	BIO *bio = NULL;
	X509 *x = NULL;
	int chain, own, n = 0;

	if (pem == NULL)
		return 0;
	chain = acme_parse_chain(pem, size);
	FZ_CHECK(chain == 0 || chain == ACME_EPROTO || chain == ACME_ENOMEM);
	own = acme_dkey_check_cert(key, pem);
	FZ_CHECK(own == ACME_ECONFLICT || own == ACME_ESYNTAX || own == ACME_ENOMEM || own == 0);
	FZ_CHECK(chain != 0 || own != ACME_ESYNTAX);   /* a good chain has a leaf */

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		goto out;
	while (n < MAX_CERTS && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		read_cert(x);
		X509_free(x);
		n++;
	}
	FZ_CHECK(chain != 0 || n > 0);
	ERR_clear_error();
out:
	BIO_free(bio);
	free(pem);
	return 0;
}
