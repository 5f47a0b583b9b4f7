/* schedule.c - renewal windows, stable offsets, priorities (schedule.h). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "acme/schedule.h"

static uint64_t fnv1a(uint64_t h, const char *s, size_t n, bool lower)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (lower && c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		h ^= c;
		h *= 0x100000001b3ULL;
	}
	return h;
}

double acme_sched_offset(const char *domain, const char *service)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n;

	domain = domain != NULL ? domain : "";
	service = service != NULL ? service : "";
	n = strlen(domain);
	if (n > 0 && domain[n - 1] == '.')
		n--;
	h = fnv1a(h, domain, n, true);
	h = fnv1a(h, "/", 1, false);
	h = fnv1a(h, service, strlen(service), false);
	/* FNV's low bits are poor for short similar names (z00001.test,
	 * z00002.test ...): mix every bit into the top ones. */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return (double)(h >> 11) / 9007199254740992.0;   /* 2^53 */
}

int acme_sched_config_ok(unsigned renew_percent, unsigned window_percent)
{
	/* compared doubled: w/2 without rounding */
	if (window_percent > ACME_SCHED_WINDOW_MAX || renew_percent > 99 ||
	    2 * renew_percent < 2 * ACME_SCHED_EARLIEST + window_percent ||
	    2 * renew_percent + window_percent > 2 * ACME_SCHED_LATEST)
		return ACME_ERANGE;
	return 0;
}

/* The latest renewal time of a certificate. */
static time_t latest(time_t not_before, time_t not_after)
{
	time_t life = not_after - not_before;

	return not_after - (life < 3 * ACME_RENEW_MARGIN ? life / 3 : ACME_RENEW_MARGIN);
}

static time_t clip(time_t t, time_t lo, time_t hi)
{
	return t < lo ? lo : t > hi ? hi : t;
}

int acme_sched_window(time_t not_before, time_t not_after, unsigned renew_percent,
                      unsigned window_percent, struct acme_sched_window *out)
{
	double life, s, e;
	time_t hi;

	if (out == NULL || not_after <= not_before)
		return ACME_EINVAL;
	if (acme_sched_config_ok(renew_percent, window_percent) != 0)
		return ACME_ERANGE;
	life = (double)(not_after - not_before);
	s = (double)not_before + floor(life * (2.0 * renew_percent - window_percent) / 200.0);
	e = (double)not_before + floor(life * (2.0 * renew_percent + window_percent) / 200.0);
	hi = latest(not_before, not_after);
	out->start = clip((time_t)s, not_before, hi);
	out->end = clip((time_t)e, not_before, hi);
	return 0;
}

int acme_sched_ari_window(const struct acme_ari_info *ari, time_t not_before, time_t not_after,
                          struct acme_sched_window *out)
{
	time_t hi;

	if (ari == NULL || out == NULL || not_after <= not_before)
		return ACME_EINVAL;
	if (ari->end <= ari->start)
		return ACME_ERANGE;
	hi = latest(not_before, not_after);
	/* The CA may suggest renewing before not_before (a revocation
	 * coming): that is kept, only the end is held to the margin. */
	out->start = ari->start < hi ? ari->start : hi;
	out->end = ari->end < hi ? ari->end : hi;
	return 0;
}

time_t acme_sched_pick(const struct acme_sched_window *w, double offset)
{
	double o = isnan(offset) ? 0.5 : offset < 0.0 ? 0.0 : offset > 1.0 ? 1.0 : offset;
	time_t t;

	if (w == NULL)
		return 0;
	if (w->end <= w->start)
		return w->start;
	t = w->start + (time_t)floor(o * (double)(w->end - w->start));
	return t > w->end ? w->end : t;
}

enum acme_sched_prio acme_sched_priority(bool renewal, const struct acme_sched_window *w,
                                         time_t now)
{
	if (!renewal)
		return ACME_PRIO_FIRST;
	if (w == NULL || now > w->end + ACME_SCHED_GRACE)
		return ACME_PRIO_URGENT;
	return ACME_PRIO_RENEW;
}

unsigned acme_sched_new_orders_cap(unsigned max, enum acme_sched_prio p, bool firsts_waiting)
{
	unsigned keep;

	if (max == 0 || p != ACME_PRIO_RENEW || !firsts_waiting)
		return max;
	keep = (unsigned)(((unsigned long long)max * ACME_SCHED_RESERVE_PCT + 99) / 100);
	if (keep < 1)
		keep = 1;
	if (keep >= max)
		keep = max - 1;
	return max - keep;
}
