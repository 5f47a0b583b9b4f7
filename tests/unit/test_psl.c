/*
 * zonegen/psl: the A-label encoder, the reader (good and malformed text,
 * table-driven, and the files of tests/data/psl/), the registered domain
 * against regzone's own sample list, and a few facts of the real list when
 * Debian's publicsuffix package is installed (load time printed).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "zonegen/psl.h"
#include "zonegen/zg_err.h"

#define L63 "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"
#define L64 L63 "4"
#define U60 "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc" \
            "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc"
/* 253 bytes: 3 x 63 + 61 and three dots */
#define N253 L63 "." L63 "." L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija"

static void data_path(const char *name, char *buf, size_t len)
{
	const char *src = getenv("RZ_SRCDIR");

	snprintf(buf, len, "%s/tests/data/psl/%s", src != NULL ? src : ".", name);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* ------------------------------------------------------------ A-labels */

static void test_alabel(void **state)
{
	static const struct { const char *in; int rc; const char *want; } cases[] = {
		{ "com", 3, "com" },
		{ "CoM", 3, "com" },
		{ "a-1", 3, "a-1" },
		{ "xn--p1ai", 8, "xn--p1ai" },                   /* already an A-label */
		{ "\xd1\x80\xd1\x84", 8, "xn--p1ai" },           /* рф */
		{ "\xe5\x85\xac\xe5\x8f\xb8", 10, "xn--55qx5d" },  /* 公司 */
		{ "\xce\xb5\xce\xbb", 8, "xn--qxam" },           /* ελ */
		{ "b\xc3\xbc" "cher", 13, "xn--bcher-kva" },     /* bücher: basic + delimiter */
		{ "B\xc3\xbc" "CHER", 13, "xn--bcher-kva" },     /* ASCII part lowercased */
		{ "m\xc3\xbcnchen", 14, "xn--mnchen-3ya" },
		{ "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 14, "xn--wgv71a119e" },  /* 日本語 */
		{ "\xf0\x9f\x98\x80", 8, "xn--e28h" },          /* 😀: four bytes */
		{ L63, 63, L63 },
		/* 20 x ü: fits */
		{ U60, 26, "xn--tdaaaaaaaaaaaaaaaaaaaa" },
		/* refused */
		{ "", ZG_ESYNTAX, NULL },
		{ L64, ZG_ETOOLONG, NULL },
		{ U60 U60 U60, ZG_ETOOLONG, NULL },              /* 60 x ü: 66 as an A-label */
		{ "-a", ZG_ESYNTAX, NULL },
		{ "a-", ZG_ESYNTAX, NULL },
		{ "-\xc3\xbc", ZG_ESYNTAX, NULL },
		{ "a_b", ZG_ESYNTAX, NULL },
		{ "a b", ZG_ESYNTAX, NULL },
		{ "a.b", ZG_ESYNTAX, NULL },
		{ "*", ZG_ESYNTAX, NULL },
		{ "\xc3", ZG_ESYNTAX, NULL },                    /* truncated */
		{ "\xc3\x28", ZG_ESYNTAX, NULL },                /* bad continuation */
		{ "\xc0\xaf", ZG_ESYNTAX, NULL },                /* overlong '/' */
		{ "\xe0\x80\xaf", ZG_ESYNTAX, NULL },            /* overlong, three bytes */
		{ "\xed\xa0\x80", ZG_ESYNTAX, NULL },            /* a surrogate */
		{ "\xf4\x90\x80\x80", ZG_ESYNTAX, NULL },        /* past U+10FFFF */
		{ "\xf8\x88\x80\x80\x80", ZG_ESYNTAX, NULL },    /* five bytes */
		{ "\x80", ZG_ESYNTAX, NULL },                    /* lone continuation */
		{ "\xc2\x85", ZG_ESYNTAX, NULL },                /* U+0085, a C1 control */
		{ "\xef\xbb\xbf" "a", 10, "xn--a-6m0i" },         /* U+FEFF is no control */
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = zg_psl_alabel(cases[i].in, strlen(cases[i].in), out, sizeof(out));

		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d", i, rc, cases[i].rc);
		if (rc >= 0)
			assert_string_equal(out, cases[i].want);
	}
	/* len, not the NUL, ends the label */
	assert_int_equal(zg_psl_alabel("com.uk", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "com");
	assert_int_equal(zg_psl_alabel("a\0b", 3, out, sizeof(out)), ZG_ESYNTAX);
	/* out too small, exactly enough */
	assert_int_equal(zg_psl_alabel("\xd1\x80\xd1\x84", 4, out, 8), ZG_ETOOLONG);
	assert_int_equal(zg_psl_alabel("\xd1\x80\xd1\x84", 4, out, 9), 8);
	assert_int_equal(zg_psl_alabel("com", 3, out, 3), ZG_ETOOLONG);
	assert_int_equal(zg_psl_alabel(NULL, 3, out, sizeof(out)), ZG_EINVAL);
	assert_int_equal(zg_psl_alabel("com", 3, NULL, 4), ZG_EINVAL);
}

/* ------------------------------------------------------------ reader */

static void test_parse_rows(void **state)
{
	static const struct {
		const char *text;
		size_t len;        /* 0: strlen(text) */
		int rc;
		size_t rules;      /* when rc == 0 */
		const char *why;   /* substring of err when rc != 0 */
	} cases[] = {
		{ "com\n", 0, 0, 1, NULL },
		{ "com", 0, 0, 1, NULL },                        /* no final LF */
		{ "com\r\nnet\r\n", 0, 0, 2, NULL },
		{ "\xef\xbb\xbf" "com\n", 0, 0, 1, NULL },       /* BOM */
		{ "  \tcom\n", 0, 0, 1, NULL },
		{ "com // after white space: ignored\n", 0, 0, 1, NULL },
		{ "com\tanything\n", 0, 0, 1, NULL },
		{ "// c\n\n   \ncom\n// c\n", 0, 0, 1, NULL },
		{ "*\n", 0, 0, 1, NULL },                        /* the implicit rule */
		{ "*.ck\n!www.ck\n", 0, 0, 2, NULL },
		{ "com\ncom\n", 0, 0, 2, NULL },                 /* duplicates counted */
		{ "\xe5\x85\xac\xe5\x8f\xb8.cn\n", 0, 0, 1, NULL },
		{ N253 "\n", 0, 0, 1, NULL },
		/* no rules */
		{ "", 0, ZG_ESYNTAX, 0, "t: no rules" },
		{ "\n\n", 0, ZG_ESYNTAX, 0, "no rules" },
		{ "// only a comment\n", 0, ZG_ESYNTAX, 0, "no rules" },
		{ "\xef\xbb\xbf", 0, ZG_ESYNTAX, 0, "no rules" },
		/* malformed rules, with their line */
		{ "com\n*.*.jp\n", 0, ZG_ESYNTAX, 0, "t:2: rule '*.*.jp': '*'" },
		{ "a*.jp\n", 0, ZG_ESYNTAX, 0, "t:1:" },
		{ "jp.*\n", 0, ZG_ESYNTAX, 0, "'*'" },
		{ "*jp\n", 0, ZG_ESYNTAX, 0, "'*'" },
		{ "**\n", 0, ZG_ESYNTAX, 0, "'*'" },
		{ "*.\n", 0, ZG_ESYNTAX, 0, "empty label" },
		{ "!jp\n", 0, ZG_ESYNTAX, 0, "at least two labels" },
		{ "!\n", 0, ZG_ESYNTAX, 0, "empty label" },
		{ "!!a.jp\n", 0, ZG_ESYNTAX, 0, "'!'" },
		{ "!*.a.jp\n", 0, ZG_ESYNTAX, 0, "'*'" },
		{ "a.!b.jp\n", 0, ZG_ESYNTAX, 0, "'!'" },
		{ ".com\n", 0, ZG_ESYNTAX, 0, "empty label" },
		{ "com.\n", 0, ZG_ESYNTAX, 0, "empty label" },
		{ "a..com\n", 0, ZG_ESYNTAX, 0, "empty label" },
		{ "-a.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "a-.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "a_b.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "/com\n", 0, ZG_ESYNTAX, 0, "invalid label" },  /* one slash is no comment */
		{ "a;b\n", 0, ZG_ESYNTAX, 0, "rule 'a;b'" },
		{ "\xff.com\n", 0, ZG_ESYNTAX, 0, "t:1: invalid label" },   /* not echoed */
		{ "\xc0\xaf.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "\xed\xa0\x80.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "\xc2\x85.com\n", 0, ZG_ESYNTAX, 0, "invalid label" },
		{ "a\x01" "b.com\n", 0, ZG_ESYNTAX, 0, "t:1: invalid label" },  /* not echoed */
		{ "com\nn\0et\n", 9, ZG_ESYNTAX, 0, "t:2: NUL byte" },
		{ L64 ".com\n", 0, ZG_ETOOLONG, 0, "longer than 63" },
		{ U60 U60 U60 ".com\n", 0, ZG_ETOOLONG, 0, "longer than 63" },
		{ N253 "a\n", 0, ZG_ETOOLONG, 0, "longer than 253" },
		{ "a." N253 "\n", 0, ZG_ETOOLONG, 0, "longer than 253" },
	};
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zg_psl *p = (struct zg_psl *)&err;
		size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
		int rc;

		err[0] = '\0';
		rc = zg_psl_parse(cases[i].text, len, "t", &p, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d, want %d (%s)", i, rc, cases[i].rc, err);
		if (rc == 0) {
			assert_non_null(p);
			assert_int_equal(zg_psl_rule_count(p), cases[i].rules);
		} else {
			assert_null(p);
			if (strstr(err, cases[i].why) == NULL)
				fail_msg("case %zu: error \"%s\" lacks \"%s\"", i, err, cases[i].why);
		}
		zg_psl_free(p);
	}
}

/* Lines: 255 bytes is the most, CR of a CRLF not counted, comments too. */
static void test_parse_line_length(void **state)
{
	char text[600], err[256];
	struct zg_psl *p = NULL;

	(void)state;
	memset(text, 0, sizeof(text));
	memcpy(text, "com\n//", 6);
	memset(text + 6, 'x', 253);                  /* line 2: 255 bytes */
	memcpy(text + 259, "\r\nnet\n", 6);
	assert_int_equal(zg_psl_parse(text, strlen(text), "t", &p, err, sizeof(err)), 0);
	assert_int_equal(zg_psl_rule_count(p), 2);
	zg_psl_free(p);
	p = NULL;
	text[259] = 'x';                             /* 256 bytes and LF */
	assert_int_equal(zg_psl_parse(text, strlen(text), "t", &p, err, sizeof(err)), ZG_ETOOLONG);
	assert_null(p);
	assert_non_null(strstr(err, "t:2: line longer than 255 bytes"));
	/* the last line, without LF, too */
	memset(text, 'a', 300);
	text[300] = '\0';
	assert_int_equal(zg_psl_parse(text, 300, "t", &p, err, sizeof(err)), ZG_ETOOLONG);
	assert_non_null(strstr(err, "t:1:"));
	/* arguments and size */
	assert_int_equal(zg_psl_parse(NULL, 0, "t", &p, err, sizeof(err)), ZG_ESYNTAX);
	assert_int_equal(zg_psl_parse(NULL, 1, "t", &p, err, sizeof(err)), ZG_EINVAL);
	assert_int_equal(zg_psl_parse("com", 3, "t", NULL, err, sizeof(err)), ZG_EINVAL);
	assert_int_equal(zg_psl_parse("com", 3, NULL, &p, NULL, 0), 0);   /* no err, no what */
	zg_psl_free(p);
	p = NULL;
	assert_int_equal(zg_psl_parse("com", 3, NULL, &p, err, sizeof(err)), 0);
	zg_psl_free(p);
	p = NULL;
	assert_int_equal(zg_psl_parse("x", (size_t)ZG_PSL_MAX_BYTES + 1, "t", &p, err, sizeof(err)),
	                 ZG_ETOOLONG);
	assert_int_equal(zg_psl_parse("!x", 2, NULL, &p, err, sizeof(err)), ZG_ESYNTAX);
	assert_non_null(strstr(err, "psl:1:"));
	zg_psl_free(NULL);
	assert_int_equal(zg_psl_rule_count(NULL), 0);
}

static void test_load_files(void **state)
{
	static const struct { const char *file; int rc; const char *why; } cases[] = {
		{ "sample.dat", 0, NULL },
		{ "no-rules.dat", ZG_ESYNTAX, "no-rules.dat: no rules" },
		{ "bad-wildcard.dat", ZG_ESYNTAX, "bad-wildcard.dat:3: rule 'foo.*.jp'" },
		{ "long-line.dat", ZG_ETOOLONG, "long-line.dat:2: line longer than 255 bytes" },
		{ "bad-utf8.dat", ZG_ESYNTAX, "bad-utf8.dat:3:" },
		{ "bad-exception.dat", ZG_ESYNTAX, "bad-exception.dat:2: rule '!jp'" },
		{ "missing.dat", ZG_ENOENT, "missing.dat: " },
		{ ".", ZG_EIO, "not a regular file" },
	};
	char path[1024], err[1200];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct zg_psl *p = (struct zg_psl *)&err;
		int rc;

		data_path(cases[i].file, path, sizeof(path));
		err[0] = '\0';
		rc = zg_psl_load(path, &p, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("%s: rc %d, want %d (%s)", cases[i].file, rc, cases[i].rc, err);
		if (rc == 0) {
			assert_non_null(p);
			assert_int_equal(zg_psl_rule_count(p), 22);
		} else {
			assert_null(p);
			if (strstr(err, cases[i].why) == NULL)
				fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].file, err, cases[i].why);
		}
		zg_psl_free(p);
	}
	assert_int_equal(zg_psl_load(NULL, NULL, err, sizeof(err)), ZG_EINVAL);
	assert_int_equal(zg_psl_load(path, NULL, err, sizeof(err)), ZG_EINVAL);
}

/* A file larger than ZG_PSL_MAX_BYTES (sparse) is refused before reading. */
static void test_load_too_large(void **state)
{
	char path[] = "/tmp/test_psl.XXXXXX", err[256];
	struct zg_psl *p = NULL;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "com\n", 4), 4);
	assert_int_equal(ftruncate(fd, (off_t)ZG_PSL_MAX_BYTES + 1), 0);
	close(fd);
	assert_int_equal(zg_psl_load(path, &p, err, sizeof(err)), ZG_ETOOLONG);
	assert_null(p);
	assert_non_null(strstr(err, "larger than"));
	/* exactly the limit is read, and then refused for its 4 MiB line of NULs */
	assert_int_equal(truncate(path, (off_t)ZG_PSL_MAX_BYTES), 0);
	assert_int_equal(zg_psl_load(path, &p, err, sizeof(err)), ZG_ETOOLONG);
	assert_non_null(strstr(err, ":2: line longer than"));
	unlink(path);
}

/* ------------------------------------------------------------ lookups */

struct lcase {
	const char *name;
	int rc;
	const char *want;
};

static void run_lookups(const struct zg_psl *p, const struct lcase *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char out[ZG_PSL_NAME_SIZE];
		int rc;

		memset(out, 'x', sizeof(out));
		rc = zg_psl_registered_domain(p, cases[i].name, out, sizeof(out));
		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].name, rc, cases[i].rc);
		if (rc == 0 && strcmp(out, cases[i].want) != 0)
			fail_msg("\"%s\": \"%s\", want \"%s\"", cases[i].name, out, cases[i].want);
		if (rc != 0)
			assert_string_equal(out, "");
	}
}

static const struct lcase sample_cases[] = {
	/* plain rules */
	{ "example.com", 0, "example.com" },
	{ "www.example.com", 0, "example.com" },
	{ "a.b.c.example.com", 0, "example.com" },
	{ "com", ZG_ENOENT, NULL },
	{ "example.co.uk", 0, "example.co.uk" },
	{ "a.b.example.co.uk", 0, "example.co.uk" },
	{ "co.uk", ZG_ENOENT, NULL },
	{ "uk", ZG_ENOENT, NULL },
	{ "example.uk", 0, "example.uk" },
	{ "x.ox.ac.uk", 0, "ox.ac.uk" },
	{ "x.y.edu", 0, "y.edu" },                       /* rule written "EDU" */
	/* the implicit "*": unlisted TLDs */
	{ "example", ZG_ENOENT, NULL },
	{ "a.b.unlisted", 0, "b.unlisted" },
	{ "b.unlisted", 0, "b.unlisted" },
	/* a rule whose parent is no rule: the parent is a suffix by "*" only */
	{ "gov.example", ZG_ENOENT, NULL },
	{ "foo.gov.example", 0, "foo.gov.example" },
	{ "a.foo.gov.example", 0, "foo.gov.example" },
	{ "other.example", 0, "other.example" },
	{ "a.other.example", 0, "other.example" },
	/* a wildcard TLD */
	{ "kw", ZG_ENOENT, NULL },
	{ "com.kw", ZG_ENOENT, NULL },
	{ "example.com.kw", 0, "example.com.kw" },
	{ "www.example.com.kw", 0, "example.com.kw" },
	/* a wildcard with exceptions */
	{ "nagano.test", 0, "nagano.test" },             /* "*.x" does not match x */
	{ "foo.nagano.test", ZG_ENOENT, NULL },
	{ "bar.foo.nagano.test", 0, "bar.foo.nagano.test" },
	{ "a.bar.foo.nagano.test", 0, "bar.foo.nagano.test" },
	{ "city.nagano.test", 0, "city.nagano.test" },
	{ "www.city.nagano.test", 0, "city.nagano.test" },
	{ "a.b.www.nagano.test", 0, "www.nagano.test" },
	{ "other.test", 0, "other.test" },
	/* IDN rules, matched by their A-labels */
	{ "xn--55qx5d.cn", ZG_ENOENT, NULL },            /* 公司.cn */
	{ "example.xn--55qx5d.cn", 0, "example.xn--55qx5d.cn" },
	{ "www.example.xn--55qx5d.cn", 0, "example.xn--55qx5d.cn" },
	{ "www.example.cn", 0, "example.cn" },
	{ "xn--p1ai", ZG_ENOENT, NULL },                 /* рф */
	{ "xn--d1acufc.xn--p1ai", 0, "xn--d1acufc.xn--p1ai" },
	{ "a.xn--d1acufc.xn--p1ai", 0, "xn--d1acufc.xn--p1ai" },
	{ "a.b.xn--qxam", 0, "b.xn--qxam" },             /* ελ */
	{ "xn--bcher-kva.test", ZG_ENOENT, NULL },       /* bücher.test */
	{ "shop.xn--bcher-kva.test", 0, "shop.xn--bcher-kva.test" },
	/* rules after white space and in a CRLF line */
	{ "a.b.info", 0, "b.info" },
	{ "info", ZG_ENOENT, NULL },
	{ "a.b.net", 0, "b.net" },
	/* the private section counts */
	{ "github.io", ZG_ENOENT, NULL },
	{ "user.github.io", 0, "user.github.io" },
	{ "www.user.github.io", 0, "user.github.io" },
	{ "x.io", 0, "x.io" },
	{ "y.compute.cloud.test", ZG_ENOENT, NULL },
	{ "x.y.compute.cloud.test", 0, "x.y.compute.cloud.test" },
	{ "compute.cloud.test", 0, "cloud.test" },       /* no rule: "*" */
	{ "blog.blogspot.co.uk", 0, "blog.blogspot.co.uk" },
	{ "blogspot.co.uk", ZG_ENOENT, NULL },
	/* spelling: one trailing dot, ASCII case */
	{ "www.example.com.", 0, "example.com" },
	{ "com.", ZG_ENOENT, NULL },
	{ "WWW.Example.CO.UK", 0, "example.co.uk" },
	{ "XN--55QX5D.CN", ZG_ENOENT, NULL },
	{ "1.2.3.4", 0, "3.4" },                         /* digits are LDH */
	{ L63 ".com", 0, L63 ".com" },
	{ N253, 0, L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija" },
	{ N253 ".", 0, L63 ".abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija" },
	/* not host names */
	{ "", ZG_EDNAME, NULL },
	{ ".", ZG_EDNAME, NULL },
	{ "..", ZG_EDNAME, NULL },
	{ "example.com..", ZG_EDNAME, NULL },
	{ ".example.com", ZG_EDNAME, NULL },
	{ "a..example.com", ZG_EDNAME, NULL },
	{ "-a.example.com", ZG_EDNAME, NULL },
	{ "a-.example.com", ZG_EDNAME, NULL },
	{ "a_b.example.com", ZG_EDNAME, NULL },
	{ "*.example.com", ZG_EDNAME, NULL },
	{ "exa mple.com", ZG_EDNAME, NULL },
	{ "example.com ", ZG_EDNAME, NULL },
	{ "example.com\n", ZG_EDNAME, NULL },
	{ "caf\xc3\xa9.com", ZG_EDNAME, NULL },          /* U-labels: give the A-label */
	{ "\xe5\x85\xac\xe5\x8f\xb8.cn", ZG_EDNAME, NULL },
	{ L64 ".com", ZG_EDNAME, NULL },
	{ "a." N253, ZG_EDNAME, NULL },
	{ N253 "..", ZG_EDNAME, NULL },
};

static void test_sample_lookups(void **state)
{
	struct zg_psl *p = NULL;
	char path[1024], err[1200], out[ZG_PSL_NAME_SIZE];

	(void)state;
	data_path("sample.dat", path, sizeof(path));
	assert_int_equal(zg_psl_load(path, &p, err, sizeof(err)), 0);
	run_lookups(p, sample_cases, sizeof(sample_cases) / sizeof(sample_cases[0]));

	/* out: the exact size, one byte short, tiny */
	assert_int_equal(zg_psl_registered_domain(p, "a.example.com", out, 12), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(zg_psl_registered_domain(p, "a.example.com", out, 11), ZG_ETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(zg_psl_registered_domain(p, "a.example.com", out, 1), ZG_ETOOLONG);
	assert_int_equal(zg_psl_registered_domain(p, "com", out, 1), ZG_ENOENT);
	/* arguments */
	assert_int_equal(zg_psl_registered_domain(NULL, "example.com", out, sizeof(out)), ZG_EINVAL);
	assert_int_equal(zg_psl_registered_domain(p, NULL, out, sizeof(out)), ZG_EINVAL);
	assert_int_equal(zg_psl_registered_domain(p, "example.com", NULL, 12), ZG_EINVAL);
	assert_int_equal(zg_psl_registered_domain(p, "example.com", out, 0), ZG_EINVAL);
	zg_psl_free(p);
}

/* The same list given through zg_psl_parse() gives the same answers. */
static void test_parse_equals_load(void **state)
{
	static const char text[] =
		"com\nuk\nco.uk\nac.uk\nedu\ngov.example\n*.kw\n*.nagano.test\n!city.nagano.test\n"
		"!www.nagano.test\ncn\nxn--55qx5d.cn\nxn--p1ai\nxn--qxam\nxn--bcher-kva.test\n"
		"info\nnet\ngithub.io\n*.compute.cloud.test\nblogspot.co.uk\n";
	struct zg_psl *p = NULL;
	char err[256];

	(void)state;
	assert_int_equal(zg_psl_parse(text, strlen(text), "inline", &p, err, sizeof(err)), 0);
	run_lookups(p, sample_cases, sizeof(sample_cases) / sizeof(sample_cases[0]));
	zg_psl_free(p);
}

/* ------------------------------------------------------------ the real list */

static void test_real_list(void **state)
{
	static const struct lcase real_cases[] = {
		{ "a.b.example.co.uk", 0, "example.co.uk" },
		{ "example.co.uk", 0, "example.co.uk" },
		{ "co.uk", ZG_ENOENT, NULL },
		{ "www.example.com", 0, "example.com" },
		{ "example.org", 0, "example.org" },
		/* the private section */
		{ "github.io", ZG_ENOENT, NULL },
		{ "someone.github.io", 0, "someone.github.io" },
		{ "www.someone.github.io", 0, "someone.github.io" },
		/* a wildcard TLD with an exception */
		{ "ck", ZG_ENOENT, NULL },
		{ "anything.ck", ZG_ENOENT, NULL },
		{ "example.anything.ck", 0, "example.anything.ck" },
		{ "www.ck", 0, "www.ck" },
		{ "a.www.ck", 0, "www.ck" },
		/* wildcard and exception below a second level */
		{ "a.b.kawasaki.jp", 0, "a.b.kawasaki.jp" },
		{ "b.kawasaki.jp", ZG_ENOENT, NULL },
		{ "www.city.kawasaki.jp", 0, "city.kawasaki.jp" },
		/* U-label rules, by their A-labels */
		{ "xn--55qx5d.cn", ZG_ENOENT, NULL },            /* 公司.cn */
		{ "shop.xn--55qx5d.cn", 0, "shop.xn--55qx5d.cn" },
		{ "xn--p1ai", ZG_ENOENT, NULL },                 /* рф */
		{ "www.xn--d1acufc.xn--p1ai", 0, "xn--d1acufc.xn--p1ai" },
		/* an unlisted TLD: "*" */
		{ "a.b.example", 0, "b.example" },
		{ "example", ZG_ENOENT, NULL },
	};
	struct zg_psl *p = NULL;
	char err[512], out[ZG_PSL_NAME_SIZE];
	double t0, t1, best = 1e9;
	int rc;

	(void)state;
	if (access(ZG_PSL_DEFAULT_PATH, R_OK) != 0) {
		print_message("    %s not installed: skipped\n", ZG_PSL_DEFAULT_PATH);
		skip();
	}
	for (int i = 0; i < 5; i++) {
		t0 = now_ms();
		rc = zg_psl_load(ZG_PSL_DEFAULT_PATH, &p, err, sizeof(err));
		t1 = now_ms();
		if (rc != 0)
			fail_msg("%s: %s", ZG_PSL_DEFAULT_PATH, err);
		if (t1 - t0 < best)
			best = t1 - t0;
		if (i < 4) {
			zg_psl_free(p);
			p = NULL;
		}
	}
	assert_true(zg_psl_rule_count(p) > 5000);
	run_lookups(p, real_cases, sizeof(real_cases) / sizeof(real_cases[0]));
	t0 = now_ms();
	for (int i = 0; i < 200000; i++)
		assert_int_equal(zg_psl_registered_domain(p, "upload.a.b.example.co.uk", out,
		                                          sizeof(out)), 0);
	t1 = now_ms();
	print_message("    %zu rules, load %.2f ms (best of 5), lookup %.0f ns\n",
	              zg_psl_rule_count(p), best, (t1 - t0) * 1e6 / 200000);
	zg_psl_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alabel),
		cmocka_unit_test(test_parse_rows),
		cmocka_unit_test(test_parse_line_length),
		cmocka_unit_test(test_load_files),
		cmocka_unit_test(test_load_too_large),
		cmocka_unit_test(test_sample_lookups),
		cmocka_unit_test(test_parse_equals_load),
		cmocka_unit_test(test_real_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
