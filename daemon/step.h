/*
 * step.h - what every job step shares: the job kinds and step names as
 * enums (names in PostgreSQL's jobs.kind and jobs.step), how a step ends
 * (struct rz_step_out, persisted by store_job_finish()), and the timing
 * rules (backoff, propagation-check delays, jitter).  A leaf: it includes
 * no other daemon module but the state words.
 */
#ifndef RZ_STEP_H
#define RZ_STEP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "daemon/state.h"

struct rz_config;

struct rz_primaries;

/* What a step runs with: the configuration, the Knot primaries (each with
 * the lock that serialises the worker threads' use of its control socket:
 * primaries.h), and the worker's own database connection. */
struct rz_step_ctx {
	const struct rz_config *cfg;
	struct rz_primaries *primaries;
	PGconn *db;
};

enum rz_kind { RZ_KIND_DNS, RZ_KIND_CERT, RZ_KIND__MAX };

/*
 * Every step name, of both kinds: a dns job publishes, verifies, removes
 * and verifies the removal; a cert job orders, publishes and verifies its
 * challenge records, responds, polls, finalizes, downloads, cleans up,
 * verifies the cleanup, deploys, renews, removes.  RZ_STEP_NONE parks a
 * job (nothing left to do until an event or a renewal makes it due).
 */
enum rz_step {
	RZ_STEP_NONE = -1,
	RZ_STEP_PUBLISH, RZ_STEP_VERIFY, RZ_STEP_REMOVE, RZ_STEP_VERIFY_REMOVED,
	RZ_STEP_ORDER, RZ_STEP_RESPOND, RZ_STEP_POLL, RZ_STEP_FINALIZE, RZ_STEP_DOWNLOAD,
	RZ_STEP_CLEANUP, RZ_STEP_VERIFY_CLEAN, RZ_STEP_DEPLOY, RZ_STEP_RENEW,
	RZ_STEP__MAX
};

/* Names ("dns", "verify_removed", ...); NULL out of range (and for NONE). */
const char *rz_kind_name(enum rz_kind k);
const char *rz_step_name(enum rz_step s);
/* From an exact name: 0, or RZ_ENOENT. */
int rz_kind_from_name(const char *name, enum rz_kind *out);
int rz_step_from_name(const char *name, enum rz_step *out);

/* A cert job's steps while its order is in flight at the CA (what
 * acme.concurrency counts), as a function and as an SQL list. */
bool rz_step_in_flight(enum rz_kind k, enum rz_step s);
#define RZ_CERT_INFLIGHT_SQL "'publish', 'verify', 'respond', 'poll', 'finalize', 'download'"

/* What a step does to services.active. */
enum rz_active {
	RZ_ACTIVE_KEEP,      /* leave it */
	RZ_ACTIVE_NO,
	RZ_ACTIVE_YES,
	RZ_ACTIVE_IF_CERT,   /* the records published and a certificate in place:
	                        issued, being renewed, or a renewal that failed while
	                        the previous certificate still serves */
	RZ_ACTIVE__MAX
};
#define RZ_KEEP (-1)         /* dns, cert: leave them */

/* How a step ended, for store_job_finish(). */
struct rz_step_result {
	enum rz_step next_step;  /* RZ_STEP_NONE: park the job */
	double delay_s;          /* next attempt after this many seconds */
	bool failed;             /* counts as a failure (attempts + 1) */
	int dns;                 /* new services.dns (enum rz_dns), or RZ_KEEP */
	int cert;                /* new services.cert_state (enum rz_cert), or RZ_KEEP */
	enum rz_active active;
	const char *last_error;  /* NULL clears it */
	const char *state_json;  /* step data for the next step, or NULL to keep */
	const char *audit_kind;  /* one audit line for the step, or NULL */
	const char *audit_msg;
	bool arm_cert;           /* create the cert job, or make a parked one due */
};

/* A step's result with the strings it points to. */
struct rz_step_out {
	struct rz_step_result res;
	char last_error[2600];
	char audit[4096];
	char *state_json;        /* malloc'ed or NULL; free with rz_step_out_clear() */
};

/* Keep everything, park after 0 s: fill in what changes. */
void rz_step_out_init(struct rz_step_out *o);
void rz_step_out_clear(struct rz_step_out *o);
/* Set next step, delay, and the step data (a copy of json, when not NULL). */
void rz_step_go(struct rz_step_out *o, enum rz_step next, double delay, const char *json);

/*
 * Delay before retry number attempts (1 = first retry) of a failed step:
 * base * 2^(attempts-1), at most cap, then spread by jitter in [0,1)
 * over +-25% so that many domains failing together do not retry together.
 */
double rz_backoff(int attempts, double base, double cap, double jitter);

/* Delay before the next propagation check after polls checks: 50 ms
 * growing by half to 250 ms for the first dozen, then up to 2 s. */
double rz_check_delay(int polls);

/* A uniform number in [0, 1) (random(); seeded once by regzoned). */
double rz_jitter(void);

#endif
