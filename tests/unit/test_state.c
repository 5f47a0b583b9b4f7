/*
 * test_state.c - the state words and step names (state.h, step.h): every
 * value has a name and comes back from it, unknown names are refused, a
 * state object is read strictly, and the in-flight steps are the ones the
 * SQL list names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon/rz_err.h"
#include "daemon/state.h"
#include "daemon/step.h"

static void test_words_round_trip(void **state)
{
	(void)state;
	for (int v = 0; v < RZ_DESIRED__MAX; v++) {
		enum rz_desired back;

		assert_non_null(rz_desired_name(v));
		assert_int_equal(rz_desired_from_name(rz_desired_name(v), &back), 0);
		assert_int_equal(back, v);
	}
	for (int v = 0; v < RZ_DNS__MAX; v++) {
		enum rz_dns back;

		assert_non_null(rz_dns_name(v));
		assert_int_equal(rz_dns_from_name(rz_dns_name(v), &back), 0);
		assert_int_equal(back, v);
	}
	for (int v = 0; v < RZ_CERT__MAX; v++) {
		enum rz_cert back;

		assert_non_null(rz_cert_name(v));
		assert_int_equal(rz_cert_from_name(rz_cert_name(v), &back), 0);
		assert_int_equal(back, v);
	}
	/* the words PostgreSQL's CHECK constraints hold */
	assert_string_equal(rz_dns_name(RZ_DNS_CONFLICT), "conflict");
	assert_string_equal(rz_cert_name(RZ_CERT_RENEWING), "renewing");
	assert_null(rz_dns_name(RZ_DNS__MAX));
	assert_null(rz_cert_name((enum rz_cert)-1));
}

static void test_words_refused(void **state)
{
	enum rz_dns d;
	enum rz_cert c;
	enum rz_desired w;

	(void)state;
	assert_int_equal(rz_dns_from_name("Published", &d), RZ_ENOENT);
	assert_int_equal(rz_dns_from_name("published ", &d), RZ_ENOENT);
	assert_int_equal(rz_dns_from_name("", &d), RZ_ENOENT);
	assert_int_equal(rz_cert_from_name("issuing", &c), RZ_ENOENT);
	assert_int_equal(rz_desired_from_name("enable", &w), RZ_ENOENT);
}

static void test_steps(void **state)
{
	static const char *const in_flight[] = {
		"publish", "verify", "respond", "poll", "finalize", "download",
	};
	char sql[256] = "";

	(void)state;
	for (int s = 0; s < RZ_STEP__MAX; s++) {
		enum rz_step back;

		assert_non_null(rz_step_name(s));
		assert_int_equal(rz_step_from_name(rz_step_name(s), &back), 0);
		assert_int_equal(back, s);
	}
	for (int k = 0; k < RZ_KIND__MAX; k++) {
		enum rz_kind back;

		assert_int_equal(rz_kind_from_name(rz_kind_name(k), &back), 0);
		assert_int_equal(back, k);
	}
	assert_null(rz_step_name(RZ_STEP_NONE));
	assert_int_equal(rz_step_from_name("verify-removed", &(enum rz_step){ 0 }), RZ_ENOENT);
	/* in flight: exactly the cert steps of RZ_CERT_INFLIGHT_SQL */
	for (size_t i = 0; i < sizeof(in_flight) / sizeof(in_flight[0]); i++) {
		size_t len = strlen(sql);

		snprintf(sql + len, sizeof(sql) - len, "%s'%s'", i ? ", " : "", in_flight[i]);
	}
	assert_string_equal(sql, RZ_CERT_INFLIGHT_SQL);
	for (int s = 0; s < RZ_STEP__MAX; s++) {
		bool listed = false;

		for (size_t i = 0; i < sizeof(in_flight) / sizeof(in_flight[0]); i++)
			listed |= strcmp(rz_step_name(s), in_flight[i]) == 0;
		assert_int_equal(rz_step_in_flight(RZ_KIND_CERT, s), listed);
		assert_false(rz_step_in_flight(RZ_KIND_DNS, s));
	}
	assert_false(rz_step_in_flight(RZ_KIND_CERT, RZ_STEP_NONE));
}

static const char *good =
	"{\"domain\":\"example.org\",\"service\":\"xmpp\",\"desired\":\"enabled\","
	"\"dns\":\"published\",\"active\":true,\"last_error\":null,"
	"\"updated_at\":\"2026-12-01T10:00:00.000Z\","
	"\"certificate\":{\"state\":\"issued\",\"not_after\":\"2027-03-01T10:00:00Z\","
	"\"serial\":\"03ab\"}}";

static int parse(const char *text, struct rz_state *s)
{
	char err[256] = "";
	json_t *o = json_loads(text, 0, NULL);
	int ret;

	assert_non_null(o);
	ret = rz_state_from_json(o, s, err, sizeof(err));
	if (ret != 0)
		assert_true(err[0] != '\0');   /* a refusal says why */
	json_decref(o);
	return ret;
}

/* good with the first occurrence of from replaced by to */
static int parse_edited(const char *from, const char *to)
{
	char buf[1024];
	const char *at = strstr(good, from);
	struct rz_state s;

	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	return parse(buf, &s);
}

static void test_state_strict(void **state)
{
	struct rz_state s;
	json_t *o;

	(void)state;
	assert_int_equal(parse(good, &s), 0);
	assert_int_equal(s.dns, RZ_DNS_PUBLISHED);
	assert_int_equal(s.cert, RZ_CERT_ISSUED);
	assert_true(s.active);
	assert_string_equal(s.serial, "03ab");
	/* and it writes back the same object */
	o = rz_state_json(&s);
	assert_non_null(o);
	{
		json_t *g = json_loads(good, 0, NULL);

		assert_true(json_equal(o, g));
		json_decref(g);
	}
	json_decref(o);

	assert_int_equal(parse_edited("\"published\"", "\"live\""), RZ_EINVAL);
	assert_int_equal(parse_edited("\"issued\"", "7"), RZ_EINVAL);
	assert_int_equal(parse_edited("\"active\":true", "\"active\":\"yes\""), RZ_EINVAL);
	assert_int_equal(parse_edited("\"desired\":\"enabled\",", ""), RZ_EINVAL);
	assert_int_equal(parse_edited("\"domain\":\"example.org\"", "\"domain\":\"exa mple.org\""),
	                 RZ_EINVAL);
	assert_int_equal(parse_edited("\"service\":\"xmpp\"", "\"service\":null"), RZ_EINVAL);
	assert_int_equal(parse_edited("\"certificate\":{", "\"certificate\":{\"x\":1,"), 0);
	assert_int_equal(parse_edited("\"serial\":\"03ab\"", "\"serial\":3"), RZ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words_round_trip),
		cmocka_unit_test(test_words_refused),
		cmocka_unit_test(test_steps),
		cmocka_unit_test(test_state_strict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
