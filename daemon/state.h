/*
 * state.h - one service's state, as everything outside regzoned sees it
 * (DESIGN.md "State object"): status replies, the PUB feed, "regzonectl
 * status --json" and "list --json", read from PostgreSQL by one select list.
 *
 *   {"domain","service","desired","dns",
 *    "certificate":{"state","not_after","serial"},"active","last_error",
 *    "updated_at","primary"}
 *
 * "primary" (the Knot primary serving the domain's zone) came later: it is
 * written only when known (not for a service that never was), and the
 * reader takes it when there.
 *
 * The three state words are enums here and names on the wire and in SQL;
 * one table per enum gives both directions.  regzoned writes the object
 * (rz_state_json), regzonectl reads it back strictly (rz_state_from_json),
 * and both read the same columns (RZ_STATE_COLS, rz_state_from_row).
 */
#ifndef RZ_STATE_H
#define RZ_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "zonegen/zonegen.h"

#define RZ_SERVICE_MAX 32        /* "xmpp", "mail": [a-z][a-z0-9-]* */
#define RZ_STATE_ERROR_MAX 2048  /* last_error kept (longer ones are cut) */

enum rz_desired { RZ_DESIRED_ENABLED, RZ_DESIRED_DISABLED, RZ_DESIRED__MAX };
enum rz_dns {
	RZ_DNS_PENDING, RZ_DNS_PUBLISHED, RZ_DNS_CONFLICT, RZ_DNS_REMOVING, RZ_DNS_REMOVED,
	RZ_DNS_ERROR, RZ_DNS__MAX
};
enum rz_cert {
	RZ_CERT_NONE, RZ_CERT_ORDERING, RZ_CERT_ISSUED, RZ_CERT_RENEWING, RZ_CERT_FAILED,
	RZ_CERT__MAX
};

/* Names ("enabled", "published", "issued", ...); NULL out of range. */
const char *rz_desired_name(enum rz_desired v);
const char *rz_dns_name(enum rz_dns v);
const char *rz_cert_name(enum rz_cert v);
/* From an exact name: 0, or RZ_ENOENT. */
int rz_desired_from_name(const char *s, enum rz_desired *out);
int rz_dns_from_name(const char *s, enum rz_dns *out);
int rz_cert_from_name(const char *s, enum rz_cert *out);

struct rz_state {
	char domain[ZG_OWNER_SIZE];
	char service[RZ_SERVICE_MAX + 1];
	enum rz_desired desired;
	enum rz_dns dns;
	enum rz_cert cert;
	char not_after[40];      /* RFC 3339; "" = null */
	char serial[130];        /* hex; "" = null */
	bool active;
	char last_error[RZ_STATE_ERROR_MAX];   /* "" = null */
	char updated_at[40];     /* RFC 3339; "" = null */
	char primary[40];        /* Knot primary (services.knot_primary); "" = null */
};

/* A JSON string of the first max bytes of s (up to its NUL); bytes that
 * are not valid UTF-8 make it fall back to printable ASCII.  "" gives null
 * when empty_null.  A new reference, NULL when out of memory. */
json_t *rz_json_text(const char *s, size_t max, bool empty_null);

/*
 * String member key of object o into buf (len bytes): null accepted (as
 * "") only when nullable; a value with a NUL inside is refused, one that
 * does not fit is refused unless cut.  0, or RZ_EINVAL with the reason in
 * err.
 */
int rz_json_take_str(const json_t *o, const char *key, bool nullable, bool cut, char *buf,
                     size_t len, char *err, size_t errlen);

/* The state of a service that never was: disabled, removed, none. */
void rz_state_absent(const char *domain, const char *service, struct rz_state *s);

/* The object above as a new reference (json_decref it), or NULL when out
 * of memory.  Bytes that are not valid UTF-8 become printable ASCII. */
json_t *rz_state_json(const struct rz_state *s);

/*
 * Read a state object strictly (a client of regzoned): every member there
 * with its type, the three words from their tables, the domain in normal
 * form; a last_error too long is cut, anything else too long is refused.
 * 0, or RZ_EINVAL with the reason in err (s then holds nothing useful).
 */
int rz_state_from_json(const json_t *o, struct rz_state *s, char *err, size_t errlen);

/*
 * The columns a state is read from, for "SELECT " RZ_STATE_COLS " FROM
 * services s " RZ_STATE_CERT: the service row as s, its current certificate
 * that is not revoked joined as ce.
 */
#define RZ_STATE_COLS \
	"s.domain, s.service, s.desired, s.dns, s.cert_state, " \
	"coalesce(to_char(ce.not_after AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), " \
	"coalesce(ce.serial, ''), s.active, coalesce(s.last_error, ''), " \
	"to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), " \
	"s.knot_primary"
#define RZ_STATE_NCOLS 11
#define RZ_STATE_CERT \
	"LEFT JOIN LATERAL (SELECT not_after, serial FROM certificates " \
	"WHERE domain = s.domain AND service = s.service AND revoked_at IS NULL " \
	"ORDER BY id DESC LIMIT 1) ce ON true "

/* Row `row` of r, its RZ_STATE_COLS starting at column col, into *s.  0, or
 * RZ_EDB when a column is missing or a state word is not one regzone knows
 * (a database written by something else). */
int rz_state_from_row(const PGresult *r, int row, int col, struct rz_state *s);

#endif
