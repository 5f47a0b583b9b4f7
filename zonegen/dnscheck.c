/*
 * dnscheck.c - what the authoritative servers serve (see dnscheck.h): one
 * query's answer as records, the "published" / "removed" checks across
 * every server, a zone's SOA serial.  The query itself is dnsnet.c's, the
 * messages and the normal form of rdata dnswire.c's.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libknot/libknot.h>

#include "zonegen/dnscheck.h"
#include "zonegen/dnsnet.h"
#include "zonegen/dnswire.h"
#include "zonegen/zg_err.h"

/* Record types regzone writes, as DNS type numbers. */
static const uint16_t rtype_knot[ZG_RR__MAX] = {
	[ZG_RR_A] = KNOT_RRTYPE_A, [ZG_RR_AAAA] = KNOT_RRTYPE_AAAA,
	[ZG_RR_CNAME] = KNOT_RRTYPE_CNAME, [ZG_RR_SRV] = KNOT_RRTYPE_SRV,
	[ZG_RR_TXT] = KNOT_RRTYPE_TXT, [ZG_RR_MX] = KNOT_RRTYPE_MX,
	[ZG_RR_CAA] = KNOT_RRTYPE_CAA,
};

static bool rtype_ok(enum zg_rtype t)
{
	return (unsigned)t < ZG_RR__MAX && zg_rtype_name(t) != NULL;
}

/* The question for (owner, t); t must be rtype_ok(). */
static int question_for(const char *owner, enum zg_rtype t, struct zg_wire_question *q,
                        char *err, size_t errlen)
{
	return zg_wire_question_init(owner, rtype_knot[t], zg_rtype_name(t), q, err, errlen);
}

/* ------------------------------------------------------------ one query */

/*
 * The answer records of r that q asked for (type t), rendered into
 * out[0..max) in answer order.  On success *count is how many there are,
 * even beyond max.
 */
static int answer_copy(const struct zg_wire_reply *r, const struct zg_wire_question *q,
                       enum zg_rtype t, const char *peer, struct zg_rr *out, size_t max,
                       size_t *count, char *err, size_t errlen)
{
	const knot_pktsection_t *an = knot_pkt_section(r->pkt, KNOT_ANSWER);
	struct zg_wire_text tb = { NULL, 0 };
	size_t c = 0;
	int ret = 0;

	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);

		if (!zg_wire_rr_asked(rr, q))
			continue;
		for (uint16_t j = 0; j < rr->rrs.count; j++, c++) {
			struct zg_rr *o;

			if (c >= max)
				continue;
			if ((ret = zg_wire_rdata_text(rr, j, t, &tb, peer, err, errlen)) != 0)
				goto out;
			o = &out[c];
			if (strlen(tb.p) >= sizeof(o->data)) {
				ret = zg_fail(ZG_ETOOLONG, err, errlen,
				                   "%s: a %s record of %s is too long for regzone "
				                   "(%zu characters)", peer, q->tname, q->owner,
				                   strlen(tb.p));
				goto out;
			}
			memset(o, 0, sizeof(*o));
			memcpy(o->owner, q->owner, strlen(q->owner) + 1);
			o->ttl = rr->ttl;
			o->type = t;
			memcpy(o->data, tb.p, strlen(tb.p) + 1);
		}
	}
	*count = c;
out:
	free(tb.p);
	return ret;
}

int zg_dns_query(const struct zg_dns_server *srv, const char *owner,
                 enum zg_rtype type, uint32_t timeout_ms,
                 struct zg_rr *out, size_t max, size_t *n_out,
                 char *err, size_t errlen)
{
	struct zg_net_peer peer;
	struct zg_wire_question q;
	struct zg_wire_reply r = { NULL, NULL };
	size_t count = 0;
	int ret;

	if (n_out != NULL)
		*n_out = 0;
	if (n_out == NULL || (out == NULL && max > 0)) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "no output array");
		goto out;
	}
	if (!rtype_ok(type)) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "invalid record type %d", (int)type);
		goto out;
	}
	if ((ret = zg_net_peer_init(srv, &peer, err, errlen)) != 0)
		goto out;
	if ((ret = question_for(owner, type, &q, err, errlen)) != 0)
		goto out;
	if ((ret = zg_net_ask(&peer, &q, timeout_ms, &r, err, errlen)) != 0)
		goto out;
	if ((ret = answer_copy(&r, &q, type, peer.name, out, max, &count, err, errlen)) != 0)
		goto out;
	*n_out = count;
	if (count > max)
		ret = zg_fail(ZG_ERANGE, err, errlen, "%s: %zu %s records at %s, room for %zu",
		                   peer.name, count, q.tname, q.owner, max);
out:
	zg_wire_reply_clear(&r);
	return ret;
}

/* ------------------------------------------------------------ every server */

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

/* Is rrs[i] the first record of its (owner, type) group? */
static bool group_leader(const struct zg_rr *rrs, const struct want *w, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (same_rrset(rrs, w, i, j))
			return false;
	return true;
}

/* "owner ttl IN TYPE data" without the newline. */
static void rr_line(const struct zg_rr *rr, char *buf, size_t len)
{
	snprintf(buf, len, "%s %u IN %s %s", rr->owner, (unsigned)rr->ttl,
	         zg_rtype_name(rr->type), rr->data);
}

/*
 * Every argument checked before the first query: the servers parsed into
 * peers, each record's owner and normal-form data into w.
 */
static int check_prepare(const struct zg_dns_server *servers, size_t n_servers,
                         struct zg_net_peer *peers, const struct zg_rr *rrs, size_t n,
                         struct want *w, char *err, size_t errlen)
{
	struct zg_wire_question q;
	int ret;

	for (size_t s = 0; s < n_servers; s++)
		if ((ret = zg_net_peer_init(&servers[s], &peers[s], err, errlen)) != 0)
			return ret;
	for (size_t i = 0; i < n; i++) {
		if (!rtype_ok(rrs[i].type))
			return zg_fail(ZG_EINVAL, err, errlen, "record %zu: invalid type %d", i,
			                    (int)rrs[i].type);
		if ((ret = question_for(rrs[i].owner, rrs[i].type, &q, err, errlen)) != 0)
			return ret;
		memcpy(w[i].qname, q.qname, sizeof(w[i].qname));
		if (memchr(rrs[i].data, '\0', sizeof(rrs[i].data)) == NULL)
			return zg_fail(ZG_EINVAL, err, errlen, "record %zu: data not terminated",
			                    i);
		memcpy(w[i].data, rrs[i].data, sizeof(w[i].data));
		zg_wire_normalize(rrs[i].type, w[i].data, sizeof(w[i].data));
	}
	return 0;
}

/*
 * Mark which records of group leader i's RRset the reply r (to question q)
 * serves.  0, or an error rendering its rdata.
 */
static int mark_group(const struct zg_net_peer *peer, const struct zg_rr *rrs, struct want *w,
                      size_t n, size_t i, const struct zg_wire_question *q,
                      const struct zg_wire_reply *r, struct zg_wire_text *tb, char *err,
                      size_t errlen)
{
	const knot_pktsection_t *an = knot_pkt_section(r->pkt, KNOT_ANSWER);
	int ret;

	for (size_t j = i; j < n; j++)
		if (same_rrset(rrs, w, i, j))
			w[j].found = false;
	for (uint16_t k = 0; k < an->count; k++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, k);

		if (!zg_wire_rr_asked(rr, q))
			continue;
		for (uint16_t m = 0; m < rr->rrs.count; m++) {
			ret = zg_wire_rdata_text(rr, m, rrs[i].type, tb, peer->name, err, errlen);
			if (ret != 0)
				return ret;
			for (size_t j = i; j < n; j++) {
				if (!w[j].found && same_rrset(rrs, w, i, j) &&
				    strcmp(tb->p, w[j].data) == 0) {
					w[j].found = true;
					w[j].ttl = rr->ttl;
				}
			}
		}
	}
	return 0;
}

/* After mark_group(): does record rr (found as w says) leave the check
 * unmet: missing or served with another TTL (present), still served (not)? */
static bool record_unmet(const struct zg_rr *rr, const struct want *w, int present)
{
	if (present)
		return !(w->found && w->ttl == rr->ttl);
	return w->found;
}

/* err: which record peer shows unmet, and how. */
static void report_unmet(const char *peer, const struct zg_rr *rr, const struct want *w,
                         int present, char *err, size_t errlen)
{
	char line[ZG_OWNER_SIZE + ZG_DATA_SIZE + 32];

	rr_line(rr, line, sizeof(line));
	if (!present)
		zg_fail(0, err, errlen, "%s: still served: %s", peer, line);
	else if (w->found)
		zg_fail(0, err, errlen, "%s: served with TTL %u instead of %u: %s",
		             peer, (unsigned)w->ttl, (unsigned)rr->ttl, line);
	else
		zg_fail(0, err, errlen, "%s: not served yet: %s", peer, line);
}

/*
 * Ask peer for every group at once (pipelined, zg_net_ask_many()), then
 * look at the groups in order until a record leaves the check unmet.  The
 * first unmet record of the whole check is the one reported: when *result
 * is still 0 it becomes ZG_EAGAIN and err names the record.
 * Returns 0, or the error of a query (the server could not be asked).
 */
static int check_server(const struct zg_net_peer *peer, const struct zg_rr *rrs,
                        struct want *w, size_t n, int present, uint32_t timeout_ms,
                        struct zg_wire_text *tb, int *result, bool *unmet, char *err,
                        size_t errlen)
{
	struct zg_wire_question *qs = calloc(n, sizeof(*qs));
	struct zg_wire_reply *rs = calloc(n, sizeof(*rs));
	size_t *leader = calloc(n, sizeof(*leader)), nq = 0;
	int ret = 0;

	*unmet = false;
	if (qs == NULL || rs == NULL || leader == NULL) {
		ret = zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!group_leader(rrs, w, i))
			continue;
		if ((ret = question_for(rrs[i].owner, rrs[i].type, &qs[nq], err, errlen)) != 0)
			goto out;
		leader[nq++] = i;
	}
	if ((ret = zg_net_ask_many(peer, qs, nq, timeout_ms, rs, err, errlen)) != 0)
		goto out;
	for (size_t g = 0; g < nq && !*unmet; g++) {
		size_t i = leader[g];

		if ((ret = mark_group(peer, rrs, w, n, i, &qs[g], &rs[g], tb, err, errlen)) != 0)
			goto out;
		for (size_t j = i; j < n; j++) {
			if (!same_rrset(rrs, w, i, j) || !record_unmet(&rrs[j], &w[j], present))
				continue;
			*unmet = true;
			if (*result == 0) {
				*result = ZG_EAGAIN;
				report_unmet(peer->name, &rrs[j], &w[j], present, err, errlen);
			}
			break;
		}
	}
out:
	for (size_t g = 0; rs != NULL && g < nq; g++)
		zg_wire_reply_clear(&rs[g]);
	free(leader);
	free(rs);
	free(qs);
	return ret;
}

int zg_dns_check(const struct zg_dns_server *servers, size_t n_servers,
                 const struct zg_rr *rrs, size_t n, int present,
                 uint32_t timeout_ms, char *err, size_t errlen)
{
	return zg_dns_check_servers(servers, n_servers, rrs, n, present, timeout_ms, NULL, err,
	                            errlen);
}

int zg_dns_check_servers(const struct zg_dns_server *servers, size_t n_servers,
                         const struct zg_rr *rrs, size_t n, int present,
                         uint32_t timeout_ms, int *outcome, char *err, size_t errlen)
{
	struct zg_net_peer *peers = NULL;
	struct want *w = NULL;
	struct zg_wire_text tb = { NULL, 0 };
	int ret = 0, result = 0;

	for (size_t s = 0; outcome != NULL && servers != NULL && s < n_servers; s++)
		outcome[s] = ZG_DNS_NOT_ASKED;

	if (servers == NULL || n_servers == 0) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "no server to check");
		goto out;
	}
	if (rrs == NULL && n > 0) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "no records");
		goto out;
	}
	if (timeout_ms == 0) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "timeout must be > 0");
		goto out;
	}
	if (n == 0)
		goto out;
	peers = calloc(n_servers, sizeof(*peers));
	w = calloc(n, sizeof(*w));
	if (peers == NULL || w == NULL) {
		ret = zg_fail(ZG_ENOMEM, err, errlen, "out of memory");
		goto out;
	}
	if ((ret = check_prepare(servers, n_servers, peers, rrs, n, w, err, errlen)) != 0)
		goto out;
	for (size_t s = 0; s < n_servers; s++) {
		bool unmet;

		ret = check_server(&peers[s], rrs, w, n, present, timeout_ms, &tb, &result, &unmet,
		                   err, errlen);
		if (outcome != NULL)
			outcome[s] = ret != 0 ? ret : unmet ? ZG_EAGAIN : 0;
		if (ret != 0)
			goto out;   /* a server that cannot be asked wins */
	}
	ret = result;
out:
	free(tb.p);
	free(w);
	free(peers);
	return ret;
}

/* ------------------------------------------------------------ SOA */

int zg_dns_soa_serial(const struct zg_dns_server *srv, const char *zone,
                      uint32_t timeout_ms, uint32_t *serial,
                      char *err, size_t errlen)
{
	struct zg_net_peer peer;
	struct zg_wire_question q;
	struct zg_wire_reply r = { NULL, NULL };
	const knot_pktsection_t *an;
	int ret;

	if (serial == NULL) {
		ret = zg_fail(ZG_EINVAL, err, errlen, "no output for the serial");
		goto out;
	}
	if ((ret = zg_net_peer_init(srv, &peer, err, errlen)) != 0)
		goto out;
	if ((ret = zg_wire_question_init(zone, KNOT_RRTYPE_SOA, "SOA", &q, err, errlen)) != 0)
		goto out;
	if ((ret = zg_net_ask(&peer, &q, timeout_ms, &r, err, errlen)) != 0)
		goto out;
	an = knot_pkt_section(r.pkt, KNOT_ANSWER);
	for (uint16_t i = 0; i < an->count; i++) {
		const knot_rrset_t *rr = knot_pkt_rr(an, i);
		const knot_rdata_t *rd;

		if (!zg_wire_rr_asked(rr, &q) || rr->rrs.count == 0)
			continue;
		rd = knot_rdataset_at(&rr->rrs, 0);
		/* Two names (at least the root, 1 byte each) and 5 x 32 bits. */
		if (rd->len < 2 + 20) {
			ret = zg_fail(ZG_EIO, err, errlen, "%s: malformed SOA for %s", peer.name,
			                   q.owner);
			goto out;
		}
		*serial = knot_soa_serial(rd);
		goto out;
	}
	ret = zg_fail(ZG_ENOENT, err, errlen, "%s: no SOA at %s (not a zone apex)",
	                   peer.name, q.owner);
out:
	zg_wire_reply_clear(&r);
	return ret;
}
