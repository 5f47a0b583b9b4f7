/*
 * instr.c - the daemon's metrics (see instr.h).
 */
#include <stddef.h>

#include "daemon/instr.h"
#include "daemon/log.h"

struct rz_instr rz_instr;

/* Request handling: 0.5 ms .. 5 s. */
static const double fast_bounds[] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};
/* A request's effect: 50 ms .. 1 h. */
static const double slow_bounds[] = {
	0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct rz_metric *must(struct rz_metric *m, const char *name)
{
	if (m == NULL)
		rz_log(RZ_LOG_WARN, "metrics: %s not registered", name);
	return m;
}

void rz_instr_init(void)
{
	struct rz_instr *i = &rz_instr;

#define C(f, name, help, l1, l2) i->f = must(rz_metric_counter(name, help, l1, l2), name)
#define G(f, name, help, l1, l2) i->f = must(rz_metric_gauge(name, help, l1, l2), name)
#define H(f, name, help, b) i->f = must(rz_metric_histogram(name, help, b, N(b), NULL, NULL), name)
	C(requests, "regzone_requests_total", "Requests answered, by action and reply code.",
	  "action", "code");
	H(intake_seconds, "regzone_intake_seconds",
	  "Time from a request's arrival to its reply (after COMMIT for changes).", fast_bounds);
	H(publication_seconds, "regzone_publication_seconds",
	  "Time from an enable to its records served by every authoritative server.",
	  slow_bounds);
	H(issuance_seconds, "regzone_issuance_seconds",
	  "Time from an enable to its certificate in place (the service active).", slow_bounds);
	C(steps, "regzone_steps_total", "Job steps run, by kind and step.", "kind", "step");
	C(step_retries, "regzone_step_retries_total",
	  "Job steps that end to run again later: a failure (backoff) or a check not met yet "
	  "(propagation, the CA, a busy zone), by kind and step.", "kind", "step");
	C(knot_txns, "regzone_knot_transactions_total",
	  "Knot control transactions on zones, by outcome.", "outcome", NULL);
	C(knot_batches, "regzone_knot_batches_total",
	  "Control sessions that wrote a batch of zones (a block per command for all).", NULL,
	  NULL);
	C(knot_batch_zones, "regzone_knot_batch_zones_total",
	  "Zone transactions written in those batches (divided by the batches: their size).",
	  NULL, NULL);
	C(dns_checks, "regzone_dns_checks_total",
	  "Checks of what an authoritative server serves, by server and outcome.", "server",
	  "outcome");
	C(acme_requests, "regzone_acme_requests_total",
	  "Requests to the ACME CA, by endpoint and HTTP status (0: no reply).", "endpoint",
	  "status");
	C(acme_bad_nonce, "regzone_acme_bad_nonce_retries_total",
	  "ACME requests signed again after a badNonce.", NULL, NULL);
	G(budget_remaining, "regzone_acme_budget_remaining",
	  "Orders (or validations) left in each rate limit's window at the last order.", "limit",
	  NULL);
	C(hook_runs, "regzone_hook_runs_total", "Deploy hook runs, by action and outcome.",
	  "action", "outcome");
	C(retention_deleted, "regzone_retention_deleted_total",
	  "Rows deleted because they were older than their retention, by table.", "table", NULL);
#undef C
#undef G
#undef H
}
