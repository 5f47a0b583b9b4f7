/*
 * The Knot writer against a real knotd (the devstack's primary): zone
 * lookup, transactions, the exact text Knot gives back for every record
 * type a profile can generate, and the failure paths.
 * Needs REGZONE_KNOT_SOCKET (run by knot_writer.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zonegen/knot.h"
#include "zonegen/zg_err.h"

static const char *sock;

static struct zg_knot *open_knot(void)
{
	struct zg_knot *k = NULL;
	char err[256];

	if (zg_knot_open(sock, 5000, &k, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	return k;
}

static void test_zone_of(void **state)
{
	struct zg_knot *k = open_knot();
	char zone[256], err[256];

	(void)state;
	assert_int_equal(zg_knot_zone_of(k, "example.test", zone, sizeof(zone), err, sizeof(err)), 0);
	assert_string_equal(zone, "example.test");
	assert_int_equal(zg_knot_zone_of(k, "shop.example.org.test", zone, sizeof(zone), err,
	                                 sizeof(err)), 0);
	assert_string_equal(zone, "example.org.test");
	assert_int_equal(zg_knot_zone_of(k, "nothere.example", zone, sizeof(zone), err,
	                                 sizeof(err)), ZG_ENOENT);
	assert_non_null(strstr(err, "nothere.example"));
	zg_knot_close(k);
}

/* Every type, written and read back: Knot must print exactly what we
 * generate, or idempotency and conflict checks would misfire. */
static const struct zg_rr rrs[] = {
	{ "_xmpp-client._tcp.example.test.", 3600, ZG_RR_SRV, "5 1 5222 xmpp-hosting.example.net." },
	{ "conference.example.test.", 3600, ZG_RR_CNAME, "xmpp-hosting.example.net." },
	{ "kw.example.test.", 600, ZG_RR_A, "192.0.2.10" },
	{ "kw.example.test.", 600, ZG_RR_AAAA, "2001:db8::1" },
	{ "kw.example.test.", 600, ZG_RR_TXT, "\"xmpp-hosting-verification=abc 123\"" },
	{ "kw.example.test.", 600, ZG_RR_MX, "10 mail.example.net." },
	{ "kw.example.test.", 600, ZG_RR_CAA, "0 issue \"letsencrypt.org\"" },
};
#define N_RRS (sizeof(rrs) / sizeof(rrs[0]))

static void test_write_read_remove(void **state)
{
	struct zg_knot *k = open_knot();
	struct zg_krec rec, *got = NULL;
	char err[256], *diff = NULL;
	size_t n;

	(void)state;
	assert_int_equal(zg_knot_begin(k, "example.test", err, sizeof(err)), 0);
	for (size_t i = 0; i < N_RRS; i++) {
		zg_krec_from_rr(&rrs[i], &rec);
		if (zg_knot_set(k, "example.test", &rec, err, sizeof(err)) != 0)
			fail_msg("set %zu: %s", i, err);
	}
	assert_int_equal(zg_knot_diff(k, "example.test", &diff, err, sizeof(err)), 0);
	assert_non_null(strstr(diff, "+kw.example.test. 600 CAA 0 issue \"letsencrypt.org\""));
	free(diff);
	assert_int_equal(zg_knot_commit(k, "example.test", err, sizeof(err)), 0);

	for (size_t i = 0; i < N_RRS; i++) {
		bool found = false;

		zg_krec_from_rr(&rrs[i], &rec);
		assert_int_equal(zg_knot_read(k, "example.test", rrs[i].owner, &got, &n, err,
		                              sizeof(err)), 0);
		for (size_t j = 0; j < n; j++)
			if (zg_krec_equal(&got[j], &rec))
				found = true;
		if (!found)
			fail_msg("%s %s '%s' not read back as written (%zu records, first '%s')",
			         rec.owner, rec.type, rec.data, n, n ? got[0].data : "");
		free(got);
	}

	/* remove them again, one transaction */
	assert_int_equal(zg_knot_begin(k, "example.test", err, sizeof(err)), 0);
	for (size_t i = 0; i < N_RRS; i++) {
		zg_krec_from_rr(&rrs[i], &rec);
		assert_int_equal(zg_knot_unset(k, "example.test", &rec, err, sizeof(err)), 0);
	}
	assert_int_equal(zg_knot_commit(k, "example.test", err, sizeof(err)), 0);
	assert_int_equal(zg_knot_read(k, "example.test", "kw.example.test.", &got, &n, err,
	                              sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(got);
	zg_knot_close(k);
}

static void test_busy_and_abort(void **state)
{
	struct zg_knot *k = open_knot();
	char err[256];

	(void)state;
	assert_int_equal(zg_knot_begin(k, "example.org.test", err, sizeof(err)), 0);
	assert_int_equal(zg_knot_begin(k, "example.org.test", err, sizeof(err)), ZG_EBUSY);
	zg_knot_abort(k, "example.org.test");
	assert_int_equal(zg_knot_begin(k, "example.org.test", err, sizeof(err)), 0);
	zg_knot_abort(k, "example.org.test");
	/* an empty zone name would apply to every zone: refused before Knot */
	assert_int_equal(zg_knot_begin(k, "", err, sizeof(err)), ZG_EINVAL);
	assert_int_equal(zg_knot_begin(k, "nothere.example", err, sizeof(err)), ZG_ENOZONE);
	zg_knot_close(k);
}

/* Several zones in one block: each keeps its own outcome.  A zone with a
 * transaction open elsewhere (an operator's) is busy, a bad record fails
 * only its zone, records read come back on their zone, and a commit of one
 * zone leaves the others' aborted work out of the served data. */
static void test_batch(void **state)
{
	struct zg_knot *k, *op = open_knot();
	struct zg_kbatch_zone z[3] = {
		{ .zone = "example.test" }, { .zone = "example.org.test" }, { .zone = "blocked.test" },
	};
	struct zg_krec a = { "bt.example.test.", 600, "A", "192.0.2.1" };
	struct zg_krec b = { "bt.example.org.test.", 600, "A", "192.0.2.2" };
	struct zg_krec bad = { "bt.example.org.test.", 600, "TXT", "\"x\"\n@ 600 A 192.0.2.9" };
	struct zg_kbatch_unit begin[] = { { .zone = 0 }, { .zone = 1 }, { .zone = 2 } };
	struct zg_kbatch_unit set[] = { { .zone = 0, .rec = &a }, { .zone = 1, .rec = &b },
	                                { .zone = 1, .rec = &bad } };
	struct zg_kbatch_unit get[] = { { .zone = 0, .owner = "bt.example.test." },
	                                { .zone = 1, .owner = "bt.example.org.test." } };
	struct zg_kbatch_unit one[] = { { .zone = 0 } }, two[] = { { .zone = 1 } };
	struct zg_krec *got = NULL;
	char err[256];
	size_t n = 0;

	(void)state;
	/* the operator's transaction, on a connection that is gone */
	assert_int_equal(zg_knot_begin(op, "blocked.test", err, sizeof(err)), 0);
	zg_knot_close(op);
	k = open_knot();
	assert_int_equal(zg_knot_batch(k, "zone-begin", z, 3, begin, 3, err, sizeof(err)), 0);
	assert_int_equal(z[0].ret, 0);
	assert_int_equal(z[1].ret, 0);
	assert_int_equal(z[2].ret, ZG_EBUSY);
	assert_non_null(strstr(z[2].err, "too many transactions"));
	z[2].ret = 0;
	z[2].zone = "nothere.example";   /* no such zone: its own failure */
	assert_int_equal(zg_knot_batch(k, "zone-begin", z + 2, 1, begin, 1, err, sizeof(err)), 0);
	assert_int_equal(z[2].ret, ZG_ENOZONE);
	/* the hostile record fails its zone before anything is sent */
	assert_int_equal(zg_knot_batch(k, "zone-set", z, 2, set, 3, err, sizeof(err)), 0);
	assert_int_equal(z[0].ret, 0);
	assert_int_equal(z[1].ret, ZG_EINVAL);
	assert_int_equal(zg_knot_batch(k, "zone-get", z, 2, get, 2, err, sizeof(err)), 0);
	assert_int_equal(z[0].n_recs, 1);
	assert_string_equal(z[0].recs[0].owner, "bt.example.test.");
	assert_string_equal(z[0].recs[0].data, "192.0.2.1");
	assert_int_equal(z[1].n_recs, 0);   /* failed: not asked */
	z[1].ret = 0;
	assert_int_equal(zg_knot_batch(k, "zone-commit", z, 2, one, 1, err, sizeof(err)), 0);
	assert_int_equal(z[0].ret, 0);
	assert_int_equal(zg_knot_batch(k, "zone-abort", z, 2, two, 1, err, sizeof(err)), 0);
	assert_int_equal(z[1].ret, 0);
	free(z[0].recs);
	free(z[1].recs);
	assert_int_equal(zg_knot_read(k, "example.test", "bt.example.test.", &got, &n, err,
	                              sizeof(err)), 0);
	assert_int_equal(n, 1);
	free(got);
	assert_int_equal(zg_knot_read(k, "example.org.test", "bt.example.org.test.", &got, &n, err,
	                              sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(got);
	/* the operator's transaction is still theirs */
	assert_int_equal(zg_knot_begin(k, "blocked.test", err, sizeof(err)), ZG_EBUSY);
	zg_knot_abort(k, "blocked.test");
	assert_int_equal(zg_knot_begin(k, "example.test", err, sizeof(err)), 0);
	assert_int_equal(zg_knot_unset(k, "example.test", &a, err, sizeof(err)), 0);
	assert_int_equal(zg_knot_commit(k, "example.test", err, sizeof(err)), 0);
	zg_knot_close(k);
}

/* A CNAME beside the customer's www A passes set and fails at commit: the
 * writer reports Knot's reason and leaves no transaction open. */
static void test_semantic_failure(void **state)
{
	struct zg_knot *k = open_knot();
	struct zg_krec cname = { "www.example.test.", 3600, "CNAME", "x.example.net." };
	struct zg_krec *got = NULL;
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(zg_knot_begin(k, "example.test", err, sizeof(err)), 0);
	assert_int_equal(zg_knot_get(k, "example.test", "www.example.test.", &got, &n, err,
	                             sizeof(err)), 0);
	assert_true(n >= 1);
	assert_string_equal(got[0].type, "A");
	free(got);
	assert_int_equal(zg_knot_set(k, "example.test", &cname, err, sizeof(err)), 0);
	assert_int_equal(zg_knot_commit(k, "example.test", err, sizeof(err)), ZG_EKNOT);
	assert_non_null(strstr(err, "semantic"));
	/* aborted: a new transaction can begin and the A is still served */
	assert_int_equal(zg_knot_begin(k, "example.test", err, sizeof(err)), 0);
	zg_knot_abort(k, "example.test");
	assert_int_equal(zg_knot_read(k, "example.test", "www.example.test.", &got, &n, err,
	                              sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].type, "A");
	free(got);
	zg_knot_close(k);
}

static void test_hostile_record(void **state)
{
	struct zg_knot *k = open_knot();
	const struct zg_krec bad[] = {
		{ "x.example.test.", 60, "TXT", "\"a\" ; comment" },
		{ "x.example.test.", 60, "TXT", "\"a\nb\"" },
		{ "x.example.test.", 60, "A", "192.0.2.1 )" },
		{ "x.example.test", 60, "A", "192.0.2.1" },
		{ "x y.example.test.", 60, "A", "192.0.2.1" },
		{ "x.example.test.", 60, "TXT", "\"unbalanced" },
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(zg_knot_set(k, "example.test", &bad[i], err, sizeof(err)), ZG_EINVAL);
	zg_knot_close(k);
}

static void test_unreachable(void **state)
{
	struct zg_knot *k = NULL;
	char err[256];

	(void)state;
	assert_int_equal(zg_knot_open("/nonexistent/knot.sock", 500, &k, err, sizeof(err)), ZG_EIO);
	assert_null(k);
	assert_non_null(strstr(err, "/nonexistent/knot.sock"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_zone_of),
		cmocka_unit_test(test_write_read_remove),
		cmocka_unit_test(test_busy_and_abort),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_semantic_failure),
		cmocka_unit_test(test_hostile_record),
		cmocka_unit_test(test_unreachable),
	};

	sock = getenv("REGZONE_KNOT_SOCKET");
	if (sock == NULL) {
		fprintf(stderr, "REGZONE_KNOT_SOCKET is not set (run knot_writer.sh)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
