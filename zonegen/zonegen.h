/*
 * zonegen.h - profiles -> record sets, and their zone-text rendering.
 *
 * A profile is data from the configuration: a list of record templates whose
 * string fields may reference declared parameters as "{name}" (and the
 * built-in "{domain}").  zg_expand() fills the parameters for one domain,
 * validates every value by the kind of field it lands in, and produces
 * records whose owner and rdata are fully qualified, lowercase and free of
 * anything Knot's zone parser could read as syntax.
 *
 * Nothing here allocates except zg_profile_free(); errors are RZ_E* codes
 * from daemon/rz_err.h with a human message in the caller's buffer.
 */
#ifndef ZONEGEN_H
#define ZONEGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ZG_DNAME_LEN   253   /* longest name in text, without the final dot */
#define ZG_OWNER_SIZE  (ZG_DNAME_LEN + 2)  /* with trailing dot and NUL */
#define ZG_TEXT_LEN    255   /* one TXT character-string / CAA value */
#define ZG_DATA_SIZE   (ZG_TEXT_LEN + ZG_DNAME_LEN + 32)
#define ZG_MAX_RECORDS 64    /* records one profile may produce */
#define ZG_MAX_PARAMS  16
#define ZG_MAX_CERT_NAMES 16

/* Record types a profile may contain. */
enum zg_rtype {
	ZG_RR_A,
	ZG_RR_AAAA,
	ZG_RR_CNAME,
	ZG_RR_SRV,
	ZG_RR_TXT,
	ZG_RR_MX,
	ZG_RR_CAA,
	ZG_RR__MAX
};

/* Kinds of value a parameter holds; each is validated before use. */
enum zg_ptype {
	ZG_P_HOSTNAME,  /* a domain name (LDH labels), written FQDN */
	ZG_P_IPV4,
	ZG_P_IPV6,
	ZG_P_TEXT,      /* printable ASCII, no quote, backslash or ';' */
	ZG_P__MAX
};

struct zg_param {
	char *name;         /* [a-z][a-z0-9_]*, at most 32 chars */
	enum zg_ptype type;
	char *def;          /* default value, NULL when the request must give it */
};

/*
 * One record of a profile.  Which fields matter depends on the type:
 *   A, AAAA   address
 *   CNAME     target
 *   SRV       priority weight port target
 *   MX        priority(preference) target(exchange)
 *   TXT       text
 *   CAA       flags tag text(value)
 * String fields may contain "{param}" references.
 */
struct zg_rtmpl {
	char *owner;        /* relative to the domain: "@" or labels */
	enum zg_rtype type;
	uint32_t ttl;       /* 0: the profile's ttl */
	char *target;
	char *address;
	char *text;
	char *tag;
	uint16_t priority;
	uint16_t weight;
	uint16_t port;
	uint8_t flags;
};

struct zg_profile {
	char *name;
	char *service;      /* "xmpp" */
	uint32_t ttl;
	struct zg_param *params;
	size_t n_params;
	struct zg_rtmpl *records;
	size_t n_records;
	char **cert_names;  /* relative owners the certificate covers ("@", ...) */
	size_t n_cert_names;
};

/* A parameter value given by a request. */
struct zg_kv {
	const char *key;
	const char *val;
};

/* One generated record, ready for Knot's zone-set or a zone file. */
struct zg_rr {
	char owner[ZG_OWNER_SIZE];  /* FQDN, lowercase, trailing dot */
	uint32_t ttl;
	enum zg_rtype type;
	char data[ZG_DATA_SIZE];    /* presentation format, names FQDN */
};

/* Mnemonic of a record type ("SRV"), or NULL for an invalid value. */
const char *zg_rtype_name(enum zg_rtype t);
/* Type from its mnemonic, case-insensitive; 0 or RZ_ENOENT. */
int zg_rtype_from_name(const char *name, enum zg_rtype *out);
const char *zg_ptype_name(enum zg_ptype t);
int zg_ptype_from_name(const char *name, enum zg_ptype *out);

/*
 * Validate a domain name a customer asks for and write its normal form
 * (lowercase, no trailing dot) to out (at least ZG_OWNER_SIZE bytes).
 * Rules: ASCII letters-digits-hyphen labels of 1..63 bytes, no leading or
 * trailing hyphen, "xn--" A-labels allowed but no other "??--" label, at
 * least two labels, at most 253 characters, TLD not all-numeric; one
 * trailing dot is accepted.  Returns 0 or RZ_EDNAME with the reason in err.
 */
int zg_dname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Same rules for a host name inside a profile (targets, exchanges). */
int zg_hostname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Validate a value for a parameter kind. 0 or RZ_EINVAL with reason. */
int zg_param_value_check(enum zg_ptype type, const char *val, char *err, size_t errlen);

/*
 * Check one record template of a profile: owner syntax, forbidden owners
 * (_xmppconnect), the fields its type needs, "{param}" references declared
 * in p.  Used by the configuration loader to report at the record's line.
 */
int zg_rtmpl_check(const struct zg_profile *p, const struct zg_rtmpl *r,
                   char *err, size_t errlen);

/* Whole-profile checks after every record passed zg_rtmpl_check(): no
 * CNAME beside other data, at most ZG_MAX_RECORDS, certificate names. */
int zg_profile_check(const struct zg_profile *p, char *err, size_t errlen);

/*
 * Expand profile p for domain (already normalised by zg_dname_check()).
 * params/n_params are the request's values: unknown keys and invalid values
 * are refused (RZ_EPARAM), missing ones take the default or are refused.
 * Fills out[0..*n_out) (room for ZG_MAX_RECORDS) in profile order.
 * Refuses (RZ_EDNAME) a domain that equals or contains a hosting target.
 */
int zg_expand(const struct zg_profile *p, const char *domain,
              const struct zg_kv *params, size_t n_params,
              struct zg_rr *out, size_t *n_out, char *err, size_t errlen);

/* The certificate's names for domain, FQDN without trailing dot, in
 * profile order; out has room for ZG_MAX_CERT_NAMES names. */
int zg_cert_names(const struct zg_profile *p, const char *domain,
                  char out[][ZG_OWNER_SIZE], size_t *n_out);

/* One record in zone-file syntax: "owner ttl IN TYPE data\n". */
int zg_rr_format(const struct zg_rr *rr, char *buf, size_t buflen);
/* Write records as zone text, one per line. */
int zg_render(const struct zg_rr *rrs, size_t n, FILE *out);

/* Free everything a profile owns (not the struct itself). */
void zg_profile_clear(struct zg_profile *p);

#endif
