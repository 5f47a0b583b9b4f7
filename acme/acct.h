/*
 * acct.h - the ACME account key and everything signed with it.
 *
 * The account key (ECDSA P-256, "ES256") is loaded or created here and
 * never leaves acme/acct.c: there is no getter for it.  The network side
 * hands in URL + nonce + payload and gets back a finished JWS (RFC 7515,
 * flattened JSON serialization, as RFC 8555 section 6.2 requires).
 *
 * Thread safety: a struct acme_acct is read-only once loaded; any number
 * of threads may call acme_acct_sign() and the other functions on the
 * same one at once (each call uses its own OpenSSL contexts).
 *
 * Errors are ACME_E* codes (acme/acme_err.h).  Nothing here logs or returns
 * key material.
 */
#ifndef ACME_ACCT_H
#define ACME_ACCT_H

#include <stddef.h>

#include <jansson.h>

#include "acme/acme_err.h"

/* base64url(SHA-256) is 43 characters; with the NUL: */
#define ACME_B64_SHA256_SIZE 44
/* Longest challenge token acme_key_authz_dns() accepts. */
#define ACME_TOKEN_MAX 256

struct acme_acct;

/*
 * Load the account key from path (PEM, an EC P-256 private key).
 *
 * When path does not exist and create is non-zero, a new P-256 key is
 * generated and written: a temporary file in the same directory created
 * with O_CREAT|O_EXCL and mode 0600, fsync'ed, then link()ed to path (so
 * path never exists half-written and an existing file is never replaced;
 * when another process created path first, that key is loaded), then the
 * directory is fsync'ed.
 *
 * An existing key file must be a regular file, not readable or writable
 * by group or others (ACME_EPERM otherwise: the key is not used).
 *
 * Returns 0 with *out set (free with acme_acct_free()), or
 *   ACME_ENOENT  path missing and create is 0;
 *   ACME_EPERM   the key file is open to group/others or not a regular file;
 *   ACME_ESYNTAX not a PEM private key;
 *   ACME_ETYPE   a private key, but not EC P-256;
 *   ACME_EIO     read/write failure (err says which, with errno's text);
 *   ACME_EINVAL, ACME_ENOMEM.
 * err (may be NULL when errlen is 0) gets a one-line message.
 */
ACME_MUSTCHECK
int acme_acct_load(const char *path, int create, struct acme_acct **out,
                   char *err, size_t errlen);
void acme_acct_free(struct acme_acct *acct);

/* The public JWK, canonical (RFC 7638): {"crv":"P-256","kty":"EC","x":..,"y":..}
 * with 32-byte coordinates.  Owned by acct; valid until acme_acct_free(). */
const char *acme_acct_jwk_json(const struct acme_acct *acct);

/* The JWK thumbprint (RFC 7638, SHA-256), base64url, 43 characters + NUL. */
void acme_acct_thumbprint(const struct acme_acct *acct, char out[ACME_B64_SHA256_SIZE]);

/*
 * Sign one ACME request (RFC 8555 section 6.2):
 *   protected = {"alg":"ES256","nonce":nonce,"url":url,"jwk":JWK}  (kid NULL)
 *            or {"alg":"ES256","nonce":nonce,"url":url,"kid":kid}
 *   payload   = base64url(payload); "" for POST-as-GET (empty payload)
 *   signature = base64url(R || S), 32 bytes each (not OpenSSL's DER)
 * *jws_out is the compact-printed JSON object {"protected","payload",
 * "signature"}, malloc'ed (free() it).
 * url, nonce and payload must be non-NULL; url and nonce non-empty; nonce
 * base64url characters only (RFC 8555 section 6.5.1).
 * Returns 0, ACME_EINVAL, ACME_ENOMEM or ACME_EIO (OpenSSL failed).
 */
ACME_MUSTCHECK
int acme_acct_sign(const struct acme_acct *acct, const char *url, const char *nonce,
                   const char *kid, const char *payload, char **jws_out);

/*
 * External account binding (RFC 8555 section 7.3.4): a JWS with
 *   protected = {"alg":"HS256","kid":kid,"url":new_account_url}
 *   payload   = base64url(the account's JWK)
 * MACed with HMAC-SHA256 under the key hmac_key_b64url (base64url, '='
 * padding tolerated).  *out is the JSON object to put as
 * "externalAccountBinding" into the newAccount payload (json_decref it).
 * Returns 0, ACME_EINVAL (empty kid/url, key not base64url or empty),
 * ACME_ENOMEM, ACME_EIO.
 */
ACME_MUSTCHECK
int acme_acct_eab(const struct acme_acct *acct, const char *kid, const char *hmac_key_b64url,
                  const char *new_account_url, json_t **out);

/*
 * A challenge token is usable only when it is 1..ACME_TOKEN_MAX characters
 * of the base64url alphabet [A-Za-z0-9_-].  0 or ACME_EINVAL.
 */
ACME_MUSTCHECK
int acme_token_check(const char *token);

/*
 * The DNS-01 TXT value (RFC 8555 section 8.4):
 * base64url(SHA-256(token "." thumbprint)), 43 characters + NUL in out.
 * The token is checked first (acme_token_check): ACME_EINVAL and out = "".
 */
ACME_MUSTCHECK
int acme_key_authz_dns(const struct acme_acct *acct, const char *token,
                       char out[ACME_B64_SHA256_SIZE]);

#endif
