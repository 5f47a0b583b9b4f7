/*
 * test_reload.c - the running configuration and its reload (reload.h): a
 * reload applies profiles and the log level, keeps what needs a restart
 * (workers, the database, listen) as running, changes nothing when the
 * file is broken, and an old configuration lives exactly as long as a
 * reference to it.
 */
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

#include "daemon/config.h"
#include "daemon/reload.h"
#include "daemon/rz_err.h"

struct fx {
	char path[4096];
	char *example;      /* config/regzone.example.yaml */
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* The example with every "from" replaced by "to", then extra appended. */
static void write_cfg(const struct fx *f, const char *from, const char *to, const char *extra)
{
	FILE *out = fopen(f->path, "w");
	const char *p = f->example, *at;

	assert_non_null(out);
	while (from != NULL && (at = strstr(p, from)) != NULL) {
		fwrite(p, 1, (size_t)(at - p), out);
		fputs(to, out);
		p = at + strlen(from);
	}
	fputs(p, out);
	if (extra != NULL)
		fputs(extra, out);
	assert_int_equal(fclose(out), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *src = getenv("RZ_SRCDIR"), *tmp = getenv("TMPDIR");
	char ex[4096];
	int fd;

	if (f == NULL)
		return -1;
	snprintf(ex, sizeof(ex), "%s/config/regzone.example.yaml", src != NULL ? src : ".");
	snprintf(f->path, sizeof(f->path), "%s/rz-reload-XXXXXX", tmp != NULL ? tmp : "/tmp");
	if ((f->example = slurp(ex)) == NULL || (fd = mkstemp(f->path)) < 0) {
		free(f->example);
		free(f);
		return -1;
	}
	close(fd);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	unlink(f->path);
	free(f->example);
	free(f);
	return 0;
}

static const char added[] =
	"  added:\n"
	"    service: xmpp\n"
	"    records:\n"
	"      - { owner: _xmpp-client._tcp, type: SRV, priority: 0, weight: 0, port: 5222,"
	" target: chat.example.net }\n"
	"    certificate: [\"@\"]\n";

static struct rz_live *start(struct fx *f)
{
	struct rz_config *cfg = NULL;
	struct rz_live *l = NULL;
	char err[1024];

	write_cfg(f, NULL, NULL, NULL);
	if (rz_config_load(f->path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(rz_live_new(cfg, &l), 0);
	return l;
}

static void test_applies(void **state)
{
	struct fx *f = *state;
	struct rz_live *l = start(f);
	const struct rz_config *c;
	unsigned kept = 99;
	char err[1024] = "";

	c = rz_live_get(l);
	assert_null(rz_config_profile(c, "added"));
	assert_string_equal(c->log_level, "info");
	rz_live_put(l, c);
	write_cfg(f, "log_level: info", "log_level: debug", added);
	assert_int_equal(rz_live_reload(l, &kept, err, sizeof(err)), 0);
	assert_int_equal(kept, 0);
	c = rz_live_get(l);
	assert_non_null(rz_config_profile(c, "added"));
	assert_string_equal(c->log_level, "debug");
	rz_live_put(l, c);
	rz_live_free(l);
}

static void test_keeps_restart_only(void **state)
{
	struct fx *f = *state;
	struct rz_live *l = start(f);
	const struct rz_config *c = rz_live_get(l);
	char conninfo[1024], err[1024] = "";
	uint32_t workers = c->workers;
	unsigned kept = 0;

	snprintf(conninfo, sizeof(conninfo), "%s", c->db_conninfo);
	rz_live_put(l, c);
	/* workers and the database change in the file, a profile too */
	write_cfg(f, "workers: 4", "workers: 9", added);
	{
		char *text = slurp(f->path), *at;
		FILE *out;

		assert_non_null(text);
		at = strstr(text, "conninfo:");
		assert_non_null(at);
		out = fopen(f->path, "w");
		fprintf(out, "%.*sconninfo: \"dbname=elsewhere\"%s", (int)(at - text), text,
		        strchr(at, '\n'));
		fclose(out);
		free(text);
	}
	assert_int_equal(rz_live_reload(l, &kept, err, sizeof(err)), 0);
	assert_int_equal(kept, 2);
	c = rz_live_get(l);
	assert_int_equal(c->workers, workers);
	assert_string_equal(c->db_conninfo, conninfo);
	assert_non_null(rz_config_profile(c, "added"));   /* the rest applies */
	rz_live_put(l, c);
	rz_live_free(l);
}

static void test_broken_changes_nothing(void **state)
{
	struct fx *f = *state;
	struct rz_live *l = start(f);
	const struct rz_config *before = rz_live_get(l), *after;
	unsigned kept = 0;
	char err[1024] = "";

	rz_live_put(l, before);
	write_cfg(f, "log_level: info", "log_level: debug", "workers: [broken\n");
	assert_int_not_equal(rz_live_reload(l, &kept, err, sizeof(err)), 0);
	assert_non_null(strstr(err, f->path));          /* FILE:LINE:COL: ... */
	assert_non_null(strchr(strstr(err, f->path) + strlen(f->path), ':'));
	after = rz_live_get(l);
	assert_ptr_equal(after, before);
	assert_string_equal(after->log_level, "info");
	rz_live_put(l, after);
	rz_live_free(l);
}

/* A reference taken before a reload keeps its configuration whole (its
 * profiles readable) until it is given back. */
static void test_old_lives_while_referenced(void **state)
{
	struct fx *f = *state;
	struct rz_live *l = start(f);
	const struct rz_config *old = rz_live_get(l), *cur;
	const struct zg_profile *p = rz_config_profile(old, "xmpp");
	unsigned kept;
	char err[1024] = "";

	assert_non_null(p);
	write_cfg(f, NULL, NULL, added);
	assert_int_equal(rz_live_reload(l, &kept, err, sizeof(err)), 0);
	assert_int_equal(rz_live_reload(l, &kept, err, sizeof(err)), 0);
	cur = rz_live_get(l);
	assert_ptr_not_equal(cur, old);
	/* still the old one's: valid (ASan / valgrind see a use after free) */
	assert_string_equal(p->name, "xmpp");
	assert_null(rz_config_profile(old, "added"));
	rz_live_put(l, old);
	rz_live_put(l, cur);
	rz_live_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_applies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keeps_restart_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_lives_while_referenced, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
