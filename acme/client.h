/*
 * client.h - the RFC 8555 protocol as resumable calls.
 *
 * Every call does one protocol step and returns; nothing sleeps or polls
 * inside.  Whatever a later step needs (account URL, order URL,
 * authorization and challenge URLs, finalize and certificate URLs) comes
 * back to the caller, who stores it and may make the next call later,
 * from another struct acme_client (another thread, another process after a
 * restart).  "Not ready yet" is ACME_EAGAIN with e->retry_after_s set from
 * the CA's Retry-After, or the client's default when the CA sent none.
 *
 * Transport: acme/http.h (https only, TLS verified, bounded bodies).
 * Signing: acme/acct.h (the account key never leaves it; this file hands
 * over URL + nonce + payload and gets a JWS back).
 * Nonces: every reply's Replay-Nonce is pooled for the next request; an
 * empty pool is refilled with HEAD newNonce.  A request refused with
 * urn:ietf:params:acme:error:badNonce is signed again with the nonce of
 * that refusal, up to opts.max_bad_nonce times (each retry is logged at
 * ACME_LOG_INFO as "badNonce ... retry N/M" and counted in the stats).
 *
 * Logging: only through opts.log, when set: each signed POST and its
 * status at ACME_LOG_DEBUG, each badNonce retry at ACME_LOG_INFO, the
 * account URL after newAccount at ACME_LOG_DEBUG.  Lines hold URLs,
 * statuses and step names, never key material, payloads or JWS bodies.
 * Failures are not logged: they come back in struct acme_error.
 *
 * Strict reader: every field taken from the CA's JSON is type-checked
 * (strings, https URLs, booleans, arrays, status values allowed for that
 * kind of object); duplicate keys, a wrong Content-Type or a missing
 * required field make the reply ACME_EPROTO.  Unknown fields are ignored.
 *
 * Errors (every call taking a struct acme_error *e; e may be NULL): 0 or
 * a negative ACME_E* code (acme/acme_err.h), with *e filled:
 *   ACME_EACME    the CA refused: e->http_status and, when the reply was a
 *                 problem document, e->has_problem with e->problem (read by
 *                 acme/problem.h's strict reader); also an order,
 *                 authorization or challenge that became invalid (e->problem
 *                 from its "error" member, when it has one);
 *   ACME_ENOENT   acme_renewal_info(): the CA offers no renewalInfo;
 *   ACME_EAGAIN   not ready: ask again after e->retry_after_s seconds;
 *   ACME_EPROTO   the CA's reply broke the protocol (strict reader), a
 *                 malformed problem document included;
 *   ACME_ETLS     TLS failure (wrong CA, bad certificate): never retried
 *                 silently with less checking;
 *   ACME_EIO      network failure, timeout;
 *   ACME_EINVAL, ACME_EDNAME, ACME_ECONFIG (EAB required but not configured),
 *   ACME_ENOMEM, ACME_ETOOLONG.
 * acme_error_retryable() says whether trying again later makes sense.
 *
 * Thread safety: a struct acme_client is used by one thread at a time
 * (it owns an HTTP handle and a nonce pool); the struct acme_acct it
 * borrows may be shared by many clients at once.
 */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "acme/acct.h"
#include "acme/acme_err.h"
#include "acme/csr.h"
#include "acme/problem.h"

/* What went wrong (about 11 KiB, plain data: nothing to free). */
struct acme_error {
	int code;                      /* the ACME_E* returned */
	long http_status;              /* 0 when there was no reply */
	bool has_problem;              /* problem holds the CA's problem document
	                                  (an error reply, or the "error" of an
	                                  invalid order/authorization/challenge) */
	struct acme_problem problem;   /* acme/problem.h: type, kind, detail,
	                                  subproblems; acme_problem_class() says
	                                  retry / fail / fail-account */
	uint32_t retry_after_s;        /* ACME_EAGAIN, rateLimited, 503: when */
	bool retry_after_given;        /* the CA sent Retry-After */
	char msg[768];                 /* one line for logs: what, where, why */
};

/* Status values of accounts, orders, authorizations and challenges. */
enum acme_status {
	ACME_ST_PENDING,
	ACME_ST_READY,
	ACME_ST_PROCESSING,
	ACME_ST_VALID,
	ACME_ST_INVALID,
	ACME_ST_DEACTIVATED,
	ACME_ST_EXPIRED,
	ACME_ST_REVOKED,
	ACME_ST__MAX
};
const char *acme_status_name(enum acme_status s);

struct acme_directory {
	char *new_nonce;
	char *new_account;
	char *new_order;
	char *revoke_cert;        /* NULL when the CA lists none */
	char *key_change;         /* NULL when the CA lists none */
	char *renewal_info;       /* ARI (RFC 9773); NULL when absent (Pebble 2.4) */
	char *terms_of_service;   /* meta.termsOfService, NULL when absent */
	char *website;            /* meta.website */
	bool eab_required;        /* meta.externalAccountRequired */
};

/* Levels of opts.log: syslog's numbers (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG), so a caller may hand them on unchanged. */
enum acme_log_level {
	ACME_LOG_ERR = 3,
	ACME_LOG_WARNING = 4,
	ACME_LOG_INFO = 6,
	ACME_LOG_DEBUG = 7
};

/*
 * A log sink: level one of enum acme_log_level, msg one line of printable
 * ASCII without a newline, valid during the call only.  Called by the
 * thread that is using the client, from inside the client's calls; it must
 * not call that client.
 */
typedef void acme_log_fn(void *arg, int level, const char *msg);

/*
 * A request sink, for counting: endpoint is the request's name (one of
 * "directory", "newNonce", "newAccount", "newOrder", "order",
 * "authorization", "challenge", "finalize", "certificate", "revokeCert",
 * "renewalInfo"), status its HTTP status or 0 when no reply came, problem
 * the short name of the CA's problem type ("badNonce", "rateLimited", ...)
 * or NULL.  Called as acme_log_fn is; every attempt counts (a badNonce
 * retry is a request of its own).
 */
typedef void acme_request_fn(void *arg, const char *endpoint, long status, const char *problem);

struct acme_client_opts {
	const char *directory_url;   /* https://.../directory */
	const char *ca_bundle;       /* PEM trust anchors; NULL: system store */
	uint32_t timeout_ms;         /* one HTTP request; 0: 30000 */
	uint32_t default_retry_s;    /* "not ready" without Retry-After; 0: 3 */
	uint32_t max_bad_nonce;      /* badNonce retries per request; 0: 5 */
	acme_log_fn *log;            /* NULL: no logging */
	void *log_arg;               /* log's first argument */
	acme_request_fn *on_request; /* NULL: none */
	void *request_arg;           /* on_request's first argument */
};

struct acme_client_stats {
	unsigned long requests;          /* HTTP requests sent */
	unsigned long signed_posts;      /* JWS POSTs sent (retries included) */
	unsigned long bad_nonce_retries; /* requests re-signed after badNonce */
	unsigned long nonce_fetches;     /* HEAD newNonce */
};

struct acme_client;

/* A client for one CA and one account key (borrowed: acct must outlive
 * the client) into *out (free with acme_client_free()).  The strings of
 * opts are copied (opts->log_arg is kept as given).  Fetches nothing yet.
 * 0, ACME_EINVAL (NULL argument, directory not an https URL), ACME_ENOMEM,
 * ACME_EIO (libcurl unusable). */
ACME_MUSTCHECK
int acme_client_new(const struct acme_client_opts *opts, const struct acme_acct *acct,
                    struct acme_client **out, struct acme_error *e);
void acme_client_free(struct acme_client *c);

/* The directory, fetched at the first call (GET) and kept; every other
 * call fetches it when needed.  *dir (dir may be NULL) is owned by c. */
ACME_MUSTCHECK
int acme_client_directory(struct acme_client *c, const struct acme_directory **dir,
                          struct acme_error *e);

/* The account URL ("kid") used to sign; set by acme_account_register(),
 * or by the caller from its store (copied; 0, ACME_EINVAL for anything
 * but an https URL, ACME_ENOMEM).  NULL before. */
ACME_MUSTCHECK
int acme_client_set_account_url(struct acme_client *c, const char *kid);
const char *acme_client_account_url(const struct acme_client *c);

void acme_client_get_stats(const struct acme_client *c, struct acme_client_stats *out);

/*
 * newAccount (RFC 8555 7.3): {"termsOfServiceAgreed":true (when agreed),
 * "contact":[...], "externalAccountBinding":{...} (when eab_kid is set)}.
 * An existing account for the key is returned as well (200).  Sets the
 * account URL.  Contacts must be "mailto:" URLs of one address.  When the
 * directory says externalAccountRequired and no EAB is given: ACME_ECONFIG.
 */
struct acme_account_req {
	const char *const *contact;
	size_t n_contact;
	bool terms_agreed;
	const char *eab_kid;         /* NULL: no external account binding */
	const char *eab_hmac_key;    /* base64url */
};
ACME_MUSTCHECK
int acme_account_register(struct acme_client *c, const struct acme_account_req *req,
                          struct acme_error *e);

/* An order as the CA last described it.  Everything owned; clear with
 * acme_order_clear(). */
struct acme_order {
	char *url;
	enum acme_status status;      /* pending ready processing valid invalid */
	char *expires;                /* NULL when absent */
	char **identifiers;           /* dns values ("*.x" for wildcards) */
	size_t n_identifiers;
	char **authorizations;        /* authorization URLs */
	size_t n_authorizations;
	char *finalize;
	char *certificate;            /* set once valid */
	uint32_t retry_after_s;       /* Retry-After of this reply, else default */
	bool retry_after_given;
};
void acme_order_clear(struct acme_order *o);

/* newOrder for names[0..n) (lowercase host names, "*." allowed, no
 * duplicates, 1..ACME_CSR_MAX_NAMES).  The reply must name exactly those
 * identifiers.  *out filled (out->url from Location). */
ACME_MUSTCHECK
int acme_order_new(struct acme_client *c, const char *const *names, size_t n,
                   struct acme_order *out, struct acme_error *e);

/* The same, replacing an earlier certificate (RFC 9773 section 5:
 * "replaces" = its ARI certificate identifier; NULL: none). */
ACME_MUSTCHECK
int acme_order_new_replacing(struct acme_client *c, const char *const *names, size_t n,
                             const char *replaces, struct acme_order *out,
                             struct acme_error *e);

/*
 * RFC 9773 renewalInfo of a certificate: GET <renewalInfo>/<cert_id>
 * (unauthenticated), parsed with acme_ari_parse() into *out; *next_poll
 * from its Retry-After (acme_ari_next_poll()), or now + six hours on any
 * failure.  ACME_ENOENT when the directory offers no renewalInfo; the
 * other errors as above.
 */
struct acme_ari_info;
ACME_MUSTCHECK
int acme_renewal_info(struct acme_client *c, const char *cert_id, struct acme_ari_info *out,
                      time_t *next_poll, struct acme_error *e);

/* POST-as-GET of an order; 0 with *out whatever its status. */
ACME_MUSTCHECK
int acme_order_get(struct acme_client *c, const char *url, struct acme_order *out,
                   struct acme_error *e);

/*
 * Poll an order: acme_order_get(), then by status
 *   ready, valid           0
 *   pending, processing    ACME_EAGAIN, e->retry_after_s
 *   invalid                ACME_EACME with the order's error (if any) in e
 * *out is filled in every case where the CA answered.
 */
ACME_MUSTCHECK
int acme_order_poll(struct acme_client *c, const char *url, struct acme_order *out,
                    struct acme_error *e);

/* Finalize (order must be "ready"): POST {"csr": base64url(DER)} to
 * finalize_url; *out is the order after it (processing or valid; url =
 * order_url).  Poll with acme_order_poll() until valid. */
ACME_MUSTCHECK
int acme_order_finalize(struct acme_client *c, const char *order_url,
                        const char *finalize_url, const struct acme_csr *csr,
                        struct acme_order *out, struct acme_error *e);

struct acme_challenge {
	char *url;
	char *token;                 /* checked with acme_token_check() */
	enum acme_status status;     /* pending processing valid invalid */
};

struct acme_authz {
	char *url;
	char *identifier;            /* dns value, without "*." */
	bool wildcard;
	enum acme_status status;     /* pending valid invalid deactivated expired revoked */
	char *expires;
	bool has_dns01;              /* the CA offers dns-01 */
	struct acme_challenge dns01;
	uint32_t retry_after_s;
	bool retry_after_given;
};
void acme_authz_clear(struct acme_authz *a);

/* POST-as-GET of an authorization; 0 with *out whatever its status.
 * A dns-01 challenge without a valid token is ACME_EPROTO. */
ACME_MUSTCHECK
int acme_authz_get(struct acme_client *c, const char *url, struct acme_authz *out,
                   struct acme_error *e);

/*
 * Poll an authorization:
 *   valid                           0
 *   pending                         ACME_EAGAIN, e->retry_after_s
 *   invalid, deactivated, expired,
 *   revoked                         ACME_EACME, e from the challenge's error
 */
ACME_MUSTCHECK
int acme_authz_poll(struct acme_client *c, const char *url, struct acme_authz *out,
                    struct acme_error *e);

/* Tell the CA the challenge is ready (POST "{}").  *status (may be NULL)
 * is the challenge's status in the reply; an invalid one is ACME_EACME. */
ACME_MUSTCHECK
int acme_challenge_respond(struct acme_client *c, const char *url,
                           enum acme_status *status, struct acme_error *e);

/*
 * Download the certificate chain (POST-as-GET, Accept:
 * application/pem-certificate-chain).  *pem (malloc'ed, free() it) is the
 * PEM text as sent, checked to be one or more parseable certificates and
 * nothing else.  alternates (may be NULL): the Link rel="alternate" URLs
 * (other chains), *alternates malloc'ed array of malloc'ed strings, free
 * with acme_strv_free().
 */
ACME_MUSTCHECK
int acme_cert_download(struct acme_client *c, const char *url, char **pem,
                       char ***alternates, size_t *n_alternates, struct acme_error *e);
void acme_strv_free(char **v, size_t n);

/* revokeCert (RFC 8555 7.6) of the first certificate in pem, signed with
 * the account key, reason 0..10 but 7 (RFC 5280 CRLReason). */
ACME_MUSTCHECK
int acme_cert_revoke(struct acme_client *c, const char *pem, int reason,
                     struct acme_error *e);

/*
 * Is trying the same step again later (after e->retry_after_s) reasonable?
 * Yes for ACME_EIO, ACME_EAGAIN, and ACME_EACME whose problem
 * acme_problem_class() calls ACME_PC_RETRY (rateLimited, serverInternal,
 * badNonce after the retries, any 5xx/429), or, without a problem
 * document, an HTTP 5xx or 429.  No for everything else: TLS failures,
 * protocol violations, refusals (an invalid order is dead: a new order is
 * the caller's policy, see acme_backoff_ladder()).
 */
bool acme_error_retryable(const struct acme_error *e);

#endif
