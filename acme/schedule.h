/*
 * schedule.h - when each certificate is renewed, and in which order orders
 * go out, so that certificates issued together do not come due together.
 *
 * Pure functions of their arguments (no clock, no random draw): a renewal
 * planned at issuance is the same after any number of restarts, and the
 * unit test runs them on a simulated clock.
 *
 *   window    where a certificate may be renewed: the CA's renewalInfo
 *             window (RFC 9773) when it offers one, else
 *             [renew_percent - w/2, renew_percent + w/2] percent of the
 *             lifetime (w = acme.renew_window_percent); either clipped to
 *             end no later than not_after - margin (ari.h's
 *             ACME_RENEW_MARGIN, a third of the lifetime under three days).
 *   offset    a stable number in [0, 1) per (domain, service): the place
 *             in the window.  Certificates issued in one burst get offsets
 *             spread uniformly, so their renewals spread over the window;
 *             their cycle lengths differ too, so the burst dissolves over
 *             the following cycles instead of coming back whole.
 *   priority  the claim order of jobs (jobs.priority, lower first):
 *             urgent renewals (past their window's end), then first
 *             certificates (and everything not a renewal), then renewals
 *             inside their window.
 *   reserve   a renewal that is not urgent leaves the last
 *             ACME_SCHED_RESERVE_PCT percent of the new-orders limit to
 *             first certificates while one of those waits for it.
 */
#ifndef ACME_SCHEDULE_H
#define ACME_SCHEDULE_H

#include <stdbool.h>
#include <time.h>

#include "acme/acme_err.h"
#include "acme/ari.h"

/* acme.renew_window_percent: its bounds, and how it must sit in the
 * lifetime with renew_percent (acme_sched_config_ok()). */
#define ACME_SCHED_WINDOW_MAX  40
#define ACME_SCHED_WINDOW_DEF  10
#define ACME_SCHED_EARLIEST    30   /* renew_percent - w/2 >= this */
#define ACME_SCHED_LATEST      95   /* renew_percent + w/2 <= this */
/* A renewal is urgent this long after its window's end (a window of no
 * width would make every renewal urgent the moment it is due). */
#define ACME_SCHED_GRACE       300
/* Share of the new-orders limit kept for first certificates. */
#define ACME_SCHED_RESERVE_PCT 20

/* jobs.priority values, lower first (urgent renewals share 0 with the
 * propagation checks, which are short and take no budget). */
enum acme_sched_prio {
	ACME_PRIO_URGENT = 0,    /* a renewal past its window's end */
	ACME_PRIO_FIRST = 1,     /* a first certificate; jobs that are no renewal */
	ACME_PRIO_RENEW = 2,     /* a renewal inside its window */
};

/* Where a renewal may happen: start <= end (equal: one instant). */
struct acme_sched_window {
	time_t start, end;
};

/*
 * The stable place of (domain, service) in any window: a 64-bit FNV-1a
 * hash of "domain/service" (domain ASCII-lowercased, one trailing dot
 * ignored), mixed (splitmix64's finaliser), its top 53 bits / 2^53.  In
 * [0, 1); NULL counts as "".
 */
double acme_sched_offset(const char *domain, const char *service);

/* acme.renew_percent (1..99) and acme.renew_window_percent together: 0 when
 * renew_percent - w/2 >= ACME_SCHED_EARLIEST, renew_percent + w/2 <=
 * ACME_SCHED_LATEST and w <= ACME_SCHED_WINDOW_MAX; else ACME_ERANGE. */
int acme_sched_config_ok(unsigned renew_percent, unsigned window_percent);

/*
 * The window without ARI: not_before + lifetime * (renew_percent -+
 * window_percent / 2) / 100, both ends no later than not_after - margin and
 * no earlier than not_before.  Returns 0, ACME_EINVAL (NULL out, not_after
 * <= not_before), ACME_ERANGE (acme_sched_config_ok() refuses).
 */
ACME_MUSTCHECK
int acme_sched_window(time_t not_before, time_t not_after, unsigned renew_percent,
                      unsigned window_percent, struct acme_sched_window *out);

/*
 * The CA's suggested window, clipped the same way: ends no later than
 * not_after - margin (a window wholly after that is that one instant).
 * Returns 0, ACME_EINVAL (NULL, not_after <= not_before), ACME_ERANGE
 * (ari->end <= ari->start).
 */
ACME_MUSTCHECK
int acme_sched_ari_window(const struct acme_ari_info *ari, time_t not_before, time_t not_after,
                          struct acme_sched_window *out);

/* The renewal time: start + offset * (end - start), offset clamped to
 * [0, 1] (NaN: 0.5).  The caller compares it with now. */
time_t acme_sched_pick(const struct acme_sched_window *w, double offset);

/* The priority of an order made at now: not a renewal (renewal false):
 * FIRST; a renewal later than w->end + ACME_SCHED_GRACE (or without a
 * window): URGENT; else RENEW. */
enum acme_sched_prio acme_sched_priority(bool renewal, const struct acme_sched_window *w,
                                         time_t now);

/*
 * How much of a new-orders limit of max an order of priority p may use:
 * max, but for a RENEW while first certificates wait (firsts_waiting),
 * max minus ACME_SCHED_RESERVE_PCT percent of it (rounded up, at least 1
 * when max > 1, and never the whole limit).  0 (limit off) stays 0.
 */
unsigned acme_sched_new_orders_cap(unsigned max, enum acme_sched_prio p, bool firsts_waiting);

#endif
