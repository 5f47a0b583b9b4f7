/*
 * store.c - the daemon's PostgreSQL operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/certs.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"

/*
 * Run a parameterised statement, prepared: the workers run the same few
 * statements thousands of times, and planning them is most of their cost.
 * The statement is named after its text's address (every statement here is
 * a string literal), prepared on a connection the first time it is missing
 * there; inside an explicit transaction, where a failed attempt would abort
 * it, it runs unprepared.
 */
static PGresult *exec_cached(PGconn *c, const char *sql, int n, const char *const *params)
{
	char name[32];
	PGresult *r;
	const char *state;

	if (n == 0 || PQtransactionStatus(c) != PQTRANS_IDLE)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	snprintf(name, sizeof(name), "rz_%p", (const void *)sql);
	r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) != PGRES_FATAL_ERROR || state == NULL ||
	    strcmp(state, "26000") != 0)   /* invalid_sql_statement_name */
		return r;
	PQclear(r);
	r = PQprepare(c, name, sql, n, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return r;   /* the error of the statement itself */
	PQclear(r);
	return PQexecPrepared(c, name, n, params, NULL, NULL, 0);
}

/* A parameterised statement; NULL result status mismatch -> RZ_EDB. */
static PGresult *q(PGconn *c, const char *sql, int n, const char *const *params,
                   ExecStatusType want, char *err, size_t errlen)
{
	PGresult *r = exec_cached(c, sql, n, params);

	if (PQresultStatus(r) != want) {
		const char *msg = PQresultErrorMessage(r);

		if (msg == NULL || msg[0] == '\0')
			msg = PQerrorMessage(c);
		snprintf(err, errlen, "database: %.*s", (int)strcspn(msg, "\n"), msg);
		PQclear(r);
		return NULL;
	}
	return r;
}

static int cmd(PGconn *c, const char *sql, int n, const char *const *params,
               char *err, size_t errlen)
{
	PGresult *r = q(c, sql, n, params, PGRES_COMMAND_OK, err, errlen);

	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}

static void rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");

	PQclear(r);
}

#define STATE_COLS \
	"s.domain, s.service, s.desired, s.dns, s.cert_state, " \
	"coalesce(to_char(ce.not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
	"coalesce(ce.serial, ''), s.active, coalesce(s.last_error, ''), " \
	"to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define STATE_CERT \
	"LEFT JOIN LATERAL (SELECT not_after, serial FROM certificates " \
	"WHERE domain = s.domain AND service = s.service AND revoked_at IS NULL " \
	"ORDER BY not_after DESC LIMIT 1) ce ON true "
#define STATE_FROM "FROM services s " STATE_CERT

static void state_from_row_at(const PGresult *r, int row, int o, struct rz_state *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->domain, sizeof(st->domain), "%s", PQgetvalue(r, row, o + 0));
	snprintf(st->service, sizeof(st->service), "%s", PQgetvalue(r, row, o + 1));
	snprintf(st->desired, sizeof(st->desired), "%s", PQgetvalue(r, row, o + 2));
	snprintf(st->dns, sizeof(st->dns), "%s", PQgetvalue(r, row, o + 3));
	snprintf(st->cert_state, sizeof(st->cert_state), "%s", PQgetvalue(r, row, o + 4));
	snprintf(st->not_after, sizeof(st->not_after), "%s", PQgetvalue(r, row, o + 5));
	snprintf(st->serial, sizeof(st->serial), "%s", PQgetvalue(r, row, o + 6));
	st->active = strcmp(PQgetvalue(r, row, o + 7), "t") == 0;
	snprintf(st->last_error, sizeof(st->last_error), "%s", PQgetvalue(r, row, o + 8));
	snprintf(st->updated_at, sizeof(st->updated_at), "%s", PQgetvalue(r, row, o + 9));
}

static void state_from_row(const PGresult *r, int row, struct rz_state *st)
{
	state_from_row_at(r, row, 0, st);
}

static void state_absent(const char *domain, const char *service, struct rz_state *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->domain, sizeof(st->domain), "%s", domain);
	snprintf(st->service, sizeof(st->service), "%s", service);
	strcpy(st->desired, "disabled");
	strcpy(st->dns, "removed");
	strcpy(st->cert_state, "none");
}

int store_state(PGconn *c, const char *domain, const char *service, struct rz_state *st,
                bool *found, char *err, size_t errlen)
{
	const char *p[] = { domain, service };
	PGresult *r = q(c, "SELECT " STATE_COLS " " STATE_FROM
	                "WHERE s.domain = $1 AND s.service = $2", 2, p, PGRES_TUPLES_OK,
	                err, errlen);

	if (r == NULL)
		return RZ_EDB;
	*found = PQntuples(r) == 1;
	if (*found)
		state_from_row(r, 0, st);
	else
		state_absent(domain, service, st);
	PQclear(r);
	return 0;
}

/*
 * The intake's statements, prepared once per connection.  Each returns the
 * state after the request (STATE_COLS order) and a first column saying
 * whether it changed anything.  A data-modifying CTE's effect is invisible
 * to its own outer query, so the new row comes from RETURNING and the old
 * one from the table only when nothing was written.
 */
#define INTAKE_STATE_SEL(src) \
	"SELECT " STATE_COLS " FROM " src " s LEFT JOIN LATERAL (SELECT not_after, serial " \
	"FROM certificates WHERE domain = s.domain AND service = s.service AND " \
	"revoked_at IS NULL ORDER BY not_after DESC LIMIT 1) ce ON true"

/*
 * What an enable writes, after "up AS (INSERT INTO services AS s ... SELECT
 * or VALUES": a re-sent enable with the same profile and params changes
 * nothing, unless the service is in conflict or error (then it retries);
 * the dns job starts over at publish; the cert job follows the generation
 * (the dns job re-arms it once the records are published).
 */
#define ENABLE_WRITES \
	"ON CONFLICT (domain, service) DO UPDATE SET desired = 'enabled', " \
	"zone = EXCLUDED.zone, profile = EXCLUDED.profile, params = EXCLUDED.params, " \
	"generation = s.generation + 1, dns = 'pending', last_error = NULL, updated_at = now() " \
	"WHERE s.desired <> 'enabled' OR s.profile <> EXCLUDED.profile " \
	"OR s.params <> EXCLUDED.params OR s.zone <> EXCLUDED.zone " \
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
	{ "rz_enable", 5,
	  "WITH up AS (INSERT INTO services AS s (domain, service, zone, profile, params, desired) "
	  "VALUES ($1, $2, $3, $4, $5::jsonb, 'enabled') "
	  ENABLE_WRITES
	  "SELECT true, x.* FROM (" INTAKE_STATE_SEL("up") ") x "
	  "UNION ALL SELECT false, x.* FROM (" INTAKE_STATE_SEL("services") " WHERE s.domain = $1 "
	  "AND s.service = $2 AND NOT EXISTS (SELECT 1 FROM up)) x" },
	{ "rz_enable_set", 5,
	  /* rz_enable for a whole batch of distinct (domain, service): the
	   * same writes, set-based; rows carry their request's ordinal. */
	  "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	  "$5::jsonb[]) WITH ORDINALITY AS r(domain, service, zone, profile, params, ord)), "
	  "up AS (INSERT INTO services AS s (domain, service, zone, profile, params, desired) "
	  "SELECT domain, service, zone, profile, params, 'enabled' FROM r "
	  ENABLE_WRITES
	  "SELECT r.ord, true, " STATE_COLS " FROM r JOIN up s ON s.domain = r.domain "
	  "AND s.service = r.service " STATE_CERT
	  "UNION ALL SELECT r.ord, false, " STATE_COLS " FROM r JOIN services s "
	  "ON s.domain = r.domain AND s.service = r.service " STATE_CERT
	  "WHERE NOT EXISTS (SELECT 1 FROM up u WHERE u.domain = r.domain "
	  "AND u.service = r.service)" },
	{ "rz_disable", 2,
	  "WITH up AS (UPDATE services SET desired = 'disabled', generation = generation + 1, "
	  "dns = 'removing', active = false, last_error = NULL, updated_at = now() "
	  "WHERE domain = $1 AND service = $2 AND "
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

/* A text[] literal of n values (NULL elements allowed): its length is
 * counted first, then it is written in one buffer (the intake builds nine
 * per batch of up to 256 requests: no stdio per character). */
static char *pg_ptr_array(const char *const *vals, size_t n)
{
	size_t len = 3;   /* braces and the terminator */
	char *buf, *o;

	for (size_t i = 0; i < n; i++) {
		len += 1;   /* comma */
		if (vals[i] == NULL) {
			len += 4;
			continue;
		}
		len += 2;   /* quotes */
		for (const char *v = vals[i]; *v != '\0'; v++)
			len += (*v == '"' || *v == '\\') ? 2 : 1;
	}
	if ((buf = malloc(len)) == NULL)
		return NULL;
	o = buf;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		if (vals[i] == NULL) {
			memcpy(o, "NULL", 4);
			o += 4;
			continue;
		}
		*o++ = '"';
		for (const char *v = vals[i]; *v != '\0'; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return buf;
}

/* A statement's result: TUPLES_OK or COMMAND_OK kept in *out (or
 * cleared), anything else RZ_EDB with the server's first line in err. */
static int result_ok(PGresult *r, PGresult **out, char *err, size_t errlen)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(err, errlen, "database: %.*s", (int)strcspn(PQresultErrorMessage(r), "\n"),
		         PQresultErrorMessage(r));
		PQclear(r);
		return RZ_EDB;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static int exec_prepared(PGconn *c, const char *name, int n, const char *const *p,
                         PGresult **out, char *err, size_t errlen)
{
	return result_ok(PQexecPrepared(c, name, n, p, NULL, NULL, 0), out, err, errlen);
}

int store_sql(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out,
              char *err, size_t errlen)
{
	return result_ok(exec_cached(c, sql, n, params), out, err, errlen);
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
	arr = pg_ptr_array(ids, n);
	free(ids);
	if (arr == NULL)
		return RZ_ENOMEM;
	ret = exec_prepared(c, "rz_replays", 1, (const char *const *)&arr, &r, err, errlen);
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
	const char **cols[5];
	char *arr[5] = { NULL };
	int ret = RZ_ENOMEM;
	size_t m = 0;

	*n_set = 0;
	for (int k = 0; k < 5; k++)
		cols[k] = calloc(n, sizeof(char *));
	for (int k = 0; k < 5; k++)
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
		m++;
	}
	for (int k = 0; k < 5; k++)
		if ((arr[k] = pg_ptr_array(cols[k], m)) == NULL)
			goto out;
	if (PQsendQueryPrepared(c, "rz_enable_set", 5, (const char *const *)arr, NULL, NULL,
	                        0) != 1) {
		snprintf(err, errlen, "database: %s", PQerrorMessage(c));
		ret = RZ_EDB;
		goto out;
	}
	*n_set = m;
	ret = 0;
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	for (int k = 0; k < 5; k++) {
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
		snprintf(err, errlen, "database: %.*s", (int)strcspn(PQresultErrorMessage(r), "\n"),
		         PQresultErrorMessage(r));
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
		state_from_row_at(r, row, 2, &it->st);
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
		                     q->params_json != NULL ? q->params_json : "{}" };
		int ok;

		if (items[i].replayed || in_set[i])
			continue;
		if (q->action == RZ_ACT_ENABLE)
			ok = PQsendQueryPrepared(c, "rz_enable", 5, pe, NULL, NULL, 0);
		else if (q->action == RZ_ACT_RENEW)
			ok = PQsendQueryPrepared(c, "rz_renew", 2, pe, NULL, NULL, 0);
		else
			ok = PQsendQueryPrepared(c, "rz_disable", 2, pe, NULL, NULL, 0);
		if (!ok) {
			snprintf(err, errlen, "database: %s", PQerrorMessage(c));
			ret = RZ_EDB;
			break;
		}
		sent++;
	}
	if (PQpipelineSync(c) != 1 && ret == 0) {
		snprintf(err, errlen, "database: %s", PQerrorMessage(c));
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
			state_absent(items[i].req->domain, items[i].req->service, &items[i].st);
		} else if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
			if (ret == 0) {
				snprintf(err, errlen, "database: %.*s",
				         (int)strcspn(PQresultErrorMessage(r), "\n"), PQresultErrorMessage(r));
				ret = RZ_EDB;
			}
		} else if (ret == 0) {
			items[i].changed = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			/* the state columns follow the flag */
			state_from_row_at(r, 0, 1, &items[i].st);
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
		if ((arr[k] = pg_ptr_array(cols[k], m)) == NULL)
			goto out;
	ret = exec_prepared(c, "rz_events", 9, (const char *const *)arr, NULL, err, errlen);
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
	if ((ret = cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
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
	if (any_changed && (ret = cmd(c, "NOTIFY rz_jobs", 0, NULL, err, errlen)) != 0)
		goto fail;
	if ((ret = cmd(c, "COMMIT", 0, NULL, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	rollback(c);
	for (size_t i = 0; i < n; i++) {
		free(items[i].reply);
		items[i].reply = NULL;
		items[i].replayed = items[i].changed = false;
	}
	return ret;
}

void rz_job_clear(struct rz_job *j)
{
	free(j->params_json);
	free(j->state_json);
	memset(j, 0, sizeof(*j));
}

int store_job_claim(PGconn *c, const char *worker, bool dead, struct rz_job *job, bool *got,
                    double *next_s, char *err, size_t errlen)
{
	const char *p[] = { worker };
	PGresult *r;

	*got = false;
	*next_s = -1;
	memset(job, 0, sizeof(*job));
	/* The hot path looks at free jobs only (a partial index); claims of
	 * workers whose PostgreSQL session is gone (a daemon that died) are
	 * taken over only when asked, which costs a look at pg_stat_activity.
	 * When nothing is claimed, one row of NULLs says when the next free job
	 * is due: no second statement before the worker sleeps. */
#define CLAIM(cond) \
	"WITH j AS (SELECT id FROM jobs WHERE " cond " AND next_attempt_at <= now() " \
	"ORDER BY priority, next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED), " \
	"u AS (UPDATE jobs SET claimed_pid = pg_backend_pid(), claimed_by = $1, " \
	"claimed_at = now(), claims = claims + 1, " \
	"first_attempt_at = coalesce(first_attempt_at, now()) " \
	"FROM j, services s WHERE jobs.id = j.id AND s.domain = jobs.domain " \
	"AND s.service = jobs.service " \
	"RETURNING jobs.id, jobs.domain, jobs.service, jobs.kind, jobs.step, " \
	"jobs.generation, jobs.attempts, " \
	"extract(epoch FROM now() - jobs.first_attempt_at)::float8 AS age, s.zone, " \
	"s.profile, s.desired, s.params::text AS params, jobs.state::text AS state) " \
	"SELECT u.*, NULL::float8 FROM u UNION ALL " \
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
	"(SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8 " \
	"FROM jobs WHERE claimed_pid IS NULL AND next_attempt_at < 'infinity') " \
	"WHERE NOT EXISTS (SELECT 1 FROM u)"
	if (!dead)
		r = q(c, CLAIM("claimed_pid IS NULL"), 1, p, PGRES_TUPLES_OK, err, errlen);
	else
		r = q(c, CLAIM("claimed_pid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
		               "pg_stat_activity a WHERE a.pid = jobs.claimed_pid)"),
		      1, p, PGRES_TUPLES_OK, err, errlen);
#undef CLAIM
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) == 1 && PQgetisnull(r, 0, 0)) {
		if (!PQgetisnull(r, 0, 13))
			*next_s = atof(PQgetvalue(r, 0, 13));
	} else if (PQntuples(r) == 1) {
		job->id = atoll(PQgetvalue(r, 0, 0));
		snprintf(job->domain, sizeof(job->domain), "%s", PQgetvalue(r, 0, 1));
		snprintf(job->service, sizeof(job->service), "%s", PQgetvalue(r, 0, 2));
		snprintf(job->kind, sizeof(job->kind), "%s", PQgetvalue(r, 0, 3));
		snprintf(job->step, sizeof(job->step), "%s", PQgetvalue(r, 0, 4));
		job->generation = atoll(PQgetvalue(r, 0, 5));
		job->attempts = atoi(PQgetvalue(r, 0, 6));
		job->step_age = atof(PQgetvalue(r, 0, 7));
		snprintf(job->zone, sizeof(job->zone), "%s", PQgetvalue(r, 0, 8));
		snprintf(job->profile, sizeof(job->profile), "%s", PQgetvalue(r, 0, 9));
		snprintf(job->desired, sizeof(job->desired), "%s", PQgetvalue(r, 0, 10));
		job->params_json = strdup(PQgetvalue(r, 0, 11));
		job->state_json = strdup(PQgetvalue(r, 0, 12));
		if (job->params_json == NULL || job->state_json == NULL) {
			PQclear(r);
			rz_job_clear(job);
			snprintf(err, errlen, "out of memory");
			return RZ_ENOMEM;
		}
		*got = true;
	}
	PQclear(r);
	return 0;
}

/* A step's "active": -1 keep, 0/1 set, 2 = the records published and a
 * certificate in place: issued, being renewed, or a renewal that failed
 * while the previous certificate (not revoked) is still valid and served. */
#define FINISH_ACTIVE \
	"CASE WHEN $10::int < 0 THEN s.active WHEN $10::int = 2 THEN " \
	"coalesce($9, s.dns) = 'published' AND (coalesce($13, s.cert_state) IN " \
	"('issued', 'renewing') OR (coalesce($13, s.cert_state) = 'failed' AND EXISTS " \
	"(SELECT 1 FROM certificates c WHERE c.domain = s.domain AND c.service = s.service " \
	"AND c.revoked_at IS NULL AND c.not_after > now()))) ELSE $10::int = 1 END"

/* Is step one of a cert job's steps while its order is in flight? */
static bool cert_in_flight(const char *kind, const char *step)
{
	static const char *const steps[] = {
		"publish", "verify", "respond", "poll", "finalize", "download",
	};

	if (kind == NULL || strcmp(kind, "cert") != 0 || step == NULL)
		return false;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(step, steps[i]) == 0)
			return true;
	return false;
}

int store_job_finish(PGconn *c, const struct rz_job *job, const struct rz_step_result *res,
                     bool *stale, bool *changed, struct rz_state *st,
                     char *err, size_t errlen)
{
	char id[32], gen[32], delay[32], active[8];
	/* A dns job that reaches "published" arms the service's cert job. */
	bool arm = res->arm_cert;
	/* An order that ends frees a slot: the order that waits longest for
	 * one is woken (it was parked, not polling). */
	bool frees = cert_in_flight(job->kind, job->step) &&
	             !cert_in_flight(job->kind, res->next_step);
	const char *p[] = {
		id, gen, res->next_step, delay, res->failed ? "t" : "f", res->last_error,
		res->state_json,
		res->next_step != NULL && strcmp(res->next_step, job->step) == 0 ? "t" : "f",
		res->dns, active, res->audit_kind, res->audit_msg, res->cert_state,
		arm ? "t" : "f", frees ? "t" : "f",
	};
	PGresult *r;

	*stale = false;
	*changed = false;
	snprintf(id, sizeof(id), "%lld", job->id);
	snprintf(gen, sizeof(gen), "%lld", job->generation);
	snprintf(delay, sizeof(delay), "%.3f", res->delay_s);
	snprintf(active, sizeof(active), "%d", res->active);
	/*
	 * One statement (one round trip, one implicit transaction):
	 *   j    the job moves on and its claim is released, if the desired
	 *        state is still the one it worked toward (generation) -
	 *        the same step again keeps its start time and count, a new
	 *        step starts afresh, no next step parks the job;
	 *   rel  otherwise only the claim is released (the newer work runs
	 *        next) and the workers are woken;
	 *   sv   the service's dns/active/last_error, when they change;
	 *   a    the step's audit line.
	 * Returns: updated (0/1), then the new state when sv changed it.
	 */
	r = q(c, "WITH j AS (UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, "
	      "  claimed_at = NULL, step = coalesce($3, step), "
	      "  priority = CASE WHEN coalesce($3, step) LIKE 'verify%' THEN 0 ELSE 1 END, "
	      "  next_attempt_at = CASE WHEN $3 IS NULL THEN 'infinity' "
	      "    ELSE now() + make_interval(secs => $4::double precision) END, "
	      "  attempts = CASE WHEN $5::boolean THEN attempts + 1 "
	      "    WHEN $8::boolean THEN attempts ELSE 0 END, "
	      "  first_attempt_at = CASE WHEN $8::boolean THEN first_attempt_at ELSE NULL END, "
	      "  last_error = $6, state = coalesce($7::jsonb, state), updated_at = now() "
	      "  WHERE id = $1::bigint AND generation = $2::bigint "
	      "  AND claimed_pid = pg_backend_pid() RETURNING domain, service, generation), "
	      /* arm: the cert job of a service whose records are now published:
	       * created, or (parked after a removal, or failed and parked) made due;
	       * one in progress or issued only follows the generation. */
	      "arm AS (INSERT INTO jobs (domain, service, kind, step, generation) "
	      "  SELECT domain, service, 'cert', 'order', generation FROM j WHERE $14::boolean "
	      "  ON CONFLICT (domain, service, kind) DO UPDATE SET "
	      "  generation = EXCLUDED.generation, "
	      "  step = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = 'remove' "
	      "    OR jobs.state->>'parked' = 'failed') THEN 'order' ELSE jobs.step END, "
	      "  state = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = 'remove' "
	      "    OR jobs.state->>'parked' = 'failed') THEN '{}'::jsonb ELSE jobs.state END, "
	      "  attempts = CASE WHEN jobs.next_attempt_at = 'infinity' THEN 0 ELSE jobs.attempts END, "
	      "  next_attempt_at = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = "
	      "    'remove' OR jobs.state->>'parked' = 'failed') THEN now() "
	      /* an issued certificate is looked at again: the profile (its
	       * names) may have changed */
	      "    WHEN jobs.step = 'renew' THEN now() "
	      "    ELSE jobs.next_attempt_at END, updated_at = now() "
	      "  RETURNING pg_notify('rz_jobs', '')), "
	      "rel AS (UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL "
	      "  WHERE id = $1::bigint AND claimed_pid = pg_backend_pid() "
	      "  AND NOT EXISTS (SELECT 1 FROM j) RETURNING pg_notify('rz_jobs', '')), "
	      "wake AS (UPDATE jobs SET next_attempt_at = now() WHERE id = (SELECT w.id FROM jobs w "
	      "  WHERE $15::boolean AND w.kind = 'cert' AND w.step = 'order' "
	      "  AND w.state ? 'slot_wait' AND w.claimed_pid IS NULL AND w.next_attempt_at > now() "
	      "  AND w.next_attempt_at < 'infinity' AND w.id <> $1::bigint "
	      "  ORDER BY w.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
	      "  RETURNING pg_notify('rz_jobs', '')), "
	      /* active: -1 keep, 0/1 set, 2 = records published and a
	       * certificate issued (or renewing: the old one still serves) */
	      "sv AS (UPDATE services s SET dns = coalesce($9, s.dns), "
	      "  cert_state = coalesce($13, s.cert_state), "
	      "  active = " FINISH_ACTIVE ", "
	      "  last_error = $6, updated_at = now() FROM j "
	      "  WHERE s.domain = j.domain AND s.service = j.service "
	      "  AND s.generation = $2::bigint "
	      "  AND (s.dns IS DISTINCT FROM coalesce($9, s.dns) "
	      "    OR s.cert_state IS DISTINCT FROM coalesce($13, s.cert_state) "
	      "    OR s.active IS DISTINCT FROM (" FINISH_ACTIVE ") "
	      "    OR s.last_error IS DISTINCT FROM $6) RETURNING s.*), "
	      "a AS (INSERT INTO audit (domain, service, kind, message) "
	      "  SELECT domain, service, $11::text, $12::text FROM j WHERE $11::text IS NOT NULL) "
	      "SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM rel) + (SELECT count(*) FROM "
	      "wake), x.* FROM (SELECT 1) one LEFT JOIN (" INTAKE_STATE_SEL("sv") ") x ON true",
	      15, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "database: finishing job %s returned no row", id);
		return RZ_EDB;
	}
	*stale = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
	*changed = !*stale && !PQgetisnull(r, 0, 2);
	if (*changed)
		state_from_row_at(r, 0, 2, st);
	PQclear(r);
	return 0;
}

int store_release_claims(PGconn *c, char *err, size_t errlen)
{
	return cmd(c, "UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL "
	           "WHERE claimed_pid = pg_backend_pid()", 0, NULL, err, errlen);
}

int store_ledger_live(PGconn *c, const char *domain, const char *service,
                      struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	return store_ledger_live_of(c, domain, service, "service", out, n, err, errlen);
}

int store_ledger_live_of(PGconn *c, const char *domain, const char *service,
                         const char *purpose, struct zg_krec **out, size_t *n,
                         char *err, size_t errlen)
{
	const char *p[] = { domain, service, purpose };
	PGresult *r = q(c, "SELECT owner, ttl, rtype, rdata FROM published_records "
	                "WHERE domain = $1 AND service = $2 AND removed_at IS NULL AND "
	                "purpose = $3 ORDER BY id", 3, p, PGRES_TUPLES_OK, err, errlen);
	int rows;

	*out = NULL;
	*n = 0;
	if (r == NULL)
		return RZ_EDB;
	rows = PQntuples(r);
	if (rows > 0 && (*out = calloc((size_t)rows, sizeof(**out))) == NULL) {
		PQclear(r);
		return RZ_ENOMEM;
	}
	for (int i = 0; i < rows; i++) {
		struct zg_krec *k = &(*out)[i];

		snprintf(k->owner, sizeof(k->owner), "%s", PQgetvalue(r, i, 0));
		k->ttl = (uint32_t)strtoul(PQgetvalue(r, i, 1), NULL, 10);
		snprintf(k->type, sizeof(k->type), "%s", PQgetvalue(r, i, 2));
		snprintf(k->data, sizeof(k->data), "%s", PQgetvalue(r, i, 3));
	}
	*n = (size_t)rows;
	PQclear(r);
	return 0;
}

/* A PostgreSQL array literal of n strings taken at stride from base:
 * every element quoted, '"' and '\\' escaped.  malloc'ed. */
static char *pg_text_array(const char *base, size_t stride, size_t n)
{
	const char **vals = calloc(n ? n : 1, sizeof(*vals));
	char *arr;

	if (vals == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		vals[i] = base + i * stride;
	arr = pg_ptr_array(vals, n);
	free(vals);
	return arr;
}

/* The four columns of records as PostgreSQL array literals. */
struct rec_arrays {
	char *owners, *ttls, *types, *datas;
};

static void rec_arrays_free(struct rec_arrays *a)
{
	free(a->owners);
	free(a->ttls);
	free(a->types);
	free(a->datas);
}

static int rec_arrays(const struct zg_krec *recs, size_t n, struct rec_arrays *a)
{
	size_t len = 0;
	FILE *f;

	memset(a, 0, sizeof(*a));
	a->owners = pg_text_array(n ? recs[0].owner : "", sizeof(*recs), n);
	a->types = pg_text_array(n ? recs[0].type : "", sizeof(*recs), n);
	a->datas = pg_text_array(n ? recs[0].data : "", sizeof(*recs), n);
	if ((f = open_memstream(&a->ttls, &len)) != NULL) {
		fputc('{', f);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%u", i ? "," : "", recs[i].ttl);
		fputc('}', f);
		if (fclose(f) != 0) {
			free(a->ttls);
			a->ttls = NULL;
		}
	}
	if (a->owners == NULL || a->types == NULL || a->datas == NULL || a->ttls == NULL) {
		rec_arrays_free(a);
		return RZ_ENOMEM;
	}
	return 0;
}

int store_ledger_settle(PGconn *c, const struct rz_job *job,
                        const struct zg_krec *want, size_t n_want,
                        const struct zg_krec *removed, size_t n_removed,
                        char *err, size_t errlen)
{
	struct rec_arrays w, r;
	int ret;

	if (rec_arrays(want, n_want, &w) != 0)
		return RZ_ENOMEM;
	if (rec_arrays(removed, n_removed, &r) != 0) {
		rec_arrays_free(&w);
		return RZ_ENOMEM;
	}
	{
		/* One statement: pending rows of wanted records go live, removed
		 * records close, and each change leaves an audit line. */
		const char *p[] = { job->domain, job->service, w.owners, w.ttls, w.types, w.datas,
		                    r.owners, r.ttls, r.types, r.datas };

		ret = cmd(c, "WITH live AS (UPDATE published_records pr SET state = 'live' "
		          "  FROM unnest($3::text[], $4::integer[], $5::text[], $6::text[]) AS w(o, t, ty, d) "
		          "  WHERE pr.domain = $1 AND pr.service = $2 AND pr.owner = w.o "
		          "  AND pr.rtype = w.ty AND pr.rdata = w.d AND pr.removed_at IS NULL "
		          "  AND pr.state = 'pending' "
		          "  RETURNING pr.owner, pr.ttl, pr.rtype, pr.rdata), "
		          "gone AS (UPDATE published_records pr SET removed_at = now() "
		          "  FROM unnest($7::text[], $8::integer[], $9::text[], $10::text[]) AS g(o, t, ty, d) "
		          "  WHERE pr.domain = $1 AND pr.service = $2 AND pr.owner = g.o "
		          "  AND pr.rtype = g.ty AND pr.rdata = g.d AND pr.removed_at IS NULL "
		          "  RETURNING pr.owner, pr.ttl, pr.rtype, pr.rdata) "
		          "INSERT INTO audit (domain, service, kind, message) "
		          "SELECT $1, $2, 'record_added', 'added ' || owner || ' ' || ttl || ' ' || "
		          "  rtype || ' ' || rdata FROM live "
		          "UNION ALL SELECT $1, $2, 'record_removed', 'removed ' || owner || ' ' || "
		          "  ttl || ' ' || rtype || ' ' || rdata FROM gone",
		          10, p, err, errlen);
	}
	rec_arrays_free(&w);
	rec_arrays_free(&r);
	return ret;
}

int store_ledger_pending(PGconn *c, const struct rz_job *job, const struct zg_krec *recs,
                         size_t n, char *err, size_t errlen)
{
	return store_ledger_pending_of(c, job, "service", recs, n, err, errlen);
}

int store_ledger_pending_of(PGconn *c, const struct rz_job *job, const char *purpose,
                            const struct zg_krec *recs, size_t n, char *err, size_t errlen)
{
	struct rec_arrays a;
	int ret;

	if (n == 0)
		return 0;
	if (rec_arrays(recs, n, &a) != 0) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	{
		const char *p[] = { job->domain, job->service, job->zone, a.owners, a.ttls, a.types,
		                    a.datas, purpose };

		/* One statement for all of them: this runs while the zone's Knot
		 * transaction is open, so it must be short. */
		ret = cmd(c, "INSERT INTO published_records (domain, service, zone, owner, ttl, "
		          "rtype, rdata, state, purpose) SELECT $1, $2, $3, o, t, ty, d, 'pending', $8 "
		          "FROM unnest($4::text[], $5::integer[], $6::text[], $7::text[]) AS r(o, t, ty, d) "
		          "ON CONFLICT (zone, owner, rtype, rdata) WHERE removed_at IS NULL DO NOTHING",
		          8, p, err, errlen);
	}
	rec_arrays_free(&a);
	return ret;
}

int store_zone_trylock(PGconn *c, const char *zone, bool *got, char *err, size_t errlen)
{
	const char *p[] = { zone };
	PGresult *r = q(c, "SELECT pg_try_advisory_lock(hashtext('regzone zone ' || $1))", 1, p,
	                PGRES_TUPLES_OK, err, errlen);

	*got = false;
	if (r == NULL)
		return RZ_EDB;
	*got = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return 0;
}

int store_zone_unlock(PGconn *c, const char *zone)
{
	const char *p[] = { zone };
	char err[256];
	PGresult *r = q(c, "SELECT pg_advisory_unlock(hashtext('regzone zone ' || $1))", 1, p,
	                PGRES_TUPLES_OK, err, sizeof(err));

	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}

int store_audit(PGconn *c, const char *domain, const char *service, const char *event_id,
                const char *kind, const char *message, const char *detail_json,
                char *err, size_t errlen)
{
	const char *p[] = { domain, service, event_id, kind, message, detail_json };

	return cmd(c, "INSERT INTO audit (domain, service, event_id, kind, message, detail) "
	           "VALUES ($1, $2, $3, $4, $5, $6::jsonb)", 6, p, err, errlen);
}

int store_knot_txn_intent(PGconn *c, const char *zone, long long job_id, long long *id,
                          char *err, size_t errlen)
{
	char jid[32];
	const char *p[] = { zone, jid };
	PGresult *r;

	snprintf(jid, sizeof(jid), "%lld", job_id);
	r = q(c, "INSERT INTO knot_txns (zone, backend_pid, backend_start, worker, job_id) "
	      "SELECT $1, pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity "
	      "WHERE pid = pg_backend_pid()), coalesce(current_setting('application_name', "
	      "true), ''), nullif($2, '0')::bigint RETURNING id", 2, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	*id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* A knot_txns row whose session is gone: no backend with its pid and
 * start time (a pid PostgreSQL gave to a new session does not count). */
#define KNOT_TXN_DEAD \
	"t.zone = $1 AND t.backend_pid <> pg_backend_pid() AND NOT EXISTS (SELECT 1 FROM " \
	"pg_stat_activity a WHERE a.pid = t.backend_pid AND (t.backend_start IS NULL OR " \
	"a.backend_start IS NULL OR a.backend_start = t.backend_start))"

int store_knot_txn_done(PGconn *c, const char *zone, long long id, bool dead, char *err,
                        size_t errlen)
{
	char sid[32];
	const char *p[] = { zone, sid, dead ? "t" : "f" };

	snprintf(sid, sizeof(sid), "%lld", id);
	/* the activity check runs only for other rows of the zone: normally none */
	return cmd(c, "DELETE FROM knot_txns t WHERE t.id = $2::bigint OR ($3::boolean AND "
	           "t.id <> $2::bigint AND " KNOT_TXN_DEAD ")", 3, p, err, errlen);
}

int store_knot_txn_dead(PGconn *c, const char *zone, int *n_dead, char *err, size_t errlen)
{
	const char *p[] = { zone };
	PGresult *r = q(c, "SELECT count(*) FROM knot_txns t WHERE " KNOT_TXN_DEAD, 1, p,
	                PGRES_TUPLES_OK, err, errlen);

	*n_dead = 0;
	if (r == NULL)
		return RZ_EDB;
	*n_dead = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int store_knot_txn_forget_dead(PGconn *c, const char *zone, char *err, size_t errlen)
{
	const char *p[] = { zone };

	return cmd(c, "DELETE FROM knot_txns t WHERE " KNOT_TXN_DEAD, 1, p, err, errlen);
}

int store_ledger_holds(PGconn *c, const char *zone, const struct zg_krec *recs, size_t n,
                       bool *all, char *why, size_t whylen, char *err, size_t errlen)
{
	struct rec_arrays a;
	PGresult *r;
	int ret = 0;

	*all = true;
	why[0] = '\0';
	if (n == 0)
		return 0;
	if (rec_arrays(recs, n, &a) != 0) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	{
		const char *p[] = { zone, a.owners, a.types, a.datas };

		r = q(c, "SELECT w.o || ' ' || w.ty || ' ' || w.d FROM unnest($2::text[], $3::text[], "
		      "$4::text[]) AS w(o, ty, d) WHERE NOT EXISTS (SELECT 1 FROM published_records pr "
		      "WHERE pr.zone = $1 AND pr.owner = w.o AND pr.rtype = w.ty AND pr.rdata = w.d "
		      "AND pr.removed_at IS NULL) LIMIT 1", 4, p, PGRES_TUPLES_OK, err, errlen);
	}
	rec_arrays_free(&a);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) > 0) {
		*all = false;
		snprintf(why, whylen, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return ret;
}

int store_cert_slot_take(PGconn *c, long long job_id, uint32_t max, bool *got,
                         char *err, size_t errlen)
{
	char jid[32], smax[16];
	const char *p[] = { jid, smax };
	PGresult *r = NULL;
	int ret;

	*got = false;
	snprintf(jid, sizeof(jid), "%lld", job_id);
	snprintf(smax, sizeof(smax), "%u", max);
	if ((ret = cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	/* One taker at a time, across daemons: a count and a mark that two
	 * workers made together could both see a free slot. */
	r = q(c, "SELECT pg_advisory_xact_lock(hashtext('regzone acme slots'))", 0, NULL,
	      PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		goto fail;
	PQclear(r);
	r = q(c, "SELECT count(*) < $2::bigint FROM jobs WHERE kind = 'cert' AND id <> $1::bigint "
	      "AND (step IN (" RZ_CERT_INFLIGHT_SQL ") OR (step = 'order' AND state ? 'slot_held'))",
	      2, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		goto fail;
	*got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (*got && (ret = cmd(c, "UPDATE jobs SET state = state || '{\"slot_held\": true}' "
	                       "WHERE id = $1::bigint", 1, p, err, errlen)) != 0)
		goto fail;
	if ((ret = cmd(c, "COMMIT", 0, NULL, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	*got = false;
	rollback(c);
	return RZ_EDB;
}
