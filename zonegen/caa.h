/*
 * caa.h - CAA records (RFC 8659) read and judged the way a CA judges them,
 * with the account and method parameters of RFC 8657: may this CA issue?
 *
 * Pure functions: no I/O, no global state.  Finding the relevant RRset
 * (the climb from a name toward the root) is the caller's business (it
 * asks the servers); zg_caa_eval() judges the RRset it found.
 *
 * Errors are ZG_E* codes (zonegen/zg_err.h) with a one-line message in the
 * caller's err buffer.
 */
#ifndef ZONEGEN_CAA_H
#define ZONEGEN_CAA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zonegen/zonegen.h"

#define ZG_CAA_FLAG_CRITICAL 128   /* the Issuer Critical Flag (RFC 8659 4.1) */
#define ZG_CAA_TAG_SIZE 16         /* 1..15 letters and digits */
#define ZG_CAA_VALUE_SIZE ZG_DATA_SIZE

/* One CAA record, parsed. */
struct zg_caa {
	uint8_t flags;
	char tag[ZG_CAA_TAG_SIZE];           /* lowercase */
	char value[ZG_CAA_VALUE_SIZE];       /* unescaped */
};

/*
 * A CAA record's rdata in presentation form, as dnscheck.h renders answers
 * (FLAGS TAG "VALUE", '"' and '\' escaped with '\', other bytes as \DDD),
 * into *out.  Returns 0, or ZG_ESYNTAX (not that form) or ZG_ETOOLONG
 * with err.
 */
int zg_caa_parse(const char *data, struct zg_caa *out, char *err, size_t errlen);

/* The value of an issue or issuewild property (RFC 8659 4.2, RFC 8657). */
struct zg_caa_issue {
	char issuer[ZG_OWNER_SIZE];   /* "" when none is named (";" or ""): no CA */
	bool has_accounturi;
	char accounturi[ZG_CAA_VALUE_SIZE];
	bool has_methods;
	char methods[ZG_CAA_VALUE_SIZE];   /* the validationmethods value, as written */
};

/*
 * Parse an issue or issuewild value:
 *   issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
 *   parameters  = parameter *WSP ";" *WSP parameter   (one or more)
 *   parameter   = tag *WSP "=" *WSP value   (tag: ALPHA / DIGIT, value: %x21-3A / %x3C-7E)
 * Unknown parameters are accepted (and ignored).  A repeated accounturi or
 * validationmethods is refused.  Returns 0, or ZG_ESYNTAX with err.
 */
int zg_caa_issue_parse(const char *value, struct zg_caa_issue *out, char *err, size_t errlen);

/* Who asks: the CA identities that stand for the CA (acme.caa_identities),
 * the ACME account (its URL, RFC 8657 accounturi; NULL: not known, then a
 * property with accounturi never matches), the validation method used
 * ("dns-01"), and whether the name is a wildcard. */
struct zg_caa_ask {
	const char *const *identities;
	size_t n_identities;
	const char *account_uri;
	const char *method;
	bool wildcard;
};

/*
 * Judge the relevant RRset rrs[0..n) of owner (RFC 8659 section 3: the
 * first non-empty CAA RRset on the climb; n = 0: none was found) for a:
 *   - a property with the critical flag and a tag other than issue,
 *     issuewild and iodef forbids (RFC 8659 4.5); other unknown tags and
 *     iodef are ignored;
 *   - for a wildcard the issuewild properties when there is one, else the
 *     issue properties (and the same for a name that is not one, with
 *     issue only);
 *   - none of those: CAA does not restrict issuance;
 *   - else one of them must name one of a's identities (case-insensitive,
 *     a trailing dot ignored), with accounturi equal to a's account and
 *     validationmethods containing a's method where they are given; an
 *     empty value (";") and a malformed one match no CA.
 * Returns true when the CA may issue.  msg (when msglen > 0) says why
 * not: "CAA at OWNER allows only X" (OWNER without the trailing dot; X
 * the issuers named, each with the parameter that excludes us, or "no
 * CA"), "CAA at OWNER: critical property 'TAG' unknown"; or, when
 * allowed, what allowed it.
 */
bool zg_caa_eval(const struct zg_caa *rrs, size_t n, const char *owner,
                 const struct zg_caa_ask *a, char *msg, size_t msglen);

/*
 * Check the value of an issue/issuewild property a profile publishes
 * (after expansion): zg_caa_issue_parse() must take it, and it must name
 * an issuer that is a host name.  Returns 0 or ZG_EINVAL with err.
 */
int zg_caa_issue_check(const char *value, char *err, size_t errlen);

#endif
