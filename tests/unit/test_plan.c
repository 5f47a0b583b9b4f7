/* Conflict rules of a publication: a customer's records are never touched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "zonegen/knot.h"
#include "zonegen/zg_err.h"

#define R(o, t, ty, d) { o, t, ty, d }

static const struct zg_krec want[] = {
	R("_xmpp-client._tcp.example.test.", 3600, "SRV", "5 1 5222 xmpp.example.net."),
	R("conference.example.test.", 3600, "CNAME", "xmpp.example.net."),
	R("example.test.", 3600, "TXT", "\"verify=abc\""),
	R("example.test.", 3600, "A", "192.0.2.1"),
};
#define N_WANT (sizeof(want) / sizeof(want[0]))

struct pcase {
	const char *name;
	struct zg_krec existing[4];
	size_t n_existing;
	struct zg_krec owned[3];
	size_t n_owned;
	int ret;
	size_t n_set, n_unset, n_keep;
	const char *conflict;    /* substring naming the clash */
};

static const struct pcase cases[] = {
	{ "empty zone: everything set", { { "", 0, "", "" } }, 0, { { "", 0, "", "" } }, 0,
	  0, 4, 0, 0, NULL },
	{ "all there already (retry): nothing set",
	  { want[0], want[1], want[2], want[3] }, 4, { want[0], want[1], want[2] }, 3,
	  0, 0, 0, 4, NULL },
	{ "customer SOA/NS-like data elsewhere at the apex: TXT additive, other types fine",
	  { R("example.test.", 3600, "TXT", "\"v=spf1 -all\""),
	    R("example.test.", 3600, "NS", "ns1.example.test.") }, 2, { { "", 0, "", "" } }, 0,
	  0, 4, 0, 0, NULL },
	{ "a different SRV", { R("_xmpp-client._tcp.example.test.", 3600, "SRV",
	                          "0 5 5222 other.example.") }, 1, { { "", 0, "", "" } }, 0,
	  ZG_ECONFLICT, 0, 0, 0, "_xmpp-client._tcp.example.test. 3600 SRV 0 5 5222 other.example." },
	{ "a CNAME where our SRV goes", { R("_xmpp-client._tcp.example.test.", 300, "CNAME",
	                                     "elsewhere.example.") }, 1, { { "", 0, "", "" } }, 0,
	  ZG_ECONFLICT, 0, 0, 0, "a CNAME where our records go" },
	{ "data where our CNAME goes", { R("conference.example.test.", 3600, "A", "192.0.2.9") },
	  1, { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "data where our CNAME goes" },
	{ "another CNAME", { R("conference.example.test.", 3600, "CNAME", "x.example.") }, 1,
	  { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "another CNAME" },
	{ "an A where ours goes", { R("example.test.", 3600, "A", "198.51.100.7") }, 1,
	  { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "198.51.100.7" },
	{ "same record, other TTL", { R("example.test.", 60, "A", "192.0.2.1") }, 1,
	  { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "another TTL" },
	{ "customer TXT set with another TTL", { R("example.test.", 300, "TXT", "\"spf\"") }, 1,
	  { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "set has another TTL" },
	{ "identical customer record: kept, not ours",
	  { R("_xmpp-client._tcp.example.test.", 3600, "SRV", "5 1 5222 xmpp.example.net.") }, 1,
	  { { "", 0, "", "" } }, 0, 0, 3, 0, 1, NULL },
	{ "two clashes named together",
	  { R("example.test.", 3600, "A", "198.51.100.7"),
	    R("conference.example.test.", 3600, "AAAA", "2001:db8::9") }, 2,
	  { { "", 0, "", "" } }, 0, ZG_ECONFLICT, 0, 0, 0, "198.51.100.7 (another record of the "
	  "same type); conference.example.test. 3600 AAAA 2001:db8::9" },
	{ "profile changed: our old SRV removed, not a conflict",
	  { R("_xmpp-client._tcp.example.test.", 3600, "SRV", "5 1 5222 old.example.net.") }, 1,
	  { R("_xmpp-client._tcp.example.test.", 3600, "SRV", "5 1 5222 old.example.net.") }, 1,
	  0, 4, 1, 0, NULL },
	{ "owned record already gone: nothing to unset",
	  { { "", 0, "", "" } }, 0,
	  { R("proxy.example.test.", 3600, "CNAME", "old.example.net.") }, 1, 0, 4, 0, 0, NULL },
};

static void test_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		struct zg_plan p;
		int ret = zg_plan_publish(want, N_WANT, c->existing, c->n_existing, c->owned,
		                          c->n_owned, &p);

		if (ret != c->ret || p.n_set != c->n_set || p.n_unset != c->n_unset ||
		    p.n_keep != c->n_keep ||
		    (c->conflict != NULL && strstr(p.conflict, c->conflict) == NULL) ||
		    (c->conflict == NULL && p.conflict[0] != '\0'))
			fail_msg("%s: ret %d set %zu unset %zu keep %zu conflict '%s'", c->name, ret,
			         p.n_set, p.n_unset, p.n_keep, p.conflict);
		if (ret == ZG_ECONFLICT)
			assert_true(p.set == NULL && p.unset == NULL);
		zg_plan_clear(&p);
	}
}

/* TXT policies with a version tag allow one record per owner. */
static void test_single_txt(void **state)
{
	static const struct zg_krec mail[] = {
		R("example.test.", 3600, "TXT", "\"v=spf1 include:mailbox.org ~all\""),
		R("_dmarc.example.test.", 3600, "TXT", "\"v=DMARC1; p=none\""),
		R("_mta-sts.example.test.", 3600, "TXT", "\"v=STSv1; id=2\""),
	};
	static const struct {
		const char *name;
		struct zg_krec theirs;
		bool mine;               /* in the ledger: ours from before */
		const char *conflict;    /* NULL: none */
	} txt_cases[] = {
		{ "their SPF", R("example.test.", 3600, "TXT", "\"v=spf1 mx -all\""), false,
		  "example.test. 3600 TXT \"v=spf1 mx -all\" (another v=spf1 record: only one "
		  "may exist)" },
		{ "their SPF in capitals", R("example.test.", 3600, "TXT", "\"V=SPF1 -all\""),
		  false, "another v=spf1 record" },
		{ "their SPF in two strings",
		  R("example.test.", 3600, "TXT", "\"v=spf1\" \" -all\""), false, "v=spf1" },
		{ "their DMARC", R("_dmarc.example.test.", 3600, "TXT", "\"v=DMARC1;p=reject\""),
		  false, "another v=DMARC1 record" },
		{ "their MTA-STS id", R("_mta-sts.example.test.", 3600, "TXT", "\"v=STSv1; id=1\""),
		  false, "another v=STSv1 record" },
		{ "a verification token beside SPF",
		  R("example.test.", 3600, "TXT", "\"mailbox-verification=x\""), false, NULL },
		{ "another tag", R("example.test.", 3600, "TXT", "\"v=BIMI1; l=x\""), false, NULL },
		{ "a tag that only starts alike",
		  R("example.test.", 3600, "TXT", "\"v=spf10 -all\""), false, NULL },
		{ "no tag at all", R("example.test.", 3600, "TXT", "\"v=\""), false, NULL },
		{ "the same SPF: kept", mail[0], false, NULL },
		{ "our old SPF: replaced, no clash",
		  R("example.test.", 3600, "TXT", "\"v=spf1 include:old.example ~all\""), true, NULL },
		{ "an SPF elsewhere", R("www.example.test.", 3600, "TXT", "\"v=spf1 -all\""), false,
		  NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(txt_cases) / sizeof(txt_cases[0]); i++) {
		struct zg_plan p;
		int ret = zg_plan_publish(mail, 3, &txt_cases[i].theirs, 1, &txt_cases[i].theirs,
		                          txt_cases[i].mine ? 1 : 0, &p);

		if (txt_cases[i].conflict != NULL ?
		    ret != ZG_ECONFLICT || strstr(p.conflict, txt_cases[i].conflict) == NULL :
		    ret != 0 || p.conflict[0] != '\0')
			fail_msg("%s: ret %d conflict '%s'", txt_cases[i].name, ret, p.conflict);
		if (txt_cases[i].mine)
			assert_int_equal(p.n_unset, 1);
		zg_plan_clear(&p);
	}
}

static void test_removal(void **state)
{
	const struct zg_krec existing[] = {
		want[0], want[1], R("www.example.test.", 3600, "A", "192.0.2.80"),
	};
	const struct zg_krec owned[] = { want[0], want[1], want[2] };
	struct zg_plan p;

	(void)state;
	/* disable: nothing wanted; only our records that are there go */
	assert_int_equal(zg_plan_publish(NULL, 0, existing, 3, owned, 3, &p), 0);
	assert_int_equal(p.n_set, 0);
	assert_int_equal(p.n_unset, 2);
	assert_true(zg_krec_equal(&p.unset[0], &want[0]));
	assert_true(zg_krec_equal(&p.unset[1], &want[1]));
	zg_plan_clear(&p);
}

/* Two services' record sets of one domain, side by side or not. */
static void test_clash(void **state)
{
	static const struct zg_krec xmpp[] = {
		R("example.org.", 3600, "TXT", "\"xmpp-hosting-verification=t1\""),
		R("_xmpp-client._tcp.example.org.", 3600, "SRV", "5 1 5222 x.example.net."),
		R("conference.example.org.", 3600, "CNAME", "x.example.net."),
	};
	static const struct {
		struct zg_krec rec;
		bool clash;
		const char *why;
	} pairs[] = {
		/* a second TXT at the apex, another policy: side by side */
		{ R("example.org.", 3600, "TXT", "\"v=spf1 include:h.example ~all\""), false, NULL },
		{ R("example.org.", 3600, "MX", "10 mx.example.net."), false, NULL },
		/* the same record: one owner in the ledger */
		{ R("example.org.", 3600, "TXT", "\"xmpp-hosting-verification=t1\""), true,
		  "both would publish" },
		{ R("conference.example.org.", 3600, "TXT", "\"x\""), true, "a CNAME at" },
		{ R("_xmpp-client._tcp.example.org.", 3600, "SRV", "0 0 0 ."), true, "two SRV sets" },
		{ R("example.org.", 300, "TXT", "\"other\""), true, "TTLs 300 and 3600" },
	};
	static const struct zg_krec spf1 = R("example.org.", 3600, "TXT", "\"v=spf1 -all\"");
	static const struct zg_krec spf2 = R("example.org.", 3600, "TXT",
	                                     "\"v=spf1 include:h.example ~all\"");
	static const struct zg_krec dmarc = R("_dmarc.example.org.", 3600, "TXT",
	                                      "\"v=DMARC1; p=none\"");
	char why[512];

	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int ret = zg_records_clash(&pairs[i].rec, 1, xmpp, 3, why, sizeof(why));

		print_message("case %zu: %d %s\n", i, ret, ret ? why : "");
		assert_int_equal(ret, pairs[i].clash ? ZG_ECONFLICT : 0);
		if (pairs[i].clash)
			assert_non_null(strstr(why, pairs[i].why));
	}
	/* two SPF records at one owner: refused, naming the tag */
	assert_int_equal(zg_records_clash(&spf1, 1, &spf2, 1, why, sizeof(why)), ZG_ECONFLICT);
	assert_non_null(strstr(why, "two v=spf1 records"));
	/* SPF and DMARC: other owners */
	assert_int_equal(zg_records_clash(&spf1, 1, &dmarc, 1, why, sizeof(why)), 0);
	assert_int_equal(zg_records_clash(NULL, 0, xmpp, 3, why, sizeof(why)), 0);
}

static void test_from_rr(void **state)
{
	struct zg_rr rr = { .owner = "a.example.test.", .ttl = 60, .type = ZG_RR_CAA,
	                    .data = "0 issue \"letsencrypt.org\"" };
	struct zg_krec k;

	(void)state;
	zg_krec_from_rr(&rr, &k);
	assert_string_equal(k.type, "CAA");
	assert_string_equal(k.data, "0 issue \"letsencrypt.org\"");
	assert_int_equal(k.ttl, 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_single_txt),
		cmocka_unit_test(test_removal),
		cmocka_unit_test(test_clash),
		cmocka_unit_test(test_from_rr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
