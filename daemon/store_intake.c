/*
 * store_intake.c - a batch of checked requests stored in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/step.h"
#include "daemon/store.h"
#include "daemon/store_int.h"

/*
 * The intake's statements, prepared once per connection.  Each returns the
 * state after the request (RZ_STATE_COLS order) and a first column saying
 * whether it changed anything.  A data-modifying CTE's effect is invisible
 * to its own outer query, so the new row comes from RETURNING and the old
 * one from the table only when nothing was written.
 */

/*
 * What an enable writes, after "up AS (INSERT INTO services AS s ... SELECT
 * or VALUES": a re-sent enable with the same profile and params changes
 * nothing, unless the service is in conflict or error (then it retries);
 * the dns job starts over at publish; the cert job follows the generation
 * (the dns job re-arms it once the records are published).
 */
#define ENABLE_WRITES \
	"ON CONFLICT (domain, service) DO UPDATE SET desired = 'enabled', " \
	"zone = EXCLUDED.zone, knot_primary = EXCLUDED.knot_primary, " \
	"profile = EXCLUDED.profile, params = EXCLUDED.params, " \
	"generation = s.generation + 1, dns = 'pending', last_error = NULL, updated_at = now(), " \
	"desired_at = now() " \
	"WHERE s.desired <> 'enabled' OR s.profile <> EXCLUDED.profile " \
	"OR s.params <> EXCLUDED.params OR s.zone <> EXCLUDED.zone " \
	"OR s.knot_primary <> EXCLUDED.knot_primary " \
	"OR s.dns IN ('conflict', 'error') RETURNING *), " \
	"job AS (INSERT INTO jobs (domain, service, kind, step, generation) " \
	"SELECT domain, service, 'dns', 'publish', generation FROM up " \
	"ON CONFLICT (domain, service, kind) DO UPDATE SET step = 'publish', priority = 1, " \
	"generation = EXCLUDED.generation, next_attempt_at = now(), attempts = 0, " \
	"first_attempt_at = NULL, last_error = NULL, state = '{}', updated_at = now()), " \
	"cj AS (UPDATE jobs SET generation = up.generation FROM up WHERE jobs.domain = " \
	"up.domain AND jobs.service = up.service AND jobs.kind = 'cert') "

static const struct {
	const char *name;
	int n_params;
	const char *sql;
} intake_stmts[] = {
	{ "rz_enable", 6,
	  "WITH up AS (INSERT INTO services AS s (domain, service, zone, profile, params, desired, "
	  "knot_primary) VALUES ($1, $2, $3, $4, $5::jsonb, 'enabled', $6) "
	  ENABLE_WRITES
	  "SELECT true, x.* FROM (" INTAKE_STATE_SEL("up") ") x "
	  "UNION ALL SELECT false, x.* FROM (" INTAKE_STATE_SEL("services") " WHERE s.domain = $1 "
	  "AND s.service = $2 AND NOT EXISTS (SELECT 1 FROM up)) x" },
	{ "rz_enable_set", 6,
	  /* rz_enable for a whole batch of distinct (domain, service): the
	   * same writes, set-based; rows carry their request's ordinal. */
	  "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	  "$5::jsonb[], $6::text[]) WITH ORDINALITY AS r(domain, service, zone, profile, params, "
	  "knot_primary, ord)), "
	  "up AS (INSERT INTO services AS s (domain, service, zone, profile, params, desired, "
	  "knot_primary) SELECT domain, service, zone, profile, params, 'enabled', knot_primary "
	  "FROM r "
	  ENABLE_WRITES
	  "SELECT r.ord, true, " RZ_STATE_COLS " FROM r JOIN up s ON s.domain = r.domain "
	  "AND s.service = r.service " RZ_STATE_CERT
	  "UNION ALL SELECT r.ord, false, " RZ_STATE_COLS " FROM r JOIN services s "
	  "ON s.domain = r.domain AND s.service = r.service " RZ_STATE_CERT
	  "WHERE NOT EXISTS (SELECT 1 FROM up u WHERE u.domain = r.domain "
	  "AND u.service = r.service)" },
	{ "rz_disable", 2,
	  "WITH up AS (UPDATE services SET desired = 'disabled', generation = generation + 1, "
	  "dns = 'removing', active = false, last_error = NULL, updated_at = now(), "
	  "desired_at = now() WHERE domain = $1 AND service = $2 AND "
	  "(desired <> 'disabled' OR dns IN ('conflict', 'error')) RETURNING *), "
	  "job AS (UPDATE jobs j SET step = 'remove', priority = 1, generation = up.generation, "
	  "next_attempt_at = now(), attempts = 0, first_attempt_at = NULL, last_error = NULL, "
	  "state = '{}', updated_at = now() FROM up WHERE j.domain = up.domain "
	  "AND j.service = up.service AND j.kind = 'dns'), "
	  /* the certificate goes too: hook (remove), files, revocation, and
	   * any challenge record of an order in flight */
	  "cj AS (UPDATE jobs j SET step = 'remove', priority = 1, generation = up.generation, "
	  "next_attempt_at = now(), attempts = 0, first_attempt_at = NULL, last_error = NULL, "
	  "state = '{}', updated_at = now() FROM up WHERE j.domain = up.domain "
	  "AND j.service = up.service AND j.kind = 'cert') "
	  "SELECT true, x.* FROM (" INTAKE_STATE_SEL("up") ") x "
	  "UNION ALL SELECT false, x.* FROM (" INTAKE_STATE_SEL("services") " WHERE s.domain = $1 "
	  "AND s.service = $2 AND NOT EXISTS (SELECT 1 FROM up)) x" },
	{ "rz_renew", 2,
	  /* renew now: the cert job of an enabled service becomes due at its
	   * 'renew' step (an order in flight is left to finish) */
	  "WITH up AS (UPDATE jobs j SET step = 'renew', priority = 1, next_attempt_at = now(), "
	  "attempts = 0, first_attempt_at = NULL, last_error = NULL, "
	  "state = '{\"forced\": true}', "
	  "updated_at = now() FROM services s WHERE j.domain = $1 AND j.service = $2 "
	  "AND j.kind = 'cert' AND s.domain = j.domain AND s.service = j.service "
	  "AND s.desired = 'enabled' AND (j.next_attempt_at = 'infinity' OR j.step = 'renew' "
	  "OR s.cert_state IN ('issued', 'failed')) RETURNING s.*) "
	  "SELECT EXISTS (SELECT 1 FROM up), x.* FROM (" INTAKE_STATE_SEL("services")
	  " WHERE s.domain = $1 AND s.service = $2) x" },
	{ "rz_events", 9,
	  /* Every event of a batch, and its audit line, in one statement. */
	  "WITH e AS (INSERT INTO events (id, action, service, domain, profile, params, "
	  "body_sha256, reply) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
	  "$4::text[], $5::text[], $6::jsonb[], $7::text[], $8::text[])) "
	  "INSERT INTO audit (domain, service, event_id, kind, message) "
	  "SELECT * FROM unnest($4::text[], $3::text[], $1::text[], "
	  "array_fill('event'::text, ARRAY[cardinality($1::text[])]), $9::text[])" },
	{ "rz_replays", 1,
	  "SELECT id, body_sha256, reply FROM events WHERE id = ANY($1::text[])" },
};

int store_intake_prepare(PGconn *c, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(intake_stmts) / sizeof(intake_stmts[0]); i++) {
		PGresult *r = PQprepare(c, intake_stmts[i].name, intake_stmts[i].sql,
		                        intake_stmts[i].n_params, NULL);

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "database: preparing %s: %.*s", intake_stmts[i].name,
			         (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
			PQclear(r);
			return RZ_EDB;
		}
		PQclear(r);
	}
	return 0;
}

/* Replays: ids already stored get their first reply (or a refusal when the
 * body differs) and are not applied again. */
static int intake_replays(PGconn *c, struct store_intake_item *items, size_t n,
                          char *err, size_t errlen)
{
	const char **ids = calloc(n, sizeof(*ids));
	char *arr;
	PGresult *r = NULL;
	int ret;

	if (ids == NULL)
		return RZ_ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = items[i].req->id;
	arr = sq_ptr_array(ids, n);
	free(ids);
	if (arr == NULL)
		return RZ_ENOMEM;
	ret = sq_exec_prepared(c, "rz_replays", 1, (const char *const *)&arr, &r, err, errlen);
	free(arr);
	if (ret != 0)
		return ret;
	for (int row = 0; row < PQntuples(r); row++) {
		for (size_t i = 0; i < n; i++) {
			struct store_intake_item *it = &items[i];

			if (it->replayed || strcmp(PQgetvalue(r, row, 0), it->req->id) != 0)
				continue;
			it->replayed = true;
			if (strcmp(PQgetvalue(r, row, 1), it->req->body_sha256) == 0)
				it->reply = strdup(PQgetvalue(r, row, 2));
			else
				it->reply = rz_reply_error(it->req->id, RZ_RC_BAD_REQUEST, "id already "
				                           "used by another request with a different body");
			if (it->reply == NULL) {
				PQclear(r);
				return RZ_ENOMEM;
			}
		}
	}
	PQclear(r);
	return 0;
}

/* True when no two items of the batch (replays aside) name the same
 * (domain, service): their order then does not matter. */
static bool intake_distinct(const struct store_intake_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n && !items[i].replayed; j++)
			if (!items[j].replayed &&
			    strcmp(items[i].req->domain, items[j].req->domain) == 0 &&
			    strcmp(items[i].req->service, items[j].req->service) == 0)
				return false;
	return true;
}

/* Queue rz_enable_set for the batch's enables; *in_set says which went. */
static int intake_send_set(PGconn *c, struct store_intake_item *items, size_t n,
                           bool *in_set, size_t *n_set, char *err, size_t errlen)
{
	const char **cols[6];
	char *arr[6] = { NULL };
	int ret = RZ_ENOMEM;
	size_t m = 0;

	*n_set = 0;
	for (int k = 0; k < 6; k++)
		cols[k] = calloc(n, sizeof(char *));
	for (int k = 0; k < 6; k++)
		if (cols[k] == NULL)
			goto out;
	for (size_t i = 0; i < n; i++) {
		const struct rz_req *q = items[i].req;

		in_set[i] = !items[i].replayed && q->action == RZ_ACT_ENABLE;
		if (!in_set[i])
			continue;
		cols[0][m] = q->domain;
		cols[1][m] = q->service;
		cols[2][m] = items[i].zone;
		cols[3][m] = q->profile;
		cols[4][m] = q->params_json != NULL ? q->params_json : "{}";
		cols[5][m] = items[i].primary != NULL ? items[i].primary : RZ_PRIMARY_DEFAULT;
		m++;
	}
	for (int k = 0; k < 6; k++)
		if ((arr[k] = sq_ptr_array(cols[k], m)) == NULL)
			goto out;
	if (PQsendQueryPrepared(c, "rz_enable_set", 6, (const char *const *)arr, NULL, NULL,
	                        0) != 1) {
		sq_error(NULL, c, err, errlen);
		ret = RZ_EDB;
		goto out;
	}
	*n_set = m;
	ret = 0;
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (int k = 0; k < 6; k++) {
		free(cols[k]);
		free(arr[k]);
	}
	return ret;
}

/* The rows of rz_enable_set: one per enable of the batch, by ordinal. */
static int intake_read_set(PGresult *r, struct store_intake_item *items, size_t n,
                           const bool *in_set, size_t n_set, char *err, size_t errlen)
{
	size_t *idx = calloc(n_set ? n_set : 1, sizeof(*idx));
	bool *seen = calloc(n_set ? n_set : 1, sizeof(*seen));
	int ret = 0;

	if (idx == NULL || seen == NULL) {
		ret = RZ_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0, m = 0; i < n; i++)
		if (in_set[i])
			idx[m++] = i;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		sq_error(r, NULL, err, errlen);
		ret = RZ_EDB;
		goto out;
	}
	for (int row = 0; row < PQntuples(r); row++) {
		long long ord = atoll(PQgetvalue(r, row, 0));
		struct store_intake_item *it;

		if (ord < 1 || (size_t)ord > n_set || seen[ord - 1]) {
			snprintf(err, errlen, "database: enable of a batch: row %d has ordinal %lld",
			         row, ord);
			ret = RZ_EDB;
			goto out;
		}
		seen[ord - 1] = true;
		it = &items[idx[ord - 1]];
		it->changed = strcmp(PQgetvalue(r, row, 1), "t") == 0;
		if (rz_state_from_row(r, row, 2, &it->st) != 0) {
			snprintf(err, errlen, "database: enable of a batch: row %d: a state regzone "
			         "does not know", row);
			ret = RZ_EDB;
			goto out;
		}
	}
	if ((size_t)PQntuples(r) != n_set) {
		snprintf(err, errlen, "database: enable of a batch: %d states for %zu requests",
		         PQntuples(r), n_set);
		ret = RZ_EDB;
	}
out:
	free(idx);
	free(seen);
	return ret;
}

/* Send every item's state change in one pipeline, then read the states.
 * When the batch's targets are distinct, its enables go as one set-based
 * statement; otherwise every item is its own statement, in order. */
static int intake_apply(PGconn *c, struct store_intake_item *items, size_t n,
                        char *err, size_t errlen)
{
	bool *in_set = calloc(n ? n : 1, sizeof(*in_set));
	size_t sent = 0, n_set = 0, n_en = 0;
	int ret = 0;

	if (in_set == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	if (PQenterPipelineMode(c) != 1) {
		free(in_set);
		snprintf(err, errlen, "database: cannot enter pipeline mode");
		return RZ_EDB;
	}
	for (size_t i = 0; i < n; i++)
		n_en += !items[i].replayed && items[i].req->action == RZ_ACT_ENABLE;
	if (n_en > 1 && intake_distinct(items, n))
		ret = intake_send_set(c, items, n, in_set, &n_set, err, errlen);
	for (size_t i = 0; i < n && ret == 0; i++) {
		const struct rz_req *q = items[i].req;
		const char *pe[] = { q->domain, q->service, items[i].zone, q->profile,
		                     q->params_json != NULL ? q->params_json : "{}",
		                     items[i].primary != NULL ? items[i].primary :
		                     RZ_PRIMARY_DEFAULT };
		int ok;

		if (items[i].replayed || in_set[i])
			continue;
		if (q->action == RZ_ACT_ENABLE)
			ok = PQsendQueryPrepared(c, "rz_enable", 6, pe, NULL, NULL, 0);
		else if (q->action == RZ_ACT_RENEW)
			ok = PQsendQueryPrepared(c, "rz_renew", 2, pe, NULL, NULL, 0);
		else
			ok = PQsendQueryPrepared(c, "rz_disable", 2, pe, NULL, NULL, 0);
		if (!ok) {
			sq_error(NULL, c, err, errlen);
			ret = RZ_EDB;
			break;
		}
		sent++;
	}
	if (PQpipelineSync(c) != 1 && ret == 0) {
		sq_error(NULL, c, err, errlen);
		ret = RZ_EDB;
	}
	/* Results come in order: the set's, then one per item's query (each
	 * followed by NULL), then the sync. */
	if (n_set > 0) {
		PGresult *r = PQgetResult(c);
		int rs = intake_read_set(r, items, n, in_set, n_set, err, errlen);

		if (ret == 0)
			ret = rs;
		PQclear(r);
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	for (size_t i = 0, got = 0; got < sent; i++) {
		PGresult *r;

		if (items[i].replayed || in_set[i])
			continue;
		got++;
		r = PQgetResult(c);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 0 && ret == 0 &&
		    items[i].req->action != RZ_ACT_ENABLE) {
			/* disabling what was never enabled: already the desired state */
			items[i].changed = false;
			rz_state_absent(items[i].req->domain, items[i].req->service, &items[i].st);
		} else if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			if (ret == 0) {
				sq_error(r, c, err, errlen);
				ret = RZ_EDB;
			}
		} else if (ret == 0) {
			items[i].changed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			/* the state columns follow the flag */
			if (rz_state_from_row(r, 0, 1, &items[i].st) != 0) {
				snprintf(err, errlen, "database: a state regzone does not know");
				ret = RZ_EDB;
			}
		}
		PQclear(r);
		while ((r = PQgetResult(c)) != NULL)
			PQclear(r);
	}
	for (;;) {   /* up to and including the sync */
		PGresult *r = PQgetResult(c);
		ExecStatusType st;

		if (r == NULL)
			continue;
		st = PQresultStatus(r);
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC || PQstatus(c) != CONNECTION_OK)
			break;
	}
	if (PQexitPipelineMode(c) != 1 && ret == 0) {
		snprintf(err, errlen, "database: cannot leave pipeline mode");
		ret = RZ_EDB;
	}
	free(in_set);
	return ret;
}

/* Store the events (with their replies) and audit lines of the batch. */
static int intake_events(PGconn *c, struct store_intake_item *items, size_t n,
                         char *err, size_t errlen)
{
	const char **cols[9];
	char *arr[9] = { NULL }, (*msgs)[160] = calloc(n, sizeof(*msgs));
	size_t m = 0;
	int ret = RZ_ENOMEM;

	for (int k = 0; k < 9; k++)
		cols[k] = calloc(n, sizeof(char *));
	for (int k = 0; k < 9; k++)
		if (cols[k] == NULL || msgs == NULL)
			goto out;
	for (size_t i = 0; i < n; i++) {
		const struct rz_req *q = items[i].req;
		bool en = q->action == RZ_ACT_ENABLE;

		if (items[i].replayed)
			continue;
		snprintf(msgs[m], sizeof(msgs[m]), "%s requested%s%s%s%s", rz_action_name(q->action),
		         en ? " (profile " : "", en ? q->profile : "", en ? ")" : "",
		         items[i].changed ? "" : ": already the desired state");
		cols[0][m] = q->id;
		cols[1][m] = rz_action_name(q->action);
		cols[2][m] = q->service;
		cols[3][m] = q->domain;
		cols[4][m] = en ? q->profile : NULL;
		cols[5][m] = q->params_json != NULL ? q->params_json : "{}";
		cols[6][m] = q->body_sha256;
		cols[7][m] = items[i].reply;
		cols[8][m] = msgs[m];
		m++;
	}
	if (m == 0) {
		ret = 0;
		goto out;
	}
	for (int k = 0; k < 9; k++)
		if ((arr[k] = sq_ptr_array(cols[k], m)) == NULL)
			goto out;
	ret = sq_exec_prepared(c, "rz_events", 9, (const char *const *)arr, NULL, err, errlen);
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (int k = 0; k < 9; k++) {
		free(cols[k]);
		free(arr[k]);
	}
	free(msgs);
	return ret;
}

int store_intake_batch(PGconn *c, struct store_intake_item *items, size_t n,
                       char *err, size_t errlen)
{
	bool any_changed = false;
	int ret;

	for (size_t i = 0; i < n; i++) {
		items[i].reply = NULL;
		items[i].replayed = items[i].changed = false;
	}
	if ((ret = sq_cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	if ((ret = intake_replays(c, items, n, err, errlen)) != 0 ||
	    (ret = intake_apply(c, items, n, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		json_t *sj;

		if (items[i].replayed)
			continue;
		sj = rz_state_json(&items[i].st);
		items[i].reply = sj != NULL ? rz_reply_ok(items[i].req->id, sj) : NULL;
		json_decref(sj);
		if (items[i].reply == NULL) {
			snprintf(err, errlen, "out of memory");
			ret = RZ_ENOMEM;
			goto fail;
		}
		any_changed |= items[i].changed;
	}
	if ((ret = intake_events(c, items, n, err, errlen)) != 0)
		goto fail;
	if (any_changed && (ret = sq_cmd(c, "NOTIFY rz_jobs", 0, NULL, err, errlen)) != 0)
		goto fail;
	if ((ret = sq_cmd(c, "COMMIT", 0, NULL, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	sq_rollback(c);
	for (size_t i = 0; i < n; i++) {
		free(items[i].reply);
		items[i].reply = NULL;
		items[i].replayed = items[i].changed = false;
	}
	return ret;
}


int store_services_enabled(PGconn *c, const char *const *domains, size_t n,
                           struct store_svc **out, size_t *n_out, char *err, size_t errlen)
{
	char *arr = sq_ptr_array(domains, n);
	const char *p[] = { arr };
	PGresult *r;
	int rows;

	*out = NULL;
	*n_out = 0;
	if (arr == NULL) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	r = sq_q(c, "SELECT domain, service, profile, params::text FROM services "
	         "WHERE domain = ANY ($1::text[]) AND desired = 'enabled'", 1, p, PGRES_TUPLES_OK,
	         err, errlen);
	free(arr);
	if (r == NULL)
		return RZ_EDB;
	rows = PQntuples(r);
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		PQclear(r);
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		struct store_svc *s = &(*out)[i];

		snprintf(s->domain, sizeof(s->domain), "%s", PQgetvalue(r, i, 0));
		snprintf(s->service, sizeof(s->service), "%s", PQgetvalue(r, i, 1));
		snprintf(s->profile, sizeof(s->profile), "%s", PQgetvalue(r, i, 2));
		if ((s->params_json = strdup(PQgetvalue(r, i, 3))) == NULL) {
			store_svcs_free(*out, (size_t)i);
			*out = NULL;
			PQclear(r);
			snprintf(err, errlen, "out of memory");
			return RZ_ENOMEM;
		}
	}
	*n_out = (size_t)rows;
	PQclear(r);
	return 0;
}

void store_svcs_free(struct store_svc *s, size_t n)
{
	for (size_t i = 0; s != NULL && i < n; i++)
		free(s[i].params_json);
	free(s);
}
