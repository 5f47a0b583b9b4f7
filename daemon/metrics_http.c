/*
 * metrics_http.c - the Prometheus listener (contract in metrics.h).
 *
 * The listening socket is ours: opened close-on-exec and non-blocking,
 * bound to exactly the address asked (IPV6_V6ONLY for IPv6), and handed
 * to libmicrohttpd (MHD_OPTION_LISTEN_SOCKET), which closes it when it
 * stops.  Opening it here gives the caller errno's reason for a failed
 * bind and the port the kernel chose for port 0.  libmicrohttpd opens
 * the accepted sockets (accept4) and its inter-thread eventfd
 * close-on-exec on Linux (test_metrics checks every fd it adds).
 *
 * One internal thread answers every connection, with poll(): for 16
 * connections epoll gains nothing, and libmicrohttpd 0.9.75's epoll mode
 * kept connections their clients had closed counted against the
 * per-address limit until the idle timeout (a scraper that reconnects
 * would be refused for 10 s; test_metrics saw it).  Each request is
 * decided on the first call of the handler, from its headers alone, so a
 * request body is never read: libmicrohttpd discards the rest of a
 * request answered early and closes the connection after the reply.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "daemon/log.h"
#include "daemon/metrics.h"
#include "daemon/rz_err.h"

#define HTTP_CONN_MAX 16      /* connections at once */
#define HTTP_PER_IP_MAX 4     /* ... from one address */
#define HTTP_IDLE_S 10        /* a connection idle this long is closed */
#define HTTP_BACKLOG 16
#define HTTP_PATH "/metrics"
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define TEXT_TYPE "text/plain; charset=utf-8"

struct rz_metrics_http {
	struct MHD_Daemon *mhd;
	uint16_t port;
	char where[INET6_ADDRSTRLEN + 10];   /* "ADDR:PORT", "[ADDR]:PORT" */
};

/* libmicrohttpd's messages, at info: most are about what a client did
 * (closed a connection early); failures to start come back in err. */
__attribute__((format(printf, 2, 0)))
static void http_log(void *cls, const char *fmt, va_list ap)
{
	const struct rz_metrics_http *h = cls;
	char msg[512];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	rz_log(RZ_LOG_INFO, "metrics: %s: %s", h->where, msg);
}

/* Queue status with body (len bytes; freed here when owned, else static). */
static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *type,
                             char *body, size_t len, bool owned)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	r = MHD_create_response_from_buffer(len, body,
	                                    owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	ok = MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (ok == MHD_YES && status == MHD_HTTP_METHOD_NOT_ALLOWED)
		ok = MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (ok == MHD_YES)
		ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return reply(c, status, TEXT_TYPE, (char *)text, strlen(text), false);
}

/* Does the request announce a body (any Transfer-Encoding, a
 * Content-Length other than 0)? */
static bool has_body(struct MHD_Connection *c)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	                                             MHD_HTTP_HEADER_CONTENT_LENGTH);

	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL)
		return true;
	if (cl == NULL)
		return false;
	while (*cl == '0')
		cl++;
	return *cl != '\0';
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
	const struct rz_metrics_http *h = cls;
	char *text = NULL;
	size_t len = 0;
	int rc;

	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (*upload_data_size != 0) {   /* not reached: every request is answered at once */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, HTTP_PATH) != 0)
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: only " HTTP_PATH " is served\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n");
	if (has_body(c))
		return reply_text(c, MHD_HTTP_CONTENT_TOO_LARGE, "a request body is not accepted\n");
	rc = rz_metrics_render(&text, &len);
	if (rc != 0) {
		rz_log(RZ_LOG_ERR, "metrics: %s: render: %s", h->where, rz_strerror(rc));
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the metrics\n");
	}
	return reply(c, MHD_HTTP_OK, CONTENT_TYPE, text, len, true);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* addr:port into *ss; its length, or 0 when addr is no IP literal. */
static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(port);
		return sizeof(*v4);
	}
	if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(port);
		return sizeof(*v6);
	}
	return 0;
}

/* A socket listening on exactly *ss (its port in h->port), or -1 with the
 * reason in err. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t sl, struct rz_metrics_http *h,
                     char *err, size_t errlen)
{
	struct sockaddr_storage got;
	socklen_t gl = sizeof(got);
	const char *what = "socket";
	int one = 1;
	int fd;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail;
	what = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ss->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0))
		goto fail;
	what = "bind";
	if (bind(fd, (const struct sockaddr *)ss, sl) != 0)
		goto fail;
	what = "listen";
	if (listen(fd, HTTP_BACKLOG) != 0)
		goto fail;
	what = "getsockname";
	if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0)
		goto fail;
	h->port = ntohs(got.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&got)->sin6_port :
	                                            ((struct sockaddr_in *)&got)->sin_port);
	return fd;
fail:
	set_err(err, errlen, "metrics: %s: %s: %s", h->where, what, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int rz_metrics_http_start(const char *addr, uint16_t port, struct rz_metrics_http **out,
                          char *err, size_t errlen)
{
	struct rz_metrics_http *h = NULL;
	struct sockaddr_storage ss;
	socklen_t sl;
	unsigned int flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int fd = -1, rc;

	if (out != NULL)
		*out = NULL;
	if (out == NULL || addr == NULL) {
		set_err(err, errlen, "metrics: no address or no place for the listener");
		return RZ_EINVAL;
	}
	sl = sockaddr_of(addr, port, &ss);
	if (sl == 0) {
		set_err(err, errlen, "metrics: %.64s: not an IPv4 or IPv6 literal", addr);
		return RZ_EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL) {
		set_err(err, errlen, "metrics: out of memory");
		return RZ_ENOMEM;
	}
	snprintf(h->where, sizeof(h->where), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
	         (unsigned)port);
	fd = listen_on(&ss, sl, h, err, errlen);
	if (fd < 0) {
		rc = RZ_EIO;
		goto out;
	}
	snprintf(h->where, sizeof(h->where), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
	         (unsigned)h->port);
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, answer, h,
	                          MHD_OPTION_EXTERNAL_LOGGER, http_log, h,
	                          MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned int)HTTP_CONN_MAX,
	                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP_MAX,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)HTTP_IDLE_S,
	                          MHD_OPTION_END);
	if (h->mhd == NULL) {
		set_err(err, errlen, "metrics: %s: libmicrohttpd did not start (see the log)", h->where);
		rc = RZ_EIO;
		goto out;
	}
	fd = -1;   /* libmicrohttpd's now */
	rz_log(RZ_LOG_INFO, "metrics: serving http://%s" HTTP_PATH, h->where);
	*out = h;
	h = NULL;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(h);
	return rc;
}

uint16_t rz_metrics_http_port(const struct rz_metrics_http *h)
{
	return h == NULL ? 0 : h->port;
}

void rz_metrics_http_stop(struct rz_metrics_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->mhd);
	rz_log(RZ_LOG_INFO, "metrics: %s: stopped", h->where);
	free(h);
}
