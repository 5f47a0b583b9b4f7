#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/db.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"

/* pg_advisory_lock key: "regzone" in ASCII, any constant would do. */
#define DB_MIGRATE_LOCK "7450128097586789"

static int db_fail(PGconn *c, const PGresult *r, const char *what, char *err, size_t errlen)
{
	const char *msg = r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c);

	if (msg == NULL || msg[0] == '\0')
		msg = PQerrorMessage(c);
	snprintf(err, errlen, "%s: %.*s", what, (int)strcspn(msg, "\n"), msg);
	return RZ_EDB;
}

/* Server notices ("relation already exists, skipping") are not errors:
 * keep them off stderr unless debugging. */
static void db_notice(void *arg, const char *msg)
{
	(void)arg;
	rz_log(RZ_LOG_DEBUG, "postgresql: %.*s", (int)strcspn(msg, "\n"), msg);
}

int db_connect(const struct rz_config *cfg, PGconn **out, char *err, size_t errlen)
{
	/* connect_timeout first: a conninfo that sets its own overrides it. */
	const char *keys[] = { "connect_timeout", "dbname", NULL };
	char timeout[16], stmt[96];
	const char *vals[] = { timeout, cfg->db_conninfo, NULL };
	PGconn *c;
	PGresult *r;

	*out = NULL;
	snprintf(timeout, sizeof(timeout), "%u", cfg->db_connect_timeout_s);
	if ((c = PQconnectdbParams(keys, vals, 1)) == NULL) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: out of memory");
		return RZ_ENOMEM;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		db_fail(c, NULL, "cannot connect to PostgreSQL", err, errlen);
		PQfinish(c);
		return RZ_EDB;
	}
	PQsetNoticeProcessor(c, db_notice, NULL);
	/* No statement waits without a bound (a held lock, a stuck server);
	 * and no JIT: regzone's statements are small, and at 10^5 rows the
	 * monitor's counts spent more time compiling (200 ms) than running. */
	snprintf(stmt, sizeof(stmt), "SET statement_timeout = %u; SET jit = off",
	         cfg->db_statement_timeout_ms);
	r = PQexec(c, stmt);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		db_fail(c, r, "cannot set statement_timeout", err, errlen);
		PQclear(r);
		PQfinish(c);
		return RZ_EDB;
	}
	PQclear(r);
	*out = c;
	return 0;
}

/* Run a statement without parameters that returns no rows we need. */
static int exec_cmd(PGconn *c, const char *sql, const char *what, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, sql);
	int ret = 0;

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		ret = db_fail(c, r, what, err, errlen);
	PQclear(r);
	return ret;
}

static int apply_one(PGconn *c, const struct db_migration *m, char *err, size_t errlen)
{
	char version[16], what[128];
	const char *params[3];
	PGresult *r = NULL;
	int ret;

	snprintf(version, sizeof(version), "%d", m->version);
	snprintf(what, sizeof(what), "migration %03d_%s", m->version, m->name);
	if ((ret = exec_cmd(c, "BEGIN", what, err, errlen)) != 0)
		return ret;
	/* A migration of a large table may take longer than any statement
	 * of the daemon's: no statement_timeout inside it. */
	if ((ret = exec_cmd(c, "SET LOCAL statement_timeout = 0", what, err, errlen)) != 0 ||
	    (ret = exec_cmd(c, m->sql, what, err, errlen)) != 0)
		goto out;
	params[0] = version;
	params[1] = m->name;
	params[2] = m->sql;
	r = PQexecParams(c, "INSERT INTO schema_migrations (version, name, checksum) "
	                 "VALUES ($1::integer, $2, md5($3))", 3, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		ret = db_fail(c, r, what, err, errlen);
		goto out;
	}
	ret = exec_cmd(c, "COMMIT", what, err, errlen);
out:
	PQclear(r);
	if (ret != 0) {
		PGresult *rb = PQexec(c, "ROLLBACK");

		PQclear(rb);
	}
	return ret;
}

int db_migrate(PGconn *c, int *applied, char *err, size_t errlen)
{
	PGresult *r = NULL;
	int ret, n;

	*applied = 0;
	if ((ret = exec_cmd(c, "SELECT pg_advisory_lock(" DB_MIGRATE_LOCK ")",
	                    "migration lock", err, errlen)) != 0)
		return ret;
	ret = exec_cmd(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	               "version integer PRIMARY KEY, name text NOT NULL, "
	               "checksum text NOT NULL, "
	               "applied_at timestamptz NOT NULL DEFAULT now())",
	               "schema_migrations", err, errlen);
	if (ret != 0)
		goto out;
	r = PQexec(c, "SELECT version, checksum FROM schema_migrations ORDER BY version");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		ret = db_fail(c, r, "reading schema_migrations", err, errlen);
		goto out;
	}
	n = PQntuples(r);
	for (int i = 0; i < n; i++) {
		int v = atoi(PQgetvalue(r, i, 0));
		const struct db_migration *m = NULL;

		for (size_t j = 0; j < db_n_migrations; j++)
			if (db_migrations[j].version == v)
				m = &db_migrations[j];
		if (m == NULL) {
			snprintf(err, errlen, "database has migration %03d that this regzone does "
			         "not know: refusing to run an older binary on a newer schema", v);
			ret = RZ_EDB;
			goto out;
		}
	}
	for (size_t j = 0; j < db_n_migrations; j++) {
		const struct db_migration *m = &db_migrations[j];
		const char *params[2];
		PGresult *cr;
		char version[16];
		int done = 0;

		for (int i = 0; i < n; i++)
			if (atoi(PQgetvalue(r, i, 0)) == m->version)
				done = 1;
		if (done) {
			/* Applied before: its text must not have changed since. */
			snprintf(version, sizeof(version), "%d", m->version);
			params[0] = version;
			params[1] = m->sql;
			cr = PQexecParams(c, "SELECT checksum = md5($2) FROM schema_migrations "
			                  "WHERE version = $1::integer", 2, NULL, params, NULL, NULL, 0);
			if (PQresultStatus(cr) != PGRES_TUPLES_OK || PQntuples(cr) != 1) {
				ret = db_fail(c, cr, "checking schema_migrations", err, errlen);
				PQclear(cr);
				goto out;
			}
			if (strcmp(PQgetvalue(cr, 0, 0), "t") != 0) {
				snprintf(err, errlen, "migration %03d_%s was changed after it was "
				         "applied: write a new migration instead", m->version, m->name);
				ret = RZ_EDB;
				PQclear(cr);
				goto out;
			}
			PQclear(cr);
			continue;
		}
		if ((ret = apply_one(c, m, err, errlen)) != 0)
			goto out;
		rz_log(RZ_LOG_INFO, "applied migration %03d_%s", m->version, m->name);
		(*applied)++;
	}
out:
	PQclear(r);
	{
		PGresult *u = PQexec(c, "SELECT pg_advisory_unlock(" DB_MIGRATE_LOCK ")");

		PQclear(u);
	}
	return ret;
}

void db_cancel_init(struct db_cancel *slot)
{
	pthread_mutex_init(&slot->lock, NULL);
	slot->cancel = NULL;
}

void db_cancel_set(struct db_cancel *slot, PGconn *c)
{
	PGcancel *next = c != NULL ? PQgetCancel(c) : NULL, *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->cancel;
	slot->cancel = next;
	pthread_mutex_unlock(&slot->lock);
	PQfreeCancel(old);
}

bool db_cancel_fire(struct db_cancel *slot)
{
	char err[256];
	bool sent = false;

	pthread_mutex_lock(&slot->lock);
	if (slot->cancel != NULL)
		sent = PQcancel(slot->cancel, err, sizeof(err)) == 1;
	pthread_mutex_unlock(&slot->lock);
	return sent;
}

void db_cancel_destroy(struct db_cancel *slot)
{
	db_cancel_set(slot, NULL);
	pthread_mutex_destroy(&slot->lock);
}
