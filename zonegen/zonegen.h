/*
 * zonegen.h - domain names, profiles -> record sets, and their zone-text
 * rendering.
 *
 * A profile is data the caller builds (regzone's from its configuration):
 * a list of record templates whose string fields may reference declared
 * parameters as "{name}" (and the built-in "{domain}").  zg_expand() fills
 * the parameters for one domain, validates every value by the kind of
 * field it lands in, and produces records whose owner and rdata are fully
 * qualified, lowercase and free of anything Knot's zone parser could read
 * as syntax.
 *
 * Nothing here allocates; zg_profile_clear() frees what a profile owns.
 * Errors are ZG_E* codes (zonegen/zg_err.h).  A function with an err
 * buffer writes the reason there on error (nothing when err is NULL
 * or errlen is 0, cut to errlen bytes otherwise).
 */
#ifndef ZONEGEN_H
#define ZONEGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zonegen/zg_err.h"

#define ZG_DNAME_LEN   253   /* longest name in text, without the final dot */
#define ZG_OWNER_SIZE  (ZG_DNAME_LEN + 2)  /* with trailing dot and NUL */
#define ZG_TEXT_LEN    255   /* one TXT character-string / CAA value / text parameter */
/*
 * Longest TXT text a profile may produce, in bytes before escaping; it is
 * published as ceil(len / ZG_TEXT_LEN) character-strings (RFC 1035 3.3.14,
 * RFC 7208 3.3).  The wire limit is far away (65535 bytes of rdata, about
 * 65279 bytes of text): 1024 holds an RSA-4096 DKIM key or a long SPF
 * record, and keeps one such record well inside the 1232-byte EDNS buffer
 * (DNS flag day 2020), so that neither resolvers nor regzone's own checks
 * need TCP for it.
 */
#define ZG_TXT_MAX     1024
/* rdata in presentation form: the worst TXT ('"' or '\' in every byte,
 * 2 * ZG_TXT_MAX, plus quotes and spaces) with room to spare, so that no
 * generated record ever fills a buffer a longer one was cut to. */
#define ZG_DATA_SIZE   (2 * ZG_TXT_MAX + 64)
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
 *   SRV       priority weight port target ("." with 0 0 0: no such service,
 *             RFC 2782, RFC 6186 3.4)
 *   MX        priority(preference) target(exchange) ("." with 0: null MX,
 *             RFC 7505)
 *   TXT       text (raw bytes, escaped and split when rendered)
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
/* Type from its mnemonic, case-insensitive, into *out; 0, or ZG_ENOENT
 * (also for a NULL name) with *out untouched. */
int zg_rtype_from_name(const char *name, enum zg_rtype *out);
/* Name of a parameter kind ("hostname", "ipv4", "ipv6", "text"), or NULL
 * for an invalid value. */
const char *zg_ptype_name(enum zg_ptype t);
/* Kind from its name, case-sensitive, into *out; 0, or ZG_ENOENT (also
 * for a NULL name) with *out untouched. */
int zg_ptype_from_name(const char *name, enum zg_ptype *out);

/*
 * Validate a domain name a customer asks for and, when out is not NULL,
 * write its normal form (lowercase, no trailing dot) to out (outlen
 * bytes; ZG_OWNER_SIZE always suffice).
 * Rules: ASCII letters-digits-hyphen labels of 1..63 bytes, no leading or
 * trailing hyphen, "xn--" A-labels allowed when their Punycode decodes
 * (to non-ASCII code points that are valid Unicode) but no other "??--"
 * label, at least two labels, at most 253 characters, TLD not
 * all-numeric; one trailing dot is accepted.
 * Returns 0, or ZG_EDNAME with the reason in err: in is NULL, breaks a
 * rule, or does not fit outlen.
 */
int zg_dname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Same rules and results for a host name inside a profile (targets,
 * exchanges); only the messages differ ("host name"). */
int zg_hostname_check(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/* Same rules for a CNAME target, except that labels may also hold '_':
 * a CNAME may point at a name that is no host, as DKIM delegation does
 * (SELECTOR._domainkey.example.org to SELECTOR._domainkey.provider, RFC
 * 6376 3.6.2.1; service labels, RFC 8552).  SRV and MX targets stay host
 * names (RFC 2782, RFC 5321 5.1). */
int zg_alias_check(const char *in, char *out, size_t outlen, char *err, size_t errlen);

/*
 * The zones that may hold a domain, nearest first: the domain itself,
 * then each parent that still has two labels or more (a registrar serves
 * registered domains, never a TLD on its own).  Start with the domain;
 * each call gives the next candidate (a suffix of name), NULL after the
 * last.  A name of one label has no candidate: zg_zone_first() is NULL.
 */
const char *zg_zone_first(const char *domain);
const char *zg_zone_next(const char *cand);

/*
 * Validate a value for a parameter kind: a host name by
 * zg_hostname_check(), an IPv4 or IPv6 address by inet_pton(), text of at
 * most ZG_TEXT_LEN printable ASCII characters without '"', '\', ';', '('
 * or ')'.  Returns 0, or ZG_EINVAL with the reason in err (also for a
 * NULL val or an unknown kind).  A request's text stays this strict even
 * though TXT text may hold more (zg_txt_data()): a ';' in a value would
 * add a tag of its own to an SPF, DMARC or MTA-STS record.
 */
int zg_param_value_check(enum zg_ptype type, const char *val, char *err, size_t errlen);

/*
 * TXT text -> its rdata in presentation form, into out (outlen bytes;
 * ZG_DATA_SIZE always suffice).  text is the raw value: 0..ZG_TXT_MAX
 * printable ASCII bytes (0x20..0x7e), '"', '\', ';', '(' and ')'
 * included.  It is cut into character-strings of ZG_TEXT_LEN bytes (the
 * last one shorter; an empty text is one empty string), each written in
 * double quotes with '"' and '\' escaped by '\', separated by one space:
 * exactly how Knot prints the record back (zone-get, and the DNS answers
 * of dnscheck.h), so that published and generated records compare equal.
 * Cutting happens before escaping, so no escape is ever split.
 * Returns 0, or ZG_EINVAL (NULL text, a control or non-ASCII byte) or
 * ZG_ETOOLONG (more than ZG_TXT_MAX bytes, or outlen too small), with the
 * reason in err.
 */
int zg_txt_data(const char *text, char *out, size_t outlen, char *err, size_t errlen);

/*
 * Check one record template of a profile: the type, owner syntax ("@" or
 * labels of letters, digits, '-' and '_'), forbidden owners
 * (_xmppconnect), exactly the fields its type needs, "{param}" references
 * declared in p, literal (unreferenced) values, the CAA tag and flags, the
 * TTL (0, or 60..604800).  A target is a host name, or "." for SRV (then
 * priority, weight and port 0) and MX (then preference 0); TXT text is
 * what zg_txt_data() takes, CAA text what a text parameter may hold
 * plus ';' and '=' (RFC 8657 parameters: only the profile's literal text
 * can bring them, never a request's value), an issue/issuewild value in
 * RFC 8659's syntax.
 * Meant for a loader that reports at the record's line.  Returns 0, or
 * ZG_EINVAL with the reason in err.
 */
int zg_rtmpl_check(const struct zg_profile *p, const struct zg_rtmpl *r,
                   char *err, size_t errlen);

/*
 * Whole-profile checks after every record passed zg_rtmpl_check(): 1 to
 * ZG_MAX_RECORDS records, at most ZG_MAX_PARAMS parameters, each declared
 * once, no CNAME beside other data of the profile or at the apex, no
 * null MX or "." SRV beside another MX or SRV of its owner (RFC 7505 3.3:
 * "no mail" is the only answer), records
 * of one owner and type with one TTL, at most ZG_MAX_CERT_NAMES
 * certificate names, each a host-name owner listed once.
 * Returns 0, or ZG_EINVAL with the reason in err.
 */
int zg_profile_check(const struct zg_profile *p, char *err, size_t errlen);

/*
 * Expand profile p for domain, which is validated and normalised with
 * zg_dname_check() first.  params/n_params are the request's values: too
 * many, unnamed, unknown, repeated or invalid ones are refused, missing
 * ones take the default or are refused.  So is a templated value that
 * turns out invalid where it lands (a target, an address, a text).
 * Fills out[0..*n_out) in profile order; out needs room for p->n_records
 * (ZG_MAX_RECORDS always suffice).  *n_out is 0 on error.
 * Returns 0, or
 *   ZG_EDNAME   invalid domain, a domain equal to the value of one of
 *               the profile's host-name parameters (the hosting target
 *               itself), an owner name too long under domain, a CNAME
 *               that would point at itself;
 *   ZG_EPARAM   a refused or missing parameter, as above;
 *   ZG_EINVAL   more than ZG_MAX_RECORDS records, an unterminated '{', an
 *               invalid record type (a profile zg_rtmpl_check() and
 *               zg_profile_check() refuse);
 *   ZG_ETOOLONG an expanded value or a record's data too long.
 */
int zg_expand(const struct zg_profile *p, const char *domain,
              const struct zg_kv *params, size_t n_params,
              struct zg_rr *out, size_t *n_out, char *err, size_t errlen);

/*
 * The built-in variables besides {domain}, filled by the caller:
 *   {acme_account_uri}  the URL of regzone's ACME account (RFC 8657
 *                       accounturi), in a record's text only (a CAA
 *                       "ca; accounturi={acme_account_uri}"); NULL while
 *                       the caller does not know it.
 * ZG_ACCOUNT_URI_PLACEHOLDER stands for it where no account is at hand
 * (a request's dry run, regzonectl preview and diff): a URL of the
 * reserved TLD .invalid, which no CA's account ever has.
 */
struct zg_builtins {
	const char *acme_account_uri;
};
#define ZG_ACCOUNT_URI_PLACEHOLDER "https://acme-account.invalid/not-known-to-regzonectl"

/*
 * zg_expand() with the built-ins b.  zg_expand() is zg_expand_with(b =
 * NULL): a profile that uses {acme_account_uri} then gets ZG_EAGAIN
 * ("waiting for the ACME account"), as it does when b->acme_account_uri
 * is NULL.  The value is checked as an accounturi (printable ASCII, no
 * space, no ';', no quote, backslash or parenthesis: ZG_EINVAL).
 */
int zg_expand_with(const struct zg_profile *p, const char *domain, const struct zg_builtins *b,
                   const struct zg_kv *params, size_t n_params,
                   struct zg_rr *out, size_t *n_out, char *err, size_t errlen);

/* Does a record of p use {acme_account_uri}? */
bool zg_profile_uses_account_uri(const struct zg_profile *p);

/*
 * The certificate's names for domain (used as given, lowercased), FQDN
 * without trailing dot, in profile order; out has room for
 * ZG_MAX_CERT_NAMES names.  *n_out is 0 on error.
 * Returns 0, ZG_ERANGE (more than ZG_MAX_CERT_NAMES names) or ZG_EDNAME
 * (a name longer than ZG_DNAME_LEN).
 */
int zg_cert_names(const struct zg_profile *p, const char *domain,
                  char out[][ZG_OWNER_SIZE], size_t *n_out);

/* One record in zone-file syntax, "owner ttl IN TYPE data\n", into buf.
 * Returns 0, ZG_EINVAL (invalid type) or ZG_ETOOLONG (buflen too small). */
int zg_rr_format(const struct zg_rr *rr, char *buf, size_t buflen);
/* Write records as zone text, one per line, stopping at the first error.
 * Returns 0, an error of zg_rr_format(), or ZG_EIO (fputs() failed). */
int zg_render(const struct zg_rr *rrs, size_t n, FILE *out);

/* Free everything a profile owns (not the struct itself) and zero it;
 * NULL is fine. */
void zg_profile_clear(struct zg_profile *p);

#endif
