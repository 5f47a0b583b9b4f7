/*
 * zonegen/knot.c: what zone-set sends, against a stand-in knotd on a
 * temporary control socket.  The stand-in rebuilds each record as knotd's
 * create_rrset() does ("OWNER TTL TYPE DATA\n" through libzscanner) and
 * prints it back as zone-get would (knot_rrset_txt_dump_data()): the
 * records mail profiles need must pass knot.c's safety check, parse, and
 * come back exactly as generated; unsafe ones must never be sent.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libknot/libknot.h>
#include <libzscanner/scanner.h>

#include "zonegen/knot.h"
#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

#define MAX_SEEN 32

/* The stand-in knotd and what it saw. */
struct fake {
	knot_ctl_t *ctl;
	char path[64];
	size_t n_seen;
	char seen[MAX_SEEN][4 * ZG_DATA_SIZE];   /* each zone-set record as zone-get prints it */
	size_t n_failed;                     /* records libzscanner refused */
};

/* One zone-set unit the way knotd's create_rrset() handles it. */
static void fake_set(struct fake *f, knot_ctl_data_t *d)
{
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 64], dump[4 * ZG_DATA_SIZE];
	const char *zone = (*d)[KNOT_CTL_IDX_ZONE];
	knot_rrset_t *rr;
	zs_scanner_t s;

	snprintf(line, sizeof(line), "%s %s %s %s\n", (*d)[KNOT_CTL_IDX_OWNER],
	         (*d)[KNOT_CTL_IDX_TTL], (*d)[KNOT_CTL_IDX_TYPE], (*d)[KNOT_CTL_IDX_DATA]);
	if (zs_init(&s, zone, KNOT_CLASS_IN, 3600) != 0 ||
	    zs_set_input_string(&s, line, strlen(line)) != 0 ||
	    zs_parse_record(&s) != 0 || s.state != ZS_STATE_DATA) {
		f->n_failed++;
		zs_deinit(&s);
		return;
	}
	rr = knot_rrset_new(s.r_owner, s.r_type, s.r_class, s.r_ttl, NULL);
	if (rr != NULL && knot_rrset_add_rdata(rr, s.r_data, s.r_data_length, NULL) == KNOT_EOK &&
	    knot_rrset_txt_dump_data(rr, 0, dump, sizeof(dump), &KNOT_DUMP_STYLE_DEFAULT) >= 0 &&
	    f->n_seen < MAX_SEEN)
		snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s", dump);
	else
		f->n_failed++;
	knot_rrset_free(rr, NULL);
	zs_deinit(&s);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	if (knot_ctl_accept(f->ctl) != KNOT_EOK)
		return NULL;
	for (;;) {
		knot_ctl_type_t type;
		knot_ctl_data_t d = { 0 };

		if (knot_ctl_receive(f->ctl, &type, &d) != KNOT_EOK || type == KNOT_CTL_TYPE_END)
			break;
		if (type == KNOT_CTL_TYPE_DATA && d[KNOT_CTL_IDX_CMD] != NULL &&
		    strcmp(d[KNOT_CTL_IDX_CMD], "zone-set") == 0)
			fake_set(f, &d);
		else if (type == KNOT_CTL_TYPE_BLOCK &&
		         knot_ctl_send(f->ctl, KNOT_CTL_TYPE_BLOCK, NULL) != KNOT_EOK)
			break;
	}
	knot_ctl_close(f->ctl);
	return NULL;
}

static void fake_start(struct fake *f, pthread_t *t)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/rz-knot-set-%ld.sock", (long)getpid());
	unlink(f->path);
	f->ctl = knot_ctl_alloc();
	assert_non_null(f->ctl);
	knot_ctl_set_timeout(f->ctl, 5000);
	assert_int_equal(knot_ctl_bind(f->ctl, f->path), KNOT_EOK);
	assert_int_equal(pthread_create(t, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f, pthread_t t)
{
	assert_int_equal(pthread_join(t, NULL), 0);
	knot_ctl_unbind(f->ctl);
	knot_ctl_free(f->ctl);
	unlink(f->path);
}

static void rec(struct zg_krec *k, const char *owner, const char *type, const char *data)
{
	memset(k, 0, sizeof(*k));
	k->ttl = 3600;
	snprintf(k->owner, sizeof(k->owner), "%s", owner);
	snprintf(k->type, sizeof(k->type), "%s", type);
	snprintf(k->data, sizeof(k->data), "%s", data);
}

static void test_mail_records_set(void **state)
{
	static struct zg_krec recs[8];
	char long_text[600], err[512] = "";
	struct zg_knot *k = NULL;
	struct fake f;
	pthread_t t;
	size_t n = 0;

	(void)state;
	memset(long_text, 'p', 500);
	long_text[500] = '\0';
	long_text[254] = '"';     /* an escape at the end of the first string */
	long_text[255] = '\\';    /* and one at the start of the second */
	rec(&recs[n++], "_dmarc.example.org.", "TXT", "\"v=DMARC1; p=none; (x)\"");
	rec(&recs[n++], "_mta-sts.example.org.", "TXT", "\"v=STSv1; id=20261202\"");
	rec(&recs[n++], "_submission._tcp.example.org.", "SRV", "0 0 0 .");
	rec(&recs[n++], "example.org.", "MX", "0 .");
	rec(&recs[n++], "mbo0001._domainkey.example.org.", "CNAME",
	    "mbo0001._domainkey.mailbox.org.");
	recs[n].ttl = 3600;
	snprintf(recs[n].owner, sizeof(recs[n].owner), "s1._domainkey.example.org.");
	snprintf(recs[n].type, sizeof(recs[n].type), "TXT");
	assert_int_equal(zg_txt_data(long_text, recs[n].data, sizeof(recs[n].data), err,
	                             sizeof(err)), 0);
	n++;

	fake_start(&f, &t);
	if (zg_knot_open(f.path, 5000, &k, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	if (zg_knot_set_many(k, "example.org", recs, n, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	zg_knot_close(k);
	fake_stop(&f, t);

	assert_int_equal(f.n_failed, 0);
	assert_int_equal(f.n_seen, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(f.seen[i], recs[i].data);
}

/* What Knot's parser would read as syntax is refused before it is sent. */
static void test_unsafe_refused(void **state)
{
	static const char *const bad[] = {
		"\"a\" ; comment",            /* ';' outside quotes: the rest is a comment */
		"\"a\" (",                    /* a parenthesis opens a multi-line record */
		"\"a\\b\"",                   /* an escape zonegen never writes */
		"\"a\\065\"",                 /* \DDD: not ours either */
		"\"a\\\"",                    /* the closing quote escaped: unbalanced */
		"\"abc",                      /* unbalanced */
		"a\\ b",                      /* a backslash outside quotes */
		"\"a\tb\"",                   /* a control byte inside quotes */
		"\"a\nexample.org. 60 IN A 192.0.2.1\"",
	};
	struct zg_knot *k = NULL;
	struct zg_krec r;
	char err[512] = "";
	struct fake f;
	pthread_t t;

	(void)state;
	fake_start(&f, &t);
	if (zg_knot_open(f.path, 5000, &k, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		rec(&r, "x.example.org.", "TXT", bad[i]);
		if (zg_knot_set(k, "example.org", &r, err, sizeof(err)) != ZG_EINVAL ||
		    strstr(err, "refusing record x.example.org. TXT") == NULL)
			fail_msg("case %zu: '%s'", i, err);
	}
	/* the owner and type may not even have a blank */
	rec(&r, "x y.example.org.", "TXT", "\"a\"");
	assert_int_equal(zg_knot_set(k, "example.org", &r, err, sizeof(err)), ZG_EINVAL);
	zg_knot_close(k);
	fake_stop(&f, t);
	assert_int_equal(f.n_seen + f.n_failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_records_set),
		cmocka_unit_test(test_unsafe_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
