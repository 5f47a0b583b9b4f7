/*
 * ctl_db.c - regzonectl's database commands: list, logs (read-only) and retry (through the store).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zmq.h>


#include "daemon/ctl.h"
#include "daemon/db.h"
#include "daemon/listen.h"
#include "daemon/log.h"
#include "daemon/rz_err.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

/* --------------------------------------------------------- database commands */

/* Timestamps as the state object shows them (UTC, RFC 3339). */
#define SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define SQL_TS_MS(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

int db_open(const struct rz_config *cfg, PGconn **db)
{
	char err[1024];

	if (db_connect(cfg, db, err, sizeof(err)) != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	return EXIT_OK;
}

PGresult *db_run(PGconn *db, const char *what, const char *sql, int n,
                 const char *const *params, ExecStatusType want)
{
	PGresult *r = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != want) {
		const char *msg = r != NULL ? PQresultErrorMessage(r) : "";

		if (msg == NULL || msg[0] == '\0')
			msg = PQerrorMessage(db);
		fprintf(stderr, "regzonectl: %s: %.*s\n", what, (int)strcspn(msg, "\n"), msg);
		PQclear(r);
		return NULL;
	}
	return r;
}

#define STATE_FROM "FROM services s " RZ_STATE_CERT

/* list --state S: which rows S selects.  A value is always a parameter. */
const char *const list_state_names[] = {
	"pending", "published", "conflict", "removing", "removed", "error",
	"active", "enabled", "disabled", "ordering", "issued", "renewing", "failed", "waiting", NULL
};
static const struct { const char *where; int n_params; } list_state_where[] = {
	{ "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 },
	{ "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 }, { "WHERE s.dns = $1 ", 1 },
	{ "WHERE s.active ", 0 }, { "WHERE s.desired = $1 ", 1 }, { "WHERE s.desired = $1 ", 1 },
	/* the certificate's state; waiting: an order held back by the
	 * rate-limit budget (certs_order.c) */
	{ "WHERE s.cert_state = $1 ", 1 }, { "WHERE s.cert_state = $1 ", 1 },
	{ "WHERE s.cert_state = $1 ", 1 }, { "WHERE s.cert_state = $1 ", 1 },
	{ "WHERE EXISTS (SELECT 1 FROM jobs j WHERE j.domain = s.domain AND j.service = "
	  "s.service AND j.kind = 'cert' AND j.step = 'order' AND j.state ? 'budget_wait') ", 0 },
};

/* The table's columns: a state's values, in order. */
static const char *const list_head[] = {
	"DOMAIN", "SERVICE", "DESIRED", "DNS", "CERTIFICATE", "ACTIVE", "UPDATED", "PRIMARY",
	"LAST ERROR"
};
enum { LIST_NCOL = sizeof(list_head) / sizeof(list_head[0]) };

static void list_values(const struct rz_state *st, const char *v[LIST_NCOL])
{
	v[0] = st->domain;
	v[1] = st->service;
	v[2] = rz_desired_name(st->desired);
	v[3] = rz_dns_name(st->dns);
	v[4] = rz_cert_name(st->cert);
	v[5] = st->active ? "yes" : "no";
	v[6] = st->updated_at;
	v[7] = st->primary[0] != '\0' ? st->primary : "-";
	v[8] = st->last_error[0] != '\0' ? st->last_error : "-";
}

static void list_row(const char *const v[LIST_NCOL], const size_t w[LIST_NCOL])
{
	for (size_t c = 0; c < LIST_NCOL; c++) {
		put_safe(stdout, v[c]);
		if (c + 1 < LIST_NCOL)
			printf("%*s", (int)(w[c] > strlen(v[c]) ? w[c] - strlen(v[c]) + 2 : 2), "");
	}
	printf("\n");
}

/*
 * The columns' widths: the widest value of each over the rows listed,
 * asked of PostgreSQL first (the rows are then printed as they come, never
 * held: a list of 10^5 services took 285 MiB when they were).  The
 * columns whose values are state words or a timestamp have fixed widths.
 */
static int list_widths(PGconn *db, const char *where, int n, const char *const *param,
                       size_t w[LIST_NCOL])
{
	static const char *const words[][8] = {
		[2] = { "enabled", "disabled" },
		[3] = { "pending", "published", "conflict", "removing", "removed", "error" },
		[4] = { "none", "ordering", "issued", "renewing", "failed" },
		[5] = { "yes", "no" },
		[6] = { "2026-12-02T06:29:24.000Z" },
	};
	char sql[1024];
	PGresult *r;

	for (size_t c = 0; c < LIST_NCOL; c++) {
		w[c] = strlen(list_head[c]);
		for (size_t k = 0; c < 7 && k < 8 && words[c][k] != NULL; k++)
			if (strlen(words[c][k]) > w[c])
				w[c] = strlen(words[c][k]);
	}
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(length(s.domain)), 0), "
	         "coalesce(max(length(s.service)), 0), "
	         "coalesce(max(length(coalesce(s.knot_primary, ''))), 0) FROM services s %s", where);
	if ((r = db_run(db, "list", sql, n, param, PGRES_TUPLES_OK)) == NULL)
		return -1;
	w[0] = (size_t)atoi(PQgetvalue(r, 0, 0)) > w[0] ? (size_t)atoi(PQgetvalue(r, 0, 0)) : w[0];
	w[1] = (size_t)atoi(PQgetvalue(r, 0, 1)) > w[1] ? (size_t)atoi(PQgetvalue(r, 0, 1)) : w[1];
	w[7] = (size_t)atoi(PQgetvalue(r, 0, 2)) > w[7] ? (size_t)atoi(PQgetvalue(r, 0, 2)) : w[7];
	PQclear(r);
	return 0;
}

static void list_open(bool json, const size_t w[LIST_NCOL])
{
	if (json) {
		printf("[");
		return;
	}
	for (size_t c = 0; c + 1 < LIST_NCOL; c++)
		printf("%-*s  ", (int)w[c], list_head[c]);
	printf("%s\n", list_head[LIST_NCOL - 1]);
}

int cmd_list(const struct ctl_args *a, struct rz_config *cfg)
{
	char sql[1024];
	const char *param[1] = { a->state }, *where = "";
	size_t w[LIST_NCOL];
	PGconn *db = NULL;
	PGresult *r;
	bool first = true, bad = false;
	int rc, n = 0, k = -1, row = 0;

	if (a->state != NULL)
		k = name_index(list_state_names, a->state);    /* checked by check_values() */
	if (k >= 0) {
		where = list_state_where[k].where;
		n = list_state_where[k].n_params;
	}
	snprintf(sql, sizeof(sql), "SELECT " RZ_STATE_COLS " " STATE_FROM "%s ORDER BY s.domain, s.service",
	         where);
	if ((rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	if (!a->json && list_widths(db, where, n, param, w) != 0)
		goto out;
	/* one row at a time (libpq's single-row mode): constant memory */
	if (!PQsendQueryParams(db, sql, n, NULL, param, NULL, NULL, 0) || !PQsetSingleRowMode(db)) {
		fprintf(stderr, "regzonectl: list: %s", PQerrorMessage(db));
		goto out;
	}
	while ((r = PQgetResult(db)) != NULL) {
		ExecStatusType t = PQresultStatus(r);
		struct rz_state st;

		if (t == PGRES_SINGLE_TUPLE && !bad) {
			if (rz_state_from_row(r, 0, 0, &st) != 0) {
				fprintf(stderr, "regzonectl: list: a state regzone does not know in row "
				        "%d\n", row);
				bad = true;
				PQclear(r);
				continue;
			}
			if (first)
				list_open(a->json, w);
			if (a->json) {
				json_t *j = rz_state_json(&st);
				char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;

				if (text == NULL) {
					fprintf(stderr, "regzonectl: out of memory\n");
					bad = true;
				} else {
					printf("%s%s", first ? "" : ",", text);
				}
				free(text);
				json_decref(j);
			} else {
				const char *v[LIST_NCOL];

				list_values(&st, v);
				list_row(v, w);
			}
			first = false;
			row++;
		} else if (t != PGRES_SINGLE_TUPLE && t != PGRES_TUPLES_OK) {
			const char *msg = PQresultErrorMessage(r);

			fprintf(stderr, "regzonectl: list: %.*s\n", (int)strcspn(msg, "\n"), msg);
			bad = true;
		}
		PQclear(r);
	}
	/* the header (or "[") with the first row: a statement that fails at
	 * once prints nothing on stdout but the error on stderr */
	if (!bad && first)
		list_open(a->json, w);
	if (!bad && a->json)
		printf("]\n");
	rc = !bad && fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	PQfinish(db);
	return rc;
}

/* Whether domain has a services row: 1, 0, or -1 (message printed). */
static int domain_known(PGconn *db, const char *domain)
{
	const char *p[1] = { domain };
	PGresult *r = db_run(db, "services", "SELECT 1 FROM services WHERE domain = $1 LIMIT 1",
	                     1, p, PGRES_TUPLES_OK);
	int known;

	if (r == NULL)
		return -1;
	known = PQntuples(r) > 0;
	PQclear(r);
	return known;
}

static int logs_json(const PGresult *r)
{
	json_t *arr = json_array(), *detail;
	int rc = EXIT_REFUSED;

	if (arr == NULL)
		goto oom;
	for (int i = 0; i < PQntuples(r); i++) {
		json_error_t je;

		detail = NULL;
		if (!PQgetisnull(r, i, 4) &&
		    (detail = json_loads(PQgetvalue(r, i, 4), JSON_DECODE_ANY, &je)) == NULL) {
			fprintf(stderr, "regzonectl: audit row %d: detail is not JSON: %s\n", i, je.text);
			goto out;
		}
		if (json_array_append_new(arr, json_pack("{s:s, s:s, s:s?, s:s, s:o?}",
		                          "at", PQgetvalue(r, i, 0), "kind", PQgetvalue(r, i, 1),
		                          "event_id", PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2),
		                          "message", PQgetvalue(r, i, 3), "detail", detail)) != 0)
			goto oom;
	}
	rc = print_json(arr);
	goto out;
oom:
	fprintf(stderr, "regzonectl: out of memory\n");
out:
	json_decref(arr);
	return rc;
}

/* logs DOMAIN: the audit trail, oldest first. */
int cmd_logs(const struct ctl_args *a, struct rz_config *cfg)
{
	char domain[ZG_OWNER_SIZE];
	const char *p[1] = { domain };
	PGconn *db = NULL;
	PGresult *r = NULL;
	int rc, n, known;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK || (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	rc = EXIT_REFUSED;
	r = db_run(db, "audit", "SELECT " SQL_TS_MS("at") ", kind, event_id, message, detail::text "
	           "FROM audit WHERE domain = $1 ORDER BY id", 1, p, PGRES_TUPLES_OK);
	if (r == NULL)
		goto out;
	n = PQntuples(r);
	if (n == 0) {
		if ((known = domain_known(db, domain)) < 0)
			goto out;
		if (!known) {
			fprintf(stderr, "regzonectl: no such domain: %s\n", domain);
			goto out;
		}
	}
	if (a->json) {
		rc = logs_json(r);
		goto out;
	}
	for (int i = 0; i < n; i++) {
		put_safe(stdout, PQgetvalue(r, i, 0));
		printf(" ");
		put_safe(stdout, PQgetvalue(r, i, 1));
		if (!PQgetisnull(r, i, 2)) {
			printf(" [");
			put_safe(stdout, PQgetvalue(r, i, 2));
			printf("]");
		}
		printf(" ");
		put_safe(stdout, PQgetvalue(r, i, 3));
		printf("\n");
	}
	rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
out:
	PQclear(r);
	PQfinish(db);
	return rc;
}

/* retry DOMAIN: every service of it tried again now (store_retry()). */
int cmd_retry(const struct ctl_args *a, struct rz_config *cfg)
{
	struct store_retry_service svc[STORE_RETRY_MAX_SERVICES];
	char domain[ZG_OWNER_SIZE], user[320], err[1024];
	PGconn *db = NULL;
	size_t n = 0;
	int rc, ret;

	if ((rc = arg_domain(a->pos[0], domain)) != EXIT_OK || (rc = db_open(cfg, &db)) != EXIT_OK)
		return rc;
	user_name(user, sizeof(user));
	ret = store_retry(db, domain, user, svc, STORE_RETRY_MAX_SERVICES, &n, err, sizeof(err));
	PQfinish(db);
	if (ret != 0) {
		fprintf(stderr, "regzonectl: %s\n", err);
		return EXIT_REFUSED;
	}
	/* What was done, once it is committed. */
	for (size_t i = 0; i < n; i++) {
		const char *sep = "";

		printf("%s (", domain);
		put_safe(stdout, svc[i].service);
		printf("):");
		if (svc[i].reset) {
			printf(" dns %s -> %s", rz_dns_name(svc[i].dns_from), rz_dns_name(svc[i].dns_to));
			sep = ";";
		}
		for (size_t k = 0; k < svc[i].n_due; k++) {
			printf("%s%s%s", k == 0 ? sep : ",", k == 0 ? " jobs due now: " : " ",
			       rz_kind_name(svc[i].due[k]));
			sep = ";";
		}
		for (size_t k = 0; k < svc[i].n_running; k++) {
			printf("%s%s%s", k == 0 ? sep : ",", k == 0 ? " running, left alone: " : " ",
			       rz_kind_name(svc[i].running[k]));
			sep = ";";
		}
		if (svc[i].n_due == 0 && !svc[i].reset)
			printf("%s nothing was waiting", sep);
		printf("\n");
	}
	printf("retry recorded in the audit trail; regzoned's workers notified (rz_jobs)\n");
	return fflush(stdout) == 0 ? EXIT_OK : EXIT_REFUSED;
}
