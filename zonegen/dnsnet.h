/*
 * dnsnet.h - DNS queries to one server for dnscheck.c: a connected UDP
 * socket, the query re-sent once on timeout, asked again over TCP when the
 * reply is truncated.  Internal to zonegen (not part of its interface).
 *
 * Functions return 0 or a negative ZG_E* code (zg_err.h) with a one-line
 * message in err as dnswire.h describes.  Each call owns its sockets and
 * buffers: calls may run in several threads at once.
 */
#ifndef ZONEGEN_DNSNET_H
#define ZONEGEN_DNSNET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "zonegen/dnscheck.h"
#include "zonegen/dnswire.h"

#define ZG_NET_PEER_SIZE (INET6_ADDRSTRLEN + 8)  /* "address@port" */

/* A server, resolved once per call. */
struct zg_net_peer {
	struct sockaddr_storage ss;
	socklen_t sslen;
	char name[ZG_NET_PEER_SIZE];   /* "ADDRESS@PORT", for messages */
};

/*
 * srv (an IPv4 or IPv6 literal and a port) as a peer.
 * Returns 0, or ZG_EINVAL when srv or its address is NULL, the address is
 * no literal, or the port is 0.
 */
int zg_net_peer_init(const struct zg_dns_server *srv, struct zg_net_peer *p,
                     char *err, size_t errlen);

/*
 * Ask p question q (class IN, random id, RD clear, no EDNS): over UDP, at
 * most twice, timeout_ms each; a truncated reply is asked again over TCP
 * within timeout_ms.  Replies that do not match q or the id are ignored.
 * In:  r cleared ({ NULL, NULL }).
 * Out: on success r holds the reply, checked by zg_wire_reply_check() and
 *      parsed (free it with zg_wire_reply_clear()); on error r is cleared.
 * Returns 0, or
 *   ZG_EINVAL   timeout_ms is 0, or no query can be built for q;
 *   ZG_EIO      no socket, refused, no (matching) reply in time, truncated
 *               even over TCP, or a reply zg_wire_reply_check() refuses;
 *   ZG_ENOMEM.
 */
int zg_net_ask(const struct zg_net_peer *p, const struct zg_wire_question *q,
               uint32_t timeout_ms, struct zg_wire_reply *r, char *err, size_t errlen);

/*
 * Several questions to p at once, pipelined on one UDP socket: every query
 * sent, the replies taken in any order (each by its id), the unanswered
 * ones sent once more; a truncated one is asked again over TCP.  rs[i]
 * answers qs[i] as zg_net_ask() would; on error all of rs are cleared.
 */
int zg_net_ask_many(const struct zg_net_peer *p, const struct zg_wire_question *qs, size_t n,
                    uint32_t timeout_ms, struct zg_wire_reply *rs, char *err, size_t errlen);

#endif
