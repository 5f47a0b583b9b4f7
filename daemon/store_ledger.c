/*
 * store_ledger.c - the ledger of what regzone put into zones, the zones'
 * advisory locks, and the intents of the Knot transactions it opens.
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

int store_ledger_live(PGconn *c, const char *domain, const char *service,
                      const char *purpose, struct zg_krec **out, size_t *n,
                      char *err, size_t errlen)
{
	const char *p[] = { domain, service, purpose };
	PGresult *r = sq_q(c, "SELECT owner, ttl, rtype, rdata FROM published_records "
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

int store_ledger_settle(PGconn *c, const struct rz_job *job,
                        const struct zg_krec *want, size_t n_want,
                        const struct zg_krec *removed, size_t n_removed,
                        char *err, size_t errlen)
{
	struct sq_rec_arrays w, r;
	int ret;

	if (sq_rec_arrays(want, n_want, &w) != 0)
		return RZ_ENOMEM;
	if (sq_rec_arrays(removed, n_removed, &r) != 0) {
		sq_rec_arrays_free(&w);
		return RZ_ENOMEM;
	}
	{
		/* One statement: pending rows of wanted records go live, removed
		 * records close, and each change leaves an audit line. */
		const char *p[] = { job->domain, job->service, w.owners, w.ttls, w.types, w.datas,
		                    r.owners, r.ttls, r.types, r.datas };

		ret = sq_cmd(c, "WITH live AS (UPDATE published_records pr SET state = 'live' "
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
	sq_rec_arrays_free(&w);
	sq_rec_arrays_free(&r);
	return ret;
}

int store_ledger_pending(PGconn *c, const struct rz_job *job, const char *purpose,
                         const struct zg_krec *recs, size_t n, char *err, size_t errlen)
{
	struct sq_rec_arrays a;
	int ret;

	if (n == 0)
		return 0;
	if (sq_rec_arrays(recs, n, &a) != 0) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	{
		const char *p[] = { job->domain, job->service, job->zone, a.owners, a.ttls, a.types,
		                    a.datas, purpose };

		/* One statement for all of them: this runs while the zone's Knot
		 * transaction is open, so it must be short. */
		ret = sq_cmd(c, "INSERT INTO published_records (domain, service, zone, owner, ttl, "
		          "rtype, rdata, state, purpose) SELECT $1, $2, $3, o, t, ty, d, 'pending', $8 "
		          "FROM unnest($4::text[], $5::integer[], $6::text[], $7::text[]) AS r(o, t, ty, d) "
		          "ON CONFLICT (zone, owner, rtype, rdata) WHERE removed_at IS NULL DO NOTHING",
		          8, p, err, errlen);
	}
	sq_rec_arrays_free(&a);
	return ret;
}

int store_zone_trylock(PGconn *c, const char *zone, bool *got, char *err, size_t errlen)
{
	const char *p[] = { zone };
	PGresult *r = sq_q(c, "SELECT pg_try_advisory_lock(hashtext('regzone zone ' || $1))", 1, p,
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
	PGresult *r = sq_q(c, "SELECT pg_advisory_unlock(hashtext('regzone zone ' || $1))", 1, p,
	                PGRES_TUPLES_OK, err, sizeof(err));

	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}

int store_knot_txn_intent(PGconn *c, const char *zone, long long job_id, long long *id,
                          char *err, size_t errlen)
{
	char jid[32];
	const char *p[] = { zone, jid };
	PGresult *r;

	snprintf(jid, sizeof(jid), "%lld", job_id);
	r = sq_q(c, "INSERT INTO knot_txns (zone, backend_pid, backend_start, worker, job_id) "
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
	return sq_cmd(c, "DELETE FROM knot_txns t WHERE t.id = $2::bigint OR ($3::boolean AND "
	           "t.id <> $2::bigint AND " KNOT_TXN_DEAD ")", 3, p, err, errlen);
}

int store_knot_txn_dead(PGconn *c, const char *zone, int *n_dead, char *err, size_t errlen)
{
	const char *p[] = { zone };
	PGresult *r = sq_q(c, "SELECT count(*) FROM knot_txns t WHERE " KNOT_TXN_DEAD, 1, p,
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

	return sq_cmd(c, "DELETE FROM knot_txns t WHERE " KNOT_TXN_DEAD, 1, p, err, errlen);
}

int store_ledger_holds(PGconn *c, const char *zone, const struct zg_krec *recs, size_t n,
                       bool *all, char *why, size_t whylen, char *err, size_t errlen)
{
	struct sq_rec_arrays a;
	PGresult *r;
	int ret = 0;

	*all = true;
	why[0] = '\0';
	if (n == 0)
		return 0;
	if (sq_rec_arrays(recs, n, &a) != 0) {
		snprintf(err, errlen, "out of memory");
		return RZ_ENOMEM;
	}
	{
		const char *p[] = { zone, a.owners, a.types, a.datas };

		r = sq_q(c, "SELECT w.o || ' ' || w.ty || ' ' || w.d FROM unnest($2::text[], $3::text[], "
		      "$4::text[]) AS w(o, ty, d) WHERE NOT EXISTS (SELECT 1 FROM published_records pr "
		      "WHERE pr.zone = $1 AND pr.owner = w.o AND pr.rtype = w.ty AND pr.rdata = w.d "
		      "AND pr.removed_at IS NULL) LIMIT 1", 4, p, PGRES_TUPLES_OK, err, errlen);
	}
	sq_rec_arrays_free(&a);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) > 0) {
		*all = false;
		snprintf(why, whylen, "%s", PQgetvalue(r, 0, 0));
	}
	PQclear(r);
	return ret;
}

