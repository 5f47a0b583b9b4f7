/*
 * instr.h - the daemon's metrics (metrics.h), one handle each, registered
 * once at start by rz_instr_init().  Without it (regzonectl, the tests)
 * every handle is NULL and counting costs a NULL test.
 *
 * Names follow Prometheus' conventions; labels take values from small
 * fixed sets (actions, reply codes, kinds, steps, outcomes, the configured
 * servers, ACME endpoint names and HTTP statuses).
 */
#ifndef RZ_INSTR_H
#define RZ_INSTR_H

#include "daemon/metrics.h"

struct rz_instr {
	struct rz_metric *requests;             /* regzone_requests_total{action,code} */
	struct rz_metric *intake_seconds;       /* request received -> reply sent */
	struct rz_metric *publication_seconds;  /* enable -> records on every server */
	struct rz_metric *issuance_seconds;     /* enable -> certificate in place */
	struct rz_metric *steps;                /* regzone_steps_total{kind,step} */
	struct rz_metric *step_retries;         /* regzone_step_retries_total{kind,step} */
	struct rz_metric *knot_txns;            /* regzone_knot_transactions_total{outcome} */
	struct rz_metric *knot_batches;         /* regzone_knot_batches_total */
	struct rz_metric *knot_batch_zones;     /* regzone_knot_batch_zones_total */
	struct rz_metric *dns_checks;           /* regzone_dns_checks_total{server,outcome} */
	struct rz_metric *acme_requests;        /* regzone_acme_requests_total{endpoint,status} */
	struct rz_metric *acme_bad_nonce;       /* regzone_acme_bad_nonce_retries_total */
	struct rz_metric *budget_remaining;     /* regzone_acme_budget_remaining{limit} */
	struct rz_metric *hook_runs;            /* regzone_hook_runs_total{action,outcome} */
	struct rz_metric *retention_deleted;    /* regzone_retention_deleted_total{table} */
};

extern struct rz_instr rz_instr;

/* Register every metric above (after rz_metrics_init()); one that cannot
 * be registered stays NULL (logged). */
void rz_instr_init(void);

#endif
