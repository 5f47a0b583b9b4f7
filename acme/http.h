/*
 * http.h - libcurl reduced to what an ACME client needs: GET, HEAD and
 * POST of a JWS (application/jose+json), each returning an owned reply
 * with the status, the body and the few headers ACME uses.
 *
 * Rules (not options): https only, redirects never followed, the server
 * certificate and host name always verified (against ca_bundle when given,
 * else the system store), a body of at most ACME_HTTP_BODY_MAX bytes,
 * User-Agent "regzone/VERSION".
 *
 * Thread safety: curl_global_init() runs once (pthread_once) at the first
 * acme_http_new(); after that a struct acme_http may be used by one thread
 * at a time (it owns one curl easy handle, which keeps connections alive
 * between calls).  Give each worker thread its own.  No signals are used
 * (CURLOPT_NOSIGNAL).
 */
#ifndef ACME_HTTP_H
#define ACME_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "acme/acme_err.h"

#define ACME_HTTP_BODY_MAX (1024 * 1024)
#define ACME_HTTP_MAX_LINKS 16

/* One Link header value (RFC 8288): <url>; rel="rel". */
struct acme_link {
	char *url;
	char *rel;    /* "" when the link has no rel parameter */
};

/* A reply; everything is owned and freed by acme_resp_clear(). */
struct acme_resp {
	long status;            /* HTTP status */
	char *body;             /* NUL-terminated (also for HEAD: ""), never NULL
	                           after a successful call */
	size_t body_len;
	/* Headers of the final response, NULL when absent (values trimmed). */
	char *nonce;            /* Replay-Nonce */
	char *location;         /* Location */
	char *retry_after;      /* Retry-After, as sent */
	char *content_type;     /* Content-Type, as sent */
	struct acme_link links[ACME_HTTP_MAX_LINKS];   /* every Link value */
	size_t n_links;
};

struct acme_http;

/*
 * A handle.  ca_bundle: a PEM file of trust anchors (NULL: the system
 * store); timeout_ms: bound on one whole request (connect included), > 0.
 * 0, ACME_EINVAL, ACME_ENOMEM, ACME_EIO (libcurl could not be initialised or
 * lacks https).
 */
ACME_MUSTCHECK
int acme_http_new(const char *ca_bundle, uint32_t timeout_ms, struct acme_http **out);
void acme_http_free(struct acme_http *h);

/*
 * One request.  body (POST) is sent as is with Content-Type:
 * application/jose+json; accept (may be NULL) becomes the Accept header.
 * Returns 0 with *resp filled for any HTTP status (the caller reads
 * resp->status), or, with *resp cleared:
 *   ACME_ETLS     TLS handshake or certificate verification failed;
 *   ACME_EIO      connection, timeout or other transfer error;
 *   ACME_ETOOLONG the body exceeds ACME_HTTP_BODY_MAX;
 *   ACME_EINVAL   not an https URL, or a bad argument;
 *   ACME_ENOMEM.
 * acme_http_error() then says what happened.
 */
ACME_MUSTCHECK
int acme_http_get(struct acme_http *h, const char *url, struct acme_resp *resp);
ACME_MUSTCHECK
int acme_http_head(struct acme_http *h, const char *url, struct acme_resp *resp);
ACME_MUSTCHECK
int acme_http_post_jose(struct acme_http *h, const char *url, const char *body,
                        const char *accept, struct acme_resp *resp);

/* One line about the last failure of h ("" after a success). */
const char *acme_http_error(const struct acme_http *h);

/* Free what resp owns and zero it; a zeroed resp is fine. */
void acme_resp_clear(struct acme_resp *resp);

/* The first link with rel (case-insensitive), or NULL. */
const char *acme_resp_link(const struct acme_resp *resp, const char *rel);

#endif
