/* zonegen: profile templates -> exact records, and zone text Knot accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define S(x) ((char *)(x))

/* The article's table (DESIGN.md), as a profile. */
static struct zg_param article_params[] = {
	{ S("target"), ZG_P_HOSTNAME, S("xmpp-hosting.example.net") },
	{ S("tls_target"), ZG_P_HOSTNAME, S("xmpps-hosting.example.net") },
};
static struct zg_rtmpl article_records[] = {
	{ .owner = S("_xmpp-client._tcp"), .type = ZG_RR_SRV, .priority = 5, .weight = 1,
	  .port = 5222, .target = S("{target}") },
	{ .owner = S("_xmpps-client._tcp"), .type = ZG_RR_SRV, .priority = 1, .weight = 1,
	  .port = 443, .target = S("{tls_target}") },
	{ .owner = S("_xmpp-server._tcp"), .type = ZG_RR_SRV, .priority = 1, .weight = 1,
	  .port = 5269, .target = S("{target}") },
	{ .owner = S("conference"), .type = ZG_RR_CNAME, .target = S("{target}") },
	{ .owner = S("proxy"), .type = ZG_RR_CNAME, .target = S("{target}") },
	{ .owner = S("share"), .type = ZG_RR_CNAME, .target = S("{target}") },
};
static char *article_certs[] = { S("@"), S("conference"), S("proxy"), S("share") };
static struct zg_profile article = {
	.name = S("xmpp"), .service = S("xmpp"), .ttl = 3600,
	.params = article_params, .n_params = 2,
	.records = article_records, .n_records = 6,
	.cert_names = article_certs, .n_cert_names = 4,
};

static const char article_text[] =
	"_xmpp-client._tcp.example.org. 3600 IN SRV 5 1 5222 xmpp-hosting.example.net.\n"
	"_xmpps-client._tcp.example.org. 3600 IN SRV 1 1 443 xmpps-hosting.example.net.\n"
	"_xmpp-server._tcp.example.org. 3600 IN SRV 1 1 5269 xmpp-hosting.example.net.\n"
	"conference.example.org. 3600 IN CNAME xmpp-hosting.example.net.\n"
	"proxy.example.org. 3600 IN CNAME xmpp-hosting.example.net.\n"
	"share.example.org. 3600 IN CNAME xmpp-hosting.example.net.\n";

/* Every type, literal and templated values, its own TTL. */
static struct zg_param all_params[] = {
	{ S("v4"), ZG_P_IPV4, NULL },
	{ S("v6"), ZG_P_IPV6, S("2001:DB8:0:0::1") },
	{ S("token"), ZG_P_TEXT, NULL },
};
static struct zg_rtmpl all_records[] = {
	{ .owner = S("@"), .type = ZG_RR_A, .address = S("{v4}") },
	{ .owner = S("@"), .type = ZG_RR_AAAA, .address = S("{v6}") },
	{ .owner = S("@"), .type = ZG_RR_TXT, .text = S("xmpp-hosting-verification={token}") },
	{ .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S("Mail.Example.NET.") },
	{ .owner = S("@"), .type = ZG_RR_CAA, .flags = 0, .tag = S("Issue"),
	  .text = S("letsencrypt.org") },
	{ .owner = S("Groups"), .type = ZG_RR_CNAME, .target = S("{domain}"), .ttl = 300 },
	{ .owner = S("_xmpps-server._tcp"), .type = ZG_RR_SRV, .priority = 1, .weight = 1,
	  .port = 5270, .target = S("{domain}") },
};
static char *all_certs[] = { S("@"), S("groups") };
static struct zg_profile all = {
	.name = S("all"), .service = S("xmpp"), .ttl = 600,
	.params = all_params, .n_params = 3,
	.records = all_records, .n_records = 7,
	.cert_names = all_certs, .n_cert_names = 2,
};

static char *render(const struct zg_rr *rrs, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(zg_render(rrs, n, f), 0);
	fclose(f);
	return buf;
}

static void test_article_records(void **state)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "", *text;
	size_t n;

	(void)state;
	assert_int_equal(zg_profile_check(&article, err, sizeof(err)), 0);
	for (size_t i = 0; i < article.n_records; i++)
		assert_int_equal(zg_rtmpl_check(&article, &article.records[i], err, sizeof(err)), 0);
	assert_int_equal(zg_expand(&article, "Example.ORG.", NULL, 0, rrs, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 6);
	text = render(rrs, n);
	assert_string_equal(text, article_text);
	free(text);
	/* no record of the profile is ever _xmppconnect */
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(rrs[i].owner, "_xmppconnect"));
}

static void test_params_override(void **state)
{
	const struct zg_kv kv[] = { { "target", "Chat.Hosting.example" } };
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(zg_expand(&article, "example.org", kv, 1, rrs, &n, err, sizeof(err)), 0);
	assert_string_equal(rrs[0].data, "5 1 5222 chat.hosting.example.");
	assert_string_equal(rrs[1].data, "1 1 443 xmpps-hosting.example.net.");
	assert_string_equal(rrs[3].data, "chat.hosting.example.");
}

/* {params_id}: 16 hex digits that follow the parameters' values. */
static struct zg_param id_params[] = {
	{ S("mode"), ZG_P_TEXT, S("enforce") },
	{ S("mx"), ZG_P_HOSTNAME, S("mx.hosting.example") },
};
static struct zg_rtmpl id_records[] = {
	{ .owner = S("_mta-sts"), .type = ZG_RR_TXT, .text = S("v=STSv1; id={params_id}") },
};
static struct zg_profile id_profile = {
	.name = S("mail"), .service = S("mail"), .ttl = 3600,
	.params = id_params, .n_params = 2, .records = id_records, .n_records = 1,
};

static void id_of(const struct zg_kv *kv, size_t n_kv, char *out, size_t len)
{
	struct zg_rr rr[1];
	char err[256];
	size_t n = 0;
	const char *id;

	assert_int_equal(zg_expand(&id_profile, "example.org", kv, n_kv, rr, &n, err,
	                           sizeof(err)), 0);
	assert_int_equal(n, 1);
	id = strstr(rr[0].data, "id=");
	assert_non_null(id);
	id += 3;
	assert_int_equal(strspn(id, "0123456789abcdef"), 16);   /* RFC 8461: 1-32 alnum */
	assert_int_equal(id[16], '"');
	snprintf(out, len, "%.16s", id);
}

static void test_params_id(void **state)
{
	const struct zg_kv testing[] = { { "mode", "testing" } };
	const struct zg_kv same[] = { { "mode", "enforce" } };
	const struct zg_kv other_mx[] = { { "mx", "mx2.hosting.example" } };
	char a[17], b[17], c[17], d[17], e[17];

	(void)state;
	id_of(NULL, 0, a, sizeof(a));
	id_of(NULL, 0, b, sizeof(b));
	assert_string_equal(a, b);                 /* stable */
	id_of(same, 1, c, sizeof(c));
	assert_string_equal(a, c);                 /* a default given explicitly: the same */
	id_of(testing, 1, d, sizeof(d));
	assert_string_not_equal(a, d);             /* a value changed: a new id */
	id_of(other_mx, 1, e, sizeof(e));
	assert_string_not_equal(a, e);
	assert_string_not_equal(d, e);
}

static void test_every_type(void **state)
{
	const struct zg_kv kv[] = { { "v4", "192.0.2.10" }, { "token", "abc-123" } };
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "", *text;
	size_t n;

	(void)state;
	assert_int_equal(zg_profile_check(&all, err, sizeof(err)), 0);
	for (size_t i = 0; i < all.n_records; i++)
		assert_int_equal(zg_rtmpl_check(&all, &all.records[i], err, sizeof(err)), 0);
	assert_int_equal(zg_expand(&all, "my-name.org", kv, 2, rrs, &n, err, sizeof(err)), 0);
	text = render(rrs, n);
	assert_string_equal(text,
		"my-name.org. 600 IN A 192.0.2.10\n"
		"my-name.org. 600 IN AAAA 2001:db8::1\n"
		"my-name.org. 600 IN TXT \"xmpp-hosting-verification=abc-123\"\n"
		"my-name.org. 600 IN MX 10 mail.example.net.\n"
		"my-name.org. 600 IN CAA 0 issue \"letsencrypt.org\"\n"
		"groups.my-name.org. 300 IN CNAME my-name.org.\n"
		"_xmpps-server._tcp.my-name.org. 600 IN SRV 1 1 5270 my-name.org.\n");
	free(text);
}

struct pcase {
	const char *domain;
	struct zg_kv kv[3];
	size_t n;
	int ret;
	const char *why;
};

static void test_bad_params(void **state)
{
	static const struct pcase cases[] = {
		{ "my-name.org", { { "token", "x" } }, 1, ZG_EPARAM, "needs parameter 'v4'" },
		{ "my-name.org", { { "v4", "192.0.2.1" } }, 1, ZG_EPARAM, "needs parameter 'token'" },
		{ "my-name.org", { { "v4", "192.0.2.1" }, { "token", "x" }, { "nope", "1" } }, 3,
		  ZG_EPARAM, "no parameter 'nope'" },
		{ "my-name.org", { { "v4", "1.2.3" }, { "token", "x" } }, 2, ZG_EPARAM, "IPv4" },
		{ "my-name.org", { { "v4", "192.0.2.1" }, { "token", "a\"b" } }, 2, ZG_EPARAM, "'\"'" },
		{ "my-name.org", { { "v4", "192.0.2.1" }, { "token", "a;b" } }, 2, ZG_EPARAM, "';'" },
		{ "my-name.org", { { "v4", "192.0.2.1" }, { "token", "a\nb" } }, 2, ZG_EPARAM, "0x0a" },
		{ "my-name.org", { { "v4", "192.0.2.1" }, { "v4", "192.0.2.2" } }, 2, ZG_EPARAM,
		  "twice" },
		{ "my-name.org", { { "v6", "192.0.2.1" }, { "v4", "192.0.2.1" }, { "token", "x" } }, 3,
		  ZG_EPARAM, "IPv6" },
		{ "bad domain.org", { { "v4", "192.0.2.1" }, { "token", "x" } }, 2, ZG_EDNAME, "space" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zg_rr rrs[ZG_MAX_RECORDS];
		char err[256] = "";
		size_t n = 99;
		int ret = zg_expand(&all, cases[i].domain, cases[i].kv, cases[i].n, rrs, &n,
		                    err, sizeof(err));

		if (ret != cases[i].ret || strstr(err, cases[i].why) == NULL || n != 0)
			fail_msg("case %zu: got %d '%s' n=%zu, want %d '%s'", i, ret, err, n,
			         cases[i].ret, cases[i].why);
	}
}

static void test_hostile_target(void **state)
{
	static const char *const bad[] = {
		"evil.example;rm", "evil.example.\nwww 60 IN A 1.2.3.4", "a b.example",
		"*.example.net", "(x).example", "\"q\".example", "single",
	};
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct zg_kv kv[] = { { "target", bad[i] } };

		assert_int_equal(zg_expand(&article, "example.org", kv, 1, rrs, &n, err,
		                           sizeof(err)), ZG_EPARAM);
		assert_int_equal(n, 0);
	}
}

static void test_domain_is_target(void **state)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "";
	size_t n;

	(void)state;
	assert_int_equal(zg_expand(&article, "XMPP-Hosting.example.net", NULL, 0, rrs, &n,
	                           err, sizeof(err)), ZG_EDNAME);
	assert_non_null(strstr(err, "hosting target"));
	/* a CNAME onto its own owner */
	{
		const struct zg_kv kv[] = { { "target", "conference.example.org" } };

		assert_int_equal(zg_expand(&article, "example.org", kv, 1, rrs, &n, err,
		                           sizeof(err)), ZG_EDNAME);
		assert_non_null(strstr(err, "itself"));
	}
}

static void test_template_checks(void **state)
{
	static const struct {
		struct zg_rtmpl r;
		const char *why;
	} bad[] = {
		{ { .owner = S("_xmppconnect"), .type = ZG_RR_TXT, .text = S("x") }, "_xmppconnect" },
		{ { .owner = S("_XMPPconnect.sub"), .type = ZG_RR_TXT, .text = S("x") }, "_xmppconnect" },
		{ { .owner = S("conf"), .type = ZG_RR_CNAME }, "needs 'target'" },
		{ { .owner = S("conf"), .type = ZG_RR_CNAME, .target = S("a.example"),
		    .address = S("1.2.3.4") }, "'address' does not apply" },
		{ { .owner = S("conf"), .type = ZG_RR_CNAME, .target = S("{nope}") }, "unknown parameter" },
		{ { .owner = S("conf"), .type = ZG_RR_CNAME, .target = S("{target") }, "unterminated" },
		{ { .owner = S("conf"), .type = ZG_RR_CNAME, .target = S("x}.example") }, "unmatched" },
		{ { .owner = S("a..b"), .type = ZG_RR_A, .address = S("1.2.3.4") }, "empty label" },
		{ { .owner = S("a b"), .type = ZG_RR_A, .address = S("1.2.3.4") }, "invalid character" },
		{ { .owner = S(""), .type = ZG_RR_A, .address = S("1.2.3.4") }, "empty owner" },
		{ { .owner = S("@"), .type = ZG_RR_A, .address = S("1.2.3.400") }, "IPv4" },
		{ { .owner = S("@"), .type = ZG_RR_AAAA, .address = S("1.2.3.4") }, "IPv6" },
		/* TXT text escapes '\\' now (test_zonegen_mail.c); a CAA value does not */
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"), .text = S("a\\b") },
		  "'\\'" },
		/* ';' starts RFC 8657 parameters (test_caa.c), which must be well formed */
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"), .text = S("ca; x") },
		  "without '='" },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"), .text = S("c a") },
		  "after the issuer" },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("is sue"), .text = S("x") }, "CAA tag" },
		{ { .owner = S("@"), .type = ZG_RR_CAA, .tag = S("issue"), .text = S("x"), .flags = 3 },
		  "flags" },
		{ { .owner = S("@"), .type = ZG_RR_MX, .target = S("mx;example.net") }, "';'" },
		{ { .owner = S("@"), .type = ZG_RR_A, .address = S("1.2.3.4"), .ttl = 5 }, "ttl" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[256] = "";

		if (zg_rtmpl_check(&article, &bad[i].r, err, sizeof(err)) == 0 ||
		    strstr(err, bad[i].why) == NULL)
			fail_msg("case %zu: '%s', want '%s'", i, err, bad[i].why);
	}
}

static void test_profile_checks(void **state)
{
	struct zg_rtmpl beside[] = {
		{ .owner = S("conference"), .type = ZG_RR_CNAME, .target = S("a.example") },
		{ .owner = S("Conference"), .type = ZG_RR_TXT, .text = S("x") },
	};
	struct zg_rtmpl ttls[] = {
		{ .owner = S("@"), .type = ZG_RR_A, .address = S("192.0.2.1"), .ttl = 60 },
		{ .owner = S("@"), .type = ZG_RR_A, .address = S("192.0.2.2"), .ttl = 120 },
	};
	struct zg_rtmpl apex[] = { { .owner = S("@"), .type = ZG_RR_CNAME, .target = S("a.ex") } };
	char *dup_certs[] = { S("@"), S("conf"), S("CONF") };
	char *hyphen_certs[] = { S("-h"), S("h-"), S("a.-b"), S("a-.b"), S("-") };
	char *hyphen_ok = S("a-b.c-d");
	struct zg_profile p = { .name = S("p"), .service = S("xmpp"), .ttl = 60 };
	char err[256];

	(void)state;
	p.records = beside;
	p.n_records = 2;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "beside other data"));
	p.records = ttls;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "different TTLs"));
	p.records = apex;
	p.n_records = 1;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "apex"));
	p.records = ttls;
	p.cert_names = dup_certs;
	p.n_cert_names = 3;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "twice"));
	/* a label starting or ending with '-' is no host name (found by
	 * tests/fuzz/fuzz_profile: --check passed, every order then failed) */
	for (size_t i = 0; i < sizeof(hyphen_certs) / sizeof(hyphen_certs[0]); i++) {
		p.records = ttls;
		p.n_records = 1;
		p.cert_names = &hyphen_certs[i];
		p.n_cert_names = 1;
		assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
		assert_non_null(strstr(err, "is not a host name"));
	}
	p.cert_names = &hyphen_ok;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), 0);
	p.records = ttls;
	p.n_records = 0;
	p.n_cert_names = 0;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "no records"));
}

static void test_cert_names(void **state)
{
	char names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	size_t n;

	(void)state;
	assert_int_equal(zg_cert_names(&article, "example.org", names, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "example.org");
	assert_string_equal(names[1], "conference.example.org");
	assert_string_equal(names[3], "share.example.org");
}

static void test_too_long(void **state)
{
	char domain[ZG_OWNER_SIZE];
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "";
	size_t n;

	(void)state;
	/* a valid 250-character domain leaves no room for "_xmpp-client._tcp." */
	memset(domain, 'a', 250);
	for (int i = 60; i < 250; i += 61)
		domain[i] = '.';
	domain[250] = '\0';
	assert_int_equal(zg_dname_check(domain, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(zg_expand(&article, domain, NULL, 0, rrs, &n, err, sizeof(err)),
	                 ZG_EDNAME);
	if (strstr(err, "too long") == NULL)
		fail_msg("%s", err);
}

/* The rendered records after an SOA and NS must pass Knot's own checker. */
static void test_kzonecheck(void **state)
{
	const struct zg_kv kv[] = { { "v4", "192.0.2.10" }, { "token", "tok" } };
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char path[] = "/tmp/rz-zonegen-XXXXXX", cmd[512], err[256];
	const char *origins[] = { "example.test", "my-name.org" };
	const struct zg_profile *profiles[] = { &article, &all };
	size_t n;

	(void)state;
	for (int k = 0; k < 2; k++) {
		int fd = mkstemp(path);
		FILE *f;

		assert_true(fd >= 0);
		f = fdopen(fd, "w");
		assert_non_null(f);
		fprintf(f, "%s. 3600 IN SOA ns1.%s. hostmaster.%s. 1 3600 900 604800 300\n"
		        "%s. 3600 IN NS ns1.%s.\nns1.%s. 3600 IN A 192.0.2.53\n",
		        origins[k], origins[k], origins[k], origins[k], origins[k], origins[k]);
		assert_int_equal(zg_expand(profiles[k], origins[k], kv, k == 0 ? 0 : 2, rrs, &n,
		                           err, sizeof(err)), 0);
		assert_int_equal(zg_render(rrs, n, f), 0);
		assert_int_equal(fclose(f), 0);
		snprintf(cmd, sizeof(cmd), "kzonecheck -o %s %s", origins[k], path);
		assert_int_equal(system(cmd), 0);
		unlink(path);
		strcpy(path, "/tmp/rz-zonegen-XXXXXX");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_article_records),
		cmocka_unit_test(test_params_override),
		cmocka_unit_test(test_params_id),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_hostile_target),
		cmocka_unit_test(test_domain_is_target),
		cmocka_unit_test(test_template_checks),
		cmocka_unit_test(test_profile_checks),
		cmocka_unit_test(test_cert_names),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_kzonecheck),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
