/*
 * ctl_status.c - "regzonectl status" without a DOMAIN: the deployment as a
 * whole, read the way regzoned reads it.  Each Knot primary of the
 * configuration is asked for its zones through its control socket (as
 * diff does): whether it answers, how many zones, its servers; and the
 * zones more than one primary lists, which regzoned refuses to write to;
 * then the rate-limit budget (ctl_budget.c).  Exit 0 when every primary
 * answers, no zone is ambiguous and the budget could be read, 1 otherwise.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/ctl.h"
#include "zonegen/knot.h"

struct prim_seen {
	const struct rz_primary *cfg;
	char **zones;            /* sorted */
	size_t n;
	bool ok;
	char err[512];
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool lists(const struct prim_seen *p, const char *zone)
{
	return p->ok && bsearch(&zone, p->zones, p->n, sizeof(*p->zones), cmp_str) != NULL;
}

static void prim_read(struct prim_seen *p)
{
	struct zg_knot *k = NULL;

	p->ok = zg_knot_open(p->cfg->socket, p->cfg->timeout_ms, &k, p->err, sizeof(p->err)) == 0 &&
	        zg_knot_zones(k, &p->zones, &p->n, p->err, sizeof(p->err)) == 0;
	zg_knot_close(k);
	if (p->ok)
		qsort(p->zones, p->n, sizeof(*p->zones), cmp_str);
}

/* The zones listed by primary i and a later one (and by none before i):
 * appended to amb as {"zone","primaries":[...]}.  0 or -1 (no memory). */
static int ambiguous_of(const struct prim_seen *ps, size_t n, size_t i, json_t *amb)
{
	for (size_t z = 0; ps[i].ok && z < ps[i].n; z++) {
		const char *zone = ps[i].zones[z];
		json_t *names = NULL;
		bool earlier = false;

		for (size_t j = 0; j < i && !earlier; j++)
			earlier = lists(&ps[j], zone);
		for (size_t j = i + 1; !earlier && j < n; j++) {
			if (!lists(&ps[j], zone))
				continue;
			if (names == NULL && ((names = json_array()) == NULL ||
			    json_array_append_new(names, json_string(ps[i].cfg->name)) != 0))
				return -1;
			if (json_array_append_new(names, json_string(ps[j].cfg->name)) != 0)
				return -1;
		}
		if (names != NULL && json_array_append_new(amb, json_pack("{s:s, s:o}", "zone", zone,
		                                                      "primaries", names)) != 0)
			return -1;
	}
	return 0;
}

static json_t *prim_json(const struct prim_seen *p)
{
	json_t *servers = json_array();

	for (size_t i = 0; servers != NULL && i < p->cfg->n_servers; i++) {
		char s[80];

		snprintf(s, sizeof(s), "%s@%u", p->cfg->servers[i].address,
		         (unsigned)p->cfg->servers[i].port);
		json_array_append_new(servers, json_string(s));
	}
	return json_pack("{s:s, s:s, s:b, s:I, s:o, s:o}", "name", p->cfg->name, "socket",
	                 p->cfg->socket, "answers", p->ok, "zones", (json_int_t)p->n, "error",
	                 p->ok ? json_null() : rz_json_text(p->err, sizeof(p->err), false),
	                 "servers", servers != NULL ? servers : json_array());
}

static void print_human(const struct prim_seen *ps, size_t n, const json_t *amb)
{
	size_t i;
	json_t *a;

	for (size_t k = 0; k < n; k++) {
		printf("primary %s  ", ps[k].cfg->name);
		put_safe(stdout, ps[k].cfg->socket);
		if (ps[k].ok) {
			printf("  answers, %zu zones, servers", ps[k].n);
		} else {
			printf("  NOT answering: ");
			put_safe(stdout, ps[k].err);
			printf("; servers");
		}
		for (size_t s = 0; s < ps[k].cfg->n_servers; s++)
			printf(" %s@%u", ps[k].cfg->servers[s].address,
			       (unsigned)ps[k].cfg->servers[s].port);
		printf("\n");
	}
	json_array_foreach(amb, i, a) {
		const json_t *names = json_object_get(a, "primaries"), *nm;
		size_t j;

		printf("ambiguous zone %s: listed by", json_string_value(json_object_get(a, "zone")));
		json_array_foreach(names, j, nm)
			printf("%s %s", j > 0 ? "," : "", json_string_value(nm));
		printf("; enables in it are refused\n");
	}
}

int cmd_status_all(const struct ctl_args *a, struct rz_config *cfg)
{
	struct prim_seen *ps = calloc(cfg->n_primaries ? cfg->n_primaries : 1, sizeof(*ps));
	json_t *amb = json_array(), *prims = json_array(), *out = NULL, *budget = NULL;
	bool all_ok = true;
	int rc = EXIT_REFUSED;

	if (ps == NULL || amb == NULL || prims == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->n_primaries; i++) {
		ps[i].cfg = &cfg->primaries[i];
		prim_read(&ps[i]);
		all_ok &= ps[i].ok;
	}
	for (size_t i = 0; i < cfg->n_primaries; i++)
		if (ambiguous_of(ps, cfg->n_primaries, i, amb) != 0 ||
		    json_array_append_new(prims, prim_json(&ps[i])) != 0)
			goto nomem;
	/* the rate-limit budget (ctl_budget.c); null when unreadable */
	budget = ctl_budget_json(cfg);
	if (a->json) {
		if ((out = json_pack("{s:O, s:O, s:o}", "primaries", prims, "ambiguous", amb,
		                     "budget", budget != NULL ? json_incref(budget) : json_null()))
		    == NULL)
			goto nomem;
		if (print_json(out) != EXIT_OK)
			goto out;
	} else {
		print_human(ps, cfg->n_primaries, amb);
		if (budget != NULL)
			ctl_budget_print(budget);
		if (fflush(stdout) != 0)
			goto out;
	}
	rc = all_ok && budget != NULL && json_array_size(amb) == 0 ? EXIT_OK : EXIT_REFUSED;
	goto out;
nomem:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	for (size_t i = 0; ps != NULL && i < cfg->n_primaries; i++)
		zg_knot_zones_free(ps[i].zones, ps[i].n);
	free(ps);
	json_decref(out);
	json_decref(budget);
	json_decref(amb);
	json_decref(prims);
	return rc;
}
