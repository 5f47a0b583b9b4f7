/*
 * store.c - the daemon's PostgreSQL operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"

/* A parameterised statement; NULL result status mismatch -> RZ_EDB. */
static PGresult *q(PGconn *c, const char *sql, int n, const char *const *params,
                   ExecStatusType want, char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

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
#define STATE_FROM \
	"FROM services s LEFT JOIN LATERAL (SELECT not_after, serial FROM certificates " \
	"WHERE domain = s.domain AND service = s.service AND revoked_at IS NULL " \
	"ORDER BY not_after DESC LIMIT 1) ce ON true "

static void state_from_row(const PGresult *r, int row, struct rz_state *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->domain, sizeof(st->domain), "%s", PQgetvalue(r, row, 0));
	snprintf(st->service, sizeof(st->service), "%s", PQgetvalue(r, row, 1));
	snprintf(st->desired, sizeof(st->desired), "%s", PQgetvalue(r, row, 2));
	snprintf(st->dns, sizeof(st->dns), "%s", PQgetvalue(r, row, 3));
	snprintf(st->cert_state, sizeof(st->cert_state), "%s", PQgetvalue(r, row, 4));
	snprintf(st->not_after, sizeof(st->not_after), "%s", PQgetvalue(r, row, 5));
	snprintf(st->serial, sizeof(st->serial), "%s", PQgetvalue(r, row, 6));
	st->active = strcmp(PQgetvalue(r, row, 7), "t") == 0;
	snprintf(st->last_error, sizeof(st->last_error), "%s", PQgetvalue(r, row, 8));
	snprintf(st->updated_at, sizeof(st->updated_at), "%s", PQgetvalue(r, row, 9));
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

/* The desired-state change of one request, inside the intake transaction.
 * *changed: a row was written. */
static int apply_action(PGconn *c, const struct rz_req *req, const char *zone, bool *changed,
                        char *err, size_t errlen)
{
	PGresult *r = NULL;
	const char *p[6];
	int ret = 0;

	*changed = false;
	if (req->action == RZ_ACT_ENABLE) {
		p[0] = req->domain;
		p[1] = req->service;
		p[2] = zone;
		p[3] = req->profile;
		p[4] = req->params_json;
		/* A re-sent enable with the same profile and params changes nothing,
		 * unless the service is in conflict or error: then it retries. */
		r = q(c, "INSERT INTO services AS s (domain, service, zone, profile, params, desired) "
		      "VALUES ($1, $2, $3, $4, $5::jsonb, 'enabled') "
		      "ON CONFLICT (domain, service) DO UPDATE SET desired = 'enabled', "
		      "zone = EXCLUDED.zone, profile = EXCLUDED.profile, params = EXCLUDED.params, "
		      "generation = s.generation + 1, dns = 'pending', last_error = NULL, "
		      "updated_at = now() "
		      "WHERE s.desired <> 'enabled' OR s.profile <> EXCLUDED.profile "
		      "OR s.params <> EXCLUDED.params OR s.zone <> EXCLUDED.zone "
		      "OR s.dns IN ('conflict', 'error') "
		      "RETURNING generation", 5, p, PGRES_TUPLES_OK, err, errlen);
		if (r == NULL)
			return RZ_EDB;
		if (PQntuples(r) == 1) {
			const char *jp[] = { req->domain, req->service, PQgetvalue(r, 0, 0) };

			*changed = true;
			ret = cmd(c, "INSERT INTO jobs (domain, service, kind, step, generation) "
			          "VALUES ($1, $2, 'dns', 'publish', $3::bigint) "
			          "ON CONFLICT (domain, service, kind) DO UPDATE SET step = 'publish', "
			          "generation = EXCLUDED.generation, next_attempt_at = now(), "
			          "attempts = 0, first_attempt_at = NULL, last_error = NULL, "
			          "state = '{}', updated_at = now()", 3, jp, err, errlen);
		}
	} else if (req->action == RZ_ACT_DISABLE) {
		p[0] = req->domain;
		p[1] = req->service;
		r = q(c, "UPDATE services SET desired = 'disabled', generation = generation + 1, "
		      "dns = 'removing', active = false, last_error = NULL, updated_at = now() "
		      "WHERE domain = $1 AND service = $2 AND "
		      "(desired <> 'disabled' OR dns IN ('conflict', 'error')) "
		      "RETURNING generation", 2, p, PGRES_TUPLES_OK, err, errlen);
		if (r == NULL)
			return RZ_EDB;
		if (PQntuples(r) == 1) {
			const char *jp[] = { req->domain, req->service, PQgetvalue(r, 0, 0) };

			*changed = true;
			ret = cmd(c, "UPDATE jobs SET step = 'remove', generation = $3::bigint, "
			          "next_attempt_at = now(), attempts = 0, first_attempt_at = NULL, "
			          "last_error = NULL, state = '{}', updated_at = now() "
			          "WHERE domain = $1 AND service = $2 AND kind = 'dns'", 3, jp,
			          err, errlen);
		}
	}
	PQclear(r);
	if (ret == 0 && *changed)
		ret = cmd(c, "NOTIFY rz_jobs", 0, NULL, err, errlen);
	return ret;
}

static int intake_once(PGconn *c, const struct rz_req *req, const char *zone, char **reply,
                       bool *replayed, bool *changed, struct rz_state *st,
                       char *err, size_t errlen)
{
	const char *p[8];
	PGresult *r = NULL;
	json_t *sj = NULL;
	char audit[256];
	bool found;
	int ret;

	*reply = NULL;
	*replayed = false;
	*changed = false;
	if ((ret = cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	p[0] = req->id;
	r = q(c, "SELECT body_sha256, reply FROM events WHERE id = $1", 1, p,
	      PGRES_TUPLES_OK, err, errlen);
	if (r == NULL) {
		ret = RZ_EDB;
		goto out;
	}
	if (PQntuples(r) == 1) {
		*replayed = true;
		if (strcmp(PQgetvalue(r, 0, 0), req->body_sha256) == 0)
			*reply = strdup(PQgetvalue(r, 0, 1));
		else
			*reply = rz_reply_error(req->id, RZ_RC_BAD_REQUEST, "id already used by "
			                        "another request with a different body");
		ret = *reply != NULL ? cmd(c, "COMMIT", 0, NULL, err, errlen) : RZ_ENOMEM;
		goto out;
	}
	PQclear(r);
	r = NULL;

	if ((ret = apply_action(c, req, zone, changed, err, errlen)) != 0)
		goto out;
	if ((ret = store_state(c, req->domain, req->service, st, &found, err, errlen)) != 0)
		goto out;
	sj = rz_state_json(st);
	*reply = sj != NULL ? rz_reply_ok(req->id, sj) : NULL;
	if (*reply == NULL) {
		ret = RZ_ENOMEM;
		goto out;
	}
	p[1] = rz_action_name(req->action);
	p[2] = req->service;
	p[3] = req->domain;
	p[4] = req->action == RZ_ACT_ENABLE ? req->profile : NULL;
	p[5] = req->params_json != NULL ? req->params_json : "{}";
	p[6] = req->body_sha256;
	p[7] = *reply;
	ret = cmd(c, "INSERT INTO events (id, action, service, domain, profile, params, "
	          "body_sha256, reply) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)",
	          8, p, err, errlen);
	if (ret != 0)
		goto out;
	snprintf(audit, sizeof(audit), "%s requested%s%s%s", rz_action_name(req->action),
	         req->action == RZ_ACT_ENABLE ? " (profile " : "",
	         req->action == RZ_ACT_ENABLE ? req->profile : "",
	         req->action == RZ_ACT_ENABLE ? ")" : "");
	if (!*changed)
		strncat(audit, ": already the desired state", sizeof(audit) - strlen(audit) - 1);
	ret = store_audit(c, req->domain, req->service, req->id, "event", audit,
	                  req->action == RZ_ACT_ENABLE ? req->params_json : NULL, err, errlen);
	if (ret == 0)
		ret = cmd(c, "COMMIT", 0, NULL, err, errlen);
out:
	PQclear(r);
	json_decref(sj);
	if (ret != 0) {
		rollback(c);
		free(*reply);
		*reply = NULL;
	}
	return ret;
}

int store_intake(PGconn *c, const struct rz_req *req, const char *zone, char **reply,
                 bool *replayed, bool *changed, struct rz_state *state,
                 char *err, size_t errlen)
{
	int ret = intake_once(c, req, zone, reply, replayed, changed, state, err, errlen);

	/* Two requests with one id at once: the loser's INSERT hits the primary
	 * key; run again and it is a replay. */
	if (ret == RZ_EDB && strstr(err, "events_pkey") != NULL)
		ret = intake_once(c, req, zone, reply, replayed, changed, state, err, errlen);
	return ret;
}

void rz_job_clear(struct rz_job *j)
{
	free(j->params_json);
	free(j->state_json);
	memset(j, 0, sizeof(*j));
}

int store_job_claim(PGconn *c, const char *worker, struct rz_job *job, bool *got,
                    char *err, size_t errlen)
{
	const char *p[] = { worker };
	PGresult *r;

	*got = false;
	memset(job, 0, sizeof(*job));
	r = q(c, "WITH j AS (SELECT id FROM jobs WHERE next_attempt_at <= now() AND "
	      "(claimed_pid IS NULL OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
	      "WHERE a.pid = jobs.claimed_pid)) "
	      "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
	      "UPDATE jobs SET claimed_pid = pg_backend_pid(), claimed_by = $1, "
	      "claimed_at = now(), first_attempt_at = coalesce(first_attempt_at, now()) "
	      "FROM j, services s WHERE jobs.id = j.id AND s.domain = jobs.domain "
	      "AND s.service = jobs.service "
	      "RETURNING jobs.id, jobs.domain, jobs.service, jobs.kind, jobs.step, "
	      "jobs.generation, jobs.attempts, "
	      "extract(epoch FROM now() - jobs.first_attempt_at), s.zone, s.profile, "
	      "s.desired, s.params::text, jobs.state::text", 1, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) == 1) {
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

int store_job_wait(PGconn *c, double cap, double *secs, char *err, size_t errlen)
{
	PGresult *r = q(c, "SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now())) "
	                "FROM jobs WHERE claimed_pid IS NULL AND next_attempt_at < 'infinity'",
	                0, NULL, PGRES_TUPLES_OK, err, errlen);

	if (r == NULL)
		return RZ_EDB;
	*secs = cap;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) && atof(PQgetvalue(r, 0, 0)) < cap)
		*secs = atof(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int store_job_finish(PGconn *c, const struct rz_job *job, const struct rz_step_result *res,
                     bool *stale, bool *changed, struct rz_state *st,
                     char *err, size_t errlen)
{
	char id[32], gen[32], delay[32], active[8];
	const char *last_error = res->last_error;
	PGresult *r = NULL;
	bool found;
	int ret;

	*stale = false;
	*changed = false;
	snprintf(id, sizeof(id), "%lld", job->id);
	snprintf(gen, sizeof(gen), "%lld", job->generation);
	snprintf(delay, sizeof(delay), "%.3f", res->delay_s);
	snprintf(active, sizeof(active), "%d", res->active);
	if ((ret = cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	{
		const char *p[] = {
			id, gen, res->next_step, delay, res->failed ? "t" : "f", last_error,
			res->state_json,
			res->next_step != NULL && strcmp(res->next_step, job->step) == 0 ? "t" : "f",
		};

		/* Same step again (waiting or failing): keep its start time and count;
		 * a new step starts afresh.  NULL next step parks the job. */
		r = q(c, "UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL, "
		      "step = coalesce($3, step), "
		      "next_attempt_at = CASE WHEN $3 IS NULL THEN 'infinity' "
		      "  ELSE now() + make_interval(secs => $4::double precision) END, "
		      "attempts = CASE WHEN $5::boolean THEN attempts + 1 "
		      "  WHEN $8::boolean THEN attempts ELSE 0 END, "
		      "first_attempt_at = CASE WHEN $8::boolean THEN first_attempt_at ELSE NULL END, "
		      "last_error = $6, state = coalesce($7::jsonb, state), updated_at = now() "
		      "WHERE id = $1::bigint AND generation = $2::bigint AND claimed_pid = pg_backend_pid() "
		      "RETURNING id", 8, p, PGRES_TUPLES_OK, err, errlen);
	}
	if (r == NULL) {
		ret = RZ_EDB;
		goto out;
	}
	if (PQntuples(r) == 0) {
		/* The desired state moved on: drop our claim, the newer step runs. */
		const char *p[] = { id };

		*stale = true;
		ret = cmd(c, "UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL "
		          "WHERE id = $1::bigint AND claimed_pid = pg_backend_pid()", 1, p, err, errlen);
		if (ret == 0)
			ret = cmd(c, "NOTIFY rz_jobs", 0, NULL, err, errlen);
		goto commit;
	}
	PQclear(r);
	r = NULL;
	{
		const char *p[] = { job->domain, job->service, gen, res->dns, active, last_error };

		r = q(c, "UPDATE services SET dns = coalesce($4, dns), "
		      "active = CASE WHEN $5::int < 0 THEN active ELSE $5::int = 1 END, "
		      "last_error = $6, updated_at = now() "
		      "WHERE domain = $1 AND service = $2 AND generation = $3::bigint "
		      "AND (dns IS DISTINCT FROM coalesce($4, dns) "
		      "  OR active IS DISTINCT FROM (CASE WHEN $5::int < 0 THEN active ELSE $5::int = 1 END) "
		      "  OR last_error IS DISTINCT FROM $6) "
		      "RETURNING dns", 6, p, PGRES_TUPLES_OK, err, errlen);
	}
	if (r == NULL) {
		ret = RZ_EDB;
		goto out;
	}
	*changed = PQntuples(r) == 1;
	if (res->audit_kind != NULL && (ret = store_audit(c, job->domain, job->service, NULL,
	                                                  res->audit_kind, res->audit_msg, NULL,
	                                                  err, errlen)) != 0)
		goto out;
	if (*changed && (ret = store_state(c, job->domain, job->service, st, &found, err,
	                                   errlen)) != 0)
		goto out;
commit:
	if (ret == 0)
		ret = cmd(c, "COMMIT", 0, NULL, err, errlen);
out:
	PQclear(r);
	if (ret != 0)
		rollback(c);
	return ret;
}

int store_release_claims(PGconn *c, char *err, size_t errlen)
{
	return cmd(c, "UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL "
	           "WHERE claimed_pid = pg_backend_pid()", 0, NULL, err, errlen);
}

int store_ledger_live(PGconn *c, const char *domain, const char *service,
                      struct zg_krec **out, size_t *n, char *err, size_t errlen)
{
	const char *p[] = { domain, service };
	PGresult *r = q(c, "SELECT owner, ttl, rtype, rdata FROM published_records "
	                "WHERE domain = $1 AND service = $2 AND removed_at IS NULL AND "
	                "purpose = 'service' ORDER BY id", 2, p, PGRES_TUPLES_OK, err, errlen);
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

int store_ledger_pending(PGconn *c, const struct rz_job *job, const struct zg_krec *recs,
                         size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		char ttl[16];
		const char *p[] = { job->domain, job->service, job->zone, recs[i].owner, ttl,
		                    recs[i].type, recs[i].data };
		int ret;

		snprintf(ttl, sizeof(ttl), "%u", recs[i].ttl);
		ret = cmd(c, "INSERT INTO published_records (domain, service, zone, owner, ttl, "
		          "rtype, rdata, state) VALUES ($1, $2, $3, $4, $5::integer, $6, $7, 'pending') "
		          "ON CONFLICT (zone, owner, rtype, rdata) WHERE removed_at IS NULL DO NOTHING",
		          7, p, err, errlen);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int store_ledger_settle(PGconn *c, const struct rz_job *job,
                        const struct zg_krec *want, size_t n_want,
                        const struct zg_krec *removed, size_t n_removed,
                        char *err, size_t errlen)
{
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 64];
	int ret;

	if ((ret = cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	for (size_t i = 0; i < n_want; i++) {
		const char *p[] = { job->domain, job->service, want[i].owner, want[i].type,
		                    want[i].data };
		PGresult *r = q(c, "UPDATE published_records SET state = 'live' "
		                "WHERE domain = $1 AND service = $2 AND owner = $3 AND rtype = $4 "
		                "AND rdata = $5 AND removed_at IS NULL AND state = 'pending' "
		                "RETURNING id", 5, p, PGRES_TUPLES_OK, err, errlen);

		if (r == NULL) {
			ret = RZ_EDB;
			goto out;
		}
		if (PQntuples(r) > 0) {
			snprintf(line, sizeof(line), "added %s %u %s %s", want[i].owner, want[i].ttl,
			         want[i].type, want[i].data);
			ret = store_audit(c, job->domain, job->service, NULL, "record_added", line,
			                  NULL, err, errlen);
		}
		PQclear(r);
		if (ret != 0)
			goto out;
	}
	for (size_t i = 0; i < n_removed; i++) {
		const char *p[] = { job->domain, job->service, removed[i].owner, removed[i].type,
		                    removed[i].data };

		ret = cmd(c, "UPDATE published_records SET removed_at = now() "
		          "WHERE domain = $1 AND service = $2 AND owner = $3 AND rtype = $4 "
		          "AND rdata = $5 AND removed_at IS NULL", 5, p, err, errlen);
		if (ret != 0)
			goto out;
		snprintf(line, sizeof(line), "removed %s %u %s %s", removed[i].owner,
		         removed[i].ttl, removed[i].type, removed[i].data);
		if ((ret = store_audit(c, job->domain, job->service, NULL, "record_removed", line,
		                       NULL, err, errlen)) != 0)
			goto out;
	}
	ret = cmd(c, "COMMIT", 0, NULL, err, errlen);
out:
	if (ret != 0)
		rollback(c);
	return ret;
}

int store_audit(PGconn *c, const char *domain, const char *service, const char *event_id,
                const char *kind, const char *message, const char *detail_json,
                char *err, size_t errlen)
{
	const char *p[] = { domain, service, event_id, kind, message, detail_json };

	return cmd(c, "INSERT INTO audit (domain, service, event_id, kind, message, detail) "
	           "VALUES ($1, $2, $3, $4, $5, $6::jsonb)", 6, p, err, errlen);
}
