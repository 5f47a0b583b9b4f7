/*
 * jobs.h - the one place that knows every kind of job: a claimed job's
 * step goes to the dns steps (reconcile.h) or the cert steps (certs.h).
 */
#ifndef RZ_JOBS_H
#define RZ_JOBS_H

#include "daemon/step.h"
#include "daemon/store.h"

/* Run the claimed job's current step into *o (initialised here; free it
 * with rz_step_out_clear()).  Never fails: an unknown kind or step becomes
 * a failure that retries with backoff and says so. */
void rz_job_run(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o);

/* The steps of n claimed jobs into o[0..n-1], as rz_job_run() does each:
 * dns jobs of one step that writes their zones go to knotd as one batch
 * (rz_dns_publish_many). */
void rz_jobs_run(const struct rz_step_ctx *x, const struct rz_job *jobs, size_t n,
                 struct rz_step_out *o);

#endif
