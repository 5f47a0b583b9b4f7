/*
 * store_retention.c - one batch of old rows deleted from a table that only
 * grows (the statements of daemon/retention.c; see store.h).
 *
 * Each statement takes the retention in days ($1) and the cursor ($2, and
 * for the tables walked in time order $3), reads the next STORE_TRIM_BATCH rows after the cursor in
 * the table's walking order (an index: never the whole table), deletes
 * those that are old and that nothing live needs, and returns how many it
 * read, how many it deleted, the new cursor and whether it read a row
 * younger than the retention (the walk is past the old rows).  It runs on
 * its own, outside any transaction: each batch is one short transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "daemon/store_int.h"

#define BATCH "1000"    /* STORE_TRIM_BATCH */
#define STORE_TRIM_LOCK "7450128"   /* "regzone" again, as a 32-bit key */
#define CUTOFF "now() - make_interval(days => $1::int)"
/* The columns every statement returns, from its CTEs c (read) and d
 * (deleted), and l (c's last row). */
#define RESULT(k1, k2, young) \
	"SELECT (SELECT count(*) FROM c), (SELECT count(*) FROM d), " \
	"(SELECT " k1 " FROM l), (SELECT " k2 " FROM l), coalesce((SELECT bool_or(" young \
	") FROM c), false)"
/* Walked in (time, id) order, an index of both: the old rows only. */
#define BY_TIME(table, ts, idtype) \
	"WITH c AS (SELECT id, " ts " AS ts FROM " table " WHERE " ts " < " CUTOFF " " \
	"AND (" ts ", id) > ($2::timestamptz, $3::" idtype ") ORDER BY " ts ", id " \
	"LIMIT " BATCH "), "
#define BY_TIME_END \
	"l AS (SELECT ts, id FROM c ORDER BY ts DESC, id DESC LIMIT 1) " \
	RESULT("ts::text", "id::text", "false")
/* Walked by primary key (rows written in time order, never backdated),
 * up to the first young row. */
#define BY_ID(table, ts) \
	"WITH c AS (SELECT id, " ts " AS ts FROM " table " WHERE id > $2::bigint " \
	"ORDER BY id LIMIT " BATCH "), "
#define BY_ID_END \
	"l AS (SELECT id FROM c ORDER BY id DESC LIMIT 1) " \
	RESULT("id::text", "NULL::text", "ts >= " CUTOFF)
/* The candidates' ids as an array: an index scan of the primary key
 * whatever the planner guesses of a CTE's size. */
#define IDS "ARRAY(SELECT id FROM c WHERE ts < " CUTOFF ")"

static const struct {
	const char *name;       /* the metric's label */
	int n_params;
	const char *sql;
} trims[STORE_TRIM__MAX] = {
	/* A request's event, kept while it is the latest word on its service
	 * and the reconciler has not reached what it asked for (a re-send must
	 * then still get its first reply, whatever the retention). */
	[STORE_TRIM_EVENTS] = { "events", 3,
	  BY_TIME("events", "received_at", "text")
	  "d AS (DELETE FROM events e WHERE e.id = ANY (" IDS ") "
	  "AND NOT EXISTS (SELECT 1 FROM services s WHERE s.domain = e.domain "
	  "AND s.service = e.service AND s.desired_at <= e.received_at "
	  "AND s.dns NOT IN ('published', 'removed')) RETURNING 1), "
	  BY_TIME_END },
	/* An audit line, kept while its service is unsettled: those lines
	 * explain what ops look at now (regzonectl logs). */
	[STORE_TRIM_AUDIT] = { "audit", 3,
	  BY_TIME("audit", "at", "bigint")
	  "d AS (DELETE FROM audit a WHERE a.id = ANY (" IDS ") "
	  "AND NOT EXISTS (SELECT 1 FROM services s WHERE s.domain = a.domain "
	  "AND s.service = a.service AND (s.dns NOT IN ('published', 'removed') "
	  "OR s.cert_state IN ('ordering', 'renewing', 'failed'))) RETURNING 1), "
	  BY_TIME_END },
	/* The rate-limit budget's history: the caller's retention covers the
	 * longest window. */
	[STORE_TRIM_ACME_EVENTS] = { "acme_events", 3,
	  BY_TIME("acme_events", "at", "bigint")
	  "d AS (DELETE FROM acme_events a WHERE a.id = ANY (" IDS ") RETURNING 1), "
	  BY_TIME_END },
	/* A certificate expired for longer than the retention and replaced by
	 * a newer one of its service (the newest one is the service's state). */
	[STORE_TRIM_CERTIFICATES] = { "certificates", 2,
	  BY_ID("certificates", "created_at")
	  "d AS (DELETE FROM certificates x WHERE x.id = ANY (" IDS ") "
	  "AND x.not_after < " CUTOFF " AND EXISTS (SELECT 1 FROM certificates n "
	  "WHERE n.domain = x.domain AND n.service = x.service AND n.id > x.id) RETURNING 1), "
	  BY_ID_END },
	/* An order finished for longer than the retention that no certificate,
	 * budget event or cert job names any more. */
	[STORE_TRIM_ACME_ORDERS] = { "acme_orders", 2,
	  BY_ID("acme_orders", "created_at")
	  "d AS (DELETE FROM acme_orders o WHERE o.id = ANY (" IDS ") "
	  "AND o.status IN ('valid', 'invalid', 'abandoned') AND o.finished_at < " CUTOFF " "
	  "AND NOT EXISTS (SELECT 1 FROM certificates x WHERE x.order_id = o.id) "
	  "AND NOT EXISTS (SELECT 1 FROM acme_events v WHERE v.order_id = o.id) "
	  "AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.domain = o.domain "
	  "AND j.service = o.service AND j.kind = 'cert' "
	  "AND j.state->>'order_id' = o.id::text) RETURNING 1), "
	  BY_ID_END },
};

const char *store_trim_name(enum store_trim t)
{
	return (int)t >= 0 && t < STORE_TRIM__MAX ? trims[t].name : NULL;
}

void store_trim_rewind(struct store_trim_cursor *cur)
{
	cur->k1[0] = '\0';
	cur->k2[0] = '\0';
}

int store_trim_batch(PGconn *c, enum store_trim t, uint32_t days, struct store_trim_cursor *cur,
                     long long *deleted, bool *done, char *err, size_t errlen)
{
	char d[16];
	const char *p[3] = { d, cur->k1, cur->k2 };
	PGresult *r = NULL;
	long long scanned;
	int ret;

	*deleted = 0;
	*done = true;
	if ((int)t < 0 || t >= STORE_TRIM__MAX || days == 0) {
		snprintf(err, errlen, "retention: no such table, or kept forever");
		return RZ_EINVAL;
	}
	snprintf(d, sizeof(d), "%u", days);
	if (cur->k1[0] == '\0') {   /* from the start */
		bool by_time = trims[t].n_params == 3;

		snprintf(cur->k1, sizeof(cur->k1), "%s", by_time ? "-infinity" : "0");
		snprintf(cur->k2, sizeof(cur->k2), "%s", t == STORE_TRIM_EVENTS ? "" : "0");
	}
	if ((ret = store_sql(c, trims[t].sql, trims[t].n_params, p, &r, err, errlen)) != 0)
		return ret;
	if (PQntuples(r) != 1 || PQnfields(r) != 5) {
		PQclear(r);
		snprintf(err, errlen, "database: trimming %s: unexpected result", trims[t].name);
		return RZ_EDB;
	}
	scanned = atoll(PQgetvalue(r, 0, 0));
	*deleted = atoll(PQgetvalue(r, 0, 1));
	*done = scanned < STORE_TRIM_BATCH || strcmp(PQgetvalue(r, 0, 4), "t") == 0;
	if (!PQgetisnull(r, 0, 2)) {
		/* a key longer than the cursor holds: this walk ends here */
		if ((size_t)PQgetlength(r, 0, 2) >= sizeof(cur->k1) ||
		    (size_t)PQgetlength(r, 0, 3) >= sizeof(cur->k2))
			*done = true;
		else {
			snprintf(cur->k1, sizeof(cur->k1), "%s", PQgetvalue(r, 0, 2));
			snprintf(cur->k2, sizeof(cur->k2), "%s", PQgetvalue(r, 0, 3));
		}
	}
	PQclear(r);
	if (*done)
		store_trim_rewind(cur);
	return 0;
}

/* Two classes of key: this one (a constant) and the zones' (hashtext of
 * 'regzone zone ' || zone, store_ledger.c) use different lock spaces. */
int store_trim_lock(PGconn *c, bool *got, char *err, size_t errlen)
{
	PGresult *r = sq_q(c, "SELECT pg_try_advisory_lock($1::int, 0)", 1,
	                   (const char *const[]){ STORE_TRIM_LOCK }, PGRES_TUPLES_OK, err, errlen);

	*got = false;
	if (r == NULL)
		return RZ_EDB;
	*got = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return 0;
}

int store_trim_unlock(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = sq_q(c, "SELECT pg_advisory_unlock($1::int, 0)", 1,
	                   (const char *const[]){ STORE_TRIM_LOCK }, PGRES_TUPLES_OK, err, errlen);

	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}
