/* acme/budget: Let's Encrypt's four limits over a recorded history - each
 * limit reached gives the right earliest time and reason, ARI renewals are
 * exempt, windows slide; and the spread of orders due at once. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acme/budget.h"
#include "acme/acme_err.h"

#define NOW   1772355600     /* 2026-03-01T09:00:00Z */
#define H     3600
#define DAY   86400
#define WEEK  (7 * DAY)

static const char *const set_xmpp[] = { "example.org", "conference.example.org",
	                                "upload.example.org" };
/* the same set: other order, case, a trailing dot, a repeat */
static const char *const set_xmpp_again[] = { "UPLOAD.example.org.", "example.org",
	                                      "Conference.Example.Org", "example.org" };
static const char *const set_subset[] = { "example.org", "conference.example.org" };
static const char *const set_superset[] = { "example.org", "conference.example.org",
	                                    "upload.example.org", "proxy.example.org" };
static const char *const set_other[] = { "other.example" };

static const struct {
	const char *const *names;
	size_t n;
} sets[] = {
	{ set_xmpp, 3 }, { set_xmpp_again, 4 }, { set_subset, 2 }, { set_superset, 4 },
	{ set_other, 1 },
};
enum { XMPP, XMPP_AGAIN, SUBSET, SUPERSET, OTHER };

/* count events of one kind, the first `first` seconds before NOW, then one
 * every `step` seconds. */
struct group {
	enum acme_event_kind kind;
	int count;
	time_t first;
	time_t step;
	int set;              /* CERT_ISSUED */
	const char *reg;      /* CERT_ISSUED */
	const char *name;     /* VALIDATION_FAILED */
};

#define ORDERS(n, first, step) { ACME_EV_ORDER_CREATED, n, first, step, 0, NULL, NULL }
#define CERTS(n, first, step, set, reg) { ACME_EV_CERT_ISSUED, n, first, step, set, reg, NULL }
#define FAILS(n, first, step, name) { ACME_EV_VALIDATION_FAILED, n, first, step, 0, NULL, name }
#define BIT(l) (1u << (l))

static const struct acme_limits le = ACME_LIMITS_LE;

static const struct {
	const char *what;
	struct group g[4];
	int cand_set;
	const char *cand_reg;
	bool ari;
	/* expected */
	bool allowed;
	time_t not_before;       /* relative to NOW */
	enum acme_limit_id limit;
	unsigned saturated;
	unsigned count;
	size_t name_index;
} rows[] = {
	{ "empty history", { { 0 } }, XMPP, "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },

	/* 300 new orders per account per 3 h */
	{ "299 orders: one left", { ORDERS(299, 2 * H, 10) }, XMPP, "example.org", false, true, 0,
	  ACME_LIM_NONE, 0, 0, 0 },
	{ "300 orders: wait for the oldest", { ORDERS(300, 3 * H - 100, 10) }, XMPP,
	  "example.org", false, false, 100, ACME_LIM_NEW_ORDERS, BIT(ACME_LIM_NEW_ORDERS), 300, 0 },
	{ "302 orders: wait for the third oldest", { ORDERS(302, 3 * H - 100, 10) }, XMPP,
	  "example.org", false, false, 120, ACME_LIM_NEW_ORDERS, BIT(ACME_LIM_NEW_ORDERS), 302,
	  0 },
	{ "300 orders exactly 3 h old: aged out", { ORDERS(300, 3 * H, 0) }, XMPP, "example.org",
	  false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "300 orders 3 h - 1 s old: one more second", { ORDERS(300, 3 * H - 1, 0) }, XMPP,
	  "example.org", false, false, 1, ACME_LIM_NEW_ORDERS, BIT(ACME_LIM_NEW_ORDERS), 300, 0 },
	{ "sliding: 150 old ones gone, 150 + 149 recent", { ORDERS(150, 4 * H, 1),
	  ORDERS(299, H, 1) }, XMPP, "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "future-dated orders count", { ORDERS(299, H, 1), ORDERS(1, -600, 0) }, XMPP,
	  "example.org", false, false, 2 * H, ACME_LIM_NEW_ORDERS,
	  BIT(ACME_LIM_NEW_ORDERS), 300, 0 },

	/* 50 certificates per registered domain per 7 days */
	{ "49 certificates for the domain", { CERTS(49, 6 * DAY, 60, SUBSET, "example.org") },
	  XMPP, "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "50 certificates for the domain", { CERTS(50, 6 * DAY, 60, SUBSET, "example.org") },
	  XMPP, "example.org", false, false, DAY, ACME_LIM_CERTS_PER_DOMAIN,
	  BIT(ACME_LIM_CERTS_PER_DOMAIN), 50, 0 },
	{ "50 certificates, domain in other case", { CERTS(50, 6 * DAY, 60, SUBSET,
	  "EXAMPLE.org.") }, XMPP, "example.org", false, false, DAY, ACME_LIM_CERTS_PER_DOMAIN,
	  BIT(ACME_LIM_CERTS_PER_DOMAIN), 50, 0 },
	{ "50 certificates for another domain", { CERTS(50, 6 * DAY, 60, OTHER, "other.example") },
	  XMPP, "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "50 certificates, 8 days old", { CERTS(50, 8 * DAY, 60, SUBSET, "example.org") }, XMPP,
	  "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },

	/* 5 certificates per exact set of names per 7 days */
	{ "4 for the same set", { CERTS(4, 5 * DAY, DAY, XMPP, "example.org") }, XMPP,
	  "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "5 for the same set", { CERTS(5, 5 * DAY, DAY, XMPP, "example.org") }, XMPP,
	  "example.org", false, false, 2 * DAY, ACME_LIM_CERTS_PER_NAMES,
	  BIT(ACME_LIM_CERTS_PER_NAMES), 5, 0 },
	{ "5 for the same set, written differently", { CERTS(5, 5 * DAY, DAY, XMPP_AGAIN,
	  "example.org") }, XMPP, "example.org", false, false, 2 * DAY, ACME_LIM_CERTS_PER_NAMES,
	  BIT(ACME_LIM_CERTS_PER_NAMES), 5, 0 },
	{ "5 for a subset and 5 for a superset", { CERTS(5, DAY, 1, SUBSET, "example.org"),
	  CERTS(5, DAY, 1, SUPERSET, "example.org") }, XMPP, "example.org", false, true, 0,
	  ACME_LIM_NONE, 0, 0, 0 },
	{ "sliding: 3 aged out, 4 left", { CERTS(3, 9 * DAY, DAY, XMPP, "example.org"),
	  CERTS(4, 2 * DAY, H, XMPP, "example.org") }, XMPP, "example.org", false, true, 0,
	  ACME_LIM_NONE, 0, 0, 0 },

	/* 5 failed validations per name per account per hour */
	{ "4 failures for a name", { FAILS(4, 50 * 60, 60, "conference.example.org") }, XMPP,
	  "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "5 failures for the second name", { FAILS(5, 50 * 60, 60, "conference.example.org") },
	  XMPP, "example.org", false, false, 10 * 60, ACME_LIM_FAILED_VALIDATIONS,
	  BIT(ACME_LIM_FAILED_VALIDATIONS), 5, 1 },
	{ "5 failures, name in other case", { FAILS(5, 50 * 60, 60, "UPLOAD.example.org.") },
	  XMPP, "example.org", false, false, 10 * 60, ACME_LIM_FAILED_VALIDATIONS,
	  BIT(ACME_LIM_FAILED_VALIDATIONS), 5, 2 },
	{ "5 failures for a name not ordered", { FAILS(5, 50 * 60, 60, "proxy.example.org") },
	  XMPP, "example.org", false, true, 0, ACME_LIM_NONE, 0, 0, 0 },
	{ "two names saturated: the later one", { FAILS(5, 50 * 60, 60, "example.org"),
	  FAILS(5, 30 * 60, 60, "upload.example.org") }, XMPP, "example.org", false, false,
	  30 * 60, ACME_LIM_FAILED_VALIDATIONS, BIT(ACME_LIM_FAILED_VALIDATIONS), 5, 2 },
	{ "failures an hour old: gone", { FAILS(5, H, 1, "example.org") }, XMPP, "example.org",
	  false, true, 0, ACME_LIM_NONE, 0, 0, 0 },

	/* several at once: the latest time decides, all are reported */
	{ "names and orders saturated", { CERTS(5, 5 * DAY, DAY, XMPP, "example.org"),
	  ORDERS(300, H, 1) }, XMPP, "example.org", false, false, 2 * DAY,
	  ACME_LIM_CERTS_PER_NAMES, BIT(ACME_LIM_CERTS_PER_NAMES) | BIT(ACME_LIM_NEW_ORDERS), 5,
	  0 },
	/* domain: 55 counted, the 6th oldest (a day old) must leave: +6 d; names:
	 * +23 h; orders: +2 h; failures: +50 min */
	{ "everything saturated", { CERTS(5, 6 * DAY + H, 1, XMPP, "example.org"),
	  CERTS(50, DAY, 1, OTHER, "example.org"), ORDERS(300, H, 1),
	  FAILS(5, 10 * 60, 1, "example.org") }, XMPP, "example.org", false, false, 6 * DAY,
	  ACME_LIM_CERTS_PER_DOMAIN, 0x1e, 55, 0 },

	/* ARI renewals are exempt from everything */
	{ "ARI renewal, everything saturated", { CERTS(5, 6 * DAY + H, 1, XMPP, "example.org"),
	  CERTS(50, DAY, 1, OTHER, "example.org"), ORDERS(300, H, 1),
	  FAILS(5, 10 * 60, 1, "example.org") }, XMPP, "example.org", true, true, 0,
	  ACME_LIM_NONE, 0, 0, 0 },
};

/* Expand a row's groups into events. */
static size_t build(const struct group *g, size_t n_g, struct acme_event *ev)
{
	size_t n = 0;

	for (size_t i = 0; i < n_g; i++)
		for (int k = 0; k < g[i].count; k++) {
			struct acme_event *e = &ev[n++];

			memset(e, 0, sizeof(*e));
			e->at = NOW - g[i].first + (time_t)k * g[i].step;
			e->kind = g[i].kind;
			if (g[i].kind == ACME_EV_CERT_ISSUED) {
				e->names = sets[g[i].set].names;
				e->n_names = sets[g[i].set].n;
				e->reg_domain = g[i].reg;
			}
			e->name = g[i].name;
		}
	return n;
}

static void test_limits(void **state)
{
	struct acme_event *ev = calloc(1024, sizeof(*ev));

	(void)state;
	assert_non_null(ev);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = build(rows[i].g, 4, ev);
		struct acme_candidate c = {
			sets[rows[i].cand_set].names, sets[rows[i].cand_set].n, rows[i].cand_reg,
			rows[i].ari,
		};
		struct acme_verdict v;

		/* shuffle: the history's order must not matter */
		for (size_t k = n; k > 1; k--) {
			size_t j = (size_t)rand() % k;
			struct acme_event t = ev[k - 1];

			ev[k - 1] = ev[j];
			ev[j] = t;
		}
		assert_int_equal(acme_budget_check(&le, n ? ev : NULL, n, &c, NOW, &v), 0);
		if (v.allowed != rows[i].allowed || v.not_before != NOW + rows[i].not_before ||
		    v.limit != rows[i].limit || v.saturated != rows[i].saturated)
			fail_msg("row \"%s\": allowed %d at +%lld by %s (saturated 0x%x); want %d at "
			         "+%lld by %s (0x%x)", rows[i].what, v.allowed,
			         (long long)(v.not_before - NOW), acme_limit_name(v.limit), v.saturated,
			         rows[i].allowed, (long long)rows[i].not_before,
			         acme_limit_name(rows[i].limit), rows[i].saturated);
		assert_int_equal(v.count, rows[i].count);
		assert_int_equal(v.name_index, rows[i].name_index);
	}
	free(ev);
}

/* A limit blocks, then time passes and it opens exactly when promised. */
static void test_window_slides(void **state)
{
	struct acme_event ev[5];
	struct acme_candidate c = { set_xmpp, 3, "example.org", false };
	struct acme_verdict v;

	(void)state;
	for (int i = 0; i < 5; i++)
		ev[i] = (struct acme_event){ .at = NOW - 40 * 60 + i * 5 * 60,
			                     .kind = ACME_EV_VALIDATION_FAILED,
			                     .name = "example.org" };
	assert_int_equal(acme_budget_check(&le, ev, 5, &c, NOW, &v), 0);
	assert_false(v.allowed);
	assert_int_equal(v.not_before, NOW + 20 * 60);
	/* a second early: still closed, same answer */
	assert_int_equal(acme_budget_check(&le, ev, 5, &c, v.not_before - 1, &v), 0);
	assert_false(v.allowed);
	assert_int_equal(v.not_before, NOW + 20 * 60);
	/* at that time: open */
	assert_int_equal(acme_budget_check(&le, ev, 5, &c, NOW + 20 * 60, &v), 0);
	assert_true(v.allowed);
	assert_int_equal(v.not_before, NOW + 20 * 60);
	assert_int_equal(v.limit, ACME_LIM_NONE);
}

static void test_limits_off_and_config(void **state)
{
	struct acme_limits off = le;
	struct acme_event ev[400];
	struct acme_candidate c = { set_other, 1, "other.example", false };
	struct acme_verdict v;

	(void)state;
	for (int i = 0; i < 400; i++)
		ev[i] = (struct acme_event){ .at = NOW - i, .kind = ACME_EV_ORDER_CREATED };
	off.new_orders.max = 0;        /* turned off */
	assert_int_equal(acme_budget_check(&off, ev, 400, &c, NOW, &v), 0);
	assert_true(v.allowed);
	/* a stricter configured limit: 10 per minute */
	off.new_orders = (struct acme_limit){ 10, 60 };
	assert_int_equal(acme_budget_check(&off, ev, 400, &c, NOW, &v), 0);
	assert_false(v.allowed);
	assert_int_equal(v.count, 60);
	/* 60 counted (ages 0..59), the 10 newest must stay: wait for age 9's
	 * to leave, at NOW - 9 + 60 */
	assert_int_equal(v.not_before, NOW + 51);
	assert_string_equal(acme_limit_name(v.limit), "new-orders");
}

static void test_malformed(void **state)
{
	static const char *const with_null[] = { "example.org", NULL };
	static const char *const with_empty[] = { "example.org", "" };
	const struct acme_candidate good = { set_xmpp, 3, "example.org", false };
	struct acme_limits bad_window = le;
	struct acme_verdict v;
	struct {
		const char *what;
		struct acme_candidate c;
		struct acme_event e;
		size_t n_ev;
	} bad[] = {
		{ "no names", { set_xmpp, 0, "example.org", false }, { 0 }, 0 },
		{ "names NULL", { NULL, 3, "example.org", false }, { 0 }, 0 },
		{ "a NULL name", { with_null, 2, "example.org", false }, { 0 }, 0 },
		{ "an empty name", { with_empty, 2, "example.org", false }, { 0 }, 0 },
		{ "no registered domain", { set_xmpp, 3, NULL, false }, { 0 }, 0 },
		{ "empty registered domain", { set_xmpp, 3, "", false }, { 0 }, 0 },
		{ "event of unknown kind", good, { .at = NOW, .kind = ACME_EV__MAX }, 1 },
		{ "event of negative kind", good, { .at = NOW, .kind = (enum acme_event_kind)-1 }, 1 },
		{ "certificate without names", good,
		  { .at = NOW, .kind = ACME_EV_CERT_ISSUED, .reg_domain = "example.org" }, 1 },
		{ "certificate without domain", good,
		  { .at = NOW, .kind = ACME_EV_CERT_ISSUED, .names = set_xmpp, .n_names = 3 }, 1 },
		{ "certificate with a NULL name", good,
		  { .at = NOW, .kind = ACME_EV_CERT_ISSUED, .names = with_null, .n_names = 2,
		    .reg_domain = "example.org" }, 1 },
		{ "failure without name", good, { .at = NOW, .kind = ACME_EV_VALIDATION_FAILED }, 1 },
		{ "failure with empty name", good,
		  { .at = NOW, .kind = ACME_EV_VALIDATION_FAILED, .name = "" }, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = acme_budget_check(&le, &bad[i].e, bad[i].n_ev, &bad[i].c, NOW, &v);

		if (rc != ACME_EINVAL)
			fail_msg("\"%s\": rc %d", bad[i].what, rc);
		assert_false(v.allowed);
	}
	/* the checks come before the ARI exemption */
	bad[0].c.ari_renewal = true;
	assert_int_equal(acme_budget_check(&le, NULL, 0, &bad[0].c, NOW, &v), ACME_EINVAL);
	assert_int_equal(acme_budget_check(&le, NULL, 3, &good, NOW, &v), ACME_EINVAL);
	assert_int_equal(acme_budget_check(NULL, NULL, 0, &good, NOW, &v), ACME_EINVAL);
	assert_int_equal(acme_budget_check(&le, NULL, 0, NULL, NOW, &v), ACME_EINVAL);
	assert_int_equal(acme_budget_check(&le, NULL, 0, &good, NOW, NULL), ACME_EINVAL);
	bad_window.certs_per_names.window = 0;
	assert_int_equal(acme_budget_check(&bad_window, NULL, 0, &good, NOW, &v), ACME_EINVAL);
	bad_window.certs_per_names.max = 0;     /* off: its window does not matter */
	assert_int_equal(acme_budget_check(&bad_window, NULL, 0, &good, NOW, &v), 0);
	assert_true(v.allowed);
	assert_null(acme_limit_name(ACME_LIM__MAX));
	assert_string_equal(acme_limit_name(ACME_LIM_NONE), "none");
}

static void test_spread(void **state)
{
	double out[1000];

	(void)state;
	/* one a second */
	assert_int_equal(acme_spread(5, 1, 1.0, out), 0);
	for (int i = 0; i < 5; i++)
		assert_float_equal(out[i], i, 1e-9);
	/* 4 per second: every 250 ms */
	assert_int_equal(acme_spread(8, 4, 1.0, out), 0);
	assert_float_equal(out[7], 1.75, 1e-9);
	/* the new-orders limit's sustained rate: one every 36 s */
	assert_int_equal(acme_spread(1000, 300, 10800.0, out), 0);
	assert_float_equal(out[1], 36.0, 1e-9);
	assert_float_equal(out[999], 35964.0, 1e-6);
	/* never more than n in any window of `interval` */
	assert_int_equal(acme_spread(1000, 7, 3.0, out), 0);
	for (size_t i = 0; i + 7 < 1000; i++)
		assert_true(out[i + 7] - out[i] >= 3.0 - 1e-9);
	assert_int_equal(acme_spread(0, 1, 1.0, NULL), 0);
	assert_int_equal(acme_spread(1, 1, 1.0, NULL), ACME_EINVAL);
	assert_int_equal(acme_spread(1, 0, 1.0, out), ACME_EINVAL);
	assert_int_equal(acme_spread(1, 1, 0.0, out), ACME_EINVAL);
	assert_int_equal(acme_spread(1, 1, -1.0, out), ACME_EINVAL);
	assert_int_equal(acme_spread(1, 1, NAN, out), ACME_EINVAL);
	assert_int_equal(acme_spread(1, 1, INFINITY, out), ACME_EINVAL);
}

/* How much of each limit is used, below its maximum too. */
static void test_used(void **state)
{
	static const struct group g[] = {
		ORDERS(7, 10, 60),                          /* 7 orders in the last 3 h */
		ORDERS(3, 4 * H, 60),                       /* 3 older: outside */
		CERTS(2, 100, 60, XMPP, "example.org"),     /* the set, its domain */
		CERTS(4, 100, 60, OTHER, "other.example"),  /* another domain */
		FAILS(2, 10, 10, "conference.example.org"),
		FAILS(1, 10, 10, "example.org"),
	};
	struct acme_event *ev = calloc(64, sizeof(*ev));
	struct acme_candidate c = { set_xmpp, 3, "example.org", false };
	size_t n;

	(void)state;
	assert_non_null(ev);
	n = build(g, sizeof(g) / sizeof(g[0]), ev);
	assert_int_equal(acme_budget_used(ACME_LIM_NEW_ORDERS, &le.new_orders, ev, n, &c, NOW), 7);
	assert_int_equal(acme_budget_used(ACME_LIM_CERTS_PER_DOMAIN, &le.certs_per_domain, ev, n,
	                                  &c, NOW), 2);
	assert_int_equal(acme_budget_used(ACME_LIM_CERTS_PER_NAMES, &le.certs_per_names, ev, n,
	                                  &c, NOW), 2);
	/* the most of any of its names */
	assert_int_equal(acme_budget_used(ACME_LIM_FAILED_VALIDATIONS, &le.failed_validations, ev,
	                                  n, &c, NOW), 2);
	/* a day later the orders and failures are out of their windows */
	assert_int_equal(acme_budget_used(ACME_LIM_NEW_ORDERS, &le.new_orders, ev, n, &c,
	                                  NOW + DAY), 0);
	assert_int_equal(acme_budget_used(ACME_LIM_FAILED_VALIDATIONS, &le.failed_validations, ev,
	                                  n, &c, NOW + DAY), 0);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_window_slides),
		cmocka_unit_test(test_limits_off_and_config),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_used),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
