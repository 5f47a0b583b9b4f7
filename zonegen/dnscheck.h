/*
 * dnscheck.h - ask the authoritative servers what they really serve.
 *
 * A domain counts as published only when EVERY authoritative server
 * (primary and secondaries) answers the records regzone wrote, and as
 * removed only when none of them answers any.  These functions ask each
 * server directly (UDP, re-asked over TCP when the reply is truncated),
 * without recursion, and compare the answers with regzone's records in
 * regzone's own presentation format (struct zg_rr, zonegen.h).
 *
 * Answers are rendered as regzone writes records:
 *   - owner: lowercase FQDN with the trailing dot;
 *   - names inside CNAME, MX and SRV rdata: lowercase, fully qualified;
 *   - A and AAAA: inet_ntop() form of this C library (Knot prints
 *     IPv4-compatible IPv6 addresses as "::c000:201", glibc and regzone as
 *     "::192.0.2.1": the answer is re-rendered);
 *   - TXT: each character-string in double quotes, '"' and '\' escaped
 *     with '\', other bytes outside printable ASCII as "\DDD", strings
 *     separated by one space;
 *   - CAA: "FLAGS TAG \"VALUE\"" (Knot 3.2 appends a space: removed);
 *   - no trailing whitespace.
 *
 * Waiting is the caller's business: every function asks once (UDP is
 * re-sent once on timeout) and returns; "not yet" is ZG_EAGAIN.
 *
 * No global state, no threads, no signals (TCP writes use MSG_NOSIGNAL):
 * each call owns its sockets, packets and buffers, so calls may run in
 * several threads at once.  Errors are ZG_E* codes (zonegen/zg_err.h) with
 * a one-line message in the caller's err buffer (nothing is written when
 * err is NULL or errlen is 0); a message about a server starts with it as
 * "ADDRESS@PORT: ", one about an argument does not.
 */
#ifndef ZONEGEN_DNSCHECK_H
#define ZONEGEN_DNSCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "zonegen/zonegen.h"

/* One authoritative server: an IPv4 or IPv6 literal (no brackets, no
 * scope names) and a port (not 0). */
struct zg_dns_server {
	const char *address;
	uint16_t port;
};

/*
 * Ask srv for (owner, type), class IN, recursion not desired.
 *
 * timeout_ms bounds each wait for a reply: a UDP query is sent at most
 * twice (so up to 2 x timeout_ms), and a truncated UDP reply makes one TCP
 * exchange with its own timeout_ms (connect, send and receive together).
 * UDP replies whose id, flags or question do not match are ignored, as
 * late or forged ones would be.
 *
 * The reply must be authoritative (AA set) with RCODE NOERROR or NXDOMAIN.
 * out[0..max) receives the answer records of exactly that owner and type,
 * in answer order (other records, such as a CNAME met instead of the type
 * asked, are skipped; NXDOMAIN and NODATA give none); *n_out is the number
 * of such records, even when it exceeds max.
 *
 * In:  srv, owner (text, trailing dot optional, any case), type,
 *      timeout_ms (> 0), out/max (out may be NULL when max is 0).
 * Out: out[0 .. min(*n_out, max)), *n_out (0 on any error but ZG_ERANGE),
 *      err.
 * Returns 0, or
 *   ZG_EINVAL   bad server address, port, owner or type, timeout_ms 0,
 *               n_out NULL, or out NULL with max > 0;
 *   ZG_EIO      no reply, refused connection, malformed reply, or the
 *               server is not authoritative ("server is not authoritative
 *               for OWNER" - REFUSED or no AA) or answered another RCODE
 *               (the message names it);
 *   ZG_ERANGE   more than max records (*n_out says how many);
 *   ZG_ETOOLONG a record's text does not fit struct zg_rr;
 *   ZG_ENOMEM.
 */
int zg_dns_query(const struct zg_dns_server *srv, const char *owner,
                 enum zg_rtype type, uint32_t timeout_ms,
                 struct zg_rr *out, size_t max, size_t *n_out,
                 char *err, size_t errlen);

/*
 * Check that every server serves rrs[0..n) (present != 0) or none serves
 * any of them (present = 0).
 *
 * One query per distinct (owner, type) and server, not one per record.
 * A record is served when an answer record of its owner and type has the
 * same rdata (compared in the normal form above; rrs' own data is brought
 * to that form too, so "2001:DB8::1" or an upper-case target still
 * match).  present != 0 also needs the same TTL.  present = 0 ignores TTLs,
 * and records of the same owner and type with other rdata (a customer's)
 * never count.
 *
 * Every server is asked at least once: a server that cannot be asked
 * makes the whole check ZG_EIO, even when another one already showed a
 * record missing.  Once a server shows one record missing (or still
 * there) its remaining queries are skipped.
 *
 * In:  servers[0..n_servers) (n_servers > 0), rrs[0..n) (n = 0 is
 *      trivially satisfied: nothing is asked and the servers are not
 *      even parsed), present, timeout_ms as zg_dns_query().
 * Returns 0, or
 *   ZG_EAGAIN   not yet: err names the first server and record found
 *               missing, served with another TTL, or still served;
 *   ZG_EIO      a server could not be asked (err says which and why),
 *               including "not authoritative": a secondary that has not
 *               loaded a newly added zone yet answers REFUSED, so callers
 *               should retry ZG_EIO with backoff rather than give up;
 *   ZG_EINVAL   bad argument (err says which): no servers, rrs NULL with
 *               n > 0, timeout_ms 0, a bad server, a record of an invalid
 *               type or owner or whose data is not NUL-terminated; all
 *               are checked before the first query;
 *   ZG_ENOMEM.
 */
int zg_dns_check(const struct zg_dns_server *servers, size_t n_servers,
                 const struct zg_rr *rrs, size_t n, int present,
                 uint32_t timeout_ms, char *err, size_t errlen);

/*
 * zg_dns_check(), and what each server showed in outcome[0..n_servers)
 * (outcome may be NULL): 0 it serves the records as asked, ZG_EAGAIN not
 * yet, the error of a query when it could not be asked, ZG_DNS_NOT_ASKED
 * when it was not (n = 0, a bad argument, or an earlier server's error
 * ended the check).  Same returns as zg_dns_check().
 */
#define ZG_DNS_NOT_ASKED 1
int zg_dns_check_servers(const struct zg_dns_server *servers, size_t n_servers,
                         const struct zg_rr *rrs, size_t n, int present,
                         uint32_t timeout_ms, int *outcome, char *err, size_t errlen);

/*
 * The SOA serial srv serves for zone (its apex, trailing dot optional),
 * asked as zg_dns_query() asks.
 * Returns 0 with *serial set, or
 *   ZG_ENOENT   the server is authoritative but answers no SOA at that
 *               name (not a zone apex);
 *   ZG_EIO      as zg_dns_query(), including a server that does not serve
 *               the zone at all, or a malformed SOA;
 *   ZG_EINVAL   serial NULL, bad server, zone name or timeout_ms;
 *   ZG_ENOMEM.
 */
int zg_dns_soa_serial(const struct zg_dns_server *srv, const char *zone,
                      uint32_t timeout_ms, uint32_t *serial,
                      char *err, size_t errlen);

#endif
