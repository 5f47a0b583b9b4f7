/* Table-driven test of zg_dname_check(): what a customer may ask for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"
#define L64 L63 "4"

struct dcase {
	const char *in;
	int ret;
	const char *norm;    /* expected normal form when ret == 0 */
	const char *why;     /* substring of the error when ret != 0 */
};

static const struct dcase cases[] = {
	/* good */
	{ "example.org", 0, "example.org", NULL },
	{ "Example.ORG", 0, "example.org", NULL },
	{ "example.org.", 0, "example.org", NULL },
	{ "my-name.org", 0, "my-name.org", NULL },
	{ "a.b.c.d.example.co.uk", 0, "a.b.c.d.example.co.uk", NULL },
	{ "x.test", 0, "x.test", NULL },
	{ "123.example", 0, "123.example", NULL },
	{ "1-2.example", 0, "1-2.example", NULL },
	{ "xn--bcher-kva.example", 0, "xn--bcher-kva.example", NULL },        /* bücher */
	{ "XN--BCHER-KVA.example", 0, "xn--bcher-kva.example", NULL },
	{ "xn--mnchen-3ya.de", 0, "xn--mnchen-3ya.de", NULL },                /* münchen */
	{ "example.xn--p1ai", 0, "example.xn--p1ai", NULL },                  /* .рф */
	{ L63 ".example", 0, L63 ".example", NULL },
	{ "z00001.test", 0, "z00001.test", NULL },
	{ "a.io", 0, "a.io", NULL },
	{ "example.test", 0, "example.test", NULL },
	{ "example.org.test", 0, "example.org.test", NULL },
	/* 253 characters exactly: 3 x 63 + 61 + separators */
	{ L63 "." L63 "." L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija", 0,
	  L63 "." L63 "." L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija", NULL },
	/* bad */
	{ "", ZG_EDNAME, NULL, "empty" },
	{ ".", ZG_EDNAME, NULL, "empty label" },
	{ "example..org", ZG_EDNAME, NULL, "empty label" },
	{ ".example.org", ZG_EDNAME, NULL, "empty label" },
	{ "example.org..", ZG_EDNAME, NULL, "empty label" },
	{ "org", ZG_EDNAME, NULL, "two labels" },
	{ "localhost.", ZG_EDNAME, NULL, "two labels" },
	{ "exa mple.org", ZG_EDNAME, NULL, "space" },
	{ " example.org", ZG_EDNAME, NULL, "space" },
	{ "example.org ", ZG_EDNAME, NULL, "space" },
	{ "*.example.org", ZG_EDNAME, NULL, "wildcard" },
	{ "ex\\046ample.org", ZG_EDNAME, NULL, "escape" },
	{ "example.test;rm", ZG_EDNAME, NULL, "invalid character ';'" },
	{ "example.test\nwww", ZG_EDNAME, NULL, "0x0a" },
	{ "example.test\r", ZG_EDNAME, NULL, "0x0d" },
	{ "exa\"mple.test", ZG_EDNAME, NULL, "invalid character '\"'" },
	{ "example.test(", ZG_EDNAME, NULL, "invalid character '('" },
	{ "ex_ample.org", ZG_EDNAME, NULL, "invalid character '_'" },
	{ "_xmpp-client._tcp.example.org", ZG_EDNAME, NULL, "invalid character '_'" },
	{ "b\xc3\xbc" "cher.example", ZG_EDNAME, NULL, "A-label" },           /* U-label */
	{ "-example.org", ZG_EDNAME, NULL, "hyphen" },
	{ "example-.org", ZG_EDNAME, NULL, "hyphen" },
	{ "ab--cd.org", ZG_EDNAME, NULL, "3rd and 4th" },
	{ "xn--.example", ZG_EDNAME, NULL, "hyphen" },
	{ "xn--zz9999999.example", ZG_EDNAME, NULL, "Punycode" },
	{ "xn--a.example", ZG_EDNAME, NULL, "Punycode" },
	{ "xn--abc-.example", ZG_EDNAME, NULL, "hyphen" },
	{ L64 ".example", ZG_EDNAME, NULL, "63" },
	{ "192.168.0.1", ZG_EDNAME, NULL, "all digits" },
	{ "example.123", ZG_EDNAME, NULL, "all digits" },
	{ "example.org/path", ZG_EDNAME, NULL, "'/'" },
	{ "user@example.org", ZG_EDNAME, NULL, "'@'" },
	{ "example.org:5222", ZG_EDNAME, NULL, "':'" },
	{ "example,org", ZG_EDNAME, NULL, "','" },
	/* 254 characters */
	{ L63 "." L63 "." L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijab", ZG_EDNAME,
	  NULL, "longer than 253" },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dcase *c = &cases[i];
		char out[ZG_OWNER_SIZE], err[256] = "";
		int ret = zg_dname_check(c->in, out, sizeof(out), err, sizeof(err));

		if (ret != c->ret || (ret == 0 && strcmp(out, c->norm) != 0) ||
		    (ret != 0 && strstr(err, c->why) == NULL))
			fail_msg("case %zu '%s': got %d '%s' (%s), want %d '%s' (%s)", i, c->in, ret,
			         ret == 0 ? out : "", err, c->ret, c->norm ? c->norm : "",
			         c->why ? c->why : "");
	}
	assert_true(sizeof(cases) / sizeof(cases[0]) >= 40);
}

static void test_ten_kilobytes(void **state)
{
	char big[10 * 1024 + 1], err[256];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[100] = '.';
	assert_int_equal(zg_dname_check(big, NULL, 0, err, sizeof(err)), ZG_EDNAME);
	assert_non_null(strstr(err, "longer than"));
	assert_int_equal(zg_dname_check(NULL, NULL, 0, err, sizeof(err)), ZG_EDNAME);
}

static void test_small_buffer(void **state)
{
	char out[8], err[128];

	(void)state;
	assert_int_equal(zg_dname_check("example.org", out, sizeof(out), err, sizeof(err)),
	                 ZG_EDNAME);
	assert_int_equal(zg_hostname_check("host.example.net.", NULL, 0, NULL, 0), 0);
}

/* The zones that may hold a domain: itself, then parents of two labels
 * or more, never a TLD. */
static void test_zone_candidates(void **state)
{
	static const struct { const char *domain, *want; } zones[] = {
		{ "shop.example.co.uk", "shop.example.co.uk example.co.uk co.uk" },
		{ "example.org", "example.org" },
		{ "org", "" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		char got[256] = "";

		for (const char *c = zg_zone_first(zones[i].domain); c != NULL; c = zg_zone_next(c))
			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", got[0] ? " " : "",
			         c);
		assert_string_equal(got, zones[i].want);
	}
	assert_null(zg_zone_first(NULL));
	assert_null(zg_zone_next(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_ten_kilobytes),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_zone_candidates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
