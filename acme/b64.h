/*
 * b64.h - base64url without padding (RFC 4648 section 5), as JWS and ACME
 * use it (RFC 7515 section 2, RFC 8555 section 6.1).
 */
#ifndef ACME_B64_H
#define ACME_B64_H

#include <stddef.h>
#include <stdint.h>

#include "acme/acme_err.h"

/* Bytes acme_b64url_encode() writes for len input bytes, with the NUL. */
#define ACME_B64URL_SIZE(len) ((((len) + 2) / 3) * 4 + 1)

/* Encode in[0..len) into out (at least ACME_B64URL_SIZE(len) bytes), no
 * padding, NUL-terminated.  Returns the length or ACME_ETOOLONG. */
ACME_MUSTCHECK
int acme_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* Decode a base64url string (no padding, no whitespace; '=' refused) into
 * out.  Sets *n_out; returns 0, ACME_ESYNTAX for a bad character or length,
 * ACME_ETOOLONG when out is too small. */
ACME_MUSTCHECK
int acme_b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen, size_t *n_out);

#endif
