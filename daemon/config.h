/*
 * config.h - regzone's configuration (YAML, read with libyaml).
 *
 * rz_config_load() reads the whole file into a struct rz_config or fails
 * with "FILE:LINE:COL: message" in err (1-based line and column of the
 * offending node) for syntax errors, unknown keys, wrong types,
 * out-of-range values and missing required values.  Keys are described by
 * one table in config.c; config/regzone.example.yaml documents each one.
 */
#ifndef RZ_CONFIG_H
#define RZ_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "acme/csr.h"        /* enum acme_key_type */
#include "zonegen/zonegen.h"

/* An authoritative server whose answers decide "published". */
struct rz_server {
	char *address;      /* IPv4 or IPv6 literal */
	uint16_t port;
};

/* A Knot primary: its control socket and the authoritative servers that
 * must serve its zones (itself and its secondaries).  knot.socket with
 * dns.servers is the primary RZ_PRIMARY_DEFAULT. */
struct rz_primary {
	char *name;                 /* [a-z0-9-]{1,RZ_PRIMARY_NAME_MAX} */
	char *socket;
	uint32_t timeout_ms;        /* absent: knot.timeout_ms */
	struct rz_server *servers;
	size_t n_servers;
};
#define RZ_PRIMARY_DEFAULT "default"
#define RZ_PRIMARY_NAME_MAX 32

struct rz_config {
	char *path;

	/* listen: (the endpoints are ipc:// or tcp://, checked at load) */
	char *requests;             /* ROUTER socket; default RZ_DEFAULT_REQUESTS */
	char *feed;                 /* PUB socket; default RZ_DEFAULT_FEED */
	char *socket_group;         /* group that may use the ipc sockets, or NULL */
	gid_t socket_gid;           /* its gid, (gid_t)-1 when none */
	bool insecure_tcp;          /* tcp:// allowed without CURVE */
	bool curve;                 /* listen.curve present: CURVE on both sockets */
	char *curve_secret_file;    /* the server's secret key (regzoned) */
	char *curve_public_key;     /* the server's public key, Z85 (clients) */
	char *curve_public_key_file;    /* ... or a file holding it */
	char **curve_clients;       /* Z85 public keys allowed to talk */
	size_t n_curve_clients;

	/* database: */
	char *db_conninfo;          /* libpq conninfo */
	uint32_t db_connect_timeout_s;     /* connect_timeout unless conninfo sets one */
	uint32_t db_statement_timeout_ms;  /* every session's statement_timeout; 0 off */

	/* knot: */
	char *knot_socket;          /* the single form (NULL with knot.primaries) */
	uint32_t knot_timeout_ms;
	struct rz_primary *primaries;   /* knot.primaries, or the single form as one */
	size_t n_primaries;
	bool primaries_listed;      /* knot.primaries was given */

	/* dns: */
	struct rz_server *servers;  /* the single form's servers (see primaries) */
	size_t n_servers;
	uint32_t dns_timeout_ms;    /* one query */
	uint32_t dns_check_max_s;   /* give up waiting for propagation after */

	/* acme: */
	char *acme_directory;
	char **acme_contact;
	size_t n_acme_contact;
	char **acme_caa_identities;  /* none given: rz_config_caa_identities()'s default */
	size_t n_acme_caa_identities;
	bool acme_terms_agreed;
	char *acme_account_key;     /* created 0600 if missing */
	char *acme_ca_bundle;       /* NULL: system store */
	enum acme_key_type acme_key_type;
	uint32_t acme_renew_percent;   /* renew at this % of the lifetime */
	uint32_t acme_renew_window_percent;   /* renewals spread over this % around it */
	uint32_t acme_concurrency;     /* orders in flight */
	char *acme_eab_kid;         /* both or neither */
	char *acme_eab_hmac_key;
	bool acme_revoke_on_disable;
	char *acme_psl;             /* Public Suffix List file (registered domains) */
	/* acme.limits: the rate-limit budget (acme/budget.h); max 0 = off */
	uint32_t lim_new_orders, lim_new_orders_window_s;
	uint32_t lim_certs_per_domain, lim_certs_per_domain_window_s;
	uint32_t lim_certs_per_names, lim_certs_per_names_window_s;
	uint32_t lim_failed_validations, lim_failed_validations_window_s;

	/* certificates: */
	bool cert_auto;             /* obtain certificates once DNS is published */
	char *cert_dir;
	char *deploy_hook;          /* NULL: none */
	uint32_t hook_timeout_s;
	uint32_t hook_max_failures; /* deploy hook failures in a row before "failed" */
	char **hook_env;            /* "NAME=VALUE" given to the hook */
	size_t n_hook_env;
	char *cert_group;           /* group of the certificate files, or NULL */
	gid_t cert_gid;             /* its gid, (gid_t)-1 when none */
	bool cert_posh;             /* XMPP: POSH documents beside the files (posh.h) */

	/* metrics (optional): the Prometheus listener, off when listen is NULL */
	char *metrics_listen;       /* "ADDRESS:PORT" as written; [v6]:port for IPv6 */
	char metrics_addr[64];      /* the address part, an IP literal */
	uint16_t metrics_port;

	/* audit:, events: what daemon/retention.c trims; 0 = kept forever */
	uint32_t audit_retention_days;     /* audit, acme_events, old certificates */
	uint32_t events_retention_days;    /* events (request ids and replies) */

	/* top level */
	uint32_t workers;
	uint32_t step_timeout_s;    /* a thread busy with one unit longer is wedged */
	char *log_level;            /* error|warning|info|debug */
	char *default_profile;
	struct zg_profile *profiles;
	size_t n_profiles;
};

#define RZ_DEFAULT_REQUESTS "ipc:///run/regzone/requests"
#define RZ_DEFAULT_FEED "ipc:///run/regzone/feed"
#define RZ_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
/* events.retention_days: 0 (forever) or at least this (a registrar's
 * re-send of an id must find its first reply; see regzone.yaml(5)). */
#define RZ_EVENTS_RETENTION_MIN 7

/* The primary called name; NULL when there is none. */
const struct rz_primary *rz_config_primary(const struct rz_config *cfg, const char *name);

/* "ADDRESS:PORT" (an IPv4 literal, or an IPv6 literal in brackets; port
 * 1..65535) into addr (addrlen bytes, without brackets) and *port.  0, or
 * RZ_ECONFIG with the reason in why (a static string). */
int rz_hostport_parse(const char *s, char *addr, size_t addrlen, uint16_t *port,
                      const char **why);

/* Load and check path.  On success *out owns everything; on failure *out
 * is NULL and err holds "FILE:LINE:COL: message" (or "FILE: message" when
 * the file cannot be read).  Returns 0 or a negative RZ_E* code. */
int rz_config_load(const char *path, struct rz_config **out, char *err, size_t errlen);

void rz_config_free(struct rz_config *cfg);

/* The profile called name, or the default profile when name is NULL;
 * NULL when there is none. */
const struct zg_profile *rz_config_profile(const struct rz_config *cfg, const char *name);

/* The records of a stored service: its profile (by name) in cfg with its
 * stored params (a JSON object of strings), for domain, with the built-ins
 * b (NULL: none), into rrs (room for ZG_MAX_RECORDS).  0, RZ_ENOENT (the
 * profile is gone), RZ_EINVAL (params not an object of strings), or
 * zg_expand_with()'s error, with err. */
int rz_config_expand(const struct rz_config *cfg, const char *profile, const char *domain,
                     const char *params_json, const struct zg_builtins *b, struct zg_rr *rrs,
                     size_t *n, char *err, size_t errlen);

/* The CA's identities in CAA issue properties (acme.caa_identities; by
 * default "letsencrypt.org"): *out, and how many. */
#define RZ_CAA_IDENTITY_DEFAULT "letsencrypt.org"
size_t rz_config_caa_identities(const struct rz_config *cfg, const char *const **out);

/* The transports regzone listens on (and regzonectl connects to). */
enum rz_endpoint_kind { RZ_EP_IPC, RZ_EP_TCP, RZ_EP__MAX };
#define RZ_IPC_PATH_MAX 107     /* sizeof(sun_path) - 1 */

/* Kind of a ZeroMQ endpoint and, for ipc://, its socket path (pointing
 * into ep).  0, or RZ_EINVAL with why set: only ipc:// with an absolute
 * path that fits a Unix socket address, and tcp://HOST:PORT. */
int rz_endpoint_parse(const char *ep, enum rz_endpoint_kind *kind, const char **path,
                      char *why, size_t whylen);

#endif
