/*
 * regzonectl - the operators' tool.
 *
 *   regzonectl -c FILE COMMAND [ARGS] [--profile P] [--param K=V]... [--json]
 *
 * Exit codes: 0 success, 1 refused request, 2 usage error, 3 daemon
 * unreachable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon/config.h"
#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "zonegen/zonegen.h"

enum { EXIT_OK = 0, EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_UNREACHABLE = 3 };

struct ctl_args {
	const char *config;
	const char *profile;
	const char *id;
	const char *until;
	const char *state;
	const char *timeout;
	int json;
	struct zg_kv params[ZG_MAX_PARAMS];
	size_t n_params;
	char *pos[4];            /* positional arguments after the command */
	size_t n_pos;
};

struct ctl_cmd {
	const char *name;
	int (*run)(const struct ctl_args *a, struct rz_config *cfg);
	size_t n_pos;            /* positional arguments it takes */
	int needs_config;
	const char *help;
};

static int load_config(const struct ctl_args *a, struct rz_config **cfg)
{
	char err[1024];

	if (a->config == NULL) {
		fprintf(stderr, "regzonectl: -c FILE is required for this command\n");
		return EXIT_USAGE;
	}
	if (rz_config_load(a->config, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

static int cmd_preview(const struct ctl_args *a, struct rz_config *cfg)
{
	const struct zg_profile *p = rz_config_profile(cfg, a->profile);
	char domain[ZG_OWNER_SIZE], err[512], names[ZG_MAX_CERT_NAMES][ZG_OWNER_SIZE];
	struct zg_rr rrs[ZG_MAX_RECORDS];
	size_t n, n_names;

	if (p == NULL) {
		fprintf(stderr, "regzonectl: unknown profile '%s'\n", a->profile);
		return EXIT_REFUSED;
	}
	if (zg_dname_check(a->pos[0], domain, sizeof(domain), err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: invalid domain: %s\n", err);
		return EXIT_REFUSED;
	}
	if (zg_expand(p, domain, a->params, a->n_params, rrs, &n, err, sizeof(err)) != 0 ||
	    zg_cert_names(p, domain, names, &n_names) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	printf("; regzone: profile '%s' (service %s) for %s\n", p->name, p->service, domain);
	if (zg_render(rrs, n, stdout) != 0)
		return EXIT_REFUSED;
	printf("; certificate names:");
	for (size_t i = 0; i < n_names; i++)
		printf(" %s", names[i]);
	printf("\n");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
}

static int cmd_migrate(const struct ctl_args *a, struct rz_config *cfg)
{
	PGconn *db = NULL;
	char err[1024];
	int applied = 0, rc = EXIT_REFUSED;

	(void)a;
	if (db_connect(cfg->db_conninfo, &db, err, sizeof(err)) != 0 ||
	    db_migrate(db, &applied, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		goto out;
	}
	printf("%d migration%s applied, schema at version %d\n", applied,
	       applied == 1 ? "" : "s",
	       db_n_migrations ? db_migrations[db_n_migrations - 1].version : 0);
	rc = EXIT_OK;
out:
	PQfinish(db);
	return rc;
}

/* Write text to path, created new with mode; refuses to overwrite. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (fd < 0) {
		fprintf(stderr, "regzonectl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		fprintf(stderr, "regzonectl: %s: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return close(fd);
}

static int cmd_keygen(const struct ctl_args *a, struct rz_config *cfg)
{
	char pub[41], sec[41], pubpath[4096], secpath[4096], line[64];
	int rc = EXIT_REFUSED;

	(void)cfg;
	if (mkdir(a->pos[0], 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "regzonectl: %s: %s\n", a->pos[0], strerror(errno));
		return EXIT_REFUSED;
	}
	snprintf(secpath, sizeof(secpath), "%s/curve.key", a->pos[0]);
	snprintf(pubpath, sizeof(pubpath), "%s/curve.pub", a->pos[0]);
	if (zmq_curve_keypair(pub, sec) != 0) {
		fprintf(stderr, "regzonectl: CURVE unavailable: %s\n", zmq_strerror(errno));
		return EXIT_REFUSED;
	}
	snprintf(line, sizeof(line), "%s\n", sec);
	if (write_new(secpath, line, 0600) != 0)
		goto out;
	snprintf(line, sizeof(line), "%s\n", pub);
	if (write_new(pubpath, line, 0644) != 0) {
		unlink(secpath);
		goto out;
	}
	printf("secret key: %s (mode 0600)\npublic key: %s\n%s\n", secpath, pubpath, pub);
	rc = EXIT_OK;
out:
	explicit_bzero(sec, sizeof(sec));
	explicit_bzero(line, sizeof(line));
	return rc;
}

static int cmd_needs_daemon(const struct ctl_args *a, struct rz_config *cfg)
{
	(void)a;
	(void)cfg;
	fprintf(stderr, "regzonectl: this command talks to regzoned's request intake, "
	        "which is not built yet\n");
	return EXIT_REFUSED;
}

static const struct ctl_cmd commands[] = {
	{ "preview", cmd_preview, 1, 1, "preview DOMAIN [--profile P] [--param K=V]" },
	{ "migrate", cmd_migrate, 0, 1, "migrate" },
	{ "keygen", cmd_keygen, 1, 0, "keygen DIR" },
	{ "enable", cmd_needs_daemon, 1, 1, "enable DOMAIN [--profile P] [--id ID]" },
	{ "disable", cmd_needs_daemon, 1, 1, "disable DOMAIN" },
	{ "renew", cmd_needs_daemon, 1, 1, "renew DOMAIN" },
	{ "status", cmd_needs_daemon, 1, 1, "status DOMAIN [--json]" },
	{ "wait", cmd_needs_daemon, 1, 1, "wait DOMAIN --until STATE [--timeout S]" },
	{ "list", cmd_needs_daemon, 0, 1, "list [--state S] [--json]" },
	{ "diff", cmd_needs_daemon, 1, 1, "diff DOMAIN" },
	{ "retry", cmd_needs_daemon, 1, 1, "retry DOMAIN" },
	{ "logs", cmd_needs_daemon, 1, 1, "logs DOMAIN" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: regzonectl -c FILE COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %s%s\n", commands[i].help,
		        commands[i].run == cmd_needs_daemon ? "   (needs the daemon: not built yet)" : "");
}

/* Options may come before or after the command; returns EXIT_USAGE on error. */
static int parse_args(int argc, char **argv, struct ctl_args *a, const char **cmd)
{
	static const struct { const char *name; size_t off; } valued[] = {
		{ "-c", offsetof(struct ctl_args, config) },
		{ "--config", offsetof(struct ctl_args, config) },
		{ "--profile", offsetof(struct ctl_args, profile) },
		{ "--id", offsetof(struct ctl_args, id) },
		{ "--until", offsetof(struct ctl_args, until) },
		{ "--state", offsetof(struct ctl_args, state) },
		{ "--timeout", offsetof(struct ctl_args, timeout) },
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
		} else if (strcmp(arg, "--json") == 0) {
			a->json = 1;
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
			a->params[a->n_params].key = argv[++i];
			a->params[a->n_params++].val = eq + 1;
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

int main(int argc, char **argv)
{
	struct ctl_args a;
	struct rz_config *cfg = NULL;
	const struct ctl_cmd *c = NULL;
	const char *cmd;
	int rc;

	memset(&a, 0, sizeof(a));
	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if ((rc = parse_args(argc, argv, &a, &cmd)) != EXIT_OK)
		return rc;
	if (cmd == NULL) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			c = &commands[i];
	if (c == NULL) {
		fprintf(stderr, "regzonectl: unknown command '%s'\n", cmd);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (a.n_pos != c->n_pos) {
		fprintf(stderr, "usage: regzonectl -c FILE %s\n", c->help);
		return EXIT_USAGE;
	}
	if (c->needs_config && (rc = load_config(&a, &cfg)) != EXIT_OK)
		return rc;
	rz_log_set_level(RZ_LOG_WARN);
	rc = c->run(&a, cfg);
	rz_config_free(cfg);
	return rc;
}
