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

#include "zonegen/zonegen.h"

enum rz_key_type {
	RZ_KEY_P256,
	RZ_KEY_P384,
	RZ_KEY_RSA2048,
	RZ_KEY_RSA3072,
	RZ_KEY__MAX
};

/* An authoritative server whose answers decide "published". */
struct rz_server {
	char *address;      /* IPv4 or IPv6 literal */
	uint16_t port;
};

struct rz_config {
	char *path;

	/* listen: */
	char *requests;             /* ZeroMQ endpoint of the ROUTER socket */
	char *feed;                 /* ZeroMQ endpoint of the PUB socket */
	char *curve_secret_file;    /* NULL: CURVE off */
	char **curve_clients;       /* Z85 public keys allowed to talk */
	size_t n_curve_clients;

	/* database: */
	char *db_conninfo;          /* libpq conninfo */

	/* knot: */
	char *knot_socket;
	uint32_t knot_timeout_ms;

	/* dns: */
	struct rz_server *servers;  /* every authoritative server to check */
	size_t n_servers;
	uint32_t dns_timeout_ms;    /* one query */
	uint32_t dns_check_max_s;   /* give up waiting for propagation after */

	/* acme: */
	char *acme_directory;
	char **acme_contact;
	size_t n_acme_contact;
	bool acme_terms_agreed;
	char *acme_account_key;     /* created 0600 if missing */
	char *acme_ca_bundle;       /* NULL: system store */
	enum rz_key_type acme_key_type;
	uint32_t acme_renew_percent;   /* renew at this % of the lifetime */
	uint32_t acme_concurrency;     /* orders in flight */
	char *acme_eab_kid;         /* both or neither */
	char *acme_eab_hmac_key;
	bool acme_revoke_on_disable;
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

	/* top level */
	uint32_t workers;
	char *log_level;            /* error|warning|info|debug */
	char *default_profile;
	struct zg_profile *profiles;
	size_t n_profiles;
};

/* Load and check path.  On success *out owns everything; on failure *out
 * is NULL and err holds "FILE:LINE:COL: message" (or "FILE: message" when
 * the file cannot be read).  Returns 0 or a negative RZ_E* code. */
int rz_config_load(const char *path, struct rz_config **out, char *err, size_t errlen);

void rz_config_free(struct rz_config *cfg);

/* The profile called name, or the default profile when name is NULL;
 * NULL when there is none. */
const struct zg_profile *rz_config_profile(const struct rz_config *cfg, const char *name);

const char *rz_key_type_name(enum rz_key_type t);

#endif
