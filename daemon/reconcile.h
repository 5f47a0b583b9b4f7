/*
 * reconcile.h - the steps of a dns job: drive what Knot serves toward the
 * desired state.
 *
 *   publish --> verify --> (parked: published)
 *      |           \-- not on every server yet: verify again, growing delay
 *      \-- a customer's record clashes: parked, dns = conflict
 *   remove --> verify_removed --> (parked: removed)
 *
 * Every step is idempotent and persisted before the next one starts, so a
 * crash anywhere resumes from PostgreSQL.  Waiting is the job's
 * next_attempt_at, never a sleeping thread.  Writes go through publish.h.
 */
#ifndef RZ_RECONCILE_H
#define RZ_RECONCILE_H

#include "daemon/step.h"
#include "daemon/store.h"

/* Run the claimed dns job's current step (jobs.h dispatches here).  Never
 * fails: failures become a result that retries with backoff; a step that
 * does not serve the job's desired state (the event that changed it also
 * rescheduled the job) goes to the one that does. */
void rz_dns_step(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o);

/* The steps of n claimed dns jobs into o[] (initialised here), as
 * rz_dns_step() runs each; their publish steps write as one batch. */
void rz_dns_steps(const struct rz_step_ctx *x, const struct rz_job *jobs, size_t n,
                  struct rz_step_out *o);

#endif
