/*
 * db.h - PostgreSQL access shared by regzoned and regzonectl.
 *
 * Every statement that carries a value goes through PQexecParams; the only
 * plain PQexec calls run the migrations compiled into the binary.
 */
#ifndef RZ_DB_H
#define RZ_DB_H

#include <stddef.h>
#include <libpq-fe.h>

struct db_migration {
	int version;          /* NNN of sql/NNN_name.sql */
	const char *name;
	const char *sql;
};

/* Generated from sql/ at build time, in version order. */
extern const struct db_migration db_migrations[];
extern const size_t db_n_migrations;

/* Connect with a libpq conninfo.  0, or RZ_EDB with libpq's message in err
 * (the conninfo itself is never echoed: it may hold a password). */
int db_connect(const char *conninfo, PGconn **out, char *err, size_t errlen);

/*
 * Apply the migrations not yet recorded in schema_migrations, each in its
 * own transaction, all under a session advisory lock so that concurrent
 * daemons and regzonectl migrate serialise.  Refuses (RZ_EDB) when an
 * applied migration's text differs from the one compiled in, or when the
 * database has a newer migration than this binary knows.  *applied gets the
 * number applied now.
 */
int db_migrate(PGconn *c, int *applied, char *err, size_t errlen);

#endif
