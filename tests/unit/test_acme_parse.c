/*
 * acme/parse.h: the strict readers of the CA's replies on bytes alone,
 * table-driven: one row per reply (good ones from Pebble and Let's
 * Encrypt, and broken ones: not JSON, duplicate keys, a field missing or
 * of the wrong type, an http URL, a status the object may not have), with
 * the code expected and, for the good ones, the fields read.  A refusal
 * sets e->code to the code returned and a one-line message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/parse.h"
#include "acme/problem.h"

#define LOC "https://ca.test/acme/acct/1"

/* A refusal: the code returned is in e, with a message. */
static void check_refusal(size_t row, int ret, int want, const struct acme_error *e)
{
	if (ret != want)
		fail_msg("row %zu: %d (%s), want %d", row, ret, e->msg, want);
	if (ret != 0) {
		assert_int_equal(e->code, ret);
		assert_true(e->msg[0] != '\0');
		assert_null(strchr(e->msg, '\n'));
	}
}

static const struct {
	const char *json;
	int ret;
	bool eab;
	const char *renewal_info;
} dir_rows[] = {
	/* Pebble 2.4: no renewalInfo; termsOfService a data: URL */
	{ "{\"keyChange\":\"https://p.test/rollover\",\"meta\":{\"externalAccountRequired\":false,"
	  "\"termsOfService\":\"data:text/plain,x\"},\"newAccount\":\"https://p.test/acct\","
	  "\"newNonce\":\"https://p.test/nonce\",\"newOrder\":\"https://p.test/order\","
	  "\"revokeCert\":\"https://p.test/revoke\"}", 0, false, NULL },
	{ "{\"newAccount\":\"https://p.test/acct\",\"newNonce\":\"https://p.test/nonce\","
	  "\"newOrder\":\"https://p.test/order\",\"renewalInfo\":\"https://p.test/ari/\","
	  "\"meta\":{\"externalAccountRequired\":true,\"caaIdentities\":[\"p.test\"]}}",
	  0, true, "https://p.test/ari/" },
	/* newOrder missing */
	{ "{\"newAccount\":\"https://p.test/acct\",\"newNonce\":\"https://p.test/nonce\"}",
	  ACME_EPROTO, false, NULL },
	/* an http URL */
	{ "{\"newAccount\":\"https://p.test/acct\",\"newNonce\":\"http://p.test/nonce\","
	  "\"newOrder\":\"https://p.test/order\"}", ACME_EPROTO, false, NULL },
	/* a duplicate key */
	{ "{\"newAccount\":\"https://p.test/a\",\"newAccount\":\"https://p.test/b\","
	  "\"newNonce\":\"https://p.test/nonce\",\"newOrder\":\"https://p.test/order\"}",
	  ACME_EPROTO, false, NULL },
	/* meta.externalAccountRequired of the wrong type */
	{ "{\"newAccount\":\"https://p.test/acct\",\"newNonce\":\"https://p.test/nonce\","
	  "\"newOrder\":\"https://p.test/order\",\"meta\":{\"externalAccountRequired\":1}}",
	  ACME_EPROTO, false, NULL },
	{ "[]", ACME_EPROTO, false, NULL },
	{ "{", ACME_EPROTO, false, NULL },
	{ "", ACME_EPROTO, false, NULL },
};

static void test_directory(void **state)
{
	struct acme_directory d;
	struct acme_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(dir_rows) / sizeof(dir_rows[0]); i++) {
		int ret = acme_parse_directory(dir_rows[i].json, strlen(dir_rows[i].json), &d, &e);

		check_refusal(i, ret, dir_rows[i].ret, &e);
		if (ret != 0)
			continue;
		assert_string_equal(d.new_nonce, "https://p.test/nonce");
		assert_string_equal(d.new_account, "https://p.test/acct");
		assert_string_equal(d.new_order, "https://p.test/order");
		assert_int_equal(d.eab_required, dir_rows[i].eab);
		if (dir_rows[i].renewal_info == NULL)
			assert_null(d.renewal_info);
		else
			assert_string_equal(d.renewal_info, dir_rows[i].renewal_info);
		acme_directory_clear(&d);
	}
	assert_int_equal(acme_parse_directory(NULL, 0, &d, NULL), ACME_EINVAL);
}

static const struct {
	const char *json;
	const char *location;
	int ret;
} acct_rows[] = {
	{ "{\"status\":\"valid\",\"contact\":[\"mailto:ops@example.net\"],"
	  "\"orders\":\"https://ca.test/acme/acct/1/orders\"}", LOC, 0 },
	{ "{\"status\":\"valid\"}", LOC, 0 },
	{ "{\"status\":\"valid\"}", NULL, ACME_EPROTO },                   /* no Location */
	{ "{\"status\":\"valid\"}", "http://ca.test/acct/1", ACME_EPROTO },
	{ "{\"status\":\"deactivated\"}", LOC, ACME_EACME },
	{ "{\"status\":\"revoked\"}", LOC, ACME_EACME },
	{ "{\"status\":\"pending\"}", LOC, ACME_EPROTO },    /* not an account's status */
	{ "{\"status\":\"valid\",\"contact\":\"mailto:a@b.test\"}", LOC, ACME_EPROTO },
	{ "{\"status\":\"valid\",\"contact\":[1]}", LOC, ACME_EPROTO },
	{ "{\"contact\":[]}", LOC, ACME_EPROTO },                           /* no status */
};

static void test_account(void **state)
{
	struct acme_error e;
	char *url = (char *)1;

	(void)state;
	for (size_t i = 0; i < sizeof(acct_rows) / sizeof(acct_rows[0]); i++) {
		int ret = acme_parse_account(acct_rows[i].json, strlen(acct_rows[i].json),
		                             acct_rows[i].location, &url, &e);

		check_refusal(i, ret, acct_rows[i].ret, &e);
		if (ret == 0) {
			assert_string_equal(url, acct_rows[i].location);
			free(url);
		} else {
			assert_null(url);
		}
	}
}

#define ORDER_TAIL "\"finalize\":\"https://ca.test/fin/1\",\"authorizations\":[\"https://ca.test/az/1\"]"

static const struct {
	const char *json;
	int ret;
	enum acme_status status;
	size_t n_ids;
	bool has_error;
} order_rows[] = {
	{ "{\"status\":\"ready\",\"expires\":\"2026-03-02T09:00:00Z\",\"identifiers\":["
	  "{\"type\":\"dns\",\"value\":\"example.test\"},{\"type\":\"dns\",\"value\":"
	  "\"*.example.test\"}],\"finalize\":\"https://ca.test/fin/1\",\"authorizations\":["
	  "\"https://ca.test/az/1\",\"https://ca.test/az/2\"]}", 0, ACME_ST_READY, 2, false },
	{ "{\"status\":\"valid\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  "\"certificate\":\"https://ca.test/cert/1\"," ORDER_TAIL "}", 0, ACME_ST_VALID, 1, false },
	{ "{\"status\":\"invalid\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  "\"error\":{\"type\":\"urn:ietf:params:acme:error:unauthorized\",\"detail\":\"no\"},"
	  ORDER_TAIL "}", 0, ACME_ST_INVALID, 1, true },
	/* valid without a certificate URL */
	{ "{\"status\":\"valid\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  ORDER_TAIL "}", ACME_EPROTO, 0, 0, false },
	/* an ip identifier: never asked for */
	{ "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"ip\",\"value\":\"192.0.2.1\"}],"
	  ORDER_TAIL "}", ACME_EPROTO, 0, 0, false },
	/* no identifiers */
	{ "{\"status\":\"pending\",\"identifiers\":[]," ORDER_TAIL "}", ACME_EPROTO, 0, 0, false },
	/* a status no order has */
	{ "{\"status\":\"deactivated\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  ORDER_TAIL "}", ACME_EPROTO, 0, 0, false },
	/* an authorization that is not an https URL */
	{ "{\"status\":\"pending\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  "\"finalize\":\"https://ca.test/fin/1\",\"authorizations\":[\"http://ca.test/az\"]}",
	  ACME_EPROTO, 0, 0, false },
	/* a malformed "error" member */
	{ "{\"status\":\"invalid\",\"identifiers\":[{\"type\":\"dns\",\"value\":\"a.test\"}],"
	  "\"error\":{\"type\":7}," ORDER_TAIL "}", ACME_EPROTO, 0, 0, false },
};

static void test_order(void **state)
{
	struct acme_problem *perr = calloc(1, sizeof(*perr));
	struct acme_order o;
	struct acme_error e;

	(void)state;
	assert_non_null(perr);
	for (size_t i = 0; i < sizeof(order_rows) / sizeof(order_rows[0]); i++) {
		int ret;

		memset(perr, 0, sizeof(*perr));
		ret = acme_parse_order(order_rows[i].json, strlen(order_rows[i].json), &o, perr, &e);
		check_refusal(i, ret, order_rows[i].ret, &e);
		if (ret != 0) {
			assert_null(o.identifiers);
			continue;
		}
		assert_int_equal(o.status, order_rows[i].status);
		assert_int_equal(o.n_identifiers, order_rows[i].n_ids);
		assert_string_equal(o.finalize, "https://ca.test/fin/1");
		assert_true(o.n_authorizations >= 1);
		assert_int_equal(perr->type[0] != '\0', order_rows[i].has_error);
		if (order_rows[i].has_error)
			assert_int_equal(perr->kind, ACME_PT_UNAUTHORIZED);
		acme_order_clear(&o);
	}
	free(perr);
}

#define DNS01(st, tok) "{\"type\":\"dns-01\",\"url\":\"https://ca.test/ch/1\",\"status\":\"" st \
                       "\",\"token\":\"" tok "\"}"

static const struct {
	const char *json;
	int ret;
	bool has_dns01;
	bool wildcard;
} authz_rows[] = {
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[{\"type\":\"http-01\",\"url\":\"https://ca.test/ch/0\",\"status\":"
	  "\"pending\",\"token\":\"abc\"}," DNS01("pending", "DGyRejmCefe7v4NfDGDKfA") "]}",
	  0, true, false },
	{ "{\"status\":\"valid\",\"wildcard\":true,\"identifier\":{\"type\":\"dns\",\"value\":"
	  "\"a.test\"},\"challenges\":[" DNS01("valid", "tok") "]}", 0, true, true },
	/* no dns-01 offered: read, has_dns01 false */
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[]}", 0, false, false },
	/* a dns-01 token with characters outside base64url */
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[" DNS01("pending", "a/b") "]}", ACME_EPROTO, false, false },
	/* the identifier with "*." (RFC 8555: the wildcard flag instead) */
	{ "{\"status\":\"pending\",\"identifier\":{\"type\":\"dns\",\"value\":\"*.a.test\"},"
	  "\"challenges\":[]}", ACME_EPROTO, false, false },
	/* no identifier */
	{ "{\"status\":\"pending\",\"challenges\":[]}", ACME_EPROTO, false, false },
	/* a status no authorization has */
	{ "{\"status\":\"ready\",\"identifier\":{\"type\":\"dns\",\"value\":\"a.test\"},"
	  "\"challenges\":[]}", ACME_EPROTO, false, false },
	/* wildcard not a boolean */
	{ "{\"status\":\"pending\",\"wildcard\":\"yes\",\"identifier\":{\"type\":\"dns\","
	  "\"value\":\"a.test\"},\"challenges\":[]}", ACME_EPROTO, false, false },
};

static void test_authz(void **state)
{
	struct acme_authz a;
	struct acme_error e;

	(void)state;
	for (size_t i = 0; i < sizeof(authz_rows) / sizeof(authz_rows[0]); i++) {
		int ret = acme_parse_authz(authz_rows[i].json, strlen(authz_rows[i].json), &a, NULL,
		                           &e);

		check_refusal(i, ret, authz_rows[i].ret, &e);
		if (ret != 0)
			continue;
		assert_string_equal(a.identifier, "a.test");
		assert_int_equal(a.has_dns01, authz_rows[i].has_dns01);
		assert_int_equal(a.wildcard, authz_rows[i].wildcard);
		if (a.has_dns01)
			assert_string_equal(a.dns01.url, "https://ca.test/ch/1");
		acme_authz_clear(&a);
	}
}

static void test_challenge(void **state)
{
	static const char invalid[] =
		"{\"type\":\"dns-01\",\"url\":\"https://ca.test/ch/1\",\"status\":\"invalid\","
		"\"token\":\"tok\",\"error\":{\"type\":\"urn:ietf:params:acme:error:dns\","
		"\"detail\":\"NXDOMAIN\",\"status\":400}}";
	struct acme_problem *perr = calloc(1, sizeof(*perr));
	enum acme_status st = ACME_ST__MAX;
	struct acme_error e;
	const char *s;

	(void)state;
	assert_non_null(perr);
	s = DNS01("processing", "DGyRejmCefe7v4NfDGDKfA");
	assert_int_equal(acme_parse_challenge(s, strlen(s), &st, perr, &e), 0);
	assert_int_equal(st, ACME_ST_PROCESSING);
	assert_string_equal(perr->type, "");
	assert_int_equal(acme_parse_challenge(invalid, strlen(invalid), &st, perr, &e), 0);
	assert_int_equal(st, ACME_ST_INVALID);
	assert_int_equal(perr->kind, ACME_PT_DNS);
	assert_string_equal(perr->detail, "NXDOMAIN");
	s = DNS01("ready", "tok");   /* not a challenge's status */
	check_refusal(0, acme_parse_challenge(s, strlen(s), &st, NULL, &e), ACME_EPROTO, &e);
	s = "{\"type\":\"dns-01\",\"status\":\"pending\",\"token\":\"tok\"}";   /* no url */
	check_refusal(1, acme_parse_challenge(s, strlen(s), &st, NULL, &e), ACME_EPROTO, &e);
	assert_int_equal(acme_parse_challenge(s, strlen(s), NULL, NULL, &e), ACME_EINVAL);
	free(perr);
}

/* What acme_cert_download() refuses before OpenSSL reads anything. */
static void test_chain_refusals(void **state)
{
	static const char *const bad[] = {
		"",
		"hello",
		/* the armor of a key around no key at all (split so that no
		 * key-shaped text is committed) */
		"-----BEGIN " "PRIVATE KEY-----\nAAAA\n-----END " "PRIVATE KEY-----\n",
		"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
		"-----BEGIN CERTIFICATE-----\n\x01\n-----END CERTIFICATE-----\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acme_parse_chain(bad[i], strlen(bad[i])), ACME_EPROTO);
	/* the length must be the text's: an embedded NUL is refused */
	assert_int_equal(acme_parse_chain("a\0b", 3), ACME_EPROTO);
	assert_int_equal(acme_parse_chain(NULL, 0), ACME_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_account),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_authz),
		cmocka_unit_test(test_challenge),
		cmocka_unit_test(test_chain_refusals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
