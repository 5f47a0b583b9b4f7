/*
 * knot.h - the Knot writer: records into a zone through knotd's control
 * socket (libknot control API), in one transaction per zone.
 *
 * The only code of regzone that speaks to the control socket.  knotd serves
 * one control connection at a time and drops an idle one after its
 * control.timeout, so a connection is opened per step and closed after it.
 *
 * A zone transaction is begin -> get (the owners it touches) -> plan
 * (conflicts) -> set/unset -> diff -> commit; any error, including an error
 * item inside a reply, aborts it: on Knot 3.2 a failed set/unset can leave
 * the update broken, so nothing is ever set that is already there and
 * nothing is unset that is not.
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

/* Connect to knotd's control socket.  0, or RZ_EIO with the reason. */
int zg_knot_open(const char *socket_path, uint32_t timeout_ms, struct zg_knot **out,
                 char *err, size_t errlen);
/* Say goodbye (END) and close; NULL is fine. */
void zg_knot_close(struct zg_knot *k);

/*
 * The zone served by this knotd that holds domain: domain itself or its
 * closest enclosing zone.  0 with zone (FQDN without trailing dot) filled,
 * RZ_ENOENT when no zone holds it, RZ_EKNOT/RZ_EIO on failure.
 */
int zg_knot_zone_of(struct zg_knot *k, const char *domain, char *zone, size_t zonelen,
                    char *err, size_t errlen);

/* Every zone knotd serves (lowercase, no trailing dot); free the list with
 * zg_knot_zones_free(). */
int zg_knot_zones(struct zg_knot *k, char ***names, size_t *n, char *err, size_t errlen);
void zg_knot_zones_free(char **names, size_t n);

/*
 * Transaction primitives.  zone is a name without trailing dot and must
 * never be empty (an empty ZONE applies to every zone).
 *   begin:  RZ_EBUSY when a transaction is already open on the zone.
 *   get:    records at owner (FQDN) in the transaction's view, all types;
 *           *out is malloc'ed (free() it), *n may be 0.
 *   set:    add one record (never one already there).
 *   unset:  remove one record (never one not there).
 *   diff:   the transaction's changes as "+"/"-" zone lines, malloc'ed.
 *   commit: RZ_EKNOT with Knot's reason (e.g. "semantic check") on failure;
 *           the transaction is then aborted.
 *   abort:  always safe to call.
 */
int zg_knot_begin(struct zg_knot *k, const char *zone, char *err, size_t errlen);
int zg_knot_get(struct zg_knot *k, const char *zone, const char *owner,
                struct zg_krec **out, size_t *n, char *err, size_t errlen);
int zg_knot_set(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                char *err, size_t errlen);
int zg_knot_unset(struct zg_knot *k, const char *zone, const struct zg_krec *rec,
                  char *err, size_t errlen);
/* The same for several owners / records, each in one round trip (knotd
 * runs a command once per unit of a block). */
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
 * RZ_EKNOT "no active transaction" when none is open.  Both arrays are
 * malloc'ed (free() them). */
int zg_knot_diff_recs(struct zg_knot *k, const char *zone, struct zg_krec **recs,
                      bool **removed, size_t *n, char *err, size_t errlen);
int zg_knot_commit(struct zg_knot *k, const char *zone, char *err, size_t errlen);
void zg_knot_abort(struct zg_knot *k, const char *zone);

/* What the zone serves now at owner (zone-read), like zg_knot_get(). */
int zg_knot_read(struct zg_knot *k, const char *zone, const char *owner,
                 struct zg_krec **out, size_t *n, char *err, size_t errlen);

/* Generated record -> Knot's form. */
void zg_krec_from_rr(const struct zg_rr *rr, struct zg_krec *out);
/* Same owner, type, TTL and data. */
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
 *   - a wanted record whose RRset already exists with another TTL (Knot
 *     would silently rewrite the customer's TTL).
 * conflict then names every clashing record, and nothing may be changed.
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
void zg_plan_clear(struct zg_plan *plan);

#endif
