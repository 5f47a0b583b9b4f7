/*
 * plan.c - what one publication must set and unset, and whether a
 * customer's records forbid it.  Pure: no I/O, unit-tested on its own.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zonegen/knot.h"
#include "zonegen/zg_err.h"

void zg_krec_from_rr(const struct zg_rr *rr, struct zg_krec *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->owner, sizeof(out->owner), "%s", rr->owner);
	out->ttl = rr->ttl;
	snprintf(out->type, sizeof(out->type), "%s", zg_rtype_name(rr->type));
	snprintf(out->data, sizeof(out->data), "%s", rr->data);
}

static bool same_rr(const struct zg_krec *a, const struct zg_krec *b)
{
	return strcasecmp(a->owner, b->owner) == 0 && strcasecmp(a->type, b->type) == 0 &&
	       strcmp(a->data, b->data) == 0;
}

int zg_krec_equal(const struct zg_krec *a, const struct zg_krec *b)
{
	return same_rr(a, b) && a->ttl == b->ttl;
}

static bool in_set(const struct zg_krec *r, const struct zg_krec *set, size_t n, bool ttl)
{
	for (size_t i = 0; i < n; i++)
		if (ttl ? zg_krec_equal(r, &set[i]) : same_rr(r, &set[i]))
			return true;
	return false;
}

/* Types of which a zone keeps one consistent set per owner: a customer's
 * different record of that type means another service answers there. */
static bool exclusive_type(const char *type)
{
	static const char *const types[] = { "SRV", "A", "AAAA", "MX", "CAA", "CNAME" };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(type, types[i]) == 0)
			return true;
	return false;
}

/*
 * The version tag TXT rdata (in Knot's form: the first string in quotes)
 * starts with, "v=spf1", "v=DMARC1", "v=STSv1", into tag (size bytes);
 * false when it starts with none.  Those policies allow one record per
 * owner: two SPF records are a permerror (RFC 7208 4.5), two DMARC,
 * MTA-STS or TLS-RPT records no policy at all (RFC 7489 6.6.3, RFC 8461
 * 3.1, RFC 8460 3), so such a TXT is exclusive after all.
 */
static bool txt_version(const char *data, char *tag, size_t size)
{
	size_t n;

	if (data[0] != '"' || strncasecmp(data + 1, "v=", 2) != 0)
		return false;
	n = 2 + strcspn(data + 3, " ;\"\\");
	if (n == 2 || n >= size)
		return false;
	memcpy(tag, data + 1, n);
	tag[n] = '\0';
	return true;
}

static void add_conflict(struct zg_plan *p, const struct zg_krec *theirs, const char *why)
{
	size_t len = strlen(p->conflict);
	int n;

	if (len >= sizeof(p->conflict) - 1)
		return;
	n = snprintf(p->conflict + len, sizeof(p->conflict) - len, "%s%s %u %s %s (%s)",
	             len > 0 ? "; " : "", theirs->owner, theirs->ttl, theirs->type,
	             theirs->data, why);
	if (n < 0 || (size_t)n >= sizeof(p->conflict) - len)
		snprintf(p->conflict + sizeof(p->conflict) - 5, 5, "...");
}

static int push(struct zg_krec **arr, size_t *n, const struct zg_krec *r)
{
	struct zg_krec *tmp = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (tmp == NULL)
		return ZG_ENOMEM;
	tmp[*n] = *r;
	*arr = tmp;
	(*n)++;
	return 0;
}

/*
 * A customer's records (there, not ours) against each wanted one: every
 * clash goes into plan->conflict (zg_plan_publish() in knot.h says which).
 */
static void find_conflicts(const struct zg_krec *want, size_t n_want,
                           const struct zg_krec *existing, size_t n_existing,
                           const struct zg_krec *owned, size_t n_owned,
                           struct zg_plan *plan)
{
	for (size_t i = 0; i < n_existing; i++) {
		const struct zg_krec *e = &existing[i];

		if (in_set(e, owned, n_owned, false))
			continue;
		for (size_t j = 0; j < n_want; j++) {
			const struct zg_krec *w = &want[j];
			bool same_type = strcasecmp(e->type, w->type) == 0;
			char wtag[32], etag[32], why[96];

			if (strcasecmp(e->owner, w->owner) != 0)
				continue;
			if (same_rr(e, w)) {
				if (e->ttl != w->ttl)
					add_conflict(plan, e, "same record with another TTL");
				break;
			}
			if (strcasecmp(w->type, "CNAME") == 0) {
				add_conflict(plan, e, same_type ? "another CNAME where ours goes" :
				             "data where our CNAME goes");
				break;
			}
			if (strcasecmp(e->type, "CNAME") == 0) {
				add_conflict(plan, e, "a CNAME where our records go");
				break;
			}
			if (same_type && strcasecmp(w->type, "TXT") == 0 &&
			    txt_version(w->data, wtag, sizeof(wtag)) &&
			    txt_version(e->data, etag, sizeof(etag)) && strcasecmp(wtag, etag) == 0) {
				snprintf(why, sizeof(why), "another %s record: only one may exist", wtag);
				add_conflict(plan, e, why);
				break;
			}
			if (same_type && exclusive_type(w->type)) {
				add_conflict(plan, e, "another record of the same type");
				break;
			}
			if (same_type && e->ttl != w->ttl) {
				add_conflict(plan, e, "its set has another TTL");
				break;
			}
		}
	}
}

int zg_plan_publish(const struct zg_krec *want, size_t n_want,
                    const struct zg_krec *existing, size_t n_existing,
                    const struct zg_krec *owned, size_t n_owned,
                    struct zg_plan *plan)
{
	int ret;

	memset(plan, 0, sizeof(*plan));
	find_conflicts(want, n_want, existing, n_existing, owned, n_owned, plan);
	if (plan->conflict[0] != '\0')
		return ZG_ECONFLICT;

	for (size_t j = 0; j < n_want; j++) {
		if (in_set(&want[j], existing, n_existing, true)) {
			plan->n_keep++;
		} else if ((ret = push(&plan->set, &plan->n_set, &want[j])) != 0) {
			goto fail;
		}
	}
	for (size_t i = 0; i < n_owned; i++) {
		const struct zg_krec *o = &owned[i];

		if (in_set(o, want, n_want, true))
			continue;
		/* only what is there: unsetting a missing record breaks the txn */
		for (size_t k = 0; k < n_existing; k++) {
			if (same_rr(o, &existing[k])) {
				if ((ret = push(&plan->unset, &plan->n_unset, &existing[k])) != 0)
					goto fail;
				break;
			}
		}
	}
	return 0;
fail:
	zg_plan_clear(plan);
	return ret;
}

void zg_plan_clear(struct zg_plan *plan)
{
	free(plan->set);
	free(plan->unset);
	plan->set = plan->unset = NULL;
	plan->n_set = plan->n_unset = plan->n_keep = 0;
}

int zg_records_clash(const struct zg_krec *a, size_t na, const struct zg_krec *b, size_t nb,
                     char *why, size_t whylen)
{
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nb; j++) {
			const struct zg_krec *x = &a[i], *y = &b[j];
			bool same_type = strcasecmp(x->type, y->type) == 0;
			char xtag[32], ytag[32];

			if (strcasecmp(x->owner, y->owner) != 0)
				continue;
			if (same_rr(x, y))
				return zg_fail(ZG_ECONFLICT, why, whylen, "both would publish %s %s %s "
				               "(a record has one owner in the ledger: disabling one "
				               "would take it from the other)", x->owner, x->type, x->data);
			if (strcasecmp(x->type, "CNAME") == 0 || strcasecmp(y->type, "CNAME") == 0)
				return zg_fail(ZG_ECONFLICT, why, whylen, "a CNAME at %s beside other "
				               "data there", x->owner);
			if (!same_type)
				continue;
			if (strcasecmp(x->type, "TXT") == 0 && txt_version(x->data, xtag, sizeof(xtag)) &&
			    txt_version(y->data, ytag, sizeof(ytag)) && strcasecmp(xtag, ytag) == 0)
				return zg_fail(ZG_ECONFLICT, why, whylen, "two %s records at %s (%s and "
				               "%s): only one may exist", xtag, x->owner, x->data, y->data);
			if (exclusive_type(x->type))
				return zg_fail(ZG_ECONFLICT, why, whylen, "two %s sets at %s (%s and %s)",
				               x->type, x->owner, x->data, y->data);
			if (x->ttl != y->ttl)
				return zg_fail(ZG_ECONFLICT, why, whylen, "%s records at %s with TTLs %u "
				               "and %u (one set, one TTL)", x->type, x->owner, x->ttl,
				               y->ttl);
		}
	return 0;
}
