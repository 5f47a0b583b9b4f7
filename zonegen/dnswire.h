/*
 * dnswire.h - DNS messages for dnsnet.c and dnscheck.c: the question
 * asked, the reply checked against it, answer records rendered in the
 * normal form dnscheck.h describes.  Internal to zonegen (not part of its
 * interface); nothing here does I/O.
 *
 * Functions that can fail return 0 or a negative ZG_E* code (zg_err.h)
 * with a one-line message in err (errlen bytes; nothing is written when
 * err is NULL or errlen is 0).  peer arguments are the server's name for
 * messages ("ADDRESS@PORT").
 */
#ifndef ZONEGEN_DNSWIRE_H
#define ZONEGEN_DNSWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libknot/libknot.h>

#include "zonegen/zg_err.h"
#include "zonegen/zonegen.h"

/* Size of a reply's buffer: the largest message (a TCP reply). */
#define ZG_WIRE_RBUF_SIZE KNOT_WIRE_MAX_PKTSIZE

/* What is asked. */
struct zg_wire_question {
	knot_dname_storage_t qname;  /* lowercase wire form */
	uint16_t qtype;
	const char *tname;           /* "SRV", for messages; not copied */
	char owner[ZG_OWNER_SIZE];   /* lowercase text, trailing dot */
};

/* A reply: the receive buffer (ZG_WIRE_RBUF_SIZE bytes, malloc'ed) and
 * the packet parsed over it.  Starts { NULL, NULL }; free both with
 * zg_wire_reply_clear(). */
struct zg_wire_reply {
	uint8_t *buf;
	knot_pkt_t *pkt;
};

/* A growable text buffer for rendering rdata.  Starts { NULL, 0 }; free
 * p with free(). */
struct zg_wire_text {
	char *p;
	size_t size;
};

/*
 * Fill q for (owner, qtype): owner is text, trailing dot optional, any
 * case; tname is the type's mnemonic, kept as a pointer.
 * Returns 0, or ZG_EINVAL when owner is NULL, empty, not a domain name or
 * too long.
 */
int zg_wire_question_init(const char *owner, uint16_t qtype, const char *tname,
                          struct zg_wire_question *q, char *err, size_t errlen);

/* Free r's packet and buffer and set both NULL; a cleared r is fine. */
void zg_wire_reply_clear(struct zg_wire_reply *r);

/*
 * Does r->buf[0..len) answer query id / question q (id, QR flag, one
 * question, the same name, type and class IN)?  On a match *matched is
 * true and r->pkt is the packet over r->buf with its question parsed;
 * otherwise *matched is false, r->pkt NULL and *why a static text saying
 * what was wrong.  Returns 0 (matched or not) or ZG_ENOMEM.
 */
int zg_wire_reply_match(struct zg_wire_reply *r, size_t len, uint16_t id,
                        const struct zg_wire_question *q, bool *matched, const char **why,
                        char *err, size_t errlen);

/*
 * r matched q (zg_wire_reply_match()): is it an authoritative answer we
 * can use?  It must have RCODE NOERROR or NXDOMAIN and the AA flag; then
 * the whole packet is parsed (owners and rdata names come out lowercase).
 * Returns 0, or ZG_EIO naming the RCODE, the missing AA flag or the parse
 * error.
 */
int zg_wire_reply_check(const char *peer, const struct zg_wire_question *q,
                        struct zg_wire_reply *r, char *err, size_t errlen);

/* Is rr (from the answer) of the owner, type and class IN asked? */
bool zg_wire_rr_asked(const knot_rrset_t *rr, const struct zg_wire_question *q);

/*
 * Bring presentation-format rdata s (a buffer of size bytes) of type t to
 * the normal form, in place: no trailing blanks, addresses as this C
 * library's inet_ntop() writes them, CNAME, MX and SRV lowercase.  TXT and
 * CAA text stay byte for byte.
 */
void zg_wire_normalize(enum zg_rtype t, char *s, size_t size);

/*
 * Render rdata number pos of rr (an answer RRset of type t) into tb,
 * growing it as needed, in the normal form.
 * Returns 0, ZG_ENOMEM, or ZG_EIO when libknot cannot print it.
 */
int zg_wire_rdata_text(const knot_rrset_t *rr, uint16_t pos, enum zg_rtype t,
                       struct zg_wire_text *tb, const char *peer, char *err, size_t errlen);

#endif
