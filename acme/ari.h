/*
 * ari.h - ACME Renewal Information (RFC 9773) and the renewal time without
 * it.
 *
 * The flow the caller runs for each certificate:
 *   1. acme_ari_cert_id() once after issuance: the path component of
 *      GET <renewalInfo>/<id>, and the "replaces" value of the next order.
 *   2. GET it (unauthenticated, RFC 9773 section 4.1); acme_ari_parse() the
 *      body; acme_ari_next_poll() on the Retry-After header.
 *   3. acme_ari_renew_time() picks the renewal time in the window.  Keep the
 *      chosen time while the window stays the same: picking again at every
 *      poll with fresh jitter would pull renewals towards the window's start.
 *      Pick again when start or end change.
 *   4. When the CA has no renewalInfo (Pebble 2.4.0, or ARI replies keep
 *      failing): acme_renew_time() from the certificate's validity.
 * An order started inside the window with "replaces" is an ARI renewal:
 * exempt from Let's Encrypt's limits (acme_budget_check(), ari_renewal).
 * Only then: use acme_ari_in_window() at the moment the order is made.
 */
#ifndef ACME_ARI_H
#define ACME_ARI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "acme/acme_err.h"
#include "acme/b64.h"

#define ACME_ARI_AKI_MAX    64   /* keyIdentifier bytes (SHA-1: 20) */
#define ACME_ARI_SERIAL_MAX 32   /* serial content bytes (RFC 5280: <= 20) */
/* Bytes of a certificate identifier with its NUL. */
#define ACME_ARI_CERT_ID_SIZE \
	(ACME_B64URL_SIZE(ACME_ARI_AKI_MAX) + ACME_B64URL_SIZE(ACME_ARI_SERIAL_MAX))
#define ACME_ARI_MAX_BYTES  16384     /* largest renewalInfo body read */
#define ACME_ARI_URL_MAX    1024      /* longest explanationURL kept */
#define ACME_RFC3339_MAX    64        /* longest timestamp read */

/* Polling renewalInfo (RFC 9773 section 4.3): Retry-After is the wanted
 * interval, held within [MIN, MAX]; without a usable one (absent, invalid,
 * or the reply was a long-term error) the next poll is DEFAULT later. */
#define ACME_ARI_POLL_MIN     60            /* RFC 9773's example floor */
#define ACME_ARI_POLL_MAX     (12 * 3600)   /* Let's Encrypt: twice a day */
#define ACME_ARI_POLL_DEFAULT (6 * 3600)    /* RFC 9773 4.3.3: six hours */

/* Without ARI: +- this percentage of the lifetime around renew_percent. */
#define ACME_RENEW_SPREAD_PCT 2.0
/* ... and never later than not_after minus this (or lifetime / 3 when the
 * lifetime is shorter than three days, so a short test certificate is not
 * renewed the moment it arrives). */
#define ACME_RENEW_MARGIN     86400

/*
 * The certificate identifier of RFC 9773 section 4.1:
 *   base64url(AKI keyIdentifier) "." base64url(serial number content bytes)
 * without padding.  serial is the DER INTEGER's value bytes without tag and
 * length, so with the leading 0x00 a positive serial whose first bit is set
 * carries (RFC 9773: 00:87:65:43:21 -> "AIdlQyE").  Writes a NUL-terminated
 * string into out (ACME_ARI_CERT_ID_SIZE bytes are always enough; the exact
 * length plus the NUL is too).
 * Returns its length, or
 *   ACME_EINVAL   NULL pointers, aki_len or serial_len 0;
 *   ACME_ERANGE   aki_len > ACME_ARI_AKI_MAX or serial_len > ACME_ARI_SERIAL_MAX;
 *   ACME_ETOOLONG outlen too small.
 */
ACME_MUSTCHECK
int acme_ari_cert_id_raw(const uint8_t *aki, size_t aki_len, const uint8_t *serial,
                         size_t serial_len, char *out, size_t outlen);

/*
 * The same from a certificate: its Authority Key Identifier extension's
 * keyIdentifier and its serial number re-encoded as DER.  Returns the
 * length, or ACME_ENOENT when the certificate has no AKI keyIdentifier (or
 * the extension is duplicated or unreadable), ACME_ENOMEM, or the errors of
 * acme_ari_cert_id_raw().
 */
ACME_MUSTCHECK
int acme_ari_cert_id(const X509 *cert, char *out, size_t outlen);

/* notBefore and notAfter of a certificate as epoch seconds.  Returns 0,
 * ACME_EINVAL (NULL), ACME_ESYNTAX (a time OpenSSL cannot read). */
ACME_MUSTCHECK
int acme_cert_validity(const X509 *cert, time_t *not_before, time_t *not_after);

/*
 * An RFC 3339 date-time (section 5.6): "2025-01-02T04:00:00Z",
 * "2025-01-02T04:00:00.123456789Z", "2025-01-02T06:00:00+02:00"; 't' and
 * 'z' may be lowercase; "-00:00" is UTC.  Fractions are dropped (rounded
 * down), second 60 is allowed.  s[0..len), no NUL needed.  Returns 0,
 * ACME_EINVAL (NULL), ACME_ETOOLONG (len > ACME_RFC3339_MAX), ACME_ESYNTAX
 * (anything else, including dates that do not exist and a missing offset).
 */
ACME_MUSTCHECK
int acme_rfc3339(const char *s, size_t len, time_t *out);

/* A renewalInfo reply. */
struct acme_ari_info {
	time_t start;                 /* suggestedWindow.start */
	time_t end;                   /* suggestedWindow.end, > start */
	char explanation_url[ACME_ARI_URL_MAX + 1];   /* "" when absent */
};

/*
 * Parse a renewalInfo body (RFC 9773 section 4.2):
 *   {"suggestedWindow":{"start":RFC3339,"end":RFC3339},"explanationURL":"..."}
 * strictly: an object; suggestedWindow an object with both timestamps as
 * strings; explanationURL optional, a string of printable ASCII without
 * spaces with a scheme; other members ignored; duplicate keys refused.
 * Returns 0, or
 *   ACME_EINVAL   NULL body/out;
 *   ACME_ETOOLONG body > ACME_ARI_MAX_BYTES, explanationURL > ACME_ARI_URL_MAX,
 *               a timestamp longer than ACME_RFC3339_MAX;
 *   ACME_ESYNTAX  not JSON, a bad timestamp, a bad URL;
 *   ACME_ETYPE    not an object, a member of the wrong type;
 *   ACME_ENOENT   suggestedWindow, start or end missing;
 *   ACME_ERANGE   end <= start (RFC 9773: treat as if no reply came: poll
 *                 again after ACME_ARI_POLL_DEFAULT, renew on the fallback
 *                 schedule);
 *   ACME_ENOMEM.
 * *out is zeroed on error.
 */
ACME_MUSTCHECK
int acme_ari_parse(const char *body, size_t len, struct acme_ari_info *out);

/*
 * When to fetch renewalInfo next, from the reply's Retry-After (NULL when
 * absent): now + Retry-After held within [ACME_ARI_POLL_MIN,
 * ACME_ARI_POLL_MAX].  *out is ALWAYS set; the return says where it came
 * from: 0 (Retry-After used), ACME_ENOENT (no header: now +
 * ACME_ARI_POLL_DEFAULT), or acme_retry_after()'s error (invalid header:
 * now + ACME_ARI_POLL_DEFAULT; RFC 9773 counts it a long-term error).
 * ACME_EINVAL (NULL out, now < 0) is the only return with *out unset.
 * After a failed fetch: temporary errors (5xx, timeouts) back off
 * exponentially; long-term ones (other 4xx, invalid body) use
 * now + ACME_ARI_POLL_DEFAULT.
 */
int acme_ari_next_poll(const char *retry_after, time_t now, time_t *out);

/*
 * The renewal time in a suggested window (RFC 9773 section 4.2, the
 * RECOMMENDED algorithm): start + jitter01 * (end - start), so jitter01 = 0
 * gives start and 1 gives end (the caller draws jitter01 uniformly from
 * [0, 1]; outside that range it is clamped, NaN counts as 0.5).  If that
 * time is not after now - the window is in the past, or the pick is -
 * the answer is now: renew at once.  Returns 0, ACME_EINVAL (NULL), ACME_ERANGE
 * (end <= start).
 * This is the CA's window, nothing more: if it reaches past the
 * certificate's notAfter the caller may also take the earlier of this and
 * acme_renew_time().
 */
ACME_MUSTCHECK
int acme_ari_renew_time(const struct acme_ari_info *w, time_t now, double jitter01, time_t *out);

/* start <= t < end: an order made at t is an ARI renewal (with "replaces"). */
bool acme_ari_in_window(const struct acme_ari_info *w, time_t t);

/*
 * Without ARI: not_before + lifetime * renew_percent / 100, spread by
 * +-ACME_RENEW_SPREAD_PCT percent of the lifetime (jitter01 = 0: -2%,
 * 0.5: exact, 1: +2%), never later than not_after - ACME_RENEW_MARGIN
 * (lifetime / 3 for lifetimes under three days) and never before
 * not_before.  The caller compares with now: a past time means renew now.
 * renew_percent is the config's acme.renew_percent (1..99 here; the
 * config allows 50..90).  Returns 0, ACME_EINVAL (NULL out, not_after <=
 * not_before), ACME_ERANGE (renew_percent outside 1..99).
 */
ACME_MUSTCHECK
int acme_renew_time(time_t not_before, time_t not_after, unsigned renew_percent, double jitter01,
                    time_t *out);

#endif
