/*
 * retry.h - when to ask the CA again: the Retry-After header (RFC 9110
 * section 10.2.3) and the backoff ladder Let's Encrypt asks integrators to
 * use for failed orders (1 min, 10 min, 100 min, then daily).  Plus the
 * calendar arithmetic that acme/ari.c shares (no timegm(), no TZ, no
 * locale: pure functions of their arguments).
 */
#ifndef ACME_RETRY_H
#define ACME_RETRY_H

#include <stdint.h>
#include <time.h>

#include "acme/acme_err.h"

/* The nearest and the farthest Retry-After honoured, in seconds from now:
 * every accepted value is clamped into [now + MIN, now + MAX]. */
#define ACME_RETRY_AFTER_MIN 1
#define ACME_RETRY_AFTER_MAX (7 * 86400)
/* Longest header value looked at (an IMF-fixdate is 29 bytes). */
#define ACME_RETRY_AFTER_LEN 64

/*
 * Turn a Retry-After field value into an absolute time in *out.
 * header: the field value, NUL-terminated; leading/trailing SP, HTAB, CR and
 * LF are ignored (libcurl hands header lines over with their CRLF).
 * Accepted (RFC 9110 section 10.2.3 and 5.6.7):
 *   delta-seconds  1*DIGIT: "120", "0", "007".  No sign, no fraction, no
 *                  exponent, no hex, no inner spaces.
 *   IMF-fixdate    "Sun, 06 Nov 1994 08:49:37 GMT"
 *   rfc850-date    "Sunday, 06-Nov-94 08:49:37 GMT" (obsolete): a two-digit
 *                  year more than 50 years after now's year is taken as the
 *                  most recent past year with those digits (RFC 9110 5.6.7).
 *   asctime-date   "Sun Nov  6 08:49:37 1994" (obsolete)
 * Dates are case-sensitive as RFC 9110 says, must exist (30 February is
 * refused; second 60 is allowed for a leap second) and the day name must be
 * the right one for the date: a wrong weekday is refused.
 * Result: CLAMPED into [now + ACME_RETRY_AFTER_MIN, now + ACME_RETRY_AFTER_MAX].
 *   - "0", a delta below the minimum, now itself or a date in the past give
 *     now + ACME_RETRY_AFTER_MIN: never "at once", so a CA that is rate
 *     limiting us is not asked again in a hot loop;
 *   - anything later than now + ACME_RETRY_AFTER_MAX gives the maximum (a CA
 *     asking for more than a week is odd, but waiting a week and asking
 *     again is safer than ignoring it and retrying in a minute), and so does
 *     a delta of any number of digits too large to compute with
 *     ("10000000000", 40 digits: it plainly means "a long time").
 * Returns 0, or
 *   ACME_EINVAL   NULL header/out, or now < 0 (or absurdly large);
 *   ACME_ESYNTAX  empty, "soon", "-5", "+5", "1e3", "5.0", "99999999999x", a
 *                 malformed or impossible date, a wrong weekday;
 *   ACME_ETOOLONG value longer than ACME_RETRY_AFTER_LEN (so a delta of more
 *               than 64 digits too).
 * *out is left alone on error.  acme_ari_next_poll() applies its own,
 * narrower bounds on top (ACME_ARI_POLL_MIN..ACME_ARI_POLL_MAX).
 */
ACME_MUSTCHECK
int acme_retry_after(const char *header, time_t now, time_t *out);

/*
 * Let's Encrypt's ladder for an order that failed (acme_problem_class() ==
 * ACME_PC_FAIL): seconds to wait before the next new order for the same
 * names after `failures` failures in a row:
 *   1 -> 60, 2 -> 600, 3 -> 6000, 4 and more -> 86400,
 * each spread by +-10%: jitter01 = 0 gives -10%, 0.5 the exact step, 1 +10%.
 * failures <= 0 gives 0 (nothing failed: no wait).  jitter01 outside [0, 1]
 * is clamped; NaN counts as 0.5.  Rate-limit errors are not failures: they
 * wait for Retry-After instead.
 */
double acme_backoff_ladder(int failures, double jitter01);

/*
 * Seconds since the epoch of a UTC civil time, proleptic Gregorian, years
 * 0..9999.  sec may be 60 (a leap second, counted as the next minute's
 * first second).  Returns 0, ACME_ERANGE for a field out of range or a day
 * the month does not have.  Used by the HTTP-date and RFC 3339 readers.
 */
ACME_MUSTCHECK
int acme_civil_time(int year, int month, int day, int hour, int min, int sec, int64_t *out);

/* Day of the week of a civil date, 0 = Sunday. */
int acme_weekday(int year, int month, int day);

#endif
