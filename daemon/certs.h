/*
 * certs.h - the steps of a "cert" job: a certificate for the profile's
 * certificate names through regzone's ACME client (DNS-01 through the
 * zone writer, publish.h), handed to the hosting, kept renewed.
 *
 *   order --> publish --> verify --> respond --> poll --> finalize --> poll
 *     |         (one Knot transaction: every _acme-challenge TXT)      |
 *     |                                                            download
 *     |                                                                |
 *     +-- CA refused / invalid --> cleanup --> verify_clean --> (parked: failed)
 *                                     ^                 \--> deploy --> (renew at
 *                     download -------+                          2/3 of the lifetime)
 *   renew --> order ...
 *   remove (disable): TXT gone, hook (REGZONE_ACTION=remove), files deleted,
 *                     revocation when configured --> (parked)
 *
 * The order URL is stored (acme_orders and the job's state) as soon as
 * the CA created it: a restart resumes the same order.  The TXT records
 * are in the ledger (purpose 'acme') from before Knot's commit, and every
 * path out of an order goes through cleanup: nothing is left in the zone.
 * The files are split by step (certs_int.h lists them).
 */
#ifndef RZ_CERTS_H
#define RZ_CERTS_H

#include <stddef.h>

#include "daemon/config.h"
#include "daemon/step.h"
#include "daemon/store.h"

/* Before the workers start: the Public Suffix List (acme.public_suffix_list)
 * the rate-limit budget counts registered domains with.  0, or an RZ_E*
 * code with err. */
RZ_MUSTCHECK
int rz_cert_start(const struct rz_config *cfg, char *err, size_t errlen);

/* Run the claimed cert job's current step (jobs.h dispatches here).  Never
 * fails: failures become a result that retries with backoff, or parks the
 * job with the reason. */
void rz_cert_step(const struct rz_step_ctx *x, const struct rz_job *job, struct rz_step_out *o);

/*
 * The URL of regzone's ACME account (for a profile's {acme_account_uri},
 * zonegen.h) into buf.  The daemon keeps it in memory, under the lock
 * the workers' shared account is under (certs_acct.c): set by the first
 * registration, which for a key the CA knows is a look-up (newAccount
 * answers the existing account).  When it is not known yet, this call
 * makes that registration itself, so a dns job never waits for a cert
 * job: nothing is stored, nothing else to keep in step.  0, or an RZ_E*
 * code with err (the CA unreachable, the key unreadable).
 */
RZ_MUSTCHECK
int rz_cert_account_uri(const struct rz_config *cfg, char *buf, size_t len, char *err,
                        size_t errlen);

/* Free this thread's ACME client (a worker's end). */
void rz_cert_thread_end(void);

/* Free the account shared by the workers and the list (after they all
 * ended). */
void rz_cert_end(void);

#endif
