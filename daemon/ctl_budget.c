/*
 * ctl_budget.c - the rate-limit budget daemon-wide, for "regzonectl status"
 * without a DOMAIN: each limit of acme.limits as regzoned counts it (the
 * events of acme_events inside its window; for the limits per registered
 * domain, per set of names and per name, the busiest one), and the orders
 * that wait for it (jobs at step order with "budget_wait" in their data),
 * by priority.  Read-only; one statement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/ctl.h"

/* Per limit: used (the busiest key's count) and that key.  $1..$4 the
 * windows of new_orders, certs_per_domain, certs_per_names,
 * failed_validations in seconds. */
#define WIN(n) "at > now() - make_interval(secs => $" #n "::double precision)"
static const char budget_sql[] =
	"SELECT (SELECT count(*) FROM acme_events WHERE kind = 'order_created' AND " WIN(1) "), "
	"(SELECT count(*) FROM acme_events WHERE kind = 'order_created' AND order_id IS NULL "
	"  AND " WIN(1) "), "
	"d.n, d.k, s.n, s.k, f.n, f.k, "
	"(SELECT count(*) FROM jobs WHERE kind = 'cert' AND step = 'order' AND "
	"  state ? 'budget_wait'), "
	"(SELECT count(*) FROM jobs WHERE kind = 'cert' AND step = 'order' AND "
	"  state ? 'budget_wait' AND priority = 0), "
	"(SELECT count(*) FROM jobs WHERE kind = 'cert' AND step = 'order' AND "
	"  state ? 'budget_wait' AND priority = 1), "
	"(SELECT count(*) FROM jobs WHERE kind = 'cert' AND step = 'order' AND "
	"  state ? 'budget_wait' AND priority = 2), "
	"(SELECT count(*) FROM jobs WHERE kind = 'cert' AND step = 'order' AND "
	"  NOT state ? 'order_url') "
	"FROM (SELECT 1) one "
	"LEFT JOIN LATERAL (SELECT count(*) n, reg_domain k FROM acme_events WHERE "
	"  kind = 'cert_issued' AND " WIN(2) " GROUP BY reg_domain ORDER BY 1 DESC, 2 "
	"  LIMIT 1) d ON true "
	"LEFT JOIN LATERAL (SELECT count(*) n, array_to_string(k, ' ') k FROM (SELECT "
	"  (SELECT array_agg(DISTINCT lower(rtrim(x, '.')) ORDER BY lower(rtrim(x, '.'))) "
	"  FROM unnest(names) x) k FROM acme_events WHERE kind = 'cert_issued' AND " WIN(3)
	"  ) e GROUP BY k ORDER BY 1 DESC, 2 LIMIT 1) s ON true "
	"LEFT JOIN LATERAL (SELECT count(*) n, lower(name) k FROM acme_events WHERE "
	"  kind = 'validation_failed' AND " WIN(4) " GROUP BY lower(name) ORDER BY 1 DESC, 2 "
	"  LIMIT 1) f ON true";

static json_int_t num(const PGresult *r, int col)
{
	return PQgetisnull(r, 0, col) ? 0 : (json_int_t)atoll(PQgetvalue(r, 0, col));
}

static json_t *limit_json(const char *name, const char *scope, json_int_t used, uint32_t max,
                          uint32_t window, const PGresult *r, int key_col)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o}", "limit", name, "per", scope,
	                 "used", used, "max", (json_int_t)max, "window_s", (json_int_t)window,
	                 "busiest", key_col < 0 || PQgetisnull(r, 0, key_col) ? json_null() :
	                 json_string(PQgetvalue(r, 0, key_col)));
}

json_t *ctl_budget_json(const struct rz_config *cfg)
{
	char w[4][16];
	const char *p[] = { w[0], w[1], w[2], w[3] };
	PGconn *db = NULL;
	PGresult *r = NULL;
	json_t *out = NULL, *lims = NULL;

	snprintf(w[0], sizeof(w[0]), "%u", cfg->lim_new_orders_window_s);
	snprintf(w[1], sizeof(w[1]), "%u", cfg->lim_certs_per_domain_window_s);
	snprintf(w[2], sizeof(w[2]), "%u", cfg->lim_certs_per_names_window_s);
	snprintf(w[3], sizeof(w[3]), "%u", cfg->lim_failed_validations_window_s);
	if (db_open(cfg, &db) != EXIT_OK ||
	    (r = db_run(db, "budget", budget_sql, 4, p, PGRES_TUPLES_OK)) == NULL)
		goto out;
	lims = json_pack("[o, o, o, o]",
	                 limit_json("new-orders", "account", num(r, 0), cfg->lim_new_orders,
	                            cfg->lim_new_orders_window_s, r, -1),
	                 limit_json("certs-per-domain", "registered domain", num(r, 2),
	                            cfg->lim_certs_per_domain, cfg->lim_certs_per_domain_window_s,
	                            r, 3),
	                 limit_json("certs-per-names", "set of names", num(r, 4),
	                            cfg->lim_certs_per_names, cfg->lim_certs_per_names_window_s,
	                            r, 5),
	                 limit_json("failed-validations", "name", num(r, 6),
	                            cfg->lim_failed_validations,
	                            cfg->lim_failed_validations_window_s, r, 7));
	if (lims == NULL)
		goto nomem;
	out = json_pack("{s:o, s:I, s:{s:I, s:I, s:I, s:I}, s:I}", "limits", lims,
	                "orders_being_made", num(r, 1), "waiting_for_budget", "total", num(r, 8),
	                "urgent", num(r, 9), "first", num(r, 10), "renewal", num(r, 11),
	                "orders_not_made", num(r, 12));
	if (out == NULL)
		goto nomem;
	goto out;
nomem:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	PQclear(r);
	PQfinish(db);
	return out;
}

void ctl_budget_print(const json_t *b)
{
	const json_t *l, *wt = json_object_get(b, "waiting_for_budget");
	size_t i;

	json_array_foreach(json_object_get(b, "limits"), i, l) {
		json_int_t max = json_integer_value(json_object_get(l, "max"));
		const char *busy = json_string_value(json_object_get(l, "busiest"));

		printf("budget %-18s ", json_string_value(json_object_get(l, "limit")));
		if (max == 0)
			printf("off\n");
		else
			printf("%lld/%lld per %lld s, per %s", (long long)json_integer_value(
			       json_object_get(l, "used")), (long long)max, (long long)
			       json_integer_value(json_object_get(l, "window_s")),
			       json_string_value(json_object_get(l, "per")));
		if (max != 0 && busy != NULL) {
			printf(" (busiest: ");
			put_safe(stdout, busy);
			printf(")");
		}
		if (max != 0)
			printf("\n");
	}
	printf("orders waiting for the budget: %lld (urgent %lld, first %lld, renewal %lld); "
	       "orders not made yet: %lld; being made: %lld\n",
	       (long long)json_integer_value(json_object_get(wt, "total")),
	       (long long)json_integer_value(json_object_get(wt, "urgent")),
	       (long long)json_integer_value(json_object_get(wt, "first")),
	       (long long)json_integer_value(json_object_get(wt, "renewal")),
	       (long long)json_integer_value(json_object_get(b, "orders_not_made")),
	       (long long)json_integer_value(json_object_get(b, "orders_being_made")));
}
