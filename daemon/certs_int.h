/*
 * certs_int.h - what the cert job's files share (not an interface of the
 * daemon: daemon/certs.h is).
 *
 *   certs.c         the step table, the helpers below, start and end
 *   certs_acct.c    the ACME account and clients; a CA's errors sorted
 *   certs_order.c   order (budget, slot, authorizations), respond, poll
 *   certs_caa.c     the CAA check before an order is made
 *   certs_dns.c     the challenge records: publish, verify, cleanup,
 *                   verify_clean
 *   certs_issue.c   finalize (key, CSR), download (checks, install, row)
 *   certs_deploy.c  deploy (the hook), renew (when, ARI)
 *   certs_remove.c  remove (disable: records, hook, revocation, files)
 *
 * Every step is (x, job, st, o): what it runs with, the claimed job, its
 * step data (a JSON object, owned by rz_cert_step(), written back through
 * cs_go()) and its result.
 */
#ifndef RZ_CERTS_INT_H
#define RZ_CERTS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "acme/acct.h"
#include "acme/client.h"
#include "daemon/certfiles.h"
#include "daemon/config.h"
#include "daemon/step.h"
#include "daemon/store.h"
#include "zonegen/zonegen.h"

#define CS_TXT_TTL 60
#define CS_SLOT_WAIT_S 60.0          /* an order waiting for a slot: woken, or after this */
#define CS_RATE_LIMIT_FLOOR_S 60.0   /* a rate-limited CA is asked again no sooner */
#define CS_BUSY_RETRY_MAX_S 10.0     /* a zone busy with a foreign transaction: look again */
#define CS_BACKOFF_BASE 1.0
#define CS_BACKOFF_CAP 600.0

typedef void cs_step_fn(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                        struct rz_step_out *o);

/* certs_order.c */
cs_step_fn cs_step_order, cs_step_respond, cs_step_poll;
/* certs_dns.c */
cs_step_fn cs_step_publish, cs_step_verify, cs_step_cleanup, cs_step_verify_clean;
/* certs_issue.c */
cs_step_fn cs_step_finalize, cs_step_download;
/* certs_deploy.c */
cs_step_fn cs_step_deploy, cs_step_renew;
/* certs_remove.c */
cs_step_fn cs_step_remove;

/* ---- certs.c: a step's result ---------------------------------------- */

/* A string member of the step data, "" when absent. */
const char *cs_get(const json_t *st, const char *key);
/* The step data's order_id (0: none stored). */
long long cs_order_id(const json_t *st);
/* Move on to next (RZ_STEP_NONE: park) after delay seconds, with st (when
 * not NULL) as the next step's data. */
void cs_go(struct rz_step_out *o, enum rz_step next, double delay, const json_t *st);
/* The step's audit line. */
void cs_audit(struct rz_step_out *o, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* last_error: "certificate: <step>: <why>". */
void cs_error(struct rz_step_out *o, const struct rz_job *job, const char *why);
/* A failure of ours (database, files, Knot): the same step again, with
 * backoff. */
void cs_retry(struct rz_step_out *o, const struct rz_job *job, const char *why);
/* The zone is taken: by another regzone writer a moment (RZ_EAGAIN: again
 * soon), or by a transaction that is not regzone's (RZ_EBUSY: an
 * operator's knotc session, waited for with a growing delay, never
 * aborted; status says "zone busy"). */
void cs_zone_wait(struct rz_step_out *o, const struct rz_job *job, json_t *st, int ret,
                  const char *why);
/* The order is over without a certificate: its TXT records removed, then
 * the job parks as failed with why. */
void cs_give_up(struct rz_step_out *o, const struct rz_job *job, json_t *st, const char *why);

/* ---- certs.c: what the job is for ------------------------------------ */

/* The certificate names of the job's profile (ptrs[i] = names[i]). */
int cs_names(const struct rz_config *cfg, const struct rz_job *job,
             char names[][ZG_OWNER_SIZE], const char **ptrs, size_t *n);
/* Where certificate files go: certificates.dir and .group. */
struct cf_policy cs_policy(const struct rz_config *cfg);
/* The directory the hosting reads for the job's service and domain. */
int cs_live_dir(const struct rz_config *cfg, const struct rz_job *job, char *buf, size_t len);
/* Are POSH documents written for the job (certificates.posh, an XMPP
 * service: daemon/posh.h)? */
bool cs_posh_on(const struct rz_config *cfg, const struct rz_job *job);
/* The registered domain of domain (the Public Suffix List), itself when
 * the list cannot say. */
void cs_reg_domain(const char *domain, char *out, size_t len);
/* The deploy hook in its box (hook.h), REGZONE_ACTION=action: *status its
 * exit status, or -1 when it did not finish in time.  0, or the code of
 * a hook that could not run (output says why). */
int cs_run_hook(const struct rz_config *cfg, const struct rz_job *job, const char *action,
                int *status, char *output, size_t outlen);

/* ---- certs_dns.c ----------------------------------------------------- */

/* Every challenge record of the job out of the zone: how many went (0 or
 * more), or -1 when the step ended instead (o set: the zone busy, a
 * failure to retry). */
int cs_txt_remove(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                  struct rz_step_out *o);

/* ---- certs_caa.c ----------------------------------------------------- */

/* May the CA (acme.caa_identities, with account_uri and dns-01) issue for
 * names[0..n), by the CAA records the job's primary serves in its zone?
 * 0 yes; 1 when the step ended: forbidden (given up with "CAA at NAME
 * allows only X", no order made) or the lookup failed (retried, never
 * taken for "no CAA"). */
int cs_caa_check(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                 struct rz_step_out *o, const char *const *names, size_t n_names,
                 const char *account_uri);

/* ---- certs_acct.c ---------------------------------------------------- */

/* This thread's client, with the shared account (registered when it is
 * not yet).  e says why not. */
int cs_client(const struct rz_config *cfg, struct acme_client **out, struct acme_error *e);
/* The account key (loaded by a cs_client() that succeeded). */
const struct acme_acct *cs_account(void);
/* A CA call failed with ret and e: the step again later (Retry-After, the
 * CA's backoff ladder, at least a minute when rate-limited), a new account
 * when the CA lost it, a new order when it lost the order, or the order
 * given up (the CA refused). */
void cs_ca_error(const struct rz_step_ctx *x, const struct rz_job *job, json_t *st,
                 struct rz_step_out *o, int ret, const struct acme_error *e);
void cs_acct_end(void);
void cs_client_end(void);

#endif
