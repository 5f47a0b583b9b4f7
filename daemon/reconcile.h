/*
 * reconcile.h - one step of a job: drive what Knot serves toward the
 * desired state.  Steps of a "dns" job:
 *
 *   publish --> verify --> (parked: published)
 *      |           \-- not on every server yet: verify again, growing delay
 *      \-- a customer's record clashes: parked, dns = conflict
 *   remove --> verify_removed --> (parked: removed)
 *
 * Every step is idempotent and persisted before the next one starts, so a
 * crash anywhere resumes from PostgreSQL.  Waiting is the job's
 * next_attempt_at, never a sleeping thread.
 */
#ifndef RZ_RECONCILE_H
#define RZ_RECONCILE_H

#include <pthread.h>
#include <libpq-fe.h>

#include "daemon/config.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

/* What a step leaves for store_job_finish(); strings live in the struct. */
struct rz_step_out {
	struct rz_step_result res;
	char last_error[2600];
	char audit[4096];
	char *state_json;        /* malloc'ed or NULL */
};

/* Run the claimed job's current step.  Never fails: failures become a
 * result that retries with backoff.  knot_lock serialises this process's
 * use of knotd's control socket (knotd serves one connection at a time).
 * Free out->state_json after use. */
void rz_step_run(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                 const struct rz_job *job, struct rz_step_out *out);

/*
 * Delay before retry number attempts (1 = first retry) of a failed step:
 * base * 2^(attempts-1), at most cap, then spread by jitter in [0,1)
 * over +-25% so that many domains failing together do not retry together.
 */
double rz_backoff(int attempts, double base, double cap, double jitter);

/*
 * One Knot transaction on the job's zone (the zone's advisory lock and
 * knot_lock held around it): read the owners concerned, plan want against
 * what is there and what the ledger says regzone owns (owned), write
 * 'pending' ledger rows of purpose ("service" or "acme") for what is set,
 * set/unset, commit.  Every write regzone makes into a zone goes through
 * here.  RZ_EAGAIN: another regzone worker has the zone; RZ_EBUSY: a
 * transaction is open on it; RZ_ECONFLICT: plan->conflict says why.
 */
int rz_knot_apply(const struct rz_config *cfg, pthread_mutex_t *knot_lock, PGconn *db,
                  const struct rz_job *job, const char *purpose,
                  const struct zg_krec *want, size_t n_want, const struct zg_krec *owned,
                  size_t n_owned, struct zg_plan *plan, char **diff,
                  char *err, size_t errlen);

/* Delay before the next propagation check: 50 ms, growing by half each
 * time, at most 2 s. */
double rz_check_delay(int polls);

#endif
