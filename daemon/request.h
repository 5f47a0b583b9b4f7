/*
 * request.h - the request/reply contract of the ZeroMQ request socket.
 *
 * A request is one JSON object per ZeroMQ message (DESIGN.md, "Contract"):
 *   {"id":"…","action":"enable|disable|renew|status","service":"xmpp",
 *    "domain":"…","profile":"…","params":{"K":"V"}}
 * rz_req_parse() turns the untrusted bytes into a struct rz_req in which
 * every field is checked (names, lengths, the profile and its parameters by
 * a dry-run expansion), or into an error code and message for the client.
 * Nothing after it needs to look at the JSON again.
 *
 * Replies are built with jansson only:
 *   {"id":"…","ok":true,"state":{…}}
 *   {"id":"…"|null,"ok":false,"error":{"code":"…","message":"…"}}
 */
#ifndef RZ_REQUEST_H
#define RZ_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon/config.h"
#include "daemon/state.h"
#include "zonegen/zonegen.h"

#define RZ_REQ_MAX_BYTES 65536   /* largest request accepted (64 KiB) */
#define RZ_REQ_ID_MAX    128     /* id: 1..128 of RZ_REQ_ID_CHARS */
#define RZ_REQ_ID_CHARS \
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:@/+=-"
#define RZ_PROFILE_MAX   32      /* profile names (config: at most 32) */
#define RZ_PARAM_KEY_MAX 32      /* params keys: 1..32 of [a-z0-9_] */
#define RZ_PARAM_VAL_MAX ZG_TEXT_LEN   /* longest parameter value, bytes */

enum rz_action {
	RZ_ACT_ENABLE,
	RZ_ACT_DISABLE,
	RZ_ACT_RENEW,
	RZ_ACT_STATUS,
	RZ_ACT__MAX
};

/* "enable", ...; NULL for an invalid value. */
const char *rz_action_name(enum rz_action a);
/* Action from its (exact, lowercase) name: 0, or RZ_ENOENT. */
int rz_action_from_name(const char *name, enum rz_action *out);

/* The "code" of an error reply. */
enum rz_rcode {
	RZ_RC_OK,
	RZ_RC_BAD_JSON,
	RZ_RC_BAD_REQUEST,
	RZ_RC_INVALID_DOMAIN,
	RZ_RC_UNKNOWN_PROFILE,
	RZ_RC_ZONE_NOT_SERVED,
	RZ_RC_UNAVAILABLE,
	RZ_RC_UNAUTHORIZED,
	RZ_RC_INTERNAL,
	RZ_RC_CONFLICT,         /* a service's records would clash with another's of the domain */
	RZ_RC__MAX
};

/* "ok", "bad_json", "bad_request", ...; NULL for an invalid value. */
const char *rz_rcode_name(enum rz_rcode c);
/* Code from its name (a client reading a reply): 0, or RZ_ENOENT. */
int rz_rcode_from_name(const char *name, enum rz_rcode *out);

/* A checked request.  Every string is NUL-terminated and validated. */
struct rz_req {
	char id[RZ_REQ_ID_MAX + 1];
	enum rz_action action;
	char service[RZ_SERVICE_MAX + 1];
	char domain[ZG_OWNER_SIZE];     /* zg_dname_check() normal form */
	char profile[RZ_PROFILE_MAX + 1];   /* enable: named or default; else "" */
	struct zg_kv params[ZG_MAX_PARAMS]; /* enable only; point into storage below */
	size_t n_params;
	char *params_json;      /* the params as compact JSON, sorted keys, "{}" if none */
	char body_sha256[65];   /* hex SHA-256 of the canonical request (see below) */

	/* private */
	char *params_store;     /* keys and values of params[], NUL-separated */
};

/* What to tell the client when a request is refused. */
struct rz_req_error {
	enum rz_rcode code;
	char message[256];      /* printable ASCII; names the field and the reason */
};

/*
 * Parse and check one request of len bytes at buf (need not be
 * NUL-terminated).  cfg gives the profiles and the default profile.
 *
 * Checks, in this order (the first failure is reported):
 *   size <= 64 KiB; valid JSON (no duplicate keys, no \u0000); an object;
 *   id; action; service (some profile provides it); domain; profile (enable
 *   only; default profile when absent); params (enable only; string values;
 *   then a dry-run zg_expand() of the profile for the domain); no other keys.
 *
 * body_sha256 is the lowercase hex SHA-256 of the parsed object dumped with
 * JSON_COMPACT | JSON_SORT_KEYS, so key order, spacing and escapes do not
 * change it: the same id arriving with another body can be told apart.
 *
 * Returns 0 with *out filled (release with rz_req_clear()), or a negative
 * RZ_E* code with err->code and err->message set.  On failure *out owns
 * nothing; out->id holds the request's id when it was a valid id (so the
 * error reply can carry it), else "", and out->body_sha256 is set when the
 * body was a JSON object, else "".
 *   RZ_ETOOLONG  too large                          bad_request
 *   RZ_ESYNTAX   not JSON                           bad_json
 *   RZ_EINVAL, RZ_ETYPE, RZ_ERANGE, RZ_ETOOLONG     bad_request
 *   RZ_EDNAME    domain refused                     invalid_domain
 *   RZ_ENOENT    no such profile                    unknown_profile
 *   RZ_EPARAM    parameters refused by the profile  bad_request
 *   RZ_ENOMEM, other                                internal
 */
int rz_req_parse(const struct rz_config *cfg, const char *buf, size_t len,
                 struct rz_req *out, struct rz_req_error *err);

/* Free what *r owns and zero it.  Safe on a zeroed struct, on one a failed
 * rz_req_parse() left, and twice; r may be NULL. */
void rz_req_clear(struct rz_req *r);

/*
 * Error reply: {"id":id|null,"ok":false,"error":{"code":…,"message":…}}.
 * id NULL (or "") gives null.  An invalid code, or RZ_RC_OK, is sent as
 * "internal"; message NULL gives the code's name.  Bytes that are not
 * valid UTF-8 are replaced.  Returns a malloc'ed string the caller frees,
 * or NULL when out of memory.
 */
char *rz_reply_error(const char *id, enum rz_rcode code, const char *message);

/*
 * Success reply: {"id":id,"ok":true,"state":state}.  state is borrowed (its
 * reference count is not consumed); NULL gives "state":null.  Returns a
 * malloc'ed string the caller frees, or NULL when out of memory.
 */
char *rz_reply_ok(const char *id, json_t *state);

#endif
