/* acme/retry: Retry-After in its three date forms and as seconds, held
 * within [now + 1 s, now + a week], the failed-order ladder, civil time. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "acme/ari.h"
#include "acme/retry.h"
#include "acme/acme_err.h"

#define T1994 784111777          /* Sun, 06 Nov 1994 08:49:37 GMT */
#define T2026 1772355600         /* Sun, 01 Mar 2026 09:00:00 GMT */
#define WEEK  ACME_RETRY_AFTER_MAX

static const struct {
	const char *header;
	time_t now;
	int rc;
	time_t want;
} rows[] = {
	/* delta-seconds */
	{ "120", T2026, 0, T2026 + 120 },
	{ "0", T2026, 0, T2026 + 1 },                      /* floor: never at once */
	{ "00", T2026, 0, T2026 + 1 },
	{ "1", T2026, 0, T2026 + 1 },
	{ "2", T2026, 0, T2026 + 2 },
	{ "007", T2026, 0, T2026 + 7 },
	{ "00000000000000120", T2026, 0, T2026 + 120 },   /* leading zeros are digits */
	{ " 120\r\n", T2026, 0, T2026 + 120 },            /* OWS and libcurl's CRLF */
	{ "\t21600 ", T2026, 0, T2026 + 21600 },
	{ "604800", T2026, 0, T2026 + WEEK },             /* exactly a week */
	{ "604801", T2026, 0, T2026 + WEEK },             /* clamped */
	{ "9999999999", T2026, 0, T2026 + WEEK },         /* 10 digits: clamped */
	{ "99999999999", T2026, 0, T2026 + WEEK },        /* 11 digits: clamped too */
	{ "10000000000", T2026, 0, T2026 + WEEK },        /* 10^10 */
	{ "99999999999999999999999", T2026, 0, T2026 + WEEK },
	{ "1000000000000000000000000000000000000000", T2026, 0, T2026 + WEEK },  /* 40 digits */
	{ "1234567890123456789012345678901234567890123456789012345678901234", T2026, 0,
	  T2026 + WEEK },                                  /* 64 digits: the longest value */
	{ "00000000000000000000000000000000000000000000000000000000000000007", T2026,
	  ACME_ETOOLONG, 0 },                                /* 65 digits: too long a field */
	{ "99999999999x", T2026, ACME_ESYNTAX, 0 },
	{ "10000000000garbage", T2026, ACME_ESYNTAX, 0 },
	{ "999999999999999999999999999999999999999-", T2026, ACME_ESYNTAX, 0 },
	{ "120 s", T2026, ACME_ESYNTAX, 0 },
	{ "120, 60", T2026, ACME_ESYNTAX, 0 },
	{ "Retry later", T2026, ACME_ESYNTAX, 0 },
	{ "\x01", T2026, ACME_ESYNTAX, 0 },
	{ "soon", T2026, ACME_ESYNTAX, 0 },
	{ "-5", T2026, ACME_ESYNTAX, 0 },
	{ "+5", T2026, ACME_ESYNTAX, 0 },
	{ "1e3", T2026, ACME_ESYNTAX, 0 },
	{ "5.0", T2026, ACME_ESYNTAX, 0 },
	{ "0x10", T2026, ACME_ESYNTAX, 0 },
	{ "12 0", T2026, ACME_ESYNTAX, 0 },
	{ "120abc", T2026, ACME_ESYNTAX, 0 },
	{ "1\r\n2", T2026, ACME_ESYNTAX, 0 },
	{ "", T2026, ACME_ESYNTAX, 0 },
	{ "   ", T2026, ACME_ESYNTAX, 0 },
	{ "\r\n", T2026, ACME_ESYNTAX, 0 },
	{ "１２０", T2026, ACME_ESYNTAX, 0 },                 /* fullwidth digits */

	/* IMF-fixdate */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 100, 0, T1994 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT ", T1994 - 100, 0, T1994 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T1994 + 100, 0, T1994 + 101 },  /* past: floor */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T1994, 0, T1994 + 1 },          /* now: floor */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T1994 - 1, 0, T1994 },          /* 1 s: kept */
	{ "Thu, 01 Jan 1970 00:00:00 GMT", T2026, 0, T2026 + 1 },          /* long past */
	{ "Mon, 01 Jan 0001 00:00:00 GMT", T2026, 0, T2026 + 1 },          /* year 1 */
	{ "Sun, 06 Nov 1994 08:49:37 GMT", T1994 - WEEK - 1, 0, T1994 - 1 },  /* clamped */
	{ "Thu, 29 Feb 2024 12:00:00 GMT", 1709208000 - 5, 0, 1709208000 },
	{ "Sat, 31 Dec 2016 23:59:60 GMT", 1483228700, 0, 1483228800 },  /* leap second */
	{ "Fri, 31 Dec 9999 23:59:59 GMT", T2026, 0, T2026 + WEEK },
	{ "Mon, 06 Nov 1994 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },   /* wrong weekday */
	{ "sun, 06 nov 1994 08:49:37 gmt", T1994 - 100, ACME_ESYNTAX, 0 },   /* case-sensitive */
	{ "Sun, 06 Nov 1994 08:49:37 UTC", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 +0000", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 6 Nov 1994 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun,  06 Nov 1994 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 94 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nox 1994 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sat, 31 Feb 2024 00:00:00 GMT", T2026, ACME_ESYNTAX, 0 },         /* no such day */
	{ "Wed, 29 Feb 2023 00:00:00 GMT", T2026, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 24:00:00 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 08:60:00 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 08:49:61 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 8:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun, 06 Nov 1994 08:49:37 GMT extra", T1994 - 100, ACME_ESYNTAX, 0 },

	/* rfc850-date (obsolete): two-digit years */
	{ "Sunday, 06-Nov-94 08:49:37 GMT", T1994 - 100, 0, T1994 },
	{ "Sunday, 06-Nov-94 08:49:37 GMT", T2026, 0, T2026 + 1 },  /* 1994, not 2094: past */
	{ "Wednesday, 01-Jan-70 00:00:00 GMT", T2026, 0, T2026 + WEEK },  /* 2070 */
	{ "Thursday, 01-Jan-70 00:00:00 GMT", T2026, ACME_ESYNTAX, 0 },     /* 2070 is a Wed */
	{ "Thursday, 01-Jan-70 00:00:00 GMT", T1994, 0, T1994 + 1 },      /* 1970: past */
	{ "Sun, 06-Nov-94 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sunday, 06-Nov-1994 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sunday,06-Nov-94 08:49:37 GMT", T1994 - 100, ACME_ESYNTAX, 0 },

	/* asctime-date (obsolete) */
	{ "Sun Nov  6 08:49:37 1994", T1994 - 100, 0, T1994 },
	{ "Sun Nov 06 08:49:37 1994", T1994 - 100, 0, T1994 },
	{ "Sun Nov 6 08:49:37 1994", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Mon Nov  6 08:49:37 1994", T1994 - 100, ACME_ESYNTAX, 0 },
	{ "Sun Nov  6 08:49:37 94", T1994 - 100, ACME_ESYNTAX, 0 },

	/* too long to be any of them */
	{ "Sunday, 06-Nov-94 08:49:37 GMT                                     x", T2026,
	  ACME_ETOOLONG, 0 },
};

static void test_retry_after_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		time_t out = 12345;
		int rc = acme_retry_after(rows[i].header, rows[i].now, &out);

		if (rc != rows[i].rc)
			fail_msg("row %zu \"%s\": rc %d, want %d", i, rows[i].header, rc, rows[i].rc);
		if (rc == 0 && out != rows[i].want)
			fail_msg("row %zu \"%s\": %lld, want %lld", i, rows[i].header, (long long)out,
			         (long long)rows[i].want);
		if (rc != 0)
			assert_int_equal(out, 12345);   /* untouched on error */
		/* every accepted value lies within the bounds */
		if (rc == 0 && (out < rows[i].now + ACME_RETRY_AFTER_MIN ||
		                out > rows[i].now + ACME_RETRY_AFTER_MAX))
			fail_msg("row %zu \"%s\": %lld outside the bounds", i, rows[i].header,
			         (long long)out);
	}
	/* acme_ari_next_poll() narrows these bounds, never widens them */
	assert_true(ACME_RETRY_AFTER_MIN <= ACME_ARI_POLL_MIN);
	assert_true(ACME_ARI_POLL_MAX <= ACME_RETRY_AFTER_MAX);
}

static void test_retry_after_args(void **state)
{
	time_t out;

	(void)state;
	assert_int_equal(acme_retry_after(NULL, T2026, &out), ACME_EINVAL);
	assert_int_equal(acme_retry_after("1", T2026, NULL), ACME_EINVAL);
	assert_int_equal(acme_retry_after("1", -1, &out), ACME_EINVAL);
	assert_int_equal(acme_retry_after("1", 0, &out), 0);
	assert_int_equal(out, 1);
	assert_int_equal(acme_retry_after("0", 0, &out), 0);
	assert_int_equal(out, ACME_RETRY_AFTER_MIN);
}

static void test_ladder(void **state)
{
	static const struct { int failures; double jitter; double want; } steps[] = {
		{ 0, 0.5, 0 }, { -3, 0.5, 0 }, { INT_MIN, 1.0, 0 },
		{ 1, 0.5, 60 }, { 1, 0.0, 54 }, { 1, 1.0, 66 },
		{ 2, 0.5, 600 }, { 2, 0.0, 540 }, { 2, 1.0, 660 },
		{ 3, 0.5, 6000 }, { 3, 0.0, 5400 }, { 3, 1.0, 6600 },
		{ 4, 0.5, 86400 }, { 5, 0.5, 86400 }, { 100, 0.0, 77760 }, { INT_MAX, 1.0, 95040 },
		{ 1, -1.0, 54 }, { 1, 2.0, 66 }, { 1, NAN, 60 }, { 1, INFINITY, 66 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		assert_float_equal(acme_backoff_ladder(steps[i].failures, steps[i].jitter),
		                   steps[i].want, 1e-6);
	/* every step stays within +-10% and never shrinks */
	for (int f = 1; f < 10; f++)
		for (double j = 0.0; j <= 1.0; j += 0.05)
			assert_true(acme_backoff_ladder(f, j) >= acme_backoff_ladder(f - 1, 1.0) * 0.8);
}

static void test_civil(void **state)
{
	static const struct { int y, mo, d, h, mi, s; int rc; int64_t want; } rows2[] = {
		{ 1970, 1, 1, 0, 0, 0, 0, 0 },
		{ 2000, 1, 1, 0, 0, 0, 0, 946684800 },
		{ 2000, 2, 29, 0, 0, 0, 0, 951782400 },
		{ 1994, 11, 6, 8, 49, 37, 0, T1994 },
		{ 9999, 12, 31, 23, 59, 59, 0, 253402300799LL },
		{ 1, 1, 1, 0, 0, 0, 0, -62135596800LL },
		{ 1900, 2, 29, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 2, 29, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 4, 31, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 13, 1, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 0, 1, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 1, 0, 0, 0, 0, ACME_ERANGE, 0 },
		{ 10000, 1, 1, 0, 0, 0, ACME_ERANGE, 0 },
		{ -1, 1, 1, 0, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 1, 1, 24, 0, 0, ACME_ERANGE, 0 },
		{ 2023, 1, 1, 0, 0, 61, ACME_ERANGE, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows2) / sizeof(rows2[0]); i++) {
		int64_t t = -7;

		assert_int_equal(acme_civil_time(rows2[i].y, rows2[i].mo, rows2[i].d, rows2[i].h,
		                                 rows2[i].mi, rows2[i].s, &t), rows2[i].rc);
		if (rows2[i].rc == 0)
			assert_int_equal(t, rows2[i].want);
	}
	assert_int_equal(acme_weekday(1970, 1, 1), 4);
	assert_int_equal(acme_weekday(1994, 11, 6), 0);
	assert_int_equal(acme_weekday(2070, 1, 1), 3);
	assert_int_equal(acme_weekday(1, 1, 1), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_rows),
		cmocka_unit_test(test_retry_after_args),
		cmocka_unit_test(test_ladder),
		cmocka_unit_test(test_civil),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
