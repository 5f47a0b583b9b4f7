/*
 * config_schema.c - what regzone.yaml may hold: one table of rows per
 * section (name, type, field, required, range, default), the checks of
 * single values, and the checks across the keys of a section.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "acme/schedule.h"
#include "daemon/config.h"
#include "daemon/rz_err.h"
#include "zonegen/zonegen.h"
#include "daemon/config_int.h"

/* ---- value checks (vcheck) ------------------------------------------ */

static const char *cfg_check_https(const char *s)
{
	if (strncasecmp(s, "https://", 8) != 0 || s[8] == '\0' || s[8] == '/')
		return "must be an https:// URL";
	if (strpbrk(s, " \t\"<>\\^`{|}") != NULL)
		return "must be a URL without spaces or quotes";
	return NULL;
}

/* A CA's domain in CAA issue properties (RFC 8659 4.2: an
 * issuer-domain-name). */
static const char *cfg_check_caa_identity(const char *s)
{
	char tmp[ZG_OWNER_SIZE];

	if (zg_hostname_check(s, tmp, sizeof(tmp), NULL, 0) != 0 || strchr(s, '_') != NULL)
		return "must list domain names (a CA's CAA identity, \"letsencrypt.org\")";
	return NULL;
}

/* A CURVE public key in Z85: 40 characters of the Z85 alphabet. */
static const char *cfg_check_z85(const char *s)
{
	static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
	                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

	if (strlen(s) != 40 || strspn(s, z85) != 40)
		return "must list Z85 public keys of 40 characters";
	return NULL;
}

static const char *cfg_check_z85_key(const char *s)
{
	return cfg_check_z85(s) != NULL ? "must be a Z85 public key of 40 characters" : NULL;
}

/* ---- enums (conv) --------------------------------------------------- */

static const char *const log_level_names[] = { "error", "warning", "info", "debug", NULL };

static int cfg_conv_key_type(const char *s, void *field)
{
	return acme_key_type_from_name(s, (enum acme_key_type *)field) == 0 ? 0 : RZ_ENOENT;
}

static int cfg_conv_rtype(const char *s, void *field)
{
	return zg_rtype_from_name(s, (enum zg_rtype *)field) == 0 ? 0 : RZ_ENOENT;
}

static int cfg_conv_ptype(const char *s, void *field)
{
	return zg_ptype_from_name(s, (enum zg_ptype *)field) == 0 ? 0 : RZ_ENOENT;
}

/* ---- the schema ----------------------------------------------------- */

#define C_OFF(f) offsetof(struct rz_config, f)
#define K_STR(n, f, req, chk) \
	{ .name = n, .type = CT_STRING, .off = C_OFF(f), .required = req, .vcheck = chk }
#define K_UINT(n, f, lo, hi, d) \
	{ .name = n, .type = CT_UINT, .off = C_OFF(f), .size = sizeof(((struct rz_config *)0)->f), \
	  .min = lo, .max = hi, .def = d }
#define K_BOOL(n, f, d) { .name = n, .type = CT_BOOL, .off = C_OFF(f), .def = d }
#define K_LIST(n, f, nf, req, lo, chk) \
	{ .name = n, .type = CT_STRLIST, .off = C_OFF(f), .off_n = C_OFF(nf), .required = req, \
	  .min = lo, .vcheck = chk }
#define K_SECTION(n, s, req) { .name = n, .type = CT_SECTION, .required = req, .sub = &s }
#define SECTION(keys, chk) { keys, sizeof(keys) / sizeof(keys[0]), chk }

enum { CURVE_SECRET, CURVE_PUBLIC, CURVE_PUBLIC_FILE, CURVE_CLIENTS };
static const struct cfg_key curve_keys[] = {
	[CURVE_SECRET] = K_STR("secret_key_file", curve_secret_file, false, NULL),
	[CURVE_PUBLIC] = K_STR("public_key", curve_public_key, false, cfg_check_z85_key),
	[CURVE_PUBLIC_FILE] = K_STR("public_key_file", curve_public_key_file, false, NULL),
	[CURVE_CLIENTS] = K_LIST("clients", curve_clients, n_curve_clients, true, 1, cfg_check_z85),
};

static int cfg_check_curve(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                           const char *name, void *base)
{
	struct rz_config *cfg = base;

	if (seen->val[CURVE_PUBLIC] != NULL && seen->val[CURVE_PUBLIC_FILE] != NULL)
		return cfg_err(c, seen->key[CURVE_PUBLIC_FILE]->start_mark, RZ_ECONFIG,
		               "'%s' takes 'public_key' or 'public_key_file', not both", name);
	if (seen->val[CURVE_SECRET] == NULL && seen->val[CURVE_PUBLIC] == NULL &&
	    seen->val[CURVE_PUBLIC_FILE] == NULL)
		return cfg_err(c, where, RZ_ECONFIG, "'%s' needs 'secret_key_file' (regzoned) or "
		               "the server's 'public_key' / 'public_key_file' (clients)", name);
	cfg->curve = true;
	return 0;
}
static const struct cfg_section curve_section = SECTION(curve_keys, cfg_check_curve);

int rz_endpoint_parse(const char *ep, enum rz_endpoint_kind *kind, const char **path,
                      char *why, size_t whylen)
{
	const char *rest;

	if (path != NULL)
		*path = NULL;
	if (strncmp(ep, "ipc://", 6) == 0) {
		rest = ep + 6;
		if (rest[0] != '/') {
			snprintf(why, whylen, "an ipc:// endpoint needs an absolute path");
			return RZ_EINVAL;
		}
		if (strlen(rest) > RZ_IPC_PATH_MAX) {
			snprintf(why, whylen, "the ipc:// path is longer than %d bytes (a Unix socket "
			         "address)", RZ_IPC_PATH_MAX);
			return RZ_EINVAL;
		}
		if (strpbrk(rest, "\n\r\t ") != NULL || strstr(rest, "/../") != NULL ||
		    rest[strlen(rest) - 1] == '/') {
			snprintf(why, whylen, "the ipc:// path must name a socket file, without "
			         "spaces or '..'");
			return RZ_EINVAL;
		}
		*kind = RZ_EP_IPC;
		if (path != NULL)
			*path = rest;
		return 0;
	}
	if (strncmp(ep, "tcp://", 6) == 0) {
		rest = ep + 6;
		if (strrchr(rest, ':') == NULL || strrchr(rest, ':') == rest ||
		    strrchr(rest, ':')[1] == '\0' || strpbrk(rest, " \t\r\n/") != NULL) {
			snprintf(why, whylen, "a tcp:// endpoint is tcp://ADDRESS:PORT");
			return RZ_EINVAL;
		}
		*kind = RZ_EP_TCP;
		return 0;
	}
	snprintf(why, whylen, "only ipc:// and tcp:// endpoints are supported");
	return RZ_EINVAL;
}

/* A group name, resolved now: --check tells a missing group at once. */
static int cfg_group(struct cfg_ctx *c, const yaml_node_t *v, const char *key,
                     const char *group, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];
	int e;

	*gid = (gid_t)-1;
	if (group == NULL)
		return 0;
	e = getgrnam_r(group, &gr, buf, sizeof(buf), &res);
	if (e != 0 || res == NULL)
		return cfg_err(c, v->start_mark, RZ_ECONFIG, "'%s': no group '%.64s' on this system%s%s",
		               key, group, e != 0 ? ": " : "", e != 0 ? strerror(e) : "");
	*gid = gr.gr_gid;
	return 0;
}

enum { LISTEN_REQUESTS, LISTEN_FEED, LISTEN_GROUP, LISTEN_INSECURE, LISTEN_CURVE };
static const struct cfg_key listen_keys[] = {
	[LISTEN_REQUESTS] = K_STR("requests", requests, false, NULL),
	[LISTEN_FEED] = K_STR("feed", feed, false, NULL),
	[LISTEN_GROUP] = K_STR("socket_group", socket_group, false, NULL),
	[LISTEN_INSECURE] = K_BOOL("insecure_tcp", insecure_tcp, false),
	[LISTEN_CURVE] = K_SECTION("curve", curve_section, false),
};

/* Who may talk to regzone: an ipc:// socket is the file system's (the
 * directory regzoned keeps), a tcp:// one needs CURVE unless insecure_tcp
 * says otherwise, explicitly. */
static int cfg_check_listen(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                            const char *name, void *base)
{
	struct rz_config *cfg = base;
	static const struct { int key; size_t off; const char *def, *risk; } eps[] = {
		{ LISTEN_REQUESTS, C_OFF(requests), RZ_DEFAULT_REQUESTS,
		  "could publish records and get certificates" },
		{ LISTEN_FEED, C_OFF(feed), RZ_DEFAULT_FEED, "could read every domain's state" },
	};
	enum rz_endpoint_kind kind[2];
	char why[160];
	int ret;

	(void)name;
	for (size_t i = 0; i < 2; i++) {
		char **f = FIELD(cfg, eps[i].off);
		yaml_mark_t m = seen != NULL && seen->val[eps[i].key] != NULL ?
		                seen->val[eps[i].key]->start_mark : where;

		if (*f == NULL && (*f = strdup(eps[i].def)) == NULL)
			return cfg_err(c, m, RZ_ENOMEM, "out of memory");
		if (rz_endpoint_parse(*f, &kind[i], NULL, why, sizeof(why)) != 0)
			return cfg_err(c, m, RZ_ECONFIG, "'%s': %s", listen_keys[eps[i].key].name, why);
		if (kind[i] == RZ_EP_TCP && !cfg->curve && !cfg->insecure_tcp)
			return cfg_err(c, m, RZ_ECONFIG, "'%s' is a tcp:// endpoint without CURVE: "
			               "anyone who reaches it %s; set 'listen.curve' (or "
			               "'listen.insecure_tcp: true' to accept that explicitly)",
			               listen_keys[eps[i].key].name, eps[i].risk);
	}
	if (strcmp(cfg->requests, cfg->feed) == 0)
		return cfg_err(c, seen != NULL && seen->val[LISTEN_FEED] != NULL ?
		               seen->val[LISTEN_FEED]->start_mark : where, RZ_ECONFIG,
		               "'requests' and 'feed' must be different endpoints");
	if (seen != NULL && seen->val[LISTEN_GROUP] != NULL &&
	    (ret = cfg_group(c, seen->val[LISTEN_GROUP], "socket_group", cfg->socket_group,
	                     &cfg->socket_gid)) != 0)
		return ret;
	return 0;
}
static const struct cfg_section listen_section = SECTION(listen_keys, cfg_check_listen);

int rz_hostport_parse(const char *s, char *addr, size_t addrlen, uint16_t *port,
                      const char **why)
{
	const char *colon, *a = s, *end;
	unsigned char bin[16];
	char *stop;
	unsigned long p;
	size_t alen;
	bool v6 = s[0] == '[';

	if (v6) {
		a = s + 1;
		if ((end = strchr(a, ']')) == NULL || end[1] != ':') {
			*why = "must be [IPv6]:PORT";
			return RZ_ECONFIG;
		}
		colon = end + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "must be ADDRESS:PORT";
			return RZ_ECONFIG;
		}
		end = colon;
	}
	alen = (size_t)(end - a);
	if (alen == 0 || alen >= addrlen) {
		*why = "must name an IP address";
		return RZ_ECONFIG;
	}
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1) {
		*why = v6 ? "must name an IPv6 address in brackets" :
		            "must name an IPv4 address (an IPv6 one in brackets)";
		return RZ_ECONFIG;
	}
	errno = 0;
	p = strtoul(colon + 1, &stop, 10);
	if (colon[1] < '1' || colon[1] > '9' || *stop != '\0' || errno != 0 || p > 65535) {
		*why = "must end in a port 1..65535";
		return RZ_ECONFIG;
	}
	*port = (uint16_t)p;
	return 0;
}

/* metrics.listen: its address and port split out. */
static int cfg_check_metrics(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                             const char *name, void *base)
{
	struct rz_config *cfg = base;
	const char *why = NULL;

	(void)where;
	(void)name;
	if (cfg->metrics_listen != NULL &&
	    rz_hostport_parse(cfg->metrics_listen, cfg->metrics_addr, sizeof(cfg->metrics_addr),
	                      &cfg->metrics_port, &why) != 0)
		return cfg_err(c, seen->val[0]->start_mark, RZ_ECONFIG, "'metrics.listen' %s", why);
	return 0;
}

static const struct cfg_key metrics_keys[] = {
	K_STR("listen", metrics_listen, false, NULL),
};
static const struct cfg_section metrics_section = SECTION(metrics_keys, cfg_check_metrics);

static const struct cfg_key database_keys[] = {
	K_STR("conninfo", db_conninfo, true, NULL),
	K_UINT("connect_timeout_s", db_connect_timeout_s, 1, 300, 10),
	K_UINT("statement_timeout_ms", db_statement_timeout_ms, 0, 3600000, 30000),
};
static const struct cfg_section database_section = SECTION(database_keys, NULL);

/* A primary's name: [a-z0-9-]{1,32}, as in metrics labels and the
 * services.knot_primary column. */
static const char *cfg_check_primary_name(const char *s)
{
	if (strlen(s) > RZ_PRIMARY_NAME_MAX || strspn(s, CFG_LOWER CFG_DIGIT "-") != strlen(s))
		return "must be 1 to 32 lowercase letters, digits or '-'";
	return NULL;
}

/* knot.primaries[N]: timeout_ms 0 (below its minimum) means absent. */
#define PRI_OFF(f) offsetof(struct rz_primary, f)
static const struct cfg_key primary_keys[] = {
	{ .name = "name", .type = CT_STRING, .off = PRI_OFF(name), .required = true,
	  .vcheck = cfg_check_primary_name },
	{ .name = "socket", .type = CT_STRING, .off = PRI_OFF(socket), .required = true },
	{ .name = "timeout_ms", .type = CT_UINT, .off = PRI_OFF(timeout_ms),
	  .size = sizeof(uint32_t), .min = 100, .max = 60000, .def = 0 },
	{ .name = "servers", .type = CT_SERVERS, .off = PRI_OFF(servers),
	  .off_n = PRI_OFF(n_servers), .required = true, .min = 1 },
};
static const struct cfg_section primary_section = SECTION(primary_keys, NULL);

enum { KNOT_SOCKET, KNOT_TIMEOUT, KNOT_PRIMARIES };
static const struct cfg_key knot_keys[] = {
	[KNOT_SOCKET] = K_STR("socket", knot_socket, false, NULL),
	[KNOT_TIMEOUT] = K_UINT("timeout_ms", knot_timeout_ms, 100, 60000, 5000),
	[KNOT_PRIMARIES] = { .name = "primaries", .type = CT_PRIMARIES, .off = C_OFF(primaries),
	                     .off_n = C_OFF(n_primaries), .min = 1, .sub = &primary_section },
};

/* One primary (socket) or a list of them (primaries), never both. */
static int cfg_check_knot(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                          const char *name, void *base)
{
	struct rz_config *cfg = base;

	if (seen->val[KNOT_SOCKET] != NULL && seen->val[KNOT_PRIMARIES] != NULL)
		return cfg_err(c, seen->key[KNOT_PRIMARIES]->start_mark, RZ_ECONFIG, "'%s' takes "
		               "'socket' (one primary) or 'primaries', not both", name);
	if (seen->val[KNOT_SOCKET] == NULL && seen->val[KNOT_PRIMARIES] == NULL)
		return cfg_err(c, where, RZ_ECONFIG, "missing required key 'socket' in '%s' (or "
		               "'primaries')", name);
	cfg->primaries_listed = seen->val[KNOT_PRIMARIES] != NULL;
	for (size_t i = 0; i < cfg->n_primaries; i++)
		if (cfg->primaries[i].timeout_ms == 0)
			cfg->primaries[i].timeout_ms = cfg->knot_timeout_ms;
	return 0;
}
static const struct cfg_section knot_section = SECTION(knot_keys, cfg_check_knot);

/* The value node of key in mapping map, or NULL. */
static const yaml_node_t *cfg_map_get(struct cfg_ctx *c, const yaml_node_t *map,
                                      const char *key)
{
	for (const yaml_node_pair_t *pr = map->data.mapping.pairs.start;
	     map->type == YAML_MAPPING_NODE && pr < map->data.mapping.pairs.top; pr++) {
		const char *s = cfg_scalar(cfg_node(c, pr->key));

		if (s != NULL && strcmp(s, key) == 0)
			return cfg_node(c, pr->value);
	}
	return NULL;
}

/* The single form (knot.socket, dns.servers) as the primary "default";
 * with knot.primaries, each lists its servers and dns.servers is refused. */
static int cfg_check_primaries(struct cfg_ctx *c, const yaml_node_t *dns_key,
                               const yaml_node_t *dns, struct rz_config *cfg)
{
	const yaml_node_t *sv = cfg_map_get(c, dns, "servers");
	struct rz_primary *p;

	if (cfg->primaries_listed) {
		if (sv != NULL)
			return cfg_err(c, sv->start_mark, RZ_ECONFIG, "'dns.servers' goes with "
			               "'knot.socket'; with 'knot.primaries' each primary lists its "
			               "'servers'");
		return 0;
	}
	if (cfg->n_servers == 0)
		return cfg_err(c, dns_key->start_mark, RZ_ECONFIG, "missing required key 'servers' "
		               "in 'dns' (with 'knot.socket')");
	if ((p = cfg->primaries = calloc(1, sizeof(*p))) == NULL)
		return cfg_err(c, dns->start_mark, RZ_ENOMEM, "out of memory");
	cfg->n_primaries = 1;
	p->timeout_ms = cfg->knot_timeout_ms;
	if ((p->name = strdup(RZ_PRIMARY_DEFAULT)) == NULL ||
	    (p->socket = strdup(cfg->knot_socket)) == NULL ||
	    (p->servers = calloc(cfg->n_servers, sizeof(*p->servers))) == NULL)
		return cfg_err(c, dns->start_mark, RZ_ENOMEM, "out of memory");
	for (; p->n_servers < cfg->n_servers; p->n_servers++) {
		p->servers[p->n_servers].port = cfg->servers[p->n_servers].port;
		if ((p->servers[p->n_servers].address =
		     strdup(cfg->servers[p->n_servers].address)) == NULL)
			return cfg_err(c, dns->start_mark, RZ_ENOMEM, "out of memory");
	}
	return 0;
}

static const struct cfg_key dns_keys[] = {
	{ .name = "servers", .type = CT_SERVERS, .off = C_OFF(servers), .off_n = C_OFF(n_servers),
	  .min = 1 },
	K_UINT("timeout_ms", dns_timeout_ms, 50, 10000, 1000),
	K_UINT("check_max_s", dns_check_max_s, 10, 86400, 600),
};
static const struct cfg_section dns_section = SECTION(dns_keys, NULL);

enum { EAB_KID, EAB_HMAC_KEY };
static const struct cfg_key eab_keys[] = {
	[EAB_KID] = K_STR("kid", acme_eab_kid, false, NULL),
	[EAB_HMAC_KEY] = K_STR("hmac_key", acme_eab_hmac_key, false, NULL),
};

static int cfg_check_eab(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                         const char *name, void *base)
{
	(void)base;
	if ((seen->val[EAB_KID] == NULL) != (seen->val[EAB_HMAC_KEY] == NULL))
		return cfg_err(c, where, RZ_ECONFIG, "'%s' needs both 'kid' and 'hmac_key'", name);
	return 0;
}
static const struct cfg_section eab_section = SECTION(eab_keys, cfg_check_eab);

/* Let's Encrypt's limits by default (shared/NOTES-knot-pebble.md). */
static const struct cfg_key limit_keys[] = {
	K_UINT("new_orders", lim_new_orders, 0, 1000000, 300),
	K_UINT("new_orders_window_s", lim_new_orders_window_s, 1, 31 * 86400, 3 * 3600),
	K_UINT("certs_per_domain", lim_certs_per_domain, 0, 1000000, 50),
	K_UINT("certs_per_domain_window_s", lim_certs_per_domain_window_s, 1, 31 * 86400,
	       7 * 86400),
	K_UINT("certs_per_names", lim_certs_per_names, 0, 1000000, 5),
	K_UINT("certs_per_names_window_s", lim_certs_per_names_window_s, 1, 31 * 86400,
	       7 * 86400),
	K_UINT("failed_validations", lim_failed_validations, 0, 1000000, 5),
	K_UINT("failed_validations_window_s", lim_failed_validations_window_s, 1, 31 * 86400,
	       3600),
};
static const struct cfg_section limit_section = SECTION(limit_keys, NULL);

/* The renewal window inside the lifetime (acme/schedule.h). */
enum { ACME_RENEW_PERCENT = 6, ACME_RENEW_WINDOW };   /* their places in acme_keys */
static int cfg_check_acme(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                          const char *name, void *base)
{
	const struct rz_config *cfg = base;

	(void)name;
	if (acme_sched_config_ok(cfg->acme_renew_percent, cfg->acme_renew_window_percent) != 0)
		return cfg_err(c, seen->val[ACME_RENEW_WINDOW] != NULL ?
		               seen->val[ACME_RENEW_WINDOW]->start_mark : where, RZ_ECONFIG,
		               "'renew_window_percent' %u around 'renew_percent' %u leaves the "
		               "lifetime's %u..%u %%: the window must lie within it",
		               cfg->acme_renew_window_percent, cfg->acme_renew_percent,
		               ACME_SCHED_EARLIEST, ACME_SCHED_LATEST);
	return 0;
}

static const struct cfg_key acme_keys[] = {
	K_STR("directory", acme_directory, true, cfg_check_https),
	K_LIST("contact", acme_contact, n_acme_contact, false, 0, NULL),
	K_BOOL("terms_agreed", acme_terms_agreed, false),
	K_STR("account_key", acme_account_key, true, NULL),
	K_STR("ca_bundle", acme_ca_bundle, false, NULL),
	{ .name = "key_type", .type = CT_ENUM, .off = C_OFF(acme_key_type), .def_name = "p256",
	  .conv = cfg_conv_key_type, .hint = "p256, p384, rsa2048 or rsa3072" },
	[ACME_RENEW_PERCENT] = K_UINT("renew_percent", acme_renew_percent, 50, 90, 66),
	[ACME_RENEW_WINDOW] = K_UINT("renew_window_percent", acme_renew_window_percent, 0,
	                             ACME_SCHED_WINDOW_MAX, ACME_SCHED_WINDOW_DEF),
	K_UINT("concurrency", acme_concurrency, 1, 100, 10),
	K_SECTION("eab", eab_section, false),
	K_BOOL("revoke_on_disable", acme_revoke_on_disable, false),
	K_SECTION("limits", limit_section, false),
	K_STR("public_suffix_list", acme_psl, false, NULL),
	K_LIST("caa_identities", acme_caa_identities, n_acme_caa_identities, false, 1,
	       cfg_check_caa_identity),
};
static const struct cfg_section acme_section = SECTION(acme_keys, cfg_check_acme);

/* NAME=VALUE for the hook's environment: a shell variable name that is
 * not one the contract sets, a value without control characters. */
static const char *cfg_check_hook_env(const char *s)
{
	static const char *const reserved[] = {
		"REGZONE_DOMAIN", "REGZONE_CERT_DIR", "REGZONE_ACTION", "REGZONE_SERVICE",
		"REGZONE_POSH_DIR",
	};
	size_t n = strcspn(s, "=");

	if (s[n] != '=' || n == 0 || strchr(CFG_DIGIT, s[0]) != NULL ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" CFG_DIGIT "_") != n)
		return "entries must be NAME=VALUE with NAME of letters, digits and '_'";
	for (const char *v = s + n + 1; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return "values must not contain control characters";
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == n && strncmp(s, reserved[i], n) == 0)
			return "must not set a variable regzone sets itself (REGZONE_DOMAIN, "
			       "REGZONE_CERT_DIR, REGZONE_ACTION, REGZONE_SERVICE, REGZONE_POSH_DIR)";
	return NULL;
}

enum { CERT_AUTO, CERT_DIR, CERT_GROUP, CERT_HOOK, CERT_HOOK_TIMEOUT, CERT_HOOK_FAILURES,
       CERT_HOOK_ENV, CERT_POSH };
static const struct cfg_key cert_keys[] = {
	[CERT_AUTO] = K_BOOL("auto", cert_auto, true),
	[CERT_DIR] = K_STR("dir", cert_dir, true, NULL),
	[CERT_GROUP] = K_STR("group", cert_group, false, NULL),
	[CERT_HOOK] = K_STR("deploy_hook", deploy_hook, false, NULL),
	[CERT_HOOK_TIMEOUT] = K_UINT("hook_timeout_s", hook_timeout_s, 1, 3600, 60),
	[CERT_HOOK_FAILURES] = K_UINT("hook_max_failures", hook_max_failures, 1, 1000, 10),
	[CERT_HOOK_ENV] = K_LIST("hook_env", hook_env, n_hook_env, false, 0, cfg_check_hook_env),
	[CERT_POSH] = K_BOOL("posh", cert_posh, false),
};

static int cfg_check_cert(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                          const char *name, void *base)
{
	struct rz_config *cfg = base;

	(void)where;
	(void)name;
	for (size_t i = 0; i < cfg->n_hook_env; i++) {
		size_t n = strcspn(cfg->hook_env[i], "=");

		for (size_t j = 0; j < i; j++)
			if (strncmp(cfg->hook_env[j], cfg->hook_env[i], n + 1) == 0)
				return cfg_err(c, seen->val[CERT_HOOK_ENV]->start_mark, RZ_ECONFIG,
				               "'hook_env' sets %.*s twice", (int)n, cfg->hook_env[i]);
	}
	if (seen->val[CERT_GROUP] != NULL)
		return cfg_group(c, seen->val[CERT_GROUP], "group", cfg->cert_group, &cfg->cert_gid);
	return 0;
}
static const struct cfg_section cert_section = SECTION(cert_keys, cfg_check_cert);

/* Parameters: name -> { type, default }. */
#define P_OFF(f) offsetof(struct zg_param, f)
enum { PARAM_TYPE, PARAM_DEFAULT };
static const struct cfg_key param_keys[] = {
	[PARAM_TYPE] = { .name = "type", .type = CT_ENUM, .off = P_OFF(type), .required = true,
	                 .conv = cfg_conv_ptype, .hint = "hostname, ipv4, ipv6 or text" },
	[PARAM_DEFAULT] = { .name = "default", .type = CT_STRING, .off = P_OFF(def) },
};

static int cfg_check_param(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                           const char *name, void *base)
{
	const struct zg_param *p = base;
	char why[256] = "";
	int ret;

	(void)where;
	(void)name;
	if (p->def == NULL)
		return 0;
	if ((ret = zg_param_value_check(p->type, p->def, why, sizeof(why))) != 0)
		return cfg_err(c, seen->val[PARAM_DEFAULT]->start_mark, ret,
		               "invalid default for parameter '%s': %s", p->name, why);
	return 0;
}
static const struct cfg_section param_section = SECTION(param_keys, cfg_check_param);

/* Record templates.  The rows are indexed so that masks can name them. */
#define R_OFF(f) offsetof(struct zg_rtmpl, f)
#define R_SIZE(f) sizeof(((struct zg_rtmpl *)0)->f)
enum {
	REC_OWNER, REC_TYPE, REC_TTL, REC_PRIORITY, REC_WEIGHT, REC_PORT, REC_FLAGS,
	REC_TARGET, REC_ADDRESS, REC_TEXT, REC_TAG, REC__MAX
};
static const struct cfg_key record_keys[REC__MAX] = {
	[REC_OWNER] = { .name = "owner", .type = CT_STRING, .off = R_OFF(owner), .required = true },
	[REC_TYPE] = { .name = "type", .type = CT_ENUM, .off = R_OFF(type), .required = true,
	               .conv = cfg_conv_rtype, .hint = "A, AAAA, CNAME, SRV, TXT, MX or CAA" },
	[REC_TTL] = { .name = "ttl", .type = CT_UINT, .off = R_OFF(ttl), .size = R_SIZE(ttl),
	              .min = 60, .max = 604800 },
	[REC_PRIORITY] = { .name = "priority", .type = CT_UINT, .off = R_OFF(priority),
	                   .size = R_SIZE(priority), .max = 65535 },
	[REC_WEIGHT] = { .name = "weight", .type = CT_UINT, .off = R_OFF(weight),
	                 .size = R_SIZE(weight), .max = 65535 },
	[REC_PORT] = { .name = "port", .type = CT_UINT, .off = R_OFF(port), .size = R_SIZE(port),
	               .max = 65535 },
	[REC_FLAGS] = { .name = "flags", .type = CT_UINT, .off = R_OFF(flags),
	                .size = R_SIZE(flags), .max = 255 },
	[REC_TARGET] = { .name = "target", .type = CT_STRING, .off = R_OFF(target) },
	[REC_ADDRESS] = { .name = "address", .type = CT_STRING, .off = R_OFF(address) },
	[REC_TEXT] = { .name = "text", .type = CT_STRING, .off = R_OFF(text) },
	[REC_TAG] = { .name = "tag", .type = CT_STRING, .off = R_OFF(tag) },
};

#define B(k) (1u << (k))
/* Keys each record type takes beside owner, type and ttl, and those it needs. */
static const struct { unsigned allow, need; } record_fields[ZG_RR__MAX] = {
	[ZG_RR_A] = { B(REC_ADDRESS), B(REC_ADDRESS) },
	[ZG_RR_AAAA] = { B(REC_ADDRESS), B(REC_ADDRESS) },
	[ZG_RR_CNAME] = { B(REC_TARGET), B(REC_TARGET) },
	[ZG_RR_SRV] = { B(REC_PRIORITY) | B(REC_WEIGHT) | B(REC_PORT) | B(REC_TARGET),
	                B(REC_PRIORITY) | B(REC_WEIGHT) | B(REC_PORT) | B(REC_TARGET) },
	[ZG_RR_TXT] = { B(REC_TEXT), B(REC_TEXT) },
	[ZG_RR_MX] = { B(REC_PRIORITY) | B(REC_TARGET), B(REC_PRIORITY) | B(REC_TARGET) },
	[ZG_RR_CAA] = { B(REC_FLAGS) | B(REC_TAG) | B(REC_TEXT), B(REC_TAG) | B(REC_TEXT) },
};
#define RECORD_ALWAYS (B(REC_OWNER) | B(REC_TYPE) | B(REC_TTL))

static int cfg_check_record(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                            const char *name, void *base)
{
	const struct zg_rtmpl *r = base;
	const char *tname = zg_rtype_name(r->type);
	unsigned allow, need;

	(void)name;
	if (tname == NULL)
		return cfg_err(c, where, RZ_ECONFIG, "invalid record type");
	allow = record_fields[r->type].allow | RECORD_ALWAYS;
	need = record_fields[r->type].need;
	for (size_t i = 0; i < REC__MAX; i++) {
		if (seen->key[i] != NULL && !(allow & B(i)))
			return cfg_err(c, seen->key[i]->start_mark, RZ_ECONFIG,
			               "'%s' does not apply to a %s record", record_keys[i].name, tname);
	}
	for (size_t i = 0; i < REC__MAX; i++) {
		if (seen->key[i] == NULL && (need & B(i)))
			return cfg_err(c, where, RZ_ECONFIG, "%s record needs '%s'", tname,
			               record_keys[i].name);
	}
	return 0;
}
static const struct cfg_section record_section = SECTION(record_keys, cfg_check_record);

/* Profiles: name -> { service, ttl, params, records, certificate }. */
#define PR_OFF(f) offsetof(struct zg_profile, f)
enum { PROF_SERVICE, PROF_TTL, PROF_PARAMS, PROF_RECORDS, PROF_CERTIFICATE };
static const struct cfg_key profile_keys[] = {
	[PROF_SERVICE] = { .name = "service", .type = CT_STRING, .off = PR_OFF(service),
	                   .required = true },
	[PROF_TTL] = { .name = "ttl", .type = CT_UINT, .off = PR_OFF(ttl),
	               .size = sizeof(uint32_t), .min = 60, .max = 604800, .def = 3600 },
	[PROF_PARAMS] = { .name = "params", .type = CT_PARAMS, .off = PR_OFF(params),
	                  .off_n = PR_OFF(n_params), .sub = &param_section },
	[PROF_RECORDS] = { .name = "records", .type = CT_RECORDS, .required = true, .min = 1,
	                   .sub = &record_section },
	[PROF_CERTIFICATE] = { .name = "certificate", .type = CT_STRLIST,
	                       .off = PR_OFF(cert_names), .off_n = PR_OFF(n_cert_names) },
};

/* Records are checked once the whole profile is in, as they may name
 * parameters declared further down. */
static int cfg_check_profile(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                             const char *name, void *base)
{
	const struct zg_profile *p = base;
	const yaml_node_t *recs = seen->val[PROF_RECORDS];
	char why[256] = "";
	int ret;

	(void)name;
	for (size_t i = 0; i < p->n_records; i++) {
		const yaml_node_t *item = cfg_node(c, recs->data.sequence.items.start[i]);

		if ((ret = zg_rtmpl_check(p, &p->records[i], why, sizeof(why))) != 0)
			return cfg_err(c, item->start_mark, ret, "%s", why);
	}
	if ((ret = zg_profile_check(p, why, sizeof(why))) != 0)
		return cfg_err(c, where, ret, "%s", why);
	return 0;
}
static const struct cfg_section profile_section = SECTION(profile_keys, cfg_check_profile);

/* What daemon/retention.c trims, after how many days (0: never). */
static const struct cfg_key audit_keys[] = {
	K_UINT("retention_days", audit_retention_days, 0, 36500, 400),
};
static const struct cfg_section audit_section = SECTION(audit_keys, NULL);

/* An event id is what makes a re-sent request harmless: it must outlive
 * any re-send a registrar may still make. */
static int cfg_check_events(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                            const char *name, void *base)
{
	const struct rz_config *cfg = base;
	uint32_t d = cfg->events_retention_days;
	yaml_mark_t m = seen->val[0] != NULL ? seen->val[0]->start_mark : where;

	if (d != 0 && d < RZ_EVENTS_RETENTION_MIN)
		return cfg_err(c, m, RZ_ECONFIG, "'%s.retention_days' (%u) must be 0 (kept "
		               "forever) or at least %u: a registrar that re-sends a request must "
		               "still find its id", name, d, RZ_EVENTS_RETENTION_MIN);
	return 0;
}

static const struct cfg_key events_keys[] = {
	K_UINT("retention_days", events_retention_days, 0, 36500, 90),
};
static const struct cfg_section events_section = SECTION(events_keys, cfg_check_events);

enum {
	TOP_LISTEN, TOP_DATABASE, TOP_KNOT, TOP_DNS, TOP_ACME, TOP_CERTIFICATES, TOP_WORKERS,
	TOP_LOG_LEVEL, TOP_DEFAULT_PROFILE, TOP_PROFILES, TOP_METRICS, TOP_STEP_TIMEOUT,
	TOP_AUDIT, TOP_EVENTS
};
static const struct cfg_key top_keys[] = {
	[TOP_LISTEN] = K_SECTION("listen", listen_section, false),
	[TOP_DATABASE] = K_SECTION("database", database_section, true),
	[TOP_KNOT] = K_SECTION("knot", knot_section, true),
	[TOP_DNS] = K_SECTION("dns", dns_section, true),
	[TOP_ACME] = K_SECTION("acme", acme_section, true),
	[TOP_CERTIFICATES] = K_SECTION("certificates", cert_section, true),
	[TOP_WORKERS] = K_UINT("workers", workers, 0, 64, 4),
	[TOP_LOG_LEVEL] = { .name = "log_level", .type = CT_WORD, .off = C_OFF(log_level),
	                    .def_name = "info", .names = log_level_names,
	                    .hint = "error, warning, info or debug" },
	[TOP_DEFAULT_PROFILE] = K_STR("default_profile", default_profile, true, NULL),
	[TOP_PROFILES] = { .name = "profiles", .type = CT_PROFILES, .off = C_OFF(profiles),
	                   .off_n = C_OFF(n_profiles), .required = true, .min = 1,
	                   .sub = &profile_section },
	[TOP_METRICS] = K_SECTION("metrics", metrics_section, false),
	[TOP_STEP_TIMEOUT] = K_UINT("step_timeout_s", step_timeout_s, 10, 86400, 300),
	[TOP_AUDIT] = K_SECTION("audit", audit_section, false),
	[TOP_EVENTS] = K_SECTION("events", events_section, false),
};

static int cfg_check_top(struct cfg_ctx *c, const struct cfg_seen *seen, yaml_mark_t where,
                         const char *name, void *base)
{
	struct rz_config *cfg = base;
	int ret;

	(void)name;
	/* An absent listen section means the default ipc:// endpoints. */
	if (seen->val[TOP_LISTEN] == NULL &&
	    (ret = cfg_check_listen(c, NULL, where, "listen", cfg)) != 0)
		return ret;
	if ((ret = cfg_check_primaries(c, seen->key[TOP_DNS], seen->val[TOP_DNS], cfg)) != 0)
		return ret;
	if (cfg->acme_psl == NULL && (cfg->acme_psl = strdup(RZ_DEFAULT_PSL)) == NULL)
		return cfg_err(c, where, RZ_ENOMEM, "out of memory");
	if (rz_config_profile(cfg, NULL) == NULL)
		return cfg_err(c, seen->val[TOP_DEFAULT_PROFILE]->start_mark, RZ_ECONFIG,
		               "default_profile '%.64s' is not a defined profile",
		               cfg->default_profile);
	/* A step may run the hook: a worker busy longer than the hook may take
	 * is wedged, not slow.  Unset: 300 s, or a minute more than the hook. */
	if (seen->val[TOP_STEP_TIMEOUT] == NULL && cfg->step_timeout_s <= cfg->hook_timeout_s + 60)
		cfg->step_timeout_s = cfg->hook_timeout_s + 60;
	if (cfg->step_timeout_s <= cfg->hook_timeout_s)
		return cfg_err(c, seen->val[TOP_STEP_TIMEOUT] != NULL ?
		               seen->val[TOP_STEP_TIMEOUT]->start_mark : where, RZ_ECONFIG,
		               "step_timeout_s (%u) must be longer than certificates.hook_timeout_s "
		               "(%u)", cfg->step_timeout_s, cfg->hook_timeout_s);
	return 0;
}
const struct cfg_section cfg_top_section = SECTION(top_keys, cfg_check_top);

