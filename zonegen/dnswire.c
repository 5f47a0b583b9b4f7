/*
 * dnswire.c - DNS messages for the checks of dnscheck.h (see dnswire.h):
 * the question, whether a reply answers it with authority, the answer's
 * rdata in regzone's presentation form.
 *
 * Answers are parsed by knot_pkt_parse(), which lowercases owners and the
 * names inside CNAME, MX and SRV rdata (RFC 4034 6.2 canonical form), and
 * rendered by knot_rrset_txt_dump_data(); zg_wire_normalize() then removes
 * the two differences from regzone's format found in Knot 3.2.6 (a space
 * after CAA rdata, musl's inet_ntop for IPv4-compatible IPv6 addresses).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libknot/libknot.h>

#include "zonegen/dnswire.h"
#include "zonegen/zg_err.h"

int zg_wire_question_init(const char *owner, uint16_t qtype, const char *tname,
                          struct zg_wire_question *q, char *err, size_t errlen)
{
	memset(q, 0, sizeof(*q));
	q->qtype = qtype;
	q->tname = tname;
	if (owner == NULL || owner[0] == '\0' ||
	    knot_dname_from_str(q->qname, owner, sizeof(q->qname)) == NULL)
		return zg_fail(ZG_EINVAL, err, errlen, "invalid owner name '%.260s'",
		                    owner != NULL ? owner : "(null)");
	knot_dname_to_lower(q->qname);
	if (knot_dname_to_str(q->owner, q->qname, sizeof(q->owner)) == NULL)
		return zg_fail(ZG_EINVAL, err, errlen, "owner name too long '%.260s'", owner);
	return 0;
}

void zg_wire_reply_clear(struct zg_wire_reply *r)
{
	knot_pkt_free(r->pkt);
	free(r->buf);
	r->pkt = NULL;
	r->buf = NULL;
}

int zg_wire_reply_match(struct zg_wire_reply *r, size_t len, uint16_t id,
                        const struct zg_wire_question *q, bool *matched, const char **why,
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
		return zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
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

int zg_wire_reply_check(const char *peer, const struct zg_wire_question *q,
                        struct zg_wire_reply *r, char *err, size_t errlen)
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
		return zg_fail(ZG_EIO, err, errlen,
		                    "%s: server is not authoritative for %s (%s)",
		                    peer, q->owner, rcname);
	if (rcode != KNOT_RCODE_NOERROR && rcode != KNOT_RCODE_NXDOMAIN)
		return zg_fail(ZG_EIO, err, errlen, "%s: server answered %s for %s %s",
		                    peer, rcname, q->owner, q->tname);
	if (!knot_wire_get_aa(r->buf))
		return zg_fail(ZG_EIO, err, errlen,
		                    "%s: server is not authoritative for %s "
		                    "(answer without the AA flag)", peer, q->owner);
	/* Flags 0: owners and rdata names come out lowercase. */
	ret = knot_pkt_parse(r->pkt, 0);
	if (ret != KNOT_EOK && ret != KNOT_ETRAIL)
		return zg_fail(ZG_EIO, err, errlen, "%s: malformed reply for %s %s: %s",
		                    peer, q->owner, q->tname, knot_strerror(ret));
	return 0;
}

bool zg_wire_rr_asked(const knot_rrset_t *rr, const struct zg_wire_question *q)
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
 * No trailing blanks: Knot 3.2 ends CAA with a space.  Addresses in this
 * libc's inet_ntop() form: Knot's musl copy writes ::c000:201 where glibc
 * writes ::192.0.2.1.  Names in CNAME, MX and SRV lowercase: their rdata
 * is numbers and one name, so lowercasing the whole text is exact.
 */
void zg_wire_normalize(enum zg_rtype t, char *s, size_t size)
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

int zg_wire_rdata_text(const knot_rrset_t *rr, uint16_t pos, enum zg_rtype t,
                       struct zg_wire_text *tb, const char *peer, char *err, size_t errlen)
{
	const knot_rdata_t *rd = knot_rdataset_at(&rr->rrs, pos);
	/* Worst cases: "\DDD" per byte of text, one name of KNOT_DNAME_TXT_MAXLEN. */
	size_t need = 4 * (size_t)rd->len + KNOT_DNAME_TXT_MAXLEN + 64;
	int n;

	if (tb->size < need) {
		char *np = realloc(tb->p, need);

		if (np == NULL)
			return zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
		tb->p = np;
		tb->size = need;
	}
	n = knot_rrset_txt_dump_data(rr, pos, tb->p, tb->size, &KNOT_DUMP_STYLE_DEFAULT);
	if (n < 0)
		return zg_fail(ZG_EIO, err, errlen,
		                    "%s: cannot print a record of the answer: %s",
		                    peer, knot_strerror(n));
	zg_wire_normalize(t, tb->p, tb->size);
	return 0;
}
