/*
 * posh.h - the POSH documents of an XMPP service (RFC 7711, PKIX over
 * Secure HTTP).  A hosting that cannot present a certificate for the
 * customer's domain, or a peer that wants more than PKIX, fetches
 * https://<domain>/.well-known/posh/xmpp-client.json (c2s) or
 * xmpp-server.json (s2s) and compares the fingerprints there with the
 * certificate the XMPP server presents.  regzone writes both beside the
 * certificate files (certfiles.h), as part of the same generation, when
 * certificates.posh is on; the hosting's web server serves them.
 *
 * The document (RFC 7711 section 3):
 *   {"fingerprints": [{"sha-256": "<base64>"}], "expires": <seconds>}
 * where <base64> is the SHA-256 digest of the leaf certificate's DER
 * encoding in standard base64 with padding (RFC 4648 section 4, 44
 * characters), and "expires" how long a client may cache the document.
 *
 * Why POSH_EXPIRES_MAX and the tenth: a static file is served unchanged
 * from its certificate's issuance until the renewal replaces it, and a
 * client that cached it meanwhile checks the renewed certificate against
 * the old fingerprint until its copy expires.  So the cache time stays
 * short next to the certificate's lifetime (a tenth of what remains when
 * the document is written: about 9 days of a 90-day certificate, 16 hours
 * of a 160-hour one) and never above a day; a certificate already expired
 * gives 0 (do not cache).
 */
#ifndef RZ_POSH_H
#define RZ_POSH_H

#include <stddef.h>
#include <time.h>

#define POSH_SERVICE "xmpp"         /* the service whose certificate they describe */
#define POSH_CLIENT_FILE "xmpp-client.json"
#define POSH_SERVER_FILE "xmpp-server.json"
#define POSH_EXPIRES_MAX 86400      /* seconds: a day */
#define POSH_EXPIRES_DIVISOR 10     /* a tenth of the remaining lifetime */

/* The "expires" of a document written at now for a certificate valid
 * until not_after: min(POSH_EXPIRES_MAX, (not_after - now) / 10), 0 when
 * not_after is not after now. */
long long posh_expires(time_t not_after, time_t now);

/*
 * The POSH document for the leaf (the first certificate) of chain_pem,
 * written at now: JSON as above, with a final newline, into *out
 * (malloc'ed, NUL-terminated, free() it; NULL on failure) and its length
 * into *outlen (may be NULL).  The same document serves as
 * POSH_CLIENT_FILE and POSH_SERVER_FILE: regzone's certificate is the one
 * the hosting presents on both.
 * 0, RZ_EINVAL (NULL arguments), RZ_ESYNTAX (no certificate to read, or
 * its validity), RZ_ENOMEM; err says which (when errlen > 0).
 */
int posh_doc(const char *chain_pem, time_t now, char **out, size_t *outlen, char *err,
             size_t errlen);

#endif
