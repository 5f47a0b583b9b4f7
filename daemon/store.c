/*
 * store.c - the store's statement runner (prepared once per connection,
 * errors as "database: first line"), PostgreSQL array literals, and the
 * small reads and writes everyone uses: a service's state, an audit line.
 * The other parts: store_intake.c, store_jobs.c, store_ledger.c.
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

/*
 * Run a parameterised statement, prepared: the workers run the same few
 * statements thousands of times, and planning them is most of their cost.
 * The statement is named after its text's address (every statement here is
 * a string literal), prepared on a connection the first time it is missing
 * there; inside an explicit transaction, where a failed attempt would abort
 * it, it runs unprepared.
 */
PGresult *sq_exec_cached(PGconn *c, const char *sql, int n, const char *const *params)
{
	char name[32];
	PGresult *r;
	const char *state;

	if (n == 0 || PQtransactionStatus(c) != PQTRANS_IDLE)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	snprintf(name, sizeof(name), "rz_%p", (const void *)sql);
	r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
	state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (PQresultStatus(r) != PGRES_FATAL_ERROR || state == NULL ||
	    strcmp(state, "26000") != 0)   /* invalid_sql_statement_name */
		return r;
	PQclear(r);
	r = PQprepare(c, name, sql, n, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		return r;   /* the error of the statement itself */
	PQclear(r);
	return PQexecPrepared(c, name, n, params, NULL, NULL, 0);
}

/* A parameterised statement; NULL result status mismatch -> RZ_EDB. */
void sq_error(const PGresult *r, PGconn *c, char *err, size_t errlen)
{
	const char *msg = r != NULL ? PQresultErrorMessage(r) : NULL;

	if ((msg == NULL || msg[0] == '\0') && c != NULL)
		msg = PQerrorMessage(c);
	if (msg == NULL || msg[0] == '\0')
		msg = "no result (out of memory or connection lost)";
	snprintf(err, errlen, "database: %.*s", (int)strcspn(msg, "\n"), msg);
}

PGresult *sq_q(PGconn *c, const char *sql, int n, const char *const *params,
                   ExecStatusType want, char *err, size_t errlen)
{
	PGresult *r = sq_exec_cached(c, sql, n, params);

	if (PQresultStatus(r) != want) {
		sq_error(r, c, err, errlen);
		PQclear(r);
		return NULL;
	}
	return r;
}

int sq_cmd(PGconn *c, const char *sql, int n, const char *const *params,
               char *err, size_t errlen)
{
	PGresult *r = sq_q(c, sql, n, params, PGRES_COMMAND_OK, err, errlen);

	if (r == NULL)
		return RZ_EDB;
	PQclear(r);
	return 0;
}

void sq_rollback(PGconn *c)
{
	PGresult *r = PQexec(c, "ROLLBACK");

	PQclear(r);
}

/* A text[] literal of n values (NULL elements allowed): its length is
 * counted first, then it is written in one buffer (the intake builds nine
 * per batch of up to 256 requests: no stdio per character). */
char *sq_ptr_array(const char *const *vals, size_t n)
{
	size_t len = 3;   /* braces and the terminator */
	char *buf, *o;

	for (size_t i = 0; i < n; i++) {
		len += 1;   /* comma */
		if (vals[i] == NULL) {
			len += 4;
			continue;
		}
		len += 2;   /* quotes */
		for (const char *v = vals[i]; *v != '\0'; v++)
			len += (*v == '"' || *v == '\\') ? 2 : 1;
	}
	if ((buf = malloc(len)) == NULL)
		return NULL;
	o = buf;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*o++ = ',';
		if (vals[i] == NULL) {
			memcpy(o, "NULL", 4);
			o += 4;
			continue;
		}
		*o++ = '"';
		for (const char *v = vals[i]; *v != '\0'; v++) {
			if (*v == '"' || *v == '\\')
				*o++ = '\\';
			*o++ = *v;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return buf;
}

/* A statement's result: TUPLES_OK or COMMAND_OK kept in *out (or
 * cleared), anything else RZ_EDB with the server's first line in err. */
int sq_result_ok(PGresult *r, PGresult **out, char *err, size_t errlen)
{
	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		sq_error(r, NULL, err, errlen);
		PQclear(r);
		return RZ_EDB;
	}
	if (out != NULL)
		*out = r;
	else
		PQclear(r);
	return 0;
}

int sq_exec_prepared(PGconn *c, const char *name, int n, const char *const *p,
                         PGresult **out, char *err, size_t errlen)
{
	return sq_result_ok(PQexecPrepared(c, name, n, p, NULL, NULL, 0), out, err, errlen);
}

char *store_text_array(const char *const *vals, size_t n)
{
	return sq_ptr_array(vals, n);
}

int store_sql(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out,
              char *err, size_t errlen)
{
	return sq_result_ok(sq_exec_cached(c, sql, n, params), out, err, errlen);
}

/* A PostgreSQL array literal of n strings taken at stride from base:
 * every element quoted, '"' and '\\' escaped.  malloc'ed. */
char *sq_text_array(const char *base, size_t stride, size_t n)
{
	const char **vals = calloc(n ? n : 1, sizeof(*vals));
	char *arr;

	if (vals == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		vals[i] = base + i * stride;
	arr = sq_ptr_array(vals, n);
	free(vals);
	return arr;
}

/* The four columns of records as PostgreSQL array literals. */
void sq_rec_arrays_free(struct sq_rec_arrays *a)
{
	free(a->owners);
	free(a->ttls);
	free(a->types);
	free(a->datas);
}

int sq_rec_arrays(const struct zg_krec *recs, size_t n, struct sq_rec_arrays *a)
{
	size_t len = 0;
	FILE *f;

	memset(a, 0, sizeof(*a));
	a->owners = sq_text_array(n ? recs[0].owner : "", sizeof(*recs), n);
	a->types = sq_text_array(n ? recs[0].type : "", sizeof(*recs), n);
	a->datas = sq_text_array(n ? recs[0].data : "", sizeof(*recs), n);
	if ((f = open_memstream(&a->ttls, &len)) != NULL) {
		fputc('{', f);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%s%u", i ? "," : "", recs[i].ttl);
		fputc('}', f);
		if (fclose(f) != 0) {
			free(a->ttls);
			a->ttls = NULL;
		}
	}
	if (a->owners == NULL || a->types == NULL || a->datas == NULL || a->ttls == NULL) {
		sq_rec_arrays_free(a);
		return RZ_ENOMEM;
	}
	return 0;
}

#define STATE_FROM "FROM services s " RZ_STATE_CERT

int store_state(PGconn *c, const char *domain, const char *service, struct rz_state *st,
                bool *found, char *err, size_t errlen)
{
	const char *p[] = { domain, service };
	PGresult *r = sq_q(c, "SELECT " RZ_STATE_COLS " " STATE_FROM
	                "WHERE s.domain = $1 AND s.service = $2", 2, p, PGRES_TUPLES_OK,
	                err, errlen);

	if (r == NULL)
		return RZ_EDB;
	*found = PQntuples(r) == 1;
	if (*found && rz_state_from_row(r, 0, 0, st) != 0) {
		PQclear(r);
		snprintf(err, errlen, "database: the state of %s is not one regzone knows", domain);
		return RZ_EDB;
	}
	if (!*found)
		rz_state_absent(domain, service, st);
	PQclear(r);
	return 0;
}

int store_audit(PGconn *c, const char *domain, const char *service, const char *event_id,
                const char *kind, const char *message, const char *detail_json,
                char *err, size_t errlen)
{
	const char *p[] = { domain, service, event_id, kind, message, detail_json };

	return sq_cmd(c, "INSERT INTO audit (domain, service, event_id, kind, message, detail) "
	           "VALUES ($1, $2, $3, $4, $5, $6::jsonb)", 6, p, err, errlen);
}

