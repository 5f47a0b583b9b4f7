/*
 * ctl_diff.c - regzonectl diff: the records regzone generates against those knotd serves.
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

/* ------------------------------------------------------------------ diff */

/* The records diff looks at: every one a profile generates for the domain
 * (its owner and type set the scope), and whether regzone wants it now. */
struct diff_set {
	struct zg_krec *recs;
	bool *wanted;
	size_t n;
};

/* Expand p for domain with params and add the records. */
static int diff_add(struct diff_set *d, const struct zg_profile *p, const char *domain,
                    const struct zg_kv *params, size_t n_params, bool wanted,
                    const char *origin, const char *account)
{
	struct zg_rr *rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs));
	struct zg_krec *recs;
	bool *w;
	char err[512];
	size_t n;
	int rc = EXIT_REFUSED;

	if (rrs == NULL)
		goto oom;
	/* regzonectl has no ACME account: {acme_account_uri} is the account
	 * of regzone's last order (acme_events), or shows as the placeholder,
	 * so a CAA record with it then differs from the one served (said). */
	if (account == NULL && zg_profile_uses_account_uri(p) && wanted)
		fprintf(stderr, "regzonectl: profile '%s' uses {acme_account_uri}: shown as %s "
		        "(no order in the database tells regzone's ACME account)\n", p->name,
		        ZG_ACCOUNT_URI_PLACEHOLDER);
	if (zg_expand_with(p, domain, &(struct zg_builtins){
	                   account != NULL ? account : ZG_ACCOUNT_URI_PLACEHOLDER }, params,
	                   n_params, rrs, &n, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: profile '%s' (%s) for %s: %s\n", p->name, origin,
		        domain, err);
		goto out;
	}
	if ((recs = realloc(d->recs, (d->n + n) * sizeof(*recs))) == NULL)
		goto oom;
	d->recs = recs;
	if ((w = realloc(d->wanted, (d->n + n) * sizeof(*w))) == NULL)
		goto oom;
	d->wanted = w;
	for (size_t i = 0; i < n; i++) {
		zg_krec_from_rr(&rrs[i], &d->recs[d->n]);
		d->wanted[d->n++] = wanted;
	}
	rc = EXIT_OK;
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	free(rrs);
	return rc;
}

/* The stored params (a jsonb object of strings) as zg_kv pointing into *obj. */
static int diff_params(const char *text, json_t **obj, struct zg_kv *kv, size_t *n)
{
	json_error_t je;
	const char *key;
	json_t *v;

	*n = 0;
	*obj = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*obj) || json_object_size(*obj) > ZG_MAX_PARAMS)
		return -1;
	json_object_foreach(*obj, key, v) {
		if (!json_is_string(v))
			return -1;
		kv[*n].key = key;
		kv[(*n)++].val = json_string_value(v);
	}
	return 0;
}

/* What regzone generates for domain: the services rows' profiles and params
 * (nothing wanted while disabled), or --profile / --param when given, or
 * the default profile for an unknown domain. */
static int diff_generated(const struct ctl_args *a, const struct rz_config *cfg, PGconn *db,
                          const char *domain, struct diff_set *d)
{
	const char *p[1] = { domain };
	const struct zg_profile *prof;
	PGresult *r = NULL, *acct = NULL;
	const char *account = NULL;
	json_t *obj = NULL;
	int rc = EXIT_REFUSED;

	if (!(a->seen & (OPT_PROFILE | OPT_PARAM))) {
		r = db_run(db, "services", "SELECT service, profile, params::text, desired "
		           "FROM services WHERE domain = $1 ORDER BY service", 1, p, PGRES_TUPLES_OK);
		if (r == NULL)
			return EXIT_REFUSED;
		/* the account regzone last ordered with: {acme_account_uri} */
		acct = db_run(db, "acme_events", "SELECT account FROM acme_events WHERE account IS "
		              "NOT NULL ORDER BY id DESC LIMIT 1", 0, NULL, PGRES_TUPLES_OK);
		if (acct != NULL && PQntuples(acct) == 1)
			account = PQgetvalue(acct, 0, 0);
	}
	if (r == NULL || PQntuples(r) == 0) {
		PQclear(r);
		if ((rc = arg_profile(a, cfg, &prof)) != EXIT_OK) {
			PQclear(acct);
			return rc;
		}
		rc = diff_add(d, prof, domain, a->params, a->n_params, true,
		              a->seen & (OPT_PROFILE | OPT_PARAM) ? "given" : "default", account);
		PQclear(acct);
		return rc;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct zg_kv kv[ZG_MAX_PARAMS];
		size_t n;

		prof = rz_config_profile(cfg, PQgetvalue(r, i, 1));
		if (prof == NULL) {
			fprintf(stderr, "regzonectl: %s (", domain);
			put_safe(stderr, PQgetvalue(r, i, 0));
			fprintf(stderr, ") uses profile '");
			put_safe(stderr, PQgetvalue(r, i, 1));
			fprintf(stderr, "', which %s does not define\n", cfg->path);
			goto out;
		}
		if (diff_params(PQgetvalue(r, i, 2), &obj, kv, &n) != 0) {
			fprintf(stderr, "regzonectl: %s: stored params are not an object of strings\n",
			        domain);
			goto out;
		}
		if ((rc = diff_add(d, prof, domain, kv, n, strcmp(PQgetvalue(r, i, 3), "enabled") == 0,
		                   "stored", account)) != EXIT_OK)
			goto out;
		rc = EXIT_REFUSED;
		json_decref(obj);
		obj = NULL;
	}
	rc = EXIT_OK;
out:
	json_decref(obj);
	PQclear(r);
	PQclear(acct);
	return rc;
}

/* A served record the profile would replace: same owner and type, except
 * TXT, whose sets are additive (a customer's SPF beside a verification
 * token is no difference, as the writer's conflict rules say). */
static bool diff_in_scope(const struct diff_set *d, const struct zg_krec *rec)
{
	if (strcasecmp(rec->type, "TXT") == 0)
		return false;
	for (size_t i = 0; i < d->n; i++)
		if (strcasecmp(d->recs[i].owner, rec->owner) == 0 &&
		    strcasecmp(d->recs[i].type, rec->type) == 0)
			return true;
	return false;
}

static bool diff_wanted(const struct diff_set *d, size_t upto, const struct zg_krec *rec)
{
	for (size_t i = 0; i < upto; i++)
		if (d->wanted[i] && zg_krec_equal(&d->recs[i], rec))
			return true;
	return false;
}

static void diff_line(char sign, const struct zg_krec *rec)
{
	printf("%c ", sign);
	put_safe(stdout, rec->owner);
	printf(" %u ", rec->ttl);
	put_safe(stdout, rec->type);
	printf(" ");
	put_safe(stdout, rec->data);
	printf("\n");
}

/* Served vs generated at one owner: the number of lines printed, or -1. */
static int diff_owner(struct zg_knot *k, const char *zone, const struct diff_set *d,
                      const char *owner)
{
	struct zg_krec *served = NULL;
	size_t n_served;
	char err[512];
	int lines = 0;

	if (zg_knot_read(k, zone, owner, &served, &n_served, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: knotd: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < n_served; i++)
		if (diff_in_scope(d, &served[i]) && !diff_wanted(d, d->n, &served[i])) {
			diff_line('-', &served[i]);
			lines++;
		}
	for (size_t i = 0; i < d->n; i++) {
		bool there = false;

		if (!d->wanted[i] || strcasecmp(d->recs[i].owner, owner) != 0 ||
		    diff_wanted(d, i, &d->recs[i]))   /* printed already */
			continue;
		for (size_t j = 0; j < n_served && !there; j++)
			there = zg_krec_equal(&d->recs[i], &served[j]);
		if (!there) {
			diff_line('+', &d->recs[i]);
			lines++;
		}
	}
	free(served);
	return lines;
}

/* The primary serving domain's closest zone (knot.primaries in order; the
 * closest zone wins), connected in *k with zone set: 0, or -1 (printed). */
static int diff_connect(const struct rz_config *cfg, const char *domain, struct zg_knot **k,
                        char *zone, size_t zonelen)
{
	char err[512] = "", why[2048] = "", z[ZG_OWNER_SIZE];
	size_t wl = 0;
	int found = -1;

	*k = NULL;
	for (size_t i = 0; i < cfg->n_primaries; i++) {
		const struct rz_primary *p = &cfg->primaries[i];
		struct zg_knot *c = NULL;

		if (zg_knot_open(p->socket, p->timeout_ms, &c, err, sizeof(err)) != 0 ||
		    zg_knot_zone_of(c, domain, z, sizeof(z), err, sizeof(err)) != 0) {
			if (wl < sizeof(why))   /* told only when no primary serves it */
				wl += (size_t)snprintf(why + wl, sizeof(why) - wl, "regzonectl: knot "
				                       "primary '%s': %s\n", p->name, err);
			zg_knot_close(c);
			continue;
		}
		if (*k != NULL && strlen(z) <= strlen(zone)) {
			zg_knot_close(c);
			continue;
		}
		zg_knot_close(*k);
		*k = c;
		snprintf(zone, zonelen, "%s", z);
		found = (int)i;
	}
	if (found < 0 && cfg->n_primaries <= 1)
		fprintf(stderr, "regzonectl: knotd: %s\n", err);
	else if (found < 0)
		fprintf(stderr, "%sregzonectl: no knot primary serves a zone holding %s\n", why,
		        domain);
	return found < 0 ? -1 : 0;
}

/* diff DOMAIN: "+" generated but not served, "-" served (same owner and
 * type) but not generated; "in sync" when there is neither. */
int cmd_diff(const struct ctl_args *a, struct rz_config *cfg)
{
	char domain[ZG_OWNER_SIZE], zone[ZG_OWNER_SIZE];
	struct diff_set d = { 0 };
	struct zg_knot *k = NULL;
	PGconn *db = NULL;
	int rc, lines = 0;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK)
		return rc;
	if (!(a->seen & (OPT_PROFILE | OPT_PARAM)) && (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	if ((rc = diff_generated(a, cfg, db, domain, &d)) != EXIT_OK)
		goto out;
	rc = EXIT_REFUSED;
	if (diff_connect(cfg, domain, &k, zone, sizeof(zone)) != 0)
		goto out;
	for (size_t i = 0; i < d.n; i++) {
		bool seen = false;
		int n;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcasecmp(d.recs[j].owner, d.recs[i].owner) == 0;
		if (seen)
			continue;
		if ((n = diff_owner(k, zone, &d, d.recs[i].owner)) < 0)
			goto out;
		lines += n;
	}
	if (lines == 0)
		printf("in sync\n");
	rc = fflush(stdout) != 0 ? EXIT_REFUSED : lines == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	zg_knot_close(k);
	PQfinish(db);
	free(d.recs);
	free(d.wanted);
	return rc;
}

