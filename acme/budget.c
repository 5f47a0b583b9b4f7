/* budget.c - Let's Encrypt's rate limits as sliding windows over a history. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acme/budget.h"
#include "acme/acme_err.h"

static const char *const limit_names[ACME_LIM__MAX] = {
	[ACME_LIM_NONE] = "none",
	[ACME_LIM_NEW_ORDERS] = "new-orders",
	[ACME_LIM_CERTS_PER_DOMAIN] = "certs-per-domain",
	[ACME_LIM_CERTS_PER_NAMES] = "certs-per-names",
	[ACME_LIM_FAILED_VALIDATIONS] = "failed-validations",
};

const char *acme_limit_name(enum acme_limit_id id)
{
	if ((int)id < 0 || id >= ACME_LIM__MAX)
		return NULL;
	return limit_names[id];
}

/* ASCII case-insensitive, one trailing dot ignored. */
static bool name_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la > 0 && a[la - 1] == '.')
		la--;
	if (lb > 0 && b[lb - 1] == '.')
		lb--;
	if (la != lb)
		return false;
	for (size_t i = 0; i < la; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];

		if (x >= 'A' && x <= 'Z')
			x = (unsigned char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (unsigned char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

static bool in_set(const char *n, const char *const *set, size_t k)
{
	for (size_t i = 0; i < k; i++)
		if (name_eq(n, set[i]))
			return true;
	return false;
}

/* Same set of names: each of a in b and each of b in a. */
static bool same_set(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	for (size_t i = 0; i < na; i++)
		if (!in_set(a[i], b, nb))
			return false;
	for (size_t i = 0; i < nb; i++)
		if (!in_set(b[i], a, na))
			return false;
	return true;
}

static bool names_ok(const char *const *names, size_t n)
{
	if (names == NULL || n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (names[i] == NULL || names[i][0] == '\0')
			return false;
	return true;
}

static bool limit_ok(const struct acme_limit *l)
{
	return l->max == 0 || l->window > 0;
}

static int cmp_time(const void *a, const void *b)
{
	time_t x = *(const time_t *)a, y = *(const time_t *)b;

	return (x > y) - (x < y);
}

/* Does event e count against limit id for candidate c (name i for the
 * per-name limit)? */
static bool relevant(enum acme_limit_id id, const struct acme_event *e,
                     const struct acme_candidate *c, size_t i)
{
	switch (id) {
	case ACME_LIM_NEW_ORDERS:
		return e->kind == ACME_EV_ORDER_CREATED;
	case ACME_LIM_CERTS_PER_DOMAIN:
		return e->kind == ACME_EV_CERT_ISSUED && name_eq(e->reg_domain, c->reg_domain);
	case ACME_LIM_CERTS_PER_NAMES:
		return e->kind == ACME_EV_CERT_ISSUED &&
		       same_set(e->names, e->n_names, c->names, c->n_names);
	case ACME_LIM_FAILED_VALIDATIONS:
		return e->kind == ACME_EV_VALIDATION_FAILED && name_eq(e->name, c->names[i]);
	default:
		return false;
	}
}

/* Is limit l saturated?  If so *until is the earliest time it allows one
 * more event.  *count gets the events counted.  tmp holds n_ev times. */
static bool saturated(const struct acme_limit *l, enum acme_limit_id id,
                      const struct acme_event *ev, size_t n_ev, const struct acme_candidate *c,
                      size_t i, time_t now, time_t *tmp, unsigned *count, time_t *until)
{
	size_t k = 0;

	*count = 0;
	if (l->max == 0)
		return false;
	for (size_t j = 0; j < n_ev; j++)
		if (relevant(id, &ev[j], c, i) && now - l->window < ev[j].at)
			tmp[k++] = ev[j].at;
	*count = k > UINT32_MAX ? UINT32_MAX : (unsigned)k;
	if (k < l->max)
		return false;
	qsort(tmp, k, sizeof(tmp[0]), cmp_time);
	*until = tmp[k - l->max] + l->window;
	return true;
}

unsigned acme_budget_used(enum acme_limit_id id, const struct acme_limit *l,
                          const struct acme_event *ev, size_t n_ev,
                          const struct acme_candidate *c, time_t now)
{
	size_t per = id == ACME_LIM_FAILED_VALIDATIONS ? c->n_names : 1, most = 0;

	for (size_t i = 0; l->window > 0 && i < per; i++) {
		size_t k = 0;

		for (size_t j = 0; j < n_ev; j++)
			if (relevant(id, &ev[j], c, i) && now - l->window < ev[j].at)
				k++;
		if (k > most)
			most = k;
	}
	return most > UINT32_MAX ? UINT32_MAX : (unsigned)most;
}

int acme_budget_check(const struct acme_limits *lim, const struct acme_event *ev, size_t n_ev,
                      const struct acme_candidate *c, time_t now, struct acme_verdict *out)
{
	time_t *tmp = NULL;
	int rc;

	if (out == NULL)
		return ACME_EINVAL;
	memset(out, 0, sizeof(*out));
	out->allowed = true;
	out->not_before = now;
	out->limit = ACME_LIM_NONE;
	if (lim == NULL || c == NULL || (ev == NULL && n_ev > 0) ||
	    !names_ok(c->names, c->n_names) || c->reg_domain == NULL ||
	    c->reg_domain[0] == '\0' || !limit_ok(&lim->new_orders) ||
	    !limit_ok(&lim->certs_per_domain) || !limit_ok(&lim->certs_per_names) ||
	    !limit_ok(&lim->failed_validations)) {
		rc = ACME_EINVAL;
		goto out;
	}
	for (size_t j = 0; j < n_ev; j++) {
		const struct acme_event *e = &ev[j];

		if ((e->kind == ACME_EV_CERT_ISSUED &&
		     (!names_ok(e->names, e->n_names) || e->reg_domain == NULL)) ||
		    (e->kind == ACME_EV_VALIDATION_FAILED && (e->name == NULL || e->name[0] == '\0')) ||
		    (int)e->kind < 0 || e->kind >= ACME_EV__MAX) {
			rc = ACME_EINVAL;
			goto out;
		}
	}
	if (c->ari_renewal) {
		rc = 0;
		goto out;
	}
	if (n_ev > 0 && (tmp = malloc(n_ev * sizeof(*tmp))) == NULL) {
		rc = ACME_ENOMEM;
		goto out;
	}
	{
		const struct {
			enum acme_limit_id id;
			const struct acme_limit *l;
		} rows[] = {
			{ ACME_LIM_NEW_ORDERS, &lim->new_orders },
			{ ACME_LIM_CERTS_PER_DOMAIN, &lim->certs_per_domain },
			{ ACME_LIM_CERTS_PER_NAMES, &lim->certs_per_names },
			{ ACME_LIM_FAILED_VALIDATIONS, &lim->failed_validations },
		};

		for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
			size_t per = rows[r].id == ACME_LIM_FAILED_VALIDATIONS ? c->n_names : 1;

			for (size_t i = 0; i < per; i++) {
				unsigned count;
				time_t t;

				if (!saturated(rows[r].l, rows[r].id, ev, n_ev, c, i, now, tmp, &count,
				               &t))
					continue;
				out->saturated |= 1u << rows[r].id;
				if (out->allowed || t > out->not_before) {
					out->allowed = false;
					out->not_before = t;
					out->limit = rows[r].id;
					out->count = count;
					out->name_index = i;
				}
			}
		}
	}
	rc = 0;
out:
	free(tmp);
	if (rc < 0) {
		memset(out, 0, sizeof(*out));
		out->not_before = now;
	}
	return rc;
}

int acme_spread(size_t k, unsigned n, double interval, double *out)
{
	if ((out == NULL && k > 0) || n == 0 || !isfinite(interval) || interval <= 0.0)
		return ACME_EINVAL;
	for (size_t i = 0; i < k; i++)
		out[i] = (double)i * interval / (double)n;
	return 0;
}
