/*
 * certs_caa.c - the CAA check before an order (RFC 8659, RFC 8657): would
 * the CA be allowed to issue for the certificate's names?  A refusal
 * found here costs no order and no failed validation at the CA.
 *
 * The relevant RRset of each name (RFC 8659 section 3: the first
 * non-empty CAA RRset from the name toward the root) is looked for on the
 * authoritative servers of the job's Knot primary (those rz_publish_check()
 * asks), from the name up to the zone's apex.  Above the apex these
 * servers are not authoritative: the parents of the zone (the registered
 * domain's parent zones, the TLD) are NOT checked, nor the target of a
 * certificate name that is a CNAME into another zone (the CA follows the
 * alias; dnscheck.h skips the CNAME, and the climb goes on with the
 * parent).  Each server is asked, and any of them that forbids forbids:
 * the CA may ask any of them.  A server that cannot be asked makes the
 * step retry (RFC 8659: a CA must not issue when the lookup fails), never
 * counts as "no CAA".
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/certs_int.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "zonegen/caa.h"
#include "zonegen/dnscheck.h"

#define CAA_MAX_RRS 16   /* CAA records one RRset may have here */

/* The lookups' buffers. */
struct caa_buf {
	struct zg_rr rr[CAA_MAX_RRS];
	struct zg_caa caa[CAA_MAX_RRS];
};

/* owner without its trailing dot, lowercase, into out. */
static void name_norm(const char *in, char *out, size_t len)
{
	size_t n;

	snprintf(out, len, "%s", in);
	n = strlen(out);
	if (n > 0 && out[n - 1] == '.')
		out[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
}

/* Is name zone or below it? */
static bool within(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);

	return n == z ? strcmp(name, zone) == 0 :
	       n > z && name[n - z - 1] == '.' && strcmp(name + n - z, zone) == 0;
}

/*
 * The relevant RRset for name on srv, within zone: *n records parsed into
 * b->caa, found at owner (the zone's apex when none was found).  0, or an
 * error with err.
 */
static int relevant(const struct zg_dns_server *srv, const char *name, const char *zone,
                    uint32_t timeout_ms, struct caa_buf *b, size_t *n, char *owner,
                    size_t ownerlen, char *err, size_t errlen)
{
	const char *cand = name;
	char why[512];
	int ret;

	for (;;) {
		snprintf(owner, ownerlen, "%s", cand);
		ret = zg_dns_query(srv, cand, ZG_RR_CAA, timeout_ms, b->rr, CAA_MAX_RRS, n, why,
		                   sizeof(why));
		if (ret == ZG_ERANGE) {
			snprintf(err, errlen, "CAA at %s: more than %d records", cand, CAA_MAX_RRS);
			return RZ_ERANGE;
		}
		if (ret != 0) {
			snprintf(err, errlen, "CAA lookup at %s: %s", cand, why);
			return RZ_EIO;
		}
		for (size_t i = 0; i < *n; i++)
			if (zg_caa_parse(b->rr[i].data, &b->caa[i], why, sizeof(why)) != 0) {
				snprintf(err, errlen, "CAA at %s: %s", cand, why);
				return RZ_EIO;
			}
		/* the apex, or a name outside the zone (asked, not climbed from) */
		if (*n > 0 || strcmp(cand, zone) == 0 || !within(cand, zone))
			return 0;
		cand = strchr(cand, '.') + 1;   /* within(): a label is left above */
	}
}

int cs_caa_check(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                 struct rz_step_out *o, const char *const *names, size_t n_names,
                 const char *account_uri)
{
	const struct rz_primary *pr = rz_config_primary(x->cfg, job->primary);
	struct zg_caa_ask ask = { NULL, 0, account_uri, "dns-01", false };
	char zone[ZG_OWNER_SIZE], name[ZG_OWNER_SIZE], owner[ZG_OWNER_SIZE];
	char err[1024], msg[1024];
	struct caa_buf *b;
	size_t n;
	int ret;

	if (pr == NULL) {
		snprintf(err, sizeof(err), "CAA: knot primary '%s' is not in the configuration "
		         "(any more)", job->primary);
		cs_retry(o, job, err);
		return 1;
	}
	if ((b = malloc(sizeof(*b))) == NULL) {
		cs_retry(o, job, "out of memory");
		return 1;
	}
	ask.n_identities = rz_config_caa_identities(x->cfg, &ask.identities);
	name_norm(job->zone, zone, sizeof(zone));
	for (size_t i = 0; i < n_names; i++) {
		name_norm(names[i], name, sizeof(name));
		/* no wildcard is ordered: 'issue' applies (RFC 8659 4.3) */
		ask.wildcard = strncmp(name, "*.", 2) == 0;
		for (size_t k = 0; k < pr->n_servers; k++) {
			struct zg_dns_server srv = { pr->servers[k].address, pr->servers[k].port };

			ret = relevant(&srv, ask.wildcard ? name + 2 : name, zone,
			               x->cfg->dns_timeout_ms, b, &n, owner, sizeof(owner), err,
			               sizeof(err));
			if (ret != 0) {
				free(b);
				cs_retry(o, job, err);
				return 1;
			}
			if (!zg_caa_eval(b->caa, n, owner, &ask, msg, sizeof(msg))) {
				free(b);
				cs_give_up(o, job, st, msg);
				return 1;
			}
			if (n > 0 && k == 0)
				rz_log_zone(RZ_LOG_INFO, job->domain, "%s (for %s)", msg, name);
		}
	}
	free(b);
	return 0;
}
