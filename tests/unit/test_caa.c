/*
 * CAA (zonegen/caa.h): records parsed as dnscheck.h renders them, issue
 * values (RFC 8659 4.2, RFC 8657 parameters), the verdict a CA would give;
 * and the profile side (zonegen.h): {acme_account_uri} in a CAA record's
 * text, ';' parameters in a profile's literal CAA text but never from a
 * request's value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "zonegen/caa.h"
#include "zonegen/zonegen.h"

#define S(x) ((char *)(x))
#define ACCT "https://acme.example/acct/42"

static const char *const le[] = { "letsencrypt.org" };
static const struct zg_caa_ask ask = { le, 1, ACCT, "dns-01", false };

/* The verdict for records given as presentation text. */
static bool judge(const char *const *data, size_t n, const struct zg_caa_ask *a, char *msg,
                  size_t msglen)
{
	struct zg_caa rrs[8];
	char err[256];

	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++)
		if (zg_caa_parse(data[i], &rrs[i], err, sizeof(err)) != 0)
			fail_msg("parse '%s': %s", data[i], err);
	return zg_caa_eval(rrs, n, "example.org.", a, msg, msglen);
}

#define ALLOWED(...) do { \
	const char *const d_[] = { __VA_ARGS__ }; \
	char m_[512]; \
	if (!judge(d_, sizeof(d_) / sizeof(d_[0]), &ask, m_, sizeof(m_))) \
		fail_msg("line %d: refused: %s", __LINE__, m_); \
} while (0)

#define FORBIDDEN(want, ...) do { \
	const char *const d_[] = { __VA_ARGS__ }; \
	char m_[512]; \
	if (judge(d_, sizeof(d_) / sizeof(d_[0]), &ask, m_, sizeof(m_))) \
		fail_msg("line %d: allowed: %s", __LINE__, m_); \
	if (strcmp(m_, want) != 0) \
		fail_msg("line %d: '%s', want '%s'", __LINE__, m_, want); \
} while (0)

static void test_parse(void **state)
{
	struct zg_caa c;
	char err[256];

	(void)state;
	assert_int_equal(zg_caa_parse("128 ISSUE \"letsencrypt.org\"", &c, err, sizeof(err)), 0);
	assert_int_equal(c.flags, 128);
	assert_string_equal(c.tag, "issue");
	assert_string_equal(c.value, "letsencrypt.org");
	/* Knot 3.2's trailing space, escapes */
	assert_int_equal(zg_caa_parse("0 iodef \"a\\\"b\\\\c\\059\" ", &c, err, sizeof(err)), 0);
	assert_string_equal(c.value, "a\"b\\c;");
	assert_int_equal(zg_caa_parse("0 issue \"\"", &c, err, sizeof(err)), 0);
	assert_string_equal(c.value, "");
	assert_int_equal(zg_caa_parse("0 issue ;", &c, err, sizeof(err)), 0);
	assert_string_equal(c.value, ";");
	assert_int_equal(zg_caa_parse("256 issue \"x\"", &c, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_parse("0 issue \"x", &c, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_parse("0 \"x\"", &c, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_parse("issue \"x\"", &c, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_parse("0 issue \"x\" y", &c, err, sizeof(err)), ZG_ESYNTAX);
}

static void test_issue_value(void **state)
{
	struct zg_caa_issue is;
	char err[256];

	(void)state;
	assert_int_equal(zg_caa_issue_parse(" ca.example ; accounturi = " ACCT " ; "
	                                    "validationmethods=dns-01,http-01; other=1",
	                                    &is, err, sizeof(err)), 0);
	assert_string_equal(is.issuer, "ca.example");
	assert_true(is.has_accounturi);
	assert_string_equal(is.accounturi, ACCT);
	assert_true(is.has_methods);
	assert_string_equal(is.methods, "dns-01,http-01");
	assert_int_equal(zg_caa_issue_parse(";", &is, err, sizeof(err)), 0);
	assert_string_equal(is.issuer, "");
	assert_false(is.has_accounturi);
	assert_int_equal(zg_caa_issue_parse("", &is, err, sizeof(err)), 0);
	assert_string_equal(is.issuer, "");
	assert_int_equal(zg_caa_issue_parse("ca.example; x", &is, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_parse("ca..example", &is, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_parse("-ca.example", &is, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_parse("ca.example x", &is, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_parse("ca.example; a=1 b=2", &is, err, sizeof(err)),
	                 ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_parse("ca.example; accounturi=a; accounturi=b", &is, err,
	                                    sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_caa_issue_check("ca.example; accounturi=" ACCT, err, sizeof(err)), 0);
	assert_int_equal(zg_caa_issue_check("ca example", err, sizeof(err)), ZG_EINVAL);
}

static void test_eval_issue(void **state)
{
	(void)state;
	/* no CAA, none that restricts */
	{
		char m[256];

		assert_true(zg_caa_eval(NULL, 0, "example.org.", &ask, m, sizeof(m)));
	}
	ALLOWED("0 iodef \"mailto:x@example.org\"");
	ALLOWED("0 tbs \"unknown, not critical\"");
	ALLOWED("0 issuewild \";\"");   /* not a wildcard: issuewild does not apply */
	/* the issuer, case-insensitive, any of several */
	ALLOWED("0 issue \"letsencrypt.org\"");
	ALLOWED("0 issue \"LetsEncrypt.ORG\"");
	ALLOWED("0 issue \"other-ca.example\"", "0 issue \"letsencrypt.org\"");
	ALLOWED("0 ISSUE \"letsencrypt.org\"");
	FORBIDDEN("CAA at example.org allows only other-ca.example",
	          "0 issue \"other-ca.example\"");
	FORBIDDEN("CAA at example.org allows only a.example, b.example",
	          "0 issue \"a.example\"", "0 issue \"b.example\"", "0 iodef \"mailto:x@y.z\"");
	/* ';' and "" forbid every CA */
	FORBIDDEN("CAA at example.org allows only no CA", "0 issue \";\"");
	FORBIDDEN("CAA at example.org allows only no CA", "0 issue \"\"");
	/* a malformed value matches nothing */
	FORBIDDEN("CAA at example.org allows only a malformed \"letsencrypt.org x\"",
	          "0 issue \"letsencrypt.org x\"");
	/* a suffix or a parent of the identity is not it */
	FORBIDDEN("CAA at example.org allows only sub.letsencrypt.org",
	          "0 issue \"sub.letsencrypt.org\"");
}

static void test_eval_critical(void **state)
{
	(void)state;
	FORBIDDEN("CAA at example.org has the critical property 'tbs', unknown to regzone "
	          "(RFC 8659 4.5: no CA may issue)",
	          "0 issue \"letsencrypt.org\"", "128 tbs \"x\"");
	/* critical and known: as without the flag */
	ALLOWED("128 issue \"letsencrypt.org\"", "128 iodef \"mailto:a@b.c\"");
	FORBIDDEN("CAA at example.org allows only no CA", "128 issue \";\"");
}

static void test_eval_params(void **state)
{
	struct zg_caa_ask no_acct = ask;
	const char *const d[] = { "0 issue \"letsencrypt.org; accounturi=" ACCT "\"" };
	char m[512];

	(void)state;
	ALLOWED("0 issue \"letsencrypt.org; accounturi=" ACCT "\"");
	ALLOWED("0 issue \"letsencrypt.org; accounturi=" ACCT "; validationmethods=dns-01\"");
	ALLOWED("0 issue \"letsencrypt.org; validationmethods=http-01,dns-01\"");
	ALLOWED("0 issue \"letsencrypt.org; unknown=1\"");
	FORBIDDEN("CAA at example.org allows only letsencrypt.org with "
	          "accounturi=https://acme.example/acct/7",
	          "0 issue \"letsencrypt.org; accounturi=https://acme.example/acct/7\"");
	FORBIDDEN("CAA at example.org allows only letsencrypt.org with "
	          "validationmethods=http-01,tls-alpn-01",
	          "0 issue \"letsencrypt.org; validationmethods=http-01,tls-alpn-01\"");
	/* dns-01 is a whole label, not a prefix */
	FORBIDDEN("CAA at example.org allows only letsencrypt.org with "
	          "validationmethods=dns-01x",
	          "0 issue \"letsencrypt.org; validationmethods=dns-01x\"");
	/* another account's property, ours beside it */
	ALLOWED("0 issue \"letsencrypt.org; accounturi=https://x/1\"",
	        "0 issue \"letsencrypt.org; accounturi=" ACCT "\"");
	/* an account not known never matches an accounturi */
	no_acct.account_uri = NULL;
	assert_false(judge(d, 1, &no_acct, m, sizeof(m)));
}

static void test_eval_wildcard(void **state)
{
	struct zg_caa_ask w = ask;
	const char *const only_issue[] = { "0 issue \"letsencrypt.org\"" };
	const char *const wild_other[] = { "0 issue \"letsencrypt.org\"",
	                                   "0 issuewild \"other.example\"" };
	const char *const wild_none[] = { "0 issue \"other.example\"", "0 issuewild \";\"" };
	const char *const wild_ours[] = { "0 issue \";\"", "0 issuewild \"letsencrypt.org\"" };
	char m[512];

	(void)state;
	w.wildcard = true;
	assert_true(judge(only_issue, 1, &w, m, sizeof(m)));
	assert_false(judge(wild_other, 2, &w, m, sizeof(m)));
	assert_string_equal(m, "CAA at example.org allows only other.example");
	assert_false(judge(wild_none, 2, &w, m, sizeof(m)));
	assert_string_equal(m, "CAA at example.org allows only no CA");
	assert_true(judge(wild_ours, 2, &w, m, sizeof(m)));
	/* and for the name itself issuewild is nothing */
	assert_false(judge(wild_ours, 2, &ask, m, sizeof(m)));
}

static void test_eval_identities(void **state)
{
	static const char *const two[] = { "pebble.letsencrypt.org", "Letsencrypt.org." };
	struct zg_caa_ask a = { two, 2, ACCT, "dns-01", false };
	const char *const d1[] = { "0 issue \"letsencrypt.org\"" };
	const char *const d2[] = { "0 issue \"pebble.letsencrypt.org\"" };
	const char *const d3[] = { "0 issue \"other.example\"" };
	char m[512];

	(void)state;
	assert_true(judge(d1, 1, &a, m, sizeof(m)));
	assert_true(judge(d2, 1, &a, m, sizeof(m)));
	assert_string_equal(m, "CAA at example.org allows pebble.letsencrypt.org");
	assert_false(judge(d3, 1, &a, m, sizeof(m)));
}

/* ------------------------------------------------- the profile's side */

static struct zg_param caa_params[] = { { S("ca"), ZG_P_TEXT, S("letsencrypt.org") } };
static struct zg_rtmpl caa_records[] = {
	{ .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
	  .text = S("{ca}; accounturi={acme_account_uri}; validationmethods=dns-01") },
};
static struct zg_profile caa_profile = {
	.name = S("xmpp-caa"), .service = S("xmpp"), .ttl = 3600,
	.params = caa_params, .n_params = 1, .records = caa_records, .n_records = 1,
};

static void test_profile_account_uri(void **state)
{
	const struct zg_builtins b = { ACCT };
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "";
	size_t n;

	(void)state;
	assert_int_equal(zg_rtmpl_check(&caa_profile, &caa_records[0], err, sizeof(err)), 0);
	assert_int_equal(zg_profile_check(&caa_profile, err, sizeof(err)), 0);
	assert_true(zg_profile_uses_account_uri(&caa_profile));
	assert_int_equal(zg_expand_with(&caa_profile, "Example.org", &b, NULL, 0, rrs, &n, err,
	                                sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rrs[0].owner, "example.org.");
	assert_string_equal(rrs[0].data, "0 issue \"letsencrypt.org; accounturi=" ACCT
	                    "; validationmethods=dns-01\"");
	/* not known yet: wait, never a record without it */
	assert_int_equal(zg_expand(&caa_profile, "example.org", NULL, 0, rrs, &n, err,
	                           sizeof(err)), ZG_EAGAIN);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "waiting for the ACME account"));
	{
		const struct zg_builtins none = { NULL };

		assert_int_equal(zg_expand_with(&caa_profile, "example.org", &none, NULL, 0, rrs,
		                                &n, err, sizeof(err)), ZG_EAGAIN);
	}
	/* the placeholder expands (a dry run) */
	{
		const struct zg_builtins ph = { ZG_ACCOUNT_URI_PLACEHOLDER };

		assert_int_equal(zg_expand_with(&caa_profile, "example.org", &ph, NULL, 0, rrs, &n,
		                                err, sizeof(err)), 0);
		assert_non_null(strstr(rrs[0].data, ZG_ACCOUNT_URI_PLACEHOLDER));
	}
	/* a URL that would add a parameter or break the quoting is refused */
	{
		static const char *const bad[] = { "https://x/1; accounturi=evil", "https://x/\"",
		                                   "https://x/ 1", "" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const struct zg_builtins bb = { bad[i] };

			assert_int_equal(zg_expand_with(&caa_profile, "example.org", &bb, NULL, 0, rrs,
			                                &n, err, sizeof(err)), ZG_EINVAL);
		}
	}
	/* a profile without it: no account needed */
	{
		static struct zg_rtmpl plain = { .owner = S("@"), .type = ZG_RR_CAA,
		                                 .tag = S("issue"), .text = S("letsencrypt.org") };
		struct zg_profile p = caa_profile;

		p.records = &plain;
		assert_false(zg_profile_uses_account_uri(&p));
		assert_int_equal(zg_expand(&p, "example.org", NULL, 0, rrs, &n, err, sizeof(err)), 0);
	}
}

static void test_profile_caa_text(void **state)
{
	static const struct {
		struct zg_rtmpl r;
		const char *why;   /* NULL: accepted */
	} cases[] = {
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		    .text = S("letsencrypt.org; validationmethods=dns-01") }, NULL },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"), .text = S(";") }, NULL },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("iodef"),
		    .text = S("mailto:a@b.example") }, NULL },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		    .text = S("ca.example; accounturi={acme_account_uri}") }, NULL },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		    .text = S("ca.example; (x)=1") }, "'('" },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		    .text = S("ca.example; a=\"b\"") }, "'\"'" },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		    .text = S("ca.example;; a") }, "without" },
		/* only in text */
		{ { .owner = S("@"), .type = ZG_RR_CNAME, .target = S("{acme_account_uri}") },
		  "only be used in a record's text" },
		/* TXT takes it too (any text) */
		{ { .owner = S("_x"), .type = ZG_RR_TXT, .text = S("v=1; a={acme_account_uri}") },
		  NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		int ret = zg_rtmpl_check(&caa_profile, &cases[i].r, err, sizeof(err));

		if (cases[i].why == NULL && ret != 0)
			fail_msg("case %zu refused: %s", i, err);
		if (cases[i].why != NULL && (ret == 0 || strstr(err, cases[i].why) == NULL))
			fail_msg("case %zu: '%s', want '%s'", i, err, cases[i].why);
	}
}

/* A request's value never brings a ';' into a CAA record, even where the
 * profile's own text may hold parameters. */
static void test_request_no_injection(void **state)
{
	const struct zg_builtins b = { ACCT };
	static const char *const bad[] = { "evil.example; accounturi=x", "a\"b", "x;" };
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct zg_kv kv[] = { { "ca", bad[i] } };

		assert_int_equal(zg_expand_with(&caa_profile, "example.org", &b, kv, 1, rrs, &n, err,
		                                sizeof(err)), ZG_EPARAM);
		assert_int_equal(n, 0);
	}
	/* a declared parameter may not shadow the built-in */
	{
		struct zg_param p2[] = { { S("acme_account_uri"), ZG_P_TEXT, S("x") } };
		struct zg_profile p = caa_profile;

		p.params = p2;
		assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
		assert_non_null(strstr(err, "built-in"));
	}
	/* an issue value that the request's value would make malformed */
	{
		static struct zg_rtmpl r = { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"),
		                             .text = S("{ca}") };
		struct zg_profile p = caa_profile;
		const struct zg_kv kv[] = { { "ca", "two words" } };

		p.records = &r;
		assert_int_equal(zg_expand(&p, "example.org", kv, 1, rrs, &n, err, sizeof(err)),
		                 ZG_EPARAM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_issue_value),
		cmocka_unit_test(test_eval_issue),
		cmocka_unit_test(test_eval_critical),
		cmocka_unit_test(test_eval_params),
		cmocka_unit_test(test_eval_wildcard),
		cmocka_unit_test(test_eval_identities),
		cmocka_unit_test(test_profile_account_uri),
		cmocka_unit_test(test_profile_caa_text),
		cmocka_unit_test(test_request_no_injection),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
