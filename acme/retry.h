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

/* The farthest Retry-After honoured: later values are clamped to it. */
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
 * Result: a date in the past gives now (retry at once); anything later than
 * now + ACME_RETRY_AFTER_MAX is CLAMPED to now + ACME_RETRY_AFTER_MAX (a CA
 * asking for more than a week is odd, but waiting a week and asking again is
 * safer than ignoring it and retrying in a minute).
 * Returns 0, or
 *   RZ_EINVAL   NULL header/out, or now < 0;
 *   RZ_ESYNTAX  empty, "soon", "-5", "+5", "1e3", "5.0", a malformed or
 *               impossible date, a wrong weekday;
 *   RZ_ERANGE   a delta of more than 10 digits (does not fit: refused rather
 *               than clamped, it is not a number a server means);
 *   RZ_ETOOLONG value longer than ACME_RETRY_AFTER_LEN.
 * *out is left alone on error.
 */
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
 * first second).  Returns 0, RZ_ERANGE for a field out of range or a day
 * the month does not have.  Used by the HTTP-date and RFC 3339 readers.
 */
int acme_civil_time(int year, int month, int day, int hour, int min, int sec, int64_t *out);

/* Day of the week of a civil date, 0 = Sunday. */
int acme_weekday(int year, int month, int day);

#endif
