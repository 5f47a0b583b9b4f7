/*
 * zonegen: the record syntax mail profiles need.  TXT text over 255 bytes
 * cut into character-strings and escaped, SRV and MX target "." (RFC 2782,
 * RFC 6186, RFC 7505), the mail owners (_dmarc, _mta-sts, _smtp._tls,
 * SELECTOR._domainkey, the apex).
 *
 * What is rendered is also read back the way knotd and the checks read it:
 * each record line goes through libzscanner (knotd's zone-set parses the
 * data with it), the wire rdata is compared with what was meant, and that
 * rdata printed by dnswire.c (the DNS checks' form of an answer) must
 * equal the generated data, so that publication and check agree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libknot/libknot.h>
#include <libzscanner/scanner.h>

#include "zonegen/dnswire.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define S(x) ((char *)(x))

/* What libzscanner made of one record line. */
struct parsed {
	uint16_t type;
	uint8_t rdata[65535];
	uint32_t len;
	char dump[4 * 65535];     /* the rdata as dnswire.c prints an answer */
};

static struct parsed *parse_line(const char *line, enum zg_rtype t)
{
	struct parsed *p = calloc(1, sizeof(*p));
	struct zg_wire_text tb = { NULL, 0 };
	knot_rrset_t *rr;
	zs_scanner_t s;
	char err[256] = "";

	assert_non_null(p);
	assert_int_equal(zs_init(&s, ".", KNOT_CLASS_IN, 3600), 0);
	assert_int_equal(zs_set_input_string(&s, line, strlen(line)), 0);
	if (zs_parse_record(&s) != 0 || s.state != ZS_STATE_DATA)
		fail_msg("libzscanner refuses '%s': %s", line, zs_strerror(s.error.code));
	p->type = s.r_type;
	p->len = s.r_data_length;
	memcpy(p->rdata, s.r_data, s.r_data_length);
	rr = knot_rrset_new(s.r_owner, s.r_type, s.r_class, s.r_ttl, NULL);
	assert_non_null(rr);
	assert_int_equal(knot_rrset_add_rdata(rr, s.r_data, s.r_data_length, NULL), KNOT_EOK);
	if (zg_wire_rdata_text(rr, 0, t, &tb, "test", err, sizeof(err)) != 0)
		fail_msg("%s", err);
	snprintf(p->dump, sizeof(p->dump), "%s", tb.p);
	free(tb.p);
	knot_rrset_free(rr, NULL);
	zs_deinit(&s);
	return p;
}

/* rr's zone line through libzscanner: its printed rdata must be rr->data
 * (in the checks' normal form). */
static struct parsed *roundtrip(const struct zg_rr *rr)
{
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32], want[ZG_DATA_SIZE];
	struct parsed *p;

	assert_int_equal(zg_rr_format(rr, line, sizeof(line)), 0);
	p = parse_line(line, rr->type);
	memcpy(want, rr->data, sizeof(want));
	zg_wire_normalize(rr->type, want, sizeof(want));
	if (strcmp(p->dump, want) != 0)
		fail_msg("published '%s', checked '%s'", rr->data, p->dump);
	return p;
}

/* TXT wire rdata -> the character-strings' lengths and their bytes joined. */
static size_t txt_strings(const struct parsed *p, size_t *lens, size_t max, char *joined)
{
	size_t n = 0, o = 0;

	for (uint32_t i = 0; i < p->len; i += 1 + p->rdata[i]) {
		assert_true(n < max);
		assert_true(i + 1 + p->rdata[i] <= p->len);
		lens[n++] = p->rdata[i];
		memcpy(joined + o, p->rdata + i + 1, p->rdata[i]);
		o += p->rdata[i];
	}
	joined[o] = '\0';
	return n;
}

/* n copies of c followed by tail, in a static buffer. */
static const char *fill(size_t n, char c, const char *tail)
{
	static char buf[4096];

	assert_true(n + strlen(tail) < sizeof(buf));
	memset(buf, c, n);
	strcpy(buf + n, tail);
	return buf;
}

/* "\"" + n copies of c + tail (presentation form pieces) */
static const char *qfill(size_t n, char c, const char *tail)
{
	static char buf[8192];

	assert_true(n + strlen(tail) + 1 < sizeof(buf));
	buf[0] = '"';
	memset(buf + 1, c, n);
	strcpy(buf + 1 + n, tail);
	return buf;
}

static void test_txt_data(void **state)
{
	static const struct {
		const char *in, *out;
		size_t n_strings;
	} cases[] = {
		{ "", "\"\"", 1 },
		{ "v=spf1 include:mailbox.org ~all", "\"v=spf1 include:mailbox.org ~all\"", 1 },
		/* ';', '(' and ')' are text inside quotes, '"' and '\' are escaped */
		{ "v=DMARC1; p=none; (x)", "\"v=DMARC1; p=none; (x)\"", 1 },
		{ "a\"b\\c", "\"a\\\"b\\\\c\"", 1 },
		{ "\\", "\"\\\\\"", 1 },
	};
	char out[ZG_DATA_SIZE], err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[ZG_DATA_SIZE + 64], joined[ZG_TXT_MAX + 1];
		size_t lens[8];
		struct parsed *p;

		assert_int_equal(zg_txt_data(cases[i].in, out, sizeof(out), err, sizeof(err)), 0);
		assert_string_equal(out, cases[i].out);
		snprintf(line, sizeof(line), "t.example. 60 IN TXT %s\n", out);
		p = parse_line(line, ZG_RR_TXT);
		assert_string_equal(p->dump, out);
		assert_int_equal(txt_strings(p, lens, 8, joined), cases[i].n_strings);
		assert_string_equal(joined, cases[i].in);
		free(p);
	}
}

/*
 * Texts around the 255-byte boundary: cut on raw bytes, so each string is
 * ZG_TEXT_LEN bytes on the wire and an escape at the boundary stays whole.
 */
static void test_txt_split(void **state)
{
	struct {
		char in[ZG_TXT_MAX + 1];
		char out[ZG_DATA_SIZE];
		size_t lens[5], n;
	} c[7];
	char out[ZG_DATA_SIZE], err[256];

	(void)state;
	memset(c, 0, sizeof(c));
	/* exactly one full string */
	strcpy(c[0].in, fill(255, 'a', ""));
	snprintf(c[0].out, sizeof(c[0].out), "%s\"", qfill(255, 'a', ""));
	c[0].lens[0] = 255, c[0].n = 1;
	/* one byte over */
	strcpy(c[1].in, fill(255, 'a', "b"));
	snprintf(c[1].out, sizeof(c[1].out), "%s\" \"b\"", qfill(255, 'a', ""));
	c[1].lens[0] = 255, c[1].lens[1] = 1, c[1].n = 2;
	/* a '"' as the 255th byte: its escape ends the first string */
	strcpy(c[2].in, fill(254, 'a', "\"b"));
	snprintf(c[2].out, sizeof(c[2].out), "%s\\\"\" \"b\"", qfill(254, 'a', ""));
	c[2].lens[0] = 255, c[2].lens[1] = 1, c[2].n = 2;
	/* a '\' as the 256th byte: its escape starts the second string */
	strcpy(c[3].in, fill(255, 'a', "\\"));
	snprintf(c[3].out, sizeof(c[3].out), "%s\" \"\\\\\"", qfill(255, 'a', ""));
	c[3].lens[0] = 255, c[3].lens[1] = 1, c[3].n = 2;
	/* all escapes: 300 '"' are 255 + 45 bytes, 600 + 90 characters */
	strcpy(c[4].in, fill(300, '"', ""));
	{
		size_t o = 0;

		c[4].out[o++] = '"';
		for (int k = 0; k < 300; k++) {
			if (k == 255) {
				memcpy(c[4].out + o, "\" \"", 3);
				o += 3;
			}
			c[4].out[o++] = '\\';
			c[4].out[o++] = '"';
		}
		c[4].out[o++] = '"';
	}
	c[4].lens[0] = 255, c[4].lens[1] = 45, c[4].n = 2;
	/* the longest text: four full strings and four bytes */
	strcpy(c[5].in, fill(ZG_TXT_MAX, 'k', ""));
	snprintf(c[5].out, sizeof(c[5].out), "%s\" ", qfill(255, 'k', ""));
	for (int k = 0; k < 3; k++)
		strcat(c[5].out, strcat(strcpy(out, qfill(255, 'k', "\"")), " "));
	strcat(c[5].out, "\"kkkk\"");
	c[5].lens[0] = c[5].lens[1] = c[5].lens[2] = c[5].lens[3] = 255;
	c[5].lens[4] = 4, c[5].n = 5;
	/* the worst case for size: ZG_TXT_MAX escapes fit ZG_DATA_SIZE */
	strcpy(c[6].in, fill(ZG_TXT_MAX, '\\', ""));
	c[6].n = 5;
	c[6].lens[0] = c[6].lens[1] = c[6].lens[2] = c[6].lens[3] = 255, c[6].lens[4] = 4;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		char line[ZG_DATA_SIZE + 64], joined[ZG_TXT_MAX + 1];
		size_t lens[8], n;
		struct parsed *p;

		if (zg_txt_data(c[i].in, out, sizeof(out), err, sizeof(err)) != 0)
			fail_msg("case %zu: %s", i, err);
		if (c[i].out[0] != '\0' && strcmp(out, c[i].out) != 0)
			fail_msg("case %zu: '%s', want '%s'", i, out, c[i].out);
		snprintf(line, sizeof(line), "t.example. 60 IN TXT %s\n", out);
		p = parse_line(line, ZG_RR_TXT);
		assert_string_equal(p->dump, out);
		n = txt_strings(p, lens, 8, joined);
		assert_int_equal(n, c[i].n);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(lens[k], c[i].lens[k]);
		assert_string_equal(joined, c[i].in);
		free(p);
	}
}

static void test_txt_refused(void **state)
{
	char out[ZG_DATA_SIZE], err[256];

	(void)state;
	assert_int_equal(zg_txt_data(fill(ZG_TXT_MAX + 1, 'a', ""), out, sizeof(out), err,
	                             sizeof(err)), ZG_ETOOLONG);
	assert_non_null(strstr(err, "longer than 1024 bytes"));
	/* far beyond what a record could hold (65535 bytes of rdata) */
	assert_int_equal(zg_txt_data(fill(4000, 'a', ""), out, sizeof(out), err, sizeof(err)),
	                 ZG_ETOOLONG);
	assert_int_equal(zg_txt_data("a\tb", out, sizeof(out), err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "0x09 at offset 1"));
	assert_int_equal(zg_txt_data("caf\xc3\xa9", out, sizeof(out), err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "non-ASCII byte 0xc3"));
	assert_int_equal(zg_txt_data(NULL, out, sizeof(out), err, sizeof(err)), ZG_EINVAL);
	/* the output buffer is checked, not overrun: 6 bytes hold "abcd" only */
	assert_int_equal(zg_txt_data("abcde", out, 6, err, sizeof(err)), ZG_ETOOLONG);
	assert_non_null(strstr(err, "does not fit 6 bytes"));
	assert_int_equal(zg_txt_data("abc", out, 6, err, sizeof(err)), 0);
	assert_string_equal(out, "\"abc\"");
}

/* A mail profile of the kind config/ will hold, one of each record. */
static struct zg_param mail_params[] = {
	{ S("mx1"), ZG_P_HOSTNAME, S("mxext1.mailbox.org") },
	{ S("dkim_zone"), ZG_P_HOSTNAME, S("mailbox.org") },
	{ S("sts_id"), ZG_P_TEXT, S("20261202T000000") },
};
static struct zg_rtmpl mail_records[] = {
	{ .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S("{mx1}") },
	{ .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S("mxext2.mailbox.org") },
	{ .owner = S("@"), .type = ZG_RR_MX, .priority = 20, .target = S("mxext3.mailbox.org") },
	{ .owner = S("@"), .type = ZG_RR_TXT, .text = S("v=spf1 include:mailbox.org ~all") },
	{ .owner = S("MBO0001._domainkey"), .type = ZG_RR_CNAME,
	  .target = S("mbo0001._domainkey.{dkim_zone}") },
	{ .owner = S("_dmarc"), .type = ZG_RR_TXT,
	  .text = S("v=DMARC1; p=none; rua=mailto:postmaster@{domain}") },
	{ .owner = S("_mta-sts"), .type = ZG_RR_TXT, .text = S("v=STSv1; id={sts_id}") },
	{ .owner = S("mta-sts"), .type = ZG_RR_CNAME, .target = S("mta-sts.{dkim_zone}") },
	{ .owner = S("_smtp._tls"), .type = ZG_RR_TXT,
	  .text = S("v=TLSRPTv1; rua=mailto:tls-reports@{domain}") },
	{ .owner = S("_submissions._tcp"), .type = ZG_RR_SRV, .priority = 0, .weight = 1,
	  .port = 465, .target = S("smtp.mailbox.org") },
	{ .owner = S("_submission._tcp"), .type = ZG_RR_SRV, .target = S(".") },
	{ .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .target = S(".") },
	{ .owner = S("_imaps._tcp"), .type = ZG_RR_SRV, .priority = 0, .weight = 1,
	  .port = 993, .target = S("imap.mailbox.org") },
	{ .owner = S("nomail"), .type = ZG_RR_MX, .target = S(".") },
	{ .owner = S("s2048._domainkey"), .type = ZG_RR_TXT, .text = NULL /* long, set below */ },
};
static struct zg_profile mail = {
	.name = S("mail"), .service = S("mail"), .ttl = 3600,
	.params = mail_params, .n_params = 3,
	.records = mail_records, .n_records = sizeof(mail_records) / sizeof(mail_records[0]),
};

/* A DKIM-shaped TXT of 410 bytes (an RSA-2048 key's length), built here so
 * that no key-shaped text is committed: "v=DKIM1; k=rsa; p=" + 392 bytes. */
static char dkim_text[512];

static void make_dkim_text(void)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = (size_t)snprintf(dkim_text, sizeof(dkim_text), "v=DKIM1; k=rsa; p=");

	for (size_t i = 0; i < 392; i++)
		dkim_text[o++] = b64[(i * 7) % 64];
	dkim_text[o] = '\0';
}

static void test_mail_profile(void **state)
{
	struct zg_rr rrs[ZG_MAX_RECORDS];
	char err[256] = "", line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32], *text = NULL;
	char dkim_out[ZG_DATA_SIZE];
	size_t n, len = 0;
	FILE *f;

	(void)state;
	make_dkim_text();
	mail_records[14].text = dkim_text;
	for (size_t i = 0; i < mail.n_records; i++)
		if (zg_rtmpl_check(&mail, &mail.records[i], err, sizeof(err)) != 0)
			fail_msg("record %zu: %s", i, err);
	if (zg_profile_check(&mail, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (zg_expand(&mail, "Example.ORG", NULL, 0, rrs, &n, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(n, mail.n_records);
	f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(zg_render(rrs, n - 1, f), 0);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text,
		"example.org. 3600 IN MX 10 mxext1.mailbox.org.\n"
		"example.org. 3600 IN MX 10 mxext2.mailbox.org.\n"
		"example.org. 3600 IN MX 20 mxext3.mailbox.org.\n"
		"example.org. 3600 IN TXT \"v=spf1 include:mailbox.org ~all\"\n"
		"mbo0001._domainkey.example.org. 3600 IN CNAME mbo0001._domainkey.mailbox.org.\n"
		"_dmarc.example.org. 3600 IN TXT \"v=DMARC1; p=none; "
		"rua=mailto:postmaster@example.org\"\n"
		"_mta-sts.example.org. 3600 IN TXT \"v=STSv1; id=20261202T000000\"\n"
		"mta-sts.example.org. 3600 IN CNAME mta-sts.mailbox.org.\n"
		"_smtp._tls.example.org. 3600 IN TXT \"v=TLSRPTv1; "
		"rua=mailto:tls-reports@example.org\"\n"
		"_submissions._tcp.example.org. 3600 IN SRV 0 1 465 smtp.mailbox.org.\n"
		"_submission._tcp.example.org. 3600 IN SRV 0 0 0 .\n"
		"_imap._tcp.example.org. 3600 IN SRV 0 0 0 .\n"
		"_imaps._tcp.example.org. 3600 IN SRV 0 1 993 imap.mailbox.org.\n"
		"nomail.example.org. 3600 IN MX 0 .\n");
	free(text);
	/* the long one: two strings, 255 + 155 bytes */
	assert_string_equal(rrs[14].owner, "s2048._domainkey.example.org.");
	assert_int_equal(strlen(dkim_text), 410);
	snprintf(dkim_out, sizeof(dkim_out), "\"%.255s\" \"%s\"", dkim_text, dkim_text + 255);
	assert_string_equal(rrs[14].data, dkim_out);

	/* each as knotd parses it and as the checks print the answer */
	for (size_t i = 0; i < n; i++) {
		struct parsed *p = roundtrip(&rrs[i]);

		assert_int_equal(zg_rr_format(&rrs[i], line, sizeof(line)), 0);
		if (rrs[i].type == ZG_RR_SRV && strcmp(rrs[i].data, "0 0 0 .") == 0) {
			/* priority, weight, port, then the root: one zero byte */
			static const uint8_t root_srv[] = { 0, 0, 0, 0, 0, 0, 0 };

			assert_int_equal(p->len, sizeof(root_srv));
			assert_memory_equal(p->rdata, root_srv, sizeof(root_srv));
		}
		if (rrs[i].type == ZG_RR_MX && strcmp(rrs[i].data, "0 .") == 0) {
			static const uint8_t null_mx[] = { 0, 0, 0 };

			assert_int_equal(p->len, sizeof(null_mx));
			assert_memory_equal(p->rdata, null_mx, sizeof(null_mx));
		}
		if (i == 14) {
			char joined[ZG_TXT_MAX + 1];
			size_t lens[4];

			assert_int_equal(txt_strings(p, lens, 4, joined), 2);
			assert_int_equal(lens[0], 255);
			assert_int_equal(lens[1], 155);
			assert_string_equal(joined, dkim_text);
		}
		free(p);
	}
	mail_records[14].text = NULL;
}

/* The root as a target: only where it means something, only as RFCs say. */
static void test_root_target_checks(void **state)
{
	static const struct {
		struct zg_rtmpl r;
		const char *why;
	} bad[] = {
		{ { .owner = S("www"), .type = ZG_RR_CNAME, .target = S(".") },
		  "CNAME target cannot be '.'" },
		{ { .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .port = 143, .target = S(".") },
		  "needs priority, weight and port 0, not 0 0 143" },
		{ { .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .priority = 1, .target = S(".") },
		  "not 1 0 0" },
		{ { .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .weight = 5, .target = S(".") },
		  "not 0 5 0" },
		{ { .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S(".") },
		  "null MX '.' (RFC 7505) needs preference 0, not 10" },
		/* the root is "." alone, not a name ending in it */
		{ { .owner = S("@"), .type = ZG_RR_MX, .target = S("..") }, "" },
		{ { .owner = S("@"), .type = ZG_RR_MX, .target = S(" .") }, "" },
	};
	struct zg_rtmpl null_mx[] = {
		{ .owner = S("@"), .type = ZG_RR_MX, .target = S(".") },
		{ .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S("mx.example.net") },
	};
	struct zg_rtmpl null_srv[] = {
		{ .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .priority = 0, .weight = 1, .port = 143,
		  .target = S("imap.example.net") },
		{ .owner = S("_IMAP._tcp"), .type = ZG_RR_SRV, .target = S(".") },
	};
	struct zg_rtmpl apart[] = {
		{ .owner = S("@"), .type = ZG_RR_MX, .target = S(".") },
		{ .owner = S("@"), .type = ZG_RR_TXT, .text = S("v=spf1 -all") },
		{ .owner = S("_imap._tcp"), .type = ZG_RR_SRV, .target = S(".") },
		{ .owner = S("_imaps._tcp"), .type = ZG_RR_SRV, .target = S(".") },
	};
	struct zg_profile p = { .name = S("p"), .service = S("mail"), .ttl = 60 };
	struct zg_rr rrs[4];
	char err[256];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (zg_rtmpl_check(&p, &bad[i].r, err, sizeof(err)) != ZG_EINVAL ||
		    strstr(err, bad[i].why) == NULL || err[0] == '\0')
			fail_msg("case %zu: '%s', want '%s'", i, err, bad[i].why);
	}
	p.records = null_mx;
	p.n_records = 2;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "MX '.' at '@' beside another MX record"));
	p.records = null_srv;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "SRV '.' at '_IMAP._tcp' beside another SRV"));
	/* "." beside other types, or in other owners, is fine */
	p.records = apart;
	p.n_records = 4;
	assert_int_equal(zg_profile_check(&p, err, sizeof(err)), 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(zg_rtmpl_check(&p, &apart[i], err, sizeof(err)), 0);
	assert_int_equal(zg_expand(&p, "example.net", NULL, 0, rrs, &n, err, sizeof(err)), 0);
	assert_string_equal(rrs[0].data, "0 .");
	assert_string_equal(rrs[1].data, "\"v=spf1 -all\"");
	assert_string_equal(rrs[2].data, "0 0 0 .");
	assert_string_equal(rrs[3].owner, "_imaps._tcp.example.net.");
	/* a profile no check passed: expansion still never writes a CNAME to "." */
	p.records = (struct zg_rtmpl *)&bad[0].r;   /* the CNAME to "." */
	p.n_records = 1;
	assert_int_equal(zg_expand(&p, "example.net", NULL, 0, rrs, &n, err, sizeof(err)),
	                 ZG_EINVAL);
	assert_non_null(strstr(err, "www.example.net. CNAME target cannot be '.'"));
	assert_int_equal(n, 0);
	/* a host-name parameter is never the root */
	assert_int_equal(zg_param_value_check(ZG_P_HOSTNAME, ".", err, sizeof(err)), ZG_EINVAL);
}

/* '_' labels: in a CNAME target (DKIM delegation), never in SRV or MX. */
static void test_alias_targets(void **state)
{
	static const struct {
		struct zg_rtmpl r;
		const char *why;          /* NULL: accepted */
	} cases[] = {
		{ { .owner = S("mbo0002._domainkey"), .type = ZG_RR_CNAME,
		    .target = S("MBO0002._domainkey.mailbox.org.") }, NULL },
		{ { .owner = S("_mta-sts"), .type = ZG_RR_CNAME,
		    .target = S("_mta-sts.provider.example") }, NULL },
		{ { .owner = S("x._domainkey"), .type = ZG_RR_CNAME,
		    .target = S("x._domainkey.-bad.example") }, "starts or ends with a hyphen" },
		{ { .owner = S("x._domainkey"), .type = ZG_RR_CNAME,
		    .target = S("x._domainkey") }, "top-level label of CNAME target contains '_'" },
		{ { .owner = S("x._domainkey"), .type = ZG_RR_CNAME,
		    .target = S("_domainkey") }, "CNAME target must have at least two labels" },
		{ { .owner = S("x._domainkey"), .type = ZG_RR_CNAME,
		    .target = S("x._domainkey.provider.example;") }, "invalid character ';'" },
		{ { .owner = S("x._domainkey"), .type = ZG_RR_CNAME, .target = S("*.provider.example") },
		  "wildcards" },
		{ { .owner = S("@"), .type = ZG_RR_MX, .priority = 10, .target = S("_mx.example.net") },
		  "invalid character '_' at position 1 of host name" },
		{ { .owner = S("_imaps._tcp"), .type = ZG_RR_SRV, .port = 993,
		    .target = S("imap._tcp.example.net") }, "invalid character '_'" },
	};
	struct zg_param params[] = { { S("zone"), ZG_P_HOSTNAME, S("mailbox.org") } };
	struct zg_rtmpl templ = { .owner = S("mbo0003._domainkey"), .type = ZG_RR_CNAME,
	                          .target = S("MBO0003._domainkey.{zone}") };
	struct zg_rtmpl mx = { .owner = S("@"), .type = ZG_RR_MX, .priority = 10,
	                       .target = S("_mx.{zone}") };
	struct zg_profile p = { .name = S("p"), .service = S("mail"), .ttl = 60,
	                        .params = params, .n_params = 1, .records = &templ,
	                        .n_records = 1 };
	struct zg_kv kv[] = { { "zone", "_dkim.example.net" } };
	struct zg_rr rr;
	char err[256];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		err[0] = '\0';
		ret = zg_rtmpl_check(&p, &cases[i].r, err, sizeof(err));
		if (cases[i].why == NULL ? ret != 0 :
		    ret != ZG_EINVAL || strstr(err, cases[i].why) == NULL)
			fail_msg("case %zu: %d '%s', want '%s'", i, ret, err,
			         cases[i].why != NULL ? cases[i].why : "accepted");
	}
	/* templated: the whole expanded name is checked as a CNAME target */
	assert_int_equal(zg_rtmpl_check(&p, &templ, err, sizeof(err)), 0);
	assert_int_equal(zg_expand(&p, "example.org", NULL, 0, &rr, &n, err, sizeof(err)), 0);
	assert_string_equal(rr.data, "mbo0003._domainkey.mailbox.org.");
	free(roundtrip(&rr));
	/* a host-name parameter itself still may not hold '_' */
	assert_int_equal(zg_expand(&p, "example.org", kv, 1, &rr, &n, err, sizeof(err)),
	                 ZG_EPARAM);
	assert_non_null(strstr(err, "parameter 'zone'"));
	/* nor may an MX target once expanded */
	p.records = &mx;
	assert_int_equal(zg_expand(&p, "example.org", NULL, 0, &rr, &n, err, sizeof(err)),
	                 ZG_EPARAM);
	assert_non_null(strstr(err, "MX target: invalid character '_'"));
}

/* TXT text in templates and after expansion. */
static void test_txt_templates(void **state)
{
	struct zg_param params[] = { { S("tok"), ZG_P_TEXT, NULL } };
	struct zg_rtmpl long_ok = { .owner = S("@"), .type = ZG_RR_TXT };
	struct zg_rtmpl long_bad = { .owner = S("@"), .type = ZG_RR_TXT };
	struct zg_rtmpl ctl = { .owner = S("@"), .type = ZG_RR_TXT, .text = S("a\x7f") };
	struct zg_rtmpl quoted = { .owner = S("_dmarc"), .type = ZG_RR_TXT,
	                           .text = S("say \"hi\\there\"; (x)") };
	struct zg_rtmpl templ = { .owner = S("@"), .type = ZG_RR_TXT };
	struct zg_profile p = { .name = S("p"), .service = S("mail"), .ttl = 60,
	                        .params = params, .n_params = 1, .n_records = 1 };
	char ok[ZG_TXT_MAX + 1], over[ZG_TXT_MAX + 2], tmpl[4096 + 16], err[256];
	struct zg_kv kv[] = { { "tok", "" } };
	struct zg_rr rr;
	size_t n;

	(void)state;
	strcpy(ok, fill(ZG_TXT_MAX, 'x', ""));
	strcpy(over, fill(ZG_TXT_MAX + 1, 'x', ""));
	long_ok.text = ok;
	long_bad.text = over;
	assert_int_equal(zg_rtmpl_check(&p, &long_ok, err, sizeof(err)), 0);
	assert_int_equal(zg_rtmpl_check(&p, &long_bad, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "TXT text longer than 1024 bytes"));
	assert_int_equal(zg_rtmpl_check(&p, &ctl, err, sizeof(err)), ZG_EINVAL);
	assert_non_null(strstr(err, "byte 0x7f"));

	/* quotes, backslashes, ';' and parentheses in a profile's literal text */
	assert_int_equal(zg_rtmpl_check(&p, &quoted, err, sizeof(err)), 0);
	p.records = &quoted;
	assert_int_equal(zg_expand(&p, "example.net", kv, 1, &rr, &n, err, sizeof(err)), 0);
	assert_string_equal(rr.data, "\"say \\\"hi\\\\there\\\"; (x)\"");
	free(roundtrip(&rr));

	/* a parameter still may not hold ';' (it would add a tag of its own) */
	templ.text = S("v=STSv1; id={tok}");
	p.records = &templ;
	kv[0].val = "1; p=none";
	assert_int_equal(zg_expand(&p, "example.net", kv, 1, &rr, &n, err, sizeof(err)),
	                 ZG_EPARAM);
	assert_non_null(strstr(err, "';'"));

	/* expanded past ZG_TXT_MAX: the template is short enough, the value not */
	snprintf(tmpl, sizeof(tmpl), "%s{tok}", fill(ZG_TXT_MAX - 10, 'y', ""));
	templ.text = tmpl;
	assert_int_equal(zg_rtmpl_check(&p, &templ, err, sizeof(err)), 0);
	kv[0].val = "0123456789";
	assert_int_equal(zg_expand(&p, "example.net", kv, 1, &rr, &n, err, sizeof(err)), 0);
	/* five strings: ten quotes, four spaces */
	assert_int_equal(strlen(rr.data), ZG_TXT_MAX + 5 * 2 + 4);
	free(roundtrip(&rr));
	kv[0].val = "0123456789a";
	assert_int_equal(zg_expand(&p, "example.net", kv, 1, &rr, &n, err, sizeof(err)),
	                 ZG_ETOOLONG);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "example.net. TXT: TXT text longer than 1024 bytes"));
	/* far past it: the expansion buffer itself says so */
	snprintf(tmpl, sizeof(tmpl), "%s{tok}{tok}", fill(ZG_TXT_MAX, 'y', ""));
	kv[0].val = fill(255, 'z', "");
	assert_int_equal(zg_expand(&p, "example.net", kv, 1, &rr, &n, err, sizeof(err)),
	                 ZG_ETOOLONG);
	assert_non_null(strstr(err, "value longer than"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_data),
		cmocka_unit_test(test_txt_split),
		cmocka_unit_test(test_txt_refused),
		cmocka_unit_test(test_mail_profile),
		cmocka_unit_test(test_root_target_checks),
		cmocka_unit_test(test_alias_targets),
		cmocka_unit_test(test_txt_templates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
