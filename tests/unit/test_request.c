/* Table-driven test of rz_req_parse(): what the request socket accepts, and
 * the reply / state builders.  Uses config/regzone.example.yaml (and a
 * second configuration where the default profile is for another service). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/request.h"
#include "daemon/rz_err.h"

/* Two configurations: the shipped example, and one whose default profile
 * ("mail") is for another service than its other profile ("chat"). */
enum { CFG_EXAMPLE, CFG_MIXED, CFG__MAX };
static struct rz_config *cfgs[CFG__MAX];

static const char mixed_yaml[] =
	"listen:\n"
	"  requests: \"ipc:///run/rz/requests\"\n"
	"  feed: \"ipc:///run/rz/feed\"\n"
	"database:\n"
	"  conninfo: \"dbname=regzone\"\n"
	"knot:\n"
	"  socket: /run/knot/knot.sock\n"
	"dns:\n"
	"  servers: [\"127.0.0.1@53\"]\n"
	"acme:\n"
	"  directory: \"https://ca.test/dir\"\n"
	"  account_key: /var/lib/regzone/account.key\n"
	"certificates:\n"
	"  dir: /var/lib/regzone/certs\n"
	"default_profile: mail\n"
	"profiles:\n"
	"  mail:\n"
	"    service: mail\n"
	"    params:\n"
	"      mx: { type: hostname, default: mx.example.net }\n"
	"    records:\n"
	"      - { owner: \"@\", type: MX, priority: 10, target: \"{mx}\" }\n"
	"  chat:\n"
	"    service: xmpp\n"
	"    records:\n"
	"      - { owner: _xmpp-client._tcp, type: SRV, priority: 5, weight: 1, port: 5222,"
	" target: xmpp.example.net }\n";

static int setup_cfgs(void **state)
{
	const char *src = getenv("RZ_SRCDIR");
	char path[4096], tmp[] = "/tmp/test_request_XXXXXX", err[512] = "";
	FILE *f = NULL;
	int fd, ret;

	(void)state;
	snprintf(path, sizeof(path), "%s/config/regzone.example.yaml", src != NULL ? src : ".");
	ret = rz_config_load(path, &cfgs[CFG_EXAMPLE], err, sizeof(err));
	if (ret != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	if ((fd = mkstemp(tmp)) < 0 || (f = fdopen(fd, "w")) == NULL)
		return -1;
	fputs(mixed_yaml, f);
	fclose(f);
	ret = rz_config_load(tmp, &cfgs[CFG_MIXED], err, sizeof(err));
	unlink(tmp);
	if (ret != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return 0;
}

static int teardown_cfgs(void **state)
{
	(void)state;
	for (int i = 0; i < CFG__MAX; i++)
		rz_config_free(cfgs[i]);
	return 0;
}

/* ---- generated inputs ------------------------------------------------ */

static char *gen_printf(size_t *len, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *gen_printf(size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	*len = (size_t)n;
	return s;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

#define REQ_TAIL "\"action\":\"enable\",\"service\":\"xmpp\",\"domain\":\"example.org\""

static char *gen_id128(size_t *len)
{
	char *id = repeat('i', 128), *s = gen_printf(len, "{\"id\":\"%s\"," REQ_TAIL "}", id);

	free(id);
	return s;
}

static char *gen_id129(size_t *len)
{
	char *id = repeat('i', 129), *s = gen_printf(len, "{\"id\":\"%s\"," REQ_TAIL "}", id);

	free(id);
	return s;
}

static char *gen_domain10k(size_t *len)
{
	char *d = repeat('a', 10240), *s;

	memcpy(d + 10230, ".example", 8);
	s = gen_printf(len, "{\"id\":\"r1\",\"action\":\"status\",\"service\":\"xmpp\","
	               "\"domain\":\"%s\"}", d);
	free(d);
	return s;
}

/* A valid request padded with spaces to exactly n bytes. */
static char *gen_padded(size_t n, size_t *len)
{
	static const char body[] = "{\"id\":\"big\"," REQ_TAIL "}";
	char *s = repeat(' ', n);

	memcpy(s, body, sizeof(body) - 1);
	*len = n;
	return s;
}

static char *gen_64k(size_t *len)
{
	return gen_padded(65536, len);
}

static char *gen_64k_plus1(size_t *len)
{
	return gen_padded(65537, len);
}

static char *gen_70k(size_t *len)
{
	return gen_padded(70 * 1024, len);
}

/* 3000 nested arrays as a parameter: past jansson's depth limit. */
static char *gen_deep(size_t *len)
{
	char *open = repeat('[', 3000), *close = repeat(']', 3000), *s;

	s = gen_printf(len, "{\"id\":\"r1\"," REQ_TAIL ",\"params\":{\"target\":%s%s}}", open, close);
	free(open);
	free(close);
	return s;
}

static char *gen_17_params(size_t *len)
{
	char p[1024] = "";
	size_t off = 0;

	for (int i = 0; i < 17; i++)
		off += (size_t)snprintf(p + off, sizeof(p) - off, "%s\"p%d\":\"v\"", i ? "," : "", i);
	return gen_printf(len, "{\"id\":\"r1\"," REQ_TAIL ",\"params\":{%s}}", p);
}

static char *gen_long_param(size_t *len)
{
	char *v = repeat('t', 300), *s;

	s = gen_printf(len, "{\"id\":\"r1\",\"action\":\"enable\",\"service\":\"xmpp\","
	               "\"domain\":\"example.org\",\"profile\":\"xmpp-verified\","
	               "\"params\":{\"token\":\"%s\"}}", v);
	free(v);
	return s;
}

/* An unknown field whose name is 200 letters: at most 64 come back. */
static char *gen_long_field(size_t *len)
{
	char *k = repeat('K', 200), *s;

	s = gen_printf(len, "{\"id\":\"r1\"," REQ_TAIL ",\"%s\":\"x\"}", k);
	free(k);
	return s;
}

/* ---- the table ------------------------------------------------------- */

struct rcase {
	const char *in;         /* input bytes (may hold NULs) ... */
	size_t len;             /* ... and their length */
	char *(*gen)(size_t *len);  /* or a generated input (malloc'ed) */
	int cfg;                /* CFG_* */
	bool ok;                /* rz_req_parse() returns 0 */
	enum rz_rcode code;     /* failure: err.code */
	const char *why;        /* failure: substring of err.message */
	const char *not_in;     /* failure: must NOT appear in err.message */
	const char *id;         /* out.id afterwards, ok or not ("" = none) */
	/* ok rows */
	enum rz_action action;
	const char *service;    /* NULL: "xmpp" */
	const char *domain, *profile, *params_json;
	size_t n_params;
};

#define IN(s) .in = (s), .len = sizeof(s) - 1
#define R(body) IN("{\"id\":\"r1\"," body "}")
#define OK(act, dom, prof, pj, n) .ok = true, .id = "r1", .action = (act), .domain = (dom), \
	.profile = (prof), .params_json = (pj), .n_params = (n)
#define BAD(c, w) .ok = false, .code = (c), .why = (w)
#define ENA "\"action\":\"enable\",\"service\":\"xmpp\","
#define DOM "\"domain\":\"example.org\""

static const struct rcase cases[] = {
	/* ---- good ---- */
	{ R(ENA DOM), OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ R("\"action\":\"disable\",\"service\":\"xmpp\"," DOM),
	  OK(RZ_ACT_DISABLE, "example.org", "", "{}", 0) },
	{ R("\"action\":\"renew\",\"service\":\"xmpp\"," DOM),
	  OK(RZ_ACT_RENEW, "example.org", "", "{}", 0) },
	{ R("\"action\":\"status\",\"service\":\"xmpp\"," DOM),
	  OK(RZ_ACT_STATUS, "example.org", "", "{}", 0) },
	{ R(ENA DOM ",\"profile\":\"xmpp\""), OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ R(ENA DOM ",\"profile\":\"xmpp-verified\",\"params\":{\"token\":\"abc-123\"}"),
	  OK(RZ_ACT_ENABLE, "example.org", "xmpp-verified", "{\"token\":\"abc-123\"}", 1) },
	{ R(ENA DOM ",\"profile\":\"xmpp-snikket\",\"params\":{\"ipv6\":\"2001:db8::1\","
	    "\"ipv4\":\"192.0.2.1\"}"),
	  OK(RZ_ACT_ENABLE, "example.org", "xmpp-snikket",
	     "{\"ipv4\":\"192.0.2.1\",\"ipv6\":\"2001:db8::1\"}", 2) },
	{ R(ENA DOM ",\"params\":{\"target\":\"Chat.Example.NET\"}"),
	  OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{\"target\":\"Chat.Example.NET\"}", 1) },
	{ R(ENA DOM ",\"params\":{}"), OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ R(ENA "\"domain\":\"Example.ORG\""), OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ R(ENA "\"domain\":\"example.org.\""), OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ R(ENA "\"domain\":\"xn--bcher-kva.example\""),
	  OK(RZ_ACT_ENABLE, "xn--bcher-kva.example", "xmpp", "{}", 0) },
	{ R(ENA "\"domain\":\"\\u0065xample.org\""),        /* escapes are fine */
	  OK(RZ_ACT_ENABLE, "example.org", "xmpp", "{}", 0) },
	{ IN("\n{ \"domain\" : \"example.org\" ,\n\t\"service\":\"xmpp\", \"action\":\"status\","
	     " \"id\" : \"r1\" }\r\n"), OK(RZ_ACT_STATUS, "example.org", "", "{}", 0) },
	{ IN("{\"id\":\"AZaz09._:@/+=-\",\"action\":\"status\",\"service\":\"xmpp\"," DOM "}"),
	  .ok = true, .id = "AZaz09._:@/+=-", .action = RZ_ACT_STATUS, .domain = "example.org",
	  .profile = "", .params_json = "{}" },
	{ .gen = gen_id128, .ok = true, .action = RZ_ACT_ENABLE, .domain = "example.org",
	  .profile = "xmpp", .params_json = "{}" },
	{ .gen = gen_64k, .ok = true, .id = "big", .action = RZ_ACT_ENABLE,
	  .domain = "example.org", .profile = "xmpp", .params_json = "{}" },
	{ R("\"action\":\"enable\",\"service\":\"mail\"," DOM), .cfg = CFG_MIXED, .service = "mail",
	  OK(RZ_ACT_ENABLE, "example.org", "mail", "{}", 0) },
	{ R(ENA DOM ",\"profile\":\"chat\""), .cfg = CFG_MIXED,
	  OK(RZ_ACT_ENABLE, "example.org", "chat", "{}", 0) },

	/* ---- not JSON, or not an object ---- */
	{ IN("hello"), BAD(RZ_RC_BAD_JSON, "invalid JSON at line 1"), .id = "" },
	{ IN("{\"id\":\"r1\",\"action\":"), BAD(RZ_RC_BAD_JSON, "invalid JSON"), .id = "" },
	{ IN(""), BAD(RZ_RC_BAD_JSON, "invalid JSON"), .id = "" },
	{ IN("[]"), BAD(RZ_RC_BAD_REQUEST, "must be a JSON object, not an array"), .id = "" },
	{ IN("\"str\""), BAD(RZ_RC_BAD_REQUEST, "not a string"), .id = "" },
	{ IN("null"), BAD(RZ_RC_BAD_REQUEST, "not null"), .id = "" },
	{ IN("42"), BAD(RZ_RC_BAD_REQUEST, "not a number"), .id = "" },
	{ IN("{\"id\":\"r1\",\"id\":\"r2\"," ENA DOM "}"), BAD(RZ_RC_BAD_JSON, "duplicate"),
	  .id = "" },
	{ IN("{\"id\":\"r1\"," ENA DOM "} {}"), BAD(RZ_RC_BAD_JSON, "end of file"), .id = "" },
	{ R(ENA "\"domain\":\"a\\u0000.example\""), BAD(RZ_RC_BAD_JSON, "\\u0000"), .id = "" },
	{ IN("{\"id\":\"r1\"," ENA "\"domain\":\"a\0.example\"}"), BAD(RZ_RC_BAD_JSON, "control"),
	  .id = "" },
	{ R(ENA "\"domain\":\"\xff.example\""), BAD(RZ_RC_BAD_JSON, "invalid JSON"),
	  .not_in = "\xff", .id = "" },
	{ .gen = gen_deep, BAD(RZ_RC_BAD_JSON, "depth"), .id = "" },
	{ .gen = gen_64k_plus1, BAD(RZ_RC_BAD_REQUEST, "request larger than 64 KiB"), .id = "" },
	{ .gen = gen_70k, BAD(RZ_RC_BAD_REQUEST, "request larger than 64 KiB"), .id = "" },

	/* ---- missing fields ---- */
	{ IN("{" ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' is missing"), .id = "" },
	{ R("\"service\":\"xmpp\"," DOM), BAD(RZ_RC_BAD_REQUEST, "field 'action' is missing"),
	  .id = "r1" },
	{ R("\"action\":\"enable\"," DOM), BAD(RZ_RC_BAD_REQUEST, "field 'service' is missing"),
	  .id = "r1" },
	{ R("\"action\":\"enable\",\"service\":\"xmpp\""),
	  BAD(RZ_RC_BAD_REQUEST, "field 'domain' is missing"), .id = "r1" },
	{ IN("{}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' is missing"), .id = "" },

	/* ---- wrong types ---- */
	{ IN("{\"id\":5," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' must be a string, "
	  "not a number"), .id = "" },
	{ IN("{\"id\":null," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' must be a string, "
	  "not null"), .id = "" },
	{ R("\"action\":{\"x\":1},\"service\":\"xmpp\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "field 'action' must be a string, not an object"), .id = "r1" },
	{ R("\"action\":\"enable\",\"service\":true," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "field 'service' must be a string, not a boolean"), .id = "r1" },
	{ R(ENA "\"domain\":[\"example.org\"]"),
	  BAD(RZ_RC_BAD_REQUEST, "field 'domain' must be a string, not an array"), .id = "r1" },
	{ R(ENA DOM ",\"profile\":1.5"),
	  BAD(RZ_RC_BAD_REQUEST, "field 'profile' must be a string, not a number"), .id = "r1" },
	{ R(ENA DOM ",\"params\":[\"target\",\"x.example\"]"),
	  BAD(RZ_RC_BAD_REQUEST, "field 'params' must be an object, not an array"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"target\":5}"),
	  BAD(RZ_RC_BAD_REQUEST, "'target' must be a string, not a number"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"target\":{}}"),
	  BAD(RZ_RC_BAD_REQUEST, "'target' must be a string, not an object"), .id = "r1" },

	/* ---- id ---- */
	{ IN("{\"id\":\"\"," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' is empty"), .id = "" },
	{ IN("{\"id\":\"r 1\"," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' may only contain"),
	  .id = "" },
	{ IN("{\"id\":\"r1\\n\"," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "field 'id' may only contain"),
	  .id = "" },
	{ IN("{\"id\":\"r\xc3\xa9\"," ENA DOM "}"), BAD(RZ_RC_BAD_REQUEST, "may only contain"),
	  .id = "" },
	{ .gen = gen_id129, BAD(RZ_RC_BAD_REQUEST, "field 'id' is longer than 128"), .id = "" },

	/* ---- action, service, unknown fields ---- */
	{ R("\"action\":\"delete\",\"service\":\"xmpp\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "one of enable, disable, renew, status"), .id = "r1" },
	{ R("\"action\":\"ENABLE\",\"service\":\"xmpp\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "field 'action' must be one of"), .id = "r1" },
	{ R("\"action\":\"enable\",\"service\":\"sip\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "no profile provides service 'sip'"), .id = "r1" },
	/* the example's mail profiles are not its default: a mail enable
	 * names one */
	{ R("\"action\":\"enable\",\"service\":\"mail\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "no default profile for service 'mail': name one in field "
	      "'profile'"), .id = "r1" },
	{ R("\"action\":\"enable\",\"service\":\"mail\",\"profile\":\"mail\"," DOM),
	  .service = "mail", OK(RZ_ACT_ENABLE, "example.org", "mail", "{}", 0) },
	{ R("\"action\":\"enable\",\"service\":\"\"," DOM),
	  BAD(RZ_RC_BAD_REQUEST, "no profile provides service ''"), .id = "r1" },
	{ R(ENA DOM ",\"extra\":\"x\""), BAD(RZ_RC_BAD_REQUEST, "unknown field 'extra'"), .id = "r1" },
	{ R(ENA DOM ",\"Id\":\"x\""), BAD(RZ_RC_BAD_REQUEST, "unknown field 'Id'"), .id = "r1" },
	{ R(ENA DOM ",\"e\\u0001\\n\":\"x\""), BAD(RZ_RC_BAD_REQUEST, "unknown field 'e?\?'"),
	  .id = "r1" },
	{ .gen = gen_long_field, BAD(RZ_RC_BAD_REQUEST, "unknown field 'KKKK"),
	  .not_in = "KKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKKK" /* 65 */,
	  .id = "r1" },

	/* ---- domain ---- */
	{ .gen = gen_domain10k, BAD(RZ_RC_INVALID_DOMAIN, "longer than 253"), .id = "r1" },
	{ R(ENA "\"domain\":\"example.test;rm\""), BAD(RZ_RC_INVALID_DOMAIN, "invalid character ';'"),
	  .id = "r1" },
	{ R(ENA "\"domain\":\"example.test\\nwww\""), BAD(RZ_RC_INVALID_DOMAIN, "0x0a"), .id = "r1" },
	{ R(ENA "\"domain\":\"b\xc3\xbc" "cher.example\""), BAD(RZ_RC_INVALID_DOMAIN, "A-label"),
	  .id = "r1" },
	{ R(ENA "\"domain\":\"*.example.org\""), BAD(RZ_RC_INVALID_DOMAIN, "wildcard"), .id = "r1" },
	{ R(ENA "\"domain\":\"localhost\""), BAD(RZ_RC_INVALID_DOMAIN, "two labels"), .id = "r1" },
	{ R(ENA "\"domain\":\"\""), BAD(RZ_RC_INVALID_DOMAIN, "empty"), .id = "r1" },
	{ R(ENA "\"domain\":\"xmpp-hosting.example.net\""),
	  BAD(RZ_RC_INVALID_DOMAIN, "hosting target"), .id = "r1" },

	/* ---- profile ---- */
	{ R("\"action\":\"disable\",\"service\":\"xmpp\"," DOM ",\"profile\":\"xmpp\""),
	  BAD(RZ_RC_BAD_REQUEST, "field 'profile' is only allowed with action 'enable'"),
	  .id = "r1" },
	{ R("\"action\":\"status\",\"service\":\"xmpp\"," DOM ",\"params\":{}"),
	  BAD(RZ_RC_BAD_REQUEST, "field 'params' is only allowed with action 'enable'"),
	  .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"nope\""), BAD(RZ_RC_UNKNOWN_PROFILE, "no profile named 'nope'"),
	  .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"\""), BAD(RZ_RC_UNKNOWN_PROFILE, "no profile named ''"),
	  .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"mail\""), .cfg = CFG_MIXED,
	  BAD(RZ_RC_BAD_REQUEST, "profile 'mail' is for service 'mail', not 'xmpp'"), .id = "r1" },
	{ R(ENA DOM), .cfg = CFG_MIXED,
	  BAD(RZ_RC_BAD_REQUEST, "no default profile for service 'xmpp'"), .id = "r1" },

	/* ---- params ---- */
	{ R(ENA DOM ",\"params\":{\"x\":\"1\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "profile 'xmpp' has no parameter 'x'"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"target\":\"a.example;rm\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "parameter 'target': invalid character ';'"), .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"xmpp-verified\",\"params\":{\"token\":\"x\\ny\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "parameter 'token': text contains a control"), .not_in = "\n",
	  .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"xmpp-snikket\",\"params\":{\"ipv4\":\"1.2.3.4\\r\\nX: y\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "parameter 'ipv4'"), .not_in = "\r", .id = "r1" },
	{ R(ENA DOM ",\"profile\":\"xmpp-snikket\""),
	  BAD(RZ_RC_BAD_REQUEST, "needs parameter 'ipv4'"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"Target\":\"a.example\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "name 'Target' must be 1..32 characters"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"\":\"a.example\"}"),
	  BAD(RZ_RC_BAD_REQUEST, "name '' must be 1..32"), .id = "r1" },
	{ R(ENA DOM ",\"params\":{\"target\":\"example.org\"}"),
	  BAD(RZ_RC_INVALID_DOMAIN, "hosting target"), .id = "r1" },
	{ .gen = gen_17_params, BAD(RZ_RC_BAD_REQUEST, "has 17 entries, at most 16"), .id = "r1" },
	{ .gen = gen_long_param, BAD(RZ_RC_BAD_REQUEST, "'token' is longer than 255"), .id = "r1" },
};

static void assert_printable(const char *s)
{
	for (; *s != '\0'; s++)
		assert_true((unsigned char)*s >= 0x20 && (unsigned char)*s <= 0x7e);
}

static void test_cases(void **state)
{
	(void)state;
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *t = &cases[i];
		struct rz_req req;
		struct rz_req_error err;
		char *gen = NULL, *id128 = NULL;
		const char *in = t->in, *want_id = t->id;
		size_t len = t->len;
		int ret;

		if (t->gen != NULL)
			in = gen = t->gen(&len);
		if (t->gen == gen_id128)
			want_id = id128 = repeat('i', 128);
		memset(&req, 0xa5, sizeof(req));    /* parse must not trust *out */
		ret = rz_req_parse(cfgs[t->cfg], in, len, &req, &err);
		print_message("row %zu: ret %d code %s: %s\n", i, ret,
		              rz_rcode_name(err.code), ret ? err.message : req.domain);
		if (t->ok) {
			assert_int_equal(ret, 0);
			assert_string_equal(req.id, want_id);
			assert_int_equal(req.action, t->action);
			assert_string_equal(req.service, t->service != NULL ? t->service : "xmpp");
			assert_string_equal(req.domain, t->domain);
			assert_string_equal(req.profile, t->profile);
			assert_string_equal(req.params_json, t->params_json);
			assert_int_equal(req.n_params, t->n_params);
			assert_int_equal(strlen(req.body_sha256), 64);
			for (size_t k = 0; k < req.n_params; k++) {
				json_t *pj = json_loads(req.params_json, 0, NULL);

				assert_non_null(pj);
				assert_string_equal(json_string_value(json_object_get(pj, req.params[k].key)),
				                    req.params[k].val);
				json_decref(pj);
			}
		} else {
			assert_true(ret < 0 && ret > RZ_E__MIN);
			assert_int_equal(err.code, t->code);
			assert_non_null(strstr(err.message, t->why));
			if (t->not_in != NULL)
				assert_null(strstr(err.message, t->not_in));
			assert_string_equal(req.id, want_id);
			/* a failed parse owns nothing */
			assert_null(req.params_json);
			assert_null(req.params_store);
			assert_int_equal(req.n_params, 0);
			assert_string_equal(req.domain, "");
			assert_string_equal(req.profile, "");
			assert_printable(err.message);
			assert_true(strlen(err.message) < sizeof(err.message));
		}
		rz_req_clear(&req);
		rz_req_clear(&req);
		free(gen);
		free(id128);
	}
}

/* ---- canonical hash --------------------------------------------------- */

static void parse_ok(const char *in, struct rz_req *req)
{
	struct rz_req_error err;
	int ret = rz_req_parse(cfgs[CFG_EXAMPLE], in, strlen(in), req, &err);

	if (ret != 0)
		print_error("%s: %s\n", in, err.message);
	assert_int_equal(ret, 0);
}

static void test_body_sha256(void **state)
{
	static const char *const same[] = {
		"{\"id\":\"r1\",\"action\":\"enable\",\"service\":\"xmpp\",\"domain\":\"example.org\"}",
		"{\"domain\":\"example.org\",\"service\":\"xmpp\",\"action\":\"enable\",\"id\":\"r1\"}",
		" {\n  \"service\" : \"xmpp\",\n  \"id\" : \"r1\",\n  \"domain\" : \"example.org\","
		"\n  \"action\" : \"enable\"\n}\n",
		"{\"id\":\"r\\u0031\",\"action\":\"enable\",\"service\":\"xmpp\","
		"\"domain\":\"\\u0065xample.org\"}",
	};
	static const char *const other[] = {
		"{\"id\":\"r1\",\"action\":\"enable\",\"service\":\"xmpp\",\"domain\":\"example.net\"}",
		"{\"id\":\"r1\",\"action\":\"status\",\"service\":\"xmpp\",\"domain\":\"example.org\"}",
		"{\"id\":\"r1\",\"action\":\"enable\",\"service\":\"xmpp\",\"domain\":\"example.org\","
		"\"params\":{}}",
		"{\"id\":\"r1\",\"action\":\"enable\",\"service\":\"xmpp\",\"domain\":\"example.org\","
		"\"profile\":\"xmpp\"}",
	};
	/* sha256sum of {"action":"enable","domain":"example.org","id":"r1","service":"xmpp"} */
	static const char want[] =
		"00dce374ec78edd2bd575e26283670df44a079bce3ee3fed0ef37a45aeb280ca";
	struct rz_req a, b;

	(void)state;
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		parse_ok(same[i], &a);
		assert_string_equal(a.body_sha256, want);
		rz_req_clear(&a);
	}
	parse_ok(same[0], &a);
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		parse_ok(other[i], &b);
		assert_string_not_equal(a.body_sha256, b.body_sha256);
		rz_req_clear(&b);
	}
	rz_req_clear(&a);
}

/* A refused request still has its id and hash (for the error reply and
 * the duplicate check), and owns nothing. */
static void test_failed_parse_keeps_id(void **state)
{
	static const char in[] = "{\"id\":\"r9\",\"action\":\"enable\",\"service\":\"xmpp\","
	                         "\"domain\":\"example.org\",\"params\":{\"x\":\"1\"}}";
	struct rz_req req;
	struct rz_req_error err;

	(void)state;
	assert_int_equal(rz_req_parse(cfgs[CFG_EXAMPLE], in, sizeof(in) - 1, &req, &err),
	                 RZ_EPARAM);
	assert_string_equal(req.id, "r9");
	assert_int_equal(strlen(req.body_sha256), 64);
	assert_null(req.params_json);
	rz_req_clear(&req);
	assert_string_equal(req.id, "");

	/* not NUL-terminated: the parser reads exactly len bytes */
	assert_int_equal(rz_req_parse(cfgs[CFG_EXAMPLE], in, sizeof(in) - 3, &req, &err),
	                 RZ_ESYNTAX);
	assert_int_equal(err.code, RZ_RC_BAD_JSON);
	assert_string_equal(req.body_sha256, "");

	assert_int_equal(rz_req_parse(cfgs[CFG_EXAMPLE], NULL, 0, &req, &err), RZ_ESYNTAX);
	assert_int_equal(rz_req_parse(cfgs[CFG_EXAMPLE], NULL, 5, &req, &err), RZ_EINVAL);
	assert_int_equal(err.code, RZ_RC_INTERNAL);
	assert_int_equal(rz_req_parse(NULL, in, sizeof(in) - 1, &req, &err), RZ_EINVAL);
	assert_int_equal(rz_req_parse(cfgs[CFG_EXAMPLE], in, sizeof(in) - 1, NULL, &err),
	                 RZ_EINVAL);
	rz_req_clear(&req);
	rz_req_clear(NULL);
}

/* ---- names ------------------------------------------------------------ */

static void test_names(void **state)
{
	static const char *const rc[] = {
		"ok", "bad_json", "bad_request", "invalid_domain", "unknown_profile",
		"zone_not_served", "unavailable", "unauthorized", "internal", "conflict",
	};
	static const char *const act[] = { "enable", "disable", "renew", "status" };
	enum rz_rcode c;
	enum rz_action a;

	(void)state;
	assert_int_equal(sizeof(rc) / sizeof(rc[0]), RZ_RC__MAX);
	for (int i = 0; i < RZ_RC__MAX; i++) {
		assert_string_equal(rz_rcode_name((enum rz_rcode)i), rc[i]);
		assert_int_equal(rz_rcode_from_name(rc[i], &c), 0);
		assert_int_equal(c, i);
	}
	assert_null(rz_rcode_name(RZ_RC__MAX));
	assert_null(rz_rcode_name((enum rz_rcode)-1));
	assert_int_equal(rz_rcode_from_name("nope", &c), RZ_ENOENT);
	assert_int_equal(rz_rcode_from_name(NULL, &c), RZ_ENOENT);

	assert_int_equal(sizeof(act) / sizeof(act[0]), RZ_ACT__MAX);
	for (int i = 0; i < RZ_ACT__MAX; i++) {
		assert_string_equal(rz_action_name((enum rz_action)i), act[i]);
		assert_int_equal(rz_action_from_name(act[i], &a), 0);
		assert_int_equal(a, i);
	}
	assert_null(rz_action_name(RZ_ACT__MAX));
	assert_int_equal(rz_action_from_name("Enable", &a), RZ_ENOENT);
	assert_int_equal(rz_action_from_name(NULL, &a), RZ_ENOENT);
}

/* ---- replies ---------------------------------------------------------- */

static json_t *reparse(char *text)
{
	json_error_t jerr;
	json_t *v;

	assert_non_null(text);
	v = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL)
		print_error("%s: %s\n", text, jerr.text);
	assert_non_null(v);
	free(text);
	return v;
}

static void test_reply_error(void **state)
{
	json_t *r, *e;

	(void)state;
	r = reparse(rz_reply_error("r1", RZ_RC_INVALID_DOMAIN, "field 'domain': \"x\" bad"));
	assert_string_equal(json_string_value(json_object_get(r, "id")), "r1");
	assert_true(json_is_false(json_object_get(r, "ok")));
	e = json_object_get(r, "error");
	assert_true(json_is_object(e));
	assert_int_equal(json_object_size(e), 2);
	assert_string_equal(json_string_value(json_object_get(e, "code")), "invalid_domain");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	                    "field 'domain': \"x\" bad");
	assert_int_equal(json_object_size(r), 3);
	json_decref(r);

	/* no id: null; no message: the code's name */
	r = reparse(rz_reply_error(NULL, RZ_RC_BAD_JSON, NULL));
	assert_true(json_is_null(json_object_get(r, "id")));
	e = json_object_get(r, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "bad_json");
	assert_string_equal(json_string_value(json_object_get(e, "message")), "bad_json");
	json_decref(r);

	r = reparse(rz_reply_error("", RZ_RC_UNAVAILABLE, "database down"));
	assert_true(json_is_null(json_object_get(r, "id")));
	json_decref(r);

	/* an impossible code is sent as internal; broken UTF-8 is replaced */
	r = reparse(rz_reply_error("r2", RZ_RC_OK, "bad \xff\xfe byte"));
	e = json_object_get(r, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "internal");
	assert_string_equal(json_string_value(json_object_get(e, "message")), "bad ?? byte");
	json_decref(r);
	r = reparse(rz_reply_error("r3", (enum rz_rcode)99, "x"));
	e = json_object_get(r, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "internal");
	json_decref(r);
}

static void test_reply_ok(void **state)
{
	json_t *st, *r;

	(void)state;
	st = json_pack("{s:s, s:b}", "domain", "example.org", "active", 1);
	assert_non_null(st);
	r = reparse(rz_reply_ok("r1", st));
	assert_int_equal(st->refcount, 1);  /* borrowed, not stolen */
	assert_string_equal(json_string_value(json_object_get(r, "id")), "r1");
	assert_true(json_is_true(json_object_get(r, "ok")));
	assert_true(json_equal(json_object_get(r, "state"), st));
	assert_int_equal(json_object_size(r), 3);
	json_decref(r);
	json_decref(st);

	r = reparse(rz_reply_ok(NULL, NULL));
	assert_true(json_is_null(json_object_get(r, "id")));
	assert_true(json_is_null(json_object_get(r, "state")));
	json_decref(r);
}

static void test_state_json(void **state)
{
	struct rz_state s;
	json_t *o, *c, *round;

	(void)state;
	memset(&s, 0, sizeof(s));
	strcpy(s.domain, "example.org");
	strcpy(s.service, "xmpp");
	s.desired = RZ_DESIRED_ENABLED;
	s.dns = RZ_DNS_PENDING;
	s.cert = RZ_CERT_NONE;
	strcpy(s.updated_at, "2024-05-01T12:00:00Z");
	o = rz_state_json(&s);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 8);
	assert_string_equal(json_string_value(json_object_get(o, "domain")), "example.org");
	assert_string_equal(json_string_value(json_object_get(o, "service")), "xmpp");
	assert_string_equal(json_string_value(json_object_get(o, "desired")), "enabled");
	assert_string_equal(json_string_value(json_object_get(o, "dns")), "pending");
	assert_true(json_is_false(json_object_get(o, "active")));
	assert_true(json_is_null(json_object_get(o, "last_error")));
	assert_string_equal(json_string_value(json_object_get(o, "updated_at")),
	                    "2024-05-01T12:00:00Z");
	c = json_object_get(o, "certificate");
	assert_int_equal(json_object_size(c), 3);
	assert_string_equal(json_string_value(json_object_get(c, "state")), "none");
	assert_true(json_is_null(json_object_get(c, "not_after")));
	assert_true(json_is_null(json_object_get(c, "serial")));
	/* it goes into a reply intact */
	round = reparse(rz_reply_ok("r1", o));
	assert_true(json_equal(json_object_get(round, "state"), o));
	json_decref(round);
	json_decref(o);

	s.dns = RZ_DNS_PUBLISHED;
	s.cert = RZ_CERT_ISSUED;
	strcpy(s.not_after, "2024-08-01T12:00:00Z");
	strcpy(s.serial, "03a1b2");
	s.active = true;
	strcpy(s.last_error, "knot: \xff timeout\n");
	o = rz_state_json(&s);
	assert_non_null(o);
	assert_true(json_is_true(json_object_get(o, "active")));
	assert_string_equal(json_string_value(json_object_get(o, "last_error")),
	                    "knot: ? timeout?");
	c = json_object_get(o, "certificate");
	assert_string_equal(json_string_value(json_object_get(c, "state")), "issued");
	assert_string_equal(json_string_value(json_object_get(c, "not_after")),
	                    "2024-08-01T12:00:00Z");
	assert_string_equal(json_string_value(json_object_get(c, "serial")), "03a1b2");
	json_decref(o);

	/* a field filled to the brim without a NUL stays inside its array */
	memset(s.serial, 'f', sizeof(s.serial));
	o = rz_state_json(&s);
	assert_non_null(o);
	assert_int_equal(json_string_length(json_object_get(json_object_get(o, "certificate"),
	                                                    "serial")), sizeof(s.serial));
	json_decref(o);

	assert_null(rz_state_json(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_body_sha256),
		cmocka_unit_test(test_failed_parse_keeps_id),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_reply_error),
		cmocka_unit_test(test_reply_ok),
		cmocka_unit_test(test_state_json),
	};

	return cmocka_run_group_tests(tests, setup_cfgs, teardown_cfgs);
}
