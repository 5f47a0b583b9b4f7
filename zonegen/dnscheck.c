/*
 * dnscheck.c - direct, non-recursive queries to authoritative servers and
 * the "published" / "removed" checks built on them (see dnscheck.h).
 *
 * One query: a packet built with libknot (random id, RD clear, no EDNS),
 * sent over a connected UDP socket and re-sent once on timeout; a reply
 * with TC set is asked again over TCP (2-byte length prefix).  All waits
 * are poll() against a deadline on CLOCK_MONOTONIC; nothing sleeps.
 *
 * Answers are parsed by knot_pkt_parse(), which lowercases owners and the
 * names inside CNAME, MX and SRV rdata (RFC 4034 6.2 canonical form), and
 * rendered by knot_rrset_txt_dump_data(); data_normalize() then removes
 * the two differences from regzone's format found in Knot 3.2.6 (a space
 * after CAA rdata, musl's inet_ntop for IPv4-compatible IPv6 addresses).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
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

#include "daemon/rz_err.h"
#include "zonegen/dnscheck.h"

#define DNS_PEER_SIZE  (INET6_ADDRSTRLEN + 8)  /* "address@port" */
#define DNS_RBUF_SIZE  KNOT_WIRE_MAX_PKTSIZE   /* largest reply (TCP) */
#define DNS_UDP_TRIES  2

/* Record types regzone writes, as DNS type numbers. */
static const uint16_t rtype_knot[ZG_RR__MAX] = {
	[ZG_RR_A] = KNOT_RRTYPE_A, [ZG_RR_AAAA] = KNOT_RRTYPE_AAAA,
	[ZG_RR_CNAME] = KNOT_RRTYPE_CNAME, [ZG_RR_SRV] = KNOT_RRTYPE_SRV,
	[ZG_RR_TXT] = KNOT_RRTYPE_TXT, [ZG_RR_MX] = KNOT_RRTYPE_MX,
	[ZG_RR_CAA] = KNOT_RRTYPE_CAA,
};

/* A server, resolved once per call. */
struct dns_peer {
	struct sockaddr_storage ss;
	socklen_t sslen;
	char name[DNS_PEER_SIZE];   /* for messages */
};

/* What is asked. */
struct dns_question {
	knot_dname_storage_t qname;  /* lowercase wire form */
	uint16_t qtype;
	const char *tname;           /* "SRV", for messages */
	char owner[ZG_OWNER_SIZE];   /* lowercase text, trailing dot */
};

/* A reply: the receive buffer and the packet parsed over it. */
struct dns_reply {
	uint8_t *buf;
	knot_pkt_t *pkt;
};

/* A growable text buffer for rendering rdata. */
struct dns_text {
	char *p;
	size_t size;
};

static int fail(int code, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

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

static int peer_init(const struct zg_dns_server *srv, struct dns_peer *p,
                     char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&p->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&p->ss;
	char addr[INET6_ADDRSTRLEN];

	memset(p, 0, sizeof(*p));
	if (srv == NULL || srv->address == NULL)
		return fail(RZ_EINVAL, err, errlen, "no server address");
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
		return fail(RZ_EINVAL, err, errlen,
		            "invalid server address '%.64s' (want an IPv4 or IPv6 literal)",
		            srv->address);
	}
	snprintf(p->name, sizeof(p->name), "%s@%u", addr, (unsigned)srv->port);
	if (srv->port == 0)
		return fail(RZ_EINVAL, err, errlen, "%s: invalid port 0", p->name);
	return 0;
}

static int question_init(const char *owner, uint16_t qtype, const char *tname,
                         struct dns_question *q, char *err, size_t errlen)
{
	memset(q, 0, sizeof(*q));
	q->qtype = qtype;
	q->tname = tname;
	if (owner == NULL || owner[0] == '\0' ||
	    knot_dname_from_str(q->qname, owner, sizeof(q->qname)) == NULL)
		return fail(RZ_EINVAL, err, errlen, "invalid owner name '%.260s'",
		            owner != NULL ? owner : "(null)");
	knot_dname_to_lower(q->qname);
	if (knot_dname_to_str(q->owner, q->qname, sizeof(q->owner)) == NULL)
		return fail(RZ_EINVAL, err, errlen, "owner name too long '%.260s'", owner);
	return 0;
}

static void reply_clear(struct dns_reply *r)
{
	knot_pkt_free(r->pkt);
	free(r->buf);
	r->pkt = NULL;
	r->buf = NULL;
}

/*
 * Does r->buf[0..len) answer query id / question q?  On a match r->pkt is
 * the packet over r->buf with its question parsed; otherwise *why says
 * what was wrong.  Returns 0 (matched or not) or RZ_ENOMEM.
 */
static int reply_match(struct dns_reply *r, size_t len, uint16_t id,
                       const struct dns_question *q, bool *matched, const char **why,
                       char *err, size_t errlen)
{
	*matched = false;
	knot_pkt_free(r->pkt);
	r->pkt = NULL;
	if (len < KNOT_WIRE_HEADER_SIZE) {
		*why = "reply shorter than a DNS header";
		return 0;
	}
	if (knot_wire_get_id(r->buf) != id) {
		*why = "reply with another id";
		return 0;
	}
	if (!knot_wire_get_qr(r->buf)) {
		*why = "packet without the QR flag";
		return 0;
	}
	if (knot_wire_get_qdcount(r->buf) != 1) {
		*why = "reply without the question";
		return 0;
	}
	r->pkt = knot_pkt_new(r->buf, (uint16_t)len, NULL);
	if (r->pkt == NULL)
		return fail(RZ_ENOMEM, err, errlen, "out of memory");
	if (knot_pkt_parse_question(r->pkt) != KNOT_EOK) {
		*why = "reply with a malformed question";
		return 0;
	}
	if (!knot_dname_is_equal(knot_pkt_qname(r->pkt), q->qname) ||
	    knot_pkt_qtype(r->pkt) != q->qtype || knot_pkt_qclass(r->pkt) != KNOT_CLASS_IN) {
		*why = "reply to another question";
		return 0;
	}
	*matched = true;
	return 0;
}

/*
 * Ask over UDP: send, wait up to timeout_ms, re-send once.  Replies that do
 * not match are ignored.  On success r->pkt holds the matching reply (its
 * question parsed) and *truncated its TC flag.
 */
static int ask_udp(const struct dns_peer *p, const struct dns_question *q,
                   const knot_pkt_t *query, uint16_t id, uint32_t timeout_ms,
                   struct dns_reply *r, bool *truncated, char *err, size_t errlen)
{
	const char *why = "no reply";
	char ebuf[128];
	int fd = -1, ret = 0;
	bool matched = false;

	*truncated = false;
	fd = socket(p->ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = fail(RZ_EIO, err, errlen, "%s: cannot open a UDP socket: %s", p->name,
		           errtext(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	/* Connected: only the server's address reaches us, and an ICMP port
	 * unreachable comes back as ECONNREFUSED instead of a timeout. */
	if (connect(fd, (const struct sockaddr *)&p->ss, p->sslen) != 0) {
		ret = fail(RZ_EIO, err, errlen, "%s: cannot reach the server over UDP: %s",
		           p->name, errtext(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	for (int attempt = 0; attempt < DNS_UDP_TRIES && !matched; attempt++) {
		int64_t deadline;

		if (send(fd, query->wire, query->size, 0) < 0) {
			int e = errno;

			if (e == ECONNREFUSED)
				ret = fail(RZ_EIO, err, errlen,
				           "%s: connection refused (no DNS server on that UDP port)",
				           p->name);
			else
				ret = fail(RZ_EIO, err, errlen, "%s: cannot send the query: %s",
				           p->name, errtext(e, ebuf, sizeof(ebuf)));
			goto out;
		}
		deadline = now_ms() + timeout_ms;
		while (!matched) {
			ssize_t n;
			int w = wait_fd(fd, POLLIN, deadline);

			if (w == 0)
				break;   /* timed out: send again */
			if (w < 0) {
				ret = fail(RZ_EIO, err, errlen, "%s: poll: %s", p->name,
				           errtext(errno, ebuf, sizeof(ebuf)));
				goto out;
			}
			n = recv(fd, r->buf, DNS_RBUF_SIZE, 0);
			if (n < 0) {
				int e = errno;

				if (e == EINTR || e == EAGAIN)
					continue;
				if (e == ECONNREFUSED)
					ret = fail(RZ_EIO, err, errlen,
					           "%s: connection refused (no DNS server on that UDP port)",
					           p->name);
				else
					ret = fail(RZ_EIO, err, errlen, "%s: cannot receive: %s",
					           p->name, errtext(e, ebuf, sizeof(ebuf)));
				goto out;
			}
			if ((ret = reply_match(r, (size_t)n, id, q, &matched, &why, err, errlen)) != 0)
				goto out;
		}
	}
	if (!matched) {
		ret = fail(RZ_EIO, err, errlen,
		           "%s: no answer for %s %s over UDP (%d tries of %u ms; %s)",
		           p->name, q->owner, q->tname, DNS_UDP_TRIES, (unsigned)timeout_ms, why);
		goto out;
	}
	*truncated = knot_wire_get_tc(r->buf) != 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Write all of buf to a non-blocking socket before deadline. */
static int tcp_write(int fd, const uint8_t *buf, size_t len, int64_t deadline,
                     const struct dns_peer *p, char *err, size_t errlen)
{
	char ebuf[128];

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(RZ_EIO, err, errlen, "%s: TCP send: %s", p->name,
			            errtext(errno, ebuf, sizeof(ebuf)));
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w == 0)
			return fail(RZ_EIO, err, errlen, "%s: TCP send timed out", p->name);
		if (w < 0)
			return fail(RZ_EIO, err, errlen, "%s: poll: %s", p->name,
			            errtext(errno, ebuf, sizeof(ebuf)));
	}
	return 0;
}

/* Read exactly len bytes from a non-blocking socket before deadline. */
static int tcp_read(int fd, uint8_t *buf, size_t len, int64_t deadline,
                    const struct dns_peer *p, char *err, size_t errlen)
{
	char ebuf[128];

	while (len > 0) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return fail(RZ_EIO, err, errlen, "%s: TCP connection closed by the server",
			            p->name);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(RZ_EIO, err, errlen, "%s: TCP receive: %s", p->name,
			            errtext(errno, ebuf, sizeof(ebuf)));
		int w = wait_fd(fd, POLLIN, deadline);
		if (w == 0)
			return fail(RZ_EIO, err, errlen, "%s: no TCP reply within the timeout",
			            p->name);
		if (w < 0)
			return fail(RZ_EIO, err, errlen, "%s: poll: %s", p->name,
			            errtext(errno, ebuf, sizeof(ebuf)));
	}
	return 0;
}

/* Ask over TCP: one exchange, connect to reply within timeout_ms. */
static int ask_tcp(const struct dns_peer *p, const struct dns_question *q,
                   const knot_pkt_t *query, uint16_t id, uint32_t timeout_ms,
                   struct dns_reply *r, char *err, size_t errlen)
{
	uint8_t msg[2 + KNOT_WIRE_MIN_PKTSIZE];
	uint8_t hdr[2];
	const char *why = NULL;
	char ebuf[128];
	int64_t deadline = now_ms() + timeout_ms;
	int fd = -1, ret = 0, soerr = 0;
	socklen_t slen = sizeof(soerr);
	size_t len;
	bool matched = false;

	if (query->size > KNOT_WIRE_MIN_PKTSIZE) {
		ret = fail(RZ_EINVAL, err, errlen, "query too large");
		goto out;
	}
	fd = socket(p->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = fail(RZ_EIO, err, errlen, "%s: cannot open a TCP socket: %s", p->name,
		           errtext(errno, ebuf, sizeof(ebuf)));
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)&p->ss, p->sslen) != 0) {
		if (errno != EINPROGRESS) {
			ret = fail(RZ_EIO, err, errlen, "%s: TCP connect: %s", p->name,
			           errtext(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0) {
			ret = fail(RZ_EIO, err, errlen, "%s: TCP connect: %s", p->name,
			           w == 0 ? "timed out" : errtext(errno, ebuf, sizeof(ebuf)));
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) != 0)
			soerr = errno;
		if (soerr != 0) {
			ret = fail(RZ_EIO, err, errlen, "%s: TCP connect: %s", p->name,
			           errtext(soerr, ebuf, sizeof(ebuf)));
			goto out;
		}
	}
	knot_wire_write_u16(msg, (uint16_t)query->size);
	memcpy(msg + 2, query->wire, query->size);
	if ((ret = tcp_write(fd, msg, query->size + 2, deadline, p, err, errlen)) != 0)
		goto out;
	if ((ret = tcp_read(fd, hdr, sizeof(hdr), deadline, p, err, errlen)) != 0)
		goto out;
	len = knot_wire_read_u16(hdr);
	if ((ret = tcp_read(fd, r->buf, len, deadline, p, err, errlen)) != 0)
		goto out;
	if ((ret = reply_match(r, len, id, q, &matched, &why, err, errlen)) != 0)
		goto out;
	if (!matched) {
		ret = fail(RZ_EIO, err, errlen, "%s: TCP %s (asked %s %s)", p->name, why,
		           q->owner, q->tname);
		goto out;
	}
	if (knot_wire_get_tc(r->buf)) {
		ret = fail(RZ_EIO, err, errlen, "%s: reply for %s %s truncated even over TCP",
		           p->name, q->owner, q->tname);
		goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

/* The reply is to our question: is it an authoritative answer we can use? */
static int reply_check(const struct dns_peer *p, const struct dns_question *q,
                       struct dns_reply *r, char *err, size_t errlen)
{
	uint8_t rcode = knot_wire_get_rcode(r->buf);
	const knot_lookup_t *rc = knot_lookup_by_id(knot_rcode_names, rcode);
	char rcbuf[16];
	const char *rcname = rc != NULL ? rc->name : NULL;
	int ret;

	if (rcname == NULL) {
		snprintf(rcbuf, sizeof(rcbuf), "RCODE %u", (unsigned)rcode);
		rcname = rcbuf;
	}
	if (rcode == KNOT_RCODE_REFUSED || rcode == KNOT_RCODE_NOTAUTH)
		return fail(RZ_EIO, err, errlen, "%s: server is not authoritative for %s (%s)",
		            p->name, q->owner, rcname);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN)
		return fail(RZ_EIO, err, errlen, "%s: server answered %s for %s %s",
		            p->name, rcname, q->owner, q->tname);
	if (!knot_wire_get_aa(r->buf))
		return fail(RZ_EIO, err, errlen,
		            "%s: server is not authoritative for %s (answer without the AA flag)",
		            p->name, q->owner);
	/* Flags 0: owners and rdata names come out lowercase. */
	ret = knot_pkt_parse(r->pkt, 0);
	if (ret != KNOT_EOK && ret != KNOT_ETRAIL)
		return fail(RZ_EIO, err, errlen, "%s: malformed reply for %s %s: %s",
		            p->name, q->owner, q->tname, knot_strerror(ret));
	return 0;
}

/*
 * One query: UDP, then TCP when truncated.  On success r holds the parsed,
 * checked reply (free with reply_clear()); on error r is cleared.
 */
static int dns_ask(const struct dns_peer *p, const struct dns_question *q,
                   uint32_t timeout_ms, struct dns_reply *r, char *err, size_t errlen)
{
	knot_pkt_t *query = NULL;
	uint16_t id = random_id();
	bool truncated = false;
	int ret;

	if (timeout_ms == 0) {
		ret = fail(RZ_EINVAL, err, errlen, "timeout must be > 0");
		goto out;
	}
	query = knot_pkt_new(NULL, KNOT_WIRE_MIN_PKTSIZE, NULL);
	r->buf = malloc(DNS_RBUF_SIZE);
	if (query == NULL || r->buf == NULL) {
		ret = fail(RZ_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	ret = knot_pkt_put_question(query, q->qname, KNOT_CLASS_IN, q->qtype);
	if (ret != KNOT_EOK) {
		ret = fail(RZ_EINVAL, err, errlen, "cannot build a query for %s %s: %s",
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
	ret = reply_check(p, q, r, err, errlen);
out:
	knot_pkt_free(query);
	if (ret != 0)
		reply_clear(r);
	return ret;
}

/* Is rr (from the answer) of the owner, type and class asked? */
static bool rr_asked(const knot_rrset_t *rr, const struct dns_question *q)
{
	return rr->type == q->qtype && rr->rclass == KNOT_CLASS_IN &&
	       knot_dname_is_case_equal(rr->owner, q->qname);
}

static void lower_ascii(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/*
 * Bring presentation-format rdata s (buffer of size bytes) of type t to
 * regzone's form, in place: no trailing blanks (Knot 3.2 ends CAA with a
 * space), addresses in this libc's inet_ntop() form (Knot's musl copy
 * writes ::c000:201 where glibc writes ::192.0.2.1), names in CNAME, MX
 * and SRV lowercase (their rdata is numbers and one name, so lowercasing
 * the whole text is exact).  TXT and CAA text stay byte for byte.
 */
static void data_normalize(enum zg_rtype t, char *s, size_t size)
{
	size_t len = strlen(s);
	unsigned char bin[sizeof(struct in6_addr)];
	char addr[INET6_ADDRSTRLEN];
	int af = t == ZG_RR_A ? AF_INET : AF_INET6;

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		s[--len] = '\0';
	switch (t) {
	case ZG_RR_A:
	case ZG_RR_AAAA:
		if (inet_pton(af, s, bin) == 1 && inet_ntop(af, bin, addr, sizeof(addr)) != NULL &&
		    strlen(addr) < size)
			memcpy(s, addr, strlen(addr) + 1);
		break;
	case ZG_RR_CNAME:
	case ZG_RR_MX:
	case ZG_RR_SRV:
		lower_ascii(s);
		break;
	default:
		break;
	}
}

/* Render rdata number pos of rr (an answer RR of type t) into tb, in
 * regzone's form. */
static int rdata_text(const knot_rrset_t *rr, uint16_t pos, enum zg_rtype t,
                      struct dns_text *tb, const struct dns_peer *p, char *err, size_t errlen)
{
	const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, pos);
	/* Worst cases: "\DDD" per byte of text, one name of KNOT_DNAME_TXT_MAXLEN. */
	size_t need = 4 * (size_t)rd->len + KNOT_DNAME_TXT_MAXLEN + 64;
	int n;

	if (tb->size < need) {
		char *np = realloc(tb->p, need);

		if (np == NULL)
			return fail(RZ_ENOMEM, err, errlen, "out of memory");
		tb->p = np;
		tb->size = need;
	}
	n = knot_rrset_txt_dump_data(rr, pos, tb->p, tb->size, &KNOT_DUMP_STYLE_DEFAULT);
	if (n < 0)
		return fail(RZ_EIO, err, errlen, "%s: cannot print a record of the answer: %s",
		            p->name, knot_strerror(n));
	data_normalize(t, tb->p, tb->size);
	return 0;
}

static bool rtype_ok(enum zg_rtype t)
{
	return (unsigned)t < ZG_RR__MAX && zg_rtype_name(t) != NULL;
}

int zg_dns_query(const struct zg_dns_server *srv, const char *owner,
                 enum zg_rtype type, uint32_t timeout_ms,
                 struct zg_rr *out, size_t max, size_t *n_out,
                 char *err, size_t errlen)
{
	struct dns_peer peer;
	struct dns_question q;
	struct dns_reply r = { NULL, NULL };
	struct dns_text tb = { NULL, 0 };
	const knot_pktsection_t *an;
	size_t count = 0;
	int ret;

	if (n_out != NULL)
		*n_out = 0;
	if (n_out == NULL || (out == NULL && max > 0)) {
		ret = fail(RZ_EINVAL, err, errlen, "no output array");
		goto out;
	}
	if (!rtype_ok(type)) {
		ret = fail(RZ_EINVAL, err, errlen, "invalid record type %d", (int)type);
		goto out;
	}
	if ((ret = peer_init(srv, &peer, err, errlen)) != 0)
		goto out;
	if ((ret = question_init(owner, rtype_knot[type], zg_rtype_name(type), &q,
	                         err, errlen)) != 0)
		goto out;
	if ((ret = dns_ask(&peer, &q, timeout_ms, &r, err, errlen)) != 0)
		goto out;

	an = knot_pkt_section(r.pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);

		if (!rr_asked(rr, &q))
			continue;
		for (uint16_t j = 0; j < rr->rrs.count; j++, count++) {
			struct zg_rr *o;

			if (count >= max)
				continue;
			if ((ret = rdata_text(rr, j, type, &tb, &peer, err, errlen)) != 0)
				goto out;
			o = &out[count];
			if (strlen(tb.p) >= sizeof(o->data)) {
				ret = fail(RZ_ETOOLONG, err, errlen,
				           "%s: a %s record of %s is too long for regzone (%zu characters)",
				           peer.name, q.tname, q.owner, strlen(tb.p));
				goto out;
			}
			memset(o, 0, sizeof(*o));
			memcpy(o->owner, q.owner, strlen(q.owner) + 1);
			o->ttl = rr->ttl;
			o->type = type;
			memcpy(o->data, tb.p, strlen(tb.p) + 1);
		}
	}
	*n_out = count;
	if (count > max)
		ret = fail(RZ_ERANGE, err, errlen, "%s: %zu %s records at %s, room for %zu",
		           peer.name, count, q.tname, q.owner, max);
out:
	free(tb.p);
	reply_clear(&r);
	return ret;
}

/* One of the records zg_dns_check() looks for. */
struct want {
	knot_dname_storage_t qname;  /* lowercase */
	char data[ZG_DATA_SIZE];     /* normal form */
	bool found;                  /* same rdata answered */
	uint32_t ttl;                /* its TTL then */
};

static bool same_rrset(const struct zg_rr *rrs, const struct want *w, size_t i, size_t j)
{
	return rrs[i].type == rrs[j].type && knot_dname_is_equal(w[i].qname, w[j].qname);
}

/* "owner ttl IN TYPE data" without the newline. */
static void rr_line(const struct zg_rr *rr, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u IN %s %s", rr->owner, (unsigned)rr->ttl,
	         zg_rtype_name(rr->type), rr->data);
}

/*
 * Ask peer for the RRset of group leader i and mark which records of the
 * group it serves.  0, or an error (RZ_EIO...) of the query.
 */
static int check_group(const struct dns_peer *peer, const struct zg_rr *rrs, struct want *w,
                       size_t n, size_t i, uint32_t timeout_ms, struct dns_text *tb,
                       char *err, size_t errlen)
{
	struct dns_question q;
	struct dns_reply r = { NULL, NULL };
	const knot_pktsection_t *an;
	int ret;

	for (size_t j = i; j < n; j++)
		if (same_rrset(rrs, w, i, j))
			w[j].found = false;
	if ((ret = question_init(rrs[i].owner, rtype_knot[rrs[i].type],
	                         zg_rtype_name(rrs[i].type), &q, err, errlen)) != 0)
		goto out;
	if ((ret = dns_ask(peer, &q, timeout_ms, &r, err, errlen)) != 0)
		goto out;
	an = knot_pkt_section(r.pkt, KNOT_ANSWER);
	for (uint16_t k = 0; k < an->count; k++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, k);

		if (!rr_asked(rr, &q))
			continue;
		for (uint16_t m = 0; m < rr->rrs.count; m++) {
			if ((ret = rdata_text(rr, m, rrs[i].type, tb, peer, err, errlen)) != 0)
				goto out;
			for (size_t j = i; j < n; j++) {
				if (!w[j].found && same_rrset(rrs, w, i, j) &&
				    strcmp(tb->p, w[j].data) == 0) {
					w[j].found = true;
					w[j].ttl = rr->ttl;
				}
			}
		}
	}
out:
	reply_clear(&r);
	return ret;
}

int zg_dns_check(const struct zg_dns_server *servers, size_t n_servers,
                 const struct zg_rr *rrs, size_t n, int present,
                 uint32_t timeout_ms, char *err, size_t errlen)
{
	struct dns_peer *peers = NULL;
	struct want *w = NULL;
	struct dns_text tb = { NULL, 0 };
	struct dns_question q;
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32];
	int ret = 0, result = 0;

	if (servers == NULL || n_servers == 0) {
		ret = fail(RZ_EINVAL, err, errlen, "no server to check");
		goto out;
	}
	if (rrs == NULL && n > 0) {
		ret = fail(RZ_EINVAL, err, errlen, "no records");
		goto out;
	}
	if (timeout_ms == 0) {
		ret = fail(RZ_EINVAL, err, errlen, "timeout must be > 0");
		goto out;
	}
	if (n == 0)
		goto out;
	peers = calloc(n_servers, sizeof(*peers));
	w = calloc(n, sizeof(*w));
	if (peers == NULL || w == NULL) {
		ret = fail(RZ_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	/* Every argument checked before the first query. */
	for (size_t s = 0; s < n_servers; s++)
		if ((ret = peer_init(&servers[s], &peers[s], err, errlen)) != 0)
			goto out;
	for (size_t i = 0; i < n; i++) {
		if (!rtype_ok(rrs[i].type)) {
			ret = fail(RZ_EINVAL, err, errlen, "record %zu: invalid type %d", i,
			           (int)rrs[i].type);
			goto out;
		}
		if ((ret = question_init(rrs[i].owner, rtype_knot[rrs[i].type],
		                         zg_rtype_name(rrs[i].type), &q, err, errlen)) != 0)
			goto out;
		memcpy(w[i].qname, q.qname, sizeof(w[i].qname));
		if (memchr(rrs[i].data, '\0', sizeof(rrs[i].data)) == NULL) {
			ret = fail(RZ_EINVAL, err, errlen, "record %zu: data not terminated", i);
			goto out;
		}
		memcpy(w[i].data, rrs[i].data, sizeof(w[i].data));
		data_normalize(rrs[i].type, w[i].data, sizeof(w[i].data));
	}

	for (size_t s = 0; s < n_servers; s++) {
		bool server_done = false;

		for (size_t i = 0; i < n && !server_done; i++) {
			bool leader = true;

			for (size_t j = 0; j < i && leader; j++)
				if (same_rrset(rrs, w, i, j))
					leader = false;
			if (!leader)
				continue;
			ret = check_group(&peers[s], rrs, w, n, i, timeout_ms, &tb, err, errlen);
			if (ret != 0)
				goto out;   /* a server that cannot be asked wins */
			for (size_t j = i; j < n && !server_done; j++) {
				if (!same_rrset(rrs, w, i, j))
					continue;
				if (present && w[j].found && w[j].ttl == rrs[j].ttl)
					continue;
				if (!present && !w[j].found)
					continue;
				server_done = true;
				if (result != 0)
					break;   /* keep the first one found */
				result = RZ_EAGAIN;
				rr_line(&rrs[j], line, sizeof(line));
				if (!present)
					fail(0, err, errlen, "%s: still served: %s", peers[s].name, line);
				else if (w[j].found)
					fail(0, err, errlen, "%s: served with TTL %u instead of %u: %s",
					     peers[s].name, (unsigned)w[j].ttl, (unsigned)rrs[j].ttl, line);
				else
					fail(0, err, errlen, "%s: not served yet: %s", peers[s].name, line);
			}
		}
	}
	ret = result;
out:
	free(tb.p);
	free(w);
	free(peers);
	return ret;
}

int zg_dns_soa_serial(const struct zg_dns_server *srv, const char *zone,
                      uint32_t timeout_ms, uint32_t *serial,
                      char *err, size_t errlen)
{
	struct dns_peer peer;
	struct dns_question q;
	struct dns_reply r = { NULL, NULL };
	const knot_pktsection_t *an;
	int ret;

	if (serial == NULL) {
		ret = fail(RZ_EINVAL, err, errlen, "no output for the serial");
		goto out;
	}
	if ((ret = peer_init(srv, &peer, err, errlen)) != 0)
		goto out;
	if ((ret = question_init(zone, KNOT_RRTYPE_SOA, "SOA", &q, err, errlen)) != 0)
		goto out;
	if ((ret = dns_ask(&peer, &q, timeout_ms, &r, err, errlen)) != 0)
		goto out;
	an = knot_pkt_section(r.pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);

		const knot_rdata_t *rd;

		if (!rr_asked(rr, &q) || rr->rrs.count == 0)
			continue;
		rd = knot_rdataset_at(&rr->rrs, 0);
		/* Two names (at least the root, 1 byte each) and 5 x 32 bits. */
		if (rd->len < 2 + 20) {
			ret = fail(RZ_EIO, err, errlen, "%s: malformed SOA for %s", peer.name,
			           q.owner);
			goto out;
		}
		*serial = knot_soa_serial(rd);
		goto out;
	}
	ret = fail(RZ_ENOENT, err, errlen, "%s: no SOA at %s (not a zone apex)", peer.name,
	           q.owner);
out:
	reply_clear(&r);
	return ret;
}
