/* problem.c - RFC 7807 / RFC 8555 section 6.7 problem documents. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "acme/problem.h"
#include "acme/util.h"
#include "acme/acme_err.h"

static const char blank_type[] = "about:blank";

/* Registered names, indexed by kind; the class of each (before the
 * 5xx/429 rule).  One row per type: the header explains each choice. */
static const struct {
	const char *name;
	enum acme_prob_class cls;
} kinds[ACME_PT__MAX] = {
	[ACME_PT_OTHER] = { NULL, ACME_PC_FAIL },
	[ACME_PT_ACCOUNT_DOES_NOT_EXIST] = { "accountDoesNotExist", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_ALREADY_REVOKED] = { "alreadyRevoked", ACME_PC_FAIL },
	[ACME_PT_BAD_CSR] = { "badCSR", ACME_PC_FAIL },
	[ACME_PT_BAD_NONCE] = { "badNonce", ACME_PC_RETRY },
	[ACME_PT_BAD_PUBLIC_KEY] = { "badPublicKey", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_BAD_REVOCATION_REASON] = { "badRevocationReason", ACME_PC_FAIL },
	[ACME_PT_BAD_SIGNATURE_ALGORITHM] = { "badSignatureAlgorithm", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_CAA] = { "caa", ACME_PC_FAIL },
	[ACME_PT_COMPOUND] = { "compound", ACME_PC_FAIL },
	[ACME_PT_CONNECTION] = { "connection", ACME_PC_FAIL },
	[ACME_PT_DNS] = { "dns", ACME_PC_FAIL },
	[ACME_PT_EXTERNAL_ACCOUNT_REQUIRED] = { "externalAccountRequired", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_INCORRECT_RESPONSE] = { "incorrectResponse", ACME_PC_FAIL },
	[ACME_PT_INVALID_CONTACT] = { "invalidContact", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_MALFORMED] = { "malformed", ACME_PC_FAIL },
	[ACME_PT_ORDER_NOT_READY] = { "orderNotReady", ACME_PC_FAIL },
	[ACME_PT_RATE_LIMITED] = { "rateLimited", ACME_PC_RETRY },
	[ACME_PT_REJECTED_IDENTIFIER] = { "rejectedIdentifier", ACME_PC_FAIL },
	[ACME_PT_SERVER_INTERNAL] = { "serverInternal", ACME_PC_RETRY },
	[ACME_PT_TLS] = { "tls", ACME_PC_FAIL },
	[ACME_PT_UNAUTHORIZED] = { "unauthorized", ACME_PC_FAIL },
	[ACME_PT_UNSUPPORTED_CONTACT] = { "unsupportedContact", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_UNSUPPORTED_IDENTIFIER] = { "unsupportedIdentifier", ACME_PC_FAIL },
	[ACME_PT_USER_ACTION_REQUIRED] = { "userActionRequired", ACME_PC_FAIL_ACCOUNT },
	[ACME_PT_ALREADY_REPLACED] = { "alreadyReplaced", ACME_PC_FAIL },
	[ACME_PT_INVALID_PROFILE] = { "invalidProfile", ACME_PC_FAIL },
	[ACME_PT_AGREEMENT_REQUIRED] = { "agreementRequired", ACME_PC_FAIL_ACCOUNT },
};

static const char *const class_names[ACME_PC__MAX] = {
	[ACME_PC_RETRY] = "retry",
	[ACME_PC_FAIL] = "fail",
	[ACME_PC_FAIL_ACCOUNT] = "fail-account",
};

enum acme_prob_type acme_problem_kind(const char *type)
{
	const size_t ns = sizeof(ACME_ERROR_NS) - 1;

	if (type == NULL || strncmp(type, ACME_ERROR_NS, ns) != 0)
		return ACME_PT_OTHER;
	for (int k = 1; k < ACME_PT__MAX; k++)
		if (strcmp(type + ns, kinds[k].name) == 0)
			return (enum acme_prob_type)k;
	return ACME_PT_OTHER;
}

const char *acme_problem_kind_name(enum acme_prob_type kind)
{
	if ((int)kind <= ACME_PT_OTHER || kind >= ACME_PT__MAX)
		return NULL;
	return kinds[kind].name;
}

const char *acme_problem_class_name(enum acme_prob_class c)
{
	if ((int)c < 0 || c >= ACME_PC__MAX)
		return NULL;
	return class_names[c];
}

static bool status_retries(int status)
{
	return status == 429 || (status >= 500 && status <= 599);
}

static enum acme_prob_class sub_class(const struct acme_subproblem *s)
{
	if (status_retries(s->status))
		return ACME_PC_RETRY;
	return kinds[s->kind].cls;
}

enum acme_prob_class acme_problem_class(const struct acme_problem *p)
{
	int status;

	if (p == NULL)
		return ACME_PC_FAIL;
	status = p->http_status != 0 ? p->http_status : p->status;
	if (status_retries(status))
		return ACME_PC_RETRY;
	if (p->kind == ACME_PT_COMPOUND && p->n_sub > 0 && p->n_sub == p->n_sub_total) {
		for (size_t i = 0; i < p->n_sub; i++)
			if (sub_class(&p->sub[i]) != ACME_PC_RETRY)
				return ACME_PC_FAIL;
		return ACME_PC_RETRY;
	}
	if ((int)p->kind < 0 || p->kind >= ACME_PT__MAX)
		return ACME_PC_FAIL;
	return kinds[p->kind].cls;
}

/* Copy a JSON string's bytes into dst[0..size), printable ASCII only: one
 * '?' per other byte or UTF-8 sequence.  Cut with "..." when too long. */
static void sanitise(const char *src, size_t len, char *dst, size_t size)
{
	size_t o = 0, i = 0;
	bool cut = false;

	while (i < len) {
		unsigned char c = (unsigned char)src[i];
		char put = (c >= 0x20 && c <= 0x7e) ? (char)c : '?';

		if (c >= 0xc0) {        /* lead byte: skip its continuation bytes */
			i++;
			while (i < len && ((unsigned char)src[i] & 0xc0) == 0x80)
				i++;
		} else {
			i++;
		}
		if (o + 1 >= size) {
			cut = true;
			break;
		}
		dst[o++] = put;
	}
	dst[o] = '\0';
	if (cut && size >= 4)
		memcpy(dst + size - 4, "...", 4);
}

/* A URI as far as we check it: scheme ":" then printable ASCII, no space. */
static bool uri_like(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	while (i < len && s[i] != ':') {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return false;
		i++;
	}
	if (i >= len - 1)   /* no ':' or nothing after it */
		return false;
	for (; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return false;
	return true;
}

static int take_type(const json_t *v, char *dst, enum acme_prob_type *kind)
{
	size_t len;

	if (v == NULL) {
		memcpy(dst, blank_type, sizeof(blank_type));
		*kind = ACME_PT_OTHER;
		return 0;
	}
	if (!json_is_string(v))
		return ACME_ETYPE;
	len = json_string_length(v);
	if (len > ACME_PROBLEM_TYPE_MAX)
		return ACME_ETOOLONG;
	if (!uri_like(json_string_value(v), len))
		return ACME_ESYNTAX;
	memcpy(dst, json_string_value(v), len);
	dst[len] = '\0';
	*kind = acme_problem_kind(dst);
	return 0;
}

static int take_detail(const json_t *v, char *dst, size_t size)
{
	dst[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return ACME_ETYPE;
	sanitise(json_string_value(v), json_string_length(v), dst, size);
	return 0;
}

static int take_status(const json_t *v, int *dst)
{
	json_int_t s;

	*dst = 0;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return ACME_ETYPE;
	s = json_integer_value(v);
	if (s < 100 || s > 599)
		return ACME_ERANGE;
	*dst = (int)s;
	return 0;
}

static int take_optional_string(const json_t *v)
{
	return v == NULL || json_is_string(v) ? 0 : ACME_ETYPE;
}

static int ident_field(const json_t *v, char *dst)
{
	const char *s;
	size_t len;

	if (v == NULL)
		return ACME_ENOENT;
	if (!json_is_string(v))
		return ACME_ETYPE;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return ACME_ESYNTAX;
	if (len > ACME_IDENT_MAX)
		return ACME_ETOOLONG;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
			return ACME_ESYNTAX;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int take_identifier(const json_t *v, struct acme_identifier *id)
{
	int rc;

	id->type[0] = id->value[0] = '\0';
	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return ACME_ETYPE;
	if ((rc = ident_field(json_object_get(v, "type"), id->type)) < 0 ||
	    (rc = ident_field(json_object_get(v, "value"), id->value)) < 0) {
		id->type[0] = id->value[0] = '\0';
		return rc;
	}
	return 0;
}

/* The members a problem and each of its subproblems have. */
static int take_members(const json_t *o, char *type, enum acme_prob_type *kind, char *detail,
                        size_t detail_size, int *status, struct acme_identifier *identifier)
{
	int rc;

	if (!json_is_object(o))
		return ACME_ETYPE;
	if ((rc = take_type(json_object_get(o, "type"), type, kind)) < 0 ||
	    (rc = take_detail(json_object_get(o, "detail"), detail, detail_size)) < 0 ||
	    (rc = take_status(json_object_get(o, "status"), status)) < 0 ||
	    (rc = take_optional_string(json_object_get(o, "title"))) < 0 ||
	    (rc = take_optional_string(json_object_get(o, "instance"))) < 0 ||
	    (rc = take_identifier(json_object_get(o, "identifier"), identifier)) < 0)
		return rc;
	return 0;
}

static int take_sub(const json_t *v, struct acme_subproblem *s)
{
	return take_members(v, s->type, &s->kind, s->detail, sizeof(s->detail), &s->status,
	                    &s->identifier);
}

static int take_subproblems(const json_t *v, struct acme_problem *p)
{
	struct acme_subproblem scratch;
	size_t i;
	const json_t *el;
	int rc;

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return ACME_ETYPE;
	json_array_foreach(v, i, el) {
		struct acme_subproblem *s = i < ACME_PROBLEM_MAX_SUB ? &p->sub[i] : &scratch;

		memset(s, 0, sizeof(*s));
		if ((rc = take_sub(el, s)) < 0)
			return rc;
	}
	p->n_sub_total = json_array_size(v);
	p->n_sub = p->n_sub_total < ACME_PROBLEM_MAX_SUB ? p->n_sub_total : ACME_PROBLEM_MAX_SUB;
	return 0;
}

static void reset(struct acme_problem *out, int http_status)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->type, blank_type, sizeof(blank_type));
	out->kind = ACME_PT_OTHER;
	out->http_status = http_status;
}

/* The members of a problem object into out (already reset). */
static int take_problem(const json_t *o, struct acme_problem *out)
{
	int rc;

	if ((rc = take_members(o, out->type, &out->kind, out->detail, sizeof(out->detail),
	                       &out->status, &out->identifier)) < 0 ||
	    (rc = take_subproblems(json_object_get(o, "subproblems"), out)) < 0)
		return rc;
	return 0;
}

static bool status_ok(int http_status)
{
	return http_status == 0 || (http_status >= 100 && http_status <= 599);
}

int acme_problem_from_json(const json_t *obj, int http_status, struct acme_problem *out)
{
	int rc;

	if (out == NULL)
		return ACME_EINVAL;
	if (!status_ok(http_status)) {
		reset(out, 0);
		return ACME_EINVAL;
	}
	reset(out, http_status);
	if (obj == NULL)
		return ACME_EINVAL;
	if ((rc = take_problem(obj, out)) < 0)
		reset(out, http_status);
	return rc;
}

int acme_problem_parse(const char *body, size_t len, int http_status, struct acme_problem *out)
{
	json_t *root = NULL;
	int load, rc;

	if (out == NULL)
		return ACME_EINVAL;
	load = acme_json_load(body, len, ACME_PROBLEM_MAX_BYTES, &root);
	rc = acme_problem_from_json(root, http_status, out);
	json_decref(root);
	/* without a document, the reason it could not be read (a bad status
	 * comes first) */
	return load != 0 && status_ok(http_status) ? load : rc;
}

/* Appending into a bounded buffer; remembers whether anything was cut. */
struct text {
	char *buf;
	size_t size, len;
	bool cut;
};

static void put(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->cut)
		return;
	if (t->len + n >= t->size) {
		n = t->size - 1 - t->len;
		t->cut = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

/* Everything in the struct is already printable ASCII when it came from
 * acme_problem_parse(); a struct filled by hand is sanitised here too. */
static void put_clean(struct text *t, const char *s)
{
	char tmp[ACME_PROBLEM_DETAIL_MAX + 1];

	sanitise(s, strnlen(s, ACME_PROBLEM_DETAIL_MAX), tmp, sizeof(tmp));
	put(t, tmp);
}

int acme_problem_text(const struct acme_problem *p, char *buf, size_t size)
{
	struct text t = { buf, size, 0, false };
	char num[32];
	int status;

	if (p == NULL || buf == NULL || size < 4)
		return ACME_EINVAL;
	buf[0] = '\0';
	put_clean(&t, p->type);
	if (p->detail[0] != '\0') {
		put(&t, ": ");
		put_clean(&t, p->detail);
	}
	status = p->http_status != 0 ? p->http_status : p->status;
	if (status != 0) {
		snprintf(num, sizeof(num), " (status %d)", status);
		put(&t, num);
	}
	for (size_t i = 0; i < p->n_sub && i < ACME_PROBLEM_MAX_SUB; i++) {
		const struct acme_subproblem *s = &p->sub[i];

		put(&t, "; subproblem: ");
		if (s->identifier.value[0] != '\0') {
			put_clean(&t, s->identifier.type);
			put(&t, ":");
			put_clean(&t, s->identifier.value);
			put(&t, " ");
		}
		put_clean(&t, s->type);
		if (s->detail[0] != '\0') {
			put(&t, ": ");
			put_clean(&t, s->detail);
		}
	}
	if (p->n_sub_total > p->n_sub) {
		snprintf(num, sizeof(num), "; +%zu more", p->n_sub_total - p->n_sub);
		put(&t, num);
	}
	if (t.cut)
		memcpy(buf + size - 4, "...", 4);
	return 0;
}
