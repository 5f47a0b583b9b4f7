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

/* One row of the claim's result into *job: 0, RZ_EDB (values regzone does
 * not know), RZ_ENOMEM. */
static int job_from_row(const PGresult *r, int row, struct rz_job *job, char *err,
                        size_t errlen)
{
	const char *kind = PQgetvalue(r, row, 3), *step = PQgetvalue(r, row, 4);

	memset(job, 0, sizeof(*job));
	job->id = atoll(PQgetvalue(r, row, 0));
	snprintf(job->domain, sizeof(job->domain), "%s", PQgetvalue(r, row, 1));
	snprintf(job->service, sizeof(job->service), "%s", PQgetvalue(r, row, 2));
	snprintf(job->step_name, sizeof(job->step_name), "%s", step);
	if (rz_step_from_name(step, &job->step) != 0)
		job->step = RZ_STEP_NONE;     /* the job's table fails it */
	job->generation = atoll(PQgetvalue(r, row, 5));
	job->attempts = atoi(PQgetvalue(r, row, 6));
	job->step_age = atof(PQgetvalue(r, row, 7));
	job->desired_age = atof(PQgetvalue(r, row, 13));
	snprintf(job->zone, sizeof(job->zone), "%s", PQgetvalue(r, row, 8));
	snprintf(job->profile, sizeof(job->profile), "%s", PQgetvalue(r, row, 9));
	snprintf(job->primary, sizeof(job->primary), "%s", PQgetvalue(r, row, 14));
	if (rz_kind_from_name(kind, &job->kind) != 0 ||
	    rz_desired_from_name(PQgetvalue(r, row, 10), &job->desired) != 0) {
		snprintf(err, errlen, "database: job %lld has kind %.16s, desired %.16s: not "
		         "values regzone knows", job->id, kind, PQgetvalue(r, row, 10));
		rz_job_clear(job);
		return RZ_EDB;
	}
	job->params_json = strdup(PQgetvalue(r, row, 11));
	job->state_json = strdup(PQgetvalue(r, row, 12));
	if (job->params_json == NULL || job->state_json == NULL) {
		rz_job_clear(job);
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	return 0;
}

int store_job_claim(PGconn *c, const char *worker, bool dead, struct rz_job *jobs, size_t max,
                    size_t *n, double *next_s, char *err, size_t errlen)
{
	char more[24];
	const char *p[] = { worker, more };
	PGresult *r;
	int rows, ret = 0;

	*n = 0;
	*next_s = -1;
	snprintf(more, sizeof(more), "%zu", max > 1 ? max - 1 : 0);
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
	"SELECT u.id, u.domain, u.service, u.kind, u.step, u.generation, u.attempts, u.age, " \
	"u.zone, u.profile, u.desired, u.params, u.state, u.desired_age, u.knot_primary, " \
	"NULL::float8 FROM u UNION ALL " \
	"SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " \
	"NULL, " \
	"(SELECT greatest(0, extract(epoch FROM min(next_attempt_at) - now()))::float8 " \
	"FROM jobs WHERE claimed_pid IS NULL AND next_attempt_at < 'infinity') " \
	"WHERE NOT EXISTS (SELECT 1 FROM u)"
	/* The free job: the most urgent priority first (sql/009_claim.sql keeps
	 * them to 0, 1, 2), and in each the one due longest, one index range
	 * each - however many jobs wait for later, parked or scheduled.  A dns
	 * job brings the other due dns jobs of its step and priority with it
	 * (up to $2 of them, the same index range): the worker runs them as
	 * one batch (one Knot batch, one check round, one statement to finish
	 * them all) instead of a claim, a write and a finish each. */
	if (!dead)
		r = sq_q(c, CLAIM("WITH f AS (SELECT f.id, f.kind, f.step, f.priority FROM "
		                  "unnest('{0,1,2}'::smallint[]) AS pr(p) "
		                  "CROSS JOIN LATERAL (SELECT id, kind, step, priority FROM jobs "
		                  "WHERE claimed_pid IS NULL AND priority = pr.p "
		                  "AND next_attempt_at <= now() "
		                  "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED) f LIMIT 1) "
		                  "SELECT id FROM f UNION ALL SELECT m.id FROM f CROSS JOIN LATERAL "
		                  "(SELECT id FROM jobs WHERE f.kind = 'dns' AND claimed_pid IS NULL "
		                  "AND priority = f.priority AND next_attempt_at <= now() "
		                  "AND kind = 'dns' AND step = f.step AND id <> f.id "
		                  "ORDER BY next_attempt_at LIMIT $2::int FOR UPDATE SKIP LOCKED) m"),
		         2, p, PGRES_TUPLES_OK, err, errlen);
	else
		r = sq_q(c, CLAIM("SELECT id FROM jobs WHERE claimed_pid IS NOT NULL AND NOT EXISTS "
		                  "(SELECT 1 FROM pg_stat_activity a WHERE a.pid = jobs.claimed_pid) "
		                  "AND next_attempt_at <= now() ORDER BY priority, next_attempt_at "
		                  "LIMIT $2::int + 1 FOR UPDATE SKIP LOCKED"),
		         2, p, PGRES_TUPLES_OK, err, errlen);
#undef CLAIM
	if (r == NULL)
		return RZ_EDB;
	rows = PQntuples(r);
	if (rows == 1 && PQgetisnull(r, 0, 0)) {
		if (!PQgetisnull(r, 0, 15))
			*next_s = atof(PQgetvalue(r, 0, 15));
		PQclear(r);
		return 0;
	}
	/* more rows than asked for would be a bug of the statement: the
	 * extra claims die with the claims of this session if never finished */
	for (int i = 0; i < rows && *n < max && ret == 0; i++)
		if ((ret = job_from_row(r, i, &jobs[*n], err, errlen)) == 0)
			(*n)++;
	PQclear(r);
	if (ret != 0) {
		for (size_t i = 0; i < *n; i++)
			rz_job_clear(&jobs[i]);
		*n = 0;
	}
	return ret;
}

/* services.active after a step, from f_active: -1 keep, 0/1 set, 2 = the
 * records published and a certificate in place: issued, being renewed, or a
 * renewal that failed while the previous certificate (not revoked) is still
 * valid and served (enum rz_active, as active_code[] numbers it). */
#define FINISH_ACTIVE \
	"CASE WHEN p.f_active < 0 THEN s.active WHEN p.f_active = 2 THEN " \
	"coalesce(p.f_dns, s.dns) = 'published' AND (coalesce(p.f_cert, s.cert_state) IN " \
	"('issued', 'renewing') OR (coalesce(p.f_cert, s.cert_state) = 'failed' AND EXISTS " \
	"(SELECT 1 FROM certificates c WHERE c.domain = s.domain AND c.service = s.service " \
	"AND c.revoked_at IS NULL AND c.not_after > now()))) ELSE p.f_active = 1 END"

/* The parts of store_job_finish()'s statement (see there): p, the steps'
 * outcomes, a row per job. */
#define FINISH_P \
	"WITH p AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], " \
	"  $4::float8[], $5::boolean[], $6::text[], $7::jsonb[], $8::boolean[], $9::text[], " \
	"  $10::int[], $11::text[], $12::text[], $13::text[], $14::boolean[]) WITH ORDINALITY " \
	"  AS p(f_id, f_gen, f_step, f_delay, f_failed, f_err, f_state, f_same, f_dns, " \
	"  f_active, f_akind, f_amsg, f_cert, f_arm, f_ord)), "
#define FINISH_J \
	"j AS (UPDATE jobs SET claimed_pid = NULL, claimed_by = NULL, " \
	"  claimed_at = NULL, step = coalesce(p.f_step, jobs.step), " \
	/* 0 checks and urgent renewals, 1 the rest, 2 renewals in \
	 * their window until their order is made: the cert steps say \
	 * so in their data ("prio", acme/schedule.h) */ \
	"  priority = CASE WHEN coalesce(p.f_step, jobs.step) LIKE 'verify%' THEN 0 " \
	"    WHEN coalesce(p.f_state, jobs.state)->>'prio' = '0' THEN 0 " \
	"    WHEN coalesce(p.f_state, jobs.state)->>'prio' = '2' " \
	"      AND coalesce(p.f_step, jobs.step) IN ('order', 'renew') THEN 2 ELSE 1 END, " \
	"  next_attempt_at = CASE WHEN p.f_step IS NULL THEN 'infinity' " \
	"    ELSE now() + make_interval(secs => p.f_delay) END, " \
	"  attempts = CASE WHEN p.f_failed THEN jobs.attempts + 1 " \
	"    WHEN p.f_same THEN jobs.attempts ELSE 0 END, " \
	"  first_attempt_at = CASE WHEN p.f_same THEN jobs.first_attempt_at ELSE NULL END, " \
	"  last_error = p.f_err, state = coalesce(p.f_state, jobs.state), updated_at = now() " \
	"  FROM p WHERE jobs.id = p.f_id AND jobs.generation = p.f_gen " \
	"  AND jobs.claimed_pid = pg_backend_pid() " \
	"  RETURNING jobs.id, jobs.domain, jobs.service, jobs.generation), "
#define FINISH_ARM \
	/* arm: the cert job of a service whose records are now published: \
	 * created, or (parked after a removal, or failed and parked) made due; \
	 * one in progress or issued only follows the generation. */ \
	"arm AS (INSERT INTO jobs (domain, service, kind, step, generation) " \
	"  SELECT j.domain, j.service, 'cert', 'order', j.generation FROM j " \
	"  JOIN p ON p.f_id = j.id WHERE p.f_arm " \
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
	"  FROM p WHERE jobs.id = p.f_id AND jobs.claimed_pid = pg_backend_pid() " \
	"  AND NOT EXISTS (SELECT 1 FROM j WHERE j.id = p.f_id) " \
	"  RETURNING pg_notify('rz_jobs', '')), "
#define FINISH_WAKE \
	"wake AS (UPDATE jobs SET next_attempt_at = now() WHERE id IN (SELECT w.id FROM jobs w " \
	"  WHERE w.kind = 'cert' AND w.step = 'order' " \
	"  AND w.state ? 'slot_wait' AND w.claimed_pid IS NULL AND w.next_attempt_at > now() " \
	"  AND w.next_attempt_at < 'infinity' AND w.id <> ALL ($1::bigint[]) " \
	"  ORDER BY w.next_attempt_at LIMIT $15::int FOR UPDATE SKIP LOCKED) " \
	"  RETURNING pg_notify('rz_jobs', '')), "
#define FINISH_SV_A \
	"sv AS (UPDATE services s SET dns = coalesce(p.f_dns, s.dns), " \
	"  cert_state = coalesce(p.f_cert, s.cert_state), " \
	"  active = " FINISH_ACTIVE ", " \
	"  last_error = p.f_err, updated_at = now() FROM j JOIN p ON p.f_id = j.id " \
	"  WHERE s.domain = j.domain AND s.service = j.service " \
	"  AND s.generation = p.f_gen " \
	"  AND (s.dns IS DISTINCT FROM coalesce(p.f_dns, s.dns) " \
	"    OR s.cert_state IS DISTINCT FROM coalesce(p.f_cert, s.cert_state) " \
	"    OR s.active IS DISTINCT FROM (" FINISH_ACTIVE ") " \
	"    OR s.last_error IS DISTINCT FROM p.f_err) RETURNING s.*), " \
	"a AS (INSERT INTO audit (domain, service, kind, message) " \
	"  SELECT j.domain, j.service, p.f_akind, p.f_amsg FROM j JOIN p ON p.f_id = j.id " \
	"  WHERE p.f_akind IS NOT NULL) "
#define FINISH_SEL \
	"SELECT p.f_ord, j.id IS NOT NULL, x.* FROM p LEFT JOIN j ON j.id = p.f_id " \
	"LEFT JOIN (" INTAKE_STATE_SEL("sv") ") x ON x.domain = j.domain " \
	"AND x.service = j.service ORDER BY p.f_ord"

static const int active_code[RZ_ACTIVE__MAX] = {
	[RZ_ACTIVE_KEEP] = -1, [RZ_ACTIVE_NO] = 0, [RZ_ACTIVE_YES] = 1, [RZ_ACTIVE_IF_CERT] = 2,
};

/* The steps' outcomes as the statement's 14 array parameters. */
enum { F_ID, F_GEN, F_STEP, F_DELAY, F_FAILED, F_ERR, F_STATE, F_SAME, F_DNS, F_ACTIVE,
       F_AKIND, F_AMSG, F_CERT, F_ARM, F__N };

int store_job_finish(PGconn *c, struct store_finish *f, size_t n, char *err, size_t errlen)
{
	const char **col[F__N] = { NULL };
	char (*num)[4][32] = calloc(n ? n : 1, sizeof(*num));
	char *arr[F__N] = { NULL }, frees_s[24];
	const char *p[F__N + 1];
	bool arm = false;
	size_t frees = 0;
	PGresult *r = NULL;
	int ret = RZ_ENOMEM;

	for (int k = 0; k < F__N; k++)
		if ((col[k] = calloc(n ? n : 1, sizeof(*col[k]))) == NULL)
			goto out;
	if (num == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct rz_job *job = f[i].job;
		const struct rz_step_result *res = f[i].res;

		f[i].stale = f[i].changed = false;
		/* A dns job that reaches "published" arms the service's cert job;
		 * an order that ends frees a slot: the order that waits longest
		 * for one is woken (it was parked, not polling). */
		arm |= res->arm_cert;
		if (rz_step_in_flight(job->kind, job->step) &&
		    !rz_step_in_flight(job->kind, res->next_step))
			frees++;
		snprintf(num[i][0], sizeof(num[i][0]), "%lld", job->id);
		snprintf(num[i][1], sizeof(num[i][1]), "%lld", job->generation);
		snprintf(num[i][2], sizeof(num[i][2]), "%.3f", res->delay_s);
		snprintf(num[i][3], sizeof(num[i][3]), "%d",
		         (unsigned)res->active < RZ_ACTIVE__MAX ? active_code[res->active] : -1);
		col[F_ID][i] = num[i][0];
		col[F_GEN][i] = num[i][1];
		col[F_STEP][i] = rz_step_name(res->next_step);
		col[F_DELAY][i] = num[i][2];
		col[F_FAILED][i] = res->failed ? "t" : "f";
		col[F_ERR][i] = res->last_error;
		col[F_STATE][i] = res->state_json;
		/* the same step again keeps its start time and count */
		col[F_SAME][i] = res->next_step != RZ_STEP_NONE && res->next_step == job->step ?
		                 "t" : "f";
		col[F_DNS][i] = res->dns == RZ_KEEP ? NULL : rz_dns_name((enum rz_dns)res->dns);
		col[F_ACTIVE][i] = num[i][3];
		col[F_AKIND][i] = res->audit_kind;
		col[F_AMSG][i] = res->audit_msg;
		col[F_CERT][i] = res->cert == RZ_KEEP ? NULL : rz_cert_name((enum rz_cert)res->cert);
		col[F_ARM][i] = res->arm_cert ? "t" : "f";
	}
	for (int k = 0; k < F__N; k++) {
		if ((arr[k] = sq_ptr_array(col[k], n)) == NULL)
			goto out;
		p[k] = arr[k];
	}
	snprintf(frees_s, sizeof(frees_s), "%zu", frees);
	p[F__N] = frees_s;
	/*
	 * One statement (one round trip, one implicit transaction) for every
	 * job of the batch:
	 *   j    each job moves on and its claim is released, if the desired
	 *        state is still the one it worked toward (generation) -
	 *        the same step again keeps its start time and count, a new
	 *        step starts afresh, no next step parks the job;
	 *   rel  otherwise only its claim is released (the newer work runs
	 *        next) and the workers are woken;
	 *   sv   the services' dns/active/last_error, when they change;
	 *   a    the steps' audit lines.
	 * Returns a row per job, in order: updated, then the new state when sv
	 * changed it.  Only the CTEs the batch needs: a CTE that modifies
	 * nothing still costs its setup at every execution (most steps arm
	 * nothing and free no slot).
	 */
	static const char *const sql[2][2] = {
		{ FINISH_P FINISH_J FINISH_REL FINISH_SV_A FINISH_SEL,
		  FINISH_P FINISH_J FINISH_REL FINISH_WAKE FINISH_SV_A FINISH_SEL },
		{ FINISH_P FINISH_J FINISH_ARM FINISH_REL FINISH_SV_A FINISH_SEL,
		  FINISH_P FINISH_J FINISH_ARM FINISH_REL FINISH_WAKE FINISH_SV_A FINISH_SEL },
	};
	ret = RZ_EDB;
	r = sq_q(c, sql[arm][frees > 0], frees > 0 ? F__N + 1 : F__N, p, PGRES_TUPLES_OK, err,
	         errlen);
	if (r == NULL)
		goto out;
	if ((size_t)PQntuples(r) != n) {
		snprintf(err, errlen, "database: finishing %zu jobs returned %d rows", n,
		         PQntuples(r));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		f[i].stale = strcmp(PQgetvalue(r, (int)i, 1), "f") == 0;
		f[i].changed = !f[i].stale && !PQgetisnull(r, (int)i, 2);
		if (f[i].changed && rz_state_from_row(r, (int)i, 2, &f[i].st) != 0) {
			snprintf(err, errlen, "database: finishing job %lld: a state regzone does not "
			         "know", f[i].job->id);
			goto out;
		}
	}
	ret = 0;
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	PQclear(r);
	for (int k = 0; k < F__N; k++) {
		free(col[k]);
		free(arr[k]);
	}
	free(num);
	return ret;
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
                 struct store_service_count *svc, bool expiry, char *err, size_t errlen)
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
	if (!expiry)
		return 0;
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
