/*
 * db.h - PostgreSQL access shared by regzoned and regzonectl.
 *
 * Every statement that carries a value goes through PQexecParams; the only
 * plain PQexec calls run the migrations compiled into the binary.
 */
#ifndef RZ_DB_H
#define RZ_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/config.h"

struct db_migration {
	int version;          /* NNN of sql/NNN_name.sql */
	const char *name;
	const char *sql;
};

/* Generated from sql/ at build time, in version order. */
extern const struct db_migration db_migrations[];
extern const size_t db_n_migrations;

/* Connect with cfg's database.conninfo, database.connect_timeout_s (unless
 * the conninfo sets connect_timeout) and the session's statement_timeout
 * set to database.statement_timeout_ms.  0, or RZ_EDB with libpq's message
 * in err (the conninfo itself is never echoed: it may hold a password). */
int db_connect(const struct rz_config *cfg, PGconn **out, char *err, size_t errlen);

/*
 * Apply the migrations not yet recorded in schema_migrations, each in its
 * own transaction, all under a session advisory lock so that concurrent
 * daemons and regzonectl migrate serialise.  Refuses (RZ_EDB) when an
 * applied migration's text differs from the one compiled in, or when the
 * database has a newer migration than this binary knows.  *applied gets the
 * number applied now.
 */
int db_migrate(PGconn *c, int *applied, char *err, size_t errlen);

/*
 * A connection's cancel handle, so that another thread can interrupt a
 * statement that waits (a lock held elsewhere) when the daemon stops.
 * db_cancel_set() after connecting (NULL after PQfinish), db_cancel_fire()
 * from any thread.  The slot's mutex is initialised by db_cancel_init().
 */
struct db_cancel {
	pthread_mutex_t lock;
	PGcancel *cancel;
};

void db_cancel_init(struct db_cancel *slot);
void db_cancel_set(struct db_cancel *slot, PGconn *c);
/* Cancel the statement running on the slot's connection, if any: true
 * when a cancel request was sent. */
bool db_cancel_fire(struct db_cancel *slot);
void db_cancel_destroy(struct db_cancel *slot);

#endif
