/*
 * publish.h - every write regzone makes into a zone, and the check that
 * the authoritative servers serve it: the path the dns job (the profile's
 * records) and the cert job (its _acme-challenge TXT records) share.
 *
 * A write is one Knot transaction on the job's zone, with the zone's
 * advisory lock held around it (one regzone writer per zone, across
 * daemons): the writer's intent recorded (knot_txns, in the statement that
 * takes the lock), zone-begin, the owners concerned read, the plan made
 * against what is there and what the ledger says regzone owns, 'pending'
 * ledger rows written, set and unset, commit; abort on any error, an error
 * item inside a reply included.  The writes of several workers to one
 * primary go together, in a batch on one control connection (knotq.h,
 * primaries.h): one block per command for all their zones, the pending
 * rows of all in one statement, each zone still its own transaction with
 * its own outcome (a conflict or a failure in one leaves the others to
 * commit).  A transaction already open on the zone is
 * aborted only when it is provably regzone's own (a writer that died
 * recorded it, and it holds nothing but ledger records); any other is
 * waited for (RZ_EBUSY, "zone busy: ..." in err).
 */
#ifndef RZ_PUBLISH_H
#define RZ_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/rz_err.h"
#include "daemon/step.h"
#include "daemon/store.h"
#include "zonegen/knot.h"

/*
 * The Knot transaction above: want (may be empty: a removal) against
 * owned (the ledger's live records of purpose "service" or "acme").
 * 0 with *plan (what was set, unset, kept) and *diff (malloc'ed), or
 *   RZ_EAGAIN    another regzone worker has the zone: again soon
 *   RZ_EBUSY     a transaction that is not regzone's is open on it
 *   RZ_ECONFLICT a customer's record clashes: plan->conflict says which
 *   RZ_ENOZONE   knotd does not serve the zone (any more)
 *   RZ_EIO, RZ_EKNOT, RZ_EDB, RZ_ENOMEM with err.
 * *plan is cleared on failure, except for RZ_ECONFLICT.
 */
RZ_MUSTCHECK
int rz_publish_apply(const struct rz_step_ctx *x, const struct rz_job *job, const char *purpose,
                     const struct zg_krec *want, size_t n_want, const struct zg_krec *owned,
                     size_t n_owned, struct zg_plan *plan, char **diff, char *err,
                     size_t errlen);

/* One write of rz_publish_apply_many(): rz_publish_apply()'s arguments,
 * and its return value in ret. */
struct rz_pub_req {
	const struct rz_job *job;
	const char *purpose;
	const struct zg_krec *want, *owned;
	size_t n_want, n_owned;
	struct zg_plan *plan;
	char **diff;
	char *err;
	size_t errlen;
	int ret;                 /* out */
};

/* The writes of several jobs (distinct zones), each as rz_publish_apply()
 * would make it, together: the writes to one primary go to its queue at
 * once, in as few batches as its queue allows. */
void rz_publish_apply_many(const struct rz_step_ctx *x, struct rz_pub_req *req, size_t n);

/*
 * Are these records served by every authoritative server of the primary
 * (its servers in cfg, the running configuration: present), or by none
 * of them?  0 yes; RZ_EAGAIN not yet (err says where); RZ_EIO a server did
 * not answer, or the primary is not configured; RZ_ENOMEM.
 */
RZ_MUSTCHECK
int rz_publish_check(const struct rz_config *cfg, const char *primary, const struct zg_rr *rrs,
                     size_t n, bool present, char *err, size_t errlen);

#endif
