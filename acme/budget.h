/*
 * budget.h - stay inside the CA's rate limits instead of running into them.
 *
 * A pure function over what the caller recorded for ONE ACME account: the
 * orders it created, the certificates it got, the validations that failed.
 * Given the limits (from the config) and a candidate order it says "now" or
 * the earliest time the order fits, and which limit decides that.
 *
 * The model: a sliding window per limit.  An event at time a counts against
 * a limit with window W while now < a + W (events stamped in the future,
 * after a clock step, count too).  A limit of max M is saturated when M or
 * more events count; the order fits again once enough of them have aged
 * out that fewer than M remain: with the counted events sorted oldest
 * first, at e[k - M] + W (k counted; k == M: when the oldest ages out).
 * Let's Encrypt implements its limits as token buckets that refill one
 * token every W/M; a history that keeps M per sliding window never exceeds
 * such a bucket, so this model is never more permissive than the CA, only
 * slower after a burst (it waits for the oldest event to leave the window
 * where the bucket would give a token back after W/M).
 *
 * Let's Encrypt's limits (shared/NOTES-knot-pebble.md, ACME_LIMITS_LE):
 *   new orders per account               300 per 3 h
 *   certificates per registered domain    50 per 7 days
 *   certificates per exact set of names    5 per 7 days
 *   failed validations per name per account 5 per 1 h
 * ARI renewals (made inside the suggested window with "replaces") are exempt
 * from all of them: ari_renewal = true answers "now" without looking.  The
 * caller still records their events: counting them makes the budget
 * stricter, never looser.
 *
 * Not modelled (the caller's part): the registered domain - computing it
 * needs the Public Suffix List, which is out of scope here: the caller
 * passes it (regzone takes it from the PSL); Let's
 * Encrypt's renewal exemption from the per-domain limit (ignored: we count
 * every certificate, stricter); the pause of a name after a long run of
 * failures; limits per IP address and on accounts; other clients using the
 * same account (configure lower numbers then).  Names are compared
 * ASCII-case-insensitively, ignoring one trailing dot; a set is a set:
 * order and repeats do not matter.
 */
#ifndef ACME_BUDGET_H
#define ACME_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "acme/acme_err.h"

enum acme_event_kind {
	ACME_EV_ORDER_CREATED,      /* a newOrder the CA accepted (201) */
	ACME_EV_CERT_ISSUED,        /* a certificate downloaded: names, reg_domain */
	ACME_EV_VALIDATION_FAILED,  /* an authorization that went invalid: name */
	ACME_EV__MAX
};

/* One recorded event.  The strings belong to the caller. */
struct acme_event {
	time_t at;
	enum acme_event_kind kind;
	const char *const *names;   /* CERT_ISSUED: the certificate's names */
	size_t n_names;
	const char *reg_domain;     /* CERT_ISSUED: its registered domain */
	const char *name;           /* VALIDATION_FAILED: the identifier */
};

/* At most max events per window seconds; max 0 turns the limit off. */
struct acme_limit {
	unsigned max;
	time_t window;
};

enum acme_limit_id {
	ACME_LIM_NONE,              /* allowed */
	ACME_LIM_NEW_ORDERS,
	ACME_LIM_CERTS_PER_DOMAIN,
	ACME_LIM_CERTS_PER_NAMES,
	ACME_LIM_FAILED_VALIDATIONS,
	ACME_LIM__MAX
};

struct acme_limits {
	struct acme_limit new_orders;          /* per account */
	struct acme_limit certs_per_domain;    /* per registered domain */
	struct acme_limit certs_per_names;     /* per exact set of names */
	struct acme_limit failed_validations;  /* per name (per account) */
};

/* Let's Encrypt production, 2026. */
#define ACME_LIMITS_LE { { 300, 3 * 3600 }, { 50, 7 * 86400 }, { 5, 7 * 86400 }, { 5, 3600 } }

/* The order the caller wants to make. */
struct acme_candidate {
	const char *const *names;   /* its identifiers, at least one */
	size_t n_names;
	const char *reg_domain;     /* registered domain of the names */
	bool ari_renewal;           /* inside the ARI window, with "replaces" */
};

struct acme_verdict {
	bool allowed;               /* true: order now */
	time_t not_before;          /* allowed: now; else the earliest time */
	enum acme_limit_id limit;   /* the limit that sets not_before */
	unsigned saturated;         /* bit (1u << id) for every saturated limit */
	unsigned count;             /* events counted against `limit` */
	size_t name_index;          /* FAILED_VALIDATIONS: candidate name */
};

/*
 * Check a candidate order against the limits and the history ev[0..n_ev)
 * (any order; n_ev may be 0 with ev NULL).  When several limits are
 * saturated, not_before is the latest of their times (each only waits for
 * its own events to age out) and limit names that one.  Returns 0, or
 * ACME_EINVAL: NULL lim/c/out, a candidate without names or reg_domain or
 * with a NULL/empty name, an event of unknown kind or without its names /
 * reg_domain / name, a limit with max > 0 and window <= 0.
 */
/*
 * The events of ev[0..n_ev) inside limit l's window that count against
 * limit id for candidate c (for the failed validations, the most of any of
 * its names): how much of the limit is used now.  Arguments as checked by
 * acme_budget_check(); 0 for a limit without a window.
 */
unsigned acme_budget_used(enum acme_limit_id id, const struct acme_limit *l,
                          const struct acme_event *ev, size_t n_ev,
                          const struct acme_candidate *c, time_t now);

ACME_MUSTCHECK
int acme_budget_check(const struct acme_limits *lim, const struct acme_event *ev, size_t n_ev,
                      const struct acme_candidate *c, time_t now, struct acme_verdict *out);

/* "new-orders", "certs-per-domain", "certs-per-names", "failed-validations",
 * "none"; NULL out of range. */
const char *acme_limit_name(enum acme_limit_id id);

/*
 * Start offsets (seconds from now) for k orders that are all due at once,
 * so that no window of `interval` seconds ever holds more than n starts:
 * out[i] = i * interval / n, evenly spaced, never a burst.  E.g. n = 1,
 * interval = 1: one a second; n = 300, interval = 10800: the new-orders
 * limit's sustained rate (one every 36 s).  Use the slower of the two; the
 * budget still checks each order when its turn comes.  Returns 0, ACME_EINVAL
 * (out NULL with k > 0, n == 0, interval <= 0 or not finite).
 */
ACME_MUSTCHECK
int acme_spread(size_t k, unsigned n, double interval, double *out);

#endif
