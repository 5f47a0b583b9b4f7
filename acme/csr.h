/*
 * csr.h - a certificate's private key and its certificate signing request.
 *
 * The domain key is opaque: it leaves this module only as a CSR (to the
 * CA) and as a PEM file written with mode 0600 (for the XMPP hosting).
 * Key types: enum acme_key_type below, named "p256", "p384", "rsa2048",
 * "rsa3072" (acme_key_type_name(), acme_key_type_from_name()).
 *
 * CSR: PKCS#10, version 1, signed with SHA-256 (ECDSA, or RSA PKCS#1
 * v1.5), with one extension request, subjectAltName = exactly the given
 * DNS names in the given order.  The subject is CN = the first name when
 * it fits a CN (at most 64 characters, RFC 5280 ub-common-name), else the
 * subject is empty; Let's Encrypt and Pebble take the names from the SAN
 * either way.
 *
 * Thread safety: no shared state; a key may be used by several threads
 * at once for reading (CSR, PEM writing).
 *
 * Errors: ACME_E* codes (acme/acme_err.h), listed per call.
 */
#ifndef ACME_CSR_H
#define ACME_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme/acme_err.h"

/* Most names one certificate may carry (Let's Encrypt's limit). */
#define ACME_CSR_MAX_NAMES 100

/* The kinds of domain key. */
enum acme_key_type {
	ACME_KEY_P256,       /* ECDSA P-256 */
	ACME_KEY_P384,       /* ECDSA P-384 */
	ACME_KEY_RSA2048,
	ACME_KEY_RSA3072,
	ACME_KEY__MAX
};

/* "p256", "p384", "rsa2048", "rsa3072"; NULL for a value out of range. */
const char *acme_key_type_name(enum acme_key_type t);

/* The type named name (exactly one of the names above, lowercase) into
 * *out.  0, ACME_ENOENT (no such name: *out untouched), ACME_EINVAL (NULL
 * name or out). */
ACME_MUSTCHECK
int acme_key_type_from_name(const char *name, enum acme_key_type *out);

struct acme_dkey;

struct acme_csr {
	uint8_t *der;        /* the DER CSR */
	size_t der_len;
	char *b64url;        /* base64url(der), the "csr" of a finalize request */
};

/* Generate a new key of type t into *out (free with acme_dkey_free()).
 * 0, ACME_EINVAL (unknown type, NULL out), ACME_ENOMEM, ACME_EIO. */
ACME_MUSTCHECK
int acme_dkey_new(enum acme_key_type t, struct acme_dkey **out);

/* Load a key written by acme_key_write_pem() (reuse at renewal, checks)
 * into *out (free with acme_dkey_free()).  The same rules as the account
 * key: a regular file, no group/others access (ACME_EPERM), at most 64 KiB
 * (ACME_ETOOLONG), an unencrypted PEM private key (ACME_ESYNTAX) of one of
 * the four types (ACME_ETYPE otherwise); ACME_ENOENT, ACME_EIO,
 * ACME_ENOMEM, ACME_EINVAL (NULL path or out).  err (may be NULL when
 * errlen is 0) gets a one-line message. */
ACME_MUSTCHECK
int acme_dkey_load(const char *path, struct acme_dkey **out, char *err, size_t errlen);

void acme_dkey_free(struct acme_dkey *key);
enum acme_key_type acme_dkey_type(const struct acme_dkey *key);

/*
 * Write the private key (PKCS#8 PEM, unencrypted) to path atomically:
 * a temporary file in the same directory (mode 0600), fsync, rename over
 * path, fsync of the directory.  A reader sees the old file or the new
 * one, never a partial one.  0 or ACME_EIO/ACME_ENOMEM/ACME_EINVAL with err.
 */
ACME_MUSTCHECK
int acme_key_write_pem(const struct acme_dkey *key, const char *path, char *err, size_t errlen);

/*
 * Does the first certificate of pem (a chain) carry key's public key?
 * 0 yes, ACME_ECONFLICT no, ACME_ESYNTAX no certificate in pem,
 * ACME_EINVAL (NULL key or pem), ACME_ENOMEM.
 */
ACME_MUSTCHECK
int acme_dkey_check_cert(const struct acme_dkey *key, const char *pem);

/* A name a certificate and an order may carry: a lowercase host name
 * (LDH labels of 1..63 characters, no leading or trailing hyphen, at most
 * 253 characters, at least two labels), "*." in front for a wildcard.
 * 0 or ACME_EDNAME. */
ACME_MUSTCHECK
int acme_dns_name_check(const char *name);

/*
 * The CSR for names[0..n) into *out (free with acme_csr_free()):
 * 1 <= n <= ACME_CSR_MAX_NAMES (ACME_ERANGE), each passing
 * acme_dns_name_check() (ACME_EDNAME, err names the bad one), no
 * duplicates (ACME_EINVAL, as for a NULL argument); ACME_ENOMEM, ACME_EIO.
 */
ACME_MUSTCHECK
int acme_csr_new(const struct acme_dkey *key, const char *const *names, size_t n,
                 struct acme_csr **out, char *err, size_t errlen);
void acme_csr_free(struct acme_csr *csr);

/*
 * Are a[0..na) and b[0..nb) the same set of DNS names?  Names compare ASCII
 * case-insensitively with one trailing dot ignored ("Example.ORG." equals
 * "example.org"); order and repeats do not matter; nothing else is
 * normalised ("*.example.org" equals only itself).  Two empty sets are the
 * same (a or b may then be NULL).  A NULL array with a count above 0 or a
 * NULL element makes the answer false.  O(na * nb): meant for the at most
 * ACME_CSR_MAX_NAMES names of one order.
 * Use: an order's authorization identifiers against the names asked for,
 * before any TXT record is published; an issued certificate's names
 * (acme_cert_names()) against the order's.
 */
bool acme_names_same_set(const char *const *a, size_t na, const char *const *b, size_t nb);

/*
 * The dNSName subjectAltNames of the first certificate of pem (a chain:
 * the leaf comes first), lowercased, in the certificate's order, repeats
 * kept.  Other kinds of name (IP addresses, e-mail, URIs) are ignored; so
 * is the subject CN.  No subjectAltName extension gives 0 names.
 * Every dNSName must pass acme_dns_name_check() once lowercased (LDH
 * labels, "*." allowed first); one with an embedded NUL or any other
 * character refuses the whole certificate.
 * Out: *names, an array of *n strings, all owned by the caller: free with
 * acme_names_free(*names, *n).  With 0 names, *names is NULL.
 * Returns 0, or
 *   ACME_EINVAL   NULL pem, names or n;
 *   ACME_ESYNTAX  no certificate in pem, a subjectAltName extension that does
 *                 not decode or appears twice, a dNSName as above;
 *   ACME_ERANGE   more than ACME_CSR_MAX_NAMES dNSNames;
 *   ACME_ENOMEM.
 * On error *names is NULL and *n is 0.
 */
ACME_MUSTCHECK
int acme_cert_names(const char *pem, char ***names, size_t *n);

/* Free names[0..n) and the array; NULL is fine. */
void acme_names_free(char **names, size_t n);

#endif
