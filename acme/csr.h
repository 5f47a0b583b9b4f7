/*
 * csr.h - a certificate's private key and its certificate signing request.
 *
 * The domain key is opaque: it leaves this module only as a CSR (to the
 * CA) and as a PEM file written with mode 0600 (for the XMPP hosting).
 * Key types are daemon/config.h's enum rz_key_type: RZ_KEY_P256 (the
 * default), RZ_KEY_P384, RZ_KEY_RSA2048, RZ_KEY_RSA3072.
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
 */
#ifndef ACME_CSR_H
#define ACME_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"   /* enum rz_key_type */

/* Most names one certificate may carry (Let's Encrypt's limit). */
#define ACME_CSR_MAX_NAMES 100

struct acme_dkey;

struct acme_csr {
	uint8_t *der;        /* the DER CSR */
	size_t der_len;
	char *b64url;        /* base64url(der), the "csr" of a finalize request */
};

/* Generate a new key of type t.  0, RZ_EINVAL (unknown type), RZ_EIO. */
int acme_dkey_new(enum rz_key_type t, struct acme_dkey **out);

/* Load a key written by acme_key_write_pem() (reuse at renewal, checks).
 * The same rules as the account key: a regular file, no group/others
 * access (RZ_EPERM), a PEM private key of one of the four types (RZ_ETYPE
 * otherwise), RZ_ENOENT, RZ_ESYNTAX, RZ_EIO. */
int acme_dkey_load(const char *path, struct acme_dkey **out, char *err, size_t errlen);

void acme_dkey_free(struct acme_dkey *key);
enum rz_key_type acme_dkey_type(const struct acme_dkey *key);

/*
 * Write the private key (PKCS#8 PEM, unencrypted) to path atomically:
 * a temporary file in the same directory (mode 0600), fsync, rename over
 * path, fsync of the directory.  A reader sees the old file or the new
 * one, never a partial one.  0 or RZ_EIO/RZ_ENOMEM/RZ_EINVAL with err.
 */
int acme_key_write_pem(const struct acme_dkey *key, const char *path, char *err, size_t errlen);

/*
 * Does the first certificate of pem (a chain) carry key's public key?
 * 0 yes, RZ_ECONFLICT no, RZ_ESYNTAX no certificate in pem.
 */
int acme_dkey_check_cert(const struct acme_dkey *key, const char *pem);

/* A name a certificate and an order may carry: a lowercase host name
 * (LDH labels of 1..63 characters, no leading or trailing hyphen, at most
 * 253 characters, at least two labels), "*." in front for a wildcard.
 * 0 or RZ_EDNAME. */
int acme_dns_name_check(const char *name);

/*
 * The CSR for names[0..n): 1 <= n <= ACME_CSR_MAX_NAMES, each passing
 * acme_dns_name_check(), no duplicates.  RZ_EDNAME (err names the bad one), RZ_EINVAL, RZ_ERANGE,
 * RZ_ENOMEM, RZ_EIO.  Free with acme_csr_free().
 */
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
 *   RZ_EINVAL   NULL pem, names or n;
 *   RZ_ESYNTAX  no certificate in pem, a subjectAltName extension that does
 *               not decode or appears twice, a dNSName as above;
 *   RZ_ERANGE   more than ACME_CSR_MAX_NAMES dNSNames;
 *   RZ_ENOMEM.
 * On error *names is NULL and *n is 0.
 */
int acme_cert_names(const char *pem, char ***names, size_t *n);

/* Free names[0..n) and the array; NULL is fine. */
void acme_names_free(char **names, size_t n);

#endif
