/*
 * store_jobs.c - jobs: claimed, finished, released; order slots.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/step.h"
#include "daemon/store.h"
#include "daemon/store_int.h"

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
#define CLAIM(pick) \
	"WITH j AS (" pick "), " \
	"u AS (UPDATE jobs SET claimed_pid = pg_backend_pid(), claimed_by = $1, " \
	"claimed_at = now(), claims = claims + 1, " \
	"first_attempt_at = coalesce(first_attempt_at, now()) " \
	"FROM j, services s WHERE jobs.id = j.id AND s.domain = jobs.domain " \
	"AND s.service = jobs.service " \
	"RETURNING jobs.id, jobs.domain, jobs.service, jobs.kind, jobs.step, " \
	"jobs.generation, jobs.attempts, " \
	"extract(epoch FROM now() - jobs.first_attempt_at)::float8 AS age, s.zone, " \
	"s.profile, s.desired, s.params::text AS params, jobs.state::text AS state, " \
	"extract(epoch FROM now() - s.desired_at)::float8 AS desired_age, s.knot_primary) " \
	"SELECT u.*, NULL::float8 FROM u UNION ALL " \
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
	"NULL, " \
	"(SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8 " \
	"FROM jobs WHERE claimed_pid IS NULL AND next_attempt_at < 'infinity') " \
	"WHERE NOT EXISTS (SELECT 1 FROM u)"
	/* The free job: the most urgent priority first (sql/009_claim.sql keeps
	 * them to 0, 1, 2), and in each the one due longest, one index range
	 * each - however many jobs wait for later, parked or scheduled. */
	if (!dead)
		r = sq_q(c, CLAIM("SELECT f.id FROM unnest('{0,1,2}'::smallint[]) AS pr(p) "
		                  "CROSS JOIN LATERAL (SELECT id FROM jobs WHERE claimed_pid IS NULL "
		                  "AND priority = pr.p AND next_attempt_at <= now() "
		                  "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) f LIMIT 1"),
		         1, p, PGRES_TUPLES_OK, err, errlen);
	else
		r = sq_q(c, CLAIM("SELECT id FROM jobs WHERE claimed_pid IS NOT NULL AND NOT EXISTS "
		                  "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = jobs.claimed_pid) "
		                  "AND next_attempt_at <= now() ORDER BY priority, next_attempt_at "
		                  "LIMIT 1 FOR UPDATE SKIP LOCKED"),
		         1, p, PGRES_TUPLES_OK, err, errlen);
#undef CLAIM
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) == 1 && PQgetisnull(r, 0, 0)) {
		if (!PQgetisnull(r, 0, 15))
			*next_s = atof(PQgetvalue(r, 0, 15));
	} else if (PQntuples(r) == 1) {
		const char *kind = PQgetvalue(r, 0, 3), *step = PQgetvalue(r, 0, 4);

		job->id = atoll(PQgetvalue(r, 0, 0));
		snprintf(job->domain, sizeof(job->domain), "%s", PQgetvalue(r, 0, 1));
		snprintf(job->service, sizeof(job->service), "%s", PQgetvalue(r, 0, 2));
		snprintf(job->step_name, sizeof(job->step_name), "%s", step);
		if (rz_step_from_name(step, &job->step) != 0)
			job->step = RZ_STEP_NONE;     /* the job's table fails it */
		job->generation = atoll(PQgetvalue(r, 0, 5));
		job->attempts = atoi(PQgetvalue(r, 0, 6));
		job->step_age = atof(PQgetvalue(r, 0, 7));
		job->desired_age = atof(PQgetvalue(r, 0, 13));
		snprintf(job->zone, sizeof(job->zone), "%s", PQgetvalue(r, 0, 8));
		snprintf(job->profile, sizeof(job->profile), "%s", PQgetvalue(r, 0, 9));
		snprintf(job->primary, sizeof(job->primary), "%s", PQgetvalue(r, 0, 14));
		if (rz_kind_from_name(kind, &job->kind) != 0 ||
		    rz_desired_from_name(PQgetvalue(r, 0, 10), &job->desired) != 0) {
			snprintf(err, errlen, "database: job %lld has kind %.16s, desired %.16s: not "
			         "values regzone knows", job->id, kind, PQgetvalue(r, 0, 10));
			PQclear(r);
			rz_job_clear(job);
			return RZ_EDB;
		}
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

/* services.active after a step, from $10: -1 keep, 0/1 set, 2 = the
 * records published and a certificate in place: issued, being renewed, or a
 * renewal that failed while the previous certificate (not revoked) is still
 * valid and served (enum rz_active, as active_code[] numbers it). */
#define FINISH_ACTIVE \
	"CASE WHEN $10::int < 0 THEN s.active WHEN $10::int = 2 THEN " \
	"coalesce($9, s.dns) = 'published' AND (coalesce($13, s.cert_state) IN " \
	"('issued', 'renewing') OR (coalesce($13, s.cert_state) = 'failed' AND EXISTS " \
	"(SELECT 1 FROM certificates c WHERE c.domain = s.domain AND c.service = s.service " \
	"AND c.revoked_at IS NULL AND c.not_after > now()))) ELSE $10::int = 1 END"

/* The parts of store_job_finish()'s statement (see there). */
#define FINISH_J \
	"WITH j AS (UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, " \
	"  claimed_at = NULL, step = coalesce($3, step), " \
	/* 0 checks and urgent renewals, 1 the rest, 2 renewals in \
	 * their window until their order is made: the cert steps say \
	 * so in their data ("prio", acme/schedule.h) */ \
	"  priority = CASE WHEN coalesce($3, step) LIKE 'verify%' THEN 0 " \
	"    WHEN coalesce($7::jsonb, state)->>'prio' = '0' THEN 0 " \
	"    WHEN coalesce($7::jsonb, state)->>'prio' = '2' " \
	"      AND coalesce($3, step) IN ('order', 'renew') THEN 2 ELSE 1 END, " \
	"  next_attempt_at = CASE WHEN $3 IS NULL THEN 'infinity' " \
	"    ELSE now() + make_interval(secs => $4::double precision) END, " \
	"  attempts = CASE WHEN $5::boolean THEN attempts + 1 " \
	"    WHEN $8::boolean THEN attempts ELSE 0 END, " \
	"  first_attempt_at = CASE WHEN $8::boolean THEN first_attempt_at ELSE NULL END, " \
	"  last_error = $6, state = coalesce($7::jsonb, state), updated_at = now() " \
	"  WHERE id = $1::bigint AND generation = $2::bigint " \
	"  AND claimed_pid = pg_backend_pid() RETURNING domain, service, generation), "
#define FINISH_ARM \
	/* arm: the cert job of a service whose records are now published: \
	 * created, or (parked after a removal, or failed and parked) made due; \
	 * one in progress or issued only follows the generation. */ \
	"arm AS (INSERT INTO jobs (domain, service, kind, step, generation) " \
	"  SELECT domain, service, 'cert', 'order', generation FROM j WHERE $14::boolean " \
	"  ON CONFLICT (domain, service, kind) DO UPDATE SET " \
	"  generation = EXCLUDED.generation, " \
	"  step = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = 'remove' " \
	"    OR jobs.state->>'parked' = 'failed') THEN 'order' ELSE jobs.step END, " \
	"  state = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = 'remove' " \
	"    OR jobs.state->>'parked' = 'failed') THEN '{}'::jsonb ELSE jobs.state END, " \
	"  attempts = CASE WHEN jobs.next_attempt_at = 'infinity' THEN 0 ELSE jobs.attempts END, " \
	"  next_attempt_at = CASE WHEN jobs.next_attempt_at = 'infinity' AND (jobs.step = " \
	"    'remove' OR jobs.state->>'parked' = 'failed') THEN now() " \
	/* an issued certificate is looked at again: the profile (its \
	 * names) may have changed */ \
	"    WHEN jobs.step = 'renew' THEN now() " \
	"    ELSE jobs.next_attempt_at END, updated_at = now() " \
	"  RETURNING pg_notify('rz_jobs', '')), "
#define FINISH_REL \
	"rel AS (UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL " \
	"  WHERE id = $1::bigint AND claimed_pid = pg_backend_pid() " \
	"  AND NOT EXISTS (SELECT 1 FROM j) RETURNING pg_notify('rz_jobs', '')), "
#define FINISH_WAKE \
	"wake AS (UPDATE jobs SET next_attempt_at = now() WHERE id = (SELECT w.id FROM jobs w " \
	"  WHERE $15::boolean AND w.kind = 'cert' AND w.step = 'order' " \
	"  AND w.state ? 'slot_wait' AND w.claimed_pid IS NULL AND w.next_attempt_at > now() " \
	"  AND w.next_attempt_at < 'infinity' AND w.id <> $1::bigint " \
	"  ORDER BY w.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) " \
	"  RETURNING pg_notify('rz_jobs', '')), "
#define FINISH_SV_A \
	"sv AS (UPDATE services s SET dns = coalesce($9, s.dns), " \
	"  cert_state = coalesce($13, s.cert_state), " \
	"  active = " FINISH_ACTIVE ", " \
	"  last_error = $6, updated_at = now() FROM j " \
	"  WHERE s.domain = j.domain AND s.service = j.service " \
	"  AND s.generation = $2::bigint " \
	"  AND (s.dns IS DISTINCT FROM coalesce($9, s.dns) " \
	"    OR s.cert_state IS DISTINCT FROM coalesce($13, s.cert_state) " \
	"    OR s.active IS DISTINCT FROM (" FINISH_ACTIVE ") " \
	"    OR s.last_error IS DISTINCT FROM $6) RETURNING s.*), " \
	"a AS (INSERT INTO audit (domain, service, kind, message) " \
	"  SELECT domain, service, $11::text, $12::text FROM j WHERE $11::text IS NOT NULL) "
#define FINISH_SEL(wake) \
	"SELECT (SELECT count(*) FROM j), (SELECT count(*) FROM rel)" wake ", x.*, " \
	"$14::boolean, $15::boolean FROM (SELECT 1) one LEFT JOIN (" INTAKE_STATE_SEL("sv") ") x ON true"

static const int active_code[RZ_ACTIVE__MAX] = {
	[RZ_ACTIVE_KEEP] = -1, [RZ_ACTIVE_NO] = 0, [RZ_ACTIVE_YES] = 1, [RZ_ACTIVE_IF_CERT] = 2,
};

int store_job_finish(PGconn *c, const struct rz_job *job, const struct rz_step_result *res,
                     bool *stale, bool *changed, struct rz_state *st,
                     char *err, size_t errlen)
{
	char id[32], gen[32], delay[32], active[8];
	/* A dns job that reaches "published" arms the service's cert job. */
	bool arm = res->arm_cert;
	/* An order that ends frees a slot: the order that waits longest for
	 * one is woken (it was parked, not polling). */
	bool frees = rz_step_in_flight(job->kind, job->step) &&
	             !rz_step_in_flight(job->kind, res->next_step);
	const char *p[] = {
		id, gen, rz_step_name(res->next_step), delay, res->failed ? "t" : "f",
		res->last_error, res->state_json,
		res->next_step != RZ_STEP_NONE && res->next_step == job->step ? "t" : "f",
		res->dns == RZ_KEEP ? NULL : rz_dns_name((enum rz_dns)res->dns), active,
		res->audit_kind, res->audit_msg,
		res->cert == RZ_KEEP ? NULL : rz_cert_name((enum rz_cert)res->cert),
		arm ? "t" : "f", frees ? "t" : "f",
	};
	PGresult *r;

	*stale = false;
	*changed = false;
	snprintf(id, sizeof(id), "%lld", job->id);
	snprintf(gen, sizeof(gen), "%lld", job->generation);
	snprintf(delay, sizeof(delay), "%.3f", res->delay_s);
	snprintf(active, sizeof(active), "%d",
	         (unsigned)res->active < RZ_ACTIVE__MAX ? active_code[res->active] : -1);
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
	/* Only the CTEs this step needs: a CTE that modifies nothing still
	 * costs its setup at every execution (most steps arm nothing and free
	 * no slot; $14 and $15 stay typed in the select list). */
	static const char *const sql[2][2] = {
		{ FINISH_J FINISH_REL FINISH_SV_A FINISH_SEL(""),
		  FINISH_J FINISH_REL FINISH_WAKE FINISH_SV_A FINISH_SEL(" + (SELECT count(*) FROM wake)") },
		{ FINISH_J FINISH_ARM FINISH_REL FINISH_SV_A FINISH_SEL(""),
		  FINISH_J FINISH_ARM FINISH_REL FINISH_WAKE FINISH_SV_A
		  FINISH_SEL(" + (SELECT count(*) FROM wake)") },
	};
	r = sq_q(c, sql[arm][frees], 15, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) != 1) {
		PQclear(r);
		snprintf(err, errlen, "database: finishing job %s returned no row", id);
		return RZ_EDB;
	}
	*stale = strcmp(PQgetvalue(r, 0, 0), "0") == 0;
	*changed = !*stale && !PQgetisnull(r, 0, 2);
	if (*changed && rz_state_from_row(r, 0, 2, st) != 0) {
		PQclear(r);
		snprintf(err, errlen, "database: finishing job %s: a state regzone does not know", id);
		return RZ_EDB;
	}
	PQclear(r);
	return 0;
}

int store_jobs_wake_primary(PGconn *c, const char *primary, long long *n, char *err,
                            size_t errlen)
{
	const char *p[] = { primary };
	PGresult *r;

	*n = 0;
	r = sq_q(c, "WITH w AS (UPDATE jobs j SET next_attempt_at = now() FROM services s "
	         "WHERE s.domain = j.domain AND s.service = j.service AND s.knot_primary = $1 "
	         "AND j.claimed_pid IS NULL AND j.attempts > 0 AND j.next_attempt_at > now() "
	         "AND j.next_attempt_at < 'infinity' AND (j.kind = 'dns' OR j.step IN "
	         "('publish', 'verify', 'cleanup', 'verify_clean')) RETURNING 1) "
	         "SELECT count(*), (SELECT count(*) FROM (SELECT pg_notify('rz_jobs', '')) x "
	         "WHERE EXISTS (SELECT 1 FROM w)) FROM w", 1, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	*n = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

int store_release_claims(PGconn *c, char *err, size_t errlen)
{
	return sq_cmd(c, "UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, claimed_at = NULL "
	           "WHERE claimed_pid = pg_backend_pid()", 0, NULL, err, errlen);
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
	if ((ret = sq_cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	/* One taker at a time, across daemons: a count and a mark that two
	 * workers made together could both see a free slot. */
	r = sq_q(c, "SELECT pg_advisory_xact_lock(hashtext('regzone acme slots'))", 0, NULL,
	      PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		goto fail;
	PQclear(r);
	r = sq_q(c, "SELECT count(*) < $2::bigint FROM jobs WHERE kind = 'cert' AND id <> $1::bigint "
	      "AND (step IN (" RZ_CERT_INFLIGHT_SQL ") OR (step = 'order' AND state ? 'slot_held'))",
	      2, p, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		goto fail;
	*got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (*got && (ret = sq_cmd(c, "UPDATE jobs SET state = state || '{\"slot_held\": true}' "
	                       "WHERE id = $1::bigint", 1, p, err, errlen)) != 0)
		goto fail;
	if ((ret = sq_cmd(c, "COMMIT", 0, NULL, err, errlen)) != 0)
		goto fail;
	return 0;
fail:
	*got = false;
	sq_rollback(c);
	return RZ_EDB;
}

/* One service of a retry: its jobs due now, its dns state reset when it was
 * conflict or error, an audit line. */
static int retry_one(PGconn *c, const char *domain, const char *user, const PGresult *svc,
                     int row, struct store_retry_service *o, char *err, size_t errlen)
{
	const char *service = PQgetvalue(svc, row, 0);
	const char *p[4] = { domain, service, NULL, NULL };
	char message[512], *detail = NULL;
	PGresult *jobs = NULL, *running = NULL;
	json_t *d = NULL, *kinds = NULL;
	enum rz_desired desired;
	int ret = RZ_EDB;

	memset(o, 0, sizeof(*o));
	snprintf(o->service, sizeof(o->service), "%s", service);
	if (rz_desired_from_name(PQgetvalue(svc, row, 1), &desired) != 0 ||
	    rz_dns_from_name(PQgetvalue(svc, row, 2), &o->dns_from) != 0) {
		snprintf(err, errlen, "database: %s (%s) is in a state regzone does not know",
		         domain, service);
		return RZ_EDB;
	}
	o->reset = o->dns_from == RZ_DNS_CONFLICT || o->dns_from == RZ_DNS_ERROR;
	o->dns_to = desired == RZ_DESIRED_ENABLED ? RZ_DNS_PENDING : RZ_DNS_REMOVING;
	if ((jobs = sq_q(c, "UPDATE jobs SET next_attempt_at = now(), attempts = 0, "
	                 "last_error = NULL, updated_at = now() WHERE domain = $1 AND service = $2 "
	                 "AND claimed_by IS NULL RETURNING kind", 2, p, PGRES_TUPLES_OK, err,
	                 errlen)) == NULL ||
	    (running = sq_q(c, "SELECT kind FROM jobs WHERE domain = $1 AND service = $2 AND "
	                    "claimed_by IS NOT NULL ORDER BY kind", 2, p, PGRES_TUPLES_OK, err,
	                    errlen)) == NULL)
		goto out;
	p[2] = rz_dns_name(o->dns_to);
	if (o->reset && sq_cmd(c, "UPDATE services SET dns = $3, updated_at = now() WHERE "
	                       "domain = $1 AND service = $2", 3, p, err, errlen) != 0)
		goto out;
	if ((kinds = json_array()) == NULL)
		goto oom;
	for (int i = 0; i < PQntuples(jobs) && o->n_due < RZ_KIND__MAX; i++) {
		if (rz_kind_from_name(PQgetvalue(jobs, i, 0), &o->due[o->n_due]) == 0)
			o->n_due++;
		if (json_array_append_new(kinds, json_string(PQgetvalue(jobs, i, 0))) != 0)
			goto oom;
	}
	for (int i = 0; i < PQntuples(running) && o->n_running < RZ_KIND__MAX; i++)
		if (rz_kind_from_name(PQgetvalue(running, i, 0), &o->running[o->n_running]) == 0)
			o->n_running++;
	if ((d = json_pack("{s:s, s:s, s:O}", "by", "regzonectl", "user", user,
	                   "jobs_due_now", kinds)) == NULL ||
	    (o->reset && json_object_set_new(d, "dns", json_pack("{s:s, s:s}", "from",
	                rz_dns_name(o->dns_from), "to", rz_dns_name(o->dns_to))) != 0) ||
	    (detail = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto oom;
	snprintf(message, sizeof(message), "retry requested by regzonectl (user %s)", user);
	p[2] = message;
	p[3] = detail;
	ret = sq_cmd(c, "INSERT INTO audit (domain, service, kind, message, detail) "
	             "VALUES ($1, $2, 'event', $3, $4::jsonb)", 4, p, err, errlen);
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
	ret = RZ_ENOMEM;
out:
	free(detail);
	json_decref(d);
	json_decref(kinds);
	PQclear(running);
	PQclear(jobs);
	return ret;
}

int store_retry(PGconn *c, const char *domain, const char *user,
                struct store_retry_service *out, size_t max, size_t *n,
                char *err, size_t errlen)
{
	const char *p[1] = { domain };
	PGresult *svc = NULL;
	int ret;

	*n = 0;
	if ((ret = sq_cmd(c, "BEGIN", 0, NULL, err, errlen)) != 0)
		return ret;
	svc = sq_q(c, "SELECT service, desired, dns FROM services WHERE domain = $1 "
	           "ORDER BY service FOR UPDATE", 1, p, PGRES_TUPLES_OK, err, errlen);
	if (svc == NULL) {
		ret = RZ_EDB;
		goto fail;
	}
	if (PQntuples(svc) == 0) {
		snprintf(err, errlen, "no such domain: %s", domain);
		ret = RZ_ENOENT;
		goto fail;
	}
	for (int i = 0; i < PQntuples(svc) && *n < max; i++) {
		if ((ret = retry_one(c, domain, user, svc, i, &out[*n], err, errlen)) != 0)
			goto fail;
		(*n)++;
	}
	PQclear(svc);
	if ((ret = sq_cmd(c, "NOTIFY rz_jobs", 0, NULL, err, errlen)) != 0 ||
	    (ret = sq_cmd(c, "COMMIT", 0, NULL, err, errlen)) != 0) {
		sq_rollback(c);
		*n = 0;
		return ret;
	}
	return 0;
fail:
	PQclear(svc);
	sq_rollback(c);
	*n = 0;
	return ret;
}

int store_counts(PGconn *c, struct store_job_count *jobs, size_t *n_jobs,
                 struct store_service_count *svc, char *err, size_t errlen)
{
	PGresult *r = sq_q(c, "SELECT kind, step, count(*) FILTER (WHERE claimed_pid IS NULL AND "
	                   "next_attempt_at <= now()), count(*) FILTER (WHERE claimed_pid IS NOT "
	                   "NULL), count(*) FILTER (WHERE claimed_pid IS NULL AND next_attempt_at > "
	                   "now() AND next_attempt_at < 'infinity') FROM jobs GROUP BY kind, step",
	                   0, NULL, PGRES_TUPLES_OK, err, errlen);

	*n_jobs = 0;
	memset(svc, 0, sizeof(*svc));
	if (r == NULL)
		return RZ_EDB;
	for (int i = 0; i < PQntuples(r) && *n_jobs < STORE_JOB_COUNTS_MAX; i++) {
		struct store_job_count *j = &jobs[*n_jobs];

		if (rz_kind_from_name(PQgetvalue(r, i, 0), &j->kind) != 0 ||
		    rz_step_from_name(PQgetvalue(r, i, 1), &j->step) != 0)
			continue;
		j->due = atoll(PQgetvalue(r, i, 2));
		j->running = atoll(PQgetvalue(r, i, 3));
		j->waiting = atoll(PQgetvalue(r, i, 4));
		(*n_jobs)++;
	}
	PQclear(r);
	r = sq_q(c, "SELECT count(*) FILTER (WHERE dns = 'conflict'), count(*) FILTER (WHERE "
	         "dns = 'error'), count(*) FILTER (WHERE cert_state = 'failed'), count(*) FILTER "
	         "(WHERE active), count(*) FROM services", 0, NULL, PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	svc->dns_conflict = atoll(PQgetvalue(r, 0, 0));
	svc->dns_error = atoll(PQgetvalue(r, 0, 1));
	svc->cert_failed = atoll(PQgetvalue(r, 0, 2));
	svc->active = atoll(PQgetvalue(r, 0, 3));
	svc->total = atoll(PQgetvalue(r, 0, 4));
	PQclear(r);
	r = sq_q(c, "SELECT count(*) FILTER (WHERE c.not_after <= now()), "
	         "count(*) FILTER (WHERE c.not_after <= now() + interval '7 days'), "
	         "count(*) FILTER (WHERE c.not_after <= now() + interval '14 days'), "
	         "count(*) FILTER (WHERE c.not_after <= now() + interval '30 days'), "
	         "count(*) FILTER (WHERE c.not_after <= now() + interval '60 days'), count(*) "
	         "FROM services s JOIN LATERAL (SELECT not_after FROM certificates WHERE "
	         "domain = s.domain AND service = s.service AND revoked_at IS NULL "
	         "ORDER BY id DESC LIMIT 1) c ON true WHERE s.desired = 'enabled'", 0, NULL,
	         PGRES_TUPLES_OK, err, errlen);
	if (r == NULL)
		return RZ_EDB;
	for (int i = 0; i < 6; i++)
		svc->expiring[i] = atoll(PQgetvalue(r, 0, i));
	PQclear(r);
	return 0;
}
