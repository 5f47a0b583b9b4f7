/*
 * ctl_local.c - regzonectl's commands that need no daemon: preview, migrate, keygen.
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
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

int cmd_preview(const struct ctl_args *a, struct rz_config *cfg)
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
	/* regzonectl has no ACME account: {acme_account_uri} is shown as the
	 * placeholder, and said so. */
	if (zg_expand_with(p, domain, &(struct zg_builtins){ ZG_ACCOUNT_URI_PLACEHOLDER },
	                   a->params, a->n_params, rrs, &n, err, sizeof(err)) != 0 ||
	    zg_cert_names(p, domain, names, &n_names) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	printf("; regzone: profile '%s' (service %s) for %s\n", p->name, p->service, domain);
	if (zg_profile_uses_account_uri(p))
		printf("; {acme_account_uri} is shown as %s: regzoned writes the URL of its "
		       "ACME account there\n", ZG_ACCOUNT_URI_PLACEHOLDER);
	if (zg_render(rrs, n, stdout) != 0)
		return EXIT_REFUSED;
	printf("; certificate names:");
	for (size_t i = 0; i < n_names; i++)
		printf(" %s", names[i]);
	printf("\n");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
}

int cmd_migrate(const struct ctl_args *a, struct rz_config *cfg)
{
	PGconn *db = NULL;
	char err[1024];
	int applied = 0, rc = EXIT_REFUSED;

	(void)a;
	if (db_connect(cfg, &db, err, sizeof(err)) != 0 ||
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

int cmd_keygen(const struct ctl_args *a, struct rz_config *cfg)
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

