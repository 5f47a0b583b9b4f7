/*
 * request.c - untrusted JSON from the request socket -> struct rz_req, and
 * the replies.  One table (req_fields[]) says which fields exist, their
 * JSON type, whether they are required, with which actions they may appear
 * and which function checks and stores them.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "daemon/request.h"
#include "daemon/rz_err.h"

#define REQ_ECHO_MAX 64  /* most bytes of client input put into a message */

static const char *const action_names[RZ_ACT__MAX] = {
	[RZ_ACT_ENABLE] = "enable",
	[RZ_ACT_DISABLE] = "disable",
	[RZ_ACT_RENEW] = "renew",
	[RZ_ACT_STATUS] = "status",
};

static const char *const rcode_names[RZ_RC__MAX] = {
	[RZ_RC_OK] = "ok",
	[RZ_RC_BAD_JSON] = "bad_json",
	[RZ_RC_BAD_REQUEST] = "bad_request",
	[RZ_RC_INVALID_DOMAIN] = "invalid_domain",
	[RZ_RC_UNKNOWN_PROFILE] = "unknown_profile",
	[RZ_RC_ZONE_NOT_SERVED] = "zone_not_served",
	[RZ_RC_UNAVAILABLE] = "unavailable",
	[RZ_RC_UNAUTHORIZED] = "unauthorized",
	[RZ_RC_INTERNAL] = "internal",
	[RZ_RC_CONFLICT] = "conflict",
};

/* How a JSON type is named in "must be a string, not ..." messages. */
static const char *const json_type_names[] = {
	[JSON_OBJECT] = "an object", [JSON_ARRAY] = "an array", [JSON_STRING] = "a string",
	[JSON_INTEGER] = "a number", [JSON_REAL] = "a number", [JSON_TRUE] = "a boolean",
	[JSON_FALSE] = "a boolean", [JSON_NULL] = "null",
};

/* What zg_expand()'s refusal means to the client; anything else is ours. */
static const struct { int ret; enum rz_rcode code; } expand_codes[] = {
	{ RZ_EPARAM, RZ_RC_BAD_REQUEST },
	{ RZ_ETOOLONG, RZ_RC_BAD_REQUEST },
	{ RZ_EDNAME, RZ_RC_INVALID_DOMAIN },
};

static const char param_key_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_";

const char *rz_action_name(enum rz_action a)
{
	return (unsigned)a < RZ_ACT__MAX ? action_names[a] : NULL;
}

int rz_action_from_name(const char *name, enum rz_action *out)
{
	for (unsigned i = 0; name != NULL && i < RZ_ACT__MAX; i++) {
		if (strcmp(name, action_names[i]) == 0) {
			*out = (enum rz_action)i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

const char *rz_rcode_name(enum rz_rcode c)
{
	return (unsigned)c < RZ_RC__MAX ? rcode_names[c] : NULL;
}

int rz_rcode_from_name(const char *name, enum rz_rcode *out)
{
	for (unsigned i = 0; name != NULL && i < RZ_RC__MAX; i++) {
		if (strcmp(name, rcode_names[i]) == 0) {
			*out = (enum rz_rcode)i;
			return 0;
		}
	}
	return RZ_ENOENT;
}

/* Replace every byte that is not printable ASCII, so that no client input
 * can put control characters (or broken UTF-8) into a reply or a log. */
static void printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

static int req_fail(struct rz_req_error *err, int ret, enum rz_rcode code,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int req_fail(struct rz_req_error *err, int ret, enum rz_rcode code,
                    const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
		printable(err->message);
	}
	return ret;
}

static const char *json_type_name(const json_t *v)
{
	unsigned t = (unsigned)json_typeof(v);

	return t < sizeof(json_type_names) / sizeof(json_type_names[0]) ? json_type_names[t]
	                                                                 : "something else";
}

/* The string of v, or NULL when it holds a NUL byte (jansson refuses
 * \u0000 without JSON_ALLOW_NUL; this keeps a later change honest). */
static const char *json_cstr(const json_t *v)
{
	const char *s = json_string_value(v);

	return s != NULL && strlen(s) == json_string_length(v) ? s : NULL;
}

/* ---- the fields ------------------------------------------------------ */

struct req_ctx {
	const struct rz_config *cfg;
	struct rz_req *req;
	struct rz_req_error *err;
	const struct zg_profile *prof;  /* enable: the profile to apply */
};

static int take_id(struct req_ctx *c, const json_t *v)
{
	const char *s = json_cstr(v);
	size_t len = json_string_length(v);

	if (len == 0)
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'id' is empty");
	if (s == NULL)
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'id' contains a NUL byte");
	if (len > RZ_REQ_ID_MAX)
		return req_fail(c->err, RZ_ETOOLONG, RZ_RC_BAD_REQUEST,
		                "field 'id' is longer than %d characters", RZ_REQ_ID_MAX);
	if (strspn(s, RZ_REQ_ID_CHARS) != len)
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST,
		                "field 'id' may only contain A-Z a-z 0-9 and . _ : @ / + = -");
	memcpy(c->req->id, s, len + 1);
	return 0;
}

static int take_action(struct req_ctx *c, const json_t *v)
{
	const char *s = json_cstr(v);

	if (s == NULL || rz_action_from_name(s, &c->req->action) != 0)
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'action' must be "
		                "one of %s, %s, %s, %s", action_names[0], action_names[1],
		                action_names[2], action_names[3]);
	return 0;
}

static int take_service(struct req_ctx *c, const json_t *v)
{
	const char *s = json_cstr(v);

	for (size_t i = 0; s != NULL && i < c->cfg->n_profiles; i++) {
		const char *ps = c->cfg->profiles[i].service;

		if (ps != NULL && strcmp(ps, s) == 0 && strlen(s) <= RZ_SERVICE_MAX) {
			memcpy(c->req->service, s, strlen(s) + 1);
			return 0;
		}
	}
	return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'service': no profile "
	                "provides service '%.*s'", RZ_SERVICE_MAX, s != NULL ? s : "");
}

static int take_domain(struct req_ctx *c, const json_t *v)
{
	const char *s = json_cstr(v);
	char why[256] = "contains a NUL byte";

	if (s == NULL || zg_dname_check(s, c->req->domain, sizeof(c->req->domain),
	                                why, sizeof(why)) != 0) {
		c->req->domain[0] = '\0';
		return req_fail(c->err, RZ_EDNAME, RZ_RC_INVALID_DOMAIN, "field 'domain': %s", why);
	}
	return 0;
}

/* Present: the named profile, for the request's service.  Absent: the
 * configuration's default, when it provides the service. */
static int take_profile(struct req_ctx *c, const json_t *v)
{
	const char *name = NULL;
	const struct zg_profile *p = NULL;

	if (v != NULL) {
		name = json_cstr(v);
		if (name == NULL || strlen(name) > RZ_PROFILE_MAX ||
		    (p = rz_config_profile(c->cfg, name)) == NULL)
			return req_fail(c->err, RZ_ENOENT, RZ_RC_UNKNOWN_PROFILE,
			                "field 'profile': no profile named '%.*s'", RZ_PROFILE_MAX,
			                name != NULL ? name : "");
		if (strcmp(p->service, c->req->service) != 0)
			return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'profile': "
			                "profile '%s' is for service '%.*s', not '%s'", p->name,
			                RZ_SERVICE_MAX, p->service, c->req->service);
	} else {
		p = rz_config_profile(c->cfg, NULL);
		if (p == NULL || strcmp(p->service, c->req->service) != 0)
			return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "no default profile "
			                "for service '%s': name one in field 'profile'",
			                c->req->service);
	}
	if (strlen(p->name) > RZ_PROFILE_MAX)
		return req_fail(c->err, RZ_ETOOLONG, RZ_RC_INTERNAL, "profile name too long");
	memcpy(c->req->profile, p->name, strlen(p->name) + 1);
	c->prof = p;
	return 0;
}

/* Copy the params object (shape already checked) into r's storage. */
static int params_store(struct rz_req *r, const json_t *obj)
{
	const char *key;
	const json_t *val;
	size_t size = 1, off = 0;

	json_object_foreach((json_t *)obj, key, val)
		size += strlen(key) + 1 + json_string_length(val) + 1;
	if ((r->params_store = malloc(size)) == NULL)
		return RZ_ENOMEM;
	json_object_foreach((json_t *)obj, key, val) {
		struct zg_kv *kv = &r->params[r->n_params++];
		size_t klen = strlen(key), vlen = json_string_length(val);

		kv->key = memcpy(r->params_store + off, key, klen + 1);
		off += klen + 1;
		kv->val = memcpy(r->params_store + off, json_string_value(val), vlen + 1);
		off += vlen + 1;
	}
	return 0;
}

/* Present or not (enable only): each key and value on its own, then the
 * profile's own verdict by expanding it for the domain. */
static int take_params(struct req_ctx *c, const json_t *v)
{
	struct zg_rr *rrs = NULL;
	json_t *none = NULL;
	const char *key;
	const json_t *val;
	char why[256] = "";
	size_t n_rr = 0, n = v != NULL ? json_object_size(v) : 0;
	int ret = 0;

	if (n > ZG_MAX_PARAMS) {
		ret = req_fail(c->err, RZ_ERANGE, RZ_RC_BAD_REQUEST, "field 'params' has %zu "
		               "entries, at most %d are allowed", n, ZG_MAX_PARAMS);
		goto out;
	}
	json_object_foreach((json_t *)v, key, val) {
		size_t klen = strlen(key);

		if (klen == 0 || klen > RZ_PARAM_KEY_MAX || strspn(key, param_key_chars) != klen) {
			ret = req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field 'params': name "
			               "'%.*s' must be 1..%d characters of a-z 0-9 _", RZ_PARAM_KEY_MAX,
			               key, RZ_PARAM_KEY_MAX);
			goto out;
		}
		if (!json_is_string(val)) {
			ret = req_fail(c->err, RZ_ETYPE, RZ_RC_BAD_REQUEST, "field 'params': '%s' "
			               "must be a string, not %s", key, json_type_name(val));
			goto out;
		}
		if (json_cstr(val) == NULL || json_string_length(val) > RZ_PARAM_VAL_MAX) {
			ret = req_fail(c->err, RZ_ETOOLONG, RZ_RC_BAD_REQUEST, "field 'params': '%s' "
			               "is longer than %d bytes or contains a NUL byte", key,
			               RZ_PARAM_VAL_MAX);
			goto out;
		}
	}
	if (v == NULL && (v = none = json_object()) == NULL) {
		ret = req_fail(c->err, RZ_ENOMEM, RZ_RC_INTERNAL, "out of memory");
		goto out;
	}
	if (params_store(c->req, v) != 0 ||
	    (c->req->params_json = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)) == NULL ||
	    (rrs = calloc(ZG_MAX_RECORDS, sizeof(*rrs))) == NULL) {
		ret = req_fail(c->err, RZ_ENOMEM, RZ_RC_INTERNAL, "out of memory");
		goto out;
	}
	/* A dry run: the account URL (the daemon's, reconcile.c) is not
	 * needed to know the request is good. */
	ret = zg_expand_with(c->prof, c->req->domain,
	                     &(struct zg_builtins){ ZG_ACCOUNT_URI_PLACEHOLDER },
	                     c->req->params, c->req->n_params, rrs, &n_rr, why, sizeof(why));
	if (ret != 0) {
		enum rz_rcode code = RZ_RC_INTERNAL;

		for (size_t i = 0; i < sizeof(expand_codes) / sizeof(expand_codes[0]); i++)
			if (expand_codes[i].ret == ret)
				code = expand_codes[i].code;
		ret = req_fail(c->err, ret, code, "%s", why);
	}
out:
	free(rrs);
	json_decref(none);
	return ret;
}

#define ACT(a) (1u << (a))
#define ACT_ALL ((1u << RZ_ACT__MAX) - 1)

/* Every field a request may have, in the order they are checked.  A field
 * that is absent and optional is still handed to take() (with NULL) when
 * the action allows it, so that defaults are applied in the same place. */
static const struct req_field {
	const char *name;
	json_type type;
	bool required;
	unsigned actions;   /* ACT() bits of the actions that may carry it */
	int (*take)(struct req_ctx *c, const json_t *v);
} req_fields[] = {
	{ "id", JSON_STRING, true, ACT_ALL, take_id },
	{ "action", JSON_STRING, true, ACT_ALL, take_action },
	{ "service", JSON_STRING, true, ACT_ALL, take_service },
	{ "domain", JSON_STRING, true, ACT_ALL, take_domain },
	{ "profile", JSON_STRING, false, ACT(RZ_ACT_ENABLE), take_profile },
	{ "params", JSON_OBJECT, false, ACT(RZ_ACT_ENABLE), take_params },
};
#define N_REQ_FIELDS (sizeof(req_fields) / sizeof(req_fields[0]))

static const struct req_field *req_field_find(const char *name)
{
	for (size_t i = 0; i < N_REQ_FIELDS; i++)
		if (strcmp(req_fields[i].name, name) == 0)
			return &req_fields[i];
	return NULL;
}

/* "enable" or "enable, renew": the actions in mask. */
static void actions_list(unsigned mask, char *buf, size_t buflen)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < RZ_ACT__MAX && off < buflen; i++)
		if (mask & ACT(i))
			off += (size_t)snprintf(buf + off, buflen - off, "%s'%s'", off ? ", " : "",
			                        action_names[i]);
}

static int req_field_check(struct req_ctx *c, const struct req_field *f, const json_t *v)
{
	char allowed[64];

	if (v == NULL && f->required)
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field '%s' is missing",
		                f->name);
	if (v != NULL && json_typeof(v) != f->type)
		return req_fail(c->err, RZ_ETYPE, RZ_RC_BAD_REQUEST, "field '%s' must be %s, "
		                "not %s", f->name, json_type_names[f->type], json_type_name(v));
	if (!(f->actions & ACT(c->req->action))) {
		if (v == NULL)
			return 0;
		actions_list(f->actions, allowed, sizeof(allowed));
		return req_fail(c->err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "field '%s' is only allowed "
		                "with action %s", f->name, allowed);
	}
	return f->take(c, v);
}

/* Lowercase hex SHA-256 of the canonical form of the request. */
static int req_digest(const json_t *root, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *canon = NULL;
	int ret = 0;

	if ((canon = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		ret = RZ_ENOMEM;
		goto out;
	}
	if (EVP_Digest(canon, strlen(canon), md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32) {
		ret = RZ_EIO;
		goto out;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	free(canon);
	return ret;
}

int rz_req_parse(const struct rz_config *cfg, const char *buf, size_t len,
                 struct rz_req *out, struct rz_req_error *err)
{
	struct req_ctx c = { .cfg = cfg, .req = out, .err = err };
	char id[sizeof(out->id)], sha[sizeof(out->body_sha256)];
	json_t *root = NULL;
	json_error_t jerr;
	const char *key;
	json_t *val;
	int ret = 0;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (out == NULL || cfg == NULL || (buf == NULL && len > 0))
		return req_fail(err, RZ_EINVAL, RZ_RC_INTERNAL, "invalid arguments");
	memset(out, 0, sizeof(*out));

	if (len > RZ_REQ_MAX_BYTES) {
		ret = req_fail(err, RZ_ETOOLONG, RZ_RC_BAD_REQUEST, "request larger than 64 KiB");
		goto out;
	}
	root = json_loadb(buf != NULL ? buf : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	                  &jerr);
	if (root == NULL) {
		/* jansson quotes at most 20 bytes of the input ("near '...'") */
		ret = req_fail(err, RZ_ESYNTAX, RZ_RC_BAD_JSON, "invalid JSON at line %d column %d: "
		               "%.150s", jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		ret = req_fail(err, RZ_ETYPE, RZ_RC_BAD_REQUEST, "request must be a JSON object, "
		               "not %s", json_type_name(root));
		goto out;
	}
	if ((ret = req_digest(root, out->body_sha256)) != 0) {
		ret = req_fail(err, ret, RZ_RC_INTERNAL, "cannot hash the request: %s",
		               rz_strerror(ret));
		goto out;
	}
	for (size_t i = 0; i < N_REQ_FIELDS; i++) {
		ret = req_field_check(&c, &req_fields[i], json_object_get(root, req_fields[i].name));
		if (ret != 0)
			goto out;
	}
	json_object_foreach(root, key, val) {
		if (req_field_find(key) == NULL) {
			ret = req_fail(err, RZ_EINVAL, RZ_RC_BAD_REQUEST, "unknown field '%.*s'",
			               REQ_ECHO_MAX, key);
			goto out;
		}
	}
	if (out->params_json == NULL && (out->params_json = strdup("{}")) == NULL)
		ret = req_fail(err, RZ_ENOMEM, RZ_RC_INTERNAL, "out of memory");
out:
	json_decref(root);
	if (ret != 0) {
		/* keep only what the error reply (or a duplicate check) may use */
		memcpy(id, out->id, sizeof(id));
		memcpy(sha, out->body_sha256, sizeof(sha));
		rz_req_clear(out);
		memcpy(out->id, id, sizeof(id));
		memcpy(out->body_sha256, sha, sizeof(sha));
	}
	return ret;
}

void rz_req_clear(struct rz_req *r)
{
	if (r == NULL)
		return;
	free(r->params_json);
	free(r->params_store);
	memset(r, 0, sizeof(*r));
}

/* ---- replies --------------------------------------------------------- */

static char *reply_dump(json_t *o, int fails)
{
	char *text = NULL;

	if (o != NULL && fails == 0)
		text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

char *rz_reply_error(const char *id, enum rz_rcode code, const char *message)
{
	json_t *o = json_object(), *e = json_object();
	const char *name = code != RZ_RC_OK ? rz_rcode_name(code) : NULL;
	int fails = 0;

	if (name == NULL)
		name = rcode_names[RZ_RC_INTERNAL];
	fails |= json_object_set_new(e, "code", json_string(name));
	fails |= json_object_set_new(e, "message", rz_json_text(message != NULL ? message : name,
	                                                     SIZE_MAX, false));
	fails |= json_object_set_new(o, "id", rz_json_text(id, RZ_REQ_ID_MAX, true));
	fails |= json_object_set_new(o, "ok", json_false());
	fails |= json_object_set_new(o, "error", e);   /* steals e, even on failure */
	return reply_dump(o, fails);
}

char *rz_reply_ok(const char *id, json_t *state)
{
	json_t *o = json_object();
	int fails = 0;

	fails |= json_object_set_new(o, "id", rz_json_text(id, RZ_REQ_ID_MAX, true));
	fails |= json_object_set_new(o, "ok", json_true());
	fails |= json_object_set(o, "state", state != NULL ? state : json_null());
	return reply_dump(o, fails);
}
