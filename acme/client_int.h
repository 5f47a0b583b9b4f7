/*
 * client_int.h - what the files of the ACME client share: the client
 * object, the error and logging helpers, the directory, the signed POST
 * (acme/client.c) and the strict reader of the CA's JSON (acme/reader.c).
 * Used by acme/account.c, order.c and cert.c.
 *
 * Private to acme/: not part of the library's API, never included from
 * outside it.  The conventions of acme/client.h hold: a struct
 * acme_error *e is never NULL here (the public calls swap in a dummy),
 * and every failure is returned as the ACME_E* code also put in e->code,
 * with e->msg set by acme_fail().
 */
#ifndef ACME_CLIENT_INT_H
#define ACME_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "acme/acme_err.h"
#include "acme/client.h"
#include "acme/http.h"

#define ACME_NONCE_POOL 8      /* Replay-Nonces kept for later requests */
#define ACME_URL_MAX 2048      /* longest URL taken from the CA */
#define ACME_FIELD_MAX 1024    /* longest other string taken from the CA */

/* A set of enum acme_status values, for acme_field_status(). */
#define ACME_ST(x) (1u << (x))

struct acme_client {
	struct acme_http *http;
	const struct acme_acct *acct;       /* borrowed */
	char *dir_url;
	struct acme_directory dir;
	bool have_dir;
	char *kid;                          /* account URL, NULL before */
	char *nonces[ACME_NONCE_POOL];      /* newest last */
	size_t n_nonces;
	uint32_t default_retry_s;
	uint32_t max_bad_nonce;
	acme_log_fn *log;                   /* NULL: no logging */
	void *log_arg;
	acme_request_fn *on_request;        /* NULL: none */
	void *request_arg;
	struct acme_client_stats stats;
};

/* ----------------------------------------------------- acme/client.c */

/* Zero *e (the start of every public call). */
void acme_err_reset(struct acme_error *e);

/* Set e->code = code and e->msg from fmt (made one printable line: what
 * the CA sent may be in it); returns code. */
int acme_fail(struct acme_error *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One line to c's log callback at level (enum acme_log_level), made
 * printable; nothing when c has no callback.  Never pass key material,
 * payloads or JWS bodies. */
void acme_log(const struct acme_client *c, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* One request to c's request callback (its HTTP status, 0 when ret says
 * none came; the problem type of e when the CA sent one). */
void acme_note_request(const struct acme_client *c, const char *endpoint, int ret,
                       const struct acme_resp *r, const struct acme_error *e);

/* The reply's Retry-After as seconds from now into *secs, *given true; or
 * c's default and *given false when there is none or it does not parse. */
void acme_retry_from(const struct acme_client *c, const struct acme_resp *r, uint32_t *secs,
                     bool *given);

/* A transport failure ret of c's HTTP handle into e (its message);
 * returns ret. */
int acme_transport_failed(struct acme_client *c, int ret, struct acme_error *e);

/* An error reply r (status >= 400) to what at url into e: ACME_EACME with
 * e->http_status, Retry-After and, for application/problem+json, the
 * problem document; ACME_EPROTO when that document is malformed. */
ACME_MUSTCHECK
int acme_reply_refused(const struct acme_client *c, const char *what, const char *url,
                       const struct acme_resp *r, struct acme_error *e);

/* 0 when r's status is a or b, else ACME_EPROTO. */
ACME_MUSTCHECK
int acme_expect_status(const struct acme_resp *r, long a, long b, const char *what,
                       const char *url, struct acme_error *e);

/* The directory in c->dir, fetched (GET) once.  0 or the errors of
 * acme/client.h. */
ACME_MUSTCHECK
int acme_need_directory(struct acme_client *c, struct acme_error *e);

/*
 * POST a JWS of payload ("" for POST-as-GET) to url, signed with the key
 * itself (jwk true: newAccount) or with c->kid (ACME_EINVAL when there is
 * none).  accept (may be NULL) is the Accept header; what names the step
 * in messages.  A refusal with badNonce is signed again with the nonce of
 * the refusal, up to c->max_bad_nonce times.  Returns 0 with a 2xx reply
 * in *resp (owned by the caller: acme_resp_clear()), or an error with
 * *resp cleared: any status >= 400 as acme_reply_refused() says, another
 * non-2xx status ACME_EPROTO, transport and signing failures as they come.
 */
ACME_MUSTCHECK
int acme_post(struct acme_client *c, const char *url, const char *payload, bool jwk,
              const char *accept, const char *what, struct acme_resp *resp,
              struct acme_error *e);

/* ----------------------------------------------------- acme/reader.c */

/* Content-Type ct's media type is type (case-insensitive, parameters
 * ignored); false for a NULL ct. */
bool acme_media_is(const char *ct, const char *type);

/* An https URL of at most ACME_URL_MAX bytes without spaces or control
 * characters. */
bool acme_url_ok(const char *s);

/* The body of r as one JSON object into *out (json_decref() it): the
 * Content-Type must be application/json and duplicate keys are refused.
 * 0 or ACME_EPROTO with *out NULL. */
ACME_MUSTCHECK
int acme_load_object(const struct acme_resp *r, const char *what, json_t **out,
                     struct acme_error *e);

/*
 * Typed members of the CA's objects.  *out points into o (valid while o
 * lives) and is NULL (false for booleans) when the member is absent and
 * not required.  A member of the wrong type, a string over
 * ACME_FIELD_MAX bytes or holding a NUL, a URL acme_url_ok() refuses, a
 * status outside allowed (ACME_ST() bits), a missing required member:
 * ACME_EPROTO.
 */
ACME_MUSTCHECK
int acme_field_str(json_t *o, const char *key, bool required, const char **out,
                   const char *what, struct acme_error *e);
ACME_MUSTCHECK
int acme_field_url(json_t *o, const char *key, bool required, const char **out,
                   const char *what, struct acme_error *e);
ACME_MUSTCHECK
int acme_field_bool(json_t *o, const char *key, bool *out, const char *what,
                    struct acme_error *e);
ACME_MUSTCHECK
int acme_field_status(json_t *o, unsigned allowed, enum acme_status *out, const char *what,
                      struct acme_error *e);
ACME_MUSTCHECK
int acme_field_obj(json_t *o, const char *key, json_t **out, const char *what,
                   struct acme_error *e);
/* The same for a value v itself (an array element); key names it. */
ACME_MUSTCHECK
int acme_value_url(json_t *v, const char **out, const char *what, const char *key,
                   struct acme_error *e);

/* *dst = a malloc'ed copy of src, or NULL for a NULL src.  0 or
 * ACME_ENOMEM. */
ACME_MUSTCHECK
int acme_dup_into(char **dst, const char *src, struct acme_error *e);

/* A 200 application/json reply with body json[0..len) and Location
 * location (may be NULL), for the acme/parse.h readers.  *r only borrows
 * them: never acme_resp_clear() it. */
void acme_reply_of(const char *json, size_t len, const char *location, struct acme_resp *r);

#endif
