/*
 * knot.h - the Knot writer: records into a zone through knotd's control
 * socket (libknot control API), in one transaction per zone.
 *
 * The only code of regzone that speaks to the control socket.  knotd serves
 * one control connection at a time and drops an idle one after its
 * control.timeout, so a connection is opened per step and closed after it.
 *
 * A zone transaction is begin -> get (the owners it touches) -> plan
 * (conflicts) -> set/unset -> diff -> commit; on any error, including an
 * error item inside a reply, the caller aborts it (zg_knot_abort();
 * zg_knot_commit() does so itself): on Knot 3.2 a failed set/unset can
 * leave the update broken, so nothing is ever set that is already there
 * and nothing is unset that is not.
 *
 * Errors are ZG_E* codes (zonegen/zg_err.h) with the reason in err (errlen
 * bytes; nothing is written when err is NULL or errlen is 0).  Every
 * command on a zone can fail with
 *   ZG_EINVAL   an empty zone name;
 *   ZG_EIO      the control socket failed, or knotd ended the connection;
 *   ZG_EBUSY    Knot says "too many transactions" (one is open already);
 *   ZG_ENOZONE  Knot says "no such zone" (knotd does not serve it);
 *   ZG_ENOENT   Knot says "no such node" or "no such record";
 *   ZG_EKNOT    any other error item in Knot's reply (its text in err);
 *   ZG_ENOMEM   (the commands that return records or text).
 * One k is one connection: not for several threads at once.
 */
#ifndef ZONEGEN_KNOT_H
#define ZONEGEN_KNOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zonegen/zonegen.h"

#define ZG_KTYPE_SIZE 16

/* A record as Knot prints it (any type, not only those profiles use). */
struct zg_krec {
	char owner[ZG_OWNER_SIZE];    /* FQDN, lowercase, trailing dot */
	uint32_t ttl;
	char type[ZG_KTYPE_SIZE];     /* mnemonic, e.g. "SRV", "TYPE65534" */
	char data[ZG_DATA_SIZE];      /* presentation format; longer data is cut
	                                 and then never equals a generated one */
};

struct zg_knot;

/* Connect to knotd's control socket; timeout_ms bounds each exchange on
 * it.  0 with *out set (close it with zg_knot_close()), or ZG_ENOMEM or
 * ZG_EIO with the reason and *out NULL. */
int zg_knot_open(const char *socket_path, uint32_t timeout_ms, struct zg_knot **out,
                 char *err, size_t errlen);
/* Say goodbye (END) and close; NULL is fine. */
void zg_knot_close(struct zg_knot *k);

/*
 * The zone served by this knotd that holds domain (FQDN without trailing
 * dot): domain itself or its closest enclosing zone of at least two
 * labels.  0 with zone (zonelen bytes) filled with that name as domain
 * spells it, ZG_ENOENT when no zone holds it, another code of the list
 * above on failure.
 */
int zg_knot_zone_of(struct zg_knot *k, const char *domain, char *zone, size_t zonelen,
                    char *err, size_t errlen);

/* Every zone knotd serves (lowercase, no trailing dot), *names malloc'ed
 * (free it with zg_knot_zones_free()).  0, ZG_EIO or ZG_ENOMEM; on error
 * *names is NULL and *n 0. */
int zg_knot_zones(struct zg_knot *k, char ***names, size_t *n, char *err, size_t errlen);
void zg_knot_zones_free(char **names, size_t n);

/*
 * Transaction primitives.  zone is a name without trailing dot and must
 * never be empty (an empty ZONE applies to every zone: ZG_EINVAL).
 *   begin:  ZG_EBUSY when a transaction is already open on the zone.
 *   get:    records at owner (FQDN) in the transaction's view, all types;
 *           *out is malloc'ed (free() it), *n may be 0 (an owner with
 *           nothing is no error); on error *out is NULL and *n 0.
 *   set:    add one record (never one already there).
 *   unset:  remove one record (never one not there).
 *           set and unset refuse (ZG_EINVAL) a record with a character
 *           Knot's zone parser could read as syntax, or an owner that is
 *           not fully qualified, before anything is sent.
 *   diff:   the transaction's changes as "+"/"-" zone lines, malloc'ed
 *           ("" when none; *text is NULL on error).
 *   commit: on any failure (ZG_EKNOT with Knot's reason, e.g. "semantic
 *           check") the transaction is aborted.
 *   abort:  always safe to call; errors are ignored.
 */
int zg_knot_begin(struct zg_knot *k, const char *zone, char *err, size_t errlen);
int zg_knot_get(struct zg_knot *k, const char *zone, const char *owner,
                struct zg_krec **out, size_t *n, char *err, size_t errlen);
int zg_knot_set(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                char *err, size_t errlen);
int zg_knot_unset(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                  char *err, size_t errlen);
/* The same for several owners / records, each in one round trip (knotd
 * runs a command once per unit of a block).  n_owners or n 0 sends
 * nothing and succeeds; set and unset check every record first. */
int zg_knot_get_many(struct zg_knot *k, const char *zone, const char *const *owners,
                     size_t n_owners, struct zg_krec **out, size_t *n, char *err, size_t errlen);
int zg_knot_set_many(struct zg_knot *k, const char *zone, const struct zg_krec *recs,
                     size_t n, char *err, size_t errlen);
int zg_knot_unset_many(struct zg_knot *k, const char *zone, const struct zg_krec *recs,
                       size_t n, char *err, size_t errlen);
int zg_knot_diff(struct zg_knot *k, const char *zone, char **text, char *err, size_t errlen);
/* The open transaction's changes as records (normalised like zone-get's):
 * (*removed)[i] says whether recs[i] is removed ('-') or added.  Works on a
 * transaction opened by another connection (knotc's, a dead writer's):
 * ZG_EKNOT "no active transaction" when none is open.  Both arrays are
 * malloc'ed (free() them); on error both are NULL and *n 0. */
int zg_knot_diff_recs(struct zg_knot *k, const char *zone, struct zg_krec **recs,
                      bool **removed, size_t *n, char *err, size_t errlen);
int zg_knot_commit(struct zg_knot *k, const char *zone, char *err, size_t errlen);
/*
 * Several zones in one block and one round trip: knotd runs a block's
 * command for each of its units, whatever zone each names, and answers
 * with one block.  A batch is a list of zones and a list of units, each
 * unit naming its zone by index (with an owner for zone-get, a record for
 * zone-set and zone-unset, neither for zone-begin, zone-commit and
 * zone-abort).  Each zone keeps its own outcome: its first error (code and
 * knotd's text) lands in its ret and err, the records zone-get gave for it
 * in its recs.  Units of a zone whose ret is already set are not sent: a
 * zone that failed goes no further, the others do.  Records are checked
 * before anything is sent (a bad one fails its zone only).
 */
struct zg_kbatch_zone {
	const char *zone;             /* lowercase, no trailing dot; one unit list per zone */
	int ret;                      /* 0, or this zone's first error */
	char err[512];
	struct zg_krec *recs;         /* zone-get's answer (malloc'ed: free() it) */
	size_t n_recs;
};
struct zg_kbatch_unit {
	size_t zone;                  /* index into the zones */
	const char *owner;            /* zone-get: an owner (NULL: the whole zone) */
	const struct zg_krec *rec;    /* zone-set, zone-unset: the record */
};
/* cmd over the units.  0 when the exchange went through (each zone's own
 * outcome in its ret), or ZG_EIO/ZG_ENOMEM with the reason: the connection
 * is then out of step, every zone's outcome unknown; close it. */
int zg_knot_batch(struct zg_knot *k, const char *cmd, struct zg_kbatch_zone *zones,
                  size_t n_zones, const struct zg_kbatch_unit *units, size_t n_units,
                  char *err, size_t errlen);

void zg_knot_abort(struct zg_knot *k, const char *zone);

/* What the zone serves now at owner (zone-read, no transaction needed),
 * like zg_knot_get(). */
int zg_knot_read(struct zg_knot *k, const char *zone, const char *owner,
                 struct zg_krec **out, size_t *n, char *err, size_t errlen);

/* Generated record -> Knot's form. */
void zg_krec_from_rr(const struct zg_rr *rr, struct zg_krec *out);
/* 1 when a and b have the same owner and type (ignoring case), TTL and
 * data (byte for byte), else 0. */
int zg_krec_equal(const struct zg_krec *a, const struct zg_krec *b);

/*
 * The plan of one publication, computed without side effects from what the
 * zone holds at the owners concerned (existing), what regzone added before
 * (owned: the ledger) and what the profile wants (want):
 *   set    wanted records not there yet
 *   unset  owned records no longer wanted (profile change), still there
 *   keep   wanted records already there exactly (not re-added)
 * A customer's record (there, not owned) that clashes makes it a conflict:
 *   - a CNAME wanted where the customer has any other data, or a different
 *     CNAME;
 *   - any wanted record where the customer has a CNAME;
 *   - an SRV, A, AAAA, MX or CAA wanted where the customer has one of the
 *     same type with other data (TXT sets are additive: an SPF record
 *     beside a verification token is no clash);
 *   - a TXT wanted that starts with a version tag ("v=spf1", "v=DMARC1",
 *     "v=STSv1", "v=TLSRPTv1", ...) where the customer has another TXT
 *     with the same tag, ignoring case: those policies allow one record
 *     per owner, a second voids them;
 *   - a wanted record whose RRset already exists with another TTL (Knot
 *     would silently rewrite the customer's TTL).
 * conflict then names every clashing record (cut with "..." when they do
 * not fit), and nothing may be changed.
 * Records compare by owner and type ignoring case, data byte for byte.
 * Returns 0, ZG_ECONFLICT (set and unset empty), or ZG_ENOMEM (plan
 * cleared).  The arrays are malloc'ed: free them with zg_plan_clear().
 */
struct zg_plan {
	struct zg_krec *set;
	size_t n_set;
	struct zg_krec *unset;
	size_t n_unset;
	size_t n_keep;
	char conflict[2048];       /* empty when there is none */
};

int zg_plan_publish(const struct zg_krec *want, size_t n_want,
                    const struct zg_krec *existing, size_t n_existing,
                    const struct zg_krec *owned, size_t n_owned,
                    struct zg_plan *plan);
/* Free set and unset and zero the counts (conflict is kept). */
void zg_plan_clear(struct zg_plan *plan);

/*
 * Could two record sets of one domain (two services' profiles) live side by
 * side, each owned by its own service?  Not when they share a record (the
 * ledger gives a record one owner), when one has a CNAME where the other
 * has data, when both have a TXT of the same version tag at one owner
 * (v=spf1, v=DMARC1, ...: one may exist), a set of an exclusive type
 * (SRV, A, AAAA, MX, CAA) at one owner, or one type at one owner with two
 * TTLs.  0, or ZG_ECONFLICT with the first clash in why.
 */
int zg_records_clash(const struct zg_krec *a, size_t na, const struct zg_krec *b, size_t nb,
                     char *why, size_t whylen);

#endif
