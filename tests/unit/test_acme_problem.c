/* acme/problem: RFC 7807 problem documents - strict reading, classification,
 * the one-line text.  Saved CA replies are in $RZ_SRCDIR/tests/acme/data/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "acme/problem.h"
#include "acme/acme_err.h"
#include "tests/unit/test_data.h"

#define NS "urn:ietf:params:acme:error:"

static void assert_printable(const char *s)
{
	for (; *s != '\0'; s++)
		assert_true(*s >= 0x20 && *s <= 0x7e);
}

/* Every registered type, and the class the header promises for it. */
static const struct {
	const char *name;
	enum acme_prob_type kind;
	enum acme_prob_class cls;
} types[] = {
	{ "accountDoesNotExist", ACME_PT_ACCOUNT_DOES_NOT_EXIST, ACME_PC_FAIL_ACCOUNT },
	{ "alreadyRevoked", ACME_PT_ALREADY_REVOKED, ACME_PC_FAIL },
	{ "badCSR", ACME_PT_BAD_CSR, ACME_PC_FAIL },
	{ "badNonce", ACME_PT_BAD_NONCE, ACME_PC_RETRY },
	{ "badPublicKey", ACME_PT_BAD_PUBLIC_KEY, ACME_PC_FAIL_ACCOUNT },
	{ "badRevocationReason", ACME_PT_BAD_REVOCATION_REASON, ACME_PC_FAIL },
	{ "badSignatureAlgorithm", ACME_PT_BAD_SIGNATURE_ALGORITHM, ACME_PC_FAIL_ACCOUNT },
	{ "caa", ACME_PT_CAA, ACME_PC_FAIL },
	{ "compound", ACME_PT_COMPOUND, ACME_PC_FAIL },
	{ "connection", ACME_PT_CONNECTION, ACME_PC_FAIL },
	{ "dns", ACME_PT_DNS, ACME_PC_FAIL },
	{ "externalAccountRequired", ACME_PT_EXTERNAL_ACCOUNT_REQUIRED, ACME_PC_FAIL_ACCOUNT },
	{ "incorrectResponse", ACME_PT_INCORRECT_RESPONSE, ACME_PC_FAIL },
	{ "invalidContact", ACME_PT_INVALID_CONTACT, ACME_PC_FAIL_ACCOUNT },
	{ "malformed", ACME_PT_MALFORMED, ACME_PC_FAIL },
	{ "orderNotReady", ACME_PT_ORDER_NOT_READY, ACME_PC_FAIL },
	{ "rateLimited", ACME_PT_RATE_LIMITED, ACME_PC_RETRY },
	{ "rejectedIdentifier", ACME_PT_REJECTED_IDENTIFIER, ACME_PC_FAIL },
	{ "serverInternal", ACME_PT_SERVER_INTERNAL, ACME_PC_RETRY },
	{ "tls", ACME_PT_TLS, ACME_PC_FAIL },
	{ "unauthorized", ACME_PT_UNAUTHORIZED, ACME_PC_FAIL },
	{ "unsupportedContact", ACME_PT_UNSUPPORTED_CONTACT, ACME_PC_FAIL_ACCOUNT },
	{ "unsupportedIdentifier", ACME_PT_UNSUPPORTED_IDENTIFIER, ACME_PC_FAIL },
	{ "userActionRequired", ACME_PT_USER_ACTION_REQUIRED, ACME_PC_FAIL_ACCOUNT },
	{ "alreadyReplaced", ACME_PT_ALREADY_REPLACED, ACME_PC_FAIL },
	{ "invalidProfile", ACME_PT_INVALID_PROFILE, ACME_PC_FAIL },
	{ "agreementRequired", ACME_PT_AGREEMENT_REQUIRED, ACME_PC_FAIL_ACCOUNT },
};

static void test_every_type(void **state)
{
	(void)state;
	assert_int_equal(sizeof(types) / sizeof(types[0]), ACME_PT__MAX - 1);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct acme_problem p;
		char body[256], type[128];

		snprintf(type, sizeof(type), NS "%s", types[i].name);
		snprintf(body, sizeof(body), "{\"type\":\"%s\",\"detail\":\"d\",\"status\":400}", type);
		assert_int_equal(acme_problem_parse(body, strlen(body), 0, &p), 0);
		assert_string_equal(p.type, type);
		assert_int_equal(p.kind, types[i].kind);
		assert_int_equal(acme_problem_kind(type), types[i].kind);
		assert_string_equal(acme_problem_kind_name(types[i].kind), types[i].name);
		assert_int_equal(acme_problem_class(&p), types[i].cls);
		assert_int_equal(p.status, 400);
		/* the same type with a 503 is the server's trouble: retry */
		assert_int_equal(acme_problem_parse(body, strlen(body), 503, &p), 0);
		assert_int_equal(acme_problem_class(&p), ACME_PC_RETRY);
	}
	assert_null(acme_problem_kind_name(ACME_PT_OTHER));
	assert_null(acme_problem_kind_name(ACME_PT__MAX));
	assert_int_equal(acme_problem_kind(NULL), ACME_PT_OTHER);
	assert_int_equal(acme_problem_kind(NS), ACME_PT_OTHER);
	assert_int_equal(acme_problem_kind(NS "RateLimited"), ACME_PT_OTHER);  /* case matters */
	assert_int_equal(acme_problem_kind(NS "rateLimited "), ACME_PT_OTHER);
	assert_string_equal(acme_problem_class_name(ACME_PC_FAIL_ACCOUNT), "fail-account");
	assert_null(acme_problem_class_name(ACME_PC__MAX));
}

/* Saved replies of Let's Encrypt, Pebble and the RFC. */
static const struct {
	const char *file;
	int http;
	enum acme_prob_type kind;
	enum acme_prob_class cls;
	int status;
	size_t n_sub;
	const char *text;   /* acme_problem_text(), NULL: not checked */
} saved[] = {
	{ "problem-rfc8555-6.7.1.json", 403, ACME_PT_MALFORMED, ACME_PC_FAIL, 0, 2,
	  NS "malformed: Some of the identifiers requested were rejected (status 403); "
	  "subproblem: dns:_example.org " NS "malformed: Invalid underscore in DNS name "
	  "\"_example.org\"; subproblem: dns:example.net " NS "rejectedIdentifier: "
	  "This CA will not issue for \"example.net\"" },
	{ "problem-le-ratelimited-names.json", 429, ACME_PT_RATE_LIMITED, ACME_PC_RETRY, 429, 0,
	  NULL },
	{ "problem-le-ratelimited-orders.json", 0, ACME_PT_RATE_LIMITED, ACME_PC_RETRY, 429, 0,
	  NULL },
	{ "problem-le-dns.json", 400, ACME_PT_DNS, ACME_PC_FAIL, 400, 0,
	  NS "dns: DNS problem: NXDOMAIN looking up TXT for _acme-challenge.example.org - "
	  "check that a DNS record exists for this domain (status 400)" },
	{ "problem-le-unauthorized.json", 403, ACME_PT_UNAUTHORIZED, ACME_PC_FAIL, 403, 0, NULL },
	{ "problem-le-caa.json", 403, ACME_PT_CAA, ACME_PC_FAIL, 403, 0,
	  NS "caa: CAA record for example.org prevents issuance (status 403)" },
	{ "problem-le-serverinternal.json", 500, ACME_PT_SERVER_INTERNAL, ACME_PC_RETRY, 500, 0,
	  NULL },
	{ "problem-pebble-badnonce.json", 400, ACME_PT_BAD_NONCE, ACME_PC_RETRY, 400, 0, NULL },
	{ "problem-pebble-agreement-required.json", 403, ACME_PT_AGREEMENT_REQUIRED,
	  ACME_PC_FAIL_ACCOUNT, 403, 0, NULL },
	{ "problem-pebble-order-not-ready.json", 403, ACME_PT_ORDER_NOT_READY, ACME_PC_FAIL, 403,
	  0, NULL },
	{ "problem-pebble-rejected-identifier.json", 400, ACME_PT_REJECTED_IDENTIFIER,
	  ACME_PC_FAIL, 400, 1,
	  NS "rejectedIdentifier: Order included an identifier for which issuance is forbidden "
	  "by policy: \"blocked.example\" (status 400); subproblem: dns:blocked.example "
	  NS "rejectedIdentifier: blocked.example is a forbidden domain" },
	{ "problem-pebble-unauthorized-dns01.json", 403, ACME_PT_UNAUTHORIZED, ACME_PC_FAIL, 403,
	  0, NS "unauthorized: Correct value not found for DNS challenge (status 403)" },
};

static void test_saved_replies(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++) {
		struct acme_problem p;
		char text[ACME_PROBLEM_TEXT_MAX];
		size_t len;
		char *body = slurp(saved[i].file, &len);

		if (acme_problem_parse(body, len, saved[i].http, &p) != 0)
			fail_msg("%s: parse failed", saved[i].file);
		assert_int_equal(p.kind, saved[i].kind);
		assert_int_equal(acme_problem_class(&p), saved[i].cls);
		assert_int_equal(p.status, saved[i].status);
		assert_int_equal(p.n_sub, saved[i].n_sub);
		assert_int_equal(p.n_sub_total, saved[i].n_sub);
		assert_int_equal(acme_problem_text(&p, text, sizeof(text)), 0);
		assert_printable(text);
		if (saved[i].text != NULL)
			assert_string_equal(text, saved[i].text);
		free(body);
	}
}

/* Inline documents, good and bad. */
static const struct {
	const char *what;
	const char *body;
	int http;
	int rc;
	enum acme_prob_type kind;   /* rc == 0 only */
	enum acme_prob_class cls;   /* always: on error, from the HTTP status alone */
	const char *type;           /* rc == 0 only; NULL: not checked */
	const char *detail;         /* rc == 0 only; NULL: not checked */
} rows[] = {
	{ "empty object: about:blank", "{}", 0, 0, ACME_PT_OTHER, ACME_PC_FAIL, "about:blank", "" },
	{ "missing type, 5xx in body", "{\"detail\":\"x\",\"status\":503}", 0, 0, ACME_PT_OTHER,
	  ACME_PC_RETRY, "about:blank", "x" },
	{ "missing type, 429 from HTTP", "{\"detail\":\"slow down\"}", 429, 0, ACME_PT_OTHER,
	  ACME_PC_RETRY, "about:blank", "slow down" },
	{ "unknown ACME type, 400", "{\"type\":\"" NS "futureThing\",\"status\":400}", 0, 0,
	  ACME_PT_OTHER, ACME_PC_FAIL, NS "futureThing", NULL },
	{ "unknown ACME type, 503", "{\"type\":\"" NS "futureThing\"}", 503, 0, ACME_PT_OTHER,
	  ACME_PC_RETRY, NS "futureThing", NULL },
	{ "old ACME v1 namespace", "{\"type\":\"urn:acme:error:malformed\"}", 400, 0,
	  ACME_PT_OTHER, ACME_PC_FAIL, "urn:acme:error:malformed", NULL },
	{ "other URI kept as-is", "{\"type\":\"https://example.com/probs/out-of-credit\"}", 403, 0,
	  ACME_PT_OTHER, ACME_PC_FAIL, "https://example.com/probs/out-of-credit", NULL },
	{ "malformed with HTTP 429", "{\"type\":\"" NS "malformed\"}", 429, 0, ACME_PT_MALFORMED,
	  ACME_PC_RETRY, NULL, NULL },
	{ "HTTP status wins over body", "{\"type\":\"" NS "malformed\",\"status\":500}", 400, 0,
	  ACME_PT_MALFORMED, ACME_PC_FAIL, NULL, NULL },
	{ "title, instance, extension members", "{\"type\":\"" NS "dns\",\"title\":\"t\","
	  "\"instance\":\"/x\",\"x-ext\":{\"a\":[1]},\"identifier\":{\"type\":\"dns\","
	  "\"value\":\"a.example\"}}", 400, 0, ACME_PT_DNS, ACME_PC_FAIL, NULL, NULL },
	{ "control bytes and UTF-8 sanitised",
	  "{\"type\":\"" NS "dns\",\"detail\":\"a\\u0001b\\nc \\u00e9t\\u00e9 \\ud83d\\ude00!\"}",
	  400, 0, ACME_PT_DNS, ACME_PC_FAIL, NULL, "a?b?c ?t? ?!" },
	{ "compound, all subproblems retry",
	  "{\"type\":\"" NS "compound\",\"subproblems\":[{\"type\":\"" NS "serverInternal\"},"
	  "{\"type\":\"" NS "dns\",\"status\":503}]}", 400, 0, ACME_PT_COMPOUND, ACME_PC_RETRY,
	  NULL, NULL },
	{ "compound, one subproblem fails",
	  "{\"type\":\"" NS "compound\",\"subproblems\":[{\"type\":\"" NS "rateLimited\"},"
	  "{\"type\":\"" NS "caa\"}]}", 400, 0, ACME_PT_COMPOUND, ACME_PC_FAIL, NULL, NULL },
	{ "compound without subproblems", "{\"type\":\"" NS "compound\"}", 400, 0,
	  ACME_PT_COMPOUND, ACME_PC_FAIL, NULL, NULL },
	{ "subproblem without type", "{\"type\":\"" NS "compound\",\"subproblems\":[{}]}", 400, 0,
	  ACME_PT_COMPOUND, ACME_PC_FAIL, NULL, NULL },
	{ "empty subproblems", "{\"type\":\"" NS "dns\",\"subproblems\":[]}", 400, 0, ACME_PT_DNS,
	  ACME_PC_FAIL, NULL, NULL },

	/* malformed */
	{ "empty body", "", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "garbage", "<html>Bad Gateway</html>", 502, ACME_ESYNTAX, 0, ACME_PC_RETRY, NULL, NULL },
	{ "trailing garbage", "{} x", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "array", "[{\"type\":\"" NS "dns\"}]", 400, ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "bare string", "\"" NS "dns\"", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "duplicate key", "{\"type\":\"" NS "dns\",\"type\":\"" NS "caa\"}", 400, ACME_ESYNTAX, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "NUL in detail", "{\"type\":\"" NS "dns\",\"detail\":\"a\\u0000b\"}", 400, ACME_ESYNTAX, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "type a number", "{\"type\":5}", 400, ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "type null", "{\"type\":null}", 400, ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "type with a space", "{\"type\":\"" NS "rate limited\"}", 429, ACME_ESYNTAX, 0,
	  ACME_PC_RETRY, NULL, NULL },
	{ "type not a URI", "{\"type\":\"rateLimited\"}", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL,
	  NULL },
	{ "type nothing after scheme", "{\"type\":\"urn:\"}", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL,
	  NULL, NULL },
	{ "type empty", "{\"type\":\"\"}", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "type non-ASCII", "{\"type\":\"urn:\\u00e9\"}", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL,
	  NULL },
	{ "detail a number", "{\"type\":\"" NS "dns\",\"detail\":7}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "status a string", "{\"type\":\"" NS "dns\",\"status\":\"400\"}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "status a real", "{\"type\":\"" NS "dns\",\"status\":400.0}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "status 99", "{\"type\":\"" NS "dns\",\"status\":99}", 400, ACME_ERANGE, 0, ACME_PC_FAIL,
	  NULL, NULL },
	{ "status 600", "{\"type\":\"" NS "dns\",\"status\":600}", 400, ACME_ERANGE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "status huge", "{\"type\":\"" NS "dns\",\"status\":99999999999999999999}", 400,
	  ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "title a bool", "{\"type\":\"" NS "dns\",\"title\":true}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "subproblems an object", "{\"type\":\"" NS "dns\",\"subproblems\":{}}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "subproblem a number", "{\"type\":\"" NS "dns\",\"subproblems\":[5]}", 400, ACME_ETYPE, 0,
	  ACME_PC_FAIL, NULL, NULL },
	{ "subproblem bad type", "{\"type\":\"" NS "dns\",\"subproblems\":[{\"type\":\"x y\"}]}",
	  400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "subproblem status string",
	  "{\"type\":\"" NS "dns\",\"subproblems\":[{\"type\":\"" NS "dns\",\"status\":\"x\"}]}",
	  400, ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "identifier a string",
	  "{\"type\":\"" NS "dns\",\"subproblems\":[{\"identifier\":\"a.example\"}]}", 400,
	  ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "identifier without value",
	  "{\"type\":\"" NS "dns\",\"subproblems\":[{\"identifier\":{\"type\":\"dns\"}}]}", 400,
	  ACME_ENOENT, 0, ACME_PC_FAIL, NULL, NULL },
	{ "identifier value a number",
	  "{\"type\":\"" NS "dns\",\"subproblems\":[{\"identifier\":{\"type\":\"dns\","
	  "\"value\":1}}]}", 400, ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "identifier value with space",
	  "{\"type\":\"" NS "dns\",\"subproblems\":[{\"identifier\":{\"type\":\"dns\","
	  "\"value\":\"a b\"}}]}", 400, ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "identifier value empty",
	  "{\"type\":\"" NS "dns\",\"identifier\":{\"type\":\"dns\",\"value\":\"\"}}", 400,
	  ACME_ESYNTAX, 0, ACME_PC_FAIL, NULL, NULL },
	{ "top-level identifier not an object", "{\"type\":\"" NS "dns\",\"identifier\":[]}", 400,
	  ACME_ETYPE, 0, ACME_PC_FAIL, NULL, NULL },
	{ "bad HTTP status argument", "{}", 42, ACME_EINVAL, 0, ACME_PC_FAIL, NULL, NULL },
};

static void test_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct acme_problem p;
		char text[ACME_PROBLEM_TEXT_MAX];
		int rc = acme_problem_parse(rows[i].body, strlen(rows[i].body), rows[i].http, &p);

		if (rc != rows[i].rc)
			fail_msg("row \"%s\": rc %d, want %d", rows[i].what, rc, rows[i].rc);
		if (acme_problem_class(&p) != rows[i].cls)
			fail_msg("row \"%s\": class %s", rows[i].what,
			         acme_problem_class_name(acme_problem_class(&p)));
		assert_int_equal(acme_problem_text(&p, text, sizeof(text)), 0);
		assert_printable(text);
		if (rc != 0) {
			assert_string_equal(p.type, "about:blank");
			assert_int_equal(p.n_sub, 0);
			assert_string_equal(p.detail, "");
			continue;
		}
		assert_int_equal(p.kind, rows[i].kind);
		if (rows[i].type != NULL)
			assert_string_equal(p.type, rows[i].type);
		if (rows[i].detail != NULL)
			assert_string_equal(p.detail, rows[i].detail);
	}
}

/* Sizes: body, type, detail, identifier, number of subproblems. */
static void test_bounds(void **state)
{
	struct acme_problem p;
	char *big = malloc(ACME_PROBLEM_MAX_BYTES + 64), text[64];
	size_t o;

	(void)state;
	assert_non_null(big);
	/* a body over the limit, valid JSON or not */
	o = (size_t)sprintf(big, "{\"type\":\"" NS "dns\",\"detail\":\"");
	memset(big + o, 'a', ACME_PROBLEM_MAX_BYTES);
	o += ACME_PROBLEM_MAX_BYTES;
	strcpy(big + o, "\"}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), ACME_ETOOLONG);

	/* a long detail is cut, not refused */
	o = (size_t)sprintf(big, "{\"type\":\"" NS "dns\",\"detail\":\"");
	memset(big + o, 'b', 5000);
	o += 5000;
	strcpy(big + o, "\"}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), 0);
	assert_int_equal(strlen(p.detail), ACME_PROBLEM_DETAIL_MAX);
	assert_string_equal(p.detail + ACME_PROBLEM_DETAIL_MAX - 3, "...");

	/* a type longer than ACME_PROBLEM_TYPE_MAX is refused */
	o = (size_t)sprintf(big, "{\"type\":\"urn:");
	memset(big + o, 'c', ACME_PROBLEM_TYPE_MAX);
	o += ACME_PROBLEM_TYPE_MAX;
	strcpy(big + o, "\"}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), ACME_ETOOLONG);

	/* an identifier value of 256 bytes */
	o = (size_t)sprintf(big, "{\"identifier\":{\"type\":\"dns\",\"value\":\"");
	memset(big + o, 'd', ACME_IDENT_MAX + 1);
	o += ACME_IDENT_MAX + 1;
	strcpy(big + o, "\"}}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), ACME_ETOOLONG);

	/* 20 subproblems: 16 kept, 20 counted, all checked */
	o = (size_t)sprintf(big, "{\"type\":\"" NS "compound\",\"subproblems\":[");
	for (int i = 0; i < 20; i++)
		o += (size_t)sprintf(big + o, "%s{\"type\":\"" NS "serverInternal\","
		                     "\"identifier\":{\"type\":\"dns\",\"value\":\"n%d.example\"}}",
		                     i ? "," : "", i);
	strcpy(big + o, "]}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), 0);
	assert_int_equal(p.n_sub, ACME_PROBLEM_MAX_SUB);
	assert_int_equal(p.n_sub_total, 20);
	assert_string_equal(p.sub[15].identifier.value, "n15.example");
	/* compound RETRY needs every subproblem seen: 4 were not kept */
	assert_int_equal(acme_problem_class(&p), ACME_PC_FAIL);
	/* the 20th is bad: the whole document is refused */
	big[strlen(big) - 2] = '\0';
	strcat(big, ",{\"type\":7}]}");
	assert_int_equal(acme_problem_parse(big, strlen(big), 400, &p), ACME_ETYPE);

	/* NULLs */
	assert_int_equal(acme_problem_parse(NULL, 0, 400, &p), ACME_EINVAL);
	assert_int_equal(acme_problem_parse("{}", 2, 400, NULL), ACME_EINVAL);
	assert_int_equal(acme_problem_text(NULL, text, sizeof(text)), ACME_EINVAL);
	assert_int_equal(acme_problem_text(&p, NULL, 10), ACME_EINVAL);
	assert_int_equal(acme_problem_text(&p, text, 3), ACME_EINVAL);
	assert_int_equal(acme_problem_class(NULL), ACME_PC_FAIL);
	free(big);
}

static void test_text(void **state)
{
	struct acme_problem p;
	char text[ACME_PROBLEM_TEXT_MAX], small[24];
	const char *doc = "{\"type\":\"" NS "compound\",\"detail\":\"two bad\",\"subproblems\":["
	                  "{\"type\":\"" NS "dns\",\"detail\":\"NXDOMAIN\",\"identifier\":"
	                  "{\"type\":\"dns\",\"value\":\"a.example\"}},"
	                  "{\"type\":\"" NS "caa\"}]}";

	(void)state;
	assert_int_equal(acme_problem_parse(doc, strlen(doc), 0, &p), 0);
	assert_int_equal(acme_problem_text(&p, text, sizeof(text)), 0);
	assert_string_equal(text, NS "compound: two bad; subproblem: dns:a.example " NS
	                    "dns: NXDOMAIN; subproblem: " NS "caa");

	/* cut to the buffer, "..." at the end, always terminated */
	assert_int_equal(acme_problem_text(&p, small, sizeof(small)), 0);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small, "urn:ietf:params:acme...");
	assert_int_equal(acme_problem_text(&p, small, 4), 0);
	assert_string_equal(small, "...");

	/* more subproblems than kept */
	p.n_sub_total = 5;
	assert_int_equal(acme_problem_text(&p, text, sizeof(text)), 0);
	assert_non_null(strstr(text, "; +3 more"));

	/* a struct filled by hand with junk is still rendered printable */
	memset(&p, 0, sizeof(p));
	strcpy(p.type, "urn:x\x01\xff");
	strcpy(p.detail, "line1\nline2\r\x7f");
	p.http_status = 400;
	assert_int_equal(acme_problem_text(&p, text, sizeof(text)), 0);
	assert_string_equal(text, "urn:x??: line1?line2?? (status 400)");
}

/* The "error" member of a challenge: a problem inside a 200 reply. */
static void test_embedded(void **state)
{
	struct acme_problem p;
	json_t *chall, *bad;
	json_error_t jerr;
	size_t len;
	char *body = slurp("challenge-le-invalid-dns01.json", &len);

	(void)state;
	chall = json_loadb(body, len, 0, &jerr);
	assert_non_null(chall);
	assert_int_equal(acme_problem_from_json(json_object_get(chall, "error"), 0, &p), 0);
	assert_int_equal(p.kind, ACME_PT_UNAUTHORIZED);
	assert_int_equal(p.status, 403);
	assert_int_equal(acme_problem_class(&p), ACME_PC_FAIL);
	/* the challenge itself is no problem document: "type" is not a URI */
	assert_int_equal(acme_problem_from_json(chall, 0, &p), ACME_ESYNTAX);
	assert_string_equal(p.type, "about:blank");
	/* "error" of the wrong type */
	bad = json_pack("{s:s}", "error", "unauthorized");
	assert_non_null(bad);
	assert_int_equal(acme_problem_from_json(json_object_get(bad, "error"), 0, &p), ACME_ETYPE);
	assert_int_equal(acme_problem_from_json(NULL, 0, &p), ACME_EINVAL);
	assert_int_equal(acme_problem_from_json(chall, 0, NULL), ACME_EINVAL);
	assert_int_equal(acme_problem_from_json(json_object_get(chall, "error"), 1000, &p),
	                 ACME_EINVAL);
	json_decref(bad);
	json_decref(chall);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_saved_replies),
		cmocka_unit_test(test_rows),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_embedded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
