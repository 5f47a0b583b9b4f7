/* retry.c - Retry-After, the failed-order ladder, civil time arithmetic. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "acme/retry.h"
#include "acme/acme_err.h"

static const char *const wkday[7] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const weekday_long[7] = {
	"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
};
static const char *const months[12] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The year of a count of days since the epoch (the inverse, year only). */
static int64_t year_from_days(int64_t z)
{
	int64_t era, doe, yoe, y, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	return mp >= 10 ? y + 1 : y;
}

int acme_civil_time(int year, int month, int day, int hour, int min, int sec, int64_t *out)
{
	if (year < 0 || year > 9999 || month < 1 || month > 12 || day < 1 ||
	    day > month_days(year, month) || hour < 0 || hour > 23 || min < 0 || min > 59 ||
	    sec < 0 || sec > 60)
		return ACME_ERANGE;
	*out = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
	return 0;
}

int acme_weekday(int year, int month, int day)
{
	int64_t d = days_from_civil(year, month, day);

	return (int)(((d % 7) + 7 + 4) % 7);   /* 1970-01-01 was a Thursday */
}

/* n digits at s into *v; false if any is not a digit. */
static bool digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

static int month_index(const char *s)
{
	for (int i = 0; i < 12; i++)
		if (strncmp(s, months[i], 3) == 0)
			return i + 1;
	return 0;
}

/* "HH:MM:SS" */
static bool time_of_day(const char *s, int *h, int *m, int *sec)
{
	return digits(s, 2, h) && s[2] == ':' && digits(s + 3, 2, m) && s[5] == ':' &&
	       digits(s + 6, 2, sec);
}

/* The calendar checks shared by the three forms: valid date and time, and
 * the day name (index wd) matching it. */
static int finish_date(int y, int mon, int d, int h, int mi, int s, int wd, int64_t *t)
{
	if (acme_civil_time(y, mon, d, h, mi, s, t) < 0)
		return ACME_ESYNTAX;
	if (acme_weekday(y, mon, d) != wd)
		return ACME_ESYNTAX;
	return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
static int imf_fixdate(const char *s, size_t len, int64_t *t)
{
	int wd = -1, d, mon, y, h, mi, sec;

	if (len != 29)
		return ACME_ESYNTAX;
	for (int i = 0; i < 7; i++)
		if (strncmp(s, wkday[i], 3) == 0)
			wd = i;
	if (wd < 0 || s[3] != ',' || s[4] != ' ' || !digits(s + 5, 2, &d) || s[7] != ' ' ||
	    (mon = month_index(s + 8)) == 0 || s[11] != ' ' || !digits(s + 12, 4, &y) ||
	    s[16] != ' ' || !time_of_day(s + 17, &h, &mi, &sec) || s[25] != ' ' ||
	    memcmp(s + 26, "GMT", 3) != 0)
		return ACME_ESYNTAX;
	return finish_date(y, mon, d, h, mi, sec, wd, t);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT" */
static int rfc850_date(const char *s, size_t len, time_t now, int64_t *t)
{
	int wd = -1, d, mon, yy, h, mi, sec;
	int64_t now_year, y;
	size_t n = 0;
	const char *r;

	for (int i = 0; i < 7; i++) {
		size_t l = strlen(weekday_long[i]);

		if (len > l && strncmp(s, weekday_long[i], l) == 0 && s[l] == ',') {
			wd = i;
			n = l + 1;
		}
	}
	if (wd < 0 || len - n != 23)
		return ACME_ESYNTAX;
	r = s + n;
	if (r[0] != ' ' || !digits(r + 1, 2, &d) || r[3] != '-' || (mon = month_index(r + 4)) == 0 ||
	    r[7] != '-' || !digits(r + 8, 2, &yy) || r[10] != ' ' ||
	    !time_of_day(r + 11, &h, &mi, &sec) || r[19] != ' ' || memcmp(r + 20, "GMT", 3) != 0)
		return ACME_ESYNTAX;
	/* RFC 9110 5.6.7: more than 50 years ahead means the past century. */
	now_year = year_from_days((int64_t)now / 86400);
	y = now_year - now_year % 100 + yy;
	if (y > now_year + 50)
		y -= 100;
	if (y < 0)
		return ACME_ESYNTAX;
	return finish_date((int)y, mon, d, h, mi, sec, wd, t);
}

/* "Sun Nov  6 08:49:37 1994" */
static int asctime_date(const char *s, size_t len, int64_t *t)
{
	int wd = -1, d, mon, y, h, mi, sec;

	if (len != 24)
		return ACME_ESYNTAX;
	for (int i = 0; i < 7; i++)
		if (strncmp(s, wkday[i], 3) == 0)
			wd = i;
	if (wd < 0 || s[3] != ' ' || (mon = month_index(s + 4)) == 0 || s[7] != ' ')
		return ACME_ESYNTAX;
	if (s[8] == ' ') {
		if (!digits(s + 9, 1, &d))
			return ACME_ESYNTAX;
	} else if (!digits(s + 8, 2, &d)) {
		return ACME_ESYNTAX;
	}
	if (s[10] != ' ' || !time_of_day(s + 11, &h, &mi, &sec) || s[19] != ' ' ||
	    !digits(s + 20, 4, &y))
		return ACME_ESYNTAX;
	return finish_date(y, mon, d, h, mi, sec, wd, t);
}

static bool ows(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int acme_retry_after(const char *header, time_t now, time_t *out)
{
	const int64_t min = ACME_RETRY_AFTER_MIN, max = ACME_RETRY_AFTER_MAX;
	const char *s;
	size_t len;
	int64_t t;
	int rc;

	if (header == NULL || out == NULL || now < 0 || (int64_t)now > INT64_MAX / 2)
		return ACME_EINVAL;
	len = strnlen(header, ACME_RETRY_AFTER_LEN + 1);
	if (len > ACME_RETRY_AFTER_LEN)
		return ACME_ETOOLONG;
	s = header;
	while (len > 0 && ows(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && ows(s[len - 1]))
		len--;
	if (len == 0)
		return ACME_ESYNTAX;

	if (s[0] >= '0' && s[0] <= '9') {
		int64_t delta = 0;

		for (size_t i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return ACME_ESYNTAX;
			/* saturate just past the maximum: more digits only say
			 * "longer", and garbage after them is still seen */
			if (delta <= max)
				delta = delta * 10 + (s[i] - '0');
		}
		t = (int64_t)now + (delta < max ? delta : max);
	} else {
		if (len >= 4 && s[3] == ',')
			rc = imf_fixdate(s, len, &t);
		else if (len >= 4 && s[3] == ' ')
			rc = asctime_date(s, len, &t);
		else
			rc = rfc850_date(s, len, now, &t);
		if (rc < 0)
			return rc;
	}
	if (t < (int64_t)now + min)
		t = (int64_t)now + min;
	if (t > (int64_t)now + max)
		t = (int64_t)now + max;
	*out = (time_t)t;
	return 0;
}

double acme_backoff_ladder(int failures, double jitter01)
{
	static const double steps[] = { 60.0, 600.0, 6000.0, 86400.0 };
	const int n = (int)(sizeof(steps) / sizeof(steps[0]));
	double base;

	if (failures <= 0)
		return 0.0;
	if (isnan(jitter01))
		jitter01 = 0.5;
	else if (jitter01 < 0.0)
		jitter01 = 0.0;
	else if (jitter01 > 1.0)
		jitter01 = 1.0;
	base = steps[failures < n ? failures - 1 : n - 1];
	return base * (0.9 + 0.2 * jitter01);
}
