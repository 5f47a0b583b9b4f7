/*
 * certstore.h - the cert job's rows in PostgreSQL: its orders
 * (acme_orders), the certificates it installed (certificates) and the
 * history the rate-limit budget counts (acme_events).  Every statement is
 * parameterised (store_sql()); each function is one statement, so one
 * implicit transaction.  0, or RZ_EDB with "database: ..." in err (RZ_ENOMEM
 * with "out of memory"); results must be checked.
 *
 * "The current certificate" of (domain, service) is the one installed last
 * that is not revoked: the one the hosting serves.
 */
#ifndef RZ_CERTSTORE_H
#define RZ_CERTSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <libpq-fe.h>

#include "acme/ari.h"
#include "acme/budget.h"
#include "daemon/rz_err.h"

/* The budget's history: every event of the last window_s seconds that can
 * count against an order for the registered domain reg. */
struct certstore_events {
	struct acme_event *ev;
	size_t n;
	/* what ev points into */
	PGresult *rows;
	char **split;
	const char ***names;
};

RZ_MUSTCHECK
int certstore_events(PGconn *db, uint32_t window_s, const char *reg,
                     struct certstore_events *out, char *err, size_t errlen);
void certstore_events_free(struct certstore_events *e);

/* A new order the CA created: its acme_orders row (pending) and its
 * 'order_created' event, together (the event taken before the CA was asked,
 * event_id, given the order and the time now; else a new one); *order_id
 * the row's id.  replaces may be NULL (not an ARI renewal). */
struct certstore_order {
	const char *domain, *service, *url, *reason;   /* reason: issue | renew */
	const char *const *names;
	size_t n_names;
	const char *account, *replaces, *reg_domain;
	long long event_id;          /* its unit of the budget taken before (0: none) */
};

RZ_MUSTCHECK
int certstore_order_new(PGconn *db, const struct certstore_order *o, long long *order_id,
                        char *err, size_t errlen);

/* The order's status as the job saw it last (valid, invalid, abandoned
 * finish it).  An order_id of 0 (none stored) is no row: 0. */
RZ_MUSTCHECK
int certstore_order_status(PGconn *db, long long order_id, const char *status, char *err,
                           size_t errlen);

/* Every unfinished order of (domain, service) abandoned (a disable). */
RZ_MUSTCHECK
int certstore_orders_abandon(PGconn *db, const char *domain, const char *service, char *err,
                             size_t errlen);

/* A failed validation of name, for the budget (order_id 0: unknown). */
RZ_MUSTCHECK
int certstore_validation_failed(PGconn *db, const char *domain, const char *reg_domain,
                                const char *name, long long order_id, char *err,
                                size_t errlen);

/* A certificate installed: its row and its 'cert_issued' event, once per
 * (serial, issuer) however often a restart comes back. */
struct certstore_cert {
	const char *domain, *service, *serial, *issuer, *profile, *chain_pem;
	const char *const *names;
	size_t n_names;
	long long order_id;          /* 0: none */
	time_t not_before, not_after;
	const char *ari_cert_id;     /* NULL when it has none */
	const char *key_path, *chain_path, *key_type, *reg_domain;
};

RZ_MUSTCHECK
int certstore_cert_add(PGconn *db, const struct certstore_cert *c, char *err, size_t errlen);

/* The current certificate, as the renewal and the revocation read it. */
struct certstore_current {
	long long id;
	time_t not_before, not_after;
	char ari_cert_id[ACME_ARI_CERT_ID_SIZE];     /* "" when none */
	char **names;                /* malloc'ed, n_names */
	size_t n_names;
	char *chain_pem;             /* malloc'ed */
};

/* *found false when there is none (then *cur is empty). */
RZ_MUSTCHECK
int certstore_current(PGconn *db, const char *domain, const char *service,
                      struct certstore_current *cur, bool *found, char *err, size_t errlen);
void certstore_current_free(struct certstore_current *cur);

/* The current certificate deployed: hook_status the deploy hook's exit
 * status (-1: it did not finish in time) or NULL when no hook is
 * configured (then deployed_at only); renew_after (0: left as it is). */
RZ_MUSTCHECK
int certstore_deployed(PGconn *db, const char *domain, const char *service,
                       const int *hook_status, time_t renew_after, char *err, size_t errlen);

/* Certificate cert_id revoked now. */
RZ_MUSTCHECK
int certstore_revoked(PGconn *db, long long cert_id, char *err, size_t errlen);

#endif
