/*
 * regzonectl - the operators' tool.
 *
 *   regzonectl -c FILE COMMAND [ARGS] [OPTIONS]
 *
 * Three kinds of command, top-down in this file:
 *   local      preview, keygen, migrate
 *   daemon     enable, disable, renew, status, wait: JSON requests on a
 *              ZeroMQ DEALER connected to listen.requests (frames out:
 *              [empty, json]; frames in: [empty, json]); wait also
 *              SUBscribes to listen.feed ([domain, state-json])
 *   database   list, logs, retry (PostgreSQL directly, PQexecParams only),
 *              and diff (PostgreSQL + Knot's control socket)
 *
 * Everything read from regzoned or the database is type-checked before use
 * and printed with control characters neutralised.  Key material is never
 * printed.
 *
 * Exit codes: 0 success, 1 refused request or failure, 2 usage error, 3
 * daemon unreachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>


#include "daemon/ctl.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

static const char *const opt_names[] = {
	"--profile", "--param", "--id", "--until", "--state", "--timeout", "--json", "--key",
};

/* ------------------------------------------------------------ small helpers */

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Print text that came from regzoned or the database on one line: line
 * breaks and tabs become spaces, other control characters '?', so it can
 * never drive the terminal. */
void put_safe(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		fputc(c, f);
	}
}

/* Copy at most size-1 bytes; true when s fit.  A cut never splits a UTF-8
 * sequence, so what is cut still makes a JSON string. */
bool copy_str(char *dst, size_t size, const char *s)
{
	size_t len;
	unsigned char lead;
	size_t need, have;

	if ((size_t)snprintf(dst, size, "%s", s) < size)
		return true;
	len = strlen(dst);
	have = 0;
	while (len > 0 && have < 4 && ((unsigned char)dst[len - 1] & 0xc0) == 0x80) {
		len--;
		have++;
	}
	if (len > 0 && (lead = (unsigned char)dst[len - 1]) >= 0xc0) {
		need = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : 1;
		if (have < need)
			dst[len - 1] = '\0';   /* the sequence was cut: drop it */
	}
	return false;
}

/* A name from a NULL-terminated list: its index, or -1. */
int name_index(const char *const *names, const char *s)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

void print_names(FILE *f, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		fprintf(f, "%s%s", i > 0 ? "|" : "", names[i]);
}

/* The DOMAIN argument in normal form: EXIT_OK or EXIT_REFUSED (message printed). */
int arg_domain(const char *in, char out[ZG_OWNER_SIZE])
{
	char err[512];

	if (zg_dname_check(in, out, ZG_OWNER_SIZE, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: invalid domain: %s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* --profile, or the default profile: EXIT_OK or EXIT_REFUSED. */
int arg_profile(const struct ctl_args *a, const struct rz_config *cfg,
                       const struct zg_profile **p)
{
	*p = rz_config_profile(cfg, a->profile);
	if (*p == NULL) {
		fprintf(stderr, "regzonectl: unknown profile '%s'\n",
		        a->profile != NULL ? a->profile : "(default)");
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

/* Who runs this, for the audit trail. */
void user_name(char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "uid %u", (unsigned)getuid());
	if (getuid() == 0 && sudo != NULL && sudo[0] != '\0') {
		size_t n = strlen(buf);

		snprintf(buf + n, len - n, " via sudo by %s", sudo);
	}
}

int load_config(const struct ctl_args *a, struct rz_config **cfg)
{
	char err[1024];

	const char *path = a->config;

	if (path == NULL && (path = getenv("REGZONE_CONFIG")) != NULL && path[0] == '\0')
		path = NULL;
	if (path == NULL)
		path = CTL_DEFAULT_CONFIG;
	if (rz_config_load(path, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

void refusal_json(const struct ctl_args *a, const char *code, const char *message)
{
	json_t *j;

	if (!a->json)
		return;
	j = json_pack("{s:b, s:{s:s, s:o}}", "ok", 0, "error", "code", code, "message",
	              rz_json_text(message, strlen(message), false));
	if (j == NULL || print_json(j) != EXIT_OK)
		fprintf(stderr, "regzonectl: cannot print the refusal as JSON\n");
	json_decref(j);
	fflush(stdout);
}

void refusal_print(const struct ctl_args *a, const char *code, const char *message)
{
	fprintf(stderr, "regzonectl: %s: ", code);
	put_safe(stderr, message);
	fputc('\n', stderr);
	refusal_json(a, code, message);
}

int print_json(json_t *v)
{
	char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc = EXIT_REFUSED;

	if (text == NULL)
		fprintf(stderr, "regzonectl: out of memory\n");
	else if (printf("%s\n", text) > 0)
		rc = EXIT_OK;
	free(text);
	return rc;
}

static void state_print_human(const struct rz_state *s)
{
	printf("domain       ");
	put_safe(stdout, s->domain);
	printf("\nservice      ");
	put_safe(stdout, s->service);
	printf("\ndesired      %s\ndns          %s\ncertificate  %s", rz_desired_name(s->desired),
	       rz_dns_name(s->dns), rz_cert_name(s->cert));
	if (s->not_after[0] != '\0') {
		printf(", not after ");
		put_safe(stdout, s->not_after);
	}
	if (s->serial[0] != '\0') {
		printf(", serial ");
		put_safe(stdout, s->serial);
	}
	printf("\nactive       %s\nlast error   ", s->active ? "yes" : "no");
	put_safe(stdout, s->last_error[0] != '\0' ? s->last_error : "-");
	printf("\nupdated at   ");
	put_safe(stdout, s->updated_at[0] != '\0' ? s->updated_at : "-");
	printf("\nprimary      ");
	put_safe(stdout, s->primary[0] != '\0' ? s->primary : "-");
	printf("\n");
}

/* A state as the user asked for it (--json: one line). */
int state_print(const struct ctl_args *a, const struct rz_state *s)
{
	json_t *j;
	int rc;

	if (!a->json) {
		state_print_human(s);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
	}
	j = rz_state_json(s);
	rc = print_json(j);
	json_decref(j);
	return rc;
}

/* ------------------------------------------------------------- command line */

static const struct ctl_cmd commands[] = {
	{ "preview", cmd_preview, 1, 1, OPT_PROFILE | OPT_PARAM, 0,
	  "preview DOMAIN [--profile P] [--param K=V]...",
	  "Print the zone-file records the profile generates for DOMAIN and the names its\n"
	  "certificate would cover.  Needs no daemon, database or knotd." },
	{ "migrate", cmd_migrate, 0, 1, 0, 0, "migrate",
	  "Apply the database migrations regzone's schema lacks (regzoned does it at start)." },
	{ "keygen", cmd_keygen, 1, 0, 0, 0, "keygen DIR",
	  "Write a CURVE key pair to DIR (curve.key mode 0600, curve.pub), for\n"
	  "listen.curve: the server's, or a client's (give its public key to the server's\n"
	  "listen.curve.clients)." },
	{ "enable", cmd_enable, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_PARAM | OPT_ID, 0,
	  "enable DOMAIN [--profile P] [--param K=V]... [--id ID] [--json]",
	  "Ask regzoned to publish the profile's records for DOMAIN and obtain its\n"
	  "certificate.  Prints the state once the request is stored; the work follows\n"
	  "(see wait).  The same --id again returns the first reply and changes nothing." },
	{ "disable", cmd_disable, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID, 0,
	  "disable DOMAIN [--id ID] [--json]",
	  "Ask regzoned to remove exactly the records it added for DOMAIN (the service\n"
	  "of --profile, default the default profile's) and its certificate files." },
	{ "renew", cmd_renew, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID, 0,
	  "renew DOMAIN [--id ID] [--json]",
	  "Ask regzoned for a new certificate for DOMAIN now, whatever its renewal time." },
	{ "status", cmd_status, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_ID | OPT_POS_OPTIONAL, 0,
	  "status [DOMAIN] [--json]",
	  "Print DOMAIN's state as regzoned has it.  While regzoned answers \"unavailable\"\n"
	  "(its database restarting) it is asked again until --timeout.  Without DOMAIN:\n"
	  "each Knot primary (whether it answers, its zones, its servers) and the zones\n"
	  "listed by more than one primary, which regzoned refuses; then the rate-limit\n"
	  "budget (each acme.limits limit: used/max per window, the busiest key) and the\n"
	  "orders waiting for it by priority; exit 1 when a primary does not answer, a\n"
	  "zone is ambiguous or the database cannot be read." },
	{ "wait", cmd_wait, 1, 1, OPT_DAEMON | OPT_PROFILE | OPT_UNTIL, OPT_UNTIL,
	  "wait DOMAIN --until active|published|conflict|disabled|failed [--timeout S] [--json]",
	  "Wait until DOMAIN's state meets the condition (from the state feed and status\n"
	  "requests), at most --timeout seconds; exit 1 with the last state when it does\n"
	  "not.  Transient \"unavailable\" replies are asked again." },
	{ "list", cmd_list, 0, 1, OPT_STATE | OPT_JSON, 0, "list [--state S] [--json]",
	  "Print every (domain, service) from the database, or those in state S: a dns\n"
	  "state, a certificate state (ordering, issued, renewing, failed), active,\n"
	  "enabled, disabled, or waiting (an order held back by the rate-limit budget)." },
	{ "diff", cmd_diff, 1, 1, OPT_PROFILE | OPT_PARAM, 0,
	  "diff DOMAIN [--profile P] [--param K=V]...",
	  "Compare the records the stored profile and params (or --profile/--param)\n"
	  "generate with what knotd serves at the same owners and types: + missing,\n"
	  "- unexpected.  Exit 0 when in sync, 1 otherwise." },
	{ "retry", cmd_retry, 1, 1, 0, 0, "retry DOMAIN",
	  "Make every job of DOMAIN due now with its failures forgotten; a service in\n"
	  "conflict or error goes back to pending.  Audited with the user who asked." },
	{ "logs", cmd_logs, 1, 1, OPT_JSON, 0, "logs DOMAIN [--json]",
	  "Print DOMAIN's audit trail: events, steps, records added and removed, errors." },
};

static const struct ctl_cmd *command_named(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

/* help COMMAND: its synopsis and what it does. */
static int command_help(const char *name)
{
	const struct ctl_cmd *c = command_named(name);

	if (c == NULL) {
		fprintf(stderr, "regzonectl: unknown command '%s'\n", name);
		return EXIT_USAGE;
	}
	printf("usage: regzonectl [-c FILE] %s\n\n%s\n", c->help, c->about);
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: regzonectl [-c FILE] COMMAND [ARGS] [OPTIONS]\n"
	        "       regzonectl help [COMMAND]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s\n", commands[i].help);
	fprintf(f, "options (before or after the command):\n"
	        "  -c, --config FILE  regzone's configuration, as for regzoned (default\n"
	        "                     $REGZONE_CONFIG, then " CTL_DEFAULT_CONFIG ")\n"
	        "  --timeout S        seconds to wait for regzoned (default %d; wait: %d)\n"
	        "  --key DIR          this client's CURVE key pair (\"keygen DIR\") when\n"
	        "                     listen.curve is on; default $REGZONE_CURVE_KEY_DIR\n"
	        "  --json             print states (and logs) as JSON, one line\n"
	        "  --profile P        enable/preview/diff: the profile; other daemon commands:\n"
	        "                     the service it provides (default profile otherwise)\n"
	        "  --state S          list: one of ", CTL_REQ_TIMEOUT, CTL_WAIT_TIMEOUT);
	print_names(f, list_state_names);
	fprintf(f, "\n"
	        "diff compares the stored profile and params (or --profile/--param when\n"
	        "given) with what knotd serves at the same owners and types.\n"
	        "exit status: 0 success, 1 refused or failed, 2 usage error,\n"
	        "             3 regzoned unreachable (with --json, a refusal is also\n"
	        "             {\"ok\":false,\"error\":{\"code\",\"message\"}} on stdout)\n");
}

/* Options may come before or after the command; returns EXIT_USAGE on error. */
static int parse_args(int argc, char **argv, struct ctl_args *a, const char **cmd)
{
	static const struct { const char *name; size_t off; unsigned bit; } valued[] = {
		{ "-c", offsetof(struct ctl_args, config), 0 },
		{ "--config", offsetof(struct ctl_args, config), 0 },
		{ "--profile", offsetof(struct ctl_args, profile), OPT_PROFILE },
		{ "--id", offsetof(struct ctl_args, id), OPT_ID },
		{ "--until", offsetof(struct ctl_args, until), OPT_UNTIL },
		{ "--state", offsetof(struct ctl_args, state), OPT_STATE },
		{ "--timeout", offsetof(struct ctl_args, timeout), OPT_TIMEOUT },
		{ "--key", offsetof(struct ctl_args, key), OPT_KEY },
	};

	*cmd = NULL;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		size_t k;

		for (k = 0; k < sizeof(valued) / sizeof(valued[0]); k++)
			if (strcmp(arg, valued[k].name) == 0)
				break;
		if (k < sizeof(valued) / sizeof(valued[0])) {
			if (i + 1 >= argc) {
				fprintf(stderr, "regzonectl: %s needs a value\n", arg);
				return EXIT_USAGE;
			}
			*(const char **)((char *)a + valued[k].off) = argv[++i];
			a->seen |= valued[k].bit;
		} else if (strcmp(arg, "--json") == 0) {
			a->json = 1;
			a->seen |= OPT_JSON;
		} else if (strcmp(arg, "--param") == 0) {
			char *eq;

			if (i + 1 >= argc || (eq = strchr(argv[i + 1], '=')) == NULL ||
			    eq == argv[i + 1]) {
				fprintf(stderr, "regzonectl: --param needs K=V\n");
				return EXIT_USAGE;
			}
			if (a->n_params == ZG_MAX_PARAMS) {
				fprintf(stderr, "regzonectl: too many --param\n");
				return EXIT_USAGE;
			}
			*eq = '\0';
			for (size_t j = 0; j < a->n_params; j++)
				if (strcmp(a->params[j].key, argv[i + 1]) == 0) {
					fprintf(stderr, "regzonectl: --param %s given twice\n", argv[i + 1]);
					return EXIT_USAGE;
				}
			a->params[a->n_params].key = argv[++i];
			a->params[a->n_params++].val = eq + 1;
			a->seen |= OPT_PARAM;
		} else if (arg[0] == '-' && arg[1] != '\0') {
			fprintf(stderr, "regzonectl: unknown option '%s'\n", arg);
			return EXIT_USAGE;
		} else if (*cmd == NULL) {
			*cmd = arg;
		} else if (a->n_pos < sizeof(a->pos) / sizeof(a->pos[0])) {
			a->pos[a->n_pos++] = argv[i];
		} else {
			fprintf(stderr, "regzonectl: too many arguments\n");
			return EXIT_USAGE;
		}
	}
	return EXIT_OK;
}

/* Options the command does not take or needs, and values of the wrong
 * form: EXIT_USAGE with a message, before anything else is done. */
static int check_options(struct ctl_args *a, const struct ctl_cmd *c)
{
	for (size_t b = 0; b < sizeof(opt_names) / sizeof(opt_names[0]); b++) {
		if ((a->seen & ~c->opts) & (1u << b)) {
			fprintf(stderr, "regzonectl: %s does not take %s\n", c->name, opt_names[b]);
			return EXIT_USAGE;
		}
		if ((c->required & ~a->seen) & (1u << b)) {
			fprintf(stderr, "regzonectl: %s needs %s\nusage: regzonectl [-c FILE] %s\n",
			        c->name, opt_names[b], c->help);
			return EXIT_USAGE;
		}
	}
	if (a->timeout != NULL) {
		char *end;
		long v;

		errno = 0;
		v = strtol(a->timeout, &end, 10);
		if (errno != 0 || end == a->timeout || *end != '\0' || v < 1 || v > CTL_TIMEOUT_MAX) {
			fprintf(stderr, "regzonectl: --timeout needs whole seconds, 1..%d\n",
			        CTL_TIMEOUT_MAX);
			return EXIT_USAGE;
		}
		a->timeout_s = (int)v;
	}
	if (a->id != NULL && (a->id[0] == '\0' || strlen(a->id) > CTL_ID_MAX ||
	                      strspn(a->id, RZ_REQ_ID_CHARS) != strlen(a->id))) {
		fprintf(stderr, "regzonectl: --id needs 1..%d characters of A-Z a-z 0-9 . _ : @ / + = -\n",
		        CTL_ID_MAX);
		return EXIT_USAGE;
	}
	if (a->until != NULL && name_index(until_names, a->until) < 0) {
		fprintf(stderr, "regzonectl: --until needs one of ");
		print_names(stderr, until_names);
		fprintf(stderr, "\n");
		return EXIT_USAGE;
	}
	if (a->state != NULL && name_index(list_state_names, a->state) < 0) {
		fprintf(stderr, "regzonectl: --state needs one of ");
		print_names(stderr, list_state_names);
		fprintf(stderr, "\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int main(int argc, char **argv)
{
	struct ctl_args a;
	struct rz_config *cfg = NULL;
	const struct ctl_cmd *c = NULL;
	const char *cmd;
	int rc;

	memset(&a, 0, sizeof(a));
	/* regzonectl --help, help, help COMMAND, COMMAND --help */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			if (argc == 3 && i == 2 && command_named(argv[1]) != NULL)
				return command_help(argv[1]);
			usage(stdout);
			return EXIT_OK;
		}
	if (argc >= 2 && strcmp(argv[1], "help") == 0) {
		if (argc == 2) {
			usage(stdout);
			return EXIT_OK;
		}
		if (argc == 3)
			return command_help(argv[2]);
		fprintf(stderr, "usage: regzonectl help [COMMAND]\n");
		return EXIT_USAGE;
	}
	if ((rc = parse_args(argc, argv, &a, &cmd)) != EXIT_OK)
		return rc;
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	c = command_named(cmd);
	if (c == NULL) {
		fprintf(stderr, "regzonectl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (a.n_pos != c->n_pos && !((c->opts & OPT_POS_OPTIONAL) && a.n_pos == 0)) {
		fprintf(stderr, "usage: regzonectl [-c FILE] %s\n", c->help);
		return EXIT_USAGE;
	}
	if ((rc = check_options(&a, c)) != EXIT_OK)
		return rc;
	if (c->needs_config && (rc = load_config(&a, &cfg)) != EXIT_OK)
		return rc;
	rz_log_set_level(RZ_LOG_WARN);
	rc = c->run(&a, cfg);
	rz_config_free(cfg);
	return rc;
}

