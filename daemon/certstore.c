/*
 * certstore.c - the cert job's rows (see certstore.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/certstore.h"
#include "daemon/store.h"

static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	return RZ_ENOMEM;
}

/* A space-separated list (array_to_string of a text[]) into *vec of
 * pointers into s (modified in place), *n of them; vec malloc'ed. */
static int split_words(char *s, const char ***vec, size_t *n)
{
	size_t cap = 1, k = 0;
	char *save = NULL, *tok;

	for (const char *c = s; *c != '\0'; c++)
		cap += *c == ' ';
	if ((*vec = calloc(cap, sizeof(**vec))) == NULL)
		return RZ_ENOMEM;
	for (tok = strtok_r(s, " ", &save); tok != NULL && k < cap; tok = strtok_r(NULL, " ", &save))
		(*vec)[k++] = tok;
	*n = k;
	return 0;
}

static enum acme_event_kind event_kind(const char *kind)
{
	if (strcmp(kind, "order_created") == 0)
		return ACME_EV_ORDER_CREATED;
	if (strcmp(kind, "cert_issued") == 0)
		return ACME_EV_CERT_ISSUED;
	return ACME_EV_VALIDATION_FAILED;
}

/* Row i of the events query into e->ev[i]. */
static int event_row(struct certstore_events *e, int i)
{
	struct acme_event *ev = &e->ev[i];
	size_t k = 0;

	ev->at = (time_t)atoll(PQgetvalue(e->rows, i, 1));
	ev->kind = event_kind(PQgetvalue(e->rows, i, 0));
	ev->reg_domain = PQgetvalue(e->rows, i, 3);
	ev->name = PQgetvalue(e->rows, i, 4);
	if ((e->split[i] = strdup(PQgetvalue(e->rows, i, 2))) == NULL ||
	    split_words(e->split[i], &e->names[i], &k) != 0)
		return RZ_ENOMEM;
	ev->names = e->names[i];
	ev->n_names = k;
	if (ev->kind == ACME_EV_VALIDATION_FAILED && ev->name[0] == '\0')
		ev->name = k > 0 ? e->names[i][0] : ev->reg_domain;
	if (ev->kind == ACME_EV_CERT_ISSUED && k == 0) {
		ev->names = (const char *const *)&ev->reg_domain;
		ev->n_names = 1;
	}
	return 0;
}

int certstore_events(PGconn *db, uint32_t window_s, const char *reg,
                     struct certstore_events *out, char *err, size_t errlen)
{
	char window[32];
	const char *p[] = { window, reg };
	int ret, rows;

	memset(out, 0, sizeof(*out));
	snprintf(window, sizeof(window), "%u", window_s);
	/* Times rounded up, as the budget compares them with time(NULL)
	 * (rounded down): an event counts a little longer, never shorter. */
	if ((ret = store_sql(db, "SELECT kind, ceil(extract(epoch FROM at))::bigint, "
	                     "array_to_string(names, ' '), reg_domain, coalesce(name, '') "
	                     "FROM acme_events WHERE at > now() - make_interval(secs => "
	                     "$1::double precision) AND (kind = 'order_created' OR "
	                     "reg_domain = $2 OR kind = 'validation_failed')", 2, p,
	                     &out->rows, err, errlen)) != 0)
		return ret;
	rows = PQntuples(out->rows);
	out->ev = calloc((size_t)rows + 1, sizeof(*out->ev));
	out->split = calloc((size_t)rows + 1, sizeof(*out->split));
	out->names = calloc((size_t)rows + 1, sizeof(*out->names));
	if (out->ev == NULL || out->split == NULL || out->names == NULL)
		goto fail;
	for (int i = 0; i < rows; i++)
		if (event_row(out, i) != 0)
			goto fail;
	out->n = (size_t)rows;
	return 0;
fail:
	out->n = (size_t)rows;
	certstore_events_free(out);
	return oom(err, errlen);
}

void certstore_events_free(struct certstore_events *e)
{
	for (size_t i = 0; i < e->n; i++) {
		if (e->split != NULL)
			free(e->split[i]);
		if (e->names != NULL)
			free(e->names[i]);
	}
	free(e->split);
	free(e->names);
	free(e->ev);
	PQclear(e->rows);
	memset(e, 0, sizeof(*e));
}

int certstore_order_new(PGconn *db, const struct certstore_order *o, long long *order_id,
                        char *err, size_t errlen)
{
	char *arr = store_text_array(o->names, o->n_names);
	char ev[32];
	const char *p[] = { o->domain, o->service, o->url, arr, o->reason, o->account,
	                    o->replaces, o->reg_domain, ev };
	PGresult *r = NULL;
	int ret;

	*order_id = 0;
	if (arr == NULL)
		return oom(err, errlen);
	snprintf(ev, sizeof(ev), "%lld", o->event_id);
	/* The event's time moves to now, after the CA's: it never leaves the
	 * budget's window before it leaves the CA's. */
	ret = store_sql(db, "WITH o AS (INSERT INTO acme_orders (domain, service, order_url, "
	                "names, status, reason, replaces) VALUES ($1, $2, $3, $4::text[], "
	                "'pending', $5, $7) RETURNING id, names), "
	                "u AS (UPDATE acme_events e SET order_id = o.id, at = greatest(e.at, now()) "
	                "FROM o WHERE e.id = $9::bigint AND e.order_id IS NULL RETURNING e.id), "
	                "i AS (INSERT INTO acme_events (kind, account, domain, reg_domain, names, "
	                "order_id) SELECT 'order_created', $6, $1, $8, names, id FROM o "
	                "WHERE NOT EXISTS (SELECT 1 FROM u) RETURNING id) "
	                "SELECT id FROM o", 9, p, &r, err, errlen);
	free(arr);
	if (ret != 0)
		return ret;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "database: storing order %.200s returned no row", o->url);
		return RZ_EDB;
	}
	*order_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int certstore_order_status(PGconn *db, long long order_id, const char *status, char *err,
                           size_t errlen)
{
	char oid[32];
	const char *p[] = { oid, status };

	if (order_id == 0)
		return 0;
	snprintf(oid, sizeof(oid), "%lld", order_id);
	return store_sql(db, "UPDATE acme_orders SET status = $2, updated_at = now(), "
	                 "finished_at = CASE WHEN $2 IN ('valid', 'invalid', 'abandoned') "
	                 "THEN now() END WHERE id = $1::bigint", 2, p, NULL, err, errlen);
}

int certstore_orders_abandon(PGconn *db, const char *domain, const char *service, char *err,
                             size_t errlen)
{
	const char *p[] = { domain, service };

	return store_sql(db, "UPDATE acme_orders SET status = 'abandoned', updated_at = now(), "
	                 "finished_at = now() WHERE domain = $1 AND service = $2 AND status IN "
	                 "('new', 'pending', 'ready', 'processing')", 2, p, NULL, err, errlen);
}

int certstore_validation_failed(PGconn *db, const char *domain, const char *reg_domain,
                                const char *name, long long order_id, char *err,
                                size_t errlen)
{
	char oid[32];
	const char *p[] = { domain, name, oid, reg_domain };

	snprintf(oid, sizeof(oid), "%lld", order_id);
	return store_sql(db, "INSERT INTO acme_events (kind, domain, reg_domain, names, name, "
	                 "order_id) VALUES ('validation_failed', $1, $4, ARRAY[$2], $2, "
	                 "nullif($3, '0')::bigint)", 4, p, NULL, err, errlen);
}

int certstore_cert_add(PGconn *db, const struct certstore_cert *c, char *err, size_t errlen)
{
	char oid[32], nbs[32], nas[32];
	char *arr = store_text_array(c->names, c->n_names);
	const char *p[] = { c->domain, c->service, oid, c->serial, c->issuer, arr, c->profile,
	                    nbs, nas, c->chain_pem, c->ari_cert_id, c->key_path, c->chain_path,
	                    c->key_type, c->reg_domain };
	int ret;

	if (arr == NULL)
		return oom(err, errlen);
	snprintf(oid, sizeof(oid), "%lld", c->order_id);
	snprintf(nbs, sizeof(nbs), "%lld", (long long)c->not_before);
	snprintf(nas, sizeof(nas), "%lld", (long long)c->not_after);
	ret = store_sql(db, "WITH c AS (INSERT INTO certificates (domain, service, order_id, "
	                "serial, issuer, names, profile, not_before, not_after, chain_pem, "
	                "ari_cert_id, key_path, chain_path, key_type) VALUES ($1, $2, "
	                "nullif($3, '0')::bigint, $4, $5, $6::text[], $7, "
	                "to_timestamp($8::bigint), to_timestamp($9::bigint), $10, $11, $12, $13, "
	                "$14) ON CONFLICT (serial, issuer) DO NOTHING RETURNING id) "
	                "INSERT INTO acme_events (kind, domain, reg_domain, names, order_id) "
	                "SELECT 'cert_issued', $1, $15, $6::text[], nullif($3, '0')::bigint FROM c",
	                15, p, NULL, err, errlen);
	free(arr);
	return ret;
}

int certstore_current(PGconn *db, const char *domain, const char *service,
                      struct certstore_current *cur, bool *found, char *err, size_t errlen)
{
	const char *p[] = { domain, service };
	const char **words = NULL;
	PGresult *r = NULL;
	char *names = NULL;
	size_t n = 0;
	int ret;

	memset(cur, 0, sizeof(*cur));
	*found = false;
	if ((ret = store_sql(db, "SELECT id, extract(epoch FROM not_before)::bigint, "
	                     "extract(epoch FROM not_after)::bigint, coalesce(ari_cert_id, ''), "
	                     "array_to_string(names, ' '), chain_pem FROM certificates "
	                     "WHERE domain = $1 AND service = $2 AND revoked_at IS NULL "
	                     "ORDER BY id DESC LIMIT 1", 2, p, &r, err, errlen)) != 0)
		return ret;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	cur->id = atoll(PQgetvalue(r, 0, 0));
	cur->not_before = (time_t)atoll(PQgetvalue(r, 0, 1));
	cur->not_after = (time_t)atoll(PQgetvalue(r, 0, 2));
	snprintf(cur->ari_cert_id, sizeof(cur->ari_cert_id), "%s", PQgetvalue(r, 0, 3));
	if ((names = strdup(PQgetvalue(r, 0, 4))) == NULL ||
	    (cur->chain_pem = strdup(PQgetvalue(r, 0, 5))) == NULL ||
	    split_words(names, &words, &n) != 0 ||
	    (cur->names = calloc(n + 1, sizeof(*cur->names))) == NULL)
		goto fail;
	for (cur->n_names = 0; cur->n_names < n; cur->n_names++)
		if ((cur->names[cur->n_names] = strdup(words[cur->n_names])) == NULL)
			goto fail;
	free(words);
	free(names);
	PQclear(r);
	*found = true;
	return 0;
fail:
	free(words);
	free(names);
	PQclear(r);
	certstore_current_free(cur);
	return oom(err, errlen);
}

void certstore_current_free(struct certstore_current *cur)
{
	for (size_t i = 0; cur->names != NULL && i < cur->n_names; i++)
		free(cur->names[i]);
	free(cur->names);
	free(cur->chain_pem);
	memset(cur, 0, sizeof(*cur));
}

int certstore_deployed(PGconn *db, const char *domain, const char *service,
                       const int *hook_status, time_t renew_after, char *err, size_t errlen)
{
	char status[16], at[32];
	const char *p[] = { domain, service, hook_status != NULL ? status : NULL,
	                    renew_after > 0 ? at : NULL };

	snprintf(status, sizeof(status), "%d", hook_status != NULL ? *hook_status : 0);
	snprintf(at, sizeof(at), "%lld", (long long)renew_after);
	/* Without a hook the certificate is deployed once in place; with one,
	 * when it exited 0. */
	return store_sql(db, "UPDATE certificates SET "
	                 "hook_status = coalesce($3::integer, hook_status), "
	                 "hook_at = CASE WHEN $3 IS NULL THEN hook_at ELSE now() END, "
	                 "deployed_at = CASE WHEN coalesce($3::integer, 0) = 0 THEN now() "
	                 "ELSE deployed_at END, "
	                 "renew_after = coalesce(to_timestamp($4::bigint), renew_after) "
	                 "WHERE id = (SELECT id FROM certificates WHERE domain = $1 AND "
	                 "service = $2 AND revoked_at IS NULL ORDER BY id DESC LIMIT 1)",
	                 4, p, NULL, err, errlen);
}

int certstore_revoked(PGconn *db, long long cert_id, char *err, size_t errlen)
{
	char id[32];
	const char *p[] = { id };

	snprintf(id, sizeof(id), "%lld", cert_id);
	return store_sql(db, "UPDATE certificates SET revoked_at = now() WHERE id = $1::bigint",
	                 1, p, NULL, err, errlen);
}
