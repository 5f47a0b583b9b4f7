/*
 * parse.h - the strict readers of the CA's replies (acme/client.c,
 * account.c, order.c, cert.c), callable on bytes alone: for fuzz targets
 * and tests.
 *
 * Each function reads one reply body exactly as the matching call of
 * acme/client.h does after a successful HTTP exchange (Content-Type taken
 * as application/json, duplicate keys refused, every field type-checked),
 * without a network, a client or an account key.  They are thin wrappers:
 * the checking code is the client's own.
 *
 * Errors: 0 or a negative ACME_E* code (acme/acme_err.h) with e (may be
 * NULL) filled as in acme/client.h
 * (e->code, e->msg; e->problem only where said):
 *   ACME_EPROTO   not JSON, not an object, or a field missing, of the wrong
 *                 type or with a value the protocol does not allow;
 *   ACME_ENOMEM;
 *   ACME_EINVAL   a NULL argument.
 * Problem documents and renewalInfo replies have their own readers:
 * acme_problem_parse() (acme/problem.h) and acme_ari_parse() (acme/ari.h).
 */
#ifndef ACME_PARSE_H
#define ACME_PARSE_H

#include <stddef.h>

#include "acme/acme_err.h"
#include "acme/client.h"

/* A directory (RFC 8555 7.1.1) into *out (zeroed first).  On success *out
 * owns its strings: release with acme_directory_clear(); on error *out
 * owns nothing. */
ACME_MUSTCHECK
int acme_parse_directory(const char *json, size_t len, struct acme_directory *out,
                         struct acme_error *e);
void acme_directory_clear(struct acme_directory *d);

/*
 * A newAccount reply (RFC 8555 7.3): the account object in json, the
 * account URL from location (the Location header; NULL when absent, which
 * is ACME_EPROTO).  On success *account_url is a malloc'ed copy of location
 * (free() it); on error it is NULL.  An account whose status is not
 * "valid" is ACME_EACME.
 */
ACME_MUSTCHECK
int acme_parse_account(const char *json, size_t len, const char *location,
                       char **account_url, struct acme_error *e);

/*
 * An order object (RFC 8555 7.1.3) into *out (zeroed first; out->url and
 * the Retry-After fields are left 0).  perr (may be NULL) receives the
 * order's "error" member when it has one (perr->type stays "" when not;
 * zero it first).  On success release *out with acme_order_clear(); on
 * error *out owns nothing.
 */
ACME_MUSTCHECK
int acme_parse_order(const char *json, size_t len, struct acme_order *out,
                     struct acme_problem *perr, struct acme_error *e);

/*
 * An authorization object (RFC 8555 7.1.4) into *out, the same way: perr
 * (may be NULL) receives the "error" of its dns-01 challenge.  A dns-01
 * challenge without a valid token is ACME_EPROTO.  On success release *out
 * with acme_authz_clear(); on error *out owns nothing.
 */
ACME_MUSTCHECK
int acme_parse_authz(const char *json, size_t len, struct acme_authz *out,
                     struct acme_problem *perr, struct acme_error *e);

/* A challenge object (RFC 8555 7.1.5, the reply to acme_challenge_respond):
 * its status into *status, its "error" into perr (may be NULL). */
ACME_MUSTCHECK
int acme_parse_challenge(const char *json, size_t len, enum acme_status *status,
                         struct acme_problem *perr, struct acme_error *e);

/*
 * The certificate chain acme_cert_download() accepts: pem[0..len) must be
 * one or more PEM certificates and nothing else (printable text, every
 * "-----BEGIN " block a certificate OpenSSL reads), and pem[len] must be
 * the NUL that ends it (as in a struct acme_resp body).  Returns 0,
 * ACME_EPROTO, ACME_ENOMEM or ACME_EINVAL (NULL pem).
 */
ACME_MUSTCHECK
int acme_parse_chain(const char *pem, size_t len);

#endif
