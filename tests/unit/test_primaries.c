/*
 * test_primaries.c - the two forms of the Knot primaries in regzone.yaml:
 * knot.socket + dns.servers as the one primary "default", and
 * knot.primaries; one row per error with its exact "FILE:LINE:COL:"; and
 * what a reload keeps of them (names, sockets and timeouts are
 * restart-only, each primary's servers reload); the state's "primary".
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
#include "daemon/reload.h"
#include "daemon/rz_err.h"
#include "daemon/state.h"

static char tmpdir[512];

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/rz-test-primaries-XXXXXX",
	         tmp != NULL ? tmp : "/tmp");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s.yaml", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Line 1: database; the knot/dns lines follow; the rest after them. */
#define DB    "database: {conninfo: 'dbname=regzone'}\n"
#define REST  "acme: {directory: 'https://ca.test/dir', account_key: /k}\n" \
              "certificates: {dir: /c}\ndefault_profile: p\n" \
              "profiles:\n  p:\n    service: xmpp\n    records:\n" \
              "      - {owner: conference, type: CNAME, target: xmpp.example.net.}\n"
#define TWO   "knot:\n" \
              "  timeout_ms: 3000\n" \
              "  primaries:\n" \
              "    - {name: p1, socket: /run/k1.sock, servers: ['127.0.0.1@53', '::1@53']}\n" \
              "    - {name: p-2, socket: /run/k2.sock, timeout_ms: 700, " \
              "servers: ['127.0.0.2@5353']}\n"
#define DNS_NO_SERVERS "dns: {timeout_ms: 500}\n"

static void test_single_form(void **state)
{
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[512] = "";

	(void)state;
	write_file("single", DB "knot: {socket: /run/knot/knot.sock, timeout_ms: 1200}\n"
	           "dns: {servers: ['192.0.2.1@53', '2001:db8::1@5300']}\n" REST, path,
	           sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_false(cfg->primaries_listed);
	assert_int_equal(cfg->n_primaries, 1);
	assert_string_equal(cfg->primaries[0].name, RZ_PRIMARY_DEFAULT);
	assert_string_equal(cfg->primaries[0].socket, "/run/knot/knot.sock");
	assert_int_equal(cfg->primaries[0].timeout_ms, 1200);
	assert_int_equal(cfg->primaries[0].n_servers, 2);
	assert_string_equal(cfg->primaries[0].servers[1].address, "2001:db8::1");
	assert_int_equal(cfg->primaries[0].servers[1].port, 5300);
	/* a copy, not the same memory: both are freed */
	assert_ptr_not_equal(cfg->primaries[0].servers, cfg->servers);
	assert_ptr_equal(rz_config_primary(cfg, "default"), &cfg->primaries[0]);
	assert_null(rz_config_primary(cfg, "p1"));
	rz_config_free(cfg);
}

static void test_list_form(void **state)
{
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[512] = "";

	(void)state;
	write_file("two", DB TWO DNS_NO_SERVERS REST, path, sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(cfg->primaries_listed);
	assert_null(cfg->knot_socket);
	assert_int_equal(cfg->n_servers, 0);
	assert_int_equal(cfg->n_primaries, 2);
	assert_string_equal(cfg->primaries[0].name, "p1");
	assert_string_equal(cfg->primaries[0].socket, "/run/k1.sock");
	assert_int_equal(cfg->primaries[0].timeout_ms, 3000);   /* knot.timeout_ms */
	assert_int_equal(cfg->primaries[0].n_servers, 2);
	assert_string_equal(cfg->primaries[0].servers[1].address, "::1");
	assert_string_equal(cfg->primaries[1].name, "p-2");
	assert_int_equal(cfg->primaries[1].timeout_ms, 700);
	assert_int_equal(cfg->primaries[1].n_servers, 1);
	assert_int_equal(cfg->primaries[1].servers[0].port, 5353);
	assert_int_equal(cfg->dns_timeout_ms, 500);     /* dns.* stay global */
	assert_ptr_equal(rz_config_primary(cfg, "p-2"), &cfg->primaries[1]);
	assert_null(rz_config_primary(cfg, "default"));
	rz_config_free(cfg);
}

struct bad_case {
	const char *name;
	const char *text;
	const char *pos;        /* "LINE:COL" */
	const char *msg;
};

static const struct bad_case bad[] = {
	{ "both-forms", DB "knot:\n  socket: /run/k.sock\n  primaries:\n"
	  "    - {name: p1, socket: /run/k1.sock, servers: ['127.0.0.1@53']}\n" REST,
	  "4:3", "'knot' takes 'socket' (one primary) or 'primaries', not both" },
	{ "neither-form", DB "knot: {timeout_ms: 100}\ndns: {servers: ['127.0.0.1@53']}\n" REST,
	  "2:1", "missing required key 'socket' in 'knot' (or 'primaries')" },
	{ "single-without-servers", DB "knot: {socket: /run/k.sock}\n" DNS_NO_SERVERS REST,
	  "3:1", "missing required key 'servers' in 'dns' (with 'knot.socket')" },
	{ "list-with-dns-servers", DB TWO "dns: {servers: ['127.0.0.1@53']}\n" REST,
	  "7:16", "'dns.servers' goes with 'knot.socket'" },
	{ "name-twice", DB "knot:\n  primaries:\n"
	  "    - {name: p1, socket: /a, servers: ['127.0.0.1@53']}\n"
	  "    - {name: p1, socket: /b, servers: ['127.0.0.1@54']}\n" REST,
	  "5:7", "'knot.primaries[1]': primary 'p1' is defined twice" },
	{ "socket-twice", DB "knot:\n  primaries:\n"
	  "    - {name: p1, socket: /a, servers: ['127.0.0.1@53']}\n"
	  "    - {name: p2, socket: /a, servers: ['127.0.0.1@54']}\n" REST,
	  "5:7", "socket '/a' is also primary 'p1''s" },
	{ "name-bad", DB "knot:\n  primaries:\n"
	  "    - {name: P_1, socket: /a, servers: ['127.0.0.1@53']}\n" REST,
	  "4:14", "'name' must be 1 to 32 lowercase letters, digits or '-'" },
	{ "name-long", DB "knot:\n  primaries:\n"
	  "    - {name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa, socket: /a, servers: ['127.0.0.1@53']}\n"
	  REST, "4:14", "'name' must be 1 to 32" },
	{ "primary-no-servers", DB "knot:\n  primaries:\n    - {name: p1, socket: /a}\n" REST,
	  "4:7", "missing required key 'servers' in 'knot.primaries[0]'" },
	{ "primary-no-socket", DB "knot:\n  primaries:\n"
	  "    - {name: p1, servers: ['127.0.0.1@53']}\n" REST,
	  "4:7", "missing required key 'socket' in 'knot.primaries[0]'" },
	{ "primary-unknown-key", DB "knot:\n  primaries:\n"
	  "    - {name: p1, socket: /a, servers: ['127.0.0.1@53'], sock: /b}\n" REST,
	  "4:57", "unknown key 'sock' in 'knot.primaries[0]'" },
	{ "primary-timeout-low", DB "knot:\n  primaries:\n"
	  "    - {name: p1, socket: /a, timeout_ms: 0, servers: ['127.0.0.1@53']}\n" REST,
	  "4:42", "'timeout_ms' must be between 100 and 60000" },
	{ "primary-server-bad", DB "knot:\n  primaries:\n"
	  "    - {name: p1, socket: /a, servers: ['127.0.0.1']}\n" REST,
	  "4:40", "expected ADDRESS@PORT" },
	{ "primaries-empty", DB "knot:\n  primaries: []\n" REST,
	  "3:14", "'primaries' needs at least 1 item" },
	{ "primaries-mapping", DB "knot:\n  primaries: {p1: /a}\n" REST,
	  "3:14", "'primaries' must be a sequence" },
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rz_config *cfg = NULL;
		char path[PATH_MAX], err[512] = "", want[PATH_MAX + 64];
		int ret;

		write_file(bad[i].name, bad[i].text, path, sizeof(path));
		ret = rz_config_load(path, &cfg, err, sizeof(err));
		if (getenv("RZ_TEST_VERBOSE") != NULL)
			fprintf(stderr, "%s: %s\n", bad[i].name, err);
		if (ret == 0)
			fail_msg("%s: accepted", bad[i].name);
		assert_null(cfg);
		snprintf(want, sizeof(want), "%s:%s: ", path, bad[i].pos);
		if (strncmp(err, want, strlen(want)) != 0 || strstr(err, bad[i].msg) == NULL)
			fail_msg("%s: got '%s', wanted '%s...%s'", bad[i].name, err, want, bad[i].msg);
	}
}

/* A reload applies each primary's servers; names and sockets wait for a
 * restart (the whole running list is kept then). */
static void test_reload(void **state)
{
	struct rz_live *live = NULL;
	struct rz_config *cfg = NULL;
	const struct rz_config *run;
	char path[PATH_MAX], err[512] = "";
	unsigned kept = 0;

	(void)state;
	write_file("reload", DB TWO DNS_NO_SERVERS REST, path, sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(rz_live_new(cfg, &live), 0);

	/* p1's servers change: applied */
	write_file("reload", DB "knot:\n  timeout_ms: 3000\n  primaries:\n"
	           "    - {name: p1, socket: /run/k1.sock, servers: ['127.0.0.9@53']}\n"
	           "    - {name: p-2, socket: /run/k2.sock, timeout_ms: 700, "
	           "servers: ['127.0.0.2@5353']}\n" DNS_NO_SERVERS REST, path, sizeof(path));
	if (rz_live_reload(live, &kept, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(kept, 0);
	run = rz_live_get(live);
	assert_int_equal(run->primaries[0].n_servers, 1);
	assert_string_equal(run->primaries[0].servers[0].address, "127.0.0.9");
	rz_live_put(live, run);

	/* p-2's socket changes and a third primary comes: the running ones stay */
	write_file("reload", DB "knot:\n  primaries:\n"
	           "    - {name: p1, socket: /run/k1.sock, servers: ['127.0.0.7@53']}\n"
	           "    - {name: p-2, socket: /run/other.sock, servers: ['127.0.0.2@5353']}\n"
	           "    - {name: p3, socket: /run/k3.sock, servers: ['127.0.0.3@53']}\n"
	           DNS_NO_SERVERS REST,
	           path, sizeof(path));
	if (rz_live_reload(live, &kept, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_true(kept >= 1);
	run = rz_live_get(live);
	assert_int_equal(run->n_primaries, 2);
	assert_string_equal(run->primaries[1].socket, "/run/k2.sock");
	assert_int_equal(run->primaries[1].timeout_ms, 700);
	assert_string_equal(run->primaries[0].servers[0].address, "127.0.0.9");
	assert_null(rz_config_primary(run, "p3"));
	rz_live_put(live, run);
	rz_live_free(live);
}

/* The state object's "primary": written when known, read when there (an
 * older regzoned does not send it), refused when not a string. */
static void test_state_primary(void **state)
{
	struct rz_state s, back;
	json_t *o;
	char err[256] = "";

	(void)state;
	rz_state_absent("example.org", "xmpp", &s);
	o = rz_state_json(&s);
	assert_non_null(o);
	assert_null(json_object_get(o, "primary"));
	assert_int_equal(rz_state_from_json(o, &back, err, sizeof(err)), 0);
	assert_string_equal(back.primary, "");
	json_decref(o);

	snprintf(s.primary, sizeof(s.primary), "p-2");
	o = rz_state_json(&s);
	assert_string_equal(json_string_value(json_object_get(o, "primary")), "p-2");
	assert_int_equal(rz_state_from_json(o, &back, err, sizeof(err)), 0);
	assert_string_equal(back.primary, "p-2");
	json_object_set_new(o, "primary", json_integer(2));
	assert_int_equal(rz_state_from_json(o, &back, err, sizeof(err)), RZ_EINVAL);
	assert_non_null(strstr(err, "primary"));
	json_decref(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_form),
		cmocka_unit_test(test_list_form),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_state_primary),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
