/*
 * test_retention.c - audit.retention_days and events.retention_days: their
 * defaults, the floor of events.retention_days with its exact
 * "FILE:LINE:COL:", 0 (kept forever), and rz_retention_days(): which
 * retention each trimmed table gets (acme_events never less than the
 * longest acme.limits window and a day).
 *
 * Each case is tests/data/config/minimal.yaml with lines appended, written
 * to a private temporary directory.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon/config.h"
#include "daemon/retention.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"

#define MINIMAL_LINES 20    /* lines of minimal.yaml: the appended ones follow */

struct fixture {
	char tmpdir[1024];
	char *text;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *src = getenv("RZ_SRCDIR"), *tmp = getenv("TMPDIR");
	char path[PATH_MAX];
	FILE *fp;
	long len;

	if (f == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/tests/data/config/minimal.yaml", src ? src : ".");
	snprintf(f->tmpdir, sizeof(f->tmpdir), "%s/rz-test-retention-XXXXXX", tmp ? tmp : "/tmp");
	if ((fp = fopen(path, "r")) == NULL || mkdtemp(f->tmpdir) == NULL) {
		if (fp != NULL)
			fclose(fp);
		free(f);
		return -1;
	}
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	f->text = calloc(1, (size_t)len + 1);
	if (f->text == NULL || fread(f->text, 1, (size_t)len, fp) != (size_t)len) {
		fclose(fp);
		free(f->text);
		free(f);
		return -1;
	}
	fclose(fp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmpdir);
	free(f->text);
	free(f);
	return 0;
}

/* minimal.yaml + extra as tmpdir/name.yaml, loaded. */
static int load(const struct fixture *f, const char *name, const char *extra,
                struct rz_config **cfg, char *path, size_t pathlen, char *err, size_t errlen)
{
	FILE *fp;

	snprintf(path, pathlen, "%s/%s.yaml", f->tmpdir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_true(fputs(f->text, fp) >= 0 && fputs(extra, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	return rz_config_load(path, cfg, err, errlen);
}

static const struct {
	const char *name, *extra;
	int ret;
	uint32_t audit, events;     /* when ret is 0 */
	const char *pos, *msg;      /* when it is not: "LINE:COL" past minimal.yaml */
} cases[] = {
	{ "defaults", "", 0, 400, 90, NULL, NULL },
	{ "both", "audit:\n  retention_days: 30\nevents:\n  retention_days: 7\n", 0, 30, 7,
	  NULL, NULL },
	{ "forever", "audit: {retention_days: 0}\nevents: {retention_days: 0}\n", 0, 0, 0,
	  NULL, NULL },
	{ "audit-one-day", "audit:\n  retention_days: 1\n", 0, 1, 90, NULL, NULL },
	{ "empty-sections", "audit: {}\nevents: {}\n", 0, 400, 90, NULL, NULL },
	{ "events-below-floor", "events:\n  retention_days: 6\n", RZ_ECONFIG, 0, 0, "2:19",
	  "'events.retention_days' (6) must be 0 (kept forever) or at least 7" },
	{ "events-one", "audit: {retention_days: 9}\nevents: {retention_days: 1}\n", RZ_ECONFIG,
	  0, 0, "2:26", "at least 7" },
	{ "audit-too-long", "audit:\n  retention_days: 36501\n", RZ_ERANGE, 0, 0, "2:19",
	  "36500" },
	{ "events-negative", "events:\n  retention_days: -1\n", RZ_ETYPE, 0, 0, "2:19", "" },
	{ "unknown-key", "events:\n  retention: 30\n", RZ_ECONFIG, 0, 0, "2:3",
	  "unknown key 'retention' in 'events'" },
};

static void test_config_cases(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rz_config *cfg = NULL;
		char path[PATH_MAX], want[PATH_MAX + 32], err[1024] = "";
		int ret = load(f, cases[i].name, cases[i].extra, &cfg, path, sizeof(path), err,
		               sizeof(err));
		unsigned line, col;

		if (ret != cases[i].ret && !(cases[i].ret == RZ_ETYPE && ret != 0))
			fail_msg("case %s: returned %d, want %d (%s)", cases[i].name, ret,
			         cases[i].ret, err);
		if (cases[i].ret == 0) {
			assert_non_null(cfg);
			assert_int_equal(cfg->audit_retention_days, cases[i].audit);
			assert_int_equal(cfg->events_retention_days, cases[i].events);
			rz_config_free(cfg);
			continue;
		}
		assert_null(cfg);
		assert_int_equal(sscanf(cases[i].pos, "%u:%u", &line, &col), 2);
		snprintf(want, sizeof(want), "%s:%u:%u: ", path, MINIMAL_LINES + line, col);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, cases[i].msg) == NULL)
			fail_msg("case %s: message '%s', want '%s...%s'", cases[i].name, err, want,
			         cases[i].msg);
	}
}

/* Which retention each table gets. */
static void test_days(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[1024] = "";

	if (load(f, "days", "audit: {retention_days: 3}\nevents: {retention_days: 8}\n", &cfg,
	         path, sizeof(path), err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_EVENTS), 8);
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_AUDIT), 3);
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_CERTIFICATES), 3);
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_ORDERS), 3);
	/* the default windows: 7 days the longest, so 8 */
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_EVENTS), 8);
	cfg->lim_certs_per_domain_window_s = 7 * 86400 + 1;   /* a second more: a day more */
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_EVENTS), 9);
	cfg->lim_failed_validations_window_s = 31 * 86400;
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_EVENTS), 32);
	cfg->audit_retention_days = 400;
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_EVENTS), 400);
	cfg->audit_retention_days = 0;   /* forever is forever */
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM_ACME_EVENTS), 0);
	assert_int_equal(rz_retention_days(cfg, STORE_TRIM__MAX), 0);
	rz_config_free(cfg);
}

static void test_names(void **state)
{
	static const char *const want[STORE_TRIM__MAX] = {
		"events", "audit", "acme_events", "certificates", "acme_orders",
	};

	(void)state;
	for (int t = 0; t < STORE_TRIM__MAX; t++)
		assert_string_equal(store_trim_name((enum store_trim)t), want[t]);
	assert_null(store_trim_name(STORE_TRIM__MAX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_cases),
		cmocka_unit_test(test_days),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
