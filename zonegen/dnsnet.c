/*
 * dnsnet.c - one query to one authoritative server (see dnsnet.h).
 *
 * The query is a packet built with libknot (random id, RD clear, no EDNS),
 * sent over a connected UDP socket and re-sent once on timeout; a reply
 * with TC set is asked again over TCP (2-byte length prefix).  All waits
 * are poll() against a deadline on CLOCK_MONOTONIC; nothing sleeps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <libknot/libknot.h>

#include "zonegen/dnsnet.h"
#include "zonegen/dnswire.h"
#include "zonegen/zg_err.h"

#define NET_UDP_TRIES 2

/* errno text without the thread-unsafe strerror() (GNU strerror_r). */
static const char *errtext(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* Wait until fd has one of events or the deadline passes: 1 ready,
 * 0 timed out, -1 with errno on a poll() failure. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int n;

	for (;;) {
		n = poll(&pfd, 1, left_ms(deadline));
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static uint16_t random_id(void)
{
	struct timespec ts;
	uint16_t id = 0;

	if (getrandom(&id, sizeof(id), GRND_NONBLOCK) == (ssize_t)sizeof(id))
		return id;
	/* No entropy yet (early boot): ids are defence in depth only. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint16_t)((unsigned long)ts.tv_nsec ^ ((unsigned long)ts.tv_nsec >> 16) ^
	                  (unsigned long)getpid());
}

int zg_net_peer_init(const struct zg_dns_server *srv, struct zg_net_peer *p,
                     char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->ss;
	char addr[INET6_ADDRSTRLEN];

	memset(p, 0, sizeof(*p));
	if (srv == NULL || srv->address == NULL)
		return zg_fail(ZG_EINVAL, err, errlen, "no server address");
	if (inet_pton(AF_INET, srv->address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(srv->port);
		p->sslen = sizeof(*s4);
		inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
	} else if (inet_pton(AF_INET6, srv->address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(srv->port);
		p->sslen = sizeof(*s6);
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
	} else {
		return zg_fail(ZG_EINVAL, err, errlen,
		                    "invalid server address '%.64s' (want an IPv4 or IPv6 literal)",
		                    srv->address);
	}
	snprintf(p->name, sizeof(p->name), "%s@%u", addr, (unsigned)srv->port);
	if (srv->port == 0)
		return zg_fail(ZG_EINVAL, err, errlen, "%s: invalid port 0", p->name);
	return 0;
}

/* ------------------------------------------------------------ UDP */

/* A failed send() or recv() (errno e) on the connected UDP socket. */
static int udp_error(const struct zg_net_peer *p, int e, const char *what,
                     char *err, size_t errlen)
{
	char ebuf[128];

	if (e == ECONNREFUSED)
		return zg_fail(ZG_EIO, err, errlen,
		                    "%s: connection refused (no DNS server on that UDP port)",
		                    p->name);
	return zg_fail(ZG_EIO, err, errlen, "%s: %s: %s", p->name, what,
	                    errtext(e, ebuf, sizeof(ebuf)));
}

/*
 * A UDP socket connected to p: only the server's address reaches us, and
 * an ICMP port unreachable comes back as ECONNREFUSED instead of a
 * timeout.  *fd is the socket or -1, also on error; the caller closes it.
 */
static int udp_open(const struct zg_net_peer *p, int *fd, char *err, size_t errlen)
{
	char ebuf[128];

	*fd = socket(p->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return zg_fail(ZG_EIO, err, errlen, "%s: cannot open a UDP socket: %s",
		                    p->name, errtext(errno, ebuf, sizeof(ebuf)));
	if (connect(*fd, (const struct sockaddr *)&p->ss, p->sslen) != 0)
		return zg_fail(ZG_EIO, err, errlen, "%s: cannot reach the server over UDP: %s",
		                    p->name, errtext(errno, ebuf, sizeof(ebuf)));
	return 0;
}

/*
 * Read datagrams from fd into r until one answers id / q (*matched true)
 * or the deadline passes (0 with *matched false: the caller sends again).
 * *why is left saying what was wrong with the last one that did not match.
 */
static int udp_receive(int fd, const struct zg_net_peer *p, const struct zg_wire_question *q,
                       uint16_t id, int64_t deadline, struct zg_wire_reply *r,
                       bool *matched, const char **why, char *err, size_t errlen)
{
	char ebuf[128];
	int ret;

	while (!*matched) {
		ssize_t n;
		int w = wait_fd(fd, POLLIN, deadline);

		if (w == 0)
			return 0;
		if (w < 0)
			return zg_fail(ZG_EIO, err, errlen, "%s: poll: %s", p->name,
			                    errtext(errno, ebuf, sizeof(ebuf)));
		n = recv(fd, r->buf, ZG_WIRE_RBUF_SIZE, 0);
		if (n < 0) {
			int e = errno;

			if (e == EINTR || e == EAGAIN)
				continue;
			return udp_error(p, e, "cannot receive", err, errlen);
		}
		ret = zg_wire_reply_match(r, (size_t)n, id, q, matched, why, err, errlen);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/*
 * Ask over UDP: send, wait up to timeout_ms, re-send once.  Replies that do
 * not match are ignored.  On success r->pkt holds the matching reply (its
 * question parsed) and *truncated its TC flag.
 */
static int ask_udp(const struct zg_net_peer *p, const struct zg_wire_question *q,
                   const knot_pkt_t *query, uint16_t id, uint32_t timeout_ms,
                   struct zg_wire_reply *r, bool *truncated, char *err, size_t errlen)
{
	const char *why = "no reply";
	int fd = -1, ret = 0;
	bool matched = false;

	*truncated = false;
	if ((ret = udp_open(p, &fd, err, errlen)) != 0)
		goto out;
	for (int attempt = 0; attempt < NET_UDP_TRIES && !matched; attempt++) {
		if (send(fd, query->wire, query->size, 0) < 0) {
			ret = udp_error(p, errno, "cannot send the query", err, errlen);
			goto out;
		}
		ret = udp_receive(fd, p, q, id, now_ms() + timeout_ms, r, &matched, &why,
		                  err, errlen);
		if (ret != 0)
			goto out;
	}
	if (!matched) {
		ret = zg_fail(ZG_EIO, err, errlen,
		                   "%s: no answer for %s %s over UDP (%d tries of %u ms; %s)",
		                   p->name, q->owner, q->tname, NET_UDP_TRIES,
		                   (unsigned)timeout_ms, why);
		goto out;
	}
	*truncated = knot_wire_get_tc(r->buf) != 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ------------------------------------------------------------ TCP */

/*
 * A non-blocking TCP socket connected to p before deadline.  *fd is the
 * socket or -1, also on error; the caller closes it.
 */
static int tcp_connect(const struct zg_net_peer *p, int64_t deadline, int *fd,
                       char *err, size_t errlen)
{
	char ebuf[128];
	int w, soerr = 0;
	socklen_t slen = sizeof(soerr);

	*fd = socket(p->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (*fd < 0)
		return zg_fail(ZG_EIO, err, errlen, "%s: cannot open a TCP socket: %s",
		                    p->name, errtext(errno, ebuf, sizeof(ebuf)));
	if (connect(*fd, (const struct sockaddr *)&p->ss, p->sslen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return zg_fail(ZG_EIO, err, errlen, "%s: TCP connect: %s", p->name,
		                    errtext(errno, ebuf, sizeof(ebuf)));
	w = wait_fd(*fd, POLLOUT, deadline);
	if (w <= 0)
		return zg_fail(ZG_EIO, err, errlen, "%s: TCP connect: %s", p->name,
		                    w == 0 ? "timed out" : errtext(errno, ebuf, sizeof(ebuf)));
	if (getsockopt(*fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0)
		soerr = errno;
	if (soerr != 0)
		return zg_fail(ZG_EIO, err, errlen, "%s: TCP connect: %s", p->name,
		                    errtext(soerr, ebuf, sizeof(ebuf)));
	return 0;
}

/* Write all of buf to a non-blocking socket before deadline. */
static int tcp_write(int fd, const uint8_t *buf, size_t len, int64_t deadline,
                     const struct zg_net_peer *p, char *err, size_t errlen)
{
	char ebuf[128];

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int w;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return zg_fail(ZG_EIO, err, errlen, "%s: TCP send: %s", p->name,
			                    errtext(errno, ebuf, sizeof(ebuf)));
		w = wait_fd(fd, POLLOUT, deadline);
		if (w == 0)
			return zg_fail(ZG_EIO, err, errlen, "%s: TCP send timed out", p->name);
		if (w < 0)
			return zg_fail(ZG_EIO, err, errlen, "%s: poll: %s", p->name,
			                    errtext(errno, ebuf, sizeof(ebuf)));
	}
	return 0;
}

/* Read exactly len bytes from a non-blocking socket before deadline. */
static int tcp_read(int fd, uint8_t *buf, size_t len, int64_t deadline,
                    const struct zg_net_peer *p, char *err, size_t errlen)
{
	char ebuf[128];

	while (len > 0) {
		ssize_t n = recv(fd, buf, len, 0);
		int w;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return zg_fail(ZG_EIO, err, errlen,
			                    "%s: TCP connection closed by the server", p->name);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return zg_fail(ZG_EIO, err, errlen, "%s: TCP receive: %s", p->name,
			                    errtext(errno, ebuf, sizeof(ebuf)));
		w = wait_fd(fd, POLLIN, deadline);
		if (w == 0)
			return zg_fail(ZG_EIO, err, errlen,
			                    "%s: no TCP reply within the timeout", p->name);
		if (w < 0)
			return zg_fail(ZG_EIO, err, errlen, "%s: poll: %s", p->name,
			                    errtext(errno, ebuf, sizeof(ebuf)));
	}
	return 0;
}

/* Ask over TCP: one exchange, connect to reply within timeout_ms. */
static int ask_tcp(const struct zg_net_peer *p, const struct zg_wire_question *q,
                   const knot_pkt_t *query, uint16_t id, uint32_t timeout_ms,
                   struct zg_wire_reply *r, char *err, size_t errlen)
{
	uint8_t msg[2 + KNOT_WIRE_MIN_PKTSIZE];
	uint8_t hdr[2];
	const char *why = NULL;
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1, ret = 0;
	size_t len;
	bool matched = false;

	if (query->size > KNOT_WIRE_MIN_PKTSIZE) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "query too large");
		goto out;
	}
	if ((ret = tcp_connect(p, deadline, &fd, err, errlen)) != 0)
		goto out;
	knot_wire_write_u16(msg, (uint16_t)query->size);
	memcpy(msg + 2, query->wire, query->size);
	if ((ret = tcp_write(fd, msg, query->size + 2, deadline, p, err, errlen)) != 0)
		goto out;
	if ((ret = tcp_read(fd, hdr, sizeof(hdr), deadline, p, err, errlen)) != 0)
		goto out;
	len = knot_wire_read_u16(hdr);
	if ((ret = tcp_read(fd, r->buf, len, deadline, p, err, errlen)) != 0)
		goto out;
	if ((ret = zg_wire_reply_match(r, len, id, q, &matched, &why, err, errlen)) != 0)
		goto out;
	if (!matched) {
		ret = zg_fail(ZG_EIO, err, errlen, "%s: TCP %s (asked %s %s)", p->name, why,
		                   q->owner, q->tname);
		goto out;
	}
	if (knot_wire_get_tc(r->buf)) {
		ret = zg_fail(ZG_EIO, err, errlen,
		                   "%s: reply for %s %s truncated even over TCP",
		                   p->name, q->owner, q->tname);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ------------------------------------------------------------ one query */

int zg_net_ask(const struct zg_net_peer *p, const struct zg_wire_question *q,
               uint32_t timeout_ms, struct zg_wire_reply *r, char *err, size_t errlen)
{
	knot_pkt_t *query = NULL;
	uint16_t id = random_id();
	bool truncated = false;
	int ret;

	if (timeout_ms == 0) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "timeout must be > 0");
		goto out;
	}
	query = knot_pkt_new(NULL, KNOT_WIRE_MIN_PKTSIZE, NULL);
	r->buf = malloc(ZG_WIRE_RBUF_SIZE);
	if (query == NULL || r->buf == NULL) {
		ret = zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	ret = knot_pkt_put_question(query, q->qname, KNOT_CLASS_IN, q->qtype);
	if (ret != KNOT_EOK) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "cannot build a query for %s %s: %s",
		                   q->owner, q->tname, knot_strerror(ret));
		goto out;
	}
	knot_wire_set_id(query->wire, id);
	knot_wire_clear_rd(query->wire);

	if ((ret = ask_udp(p, q, query, id, timeout_ms, r, &truncated, err, errlen)) != 0)
		goto out;
	if (truncated &&
	    (ret = ask_tcp(p, q, query, id, timeout_ms, r, err, errlen)) != 0)
		goto out;
	ret = zg_wire_reply_check(p->name, q, r, err, errlen);
out:
	knot_pkt_free(query);
	if (ret != 0)
		zg_wire_reply_clear(r);
	return ret;
}

/* ------------------------------------------------------------ several queries */

/* A built query of zg_net_ask_many(). */
struct pending_q {
	knot_pkt_t *query;
	uint16_t id;
	bool matched;
};

static int build_query(const struct zg_wire_question *q, struct pending_q *pq, char *err,
                       size_t errlen)
{
	int ret;

	if ((pq->query = knot_pkt_new(NULL, KNOT_WIRE_MIN_PKTSIZE, NULL)) == NULL)
		return zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
	ret = knot_pkt_put_question(pq->query, q->qname, KNOT_CLASS_IN, q->qtype);
	if (ret != KNOT_EOK)
		return zg_fail(ZG_EINVAL, err, errlen, "cannot build a query for %s %s: %s",
		                    q->owner, q->tname, knot_strerror(ret));
	knot_wire_set_id(pq->query->wire, pq->id);
	knot_wire_clear_rd(pq->query->wire);
	return 0;
}

/* Datagrams until every query is matched or the deadline passes; each
 * goes to the query its id names (ids are distinct within a call). */
static int receive_many(int fd, const struct zg_net_peer *p, const struct zg_wire_question *qs,
                        struct pending_q *pq, size_t n, struct zg_wire_reply *rs,
                        size_t *left, int64_t deadline, const char **why, char *err,
                        size_t errlen)
{
	uint8_t *buf = malloc(ZG_WIRE_RBUF_SIZE);
	char ebuf[128];
	int ret = 0;

	if (buf == NULL)
		return zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
	while (*left > 0) {
		ssize_t len;
		int w = wait_fd(fd, POLLIN, deadline);
		size_t i;

		if (w == 0)
			break;
		if (w < 0) {
			ret = zg_fail(ZG_EIO, err, errlen, "%s: poll: %s", p->name,
			                   errtext(errno, ebuf, sizeof(ebuf)));
			break;
		}
		if ((len = recv(fd, buf, ZG_WIRE_RBUF_SIZE, 0)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			ret = udp_error(p, errno, "cannot receive", err, errlen);
			break;
		}
		if (len < KNOT_WIRE_HEADER_SIZE) {
			*why = "a datagram shorter than a DNS header";
			continue;
		}
		for (i = 0; i < n && (pq[i].matched || pq[i].id != knot_wire_get_id(buf)); i++)
			;
		if (i == n) {
			*why = "a reply with an id no query of ours had";
			continue;
		}
		memcpy(rs[i].buf, buf, (size_t)len);
		ret = zg_wire_reply_match(&rs[i], (size_t)len, pq[i].id, &qs[i], &pq[i].matched,
		                          why, err, errlen);
		if (ret != 0)
			break;
		if (pq[i].matched)
			(*left)--;
	}
	free(buf);
	return ret;
}

int zg_net_ask_many(const struct zg_net_peer *p, const struct zg_wire_question *qs, size_t n,
                    uint32_t timeout_ms, struct zg_wire_reply *rs, char *err, size_t errlen)
{
	struct pending_q *pq = calloc(n ? n : 1, sizeof(*pq));
	const char *why = "no reply";
	size_t left = n;
	int fd = -1, ret = 0;

	for (size_t i = 0; i < n; i++)
		rs[i] = (struct zg_wire_reply){ NULL, NULL };
	if (timeout_ms == 0 || pq == NULL) {
		ret = pq == NULL ? zg_fail(ZG_ENOMEM, err, errlen, "out of memory") :
		      zg_fail(ZG_EINVAL, err, errlen, "timeout must be > 0");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		bool dup;

		do {   /* distinct ids: a reply names its query */
			pq[i].id = random_id();
			dup = false;
			for (size_t j = 0; j < i; j++)
				dup = dup || pq[j].id == pq[i].id;
		} while (dup);
		if ((rs[i].buf = malloc(ZG_WIRE_RBUF_SIZE)) == NULL) {
			ret = zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
			goto out;
		}
		if ((ret = build_query(&qs[i], &pq[i], err, errlen)) != 0)
			goto out;
	}
	if (n > 0 && (ret = udp_open(p, &fd, err, errlen)) != 0)
		goto out;
	for (int attempt = 0; attempt < NET_UDP_TRIES && left > 0; attempt++) {
		for (size_t i = 0; i < n; i++)
			if (!pq[i].matched && send(fd, pq[i].query->wire, pq[i].query->size, 0) < 0) {
				ret = udp_error(p, errno, "cannot send the query", err, errlen);
				goto out;
			}
		ret = receive_many(fd, p, qs, pq, n, rs, &left, now_ms() + timeout_ms, &why, err,
		                   errlen);
		if (ret != 0)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!pq[i].matched) {
			ret = zg_fail(ZG_EIO, err, errlen,
			                   "%s: no answer for %s %s over UDP (%d tries of %u ms; %s)",
			                   p->name, qs[i].owner, qs[i].tname, NET_UDP_TRIES,
			                   (unsigned)timeout_ms, why);
			goto out;
		}
		if (knot_wire_get_tc(rs[i].buf) &&
		    (ret = ask_tcp(p, &qs[i], pq[i].query, pq[i].id, timeout_ms, &rs[i], err,
		                   errlen)) != 0)
			goto out;
		if ((ret = zg_wire_reply_check(p->name, &qs[i], &rs[i], err, errlen)) != 0)
			goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; pq != NULL && i < n; i++) {
		knot_pkt_free(pq[i].query);
		if (ret != 0)
			zg_wire_reply_clear(&rs[i]);
	}
	free(pq);
	return ret;
}
