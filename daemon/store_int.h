/*
 * store_int.h - what the store's files share (not an interface of the
 * daemon: daemon/store.h is).
 */
#ifndef RZ_STORE_INT_H
#define RZ_STORE_INT_H

#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/state.h"
#include "zonegen/knot.h"

/*
 * A parameterised statement, prepared once per connection (named after its
 * text's address: every statement of the store is a string literal), or
 * unprepared inside an explicit transaction, where a failed attempt would
 * abort it.
 */
PGresult *sq_exec_cached(PGconn *c, const char *sql, int n, const char *const *params);
/* sq_exec_cached(), then its result when its status is want, else NULL
 * with "database: <the server's first line>" in err. */
PGresult *sq_q(PGconn *c, const char *sql, int n, const char *const *params,
               ExecStatusType want, char *err, size_t errlen);
/* A statement that returns no rows: 0 or RZ_EDB. */
int sq_cmd(PGconn *c, const char *sql, int n, const char *const *params,
           char *err, size_t errlen);
void sq_rollback(PGconn *c);
/* r (TUPLES_OK or COMMAND_OK) into *out (or cleared), else RZ_EDB with the
 * server's first line in err; r is consumed either way. */
int sq_result_ok(PGresult *r, PGresult **out, char *err, size_t errlen);
/* A statement prepared by name (the intake's), through sq_result_ok(). */
int sq_exec_prepared(PGconn *c, const char *name, int n, const char *const *p,
                     PGresult **out, char *err, size_t errlen);
/* The "database: ..." text of a failed result, into err. */
void sq_error(const PGresult *r, PGconn *c, char *err, size_t errlen);

/* text[] literals: of n strings (NULL elements allowed), of n strings at
 * stride bytes from base.  malloc'ed, NULL when out of memory. */
char *sq_ptr_array(const char *const *vals, size_t n);
char *sq_text_array(const char *base, size_t stride, size_t n);

/* The four columns of records as array literals. */
struct sq_rec_arrays {
	char *owners, *ttls, *types, *datas;
};

int sq_rec_arrays(const struct zg_krec *recs, size_t n, struct sq_rec_arrays *a);
void sq_rec_arrays_free(struct sq_rec_arrays *a);

/* The state columns of the rows of src (a table, or a data-modifying CTE
 * whose RETURNING gives the new rows), with the current certificate (the one installed last, not revoked). */
#define INTAKE_STATE_SEL(src) \
	"SELECT " RZ_STATE_COLS " FROM " src " s LEFT JOIN LATERAL (SELECT not_after, serial " \
	"FROM certificates WHERE domain = s.domain AND service = s.service AND " \
	"revoked_at IS NULL ORDER BY id DESC LIMIT 1) ce ON true"

#endif
