/*
 * jobs.c - a claimed job to its kind's steps.
 */
#include <stdbool.h>
#include <stdio.h>

#include "daemon/certs.h"
#include "daemon/jobs.h"
#include "daemon/log.h"
#include "daemon/reconcile.h"

void rz_job_run(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o)
{
	static void (*const kinds[RZ_KIND__MAX])(const struct rz_step_ctx *,
	                                          const struct rz_job *, struct rz_step_out *) = {
		[RZ_KIND_DNS] = rz_dns_step,
		[RZ_KIND_CERT] = rz_cert_step,
	};

	rz_step_out_init(o);
	if ((unsigned)job->kind >= RZ_KIND__MAX || job->step == RZ_STEP_NONE) {
		/* Written by another version of regzone, or by hand: retrying
		 * cannot help, so the job parks, its step kept, until an event or
		 * "regzonectl retry" makes it due again. */
		snprintf(o->last_error, sizeof(o->last_error), "unknown step '%s' of a %s job: "
		         "parked", job->step_name, rz_kind_name(job->kind) != NULL ?
		         rz_kind_name(job->kind) : "?");
		rz_step_go(o, RZ_STEP_NONE, 0, NULL);
		o->res.failed = true;
		o->res.last_error = o->last_error;
		o->res.audit_kind = "error";
		o->res.audit_msg = o->last_error;
		rz_log_zone(RZ_LOG_ERR, job->domain, "%s", o->last_error);
		return;
	}
	kinds[job->kind](x, job, o);
}

void rz_jobs_run(const struct rz_step_ctx *x, const struct rz_job *jobs, size_t n,
                 struct rz_step_out *o)
{
	bool dns = true;

	for (size_t i = 0; i < n; i++)
		dns &= jobs[i].kind == RZ_KIND_DNS && jobs[i].step != RZ_STEP_NONE;
	if (dns) {
		rz_dns_steps(x, jobs, n, o);
		return;
	}
	for (size_t i = 0; i < n; i++)
		rz_job_run(x, &jobs[i], &o[i]);
}
