/*
 * test_config.c - rz_config_load(): the example file, defaults, and one row
 * per class of configuration error with its exact "FILE:LINE:COL:" prefix.
 *
 * Fixtures are in $RZ_SRCDIR/tests/data/config/; inline cases are written
 * to a private temporary directory first.  RZ_TEST_VERBOSE=1 prints every
 * error row's message.
 */
#include <errno.h>
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
#include "daemon/rz_err.h"

struct fixture {
	char srcdir[1024];
	char tmpdir[1024];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *src = getenv("RZ_SRCDIR");
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->srcdir, sizeof(f->srcdir), "%s", src != NULL ? src : ".");
	snprintf(f->tmpdir, sizeof(f->tmpdir), "%s/rz-test-config-XXXXXX",
	         tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(f->tmpdir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[PATH_MAX + 16];

	/* Only files this test wrote are in there. */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->tmpdir);
	free(f);
	return 0;
}

static void fixture_path(const struct fixture *f, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/tests/data/config/%s", f->srcdir, name);
}

/* Write text to tmpdir/name and put the path in out. */
static void write_case(const struct fixture *f, const char *name, const char *text,
                       char *out, size_t outlen)
{
	FILE *fp = NULL;

	snprintf(out, outlen, "%s/%s.yaml", f->tmpdir, name);
	fp = fopen(out, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0 || text[0] == '\0', 1);
	assert_int_equal(fclose(fp), 0);
}

/* ---- the example ---------------------------------------------------- */

static void test_example(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	const struct zg_profile *p = NULL;
	char path[PATH_MAX], err[512] = "";

	snprintf(path, sizeof(path), "%s/config/regzone.example.yaml", f->srcdir);
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_non_null(cfg);
	assert_string_equal(cfg->path, path);

	assert_string_equal(cfg->requests, "ipc:///run/regzone/requests");
	assert_string_equal(cfg->feed, "ipc:///run/regzone/feed");
	assert_null(cfg->socket_group);
	assert_int_equal(cfg->socket_gid, (gid_t)-1);
	assert_false(cfg->insecure_tcp);
	assert_false(cfg->curve);
	assert_null(cfg->curve_secret_file);
	assert_int_equal(cfg->n_curve_clients, 0);
	assert_string_equal(cfg->db_conninfo, "host=/var/run/postgresql dbname=regzone");
	assert_int_equal(cfg->db_connect_timeout_s, 10);
	assert_int_equal(cfg->db_statement_timeout_ms, 30000);
	assert_string_equal(cfg->acme_psl, "/usr/share/publicsuffix/public_suffix_list.dat");
	assert_int_equal(cfg->n_acme_caa_identities, 1);
	assert_string_equal(cfg->acme_caa_identities[0], "letsencrypt.org");
	assert_non_null(rz_config_profile(cfg, "xmpp-caa"));
	assert_true(zg_profile_uses_account_uri(rz_config_profile(cfg, "xmpp-caa")));
	assert_null(cfg->cert_group);
	assert_int_equal(cfg->cert_gid, (gid_t)-1);
	assert_int_equal(cfg->hook_max_failures, 10);
	assert_int_equal(cfg->n_hook_env, 0);
	assert_string_equal(cfg->knot_socket, "/run/knot/knot.sock");
	assert_int_equal(cfg->knot_timeout_ms, 5000);

	assert_int_equal(cfg->n_servers, 1);
	assert_string_equal(cfg->servers[0].address, "127.0.0.1");
	assert_int_equal(cfg->servers[0].port, 53);
	assert_int_equal(cfg->dns_timeout_ms, 1000);
	assert_int_equal(cfg->dns_check_max_s, 600);

	assert_string_equal(cfg->acme_directory, "https://acme-v02.api.letsencrypt.org/directory");
	assert_int_equal(cfg->n_acme_contact, 1);
	assert_string_equal(cfg->acme_contact[0], "mailto:hostmaster@registrar.example");
	assert_true(cfg->acme_terms_agreed);
	assert_string_equal(cfg->acme_account_key, "/var/lib/regzone/account.key");
	assert_null(cfg->acme_ca_bundle);
	assert_int_equal(cfg->acme_key_type, ACME_KEY_P256);
	assert_string_equal(acme_key_type_name(cfg->acme_key_type), "p256");
	assert_int_equal(cfg->acme_renew_percent, 66);
	assert_int_equal(cfg->acme_concurrency, 10);
	assert_null(cfg->acme_eab_kid);
	assert_null(cfg->acme_eab_hmac_key);
	assert_false(cfg->acme_revoke_on_disable);
	/* acme.limits: Let's Encrypt's, as the example writes them out */
	assert_int_equal(cfg->lim_new_orders, 300);
	assert_int_equal(cfg->lim_new_orders_window_s, 10800);
	assert_int_equal(cfg->lim_certs_per_domain, 50);
	assert_int_equal(cfg->lim_certs_per_domain_window_s, 604800);
	assert_int_equal(cfg->lim_certs_per_names, 5);
	assert_int_equal(cfg->lim_certs_per_names_window_s, 604800);
	assert_int_equal(cfg->lim_failed_validations, 5);
	assert_int_equal(cfg->lim_failed_validations_window_s, 3600);

	assert_true(cfg->cert_auto);
	assert_false(cfg->cert_posh);   /* the example writes the default out */
	assert_string_equal(cfg->cert_dir, "/var/lib/regzone/certs");
	assert_null(cfg->deploy_hook);
	assert_int_equal(cfg->hook_timeout_s, 60);
	assert_int_equal(cfg->workers, 4);
	assert_string_equal(cfg->log_level, "info");
	assert_string_equal(cfg->default_profile, "xmpp");
	assert_int_equal(cfg->n_profiles, 6);
	/* the mail profiles: a generic hosted set and mailbox.org's */
	assert_non_null(rz_config_profile(cfg, "mail"));
	assert_string_equal(rz_config_profile(cfg, "mail")->service, "mail");
	assert_int_equal(rz_config_profile(cfg, "mail")->n_cert_names, 2);
	assert_non_null(rz_config_profile(cfg, "mail-mailboxorg"));
	assert_int_equal(rz_config_profile(cfg, "mail-mailboxorg")->n_cert_names, 0);

	/* The default profile: the article's record set. */
	p = rz_config_profile(cfg, NULL);
	assert_non_null(p);
	assert_ptr_equal(p, rz_config_profile(cfg, "xmpp"));
	assert_string_equal(p->name, "xmpp");
	assert_string_equal(p->service, "xmpp");
	assert_int_equal(p->ttl, 3600);
	assert_int_equal(p->n_params, 2);
	assert_string_equal(p->params[0].name, "target");
	assert_int_equal(p->params[0].type, ZG_P_HOSTNAME);
	assert_string_equal(p->params[0].def, "xmpp-hosting.example.net");
	assert_string_equal(p->params[1].name, "tls_target");
	assert_string_equal(p->params[1].def, "xmpps-hosting.example.net");
	assert_int_equal(p->n_records, 6);
	assert_string_equal(p->records[0].owner, "_xmpp-client._tcp");
	assert_int_equal(p->records[0].type, ZG_RR_SRV);
	assert_int_equal(p->records[0].priority, 5);
	assert_int_equal(p->records[0].weight, 1);
	assert_int_equal(p->records[0].port, 5222);
	assert_int_equal(p->records[0].ttl, 0);
	assert_string_equal(p->records[0].target, "{target}");
	assert_null(p->records[0].address);
	assert_int_equal(p->records[1].port, 443);
	assert_string_equal(p->records[1].target, "{tls_target}");
	assert_int_equal(p->records[3].type, ZG_RR_CNAME);
	assert_string_equal(p->records[3].owner, "conference");
	assert_int_equal(p->records[3].port, 0);
	assert_int_equal(p->n_cert_names, 4);
	assert_string_equal(p->cert_names[0], "@");
	assert_string_equal(p->cert_names[1], "conference");
	assert_string_equal(p->cert_names[3], "share");

	p = rz_config_profile(cfg, "xmpp-snikket");
	assert_non_null(p);
	assert_int_equal(p->n_params, 2);
	assert_int_equal(p->params[0].type, ZG_P_IPV4);
	assert_null(p->params[0].def);
	assert_int_equal(p->params[1].type, ZG_P_IPV6);
	assert_string_equal(p->params[1].def, "::1");
	assert_int_equal(p->n_records, 5);
	assert_int_equal(p->records[0].type, ZG_RR_A);
	assert_string_equal(p->records[0].address, "{ipv4}");
	assert_int_equal(p->records[4].type, ZG_RR_CAA);
	assert_int_equal(p->records[4].flags, 0);
	assert_string_equal(p->records[4].tag, "issue");
	assert_string_equal(p->records[4].text, "letsencrypt.org");
	assert_int_equal(p->n_cert_names, 3);

	p = rz_config_profile(cfg, "xmpp-verified");
	assert_non_null(p);
	assert_int_equal(p->n_records, 8);
	assert_int_equal(p->records[0].type, ZG_RR_TXT);
	assert_string_equal(p->records[0].text, "xmpp-hosting-verification={token}");
	assert_int_equal(p->records[4].port, 5270);

	assert_null(rz_config_profile(cfg, "nope"));
	rz_config_free(cfg);
}

/* Every key left out takes the default the example documents. */
static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	const struct zg_profile *p = NULL;
	char path[PATH_MAX], err[512] = "";

	fixture_path(f, "minimal.yaml", path, sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	/* no listen section: the ipc sockets under /run/regzone, no CURVE */
	assert_string_equal(cfg->requests, RZ_DEFAULT_REQUESTS);
	assert_string_equal(cfg->feed, RZ_DEFAULT_FEED);
	assert_false(cfg->curve);
	assert_false(cfg->insecure_tcp);
	assert_int_equal(cfg->socket_gid, (gid_t)-1);
	assert_int_equal(cfg->db_connect_timeout_s, 10);
	assert_int_equal(cfg->db_statement_timeout_ms, 30000);
	assert_string_equal(cfg->acme_psl, RZ_DEFAULT_PSL);
	/* acme.caa_identities: Let's Encrypt's */
	{
		const char *const *ids = NULL;

		assert_int_equal(cfg->n_acme_caa_identities, 0);
		assert_int_equal(rz_config_caa_identities(cfg, &ids), 1);
		assert_string_equal(ids[0], "letsencrypt.org");
	}
	assert_int_equal(cfg->hook_max_failures, 10);
	assert_int_equal(cfg->cert_gid, (gid_t)-1);
	assert_int_equal(cfg->knot_timeout_ms, 5000);
	assert_int_equal(cfg->n_servers, 2);
	assert_string_equal(cfg->servers[0].address, "192.0.2.53");
	assert_int_equal(cfg->servers[0].port, 53);
	/* IPv6 addresses are stored in their normal form. */
	assert_string_equal(cfg->servers[1].address, "2001:db8::53");
	assert_int_equal(cfg->servers[1].port, 5353);
	assert_int_equal(cfg->dns_timeout_ms, 1000);
	assert_int_equal(cfg->dns_check_max_s, 600);
	assert_int_equal(cfg->n_acme_contact, 0);
	assert_null(cfg->acme_contact);
	assert_false(cfg->acme_terms_agreed);
	assert_null(cfg->acme_ca_bundle);
	assert_int_equal(cfg->acme_key_type, ACME_KEY_P256);
	assert_int_equal(cfg->acme_renew_percent, 66);
	assert_int_equal(cfg->acme_concurrency, 10);
	assert_false(cfg->acme_revoke_on_disable);
	/* no acme.limits section: Let's Encrypt's limits */
	assert_int_equal(cfg->lim_new_orders, 300);
	assert_int_equal(cfg->lim_new_orders_window_s, 3 * 3600);
	assert_int_equal(cfg->lim_certs_per_domain, 50);
	assert_int_equal(cfg->lim_certs_per_domain_window_s, 7 * 86400);
	assert_int_equal(cfg->lim_certs_per_names, 5);
	assert_int_equal(cfg->lim_certs_per_names_window_s, 7 * 86400);
	assert_int_equal(cfg->lim_failed_validations, 5);
	assert_int_equal(cfg->lim_failed_validations_window_s, 3600);
	assert_true(cfg->cert_auto);
	assert_false(cfg->cert_posh);   /* off unless asked */
	assert_null(cfg->deploy_hook);
	assert_int_equal(cfg->hook_timeout_s, 60);
	assert_int_equal(cfg->workers, 4);
	assert_string_equal(cfg->log_level, "info");
	p = rz_config_profile(cfg, NULL);
	assert_non_null(p);
	assert_int_equal(p->ttl, 3600);
	assert_int_equal(p->n_cert_names, 0);
	assert_int_equal(p->n_records, 1);
	assert_int_equal(p->records[0].type, ZG_RR_MX);
	assert_int_equal(p->records[0].priority, 10);
	rz_config_free(cfg);
}

/* ---- a valid file using the optional sections ----------------------- */

#define LISTEN "listen: {requests: 'ipc:///run/rz/requests', feed: 'ipc:///run/rz/feed'}\n"
#define DB     "database: {conninfo: 'dbname=regzone'}\n"
#define KNOT   "knot: {socket: /run/knot/knot.sock, timeout_ms: 5000}\n"
#define DNS    "dns: {servers: ['127.0.0.1@53', '::1@5353']}\n"
#define ACME   "acme: {directory: 'https://ca.test/dir', account_key: /var/lib/rz/acct.key}\n"
#define CERTS  "certificates: {dir: /var/lib/rz/certs}\n"
#define TOP    "workers: 4\n"
#define DEFP   "default_profile: p\n"
/* Lines 1-8 above, the profile on lines 9-15. */
#define PROF_HEAD "profiles:\n  p:\n    service: xmpp\n"
#define PARAMS "    params: {target: {type: hostname, default: xmpp.example.net}}\n"
#define RECS   "    records:\n"
#define REC1   "      - {owner: _xmpp-client._tcp, type: SRV, priority: 5, weight: 1, " \
               "port: 5222, target: '{target}'}\n"
#define REC2   "      - {owner: conference, type: CNAME, target: '{target}'}\n"
#define PROF   PROF_HEAD PARAMS RECS REC1 REC2
#define HEAD   LISTEN DB KNOT DNS ACME CERTS TOP DEFP

/* workers: 0 is an intake-only process. */
static void test_intake_only(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[512] = "";

	write_case(f, "intake-only", LISTEN DB KNOT DNS ACME CERTS "workers: 0\n" DEFP PROF,
	           path, sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->workers, 0);
	rz_config_free(cfg);
}

static void test_optional_sections(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[512] = "";

	write_case(f, "optional",
	           "listen: {requests: 'ipc:///r', feed: 'ipc:///f', curve: {secret_key_file: /s,"
	           " clients: ['Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID']}}\n"
	           DB KNOT DNS
	           "acme: {directory: 'https://ca.test/dir', account_key: /k, key_type: rsa3072,"
	           " eab: {kid: kid-1, hmac_key: aGVsbG8}, ca_bundle: /ca.pem, contact: [],"
	           " caa_identities: [pebble.letsencrypt.org, Other-CA.example],"
	           " revoke_on_disable: true, terms_agreed: false, renew_percent: 90,"
	           " limits: {new_orders: 10, failed_validations: 0, certs_per_names_window_s: 60}}\n"
	           "certificates: {auto: false, dir: /c, deploy_hook: /hook, hook_timeout_s: 3600, "
	           "posh: true}\n"
	           "workers: 64\nlog_level: debug\n" DEFP PROF,
	           path, sizeof(path));
	if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg->curve_secret_file, "/s");
	assert_int_equal(cfg->n_curve_clients, 1);
	assert_string_equal(cfg->curve_clients[0], "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID");
	assert_int_equal(cfg->acme_key_type, ACME_KEY_RSA3072);
	assert_string_equal(cfg->acme_eab_kid, "kid-1");
	assert_string_equal(cfg->acme_eab_hmac_key, "aGVsbG8");
	assert_string_equal(cfg->acme_ca_bundle, "/ca.pem");
	assert_int_equal(cfg->n_acme_contact, 0);
	{
		const char *const *ids = NULL;

		assert_int_equal(rz_config_caa_identities(cfg, &ids), 2);
		assert_string_equal(ids[0], "pebble.letsencrypt.org");
		assert_string_equal(ids[1], "Other-CA.example");
	}
	assert_true(cfg->acme_revoke_on_disable);
	assert_false(cfg->acme_terms_agreed);
	assert_int_equal(cfg->acme_renew_percent, 90);
	assert_int_equal(cfg->lim_new_orders, 10);
	assert_int_equal(cfg->lim_new_orders_window_s, 3 * 3600);
	assert_int_equal(cfg->lim_failed_validations, 0);
	assert_int_equal(cfg->lim_certs_per_names_window_s, 60);
	assert_int_equal(cfg->lim_certs_per_domain, 50);
	assert_false(cfg->cert_auto);
	assert_true(cfg->cert_posh);
	assert_string_equal(cfg->deploy_hook, "/hook");
	assert_int_equal(cfg->hook_timeout_s, 3600);
	assert_int_equal(cfg->workers, 64);
	assert_string_equal(cfg->log_level, "debug");
	assert_string_equal(cfg->servers[1].address, "::1");
	assert_int_equal(cfg->servers[1].port, 5353);
	rz_config_free(cfg);
}

/* ---- one row per class of error ------------------------------------- */

struct err_case {
	const char *name;
	const char *fixture;    /* in tests/data/config, or NULL: text */
	const char *text;
	int ret;
	const char *pos;        /* "LINE:COL", or NULL for "FILE: msg" */
	const char *msg;        /* a part of the message */
};

static const struct err_case err_cases[] = {
	/* The inline base itself must load. */
	{ "base", NULL, HEAD PROF, 0, NULL, NULL },

	/* YAML syntax */
	{ "syntax-tab", "tab.yaml", NULL, RZ_ESYNTAX, "4:1", "tabs are not allowed" },
	{ "syntax-unclosed", "unclosed.yaml", NULL, RZ_ESYNTAX, "5:3",
	  "did not find expected ',' or ']'" },
	{ "syntax-mapping", NULL, "knot: socket: /s\n", RZ_ESYNTAX, "1:13",
	  "mapping values are not allowed" },
	{ "syntax-alias", NULL, "knot: *k\n", RZ_ESYNTAX, "1:7", "undefined alias" },
	{ "two-documents", NULL, HEAD PROF "---\nworkers: 5\n", RZ_ECONFIG, "16:1",
	  "only one YAML document" },
	{ "tag", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: !!int 4\n" DEFP PROF,
	  RZ_ECONFIG, "7:10", "tag 'tag:yaml.org,2002:int' not supported" },

	/* Empty or not a mapping */
	{ "empty", NULL, "", RZ_ECONFIG, "1:1", "empty configuration" },
	{ "comments-only", NULL, "# nothing here\n\n", RZ_ECONFIG, "1:1", "empty configuration" },
	{ "top-sequence", NULL, "- listen\n- knot\n", RZ_ETYPE, "1:1", "must be a mapping" },

	/* Unknown keys */
	{ "unknown-top", NULL, LISTEN DB KNOT DNS ACME CERTS "wrokers: 4\n" DEFP PROF,
	  RZ_ECONFIG, "7:1", "unknown top-level key 'wrokers'" },
	{ "unknown-nested", NULL,
	  LISTEN DB "knot: {socket: /run/knot/knot.sock, timeout: 5}\n" DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "3:37", "unknown key 'timeout' in 'knot'" },
	{ "unknown-deep", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, eab: {kid: a, hmac: b}}\n"
	  CERTS TOP DEFP PROF, RZ_ECONFIG, "5:73", "unknown key 'hmac' in 'acme.eab'" },
	{ "unknown-record-key", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME, targte: x.example.net}\n",
	  RZ_ECONFIG, "15:42", "unknown key 'targte' in 'profiles.p.records[1]'" },

	/* Wrong types */
	{ "string-for-integer", NULL,
	  LISTEN DB "knot: {socket: /run/knot/knot.sock, timeout_ms: fast}\n" DNS ACME CERTS TOP
	  DEFP PROF, RZ_ETYPE, "3:49", "'timeout_ms' must be an integer" },
	{ "quoted-integer", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: '4'\n" DEFP PROF,
	  RZ_ETYPE, "7:10", "'workers' must be an integer" },
	{ "float", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: 4.5\n" DEFP PROF,
	  RZ_ETYPE, "7:10", "'workers' must be an integer" },
	{ "trailing-garbage", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: 12abc\n" DEFP PROF,
	  RZ_ETYPE, "7:10", "'workers' must be an integer" },
	{ "leading-zero", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: 010\n" DEFP PROF,
	  RZ_ETYPE, "7:10", "without leading zeros" },
	{ "sequence-for-string", NULL, LISTEN "database: {conninfo: [a, b]}\n" KNOT DNS ACME CERTS
	  TOP DEFP PROF, RZ_ETYPE, "2:22", "'conninfo' must be a string" },
	{ "scalar-for-section", NULL, LISTEN DB "knot: /run/knot/knot.sock\n" DNS ACME CERTS TOP
	  DEFP PROF, RZ_ETYPE, "3:7", "'knot' must be a mapping" },
	{ "scalar-for-list", NULL, LISTEN DB KNOT "dns: {servers: '127.0.0.1@53'}\n" ACME CERTS
	  TOP DEFP PROF, RZ_ETYPE, "4:16", "'servers' must be a sequence" },
	{ "bool-yes", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, terms_agreed: yes}\n"
	  CERTS TOP DEFP PROF, RZ_ETYPE, "5:73", "'terms_agreed' must be true or false" },
	{ "null-value", NULL, LISTEN DB KNOT DNS ACME "certificates: {dir: /c, deploy_hook: ~}\n"
	  TOP DEFP PROF, RZ_ETYPE, "6:38", "'deploy_hook' has no value" },
	{ "empty-string", NULL, LISTEN DB "knot: {socket: ''}\n" DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "3:16", "'socket' must not be empty" },

	/* Out of range */
	{ "range-high", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: 65\n" DEFP PROF,
	  RZ_ERANGE, "7:10", "'workers' must be between 0 and 64" },
	{ "range-negative", NULL, LISTEN DB KNOT DNS ACME CERTS "workers: -1\n" DEFP PROF,
	  RZ_ERANGE, "7:10", "'workers' must be between 0 and 64" },
	{ "range-overflow", NULL, LISTEN DB KNOT DNS ACME CERTS
	  "workers: 99999999999999999999\n" DEFP PROF,
	  RZ_ERANGE, "7:10", "'workers' must be between 0 and 64" },
	{ "range-low-nested", NULL,
	  LISTEN DB "knot: {socket: /run/knot/knot.sock, timeout_ms: 50}\n" DNS ACME CERTS TOP
	  DEFP PROF, RZ_ERANGE, "3:49", "'timeout_ms' must be between 100 and 60000" },
	{ "range-record-ttl", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME, target: '{target}', ttl: 30}\n",
	  RZ_ERANGE, "15:67", "'ttl' must be between 60 and 604800" },
	{ "range-caa-flags", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: '@', type: CAA, flags: 256, tag: issue, text: letsencrypt.org}\n",
	  RZ_ERANGE, "15:40", "'flags' must be between 0 and 255" },

	/* Missing required keys: at the section's key, or the document's start */
	{ "missing-section", NULL, LISTEN DB DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "1:1", "missing required key 'knot'" },
	{ "missing-nested", NULL, LISTEN DB "knot: {timeout_ms: 5000}\n" DNS ACME CERTS TOP DEFP
	  PROF, RZ_ECONFIG, "3:1", "missing required key 'socket' in 'knot'" },
	{ "missing-profile-service", NULL, HEAD "profiles:\n  p:\n" PARAMS RECS REC1 REC2,
	  RZ_ECONFIG, "10:3", "missing required key 'service' in 'profiles.p'" },
	{ "missing-record-owner", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {type: CNAME, target: '{target}'}\n",
	  RZ_ECONFIG, "15:9", "missing required key 'owner' in 'profiles.p.records[1]'" },

	/* Duplicate keys */
	{ "duplicate-top", NULL, HEAD "workers: 8\n" PROF, RZ_ECONFIG, "9:1",
	  "duplicate key 'workers' (first at line 7)" },
	{ "duplicate-nested", NULL, LISTEN DB "knot: {socket: /a, socket: /b}\n" DNS ACME CERTS
	  TOP DEFP PROF, RZ_ECONFIG, "3:20", "duplicate key 'socket' in 'knot'" },
	{ "duplicate-profile", NULL, HEAD PROF "  p:\n    service: xmpp\n",
	  RZ_ECONFIG, "16:3", "profile 'p' is defined twice" },

	/* Enumerations */
	{ "bad-key-type", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, key_type: ed25519}\n"
	  CERTS TOP DEFP PROF, RZ_ECONFIG, "5:69", "invalid 'key_type' value 'ed25519'" },
	{ "bad-log-level", NULL, HEAD "log_level: verbose\n" PROF, RZ_ECONFIG, "9:12",
	  "invalid 'log_level' value 'verbose'" },

	/* Servers */
	{ "server-address", NULL, LISTEN DB KNOT "dns: {servers: ['127.0.0.1@53', '256.0.0.1@53']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "4:33", "'256.0.0.1' is not an IPv4 or IPv6" },
	{ "server-brackets", NULL, LISTEN DB KNOT "dns: {servers: ['127.0.0.1@53', '[::1]@53']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "4:33", "'[::1]' is not an IPv4 or IPv6" },
	{ "server-no-port", NULL, LISTEN DB KNOT "dns: {servers: ['127.0.0.1']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "4:17", "expected ADDRESS@PORT" },
	{ "server-port-0", NULL, LISTEN DB KNOT "dns: {servers: ['127.0.0.1@0']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ERANGE, "4:17", "port must be a number between 1 and 65535" },
	{ "server-port-big", NULL, LISTEN DB KNOT "dns: {servers: ['::1@65536']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ERANGE, "4:17", "port must be a number between 1 and 65535" },
	{ "server-twice", NULL, LISTEN DB KNOT "dns: {servers: ['::1@53', '0::1@53']}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "4:27", "'0::1@53' is listed twice" },
	{ "servers-empty", NULL, LISTEN DB KNOT "dns: {servers: []}\n"
	  ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "4:16", "'servers' needs at least 1 item" },

	/* ACME */
	{ "eab-half", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, eab: {kid: abc}}\n"
	  CERTS TOP DEFP PROF, RZ_ECONFIG, "5:59", "'acme.eab' needs both 'kid' and 'hmac_key'" },
	{ "caa-identities-empty", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, caa_identities: []}\n"
	  CERTS TOP DEFP PROF, RZ_ECONFIG, "5:75", "'caa_identities' needs at least 1 item" },
	{ "caa-identities-bad", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'https://ca.test/dir', account_key: /k, caa_identities: [a.example, "
	  "'x; y']}\n" CERTS TOP DEFP PROF, RZ_ECONFIG, "5:87", "'caa_identities' must list "
	  "domain names" },
	{ "http-directory", NULL, LISTEN DB KNOT DNS
	  "acme: {directory: 'http://ca.test/dir', account_key: /k}\n"
	  CERTS TOP DEFP PROF, RZ_ECONFIG, "5:19", "'directory' must be an https:// URL" },

	/* Who may talk: endpoints, CURVE */
	{ "curve-client", NULL, "listen: {requests: 'tcp://127.0.0.1:7400', feed: "
	  "'tcp://127.0.0.1:7401', curve: {secret_key_file: /s, clients: [tooshort]}}\n"
	  DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:113", "Z85 public keys" },
	{ "tcp-without-curve", NULL, "listen: {requests: 'tcp://0.0.0.0:7400', feed: "
	  "'ipc:///run/rz/feed'}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:20",
	  "'requests' is a tcp:// endpoint without CURVE" },
	{ "tcp-feed-without-curve", NULL, "listen: {requests: 'ipc:///run/rz/r', feed: "
	  "'tcp://127.0.0.1:7401'}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:45",
	  "'feed' is a tcp:// endpoint without CURVE" },
	{ "tcp-insecure-explicit", NULL, "listen: {requests: 'tcp://127.0.0.1:7400', feed: "
	  "'tcp://127.0.0.1:7401', insecure_tcp: true}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  0, NULL, NULL },
	{ "tcp-curve", NULL, "listen: {requests: 'tcp://127.0.0.1:7400', feed: "
	  "'tcp://127.0.0.1:7401', curve: {secret_key_file: /s, clients: "
	  "['Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID']}}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  0, NULL, NULL },
	{ "endpoint-transport", NULL, "listen: {requests: 'inproc://x', feed: 'ipc:///run/rz/f'}\n"
	  DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:20",
	  "only ipc:// and tcp:// endpoints are supported" },
	{ "endpoint-relative-ipc", NULL, "listen: {requests: 'ipc://rz.sock', feed: "
	  "'ipc:///run/rz/f'}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:20",
	  "needs an absolute path" },
	{ "endpoint-ipc-too-long", NULL, "listen: {requests: 'ipc:///run/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaa', feed: 'ipc:///run/rz/f'}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "1:20", "longer than 107 bytes" },
	{ "endpoint-same", NULL, "listen: {requests: 'ipc:///run/rz/s', feed: 'ipc:///run/rz/s'}\n"
	  DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:45", "must be different endpoints" },
	{ "socket-group-missing", NULL, "listen: {socket_group: no-such-group-rz}\n"
	  DB KNOT DNS ACME CERTS TOP DEFP PROF, RZ_ECONFIG, "1:24", "no group 'no-such-group-rz'" },
	{ "curve-no-key", NULL, "listen: {curve: {clients: "
	  "['Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID']}}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "1:10", "needs 'secret_key_file' (regzoned) or the server's 'public_key'" },
	{ "curve-public-twice", NULL, "listen: {curve: {public_key: "
	  "'Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID', public_key_file: /p, clients: "
	  "['Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID']}}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "1:74", "'public_key' or 'public_key_file', not both" },
	{ "curve-public-bad", NULL, "listen: {curve: {public_key: short, clients: "
	  "['Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID']}}\n" DB KNOT DNS ACME CERTS TOP DEFP PROF,
	  RZ_ECONFIG, "1:30", "must be a Z85 public key" },

	/* The hook's environment, the certificate group */
	{ "hook-env-name", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, hook_env: ['1X=a']}\n" TOP DEFP PROF, RZ_ECONFIG, "6:36",
	  "NAME=VALUE" },
	{ "hook-env-reserved", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, hook_env: ['REGZONE_DOMAIN=x']}\n" TOP DEFP PROF, RZ_ECONFIG,
	  "6:36", "regzone sets itself" },
	{ "hook-env-twice", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, hook_env: ['A=1', 'A=2']}\n" TOP DEFP PROF, RZ_ECONFIG,
	  "6:35", "sets A twice" },
	{ "hook-env-posh-dir", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, hook_env: ['REGZONE_POSH_DIR=x']}\n" TOP DEFP PROF, RZ_ECONFIG,
	  "6:36", "regzone sets itself" },
	{ "cert-posh-not-bool", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, posh: maybe}\n" TOP DEFP PROF, RZ_ETYPE, "6:31",
	  "'posh' must be true or false" },
	{ "hook-env-control", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, hook_env: [\"A=\\x01\"]}\n" TOP DEFP PROF, RZ_ECONFIG,
	  "6:36", "control characters" },
	{ "cert-group-missing", NULL, LISTEN DB KNOT DNS ACME
	  "certificates: {dir: /c, group: no-such-group-rz}\n" TOP DEFP PROF, RZ_ECONFIG, "6:32",
	  "no group 'no-such-group-rz'" },

	/* Profiles */
	{ "default-profile-unknown", NULL, LISTEN DB KNOT DNS ACME CERTS TOP
	  "default_profile: nope\n" PROF, RZ_ECONFIG, "8:18",
	  "default_profile 'nope' is not a defined profile" },
	{ "no-profiles", NULL, HEAD "profiles: {}\n", RZ_ECONFIG, "9:11",
	  "'profiles' must define at least one profile" },
	{ "profile-name", NULL, HEAD "profiles:\n  P_x:\n    service: xmpp\n",
	  RZ_ECONFIG, "10:3", "invalid profile name 'P_x' (lowercase letters" },
	{ "record-type", NULL, HEAD PROF_HEAD PARAMS RECS
	  "      - {owner: _xmpp-client._tcp, type: SRVX, priority: 5, weight: 1, port: 5222,"
	  " target: '{target}'}\n", RZ_ECONFIG, "14:42", "invalid 'type' value 'SRVX'" },
	{ "record-cname-no-target", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME}\n",
	  RZ_ECONFIG, "15:9", "CNAME record needs 'target'" },
	{ "record-srv-no-port", NULL, HEAD PROF_HEAD PARAMS RECS
	  "      - {owner: _xmpp-client._tcp, type: SRV, priority: 5, weight: 1, target: x.test}\n",
	  RZ_ECONFIG, "14:9", "SRV record needs 'port'" },
	{ "record-key-not-for-type", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME, target: xmpp.example.net, port: 5}\n",
	  RZ_ECONFIG, "15:68", "'port' does not apply to a CNAME record" },
	{ "record-xmppconnect", "bad-record.yaml", NULL, RZ_EINVAL, "14:9", "'_xmppconnect'" },
	{ "record-unknown-param", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME, target: '{nope}'}\n",
	  RZ_EINVAL, "15:9", "unknown parameter '{nope}'" },
	{ "record-bad-literal-target", NULL, HEAD PROF_HEAD PARAMS RECS REC1
	  "      - {owner: conference, type: CNAME, target: 'bad host'}\n",
	  RZ_EINVAL, "15:9", "" },   /* zonegen words the reason */
	{ "profile-cname-beside-data", NULL, HEAD PROF_HEAD PARAMS RECS REC1 REC2
	  "      - {owner: conference, type: TXT, text: hello}\n",
	  RZ_EINVAL, "10:3", "CNAME at 'conference' beside other data" },
	{ "param-default", NULL, HEAD PROF_HEAD
	  "    params: {target: {type: hostname, default: 'not a host'}}\n" RECS REC1 REC2,
	  RZ_EINVAL, "12:48", "invalid default for parameter 'target'" },
	{ "param-type", NULL, HEAD PROF_HEAD "    params: {target: {type: url}}\n" RECS REC1 REC2,
	  RZ_ECONFIG, "12:29", "invalid 'type' value 'url'" },
	{ "param-name", NULL, HEAD PROF_HEAD "    params: {Target: {type: hostname}}\n" RECS REC1
	  REC2, RZ_ECONFIG, "12:14", "invalid parameter name 'Target'" },
	{ "param-domain", NULL, HEAD PROF_HEAD "    params: {domain: {type: hostname}}\n" RECS
	  REC1 REC2, RZ_ECONFIG, "12:14", "parameter name 'domain' is reserved" },

	/* The file itself */
	{ "missing-file", "does-not-exist.yaml", NULL, RZ_ENOENT, NULL,
	  "cannot open: No such file or directory" },
};

static void test_errors(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *tc = &err_cases[i];
		struct rz_config *cfg = NULL;
		char path[PATH_MAX], want[PATH_MAX + 32], err[1024] = "";
		int ret;

		if (tc->fixture != NULL)
			fixture_path(f, tc->fixture, path, sizeof(path));
		else
			write_case(f, tc->name, tc->text, path, sizeof(path));
		ret = rz_config_load(path, &cfg, err, sizeof(err));
		if (getenv("RZ_TEST_VERBOSE") != NULL)
			print_message("%-26s %d %s\n", tc->name, ret, err);
		if (ret != tc->ret)
			fail_msg("case %s: returned %d, want %d (%s)", tc->name, ret, tc->ret, err);
		if (tc->ret == 0) {
			if (cfg == NULL)
				fail_msg("case %s: no config", tc->name);
			rz_config_free(cfg);
			continue;
		}
		if (cfg != NULL)
			fail_msg("case %s: config set on error", tc->name);
		if (tc->pos != NULL)
			snprintf(want, sizeof(want), "%s:%s: ", path, tc->pos);
		else
			snprintf(want, sizeof(want), "%s: ", path);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("case %s: message '%s' does not start with '%s'", tc->name, err, want);
		if (strstr(err + strlen(want), tc->msg) == NULL)
			fail_msg("case %s: message '%s' lacks '%s'", tc->name, err, tc->msg);
		if (strchr(err, '\n') != NULL)
			fail_msg("case %s: message '%s' has a newline", tc->name, err);
	}
}

/* The error buffer may be tiny or absent; the result never changes. */
static void test_small_err(void **state)
{
	struct fixture *f = *state;
	struct rz_config *cfg = NULL;
	char path[PATH_MAX], err[8];

	fixture_path(f, "tab.yaml", path, sizeof(path));
	assert_int_equal(rz_config_load(path, &cfg, err, sizeof(err)), RZ_ESYNTAX);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(rz_config_load(path, &cfg, NULL, 0), RZ_ESYNTAX);
	assert_null(cfg);
	assert_int_equal(rz_config_load(NULL, &cfg, err, sizeof(err)), RZ_EINVAL);
}

static void test_api(void **state)
{
	(void)state;
	rz_config_free(NULL);
	assert_null(rz_config_profile(NULL, NULL));
	assert_string_equal(acme_key_type_name(ACME_KEY_P256), "p256");
	assert_string_equal(acme_key_type_name(ACME_KEY_P384), "p384");
	assert_string_equal(acme_key_type_name(ACME_KEY_RSA2048), "rsa2048");
	assert_string_equal(acme_key_type_name(ACME_KEY_RSA3072), "rsa3072");
	assert_null(acme_key_type_name(ACME_KEY__MAX));
}

/* Under ASan or valgrind: no leak on success or on any error path. */
static void test_load_free_loop(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX], bad[PATH_MAX], err[512];

	snprintf(path, sizeof(path), "%s/config/regzone.example.yaml", f->srcdir);
	fixture_path(f, "bad-record.yaml", bad, sizeof(bad));
	for (int i = 0; i < 1000; i++) {
		struct rz_config *cfg = NULL;

		if (rz_config_load(path, &cfg, err, sizeof(err)) != 0)
			fail_msg("%s", err);
		rz_config_free(cfg);
		cfg = NULL;
		assert_int_equal(rz_config_load(bad, &cfg, err, sizeof(err)), RZ_EINVAL);
		assert_null(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_optional_sections),
		cmocka_unit_test(test_intake_only),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_small_err),
		cmocka_unit_test(test_api),
		cmocka_unit_test(test_load_free_loop),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
