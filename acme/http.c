/*
 * http.c - the ACME client's HTTPS transport (libcurl).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <fcntl.h>

#include <curl/curl.h>

#include "acme/http.h"
#include "acme/acme_err.h"

#ifndef REGZONE_VERSION
#define REGZONE_VERSION "0"
#endif

#define HEADER_VALUE_MAX 4096   /* longer header values are ignored */
#define CONNECT_TIMEOUT_MAX_MS 10000

struct acme_http {
	CURL *curl;
	char *ca_bundle;
	uint32_t timeout_ms;
	char errbuf[CURL_ERROR_SIZE];
	char msg[512];
	/* the request in flight */
	struct acme_resp *resp;
	size_t body_cap;
	int too_large;
	int oom;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;   /* written once, under global_once */

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void setmsg(struct acme_http *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void setmsg(struct acme_http *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->msg, sizeof(h->msg), fmt, ap);
	va_end(ap);
}

int acme_http_new(const char *ca_bundle, uint32_t timeout_ms, struct acme_http **out)
{
	struct acme_http *h = NULL;
	const curl_version_info_data *vi;
	int ret = ACME_EINVAL, https = 0;

	if (out == NULL || timeout_ms == 0)
		goto out;
	*out = NULL;
	ret = ACME_EIO;
	if (pthread_once(&global_once, global_init) != 0 || global_rc != CURLE_OK)
		goto out;
	vi = curl_version_info(CURLVERSION_NOW);
	for (const char *const *p = vi->protocols; p != NULL && *p != NULL; p++)
		if (strcmp(*p, "https") == 0)
			https = 1;
	if (!https || (vi->features & CURL_VERSION_SSL) == 0)
		goto out;
	ret = ACME_ENOMEM;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		goto out;
	h->timeout_ms = timeout_ms;
	if (ca_bundle != NULL && (h->ca_bundle = strdup(ca_bundle)) == NULL)
		goto out;
	h->curl = curl_easy_init();
	if (h->curl == NULL)
		goto out;
	*out = h;
	h = NULL;
	ret = 0;
out:
	acme_http_free(h);
	return ret;
}

void acme_http_free(struct acme_http *h)
{
	if (h == NULL)
		return;
	if (h->curl != NULL)
		curl_easy_cleanup(h->curl);
	free(h->ca_bundle);
	free(h);
}

const char *acme_http_error(const struct acme_http *h)
{
	return h->msg;
}

void acme_resp_clear(struct acme_resp *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->nonce);
	free(resp->location);
	free(resp->retry_after);
	free(resp->content_type);
	for (size_t i = 0; i < resp->n_links; i++) {
		free(resp->links[i].url);
		free(resp->links[i].rel);
	}
	memset(resp, 0, sizeof(*resp));
}

const char *acme_resp_link(const struct acme_resp *resp, const char *rel)
{
	for (size_t i = 0; i < resp->n_links; i++)
		if (strcasecmp(resp->links[i].rel, rel) == 0)
			return resp->links[i].url;
	return NULL;
}

/* Headers of an earlier response (100 Continue) are forgotten. */
static void forget_headers(struct acme_resp *r)
{
	char *body = r->body;
	size_t len = r->body_len;

	r->body = NULL;
	acme_resp_clear(r);
	r->body = body;
	r->body_len = len;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Link: <url>; rel="up", <url2>;rel=alternate  (RFC 8288).  Entries that
 * do not parse end the parsing of that header; what came before is kept.
 */
static void parse_links(struct acme_http *h, const char *v, const char *end)
{
	struct acme_resp *r = h->resp;

	while (v < end) {
		const char *u0, *u1;
		char *url = NULL, *rel = NULL;

		while (v < end && (is_ws(*v) || *v == ','))
			v++;
		if (v >= end || *v != '<')
			return;
		u0 = ++v;
		while (v < end && *v != '>')
			v++;
		if (v >= end)
			return;
		u1 = v++;
		/* parameters */
		for (;;) {
			const char *n0, *n1, *p0, *p1;

			while (v < end && is_ws(*v))
				v++;
			if (v >= end || *v != ';')
				break;
			v++;
			while (v < end && is_ws(*v))
				v++;
			n0 = v;
			while (v < end && *v != '=' && *v != ';' && *v != ',' && !is_ws(*v))
				v++;
			n1 = v;
			while (v < end && is_ws(*v))
				v++;
			if (v >= end || *v != '=')
				continue;
			v++;
			while (v < end && is_ws(*v))
				v++;
			if (v < end && *v == '"') {
				p0 = ++v;
				while (v < end && *v != '"')
					v++;
				if (v >= end)
					return;
				p1 = v++;
			} else {
				p0 = v;
				while (v < end && *v != ';' && *v != ',' && !is_ws(*v))
					v++;
				p1 = v;
			}
			if (n1 - n0 == 3 && strncasecmp(n0, "rel", 3) == 0 && rel == NULL) {
				rel = strndup(p0, (size_t)(p1 - p0));
				if (rel == NULL)
					h->oom = 1;
			}
		}
		if (r->n_links < ACME_HTTP_MAX_LINKS) {
			url = strndup(u0, (size_t)(u1 - u0));
			if (rel == NULL)
				rel = strdup("");
			if (url == NULL || rel == NULL) {
				h->oom = 1;
				free(url);
				free(rel);
				return;
			}
			r->links[r->n_links].url = url;
			r->links[r->n_links].rel = rel;
			r->n_links++;
		} else {
			free(rel);
		}
		while (v < end && *v != ',')
			v++;
	}
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	struct acme_http *h = arg;
	struct acme_resp *r = h->resp;
	size_t len = size * nitems, nlen;
	const char *colon, *v, *end = buf + len;
	char **slot = NULL;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		forget_headers(r);
		return len;
	}
	colon = memchr(buf, ':', len);
	if (colon == NULL)
		return len;
	nlen = (size_t)(colon - buf);
	v = colon + 1;
	while (v < end && is_ws(*v))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || is_ws(end[-1])))
		end--;
	if ((size_t)(end - v) > HEADER_VALUE_MAX)
		return len;
	if (nlen == 12 && strncasecmp(buf, "Replay-Nonce", 12) == 0)
		slot = &r->nonce;
	else if (nlen == 8 && strncasecmp(buf, "Location", 8) == 0)
		slot = &r->location;
	else if (nlen == 11 && strncasecmp(buf, "Retry-After", 11) == 0)
		slot = &r->retry_after;
	else if (nlen == 12 && strncasecmp(buf, "Content-Type", 12) == 0)
		slot = &r->content_type;
	else if (nlen == 4 && strncasecmp(buf, "Link", 4) == 0)
		parse_links(h, v, end);
	if (slot != NULL) {
		free(*slot);
		*slot = strndup(v, (size_t)(end - v));
		if (*slot == NULL)
			h->oom = 1;
	}
	return len;
}

static size_t on_body(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct acme_http *h = arg;
	struct acme_resp *r = h->resp;
	size_t len = size * nmemb;

	if (len > ACME_HTTP_BODY_MAX - r->body_len) {
		h->too_large = 1;
		return 0;   /* aborts the transfer */
	}
	if (r->body_len + len + 1 > h->body_cap) {
		size_t cap = h->body_cap ? h->body_cap : 4096;
		char *nb;

		while (cap < r->body_len + len + 1)
			cap *= 2;
		nb = realloc(r->body, cap);
		if (nb == NULL) {
			h->oom = 1;
			return 0;
		}
		r->body = nb;
		h->body_cap = cap;
	}
	memcpy(r->body + r->body_len, buf, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return len;
}

static int tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	/* not CURLE_SSL_CONNECT_ERROR: a connection reset during the handshake
	 * (a CA restarting) is the network's failure, tried again later */
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
		return 1;
	default:
		return 0;
	}
}

/* Every socket libcurl opens is close-on-exec: a hook run by another
 * thread never inherits a connection to the CA. */
static int on_sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	int flags = fcntl(fd, F_GETFD);

	(void)arg;
	(void)purpose;
	if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) != 0)
		return CURL_SOCKOPT_ERROR;
	return CURL_SOCKOPT_OK;
}

enum method { M_GET, M_HEAD, M_POST };

static const char *const method_names[] = { "GET", "HEAD", "POST" };

/* The request headers of method m into *hdrs (curl_slist_free_all() it);
 * *accept_hdr is the Accept line they point at (free() it after them).
 * 0 or ACME_ENOMEM. */
static int request_headers(enum method m, const char *accept, struct curl_slist **hdrs,
                           char **accept_hdr)
{
	struct curl_slist *tmp;

	*accept_hdr = NULL;
	tmp = curl_slist_append(*hdrs, "Expect:");   /* no 100-continue round trip */
	if (tmp == NULL)
		return ACME_ENOMEM;
	*hdrs = tmp;
	if (m == M_POST) {
		tmp = curl_slist_append(*hdrs, "Content-Type: application/jose+json");
		if (tmp == NULL)
			return ACME_ENOMEM;
		*hdrs = tmp;
	}
	if (accept != NULL) {
		if (asprintf(accept_hdr, "Accept: %s", accept) < 0) {
			*accept_hdr = NULL;
			return ACME_ENOMEM;
		}
		tmp = curl_slist_append(*hdrs, *accept_hdr);
		if (tmp == NULL)
			return ACME_ENOMEM;
		*hdrs = tmp;
	}
	return 0;
}

/* Every option of one request on h's handle (the rules of acme/http.h).
 * 0 or ACME_EIO with h's message set. */
static int request_options(struct acme_http *h, enum method m, const char *url,
                           const char *body, struct curl_slist *hdrs)
{
	CURL *c = h->curl;

	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
#else
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS) != CURLE_OK ||
#endif
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "regzone/" REGZONE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
	                     (long)(h->timeout_ms < CONNECT_TIMEOUT_MAX_MS ?
	                            h->timeout_ms : CONNECT_TIMEOUT_MAX_MS)) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, h) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
	                     (curl_off_t)ACME_HTTP_BODY_MAX) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK) {
		setmsg(h, "%s %s: libcurl refused an option", method_names[m], url);
		return ACME_EIO;
	}
	if (h->ca_bundle != NULL &&
	    (curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_bundle) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_CAPATH, NULL) != CURLE_OK)) {
		setmsg(h, "%s %s: libcurl refused the CA bundle option", method_names[m], url);
		return ACME_EIO;
	}
	if (m == M_HEAD && curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK)
		return ACME_EIO;
	if (m == M_POST &&
	    (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body)) != CURLE_OK ||
	     curl_easy_setopt(c, CURLOPT_POSTFIELDS, body) != CURLE_OK))
		return ACME_EIO;
	return 0;
}

/* A failed transfer (rc not CURLE_OK) as an ACME_E* code, with h's
 * message set. */
static int transfer_failed(struct acme_http *h, CURLcode rc, enum method m, const char *url)
{
	const char *why = h->errbuf[0] != '\0' ? h->errbuf : curl_easy_strerror(rc);
	const char *name = method_names[m];

	if (h->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		setmsg(h, "%s %s: reply body larger than %d bytes", name, url, ACME_HTTP_BODY_MAX);
		return ACME_ETOOLONG;
	}
	if (h->oom || rc == CURLE_OUT_OF_MEMORY) {
		setmsg(h, "%s %s: out of memory", name, url);
		return ACME_ENOMEM;
	}
	if (tls_error(rc)) {
		setmsg(h, "%s %s: TLS error: %s", name, url, why);
		return ACME_ETLS;
	}
	setmsg(h, "%s %s: %s", name, url, why);
	return rc == CURLE_UNSUPPORTED_PROTOCOL ? ACME_EINVAL : ACME_EIO;
}

static int request(struct acme_http *h, enum method m, const char *url, const char *body,
                   const char *accept, struct acme_resp *resp)
{
	struct curl_slist *hdrs = NULL;
	char *accept_hdr = NULL;
	CURLcode rc;
	int ret = ACME_EINVAL;

	if (resp != NULL)
		memset(resp, 0, sizeof(*resp));
	if (h == NULL)
		return ACME_EINVAL;
	h->msg[0] = '\0';
	if (url == NULL || resp == NULL || (m == M_POST && body == NULL)) {
		setmsg(h, "missing argument");
		goto out;
	}
	if (strncasecmp(url, "https://", 8) != 0) {
		setmsg(h, "%s %s: only https URLs are used", method_names[m], url);
		goto out;
	}
	h->resp = resp;
	h->body_cap = 0;
	h->too_large = 0;
	h->oom = 0;
	h->errbuf[0] = '\0';
	curl_easy_reset(h->curl);   /* keeps live connections and the TLS session cache */
	if ((ret = request_headers(m, accept, &hdrs, &accept_hdr)) != 0 ||
	    (ret = request_options(h, m, url, body, hdrs)) != 0)
		goto out;

	rc = curl_easy_perform(h->curl);
	if (rc == CURLE_OK && h->oom) {
		ret = ACME_ENOMEM;
		setmsg(h, "%s %s: out of memory", method_names[m], url);
		goto out;
	}
	if (rc != CURLE_OK) {
		ret = transfer_failed(h, rc, m, url);
		goto out;
	}
	if (curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status) != CURLE_OK ||
	    resp->status < 100 || resp->status > 599) {
		ret = ACME_EIO;
		setmsg(h, "%s %s: no HTTP status", method_names[m], url);
		goto out;
	}
	if (resp->body == NULL) {
		resp->body = strdup("");
		if (resp->body == NULL) {
			ret = ACME_ENOMEM;
			goto out;
		}
	}
	ret = 0;
out:
	if (ret != 0)
		acme_resp_clear(resp);
	if (h->curl != NULL) {
		/* nothing in the handle may point at our headers or body now */
		curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	}
	h->resp = NULL;
	curl_slist_free_all(hdrs);
	free(accept_hdr);
	return ret;
}

int acme_http_get(struct acme_http *h, const char *url, struct acme_resp *resp)
{
	return request(h, M_GET, url, NULL, NULL, resp);
}

int acme_http_head(struct acme_http *h, const char *url, struct acme_resp *resp)
{
	return request(h, M_HEAD, url, NULL, NULL, resp);
}

int acme_http_post_jose(struct acme_http *h, const char *url, const char *body,
                        const char *accept, struct acme_resp *resp)
{
	return request(h, M_POST, url, body, accept, resp);
}
