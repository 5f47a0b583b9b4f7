/*
 * store.h - the daemon's PostgreSQL operations.  Every value goes through
 * PQexecParams (or a statement prepared from it).  Each function that
 * writes does so in one transaction and returns RZ_EDB with "database:
 * <the server's first line>" in err on any database failure, with the
 * transaction rolled back; its result must be checked (RZ_MUSTCHECK).
 *
 *   store.c         the statement runner, a service's state, audit lines
 *   store_intake.c  a batch of checked requests, in one transaction
 *   store_jobs.c    jobs: claimed, finished, released; order slots; retry
 *   store_ledger.c  the ledger, the zones' advisory locks, Knot intents
 *   store_retention.c  old rows of the tables that only grow, in batches
 */
#ifndef RZ_STORE_H
#define RZ_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "daemon/request.h"
#include "daemon/rz_err.h"
#include "daemon/state.h"
#include "daemon/step.h"
#include "zonegen/knot.h"

/* ---- store.c -------------------------------------------------------- */

/* One parameterised statement (prepared once per connection and kept):
 * 0 with the result in *out (when out is not NULL; PQclear() it), or
 * RZ_EDB with "database: ..." in err. */
RZ_MUSTCHECK
int store_sql(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out,
              char *err, size_t errlen);

/* A PostgreSQL text[] literal of n strings (NULL elements are NULL), for a
 * $n::text[] parameter: every element quoted, '"' and '\\' escaped.
 * malloc'ed; NULL when out of memory. */
char *store_text_array(const char *const *vals, size_t n);

/* The state of (domain, service); a domain never enabled reads as
 * desired=disabled, dns=removed.  *found says which. */
RZ_MUSTCHECK
int store_state(PGconn *c, const char *domain, const char *service, struct rz_state *st,
                bool *found, char *err, size_t errlen);

/* One audit line (kind: event|step|record_added|record_removed|error|acme|
 * hook|state|wait); detail_json may be NULL. */
RZ_MUSTCHECK
int store_audit(PGconn *c, const char *domain, const char *service, const char *event_id,
                const char *kind, const char *message, const char *detail_json,
                char *err, size_t errlen);

/* ---- store_intake.c ------------------------------------------------- */

/* One request of an intake batch. */
struct store_intake_item {
	const struct rz_req *req;    /* enable, disable or renew, checked */
	const char *zone;            /* Knot zone holding the domain (enable) */
	const char *primary;         /* the Knot primary serving it (enable) */
	char *reply;                 /* out: malloc'ed JSON reply */
	bool replayed;               /* out: the id was stored before */
	bool changed;                /* out: the desired state changed (publish st) */
	struct rz_state st;          /* out: the state after it */
};

/* A service of a domain, as stored (store_services_enabled()). */
struct store_svc {
	char domain[ZG_OWNER_SIZE];
	char service[RZ_SERVICE_MAX + 1];
	char profile[RZ_PROFILE_MAX + 1];
	char *params_json;           /* malloc'ed */
};

/* The enabled services of these domains: *out (malloc'ed, free with
 * store_svcs_free()), *n_out of them. */
RZ_MUSTCHECK
int store_services_enabled(PGconn *c, const char *const *domains, size_t n,
                           struct store_svc **out, size_t *n_out, char *err, size_t errlen);
void store_svcs_free(struct store_svc *s, size_t n);

/* Prepare the intake's statements on a new connection. */
RZ_MUSTCHECK
int store_intake_prepare(PGconn *c, char *err, size_t errlen);

/*
 * Store a batch of checked requests in one transaction and compute their
 * replies: replays get their first reply back (or bad_request when the
 * same id comes with another body) and change nothing; the others change
 * the desired state and their job, and store the event with its reply and
 * an audit line; one NOTIFY wakes the workers.  Ids must be distinct within
 * a batch.  On failure nothing is stored, no item has a reply, and the
 * caller may try the items one by one to isolate the one at fault.
 */
RZ_MUSTCHECK
int store_intake_batch(PGconn *c, struct store_intake_item *items, size_t n,
                       char *err, size_t errlen);

/* ---- store_jobs.c --------------------------------------------------- */

/* One claimed job and what it needs. */
struct rz_job {
	long long id;
	char domain[ZG_OWNER_SIZE];
	char service[RZ_SERVICE_MAX + 1];
	enum rz_kind kind;
	enum rz_step step;       /* RZ_STEP_NONE when step_name is not one we know */
	char step_name[32];      /* as stored, for messages */
	long long generation;
	int attempts;            /* failures so far in this step */
	double step_age;         /* seconds since this step first ran */
	double desired_age;      /* seconds since the request that set desired */
	char zone[ZG_OWNER_SIZE];
	char primary[RZ_PRIMARY_NAME_MAX + 1];   /* services.knot_primary */
	char profile[RZ_PROFILE_MAX + 1];
	enum rz_desired desired;
	char *params_json;       /* owned */
	char *state_json;        /* owned: step data */
};

void rz_job_clear(struct rz_job *j);

/* The most jobs one claim takes (a dns job and the others of its step). */
#define RZ_CLAIM_MAX 32

/* Claim the most urgent due job (FOR UPDATE SKIP LOCKED): a free one, or
 * with dead set one whose claimer's PostgreSQL session is gone.  A free dns
 * job comes with up to max-1 other due dns jobs of the same step and
 * priority, to run as a batch.  *n of them into jobs[] (free each with
 * rz_job_clear()); 0 when there is none: then *next_s is the time until
 * the next free job is due (the same statement asks), or -1 when none is
 * scheduled. */
RZ_MUSTCHECK
int store_job_claim(PGconn *c, const char *worker, bool dead, struct rz_job *jobs, size_t max,
                    size_t *n, double *next_s, char *err, size_t errlen);

/* One claimed job's step outcome, for store_job_finish(). */
struct store_finish {
	const struct rz_job *job;
	const struct rz_step_result *res;
	bool stale;              /* out: the desired state changed meanwhile */
	bool changed;            /* out: the service's state changed ... */
	struct rz_state st;      /* ... to this (for the feed) */
};

/* Persist the steps' outcomes of n claimed jobs and release their claims
 * (one statement), except for a job whose desired state changed meanwhile
 * (generation): then only its claim is released and the newer work runs
 * next.  An order that leaves its in-flight steps wakes the order that
 * waits longest for a slot. */
RZ_MUSTCHECK
int store_job_finish(PGconn *c, struct store_finish *f, size_t n, char *err, size_t errlen);

/* A Knot primary answers again: the failed jobs of its services that wait
 * for a later retry of a step that writes or checks its zones (dns jobs,
 * the cert job's challenge records; never a wait on the CA) are made due
 * now, and the workers woken; *n of them. */
RZ_MUSTCHECK
int store_jobs_wake_primary(PGconn *c, const char *primary, long long *n, char *err,
                            size_t errlen);

/* Release every claim this connection holds (shutdown). */
RZ_MUSTCHECK
int store_release_claims(PGconn *c, char *err, size_t errlen);

/*
 * An order slot (acme.concurrency) for cert job job_id: the orders in
 * flight (the cert steps of RZ_CERT_INFLIGHT_SQL, and jobs at 'order' that
 * took a slot: step data "slot_held") are counted under a transaction-level
 * advisory lock, and when fewer than max the job's step data gets
 * "slot_held" in the same transaction.  *got says whether it did.
 */
RZ_MUSTCHECK
int store_cert_slot_take(PGconn *c, long long job_id, uint32_t max, bool *got,
                         char *err, size_t errlen);

/* What "regzonectl retry DOMAIN" did to one service of the domain. */
struct store_retry_service {
	char service[RZ_SERVICE_MAX + 1];
	bool reset;                  /* dns went from conflict/error to ... */
	enum rz_dns dns_from, dns_to;
	enum rz_kind due[RZ_KIND__MAX];       /* jobs made due now */
	size_t n_due;
	enum rz_kind running[RZ_KIND__MAX];   /* claimed by a worker: left alone */
	size_t n_running;
};
#define STORE_RETRY_MAX_SERVICES 16

/*
 * Try every service of domain again now, in one transaction: each job not
 * claimed is due now with its failures forgotten, a service in conflict or
 * error goes back to pending (or removing), an audit line per service names
 * user; the workers are notified.  out[] gets at most max services (*n).
 * 0, RZ_ENOENT (no service of that domain), RZ_EDB.
 */
RZ_MUSTCHECK
int store_retry(PGconn *c, const char *domain, const char *user,
                struct store_retry_service *out, size_t max, size_t *n,
                char *err, size_t errlen);

/* The jobs by kind and step: due now and free, claimed, waiting for a
 * later time (parked ones, next_attempt_at infinity, are in none). */
struct store_job_count {
	enum rz_kind kind;
	enum rz_step step;
	long long due, running, waiting;
};
#define STORE_JOB_COUNTS_MAX (RZ_KIND__MAX * RZ_STEP__MAX)

/* The services in trouble and at work: dns conflict or error, certificate
 * failed, active. */
struct store_service_count {
	long long dns_conflict, dns_error, cert_failed, active, total;
	/* enabled services' current certificates expiring within
	 * STORE_EXPIRY_DAYS[i] days (cumulative: expired ones in all); the
	 * last is every such certificate */
	long long expiring[6];
};
#define STORE_EXPIRY_DAYS { 0, 7, 14, 30, 60, -1 }   /* -1: any */

/* Both, for the daemon's status line and its metrics; rows of steps
 * regzone does not know are left out.  The certificates' expiry counts
 * (svc->expiring) only with expiry set (a look at every enabled service's
 * certificate: the costly part, 0.35 s at 10^5); left as they are
 * otherwise.  0 or RZ_EDB. */
RZ_MUSTCHECK
int store_counts(PGconn *c, struct store_job_count *jobs, size_t *n_jobs,
                 struct store_service_count *svc, bool expiry, char *err, size_t errlen);

/* ---- store_ledger.c ------------------------------------------------- */

/* The ledger: records regzone put into the zone for (domain, service) and
 * one purpose ("service": the profile's records, "acme": the
 * _acme-challenge TXT records of the cert job), not yet removed, pending
 * ones included.  *out malloc'ed. */
RZ_MUSTCHECK
int store_ledger_live(PGconn *c, const char *domain, const char *service,
                      const char *purpose, struct zg_krec **out, size_t *n,
                      char *err, size_t errlen);


/* The pending rows of several jobs (a batch of zones) in one statement. */
struct store_pending {
	const struct rz_job *job;
	const char *purpose;
	const struct zg_krec *recs;
	size_t n;
};
RZ_MUSTCHECK
int store_ledger_pending_many(PGconn *c, const struct store_pending *w, size_t n, char *err,
                              size_t errlen);

/* One job's records for store_ledger_settle_many(). */
struct store_settle {
	const struct rz_job *job;
	const struct zg_krec *want;
	size_t n_want;
	const struct zg_krec *removed;
	size_t n_removed;
};

/* store_ledger_settle() for the jobs of a batch, in one statement. */
RZ_MUSTCHECK
int store_ledger_settle_many(PGconn *c, const struct store_settle *s, size_t n, char *err,
                             size_t errlen);

/* After a commit: wanted records become 'live', removed ones get their
 * removed_at, and one audit line each. */
RZ_MUSTCHECK
int store_ledger_settle(PGconn *c, const struct rz_job *job,
                        const struct zg_krec *want, size_t n_want,
                        const struct zg_krec *removed, size_t n_removed,
                        char *err, size_t errlen);

/* Is each of recs (owner, type, data) a record regzone's ledger holds in
 * zone (live or pending)?  *all false names the first that is not in why. */
RZ_MUSTCHECK
int store_ledger_holds(PGconn *c, const char *zone, const struct zg_krec *recs, size_t n,
                       bool *all, char *why, size_t whylen, char *err, size_t errlen);

/*
 * A regzone writer's hold on a zone, in one statement each way: the zone's
 * session advisory lock (every daemon on the database) and, when it was
 * free (*got), the intent of the Knot transaction about to begin
 * (knot_txns, sql/004_knot_txns.sql), committed before zone-begin; after
 * the commit or abort, the intent (id 0: none) and the lock.  With dead
 * set the intents on the zone of sessions that are gone go too (a
 * zone-begin that succeeded showed that none of their transactions is
 * open).  store_zone_unlock releases the lock alone (after an error).
 */
RZ_MUSTCHECK
int store_zone_lock_intent(PGconn *c, const char *zone, long long job_id, bool *got,
                           long long *id, char *err, size_t errlen);
RZ_MUSTCHECK
int store_zone_unlock_done(PGconn *c, const char *zone, long long id, bool dead, char *err,
                           size_t errlen);
RZ_MUSTCHECK
int store_zone_unlock(PGconn *c, const char *zone);

/* How many intents on zone belong to PostgreSQL sessions that are gone (a
 * writer that died, its transaction perhaps still open in knotd). */
RZ_MUSTCHECK
int store_knot_txn_dead(PGconn *c, const char *zone, int *n_dead, char *err, size_t errlen);
/* Forget them (no transaction of theirs is open any more). */
RZ_MUSTCHECK
int store_knot_txn_forget_dead(PGconn *c, const char *zone, char *err, size_t errlen);
/* A zone-begin that got no answer (knotd stopped, its backlog full) may
 * still be run by knotd later: the intent is kept as a gone writer's, so
 * that the next writer may abort the transaction it left. */
RZ_MUSTCHECK
int store_knot_txn_abandon(PGconn *c, long long id, char *err, size_t errlen);

/* ---- store_retention.c ---------------------------------------------- */

/* The tables daemon/retention.c trims, in the order it trims them (an
 * order's certificates and budget events go before the order). */
enum store_trim {
	STORE_TRIM_EVENTS, STORE_TRIM_AUDIT, STORE_TRIM_ACME_EVENTS, STORE_TRIM_CERTIFICATES,
	STORE_TRIM_ACME_ORDERS, STORE_TRIM__MAX
};
#define STORE_TRIM_BATCH 1000   /* rows read (at most deleted) by one batch */

/* Where a walk through a table is: empty at the start. */
struct store_trim_cursor {
	char k1[64];
	char k2[RZ_REQ_ID_MAX + 1];
};

/* The table's name ("events", ...); NULL for an invalid value. */
const char *store_trim_name(enum store_trim t);
void store_trim_rewind(struct store_trim_cursor *cur);

/*
 * One batch, its own transaction: the next STORE_TRIM_BATCH rows of table t
 * after *cur (advanced) read through an index, those older than days (> 0)
 * deleted unless something live needs them (store_retention.c says what).
 * *done when the walk is past the old rows (*cur is then rewound).  0,
 * RZ_EINVAL (t invalid, days 0) or RZ_EDB.
 */
RZ_MUSTCHECK
int store_trim_batch(PGconn *c, enum store_trim t, uint32_t days, struct store_trim_cursor *cur,
                     long long *deleted, bool *done, char *err, size_t errlen);

/* One daemon trims at a time (a session advisory lock, gone with the
 * connection): *got whether this one may.  0 or RZ_EDB. */
RZ_MUSTCHECK
int store_trim_lock(PGconn *c, bool *got, char *err, size_t errlen);
RZ_MUSTCHECK
int store_trim_unlock(PGconn *c, char *err, size_t errlen);

#endif
