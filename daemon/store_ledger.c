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

/* One side of a settle (the records that go live, or those that close) as
 * the statement's arrays: domain, service, owner, ttl, type, data. */
struct settle_side {
	char *dm, *sv, *zn;
	struct sq_rec_arrays r;
};

static int settle_side(const struct store_settle *s, size_t n, bool removed,
                       struct settle_side *out)
{
	const char **dm = NULL, **sv = NULL, **zn = NULL;
	struct zg_krec *recs = NULL;
	size_t rows = 0, k = 0;
	int ret = RZ_ENOMEM;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++)
		rows += removed ? s[i].n_removed : s[i].n_want;
	if ((dm = calloc(rows ? rows : 1, sizeof(*dm))) == NULL ||
	    (sv = calloc(rows ? rows : 1, sizeof(*sv))) == NULL ||
	    (zn = calloc(rows ? rows : 1, sizeof(*zn))) == NULL ||
	    (recs = calloc(rows ? rows : 1, sizeof(*recs))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const struct zg_krec *from = removed ? s[i].removed : s[i].want;
		size_t m = removed ? s[i].n_removed : s[i].n_want;

		for (size_t j = 0; j < m; j++, k++) {
			dm[k] = s[i].job->domain;
			sv[k] = s[i].job->service;
			zn[k] = s[i].job->zone;
			recs[k] = from[j];
		}
	}
	if ((out->dm = sq_ptr_array(dm, rows)) != NULL &&
	    (out->sv = sq_ptr_array(sv, rows)) != NULL &&
	    (out->zn = sq_ptr_array(zn, rows)) != NULL &&
	    sq_rec_arrays(recs, rows, &out->r) == 0)
		ret = 0;
out:
	free(dm);
	free(sv);
	free(zn);
	free(recs);
	return ret;
}

static void settle_side_free(struct settle_side *s)
{
	free(s->dm);
	free(s->sv);
	free(s->zn);
	sq_rec_arrays_free(&s->r);
}

int store_ledger_settle_many(PGconn *c, const struct store_settle *s, size_t n, char *err,
                             size_t errlen)
{
	struct settle_side w, r;
	int ret = RZ_ENOMEM;

	if (n == 0)
		return 0;
	memset(&r, 0, sizeof(r));
	if (settle_side(s, n, false, &w) != 0 || settle_side(s, n, true, &r) != 0) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	{
		/* One statement for every job of a batch: pending rows of wanted
		 * records go live, removed records close, and each change leaves
		 * an audit line. */
		const char *p[] = { w.dm, w.sv, w.zn, w.r.owners, w.r.ttls, w.r.types, w.r.datas,
		                    r.dm, r.sv, r.zn, r.r.owners, r.r.ttls, r.r.types, r.r.datas };

		/* Each row found by an index, one lookup per record, whatever
		 * the planner believes of the ledger's size (a join of the
		 * arrays with the table was planned as a scan of every live
		 * row; OFFSET 0 keeps each lookup a lookup): pending rows by their zone too (they were written with
		 * the job's), on the live rows' unique index (zone, owner, type,
		 * data); removed rows by domain and service (their zone may be
		 * an older one). */
		ret = sq_cmd(c, "WITH live AS (UPDATE published_records pr SET state = 'live' "
		          "  WHERE pr.id = ANY (ARRAY(SELECT x.id FROM unnest($1::text[], $2::text[], "
		          "  $3::text[], $4::text[], $5::integer[], $6::text[], $7::text[]) "
		          "  AS w(dm, sv, zn, o, t, ty, d) CROSS JOIN LATERAL (SELECT id FROM "
		          "  published_records x WHERE x.zone = w.zn AND x.owner = w.o "
		          "  AND x.rtype = w.ty AND x.rdata = w.d AND x.removed_at IS NULL "
		          "  AND x.domain = w.dm AND x.service = w.sv AND x.state = 'pending' OFFSET 0) x)) "
		          "  RETURNING pr.domain, pr.service, pr.owner, pr.ttl, pr.rtype, pr.rdata), "
		          "gone AS (UPDATE published_records pr SET removed_at = now() "
		          "  WHERE pr.id = ANY (ARRAY(SELECT x.id FROM unnest($8::text[], $9::text[], "
		          "  $10::text[], $11::text[], $12::integer[], $13::text[], $14::text[]) "
		          "  AS g(dm, sv, zn, o, t, ty, d) CROSS JOIN LATERAL (SELECT id FROM "
		          "  published_records x WHERE x.domain = g.dm AND x.service = g.sv "
		          "  AND x.owner = g.o AND x.rtype = g.ty AND x.rdata = g.d "
		          "  AND x.removed_at IS NULL AND g.zn IS NOT NULL OFFSET 0) x)) "
		          "  RETURNING pr.domain, pr.service, pr.owner, pr.ttl, pr.rtype, pr.rdata) "
		          "INSERT INTO audit (domain, service, kind, message) "
		          "SELECT domain, service, 'record_added', 'added ' || owner || ' ' || ttl || "
		          "  ' ' || rtype || ' ' || rdata FROM live "
		          "UNION ALL SELECT domain, service, 'record_removed', 'removed ' || owner || "
		          "  ' ' || ttl || ' ' || rtype || ' ' || rdata FROM gone",
		          14, p, err, errlen);
	}
out:
	settle_side_free(&w);
	settle_side_free(&r);
	return ret;
}

int store_ledger_settle(PGconn *c, const struct rz_job *job,
                        const struct zg_krec *want, size_t n_want,
                        const struct zg_krec *removed, size_t n_removed,
                        char *err, size_t errlen)
{
	const struct store_settle s = { job, want, n_want, removed, n_removed };

	return store_ledger_settle_many(c, &s, 1, err, errlen);
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

/* A knot_txns row whose session is gone: no backend with its pid and
 * start time (a pid PostgreSQL gave to a new session does not count). */
#define KNOT_TXN_DEAD \
	"t.zone = $1 AND t.backend_pid <> pg_backend_pid() AND NOT EXISTS (SELECT 1 FROM " \
	"pg_stat_activity a WHERE a.pid = t.backend_pid AND (t.backend_start IS NULL OR " \
	"a.backend_start IS NULL OR a.backend_start = t.backend_start))"

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

int store_knot_txn_abandon(PGconn *c, long long id, char *err, size_t errlen)
{
	char sid[32];
	const char *p[] = { sid };

	/* backend_pid 0 is no session's: the row reads as a gone writer's */
	snprintf(sid, sizeof(sid), "%lld", id);
	return sq_cmd(c, "UPDATE knot_txns SET backend_pid = 0, backend_start = NULL "
	              "WHERE id = $1::bigint", 1, p, err, errlen);
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


int store_zone_lock_intent(PGconn *c, const char *zone, long long job_id, bool *got,
                           long long *id, char *err, size_t errlen)
{
	char jid[32];
	const char *p[] = { zone, jid };
	PGresult *r;

	*got = false;
	*id = 0;
	snprintf(jid, sizeof(jid), "%lld", job_id);
	/* l is evaluated once (a volatile function's CTE is materialised): the
	 * intent is written only when the lock was free. */
	r = sq_q(c, "WITH l AS (SELECT pg_try_advisory_lock(hashtext('regzone zone ' || $1)) AS got), "
	      "i AS (INSERT INTO knot_txns (zone, backend_pid, backend_start, worker, job_id) "
	      "SELECT $1, pg_backend_pid(), (SELECT backend_start FROM pg_stat_activity "
	      "WHERE pid = pg_backend_pid()), coalesce(current_setting('application_name', "
	      "true), ''), nullif($2, '0')::bigint FROM l WHERE l.got RETURNING id) "
	      "SELECT l.got, coalesce((SELECT id FROM i), 0) FROM l", 2, p, PGRES_TUPLES_OK,
	      err, errlen);
	if (r == NULL)
		return RZ_EDB;
	if (PQntuples(r) == 1) {
		*got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		*id = atoll(PQgetvalue(r, 0, 1));
	}
	PQclear(r);
	if (*got && *id == 0) {
		snprintf(err, errlen, "the intent of the Knot transaction on zone %s was not recorded",
		         zone);
		return RZ_EDB;
	}
	return 0;
}

int store_zone_unlock_done(PGconn *c, const char *zone, long long id, bool dead, char *err,
                           size_t errlen)
{
	char sid[32];
	const char *p[] = { zone, sid, dead ? "t" : "f" };
	PGresult *r;

	snprintf(sid, sizeof(sid), "%lld", id);
	/* a data-modifying CTE runs whether or not the query reads it */
	r = sq_q(c, "WITH d AS (DELETE FROM knot_txns t WHERE t.id = $2::bigint OR ($3::boolean "
	      "AND t.id <> $2::bigint AND " KNOT_TXN_DEAD ")) "
	      "SELECT pg_advisory_unlock(hashtext('regzone zone ' || $1))", 3, p, PGRES_TUPLES_OK,
	      err, errlen);
	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}

int store_ledger_pending_many(PGconn *c, const struct store_pending *w, size_t n, char *err,
                              size_t errlen)
{
	const char **cols[4];
	char *arr[4] = { NULL, NULL, NULL, NULL };
	struct zg_krec *recs = NULL;
	struct sq_rec_arrays a = { 0 };
	size_t rows = 0, k = 0;
	int ret = RZ_ENOMEM;

	for (size_t i = 0; i < n; i++)
		rows += w[i].n;
	if (rows == 0)
		return 0;
	for (int j = 0; j < 4; j++)
		cols[j] = calloc(rows, sizeof(char *));
	if (cols[0] == NULL || cols[1] == NULL || cols[2] == NULL || cols[3] == NULL ||
	    (recs = calloc(rows, sizeof(*recs))) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < w[i].n; j++, k++) {
			cols[0][k] = w[i].job->domain;
			cols[1][k] = w[i].job->service;
			cols[2][k] = w[i].job->zone;
			cols[3][k] = w[i].purpose;
			recs[k] = w[i].recs[j];
		}
	for (int j = 0; j < 4; j++)
		if ((arr[j] = sq_ptr_array(cols[j], rows)) == NULL)
			goto out;
	if (sq_rec_arrays(recs, rows, &a) != 0)
		goto out;
	{
		const char *p[] = { arr[0], arr[1], arr[2], a.owners, a.ttls, a.types, a.datas,
		                    arr[3] };

		/* One statement for every zone of a batch: it runs while their
		 * Knot transactions are open. */
		ret = sq_cmd(c, "INSERT INTO published_records (domain, service, zone, owner, ttl, "
		          "rtype, rdata, state, purpose) SELECT dm, sv, zn, o, t, ty, d, 'pending', pu "
		          "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], "
		          "$6::text[], $7::text[], $8::text[]) AS r(dm, sv, zn, o, t, ty, d, pu) "
		          "ON CONFLICT (zone, owner, rtype, rdata) WHERE removed_at IS NULL DO NOTHING",
		          8, p, err, errlen);
	}
out:
	if (ret == RZ_ENOMEM)
		snprintf(err, errlen, "out of memory");
	sq_rec_arrays_free(&a);
	for (int j = 0; j < 4; j++) {
		free(arr[j]);
		free(cols[j]);
	}
	free(recs);
	return ret;
}
