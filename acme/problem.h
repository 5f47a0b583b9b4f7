/*
 * problem.h - ACME error replies: RFC 7807 problem documents
 * (application/problem+json) as RFC 8555 section 6.7 uses them, read
 * strictly into a fixed-size struct, classified for the order scheduler and
 * rendered as one printable line for last_error.
 *
 * What is read (every field type-checked; unknown members are ignored, as
 * RFC 7807 section 3.2 allows extension members):
 *   type         string, optional.  Absent means "about:blank" (RFC 7807
 *                section 4.2); then only the HTTP status says anything.
 *                Must look like a URI: a scheme ("[A-Za-z][A-Za-z0-9+.-]*:")
 *                and then printable ASCII without spaces, at most
 *                ACME_PROBLEM_TYPE_MAX bytes.  "urn:ietf:params:acme:error:"
 *                followed by a registered name is an ACME type (matched
 *                exactly, case-sensitively); anything else is kept as-is
 *                with kind ACME_PT_OTHER.
 *   detail       string, optional.  Sanitised (see below) and cut to
 *                ACME_PROBLEM_DETAIL_MAX bytes ("..." marks a cut): a long
 *                detail is not a reason to lose the type.
 *   status       integer, optional, 100..599.  "400" (a string) or 400.0
 *                are wrong types.
 *   title, instance   strings if present (type-checked, not kept).
 *   identifier   optional object {type, value} (Pebble puts one at the top
 *                level of some problems), same rules as in subproblems.
 *   subproblems  optional array of objects, each with the rules above for
 *                type/detail/status, and identifier {type, value}: both
 *                strings of 1..ACME_IDENT_MAX printable ASCII bytes without
 *                spaces.  Every element is checked; the first
 *                ACME_PROBLEM_MAX_SUB are kept, n_sub_total counts all.
 *                Subproblems of subproblems are not read.
 * The body is at most ACME_PROBLEM_MAX_BYTES; duplicate keys and NUL bytes
 * (\u0000) are refused.
 *
 * Sanitising: bytes outside printable ASCII (0x20..0x7e) become '?', one '?'
 * for a whole UTF-8 sequence, so every string in the struct is safe to log
 * and to store.
 *
 * Classification (acme_problem_class) - what the caller does next:
 *   ACME_PC_RETRY   Transient: send the same request again later, honouring
 *                   Retry-After (acme_retry_after()) or else the caller's
 *                   own backoff.  Not the customer's fault; does not count
 *                   as a failed order.
 *                   - rateLimited: the CA's limits; Retry-After is always
 *                     sent by Let's Encrypt.  Record it in the budget.
 *                   - serverInternal.
 *                   - badNonce: the client retries at once with the nonce of
 *                     the error reply (RFC 8555 section 6.5); it appears
 *                     here only when those retries ran out.
 *                   - any problem whose HTTP status is 5xx or 429, whatever
 *                     its type (the server says it is the server's fault or
 *                     a limit).  A compound problem is RETRY when all of its
 *                     subproblems are.
 *                   Connection failures and timeouts have no problem
 *                   document: the caller classifies those itself (RETRY).
 *   ACME_PC_FAIL    This order (or request) is over: store the rendered
 *                   text as last_error, count a failure, and try again only
 *                   through acme_backoff_ladder() (a customer may fix their
 *                   DNS; a new order then has a chance).
 *                   - validation failures, which the caller also records as
 *                     VALIDATION_FAILED per name for the budget: unauthorized
 *                     (Let's Encrypt's "incorrect TXT record"), caa, dns,
 *                     connection, incorrectResponse, tls.
 *                   - the names or the request: rejectedIdentifier,
 *                     unsupportedIdentifier, malformed, badCSR, compound
 *                     (unless all subproblems are RETRY), invalidProfile
 *                     (profiles draft; Let's Encrypt and Pebble send it).
 *                   - orderNotReady: the order was finalized in the wrong
 *                     state; re-read the order rather than repeating the
 *                     request (a client logic error, not a matter of time).
 *                   - alreadyRevoked: a revocation found it done: the
 *                     caller may treat it as success.
 *                   - badRevocationReason.
 *                   - alreadyReplaced (RFC 9773): the "replaces" field names a
 *                     certificate already replaced: order again without
 *                     "replaces" (and so without the ARI exemption).
 *                   - ACME_PT_OTHER (an unknown type) with a 4xx status or
 *                     no status at all.
 *   ACME_PC_FAIL_ACCOUNT  A FAIL about the account, not the order: every
 *                   order of this account would fail the same way, so stop
 *                   ordering for all customers and tell the operator (or
 *                   re-register for accountDoesNotExist).
 *                   - accountDoesNotExist, externalAccountRequired,
 *                     userActionRequired (new terms of service),
 *                     agreementRequired (the pre-RFC name Pebble 2.4.0 still
 *                     sends), badPublicKey, badSignatureAlgorithm,
 *                     invalidContact, unsupportedContact.
 * The 5xx/429 rule comes first: a problem of any type with such a status is
 * RETRY.  The status used is the HTTP status the caller passes, or the
 * document's own when the caller passes 0.
 */
#ifndef ACME_PROBLEM_H
#define ACME_PROBLEM_H

#include <stddef.h>

#include <jansson.h>

#include "acme/acme_err.h"

#define ACME_PROBLEM_MAX_BYTES  65536  /* largest body read */
#define ACME_PROBLEM_TYPE_MAX   256    /* longest type URI */
#define ACME_PROBLEM_DETAIL_MAX 1024   /* detail kept (cut beyond) */
#define ACME_PROBLEM_SUBDETAIL_MAX 256 /* a subproblem's detail kept */
#define ACME_PROBLEM_MAX_SUB    16     /* subproblems kept */
#define ACME_IDENT_MAX          255    /* identifier type/value */
#define ACME_PROBLEM_TEXT_MAX   512    /* a good buffer for acme_problem_text */

/* "urn:ietf:params:acme:error:" */
#define ACME_ERROR_NS "urn:ietf:params:acme:error:"

/* The registered ACME error types (RFC 8555 section 6.7, RFC 9773 section 7.4,
 * the profiles draft) and the one pre-RFC name Pebble 2.4.0 still uses. */
enum acme_prob_type {
	ACME_PT_OTHER = 0,          /* not an ACME type, or an unknown name */
	ACME_PT_ACCOUNT_DOES_NOT_EXIST,
	ACME_PT_ALREADY_REVOKED,
	ACME_PT_BAD_CSR,
	ACME_PT_BAD_NONCE,
	ACME_PT_BAD_PUBLIC_KEY,
	ACME_PT_BAD_REVOCATION_REASON,
	ACME_PT_BAD_SIGNATURE_ALGORITHM,
	ACME_PT_CAA,
	ACME_PT_COMPOUND,
	ACME_PT_CONNECTION,
	ACME_PT_DNS,
	ACME_PT_EXTERNAL_ACCOUNT_REQUIRED,
	ACME_PT_INCORRECT_RESPONSE,
	ACME_PT_INVALID_CONTACT,
	ACME_PT_MALFORMED,
	ACME_PT_ORDER_NOT_READY,
	ACME_PT_RATE_LIMITED,
	ACME_PT_REJECTED_IDENTIFIER,
	ACME_PT_SERVER_INTERNAL,
	ACME_PT_TLS,
	ACME_PT_UNAUTHORIZED,
	ACME_PT_UNSUPPORTED_CONTACT,
	ACME_PT_UNSUPPORTED_IDENTIFIER,
	ACME_PT_USER_ACTION_REQUIRED,
	ACME_PT_ALREADY_REPLACED,   /* RFC 9773 */
	ACME_PT_INVALID_PROFILE,    /* draft-aaron-acme-profiles */
	ACME_PT_AGREEMENT_REQUIRED, /* pre-RFC draft name; Pebble 2.4.0 */
	ACME_PT__MAX
};

enum acme_prob_class {
	ACME_PC_RETRY,
	ACME_PC_FAIL,
	ACME_PC_FAIL_ACCOUNT,
	ACME_PC__MAX
};

struct acme_identifier {
	char type[ACME_IDENT_MAX + 1];   /* "" when absent */
	char value[ACME_IDENT_MAX + 1];
};

struct acme_subproblem {
	char type[ACME_PROBLEM_TYPE_MAX + 1];   /* "about:blank" when absent */
	enum acme_prob_type kind;
	char detail[ACME_PROBLEM_SUBDETAIL_MAX + 1];  /* sanitised, "" if absent */
	int status;                             /* 0 when absent */
	struct acme_identifier identifier;
};

/* A parsed problem document.  Plain data (about 10 KiB): nothing to free. */
struct acme_problem {
	char type[ACME_PROBLEM_TYPE_MAX + 1];   /* "about:blank" when absent */
	enum acme_prob_type kind;
	char detail[ACME_PROBLEM_DETAIL_MAX + 1];  /* sanitised, "" if absent */
	int status;          /* the document's "status", 0 when absent */
	int http_status;     /* what the caller passed (0: unknown) */
	struct acme_identifier identifier;      /* top-level, "" when absent */
	struct acme_subproblem sub[ACME_PROBLEM_MAX_SUB];
	size_t n_sub;        /* kept */
	size_t n_sub_total;  /* in the document */
};

/*
 * Parse body[0..len) (not NUL-terminated) into *out.  http_status is the
 * reply's HTTP status, or 0 if unknown.  Returns 0, or
 *   ACME_EINVAL    NULL body/out, or http_status not 0 and not 100..599;
 *   ACME_ETOOLONG  len > ACME_PROBLEM_MAX_BYTES, type longer than
 *                  ACME_PROBLEM_TYPE_MAX, an identifier longer than
 *                  ACME_IDENT_MAX;
 *   ACME_ESYNTAX   not JSON (also an integer too big for JSON, e.g. a status
 *                  of 20 digits), duplicate keys, NUL bytes, a type that is not a
 *                  URI, an identifier with bytes outside printable ASCII or
 *                  spaces, or empty;
 *   ACME_ETYPE     not an object, or a field of the wrong JSON type (also a
 *                  subproblem or identifier that is not an object);
 *   ACME_ENOENT    an identifier without type or value;
 *   ACME_ERANGE    status outside 100..599;
 *   ACME_ENOMEM.
 * On error *out is zeroed except http_status, and type is "about:blank", so
 * acme_problem_class() still gives the answer of the HTTP status alone.
 */
ACME_MUSTCHECK
int acme_problem_parse(const char *body, size_t len, int http_status, struct acme_problem *out);

/*
 * The same for a problem object already parsed: the "error" member of a
 * challenge, an authorization or an order (RFC 8555 sections 7.1.3, 7.1.6,
 * 8), which is a problem document inside the CA's JSON.  http_status as
 * above (0 for an embedded error: the reply itself was a 200).  Same rules
 * and returns, without the body-level ones (no ACME_ESYNTAX for bad JSON: it
 * is already JSON; ACME_EINVAL for obj NULL).  obj is only read.
 */
ACME_MUSTCHECK
int acme_problem_from_json(const json_t *obj, int http_status, struct acme_problem *out);

/* The kind of a type URI: exact match of ACME_ERROR_NS + a registered name;
 * ACME_PT_OTHER otherwise (also for NULL). */
enum acme_prob_type acme_problem_kind(const char *type);

/* The registered name ("rateLimited"); NULL for ACME_PT_OTHER or out of range. */
const char *acme_problem_kind_name(enum acme_prob_type kind);

/* What to do about it (see the table above). */
enum acme_prob_class acme_problem_class(const struct acme_problem *p);

/* "retry", "fail", "fail-account"; NULL out of range. */
const char *acme_problem_class_name(enum acme_prob_class c);

/*
 * One printable ASCII line for last_error, at most size - 1 bytes, always
 * NUL-terminated, "..." at the end when cut:
 *   TYPE[: DETAIL] [(status N)][; subproblem: [IDTYPE:IDVALUE ]TYPE[: DETAIL]]...[; +K more]
 * e.g. "urn:ietf:params:acme:error:rejectedIdentifier: Error creating new
 * order (status 400); subproblem: dns:bad.example urn:...:rejectedIdentifier:
 * forbidden".  The status shown is the HTTP one when known.  Returns 0, or
 * ACME_EINVAL for NULL p/buf or size < 4.
 */
int acme_problem_text(const struct acme_problem *p, char *buf, size_t size);

#endif
